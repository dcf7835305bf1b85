/* InfluxDB line protocol encoder
 * (https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/).
 * Pure: no I/O, no clock reads, no allocation. It appends to a caller-owned buffer
 * of fixed capacity; a point that does not fit leaves the buffer unchanged.
 *
 * Strings that come from devices are untrusted: control characters are removed,
 * invalid UTF-8 is replaced by U+FFFD, the length is capped, and the result is
 * escaped by the rules of its position, so no value can start a new line, tag or
 * field. */
#ifndef RP_LINE_H
#define RP_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringprobe/result.h"

/** A buffer of encoded points. `data` is owned by whoever made the buffer (the pool). */
struct rp_linebuf {
	char *data;
	size_t len;
	size_t cap;
	uint32_t points;
};

enum rp_field_type { RP_FIELD_FLOAT, RP_FIELD_INT, RP_FIELD_UINT, RP_FIELD_BOOL, RP_FIELD_STRING };

/** One field of a point. */
struct rp_field {
	const char *key;
	enum rp_field_type type;
	union {
		double f;
		int64_t i;
		uint64_t u;
		bool b;
		const char *s;
	} v;
};

/** One tag of a point. */
struct rp_tag {
	const char *key;
	const char *value;
};

/** Longest line rp_line_ping() appends, newline included: a failure's with the longest
 *  error (39-byte IPv6 address, error="unreachable:fragmentation", 19-digit time). The
 *  longest without an error, a reply's (21-byte rtt_ms), is RP_LINE_PING_REPLY_MAX;
 *  78 for the longest IPv4 address. */
#define RP_LINE_PING_MAX 132
#define RP_LINE_PING_REPLY_MAX 126
/** Longest `name` tag rp_line_ping() takes (a DNS name); a named line is longer by the
 *  name and ",name=". */
#define RP_LINE_NAME_MAX 253
/** Most tags one rp_line_point() call takes (duplicate keys are checked among them). */
#define RP_LINE_MAX_TAGS 64

/** Appends one point; returns 0, -ENOSPC (buffer unchanged) or -EINVAL (no fields,
 *  or a non-finite float). `max_string` caps each string after sanitizing (bytes).
 *  Also -EINVAL: uint over INT64_MAX, empty or `#` measurement, empty or duplicate key. */
int rp_line_point(struct rp_linebuf *b, const char *measurement, const struct rp_tag *tags,
		  size_t ntags, const struct rp_field *fields, size_t nfields, uint64_t ts_ns,
		  size_t max_string);
/** Longest pre-escaped tag string (rp_line_tags) a device's points take: a name and
 *  RP_TAGS_TEXT_MAX bytes of static tags, each byte escaped at worst. */
#define RP_LINE_TAGS_MAX 1600
/** Appends a `ping` point for one probe result (the hot case, no generic machinery):
 *  ping,ip=ADDR[TAGS] rtt_ms=F,success=B,suspended=B TS   (rtt_ms absent on failure;
 *  a failure an ICMP error caused has error="CLASS" (rp_icmp_err_name) in its place,
 *  and only then; ADDR a dotted quad or RFC 5952 text; TAGS the device's pre-escaped tags as
 *  rp_line_tags wrote them (",name=NAME,site=ams1"), NULL for none; one not starting
 *  with ',' or longer than RP_LINE_TAGS_MAX is -EINVAL). */
int rp_line_ping(struct rp_linebuf *b, const struct rp_probe_result *r, const char *tags);
/** Same as rp_line_point, with `raw` (pre-escaped tags from rp_line_tags, or NULL)
 *  written after `tags`. */
int rp_line_point_tagged(struct rp_linebuf *b, const char *measurement, const struct rp_tag *tags,
			 size_t ntags, const char *raw, const struct rp_field *fields,
			 size_t nfields, uint64_t ts_ns, size_t max_string);
/** Writes tags as ",k=v,k=v" escaped for line protocol (tags with an empty value left
 *  out) into dst as a C string; its length, or 0 when it does not fit in size or
 *  RP_LINE_TAGS_MAX (or there is nothing to write). Keys are not checked here. */
size_t rp_line_tags(char *dst, size_t size, const struct rp_tag *tags, size_t ntags);
/** Copies `len` untrusted bytes (NULs allowed: SNMP OCTET STRINGs) to `dst` as a C string, cleaned
 *  like a value and cut to min(max_string, size - 1) bytes; returns its length. */
size_t rp_line_sanitize(char *dst, size_t size, const char *src, size_t len, size_t max_string);

/** Empties a buffer (keeps data and cap). */
static inline void rp_line_reset(struct rp_linebuf *b)
{
	b->len = 0;
	b->points = 0;
}

#endif
