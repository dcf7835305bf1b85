/* What the writer thread sends next (writer_int.h): closed batches, oldest first, and
 * spooled batches replayed through the same jobs: up to half the handles while fresh
 * batches are waiting, all of them otherwise. While the sink is down (sink.c) at most
 * one request (the probe) is in flight, and closed batches go straight to the spool, so
 * a crash loses at most what is in memory for the batch being filled.
 *
 * A job sends [off, len) of its buffer; after a 413 it sends it as smaller chunks, one
 * request at a time, advancing `off` as each chunk is answered. The smaller body limit
 * is kept for later batches (until restart), so one 413 does not repeat per batch. */
#include "writer/writer_int.h"

#include <errno.h>
#include <string.h>

#include "ringprobe/log.h"
#include "writer/pool.h"

/* Picks [off, off + chunk) under the learnt body limit, cut after a newline. */
static void pick_chunk(struct rp_writer *w, struct rp_writer_job *j)
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

static int send_job(struct rp_writer *w, struct rp_writer_job *j, bool probe)
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
		rp_writer__stat_add(&w->st.batches_retried, 1);
	return 0;
}

/* A spool read failed (the segment stays on disk, unsettled): retry it later, backing
 * off from 100 ms to 30 s so a dead disk costs the writer nothing; logged when it starts
 * failing. */
static void replay_failed(struct rp_writer *w, int64_t now, int err)
{
	if (!w->spool_read_backoff)
		rp_log(RP_LOG_WARN, "cannot read the spool; the data stays on disk, retrying",
		       "err=\"%s\"", strerror(-err));
	w->spool_read_backoff =
	    w->spool_read_backoff ? w->spool_read_backoff * 2 : 100 * RP_NSEC_PER_MSEC;
	if (w->spool_read_backoff > 30 * RP_NSEC_PER_SEC)
		w->spool_read_backoff = 30 * RP_NSEC_PER_SEC;
	w->spool_read_at = now + w->spool_read_backoff;
}

/* Reads the oldest spool record into a fresh job; NULL when there is none (or no room:
 * two buffers stay free for the batches being filled, or a failed read is waiting for
 * its retry). */
static struct rp_writer_job *replay_one(struct rp_writer *w, int64_t now)
{
	struct rp_spool_rec rec;
	struct rp_linebuf *b;
	struct rp_writer_job *j;
	int ret;

	if (!w->spool || !rp_spool_has_unread(w->spool) ||
	    rp_pool_free_count(w->pool) <= RP_FLUSH_NDEST || now < w->spool_read_at)
		return NULL;
	b = rp_pool_get(w->pool);
	ret = rp_spool_read(w->spool, b->data, b->cap, &rec);
	if (ret <= 0) {
		rp_pool_put(w->pool, b);
		if (ret < 0 && ret != -EBUSY)
			replay_failed(w, now, ret);
		return NULL;
	}
	if (w->spool_read_backoff)
		rp_log(RP_LOG_NOTICE, "the spool reads again", NULL);
	w->spool_read_backoff = 0;
	b->len = rec.len;
	b->points = rec.points;
	j = rp_writer__job_new(w, b, rec.kind < RP_FLUSH_NDEST ? rec.kind : RP_FLUSH_DATA);
	j->points = rec.points;
	j->from_spool = true;
	j->retried = true;
	j->pos = rec.pos;
	rp_writer__stat_add(&w->st.points_replayed, rec.points);
	return j;
}

void rp_writer__dispatch(struct rp_writer *w, int64_t now)
{
	unsigned nslots = rp_flush_idle(w->flush) + rp_flush_busy(w->flush);

	if (w->down) {
		struct rp_writer_job *j;

		if (w->spool)
			while (w->qhead)
				rp_writer__park(w, rp_writer__queue_pop(w));
		if (now < w->next_try || rp_flush_busy(w->flush))
			return;
		j = rp_writer__queue_pop(w);
		if (!j && !w->stopping)
			j = replay_one(w, now);
		if (j && send_job(w, j, true) < 0)
			rp_writer__queue_head(w, j);
		if (j)
			w->next_try = now + w->tune.slow_retry_ns; /* until the probe answers */
		return;
	}
	while (rp_flush_idle(w->flush)) {
		struct rp_writer_job *j = NULL;

		if (!w->stopping && (!w->qhead || w->replay_inflight < (nslots + 1) / 2))
			j = replay_one(w, now);
		if (!j)
			j = rp_writer__queue_pop(w);
		if (!j)
			break;
		if (send_job(w, j, false) < 0) {
			/* Cannot happen with a free handle unless gzip fails: keep the data. */
			rp_writer__stat_add(&w->st.batches_failed, 1);
			j->retried = true;
			if (w->spool)
				rp_writer__park(w, j);
			else
				rp_writer__queue_head(w, j);
			break;
		}
	}
}
