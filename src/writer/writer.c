/* The writer thread (include/ringprobe/writer.h): rings -> line protocol in pooled
 * buffers -> libcurl multi (flush.c), with the disk spool (spool.c) behind it.
 *
 * A job is one pool buffer on its way out: the batch being filled for a destination,
 * then a closed batch waiting in the FIFO queue, then a request in flight, until every
 * byte of it is settled (written, rejected, spooled or dropped). There is one job per
 * buffer and both are allocated at create, so nothing allocates per point or batch.
 * A job sends [off, len) of its buffer; after a 413 it sends it as smaller chunks, one
 * request at a time, advancing `off` as each chunk is answered. The smaller body limit
 * is kept for later batches (until restart), so one 413 does not repeat per batch.
 *
 * Memory is influxdb.buffer_size points of buffers. A sink slower than the rings fills
 * the queue; when no buffer is left, the oldest closed batch moves to the spool (or,
 * with no spool, is dropped and counted) so the newest points always find room.
 *
 * Sink state: up, or down (backing off). While down at most one request (the probe)
 * is in flight, and closed batches go straight to the spool, so a crash loses at most
 * what is in memory for the batch being filled. Spooled batches are replayed through
 * the same jobs: up to half the handles while fresh batches are waiting, all of them
 * otherwise.
 *
 * Everything here runs on the writer thread except the functions marked "control
 * thread" (rp_writer_point/commit) and the create/start/stop/destroy/stats entry
 * points. Counters are written by one thread each and read with relaxed loads. */
#include "ringprobe/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "writer/writer_int.h"
#include "ringprobe/compiler.h"
#include "ringprobe/log.h"
#include "writer/pool.h"
#include "ringprobe/result.h"
#include "ringprobe/xalloc.h"

#define POP_BATCH 1024u
#define AUX_BUFS 8u /* power of two: it is also the aux rings' capacity */
#define AUX_BYTES (64u << 10)
#define IDLE_WAIT_MS 5
#define CPU_SAMPLE_NS (10 * RP_NSEC_PER_MSEC)
/* spool.fsync batch: one fdatasync for everything spooled in this long (group commit),
 * so a sink outage under load does not turn into an fsync per batch. */
#define SPOOL_SYNC_NS (100 * RP_NSEC_PER_MSEC)
#define NDEST RP_FLUSH_NDEST

struct job {
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
	struct job *next;
};

/* A control-thread buffer; goes back and forth through aux_free and aux_full. */
struct aux {
	struct rp_linebuf lb;
	uint8_t dest;
};

/* Statistics: each written by the writer thread only, read by rp_writer_stats() with
 * relaxed loads; unpaired, no other data is published through them. */
struct counters {
	_Atomic uint64_t points_in, points_written, points_rejected, dropped_pool, dropped_no_spool;
	_Atomic uint64_t points_spooled, batches_ok, batches_failed, batches_retried, batches_split;
	_Atomic uint64_t wire_bytes, cpu_ns, last_status, sink_down, inflight;
	_Atomic uint64_t spool_bytes, spool_points, spool_overflow, spool_corrupt_points,
	    spool_corrupt_records, points_replayed;
};

struct rp_writer {
	/* Read-only after create. */
	struct rp_writer_tuning tune;
	uint32_t batch_size;
	int64_t flush_interval;
	struct rp_spsc **rings;
	unsigned nrings;
	bool v1;
	char spool_dir[256];

	/* Writer thread. */
	struct rp_pool *pool;
	struct rp_flush *flush;
	struct rp_spool *spool; /* NULL: spool.max_bytes 0 */
	struct job *jobs;
	struct job *free_jobs;
	struct job *qhead, *qtail; /* closed batches, oldest first */
	struct job *cur[NDEST];	   /* batches being filled */
	bool down;
	enum rp_flush_verdict down_verdict;
	int64_t next_try;
	int64_t backoff;
	size_t body_limit; /* learnt from 413 answers */
	unsigned replay_inflight;
	int64_t spool_err_at; /* when a spool write failure was last logged */
	uint64_t rng;
	bool stopping;
	int64_t stop_at, spool_at;
	int64_t cpu_sampled_at;
	int64_t synced_at;
	struct rp_probe_result pop[POP_BATCH];

	/* Control thread. */
	struct aux *aux_cur[NDEST];
	_Atomic uint64_t aux_dropped;
	size_t max_string;

	/* Shared. */
	struct aux *aux;
	struct rp_spsc *aux_free; /* writer -> control: empty buffers */
	struct rp_spsc *aux_full; /* control -> writer: committed buffers */
	pthread_t thread;
	bool started, joined;
	atomic_int stop_req;	    /* set by stop (release), read by the thread (acquire) */
	_Atomic int64_t stop_dline; /* published before stop_req */
	struct counters st;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * RP_NSEC_PER_SEC + ts.tv_nsec;
}

/* One writer per counter: a plain load and store is enough, and cheaper than a
 * locked add. */
static void add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static void set(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

static uint64_t get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

static uint64_t rng_next(struct rp_writer *w)
{
	uint64_t x = w->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rng = x;
	return x;
}

void rp_writer_tuning_init(struct rp_writer_tuning *t)
{
	t->backoff_min_ns = RP_NSEC_PER_SEC;
	t->backoff_max_ns = 60 * RP_NSEC_PER_SEC;
	t->slow_retry_ns = 30 * RP_NSEC_PER_SEC;
	t->retry_after_max_ns = 600 * RP_NSEC_PER_SEC;
	t->spool_segment_bytes = 0;
	t->max_string = 1024;
}

/* Returns a settled job's buffer to the pool and its spool record to the spool. */
static void job_free(struct rp_writer *w, struct job *j)
{
	if (j->from_spool)
		rp_spool_release(w->spool, &j->pos);
	rp_pool_put(w->pool, j->buf);
	j->buf = NULL;
	j->from_spool = false;
	j->next = w->free_jobs;
	w->free_jobs = j;
}

static struct job *job_new(struct rp_writer *w, struct rp_linebuf *buf, uint8_t dest)
{
	struct job *j = w->free_jobs;

	/* One job per pool buffer: a buffer in hand means a job is free. */
	w->free_jobs = j->next;
	memset(j, 0, sizeof(*j));
	j->buf = buf;
	j->dest = dest;
	return j;
}

static void queue_tail(struct rp_writer *w, struct job *j)
{
	j->next = NULL;
	if (w->qtail)
		w->qtail->next = j;
	else
		w->qhead = j;
	w->qtail = j;
}

static void queue_head(struct rp_writer *w, struct job *j)
{
	j->next = w->qhead;
	w->qhead = j;
	if (!w->qtail)
		w->qtail = j;
}

static struct job *queue_pop(struct rp_writer *w)
{
	struct job *j = w->qhead;

	if (j) {
		w->qhead = j->next;
		if (!w->qhead)
			w->qtail = NULL;
		j->next = NULL;
	}
	return j;
}

/* What could not be sent now goes to the spool, or is dropped without one. */
static void park(struct rp_writer *w, struct job *j)
{
	size_t len = j->buf->len - j->off;

	if (len && w->spool) {
		int ret = rp_spool_append(w->spool, j->dest, j->points, j->buf->data + j->off, len);
		int64_t now;

		if (ret == 0) {
			add(&w->st.points_spooled, j->points);
		} else {
			/* The spool counted the points as overflow; say why, once a minute. */
			now = mono_ns();
			if (!w->spool_err_at || now - w->spool_err_at >= 60 * RP_NSEC_PER_SEC) {
				w->spool_err_at = now;
				rp_log(RP_LOG_ERROR, "cannot write to the spool; points dropped",
				       "err=\"%s\" points=%u", strerror(-ret), j->points);
			}
		}
	} else if (len) {
		add(&w->st.dropped_no_spool, j->points);
	}
	job_free(w, j);
}

/* Frees a buffer by parking the oldest closed batch. */
static bool evict_oldest(struct rp_writer *w)
{
	struct job *j = queue_pop(w);

	if (!j)
		return false;
	park(w, j);
	return true;
}

static struct rp_linebuf *buf_get(struct rp_writer *w)
{
	struct rp_linebuf *b = rp_pool_get(w->pool);

	if (!b && evict_oldest(w))
		b = rp_pool_get(w->pool);
	return b;
}

/* Closes the batch being filled for `dest`: queued, or spooled while the sink is down. */
static void close_cur(struct rp_writer *w, unsigned dest)
{
	struct job *j = w->cur[dest];

	if (!j || !j->buf->points)
		return;
	w->cur[dest] = NULL;
	j->points = j->buf->points;
	if (w->down && w->spool && !j->from_spool)
		park(w, j);
	else
		queue_tail(w, j);
}

static struct job *open_cur(struct rp_writer *w, unsigned dest, int64_t now)
{
	struct rp_linebuf *b;
	struct job *j = w->cur[dest];

	if (j)
		return j;
	b = buf_get(w);
	if (!b)
		return NULL;
	j = job_new(w, b, (uint8_t)dest);
	j->since = now;
	w->cur[dest] = j;
	return j;
}

static void drain_rings(struct rp_writer *w, int64_t now, bool *work)
{
	for (unsigned r = 0; r < w->nrings; r++) {
		uint32_t n = rp_spsc_pop(w->rings[r], w->pop, POP_BATCH);
		uint32_t i = 0;

		if (!n)
			continue;
		*work = true;
		add(&w->st.points_in, n);
		while (i < n) {
			struct job *j = open_cur(w, RP_FLUSH_DATA, now);
			int ret;

			if (!j) {
				add(&w->st.dropped_pool, n - i);
				break;
			}
			ret = rp_line_ping(j->buf, &w->pop[i]);
			if (ret == -ENOSPC && j->buf->points) {
				close_cur(w, RP_FLUSH_DATA);
				continue;
			}
			if (ret < 0)
				add(&w->st.points_rejected, 1); /* a time InfluxDB cannot store */
			i++;
			if (j->buf->points >= w->batch_size)
				close_cur(w, RP_FLUSH_DATA);
		}
	}
}

static void drain_aux(struct rp_writer *w, int64_t now, bool *work)
{
	struct aux *a;

	while (rp_spsc_pop(w->aux_full, &a, 1) == 1) {
		unsigned dest = w->v1 ? RP_FLUSH_DATA : a->dest;
		struct job *j = open_cur(w, dest, now);

		*work = true;
		add(&w->st.points_in, a->lb.points);
		if (j && j->buf->cap - j->buf->len < a->lb.len) {
			close_cur(w, dest);
			j = open_cur(w, dest, now);
		}
		if (j && j->buf->cap - j->buf->len >= a->lb.len) {
			memcpy(j->buf->data + j->buf->len, a->lb.data, a->lb.len);
			j->buf->len += a->lb.len;
			j->buf->points += a->lb.points;
			if (j->buf->points >= w->batch_size)
				close_cur(w, dest);
		} else {
			add(&w->st.dropped_pool, a->lb.points);
		}
		rp_line_reset(&a->lb);
		rp_spsc_push(w->aux_free, &a, 1);
	}
}

static void check_timers(struct rp_writer *w, int64_t now)
{
	for (unsigned d = 0; d < NDEST; d++) {
		struct job *j = w->cur[d];

		if (j && j->buf->points && now - j->since >= w->flush_interval)
			close_cur(w, d);
	}
}

/* Picks [off, off + chunk) under the learnt body limit, cut after a newline. */
static void pick_chunk(struct rp_writer *w, struct job *j)
{
	const char *p = j->buf->data + j->off;
	size_t left = j->buf->len - j->off;
	const char *nl;

	if (left <= w->body_limit) {
		j->chunk = left;
		j->chunk_points = j->points;
		return;
	}
	nl = memrchr(p, '\n', w->body_limit);
	if (!nl)
		nl = memchr(p, '\n', left); /* one line over the limit goes alone */
	j->chunk = nl ? (size_t)(nl - p) + 1 : left;
	j->chunk_points =
	    j->chunk == left ? j->points : (uint32_t)rp_line__count_lines(p, j->chunk);
}

static int send_job(struct rp_writer *w, struct job *j, bool probe)
{
	int ret;

	pick_chunk(w, j);
	ret = rp_flush_send(w->flush, (enum rp_flush_dest)j->dest, j->buf->data + j->off, j->chunk,
			    j);
	if (ret < 0)
		return ret;
	j->probe = probe;
	if (j->from_spool)
		w->replay_inflight++;
	if (j->retried)
		add(&w->st.batches_retried, 1);
	return 0;
}

/* Reads the oldest spool record into a fresh job; NULL when there is none (or no room:
 * two buffers stay free for the batches being filled). */
static struct job *replay_one(struct rp_writer *w)
{
	struct rp_spool_rec rec;
	struct rp_linebuf *b;
	struct job *j;
	int ret;

	if (!w->spool || !rp_spool_has_unread(w->spool) || rp_pool_free_count(w->pool) <= NDEST)
		return NULL;
	b = rp_pool_get(w->pool);
	ret = rp_spool_read(w->spool, b->data, b->cap, &rec);
	if (ret <= 0) {
		rp_pool_put(w->pool, b);
		return NULL;
	}
	b->len = rec.len;
	b->points = rec.points;
	j = job_new(w, b, rec.kind < NDEST ? rec.kind : RP_FLUSH_DATA);
	j->points = rec.points;
	j->from_spool = true;
	j->retried = true;
	j->pos = rec.pos;
	add(&w->st.points_replayed, rec.points);
	return j;
}

static void dispatch(struct rp_writer *w, int64_t now)
{
	unsigned nslots = rp_flush_idle(w->flush) + rp_flush_busy(w->flush);

	if (w->down) {
		struct job *j;

		if (w->spool)
			while (w->qhead)
				park(w, queue_pop(w));
		if (now < w->next_try || rp_flush_busy(w->flush))
			return;
		j = queue_pop(w);
		if (!j && !w->stopping)
			j = replay_one(w);
		if (j && send_job(w, j, true) < 0)
			queue_head(w, j);
		if (j)
			w->next_try = now + w->tune.slow_retry_ns; /* until the probe answers */
		return;
	}
	while (rp_flush_idle(w->flush)) {
		struct job *j = NULL;

		if (!w->stopping && (!w->qhead || w->replay_inflight < (nslots + 1) / 2))
			j = replay_one(w);
		if (!j)
			j = queue_pop(w);
		if (!j)
			break;
		if (send_job(w, j, false) < 0) {
			/* Cannot happen with a free handle unless gzip fails: keep the data. */
			add(&w->st.batches_failed, 1);
			j->retried = true;
			if (w->spool)
				park(w, j);
			else
				queue_head(w, j);
			break;
		}
	}
}

static const char *fix_key(const struct rp_writer *w, int verdict, unsigned dest)
{
	if (verdict == RP_FLUSH_AUTH)
		return w->v1 ? "influxdb.username+influxdb.password" : "influxdb.token";
	if (w->v1)
		return "influxdb.database+influxdb.retention_policy";
	return dest == RP_FLUSH_HEALTH ? "influxdb.health_bucket+influxdb.org"
				       : "influxdb.bucket+influxdb.org";
}

static void went_down(struct rp_writer *w, const struct rp_flush_done *d, struct job *j,
		      int64_t now)
{
	bool was_down = w->down;
	int64_t delay;

	if (was_down && !j->probe && d->verdict == w->down_verdict)
		return; /* a request sent before the first failure: already handled */
	if (d->verdict == RP_FLUSH_RETRY) {
		w->backoff = w->backoff ? w->backoff * 2 : w->tune.backoff_min_ns;
		if (w->backoff > w->tune.backoff_max_ns)
			w->backoff = w->tune.backoff_max_ns;
		delay = w->backoff / 2 + (int64_t)(rng_next(w) % (uint64_t)(w->backoff / 2 + 1));
		if (d->retry_after_ns > delay)
			delay = d->retry_after_ns < w->tune.retry_after_max_ns
				    ? d->retry_after_ns
				    : w->tune.retry_after_max_ns;
	} else {
		delay = w->tune.slow_retry_ns;
	}
	w->down = true;
	w->next_try = now + delay;
	set(&w->st.sink_down, 1);
	if (was_down && d->verdict == w->down_verdict)
		return; /* one line per change, not per retry */
	w->down_verdict = d->verdict;
	if (d->verdict == RP_FLUSH_AUTH)
		rp_log(RP_LOG_ERROR, "sink refused the credentials: fix the key named in fix=",
		       "status=%ld fix=%s url=%s reason=\"%s\" action=%s retry_in_ms=%lld",
		       d->status, fix_key(w, d->verdict, j->dest), rp_flush_url(w->flush, j->dest),
		       d->reason, w->spool ? "spool" : "hold",
		       (long long)(delay / RP_NSEC_PER_MSEC));
	else if (d->verdict == RP_FLUSH_NOT_FOUND)
		rp_log(RP_LOG_ERROR,
		       "sink has no such database, bucket or org: fix the key named in fix=",
		       "status=%ld fix=%s url=%s reason=\"%s\" action=%s retry_in_ms=%lld",
		       d->status, fix_key(w, d->verdict, j->dest), rp_flush_url(w->flush, j->dest),
		       d->reason, w->spool ? "spool" : "hold",
		       (long long)(delay / RP_NSEC_PER_MSEC));
	else
		rp_log(RP_LOG_WARN, "sink unavailable, backing off",
		       "status=%ld err=%d url=%s reason=\"%s\" action=%s retry_in_ms=%lld",
		       d->status, d->err, rp_flush_url(w->flush, j->dest), d->reason,
		       w->spool ? "spool" : "hold", (long long)(delay / RP_NSEC_PER_MSEC));
}

static void came_up(struct rp_writer *w)
{
	if (!w->down)
		return;
	w->down = false;
	w->backoff = 0;
	set(&w->st.sink_down, 0);
	rp_log(RP_LOG_NOTICE, "sink answers again", "spooled_points=%llu",
	       (unsigned long long)get(&w->st.spool_points));
}

/* The request in flight for j was answered: `written` of its points stored. */
static void advance(struct rp_writer *w, struct job *j, uint32_t written)
{
	add(&w->st.points_written, written);
	j->off += j->chunk;
	j->points -= j->chunk_points;
	j->chunk = 0;
	if (j->off >= j->buf->len)
		job_free(w, j);
	else
		queue_head(w, j); /* its next chunk goes first */
}

static void on_done(void *arg, const struct rp_flush_done *d)
{
	struct rp_writer *w = arg;
	struct job *j = d->user;
	int64_t now = mono_ns();
	uint32_t rejected;

	if (j->from_spool)
		w->replay_inflight--;
	add(&w->st.wire_bytes, d->wire_bytes);
	if (d->status)
		set(&w->st.last_status, (uint64_t)d->status);
	switch (d->verdict) {
	case RP_FLUSH_OK:
		add(&w->st.batches_ok, 1);
		came_up(w);
		advance(w, j, j->chunk_points);
		return;
	case RP_FLUSH_REJECTED:
		add(&w->st.batches_failed, 1);
		rejected = j->chunk_points;
		if (d->rejected >= 0 && (uint64_t)d->rejected < rejected)
			rejected = (uint32_t)d->rejected;
		add(&w->st.points_rejected, rejected);
		rp_log(RP_LOG_WARN, "sink rejected points",
		       "status=%ld rejected=%u of=%u url=%s reason=\"%s\"", d->status, rejected,
		       j->chunk_points, rp_flush_url(w->flush, j->dest), d->reason);
		came_up(w);
		advance(w, j, j->chunk_points - rejected);
		return;
	case RP_FLUSH_TOO_LARGE:
		add(&w->st.batches_failed, 1);
		came_up(w);
		if (j->chunk_points > 1) {
			/* Requests sent before an earlier 413 lowered the limit only requeue. */
			if (j->chunk / 2 < w->body_limit) {
				w->body_limit = j->chunk / 2;
				add(&w->st.batches_split, 1);
				rp_log(RP_LOG_NOTICE,
				       "sink refused a body as too large, halving it",
				       "status=413 body_bytes=%zu max_body_bytes=%zu", j->chunk,
				       w->body_limit);
			}
			j->chunk = 0;
			queue_head(w, j);
			return;
		}
		add(&w->st.points_rejected, j->chunk_points);
		rp_log(RP_LOG_WARN, "sink rejected points",
		       "status=413 rejected=%u of=%u reason=\"one line is over the body limit\"",
		       j->chunk_points, j->chunk_points);
		advance(w, j, 0);
		return;
	case RP_FLUSH_AUTH:
	case RP_FLUSH_NOT_FOUND:
	case RP_FLUSH_RETRY:
		add(&w->st.batches_failed, 1);
		went_down(w, d, j, now);
		break;
	case RP_FLUSH_ABORTED:
		break;
	}
	j->chunk = 0;
	j->retried = true;
	if (w->spool || (w->stopping && now >= w->spool_at))
		park(w, j);
	else
		queue_head(w, j);
}

static void publish(struct rp_writer *w, int64_t now, bool force)
{
	struct rp_spool_stats ss;
	struct timespec ts;

	set(&w->st.inflight, rp_flush_busy(w->flush));
	if (w->spool) {
		rp_spool_get_stats(w->spool, &ss);
		set(&w->st.spool_bytes, ss.bytes);
		set(&w->st.spool_points, ss.points);
		set(&w->st.spool_overflow, ss.overflow_points);
		set(&w->st.spool_corrupt_points, ss.corrupt_points);
		set(&w->st.spool_corrupt_records, ss.corrupt_records);
	}
	if (force || now - w->cpu_sampled_at >= CPU_SAMPLE_NS) {
		w->cpu_sampled_at = now;
		if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
			set(&w->st.cpu_ns,
			    (uint64_t)ts.tv_sec * RP_NSEC_PER_SEC + (uint64_t)ts.tv_nsec);
	}
}

static bool inputs_empty(struct rp_writer *w)
{
	for (unsigned r = 0; r < w->nrings; r++)
		if (!rp_spsc_empty(w->rings[r]))
			return false;
	return rp_spsc_empty(w->aux_full);
}

static int wait_ms(struct rp_writer *w, int64_t now)
{
	int64_t until = now + IDLE_WAIT_MS * RP_NSEC_PER_MSEC;

	for (unsigned d = 0; d < NDEST; d++)
		if (w->cur[d] && w->cur[d]->buf->points &&
		    w->cur[d]->since + w->flush_interval < until)
			until = w->cur[d]->since + w->flush_interval;
	if (w->down && (w->qhead || (w->spool && rp_spool_has_unread(w->spool))) &&
	    w->next_try < until)
		until = w->next_try;
	if (until <= now)
		return 0;
	return (int)((until - now + RP_NSEC_PER_MSEC - 1) / RP_NSEC_PER_MSEC);
}

/* Stop requested: once the inputs are empty every batch is closed; at spool_at whatever
 * is still in flight or queued is parked. Returns true when the thread may exit. */
static bool stop_step(struct rp_writer *w, int64_t now)
{
	bool empty = inputs_empty(w);

	if (empty || now >= w->spool_at)
		for (unsigned d = 0; d < NDEST; d++)
			close_cur(w, d);
	if (now >= w->spool_at) {
		rp_flush_abort(w->flush, on_done, w);
		while (w->qhead)
			park(w, queue_pop(w));
		return true;
	}
	return empty && !w->qhead && !rp_flush_busy(w->flush);
}

static void *writer_main(void *arg)
{
	struct rp_writer *w = arg;

	for (;;) {
		int64_t now = mono_ns();
		bool work = false;

		if (!w->stopping && atomic_load_explicit(&w->stop_req, memory_order_acquire)) {
			int64_t dl = atomic_load_explicit(&w->stop_dline, memory_order_relaxed);
			int64_t margin = (dl - now) / 4;

			if (margin > 2 * RP_NSEC_PER_SEC)
				margin = 2 * RP_NSEC_PER_SEC;
			w->stopping = true;
			w->stop_at = dl;
			w->spool_at = dl - (margin > 0 ? margin : 0);
		}
		drain_rings(w, now, &work);
		drain_aux(w, now, &work);
		check_timers(w, now);
		if (w->stopping && stop_step(w, now))
			break;
		dispatch(w, now);
		if (rp_flush_run(w->flush, work ? 0 : wait_ms(w, now), on_done, w) > 0)
			dispatch(w, mono_ns());
		if (w->spool && now - w->synced_at >= SPOOL_SYNC_NS) {
			rp_spool_sync(w->spool);
			w->synced_at = now;
		}
		publish(w, now, false);
	}
	/* Points still in memory here were parked by stop_step(). */
	for (unsigned d = 0; d < NDEST; d++)
		if (w->cur[d] && !w->cur[d]->buf->points) {
			job_free(w, w->cur[d]);
			w->cur[d] = NULL;
		}
	if (w->spool)
		rp_spool_sync(w->spool);
	publish(w, mono_ns(), true);
	return NULL;
}

static int open_spool(struct rp_writer *w, const struct rp_conf *conf, unsigned max_taken,
		      char *why, size_t whylen)
{
	struct rp_spool_opts o = {
	    .dir = conf->spool.dir,
	    .max_bytes = conf->spool.max_bytes,
	    .fsync = conf->spool.fsync,
	    .segment_bytes = w->tune.spool_segment_bytes,
	    .max_taken = max_taken,
	};

	if (conf->spool.max_bytes <= 0)
		return 0;
	if (!conf->spool.dir || !*conf->spool.dir) {
		snprintf(why, whylen, "spool.dir must be set, or spool.max_bytes: 0 for no spool");
		return -EINVAL;
	}
	snprintf(w->spool_dir, sizeof(w->spool_dir), "%s", conf->spool.dir);
	return rp_spool_open(&w->spool, &o, why, whylen);
}

int rp_writer_create(struct rp_writer **out, const struct rp_conf *conf,
		     struct rp_spsc *const *rings, unsigned nrings,
		     const struct rp_writer_tuning *tune, char *why, size_t whylen)
{
	struct rp_spool_stats ss = {0};
	struct rp_writer *w;
	uint64_t nbufs;
	size_t bufsize;
	int ret;

	if (!out || !conf || (nrings && !rings) || conf->influxdb.batch_size < 1) {
		snprintf(why, whylen, "writer: bad arguments");
		return -EINVAL;
	}
	for (unsigned r = 0; r < nrings; r++)
		if (!rings[r] || rp_spsc_elem_size(rings[r]) != sizeof(struct rp_probe_result)) {
			snprintf(why, whylen, "writer: ring %u does not hold probe results", r);
			return -EINVAL;
		}
	w = rp_xcalloc(1, sizeof(*w));
	if (tune)
		w->tune = *tune;
	else
		rp_writer_tuning_init(&w->tune);
	if (w->tune.backoff_min_ns < RP_NSEC_PER_MSEC)
		w->tune.backoff_min_ns = RP_NSEC_PER_MSEC;
	if (w->tune.backoff_max_ns < w->tune.backoff_min_ns)
		w->tune.backoff_max_ns = w->tune.backoff_min_ns;
	w->batch_size = conf->influxdb.batch_size > UINT32_MAX / 2
			    ? UINT32_MAX / 2
			    : (uint32_t)conf->influxdb.batch_size;
	w->flush_interval = conf->influxdb.flush_interval;
	w->max_string = w->tune.max_string;
	w->body_limit = SIZE_MAX;
	w->rng = (uint64_t)mono_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	if (nrings) {
		w->rings = rp_xcalloc(nrings, sizeof(*w->rings));
		memcpy(w->rings, rings, nrings * sizeof(*w->rings));
	}
	w->nrings = nrings;

	/* Enough buffers for influxdb.buffer_size points, and always some beyond the
	 * requests in flight and the batches being filled. */
	nbufs = ((uint64_t)(conf->influxdb.buffer_size > 0 ? conf->influxdb.buffer_size : 1) +
		 w->batch_size - 1) /
		w->batch_size;
	if (nbufs < (uint64_t)conf->influxdb.max_inflight + NDEST + 2)
		nbufs = (uint64_t)conf->influxdb.max_inflight + NDEST + 2;
	if (nbufs > 1u << 16)
		nbufs = 1u << 16;

	ret = open_spool(w, conf, (unsigned)nbufs, why, whylen);
	if (ret < 0)
		goto out_free;
	if (w->spool)
		rp_spool_get_stats(w->spool, &ss);
	bufsize = (size_t)w->batch_size * RP_LINE_PING_MAX + 256;
	if (bufsize < AUX_BYTES + 256)
		bufsize = AUX_BYTES + 256;
	if (bufsize < ss.max_record)
		bufsize = ss.max_record; /* written by a run with a larger batch_size */
	ret = rp_pool_create(&w->pool, (uint32_t)nbufs, bufsize);
	if (ret < 0) {
		snprintf(why, whylen, "writer: cannot size %llu buffers of %zu bytes",
			 (unsigned long long)nbufs, bufsize);
		goto out_free;
	}
	w->jobs = rp_xcalloc(nbufs, sizeof(*w->jobs));
	for (uint64_t i = 0; i < nbufs; i++) {
		w->jobs[i].next = w->free_jobs;
		w->free_jobs = &w->jobs[i];
	}
	ret = rp_flush_create(&w->flush, conf, bufsize, why, whylen);
	if (ret < 0)
		goto out_free;
	w->v1 = rp_flush_is_v1(w->flush);

	w->aux = rp_xcalloc(AUX_BUFS, sizeof(*w->aux));
	if (rp_spsc_create(&w->aux_free, AUX_BUFS, sizeof(struct aux *)) < 0 ||
	    rp_spsc_create(&w->aux_full, AUX_BUFS, sizeof(struct aux *)) < 0) {
		snprintf(why, whylen, "writer: cannot create the point rings");
		ret = -ENOMEM;
		goto out_free;
	}
	for (unsigned i = 0; i < AUX_BUFS; i++) {
		struct aux *a = &w->aux[i];

		a->lb.data = rp_xmalloc(AUX_BYTES);
		a->lb.cap = AUX_BYTES;
		rp_spsc_push(w->aux_free, &a, 1);
	}
	rp_log(RP_LOG_INFO, "writer ready",
	       "url=%s api=%s gzip=%s max_inflight=%lld batch_size=%u buffers=%llu "
	       "buffer_bytes=%zu spool=%s spooled_points=%llu",
	       rp_flush_url(w->flush, RP_FLUSH_DATA), w->v1 ? "v1" : "v2",
	       conf->influxdb.gzip ? "on" : "off", (long long)conf->influxdb.max_inflight,
	       w->batch_size, (unsigned long long)nbufs, bufsize, w->spool ? w->spool_dir : "off",
	       (unsigned long long)ss.points);
	if (ss.corrupt_records)
		rp_log(RP_LOG_WARN, "spool had damaged records, skipped",
		       "dir=%s records=%llu points=%llu", w->spool_dir,
		       (unsigned long long)ss.corrupt_records,
		       (unsigned long long)ss.corrupt_points);
	w->cpu_sampled_at = mono_ns();
	publish(w, w->cpu_sampled_at, false);
	set(&w->st.cpu_ns, 0);
	*out = w;
	return 0;

out_free:
	rp_writer_destroy(w);
	return ret;
}

int rp_writer_start(struct rp_writer *w)
{
	int ret;

	if (w->started)
		return -EALREADY;
	ret = pthread_create(&w->thread, NULL, writer_main, w);
	if (ret)
		return -ret;
	w->started = true;
	return 0;
}

int rp_writer_stop(struct rp_writer *w, int64_t timeout_ns)
{
	struct timespec ts;
	int64_t dl;
	int ret;

	if (!w->started || w->joined)
		return 0;
	if (timeout_ns < 0)
		timeout_ns = 0;
	dl = mono_ns() + timeout_ns;
	atomic_store_explicit(&w->stop_dline, dl, memory_order_relaxed);
	/* Pairs with the acquire load in writer_main(): stop_dline is visible first. */
	atomic_store_explicit(&w->stop_req, 1, memory_order_release);
	rp_flush_wakeup(w->flush);

	/* The thread parks everything by the deadline; allow it a moment to return. */
	clock_gettime(CLOCK_REALTIME, &ts);
	timeout_ns += 200 * RP_NSEC_PER_MSEC;
	ts.tv_sec += (time_t)(timeout_ns / RP_NSEC_PER_SEC);
	ts.tv_nsec += (long)(timeout_ns % RP_NSEC_PER_SEC);
	if (ts.tv_nsec >= RP_NSEC_PER_SEC) {
		ts.tv_sec++;
		ts.tv_nsec -= RP_NSEC_PER_SEC;
	}
	ret = pthread_timedjoin_np(w->thread, NULL, &ts);
	if (ret == ETIMEDOUT)
		return -ETIMEDOUT;
	w->joined = true;
	return ret ? -ret : 0;
}

void rp_writer_destroy(struct rp_writer *w)
{
	if (!w)
		return;
	if (w->started && !w->joined) {
		atomic_store_explicit(&w->stop_dline, mono_ns(), memory_order_relaxed);
		atomic_store_explicit(&w->stop_req, 1, memory_order_release);
		rp_flush_wakeup(w->flush);
		pthread_join(w->thread, NULL);
	}
	rp_flush_destroy(w->flush);
	rp_spool_close(w->spool);
	rp_pool_destroy(w->pool);
	if (w->aux)
		for (unsigned i = 0; i < AUX_BUFS; i++)
			free(w->aux[i].lb.data);
	free(w->aux);
	rp_spsc_destroy(w->aux_free);
	rp_spsc_destroy(w->aux_full);
	free(w->jobs);
	free(w->rings);
	free(w);
}

/* Control thread. */
int rp_writer_commit(struct rp_writer *w)
{
	for (unsigned d = 0; d < NDEST; d++) {
		struct aux *a = w->aux_cur[d];

		if (!a || !a->lb.points)
			continue;
		w->aux_cur[d] = NULL;
		/* aux_full has a slot for every aux buffer, so this never drops. */
		rp_spsc_push(w->aux_full, &a, 1);
	}
	return 0;
}

/* Control thread: the buffer being filled for `dest`; NULL when every buffer is with
 * the writer. */
static struct aux *aux_take(struct rp_writer *w, uint8_t dest)
{
	struct aux *a = w->aux_cur[dest];

	if (a)
		return a;
	if (rp_spsc_pop(w->aux_free, &a, 1) != 1)
		return NULL;
	a->dest = dest;
	w->aux_cur[dest] = a;
	return a;
}

int rp_writer_point(struct rp_writer *w, enum rp_writer_dest dest, const char *measurement,
		    const struct rp_tag *tags, size_t ntags, const struct rp_field *fields,
		    size_t nfields, uint64_t ts_ns)
{
	/* v1 writes health points to the same database: one stream, fewer requests. */
	uint8_t d = dest == RP_WRITER_HEALTH && !w->v1 ? RP_FLUSH_HEALTH : RP_FLUSH_DATA;
	struct aux *a = aux_take(w, d);
	int ret;

	if (!a)
		goto out_nobufs;
	ret =
	    rp_line_point(&a->lb, measurement, tags, ntags, fields, nfields, ts_ns, w->max_string);
	if (ret != -ENOSPC)
		return ret;
	if (!a->lb.points)
		return -E2BIG;
	w->aux_cur[d] = NULL;
	rp_spsc_push(w->aux_full, &a, 1);
	a = aux_take(w, d);
	if (!a)
		goto out_nobufs;
	ret =
	    rp_line_point(&a->lb, measurement, tags, ntags, fields, nfields, ts_ns, w->max_string);
	return ret == -ENOSPC ? -E2BIG : ret;

out_nobufs:
	atomic_fetch_add_explicit(&w->aux_dropped, 1, memory_order_relaxed);
	return -ENOBUFS;
}

void rp_writer_stats(const struct rp_writer *w, struct rp_writer_stats *out)
{
	const struct counters *c = &w->st;

	memset(out, 0, sizeof(*out));
	out->points_in = get(&c->points_in);
	out->points_written = get(&c->points_written);
	out->points_rejected = get(&c->points_rejected);
	out->dropped_pool =
	    get(&c->dropped_pool) + atomic_load_explicit(&w->aux_dropped, memory_order_relaxed);
	out->dropped_spool_overflow = get(&c->spool_overflow);
	out->dropped_spool_corrupt = get(&c->spool_corrupt_points);
	out->dropped_no_spool = get(&c->dropped_no_spool);
	out->points_spooled = get(&c->points_spooled);
	out->points_replayed = get(&c->points_replayed);
	out->batches_ok = get(&c->batches_ok);
	out->batches_failed = get(&c->batches_failed);
	out->batches_retried = get(&c->batches_retried);
	out->batches_split = get(&c->batches_split);
	out->spool_bytes = get(&c->spool_bytes);
	out->spool_points = get(&c->spool_points);
	out->spool_corrupt_records = get(&c->spool_corrupt_records);
	out->inflight = get(&c->inflight);
	out->wire_bytes = get(&c->wire_bytes);
	out->cpu_ns = get(&c->cpu_ns);
	out->sink_down = get(&c->sink_down);
	out->last_status = get(&c->last_status);
}
