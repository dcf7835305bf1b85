/* The RTT distribution and loss by network (include/ringprobe/dist.h): the control
 * thread's aggregator and its folding into a view. Pure: the caller passes the time. */
#include "ringprobe/dist.h"

#include <stdlib.h>
#include <string.h>

#include "ringprobe/hash.h"
#include "ringprobe/xalloc.h"

/* Renard R10 mantissas (1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8) times 1000 ns times x. */
#define R10(x)                                                                                     \
	1000 * (x), 1250 * (x), 1600 * (x), 2000 * (x), 2500 * (x), 3150 * (x), 4000 * (x),        \
	    5000 * (x), 6300 * (x), 8000 * (x)

static const uint64_t bounds[RP_DIST_BOUNDS] = {
    R10(10ull),	    R10(100ull),     R10(1000ull),     R10(10000ull),
    R10(100000ull), R10(1000000ull), R10(10000000ull), 100000000000ull,
};

uint64_t rp_dist_bound_ns(unsigned i)
{
	return i < RP_DIST_BOUNDS ? bounds[i] : UINT64_MAX;
}

unsigned rp_dist_bucket(uint64_t rtt_ns)
{
	unsigned lo = 0, hi = RP_DIST_BOUNDS;

	/* The first bound >= rtt: seven compares. */
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (bounds[mid] < rtt_ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void rp_dist_init(struct rp_dist *d, uint32_t cap, uint64_t now_ns)
{
	uint32_t slots = 4;

	memset(d, 0, sizeof(*d));
	if (cap < 1)
		cap = 1;
	if (cap > RP_DIST_NETS_MAX)
		cap = RP_DIST_NETS_MAX;
	while (slots < 2 * cap) /* at most half full: short probes */
		slots *= 2;
	d->cap = cap;
	d->mask = slots - 1;
	d->hash = rp_xcalloc(slots, sizeof(*d->hash));
	d->key = rp_xcalloc(cap, sizeof(*d->key));
	d->sent = rp_xcalloc((size_t)RP_DIST_SLOTS * cap, sizeof(*d->sent));
	d->rcv = rp_xcalloc((size_t)RP_DIST_SLOTS * cap, sizeof(*d->rcv));
	d->wsent = rp_xcalloc(cap, sizeof(*d->wsent));
	d->wrcv = rp_xcalloc(cap, sizeof(*d->wrcv));
	d->start_ns = d->cur_start_ns = now_ns;
}

void rp_dist_fini(struct rp_dist *d)
{
	free(d->hash);
	free(d->key);
	free(d->sent);
	free(d->rcv);
	free(d->wsent);
	free(d->wrcv);
	memset(d, 0, sizeof(*d));
}

struct rp_ip rp_dist_net_of(const struct rp_ip *addr)
{
	struct rp_ip n = *addr;

	if (rp_ip_is_v4(&n))
		n.b[15] = 0;
	else
		memset(n.b + 8, 0, 8);
	return n;
}

static uint32_t hash_of(const struct rp_ip *net)
{
	uint64_t hi, lo;

	memcpy(&hi, net->b, 8);
	memcpy(&lo, net->b + 8, 8);
	return (uint32_t)rp_hash_u64(hi ^ rp_hash_u64(lo));
}

/* The network's index, added when there is room; -1 when the table is full. */
static int64_t net_index(struct rp_dist *d, const struct rp_ip *net)
{
	uint32_t h = hash_of(net) & d->mask;

	for (;; h = (h + 1) & d->mask) {
		uint32_t e = d->hash[h];

		if (!e)
			break;
		if (rp_ip_eq(&d->key[e - 1], net))
			return e - 1;
	}
	if (d->n >= d->cap)
		return -1;
	d->key[d->n] = *net;
	d->hash[h] = ++d->n;
	return d->n - 1;
}

void rp_dist_prefetch(const struct rp_dist *d, const struct rp_ip *addr, bool deep)
{
	struct rp_ip net = rp_dist_net_of(addr);
	uint32_t h = hash_of(&net) & d->mask, e;
	size_t at;

	if (!deep) {
		__builtin_prefetch(&d->hash[h]);
		return;
	}
	e = d->hash[h]; /* the first candidate: a collision only misses the prefetch */
	if (!e)
		return;
	at = (size_t)d->cur * d->cap + (e - 1);
	__builtin_prefetch(&d->key[e - 1]);
	__builtin_prefetch(&d->sent[at]);
	__builtin_prefetch(&d->rcv[at]);
	__builtin_prefetch(&d->wsent[e - 1]);
	__builtin_prefetch(&d->wrcv[e - 1]);
}

void rp_dist_result(struct rp_dist *d, const struct rp_ip *addr, bool success, uint64_t rtt_ns)
{
	struct rp_ip net = rp_dist_net_of(addr);
	int64_t i = net_index(d, &net);
	unsigned c = d->cur;

	d->slot_sent[c]++;
	if (i >= 0) {
		d->sent[(size_t)c * d->cap + (size_t)i]++;
		d->wsent[i]++;
	} else
		d->other_sent[c]++;
	if (!success)
		return;
	d->slot_rcv[c]++;
	if (i >= 0) {
		d->rcv[(size_t)c * d->cap + (size_t)i]++;
		d->wrcv[i]++;
	} else
		d->other_rcv[c]++;
	d->rtt[c][rp_dist_bucket(rtt_ns)]++;
	d->rtt_sum[c] += rtt_ns;
	if (!d->rtt_min[c] || rtt_ns < d->rtt_min[c])
		d->rtt_min[c] = rtt_ns ? rtt_ns : 1;
	if (rtt_ns > d->rtt_max[c])
		d->rtt_max[c] = rtt_ns;
}

/* Drops the networks without a probe in any slot and rebuilds the hash: the held ones
 * keep their order, so the dense arrays close up in place. */
static void compact(struct rp_dist *d)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < d->n; i++) {
		if (!d->wsent[i])
			continue;
		if (k != i) {
			d->key[k] = d->key[i];
			d->wsent[k] = d->wsent[i];
			d->wrcv[k] = d->wrcv[i];
			for (unsigned s = 0; s < RP_DIST_SLOTS; s++) {
				d->sent[(size_t)s * d->cap + k] = d->sent[(size_t)s * d->cap + i];
				d->rcv[(size_t)s * d->cap + k] = d->rcv[(size_t)s * d->cap + i];
			}
		}
		k++;
	}
	if (k == d->n)
		return;
	for (unsigned s = 0; s < RP_DIST_SLOTS; s++) {
		memset(d->sent + (size_t)s * d->cap + k, 0, (d->n - k) * sizeof(*d->sent));
		memset(d->rcv + (size_t)s * d->cap + k, 0, (d->n - k) * sizeof(*d->rcv));
	}
	memset(d->wsent + k, 0, (d->n - k) * sizeof(*d->wsent));
	memset(d->wrcv + k, 0, (d->n - k) * sizeof(*d->wrcv));
	d->n = k;
	memset(d->hash, 0, ((size_t)d->mask + 1) * sizeof(*d->hash));
	for (uint32_t i = 0; i < k; i++) {
		uint32_t h = hash_of(&d->key[i]) & d->mask;

		while (d->hash[h])
			h = (h + 1) & d->mask;
		d->hash[h] = i + 1;
	}
}

/* Empties slot c. */
static void clear_slot(struct rp_dist *d, unsigned c)
{
	d->slot_sent[c] = d->slot_rcv[c] = 0;
	d->other_sent[c] = d->other_rcv[c] = 0;
	memset(d->rtt[c], 0, sizeof(d->rtt[c]));
	d->rtt_sum[c] = d->rtt_min[c] = d->rtt_max[c] = 0;
	for (uint32_t i = 0; i < d->n; i++) {
		d->wsent[i] -= d->sent[(size_t)c * d->cap + i];
		d->wrcv[i] -= d->rcv[(size_t)c * d->cap + i];
	}
	memset(d->sent + (size_t)c * d->cap, 0, d->n * sizeof(*d->sent));
	memset(d->rcv + (size_t)c * d->cap, 0, d->n * sizeof(*d->rcv));
}

void rp_dist_tick(struct rp_dist *d, uint64_t now_ns)
{
	unsigned moved = 0;

	while ((int64_t)(now_ns - d->cur_start_ns) >= (int64_t)RP_DIST_SLOT_NS) {
		if (moved == RP_DIST_SLOTS) {
			/* A long gap: every slot is empty already; start again at now. */
			d->cur_start_ns = now_ns;
			break;
		}
		d->cur = (d->cur + 1) % RP_DIST_SLOTS;
		d->cur_start_ns += RP_DIST_SLOT_NS;
		clear_slot(d, d->cur);
		moved++;
	}
	if (moved)
		compact(d);
}

void rp_dist_view_init(struct rp_dist_view *v, uint32_t cap)
{
	memset(v, 0, sizeof(*v));
	v->nets = rp_xcalloc(cap ? cap : 1, sizeof(*v->nets));
	v->cap = cap;
}

void rp_dist_view_fini(struct rp_dist_view *v)
{
	free(v->nets);
	v->nets = NULL;
}

void rp_dist_fold(const struct rp_dist *d, uint64_t now_ns, struct rp_dist_view *v)
{
	uint64_t span = (RP_DIST_SLOTS - 1) * RP_DIST_SLOT_NS + (now_ns - d->cur_start_ns);
	struct rp_dist_net *nets = v->nets;
	uint32_t vcap = v->cap;

	memset(v, 0, sizeof(*v));
	v->nets = nets;
	v->cap = vcap;
	v->window_ns = now_ns - d->start_ns < span ? now_ns - d->start_ns : span;
	for (unsigned s = 0; s < RP_DIST_SLOTS; s++) {
		v->sent += d->slot_sent[s];
		v->received += d->slot_rcv[s];
		v->other_sent += d->other_sent[s];
		v->other_received += d->other_rcv[s];
		for (unsigned b = 0; b < RP_DIST_BUCKETS; b++)
			v->rtt[b] += d->rtt[s][b];
		v->rtt_sum_ns += d->rtt_sum[s];
		if (d->rtt_min[s] && (!v->rtt_min_ns || d->rtt_min[s] < v->rtt_min_ns))
			v->rtt_min_ns = d->rtt_min[s];
		if (d->rtt_max[s] > v->rtt_max_ns)
			v->rtt_max_ns = d->rtt_max[s];
	}
	for (uint32_t i = 0; i < d->n && i < vcap; i++) {
		struct rp_dist_net *r = &nets[v->nnets];

		r->net = d->key[i];
		r->sent = d->wsent[i];
		r->received = d->wrcv[i];
		if (r->sent)
			v->nnets++;
	}
}

uint64_t rp_dist_percentile(const struct rp_dist_view *v, double p)
{
	uint64_t total = 0, seen = 0;
	double want;

	for (unsigned b = 0; b < RP_DIST_BUCKETS; b++)
		total += v->rtt[b];
	if (!total)
		return 0;
	want = p / 100.0 * (double)total;
	for (unsigned b = 0; b < RP_DIST_BUCKETS; b++) {
		double lo, hi, x;

		if (!v->rtt[b] || (double)(seen + v->rtt[b]) < want) {
			seen += v->rtt[b];
			continue;
		}
		lo = b ? (double)rp_dist_bound_ns(b - 1) : 0.0;
		hi = b < RP_DIST_BOUNDS ? (double)rp_dist_bound_ns(b) : (double)v->rtt_max_ns;
		if (lo < (double)v->rtt_min_ns)
			lo = (double)v->rtt_min_ns;
		if (hi > (double)v->rtt_max_ns)
			hi = (double)v->rtt_max_ns;
		if (hi < lo)
			hi = lo;
		x = lo + (hi - lo) * ((want - (double)seen) / (double)v->rtt[b]);
		return (uint64_t)(x + 0.5);
	}
	return v->rtt_max_ns;
}

__extension__ typedef unsigned __int128 u128;

static int by_loss(const void *a, const void *b)
{
	const struct rp_dist_net *x = a, *y = b;
	/* lost_x / sent_x against lost_y / sent_y without division (sent > 0). */
	u128 lx = (u128)(x->sent - x->received) * y->sent;
	u128 ly = (u128)(y->sent - y->received) * x->sent;

	if (lx != ly)
		return lx > ly ? -1 : 1;
	if (x->sent - x->received != y->sent - y->received)
		return x->sent - x->received > y->sent - y->received ? -1 : 1;
	return rp_ip_cmp(&x->net, &y->net);
}

static int by_net(const void *a, const void *b)
{
	return rp_ip_cmp(&((const struct rp_dist_net *)a)->net,
			 &((const struct rp_dist_net *)b)->net);
}

void rp_dist_sort_by_loss(struct rp_dist_net *v, uint32_t n)
{
	qsort(v, n, sizeof(*v), by_loss);
}

void rp_dist_sort_by_net(struct rp_dist_net *v, uint32_t n)
{
	qsort(v, n, sizeof(*v), by_net);
}
