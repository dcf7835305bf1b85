/* The control thread's bookkeeping, without sockets: the fleet (static and
 * discovered devices, eviction, prune, reload) and discovery rounds. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_int.h"
#include "ringprobe/hash.h"

#define NS_PER_S 1000000000ull

/* What the fleet asked of the shards, in order, and the resulting set. */
struct log {
	int nadd, nrem;
	uint32_t add[4096], rem[4096];
	uint8_t *live; /* indexed by addr & 0xffffff */
	int refuse;    /* the next this many adds are refused (a full backlog) */
	int nrefused;
	uint32_t add_id[4096]; /* each add's class */
	int nreadd;	       /* class changes */
	uint32_t readd[64], readd_id[64];
};

/* The fleet's addresses are struct rp_ip; these tests name IPv4 ones as host-order
 * integers. */
static uint32_t v4_of(const struct rp_ip *ip)
{
	cr_assert(rp_ip_is_v4(ip));
	return rp_ip_to_v4(ip);
}

static bool fleet_has4(const struct rp_fleet *f, uint32_t a)
{
	struct rp_ip ip = rp_ip_v4(a);

	return rp_fleet_has(f, &ip);
}

static bool fleet_found4(struct rp_fleet *f, uint32_t a, uint64_t now)
{
	struct rp_ip ip = rp_ip_v4(a);

	return rp_fleet_found(f, &ip, now);
}

static void fleet_seen4(struct rp_fleet *f, uint32_t a, uint64_t now)
{
	struct rp_ip ip = rp_ip_v4(a);

	rp_fleet_seen(f, &ip, now);
}

static bool mine4(const struct rp_shard_sel *sel, uint32_t a)
{
	struct rp_ip ip = rp_ip_v4(a);

	return rp_ctl_mine(sel, &ip);
}

static uint32_t owner4(uint32_t a, uint32_t count)
{
	struct rp_ip ip = rp_ip_v4(a);

	return rp_ctl_shard_owner(&ip, count);
}

static void enrich_add4(struct rp_enrich *e, uint32_t a, uint64_t now)
{
	struct rp_ip ip = rp_ip_v4(a);

	rp_enrich_add(e, &ip, now);
}

static void enrich_remove4(struct rp_enrich *e, uint32_t a)
{
	struct rp_ip ip = rp_ip_v4(a);

	rp_enrich_remove(e, &ip);
}

static bool sweep_next4(struct rp_sweep *s, uint64_t now, double rate, uint64_t window,
			bool (*skip)(void *, const struct rp_ip *), void *arg, uint32_t *a,
			uint32_t *id)
{
	struct rp_ip ip;

	if (!rp_sweep_next(s, now, rate, window, skip, arg, &ip, id))
		return false;
	*a = v4_of(&ip);
	return true;
}

static bool on_add(void *arg, const struct rp_ip *ip, uint32_t id)
{
	struct log *l = arg;
	uint32_t a = v4_of(ip);

	cr_assert_not(l->live[a & 0xffffff], "%08x added twice", a);
	if (l->refuse > 0) {
		l->refuse--;
		l->nrefused++;
		return false;
	}
	cr_assert_lt(l->nadd, 4096);
	l->live[a & 0xffffff] = 1;
	l->add_id[l->nadd] = id;
	l->add[l->nadd++] = a;
	return true;
}

static void on_readd(void *arg, const struct rp_ip *ip, uint32_t id)
{
	struct log *l = arg;
	uint32_t a = v4_of(ip);

	cr_assert(l->live[a & 0xffffff], "%08x re-added while not monitored", a);
	cr_assert_lt(l->nreadd, 64);
	l->readd_id[l->nreadd] = id;
	l->readd[l->nreadd++] = a;
}

/* Classes for the tests: 10 x the group (0 = the top level), + 1 with a device's own
 * tags; a group with no tags and no interval is class 0 as the daemon's would be. */
static uint32_t on_class(void *arg, const struct rp_conf *c, size_t g, const struct rp_devtags *dt)
{
	(void)arg;
	if (g && !c->groups.v[g - 1].tags.n && !c->groups.v[g - 1].ping_interval && !dt)
		return 0;
	return (uint32_t)(10 * g) + (dt ? 1 : 0);
}

static void on_remove(void *arg, const struct rp_ip *ip)
{
	struct log *l = arg;
	uint32_t a = v4_of(ip);

	cr_assert_lt(l->nrem, 4096);
	cr_assert(l->live[a & 0xffffff], "%08x removed while not monitored", a);
	l->live[a & 0xffffff] = 0;
	l->rem[l->nrem++] = a;
}

static struct log lg;
static struct rp_conf conf;
static struct rp_fleet fleet;
static char why[256];

static void setup(void)
{
	memset(&lg, 0, sizeof(lg));
	lg.live = calloc(1 << 24, 1);
	rp_conf_init(&conf);
}

static void teardown(void)
{
	rp_fleet_fini(&fleet);
	rp_conf_fini(&conf);
	free(lg.live);
}

static void set_cidrs(struct rp_cidr_list *l, const char *const *v, size_t n)
{
	free(l->v);
	free(l->line);
	l->v = calloc(n ? n : 1, sizeof(*l->v));
	l->line = calloc(n ? n : 1, sizeof(*l->line));
	l->n = n;
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(rp_parse_cidr(v[i], &l->v[i], NULL, why, sizeof(why)), 0, "%s", why);
}

static int live_count(void)
{
	int n = 0;

	for (int i = 0; i < (1 << 24); i++)
		n += lg.live[i];
	return n;
}

static const struct rp_fleet_ops ops = {on_add, on_remove, on_readd, on_class, &lg};

TestSuite(fleet, .init = setup, .fini = teardown);

Test(fleet, static_devices_are_expanded_deduplicated_and_added_once)
{
	const char *dev[] = {"198.18.0.0/30", "198.18.0.1", "198.18.0.5", "198.18.0.2/31"};

	set_cidrs(&conf.devices, dev, 4);
	cr_assert_eq(rp_fleet_init(&fleet, &conf, &ops, why, sizeof(why)), 0, "%s", why);
	rp_fleet_start(&fleet);
	/* /30 -> .1 .2 ; .1 again ; .5 ; /31 -> .2 .3 */
	cr_assert_eq(rp_fleet_count(&fleet), 4);
	cr_assert_eq(lg.nadd, 4);
	cr_assert(fleet_has4(&fleet, 0xc6120003));
	cr_assert_not(fleet_has4(&fleet, 0xc6120004));
}

Test(fleet, more_static_devices_than_max_devices_is_refused_with_both_numbers)
{
	const char *dev[] = {"198.18.0.0/24"};

	set_cidrs(&conf.devices, dev, 1);
	conf.max_devices = 100;
	cr_assert_eq(rp_fleet_init(&fleet, &conf, &ops, why, sizeof(why)), -E2BIG);
	cr_assert_not_null(strstr(why, "254"), "%s", why);
	cr_assert_not_null(strstr(why, "max_devices is 100"), "%s", why);
	memset(&fleet, 0, sizeof(fleet));
}

Test(fleet, discovered_devices_evict_the_least_recently_seen_and_statics_stay)
{
	const char *dev[] = {"198.18.144.1", "198.18.144.2"};

	set_cidrs(&conf.devices, dev, 2);
	conf.max_devices = 5; /* 2 static + 3 discovered */
	cr_assert_eq(rp_fleet_init(&fleet, &conf, &ops, why, sizeof(why)), 0, "%s", why);
	rp_fleet_start(&fleet);
	cr_assert_not(fleet_found4(&fleet, 0xc6129001, 1), "a static device is not discovered");
	cr_assert(fleet_found4(&fleet, 0xc6120001, 1));
	cr_assert(fleet_found4(&fleet, 0xc6120002, 2));
	cr_assert(fleet_found4(&fleet, 0xc6120003, 3));
	cr_assert_not(fleet_found4(&fleet, 0xc6120003, 4), "found again: only refreshed");
	fleet_seen4(&fleet, 0xc6120001, 5); /* .1 answered: .2 is now the oldest */
	cr_assert(fleet_found4(&fleet, 0xc6120004, 6));
	cr_assert_eq(fleet.evicted, 1);
	cr_assert_eq(lg.rem[0], 0xc6120002);
	cr_assert_eq(rp_fleet_count(&fleet), 5);
	cr_assert_eq(live_count(), 5);
	cr_assert_eq(fleet.discovered, 4);
}

Test(fleet, prune_removes_only_discovered_devices_unseen_for_too_long)
{
	const char *dev[] = {"198.18.144.1"};

	set_cidrs(&conf.devices, dev, 1);
	cr_assert_eq(rp_fleet_init(&fleet, &conf, &ops, why, sizeof(why)), 0, "%s", why);
	rp_fleet_start(&fleet);
	fleet_found4(&fleet, 0xc6120001, 1000);
	fleet_found4(&fleet, 0xc6120002, 2000);
	fleet_seen4(&fleet, 0xc6120001, 9000);
	cr_assert_eq(rp_fleet_prune(&fleet, 10000, 5000), 1, ".2 was last seen 8 s ago");
	cr_assert_eq(lg.rem[0], 0xc6120002);
	cr_assert_eq(rp_fleet_prune(&fleet, 10000, 5000), 0);
	cr_assert_eq(rp_fleet_prune(&fleet, 100000, 0), 0, "prune_after 0 never prunes");
	cr_assert_eq(rp_fleet_count(&fleet), 2);
	cr_assert_eq(fleet.pruned, 1);
	cr_assert(fleet_has4(&fleet, 0xc6129001), "the static device stays");
}

Test(fleet, reload_adds_and_removes_exactly_what_changed)
{
	const char *dev1[] = {"198.18.144.1", "198.18.144.2"},
		   *net1[] = {"198.18.0.0/24", "198.18.16.0/24"};
	const char *dev2[] = {"198.18.144.2", "198.18.144.3", "198.18.0.7"},
		   *net2[] = {"198.18.0.0/24"};

	set_cidrs(&conf.devices, dev1, 2);
	set_cidrs(&conf.networks, net1, 2);
	cr_assert_eq(rp_fleet_init(&fleet, &conf, &ops, why, sizeof(why)), 0, "%s", why);
	rp_fleet_start(&fleet);
	fleet_found4(&fleet, 0xc6120007, 1);
	fleet_found4(&fleet, 0xc6120008, 2);
	fleet_found4(&fleet, 0xc6121001, 3);
	cr_assert_eq(live_count(), 5);
	lg.nadd = lg.nrem = 0;
	set_cidrs(&conf.devices, dev2, 3);
	set_cidrs(&conf.networks, net2, 1);
	cr_assert_eq(rp_fleet_reload(&fleet, &conf, why, sizeof(why)), 0, "%s", why);
	/* 198.18.144.1 goes, 198.18.144.3 comes, 198.18.0.7 turns static without a command, the
	 * device of the dropped network goes. */
	cr_assert_eq(lg.nadd, 1);
	cr_assert_eq(lg.add[0], 0xc6129003);
	cr_assert_eq(lg.nrem, 2);
	cr_assert(lg.rem[0] == 0xc6129001 || lg.rem[1] == 0xc6129001);
	cr_assert(lg.rem[0] == 0xc6121001 || lg.rem[1] == 0xc6121001);
	cr_assert_eq(rp_fleet_count(&fleet), 4);
	cr_assert_eq(live_count(), 4);
	cr_assert(fleet_has4(&fleet, 0xc6120008));
	/* A reload over max_devices changes nothing. */
	conf.max_devices = 2;
	cr_assert_eq(rp_fleet_reload(&fleet, &conf, why, sizeof(why)), -E2BIG);
	cr_assert_eq(rp_fleet_count(&fleet), 4);
}

static void count_each(void *arg, const struct rp_ip *ip, uint32_t id)
{
	(void)id;
	uint32_t a = v4_of(ip);

	cr_assert(lg.live[a & 0xffffff], "%08x visited but not monitored", a);
	(*(int *)arg)++;
}

/* A refused add (the prober's backlog full) leaves nothing behind: a discovered device
 * is forgotten (the next sweep finds it again), a static one waits for rp_fleet_retry,
 * and neither is ever removed or re-added while not placed. */
Test(fleet, refused_adds_are_retried_or_forgotten_never_removed)
{
	const char *dev1[] = {"198.51.100.11", "198.51.100.12", "198.51.100.13"};
	const char *dev2[] = {"198.51.100.12", "198.51.100.13", "198.51.100.14"};
	const char *net[] = {"192.0.2.0/24"};
	int visited = 0;

	set_cidrs(&conf.devices, dev1, 3);
	set_cidrs(&conf.networks, net, 1);
	cr_assert_eq(rp_fleet_init(&fleet, &conf, &ops, why, sizeof(why)), 0, "%s", why);
	lg.refuse = 2;
	rp_fleet_start(&fleet);
	cr_assert_eq(lg.nrefused, 2);
	cr_assert_eq(fleet.nunplaced, 2);
	cr_assert_eq(live_count(), 1);
	rp_fleet_each(&fleet, count_each, &visited);
	cr_assert_eq(visited, 1, "a re-add skips the statics not placed");

	/* A discovered device refused is not kept; found again later, it is. */
	lg.refuse = 1;
	cr_assert_not(fleet_found4(&fleet, 0xc0000201, 1));
	cr_assert_not(fleet_has4(&fleet, 0xc0000201));
	cr_assert_eq(fleet.discovered, 0);
	cr_assert(fleet_found4(&fleet, 0xc0000201, 2));
	cr_assert_eq(fleet.discovered, 1);

	/* A reload drops 198.51.100.11 (placed or not, no remove for an unplaced one), keeps
	 * the others' state, and a refused new static waits too. */
	lg.nrem = 0;
	lg.refuse = 1;
	set_cidrs(&conf.devices, dev2, 3);
	cr_assert_eq(rp_fleet_reload(&fleet, &conf, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(lg.nrem, 0, "198.51.100.11 was never placed: nothing to remove");
	cr_assert_eq(fleet.nunplaced, 2, "198.51.100.12 still, 198.51.100.14 refused now");
	cr_assert_eq(rp_fleet_count(&fleet), 4);

	/* The retry places every waiting static, then has nothing left to do. */
	cr_assert_eq(rp_fleet_retry(&fleet), 2);
	cr_assert_eq(fleet.nunplaced, 0);
	cr_assert(lg.live[0x33640c] && lg.live[0x33640d] && lg.live[0x33640e]);
	cr_assert_not(lg.live[0x33640b]);
	cr_assert_eq(live_count(), 4);
	cr_assert_eq(rp_fleet_retry(&fleet), 0);
}

/* Both families in one `devices`: the statics are kept per family (4 bytes an IPv4
 * device) but still come out in rp_ip_cmp order, IPv6 below ::ffff:0:0 first, then
 * IPv4, then the other IPv6 ones; a mapped IPv6 form is the IPv4 device. */
struct log6 {
	int nadd, nrem;
	struct rp_ip add[16], rem[16];
	int refuse;
};

static bool on_add6(void *arg, const struct rp_ip *ip, uint32_t id)
{
	(void)id;
	struct log6 *l = arg;

	if (l->refuse > 0) {
		l->refuse--;
		return false;
	}
	cr_assert_lt(l->nadd, 16);
	l->add[l->nadd++] = *ip;
	return true;
}

static void on_remove6(void *arg, const struct rp_ip *ip)
{
	struct log6 *l = arg;

	cr_assert_lt(l->nrem, 16);
	l->rem[l->nrem++] = *ip;
}

static void assert_ip(const struct rp_ip *got, const char *want)
{
	char buf[RP_IP_STRLEN];
	struct rp_ip w;

	cr_assert(rp_ip_parse(want, &w), "%s", want);
	cr_assert(rp_ip_eq(got, &w), "got %s, want %s", rp_ip_format(got, buf), want);
}

static bool has_ip(const struct rp_fleet *f, const char *text)
{
	struct rp_ip a;

	cr_assert(rp_ip_parse(text, &a), "%s", text);
	return rp_fleet_has(f, &a);
}

Test(fleet, statics_of_both_families_keep_one_sorted_order_through_start_and_reload)
{
	const char *dev1[] = {"2001:db8::2",	  "192.0.2.2",	  "::c000:201", "2001:db8::1",
			      "::ffff:192.0.2.1", "192.0.2.1/32", "2001:db8::2"};
	const char *dev2[] = {"2001:db8::2", "192.0.2.1", "198.51.100.1", "::c000:201",
			      "2001:db8::3"};
	const char *order1[] = {"::c000:201", "192.0.2.1", "192.0.2.2", "2001:db8::1",
				"2001:db8::2"};
	struct log6 l = {0};
	const struct rp_fleet_ops ops6 = {on_add6, on_remove6, NULL, on_class, &l};

	set_cidrs(&conf.devices, dev1, 7);
	cr_assert_eq(rp_fleet_init(&fleet, &conf, &ops6, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(fleet.nstatic, 5, "the repeats and the mapped form are one device each");
	cr_assert_eq(fleet.statics.n4, 2);
	cr_assert_eq(fleet.statics.n6, 3);
	cr_assert_eq(fleet.statics.low6, 1);
	l.refuse = 1; /* ::c000:201, the first, waits for a retry */
	rp_fleet_start(&fleet);
	cr_assert_eq(l.nadd, 4);
	for (int i = 0; i < 5; i++) {
		struct rp_ip a = rp_fleet_static(&fleet, (size_t)i);

		assert_ip(&a, order1[i]);
		if (i > 0)
			assert_ip(&l.add[i - 1], order1[i]);
	}
	cr_assert_eq(fleet.nunplaced, 1);
	cr_assert(has_ip(&fleet, "::ffff:192.0.2.2") && has_ip(&fleet, "192.0.2.1"));
	cr_assert(has_ip(&fleet, "::c000:201") && has_ip(&fleet, "2001:db8::1"));
	cr_assert_not(has_ip(&fleet, "192.0.2.3") || has_ip(&fleet, "2001:db8::3"));
	cr_assert_not(has_ip(&fleet, "::c000:202"));

	/* Out: 192.0.2.2 and 2001:db8::1; in: 198.51.100.1 and 2001:db8::3; ::c000:201
	 * stays unplaced (no remove, no add), the rest keep their place. */
	l.nadd = l.nrem = 0;
	set_cidrs(&conf.devices, dev2, 5);
	cr_assert_eq(rp_fleet_reload(&fleet, &conf, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(l.nrem, 2);
	assert_ip(&l.rem[0], "192.0.2.2");
	assert_ip(&l.rem[1], "2001:db8::1");
	cr_assert_eq(l.nadd, 2);
	assert_ip(&l.add[0], "198.51.100.1");
	assert_ip(&l.add[1], "2001:db8::3");
	cr_assert_eq(fleet.nstatic, 5);
	cr_assert_eq(fleet.nunplaced, 1);
	cr_assert_eq(rp_fleet_retry(&fleet), 1);
	assert_ip(&l.add[2], "::c000:201");
	cr_assert_not(has_ip(&fleet, "192.0.2.2"));
	cr_assert(has_ip(&fleet, "2001:db8::3"));
}

Test(fleet, shard_selection_partitions_addresses_apart_from_thread_routing)
{
	struct rp_shard_sel sel[3] = {{.index = 0, .count = 3},
				      {.index = 1, .count = 3},
				      {.index = 2, .count = 3}},
			    all = {.index = 0, .count = 1};
	int per[3] = {0}, by_thread[3][2] = {{0}};

	for (uint32_t a = 0x7f000000; a < 0x7f000000 + 30000; a++) {
		int owners = 0;

		cr_assert(mine4(&all, a));
		for (int i = 0; i < 3; i++) {
			if (mine4(&sel[i], a)) {
				owners++;
				per[i]++;
				by_thread[i][rp_hash_u32(a) % 2]++;
			}
		}
		cr_assert_eq(owners, 1, "%08x has %d owners", a, owners);
	}
	for (int i = 0; i < 3; i++) {
		cr_assert(per[i] > 9500 && per[i] < 10500, "shard %d has %d", i, per[i]);
		/* Each instance still spreads its share over both of its threads. */
		cr_assert(by_thread[i][0] > per[i] / 3 && by_thread[i][1] > per[i] / 3);
	}
}

/* The owner function is a contract between hosts and versions (an instance that
 * computed another owner would probe devices twice or never): these values were
 * computed by the function as documented in fleet.c and must never change. */
Test(fleet, shard_owner_is_pinned)
{
	static const struct {
		uint32_t addr, count, owner;
	} pinned[] = {
	    {0xc0000201u, 2, 1},     /* 192.0.2.1 */
	    {0xc0000201u, 3, 2},     /* 192.0.2.1 */
	    {0xc0000201u, 16, 9},    /* 192.0.2.1 */
	    {0xc6336407u, 5, 2},     /* 198.51.100.7 */
	    {0xc6336407u, 256, 221}, /* 198.51.100.7 */
	    {0xcb0071c8u, 7, 6},     /* 203.0.113.200 */
	    {0x0a000001u, 4, 3},     /* 198.18.0.1 */
	    {0x0a000001u, 100, 50},  /* 198.18.0.1 */
	    {0x00000000u, 10, 7},    /* 0.0.0.0 */
	    {0xffffffffu, 10, 6},    /* 255.255.255.255 */
	    {0xc6120000u, 16, 15},   /* 198.18.0.0 */
	    {0xc613ffffu, 17, 13},   /* 198.19.255.255 */
	};

	for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++)
		cr_expect_eq(owner4(pinned[i].addr, pinned[i].count), pinned[i].owner,
			     "owner of %08x among %u", pinned[i].addr, pinned[i].count);
	for (uint32_t a = 0; a < 1000; a++)
		cr_assert_eq(owner4(a * 2654435761u, 1), 0);
}

/* Rendezvous hashing over 10^6 addresses: the contiguous
 * 198.18.0.0/15 (131,072) and the rest drawn at random. For N = 2..16 every shard holds
 * 1/N within BALANCE, and going to N+1 moves 1/(N+1) within MOVED (absolute), every
 * moved address to the new shard N. Measured at 10^6 (release): every shard within
 * 0.67% of 1/N for every N, the moved fraction within 0.00045 of 1/(N+1) (the table is
 * in the test's log: --verbose); the bounds leave about 4x of margin. 1.2 s in
 * release, 1.0 s under ASan. Hash-modulo-N would move N/(N+1). */
Test(fleet, rendezvous_balances_and_moves_one_in_n_plus_one, .timeout = 60)
{
	const uint32_t total = 1000000;
	const double balance = 0.025, moved_tol = 0.002;
	uint32_t *addr = malloc(total * sizeof(*addr));
	uint8_t *prev = malloc(total);
	uint64_t x = 0x9e3779b97f4a7c15ull;

	cr_assert(addr && prev);
	for (uint32_t i = 0; i < total; i++) {
		if (i < 131072) {
			addr[i] = 0xc6120000u + i; /* 198.18.0.0/15 */
			continue;
		}
		x ^= x << 13; /* xorshift64: fixed, so the test is deterministic */
		x ^= x >> 7;
		x ^= x << 17;
		addr[i] = (uint32_t)(x >> 32);
	}
	for (uint32_t i = 0; i < total; i++)
		prev[i] = (uint8_t)owner4(addr[i], 2);
	cr_log_info("N  worst-shard-deviation  moved(N-1->N)  expected");
	for (uint32_t n = 2; n <= 17; n++) {
		uint32_t per[17] = {0}, moved = 0;
		double worst = 0, fmoved, want = 1.0 / n;

		for (uint32_t i = 0; i < total; i++) {
			uint32_t o = owner4(addr[i], n);

			cr_assert_lt(o, n);
			per[o]++;
			if (n > 2 && o != prev[i]) {
				cr_assert_eq(o, n - 1,
					     "%08x moved from %u to %u going to %u shards", addr[i],
					     prev[i], o, n);
				moved++;
			}
			prev[i] = (uint8_t)o;
		}
		for (uint32_t j = 0; j < n; j++) {
			double dev = (double)per[j] / total / want - 1;

			worst =
			    dev < 0 ? (-dev > worst ? -dev : worst) : (dev > worst ? dev : worst);
		}
		fmoved = (double)moved / total;
		cr_log_info("%2u %.4f %.5f %.5f", n, worst, fmoved, n > 2 ? 1.0 / n : 0);
		if (n <= 16)
			cr_expect_lt(worst, balance, "N=%u: a shard is %.2f%% off 1/N", n,
				     worst * 100);
		if (n > 2)
			cr_expect(fmoved > 1.0 / n - moved_tol && fmoved < 1.0 / n + moved_tol,
				  "N=%u->%u moved %.5f, want %.5f", n - 1, n, fmoved, 1.0 / n);
	}
	free(addr);
	free(prev);
}

/* ---- sweeps ----------------------------------------------------------------------- */

static bool skip_odd(void *arg, const struct rp_ip *ip)
{
	return v4_of(ip) & 1;
}

Test(fleet, a_sweep_round_offers_every_host_once_and_reports_each_network)
{
	const char *net[] = {"198.18.0.0/28", "198.18.1.0/29"};
	struct rp_sweep s;
	uint8_t seen[2][16] = {{0}};
	uint64_t now = 1000 * NS_PER_S;
	uint32_t a, id;
	int n = 0;

	set_cidrs(&conf.networks, net, 2);
	conf.icmp_discovery_interval = 60 * NS_PER_S;
	rp_sweep_init(&s, &conf, now);
	rp_sweep_tick(&s, now);
	cr_assert(s.active);
	now += NS_PER_S;
	while (sweep_next4(&s, now, 1e6, 1000, skip_odd, NULL, &a, &id)) {
		int k = (a >> 8) & 1;

		cr_assert_eq(a & 1, 0, "a skipped address was offered");
		cr_assert_not(seen[k][a & 15], "offered twice");
		seen[k][a & 15] = 1;
		cr_assert_eq(id & 0xffff, (uint32_t)k);
		cr_assert(id & RP_SWEEP_ID_BIT);
		/* Half answer. */
		cr_assert_eq(rp_sweep_result(&s, id, (a & 2) != 0), (a & 2) != 0);
		n++;
	}
	/* Even hosts: /28 .2..14 (7), /29 .2 .4 .6 (3). */
	cr_assert_eq(n, 10);
	cr_assert_not(rp_sweep_result(&s, RP_SWEEP_ID(s.epoch + 1, 0), true), "another round's");
	cr_assert(sweep_next4(&s, now, 1e6, 1000, skip_odd, NULL, &a, &id) == false);
	cr_assert(s.fed);
	rp_sweep_fini(&s);
}

static int nrep;
static struct rp_sweep_report reps[4];

static void report(void *arg, const struct rp_sweep_report *r)
{
	cr_assert_lt(nrep, 4);
	reps[nrep++] = *r;
}

Test(fleet, a_round_ends_with_its_results_or_after_the_grace_time)
{
	const char *net[] = {"198.18.0.0/29", "198.18.1.0/30"};
	struct rp_sweep s;
	uint64_t now = 50 * NS_PER_S;
	uint32_t a, id, ids[16];
	int n = 0;

	set_cidrs(&conf.networks, net, 2);
	conf.icmp_discovery_interval = 60 * NS_PER_S;
	conf.ping_timeout = NS_PER_S;
	rp_sweep_init(&s, &conf, now);
	rp_sweep_tick(&s, now);
	now += NS_PER_S;
	while (sweep_next4(&s, now, 1e6, 1000, NULL, NULL, &a, &id))
		ids[n++] = id;
	cr_assert_eq(n, 8, "6 + 2 hosts");
	nrep = 0;
	for (int i = 0; i < n - 1; i++)
		rp_sweep_result(&s, ids[i], i < 3);
	cr_assert_not(rp_sweep_finish(&s, now, report, NULL), "one result is missing");
	/* Lost for good (a full ring): the round ends after timeout + 2 s anyway. */
	cr_assert(rp_sweep_finish(&s, now + 3 * NS_PER_S + 1, report, NULL));
	cr_assert_eq(nrep, 2);
	cr_assert_eq(reps[0].probed + reps[1].probed, 8);
	cr_assert_eq(reps[0].probed, 6);
	cr_assert_eq(reps[0].alive + reps[1].alive, 3);
	cr_assert_eq(s.rounds, 1);
	/* The next round is due one interval after this one began. */
	rp_sweep_tick(&s, now + 30 * NS_PER_S);
	cr_assert_not(s.active);
	rp_sweep_tick(&s, now - NS_PER_S + 60 * NS_PER_S);
	cr_assert(s.active);
	rp_sweep_fini(&s);
}

Test(fleet, sweep_offers_are_paced_and_windowed)
{
	const char *net[] = {"198.18.0.0/16"};
	struct rp_sweep s;
	uint64_t now = 10 * NS_PER_S;
	uint32_t a, id;
	int n = 0;

	set_cidrs(&conf.networks, net, 1);
	rp_sweep_init(&s, &conf, now);
	rp_sweep_tick(&s, now);
	/* 1,000 per second: 100 ms gives 100 (no more than a tenth of a second saved). */
	now += 5 * NS_PER_S;
	while (sweep_next4(&s, now, 1000, 100000, NULL, NULL, &a, &id))
		n++;
	cr_assert(n >= 100 && n <= 101, "%d offered", n);
	now += 10 * 1000000ull;
	n = 0;
	while (sweep_next4(&s, now, 1000, 100000, NULL, NULL, &a, &id))
		n++;
	cr_assert(n >= 9 && n <= 11, "%d offered in 10 ms", n);
	/* The window: no more than 150 outstanding. */
	now += NS_PER_S;
	n = 0;
	while (sweep_next4(&s, now, 1e6, 150, NULL, NULL, &a, &id))
		n++;
	cr_assert_eq(s.outstanding, 150);
	rp_sweep_fini(&s);
}

/* The SNMP schedule's due FIFO: a device that leaves while due gives up its place, so
 * churn in a full table never queues more than the devices there are, and each due
 * device is asked once. (The poller is created, not started: requests wait in its ring.) */
Test(enrich, devices_leaving_while_due_hold_no_place)
{
	struct rp_enrich_stats st;
	struct rp_enrich e;
	struct rp_conf c;
	char err[256];

	rp_conf_init(&c);
	c.max_devices = 8;
	c.snmp_rate_limit = 0; /* unpaced */
	cr_assert_eq(rp_enrich_init(&e, &c, 0, err, sizeof(err)), 0, "%s", err);
	for (uint32_t a = 1; a <= 8; a++)
		enrich_add4(&e, 0x7f000000 + a, 0);
	for (uint32_t i = 0; i < 10000; i++) {
		enrich_remove4(&e, 0x7f000001 + i); /* the oldest, still due */
		enrich_add4(&e, 0x7f000009 + i, 0);
	}
	enrich_add4(&e, 0x7f000009 + 9999, 0); /* present already: no second place */
	rp_enrich_stats(&e, &st);
	cr_expect_eq(st.devices, 8);
	cr_expect_eq(st.waiting, 8);
	cr_expect_eq(st.polls, 0);
	rp_enrich_tick(&e, 1, NULL, NULL, NULL); /* no answers can come: emit is never called */
	rp_enrich_stats(&e, &st);
	cr_expect_eq(st.waiting, 0);
	cr_expect_eq(st.polls, 8, "each due device asked once: %llu polls",
		     (unsigned long long)st.polls);
	cr_expect_eq(st.inflight, 8);
	rp_enrich_fini(&e);
	rp_conf_fini(&c);
}

static void load_yaml(const char *y)
{
	struct rp_diags d;

	rp_conf_fini(&conf);
	rp_conf_init(&conf);
	rp_diags_init(&d);
	cr_assert_eq(rp_conf_load_buffer(&conf, "t.yml", y, strlen(y), &d), 0);
	cr_assert_eq(d.errors, 0);
	rp_diags_fini(&d);
}

static uint32_t add_id_of(uint32_t a)
{
	for (int i = lg.nadd - 1; i >= 0; i--)
		if (lg.add[i] == a)
			return lg.add_id[i];
	cr_assert_fail("%08x never added", a);
	return 0;
}

/* Groups: every static and discovered device is added with its group's class (a
 * device's own tags make its own); a reload re-adds exactly the devices whose class
 * changed and leaves every other one alone. */
Test(fleet, groups_give_classes_and_a_reload_readds_only_what_changed)
{
	static const char y1[] = "devices: [198.18.0.1, {address: 198.18.0.2, tags: {a: b}}]\n"
				 "networks: [192.0.2.0/24]\n"
				 "groups:\n"
				 "  - name: g\n"
				 "    ping_interval: 1s\n"
				 "    devices: [198.18.1.0/30]\n"
				 "    networks: [198.51.100.0/24]\n"
				 "  - name: h\n"
				 "    devices: [198.18.2.1]\n";
	static const char y2[] = "devices: [198.18.0.1, 198.18.0.2]\n"
				 "networks: [192.0.2.0/24]\n"
				 "groups:\n"
				 "  - name: g\n"
				 "    ping_interval: 1s\n"
				 "    devices: [198.18.1.0/30]\n"
				 "    networks: [198.51.100.0/24]\n"
				 "  - name: h\n"
				 "    tags: {x: y}\n"
				 "    devices: [198.18.2.1]\n";

	load_yaml(y1);
	cr_assert_eq(rp_ctl__network_count(&conf), 2, "the top level's and group g's");
	cr_assert_eq(rp_fleet_init(&fleet, &conf, &ops, why, sizeof(why)), 0, "%s", why);
	rp_fleet_start(&fleet);
	cr_assert_eq(lg.nadd, 5, "a /30 is two hosts");
	cr_assert_eq(add_id_of(0xc6120001), 0);
	cr_assert_eq(add_id_of(0xc6120002), 1, "its own tags");
	for (uint32_t a = 0xc6120101; a <= 0xc6120102; a++)
		cr_assert_eq(add_id_of(a), 10);
	cr_assert_eq(add_id_of(0xc6120201), 0, "a group with nothing of its own is the default");
	cr_assert(fleet_found4(&fleet, 0xc6336405, 1));
	cr_assert_eq(add_id_of(0xc6336405), 10, "a discovered device takes its network's group");
	cr_assert(fleet_found4(&fleet, 0xc0000205, 1));
	cr_assert_eq(add_id_of(0xc0000205), 0);
	cr_assert_eq(rp_fleet_class(&fleet, &(struct rp_ip){0}), 0);

	load_yaml(y2);
	cr_assert_eq(rp_fleet_reload(&fleet, &conf, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(lg.nrem, 0);
	cr_assert_eq(lg.nadd, 7, "nothing added");
	cr_assert_eq(lg.nreadd, 2, "only the two devices whose class changed");
	cr_assert_eq(lg.readd[0], 0xc6120002);
	cr_assert_eq(lg.readd_id[0], 0);
	cr_assert_eq(lg.readd[1], 0xc6120201);
	cr_assert_eq(lg.readd_id[1], 20);
	cr_assert(fleet_has4(&fleet, 0xc6336405));
	cr_assert(fleet_has4(&fleet, 0xc0000205));
}
