/* Hierarchical timing wheel (Linux pre-4.8 timer wheel; h2o lib/common/timerwheel.h).
 *
 * Pure: no syscalls and no clock reads; the caller passes `now` in abstract uint64_t ticks
 * (the daemon uses milliseconds). One wheel belongs to one shard thread; nothing here locks.
 *
 * Geometry: `levels` levels of 2^`bits_per_level` slots. Level L holds entries due between
 * 2^(bits*L) and 2^(bits*(L+1)) ticks ahead and is cascaded into the levels below each time
 * tick reaches a multiple of 2^(bits*L). The default 8 bits x 4 levels spans 2^32 ticks
 * (49.7 days of 1 ms ticks).
 *
 * Invariants callers may rely on:
 * - The wheel has processed every tick up to rp_wheel_last() (at create: the `now` given).
 *   An entry added with due <= last fires at tick last + 1; any other entry fires exactly at
 *   tick `due`: in the first rp_wheel_run() whose now >= due, with the callback's `now` set
 *   to that tick (not the run's `now`). Within one run, entries fire in tick order; entries
 *   of the same tick fire in no particular order.
 * - Dues further ahead than the wheel spans are parked in the top level and re-placed each
 *   time they cascade (about once per span), so they still fire exactly on time.
 * - Times are compared by signed difference, so uint64 wrap-around is harmless as long as
 *   every due lies within 2^63 ticks of the wheel's `last`.
 * - add and cancel are O(1). rp_wheel_run() skips empty stretches with per-level occupancy
 *   bitmaps, so it costs O(entries fired + entries cascaded) scans of those bitmaps, whatever
 *   the number of ticks advanced.
 */
#ifndef RP_WHEEL_H
#define RP_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_WHEEL_DEFAULT_BITS 8
#define RP_WHEEL_DEFAULT_LEVELS 4
/* The probe shards' geometry: a level 0 of 65,536 slots holds every due up to 65.5 s of
 * 1 ms ticks ahead, so a device at an interval up to a minute is placed once and fired,
 * never cascaded (a cascade reads every entry it moves: one cache miss a device a lap at
 * a million devices). Its slot heads cost 1.5 MiB per level, paid as they are used. */
#define RP_WHEEL_WIDE_BITS 16
#define RP_WHEEL_WIDE_LEVELS 2

struct rp_wheel;

/* Embedded in the caller's object (the device) so scheduling never allocates; recover the
 * object with RP_CONTAINER_OF. The fields are private: _next is NULL while unlinked. */
struct rp_wheel_entry {
	struct rp_wheel_entry *_next, *_prev;
	uint64_t _due;
};

/* Called from rp_wheel_run() on the wheel's thread for each expired entry. `e` is already
 * unlinked, so the callback may re-add it (a due <= `now` then fires at a later tick, never
 * in a loop at this one), cancel or add any other entry, or free the object embedding `e`.
 * It must not call rp_wheel_run() or rp_wheel_destroy() on the same wheel, and
 * rp_wheel_next_tick() is only meaningful after the run returns. `now` is the tick being
 * processed, i.e. the entry's effective due. */
typedef void (*rp_wheel_cb)(struct rp_wheel_entry *e, uint64_t now, void *arg);

/* Called from rp_wheel_run() (with the run's `arg`) for entries it reads ahead of firing
 * them: the lists of the next busy ticks up to the run's `now` are walked side by side,
 * so that their cache misses overlap; only entries due by the run's `now` are passed. A
 * hint for prefetching what the rp_wheel_cb will touch: the entry may still be cancelled
 * or moved before it fires, so the callback must not change anything, and it must not
 * call into the wheel. */
typedef void (*rp_wheel_warm_cb)(const struct rp_wheel_entry *e, void *arg);

/** Allocate a wheel with last = now; -EINVAL unless bits 1..16, levels 1..8, bits*levels <= 32. */
int rp_wheel_create(struct rp_wheel **out, unsigned bits_per_level, unsigned levels, uint64_t now);
/** Set (or, with NULL, clear) the read-ahead hint rp_wheel_run() calls. */
void rp_wheel_set_warm(struct rp_wheel *w, rp_wheel_warm_cb fn);
/** Free the wheel; entries still linked are left unlinked (their owners free them); NULL is ok. */
void rp_wheel_destroy(struct rp_wheel *w);
/** Put caller-owned storage in the unlinked state; required once before the first add. */
void rp_wheel_entry_init(struct rp_wheel_entry *e);

/** Whether the entry is scheduled on a wheel. */
static inline bool rp_wheel_is_linked(const struct rp_wheel_entry *e)
{
	return e->_next != NULL;
}

/** The due tick last passed to rp_wheel_add() for this entry. */
static inline uint64_t rp_wheel_entry_due(const struct rp_wheel_entry *e)
{
	return e->_due;
}

/** Schedule an unlinked entry (linked aborts) to fire at `due`, or at last+1 if due <= last. */
void rp_wheel_add(struct rp_wheel *w, struct rp_wheel_entry *e, uint64_t due);
/** Unschedule the entry in O(1); a no-op when it is unlinked; safe from inside a callback. */
void rp_wheel_cancel(struct rp_wheel *w, struct rp_wheel_entry *e);
/** Fire every entry due in ticks last+1..now in tick order, set last = now; returns the count. */
size_t rp_wheel_run(struct rp_wheel *w, uint64_t now, rp_wheel_cb cb, void *arg);
/** Number of linked entries. */
size_t rp_wheel_count(const struct rp_wheel *w);
/** The last tick processed: the create `now` or the latest rp_wheel_run() `now`. */
uint64_t rp_wheel_last(const struct rp_wheel *w);
/** False if empty; else a tick > last, <= the earliest due, by which rp_wheel_run() is needed. */
bool rp_wheel_next_tick(const struct rp_wheel *w, uint64_t *tick);
/** Smallest t >= now with t % interval == rp_hash_u32(key) % interval; interval 0 gives now. */
uint64_t rp_wheel_phase_due(uint32_t key, uint64_t interval, uint64_t now);

#endif
