/* The fleet page at `/` and its JSON under /api/v1/, rendered from one health
 * snapshot into the caller's buffer; and the page's built-in script and stylesheet.
 * Pure (no allocation, no clock, no I/O): the server thread calls it on its own copy of
 * the snapshot, the tests call it directly. Private to src/ops. */
#ifndef RP_OPS_PAGE_H
#define RP_OPS_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "ringprobe/health.h"

/** The page as HTML: every figure in a plain table, so it reads with scripts off; the
 *  script (/page.js) refreshes the same cells from /api/v1/summary. Returns the length
 *  it needed (as snprintf does). */
size_t rp_page_html(const struct rp_health_snapshot *s, char *buf, size_t cap);
/** /api/v1/summary: {"status", "reasons", "version", "time", then one object per
 *  section ("fleet", "sweeps", "probes", "writer", "snmp", "daemon") of the figures the
 *  page shows}. Returns the length it needed. */
size_t rp_page_summary_json(const struct rp_health_snapshot *s, char *buf, size_t cap);

/** A built-in file by its path ("/page.js", "/page.css"): its bytes and content type;
 *  false for any other path. */
bool rp_page_asset(const char *path, const unsigned char **data, size_t *len, const char **type);

/** Writes s[0..n) as HTML text (& < > " ' escaped, control characters and invalid
 *  UTF-8 as U+FFFD) into buf; returns the length it needed. Any string from outside
 *  (a sysName, a tag, a name) goes through this before it reaches the page. */
size_t rp_page_escape(const char *s, size_t n, char *buf, size_t cap);

#endif
