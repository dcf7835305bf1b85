/* The SNMP poller (src/snmp/poller.c) against a real agent: a private net-snmp snmpd on
 * 127.0.0.1 (snmpd_harness.h), v2c and v3, its system group set from its configuration
 * file, hostile strings included. No root needed; nothing is sent outside 127.0.0.0/8
 * (addresses without an agent are 127.9.0.x, which the kernel answers with port
 * unreachable, and free ports on 127.0.0.1).
 *
 * Suite `threads`: the poller is a thread, so this also runs under ThreadSanitizer, where
 * Criterion cannot start (Snaipe/Criterion#274). The scenarios are plain functions that
 * return a verdict and clean up after themselves (agent stopped, poller destroyed) on
 * every path; the Criterion tests assert on the verdicts, and the TSan build runs the same
 * scenarios from its own main() and prints TAP. Each prints one line with what it
 * measured on stderr. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tap_scenarios.h"
#include "ringprobe/conf.h"
#include "ringprobe/line.h"
#include "ringprobe/snmp.h"
#include "poller_harness.h"
#include "snmpd_harness.h"
#include "spoofer.h"
#include "support/support.h"

/* Requests to IPv4 addresses named as host-order integers. */
static inline bool submit4(struct rp_snmp *s, uint32_t a, uint32_t tag)
{
	struct rp_ip ip = rp_ip_v4(a);

	return rp_snmp_submit(s, &ip, tag);
}
#define A4(ip) rp_ip_to_v4(&(ip))

#define LOCALHOST 0x7f000001u
#define DEAD_NET 0x7f090000u /* 127.9.0.0/24: no agent, port unreachable */

/* Strictly valid UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF)
 * with no control character (C0, DEL); the check is written here, apart from the
 * sanitizer's. */
static bool clean_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned c = *s, need, min, cp;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, min = 0x80, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, min = 0x800, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return false;
		}
		for (unsigned i = 1; i <= need; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += need + 1;
	}
	return true;
}

/* ---- what the agents serve ---------------------------------------------------------- */

/* Control bytes (C0 in the middle and at both ends: snmpd strips only white space at the
 * ends), DEL, malformed UTF-8, and values that grow threefold when each bad byte becomes
 * U+FFFD, so the fields overflow and must be cut at a character boundary. */
#define HOSTILE_NAME                                                                               \
	"\x01\x02"                                                                                 \
	"a\x1b[31mb\x7f"                                                                           \
	"c\td\re\x1f"
#define HOSTILE_NAME_CLEAN "a[31mbcde"
#define HOSTILE_CONTACT "x\xc3(y\xe2\x82z\xc0\x80w\xed\xa0\x80v\xf4\x90\x80\x80u\xf0\x9f\x9a\x80"
#define FFFD "\xef\xbf\xbd"
/* Unicode 15 section 3.9: one U+FFFD per maximal ill-formed subpart */
#define HOSTILE_CONTACT_CLEAN                                                                      \
	"x" FFFD "(y" FFFD "z" FFFD FFFD "w" FFFD FFFD FFFD "v" FFFD FFFD FFFD FFFD                \
	"u\xf0\x9f\x9a\x80"

static struct snmpd_values hostile_values(void)
{
	static char location[SNMPD_VALUE_MAX + 1], descr[SNMPD_VALUE_MAX + 1];

	/* "a" and 254 lone continuation bytes: 1 + 254 x 3 bytes once cleaned */
	location[0] = 'a';
	memset(location + 1, 0x80, SNMPD_VALUE_MAX - 1);
	/* 255 bytes 0xff: 765 bytes once cleaned */
	memset(descr, 0xff, SNMPD_VALUE_MAX);
	return (struct snmpd_values){descr, HOSTILE_NAME, location, HOSTILE_CONTACT};
}

static const struct setup v3_sha_aes = {
    .version = "3",
    .user = SNMPD_V3_PRIV_USER,
    .level = "authPriv",
    .auth = "SHA",
    .auth_pass = SNMPD_V3_PRIV_AUTH,
    .priv = "AES",
    .priv_pass = SNMPD_V3_PRIV_PRIV,
};

static const struct setup v3_md5 = {
    .version = "3",
    .user = SNMPD_V3_AUTH_USER,
    .level = "authNoPriv",
    .auth = "MD5",
    .auth_pass = SNMPD_V3_AUTH_AUTH,
};

/* ---- scenarios ---------------------------------------------------------------------- */

static bool reads_system_group(const struct setup *base, const char *what, char *why, size_t whylen)
{
	struct snmpd_values v = plain_values();
	struct snmpd_agent a = {0};
	struct rp_snmp_result r;
	struct setup u = *base;
	double took = 0;
	bool ok = false;

	if (!agent_up(&a, &v, why, whylen))
		goto out;
	u.port = a.port;
	if (!poll_once(&u, rp_ip_v4(LOCALHOST), 0xc0ffee01u, &r, &took, why, whylen))
		goto out;
	RP_TAP_CHECK(A4(r.addr) == LOCALHOST && r.tag == 0xc0ffee01u, "addr %#x tag %#x not echoed",
		     (unsigned)A4(r.addr), (unsigned)r.tag);
	if (!check_system_group(&r, &a, &v, why, whylen))
		goto out;
	RP_TAP_CHECK(took < 1000, "answered after %.1f ms", took);
	fprintf(stderr, "snmp: %s: six objects in %.2f ms, sysUpTime %u\n", what, took,
		(unsigned)r.uptime_ticks);
	ok = true;
out:
	snmpd_stop(&a);
	return ok;
}

static bool v2c_reads_the_system_group(char *why, size_t whylen)
{
	static const struct setup u = {.version = "2c", .community = SNMPD_COMMUNITY};

	return reads_system_group(&u, "v2c", why, whylen);
}

static bool v3_authpriv_sha_aes_reads_the_system_group(char *why, size_t whylen)
{
	return reads_system_group(&v3_sha_aes, "v3 authPriv SHA/AES", why, whylen);
}

static bool v3_authnopriv_md5_reads_the_system_group(char *why, size_t whylen)
{
	return reads_system_group(&v3_md5, "v3 authNoPriv MD5", why, whylen);
}

/* One request as `base` says, to the port of an agent started for it (`agent`) or to a
 * free port where nothing listens; checks the status, that a failure carries no objects
 * but a detail, and that it took between min_ms and max_ms. */
static bool expect_status(const struct setup *base, uint32_t addr, bool agent,
			  enum rp_snmp_status want, double min_ms, double max_ms, const char *what,
			  char *why, size_t whylen)
{
	struct snmpd_values v = plain_values();
	struct snmpd_agent a = {0};
	struct rp_snmp_result r;
	struct setup u = *base;
	double took = 0;
	bool ok = false;

	if (agent) {
		if (!agent_up(&a, &v, why, whylen))
			goto out;
		u.port = a.port;
	} else {
		int port = sup_free_udp_port();

		RP_TAP_CHECK(port > 0, "no free UDP port: %s", strerror(-port));
		u.port = (unsigned)port;
	}
	if (!poll_once(&u, rp_ip_v4(addr), 77, &r, &took, why, whylen))
		goto out;
	RP_TAP_CHECK(A4(r.addr) == addr && r.tag == 77, "addr %#x tag %u not echoed",
		     (unsigned)A4(r.addr), (unsigned)r.tag);
	RP_TAP_CHECK(r.status == want, "status %s (%s), want %s, after %.1f ms",
		     rp_snmp_status_name(r.status), r.detail, rp_snmp_status_name(want), took);
	RP_TAP_CHECK(r.objects == 0 && !r.has_uptime && !r.name[0] && !r.descr[0] &&
			 !r.object_id[0],
		     "a failed poll carries objects (%u)", (unsigned)r.objects);
	RP_TAP_CHECK(r.detail[0], "no detail for status %s", rp_snmp_status_name(r.status));
	RP_TAP_CHECK(took >= min_ms && took <= max_ms, "%s after %.1f ms, want %.0f..%.0f ms",
		     rp_snmp_status_name(r.status), took, min_ms, max_ms);
	fprintf(stderr, "snmp: %s: %s after %.1f ms (%s)\n", what, rp_snmp_status_name(r.status),
		took, r.detail);
	ok = true;
out:
	snmpd_stop(&a);
	return ok;
}

/* snmpd answers a wrong digest with a usmStatsWrongDigests report at once. */
static bool v3_wrong_auth_passphrase_is_an_agent_error(char *why, size_t whylen)
{
	struct setup md5 = v3_md5, sha = v3_sha_aes;

	md5.auth_pass = "wrong md5 passphrase";
	sha.auth_pass = "wrong sha passphrase";
	return expect_status(&md5, LOCALHOST, true, RP_SNMP_AGENT_ERROR, 0, 300,
			     "v3 MD5 wrong auth passphrase", why, whylen) &&
	       expect_status(&sha, LOCALHOST, true, RP_SNMP_AGENT_ERROR, 0, 300,
			     "v3 SHA/AES wrong auth passphrase", why, whylen);
}

/* snmpd cannot decrypt the scoped PDU ("error parsing ScopedPDU" in its log) and drops it
 * without a report, so the poller hears nothing: timeout x (retries + 1). */
static bool v3_wrong_priv_passphrase_times_out(char *why, size_t whylen)
{
	struct setup u = v3_sha_aes;

	u.priv_pass = "wrong aes passphrase";
	u.timeout = "300ms";
	u.retries = "1";
	return expect_status(&u, LOCALHOST, true, RP_SNMP_TIMEOUT, 600, 1100,
			     "v3 wrong priv passphrase", why, whylen);
}

/* usmStatsUnknownUserNames and usmStatsUnsupportedSecLevels reports. */
static bool v3_unknown_user_or_level_is_an_agent_error(char *why, size_t whylen)
{
	struct setup nouser = v3_md5, level = v3_md5;

	nouser.user = "rp-nobody";
	level.level = "authPriv";
	level.priv = "AES";
	level.priv_pass = "some priv passphrase";
	return expect_status(&nouser, LOCALHOST, true, RP_SNMP_AGENT_ERROR, 0, 300,
			     "v3 unknown user", why, whylen) &&
	       expect_status(&level, LOCALHOST, true, RP_SNMP_AGENT_ERROR, 0, 300,
			     "v3 authPriv for an authNoPriv user", why, whylen);
}

/* snmpd drops a wrong community silently (snmpInBadCommunityNames). */
static bool v2c_wrong_community_times_out(char *why, size_t whylen)
{
	static const struct setup u = {
	    .community = "not-public", .timeout = "300ms", .retries = "1"};

	return expect_status(&u, LOCALHOST, true, RP_SNMP_TIMEOUT, 600, 1100, "v2c wrong community",
			     why, whylen);
}

/* Nothing listens on the port: the kernel answers port unreachable, which net-snmp's
 * unconnected UDP socket never sees, so it is a timeout like silence. */
static bool closed_port_times_out(char *why, size_t whylen)
{
	static const struct setup v2 = {
	    .community = SNMPD_COMMUNITY, .timeout = "300ms", .retries = "1"};
	struct setup v3 = v3_sha_aes;

	v3.timeout = "300ms";
	v3.retries = "1";
	return expect_status(&v2, LOCALHOST, false, RP_SNMP_TIMEOUT, 600, 1100, "v2c closed port",
			     why, whylen) &&
	       expect_status(&v3, LOCALHOST, false, RP_SNMP_TIMEOUT, 600, 1100,
			     "v3 closed port (engine ID probe)", why, whylen);
}

static bool hostile_strings_are_cleaned_and_cut(char *why, size_t whylen)
{
	static const struct setup u = {.community = SNMPD_COMMUNITY};
	struct snmpd_values raw = hostile_values();
	char location[RP_SNMP_TEXT_MAX], descr[RP_SNMP_DESCR_MAX], b1[1200], b2[1200];
	const struct snmpd_values clean = {descr, HOSTILE_NAME_CLEAN, location,
					   HOSTILE_CONTACT_CLEAN};
	struct snmpd_agent a = {0};
	struct rp_snmp_result r;
	struct setup v = u;
	double took = 0;
	bool ok = false;

	/* Worked out by hand: "a" and 84 U+FFFD is 253 bytes, one more would pass the 255
	 * a 256-byte field holds; 170 U+FFFD is 510 bytes of sysDescr's 511. */
	location[0] = 'a';
	for (int i = 0; i < 84; i++)
		memcpy(location + 1 + 3 * i, FFFD, 3);
	location[1 + 3 * 84] = '\0';
	for (int i = 0; i < 170; i++)
		memcpy(descr + 3 * i, FFFD, 3);
	descr[3 * 170] = '\0';

	if (!agent_up(&a, &raw, why, whylen))
		goto out;
	v.port = a.port;
	if (!poll_once(&v, rp_ip_v4(LOCALHOST), 5, &r, &took, why, whylen))
		goto out;
	if (!check_system_group(&r, &a, &clean, why, whylen))
		goto out;
	{
		const char *f[5] = {r.name, r.descr, r.object_id, r.location, r.contact};
		const size_t cap[5] = {sizeof(r.name), sizeof(r.descr), sizeof(r.object_id),
				       sizeof(r.location), sizeof(r.contact)};
		const char *raws[5] = {raw.name, raw.descr, "", raw.location, raw.contact};

		for (int i = 0; i < 5; i++) {
			char again[RP_SNMP_DESCR_MAX];

			RP_TAP_CHECK(strlen(f[i]) < cap[i],
				     "field %d not terminated in its %zu bytes", i, cap[i]);
			RP_TAP_CHECK(clean_utf8(f[i]),
				     "field %d \"%s\" has control bytes or bad UTF-8", i,
				     sup_shown(f[i], b1, sizeof(b1)));
			/* and it is what the line encoder's own cleaning gives */
			if (i == 2)
				continue;
			rp_line_sanitize(again, cap[i], raws[i], strlen(raws[i]), SIZE_MAX);
			RP_TAP_CHECK(
			    !strcmp(again, f[i]), "field %d \"%s\", rp_line_sanitize gives \"%s\"",
			    i, sup_shown(f[i], b1, sizeof(b1)), sup_shown(again, b2, sizeof(b2)));
		}
	}
	fprintf(stderr,
		"snmp: hostile: name %zu, descr %zu (of 765 cleaned), location %zu (of 763), "
		"contact %zu bytes, in %.2f ms\n",
		strlen(r.name), strlen(r.descr), strlen(r.location), strlen(r.contact), took);
	ok = true;
out:
	snmpd_stop(&a);
	return ok;
}

/* Checks the counters against what a test saw: nothing above max_inflight in flight, no
 * more results than requests. */
static bool stats_sane(struct rp_snmp *s, uint64_t max_inflight, uint64_t *peak, char *why,
		       size_t whylen)
{
	struct rp_snmp_stats st;
	uint64_t done = 0;
	bool ok = false;

	rp_snmp_stats(s, &st);
	for (int k = 0; k < RP_SNMP_STATUS_COUNT; k++)
		done += st.done[k];
	RP_TAP_CHECK(st.inflight <= max_inflight, "%" PRIu64 " in flight, max_inflight %" PRIu64,
		     st.inflight, max_inflight);
	RP_TAP_CHECK(done <= st.submitted, "%" PRIu64 " done of %" PRIu64 " submitted", done,
		     st.submitted);
	if (st.inflight > *peak)
		*peak = st.inflight;
	ok = true;
out:
	return ok;
}

#define MANY_LIVE 200u
#define MANY_DEAD 40u
#define MANY (MANY_LIVE + MANY_DEAD)

/* Every sixth request goes to 127.9.0.x (no agent, 300 ms x 1), the rest to the agent. */
static uint32_t many_addr(uint32_t i)
{
	return i % 6 == 5 ? DEAD_NET + 1 + i / 6 : LOCALHOST;
}

static bool many_requests_each_get_one_result(char *why, size_t whylen)
{
	struct snmpd_values v = plain_values();
	struct snmpd_agent a = {0};
	struct setup u = {
	    .community = SNMPD_COMMUNITY, .timeout = "300ms", .retries = "0", .max_inflight = "8"};
	struct rp_snmp_result *res = calloc(MANY + 1, sizeof(*res));
	uint32_t seen[MANY] = {0}, sent = 0, got = 0, live_ok = 0, dead_timeout = 0;
	struct rp_snmp *s = NULL;
	struct rp_snmp_stats st;
	uint64_t peak = 0, samples = 0;
	double t0, took;
	bool ok = false;

	RP_TAP_CHECK(res, "out of memory");
	if (!agent_up(&a, &v, why, whylen))
		goto out;
	u.port = a.port;
	if (!poller_new(&s, &u, true, why, whylen))
		goto out;
	t0 = sup_now();
	while (got < MANY && ms_since(t0) < 60000) {
		uint32_t room = rp_snmp_room(s), n;

		/* whatever room says is there must be taken */
		for (uint32_t k = 0; k < room && sent < MANY; k++, sent++)
			RP_TAP_CHECK(submit4(s, many_addr(sent), sent),
				     "submit %u refused after room said %u", sent, room);
		if (!stats_sane(s, 8, &peak, why, whylen))
			goto out;
		samples++;
		n = rp_snmp_take(s, res + got, MANY + 1 - got);
		for (uint32_t k = got; k < got + n; k++) {
			uint32_t t = res[k].tag;

			RP_TAP_CHECK(t < MANY, "result with unknown tag %u", t);
			RP_TAP_CHECK(++seen[t] == 1, "request %u got a second result", t);
			RP_TAP_CHECK(A4(res[k].addr) == many_addr(t),
				     "request %u: addr %#x, sent to %#x", t,
				     (unsigned)A4(res[k].addr), (unsigned)many_addr(t));
			if (many_addr(t) == LOCALHOST) {
				RP_TAP_CHECK(
				    res[k].status == RP_SNMP_OK && !strcmp(res[k].name, PLAIN_NAME),
				    "request %u to the agent: %s (%s), sysName \"%s\"", t,
				    rp_snmp_status_name(res[k].status), res[k].detail, res[k].name);
				live_ok++;
			} else {
				RP_TAP_CHECK(res[k].status == RP_SNMP_TIMEOUT,
					     "request %u to no agent: %s (%s), want timeout", t,
					     rp_snmp_status_name(res[k].status), res[k].detail);
				dead_timeout++;
			}
		}
		got += n;
		if (!n)
			sup_sleep_ms(1);
	}
	took = ms_since(t0);
	RP_TAP_CHECK(got == MANY, "%u results of %u after %.0f ms", got, MANY, took);
	sup_sleep_ms(50);
	RP_TAP_CHECK(rp_snmp_take(s, res, 1) == 0, "a result more than requests");
	rp_snmp_stats(s, &st);
	RP_TAP_CHECK(st.submitted == MANY, "submitted %" PRIu64 ", want %u", st.submitted, MANY);
	RP_TAP_CHECK(st.done[RP_SNMP_OK] == MANY_LIVE && live_ok == MANY_LIVE,
		     "ok: counted %" PRIu64 ", seen %u, want %u", st.done[RP_SNMP_OK], live_ok,
		     MANY_LIVE);
	RP_TAP_CHECK(st.done[RP_SNMP_TIMEOUT] == MANY_DEAD && dead_timeout == MANY_DEAD,
		     "timeouts: counted %" PRIu64 ", seen %u, want %u", st.done[RP_SNMP_TIMEOUT],
		     dead_timeout, MANY_DEAD);
	RP_TAP_CHECK(st.done[RP_SNMP_AGENT_ERROR] == 0 && st.done[RP_SNMP_LOCAL_ERROR] == 0,
		     "agent errors %" PRIu64 ", local errors %" PRIu64,
		     st.done[RP_SNMP_AGENT_ERROR], st.done[RP_SNMP_LOCAL_ERROR]);
	RP_TAP_CHECK(st.inflight == 0 && st.queued == 0,
		     "after the last result: %" PRIu64 " in flight, %" PRIu64 " queued",
		     st.inflight, st.queued);
	/* 40 timeouts of 300 ms through 8 slots keep them all busy at some point */
	RP_TAP_CHECK(peak == 8, "at most %" PRIu64 " in flight seen, want 8 at the peak", peak);
	/* at least 40 x 300 ms / 8 of dead time */
	RP_TAP_CHECK(took >= 1500 - 50, "all done in %.0f ms: faster than 40 x 300 ms over 8 slots",
		     took);
	fprintf(stderr,
		"snmp: many: %u requests (%u to no agent) through 8 slots in %.0f ms, peak %" PRIu64
		" in flight over %" PRIu64 " samples\n",
		MANY, MANY_DEAD, took, peak, samples);
	ok = true;
out:
	rp_snmp_destroy(s);
	snmpd_stop(&a);
	free(res);
	return ok;
}

/* Before the thread starts nothing is taken from the request ring: submit must accept
 * exactly what room says, then refuse, and every accepted request still gets its result. */
static bool submit_takes_exactly_room(char *why, size_t whylen)
{
	struct snmpd_values v = plain_values();
	struct snmpd_agent a = {0};
	struct setup u = {.community = SNMPD_COMMUNITY, .max_inflight = "4"};
	struct rp_snmp *s = NULL;
	struct rp_snmp_result *res = NULL;
	struct rp_snmp_stats st;
	uint32_t room, n = 0, *seen = NULL;
	uint64_t peak = 0;
	double t0;
	bool ok = false;

	if (!agent_up(&a, &v, why, whylen))
		goto out;
	u.port = a.port;
	if (!poller_new(&s, &u, false, why, whylen))
		goto out;
	room = rp_snmp_room(s);
	RP_TAP_CHECK(room >= 4 && room <= 1u << 20, "room %u on an empty poller", room);
	while (n < room + 10 && submit4(s, LOCALHOST, n))
		n++;
	RP_TAP_CHECK(n == room, "accepted %u requests, room said %u", n, room);
	RP_TAP_CHECK(rp_snmp_room(s) == 0, "room %u when full", rp_snmp_room(s));
	RP_TAP_CHECK(!submit4(s, LOCALHOST, n), "accepted one more when full");
	rp_snmp_stats(s, &st);
	RP_TAP_CHECK(st.submitted == n && st.queued == n && st.inflight == 0,
		     "full, not started: submitted %" PRIu64 " queued %" PRIu64
		     " in flight %" PRIu64,
		     st.submitted, st.queued, st.inflight);

	res = calloc(n + 1, sizeof(*res));
	seen = calloc(n, sizeof(*seen));
	RP_TAP_CHECK(res && seen, "out of memory");
	RP_TAP_CHECK(rp_snmp_start(s) == 0, "rp_snmp_start failed");
	t0 = sup_now();
	for (uint32_t got = 0; got < n;) {
		uint32_t k = rp_snmp_take(s, res, n + 1);

		if (!stats_sane(s, 4, &peak, why, whylen))
			goto out;
		for (uint32_t i = 0; i < k; i++) {
			RP_TAP_CHECK(res[i].tag < n && ++seen[res[i].tag] == 1,
				     "tag %u unknown or seen twice", res[i].tag);
			RP_TAP_CHECK(res[i].status == RP_SNMP_OK, "tag %u: %s (%s)", res[i].tag,
				     rp_snmp_status_name(res[i].status), res[i].detail);
		}
		got += k;
		RP_TAP_CHECK(ms_since(t0) < 60000, "%u results of %u after 60 s", got, n);
		if (!k)
			sup_sleep_ms(1);
	}
	rp_snmp_stats(s, &st);
	RP_TAP_CHECK(st.done[RP_SNMP_OK] == n && st.queued == 0 && st.inflight == 0,
		     "done ok %" PRIu64 " queued %" PRIu64 " in flight %" PRIu64 ", want %u 0 0",
		     st.done[RP_SNMP_OK], st.queued, st.inflight, n);
	RP_TAP_CHECK(rp_snmp_room(s) == room, "room %u once drained, was %u", rp_snmp_room(s),
		     room);
	fprintf(stderr, "snmp: room: %u accepted (room %u), all answered in %.0f ms\n", n, room,
		ms_since(t0));
	ok = true;
out:
	rp_snmp_destroy(s);
	snmpd_stop(&a);
	free(res);
	free(seen);
	return ok;
}

/* Requests in flight to no agent, more queued: stop returns within stop_max_ms, at most
 * max_results of them ended by then (and each was counted), destroy returns at once, and
 * (ASan) nothing leaks. */
static bool stop_in_flight(const struct setup *base, const char *what, unsigned taken,
			   const char *timeout, const char *retries, double stop_max_ms,
			   unsigned max_results, char *why, size_t whylen)
{
	struct setup u = *base;
	struct rp_snmp *s = NULL;
	struct rp_snmp_result r;
	struct rp_snmp_stats st;
	double t0, stop_ms, destroy_ms;
	uint64_t done = 0;
	unsigned results = 0;
	int port = sup_free_udp_port();
	bool ok = false;

	u.timeout = timeout;
	u.retries = retries;
	u.max_inflight = "8";
	RP_TAP_CHECK(port > 0, "no free UDP port: %s", strerror(-port));
	u.port = (unsigned)port;
	if (!poller_new(&s, &u, true, why, whylen))
		goto out;
	for (uint32_t i = 0; i < 58; i++)
		RP_TAP_CHECK(submit4(s, DEAD_NET + 1 + i, i), "submit %u refused", i);
	/* until the poller took `taken` of them off the request ring (a v3 session is not
	 * counted in flight while its engine ID probe blocks the thread) */
	t0 = sup_now();
	do {
		sup_sleep_ms(5);
		rp_snmp_stats(s, &st);
	} while (58 - st.queued < taken && ms_since(t0) < 5000);
	RP_TAP_CHECK(58 - st.queued >= taken, "%" PRIu64 " taken after 5 s, want %u",
		     58 - st.queued, taken);
	sup_sleep_ms(20);
	t0 = sup_now();
	rp_snmp_stop(s);
	stop_ms = ms_since(t0);
	rp_snmp_stop(s); /* idempotent */
	rp_snmp_stats(s, &st);
	for (int k = 0; k < RP_SNMP_STATUS_COUNT; k++)
		done += st.done[k];
	while (rp_snmp_take(s, &r, 1) == 1)
		results++;
	fprintf(stderr,
		"snmp: %s: stop %.1f ms with %" PRIu64 " in flight, %" PRIu64
		" queued, %u results\n",
		what, stop_ms, st.inflight, st.queued, results);
	RP_TAP_CHECK(stop_ms < stop_max_ms,
		     "rp_snmp_stop took %.0f ms with requests in flight (%u ended "
		     "meanwhile)",
		     stop_ms, results);
	/* nothing ends in the 20 ms before the stop but what may give up by then */
	RP_TAP_CHECK(results <= max_results && results == done,
		     "%u results (%" PRIu64 " counted) by the stop, want at most %u", results, done,
		     max_results);
	RP_TAP_CHECK(st.submitted == 58, "submitted %" PRIu64, st.submitted);
	t0 = sup_now();
	rp_snmp_destroy(s);
	s = NULL;
	destroy_ms = ms_since(t0);
	RP_TAP_CHECK(destroy_ms < 200, "rp_snmp_destroy took %.0f ms", destroy_ms);
	ok = true;
out:
	rp_snmp_destroy(s);
	return ok;
}

static bool v2c_stop_with_requests_in_flight(char *why, size_t whylen)
{
	static const struct setup u = {.community = SNMPD_COMMUNITY};

	return stop_in_flight(&u, "v2c stop", 8, "5s", "1", 200, 0, why, whylen);
}

/* v3: the poller thread sits in net-snmp's synchronous engine ID probe (1 s x 2 here).
 * snmp.h says a v3 session open waits for it; stop may wait for that one probe, no more. */
static bool v3_stop_during_engine_probe(char *why, size_t whylen)
{
	return stop_in_flight(&v3_sha_aes, "v3 stop", 1, "1s", "1", 2000 + 500, 1, why, whylen);
}

/* An operator fixes a wrong passphrase and restarts the poller in the same process (a
 * reload): net-snmp keeps a process-wide USM user list, which must not keep the old keys.
 * And the other way round. */
static bool v3_passphrase_change_takes_effect(char *why, size_t whylen)
{
	struct snmpd_values v = plain_values();
	struct snmpd_agent a = {0};
	struct setup good = v3_md5, bad = v3_md5;
	struct rp_snmp_result r;
	const struct setup *order[4] = {&bad, &good, &bad, &good};
	const int want[4] = {RP_SNMP_AGENT_ERROR, RP_SNMP_OK, RP_SNMP_AGENT_ERROR, RP_SNMP_OK};
	int got[4] = {0};
	double took = 0;
	bool ok = false, same = true;

	bad.auth_pass = "not the md5 passphrase";
	if (!agent_up(&a, &v, why, whylen))
		goto out;
	good.port = bad.port = a.port;
	for (int i = 0; i < 4; i++) {
		if (!poll_once(order[i], rp_ip_v4(LOCALHOST), (uint32_t)i, &r, &took, why, whylen))
			goto out;
		got[i] = r.status;
		same = same && got[i] == want[i];
	}
	RP_TAP_CHECK(
	    same,
	    "pollers one after the other, passphrase wrong, right, wrong, right: %s %s %s %s, "
	    "want %s %s %s %s",
	    rp_snmp_status_name(got[0]), rp_snmp_status_name(got[1]), rp_snmp_status_name(got[2]),
	    rp_snmp_status_name(got[3]), rp_snmp_status_name(want[0]), rp_snmp_status_name(want[1]),
	    rp_snmp_status_name(want[2]), rp_snmp_status_name(want[3]));
	ok = true;
out:
	snmpd_stop(&a);
	return ok;
}

/* A few v3 sessions at once against the same agent: every one authenticates. */
static bool v3_many_requests(char *why, size_t whylen)
{
	struct snmpd_values v = plain_values();
	struct snmpd_agent a = {0};
	struct setup u = v3_sha_aes;
	struct rp_snmp_result res[41];
	struct rp_snmp *s = NULL;
	uint32_t seen[40] = {0};
	double t0;
	bool ok = false;

	u.max_inflight = "8";
	if (!agent_up(&a, &v, why, whylen))
		goto out;
	u.port = a.port;
	if (!poller_new(&s, &u, true, why, whylen))
		goto out;
	t0 = sup_now();
	for (uint32_t i = 0; i < 40; i++)
		RP_TAP_CHECK(submit4(s, LOCALHOST, i), "submit %u refused", i);
	RP_TAP_CHECK(collect(s, res, 40, 30000) == 40, "fewer than 40 results in 30 s");
	for (uint32_t i = 0; i < 40; i++) {
		RP_TAP_CHECK(res[i].tag < 40 && ++seen[res[i].tag] == 1, "tag %u unknown or twice",
			     res[i].tag);
		if (!check_system_group(&res[i], &a, &v, why, whylen))
			goto out;
	}
	fprintf(stderr, "snmp: v3 many: 40 authPriv polls in %.0f ms\n", ms_since(t0));
	ok = true;
out:
	rp_snmp_destroy(s);
	snmpd_stop(&a);
	return ok;
}

/* v2c answers count only from the device asked (address and port). net-snmp matches a
 * v1/v2c answer by request ID, and the IDs are one sequence: a device of the fleet that
 * sees its own ID can answer its neighbours' (spoofer.h). Here the hostile device answers
 * the IDs around its own, from its own address and from the honest device's address on
 * another port, before the honest device's real answer: the honest device keeps its real
 * sysName, each forgery aimed at a request in flight is counted, nothing is renamed. */
static bool v2c_spoofed_answers_are_dropped(char *why, size_t whylen)
{
	struct setup u = {.version = "2c",
			  .community = SNMPD_COMMUNITY,
			  .timeout = "3s",
			  .retries = "1",
			  .max_inflight = "4"};
	struct snmpd_values v = plain_values();
	struct snmpd_agent a = {0};
	struct rp_snmp_result r[2], *honest = NULL, *hostile = NULL;
	struct rp_snmp_stats st;
	struct rp_snmp *s = NULL;
	struct spoofer x;
	bool spoofing = false, ok = false;
	char b1[600];

	if (!agent_up(&a, &v, why, whylen))
		goto out;
	u.port = a.port;
	spoofing = true;
	if (!spoof_start(&x, a.port, why, whylen))
		goto out;
	if (!poller_new(&s, &u, true, why, whylen))
		goto out;
	/* the honest device's GET goes out first: its request ID is the hostile's minus one */
	RP_TAP_CHECK(submit4(s, SPOOF_HONEST_ADDR, 1) && submit4(s, SPOOF_HOSTILE_ADDR, 2),
		     "submit refused on an empty poller");
	RP_TAP_CHECK(collect(s, r, 2, 20000) == 2, "no two results within 20 s");
	for (int i = 0; i < 2; i++) {
		RP_TAP_CHECK(strcmp(r[i].name, SPOOF_NAME) != 0, "device %#x renamed to %s",
			     (unsigned)A4(r[i].addr), r[i].name);
		if (A4(r[i].addr) == SPOOF_HONEST_ADDR && r[i].tag == 1)
			honest = &r[i];
		else if (A4(r[i].addr) == SPOOF_HOSTILE_ADDR && r[i].tag == 2)
			hostile = &r[i];
	}
	RP_TAP_CHECK(honest && hostile, "results for %#x/%u and %#x/%u", (unsigned)A4(r[0].addr),
		     (unsigned)r[0].tag, (unsigned)A4(r[1].addr), (unsigned)r[1].tag);
	RP_TAP_CHECK(atomic_load(&x.forged) && atomic_load(&x.forgeries) == 4 * SPOOF_SPAN,
		     "the hostile device sent %u forgeries", atomic_load(&x.forgeries));
	RP_TAP_CHECK(honest->status == RP_SNMP_OK, "honest device: %s (%s)",
		     rp_snmp_status_name(honest->status), honest->detail);
	RP_TAP_CHECK(strcmp(honest->name, v.name) == 0, "honest device's sysName is %s",
		     sup_shown(honest->name, b1, sizeof(b1)));
	if (!check_system_group(honest, &a, &v, why, whylen))
		goto out;
	RP_TAP_CHECK(atomic_load(&x.relayed) >= 1, "the relay passed no answer back");
	RP_TAP_CHECK(hostile->status == RP_SNMP_OK && strcmp(hostile->name, SPOOF_OWN_NAME) == 0,
		     "hostile device: %s, sysName %s", rp_snmp_status_name(hostile->status),
		     sup_shown(hostile->name, b1, sizeof(b1)));
	rp_snmp_stats(s, &st);
	/* one forgery from each of the hostile's two sockets carries the honest request's ID;
	 * the others name no request in flight (net-snmp drops those unmatched) */
	RP_TAP_CHECK(st.spoofed == 2, "snmp_spoofed %" PRIu64 ", want 2", st.spoofed);
	RP_TAP_CHECK(st.done[RP_SNMP_OK] == 2, "%" PRIu64 " OK results", st.done[RP_SNMP_OK]);
	fprintf(stderr, "snmp: spoofing: %u forgeries sent, %" PRIu64 " dropped as spoofed\n",
		atomic_load(&x.forgeries), st.spoofed);
	ok = true;
out:
	rp_snmp_destroy(s);
	if (spoofing)
		spoof_stop(&x);
	snmpd_stop(&a);
	return ok;
}

/* ---- runners ------------------------------------------------------------------------ */

#define SCENARIO(f)                                                                                \
	{                                                                                          \
		"snmp::" #f, f                                                                     \
	}

static const struct rp_tap_scenario scenarios[] = {
    SCENARIO(v2c_reads_the_system_group),
    SCENARIO(v3_authpriv_sha_aes_reads_the_system_group),
    SCENARIO(v3_authnopriv_md5_reads_the_system_group),
    SCENARIO(v3_wrong_auth_passphrase_is_an_agent_error),
    SCENARIO(v3_wrong_priv_passphrase_times_out),
    SCENARIO(v3_unknown_user_or_level_is_an_agent_error),
    SCENARIO(v3_passphrase_change_takes_effect),
    SCENARIO(v2c_wrong_community_times_out),
    SCENARIO(closed_port_times_out),
    SCENARIO(hostile_strings_are_cleaned_and_cut),
    SCENARIO(many_requests_each_get_one_result),
    SCENARIO(v3_many_requests),
    SCENARIO(submit_takes_exactly_room),
    SCENARIO(v2c_stop_with_requests_in_flight),
    SCENARIO(v3_stop_during_engine_probe),
    SCENARIO(v2c_spoofed_answers_are_dropped),
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

/* Runs the scenario of that name from the table (which the TSan main runs too). */
static void run(const char *name)
{
	char why[2048] = "";

	for (size_t i = 0; i < RP_ARRAY_SIZE(scenarios); i++) {
		if (strcmp(scenarios[i].name + strlen("snmp::"), name))
			continue;
		cr_assert(scenarios[i].fn(why, sizeof(why)), "%s", why);
#ifdef RP_UNDER_ASAN
		/* LeakSanitizer's check at exit does not fail a Criterion test (the worker's
		 * exit status is only reported as a crash "during its setup or teardown"
		 * and the test still counts as passed): check here, with the poller gone. */
		cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
			     "LeakSanitizer found leaks (its report is above)");
#endif
		return;
	}
	cr_assert_fail("no scenario %s", name);
}

#define SNMP_TEST(f)                                                                               \
	Test(snmp, f, .timeout = 120)                                                              \
	{                                                                                          \
		run(#f);                                                                           \
	}

SNMP_TEST(v2c_reads_the_system_group)
SNMP_TEST(v3_authpriv_sha_aes_reads_the_system_group)
SNMP_TEST(v3_authnopriv_md5_reads_the_system_group)
SNMP_TEST(v3_wrong_auth_passphrase_is_an_agent_error)
SNMP_TEST(v3_wrong_priv_passphrase_times_out)
SNMP_TEST(v3_unknown_user_or_level_is_an_agent_error)
SNMP_TEST(v3_passphrase_change_takes_effect)
SNMP_TEST(v2c_wrong_community_times_out)
SNMP_TEST(closed_port_times_out)
SNMP_TEST(hostile_strings_are_cleaned_and_cut)
SNMP_TEST(many_requests_each_get_one_result)
SNMP_TEST(v3_many_requests)
SNMP_TEST(submit_takes_exactly_room)
SNMP_TEST(v2c_stop_with_requests_in_flight)
SNMP_TEST(v3_stop_during_engine_probe)
SNMP_TEST(v2c_spoofed_answers_are_dropped)
#else
/* Replaces Criterion's main under TSan: each scenario in its own child (net-snmp's state
 * is process-wide), TAP on stdout. */
int main(void)
{
	return rp_tap_run(scenarios, sizeof(scenarios) / sizeof(scenarios[0]), false);
}
#endif
