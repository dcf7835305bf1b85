/* The daemon's spool when the disk fails it, counted in a real VictoriaMetrics:
 *
 * - a tmpfs of 1 MiB that fills up while the sink is down: the daemon keeps running,
 *   /health is degraded (spool_errors, points_dropped), each record that did not fit
 *   is counted as dropped, and once the sink is back every point not counted is
 *   delivered: produced = delivered + dropped, exactly;
 * - a segment its user cannot open (EACCES: the daemon runs as `nobody`, the segment
 *   is mode 000) and one whose reads fail (EIO, from the LD_PRELOAD shim
 *   fault_shim.c): the segment is kept and retried while fresh points still go out,
 *   /health is degraded (spool_errors), and once the fault is cleared its points are
 *   delivered: nothing lost, nothing twice. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "rig.h"

#define NDEV 126
#define INTERVAL_MS 100

/* The sum of every sample of health_metrics `field`: one point per run of the daemon
 * (health_report_interval is a day, so only the one at each stop); waits for `runs`
 * of them to be searchable. */
static int64_t vm_sum(struct srv *s, const char *field, int runs)
{
	double until = sup_now() + 15, sum = 0;
	char match[128];
	int64_t n;

	snprintf(match, sizeof(match), "{__name__=\"health_metrics_%s\"}", field);
	do {
		srv_vm_flush(s);
		n = srv_vm_export_count(s, match, &sum);
		if (n >= runs)
			break;
		sup_sleep_ms(250);
	} while (sup_now() < until);
	cr_assert_eq(n, runs, "%lld health_metrics points, want one per run (%d)", (long long)n,
		     runs);
	return (int64_t)sum;
}

/* Waits until the daemon has replayed its spool and sees the sink up. */
static void wait_drained(struct fd_daemon *d, double secs)
{
	double t0 = sup_now();

	while (sup_now() - t0 < secs &&
	       (fd_health(d, "sink_down") != 0 || fd_health(d, "spool_points") != 0 ||
		fd_health(d, "spool_read_failing") != 0))
		sup_sleep_ms(200);
	cr_assert_eq(fd_health(d, "sink_down"), 0, "the sink was not seen back");
	cr_assert_eq(fd_health(d, "spool_read_failing"), 0, "the spool still cannot be read");
	cr_assert_eq(fd_health(d, "spool_points"), 0, "the spool was not replayed");
}

/* produced (probes_sent over every run) = distinct points in the sink + `dropped`, and
 * no point twice. */
static void check_counts(struct srv *s, int runs, int64_t dropped, const char *what)
{
	struct fd_points p;
	int64_t probes = vm_sum(s, "probes_sent", runs);

	cr_assert_gt(probes, 0, "%s: no health_metrics point", what);
	fd_vm_wait_count(s, probes - dropped, 20);
	fd_vm_points(s, INTERVAL_MS, &p);
	fprintf(stderr, "%s: produced=%lld delivered=%zu dropped=%lld repeats=%zu\n", what,
		(long long)probes, p.distinct, (long long)dropped, p.dups);
	cr_assert_eq((int64_t)p.distinct + dropped, probes,
		     "%s: %zu delivered + %lld dropped != %lld produced", what, p.distinct,
		     (long long)dropped, (long long)probes);
	cr_assert_eq(p.dups, 0, "%s: %zu points delivered twice", what, p.dups);
	fd_points_free(&p);
}

/* ---- a) the disk fills up --------------------------------------------------------- */

Test(fault, spool_on_a_full_tmpfs_drops_counted_and_delivers_the_rest, .timeout = 240)
{
	char mnt[128], spool[160];
	struct fd_daemon d;
	struct statvfs vfs;
	struct fd_points p;
	struct srv s;
	int64_t probes, overflow, dropped;
	double dropped_full, t0;

	fd_need_root();
	fd_enter_netns();
	/* A mount namespace of its own (this test's process is a forked child of the
	 * runner), nothing propagating back: the tmpfs is gone when the test ends. */
	cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare(CLONE_NEWNS): %s", strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0,
		     "making mounts private: %s", strerror(errno));
	cr_assert_eq(srv_vm_start(&s, NULL), 0, "%s", s.why);
	fd_init(&d);
	snprintf(mnt, sizeof(mnt), "%s/tmpfs", d.dir);
	snprintf(spool, sizeof(spool), "%s/spool", mnt);
	cr_assert_eq(mkdir(mnt, 0755), 0);
	cr_assert_eq(mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755"), 0,
		     "mount tmpfs: %s", strerror(errno));
	fd_config(&d, &(struct fd_conf){.devices = "127.22.0.0/25",
					.interval_ms = INTERVAL_MS,
					.url = s.url,
					.spool_bytes = 64 << 20,
					.spool_dir = spool});
	fd_start_ready(&d, NDEV);
	sup_sleep_ms(1000);

	srv_stop(&s, SIGTERM);
	cr_assert_eq(fd_wait_eq(&d, "sink_down", 1, 10), 1);
	/* ~110 KB/s of points into 1 MiB: full within seconds. */
	cr_assert_gt(fd_wait_geq(&d, "spool_io_errors", 1, 30), 0, "the tmpfs never filled");
	cr_assert_eq(statvfs(mnt, &vfs), 0);
	fprintf(stderr, "tmpfs: full with %.0f bytes spooled, %llu blocks free\n",
		fd_health(&d, "spool_bytes"), (unsigned long long)vfs.f_bavail);
	t0 = sup_now();
	sup_sleep_ms(5000);
	/* Still running and saying why it is degraded. */
	cr_assert_gt(fd_health(&d, "probes_sent"), 0, "the daemon stopped answering");
	cr_assert(fd_degraded_for(&d, "spool_errors"), "not degraded for spool_errors");
	cr_assert(fd_degraded_for(&d, "points_dropped"), "not degraded for points_dropped");
	cr_assert(fd_degraded_for(&d, "sink_failing"));
	dropped_full = fd_health(&d, "points_dropped_spool_overflow");
	cr_assert_gt(dropped_full, 0, "a full disk dropped nothing in %.1f s", sup_now() - t0);
	cr_assert_eq(fd_health(&d, "points_dropped"), dropped_full,
		     "points dropped for another reason");
	cr_assert(fd_log_has(&d, "cannot write to the spool; points dropped"));

	cr_assert_eq(srv_restart(&s), 0, "%s", s.why);
	wait_drained(&d, 120);
	cr_assert_eq(fd_stop(&d, 30), 0);
	probes = fd_vm_last(&s, "probes_sent");
	overflow = fd_vm_last(&s, "points_dropped_spool_overflow");
	dropped = fd_vm_last(&s, "points_dropped");
	cr_assert_eq(dropped, overflow, "points dropped for another reason");
	cr_assert_geq(overflow, (int64_t)dropped_full);
	check_counts(&s, 1, overflow, "tmpfs");
	/* The sink lacks at least the points counted as dropped (more only when a shard
	 * fell behind and sent one probe for two slots of a device's schedule). */
	fd_vm_points(&s, INTERVAL_MS, &p);
	cr_assert_geq((int64_t)p.missing, overflow, "%zu missing in the sink, %lld counted",
		      p.missing, (long long)overflow);
	cr_assert_gt(probes, 0);
	fd_points_free(&p);
	umount2(mnt, MNT_DETACH);
	fd_fini(&d);
	srv_cleanup(&s);
}

/* ---- b) a segment that cannot be opened or read ---------------------------------- */

/* Run 1: the sink down, the daemon spools for `secs` and stops; returns the oldest
 * segment's path in seg. */
static void spool_while_down(struct srv *s, struct fd_daemon *d, const char *devices,
			     const char *user, char *seg, size_t cap)
{
	unsigned long long best = ~0ull, seq;
	struct dirent *de;
	DIR *dp;

	fd_config(d, &(struct fd_conf){.devices = devices,
				       .interval_ms = INTERVAL_MS,
				       .url = s->url,
				       .spool_bytes = 2 << 20,
				       .user = user});
	fd_start_ready(d, NDEV);
	cr_assert_eq(fd_wait_eq(d, "sink_down", 1, 10), 1);
	/* 512 KiB segments at ~110 KB/s: a few of them. */
	cr_assert_geq(fd_wait_geq(d, "spool_bytes", 1200 << 10, 30), 1200 << 10);
	cr_assert_eq(fd_stop(d, 30), 0);
	cr_assert_eq(fd_health(d, "devices"), -1);
	dp = opendir(d->spool);
	cr_assert_not_null(dp);
	while ((de = readdir(dp)))
		if (strlen(de->d_name) == 20 && sscanf(de->d_name, "%16llx", &seq) == 1 &&
		    seq < best)
			best = seq;
	closedir(dp);
	cr_assert_neq(best, ~0ull, "no segment in %s", d->spool);
	snprintf(seg, cap, "%s/%016llx.seg", d->spool, best);
}

/* Run 2 with the segment failing: kept, retried with backoff, /health degraded, fresh
 * points still delivered. */
static void check_failing(struct fd_daemon *d, const char *seg)
{
	double written, errors, later;

	cr_assert_eq(fd_wait_eq(d, "spool_read_failing", 1, 10), 1,
		     "the failing segment was not noticed");
	cr_assert(fd_degraded_for(d, "spool_errors"), "not degraded for spool_errors");
	written = fd_health(d, "points_written");
	errors = fd_health(d, "spool_io_errors");
	sup_sleep_ms(3000);
	later = fd_health(d, "spool_io_errors");
	/* Fresh points go out while the old ones wait. */
	cr_assert_gt(fd_health(d, "points_written"), written + NDEV * 10,
		     "fresh points held up by the failing segment");
	/* Backed off (100 ms doubling): a handful of tries in 3 s, not hundreds. */
	cr_assert_leq(later - errors, 8, "%.0f retries in 3 s", later - errors);
	cr_assert_eq(fd_health(d, "spool_read_failing"), 1);
	cr_assert_eq(fd_health(d, "points_dropped"), 0, "points dropped");
	cr_assert_eq(access(seg, F_OK), 0, "the failing segment was removed");
	cr_assert(fd_log_has(d, "cannot read the spool; the data stays on disk, retrying"));
}

Test(fault, unreadable_segment_eacces_is_kept_retried_and_delivered, .timeout = 240)
{
	struct fd_daemon d;
	struct srv s;
	char seg[256];

	fd_need_root();
	if (!getpwnam("nobody"))
		cr_skip_test("needs the user nobody: the daemon drops to it, so that a mode 000 "
			     "segment cannot be opened (root would open it)");
	fd_enter_netns();
	cr_assert_eq(srv_vm_start(&s, NULL), 0, "%s", s.why);
	srv_stop(&s, SIGTERM);
	fd_init(&d);
	spool_while_down(&s, &d, "127.23.0.0/25", "nobody", seg, sizeof(seg));
	/* The start checks the spool as root (it reads the segment), then the reader,
	 * as nobody, cannot open it. */
	cr_assert_eq(chmod(seg, 0), 0, "chmod %s: %s", seg, strerror(errno));
	cr_assert_eq(srv_restart(&s), 0, "%s", s.why);
	fd_start_ready(&d, NDEV);
	check_failing(&d, seg);
	cr_assert_eq(chmod(seg, 0600), 0);
	wait_drained(&d, 60);
	cr_assert(fd_log_has(&d, "the spool reads again"));
	cr_assert_eq(fd_stop(&d, 30), 0);
	cr_assert_eq(vm_sum(&s, "points_dropped", 2), 0);
	check_counts(&s, 2, 0, "eacces");
	fd_fini(&d);
	srv_cleanup(&s);
}

/* The daemon's environment for the LD_PRELOAD shim (fault_shim.c) driven by `ctl`. */
struct shim_env {
	char preload[256], ctl[192], asan[512];
};

static void with_shim(struct fd_daemon *d, struct shim_env *e, const char *ctl)
{
	const char *prev = getenv("ASAN_OPTIONS");

	cr_assert_eq(access(FAULT_SHIM, R_OK), 0, "%s is not built", FAULT_SHIM);
	snprintf(e->preload, sizeof(e->preload), "LD_PRELOAD=%s", FAULT_SHIM);
	snprintf(e->ctl, sizeof(e->ctl), "RP_FAULT_CTL=%s", ctl);
	/* Under ASan the shim comes before the sanitizer's runtime: say that is fine. */
	snprintf(e->asan, sizeof(e->asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
		 prev ? prev : "", prev && *prev ? ":" : "");
	d->env[0] = e->preload;
	d->env[1] = e->ctl;
	d->env[2] = e->asan;
}

Test(fault, failing_segment_eio_is_kept_retried_and_delivered, .timeout = 240)
{
	struct shim_env env;
	char ctl[160];
	struct fd_daemon d;
	struct srv s;
	char seg[256];
	FILE *f;

	fd_need_root();
	fd_enter_netns();
	cr_assert_eq(srv_vm_start(&s, NULL), 0, "%s", s.why);
	srv_stop(&s, SIGTERM);
	fd_init(&d);
	spool_while_down(&s, &d, "127.24.0.0/25", NULL, seg, sizeof(seg));
	/* Every read of the oldest segment fails with EIO while ctl exists: at the start's
	 * check and in the replay. */
	snprintf(ctl, sizeof(ctl), "%s/fault", d.dir);
	f = fopen(ctl, "w");
	cr_assert_not_null(f);
	fprintf(f, "EIO read %s\n", strrchr(seg, '/') + 1);
	fclose(f);
	with_shim(&d, &env, ctl);
	cr_assert_eq(srv_restart(&s), 0, "%s", s.why);
	fd_start_ready(&d, NDEV);
	cr_assert(fd_log_has(&d, "spool segment unreadable; kept, to be retried"),
		  "the start's check did not fail on the segment");
	check_failing(&d, seg);
	cr_assert_eq(unlink(ctl), 0);
	wait_drained(&d, 60);
	cr_assert(fd_log_has(&d, "the spool reads again"));
	cr_assert_eq(fd_stop(&d, 30), 0);
	cr_assert_eq(vm_sum(&s, "points_dropped", 2), 0);
	check_counts(&s, 2, 0, "eio");
	fd_fini(&d);
	srv_cleanup(&s);
}

/* The same fault in the segment the rule drops: the sink down and the spool past
 * spool.max_bytes while its oldest segment (the reader's, failing) cannot be read. Its
 * points were dropped uncounted (the walk that counts them failed silently): now they
 * are counted from the spool's counters, so produced = delivered + dropped again. */
Test(fault, failing_segment_dropped_by_the_rule_is_counted, .timeout = 240)
{
	struct shim_env env;
	struct fd_daemon d;
	struct srv s;
	char ctl[160], seg[256];
	int64_t overflow;
	FILE *f;

	fd_need_root();
	fd_enter_netns();
	cr_assert_eq(srv_vm_start(&s, NULL), 0, "%s", s.why);
	srv_stop(&s, SIGTERM);
	fd_init(&d);
	snprintf(ctl, sizeof(ctl), "%s/fault", d.dir);
	snprintf(seg, sizeof(seg), "%s/0000000000000001.seg", d.spool);
	f = fopen(ctl, "w");
	cr_assert_not_null(f);
	fprintf(f, "EIO read 0000000000000001.seg\n");
	fclose(f);
	with_shim(&d, &env, ctl);
	fd_config(&d, &(struct fd_conf){.devices = "127.25.0.0/25",
					.interval_ms = INTERVAL_MS,
					.url = s.url,
					.spool_bytes = 2 << 20});
	fd_start_ready(&d, NDEV);
	cr_assert_eq(fd_wait_eq(&d, "sink_down", 1, 10), 1);
	/* ~110 KB/s into 2 MiB: the rule drops the first segment within ~25 s. */
	for (double until = sup_now() + 60; sup_now() < until && access(seg, F_OK) != -1;)
		sup_sleep_ms(250);
	cr_assert_eq(access(seg, F_OK), -1, "the failing segment was never dropped");
	cr_assert_gt(fd_health(&d, "spool_io_errors"), 0, "the segment never failed to read");
	cr_assert_eq(unlink(ctl), 0);
	cr_assert_eq(srv_restart(&s), 0, "%s", s.why);
	wait_drained(&d, 120);
	cr_assert_eq(fd_stop(&d, 30), 0);
	overflow = fd_vm_last(&s, "points_dropped_spool_overflow");
	cr_assert_eq(fd_vm_last(&s, "points_dropped"), overflow);
	cr_assert_gt(overflow, 0);
	check_counts(&s, 1, overflow, "eio-dropped");
	fd_fini(&d);
	srv_cleanup(&s);
}
