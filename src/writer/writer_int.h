/* Private interfaces of src/writer, for its files and tests/writer only: the disk spool
 * (spool*.c), the libcurl multi flusher (flush.c), and the writer thread's state shared
 * by writer.c and the files split from it.
 *
 * The spool and the flusher belong to one thread (the writer's) once it runs: nothing
 * of theirs is thread-safe except rp_flush_wakeup(). */
#ifndef RP_WRITER_INT_H
#define RP_WRITER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ringprobe/conf.h"
#include "ringprobe/event.h"
#include "ringprobe/line.h"
#include "ringprobe/result.h"
#include "ringprobe/spsc.h"
#include "ringprobe/writer.h"

/* Spool on-disk format (all integers little-endian):
 *
 *   segment file  <dir>/<seq as 16 hex digits>.seg
 *     header      "RPSPOOL1" (8 bytes), u32 version = 1, u32 0
 *     records     u32 len | u32 crc32(payload) | payload[len]
 *                 payload = u32 points | u8 kind | 3 zero bytes | line protocol
 *                 (line protocol whatever the destination: with prometheus_remote_write
 *                 the flusher converts each body when it sends it, so the format has
 *                 no destination in it and a spool replays to either)
 *   cursor file   <dir>/cursor: u32 magic | u64 seq | u64 off | u32 crc32 of the 20 bytes before
 *                 (where the oldest unacknowledged record starts)
 *   lock file     <dir>/lock: flock()ed while a process has the spool open
 *
 * Segments are append-only and numbered in write order; a new one starts when the
 * current one would pass the segment size. Records are read back oldest first; a
 * record is gone for good only once released (acknowledged, re-spooled or dropped),
 * and a segment file is unlinked once every record in it is released. */

#define RP_SPOOL_SEG_HDR 16u
#define RP_SPOOL_REC_HDR 16u /* len + crc + points + kind/pad */
#define RP_SPOOL_MAX_RECORD (256u << 20)
#define RP_SPOOL_DEFAULT_SEGMENT (16u << 20)

struct rp_spool;

/** Where a record starts: what rp_spool_read() hands out and rp_spool_release() takes back. */
struct rp_spool_pos {
	uint64_t seq;
	uint64_t off;
};

/** What rp_spool_open() needs. */
struct rp_spool_opts {
	const char *dir;   /* created (0700) when missing */
	int64_t max_bytes; /* > 0: bound on all segment bytes; past it the oldest segment goes */
	int fsync;	   /* enum rp_spool_fsync */
	uint64_t segment_bytes; /* 0 = min(16 MiB, max(max_bytes / 4, 4 KiB)) */
	unsigned max_taken;	/* records read and not yet released, at most (0 = 64) */
};

/** One record handed out by rp_spool_read(). */
struct rp_spool_rec {
	size_t len;	 /* line-protocol bytes copied into the caller's buffer */
	uint32_t points; /* as given to rp_spool_append() */
	uint8_t kind;	 /* as given to rp_spool_append() */
	struct rp_spool_pos pos;
};

/** Spool counters; monotonic ones say so. */
struct rp_spool_stats {
	uint64_t bytes;		   /* segment bytes on disk now (what max_bytes bounds) */
	uint64_t points;	   /* points in records not yet read */
	uint64_t records;	   /* records not yet read */
	uint64_t segments;	   /* segment files now */
	uint64_t appended_records; /* monotonic */
	uint64_t appended_points;  /* monotonic */
	uint64_t read_records;	   /* monotonic: records handed out by rp_spool_read() */
	uint64_t read_points;	   /* monotonic */
	uint64_t overflow_records; /* monotonic: dropped to stay under max_bytes or unwritable */
	uint64_t overflow_points;  /* monotonic */
	uint64_t corrupt_records;  /* monotonic: torn or failing CRC, skipped */
	uint64_t corrupt_points;   /* monotonic: estimated from the record's contents */
	uint64_t io_errors;	   /* monotonic: failed opens, writes, reads, fsyncs */
	bool read_failing;	   /* the last read of a kept segment failed: it is retried */
	size_t max_record;	   /* longest line-protocol payload found at open */
};

/** Opens (creating) the spool in o->dir, checks every segment, cuts a torn or corrupt
 *  tail off the newest one (counted), and positions the reader at the cursor. Takes an
 *  exclusive lock: -EBUSY when another process has it. -errno with `why` filled on
 *  failure. Caller owns *out (rp_spool_close). */
int rp_spool_open(struct rp_spool **out, const struct rp_spool_opts *o, char *why, size_t whylen);
/** Syncs (unless fsync never) and closes; unreleased records stay on disk. NULL: no-op. */
void rp_spool_close(struct rp_spool *s);
/** Appends one record of `len` bytes holding `points` points. Drops oldest segments to
 *  stay under max_bytes (counted as overflow). 0, or -EFBIG (record larger than the
 *  spool can hold) / -errno (write failed), the points then counted as overflow. */
int rp_spool_append(struct rp_spool *s, uint8_t kind, uint32_t points, const void *data,
		    size_t len);
/** fsync mode batch: makes appends since the last call durable. Other modes: no-op.
 *  A failed fsync (here or in mode always) is counted and logged, and closes the
 *  segment: the next append starts a new one; what the old one holds stays and is
 *  replayed. */
int rp_spool_sync(struct rp_spool *s);
/** Copies the oldest unread record into buf (cap bytes). 1 = a record, 0 = nothing to
 *  read, -EBUSY = max_taken records out, -errno on I/O error. Torn and corrupt records
 *  are skipped and counted. The record must later go to rp_spool_release(). */
int rp_spool_read(struct rp_spool *s, void *buf, size_t cap, struct rp_spool_rec *rec);
/** The record read at `pos` is settled (written, re-spooled or dropped): the cursor may
 *  move past it and fully settled segments are unlinked. */
void rp_spool_release(struct rp_spool *s, const struct rp_spool_pos *pos);
/** Whether unread records remain. */
bool rp_spool_has_unread(const struct rp_spool *s);
/** Copies the counters. */
void rp_spool_get_stats(const struct rp_spool *s, struct rp_spool_stats *st);

/* Inside the spool, for spool*.c only: its layout and what its files share. spool.c
 * holds the format and the set of segments, spool_open.c open/recovery/close,
 * spool_append.c appends, spool_read.c the reader and the cursor. */

#define RP_SPOOL_SEG_MAGIC "RPSPOOL1"
#define RP_SPOOL_SEG_VERSION 1u
#define RP_SPOOL_META_LEN 8u /* points + kind + pad, the payload's first bytes */

struct rp_spool {
	int dirfd;
	uid_t dir_uid; /* owner of the directory: spool files may belong to it or to us */
	int lockfd;
	int curfd; /* cursor file */
	int fsync_mode;
	uint64_t max_bytes;
	uint64_t seg_bytes;

	/* Segments on disk are numbered [first_seq, next_seq); only the ones found at open
	 * may have holes between them, so `found` (sorted) is kept to step over those. */
	uint64_t first_seq;
	uint64_t next_seq;
	uint64_t *found;
	size_t nfound;

	int wfd; /* the append segment, next_seq - 1, or -1 when none is open */
	uint64_t wsize;
	bool dirty; /* appended since the last fdatasync (fsync batch) */

	uint64_t rseq; /* reader: next record at (rseq, roff) */
	uint64_t roff;
	int rfd; /* segment rseq, or -1 */
	uint64_t rsize;

	struct rp_spool_pos *taken; /* read, not yet released */
	unsigned ntaken;
	unsigned max_taken;
	struct rp_spool_pos commit; /* what the cursor file says */

	unsigned char *scratch; /* SCAN_CHUNK bytes, used only by open */
	struct rp_spool_stats st;
};

/** Stores v little-endian at p. */
static inline void rp_spool__put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/** The little-endian u32 at p. */
static inline uint32_t rp_spool__get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/** *v -= n, stopping at 0. */
static inline void rp_spool__sub_clamped(uint64_t *v, uint64_t n)
{
	*v = *v > n ? *v - n : 0;
}

/** Writes segment seq's file name into buf. */
void rp_spool__seg_name(char *buf, size_t len, uint64_t seq);
/** Whether name is a segment file's; its number into *seq. */
bool rp_spool__parse_seg_name(const char *name, uint64_t *seq);
/** The first segment on disk after seq, or next_seq when there is none. */
uint64_t rp_spool__next_existing(const struct rp_spool *s, uint64_t seq);
/** Unlinks segment seq and takes it off the byte and segment counts. */
void rp_spool__unlink_seg(struct rp_spool *s, uint64_t seq);
/** A damaged record header's point count, or 0 when it cannot be true. */
uint64_t rp_spool__plausible_points(uint32_t len, uint32_t points);
/** Counts one damaged record holding `points` points. */
void rp_spool__count_corrupt(struct rp_spool *s, uint64_t points);
/** Writes pos to the cursor file unless it says so already. */
void rp_spool__write_cursor(struct rp_spool *s, struct rp_spool_pos pos);
/** The cursor file's position; (0, 0) when it is missing or damaged. */
struct rp_spool_pos rp_spool__read_cursor(int fd);
/** Syncs (unless fsync never) and closes the append segment, if one is open. */
void rp_spool__close_append(struct rp_spool *s);
/** Opens `name` in the spool directory as a spool file may be opened: never through a
 *  symbolic link (O_NOFOLLOW), close-on-exec, and only when it is a regular file with
 *  one link, owned by us or by the directory's owner (the user the daemon drops to).
 *  fd, or -ELOOP (a symlink), -EINVAL (not a regular file, or hard-linked), -EPERM
 *  (someone else's file), -errno (open/fstat failed). */
int rp_spool__open_file(const struct rp_spool *s, const char *name, int flags);
/** The why text for rp_spool__open_file()'s error `err` on `name`. */
const char *rp_spool__open_error(int err);

/* The flusher: one libcurl multi handle and a fixed set of easy handles reused for
 * every request (curl docs/examples/10-at-a-time.c), so connections stay pooled. */

/** Where a body goes: the data bucket/database, or the health bucket. */
enum rp_flush_dest { RP_FLUSH_DATA, RP_FLUSH_HEALTH, RP_FLUSH_NDEST };

/** What the sink said about one request. */
enum rp_flush_verdict {
	RP_FLUSH_OK,	    /* 2xx */
	RP_FLUSH_REJECTED,  /* 400/422 and other 4xx: points refused (maybe some), no retry */
	RP_FLUSH_TOO_LARGE, /* 413: send smaller bodies */
	RP_FLUSH_AUTH,	    /* 401/403: credentials */
	RP_FLUSH_NOT_FOUND, /* 404: database, bucket or org */
	RP_FLUSH_RETRY,	    /* 408, 429, 5xx, 3xx, connection errors, time-outs */
	RP_FLUSH_ABORTED,   /* removed by rp_flush_abort() */
};

/** One finished request, valid during the callback only. */
struct rp_flush_done {
	void *user; /* as given to rp_flush_send() */
	enum rp_flush_verdict verdict;
	int err;		/* -errno for a transport error, else 0 */
	long status;		/* HTTP status, 0 when none */
	int64_t retry_after_ns; /* Retry-After, 0 when absent */
	int64_t rejected;	/* REJECTED: points refused per the body, -1 unknown */
	const char *reason;	/* the server's message or curl's error (never NULL) */
	uint64_t wire_bytes;	/* body bytes sent (after gzip) */
	uint64_t samples;	/* remote write: samples in the request, else 0 */
};

/** Called for each finished request, on the thread calling rp_flush_run()/rp_flush_abort(). */
typedef void (*rp_flush_done_fn)(void *arg, const struct rp_flush_done *d);

struct rp_flush;

/** Builds URLs and headers from `conf` (api, url, org/bucket/health_bucket or database/
 *  retention_policy, token or username/password, gzip, max_inflight, timeout, ca_file,
 *  insecure_skip_verify) and creates max_inflight handles with gzip buffers for bodies
 *  up to max_body bytes. -EINVAL with `why` on a bad configuration. Caller owns *out. */
int rp_flush_create(struct rp_flush **out, const struct rp_conf *conf, size_t max_body, char *why,
		    size_t whylen);
/** Aborts what is in flight (no callbacks) and frees everything. NULL is a no-op. */
void rp_flush_destroy(struct rp_flush *f);
/** Handles free for rp_flush_send(). */
unsigned rp_flush_idle(const struct rp_flush *f);
/** Requests in flight. */
unsigned rp_flush_busy(const struct rp_flush *f);
/** Starts a POST of body[0..len) to `dest` (gzipped when configured). The body must stay
 *  unchanged until the request is reported done. 0, -EBUSY (no free handle), -E2BIG
 *  (len > max_body), -EIO (compression failed). */
int rp_flush_send(struct rp_flush *f, enum rp_flush_dest dest, const char *body, size_t len,
		  void *user);
/** Drives transfers, waiting up to timeout_ms for network activity or rp_flush_wakeup()
 *  (0 = no wait), then reports each finished request through fn. Returns the number
 *  reported or -errno. */
int rp_flush_run(struct rp_flush *f, int timeout_ms, rp_flush_done_fn fn, void *arg);
/** Stops every request in flight and reports each as RP_FLUSH_ABORTED. */
void rp_flush_abort(struct rp_flush *f, rp_flush_done_fn fn, void *arg);
/** Any thread: makes a waiting rp_flush_run() return early. */
void rp_flush_wakeup(struct rp_flush *f);
/** The URL requests to `dest` go to (for messages; holds no secret). */
const char *rp_flush_url(const struct rp_flush *f, enum rp_flush_dest dest);
/** Whether requests use the v1 API (/write) rather than v2 (/api/v2/write). */
bool rp_flush_is_v1(const struct rp_flush *f);
/** Whether bodies go to prometheus_remote_write.url as remote write requests. */
bool rp_flush_is_promrw(const struct rp_flush *f);

/* Parses a 400 body for the number of points the server refused: "dropped=N" (InfluxDB
 * partial write), else the count of "unable to parse" (lines refused), else -1. */
int64_t rp_flush__rejected_count(const char *body);

/* promrw.c: Prometheus remote write 1.0 bodies (the flusher's, writer thread). */
struct rp_promrw;

/** What one rp_promrw_encode() found. */
struct rp_promrw_counts {
	uint64_t lines;	       /* lines of line protocol read */
	uint64_t bad_lines;    /* not line protocol: left out */
	uint64_t samples;      /* samples in the WriteRequest */
	uint64_t packed_bytes; /* protobuf bytes before snappy */
};

/** The encoder and its reusable memory. 0; caller owns *out (rp_promrw_destroy). */
int rp_promrw_create(struct rp_promrw **out);
/** Frees it; NULL is a no-op. */
void rp_promrw_destroy(struct rp_promrw *e);
/** Re-reads body[0..len) (lines of line protocol) as a remote write WriteRequest, packs
 *  it with libprotobuf-c and compresses it with snappy into *out (malloc'ed, grown as
 *  needed; *cap its size). The compressed length, or -EIO. */
ssize_t rp_promrw_encode(struct rp_promrw *e, const char *body, size_t len, uint8_t **out,
			 size_t *cap, struct rp_promrw_counts *c);

/* events.c: appends an event's point (ping_round or device_state) to b, tagged
 * ip=ADDR[,name=NAME]; 0, -ENOSPC (b unchanged) or -EINVAL. */
int rp_writer__event_point(struct rp_linebuf *b, const struct rp_event *e, const char *raw);

/* Line protocol (line.c): the number of newlines in buf[0..n), i.e. of whole lines. */
uint64_t rp_line__count_lines(const void *buf, size_t n);
/* The shortest decimal of v that reads back bit for bit, always through printf and strtod
 * (line.c uses a faster integer path for whole millionths; tests compare the two). Writes
 * at most 32 bytes. */
size_t rp_line__fmt_double_slow(char *out, double v);

/* The writer thread's state and what its files share: writer.c (loop, create, stop),
 * batch.c (jobs and batches), aux.c (points from the control thread), dispatch.c (what
 * is sent next), sink.c (what the answers do), stats.c (counters). */

#define RP_WRITER_POP_BATCH 1024u	/* probe results taken from a ring at once */
#define RP_WRITER_EVENT_BATCH 256u	/* events taken from the event ring at once */
#define RP_WRITER_AUX_BYTES (64u << 10) /* one control-thread buffer */

struct rp_writer_job {
	struct rp_linebuf *buf;
	size_t off;		 /* bytes before this are settled */
	size_t chunk;		 /* bytes of the request in flight, from off */
	uint32_t points;	 /* points in [off, buf->len) */
	uint32_t chunk_points;	 /* points in the request in flight */
	uint8_t dest;		 /* enum rp_flush_dest */
	bool from_spool;	 /* pos must be released once settled */
	bool probe;		 /* the one request allowed while the sink is down */
	bool retried;		 /* this data failed before or was spooled */
	struct rp_spool_pos pos; /* where the spool record was read */
	int64_t since;		 /* filling: when the first point went in */
	struct rp_writer_job *next;
};

/* A control-thread buffer; goes back and forth through aux_free and aux_full. */
struct rp_writer_aux {
	struct rp_linebuf lb;
	uint8_t dest;
};

/* Statistics: each written by the writer thread only, read by rp_writer_stats() with
 * relaxed loads; unpaired, no other data is published through them. */
struct rp_writer_counters {
	_Atomic uint64_t points_in, points_written, points_rejected, dropped_pool, dropped_no_spool;
	_Atomic uint64_t points_spooled, batches_ok, batches_failed, batches_retried, batches_split;
	_Atomic uint64_t wire_bytes, cpu_ns, last_status, sink_down, inflight, samples_written;
	_Atomic uint64_t spool_bytes, spool_points, spool_overflow, spool_corrupt_points,
	    spool_corrupt_records, points_replayed, spool_io_errors, spool_read_failing;
};

struct rp_writer {
	/* Read-only after create. */
	struct rp_writer_tuning tune;
	uint32_t batch_size;
	int64_t flush_interval;
	struct rp_spsc **rings;
	unsigned nrings;
	const char *const *dev_tags; /* rp_writer_device_tags(): the owner's, read-only here */
	uint32_t dev_tags_cap;
	bool v1;
	bool promrw; /* the sink is prometheus_remote_write.url */
	char spool_dir[256];

	/* Writer thread. */
	struct rp_pool *pool;
	struct rp_flush *flush;
	struct rp_spool *spool; /* NULL: spool.max_bytes 0 */
	struct rp_writer_job *jobs;
	struct rp_writer_job *free_jobs;
	struct rp_writer_job *qhead, *qtail;	   /* closed batches, oldest first */
	struct rp_writer_job *cur[RP_FLUSH_NDEST]; /* batches being filled */
	bool down;
	enum rp_flush_verdict down_verdict;
	int64_t next_try;
	int64_t backoff;
	size_t body_limit; /* learnt from 413 answers */
	unsigned replay_inflight;
	int64_t spool_err_at;	    /* when a spool write failure was last logged */
	int64_t spool_read_at;	    /* a failed spool read is retried from then on */
	int64_t spool_read_backoff; /* 0: the last spool read worked */
	uint64_t rng;
	bool stopping;
	int64_t stop_at, spool_at;
	int64_t cpu_sampled_at;
	int64_t synced_at;
	struct rp_probe_result pop[RP_WRITER_POP_BATCH];
	struct rp_spsc *events; /* rp_writer_events(): the owner's; NULL = none */
	struct rp_event epop[RP_WRITER_EVENT_BATCH];

	/* Control thread. */
	struct rp_writer_aux *aux_cur[RP_FLUSH_NDEST];
	_Atomic uint64_t aux_dropped;
	size_t max_string;

	/* Shared. */
	struct rp_writer_aux *aux;
	struct rp_spsc *aux_free; /* writer -> control: empty buffers */
	struct rp_spsc *aux_full; /* control -> writer: committed buffers */
	pthread_t thread;
	bool started, joined;
	atomic_int stop_req;	    /* set by stop (release), read by the thread (acquire) */
	_Atomic int64_t stop_dline; /* published before stop_req */
	struct rp_writer_counters st;
};

/** Any thread: CLOCK_MONOTONIC in ns. */
int64_t rp_writer__now(void);

/* One writer per counter: a plain load and store is enough, and cheaper than a
 * locked add. */
static inline void rp_writer__stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/** Sets a counter its one writing thread owns. */
static inline void rp_writer__stat_set(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

/** Any thread: a counter's value (relaxed; nothing is published through counters). */
static inline uint64_t rp_writer__stat_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

/* batch.c, writer thread. */
/** Returns a settled job's buffer to the pool and its spool record to the spool. */
void rp_writer__job_free(struct rp_writer *w, struct rp_writer_job *j);
/** A free job around `buf` (a buffer in hand means a job is free). */
struct rp_writer_job *rp_writer__job_new(struct rp_writer *w, struct rp_linebuf *buf, uint8_t dest);
/** Puts j first in the queue of closed batches. */
void rp_writer__queue_head(struct rp_writer *w, struct rp_writer_job *j);
/** Takes the oldest closed batch off the queue; NULL when it is empty. */
struct rp_writer_job *rp_writer__queue_pop(struct rp_writer *w);
/** Spools what is left of j (or drops and counts it without a spool) and frees j. */
void rp_writer__park(struct rp_writer *w, struct rp_writer_job *j);
/** Closes the batch being filled for dest: queued, or spooled while the sink is down. */
void rp_writer__close_cur(struct rp_writer *w, unsigned dest);
/** The batch being filled for dest, opened if needed; NULL when no buffer is left. */
struct rp_writer_job *rp_writer__open_cur(struct rp_writer *w, unsigned dest, int64_t now);
/** Encodes what the probe rings hold into batches; *work set when there was any. */
void rp_writer__drain_rings(struct rp_writer *w, int64_t now, bool *work);
/** Closes the batches whose first point is flush_interval old. */
void rp_writer__check_timers(struct rp_writer *w, int64_t now);

/* aux.c. */
/** Create: the control thread's buffers and their two rings; -ENOMEM. */
int rp_writer__aux_init(struct rp_writer *w);
/** Destroy: frees what rp_writer__aux_init() made (also after it failed). */
void rp_writer__aux_fini(struct rp_writer *w);
/** Writer thread: copies committed control-thread buffers into batches. */
void rp_writer__drain_aux(struct rp_writer *w, int64_t now, bool *work);

/** dispatch.c, writer thread: sends what may go now, while handles are free. */
void rp_writer__dispatch(struct rp_writer *w, int64_t now);
/** sink.c, writer thread: an rp_flush_done_fn (arg is the writer). */
void rp_writer__on_done(void *arg, const struct rp_flush_done *d);
/** stats.c, writer thread: refreshes the gauges; the CPU time every 10 ms, or now. */
void rp_writer__publish(struct rp_writer *w, int64_t now, bool force);

#endif
