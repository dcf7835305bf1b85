/* Shards end to end on loopback, in a private network namespace (root only): every
 * probe matched across threads, and forged replies from a second raw socket counted
 * by kind, never as success. Suite `threads`: it also runs under ThreadSanitizer,
 * where Criterion cannot start (Snaipe/Criterion#274), so the scenarios are plain
 * functions that a TAP main() runs in that build. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../tap_scenarios.h"
#include "io/engine.h"
#include "io/shard.h"
#include "io_test.h"
#include "ringprobe/conf.h"
#include "ringprobe/icmp.h"
#include "ringprobe/prober.h"
#include "ringprobe/spsc.h"

#define FAIL(...) (snprintf(why, whylen, __VA_ARGS__), false)

/* A private network namespace with loopback up; false (with why) without root. */
static bool private_netns(char *why, size_t whylen)
{
	const char *what;
	int rc;

	if (geteuid() != 0)
		return FAIL("needs root (raw sockets and a private network namespace)");
	rc = io_test_netns(&what);
	if (rc < 0)
		return FAIL("%s: %s", what, strerror(-rc));
	return true;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* --- every probe matched across two shard threads -------------------------------- */

#define TARGETS 20000
#define ROUNDS 3

struct tally {
	uint64_t next;
	uint32_t got[TARGETS];
	uint32_t ok[TARGETS];
	uint64_t bad_rtt;
	uint64_t under_100us; /* answered within 100 µs */
	uint64_t timeout_ns;
};

/* Every other target in 2001:2::/64 (local to lo in the test's namespace), the rest
 * on 127/8: both families through the same shards. */
static bool g_mixed;

static bool next_dev(void *arg, struct rp_shard_dev *d)
{
	struct tally *t = arg;

	if (t->next == TARGETS)
		return false;
	*d = (struct rp_shard_dev){.addr = g_mixed && t->next % 2 == 0
					       ? io_test_bench6(0x10000u + (uint32_t)t->next)
					       : rp_ip_v4(0x7f010000u + 1 + (uint32_t)t->next * 3),
				   .id = (uint32_t)t->next,
				   .interval_ms = 300,
				   .count = ROUNDS,
				   .immediate = true};
	t->next++;
	return true;
}

static bool take(void *arg, const struct rp_probe_result *r)
{
	struct tally *t = arg;

	t->got[r->id]++;
	if (r->success) {
		t->ok[r->id]++;
		if (r->rtt_ns == 0 || r->rtt_ns > t->timeout_ns)
			t->bad_rtt++;
		t->under_100us += r->rtt_ns < 100000;
	}
	return t->got[r->id] == ROUNDS;
}

/* `mask` RP_FEAT_ALL: transmit timestamps on (what the shards ask for). */
static bool every_probe_matched(int backend, int mode, unsigned mask, char *why, size_t whylen)
{
	static struct tally t;
	struct rp_prober_conf pc = {.shards = 2,
				    .capacity = TARGETS,
				    .timeout_ns =
					250000000, /* room for a loaded machine (parallel tests) */
				    .rate_pps = 200000,
				    .burst = 2000,
				    .tick_ns = 5000000,
				    .backend = backend,
				    .icmp_mode = mode,
				    .feature_mask = mask};
	struct rp_prober *p;
	struct rp_shard_stats st;
	char err[512];
	bool ok = true;

	memset(&t, 0, sizeof(t));
	t.timeout_ns = pc.timeout_ns;
	if (!private_netns(why, whylen))
		return false;
	if (g_mixed && io_test_local6() != 0)
		return FAIL("ip -6 route add local 2001:2::/64 dev lo failed");
	if (mode == RP_ICMP_DGRAM) {
		FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "w");

		if (!f || fputs("0 2147483647", f) < 0 || fclose(f) != 0)
			return FAIL("cannot open ping_group_range in the namespace");
	}
	if (rp_prober_create(&p, &pc, err, sizeof(err)) < 0)
		return FAIL("rp_prober_create: %s", err);
	if (rp_prober_start(p, NULL, err, sizeof(err)) < 0)
		return FAIL("rp_prober_start: %s", err);
	if (rp_prober_run(p, next_dev, take, NULL, &t) < 0)
		ok = FAIL("results were lost");
	rp_prober_stats(p, &st);
	rp_prober_destroy(p);
	for (unsigned i = 0; ok && i < TARGETS; i++)
		if (t.got[i] != ROUNDS || t.ok[i] != ROUNDS)
			ok = FAIL("target %u: %u results, %u answered", i, t.got[i], t.ok[i]);
	if (ok && t.bad_rtt)
		ok = FAIL("%llu RTTs outside (0, timeout]", (unsigned long long)t.bad_rtt);
	if (ok && (st.probes_sent != TARGETS * ROUNDS || st.replies != TARGETS * ROUNDS ||
		   st.timeouts || st.ring_drops))
		ok = FAIL("stats: sent %llu replies %llu timeouts %llu drops %llu",
			  (unsigned long long)st.probes_sent, (unsigned long long)st.replies,
			  (unsigned long long)st.timeouts, (unsigned long long)st.ring_drops);
	for (int k = 1; ok && k < RP_REPLY_KIND_COUNT; k++)
		if (st.invalid[k])
			ok = FAIL("%llu replies counted %s", (unsigned long long)st.invalid[k],
				  rp_reply_kind_name(k));
	/* With transmit timestamps every rtt starts when loopback took the request, and
	 * loopback answers inside that send: a few microseconds. From the payload's stamp
	 * (read before a batch of up to 2,000 sends) most would be far longer. */
	if (ok && (mask & RP_FEAT_TX_STAMP) &&
	    (st.tx_stamped != st.replies || t.under_100us * 2 < st.replies))
		ok = FAIL("transmit stamps: %llu of %llu replies timed from one, %llu under 100 us",
			  (unsigned long long)st.tx_stamped, (unsigned long long)st.replies,
			  (unsigned long long)t.under_100us);
	if (ok && !(mask & RP_FEAT_TX_STAMP) && st.tx_stamped)
		ok = FAIL("transmit stamps masked off, yet %llu replies timed from one",
			  (unsigned long long)st.tx_stamped);
	return ok;
}

/* --- forged replies ---------------------------------------------------------------- */

static const struct rp_siphash_key test_key = {0x1111222233334444ull, 0x5555666677778888ull};

/* A reply as the device would send it for stamp `st`, with identifier `ident`. */
static void make_reply(unsigned char *icmp, uint16_t ident, const struct rp_probe_stamp *st)
{
	rp_icmp_init(icmp, ident);
	rp_icmp_stamp(icmp, &test_key, st);
	icmp[0] = 0;
	io_test_fix_sum(icmp, RP_ICMP_PKT_LEN);
}

static bool forged_replies_counted_by_kind(int backend, char *why, size_t whylen)
{
	struct rp_shard_conf sc = {.index = 0,
				   .capacity = 16,
				   .timeout_ns = 4000000000ull,
				   .rate_pps = 0,
				   .burst = 1,
				   .tick_ns = 5000000,
				   .result_ring = 1024,
				   .cmd_ring = 64,
				   .key = test_key,
				   .backend = backend,
				   .icmp_mode = RP_ICMP_RAW,
				   .feature_mask = RP_FEAT_ALL,
				   .send_slots = 64,
				   .recv_bufs = 64,
				   .rcvbuf_bytes = 1 << 20,
				   .ident = 0x4242};
	const uint32_t dev = 0x7f000002;
	struct rp_shard_dev d = {
	    .addr = rp_ip_v4(dev), .id = 7, .interval_ms = 60000, .immediate = true};
	struct rp_shard *s;
	struct rp_shard_stats st;
	struct rp_probe_stamp req = {0};
	unsigned char icmp[RP_ICMP_PKT_LEN], buf[512];
	char err[512];
	int cap, out;
	bool ok = true, seen = false;

	if (!private_netns(why, whylen))
		return false;
	cap = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	out = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (cap < 0 || out < 0)
		return FAIL("raw sockets: %s", strerror(errno));
	if (rp_shard_create(&s, &sc, err, sizeof(err)) < 0)
		return FAIL("rp_shard_create: %s", err);
	if (rp_shard_add(s, &d) < 0 || rp_shard_start(s) < 0)
		return FAIL("cannot add the device or start the shard");
	/* The shard's real request, seen on loopback: its payload names slot, gen, seq. */
	for (int tries = 0; tries < 200 && !seen; tries++) {
		ssize_t n = recv(cap, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			sleep_ms(5);
			continue;
		}
		if (n >= 20 + RP_ICMP_PKT_LEN && buf[20] == 8 &&
		    memcmp(buf + 20 + 8, "RPRB", 4) == 0) {
			unsigned char *p = buf + 20;

			p[0] = 0;
			io_test_fix_sum(p, RP_ICMP_PKT_LEN);
			seen = rp_icmp_parse(p, RP_ICMP_PKT_LEN, false, &d.addr, -1, &test_key,
					     &req) == RP_REPLY_OK;
		}
	}
	if (!seen) {
		rp_shard_destroy(s);
		return FAIL("never saw the shard's echo request");
	}
	sleep_ms(30); /* the kernel's genuine reply is in and matched */

	/* 1 forged: our magic, a MAC that does not verify. */
	make_reply(icmp, sc.ident, &req);
	icmp[8 + 32] ^= 1;
	io_test_fix_sum(icmp, sizeof(icmp));
	ok = ok && io_test_send_from(out, dev, icmp, sizeof(icmp));
	/* 2 wrong source: a valid reply, from another address. */
	make_reply(icmp, sc.ident, &req);
	ok = ok && io_test_send_from(out, dev + 1, icmp, sizeof(icmp));
	/* 3 stale generation: valid MAC for a generation the slot no longer has. */
	{
		struct rp_probe_stamp old = req;

		old.gen += 1;
		make_reply(icmp, sc.ident, &old);
		ok = ok && io_test_send_from(out, dev, icmp, sizeof(icmp));
	}
	/* 4 truncated: our identifier and magic, cut short. */
	make_reply(icmp, sc.ident, &req);
	io_test_fix_sum(icmp, 20);
	ok = ok && io_test_send_from(out, dev, icmp, 20);
	/* 5 foreign: our identifier, someone else's payload. */
	make_reply(icmp, sc.ident, &req);
	memcpy(icmp + 8, "XXXX", 4);
	io_test_fix_sum(icmp, sizeof(icmp));
	ok = ok && io_test_send_from(out, dev, icmp, sizeof(icmp));
	/* 6 corrupted: a flipped bit the checksum catches. */
	make_reply(icmp, sc.ident, &req);
	icmp[8 + 20] ^= 0x40;
	ok = ok && io_test_send_from(out, dev, icmp, sizeof(icmp));
	/* 7 duplicate: a second copy of the genuine reply. */
	make_reply(icmp, sc.ident, &req);
	ok = ok && io_test_send_from(out, dev, icmp, sizeof(icmp));
	/* 8 another identifier: the kernel's BPF filter drops it before us. */
	make_reply(icmp, sc.ident + 1, &req);
	ok = ok && io_test_send_from(out, dev, icmp, sizeof(icmp));
	if (!ok) {
		rp_shard_destroy(s);
		return FAIL("sending forged replies: %s", strerror(errno));
	}
	sleep_ms(100);
	rp_shard_stats(s, &st);
	rp_shard_destroy(s);
	close(cap);
	close(out);
	if (st.replies != 1 || st.probes_sent != 1)
		return FAIL("sent %llu, valid replies %llu (want 1 and 1)",
			    (unsigned long long)st.probes_sent, (unsigned long long)st.replies);
	{
		static const int want[RP_REPLY_KIND_COUNT] = {
		    [RP_REPLY_FORGED] = 1,    [RP_REPLY_WRONG_SOURCE] = 1, [RP_REPLY_STALE] = 1,
		    [RP_REPLY_TRUNCATED] = 1, [RP_REPLY_FOREIGN] = 1,	   [RP_REPLY_CORRUPTED] = 1,
		    [RP_REPLY_DUPLICATE] = 1,
		};

		for (int k = 1; k < RP_REPLY_KIND_COUNT; k++)
			if (st.invalid[k] != (uint64_t)want[k])
				return FAIL("%s: counted %llu, want %d", rp_reply_kind_name(k),
					    (unsigned long long)st.invalid[k], want[k]);
	}
	return true;
}

/* --- the daemon's bounded backlog ------------------------------------------------- */

#define BL_CAP 1000    /* devices a shard may hold */
#define BL_BACKLOG 600 /* commands that may wait */
#define BL_RING 64     /* the shard's command ring (its smallest) */
#define BL_ADDR(i) (&(struct rp_ip[]){rp_ip_v4(0x7f050000u + 1 + (uint32_t)(i))}[0])

static bool backlog_conf_ring(struct rp_prober **p, uint32_t capacity, uint32_t backlog,
			      uint32_t ring, char *why, size_t whylen)
{
	struct rp_prober_conf pc = {.shards = 1,
				    .capacity = capacity,
				    .timeout_ns = 100000000,
				    .tick_ns = 5000000,
				    .backend = RP_BACKEND_URING,
				    .icmp_mode = RP_ICMP_RAW,
				    .feature_mask = RP_FEAT_ALL,
				    .cmd_ring = ring,
				    .backlog = backlog};
	char err[512];

	if (!private_netns(why, whylen))
		return false;
	if (rp_prober_create(p, &pc, err, sizeof(err)) < 0)
		return FAIL("rp_prober_create: %s", err);
	return true;
}

static bool backlog_conf(struct rp_prober **p, uint32_t capacity, uint32_t backlog, char *why,
			 size_t whylen)
{
	return backlog_conf_ring(p, capacity, backlog, BL_RING, why, whylen);
}

/* Runs the shard and hands it the backlog until nothing waits and it holds `want`
 * devices (results popped meanwhile); false after 10 s. */
static bool settle(struct rp_prober *p, uint64_t want, struct rp_shard_stats *st)
{
	struct rp_probe_result res[256];

	for (int i = 0; i < 2000; i++) {
		rp_prober_drain(p);
		while (rp_prober_poll(p, res, 256) > 0)
			;
		rp_prober_stats(p, st);
		if (rp_prober_queued(p) == 0 && st->devices == want)
			return true;
		sleep_ms(5);
	}
	return false;
}

/* The shard is not started, so nothing leaves its ring: the first BL_RING adds go
 * straight into it, the rest wait in the backlog until it holds BL_BACKLOG entries
 * counting one kept for each device's remove. Then adds, re-adds and one-shot probes
 * are refused and counted, every remove still fits, and once the shard runs the
 * commands land in order: each remove after its add. */
static bool backlog_bounded_in_order(char *why, size_t whylen)
{
	struct rp_prober *p;
	struct rp_shard_stats st;
	uint32_t n = 0, removed;
	char err[512];
	bool ok = true;

	if (!backlog_conf(&p, BL_CAP, BL_BACKLOG, why, whylen))
		return false;
	while (rp_prober_queue_add(p, BL_ADDR(n), n, 60000) == 0)
		n++;
	/* BL_RING sent; k waiting where k + (BL_RING + k) <= BL_BACKLOG. */
	if (n != BL_RING + (BL_BACKLOG - BL_RING) / 2)
		ok = FAIL("%u adds accepted, want %u", n, BL_RING + (BL_BACKLOG - BL_RING) / 2);
	if (ok && rp_prober_queued(p) != n - BL_RING)
		ok = FAIL("%llu waiting, want %u", (unsigned long long)rp_prober_queued(p),
			  n - BL_RING);
	if (ok && rp_prober_queue_add(p, BL_ADDR(n), n, 60000) != -ENOBUFS)
		ok = FAIL("an add into a full backlog was not refused with -ENOBUFS");
	if (ok && rp_prober_queue_readd(p, BL_ADDR(0), 0, 1000) != -ENOBUFS)
		ok = FAIL("a re-add into a full backlog was not refused");
	if (ok && rp_prober_queue_once(p, BL_ADDR(n + 1), 1) != -ENOBUFS)
		ok = FAIL("a one-shot probe into a full backlog was not refused");
	rp_prober_stats(p, &st);
	if (ok && st.cmd_refused != 4) /* the loop's last add and these three */
		ok = FAIL("cmd_refused %llu, want 4", (unsigned long long)st.cmd_refused);
	/* Half the devices go: the first ones (in the ring) and some that wait. */
	removed = n / 2;
	for (uint32_t i = 0; i < removed; i++)
		rp_prober_queue_remove(p, BL_ADDR(i));
	rp_prober_queue_timeout(p, 200000000);
	rp_prober_stats(p, &st);
	if (ok && st.cmd_refused != 4)
		ok = FAIL("removes were refused: cmd_refused %llu",
			  (unsigned long long)st.cmd_refused);
	if (ok && rp_prober_queued(p) != n - BL_RING + removed + 1)
		ok = FAIL("%llu waiting, want %u (adds, removes, the timeout)",
			  (unsigned long long)rp_prober_queued(p), n - BL_RING + removed + 1);
	if (!ok) {
		rp_prober_destroy(p);
		return false;
	}
	if (rp_prober_start(p, NULL, err, sizeof(err)) < 0) {
		rp_prober_destroy(p);
		return FAIL("rp_prober_start: %s", err);
	}
	/* In order, exactly the removed half is gone; a remove that overtook its add
	 * would have left its device behind. */
	if (!settle(p, n - removed, &st))
		ok = FAIL("the shard holds %llu devices with %llu waiting, want %u and 0",
			  (unsigned long long)st.devices, (unsigned long long)rp_prober_queued(p),
			  n - removed);
	/* Drained, the backlog takes adds again: the removed addresses come back, past
	 * the ring's room. The shard then empties its ring while the rest waits here, so
	 * the ring has room when the last half of them is removed again: those removes
	 * must still wait behind their adds, not overtake them. */
	for (uint32_t i = 0; ok && i < removed; i++)
		if (rp_prober_queue_add(p, BL_ADDR(i), i, 60000) != 0)
			ok = FAIL("add %u refused after the backlog drained", i);
	sleep_ms(50);
	for (uint32_t i = removed - removed / 2; ok && i < removed; i++)
		rp_prober_queue_remove(p, BL_ADDR(i));
	if (ok && !settle(p, n - removed / 2, &st))
		ok = FAIL("the shard holds %llu devices, want %u", (unsigned long long)st.devices,
			  n - removed / 2);
	if (ok && (st.cmd_refused != 4 || st.cmd_rejected != 0))
		ok = FAIL("cmd_refused %llu (want 4), cmd_rejected %llu (want 0)",
			  (unsigned long long)st.cmd_refused, (unsigned long long)st.cmd_rejected);
	rp_prober_destroy(p);
	return ok;
}

/* A shard holding `capacity` devices and probes refuses more with -ENOSPC (counted),
 * without waiting for the backlog; a remove or a finished probe makes room. */
static bool backlog_refuses_past_capacity(char *why, size_t whylen)
{
	struct rp_prober *p;
	struct rp_shard_stats st;
	bool ok = true;

	if (!backlog_conf(&p, 10, 1000, why, whylen))
		return false;
	for (uint32_t i = 0; ok && i < 9; i++)
		if (rp_prober_queue_add(p, BL_ADDR(i), i, 60000) != 0)
			ok = FAIL("add %u refused below capacity", i);
	if (ok && rp_prober_queue_once(p, BL_ADDR(100), 100) != 0)
		ok = FAIL("the tenth (a one-shot probe) was refused");
	if (ok && rp_prober_queue_add(p, BL_ADDR(9), 9, 60000) != -ENOSPC)
		ok = FAIL("an eleventh was not refused with -ENOSPC");
	if (ok && rp_prober_queue_once(p, BL_ADDR(101), 101) != -ENOSPC)
		ok = FAIL("a one-shot probe past capacity was not refused");
	rp_prober_finished(p, BL_ADDR(100));
	if (ok && rp_prober_queue_add(p, BL_ADDR(9), 9, 60000) != 0)
		ok = FAIL("no room after a probe finished");
	rp_prober_queue_remove(p, BL_ADDR(0));
	if (ok && rp_prober_queue_add(p, BL_ADDR(10), 10, 60000) != 0)
		ok = FAIL("no room after a remove");
	rp_prober_stats(p, &st);
	if (ok && st.cmd_refused != 2)
		ok = FAIL("cmd_refused %llu, want 2", (unsigned long long)st.cmd_refused);
	rp_prober_destroy(p);
	return ok;
}

/* RSS means nothing under TSan: its shadow of the pages stays resident. */
#ifdef RP_UNDER_TSAN
#define CHECK_RSS 0
#else
#define CHECK_RSS 1
#endif

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* A burst that fills the backlog (a large static list at start) costs its memory only
 * while it waits: once drained, the backlog gives its pages back. One address added and
 * removed 60,000 times writes 120,000 entries (2.9 MB) while the shard holds at most
 * one device, so the shard's own memory does not grow meanwhile. Under TSan the
 * sanitizer's shadow of those pages stays resident, so only the order and the reuse
 * after the release are checked there, not RSS. */
static bool backlog_gives_back_its_pages(char *why, size_t whylen)
{
	enum { PAIRS = 60000 };
	struct rp_prober *p;
	struct rp_shard_stats st;
	long before, full, drained;
	char err[512];
	bool ok = true;

	if (!backlog_conf_ring(&p, 1000, 2 * PAIRS + 2, 4096, why, whylen))
		return false;
	if (rp_prober_start(p, NULL, err, sizeof(err)) < 0) {
		rp_prober_destroy(p);
		return FAIL("rp_prober_start: %s", err);
	}
	sleep_ms(50);
	before = rss_kb();
	for (uint32_t i = 0; ok && i < PAIRS; i++) {
		if (rp_prober_queue_add(p, BL_ADDR(0), 0, 60000) != 0)
			ok = FAIL("add %u refused", i);
		rp_prober_queue_remove(p, BL_ADDR(0));
	}
	full = rss_kb();
	if (CHECK_RSS && ok && full - before < 2 * 1024)
		ok = FAIL("the backlog grew RSS by %ld kB only (%llu waiting)", full - before,
			  (unsigned long long)rp_prober_queued(p));
	if (ok && !settle(p, 0, &st))
		ok = FAIL("the shard holds %llu devices with %llu waiting, want 0 and 0",
			  (unsigned long long)st.devices, (unsigned long long)rp_prober_queued(p));
	drained = rss_kb();
	if (CHECK_RSS && ok && drained - before > 1024)
		ok = FAIL("RSS %ld kB before, %ld full, %ld drained: the pages were kept", before,
			  full, drained);
	/* The backlog still works from its start. */
	if (ok && rp_prober_queue_add(p, BL_ADDR(1), 1, 60000) != 0)
		ok = FAIL("an add after the release was refused");
	if (ok && !settle(p, 1, &st))
		ok = FAIL("the shard holds %llu devices, want 1", (unsigned long long)st.devices);
	rp_prober_destroy(p);
	return ok;
}

static bool matched_uring_raw(char *w, size_t l)
{
	return every_probe_matched(RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL, w, l);
}
static bool matched_uring_dgram(char *w, size_t l)
{
	return every_probe_matched(RP_BACKEND_URING, RP_ICMP_DGRAM, RP_FEAT_ALL, w, l);
}
static bool matched_mmsg_raw(char *w, size_t l)
{
	return every_probe_matched(RP_BACKEND_MMSG, RP_ICMP_RAW, RP_FEAT_ALL, w, l);
}
static bool matched_mmsg_dgram(char *w, size_t l)
{
	return every_probe_matched(RP_BACKEND_MMSG, RP_ICMP_DGRAM, RP_FEAT_ALL, w, l);
}
static bool matched_uring_raw_no_txstamp(char *w, size_t l)
{
	return every_probe_matched(RP_BACKEND_URING, RP_ICMP_RAW,
				   RP_FEAT_ALL & ~(unsigned)RP_FEAT_TX_STAMP, w, l);
}
static bool matched_mmsg_dgram_no_txstamp(char *w, size_t l)
{
	return every_probe_matched(RP_BACKEND_MMSG, RP_ICMP_DGRAM,
				   RP_FEAT_ALL & ~(unsigned)RP_FEAT_TX_STAMP, w, l);
}
static bool matched_uring_raw_both_families(char *w, size_t l)
{
	g_mixed = true;
	return every_probe_matched(RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL, w, l);
}
static bool matched_mmsg_dgram_both_families(char *w, size_t l)
{
	g_mixed = true;
	return every_probe_matched(RP_BACKEND_MMSG, RP_ICMP_DGRAM, RP_FEAT_ALL, w, l);
}
static bool forged_uring(char *w, size_t l)
{
	return forged_replies_counted_by_kind(RP_BACKEND_URING, w, l);
}
static bool forged_mmsg(char *w, size_t l)
{
	return forged_replies_counted_by_kind(RP_BACKEND_MMSG, w, l);
}

/* --- per-device snapshots while the shards probe ----------------------------------- */

#define PD_DEVS 2000

/* Two shards probe 2,000 loopback devices every 100 ms with per-device counters while
 * this thread takes snapshot after snapshot (the hand-off TSan checks in that build):
 * each holds every device once, its buckets sum to its replies, replies never exceed
 * requests, and no counter goes backwards from one snapshot to the next. */
static bool per_device_snapshots(char *why, size_t whylen)
{
	static uint64_t last_sent[PD_DEVS], last_count[PD_DEVS];
	static const double bounds[] = {0.0001, 0.001, 0.01};
	struct rp_prober_conf pc = {.shards = 2,
				    .capacity = PD_DEVS,
				    .timeout_ns = 90000000,
				    .rate_pps = 100000,
				    .burst = 2000,
				    .tick_ns = 5000000,
				    .feature_mask = RP_FEAT_ALL,
				    .per_device = true,
				    .pacc_nbounds = 3,
				    .pacc_bounds = bounds};
	struct rp_probe_result res[256];
	struct rp_prober *p;
	char err[512];
	bool ok = true;
	int snaps = 0;

	memset(last_sent, 0, sizeof(last_sent));
	memset(last_count, 0, sizeof(last_count));
	if (!private_netns(why, whylen))
		return false;
	if (rp_prober_create(&p, &pc, err, sizeof(err)) < 0)
		return FAIL("rp_prober_create: %s", err);
	if (rp_prober_start(p, NULL, err, sizeof(err)) < 0)
		return FAIL("rp_prober_start: %s", err);
	for (uint32_t i = 0; i < PD_DEVS; i++)
		if (!rp_prober_offer(p, &(struct rp_shard_dev){.addr = rp_ip_v4(0x7f050000u + i),
							       .id = i,
							       .interval_ms = 100,
							       .immediate = true}))
			ok = FAIL("offer %u refused", i);
	/* Every add taken first (the shards take commands within a budget per loop). */
	for (int i = 0; ok && i < 1000; i++) {
		struct rp_shard_stats st;

		rp_prober_stats(p, &st);
		if (st.devices == PD_DEVS)
			break;
		while (rp_prober_poll(p, res, 256) > 0)
			;
		sleep_ms(10);
	}
	for (int round = 0; ok && round < 40; round++) {
		struct rp_pacc_view v;
		uint64_t devices = 0;

		while (rp_prober_poll(p, res, 256) > 0)
			;
		sleep_ms(20);
		if (rp_prober_pacc_snapshot(p, 2000000000ull, &v) != 0 || v.missing)
			return FAIL("snapshot %d: %u shards missing", round, v.missing);
		snaps++;
		for (unsigned sh = 0; ok && sh < v.nshards; sh++)
			for (uint32_t k = 0; ok && k < v.n[sh]; k++) {
				const struct rp_pacc_rec *r = rp_pacc_view_rec(&v, sh, k);
				uint64_t sum = 0;
				uint32_t i = r->id;
				struct rp_ip want = rp_ip_v4(0x7f050000u + i);

				devices++;
				for (uint32_t b = 0; b <= v.nbounds; b++)
					sum += r->v[RP_PACC_BUCKETS + b];
				if (i >= PD_DEVS) {
					ok = FAIL("record with id %u", i);
					break;
				}
				if (!rp_ip_eq(&r->addr, &want))
					ok = FAIL("device %u: another address in its record", i);
				else if (sum != r->v[RP_PACC_COUNT])
					ok = FAIL("device %u: buckets sum to %llu, count %llu", i,
						  (unsigned long long)sum,
						  (unsigned long long)r->v[RP_PACC_COUNT]);
				else if (r->v[RP_PACC_COUNT] > r->v[RP_PACC_SENT])
					ok = FAIL("device %u: %llu replies to %llu requests", i,
						  (unsigned long long)r->v[RP_PACC_COUNT],
						  (unsigned long long)r->v[RP_PACC_SENT]);
				else if (r->v[RP_PACC_SENT] < last_sent[i] ||
					 r->v[RP_PACC_COUNT] < last_count[i])
					ok = FAIL("device %u went backwards", i);
				last_sent[i] = r->v[RP_PACC_SENT];
				last_count[i] = r->v[RP_PACC_COUNT];
			}
		if (ok && devices != PD_DEVS)
			ok = FAIL("snapshot %d holds %llu devices", round,
				  (unsigned long long)devices);
	}
	rp_prober_destroy(p);
	for (uint32_t i = 0; ok && i < PD_DEVS; i++)
		if (last_sent[i] < 5 || last_count[i] < 5)
			ok = FAIL("device %u: %llu requests, %llu replies over %d snapshots", i,
				  (unsigned long long)last_sent[i],
				  (unsigned long long)last_count[i], snaps);
	return ok;
}

static const struct rp_tap_scenario scenarios[] = {
    {"prober::every_probe_matched_uring_raw", matched_uring_raw},
    {"prober::every_probe_matched_uring_dgram", matched_uring_dgram},
    {"prober::every_probe_matched_mmsg_raw", matched_mmsg_raw},
    {"prober::every_probe_matched_mmsg_dgram", matched_mmsg_dgram},
    {"prober::forged_replies_counted_by_kind_uring", forged_uring},
    {"prober::forged_replies_counted_by_kind_mmsg", forged_mmsg},
    {"prober::every_probe_matched_uring_raw_without_transmit_stamps", matched_uring_raw_no_txstamp},
    {"prober::every_probe_matched_mmsg_dgram_without_transmit_stamps",
     matched_mmsg_dgram_no_txstamp},
    {"prober::backlog_is_bounded_refuses_and_counts_and_keeps_order", backlog_bounded_in_order},
    {"prober::backlog_refuses_past_the_shard_capacity", backlog_refuses_past_capacity},
    {"prober::every_probe_matched_uring_raw_both_families", matched_uring_raw_both_families},
    {"prober::every_probe_matched_mmsg_dgram_both_families", matched_mmsg_dgram_both_families},
    {"prober::backlog_gives_back_its_pages_once_drained", backlog_gives_back_its_pages},
    {"prober::per_device_snapshots_while_probing", per_device_snapshots},
};

#ifndef RP_UNDER_TSAN
#include <criterion/criterion.h>

static void run_scenario(size_t i)
{
	char why[512] = "";

	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets and a private network namespace)");
	cr_assert(scenarios[i].fn(why, sizeof(why)), "%s", why);
}

Test(prober, every_probe_matched_uring_raw, .timeout = 60)
{
	run_scenario(0);
}
Test(prober, every_probe_matched_uring_dgram, .timeout = 60)
{
	run_scenario(1);
}
Test(prober, every_probe_matched_mmsg_raw, .timeout = 60)
{
	run_scenario(2);
}
Test(prober, every_probe_matched_mmsg_dgram, .timeout = 60)
{
	run_scenario(3);
}
Test(prober, forged_replies_counted_by_kind_uring, .timeout = 60)
{
	run_scenario(4);
}
Test(prober, forged_replies_counted_by_kind_mmsg, .timeout = 60)
{
	run_scenario(5);
}
Test(prober, every_probe_matched_uring_raw_without_transmit_stamps, .timeout = 60)
{
	run_scenario(6);
}
Test(prober, every_probe_matched_mmsg_dgram_without_transmit_stamps, .timeout = 60)
{
	run_scenario(7);
}
Test(prober, backlog_is_bounded_refuses_and_counts_and_keeps_order, .timeout = 60)
{
	run_scenario(8);
}
Test(prober, backlog_refuses_past_the_shard_capacity, .timeout = 60)
{
	run_scenario(9);
}
Test(prober, every_probe_matched_uring_raw_both_families, .timeout = 60)
{
	run_scenario(10);
}
Test(prober, every_probe_matched_mmsg_dgram_both_families, .timeout = 60)
{
	run_scenario(11);
}
Test(prober, backlog_gives_back_its_pages_once_drained, .timeout = 60)
{
	run_scenario(12);
}
Test(prober, per_device_snapshots_while_probing, .timeout = 60)
{
	run_scenario(13);
}
#else

/* Replaces Criterion's main under TSan: each scenario in its own child (each takes a
 * network namespace of its own), TAP on stdout, skips marked as such. */
int main(void)
{
	return rp_tap_run(scenarios, sizeof(scenarios) / sizeof(scenarios[0]), true);
}
#endif
