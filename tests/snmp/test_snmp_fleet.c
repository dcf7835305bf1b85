/* The SNMP poller against bench/fleetsim's agents: 500 devices on 198.18.0.0/15 inside the
 * test's own network namespace (so nothing leaves it), 10% without an agent and 5% of the
 * agents answering after 1.5 s. Every result is compared with the simulator's truth, and
 * the simulator's own count of requests per device with what the poller should have sent.
 * Then the same fleet answering on both families (fleetsim --family both: device
 * 198.18.x.y is also 2001:2::c612:xy), each device asked over IPv4 and over IPv6 at once.
 * Root only (network namespace, TUN): skipped, visibly, otherwise. Tests run one at a
 * time (their timing bounds assume no other fleet on the cores). */
#include "../fleetsim/fleetsim_harness.h"

#include <inttypes.h>
#include <stdint.h>

#include "ringprobe/conf.h"
#include "ringprobe/snmp.h"
#include "support/support.h"

/* Device a (host order) over IPv4, or over IPv6 as fleetsim --family 6|both has it. */
static struct rp_ip dev_ip(uint32_t a, bool v6)
{
	struct rp_ip ip = rp_ip_v4(a);
	char text[48];

	if (!v6)
		return ip;
	fmt_addr6(text, sizeof(text), a);
	cr_assert(rp_ip_parse(text, &ip), "%s", text);
	return ip;
}

/* A request's tag: the device, and the family in the top bit. */
#define TAG_V6 0x80000000u

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

/* Runs the fleet of NDEV devices (fleetsim --family `family`) and asks every device over
 * IPv4 when v4, over IPv6 when v6 (both: two requests each, all in flight at once); checks
 * each result against the truth and fleetsim's count of requests against the poller's. */
static void fleet_matches_truth(const char *family, bool v4, bool v6)
{
	const char *args[] = {"--seed",	  "7",	       "--snmp-none", "10%",	      "--snmp-slow",
			      "5%",	  "--latency", "fixed:1ms",   "--tap-frames", "0",
			      "--family", family,      NULL};
	unsigned nfam = (unsigned)v4 + (unsigned)v6, nreq = NDEV * nfam;
	struct dev_truth *truth = calloc(NDEV, sizeof(*truth));
	struct rp_snmp_result *res = calloc(2 * NDEV + 1, sizeof(*res));
	uint64_t sent_ns[2][NDEV];
	unsigned seen[2][NDEV] = {{0}}, agents = 0, slow = 0, none = 0, got = 0, ok6 = 0;
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
	/* every request in flight at once, so each result's time is its own, not a queue's */
	set_key(&c, "snmp.max_inflight", nfam == 2 ? "1024" : "512");
	cr_assert_eq(rp_snmp_create(&s, &c, why, sizeof(why)), 0, "%s", why);
	rp_conf_fini(&c);
	cr_assert_eq(rp_snmp_start(s), 0);

	t0 = sup_now();
	for (unsigned i = 0; i < NDEV; i++)
		for (unsigned fam = 0; fam < 2; fam++) {
			struct rp_ip ip = dev_ip(fleet_addr(i), fam == 1);

			if (!(fam ? v6 : v4))
				continue;
			sent_ns[fam][i] = sup_clock_ns(CLOCK_REALTIME);
			cr_assert(rp_snmp_submit(s, &ip, i | (fam ? TAG_V6 : 0)),
				  "submit %u refused", i);
		}
	while (got < nreq && sup_now() - t0 < 30) {
		uint32_t n = rp_snmp_take(s, res + got, nreq + 1 - got);

		got += n;
		if (!n)
			usleep(1000);
	}
	cr_assert_eq(got, nreq, "%u results of %u after 30 s", got, nreq);

	for (unsigned k = 0; k < nreq; k++) {
		const struct rp_snmp_result *r = &res[k];
		unsigned i = r->tag & ~TAG_V6, fam = r->tag & TAG_V6 ? 1 : 0;
		const struct dev_truth *d;
		struct rp_ip want;
		char loc[64], ip[RP_IP_STRLEN];
		double ms;

		cr_assert(i < NDEV && ++seen[fam][i] == 1, "tag %#x unknown or seen twice", r->tag);
		cr_assert(fam ? v6 : v4, "tag %#x: a family not asked", r->tag);
		d = &truth[i];
		want = dev_ip(fleet_addr(i), fam == 1);
		cr_assert(rp_ip_eq(&r->addr, &want), "device %u: result for %s", i,
			  rp_ip_format(&r->addr, ip));
		rp_ip_format(&want, ip);
		ms = (double)(r->done_real_ns - sent_ns[fam][i]) / 1e6;
		if (!d->agent) {
			cr_assert_eq(r->status, RP_SNMP_TIMEOUT, "%s %s (no agent): %s (%s)",
				     d->name, ip, rp_snmp_status_name(r->status), r->detail);
			cr_assert(ms >= TIMEOUT_MS * TRIES - 5 && ms < TIMEOUT_MS * TRIES + 1000,
				  "%s %s (no agent): timeout after %.0f ms", d->name, ip, ms);
			none_min = ms < none_min ? ms : none_min;
			none_max = ms > none_max ? ms : none_max;
			continue;
		}
		cr_assert_eq(r->status, RP_SNMP_OK, "%s %s: %s (%s)", d->name, ip,
			     rp_snmp_status_name(r->status), r->detail);
		cr_assert_eq(r->objects, 6, "%s %s: %u objects", d->name, ip, (unsigned)r->objects);
		cr_assert_str_eq(r->name, d->name, "%s", ip);
		cr_assert_str_eq(r->descr, d->descr, "%s %s", d->name, ip);
		cr_assert_str_eq(r->object_id, d->object_id, "%s %s", d->name, ip);
		cr_assert_str_eq(r->contact, "noc@fleetsim.example", "%s %s", d->name, ip);
		snprintf(loc, sizeof(loc), "fleetsim DC1, row %c, rack %02u",
			 (char)('A' + i / 40 % 26), i % 40 + 1);
		cr_assert_str_eq(r->location, loc, "%s %s", d->name, ip);
		/* fleetsim draws each device's uptime below 400 days */
		cr_assert(r->has_uptime && r->uptime_ticks < 400u * 86400u * 100u + 6000u,
			  "%s %s: sysUpTime %u", d->name, ip, (unsigned)r->uptime_ticks);
		ok6 += fam;
		if (d->slow) {
			cr_assert(ms >= SLOW_MS - 5 && ms < TIMEOUT_MS * TRIES,
				  "%s %s (slow agent): answered after %.0f ms", d->name, ip, ms);
			slow_min = ms < slow_min ? ms : slow_min;
			slow_max = ms > slow_max ? ms : slow_max;
		} else {
			cr_assert(ms < TIMEOUT_MS / 2, "%s %s: answered after %.0f ms", d->name, ip,
				  ms);
			slowest_fast = ms > slowest_fast ? ms : slowest_fast;
		}
	}
	usleep(100000);
	cr_assert_eq(rp_snmp_take(s, res, 1), 0, "a result more than requests");
	rp_snmp_stats(s, &st);
	cr_assert(st.submitted == nreq && st.done[RP_SNMP_OK] == agents * nfam &&
		      st.done[RP_SNMP_TIMEOUT] == none * nfam &&
		      st.done[RP_SNMP_AGENT_ERROR] == 0 && st.done[RP_SNMP_LOCAL_ERROR] == 0 &&
		      st.inflight == 0 && st.queued == 0 && st.spoofed == 0,
		  "stats: submitted %" PRIu64 " ok %" PRIu64 " timeout %" PRIu64
		  " in flight %" PRIu64 " queued %" PRIu64 " spoofed %" PRIu64,
		  st.submitted, st.done[RP_SNMP_OK], st.done[RP_SNMP_TIMEOUT], st.inflight,
		  st.queued, st.spoofed);
	rp_snmp_destroy(s);

	/* What the agents saw: one GET per family per prompt agent; the first request and its
	 * retry (sent at 1 s) for slow agents and devices without one; nothing malformed. */
	fleet_dump(&f);
	t = fleet_truth(&f);
	for (unsigned i = 0; i < NDEV; i++) {
		char v[16];
		unsigned want = (truth[i].agent && !truth[i].slow ? 1 : TRIES) * nfam;

		truth_dev(t, i, "snmp_requests", v, sizeof(v));
		cr_assert_eq(strtoul(v, NULL, 10), want,
			     "%s: fleetsim counted %s requests, want %u", truth[i].name, v, want);
	}
	free(t);
	if (v6) {
		unsigned long long want6 = 0;

		for (unsigned i = 0; i < NDEV; i++)
			want6 += truth[i].agent && !truth[i].slow ? 1 : TRIES;
		cr_assert_eq(truth_total(&f, "snmp_requests_v6"), want6);
		cr_assert_eq(truth_total(&f, "snmp_answered_v6"), ok6);
	}
	cr_assert_eq(truth_total(&f, "snmp_malformed"), 0);
	cr_assert_eq(truth_total(&f, "snmp_unsupported"), 0);
	cr_assert_eq(truth_total(&f, "snmp_drops_community"), 0);
	cr_assert_eq(truth_total(&f, "snmp_drops_queue"), 0);
	fleet_stop(&f);
	fprintf(stderr,
		"snmp_fleet: %u devices over %s: %u prompt agents within %.1f ms, %u slow in "
		"%.0f..%.0f ms, %u without an agent timed out in %.0f..%.0f ms; %u requests in "
		"%.0f ms\n",
		NDEV,
		v4 && v6 ? "IPv4 and IPv6"
		: v6	 ? "IPv6"
			 : "IPv4",
		agents - slow, slowest_fast, slow, slow_min, slow_max, none, none_min, none_max,
		nreq, (sup_now() - t0) * 1e3);
	free(truth);
	free(res);
}

Test(snmp_fleet, every_answer_matches_the_truth, .timeout = 120)
{
	fleet_matches_truth("4", true, false);
}

/* The same devices over IPv6 and IPv4 at once: a sysName per device and family, each the
 * truth's; the answers over IPv6 are fleetsim's snmp_answered_v6. */
Test(snmp_fleet, every_ipv6_answer_matches_the_truth, .timeout = 120)
{
	fleet_matches_truth("both", true, true);
}

#define NSWEEP 40

/* `ringprobe sweep --snmp` over IPv6: fleetsim --family 6 with NSWEEP devices in a /122
 * of 2001:2::c612:0 (the other 24 addresses answer nothing); each device prints one line,
 * its address and the truth's sysName, or "-" without an agent. Skipped while ringprobe
 * sends no ICMPv6 echo at all (fleetsim counted none): the sweep asks only hosts alive. */
Test(snmp_fleet, sweep_snmp_over_ipv6_names_every_device, .timeout = 60)
{
	static const char *const args[] = {
	    "--seed",	    "7", "--snmp-none", "10%", "--snmp-slow", "0", "--latency", "fixed:1ms",
	    "--tap-frames", "0", "--family",	"6",   NULL};
	char cmd[512], *out = NULL, *err = NULL, *t;
	unsigned lines = 0, named = 0, dashes = 0;
	bool seen[NSWEEP] = {0};
	struct fleet f;
	int st;

	enter_netns(); /* skips without root */
	fleet_start(&f, NSWEEP, args);
	snprintf(cmd, sizeof(cmd),
		 "%s sweep --snmp --snmp-timeout 500ms --snmp-retries 0 2001:2::c612:0/122",
		 bin("RINGPROBE_BIN", "src/cli/ringprobe"));
	st = sup_run(cmd, 0, &out, &err);
	fleet_dump(&f);
	if (truth_total(&f, "requests_v6") == 0) {
		fleet_stop(&f);
		cr_skip_test("ringprobe sent no ICMPv6 echo (IPv6 probing not in this build): %s",
			     err ? err : "");
	}
	cr_assert_eq(st, 0, "exit %d: %s", st, err ? err : "");
	t = fleet_truth(&f);
	for (char *line = out, *nl; line && *line; line = nl + 1) {
		char want[RP_IP_STRLEN + 80], addr6[48], name[64], agent[16];
		unsigned i;

		nl = strchr(line, '\n');
		cr_assert_not_null(nl, "an unterminated line: %s", line);
		*nl = '\0';
		for (i = 0; i < NSWEEP; i++) {
			fmt_addr6(addr6, sizeof(addr6), fleet_addr(i));
			if (!strncmp(line, addr6, strlen(addr6)) && line[strlen(addr6)] == '\t')
				break;
		}
		cr_assert(i < NSWEEP, "a line for no device: %s", line);
		cr_assert(!seen[i], "device %s printed twice", addr6);
		seen[i] = true;
		truth_dev(t, i, "snmp_agent", agent, sizeof(agent));
		truth_dev(t, i, "sys_name", name, sizeof(name));
		snprintf(want, sizeof(want), "%s\t%s", addr6, strcmp(agent, "true") ? "-" : name);
		cr_assert_str_eq(line, want);
		named += !strcmp(agent, "true");
		dashes += !!strcmp(agent, "true");
		lines++;
	}
	free(t);
	cr_assert_eq(lines, NSWEEP, "%u lines for %u devices: %s", lines, NSWEEP, err);
	cr_assert(named >= 30 && dashes >= 1, "seed 7: %u named, %u without an agent", named,
		  dashes);
	cr_assert_eq(truth_total(&f, "snmp_requests_v6"), NSWEEP);
	fleet_stop(&f);
	fprintf(stderr,
		"snmp_fleet: sweep --snmp over IPv6: %u devices named, %u without an agent\n",
		named, dashes);
	free(out);
	free(err);
}

int main(int argc, char *argv[])
{
	return fleet_run_serially(argc, argv);
}
