/* The health renderers (src/ops/health.c) directly, and the server (src/ops/http.c)
 * over real HTTP on 127.0.0.1 with libcurl. JSON is checked by python3's json module
 * and /metrics by `promtool check metrics` (lint included); both are CI packages, so
 * a missing tool fails the test rather than skipping it. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ringprobe/event.h"
#include "ringprobe/health.h"
#include "ringprobe/line.h"

#define BODY_MAX 32768

/* Every JSON key /health must carry: "status", "reasons" and one per snapshot field. */
static const char json_keys[] =
    "status,reasons,version,time_ns,uptime_s,cpu_seconds,rss_bytes,shards,ready,sink,"
    "rate_limit_pps,needed_pps,devices,active,suspended,discovered,evicted,pruned,sweeps,"
    "sweep_probes,config_reloads,config_reload_errors,probes_sent,replies,timeouts,"
    "late_replies,invalid_replies,send_errors,ring_drops,kernel_rx_drops,rtt_clock_fallbacks,"
    "timeout_fifo_full,"
    "late_sends,max_late_ns,"
    "points_written,points_dropped,points_dropped_pool,points_dropped_rejected,"
    "points_dropped_spool_overflow,points_dropped_spool_corrupt,points_dropped_no_spool,"
    "batches_ok,batches_failed,batches_retried,requests_inflight,spool_bytes,spool_points,"
    "spool_io_errors,spool_read_failing,sink_down,snmp_devices,snmp_suspended,snmp_waiting,"
    "snmp_polls,snmp_ok,snmp_timeouts,snmp_errors,snmp_spoofed,commands_refused,names,"
    "names_failing,name_addresses,name_lookups,name_failures,devices_down,state_changes,rounds,"
    "icmp_errors,icmp_errors_short";

/* Every metric family /metrics must carry, with its type. */
static const struct {
	const char *name;
	const char *type;
} families[] = {
    {"ringprobe_build_info", "gauge"},
    {"ringprobe_snapshot_timestamp_seconds", "gauge"},
    {"ringprobe_uptime_seconds", "gauge"},
    {"ringprobe_cpu_seconds_total", "counter"},
    {"ringprobe_rss_bytes", "gauge"},
    {"ringprobe_shards", "gauge"},
    {"ringprobe_ready", "gauge"},
    {"ringprobe_sink", "gauge"},
    {"ringprobe_rate_limit_probes_per_second", "gauge"},
    {"ringprobe_needed_probes_per_second", "gauge"},
    {"ringprobe_devices", "gauge"},
    {"ringprobe_devices_active", "gauge"},
    {"ringprobe_devices_suspended", "gauge"},
    {"ringprobe_devices_discovered_total", "counter"},
    {"ringprobe_devices_evicted_total", "counter"},
    {"ringprobe_devices_pruned_total", "counter"},
    {"ringprobe_sweeps_total", "counter"},
    {"ringprobe_sweep_probes_total", "counter"},
    {"ringprobe_config_reloads_total", "counter"},
    {"ringprobe_config_reload_errors_total", "counter"},
    {"ringprobe_probes_sent_total", "counter"},
    {"ringprobe_replies_total", "counter"},
    {"ringprobe_timeouts_total", "counter"},
    {"ringprobe_late_replies_total", "counter"},
    {"ringprobe_invalid_replies_total", "counter"},
    {"ringprobe_send_errors_total", "counter"},
    {"ringprobe_ring_drops_total", "counter"},
    {"ringprobe_late_sends_total", "counter"},
    {"ringprobe_max_late_seconds", "gauge"},
    {"ringprobe_points_written_total", "counter"},
    {"ringprobe_points_dropped_total", "counter"},
    {"ringprobe_points_dropped_pool_total", "counter"},
    {"ringprobe_points_dropped_rejected_total", "counter"},
    {"ringprobe_points_dropped_spool_overflow_total", "counter"},
    {"ringprobe_points_dropped_spool_corrupt_total", "counter"},
    {"ringprobe_points_dropped_no_spool_total", "counter"},
    {"ringprobe_batches_ok_total", "counter"},
    {"ringprobe_batches_failed_total", "counter"},
    {"ringprobe_batches_retried_total", "counter"},
    {"ringprobe_requests_inflight", "gauge"},
    {"ringprobe_spool_bytes", "gauge"},
    {"ringprobe_spool_points", "gauge"},
    {"ringprobe_spool_io_errors_total", "counter"},
    {"ringprobe_spool_read_failing", "gauge"},
    {"ringprobe_sink_down", "gauge"},
    {"ringprobe_snmp_devices", "gauge"},
    {"ringprobe_snmp_devices_suspended", "gauge"},
    {"ringprobe_snmp_polls_waiting", "gauge"},
    {"ringprobe_snmp_polls_total", "counter"},
    {"ringprobe_snmp_answers_total", "counter"},
    {"ringprobe_snmp_timeouts_total", "counter"},
    {"ringprobe_snmp_errors_total", "counter"},
    {"ringprobe_snmp_spoofed_total", "counter"},
    {"ringprobe_commands_refused_total", "counter"},
    {"ringprobe_names", "gauge"},
    {"ringprobe_names_failing", "gauge"},
    {"ringprobe_name_addresses", "gauge"},
    {"ringprobe_name_lookups_total", "counter"},
    {"ringprobe_name_failures_total", "counter"},
    {"ringprobe_devices_down", "gauge"},
    {"ringprobe_state_changes_total", "counter"},
    {"ringprobe_rounds_total", "counter"},
    {"ringprobe_icmp_errors_total", "counter"},
    {"ringprobe_icmp_errors_short_total", "counter"},
    {"ringprobe_kernel_rx_drops_total", "counter"},
    {"ringprobe_rtt_clock_fallbacks_total", "counter"},
    {"ringprobe_timeout_fifo_full_total", "counter"},
    {"ringprobe_degraded", "gauge"},
};

static struct rp_health_snapshot healthy(void)
{
	struct rp_health_snapshot s = {
	    .time_ns = 1700000000123456789ull,
	    .uptime_s = 3600.5,
	    .cpu_seconds = 12.25,
	    .rss_bytes = 52428800,
	    .shards = 2,
	    .ready = true,
	    .reasons = 0,
	    .rate_limit_pps = 10000,
	    .needed_pps = 2500.5,
	    .devices = 1000,
	    .active = 990,
	    .suspended = 10,
	    .discovered = 40,
	    .evicted = 3,
	    .pruned = 5,
	    .sweeps = 7,
	    .sweep_probes = 65536,
	    .config_reloads = 2,
	    .config_reload_errors = 1,
	    .probes_sent = 360000,
	    .replies = 359000,
	    .timeouts = 900,
	    .late_replies = 100,
	    .invalid_replies = 11,
	    .send_errors = 0,
	    .ring_drops = 0,
	    .late_sends = 12,
	    .max_late_ns = 12500000,
	    .points_written = 359900,
	    .points_dropped = 0,
	    .batches_ok = 720,
	    .batches_failed = 1,
	    .batches_retried = 3,
	    .requests_inflight = 2,
	    .spool_bytes = 0,
	    .spool_points = 0,
	    .sink_down = false,
	    .version = "0.1.0",
	};
	return s;
}

static struct rp_health_snapshot degraded(void)
{
	struct rp_health_snapshot s = healthy();

	s.reasons = RP_HEALTH_SINK_FAILING | RP_HEALTH_POINTS_DROPPED;
	s.sink_down = true;
	s.spool_bytes = 4096;
	s.spool_points = 50;
	/* 7 = 1 + 2 + 3 + 0 + 1, each reason its own value. */
	s.points_dropped = 7;
	s.points_dropped_pool = 1;
	s.points_dropped_rejected = 2;
	s.points_dropped_spool_overflow = 3;
	s.points_dropped_spool_corrupt = 0;
	s.points_dropped_no_spool = 1;
	return s;
}

/* Every bool row of RP_HEALTH_FIELDS set true (0xff is no valid bool). */
#define WIDE_U64(m)
#define WIDE_U32(m)
#define WIDE_DBL(m)
#define WIDE_NS(m)
#define WIDE_BOOL(m) s.m = true;
#define WIDE(m, k, name, t, pt, pname, h) WIDE_##k(m)

/* Every number at its widest, doubles not finite, a version needing escapes. */
static struct rp_health_snapshot widest(void)
{
	struct rp_health_snapshot s;

	memset(&s, 0xff, sizeof(s));
	RP_HEALTH_FIELDS(WIDE)
	s.uptime_s = 1e300;
	s.cpu_seconds = -1.5e-300;
	s.rate_limit_pps = INFINITY;
	s.needed_pps = NAN;
	memset(s.version, '"', sizeof(s.version) - 1);
	s.version[1] = '\\';
	s.version[2] = '\n';
	s.version[sizeof(s.version) - 1] = '\0';
	return s;
}

/* Runs `cmd` (a shell command) with `input` on its stdin; its stdout and stderr
 * together go to out. Returns its exit status, or -1 when it could not run. */
static int run_tool(const char *cmd, const char *input, size_t len, char *out, size_t cap)
{
	char path[] = "/tmp/rp_health_XXXXXX";
	char line[4096];
	int fd = mkstemp(path);
	size_t n = 0;
	FILE *p;
	int st;

	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	cr_assert_eq(write(fd, input, len), (ssize_t)len);
	close(fd);
	snprintf(line, sizeof(line), "%s < %s 2>&1", cmd, path);
	p = popen(line, "r");
	cr_assert_not_null(p, "popen %s", cmd);
	out[0] = '\0';
	while (n + 1 < cap && fgets(out + n, (int)(cap - n), p))
		n += strlen(out + n);
	st = pclose(p);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* promtool must exit 0 and say nothing (a lint warning exits 3 and prints it). */
static void assert_promtool_clean(const char *body, size_t len)
{
	char out[8192];
	int rc = run_tool("promtool check metrics", body, len, out, sizeof(out));

	cr_assert_neq(rc, 127, "promtool not installed (package prometheus): %s", out);
	cr_assert_eq(rc, 0, "promtool check metrics exited %d:\n%s\n--- body:\n%s", rc, out, body);
	cr_assert_str_empty(out, "promtool printed:\n%s", out);
}

/* python3 parses body as one JSON object and prints "\nkey=<json value>" per key,
 * then "keys_ok" when its keys are exactly json_keys. */
static void json_fields(const char *body, char *out, size_t cap)
{
	char cmd[2048];
	int rc;

	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,sys\n"
		 "d=json.load(sys.stdin)\n"
		 "assert isinstance(d,dict)\n"
		 "print()\n"
		 "for k,v in d.items(): print(k+\"=\"+json.dumps(v))\n"
		 "want=set(sys.argv[1].split(\",\"))\n"
		 "print(\"keys_ok\" if set(d)==want else \"keys_diff \"+repr(set(d)^want))' %s",
		 json_keys);
	rc = run_tool(cmd, body, strlen(body), out, cap);
	cr_assert_neq(rc, 127, "python3 not installed: %s", out);
	cr_assert_eq(rc, 0, "not valid JSON (%s):\n%s", out, body);
}

static void assert_has(const char *hay, const char *needle)
{
	cr_assert_not_null(strstr(hay, needle), "missing \"%s\" in:\n%s", needle, hay);
}

/* Every sample's family has a HELP and a TYPE before it; counters and only counters
 * end in _total; every expected family is there with its type. */
static void assert_families(const char *body)
{
	char help[96][96], type[96][96], kind[96][16];
	int nhelp = 0, ntype = 0;
	const char *p = body;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[512], name[96];

		cr_assert_lt(len, sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);
		if (sscanf(line, "# HELP %95s", name) == 1) {
			cr_assert_lt(nhelp, 96);
			strcpy(help[nhelp++], name);
		} else if (sscanf(line, "# TYPE %95s", name) == 1) {
			cr_assert_lt(ntype, 96);
			cr_assert_eq(sscanf(line, "# TYPE %*s %15s", kind[ntype]), 1, "%s", line);
			strcpy(type[ntype++], name);
		} else {
			bool h = false, t = false;

			cr_assert_neq(line[0], '#', "unexpected comment: %s", line);
			cr_assert_eq(sscanf(line, "%95[^{ ]", name), 1, "%s", line);
			for (int i = 0; i < nhelp; i++)
				h |= strcmp(help[i], name) == 0;
			for (int i = 0; i < ntype; i++)
				t |= strcmp(type[i], name) == 0;
			cr_assert(h && t, "sample without HELP/TYPE before it: %s", line);
		}
	}
	cr_assert_eq(nhelp, ntype);
	for (int i = 0; i < ntype; i++) {
		size_t n = strlen(type[i]);
		bool total = n > 6 && strcmp(type[i] + n - 6, "_total") == 0;

		cr_assert_eq(total, strcmp(kind[i], "counter") == 0, "%s is a %s", type[i],
			     kind[i]);
	}
	cr_assert_eq((size_t)ntype, sizeof(families) / sizeof(families[0]));
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		bool found = false;

		for (int i = 0; i < ntype; i++)
			if (strcmp(type[i], families[f].name) == 0) {
				found = true;
				cr_assert_str_eq(kind[i], families[f].type, "%s", type[i]);
			}
		cr_assert(found, "no family %s in:\n%s", families[f].name, body);
	}
}

Test(health, reason_names)
{
	cr_assert_str_eq(rp_health_reason_name(RP_HEALTH_SINK_FAILING), "sink_failing");
	cr_assert_str_eq(rp_health_reason_name(RP_HEALTH_RING_DROPS), "ring_drops");
	cr_assert_str_eq(rp_health_reason_name(RP_HEALTH_SEND_ERRORS), "send_errors");
	cr_assert_str_eq(rp_health_reason_name(RP_HEALTH_POINTS_DROPPED), "points_dropped");
	cr_assert_str_eq(rp_health_reason_name(RP_HEALTH_SPOOL_ERRORS), "spool_errors");
	cr_assert_null(rp_health_reason_name(0));
	cr_assert_null(rp_health_reason_name(RP_HEALTH_SINK_FAILING | RP_HEALTH_RING_DROPS));
	cr_assert_null(rp_health_reason_name(1u << RP_HEALTH_REASON_COUNT));
	cr_assert_null(rp_health_reason_name(1u << 31));
}

Test(health, json_carries_every_field)
{
	struct rp_health_snapshot s = healthy();
	char buf[BODY_MAX], out[BODY_MAX];
	size_t n = rp_health_json(&s, buf, sizeof(buf));

	cr_assert_eq(n, strlen(buf));
	json_fields(buf, out, sizeof(out));
	assert_has(out, "\nkeys_ok");
	assert_has(out, "\nstatus=\"ok\"\n");
	assert_has(out, "\nreasons=[]\n");
	assert_has(out, "\nversion=\"0.1.0\"\n");
	assert_has(out, "\ntime_ns=1700000000123456789\n");
	assert_has(out, "\nuptime_s=3600.5\n");
	assert_has(out, "\ncpu_seconds=12.25\n");
	assert_has(out, "\nrss_bytes=52428800\n");
	assert_has(out, "\nshards=2\n");
	assert_has(out, "\nready=true\n");
	assert_has(out, "\nneeded_pps=2500.5\n");
	assert_has(out, "\nactive=990\n");
	assert_has(out, "\nconfig_reload_errors=1\n");
	assert_has(out, "\nprobes_sent=360000\n");
	assert_has(out, "\nmax_late_ns=12500000\n");
	assert_has(out, "\nbatches_failed=1\n");
	assert_has(out, "\nbatches_retried=3\n");
	assert_has(out, "\nrequests_inflight=2\n");
	assert_has(out, "\npoints_dropped_pool=0\n");
	assert_has(out, "\nsink_down=false\n");
}

Test(health, json_lists_reasons_in_bit_order)
{
	struct rp_health_snapshot s = degraded();
	char buf[BODY_MAX], out[BODY_MAX];

	s.reasons |= RP_HEALTH_RING_DROPS;
	rp_health_json(&s, buf, sizeof(buf));
	json_fields(buf, out, sizeof(out));
	assert_has(out, "\nstatus=\"degraded\"\n");
	assert_has(out, "\nreasons=[\"sink_failing\", \"ring_drops\", \"points_dropped\"]\n");
	assert_has(out, "\nsink_down=true\n");
	assert_has(out, "\npoints_dropped=7\n");
	assert_has(out, "\npoints_dropped_pool=1\n");
	assert_has(out, "\npoints_dropped_rejected=2\n");
	assert_has(out, "\npoints_dropped_spool_overflow=3\n");
	assert_has(out, "\npoints_dropped_spool_corrupt=0\n");
	assert_has(out, "\npoints_dropped_no_spool=1\n");
}

Test(health, widest_snapshot_renders_valid_json_and_metrics)
{
	struct rp_health_snapshot s = widest();
	char buf[BODY_MAX], out[BODY_MAX];
	size_t n;

	rp_health_json(&s, buf, sizeof(buf));
	json_fields(buf, out, sizeof(out));
	assert_has(out, "\nkeys_ok");
	assert_has(out, "\nversion=\"\\\"\\\\\\n\\\"");
	assert_has(out, "\nprobes_sent=18446744073709551615\n");
	assert_has(out, "\nshards=4294967295\n");
	assert_has(out, "\nrate_limit_pps=null\n");
	assert_has(out, "\nneeded_pps=null\n");
	assert_has(out, "\nuptime_s=1e+300\n");
	assert_has(out, "\nreasons=[\"sink_failing\", \"ring_drops\", \"send_errors\", "
			"\"points_dropped\", \"spool_errors\"]\n");

	n = rp_health_prom(&s, buf, sizeof(buf));
	cr_assert_eq(n, strlen(buf));
	assert_promtool_clean(buf, n);
	assert_families(buf);
	assert_has(buf, "\nringprobe_build_info{version=\"\\\"\\\\\\n\\\"");
	assert_has(buf, "\nringprobe_rate_limit_probes_per_second +Inf\n");
	assert_has(buf, "\nringprobe_needed_probes_per_second NaN\n");
	assert_has(buf, "\nringprobe_max_late_seconds 18446744073.709551615\n");
}

Test(health, metrics_have_help_type_and_values)
{
	struct rp_health_snapshot s = degraded();
	char buf[BODY_MAX];
	size_t n = rp_health_prom(&s, buf, sizeof(buf));

	cr_assert_eq(n, strlen(buf));
	assert_promtool_clean(buf, n);
	assert_families(buf);
	assert_has(buf, "\nringprobe_build_info{version=\"0.1.0\"} 1\n");
	assert_has(buf, "\nringprobe_snapshot_timestamp_seconds 1700000000.123456789\n");
	assert_has(buf, "\nringprobe_uptime_seconds 3600.5\n");
	assert_has(buf, "\nringprobe_cpu_seconds_total 12.25\n");
	assert_has(buf, "\nringprobe_ready 1\n");
	assert_has(buf, "\nringprobe_rate_limit_probes_per_second 10000\n");
	assert_has(buf, "\nringprobe_devices_suspended 10\n");
	assert_has(buf, "\nringprobe_probes_sent_total 360000\n");
	assert_has(buf, "\nringprobe_max_late_seconds 0.012500000\n");
	assert_has(buf, "\nringprobe_points_dropped_total 7\n");
	assert_has(buf, "\nringprobe_points_dropped_pool_total 1\n");
	assert_has(buf, "\nringprobe_points_dropped_rejected_total 2\n");
	assert_has(buf, "\nringprobe_points_dropped_spool_overflow_total 3\n");
	assert_has(buf, "\nringprobe_points_dropped_spool_corrupt_total 0\n");
	assert_has(buf, "\nringprobe_points_dropped_no_spool_total 1\n");
	assert_has(buf, "\nringprobe_batches_retried_total 3\n");
	assert_has(buf, "\nringprobe_requests_inflight 2\n");
	assert_has(buf, "\nringprobe_spool_bytes 4096\n");
	assert_has(buf, "\nringprobe_sink_down 1\n");
	assert_has(buf, "\nringprobe_degraded{reason=\"sink_failing\"} 1\n");
	assert_has(buf, "\nringprobe_degraded{reason=\"ring_drops\"} 0\n");
	assert_has(buf, "\nringprobe_degraded{reason=\"send_errors\"} 0\n");
	assert_has(buf, "\nringprobe_degraded{reason=\"points_dropped\"} 1\n");
}

/* ---- the one field list (RP_HEALTH_FIELDS) ----------------------------------------- */

/* The health_metrics point as daemon.c wrote it field by field before the list: the
 * InfluxDB schema, which must not move. */
static const char *const point_names[] = {
    "devices",
    "active",
    "suspended",
    "discovered",
    "evicted",
    "pruned",
    "probes_sent",
    "replies",
    "timeouts",
    "late_replies",
    "invalid_replies",
    "send_errors",
    "ring_drops",
    "late_sends",
    "max_late_ms",
    "points_written",
    "points_dropped",
    "points_dropped_pool",
    "points_dropped_rejected",
    "points_dropped_spool_overflow",
    "points_dropped_spool_corrupt",
    "points_dropped_no_spool",
    "batches_ok",
    "batches_failed",
    "batches_retried",
    "requests_inflight",
    "spool_bytes",
    "sweep_probes",
    "rss_bytes",
    "cpu_seconds",
    "uptime_s",
    "snmp_polls",
    "snmp_answers",
    "snmp_timeouts",
    "snmp_errors",
    "snmp_suspended",
    "commands_refused",
    "snmp_spoofed",
    "timeout_fifo_full",
    "kernel_rx_drops",
    "spool_io_errors",
    "rtt_clock_fallbacks",
    "names",
    "names_failing",
    "name_addresses",
    "name_lookups",
    "name_failures",
    "devices_down",
    "state_changes",
    "rounds",
    "icmp_errors",
    "icmp_errors_short",
};

/* One row of the list, as the test sees it, with the value the row's member gets. */
enum tkind { T_U64, T_U32, T_DBL, T_BOOL, T_NS };

struct trow {
	const char *member, *metric, *point_name;
	enum tkind kind;
	unsigned point;
	uint64_t u; /* the value set (integers, nanoseconds) */
	double d;   /* the value set (doubles) */
};

#define TROW(m, k, name, t, pt, pname, h) {#m, name, pname, T_##k, pt, 0, 0},
static struct trow rows[] = {RP_HEALTH_FIELDS(TROW)};

/* Sets every member to a value of its own (row i: 1000003 * (i + 1), doubles + .25). */
static struct rp_health_snapshot distinct(void)
{
	struct rp_health_snapshot s;
	size_t i = 0;

	memset(&s, 0, sizeof(s));
	snprintf(s.version, sizeof(s.version), "0.1.0");
	for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		rows[k].u = 1000003ull * (k + 1);
		rows[k].d = (double)rows[k].u + 0.25;
	}
#define SET(m, k, name, t, pt, pname, h)                                                           \
	s.m = rows[i].kind == T_DBL    ? (RP_HEALTH_T_##k)rows[i].d                                \
	      : rows[i].kind == T_BOOL ? (RP_HEALTH_T_##k)1                                        \
				       : (RP_HEALTH_T_##k)rows[i].u;                               \
	i++;
	RP_HEALTH_FIELDS(SET)
#undef SET
	return s;
}

/* Every row shows in /health under its member name, in /metrics under its metric,
 * each with the member's value, and in the point at its place when it has one. */
Test(health, every_field_in_the_list_reaches_json_metrics_and_the_point)
{
	struct rp_health_snapshot s = distinct();
	struct rp_field f[RP_HEALTH_POINT_FIELDS];
	char json[BODY_MAX], prom[BODY_MAX], want[256];
	unsigned in_point = 0;
	bool place[RP_HEALTH_POINT_FIELDS + 1] = {false};

	rp_health_json(&s, json, sizeof(json));
	rp_health_prom(&s, prom, sizeof(prom));
	memset(f, 0, sizeof(f));
	rp_health_point(&s, f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct trow *r = &rows[i];
		char v[64], pv[64];

		switch (r->kind) {
		case T_U64:
		case T_U32:
			snprintf(v, sizeof(v), "%llu", (unsigned long long)r->u);
			snprintf(pv, sizeof(pv), "%s", v);
			break;
		case T_NS:
			snprintf(v, sizeof(v), "%llu", (unsigned long long)r->u);
			snprintf(pv, sizeof(pv), "%llu.%09llu",
				 (unsigned long long)r->u / 1000000000ull,
				 (unsigned long long)r->u % 1000000000ull);
			break;
		case T_DBL:
			snprintf(v, sizeof(v), "%.15g", r->d);
			snprintf(pv, sizeof(pv), "%s", v);
			break;
		case T_BOOL:
			snprintf(v, sizeof(v), "true");
			snprintf(pv, sizeof(pv), "1");
			break;
		}
		snprintf(want, sizeof(want), "\"%s\":%s%c", r->member, v,
			 i + 1 < sizeof(rows) / sizeof(rows[0]) ? ',' : '}');
		assert_has(json, want);
		snprintf(want, sizeof(want), "\nringprobe_%s %s\n", r->metric, pv);
		assert_has(prom, want);
		snprintf(want, sizeof(want), "# TYPE ringprobe_%s ", r->metric);
		assert_has(prom, want);
		if (!r->point) {
			cr_assert_str_empty(r->point_name, "%s has a point name but no place",
					    r->member);
			continue;
		}
		in_point++;
		cr_assert_leq(r->point, RP_HEALTH_POINT_FIELDS, "%s", r->member);
		cr_assert_not(place[r->point], "%s: place %u taken twice", r->member, r->point);
		place[r->point] = true;
		cr_assert_str_eq(f[r->point - 1].key, r->point_name);
		switch (r->kind) {
		case T_U64:
		case T_U32:
			cr_assert_eq(f[r->point - 1].type, RP_FIELD_INT, "%s", r->member);
			cr_assert_eq(f[r->point - 1].v.i, (int64_t)r->u, "%s", r->member);
			break;
		case T_NS: /* milliseconds */
			cr_assert_eq(f[r->point - 1].type, RP_FIELD_FLOAT, "%s", r->member);
			cr_assert_eq(f[r->point - 1].v.f, (double)r->u / 1e6, "%s", r->member);
			break;
		case T_DBL:
			cr_assert_eq(f[r->point - 1].type, RP_FIELD_FLOAT, "%s", r->member);
			cr_assert_eq(f[r->point - 1].v.f, r->d, "%s", r->member);
			break;
		case T_BOOL:
			cr_assert_eq(f[r->point - 1].type, RP_FIELD_BOOL, "%s", r->member);
			cr_assert(f[r->point - 1].v.b, "%s", r->member);
			break;
		}
	}
	cr_assert_eq(in_point, RP_HEALTH_POINT_FIELDS);
	/* Exactly the InfluxDB schema of before, in its order. */
	cr_assert_eq(RP_HEALTH_POINT_FIELDS, sizeof(point_names) / sizeof(point_names[0]));
	for (size_t i = 0; i < sizeof(point_names) / sizeof(point_names[0]); i++)
		cr_assert_str_eq(f[i].key, point_names[i], "point field %zu", i);
	/* And nothing in the renders that is not a row (plus reasons, version, degraded). */
	{
		size_t keys = 0, samples = 0;

		for (const char *p = json; (p = strstr(p, "\":")); p++)
			keys++;
		for (const char *p = prom; (p = strstr(p, "\nringprobe_")); p++)
			samples++;
		cr_assert_eq(keys, sizeof(rows) / sizeof(rows[0]) + 3, "status, reasons, version");
		cr_assert_eq(samples, 1 + sizeof(rows) / sizeof(rows[0]) + RP_HEALTH_REASON_COUNT,
			     "build_info, then one per row and one per reason: %zu", samples);
	}
}

/* Degraded looks back one minute: a loss shows until the sample it happened after is
 * a minute old, sink_down only while it lasts. */
Test(health, degraded_reasons_look_back_one_minute)
{
	struct rp_health_history h;
	struct rp_health_snapshot s;

	memset(&h, 0, sizeof(h));
	memset(&s, 0, sizeof(s));
	s.ring_drops = 5; /* before the first sample: nothing to compare with */
	rp_health_judge(&h, &s);
	cr_assert_eq(s.reasons, 0);
	s.sink_down = true;
	rp_health_judge(&h, &s);
	cr_assert_eq(s.reasons, RP_HEALTH_SINK_FAILING);
	s.sink_down = false;
	s.reasons = 0;
	rp_health_remember(&h, &s); /* second 0: 5 drops */
	for (int sec = 1; sec < 60; sec++) {
		memset(&s, 0, sizeof(s));
		s.ring_drops = 5;
		s.send_errors = sec >= 10 ? 1 : 0;
		s.points_dropped = sec >= 30 ? 2 : 0;
		rp_health_judge(&h, &s);
		cr_assert_eq(s.reasons,
			     (sec >= 10 ? RP_HEALTH_SEND_ERRORS : 0u) |
				 (sec >= 30 ? RP_HEALTH_POINTS_DROPPED : 0u),
			     "second %d: reasons %#x", sec, s.reasons);
		rp_health_remember(&h, &s);
	}
	/* A minute of samples: the oldest (second 0) had 0 send errors, so still degraded;
	 * a minute after the last loss (second 30), all clear. */
	for (int sec = 60; sec < 100; sec++) {
		memset(&s, 0, sizeof(s));
		s.ring_drops = 5;
		s.send_errors = 1;
		s.points_dropped = 2;
		rp_health_judge(&h, &s);
		cr_assert_eq(s.reasons & RP_HEALTH_RING_DROPS, 0, "second %d", sec);
		cr_assert_eq(!!(s.reasons & RP_HEALTH_SEND_ERRORS), sec < 70, "second %d", sec);
		cr_assert_eq(!!(s.reasons & RP_HEALTH_POINTS_DROPPED), sec < 90, "second %d", sec);
		rp_health_remember(&h, &s);
	}
}

/* spool_errors: while a spooled segment cannot be read, and for a minute after any
 * spool I/O error. */
Test(health, spool_errors_while_unreadable_and_a_minute_after_an_io_error)
{
	struct rp_health_history h;
	struct rp_health_snapshot s;

	memset(&h, 0, sizeof(h));
	memset(&s, 0, sizeof(s));
	s.spool_read_failing = true;
	rp_health_judge(&h, &s);
	cr_assert_eq(s.reasons, RP_HEALTH_SPOOL_ERRORS);
	memset(&s, 0, sizeof(s));
	rp_health_remember(&h, &s); /* second 0: no errors */
	for (int sec = 1; sec < 100; sec++) {
		memset(&s, 0, sizeof(s));
		s.spool_io_errors = sec >= 10 ? 3 : 0;
		rp_health_judge(&h, &s);
		cr_assert_eq(!!(s.reasons & RP_HEALTH_SPOOL_ERRORS), sec >= 10 && sec < 70,
			     "second %d: reasons %#x", sec, s.reasons);
		rp_health_remember(&h, &s);
	}
}

/* snprintf's contract: the needed length back, the longest prefix that fits,
 * NUL-terminated, and not one byte written past cap. */
static void check_truncation(size_t (*render)(const struct rp_health_snapshot *, char *, size_t))
{
	struct rp_health_snapshot s = widest();
	char full[BODY_MAX], buf[BODY_MAX];
	size_t need = render(&s, full, sizeof(full));
	size_t caps[] = {1, 2, 16, 100, need / 2, need, need + 1};

	cr_assert_gt(need, 100);
	cr_assert_eq(strlen(full), need);
	cr_assert_eq(render(&s, NULL, 0), need);
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		size_t cap = caps[i], kept = cap - 1;

		memset(buf, 'X', sizeof(buf));
		cr_assert_eq(render(&s, buf, cap), need, "cap %zu", cap);
		cr_assert_eq(buf[kept], '\0', "cap %zu", cap);
		cr_assert_eq(memcmp(buf, full, kept), 0, "cap %zu", cap);
		for (size_t j = cap; j < need + 64; j++)
			cr_assert_eq(buf[j], 'X', "cap %zu: byte %zu written", cap, j);
	}
}

Test(health, too_small_buffer_returns_needed_length)
{
	check_truncation(rp_health_json);
	check_truncation(rp_health_prom);
}

/* One HTTP exchange with the server. */
struct resp {
	long code;
	char type[128];
	char allow[64];
	char body[BODY_MAX];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;

	/* No assertion here: the reader thread uses it too. Too large fails the transfer. */
	if (r->len + len >= sizeof(r->body))
		return 0;
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;

	if (len > 7 && strncasecmp(p, "Allow: ", 7) == 0)
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - 9), p + 7);
	return len;
}

static struct resp *http(uint16_t port, const char *method, const char *path)
{
	static struct resp r;
	char url[128];
	char *type = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	cr_assert_not_null(c);
	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned int)port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "a=1");
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c);
	cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
	snprintf(r.type, sizeof(r.type), "%s", type ? type : "");
	curl_easy_cleanup(c);
	return &r;
}

static void expect(uint16_t port, const char *path, long code, const char *type, const char *body)
{
	struct resp *r = http(port, "GET", path);

	cr_assert_eq(r->code, code, "GET %s: %ld, body %s", path, r->code, r->body);
	cr_assert_str_eq(r->type, type, "GET %s", path);
	if (body)
		cr_assert_str_eq(r->body, body, "GET %s", path);
}

static struct rp_health_server *start(void)
{
	struct rp_health_server *h = NULL;
	char why[256] = "";

	cr_assert_eq(rp_health_server_start(&h, "127.0.0.1", 0, why, sizeof(why)), 0, "%s", why);
	cr_assert_not_null(h);
	return h;
}

#define JSON "application/json"
#define PROM "text/plain; version=0.0.4; charset=utf-8"
#define TEXT "text/plain; charset=utf-8"

Test(http, before_first_publish_only_live_answers_200)
{
	struct rp_health_server *h = start();
	uint16_t port = rp_health_server_port(h);
	struct resp *r;

	expect(port, "/health/live", 200, JSON, "{\"status\":\"live\"}\n");
	expect(port, "/health/ready", 503, JSON, "{\"status\":\"not ready\"}\n");
	expect(port, "/health", 503, JSON,
	       "{\"status\":\"not ready\",\"detail\":\"no health snapshot published yet\"}\n");
	r = http(port, "GET", "/metrics");
	cr_assert_eq(r->code, 503);
	cr_assert_str_eq(r->type, TEXT);
	assert_has(r->body, "not ready yet");
	rp_health_server_stop(h);
}

Test(http, healthy_snapshot)
{
	struct rp_health_server *h = start();
	uint16_t port = rp_health_server_port(h);
	struct rp_health_snapshot s = healthy();
	char out[BODY_MAX];
	struct resp *r;

	rp_health_server_publish(h, &s);
	expect(port, "/health/live", 200, JSON, "{\"status\":\"live\"}\n");
	expect(port, "/health/ready", 200, JSON, "{\"status\":\"ready\"}\n");

	r = http(port, "GET", "/health");
	cr_assert_eq(r->code, 200, "%s", r->body);
	cr_assert_str_eq(r->type, JSON);
	json_fields(r->body, out, sizeof(out));
	assert_has(out, "\nkeys_ok");
	assert_has(out, "\nstatus=\"ok\"\n");
	assert_has(out, "\nreasons=[]\n");
	assert_has(out, "\nreplies=359000\n");
	assert_has(out, "\ndevices=1000\n");

	r = http(port, "GET", "/metrics");
	cr_assert_eq(r->code, 200, "%s", r->body);
	cr_assert_str_eq(r->type, PROM);
	assert_promtool_clean(r->body, r->len);
	assert_families(r->body);
	assert_has(r->body, "\nringprobe_replies_total 359000\n");
	assert_has(r->body, "\nringprobe_degraded{reason=\"sink_failing\"} 0\n");
	rp_health_server_stop(h);
}

Test(http, degraded_snapshot)
{
	struct rp_health_server *h = start();
	uint16_t port = rp_health_server_port(h);
	struct rp_health_snapshot s = degraded();
	char out[BODY_MAX];
	struct resp *r;

	rp_health_server_publish(h, &s);
	r = http(port, "GET", "/health");
	cr_assert_eq(r->code, 503, "%s", r->body);
	cr_assert_str_eq(r->type, JSON);
	json_fields(r->body, out, sizeof(out));
	assert_has(out, "\nkeys_ok");
	assert_has(out, "\nstatus=\"degraded\"\n");
	assert_has(out, "\nreasons=[\"sink_failing\", \"points_dropped\"]\n");
	assert_has(out, "\nspool_points=50\n");

	/* Degraded is not unready: the shards still run. */
	expect(port, "/health/ready", 200, JSON, "{\"status\":\"ready\"}\n");
	expect(port, "/health/live", 200, JSON, "{\"status\":\"live\"}\n");

	r = http(port, "GET", "/metrics");
	cr_assert_eq(r->code, 200, "%s", r->body);
	cr_assert_str_eq(r->type, PROM);
	assert_promtool_clean(r->body, r->len);
	assert_families(r->body);
	assert_has(r->body, "\nringprobe_degraded{reason=\"sink_failing\"} 1\n");
	assert_has(r->body, "\nringprobe_degraded{reason=\"points_dropped\"} 1\n");
	assert_has(r->body, "\nringprobe_degraded{reason=\"ring_drops\"} 0\n");

	/* The next publish replaces it. */
	s = healthy();
	rp_health_server_publish(h, &s);
	expect(port, "/health", 200, JSON, NULL);
	rp_health_server_stop(h);
}

Test(http, ready_follows_the_last_snapshot)
{
	struct rp_health_server *h = start();
	uint16_t port = rp_health_server_port(h);
	struct rp_health_snapshot s = healthy();

	s.ready = false;
	rp_health_server_publish(h, &s);
	expect(port, "/health/ready", 503, JSON, "{\"status\":\"not ready\"}\n");
	expect(port, "/health", 200, JSON, NULL);
	assert_has(http(port, "GET", "/metrics")->body, "\nringprobe_ready 0\n");
	s.ready = true;
	rp_health_server_publish(h, &s);
	expect(port, "/health/ready", 200, JSON, "{\"status\":\"ready\"}\n");
	rp_health_server_stop(h);
}

Test(http, widest_snapshot_fits_the_response_buffer)
{
	struct rp_health_server *h = start();
	uint16_t port = rp_health_server_port(h);
	struct rp_health_snapshot s = widest();
	char out[BODY_MAX];
	struct resp *r;

	rp_health_server_publish(h, &s);
	r = http(port, "GET", "/metrics");
	cr_assert_eq(r->code, 200, "%s", r->body);
	assert_promtool_clean(r->body, r->len);
	r = http(port, "GET", "/health");
	cr_assert_eq(r->code, 503, "%s", r->body);
	json_fields(r->body, out, sizeof(out));
	assert_has(out, "\nkeys_ok");
	rp_health_server_stop(h);
}

Test(http, unknown_path_is_404_naming_the_paths)
{
	struct rp_health_server *h = start();
	uint16_t port = rp_health_server_port(h);
	struct rp_health_snapshot s = healthy();
	const char *paths[] = {"/nope",	     "/health/", "/healthz",
			       "/metrics/x", "/api/v1/", "/page.js/x"};
	const char *want = "{\"status\":\"not found\",\"paths\":[\"/\",\"/api/v1/summary\","
			   "\"/api/v1/down\",\"/api/v1/rtt\",\"/api/v1/loss\",\"/health\","
			   "\"/health/live\",\"/health/ready\","
			   "\"/metrics\"]}\n";

	expect(port, "/nope", 404, JSON, want);
	rp_health_server_publish(h, &s);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		expect(port, paths[i], 404, JSON, want);
	/* The query string is not part of the path. */
	expect(port, "/health/live?x=1", 200, JSON, "{\"status\":\"live\"}\n");
	rp_health_server_stop(h);
}

Test(http, other_methods_are_405)
{
	struct rp_health_server *h = start();
	uint16_t port = rp_health_server_port(h);
	struct rp_health_snapshot s = healthy();
	const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
	struct resp *r;

	rp_health_server_publish(h, &s);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		r = http(port, methods[i], "/health");
		cr_assert_eq(r->code, 405, "%s: %ld", methods[i], r->code);
		cr_assert_str_eq(r->type, JSON);
		cr_assert_str_eq(r->allow, "GET, HEAD", "%s", methods[i]);
		assert_has(r->body, "method not allowed");
	}
	r = http(port, "POST", "/metrics");
	cr_assert_eq(r->code, 405);

	/* HEAD is GET without the body. */
	r = http(port, "HEAD", "/metrics");
	cr_assert_eq(r->code, 200);
	cr_assert_str_eq(r->type, PROM);
	cr_assert_eq(r->len, 0);
	r = http(port, "HEAD", "/health/live");
	cr_assert_eq(r->code, 200);
	rp_health_server_stop(h);
}

Test(http, port_zero_reports_the_real_port)
{
	struct rp_health_server *h = start(), *h2 = start();
	uint16_t port = rp_health_server_port(h);

	cr_assert_neq(port, 0);
	cr_assert_neq(rp_health_server_port(h2), port);
	expect(port, "/health/live", 200, JSON, "{\"status\":\"live\"}\n");
	expect(rp_health_server_port(h2), "/health/live", 200, JSON, "{\"status\":\"live\"}\n");
	rp_health_server_stop(h2);
	rp_health_server_stop(h);
	rp_health_server_stop(NULL);
}

Test(http, port_in_use_fails_naming_it)
{
	struct rp_health_server *h = start(), *h2 = NULL;
	uint16_t port = rp_health_server_port(h);
	char why[256] = "", want[128];
	int rc;

	rc = rp_health_server_start(&h2, "127.0.0.1", port, why, sizeof(why));
	cr_assert_eq(rc, -EADDRINUSE, "%d (%s)", rc, why);
	cr_assert_null(h2);
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%u: %s", (unsigned int)port,
		 strerror(EADDRINUSE));
	cr_assert_str_eq(why, want);
	/* The first server is undisturbed. */
	expect(port, "/health/live", 200, JSON, "{\"status\":\"live\"}\n");
	rp_health_server_stop(h);
}

Test(http, address_not_on_this_host_fails_naming_it)
{
	struct rp_health_server *h = NULL;
	char why[256] = "";
	FILE *f = fopen("/proc/sys/net/ipv4/ip_nonlocal_bind", "r");
	int nonlocal = 0, rc;

	if (f) {
		if (fscanf(f, "%d", &nonlocal) != 1)
			nonlocal = 0;
		fclose(f);
	}
	if (nonlocal)
		cr_skip_test("net.ipv4.ip_nonlocal_bind=1 lets any address bind");
	/* 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address. */
	rc = rp_health_server_start(&h, "192.0.2.1", 8080, why, sizeof(why));
	cr_assert_eq(rc, -EADDRNOTAVAIL, "%d (%s)", rc, why);
	cr_assert_null(h);
	cr_assert_str_eq(why, "cannot listen on 192.0.2.1:8080: Cannot assign requested address");
}

Test(http, ipv6_loopback)
{
	struct rp_health_server *h = NULL;
	char why[256] = "", url[64];
	struct resp r = {0};
	CURL *c;
	int rc = rp_health_server_start(&h, "::1", 0, why, sizeof(why));

	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
		cr_skip_test("no IPv6 loopback here: %s", why);
	cr_assert_eq(rc, 0, "%s", why);
	snprintf(url, sizeof(url), "http://[::1]:%u/health/live",
		 (unsigned int)rp_health_server_port(h));
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK, "%s", url);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
	curl_easy_cleanup(c);
	cr_assert_eq(r.code, 200);
	cr_assert_str_eq(r.body, "{\"status\":\"live\"}\n");
	rp_health_server_stop(h);
}

/* A client that sends half a request and waits must not hold up anyone else. */
Test(http, stalled_client_does_not_block_others)
{
	struct rp_health_server *h = start();
	uint16_t port = rp_health_server_port(h);
	struct rp_health_snapshot s = healthy();
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	const char half[] = "GET /health HTTP/1.1\r\nHost: x\r\n";
	int fd[4];

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 4; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_geq(fd[i], 0);
		cr_assert_eq(connect(fd[i], (struct sockaddr *)&a, sizeof(a)), 0, "%s",
			     strerror(errno));
		cr_assert_eq(write(fd[i], half, sizeof(half) - 1), (ssize_t)(sizeof(half) - 1));
	}
	rp_health_server_publish(h, &s);
	expect(port, "/health", 200, JSON, NULL);
	expect(port, "/metrics", 200, PROM, NULL);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	rp_health_server_stop(h);
}

/* The server's bounds (src/ops/http.c): connections per client address and the
 * deadline from accept to the end of the answer. */
#define PER_IP_LIMIT 8
#define DEADLINE_S 5.0
#define TRICKLERS 32

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A TCP connection to the server from 127.0.0.<host>. */
static int connect_from(int host, uint16_t port)
{
	struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)host);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons(port);
	cr_assert_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0, "bind 127.0.0.%d: %s", host,
		     strerror(errno));
	cr_assert_eq(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0, "%s", strerror(errno));
	return fd;
}

/* True once the server closed fd (end of file or reset), without waiting. */
static bool closed_by_server(int fd)
{
	char b[256];
	ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* GET path from 127.0.0.1, timed; the answer's code, 0 when there was none. */
static long timed_get(uint16_t port, const char *path, double *secs)
{
	static struct resp r;
	char url[128];
	CURL *c = curl_easy_init();
	long code = 0;
	double t0 = mono();

	cr_assert_not_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned int)port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	memset(&r, 0, sizeof(r));
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	*secs = mono() - t0;
	curl_easy_cleanup(c);
	return code;
}

/* 32 clients on 4 addresses (8 each, the per-address limit) trickle a request that
 * never ends, one byte every 100 ms: an idle timeout never fires for them. While they
 * trickle, the liveness probe and Prometheus from another address answer within a
 * second; a 9th connection from one of their addresses is refused at once; and every
 * trickler is closed by the deadline. */
Test(http, trickling_clients_cannot_lock_out_probes_and_meet_the_deadline, .timeout = 60)
{
	struct rp_health_server *h = start();
	uint16_t port = rp_health_server_port(h);
	struct rp_health_snapshot s = healthy();
	const char head[] = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	int fd[TRICKLERS], extra;
	double t0, took, closed_at[TRICKLERS] = {0};
	bool probed = false;
	int open = TRICKLERS;
	long code;

	rp_health_server_publish(h, &s);
	for (int i = 0; i < TRICKLERS; i++) {
		fd[i] = connect_from(10 + i / PER_IP_LIMIT, port);
		cr_assert_eq(send(fd[i], head, sizeof(head) - 1, MSG_NOSIGNAL),
			     (ssize_t)(sizeof(head) - 1));
	}
	t0 = mono();
	/* One over the limit from the first trickler's address: closed without an answer. */
	extra = connect_from(10, port);
	while (mono() - t0 < 1.0 && !closed_by_server(extra))
		usleep(10000);
	cr_expect(closed_by_server(extra), "a 9th connection from 127.0.0.10 was kept");
	close(extra);
	while (open > 0 && mono() - t0 < DEADLINE_S + 3) {
		for (int i = 0; i < TRICKLERS; i++) {
			if (closed_at[i] > 0)
				continue;
			if (closed_by_server(fd[i]) ||
			    send(fd[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				closed_at[i] = mono() - t0;
				open--;
			}
		}
		if (!probed && mono() - t0 > 1.0) {
			probed = true;
			cr_expect_eq(open, TRICKLERS, "tricklers closed after %.1f s", mono() - t0);
			code = timed_get(port, "/health/live", &took);
			cr_expect_eq(code, 200, "/health/live while 32 clients trickle: %ld", code);
			cr_expect_lt(took, 1.0, "/health/live took %.2f s", took);
			code = timed_get(port, "/metrics", &took);
			cr_expect_eq(code, 200, "/metrics while 32 clients trickle: %ld", code);
			cr_expect_lt(took, 1.0, "/metrics took %.2f s", took);
		}
		usleep(100000);
	}
	cr_expect(probed);
	for (int i = 0; i < TRICKLERS; i++) {
		cr_expect_gt(closed_at[i], 0, "trickler %d still open after %.0f s", i,
			     DEADLINE_S + 3);
		if (closed_at[i] > 0)
			cr_expect_geq(closed_at[i], DEADLINE_S - 1,
				      "trickler %d closed after %.2f s, before the deadline", i,
				      closed_at[i]);
		close(fd[i]);
	}
	rp_health_server_stop(h);
}

/* Readers must never see half of one snapshot and half of the next: every published
 * snapshot has time_ns == spool_points (the first and nearly the last field), so a
 * torn copy shows them different. A smoke test: a missing lock tears only sometimes. */
#define READS 2000

struct reader {
	uint16_t port;
	atomic_bool done;
	int reads;
};

static void *read_loop(void *arg)
{
	struct reader *rd = arg;
	char url[64];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", (unsigned int)rd->port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	for (rd->reads = 0; rd->reads < READS; rd->reads++) {
		static struct resp r;
		unsigned long long first, last;
		const char *p, *q;

		memset(&r, 0, sizeof(r));
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
		if (curl_easy_perform(c) != CURLE_OK)
			break;
		p = strstr(r.body, "\"time_ns\":");
		q = strstr(r.body, "\"spool_points\":");
		if (!p || !q || sscanf(p, "\"time_ns\":%llu", &first) != 1 ||
		    sscanf(q, "\"spool_points\":%llu", &last) != 1 || first != last)
			break;
	}
	curl_easy_cleanup(c);
	atomic_store(&rd->done, true);
	return NULL;
}

Test(http, publish_while_reading_never_tears)
{
	struct rp_health_server *h = start();
	struct rp_health_snapshot s = healthy();
	struct reader rd = {.port = rp_health_server_port(h)};
	pthread_t t;
	uint64_t i = 0;

	s.time_ns = s.spool_points = 0;
	rp_health_server_publish(h, &s);
	cr_assert_eq(pthread_create(&t, NULL, read_loop, &rd), 0);
	while (!atomic_load(&rd.done)) {
		s.time_ns = s.spool_points = ++i * 1000003;
		rp_health_server_publish(h, &s);
	}
	pthread_join(t, NULL);
	cr_assert_eq(rd.reads, READS, "read %d of %d consistent snapshots", rd.reads, READS);
	cr_assert_gt(i, 0);
	rp_health_server_stop(h);
}

TestSuite(health, .timeout = 60);
TestSuite(http, .timeout = 60);

/* /api/v1/down's page: the entries given, oldest first, each with its since-when in
 * RFC 3339 and ns, the name when it has one, and a link to the next page while more
 * follow. */
Test(health, down_list_pages)
{
	struct rp_down_entry v[3] = {
	    {.since_ns = 1765000000123000000ull, .reason = RP_REASON_TIMEOUT},
	    {.since_ns = 1765000001000000000ull,
	     .name = "core1.example.net",
	     .reason = RP_REASON_SUSPENDED},
	    {.since_ns = 1765000002000000000ull, .reason = RP_REASON_TIMEOUT},
	};
	char buf[2048];
	size_t n;

	rp_ip_parse("192.0.2.1", &v[0].addr);
	rp_ip_parse("2001:db8::7", &v[1].addr);
	rp_ip_parse("192.0.2.3", &v[2].addr);
	n = rp_health_down_json(v, 2, 0, 3, 5, 2, "", 0, 1765000010123000000ull, buf, sizeof(buf));
	cr_assert_eq(n, strlen(buf));
	cr_assert_str_eq(buf,
			 "{\"total\":5,\"listed\":3,\"offset\":0,\"limit\":2,\"devices\":["
			 "{\"ip\":\"192.0.2.1\",\"since\":\"2025-12-06T05:46:40.123Z\","
			 "\"since_ns\":1765000000123000000,\"down_for_s\":10.000,"
			 "\"reason\":\"timeout\"},"
			 "{\"ip\":\"2001:db8::7\",\"name\":\"core1.example.net\","
			 "\"since\":\"2025-12-06T05:46:41.000Z\",\"since_ns\":1765000001000000000,"
			 "\"down_for_s\":9.123,\"reason\":\"suspended\"}],"
			 "\"next\":\"/api/v1/down?offset=2&limit=2\"}\n");
	/* The last page has no next; a short buffer says how much it needed. */
	n = rp_health_down_json(v + 2, 1, 2, 3, 3, 2, NULL, 0, 1765000010123000000ull, buf,
				sizeof(buf));
	cr_assert_null(strstr(buf, "next"), "%s", buf);
	cr_assert_not_null(
	    strstr(buf, "\"offset\":2,\"limit\":2,\"devices\":[{\"ip\":\"192.0.2.3\""));
	cr_assert_eq(
	    rp_health_down_json(v + 2, 1, 2, 3, 3, 2, NULL, 0, 1765000010123000000ull, buf, 16), n);
	cr_assert_eq(strlen(buf), 15);
}

/* An entry's sysName comes from the device: JSON-escaped (quote, backslash, and any
 * control byte that got past sanitizing as \u00XX), the rest as it is (UTF-8 included);
 * an empty one is left out like a missing one. */
Test(health, down_list_escapes_sysnames)
{
	struct rp_down_entry v[2] = {
	    {.since_ns = 1765000000123000000ull,
	     .sysname = "a\"b\\c</script>\x01\x1f caf\xc3\xa9",
	     .reason = RP_REASON_TIMEOUT},
	    {.since_ns = 1765000001000000000ull, .sysname = "", .reason = RP_REASON_TIMEOUT},
	};
	char buf[2048];

	rp_ip_parse("192.0.2.1", &v[0].addr);
	rp_ip_parse("192.0.2.2", &v[1].addr);
	rp_health_down_json(v, 2, 0, 2, 2, 10, "", 0, 1765000010123000000ull, buf, sizeof(buf));
	cr_assert_not_null(strstr(buf, "{\"ip\":\"192.0.2.1\",\"sysname\":\"a\\\"b\\\\c</script>"
				       "\\u0001\\u001f caf\xc3\xa9\",\"since\":"),
			   "%s", buf);
	cr_assert_not_null(strstr(buf, "{\"ip\":\"192.0.2.2\",\"since\":"), "%s", buf);
}
