/* `ringprobe run` end to end: the real binary, a real influxd, the kernel's ICMP on
 * loopback. Each test that probes enters its own network namespace first (only
 * loopback exists there: nothing can leave, nobody else's ICMP disturbs the counts)
 * and starts influxd inside it; the daemon is a child process driven by signals and
 * watched through /health. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../snmp/snmpd_harness.h"
#include "support/support.h"
#include "ringprobe/prober.h"

#define BIN RP_BUILD_ROOT "/src/cli/ringprobe"

struct rpd {
	pid_t pid;
	int hport;
	char dir[64];
	char cfg[128];
	char log[128];
};

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (raw ICMP sockets and a private network namespace)");
}

static void enter_netns(void)
{
	const char *what;
	int rc = sup_netns_enter(SUP_NETNS_LO_UP, &what);

	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
}

static void write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static void rpd_init(struct rpd *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/rp-daemon-XXXXXX");
	cr_assert_not_null(mkdtemp(r->dir));
	snprintf(r->cfg, sizeof(r->cfg), "%s/config.yml", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/log", r->dir);
	r->hport = sup_free_port();
}

/* Starts `ringprobe run --config cfg ARGS...` (NULL-terminated), log to r->log. */
static void rpd_start(struct rpd *r, ...)
{
	char *argv[32] = {BIN, "run", "--config", r->cfg};
	int argc = 4;
	va_list ap;

	va_start(ap, r);
	for (char *a; argc < 31 && (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	r->pid = fork();
	cr_assert_geq(r->pid, 0);
	if (r->pid == 0) {
		int fd = open(r->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		/* A failed assertion ends the test process: the daemon goes with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(BIN, argv);
		_exit(127);
	}
}

/* Exit status of the daemon (waits up to `secs`, then kills it and fails). */
static int rpd_wait(struct rpd *r, double secs)
{
	double until = sup_now() + secs;
	int st;

	while (sup_now() < until) {
		pid_t p = waitpid(r->pid, &st, WNOHANG);

		if (p == r->pid) {
			r->pid = 0;
			cr_assert(WIFEXITED(st), "the daemon died of signal %d", WTERMSIG(st));
			return WEXITSTATUS(st);
		}
		usleep(20000);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, &st, 0);
	r->pid = 0;
	cr_assert_fail("the daemon did not exit within %.0f s", secs);
	return -1;
}

static void rpd_fini(struct rpd *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
	}
	if (sup_rm_rf(r->dir) != 0)
		fprintf(stderr, "could not remove %s\n", r->dir);
}

static bool log_has(const struct rpd *r, const char *text)
{
	char *s = sup_slurp(r->log);
	bool ok = strstr(s, text) != NULL;

	free(s);
	return ok;
}

/* A number from /health's JSON, -1 when the daemon does not answer (yet). */
static double health(const struct rpd *r, const char *key)
{
	char url[96], *body = NULL;
	long status = 0;
	double v;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", r->hport);
	if (srv_http("GET", url, NULL, 0, NULL, &body, &status) != 0 || !body) {
		free(body);
		return -1;
	}
	v = sup_json_number(body, key);
	free(body);
	return v;
}

/* The writer's drop reasons, as health_metrics fields and /health keys. */
static const char *const drop_reasons[] = {
    "points_dropped_pool",	    "points_dropped_rejected", "points_dropped_spool_overflow",
    "points_dropped_spool_corrupt", "points_dropped_no_spool",
};

/* last(field) of health_metrics written at or after since_ns; -1 when there is none. */
static int64_t last_health(struct srv *s, const char *field, uint64_t since_ns)
{
	char q[256];

	snprintf(q, sizeof(q), "SELECT last(%s) FROM health_metrics WHERE time >= %llu", field,
		 (unsigned long long)since_ns);
	return srv_influx_scalar(s, "rp", q);
}

/* Waits until /health's `key` == want; returns the last value seen. */
static double wait_health(const struct rpd *r, const char *key, double want, double secs)
{
	double until = sup_now() + secs, v = -1;

	while (sup_now() < until) {
		v = health(r, key);
		if (v == want)
			return v;
		usleep(50000);
	}
	return v;
}

/* Waits until /health's counter `key` reaches want (a counter keeps going up: == would
 * wait out its time whenever it steps past want); returns the last value seen. */
static double wait_health_min(const struct rpd *r, const char *key, double want, double secs)
{
	double until = sup_now() + secs, v = -1;

	while (sup_now() < until) {
		v = health(r, key);
		if (v >= want)
			return v;
		usleep(50000);
	}
	return v;
}

/* Waits until the scalar answer of q reaches want; returns the last answer. The daemon's
 * pace under a sanitizer on a loaded CI machine is not the wall clock's: tests wait for
 * the points they need rather than sleep a fixed time. */
static int64_t wait_scalar(struct srv *s, const char *q, int64_t want, double secs)
{
	double until = sup_now() + secs;
	int64_t v = -1;

	while (sup_now() < until) {
		v = srv_influx_scalar(s, "rp", q);
		if (v >= want)
			return v;
		usleep(100000);
	}
	return v;
}

static void dump_log(const struct rpd *r)
{
	char *s = sup_slurp(r->log);

	fprintf(stderr, "---- %s ----\n%s\n----\n", r->log, s);
	free(s);
}

/* Series of `SELECT count(...) ... GROUP BY ip`: per-ip counts, in answer order. */
struct per_ip {
	int n;
	char ip[4096][40]; /* RFC 5952 text fits */
	long count[4096];
};

static void group_by_ip(struct srv *s, const char *db, const char *q, struct per_ip *out)
{
	char *json = srv_influx_query(s, db, q), *p;

	cr_assert_not_null(json, "query %s", q);
	out->n = 0;
	for (p = json; (p = strstr(p, "\"tags\":{\"ip\":\"")) && out->n < 4096;) {
		char *v;
		size_t len;

		p += strlen("\"tags\":{\"ip\":\"");
		len = strcspn(p, "\"");
		if (len >= sizeof(out->ip[0]))
			len = sizeof(out->ip[0]) - 1;
		memcpy(out->ip[out->n], p, len);
		out->ip[out->n][len] = '\0';
		v = strstr(p, "\"values\":[[");
		cr_assert_not_null(v);
		v = strchr(v + 11, ',');
		cr_assert_not_null(v);
		out->count[out->n++] = strtol(v + 1, NULL, 10);
	}
	free(json);
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The names of pid's threads, each between spaces: " ringprobe rp-probe/0 ... ". */
static void thread_names(pid_t pid, char *out, size_t cap)
{
	char dir[64];
	struct dirent *de;
	DIR *d;
	size_t len = 1;

	snprintf(out, cap, " ");
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char path[352], *comm;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/comm", dir, de->d_name);
		comm = sup_slurp(path);
		if (!comm)
			continue;
		comm[strcspn(comm, "\n")] = '\0';
		len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s ", comm);
		free(comm);
	}
	closedir(d);
	cr_assert_lt(len, cap, "thread names cut");
}

/* ---- end to end ------------------------------------------------------------------- */

Test(daemon, two_thousand_loopback_devices_every_second_into_influxd, .timeout = 180)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rpd r;
	struct per_ip *pi = calloc(1, sizeof(*pi));
	char url[96], *body = NULL, cmd[512], prom[160];
	long status = 0, min = 1 << 30, max = 0;
	FILE *f;
	int64_t n;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	f = fopen(r.cfg, "w");
	/* Two shards, 1,500 devices in one and 500 in the other, and 5% more rate than
	 * 2,000 devices at 1 s need: an even split (1,050/s each) would leave the fuller
	 * shard ever later; the split by devices held keeps every send on time. */
	fprintf(f,
		"allow_loopback: true\nping_interval: 1s\nping_timeout: 500ms\n"
		"ping_rate_limit: 2100\nping_burst_limit: 200\nshards: 2\n"
		"health_report_interval: 5s\nhealth_check_port: %d\nmax_devices: 5000\n"
		"influxdb:\n  url: %s\n  database: rp\n  flush_interval: 1s\n"
		"spool:\n  dir: %s/spool\ndevices:\n",
		r.hport, s.url, r.dir);
	for (uint32_t a = 0x7f010001, cnt[2] = {0, 0}; cnt[0] + cnt[1] < 2000; a++) {
		unsigned sh = rp_prober_route(&(struct rp_ip[]){rp_ip_v4(a)}[0], 2);

		if ((a & 0xff) == 0 || (a & 0xff) == 0xff || cnt[sh] == (sh == 0 ? 1500u : 500u))
			continue;
		cnt[sh]++;
		fprintf(f, "  - 127.1.%u.%u\n", (a >> 8) & 0xff, a & 0xff);
	}
	fclose(f);
	rpd_start(&r, "--run-for", "20s", NULL);
	cr_assert_eq(wait_health(&r, "devices", 2000, 10), 2000);
	cr_assert_eq(wait_health(&r, "ready", 1, 5), 1);
	sleep(3);
	/* Each thread says what it is, for top -H, perf and /proc. */
	{
		const char *want[] = {"rp-probe/0", "rp-probe/1", "rp-writer", "rp-http"};
		char names[1024];

		thread_names(r.pid, names, sizeof(names));
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			char w[24];

			snprintf(w, sizeof(w), " %s ", want[i]);
			cr_assert_not_null(strstr(names, w), "no thread %s in [%s]", want[i],
					   names);
		}
	}
	/* /metrics, as Prometheus would scrape it, passes promtool with lint on. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", r.hport);
	cr_assert_eq(srv_http("GET", url, NULL, 0, NULL, &body, &status), 0);
	cr_assert_eq(status, 200);
	snprintf(prom, sizeof(prom), "%s/metrics.txt", r.dir);
	write_file(prom, "%s", body);
	for (size_t i = 0; i < sizeof(drop_reasons) / sizeof(drop_reasons[0]); i++) {
		char m[96];

		snprintf(m, sizeof(m), "\nringprobe_%s_total 0\n", drop_reasons[i]);
		cr_assert_not_null(strstr(body, m), "no %s in /metrics", m);
		cr_assert_eq(health(&r, drop_reasons[i]), 0, "/health %s", drop_reasons[i]);
	}
	cr_assert_not_null(strstr(body, "\nringprobe_batches_retried_total 0\n"));
	cr_assert_not_null(strstr(body, "\nringprobe_requests_inflight "));
	cr_assert_eq(health(&r, "batches_retried"), 0);
	{
		/* Default influxdb.max_inflight is 4; -1 would mean the key is missing. */
		double inflight = health(&r, "requests_inflight");

		cr_assert(inflight >= 0 && inflight <= 4, "requests_inflight %.0f", inflight);
	}
	free(body);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", prom);
	{
		char *o = NULL;
		int st = sup_run(cmd, 0, &o, NULL);

		cr_assert(st == 0, "promtool: %s", o ? o : "did not run");
		cr_assert_eq(strlen(o), 0, "promtool lint: %s", o);
		free(o);
	}
	sleep(12);
	{
		double sent = health(&r, "probes_sent"), late = health(&r, "late_sends");

		cr_assert_gt(sent, 2000 * 14);
		cr_assert_lt(late, sent * 0.05, "%.0f of %.0f sends were more than 10 ms late",
			     late, sent);
	}
	cr_assert_eq(rpd_wait(&r, 40), 0);
	if (!log_has(&r, "msg=\"stopped\""))
		dump_log(&r);
	cr_assert(log_has(&r, "probe_tick_ms=10.000"), "the start line gives probe_tick's default");
	/* One point per device per second, each within one of the 20 s run. */
	group_by_ip(&s, "rp", "SELECT count(success) FROM ping GROUP BY ip", pi);
	cr_assert_eq(pi->n, 2000, "devices with points");
	for (int i = 0; i < pi->n; i++) {
		min = pi->count[i] < min ? pi->count[i] : min;
		max = pi->count[i] > max ? pi->count[i] : max;
	}
	cr_assert(min >= 19 && max <= 21, "points per device in [%ld, %ld], want 20 +- 1", min,
		  max);
	n = srv_influx_scalar(&s, "rp", "SELECT count(success) FROM ping WHERE success = false");
	cr_assert_leq(n, 0, "%lld probes failed", (long long)n);
	n = srv_influx_scalar(&s, "rp", "SELECT count(rtt_ms) FROM ping");
	cr_assert_geq(n, 2000 * 19);
	/* health_metrics every 5 s and one at the stop. */
	n = srv_influx_scalar(&s, "rp", "SELECT count(devices) FROM health_metrics");
	cr_assert_geq(n, 4, "health_metrics points: %lld", (long long)n);
	n = srv_influx_scalar(&s, "rp", "SELECT last(devices) FROM health_metrics");
	cr_assert_eq(n, 2000);
	n = srv_influx_scalar(&s, "rp", "SELECT last(points_dropped) FROM health_metrics");
	cr_assert_eq(n, 0);
	/* Each drop reason and the retries are there, and exactly zero in a clean run. */
	for (size_t i = 0; i < sizeof(drop_reasons) / sizeof(drop_reasons[0]); i++)
		cr_assert_eq(last_health(&s, drop_reasons[i], 0), 0, "%s", drop_reasons[i]);
	cr_assert_eq(last_health(&s, "batches_retried", 0), 0);
	n = last_health(&s, "requests_inflight", 0);
	cr_assert(n >= 0 && n <= 4, "requests_inflight %lld", (long long)n);
	free(pi);
	rpd_fini(&r);
	srv_cleanup(&s);
}

Test(daemon, dropped_devices_are_suspended_and_resume_when_the_rule_goes, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rpd r;
	struct per_ip *pi = calloc(1, sizeof(*pi));
	uint64_t resumed_at;
	char q[256];

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [127.3.0.0/29]\nping_interval: 200ms\n"
		   "ping_timeout: 100ms\nping_max_consecutive_fails: 3\n"
		   "ping_backoff_duration: 1s\nhealth_check_port: %d\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		   "spool:\n  dir: %s/spool\n",
		   r.hport, s.url, r.dir);
	cr_assert_eq(system("nft add table ip t && nft add chain ip t o '{ type filter hook "
			    "output priority 0; }' && nft add rule ip t o ip daddr { 127.3.0.1, "
			    "127.3.0.2, 127.3.0.3 } icmp type echo-request drop"),
		     0);
	rpd_start(&r, NULL);
	cr_assert_eq(wait_health(&r, "devices", 6, 10), 6);
	/* Three failures at 200 ms, then suspended: exactly the three dropped ones. */
	cr_assert_eq(wait_health(&r, "suspended", 3, 5), 3);
	sleep(2);
	cr_assert_eq(health(&r, "suspended"), 3);
	cr_assert_eq(health(&r, "active"), 3);
	cr_assert_eq(system("nft delete table ip t"), 0);
	/* Probed once per 1 s backoff: back within about a second. */
	cr_assert_eq(wait_health(&r, "suspended", 0, 4), 0);
	resumed_at = real_ns();
	sleep(1);
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	/* Only the dropped three have suspended points. */
	group_by_ip(&s, "rp", "SELECT count(success) FROM ping WHERE suspended = true GROUP BY ip",
		    pi);
	cr_assert_eq(pi->n, 3, "devices with suspended points");
	for (int i = 0; i < pi->n; i++)
		cr_assert(strcmp(pi->ip[i], "127.3.0.1") == 0 ||
			      strcmp(pi->ip[i], "127.3.0.2") == 0 ||
			      strcmp(pi->ip[i], "127.3.0.3") == 0,
			  "%s was suspended", pi->ip[i]);
	/* The other three never failed. */
	cr_assert_leq(srv_influx_scalar(&s, "rp",
					"SELECT count(success) FROM ping WHERE success = false AND "
					"ip =~ /^127\\.3\\.0\\.[456]$/"),
		      0);
	/* The three answer again after the rule went. */
	snprintf(q, sizeof(q),
		 "SELECT count(success) FROM ping WHERE success = true AND suspended = false AND "
		 "ip =~ /^127\\.3\\.0\\.[123]$/ AND time > %llu GROUP BY ip",
		 (unsigned long long)resumed_at);
	group_by_ip(&s, "rp", q, pi);
	cr_assert_eq(pi->n, 3, "resumed devices answering");
	free(pi);
	rpd_fini(&r);
	srv_cleanup(&s);
}

Test(daemon, sighup_applies_new_networks_and_keeps_the_old_config_on_errors, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rpd r;
	struct per_ip *pi = calloc(1, sizeof(*pi));
	char text[1024], q[256];
	uint64_t t;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	snprintf(text, sizeof(text),
		 "allow_loopback: true\n"
		 "icmp_discovery_interval: 1h\nhealth_check_port: %d\n"
		 "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		 "spool:\n  dir: %s/spool\n",
		 r.hport, s.url, r.dir);
	write_file(r.cfg,
		   "%snetworks: [127.4.0.0/28]\ndevices: [127.4.2.1]\nping_interval: 250ms\n"
		   "ping_timeout: 200ms\n",
		   text);
	rpd_start(&r, NULL);
	cr_assert_eq(wait_health(&r, "devices", 15, 10), 15, "14 found + 1 static");
	write_file(r.cfg,
		   "%snetworks: [127.4.1.0/28]\ndevices: [127.4.2.2]\nping_interval: 500ms\n"
		   "ping_timeout: 300ms\n",
		   text);
	kill(r.pid, SIGHUP);
	cr_assert_eq(wait_health(&r, "config_reloads", 1, 5), 1);
	cr_assert_eq(wait_health(&r, "discovered", 28, 10), 28, "the new network was swept");
	cr_assert_eq(wait_health(&r, "devices", 15, 5), 15);
	sleep(1);
	t = real_ns();
	sleep(2);
	/* A broken file: rejected, logged, the running set unchanged. */
	write_file(r.cfg, "%snetworks: [127.4.1.0/28]\nping_interval: soon\n", text);
	kill(r.pid, SIGHUP);
	cr_assert_eq(wait_health(&r, "config_reload_errors", 1, 5), 1);
	cr_assert_eq(health(&r, "devices"), 15);
	cr_assert_eq(health(&r, "config_reloads"), 1);
	sleep(1);
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	cr_assert(log_has(&r, "reload rejected"), "the rejection is logged");
	cr_assert(log_has(&r, "ping_interval"), "naming the bad key");
	/* After the reload only the new network and the new static device are probed,
	 * each every 500 ms now (4 in 2 s, where 250 ms gave 8). */
	snprintf(q, sizeof(q),
		 "SELECT count(success) FROM ping WHERE time > %llu AND time <= %llu GROUP BY ip",
		 (unsigned long long)t, (unsigned long long)(t + 2000000000ull));
	group_by_ip(&s, "rp", q, pi);
	cr_assert_eq(pi->n, 15, "devices probed after the reload");
	for (int i = 0; i < pi->n; i++) {
		cr_assert(strncmp(pi->ip[i], "127.4.1.", 8) == 0 ||
			      strcmp(pi->ip[i], "127.4.2.2") == 0,
			  "%s probed after the reload", pi->ip[i]);
		cr_assert(pi->count[i] >= 3 && pi->count[i] <= 5, "%s: %ld probes in 2 s",
			  pi->ip[i], pi->count[i]);
	}
	if (log_has(&r, "take effect only at restart"))
		dump_log(&r);
	cr_assert_not(log_has(&r, "take effect only at restart"),
		      "ping_interval and ping_timeout apply live");
	free(pi);
	rpd_fini(&r);
	srv_cleanup(&s);
}

/* The "stopped" log line's key=value. */
static long long stopped_field(const struct rpd *r, const char *key)
{
	char *s = sup_slurp(r->log), *p = strstr(s, "msg=\"stopped\""), pat[64];
	long long v = -1;

	if (p) {
		snprintf(pat, sizeof(pat), " %s=", key);
		p = strstr(p, pat);
		if (p)
			v = strtoll(p + strlen(pat), NULL, 10);
	}
	free(s);
	return v;
}

#define SPOOL_CFG                                                                                  \
	"allow_loopback: true\ndevices: [%s]\nping_interval: 500ms\n"                              \
	"ping_timeout: 200ms\nhealth_check_port: %d\nhealth_report_interval: 1s\n"                 \
	"influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"                          \
	"spool:\n  dir: /tmp/rp-daemon-spool-%d\n"

Test(daemon, sigterm_with_the_sink_down_spools_everything_and_replays_it, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rpd r1, r2;
	long long spooled;
	uint64_t t2;
	int64_t pings, healths, states;
	char q[200], cmd[96];

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	srv_stop(&s, SIGTERM);
	rpd_init(&r1);
	write_file(r1.cfg, SPOOL_CFG, "127.6.0.0/25", r1.hport, s.url, getpid());
	rpd_start(&r1, NULL);
	cr_assert_eq(wait_health(&r1, "devices", 126, 10), 126);
	sleep(3);
	/* The sink refuses connections: batches fail, nothing is dropped (all spooled). */
	cr_assert_gt(health(&r1, "batches_failed"), 0);
	for (size_t i = 0; i < sizeof(drop_reasons) / sizeof(drop_reasons[0]); i++)
		cr_assert_eq(health(&r1, drop_reasons[i]), 0, "/health %s", drop_reasons[i]);
	cr_assert_geq(health(&r1, "requests_inflight"), 0);
	cr_assert_leq(health(&r1, "requests_inflight"), 1, "one probe at a time while down");
	kill(r1.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r1, 15), 0);
	spooled = stopped_field(&r1, "spooled_points");
	if (spooled <= 0)
		dump_log(&r1);
	cr_assert_gt(spooled, 126 * 5, "spooled %lld", spooled);
	cr_assert_eq(stopped_field(&r1, "points_written"), 0);
	cr_assert_eq(stopped_field(&r1, "points_dropped"), 0);

	/* The sink is back: the next run replays the spool first. */
	cr_assert_eq(srv_restart(&s), 0, "%s", s.why);
	t2 = real_ns();
	rpd_init(&r2);
	write_file(r2.cfg, SPOOL_CFG, "127.6.1.1", r2.hport, s.url, getpid());
	rpd_start(&r2, "--run-for", "3s", NULL);
	cr_assert_eq(rpd_wait(&r2, 30), 0);
	cr_assert_eq(stopped_field(&r2, "spooled_points"), 0);
	/* The replayed spool is resent data: the second run's health says so. */
	cr_assert_gt(last_health(&s, "batches_retried", t2), 0);
	for (size_t i = 0; i < sizeof(drop_reasons) / sizeof(drop_reasons[0]); i++)
		cr_assert_eq(last_health(&s, drop_reasons[i], t2), 0, "%s", drop_reasons[i]);
	pings = srv_influx_scalar(&s, "rp",
				  "SELECT count(success) FROM ping WHERE ip =~ /^127\\.6\\.0\\./");
	snprintf(q, sizeof(q), "SELECT count(devices) FROM health_metrics WHERE time < %llu",
		 (unsigned long long)t2);
	healths = srv_influx_scalar(&s, "rp", q);
	/* Each device's first state (up) is a device_state point of its own. */
	states = srv_influx_scalar(&s, "rp",
				   "SELECT count(duration_s) FROM device_state WHERE ip =~ "
				   "/^127\\.6\\.0\\./");
	cr_assert_eq(states, 126, "device_state points of the first run");
	cr_assert_eq(pings + (healths > 0 ? healths : 0) + states, spooled,
		     "pings %lld + health points %lld + states %lld of the first run, %lld "
		     "spooled",
		     (long long)pings, (long long)healths, (long long)states, spooled);
	snprintf(cmd, sizeof(cmd), "rm -rf /tmp/rp-daemon-spool-%d", getpid());
	cr_assert_eq(system(cmd), 0);
	rpd_fini(&r1);
	rpd_fini(&r2);
	srv_cleanup(&s);
}

Test(daemon, three_shards_of_one_fleet_are_disjoint_and_cover_it, .timeout = 120)
{
	struct srv s;
	struct rpd r[3];
	struct per_ip *pi = calloc(3, sizeof(*pi));
	char db[3][8], shard[3][8], *json;
	int total = 0;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &(struct srv_influx_opts){0}), 0, "%s", s.why);
	for (int i = 0; i < 3; i++) {
		char q[64];

		snprintf(db[i], sizeof(db[i]), "rp%d", i);
		snprintf(shard[i], sizeof(shard[i]), "%d/3", i);
		snprintf(q, sizeof(q), "CREATE DATABASE %s", db[i]);
		json = srv_influx_query(&s, NULL, q);
		cr_assert_not_null(json);
		free(json);
		rpd_init(&r[i]);
		write_file(r[i].cfg,
			   "allow_loopback: true\nnetworks: [127.7.0.0/24]\nping_interval: 500ms\n"
			   "ping_timeout: 200ms\nhealth_check_port: %d\nshard: \"%s\"\n"
			   "influxdb:\n  url: %s\n  database: %s\n  flush_interval: 250ms\n"
			   "spool:\n  dir: %s/spool\n",
			   r[i].hport, shard[i], s.url, db[i], r[i].dir);
		rpd_start(&r[i], "--run-for", "4s", NULL);
	}
	for (int i = 0; i < 3; i++) {
		int st = rpd_wait(&r[i], 30);

		if (st != 0)
			dump_log(&r[i]);
		cr_assert_eq(st, 0, "shard %s", shard[i]);
		group_by_ip(&s, db[i], "SELECT count(success) FROM ping GROUP BY ip", &pi[i]);
		cr_assert_gt(pi[i].n, 30, "shard %s has %d devices", shard[i], pi[i].n);
		total += pi[i].n;
	}
	cr_assert_eq(total, 254, "the union is the whole /24");
	for (int a = 0; a < 3; a++)
		for (int b = a + 1; b < 3; b++)
			for (int i = 0; i < pi[a].n; i++)
				for (int j = 0; j < pi[b].n; j++)
					cr_assert_str_neq(pi[a].ip[i], pi[b].ip[j],
							  "in shards %d and %d", a, b);
	for (int i = 0; i < 3; i++)
		rpd_fini(&r[i]);
	free(pi);
	srv_cleanup(&s);
}

/* ---- refusing bad configuration ---------------------------------------------------- */

/* Runs the daemon under strace; returns its exit status, with stderr and whether it
 * opened any socket. */
static int run_traced(struct rpd *r, const char *flag, char **err, bool *socket_opened)
{
	char cmd[1024], trace[160], *t;
	int st;

	snprintf(trace, sizeof(trace), "%s/trace", r->dir);
	snprintf(cmd, sizeof(cmd),
		 /* LeakSanitizer cannot run under ptrace (the ASan build of this test). */
		 "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" "
		 "strace -f -qq -e trace=socket,bind -o %s %s run --config %s %s",
		 trace, BIN, r->cfg, flag ? flag : "");
	st = sup_run(cmd, 0, NULL, err);
	cr_assert_geq(st, 0, "%s: did not exit normally", cmd);
	t = sup_slurp(trace);
	*socket_opened = strstr(t, "socket(") != NULL || strstr(t, "bind(") != NULL;
	free(t);
	return st;
}

#define URL "influxdb:\n  url: http://127.0.0.1:9\n  database: rp\n"

Test(daemon, bad_files_and_flags_exit_2_before_opening_anything)
{
	struct {
		const char *file, *flag, *expect[2];
	} cases[] = {
	    {"devices: [192.0.2.1]\npingg_interval: 1s\n" URL,
	     NULL,
	     {":2", "did you mean ping_interval"}},
	    {"devices: [192.0.2.1]\n" URL, "--ping-interval=abc", {"--ping-interval", NULL}},
	    {"networks: [127.9.0.0/24]\n" URL, NULL, {"allow_loopback", ":1"}},
	    {"devices: [192.0.2.0/24]\nmax_devices: 100\n" URL, NULL, {"max_devices", "254"}},
	    {"devices: [192.0.2.1]\ninfluxdb:\n  url: ftp://x\n", NULL, {"influxdb.url", NULL}},
	    {"device_files: [/nonexistent/rp-devices.json]\n" URL,
	     NULL,
	     {"/nonexistent/rp-devices.json", "cannot open device file"}},
	    {"device_files: [/tmp/rp-daemon-broken-sd.json]\n" URL,
	     NULL,
	     {"/tmp/rp-daemon-broken-sd.json:2:", "label \"ip\" is reserved"}},
	};

	if (system("command -v strace >/dev/null") != 0)
		cr_assert_fail(
		    "strace is missing (Debian package strace, in scripts/packages.txt)");
	write_file("/tmp/rp-daemon-broken-sd.json",
		   "[{\"targets\": [\"192.0.2.1\"],\n  \"labels\": {\"ip\": \"x\"}}]\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rpd r;
		char *err, spool[128];
		bool sock;
		int st;

		rpd_init(&r);
		snprintf(spool, sizeof(spool), "%s/spool", r.dir);
		write_file(r.cfg, "%sspool:\n  dir: %s\n", cases[i].file, spool);
		st = run_traced(&r, cases[i].flag, &err, &sock);
		cr_expect_eq(st, 2, "case %zu: exit %d: %s", i, st, err);
		cr_expect_not(sock, "case %zu opened a socket", i);
		cr_expect_neq(access(spool, F_OK), 0, "case %zu created the spool", i);
		for (int k = 0; k < 2; k++)
			if (cases[i].expect[k])
				cr_expect(strstr(err, cases[i].expect[k]) != NULL,
					  "case %zu: no \"%s\" in: %s", i, cases[i].expect[k], err);
		free(err);
		rpd_fini(&r);
	}
	unlink("/tmp/rp-daemon-broken-sd.json");
}

/* One task's capability sets, no_new_privs and scheduling policy, from /proc. */
struct task_privs {
	unsigned long long inh, prm, eff, bnd, amb;
	int nnp, policy;
	unsigned uid;
};

static bool read_task(pid_t pid, const char *tid, struct task_privs *t)
{
	char path[384], line[256], *stat, *p;
	FILE *f;

	memset(t, 0, sizeof(*t));
	t->nnp = t->policy = -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, tid);
	f = fopen(path, "r");
	if (!f)
		return false; /* the task ended meanwhile */
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "CapInh: %llx", &t->inh);
		sscanf(line, "CapPrm: %llx", &t->prm);
		sscanf(line, "CapEff: %llx", &t->eff);
		sscanf(line, "CapBnd: %llx", &t->bnd);
		sscanf(line, "CapAmb: %llx", &t->amb);
		sscanf(line, "NoNewPrivs: %d", &t->nnp);
		sscanf(line, "Uid: %u", &t->uid);
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, tid);
	stat = sup_slurp(path);
	/* Field 41 is the policy; count from the state, field 3, after the comm's ')'. */
	p = strrchr(stat, ')');
	for (int field = 2; p && field < 41; field++)
		p = strchr(p + 1, ' ');
	if (p)
		t->policy = atoi(p + 1);
	free(stat);
	return true;
}

/* Every task of a running process: no capability in any set, no_new_privs, uid as
 * given; returns how many run SCHED_FIFO. */
static int check_tasks(pid_t pid, unsigned uid, const char *what)
{
	char dir[64];
	struct dirent *de;
	DIR *d;
	int tasks = 0, fifo = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		struct task_privs t;

		if (de->d_name[0] == '.' || !read_task(pid, de->d_name, &t))
			continue;
		tasks++;
		cr_expect(t.inh == 0 && t.prm == 0 && t.eff == 0 && t.bnd == 0 && t.amb == 0,
			  "%s: task %s keeps capabilities: inh %llx prm %llx eff %llx bnd %llx "
			  "amb %llx",
			  what, de->d_name, t.inh, t.prm, t.eff, t.bnd, t.amb);
		cr_expect_eq(t.nnp, 1, "%s: task %s: NoNewPrivs %d", what, de->d_name, t.nnp);
		cr_expect_eq(t.uid, uid, "%s: task %s: uid %u", what, de->d_name, t.uid);
		fifo += t.policy == 1; /* SCHED_FIFO */
	}
	closedir(d);
	cr_assert_geq(tasks, 2, "%s: %d tasks", what, tasks);
	return fifo;
}

/* Root without `user` kept every capability for life; now each thread of the daemon
 * (shards, writer, HTTP) holds none, with or without `user`, and the shards still
 * run at the real-time priority taken before the drop. */
Test(daemon, every_thread_drops_every_capability_with_or_without_user, .timeout = 120)
{
	const char *users[] = {NULL, "nobody"};

	need_root();
	enter_netns();
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		unsigned uid = 0;
		struct rpd r;
		int fifo;

		if (users[i]) {
			struct passwd *pw = getpwnam(users[i]);

			if (!pw)
				continue;
			uid = pw->pw_uid;
		}
		rpd_init(&r);
		write_file(r.cfg,
			   "allow_loopback: true\ndevices: [127.3.0.0/29]\nping_interval: 200ms\n"
			   "shards: 2\nrealtime_priority: 10\nhealth_check_port: %d\n"
			   "%s%s%s"
			   "influxdb:\n  url: http://127.0.0.1:9\n  database: rp\n"
			   "spool:\n  dir: %s/spool\n",
			   r.hport, users[i] ? "user: " : "", users[i] ? users[i] : "",
			   users[i] ? "\n" : "", r.dir);
		if (users[i])
			chmod(r.dir, 0755);
		rpd_start(&r, NULL);
		if (wait_health(&r, "devices", 6, 10) != 6)
			dump_log(&r);
		cr_assert_eq(health(&r, "devices"), 6);
		fifo = check_tasks(r.pid, uid, users[i] ? users[i] : "no user");
		cr_expect_eq(fifo, 2, "%s: %d tasks at SCHED_FIFO, want the 2 shards",
			     users[i] ? users[i] : "no user", fifo);
		cr_expect(log_has(&r, "privileges dropped"));
		kill(r.pid, SIGTERM);
		cr_expect_eq(rpd_wait(&r, 20), 0);
		rpd_fini(&r);
	}
}

/* The one-shot commands go through the same drop: a ping in flight holds nothing. */
Test(daemon, ping_drops_every_capability_while_it_probes, .timeout = 60)
{
	char *argv[] = {BIN, "ping", "-q", "-c", "20", "-p", "100", "127.0.0.1", NULL};
	pid_t pid;
	int st;

	need_root();
	enter_netns();
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(BIN, argv);
		_exit(127);
	}
	/* Twenty probes 100 ms apart: look while it runs, once its threads exist. */
	usleep(700000);
	cr_expect_eq(check_tasks(pid, 0, "ping"), 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ping: status %d", st);
}

/* ---- the wall clock steps ----------------------------------------------------------- */

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

/* A query's one value as a double; -1 when there is none. */
static double influx_double(struct srv *s, const char *q)
{
	char *json = srv_influx_query(s, "rp", q);
	struct srv_row row;
	double v = -1;

	if (json && srv_influx_rows(json, &row, 1) == 1) {
		if (row.ncols > 1 && row.val[1])
			v = strtod(row.val[1], NULL);
		srv_rows_free(&row, 1);
	}
	free(json);
	return v;
}

/* The daemon's real-time clock steps by an hour back, then two hours forward, while it
 * probes (libfaketime, its file read again every second; its monotonic clock is left
 * alone). The kernel's packet stamps keep the true time, so after the first step every
 * reply's stamp disagrees with the daemon's clock by an hour: RTTs must still come from
 * the monotonic clock (none lost, none an hour long), sends stay on time, and each point
 * carries the daemon's real-time clock of its moment (before, during, after the step). */
Test(daemon, a_wall_clock_step_moves_timestamps_not_rtts_or_timeouts, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rpd r;
	char rc[160], q[256], asan[512], *saved;
	uint64_t t0;
	int64_t n, before, back, ahead;
	double rtt_max, late;

	need_root();
	if (access(FAKETIME_LIB, R_OK) != 0)
		cr_skip_test("needs %s (Debian package faketime)", FAKETIME_LIB);
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	snprintf(rc, sizeof(rc), "%s/faketimerc", r.dir);
	write_file(rc, "+0\n");
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [127.4.0.0/29]\nping_interval: 200ms\n"
		   "ping_timeout: 100ms\nhealth_check_port: %d\nhealth_report_interval: 1h\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n",
		   r.hport, s.url);
	/* Only the daemon runs on the faked clock (influxd started before the variables). */
	setenv("LD_PRELOAD", FAKETIME_LIB, 1);
	setenv("FAKETIME_TIMESTAMP_FILE", rc, 1);
	setenv("FAKETIME_CACHE_DURATION", "1", 1);
	setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
	/* Under AddressSanitizer the preloaded library comes before its runtime. */
	snprintf(asan, sizeof(asan), "%s:verify_asan_link_order=0",
		 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "");
	saved = getenv("ASAN_OPTIONS") ? strdup(getenv("ASAN_OPTIONS")) : NULL;
	setenv("ASAN_OPTIONS", asan, 1);
	rpd_start(&r, NULL);
	if (saved)
		setenv("ASAN_OPTIONS", saved, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved);
	unsetenv("LD_PRELOAD");
	unsetenv("FAKETIME_TIMESTAMP_FILE");
	unsetenv("FAKETIME_CACHE_DURATION");
	unsetenv("FAKETIME_DONT_FAKE_MONOTONIC");
	t0 = real_ns();
	cr_assert_eq(wait_health(&r, "devices", 6, 10), 6);
	sleep(2);
	cr_assert_eq(health(&r, "rtt_clock_fallbacks"), 0, "no step yet");
	write_file(rc, "-1h\n");
	sleep(2);
	write_file(rc, "+1h\n");
	sleep(2);
	n = (int64_t)health(&r, "replies");
	cr_assert_eq(health(&r, "timeouts"), 0, "a step lost no reply");
	cr_assert_eq(health(&r, "late_replies"), 0);
	/* Scheduled on the real-time clock, sends would stop for the hour back and all fall
	 * due at once on the step ahead; on a loaded machine a few may be a little late. */
	late = health(&r, "max_late_ns") / 1e6;
	cr_assert(late >= 0 && late < 500, "worst lateness of a send %.1f ms", late);
	cr_assert_gt(health(&r, "rtt_clock_fallbacks"), 0, "the disagreeing stamps counted");
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	/* 6 devices x 5/s x ~6 s. */
	cr_assert_geq(n, 6 * 5 * 5, "replies %lld", (long long)n);
	cr_assert_eq(srv_influx_scalar(&s, "rp",
				       "SELECT count(success) FROM ping WHERE "
				       "success = false"),
		     0, "failed points");
	rtt_max = influx_double(&s, "SELECT max(rtt_ms) FROM ping");
	cr_assert(rtt_max >= 0 && rtt_max < 50, "largest RTT %.3f ms", rtt_max);
	/* Points stamped before the step, during the hour back and in the hour ahead. */
	snprintf(q, sizeof(q), "SELECT count(success) FROM ping WHERE time >= %llu AND time < %llu",
		 (unsigned long long)(t0 - 10 * 1000000000ull),
		 (unsigned long long)(t0 + 60 * 1000000000ull));
	before = srv_influx_scalar(&s, "rp", q);
	snprintf(q, sizeof(q), "SELECT count(success) FROM ping WHERE time < %llu",
		 (unsigned long long)(t0 - 3000 * 1000000000ull));
	back = srv_influx_scalar(&s, "rp", q);
	snprintf(q, sizeof(q), "SELECT count(success) FROM ping WHERE time > %llu",
		 (unsigned long long)(t0 + 3000 * 1000000000ull));
	ahead = srv_influx_scalar(&s, "rp", q);
	cr_assert_gt(before, 0, "points at the true time");
	cr_assert_gt(back, 0, "points an hour back");
	cr_assert_gt(ahead, 0, "points an hour ahead");
	cr_assert_geq(before + back + ahead, n, "every reply a point (%lld + %lld + %lld)",
		      (long long)before, (long long)back, (long long)ahead);
	rpd_fini(&r);
	srv_cleanup(&s);
}

/* ---- a bounded stop ----------------------------------------------------------------- */

/* The SNMP poller is stuck in a v3 engine-ID discovery that a silent agent never answers
 * (10 s x 4 tries), the sink holds unsent points: SIGTERM still ends the daemon within
 * shutdown_timeout (2 s), exit 0, the points written or spooled first. */
Test(daemon, sigterm_ends_within_shutdown_timeout_with_snmp_stuck, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
	struct srv s;
	struct rpd r;
	double t0, took;
	int64_t pings, written, spooled;
	int silent, port;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	/* The agent: a UDP socket that reads nothing and answers nothing. */
	silent = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(silent, 0);
	port = sup_free_udp_port();
	cr_assert_gt(port, 0);
	a.sin_port = htons((uint16_t)port);
	cr_assert_eq(bind(silent, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
	rpd_init(&r);
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [127.5.0.0/28]\nping_interval: 200ms\n"
		   "ping_timeout: 100ms\nhealth_check_port: %d\nshutdown_timeout: 2s\n"
		   "snmp:\n  version: \"3\"\n  port: %d\n  timeout: 10s\n  retries: 3\n"
		   "  v3:\n    username: stuck\n    security_level: authNoPriv\n"
		   "    auth_password: stuckstuck\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 1h\n"
		   "  batch_size: 100000\nspool:\n  dir: %s/spool\n",
		   r.hport, port, s.url, r.dir);
	rpd_start(&r, NULL);
	cr_assert_eq(wait_health(&r, "devices", 14, 10), 14);
	/* SNMP polls begin once devices answer; one is stuck in discovery now. */
	for (int i = 0; i < 100 && health(&r, "snmp_polls") < 1; i++)
		usleep(50000);
	sleep(1);
	cr_assert_eq(health(&r, "points_written"), 0, "nothing flushed yet (flush_interval 1h)");
	t0 = sup_now();
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 30), 0);
	took = sup_now() - t0;
	if (took > 2.5)
		dump_log(&r);
	cr_assert_leq(took, 2.5, "SIGTERM to exit took %.2f s (shutdown_timeout 2 s)", took);
	cr_assert(log_has(&r, "SNMP poller still busy at shutdown_timeout"),
		  "the poller was stuck");
	written = stopped_field(&r, "points_written");
	spooled = stopped_field(&r, "spooled_points");
	pings = srv_influx_scalar(&s, "rp", "SELECT count(success) FROM ping");
	cr_assert_gt(written + spooled, 14 * 5, "written %lld, spooled %lld", (long long)written,
		     (long long)spooled);
	cr_assert_eq(stopped_field(&r, "points_dropped"), 0);
	cr_assert_geq(written, pings, "the sink holds what was written");
	close(silent);
	rpd_fini(&r);
	srv_cleanup(&s);
}

/* ping_timeout (19 s) is longer than half of shutdown_timeout (2 s): the probes out at
 * SIGTERM to devices that never answer are cut off, not written as failures (their
 * fate is unknown), and the stop still keeps its bound. */
Test(daemon, sigterm_cuts_off_long_ping_timeouts_without_false_failures, .timeout = 90)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rpd r;
	double t0, took;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [127.5.1.0/29]\nping_interval: 20s\n"
		   "ping_timeout: 19s\nhealth_check_port: %d\nshutdown_timeout: 2s\n"
		   "snmp:\n  enabled: false\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n",
		   r.hport, s.url);
	/* Silent devices: their replies are dropped on the way in (a request dropped on
	 * the way out would fail the send at once). */
	cr_assert_eq(system("nft add table ip t && nft add chain ip t i '{ type filter hook "
			    "input priority 0; }' && nft add rule ip t i ip saddr 127.5.1.0/29 "
			    "icmp type echo-reply drop"),
		     0);
	rpd_start(&r, NULL);
	/* Each device's first probe comes at its phase of the 20 s interval: stop as soon
	 * as one is out, long before its 19 s deadline. */
	for (int i = 0; i < 500 && health(&r, "probes_sent") < 1; i++)
		usleep(50000);
	cr_assert_geq(health(&r, "probes_sent"), 1);
	t0 = sup_now();
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 30), 0);
	took = sup_now() - t0;
	cr_assert_leq(took, 2.5, "SIGTERM to exit took %.2f s (shutdown_timeout 2 s)", took);
	cr_assert(log_has(&r, "probes cut off by the stop"), "the cut-off probes are logged");
	cr_assert_eq(srv_influx_scalar(&s, "rp", "SELECT count(success) FROM ping"), 0,
		     "no point for a probe whose fate is unknown");
	cr_assert_eq(system("nft delete table ip t"), 0);
	rpd_fini(&r);
	srv_cleanup(&s);
}

/* ---- devices given by name ----------------------------------------------------------- */

static int count_in_log(const struct rpd *r, const char *a, const char *b)
{
	char *s = sup_slurp(r->log), *p = s, *eol;
	int n = 0;

	for (; p && *p; p = eol ? eol + 1 : NULL) {
		eol = strchr(p, '\n');
		if (eol)
			*eol = '\0';
		n += strstr(p, a) && strstr(p, b);
	}
	free(s);
	return n;
}

/* Names from a private dnsmasq (never the system's resolver): each is probed at its
 * addresses with a name tag beside ip; a changed record moves the device within its TTL
 * and the series keeps the name; a name that does not exist is logged once, counted in
 * /health and retried with backoff, and the other devices never notice. */
Test(daemon, devices_given_by_name_follow_their_records, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv_dns dns = {0};
	struct srv_dns_opts dopt = {.ttl_s = 1, .hosts = "127.4.0.1 web.test\n127.4.0.2 db.test\n"};
	struct per_ip *pi = calloc(1, sizeof(*pi));
	struct srv s;
	struct rpd r;
	uint64_t moved_ns;
	char q[512];

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	cr_assert_eq(srv_dns_start(&dns, &dopt), 0, "%s", dns.why);
	rpd_init(&r);
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [web.test, db.test, gone.test, 127.4.0.9]\n"
		   "ping_interval: 200ms\nping_timeout: 100ms\nhealth_check_port: %d\n"
		   "health_report_interval: 1s\n"
		   "dns:\n  servers: %s\n  ttl_floor: 1s\n  retry_min: 200ms\n  retry_max: 400ms\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		   "spool:\n  dir: %s/spool\n",
		   r.hport, dns.server, s.url, r.dir);
	rpd_start(&r, NULL);
	cr_assert_eq(wait_health(&r, "name_addresses", 2, 10), 2);
	cr_assert_eq(health(&r, "names"), 3);
	cr_assert_eq(wait_health(&r, "names_failing", 1, 5), 1, "gone.test");
	cr_assert_eq(wait_health(&r, "devices", 1, 2), 1, "the listed device");
	cr_assert_geq(
	    wait_scalar(&s, "SELECT count(success) FROM ping WHERE ip = '127.4.0.1'", 11, 30), 11,
	    "web.test probed at its first address");
	cr_assert_eq(srv_dns_set_hosts(&dns, "127.4.0.3 web.test\n127.4.0.2 db.test\n"), 0, "%s",
		     dns.why);
	moved_ns = real_ns();
	cr_assert_geq(
	    wait_scalar(&s, "SELECT count(success) FROM ping WHERE ip = '127.4.0.3'", 11, 30), 11,
	    "then at its new one");
	sleep(1);
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	if (count_in_log(&r, "name resolved", "name=web.test addresses=127.4.0.3") != 1)
		dump_log(&r);
	cr_assert_eq(count_in_log(&r, "name resolved", "name=web.test addresses=127.4.0.1"), 1);
	cr_assert_eq(count_in_log(&r, "name resolved", "name=web.test addresses=127.4.0.3"), 1,
		     "the move is logged once");
	cr_assert_eq(count_in_log(&r, "did not resolve", "name=gone.test"), 1,
		     "a failing name is logged once, however often it is retried");
	cr_assert_geq(srv_dns_queries(&dns, "A", "gone.test"), 3, "retried with backoff");
	cr_assert_geq(last_health(&s, "name_failures", 0), 3);
	/* web.test: one series name, two addresses, the old one silent after the move. (`name`
	 * is an InfluxQL keyword: queries quote it.) */
	group_by_ip(&s, "rp",
		    "SELECT count(success) FROM ping WHERE \"name\" = 'web.test' GROUP BY ip", pi);
	if (pi->n != 2) {
		char *j = srv_influx_query(&s, "rp",
					   "SELECT count(success) FROM ping GROUP BY ip, \"name\"");

		fprintf(stderr, "%s\n", j);
		free(j);
		dump_log(&r);
	}
	cr_assert_eq(pi->n, 2, "web.test at both addresses");
	cr_assert_str_eq(pi->ip[0], "127.4.0.1");
	cr_assert_str_eq(pi->ip[1], "127.4.0.3");
	cr_assert_gt(pi->count[0], 10);
	cr_assert_gt(pi->count[1], 10);
	snprintf(q, sizeof(q),
		 "SELECT count(success) FROM ping WHERE ip = '127.4.0.1' AND time > %llu",
		 (unsigned long long)(moved_ns + 1500000000ull));
	cr_assert_leq(srv_influx_scalar(&s, "rp", q), 0,
		      "the old address is no longer probed after TTL + a resolution");
	cr_assert_leq(
	    srv_influx_scalar(&s, "rp", "SELECT count(success) FROM ping WHERE success = false"), 0,
	    "nothing failed");
	group_by_ip(&s, "rp",
		    "SELECT count(success) FROM ping WHERE \"name\" = 'db.test' GROUP BY ip", pi);
	cr_assert_eq(pi->n, 1);
	cr_assert_str_eq(pi->ip[0], "127.4.0.2");
	cr_assert_gt(
	    srv_influx_scalar(&s, "rp", "SELECT count(success) FROM ping WHERE ip = '127.4.0.9'"),
	    20, "the listed device was probed all along");
	cr_assert_leq(
	    srv_influx_scalar(&s, "rp",
			      "SELECT count(success) FROM ping WHERE ip = '127.4.0.9' AND "
			      "name != ''"),
	    0, "and has no name tag");
	free(pi);
	rpd_fini(&r);
	srv_dns_cleanup(&dns);
	srv_cleanup(&s);
}

/* ---- IPv6 ------------------------------------------------------------------------------ */

/* The daemon over both families: listed IPv6 devices (::1 and addresses of 2001:2::/64,
 * made local to the test's namespace) and a sweep of a small IPv6 network, beside IPv4
 * ones. Every point's ip is the RFC 5952 text; the sweep finds every host of the /120
 * but its Subnet-Router anycast address; a dropped IPv6 device is suspended and only
 * it; nothing else fails. */
Test(daemon, ipv6_devices_and_sweeps_beside_ipv4, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct per_ip *pi = calloc(1, sizeof(*pi));
	struct srv s;
	struct rpd r;
	int64_t n;

	need_root();
	enter_netns();
	cr_assert_eq(system("ip -6 route add local 2001:2::/64 dev lo && nft add table ip6 t && "
			    "nft add chain ip6 t o '{ type filter hook output priority 0; }' && "
			    "nft add rule ip6 t o ip6 daddr 2001:2::dead icmpv6 type echo-request "
			    "drop"),
		     0);
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	write_file(r.cfg,
		   "allow_loopback: true\n"
		   "devices: ['::1', '2001:2:0:0::7', 2001:2::dead, 127.5.0.1]\n"
		   "networks: [2001:2::1:0/120]\nicmp_discovery_interval: 0\n"
		   "ping_interval: 200ms\nping_timeout: 100ms\nping_max_consecutive_fails: 3\n"
		   "health_check_port: %d\nsnmp:\n  enabled: false\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		   "spool:\n  dir: %s/spool\n",
		   r.hport, s.url, r.dir);
	rpd_start(&r, NULL);
	/* 4 listed + 255 found (2001:2::1:1 .. 2001:2::1:ff) */
	cr_assert_eq(wait_health(&r, "devices", 259, 15), 259);
	cr_assert_eq(wait_health(&r, "suspended", 1, 5), 1, "2001:2::dead");
	sleep(2);
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	if (!log_has(&r, "families=ipv4,ipv6"))
		dump_log(&r);
	cr_assert(log_has(&r, "families=ipv4,ipv6"), "a socket per family");
	group_by_ip(&s, "rp",
		    "SELECT count(success) FROM ping WHERE ip !~ /^2001:2::1:/ GROUP BY ip", pi);
	cr_assert_eq(pi->n, 4, "the listed devices");
	cr_assert_str_eq(pi->ip[0], "127.5.0.1");
	cr_assert_str_eq(pi->ip[1], "2001:2::7", "RFC 5952 text, not as written");
	cr_assert_str_eq(pi->ip[2], "2001:2::dead");
	cr_assert_str_eq(pi->ip[3], "::1");
	n = srv_influx_scalar(&s, "rp",
			      "SELECT count(success) FROM ping WHERE success = false AND ip != "
			      "'2001:2::dead'");
	cr_assert_leq(n, 0, "only the dropped device failed (%lld)", (long long)n);
	n = srv_influx_scalar(&s, "rp",
			      "SELECT count(success) FROM ping WHERE success = true AND ip = "
			      "'2001:2::dead'");
	cr_assert_leq(n, 0);
	group_by_ip(&s, "rp",
		    "SELECT count(success) FROM ping WHERE ip =~ /^2001:2::1:/ GROUP BY ip", pi);
	cr_assert_eq(pi->n, 255, "every host of the /120 but 2001:2::1:0");
	n = srv_influx_scalar(&s, "rp", "SELECT last(hosts_alive) FROM sweep");
	cr_assert_eq(n, 255);
	free(pi);
	rpd_fini(&r);
	srv_cleanup(&s);
}

/* ---- rounds and states ------------------------------------------------------------ */

/* Column `name` of row r as a number; NAN when absent (a field not written). */
static double col(const struct srv_row *r, const char *name)
{
	for (int i = 0; i < r->ncols; i++)
		if (strcmp(r->col[i], name) == 0)
			return r->val[i] ? strtod(r->val[i], NULL) : NAN;
	cr_assert_fail("no column %s", name);
	return NAN;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* GET path on the daemon's health server: the body (caller frees), NULL if none. */
static char *http_get(const struct rpd *r, const char *path)
{
	char url[160], *body = NULL;
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", r->hport, path);
	if (srv_http("GET", url, NULL, 0, NULL, &body, &status) != 0 || status != 200) {
		free(body);
		return NULL;
	}
	return body;
}

/* Waits until GET path's body holds `text` (the list is published once a second). */
static bool wait_body(const struct rpd *r, const char *path, const char *text, double secs)
{
	double until = sup_now() + secs;

	while (sup_now() < until) {
		char *b = http_get(r, path);
		bool ok = b && strstr(b, text);

		free(b);
		if (ok)
			return true;
		usleep(100000);
	}
	return false;
}

/* Four echoes 20 ms apart every 500 ms to three devices: one answers all, one loses
 * every second echo (nft numgen: exactly two of each round's four), one is dropped
 * until the rule goes. The ping_round points agree with the device's own `ping`
 * points, round by round (min, median, max, mean, stddev, jitter recomputed from
 * them), the lossy one has loss 50% in every round, the dropped one goes down after
 * two silent rounds (device_state down, previous unknown, reason timeout) and comes
 * back up at its first reply (previous down, reason reply), counted in /health. */
Test(daemon, rounds_of_four_echoes_summarize_loss_and_rtt_and_states_follow, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv_row *rows = calloc(512, sizeof(*rows)), *pings = calloc(2048, sizeof(*pings));
	struct srv s;
	struct rpd r;
	char *json;
	int nr, np, checked = 0;
	int64_t n;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [127.4.0.1, 127.4.0.2, 127.4.0.3]\n"
		   "ping_interval: 500ms\nping_timeout: 200ms\nping_count: 4\n"
		   "ping_spacing: 20ms\nping_max_consecutive_fails: 1000\n"
		   "output:\n  rounds: true\nstate:\n  down_after: 2\n  up_after: 1\n"
		   "health_check_port: %d\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		   "spool:\n  dir: %s/spool\n",
		   r.hport, s.url, r.dir);
	cr_assert_eq(system("nft add table ip t && nft add chain ip t o '{ type filter hook "
			    "output priority 0; }' && nft add rule ip t o ip daddr 127.4.0.2 icmp "
			    "type echo-request numgen inc mod 2 == 0 drop && nft add rule ip t o "
			    "ip daddr 127.4.0.3 icmp type echo-request drop"),
		     0);
	rpd_start(&r, NULL);
	cr_assert_eq(wait_health(&r, "devices_down", 1, 15), 1, "the dropped device is down");
	cr_assert_eq(health(&r, "state_changes"), 0, "a first state is no flap");
	/* What is down now, with since-when. */
	cr_assert(wait_body(&r, "/api/v1/down", "\"total\":1,\"listed\":1", 5));
	{
		char *b = http_get(&r, "/api/v1/down?limit=10");

		cr_assert_not_null(b);
		cr_assert_not_null(strstr(b, "\"devices\":[{\"ip\":\"127.4.0.3\",\"since\":\""),
				   "%s", b);
		cr_assert_not_null(strstr(b, "\"reason\":\"timeout\"}]"), "%s", b);
		cr_assert_null(strstr(b, "\"next\""), "%s", b);
		free(b);
		b = http_get(&r, "/api/v1/down?offset=1&limit=10");
		cr_assert_not_null(b);
		cr_assert_not_null(strstr(b, "\"offset\":1,\"limit\":10,\"devices\":[]"), "%s", b);
		free(b);
		b = http_get(&r, "/api/v1/down?limit=0");
		cr_assert_not_null(b);
		cr_assert_not_null(strstr(b, "{\"total\":1,\"listed\":1,\"offset\":0,\"limit\":0,"
					     "\"devices\":[]}"),
				   "%s", b);
		free(b);
	}
	cr_assert_eq(system("nft delete rule ip t o handle $(nft -a list chain ip t o | grep "
			    "127.4.0.3 | sed 's/.*handle //')"),
		     0);
	cr_assert_eq(wait_health(&r, "devices_down", 0, 10), 0, "the device is back up");
	cr_assert_eq(health(&r, "state_changes"), 1);
	cr_assert(wait_body(&r, "/api/v1/down", "\"total\":0,\"listed\":0", 5));
	/* A few rounds more of everything answering, then stop. */
	n = wait_scalar(&s,
			"SELECT count(sent) FROM ping_round WHERE ip = '127.4.0.1' AND "
			"received = 4",
			8, 30);
	cr_assert_geq(n, 8, "rounds of the answering device");
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);

	/* Every round of the lossy device lost exactly two of its four echoes. */
	cr_assert_gt(srv_influx_scalar(&s, "rp",
				       "SELECT count(sent) FROM ping_round WHERE ip = '127.4.0.2'"),
		     4);
	cr_assert_leq(srv_influx_scalar(&s, "rp",
					"SELECT count(sent) FROM ping_round WHERE ip = '127.4.0.2' "
					"AND (loss_pct != 50 OR received != 2 OR sent != 4)"),
		      0, "rounds of 127.4.0.2 without exactly 50%% loss");
	/* Every round with a reply carries the reply's TTL (loopback: the kernel's 64). */
	n = srv_influx_scalar(&s, "rp", "SELECT count(sent) FROM ping_round WHERE received > 0");
	cr_assert_gt(n, 4);
	cr_assert_eq(srv_influx_scalar(&s, "rp",
				       "SELECT count(ttl) FROM ping_round WHERE ttl = 64 AND "
				       "received > 0"),
		     n, "every round with a reply has ttl 64");
	/* The dropped device's silent rounds: no RTT fields, loss 100. */
	cr_assert_geq(srv_influx_scalar(&s, "rp",
					"SELECT count(loss_pct) FROM ping_round WHERE ip = "
					"'127.4.0.3' AND loss_pct = 100 AND received = 0"),
		      2);
	cr_assert_leq(srv_influx_scalar(&s, "rp",
					"SELECT count(rtt_min_ms) FROM ping_round WHERE ip = "
					"'127.4.0.3' AND received = 0"),
		      0);
	/* Its two changes, and one first state (up) for each of the others. */
	cr_assert_eq(
	    srv_influx_scalar(&s, "rp",
			      "SELECT count(duration_s) FROM device_state WHERE ip = "
			      "'127.4.0.3' AND state = 'down' AND previous = 'unknown' AND "
			      "reason = 'timeout'"),
	    1);
	cr_assert_eq(srv_influx_scalar(&s, "rp",
				       "SELECT count(duration_s) FROM device_state WHERE ip = "
				       "'127.4.0.3' AND state = 'up' AND previous = 'down' AND "
				       "reason = 'reply' AND duration_s > 0"),
		     1);
	cr_assert_eq(srv_influx_scalar(&s, "rp", "SELECT count(duration_s) FROM device_state"), 4);
	cr_assert_eq(srv_influx_scalar(&s, "rp",
				       "SELECT count(duration_s) FROM device_state WHERE state = "
				       "'up' AND previous = 'unknown'"),
		     2);
	/* Every echo has its `ping` point as before: four per round (the round the stop
	 * cut short has its echoes' points and no summary). */
	n = srv_influx_scalar(&s, "rp", "SELECT count(rtt_ms) FROM ping WHERE ip = '127.4.0.1'");
	{
		int64_t rounds = srv_influx_scalar(
		    &s, "rp", "SELECT count(sent) FROM ping_round WHERE ip = '127.4.0.1'");

		cr_assert(n >= 4 * rounds && n <= 4 * rounds + 4, "%lld pings, %lld rounds",
			  (long long)n, (long long)rounds);
	}
	/* Round by round, the statistics are those of its four `ping` points. */
	json = srv_influx_query(&s, "rp",
				"SELECT * FROM ping_round WHERE ip = '127.4.0.1' AND received = 4");
	nr = srv_influx_rows(json, rows, 512);
	free(json);
	json = srv_influx_query(&s, "rp", "SELECT rtt_ms FROM ping WHERE ip = '127.4.0.1'");
	np = srv_influx_rows(json, pings, 2048);
	free(json);
	cr_assert_geq(nr, 8);
	for (int i = 0; i < nr; i++) {
		double t0 = col(&rows[i], "time"), v[4], sorted[4], sum = 0, sq = 0, jit = 0;
		int k = 0;

		for (int j = 0; j < np && k < 4; j++) {
			double t = col(&pings[j], "time");

			if (t >= t0 && t < t0 + 200e6)
				v[k++] = col(&pings[j], "rtt_ms");
		}
		cr_assert_eq(k, 4, "round at %.0f has %d pings", t0, k);
		memcpy(sorted, v, sizeof(v));
		qsort(sorted, 4, sizeof(double), cmp_double);
		for (int j = 0; j < 4; j++) {
			sum += v[j];
			jit += j ? fabs(v[j] - v[j - 1]) : 0;
		}
		for (int j = 0; j < 4; j++)
			sq += (v[j] - sum / 4) * (v[j] - sum / 4);
		cr_assert_eq(col(&rows[i], "sent"), 4);
		cr_assert_eq(col(&rows[i], "loss_pct"), 0);
		for (int c = 0; c < rows[i].ncols; c++)
			if (strcmp(rows[i].col[c], "suspended") == 0)
				cr_assert_str_eq(rows[i].val[c], "false");
		cr_assert_float_eq(col(&rows[i], "rtt_min_ms"), sorted[0], 1e-6);
		cr_assert_float_eq(col(&rows[i], "rtt_max_ms"), sorted[3], 1e-6);
		cr_assert_float_eq(col(&rows[i], "rtt_median_ms"), (sorted[1] + sorted[2]) / 2,
				   2e-6);
		cr_assert_float_eq(col(&rows[i], "rtt_avg_ms"), sum / 4, 2e-6);
		cr_assert_float_eq(col(&rows[i], "rtt_stddev_ms"), sqrt(sq / 4), 2e-6);
		cr_assert_float_eq(col(&rows[i], "jitter_ms"), jit / 3, 2e-6);
		checked++;
	}
	cr_assert_geq(checked, 8);
	srv_rows_free(rows, nr);
	srv_rows_free(pings, np);
	free(rows);
	free(pings);
	rpd_fini(&r);
	srv_cleanup(&s);
}

/* output.probes: false with rounds on: a ping_round point per device and round, no
 * `ping` points; the devices still count as seen and no state goes down. */
Test(daemon, rounds_without_probe_points, .timeout = 90)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rpd r;
	int64_t n;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [127.4.1.1, 127.4.1.2]\n"
		   "ping_interval: 300ms\nping_count: 3\n"
		   "output:\n  rounds: true\n  probes: false\n"
		   "health_check_port: %d\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		   "spool:\n  dir: %s/spool\n",
		   r.hport, s.url, r.dir);
	rpd_start(&r, NULL);
	n = wait_scalar(&s, "SELECT count(sent) FROM ping_round WHERE received = 3 AND sent = 3", 6,
			30);
	cr_assert_geq(n, 6, "rounds written");
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	/* Every echo was sent (the stop's health point counts them), none written. */
	n = srv_influx_scalar(&s, "rp", "SELECT count(sent) FROM ping_round");
	cr_assert_geq(last_health(&s, "probes_sent", 0), 3 * n);
	cr_assert_eq(last_health(&s, "devices_down", 0), 0);
	cr_assert_leq(srv_influx_scalar(&s, "rp", "SELECT count(success) FROM ping"), 0,
		      "ping points with output.probes false");
	cr_assert_eq(srv_influx_scalar(&s, "rp",
				       "SELECT count(duration_s) FROM device_state WHERE state = "
				       "'up'"),
		     2);
	rpd_fini(&r);
	srv_cleanup(&s);
}

/* Writes `text` to dir/name as configuration tools do: a temporary file renamed into
 * place (one IN_MOVED_TO for the watcher). */
static void replace_file(const char *dir, const char *name, const char *text)
{
	char tmp[256], path[256];

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(tmp, "%s", text);
	cr_assert_eq(rename(tmp, path), 0, "%s: %s", path, strerror(errno));
}

Test(daemon, device_files_are_watched_and_a_broken_one_keeps_the_last, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct per_ip *pi = calloc(1, sizeof(*pi));
	struct srv s;
	struct rpd r;
	char sd[160], q[256];
	uint64_t t;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	snprintf(sd, sizeof(sd), "%s/sd", r.dir);
	cr_assert_eq(mkdir(sd, 0755), 0);
	replace_file(sd, "a.json",
		     "[{\"targets\": [\"127.4.3.1\", \"127.4.3.2:9100\"], "
		     "\"labels\": {\"site\": \"lo1\"}}]\n");
	replace_file(sd, "b.yml", "- targets: [127.4.3.3]\n");
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [127.4.3.9]\ndevice_files: ['%s/*.json', "
		   "'%s/*.yml']\nping_interval: 250ms\nping_timeout: 200ms\n"
		   "health_check_port: %d\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		   "spool:\n  dir: %s/spool\n",
		   sd, sd, r.hport, s.url, r.dir);
	rpd_start(&r, NULL);
	cr_assert_eq(wait_health(&r, "devices", 4, 15), 4, "one listed + three from files");
	/* The first file's label is a tag of its two devices' points. */
	cr_assert_geq(wait_scalar(&s,
				  "SELECT count(success) FROM ping WHERE site = 'lo1' AND "
				  "(ip = '127.4.3.1' OR ip = '127.4.3.2')",
				  4, 15),
		      4);
	/* A file replaced: 127.4.3.2 goes, 127.4.3.4 comes, by the watcher alone. */
	replace_file(sd, "a.json", "[{\"targets\": [\"127.4.3.1\", \"127.4.3.4\"]}]\n");
	cr_assert_eq(wait_health(&r, "config_reloads", 1, 10), 1, "the change reloaded");
	cr_assert_eq(wait_health(&r, "devices", 4, 5), 4);
	sleep(1);
	t = real_ns();
	sleep(2);
	/* A broken file: refused, named with its line, the running set kept. */
	replace_file(sd, "a.json", "[{\"targets\": [\"127.4.3.1\",\n  \"127.4.3.300\"]}]\n");
	cr_assert_eq(wait_health(&r, "config_reload_errors", 1, 10), 1);
	/* A file the patterns do not match changes nothing. */
	replace_file(sd, "notes.txt", "127.4.3.7\n");
	sleep(1);
	cr_assert_eq(health(&r, "config_reloads"), 1);
	cr_assert_eq(health(&r, "config_reload_errors"), 1);
	cr_assert_eq(health(&r, "devices"), 4);
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	cr_assert(log_has(&r, "device_files: a file changed"), "the change is logged");
	cr_assert(log_has(&r, "a.json:2:"), "the broken file's line is logged");
	cr_assert(log_has(&r, "reload rejected"));
	snprintf(q, sizeof(q),
		 "SELECT count(success) FROM ping WHERE time > %llu AND time <= %llu GROUP BY ip",
		 (unsigned long long)t, (unsigned long long)(t + 2000000000ull));
	group_by_ip(&s, "rp", q, pi);
	cr_assert_eq(pi->n, 4, "devices probed after the change");
	/* Only theirs: the other file's device has no such tag. */
	cr_assert_leq(srv_influx_scalar(&s, "rp",
					"SELECT count(success) FROM ping WHERE site = 'lo1' AND "
					"ip = '127.4.3.3'"),
		      0);
	for (int i = 0; i < pi->n; i++) {
		cr_assert(strcmp(pi->ip[i], "127.4.3.2") != 0, "127.4.3.2 left with its file");
		cr_assert(pi->count[i] >= 6 && pi->count[i] <= 10, "%s: %ld probes in 2 s",
			  pi->ip[i], pi->count[i]);
	}
	free(pi);
	rpd_fini(&r);
	srv_cleanup(&s);
}

/* prometheus.per_device: /probe-metrics lists each monitored device, one given by name
 * under that name (host) and the address it resolved to (ip), a listed address under
 * itself, with prometheus.buckets' bounds; /metrics stays ringprobe's own (no
 * on_metrics). The daemon under test is the ASan build in that build. */
Test(daemon, per_device_series_carry_the_name, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv_dns dns = {0};
	struct srv_dns_opts dopt = {.ttl_s = 60, .hosts = "127.4.2.1 web.test\n"};
	struct srv s;
	struct rpd r;
	char *b;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	cr_assert_eq(srv_dns_start(&dns, &dopt), 0, "%s", dns.why);
	rpd_init(&r);
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [web.test, 127.4.2.9]\n"
		   "ping_interval: 200ms\nping_timeout: 100ms\nhealth_check_port: %d\n"
		   "dns:\n  servers: %s\n"
		   "prometheus:\n  per_device: true\n  buckets: \"0.001, 0.01\"\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		   "spool:\n  dir: %s/spool\n",
		   r.hport, dns.server, s.url, r.dir);
	rpd_start(&r, NULL);
	cr_assert(wait_body(&r, "/probe-metrics",
			    "smokeping_response_duration_seconds_count{host=\"web.test\","
			    "ip=\"127.4.2.1\"} 5",
			    15),
		  "web.test's fifth reply, under its name");
	b = http_get(&r, "/probe-metrics");
	cr_assert_not_null(b);
	cr_assert(strstr(b, "smokeping_requests_total{host=\"127.4.2.9\",ip=\"127.4.2.9\"} "), "%s",
		  b);
	cr_assert(strstr(b, "# TYPE smokeping_response_duration_seconds histogram\n"));
	cr_assert(strstr(b, "{host=\"web.test\",ip=\"127.4.2.1\",le=\"0.01\"} "), "%s", b);
	cr_assert(strstr(b, "{host=\"web.test\",ip=\"127.4.2.1\",le=\"+Inf\"} "), "%s", b);
	cr_assert_null(strstr(b, "le=\"5e-05\""), "the default buckets replaced");
	cr_assert(strstr(b, "smokeping_response_ttl{host=\"web.test\",ip=\"127.4.2.1\"} 64\n"));
	free(b);
	b = http_get(&r, "/metrics");
	cr_assert_not_null(b);
	cr_assert_null(strstr(b, "smokeping_"), "/metrics without on_metrics is ringprobe's own");
	free(b);
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	rpd_fini(&r);
	srv_dns_cleanup(&dns);
	srv_cleanup(&s);
}

/* ICMP errors (issue 15): a device whose echoes the local stack rejects with host
 * unreachable (nftables on output) fails at once with error="unreachable:host" on
 * its ping points, goes down with reason unreachable and the error's type and code
 * (device_state, /api/v1/down), and counts in icmp_errors; the answering device's
 * points have no error field (netscan's point unchanged). */
Test(daemon, icmp_errors_write_error_field_and_reason_unreachable, .timeout = 90)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rpd r;
	int64_t n;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [127.4.0.1, 127.4.0.5]\n"
		   "ping_interval: 300ms\nping_timeout: 250ms\nping_max_consecutive_fails: 1000\n"
		   "state:\n  down_after: 2\n"
		   "health_check_port: %d\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		   "spool:\n  dir: %s/spool\n",
		   r.hport, s.url, r.dir);
	cr_assert_eq(system("nft add table ip t && nft add chain ip t o '{ type filter hook "
			    "output priority 0; }' && nft add rule ip t o ip daddr 127.4.0.5 icmp "
			    "type echo-request reject with icmp type host-unreachable"),
		     0);
	rpd_start(&r, NULL);
	cr_assert_eq(wait_health(&r, "devices_down", 1, 15), 1, "the rejected device is down");
	cr_assert(wait_body(&r, "/api/v1/down", "\"reason\":\"unreachable\"", 5));
	n = wait_scalar(&s,
			"SELECT count(success) FROM ping WHERE ip = '127.4.0.5' AND error = "
			"'unreachable:host'",
			4, 30);
	cr_assert_geq(n, 4, "ping points with the error");
	/* /health is the snapshot of the last second: wait for it to count them too. */
	cr_assert_geq(wait_health_min(&r, "icmp_errors", 4, 10), 4);
	cr_assert_eq(health(&r, "timeouts"), 0, "errors are not timeouts");
	/* The answering device is probed as often; wait for its points rather than assume
	 * they are in by now (CI got here 1.4 s in, with 4 of them). */
	cr_assert_geq(
	    wait_scalar(&s, "SELECT count(rtt_ms) FROM ping WHERE ip = '127.4.0.1'", 5, 30), 5);
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	cr_assert_eq(srv_influx_scalar(&s, "rp",
				       "SELECT count(success) FROM ping WHERE ip = '127.4.0.5' AND "
				       "success = true"),
		     0);
	cr_assert_gt(
	    srv_influx_scalar(&s, "rp", "SELECT count(rtt_ms) FROM ping WHERE ip = '127.4.0.1'"),
	    4);
	cr_assert_eq(
	    srv_influx_scalar(&s, "rp", "SELECT count(error) FROM ping WHERE ip = '127.4.0.1'"), 0,
	    "the answering device's points carry no error field");
	cr_assert_eq(
	    srv_influx_scalar(&s, "rp",
			      "SELECT count(duration_s) FROM device_state WHERE ip = "
			      "'127.4.0.5' AND state = 'down' AND reason = 'unreachable' AND "
			      "error = 'unreachable:host' AND icmp_type = 3 AND icmp_code = 1"),
	    1);
	cr_assert_eq(srv_influx_scalar(&s, "rp",
				       "SELECT count(duration_s) FROM device_state WHERE ip = "
				       "'127.4.0.1' AND state = 'up' AND reason = 'reply'"),
		     1);
	rpd_fini(&r);
	srv_cleanup(&s);
}

/* Groups and tags end to end: every point of a device (ping, device_state) carries the
 * top level's, its group's and its own static tags, escaped; a group's ping_interval
 * is its own; a SIGHUP changing a group's tags re-tags that group's devices and needs
 * no restart. */
Test(daemon, groups_tag_every_point_and_a_reload_retags_them, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rpd r;
	struct per_ip *pi = calloc(1, sizeof(*pi));
	char text[1024], q[384];
	uint64_t t0, t1;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	snprintf(text, sizeof(text),
		 "allow_loopback: true\n"
		 "icmp_discovery_interval: 1h\nhealth_check_port: %d\n"
		 "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		 "spool:\n  dir: %s/spool\n"
		 "ping_interval: 1s\nping_timeout: 200ms\n"
		 "tags: {site: ams1}\n"
		 "devices: [127.5.0.1, {address: 127.5.0.2, tags: {rack: \"r 1,=x\"}}]\n"
		 "groups:\n"
		 "  - name: fast\n"
		 "    ping_interval: 250ms\n"
		 "    devices: [127.5.1.1]\n"
		 "    networks: [127.5.2.0/30]\n",
		 r.hport, s.url, r.dir);
	write_file(r.cfg, "%s    tags: {role: core}\n", text);
	rpd_start(&r, NULL);
	cr_assert_eq(wait_health(&r, "devices", 5, 15), 5, "2 + 1 static, 2 found");
	t0 = real_ns();
	sleep(3);
	t1 = real_ns();
	/* Every device's pings carry its tags; the fast group's come 4 times as often. */
	snprintf(q, sizeof(q),
		 "SELECT count(success) FROM ping WHERE site = 'ams1' AND role = 'core' AND "
		 "time > %llu AND time <= %llu GROUP BY ip",
		 (unsigned long long)t0, (unsigned long long)(t0 + 2000000000ull));
	group_by_ip(&s, "rp", q, pi);
	cr_assert_eq(pi->n, 3, "127.5.1.1 and the two found in 127.5.2.0/30");
	for (int i = 0; i < pi->n; i++) {
		cr_assert(strcmp(pi->ip[i], "127.5.1.1") == 0 ||
			      strncmp(pi->ip[i], "127.5.2.", 8) == 0,
			  "%s", pi->ip[i]);
		cr_assert(pi->count[i] >= 7 && pi->count[i] <= 9, "%s: %ld probes in 2 s at 250ms",
			  pi->ip[i], pi->count[i]);
	}
	snprintf(q, sizeof(q),
		 "SELECT count(success) FROM ping WHERE site = 'ams1' AND role = '' AND "
		 "time > %llu AND time <= %llu GROUP BY ip",
		 (unsigned long long)t0, (unsigned long long)(t0 + 2000000000ull));
	group_by_ip(&s, "rp", q, pi);
	cr_assert_eq(pi->n, 2, "the top level's devices");
	for (int i = 0; i < pi->n; i++)
		cr_assert(pi->count[i] >= 1 && pi->count[i] <= 3, "%s: %ld probes in 2 s at 1s",
			  pi->ip[i], pi->count[i]);
	cr_assert_eq(srv_influx_scalar(&s, "rp",
				       "SELECT count(success) FROM ping WHERE rack = 'r 1,=x' AND "
				       "ip != '127.5.0.2'"),
		     0);
	cr_assert_gt(srv_influx_scalar(&s, "rp",
				       "SELECT count(success) FROM ping WHERE rack = 'r 1,=x' AND "
				       "ip = '127.5.0.2' AND site = 'ams1'"),
		     0, "a device's own tags, escaped, with the top level's");
	cr_assert_eq(wait_scalar(&s,
				 "SELECT count(state) FROM device_state WHERE role = 'core' AND "
				 "site = 'ams1'",
				 3, 10),
		     3, "device_state points carry the tags too");
	/* A reload re-tags the group; the top level's devices go on as they were. */
	write_file(r.cfg, "%s    tags: {role: edge}\n", text);
	kill(r.pid, SIGHUP);
	cr_assert_eq(wait_health(&r, "config_reloads", 1, 5), 1);
	snprintf(q, sizeof(q),
		 "SELECT count(success) FROM ping WHERE role = 'edge' AND time > %llu GROUP BY ip",
		 (unsigned long long)t1);
	cr_assert_geq(wait_scalar(&s,
				  "SELECT count(success) FROM ping WHERE role = 'edge' AND ip = "
				  "'127.5.1.1'",
				  4, 10),
		      4);
	group_by_ip(&s, "rp", q, pi);
	cr_assert_eq(pi->n, 3, "the whole group re-tagged");
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	if (log_has(&r, "take effect only at restart"))
		dump_log(&r);
	cr_assert_not(log_has(&r, "take effect only at restart"), "groups and tags apply live");
	free(pi);
	rpd_fini(&r);
	srv_cleanup(&s);
}

/* The value of the sample line `series ` (name and labels) in an exposition page; -1
 * when it is not there. */
static double page_value(const char *page, const char *series)
{
	char want[256];
	const char *p;

	snprintf(want, sizeof(want), "\n%s ", series);
	p = strstr(page, want);
	return p ? strtod(p + strlen(want), NULL) : -1;
}

/* The probe threads send once a tick: with a bucket of 10 (ping_burst_limit) and a
 * 10 ms tick they would be held to 1,000 probes/s whatever ping_rate_limit says. 2,046
 * devices at 100 ms need 20,460/s: the daemon must keep up, with few sends late. */
Test(daemon, a_small_ping_burst_limit_still_reaches_the_rate, .timeout = 60)
{
	double sent0, late0, sent1, late1, t0, t1;
	struct rpd r;

	need_root();
	enter_netns();
	rpd_init(&r);
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [127.7.0.0/21]\nping_interval: 100ms\n"
		   "ping_timeout: 80ms\nping_rate_limit: 24000\nping_burst_limit: 10\n"
		   "probe_tick: 10ms\nhealth_check_port: %d\nprometheus:\n  per_device: true\n",
		   r.hport);
	rpd_start(&r, NULL);
	cr_assert_eq(wait_health(&r, "devices", 2046, 15), 2046);
	sleep(2); /* the phases fill in */
	sent0 = health(&r, "probes_sent");
	late0 = health(&r, "late_sends");
	t0 = sup_now();
	sleep(4);
	sent1 = health(&r, "probes_sent");
	late1 = health(&r, "late_sends");
	t1 = sup_now();
	cr_assert_geq((sent1 - sent0) / (t1 - t0), 15000, "%.0f probes/s sent, 20,460 due",
		      (sent1 - sent0) / (t1 - t0));
	cr_assert_leq(late1 - late0, 0.05 * (sent1 - sent0), "%.0f of %.0f sends late",
		      late1 - late0, sent1 - sent0);
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	rpd_fini(&r);
}

/* prometheus.per_device alone (issue 12): no influxdb.url or prometheus_remote_write.url.
 * check-config says nothing is written; the daemon starts with no writer, ring or spool
 * (the spool directory is never made), /health says sink false and stays ok, and
 * /probe-metrics counts every probe: the devices' requests add up to the daemon's own
 * probes_sent between a /health before the scrape and one after it, each loopback
 * device answered all but at most the one in flight, in its +Inf bucket, with no
 * duplicate, send or receive error. */
Test(daemon, per_device_alone_runs_without_a_sink, .timeout = 90)
{
	static const char *const devs[] = {"127.4.3.1", "127.4.3.2", "127.4.3.3"};
	char cmd[512], spool[128], series[160], *out = NULL, *err = NULL, *b;
	double before, after, sum = 0;
	struct rpd r;
	int rc;

	need_root();
	enter_netns();
	rpd_init(&r);
	snprintf(spool, sizeof(spool), "%s/spool", r.dir);
	write_file(r.cfg,
		   "allow_loopback: true\ndevices: [127.4.3.1, 127.4.3.2, 127.4.3.3]\n"
		   "ping_interval: 100ms\nping_timeout: 80ms\nhealth_check_port: %d\n"
		   "prometheus:\n  per_device: true\n  buckets: \"0.001, 0.01\"\n"
		   "spool:\n  dir: %s\n",
		   r.hport, spool);
	snprintf(cmd, sizeof(cmd), "%s check-config --config %s", BIN, r.cfg);
	rc = sup_run(cmd, 0, &out, &err);
	cr_assert_eq(rc, 0, "check-config exited %d: %s%s", rc, out, err);
	cr_assert(strstr(err, "influxdb.url: and prometheus_remote_write.url are unset: no sink, "
			      "nothing is written"),
		  "%s", err);
	free(out);
	free(err);

	rpd_start(&r, NULL);
	cr_assert(wait_body(&r, "/probe-metrics",
			    "smokeping_response_duration_seconds_count{host=\"127.4.3.3\","
			    "ip=\"127.4.3.3\"} 2",
			    15),
		  "the third device's replies counted");
	for (double until = sup_now() + 15;
	     (before = health(&r, "probes_sent")) < 60 && sup_now() < until;)
		usleep(50000);
	cr_assert_geq(before, 60, "probes_sent %.0f", before);
	b = http_get(&r, "/probe-metrics");
	cr_assert_not_null(b);
	sup_sleep_ms(1300); /* the next /health snapshot is taken after the scrape */
	after = health(&r, "probes_sent");
	for (size_t i = 0; i < 3; i++) {
		double req, count, inf;

		snprintf(series, sizeof(series), "smokeping_requests_total{host=\"%s\",ip=\"%s\"}",
			 devs[i], devs[i]);
		req = page_value(b, series);
		sum += req;
		snprintf(series, sizeof(series),
			 "smokeping_response_duration_seconds_count{host=\"%s\",ip=\"%s\"}",
			 devs[i], devs[i]);
		count = page_value(b, series);
		snprintf(series, sizeof(series),
			 "smokeping_response_duration_seconds_bucket{host=\"%s\",ip=\"%s\","
			 "le=\"+Inf\"}",
			 devs[i], devs[i]);
		inf = page_value(b, series);
		cr_assert_geq(req, 15, "%s: %.0f requests\n%s", devs[i], req, b);
		cr_assert(count == req || count == req - 1, "%s: %.0f replies to %.0f requests",
			  devs[i], count, req);
		cr_assert_eq(inf, count, "%s", devs[i]);
		snprintf(series, sizeof(series),
			 "smokeping_response_duplicates_total{host=\"%s\",ip=\"%s\"}", devs[i],
			 devs[i]);
		cr_assert_eq(page_value(b, series), 0, "%s", devs[i]);
		snprintf(series, sizeof(series),
			 "smokeping_send_errors_total{host=\"%s\",ip=\"%s\"}", devs[i], devs[i]);
		cr_assert_eq(page_value(b, series), 0, "%s", devs[i]);
		snprintf(series, sizeof(series), "smokeping_response_ttl{host=\"%s\",ip=\"%s\"}",
			 devs[i], devs[i]);
		cr_assert_eq(page_value(b, series), 64, "%s", devs[i]);
	}
	cr_assert_eq(page_value(b, "smokeping_receive_errors_total"), 0);
	cr_assert(before <= sum && sum <= after, "probes_sent %.0f .. %.0f, requests %.0f", before,
		  after, sum);
	free(b);
	b = http_get(&r, "/health");
	cr_assert_not_null(b);
	cr_assert(strstr(b, "\"status\":\"ok\""), "no sink is not degraded: %s", b);
	cr_assert(strstr(b, "\"sink\":false"), "%s", b);
	cr_assert(strstr(b, "\"points_written\":0,"), "%s", b);
	free(b);
	b = http_get(&r, "/metrics");
	cr_assert_not_null(b);
	cr_assert(strstr(b, "\nringprobe_sink 0\n"), "%s", b);
	free(b);
	cr_assert_neq(access(spool, F_OK), 0, "no spool without a sink");
	cr_assert(log_has(&r, "no sink: nothing is written"));
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	rpd_fini(&r);
}

/* ---- groups with their own settings: device_files and snmp -------------------------- */

/* A group's own device_files: its targets join the group (its tags and the file's labels
 * on every point), the watcher reloads on a change, a broken file is refused with its
 * path and line and the running set kept. A group's own snmp block: its device is asked
 * with the group's port (the top level's points at a port nobody listens on), a group
 * with snmp off is never asked, and a SIGHUP that changes the block applies it without a
 * restart. */
Test(daemon, a_groups_device_files_and_snmp_block_apply_to_its_devices, .timeout = 150)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct snmpd_values v = {.descr = "group agent", .name = "grp-agent"};
	struct snmpd_agent a = {0};
	struct srv s;
	struct rpd r;
	char sd[160], text[2048], why[1024] = "";
	int dead;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	cr_assert(snmpd_start(&a, &v, why, sizeof(why)), "%s", why);
	dead = sup_free_udp_port();
	cr_assert_gt(dead, 0);
	rpd_init(&r);
	snprintf(sd, sizeof(sd), "%s/sd", r.dir);
	cr_assert_eq(mkdir(sd, 0755), 0);
	replace_file(sd, "lab.json",
		     "[{\"targets\": [\"127.6.0.1\", \"127.6.0.2:9100\"], "
		     "\"labels\": {\"rack\": \"r7\"}}]\n");
	/* %s: the snmp group's port (dead first, then the agent's) */
#define GROUPS_CFG                                                                                 \
	"allow_loopback: true\nping_interval: 250ms\nping_timeout: 200ms\n"                        \
	"health_check_port: %d\n"                                                                  \
	"influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"                          \
	"spool:\n  dir: %s/spool\n"                                                                \
	"snmp: {port: %d, timeout: 300ms, retries: 0}\n"                                           \
	"snmp_interval: 1h\n"                                                                      \
	"devices: [127.6.9.9]\n"                                                                   \
	"groups:\n"                                                                                \
	"  - name: lab\n"                                                                          \
	"    tags: {role: lab}\n"                                                                  \
	"    device_files: ['%s/*.json']\n"                                                        \
	"    snmp: {enabled: false}\n"                                                             \
	"  - name: agents\n"                                                                       \
	"    tags: {role: agent}\n"                                                                \
	"    devices: [127.0.0.1]\n"                                                               \
	"    snmp: {port: %d, timeout: 2s, community: " SNMPD_COMMUNITY "}\n"
	snprintf(text, sizeof(text), GROUPS_CFG, r.hport, s.url, r.dir, dead, sd, dead);
	write_file(r.cfg, "%s", text);
	rpd_start(&r, NULL);
	cr_assert_eq(wait_health(&r, "devices", 4, 15), 4, "one listed, two from the file, one");
	/* The file's targets carry the group's tag and the file's label. */
	cr_assert_geq(wait_scalar(&s,
				  "SELECT count(success) FROM ping WHERE role = 'lab' AND rack = "
				  "'r7' AND (ip = '127.6.0.1' OR ip = '127.6.0.2')",
				  4, 15),
		      4);
	/* The agents' group asks the dead port: no answer yet. */
	cr_assert_geq(wait_health_min(&r, "snmp_timeouts", 2, 15), 2,
		      "the top level's device and the group's");
	cr_assert_eq(srv_influx_scalar(&s, "rp", "SELECT count(hostname) FROM device_info"), 0);
	/* A SIGHUP with the group's port now the agent's: asked again at once (not at the
	 * next snmp_interval), with the group's tags on its device_info. */
	snprintf(text, sizeof(text), GROUPS_CFG, r.hport, s.url, r.dir, dead, sd, (int)a.port);
	write_file(r.cfg, "%s", text);
	kill(r.pid, SIGHUP);
	cr_assert_eq(wait_health(&r, "config_reloads", 1, 10), 1);
	cr_assert_geq(wait_scalar(&s,
				  "SELECT count(hostname) FROM device_info WHERE ip = '127.0.0.1' "
				  "AND role = 'agent' AND hostname = 'grp-agent'",
				  1, 15),
		      1);
	/* A file changed: its new target joins the group, by the watcher alone. */
	replace_file(sd, "lab.json",
		     "[{\"targets\": [\"127.6.0.1\", \"127.6.0.2\", \"127.6.0.3\"], "
		     "\"labels\": {\"rack\": \"r7\"}}]\n");
	cr_assert_eq(wait_health(&r, "config_reloads", 2, 10), 2, "the change reloaded");
	cr_assert_eq(wait_health(&r, "devices", 5, 5), 5);
	cr_assert_geq(wait_scalar(&s,
				  "SELECT count(success) FROM ping WHERE role = 'lab' AND rack = "
				  "'r7' AND ip = '127.6.0.3'",
				  2, 10),
		      2);
	/* A broken file: refused with its line; the running set stays. */
	replace_file(sd, "lab.json", "[{\"targets\": [\"127.6.0.1\",\n  \"127.6.0.300\"]}]\n");
	cr_assert_eq(wait_health(&r, "config_reload_errors", 1, 10), 1);
	cr_assert_eq(health(&r, "devices"), 5);
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	cr_assert(log_has(&r, "lab.json:2:"), "the broken file's line is logged");
	if (log_has(&r, "take effect only at restart"))
		dump_log(&r);
	cr_assert_not(log_has(&r, "take effect only at restart"), "groups apply live");
	/* The lab group's SNMP is off: none of its devices was asked. */
	cr_assert_eq(srv_influx_scalar(
			 &s, "rp", "SELECT count(hostname) FROM device_info WHERE role = 'lab'"),
		     0);
	snmpd_stop(&a);
	rpd_fini(&r);
	srv_cleanup(&s);
#undef GROUPS_CFG
}

/* The fleet page's loss map and RTT distribution from a real run: twelve loopback
 * devices in three /24s every 200 ms, one /24 answering, one with half its devices
 * dropped by nftables, one with all of them dropped. /api/v1/loss lists the three
 * networks worst first with the loss they really have; the page's table (no script)
 * shows the same rows; /api/v1/rtt has the answering devices' replies. */
Test(daemon, loss_map_shows_the_network_with_loss, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rpd r;
	char *b;
	double until;
	bool seen = false;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	write_file(r.cfg,
		   "allow_loopback: true\n"
		   "devices: [127.7.1.1, 127.7.1.2, 127.7.1.3, 127.7.1.4, 127.7.2.1, 127.7.2.2,\n"
		   "  127.7.2.3, 127.7.2.4, 127.7.3.1, 127.7.3.2, 127.7.3.3, 127.7.3.4]\n"
		   "ping_interval: 200ms\nping_timeout: 100ms\nping_max_consecutive_fails: 1000\n"
		   "health_check_port: %d\n"
		   "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		   "spool:\n  dir: %s/spool\n",
		   r.hport, s.url, r.dir);
	cr_assert_eq(
	    system("nft add table ip t && nft add chain ip t o '{ type filter hook "
		   "output priority 0; }' && nft add rule ip t o ip daddr { 127.7.2.3, "
		   "127.7.2.4 } icmp type echo-request drop && nft add rule ip t o ip daddr "
		   "127.7.3.0/24 icmp type echo-request drop"),
	    0);
	rpd_start(&r, NULL);
	/* Wait until every network has had a few rounds of results. */
	until = sup_now() + 20;
	while (!seen && sup_now() < until) {
		b = http_get(&r, "/api/v1/loss?limit=10");
		seen = b && strstr(b, "\"networks\":3,\"lossy\":2,") &&
		       sup_json_number(strstr(b, "\"rows\":["), "sent") >= 40;
		if (!seen)
			usleep(200000);
		free(b);
	}
	cr_assert(seen, "three networks, two with loss, counted on /api/v1/loss");
	b = http_get(&r, "/api/v1/loss?limit=10");
	cr_assert_not_null(b);
	{
		/* Worst first: all lost, then half, then none. */
		const char *a = strstr(b, "{\"net\":\"127.7.3.0/24\",");
		const char *h = strstr(b, "{\"net\":\"127.7.2.0/24\",");
		const char *z = strstr(b, "{\"net\":\"127.7.1.0/24\",");
		double half;

		cr_assert(a && h && z && a < h && h < z, "%s", b);
		cr_assert(strstr(a, "\"received\":0,\"loss_pct\":100.00}"), "%s", b);
		cr_assert(strstr(z, "\"loss_pct\":0.00}"), "%s", b);
		half = sup_json_number(h, "loss_pct");
		/* Half the devices dropped; results of the two halves may lag a round. */
		cr_assert(half > 40 && half < 60, "127.7.2.0/24 lost %.2f%%: %s", half, b);
		cr_assert_null(strstr(b, "\"next\""), "one page");
	}
	free(b);
	b = http_get(&r, "/api/v1/loss?sort=net&limit=1");
	cr_assert_not_null(b);
	cr_assert(strstr(b, "\"rows\":[{\"net\":\"127.7.1.0/24\""), "%s", b);
	cr_assert(strstr(b, "\"next\":\"/api/v1/loss?sort=net&offset=1&limit=1\""), "%s", b);
	free(b);
	b = http_get(&r, "/");
	cr_assert_not_null(b);
	cr_assert(strstr(b, "<tr class=\"l5\"><td>127.7.3.0/24</td>"), "%s", b);
	cr_assert(strstr(b, "<td>127.7.2.0/24</td>"), "%s", b);
	cr_assert(strstr(b, "<tr class=\"l0\"><td>127.7.1.0/24</td>"), "%s", b);
	cr_assert(strstr(b, "3 networks (IPv4 /24, IPv6 /64), <span id=\"loss-lossy\">2</span>"),
		  "%s", b);
	cr_assert(strstr(b, "<svg id=\"rtt-chart\""), "the RTT chart, without a script");
	free(b);
	b = http_get(&r, "/api/v1/rtt");
	cr_assert_not_null(b);
	cr_assert_gt(sup_json_number(b, "received"), 0, "%s", b);
	cr_assert_gt(sup_json_number(b, "loss_pct"), 40, "%s", b);
	cr_assert(strstr(b, "\"p50\":"), "%s", b);
	free(b);
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	cr_assert_eq(system("nft delete table ip t"), 0);
	rpd_fini(&r);
	srv_cleanup(&s);
}

/* Groups with their own probe settings (issue 15): each group's devices round their
 * own ping_count (ping_round's `sent`), the top level's keep theirs; a SIGHUP that
 * changes one group's ping_count applies to that group at once, without a restart. */
Test(daemon, groups_round_their_own_ping_count_and_a_reload_changes_one, .timeout = 120)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rpd r;
	char text[1024], q[384];
	uint64_t t1;

	need_root();
	enter_netns();
	cr_assert_eq(srv_influx_start(&s, &io), 0, "%s", s.why);
	rpd_init(&r);
	snprintf(text, sizeof(text),
		 "allow_loopback: true\n"
		 "icmp_discovery_interval: 1h\nhealth_check_port: %d\n"
		 "influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		 "spool:\n  dir: %s/spool\n"
		 "ping_interval: 500ms\nping_timeout: 200ms\n"
		 "output:\n  rounds: true\n"
		 "devices: [127.6.0.1]\n"
		 "groups:\n"
		 "  - name: two\n"
		 "    ping_count: 2\n"
		 "    ping_spacing: 20ms\n"
		 "    ttl: 9\n"
		 "    devices: [127.6.1.1]\n"
		 "  - name: four\n"
		 "    ping_spacing: 20ms\n"
		 "    ping_timeout: 100ms\n"
		 "    devices: [127.6.2.1]\n",
		 r.hport, s.url, r.dir);
	write_file(r.cfg, "%s    ping_count: 4\n", text);
	rpd_start(&r, NULL);
	cr_assert_geq(
	    wait_scalar(&s,
			"SELECT count(received) FROM ping_round WHERE ip = '127.6.2.1' AND "
			"sent = 4 AND received = 4",
			4, 20),
	    4);
	cr_assert_geq(
	    wait_scalar(&s,
			"SELECT count(received) FROM ping_round WHERE ip = '127.6.1.1' AND "
			"sent = 2 AND received = 2",
			4, 10),
	    4);
	cr_assert_geq(
	    wait_scalar(&s,
			"SELECT count(received) FROM ping_round WHERE ip = '127.6.0.1' AND "
			"sent = 1 AND received = 1",
			4, 10),
	    4);
	cr_assert_eq(
	    srv_influx_scalar(&s, "rp",
			      "SELECT count(received) FROM ping_round WHERE (ip = "
			      "'127.6.2.1' AND sent != 4) OR (ip = '127.6.1.1' AND sent != "
			      "2) OR (ip = '127.6.0.1' AND sent != 1)"),
	    0, "every round has its group's count");
	/* The group with ttl 9 (per packet): its pings are answered like the others. */
	cr_assert_gt(srv_influx_scalar(&s, "rp",
				       "SELECT count(success) FROM ping WHERE ip = '127.6.1.1' AND "
				       "success = true"),
		     0);
	/* The reload: `four` rounds three echoes now. */
	write_file(r.cfg, "%s    ping_count: 3\n", text);
	kill(r.pid, SIGHUP);
	cr_assert_eq(wait_health(&r, "config_reloads", 1, 5), 1);
	t1 = real_ns() + 1000000000ull;
	snprintf(q, sizeof(q),
		 "SELECT count(received) FROM ping_round WHERE ip = '127.6.2.1' AND sent = 3 AND "
		 "received = 3 AND time > %llu",
		 (unsigned long long)t1);
	cr_assert_geq(wait_scalar(&s, q, 3, 15), 3, "the group's new ping_count");
	snprintf(q, sizeof(q),
		 "SELECT count(received) FROM ping_round WHERE time > %llu AND ((ip = '127.6.2.1' "
		 "AND sent != 3) OR (ip = '127.6.1.1' AND sent != 2) OR (ip = '127.6.0.1' AND "
		 "sent != 1))",
		 (unsigned long long)t1);
	cr_assert_eq(srv_influx_scalar(&s, "rp", q), 0, "after the reload");
	kill(r.pid, SIGTERM);
	cr_assert_eq(rpd_wait(&r, 20), 0);
	if (log_has(&r, "take effect only at restart") || log_has(&r, "level=error"))
		dump_log(&r);
	cr_assert_not(log_has(&r, "take effect only at restart"), "group settings apply live");
	cr_assert_not(log_has(&r, "level=error"));
	rpd_fini(&r);
	srv_cleanup(&s);
}
