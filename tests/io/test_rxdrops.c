/* Replies the kernel drops at a shard's socket are counted (kernel_rx_drops), not only
 * seen as timeouts: a receive buffer shrunk to the kernel's minimum (as test_rcvbuf
 * sets sizes) and a burst of one-shot probes, unpaced, to 127.0.0.0/8 in a private
 * network namespace (root only; skipped otherwise), where the kernel answers every
 * one. Each dropped reply is a timeout and nothing else is, so the two counts are
 * equal (on raw sockets, up to the requests lo also offers them; see below). Raw sockets tell of
 * drops with SO_RXQ_OVFL on the next datagram read; ping sockets never do, and the once-a-second
 * SO_MEMINFO read (engine.c) counts them (and the drops after the last datagram read on raw ones).
 * On both backends, and with single-shot receives; for IPv6 (2001:2::/64, local to lo
 * in the namespace) and for both families at once, where the two sockets' drops are
 * summed. Only 127.0.0.0/8 and 2001:2::/64 in the namespace are ever used. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "io/shard.h"
#include "io_test.h"
#include "ringprobe/conf.h"
#include "ringprobe/result.h"
#include "ringprobe/spsc.h"
#include "support/support.h"

#define MS 1000000ull
#define TARGETS 2000

TestSuite(rxdrops, .timeout = 60);

static const struct rp_siphash_key key = {0x0102030405060708ull, 0x1122334455667788ull};

enum fam { V4, V6, BOTH };

static struct rp_ip target(enum fam fam, uint32_t i)
{
	if (fam == V6 || (fam == BOTH && i % 2))
		return io_test_bench6(0x20000u + i);
	return rp_ip_v4(0x7f020000u + 1 + i);
}

static void burst_of(int backend, int icmp_mode, unsigned mask, enum fam fam)
{
	struct rp_shard_conf sc = {.index = 0,
				   .capacity = TARGETS,
				   .timeout_ns = 500 * MS,
				   .rate_pps = 0, /* unpaced: one burst */
				   .burst = 1,
				   .tick_ns = 5 * MS,
				   .result_ring = 4096,
				   .cmd_ring = 64,
				   .key = key,
				   .backend = backend,
				   .icmp_mode = icmp_mode,
				   .feature_mask = mask,
				   .send_slots = 512,
				   .recv_bufs = 64,
				   .rcvbuf_bytes = 1, /* the kernel's minimum: a few replies */
				   .ident = 0x4444};
	struct rp_probe_result res[256];
	struct rp_shard_stats st;
	struct rp_engine_info info;
	struct rp_shard *s;
	uint64_t results = 0, ok = 0;
	const char *what;
	char why[512];
	double until;
	int rc;

	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets, SO_RCVBUFFORCE, a network namespace)");
	rc = sup_netns_enter(SUP_NETNS_LO_UP, &what);
	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
	if (fam != V4)
		cr_assert_eq(io_test_local6(), 0, "ip -6 route add local 2001:2::/64 dev lo");
	if (icmp_mode == RP_ICMP_DGRAM)
		cr_assert_eq(sup_sysctl_set("/proc/sys/net/ipv4/ping_group_range", "0 2147483647"),
			     0);
	cr_assert_eq(rp_shard_create(&s, &sc, why, sizeof(why)), 0, "%s", why);
	rp_shard_engine_info(s, &info);
	cr_assert_eq(info.backend, backend, "%s", info.why);
	cr_assert_eq(info.icmp_mode, icmp_mode, "%s", info.why);
	for (uint32_t i = 0; i < TARGETS; i++) {
		struct rp_shard_dev d = {.addr = target(fam, i),
					 .id = i,
					 .interval_ms = 1000,
					 .count = 1,
					 .immediate = true};

		cr_assert_eq(rp_shard_add(s, &d), 0);
	}
	cr_assert_eq(rp_shard_start(s), 0);
	until = sup_now() + 20;
	while (results < TARGETS && sup_now() < until) {
		uint32_t n = rp_spsc_pop(rp_shard_results(s), res, 256);

		for (uint32_t i = 0; i < n; i++)
			ok += res[i].success;
		results += n;
		if (!n)
			sup_sleep_ms(5);
	}
	/* Drops after the last datagram read show only in SO_MEMINFO, read once a
	 * second while the shard runs. */
	sup_sleep_ms(1200);
	rp_shard_stop(s);
	rp_shard_stats(s, &st);
	rp_shard_destroy(s);
	cr_log_info("%s%s/%s: sent %llu replies %llu timeouts %llu kernel_rx_drops %llu "
		    "recv_nobufs %llu",
		    fam == V4	? ""
		    : fam == V6 ? "ipv6 "
				: "both ",
		    backend == RP_BACKEND_URING ? "uring" : "mmsg",
		    icmp_mode == RP_ICMP_RAW ? "raw" : "dgram", (unsigned long long)st.probes_sent,
		    (unsigned long long)st.replies, (unsigned long long)st.timeouts,
		    (unsigned long long)st.kernel_rx_drops, (unsigned long long)st.recv_nobufs);
	cr_assert_eq(results, TARGETS);
	cr_expect_eq(st.probes_sent, TARGETS);
	cr_expect_eq(st.replies, ok);
	cr_expect_eq(st.replies + st.timeouts, TARGETS);
	/* The buffer held a few replies of each send round at most: most were dropped. */
	cr_expect_gt(st.kernel_rx_drops, TARGETS / 2);
	/* Every timeout is a reply the kernel dropped, and every drop a timeout: a ping
	 * socket is offered only the replies to its identifier. A raw socket on lo is
	 * also offered each request on its way in; ICMP_FILTER drops those uncounted
	 * while there is room, but kernels that check a full buffer before the filter
	 * (6.18 does: 100 pings, 3 replies queued, 194 drops) count the requests that
	 * came while it was full too: at most one per probe. */
	if (icmp_mode == RP_ICMP_DGRAM) {
		cr_expect_eq(st.timeouts, st.kernel_rx_drops, "timeouts %llu, kernel drops %llu",
			     (unsigned long long)st.timeouts,
			     (unsigned long long)st.kernel_rx_drops);
	} else {
		cr_expect_geq(st.kernel_rx_drops, st.timeouts, "timeouts %llu, kernel drops %llu",
			      (unsigned long long)st.timeouts,
			      (unsigned long long)st.kernel_rx_drops);
		cr_expect_leq(st.kernel_rx_drops, st.timeouts + st.probes_sent,
			      "timeouts %llu, kernel drops %llu", (unsigned long long)st.timeouts,
			      (unsigned long long)st.kernel_rx_drops);
	}
}

static void burst(int backend, int icmp_mode, unsigned mask)
{
	burst_of(backend, icmp_mode, mask, V4);
}

Test(rxdrops, counted_uring_raw_multishot)
{
	burst(RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL);
}

Test(rxdrops, counted_uring_raw_single_shot)
{
	burst(RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL & ~RP_FEAT_RECV_MULTISHOT);
}

Test(rxdrops, counted_mmsg_raw)
{
	burst(RP_BACKEND_MMSG, RP_ICMP_RAW, RP_FEAT_ALL);
}

Test(rxdrops, counted_uring_dgram)
{
	burst(RP_BACKEND_URING, RP_ICMP_DGRAM, RP_FEAT_ALL);
}

Test(rxdrops, counted_mmsg_dgram)
{
	burst(RP_BACKEND_MMSG, RP_ICMP_DGRAM, RP_FEAT_ALL);
}

Test(rxdrops, counted_ipv6_uring_raw_multishot)
{
	burst_of(RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL, V6);
}

Test(rxdrops, counted_ipv6_uring_raw_single_shot)
{
	burst_of(RP_BACKEND_URING, RP_ICMP_RAW, RP_FEAT_ALL & ~RP_FEAT_RECV_MULTISHOT, V6);
}

Test(rxdrops, counted_ipv6_mmsg_raw)
{
	burst_of(RP_BACKEND_MMSG, RP_ICMP_RAW, RP_FEAT_ALL, V6);
}

Test(rxdrops, counted_ipv6_uring_dgram)
{
	burst_of(RP_BACKEND_URING, RP_ICMP_DGRAM, RP_FEAT_ALL, V6);
}

Test(rxdrops, counted_ipv6_mmsg_dgram)
{
	burst_of(RP_BACKEND_MMSG, RP_ICMP_DGRAM, RP_FEAT_ALL, V6);
}

Test(rxdrops, counted_both_families_summed_uring_dgram)
{
	burst_of(RP_BACKEND_URING, RP_ICMP_DGRAM, RP_FEAT_ALL, BOTH);
}

Test(rxdrops, counted_both_families_summed_mmsg_raw)
{
	burst_of(RP_BACKEND_MMSG, RP_ICMP_RAW, RP_FEAT_ALL, BOTH);
}
