/* The fleet page at `/` and its JSON under /api/v1/, rendered from one health
 * snapshot into the caller's buffer; and the page's built-in script and stylesheet.
 * Pure (no allocation, no clock, no I/O): the server thread calls it on its own copy of
 * the snapshot, the tests call it directly. Private to src/ops. */
#ifndef RP_OPS_PAGE_H
#define RP_OPS_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "ringprobe/health.h"

/** One page of the devices down now, for the page's "Down now" section. */
struct rp_page_down {
	bool on;		       /* device states are kept (else the section says so) */
	const struct rp_down_entry *v; /* this page's entries */
	uint32_t n, offset, limit;     /* n of at most limit, from the offset-th match */
	uint32_t matched;	       /* entries the search matched (all listed: none) */
	uint32_t listed;	       /* entries on the list (it is bounded) */
	uint64_t total;		       /* devices down now in all */
	const char *q;		       /* the search, "" for none (rp_down_query_ok) */
	uint64_t now_ns;	       /* CLOCK_REALTIME */
};

/** The page as HTML: every figure in a plain table, and the devices down now (a
 *  search form and links to the next and previous pages), so it reads with scripts
 *  off; the script (/page.js) refreshes the figures from /api/v1/summary. `down` NULL
 *  leaves that section out. Returns the length it needed (as snprintf does). */
size_t rp_page_html(const struct rp_health_snapshot *s, const struct rp_page_down *down, char *buf,
		    size_t cap);
struct rp_page_dist; /* ops/page_dist.h */
/** The page with the RTT distribution and loss-by-network sections after the down
 *  list (`dist` NULL: without them, as rp_page_html). */
size_t rp_page_html_dist(const struct rp_health_snapshot *s, const struct rp_page_down *down,
			 const struct rp_page_dist *dist, char *buf, size_t cap);
/** /api/v1/summary: {"status", "reasons", "version", "time", then one object per
 *  section ("fleet", "sweeps", "probes", "writer", "snmp", "daemon") of the figures the
 *  page shows}. Returns the length it needed. */
size_t rp_page_summary_json(const struct rp_health_snapshot *s, char *buf, size_t cap);

/** A built-in file by its path ("/page.js", "/dist.js", "/page.css"): its bytes and content type;
 *  false for any other path. */
bool rp_page_asset(const char *path, const unsigned char **data, size_t *len, const char **type);

/** Writes s[0..n) as HTML text (& < > " ' escaped, control characters and invalid
 *  UTF-8 as U+FFFD) into buf; returns the length it needed. Any string from outside
 *  (a sysName, a tag, a name) goes through this before it reaches the page. */
size_t rp_page_escape(const char *s, size_t n, char *buf, size_t cap);

#endif
