/* Tests for src/sched/wheel.c: exhaustive small geometries, a randomized run against a
 * sorted reference, and the callback re-entrancy cases (h2o t/00unit/lib/common/timerwheel.c). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/compiler.h"
#include "ringprobe/wheel.h"
#include "ringprobe/xalloc.h"
#include "support/support.h"

struct item {
	struct rp_wheel_entry link;
	uint32_t id;
	unsigned fired;
	uint64_t fired_at;
};

static bool before(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) < 0;
}

static struct rp_wheel *new_wheel(unsigned bits, unsigned levels, uint64_t now)
{
	struct rp_wheel *w = NULL;

	cr_assert_eq(rp_wheel_create(&w, bits, levels, now), 0);
	cr_assert_not_null(w);
	return w;
}

/* Records every firing on the item; `last_tick` checks tick order within and across runs. */
struct log {
	uint64_t last_tick;
	uint64_t run_now;
	size_t calls;
};

static void log_cb(struct rp_wheel_entry *e, uint64_t now, void *arg)
{
	struct log *lg = arg;
	struct item *it = RP_CONTAINER_OF(e, struct item, link);

	if (rp_wheel_is_linked(e) || before(now, lg->last_tick) || before(lg->run_now, now))
		cr_assert_fail("bad callback: linked %d tick %" PRIu64 " last %" PRIu64,
			       rp_wheel_is_linked(e), now, lg->last_tick);
	lg->last_tick = now;
	lg->calls++;
	it->fired++;
	it->fired_at = now;
}

static size_t run_logged(struct rp_wheel *w, struct log *lg, uint64_t now)
{
	size_t calls = lg->calls;
	size_t n;

	lg->run_now = now;
	n = rp_wheel_run(w, now, log_cb, lg);
	cr_assert_eq(n, lg->calls - calls);
	cr_assert_eq(rp_wheel_last(w), now);
	return n;
}

/* What the header promises: due <= last fires at last + 1, anything else exactly at due. */
static uint64_t expected_tick(uint64_t now0, uint64_t due)
{
	return before(now0, due) ? due : now0 + 1;
}

static const uint64_t jumps[] = {2, 3, 5, 7, 16, 63, 64, 65, 200, 100000};

/* One entry per wheel; every due around the span, stepping one tick at a time and in jumps. */
static void exhaustive_single(unsigned bits, unsigned levels, uint64_t now0)
{
	uint64_t span = 1ull << (bits * levels);
	uint64_t off;

	for (off = 0; off < span + 13; off++) {
		uint64_t due = now0 - 2 + off;
		uint64_t exp = expected_tick(now0, due);
		struct log lg = {.last_tick = now0};
		struct item it = {.id = 0};
		struct rp_wheel *w = new_wheel(bits, levels, now0);
		uint64_t t;
		size_t j;

		rp_wheel_entry_init(&it.link);
		rp_wheel_add(w, &it.link, due);
		cr_assert_eq(rp_wheel_count(w), 1);
		for (t = now0 + 1; t != exp + 3; t++) {
			size_t n = run_logged(w, &lg, t);

			cr_assert_eq(n, t == exp ? 1u : 0u,
				     "now0 %" PRIu64 " due %" PRIu64 " t %" PRIu64, now0, due, t);
		}
		cr_assert_eq(it.fired, 1);
		cr_assert_eq(it.fired_at, exp);
		cr_assert_eq(rp_wheel_count(w), 0);
		rp_wheel_destroy(w);

		for (j = 0; j < RP_ARRAY_SIZE(jumps); j++) {
			w = new_wheel(bits, levels, now0);
			lg = (struct log){.last_tick = now0};
			it.fired = 0;
			rp_wheel_add(w, &it.link, due);
			for (t = now0 + jumps[j];; t += jumps[j]) {
				size_t n = run_logged(w, &lg, t);

				if (before(t, exp)) {
					cr_assert_eq(n, 0, "early: now0 %" PRIu64 " due %" PRIu64,
						     now0, due);
					continue;
				}
				cr_assert_eq(n, 1,
					     "late: now0 %" PRIu64 " due %" PRIu64 " jump %" PRIu64,
					     now0, due, jumps[j]);
				break;
			}
			cr_assert_eq(it.fired_at, exp);
			cr_assert_eq(run_logged(w, &lg, t + jumps[j]), 0);
			cr_assert_eq(it.fired, 1);
			rp_wheel_destroy(w);
		}
	}
}

/* Every due around the span at once in one wheel. */
static void exhaustive_many(unsigned bits, unsigned levels, uint64_t now0, uint64_t jump)
{
	uint64_t span = 1ull << (bits * levels);
	size_t n_items = span + 13;
	struct item *items = rp_xcalloc(n_items, sizeof(*items));
	struct rp_wheel *w = new_wheel(bits, levels, now0);
	struct log lg = {.last_tick = now0};
	uint64_t end = now0 + span + 12;
	uint64_t t = now0;
	size_t i, total = 0;

	for (i = 0; i < n_items; i++) {
		rp_wheel_entry_init(&items[i].link);
		rp_wheel_add(w, &items[i].link, now0 - 2 + i);
	}
	cr_assert_eq(rp_wheel_count(w), n_items);
	while (before(t, end)) {
		size_t expect = 0;
		uint64_t prev = t;

		t += jump;
		for (i = 0; i < n_items; i++) {
			uint64_t exp = expected_tick(now0, now0 - 2 + i);

			expect += before(prev, exp) && !before(t, exp);
		}
		cr_assert_eq(run_logged(w, &lg, t), expect);
		total += expect;
	}
	cr_assert_eq(total, n_items);
	cr_assert_eq(rp_wheel_count(w), 0);
	for (i = 0; i < n_items; i++) {
		cr_assert_eq(items[i].fired, 1);
		cr_assert_eq(items[i].fired_at, expected_tick(now0, now0 - 2 + i));
	}
	rp_wheel_destroy(w);
	free(items);
}

/* Start times crossing every level boundary of the small wheels, 2^32 and uint64 wrap. */
static const uint64_t bases[] = {0, (1ull << 32) - 70, UINT64_MAX - 70};

static void exhaustive(unsigned bits, unsigned levels, uint64_t n_starts)
{
	size_t b, j;
	uint64_t i;

	for (b = 0; b < RP_ARRAY_SIZE(bases); b++) {
		for (i = 0; i < n_starts; i++) {
			uint64_t now0 = bases[b] + i;

			exhaustive_single(bits, levels, now0);
			for (j = 0; j < RP_ARRAY_SIZE(jumps); j++)
				exhaustive_many(bits, levels, now0, jumps[j]);
			exhaustive_many(bits, levels, now0, 1);
		}
	}
}

Test(wheel, exhaustive_2x3_fires_once_exactly_on_time)
{
	exhaustive(2, 3, 141);
}

Test(wheel, exhaustive_other_geometries)
{
	exhaustive(1, 5, 70);
	exhaustive(3, 2, 70);
	exhaustive(3, 1, 20); /* one level: far dues are parked in level 0 itself */
	exhaustive(1, 1, 8);
}

/* Sorted reference: a binary heap of (effective due, id) with lazy deletion by generation. */
struct ref_node {
	uint64_t eff;
	uint32_t id;
	uint32_t gen;
};

struct ref {
	struct ref_node *heap;
	size_t n, cap;
	uint64_t *eff;
	uint32_t *gen;
	bool *live;
	size_t n_live;
};

static bool ref_less(const struct ref_node *a, const struct ref_node *b)
{
	if (a->eff != b->eff)
		return before(a->eff, b->eff);
	return a->id < b->id;
}

static void ref_push(struct ref *r, uint32_t id, uint64_t eff)
{
	size_t i;

	cr_assert(!r->live[id]);
	r->live[id] = true;
	r->eff[id] = eff;
	r->n_live++;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->heap = rp_xrealloc(r->heap, r->cap * sizeof(*r->heap));
	}
	i = r->n++;
	r->heap[i] = (struct ref_node){.eff = eff, .id = id, .gen = r->gen[id]};
	while (i && ref_less(&r->heap[i], &r->heap[(i - 1) / 2])) {
		struct ref_node tmp = r->heap[i];

		r->heap[i] = r->heap[(i - 1) / 2];
		r->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

static void ref_kill(struct ref *r, uint32_t id)
{
	cr_assert(r->live[id]);
	r->live[id] = false;
	r->gen[id]++;
	r->n_live--;
}

static void ref_pop(struct ref *r)
{
	size_t i = 0;

	r->heap[0] = r->heap[--r->n];
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct ref_node tmp;

		if (l < r->n && ref_less(&r->heap[l], &r->heap[m]))
			m = l;
		if (l + 1 < r->n && ref_less(&r->heap[l + 1], &r->heap[m]))
			m = l + 1;
		if (m == i)
			break;
		tmp = r->heap[i];
		r->heap[i] = r->heap[m];
		r->heap[m] = tmp;
		i = m;
	}
}

/* Earliest live effective due; false when nothing is live. */
static bool ref_min(struct ref *r, uint64_t *eff)
{
	while (r->n) {
		struct ref_node *top = &r->heap[0];

		if (r->live[top->id] && r->gen[top->id] == top->gen) {
			*eff = top->eff;
			return true;
		}
		ref_pop(r);
	}
	return false;
}

struct rnd {
	struct rp_wheel *w;
	struct item *items;
	uint32_t n_items;
	struct ref ref;
	uint64_t rng;
	uint64_t span;
	unsigned span_bits;
	uint64_t last_tick;
	uint64_t run_now;
	size_t calls;
};

/* x % 2^k for k uniform in 0..max_bits: every level of any geometry is hit about equally. */
static uint64_t log_uniform(struct rnd *r, unsigned max_bits)
{
	unsigned k = (unsigned)(sup_xorshift64(&r->rng) % (max_bits + 1));

	return sup_xorshift64(&r->rng) & ((1ull << k) - 1);
}

/* Dues relative to `base`: past (or equal), at the span's edge, or log-uniform up to 8 spans
 * ahead so that some are parked beyond the span. */
static uint64_t rnd_due(struct rnd *r, uint64_t base)
{
	uint64_t p = sup_xorshift64(&r->rng) % 100;

	if (p < 10)
		return base - sup_xorshift64(&r->rng) % 100;
	if (p < 15)
		return base + r->span - 2 + sup_xorshift64(&r->rng) % 5;
	return base + log_uniform(r, r->span_bits + 3);
}

/* Adds `id` as the wheel would see it from a state whose last processed tick is `last`. */
static void rnd_add(struct rnd *r, uint32_t id, uint64_t last)
{
	uint64_t due = rnd_due(r, last);

	rp_wheel_add(r->w, &r->items[id].link, due);
	ref_push(&r->ref, id, before(last, due) ? due : last + 1);
}

static void rnd_cb(struct rp_wheel_entry *e, uint64_t now, void *arg)
{
	struct rnd *r = arg;
	struct item *it = RP_CONTAINER_OF(e, struct item, link);
	uint64_t p = sup_xorshift64(&r->rng) % 100;
	uint32_t other = (uint32_t)(sup_xorshift64(&r->rng) % r->n_items);

	if (!r->ref.live[it->id] || r->ref.eff[it->id] != now || rp_wheel_is_linked(e) ||
	    before(now, r->last_tick) || before(r->run_now, now))
		cr_assert_fail("id %u fired at %" PRIu64 ", reference live %d due %" PRIu64, it->id,
			       now, r->ref.live[it->id], r->ref.eff[it->id]);
	r->last_tick = now;
	r->calls++;
	ref_kill(&r->ref, it->id);
	if (p < 30) {
		/* Reschedule; inside a callback the wheel's last is the tick being processed. */
		rnd_add(r, it->id, now);
	} else if (p < 40) {
		if (rp_wheel_is_linked(&r->items[other].link)) {
			rp_wheel_cancel(r->w, &r->items[other].link);
			ref_kill(&r->ref, other);
		}
	} else if (p < 45) {
		if (!rp_wheel_is_linked(&r->items[other].link))
			rnd_add(r, other, now);
	}
}

static void check_state(struct rnd *r)
{
	uint64_t last = rp_wheel_last(r->w), min, next;

	cr_assert_eq(rp_wheel_count(r->w), r->ref.n_live);
	if (!ref_min(&r->ref, &min)) {
		cr_assert(!rp_wheel_next_tick(r->w, &next));
		return;
	}
	/* Nothing left behind by the last run, and next_tick never overshoots. */
	cr_assert(before(last, min), "missed: due %" PRIu64 " last %" PRIu64, min, last);
	cr_assert(rp_wheel_next_tick(r->w, &next));
	cr_assert(before(last, next) && !before(min, next),
		  "next_tick %" PRIu64 " last %" PRIu64 " min %" PRIu64, next, last, min);
}

static void randomized(unsigned bits, unsigned levels, size_t ops, uint64_t seed)
{
	struct rnd r = {.n_items = 1000,
			.rng = seed,
			.span = 1ull << (bits * levels),
			.span_bits = bits * levels};
	uint64_t now = UINT64_MAX - 5000; /* cross the uint64 wrap early on */
	size_t op, i;

	r.w = new_wheel(bits, levels, now);
	r.items = rp_xcalloc(r.n_items, sizeof(*r.items));
	r.ref.eff = rp_xcalloc(r.n_items, sizeof(*r.ref.eff));
	r.ref.gen = rp_xcalloc(r.n_items, sizeof(*r.ref.gen));
	r.ref.live = rp_xcalloc(r.n_items, sizeof(*r.ref.live));
	for (i = 0; i < r.n_items; i++) {
		r.items[i].id = (uint32_t)i;
		rp_wheel_entry_init(&r.items[i].link);
	}
	r.last_tick = now;

	for (op = 0; op < ops; op++) {
		uint64_t p = sup_xorshift64(&r.rng) % 100;
		uint32_t id = (uint32_t)(sup_xorshift64(&r.rng) % r.n_items);

		if (p < 45) {
			if (rp_wheel_is_linked(&r.items[id].link)) {
				rp_wheel_cancel(r.w, &r.items[id].link);
				ref_kill(&r.ref, id);
			}
			rnd_add(&r, id, now);
		} else if (p < 60) {
			if (rp_wheel_is_linked(&r.items[id].link))
				ref_kill(&r.ref, id);
			rp_wheel_cancel(r.w, &r.items[id].link);
			cr_assert(!rp_wheel_is_linked(&r.items[id].link));
		} else {
			/* Mostly a tick or two so hundreds of entries stay live; sometimes a jump
			 * across several slots; rarely one across spans that flushes the wheel. */
			uint64_t q = sup_xorshift64(&r.rng) % 1000;
			uint64_t step = q < 900	  ? sup_xorshift64(&r.rng) % 3
					: q < 999 ? log_uniform(&r, r.span_bits - r.span_bits / 4)
						  : log_uniform(&r, r.span_bits + 3);
			size_t calls = r.calls, n;

			now += step;
			r.run_now = now;
			n = rp_wheel_run(r.w, now, rnd_cb, &r);
			cr_assert_eq(n, r.calls - calls);
			cr_assert_eq(rp_wheel_last(r.w), now);
		}
		check_state(&r);
	}
	cr_assert_gt(r.calls, ops / 10);
	rp_wheel_destroy(r.w);
	for (i = 0; i < r.n_items; i++)
		cr_assert(!rp_wheel_is_linked(&r.items[i].link));
	free(r.items);
	free(r.ref.heap);
	free(r.ref.eff);
	free(r.ref.gen);
	free(r.ref.live);
}

Test(wheel, randomized_matches_sorted_reference)
{
	randomized(3, 3, 1000000, 0x9e3779b97f4a7c15ull);
}

/* The geometries in use, at the full 10^6 operations: the shards' (src/io/shard.c, whose
 * slot heads are made as they are first used) and the default (src/names). */
Test(wheel, randomized_production_geometry)
{
	randomized(RP_WHEEL_WIDE_BITS, RP_WHEEL_WIDE_LEVELS, 1000000, 0x1234567887654321ull);
	randomized(RP_WHEEL_DEFAULT_BITS, RP_WHEEL_DEFAULT_LEVELS, 1000000, 0x2143658778563412ull);
}

Test(wheel, randomized_other_geometries)
{
	randomized(2, 1, 100000, 0x0badc0ffee0ddf00ull);
	randomized(16, 2, 100000, 0x5555aaaa3333ccccull);
}

/* Cancels every entry named in `victims` from the first callback; they share its slot. */
struct cancel_ctx {
	struct rp_wheel *w;
	struct item *items;
	size_t n;
	size_t calls;
};

static void cancel_others_cb(struct rp_wheel_entry *e, uint64_t now, void *arg)
{
	struct cancel_ctx *c = arg;
	size_t i;

	c->calls++;
	for (i = 0; i < c->n; i++)
		if (&c->items[i].link != e)
			rp_wheel_cancel(c->w, &c->items[i].link);
	rp_wheel_cancel(c->w, e); /* already unlinked: must be a no-op */
}

Test(wheel, cancel_from_callback_of_entry_in_same_slot)
{
	struct item items[4];
	struct cancel_ctx c = {.items = items, .n = RP_ARRAY_SIZE(items)};
	size_t i;

	c.w = new_wheel(8, 4, 1000);
	for (i = 0; i < c.n; i++) {
		rp_wheel_entry_init(&items[i].link);
		rp_wheel_add(c.w, &items[i].link, 1005);
	}
	cr_assert_eq(rp_wheel_count(c.w), 4);
	cr_assert_eq(rp_wheel_run(c.w, 2000, cancel_others_cb, &c), 1);
	cr_assert_eq(c.calls, 1);
	cr_assert_eq(rp_wheel_count(c.w), 0);
	for (i = 0; i < c.n; i++)
		cr_assert(!rp_wheel_is_linked(&items[i].link));
	cr_assert(!rp_wheel_next_tick(c.w, &(uint64_t){0}));
	rp_wheel_destroy(c.w);
}

struct readd_ctx {
	struct rp_wheel *w;
	int64_t delta;
	unsigned left;
	uint64_t ticks[64];
	size_t n;
};

static void readd_cb(struct rp_wheel_entry *e, uint64_t now, void *arg)
{
	struct readd_ctx *c = arg;

	cr_assert(!rp_wheel_is_linked(e));
	c->ticks[c->n++] = now;
	if (c->left) {
		c->left--;
		rp_wheel_add(c->w, e, now + (uint64_t)c->delta);
	}
}

Test(wheel, readd_from_callback_reschedules)
{
	struct readd_ctx c = {.delta = 300, .left = 4};
	struct rp_wheel_entry e;
	size_t i;

	c.w = new_wheel(2, 3, 0); /* 300 > span 64: the re-adds are parked and re-placed */
	rp_wheel_entry_init(&e);
	rp_wheel_add(c.w, &e, 5);
	cr_assert_eq(rp_wheel_run(c.w, 10000, readd_cb, &c), 5);
	cr_assert_eq(c.n, 5);
	for (i = 0; i < c.n; i++)
		cr_assert_eq(c.ticks[i], 5 + 300 * i);
	cr_assert_eq(rp_wheel_count(c.w), 0);
	rp_wheel_destroy(c.w);
}

Test(wheel, readd_in_past_fires_next_tick_without_looping)
{
	struct readd_ctx c = {.delta = -100, .left = 40};
	struct rp_wheel_entry e;
	size_t i;

	c.w = new_wheel(8, 4, 50);
	rp_wheel_entry_init(&e);
	rp_wheel_add(c.w, &e, 51);
	/* Fires at 51, then each past re-add lands on the following tick: 51..60. */
	cr_assert_eq(rp_wheel_run(c.w, 60, readd_cb, &c), 10);
	cr_assert_eq(rp_wheel_count(c.w), 1);
	cr_assert_eq(rp_wheel_run(c.w, 61, readd_cb, &c), 1);
	for (i = 0; i < c.n; i++)
		cr_assert_eq(c.ticks[i], 51 + i);
	c.delta = 0; /* due == the tick being processed: also the next tick */
	cr_assert_eq(rp_wheel_run(c.w, 63, readd_cb, &c), 2);
	cr_assert_eq(c.ticks[c.n - 1], 63);
	rp_wheel_destroy(c.w);
}

Test(wheel, count_is_exact)
{
	struct rp_wheel *w = new_wheel(8, 4, 0);
	struct item items[100];
	struct log lg = {0};
	size_t i;

	for (i = 0; i < 100; i++) {
		rp_wheel_entry_init(&items[i].link);
		cr_assert(!rp_wheel_is_linked(&items[i].link));
		rp_wheel_add(w, &items[i].link, i * 1000);
		cr_assert(rp_wheel_is_linked(&items[i].link));
		cr_assert_eq(rp_wheel_entry_due(&items[i].link), i * 1000);
		cr_assert_eq(rp_wheel_count(w), i + 1);
	}
	for (i = 0; i < 100; i += 2)
		rp_wheel_cancel(w, &items[i].link);
	cr_assert_eq(rp_wheel_count(w), 50);
	rp_wheel_cancel(w, &items[0].link);
	cr_assert_eq(rp_wheel_count(w), 50);
	cr_assert_eq(run_logged(w, &lg, 50000), 25);
	cr_assert_eq(rp_wheel_count(w), 25);
	cr_assert_eq(run_logged(w, &lg, 1000000), 25);
	cr_assert_eq(rp_wheel_count(w), 0);
	rp_wheel_destroy(w);
}

Test(wheel, adding_a_linked_entry_aborts, .signal = SIGABRT, .init = cr_redirect_stderr)
{
	struct rp_wheel *w = new_wheel(8, 4, 0);
	struct rp_wheel_entry e;

	rp_wheel_entry_init(&e);
	rp_wheel_add(w, &e, 10);
	rp_wheel_add(w, &e, 20);
}

Test(wheel, bad_geometry_is_rejected)
{
	static const unsigned bad[][2] = {{0, 3}, {17, 1}, {8, 0}, {4, 9},
					  {8, 5}, {11, 3}, {33, 1}};
	static const unsigned good[][2] = {{1, 1}, {16, 2}, {1, 8}, {4, 8}, {8, 4}, {2, 3}};
	struct rp_wheel *sentinel = (struct rp_wheel *)&sentinel;
	struct rp_wheel *w;
	size_t i;

	for (i = 0; i < RP_ARRAY_SIZE(bad); i++) {
		w = sentinel;
		cr_assert_eq(rp_wheel_create(&w, bad[i][0], bad[i][1], 0), -EINVAL);
		cr_assert_eq(w, sentinel, "*out written on failure");
	}
	for (i = 0; i < RP_ARRAY_SIZE(good); i++) {
		w = NULL;
		cr_assert_eq(rp_wheel_create(&w, good[i][0], good[i][1], 7), 0);
		cr_assert_eq(rp_wheel_last(w), 7);
		rp_wheel_destroy(w);
	}
	rp_wheel_destroy(NULL);
}

Test(wheel, empty_wheel_jumps_straight_to_now)
{
	struct rp_wheel *w = new_wheel(8, 4, 5);
	struct log lg = {.last_tick = 5};

	cr_assert_eq(run_logged(w, &lg, 5ull + (1ull << 50)), 0);
	cr_assert_eq(rp_wheel_run(w, 3, log_cb, &lg), 0); /* behind last: no-op */
	cr_assert_eq(rp_wheel_last(w), 5ull + (1ull << 50));
	rp_wheel_destroy(w);
}

Test(wheel, far_due_fires_exactly_across_wrap)
{
	uint64_t now0 = UINT64_MAX - (1ull << 33);
	uint64_t due = now0 + (1ull << 40) + 12345; /* 256 spans ahead, past uint64 wrap */
	struct rp_wheel *w = new_wheel(8, 4, now0);
	struct log lg = {.last_tick = now0};
	struct item it = {0};
	uint64_t next;

	rp_wheel_entry_init(&it.link);
	rp_wheel_add(w, &it.link, due);
	cr_assert(rp_wheel_next_tick(w, &next));
	cr_assert(before(now0, next) && !before(due, next));
	cr_assert_eq(run_logged(w, &lg, due - 1), 0);
	cr_assert_eq(run_logged(w, &lg, due + 1000000), 1);
	cr_assert_eq(it.fired_at, due);
	rp_wheel_destroy(w);
}

Test(wheel, fires_in_tick_order_within_one_run)
{
	struct rp_wheel *w = new_wheel(8, 4, 0);
	struct log lg = {0};
	struct item *items = rp_xcalloc(5000, sizeof(*items));
	uint64_t rng = 42;
	size_t i;

	for (i = 0; i < 5000; i++) {
		rp_wheel_entry_init(&items[i].link);
		rp_wheel_add(w, &items[i].link, 1 + sup_xorshift64(&rng) % 200000);
	}
	cr_assert_eq(run_logged(w, &lg, 200000), 5000); /* log_cb asserts the order */
	for (i = 0; i < 5000; i++)
		cr_assert_eq(items[i].fired_at, rp_wheel_entry_due(&items[i].link));
	rp_wheel_destroy(w);
	free(items);
}

/* The read-ahead hint (rp_wheel_set_warm): it sees entries that fire in this run, while
 * they are linked and before they fire, each once, and never one due after the run. The
 * shards' case and more: a run over 40 busy 1 ms ticks (the walk takes 16 at a time),
 * entries allocated one by one so that ASan sees a walk touch one freed from a callback. */
enum { WARM_TICKS = 40, WARM_PER = 3, WARM_IN = WARM_TICKS * WARM_PER, WARM_N = WARM_IN + 10 };

struct warm_ctx {
	struct rp_wheel *w;
	struct item **items;
	uint64_t now;
	unsigned warmed[WARM_N];
	size_t warm_calls, fires;
};

static void warm_hint(const struct rp_wheel_entry *e, void *arg)
{
	struct warm_ctx *c = arg;
	const struct item *it = RP_CONST_CONTAINER_OF(e, struct item, link);

	cr_assert(rp_wheel_is_linked(e), "warm saw an unlinked entry");
	cr_assert(!before(c->now, rp_wheel_entry_due(e)), "warm saw an entry due after the run");
	cr_assert_eq(it->fired, 0, "warm saw an entry after it fired");
	c->warmed[it->id]++;
	c->warm_calls++;
}

static void warm_fire(struct rp_wheel_entry *e, uint64_t now, void *arg)
{
	struct warm_ctx *c = arg;
	struct item *it = RP_CONTAINER_OF(e, struct item, link);

	cr_assert_eq(now, rp_wheel_entry_due(e));
	it->fired++;
	c->fires++;
	/* Cancel and free entries the first walk has seen (tick 1010) and one it has not
	 * (tick 1030): neither may fire, and no later walk may touch them. */
	if (it->id == 0)
		for (unsigned v = 27; v <= 87; v += 60) {
			rp_wheel_cancel(c->w, &c->items[v]->link);
			free(c->items[v]);
			c->items[v] = NULL;
		}
}

static void warm_case(unsigned bits, unsigned levels)
{
	struct warm_ctx c = {.w = new_wheel(bits, levels, 1000),
			     .items = rp_xcalloc(WARM_N, sizeof(*c.items)),
			     .now = 1000 + WARM_TICKS};
	size_t i;

	rp_wheel_set_warm(c.w, warm_hint);
	for (i = 0; i < WARM_N; i++) {
		c.items[i] = rp_xcalloc(1, sizeof(*c.items[i]));
		c.items[i]->id = (uint32_t)i;
		rp_wheel_entry_init(&c.items[i]->link);
		/* Three entries on each tick 1001..1040; ten more from 1041, right after. */
		rp_wheel_add(c.w, &c.items[i]->link,
			     i < WARM_IN ? 1001 + i / WARM_PER : 1001 + WARM_TICKS + (i - WARM_IN));
	}
	cr_assert_eq(rp_wheel_run(c.w, c.now, warm_fire, &c), WARM_IN - 2);
	cr_assert_eq(c.fires, WARM_IN - 2);
	for (i = 0; i < WARM_N; i++) {
		unsigned want_warm = i < WARM_IN && i != 87; /* 87 was freed before its walk */

		cr_assert_eq(c.warmed[i], want_warm, "entry %zu warmed %u times", i, c.warmed[i]);
		if (c.items[i])
			cr_assert_eq(c.items[i]->fired, i < WARM_IN ? 1u : 0u,
				     "entry %zu fired %u times", i, c.items[i]->fired);
	}
	cr_assert_eq(rp_wheel_count(c.w), 10);
	/* Cleared, the hint is not called again. */
	rp_wheel_set_warm(c.w, NULL);
	c.warm_calls = 0;
	c.now = 1100;
	cr_assert_eq(rp_wheel_run(c.w, c.now, warm_fire, &c), 10);
	cr_assert_eq(c.warm_calls, 0);
	rp_wheel_destroy(c.w);
	for (i = 0; i < WARM_N; i++)
		free(c.items[i]);
	free(c.items);
}

Test(wheel, warm_hint_sees_each_entry_of_the_run_before_it_fires)
{
	warm_case(RP_WHEEL_WIDE_BITS, RP_WHEEL_WIDE_LEVELS);
	warm_case(RP_WHEEL_DEFAULT_BITS, RP_WHEEL_DEFAULT_LEVELS);
}

/* Not part of the contract (next_tick may be early), but it is what keeps a stall cheap:
 * cancelled and empty slots are skipped, and only real cascades stop the jump. */
Test(wheel, next_tick_skips_cancelled_and_empty_slots)
{
	struct rp_wheel *w = new_wheel(8, 4, 0);
	struct rp_wheel_entry a, b, c;
	struct log lg = {0};
	uint64_t next = 0;

	rp_wheel_entry_init(&a);
	rp_wheel_entry_init(&b);
	rp_wheel_entry_init(&c);
	rp_wheel_add(w, &a, 5);
	rp_wheel_add(w, &b, 100);
	rp_wheel_add(w, &c, 100000);
	cr_assert(rp_wheel_next_tick(w, &next));
	cr_assert_eq(next, 5);
	rp_wheel_cancel(w, &a);
	cr_assert(rp_wheel_next_tick(w, &next));
	cr_assert_eq(next, 100);
	rp_wheel_cancel(w, &b);
	cr_assert(rp_wheel_next_tick(w, &next));
	cr_assert_eq(next, 65536); /* level 2 cascade of c */
	cr_assert_eq(run_logged(w, &lg, 65536), 0);
	cr_assert(rp_wheel_next_tick(w, &next));
	cr_assert_eq(next, 99840); /* level 1 cascade: 390 * 256 */
	cr_assert_eq(run_logged(w, &lg, 99999), 0);
	cr_assert(rp_wheel_next_tick(w, &next));
	cr_assert_eq(next, 100000);
	rp_wheel_destroy(w);
}

Test(wheel, destroy_leaves_entries_unlinked)
{
	struct rp_wheel *w = new_wheel(4, 2, 0);
	struct rp_wheel_entry e[3];
	size_t i;

	for (i = 0; i < 3; i++) {
		rp_wheel_entry_init(&e[i]);
		rp_wheel_add(w, &e[i], i * 100);
	}
	rp_wheel_destroy(w);
	for (i = 0; i < 3; i++)
		cr_assert(!rp_wheel_is_linked(&e[i]));
}

Test(wheel, phase_due_is_aligned_and_stable)
{
	static const uint64_t intervals[] = {1, 2, 7, 1000, 30000, 86400000};
	static const uint64_t nows[] = {0, 1, 999, 1000, 1700000000000ull, UINT64_MAX / 2};
	uint32_t key;
	size_t i, j;

	cr_assert_eq(rp_wheel_phase_due(1, 0, 1234), 1234);
	for (key = 0; key < 2000; key += 7) {
		for (i = 0; i < RP_ARRAY_SIZE(intervals); i++) {
			uint64_t iv = intervals[i];
			uint64_t phase = rp_wheel_phase_due(key, iv, 0) % iv;

			for (j = 0; j < RP_ARRAY_SIZE(nows); j++) {
				uint64_t t = rp_wheel_phase_due(key, iv, nows[j]);

				cr_assert(t >= nows[j] && t - nows[j] < iv);
				cr_assert_eq(t % iv, phase);
				cr_assert_eq(rp_wheel_phase_due(key, iv, nows[j]), t);
			}
		}
	}
}

Test(wheel, phase_due_spreads_keys_evenly)
{
	enum { KEYS = 20000, INTERVAL = 1000 };
	unsigned buckets[INTERVAL] = {0};
	unsigned max = 0;
	uint32_t k;
	size_t i;

	/* Consecutive IPv4 addresses from 198.18.0.0, the worst case for a weak hash. */
	for (k = 0; k < KEYS; k++) {
		uint64_t t = rp_wheel_phase_due(0xc6120000u + k, INTERVAL, 1700000000123ull);

		buckets[t % INTERVAL]++;
	}
	for (i = 0; i < INTERVAL; i++)
		max = buckets[i] > max ? buckets[i] : max;
	cr_assert_leq(max, 3 * KEYS / INTERVAL, "busiest 1 ms bucket holds %u", max);
}
