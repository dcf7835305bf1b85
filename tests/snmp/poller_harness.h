/* What the SNMP poller's tests against snmpd share (test_snmp.c, test_snmp6.c): the values
 * the agent serves, a poller made from a struct setup through the same setters as the
 * command-line flags, collecting results, one request, and the check of a system group.
 * Functions return a verdict with why (RP_TAP_CHECK), never assert, so the TSan build
 * (no Criterion) runs them too. */
#ifndef RP_TESTS_POLLER_HARNESS_H
#define RP_TESTS_POLLER_HARNESS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../tap_scenarios.h"
#include "ringprobe/addr.h"
#include "ringprobe/conf.h"
#include "ringprobe/snmp.h"
#include "snmpd_harness.h"
#include "support/support.h"

/* Milliseconds since t0, a sup_now(). */
static inline double ms_since(double t0)
{
	return (sup_now() - t0) * 1e3;
}

/* Every byte here reaches the poller as written: quotes, commas, spaces, `=`, backslashes,
 * `#`, UTF-8 of two to four bytes. */
#define PLAIN_NAME "rtr-01.lab \"edge\", rack=4 \\ Z\xc3\xbcrich \xe2\x98\x83"
#define PLAIN_LOCATION "Room \"B 12\", shelf=3, C:\\net\\sw1\\ # not a comment; 50% = half"
#define PLAIN_CONTACT "NOC <noc@example.org>, tel=+41 44 000 00 00, \xce\xa9 \xf0\x9f\x9b\xb0"

/* sysDescr of the longest length snmpd takes (255 bytes), valid UTF-8 throughout. */
static inline const char *plain_descr(void)
{
	static char d[SNMPD_VALUE_MAX + 1];
	size_t n;

	if (d[0])
		return d;
	n = (size_t)snprintf(d, sizeof(d),
			     "Linux rtr-01 6.1.0-13-amd64 #1 SMP PREEMPT_DYNAMIC Debian "
			     "6.1.55-1 (2023-09-29) x86_64, \"quoted\", a=b, c:\\d ");
	while (n + 3 <= SNMPD_VALUE_MAX) {
		memcpy(d + n, "\xc3\xa9-", 3);
		n += 3;
	}
	while (n < SNMPD_VALUE_MAX)
		d[n++] = 'x';
	d[n] = '\0';
	return d;
}

static inline struct snmpd_values plain_values(void)
{
	return (struct snmpd_values){plain_descr(), PLAIN_NAME, PLAIN_LOCATION, PLAIN_CONTACT};
}

struct setup {
	const char *version; /* "2c" (default) or "3" */
	const char *community;
	const char *user, *level, *auth, *auth_pass, *priv, *priv_pass;
	const char *timeout; /* default "1s" */
	const char *retries; /* default "1" */
	const char *max_inflight;
	unsigned port;
};

static inline bool set_key(struct rp_conf *c, const char *path, const char *value, char *why,
			   size_t whylen)
{
	const struct rp_conf_key *k = rp_conf_key_find(path);
	struct rp_diags d;
	bool ok;

	if (!value)
		return true;
	if (!k) {
		snprintf(why, whylen, "no configuration key %s", path);
		return false;
	}
	rp_diags_init(&d);
	ok = rp_conf_set_flag(c, k, value, &d) == 0 && d.errors == 0;
	if (!ok && d.n)
		rp_diag_format(&d.v[0], why, whylen);
	else if (!ok)
		snprintf(why, whylen, "%s: %s refused", path, value);
	rp_diags_fini(&d);
	return ok;
}

/* A configuration from `u` through the same setters as the command-line flags. */
static inline bool make_conf(struct rp_conf *c, const struct setup *u, char *why, size_t whylen)
{
	char port[12];

	snprintf(port, sizeof(port), "%u", u->port);
	rp_conf_init(c);
	return set_key(c, "snmp.port", port, why, whylen) &&
	       set_key(c, "snmp.version", u->version, why, whylen) &&
	       set_key(c, "snmp.community", u->community, why, whylen) &&
	       set_key(c, "snmp.v3.username", u->user, why, whylen) &&
	       set_key(c, "snmp.v3.security_level", u->level, why, whylen) &&
	       set_key(c, "snmp.v3.auth_protocol", u->auth, why, whylen) &&
	       set_key(c, "snmp.v3.auth_password", u->auth_pass, why, whylen) &&
	       set_key(c, "snmp.v3.priv_protocol", u->priv, why, whylen) &&
	       set_key(c, "snmp.v3.priv_password", u->priv_pass, why, whylen) &&
	       set_key(c, "snmp.timeout", u->timeout ? u->timeout : "1s", why, whylen) &&
	       set_key(c, "snmp.retries", u->retries ? u->retries : "1", why, whylen) &&
	       set_key(c, "snmp.max_inflight", u->max_inflight, why, whylen);
}

static inline bool poller_new(struct rp_snmp **s, const struct setup *u, bool start, char *why,
			      size_t whylen)
{
	struct rp_conf c;
	bool ok = make_conf(&c, u, why, whylen);
	int ret;

	*s = NULL;
	if (ok) {
		ret = rp_snmp_create(s, &c, why, whylen);
		ok = ret == 0 && *s;
		if (ret != 0 && !why[0])
			snprintf(why, whylen, "rp_snmp_create: %s", strerror(-ret));
	}
	rp_conf_fini(&c);
	if (ok && start) {
		ret = rp_snmp_start(*s);
		if (ret != 0) {
			snprintf(why, whylen, "rp_snmp_start: %s", strerror(-ret));
			ok = false;
		}
	}
	return ok;
}

/* Takes results until `want` came or `timeout_ms` passed; returns how many. */
static inline uint32_t collect(struct rp_snmp *s, struct rp_snmp_result *out, uint32_t want,
			       unsigned timeout_ms)
{
	double t0 = sup_now();
	uint32_t got = 0;

	while (got < want && ms_since(t0) < timeout_ms) {
		uint32_t n = rp_snmp_take(s, out + got, want - got);

		got += n;
		if (!n)
			sup_sleep_ms(1);
	}
	return got;
}

/* One request to addr:port as `u` says; the result and how long it took (ms, from the
 * submit to the result's done_real_ns). */
static inline bool poll_once(const struct setup *u, struct rp_ip addr, uint32_t tag,
			     struct rp_snmp_result *r, double *took_ms, char *why, size_t whylen)
{
	struct rp_snmp *s;
	uint64_t t0;
	bool ok = false;

	if (!poller_new(&s, u, true, why, whylen))
		goto out;
	t0 = sup_clock_ns(CLOCK_REALTIME);
	RP_TAP_CHECK(rp_snmp_submit(s, &addr, tag), "submit refused on an empty poller");
	RP_TAP_CHECK(collect(s, r, 1, 30000) == 1, "no result within 30 s");
	RP_TAP_CHECK(r->done_real_ns >= t0 && r->done_real_ns <= sup_clock_ns(CLOCK_REALTIME),
		     "done_real_ns %" PRIu64 " outside [submit, now]", r->done_real_ns);
	*took_ms = (double)(r->done_real_ns - t0) / 1e6;
	{
		struct rp_snmp_result extra;

		sup_sleep_ms(20);
		RP_TAP_CHECK(rp_snmp_take(s, &extra, 1) == 0, "a second result for one request");
	}
	ok = true;
out:
	rp_snmp_destroy(s);
	return ok;
}

/* The result is OK and carries exactly `want` (the agent's values as the poller must clean
 * them), net-snmp's sysObjectID and a plausible sysUpTime. */
static inline bool check_system_group(const struct rp_snmp_result *r, const struct snmpd_agent *a,
				      const struct snmpd_values *want, char *why, size_t whylen)
{
	const char *names[4] = {"sysDescr", "sysName", "sysLocation", "sysContact"};
	const char *got[4] = {r->descr, r->name, r->location, r->contact};
	const char *exp[4] = {want->descr, want->name, want->location, want->contact};
	char b1[1200], b2[1200];
	uint64_t now = sup_clock_ns(CLOCK_MONOTONIC);
	bool ok = false;

	RP_TAP_CHECK(r->status == RP_SNMP_OK, "status %s (%s), want ok",
		     rp_snmp_status_name(r->status), r->detail);
	RP_TAP_CHECK(r->objects == 6, "objects %u, want 6", (unsigned)r->objects);
	for (int i = 0; i < 4; i++)
		RP_TAP_CHECK(!strcmp(got[i], exp[i]), "%s \"%s\", want \"%s\"", names[i],
			     sup_shown(got[i], b1, sizeof(b1)), sup_shown(exp[i], b2, sizeof(b2)));
	RP_TAP_CHECK(!strcmp(r->object_id, SNMPD_OBJECT_ID), "sysObjectID %s, want %s",
		     r->object_id, SNMPD_OBJECT_ID);
	RP_TAP_CHECK(r->has_uptime, "no sysUpTime");
	/* hundredths since the agent started: more than 0 (polled >= 30 ms after it answered),
	 * no more than the time since we started it */
	RP_TAP_CHECK(r->uptime_ticks >= 1 &&
			 r->uptime_ticks <= (now - a->started_ns) / 10000000u + 1,
		     "sysUpTime %u ticks, agent started %.1f ms ago", (unsigned)r->uptime_ticks,
		     (double)(now - a->started_ns) / 1e6);
	ok = true;
out:
	return ok;
}

/* Starts the agent serving `v` and waits 30 ms, so its uptime is at least 3 ticks. */
static inline bool agent_up(struct snmpd_agent *a, const struct snmpd_values *v, char *why,
			    size_t whylen)
{
	if (!snmpd_start(a, v, why, whylen))
		return false;
	sup_sleep_ms(30);
	return true;
}

#endif
