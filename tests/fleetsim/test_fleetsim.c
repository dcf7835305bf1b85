// SPDX-License-Identifier: MIT
/*
 * Integration tests for bench/fleetsim: ringprobe ping against a simulated fleet on a TUN device,
 * each test in its own network namespace (Criterion forks per test, the test unshares). Root only.
 * Binaries: $FLEETSIM_BIN / $RINGPROBE_BIN, else the meson build tree (fleetsim_harness.h).
 */
#include "fleetsim_harness.h"

#include <criterion/options.h>
#include <stdint.h>

#define NDEV 1000

struct ping_sum {
	unsigned targets, xmt, rcv, lost;
	unsigned early;	  /* devices with an RTT below the injected latency: never allowed */
	unsigned bad_rtt; /* devices with an RTT at or above the upper bound */
	double min_ms, max_ms;
};

static void run_ping(const struct fleet *f, struct ping_sum *s, double lo_ms, double hi_ms)
{
	char cmd[512], line[256];
	FILE *p;

	memset(s, 0, sizeof(*s));
	s->min_ms = 1e9;
	snprintf(cmd, sizeof(cmd), "%s ping -q -c 3 -p 200 @%s 2>&1",
		 bin("RINGPROBE_BIN", "src/cli/ringprobe"), f->devices);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned x, r, l;
		double mn, avg, mx;
		char *q = strstr(line, "xmt/rcv/%loss = ");
		int k;

		if (!q)
			continue;
		k = sscanf(q, "xmt/rcv/%%loss = %u/%u/%u%%, min/avg/max = %lf/%lf/%lf", &x, &r, &l,
			   &mn, &avg, &mx);
		cr_assert_geq(k, 3, "bad summary line: %s", line);
		s->targets++;
		s->xmt += x;
		s->rcv += r;
		s->lost += x - r;
		if (k == 6) {
			if (mn < s->min_ms)
				s->min_ms = mn;
			if (mx > s->max_ms)
				s->max_ms = mx;
			if (mn < lo_ms)
				s->early++;
			if (mx >= hi_ms)
				s->bad_rtt++;
		}
	}
	pclose(p);
}

/* Under AddressSanitizer both programs run 2-3x slower and a busy 2-core machine
 * delays more wake-ups: allow 10% of the devices over 4 ms there (still none over 10). */
#if defined(__SANITIZE_ADDRESS__)
#define SLOW_RTT_ALLOWED (NDEV / 10)
#else
#define SLOW_RTT_ALLOWED (NDEV / 50)
#endif

TestSuite(fleetsim, .timeout = 120);

Test(fleetsim, every_device_answers_with_fixed_latency)
{
	static const char *const extra[] = {"--latency", "fixed:2ms", "--loss", "0", NULL};
	struct fleet f;
	struct ping_sum s;

	enter_netns();
	fleet_start(&f, NDEV, extra);
	run_ping(&f, &s, 2.0, 4.0);
	fleet_stop(&f);

	cr_expect_eq(s.targets, NDEV);
	cr_expect_eq(s.xmt, 3 * NDEV);
	cr_expect_eq(s.rcv, 3 * NDEV, "received %u of %u", s.rcv, 3 * NDEV);
	cr_expect_eq(s.early, 0, "%u devices answered faster than 2 ms (min %.3f)", s.early,
		     s.min_ms);
	/*
	 * This VM's timer wake-ups (ours and ringprobe's) occasionally run ~2 ms late even with
	 * --spin, which pushed a burst of devices past 4 ms in about 1 run in 10. Allow 2% of the
	 * devices over 4 ms, none over 10 ms.
	 */
	cr_expect_leq(s.bad_rtt, SLOW_RTT_ALLOWED, "%u devices had an RTT >= 4 ms (max %.3f)",
		      s.bad_rtt, s.max_ms);
	cr_expect_lt(s.max_ms, 10.0, "max RTT %.3f ms", s.max_ms);
	cr_expect_eq(truth_total(&f, "requests"), 3 * NDEV);
	cr_expect_eq(truth_total(&f, "replies"), 3 * NDEV);
	cr_expect_eq(truth_total(&f, "drops"), 0);
}

Test(fleetsim, loss_and_down_match_ground_truth)
{
	static const char *const extra[] = {"--latency", "fixed:2ms", "--loss", "10", "--down",
					    "5",	 "--seed",    "7",	NULL};
	struct fleet f;
	struct ping_sum s;

	enter_netns();
	fleet_start(&f, NDEV, extra);
	run_ping(&f, &s, 2.0, 4.0);
	fleet_stop(&f);

	cr_expect_eq(s.targets, NDEV);
	cr_expect_eq(truth_total(&f, "requests"), s.xmt);
	cr_expect_eq(s.rcv, truth_total(&f, "replies"));
	cr_expect_eq(s.lost, truth_total(&f, "drops"));
	cr_expect_gt(truth_total(&f, "drops_down"), 0);
	cr_expect_gt(truth_total(&f, "drops_loss"), 0);
	cr_expect_eq(s.early, 0);
}

Test(fleetsim, duplicates_are_sent_and_counted_apart)
{
	static const char *const extra[] = {"--latency", "uniform:1ms:3ms", "--dup", "100", NULL};
	struct fleet f;
	struct ping_sum s;

	enter_netns();
	fleet_start(&f, NDEV, extra);
	run_ping(&f, &s, 1.0, 10.0);
	fleet_stop(&f);

	cr_expect_eq(s.rcv, 3 * NDEV, "a duplicate must not count as a reply");
	cr_expect_eq(s.early, 0);
	cr_expect_eq(truth_total(&f, "replies"), 3 * NDEV);
	cr_expect_eq(truth_total(&f, "duplicates"), 3 * NDEV);
	cr_expect_eq(truth_total(&f, "write_errors"), 0);
}

/* One --replies record (fleetsim.c's header comment), decoded. */
struct reply_rec {
	uint32_t dev, k, lat_us, flags;
	uint64_t hold_ns;
};

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The records of @path (malloc'd), their number in *n. */
static struct reply_rec *read_replies(const char *path, size_t *n)
{
	unsigned char hdr[16], r[24];
	struct reply_rec *out = NULL;
	size_t cap = 0;
	FILE *fp = fopen(path, "rb");

	cr_assert_not_null(fp, "no replies file %s", path);
	cr_assert_eq(fread(hdr, 1, 16, fp), 16);
	cr_assert(!memcmp(hdr, "fsreply1", 8) && le(hdr + 8, 4) == 24, "bad replies header");
	*n = 0;
	while (fread(r, 1, 24, fp) == 24) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 4096;
			out = realloc(out, cap * sizeof(*out));
			cr_assert_not_null(out);
		}
		out[(*n)++] = (struct reply_rec){.dev = (uint32_t)le(r, 4),
						 .k = (uint32_t)le(r + 4, 4),
						 .lat_us = (uint32_t)le(r + 8, 4),
						 .flags = (uint32_t)le(r + 12, 4),
						 .hold_ns = le(r + 16, 8)};
	}
	cr_assert(feof(fp), "replies file ends inside a record");
	fclose(fp);
	return out;
}

/*
 * --replies: one record per reply handed to the kernel, in agreement with the truth; the wire
 * tap knows every hold (no ring drop), and no hold is shorter than the latency drawn for it
 * (the reply cannot leave before its due time; 20 us for CLOCK_REALTIME against the
 * CLOCK_MONOTONIC fleetsim schedules by).
 */
Test(fleetsim, replies_file_has_the_wire_hold_of_each_reply)
{
	char dir[] = "/tmp/fleetsim-replies-XXXXXX", path[64], v[32], *t;
	const char *extra[] = {"--latency", "uniform:1ms:3ms", "--loss", "10",	      "--dup",
			       "10",	    "--down",	       "2",	 "--replies", path,
			       NULL};
	unsigned long long lat_sum = 0, dups = 0, early = 0;
	unsigned *per_dev;
	struct reply_rec *rec;
	struct fleet f;
	struct ping_sum s;
	size_t n;

	enter_netns();
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/replies.bin", dir);
	fleet_start(&f, NDEV, extra);
	run_ping(&f, &s, 1.0, 10.0);
	fleet_stop(&f);

	rec = read_replies(path, &n);
	t = fleet_truth(&f);
	per_dev = calloc(NDEV, sizeof(*per_dev));
	cr_assert_eq(n, truth_total(&f, "replies"), "%zu records for %llu replies", n,
		     truth_total(&f, "replies"));
	cr_expect_eq(n, s.rcv);
	cr_expect_eq(truth_total(&f, "wire_matched"), n);
	cr_expect_eq(truth_total(&f, "wire_unknown"), 0);
	cr_expect_eq(truth_total(&f, "tap_drops"), 0);
	for (size_t i = 0; i < n; i++) {
		cr_assert_lt(rec[i].dev, NDEV);
		truth_dev(t, rec[i].dev, "requests", v, sizeof(v));
		cr_expect_lt(rec[i].k, strtoul(v, NULL, 10), "device %u: k %u", rec[i].dev,
			     rec[i].k);
		cr_expect_neq(rec[i].hold_ns, UINT64_MAX, "record %zu: unknown hold", i);
		if (rec[i].hold_ns + 20000 < (uint64_t)rec[i].lat_us * 1000)
			early++;
		lat_sum += rec[i].lat_us;
		dups += rec[i].flags & 1;
		per_dev[rec[i].dev]++;
	}
	cr_expect_eq(early, 0, "%llu holds shorter than their draw", early);
	cr_expect_eq(lat_sum, truth_total(&f, "latency_sum_us"));
	cr_expect_eq(dups, truth_total(&f, "duplicates"));
	for (unsigned i = 0; i < NDEV; i++) {
		truth_dev(t, i, "replies", v, sizeof(v));
		cr_expect_eq(per_dev[i], strtoul(v, NULL, 10), "device %u", i);
	}
	free(per_dev);
	free(rec);
	free(t);
	unlink(path);
	rmdir(dir);
}

Test(fleetsim, refuses_a_range_outside_the_benchmark_network)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd), "%s --devices 10 --base 198.19.255.250 2>/dev/null",
		 bin("FLEETSIM_BIN", "bench/fleetsim/fleetsim"));
	st = system(cmd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	snprintf(cmd, sizeof(cmd), "%s --devices 10 --base 10.0.0.1 2>/dev/null",
		 bin("FLEETSIM_BIN", "bench/fleetsim/fleetsim"));
	st = system(cmd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
}

/*
 * RTT bounds are tight (fixed 2 ms, must be < 4 ms): tests running side by side on a 2-core box
 * would each run a fleetsim and a ringprobe and measure CPU contention, so run one at a time.
 */
int main(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	int ok = 1;

	criterion_options.jobs = 1;
	if (criterion_handle_args(argc, argv, true))
		ok = criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return ok ? 0 : 1;
}
