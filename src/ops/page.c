/* The fleet page (`/`) and /api/v1/summary from one health snapshot, and the page's
 * built-in assets. One table (`rows`) says which snapshot figures the page shows, under
 * which section, JSON key and label, so the HTML, the JSON and the script's cells
 * (data-k="section.key") cannot drift apart. */
#include "ops/page.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ops/out.h"
#include "ops/page_dist.h"
#include "ringprobe/event.h"

/* page_assets.c, generated from src/ops/page/ by embed.py. */
extern const unsigned char rp_asset_page_js[];
extern const size_t rp_asset_page_js_len;
extern const unsigned char rp_asset_page_css[];
extern const size_t rp_asset_page_css_len;
extern const unsigned char rp_asset_dist_js[];
extern const size_t rp_asset_dist_js_len;

enum kind { K_U64, K_U32, K_DBL, K_BOOL, K_BYTES, K_SECONDS };

struct row {
	const char *section;
	const char *key;
	const char *label;
	size_t off;
	enum kind kind;
};

struct section {
	const char *id;
	const char *title;
};

static const struct section sections[] = {
    {"fleet", "Fleet"},	  {"sweeps", "Discovery"}, {"probes", "Probes"},
    {"writer", "Writer"}, {"snmp", "SNMP"},	   {"daemon", "Daemon"},
};

#define OFF(m) offsetof(struct rp_health_snapshot, m)

static const struct row rows[] = {
    {"fleet", "devices", "devices", OFF(devices), K_U64},
    {"fleet", "active", "probed (not suspended)", OFF(active), K_U64},
    {"fleet", "suspended", "suspended (no reply)", OFF(suspended), K_U64},
    {"fleet", "discovered", "found by sweeps", OFF(discovered), K_U64},
    {"fleet", "evicted", "evicted at max_devices", OFF(evicted), K_U64},
    {"fleet", "pruned", "pruned after prune_after", OFF(pruned), K_U64},
    {"fleet", "names", "DNS names", OFF(names), K_U32},
    {"fleet", "names_failing", "names not resolving", OFF(names_failing), K_U32},
    {"sweeps", "completed", "sweeps completed", OFF(sweeps), K_U64},
    {"sweeps", "probes", "sweep probes sent", OFF(sweep_probes), K_U64},
    {"probes", "sent", "echo requests sent", OFF(probes_sent), K_U64},
    {"probes", "replies", "replies in time", OFF(replies), K_U64},
    {"probes", "timeouts", "timeouts", OFF(timeouts), K_U64},
    {"probes", "late_sends", "sent more than 10 ms late", OFF(late_sends), K_U64},
    {"probes", "send_errors", "send errors", OFF(send_errors), K_U64},
    {"probes", "ring_drops", "results lost (ring full)", OFF(ring_drops), K_U64},
    {"probes", "kernel_rx_drops", "replies the kernel dropped", OFF(kernel_rx_drops), K_U64},
    {"probes", "rate_limit_pps", "rate limit, probes/s", OFF(rate_limit_pps), K_DBL},
    {"probes", "needed_pps", "rate the fleet needs, probes/s", OFF(needed_pps), K_DBL},
    {"writer", "points_written", "points written", OFF(points_written), K_U64},
    {"writer", "points_dropped", "points dropped", OFF(points_dropped), K_U64},
    {"writer", "spool_points", "points waiting in the spool", OFF(spool_points), K_U64},
    {"writer", "spool_bytes", "spool size", OFF(spool_bytes), K_BYTES},
    {"writer", "batches_failed", "batches failed", OFF(batches_failed), K_U64},
    {"writer", "sink_down", "sink down", OFF(sink_down), K_BOOL},
    {"snmp", "devices", "devices with SNMP", OFF(snmp_devices), K_U64},
    {"snmp", "polls", "polls", OFF(snmp_polls), K_U64},
    {"snmp", "ok", "answered", OFF(snmp_ok), K_U64},
    {"snmp", "timeouts", "timed out", OFF(snmp_timeouts), K_U64},
    {"daemon", "uptime_s", "up for", OFF(uptime_s), K_SECONDS},
    {"daemon", "cpu_seconds", "CPU seconds", OFF(cpu_seconds), K_DBL},
    {"daemon", "rss_bytes", "memory (RSS)", OFF(rss_bytes), K_BYTES},
    {"daemon", "shards", "probe shards", OFF(shards), K_U32},
    {"daemon", "ready", "ready", OFF(ready), K_BOOL},
};

/* The next code point of s[0..n) and its length; -1 (length 1) for a byte that does
 * not start a valid, shortest-form UTF-8 sequence. */
static int32_t next_cp(const unsigned char *s, size_t n, size_t *len)
{
	uint32_t cp;
	size_t k;

	*len = 1;
	if (s[0] < 0x80)
		return s[0];
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4, cp = s[0] & 0x07u;
	else
		return -1;
	if (k > n)
		return -1;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = k;
	return (int32_t)cp;
}

/* Characters that would change how the text around them reads: C0 and C1 controls
 * (tab aside), DEL, and the bidirectional overrides and isolates. */
static bool unsafe_cp(int32_t cp)
{
	return cp < 0 || (cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp <= 0x9f) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static void put_escaped(struct rp_out *o, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t len;
		int32_t cp = next_cp(p + i, n - i, &len);

		if (unsafe_cp(cp))
			rp_out_bytes(o, "&#xFFFD;", 8);
		else if (cp == '&')
			rp_out_bytes(o, "&amp;", 5);
		else if (cp == '<')
			rp_out_bytes(o, "&lt;", 4);
		else if (cp == '>')
			rp_out_bytes(o, "&gt;", 4);
		else if (cp == '"')
			rp_out_bytes(o, "&quot;", 6);
		else if (cp == '\'')
			rp_out_bytes(o, "&#39;", 5);
		else
			rp_out_bytes(o, s + i, len);
		i += len;
	}
}

size_t rp_page_escape(const char *s, size_t n, char *buf, size_t cap)
{
	struct rp_out o = rp_out_init(buf, cap);

	put_escaped(&o, s, n);
	return o.len;
}

/* A figure as JSON: a number, or true/false. */
static void put_json_value(struct rp_out *o, const struct rp_health_snapshot *s,
			   const struct row *r)
{
	const char *p = (const char *)s + r->off;

	switch (r->kind) {
	case K_U64:
	case K_BYTES: {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		rp_out_put(o, "%" PRIu64, v);
		break;
	}
	case K_U32: {
		uint32_t v;

		memcpy(&v, p, sizeof(v));
		rp_out_put(o, "%" PRIu32, v);
		break;
	}
	case K_DBL:
	case K_SECONDS: {
		double v;

		memcpy(&v, p, sizeof(v));
		rp_out_put(o, "%.3f", isfinite(v) ? v : 0.0);
		break;
	}
	case K_BOOL: {
		bool v;

		memcpy(&v, p, sizeof(v));
		rp_out_put(o, "%s", v ? "true" : "false");
		break;
	}
	}
}

/* A figure as the page shows it before the script runs (page.js formats alike). */
static void put_text_value(struct rp_out *o, const struct rp_health_snapshot *s,
			   const struct row *r)
{
	const char *p = (const char *)s + r->off;
	uint64_t u;
	double d;
	bool b;

	switch (r->kind) {
	case K_U64:
		memcpy(&u, p, sizeof(u));
		rp_out_grouped(o, u);
		break;
	case K_U32: {
		uint32_t v;

		memcpy(&v, p, sizeof(v));
		rp_out_grouped(o, v);
		break;
	}
	case K_BYTES:
		memcpy(&u, p, sizeof(u));
		if (u >= 1024 * 1024)
			rp_out_put(o, "%.1f MiB", (double)u / (1024.0 * 1024.0));
		else if (u >= 1024)
			rp_out_put(o, "%.1f KiB", (double)u / 1024.0);
		else
			rp_out_put(o, "%" PRIu64 " B", u);
		break;
	case K_DBL: {
		uint64_t tenths;

		memcpy(&d, p, sizeof(d));
		tenths = isfinite(d) && d > 0 && d < 1e17 ? (uint64_t)llround(d * 10.0) : 0;
		rp_out_grouped(o, tenths / 10);
		rp_out_put(o, ".%u", (unsigned)(tenths % 10));
		break;
	}
	case K_SECONDS: {
		uint64_t t;

		memcpy(&d, p, sizeof(d));
		t = isfinite(d) && d > 0 ? (uint64_t)d : 0;
		if (t >= 86400)
			rp_out_put(o, "%" PRIu64 "d %" PRIu64 "h", t / 86400, t % 86400 / 3600);
		else if (t >= 3600)
			rp_out_put(o, "%" PRIu64 "h %" PRIu64 "m", t / 3600, t % 3600 / 60);
		else if (t >= 60)
			rp_out_put(o, "%" PRIu64 "m %" PRIu64 "s", t / 60, t % 60);
		else
			rp_out_put(o, "%" PRIu64 "s", t);
		break;
	}
	case K_BOOL:
		memcpy(&b, p, sizeof(b));
		rp_out_put(o, "%s", b ? "yes" : "no");
		break;
	}
}

static void put_reasons_json(struct rp_out *o, uint32_t reasons)
{
	bool first = true;

	rp_out_put(o, "[");
	for (unsigned i = 0; i < RP_HEALTH_REASON_COUNT; i++)
		if (reasons & (1u << i)) {
			rp_out_put(o, "%s\"%s\"", first ? "" : ",", rp_health_reason_name(1u << i));
			first = false;
		}
	rp_out_put(o, "]");
}

size_t rp_page_summary_json(const struct rp_health_snapshot *s, char *buf, size_t cap)
{
	struct rp_out o = rp_out_init(buf, cap);

	rp_out_put(&o, "{\"status\":\"%s\",\"reasons\":", s->reasons ? "degraded" : "ok");
	put_reasons_json(&o, s->reasons);
	rp_out_put(&o, ",\"version\":");
	rp_out_json_string(&o, s->version, rp_out_field_len(s->version, sizeof(s->version)));
	rp_out_put(&o, ",\"time\":%.3f", (double)s->time_ns / 1e9);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		bool first = true;

		rp_out_put(&o, ",\"%s\":{", sections[i].id);
		for (size_t j = 0; j < sizeof(rows) / sizeof(rows[0]); j++) {
			if (strcmp(rows[j].section, sections[i].id) != 0)
				continue;
			rp_out_put(&o, "%s\"%s\":", first ? "" : ",", rows[j].key);
			put_json_value(&o, s, &rows[j]);
			first = false;
		}
		rp_out_put(&o, "}");
	}
	rp_out_put(&o, "}\n");
	return o.len;
}

/* A duration as its two largest units: "3d 4h", "2h 5m", "4m 10s", "12s". */
static void put_span(struct rp_out *o, uint64_t ns)
{
	uint64_t s = ns / 1000000000u;

	if (s >= 86400)
		rp_out_put(o, "%llud %lluh", (unsigned long long)(s / 86400),
			   (unsigned long long)(s % 86400 / 3600));
	else if (s >= 3600)
		rp_out_put(o, "%lluh %llum", (unsigned long long)(s / 3600),
			   (unsigned long long)(s % 3600 / 60));
	else if (s >= 60)
		rp_out_put(o, "%llum %llus", (unsigned long long)(s / 60),
			   (unsigned long long)(s % 60));
	else
		rp_out_put(o, "%llus", (unsigned long long)s);
}

/* A link to another page of the down list (the search kept). */
static void put_down_link(struct rp_out *o, const struct rp_page_down *d, uint32_t offset,
			  const char *text)
{
	char q[3 * RP_DOWN_QUERY_MAX + 1];

	rp_down_url_query(d->q, q, sizeof(q));
	rp_out_put(o, "<a href=\"/?%s%s%soffset=%u#s-down\">%s</a>", *q ? "q=" : "", q,
		   *q ? "&amp;" : "", (unsigned)offset, text);
}

static void put_down(struct rp_out *o, const struct rp_page_down *d)
{
	rp_out_put(o, "<section id=\"s-down\">\n<h2>Down now</h2>\n");
	if (!d->on) {
		rp_out_put(o, "<p>Device states are off (<code>output.states: false</code>): "
			      "nothing is counted as down.</p>\n</section>\n");
		return;
	}
	rp_out_put(o, "<p><span id=\"down-total\">%llu</span> down now",
		   (unsigned long long)d->total);
	if (d->total > d->listed)
		rp_out_put(o, " (the oldest %u listed)", (unsigned)d->listed);
	if (*d->q) {
		rp_out_put(o, "; %u match &ldquo;", (unsigned)d->matched);
		put_escaped(o, d->q, strlen(d->q));
		rp_out_put(o, "&rdquo; (<a href=\"/#s-down\">all</a>)");
	}
	rp_out_put(o,
		   ".</p>\n<form method=\"get\" action=\"/\"><label>Address, name, sysName or tag "
		   "<input type=\"search\" name=\"q\" maxlength=\"%d\" value=\"",
		   RP_DOWN_QUERY_MAX);
	put_escaped(o, d->q, strlen(d->q));
	rp_out_put(o, "\"></label> <button type=\"submit\">Search</button></form>\n");
	if (!d->n) {
		rp_out_put(o, "<p id=\"down-none\">%s</p>\n</section>\n",
			   d->offset && d->offset >= d->matched ? "No more devices on this page."
			   : *d->q				? "No device down matches."
								: "No device is down.");
		return;
	}
	rp_out_put(o, "<table id=\"down\">\n<thead><tr><th scope=\"col\">Address</th>"
		      "<th scope=\"col\">Name</th><th scope=\"col\">sysName</th>"
		      "<th scope=\"col\">Down since (UTC)</th>"
		      "<th scope=\"col\">For</th><th scope=\"col\">Reason</th></tr></thead>\n"
		      "<tbody>\n");
	for (uint32_t i = 0; i < d->n; i++) {
		const struct rp_down_entry *e = &d->v[i];
		char ip[RP_IP_STRLEN], when[32];
		time_t t = (time_t)(e->since_ns / 1000000000u);
		struct tm tm;

		rp_ip_format(&e->addr, ip);
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		rp_out_put(o, "<tr><td>%s</td><td>", ip);
		if (e->name)
			put_escaped(o, e->name, strlen(e->name));
		rp_out_put(o, "</td><td>");
		if (e->sysname) /* from the network: text, never markup */
			put_escaped(o, e->sysname, strlen(e->sysname));
		rp_out_put(o, "</td><td>%s</td><td>", when);
		put_span(o, d->now_ns > e->since_ns ? d->now_ns - e->since_ns : 0);
		rp_out_put(o, "</td><td>%s</td></tr>\n", rp_state_reason_name(e->reason));
	}
	rp_out_put(o, "</tbody>\n</table>\n<p class=\"pager\">");
	if (d->offset)
		put_down_link(o, d, d->offset > d->limit ? d->offset - d->limit : 0,
			      "&larr; previous");
	rp_out_put(o, " %u&ndash;%u of %u ", (unsigned)d->offset + 1, (unsigned)(d->offset + d->n),
		   (unsigned)d->matched);
	if (d->offset + d->n < d->matched)
		put_down_link(o, d, d->offset + d->n, "next &rarr;");
	rp_out_put(o,
		   " &middot; JSON: <a href=\"/api/v1/down\">/api/v1/down</a></p>\n</section>\n");
}

size_t rp_page_html(const struct rp_health_snapshot *s, const struct rp_page_down *down, char *buf,
		    size_t cap)
{
	return rp_page_html_dist(s, down, NULL, buf, cap);
}

size_t rp_page_html_dist(const struct rp_health_snapshot *s, const struct rp_page_down *down,
			 const struct rp_page_dist *dist, char *buf, size_t cap)
{
	struct rp_out o = rp_out_init(buf, cap);
	size_t vlen = rp_out_field_len(s->version, sizeof(s->version));

	rp_out_put(&o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		       "<title>ringprobe</title>\n<link rel=\"stylesheet\" href=\"/page.css\">\n"
		       "<script src=\"/page.js\" defer></script>\n"
		       "<script src=\"/dist.js\" defer></script>\n"
		       /* Without scripts the page reloads itself instead. */
		       "<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>\n"
		       "</head>\n<body>\n<header>\n<h1>ringprobe</h1>\n");
	rp_out_put(&o, "<p><span id=\"status\" class=\"%s\">%s</span>",
		   s->reasons ? "degraded" : "ok", s->reasons ? "degraded" : "ok");
	rp_out_put(&o, " <span id=\"reasons\">");
	for (unsigned i = 0, first = 1; i < RP_HEALTH_REASON_COUNT; i++)
		if (s->reasons & (1u << i)) {
			rp_out_put(&o, "%s%s", first ? "" : ", ", rp_health_reason_name(1u << i));
			first = 0;
		}
	rp_out_put(&o, "</span> &middot; version <span id=\"version\">");
	put_escaped(&o, s->version, vlen);
	rp_out_put(&o,
		   "</span> &middot; <span id=\"updated\" data-time=\"%.3f\">snapshot of %.0f s "
		   "after the epoch</span></p>\n</header>\n<main>\n",
		   (double)s->time_ns / 1e9, (double)s->time_ns / 1e9);
	if (down) /* what is down first, across the page */
		put_down(&o, down);
	if (dist) /* then RTTs and loss by network (page_dist.c) */
		rp_page_dist_sections(&o, dist);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		rp_out_put(&o, "<section id=\"s-%s\">\n<h2>%s</h2>\n<table>\n", sections[i].id,
			   sections[i].title);
		for (size_t j = 0; j < sizeof(rows) / sizeof(rows[0]); j++) {
			if (strcmp(rows[j].section, sections[i].id) != 0)
				continue;
			rp_out_put(
			    &o, "<tr><th scope=\"row\">%s</th><td data-k=\"%s.%s\" data-f=\"%d\">",
			    rows[j].label, rows[j].section, rows[j].key, (int)rows[j].kind);
			put_text_value(&o, s, &rows[j]);
			rp_out_put(&o, "</td></tr>\n");
		}
		rp_out_put(&o, "</table>\n</section>\n");
	}
	rp_out_put(&o, "</main>\n<footer><p>JSON: <a href=\"/api/v1/summary\">/api/v1/summary</a>, "
		       "<a href=\"/health\">/health</a>; Prometheus: <a "
		       "href=\"/metrics\">/metrics</a></p></footer>\n</body>\n</html>\n");
	return o.len;
}

bool rp_page_asset(const char *path, const unsigned char **data, size_t *len, const char **type)
{
	if (strcmp(path, "/page.js") == 0) {
		*data = rp_asset_page_js;
		*len = rp_asset_page_js_len;
		*type = "text/javascript; charset=utf-8";
		return true;
	}
	if (strcmp(path, "/dist.js") == 0) {
		*data = rp_asset_dist_js;
		*len = rp_asset_dist_js_len;
		*type = "text/javascript; charset=utf-8";
		return true;
	}
	if (strcmp(path, "/page.css") == 0) {
		*data = rp_asset_page_css;
		*len = rp_asset_page_css_len;
		*type = "text/css; charset=utf-8";
		return true;
	}
	return false;
}
