// SPDX-License-Identifier: MIT
/*
 * SNMP enrichment end to end: `ringprobe run` against bench/fleetsim's agents (SNMP v2c on
 * 198.18.0.0/15 inside the test's own network namespace) and a real influxd on the
 * namespace's loopback. Every device_info point is compared with the simulator's truth;
 * devices without an agent, slow agents and the backoff after failures are checked by
 * count. Root only (namespace, TUN, raw ICMP).
 */
#include "fleetsim_harness.h"

#include "support/support.h"

#define NDEV 300

struct run {
	struct srv influx;
	struct fleet f;
	char dir[64], cfg[128], log[160];
};

/* Namespace, influxd with database rp, fleetsim with NDEV devices and @extra. */
static void setup(struct run *r, const char *const *extra)
{
	struct srv_influx_opts io = {.database = "rp"};

	enter_netns();
	cr_assert_eq(system("ip link set lo up"), 0);
	cr_assert_eq(srv_influx_start(&r->influx, &io), 0, "%s", r->influx.why);
	fleet_start(&r->f, NDEV, extra);
	snprintf(r->dir, sizeof(r->dir), "/tmp/rp-enrich-XXXXXX");
	cr_assert_not_null(mkdtemp(r->dir));
	snprintf(r->cfg, sizeof(r->cfg), "%s/config.yml", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/log", r->dir);
}

/* Writes the configuration: every device, @snmp (YAML lines) appended. */
static void config(struct run *r, const char *snmp)
{
	FILE *f = fopen(r->cfg, "w");

	cr_assert_not_null(f);
	fprintf(f,
		"ping_interval: 1s\nping_timeout: 500ms\nhealth_report_interval: 1s\n"
		"influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		"spool:\n  dir: %s/spool\n%sdevices:\n",
		r->influx.url, r->dir, snmp);
	for (unsigned i = 0; i < NDEV; i++) {
		char a[16];

		fmt_addr(a, sizeof(a), fleet_addr(i));
		fprintf(f, "  - %s\n", a);
	}
	fclose(f);
}

/* Runs the daemon for @secs; it must exit 0. */
static void run_daemon(struct run *r, const char *secs)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd), "%s run --config %s --run-for %s >%s 2>&1",
		 bin("RINGPROBE_BIN", "src/cli/ringprobe"), r->cfg, secs, r->log);
	st = system(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ringprobe run exited %#x; log %s", st,
		  r->log);
}

/* The whole run: namespace, influxd, fleetsim with @extra, the daemon configured with
 * @snmp for @secs; returns fleetsim's truth (malloc'd) once fleetsim has stopped. */
static char *run_fleet(struct run *r, const char *const *extra, const char *snmp, const char *secs)
{
	setup(r, extra);
	config(r, snmp);
	run_daemon(r, secs);
	fleet_stop(&r->f);
	return fleet_truth(&r->f);
}

static int64_t last_health(struct run *r, const char *field)
{
	char q[128];

	snprintf(q, sizeof(q), "SELECT last(%s) FROM health_metrics", field);
	return srv_influx_scalar(&r->influx, "rp", q);
}

static const char *col(const struct srv_row *row, const char *name)
{
	for (int i = 0; i < row->ncols; i++)
		if (strcmp(row->col[i], name) == 0)
			return row->val[i] ? row->val[i] : "";
	return NULL;
}

static bool truth_bool(const char *t, unsigned i, const char *key)
{
	char v[16];

	truth_dev(t, i, key, v, sizeof(v));
	return strcmp(v, "true") == 0;
}

static unsigned truth_uint(const char *t, unsigned i, const char *key)
{
	char v[32];

	truth_dev(t, i, key, v, sizeof(v));
	return (unsigned)strtoul(v, NULL, 10);
}

/* A sysObjectID as ringprobe writes it: dotted, with a leading dot. */
static bool same_oid(const char *written, const char *truth)
{
	if (*truth != '.' && *written == '.')
		written++;
	return strcmp(written, truth) == 0;
}

TestSuite(enrich, .timeout = 180);

/*
 * Each device with a prompt agent gets device_info whose strings are the agent's; devices
 * without an agent and slow agents (1.5 s, past snmp.timeout 700 ms) get none; polls are
 * paced by snmp_rate_limit (300 devices at 100/s, burst 20: the answers span >= 2.5 s).
 */
Test(enrich, device_info_matches_every_prompt_agent)
{
	static const char *const extra[] = {
	    "--snmp-none", "0.1", "--snmp-slow", "0.05", "--seed", "11", "--loss", "0", NULL};
	struct srv_row *rows = calloc(NDEV + 1, sizeof(*rows));
	unsigned expected = 0, matched = 0, wrong = 0, unexpected = 0, silent = 0;
	uint64_t first_ns = UINT64_MAX, last_ns = 0;
	char *t, *json;
	struct run r;
	int n;

	t = run_fleet(&r, extra,
		      "snmp_rate_limit: 100\nsnmp_burst_limit: 20\nsnmp_interval: 1h\n"
		      "snmp:\n  timeout: 700ms\n  retries: 0\n",
		      "7s");

	json = srv_influx_query(&r.influx, "rp",
				"SELECT ip, hostname, snmp_description, snmp_object_id, "
				"snmp_location, snmp_contact, snmp_uptime_s FROM device_info");
	n = srv_influx_rows(json, rows, NDEV + 1);
	cr_assert_leq(n, NDEV, "more device_info points than devices: %d", n);
	for (unsigned i = 0; i < NDEV; i++) {
		bool prompt = truth_bool(t, i, "snmp_agent") && !truth_bool(t, i, "snmp_slow") &&
			      truth_uint(t, i, "snmp_answered") > 0;
		char a[16], name[64], descr[256], oid[128];
		const struct srv_row *row = NULL;

		fmt_addr(a, sizeof(a), fleet_addr(i));
		for (int k = 0; k < n && !row; k++)
			if (strcmp(col(&rows[k], "ip"), a) == 0)
				row = &rows[k];
		cr_expect_eq(truth_uint(t, i, "snmp_requests"), 1, "%s was asked %u times", a,
			     truth_uint(t, i, "snmp_requests"));
		expected += prompt;
		if (!row) {
			silent += !prompt;
			continue;
		}
		if (!prompt) {
			unexpected++;
			continue;
		}
		truth_dev(t, i, "sys_name", name, sizeof(name));
		truth_dev(t, i, "sys_descr", descr, sizeof(descr));
		truth_dev(t, i, "sys_object_id", oid, sizeof(oid));
		if (strcmp(col(row, "hostname"), name) == 0 &&
		    strcmp(col(row, "snmp_description"), descr) == 0 &&
		    same_oid(col(row, "snmp_object_id"), oid) && *col(row, "snmp_location") &&
		    atoll(col(row, "snmp_uptime_s")) > 0)
			matched++;
		else
			wrong++;
	}
	free(json);
	/* pacing: the answers' timestamps */
	json = srv_influx_query(&r.influx, "rp", "SELECT hostname FROM device_info");
	{
		struct srv_row *tr = calloc(NDEV + 1, sizeof(*tr));
		int m = srv_influx_rows(json, tr, NDEV + 1);

		for (int k = 0; k < m; k++) {
			uint64_t ts = strtoull(col(&tr[k], "time"), NULL, 10);

			first_ns = ts < first_ns ? ts : first_ns;
			last_ns = ts > last_ns ? ts : last_ns;
		}
		srv_rows_free(tr, m);
		free(tr);
	}
	free(json);

	cr_log_info("%u prompt agents, %u enriched, answers over %.2f s", expected, matched,
		    (double)(last_ns - first_ns) / 1e9);
	cr_expect_gt(expected, NDEV * 3 / 4, "only %u prompt agents", expected);
	cr_expect_eq(matched, expected, "%u of %u prompt agents enriched (%u wrong)", matched,
		     expected, wrong);
	cr_expect_eq(wrong, 0);
	cr_expect_eq(unexpected, 0, "%u device_info points for devices without a prompt agent",
		     unexpected);
	cr_expect_eq(silent + expected, NDEV);
	cr_expect_geq(last_ns - first_ns, 2500000000ull, "answers spread over %.2f s only",
		      (double)(last_ns - first_ns) / 1e9);
	cr_expect_eq(last_health(&r, "snmp_polls"), NDEV);
	cr_expect_eq(last_health(&r, "snmp_answers"), expected);
	cr_expect_eq(last_health(&r, "snmp_timeouts"), NDEV - expected);
	cr_expect_eq(last_health(&r, "snmp_errors"), 0);
	srv_rows_free(rows, n);
	free(rows);
	free(t);
	srv_cleanup(&r.influx);
}

/*
 * snmp_interval 1s with snmp_max_consecutive_fails 2: a device without an agent is asked
 * twice and then left alone for snmp_backoff_duration (1h); a device with one is asked
 * about once a second, and each answer is a device_info point.
 */
Test(enrich, failing_devices_back_off_and_answering_ones_repeat)
{
	static const char *const extra[] = {"--snmp-none", "0.2", "--snmp-slow", "0",
					    "--seed",	   "5",	  NULL};
	unsigned agents = 0, bad = 0;
	struct run r;
	char *t;
	int64_t points;

	t = run_fleet(&r, extra,
		      "snmp_rate_limit: 1000\nsnmp_interval: 1s\nsnmp_max_consecutive_fails: 2\n"
		      "snmp_backoff_duration: 1h\nsnmp:\n  timeout: 300ms\n  retries: 0\n",
		      "5500ms");
	for (unsigned i = 0; i < NDEV; i++) {
		unsigned asked = truth_uint(t, i, "snmp_requests");

		if (!truth_bool(t, i, "snmp_agent")) {
			bad += asked != 2;
			continue;
		}
		agents++;
		/* due at once, then 1 s after each answer: 5 or 6 in 5.5 s */
		bad += asked < 5 || asked > 6;
	}
	cr_log_info("%u agents, %lld device_info points", agents,
		    (long long)srv_influx_scalar(&r.influx, "rp",
						 "SELECT count(hostname) FROM device_info"));
	cr_expect_eq(bad, 0, "%u devices asked a wrong number of times", bad);
	cr_expect_eq(last_health(&r, "snmp_suspended"), NDEV - agents);
	points = srv_influx_scalar(&r.influx, "rp", "SELECT count(hostname) FROM device_info");
	cr_expect_eq(points, last_health(&r, "snmp_answers"));
	cr_expect_geq(points, 5 * agents);
	free(t);
	srv_cleanup(&r.influx);
}
