/* The fleet page in a real browser: Debian's Chromium, headless, loads `/` from the
 * health server and the test reads the DOM it built (--dump-dom) and keeps a
 * screenshot (build/test-logs/page.png) as an artifact. (With scripts off, headless
 * Chromium 156 neither dumps nor prints a page, so the page without its script is
 * checked on the server's HTML in test_page.c.) Root: the server and the
 * browser run in a private network namespace, where nothing but loopback exists, and
 * the browser is told to resolve no name, so nothing it might try leaves the machine. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../snmp/snmpd_harness.h"
#include "ringprobe/dist.h"
#include "ringprobe/event.h"
#include "ringprobe/health.h"
#include "support/support.h"

#define CHROMIUM "/usr/bin/chromium"

static void need_root_and_chromium(void)
{
	const char *what;
	int rc;

	if (geteuid() != 0)
		cr_skip_test("needs root (a private network namespace for the server and browser)");
	cr_assert_eq(access(CHROMIUM, X_OK), 0,
		     CHROMIUM " is missing: install Debian's chromium package (scripts/deps does)");
	rc = sup_netns_enter(SUP_NETNS_LO_UP, &what);
	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
}

/* Runs Chromium headless on url with the extra flags; its standard output goes to
 * out_path. Returns its exit status; killed (and failed) after 90 s. */
static int chromium(const char *url, const char *out_path, const char *const *extra)
{
	char profile[] = "/tmp/rp-chromium.XXXXXX";
	const char *argv[32];
	int n = 0, status = 0;
	pid_t pid;

	cr_assert_not_null(mkdtemp(profile));
	argv[n++] = CHROMIUM;
	argv[n++] = "--headless";
	argv[n++] = "--no-sandbox"; /* as root */
	argv[n++] = "--disable-gpu";
	argv[n++] = "--no-first-run";
	argv[n++] = "--no-default-browser-check";
	argv[n++] = "--disable-background-networking";
	argv[n++] = "--disable-component-update";
	argv[n++] = "--disable-sync";
	argv[n++] = "--disable-extensions";
	argv[n++] = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1";
	argv[n++] = "--virtual-time-budget=3000";
	for (; extra && *extra; extra++)
		argv[n++] = *extra;
	{
		static char pd[64];

		snprintf(pd, sizeof(pd), "--user-data-dir=%s", profile);
		argv[n++] = pd;
	}
	argv[n++] = url;
	argv[n] = NULL;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int null = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(null, 2);
		execv(CHROMIUM, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 900; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (i == 899) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			cr_assert_fail("chromium did not finish within 90 s");
		}
		usleep(100000);
	}
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", profile);
		cr_assert_eq(system(cmd), 0);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *dump_dom(uint16_t port, const char *const *extra)
{
	char url[64], out[] = "/tmp/rp-dom.XXXXXX";
	int fd = mkstemp(out);
	char *dom;

	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned int)port);
	const char *flags[8] = {"--dump-dom"};
	int k = 1;

	for (; extra && *extra && k < 7; extra++)
		flags[k++] = *extra;
	flags[k] = NULL;
	cr_assert_eq(chromium(url, out, flags), 0, "chromium failed");
	dom = sup_slurp(out);
	unlink(out);
	cr_assert_not_null(dom);
	return dom;
}

static struct rp_health_snapshot sample(void)
{
	struct rp_health_snapshot s;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	memset(&s, 0, sizeof(s));
	s.time_ns = (uint64_t)ts.tv_sec * 1000000000ull;
	s.devices = 20000;
	s.active = 19800;
	s.suspended = 200;
	s.discovered = 19000;
	s.probes_sent = 1200000;
	s.replies = 1188000;
	s.points_written = 1199000;
	s.spool_bytes = 2048;
	s.uptime_s = 75;
	s.shards = 2;
	s.ready = true;
	s.needed_pps = 12345.67;
	s.reasons = RP_HEALTH_RING_DROPS;
	snprintf(s.version, sizeof(s.version), "0.1.0");
	return s;
}

/* Devices down now: one named with markup, as a hostile name would try (names reach
 * the page only after rp_name_valid, which refuses this one: the page must not rely on
 * it). */
static const char hostile[] = "</script><img src=x onerror=\"document.title='pwned'\">";

/* RTTs and loss by network: 40 /24s of 198.18.0.0/16 (nothing is sent to them), a
 * hundred probes each, losing 0, 0.5, 3, 10, 50 or 100 of them by network. */
#define DIST_NETS 40
static const unsigned lost_of[] = {0, 0, 1, 3, 10, 50, 100};

static void serve_dist(struct rp_health_server *h)
{
	struct rp_dist d;
	struct rp_dist_view v;

	rp_dist_init(&d, 256, 0);
	rp_dist_view_init(&v, d.cap);
	for (uint32_t i = 0; i < DIST_NETS; i++) {
		struct rp_ip a = rp_ip_v4(0xc6120000u | i << 8 | 1); /* 198.18.i.1 */

		for (unsigned k = 0; k < 200; k++) {
			/* 0.5% is one in 200 */
			unsigned lost = lost_of[i % 7] * 2 + (i % 7 == 1);

			rp_dist_result(&d, &a, k >= lost,
				       200000 + (uint64_t)(k * 37 % 100) * 30000);
		}
	}
	rp_dist_fold(&d, 30000000000ull, &v);
	rp_health_server_dist_init(h, d.cap);
	rp_health_server_publish_dist(h, &v);
	rp_dist_view_fini(&v);
	rp_dist_fini(&d);
}

static struct rp_health_server *serve(const struct rp_health_snapshot *s)
{
	static struct rp_down_entry down[2];
	struct rp_health_server *h = NULL;
	char why[256] = "";

	cr_assert_eq(rp_health_server_start(&h, "127.0.0.1", 0, why, sizeof(why)), 0, "%s", why);
	rp_health_server_publish(h, s);
	rp_ip_parse("192.0.2.7", &down[0].addr);
	down[0].since_ns = s->time_ns - 3600 * 1000000000ull;
	down[0].name = hostile;
	down[0].reason = RP_REASON_TIMEOUT;
	rp_ip_parse("2001:db8::9", &down[1].addr);
	down[1].since_ns = s->time_ns - 90 * 1000000000ull;
	down[1].reason = RP_REASON_SUSPENDED;
	rp_health_server_down_init(h, 16);
	rp_health_server_publish_down(h, down, 2, 2);
	serve_dist(h);
	return h;
}

static void assert_cell(const char *dom, const char *key, const char *want)
{
	char pat[160];

	snprintf(pat, sizeof(pat), "data-k=\"%s\" data-f=\"", key);
	const char *p = strstr(dom, pat);

	cr_assert_not_null(p, "no cell %s in the DOM", key);
	p = strchr(p, '>');
	cr_assert_not_null(p);
	cr_assert(strncmp(p + 1, want, strlen(want)) == 0 && p[1 + strlen(want)] == '<',
		  "%s shows \"%.20s\", want \"%s\"", key, p + 1, want);
}

/* The script ran: it fetched /api/v1/summary and wrote what only it writes (the
 * `data-live` mark and "updated <time>"), and the figures are the snapshot's. */
Test(browser, page_shows_the_fleet_and_its_script_refreshes_it, .timeout = 180)
{
	struct rp_health_snapshot s;
	struct rp_health_server *h;
	char *dom;

	need_root_and_chromium();
	s = sample();
	h = serve(&s);
	dom = dump_dom(rp_health_server_port(h), NULL);
	cr_assert(strstr(dom, "<html lang=\"en\" data-live=\"1\">"), "the script ran: %.400s", dom);
	cr_assert(strstr(dom, "<span id=\"updated\""), "%s", dom);
	cr_assert(strstr(dom, "\">updated "), "the script's refresh time is shown");
	cr_assert(strstr(dom, "<span id=\"status\" class=\"degraded\">degraded</span>"));
	cr_assert(strstr(dom, "<span id=\"reasons\">ring_drops</span>"));
	assert_cell(dom, "fleet.devices", "20,000");
	assert_cell(dom, "fleet.suspended", "200");
	assert_cell(dom, "writer.points_written", "1,199,000");
	assert_cell(dom, "writer.spool_bytes", "2.0 KiB");
	assert_cell(dom, "daemon.uptime_s", "1m 15s");
	assert_cell(dom, "probes.needed_pps", "12,345.7");
	/* The devices down now, the hostile name as text: no element came of it. */
	cr_assert(strstr(dom, "<tr><td>192.0.2.7</td><td>&lt;/script&gt;&lt;img src=x "
			      "onerror=\"document.title='pwned'\"&gt;</td>"),
		  "%s", dom);
	cr_assert(strstr(dom, "<tr><td>2001:db8::9</td><td></td>"));
	cr_assert_null(strstr(dom, "<img"), "an element from a name");
	cr_assert_null(strstr(dom, "pwned</title>"), "a script from a name ran");
	free(dom);
	rp_health_server_stop(h);
}

/* Chromium's screenshot of the page at port, window "W,H", kept as
 * build/test-logs/NAME for a person to look at: a PNG, not a blank image. */
static void screenshot(uint16_t port, const char *name, const char *window)
{
	const char *dir = RP_BUILD_ROOT "/../test-logs";
	char url[64], shot[512], arg[600], size[64], out[] = "/tmp/rp-shot.XXXXXX";
	const char *f[3] = {size, arg, NULL};
	unsigned char sig[8];
	struct stat st;
	FILE *png;
	int fd;

	mkdir(dir, 0755);
	snprintf(shot, sizeof(shot), "%s/%s", dir, name);
	unlink(shot);
	snprintf(arg, sizeof(arg), "--screenshot=%s", shot);
	snprintf(size, sizeof(size), "--window-size=%s", window);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned int)port);
	fd = mkstemp(out);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(chromium(url, out, f), 0);
	unlink(out);
	cr_assert_eq(stat(shot, &st), 0, "%s: %s", shot, strerror(errno));
	cr_assert_gt(st.st_size, 10000, "%s: a page, not a blank image: %lld bytes", name,
		     (long long)st.st_size);
	png = fopen(shot, "rb");
	cr_assert_not_null(png);
	cr_assert_eq(fread(sig, 1, 8, png), 8);
	fclose(png);
	cr_assert_eq(memcmp(sig, "\x89PNG\r\n\x1a\n", 8), 0, "%s is a PNG", name);
}

/* A picture of the page, kept for a person to look at (build/test-logs/page.png). */
Test(browser, screenshot_is_kept_as_an_artifact, .timeout = 180)
{
	struct rp_health_snapshot s;
	struct rp_health_server *h;

	need_root_and_chromium();
	s = sample();
	h = serve(&s);
	screenshot(rp_health_server_port(h), "page.png", "1280,900");
	rp_health_server_stop(h);
}

/* The RTT chart and the loss map: the script drew a cell per network from
 * /api/v1/loss (address order, coloured by loss, the network's figures as text in its
 * title) and redrew the chart from /api/v1/rtt; the worst networks' table is there. */
Test(browser, page_draws_the_rtt_chart_and_the_loss_map, .timeout = 180)
{
	struct rp_health_snapshot s;
	struct rp_health_server *h;
	const char *p;
	char *dom;
	int cells = 0, rects = 0;

	need_root_and_chromium();
	s = sample();
	h = serve(&s);
	dom = dump_dom(rp_health_server_port(h), NULL);
	cr_assert(strstr(dom, "<section id=\"s-loss\" data-cells=\"40\">"),
		  "the script drew 40 cells: %.600s", dom);
	cr_assert(strstr(dom, "<section id=\"s-rtt\" data-replies=\"6326\">"),
		  "and the chart from /api/v1/rtt: %.600s", dom);
	cr_assert(strstr(dom, "<div id=\"loss-map\"><i "), "the map is shown: %s", dom);
	{
		const char *map = strstr(dom, "<div id=\"loss-map\">");
		const char *end = strstr(map, "</div>");

		for (p = map; (p = strstr(p, "<i class=\"l")) && p < end; p++)
			cells++;
	}
	cr_assert_eq(cells, 40, "%d cells", cells);
	cr_assert(strstr(dom, "<i class=\"l0\" title=\"198.18.0.0/24: 0.00% lost (200 of 200)\">"),
		  "%s", dom);
	cr_assert(strstr(dom, "<i class=\"l1\" title=\"198.18.1.0/24: 0.50% lost (199 of 200)\">"),
		  "%s", dom);
	cr_assert(strstr(dom, "<i class=\"l5\" title=\"198.18.6.0/24: 100.00% lost (0 of 200)\">"),
		  "%s", dom);
	for (p = dom; (p = strstr(p, "<rect ")); p++)
		rects++;
	cr_assert_gt(rects, 5, "the chart's bars: %d", rects);
	cr_assert(strstr(dom, "<tr class=\"l5\"><td>198.18.6.0/24</td><td>200</td><td>0</td>"),
		  "the worst first in the table: %s", dom);
	cr_assert(
	    strstr(dom, "40 networks (IPv4 /24, IPv6 /64), <span id=\"loss-lossy\">34</span>"),
	    "%s", dom);
	free(dom);
	rp_health_server_stop(h);
}

/* A picture of the RTT chart and the loss map (build/test-logs/page-dist.png). */
Test(browser, screenshot_of_rtts_and_loss_is_kept, .timeout = 180)
{
	struct rp_health_snapshot s;
	struct rp_health_server *h;

	need_root_and_chromium();
	s = sample();
	h = serve(&s);
	screenshot(rp_health_server_port(h), "page-dist.png", "1280,2000");
	rp_health_server_stop(h);
}

/* ---- a hostile sysName through the whole daemon ------------------------------------ */

#define RINGPROBE RP_BUILD_ROOT "/src/cli/ringprobe"
/* What issue 13 asks a device to call itself. */
#define HOSTILE_SYSNAME "<img src=x onerror=alert(1)></script><b>x"

/* GET url's body (caller frees), NULL unless 200. */
static char *http_body(const char *url)
{
	char *body = NULL;
	long status = 0;

	if (srv_http("GET", url, NULL, 0, NULL, &body, &status) != 0 || status != 200) {
		free(body);
		return NULL;
	}
	return body;
}

/* `ringprobe run` monitors 127.0.0.1, whose echo requests an nftables rule in the test's
 * namespace drops (so it goes down) while a real snmpd on it answers SNMP with markup as
 * its sysName. The daemon keeps that sysName (src/ctl/facts.c); /api/v1/down carries it,
 * /probe-metrics labels the device's series with it (prometheus.sysname_label), and the
 * page the daemon serves shows it, in Chromium, as text: no element came of it, and no
 * script ran. A screenshot (build/test-logs/page-sysname.png) is kept. */
Test(browser, hostile_sysname_from_snmpd_is_text_on_a_down_device, .timeout = 240)
{
	struct snmpd_values v = {.descr = "test agent", .name = HOSTILE_SYSNAME};
	struct srv_influx_opts io = {.database = "rp"};
	char dir[] = "/tmp/rp-sysname-XXXXXX", cfg[96], logp[96], url[96], why[2048] = "";
	struct snmpd_agent a;
	struct srv influx;
	char *body = NULL, *dom;
	int hport;
	FILE *c;
	pid_t pid;

	need_root_and_chromium(); /* in a namespace of its own from here on */
	cr_assert(snmpd_start(&a, &v, why, sizeof(why)), "%s", why);
	cr_assert_eq(srv_influx_start(&influx, &io), 0, "%s", influx.why);
	cr_assert_eq(system("nft add table ip t && nft add chain ip t o '{ type filter hook "
			    "output priority 0; }' && nft add rule ip t o ip daddr 127.0.0.1 icmp "
			    "type echo-request drop"),
		     0, "nft");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg), "%s/config.yml", dir);
	snprintf(logp, sizeof(logp), "%s/log", dir);
	hport = sup_free_port();
	cr_assert_gt(hport, 0);
	c = fopen(cfg, "w");
	cr_assert_not_null(c);
	fprintf(c,
		"allow_loopback: true\ndevices: [127.0.0.1]\nping_interval: 500ms\n"
		"ping_timeout: 200ms\nstate:\n  down_after: 2\nhealth_check_port: %d\n"
		"snmp:\n  enabled: true\n  version: 2c\n  community: %s\n  port: %u\n"
		"  timeout: 2s\n  retries: 1\n"
		"prometheus:\n  per_device: true\n  sysname_label: sysname\n"
		"influxdb:\n  url: %s\n  database: rp\n  flush_interval: 250ms\n"
		"spool:\n  dir: %s/spool\n",
		hport, SNMPD_COMMUNITY, (unsigned)a.port, influx.url, dir);
	fclose(c);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int lf = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed assertion takes it along */
		dup2(lf, 1);
		dup2(lf, 2);
		execl(RINGPROBE, RINGPROBE, "run", "--config", cfg, (char *)NULL);
		_exit(127);
	}
	/* Down (two silent rounds) and its sysName known (the first SNMP answer). */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/down", hport);
	for (int i = 0; i < 300; i++) {
		free(body);
		body = http_body(url);
		if (body && strstr(body, "\"sysname\""))
			break;
		usleep(100000);
	}
	cr_assert(body && strstr(body, "{\"ip\":\"127.0.0.1\",\"sysname\":\"" HOSTILE_SYSNAME
				       "\",\"since\""),
		  "/api/v1/down: %s (daemon log %s: %s)", body ? body : "(none)", logp,
		  sup_slurp(logp));
	free(body);
	/* The per-device series carry it as a label (prometheus.sysname_label), escaped
	 * as the format asks, and promtool takes the page. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/probe-metrics", hport);
	body = http_body(url);
	cr_assert(body &&
		      strstr(body, "smokeping_requests_total{host=\"127.0.0.1\",ip=\"127.0.0.1\","
				   "sysname=\"" HOSTILE_SYSNAME "\"} "),
		  "%s", body ? body : "(none)");
	{
		char path[] = "/tmp/rp-pm-XXXXXX", cmd[96], *o = NULL, *e = NULL;
		int pf = mkstemp(path), rc;

		cr_assert_geq(pf, 0);
		cr_assert_eq(write(pf, body, strlen(body)), (ssize_t)strlen(body));
		close(pf);
		snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
		rc = sup_run(cmd, 0, &o, &e);
		unlink(path);
		cr_assert(rc == 0 && !*o && !*e, "promtool %d: %s%s", rc, o, e);
		free(o);
		free(e);
	}
	free(body);
	/* The page the daemon serves, as a browser builds it. */
	dom = dump_dom((uint16_t)hport, NULL);
	cr_assert(strstr(dom, "<html lang=\"en\" data-live=\"1\">"), "the script ran: %.400s", dom);
	cr_assert(strstr(dom, "<tr><td>127.0.0.1</td><td></td><td>&lt;img src=x "
			      "onerror=alert(1)&gt;&lt;/script&gt;&lt;b&gt;x</td><td>"),
		  "the sysName shows as text in its cell: %s", dom);
	cr_assert_null(strstr(dom, "<img"), "an element from the sysName");
	cr_assert_null(strstr(dom, "<b>"), "an element from the sysName");
	cr_assert_null(strstr(dom, "onerror=alert(1)>"), "markup from the sysName");
	free(dom);
	/* The search finds it by its sysName. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/?q=onerror", hport);
	body = http_body(url);
	cr_assert(body && strstr(body, " 1&ndash;1 of 1 "), "%s", body ? body : "(none)");
	free(body);
	/* A picture of it, for a person to look at. */
	screenshot((uint16_t)hport, "page-sysname.png", "1280,900");
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snmpd_stop(&a);
	srv_cleanup(&influx);
	sup_rm_rf(dir);
}
