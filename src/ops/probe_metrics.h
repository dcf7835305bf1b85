/* Per-device exposition (prometheus.per_device): smokeping_prober's series rendered
 * from a snapshot of the shards' accumulators (rp_prober_pacc_snapshot) and streamed
 * to the client a chunk at a time, gzip'd when asked, never the whole page in memory.
 * Private to src/ops: http.c serves it. Everything here runs on the health server's
 * thread (libmicrohttpd's loop and its callbacks). */
#ifndef RP_OPS_PROBE_METRICS_H
#define RP_OPS_PROBE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "ringprobe/health.h"

struct rp_pm;

struct rp_pm *rp_pm_create(const struct rp_probe_metrics_conf *conf);
void rp_pm_destroy(struct rp_pm *pm);
const char *rp_pm_path(const struct rp_pm *pm);
bool rp_pm_on_metrics(const struct rp_pm *pm);
/** A streamed response of the series, `prefix` (len bytes, copied; may be NULL) first.
 *  A snapshot already being streamed to another client is shared (the shards are asked
 *  again once no response holds it). NULL with why when no snapshot could be taken. */
struct MHD_Response *rp_pm_response(struct rp_pm *pm, const char *prefix, size_t len, bool gzip,
				    char *why, size_t whylen);

/* The renderer alone (tests, the bench): a stream over a view, read in chunks. */
struct rp_pm_stream;
struct rp_pacc_view;
struct rp_pm_stream *rp_pm_stream_open(const struct rp_pacc_view *v, const char *const *name_tags,
				       uint32_t name_tag_cap, bool gzip);
/** Adds smokeping_prober's `source` label after `ip` (prometheus.source_label): v4 to
 *  IPv4 devices, v6 to IPv6 ones, "" for NULL or "" (its value without a source
 *  address); a tag named source is then left out. Before the first read. */
void rp_pm_stream_source(struct rp_pm_stream *st, const char *v4, const char *v6);
struct rp_facts;
/** Labels each device's series with its sysName from f under `label` (prometheus.
 *  sysname_label; both outlive the stream; NULL or "" = off). Before the first read. */
void rp_pm_stream_sysname(struct rp_pm_stream *st, struct rp_facts *f, const char *label);
/** Up to max bytes of the page (gzip'd when opened so); 0 at its end. */
size_t rp_pm_stream_read(struct rp_pm_stream *st, char *buf, size_t max);
void rp_pm_stream_close(struct rp_pm_stream *st);
/** v as Go's strconv.FormatFloat(v, 'g', -1, 64) (how smokeping_prober writes `le`):
 *  the shortest digits that read back as v. buf needs 32 bytes. */
char *rp_pm_go_float(double v, char *buf);

#endif
