/* The writer thread: takes probe results from the shards' SPSC rings in batches,
 * encodes them as `ping` points into pooled buffers, and sends each batch to InfluxDB
 * (v1 /write or v2 /api/v2/write) or VictoriaMetrics through a libcurl multi handle.
 * A batch leaves at influxdb.batch_size points or after influxdb.flush_interval,
 * whichever comes first. Batches the sink cannot take now go to the disk spool and
 * are replayed, oldest first, when it answers again.
 *
 * Threads: rp_writer_create/start/stop/destroy belong to one owner thread (main).
 * rp_writer_point/commit belong to one other thread (the control thread): its points
 * travel to the writer through a second SPSC ring of small buffers. rp_writer_stats
 * may be called from any thread. Each shard ring keeps its own single producer; the
 * writer thread is every ring's single consumer. Points the control thread has not
 * committed when rp_writer_stop() begins are not sent.
 *
 * Memory: influxdb.buffer_size points of buffers, allocated at create; nothing is
 * allocated per point or per batch (libcurl's own per-request bookkeeping aside).
 *
 * Status handling: 2xx written; 400 (partial write) points counted as rejected, the
 * server's reason logged, never retried; 413 the body is halved at a line boundary
 * and both halves resent (recursively), the smaller size kept for later batches;
 * 401/403 and 404 logged naming the key to fix, data spooled, retried every
 * slow_retry; 429, 5xx and connection errors exponential backoff with jitter,
 * honouring Retry-After. Every point is counted exactly once: written, rejected,
 * dropped for one of the reasons below, still in memory, or in the spool. */
#ifndef RP_WRITER_H
#define RP_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "ringprobe/conf.h"
#include "ringprobe/line.h"
#include "ringprobe/spsc.h"

struct rp_writer;

/** Where a point from rp_writer_point() goes: the data bucket or influxdb.health_bucket
 *  (v2; with v1 both go to influxdb.database). */
enum rp_writer_dest { RP_WRITER_DATA, RP_WRITER_HEALTH };

/** Knobs that are not configuration keys; rp_writer_tuning_init() gives the defaults. */
struct rp_writer_tuning {
	int64_t backoff_min_ns;	      /* first wait after a 429/5xx/connection error: 1 s */
	int64_t backoff_max_ns;	      /* the doubling stops here: 60 s */
	int64_t slow_retry_ns;	      /* wait after 401/403/404: 30 s */
	int64_t retry_after_max_ns;   /* longest Retry-After honoured: 10 min */
	uint64_t spool_segment_bytes; /* 0 = min(16 MiB, spool.max_bytes / 4) */
	size_t max_string;	      /* cap of each string from rp_writer_point(): 1024 bytes */
};

/** Counters, each written by one thread and read with relaxed loads; monotonic unless
 *  noted. Points dropped in all = dropped_pool + points_rejected + dropped_spool_overflow
 *  + dropped_spool_corrupt + dropped_no_spool (ring-full drops are the rings' own). */
struct rp_writer_stats {
	uint64_t points_in;		 /* taken from the rings and rp_writer_commit() */
	uint64_t points_written;	 /* acknowledged by the sink */
	uint64_t points_rejected;	 /* refused by the sink (400, or one line over its limit) */
	uint64_t dropped_pool;		 /* no buffer free (or a point too large for one) */
	uint64_t dropped_spool_overflow; /* spool over spool.max_bytes, or a write failed */
	uint64_t dropped_spool_corrupt;	 /* torn or corrupt spool records skipped */
	uint64_t dropped_no_spool;	 /* sink down and spool.max_bytes 0 */
	uint64_t points_spooled;	 /* written to the spool */
	uint64_t points_replayed;	 /* read back from the spool */
	uint64_t batches_ok;		 /* requests answered 2xx */
	uint64_t batches_failed;	 /* requests answered otherwise or not at all */
	uint64_t batches_retried; /* requests resending data that failed before or was spooled */
	uint64_t batches_split;	  /* 413 answers that halved the body size */
	uint64_t spool_bytes;	  /* now: segment bytes on disk */
	uint64_t spool_points;	  /* now: points waiting in the spool */
	uint64_t spool_corrupt_records; /* torn or corrupt spool records skipped */
	uint64_t spool_io_errors;	/* spool opens, reads, writes, fsyncs that failed */
	uint64_t spool_read_failing;	/* now: 1 while a kept segment cannot be read */
	uint64_t inflight;		/* now: requests in flight */
	uint64_t wire_bytes;		/* request bodies sent, after gzip or snappy */
	uint64_t samples_written;	/* remote write: samples in requests answered 2xx */
	uint64_t cpu_ns;		/* CPU time of the writer thread */
	uint64_t sink_down;		/* now: 1 while the sink is backed off from */
	uint64_t last_status;		/* now: HTTP status of the last answer (0 = none) */
};

/** Fills `t` with the defaults listed in struct rp_writer_tuning. */
void rp_writer_tuning_init(struct rp_writer_tuning *t);
/** Sizes and allocates everything (pool, curl handles, spool opened now) from conf's influxdb.*
 *  and spool.*; `rings` (of struct rp_probe_result) stay the caller's; tune NULL = defaults.
 *  -errno with `why` on failure. Caller owns *out. */
int rp_writer_create(struct rp_writer **out, const struct rp_conf *conf,
		     struct rp_spsc *const *rings, unsigned nrings,
		     const struct rp_writer_tuning *tune, char *why, size_t whylen);
/** Devices' tags (a name, a group's and a device's static tags): a result or event whose
 *  id is k (1..cap) is written with tags[k - 1] after ip=ADDR, a pre-escaped string as
 *  rp_line_tags wrote it (",name=NAME,site=ams1"; a NULL entry: none). The table is the
 *  caller's and is read by the writer thread without a lock: an entry is written once,
 *  before the first result with its id enters a ring (whose release/acquire orders the
 *  two), and is neither changed nor freed until rp_writer_stop() returns. Before
 *  rp_writer_start(); without it, ids mean nothing to the writer. */
void rp_writer_device_tags(struct rp_writer *w, const char *const *tags, uint32_t cap);
/** Rounds and states: a ring of struct rp_event (the caller's, until rp_writer_stop()
 *  returns) whose events the writer thread encodes as `ping_round` and
 *  `device_state` points, tagged like `ping` (ip, and name by the event's id). Before
 *  rp_writer_start(). */
void rp_writer_events(struct rp_writer *w, struct rp_spsc *ring);
/** Starts the writer thread; it replays the spool as soon as the sink answers. 0 or -errno. */
int rp_writer_start(struct rp_writer *w);
/** Stop the producers first. Drains, then flushes or spools everything within timeout_ns;
 *  0, or -ETIMEDOUT while the thread still runs (destroy then waits for it). */
int rp_writer_stop(struct rp_writer *w, int64_t timeout_ns);
/** Stops the thread if running (waiting for it) and frees everything; NULL is a no-op. */
void rp_writer_destroy(struct rp_writer *w);
/** Control thread: encodes one point as rp_line_point() does (strings capped at max_string),
 *  seen by the writer at the next commit. 0, -ENOBUFS (counted), -E2BIG, -EINVAL. */
int rp_writer_point(struct rp_writer *w, enum rp_writer_dest dest, const char *measurement,
		    const struct rp_tag *tags, size_t ntags, const struct rp_field *fields,
		    size_t nfields, uint64_t ts_ns);
/** Control thread: hands the points added since the last commit to the writer. Returns 0. */
int rp_writer_commit(struct rp_writer *w);
/** Control thread: true when the next rp_writer_point() is sure to find a buffer (a
 *  whole free one is waiting). A producer that can hold its points back (SNMP answers
 *  wait in the poller's ring) asks this first, so that a writer held up for a moment
 *  costs it nothing rather than a counted drop. */
bool rp_writer_point_ready(struct rp_writer *w);
/** Any thread: a snapshot of the counters. */
void rp_writer_stats(const struct rp_writer *w, struct rp_writer_stats *out);

#endif
