/* Hierarchical timing wheel; the contract is in include/ringprobe/wheel.h.
 *
 * Placement follows the Linux pre-4.8 timer wheel (kernel/timer.c internal_add_timer): with
 * base = last + 1 the next tick to process and delta = due - base, an entry goes to the
 * level L with 2^(bits*L) <= delta < 2^(bits*(L+1)), in slot (due >> bits*L) & mask. That
 * slot is next visited at tick due & ~(2^(bits*L) - 1), which lies in [base, due], and the
 * cascade then re-places the entry with delta < 2^(bits*L), i.e. strictly lower. Level 0
 * slots therefore hold only entries due exactly when the slot is visited.
 *
 * Instead of visiting every tick, run asks the occupancy bitmaps for the next tick at which
 * any non-empty slot is visited (a level 0 slot fires, a higher one cascades) and jumps
 * there; the ticks skipped would have found only empty slots, so the result is the same as
 * walking them one by one.
 */
#include "ringprobe/wheel.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "ringprobe/compiler.h"
#include "ringprobe/hash.h"
#include "ringprobe/xalloc.h"

struct rp_wheel {
	uint64_t last; /* every tick up to and including this one has been processed */
	size_t count;  /* linked entries, including those in a list run() has detached */
	unsigned bits; /* per level */
	unsigned levels;
	unsigned span_bits; /* bits * levels: dues further ahead are parked in the top level */
	unsigned nwords;    /* bitmap words per level */
	uint64_t mask;	    /* slots per level - 1 */
	uint64_t *bitmap;   /* levels * nwords; bit set <=> slot list non-empty */
	rp_wheel_warm_cb warm_cb;     /* NULL: none */
	struct rp_wheel_entry *slots; /* levels << bits list heads (circular, sentinel) */
};

static struct rp_wheel_entry *slot_head(const struct rp_wheel *w, unsigned level, uint64_t slot)
{
	return &w->slots[((size_t)level << w->bits) + slot];
}

static void bit_set(struct rp_wheel *w, unsigned level, uint64_t slot)
{
	w->bitmap[(size_t)level * w->nwords + (slot >> 6)] |= 1ull << (slot & 63);
}

static void bit_clear(struct rp_wheel *w, unsigned level, uint64_t slot)
{
	w->bitmap[(size_t)level * w->nwords + (slot >> 6)] &= ~(1ull << (slot & 63));
}

/* A slot's head is valid only while its bit is set: create leaves the heads as calloc
 * gave them (a wide wheel's 1.5 MiB a level costs memory only where used) and place()
 * makes a head an empty list before the first entry goes in. */
static bool bit_test(const struct rp_wheel *w, unsigned level, uint64_t slot)
{
	return w->bitmap[(size_t)level * w->nwords + (slot >> 6)] >> (slot & 63) & 1;
}

/* Cancel must drop a slot's bit when it empties that slot, but not when it empties the list
 * fire() detached onto its stack; compare as integers since that head is not in `slots`. */
static bool is_slot_head(const struct rp_wheel *w, const struct rp_wheel_entry *p)
{
	uintptr_t lo = (uintptr_t)w->slots;
	uintptr_t hi = (uintptr_t)(w->slots + ((size_t)w->levels << w->bits));

	return (uintptr_t)p >= lo && (uintptr_t)p < hi;
}

static void list_add_tail(struct rp_wheel_entry *head, struct rp_wheel_entry *e)
{
	e->_next = head;
	e->_prev = head->_prev;
	head->_prev->_next = e;
	head->_prev = e;
}

/* Links `e` (unlinked, _due set) relative to base = last + 1; does not touch count. */
static void place(struct rp_wheel *w, struct rp_wheel_entry *e)
{
	uint64_t base = w->last + 1;
	uint64_t delta = e->_due - base;
	uint64_t at = e->_due;
	unsigned level = 0;
	struct rp_wheel_entry *head;
	uint64_t slot;

	if ((int64_t)delta < 0) {
		/* Already due: fire at the next tick processed, never at one already passed. */
		delta = 0;
		at = base;
	} else if (delta >> w->span_bits) {
		/* Beyond the span: park at the furthest top-level slot; its cascade (or, with one
		 * level, its visit) comes before the real due and re-places the entry. */
		delta = (1ull << w->span_bits) - 1;
		at = base + delta;
	}
	if (delta >> w->bits)
		level = (unsigned)(63 - __builtin_clzll(delta)) / w->bits;
	slot = (at >> (w->bits * level)) & w->mask;
	head = slot_head(w, level, slot);
	if (!bit_test(w, level, slot)) {
		head->_next = head->_prev = head;
		bit_set(w, level, slot);
	}
	list_add_tail(head, e);
}

/* Distance (in slots, cyclic) from `from` to the first non-empty slot of `level`, or -1. */
static int64_t next_busy(const struct rp_wheel *w, unsigned level, uint64_t from)
{
	const uint64_t *bm = w->bitmap + (size_t)level * w->nwords;
	unsigned wi = (unsigned)(from >> 6);
	uint64_t word = bm[wi] & (~0ull << (from & 63));
	unsigned i = 0;

	for (;;) {
		if (word) {
			uint64_t s = ((uint64_t)wi << 6) + (uint64_t)__builtin_ctzll(word);
			return (int64_t)((s - from) & w->mask);
		}
		/* nwords + 1 words: the last one revisits the first word's bits below `from`. */
		if (++i > w->nwords)
			return -1;
		wi = wi + 1 == w->nwords ? 0 : wi + 1;
		word = bm[wi];
	}
}

/* Moves every entry of one slot at level >= 1 down; run() calls it with last = tick - 1. */
static void cascade(struct rp_wheel *w, unsigned level, uint64_t slot)
{
	struct rp_wheel_entry *head = slot_head(w, level, slot);
	struct rp_wheel_entry *e, *next;

	if (!bit_test(w, level, slot))
		return;
	e = head->_next;
	/* Detach first: place() never picks this slot again (see the top of the file; parked
	 * entries go to the top slot before this one), but the walk must not depend on that. */
	head->_prev->_next = NULL;
	head->_next = head->_prev = head;
	bit_clear(w, level, slot);
	for (; e; e = next) {
		next = e->_next;
		place(w, e);
	}
}

/* Busy level-0 slots whose lists warm() walks side by side, and the entries it touches
 * ahead at most (a bound on what it may bring into the cache before fire() uses it). */
#define WARM_SLOTS 16
#define WARM_MAX 512

/* Reads ahead the lists of the next busy level-0 slots for ticks from..now, walking them
 * side by side. A list alone is a chain of dependent loads, each entry's cache miss
 * waiting for the one before; the lists of different slots are independent, so walking
 * them in step overlaps their misses, and fire() then finds them in the cache (the
 * shards run the wheel a whole probe_tick at a time: ten 1 ms slots of a few entries
 * each). The owner's warm_cb sees each entry reached, to prefetch what its callback will
 * touch. Read-only, a hint: the callbacks may change the lists before fire() gets there,
 * which costs nothing but the hint. Returns the first tick it did not look at. */
static uint64_t warm(const struct rp_wheel *w, uint64_t from, uint64_t now, void *arg)
{
	const struct rp_wheel_entry *cur[WARM_SLOTS], *head[WARM_SLOTS];
	unsigned n = 0, left = WARM_MAX;
	uint64_t t = from;

	while (n < WARM_SLOTS && (int64_t)(now - t) >= 0) {
		int64_t d = next_busy(w, 0, t & w->mask);

		/* A slot's list is for its next visit only within one lap of the wheel. */
		if (d < 0 || (int64_t)(now - (t + (uint64_t)d)) < 0 ||
		    t + (uint64_t)d - from > w->mask) {
			t = now + 1;
			break;
		}
		t += (uint64_t)d;
		head[n] = slot_head(w, 0, t & w->mask);
		cur[n] = head[n]->_next;
		n++;
		t++;
	}
	/* One list alone gains nothing from a walk ahead: fire() walks it as fast. */
	while (n > 1 && left) {
		unsigned live = 0;

		for (unsigned i = 0; i < n && left; i++) {
			if (cur[i] == head[i])
				continue;
			/* Not one parked here beyond a one-level wheel's span. */
			if (w->warm_cb && (int64_t)(cur[i]->_due - now) <= 0)
				w->warm_cb(cur[i], arg);
			cur[i] = cur[i]->_next; /* the loads of the n lists are independent */
			live++;
			left--;
		}
		if (!live)
			break;
	}
	return t;
}

/* Fires level 0's slot for tick t; run() calls it with last = t so that callbacks re-adding
 * with due <= t land on t + 1, never back on this tick. */
static size_t fire(struct rp_wheel *w, uint64_t t, rp_wheel_cb cb, void *arg)
{
	uint64_t slot = t & w->mask;
	struct rp_wheel_entry *head = slot_head(w, 0, slot);
	struct rp_wheel_entry local, *e;
	size_t n = 0;

	if (!bit_test(w, 0, slot))
		return 0;
	/* Splice onto a local head and pop from it: a callback may cancel any entry still on
	 * the local list (plain unlink, the local head is not a slot so no bit changes) or add
	 * to this slot again (it was emptied, so those wait a full turn). */
	local._next = head->_next;
	local._prev = head->_prev;
	local._next->_prev = &local;
	local._prev->_next = &local;
	head->_next = head->_prev = head;
	bit_clear(w, 0, slot);

	while ((e = local._next) != &local) {
		local._next = e->_next;
		e->_next->_prev = &local;
		e->_next = e->_prev = NULL;
		if ((int64_t)(e->_due - t) > 0) {
			/* Parked beyond the span of a one-level wheel: not yet. */
			place(w, e);
			continue;
		}
		w->count--;
		n++;
		/* Last touch of e: the callback may free it. */
		cb(e, t, arg);
	}
	return n;
}

/* Any geometry the header allows; the wheel is owned by the caller until destroy. */
int rp_wheel_create(struct rp_wheel **out, unsigned bits_per_level, unsigned levels, uint64_t now)
{
	struct rp_wheel *w;
	size_t nslots;

	if (bits_per_level < 1 || bits_per_level > 16 || levels < 1 || levels > 8 ||
	    bits_per_level * levels > 32)
		return -EINVAL;

	nslots = (size_t)levels << bits_per_level;
	w = rp_xcalloc(1, sizeof(*w));
	w->last = now;
	w->bits = bits_per_level;
	w->levels = levels;
	w->span_bits = bits_per_level * levels;
	w->nwords = bits_per_level > 6 ? 1u << (bits_per_level - 6) : 1;
	w->mask = (1ull << bits_per_level) - 1;
	w->bitmap = rp_xcalloc((size_t)levels * w->nwords, sizeof(*w->bitmap));
	w->slots = rp_xcalloc(nslots, sizeof(*w->slots)); /* heads made as used: bit_test */
	*out = w;
	return 0;
}

/* Shutdown only (not the hot path, hence free() here). Entries stay the caller's; they are
 * left unlinked so their owners can tell and free them in any order. */
void rp_wheel_destroy(struct rp_wheel *w)
{
	size_t nslots, i;

	if (!w)
		return;
	nslots = (size_t)w->levels << w->bits;
	for (i = 0; i < nslots; i++) {
		struct rp_wheel_entry *head = &w->slots[i];
		struct rp_wheel_entry *e, *next;

		if (!bit_test(w, (unsigned)(i >> w->bits), i & w->mask))
			continue;
		for (e = head->_next; e != head; e = next) {
			next = e->_next;
			e->_next = e->_prev = NULL;
		}
	}
	free(w->slots);
	free(w->bitmap);
	free(w);
}

void rp_wheel_set_warm(struct rp_wheel *w, rp_wheel_warm_cb fn)
{
	w->warm_cb = fn;
}

void rp_wheel_entry_init(struct rp_wheel_entry *e)
{
	e->_next = e->_prev = NULL;
	e->_due = 0;
}

/* `e` must be unlinked: reschedule with cancel then add. Adding a linked entry would
 * silently corrupt two lists, so it aborts instead (one compare; b_ndebug is off).
 * Wheel's thread only, including from a callback. */
void rp_wheel_add(struct rp_wheel *w, struct rp_wheel_entry *e, uint64_t due)
{
	assert(!rp_wheel_is_linked(e));
	e->_due = due;
	place(w, e);
	w->count++;
}

/* Unlinked entries are accepted so owners can cancel unconditionally on teardown. */
void rp_wheel_cancel(struct rp_wheel *w, struct rp_wheel_entry *e)
{
	struct rp_wheel_entry *prev = e->_prev;
	struct rp_wheel_entry *next = e->_next;

	if (!next)
		return;
	prev->_next = next;
	next->_prev = prev;
	e->_next = e->_prev = NULL;
	w->count--;
	/* Only the head is left exactly when its two neighbours are the same node. */
	if (prev == next && is_slot_head(w, prev)) {
		size_t i = (size_t)(prev - w->slots);

		bit_clear(w, (unsigned)(i >> w->bits), i & w->mask);
	}
}

bool rp_wheel_next_tick(const struct rp_wheel *w, uint64_t *tick)
{
	uint64_t best = 0, best_dist = UINT64_MAX;
	unsigned level;

	if (!w->count)
		return false;
	for (level = 0; level < w->levels; level++) {
		unsigned shift = w->bits * level;
		uint64_t period = 1ull << shift;
		/* First tick after last at which this level's slots are visited. */
		uint64_t first = (w->last | (period - 1)) + 1;
		int64_t d;
		uint64_t at;

		/* Higher levels are visited no earlier than this one: nothing can beat best. */
		if (first - w->last >= best_dist)
			break;
		d = next_busy(w, level, (first >> shift) & w->mask);
		if (d < 0)
			continue;
		at = first + ((uint64_t)d << shift);
		if (at - w->last < best_dist) {
			best_dist = at - w->last;
			best = at;
		}
	}
	if (best_dist == UINT64_MAX)
		return false;
	*tick = best;
	return true;
}

/* Wheel's thread only; not re-entrant (see rp_wheel_cb). Cost is one bitmap search per tick
 * that has work, plus the entries fired and cascaded, however far now is from last. */
size_t rp_wheel_run(struct rp_wheel *w, uint64_t now, rp_wheel_cb cb, void *arg)
{
	size_t fired = 0;
	uint64_t t, warmed = w->last + 1; /* warm() has looked at the ticks before this */

	while ((int64_t)(now - w->last) > 0) {
		unsigned top = 0;

		if (!rp_wheel_next_tick(w, &t) || (int64_t)(t - now) > 0) {
			w->last = now;
			break;
		}
		while (top + 1 < w->levels && !(t & ((1ull << (w->bits * (top + 1))) - 1)))
			top++;
		/* Cascade with base = t so entries due at t reach level 0 before it fires;
		 * top-down so one pass carries them all the way. */
		w->last = t - 1;
		for (; top > 0; top--)
			cascade(w, top, (t >> (w->bits * top)) & w->mask);
		w->last = t;
		if ((int64_t)(t - warmed) >= 0)
			warmed = warm(w, t, now, arg);
		fired += fire(w, t, cb, arg);
	}
	return fired;
}

size_t rp_wheel_count(const struct rp_wheel *w)
{
	return w->count;
}

uint64_t rp_wheel_last(const struct rp_wheel *w)
{
	return w->last;
}

/* Aligned to absolute time, not to start-up, so a device keeps its phase across restarts
 * and 20,000 devices at one interval send evenly instead of in a burst. */
uint64_t rp_wheel_phase_due(uint32_t key, uint64_t interval, uint64_t now)
{
	uint64_t phase, r;

	if (!interval)
		return now;
	phase = rp_hash_u32(key) % interval;
	r = now % interval;
	return now + (phase >= r ? phase - r : interval - r + phase);
}
