/* `device_files`: the file_sd documents its patterns match are read when the
 * configuration is validated (at start, by check-config, and on every reload, which a
 * change to one of them also starts: src/ctl/watch.c), and their targets are appended
 * to `devices`, so the fleet, the names and the reload treat them as any device. A
 * file that cannot be read or parsed is an error naming it, its line and column: at
 * start nothing runs, on a reload the running configuration is kept whole. */
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"
#include "ringprobe/filesd.h"
#include "ringprobe/targets.h"
#include "ringprobe/xalloc.h"

void rp_conf__files_fini(struct rp_device_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->path[i]);
		rp_filesd_free(&f->doc[i]);
	}
	free(f->path);
	free(f->doc);
	free(f->src);
	free(f->group);
	free(f->name_src);
	free(f->name_group);
	memset(f, 0, sizeof(*f));
}

/* Back to the devices the configuration itself lists (a second validation of the
 * same configuration reads the files again). */
static void truncate_devices(struct rp_conf *c)
{
	struct rp_cidr_list *l = &c->devices;
	struct rp_device_files *f = &c->files;

	if (!f->n && !f->own && !f->own_names && !f->own_devtags)
		return;
	for (size_t i = f->own_names; i < l->nnames; i++)
		free(l->names[i]);
	l->n = f->own;
	l->nnames = f->own_names;
	for (size_t i = f->own_devtags; i < c->ndevtags; i++)
		rp_tagset_clear(&c->devtags[i].tags);
	c->ndevtags = f->own_devtags;
}

/* A target's labels become its tags, as a `devices:` entry's {address, tags} do (the
 * fleet and the names give them to its points); their sum with the top level's is
 * checked here, naming the file's line. */
static void add_labels(struct rp_conf *c, const char *path, const struct rp_filesd_target *t,
		       const struct rp_filesd_labels *lab, size_t index, bool is_name,
		       struct rp_diags *d)
{
	struct rp_devtags *dt;
	struct rp_tagset all = {0};
	size_t text = 0;
	char where[512];

	if (!lab->n)
		return;
	c->devtags = rp_xrealloc(c->devtags, (c->ndevtags + 1) * sizeof(*c->devtags));
	dt = &c->devtags[c->ndevtags++];
	*dt = (struct rp_devtags){.index = index, .is_name = is_name, .line = t->line};
	for (size_t i = 0; i < lab->n; i++)
		rp_tagset_set(&dt->tags, lab->v[i].name, lab->v[i].value, t->line);
	rp_tagset_merge(&all, &c->tags, &dt->tags);
	for (size_t i = 0; i < all.n; i++)
		text += (i ? 1 : 0) + strlen(all.kv[2 * i]) + 1 + strlen(all.kv[2 * i + 1]);
	snprintf(where, sizeof(where), "%s:%u", path, t->line);
	if (all.n > RP_TAGS_MAX || text > RP_TAGS_TEXT_MAX)
		rp_diags_add(d, RP_DIAG_ERROR, where, "labels",
			     "%zu tags of %zu bytes (as k=v,k=v) with the top level's; at most %d "
			     "and %d bytes are allowed",
			     all.n, text, RP_TAGS_MAX, RP_TAGS_TEXT_MAX);
	rp_tagset_clear(&all);
}

static bool has_magic(const char *p)
{
	return strpbrk(p, "*?[") != NULL;
}

static bool seen(const struct rp_device_files *f, const char *path)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->path[i], path) == 0)
			return true;
	return false;
}

static void take_file(struct rp_conf *c, const char *path, struct rp_diags *d)
{
	struct rp_device_files *f = &c->files;
	struct rp_cidr_list *l = &c->devices;
	struct rp_filesd_doc doc;
	uint32_t idx = (uint32_t)f->n;

	if (rp_filesd_load(path, &doc, d) < 0)
		return;
	f->path = rp_xrealloc(f->path, (f->n + 1) * sizeof(*f->path));
	f->doc = rp_xrealloc(f->doc, (f->n + 1) * sizeof(*f->doc));
	f->path[f->n] = rp_xstrdup(path);
	f->doc[f->n++] = doc;
	for (size_t i = 0; i < doc.ntargets; i++) {
		const struct rp_filesd_target *t = &doc.targets[i];
		size_t n = l->n, nn = l->nnames;
		char where[512];

		snprintf(where, sizeof(where), "%s:%u", path, t->line);
		if (rp_targets_add_entry(l, t->text, where, t->line, d) < 0)
			continue; /* rp_filesd_parse checked it: cannot happen */
		if (l->n > n) {
			size_t k = l->n - f->own - 1;

			add_labels(c, path, t, &doc.groups[t->group], l->n - 1, false, d);
			f->src = rp_xrealloc(f->src, (k + 1) * sizeof(*f->src));
			f->group = rp_xrealloc(f->group, (k + 1) * sizeof(*f->group));
			f->src[k] = idx;
			f->group[k] = t->group;
		} else if (l->nnames > nn) {
			size_t k = l->nnames - f->own_names - 1;

			add_labels(c, path, t, &doc.groups[t->group], l->nnames - 1, true, d);
			f->name_src = rp_xrealloc(f->name_src, (k + 1) * sizeof(*f->name_src));
			f->name_group =
			    rp_xrealloc(f->name_group, (k + 1) * sizeof(*f->name_group));
			f->name_src[k] = idx;
			f->name_group[k] = t->group;
		}
	}
}

void rp_conf__read_device_files(struct rp_conf *c, struct rp_diags *d)
{
	const struct rp_path_list *pl = &c->device_files;
	const struct rp_conf_key *k = rp_conf_key_find("device_files");
	size_t own, own_names, own_devtags;

	truncate_devices(c);
	own = c->devices.n;
	own_names = c->devices.nnames;
	own_devtags = c->ndevtags;
	rp_conf__files_fini(&c->files);
	c->files.own = own;
	c->files.own_names = own_names;
	c->files.own_devtags = own_devtags;
	for (size_t i = 0; i < pl->n; i++) {
		const char *pat = pl->v[i];
		char where[512], name[64];
		glob_t g;
		int r;

		snprintf(name, sizeof(name), "device_files[%zu]", i);
		if (pl->line[i] || !rp_conf__where(c, k, where, sizeof(where)))
			snprintf(where, sizeof(where), "%s:%u", c->file ? c->file : "",
				 pl->line[i]);
		if (!has_magic(pat)) { /* a plain name: it must be there */
			if (!seen(&c->files, pat))
				take_file(c, pat, d);
			continue;
		}
		/* Unreadable directories are skipped, as Prometheus's file_sd does. */
		r = glob(pat, GLOB_BRACE, NULL, &g);
		if (r == GLOB_NOMATCH)
			continue; /* none yet: the watcher says so and reads one when it comes */
		if (r != 0) {
			rp_diags_add(d, RP_DIAG_ERROR, where, name, "%s: out of memory", pat);
			globfree(&g);
			continue;
		}
		for (size_t m = 0; m < g.gl_pathc; m++)
			if (!seen(&c->files, g.gl_pathv[m]))
				take_file(c, g.gl_pathv[m], d);
		globfree(&g);
	}
}
