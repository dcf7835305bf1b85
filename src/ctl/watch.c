/* `device_files` (the top level's and every group's) watched: inotify on the directory
 * of each pattern (a file written in
 * place, or replaced by a rename as editors and configuration tools do, shows there);
 * an event for a name the pattern matches starts a reload (reload.c) a quarter second
 * later, so a burst of writes is read once. A broken file makes that reload fail with
 * the file's path and line in the log; the running configuration, the file's previous
 * contents included, stays in force until the file is mended. */
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "ctl/ctl_int.h"
#include "ringprobe/log.h"
#include "ringprobe/xalloc.h"

#define SETTLE_NS (250 * 1000000ull)
#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB)

static void clear(struct rp_ctl_watch *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->base[i]);
	free(w->base);
	free(w->wd);
	w->base = NULL;
	w->wd = NULL;
	w->n = 0;
}

static void add_list(struct rp_ctl *d, const struct rp_path_list *pl);

static bool has_match(const char *pat)
{
	glob_t g;
	bool any = glob(pat, GLOB_BRACE, NULL, &g) == 0 && g.gl_pathc > 0;

	globfree(&g);
	return any;
}

/* Every pattern of the running configuration: the top level's, then each group's. */
static size_t count_patterns(const struct rp_conf *c)
{
	size_t n = c->device_files.n;

	for (size_t g = 0; g < c->groups.n; g++)
		n += c->groups.v[g].device_files.n;
	return n;
}

/* Watches the directories of the running configuration's patterns. */
static void add_watches(struct rp_ctl *d)
{
	struct rp_ctl_watch *w = &d->watch;
	size_t all = count_patterns(&d->conf);

	w->base = rp_xcalloc(all ? all : 1, sizeof(*w->base));
	w->wd = rp_xcalloc(all ? all : 1, sizeof(*w->wd));
	for (size_t g = 0; g <= d->conf.groups.n; g++)
		add_list(d, g ? &d->conf.groups.v[g - 1].device_files : &d->conf.device_files);
}

static void add_list(struct rp_ctl *d, const struct rp_path_list *pl)
{
	struct rp_ctl_watch *w = &d->watch;

	for (size_t i = 0; i < pl->n; i++) {
		char dir[PATH_MAX];
		const char *slash = strrchr(pl->v[i], '/');
		size_t len = slash ? (size_t)(slash - pl->v[i]) : 0;
		int wd;

		if (len >= sizeof(dir))
			continue;
		if (!slash)
			strcpy(dir, ".");
		else if (!len)
			strcpy(dir, "/");
		else
			memcpy(dir, pl->v[i], len), dir[len] = '\0';
		if (strpbrk(dir, "*?[{")) {
			rp_log(RP_LOG_WARN,
			       "device_files: a pattern in a directory name is not watched; send "
			       "SIGHUP after a change",
			       "pattern=\"%s\"", pl->v[i]);
			continue;
		}
		wd = inotify_add_watch(w->fd, dir, WATCH_MASK);
		if (wd < 0) {
			rp_log(RP_LOG_WARN,
			       "device_files: cannot watch the directory; send SIGHUP after a "
			       "change",
			       "dir=\"%s\" why=\"%s\"", dir, strerror(errno));
			continue;
		}
		if (!has_match(pl->v[i]))
			rp_log(RP_LOG_NOTICE,
			       "device_files: the pattern matches no file yet; one created later "
			       "is read when it appears",
			       "pattern=\"%s\"", pl->v[i]);
		w->wd[w->n] = wd;
		w->base[w->n++] = rp_xstrdup(slash ? slash + 1 : pl->v[i]);
	}
}

void rp_ctl__watch_init(struct rp_ctl *d)
{
	struct rp_ctl_watch *w = &d->watch;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (!count_patterns(&d->conf))
		return;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		rp_log(RP_LOG_WARN, "device_files: inotify unavailable; send SIGHUP after a change",
		       "why=\"%s\"", strerror(errno));
		return;
	}
	add_watches(d);
}

void rp_ctl__watch_reset(struct rp_ctl *d)
{
	struct rp_ctl_watch *w = &d->watch;

	if (w->fd < 0) {
		rp_ctl__watch_init(d);
		return;
	}
	/* A watch stays while another pattern of the same directory still uses it:
	 * removing and adding again is simplest, the directories are few. */
	for (size_t i = 0; i < w->n; i++)
		inotify_rm_watch(w->fd, w->wd[i]);
	clear(w);
	add_watches(d);
}

/* Whether the event names a file one of the patterns on its directory matches. */
static bool relevant(const struct rp_ctl_watch *w, const struct inotify_event *ev)
{
	if (!ev->len)
		return false;
	for (size_t i = 0; i < w->n; i++)
		if (w->wd[i] == ev->wd && fnmatch(w->base[i], ev->name, FNM_PERIOD) == 0)
			return true;
	return false;
}

void rp_ctl__watch_tick(struct rp_ctl *d)
{
	struct rp_ctl_watch *w = &d->watch;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t got;

	if (w->fd < 0)
		return;
	while ((got = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + got;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (relevant(w, ev)) {
				if (!w->due_ns)
					snprintf(w->first, sizeof(w->first), "%s", ev->name);
				w->due_ns = d->now_ns + SETTLE_NS;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	if (w->due_ns && (int64_t)(d->now_ns - w->due_ns) >= 0) {
		w->due_ns = 0;
		w->changes++;
		rp_log(RP_LOG_NOTICE, "device_files: a file changed; reloading the configuration",
		       "file=\"%s\"", w->first);
		rp_ctl__reload(d); /* calls rp_ctl__watch_reset when it took the new one */
	}
}

void rp_ctl__watch_fini(struct rp_ctl *d)
{
	struct rp_ctl_watch *w = &d->watch;

	clear(w);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
