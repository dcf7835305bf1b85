/* Per-device exposition accumulators (prometheus.per_device): what smokeping_prober
 * exposes per host, kept by the shard that probes the device, indexed by its device
 * table slot. Allocated only when per-device exposition is on (nothing per device
 * otherwise); calloc'd, so a slot's page costs memory once a device has used it.
 *
 * A slot is a struct rp_pacc_rec's words (include/ringprobe/prober.h): requests sent,
 * replies, the RTT sum (ns), duplicates, the last reply's TTL, send errors, then one count per
 * bucket (not cumulative; the last is above every bound). The shard thread alone
 * writes them, with plain increments: no atomic, lock or system call per probe. Other
 * threads see them only through a snapshot (rp_shard_pacc_ask), copied by the shard. */
#ifndef RP_IO_PACC_H
#define RP_IO_PACC_H

#include <stddef.h>
#include <stdint.h>

#include "ringprobe/prober.h"

struct rp_pacc {
	uint32_t nb;	/* bounds; nb + 1 buckets */
	uint32_t words; /* uint64_t words per slot: RP_PACC_BUCKETS + nb + 1 */
	uint64_t bounds_ns[RP_PACC_MAX_BUCKETS];
	uint64_t *v; /* capacity * words */
};

/** Sets up for capacity slots with the bounds (seconds, ascending, 1..RP_PACC_MAX_BUCKETS
 *  of them; an RTT on a bound counts in that bound's bucket, as Prometheus' le says). */
void rp_pacc_init(struct rp_pacc *a, uint32_t capacity, const double *bounds_s, uint32_t nb);
void rp_pacc_fini(struct rp_pacc *a);
/** Bytes of one struct rp_pacc_rec with its words. */
size_t rp_pacc_rec_size(const struct rp_pacc *a);

static inline uint64_t *rp_pacc_slot(const struct rp_pacc *a, uint32_t slot)
{
	return a->v + (size_t)slot * a->words;
}

/** A new device in slot: every counter back to zero. */
void rp_pacc_reset(struct rp_pacc *a, uint32_t slot);

static inline void rp_pacc_sent(struct rp_pacc *a, uint32_t slot)
{
	rp_pacc_slot(a, slot)[RP_PACC_SENT]++;
}

static inline void rp_pacc_send_error(struct rp_pacc *a, uint32_t slot)
{
	rp_pacc_slot(a, slot)[RP_PACC_SEND_ERRORS]++;
}

static inline void rp_pacc_dup(struct rp_pacc *a, uint32_t slot)
{
	rp_pacc_slot(a, slot)[RP_PACC_DUPS]++;
}

/** A reply in time: its bucket, the count and sum, its TTL (0 = not known: kept). */
static inline void rp_pacc_reply(struct rp_pacc *a, uint32_t slot, uint64_t rtt_ns, uint8_t ttl)
{
	uint64_t *w = rp_pacc_slot(a, slot);
	uint32_t i = 0;

	/* Bounds are few and an RTT lands low: a short scan, no division. */
	while (i < a->nb && rtt_ns > a->bounds_ns[i])
		i++;
	w[RP_PACC_BUCKETS + i]++;
	w[RP_PACC_COUNT]++;
	w[RP_PACC_SUM_NS] += rtt_ns;
	if (ttl)
		w[RP_PACC_TTL] = ttl;
}

/** Copies slot's words with the device's address and id into rec (rp_pacc_rec_size). */
void rp_pacc_copy(const struct rp_pacc *a, uint32_t slot, const struct rp_ip *addr, uint32_t id,
		  struct rp_pacc_rec *rec);

#endif
