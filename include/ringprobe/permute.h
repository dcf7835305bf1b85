/* Visiting every index of [0, n) exactly once in a random order without a list
 * (for sweeps of up to a /8 and beyond): a 4-round Feistel network is a bijection on
 * 2^(2h) values; indices it maps past n are skipped (cycle walking), so at most 3 of
 * every 4 steps are skipped and the memory is constant. Deterministic from the seed. */
#ifndef RP_PERMUTE_H
#define RP_PERMUTE_H

#include <stdbool.h>
#include <stdint.h>

struct rp_permute {
	uint64_t n;	 /* size of the range */
	uint64_t domain; /* 2^(2*half_bits) >= n */
	uint64_t next;	 /* next counter value to map */
	uint64_t done;	 /* indices returned so far */
	unsigned half_bits;
	uint32_t keys[4];
};

/** Prepares a permutation of [0, n), n <= 2^40, keyed by seed. */
void rp_permute_init(struct rp_permute *p, uint64_t n, uint64_t seed);
/** Writes the next index into *out; false once all n have been returned. */
bool rp_permute_next(struct rp_permute *p, uint64_t *out);

#endif
