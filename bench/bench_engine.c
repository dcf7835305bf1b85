/* Engine round trips: one thread keeps a full window of echo requests to loopback
 * targets in flight and takes the replies, at full speed, for 3 s per backend and
 * feature set (liburing examples/poll-bench.c reports requests/s the same way).
 *
 * Runs inside a private network namespace (unshare(CLONE_NEWNET), lo up) so nothing
 * else's ICMP shares the path; only 127.0.0.0/8 and (the _v6 cases) 2001:2::/64, made
 * local to lo in that namespace, are probed. The _v4only cases open no IPv6 socket:
 * against the plain ones they show what the second socket costs an IPv4 fleet. Needs root
 * (CAP_NET_RAW and CAP_SYS_ADMIN); without it every case prints skipped=needs_root. On loopback the
 * kernel builds each reply inside our send, so cpu_s_per_m includes work a real device would do
 * (DESIGN.md "What was measured").
 *
 * Full-speed cases report the ceiling; the _20k cases run the daemon's load (20K
 * probes/s in 5 ms ticks) and report what it costs in CPU-s per million probes.
 *
 * Usage: bench_engine [seconds [case]]   (default 3 s, every case)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/engine.h"
#include "ringprobe/conf.h"
#include "ringprobe/icmp.h"
#include "ringprobe/log.h"
#include "support/support.h"

#define WINDOW 1024u /* requests in flight: sent and not yet answered */
#define TARGETS 65536u
#define WARMUP_NS 300000000ull

struct bench_case {
	const char *name;
	int backend;
	int icmp_mode;
	unsigned mask;
	uint32_t rate;	   /* probes/s sent in 5 ms ticks; 0 = a full window at full speed */
	bool v6;	   /* targets in 2001:2::/64, else 127.0.0.0/8 */
	unsigned families; /* engine conf families; 0 = both */
};

static const struct bench_case cases[] = {
    {"uring_raw", RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL, 0, false, 0},
    {"uring_dgram", RP_BACKEND_URING, RP_ICMP_DGRAM, RP_FEAT_ALL, 0, false, 0},
    {"uring_raw_single_recv", RP_BACKEND_URING, RP_ICMP_RAW,
     RP_FEAT_ALL & ~(unsigned)RP_FEAT_RECV_MULTISHOT, 0, false, 0},
    {"uring_raw_sendmsg", RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL & ~(unsigned)RP_FEAT_SEND_ADDR,
     0, false, 0},
    {"uring_raw_no_defer", RP_BACKEND_URING, RP_ICMP_RAW,
     RP_FEAT_ALL & ~(unsigned)RP_FEAT_DEFER_TASKRUN, 0, false, 0},
    {"mmsg_raw", RP_BACKEND_MMSG, RP_ICMP_RAW, RP_FEAT_ALL, 0, false, 0},
    {"mmsg_dgram", RP_BACKEND_MMSG, RP_ICMP_DGRAM, RP_FEAT_ALL, 0, false, 0},
    /* The daemon's load: 20K probes/s, everything due sent every 5 ms. */
    {"uring_raw_20k", RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL, 20000, false, 0},
    {"uring_raw_single_recv_20k", RP_BACKEND_URING, RP_ICMP_RAW,
     RP_FEAT_ALL & ~(unsigned)RP_FEAT_RECV_MULTISHOT, 20000, false, 0},
    {"mmsg_raw_20k", RP_BACKEND_MMSG, RP_ICMP_RAW, RP_FEAT_ALL, 20000, false, 0},
    /* IPv4 with no IPv6 socket beside it. */
    {"uring_raw_v4only", RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL, 0, false, RP_FAMILY_V4},
    {"mmsg_raw_v4only", RP_BACKEND_MMSG, RP_ICMP_RAW, RP_FEAT_ALL, 0, false, RP_FAMILY_V4},
    /* ICMPv6 to 2001:2::/64. */
    {"uring_raw_v6", RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL, 0, true, 0},
    {"uring_dgram_v6", RP_BACKEND_URING, RP_ICMP_DGRAM, RP_FEAT_ALL, 0, true, 0},
    {"uring_raw_single_recv_v6", RP_BACKEND_URING, RP_ICMP_RAW,
     RP_FEAT_ALL & ~(unsigned)RP_FEAT_RECV_MULTISHOT, 0, true, 0},
    {"uring_raw_sendmsg_v6", RP_BACKEND_URING, RP_ICMP_RAW,
     RP_FEAT_ALL & ~(unsigned)RP_FEAT_SEND_ADDR, 0, true, 0},
    {"mmsg_raw_v6", RP_BACKEND_MMSG, RP_ICMP_RAW, RP_FEAT_ALL, 0, true, 0},
    {"mmsg_dgram_v6", RP_BACKEND_MMSG, RP_ICMP_DGRAM, RP_FEAT_ALL, 0, true, 0},
    {"uring_raw_20k_v6", RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL, 20000, true, 0},
    {"mmsg_raw_20k_v6", RP_BACKEND_MMSG, RP_ICMP_RAW, RP_FEAT_ALL, 20000, true, 0},
};

#define TICK_NS 5000000ull

static const struct rp_siphash_key key = {0x62656e6368656e67ull, 0x0f1e2d3c4b5a6978ull};

struct counts {
	const struct rp_engine_info *info;
	bool v6;
	uint64_t ok, bad;
};

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* A network namespace of our own, lo up, where any group may open ICMP datagram
 * sockets (the _dgram cases). */
static int netns_enter(void)
{
	int rc = sup_netns_enter(SUP_NETNS_LO_UP, NULL);

	if (!rc)
		rc = sup_sysctl_set("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
	/* The kernel owns every address of 2001:2::/64 here (the _v6 cases). */
	if (!rc && sup_run("ip -6 route add local 2001:2::/64 dev lo", 0, NULL, NULL) != 0)
		rc = -EIO;
	return rc;
}

/* 127.a.b.c, a b c in 1..250. */
static uint32_t target(uint32_t i)
{
	i %= TARGETS;
	return 0x7f000000u | (1 + i / 62500) << 16 | (1 + i / 250 % 250) << 8 | (1 + i % 250);
}

/* 2001:2::i+1 */
static struct rp_ip target6(uint32_t i)
{
	struct rp_ip a = {.w = {0, 0, 0, 0}};

	i = i % TARGETS + 1;
	a.b[0] = 0x20;
	a.b[1] = 0x01;
	a.b[3] = 0x02;
	a.b[13] = (uint8_t)(i >> 16);
	a.b[14] = (uint8_t)(i >> 8);
	a.b[15] = (uint8_t)i;
	return a;
}

static struct rp_ip dst(const struct counts *c, uint32_t i)
{
	return c->v6 ? target6(i) : rp_ip_v4(target(i));
}

static void on_rx(void *arg, const struct rp_rx *rx)
{
	struct counts *c = arg;
	struct rp_probe_stamp st;

	/* The shard's rule: the identifier is checked on raw sockets (the IPv6 ping
	 * socket's is not the IPv4 one's). */
	if (rp_icmp_parse(rx->buf, rx->len, c->info->ip_header, &rx->src,
			  c->info->icmp_mode == RP_ICMP_RAW ? c->info->ident : -1, &key,
			  &st) == RP_REPLY_OK)
		c->ok++;
	else
		c->bad++;
}

/* Keeps WINDOW requests in flight (sent, not yet answered) and polls until `until`
 * (CLOCK_MONOTONIC). A reply that never comes shrinks the window for good, so the
 * caller reports sent - answered as lost. */
static int pump_full(struct rp_engine *e, struct counts *c, uint32_t *seq, uint64_t until)
{
	while (sup_clock_ns(CLOCK_MONOTONIC) < until) {
		uint64_t now = sup_clock_ns(CLOCK_REALTIME);
		void *buf;
		int rc;

		while (*seq - (c->ok + c->bad) < WINDOW && (buf = rp_engine_send_buf(e))) {
			struct rp_probe_stamp st = {
			    .addr = dst(c, *seq), .slot = *seq, .seq = *seq, .sent_ns = now};

			rp_icmp_stamp(buf, &key, &st);
			rp_engine_send_queue(e, buf, RP_ICMP_PKT_LEN, &st.addr);
			++*seq;
		}
		rc = rp_engine_poll(e, 1000000, on_rx, c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Sends rate/200 probes every 5 ms tick and sleeps in the poll until the next tick,
 * like a shard at that load. */
static int pump_paced(struct rp_engine *e, struct counts *c, uint32_t *seq, uint64_t until,
		      uint32_t rate)
{
	uint64_t tick = sup_clock_ns(CLOCK_MONOTONIC), now;
	uint32_t per_tick = (uint32_t)((uint64_t)rate * TICK_NS / 1000000000ull);

	while ((now = sup_clock_ns(CLOCK_MONOTONIC)) < until) {
		int rc;

		if ((int64_t)(now - tick) >= 0) {
			uint64_t real = sup_clock_ns(CLOCK_REALTIME);
			void *buf;

			for (uint32_t i = 0; i < per_tick && (buf = rp_engine_send_buf(e)); i++) {
				struct rp_probe_stamp st = {.addr = dst(c, *seq),
							    .slot = *seq,
							    .seq = *seq,
							    .sent_ns = real};

				rp_icmp_stamp(buf, &key, &st);
				rp_engine_send_queue(e, buf, RP_ICMP_PKT_LEN, &st.addr);
				++*seq;
			}
			tick += TICK_NS;
			now = sup_clock_ns(CLOCK_MONOTONIC);
		}
		rc = rp_engine_poll(e, (int64_t)(tick - now) > 0 ? tick - now : 0, on_rx, c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int pump(struct rp_engine *e, const struct bench_case *bc, struct counts *c, uint32_t *seq,
		uint64_t until)
{
	return bc->rate ? pump_paced(e, c, seq, until, bc->rate) : pump_full(e, c, seq, until);
}

static void run_case(const struct bench_case *bc, double secs)
{
	struct rp_engine_conf conf = {
	    .backend = bc->backend,
	    .icmp_mode = bc->icmp_mode,
	    .feature_mask = bc->mask,
	    .send_slots = WINDOW,
	    .recv_bufs = 4096,
	    .rcvbuf_bytes = 32u << 20,
	    .ident = 0x4265,
	    .families = bc->families,
	};
	struct rp_engine_info info;
	struct rp_engine_stats st;
	struct rp_engine *e;
	struct counts c = {.info = &info, .v6 = bc->v6};
	uint32_t seq = 0;
	uint64_t t0, t1, ok0;
	double c0, c1;
	char why[256];
	int rc;

	rc = rp_engine_create(&e, &conf, why, sizeof(why));
	if (rc) {
		printf("bench=engine case=%s skipped=%s\n", bc->name, strerror(-rc));
		return;
	}
	rp_engine_info(e, &info);
	rc = pump(e, bc, &c, &seq, sup_clock_ns(CLOCK_MONOTONIC) + WARMUP_NS);
	ok0 = c.ok;
	c0 = cpu_s();
	t0 = sup_clock_ns(CLOCK_MONOTONIC);
	if (!rc)
		rc = pump(e, bc, &c, &seq, t0 + (uint64_t)(secs * 1e9));
	t1 = sup_clock_ns(CLOCK_MONOTONIC);
	c1 = cpu_s();
	rp_engine_stats(e, &st);
	if (rc) {
		printf("bench=engine case=%s failed=%s\n", bc->name, strerror(-rc));
	} else {
		double n = (double)(c.ok - ok0), wall = (double)(t1 - t0) / 1e9;

		printf("bench=engine case=%s rtt_per_s=%.0f cpu_s_per_m=%.2f polls=%llu "
		       "nobufs=%llu eagain=%llu bad=%llu lost=%llu\n",
		       bc->name, n / wall, n > 0 ? (c1 - c0) / (n / 1e6) : 0.0,
		       (unsigned long long)st.polls, (unsigned long long)st.recv_nobufs,
		       (unsigned long long)st.send_eagain, (unsigned long long)c.bad,
		       (unsigned long long)(seq - c.ok - c.bad));
	}
	fflush(stdout);
	rp_engine_destroy(e);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3.0;
	const char *only = argc > 2 ? argv[2] : NULL;

	if (secs <= 0)
		secs = 3.0;
	rp_log_setup(RP_LOG_TEXT, RP_LOG_WARN);
	if (geteuid() != 0 || netns_enter() < 0) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			printf("bench=engine case=%s skipped=needs_root\n", cases[i].name);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!only || !strcmp(only, cases[i].name))
			run_case(&cases[i], secs);
	return 0;
}
