/* How a shard classifies replies that are not simply "the answer, in time": late
 * replies (after the probe's deadline, or to an older probe after the next one went
 * out) and forged replies on a datagram (ping) socket.
 *
 * Each test runs in its own network namespace (root only; skipped otherwise) with
 * net.ipv4.icmp_echo_ignore_all=1, so the kernel answers nothing: the test reads each
 * echo request from a raw socket and answers it itself, from a second raw socket, when
 * it chooses to. A reply is the request with its type changed, so it is well formed
 * with a MAC that verifies. Only 127.0.0.0/8 is ever used. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/engine.h"
#include "io/shard.h"
#include "io_test.h"
#include "ringprobe/conf.h"
#include "ringprobe/icmp.h"
#include "ringprobe/result.h"
#include "ringprobe/spsc.h"

#define MS 1000000ull

static const struct rp_siphash_key key = {0x0a0b0c0d01020304ull, 0x1122334455667788ull};

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Sleeps until CLOCK_REALTIME reaches t (the clock the send stamps use). */
static void sleep_until_real(uint64_t t)
{
	uint64_t now;

	while ((now = real_ns()) < t) {
		struct timespec ts = {(time_t)((t - now) / 1000000000ull),
				      (long)((t - now) % 1000000000ull)};

		nanosleep(&ts, NULL);
	}
}

static void sysctl_set(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, value, strlen(value)), (ssize_t)strlen(value), "%s", path);
	close(fd);
}

/* A private network namespace, lo up, where the kernel answers no echo request. Both
 * sysctls are per namespace. */
static void quiet_netns(int icmp_mode)
{
	const char *what;
	int rc;

	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets and a private network namespace)");
	rc = io_test_netns(&what);
	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
	sysctl_set("/proc/sys/net/ipv4/icmp_echo_ignore_all", "1");
	sysctl_set("/proc/sys/net/ipv4/ping_group_range",
		   icmp_mode == RP_ICMP_DGRAM ? "0 2147483647" : "1 0");
}

/* One shard under test, the raw socket that sees its requests and the one that
 * answers them. */
struct rig {
	struct rp_shard *s;
	struct rp_engine_info info;
	int cap, out;
};

static void rig_start(struct rig *r, int backend, int icmp_mode, uint64_t timeout_ns,
		      const struct rp_shard_dev *devs, int n)
{
	struct rp_shard_conf sc = {.index = 0,
				   .capacity = 16,
				   .timeout_ns = timeout_ns,
				   .rate_pps = 0,
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
				   .ident = 0x4242};
	int big = 4 << 20;
	char why[512];

	quiet_netns(icmp_mode);
	/* Opened before the shard starts, so it sees the first request. */
	r->cap = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	r->out = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	cr_assert(r->cap >= 0 && r->out >= 0, "raw sockets: %s", strerror(errno));
	cr_assert_eq(setsockopt(r->cap, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
	cr_assert_eq(rp_shard_create(&r->s, &sc, why, sizeof(why)), 0, "%s", why);
	rp_shard_engine_info(r->s, &r->info);
	cr_assert_eq(r->info.icmp_mode, icmp_mode, "%s", r->info.why);
	cr_assert_eq(r->info.backend, backend, "%s", r->info.why);
	for (int i = 0; i < n; i++)
		cr_assert_eq(rp_shard_add(r->s, &devs[i]), 0);
	cr_assert_eq(rp_shard_start(r->s), 0);
}

/* After the last look at the shard's results. */
static void rig_free(struct rig *r)
{
	rp_shard_destroy(r->s);
	r->s = NULL;
}

static void rig_stop(struct rig *r, struct rp_shard_stats *st)
{
	rp_shard_stop(r->s);
	rp_shard_stats(r->s, st);
	close(r->cap);
	close(r->out);
}

/* A request the shard sent, turned into the reply `dev` would send back. */
struct req {
	unsigned char reply[RP_ICMP_PKT_LEN];
	struct rp_probe_stamp st;
	uint16_t ident; /* on the wire (a ping socket's is the kernel's choice) */
};

/* Waits up to 2 s for the shard's next echo request to `dev`. */
static void next_request(struct rig *r, uint32_t dev, struct req *q)
{
	struct rp_ip dev_ip = rp_ip_v4(dev);
	unsigned char buf[512];

	for (int tries = 0; tries < 400; tries++) {
		ssize_t n = recv(r->cap, buf, sizeof(buf), MSG_DONTWAIT);
		uint32_t dst;

		if (n < 0) {
			sleep_ms(5);
			continue;
		}
		dst = (uint32_t)buf[16] << 24 | (uint32_t)buf[17] << 16 | (uint32_t)buf[18] << 8 |
		      buf[19];
		if (n < 20 + RP_ICMP_PKT_LEN || buf[20] != 8 || dst != dev ||
		    memcmp(buf + 20 + 8, "RPRB", 4) != 0)
			continue;
		memcpy(q->reply, buf + 20, RP_ICMP_PKT_LEN);
		q->reply[0] = 0; /* echo reply */
		io_test_fix_sum(q->reply, RP_ICMP_PKT_LEN);
		q->ident = (uint16_t)(q->reply[4] << 8 | q->reply[5]);
		cr_assert_eq(
		    rp_icmp_parse(q->reply, RP_ICMP_PKT_LEN, false, &dev_ip, -1, &key, &q->st),
		    RP_REPLY_OK, "the request's payload does not verify");
		return;
	}
	cr_assert_fail("no echo request to %#x within 2 s", dev);
}

/* Sends icmp[len] from `src` to 127.0.0.1, with our own IPv4 header. */
static void send_from(struct rig *r, uint32_t src, const unsigned char *icmp, size_t len)
{
	cr_assert(io_test_send_from(r->out, src, icmp, len), "sendto: %s", strerror(errno));
}

/* Every invalid counter equals want[kind]. */
static void expect_kinds(const struct rp_shard_stats *st, const uint64_t *want)
{
	for (int k = 1; k < RP_REPLY_KIND_COUNT; k++)
		cr_expect_eq(st->invalid[k], want[k], "%s: counted %llu, want %llu",
			     rp_reply_kind_name(k), (unsigned long long)st->invalid[k],
			     (unsigned long long)want[k]);
}

/* The results the shard pushed, in order. */
static uint32_t results(struct rig *r, struct rp_probe_result *out, uint32_t max)
{
	return rp_spsc_pop(rp_shard_results(r->s), out, max);
}

/* --- late replies ----------------------------------------------------------------- */

#define TIMEOUT_NS (150 * MS)

/* Three devices probed once each (count 0 = forever, as the daemon does, with an
 * interval longer than the test): A answered at once (the control: this reply path
 * works), B answered 5 ms after its deadline, C 150 ms after (the timeout FIFO has
 * failed it by then). B and C count as late and as timeouts, never as replies. */
static void late_after_deadline(int backend, int icmp_mode)
{
	const uint32_t a = 0x7f000002, b = 0x7f000003, c = 0x7f000004;
	struct rp_shard_dev devs[] = {
	    {.addr = rp_ip_v4(a), .id = 0, .interval_ms = 60000, .immediate = true},
	    {.addr = rp_ip_v4(b), .id = 1, .interval_ms = 60000, .immediate = true},
	    {.addr = rp_ip_v4(c), .id = 2, .interval_ms = 60000, .immediate = true},
	};
	uint64_t want[RP_REPLY_KIND_COUNT] = {[RP_REPLY_LATE] = 2};
	struct rp_probe_result res[8];
	struct rp_shard_stats st;
	struct req qa, qb, qc;
	struct rig r;
	uint32_t n;

	rig_start(&r, backend, icmp_mode, TIMEOUT_NS, devs, 3);
	next_request(&r, a, &qa);
	send_from(&r, a, qa.reply, sizeof(qa.reply));
	next_request(&r, b, &qb);
	next_request(&r, c, &qc);
	sleep_until_real(qb.st.sent_ns + TIMEOUT_NS + 5 * MS);
	send_from(&r, b, qb.reply, sizeof(qb.reply));
	sleep_until_real(qc.st.sent_ns + TIMEOUT_NS + 150 * MS);
	rp_shard_stats(r.s, &st);
	cr_expect_eq(st.timeouts, 2, "B and C timed out before C's reply is sent (%llu)",
		     (unsigned long long)st.timeouts);
	send_from(&r, c, qc.reply, sizeof(qc.reply));
	sleep_ms(60);
	rig_stop(&r, &st);
	cr_log_info("%s: replies=%llu timeouts=%llu late=%llu", r.info.why,
		    (unsigned long long)st.replies, (unsigned long long)st.timeouts,
		    (unsigned long long)st.invalid[RP_REPLY_LATE]);
	cr_expect_eq(st.probes_sent, 3);
	cr_expect_eq(st.replies, 1, "only A's reply was in time");
	cr_expect_eq(st.timeouts, 2);
	expect_kinds(&st, want);
	n = results(&r, res, 8);
	cr_assert_eq(n, 3, "one result per probe, got %u", n);
	for (uint32_t i = 0; i < n; i++) {
		if (rp_ip_to_v4(&res[i].addr) == a) {
			cr_expect(res[i].success, "A answered in time");
			cr_expect(res[i].rtt_ns > 0 && res[i].rtt_ns < TIMEOUT_NS, "A rtt %llu",
				  (unsigned long long)res[i].rtt_ns);
		} else {
			cr_expect(!res[i].success, "%#x answered late must be a failure",
				  rp_ip_to_v4(&res[i].addr));
		}
	}
	rig_free(&r);
}

TestSuite(replies, .timeout = 60);

Test(replies, late_after_deadline_uring_raw)
{
	late_after_deadline(RP_BACKEND_URING, RP_ICMP_RAW);
}

Test(replies, late_after_deadline_mmsg_raw)
{
	late_after_deadline(RP_BACKEND_MMSG, RP_ICMP_RAW);
}

Test(replies, late_after_deadline_uring_dgram)
{
	late_after_deadline(RP_BACKEND_URING, RP_ICMP_DGRAM);
}

/* Probes every 100 ms with a 60 ms timeout: probe 1 goes unanswered, probe 2 goes out
 * and is answered at once, and only then probe 1's reply arrives. It names an older
 * sequence, after its deadline: late, not a reply, and probe 2's success stands. */
static void late_for_older_probe(int backend)
{
	const uint32_t d = 0x7f000005;
	struct rp_shard_dev dev = {
	    .addr = rp_ip_v4(d), .id = 9, .interval_ms = 100, .immediate = true};
	uint64_t want[RP_REPLY_KIND_COUNT] = {[RP_REPLY_LATE] = 1};
	struct rp_probe_result res[8];
	struct rp_shard_stats st;
	struct req q1, q2;
	struct rig r;
	uint32_t n;

	rig_start(&r, backend, RP_ICMP_RAW, 60 * MS, &dev, 1);
	next_request(&r, d, &q1);
	next_request(&r, d, &q2);
	cr_assert_eq(q2.st.seq, q1.st.seq + 1);
	send_from(&r, d, q2.reply, sizeof(q2.reply));
	sleep_ms(20);
	send_from(&r, d, q1.reply, sizeof(q1.reply));
	sleep_ms(20);
	rig_stop(&r, &st);
	cr_expect_geq(st.probes_sent, 2);
	cr_expect_eq(st.replies, 1, "probe 2 only");
	/* probe 1, and a third probe if one went out before the stop */
	cr_expect_geq(st.timeouts, 1);
	cr_expect_eq(st.timeouts, st.probes_sent - 1);
	expect_kinds(&st, want);
	n = results(&r, res, 8);
	cr_assert_geq(n, 2);
	cr_expect(!res[0].success, "probe 1 failed");
	cr_expect(res[1].success, "probe 2 answered");
	cr_expect_eq(res[1].sent_ns, q2.st.sent_ns);
	rig_free(&r);
}

Test(replies, late_for_older_probe_after_next_sent_uring)
{
	late_for_older_probe(RP_BACKEND_URING);
}

Test(replies, late_for_older_probe_after_next_sent_mmsg)
{
	late_for_older_probe(RP_BACKEND_MMSG);
}

/* A reply to the last probe of a device with a fixed count (ping, sweep) that comes
 * after the deadline: the device has finished and left the table by then, so the
 * reply names a slot that is no longer live. Whatever kind it gets, it is counted
 * once and is never a reply. */
Test(replies, late_for_finished_device_is_never_success)
{
	const uint32_t d = 0x7f000006;
	struct rp_shard_dev dev = {
	    .addr = rp_ip_v4(d), .id = 3, .interval_ms = 1000, .count = 1, .immediate = true};
	struct rp_probe_result res[4];
	struct rp_shard_stats st;
	struct req q;
	struct rig r;

	rig_start(&r, RP_BACKEND_URING, RP_ICMP_RAW, 50 * MS, &dev, 1);
	next_request(&r, d, &q);
	sleep_until_real(q.st.sent_ns + 150 * MS);
	send_from(&r, d, q.reply, sizeof(q.reply));
	sleep_ms(50);
	rig_stop(&r, &st);
	cr_log_info("late reply to a finished device: late=%llu stale=%llu",
		    (unsigned long long)st.invalid[RP_REPLY_LATE],
		    (unsigned long long)st.invalid[RP_REPLY_STALE]);
	cr_expect_eq(st.replies, 0);
	cr_expect_eq(st.timeouts, 1);
	cr_expect_eq(st.invalid[RP_REPLY_LATE] + st.invalid[RP_REPLY_STALE], 1);
	cr_assert_eq(results(&r, res, 4), 1);
	cr_expect(!res[0].success);
	rig_free(&r);
}

/* --- forged replies on a ping socket ------------------------------------------------ */

/* A datagram ICMP socket gets echo replies whose identifier is its local port (the
 * kernel's choice, read from the request on the wire); it has no BPF filter, so
 * everything the kernel delivers reaches the parser. One genuine reply first, then
 * one of each forgery. */
static void forged_on_dgram(int backend)
{
	const uint32_t dev = 0x7f000002;
	struct rp_shard_dev d = {
	    .addr = rp_ip_v4(dev), .id = 7, .interval_ms = 60000, .immediate = true};
	/* The kernel verifies the ICMP checksum before a ping socket sees the datagram
	 * (icmp_rcv), so the corrupted copy never reaches us; a raw socket sees it
	 * first and counts it (test_prober). */
	uint64_t want[RP_REPLY_KIND_COUNT] = {
	    [RP_REPLY_FORGED] = 1,    [RP_REPLY_WRONG_SOURCE] = 1, [RP_REPLY_STALE] = 1,
	    [RP_REPLY_TRUNCATED] = 1, [RP_REPLY_FOREIGN] = 1,	   [RP_REPLY_DUPLICATE] = 1,
	};
	unsigned char icmp[RP_ICMP_PKT_LEN];
	struct rp_shard_stats st;
	struct req q;
	struct rig r;

	rig_start(&r, backend, RP_ICMP_DGRAM, 4000 * MS, &d, 1);
	next_request(&r, dev, &q);
	cr_assert_eq(q.ident, (uint16_t)r.info.ident, "wire ident %u, engine says %d", q.ident,
		     r.info.ident);
	/* 0 genuine */
	send_from(&r, dev, q.reply, sizeof(q.reply));
	sleep_ms(30);
	rp_shard_stats(r.s, &st);
	cr_assert_eq(st.replies, 1, "the genuine reply reached the ping socket");
	/* 1 forged: a MAC that does not verify */
	memcpy(icmp, q.reply, sizeof(icmp));
	icmp[8 + 32] ^= 1;
	io_test_fix_sum(icmp, sizeof(icmp));
	send_from(&r, dev, icmp, sizeof(icmp));
	/* 2 wrong source */
	send_from(&r, dev + 1, q.reply, sizeof(q.reply));
	/* 3 stale generation, with a MAC that verifies for it */
	{
		struct rp_probe_stamp old = q.st;

		old.gen += 1;
		rp_icmp_init(icmp, q.ident);
		rp_icmp_stamp(icmp, &key, &old);
		icmp[0] = 0;
		io_test_fix_sum(icmp, sizeof(icmp));
		send_from(&r, dev, icmp, sizeof(icmp));
	}
	/* 4 truncated */
	memcpy(icmp, q.reply, sizeof(icmp));
	io_test_fix_sum(icmp, 20);
	send_from(&r, dev, icmp, 20);
	/* 5 foreign: our identifier, no magic */
	memcpy(icmp, q.reply, sizeof(icmp));
	memcpy(icmp + 8, "XXXX", 4);
	io_test_fix_sum(icmp, sizeof(icmp));
	send_from(&r, dev, icmp, sizeof(icmp));
	/* 6 corrupted: the kernel drops it */
	memcpy(icmp, q.reply, sizeof(icmp));
	icmp[8 + 20] ^= 0x40;
	send_from(&r, dev, icmp, sizeof(icmp));
	/* 7 duplicate of the genuine reply */
	send_from(&r, dev, q.reply, sizeof(q.reply));
	/* 8 another identifier: delivered to no socket of ours */
	memcpy(icmp, q.reply, sizeof(icmp));
	icmp[5] ^= 1;
	io_test_fix_sum(icmp, sizeof(icmp));
	send_from(&r, dev, icmp, sizeof(icmp));
	sleep_ms(100);
	rig_stop(&r, &st);
	cr_expect_eq(st.probes_sent, 1);
	cr_expect_eq(st.replies, 1, "only the genuine reply");
	cr_expect_eq(st.timeouts, 0);
	expect_kinds(&st, want);
	rig_free(&r);
}

Test(replies, forged_on_ping_socket_counted_by_kind_uring)
{
	forged_on_dgram(RP_BACKEND_URING);
}

Test(replies, forged_on_ping_socket_counted_by_kind_mmsg)
{
	forged_on_dgram(RP_BACKEND_MMSG);
}
