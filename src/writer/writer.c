/* The writer thread (include/ringprobe/writer.h): rings -> line protocol in pooled
 * buffers -> libcurl multi (flush.c), with the disk spool (spool*.c) behind it. This
 * file holds the thread's loop and its stop, and create/start/stop/destroy. The rest by
 * concern: batch.c (jobs, filling batches from the rings, room in the pool), aux.c
 * (points from the control thread), dispatch.c (what is sent next: queued batches,
 * chunks, spool replay), sink.c (what each answer does, sink up or down), stats.c.
 *
 * Everything runs on the writer thread except the functions marked "control thread"
 * (rp_writer_point/commit) and the create/start/stop/destroy/stats entry points.
 * Counters are written by one thread each and read with relaxed loads. */
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
#include "ringprobe/log.h"
#include "writer/pool.h"
#include "ringprobe/result.h"
#include "ringprobe/xalloc.h"

/* The longest sleep when nothing is to be sent: results wait in the rings (131,072 of
 * them, well over this at any probe rate) and curl wakes the thread for its transfers.
 * Each wake-up costs ~40 us of CPU on a VM; at 5 ms that was 200 a second. */
#define IDLE_WAIT_MS 20
/* spool.fsync batch: one fdatasync for everything spooled in this long (group commit),
 * so a sink outage under load does not turn into an fsync per batch. */
#define SPOOL_SYNC_NS (100 * RP_NSEC_PER_MSEC)

int64_t rp_writer__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * RP_NSEC_PER_SEC + ts.tv_nsec;
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

	for (unsigned d = 0; d < RP_FLUSH_NDEST; d++)
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
		for (unsigned d = 0; d < RP_FLUSH_NDEST; d++)
			rp_writer__close_cur(w, d);
	if (now >= w->spool_at) {
		rp_flush_abort(w->flush, rp_writer__on_done, w);
		while (w->qhead)
			rp_writer__park(w, rp_writer__queue_pop(w));
		return true;
	}
	return empty && !w->qhead && !rp_flush_busy(w->flush);
}

static void *writer_main(void *arg)
{
	struct rp_writer *w = arg;

	for (;;) {
		int64_t now = rp_writer__now();
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
		rp_writer__drain_rings(w, now, &work);
		rp_writer__drain_aux(w, now, &work);
		rp_writer__check_timers(w, now);
		if (w->stopping && stop_step(w, now))
			break;
		rp_writer__dispatch(w, now);
		if (rp_flush_run(w->flush, work ? 0 : wait_ms(w, now), rp_writer__on_done, w) > 0)
			rp_writer__dispatch(w, rp_writer__now());
		if (w->spool && now - w->synced_at >= SPOOL_SYNC_NS) {
			rp_spool_sync(w->spool);
			w->synced_at = now;
		}
		rp_writer__publish(w, now, false);
	}
	/* Points still in memory here were parked by stop_step(). */
	for (unsigned d = 0; d < RP_FLUSH_NDEST; d++)
		if (w->cur[d] && !w->cur[d]->buf->points) {
			rp_writer__job_free(w, w->cur[d]);
			w->cur[d] = NULL;
		}
	if (w->spool)
		rp_spool_sync(w->spool);
	rp_writer__publish(w, rp_writer__now(), true);
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
	w->rng = (uint64_t)rp_writer__now() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
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
	if (nbufs < (uint64_t)conf->influxdb.max_inflight + RP_FLUSH_NDEST + 2)
		nbufs = (uint64_t)conf->influxdb.max_inflight + RP_FLUSH_NDEST + 2;
	if (nbufs > 1u << 16)
		nbufs = 1u << 16;

	ret = open_spool(w, conf, (unsigned)nbufs, why, whylen);
	if (ret < 0)
		goto out_free;
	if (w->spool)
		rp_spool_get_stats(w->spool, &ss);
	bufsize = (size_t)w->batch_size * RP_LINE_PING_MAX + 256;
	if (bufsize < RP_WRITER_AUX_BYTES + 256)
		bufsize = RP_WRITER_AUX_BYTES + 256;
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

	ret = rp_writer__aux_init(w);
	if (ret < 0) {
		snprintf(why, whylen, "writer: cannot create the point rings");
		goto out_free;
	}
	w->promrw = rp_flush_is_promrw(w->flush);
	rp_log(RP_LOG_INFO, "writer ready",
	       "url=%s api=%s gzip=%s max_inflight=%lld batch_size=%u buffers=%llu "
	       "buffer_bytes=%zu spool=%s spooled_points=%llu",
	       rp_flush_url(w->flush, RP_FLUSH_DATA),
	       w->promrw ? "prometheus-remote-write"
	       : w->v1	 ? "v1"
			 : "v2",
	       conf->influxdb.gzip && !w->promrw ? "on" : "off",
	       (long long)conf->influxdb.max_inflight, w->batch_size, (unsigned long long)nbufs,
	       bufsize, w->spool ? w->spool_dir : "off", (unsigned long long)ss.points);
	if (ss.corrupt_records)
		rp_log(RP_LOG_WARN, "spool had damaged records, skipped",
		       "dir=%s records=%llu points=%llu", w->spool_dir,
		       (unsigned long long)ss.corrupt_records,
		       (unsigned long long)ss.corrupt_points);
	w->cpu_sampled_at = rp_writer__now();
	rp_writer__publish(w, w->cpu_sampled_at, false);
	rp_writer__stat_set(&w->st.cpu_ns, 0);
	*out = w;
	return 0;

out_free:
	rp_writer_destroy(w);
	return ret;
}

void rp_writer_events(struct rp_writer *w, struct rp_spsc *ring)
{
	w->events = ring;
}

void rp_writer_device_tags(struct rp_writer *w, const char *const *tags, uint32_t cap)
{
	w->dev_tags = tags;
	w->dev_tags_cap = tags ? cap : 0;
}

int rp_writer_start(struct rp_writer *w)
{
	int ret;

	if (w->started)
		return -EALREADY;
	ret = pthread_create(&w->thread, NULL, writer_main, w);
	if (ret)
		return -ret;
	pthread_setname_np(w->thread, "rp-writer");
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
	dl = rp_writer__now() + timeout_ns;
	atomic_store_explicit(&w->stop_dline, dl, memory_order_relaxed);
	/* Pairs with the acquire load in writer_main(): stop_dline is visible first. */
	atomic_store_explicit(&w->stop_req, 1, memory_order_release);
	rp_flush_wakeup(w->flush);

	/* The thread parks everything by the deadline; allow it a moment to return
	 * (on the monotonic clock: a step of the real-time one must not move it). */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	timeout_ns += 200 * RP_NSEC_PER_MSEC;
	ts.tv_sec += (time_t)(timeout_ns / RP_NSEC_PER_SEC);
	ts.tv_nsec += (long)(timeout_ns % RP_NSEC_PER_SEC);
	if (ts.tv_nsec >= RP_NSEC_PER_SEC) {
		ts.tv_sec++;
		ts.tv_nsec -= RP_NSEC_PER_SEC;
	}
	ret = pthread_clockjoin_np(w->thread, NULL, CLOCK_MONOTONIC, &ts);
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
		atomic_store_explicit(&w->stop_dline, rp_writer__now(), memory_order_relaxed);
		atomic_store_explicit(&w->stop_req, 1, memory_order_release);
		rp_flush_wakeup(w->flush);
		pthread_join(w->thread, NULL);
	}
	rp_flush_destroy(w->flush);
	rp_spool_close(w->spool);
	rp_pool_destroy(w->pool);
	rp_writer__aux_fini(w);
	free(w->jobs);
	free(w->rings);
	free(w);
}
