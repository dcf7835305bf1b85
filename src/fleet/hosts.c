#include "ringprobe/hosts.h"

#include <stdlib.h>

#include "ringprobe/xalloc.h"

static uint64_t hosts_in(const struct rp_cidr *c)
{
	uint64_t size = rp_cidr_size(c);

	return c->prefix >= 31 ? size : size - 2;
}

void rp_hosts_init(struct rp_hosts *h, const struct rp_cidr *nets, size_t n)
{
	h->nets = nets;
	h->n = n;
	h->start = rp_xcalloc(n + 1, sizeof(*h->start));
	h->count = 0;
	for (size_t i = 0; i < n; i++) {
		h->start[i] = h->count;
		h->count += hosts_in(&nets[i]);
	}
	h->start[n] = h->count;
}

void rp_hosts_fini(struct rp_hosts *h)
{
	free(h->start);
	h->start = NULL;
}

size_t rp_hosts_net_of(const struct rp_hosts *h, uint64_t i)
{
	size_t lo = 0, hi = h->n;

	/* The last network whose start is <= i. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->start[mid] <= i)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

uint32_t rp_hosts_at(const struct rp_hosts *h, uint64_t i)
{
	size_t k = rp_hosts_net_of(h, i);
	const struct rp_cidr *c = &h->nets[k];
	uint64_t off = i - h->start[k];

	return c->net + (uint32_t)off + (c->prefix >= 31 ? 0 : 1);
}
