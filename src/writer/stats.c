/* The writer's counters (writer_int.h): rp_writer__publish(), on the writer thread,
 * copies the flusher's and the spool's state into them and samples the thread's CPU
 * time; rp_writer_stats() reads them from any thread. Each counter has one writing
 * thread and is read with relaxed loads. */
#include "writer/writer_int.h"

#include <string.h>
#include <time.h>

#define CPU_SAMPLE_NS (10 * RP_NSEC_PER_MSEC)

void rp_writer__publish(struct rp_writer *w, int64_t now, bool force)
{
	struct rp_spool_stats ss;
	struct timespec ts;

	rp_writer__stat_set(&w->st.inflight, rp_flush_busy(w->flush));
	if (w->spool) {
		rp_spool_get_stats(w->spool, &ss);
		rp_writer__stat_set(&w->st.spool_bytes, ss.bytes);
		rp_writer__stat_set(&w->st.spool_points, ss.points);
		rp_writer__stat_set(&w->st.spool_overflow, ss.overflow_points);
		rp_writer__stat_set(&w->st.spool_corrupt_points, ss.corrupt_points);
		rp_writer__stat_set(&w->st.spool_corrupt_records, ss.corrupt_records);
		rp_writer__stat_set(&w->st.spool_io_errors, ss.io_errors);
		rp_writer__stat_set(&w->st.spool_read_failing, ss.read_failing);
	}
	if (force || now - w->cpu_sampled_at >= CPU_SAMPLE_NS) {
		w->cpu_sampled_at = now;
		if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
			rp_writer__stat_set(&w->st.cpu_ns, (uint64_t)ts.tv_sec * RP_NSEC_PER_SEC +
							       (uint64_t)ts.tv_nsec);
	}
}

void rp_writer_stats(const struct rp_writer *w, struct rp_writer_stats *out)
{
	const struct rp_writer_counters *c = &w->st;

	memset(out, 0, sizeof(*out));
	out->points_in = rp_writer__stat_get(&c->points_in);
	out->points_written = rp_writer__stat_get(&c->points_written);
	out->points_rejected = rp_writer__stat_get(&c->points_rejected);
	out->dropped_pool = rp_writer__stat_get(&c->dropped_pool) +
			    atomic_load_explicit(&w->aux_dropped, memory_order_relaxed);
	out->dropped_spool_overflow = rp_writer__stat_get(&c->spool_overflow);
	out->dropped_spool_corrupt = rp_writer__stat_get(&c->spool_corrupt_points);
	out->dropped_no_spool = rp_writer__stat_get(&c->dropped_no_spool);
	out->points_spooled = rp_writer__stat_get(&c->points_spooled);
	out->points_replayed = rp_writer__stat_get(&c->points_replayed);
	out->batches_ok = rp_writer__stat_get(&c->batches_ok);
	out->batches_failed = rp_writer__stat_get(&c->batches_failed);
	out->batches_retried = rp_writer__stat_get(&c->batches_retried);
	out->batches_split = rp_writer__stat_get(&c->batches_split);
	out->spool_bytes = rp_writer__stat_get(&c->spool_bytes);
	out->spool_points = rp_writer__stat_get(&c->spool_points);
	out->spool_corrupt_records = rp_writer__stat_get(&c->spool_corrupt_records);
	out->spool_io_errors = rp_writer__stat_get(&c->spool_io_errors);
	out->spool_read_failing = rp_writer__stat_get(&c->spool_read_failing);
	out->inflight = rp_writer__stat_get(&c->inflight);
	out->wire_bytes = rp_writer__stat_get(&c->wire_bytes);
	out->samples_written = rp_writer__stat_get(&c->samples_written);
	out->cpu_ns = rp_writer__stat_get(&c->cpu_ns);
	out->sink_down = rp_writer__stat_get(&c->sink_down);
	out->last_status = rp_writer__stat_get(&c->last_status);
}
