/* Single-thread semantics of the SPSC ring: argument checks, FIFO order, wrap-around,
 * drop accounting, try_push, and exact space/used/empty against a model. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/compiler.h"
#include "ringprobe/spsc.h"
#include "support/support.h"

#define MAX_BATCH 1500u
#define CANARY 0xa5

static const uint32_t elem_sizes[] = {1, 8, 24, 100};

/* What the ring must hold: items numbered [pop_seq, push_seq), since push keeps a prefix. */
struct model {
	uint32_t cap;
	uint32_t elem;
	uint64_t push_seq;
	uint64_t pop_seq;
	uint64_t drops;
};

static uint32_t rng_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(sup_xorshift64(s) % (hi - lo + 1));
}

/* Item `seq` spells out every byte of seq (for elem >= 8) and a position-dependent pattern. */
static unsigned char item_byte(uint64_t seq, uint32_t i)
{
	return (unsigned char)((seq >> ((i % 8) * 8)) ^ (i * 29u) ^ (i / 8));
}

static void fill_items(unsigned char *buf, uint32_t elem, uint64_t first_seq, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		for (uint32_t i = 0; i < elem; i++)
			buf[(size_t)k * elem + i] = item_byte(first_seq + k, i);
}

static void expect_items(const unsigned char *buf, uint32_t elem, uint64_t first_seq, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++) {
		const unsigned char *item = buf + (size_t)k * elem;
		uint32_t i = 0;

		/* One assert per item, not per byte: Criterion asserts are not free. */
		while (i < elem && item[i] == item_byte(first_seq + k, i))
			i++;
		cr_assert_eq(i, elem, "item %llu differs at byte %u (elem %u)",
			     (unsigned long long)(first_seq + k), i, elem);
	}
}

static struct rp_spsc *make(uint32_t cap, uint32_t elem)
{
	struct rp_spsc *r = NULL;

	cr_assert_eq(rp_spsc_create(&r, cap, elem), 0, "create(%u, %u)", cap, elem);
	cr_assert_not_null(r);
	return r;
}

static void check_state(struct rp_spsc *r, const struct model *m)
{
	uint32_t used = (uint32_t)(m->push_seq - m->pop_seq);

	cr_assert_eq(rp_spsc_used(r), used);
	cr_assert_eq(rp_spsc_space(r), m->cap - used);
	cr_assert_eq(rp_spsc_empty(r), used == 0);
	cr_assert_eq(rp_spsc_drops(r), m->drops);
	cr_assert_eq(rp_spsc_pushed_total(r), m->push_seq);
	cr_assert_eq(rp_spsc_capacity(r), m->cap);
}

/* push (or try_push) n fresh items and update the model with what the ring must have done. */
static void model_push(struct rp_spsc *r, struct model *m, unsigned char *buf, uint32_t n, bool all)
{
	uint32_t space = m->cap - (uint32_t)(m->push_seq - m->pop_seq);
	uint32_t want, got;

	fill_items(buf, m->elem, m->push_seq, n);
	if (all) {
		want = n <= space ? n : 0;
		got = rp_spsc_try_push(r, buf, n);
	} else {
		want = n < space ? n : space;
		got = rp_spsc_push(r, buf, n);
		m->drops += n - want;
	}
	cr_assert_eq(got, want, "%s(%u) with space %u", all ? "try_push" : "push", n, space);
	m->push_seq += got;
}

/* pop up to max and check the items and that nothing past them in `buf` was written. */
static void model_pop(struct rp_spsc *r, struct model *m, unsigned char *buf, uint32_t max)
{
	uint32_t used = (uint32_t)(m->push_seq - m->pop_seq);
	uint32_t want = max < used ? max : used;
	size_t end = (size_t)max * m->elem;
	uint32_t got;

	memset(buf, CANARY, end + m->elem);
	got = rp_spsc_pop(r, buf, max);
	cr_assert_eq(got, want, "pop(%u) with used %u", max, used);
	expect_items(buf, m->elem, m->pop_seq, got);
	for (size_t i = (size_t)got * m->elem; i < end + m->elem; i++)
		if (buf[i] != CANARY)
			cr_assert_fail("pop wrote past its %u items at byte %zu", got, i);
	m->pop_seq += got;
}

static unsigned char *scratch(uint32_t elem)
{
	unsigned char *buf = malloc(((size_t)MAX_BATCH + 1) * elem);

	cr_assert_not_null(buf);
	return buf;
}

Test(spsc, create_rejects_bad_capacity)
{
	static const uint32_t bad[] = {0, 1, 3, 6, 12, 100, 1000, (1u << 31) + 1, UINT32_MAX};
	struct rp_spsc *sentinel = (struct rp_spsc *)&sentinel;

	for (size_t i = 0; i < RP_ARRAY_SIZE(bad); i++) {
		struct rp_spsc *r = sentinel;

		cr_assert_eq(rp_spsc_create(&r, bad[i], 8), -EINVAL, "capacity %u", bad[i]);
		cr_assert_eq(r, sentinel, "*out written on failure (capacity %u)", bad[i]);
	}
}

Test(spsc, create_rejects_bad_elem_size)
{
	static const uint32_t bad[] = {0, RP_SPSC_MAX_ELEM_SIZE + 1, 65536, UINT32_MAX};
	struct rp_spsc *sentinel = (struct rp_spsc *)&sentinel;

	for (size_t i = 0; i < RP_ARRAY_SIZE(bad); i++) {
		struct rp_spsc *r = sentinel;

		cr_assert_eq(rp_spsc_create(&r, 16, bad[i]), -EINVAL, "elem_size %u", bad[i]);
		cr_assert_eq(r, sentinel, "*out written on failure (elem_size %u)", bad[i]);
	}
	cr_assert_eq(rp_spsc_create(NULL, 16, 8), -EINVAL);
}

Test(spsc, create_accepts_limits_and_starts_empty)
{
	static const uint32_t caps[] = {2, 4, 1024, 1u << 14};
	static const uint32_t elems[] = {1, 8, RP_SPSC_MAX_ELEM_SIZE};

	for (size_t i = 0; i < RP_ARRAY_SIZE(caps); i++) {
		for (size_t j = 0; j < RP_ARRAY_SIZE(elems); j++) {
			struct rp_spsc *r = make(caps[i], elems[j]);
			struct model m = {.cap = caps[i], .elem = elems[j]};

			cr_assert_eq(rp_spsc_elem_size(r), elems[j]);
			check_state(r, &m);
			rp_spsc_destroy(r);
		}
	}
}

Test(spsc, destroy_null_is_noop)
{
	rp_spsc_destroy(NULL);
}

Test(spsc, push_pop_preserves_order)
{
	struct rp_spsc *r = make(64, sizeof(uint64_t));
	uint64_t in[40], out[40];
	uint64_t next = 0;

	for (uint64_t i = 0; i < 40; i++)
		in[i] = i * 0x9e3779b97f4a7c15ull;
	cr_assert_eq(rp_spsc_push(r, in, 10), 10);
	cr_assert_eq(rp_spsc_push(r, in + 10, 1), 1);
	cr_assert_eq(rp_spsc_try_push(r, in + 11, 29), 29);
	cr_assert_eq(rp_spsc_used(r), 40);

	cr_assert_eq(rp_spsc_pop(r, out, 1), 1);
	cr_assert_eq(out[0], in[next++]);
	cr_assert_eq(rp_spsc_pop(r, out, 7), 7);
	for (int i = 0; i < 7; i++)
		cr_assert_eq(out[i], in[next++]);
	/* Asking for more than is ready returns what is ready. */
	cr_assert_eq(rp_spsc_pop(r, out, 40), 32);
	for (int i = 0; i < 32; i++)
		cr_assert_eq(out[i], in[next++]);
	cr_assert(rp_spsc_empty(r));
	cr_assert_eq(rp_spsc_drops(r), 0);
	cr_assert_eq(rp_spsc_pushed_total(r), 40);
	rp_spsc_destroy(r);
}

Test(spsc, pop_on_empty_returns_zero)
{
	struct rp_spsc *r = make(8, 4);
	uint32_t v = 7, out = 0xdeadbeef;

	cr_assert_eq(rp_spsc_pop(r, &out, 1), 0);
	cr_assert_eq(rp_spsc_pop(r, &out, 8), 0);
	cr_assert_eq(out, 0xdeadbeef, "pop on empty wrote to out");
	cr_assert_eq(rp_spsc_push(r, &v, 1), 1);
	cr_assert_eq(rp_spsc_pop(r, &out, 0), 0, "max 0 pops nothing");
	cr_assert_eq(rp_spsc_pop(r, &out, 8), 1);
	cr_assert_eq(out, 7);
	cr_assert_eq(rp_spsc_pop(r, &out, 8), 0);
	cr_assert(rp_spsc_empty(r));
	rp_spsc_destroy(r);
}

Test(spsc, zero_length_calls_change_nothing)
{
	struct rp_spsc *r = make(4, 8);
	struct model m = {.cap = 4, .elem = 8};

	cr_assert_eq(rp_spsc_push(r, NULL, 0), 0);
	cr_assert_eq(rp_spsc_try_push(r, NULL, 0), 0);
	cr_assert_eq(rp_spsc_pop(r, NULL, 0), 0);
	check_state(r, &m);
	rp_spsc_destroy(r);
}

Test(spsc, full_ring_drops_and_counts)
{
	struct rp_spsc *r = make(8, sizeof(uint32_t));
	uint32_t in[20], out[20];

	for (uint32_t i = 0; i < 20; i++)
		in[i] = 100 + i;
	cr_assert_eq(rp_spsc_push(r, in, 5), 5);
	cr_assert_eq(rp_spsc_drops(r), 0);
	/* Only 3 of these fit; the first 3 are kept and 2 are dropped. */
	cr_assert_eq(rp_spsc_push(r, in + 5, 5), 3);
	cr_assert_eq(rp_spsc_drops(r), 2);
	cr_assert_eq(rp_spsc_space(r), 0);
	cr_assert_eq(rp_spsc_used(r), 8);
	cr_assert_eq(rp_spsc_push(r, in + 10, 1), 0);
	cr_assert_eq(rp_spsc_push(r, in + 10, 7), 0);
	cr_assert_eq(rp_spsc_drops(r), 10);
	cr_assert_eq(rp_spsc_pushed_total(r), 8);

	cr_assert_eq(rp_spsc_pop(r, out, 20), 8);
	for (uint32_t i = 0; i < 8; i++)
		cr_assert_eq(out[i], 100 + i);

	/* A batch larger than the whole ring fills it and drops the excess. */
	cr_assert_eq(rp_spsc_push(r, in, 20), 8);
	cr_assert_eq(rp_spsc_drops(r), 22);
	cr_assert_eq(rp_spsc_pushed_total(r), 16);
	cr_assert_eq(rp_spsc_pop(r, out, 20), 8);
	for (uint32_t i = 0; i < 8; i++)
		cr_assert_eq(out[i], 100 + i);
	cr_assert(rp_spsc_empty(r));
	rp_spsc_destroy(r);
}

Test(spsc, try_push_is_all_or_nothing)
{
	struct rp_spsc *r = make(8, sizeof(uint16_t));
	uint16_t in[16], out[16];

	for (uint16_t i = 0; i < 16; i++)
		in[i] = (uint16_t)(500 + i);
	cr_assert_eq(rp_spsc_try_push(r, in, 6), 6);
	cr_assert_eq(rp_spsc_try_push(r, in + 6, 3), 0, "3 items do not fit in 2 slots");
	cr_assert_eq(rp_spsc_used(r), 6);
	cr_assert_eq(rp_spsc_space(r), 2);
	cr_assert_eq(rp_spsc_drops(r), 0, "try_push never counts drops");
	cr_assert_eq(rp_spsc_pushed_total(r), 6);
	cr_assert_eq(rp_spsc_try_push(r, in + 6, 2), 2);
	cr_assert_eq(rp_spsc_try_push(r, in + 8, 1), 0);
	cr_assert_eq(rp_spsc_pushed_total(r), 8);

	cr_assert_eq(rp_spsc_pop(r, out, 16), 8);
	for (uint16_t i = 0; i < 8; i++)
		cr_assert_eq(out[i], 500 + i);
	cr_assert_eq(rp_spsc_try_push(r, in, 9), 0, "more than capacity never fits");
	cr_assert_eq(rp_spsc_try_push(r, in, 8), 8);
	cr_assert_eq(rp_spsc_drops(r), 0);
	rp_spsc_destroy(r);
}

/* Odd batch sizes against a 16-slot ring make every offset and every two-chunk split occur. */
Test(spsc, wraps_around_many_times_with_odd_batches)
{
	static const uint32_t pushes[] = {1, 3, 5, 7, 9, 11, 13, 15, 16, 17};
	static const uint32_t pops[] = {2, 5, 1, 7, 3, 13, 11, 16};

	for (size_t e = 0; e < RP_ARRAY_SIZE(elem_sizes); e++) {
		struct model m = {.cap = 16, .elem = elem_sizes[e]};
		struct rp_spsc *r = make(m.cap, m.elem);
		unsigned char *buf = scratch(m.elem);

		for (uint32_t step = 0; step < 20000; step++) {
			model_push(r, &m, buf, pushes[step % RP_ARRAY_SIZE(pushes)], step % 3 == 0);
			check_state(r, &m);
			model_pop(r, &m, buf, pops[step % RP_ARRAY_SIZE(pops)]);
			check_state(r, &m);
		}
		/* 20000 rounds push well over 1000 ring laps. */
		cr_assert_gt(m.pop_seq, 1000u * m.cap);
		model_pop(r, &m, buf, m.cap);
		check_state(r, &m);
		cr_assert(rp_spsc_empty(r));
		free(buf);
		rp_spsc_destroy(r);
	}
}

/* Random push/try_push/pop mixes, checked against the model after every call. */
Test(spsc, random_ops_match_model_exactly)
{
	static const uint32_t caps[] = {2, 4, 8, 64, 1024};
	uint64_t seed = 0x2545f4914f6cdd1dull;

	for (size_t c = 0; c < RP_ARRAY_SIZE(caps); c++) {
		for (size_t e = 0; e < RP_ARRAY_SIZE(elem_sizes); e++) {
			struct model m = {.cap = caps[c], .elem = elem_sizes[e]};
			struct rp_spsc *r = make(m.cap, m.elem);
			unsigned char *buf = scratch(m.elem);
			uint32_t hi = m.cap + m.cap / 2 + 1;

			for (uint32_t step = 0; step < 10000; step++) {
				uint32_t op = rng_range(&seed, 0, 9);
				uint32_t n = rng_range(&seed, 0, hi < MAX_BATCH ? hi : MAX_BATCH);

				if (op < 3)
					model_push(r, &m, buf, n, false);
				else if (op < 5)
					model_push(r, &m, buf, n, true);
				else
					model_pop(r, &m, buf, n);
				check_state(r, &m);
			}
			cr_assert_gt(m.drops, 0, "random mix never filled capacity %u", m.cap);
			free(buf);
			rp_spsc_destroy(r);
		}
	}
}

Test(spsc, round_trips_elem_sizes_1_8_24_100)
{
	for (size_t e = 0; e < RP_ARRAY_SIZE(elem_sizes); e++) {
		struct model m = {.cap = 32, .elem = elem_sizes[e]};
		struct rp_spsc *r = make(m.cap, m.elem);
		unsigned char *buf = scratch(m.elem);

		cr_assert_eq(rp_spsc_elem_size(r), m.elem);
		/* Fill completely, drain completely, twice, from an offset so one lap splits. */
		model_push(r, &m, buf, 5, false);
		model_pop(r, &m, buf, 5);
		for (int lap = 0; lap < 2; lap++) {
			model_push(r, &m, buf, m.cap, lap == 0);
			check_state(r, &m);
			model_pop(r, &m, buf, m.cap);
			check_state(r, &m);
		}
		free(buf);
		rp_spsc_destroy(r);
	}
}

/* Drive 2^32 + a bit items through so head and tail both wrap past UINT32_MAX. */
Test(spsc, indices_wrap_past_uint32_max)
{
	const uint32_t cap = 1u << 16;
	const uint32_t standing = 200;
	const uint32_t batch = cap - 257; /* fits beside the standing fill; shifts the offset */
	const uint64_t checked_from = (1ull << 32) - 4ull * cap;
	struct model m = {.cap = cap, .elem = 1};
	struct rp_spsc *r = make(cap, 1);
	unsigned char *in = calloc(cap, 1), *out = calloc(cap, 1);

	cr_assert(in && out);
	/* Far from the wrap only the counts are checked, to keep this fast. */
	cr_assert_eq(rp_spsc_push(r, in, standing), standing);
	m.push_seq = standing;
	while (m.push_seq < checked_from) {
		cr_assert_eq(rp_spsc_push(r, in, batch), batch);
		m.push_seq += batch;
		cr_assert_eq(rp_spsc_pop(r, out, batch), batch);
		m.pop_seq += batch;
	}
	cr_assert_eq(rp_spsc_pop(r, out, cap), standing);
	m.pop_seq = m.push_seq;
	check_state(r, &m);

	/* Near the wrap every item and every count is checked, with a standing fill again. */
	model_push(r, &m, in, standing, false);
	for (uint32_t step = 0; m.pop_seq < (1ull << 32) + 4ull * cap; step++) {
		model_push(r, &m, in, step % 2 ? batch : 1, step % 4 == 1);
		check_state(r, &m);
		model_pop(r, &m, out, step % 3 ? batch : 7);
		check_state(r, &m);
	}
	cr_assert_eq(m.drops, 0);
	free(in);
	free(out);
	rp_spsc_destroy(r);
}
