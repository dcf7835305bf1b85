/* The sink's answers, on the writer thread (writer_int.h): rp_writer__on_done() settles,
 * splits, requeues or spools the job of each finished request, and keeps the sink
 * state: up, or down after a failure that is not the data's fault. A retryable one
 * (connection errors, time-outs, 408, 429, 5xx) backs off exponentially with jitter,
 * longer when Retry-After asks (up to retry_after_max_ns); refused credentials or a
 * missing database, bucket or org wait slow_retry_ns. While down, dispatch.c sends one
 * probe request at a time. One log line per change of state, not per retry. */
#include "writer/writer_int.h"

#include "ringprobe/log.h"

static uint64_t rng_next(struct rp_writer *w)
{
	uint64_t x = w->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rng = x;
	return x;
}

static const char *fix_key(const struct rp_writer *w, int verdict, unsigned dest)
{
	if (w->promrw)
		return verdict == RP_FLUSH_AUTH ? "prometheus_remote_write.basic_auth+"
						  "prometheus_remote_write.bearer_token"
						: "prometheus_remote_write.url";
	if (verdict == RP_FLUSH_AUTH)
		return w->v1 ? "influxdb.username+influxdb.password" : "influxdb.token";
	if (w->v1)
		return "influxdb.database+influxdb.retention_policy";
	return dest == RP_FLUSH_HEALTH ? "influxdb.health_bucket+influxdb.org"
				       : "influxdb.bucket+influxdb.org";
}

static void went_down(struct rp_writer *w, const struct rp_flush_done *d, struct rp_writer_job *j,
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
	rp_writer__stat_set(&w->st.sink_down, 1);
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
	rp_writer__stat_set(&w->st.sink_down, 0);
	rp_log(RP_LOG_NOTICE, "sink answers again", "spooled_points=%llu",
	       (unsigned long long)rp_writer__stat_get(&w->st.spool_points));
}

/* The request in flight for j was answered: `written` of its points stored. */
static void advance(struct rp_writer *w, struct rp_writer_job *j, uint32_t written)
{
	rp_writer__stat_add(&w->st.points_written, written);
	j->off += j->chunk;
	j->points -= j->chunk_points;
	j->chunk = 0;
	if (j->off >= j->buf->len)
		rp_writer__job_free(w, j);
	else
		rp_writer__queue_head(w, j); /* its next chunk goes first */
}

void rp_writer__on_done(void *arg, const struct rp_flush_done *d)
{
	struct rp_writer *w = arg;
	struct rp_writer_job *j = d->user;
	int64_t now = rp_writer__now();
	uint32_t rejected;

	if (j->from_spool)
		w->replay_inflight--;
	rp_writer__stat_add(&w->st.wire_bytes, d->wire_bytes);
	if (d->status)
		rp_writer__stat_set(&w->st.last_status, (uint64_t)d->status);
	switch (d->verdict) {
	case RP_FLUSH_OK:
		rp_writer__stat_add(&w->st.batches_ok, 1);
		rp_writer__stat_add(&w->st.samples_written, d->samples);
		came_up(w);
		advance(w, j, j->chunk_points);
		return;
	case RP_FLUSH_REJECTED:
		rp_writer__stat_add(&w->st.batches_failed, 1);
		rejected = j->chunk_points;
		if (d->rejected >= 0 && (uint64_t)d->rejected < rejected)
			rejected = (uint32_t)d->rejected;
		rp_writer__stat_add(&w->st.points_rejected, rejected);
		rp_log(RP_LOG_WARN, "sink rejected points",
		       "status=%ld rejected=%u of=%u url=%s reason=\"%s\"", d->status, rejected,
		       j->chunk_points, rp_flush_url(w->flush, j->dest), d->reason);
		came_up(w);
		advance(w, j, j->chunk_points - rejected);
		return;
	case RP_FLUSH_TOO_LARGE:
		rp_writer__stat_add(&w->st.batches_failed, 1);
		came_up(w);
		if (j->chunk_points > 1) {
			/* Requests sent before an earlier 413 lowered the limit only requeue. */
			if (j->chunk / 2 < w->body_limit) {
				w->body_limit = j->chunk / 2;
				rp_writer__stat_add(&w->st.batches_split, 1);
				rp_log(RP_LOG_NOTICE,
				       "sink refused a body as too large, halving it",
				       "status=413 body_bytes=%zu max_body_bytes=%zu", j->chunk,
				       w->body_limit);
			}
			j->chunk = 0;
			rp_writer__queue_head(w, j);
			return;
		}
		rp_writer__stat_add(&w->st.points_rejected, j->chunk_points);
		rp_log(RP_LOG_WARN, "sink rejected points",
		       "status=413 rejected=%u of=%u reason=\"one line is over the body limit\"",
		       j->chunk_points, j->chunk_points);
		advance(w, j, 0);
		return;
	case RP_FLUSH_AUTH:
	case RP_FLUSH_NOT_FOUND:
	case RP_FLUSH_RETRY:
		rp_writer__stat_add(&w->st.batches_failed, 1);
		went_down(w, d, j, now);
		break;
	case RP_FLUSH_ABORTED:
		break;
	}
	j->chunk = 0;
	j->retried = true;
	if (w->spool || (w->stopping && now >= w->spool_at))
		rp_writer__park(w, j);
	else
		rp_writer__queue_head(w, j);
}
