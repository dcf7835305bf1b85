/* The SNMP poller against bench/fleetsim's agents: 500 devices on 198.18.0.0/15 inside the
 * test's own network namespace (so nothing leaves it), 10% without an agent and 5% of the
 * agents answering after 1.5 s. Every result is compared with the simulator's truth, and
 * the simulator's own count of requests per device with what the poller should have sent.
 * Root only (network namespace, TUN): skipped, visibly, otherwise. */
#include "../fleetsim/fleetsim_harness.h"

#include <inttypes.h>
#include <stdint.h>

#include "ringprobe/conf.h"
#include "ringprobe/snmp.h"
#include "support/support.h"

/* Requests to IPv4 addresses named as host-order integers. */
static inline bool submit4(struct rp_snmp *s, uint32_t a, uint32_t tag)
{
	struct rp_ip ip = rp_ip_v4(a);

	return rp_snmp_submit(s, &ip, tag);
}
#define A4(ip) rp_ip_to_v4(&(ip))

#define NDEV 500
#define SLOW_MS 1500 /* fleetsim's default --snmp-delay */
/* snmp.timeout 1s, snmp.retries 1: a slow agent answers the first request after the retry
 * went out; a device without an agent is given up after 2 s. */
#define TIMEOUT_MS 1000
#define TRIES 2

static void set_key(struct rp_conf *c, const char *path, const char *value)
{
	const struct rp_conf_key *k = rp_conf_key_find(path);
	struct rp_diags d;

	cr_assert_not_null(k, "no key %s", path);
	rp_diags_init(&d);
	cr_assert(rp_conf_set_flag(c, k, value, &d) == 0 && d.errors == 0, "%s: %s refused", path,
		  value);
	rp_diags_fini(&d);
}

struct dev_truth {
	bool agent, slow;
	char name[64], descr[256], object_id[128];
};

static void read_truth(const struct fleet *f, struct dev_truth *d)
{
	char *t = fleet_truth(f), v[16];

	for (unsigned i = 0; i < NDEV; i++) {
		truth_dev(t, i, "snmp_agent", v, sizeof(v));
		d[i].agent = !strcmp(v, "true");
		truth_dev(t, i, "snmp_slow", v, sizeof(v));
		d[i].slow = !strcmp(v, "true");
		truth_dev(t, i, "sys_name", d[i].name, sizeof(d[i].name));
		truth_dev(t, i, "sys_descr", d[i].descr, sizeof(d[i].descr));
		/* the truth writes it without the leading dot the poller puts */
		d[i].object_id[0] = '.';
		truth_dev(t, i, "sys_object_id", d[i].object_id + 1, sizeof(d[i].object_id) - 1);
	}
	free(t);
}

Test(snmp_fleet, every_answer_matches_the_truth, .timeout = 120)
{
	static const char *const args[] = {"--seed",	   "7",	 "--snmp-none", "10%",
					   "--snmp-slow",  "5%", "--latency",	"fixed:1ms",
					   "--tap-frames", "0",	 NULL};
	struct dev_truth *truth = calloc(NDEV, sizeof(*truth));
	struct rp_snmp_result *res = calloc(NDEV + 1, sizeof(*res));
	uint64_t sent_ns[NDEV];
	unsigned seen[NDEV] = {0}, agents = 0, slow = 0, none = 0, got = 0;
	double t0, slowest_fast = 0, slow_min = 1e9, slow_max = 0, none_min = 1e9, none_max = 0;
	struct rp_snmp_stats st;
	struct rp_snmp *s = NULL;
	struct fleet f;
	struct rp_conf c;
	char why[256] = "", *t;

	cr_assert(truth && res);
	enter_netns(); /* skips without root */
	fleet_start(&f, NDEV, args);
	fleet_dump(&f);
	read_truth(&f, truth);
	for (unsigned i = 0; i < NDEV; i++) {
		agents += truth[i].agent;
		slow += truth[i].slow;
	}
	none = NDEV - agents;
	cr_assert(none >= 20 && slow >= 5 && agents - slow >= 300,
		  "seed 7 gives %u without an agent, %u slow of %u agents", none, slow, agents);

	rp_conf_init(&c);
	set_key(&c, "snmp.port", "161");
	set_key(&c, "snmp.community", "public");
	set_key(&c, "snmp.timeout", "1s");
	set_key(&c, "snmp.retries", "1");
	/* every device in flight at once, so each result's time is its own, not a queue's */
	set_key(&c, "snmp.max_inflight", "512");
	cr_assert_eq(rp_snmp_create(&s, &c, why, sizeof(why)), 0, "%s", why);
	rp_conf_fini(&c);
	cr_assert_eq(rp_snmp_start(s), 0);

	t0 = sup_now();
	for (unsigned i = 0; i < NDEV; i++) {
		sent_ns[i] = sup_clock_ns(CLOCK_REALTIME);
		cr_assert(submit4(s, fleet_addr(i), i), "submit %u refused", i);
	}
	while (got < NDEV && sup_now() - t0 < 30) {
		uint32_t n = rp_snmp_take(s, res + got, NDEV + 1 - got);

		got += n;
		if (!n)
			usleep(1000);
	}
	cr_assert_eq(got, NDEV, "%u results of %u after 30 s", got, NDEV);

	for (unsigned k = 0; k < NDEV; k++) {
		const struct rp_snmp_result *r = &res[k];
		unsigned i = r->tag;
		const struct dev_truth *d;
		char loc[64];
		double ms;

		cr_assert(i < NDEV && ++seen[i] == 1, "tag %u unknown or seen twice", i);
		d = &truth[i];
		cr_assert_eq(A4(r->addr), fleet_addr(i), "device %u: addr %#x", i,
			     (unsigned)A4(r->addr));
		ms = (double)(r->done_real_ns - sent_ns[i]) / 1e6;
		if (!d->agent) {
			cr_assert_eq(r->status, RP_SNMP_TIMEOUT, "%s (no agent): %s (%s)", d->name,
				     rp_snmp_status_name(r->status), r->detail);
			cr_assert(ms >= TIMEOUT_MS * TRIES - 5 && ms < TIMEOUT_MS * TRIES + 1000,
				  "%s (no agent): timeout after %.0f ms", d->name, ms);
			none_min = ms < none_min ? ms : none_min;
			none_max = ms > none_max ? ms : none_max;
			continue;
		}
		cr_assert_eq(r->status, RP_SNMP_OK, "%s: %s (%s)", d->name,
			     rp_snmp_status_name(r->status), r->detail);
		cr_assert_eq(r->objects, 6, "%s: %u objects", d->name, (unsigned)r->objects);
		cr_assert_str_eq(r->name, d->name);
		cr_assert_str_eq(r->descr, d->descr, "%s", d->name);
		cr_assert_str_eq(r->object_id, d->object_id, "%s", d->name);
		cr_assert_str_eq(r->contact, "noc@fleetsim.example", "%s", d->name);
		snprintf(loc, sizeof(loc), "fleetsim DC1, row %c, rack %02u",
			 (char)('A' + i / 40 % 26), i % 40 + 1);
		cr_assert_str_eq(r->location, loc, "%s", d->name);
		/* fleetsim draws each device's uptime below 400 days */
		cr_assert(r->has_uptime && r->uptime_ticks < 400u * 86400u * 100u + 6000u,
			  "%s: sysUpTime %u", d->name, (unsigned)r->uptime_ticks);
		if (d->slow) {
			cr_assert(ms >= SLOW_MS - 5 && ms < TIMEOUT_MS * TRIES,
				  "%s (slow agent): answered after %.0f ms", d->name, ms);
			slow_min = ms < slow_min ? ms : slow_min;
			slow_max = ms > slow_max ? ms : slow_max;
		} else {
			cr_assert(ms < TIMEOUT_MS / 2, "%s: answered after %.0f ms", d->name, ms);
			slowest_fast = ms > slowest_fast ? ms : slowest_fast;
		}
	}
	usleep(100000);
	cr_assert_eq(rp_snmp_take(s, res, 1), 0, "a result more than requests");
	rp_snmp_stats(s, &st);
	cr_assert(st.submitted == NDEV && st.done[RP_SNMP_OK] == agents &&
		      st.done[RP_SNMP_TIMEOUT] == none && st.done[RP_SNMP_AGENT_ERROR] == 0 &&
		      st.done[RP_SNMP_LOCAL_ERROR] == 0 && st.inflight == 0 && st.queued == 0,
		  "stats: submitted %" PRIu64 " ok %" PRIu64 " timeout %" PRIu64
		  " in flight %" PRIu64 " queued %" PRIu64,
		  st.submitted, st.done[RP_SNMP_OK], st.done[RP_SNMP_TIMEOUT], st.inflight,
		  st.queued);
	rp_snmp_destroy(s);

	/* What the agents saw: one GET per prompt agent; the first request and its retry (sent
	 * at 1 s) for slow agents and devices without one; nothing malformed. */
	fleet_dump(&f);
	t = fleet_truth(&f);
	for (unsigned i = 0; i < NDEV; i++) {
		char v[16];
		unsigned want = truth[i].agent && !truth[i].slow ? 1 : TRIES;

		truth_dev(t, i, "snmp_requests", v, sizeof(v));
		cr_assert_eq(strtoul(v, NULL, 10), want,
			     "%s: fleetsim counted %s requests, want %u", truth[i].name, v, want);
	}
	free(t);
	cr_assert_eq(truth_total(&f, "snmp_malformed"), 0);
	cr_assert_eq(truth_total(&f, "snmp_unsupported"), 0);
	cr_assert_eq(truth_total(&f, "snmp_drops_community"), 0);
	cr_assert_eq(truth_total(&f, "snmp_drops_queue"), 0);
	fleet_stop(&f);
	fprintf(
	    stderr,
	    "snmp_fleet: %u devices: %u prompt agents within %.1f ms, %u slow in %.0f..%.0f ms, "
	    "%u without an agent timed out in %.0f..%.0f ms; all in %.0f ms\n",
	    NDEV, agents - slow, slowest_fast, slow, slow_min, slow_max, none, none_min, none_max,
	    (sup_now() - t0) * 1e3);
	free(truth);
	free(res);
}
