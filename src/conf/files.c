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
#include "ringprobe/compiler.h"
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

/* Where one `device_files` key's targets go: the top level's devices, or a group's. */
struct dest {
	struct rp_cidr_list *l;
	struct rp_devtags **dt;
	size_t *ndt;
	struct rp_device_files *f;
	const struct rp_path_list *pl;
	struct rp_tagset base; /* the tags its labels add to: the top level's (and the group's) */
	const char *whose;     /* "the top level's" or "the top level's and the group's" */
	char key[64];	       /* "device_files", "groups[1].device_files" */
};

/* Back to the devices the configuration itself lists (a second validation of the
 * same configuration reads the files again). */
static void truncate_devices(struct dest *o)
{
	struct rp_cidr_list *l = o->l;
	struct rp_device_files *f = o->f;

	if (!f->n && !f->own && !f->own_names && !f->own_devtags)
		return;
	for (size_t i = f->own_names; i < l->nnames; i++)
		free(l->names[i]);
	l->n = f->own;
	l->nnames = f->own_names;
	for (size_t i = f->own_devtags; i < *o->ndt; i++)
		rp_tagset_clear(&(*o->dt)[i].tags);
	*o->ndt = f->own_devtags;
}

/* A target's labels become its tags, as a `devices:` entry's {address, tags} do (the
 * fleet and the names give them to its points); their sum with the top level's (and
 * the group's) is checked here, naming the file's line. */
static void add_labels(struct dest *o, const char *path, const struct rp_filesd_target *t,
		       const struct rp_filesd_labels *lab, size_t index, bool is_name,
		       struct rp_diags *d)
{
	struct rp_devtags *dt;
	struct rp_tagset all = {0};
	size_t text = 0;
	char where[512];

	if (!lab->n)
		return;
	*o->dt = rp_xrealloc(*o->dt, (*o->ndt + 1) * sizeof(**o->dt));
	dt = &(*o->dt)[(*o->ndt)++];
	*dt = (struct rp_devtags){.index = index, .is_name = is_name, .line = t->line};
	for (size_t i = 0; i < lab->n; i++)
		rp_tagset_set(&dt->tags, lab->v[i].name, lab->v[i].value, t->line);
	rp_tagset_merge(&all, &o->base, &dt->tags);
	for (size_t i = 0; i < all.n; i++)
		text += (i ? 1 : 0) + strlen(all.kv[2 * i]) + 1 + strlen(all.kv[2 * i + 1]);
	snprintf(where, sizeof(where), "%s:%u", path, t->line);
	if (all.n > RP_TAGS_MAX || text > RP_TAGS_TEXT_MAX)
		rp_diags_add(d, RP_DIAG_ERROR, where, "labels",
			     "%zu tags of %zu bytes (as k=v,k=v) with %s; at most %d "
			     "and %d bytes are allowed",
			     all.n, text, o->whose, RP_TAGS_MAX, RP_TAGS_TEXT_MAX);
	rp_tagset_clear(&all);
}

void rp_conf__add_path(struct rp_path_list *pl, const char *text, uint32_t line)
{
	pl->v = rp_xrealloc(pl->v, (pl->n + 1) * sizeof(*pl->v));
	pl->line = rp_xrealloc(pl->line, (pl->n + 1) * sizeof(*pl->line));
	pl->v[pl->n] = rp_xstrdup(text);
	pl->line[pl->n++] = line;
}

void rp_conf__free_paths(struct rp_path_list *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->v[i]);
	free(pl->v);
	free(pl->line);
	memset(pl, 0, sizeof(*pl));
}

static bool has_magic(const char *p)
{
	return strpbrk(p, "*?[") != NULL;
}

/* At most this many patterns may a device_files pattern's {a,b} alternatives make:
 * glob(GLOB_BRACE) reads the directories once per pattern, so 30 pairs of braces
 * would be 2^30 walks (a reload that never ends). */
#define BRACE_PATTERNS_MAX 256

/* An upper bound of the patterns GLOB_BRACE makes of p: the product of every {…}'s
 * alternatives, nested ones counted as if side by side; more than cap stops at cap + 1.
 * A backslash quotes the next byte, as glob takes it. */
static size_t brace_patterns(const char *p, size_t cap)
{
	size_t n = 1, alts[32];
	unsigned depth = 0;

	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
		} else if (*p == '{') {
			if (depth < RP_ARRAY_SIZE(alts))
				alts[depth] = 1;
			depth++;
		} else if (*p == ',' && depth && depth <= RP_ARRAY_SIZE(alts)) {
			alts[depth - 1]++;
		} else if (*p == '}' && depth) {
			depth--;
			/* deeper than the table: each counts as two, an upper bound no pattern
			 * that deep stays under */
			n *= depth < RP_ARRAY_SIZE(alts) ? alts[depth] : 2;
			if (n > cap)
				return cap + 1;
		}
	}
	return n;
}

static bool seen(const struct rp_device_files *f, const char *path)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->path[i], path) == 0)
			return true;
	return false;
}

static void take_file(struct dest *o, const char *path, struct rp_diags *d)
{
	struct rp_device_files *f = o->f;
	struct rp_cidr_list *l = o->l;
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

			add_labels(o, path, t, &doc.groups[t->group], l->n - 1, false, d);
			f->src = rp_xrealloc(f->src, (k + 1) * sizeof(*f->src));
			f->group = rp_xrealloc(f->group, (k + 1) * sizeof(*f->group));
			f->src[k] = idx;
			f->group[k] = t->group;
		} else if (l->nnames > nn) {
			size_t k = l->nnames - f->own_names - 1;

			add_labels(o, path, t, &doc.groups[t->group], l->nnames - 1, true, d);
			f->name_src = rp_xrealloc(f->name_src, (k + 1) * sizeof(*f->name_src));
			f->name_group =
			    rp_xrealloc(f->name_group, (k + 1) * sizeof(*f->name_group));
			f->name_src[k] = idx;
			f->name_group[k] = t->group;
		}
	}
}

static void read_dest(struct rp_conf *c, struct dest *o, struct rp_diags *d)
{
	const struct rp_path_list *pl = o->pl;
	const struct rp_conf_key *k = rp_conf_key_find("device_files");
	size_t own, own_names, own_devtags;

	truncate_devices(o);
	own = o->l->n;
	own_names = o->l->nnames;
	own_devtags = *o->ndt;
	rp_conf__files_fini(o->f);
	o->f->own = own;
	o->f->own_names = own_names;
	o->f->own_devtags = own_devtags;
	for (size_t i = 0; i < pl->n; i++) {
		const char *pat = pl->v[i];
		char where[512], name[96];
		glob_t g;
		int r;

		snprintf(name, sizeof(name), "%s[%zu]", o->key, i);
		if (pl->line[i] || pl != &c->device_files ||
		    !rp_conf__where(c, k, where, sizeof(where)))
			snprintf(where, sizeof(where), "%s:%u", c->file ? c->file : "",
				 pl->line[i]);
		if (!has_magic(pat)) { /* a plain name: it must be there */
			if (!seen(o->f, pat))
				take_file(o, pat, d);
			continue;
		}
		if (brace_patterns(pat, BRACE_PATTERNS_MAX) > BRACE_PATTERNS_MAX) {
			rp_diags_add(d, RP_DIAG_ERROR, where, name,
				     "%s: its {a,b} alternatives make more than %d patterns", pat,
				     BRACE_PATTERNS_MAX);
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
			if (!seen(o->f, g.gl_pathv[m]))
				take_file(o, g.gl_pathv[m], d);
		globfree(&g);
	}
}

/* The top level's files first, then each group's. A file a group and the top level
 * (or two groups) both read gives its targets to both: the check of devices in two
 * groups (groups.c) then names both files. */
void rp_conf__read_device_files(struct rp_conf *c, struct rp_diags *d)
{
	struct dest o = {.l = &c->devices,
			 .dt = &c->devtags,
			 .ndt = &c->ndevtags,
			 .f = &c->files,
			 .pl = &c->device_files,
			 .whose = "the top level's",
			 .key = "device_files"};

	rp_tagset_merge(&o.base, &c->tags, NULL);
	read_dest(c, &o, d);
	rp_tagset_clear(&o.base);
	for (size_t i = 0; i < c->groups.n; i++) {
		struct rp_conf_group *g = &c->groups.v[i];
		struct dest go = {.l = &g->devices,
				  .dt = &g->devtags,
				  .ndt = &g->ndevtags,
				  .f = &g->files,
				  .pl = &g->device_files,
				  .whose = "the top level's and the group's"};

		if (!g->device_files.n && !g->files.n && !g->files.own && !g->files.own_names)
			continue;
		snprintf(go.key, sizeof(go.key), "groups[%zu].device_files", i);
		rp_tagset_merge(&go.base, &c->tags, &g->tags);
		read_dest(c, &go, d);
		rp_tagset_clear(&go.base);
	}
}
