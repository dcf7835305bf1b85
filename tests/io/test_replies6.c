/* How a shard classifies ICMPv6 replies that are not simply "the answer, in time":
 * forged, from the wrong source, for a stale slot generation, truncated, foreign,
 * duplicated, with another identifier; on raw and datagram sockets, on both backends.
 *
 * Each test runs in its own network namespace (root only; skipped otherwise) where
 * 2001:2::/64 is local to lo and net.ipv6.icmp.echo_ignore_all=1, so the kernel
 * answers nothing: the test reads the shard's echo request from a raw ICMPv6 socket
 * and answers it itself, by hand, from raw ICMPv6 sockets bound to the device's
 * address or to another one of the /64 (net.ipv6.ip_nonlocal_bind=1 in the namespace
 * lets them bind; the kernel fills the ICMPv6 checksum). Only 2001:2::/64 and
 * whatever source the kernel gives the requests on lo are ever used. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/shard.h"
#include "io_test.h"
#include "ringprobe/conf.h"
#include "ringprobe/icmp.h"
#include "ringprobe/spsc.h"

#define MS 1000000ull

static const struct rp_siphash_key key = {0x0102030405060708ull, 0x1112131415161718ull};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void sysctl_set(const char *path, const char *value)
{
	int rc = sup_sysctl_set(path, value);

	cr_assert_eq(rc, 0, "%s = %s: %s", path, value, strerror(-rc));
}

struct rig {
	struct rp_shard *s;
	struct rp_engine_info info;
	int cap;     /* sees the shard's echo requests */
	int from[2]; /* bound to the device's address, and to another one */
};

static int raw6_bound(const struct rp_ip *a)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
	int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);

	cr_assert_geq(fd, 0, "raw ICMPv6 socket: %s", strerror(errno));
	memcpy(&sa.sin6_addr, a->b, 16);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s", strerror(errno));
	return fd;
}

static void rig_start(struct rig *r, int backend, int icmp_mode, const struct rp_shard_dev *d)
{
	struct rp_shard_conf sc = {.index = 0,
				   .capacity = 16,
				   .timeout_ns = 4000 * MS,
				   .burst = 1,
				   .tick_ns = 5 * MS,
				   .result_ring = 1024,
				   .cmd_ring = 64,
				   .key = key,
				   .backend = backend,
				   .icmp_mode = icmp_mode,
				   .feature_mask = RP_FEAT_ALL,
				   .send_slots = 64,
				   .recv_bufs = 64,
				   .rcvbuf_bytes = 1 << 20,
				   .ident = 0x4646};
	struct rp_ip other = io_test_bench6(6);
	struct icmp6_filter f;
	const char *what;
	char why[512];
	int rc;

	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets and a private network namespace)");
	rc = io_test_netns(&what);
	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
	cr_assert_eq(io_test_local6(), 0, "ip -6 route add local 2001:2::/64 dev lo");
	sysctl_set("/proc/sys/net/ipv6/icmp/echo_ignore_all", "1");
	sysctl_set("/proc/sys/net/ipv6/ip_nonlocal_bind", "1");
	sysctl_set("/proc/sys/net/ipv4/ping_group_range",
		   icmp_mode == RP_ICMP_DGRAM ? "0 2147483647" : "1 0");
	r->cap = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	cr_assert_geq(r->cap, 0);
	ICMP6_FILTER_SETBLOCKALL(&f);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REQUEST, &f);
	cr_assert_eq(setsockopt(r->cap, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)), 0);
	r->from[0] = raw6_bound(&d->addr);
	r->from[1] = raw6_bound(&other);
	cr_assert_eq(rp_shard_create(&r->s, &sc, why, sizeof(why)), 0, "%s", why);
	rp_shard_engine_info(r->s, &r->info);
	cr_assert_eq(r->info.icmp_mode, icmp_mode, "%s", r->info.why);
	cr_assert_eq(r->info.backend, backend, "%s", r->info.why);
	cr_assert_eq(r->info.families, RP_FAMILY_BOTH, "%s", r->info.why);
	cr_assert_eq(rp_shard_add(r->s, d), 0);
	cr_assert_eq(rp_shard_start(r->s), 0);
}

/* A request the shard sent, turned into the reply the device would send back, and
 * where it came from. */
struct req {
	unsigned char reply[RP_ICMP_PKT_LEN];
	struct rp_probe_stamp st;
	struct sockaddr_in6 to; /* the request's source: where replies go */
	uint16_t ident;		/* on the wire (a ping socket's is the kernel's choice) */
};

static void next_request(struct rig *r, const struct rp_ip *dev, struct req *q)
{
	unsigned char buf[512];

	for (int tries = 0; tries < 400; tries++) {
		socklen_t tolen = sizeof(q->to);
		ssize_t n = recvfrom(r->cap, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&q->to, &tolen);

		if (n < 0) {
			sleep_ms(5);
			continue;
		}
		if (n < RP_ICMP_PKT_LEN || buf[0] != ICMP6_ECHO_REQUEST ||
		    memcmp(buf + 8, "RPRB", 4) != 0)
			continue;
		memcpy(q->reply, buf, RP_ICMP_PKT_LEN);
		q->reply[0] = ICMP6_ECHO_REPLY;
		q->ident = (uint16_t)(q->reply[4] << 8 | q->reply[5]);
		cr_assert_eq(rp_icmp_parse(q->reply, RP_ICMP_PKT_LEN, false, dev, -1, &key, &q->st),
			     RP_REPLY_OK, "the request's payload does not verify");
		return;
	}
	cr_assert_fail("no ICMPv6 echo request within 2 s");
}

/* Sends icmp[len] from socket `fd` (the kernel fills the checksum) to the requester. */
static void send6(int fd, const struct req *q, const unsigned char *icmp, size_t len)
{
	cr_assert_eq(sendto(fd, icmp, len, 0, (const struct sockaddr *)&q->to, sizeof(q->to)),
		     (ssize_t)len, "sendto: %s", strerror(errno));
}

static void forged6(int backend, int icmp_mode)
{
	const struct rp_ip dev = io_test_bench6(5);
	struct rp_shard_dev d = {.addr = dev, .id = 7, .interval_ms = 60000, .immediate = true};
	/* The corrupted copy of the v4 tests has no counterpart: our raw sender cannot
	 * send a bad ICMPv6 checksum, and the kernel checks it before any socket of
	 * either kind hands the datagram out. */
	const uint64_t want[RP_REPLY_KIND_COUNT] = {
	    [RP_REPLY_FORGED] = 1,    [RP_REPLY_WRONG_SOURCE] = 1, [RP_REPLY_STALE] = 1,
	    [RP_REPLY_TRUNCATED] = 1, [RP_REPLY_FOREIGN] = 1,	   [RP_REPLY_DUPLICATE] = 1,
	};
	unsigned char icmp[RP_ICMP_PKT_LEN];
	struct rp_shard_stats st;
	struct rp_probe_result res[4];
	struct req q;
	struct rig r;

	rig_start(&r, backend, icmp_mode, &d);
	next_request(&r, &dev, &q);
	cr_log_info("request from %s side, wire ident %u; %s",
		    icmp_mode == RP_ICMP_RAW ? "raw" : "dgram", q.ident, r.info.why);
	if (icmp_mode == RP_ICMP_RAW)
		cr_assert_eq(q.ident, 0x4646, "raw ICMPv6 carries the configured identifier");
	/* 0 genuine */
	send6(r.from[0], &q, q.reply, sizeof(q.reply));
	sleep_ms(30);
	rp_shard_stats(r.s, &st);
	cr_assert_eq(st.replies, 1, "the genuine reply came through");
	/* 1 forged: a MAC that does not verify */
	memcpy(icmp, q.reply, sizeof(icmp));
	icmp[8 + 32] ^= 1;
	send6(r.from[0], &q, icmp, sizeof(icmp));
	/* 2 wrong source: the genuine reply from another address of the /64 */
	send6(r.from[1], &q, q.reply, sizeof(q.reply));
	/* 3 stale generation, with a MAC that verifies for it */
	{
		struct rp_probe_stamp old = q.st;

		old.gen += 1;
		rp_icmp_init(icmp, q.ident);
		rp_icmp_stamp(icmp, &key, &old);
		icmp[0] = ICMP6_ECHO_REPLY;
		send6(r.from[0], &q, icmp, sizeof(icmp));
	}
	/* 4 truncated */
	send6(r.from[0], &q, q.reply, 20);
	/* 5 foreign: our identifier, no magic */
	memcpy(icmp, q.reply, sizeof(icmp));
	memcpy(icmp + 8, "XXXX", 4);
	send6(r.from[0], &q, icmp, sizeof(icmp));
	/* 6 duplicate of the genuine reply */
	send6(r.from[0], &q, q.reply, sizeof(q.reply));
	/* 7 another identifier: the BPF filter (raw) or the kernel's demultiplexing by
	 * identifier (dgram) keeps it from us */
	memcpy(icmp, q.reply, sizeof(icmp));
	icmp[5] ^= 1;
	send6(r.from[0], &q, icmp, sizeof(icmp));
	/* 8 not an echo reply (the request itself, echoed back): ICMP6_FILTER (raw) */
	memcpy(icmp, q.reply, sizeof(icmp));
	icmp[0] = ICMP6_ECHO_REQUEST;
	send6(r.from[0], &q, icmp, sizeof(icmp));
	sleep_ms(100);
	rp_shard_stop(r.s);
	rp_shard_stats(r.s, &st);
	close(r.cap);
	close(r.from[0]);
	close(r.from[1]);
	cr_expect_eq(st.probes_sent, 1);
	cr_expect_eq(st.replies, 1, "only the genuine reply");
	cr_expect_eq(st.timeouts, 0);
	cr_expect_eq(st.send_errors, 0);
	for (int k = 1; k < RP_REPLY_KIND_COUNT; k++)
		cr_expect_eq(st.invalid[k], want[k], "%s: counted %llu, want %llu",
			     rp_reply_kind_name(k), (unsigned long long)st.invalid[k],
			     (unsigned long long)want[k]);
	cr_assert_eq(rp_spsc_pop(rp_shard_results(r.s), res, 4), 1);
	cr_expect(res[0].success);
	cr_expect(rp_ip_eq(&res[0].addr, &dev));
	rp_shard_destroy(r.s);
}

TestSuite(replies6, .timeout = 60);

Test(replies6, forged_counted_by_kind_uring_raw)
{
	forged6(RP_BACKEND_URING, RP_ICMP_RAW);
}

Test(replies6, forged_counted_by_kind_uring_dgram)
{
	forged6(RP_BACKEND_URING, RP_ICMP_DGRAM);
}

Test(replies6, forged_counted_by_kind_mmsg_raw)
{
	forged6(RP_BACKEND_MMSG, RP_ICMP_RAW);
}

Test(replies6, forged_counted_by_kind_mmsg_dgram)
{
	forged6(RP_BACKEND_MMSG, RP_ICMP_DGRAM);
}
