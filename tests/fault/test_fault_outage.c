/* The daemon through a long sink outage and through kill -9 under load, counted in a
 * real VictoriaMetrics (which keeps every sample, repeats included, so a point sent
 * twice shows).
 *
 * - outage: the sink stops for RP_FAULT_OUTAGE_SECONDS (45 s here, 25 s under ASan;
 *   tests/fault/run-long runs 600 s) while 126 devices are probed 10 times a second
 *   into a 2 MiB spool of 512 KiB segments: the spool rolls over and the oldest
 *   segments go. Then the sink returns (the writer sees it at its next try, its backoff
 *   having doubled meanwhile) and the spool is replayed. Every point is delivered once
 *   or counted as dropped by the oldest-first rule, nothing else: probes_sent = points
 *   in the sink + points_dropped_spool_overflow; the sink lacks at least that many
 *   (more only for probes a shard sent once for two slots when held back), all from
 *   the outage and none from what the spool held when the writer saw the sink back.
 * - kill -9: the daemon is killed and restarted 50 times (20 under ASan;
 *   RP_FAULT_KILLS), 0.3 to 1 s after each start is ready, while the sink flaps (a
 *   proxy in front of it answers 503 half the time), so it spools and replays all
 *   along. After each kill the test reads the spool as the next start will: every
 *   point in a record past the cursor was acknowledged to the spool and must reach the
 *   sink; repeats may only be such points, within the at-least-once window
 *   (docs/daemon.md). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rig.h"

#define DEVICES "127.20.0.0/25"
#define NDEV 126
#define INTERVAL_MS 100

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

/* The highest segment number in a spool directory (how many segments it has made). */
static unsigned long long last_segment(const char *dir)
{
	unsigned long long best = 0, seq;
	struct dirent *de;
	DIR *dp = opendir(dir);

	if (!dp)
		return 0;
	while ((de = readdir(dp)))
		if (strlen(de->d_name) == 20 && sscanf(de->d_name, "%16llx", &seq) == 1 &&
		    seq > best)
			best = seq;
	closedir(dp);
	return best;
}

Test(fault, outage_with_spool_rollover_then_replay_counts_every_point, .timeout = 3600)
{
	int outage_s = env_int("RP_FAULT_OUTAGE_SECONDS", FAULT_ASAN ? 25 : 45);
	int64_t max_bytes = 2 << 20, t_down, t_up, t_seen = 0, probes, overflow, dropped;
	double max_spool = 0, t0;
	unsigned long long segs;
	struct fd_daemon d;
	struct fd_points p;
	struct srv s;

	fd_need_root();
	fd_enter_netns();
	cr_assert_eq(srv_vm_start(&s, NULL), 0, "%s", s.why);
	fd_init(&d);
	fd_config(&d, &(struct fd_conf){.devices = DEVICES,
					.interval_ms = INTERVAL_MS,
					.url = s.url,
					.batch_size = 200,
					.spool_bytes = max_bytes});
	fd_start_ready(&d, NDEV);
	sup_sleep_ms(3000);
	cr_assert_gt(fd_health(&d, "points_written"), NDEV * 10);

	/* SIGTERM: VictoriaMetrics writes what it acknowledged before it exits. */
	t_down = fd_real_ms();
	srv_stop(&s, SIGTERM);
	cr_assert_eq(fd_wait_eq(&d, "sink_down", 1, 10), 1, "the writer never saw the outage");
	cr_assert(fd_degraded_for(&d, "sink_failing"), "/health is not degraded for the sink");
	t0 = sup_now();
	while (sup_now() - t0 < outage_s) {
		double b = fd_health(&d, "spool_bytes");

		cr_assert_geq(b, 0, "the daemon stopped answering during the outage");
		cr_assert_leq(b, (double)max_bytes, "spool_bytes %.0f over spool.max_bytes", b);
		if (b > max_spool)
			max_spool = b;
		sup_sleep_ms(1000);
	}
	overflow = (int64_t)fd_health(&d, "points_dropped_spool_overflow");
	segs = last_segment(d.spool);
	cr_assert_gt(overflow, 0, "the spool never rolled over (max %.0f bytes)", max_spool);
	cr_assert_geq(segs, 5, "only %llu segments were made", segs);
	cr_assert(fd_degraded_for(&d, "points_dropped"), "dropping points but not degraded");

	cr_assert_eq(srv_restart(&s), 0, "%s", s.why);
	t_up = fd_real_ms();
	t0 = sup_now();
	/* The writer sees the sink back at its next try (its backoff doubles up to
	 * 60 s), spooling until then; then the spool is replayed. */
	while (sup_now() - t0 < 180 &&
	       (fd_health(&d, "spool_points") != 0 || fd_health(&d, "sink_down") != 0 ||
		fd_health(&d, "spool_bytes") != 0)) {
		if (!t_seen && fd_health(&d, "sink_down") == 0)
			t_seen = fd_real_ms();
		sup_sleep_ms(200);
	}
	if (!t_seen)
		t_seen = fd_real_ms();
	cr_assert_eq(fd_health(&d, "spool_points"), 0, "the spool was not replayed");
	cr_assert_eq(fd_health(&d, "sink_down"), 0);
	fprintf(stderr, "outage: replayed in %.1f s\n", sup_now() - t0);
	sup_sleep_ms(1000);
	cr_assert_eq(fd_stop(&d, 30), 0);

	/* The last health_metrics point is written at the stop, after the last probe. */
	probes = fd_vm_last(&s, "probes_sent");
	overflow = fd_vm_last(&s, "points_dropped_spool_overflow");
	dropped = fd_vm_last(&s, "points_dropped");
	if (probes <= 0)
		fd_dump_log(&d);
	cr_assert_gt(probes, 0, "no health_metrics point at the stop");
	cr_assert_eq(fd_vm_last(&s, "ring_drops"), 0);
	cr_assert_eq(dropped, overflow, "points dropped for another reason than the rule: %lld",
		     (long long)(dropped - overflow));
	fd_vm_wait_count(&s, probes - overflow, 20);
	fd_vm_points(&s, INTERVAL_MS, &p);
	fprintf(stderr,
		"outage: outage_s=%d devices=%d interval_ms=%d spool_max_bytes=%lld "
		"segments=%llu max_spool_bytes=%.0f produced=%lld delivered=%zu "
		"dropped_oldest_first=%lld repeats=%zu missing_in_sink=%zu missing_runs=%zu "
		"missing_from=%+.1fs missing_to=%+.1fs (from the outage's start; the sink was back "
		"at %+.1fs, seen by the writer at %+.1fs)\n",
		outage_s, NDEV, INTERVAL_MS, (long long)max_bytes, segs, max_spool,
		(long long)probes, p.distinct, (long long)overflow, p.dups, p.missing, p.runs,
		(p.miss_first_ms - t_down) / 1e3, (p.miss_last_ms - t_down) / 1e3,
		(t_up - t_down) / 1e3, (t_seen - t_down) / 1e3);
	cr_assert_eq(p.series, NDEV);
	/* produced = delivered + dropped by the rule, and nothing else. */
	cr_assert_eq((int64_t)p.distinct + overflow, probes,
		     "%zu delivered + %lld dropped != %lld produced", p.distinct,
		     (long long)overflow, (long long)probes);
	cr_assert_eq(p.dups, 0, "%zu points delivered twice without any crash", p.dups);
	/* The points missing in the sink are the dropped ones (more only when a shard fell
	 * an interval behind and sent a device's probe once for two slots of its
	 * schedule: not a loss, probes_sent counts sends), all from the outage (the
	 * writer spools until it sees the sink back), and the oldest of it: what the
	 * spool held when the writer saw the sink again (~19 s at ~110 KB/s into 2 MiB;
	 * at least the last 5 s of it) is all there. */
	cr_assert_geq((int64_t)p.missing, overflow, "%zu missing in the sink, %lld counted",
		      p.missing, (long long)overflow);
	cr_assert_geq(p.miss_first_ms, t_down - 1000);
	cr_assert_leq(p.miss_last_ms, t_seen - 5000,
		      "a point %.1f s before the writer saw the sink back was dropped: not "
		      "the oldest first",
		      (t_seen - p.miss_last_ms) / 1e3);
	fd_points_free(&p);
	fd_fini(&d);
	srv_cleanup(&s);
}

/* ---- kill -9 ------------------------------------------------------------------------ */

static const char resp_503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";

Test(fault, kill9_and_restart_under_load_loses_nothing_spooled, .timeout = 600)
{
	int kills = env_int("RP_FAULT_KILLS", FAULT_ASAN ? 20 : 50);
	struct fd_keys spooled = {0}, seen = {0};
	size_t lost = 0, dup_outside = 0, dup_beyond = 0, max_mult = 1, snap_total = 0;
	uint64_t seed = 0x5eed;
	struct fake_http proxy;
	struct fd_daemon d;
	struct fd_points p;
	struct srv s;
	double t0;

	fd_need_root();
	fd_enter_netns();
	cr_assert_eq(srv_vm_start(&s, NULL), 0, "%s", s.why);
	cr_assert_eq(fake_http_start(&proxy, NULL), 0);
	fake_http_forward(&proxy, s.url);
	fd_init(&d);
	fd_config(&d, &(struct fd_conf){.devices = DEVICES,
					.interval_ms = INTERVAL_MS,
					.url = proxy.url,
					.batch_size = 100,
					.flush_ms = 200,
					.spool_bytes = 256 << 20});
	t0 = sup_now();
	for (int i = 0; i < kills; i++) {
		size_t got;

		/* The sink flaps: every other life of the daemon begins with it down. */
		fake_http_set(&proxy, i % 2 ? resp_503 : NULL);
		fd_start(&d);
		if (fd_wait_eq(&d, "ready", 1, 10) != 1)
			fd_dump_log(&d);
		cr_assert_eq(fd_health(&d, "ready"), 1, "start %d: not ready", i);
		sup_sleep_ms(300 + (int)(sup_xorshift64(&seed) % 500));
		if (i % 2)
			fake_http_set(&proxy, NULL);
		sup_sleep_ms((int)(sup_xorshift64(&seed) % 200));
		fd_kill9(&d);
		got = fd_spool_points(d.spool, &spooled);
		snap_total += got;
	}
	fprintf(stderr, "kill9: %d kills in %.1f s, %zu spooled points seen after them\n", kills,
		sup_now() - t0, snap_total);
	if (snap_total == 0)
		fd_dump_log(&d);
	cr_assert_gt(snap_total, 0, "nothing was ever spooled: the test proves nothing");
	fake_http_set(&proxy, NULL);
	fd_start_ready(&d, NDEV);
	t0 = sup_now();
	while (sup_now() - t0 < 60 &&
	       (fd_health(&d, "spool_points") != 0 || fd_health(&d, "spool_bytes") != 0))
		sup_sleep_ms(200);
	cr_assert_eq(fd_health(&d, "spool_points"), 0, "the spool was not replayed");
	cr_assert_eq(fd_stop(&d, 30), 0);
	cr_assert_eq(fd_vm_last(&s, "points_dropped_spool_overflow"), 0);

	fd_vm_points(&s, INTERVAL_MS, &p);
	seen = p.all; /* sorted, repeats kept */
	/* `spooled` keeps a point once per kill after which it was past the cursor: each
	 * such kill may send it once more (the at-least-once window), nothing else may. */
	fd_keys_sort(&spooled, false);
	for (size_t i = 0; i < spooled.n; i++)
		if ((i == 0 || spooled.k[i] != spooled.k[i - 1]) &&
		    !fd_keys_has(&seen, spooled.k[i]))
			lost++;
	for (size_t i = 0, run = 1; i < seen.n; i++) {
		run = i && seen.k[i] == seen.k[i - 1] ? run + 1 : 1;
		if (i + 1 < seen.n && seen.k[i + 1] == seen.k[i])
			continue; /* the end of its run decides */
		if (run > max_mult)
			max_mult = run;
		if (run > 1) {
			size_t windows = fd_keys_count(&spooled, seen.k[i]);

			if (!windows)
				dup_outside++;
			else if (run - 1 > windows)
				dup_beyond++;
		}
	}
	fprintf(stderr,
		"kill9: kills=%d spooled_points=%zu (seen past the cursor after the kills, "
		"counted once per kill) delivered=%zu lost=%zu repeats=%zu "
		"repeats_not_from_the_spool=%zu beyond_the_window=%zu max_copies=%zu\n",
		kills, spooled.n, p.distinct, lost, p.dups, dup_outside, dup_beyond, max_mult);
	cr_assert_eq(lost, 0, "%zu points acknowledged to the spool never reached the sink", lost);
	cr_assert_eq(dup_outside, 0, "%zu points repeated that were never in the spool",
		     dup_outside);
	cr_assert_eq(dup_beyond, 0,
		     "%zu points sent more often than the kills that found them in the spool",
		     dup_beyond);
	/* The window after one kill: the replayed records in flight, at most
	 * influxdb.max_inflight (4) requests of influxdb.batch_size (100) points. */
	cr_assert_leq(p.dups, (size_t)kills * 4 * 100, "%zu repeats over %d kills", p.dups, kills);
	fd_keys_free(&spooled);
	fd_points_free(&p);
	fake_http_stop(&proxy);
	fd_fini(&d);
	srv_cleanup(&s);
}
