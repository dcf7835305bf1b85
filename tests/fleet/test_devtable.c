/* Tests for src/fleet/devtable.c: every operation with exact counters, collisions
 * forced onto one probe run, and a randomized run against a reference model. */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ringprobe/compiler.h"
#include "ringprobe/devtable.h"
#include "ringprobe/hash.h"

/* The table's keys are struct rp_ip; most tests here name IPv4 addresses as host-order
 * integers through these wrappers (the table keeps IPv4's hash, so the collision
 * clusters below are built from rp_hash_u32 as before). */
static int32_t dt_add(struct rp_devtable *t, uint32_t a, uint64_t now, bool *is_new,
		      struct rp_dev_ref *ev)
{
	struct rp_ip ip = rp_ip_v4(a);

	return rp_devtable_add(t, &ip, now, is_new, ev);
}

static int32_t dt_lookup(const struct rp_devtable *t, uint32_t a)
{
	struct rp_ip ip = rp_ip_v4(a);

	return rp_devtable_lookup(t, &ip);
}

static uint32_t dt_addr(const struct rp_devtable *t, uint32_t slot)
{
	const struct rp_ip *ip = rp_devtable_addr(t, slot);

	cr_assert(rp_ip_is_v4(ip));
	return rp_ip_to_v4(ip);
}

#define V4(ip) rp_ip_to_v4(&(ip))

#define A1 0xc6120001u
#define A2 0xc6120002u
#define A3 0xc6120003u
#define A4 0xc6120004u
#define A5 0xc6120005u
#define A6 0xc6120006u
#define A7 0xc6120007u

/* Counters the tests pin after every step. */
struct want {
	uint32_t count;
	uint32_t suspended;
	uint64_t added;
	uint64_t evicted;
	uint64_t removed;
	uint64_t pruned;
};

static void check_stats(const struct rp_devtable *t, struct want w, int line)
{
	struct rp_devtable_stats st;

	rp_devtable_stats(t, &st);
	cr_assert_eq(st.count, w.count, "line %d: count %u, want %u", line, st.count, w.count);
	cr_assert_eq(rp_devtable_count(t), w.count, "line %d: rp_devtable_count", line);
	cr_assert_eq(st.suspended, w.suspended, "line %d: suspended %u, want %u", line,
		     st.suspended, w.suspended);
	cr_assert_eq(rp_devtable_suspended_count(t), w.suspended,
		     "line %d: rp_devtable_suspended_count", line);
	cr_assert_eq(st.added, w.added, "line %d: added %lu, want %lu", line,
		     (unsigned long)st.added, (unsigned long)w.added);
	cr_assert_eq(st.evicted, w.evicted, "line %d: evicted %lu, want %lu", line,
		     (unsigned long)st.evicted, (unsigned long)w.evicted);
	cr_assert_eq(st.removed, w.removed, "line %d: removed %lu, want %lu", line,
		     (unsigned long)st.removed, (unsigned long)w.removed);
	cr_assert_eq(st.pruned, w.pruned, "line %d: pruned %lu, want %lu", line,
		     (unsigned long)st.pruned, (unsigned long)w.pruned);
}

#define STATS(t, ...) check_stats((t), (struct want){__VA_ARGS__}, __LINE__)

static struct rp_devtable *make(uint32_t capacity)
{
	struct rp_devtable *t = NULL;

	cr_assert_eq(rp_devtable_create(&t, capacity), 0, "create(%u)", capacity);
	cr_assert_not_null(t, "create wrote no table");
	return t;
}

/* Add an address that must be new and must not evict; returns its slot. */
static uint32_t add_new(struct rp_devtable *t, uint32_t addr, uint64_t now)
{
	struct rp_dev_ref ev;
	bool is_new = false;
	int32_t slot = dt_add(t, addr, now, &is_new, &ev);

	cr_assert_geq(slot, 0, "add %#x returned %d", addr, slot);
	cr_assert(is_new, "add %#x: expected a new device", addr);
	cr_assert_eq(ev.slot, RP_DEVTABLE_NO_SLOT, "add %#x evicted slot %u", addr, ev.slot);
	cr_assert(rp_ip_is_zero(&ev.addr), "sentinel addr");
	cr_assert_eq(ev.gen, 0, "sentinel gen");
	return (uint32_t)slot;
}

/* Add a new address to a full table; it must evict exactly `victim`. */
static uint32_t add_evicting(struct rp_devtable *t, uint32_t addr, uint64_t now, uint32_t victim)
{
	struct rp_dev_ref ev;
	bool is_new = false;
	uint32_t vaddr = dt_addr(t, victim);
	uint32_t vgen = rp_devtable_gen(t, victim);
	int32_t slot = dt_add(t, addr, now, &is_new, &ev);

	cr_assert(is_new, "add %#x: expected a new device", addr);
	cr_assert_eq(ev.slot, victim, "add %#x evicted slot %u, want %u", addr, ev.slot, victim);
	cr_assert_eq(V4(ev.addr), vaddr, "evicted addr %#x, want %#x", V4(ev.addr), vaddr);
	cr_assert_eq(ev.gen, vgen, "evicted gen is the one it was live with");
	cr_assert_eq(slot, (int32_t)victim, "the evicted slot is reused");
	cr_assert_eq(rp_devtable_gen(t, victim), vgen + 1, "eviction bumps the generation");
	cr_assert_not(rp_devtable_is_live(t, victim, vgen), "evicted ref must not validate");
	cr_assert_eq(dt_lookup(t, vaddr), -ENOENT, "evicted addr is gone");
	return (uint32_t)slot;
}

Test(devtable, create_rejects_bad_capacity)
{
	struct rp_devtable *t = (struct rp_devtable *)&t;

	cr_assert_eq(rp_devtable_create(&t, 0), -EINVAL, "capacity 0");
	cr_assert_eq(rp_devtable_create(&t, RP_DEVTABLE_MAX_CAPACITY + 1), -EINVAL, "max + 1");
	cr_assert_eq(rp_devtable_create(&t, UINT32_MAX), -EINVAL, "UINT32_MAX");
	cr_assert_eq(t, (struct rp_devtable *)&t, "*out is written only on success");
}

Test(devtable, fresh_table_is_empty)
{
	struct rp_devtable *t = make(16);
	struct rp_devtable_stats st;

	STATS(t, .count = 0);
	rp_devtable_stats(t, &st);
	cr_assert_eq(st.capacity, 16, "capacity");
	cr_assert_eq(st.touched, 0, "touched");
	cr_assert_eq(rp_devtable_oldest(t), -ENOENT, "no oldest");
	cr_assert_eq(rp_devtable_next(t, -1), -ENOENT, "nothing to iterate");
	cr_assert_eq(dt_lookup(t, A1), -ENOENT, "miss");
	cr_assert_eq(rp_devtable_prune(t, 1000, 0, NULL, NULL), 0, "nothing to prune");
	for (uint32_t s = 0; s < 16; s++) {
		cr_assert_eq(rp_devtable_gen(t, s), 0, "fresh gen");
		cr_assert_not(rp_devtable_is_live(t, s, 0), "free slot is not live");
	}
	rp_devtable_destroy(t);
	rp_devtable_destroy(NULL);
}

Test(devtable, add_new_device_gets_slot_and_counts)
{
	struct rp_devtable *t = make(4);
	uint32_t s1, s2;

	s1 = add_new(t, A1, 10);
	STATS(t, .count = 1, .added = 1);
	cr_assert_eq(dt_lookup(t, A1), (int32_t)s1, "lookup hit");
	cr_assert_eq(dt_addr(t, s1), A1, "addr");
	cr_assert_eq(rp_devtable_last_seen(t, s1), 10, "last_seen");
	cr_assert_eq(rp_devtable_gen(t, s1), 0, "gen");
	cr_assert(rp_devtable_is_live(t, s1, 0), "live");
	cr_assert_not(rp_devtable_is_live(t, s1, 1), "wrong gen");
	cr_assert_not(rp_devtable_is_suspended(t, s1), "not suspended");
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)s1, "only device is oldest");

	s2 = add_new(t, A2, 11);
	cr_assert_neq(s1, s2, "distinct slots");
	STATS(t, .count = 2, .added = 2);
	cr_assert_eq(dt_lookup(t, A2), (int32_t)s2, "lookup hit");
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)s1, "first added is oldest");

	/* NULL is_new and evicted are allowed. */
	cr_assert_geq(dt_add(t, A3, 12, NULL, NULL), 0, "add with NULL outs");
	STATS(t, .count = 3, .added = 3);
	rp_devtable_destroy(t);
}

Test(devtable, add_existing_touches_without_adding)
{
	struct rp_devtable *t = make(4);
	struct rp_devtable_stats st;
	struct rp_dev_ref ev = {rp_ip_v4(1), 2, 3};
	bool is_new = true;
	uint32_t s1 = add_new(t, A1, 10);
	uint32_t s2 = add_new(t, A2, 11);

	cr_assert_eq(rp_devtable_oldest(t), (int32_t)s1, "A1 oldest");
	cr_assert_eq(dt_add(t, A1, 20, &is_new, &ev), (int32_t)s1, "same slot");
	cr_assert_not(is_new, "not new");
	cr_assert_eq(ev.slot, RP_DEVTABLE_NO_SLOT, "no eviction");
	cr_assert(rp_ip_is_zero(&ev.addr), "sentinel addr");
	cr_assert_eq(ev.gen, 0, "sentinel gen");
	cr_assert_eq(rp_devtable_last_seen(t, s1), 20, "last_seen refreshed");
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)s2, "A2 now oldest");
	cr_assert_eq(rp_devtable_gen(t, s1), 0, "touch keeps gen");
	STATS(t, .count = 2, .added = 2);
	rp_devtable_stats(t, &st);
	cr_assert_eq(st.touched, 1, "add of a present address counts as a touch");
	rp_devtable_destroy(t);
}

Test(devtable, lookup_miss_returns_enoent)
{
	struct rp_devtable *t = make(64);

	for (uint32_t i = 0; i < 64; i++)
		add_new(t, rp_hash_u32(i + 1), i);
	for (uint32_t i = 64; i < 10000; i++)
		cr_assert_eq(dt_lookup(t, rp_hash_u32(i + 1)), -ENOENT, "miss %u", i);
	for (uint32_t i = 0; i < 64; i++)
		cr_assert_eq(dt_lookup(t, rp_hash_u32(i + 1)), (int32_t)i, "hit %u", i);
	STATS(t, .count = 64, .added = 64);
	rp_devtable_destroy(t);
}

Test(devtable, address_zero_is_an_ordinary_key)
{
	struct rp_devtable *t = make(2);
	uint32_t s = add_new(t, 0, 1);

	cr_assert_eq(dt_lookup(t, 0), (int32_t)s, "0.0.0.0 found");
	cr_assert_eq(dt_addr(t, s), 0, "addr 0");
	cr_assert_eq(rp_devtable_remove(t, s), 0, "remove");
	cr_assert_eq(dt_lookup(t, 0), -ENOENT, "gone");
	rp_devtable_destroy(t);
}

Test(devtable, touch_reorders_lru)
{
	struct rp_devtable *t = make(4);
	struct rp_devtable_stats st;
	uint32_t a = add_new(t, A1, 1);
	uint32_t b = add_new(t, A2, 2);
	uint32_t c = add_new(t, A3, 3);

	cr_assert_eq(rp_devtable_oldest(t), (int32_t)a, "a oldest");
	rp_devtable_touch(t, a, 4);
	cr_assert_eq(rp_devtable_last_seen(t, a), 4, "last_seen set");
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)b, "b oldest after touching a");
	rp_devtable_touch(t, b, 5);
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)c, "c oldest after touching b");
	rp_devtable_touch(t, b, 6); /* already head */
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)c, "touching the head changes nothing");
	rp_devtable_touch(t, c, 7);
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)a, "a oldest again");
	STATS(t, .count = 3, .added = 3);
	rp_devtable_stats(t, &st);
	cr_assert_eq(st.touched, 4, "touch calls counted");
	rp_devtable_destroy(t);
}

Test(devtable, remove_frees_slot_and_bumps_generation)
{
	struct rp_devtable *t = make(4);
	uint32_t a = add_new(t, A1, 1);
	uint32_t b = add_new(t, A2, 2);
	uint32_t c;

	cr_assert_eq(rp_devtable_remove(t, a), 0, "remove a");
	STATS(t, .count = 1, .added = 2, .removed = 1);
	cr_assert_eq(rp_devtable_gen(t, a), 1, "gen bumped");
	cr_assert_not(rp_devtable_is_live(t, a, 0), "old ref dead");
	cr_assert_not(rp_devtable_is_live(t, a, 1), "free slot is not live at any gen");
	cr_assert_eq(dt_lookup(t, A1), -ENOENT, "a gone");
	cr_assert_eq(dt_lookup(t, A2), (int32_t)b, "b stays");
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)b, "b oldest");

	cr_assert_eq(rp_devtable_remove(t, a), -ENOENT, "double remove");
	cr_assert_eq(rp_devtable_remove(t, 4), -EINVAL, "out of range");
	cr_assert_eq(rp_devtable_remove(t, UINT32_MAX), -EINVAL, "far out of range");
	STATS(t, .count = 1, .added = 2, .removed = 1);

	/* The freed slot is reused with the new generation; the old ref stays dead. */
	c = add_new(t, A3, 3);
	cr_assert_eq(c, a, "freed slot reused first");
	cr_assert_eq(rp_devtable_gen(t, c), 1, "reused slot keeps the bumped gen");
	cr_assert(rp_devtable_is_live(t, c, 1), "new ref live");
	cr_assert_not(rp_devtable_is_live(t, c, 0), "late reply to the old device rejected");
	STATS(t, .count = 2, .added = 3, .removed = 1);

	cr_assert_eq(rp_devtable_remove(t, b), 0, "remove b");
	cr_assert_eq(rp_devtable_remove(t, c), 0, "remove c");
	STATS(t, .count = 0, .added = 3, .removed = 3);
	cr_assert_eq(rp_devtable_oldest(t), -ENOENT, "empty");
	cr_assert_eq(rp_devtable_gen(t, c), 2, "second free bumps again");
	rp_devtable_destroy(t);
}

/* Test addresses are rp_hash_u32(y) for disjoint ranges of y, so, the hash being a
 * bijection, addresses drawn from different ranges never coincide:
 *   y = 0                       address 0
 *   y in [1, 2^24)              collision clusters (find_colliding)
 *   y in [2^28, 2^29)           spread addresses of a model's pool
 *   y in [2^30, 2^31)           addresses that must always miss */
#define Y_POOL (UINT32_C(1) << 28)
#define Y_MISS (UINT32_C(1) << 30)

/* Addresses whose hash has the low 16 bits all clear or all set: for any index of up
 * to 65536 buckets they share home bucket 0 or the last bucket, so together they form
 * one probe run that wraps around the end of the index. */
static void find_colliding(uint32_t *out, uint32_t n)
{
	uint32_t found = 0;

	for (uint32_t y = 1; found < n; y++) {
		uint32_t addr = rp_hash_u32(y);
		uint32_t low = rp_hash_u32(addr) & 0xffff;

		cr_assert_lt(y, UINT32_C(1) << 24, "cluster search ran out of range");
		if (low == 0 || low == 0xffff)
			out[found++] = addr;
	}
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)(((rng() >> 32) * n) >> 32);
}

Test(devtable, remove_keeps_colliding_lookups_after_backward_shift)
{
	enum { CAP = 8, NADDR = 24 };
	uint32_t addr[NADDR];
	int32_t slot_of[NADDR];
	uint32_t count = 0;
	uint64_t added = 0, removed = 0;
	struct rp_devtable *t = make(CAP);

	find_colliding(addr, NADDR);
	for (uint32_t i = 0; i < NADDR; i++)
		slot_of[i] = -1;
	rng_state = 42;

	/* Fill, then delete each position of the run in turn, checking every other key. */
	for (uint32_t victim = 0; victim < CAP; victim++) {
		for (uint32_t i = 0; i < CAP; i++) {
			slot_of[i] = (int32_t)add_new(t, addr[i], 1);
			added++;
			count++;
		}
		cr_assert_eq(rp_devtable_remove(t, (uint32_t)slot_of[victim]), 0, "remove");
		slot_of[victim] = -1;
		removed++;
		count--;
		for (uint32_t i = 0; i < CAP; i++)
			cr_assert_eq(dt_lookup(t, addr[i]), i == victim ? -ENOENT : slot_of[i],
				     "victim %u: lookup %u", victim, i);
		for (uint32_t i = 0; i < CAP; i++) {
			if (slot_of[i] >= 0) {
				cr_assert_eq(rp_devtable_remove(t, (uint32_t)slot_of[i]), 0,
					     "drain");
				slot_of[i] = -1;
				removed++;
				count--;
			}
		}
		STATS(t, .count = count, .added = added, .removed = removed);
	}

	/* Random churn over a pool three times the capacity, all on one run. */
	for (uint32_t step = 0; step < 20000; step++) {
		uint32_t i = rng_below(NADDR);

		if (slot_of[i] >= 0) {
			cr_assert_eq(rp_devtable_remove(t, (uint32_t)slot_of[i]), 0, "remove");
			slot_of[i] = -1;
			removed++;
			count--;
		} else if (count < CAP) {
			slot_of[i] = (int32_t)add_new(t, addr[i], step);
			added++;
			count++;
		}
		for (uint32_t k = 0; k < NADDR; k++)
			cr_assert_eq(dt_lookup(t, addr[k]), slot_of[k] >= 0 ? slot_of[k] : -ENOENT,
				     "step %u: lookup %u", step, k);
		STATS(t, .count = count, .added = added, .removed = removed);
	}
	rp_devtable_destroy(t);
}

Test(devtable, eviction_at_capacity_takes_least_recently_seen)
{
	struct rp_devtable *t = make(4);
	uint32_t a = add_new(t, A1, 1);
	uint32_t b = add_new(t, A2, 2);
	uint32_t c = add_new(t, A3, 3);
	uint32_t d = add_new(t, A4, 4);
	uint32_t e, f, g;

	STATS(t, .count = 4, .added = 4);
	rp_devtable_touch(t, b, 5);
	rp_devtable_touch(t, a, 6);
	/* LRU order, oldest first: c, d, b, a */
	e = add_evicting(t, A5, 7, c);
	STATS(t, .count = 4, .added = 5, .evicted = 1);
	cr_assert_eq(dt_addr(t, e), A5, "new device in the reused slot");
	cr_assert(rp_devtable_is_live(t, e, 1), "reused slot live at gen 1");
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)d, "d next");

	f = add_evicting(t, A6, 8, d);
	STATS(t, .count = 4, .added = 6, .evicted = 2);
	add_evicting(t, A7, 9, b);
	STATS(t, .count = 4, .added = 7, .evicted = 3);
	/* An add of a present address must not evict even when full. */
	cr_assert_eq(dt_add(t, A5, 10, NULL, NULL), (int32_t)e, "present: no evict");
	STATS(t, .count = 4, .added = 7, .evicted = 3);
	/* Order now: a(6), f(8), g(9), e(10). */
	g = add_evicting(t, A1 + 100, 11, a);
	cr_assert_eq(g, a, "slot reused");
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)f, "f oldest");
	STATS(t, .count = 4, .added = 8, .evicted = 4);
	rp_devtable_destroy(t);
}

Test(devtable, eviction_order_follows_touch_order)
{
	enum { CAP = 64 };
	uint32_t slot[CAP], order[CAP];
	uint64_t now = 0;
	struct rp_devtable *t = make(CAP);

	for (uint32_t i = 0; i < CAP; i++) {
		slot[i] = add_new(t, rp_hash_u32(i + 1), now++);
		order[i] = i;
	}
	rng_state = 7;
	for (uint32_t i = CAP - 1; i > 0; i--) {
		uint32_t j = rng_below(i + 1), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	for (uint32_t i = 0; i < CAP; i++)
		rp_devtable_touch(t, slot[order[i]], now++);
	for (uint32_t i = 0; i < CAP; i++) {
		cr_assert_eq(rp_devtable_oldest(t), (int32_t)slot[order[i]], "oldest %u", i);
		add_evicting(t, rp_hash_u32(1000 + i), now++, slot[order[i]]);
		STATS(t, .count = CAP, .added = CAP + i + 1, .evicted = i + 1);
	}
	rp_devtable_destroy(t);
}

struct pruned_log {
	const struct rp_devtable *t;
	uint32_t n;
	struct rp_dev_ref ref[16];
};

static void log_pruned(const struct rp_dev_ref *dev, void *arg)
{
	struct pruned_log *log = arg;

	cr_assert(rp_devtable_is_live(log->t, dev->slot, dev->gen), "still live inside cb");
	cr_assert_eq(dt_addr(log->t, dev->slot), V4(dev->addr), "cb ref addr");
	cr_assert_lt(log->n, 16, "log overflow");
	log->ref[log->n++] = *dev;
}

Test(devtable, prune_removes_exactly_the_stale)
{
	struct rp_devtable *t = make(8);
	struct pruned_log log = {.t = t};
	uint32_t a = add_new(t, A1, 100);
	uint32_t b = add_new(t, A2, 105);
	uint32_t c = add_new(t, A3, 110);

	/* Age exactly max_age is kept. */
	cr_assert_eq(rp_devtable_prune(t, 110, 10, log_pruned, &log), 0, "age == max_age kept");
	cr_assert_eq(log.n, 0, "no callback");
	STATS(t, .count = 3, .added = 3);

	/* One more and it goes; b (age 6) stays. */
	cr_assert_eq(rp_devtable_prune(t, 111, 10, log_pruned, &log), 1, "age max_age+1 pruned");
	cr_assert_eq(log.n, 1, "one callback");
	cr_assert_eq(log.ref[0].slot, a, "a pruned");
	cr_assert_eq(V4(log.ref[0].addr), A1, "a addr");
	cr_assert_eq(log.ref[0].gen, 0, "gen before the bump");
	cr_assert_not(rp_devtable_is_live(t, a, 0), "pruned ref dead");
	cr_assert_eq(rp_devtable_gen(t, a), 1, "prune bumps gen");
	cr_assert_eq(dt_lookup(t, A1), -ENOENT, "a gone");
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)b, "b oldest");
	STATS(t, .count = 2, .added = 3, .pruned = 1);

	/* A touch makes b fresh again, so prune stops at c, not b. */
	rp_devtable_touch(t, b, 130);
	log.n = 0;
	cr_assert_eq(rp_devtable_prune(t, 130, 19, log_pruned, &log), 1, "c (age 20) pruned");
	cr_assert_eq(log.ref[0].slot, c, "c pruned");
	STATS(t, .count = 1, .added = 3, .pruned = 2);

	/* max_age 0 keeps age 0 only; a last_seen ahead of now counts as age 0. */
	add_new(t, A4, 200);
	cr_assert_eq(rp_devtable_prune(t, 130, 0, NULL, NULL), 0, "b age 0 kept");
	STATS(t, .count = 2, .added = 4, .pruned = 2);
	log.n = 0;
	cr_assert_eq(rp_devtable_prune(t, 201, 0, log_pruned, &log), 2, "all pruned");
	cr_assert_eq(V4(log.ref[0].addr), A2, "oldest first");
	cr_assert_eq(V4(log.ref[1].addr), A4, "then newer");
	STATS(t, .count = 0, .added = 4, .pruned = 4);
	cr_assert_eq(rp_devtable_oldest(t), -ENOENT, "empty");
	cr_assert_eq(rp_devtable_prune(t, UINT64_MAX, 0, NULL, NULL), 0, "prune of empty");
	rp_devtable_destroy(t);
}

Test(devtable, suspend_and_resume_are_idempotent)
{
	struct rp_devtable *t = make(4);
	uint32_t a = add_new(t, A1, 1);
	uint32_t b = add_new(t, A2, 2);

	cr_assert_eq(rp_devtable_suspended_until(t, a), 0, "not suspended: until 0");
	rp_devtable_suspend(t, a, 100);
	cr_assert(rp_devtable_is_suspended(t, a), "suspended");
	cr_assert_eq(rp_devtable_suspended_until(t, a), 100, "until");
	STATS(t, .count = 2, .suspended = 1, .added = 2);
	rp_devtable_suspend(t, a, 100);
	STATS(t, .count = 2, .suspended = 1, .added = 2);
	rp_devtable_suspend(t, a, 300);
	cr_assert_eq(rp_devtable_suspended_until(t, a), 300, "re-suspend replaces until");
	STATS(t, .count = 2, .suspended = 1, .added = 2);
	cr_assert_not(rp_devtable_is_suspended(t, b), "b not suspended");

	rp_devtable_suspend(t, b, 0); /* until 0 still counts as suspended */
	cr_assert(rp_devtable_is_suspended(t, b), "b suspended");
	STATS(t, .count = 2, .suspended = 2, .added = 2);

	rp_devtable_resume(t, a);
	cr_assert_not(rp_devtable_is_suspended(t, a), "resumed");
	cr_assert_eq(rp_devtable_suspended_until(t, a), 0, "until cleared");
	STATS(t, .count = 2, .suspended = 1, .added = 2);
	rp_devtable_resume(t, a);
	STATS(t, .count = 2, .suspended = 1, .added = 2);
	rp_devtable_resume(t, b);
	rp_devtable_resume(t, b);
	STATS(t, .count = 2, .suspended = 0, .added = 2);

	/* Suspension does not touch the LRU order or last_seen. */
	cr_assert_eq(rp_devtable_oldest(t), (int32_t)a, "a still oldest");
	cr_assert_eq(rp_devtable_last_seen(t, a), 1, "last_seen unchanged");
	rp_devtable_destroy(t);
}

Test(devtable, suspended_count_exact_when_suspended_devices_leave)
{
	struct rp_devtable *t = make(4);
	uint32_t a = add_new(t, A1, 1);
	uint32_t b = add_new(t, A2, 2);
	uint32_t c = add_new(t, A3, 3);
	uint32_t d = add_new(t, A4, 4);
	uint32_t e;

	rp_devtable_suspend(t, a, 50);
	rp_devtable_suspend(t, b, 50);
	rp_devtable_suspend(t, c, 50);
	rp_devtable_suspend(t, d, 50);
	STATS(t, .count = 4, .suspended = 4, .added = 4);

	/* Remove of a suspended device. */
	cr_assert_eq(rp_devtable_remove(t, d), 0, "remove d");
	STATS(t, .count = 3, .suspended = 3, .added = 4, .removed = 1);

	/* The slot comes back unsuspended. */
	e = add_new(t, A5, 5);
	cr_assert_eq(e, d, "reused");
	cr_assert_not(rp_devtable_is_suspended(t, e), "new device not suspended");
	cr_assert_eq(rp_devtable_suspended_until(t, e), 0, "until cleared");
	STATS(t, .count = 4, .suspended = 3, .added = 5, .removed = 1);

	/* Evict of a suspended device (a is oldest). */
	e = add_evicting(t, A6, 6, a);
	cr_assert_not(rp_devtable_is_suspended(t, e), "evicted slot reused unsuspended");
	STATS(t, .count = 4, .suspended = 2, .added = 6, .evicted = 1, .removed = 1);

	/* Resume then suspend again of a survivor. */
	rp_devtable_resume(t, b);
	STATS(t, .count = 4, .suspended = 1, .added = 6, .evicted = 1, .removed = 1);
	rp_devtable_suspend(t, b, 70);
	STATS(t, .count = 4, .suspended = 2, .added = 6, .evicted = 1, .removed = 1);

	/* Prune of suspended devices: at 9 with max_age 4, b (age 7) and c (age 6) go,
	 * the devices seen at 5 (age 4, the boundary) and 6 stay. */
	cr_assert_eq(rp_devtable_prune(t, 9, 4, NULL, NULL), 2, "b, c pruned");
	STATS(t, .count = 2, .suspended = 0, .added = 6, .evicted = 1, .removed = 1, .pruned = 2);
	rp_devtable_destroy(t);
}

Test(devtable, capacity_one)
{
	struct rp_devtable *t = make(1);
	struct rp_devtable_stats st;
	uint32_t s;

	s = add_new(t, A1, 1);
	cr_assert_eq(s, 0, "slot 0");
	cr_assert_eq(dt_add(t, A1, 2, NULL, NULL), 0, "present: no eviction");
	STATS(t, .count = 1, .added = 1);
	rp_devtable_suspend(t, 0, 9);
	STATS(t, .count = 1, .suspended = 1, .added = 1);

	s = add_evicting(t, A2, 3, 0);
	cr_assert_eq(rp_devtable_gen(t, 0), 1, "gen 1");
	cr_assert_eq(dt_lookup(t, A2), 0, "A2 in slot 0");
	STATS(t, .count = 1, .added = 2, .evicted = 1);

	cr_assert_eq(rp_devtable_remove(t, 0), 0, "remove");
	STATS(t, .count = 0, .added = 2, .evicted = 1, .removed = 1);
	cr_assert_eq(rp_devtable_oldest(t), -ENOENT, "empty");

	s = add_new(t, A3, 4);
	cr_assert_eq(rp_devtable_gen(t, s), 2, "gen 2");
	cr_assert_eq(rp_devtable_prune(t, 6, 1, NULL, NULL), 1, "pruned");
	STATS(t, .count = 0, .added = 3, .evicted = 1, .removed = 1, .pruned = 1);
	cr_assert_eq(rp_devtable_gen(t, 0), 3, "gen 3");
	cr_assert_eq(rp_devtable_remove(t, 1), -EINVAL, "slot 1 out of range");
	rp_devtable_stats(t, &st);
	cr_assert_eq(st.capacity, 1, "capacity");
	rp_devtable_destroy(t);
}

Test(devtable, next_iterates_used_slots_in_order)
{
	struct rp_devtable *t = make(8);
	int32_t s;

	for (uint32_t i = 0; i < 8; i++)
		add_new(t, rp_hash_u32(i + 1), i);
	cr_assert_eq(rp_devtable_remove(t, 0), 0, "remove 0");
	cr_assert_eq(rp_devtable_remove(t, 3), 0, "remove 3");
	cr_assert_eq(rp_devtable_remove(t, 7), 0, "remove 7");

	const int32_t want[] = {1, 2, 4, 5, 6};
	uint32_t n = 0;

	for (s = rp_devtable_next(t, -1); s >= 0; s = rp_devtable_next(t, s)) {
		cr_assert_lt(n, 5, "too many");
		cr_assert_eq(s, want[n], "slot %u", n);
		n++;
	}
	cr_assert_eq(s, -ENOENT, "ends with -ENOENT");
	cr_assert_eq(n, 5, "all used slots seen");
	cr_assert_eq(rp_devtable_next(t, -100), 1, "after < -1 starts at 0");
	cr_assert_eq(rp_devtable_next(t, 6), -ENOENT, "none after the last");
	cr_assert_eq(rp_devtable_next(t, 8), -ENOENT, "after >= capacity");
	cr_assert_eq(rp_devtable_next(t, INT32_MAX), -ENOENT, "INT32_MAX");
	rp_devtable_destroy(t);
}

Test(devtable, is_live_accepts_any_slot)
{
	struct rp_devtable *t = make(4);

	add_new(t, A1, 1);
	cr_assert_not(rp_devtable_is_live(t, 4, 0), "out of range");
	cr_assert_not(rp_devtable_is_live(t, UINT32_MAX, 0), "far out of range");
	cr_assert_not(rp_devtable_is_live(t, 1, 0), "free slot");
	cr_assert(rp_devtable_is_live(t, 0, 0), "used slot");
	rp_devtable_destroy(t);
}

/* A new device takes the slot given back last, else the lowest never used: 0, 1, 2, ...
 * on a fresh table, as one free list through every slot would hand them out. */
Test(devtable, slots_are_handed_out_last_freed_first_then_in_order)
{
	struct rp_devtable *t = make(8);

	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(add_new(t, A1 + i, i), i, "fresh slot %u", i);
	cr_assert_eq(rp_devtable_remove(t, 1), 0);
	cr_assert_eq(rp_devtable_remove(t, 2), 0);
	cr_assert_eq(add_new(t, A5, 5), 2, "the last given back first");
	cr_assert_eq(add_new(t, A6, 6), 1);
	cr_assert_eq(add_new(t, A7, 7), 4, "then the next never used");
	cr_assert_eq(rp_devtable_gen(t, 5), 0, "a never used slot has gen 0");
	cr_assert_not(rp_devtable_is_live(t, 5, 0), "and is free");
	cr_assert_eq(rp_devtable_next(t, 4), -ENOENT, "next stops before never used slots");
	rp_devtable_destroy(t);
}

/* The generation shares its word with the flags: a suspended device is as live as
 * before, and a gen with any of the top two bits set (from the wire) never matches. */
Test(devtable, suspended_devices_stay_live_and_high_gens_never_match)
{
	struct rp_devtable *t = make(4);
	uint32_t a = add_new(t, A1, 1);

	cr_assert_eq(rp_devtable_remove(t, a), 0);
	cr_assert_eq(add_new(t, A2, 2), a);
	cr_assert_eq(rp_devtable_gen(t, a), 1);
	rp_devtable_suspend(t, a, 100);
	cr_assert(rp_devtable_is_live(t, a, 1), "suspended and live");
	cr_assert_eq(rp_devtable_gen(t, a), 1, "suspending keeps the gen");
	cr_assert_not(rp_devtable_is_live(t, a, 1u | 0x40000000u));
	cr_assert_not(rp_devtable_is_live(t, a, 1u | 0x80000000u));
	cr_assert_not(rp_devtable_is_live(t, a, 1u | 0xc0000000u));
	rp_devtable_resume(t, a);
	cr_assert(rp_devtable_is_live(t, a, 1));
	cr_assert_eq(rp_devtable_last_seen(t, a), 2);
	rp_devtable_touch(t, a, UINT64_C(0x123456789ab));
	cr_assert_eq(rp_devtable_last_seen(t, a), UINT64_C(0x123456789ab), "all 64 bits kept");
	cr_assert_eq(rp_devtable_remove(t, a), 0);
	cr_assert_eq(rp_devtable_gen(t, a), 2, "a free slot is not suspended: gen only");
	rp_devtable_destroy(t);
}

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* A table costs memory for the devices it holds, not for its capacity: create writes
 * none of its arrays (a daemon sizes several tables for max_devices). */
Test(devtable, an_empty_table_for_millions_costs_no_memory)
{
	struct rp_devtable *t;
	long before = rss_kb(), after;

	/* 8M buckets (64 MB), 4M records (144 MB) and suspension times (32 MB). */
	t = make(4u << 20);
	for (uint32_t i = 0; i < 1000; i++)
		add_new(t, rp_hash_u32(i + 1), i);
	cr_assert_eq(rp_devtable_next(t, 998), 999);
	cr_assert_eq(rp_devtable_next(t, 999), -ENOENT);
	after = rss_kb();
	cr_assert_lt(after - before, 16 * 1024, "RSS grew %ld kB for a table of 1000 devices",
		     after - before);
	rp_devtable_destroy(t);
}

/* Every call that needs a used slot aborts on a bad one instead of corrupting state. */
Test(devtable, touch_out_of_range_aborts, .signal = SIGABRT)
{
	struct rp_devtable *t = make(4);

	rp_devtable_touch(t, 4, 1);
}

Test(devtable, touch_free_slot_aborts, .signal = SIGABRT)
{
	struct rp_devtable *t = make(4);

	add_new(t, A1, 1);
	rp_devtable_touch(t, 1, 1);
}

Test(devtable, suspend_free_slot_aborts, .signal = SIGABRT)
{
	struct rp_devtable *t = make(4);

	rp_devtable_suspend(t, 0, 1);
}

Test(devtable, resume_removed_slot_aborts, .signal = SIGABRT)
{
	struct rp_devtable *t = make(4);
	uint32_t s = add_new(t, A1, 1);

	rp_devtable_suspend(t, s, 5);
	cr_assert_eq(rp_devtable_remove(t, s), 0, "remove");
	rp_devtable_resume(t, s);
}

Test(devtable, addr_of_free_slot_aborts, .signal = SIGABRT)
{
	struct rp_devtable *t = make(4);

	dt_addr(t, 2);
}

Test(devtable, gen_out_of_range_aborts, .signal = SIGABRT)
{
	struct rp_devtable *t = make(4);

	rp_devtable_gen(t, 4);
}

/* Reference model: plain arrays, with the LRU victim found by a linear scan for the
 * smallest stamp, so it shares no structure with the table it checks. */
struct model {
	uint32_t cap;
	uint32_t npool;
	uint32_t *pool;
	int32_t *slot_of; /* per pool index: slot, or -1 */
	bool *used;
	bool *susp;
	uint32_t *pidx; /* per slot: pool index of its address */
	uint32_t *gen;
	uint64_t *seen;
	uint64_t *until;
	uint64_t *stamp; /* order of the last add/touch: smallest is least recent */
	uint64_t clock;
	uint32_t count, suspended;
	uint64_t added, evicted, removed, pruned, touched;
	struct rp_dev_ref stale[256];
	uint32_t nstale;
};

static void model_init(struct model *m, uint32_t cap, uint32_t npool)
{
	uint32_t cluster[32];

	*m = (struct model){.cap = cap, .npool = npool};
	m->pool = calloc(npool, sizeof(*m->pool));
	m->slot_of = calloc(npool, sizeof(*m->slot_of));
	m->used = calloc(cap, sizeof(*m->used));
	m->susp = calloc(cap, sizeof(*m->susp));
	m->pidx = calloc(cap, sizeof(*m->pidx));
	m->gen = calloc(cap, sizeof(*m->gen));
	m->seen = calloc(cap, sizeof(*m->seen));
	m->until = calloc(cap, sizeof(*m->until));
	m->stamp = calloc(cap, sizeof(*m->stamp));
	cr_assert(m->pool && m->slot_of && m->used && m->susp && m->pidx && m->gen && m->seen &&
		      m->until && m->stamp,
		  "model alloc");

	/* Address 0, one wrapping collision cluster, then spread addresses. */
	find_colliding(cluster, 32);
	for (uint32_t i = 0; i < npool; i++) {
		if (i == 0)
			m->pool[i] = 0;
		else if (i <= 32)
			m->pool[i] = cluster[i - 1];
		else
			m->pool[i] = rp_hash_u32(Y_POOL + i);
		m->slot_of[i] = -1;
	}
}

static void model_fini(struct model *m)
{
	free(m->pool);
	free(m->slot_of);
	free(m->used);
	free(m->susp);
	free(m->pidx);
	free(m->gen);
	free(m->seen);
	free(m->until);
	free(m->stamp);
}

static int32_t model_oldest(const struct model *m)
{
	int32_t best = -ENOENT;

	for (uint32_t s = 0; s < m->cap; s++) {
		if (m->used[s] && (best < 0 || m->stamp[s] < m->stamp[best]))
			best = (int32_t)s;
	}
	return best;
}

static void model_free_slot(struct model *m, uint32_t s)
{
	if (m->nstale < RP_ARRAY_SIZE(m->stale))
		m->stale[m->nstale++] =
		    (struct rp_dev_ref){rp_ip_v4(m->pool[m->pidx[s]]), s, m->gen[s]};
	else
		m->stale[rng_below(m->nstale)] =
		    (struct rp_dev_ref){rp_ip_v4(m->pool[m->pidx[s]]), s, m->gen[s]};
	m->slot_of[m->pidx[s]] = -1;
	if (m->susp[s])
		m->suspended--;
	m->used[s] = false;
	m->susp[s] = false;
	m->until[s] = 0;
	m->gen[s]++;
	m->count--;
}

static void model_check_counters(const struct rp_devtable *t, const struct model *m, uint64_t step)
{
	struct rp_devtable_stats st;

	rp_devtable_stats(t, &st);
	if (st.count != m->count || st.suspended != m->suspended || st.added != m->added ||
	    st.evicted != m->evicted || st.removed != m->removed || st.pruned != m->pruned ||
	    st.touched != m->touched || st.capacity != m->cap)
		cr_assert_fail("step %lu: counters differ: count %u/%u susp %u/%u added %lu/%lu "
			       "evicted %lu/%lu removed %lu/%lu pruned %lu/%lu touched %lu/%lu",
			       (unsigned long)step, st.count, m->count, st.suspended, m->suspended,
			       (unsigned long)st.added, (unsigned long)m->added,
			       (unsigned long)st.evicted, (unsigned long)m->evicted,
			       (unsigned long)st.removed, (unsigned long)m->removed,
			       (unsigned long)st.pruned, (unsigned long)m->pruned,
			       (unsigned long)st.touched, (unsigned long)m->touched);
}

static void model_check_all(const struct rp_devtable *t, const struct model *m, uint64_t step)
{
	int32_t it = -1;

	model_check_counters(t, m, step);
	cr_assert_eq(rp_devtable_oldest(t), model_oldest(m), "step %lu: oldest",
		     (unsigned long)step);
	for (uint32_t s = 0; s < m->cap; s++) {
		cr_assert_eq(rp_devtable_gen(t, s), m->gen[s], "step %lu: gen of %u",
			     (unsigned long)step, s);
		cr_assert_eq(rp_devtable_is_live(t, s, m->gen[s]), m->used[s],
			     "step %lu: is_live of %u", (unsigned long)step, s);
		if (!m->used[s])
			continue;
		it = rp_devtable_next(t, it);
		cr_assert_eq(it, (int32_t)s, "step %lu: next", (unsigned long)step);
		cr_assert_eq(dt_addr(t, s), m->pool[m->pidx[s]], "step %lu: addr of %u",
			     (unsigned long)step, s);
		cr_assert_eq(rp_devtable_last_seen(t, s), m->seen[s], "step %lu: seen of %u",
			     (unsigned long)step, s);
		cr_assert_eq(rp_devtable_is_suspended(t, s), m->susp[s], "step %lu: susp of %u",
			     (unsigned long)step, s);
		cr_assert_eq(rp_devtable_suspended_until(t, s), m->until[s],
			     "step %lu: until of %u", (unsigned long)step, s);
	}
	cr_assert_eq(rp_devtable_next(t, it), -ENOENT, "step %lu: next past the last",
		     (unsigned long)step);
	for (uint32_t i = 0; i < m->npool; i++)
		cr_assert_eq(dt_lookup(t, m->pool[i]), m->slot_of[i] >= 0 ? m->slot_of[i] : -ENOENT,
			     "step %lu: lookup %u", (unsigned long)step, i);
}

struct prune_check {
	const struct rp_devtable *t;
	const struct model *m;
	uint32_t *expect; /* slots, least recent first */
	uint32_t nexpect;
	uint32_t n;
};

static void prune_cb(const struct rp_dev_ref *dev, void *arg)
{
	struct prune_check *pc = arg;
	uint32_t s;

	cr_assert_lt(pc->n, pc->nexpect, "prune: more callbacks than stale devices");
	s = pc->expect[pc->n++];
	cr_assert_eq(dev->slot, s, "prune: slot %u, want %u", dev->slot, s);
	cr_assert_eq(V4(dev->addr), pc->m->pool[pc->m->pidx[s]], "prune: addr");
	cr_assert_eq(dev->gen, pc->m->gen[s], "prune: gen");
	cr_assert(rp_devtable_is_live(pc->t, dev->slot, dev->gen), "prune: live in cb");
}

static const uint64_t *sort_stamp;

static int by_stamp(const void *a, const void *b)
{
	uint64_t x = sort_stamp[*(const uint32_t *)a], y = sort_stamp[*(const uint32_t *)b];

	return x < y ? -1 : x > y;
}

/* Used slots into scratch, least recently seen first; returns how many. */
static uint32_t model_by_age(const struct model *m, uint32_t *scratch)
{
	uint32_t n = 0;

	for (uint32_t s = 0; s < m->cap; s++) {
		if (m->used[s])
			scratch[n++] = s;
	}
	sort_stamp = m->stamp;
	qsort(scratch, n, sizeof(*scratch), by_stamp);
	return n;
}

static void model_prune(struct rp_devtable *t, struct model *m, uint64_t now, uint64_t max_age,
			uint32_t *scratch)
{
	struct prune_check pc = {.t = t, .m = m, .expect = scratch};
	uint32_t got;

	for (uint32_t s = 0; s < m->cap; s++) {
		if (m->used[s] && m->seen[s] < now && now - m->seen[s] > max_age)
			scratch[pc.nexpect++] = s;
	}
	sort_stamp = m->stamp;
	qsort(scratch, pc.nexpect, sizeof(*scratch), by_stamp);
	got = rp_devtable_prune(t, now, max_age, prune_cb, &pc);
	cr_assert_eq(got, pc.nexpect, "prune returned %u, want %u", got, pc.nexpect);
	cr_assert_eq(pc.n, pc.nexpect, "prune callbacks");
	for (uint32_t i = 0; i < pc.nexpect; i++)
		model_free_slot(m, scratch[i]);
	m->pruned += pc.nexpect;
}

static void run_model(uint32_t cap, uint32_t npool, uint64_t steps, uint64_t full_every,
		      uint64_t seed)
{
	struct rp_devtable *t = make(cap);
	struct model m;
	uint32_t *scratch = calloc(cap, sizeof(*scratch));
	uint64_t now = 1000;

	cr_assert_not_null(scratch, "scratch");
	model_init(&m, cap, npool);
	rng_state = seed;

	for (uint64_t step = 0; step < steps; step++) {
		uint32_t r = rng_below(1000);
		uint32_t s = rng_below(cap);

		now += rng_below(3);
		if (r < 400) {
			/* add, hit or miss */
			uint32_t i = rng_below(npool);
			struct rp_dev_ref ev;
			bool is_new;
			int32_t got = dt_add(t, m.pool[i], now, &is_new, &ev);
			int32_t want_ev = -1;

			cr_assert_geq(got, 0, "add returned %d", got);
			if (m.slot_of[i] >= 0) {
				cr_assert_not(is_new, "step %lu: present, not new",
					      (unsigned long)step);
				cr_assert_eq(got, m.slot_of[i], "step %lu: same slot",
					     (unsigned long)step);
				m.touched++;
			} else {
				cr_assert(is_new, "step %lu: new", (unsigned long)step);
				if (m.count == cap) {
					want_ev = model_oldest(&m);
					cr_assert_eq(got, want_ev,
						     "step %lu: reuses the LRU victim",
						     (unsigned long)step);
					cr_assert_eq(V4(ev.addr), m.pool[m.pidx[want_ev]],
						     "evicted addr");
					cr_assert_eq(ev.gen, m.gen[want_ev], "evicted gen");
					model_free_slot(&m, (uint32_t)want_ev);
					m.evicted++;
				} else {
					cr_assert_not(m.used[got], "step %lu: slot %d was used",
						      (unsigned long)step, got);
				}
				m.used[got] = true;
				m.pidx[got] = i;
				m.slot_of[i] = got;
				m.count++;
				m.added++;
			}
			cr_assert_eq(ev.slot,
				     want_ev >= 0 ? (uint32_t)want_ev : RP_DEVTABLE_NO_SLOT,
				     "step %lu: evicted slot", (unsigned long)step);
			m.seen[got] = now;
			m.stamp[got] = ++m.clock;
		} else if (r < 520) {
			uint32_t i = rng_below(npool);

			cr_assert_eq(dt_lookup(t, m.pool[i]),
				     m.slot_of[i] >= 0 ? m.slot_of[i] : -ENOENT, "step %lu: lookup",
				     (unsigned long)step);
			/* Addresses outside the pool always miss. */
			cr_assert_eq(dt_lookup(t, rp_hash_u32(Y_MISS + rng_below(Y_MISS))), -ENOENT,
				     "step %lu: lookup outside the pool", (unsigned long)step);
		} else if (r < 650) {
			if (m.used[s]) {
				rp_devtable_touch(t, s, now);
				m.seen[s] = now;
				m.stamp[s] = ++m.clock;
				m.touched++;
			}
		} else if (r < 700) {
			int want = m.used[s] ? 0 : -ENOENT;

			cr_assert_eq(rp_devtable_remove(t, s), want, "step %lu: remove",
				     (unsigned long)step);
			if (m.used[s]) {
				model_free_slot(&m, s);
				m.removed++;
			}
		} else if (r < 820) {
			if (m.used[s]) {
				uint64_t until = now + rng_below(100);

				rp_devtable_suspend(t, s, until);
				if (!m.susp[s])
					m.suspended++;
				m.susp[s] = true;
				m.until[s] = until;
			}
		} else if (r < 920) {
			if (m.used[s]) {
				rp_devtable_resume(t, s);
				if (m.susp[s])
					m.suspended--;
				m.susp[s] = false;
				m.until[s] = 0;
			}
		} else if (r < 922) {
			/* Prune at the age of the k-th oldest device, give or take one, so the
			 * boundary is hit and a few go; one prune in 64 picks k up to count. */
			uint32_t n = model_by_age(&m, scratch);
			uint32_t k = n ? rng_below(rng_below(64) ? n / 64 + 1 : n) : 0;
			uint64_t age = n ? now - m.seen[scratch[k]] : 0;
			uint64_t max_age = age + rng_below(3);

			model_prune(t, &m, now, max_age ? max_age - 1 : 0, scratch);
		} else {
			/* generations: stale refs stay dead, live refs validate */
			if (m.nstale) {
				const struct rp_dev_ref *old = &m.stale[rng_below(m.nstale)];

				cr_assert_not(rp_devtable_is_live(t, old->slot, old->gen),
					      "step %lu: stale ref live", (unsigned long)step);
			}
			cr_assert_eq(rp_devtable_gen(t, s), m.gen[s], "step %lu: gen",
				     (unsigned long)step);
			cr_assert_eq(rp_devtable_is_live(t, s, m.gen[s]), m.used[s],
				     "step %lu: is_live", (unsigned long)step);
		}
		model_check_counters(t, &m, step);
		if (step % full_every == 0)
			model_check_all(t, &m, step);
	}
	model_check_all(t, &m, steps);
	cr_log_info("capacity %u: added %lu evicted %lu removed %lu pruned %lu touched %lu", cap,
		    (unsigned long)m.added, (unsigned long)m.evicted, (unsigned long)m.removed,
		    (unsigned long)m.pruned, (unsigned long)m.touched);
	cr_assert_gt(m.evicted, 0, "run exercised eviction");
	cr_assert_gt(m.pruned, 0, "run exercised prune");
	cr_assert_gt(m.removed, 0, "run exercised remove");

	/* Prune everything at the end: the table must drain completely. */
	model_prune(t, &m, now + 1, 0, scratch);
	model_check_all(t, &m, steps + 1);
	cr_assert_eq(m.count, 0, "drained");

	model_fini(&m);
	free(scratch);
	rp_devtable_destroy(t);
}

Test(devtable, randomized_matches_model_capacity_1)
{
	run_model(1, 4, 100000, 1, 1);
}

Test(devtable, randomized_matches_model_capacity_64)
{
	run_model(64, 160, 1000000, 16, 2);
}

Test(devtable, randomized_matches_model_capacity_4096)
{
	run_model(4096, 9000, 1000000, 8192, 3);
}

/* IPv6 keys and IPv4 keys share one table; an IPv6 address whose low 32 bits equal an
 * IPv4 address is another device, and 2^16 IPv6 addresses of one /112 all stay apart. */
Test(devtable, ipv6_and_ipv4_keys_live_side_by_side)
{
	struct rp_devtable *t = make(70000);
	struct rp_ip v4 = rp_ip_v4(0xc6120001u), v6, back;
	char txt[RP_IP_STRLEN];
	int32_t s4, s6;

	cr_assert(rp_ip_parse("2001:2::c612:1", &v6)); /* low word 198.18.0.1 */
	s4 = rp_devtable_add(t, &v4, 1, NULL, NULL);
	s6 = rp_devtable_add(t, &v6, 1, NULL, NULL);
	cr_assert_neq(s4, s6);
	cr_assert_eq(rp_devtable_lookup(t, &v4), s4);
	cr_assert_eq(rp_devtable_lookup(t, &v6), s6);
	cr_assert(rp_ip_eq(rp_devtable_addr(t, (uint32_t)s6), &v6));
	for (uint32_t i = 0; i < 65536; i++) {
		snprintf(txt, sizeof(txt), "2001:2::1:%x", i);
		cr_assert(rp_ip_parse(txt, &back));
		cr_assert_geq(rp_devtable_add(t, &back, 2, NULL, NULL), 0);
	}
	cr_assert_eq(rp_devtable_count(t), 65538);
	for (uint32_t i = 0; i < 65536; i += 97) {
		snprintf(txt, sizeof(txt), "2001:2::1:%x", i);
		cr_assert(rp_ip_parse(txt, &back));
		s6 = rp_devtable_lookup(t, &back);
		cr_assert_geq(s6, 0, "%s", txt);
		cr_assert(rp_ip_eq(rp_devtable_addr(t, (uint32_t)s6), &back));
		cr_assert_eq(rp_devtable_remove(t, (uint32_t)s6), 0);
		cr_assert_eq(rp_devtable_lookup(t, &back), -ENOENT, "%s removed", txt);
	}
	cr_assert_eq(rp_devtable_lookup(t, &v4), s4, "the IPv4 device is untouched");
	rp_devtable_destroy(t);
}
