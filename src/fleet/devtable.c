/* Device table: an open-addressing index from address (either family) to slot, over a fixed array
 * of slot records that carry an intrusive LRU list (by last seen) and a free list.
 *
 * Every operation but rp_devtable_next() is O(1) expected (prune is O(removed)): the
 * index is kept at most three quarters full (a probe run of 2.5 buckets on a hit and
 * 8.5 on a miss at worst, 8 bytes each: one or two cache lines) and deletes by backward
 * shift instead of tombstones, so probe sequences stay as short after millions of
 * add/remove as on a fresh table. Three quarters, not half: at a million devices the
 * index is 8 MiB per table instead of 16, and a full table is the rare case (the shards
 * are sized 1.25x their share).
 *
 * Memory: the arrays come zeroed from calloc and create writes none of them, so a page
 * costs memory only once a device has used it. Slots from `fresh` on have never held a
 * device (all zero: free, generation 0); the free list holds only slots given back, and
 * a new device takes the last one given back, else slot `fresh`: the same order as one
 * free list through every slot built at create (0, 1, 2, ... on a fresh table).
 */
#include "ringprobe/devtable.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/compiler.h"
#include "ringprobe/hash.h"
#include "ringprobe/xalloc.h"

/* End of the LRU list and of the free list. */
#define NIL UINT32_MAX

/* One index bucket. The address's 32-bit hash is kept next to the slot so a probe
 * compares keys without touching the slot records: a step costs no cache miss, and a hit
 * one (the record, to confirm the address). For IPv4 the hash is a bijection, so only
 * a true hit or an IPv6 address's collision reads a record. */
struct bucket {
	uint32_t hash;
	uint32_t slot1; /* slot + 1; 0 marks an empty bucket */
};

/* gen_flags of a slot record: the generation in the low 30 bits (it counts modulo
 * 2^30, so a (slot, gen) with a higher gen never validates), and two flags. */
#define F_USED 0x80000000u
#define F_SUSPENDED 0x40000000u
#define GEN_MASK 0x3fffffffu

/* One slot record, 36 bytes: 4-byte aligned (last_seen in two halves), with the flags
 * in the generation's word. suspended_until lives in its own array because only
 * suspended slots read it. */
struct dev {
	struct rp_ip addr;
	uint32_t gen_flags;
	uint32_t prev;		   /* toward the head (more recently seen) */
	uint32_t next;		   /* toward the tail when used; the free-list link when free */
	uint32_t seen_lo, seen_hi; /* last_seen */
};

_Static_assert(sizeof(struct dev) == 36, "struct dev grew: 1M devices cost 36 MB per table");

struct rp_devtable {
	struct bucket *index;
	struct dev *dev;
	uint64_t *until;
	uint32_t mask; /* index size - 1; the size is a power of two >= 4/3 capacity */
	uint32_t capacity;
	uint32_t count;
	uint32_t suspended;
	uint32_t head;	    /* most recently seen, or NIL */
	uint32_t tail;	    /* least recently seen, or NIL */
	uint32_t free_head; /* the last slot given back, or NIL */
	uint32_t fresh;	    /* slots from here on have never been used */
	uint64_t added;
	uint64_t evicted;
	uint64_t removed;
	uint64_t pruned;
	uint64_t touched;
};

/* A slot that is out of range or free reached a call that needs a used one. Only a
 * caller bug gets here, and going on would corrupt the lists, so stop loudly. */
__attribute__((cold)) static _Noreturn void bad_slot(const char *fn, uint32_t slot,
						     uint32_t capacity)
{
	fprintf(stderr, "ringprobe: %s: slot %u is %s\n", fn, slot,
		slot >= capacity ? "out of range" : "free");
	abort();
}

static inline bool slot_used(const struct dev *d)
{
	return d->gen_flags & F_USED;
}

static inline bool slot_suspended(const struct dev *d)
{
	return d->gen_flags & F_SUSPENDED;
}

static inline uint64_t seen(const struct dev *d)
{
	return (uint64_t)d->seen_hi << 32 | d->seen_lo;
}

static inline void set_seen(struct dev *d, uint64_t now)
{
	d->seen_lo = (uint32_t)now;
	d->seen_hi = (uint32_t)(now >> 32);
}

static inline void need_used(const struct rp_devtable *t, uint32_t slot, const char *fn)
{
	if (RP_UNLIKELY(slot >= t->capacity || !slot_used(&t->dev[slot])))
		bad_slot(fn, slot, t->capacity);
}

static inline uint32_t home(const struct rp_devtable *t, uint32_t hash)
{
	return hash & t->mask;
}

/* Delete the bucket holding slot, then shift later entries of the probe run back into
 * the hole so no lookup ever has to step over a dead bucket. */
static void index_delete(struct rp_devtable *t, uint32_t hash, uint32_t slot)
{
	struct bucket *index = t->index;
	uint32_t mask = t->mask;
	uint32_t i = home(t, hash);
	uint32_t j, k;

	while (index[i].slot1 != slot + 1)
		i = (i + 1) & mask;

	for (j = i;;) {
		j = (j + 1) & mask;
		if (!index[j].slot1)
			break;
		k = home(t, index[j].hash);
		/* The entry at j may fill the hole at i only if its home is not in the
		 * cyclic range (i, j]; else moving it would put it before its home. */
		if (((j - k) & mask) >= ((j - i) & mask)) {
			index[i] = index[j];
			i = j;
		}
	}
	index[i].slot1 = 0;
	index[i].hash = 0;
}

/* First empty bucket on hash's probe run; the caller knows the address is absent. */
static uint32_t index_empty_for(const struct rp_devtable *t, uint32_t hash)
{
	uint32_t i = home(t, hash);

	while (t->index[i].slot1)
		i = (i + 1) & t->mask;
	return i;
}

static void lru_unlink(struct rp_devtable *t, uint32_t slot)
{
	struct dev *d = &t->dev[slot];

	if (d->prev != NIL)
		t->dev[d->prev].next = d->next;
	else
		t->head = d->next;
	if (d->next != NIL)
		t->dev[d->next].prev = d->prev;
	else
		t->tail = d->prev;
}

static void lru_push_head(struct rp_devtable *t, uint32_t slot)
{
	struct dev *d = &t->dev[slot];

	d->prev = NIL;
	d->next = t->head;
	if (t->head != NIL)
		t->dev[t->head].prev = slot;
	else
		t->tail = slot;
	t->head = slot;
}

/* Take a used slot out of the index, the LRU list and the suspended count and bump its
 * generation. The slot is left off the free list: eviction reuses it at once. */
static void vacate(struct rp_devtable *t, uint32_t slot)
{
	struct dev *d = &t->dev[slot];

	index_delete(t, rp_ip_hash32(&d->addr), slot);
	lru_unlink(t, slot);
	if (slot_suspended(d)) {
		t->until[slot] = 0;
		t->suspended--;
	}
	d->gen_flags = (d->gen_flags + 1) & GEN_MASK; /* free, not suspended */
	memset(&d->addr, 0, sizeof(d->addr));
	set_seen(d, 0);
	d->prev = NIL;
	d->next = NIL;
	t->count--;
}

static void release(struct rp_devtable *t, uint32_t slot)
{
	vacate(t, slot);
	t->dev[slot].next = t->free_head;
	t->free_head = slot;
}

static struct rp_dev_ref ref_of(const struct rp_devtable *t, uint32_t slot)
{
	struct rp_dev_ref ref = {
	    .addr = t->dev[slot].addr,
	    .slot = slot,
	    .gen = t->dev[slot].gen_flags & GEN_MASK,
	};

	return ref;
}

int rp_devtable_create(struct rp_devtable **out, uint32_t capacity)
{
	struct rp_devtable *t;
	uint64_t size = 2;
	uint64_t ndev = capacity;

	if (capacity < 1 || capacity > RP_DEVTABLE_MAX_CAPACITY)
		return -EINVAL;
	while (3 * size < 4 * (uint64_t)capacity)
		size <<= 1;
	/* Only a 32-bit build can get here with a table that does not fit size_t. */
	if (size > SIZE_MAX / sizeof(struct bucket) || ndev > SIZE_MAX / sizeof(struct dev))
		return -ENOMEM;

	/* calloc, not an aligned allocation that memsets: large arrays come as fresh
	 * zero pages, which cost memory only once written (a table sized for a million
	 * devices holding a few costs a few pages). Buckets (8 bytes) never straddle a
	 * cache line at calloc's 16-byte alignment; records (36) do whatever the base. */
	t = rp_xcalloc(1, sizeof(*t));
	t->index = rp_xcalloc((size_t)size, sizeof(struct bucket));
	t->dev = rp_xcalloc(capacity, sizeof(struct dev));
	t->until = rp_xcalloc(capacity, sizeof(uint64_t));
	t->mask = (uint32_t)(size - 1);
	t->capacity = capacity;
	t->head = NIL;
	t->tail = NIL;
	t->free_head = NIL;
	t->fresh = 0;

	*out = t;
	return 0;
}

size_t rp_devtable_advise_huge(struct rp_devtable *t)
{
	return rp_advise_huge(t->index, ((size_t)t->mask + 1) * sizeof(struct bucket)) +
	       rp_advise_huge(t->dev, (size_t)t->capacity * sizeof(struct dev)) +
	       rp_advise_huge(t->until, (size_t)t->capacity * sizeof(uint64_t));
}

void rp_devtable_destroy(struct rp_devtable *t)
{
	if (!t)
		return;
	free(t->index);
	free(t->dev);
	free(t->until);
	free(t);
}

int32_t rp_devtable_add(struct rp_devtable *t, const struct rp_ip *addr, uint64_t now, bool *is_new,
			struct rp_dev_ref *evicted)
{
	uint32_t hash = rp_ip_hash32(addr), i = home(t, hash);
	uint32_t slot, s1;
	struct dev *d;

	if (evicted) {
		memset(&evicted->addr, 0, sizeof(evicted->addr));
		evicted->slot = RP_DEVTABLE_NO_SLOT;
		evicted->gen = 0;
	}

	/* One probe run answers both "present?" and "where would it go?". */
	while ((s1 = t->index[i].slot1)) {
		if (t->index[i].hash == hash && rp_ip_eq(&t->dev[s1 - 1].addr, addr)) {
			slot = s1 - 1;
			set_seen(&t->dev[slot], now);
			if (slot != t->head) {
				lru_unlink(t, slot);
				lru_push_head(t, slot);
			}
			t->touched++;
			if (is_new)
				*is_new = false;
			return (int32_t)slot;
		}
		i = (i + 1) & t->mask;
	}

	if (t->count == t->capacity) {
		slot = t->tail;
		if (evicted)
			*evicted = ref_of(t, slot);
		vacate(t, slot);
		t->evicted++;
		/* The backward shift may have moved entries of addr's run: look again. */
		i = index_empty_for(t, hash);
	} else if (t->free_head != NIL) {
		slot = t->free_head;
		t->free_head = t->dev[slot].next;
	} else {
		slot = t->fresh++;
	}

	t->index[i].hash = hash;
	t->index[i].slot1 = slot + 1;
	d = &t->dev[slot];
	d->addr = *addr;
	set_seen(d, now);
	d->gen_flags = (d->gen_flags & GEN_MASK) | F_USED;
	lru_push_head(t, slot);
	t->count++;
	t->added++;
	if (is_new)
		*is_new = true;
	return (int32_t)slot;
}

int32_t rp_devtable_lookup(const struct rp_devtable *t, const struct rp_ip *addr)
{
	uint32_t hash, i;
	uint32_t s1;

	/* An empty table (the fleet's found devices when every device is configured) is
	 * answered without touching its index: one cache miss a result saved at 1M. */
	if (!t->count)
		return -ENOENT;
	hash = rp_ip_hash32(addr);
	i = home(t, hash);
	while ((s1 = t->index[i].slot1)) {
		if (t->index[i].hash == hash && rp_ip_eq(&t->dev[s1 - 1].addr, addr))
			return (int32_t)(s1 - 1);
		i = (i + 1) & t->mask;
	}
	return -ENOENT;
}

void rp_devtable_touch(struct rp_devtable *t, uint32_t slot, uint64_t now)
{
	need_used(t, slot, __func__);
	set_seen(&t->dev[slot], now);
	if (slot != t->head) {
		lru_unlink(t, slot);
		lru_push_head(t, slot);
	}
	t->touched++;
}

int rp_devtable_remove(struct rp_devtable *t, uint32_t slot)
{
	if (slot >= t->capacity)
		return -EINVAL;
	if (!slot_used(&t->dev[slot]))
		return -ENOENT;
	release(t, slot);
	t->removed++;
	return 0;
}

uint32_t rp_devtable_prune(struct rp_devtable *t, uint64_t now, uint64_t max_age, rp_devtable_cb cb,
			   void *arg)
{
	uint32_t n = 0;
	uint32_t slot;
	struct rp_dev_ref ref;

	/* The tail is the oldest as long as `now` never went backwards, so the first
	 * device young enough to keep ends the walk. A last_seen ahead of this `now`
	 * counts as age 0 rather than wrapping to a huge age. */
	while ((slot = t->tail) != NIL) {
		uint64_t last = seen(&t->dev[slot]);

		if (last >= now || now - last <= max_age)
			break;
		if (cb) {
			ref = ref_of(t, slot);
			cb(&ref, arg);
		}
		release(t, slot);
		n++;
	}
	t->pruned += n;
	return n;
}

void rp_devtable_suspend(struct rp_devtable *t, uint32_t slot, uint64_t until)
{
	need_used(t, slot, __func__);
	if (!slot_suspended(&t->dev[slot])) {
		t->dev[slot].gen_flags |= F_SUSPENDED;
		t->suspended++;
	}
	t->until[slot] = until;
}

void rp_devtable_resume(struct rp_devtable *t, uint32_t slot)
{
	need_used(t, slot, __func__);
	if (slot_suspended(&t->dev[slot])) {
		t->dev[slot].gen_flags &= ~F_SUSPENDED;
		t->until[slot] = 0;
		t->suspended--;
	}
}

bool rp_devtable_is_suspended(const struct rp_devtable *t, uint32_t slot)
{
	need_used(t, slot, __func__);
	return slot_suspended(&t->dev[slot]);
}

uint64_t rp_devtable_suspended_until(const struct rp_devtable *t, uint32_t slot)
{
	need_used(t, slot, __func__);
	return t->until[slot];
}

bool rp_devtable_is_live(const struct rp_devtable *t, uint32_t slot, uint32_t gen)
{
	/* A gen above GEN_MASK (off the wire) never matches. */
	return slot < t->capacity && slot_used(&t->dev[slot]) &&
	       (t->dev[slot].gen_flags & GEN_MASK) == gen;
}

const struct rp_ip *rp_devtable_addr(const struct rp_devtable *t, uint32_t slot)
{
	need_used(t, slot, __func__);
	return &t->dev[slot].addr;
}

void rp_devtable_prefetch(const struct rp_devtable *t, uint32_t slot)
{
	if (slot < t->capacity) {
		/* A 36-byte record may straddle two lines: its address's first byte and its
		 * generation's last. */
		__builtin_prefetch(&t->dev[slot].addr);
		__builtin_prefetch((const char *)&t->dev[slot].gen_flags + sizeof(uint32_t) - 1);
	}
}

uint32_t rp_devtable_gen(const struct rp_devtable *t, uint32_t slot)
{
	if (RP_UNLIKELY(slot >= t->capacity))
		bad_slot(__func__, slot, t->capacity);
	return t->dev[slot].gen_flags & GEN_MASK;
}

uint64_t rp_devtable_last_seen(const struct rp_devtable *t, uint32_t slot)
{
	need_used(t, slot, __func__);
	return seen(&t->dev[slot]);
}

uint32_t rp_devtable_count(const struct rp_devtable *t)
{
	return t->count;
}

uint32_t rp_devtable_suspended_count(const struct rp_devtable *t)
{
	return t->suspended;
}

int32_t rp_devtable_oldest(const struct rp_devtable *t)
{
	return t->tail == NIL ? -ENOENT : (int32_t)t->tail;
}

void rp_devtable_stats(const struct rp_devtable *t, struct rp_devtable_stats *out)
{
	out->count = t->count;
	out->capacity = t->capacity;
	out->suspended = t->suspended;
	out->added = t->added;
	out->evicted = t->evicted;
	out->removed = t->removed;
	out->pruned = t->pruned;
	out->touched = t->touched;
}

int32_t rp_devtable_next(const struct rp_devtable *t, int32_t after)
{
	uint32_t slot;

	if (after >= (int64_t)t->capacity)
		return -ENOENT;
	/* Slots from `fresh` on have never been used. */
	for (slot = after < 0 ? 0 : (uint32_t)after + 1; slot < t->fresh; slot++) {
		if (slot_used(&t->dev[slot]))
			return (int32_t)slot;
	}
	return -ENOENT;
}
