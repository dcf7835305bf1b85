/* ICMPv6 through the I/O engine against the real kernel: echo requests to ::1 and to
 * 2001:2::/64 (owned by lo in a namespace of the test's own), mixed with IPv4 ones to
 * 127.0.0.0/8, on every backend, with the io_uring features masked off one by one,
 * in both ICMP modes; the raw ICMPv6 filters; engines without a usable IPv6 (the
 * socket refused as on a kernel booted with ipv6.disable=1, or IPv6 disabled on every
 * interface); and a two-shard prober over both families.
 *
 * Each test runs in its own process and, first thing, in its own network namespace,
 * with `ip -6 route add local 2001:2::/64 dev lo`: only ::1, 2001:2::/64 and
 * 127.0.0.0/8 are ever probed, and nothing can leave the namespace. Root only (raw
 * sockets, unshare); skipped, never passed, without it. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/engine.h"
#include "io/io_int.h"
#include "io/shard.h"
#include "io_test.h"
#include "ringprobe/conf.h"
#include "ringprobe/icmp.h"
#include "ringprobe/prober.h"
#include "ringprobe/spsc.h"

#define N_PROBES 16000u
#define DEADLINE_NS (5ull * 1000000000ull)
#define MS 1000000ull

static const struct rp_siphash_key key = {0x3630505249434d50ull, 0x0f1e2d3c4b5a6978ull};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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

/* A namespace of our own with lo up, 2001:2::/64 local, ping sockets allowed or not. */
static void netns6(int icmp_mode)
{
	const char *what;
	int rc;

	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets and a private network namespace)");
	rc = io_test_netns(&what);
	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
	rc = io_test_local6();
	cr_assert_eq(rc, 0, "ip -6 route add local 2001:2::/64 dev lo: %d", rc);
	sysctl_set("/proc/sys/net/ipv4/ping_group_range",
		   icmp_mode == RP_ICMP_DGRAM ? "0 2147483647" : "1 0");
}

/* Probe i's target. Mixed: every 8th ::1, two in 8 IPv4 (127.a.b.c, distinct), the
 * rest 2001:2::i+1 (distinct). IPv6 only: ::1 and 2001:2::/64 alone. */
static struct rp_ip target(uint32_t i, bool mixed)
{
	if (i % 8 == 0)
		return io_test_lo6();
	if (mixed && (i % 8 == 1 || i % 8 == 2))
		return rp_ip_v4(0x7f000000u | (1 + i / 62500) << 16 | (1 + i / 250 % 250) << 8 |
				(1 + i % 250));
	return io_test_bench6(i + 1);
}

static struct rp_engine_conf conf_make(int backend, int icmp_mode, unsigned mask)
{
	return (struct rp_engine_conf){
	    .backend = backend,
	    .icmp_mode = icmp_mode,
	    .feature_mask = mask,
	    .send_slots = 2048,
	    .recv_bufs = 4096,
	    .rcvbuf_bytes = 32u << 20,
	    .ident = 0x6006,
	    .tx_stamps = true,
	};
}

/* What the callback saw; plain counters, checked afterwards. */
struct run {
	struct rp_engine *e;
	struct rp_engine_info info;
	bool mixed;
	uint32_t n;
	uint8_t *seen;
	uint32_t want4, want6; /* probes of each family sent */
	uint32_t ok4, ok6, ok_lo, dup, bad_kind, bad_src, bad_ts, bad_rtt, bad_slot, tx, tx_bad;
	int first_bad_kind;
};

static void on_rx(void *arg, const struct rp_rx *rx)
{
	struct run *r = arg;
	struct rp_probe_stamp st;
	enum rp_reply_kind k;
	struct rp_ip want;

	if (rx->tx) {
		/* The kernel's copy of one of our requests, either family. */
		if (rp_icmp_peek_request(rx->buf, rx->len, &st) && st.slot < r->n && rx->rx_ns)
			r->tx++;
		else
			r->tx_bad++;
		return;
	}
	/* The shard's rule: the identifier is checked on raw sockets only. */
	k = rp_icmp_parse(rx->buf, rx->len, r->info.ip_header, &rx->src,
			  r->info.icmp_mode == RP_ICMP_RAW ? r->info.ident : -1, &key, &st);
	if (k != RP_REPLY_OK) {
		if (!r->bad_kind++)
			r->first_bad_kind = (int)k;
		return;
	}
	if (st.slot >= r->n) {
		r->bad_slot++;
		return;
	}
	want = target(st.slot, r->mixed);
	if (!rp_ip_eq(&rx->src, &want))
		r->bad_src++;
	if (!rx->rx_ns || rx->rx_ns < st.sent_ns)
		r->bad_ts++;
	else if (rx->rx_ns - st.sent_ns > 1000 * MS)
		r->bad_rtt++;
	if (r->seen[st.slot]++) {
		r->dup++;
		return;
	}
	if (rp_ip_is_v4(&want))
		r->ok4++;
	else
		r->ok6++;
	r->ok_lo += st.slot % 8 == 0;
}

/* Sends n probes as fast as buffers come free, polls until every reply that can come
 * is in or the deadline passes, then a little longer for duplicates. */
static int run_probes(struct run *r, uint32_t n, uint32_t expect_replies)
{
	uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + DEADLINE_NS;
	uint32_t next = 0;
	int rc;

	r->n = n;
	r->seen = calloc(n, 1);
	while ((next < n || r->ok4 + r->ok6 < expect_replies) &&
	       clock_ns(CLOCK_MONOTONIC) < deadline) {
		void *buf;

		while (next < n && (buf = rp_engine_send_buf(r->e))) {
			struct rp_probe_stamp st = {.addr = target(next, r->mixed),
						    .slot = next,
						    .gen = 1,
						    .seq = next,
						    .sent_ns = clock_ns(CLOCK_REALTIME)};

			if (rp_ip_is_v4(&st.addr))
				r->want4++;
			else
				r->want6++;
			rp_icmp_stamp(buf, &key, &st);
			rp_engine_send_queue(r->e, buf, RP_ICMP_PKT_LEN, &st.addr);
			next++;
		}
		rc = rp_engine_poll(r->e, next < n ? 0 : 10 * MS, on_rx, r);
		if (rc < 0)
			return rc;
	}
	for (int i = 0; i < 5; i++) {
		rc = rp_engine_poll(r->e, 10 * MS, on_rx, r);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void run_fini(struct run *r)
{
	free(r->seen);
	rp_engine_destroy(r->e);
}

static void log_run(const struct run *r, const struct rp_engine_stats *s)
{
	cr_log_info("backend=%d icmp=%d features=%#x families=%#x ok4=%u ok6=%u (::1 %u) tx=%u "
		    "sent=%llu errors=%llu nosock=%llu eagain=%llu nobufs=%llu why: %s",
		    r->info.backend, r->info.icmp_mode, r->info.features, r->info.families, r->ok4,
		    r->ok6, r->ok_lo, r->tx, (unsigned long long)s->sent,
		    (unsigned long long)s->send_errors, (unsigned long long)s->send_nosock,
		    (unsigned long long)s->send_eagain, (unsigned long long)s->recv_nobufs,
		    r->info.why);
}

static void expect_all_matched(const struct run *r, uint32_t n)
{
	struct rp_engine_stats s;

	rp_engine_stats(r->e, &s);
	log_run(r, &s);
	cr_expect_eq(r->ok4, r->want4, "IPv4: %u of %u replies", r->ok4, r->want4);
	cr_expect_eq(r->ok6, r->want6, "IPv6: %u of %u replies", r->ok6, r->want6);
	cr_expect_eq(r->ok_lo, (n + 7) / 8, "::1: %u replies", r->ok_lo);
	cr_expect_eq(r->dup, 0, "%u duplicates", r->dup);
	cr_expect_eq(r->bad_kind, 0, "%u bad replies, first %s", r->bad_kind,
		     rp_reply_kind_name((enum rp_reply_kind)r->first_bad_kind));
	cr_expect_eq(r->bad_src, 0, "%u from the wrong source", r->bad_src);
	cr_expect_eq(r->bad_ts, 0, "%u without a kernel RX timestamp after the send", r->bad_ts);
	cr_expect_eq(r->bad_rtt, 0, "%u RTTs over a second", r->bad_rtt);
	cr_expect_eq(r->bad_slot, 0);
	cr_expect_eq(s.sent, n);
	cr_expect_eq(s.received, n);
	cr_expect_eq(s.send_errors + s.recv_errors, 0);
	if (r->info.features & RP_FEAT_TX_STAMP) {
		cr_expect_eq(r->tx, n, "%u transmit stamps for %u requests", r->tx, n);
		cr_expect_eq(r->tx_bad, 0);
	}
}

static void roundtrip(int backend, unsigned mask, int icmp_mode, unsigned want_features,
		      unsigned families)
{
	struct rp_engine_conf c = conf_make(backend, icmp_mode, mask);
	struct run r = {.mixed = families != RP_FAMILY_V6};
	char why[256];
	int rc;

	netns6(icmp_mode);
	unsetenv("RINGPROBE_DISABLE");
	c.families = families;
	rc = rp_engine_create(&r.e, &c, why, sizeof(why));
	cr_assert_eq(rc, 0, "create: %s (%s)", strerror(-rc), why);
	rp_engine_info(r.e, &r.info);
	cr_assert_eq(r.info.icmp_mode, icmp_mode, "%s", r.info.why);
	cr_assert_eq(r.info.backend, backend, "%s", r.info.why);
	cr_assert_eq(r.info.features, want_features, "features %#x, want %#x: %s", r.info.features,
		     want_features, r.info.why);
	cr_assert_eq(r.info.families, families ? families : (unsigned)RP_FAMILY_BOTH, "%s",
		     r.info.why);
	cr_assert_eq(r.info.ip_header, icmp_mode == RP_ICMP_RAW);
	if (icmp_mode == RP_ICMP_RAW)
		cr_assert_eq(r.info.ident, c.ident);
	cr_assert_geq(rp_engine_fd_family(r.e, RP_AF_INET6), 0);
	cr_assert_eq(rp_engine_fd_family(r.e, RP_AF_INET) >= 0, families != RP_FAMILY_V6);
	rc = run_probes(&r, N_PROBES, N_PROBES);
	cr_assert_eq(rc, 0, "poll: %s", strerror(-rc));
	expect_all_matched(&r, N_PROBES);
	run_fini(&r);
}

TestSuite(engine6, .timeout = 120);

#define ALL RP_FEAT_ALL
#define URING RP_BACKEND_URING
#define MMSG RP_BACKEND_MMSG
#define NO(f) (RP_FEAT_ALL & ~(unsigned)(f))

#define MATRIX(name, backend, mask, features)                                                      \
	Test(engine6, name##_raw)                                                                  \
	{                                                                                          \
		roundtrip(backend, mask, RP_ICMP_RAW, features, 0);                                \
	}                                                                                          \
	Test(engine6, name##_dgram)                                                                \
	{                                                                                          \
		roundtrip(backend, mask, RP_ICMP_DGRAM, features, 0);                              \
	}

MATRIX(uring_all_features, URING, ALL, ALL)
MATRIX(uring_single_recvmsg, URING, NO(RP_FEAT_RECV_MULTISHOT), NO(RP_FEAT_RECV_MULTISHOT))
MATRIX(uring_sendmsg, URING, NO(RP_FEAT_SEND_ADDR), NO(RP_FEAT_SEND_ADDR))
MATRIX(uring_no_defer_taskrun, URING, NO(RP_FEAT_DEFER_TASKRUN), NO(RP_FEAT_DEFER_TASKRUN))
MATRIX(uring_no_features, URING, RP_FEAT_URING | RP_FEAT_TX_STAMP, RP_FEAT_URING | RP_FEAT_TX_STAMP)
MATRIX(uring_no_txstamp, URING, NO(RP_FEAT_TX_STAMP), NO(RP_FEAT_TX_STAMP))
MATRIX(mmsg, MMSG, ALL, RP_FEAT_TX_STAMP)
MATRIX(mmsg_no_txstamp, MMSG, NO(RP_FEAT_TX_STAMP), 0)

Test(engine6, ipv6_only_engine_uring_raw)
{
	roundtrip(URING, ALL, RP_ICMP_RAW, ALL, RP_FAMILY_V6);
}

Test(engine6, ipv6_only_engine_mmsg_dgram)
{
	roundtrip(MMSG, ALL, RP_ICMP_DGRAM, RP_FEAT_TX_STAMP, RP_FAMILY_V6);
}

/* An IPv4-only engine opens no IPv6 socket, and its IPv6 sends fail, counted. */
Test(engine6, ipv4_only_engine_has_no_ipv6_socket)
{
	struct rp_engine_conf c = conf_make(URING, RP_ICMP_RAW, ALL);
	struct rp_engine_stats s;
	struct run r = {.mixed = true};
	char why[256];

	netns6(RP_ICMP_RAW);
	c.families = RP_FAMILY_V4;
	cr_assert_eq(rp_engine_create(&r.e, &c, why, sizeof(why)), 0, "%s", why);
	rp_engine_info(r.e, &r.info);
	cr_expect_eq(r.info.families, RP_FAMILY_V4);
	cr_expect_eq(rp_engine_fd_family(r.e, RP_AF_INET6), -1);
	cr_expect(!strstr(r.info.why, "ICMPv6"), "%s", r.info.why);
	cr_assert_eq(run_probes(&r, 800, 200), 0);
	rp_engine_stats(r.e, &s);
	log_run(&r, &s);
	cr_expect_eq(r.ok4, 200);
	cr_expect_eq(r.ok6, 0);
	cr_expect_eq(s.send_errors, 600);
	cr_expect_eq(s.send_nosock, 600);
	cr_expect_eq(s.sent, 200);
	run_fini(&r);
}

/* A raw ICMPv6 socket sees every ICMPv6 packet; ours must keep only echo replies with
 * our identifier. A second raw socket sends requests with another identifier to the
 * same targets and sees their replies; the engine must not. */
static void filter_drops_foreign6(int backend)
{
	struct rp_engine_conf c = conf_make(backend, RP_ICMP_RAW, ALL);
	struct run r = {.mixed = false};
	unsigned char pkt[RP_ICMP_PKT_LEN], in[256];
	uint32_t foreign_sent = 0, foreign_replies = 0;
	struct icmp6_filter f;
	uint64_t deadline;
	int fd, big = 32 << 20;
	char why[256];

	netns6(RP_ICMP_RAW);
	cr_assert_eq(rp_engine_create(&r.e, &c, why, sizeof(why)), 0, "%s", why);
	rp_engine_info(r.e, &r.info);
	fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	cr_assert_geq(fd, 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
	ICMP6_FILTER_SETBLOCKALL(&f);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
	cr_assert_eq(setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)), 0);
	rp_icmp_init(pkt, (uint16_t)(c.ident ^ 0xffff));
	for (uint32_t i = 0; i < 1000; i++) {
		struct rp_probe_stamp st = {.addr = target(i, false),
					    .slot = i,
					    .gen = 9,
					    .seq = i,
					    .sent_ns = clock_ns(CLOCK_REALTIME)};
		struct sockaddr_in6 sa = {.sin6_family = AF_INET6};

		memcpy(&sa.sin6_addr, st.addr.b, 16);
		rp_icmp_stamp(pkt, &key, &st);
		if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&sa, sizeof(sa)) ==
		    (ssize_t)sizeof(pkt))
			foreign_sent++;
	}
	cr_assert_eq(run_probes(&r, 1000, 1000), 0);
	expect_all_matched(&r, 1000);
	deadline = clock_ns(CLOCK_MONOTONIC) + 2000 * MS;
	while (foreign_replies < foreign_sent && clock_ns(CLOCK_MONOTONIC) < deadline) {
		ssize_t n = recv(fd, in, sizeof(in), MSG_DONTWAIT);

		if (n < 0) {
			usleep(1000);
			continue;
		}
		if (n >= 8 && in[0] == ICMP6_ECHO_REPLY &&
		    (in[4] << 8 | in[5]) == (c.ident ^ 0xffff))
			foreign_replies++;
	}
	cr_expect_eq(foreign_sent, 1000);
	cr_expect_eq(foreign_replies, foreign_sent, "the foreign replies existed");
	cr_expect_eq(r.bad_kind, 0, "the engine saw %u of them", r.bad_kind);
	close(fd);
	run_fini(&r);
}

Test(engine6, raw_filter_drops_other_identifiers_uring)
{
	filter_drops_foreign6(URING);
}

Test(engine6, raw_filter_drops_other_identifiers_mmsg)
{
	filter_drops_foreign6(MMSG);
}

/* --- without a usable IPv6 --------------------------------------------------------- */

/* What a kernel booted with ipv6.disable=1 (or a container without IPv6) answers:
 * socket(AF_INET6, ...) fails with EAFNOSUPPORT. A seccomp filter says the same. */
static int seccomp_deny_inet6(void)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EAFNOSUPPORT & SECCOMP_RET_DATA)),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		return -errno;
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}

/* What a forked child reports (the seccomp filter must not outlive it). */
struct report {
	int step_rc;
	char step[32];
	char why[256];
	struct rp_engine_info info;
	struct rp_engine_stats stats;
	uint32_t want4, want6, ok4, ok6, bad;
	int v6_only_rc; /* creating an engine for IPv6 alone */
	char v6_only_why[256];
	/* the shard: one IPv4 and one IPv6 device, one probe each */
	uint32_t results, ok_v4_results, failed_v6_results;
	struct rp_shard_stats shard;
};

static int g_backend, g_mode;

static void child_no_inet6(struct report *rep)
{
	struct rp_engine_conf c = conf_make(g_backend, g_mode, ALL);
	struct rp_engine *e6 = NULL;
	struct run r = {.mixed = true};
	int rc = seccomp_deny_inet6();

	if (rc) {
		rep->step_rc = rc;
		snprintf(rep->step, sizeof(rep->step), "seccomp");
		return;
	}
	rc = rp_engine_create(&r.e, &c, rep->why, sizeof(rep->why));
	if (rc) {
		rep->step_rc = rc;
		snprintf(rep->step, sizeof(rep->step), "create");
		return;
	}
	rp_engine_info(r.e, &r.info);
	rep->info = r.info;
	rc = run_probes(&r, 800, 200);
	if (rc) {
		rep->step_rc = rc;
		snprintf(rep->step, sizeof(rep->step), "poll");
	}
	rp_engine_stats(r.e, &rep->stats);
	rep->want4 = r.want4;
	rep->want6 = r.want6;
	rep->ok4 = r.ok4;
	rep->ok6 = r.ok6;
	rep->bad = r.bad_kind + r.bad_src + r.bad_ts + r.bad_slot + r.dup;
	run_fini(&r);

	c.families = RP_FAMILY_V6;
	rep->v6_only_rc = rp_engine_create(&e6, &c, rep->v6_only_why, sizeof(rep->v6_only_why));
	rp_engine_destroy(e6);

	/* Through a shard: the IPv6 device gets a normal failed result. */
	{
		struct rp_shard_conf sc = {.capacity = 4,
					   .timeout_ns = 200 * MS,
					   .burst = 1,
					   .tick_ns = 5 * MS,
					   .result_ring = 64,
					   .cmd_ring = 64,
					   .key = key,
					   .backend = g_backend,
					   .icmp_mode = g_mode,
					   .feature_mask = ALL,
					   .send_slots = 64,
					   .recv_bufs = 64,
					   .rcvbuf_bytes = 1 << 20,
					   .ident = 0x6116};
		struct rp_shard_dev d4 = {.addr = rp_ip_v4(0x7f000009),
					  .id = 4,
					  .interval_ms = 1000,
					  .count = 1,
					  .immediate = true};
		struct rp_shard_dev d6 = {.addr = io_test_bench6(9),
					  .id = 6,
					  .interval_ms = 1000,
					  .count = 1,
					  .immediate = true};
		struct rp_probe_result res[4];
		struct rp_shard *s;
		char why[256];

		if (rp_shard_create(&s, &sc, why, sizeof(why)) < 0 || rp_shard_add(s, &d4) < 0 ||
		    rp_shard_add(s, &d6) < 0 || rp_shard_start(s) < 0) {
			rep->step_rc = -EIO;
			snprintf(rep->step, sizeof(rep->step), "shard");
			return;
		}
		for (int i = 0; i < 200 && rep->results < 2; i++) {
			uint32_t n = rp_spsc_pop(rp_shard_results(s), res, 4);

			for (uint32_t j = 0; j < n; j++) {
				rep->results++;
				rep->ok_v4_results += res[j].id == 4 && res[j].success;
				rep->failed_v6_results += res[j].id == 6 && !res[j].success;
			}
			sleep_ms(5);
		}
		rp_shard_stop(s);
		rp_shard_stats(s, &rep->shard);
		rp_shard_destroy(s);
	}
}

static void in_child(void (*fn)(struct report *), struct report *rep)
{
	int fds[2], status;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		static struct report r;

		close(fds[0]);
		fn(&r);
		_exit(write(fds[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 2);
	}
	close(fds[1]);
	memset(rep, 0, sizeof(*rep));
	cr_assert_eq(read(fds[0], rep, sizeof(*rep)), (ssize_t)sizeof(*rep), "child died");
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void no_inet6(int backend, int mode)
{
	struct report rep;

	netns6(mode);
	g_backend = backend;
	g_mode = mode;
	in_child(child_no_inet6, &rep);
	cr_assert_eq(rep.step_rc, 0, "%s: %s (%s)", rep.step, strerror(-rep.step_rc), rep.why);
	cr_log_info("why: %s; IPv6 alone: %s", rep.info.why, rep.v6_only_why);
	cr_expect_eq(rep.info.families, RP_FAMILY_V4, "%s", rep.info.why);
	cr_expect_eq(rep.info.backend, backend, "%s", rep.info.why);
	cr_expect_eq(rep.info.icmp_mode, mode, "%s", rep.info.why);
	cr_expect(strstr(rep.info.why,
			 "IPv4 only: no ICMPv6 socket (Address family not supported by protocol: "
			 "IPv6 is disabled in this kernel or container)"),
		  "%s", rep.info.why);
	cr_expect_eq(rep.ok4, rep.want4, "IPv4 still works: %u of %u", rep.ok4, rep.want4);
	cr_expect_eq(rep.want4, 200);
	cr_expect_eq(rep.ok6, 0);
	cr_expect_eq(rep.bad, 0);
	cr_expect_eq(rep.stats.sent, 200);
	cr_expect_eq(rep.stats.send_errors, rep.want6, "every IPv6 send a counted error");
	cr_expect_eq(rep.stats.send_nosock, rep.want6);
	cr_expect_eq(rep.v6_only_rc, -EAFNOSUPPORT, "IPv6 alone: %s", rep.v6_only_why);
	cr_expect_eq(rep.results, 2);
	cr_expect_eq(rep.ok_v4_results, 1);
	cr_expect_eq(rep.failed_v6_results, 1, "the IPv6 probe fails as a normal result");
	cr_expect_eq(rep.shard.send_errors, 1);
	cr_expect_eq(rep.shard.timeouts, 1);
	cr_expect_eq(rep.shard.replies, 1);
}

Test(engine6, no_inet6_socket_probes_ipv4_and_fails_ipv6_uring_raw)
{
	no_inet6(URING, RP_ICMP_RAW);
}

Test(engine6, no_inet6_socket_probes_ipv4_and_fails_ipv6_uring_dgram)
{
	no_inet6(URING, RP_ICMP_DGRAM);
}

Test(engine6, no_inet6_socket_probes_ipv4_and_fails_ipv6_mmsg_raw)
{
	no_inet6(MMSG, RP_ICMP_RAW);
}

Test(engine6, no_inet6_socket_probes_ipv4_and_fails_ipv6_mmsg_dgram)
{
	no_inet6(MMSG, RP_ICMP_DGRAM);
}

/* net.ipv6.conf.all.disable_ipv6=1: the socket opens, every IPv6 send fails in the
 * kernel (no route, no address), each counted; IPv4 goes on. */
static void ipv6_disabled(int backend, int mode)
{
	struct rp_engine_conf c = conf_make(backend, mode, ALL);
	struct rp_engine_stats s;
	struct run r = {.mixed = true};
	char why[256];

	netns6(mode);
	sysctl_set("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	sysctl_set("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "1");
	cr_assert_eq(rp_engine_create(&r.e, &c, why, sizeof(why)), 0, "%s", why);
	rp_engine_info(r.e, &r.info);
	cr_assert_eq(run_probes(&r, 800, 200), 0);
	rp_engine_stats(r.e, &s);
	log_run(&r, &s);
	cr_expect_eq(r.ok4, 200);
	cr_expect_eq(r.ok6, 0);
	cr_expect_eq(r.bad_kind + r.bad_src + r.bad_ts + r.dup, 0);
	cr_expect_eq(s.sent, 200);
	cr_expect_eq(s.send_errors, 600, "every IPv6 send a counted error");
	cr_expect_eq(s.send_nosock, 0);
	run_fini(&r);
}

Test(engine6, ipv6_disabled_sends_fail_counted_uring_raw)
{
	ipv6_disabled(URING, RP_ICMP_RAW);
}

Test(engine6, ipv6_disabled_sends_fail_counted_uring_dgram)
{
	ipv6_disabled(URING, RP_ICMP_DGRAM);
}

Test(engine6, ipv6_disabled_sends_fail_counted_mmsg_raw)
{
	ipv6_disabled(MMSG, RP_ICMP_RAW);
}

Test(engine6, ipv6_disabled_sends_fail_counted_mmsg_dgram)
{
	ipv6_disabled(MMSG, RP_ICMP_DGRAM);
}

/* --- both families through the prober (two shards) ---------------------------------- */

#define TARGETS 8000
#define ROUNDS 3

struct tally {
	uint32_t next;
	uint32_t got[TARGETS], ok[TARGETS];
	uint64_t ok4, ok6, bad_rtt, bad_addr, timeout_ns;
};

static struct rp_ip prober_target(uint32_t i)
{
	if (i == 0)
		return io_test_lo6();
	if (i % 2)
		return rp_ip_v4(0x7f010000u + 1 + i * 3);
	return io_test_bench6(0x10000u + i);
}

static bool next_dev(void *arg, struct rp_shard_dev *d)
{
	struct tally *t = arg;

	if (t->next == TARGETS)
		return false;
	*d = (struct rp_shard_dev){.addr = prober_target(t->next),
				   .id = t->next,
				   .interval_ms = 300,
				   .count = ROUNDS,
				   .immediate = true};
	t->next++;
	return true;
}

static bool take(void *arg, const struct rp_probe_result *r)
{
	struct tally *t = arg;
	struct rp_ip want = prober_target(r->id);

	t->got[r->id]++;
	if (!rp_ip_eq(&r->addr, &want))
		t->bad_addr++;
	if (r->success) {
		t->ok[r->id]++;
		if (rp_ip_is_v4(&r->addr))
			t->ok4++;
		else
			t->ok6++;
		if (r->rtt_ns == 0 || r->rtt_ns > t->timeout_ns)
			t->bad_rtt++;
	}
	return t->got[r->id] == ROUNDS;
}

static void prober_mixed(int backend, int mode)
{
	static struct tally t;
	struct rp_prober_conf pc = {.shards = 2,
				    .capacity = TARGETS,
				    .timeout_ns = 250 * MS,
				    .rate_pps = 100000,
				    .burst = 2000,
				    .tick_ns = 5 * MS,
				    .backend = backend,
				    .icmp_mode = mode,
				    .feature_mask = ALL};
	struct rp_engine_info info;
	struct rp_shard_stats st;
	struct rp_prober *p;
	char err[512];

	memset(&t, 0, sizeof(t));
	t.timeout_ns = pc.timeout_ns;
	netns6(mode);
	cr_assert_eq(rp_prober_create(&p, &pc, err, sizeof(err)), 0, "%s", err);
	rp_prober_engine_info(p, &info);
	cr_assert_eq(info.families, RP_FAMILY_BOTH, "%s", info.why);
	cr_assert_eq(info.backend, backend, "%s", info.why);
	cr_assert_eq(info.icmp_mode, mode, "%s", info.why);
	cr_assert_eq(rp_prober_start(p, NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rp_prober_run(p, next_dev, take, NULL, &t), 0, "results were lost");
	rp_prober_stats(p, &st);
	rp_prober_destroy(p);
	cr_log_info("ok4=%llu ok6=%llu sent=%llu replies=%llu tx_stamped=%llu timeouts=%llu",
		    (unsigned long long)t.ok4, (unsigned long long)t.ok6,
		    (unsigned long long)st.probes_sent, (unsigned long long)st.replies,
		    (unsigned long long)st.tx_stamped, (unsigned long long)st.timeouts);
	for (unsigned i = 0; i < TARGETS; i++)
		if (t.got[i] != ROUNDS || t.ok[i] != ROUNDS)
			cr_assert_fail("target %u: %u results, %u answered", i, t.got[i], t.ok[i]);
	cr_expect_eq(t.ok4, TARGETS / 2 * ROUNDS);
	cr_expect_eq(t.ok6, TARGETS / 2 * ROUNDS);
	cr_expect_eq(t.bad_rtt, 0);
	cr_expect_eq(t.bad_addr, 0);
	cr_expect_eq(st.probes_sent, TARGETS * ROUNDS);
	cr_expect_eq(st.replies, TARGETS * ROUNDS);
	cr_expect_eq(st.timeouts + st.ring_drops + st.send_errors, 0);
	cr_expect_eq(st.tx_stamped, st.replies, "every reply timed from its transmit stamp");
	for (int k = 1; k < RP_REPLY_KIND_COUNT; k++)
		cr_expect_eq(st.invalid[k], 0, "%llu replies counted %s",
			     (unsigned long long)st.invalid[k], rp_reply_kind_name(k));
}

Test(engine6, prober_matches_both_families_uring_raw, .timeout = 60)
{
	prober_mixed(URING, RP_ICMP_RAW);
}

Test(engine6, prober_matches_both_families_uring_dgram, .timeout = 60)
{
	prober_mixed(URING, RP_ICMP_DGRAM);
}

Test(engine6, prober_matches_both_families_mmsg_raw, .timeout = 60)
{
	prober_mixed(MMSG, RP_ICMP_RAW);
}

Test(engine6, prober_matches_both_families_mmsg_dgram, .timeout = 60)
{
	prober_mixed(MMSG, RP_ICMP_DGRAM);
}

/* --- the sender's address, per socket (no root needed) ------------------------------ */

Test(engine6, source_from_the_ipv6_socket_is_never_an_ipv4_device)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	struct rp_ip got, want6 = io_test_bench6(5), want4 = rp_ip_v4(0x7f000001);

	memcpy(&s6.sin6_addr, want6.b, 16);
	rp_io__src(RP_IO_V6, &s6, sizeof(s6), &got);
	cr_expect(rp_ip_eq(&got, &want6));
	rp_io__src(RP_IO_V4, &s4, sizeof(s4), &got);
	cr_expect(rp_ip_eq(&got, &want4));
	/* ::ffff:127.0.0.1 on the IPv6 socket: not the IPv4 device 127.0.0.1. */
	memcpy(&s6.sin6_addr, want4.b, 16);
	rp_io__src(RP_IO_V6, &s6, sizeof(s6), &got);
	cr_expect(rp_ip_is_zero(&got));
	/* A short or missing name, or the other family on a socket. */
	rp_io__src(RP_IO_V6, &s6, sizeof(s6) - 1, &got);
	cr_expect(rp_ip_is_zero(&got));
	rp_io__src(RP_IO_V4, &s6, 0, &got);
	cr_expect(rp_ip_is_zero(&got));
	memcpy(&s6.sin6_addr, want6.b, 16);
	rp_io__src(RP_IO_V4, &s6, sizeof(s6), &got);
	cr_expect(rp_ip_is_zero(&got));
}
