/* The shard's timeout FIFO: every probe sent, with its deadline, in send order. With
 * one reply timeout for all probes, the order of sending is the order of expiry, so a
 * FIFO replaces any timer structure. A shard with probe profiles of several timeouts
 * (groups with their own ping_timeout) keeps one FIFO per distinct timeout, each
 * sized as below: every one of them stays in order. One thread (the shard's) owns it.
 *
 * The bound. An entry stays from its send until its deadline has passed and the shard
 * loop has looked (at most one tick later), answered or not: a reply does not take it
 * out. So the FIFO holds the probes sent in the last timeout + tick. The shard sizes
 * it at
 *
 *	size = pow2_at_least(2 x capacity)
 *
 * A monitored device on schedule sends one probe per interval, and the configuration
 * keeps ping_timeout <= ping_interval, so each of the `capacity` devices has at most
 * one entry still before its deadline, plus one whose deadline passed but was not yet
 * popped (the wheel can run a device's next send up to a tick early): 2 x capacity.
 * What that does not bound: a device that fell behind its schedule (pacing, a
 * stalled thread) catching up with sends closer together than its interval, and a
 * slot reused before the deadline of its last probe:
 * one-shot probes (sweeps, ping) that are answered free their slot at once, so a full
 * table of them sent at the full rate puts rate x timeout entries in the FIFO, which
 * is more than 2 x capacity once rate x timeout > 2 x capacity. A new timeout
 * (CMD_TIMEOUT) longer than some device's interval does the same. So the bound is
 * checked: rp_tmo_push refuses when the FIFO is full and the shard holds the probe
 * back (counted in timeout_fifo_full) until the oldest entry expires; nothing is ever
 * overwritten. */
#ifndef RP_IO_TMO_H
#define RP_IO_TMO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A probe waiting for its reply. */
struct rp_tmo_entry {
	uint64_t deadline_ns; /* monotonic */
	uint32_t slot;
	uint32_t gen;
	uint32_t seq;
};

/** Free-running head and tail, masked on access (STYLE.md section 5). */
struct rp_tmo {
	struct rp_tmo_entry *v;
	uint32_t mask, head, tail;
	uint32_t given; /* rp_tmo_trim gave back the pages before this entry */
};

/** Allocates room for pow2_at_least(max(2 x capacity, 2)) entries (aborts on OOM, at
 *  start-up only). */
void rp_tmo_init(struct rp_tmo *t, uint32_t capacity);
void rp_tmo_fini(struct rp_tmo *t);
/** Gives back the pages of the entries popped since the last trim once they make a MiB
 *  (trim.h): the FIFO then costs the memory of what it holds, not of a lap of 2 x
 *  capacity entries. The shard loop calls it once per pass. */
void rp_tmo_trim(struct rp_tmo *t);

/** Entries the FIFO can hold. */
static inline uint32_t rp_tmo_size(const struct rp_tmo *t)
{
	return t->mask + 1;
}

static inline bool rp_tmo_full(const struct rp_tmo *t)
{
	return t->tail - t->head > t->mask;
}

/** Appends e; -ENOSPC, and nothing written, when the FIFO is full. */
static inline int rp_tmo_push(struct rp_tmo *t, const struct rp_tmo_entry *e)
{
	if (rp_tmo_full(t))
		return -ENOSPC;
	t->v[t->tail++ & t->mask] = *e;
	return 0;
}

/** The oldest entry, or NULL when empty. */
static inline const struct rp_tmo_entry *rp_tmo_peek(const struct rp_tmo *t)
{
	return t->head != t->tail ? &t->v[t->head & t->mask] : NULL;
}

/** Drops the oldest entry (the FIFO must not be empty). */
static inline void rp_tmo_pop(struct rp_tmo *t)
{
	t->head++;
}

#endif
