#include "ringprobe/permute.h"

#include "ringprobe/hash.h"

void rp_permute_init(struct rp_permute *p, uint64_t n, uint64_t seed)
{
	unsigned bits = 1;

	while (bits < 40 && (1ull << bits) < n)
		bits++;
	p->half_bits = (bits + 1) / 2;
	p->domain = 1ull << (2 * p->half_bits);
	p->n = n;
	p->next = 0;
	p->done = 0;
	for (int i = 0; i < 4; i++)
		p->keys[i] =
		    (uint32_t)rp_hash_u64(seed + 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
}

/* A bijection on [0, domain): the round function needs no inverse. */
static uint64_t feistel(const struct rp_permute *p, uint64_t x)
{
	uint64_t mask = (1ull << p->half_bits) - 1;
	uint64_t l = x >> p->half_bits, r = x & mask;

	for (int i = 0; i < 4; i++) {
		uint64_t f = rp_hash_u32((uint32_t)r ^ p->keys[i]) & mask;
		uint64_t t = l ^ f;

		l = r;
		r = t;
	}
	return l << p->half_bits | r;
}

bool rp_permute_next(struct rp_permute *p, uint64_t *out)
{
	while (p->done < p->n && p->next < p->domain) {
		uint64_t v = feistel(p, p->next++);

		if (v < p->n) {
			p->done++;
			*out = v;
			return true;
		}
	}
	return false;
}
