/* The host addresses of a list of networks, as one index space [0, count): an IPv4 /31
 * or /32 and an IPv6 /127 or /128 contribute every address, larger IPv4 networks all
 * but their network and broadcast addresses, larger IPv6 networks all but their
 * Subnet-Router anycast address (the all-zero host). Lets sweeps permute and ping
 * iterate without materializing a list. */
#ifndef RP_HOSTS_H
#define RP_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#include "ringprobe/conf.h"

struct rp_hosts {
	const struct rp_cidr *nets; /* borrowed */
	uint64_t *start;	    /* start[i] = first index of nets[i]; owned */
	size_t n;
	uint64_t count;
};

/** Indexes `nets` (kept borrowed). */
void rp_hosts_init(struct rp_hosts *h, const struct rp_cidr *nets, size_t n);
/** Frees the index. */
void rp_hosts_fini(struct rp_hosts *h);
/** The address at index i < count. */
struct rp_ip rp_hosts_at(const struct rp_hosts *h, uint64_t i);
/** Index of the network that holds host index i. */
size_t rp_hosts_net_of(const struct rp_hosts *h, uint64_t i);

#endif
