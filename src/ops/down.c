/* /api/v1/down's JSON: one page of the devices that are down now. Pure (no clock, no
 * allocation), so tests and the server thread call it directly. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
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

size_t rp_health_down_json(const struct rp_down_entry *page, uint32_t npage, uint32_t offset,
			   uint32_t listed, uint64_t total, uint32_t limit, uint64_t now_ns,
			   char *buf, size_t cap)
{
	uint32_t end = offset + npage;
	size_t len = 0;

	if (cap)
		buf[0] = '\0';
	put(buf, cap, &len,
	    "{\"total\":%" PRIu64 ",\"listed\":%" PRIu32 ",\"offset\":%" PRIu32
	    ",\"limit\":%" PRIu32 ",\"devices\":[",
	    total, listed, offset, limit);
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
		put(buf, cap, &len,
		    ",\"since\":\"%s.%03uZ\",\"since_ns\":%" PRIu64
		    ",\"down_for_s\":%.3f,\"reason\":\"%s\"}",
		    when, (unsigned)(e->since_ns / 1000000u % 1000u), e->since_ns,
		    now_ns > e->since_ns ? (double)(now_ns - e->since_ns) * 1e-9 : 0.0,
		    rp_state_reason_name(e->reason));
	}
	put(buf, cap, &len, "]");
	if (end < listed && limit) /* limit 0 asks only how many */
		put(buf, cap, &len,
		    ",\"next\":\"/api/v1/down?offset=%" PRIu32 "&limit=%" PRIu32 "\"", end, limit);
	put(buf, cap, &len, "}\n");
	return len;
}
