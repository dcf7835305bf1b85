/* Device table: address (struct rp_ip, either family) -> stable slot index in
 * [0, capacity).
 *
 * Everything is allocated by rp_devtable_create() for `capacity` devices; no call
 * after that allocates. The table is pure: it makes no syscalls and reads no clock.
 * Every `now` is passed in by the caller, in any monotonic uint64 unit (the daemon
 * uses ms), and must be non-decreasing across add/touch calls: LRU order is the
 * order of those calls, and prune stops at the first fresh device it meets walking
 * from the LRU tail, so it is exact only when that order matches last_seen.
 *
 * Not thread-safe: the caller serializes every call, the control thread's iteration
 * with rp_devtable_next() included.
 *
 * Slots and generations: a slot is reused after its device is removed, evicted or
 * pruned, and its generation is bumped each time the slot is freed. A (slot, gen)
 * pair taken while a device was live never validates again after that device goes
 * (rp_devtable_is_live()), so a late reply naming a reused slot is recognized.
 * Generations count modulo 2^30 (the record keeps two flags in the word's top bits): a
 * slot would have to be reused 2^30 times before an old pair could match again.
 *
 * Memory: create allocates for `capacity` devices but writes nothing, so only the
 * pages that devices have used cost memory (the index's pages as hashing spreads them).
 *
 * Bad slots: rp_devtable_is_live() accepts any slot and gen (they come off the wire);
 * rp_devtable_remove() returns -EINVAL for a slot >= capacity and -ENOENT for a free
 * slot; rp_devtable_gen() accepts any slot < capacity, free or not. Every other call
 * that takes a slot requires a slot in use and calls abort() otherwise: such a slot
 * can only come from a bug in the caller, and carrying on would corrupt the LRU list
 * and the suspended count.
 */
#ifndef RP_DEVTABLE_H
#define RP_DEVTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "ringprobe/addr.h"

/* Largest capacity rp_devtable_create() accepts. */
#define RP_DEVTABLE_MAX_CAPACITY (UINT32_C(1) << 28)

/* `slot` of a struct rp_dev_ref that names no device (addr and gen are zero then). */
#define RP_DEVTABLE_NO_SLOT UINT32_MAX

struct rp_devtable;

/* A device as it was when reported: its generation is the one it was live with. */
struct rp_dev_ref {
	struct rp_ip addr;
	uint32_t slot;
	uint32_t gen;
};

struct rp_devtable_stats {
	uint32_t count;
	uint32_t capacity;
	uint32_t suspended;
	uint64_t added;	  /* new devices inserted by rp_devtable_add() */
	uint64_t evicted; /* LRU devices dropped to make room for a new one */
	uint64_t removed; /* successful rp_devtable_remove() calls */
	uint64_t pruned;  /* devices dropped by rp_devtable_prune() */
	uint64_t touched; /* rp_devtable_touch() calls plus adds of an address present */
};

/* Called by rp_devtable_prune() once per pruned device, while it is still live. It may
 * read the table but must not change it. */
typedef void (*rp_devtable_cb)(const struct rp_dev_ref *dev, void *arg);

/** Allocate a table for 1..RP_DEVTABLE_MAX_CAPACITY devices (else -EINVAL); aborts on OOM. */
int rp_devtable_create(struct rp_devtable **out, uint32_t capacity);
/** Advises huge pages for the table's arrays (rp_advise_huge): for a table on the
 *  per-probe path that the fleet fills (a probe thread's), not for one that holds a
 *  few of `capacity` (its index is read at random: each device would cost 2 MiB).
 *  Returns the bytes advised. */
size_t rp_devtable_advise_huge(struct rp_devtable *t);
/** Free a table from rp_devtable_create(); NULL is a no-op. */
void rp_devtable_destroy(struct rp_devtable *t);

/** Add addr seen at now, or touch it if present; returns its slot (always >= 0).
 *  *is_new (nullable) tells which. If the table was full, the least recently seen device
 *  is evicted and its slot reused; *evicted (nullable) receives it, with the gen it had,
 *  or {::, RP_DEVTABLE_NO_SLOT, 0} when nothing was evicted. */
int32_t rp_devtable_add(struct rp_devtable *t, const struct rp_ip *addr, uint64_t now, bool *is_new,
			struct rp_dev_ref *evicted);
/** Slot of addr, or -ENOENT. */
int32_t rp_devtable_lookup(const struct rp_devtable *t, const struct rp_ip *addr);
/** Set last_seen of a used slot to now and make it the most recently seen. */
void rp_devtable_touch(struct rp_devtable *t, uint32_t slot, uint64_t now);
/** Remove the device in slot: 0, -ENOENT if the slot is free, -EINVAL if out of range. */
int rp_devtable_remove(struct rp_devtable *t, uint32_t slot);
/** Remove every device with now - last_seen > max_age, calling cb (nullable) for each,
 *  least recently seen first, before its slot is freed; returns how many. */
uint32_t rp_devtable_prune(struct rp_devtable *t, uint64_t now, uint64_t max_age, rp_devtable_cb cb,
			   void *arg);

/** Suspend a used slot until `until`; suspending again only replaces `until`. */
void rp_devtable_suspend(struct rp_devtable *t, uint32_t slot, uint64_t until);
/** Clear the suspension of a used slot; a no-op if it is not suspended. */
void rp_devtable_resume(struct rp_devtable *t, uint32_t slot);
/** Whether a used slot is suspended; the caller compares suspended_until with its now. */
bool rp_devtable_is_suspended(const struct rp_devtable *t, uint32_t slot);
/** The `until` of a suspended used slot, 0 when it is not suspended. */
uint64_t rp_devtable_suspended_until(const struct rp_devtable *t, uint32_t slot);

/** Whether slot is in use with generation gen; any slot and gen are accepted. */
bool rp_devtable_is_live(const struct rp_devtable *t, uint32_t slot, uint32_t gen);
/** Address in a used slot (valid until the slot is freed). */
const struct rp_ip *rp_devtable_addr(const struct rp_devtable *t, uint32_t slot);
/** A hint: start loading the slot's address and generation into the cache (any slot). */
void rp_devtable_prefetch(const struct rp_devtable *t, uint32_t slot);
/** Generation of a slot < capacity; for a free slot, the one its next device will get. */
uint32_t rp_devtable_gen(const struct rp_devtable *t, uint32_t slot);
/** last_seen of a used slot. */
uint64_t rp_devtable_last_seen(const struct rp_devtable *t, uint32_t slot);
/** Number of devices in the table. */
uint32_t rp_devtable_count(const struct rp_devtable *t);
/** Number of suspended devices in the table. */
uint32_t rp_devtable_suspended_count(const struct rp_devtable *t);
/** The least recently seen slot (next to be evicted), or -ENOENT when empty. */
int32_t rp_devtable_oldest(const struct rp_devtable *t);
/** Snapshot every counter into *out. */
void rp_devtable_stats(const struct rp_devtable *t, struct rp_devtable_stats *out);
/** First used slot > after (start with -1), or -ENOENT; O(capacity) for a full walk. */
int32_t rp_devtable_next(const struct rp_devtable *t, int32_t after);

#endif
