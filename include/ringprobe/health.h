/* The daemon's health: a snapshot the control thread takes about once a second,
 * rendered as JSON (/health), Prometheus text exposition (/metrics) and the
 * health_metrics point, and served by a libmicrohttpd server on
 * health_listen:health_check_port.
 *
 * Threads: the control thread owns the snapshot and hands copies to the server with
 * rp_health_server_publish(); the server's own thread (libmicrohttpd's) answers
 * requests from its copy under a mutex. Nothing here is on a per-probe path. */
#ifndef RP_HEALTH_H
#define RP_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringprobe/addr.h"
#include "ringprobe/line.h" /* struct rp_field */

/** Why the daemon is degraded (bits of rp_health_snapshot.reasons); 0 = healthy. */
enum rp_health_reason {
	RP_HEALTH_SINK_FAILING = 1u << 0,   /* the sink is backed off from (points spool) */
	RP_HEALTH_RING_DROPS = 1u << 1,	    /* results lost to a full ring in the last minute */
	RP_HEALTH_SEND_ERRORS = 1u << 2,    /* sends failed in the last minute */
	RP_HEALTH_POINTS_DROPPED = 1u << 3, /* points dropped in the last minute */
	RP_HEALTH_SPOOL_ERRORS = 1u << 4,   /* spool I/O failed in the last minute, or a
					     * spooled segment cannot be read now */
	RP_HEALTH_REASON_COUNT = 5,
};

/** Short machine name of one reason bit ("sink_failing", "ring_drops",
 *  "send_errors", "points_dropped", "spool_errors"); NULL for an unknown bit. */
const char *rp_health_reason_name(uint32_t bit);

/* Every number /health, /metrics and the health_metrics point show, in one list;
 * adding a counter is one row here plus the line that fills it (src/ctl/status.c).
 *
 *   X(member, kind, metric, type, point, point_name, help)
 *
 * member      the snapshot's struct member and its /health JSON key
 * kind        how it is stored: U64, U32, DBL, BOOL, or NS (uint64_t nanoseconds,
 *             shown in seconds in /metrics, in milliseconds as a float in the point)
 * metric      its /metrics name after "ringprobe_" (counters end in _total)
 * type        counter or gauge
 * point       its place in the health_metrics point (1, 2, ...), 0 when not there
 * point_name  its field name in the point ("" when not there)
 * help        the /metrics HELP text
 *
 * In /health and /metrics order. `reasons` and `version` are not rows: they become
 * the "reasons" name list / ringprobe_degraded{reason} and ringprobe_build_info. */
#define RP_HEALTH_FIELDS(X)                                                                        \
	X(time_ns, NS, "snapshot_timestamp_seconds", gauge, 0, "",                                 \
	  "When this snapshot was taken, in seconds since the Unix epoch.")                        \
	X(uptime_s, DBL, "uptime_seconds", gauge, 31, "uptime_s",                                  \
	  "Seconds since the daemon started.")                                                     \
	X(cpu_seconds, DBL, "cpu_seconds_total", counter, 30, "cpu_seconds",                       \
	  "User and system CPU time of all threads, in seconds.")                                  \
	X(rss_bytes, U64, "rss_bytes", gauge, 29, "rss_bytes", "Resident set size in bytes.")      \
	X(shards, U32, "shards", gauge, 0, "", "Probe shards (one thread each).")                  \
	X(ready, BOOL, "ready", gauge, 0, "", "1 when the shards and the writer have started.")    \
	X(sink, BOOL, "sink", gauge, 0, "",                                                        \
	  "1 when results are written to a sink (influxdb.url or prometheus_remote_write.url); "   \
	  "0 when they are only served as per-device series (prometheus.per_device).")             \
	X(rate_limit_pps, DBL, "rate_limit_probes_per_second", gauge, 0, "",                       \
	  "The configured ping_rate_limit, in probes per second.")                                 \
	X(needed_pps, DBL, "needed_probes_per_second", gauge, 0, "",                               \
	  "The probe rate the fleet's intervals ask for, in probes per second.")                   \
	X(devices, U64, "devices", gauge, 1, "devices", "Devices in the fleet now.")               \
	X(active, U64, "devices_active", gauge, 2, "active",                                       \
	  "Devices in the fleet not suspended.")                                                   \
	X(suspended, U64, "devices_suspended", gauge, 3, "suspended", "Devices suspended now.")    \
	X(discovered, U64, "devices_discovered_total", counter, 4, "discovered",                   \
	  "Devices added by sweeps.")                                                              \
	X(evicted, U64, "devices_evicted_total", counter, 5, "evicted",                            \
	  "Devices removed at max_devices, least recently seen first.")                            \
	X(pruned, U64, "devices_pruned_total", counter, 6, "pruned",                               \
	  "Devices removed after prune_after without a reply.")                                    \
	X(sweeps, U64, "sweeps_total", counter, 0, "", "Sweeps of one network completed.")         \
	X(sweep_probes, U64, "sweep_probes_total", counter, 28, "sweep_probes",                    \
	  "Probes sent by sweeps.")                                                                \
	X(config_reloads, U64, "config_reloads_total", counter, 0, "",                             \
	  "Configuration reloads (SIGHUP) applied.")                                               \
	X(config_reload_errors, U64, "config_reload_errors_total", counter, 0, "",                 \
	  "Configuration reloads rejected, the old configuration kept.")                           \
	X(probes_sent, U64, "probes_sent_total", counter, 7, "probes_sent", "Echo requests sent.") \
	X(replies, U64, "replies_total", counter, 8, "replies", "Valid echo replies in time.")     \
	X(timeouts, U64, "timeouts_total", counter, 9, "timeouts",                                 \
	  "Probes that got no reply in time.")                                                     \
	X(late_replies, U64, "late_replies_total", counter, 10, "late_replies",                    \
	  "Valid echo replies received after the timeout.")                                        \
	X(invalid_replies, U64, "invalid_replies_total", counter, 11, "invalid_replies",           \
	  "Replies rejected: duplicate, truncated, corrupt, forged, wrong source or stale.")       \
	X(send_errors, U64, "send_errors_total", counter, 12, "send_errors", "Sends that failed.") \
	X(ring_drops, U64, "ring_drops_total", counter, 13, "ring_drops",                          \
	  "Results lost to a full result ring.")                                                   \
	X(kernel_rx_drops, U64, "kernel_rx_drops_total", counter, 40, "kernel_rx_drops",           \
	  "Datagrams the kernel dropped at the probe sockets (receive buffer full): replies "      \
	  "lost there also count as timeouts.")                                                    \
	X(rtt_clock_fallbacks, U64, "rtt_clock_fallbacks_total", counter, 42,                      \
	  "rtt_clock_fallbacks",                                                                   \
	  "Replies whose kernel timestamp disagreed with the monotonic clock (the real-time "      \
	  "clock stepped): timed on the monotonic clock instead.")                                 \
	X(timeout_fifo_full, U64, "timeout_fifo_full_total", counter, 39, "timeout_fifo_full",     \
	  "Probes whose turn to be sent came with their shard's timeout FIFO full: held back "     \
	  "until a place freed, then sent (never a lost deadline).")                               \
	X(late_sends, U64, "late_sends_total", counter, 14, "late_sends",                          \
	  "Probes sent more than 10 ms after they were due.")                                      \
	X(max_late_ns, NS, "max_late_seconds", gauge, 15, "max_late_ms",                           \
	  "Worst lateness of a send since start, in seconds.")                                     \
	X(points_written, U64, "points_written_total", counter, 16, "points_written",              \
	  "Points the sink accepted.")                                                             \
	X(points_dropped, U64, "points_dropped_total", counter, 17, "points_dropped",              \
	  "Points dropped for any reason, rejected by the sink included.")                         \
	X(points_dropped_pool, U64, "points_dropped_pool_total", counter, 18,                      \
	  "points_dropped_pool",                                                                   \
	  "Points dropped because no buffer was free (or one point was too large for one).")       \
	X(points_dropped_rejected, U64, "points_dropped_rejected_total", counter, 19,              \
	  "points_dropped_rejected",                                                               \
	  "Points the sink refused (400 partial write, or one line over its body limit).")         \
	X(points_dropped_spool_overflow, U64, "points_dropped_spool_overflow_total", counter, 20,  \
	  "points_dropped_spool_overflow",                                                         \
	  "Points dropped because the spool was over spool.max_bytes or a spool write failed.")    \
	X(points_dropped_spool_corrupt, U64, "points_dropped_spool_corrupt_total", counter, 21,    \
	  "points_dropped_spool_corrupt",                                                          \
	  "Points lost in torn or corrupt spool records that were skipped.")                       \
	X(points_dropped_no_spool, U64, "points_dropped_no_spool_total", counter, 22,              \
	  "points_dropped_no_spool",                                                               \
	  "Points dropped while the sink was down and spool.max_bytes was 0.")                     \
	X(batches_ok, U64, "batches_ok_total", counter, 23, "batches_ok",                          \
	  "Batches the sink accepted.")                                                            \
	X(batches_failed, U64, "batches_failed_total", counter, 24, "batches_failed",              \
	  "Batches the sink failed or rejected.")                                                  \
	X(batches_retried, U64, "batches_retried_total", counter, 25, "batches_retried",           \
	  "Requests resending data that failed before or was spooled.")                            \
	X(requests_inflight, U64, "requests_inflight", gauge, 26, "requests_inflight",             \
	  "Write requests in flight to the sink now.")                                             \
	X(spool_bytes, U64, "spool_bytes", gauge, 27, "spool_bytes",                               \
	  "Bytes in the disk spool now.")                                                          \
	X(spool_points, U64, "spool_points", gauge, 0, "", "Points in the disk spool now.")        \
	X(spool_io_errors, U64, "spool_io_errors_total", counter, 41, "spool_io_errors",           \
	  "Spool file opens, reads, writes and fsyncs that failed (unsent data stays on disk).")   \
	X(spool_read_failing, BOOL, "spool_read_failing", gauge, 0, "",                            \
	  "1 while a spooled segment cannot be read and is retried with backoff.")                 \
	X(sink_down, BOOL, "sink_down", gauge, 0, "", "1 while the sink is backed off from.")      \
	X(snmp_devices, U64, "snmp_devices", gauge, 0, "", "Devices with an SNMP schedule now.")   \
	X(snmp_suspended, U64, "snmp_devices_suspended", gauge, 36, "snmp_suspended",              \
	  "Devices whose SNMP polls are backed off from after repeated failures.")                 \
	X(snmp_waiting, U64, "snmp_polls_waiting", gauge, 0, "",                                   \
	  "SNMP polls due but held back by snmp_rate_limit now.")                                  \
	X(snmp_polls, U64, "snmp_polls_total", counter, 32, "snmp_polls",                          \
	  "SNMP system-group requests made.")                                                      \
	X(snmp_ok, U64, "snmp_answers_total", counter, 33, "snmp_answers",                         \
	  "SNMP requests answered (one device_info point each).")                                  \
	X(snmp_timeouts, U64, "snmp_timeouts_total", counter, 34, "snmp_timeouts",                 \
	  "SNMP requests not answered within snmp.timeout and snmp.retries.")                      \
	X(snmp_errors, U64, "snmp_errors_total", counter, 35, "snmp_errors",                       \
	  "SNMP requests answered with an error (wrong community or v3 keys) or not sent.")        \
	X(snmp_spoofed, U64, "snmp_spoofed_total", counter, 38, "snmp_spoofed",                    \
	  "SNMP v2c answers dropped: they came from another address or port than the request "     \
	  "went to.")                                                                              \
	X(commands_refused, U64, "commands_refused_total", counter, 37, "commands_refused",        \
	  "Device adds, re-adds and discovery probes refused: a shard's command backlog was full " \
	  "or the shard held its capacity (the log says what follows).")                           \
	X(names, U32, "names", gauge, 43, "names", "Devices given by DNS name.")                   \
	X(names_failing, U32, "names_failing", gauge, 44, "names_failing",                         \
	  "Names whose last resolution failed (their last good addresses are still probed).")      \
	X(name_addresses, U32, "name_addresses", gauge, 45, "name_addresses",                      \
	  "Addresses probed for devices given by name.")                                           \
	X(name_lookups, U64, "name_lookups_total", counter, 46, "name_lookups",                    \
	  "DNS resolutions of device names started.")                                              \
	X(name_failures, U64, "name_failures_total", counter, 47, "name_failures",                 \
	  "DNS resolutions of device names that failed (NXDOMAIN, no records, timeout ...).")      \
	X(devices_down, U64, "devices_down", gauge, 48, "devices_down",                            \
	  "Monitored devices whose state is down now (state.down_after rounds without a reply).")  \
	X(state_changes, U64, "state_changes_total", counter, 49, "state_changes",                 \
	  "Device state changes between up and down (flaps; a device's first state after it "      \
	  "joins is not one).")                                                                    \
	X(rounds, U64, "rounds_total", counter, 50, "rounds",                                      \
	  "Rounds (ping_count echoes each) completed by monitored devices.")                       \
	X(icmp_errors, U64, "icmp_errors_total", counter, 51, "icmp_errors",                       \
	  "Probes ended by an ICMP error (destination unreachable, time exceeded) quoting them "   \
	  "(failed, not counted in timeouts).")                                                    \
	X(icmp_errors_short, U64, "icmp_errors_short_total", counter, 52, "icmp_errors_short",     \
	  "Of icmp_errors, those matched by sequence alone: the error quoted only the echo "       \
	  "header, without the probe's MAC.")

#define RP_HEALTH_T_U64 uint64_t
#define RP_HEALTH_T_U32 uint32_t
#define RP_HEALTH_T_DBL double
#define RP_HEALTH_T_BOOL bool
#define RP_HEALTH_T_NS uint64_t
#define RP_HEALTH_MEMBER(m, kind, metric, type, point, point_name, help) RP_HEALTH_T_##kind m;
#define RP_HEALTH_IN_POINT(m, kind, metric, type, point, point_name, help) +((point) != 0)

/** Everything /health and /metrics show. Counters are totals since start. */
struct rp_health_snapshot {
	RP_HEALTH_FIELDS(RP_HEALTH_MEMBER)
	uint32_t reasons; /* enum rp_health_reason bits */
	char version[32];
};

/** Fields in the health_metrics point. */
enum { RP_HEALTH_POINT_FIELDS = 0 RP_HEALTH_FIELDS(RP_HEALTH_IN_POINT) };

/** Fills f[0 .. RP_HEALTH_POINT_FIELDS) with the health_metrics point's fields, in
 *  their order (keys are static strings; nothing is allocated). Any thread. */
void rp_health_point(const struct rp_health_snapshot *s, struct rp_field *f);

/* The last minute of the counters that make the daemon degraded, one sample a
 * second. The control thread embeds it; the fields are its own. */
#define RP_HEALTH_HISTORY 60

struct rp_health_history {
	uint64_t _ring_drops[RP_HEALTH_HISTORY];
	uint64_t _send_errors[RP_HEALTH_HISTORY];
	uint64_t _points_dropped[RP_HEALTH_HISTORY];
	uint64_t _spool_io_errors[RP_HEALTH_HISTORY];
	unsigned _n; /* samples taken */
};

/** Sets s->reasons: the sink is failing now (sink_down), a spooled segment cannot be
 *  read now (spool_read_failing), or results were lost to a full ring, sends failed,
 *  points were dropped or spool I/O failed since the sample a minute ago (the oldest
 *  kept). Zeroed history: nothing but sink_down and spool_read_failing count. */
void rp_health_judge(const struct rp_health_history *h, struct rp_health_snapshot *s);
/** Keeps s's counters as the newest sample (once a second, after judging it). */
void rp_health_remember(struct rp_health_history *h, const struct rp_health_snapshot *s);

/** Writes /health's JSON (one object: "status":"ok"|"degraded", "reasons":[names],
 *  then every snapshot field under its own name) into buf, NUL-terminated.
 *  Returns the length it needed (as snprintf does). */
size_t rp_health_json(const struct rp_health_snapshot *s, char *buf, size_t cap);
/** Writes /metrics in Prometheus text exposition format 0.0.4: every field as
 *  ringprobe_<name> with HELP and TYPE (counters end in _total, units in the name:
 *  _seconds, _bytes), passing `promtool check metrics` with no lint warning.
 *  Returns the length it needed (as snprintf does). */
size_t rp_health_prom(const struct rp_health_snapshot *s, char *buf, size_t cap);

struct rp_health_server;
struct rp_facts;

/** Starts the HTTP server on listen:port (an IPv4 address or host name; port 0 picks
 *  a free one). -errno with why ("cannot listen on 127.0.0.1:8080: Address already in
 *  use"). Until the first publish every endpoint but /health/live answers 503. */
int rp_health_server_start(struct rp_health_server **out, const char *listen, uint16_t port,
			   char *why, size_t whylen);
/** The port it listens on (useful after port 0). */
uint16_t rp_health_server_port(const struct rp_health_server *h);
/** Hands the server a new snapshot (copied). */
void rp_health_server_publish(struct rp_health_server *h, const struct rp_health_snapshot *s);
/** Stops the server and frees it; NULL is a no-op. */
void rp_health_server_stop(struct rp_health_server *h);

/* Per-device series (prometheus.per_device; docs/prometheus.md): smokeping_prober's
 * families, rendered from a snapshot of the shards' accumulators and streamed. */
struct rp_prober;
struct rp_probe_metrics_conf {
	struct rp_prober *prober;     /* created with per_device; outlives the server */
	const char *path;	      /* "/probe-metrics" (copied) */
	bool on_metrics;	      /* also appended to /metrics */
	const char *const *name_tags; /* a device added with id N > 0 has the tags
				       * name_tags[N - 1], pre-escaped for line protocol
				       * (",name=core1,site=ams1"; the writer's table:
				       * written before any probe carries N, never
				       * changed): name is host, the others labels */
	uint32_t name_tag_cap;
	bool source_label;	      /* smokeping_prober's `source` label on every series */
	char source[2][RP_IP_STRLEN]; /* its value for IPv4 / IPv6 devices: source_address's
				       * address of the family, "" when none */
	struct rp_facts *facts;	      /* sysNames (facts.h; outlives the server), or NULL */
	const char *sysname_label;    /* prometheus.sysname_label: label each device's series
				       * with its sysName under this name; NULL or "" = off.
				       * A valid label name no tag uses (conf validates it) */
};
/** Control thread, once, after start: serves the per-device series on conf->path. */
void rp_health_server_probe_metrics(struct rp_health_server *h,
				    const struct rp_probe_metrics_conf *conf);

/* /api/v1/down: the devices whose state is down now, oldest first, paged. */

/** One device down, as the control thread hands it over. */
struct rp_down_entry {
	struct rp_ip addr;
	uint64_t since_ns; /* CLOCK_REALTIME: when it went down */
	const char *name;  /* the DNS name it is probed for, or NULL; a valid host name
			    * (no JSON escaping needed) that outlives the server */
	uint8_t reason;	   /* enum rp_state_reason */
	/* Its sysName (SNMP, sanitized), or NULL: the server thread fills it from the
	 * facts (rp_health_server_facts) for the entries it renders; the control thread
	 * leaves it NULL. */
	const char *sysname;
	/* Its static tags (top level, group, its own, device file labels) as line protocol
	 * writes them (",site=ams1,role=core": its class's line, which outlives the
	 * server), or NULL: searched, not shown. */
	const char *tags;
};

/** Most entries one /api/v1/down page holds (limit's cap). */
#define RP_DOWN_PAGE_MAX 1000

/** Longest search (`q=`) /api/v1/down and the page take: printable ASCII only, since
 *  what it matches (addresses, host names) is. */
#define RP_DOWN_QUERY_MAX 64

/** Whether q is a search the list takes (at most RP_DOWN_QUERY_MAX bytes, each
 *  printable ASCII, space included). */
bool rp_down_query_ok(const char *q);
/** Whether e matches the search q: q, ignoring case, is part of its address (RFC 5952
 *  text), its name or its sysName; "" matches every entry. */
bool rp_down_match(const struct rp_down_entry *e, const char *q);
/** q percent-encoded for a URL's query (all but A-Z a-z 0-9 - . _ ~); returns the
 *  length it needed, as snprintf does. */
size_t rp_down_url_query(const char *q, char *buf, size_t cap);

/** Renders one page as JSON into buf: {"total":N,"listed":L,["query":Q,"matched":K,]
 *  "offset":O,"limit":M,"devices":[{"ip":..,"name":..,"sysname":..,"since":"RFC 3339",
 *  "since_ns":..,"down_for_s":..,"reason":..}],"next":"/api/v1/down?offset=..&limit=..[&q=..]"}
 *  (next only when more follow). `page` holds the npage entries from `offset` of the
 *  `matched` entries of a list of `listed` (oldest first) that the search q matches
 *  (q "" or NULL: no search, matched = listed); total, the devices down in all, may
 *  exceed listed (the list's bound). now_ns is CLOCK_REALTIME. Returns the length it
 *  needed, as snprintf does. Pure. */
size_t rp_health_down_json(const struct rp_down_entry *page, uint32_t npage, uint32_t offset,
			   uint32_t listed, uint64_t total, uint32_t limit, const char *q,
			   uint32_t matched, uint64_t now_ns, char *buf, size_t cap);
/** Control thread, at start: room for up to cap entries (0: no /api/v1/down, 404). */
void rp_health_server_down_init(struct rp_health_server *h, uint32_t cap);
/** Control thread, once, before the first publish_down: where the page and /api/v1/down
 *  look up each device's sysName (owned by the caller, outlives the server). */
void rp_health_server_facts(struct rp_health_server *h, struct rp_facts *f);
/** Control thread: the list now (n <= the init's cap, oldest first) and the devices
 *  down in all (the list is bounded), copied under the server's lock. */
void rp_health_server_publish_down(struct rp_health_server *h, const struct rp_down_entry *v,
				   uint32_t n, uint64_t total);

/* /api/v1/rtt and /api/v1/loss (include/ringprobe/dist.h). */
struct rp_dist_view;
/** Control thread, at start: room for a view of up to cap networks (0: neither
 *  endpoint, 404; the page leaves the sections out). */
void rp_health_server_dist_init(struct rp_health_server *h, uint32_t cap);
/** Control thread: the window now (v's rows, at most the init's cap, copied under the
 *  server's lock). */
void rp_health_server_publish_dist(struct rp_health_server *h, const struct rp_dist_view *v);

#endif
