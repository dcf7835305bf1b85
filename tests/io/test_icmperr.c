/* ICMP errors that quote our probes (issue 15): the kernel's own, for real, on raw
 * sockets (as datagrams) and datagram ones (from the error queue), both backends. A second
 * network namespace is a router (forwarding on, no ICMP rate limit) behind a veth
 * pair; its routes answer with destination unreachable (an `unreachable` route: host,
 * IPv6 no route), administratively prohibited (`prohibit`) and, for probes sent with
 * TTL / hop limit 1, time exceeded. An nftables `reject` on our own output chain makes
 * the local stack answer too (the send then fails with EPERM as well). An error that
 * quotes only the echo header (RFC 792's 8 bytes, which Linux never sends) is made by
 * hand from a raw socket in the router's namespace. Each error must end its probe at
 * once, long before the timeout, as failed with the error's class, type, code and
 * sender, and count in icmp_errors rather than timeouts; a monitored device goes down
 * with reason unreachable; a round counts its errors.
 *
 * Every test runs in its own process (Criterion forks one per test) in a namespace of
 * its own, and sends only to 198.18.0.0/15 and 2001:2::/48 there. Root is needed
 * (raw sockets, CLONE_NEWNET); without it the tests are skipped, never passed. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/shard.h"
#include "io_cr.h"
#include "io_test.h"
#include "ringprobe/conf.h"
#include "ringprobe/event.h"
#include "ringprobe/icmp.h"
#include "ringprobe/prober.h"
#include "ringprobe/spsc.h"

#define MS 1000000ull
#define TIMEOUT_MS 3000u
#define IDENT 0x6e72

static const struct rp_siphash_key key = {0x69636d7065727221ull, 0x0123456789abcdefull};

static const struct combo {
	int backend, mode;
	const char *name;
} combos[] = {
    {RP_BACKEND_URING, RP_ICMP_RAW, "uring/raw"},
    {RP_BACKEND_MMSG, RP_ICMP_RAW, "mmsg/raw"},
    {RP_BACKEND_URING, RP_ICMP_DGRAM, "uring/dgram"},
    {RP_BACKEND_MMSG, RP_ICMP_DGRAM, "mmsg/dgram"},
};

static pid_t router = -1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Our namespace (lo up, ping sockets for every group) and the router's: a child
 * process in a namespace of its own, which dies with us. */
static void netns(void)
{
	const char *what;
	char cmd[1024];
	int rc, p[2];
	char c;

	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets, private network namespaces)");
	rc = io_test_netns(&what);
	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
	cr_assert_eq(sup_sysctl_set("/proc/sys/net/ipv4/ping_group_range", "0 2147483647"), 0);
	cr_assert_eq(pipe(p), 0);
	router = fork();
	cr_assert_geq(router, 0);
	if (router == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1);
	cr_assert_eq(c, 'y', "the router's unshare(CLONE_NEWNET) failed");
	close(p[0]);
	sh("ip link add va0 type veth peer name va1");
	snprintf(cmd, sizeof(cmd), "ip link set va1 netns %d", (int)router);
	sh(cmd);
	sh("ip link set va0 up && ip addr add 198.18.1.1/24 dev va0 && "
	   "ip -6 addr add 2001:2:1::1/64 dev va0 nodad && "
	   "ip route add 198.18.0.0/15 via 198.18.1.2 dev va0");
	snprintf(
	    cmd, sizeof(cmd),
	    "nsenter -t %d -n sh -ec '"
	    "ip link set lo up; ip link set va1 up; "
	    "ip addr add 198.18.1.2/24 dev va1; ip -6 addr add 2001:2:1::2/64 dev va1 nodad; "
	    "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 "
	    "net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0; "
	    "ip route add unreachable 198.18.3.0/24; ip route add prohibit 198.18.4.0/24; "
	    "ip route add 198.18.2.0/24 via 198.18.1.1; ip route add blackhole 198.18.5.0/24; "
	    "ip -6 route add unreachable 2001:2:3::/64; ip -6 route add prohibit 2001:2:4::/64; "
	    "ip -6 route add 2001:2:2::/64 via 2001:2:1::1'",
	    (int)router);
	sh(cmd);
	/* IPv6 routes through the router once its address is usable. */
	for (int i = 2; i <= 4; i++) {
		snprintf(cmd, sizeof(cmd), "ip -6 route add 2001:2:%d::/64 via 2001:2:1::2 dev va0",
			 i);
		sh(cmd);
	}
}

static void fini(void)
{
	if (router > 0) {
		kill(router, SIGKILL);
		waitpid(router, NULL, 0);
		router = -1;
	}
}

TestSuite(icmperr, .init = netns, .fini = fini, .timeout = 120);

/* What one shard run gave. */
struct outcome {
	struct rp_probe_result r[16];
	uint32_t n;
	struct rp_event ev[32];
	uint32_t nev;
	uint64_t elapsed_ns; /* from start until the results wanted were all in */
	struct rp_shard_stats st;
};

struct opts {
	int ttl;
	uint32_t count;	     /* probes (0: monitored, until `want` results) */
	uint32_t want;	     /* results to wait for */
	uint32_t ping_count; /* rounds */
	bool states;
	bool no_txstamp;      /* transmit stamps masked off */
	void (*during)(void); /* called once the shard runs */
};

static void run(const struct combo *cb, const struct rp_ip *dst, const struct opts *op,
		struct outcome *o)
{
	struct rp_shard_conf sc = {.index = 0,
				   .capacity = 4,
				   .timeout_ns = TIMEOUT_MS * MS,
				   .burst = 1,
				   .tick_ns = 5 * MS,
				   .result_ring = 64,
				   .cmd_ring = 64,
				   .key = key,
				   .backend = cb->backend,
				   .icmp_mode = cb->mode,
				   .feature_mask = op->no_txstamp
						       ? RP_FEAT_ALL & ~(unsigned)RP_FEAT_TX_STAMP
						       : RP_FEAT_ALL,
				   .send_slots = 16,
				   .recv_bufs = 64,
				   .rcvbuf_bytes = 1 << 20,
				   .ident = IDENT,
				   .pkt = {.ttl = op->ttl},
				   .ping_count = op->ping_count,
				   .rounds = op->ping_count > 1,
				   .states = op->states,
				   .down_after = 1,
				   .up_after = 1};
	struct rp_shard_dev d = {
	    .addr = *dst, .id = 7, .interval_ms = 50, .count = op->count, .immediate = true};
	struct rp_shard *s;
	char why[512];
	uint64_t t0;

	memset(o, 0, sizeof(*o));
	cr_assert_eq(rp_shard_create(&s, &sc, why, sizeof(why)), 0, "%s: %s", cb->name, why);
	cr_assert_eq(rp_shard_add(s, &d), 0);
	t0 = now_ns();
	cr_assert_eq(rp_shard_start(s), 0);
	if (op->during)
		op->during();
	while (o->n < op->want && now_ns() - t0 < (uint64_t)(TIMEOUT_MS + 2000) * MS) {
		uint32_t n = rp_spsc_pop(rp_shard_results(s), o->r + o->n, op->want - o->n);

		o->n += n;
		if (rp_shard_events(s))
			o->nev += rp_spsc_pop(rp_shard_events(s), o->ev + o->nev,
					      RP_ARRAY_SIZE(o->ev) - o->nev);
		if (!n)
			usleep(1000);
	}
	o->elapsed_ns = now_ns() - t0;
	rp_shard_stop(s);
	if (rp_shard_events(s))
		o->nev +=
		    rp_spsc_pop(rp_shard_events(s), o->ev + o->nev, RP_ARRAY_SIZE(o->ev) - o->nev);
	rp_shard_stats(s, &o->st);
	rp_shard_destroy(s);
}

/* `count` probes to dst (TTL ttl; 0 = the kernel's) on every raw combination: each
 * result an error of class err, type and code, from `from` (IPv4) or none, well
 * before the timeout. */
static void expect_errors(const char *target, int ttl, enum rp_icmp_err err, uint8_t type,
			  uint8_t code, const char *from)
{
	struct rp_ip dst = ip_of(target);
	/* One per combination: the router's `unreachable` and `prohibit` routes answer
	 * through ip_error(), whose limit (net.ipv4.route.error_burst, a host-wide sysctl
	 * left alone) allows 5 errors in a burst per source. */
	struct opts op = {.ttl = ttl, .count = 1, .want = 1};

	for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
		const struct combo *cb = &combos[c];
		struct outcome o;

		run(cb, &dst, &op, &o);
		cr_log_info("%s %s: %u results in %.1f ms, icmp_errors %llu, timeouts %llu, "
			    "sent %llu, send errors %llu",
			    cb->name, target, o.n, (double)o.elapsed_ns / 1e6,
			    (unsigned long long)o.st.icmp_errors, (unsigned long long)o.st.timeouts,
			    (unsigned long long)o.st.probes_sent,
			    (unsigned long long)o.st.send_errors);
		for (int k = 1; k < RP_REPLY_KIND_COUNT; k++)
			if (o.st.invalid[k])
				cr_log_info("%s %s: %llu %s", cb->name, target,
					    (unsigned long long)o.st.invalid[k],
					    rp_reply_kind_name((enum rp_reply_kind)k));
		cr_assert_eq(o.n, 1, "%s %s: %u results", cb->name, target, o.n);
		cr_expect_lt(o.elapsed_ns, (uint64_t)TIMEOUT_MS * MS / 2,
			     "%s %s: the errors did not end the probes at once (%.0f ms)", cb->name,
			     target, (double)o.elapsed_ns / 1e6);
		for (uint32_t i = 0; i < o.n; i++) {
			const struct rp_probe_result *r = &o.r[i];
			char got[RP_IP_STRLEN];

			cr_expect_eq(r->success, 0);
			cr_expect_eq(r->error, err, "%s %s: error %u (%s), not %s", cb->name,
				     target, r->error, rp_icmp_err_name(r->error),
				     rp_icmp_err_name(err));
			cr_expect_eq(r->icmp_type, type, "%s: type %u", cb->name, r->icmp_type);
			cr_expect_eq(r->icmp_code, code, "%s: code %u", cb->name, r->icmp_code);
			cr_expect(rp_ip_eq(&r->addr, &dst), "%s: result for %s", cb->name,
				  rp_ip_format(&r->addr, got));
			cr_expect_eq(r->id, 7);
			if (from) {
				struct rp_ip f = ip_of(from);

				cr_expect_eq(memcmp(r->from4, f.b + 12, 4), 0,
					     "%s: from %u.%u.%u.%u, not %s", cb->name, r->from4[0],
					     r->from4[1], r->from4[2], r->from4[3], from);
			} else {
				static const uint8_t zero[4];

				cr_expect_eq(memcmp(r->from4, zero, 4), 0);
			}
		}
		cr_expect_eq(o.st.icmp_errors, 1, "%s: icmp_errors %llu", cb->name,
			     (unsigned long long)o.st.icmp_errors);
		cr_expect_eq(o.st.icmp_errors_short, 0);
		cr_expect_eq(o.st.timeouts, 0, "%s: timeouts %llu", cb->name,
			     (unsigned long long)o.st.timeouts);
		cr_expect_eq(o.st.replies, 0);
	}
}

Test(icmperr, router_host_unreachable_v4)
{
	expect_errors("198.18.3.5", 0, RP_ERR_HOST, 3, 1, "198.18.1.2");
}

Test(icmperr, router_prohibited_v4)
{
	expect_errors("198.18.4.5", 0, RP_ERR_PROHIBITED, 3, 13, "198.18.1.2");
}

Test(icmperr, router_time_exceeded_v4)
{
	expect_errors("198.18.2.5", 1, RP_ERR_TIME_EXCEEDED, 11, 0, "198.18.1.2");
}

Test(icmperr, router_no_route_v6)
{
	expect_errors("2001:2:3::5", 0, RP_ERR_NET, 1, 0, NULL);
}

Test(icmperr, router_prohibited_v6)
{
	expect_errors("2001:2:4::5", 0, RP_ERR_PROHIBITED, 1, 1, NULL);
}

Test(icmperr, router_time_exceeded_v6)
{
	expect_errors("2001:2:2::5", 1, RP_ERR_TIME_EXCEEDED, 3, 0, NULL);
}

/* The local stack's own reject (nftables on output): the send fails with EPERM and an
 * error comes back from our own address. */
Test(icmperr, local_reject_v4_and_v6)
{
	sh("nft add table inet rj && nft add chain inet rj out '{ type filter hook output "
	   "priority 0; }' && nft add rule inet rj out ip daddr 198.18.6.5 icmp type "
	   "echo-request reject with icmp type host-unreachable && nft add rule inet rj out "
	   "ip6 daddr 2001:2:6::5 icmpv6 type echo-request reject with icmpx type "
	   "admin-prohibited");
	sh("ip -6 route add 2001:2:6::/64 via 2001:2:1::2 dev va0");
	expect_errors("198.18.6.5", 0, RP_ERR_HOST, 3, 1, "198.18.1.1");
	expect_errors("2001:2:6::5", 0, RP_ERR_PROHIBITED, 1, 1, NULL);
}

/* A monitored device whose probes meet errors goes down with reason unreachable and
 * the error; its rounds count them. Time exceeded (TTL 1), which the router sends
 * without ip_error()'s limit. */
Test(icmperr, state_down_reason_unreachable_and_round_errors)
{
	struct rp_ip dst = ip_of("198.18.2.7");
	struct opts op = {.ttl = 1, .count = 0, .want = 4, .ping_count = 2, .states = true};

	for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
		const struct combo *cb = &combos[c];
		struct outcome o;
		uint32_t states = 0, rounds = 0;

		run(cb, &dst, &op, &o);
		cr_assert_geq(o.n, 4, "%s: %u results", cb->name, o.n);
		for (uint32_t i = 0; i < o.nev; i++) {
			const struct rp_event *e = &o.ev[i];

			if (e->kind == RP_EVENT_STATE) {
				states++;
				cr_expect_eq(e->u.state.state, RP_STATE_DOWN);
				cr_expect_eq(e->u.state.reason, RP_REASON_UNREACHABLE,
					     "%s: reason %s", cb->name,
					     rp_state_reason_name(e->u.state.reason));
				cr_expect_eq(e->u.state.error, RP_ERR_TIME_EXCEEDED);
				cr_expect_eq(e->u.state.icmp_type, 11);
				cr_expect_eq(e->u.state.icmp_code, 0);
			} else if (e->kind == RP_EVENT_ROUND) {
				rounds++;
				cr_expect_eq(e->u.round.sent, 2);
				cr_expect_eq(e->u.round.received, 0);
				cr_expect_eq(e->u.round.errors, 2, "%s: round errors %u", cb->name,
					     e->u.round.errors);
				cr_expect_eq(e->u.round.error, RP_ERR_TIME_EXCEEDED);
			}
		}
		cr_expect_eq(states, 1, "%s: %u state events", cb->name, states);
		cr_expect_geq(rounds, 1, "%s: no round event", cb->name);
		cr_expect_eq(o.st.devices_down, 1);
		cr_expect_eq(o.st.timeouts, 0);
		cr_expect_str_eq(rp_state_reason_name(RP_REASON_UNREACHABLE), "unreachable");
	}
}

/* An error quoting only our echo header (8 bytes), sent from the router's namespace
 * by hand (raw sockets: a datagram socket's identifier is the kernel's) for the first probe to
 * 198.18.5.5 (blackholed there): matched by address and sequence. Then one with another identifier
 * and one for another address: never matched, the probe times out. */
static int router_raw(void)
{
	char path[64];
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ns, fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)router);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(self >= 0 && ns >= 0);
	cr_assert_eq(setns(ns, CLONE_NEWNET), 0, "setns: %s", strerror(errno));
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	cr_assert_eq(setns(self, CLONE_NEWNET), 0);
	close(ns);
	close(self);
	cr_assert_geq(fd, 0);
	return fd;
}

static uint16_t short_ident = IDENT;
static uint8_t short_dst4 = 5;

static void send_short_error(void)
{
	unsigned char e[8 + 20 + 8] = {3, 1};
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xc6120101)};
	int fd = router_raw();

	usleep(100000); /* the probe is out */
	e[8] = 0x45;
	e[8 + 3] = 20 + 64;
	e[8 + 8] = 63;
	e[8 + 9] = 1;
	memcpy(e + 8 + 12, (unsigned char[]){198, 18, 1, 1}, 4);
	memcpy(e + 8 + 16, (unsigned char[]){198, 18, 5, short_dst4}, 4);
	e[28] = 8;
	e[28 + 4] = (unsigned char)(short_ident >> 8);
	e[28 + 5] = (unsigned char)short_ident;
	e[28 + 7] = 1; /* the first probe's sequence */
	io_test_fix_sum(e, sizeof(e));
	cr_assert_eq(sendto(fd, e, sizeof(e), 0, (struct sockaddr *)&to, sizeof(to)),
		     (ssize_t)sizeof(e), "%s", strerror(errno));
	close(fd);
}

Test(icmperr, eight_byte_quote_matches_by_sequence)
{
	struct rp_ip dst = ip_of("198.18.5.5");
	struct opts op = {.count = 1, .want = 1, .during = send_short_error};

	for (size_t c = 0; c < 2; c++) {
		struct outcome o;

		short_ident = IDENT;
		short_dst4 = 5;
		run(&combos[c], &dst, &op, &o);
		cr_assert_eq(o.n, 1);
		cr_expect_eq(o.r[0].error, RP_ERR_HOST, "%s: error %u", combos[c].name,
			     o.r[0].error);
		cr_expect_eq(o.st.icmp_errors, 1);
		cr_expect_eq(o.st.icmp_errors_short, 1);
		cr_expect_lt(o.elapsed_ns, (uint64_t)TIMEOUT_MS * MS / 2);
		/* Not ours: another identifier (the filter drops it), another address. */
		short_ident = IDENT ^ 1;
		run(&combos[c], &dst, &op, &o);
		cr_assert_eq(o.n, 1);
		cr_expect_eq(o.r[0].error, 0);
		cr_expect_eq(o.st.icmp_errors, 0);
		cr_expect_eq(o.st.timeouts, 1);
		short_ident = IDENT;
		short_dst4 = 6;
		run(&combos[c], &dst, &op, &o);
		cr_assert_eq(o.n, 1);
		cr_expect_eq(o.r[0].error, 0, "%s: an error for 198.18.5.6 ended the probe to .5",
			     combos[c].name);
		cr_expect_eq(o.st.icmp_errors, 0);
		cr_expect_eq(o.st.timeouts, 1);
	}
}

/* Datagram sockets without transmit stamps read their error queue only when a receive
 * reports the socket's pending error: the error still ends the probe at once, and
 * replies and errors cost no extra system call otherwise. */
Test(icmperr, dgram_errors_without_transmit_stamps)
{
	struct rp_ip dst = ip_of("198.18.2.9"), dst6 = ip_of("2001:2:2::9");
	struct opts op = {.ttl = 1, .count = 2, .want = 2, .no_txstamp = true};

	for (size_t c = 2; c < RP_ARRAY_SIZE(combos); c++) {
		for (int v6 = 0; v6 <= 1; v6++) {
			struct outcome o;

			run(&combos[c], v6 ? &dst6 : &dst, &op, &o);
			cr_assert_eq(o.n, 2, "%s: %u results", combos[c].name, o.n);
			cr_expect_eq(o.r[0].error, RP_ERR_TIME_EXCEEDED, "%s v6 %d", combos[c].name,
				     v6);
			cr_expect_eq(o.r[1].error, RP_ERR_TIME_EXCEEDED, "%s v6 %d", combos[c].name,
				     v6);
			cr_expect_eq(o.st.icmp_errors, 2);
			cr_expect_eq(o.st.tx_stamped, 0);
			cr_expect_lt(o.elapsed_ns, (uint64_t)TIMEOUT_MS * MS / 2, "%s: %.0f ms",
				     combos[c].name, (double)o.elapsed_ns / 1e6);
		}
	}
}
