// SPDX-License-Identifier: MIT
/*
 * Integration tests for bench/fleetsim: ringprobe ping against a simulated fleet on a TUN device,
 * each test in its own network namespace (Criterion forks per test, the test unshares). Root only.
 * Binaries: $FLEETSIM_BIN / $RINGPROBE_BIN, else the meson build tree (fleetsim_harness.h).
 */
#include "fleetsim_harness.h"

#include <math.h>
#include <stdint.h>

#define NDEV 1000

struct ping_sum {
	unsigned targets, xmt, rcv, lost;
	unsigned early; /* devices with an RTT below the injected latency: never allowed */
};

static void run_ping(const struct fleet *f, struct ping_sum *s, double lo_ms)
{
	char cmd[512], line[256];
	FILE *p;

	memset(s, 0, sizeof(*s));
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
			if (mn < lo_ms)
				s->early++;
		}
	}
	pclose(p);
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
 * ringprobe's RTT is timed from the kernel's transmit and receive stamps, so it must agree with
 * the hold the simulator's wire tap saw (request in, reply out): measured worst 0.05 ms, also
 * with two busy loops beside it and under AddressSanitizer. Without transmit stamps
 * (RINGPROBE_DISABLE=txstamp) the prepare-time stamp is up to ~0.4 ms early and this fails.
 */
#define RTT_TOL_MS 0.2

TestSuite(fleetsim, .timeout = 120);

/*
 * Fixed 2 ms latency: every probe answered, none faster than 2 ms, and each device's fastest and
 * slowest RTT equal to the fastest and slowest hold on the wire. How late the simulator itself
 * sends is this VM's timer wake-ups, not ringprobe: it is bounded loosely (median under 2 ms
 * late, nothing 20 ms late) instead of by an absolute RTT ceiling, which failed about one run in
 * ten when a burst of wake-ups ran 2 ms late.
 */
Test(fleetsim, every_device_answers_with_fixed_latency)
{
	char dir[] = "/tmp/fleetsim-fixed-XXXXXX", path[64], cmd[512], line[256];
	const char *extra[] = {"--latency", "fixed:2ms", "--loss", "0", "--replies", path, NULL};
	unsigned targets = 0, xmt = 0, rcv = 0, early = 0, off = 0, late20 = 0;
	double(*rtt)[2], worst = 0;
	struct reply_rec *rec;
	struct fleet f;
	size_t n;
	FILE *p;

	enter_netns();
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/replies.bin", dir);
	fleet_start(&f, NDEV, extra);
	snprintf(cmd, sizeof(cmd), "%s ping -q -c 3 -p 200 @%s 2>&1",
		 bin("RINGPROBE_BIN", "src/cli/ringprobe"), f.devices);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	/* per device: ringprobe's fastest and slowest RTT, ms */
	rtt = calloc(NDEV, sizeof(*rtt));
	cr_assert_not_null(rtt);
	while (fgets(line, sizeof(line), p)) {
		unsigned a, b, c, d, x, r, l;
		double mn, avg, mx;
		char *q = strstr(line, "xmt/rcv/%loss = ");

		if (!q)
			continue;
		cr_assert_eq(sscanf(line, "%u.%u.%u.%u", &a, &b, &c, &d), 4, "line: %s", line);
		cr_assert_eq(sscanf(q, "xmt/rcv/%%loss = %u/%u/%u%%, min/avg/max = %lf/%lf/%lf", &x,
				    &r, &l, &mn, &avg, &mx),
			     6, "bad summary line: %s", line);
		a = (a << 24 | b << 16 | c << 8 | d) - fleet_addr(0);
		cr_assert_lt(a, NDEV, "line: %s", line);
		targets++;
		xmt += x;
		rcv += r;
		rtt[a][0] = mn;
		rtt[a][1] = mx;
	}
	pclose(p);
	fleet_stop(&f);

	cr_expect_eq(targets, NDEV);
	cr_expect_eq(xmt, 3 * NDEV);
	cr_expect_eq(rcv, 3 * NDEV, "received %u of %u", rcv, 3 * NDEV);
	cr_expect_eq(truth_total(&f, "requests"), 3 * NDEV);
	cr_expect_eq(truth_total(&f, "replies"), 3 * NDEV);
	cr_expect_eq(truth_total(&f, "drops"), 0);
	cr_expect_eq(truth_total(&f, "tap_drops"), 0);
	cr_expect_leq(truth_total(&f, "sim_late_p50_us"), 2000);

	rec = read_replies(path, &n);
	cr_assert_eq(n, 3 * NDEV, "%zu reply records", n);
	{
		double wmin[NDEV], wmax[NDEV];

		for (unsigned i = 0; i < NDEV; i++) {
			wmin[i] = 1e9;
			wmax[i] = 0;
		}
		for (size_t i = 0; i < n; i++) {
			double ms = (double)rec[i].hold_ns / 1e6;

			cr_assert_lt(rec[i].dev, NDEV);
			cr_assert_neq(rec[i].hold_ns, UINT64_MAX, "record %zu: unknown hold", i);
			if (ms < wmin[rec[i].dev])
				wmin[rec[i].dev] = ms;
			if (ms > wmax[rec[i].dev])
				wmax[rec[i].dev] = ms;
			if (ms >= 20.0)
				late20++;
		}
		for (unsigned i = 0; i < NDEV; i++) {
			double e = fmax(fabs(rtt[i][0] - wmin[i]), fabs(rtt[i][1] - wmax[i]));

			if (rtt[i][0] < 2.0)
				early++;
			if (e > RTT_TOL_MS)
				off++;
			if (e > worst)
				worst = e;
		}
	}
	cr_log_info("worst RTT - wire hold %.3f ms, simulator late p50 %llu us", worst,
		    truth_total(&f, "sim_late_p50_us"));
	cr_expect_eq(early, 0, "%u devices answered faster than 2 ms", early);
	cr_expect_eq(off, 0,
		     "%u devices' RTT differ from the wire hold by more than %.1f ms "
		     "(worst %.3f)",
		     off, RTT_TOL_MS, worst);
	cr_expect_eq(late20, 0, "%u replies held 20 ms or more", late20);
	free(rec);
	free(rtt);
	unlink(path);
	rmdir(dir);
}

Test(fleetsim, loss_and_down_match_ground_truth)
{
	static const char *const extra[] = {"--latency", "fixed:2ms", "--loss", "10", "--down",
					    "5",	 "--seed",    "7",	NULL};
	struct fleet f;
	struct ping_sum s;

	enter_netns();
	fleet_start(&f, NDEV, extra);
	run_ping(&f, &s, 2.0);
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
	run_ping(&f, &s, 1.0);
	fleet_stop(&f);

	cr_expect_eq(s.rcv, 3 * NDEV, "a duplicate must not count as a reply");
	cr_expect_eq(s.early, 0);
	cr_expect_eq(truth_total(&f, "replies"), 3 * NDEV);
	cr_expect_eq(truth_total(&f, "duplicates"), 3 * NDEV);
	cr_expect_eq(truth_total(&f, "write_errors"), 0);
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
	run_ping(&f, &s, 1.0);
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

/* ---- IPv6 (--family 6 or both): fping -6 to the devices' 2001:2:: addresses ---- */

#define NDEV6 300

struct fping_row {
	unsigned xmt, rcv;
	double min, avg, max; /* ms; 0 when nothing came back */
};

/*
 * Runs fping (with @fam "-6" or "-4") 3 rounds over the address list @list, one line per
 * target into @rows[device index], the index found from the address by @v6 (2001:2:: + IPv4).
 * Returns the number of summary lines.
 */
static unsigned run_fping(const char *fam, const char *list, struct fping_row *rows, unsigned n)
{
	char cmd[512], line[256];
	unsigned lines = 0;
	FILE *p;

	cr_assert_eq(system("command -v fping >/dev/null"), 0,
		     "needs fping (Debian package fping)");
	memset(rows, 0, n * sizeof(*rows));
	snprintf(cmd, sizeof(cmd), "fping %s -q -c 3 -p 200 -i 1 -t 500 -f %s 2>&1", fam, list);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		char addr[64];
		unsigned x, r, l, a, hi, lo, idx;
		double mn = 0, avg = 0, mx = 0;
		char *q = strstr(line, "xmt/rcv/%loss = ");
		int k;

		if (!q)
			continue;
		cr_assert_eq(sscanf(line, "%63s", addr), 1, "line: %s", line);
		if (strchr(addr, ':')) {
			cr_assert_eq(sscanf(addr, "2001:2::%x:%x", &hi, &lo), 2, "line: %s", line);
			a = hi << 16 | lo;
		} else {
			unsigned b0, b1, b2, b3;

			cr_assert_eq(sscanf(addr, "%u.%u.%u.%u", &b0, &b1, &b2, &b3), 4, "%s",
				     line);
			a = b0 << 24 | b1 << 16 | b2 << 8 | b3;
		}
		idx = a - fleet_addr(0);
		cr_assert_lt(idx, n, "line: %s", line);
		k = sscanf(q, "xmt/rcv/%%loss = %u/%u/%u%%, min/avg/max = %lf/%lf/%lf", &x, &r, &l,
			   &mn, &avg, &mx);
		cr_assert_geq(k, 3, "bad summary line: %s", line);
		rows[idx] =
		    (struct fping_row){.xmt = x, .rcv = r, .min = mn, .avg = avg, .max = mx};
		lines++;
	}
	pclose(p);
	return lines;
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * ICMPv6 echo to every device's 2001:2:: address: each up device answers all 3, each down one
 * none, no RTT is below the fixed 2 ms and the median is near it; the truth's addr6 is the
 * mapping, its IPv6 counts are the whole traffic, and every reply record is flagged ICMPv6
 * with a known wire hold no shorter than its draw (the tap stamps ICMPv6 too).
 */
Test(fleetsim, ipv6_echo_up_devices_answer_with_the_latency_down_ones_do_not)
{
	char dir[] = "/tmp/fleetsim-v6-XXXXXX", path[64], v[64], want[64], *t;
	const char *extra[] = {"--family", "6", "--latency", "fixed:2ms", "--down", "10",
			       "--seed",   "5", "--replies", path,	  NULL};
	struct fping_row rows[NDEV6];
	double avgs[NDEV6];
	unsigned nup = 0, ndown = 0, rcv = 0, early = 0, navg = 0;
	struct reply_rec *rec;
	struct fleet f;
	size_t n;

	enter_netns();
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/replies.bin", dir);
	fleet_start(&f, NDEV6, extra);
	cr_assert_eq(run_fping("-6", f.devices6, rows, NDEV6), NDEV6);
	fleet_stop(&f);

	t = fleet_truth(&f);
	cr_expect_not_null(strstr(t, "\"family\":\"6\",\"base6\":\"2001:2::c612:1\""),
			   "options lack family/base6");
	for (unsigned i = 0; i < NDEV6; i++) {
		truth_dev(t, i, "addr6", v, sizeof(v));
		fmt_addr6(want, sizeof(want), fleet_addr(i));
		cr_expect_str_eq(v, want, "device %u", i);
		cr_expect_eq(rows[i].xmt, 3, "device %u", i);
		truth_dev(t, i, "down", v, sizeof(v));
		if (!strcmp(v, "true")) {
			ndown++;
			cr_expect_eq(rows[i].rcv, 0, "down device %s answered", want);
			continue;
		}
		nup++;
		rcv += rows[i].rcv;
		cr_expect_eq(rows[i].rcv, 3, "up device %s: %u of 3", want, rows[i].rcv);
		if (rows[i].rcv) {
			early += rows[i].min < 2.0;
			avgs[navg++] = rows[i].avg;
		}
	}
	cr_assert(nup > 0 && ndown > 0, "seed 5 gives %u up, %u down", nup, ndown);
	cr_expect_eq(early, 0, "%u devices answered faster than 2 ms", early);
	qsort(avgs, navg, sizeof(avgs[0]), by_double);
	cr_assert_gt(navg, 0);
	cr_log_info("IPv6: %u up, %u down, median avg RTT %.3f ms, worst %.3f ms", nup, ndown,
		    avgs[navg / 2], avgs[navg - 1]);
	cr_expect(avgs[navg / 2] >= 2.0 && avgs[navg / 2] < 4.0, "median RTT %.3f ms for 2 ms",
		  avgs[navg / 2]);
	cr_expect_lt(avgs[navg - 1], 20.0, "an average RTT of %.3f ms for 2 ms", avgs[navg - 1]);

	cr_expect_eq(truth_total(&f, "requests_v6"), 3 * NDEV6);
	cr_expect_eq(truth_total(&f, "requests"), 3 * NDEV6);
	cr_expect_eq(truth_total(&f, "replies_v6"), rcv);
	cr_expect_eq(truth_total(&f, "replies"), rcv);
	cr_expect_eq(truth_total(&f, "drops_down"), 3 * ndown);
	cr_expect_eq(truth_total(&f, "stray"), 0);
	cr_expect_eq(truth_total(&f, "wire_unknown"), 0);

	rec = read_replies(path, &n);
	cr_assert_eq(n, rcv, "%zu reply records for %u replies", n, rcv);
	for (size_t i = 0; i < n; i++) {
		cr_expect(rec[i].flags & 4, "record %zu not flagged ICMPv6", i);
		cr_expect_neq(rec[i].hold_ns, UINT64_MAX, "record %zu: unknown hold", i);
		cr_expect_geq(rec[i].hold_ns + 20000, (uint64_t)rec[i].lat_us * 1000, "record %zu",
			      i);
	}
	free(rec);
	free(t);
	unlink(path);
	rmdir(dir);
}

/*
 * --family both: one device population on two families. Loss, down and flapping devices act
 * on ICMPv6 (checked from a truth written after the IPv6 round alone) as on ICMP, the counts
 * are shared (requests = IPv4 + IPv6) and what fping saw lost is what the truth dropped.
 */
Test(fleetsim, ipv6_and_ipv4_share_the_devices_loss_down_and_flap)
{
	static const char *const extra[] = {
	    "--family", "both",	  "--latency", "uniform:1ms:3ms", "--loss", "10", "--down",
	    "5",	"--flap", "20:2s",     "--seed",	  "7",	    NULL};
	static struct fping_row r4[NDEV6], r6[NDEV6];
	unsigned x4 = 0, x6 = 0, g4 = 0, g6 = 0, early = 0;
	char v[64], *t;
	struct fleet f;

	enter_netns();
	fleet_start(&f, NDEV6, extra);
	cr_assert_eq(run_fping("-6", f.devices6, r6, NDEV6), NDEV6);
	/* so far IPv6 only: each kind of drop happened to ICMPv6 echo */
	fleet_dump(&f);
	for (unsigned i = 0; i < NDEV6; i++) {
		x6 += r6[i].xmt;
		g6 += r6[i].rcv;
	}
	cr_expect_eq(truth_total(&f, "requests"), x6);
	cr_expect_eq(truth_total(&f, "replies"), g6);
	cr_expect_eq(truth_total(&f, "drops"), x6 - g6);
	cr_expect_gt(truth_total(&f, "drops_loss"), 0);
	cr_expect_gt(truth_total(&f, "drops_down"), 0);
	cr_expect_gt(truth_total(&f, "drops_flap"), 0);
	cr_assert_eq(run_fping("-4", f.devices, r4, NDEV6), NDEV6);
	fleet_stop(&f);

	t = fleet_truth(&f);
	for (unsigned i = 0; i < NDEV6; i++) {
		char a4[16], a6[48], want[96];

		x4 += r4[i].xmt;
		g4 += r4[i].rcv;
		early += (r4[i].rcv && r4[i].min < 1.0) + (r6[i].rcv && r6[i].min < 1.0);
		truth_dev(t, i, "down", v, sizeof(v));
		if (!strcmp(v, "true"))
			cr_expect_eq(r4[i].rcv + r6[i].rcv, 0, "down device %u answered", i);
		fmt_addr(a4, sizeof(a4), fleet_addr(i));
		fmt_addr6(a6, sizeof(a6), fleet_addr(i));
		snprintf(want, sizeof(want), "\"answers\":[\"%s\",\"%s\"]", a4, a6);
		cr_expect_not_null(strstr(t, want), "truth lacks %s", want);
	}
	free(t);
	cr_expect_eq(truth_total(&f, "requests_v6"), x6);
	cr_expect_eq(truth_total(&f, "requests"), x4 + x6);
	cr_expect_eq(truth_total(&f, "replies_v6"), g6);
	cr_expect_eq(truth_total(&f, "replies"), g4 + g6);
	cr_expect_eq(truth_total(&f, "drops"), x4 + x6 - g4 - g6);
	cr_expect_gt(truth_total(&f, "drops_loss"), 0);
	cr_expect_gt(truth_total(&f, "drops_down"), 0);
	cr_expect_gt(truth_total(&f, "drops_flap"), 0);
	cr_expect_gt(g6, x6 / 2, "only %u of %u ICMPv6 echoes answered", g6, x6);
	cr_expect_eq(early, 0, "%u devices answered faster than 1 ms", early);
	cr_expect_eq(truth_total(&f, "stray"), 0);
}

Test(fleetsim, refuses_a_range_outside_the_benchmark_network)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd), "%s --devices 10 --base 198.19.255.250 2>/dev/null",
		 bin("FLEETSIM_BIN", "bench/fleetsim/fleetsim"));
	st = system(cmd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	snprintf(cmd, sizeof(cmd), "%s --devices 10 --base 192.0.2.1 2>/dev/null",
		 bin("FLEETSIM_BIN", "bench/fleetsim/fleetsim"));
	st = system(cmd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	snprintf(cmd, sizeof(cmd), "%s --devices 10 --family 46 2>/dev/null",
		 bin("FLEETSIM_BIN", "bench/fleetsim/fleetsim"));
	st = system(cmd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
}

/*
 * RTTs are compared with the wire to a fraction of a millisecond: tests running side by side on a
 * 2-core box would each run a fleetsim and a ringprobe and measure CPU contention, so run one at a
 * time.
 */
int main(int argc, char *argv[])
{
	return fleet_run_serially(argc, argv);
}
