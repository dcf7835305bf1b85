/* Stable, unkeyed hashes: the same value on every run and every host, so phase
 * spreading and `shard: I/N` agree across restarts and across instances. Not for
 * anything an attacker can choose to collide (the probe MAC uses SipHash). */
#ifndef RP_HASH_H
#define RP_HASH_H

#include <stdint.h>

/** murmur3's 32-bit finalizer: a bijection on uint32_t with full avalanche. */
static inline uint32_t rp_hash_u32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x;
}

/** splitmix64's finalizer: a bijection on uint64_t with full avalanche. */
static inline uint64_t rp_hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

#endif
