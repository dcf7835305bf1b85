/* Points from the control thread (rp_writer_point, rp_writer_commit) reach the writer
 * thread in AUX_BUFS line buffers of their own that go back and forth through two SPSC
 * rings: aux_free (writer -> control: empty buffers) and aux_full (control -> writer:
 * committed buffers). rp_writer__drain_aux() runs on the writer thread and copies them
 * into the batches being filled; init and fini on the thread creating or destroying
 * the writer. */
#include "writer/writer_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/xalloc.h"

#define AUX_BUFS 8u /* power of two: it is also the aux rings' capacity */

int rp_writer__aux_init(struct rp_writer *w)
{
	w->aux = rp_xcalloc(AUX_BUFS, sizeof(*w->aux));
	if (rp_spsc_create(&w->aux_free, AUX_BUFS, sizeof(struct rp_writer_aux *)) < 0 ||
	    rp_spsc_create(&w->aux_full, AUX_BUFS, sizeof(struct rp_writer_aux *)) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < AUX_BUFS; i++) {
		struct rp_writer_aux *a = &w->aux[i];

		a->lb.data = rp_xmalloc(RP_WRITER_AUX_BYTES);
		a->lb.cap = RP_WRITER_AUX_BYTES;
		rp_spsc_push(w->aux_free, &a, 1);
	}
	return 0;
}

void rp_writer__aux_fini(struct rp_writer *w)
{
	if (w->aux)
		for (unsigned i = 0; i < AUX_BUFS; i++)
			free(w->aux[i].lb.data);
	free(w->aux);
	rp_spsc_destroy(w->aux_free);
	rp_spsc_destroy(w->aux_full);
}

void rp_writer__drain_aux(struct rp_writer *w, int64_t now, bool *work)
{
	struct rp_writer_aux *a;

	while (rp_spsc_pop(w->aux_full, &a, 1) == 1) {
		unsigned dest = w->v1 ? RP_FLUSH_DATA : a->dest;
		struct rp_writer_job *j = rp_writer__open_cur(w, dest, now);

		*work = true;
		rp_writer__stat_add(&w->st.points_in, a->lb.points);
		if (j && j->buf->cap - j->buf->len < a->lb.len) {
			rp_writer__close_cur(w, dest);
			j = rp_writer__open_cur(w, dest, now);
		}
		if (j && j->buf->cap - j->buf->len >= a->lb.len) {
			memcpy(j->buf->data + j->buf->len, a->lb.data, a->lb.len);
			j->buf->len += a->lb.len;
			j->buf->points += a->lb.points;
			if (j->buf->points >= w->batch_size)
				rp_writer__close_cur(w, dest);
		} else {
			rp_writer__stat_add(&w->st.dropped_pool, a->lb.points);
		}
		rp_line_reset(&a->lb);
		rp_spsc_push(w->aux_free, &a, 1);
	}
}

/* Control thread. */
int rp_writer_commit(struct rp_writer *w)
{
	for (unsigned d = 0; d < RP_FLUSH_NDEST; d++) {
		struct rp_writer_aux *a = w->aux_cur[d];

		if (!a || !a->lb.points)
			continue;
		w->aux_cur[d] = NULL;
		/* aux_full has a slot for every aux buffer, so this never drops. */
		rp_spsc_push(w->aux_full, &a, 1);
	}
	return 0;
}

bool rp_writer_point_ready(struct rp_writer *w)
{
	return !rp_spsc_empty(w->aux_free);
}

/* Control thread: the buffer being filled for `dest`; NULL when every buffer is with
 * the writer. */
static struct rp_writer_aux *aux_take(struct rp_writer *w, uint8_t dest)
{
	struct rp_writer_aux *a = w->aux_cur[dest];

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
	struct rp_writer_aux *a = aux_take(w, d);
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
