/* Jobs and batches, on the writer thread (writer_int.h).
 *
 * A job is one pool buffer on its way out: the batch being filled for a destination,
 * then a closed batch waiting in the FIFO queue, then a request in flight, until every
 * byte of it is settled (written, rejected, spooled or dropped). There is one job per
 * buffer and both are allocated at create, so nothing allocates per point or batch.
 * Probe results from the rings are encoded here straight into the batch being filled.
 *
 * Memory is influxdb.buffer_size points of buffers. A sink slower than the rings fills
 * the queue; when no buffer is left, the oldest closed batch moves to the spool (or,
 * with no spool, is dropped and counted) so the newest points always find room. */
#include "writer/writer_int.h"

#include <errno.h>
#include <string.h>

#include "ringprobe/log.h"
#include "writer/pool.h"

/* Returns a settled job's buffer to the pool and its spool record to the spool. */
void rp_writer__job_free(struct rp_writer *w, struct rp_writer_job *j)
{
	if (j->from_spool)
		rp_spool_release(w->spool, &j->pos);
	rp_pool_put(w->pool, j->buf);
	j->buf = NULL;
	j->from_spool = false;
	j->next = w->free_jobs;
	w->free_jobs = j;
}

struct rp_writer_job *rp_writer__job_new(struct rp_writer *w, struct rp_linebuf *buf, uint8_t dest)
{
	struct rp_writer_job *j = w->free_jobs;

	/* One job per pool buffer: a buffer in hand means a job is free. */
	w->free_jobs = j->next;
	memset(j, 0, sizeof(*j));
	j->buf = buf;
	j->dest = dest;
	return j;
}

static void queue_tail(struct rp_writer *w, struct rp_writer_job *j)
{
	j->next = NULL;
	if (w->qtail)
		w->qtail->next = j;
	else
		w->qhead = j;
	w->qtail = j;
}

void rp_writer__queue_head(struct rp_writer *w, struct rp_writer_job *j)
{
	j->next = w->qhead;
	w->qhead = j;
	if (!w->qtail)
		w->qtail = j;
}

struct rp_writer_job *rp_writer__queue_pop(struct rp_writer *w)
{
	struct rp_writer_job *j = w->qhead;

	if (j) {
		w->qhead = j->next;
		if (!w->qhead)
			w->qtail = NULL;
		j->next = NULL;
	}
	return j;
}

/* What could not be sent now goes to the spool, or is dropped without one. */
void rp_writer__park(struct rp_writer *w, struct rp_writer_job *j)
{
	size_t len = j->buf->len - j->off;

	if (len && w->spool) {
		int ret = rp_spool_append(w->spool, j->dest, j->points, j->buf->data + j->off, len);
		int64_t now;

		if (ret == 0) {
			rp_writer__stat_add(&w->st.points_spooled, j->points);
		} else {
			/* The spool counted the points as overflow; say why, once a minute. */
			now = rp_writer__now();
			if (!w->spool_err_at || now - w->spool_err_at >= 60 * RP_NSEC_PER_SEC) {
				w->spool_err_at = now;
				rp_log(RP_LOG_ERROR, "cannot write to the spool; points dropped",
				       "err=\"%s\" points=%u", strerror(-ret), j->points);
			}
		}
	} else if (len) {
		rp_writer__stat_add(&w->st.dropped_no_spool, j->points);
	}
	rp_writer__job_free(w, j);
}

/* Frees a buffer by parking the oldest closed batch. */
static bool evict_oldest(struct rp_writer *w)
{
	struct rp_writer_job *j = rp_writer__queue_pop(w);

	if (!j)
		return false;
	rp_writer__park(w, j);
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
void rp_writer__close_cur(struct rp_writer *w, unsigned dest)
{
	struct rp_writer_job *j = w->cur[dest];

	if (!j || !j->buf->points)
		return;
	w->cur[dest] = NULL;
	j->points = j->buf->points;
	if (w->down && w->spool && !j->from_spool)
		rp_writer__park(w, j);
	else
		queue_tail(w, j);
}

struct rp_writer_job *rp_writer__open_cur(struct rp_writer *w, unsigned dest, int64_t now)
{
	struct rp_linebuf *b;
	struct rp_writer_job *j = w->cur[dest];

	if (j)
		return j;
	b = buf_get(w);
	if (!b)
		return NULL;
	j = rp_writer__job_new(w, b, (uint8_t)dest);
	j->since = now;
	w->cur[dest] = j;
	return j;
}

/* The pre-escaped tags of a result's device, or NULL (rp_writer_device_tags). */
static inline const char *tags_of(const struct rp_writer *w, uint32_t id)
{
	return id && id <= w->dev_tags_cap ? w->dev_tags[id - 1] : NULL;
}

/* What a popped batch holds: probe results (w->pop) or round and state events (w->epop). */
enum popped { POPPED_RESULTS, POPPED_EVENTS };

/* Point i of the popped batch into b: rp_line_ping's or rp_writer__event_point's answer. */
static inline int encode_one(const struct rp_writer *w, struct rp_linebuf *b, enum popped what,
			     uint32_t i)
{
	if (what == POPPED_RESULTS)
		return rp_line_ping(b, &w->pop[i], tags_of(w, w->pop[i].id));
	return rp_writer__event_point(b, &w->epop[i], tags_of(w, w->epop[i].id));
}

/* The n popped points into data batches: a full buffer is closed and the point retried
 * in the next; a point no buffer can hold (a time InfluxDB cannot store) is counted as
 * rejected; with no free buffer the rest are counted as dropped. */
static void batch_popped(struct rp_writer *w, int64_t now, enum popped what, uint32_t n)
{
	uint32_t i = 0;

	rp_writer__stat_add(&w->st.points_in, n);
	while (i < n) {
		struct rp_writer_job *j = rp_writer__open_cur(w, RP_FLUSH_DATA, now);
		int ret;

		if (!j) {
			rp_writer__stat_add(&w->st.dropped_pool, n - i);
			break;
		}
		ret = encode_one(w, j->buf, what, i);
		if (ret == -ENOSPC && j->buf->points) {
			rp_writer__close_cur(w, RP_FLUSH_DATA);
			continue;
		}
		if (ret < 0)
			rp_writer__stat_add(&w->st.points_rejected, 1);
		i++;
		if (j->buf->points >= w->batch_size)
			rp_writer__close_cur(w, RP_FLUSH_DATA);
	}
}

void rp_writer__drain_rings(struct rp_writer *w, int64_t now, bool *work)
{
	uint32_t n;

	for (unsigned r = 0; r < w->nrings; r++) {
		n = rp_spsc_pop(w->rings[r], w->pop, RP_WRITER_POP_BATCH);
		if (n) {
			*work = true;
			batch_popped(w, now, POPPED_RESULTS, n);
		}
	}
	/* Round summaries and state changes, into the same data batches as the probes. */
	if (w->events && (n = rp_spsc_pop(w->events, w->epop, RP_WRITER_EVENT_BATCH))) {
		*work = true;
		batch_popped(w, now, POPPED_EVENTS, n);
	}
}

void rp_writer__check_timers(struct rp_writer *w, int64_t now)
{
	for (unsigned d = 0; d < RP_FLUSH_NDEST; d++) {
		struct rp_writer_job *j = w->cur[d];

		if (j && j->buf->points && now - j->since >= w->flush_interval)
			rp_writer__close_cur(w, d);
	}
}
