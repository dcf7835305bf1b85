/* Configuration: the YAML reader, values, flags over the file, validation, printing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringprobe/conf.h"

static struct rp_conf conf;
static struct rp_diags diags;

static void setup(void)
{
	rp_conf_init(&conf);
	rp_diags_init(&diags);
	setenv("RP_TEST_TOKEN", "s3cr3t-token", 1);
	unsetenv("RP_TEST_UNSET");
}

static void teardown(void)
{
	rp_conf_fini(&conf);
	rp_diags_fini(&diags);
}

TestSuite(conf, .init = setup, .fini = teardown);

static int load(const char *yaml)
{
	return rp_conf_load_buffer(&conf, "t.yml", yaml, strlen(yaml), &diags);
}

/* The formatted diagnostic i, for exact comparison. */
static const char *diag(size_t i)
{
	static char buf[2048];

	cr_assert_lt(i, diags.n, "expected a diagnostic #%zu, have %zu", i, diags.n);
	rp_diag_format(&diags.v[i], buf, sizeof(buf));
	return buf;
}

static void dump(void)
{
	for (size_t i = 0; i < diags.n; i++)
		cr_log_info("%s", diag(i));
}

/* A config using every key the Go netscan daemon reads, as its users write it. */
static const char netscan_yaml[] = "networks:\n"
				   "  - \"192.0.2.0/24\"\n"
				   "  - \"198.18.4.0/22\"\n"
				   "icmp_discovery_interval: \"5m\"\n"
				   "icmp_workers: 64\n"
				   "snmp_workers: 32\n"
				   "ping_interval: \"2s\"\n"
				   "ping_timeout: \"2s\"\n"
				   "ping_rate_limit: 64.0\n"
				   "ping_burst_limit: 256\n"
				   "ping_max_consecutive_fails: 10\n"
				   "ping_backoff_duration: \"5m\"\n"
				   "snmp_interval: \"1h\"\n"
				   "snmp_rate_limit: 10.0\n"
				   "snmp_burst_limit: 50\n"
				   "snmp_max_consecutive_fails: 5\n"
				   "snmp_backoff_duration: \"1h\"\n"
				   "snmp_daily_schedule: \"02:00\"\n"
				   "snmp:\n"
				   "  community: \"public\"\n"
				   "  port: 161\n"
				   "  timeout: \"5s\"\n"
				   "  retries: 1\n"
				   "influxdb:\n"
				   "  url: \"http://localhost:8086\"\n"
				   "  token: \"${RP_TEST_TOKEN}\"\n"
				   "  org: \"test-org\"\n"
				   "  bucket: \"netscan\"\n"
				   "  health_bucket: \"health\"\n"
				   "  batch_size: 5000\n"
				   "  buffer_size: 10000\n"
				   "  flush_interval: \"5s\"\n"
				   "health_check_port: 8080\n"
				   "health_report_interval: \"10s\"\n"
				   "max_concurrent_pingers: 20000\n"
				   "max_concurrent_snmp_pollers: 20000\n"
				   "max_devices: 20000\n"
				   "min_scan_interval: \"1m\"\n"
				   "memory_limit_mb: 16384\n"
				   "discovery_interval: \"4h\"\n";

/* The netscan keys that mean nothing here (DESIGN.md "Configuration"). */
static const char *const netscan_ignored[] = {
    "icmp_workers",	 "snmp_workers",    "max_concurrent_pingers", "max_concurrent_snmp_pollers",
    "min_scan_interval", "memory_limit_mb", "discovery_interval",     "snmp_daily_schedule",
};

Test(conf, netscan_config_with_every_key_loads)
{
	cr_assert_eq(load(netscan_yaml), 0);
	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	dump();
	cr_assert_eq(diags.errors, 0);
	/* Each of the eight keys that mean nothing here: exactly one notice, naming it. */
	cr_assert_eq(diags.notices, 8);
	cr_assert_str_eq(diag(0), "t.yml:5:15: notice: icmp_workers: ignored: ringprobe runs one "
				  "probe shard per core (see `shards`)");
	for (size_t i = 0; i < sizeof(netscan_ignored) / sizeof(netscan_ignored[0]); i++) {
		size_t named = 0;

		for (size_t j = 0; j < diags.n; j++) {
			if (diags.v[j].key && strcmp(diags.v[j].key, netscan_ignored[i]) == 0) {
				cr_expect_eq(diags.v[j].level, RP_DIAG_NOTICE, "%s", diag(j));
				cr_expect_eq(strncmp(diags.v[j].msg, "ignored: ", 9), 0, "%s",
					     diag(j));
				named++;
			}
		}
		cr_expect_eq(named, 1, "%s is named in %zu notices", netscan_ignored[i], named);
	}
	cr_assert_eq(conf.networks.n, 2);
	cr_assert_eq(rp_ip_to_v4(&conf.networks.v[1].net), 0xc6120400u);
	cr_assert_eq(conf.networks.v[1].prefix, 22);
	cr_assert_eq(conf.networks.line[1], 3);
	cr_assert_eq(conf.icmp_discovery_interval, 300 * RP_NSEC_PER_SEC);
	cr_assert_eq(conf.ping_interval, 2 * RP_NSEC_PER_SEC);
	cr_assert_eq(conf.ping_timeout, 2 * RP_NSEC_PER_SEC);
	cr_assert_float_eq(conf.ping_rate_limit, 64.0, 1e-9);
	cr_assert_eq(conf.ping_burst_limit, 256);
	cr_assert_eq(conf.ping_max_consecutive_fails, 10);
	cr_assert_eq(conf.ping_backoff_duration, 300 * RP_NSEC_PER_SEC);
	cr_assert_eq(conf.probe_tick, 10 * RP_NSEC_PER_MSEC, "probe_tick defaults to 10ms");
	cr_assert_eq(conf.snmp_interval, 3600 * RP_NSEC_PER_SEC);
	cr_assert_float_eq(conf.snmp_rate_limit, 10.0, 1e-9);
	cr_assert_eq(conf.snmp_burst_limit, 50);
	cr_assert_eq(conf.snmp_max_consecutive_fails, 5);
	cr_assert_eq(conf.snmp_backoff_duration, 3600 * RP_NSEC_PER_SEC);
	cr_assert_str_eq(conf.snmp.community, "public");
	cr_assert_eq(conf.snmp.port, 161);
	cr_assert_eq(conf.snmp.timeout, 5 * RP_NSEC_PER_SEC);
	cr_assert_eq(conf.snmp.retries, 1);
	cr_assert_str_eq(conf.influxdb.url, "http://localhost:8086");
	cr_assert_str_eq(conf.influxdb.token, "s3cr3t-token");
	cr_assert_str_eq(conf.influxdb.org, "test-org");
	cr_assert_str_eq(conf.influxdb.bucket, "netscan");
	cr_assert_str_eq(conf.influxdb.health_bucket, "health");
	cr_assert_eq(conf.influxdb.batch_size, 5000);
	cr_assert_eq(conf.influxdb.buffer_size, 10000);
	cr_assert_eq(conf.influxdb.flush_interval, 5 * RP_NSEC_PER_SEC);
	cr_assert_eq(conf.health_check_port, 8080);
	cr_assert_eq(conf.health_report_interval, 10 * RP_NSEC_PER_SEC);
	cr_assert_eq(conf.max_devices, 20000);
}

Test(conf, defaults_are_documented_values)
{
	cr_assert_eq(conf.ping_interval, 10 * RP_NSEC_PER_SEC);
	cr_assert_float_eq(conf.ping_rate_limit, 20000.0, 1e-9);
	cr_assert_eq(conf.max_devices, 20000);
	cr_assert_eq(conf.prune_after, 86400 * RP_NSEC_PER_SEC);
	cr_assert_eq(conf.spool.max_bytes, 1LL << 30);
	cr_assert_str_eq(conf.health_listen, "127.0.0.1");
	cr_assert_eq(conf.shard.count, 1);
	cr_assert_eq(conf.backend, RP_BACKEND_AUTO);
	cr_assert(conf.influxdb.gzip);
	cr_assert_null(conf.influxdb.url);
}

/* One key line of docs/examples/config.yml, as a reader of the file sees it. */
struct example_key {
	const struct rp_conf_key *key; /* the table's key this line sets (or shows) */
	unsigned line;
	bool commented; /* "# key: value": shown, not set */
	bool explained; /* a comment line right above it, or " # ..." beside it */
};

/* Finds the table's keys in a YAML text by indentation: "key:" with no value opens a
 * section, "# key: value" is a commented-out key when its path is in the table (other
 * comment lines are prose). Returns how many key lines were found. */
static size_t scan_example(const char *text, struct example_key *out, size_t cap)
{
	struct {
		size_t col;
		char name[64];
	} stack[8];
	size_t depth = 0, n = 0;
	unsigned line = 0;
	bool prev_comment = false;

	for (const char *l = text; *l; l = *l ? l + 1 : l) {
		size_t col = strspn(l, " ");
		const char *p = l + col, *end = l + strcspn(l, "\n");
		bool commented = *p == '#';
		size_t klen;
		char path[sizeof(stack) + 64] = "";
		const struct rp_conf_key *k;

		line++;
		l = end;
		if (commented)
			p += 1 + (p[1] == ' ');
		klen = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
		if (klen == 0 || klen >= sizeof(stack[0].name) || p[klen] != ':' ||
		    (p + klen + 1 < end && p[klen + 1] != ' ')) {
			prev_comment = commented;
			continue;
		}
		if (!commented) {
			while (depth && stack[depth - 1].col >= col)
				depth--;
		}
		for (size_t i = 0; i < depth && stack[i].col < col; i++) {
			strcat(path, stack[i].name);
			strcat(path, ".");
		}
		strncat(path, p, klen);
		k = rp_conf_key_find(path);
		if (!commented && strspn(p + klen + 1, " ") == (size_t)(end - (p + klen + 1)) &&
		    depth < sizeof(stack) / sizeof(stack[0])) {
			stack[depth].col = col;
			memcpy(stack[depth].name, p, klen);
			stack[depth].name[klen] = '\0';
			depth++;
		}
		if (commented && !k) { /* prose that looks like "word: ..." */
			prev_comment = true;
			continue;
		}
		if (k && n < cap) {
			const char *hash = memchr(p, '#', (size_t)(end - p));

			out[n].key = k;
			out[n].line = line;
			out[n].commented = commented;
			out[n].explained = prev_comment || (!commented && hash && hash[-1] == ' ');
			n++;
		}
		prev_comment = false;
	}
	return n;
}

#define EXAMPLE "docs/examples/config.yml"

/* docs/examples/config.yml must stay complete: it sets every key (the ignored netscan
 * keys are shown commented out, since setting one gives a notice), each with a comment
 * above or beside it, and it is a valid configuration for `run`. */
Test(conf, example_config_sets_every_key_and_is_valid)
{
	static char text[1 << 16];
	struct example_key found[256];
	FILE *f = fopen(RP_SOURCE_ROOT "/" EXAMPLE, "r");
	size_t len, n;

	cr_assert_not_null(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = '\0';
	fclose(f);
	cr_assert_lt(len, sizeof(text) - 1, EXAMPLE " outgrew the buffer");
	cr_assert_eq(rp_conf_load_buffer(&conf, "config.yml", text, len, &diags), 0);
	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	dump();
	cr_assert_eq(diags.n, 0);
	n = scan_example(text, found, sizeof(found) / sizeof(found[0]));
	cr_assert_lt(n, sizeof(found) / sizeof(found[0]));
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);
		size_t shown = 0;

		if (k->type != RP_CT_IGNORED)
			cr_expect(rp_conf_is_set(&conf, k), EXAMPLE " does not set %s", k->path);
		for (size_t j = 0; j < n; j++) {
			if (found[j].key != k)
				continue;
			shown++;
			cr_expect(found[j].explained,
				  EXAMPLE ":%u: %s has no comment above or beside it",
				  found[j].line, k->path);
			cr_expect(!found[j].commented || k->type == RP_CT_IGNORED,
				  EXAMPLE ":%u: %s is commented out", found[j].line, k->path);
		}
		cr_expect_eq(shown, 1, EXAMPLE " shows %s %zu times", k->path, shown);
	}
}

struct bad_case {
	const char *yaml;
	const char *error;
};

static const struct bad_case bad_cases[] = {
    {"ping_interval: 5x\n",
     "t.yml:1:16: error: ping_interval: duration \"5x\" has unknown unit \"x\" (use ns, us, "
     "ms, s, m, h or d)"},
    {"ping_interval: 30\n",
     "t.yml:1:16: error: ping_interval: duration \"30\" needs a unit (ns, us, ms, s, m, h or "
     "d), e.g. \"30s\""},
    {"ping_interval: -1s\n", "t.yml:1:16: error: ping_interval: duration \"-1s\" is negative"},
    {"networks:\n  - 192.0.2.0/33\n",
     "t.yml:2:5: error: networks[0]: invalid CIDR \"192.0.2.0/33\": prefix length must be "
     "0..32"},
    {"networks:\n  - 192.0.2.256/24\n",
     "t.yml:2:5: error: networks[0]: invalid CIDR \"192.0.2.256/24\": invalid IPv4 address "
     "\"192.0.2.256\""},
    {"networks:\n  - 198.0.0.0/7\n",
     "t.yml:2:5: error: networks[0]: 198.0.0.0/7 is larger than a /8 (33554432 addresses); "
     "split it into /8 or smaller networks"},
    {"snmp:\n  port: 0\n", "t.yml:2:9: error: snmp.port: 0 is out of range (1..65535)"},
    {"snmp:\n  port: 70000\n", "t.yml:2:9: error: snmp.port: 70000 is out of range (1..65535)"},
    {"health_check_port: 70000\n",
     "t.yml:1:20: error: health_check_port: 70000 is out of range (0..65535)"},
    {"ping_intervall: 1s\n",
     "t.yml:1:1: error: ping_intervall: unknown key (did you mean ping_interval?)"},
    {"url: http://x\n", "t.yml:1:1: error: url: unknown key (did you mean influxdb.url?)"},
    {"influxdb:\n  tokn: x\n",
     "t.yml:2:3: error: influxdb.tokn: unknown key (did you mean influxdb.token?)"},
    {"max_devices: lots\n", "t.yml:1:14: error: max_devices: expected an integer, got \"lots\""},
    {"ping_timeout: [1s]\n",
     "t.yml:1:15: error: ping_timeout: expected a duration such as 30s, got a list"},
    {"influxdb: http://x\n",
     "t.yml:1:1: error: influxdb: expected a mapping of influxdb.* keys, got a value"},
    {"allow_loopback: maybe\n",
     "t.yml:1:17: error: allow_loopback: expected true or false, got \"maybe\""},
    {"backend: urin\n",
     "t.yml:1:10: error: backend: \"urin\" is not one of auto, uring, mmsg (did you mean "
     "\"uring\"?)"},
    {"shard: 3/3\n", "t.yml:1:8: error: shard: \"3/3\": I must be 0..2 (instances are "
		     "numbered from 0)"},
    {"shard: auto\n", "t.yml:1:8: error: shard: expected I/N (this instance's index and the "
		      "number of instances) or auto/N, got \"auto\""},
    {"spool:\n  max_bytes: 1XB\n",
     "t.yml:2:14: error: spool.max_bytes: size \"1XB\" has unknown unit \"XB\" (use B, K, M, "
     "G, T, KiB.. or KB..)"},
    {"influxdb:\n  token: ${RP_TEST_UNSET}\n",
     "t.yml:2:10: error: influxdb.token: environment variable RP_TEST_UNSET is not set (write "
     "${RP_TEST_UNSET:-default} to give a default)"},
    {"influxdb:\n  token: ${RP_TEST_TOKEN\n",
     "t.yml:2:10: error: influxdb.token: unterminated \"${\" at character 1 of the value "
     "(write ${NAME} or $${ for a literal \"${\")"},
    {"influxdb:\n\turl: http://x\n",
     "t.yml:2:1: error: tab character in indentation; YAML indents with spaces only"},
    {"ping_interval: 1s\n---\nping_interval: 2s\n",
     "t.yml:2:1: error: a second YAML document starts here; ringprobe reads one document per "
     "file (remove the \"---\" line)"},
    {"ping_interval: 1s\nping_interval: 2s\n",
     "t.yml:2:1: error: ping_interval: duplicate key (first set at line 1)"},
    {"- a\n- b\n", "t.yml:1:1: error: the file must be a mapping of keys (key: value), not a "
		   "list"},
    {"ping_interval: 1ms\n", "t.yml:1:16: error: ping_interval: 1ms is out of range (10ms..1d)"},
    {"probe_tick: 20ms\n", "t.yml:1:13: error: probe_tick: 20ms is out of range (1ms..10ms)"},
    {"probe_tick: 500us\n", "t.yml:1:13: error: probe_tick: 500us is out of range (1ms..10ms)"},
    {"ping_rate_limit: 0\n",
     "t.yml:1:18: error: ping_rate_limit: 0 is out of range (more than 0, at most 10000000)"},
    {"ping_interval:\n", "t.yml:1:15: error: ping_interval: needs a value (a duration such as "
			 "30s)"},
};

Test(conf, each_bad_input_gives_its_exact_error)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		rp_conf_fini(&conf);
		rp_diags_fini(&diags);
		rp_conf_init(&conf);
		rp_diags_init(&diags);
		load(bad_cases[i].yaml);
		dump();
		cr_expect_eq(diags.errors, 1, "case %zu: %zu errors", i, diags.errors);
		if (diags.n)
			cr_expect_str_eq(diag(0), bad_cases[i].error, "case %zu", i);
	}
}

Test(conf, five_errors_are_all_reported)
{
	static const char yaml[] = "networks:\n"
				   "  - 192.0.2.0/40\n"
				   "ping_interval: soon\n"
				   "snmp:\n"
				   "  port: 0\n"
				   "  comunity: x\n"
				   "max_devices: -5\n"
				   "ping_timeout: 1s\n";

	load(yaml);
	dump();
	cr_assert_eq(diags.errors, 5);
	cr_assert_str_eq(diag(0), "t.yml:2:5: error: networks[0]: invalid CIDR \"192.0.2.0/40\": "
				  "prefix length must be 0..32");
	cr_assert_str_eq(diag(1), "t.yml:3:16: error: ping_interval: invalid duration \"soon\" "
				  "(write e.g. 30s, 250ms or 1h30m)");
	cr_assert_str_eq(diag(2), "t.yml:5:9: error: snmp.port: 0 is out of range (1..65535)");
	cr_assert_str_eq(diag(3), "t.yml:6:3: error: snmp.comunity: unknown key (did you mean "
				  "snmp.community?)");
	cr_assert_str_eq(diag(4),
			 "t.yml:7:14: error: max_devices: -5 is out of range (1..16777216)");
	/* The good key after them was still read. */
	cr_assert_eq(conf.ping_timeout, RP_NSEC_PER_SEC);
}

Test(conf, empty_required_key_is_an_error_for_run)
{
	load("networks: [192.0.2.0/24]\ninfluxdb:\n  url: \"\"\n  bucket: b\n  org: o\n");
	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	dump();
	cr_assert_eq(diags.errors, 1);
	cr_assert_str_eq(diag(0), "t.yml:3: error: influxdb.url: must be set: the daemon writes "
				  "every result to InfluxDB or VictoriaMetrics (e.g. "
				  "http://127.0.0.1:8086), or set prometheus_remote_write.url "
				  "instead, or set prometheus.per_device: true to only serve the "
				  "per-device series for Prometheus to scrape");
}

/* Without a sink the daemon runs when it serves the per-device series: a notice says
 * nothing is written; with the health server off it would serve nothing at all. */
Test(conf, per_device_alone_needs_no_sink)
{
	load("networks: [192.0.2.0/24]\nprometheus:\n  per_device: true\n");
	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	dump();
	cr_assert_eq(diags.errors, 0);
	cr_assert_eq(diags.n, 1);
	cr_assert_str_eq(diag(0), "t.yml: notice: influxdb.url: and prometheus_remote_write.url "
				  "are unset: no sink, nothing is written (no points, no spool); "
				  "the results are only served as prometheus.per_device's series "
				  "on /probe-metrics");
	rp_conf_fini(&conf);
	rp_diags_fini(&diags);
	rp_conf_init(&conf);
	rp_diags_init(&diags);
	load("networks: [192.0.2.0/24]\nhealth_check_port: 0\nprometheus:\n  per_device: true\n"
	     "  on_metrics: true\n");
	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	dump();
	cr_assert_eq(diags.errors, 1);
	cr_assert_str_eq(diag(0), "t.yml:2: error: health_check_port: is 0 (no health server) "
				  "while influxdb.url and prometheus_remote_write.url are unset: "
				  "prometheus.per_device's series would be served nowhere; set a "
				  "port, or a sink");
	/* ping, sweep and check-config for them need no sink at all. */
	rp_conf_fini(&conf);
	rp_diags_fini(&diags);
	rp_conf_init(&conf);
	rp_diags_init(&diags);
	load("networks: [192.0.2.0/24]\n");
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	cr_assert_eq(diags.n, 0);
}

Test(conf, remote_write_alone_is_a_sink_both_is_an_error)
{
	load("networks: [192.0.2.0/24]\nprometheus_remote_write:\n"
	     "  url: http://127.0.0.1:9090/api/v1/write\n"
	     "  headers: |\n    X-Scope-OrgID: t1\n    X-A: b c\n"
	     "  basic_auth:\n    username: u\n    password: p\n");
	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	dump();
	cr_assert_eq(diags.errors, 0);
	cr_assert_str_eq(conf.prometheus_remote_write.headers, "X-Scope-OrgID: t1\nX-A: b c\n");
	cr_assert_str_eq(conf.prometheus_remote_write.basic_auth.username, "u");
	rp_conf_fini(&conf);
	rp_diags_fini(&diags);
	rp_conf_init(&conf);
	rp_diags_init(&diags);
	load("networks: [192.0.2.0/24]\ninfluxdb:\n  url: http://127.0.0.1:8086\n"
	     "  bucket: b\n  org: o\nprometheus_remote_write:\n"
	     "  url: http://127.0.0.1:9090/api/v1/write\n"
	     "  headers: \"no colon here\"\n  bearer_token: t\n"
	     "  basic_auth:\n    username: u\n");
	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	dump();
	cr_assert_eq(diags.errors, 3);
	cr_assert_str_eq(diag(0), "t.yml:3: error: influxdb.url: and prometheus_remote_write.url "
				  "are both set: the writer sends to one destination; remove one "
				  "of them");
	cr_assert_str_eq(diag(1), "t.yml:8: error: prometheus_remote_write.headers: line 1 is "
				  "not \"Name: value\" (a header name, a colon, a value without "
				  "control characters)");
	cr_assert_str_eq(diag(2), "t.yml:9: error: prometheus_remote_write.bearer_token: and "
				  "prometheus_remote_write.basic_auth are both set: use one of "
				  "them");
}

Test(conf, ping_does_not_need_a_sink_or_fleet)
{
	load("ping_interval: 1s\n");
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	cr_assert_eq(diags.errors, 0);
}

Test(conf, api_v1_and_v2_need_their_keys)
{
	load("networks: [192.0.2.0/24]\ninfluxdb:\n  url: http://127.0.0.1:8086\n  api: v1\n");
	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	cr_assert_eq(diags.errors, 1);
	cr_assert_str_eq(diag(0), "t.yml: error: influxdb.database: must be set for the v1 API "
				  "(/write)");
	rp_diags_fini(&diags);
	rp_diags_init(&diags);
	conf.influxdb.api = RP_INFLUX_V2;
	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	cr_assert_eq(diags.errors, 2);
}

Test(conf, loopback_and_large_networks_need_their_switches)
{
	load("networks: [127.0.0.0/24, 198.16.0.0/12, 224.0.0.0/24]\n"
	     "influxdb: {url: 'http://127.0.0.1:8086', database: d}\n");
	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	dump();
	cr_assert_eq(diags.errors, 3);
	cr_assert_str_eq(diag(0), "t.yml:1: error: networks[0]: 127.0.0.0/24 is loopback; set "
				  "allow_loopback: true (--allow-loopback) to monitor it");
	cr_assert_str_eq(diag(1), "t.yml:1: error: networks[1]: 198.16.0.0/12 has 1048576 "
				  "addresses, more than a /16; set allow_large_networks: true "
				  "(--allow-large-networks) to sweep it");
	cr_assert_str_eq(diag(2), "t.yml:1: error: networks[2]: 224.0.0.0/24 is multicast; only "
				  "unicast devices can be monitored");
	rp_diags_fini(&diags);
	rp_diags_init(&diags);
	conf.allow_loopback = true;
	conf.allow_large_networks = true;
	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	cr_assert_eq(diags.errors, 1);
}

Test(conf, host_bits_are_cleared_with_a_notice)
{
	load("networks: [192.0.2.3/24]\n");
	cr_assert_eq(diags.errors, 0);
	cr_assert_eq(diags.notices, 1);
	cr_assert_str_eq(diag(0), "t.yml:1:12: notice: networks[0]: 192.0.2.3/24 has host bits "
				  "set; using 192.0.2.0/24");
	cr_assert_eq(rp_ip_to_v4(&conf.networks.v[0].net), 0xc0000200u);
}

Test(conf, timeout_follows_interval_unless_set)
{
	load("ping_interval: 1s\n");
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	cr_assert_eq(diags.errors, 0);
	cr_assert_eq(conf.ping_timeout, RP_NSEC_PER_SEC);

	rp_conf_fini(&conf);
	rp_conf_init(&conf);
	/* netscan's own example: 2s and 3s; a netscan file loads, with a notice */
	load("ping_interval: 2s\nping_timeout: 3s\n");
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	cr_assert_eq(diags.errors, 0);
	cr_assert_str_eq(diag(0), "t.yml:2: notice: ping_timeout: 3s is longer than ping_interval "
				  "(2s): a reply is waited for until the next probe is due, 2s");
	cr_assert_eq(conf.ping_timeout, 2 * RP_NSEC_PER_SEC);
}

Test(conf, env_expands_in_every_string)
{
	setenv("RP_TEST_IV", "250ms", 1);
	setenv("RP_TEST_NET", "198.19.0.0/16", 1);
	load("ping_interval: ${RP_TEST_IV}\n"
	     "networks: [\"${RP_TEST_NET}\"]\n"
	     "influxdb:\n"
	     "  org: ${RP_TEST_UNSET:-fallback}\n"
	     "  bucket: \"pre-${RP_TEST_UNSET:-}-post\"\n"
	     "  password: \"a$b$${literal}\"\n");
	dump();
	cr_assert_eq(diags.errors, 0);
	cr_assert_eq(conf.ping_interval, 250 * RP_NSEC_PER_MSEC);
	cr_assert_eq(rp_ip_to_v4(&conf.networks.v[0].net), 0xc6130000u);
	cr_assert_str_eq(conf.influxdb.org, "fallback");
	cr_assert_str_eq(conf.influxdb.bucket, "pre--post");
	cr_assert_str_eq(conf.influxdb.password, "a$b${literal}");
}

Test(conf, flags_override_the_file)
{
	const struct rp_conf_key *iv = rp_conf_key_find("ping_interval");
	const struct rp_conf_key *nets = rp_conf_key_find("networks");
	const struct rp_conf_key *gz = rp_conf_key_find("influxdb.gzip");

	load("ping_interval: 5s\nnetworks: [192.0.2.0/24, 198.51.100.0/24]\ninfluxdb:\n  gzip: "
	     "false\n");
	cr_assert_eq(rp_conf_set_flag(&conf, iv, "750ms", &diags), 0);
	cr_assert_eq(conf.ping_interval, 750 * RP_NSEC_PER_MSEC);
	/* The first --networks replaces the file's list; the next ones add to it. */
	cr_assert_eq(rp_conf_set_flag(&conf, nets, "203.0.113.0/24,198.18.8.0/24", &diags), 0);
	cr_assert_eq(rp_conf_set_flag(&conf, nets, "198.18.9.0/24", &diags), 0);
	cr_assert_eq(conf.networks.n, 3);
	cr_assert_eq(rp_ip_to_v4(&conf.networks.v[0].net), 0xcb007100u);
	cr_assert_eq(rp_ip_to_v4(&conf.networks.v[2].net), 0xc6120900u);
	/* A bare boolean flag means true. */
	cr_assert_eq(rp_conf_set_flag(&conf, gz, NULL, &diags), 0);
	cr_assert(conf.influxdb.gzip);
	cr_assert_eq(rp_conf_set_flag(&conf, iv, "fast", &diags), -EINVAL);
	cr_assert_str_eq(diag(0), "--ping-interval: error: invalid duration \"fast\" (write e.g. "
				  "30s, 250ms or 1h30m)");
	cr_assert_eq(conf.ping_interval, 750 * RP_NSEC_PER_MSEC);
	cr_assert_eq(conf.origin[rp_conf_key_index(iv)], RP_CONF_FROM_FLAG);
}

/* `shard: auto/N` reads the real host name, so this test gives itself one: in a UTS
 * namespace of its own (Criterion runs each test in a forked process, so the name
 * never leaks), which needs root (CAP_SYS_ADMIN). */
static void set_hostname(const char *name)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (a UTS namespace to set the host name in)");
	cr_assert_eq(unshare(CLONE_NEWUTS), 0, "unshare(CLONE_NEWUTS): %s", strerror(errno));
	cr_assert_eq(sethostname(name, strlen(name)), 0, "sethostname: %s", strerror(errno));
}

Test(conf, shard_auto_takes_the_stateful_set_ordinal_from_the_host_name)
{
	const struct rp_conf_key *k = rp_conf_key_find("shard");
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	set_hostname("ringprobe-2");
	cr_assert_eq(load("shard: auto/3\n"), 0);
	cr_assert_eq(diags.n, 0);
	cr_assert(conf.shard.from_host);
	cr_assert_eq(conf.shard.index, 2);
	cr_assert_eq(conf.shard.count, 3);
	out = open_memstream(&text, &len);
	rp_conf_print(&conf, out);
	fclose(out);
	cr_assert_not_null(strstr(text, "\nshard: \"auto/3\"  # 2/3 from the host name"), "%s",
			   text);
	free(text);
	/* The flag works alike, and a plain I/N still wins over the host name. */
	cr_assert_eq(rp_conf_set_flag(&conf, k, "auto/5", &diags), 0);
	cr_assert_eq(conf.shard.index, 2);
	cr_assert_eq(conf.shard.count, 5);
	cr_assert_eq(rp_conf_set_flag(&conf, k, "0/5", &diags), 0);
	cr_assert_eq(conf.shard.index, 0);
	cr_assert_not(conf.shard.from_host);

	/* Ordinal 2 of N = 2: the error names the key, the host and the fix. */
	rp_conf_fini(&conf);
	rp_diags_fini(&diags);
	rp_conf_init(&conf);
	rp_diags_init(&diags);
	load("shard: auto/2\n");
	cr_assert_eq(diags.errors, 1);
	cr_assert_str_eq(diag(0), "t.yml:1:8: error: shard: auto/2: host name \"ringprobe-2\" has "
				  "ordinal 2, but N = 2 allows 0..1 (raise N to the number of "
				  "replicas)");
	cr_assert_eq(conf.shard.count, 1, "a rejected value leaves the default");
}

Test(conf, shard_auto_needs_an_ordinal_suffix)
{
	set_hostname("probe-host");
	load("shard: auto/3\n");
	cr_assert_eq(diags.errors, 1);
	cr_assert_str_eq(diag(0), "t.yml:1:8: error: shard: auto/3: host name \"probe-host\" does "
				  "not end in -ORDINAL (as a StatefulSet's pods do: ringprobe-0, "
				  "ringprobe-1, ...); write I/N");
}

Test(conf, print_masks_secrets_and_reads_back)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	struct rp_conf again;
	struct rp_diags d2;

	load("networks: [192.0.2.0/24]\ninfluxdb:\n  url: http://127.0.0.1:8086\n"
	     "  token: ${RP_TEST_TOKEN}\n  password: hunter2\n  org: o\n  bucket: b\n"
	     "ping_interval: 1h30m\nspool:\n  max_bytes: 512MiB\n"
	     "snmp:\n  community: c0mmun1ty\n  v3:\n    auth_password: authpass-77\n"
	     "    priv_password: privpass-88\n");
	cr_assert_eq(diags.n, 0);
	out = open_memstream(&text, &len);
	rp_conf_print(&conf, out);
	fclose(out);
	cr_log_info("%s", text);
	cr_assert_null(strstr(text, "s3cr3t"));
	cr_assert_null(strstr(text, "hunter2"));
	cr_assert_null(strstr(text, "c0mmun1ty"));
	cr_assert_null(strstr(text, "authpass"));
	cr_assert_null(strstr(text, "privpass"));
	cr_assert_not_null(strstr(text, "  token: \"********\""));
	cr_assert_not_null(strstr(text, "  password: \"********\""));
	cr_assert_not_null(strstr(text, "  community: \"********\""));
	cr_assert_not_null(strstr(text, "    auth_password: \"********\""));
	cr_assert_not_null(strstr(text, "    priv_password: \"********\""));
	cr_assert_not_null(strstr(text, "ping_interval: 1h30m  # t.yml:8"));
	cr_assert_not_null(strstr(text, "  max_bytes: 512MiB"));
	/* The printed configuration is itself a valid configuration with the same values. */
	rp_conf_init(&again);
	rp_diags_init(&d2);
	cr_assert_eq(rp_conf_load_buffer(&again, "printed.yml", text, len, &d2), 0);
	cr_assert_eq(d2.errors, 0);
	cr_assert_eq(again.ping_interval, conf.ping_interval);
	cr_assert_eq(again.spool.max_bytes, conf.spool.max_bytes);
	cr_assert_eq(again.networks.n, 1);
	cr_assert(rp_ip_eq(&again.networks.v[0].net, &conf.networks.v[0].net));
	rp_conf_fini(&again);
	rp_diags_fini(&d2);
	free(text);
}

/* `conf` printed by rp_conf_print, and that text loaded into *again (which the caller
 * finishes) without an error; the text, which the caller frees. */
static char *print_and_reload(struct rp_conf *again)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct rp_diags d2;

	rp_conf_print(&conf, out);
	fclose(out);
	rp_conf_init(again);
	rp_diags_init(&d2);
	cr_assert_eq(rp_conf_load_buffer(again, "printed.yml", text, len, &d2), 0, "%s", text);
	cr_assert_eq(d2.errors, 0, "%s", text);
	rp_diags_fini(&d2);
	return text;
}

/* Found by tests/fuzz/fuzz_cli_conf: a literal "${" (written "$${") was printed as
 * "${", which reads back as a variable reference. */
Test(conf, print_keeps_a_literal_dollar_brace)
{
	struct rp_conf again;

	load("user: \"a$${HOME}c$$${x}\"\n");
	cr_assert_eq(diags.n, 0);
	cr_assert_str_eq(conf.user, "a${HOME}c$${x}");
	free(print_and_reload(&again));
	cr_assert_str_eq(again.user, conf.user);
	rp_conf_fini(&again);
}

#define LONG_NAME "a123456789b123456789c123456789d123456789e123456789f123456789abc"

/* An IPv6 address that ends in "::" is quoted when printed: plain, YAML would read it as
 * a mapping's key (found by fuzz_cli_conf with --devices 3::). */
Test(conf, print_quotes_an_address_ending_in_a_colon)
{
	struct rp_conf again;
	char *text;

	/* and a name longer than any address, tagged or not, at the top and in a group, is
	 * printed whole (it was cut to an address's length) */
	load("devices: [\"2001:db8::\", 2001:db8::1, {address: \"2001:db8:1::\", tags: {a: b}},\n"
	     "  {address: " LONG_NAME ".one.test, tags: {a: c}}]\n"
	     "networks: [\"2001:db8:2::/120\"]\n"
	     "groups:\n  - name: g\n    devices: [\"2001:db8:3::\", " LONG_NAME ".two.test,\n"
	     "      {address: " LONG_NAME ".three.test, tags: {a: d}}]\n");
	cr_assert_eq(diags.errors, 0);
	text = print_and_reload(&again);
	cr_assert_not_null(strstr(text, "  - \"2001:db8::\"\n"), "%s", text);
	cr_assert_not_null(strstr(text, "  - 2001:db8::1\n"), "%s", text);
	cr_assert_not_null(strstr(text, "- address: \"2001:db8:1::\"\n"), "%s", text);
	cr_assert_not_null(strstr(text, "- address: " LONG_NAME ".one.test\n"), "%s", text);
	cr_assert_not_null(strstr(text, "  - \"2001:db8:3::\"\n"), "%s", text);
	cr_assert_not_null(strstr(text, "  - " LONG_NAME ".two.test\n"), "%s", text);
	cr_assert_not_null(strstr(text, "- address: " LONG_NAME ".three.test\n"), "%s", text);
	cr_assert_eq(again.devices.n + again.devices.nnames, 4);
	cr_assert(rp_conf_key_equal(&conf, &again, rp_conf_key_find("devices")));
	cr_assert(rp_conf_key_equal(&conf, &again, rp_conf_key_find("groups")));
	rp_conf_fini(&again);
	free(text);
}

/* C1 controls and U+FFFE/U+FFFF are escaped when printed: libyaml refuses them raw
 * even in quotes (found by fuzz_cli_conf with --influxdb-database); NEL, U+2028 and
 * U+2029 too: it reads them as line breaks and folds them into spaces. */
Test(conf, print_escapes_what_yaml_refuses_raw)
{
	struct rp_conf again;
	char *text;
	const char *v = "a\xc2\x8e"
			"b\xc2\x85"
			"c\xef\xbf\xbf"
			"d\xef\xbf\xbe"
			"e\xc2\xa0"
			"f\xe2\x80\xa8"
			"g";

	load("");
	cr_assert_eq(rp_conf_set_flag(&conf, rp_conf_key_find("user"), v, &diags), 0);
	cr_assert_eq(
	    rp_conf_set_flag(&conf, rp_conf_key_find("influxdb.database"), "db\xc2\x9f", &diags),
	    0);
	text = print_and_reload(&again);
	cr_assert_not_null(strstr(text, "\"a\\x8eb\\x85"
					"c\\uFFFFd\\uFFFEe\xc2\xa0"
					"f\\u2028g\""),
			   "%s", text);
	cr_assert_not_null(strstr(text, "\"db\\x9f\""), "%s", text);
	cr_assert_str_eq(again.user, v);
	cr_assert(rp_conf_key_equal(&conf, &again, rp_conf_key_find("influxdb.database")));
	rp_conf_fini(&again);
	free(text);
}

/* A URL is printed whole, however long, without its user-info (found by fuzz_cli_conf: one
 * over 1 KB was cut to a fixed buffer in the middle of a character, and the printed
 * configuration did not read back). */
Test(conf, print_keeps_a_long_url_whole)
{
	struct rp_conf again;
	char url[2048] = "http://user:pw@127.0.0.1:8086/", want[2048] = "http://127.0.0.1:8086/";
	char *text;

	for (int i = 0; i < 600; i++) {
		strcat(url, "\xc3\xa9");
		strcat(want, "\xc3\xa9");
	}
	load("");
	cr_assert_eq(rp_conf_set_flag(&conf, rp_conf_key_find("influxdb.url"), url, &diags), 0);
	text = print_and_reload(&again);
	cr_assert_null(strstr(text, "user:pw"), "%s", text);
	cr_assert_str_eq(again.influxdb.url, want);
	rp_conf_fini(&again);
	free(text);
}

Test(conf, every_key_has_a_unique_flag_and_help)
{
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *a = rp_conf_key_at(i);
		char fa[64], fb[64];

		cr_expect(a->help && *a->help, "%s has no help", a->path);
		cr_expect_eq(rp_conf_key_find(a->path), a);
		rp_conf_key_flag(a, fa, sizeof(fa));
		for (size_t j = i + 1; j < rp_conf_key_count(); j++) {
			rp_conf_key_flag(rp_conf_key_at(j), fb, sizeof(fb));
			cr_expect_str_neq(fa, fb);
		}
	}
	cr_assert_eq(rp_conf_key_find("influxdb.url")->type, RP_CT_STRING);
}

/* docs/configuration.md lists every key (it was generated from the table; keep it so). */
Test(conf, configuration_doc_lists_every_key)
{
	FILE *f = fopen(RP_SOURCE_ROOT "/docs/configuration.md", "r");
	static char doc[1 << 17];
	size_t n;

	cr_assert_not_null(f);
	n = fread(doc, 1, sizeof(doc) - 1, f);
	doc[n] = '\0';
	fclose(f);
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		char needle[96];

		snprintf(needle, sizeof(needle), "| `%s` |", rp_conf_key_at(i)->path);
		cr_expect_not_null(strstr(doc, needle), "docs/configuration.md lacks %s", needle);
	}
}

/* --- Secrets: never in a message; the *_file keys ------------------------------- */

/* Every diagnostic, formatted, joined by newlines (for "the secret is nowhere"). */
static const char *all_diags(void)
{
	static char buf[16384];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < diags.n && off < sizeof(buf); i++) {
		rp_diag_format(&diags.v[i], buf + off, sizeof(buf) - off);
		off += strlen(buf + off);
		if (off + 1 < sizeof(buf))
			buf[off++] = '\n';
		buf[off] = '\0';
	}
	return buf;
}

static void reset(void)
{
	rp_conf_fini(&conf);
	rp_diags_fini(&diags);
	rp_conf_init(&conf);
	rp_diags_init(&diags);
}

/* A value that merely contains "${" (a password) fails to expand: the error names the
 * file, line, column and key, and no part of the value. */
Test(conf, expansion_error_never_echoes_a_secret)
{
	static const struct {
		const char *yaml, *secret, *error;
	} cases[] = {
	    {"influxdb:\n  password: \"hunter${2pass\"\n", "hunter",
	     "t.yml:2:13: error: influxdb.password: unterminated \"${\" at character 7 of the "
	     "value (write ${NAME} or $${ for a literal \"${\")"},
	    {"influxdb:\n  token: tok${en}word\n", "word",
	     "t.yml:2:10: error: influxdb.token: the environment variable referenced at "
	     "character 4 of the value is not set (write ${NAME:-default} to give a default, "
	     "or $${ for a literal \"${\")"},
	    {"snmp:\n  community: c0m${mu-n}ity\n", "c0m",
	     "t.yml:2:14: error: snmp.community: invalid variable reference at character 4 of "
	     "the value (write ${NAME} or ${NAME:-default}, or $${ for a literal \"${\")"},
	    {"snmp:\n  v3:\n    auth_password: \"au${1th}zq7\"\n", "zq7",
	     "t.yml:3:20: error: snmp.v3.auth_password: invalid variable name at character 3 "
	     "of the value (write ${NAME} with letters, digits and _, or $${ for a literal "
	     "\"${\")"},
	    {"snmp:\n  v3:\n    priv_password: qz9${iv\n", "qz9",
	     "t.yml:3:20: error: snmp.v3.priv_password: unterminated \"${\" at character 4 of "
	     "the value (write ${NAME} or $${ for a literal \"${\")"},
	    /* A URL's user-info is a secret too: the name of the variable in it is kept out. */
	    {"influxdb:\n  url: http://rp:pw${RP_TEST_UNSET}@127.0.0.1:8086\n", "pw",
	     "t.yml:2:8: error: influxdb.url: the environment variable referenced at character "
	     "13 of the value is not set (write ${NAME:-default} to give a default, or $${ for "
	     "a literal \"${\")"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset();
		load(cases[i].yaml);
		dump();
		cr_expect_eq(diags.errors, 1, "case %zu: %zu errors", i, diags.errors);
		cr_expect_null(strstr(all_diags(), cases[i].secret), "case %zu leaks \"%s\": %s", i,
			       cases[i].secret, all_diags());
		if (diags.n)
			cr_expect_str_eq(diag(0), cases[i].error, "case %zu", i);
	}
}

/* A string flag (or an environment variable expanded into one) that is not UTF-8 is
 * refused, naming the flag and never showing the value: a configuration file could not
 * hold it, so check-config could not print it back. */
Test(conf, a_string_that_is_not_utf8_is_refused)
{
	const struct rp_conf_key *url = rp_conf_key_find("influxdb.url");
	const struct rp_conf_key *pw = rp_conf_key_find("influxdb.password");
	static const char *const bad[] = {"http://h\xff:8086", "caf\xc3", "\xc0\xaf",
					  "\xed\xa0\x80", "\xf4\x90\x80\x80"};

	load("");
	cr_assert_eq(rp_conf_set_flag(&conf, url, "http://h\xc3\xa9.example:8086", &diags), 0,
		     "UTF-8 is fine");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reset();
		load("");
		cr_assert_eq(rp_conf_set_flag(&conf, url, bad[i], &diags), -EINVAL, "case %zu", i);
		cr_assert_str_eq(diag(0), "--influxdb-url: error: the value is not valid UTF-8 (a "
					  "configuration holds text)");
	}
	reset();
	load("");
	cr_assert_eq(rp_conf_set_flag(&conf, pw, "s3cr\xfft", &diags), -EINVAL);
	cr_assert_null(strstr(all_diags(), "s3cr"), "the secret is not shown: %s", all_diags());
	/* list items too (fuzz_cli_conf found a --device-files path printed as raw bytes,
	 * which the printed configuration could not read back) */
	reset();
	load("");
	cr_assert_eq(
	    rp_conf_set_flag(&conf, rp_conf_key_find("device_files"), "/etc/rp/f\xda.yml", &diags),
	    -EINVAL);
	cr_assert_str_eq(diag(0), "--device-files: error: the value is not valid UTF-8 (a "
				  "configuration holds text)");
	cr_assert_eq(conf.device_files.n, 0);
	reset();
	load("");
	cr_assert_eq(rp_conf_set_flag(&conf, rp_conf_key_find("devices"), "h\xdast", &diags),
		     -EINVAL);
	reset();
	load("");
	cr_assert_eq(rp_conf_set_flag(&conf, rp_conf_key_find("tags"), "site=a\xff", &diags),
		     -EINVAL);
}

/* A URL's user-info is stripped from the validation message and the printout. */
Test(conf, url_user_info_is_never_shown)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	load("influxdb:\n  url: ftp://rpuser:url-s3cret@127.0.0.1:8086\n  org: o\n"
	     "  bucket: b\n");
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	dump();
	cr_assert_eq(diags.errors, 1);
	cr_assert_str_eq(diag(0), "t.yml:2: error: influxdb.url: \"ftp://127.0.0.1:8086\" must "
				  "start with http:// or https://");
	reset();
	load("influxdb:\n  url: http://rpuser:url-s3cret@127.0.0.1:8086/\n  org: o\n"
	     "  bucket: b\n");
	out = open_memstream(&text, &len);
	rp_conf_print(&conf, out);
	fclose(out);
	cr_assert_null(strstr(text, "s3cret"), "%s", text);
	cr_assert_null(strstr(text, "rpuser"), "%s", text);
	cr_assert_not_null(strstr(text, "  url: \"http://127.0.0.1:8086/\"  # t.yml:2"), "%s",
			   text);
	free(text);
}

static char tmpdir[64];

static const char *secret_path(const char *name, const char *content)
{
	static char path[8][128];
	static unsigned n;
	char *p = path[n++ % 8];
	FILE *f;

	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/rp-conf-secret-XXXXXX");
		cr_assert_not_null(mkdtemp(tmpdir));
	}
	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(content, f);
	fclose(f);
	return p;
}

static void rm_secrets(void)
{
	char cmd[128];

	teardown(); /* a test's .fini may replace the suite's */
	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_expect_eq(system(cmd), 0);
	tmpdir[0] = '\0';
}

/* Each *_file key reads its secret from the file (one trailing newline stripped), from
 * the YAML file or a flag, and the printout shows the path, never the secret. */
Test(conf, each_secret_file_key_reads_its_secret, .fini = rm_secrets)
{
	static const struct {
		const char *key, *content, *want;
		size_t offset;
	} cases[] = {
	    {"influxdb.token", "tok-from-file\n", "tok-from-file",
	     offsetof(struct rp_conf, influxdb.token)},
	    {"influxdb.password", "pw from file\r\n", "pw from file",
	     offsetof(struct rp_conf, influxdb.password)},
	    {"snmp.community", "c0mm-file", "c0mm-file", offsetof(struct rp_conf, snmp.community)},
	    {"snmp.v3.auth_password", "auth-from-file\n\n", "auth-from-file\n",
	     offsetof(struct rp_conf, snmp.v3.auth_password)},
	    {"snmp.v3.priv_password", "priv$${x}-file\n", "priv$${x}-file",
	     offsetof(struct rp_conf, snmp.v3.priv_password)},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char yaml[512], fkey[96], *text = NULL;
		const char *path = secret_path("s", cases[i].content);
		const char *dot = strrchr(cases[i].key, '.');
		size_t len = 0;
		FILE *out;

		/* From the file: "snmp:\n  v3:\n    auth_password_file: PATH\n". */
		/* Not snprintf: gcc 12 with -fsanitize and -O2 warns that the %s argument
		 * may be null (-Werror=format-truncation under CI). */
		cr_assert_lt(strlen(cases[i].key) + sizeof("_file"), sizeof(fkey));
		strcpy(fkey, cases[i].key);
		strcat(fkey, "_file");
		if (strncmp(cases[i].key, "snmp.v3.", 8) == 0)
			snprintf(yaml, sizeof(yaml), "snmp:\n  v3:\n    %s_file: %s\n", dot + 1,
				 path);
		else
			snprintf(yaml, sizeof(yaml), "%.*s:\n  %s_file: %s\n",
				 (int)(strchr(cases[i].key, '.') - cases[i].key), cases[i].key,
				 dot + 1, path);
		reset();
		load(yaml);
		rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
		dump();
		cr_expect_eq(diags.errors, 0, "%s", fkey);
		cr_expect_str_eq(*(char **)(void *)((char *)&conf + cases[i].offset), cases[i].want,
				 "%s", fkey);
		out = open_memstream(&text, &len);
		rp_conf_print(&conf, out);
		fclose(out);
		cr_expect_null(strstr(text, cases[i].want), "%s printed: %s", fkey, text);
		cr_expect_not_null(strstr(text, path), "%s: the path is not printed", fkey);
		free(text);

		/* From a flag. */
		reset();
		cr_assert_not_null(rp_conf_key_find(fkey), "%s is not a key", fkey);
		cr_expect_eq(rp_conf_set_flag(&conf, rp_conf_key_find(fkey), path, &diags), 0);
		rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
		cr_expect_eq(diags.errors, 0, "--%s", fkey);
		cr_expect_str_eq(*(char **)(void *)((char *)&conf + cases[i].offset), cases[i].want,
				 "--%s", fkey);
	}
}

/* Validation reads the file each time, so a reload (which loads and validates again)
 * picks up a rotated secret. */
Test(conf, secret_file_is_read_again_on_reload, .fini = rm_secrets)
{
	const char *path = secret_path("tok", "first\n");
	char yaml[256];

	snprintf(yaml, sizeof(yaml), "influxdb:\n  token_file: %s\n", path);
	load(yaml);
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	cr_assert_eq(diags.errors, 0);
	cr_assert_str_eq(conf.influxdb.token, "first");
	secret_path("tok", "second\n");
	reset();
	load(yaml);
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	cr_assert_eq(diags.errors, 0);
	cr_assert_str_eq(conf.influxdb.token, "second");
}

Test(conf, unreadable_or_empty_secret_file_names_key_and_path, .fini = rm_secrets)
{
	const char *empty_file = secret_path("empty", "\n");
	char yaml[512], want[512];

	load("influxdb:\n  token_file: /nonexistent/rp-token\n");
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	dump();
	cr_assert_eq(diags.errors, 1);
	cr_assert_str_eq(diag(0), "t.yml:2: error: influxdb.token_file: cannot read "
				  "/nonexistent/rp-token: No such file or directory");

	reset();
	cr_assert_eq(
	    rp_conf_set_flag(&conf, rp_conf_key_find("snmp.community_file"), tmpdir, &diags), 0);
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	dump();
	cr_assert_eq(diags.errors, 1);
	snprintf(want, sizeof(want),
		 "--snmp-community-file: error: snmp.community_file: cannot read %s: Is a "
		 "directory",
		 tmpdir);
	cr_assert_str_eq(diag(0), want);

	reset();
	snprintf(yaml, sizeof(yaml), "snmp:\n  v3:\n    priv_password_file: %s\n", empty_file);
	load(yaml);
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	dump();
	cr_assert_eq(diags.errors, 1);
	snprintf(want, sizeof(want), "t.yml:3: error: snmp.v3.priv_password_file: %s is empty",
		 empty_file);
	cr_assert_str_eq(diag(0), want);
}

Test(conf, secret_and_its_file_together_is_an_error, .fini = rm_secrets)
{
	const char *path = secret_path("pw", "from-file\n");
	char yaml[512];

	snprintf(yaml, sizeof(yaml), "influxdb:\n  password: inline-s3cret\n  password_file: %s\n",
		 path);
	load(yaml);
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	dump();
	cr_assert_eq(diags.errors, 1);
	cr_assert_str_eq(diag(0), "t.yml:3: error: influxdb.password_file: influxdb.password is "
				  "set too (t.yml:2); set the secret or the file holding it, not "
				  "both");
	cr_assert_null(strstr(all_diags(), "s3cret"));
	cr_assert_null(strstr(all_diags(), "from-file"));
	/* A flag for the secret with the file's key in the file: the same. */
	reset();
	snprintf(yaml, sizeof(yaml), "snmp:\n  community_file: %s\n", path);
	load(yaml);
	rp_conf_set_flag(&conf, rp_conf_key_find("snmp.community"), "flag-c0mm", &diags);
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	cr_assert_eq(diags.errors, 1);
	cr_assert_str_eq(diag(0), "t.yml:2: error: snmp.community_file: snmp.community is set "
				  "too (--snmp-community); set the secret or the file holding it, "
				  "not both");
}

/* Every *_file key names an existing secret key (the reader finds the pair by name). */
Test(conf, every_secret_file_key_has_its_secret)
{
	size_t nfile = 0;

	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);
		char name[96];
		size_t n = strlen(k->path);

		if (k->type != RP_CT_SECRET_FILE)
			continue;
		nfile++;
		cr_assert(n > 5 && strcmp(k->path + n - 5, "_file") == 0, "%s", k->path);
		snprintf(name, sizeof(name), "%.*s", (int)(n - 5), k->path);
		cr_assert_not_null(rp_conf_key_find(name), "%s", k->path);
		cr_assert_eq(rp_conf_key_find(name)->type, RP_CT_SECRET, "%s", k->path);
	}
	cr_assert_eq(nfile, 7);
}

/* prometheus.sysname_label: a label name none of the per-device series' labels takes. */
Test(conf, sysname_label_is_a_free_prometheus_label_name)
{
	static const struct {
		const char *label, *want;
	} bad[] = {
	    {"9x", "\"9x\" is not a Prometheus label name: 1 to 64 letters, digits and '_', not "
		   "starting with a digit"},
	    {"sys-name", "\"sys-name\" is not a Prometheus label name: 1 to 64 letters, digits "
			 "and '_', not starting with a digit"},
	    {"__name", "\"__name\" starts with \"__\", which Prometheus reserves for its own "
		       "labels"},
	    {"host", "\"host\" is already a label of every per-device series (host, ip, le and "
		     "source are): choose another name, e.g. sysname"},
	    {"le", "\"le\" is already a label of every per-device series (host, ip, le and "
		   "source are): choose another name, e.g. sysname"},
	    {"site", "\"site\" is also a tag key (line 3), and tags are labels of the per-device "
		     "series: the label would appear twice; rename the tag or choose another "
		     "name"},
	    {"rack", "\"rack\" is also a tag key (line 9), and tags are labels of the per-device "
		     "series: the label would appear twice; rename the tag or choose another "
		     "name"},
	};
	char yaml[512], want[512];

	load("networks: [192.0.2.0/24]\nprometheus:\n  sysname_label: sysname\n");
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	dump();
	cr_assert_eq(diags.errors, 0);
	cr_assert_str_eq(conf.prometheus.sysname_label, "sysname");
	cr_assert_str_eq(diag(0), "t.yml:3: notice: prometheus.sysname_label: has no effect: "
				  "prometheus.per_device is false, so no series will carry a "
				  "sysName");
	rp_conf_fini(&conf);
	rp_diags_fini(&diags);
	rp_conf_init(&conf);
	rp_diags_init(&diags);
	load("networks: [192.0.2.0/24]\nprometheus:\n  per_device: true\n"
	     "  sysname_label: sysname\n");
	rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
	cr_assert_eq(diags.n, 0, "per_device and SNMP (on by default): nothing to say");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rp_conf_fini(&conf);
		rp_diags_fini(&diags);
		rp_conf_init(&conf);
		rp_diags_init(&diags);
		snprintf(yaml, sizeof(yaml),
			 "networks: [192.0.2.0/24]\ntags:\n  site: ams1\nprometheus:\n"
			 "  sysname_label: \"%s\"\ngroups:\n  - name: core\n    tags:\n"
			 "      rack: r1\n    networks: [198.51.100.0/24]\n",
			 bad[i].label);
		load(yaml);
		rp_conf_validate(&conf, RP_CONF_FOR_PING, &diags);
		dump();
		cr_assert_eq(diags.errors, 1, "%s", bad[i].label);
		snprintf(want, sizeof(want), "t.yml:5: error: prometheus.sysname_label: %s",
			 bad[i].want);
		cr_assert_str_eq(diag(0), want);
	}
}
