/* `ringprobe ping` and `sweep` end to end, as root, each in a private network
 * namespace (unshare -n): only loopback exists there, so nothing can leave and other
 * processes' ICMP cannot disturb the counts. Compared with fping on the same targets. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIN RP_BUILD_ROOT "/src/cli/ringprobe"

struct result {
	int status;
	char *out;
	char *err;
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return calloc(1, 1);
	do {
		if (len + 65536 > cap) {
			cap = cap * 2 + 65536;
			buf = realloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets and a private network namespace)");
}

/* Runs `script` with sh inside a new network namespace whose loopback is up. */
static void in_netns(struct result *r, const char *script)
{
	char cmd[8192], out[64], err[64];
	int st;

	snprintf(out, sizeof(out), "/tmp/rp-ping-%d.out", getpid());
	snprintf(err, sizeof(err), "/tmp/rp-ping-%d.err", getpid());
	snprintf(cmd, sizeof(cmd), "unshare -n sh -c 'ip link set lo up && %s' >%s 2>%s </dev/null",
		 script, out, err);
	st = system(cmd);
	cr_assert(WIFEXITED(st), "%s: did not exit normally", script);
	r->status = WEXITSTATUS(st);
	r->out = slurp(out);
	r->err = slurp(err);
	unlink(out);
	unlink(err);
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Replaces every number after "min/avg/max = " and every "x.yyy ms" time with "T",
 * so two tools' lines compare on everything but timing. */
static void mask_times(char *s)
{
	char *p = s, *w = s;

	while (*p) {
		if (isdigit((unsigned char)*p) &&
		    (p == s || p[-1] == ' ' || p[-1] == '/' || p[-1] == '(')) {
			char *q = p;
			bool dot = false;

			while (isdigit((unsigned char)*q) || *q == '.') {
				dot = dot || *q == '.';
				q++;
			}
			if (dot) {
				*w++ = 'T';
				p = q;
				continue;
			}
		}
		*w++ = *p++;
	}
	*w = '\0';
}

Test(ping_cli, quiet_count_summary_matches_fping_line_by_line, .timeout = 60)
{
	struct result rp, fp;
	const char *targets = "127.0.0.1 127.0.0.2 127.0.0.10 127.1.2.3";
	char script[1024];

	need_root();
	/* 127.0.0.10 is dropped by an nftables rule: a down device for both tools. */
	snprintf(script, sizeof(script),
		 "nft add table ip t && nft add chain ip t o \"{ type filter hook output "
		 "priority 0; }\" && nft add rule ip t o ip daddr 127.0.0.10 icmp type "
		 "echo-request drop && %s ping -q -c 3 -p 200 -t 150 %s",
		 BIN, targets);
	in_netns(&rp, script);
	snprintf(script, sizeof(script),
		 "nft add table ip t && nft add chain ip t o \"{ type filter hook output "
		 "priority 0; }\" && nft add rule ip t o ip daddr 127.0.0.10 icmp type "
		 "echo-request drop && fping -q -c 3 -p 200 -t 150 %s",
		 targets);
	in_netns(&fp, script);
	cr_assert_eq(rp.status, 1, "some target did not answer: exit 1 (%s)", rp.err);
	cr_assert_eq(fp.status, 1, "fping: %s", fp.err);
	cr_assert_str_eq(rp.out, "");
	cr_assert_not_null(strstr(rp.err, "127.0.0.10 : xmt/rcv/%loss = 3/0/100%\n"), "%s", rp.err);
	cr_assert_not_null(strstr(rp.err, "127.0.0.1  : xmt/rcv/%loss = 3/3/0%, min/avg/max = "),
			   "%s", rp.err);
	mask_times(rp.err);
	mask_times(fp.err);
	cr_assert_str_eq(rp.err, fp.err);
	result_free(&rp);
	result_free(&fp);
}

Test(ping_cli, per_probe_lines_match_fping, .timeout = 60)
{
	struct result rp, fp;

	need_root();
	in_netns(&rp, BIN " ping -c 2 -p 100 127.0.0.1");
	in_netns(&fp, "fping -c 2 -p 100 127.0.0.1");
	cr_assert_eq(rp.status, 0, "%s", rp.err);
	mask_times(rp.out);
	mask_times(fp.out);
	mask_times(rp.err);
	mask_times(fp.err);
	cr_assert_str_eq(rp.out, fp.out);
	cr_assert_str_eq(rp.err, fp.err);
	result_free(&rp);
	result_free(&fp);
}

Test(ping_cli, alive_mode_and_json, .timeout = 60)
{
	struct result r;

	need_root();
	in_netns(&r, BIN " ping 127.0.0.1 127.0.0.2");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "127.0.0.1 is alive\n"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "127.0.0.2 is alive\n"), "%s", r.out);
	result_free(&r);
	in_netns(&r, BIN " ping -o json -c 2 -p 50 127.0.0.0/30");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "{\"target\":\"127.0.0.1\",\"sent\":2,\"received\":2,"
					 "\"loss_pct\":0,\"rtt_ms\":{\"min\":"),
			   "%s", r.out);
	cr_assert_not_null(strstr(r.out, "{\"target\":\"127.0.0.2\""), "%s", r.out);
	cr_assert_null(strstr(r.out, "127.0.0.3"), "broadcast address not probed");
	result_free(&r);
}

/* fping 5.1 cannot keep 20,000 targets in its loop (its 65,535-entry sequence map
 * runs out); ringprobe keeps every one for the whole run. */
/* 20,000 distinct loopback addresses, one per line, for @file targets. */
static const char *targets_file(unsigned n)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/rp-targets-%d.txt", getpid());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "# %u loopback targets\n", n);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "127.%u.%u.%u\n", 1 + i / 65024, i / 254 % 256, 1 + i % 254);
	fclose(f);
	return path;
}

Test(ping_cli, twenty_thousand_targets_ten_rounds, .timeout = 120)
{
	struct result r;
	unsigned lines = 0, full = 0;
	char script[256];
	const char *path = targets_file(20000);

	need_root();
	snprintf(script, sizeof(script), "%s ping -q -c 10 -p 1000 -t 500 @%s", BIN, path);
	in_netns(&r, script);
	unlink(path);
	cr_assert_eq(r.status, 0, "%.2000s", r.err);
	for (char *p = r.err; (p = strstr(p, "xmt/rcv/%loss = ")); p++) {
		lines++;
		full += strncmp(p, "xmt/rcv/%loss = 10/10/0%", 24) == 0;
	}
	cr_assert_eq(lines, 20000);
	cr_assert_eq(full, lines, "every probe of every target answered");
	result_free(&r);
}

Test(ping_cli, a_million_loopback_targets_once, .timeout = 180)
{
	struct result r;
	char *p;
	unsigned long alive = 0;

	need_root();
	/* 127.0.0.0/12 holds 1,048,574 hosts. */
	in_netns(&r, BIN " ping --allow-large --rate 100000 -t 1000 127.0.0.0/12 | grep -c "
			 "\"is alive\"");
	alive = strtoul(r.out, &p, 10);
	cr_assert_eq(alive, 1048574, "alive=%lu err=%.1000s", alive, r.err);
	result_free(&r);
}

Test(ping_cli, sweep_lists_alive_hosts, .timeout = 60)
{
	struct result r;
	unsigned lines = 0;

	need_root();
	in_netns(&r, BIN " sweep --rate 50000 127.0.0.0/22 127.9.0.0/30 | sort -t. -k1,1n -k2,2n "
			 "-k3,3n -k4,4n");
	cr_assert_eq(r.status, 0, "%s", r.err);
	for (char *p = r.out; (p = strchr(p, '\n')); p++)
		lines++;
	cr_assert_eq(lines, 1022 + 2);
	cr_assert(strncmp(r.out, "127.0.0.1\n127.0.0.2\n", 20) == 0, "%.100s", r.out);
	cr_assert_not_null(strstr(r.out, "127.9.0.2\n"));
	cr_assert_null(strstr(r.out, "127.0.3.255\n"), "broadcast address not probed");
	cr_assert_not_null(strstr(r.err, "swept 1024 hosts in 2 networks"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, ": 1024 alive"), "%s", r.err);
	result_free(&r);
}

Test(ping_cli, dgram_and_mmsg_paths_work_from_the_command_line, .timeout = 60)
{
	struct result r;

	need_root();
	in_netns(&r, "echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range && " BIN
		     " ping --icmp-mode dgram --backend mmsg -q -c 2 -p 100 127.0.0.1 127.0.0.2");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "127.0.0.2 : xmt/rcv/%loss = 2/2/0%"), "%s", r.err);
	result_free(&r);
	in_netns(&r, "RINGPROBE_DISABLE=multishot,send_addr " BIN
		     " ping --icmp-mode raw -q -c 2 -p 100 127.0.0.1");
	cr_assert_eq(r.status, 0, "%s", r.err);
	result_free(&r);
}

/* Sockets first, then --user: the probes still work with every capability gone. */
Test(ping_cli, user_drops_privileges_after_opening_sockets, .timeout = 60)
{
	struct result r;

	need_root();
	in_netns(&r, BIN " ping --user nobody --log-level info -q -c 2 -p 100 127.0.0.1");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "msg=\"privileges dropped\" user=nobody"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "127.0.0.1 : xmt/rcv/%loss = 2/2/0%"), "%s", r.err);
	result_free(&r);
	in_netns(&r, BIN " ping --user no-such-user-rp -c 1 127.0.0.1");
	cr_assert_eq(r.status, 3, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "no-such-user-rp"), "%s", r.err);
	result_free(&r);
}

/* `ping --influxdb-url` writes each result as a `ping` point: a real influxd, started
 * inside the test's own namespace and stopped by PID, counts them. */
Test(ping_cli, influxdb_url_writes_every_result, .timeout = 120)
{
	struct result r;
	char dir[] = "/tmp/rp-ping-influx-XXXXXX", script[4096], conf[300];
	FILE *f;

	need_root();
	if (access("/usr/bin/influxd", X_OK) != 0)
		cr_assert_fail("influxd is not installed (Debian package influxdb)");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/influxdb.conf", dir);
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"reporting-disabled = true\nbind-address = \"127.0.0.1:18088\"\n[meta]\n  dir = "
		"\"%s/meta\"\n[data]\n  dir = \"%s/data\"\n  wal-dir = \"%s/wal\"\n"
		"  max-values-per-tag = 0\n[http]\n  bind-address = \"127.0.0.1:18086\"\n",
		dir, dir, dir);
	fclose(f);
	snprintf(
	    script, sizeof(script),
	    "influxd -config %s >%s/log 2>&1 & pid=$!; "
	    "python3 -c \"import time,urllib.request as u\n"
	    "for i in range(200):\n"
	    " try: u.urlopen(\\\"http://127.0.0.1:18086/ping\\\"); break\n"
	    " except Exception: time.sleep(0.05)\n"
	    "u.urlopen(\\\"http://127.0.0.1:18086/query?q=CREATE+DATABASE+rp\\\", b\\\"\\\")\"; "
	    "%s ping --influxdb-url http://127.0.0.1:18086 --influxdb-database rp "
	    "--spool-max-bytes 0 -q -c 5 -p 100 127.0.0.1 127.0.0.2 127.0.0.3; rc=$?; "
	    "python3 -c \"import urllib.request as u, urllib.parse as p\n"
	    "q=p.quote(\\\"SELECT count(success) FROM ping WHERE success = true GROUP BY ip\\\")\n"
	    "print(u.urlopen(\\\"http://127.0.0.1:18086/query?db=rp&q=\\\"+q).read().decode())\"; "
	    "kill $pid; wait $pid; exit $rc",
	    conf, dir, BIN);
	in_netns(&r, script);
	cr_assert_eq(r.status, 0, "%s", r.err);
	for (int i = 1; i <= 3; i++) {
		char needle[128];

		snprintf(
		    needle, sizeof(needle),
		    "{\"name\":\"ping\",\"tags\":{\"ip\":\"127.0.0.%d\"},\"columns\":[\"time\","
		    "\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",5]]}",
		    i);
		cr_expect_not_null(strstr(r.out, needle), "%s not in %s", needle, r.out);
	}
	result_free(&r);
	snprintf(script, sizeof(script), "rm -rf %s", dir);
	cr_assert_eq(system(script), 0);
}
