/* What the daemon's SNMP enrichment (src/ctl/enrich.c) makes of spoofed v2c answers:
 * a real snmpd on 127.0.0.1 behind a slow relay is the honest device (127.0.0.3), and a
 * hostile device (127.0.0.2) answers the request IDs around its own before the real
 * answer comes (tests/snmp/spoofer.h). The honest device's answer carries its real
 * sysName, and rp_enrich_stats passes the poller's snmp_spoofed on (the field /health,
 * /metrics and health_metrics show, src/ctl/status.c). Nothing is sent outside
 * 127.0.0.0/8; no root.
 *
 * Suite `threads`: the poller is a thread, so this runs under ThreadSanitizer too, from
 * its own main (tests/tap_scenarios.h), where Criterion cannot start. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../snmp/snmpd_harness.h"
#include "../snmp/spoofer.h"
#include "../tap_scenarios.h"
#include "ctl/ctl_int.h"
#include "ringprobe/compiler.h"
#include "ringprobe/conf.h"
#include "ringprobe/snmp.h"
#include "support/support.h"

#define HONEST_NAME "core-sw-01"

static double ms_since(double t0)
{
	return (sup_now() - t0) * 1e3;
}

/* v2c to the agent's port through the same setters as the command-line flags; the
 * relay holds the honest GET only until the forgeries are out, far below the timeout. */
static bool make_conf(struct rp_conf *c, uint16_t port, char *why, size_t whylen)
{
	char p[8];
	const char *kv[][2] = {
	    {"snmp.port", p},	    {"snmp.version", "2c"}, {"snmp.community", SNMPD_COMMUNITY},
	    {"snmp.timeout", "3s"}, {"snmp.retries", "1"},  {"snmp.max_inflight", "4"}};

	snprintf(p, sizeof(p), "%u", (unsigned)port);
	rp_conf_init(c);
	for (size_t i = 0; i < RP_ARRAY_SIZE(kv); i++) {
		const struct rp_conf_key *k = rp_conf_key_find(kv[i][0]);
		struct rp_diags d;
		bool ok;

		rp_diags_init(&d);
		ok = k && rp_conf_set_flag(c, k, kv[i][1], &d) == 0 && d.errors == 0;
		rp_diags_fini(&d);
		if (!ok) {
			snprintf(why, whylen, "%s: %s refused", kv[i][0], kv[i][1]);
			return false;
		}
	}
	return true;
}

/* The enrichment's answers (what the daemon writes as device_info points). */
struct emitted {
	uint32_t n;
	struct rp_snmp_result r[4];
};

static void emit_one(void *arg, const struct rp_snmp_result *r)
{
	struct emitted *e = arg;

	if (e->n < RP_ARRAY_SIZE(e->r))
		e->r[e->n] = *r;
	e->n++;
}

static bool enrich_counts_spoofed_answers(char *why, size_t whylen)
{
	struct snmpd_values v = {.descr = "test agent", .name = HONEST_NAME};
	struct snmpd_agent a = {0};
	struct rp_enrich_stats st;
	struct emitted got = {0};
	struct rp_enrich e;
	struct rp_ip honest, hostile;
	struct rp_conf c;
	struct spoofer x;
	bool spoofing = false, inited = false, conf = false, ok = false;
	char b1[600];
	double t0;

	if (!snmpd_start(&a, &v, why, whylen))
		goto out;
	spoofing = true;
	if (!spoof_start(&x, a.port, why, whylen))
		goto out;
	conf = true;
	if (!make_conf(&c, a.port, why, whylen))
		goto out;
	c.max_devices = 8;
	c.snmp_rate_limit = 0; /* unpaced */
	RP_TAP_CHECK(rp_enrich_init(&e, &c, 0, why, whylen) == 0, "rp_enrich_init: %s", why);
	inited = true;
	RP_TAP_CHECK(rp_enrich_start(&e) == 0, "rp_enrich_start failed");
	/* due in this order, so asked in this order: the honest device's ID is one below */
	honest = rp_ip_v4(SPOOF_HONEST_ADDR);
	hostile = rp_ip_v4(SPOOF_HOSTILE_ADDR);
	rp_enrich_add(&e, &honest, 0);
	rp_enrich_add(&e, &hostile, 0);
	t0 = sup_now();
	while (got.n < 2 && ms_since(t0) < 20000) {
		rp_enrich_tick(&e, 1, emit_one, NULL, &got);
		sup_sleep_ms(2);
	}
	RP_TAP_CHECK(got.n == 2, "%u device_info answers within 20 s", got.n);
	for (uint32_t i = 0; i < 2; i++) {
		const struct rp_snmp_result *r = &got.r[i];
		const char *want =
		    rp_ip_to_v4(&r->addr) == SPOOF_HONEST_ADDR ? v.name : SPOOF_OWN_NAME;

		RP_TAP_CHECK(strcmp(r->name, want) == 0, "device %#x: sysName %s, want %s",
			     (unsigned)rp_ip_to_v4(&r->addr), sup_shown(r->name, b1, sizeof(b1)),
			     want);
	}
	rp_enrich_stats(&e, &st);
	RP_TAP_CHECK(st.spoofed == 2, "enrich snmp_spoofed %" PRIu64 ", want 2", st.spoofed);
	RP_TAP_CHECK(st.ok == 2 && st.errors == 0 && st.timeouts == 0,
		     "ok %" PRIu64 " errors %" PRIu64 " timeouts %" PRIu64, st.ok, st.errors,
		     st.timeouts);
	ok = true;
out:
	if (inited)
		rp_enrich_fini(&e);
	if (conf)
		rp_conf_fini(&c);
	if (spoofing)
		spoof_stop(&x);
	snmpd_stop(&a);
	return ok;
}

#ifndef RP_UNDER_TSAN
#include <criterion/criterion.h>

Test(enrich, counts_spoofed_answers, .timeout = 60)
{
	char why[2048] = "";

	cr_assert(enrich_counts_spoofed_answers(why, sizeof(why)), "%s", why);
}
#else
static const struct rp_tap_scenario scenarios[] = {
    {"enrich::counts_spoofed_answers", enrich_counts_spoofed_answers},
};

int main(void)
{
	return rp_tap_run(scenarios, RP_ARRAY_SIZE(scenarios), false);
}
#endif
