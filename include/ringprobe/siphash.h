/* SipHash-2-4 (Aumasson & Bernstein): a keyed 64-bit MAC, fast on short inputs. The
 * probe payload carries one so that a reply cannot be forged without the process's
 * random key. */
#ifndef RP_SIPHASH_H
#define RP_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct rp_siphash_key {
	uint64_t k0, k1;
};

/** SipHash-2-4 of `len` bytes at `data` under `key`. */
uint64_t rp_siphash24(const struct rp_siphash_key *key, const void *data, size_t len);

#endif
