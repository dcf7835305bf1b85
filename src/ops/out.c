/* The bounded text writer of src/ops/out.h. */
#include "ops/out.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct rp_out rp_out_init(char *buf, size_t cap)
{
	if (cap)
		buf[0] = '\0';
	return (struct rp_out){buf, cap, 0};
}

void rp_out_put(struct rp_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (o->len < o->cap)
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	else
		n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

void rp_out_char(struct rp_out *o, char c)
{
	if (o->len + 1 < o->cap) {
		o->buf[o->len] = c;
		o->buf[o->len + 1] = '\0';
	} else if (o->len < o->cap) {
		o->buf[o->len] = '\0';
	}
	o->len++;
}

void rp_out_bytes(struct rp_out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len - 1, k = n < room ? n : room;

		memcpy(o->buf + o->len, s, k);
		o->buf[o->len + k] = '\0';
	}
	o->len += n;
}

void rp_out_grouped(struct rp_out *o, uint64_t v)
{
	char d[24];
	int n = snprintf(d, sizeof(d), "%" PRIu64, v);

	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			rp_out_bytes(o, ",", 1);
		rp_out_bytes(o, d + i, 1);
	}
}

void rp_out_json_string(struct rp_out *o, const char *s, size_t n)
{
	rp_out_char(o, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			rp_out_char(o, '\\');
			rp_out_char(o, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			rp_out_put(o, "\\u%04x", c);
		} else {
			rp_out_char(o, (char)c);
		}
	}
	rp_out_char(o, '"');
}

size_t rp_out_field_len(const char *s, size_t n)
{
	const char *nul = memchr(s, '\0', n);

	return nul ? (size_t)(nul - s) : n;
}
