/* The fleet page's renderers (src/ops/page.c): text from outside is escaped, the HTML
 * and /api/v1/summary carry the same figures, and the server answers /, the summary
 * and the built-in files with the right types and headers. The browser tests are in
 * test_page_browser.c. */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/page.h"
#include "ringprobe/event.h"
#include "ringprobe/facts.h"
#include "ringprobe/health.h"

static const char *esc(const char *s, size_t n)
{
	static char buf[1024];
	size_t need = rp_page_escape(s, n, buf, sizeof(buf));

	cr_assert_lt(need, sizeof(buf));
	cr_assert_eq(strlen(buf), need);
	return buf;
}

Test(page, escape_turns_markup_into_text)
{
	const char *x = "<img src=x onerror=alert(1)></script>\"'&";

	cr_assert_str_eq(esc(x, strlen(x)), "&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;"
					    "&quot;&#39;&amp;");
	cr_assert_str_eq(esc("core-sw1.ams", 12), "core-sw1.ams");
}

Test(page, escape_keeps_utf8_and_replaces_what_is_not_text)
{
	/* UTF-8 passes as it is. */
	cr_assert_str_eq(esc("Zürich-ä€😀", strlen("Zürich-ä€😀")), "Zürich-ä€😀");
	/* Invalid or overlong UTF-8, a lone continuation byte, a surrogate, a truncated
	 * sequence: one U+FFFD per bad byte, nothing swallowed after it. */
	cr_assert_str_eq(esc("a\xc0\xafz", 4), "a&#xFFFD;&#xFFFD;z");
	cr_assert_str_eq(esc("a\x80z", 3), "a&#xFFFD;z");
	cr_assert_str_eq(esc("a\xed\xa0\x80z", 5), "a&#xFFFD;&#xFFFD;&#xFFFD;z");
	cr_assert_str_eq(esc("a\xe2\x82", 3), "a&#xFFFD;&#xFFFD;");
	/* Controls (C0 but tab, DEL, C1), and the bidi overrides and isolates that would
	 * make a name read backwards. A NUL inside the given length is a control too. */
	cr_assert_str_eq(esc("a\x01\tb\x7f", 5), "a&#xFFFD;\tb&#xFFFD;");
	cr_assert_str_eq(esc("a\xc2\x85z", 4), "a&#xFFFD;z");
	cr_assert_str_eq(esc("x\xe2\x80\xaey", 5), "x&#xFFFD;y");
	cr_assert_str_eq(esc("x\xe2\x81\xa6y", 5), "x&#xFFFD;y");
	cr_assert_str_eq(esc("a\0b", 3), "a&#xFFFD;b");
}

Test(page, escape_reports_what_it_needs_when_the_buffer_is_short)
{
	char small[8];
	size_t need = rp_page_escape("<<<<", 4, small, sizeof(small));

	cr_assert_eq(need, 16);
	cr_assert_eq(strlen(small), sizeof(small) - 1, "a prefix, NUL-terminated");
}

static struct rp_health_snapshot sample(void)
{
	struct rp_health_snapshot s;

	memset(&s, 0, sizeof(s));
	s.time_ns = 1796547759000000000ull;
	s.devices = 1048574;
	s.active = 1048000;
	s.suspended = 574;
	s.discovered = 4242;
	s.sweeps = 17;
	s.probes_sent = 123456789;
	s.replies = 123456000;
	s.timeouts = 789;
	s.points_written = 123450000;
	s.spool_bytes = 3 * 1024 * 1024 + 512 * 1024;
	s.sink_down = true;
	s.uptime_s = 93784.5;
	s.rss_bytes = 500u * 1024 * 1024;
	s.shards = 2;
	s.ready = true;
	s.rate_limit_pps = 20000;
	s.reasons = RP_HEALTH_SINK_FAILING | RP_HEALTH_POINTS_DROPPED;
	snprintf(s.version, sizeof(s.version), "0.1.0<b>");
	return s;
}

/* The page as the server renders it without a down list (states off). */
static char *render_html(const struct rp_health_snapshot *s)
{
	static char buf[32768];
	const struct rp_page_down off = {.limit = 50, .q = ""};
	size_t n = rp_page_html(s, &off, buf, sizeof(buf));

	cr_assert_lt(n, sizeof(buf));
	return buf;
}

static char *render_json(const struct rp_health_snapshot *s)
{
	static char buf[8192];
	size_t n = rp_page_summary_json(s, buf, sizeof(buf));

	cr_assert_lt(n, sizeof(buf));
	return buf;
}

/* The cell data-k="key" as the HTML shows it. */
static const char *cell(const char *html, const char *key)
{
	static char v[128];
	char pat[96];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), "data-k=\"%s\"", key);
	p = strstr(html, pat);
	cr_assert_not_null(p, "no cell %s", key);
	p = strchr(p, '>');
	cr_assert_not_null(p);
	n = strcspn(++p, "<");
	snprintf(v, sizeof(v), "%.*s", (int)n, p);
	return v;
}

Test(page, html_shows_each_figure_in_its_cell)
{
	struct rp_health_snapshot s = sample();
	const char *h = render_html(&s);

	cr_assert_str_eq(cell(h, "fleet.devices"), "1,048,574");
	cr_assert_str_eq(cell(h, "fleet.suspended"), "574");
	cr_assert_str_eq(cell(h, "fleet.discovered"), "4,242");
	cr_assert_str_eq(cell(h, "sweeps.completed"), "17");
	cr_assert_str_eq(cell(h, "probes.sent"), "123,456,789");
	cr_assert_str_eq(cell(h, "probes.timeouts"), "789");
	cr_assert_str_eq(cell(h, "writer.spool_bytes"), "3.5 MiB");
	cr_assert_str_eq(cell(h, "writer.sink_down"), "yes");
	cr_assert_str_eq(cell(h, "daemon.uptime_s"), "1d 2h");
	cr_assert_str_eq(cell(h, "daemon.rss_bytes"), "500.0 MiB");
	cr_assert_str_eq(cell(h, "probes.rate_limit_pps"), "20,000.0");
	cr_assert(strstr(h, "<span id=\"status\" class=\"degraded\">degraded</span>"));
	cr_assert(strstr(h, "<span id=\"reasons\">sink_failing, points_dropped</span>"));
	cr_assert(strstr(h, "version <span id=\"version\">0.1.0&lt;b&gt;</span>"),
		  "even our own strings are escaped");
	cr_assert(strstr(h, "<script src=\"/page.js\" defer></script>"));
	cr_assert(strstr(h, "<noscript><meta http-equiv=\"refresh\""),
		  "without scripts the page reloads itself");
}

/* What a browser without scripts shows is the server's HTML: every figure the script
 * would refresh is already in a table row, under a heading, in the snapshot's words. */
Test(page, without_scripts_every_figure_is_a_table_row)
{
	struct rp_health_snapshot s = sample();
	const char *h = render_html(&s);
	int rows = 0, cells = 0, sections = 0;

	for (const char *p = h; (p = strstr(p, "<tr><th scope=\"row\">")); p++)
		rows++;
	for (const char *p = h; (p = strstr(p, "<td data-k=")); p++)
		cells++;
	for (const char *p = h; (p = strstr(p, "<section id=\"s-")); p++)
		sections++;
	cr_assert_eq(rows, cells, "one row per figure");
	cr_assert_geq(cells, 30);
	cr_assert_eq(sections, 7, "six of figures, one of the devices down");
	cr_assert(strstr(h,
			 "<table>\n<tr><th scope=\"row\">devices</th><td data-k=\"fleet.devices\" "
			 "data-f=\"0\">1,048,574</td></tr>"));
	cr_assert(strstr(h, "snapshot of 1796547759 s after the epoch"));
}

Test(page, summary_json_carries_the_cells_figures)
{
	struct rp_health_snapshot s = sample();
	const char *j = render_json(&s);
	const char *h = render_html(&s);

	cr_assert(strstr(j,
			 "{\"status\":\"degraded\",\"reasons\":[\"sink_failing\","
			 "\"points_dropped\"],\"version\":\"0.1.0<b>\",\"time\":1796547759.000,"));
	cr_assert(
	    strstr(j, "\"fleet\":{\"devices\":1048574,\"active\":1048000,\"suspended\":574,"));
	cr_assert(strstr(j, "\"writer\":{\"points_written\":123450000,"));
	cr_assert(strstr(j, "\"sink_down\":true"));
	cr_assert(strstr(j, "\"daemon\":{\"uptime_s\":93784.500,"));
	/* Every cell of the page has its figure in the JSON, under the same path. */
	for (const char *p = h; (p = strstr(p, "data-k=\"")); p++) {
		char sec[32], key[64], pat[160];
		const char *sp;

		cr_assert_eq(sscanf(p + 8, "%31[a-z_].%63[a-z_0-9]", sec, key), 2);
		snprintf(pat, sizeof(pat), "\"%s\":{", sec);
		sp = strstr(j, pat);
		cr_assert_not_null(sp, "section %s", sec);
		snprintf(pat, sizeof(pat), "\"%s\":", key);
		cr_assert(strstr(sp, pat) && strstr(sp, pat) < strchr(sp, '}'), "%s.%s in the JSON",
			  sec, key);
	}
}

Test(page, summary_json_escapes_a_version_it_did_not_expect)
{
	struct rp_health_snapshot s = sample();

	memcpy(s.version, "a\"b\\c\x01", 7);
	cr_assert(strstr(render_json(&s), "\"version\":\"a\\\"b\\\\c\\u0001\""));
}

Test(page, assets_are_built_in_and_nothing_else_is)
{
	const unsigned char *d;
	const char *type;
	size_t n;

	cr_assert(rp_page_asset("/page.js", &d, &n, &type));
	cr_assert_str_eq(type, "text/javascript; charset=utf-8");
	cr_assert(n > 100 && memmem(d, n, "/api/v1/summary", 15));
	cr_assert(memmem(d, n, "textContent", 11), "values are set as text");
	cr_assert_null(memmem(d, n, "innerHTML", 9), "never as HTML");
	cr_assert(rp_page_asset("/page.css", &d, &n, &type));
	cr_assert_str_eq(type, "text/css; charset=utf-8");
	cr_assert_not(rp_page_asset("/page.js/", &d, &n, &type));
	cr_assert_not(rp_page_asset("/../page.js", &d, &n, &type));
	cr_assert_not(rp_page_asset("/", &d, &n, &type));
}

/* ---- over HTTP -------------------------------------------------------------------- */

struct got {
	char body[65536];
	size_t len;
	char type[128];
	char csp[512];
	char nosniff[64];
	long code;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct got *g = arg;
	size_t len = size * n;

	if (g->len + len >= sizeof(g->body))
		return 0;
	memcpy(g->body + g->len, p, len);
	g->len += len;
	g->body[g->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct got *g = arg;
	size_t len = size * n;

	if (len > 25 && strncasecmp(p, "Content-Security-Policy: ", 25) == 0)
		snprintf(g->csp, sizeof(g->csp), "%.*s", (int)(len - 27), p + 25);
	if (len > 24 && strncasecmp(p, "X-Content-Type-Options: ", 24) == 0)
		snprintf(g->nosniff, sizeof(g->nosniff), "%.*s", (int)(len - 26), p + 24);
	return len;
}

static struct got *get(uint16_t port, const char *path)
{
	static struct got g;
	char url[128];
	char *type = NULL;
	CURL *c = curl_easy_init();

	memset(&g, 0, sizeof(g));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned int)port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &g);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK, "GET %s", url);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g.code);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
	snprintf(g.type, sizeof(g.type), "%s", type ? type : "");
	curl_easy_cleanup(c);
	return &g;
}

Test(page, served_with_its_types_and_a_policy_that_runs_only_its_own_script)
{
	struct rp_health_server *h = NULL;
	struct rp_health_snapshot s = sample();
	char why[256] = "";
	uint16_t port;
	struct got *g;

	cr_assert_eq(rp_health_server_start(&h, "127.0.0.1", 0, why, sizeof(why)), 0, "%s", why);
	port = rp_health_server_port(h);
	g = get(port, "/");
	cr_assert_eq(g->code, 503, "no snapshot yet");
	cr_assert(strstr(g->body, "starting"));
	cr_assert_eq(get(port, "/api/v1/summary")->code, 503);
	rp_health_server_publish(h, &s);
	g = get(port, "/");
	cr_assert_eq(g->code, 200);
	cr_assert_str_eq(g->type, "text/html; charset=utf-8");
	cr_assert_str_eq(g->body, render_html(&s));
	cr_assert(strstr(g->csp, "default-src 'none'") && strstr(g->csp, "script-src 'self'") &&
		      !strstr(g->csp, "unsafe-inline"),
		  "CSP: %s", g->csp);
	cr_assert_str_eq(g->nosniff, "nosniff");
	g = get(port, "/api/v1/summary");
	cr_assert_eq(g->code, 200);
	cr_assert_str_eq(g->type, "application/json");
	cr_assert_str_eq(g->body, render_json(&s));
	g = get(port, "/page.js");
	cr_assert_eq(g->code, 200);
	cr_assert_str_eq(g->type, "text/javascript; charset=utf-8");
	cr_assert_str_eq(g->nosniff, "nosniff");
	cr_assert_eq(get(port, "/page.css")->code, 200);
	cr_assert_eq(get(port, "/api/v1/nothing")->code, 404);
	rp_health_server_stop(h);
}

/* ---- the devices down now ----------------------------------------------------------- */

#define NOW_NS 1765000010123000000ull

static void down_sample(struct rp_down_entry *v, size_t n)
{
	static const char *const names[] = {"core1.example.net", "<img src=x onerror=alert(1)>"};
	/* sysNames come from the devices themselves: anything printable */
	static const char *const sysnames[] = {
	    "core1-sw", "<img src=x onerror=alert(1)></script><b>x", "Edge-9 \"rack 4\" \\ a&b"};

	memset(v, 0, n * sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "192.0.2.%zu", i + 1);
		rp_ip_parse(ip, &v[i].addr);
		v[i].since_ns = NOW_NS - (uint64_t)(n - i) * 90 * 1000000000ull;
		v[i].reason = RP_REASON_TIMEOUT;
		v[i].name = i < 2 ? names[i] : NULL;
		v[i].sysname = i < 3 ? sysnames[i] : NULL;
	}
}

Test(page, down_list_shows_each_device_with_since_and_for_and_escapes_names)
{
	struct rp_down_entry v[3];
	struct rp_health_snapshot s = sample();
	struct rp_page_down d = {.on = true,
				 .v = v,
				 .n = 3,
				 .limit = 50,
				 .matched = 3,
				 .listed = 3,
				 .total = 3,
				 .q = "",
				 .now_ns = NOW_NS};
	static char buf[65536];

	down_sample(v, 3);
	cr_assert_lt(rp_page_html(&s, &d, buf, sizeof(buf)), sizeof(buf));
	cr_assert(strstr(buf, "<span id=\"down-total\">3</span> down now."), "%s", buf);
	cr_assert(strstr(buf, "<th scope=\"col\">Name</th><th scope=\"col\">sysName</th>"));
	cr_assert(strstr(buf, "<tr><td>192.0.2.1</td><td>core1.example.net</td><td>core1-sw</td>"
			      "<td>2025-12-06 05:42:20</td><td>4m 30s</td><td>timeout</td></tr>"),
		  "%s", buf);
	cr_assert(
	    strstr(buf, "<td>&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;&lt;b&gt;x</td>"),
	    "a sysName is text: %s", buf);
	cr_assert(strstr(buf, "<td>Edge-9 &quot;rack 4&quot; \\ a&amp;b</td>"), "%s", buf);
	cr_assert(strstr(buf, "<td>&lt;img src=x onerror=alert(1)&gt;</td>"), "a name is text");
	cr_assert_null(strstr(buf, "<img"), "no markup from a name");
	cr_assert(strstr(buf, "<tr><td>192.0.2.3</td><td></td>"), "no name: an empty cell");
	cr_assert(strstr(buf, " 1&ndash;3 of 3 "), "%s", buf);
	cr_assert_null(strstr(buf, "next &rarr;"), "one page: no next");
	cr_assert_null(strstr(buf, "previous"));
}

Test(page, down_list_pages_keep_the_search_and_say_when_nothing_matches)
{
	struct rp_down_entry v[2];
	struct rp_health_snapshot s = sample();
	struct rp_page_down d = {.on = true,
				 .v = v,
				 .n = 2,
				 .offset = 2,
				 .limit = 2,
				 .matched = 7,
				 .listed = 9,
				 .total = 12,
				 .q = "a\"b&c 1",
				 .now_ns = NOW_NS};
	static char buf[65536];

	down_sample(v, 2);
	rp_page_html(&s, &d, buf, sizeof(buf));
	cr_assert(strstr(buf,
			 ">12</span> down now (the oldest 9 listed); 7 match &ldquo;a&quot;b&amp;c "
			 "1&rdquo;"),
		  "%s", buf);
	cr_assert(strstr(buf, "value=\"a&quot;b&amp;c 1\""), "the search stays in its box");
	cr_assert(
	    strstr(buf, "<a href=\"/?q=a%22b%26c%201&amp;offset=0#s-down\">&larr; previous</a>"),
	    "%s", buf);
	cr_assert(strstr(buf, "<a href=\"/?q=a%22b%26c%201&amp;offset=4#s-down\">next &rarr;</a>"),
		  "%s", buf);
	cr_assert(strstr(buf, " 3&ndash;4 of 7 "));
	d.n = 0;
	d.offset = 0;
	d.matched = 0;
	rp_page_html(&s, &d, buf, sizeof(buf));
	cr_assert(strstr(buf, "No device down matches."), "%s", buf);
	d.q = "";
	d.total = d.listed = 0;
	rp_page_html(&s, &d, buf, sizeof(buf));
	cr_assert(strstr(buf, "No device is down."));
	d.on = false;
	rp_page_html(&s, &d, buf, sizeof(buf));
	cr_assert(strstr(buf, "Device states are off"));
	cr_assert_null(strstr(buf, "<form"), "no search without a list");
}

Test(page, down_search_matches_address_or_name_ignoring_case)
{
	struct rp_down_entry v[3];
	char url[256];

	down_sample(v, 3);
	cr_assert(rp_down_match(&v[0], ""));
	cr_assert(rp_down_match(&v[0], "CORE1"));
	cr_assert(rp_down_match(&v[2], "0.2.3"));
	cr_assert_not(rp_down_match(&v[2], "core"), "no name, not its address nor sysName");
	cr_assert(rp_down_match(&v[2], "EDGE-9 \"rack"), "its sysName, ignoring case");
	cr_assert(rp_down_match(&v[0], "1-sw"));
	cr_assert_not(rp_down_match(&v[0], "edge"));
	v[2].sysname = NULL;
	cr_assert_not(rp_down_match(&v[2], "edge"), "no sysName known");
	cr_assert_not(rp_down_match(&v[0], "0.2.3"));
	v[1].tags = ",name=x,site=ams\\ 1,role=core";
	cr_assert(rp_down_match(&v[1], "SITE=AMS 1"), "a tag, its escapes read");
	cr_assert(rp_down_match(&v[1], "role=core"));
	cr_assert(rp_down_match(&v[1], "ams 1,role"), "across tags, as written");
	cr_assert_not(rp_down_match(&v[1], "ams\\ 1"), "the escape is not part of the value");
	cr_assert_not(rp_down_match(&v[1], "edge"));
	v[1].tags = NULL;
	cr_assert(rp_down_query_ok("2001:db8::/ x"));
	cr_assert_not(rp_down_query_ok("tab\there"));
	cr_assert_not(rp_down_query_ok("caf\xc3\xa9"));
	memset(url, 'a', 64);
	url[64] = '\0';
	cr_assert(rp_down_query_ok(url), "64 bytes is the limit");
	url[64] = 'a';
	url[65] = '\0';
	cr_assert_not(rp_down_query_ok(url));
	cr_assert_eq(rp_down_url_query("a b/c~", url, sizeof(url)), 10);
	cr_assert_str_eq(url, "a%20b%2Fc~");
}

Test(page, served_page_and_api_search_the_published_down_list)
{
	struct rp_health_server *h = NULL;
	struct rp_health_snapshot s = sample();
	struct rp_down_entry v[120];
	char why[256] = "";
	uint16_t port;
	struct got *g;

	down_sample(v, 120);
	cr_assert_eq(rp_health_server_start(&h, "127.0.0.1", 0, why, sizeof(why)), 0, "%s", why);
	port = rp_health_server_port(h);
	rp_health_server_publish(h, &s);
	g = get(port, "/");
	cr_assert(strstr(g->body, "Device states are off"), "no list yet");
	cr_assert_eq(get(port, "/api/v1/down")->code, 404);
	rp_health_server_down_init(h, 200);
	rp_health_server_publish_down(h, v, 120, 130);
	g = get(port, "/");
	cr_assert_eq(g->code, 200);
	cr_assert(strstr(g->body, ">130</span> down now (the oldest 120 listed)."), "%s", g->body);
	cr_assert(strstr(g->body, " 1&ndash;50 of 120 "), "fifty rows a page");
	cr_assert(strstr(g->body, "offset=50#s-down\">next"));
	g = get(port, "/?offset=100");
	cr_assert(strstr(g->body, " 101&ndash;120 of 120 "), "%s", g->body);
	cr_assert(strstr(g->body, "<tr><td>192.0.2.101</td>"));
	/* 192.0.2.1, .10-.19 and .100-.120: 32 addresses hold "0.2.1" */
	g = get(port, "/?q=0.2.1");
	cr_assert(strstr(g->body, "; 32 match &ldquo;0.2.1&rdquo;"), "%s", g->body);
	g = get(port, "/?q=0.2.1&offset=30");
	cr_assert(strstr(g->body, " 31&ndash;32 of 32 "), "%s", g->body);
	cr_assert(strstr(g->body, "<tr><td>192.0.2.120</td>"));
	g = get(port, "/?q=CORE1");
	cr_assert(strstr(g->body, "<td>core1.example.net</td>"));
	cr_assert(strstr(g->body, " 1&ndash;1 of 1 "));
	g = get(port, "/api/v1/down?q=0.2.1&limit=10");
	cr_assert_eq(g->code, 200);
	cr_assert(strstr(g->body, "{\"total\":130,\"listed\":120,\"query\":\"0.2.1\","
				  "\"matched\":32,\"offset\":0,\"limit\":10,"),
		  "%s", g->body);
	cr_assert(strstr(g->body, "\"next\":\"/api/v1/down?offset=10&limit=10&q=0.2.1\""), "%s",
		  g->body);
	cr_assert_eq(get(port, "/api/v1/down?q=%09")->code, 400, "a control character");
	cr_assert_eq(get(port, "/?q=%C3%A9")->code, 400, "not ASCII");
	rp_health_server_stop(h);
}

/* The server looks each listed device's sysName up in the facts the control thread
 * keeps (never trusting an entry's own pointer): the page shows it as text in its column,
 * the search matches it, and /api/v1/down carries it JSON-escaped. */
Test(page, served_page_and_api_show_and_search_sysnames)
{
	struct rp_health_server *h = NULL;
	struct rp_health_snapshot s = sample();
	struct rp_facts *f = NULL;
	struct rp_down_entry v[3];
	char why[256] = "";
	uint16_t port;
	struct got *g;

	down_sample(v, 3);
	v[2].sysname = "not from the facts: ignored";
	cr_assert_eq(rp_facts_create(&f, 16), 0);
	rp_facts_set_sysname(f, &v[0].addr, "Core-SW-01");
	rp_facts_set_sysname(f, &v[1].addr, "<img src=x onerror=alert(1)></script><b>x \"q\" \\");
	cr_assert_eq(rp_health_server_start(&h, "127.0.0.1", 0, why, sizeof(why)), 0, "%s", why);
	port = rp_health_server_port(h);
	rp_health_server_publish(h, &s);
	rp_health_server_down_init(h, 16);
	rp_health_server_facts(h, f);
	rp_health_server_publish_down(h, v, 3, 3);
	g = get(port, "/");
	cr_assert(strstr(g->body, "<td>core1.example.net</td><td>Core-SW-01</td><td>"), "%s",
		  g->body);
	cr_assert(strstr(g->body, "<td>&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;&lt;b&gt;x "
				  "&quot;q&quot; \\</td>"),
		  "%s", g->body);
	cr_assert(strstr(g->body, "<tr><td>192.0.2.3</td><td></td><td></td><td>"),
		  "no sysName known: an empty cell, whatever the entry said: %s", g->body);
	cr_assert_null(strstr(g->body, "<img"));
	cr_assert_null(strstr(g->body, "<b>"));
	g = get(port, "/?q=core-sw");
	cr_assert(strstr(g->body, " 1&ndash;1 of 1 "), "%s", g->body);
	cr_assert(strstr(g->body, "<td>Core-SW-01</td>"));
	g = get(port, "/?q=ignored");
	cr_assert(strstr(g->body, "No device down matches."), "%s", g->body);
	g = get(port, "/api/v1/down?q=onerror");
	cr_assert_eq(g->code, 200);
	cr_assert(strstr(g->body, "\"matched\":1,"), "%s", g->body);
	cr_assert(strstr(g->body,
			 "\"name\":\"<img src=x onerror=alert(1)>\","
			 "\"sysname\":\"<img src=x onerror=alert(1)></script><b>x \\\"q\\\" "
			 "\\\\\",\"since\""),
		  "%s", g->body);
	g = get(port, "/api/v1/down");
	cr_assert(strstr(g->body, "{\"ip\":\"192.0.2.1\",\"name\":\"core1.example.net\","
				  "\"sysname\":\"Core-SW-01\",\"since\""),
		  "%s", g->body);
	cr_assert(strstr(g->body, "{\"ip\":\"192.0.2.3\",\"since\""), "no sysname key: %s",
		  g->body);
	/* the device left the fleet: its sysName goes with it */
	rp_facts_forget(f, &v[0].addr);
	g = get(port, "/api/v1/down");
	cr_assert(strstr(g->body, "{\"ip\":\"192.0.2.1\",\"name\":\"core1.example.net\","
				  "\"since\""),
		  "%s", g->body);
	rp_health_server_stop(h);
	rp_facts_destroy(f);
}
