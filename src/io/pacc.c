/* Per-device exposition accumulators: set-up and copy (the increments are inline in
 * pacc.h, on the shard's hot path). */
#include "io/pacc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/xalloc.h"

void rp_pacc_init(struct rp_pacc *a, uint32_t capacity, const double *bounds_s, uint32_t nb)
{
	if (nb > RP_PACC_MAX_BUCKETS)
		nb = RP_PACC_MAX_BUCKETS;
	memset(a, 0, sizeof(*a));
	a->nb = nb;
	a->words = RP_PACC_BUCKETS + nb + 1;
	/* An RTT is whole nanoseconds: one on or under a bound (rounded down to ns)
	 * counts in it, as `le` says; 5e-05 s is 50,000 ns exactly. */
	for (uint32_t i = 0; i < nb; i++)
		a->bounds_ns[i] = (uint64_t)floor(bounds_s[i] * 1e9 + 1e-6);
	a->v = rp_xcalloc(capacity ? capacity : 1, (size_t)a->words * sizeof(uint64_t));
	/* Indexed by slot, which fill from 0 as the shard's records do: advised as those
	 * are (shard.c). */
	rp_advise_huge(a->v, (size_t)(capacity ? capacity : 1) * a->words * sizeof(uint64_t));
}

void rp_pacc_fini(struct rp_pacc *a)
{
	free(a->v);
	a->v = NULL;
}

size_t rp_pacc_rec_size(const struct rp_pacc *a)
{
	return sizeof(struct rp_pacc_rec) + (size_t)a->words * sizeof(uint64_t);
}

void rp_pacc_reset(struct rp_pacc *a, uint32_t slot)
{
	memset(rp_pacc_slot(a, slot), 0, (size_t)a->words * sizeof(uint64_t));
}

void rp_pacc_copy(const struct rp_pacc *a, uint32_t slot, const struct rp_ip *addr, uint32_t id,
		  struct rp_pacc_rec *rec)
{
	rec->addr = *addr;
	rec->id = id;
	rec->_pad = 0;
	memcpy(rec->v, rp_pacc_slot(a, slot), (size_t)a->words * sizeof(uint64_t));
}
