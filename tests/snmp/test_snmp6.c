/* The SNMP poller (src/snmp) over UDP/IPv6 against a real agent: a private snmpd listening
 * on udp:127.0.0.1 and udp6:[::1] (snmpd_harness.h, snmpd_start6). v2c through the shared
 * udp6 sessions (v2c.c) and v3 (a udp6 session per request), a batch mixing both
 * families, a closed port on ::1, a process where socket(AF_INET6) fails (seccomp), and
 * answers spoofed over IPv6 (root: a network namespace of the test's own whose lo holds
 * 2001:2::2 and 2001:2::3). Nothing is sent outside 127.0.0.0/8 and ::1, but inside that
 * namespace.
 *
 * Suite `threads`, as test_snmp.c: scenarios are plain functions that return a verdict;
 * Criterion runs them, and the TSan build runs them from its own main() with TAP. */
#include <errno.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../tap_scenarios.h"
#include "poller_harness.h"
#include "ringprobe/addr.h"
#include "ringprobe/snmp.h"
#include "snmpd_harness.h"
#include "spoofer.h"
#include "support/support.h"

#define LOCALHOST 0x7f000001u
#define DEAD_NET 0x7f090000u /* 127.9.0.0/24: no agent, port unreachable */

static struct rp_ip ip6(const char *text)
{
	struct rp_ip a;

	if (!rp_ip_parse(text, &a))
		memset(&a, 0, sizeof(a));
	return a;
}

static const struct setup v2c = {.version = "2c", .community = SNMPD_COMMUNITY};

static bool v3_setup(struct setup *u, bool priv)
{
	*u = (struct setup){.version = "3",
			    .user = priv ? SNMPD_V3_PRIV_USER : SNMPD_V3_AUTH_USER,
			    .level = priv ? "authPriv" : "authNoPriv",
			    .auth = priv ? "SHA" : "MD5",
			    .auth_pass = priv ? SNMPD_V3_PRIV_AUTH : SNMPD_V3_AUTH_AUTH,
			    .priv = priv ? "AES" : NULL,
			    .priv_pass = priv ? SNMPD_V3_PRIV_PRIV : NULL};
	return true;
}

/* One request to [::1] of an agent on 127.0.0.1 and [::1]: the six objects, the address
 * and tag echoed. */
static bool reads_over_ipv6(const struct setup *base, const char *what, char *why, size_t whylen)
{
	struct snmpd_values v = plain_values();
	struct snmpd_agent a = {0};
	struct rp_snmp_result r;
	struct rp_ip lo6 = ip6("::1");
	struct setup u = *base;
	double took = 0;
	bool ok = false;

	if (!snmpd_start6(&a, &v, why, whylen))
		goto out;
	sup_sleep_ms(30); /* sysUpTime at least 3 ticks */
	u.port = a.port;
	if (!poll_once(&u, lo6, 0x6c0ffee6u, &r, &took, why, whylen))
		goto out;
	RP_TAP_CHECK(rp_ip_eq(&r.addr, &lo6) && r.tag == 0x6c0ffee6u,
		     "address or tag %#x not echoed", (unsigned)r.tag);
	if (!check_system_group(&r, &a, &v, why, whylen))
		goto out;
	RP_TAP_CHECK(took < 1000, "answered after %.1f ms", took);
	fprintf(stderr, "snmp6: %s over udp6 [::1]: six objects in %.2f ms\n", what, took);
	ok = true;
out:
	snmpd_stop(&a);
	return ok;
}

static bool v2c_reads_the_system_group_over_ipv6(char *why, size_t whylen)
{
	return reads_over_ipv6(&v2c, "v2c", why, whylen);
}

static bool v3_reads_the_system_group_over_ipv6(char *why, size_t whylen)
{
	struct setup u;

	return v3_setup(&u, true) && reads_over_ipv6(&u, "v3 authPriv SHA/AES", why, whylen) &&
	       v3_setup(&u, false) && reads_over_ipv6(&u, "v3 authNoPriv MD5", why, whylen);
}

/* ::1 on a port where nothing listens: the kernel's ICMPv6 port unreachable never reaches
 * net-snmp's unconnected socket, so it is a timeout (300 ms x 2), v2c and v3 alike. */
static bool closed_port_on_ipv6_times_out(char *why, size_t whylen)
{
	struct rp_ip lo6 = ip6("::1");
	bool ok = false;

	for (int k = 0; k < 2; k++) {
		struct setup u = v2c;
		struct rp_snmp_result r;
		int port = sup_free_udp_port();
		double took = 0;

		if (k == 1)
			v3_setup(&u, true);
		u.timeout = "300ms";
		u.retries = "1";
		RP_TAP_CHECK(port > 0, "no free UDP port: %s", strerror(-port));
		u.port = (unsigned)port;
		if (!poll_once(&u, lo6, 9, &r, &took, why, whylen))
			goto out;
		RP_TAP_CHECK(rp_ip_eq(&r.addr, &lo6) && r.tag == 9, "address or tag not echoed");
		RP_TAP_CHECK(r.status == RP_SNMP_TIMEOUT, "%s: %s (%s), want timeout",
			     k ? "v3" : "v2c", rp_snmp_status_name(r.status), r.detail);
		RP_TAP_CHECK(r.objects == 0 && r.detail[0], "a timeout with objects or no detail");
		RP_TAP_CHECK(took >= 600 && took <= 1100,
			     "%s: timeout after %.1f ms, want 600..1100", k ? "v3" : "v2c", took);
		fprintf(stderr, "snmp6: %s closed port on ::1: timeout after %.0f ms (%s)\n",
			k ? "v3" : "v2c", took, r.detail);
	}
	ok = true;
out:
	return ok;
}

/* ---- a batch of both families --------------------------------------------------------- */

#define MIX 300u

/* Request i: every third to 127.0.0.1, every tenth to 127.9.0.x (no agent), the rest to
 * ::1; the same agent answers both families. */
static struct rp_ip mix_addr(uint32_t i)
{
	if (i % 10 == 9)
		return rp_ip_v4(DEAD_NET + 1 + i / 10);
	return i % 3 == 0 ? rp_ip_v4(LOCALHOST) : ip6("::1");
}

/* 300 requests through 96 slots (two groups of shared sessions, so two udp6 sessions
 * opened by their first IPv6 request): every request gets exactly one result, for its
 * own address and tag; IPv4 and IPv6 both read the agent's sysName; the dead IPv4
 * addresses time out; nothing is a local error and nothing counts as spoofed. */
static bool mixed_families_each_get_one_result(char *why, size_t whylen)
{
	struct snmpd_values v = plain_values();
	struct snmpd_agent a = {0};
	struct setup u = v2c;
	struct rp_snmp_result *res = calloc(MIX + 1, sizeof(*res));
	uint32_t seen[MIX] = {0}, sent = 0, got = 0, ok4 = 0, ok6 = 0, dead = 0;
	struct rp_snmp *s = NULL;
	struct rp_snmp_stats st;
	double t0;
	bool ok = false;

	u.timeout = "300ms";
	u.retries = "0";
	u.max_inflight = "96";
	RP_TAP_CHECK(res, "out of memory");
	if (!snmpd_start6(&a, &v, why, whylen))
		goto out;
	u.port = a.port;
	if (!poller_new(&s, &u, true, why, whylen))
		goto out;
	t0 = sup_now();
	while (got < MIX && ms_since(t0) < 60000) {
		uint32_t room = rp_snmp_room(s), n;

		for (uint32_t k = 0; k < room && sent < MIX; k++, sent++) {
			struct rp_ip ip = mix_addr(sent);

			RP_TAP_CHECK(rp_snmp_submit(s, &ip, sent), "submit %u refused", sent);
		}
		n = rp_snmp_take(s, res + got, MIX + 1 - got);
		for (uint32_t k = got; k < got + n; k++) {
			const struct rp_snmp_result *r = &res[k];
			uint32_t t = r->tag;
			struct rp_ip want;
			char b[RP_IP_STRLEN];

			RP_TAP_CHECK(t < MIX && ++seen[t] == 1, "tag %u unknown or twice", t);
			want = mix_addr(t);
			RP_TAP_CHECK(rp_ip_eq(&r->addr, &want), "request %u: result for %s", t,
				     rp_ip_format(&r->addr, b));
			if (t % 10 == 9) {
				RP_TAP_CHECK(r->status == RP_SNMP_TIMEOUT,
					     "request %u to no agent: %s (%s)", t,
					     rp_snmp_status_name(r->status), r->detail);
				dead++;
				continue;
			}
			RP_TAP_CHECK(r->status == RP_SNMP_OK && !strcmp(r->name, PLAIN_NAME) &&
					 r->objects == 6,
				     "request %u to %s: %s (%s), sysName \"%s\", %u objects", t,
				     rp_ip_format(&want, b), rp_snmp_status_name(r->status),
				     r->detail, r->name, (unsigned)r->objects);
			if (rp_ip_is_v4(&want))
				ok4++;
			else
				ok6++;
		}
		got += n;
		if (!n)
			sup_sleep_ms(1);
	}
	RP_TAP_CHECK(got == MIX, "%u results of %u", got, MIX);
	sup_sleep_ms(50);
	RP_TAP_CHECK(rp_snmp_take(s, res, 1) == 0, "a result more than requests");
	rp_snmp_stats(s, &st);
	RP_TAP_CHECK(st.done[RP_SNMP_OK] == ok4 + ok6 && st.done[RP_SNMP_TIMEOUT] == dead &&
			 st.done[RP_SNMP_LOCAL_ERROR] == 0 && st.done[RP_SNMP_AGENT_ERROR] == 0 &&
			 st.spoofed == 0 && st.inflight == 0 && st.queued == 0,
		     "stats: ok %" PRIu64 " timeout %" PRIu64 " local %" PRIu64 " spoofed %" PRIu64,
		     st.done[RP_SNMP_OK], st.done[RP_SNMP_TIMEOUT], st.done[RP_SNMP_LOCAL_ERROR],
		     st.spoofed);
	RP_TAP_CHECK(ok4 == 90 && ok6 == 180 && dead == 30, "ok4 %u ok6 %u dead %u", ok4, ok6,
		     dead);
	fprintf(stderr,
		"snmp6: mixed: %u IPv4 and %u IPv6 answers, %u timeouts, through 96 slots in "
		"%.0f ms\n",
		ok4, ok6, dead, ms_since(t0));
	ok = true;
out:
	rp_snmp_destroy(s);
	snmpd_stop(&a);
	free(res);
	return ok;
}

/* ---- no IPv6 ------------------------------------------------------------------------- */

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#else
#define SECCOMP_ARCH 0
#define SECCOMP_ARCH_UNKNOWN 1
#endif

/* From here on, socket(AF_INET6, ...) fails with EAFNOSUPPORT in this process, as on a
 * kernel without IPv6 (seccomp; the caller's children started before keep theirs). */
static bool deny_ipv6_sockets(char *why, size_t whylen)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EAFNOSUPPORT & SECCOMP_RET_DATA)),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	int fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		snprintf(why, whylen, "seccomp: %s", strerror(errno));
		return false;
	}
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd >= 0) {
		close(fd);
		snprintf(why, whylen, "socket(AF_INET6) still works under the filter");
		return false;
	}
	return true;
}

/* Without IPv6 sockets a poller is still created; each IPv6 request ends at once as a
 * local error that says so, and IPv4 requests before, between and after it are read. */
static bool without_ipv6_v6_fails_locally_and_v4_goes_on(char *why, size_t whylen)
{
	struct snmpd_values v = plain_values();
	struct snmpd_agent a = {0};
	struct setup u = v2c;
	struct rp_snmp_result r[5];
	struct rp_ip lo4 = rp_ip_v4(LOCALHOST), lo6 = ip6("::1");
	struct rp_snmp *s = NULL;
	struct rp_snmp_stats st;
	unsigned ok4 = 0, local6 = 0;
	bool ok = false;

#ifdef SECCOMP_ARCH_UNKNOWN
	snprintf(why, whylen, "the seccomp filter knows x86_64 and aarch64 only");
	goto out;
#endif
	if (!snmpd_start(&a, &v, why, whylen)) /* before the filter: snmpd has IPv6 */
		goto out;
	u.port = a.port;
	if (!deny_ipv6_sockets(why, whylen))
		goto out;
	if (!poller_new(&s, &u, true, why, whylen))
		goto out;
	for (uint32_t i = 0; i < 5; i++)
		RP_TAP_CHECK(rp_snmp_submit(s, i % 2 ? &lo6 : &lo4, i), "submit %u refused", i);
	RP_TAP_CHECK(collect(s, r, 5, 10000) == 5, "fewer than 5 results in 10 s");
	for (int i = 0; i < 5; i++) {
		if (r[i].tag % 2) {
			RP_TAP_CHECK(rp_ip_eq(&r[i].addr, &lo6), "tag %u: not ::1", r[i].tag);
			RP_TAP_CHECK(
			    r[i].status == RP_SNMP_LOCAL_ERROR && strstr(r[i].detail, "no IPv6") &&
				strstr(r[i].detail, "Address family not supported"),
			    "IPv6 request: %s (%s)", rp_snmp_status_name(r[i].status), r[i].detail);
			local6++;
		} else {
			RP_TAP_CHECK(rp_ip_eq(&r[i].addr, &lo4), "tag %u: not 127.0.0.1", r[i].tag);
			if (!check_system_group(&r[i], &a, &v, why, whylen))
				goto out;
			ok4++;
		}
	}
	rp_snmp_stats(s, &st);
	RP_TAP_CHECK(ok4 == 3 && local6 == 2 && st.done[RP_SNMP_OK] == 3 &&
			 st.done[RP_SNMP_LOCAL_ERROR] == 2,
		     "ok4 %u local6 %u", ok4, local6);
	fprintf(stderr, "snmp6: without IPv6: %u IPv4 answers, %u IPv6 local errors (%s)\n", ok4,
		local6, r[1].tag % 2 ? r[1].detail : r[0].detail);
	ok = true;
out:
	rp_snmp_destroy(s);
	snmpd_stop(&a);
	return ok;
}

/* ---- spoofing over IPv6 (root) -------------------------------------------------------- */

/* The IPv6 form of test_snmp.c's v2c_spoofed_answers_are_dropped, in a network namespace
 * of its own: the hostile device 2001:2::2 answers the request IDs around its own from its
 * address, from the honest device's address (2001:2::3) on another port, and from an IPv4
 * socket to the poller's udp6 port (dual-stack: ::ffff:127.0.0.2), all before the honest
 * device's answer; the honest device keeps its sysName, each forgery aimed at it is
 * counted. */
static bool v2c_spoofed_answers_over_ipv6_are_dropped(char *why, size_t whylen)
{
	struct setup u = v2c;
	struct snmpd_values v = plain_values();
	struct snmpd_agent a = {0};
	struct rp_snmp_result r[2], *honest = NULL, *hostile = NULL;
	struct rp_ip hon = ip6(SPOOF6_HONEST), hos = ip6(SPOOF6_HOSTILE);
	struct rp_snmp_stats st;
	struct rp_snmp *s = NULL;
	struct spoofer x;
	const char *what = NULL;
	char *dual = NULL, b1[600];
	unsigned passes;
	bool spoofing = false, ok = false;
	int ret;

	u.timeout = "3s";
	u.retries = "1";
	u.max_inflight = "4";
	ret = sup_netns_enter(SUP_NETNS_LO_UP, &what);
	RP_TAP_CHECK(ret == 0, "%s: %s", what, strerror(-ret));
	ret = sup_run("ip -6 addr add " SPOOF6_HOSTILE "/128 dev lo nodad && "
		      "ip -6 addr add " SPOOF6_HONEST "/128 dev lo nodad",
		      0, NULL, NULL);
	RP_TAP_CHECK(ret == 0, "ip -6 addr add on lo: status %d", ret);
	dual = sup_slurp("/proc/sys/net/ipv6/bindv6only");
	/* the IPv4 forger reaches the poller's udp6 socket only if it is dual-stack */
	passes = dual && dual[0] == '0' ? 3 : 2;
	if (!snmpd_start6(&a, &v, why, whylen))
		goto out;
	sup_sleep_ms(30);
	u.port = a.port;
	spoofing = true;
	if (!spoof_start6(&x, a.port, why, whylen))
		goto out;
	if (!poller_new(&s, &u, true, why, whylen))
		goto out;
	/* the honest device's GET goes out first: its request ID is the hostile's minus one */
	RP_TAP_CHECK(rp_snmp_submit(s, &hon, 1) && rp_snmp_submit(s, &hos, 2),
		     "submit refused on an empty poller");
	RP_TAP_CHECK(collect(s, r, 2, 20000) == 2, "no two results within 20 s");
	for (int i = 0; i < 2; i++) {
		RP_TAP_CHECK(strcmp(r[i].name, SPOOF_NAME) != 0, "a device renamed to %s",
			     r[i].name);
		if (rp_ip_eq(&r[i].addr, &hon) && r[i].tag == 1)
			honest = &r[i];
		else if (rp_ip_eq(&r[i].addr, &hos) && r[i].tag == 2)
			hostile = &r[i];
	}
	RP_TAP_CHECK(honest && hostile, "results for tags %u and %u", (unsigned)r[0].tag,
		     (unsigned)r[1].tag);
	RP_TAP_CHECK(atomic_load(&x.forged) && atomic_load(&x.forgeries) == 6 * SPOOF_SPAN,
		     "the hostile device sent %u forgeries", atomic_load(&x.forgeries));
	RP_TAP_CHECK(honest->status == RP_SNMP_OK && strcmp(honest->name, v.name) == 0,
		     "honest device: %s (%s), sysName %s", rp_snmp_status_name(honest->status),
		     honest->detail, sup_shown(honest->name, b1, sizeof(b1)));
	if (!check_system_group(honest, &a, &v, why, whylen))
		goto out;
	RP_TAP_CHECK(atomic_load(&x.relayed) >= 1, "the relay passed no answer back");
	RP_TAP_CHECK(hostile->status == RP_SNMP_OK && strcmp(hostile->name, SPOOF_OWN_NAME) == 0,
		     "hostile device: %s, sysName %s", rp_snmp_status_name(hostile->status),
		     sup_shown(hostile->name, b1, sizeof(b1)));
	rp_snmp_stats(s, &st);
	/* one forgery per pass carries the honest request's ID; the others match nothing */
	RP_TAP_CHECK(st.spoofed == passes, "snmp_spoofed %" PRIu64 ", want %u", st.spoofed, passes);
	RP_TAP_CHECK(st.done[RP_SNMP_OK] == 2, "%" PRIu64 " OK results", st.done[RP_SNMP_OK]);
	fprintf(stderr,
		"snmp6: spoofing: %u forgeries sent (%u passes), %" PRIu64 " dropped as spoofed\n",
		atomic_load(&x.forgeries), passes, st.spoofed);
	ok = true;
out:
	rp_snmp_destroy(s);
	if (spoofing)
		spoof_stop(&x);
	snmpd_stop(&a);
	free(dual);
	return ok;
}

/* ---- runners ------------------------------------------------------------------------ */

#define SCENARIO(f)                                                                                \
	{                                                                                          \
		"snmp6::" #f, f                                                                    \
	}

static const struct rp_tap_scenario scenarios[] = {
    SCENARIO(v2c_reads_the_system_group_over_ipv6),
    SCENARIO(v3_reads_the_system_group_over_ipv6),
    SCENARIO(closed_port_on_ipv6_times_out),
    SCENARIO(mixed_families_each_get_one_result),
    SCENARIO(without_ipv6_v6_fails_locally_and_v4_goes_on),
};

/* Scenarios that need root (a network namespace): skipped, visibly, without it. */
static const struct rp_tap_scenario root_scenarios[] = {
    SCENARIO(v2c_spoofed_answers_over_ipv6_are_dropped),
};

#ifndef RP_UNDER_TSAN
#include <criterion/criterion.h>

#if defined(__SANITIZE_ADDRESS__)
#define RP_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RP_UNDER_ASAN 1
#endif
#endif
#ifdef RP_UNDER_ASAN
#include <sanitizer/lsan_interface.h>
#endif

static void run_in(const struct rp_tap_scenario *sc, size_t n, const char *name)
{
	char why[2048] = "";

	for (size_t i = 0; i < n; i++) {
		if (strcmp(sc[i].name + strlen("snmp6::"), name))
			continue;
		cr_assert(sc[i].fn(why, sizeof(why)), "%s", why);
#ifdef RP_UNDER_ASAN
		/* as test_snmp.c: LeakSanitizer's own check at exit fails no Criterion test */
		cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
			     "LeakSanitizer found leaks (its report is above)");
#endif
		return;
	}
	cr_assert_fail("no scenario %s", name);
}

#define SNMP6_TEST(f)                                                                              \
	Test(snmp6, f, .timeout = 120)                                                             \
	{                                                                                          \
		run_in(scenarios, RP_ARRAY_SIZE(scenarios), #f);                                   \
	}
#define SNMP6_ROOT_TEST(f)                                                                         \
	Test(snmp6, f, .timeout = 120)                                                             \
	{                                                                                          \
		if (geteuid() != 0)                                                                \
			cr_skip_test("needs root (a network namespace)");                          \
		run_in(root_scenarios, RP_ARRAY_SIZE(root_scenarios), #f);                         \
	}

SNMP6_TEST(v2c_reads_the_system_group_over_ipv6)
SNMP6_TEST(v3_reads_the_system_group_over_ipv6)
SNMP6_TEST(closed_port_on_ipv6_times_out)
SNMP6_TEST(mixed_families_each_get_one_result)
SNMP6_TEST(without_ipv6_v6_fails_locally_and_v4_goes_on)
SNMP6_ROOT_TEST(v2c_spoofed_answers_over_ipv6_are_dropped)
#else
/* Replaces Criterion's main under TSan: each scenario in its own child, TAP on stdout; the
 * root scenarios only as root (as the others, then). */
int main(void)
{
	struct rp_tap_scenario all[RP_ARRAY_SIZE(scenarios) + RP_ARRAY_SIZE(root_scenarios)];
	size_t n = 0;

	for (size_t i = 0; i < RP_ARRAY_SIZE(scenarios); i++)
		all[n++] = scenarios[i];
	for (size_t i = 0; i < RP_ARRAY_SIZE(root_scenarios); i++)
		if (geteuid() == 0)
			all[n++] = root_scenarios[i];
		else
			printf("# %s skipped: needs root\n", root_scenarios[i].name);
	return rp_tap_run(all, n, false);
}
#endif
