/* The daemon's health: a snapshot the control thread takes about once a second,
 * rendered as JSON (/health) and Prometheus text exposition (/metrics), and served
 * by a libmicrohttpd server on health_listen:health_check_port.
 *
 * Threads: the control thread owns the snapshot and hands copies to the server with
 * rp_health_server_publish(); the server's own thread (libmicrohttpd's) answers
 * requests from its copy under a mutex. Nothing here is on a per-probe path. */
#ifndef RP_HEALTH_H
#define RP_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Why the daemon is degraded (bits of rp_health_snapshot.reasons); 0 = healthy. */
enum rp_health_reason {
	RP_HEALTH_SINK_FAILING = 1u << 0,   /* the sink is backed off from (points spool) */
	RP_HEALTH_RING_DROPS = 1u << 1,	    /* results lost to a full ring in the last minute */
	RP_HEALTH_SEND_ERRORS = 1u << 2,    /* sends failed in the last minute */
	RP_HEALTH_POINTS_DROPPED = 1u << 3, /* points dropped in the last minute */
	RP_HEALTH_REASON_COUNT = 4,
};

/** Short machine name of one reason bit ("sink_failing", "ring_drops",
 *  "send_errors", "points_dropped"); NULL for an unknown bit. */
const char *rp_health_reason_name(uint32_t bit);

/** Everything /health and /metrics show. Counters are totals since start. */
struct rp_health_snapshot {
	/* process */
	uint64_t time_ns; /* CLOCK_REALTIME when taken */
	double uptime_s;
	double cpu_seconds; /* user + system, all threads */
	uint64_t rss_bytes;
	uint32_t shards;
	bool ready;	       /* shards and writer started */
	uint32_t reasons;      /* enum rp_health_reason bits */
	double rate_limit_pps; /* ping_rate_limit */
	double needed_pps;     /* what the fleet's intervals ask for */
	/* fleet */
	uint64_t devices;    /* in the fleet now */
	uint64_t active;     /* devices - suspended */
	uint64_t suspended;  /* now */
	uint64_t discovered; /* devices added by sweeps */
	uint64_t evicted;    /* removed at max_devices, least recently seen first */
	uint64_t pruned;     /* removed after prune_after without a reply */
	uint64_t sweeps;     /* sweeps of one network completed */
	uint64_t sweep_probes;
	uint64_t config_reloads;       /* SIGHUP reloads applied */
	uint64_t config_reload_errors; /* reloads rejected (old config kept) */
	/* probes, summed over shards */
	uint64_t probes_sent;
	uint64_t replies;
	uint64_t timeouts;
	uint64_t late_replies;	  /* valid replies after the timeout */
	uint64_t invalid_replies; /* duplicate, truncated, corrupt, forged, wrong source, stale */
	uint64_t send_errors;
	uint64_t ring_drops;
	uint64_t late_sends;  /* probes sent more than 10 ms after due */
	uint64_t max_late_ns; /* worst lateness of a send since start */
	/* writer */
	uint64_t points_written;
	uint64_t points_dropped;	  /* every drop reason, rejected by the sink included: */
	uint64_t points_dropped_pool;	  /* no free buffer (or a point too large) */
	uint64_t points_dropped_rejected; /* refused by the sink (400, or over its limit) */
	uint64_t points_dropped_spool_overflow; /* spool over spool.max_bytes, or a write failed */
	uint64_t points_dropped_spool_corrupt;	/* torn or corrupt spool records skipped */
	uint64_t points_dropped_no_spool;	/* sink down and spool.max_bytes 0 */
	uint64_t batches_ok;
	uint64_t batches_failed;
	uint64_t batches_retried;   /* requests resending data that failed before or was spooled */
	uint64_t requests_inflight; /* now */
	uint64_t spool_bytes;	    /* now */
	uint64_t spool_points;	    /* now */
	bool sink_down;		    /* now */
	/* SNMP enrichment */
	uint64_t snmp_devices;	 /* devices with an SNMP schedule now */
	uint64_t snmp_suspended; /* backed off from after snmp_max_consecutive_fails, now */
	uint64_t snmp_waiting;	 /* due, held back by snmp_rate_limit, now */
	uint64_t snmp_polls;	 /* system-group requests made */
	uint64_t snmp_ok;	 /* answered (a device_info point each) */
	uint64_t snmp_timeouts;	 /* not answered */
	uint64_t snmp_errors;	 /* answered with an error (v3 keys, community), or not sent */
	char version[32];
};

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

#endif
