/* /api/v1/down's JSON: one page of the devices that are down now. Pure (no clock, no
 * allocation), so tests and the server thread call it directly. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ringprobe/event.h"
#include "ringprobe/health.h"

/* Appends with snprintf's contract: *len counts what was needed, buf keeps what fits. */
__attribute__((format(printf, 4, 5))) static void put(char *buf, size_t cap, size_t *len,
						      const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
}

bool rp_down_query_ok(const char *q)
{
	size_t n = 0;

	for (; q[n]; n++)
		if (n >= RP_DOWN_QUERY_MAX || q[n] < 0x20 || q[n] > 0x7e)
			return false;
	return true;
}

/* Whether q is part of s, ignoring ASCII case. */
static bool contains(const char *s, const char *q)
{
	size_t qn = strlen(q);

	for (; *s; s++)
		if (strncasecmp(s, q, qn) == 0)
			return true;
	return qn == 0;
}

/* Whether q is part of a line protocol tag string t, ignoring ASCII case and reading
 * t's escapes (`\ `, `\,`, `\=`) as the characters they stand for. */
static bool contains_tags(const char *t, const char *q)
{
	for (; *t; t++) {
		const char *a = t, *b = q;

		while (*b) {
			if (*a == '\\' && a[1])
				a++;
			if (!*a || tolower((unsigned char)*a) != tolower((unsigned char)*b))
				break;
			a++;
			b++;
		}
		if (!*b)
			return true;
	}
	return false;
}

bool rp_down_match(const struct rp_down_entry *e, const char *q)
{
	char ip[RP_IP_STRLEN];

	if (!q || !*q)
		return true;
	rp_ip_format(&e->addr, ip);
	return contains(ip, q) || (e->name && contains(e->name, q)) ||
	       (e->sysname && contains(e->sysname, q)) || (e->tags && contains_tags(e->tags, q));
}

/* s as the inside of a JSON string: " and \ escaped, control bytes as \u00XX (a
 * sysName is sanitized already: this holds whatever comes). */
static void put_json_str(char *buf, size_t cap, size_t *len, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			put(buf, cap, len, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			put(buf, cap, len, "\\u%04x", *p);
		else
			put(buf, cap, len, "%c", *p);
	}
}

size_t rp_down_url_query(const char *q, char *buf, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = 0;

	for (const unsigned char *p = (const unsigned char *)q; *p; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
			     *p == '~';

		if (plain)
			put(buf, cap, &len, "%c", *p);
		else
			put(buf, cap, &len, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
	if (cap && !len)
		buf[0] = '\0';
	return len;
}

size_t rp_health_down_json(const struct rp_down_entry *page, uint32_t npage, uint32_t offset,
			   uint32_t listed, uint64_t total, uint32_t limit, const char *q,
			   uint32_t matched, uint64_t now_ns, char *buf, size_t cap)
{
	uint32_t end = offset + npage;
	char qurl[3 * RP_DOWN_QUERY_MAX + 1] = "";
	size_t len = 0;

	if (cap)
		buf[0] = '\0';
	if (!q || !*q) {
		q = NULL;
		matched = listed;
	}
	put(buf, cap, &len, "{\"total\":%" PRIu64 ",\"listed\":%" PRIu32, total, listed);
	if (q) { /* rp_down_query_ok: printable ASCII, so only " and \ need a backslash */
		put(buf, cap, &len, ",\"query\":\"");
		for (const char *p = q; *p; p++)
			put(buf, cap, &len, "%s%c", *p == '"' || *p == '\\' ? "\\" : "", *p);
		put(buf, cap, &len, "\",\"matched\":%" PRIu32, matched);
		rp_down_url_query(q, qurl, sizeof(qurl));
	}
	put(buf, cap, &len, ",\"offset\":%" PRIu32 ",\"limit\":%" PRIu32 ",\"devices\":[", offset,
	    limit);
	for (uint32_t i = offset; i < end; i++) {
		const struct rp_down_entry *e = &page[i - offset];
		char ip[RP_IP_STRLEN], when[32];
		time_t t = (time_t)(e->since_ns / 1000000000u);
		struct tm tm;

		rp_ip_format(&e->addr, ip);
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		put(buf, cap, &len, "%s{\"ip\":\"%s\"", i > offset ? "," : "", ip);
		if (e->name)
			put(buf, cap, &len, ",\"name\":\"%s\"", e->name);
		if (e->sysname && *e->sysname) {
			put(buf, cap, &len, ",\"sysname\":\"");
			put_json_str(buf, cap, &len, e->sysname);
			put(buf, cap, &len, "\"");
		}
		put(buf, cap, &len,
		    ",\"since\":\"%s.%03uZ\",\"since_ns\":%" PRIu64
		    ",\"down_for_s\":%.3f,\"reason\":\"%s\"}",
		    when, (unsigned)(e->since_ns / 1000000u % 1000u), e->since_ns,
		    now_ns > e->since_ns ? (double)(now_ns - e->since_ns) * 1e-9 : 0.0,
		    rp_state_reason_name(e->reason));
	}
	put(buf, cap, &len, "]");
	if (end < matched && limit) /* limit 0 asks only how many */
		put(buf, cap, &len,
		    ",\"next\":\"/api/v1/down?offset=%" PRIu32 "&limit=%" PRIu32 "%s%s\"", end,
		    limit, q ? "&q=" : "", qurl);
	put(buf, cap, &len, "}\n");
	return len;
}
