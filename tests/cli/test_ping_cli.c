/* `ringprobe ping` and `sweep` end to end, as root, each in a private network namespace
 * (unshare(CLONE_NEWNET), lo up): only loopback exists there, so nothing can leave and
 * other processes' ICMP cannot disturb the counts. Compared with fping on the same targets. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "support/servers.h"
#include "support/support.h"

#define BIN RP_BUILD_ROOT "/src/cli/ringprobe"

struct result {
	int status;
	char *out;
	char *err;
};

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets and a private network namespace)");
}

/* This test process moves into a network namespace of its own with lo up; commands run
 * with sup_run() from here on share it, and a raw socket here sees their requests. */
static void netns_here(void)
{
	const char *what;
	int rc;

	need_root();
	rc = sup_netns_enter(SUP_NETNS_LO_UP, &what);
	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
}

/* Runs `script` with sh inside a new network namespace whose loopback is up. */
static void in_netns(struct result *r, const char *script)
{
	r->status = sup_run(script, SUP_RUN_NETNS, &r->out, &r->err);
	cr_assert_geq(r->status, 0, "%s: did not exit normally", script);
}

/* Runs cmd here (in the namespace), output kept; returns its wall time in ns. */
static uint64_t run_here(struct result *r, const char *cmd)
{
	double t0 = sup_now();

	r->status = sup_run(cmd, 0, &r->out, &r->err);
	t0 = sup_now() - t0;
	cr_assert_geq(r->status, 0, "%s: did not exit normally", cmd);
	return (uint64_t)(t0 * 1e9);
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Replaces every number after "min/avg/max = " and every "x.yyy ms" time with "T",
 * so two tools' lines compare on everything but timing. */
static void mask_times(char *s)
{
	char *p = s, *w = s;

	while (*p) {
		if (isdigit((unsigned char)*p) &&
		    (p == s || p[-1] == ' ' || p[-1] == '/' || p[-1] == '(')) {
			char *q = p;
			bool dot = false;

			while (isdigit((unsigned char)*q) || *q == '.') {
				dot = dot || *q == '.';
				q++;
			}
			if (dot) {
				*w++ = 'T';
				p = q;
				continue;
			}
		}
		*w++ = *p++;
	}
	*w = '\0';
}

Test(ping_cli, quiet_count_summary_matches_fping_line_by_line, .timeout = 60)
{
	struct result rp, fp;
	const char *targets = "127.0.0.1 127.0.0.2 127.0.0.10 127.1.2.3";
	char script[1024];

	need_root();
	/* 127.0.0.10 is dropped by an nftables rule: a down device for both tools. */
	snprintf(script, sizeof(script),
		 "nft add table ip t && nft add chain ip t o \"{ type filter hook output "
		 "priority 0; }\" && nft add rule ip t o ip daddr 127.0.0.10 icmp type "
		 "echo-request drop && %s ping -q -c 3 -p 200 -t 150 %s",
		 BIN, targets);
	in_netns(&rp, script);
	snprintf(script, sizeof(script),
		 "nft add table ip t && nft add chain ip t o \"{ type filter hook output "
		 "priority 0; }\" && nft add rule ip t o ip daddr 127.0.0.10 icmp type "
		 "echo-request drop && fping -q -c 3 -p 200 -t 150 %s",
		 targets);
	in_netns(&fp, script);
	cr_assert_eq(rp.status, 1, "some target did not answer: exit 1 (%s)", rp.err);
	cr_assert_eq(fp.status, 1, "fping: %s", fp.err);
	cr_assert_str_eq(rp.out, "");
	cr_assert_not_null(strstr(rp.err, "127.0.0.10 : xmt/rcv/%loss = 3/0/100%\n"), "%s", rp.err);
	cr_assert_not_null(strstr(rp.err, "127.0.0.1  : xmt/rcv/%loss = 3/3/0%, min/avg/max = "),
			   "%s", rp.err);
	mask_times(rp.err);
	mask_times(fp.err);
	cr_assert_str_eq(rp.err, fp.err);
	result_free(&rp);
	result_free(&fp);
}

/* IPv6 targets print exactly as fping 5.1 prints them (fping -6): per-probe lines, the
 * -q -c summaries with a down device (an nftables drop) and the alive/unreachable lines,
 * inside a namespace where 2001:2::/64 is local (the kernel answers every address). */
Test(ping_cli, ipv6_output_matches_fping_6, .timeout = 90)
{
	static const char *const runs[] = {
	    "-q -c 3 -p 200 -t 150 ::1 2001:2::1 2001:2::a 2001:2::1:0",
	    "-c 2 -p 100 ::1 2001:2::7",
	    "::1 2001:2::ff 2001:2::a",
	    "-c 2 -p 100 -q ::1",
	};
	/* 2001:2::a's replies are dropped on the way in (a drop of the request on the way
	 * out fails the send, which fping reports on a line of its own without -q). */
	const char *setup = "ip -6 route add local 2001:2::/64 dev lo && nft add table ip6 t && "
			    "nft add chain ip6 t i \"{ type filter hook input priority 0; }\" && "
			    "nft add rule ip6 t i ip6 saddr 2001:2::a icmpv6 type echo-reply drop";
	struct result rp, fp;
	char script[1024];

	need_root();
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		snprintf(script, sizeof(script), "%s && %s ping -6 %s", setup, BIN, runs[i]);
		in_netns(&rp, script);
		snprintf(script, sizeof(script), "%s && fping -6 %s", setup, runs[i]);
		in_netns(&fp, script);
		cr_assert_eq(rp.status, fp.status, "%s: exit %d, fping %d\n%s", runs[i], rp.status,
			     fp.status, rp.err);
		mask_times(rp.out);
		mask_times(fp.out);
		mask_times(rp.err);
		mask_times(fp.err);
		cr_assert_str_eq(rp.out, fp.out, "%s", runs[i]);
		cr_assert_str_eq(rp.err, fp.err, "%s", runs[i]);
		result_free(&rp);
		result_free(&fp);
	}
}

Test(ping_cli, per_probe_lines_match_fping, .timeout = 60)
{
	struct result rp, fp;

	need_root();
	in_netns(&rp, BIN " ping -c 2 -p 100 127.0.0.1");
	in_netns(&fp, "fping -c 2 -p 100 127.0.0.1");
	cr_assert_eq(rp.status, 0, "%s", rp.err);
	mask_times(rp.out);
	mask_times(fp.out);
	mask_times(rp.err);
	mask_times(fp.err);
	cr_assert_str_eq(rp.out, fp.out);
	cr_assert_str_eq(rp.err, fp.err);
	result_free(&rp);
	result_free(&fp);
}

Test(ping_cli, alive_mode_and_json, .timeout = 60)
{
	struct result r;

	need_root();
	in_netns(&r, BIN " ping 127.0.0.1 127.0.0.2");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "127.0.0.1 is alive\n"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "127.0.0.2 is alive\n"), "%s", r.out);
	result_free(&r);
	in_netns(&r, BIN " ping --output json -c 2 -p 50 127.0.0.0/30");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "{\"target\":\"127.0.0.1\",\"sent\":2,\"received\":2,"
					 "\"loss_pct\":0,\"rtt_ms\":{\"min\":"),
			   "%s", r.out);
	cr_assert_not_null(strstr(r.out, "{\"target\":\"127.0.0.2\""), "%s", r.out);
	cr_assert_null(strstr(r.out, "127.0.0.3"), "broadcast address not probed");
	result_free(&r);
}

/* Targets by name, from a private dnsmasq on loopback (never the system's resolver):
 * a name prints as given, one that does not resolve is reported as fping reports it
 * and makes the exit status 2 after the others were probed; -4/-6 pick the family. */
Test(ping_cli, names_resolve_through_the_configured_server, .timeout = 60)
{
	struct srv_dns dns = {0};
	struct srv_dns_opts o = {.ttl_s = 60,
				 .hosts = "127.0.0.7 dev7.test\n"
					  "127.0.0.8 dev8.test\n"
					  "::1 dev8.test\n"
					  "::1 only6.test\n"};
	struct result r;
	char cmd[512];

	netns_here();
	cr_assert_eq(srv_dns_start(&dns, &o), 0, "%s", dns.why);
	snprintf(cmd, sizeof(cmd), BIN " ping --dns-servers %s dev7.test nosuch.test 127.0.0.9",
		 dns.server);
	run_here(&r, cmd);
	cr_assert_eq(r.status, 2, "an unresolved name: exit 2\n%s%s", r.out, r.err);
	cr_assert_str_eq(r.out, "dev7.test is alive\n127.0.0.9 is alive\n");
	cr_assert_not_null(strstr(r.err, "nosuch.test: Name or service not known\n"), "%s", r.err);
	result_free(&r);
	cr_assert_geq(srv_dns_queries(&dns, "A", "dev7.test"), 1, "asked the test's server");

	snprintf(cmd, sizeof(cmd),
		 BIN " ping -q -c 2 -p 20 -4 --dns-servers %s dev8.test only6.test", dns.server);
	run_here(&r, cmd);
	cr_assert_eq(r.status, 2, "%s%s", r.out, r.err);
	cr_assert_not_null(strstr(r.err, "only6.test: No address associated with hostname\n"),
			   "-4 and a name with only an AAAA record: %s", r.err);
	mask_times(r.err);
	cr_assert_not_null(
	    strstr(r.err, "dev8.test : xmt/rcv/%loss = 2/2/0%, min/avg/max = T/T/T\n"), "%s",
	    r.err);
	cr_assert_eq(srv_dns_queries(&dns, "AAAA", "dev8.test"), 0, "-4 asks for A records only");
	result_free(&r);

	snprintf(cmd, sizeof(cmd), BIN " ping --output json --dns-servers %s dev8.test",
		 dns.server);
	run_here(&r, cmd);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert_not_null(strstr(r.out,
				  "{\"target\":\"dev8.test\",\"ip\":\"127.0.0.8\",\"sent\":1,"
				  "\"received\":1,"),
			   "without a route beyond the host, IPv4 is preferred: %s", r.out);
	result_free(&r);

	run_here(&r, BIN " ping -6 127.0.0.1");
	cr_assert_eq(r.status, 2, "%s%s", r.out, r.err);
	cr_assert_str_eq(r.err, "127.0.0.1: Address family for hostname not supported\n");
	result_free(&r);
	srv_dns_cleanup(&dns);
}

/* fping 5.1 cannot keep 20,000 targets in its loop (its 65,535-entry sequence map
 * runs out); ringprobe keeps every one for the whole run. */
/* 20,000 distinct loopback addresses, one per line, for @file targets. */
static const char *targets_file(unsigned n)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/rp-targets-%d.txt", getpid());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "# %u loopback targets\n", n);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "127.%u.%u.%u\n", 1 + i / 65024, i / 254 % 256, 1 + i % 254);
	fclose(f);
	return path;
}

Test(ping_cli, twenty_thousand_targets_ten_rounds, .timeout = 120)
{
	struct result r;
	unsigned lines = 0, full = 0;
	char script[256];
	const char *path = targets_file(20000);

	need_root();
	snprintf(script, sizeof(script), "%s ping -q -c 10 -p 1000 -t 500 @%s", BIN, path);
	in_netns(&r, script);
	unlink(path);
	cr_assert_eq(r.status, 0, "%.2000s", r.err);
	for (char *p = r.err; (p = strstr(p, "xmt/rcv/%loss = ")); p++) {
		lines++;
		full += strncmp(p, "xmt/rcv/%loss = 10/10/0%", 24) == 0;
	}
	cr_assert_eq(lines, 20000);
	cr_assert_eq(full, lines, "every probe of every target answered");
	result_free(&r);
}

Test(ping_cli, a_million_loopback_targets_once, .timeout = 180)
{
	struct result r;
	char *p;
	unsigned long alive = 0;

	need_root();
	/* 127.0.0.0/12 holds 1,048,574 hosts. Under AddressSanitizer (which looks for memory
	 * errors, not for scale) a quarter of them: 127.0.0.0/14. */
#ifdef __SANITIZE_ADDRESS__
	in_netns(&r, BIN " ping --allow-large --rate 100000 -t 1000 127.0.0.0/14 | grep -c "
			 "\"is alive\"");
	alive = strtoul(r.out, &p, 10);
	cr_assert_eq(alive, 262142, "alive=%lu err=%.1000s", alive, r.err);
#else
	in_netns(&r, BIN " ping --allow-large --rate 100000 -t 1000 127.0.0.0/12 | grep -c "
			 "\"is alive\"");
	alive = strtoul(r.out, &p, 10);
	cr_assert_eq(alive, 1048574, "alive=%lu err=%.1000s", alive, r.err);
#endif
	result_free(&r);
}

Test(ping_cli, sweep_lists_alive_hosts, .timeout = 60)
{
	struct result r;
	unsigned lines = 0;

	need_root();
	in_netns(&r, BIN " sweep --rate 50000 127.0.0.0/22 127.9.0.0/30 | sort -t. -k1,1n -k2,2n "
			 "-k3,3n -k4,4n");
	cr_assert_eq(r.status, 0, "%s", r.err);
	for (char *p = r.out; (p = strchr(p, '\n')); p++)
		lines++;
	cr_assert_eq(lines, 1022 + 2);
	cr_assert(strncmp(r.out, "127.0.0.1\n127.0.0.2\n", 20) == 0, "%.100s", r.out);
	cr_assert_not_null(strstr(r.out, "127.9.0.2\n"));
	cr_assert_null(strstr(r.out, "127.0.3.255\n"), "broadcast address not probed");
	cr_assert_not_null(strstr(r.err, "swept 1024 hosts in 2 networks"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, ": 1024 alive"), "%s", r.err);
	result_free(&r);
}

Test(ping_cli, dgram_and_mmsg_paths_work_from_the_command_line, .timeout = 60)
{
	struct result r;

	need_root();
	in_netns(&r, "echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range && " BIN
		     " ping --icmp-mode dgram --backend mmsg -q -c 2 -p 100 127.0.0.1 127.0.0.2");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "127.0.0.2 : xmt/rcv/%loss = 2/2/0%"), "%s", r.err);
	result_free(&r);
	in_netns(&r, "RINGPROBE_DISABLE=multishot,send_addr " BIN
		     " ping --icmp-mode raw -q -c 2 -p 100 127.0.0.1");
	cr_assert_eq(r.status, 0, "%s", r.err);
	result_free(&r);
}

/* Sockets first, then --user: the probes still work with every capability gone. */
Test(ping_cli, user_drops_privileges_after_opening_sockets, .timeout = 60)
{
	struct result r;

	need_root();
	in_netns(&r, BIN " ping --user nobody --log-level info -q -c 2 -p 100 127.0.0.1");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "msg=\"privileges dropped\" user=nobody"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "127.0.0.1 : xmt/rcv/%loss = 2/2/0%"), "%s", r.err);
	result_free(&r);
	in_netns(&r, BIN " ping --user no-such-user-rp -c 1 127.0.0.1");
	cr_assert_eq(r.status, 3, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "no-such-user-rp"), "%s", r.err);
	result_free(&r);
}

/* `ping --influxdb-url` writes each result as a `ping` point: a real influxd, started
 * inside the test's own namespace and stopped by PID, counts them. */
Test(ping_cli, influxdb_url_writes_every_result, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct result r;
	char cmd[512], url[256], *q, *body = NULL;
	long status;

	netns_here();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "cannot start influxd: %s", s.why);
	snprintf(cmd, sizeof(cmd),
		 "%s ping --influxdb-url %s --influxdb-database rp --spool-max-bytes 0 -q -c 5 "
		 "-p 100 127.0.0.1 127.0.0.2 127.0.0.3",
		 BIN, s.url);
	run_here(&r, cmd);
	cr_assert_eq(r.status, 0, "%s", r.err);
	/* A plain GET without epoch=, so each time reads as RFC 3339. */
	q = curl_easy_escape(NULL,
			     "SELECT count(success) FROM ping WHERE success = true GROUP BY ip", 0);
	snprintf(url, sizeof(url), "%s/query?db=rp&q=%s", s.url, q);
	curl_free(q);
	srv_http("GET", url, NULL, 0, NULL, &body, &status);
	for (int i = 1; i <= 3; i++) {
		char needle[128];

		snprintf(
		    needle, sizeof(needle),
		    "{\"name\":\"ping\",\"tags\":{\"ip\":\"127.0.0.%d\"},\"columns\":[\"time\","
		    "\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",5]]}",
		    i);
		cr_expect_not_null(body ? strstr(body, needle) : NULL, "%s not in %s", needle,
				   body ? body : "");
	}
	free(body);
	result_free(&r);
	srv_cleanup(&s);
}

/* --- what went on the wire: the echo requests and when ----------------------------- */

/* A raw ICMP socket with kernel receive timestamps, room for every packet of a run. */
static int capture_open(void)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP), one = 1, big = 16 << 20;

	cr_assert_geq(fd, 0, "raw socket: %s", strerror(errno));
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)), 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
	return fd;
}

#define MAX_SENDS 2048

struct sends {
	unsigned n;
	uint64_t ns[MAX_SENDS]; /* kernel time each request reached lo, in order */
	unsigned idents;	/* distinct ICMP identifiers: one per shard (raw mode) */
};

static void capture_drain(int fd, struct sends *s)
{
	uint16_t seen[16];
	unsigned char buf[256];
	char ctl[128];

	memset(s, 0, sizeof(*s));
	for (;;) {
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl,
				   .msg_controllen = sizeof(ctl)};
		ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);
		unsigned hl;
		uint16_t id;
		bool known = false;

		if (n < 0)
			break;
		hl = (buf[0] & 0xfu) * 4;
		if ((size_t)n < hl + 8 || buf[hl] != 8 || s->n == MAX_SENDS)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				s->ns[s->n] =
				    (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
			}
		}
		s->n++;
		id = (uint16_t)(buf[hl + 4] << 8 | buf[hl + 5]);
		for (unsigned i = 0; i < s->idents && i < 16; i++)
			known = known || seen[i] == id;
		if (!known && s->idents < 16)
			seen[s->idents++] = id;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Gaps between consecutive requests, sorted, in ms. */
static unsigned gaps_ms(const struct sends *s, double *out)
{
	static uint64_t g[MAX_SENDS];

	for (unsigned i = 1; i < s->n; i++)
		g[i - 1] = s->ns[i] - s->ns[i - 1];
	qsort(g, s->n - 1, sizeof(g[0]), cmp_u64);
	for (unsigned i = 0; i + 1 < s->n; i++)
		out[i] = (double)g[i] / 1e6;
	return s->n - 1;
}

/* `ping -i MS`: the least time between any two packets, as fping's -i. */
static void expect_spacing(unsigned interval_ms, unsigned n_hosts, const char *cidr)
{
	static struct sends s;
	static double g[MAX_SENDS];
	struct result r;
	char cmd[256];
	uint64_t wall;
	double span, short_gaps = 0;
	unsigned ng;
	int fd;

	netns_here();
	fd = capture_open();
	snprintf(cmd, sizeof(cmd), "%s ping -q -i %u -t 200 %s", BIN, interval_ms, cidr);
	wall = run_here(&r, cmd);
	capture_drain(fd, &s);
	close(fd);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(s.n, n_hosts, "%u requests on the wire", s.n);
	cr_expect_eq(s.idents, 1, "-i paces one stream: one shard, got %u", s.idents);
	span = (double)(s.ns[s.n - 1] - s.ns[0]) / 1e6;
	ng = gaps_ms(&s, g);
	for (unsigned i = 0; i < ng; i++)
		short_gaps += g[i] < interval_ms * 0.8;
	cr_log_info("-i %u: %u sends over %.1f ms (wall %.0f ms), gaps min %.2f median %.2f "
		    "max %.2f",
		    interval_ms, s.n, span, (double)wall / 1e6, g[0], g[ng / 2], g[ng - 1]);
	/* Lower bounds: the command cannot finish sooner than its sends; the span only
	 * loses what delayed the first send (a little scheduling noise). */
	cr_expect_geq((double)wall / 1e6, (double)(n_hosts - 1) * interval_ms);
	cr_expect_geq(span, (double)(n_hosts - 1) * interval_ms - 3.0, "span %.1f ms", span);
	cr_expect_leq(short_gaps, ng / 20.0, "%.0f of %u gaps shorter than 0.8 x %u ms", short_gaps,
		      ng, interval_ms);
	/* Upper bound, loosely (the machine is shared): most gaps are the interval, not
	 * a 5 ms scheduler tick. */
	cr_expect_lt(g[ng / 2], interval_ms + 2.0, "median gap %.2f ms for -i %u", g[ng / 2],
		     interval_ms);
	result_free(&r);
}

Test(ping_cli, interval_5ms_spaces_every_packet, .timeout = 60)
{
	expect_spacing(5, 30, "127.0.2.0/27");
}

/* Shorter than the shard's 5 ms tick: the bucket of one packet must not lose the
 * tokens of a whole tick (every gap was 5 ms for -i 1 and -i 2). */
Test(ping_cli, interval_shorter_than_the_tick_is_kept, .timeout = 60)
{
	expect_spacing(2, 62, "127.0.2.0/26");
}

/* 1,022 targets would get one shard per CPU; -i keeps one paced stream. */
Test(ping_cli, interval_keeps_one_stream_for_many_targets, .timeout = 60)
{
	expect_spacing(1, 1022, "127.0.8.0/22");
}

/* -i 0 sends unpaced even when the configuration sets a rate; without -i that rate
 * applies (the control). */
Test(ping_cli, interval_zero_is_unpaced, .timeout = 60)
{
	static struct sends s;
	char conf[64], cmd[256];
	struct result r;
	FILE *f;
	int fd;

	netns_here();
	snprintf(conf, sizeof(conf), "/tmp/rp-ping-rate-%d.yml", getpid());
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fputs("ping_rate_limit: 100\n", f);
	fclose(f);
	fd = capture_open();
	snprintf(cmd, sizeof(cmd), "%s ping --config %s -q -i 0 -t 200 127.0.2.0/27", BIN, conf);
	run_here(&r, cmd);
	capture_drain(fd, &s);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(s.n, 30);
	cr_expect_lt(s.ns[29] - s.ns[0], 100000000ull, "-i 0: 30 sends over %.1f ms",
		     (double)(s.ns[29] - s.ns[0]) / 1e6);
	result_free(&r);
	snprintf(cmd, sizeof(cmd), "%s ping --config %s -q -t 200 127.0.2.0/27", BIN, conf);
	run_here(&r, cmd);
	capture_drain(fd, &s);
	close(fd);
	unlink(conf);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(s.n, 30);
	cr_expect_geq(s.ns[29] - s.ns[0], 200000000ull, "100/s: 30 sends over %.1f ms",
		      (double)(s.ns[29] - s.ns[0]) / 1e6);
	result_free(&r);
}

static unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Every shard chooses its engine alike; the choice is logged once per process. The
 * requests carry one identifier per shard, which shows there were two. */
Test(ping_cli, engine_choice_logged_once_with_two_shards, .timeout = 60)
{
	static struct sends s;
	struct result r;
	int fd;

	netns_here();
	fd = capture_open();
	run_here(&r, BIN " ping --shards 2 --log-level info -q -c 1 127.0.3.0/26");
	capture_drain(fd, &s);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect_eq(s.n, 62);
	cr_expect_eq(s.idents, 2, "two shards, two identifiers (got %u)", s.idents);
	cr_expect_eq(count_of(r.err, "msg=\"io engine ready\""), 1, "%s", r.err);
	cr_expect_not_null(strstr(r.err, "backend=uring icmp=raw"), "%s", r.err);
	result_free(&r);
	run_here(&r, BIN " sweep --shards 2 --log-level info 127.0.3.0/26");
	capture_drain(fd, &s);
	close(fd);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect_eq(s.idents, 2, "two shards, two identifiers (got %u)", s.idents);
	cr_expect_eq(count_of(r.err, "msg=\"io engine ready\""), 1, "%s", r.err);
	result_free(&r);
}

/* --- sweep's progress line --------------------------------------------------------- */

/* On a terminal, stderr gets "done/total probed (pct), rate/s, N alive, ETA Ns" about
 * every 250 ms, redrawn in place; 1,022 hosts at 1,000/s take a second. Run under a
 * pseudo-terminal by script(1) (util-linux). */
Test(ping_cli, sweep_progress_line_on_a_terminal, .timeout = 60)
{
	struct result r;
	char cmd[512], hosts[64];
	char *list;
	unsigned lines = 0, progress, clears;

	netns_here();
	snprintf(hosts, sizeof(hosts), "/tmp/rp-sweep-hosts-%d", getpid());
	/* stdout to a file: the terminal gets stderr alone */
	snprintf(cmd, sizeof(cmd), "script -qec '%s sweep --rate 1000 127.0.4.0/22 >%s' /dev/null",
		 BIN, hosts);
	run_here(&r, cmd);
	list = sup_slurp(hosts);
	unlink(hosts);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	for (char *p = list; (p = strchr(p, '\n')); p++)
		lines++;
	cr_expect_eq(lines, 1022);
	progress = count_of(r.out, "/1022 probed (");
	clears = count_of(r.out, "\r\033[K");
	cr_expect_geq(progress, 2, "progress lines: %s", r.out);
	cr_expect_not_null(strstr(r.out, " alive, ETA "), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "\r\033[Kswept 1022 hosts in 1 network"), "%s", r.out);
	/* Each redraw clears once, and the summary once: not once per alive host. */
	cr_expect_leq(clears, progress + 1, "%u clears for %u progress lines", clears, progress);
	free(list);
	result_free(&r);

	/* Both streams on the terminal: an address never lands on a progress line. */
	snprintf(cmd, sizeof(cmd), "script -qec '%s sweep --rate 1000 127.0.4.0/23' /dev/null",
		 BIN);
	run_here(&r, cmd);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_expect_geq(count_of(r.out, "/510 probed ("), 1, "%s", r.out);
	cr_expect_eq(count_of(r.out, "127.0."), 510, "every alive address printed");
	for (char *p = r.out; (p = strstr(p, ", ETA ")); p++) {
		char *q = p + 6;

		while (isdigit((unsigned char)*q))
			q++;
		cr_expect(q[0] == 's' && q[1] == '\r', "progress line continued: %.40s", p);
	}
	result_free(&r);
}

Test(ping_cli, sweep_has_no_progress_line_without_a_terminal, .timeout = 60)
{
	struct result r;

	netns_here();
	run_here(&r, BIN " sweep --rate 1000 127.0.4.0/22");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect_null(strstr(r.err, "probed ("), "%s", r.err);
	cr_expect_null(strstr(r.err, "\033["), "no terminal control codes: %s", r.err);
	cr_expect_not_null(strstr(r.err, "swept 1022 hosts in 1 network"), "%s", r.err);
	result_free(&r);
}

/* ICMP errors quoting our echoes (an nftables reject on output: host unreachable,
 * administratively prohibited) print fping 5.1's warning lines, word for word, and the
 * echo fails at once; -q silences them as it does fping's. */
Test(ping_cli, icmp_errors_print_fping_warning_lines, .timeout = 60)
{
	struct result rp, fp;
	const char *rules =
	    "nft add table ip t && nft add chain ip t o \"{ type filter hook output priority 0; "
	    "}\" && nft add rule ip t o ip daddr 127.0.0.10 icmp type echo-request reject with "
	    "icmp type host-unreachable && nft add rule ip t o ip daddr 127.0.0.11 icmp type "
	    "echo-request reject with icmp type admin-prohibited";
	char script[1024];

	need_root();
	snprintf(script, sizeof(script),
		 "%s && %s ping -c 1 -t 2000 127.0.0.1 127.0.0.10 127.0.0.11 "
		 "2>&1 >/dev/null | grep '^ICMP' | sort",
		 rules, BIN);
	in_netns(&rp, script);
	snprintf(script, sizeof(script),
		 "%s && fping -c 1 -t 2000 127.0.0.1 127.0.0.10 127.0.0.11 "
		 "2>&1 >/dev/null | grep '^ICMP' | sort",
		 rules);
	in_netns(&fp, script);
	cr_assert_str_eq(rp.out,
			 "ICMP Host Unreachable from 127.0.0.10 for ICMP Echo sent to 127.0.0.10\n"
			 "ICMP Unreachable (Communication Administratively Prohibited) from "
			 "127.0.0.11 for ICMP Echo sent to 127.0.0.11\n");
	/* fping's own lines, word for word (it may miss one: it reports an error only
	 * while the echo's sequence is still in its seqmap). */
	cr_assert_not_null(strstr(fp.out, "ICMP "), "fping printed no ICMP line: %s", fp.err);
	for (char *l = fp.out, *nl; (nl = strchr(l, '\n')) != NULL; l = nl + 1) {
		*nl = '\0';
		cr_assert_not_null(strstr(rp.out, l), "fping's \"%s\" not in ours: %s", l, rp.out);
	}
	result_free(&rp);
	result_free(&fp);
	/* The errors end the echoes long before the 2 s timeout; -q prints no warning. */
	snprintf(script, sizeof(script), "%s && %s ping -q -c 1 -t 2000 127.0.0.10 2>&1", rules,
		 BIN);
	{
		double t0 = sup_now();

		in_netns(&rp, script);
		cr_assert_lt(sup_now() - t0, 1.5, "the error did not end the echo at once");
	}
	cr_assert_null(strstr(rp.out, "ICMP Host Unreachable"), "%s", rp.out);
	cr_assert_not_null(strstr(rp.out, "127.0.0.10 : xmt/rcv/%loss = 1/0/100%"), "%s", rp.out);
	result_free(&rp);
}
