/* Single-producer single-consumer ring (lib/kfifo.c, DPDK lib/ring/rte_ring_c11_pvt.h).
 *
 * One producer thread, one consumer thread. head and tail are free-running
 * uint32_t counters masked on access, so head - tail is the fill level even
 * after either wraps past UINT32_MAX.
 *
 * Ordering, labelled as in tools/include/linux/ring_buffer.h:
 *   P1 producer load-acquire(tail)   pairs with C2: the consumer has finished
 *      copying a slot out before the producer overwrites it.
 *   P2 producer store-release(head)  pairs with C1: slot contents are visible
 *      before the consumer sees the new head.
 *   C1 consumer load-acquire(head)   pairs with P2.
 *   C2 consumer store-release(tail)  pairs with P1.
 * A side's own index is read relaxed: only that side ever writes it.
 */
#include "ringprobe/spsc.h"

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/compiler.h"
#include "ringprobe/xalloc.h"

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "SPSC ring indices need lock-free 32-bit atomics");

struct rp_spsc {
	/* Written by the producer; the consumer reads head only when its cache runs dry. */
	alignas(RP_CACHELINE) _Atomic uint32_t head;
	uint32_t tail_cache;	 /* producer only: last tail seen through P1 */
	_Atomic uint64_t pushed; /* producer writes, any thread reads; unpaired statistic */
	_Atomic uint64_t drops;	 /* producer writes, any thread reads; unpaired statistic */

	/* Written by the consumer; the producer reads tail only when its cache says full. */
	alignas(RP_CACHELINE) _Atomic uint32_t tail;
	uint32_t head_cache; /* consumer only: last head seen through C1 */

	/* Read-only after create, so both sides keep this line shared. */
	alignas(RP_CACHELINE) uint32_t capacity;
	uint32_t mask;
	uint32_t elem_size;
	alignas(RP_CACHELINE) unsigned char slots[];
};

int rp_spsc_create(struct rp_spsc **out, uint32_t capacity, uint32_t elem_size)
{
	struct rp_spsc *r;
	size_t bytes;

	if (!out || capacity < 2 || (capacity & (capacity - 1)) != 0)
		return -EINVAL;
	if (elem_size == 0 || elem_size > RP_SPSC_MAX_ELEM_SIZE)
		return -EINVAL;
	/* Only reachable with a 32-bit size_t; rp_xaligned_calloc() rounds up by one line. */
	if (capacity > (SIZE_MAX - sizeof(*r) - RP_CACHELINE) / elem_size)
		return -ENOMEM;

	bytes = sizeof(*r) + (size_t)capacity * elem_size;
	/* Slots are written before they are read, so only the header is zeroed: a large
	 * ring then costs no page until it is used. */
	r = rp_xaligned_alloc(RP_CACHELINE, bytes);
	memset(r, 0, sizeof(*r));
	r->capacity = capacity;
	r->mask = capacity - 1;
	r->elem_size = elem_size;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->pushed, 0);
	atomic_init(&r->drops, 0);
	*out = r;
	return 0;
}

void rp_spsc_destroy(struct rp_spsc *r)
{
	free(r);
}

/* Producer: free slots, reading tail (P1) only when the cached view is too small for `want`. */
static uint32_t prod_space(struct rp_spsc *r, uint32_t head, uint32_t want)
{
	uint32_t space = r->capacity - (head - r->tail_cache);

	if (space < want) {
		/* P1: pairs with C2 in rp_spsc_pop(). */
		r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		space = r->capacity - (head - r->tail_cache);
	}
	return space;
}

/* Consumer: items ready, reading head (C1) only when the cached view is too small for `want`. */
static uint32_t cons_used(struct rp_spsc *r, uint32_t tail, uint32_t want)
{
	uint32_t used = r->head_cache - tail;

	if (used < want) {
		/* C1: pairs with P2 in commit_push(). */
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
		used = r->head_cache - tail;
	}
	return used;
}

/* Copy n items to the slots starting at index `head`: at most two chunks, split at the end. */
static void copy_in(struct rp_spsc *r, uint32_t head, const unsigned char *src, uint32_t n)
{
	size_t es = r->elem_size;
	uint32_t off = head & r->mask;
	uint32_t first = r->capacity - off;

	if (first > n)
		first = n;
	memcpy(r->slots + off * es, src, first * es);
	if (n > first)
		memcpy(r->slots, src + first * es, (n - first) * es);
}

static void copy_out(const struct rp_spsc *r, uint32_t tail, unsigned char *dst, uint32_t n)
{
	size_t es = r->elem_size;
	uint32_t off = tail & r->mask;
	uint32_t first = r->capacity - off;

	if (first > n)
		first = n;
	memcpy(dst, r->slots + off * es, first * es);
	if (n > first)
		memcpy(dst + first * es, r->slots, (n - first) * es);
}

/* Producer: publish n copied-in items and count them. */
static void commit_push(struct rp_spsc *r, uint32_t head, uint32_t n)
{
	uint64_t pushed = atomic_load_explicit(&r->pushed, memory_order_relaxed);

	/* P2: pairs with C1 in cons_used() and rp_spsc_empty(). */
	atomic_store_explicit(&r->head, head + n, memory_order_release);
	/* Single writer, so load + store instead of an RMW; unpaired statistic. */
	atomic_store_explicit(&r->pushed, pushed + n, memory_order_relaxed);
}

uint32_t rp_spsc_push(struct rp_spsc *r, const void *items, uint32_t n)
{
	uint32_t head, space, take;

	if (n == 0)
		return 0;
	/* Own index: only this thread writes head. */
	head = atomic_load_explicit(&r->head, memory_order_relaxed);
	space = prod_space(r, head, n);
	take = n < space ? n : space;
	if (take) {
		copy_in(r, head, items, take);
		commit_push(r, head, take);
	}
	if (take < n) {
		uint64_t drops = atomic_load_explicit(&r->drops, memory_order_relaxed);

		/* Single writer, so load + store instead of an RMW; unpaired statistic. */
		atomic_store_explicit(&r->drops, drops + (n - take), memory_order_relaxed);
	}
	return take;
}

uint32_t rp_spsc_try_push(struct rp_spsc *r, const void *items, uint32_t n)
{
	uint32_t head;

	if (n == 0)
		return 0;
	/* Own index: only this thread writes head. */
	head = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (prod_space(r, head, n) < n)
		return 0;
	copy_in(r, head, items, n);
	commit_push(r, head, n);
	return n;
}

uint32_t rp_spsc_pop(struct rp_spsc *r, void *out, uint32_t max)
{
	uint32_t tail, n;

	if (max == 0)
		return 0;
	/* Own index: only this thread writes tail. */
	tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	n = cons_used(r, tail, max);
	if (n > max)
		n = max;
	if (n == 0)
		return 0;
	copy_out(r, tail, out, n);
	/* C2: pairs with P1 in prod_space() and rp_spsc_space(). */
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}

uint32_t rp_spsc_space(struct rp_spsc *r)
{
	/* Own index: only this thread writes head. */
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	/* Asking for a full ring always refreshes through P1. */
	return prod_space(r, head, r->capacity);
}

uint32_t rp_spsc_used(struct rp_spsc *r)
{
	/* Own index: only this thread writes tail. */
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	/* Asking for a full ring always refreshes through C1. */
	return cons_used(r, tail, r->capacity);
}

bool rp_spsc_empty(struct rp_spsc *r)
{
	/* Own index: only this thread writes tail. */
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	/* One cached item is enough to say no without touching the producer's line. */
	return cons_used(r, tail, 1) == 0;
}

uint32_t rp_spsc_capacity(const struct rp_spsc *r)
{
	return r->capacity;
}

uint32_t rp_spsc_elem_size(const struct rp_spsc *r)
{
	return r->elem_size;
}

uint64_t rp_spsc_drops(const struct rp_spsc *r)
{
	/* Unpaired statistic: pairs with nothing, may lag the producer. */
	return atomic_load_explicit(&r->drops, memory_order_relaxed);
}

uint64_t rp_spsc_pushed_total(const struct rp_spsc *r)
{
	/* Unpaired statistic: pairs with nothing, may lag the producer. */
	return atomic_load_explicit(&r->pushed, memory_order_relaxed);
}
