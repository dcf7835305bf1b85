/* The shard's timeout FIFO (tmo.h says why it is bounded and how it is sized).
 * Start-up and tear-down only; the per-probe calls are the inlines in tmo.h. */
#include "io/tmo.h"

#include <stdlib.h>

#include "ringprobe/compiler.h"
#include "ringprobe/trim.h"
#include "ringprobe/xalloc.h"

void rp_tmo_init(struct rp_tmo *t, uint32_t capacity)
{
	uint64_t want = 2ull * capacity;

	t->mask = rp_pow2_at_least(want < 2 ? 2 : want) - 1;
	t->v = rp_xcalloc((size_t)t->mask + 1, sizeof(*t->v));
	t->head = t->tail = t->given = 0;
}

void rp_tmo_fini(struct rp_tmo *t)
{
	free(t->v);
	t->v = NULL;
}

void rp_tmo_trim(struct rp_tmo *t)
{
	rp_ring_trim(t->v, sizeof(*t->v), t->mask, &t->given, t->head, t->tail);
}
