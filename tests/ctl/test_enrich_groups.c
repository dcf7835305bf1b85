/* Groups with their own `snmp:` settings against real agents (src/ctl/enrich.c, the
 * poller's profiles in src/snmp/poller.c): two snmpd on 127.0.0.1 and free ports, each
 * with its own sysName. Group "a" asks 127.0.0.1 with v2c on agent A's port; group "b"
 * asks ::1 with v3 (authPriv) on agent B's port (agent B listens on [::1] too); the top
 * level's block points at a port nobody listens on, so an answer can only come through
 * the group's own settings. Group "c" (snmp: {enabled: false}) holds 127.0.0.1 in a
 * second run and gets nothing, though agent A would answer. The configuration is read
 * from YAML and validated as `run` does, and each device carries its group's class as
 * the daemon gives it (classes.c), so the settings are looked up by class. Nothing is
 * sent outside 127.0.0.1 and ::1; no root.
 *
 * Suite `threads`: the poller is a thread, so this runs under ThreadSanitizer too. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../snmp/snmpd_harness.h"
#include "../tap_scenarios.h"
#include "ctl/ctl_int.h"
#include "ringprobe/compiler.h"
#include "ringprobe/conf.h"
#include "ringprobe/snmp.h"
#include "support/support.h"

struct answers {
	uint32_t n;
	struct rp_snmp_result r[4];
};

static void emit_one(void *arg, const struct rp_snmp_result *r)
{
	struct answers *e = arg;

	if (e->n < RP_ARRAY_SIZE(e->r))
		e->r[e->n] = *r;
	e->n++;
}

/* The class ids this test gives its devices: class g is group g's (1-based), and the
 * lookup is the daemon's, by the group's profile and on/off. */
static const struct rp_conf *cur;

static uint32_t class_snmp(void *arg, uint32_t cls, bool *on)
{
	(void)arg;
	*on = rp_snmp_group_on(cur, cls);
	return rp_snmp_profile(cur, cls);
}

static bool load(struct rp_conf *c, const char *yaml, char *why, size_t whylen)
{
	struct rp_diags d;
	bool ok;

	rp_conf_init(c);
	rp_diags_init(&d);
	ok = rp_conf_load_buffer(c, "groups.yml", yaml, strlen(yaml), &d) == 0;
	rp_conf_validate(c, RP_CONF_FOR_RUN, &d);
	if (!ok || d.errors) {
		char line[512] = "";

		if (d.n)
			rp_diag_format(&d.v[0], line, sizeof(line));
		snprintf(why, whylen, "configuration refused: %s", line);
		ok = false;
	}
	rp_diags_fini(&d);
	return ok;
}

/* Runs the enrichment over (address, class) pairs until `want` answers or `ms` pass. */
static bool run(struct rp_conf *c, const struct rp_ip *addr, const uint32_t *cls, size_t n,
		uint32_t want, uint32_t ms, struct answers *got, struct rp_enrich_stats *st,
		char *why, size_t whylen)
{
	struct rp_enrich e;
	double t0;

	c->max_devices = 8;
	c->snmp_rate_limit = 0;
	cur = c;
	if (rp_enrich_init(&e, c, 0, why, whylen) != 0)
		return false;
	e.snmp_of = class_snmp;
	if (rp_enrich_start(&e) != 0) {
		rp_enrich_fini(&e);
		snprintf(why, whylen, "rp_enrich_start failed");
		return false;
	}
	for (size_t i = 0; i < n; i++)
		rp_enrich_add_class(&e, &addr[i], 0, cls[i]);
	t0 = sup_now();
	while (got->n < want && (sup_now() - t0) * 1e3 < ms) {
		rp_enrich_tick(&e, 1, emit_one, NULL, got);
		sup_sleep_ms(2);
	}
	rp_enrich_tick(&e, 1, emit_one, NULL, got);
	rp_enrich_stats(&e, st);
	rp_enrich_fini(&e);
	return true;
}

static const struct rp_snmp_result *answer_of(const struct answers *a, const struct rp_ip *ip)
{
	for (uint32_t i = 0; i < a->n && i < RP_ARRAY_SIZE(a->r); i++)
		if (rp_ip_eq(&a->r[i].addr, ip))
			return &a->r[i];
	return NULL;
}

static bool enrich_asks_each_group_with_its_own_settings(char *why, size_t whylen)
{
	struct snmpd_values va = {.descr = "agent a", .name = "agent-a-name"};
	struct snmpd_values vb = {.descr = "agent b", .name = "agent-b-name"};
	struct snmpd_agent a = {0}, b = {0};
	struct rp_ip dev[2];
	const uint32_t cls[2] = {1, 2};
	struct answers got = {0}, none = {0};
	struct rp_enrich_stats st;
	const struct rp_snmp_result *r;
	struct rp_conf c;
	bool conf = false, ok = false;
	char yaml[2048], b1[600];
	int dead;

	if (!snmpd_start(&a, &va, why, whylen) || !snmpd_start6(&b, &vb, why, whylen))
		goto out;
	dead = sup_free_udp_port();
	RP_TAP_CHECK(dead > 0, "no free UDP port");
	snprintf(yaml, sizeof(yaml),
		 "allow_loopback: true\n"
		 "influxdb: {url: \"http://127.0.0.1:1\", database: x}\n"
		 "snmp: {port: %d, community: nobody-knows-this, timeout: 300ms, retries: 0,\n"
		 "       max_inflight: 4}\n"
		 "groups:\n"
		 "  - name: a\n"
		 "    devices: [127.0.0.1]\n"
		 "    snmp: {port: %u, community: %s, timeout: 3s, retries: 1}\n"
		 "  - name: b\n"
		 "    devices: [\"::1\"]\n"
		 "    snmp:\n"
		 "      port: %u\n"
		 "      version: \"3\"\n"
		 "      timeout: 3s\n"
		 "      v3: {username: %s, security_level: authPriv, auth_protocol: SHA,\n"
		 "           auth_password: \"%s\", priv_protocol: AES, priv_password: \"%s\"}\n",
		 dead, (unsigned)a.port, SNMPD_COMMUNITY, (unsigned)b.port, SNMPD_V3_PRIV_USER,
		 SNMPD_V3_PRIV_AUTH, SNMPD_V3_PRIV_PRIV);
	conf = load(&c, yaml, why, whylen);
	if (!conf)
		goto out;
	dev[0] = rp_ip_v4(0x7f000001);
	RP_TAP_CHECK(rp_ip_parse("::1", &dev[1]), "::1");
	if (!run(&c, dev, cls, 2, 2, 20000, &got, &st, why, whylen))
		goto out;
	RP_TAP_CHECK(got.n == 2,
		     "%u answers within 20 s, want 2 (ok %" PRIu64 " timeouts %" PRIu64
		     " errors %" PRIu64 ")",
		     got.n, st.ok, st.timeouts, st.errors);
	r = answer_of(&got, &dev[0]);
	RP_TAP_CHECK(r && strcmp(r->name, va.name) == 0, "group a (v2c, agent A): sysName %s",
		     r ? sup_shown(r->name, b1, sizeof(b1)) : "(none)");
	r = answer_of(&got, &dev[1]);
	RP_TAP_CHECK(r && strcmp(r->name, vb.name) == 0, "group b (v3, agent B): sysName %s",
		     r ? sup_shown(r->name, b1, sizeof(b1)) : "(none)");
	RP_TAP_CHECK(st.errors == 0 && st.timeouts == 0, "errors %" PRIu64 " timeouts %" PRIu64,
		     st.errors, st.timeouts);
	rp_conf_fini(&c);
	conf = false;

	/* The same device and agent, its group's SNMP off: never asked. */
	snprintf(yaml, sizeof(yaml),
		 "allow_loopback: true\n"
		 "influxdb: {url: \"http://127.0.0.1:1\", database: x}\n"
		 "snmp: {port: %u, community: %s}\n"
		 "groups:\n"
		 "  - name: c\n"
		 "    devices: [127.0.0.1]\n"
		 "    snmp: {enabled: false}\n",
		 (unsigned)a.port, SNMPD_COMMUNITY);
	conf = load(&c, yaml, why, whylen);
	if (!conf)
		goto out;
	if (!run(&c, dev, cls, 1, 1, 1500, &none, &st, why, whylen))
		goto out;
	RP_TAP_CHECK(none.n == 0 && st.polls == 0, "group c (off): %u answers, %" PRIu64 " polls",
		     none.n, st.polls);
	ok = true;
out:
	if (conf)
		rp_conf_fini(&c);
	snmpd_stop(&a);
	snmpd_stop(&b);
	return ok;
}

#ifndef RP_UNDER_TSAN
#include <criterion/criterion.h>

Test(enrich, asks_each_group_with_its_own_settings, .timeout = 90)
{
	char why[2048] = "";

	cr_assert(enrich_asks_each_group_with_its_own_settings(why, sizeof(why)), "%s", why);
}
#else
static const struct rp_tap_scenario scenarios[] = {
    {"enrich::asks_each_group_with_its_own_settings", enrich_asks_each_group_with_its_own_settings},
};

int main(void)
{
	return rp_tap_run(scenarios, RP_ARRAY_SIZE(scenarios), false);
}
#endif
