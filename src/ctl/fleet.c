/* The fleet: which devices this instance monitors. Static devices from `devices`,
 * discovered ones from sweeps (LRU by last reply, bounded by max_devices, pruned
 * after prune_after). Owned by the control thread; changes go out as add/remove
 * callbacks, which the daemon turns into shard commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ctl/ctl_int.h"
#include "ringprobe/hash.h"
#include "ringprobe/xalloc.h"

/* Rendezvous (highest-random-weight) hashing: every instance j < N scores the address
 * and the highest score owns it. Going from N to N+1 instances, an address moves only
 * if the new instance N outscores the old owner, which happens for 1/(N+1) of them,
 * and only ever to instance N; plain hash-modulo-N moves N/(N+1).
 *
 * The function is part of the deployment contract: every host and every version must
 * compute the same owner (tests/ctl/test_fleet.c pins known owners). It is
 *   h       = mix64(addr ^ K)            K = 0x5348415244000000 ("SHARD" << 24)
 *   score_j = mix64(h + (j + 1) * G)     G = 0x9e3779b97f4a7c15 (splitmix64's step)
 *   owner   = the j with the highest score_j (the lowest j on a tie)
 * with mix64 splitmix64's finalizer (rp_hash_u64, stable by ringprobe/hash.h's own
 * contract): score_0 .. score_{N-1} are the first N outputs of the SplitMix64
 * generator seeded with h. N hashes per address (N is at most RP_SHARD_MAX), only
 * where an address is added or swept, never per probe. */
uint32_t rp_ctl_shard_owner(const struct rp_ip *addr, uint32_t count)
{
	uint64_t h = rp_hash_u64(rp_ip_key64(addr) ^ 0x5348415244000000ull), s = h, best = 0;
	uint32_t owner = 0;

	for (uint32_t j = 0; j < count; j++) {
		uint64_t score;

		s += 0x9e3779b97f4a7c15ull;
		score = rp_hash_u64(s);
		if (j == 0 || score > best) {
			best = score;
			owner = j;
		}
	}
	return owner;
}

bool rp_ctl_mine(const struct rp_shard_sel *sel, const struct rp_ip *addr)
{
	if (sel->count <= 1)
		return true;
	return rp_ctl_shard_owner(addr, sel->count) == sel->index;
}

static int cmp_ip(const void *a, const void *b)
{
	return rp_ip_cmp(a, b);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void statics_free(struct rp_statics *s)
{
	free(s->v4);
	free(s->v6);
	free(s->id4);
	free(s->id6);
	memset(s, 0, sizeof(*s));
}

/* The class id of static device i, in the same order as statics_at. */
static uint32_t statics_id(const struct rp_statics *s, size_t i)
{
	if (i < s->low6)
		return s->id6 ? s->id6[i] : 0;
	if (i < s->low6 + s->n4)
		return s->id4 ? s->id4[i - s->low6] : 0;
	return s->id6 ? s->id6[i - s->n4] : 0;
}

/* Static device i of s, in rp_ip_cmp order (ctl_int.h: struct rp_statics). */
static struct rp_ip statics_at(const struct rp_statics *s, size_t i)
{
	if (i < s->low6)
		return s->v6[i];
	if (i < s->low6 + s->n4)
		return rp_ip_v4(s->v4[i - s->low6]);
	return s->v6[i - s->n4];
}

struct rp_ip rp_fleet_static(const struct rp_fleet *f, size_t i)
{
	return statics_at(&f->statics, i);
}

uint32_t rp_fleet_static_class(const struct rp_fleet *f, size_t i)
{
	return statics_id(&f->statics, i);
}

uint32_t rp_fleet_net_class_max(const struct rp_fleet *f, uint32_t (*interval_ms)(void *, uint32_t),
				void *arg)
{
	uint32_t best = 0, best_ms = UINT32_MAX;

	for (size_t i = 0; i < f->nnets; i++) {
		uint32_t ms = interval_ms(arg, f->nets[i].id);

		if (ms < best_ms) {
			best_ms = ms;
			best = f->nets[i].id;
		}
	}
	return best;
}

/* Sorts v[0 .. *n) and drops repeats. */
static void sort_unique(void *v, size_t *n, size_t size, int (*cmp)(const void *, const void *))
{
	char *b = v;
	size_t k = 1;

	if (*n < 2)
		return;
	qsort(v, *n, size, cmp);
	for (size_t i = 1; i < *n; i++) {
		if (cmp(b + i * size, b + (k - 1) * size) == 0)
			continue;
		if (k != i)
			memcpy(b + k * size, b + i * size, size);
		k++;
	}
	*n = k;
}

struct pair6 {
	struct rp_ip a;
	uint32_t id;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_pair6(const void *a, const void *b)
{
	const struct pair6 *x = a, *y = b;
	int c = rp_ip_cmp(&x->a, &y->a);

	return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* Sorted (address, class) pairs into the statics' arrays, one per address (the lowest
 * class of an address listed twice in a group). */
static void split_pairs(struct rp_statics *s, uint64_t *p4, struct pair6 *p6)
{
	size_t k = 0;

	if (s->n4)
		qsort(p4, s->n4, sizeof(*p4), cmp_u64);
	if (s->n6)
		qsort(p6, s->n6, sizeof(*p6), cmp_pair6);
	s->v4 = rp_xcalloc(s->n4 ? s->n4 : 1, sizeof(*s->v4));
	s->id4 = rp_xcalloc(s->n4 ? s->n4 : 1, sizeof(*s->id4));
	for (size_t i = 0; i < s->n4; i++) {
		if (k && s->v4[k - 1] == (uint32_t)(p4[i] >> 32))
			continue;
		s->v4[k] = (uint32_t)(p4[i] >> 32);
		s->id4[k++] = (uint32_t)p4[i];
	}
	s->n4 = k;
	k = 0;
	s->v6 = rp_xcalloc(s->n6 ? s->n6 : 1, sizeof(*s->v6));
	s->id6 = rp_xcalloc(s->n6 ? s->n6 : 1, sizeof(*s->id6));
	for (size_t i = 0; i < s->n6; i++) {
		if (k && rp_ip_eq(&s->v6[k - 1], &p6[i].a))
			continue;
		s->v6[k] = p6[i].a;
		s->id6[k++] = p6[i].id;
	}
	s->n6 = k;
}

/* This instance's share of every group's `devices` (names aside: names.c), sorted and
 * unique, each with its class; -E2BIG over max_devices. Without groups or tags every
 * class is 0 and the plain arrays are built, as before groups. */
static int expand_statics(const struct rp_conf *c, const struct rp_fleet_ops *ops,
			  struct rp_statics *out, char *why, size_t whylen)
{
	const struct rp_ip low_end = rp_ip_v4(0); /* ::ffff:0:0, the first IPv4 address */
	bool tagged = c->groups.n || c->tags.n || c->ndevtags;
	struct rp_statics s = {0};
	uint64_t *p4 = NULL;
	struct pair6 *p6 = NULL;
	size_t cap4 = 0, cap6 = 0, n;

	for (size_t g = 0; g <= c->groups.n; g++) {
		const struct rp_conf_group *x = g ? &c->groups.v[g - 1] : NULL;
		const struct rp_cidr_list *l = x ? &x->devices : &c->devices;
		const struct rp_devtags *dtv = x ? x->devtags : c->devtags;
		size_t ndt = x ? x->ndevtags : c->ndevtags;
		/* The group's class once; a device with tags of its own asks for its own. */
		uint32_t gid = tagged && l->n ? ops->class_of(ops->arg, c, g, NULL) : 0;
		size_t walk = 0;

		for (size_t e = 0; e < l->n; e++) {
			const struct rp_devtags *dt =
			    ndt ? rp_devtags_walk(dtv, ndt, &walk, e, false) : NULL;
			uint32_t id = dt ? ops->class_of(ops->arg, c, g, dt) : gid;
			struct rp_hosts h;

			rp_hosts_init(&h, &l->v[e], 1);
			for (uint64_t i = 0; i < h.count; i++) {
				struct rp_ip a = rp_hosts_at(&h, i);

				if (!rp_ctl_mine(&c->shard, &a))
					continue;
				if (rp_ip_is_v4(&a)) {
					if (s.n4 == cap4) {
						cap4 = cap4 ? cap4 * 2 : 1024;
						if (tagged)
							p4 = rp_xrealloc(p4, cap4 * sizeof(*p4));
						else
							s.v4 =
							    rp_xrealloc(s.v4, cap4 * sizeof(*s.v4));
					}
					if (tagged)
						p4[s.n4++] = (uint64_t)rp_ip_to_v4(&a) << 32 | id;
					else
						s.v4[s.n4++] = rp_ip_to_v4(&a);
				} else {
					if (s.n6 == cap6) {
						cap6 = cap6 ? cap6 * 2 : 1024;
						p6 = rp_xrealloc(p6, cap6 * sizeof(*p6));
					}
					p6[s.n6++] = (struct pair6){a, id};
				}
			}
			rp_hosts_fini(&h);
		}
	}
	if (tagged) {
		split_pairs(&s, p4, p6);
	} else {
		sort_unique(s.v4, &s.n4, sizeof(*s.v4), cmp_u32);
		s.v6 = rp_xcalloc(s.n6 ? s.n6 : 1, sizeof(*s.v6));
		for (size_t i = 0; i < s.n6; i++)
			s.v6[i] = p6[i].a;
		sort_unique(s.v6, &s.n6, sizeof(*s.v6), cmp_ip);
	}
	free(p4);
	free(p6);
	while (s.low6 < s.n6 && rp_ip_cmp(&s.v6[s.low6], &low_end) < 0)
		s.low6++;
	n = s.n4 + s.n6;
	if (n > (uint64_t)c->max_devices) {
		snprintf(why, whylen,
			 "devices lists %zu addresses%s but max_devices is %lld; raise max_devices "
			 "(--max-devices)",
			 n, c->shard.count > 1 ? " for this shard" : "", (long long)c->max_devices);
		statics_free(&s);
		return -E2BIG;
	}
	*out = s;
	return 0;
}

size_t rp_ctl__network_count(const struct rp_conf *c)
{
	size_t n = c->networks.n;

	for (size_t g = 0; g < c->groups.n; g++)
		n += c->groups.v[g].networks.n;
	return n;
}

/* Every group's networks with their classes. */
static void build_nets(const struct rp_conf *c, const struct rp_fleet_ops *ops,
		       struct rp_fleet_net **out, size_t *nout)
{
	bool tagged = c->groups.n || c->tags.n;
	struct rp_fleet_net *v = NULL;
	size_t n = 0;

	for (size_t g = 0; g <= c->groups.n; g++) {
		const struct rp_cidr_list *l = g ? &c->groups.v[g - 1].networks : &c->networks;
		uint32_t id = tagged && l->n ? ops->class_of(ops->arg, c, g, NULL) : 0;

		v = rp_xrealloc(v, (n + l->n + 1) * sizeof(*v));
		for (size_t i = 0; i < l->n; i++)
			v[n++] = (struct rp_fleet_net){l->v[i], id};
	}
	*out = v;
	*nout = n;
}

/* The class of a discovered device at addr: its network's (0 outside them all). */
static uint32_t net_class(const struct rp_fleet_net *v, size_t n, const struct rp_ip *addr,
			  bool *inside)
{
	for (size_t i = 0; i < n; i++) {
		if (rp_cidr_contains(&v[i].net, addr)) {
			if (inside)
				*inside = true;
			return v[i].id;
		}
	}
	if (inside)
		*inside = false;
	return 0;
}

/* Static device addr's index, or -1. */
static ssize_t static_index(const struct rp_fleet *f, const struct rp_ip *addr)
{
	const struct rp_statics *s = &f->statics;

	if (rp_ip_is_v4(addr)) {
		uint32_t a = rp_ip_to_v4(addr);
		const uint32_t *p =
		    s->n4 ? bsearch(&a, s->v4, s->n4, sizeof(*s->v4), cmp_u32) : NULL;

		return p ? (ssize_t)(s->low6 + (size_t)(p - s->v4)) : -1;
	}
	const struct rp_ip *q = s->n6 ? bsearch(addr, s->v6, s->n6, sizeof(*s->v6), cmp_ip) : NULL;

	if (!q)
		return -1;
	return (size_t)(q - s->v6) < s->low6 ? (ssize_t)(q - s->v6)
					     : (ssize_t)((size_t)(q - s->v6) + s->n4);
}

uint32_t rp_fleet_class(const struct rp_fleet *f, const struct rp_ip *addr)
{
	ssize_t i = static_index(f, addr);

	if (i >= 0)
		return statics_id(&f->statics, (size_t)i);
	return net_class(f->nets, f->nnets, addr, NULL);
}

static bool is_static(const struct rp_fleet *f, const struct rp_ip *addr)
{
	return static_index(f, addr) >= 0;
}

static uint32_t found_capacity(uint64_t max_devices, size_t nstatic)
{
	uint64_t cap = max_devices > nstatic ? max_devices - nstatic : 0;

	return cap ? (uint32_t)cap : 1; /* a table needs a slot; f->max_devices guards it */
}

int rp_fleet_init(struct rp_fleet *f, const struct rp_conf *c, const struct rp_fleet_ops *ops,
		  char *why, size_t whylen)
{
	int ret;

	memset(f, 0, sizeof(*f));
	f->ops = *ops;
	f->sel = c->shard;
	f->max_devices = (uint64_t)c->max_devices;
	ret = expand_statics(c, ops, &f->statics, why, whylen);
	if (ret < 0)
		return ret;
	build_nets(c, ops, &f->nets, &f->nnets);
	f->nstatic = f->statics.n4 + f->statics.n6;
	f->unplaced = rp_xcalloc(f->nstatic ? f->nstatic : 1, sizeof(*f->unplaced));
	f->found_cap = found_capacity(f->max_devices, f->nstatic);
	ret = rp_devtable_create(&f->found, f->found_cap);
	if (ret < 0) {
		snprintf(why, whylen, "cannot size the device table for max_devices %llu",
			 (unsigned long long)f->max_devices);
		statics_free(&f->statics);
		free(f->unplaced);
		free(f->nets);
		return ret;
	}
	return 0;
}

void rp_fleet_fini(struct rp_fleet *f)
{
	rp_devtable_destroy(f->found);
	statics_free(&f->statics);
	free(f->unplaced);
	free(f->nets);
	memset(f, 0, sizeof(*f));
}

/* Adds static device i; a refusal leaves it unplaced, for rp_fleet_retry. */
static void place_static(struct rp_fleet *f, size_t i)
{
	struct rp_ip a = rp_fleet_static(f, i);

	if (f->ops.add(f->ops.arg, &a, statics_id(&f->statics, i))) {
		if (f->unplaced[i]) {
			f->unplaced[i] = 0;
			f->nunplaced--;
		}
	} else if (!f->unplaced[i]) {
		f->unplaced[i] = 1;
		f->nunplaced++;
	}
}

void rp_fleet_start(struct rp_fleet *f)
{
	for (size_t i = 0; i < f->nstatic; i++)
		place_static(f, i);
}

size_t rp_fleet_retry(struct rp_fleet *f)
{
	size_t before = f->nunplaced;

	for (size_t i = 0; i < f->nstatic && f->nunplaced; i++)
		if (f->unplaced[i])
			place_static(f, i);
	return before - f->nunplaced;
}

uint64_t rp_fleet_count(const struct rp_fleet *f)
{
	return f->nstatic + rp_devtable_count(f->found);
}

bool rp_fleet_has(const struct rp_fleet *f, const struct rp_ip *addr)
{
	return rp_devtable_lookup(f->found, addr) >= 0 || is_static(f, addr);
}

bool rp_fleet_found(struct rp_fleet *f, const struct rp_ip *addr, uint64_t now_ms)
{
	struct rp_dev_ref ev;
	int32_t slot;
	bool is_new = false;

	if (is_static(f, addr) || f->max_devices <= f->nstatic)
		return false;
	slot = rp_devtable_lookup(f->found, addr);
	if (slot >= 0) {
		rp_devtable_touch(f->found, (uint32_t)slot, now_ms);
		return false;
	}
	slot = rp_devtable_add(f->found, addr, now_ms, &is_new, &ev);
	if (ev.slot != RP_DEVTABLE_NO_SLOT) {
		f->evicted++;
		f->ops.remove(f->ops.arg, &ev.addr);
	}
	if (!f->ops.add(f->ops.arg, addr, net_class(f->nets, f->nnets, addr, NULL))) {
		rp_devtable_remove(f->found, (uint32_t)slot);
		return false;
	}
	f->discovered++;
	return true;
}

void rp_fleet_seen(struct rp_fleet *f, const struct rp_ip *addr, uint64_t now_ms)
{
	int32_t slot = rp_devtable_lookup(f->found, addr);

	if (slot >= 0)
		rp_devtable_touch(f->found, (uint32_t)slot, now_ms);
}

static void on_pruned(const struct rp_dev_ref *dev, void *arg)
{
	struct rp_fleet *f = arg;

	f->ops.remove(f->ops.arg, &dev->addr);
}

uint32_t rp_fleet_prune(struct rp_fleet *f, uint64_t now_ms, uint64_t max_age_ms)
{
	uint32_t n;

	if (!max_age_ms)
		return 0;
	n = rp_devtable_prune(f->found, now_ms, max_age_ms, on_pruned, f);
	f->pruned += n;
	return n;
}

int rp_fleet_reload(struct rp_fleet *f, const struct rp_conf *c, char *why, size_t whylen)
{
	struct rp_statics ns;
	uint8_t *nu;
	size_t nn, i = 0, j = 0, nnu = 0;
	struct rp_devtable *old_found = f->found, *nf;
	struct rp_fleet_net *nnets;
	size_t nnn;
	int ret;

	ret = expand_statics(c, &f->ops, &ns, why, whylen);
	if (ret < 0)
		return ret;
	build_nets(c, &f->ops, &nnets, &nnn);
	nn = ns.n4 + ns.n6;
	nu = rp_xcalloc(nn ? nn : 1, sizeof(*nu));
	/* Statics: a sorted merge of the old list and the new. One never placed has
	 * nothing to remove; one still unplaced stays so. */
	while (i < f->nstatic || j < nn) {
		struct rp_ip old = i < f->nstatic ? statics_at(&f->statics, i) : rp_ip_v4(0);
		struct rp_ip fresh = j < nn ? statics_at(&ns, j) : rp_ip_v4(0);

		if (j == nn || (i < f->nstatic && rp_ip_cmp(&old, &fresh) < 0)) {
			f->removed++;
			if (!f->unplaced[i])
				f->ops.remove(f->ops.arg, &old);
			i++;
		} else if (i == f->nstatic || rp_ip_cmp(&fresh, &old) < 0) {
			int32_t slot = rp_devtable_lookup(old_found, &fresh);
			uint32_t id = statics_id(&ns, j);

			/* Already monitored as discovered: it only changes list (and class). */
			if (slot >= 0) {
				rp_devtable_remove(old_found, (uint32_t)slot);
				if (net_class(f->nets, f->nnets, &fresh, NULL) != id)
					f->ops.readd(f->ops.arg, &fresh, id);
			} else if (!f->ops.add(f->ops.arg, &fresh, id)) {
				nu[j] = 1;
			}
			nnu += nu[j];
			j++;
		} else {
			nu[j] = f->unplaced[i];
			nnu += nu[j];
			/* Its group, tags or interval changed: re-added with the new class;
			 * every other device goes on untouched. */
			if (!nu[j] && statics_id(&f->statics, i) != statics_id(&ns, j))
				f->ops.readd(f->ops.arg, &fresh, statics_id(&ns, j));
			i++;
			j++;
		}
	}
	statics_free(&f->statics);
	free(f->unplaced);
	f->statics = ns;
	f->unplaced = nu;
	f->nstatic = nn;
	f->nunplaced = nnu;
	f->max_devices = (uint64_t)c->max_devices;
	/* Discovered devices: those outside every network (or now static) go; the rest
	 * move, oldest first so the LRU order holds, into a table of the new size, and
	 * what no longer fits is evicted. */
	rp_devtable_create(&nf, found_capacity(f->max_devices, f->nstatic));
	for (int32_t s = rp_devtable_oldest(old_found); s >= 0; s = rp_devtable_oldest(old_found)) {
		struct rp_ip a = *rp_devtable_addr(old_found, (uint32_t)s);
		uint64_t seen = rp_devtable_last_seen(old_found, (uint32_t)s);
		struct rp_dev_ref ev;
		bool is_new, inside;
		uint32_t id = net_class(nnets, nnn, &a, &inside);

		rp_devtable_remove(old_found, (uint32_t)s);
		if (!inside || !rp_ctl_mine(&c->shard, &a) || f->max_devices <= f->nstatic) {
			f->removed++;
			f->ops.remove(f->ops.arg, &a);
			continue;
		}
		if (id != net_class(f->nets, f->nnets, &a, NULL))
			f->ops.readd(f->ops.arg, &a, id);
		rp_devtable_add(nf, &a, seen, &is_new, &ev);
		if (ev.slot != RP_DEVTABLE_NO_SLOT) {
			f->evicted++;
			f->ops.remove(f->ops.arg, &ev.addr);
		}
	}
	rp_devtable_destroy(old_found);
	free(f->nets);
	f->nets = nnets;
	f->nnets = nnn;
	f->found = nf;
	f->found_cap = found_capacity(f->max_devices, f->nstatic);
	f->sel = c->shard;
	return 0;
}

void rp_fleet_each(const struct rp_fleet *f,
		   void (*fn)(void *arg, const struct rp_ip *addr, uint32_t id), void *arg)
{
	for (size_t i = 0; i < f->nstatic; i++) {
		if (!f->unplaced[i]) {
			struct rp_ip a = rp_fleet_static(f, i);

			fn(arg, &a, statics_id(&f->statics, i));
		}
	}
	for (int32_t s = rp_devtable_next(f->found, -1); s >= 0;
	     s = rp_devtable_next(f->found, s)) {
		const struct rp_ip *a = rp_devtable_addr(f->found, (uint32_t)s);

		fn(arg, a, net_class(f->nets, f->nnets, a, NULL));
	}
}
