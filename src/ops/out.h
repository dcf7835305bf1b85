/* A bounded text writer with snprintf's contract, for the renderers of src/ops
 * (health.c's /health and /metrics, page.c's page and summary): `len` counts what was
 * needed, the buffer holds the longest prefix that fits, always NUL-terminated when
 * cap > 0. Pure: no allocation. Private to src/ops. */
#ifndef RP_OPS_OUT_H
#define RP_OPS_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "ringprobe/compiler.h"

struct rp_out {
	char *buf;
	size_t cap;
	size_t len;
};

/** An empty writer over buf[0..cap) (buf[0] = '\0' when cap > 0). */
struct rp_out rp_out_init(char *buf, size_t cap);
void rp_out_put(struct rp_out *o, const char *fmt, ...) RP_PRINTF(2, 3);
void rp_out_char(struct rp_out *o, char c);
void rp_out_bytes(struct rp_out *o, const char *s, size_t n);
/** s as a JSON string: quotes, backslash-escaped '"' and '\\', \u00XX for controls. */
void rp_out_json_string(struct rp_out *o, const char *s, size_t n);
/** v with its thousands grouped by commas ("1,048,574"), as the page's script groups. */
void rp_out_grouped(struct rp_out *o, uint64_t v);
/** The length of a string field: up to its NUL, or n when it has none. */
size_t rp_out_field_len(const char *s, size_t n);

#endif
