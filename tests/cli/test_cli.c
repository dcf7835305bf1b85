/* The ringprobe binary as a user runs it: exit codes, messages, help, flags. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringprobe/conf.h"
#include "support/support.h"

#define BIN RP_BUILD_ROOT "/src/cli/ringprobe"
#define EXAMPLE RP_SOURCE_ROOT "/docs/examples/config.yml"

struct result {
	int status;
	char *out;
	char *err;
};

/* Runs `ringprobe ARGS` through the shell (ARGS are test-controlled literals). The output
 * of the run before is freed: each test uses one result. */
static void run(struct result *r, const char *args)
{
	char cmd[4096];

	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
	snprintf(cmd, sizeof(cmd), "%s %s", BIN, args);
	r->status = sup_run(cmd, 0, &r->out, &r->err);
	cr_assert_geq(r->status, 0, "ringprobe %s: did not exit normally", args);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static struct result r;

Test(cli, version_and_help)
{
	run(&r, "--version");
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(r.out, "ringprobe " RP_VERSION "\n");
	run(&r, "--help");
	cr_assert_eq(r.status, 0);
	cr_assert_not_null(strstr(r.out, "check-config"));
	run(&r, "");
	cr_assert_eq(r.status, 2);
	run(&r, "pnig 127.0.0.1");
	cr_assert_eq(r.status, 2);
	cr_assert_str_eq(r.err, "ringprobe: unknown command \"pnig\" (did you mean ping?)\n");
}

Test(cli, run_help_lists_every_config_flag)
{
	char flag[80], needle[96];

	run(&r, "run --help");
	cr_assert_eq(r.status, 0);
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);

		if (k->type == RP_CT_IGNORED || k->type == RP_CT_GROUPS) /* groups: file only */
			continue;
		rp_conf_key_flag(k, flag, sizeof(flag));
		snprintf(needle, sizeof(needle), "--%s", flag);
		cr_expect_not_null(strstr(r.out, needle), "run --help lacks %s", needle);
	}
	for (const char *const *c = (const char *const[]){"ping", "sweep", "check-config", NULL};
	     *c; c++) {
		char args[64];

		snprintf(args, sizeof(args), "%s --help", *c);
		run(&r, args);
		cr_expect_eq(r.status, 0, "%s", args);
		cr_expect_not_null(strstr(r.out, "Usage: ringprobe "), "%s", args);
	}
}

Test(cli, check_config_prints_effective_config)
{
	run(&r, "check-config --config " EXAMPLE);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.err, "");
	cr_assert_not_null(strstr(r.out, "ping_interval: 10s"));
	cr_assert_not_null(strstr(r.out, "  community: \"********\""));
}

Test(cli, flags_override_the_file)
{
	run(&r, "check-config --config " EXAMPLE " --ping-interval 5s --influxdb-gzip=false "
		"--networks 198.51.100.0/24");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "ping_interval: 5s  # --ping-interval\n"));
	cr_assert_not_null(strstr(r.out, "  gzip: false  # --influxdb-gzip\n"));
	cr_assert_not_null(strstr(r.out, "networks:  # --networks\n  - 198.51.100.0/24\n"));
}

Test(cli, five_errors_exit_2_and_are_all_printed)
{
	const char *path = "/tmp/rp-cli-five.yml";

	write_file(path, "networks:\n  - 192.0.2.0/40\nping_interval: soon\nsnmp:\n  port: 0\n"
			 "  comunity: x\nmax_devices: -5\ninfluxdb:\n  url: http://127.0.0.1:1\n"
			 "  database: d\n");
	run(&r, "check-config --config /tmp/rp-cli-five.yml");
	unlink(path);
	cr_assert_eq(r.status, 2);
	cr_assert_str_eq(r.out, "");
	cr_assert_str_eq(
	    r.err,
	    "/tmp/rp-cli-five.yml:2:5: error: networks[0]: invalid CIDR \"192.0.2.0/40\": "
	    "prefix length must be 0..32\n"
	    "/tmp/rp-cli-five.yml:3:16: error: ping_interval: invalid duration \"soon\" (write "
	    "e.g. 30s, 250ms or 1h30m)\n"
	    "/tmp/rp-cli-five.yml:5:9: error: snmp.port: 0 is out of range (1..65535)\n"
	    "/tmp/rp-cli-five.yml:6:3: error: snmp.comunity: unknown key (did you mean "
	    "snmp.community?)\n"
	    "/tmp/rp-cli-five.yml:7:14: error: max_devices: -5 is out of range (1..16777216)\n"
	    "ringprobe check-config: 5 errors; nothing was started (see `ringprobe "
	    "check-config --help`)\n");
}

Test(cli, bad_flags_are_named)
{
	run(&r, "check-config --config " EXAMPLE " --ping-intreval 1s");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "--ping-intreval: error: unknown option (did "
					 "you mean --ping-interval?)\n"),
			   "%s", r.err);
	run(&r, "check-config --config " EXAMPLE " --snmp-port 0");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "--snmp-port: error: 0 is out of range (1..65535)\n"),
			   "%s", r.err);
	run(&r, "check-config");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "check-config needs --config FILE"));
	run(&r, "check-config --config /nonexistent/rp.yml");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "/nonexistent/rp.yml: error: cannot open: No such file "
					 "or directory\n"),
			   "%s", r.err);
	run(&r, "ping -c abc 127.0.0.1");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "-c/--count: error: expected an integer, got \"abc\""),
			   "%s", r.err);
	run(&r, "ping --count");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "--count: error: needs a value"), "%s", r.err);
}

/* The packet options of `ringprobe ping` (fping's -b -H -O -M -S -I -k -R) are checked
 * before anything starts, with fping's words for what fping refuses; nothing here opens
 * a socket or asks a resolver. */
Test(cli, ping_packet_options_are_validated)
{
	static const struct {
		const char *args, *err;
	} bad[] = {
	    {"ping -H 300 127.0.0.1", "error: ttl 300 out of range\n"},
	    {"ping -H 0 127.0.0.1", "-H/--ttl: error: \"0\" is not a valid value\n"},
	    {"ping -b 65489 127.0.0.1",
	     "error: data size 65489 not valid, must be lower than 65488\n"},
	    {"ping -b x 127.0.0.1", "-b/--size: error: expected an integer, got \"x\""},
	    {"ping -b 39 127.0.0.1", "error: data size 39 not valid for ringprobe, must be at "
				     "least 40 (-b: its echo requests carry"},
	    {"ping -b 0 127.0.0.1", "error: data size 0 not valid for ringprobe"},
	    {"ping -O x 127.0.0.1", "-O/--tos: error: \"x\" is not a valid value\n"},
	    {"ping -S bla 127.0.0.1", "-S/--src: error: can't parse source address: bla\n"},
	    {"ping -I rp-no-such-if 127.0.0.1",
	     "-I/--iface: error: binding to specific interface (SO_BINTODEVICE): No such "
	     "device\n"},
	    {"ping -I 0123456789abcdefX 127.0.0.1", "-I/--iface: error: binding to specific"},
	    {"ping -k -1 127.0.0.1", "-k/--fwmark: error: -1 is out of range\n"},
	    {"ping -B 0.9 127.0.0.1",
	     "error: backoff factor 0.9 not valid, must be between 1.0 and 5.0\n"},
	    {"ping -a -u 127.0.0.1", "error: specify only one of a, u\n"},
	    {"ping -c 2 -l 127.0.0.1", "error: specify only one of c, l\n"},
	    {"ping -d -n 127.0.0.1", "-n/--name: error: use either one of -d or -n\n"},
	    {"ping -4 -6 127.0.0.1", "-6/--ipv6: error: can't specify both -4 and -6\n"},
	    {"ping -g 127.0.0.1/33", "ringprobe ping: netmask must be between 1 and 32 (is: 33)\n"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run(&r, bad[i].args);
		cr_assert_eq(r.status, 2, "%s: exit %d\n%s", bad[i].args, r.status, r.err);
		cr_assert_not_null(strstr(r.err, bad[i].err), "%s:\n%s", bad[i].args, r.err);
	}
}

Test(cli, ping_and_sweep_validate_targets)
{
	const char *path = "/tmp/rp-cli-targets.txt";

	run(&r, "ping");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "ping needs at least one TARGET"));
	run(&r, "ping 127.0.0.300");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "127.0.0.300: error: invalid address \"127.0.0.300\""),
			   "%s", r.err);
	/* (a name would be valid: this one is not, so nothing asks the system's resolver) */
	write_file(path, "# loopback targets\n127.0.0.1\n\n127.0.0.2 # second\nbogus!\n");
	run(&r, "ping -q -c 3 @/tmp/rp-cli-targets.txt");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "/tmp/rp-cli-targets.txt:5: error: invalid address "
					 "\"bogus!\""),
			   "%s", r.err);
	run(&r, "sweep router1.test 127.0.0.0/30");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err,
				  "router1.test: error: is a name; sweep takes addresses and "
				  "CIDR ranges"),
			   "%s", r.err);
	run(&r, "ping ::1/64");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "::1/64: error: ::1/64 is larger than a /104; split it "
					 "into smaller networks"),
			   "%s", r.err);
	run(&r, "ping 2001:db8::/110");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "2001:db8::/110: error: has 262144 addresses, more than a "
					 "/112; add --allow-large to probe it"),
			   "%s", r.err);
	unlink(path);
	run(&r, "sweep 127.0.0.0/12");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "127.0.0.0/12: error: has 1048576 addresses, more than a "
					 "/16; add --allow-large to sweep it"),
			   "%s", r.err);
	run(&r, "ping --output yaml 127.0.0.1");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "\"yaml\" is not one of text, json"), "%s", r.err);
}

/* sweep --snmp with no agent listening (UDP port 9 on loopback): every alive host is
 * listed with `-` after its timeout, and the summary counts them; the answered case is
 * in tests/snmp (a real snmpd). (A valid `run` starts the daemon: never here, the
 * example's networks must not be probed; see tests/ctl/test_daemon.c.) */
Test(cli, sweep_snmp_lists_hosts_without_an_agent_and_run_needs_a_sink)
{
	run(&r, "sweep --snmp --snmp-port 9 --snmp-timeout 100ms --snmp-retries 0 127.0.0.0/30");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "127.0.0.1\t-\n"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "127.0.0.2\t-\n"), "%s", r.out);
	cr_assert_not_null(strstr(r.err, "snmp: 2 asked, 0 answered, 2 timed out, 0 errors"), "%s",
			   r.err);
	run(&r, "sweep --snmp --snmp-max-inflight 5000 127.0.0.0/30");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "--snmp-max-inflight"), "%s", r.err);
	run(&r, "run --networks 127.0.0.0/30");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "influxdb.url: must be set"), "%s", r.err);
	run(&r, "ping -c 3 -p 100 -t 500 127.0.0.1");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "-t/--timeout: error: 500 ms is longer than the period "
					 "-p 100 ms"),
			   "%s", r.err);
}

/* Secrets given as flags, a URL's user-info and a token read from a file never reach
 * stderr or the log: the real binary writes to a sink that refuses the connection
 * (nothing listens on 127.0.0.1:1 in the namespace), so the writer logs its URL at
 * start and again when it backs off. */
Test(cli, secrets_never_reach_the_log, .timeout = 60)
{
	const char *tok = "/tmp/rp-cli-token";
	const char *cfg = "/tmp/rp-cli-secret.yml";

	if (geteuid() != 0)
		cr_skip_test("needs root (ICMP in a private network namespace)");
	write_file(tok, "tok-from-file-s3cret\n");
	r.status = sup_run(BIN " ping --log-level debug --shutdown-timeout 1s "
			       "--spool-max-bytes 0 -c 2 -p 200 "
			       "--influxdb-url http://rpuser:url-s3cret@127.0.0.1:1/ "
			       "--influxdb-org o --influxdb-bucket b "
			       "--influxdb-token-file /tmp/rp-cli-token "
			       "--snmp-community flag-s3cret 127.0.0.1",
			   SUP_RUN_NETNS, &r.out, &r.err);
	cr_assert_geq(r.status, 0);
	cr_log_info("%s", r.err);
	/* The URL is there, so the lines that name it were written... */
	cr_assert_not_null(strstr(r.err, "writer ready"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "url=http://127.0.0.1:1/api/v2/write"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "sink unavailable"), "%s", r.err);
	/* ...without a secret. */
	cr_assert_null(strstr(r.err, "s3cret"), "%s", r.err);
	cr_assert_null(strstr(r.out, "s3cret"), "%s", r.out);
	cr_assert_null(strstr(r.err, "rpuser"), "%s", r.err);

	/* check-config prints neither, and an expansion error in a password shows only
	 * where it is. */
	write_file(cfg, "networks: [192.0.2.0/24]\ninfluxdb:\n"
			"  url: http://rpuser:url-s3cret@127.0.0.1:8086\n"
			"  org: o\n  bucket: b\n  token_file: /tmp/rp-cli-token\n");
	run(&r, "check-config --config /tmp/rp-cli-secret.yml");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_null(strstr(r.out, "s3cret"), "%s", r.out);
	cr_assert_null(strstr(r.out, "rpuser"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "  token_file: \"/tmp/rp-cli-token\""), "%s", r.out);
	write_file(cfg, "networks: [192.0.2.0/24]\ninfluxdb:\n  url: http://127.0.0.1:8086\n"
			"  org: o\n  bucket: b\n  password: \"pw-s3cret${x\"\n");
	run(&r, "check-config --config /tmp/rp-cli-secret.yml");
	unlink(cfg);
	unlink(tok);
	cr_assert_eq(r.status, 2);
	cr_assert_null(strstr(r.err, "s3cret"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "/tmp/rp-cli-secret.yml:6:13: error: influxdb.password: "
					 "unterminated \"${\" at character 10 of the value"),
			   "%s", r.err);
}
