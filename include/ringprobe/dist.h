/* The fleet's RTT distribution and loss by network over the last minute, for the
 * fleet page and /api/v1/rtt and /api/v1/loss.
 *
 * The control thread already reads every probe result on its way to the writer
 * (src/ctl/daemon.c take_results); it hands each one to rp_dist_result, which costs
 * a few increments and one lookup in a small open-addressing table: nothing in the
 * shards, nothing allocated, no lock. Once a second it folds the counters into a
 * view (rp_dist_view) and publishes that to the health server, which renders the
 * answers from its own copy.
 *
 * Window: RP_DIST_SLOTS slots of RP_DIST_SLOT_NS (10 s); the counts cover the slot
 * being filled and the six before it, 60 to 70 s (less since start).
 *
 * RTT: a fixed log-scale histogram, ten buckets a decade (Renard R10 bounds, 1, 1.25,
 * 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8 times a power of ten) from 10 us to 100 s, then one
 * above; min, max and the sum exact.
 *
 * Networks: an IPv4 device counts in its /24, an IPv6 one in its /64. At most
 * `cap` networks (RP_DIST_NETS_MAX at most) are held; the probes of devices in
 * networks past that count in `other`. A network with no probe in the whole window
 * leaves the table at the next slot change. Bounded by construction: a million
 * devices over /24s are 4,096 networks; at worst every device its own network, and
 * the table stops at cap. */
#ifndef RP_DIST_H
#define RP_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringprobe/addr.h"

#define RP_DIST_SLOTS 7
#define RP_DIST_SLOT_NS 10000000000ull
/* Bounds 10 us .. 100 s, ten a decade, plus the bucket above them. */
#define RP_DIST_BOUNDS 71
#define RP_DIST_BUCKETS (RP_DIST_BOUNDS + 1)
#define RP_DIST_NETS_MAX 65536u
#define RP_DIST_V4_PREFIX 24
#define RP_DIST_V6_PREFIX 64

/** Bucket i's upper bound in ns (i < RP_DIST_BOUNDS); an RTT on a bound counts in it. */
uint64_t rp_dist_bound_ns(unsigned i);
/** The bucket an RTT counts in (RP_DIST_BOUNDS: above every bound). */
unsigned rp_dist_bucket(uint64_t rtt_ns);

/** One network's probes over the window. */
struct rp_dist_net {
	struct rp_ip net; /* its first address (host bits zero) */
	uint64_t sent;	  /* probes whose result came in the window */
	uint64_t received;
};

/** What the window holds, folded: the published form. nets points at the caller's
 *  array (rp_dist_view_init sizes it). */
struct rp_dist_view {
	uint64_t window_ns; /* what the counts cover */
	uint64_t sent, received;
	uint64_t rtt[RP_DIST_BUCKETS];		     /* replies per bucket */
	uint64_t rtt_sum_ns, rtt_min_ns, rtt_max_ns; /* min, max: 0 without replies */
	uint64_t other_sent, other_received;	     /* networks past the table's bound */
	uint32_t nnets, cap;			     /* rows in nets; the table's bound */
	struct rp_dist_net *nets;
};

/* The aggregator: the control thread's alone. */
struct rp_dist {
	uint32_t cap, n;	/* networks at most, held now */
	uint32_t mask;		/* hash slots - 1 */
	uint32_t *hash;		/* [mask + 1]: 1 + the network's index, 0 = empty */
	struct rp_ip *key;	/* [cap]: network i's first address */
	uint32_t *sent, *rcv;	/* [RP_DIST_SLOTS][cap] */
	uint32_t *wsent, *wrcv; /* [cap]: their sums over the slots (the window) */
	unsigned cur;		/* the slot being filled */
	uint64_t cur_start_ns, start_ns;
	uint64_t slot_sent[RP_DIST_SLOTS], slot_rcv[RP_DIST_SLOTS];
	uint64_t other_sent[RP_DIST_SLOTS], other_rcv[RP_DIST_SLOTS];
	uint32_t rtt[RP_DIST_SLOTS][RP_DIST_BUCKETS];
	uint64_t rtt_sum[RP_DIST_SLOTS], rtt_min[RP_DIST_SLOTS], rtt_max[RP_DIST_SLOTS];
};

/** Room for cap networks (1 .. RP_DIST_NETS_MAX; larger is cut to it), the window
 *  starting at now_ns (CLOCK_MONOTONIC). Allocation failure aborts (start-up). */
void rp_dist_init(struct rp_dist *d, uint32_t cap, uint64_t now_ns);
void rp_dist_fini(struct rp_dist *d);
/** The network addr counts in: its /24 or /64, host bits zero. */
struct rp_ip rp_dist_net_of(const struct rp_ip *addr);
/** Starts loading what rp_dist_result(addr) will touch, so that a caller walking a
 *  batch of results overlaps the cache misses: `deep` false loads the hash slot; true
 *  (a few results later, once that slot is in) the network's key and counters. */
void rp_dist_prefetch(const struct rp_dist *d, const struct rp_ip *addr, bool deep);
/** One probe's result (a monitored device's; sweeps' do not count). */
void rp_dist_result(struct rp_dist *d, const struct rp_ip *addr, bool success, uint64_t rtt_ns);
/** Moves the window on to now_ns: each slot boundary passed empties the oldest slot;
 *  networks left without a probe in the window leave the table. Call at least once a
 *  slot (the daemon: once a second). */
void rp_dist_tick(struct rp_dist *d, uint64_t now_ns);
/** Allocates v->nets for d's cap rows. */
void rp_dist_view_init(struct rp_dist_view *v, uint32_t cap);
void rp_dist_view_fini(struct rp_dist_view *v);
/** Folds the window into v (its nets in table order, unsorted). */
void rp_dist_fold(const struct rp_dist *d, uint64_t now_ns, struct rp_dist_view *v);

/** The percentile p (0 < p <= 100) of the view's RTTs in ns, interpolated linearly
 *  inside its bucket and kept within [min, max]; 0 without replies. */
uint64_t rp_dist_percentile(const struct rp_dist_view *v, double p);
/** Sorts nets worst first: loss fraction, then probes lost, then address. */
void rp_dist_sort_by_loss(struct rp_dist_net *v, uint32_t n);
/** Sorts nets by address. */
void rp_dist_sort_by_net(struct rp_dist_net *v, uint32_t n);

/** Most rows one /api/v1/loss page holds (limit's cap). A row is at most
 *  RP_DIST_ROW_MAX bytes, so a page stays under 256 KB by construction. */
#define RP_DIST_PAGE_MAX 1000
#define RP_DIST_ROW_MAX 160

/** /api/v1/rtt: {"window_s", "sent", "received", "loss_pct", "rtt_ms": {"min", "mean",
 *  "p50", "p90", "p95", "p99", "max"}, "buckets": [{"le_ms": bound or null, "count"}]}
 *  (every bucket, in order). Returns the length it needed, as snprintf does. Pure. */
size_t rp_dist_rtt_json(const struct rp_dist_view *v, char *buf, size_t cap);
/** /api/v1/loss: one page of rows (v->nets already sorted as `sort` says, "loss" or
 *  "net"): {"window_s", "prefix_v4", "prefix_v6", "networks", "lossy", "max_networks",
 *  "other": {"sent", "received"}, "sort", "offset", "limit", "networks_page":
 *  [{"net": "a.b.c.0/24", "sent", "received", "loss_pct"}], "next"} (next only when more
 *  follow). Returns the length it needed. Pure. */
size_t rp_dist_loss_json(const struct rp_dist_view *v, const char *sort, uint32_t offset,
			 uint32_t limit, char *buf, size_t cap);

#endif
