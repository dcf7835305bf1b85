#include "ringprobe/hosts.h"

#include <stdlib.h>

#include "ringprobe/xalloc.h"

/* Hosts to skip at the start of a network: IPv4's network address, IPv6's
 * Subnet-Router anycast address (RFC 4291 §2.6.1), both only where the network has
 * more than two addresses; IPv4's broadcast address is skipped at the end too. */
static unsigned skip_first(const struct rp_cidr *c)
{
	return rp_cidr_host_bits(c) >= 2 ? 1 : 0;
}

static uint64_t hosts_in(const struct rp_cidr *c)
{
	uint64_t size = rp_cidr_size(c);

	if (rp_cidr_host_bits(c) < 2)
		return size;
	return size - (rp_ip_is_v4(&c->net) ? 2 : 1);
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

struct rp_ip rp_hosts_at(const struct rp_hosts *h, uint64_t i)
{
	size_t k = rp_hosts_net_of(h, i);
	const struct rp_cidr *c = &h->nets[k];

	return rp_cidr_nth(c, i - h->start[k] + skip_first(c));
}
