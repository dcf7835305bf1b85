/* Device table: an open-addressing index from address (either family) to slot, over a fixed array
 * of slot records that carry an intrusive LRU list (by last seen) and a free list.
 *
 * Every operation but rp_devtable_next() is O(1) expected (prune is O(removed)): the
 * index is kept at most half full and deletes by backward shift instead of tombstones,
 * so probe sequences stay as short after millions of add/remove as on a fresh table.
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

/* One slot record, 40 bytes. suspended_until lives in its own array because only
 * suspended slots read it. */
struct dev {
	uint64_t last_seen;
	struct rp_ip addr;
	uint32_t gen;
	uint32_t prev; /* toward the head (more recently seen) */
	uint32_t next; /* toward the tail when used; the free-list link when free */
	uint8_t used;
	uint8_t suspended;
};

_Static_assert(sizeof(struct dev) == 40, "struct dev grew: 1M devices cost 40 MB per table");

struct rp_devtable {
	struct bucket *index;
	struct dev *dev;
	uint64_t *until;
	uint32_t mask; /* index size - 1; the size is a power of two >= 2 * capacity */
	uint32_t capacity;
	uint32_t count;
	uint32_t suspended;
	uint32_t head; /* most recently seen, or NIL */
	uint32_t tail; /* least recently seen, or NIL */
	uint32_t free_head;
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

static inline void need_used(const struct rp_devtable *t, uint32_t slot, const char *fn)
{
	if (RP_UNLIKELY(slot >= t->capacity || !t->dev[slot].used))
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
	if (d->suspended) {
		d->suspended = 0;
		t->until[slot] = 0;
		t->suspended--;
	}
	d->gen++;
	d->used = 0;
	memset(&d->addr, 0, sizeof(d->addr));
	d->last_seen = 0;
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
	    .gen = t->dev[slot].gen,
	};

	return ref;
}

int rp_devtable_create(struct rp_devtable **out, uint32_t capacity)
{
	struct rp_devtable *t;
	uint64_t size = 2;
	uint64_t ndev = capacity;
	uint32_t i;

	if (capacity < 1 || capacity > RP_DEVTABLE_MAX_CAPACITY)
		return -EINVAL;
	while (size < 2 * (uint64_t)capacity)
		size <<= 1;
	/* Only a 32-bit build can get here with a table that does not fit size_t. */
	if (size > SIZE_MAX / sizeof(struct bucket) || ndev > SIZE_MAX / sizeof(struct dev))
		return -ENOMEM;

	t = rp_xcalloc(1, sizeof(*t));
	t->index = rp_xaligned_calloc(RP_CACHELINE, (size_t)size * sizeof(struct bucket));
	t->dev = rp_xaligned_calloc(RP_CACHELINE, (size_t)capacity * sizeof(struct dev));
	t->until = rp_xcalloc(capacity, sizeof(uint64_t));
	t->mask = (uint32_t)(size - 1);
	t->capacity = capacity;
	t->head = NIL;
	t->tail = NIL;

	/* Free list in slot order, so a fresh table hands out 0, 1, 2, ... */
	for (i = 0; i < capacity; i++) {
		t->dev[i].prev = NIL;
		t->dev[i].next = i + 1 < capacity ? i + 1 : NIL;
	}
	t->free_head = 0;

	*out = t;
	return 0;
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
			t->dev[slot].last_seen = now;
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
	} else {
		slot = t->free_head;
		t->free_head = t->dev[slot].next;
	}

	t->index[i].hash = hash;
	t->index[i].slot1 = slot + 1;
	d = &t->dev[slot];
	d->addr = *addr;
	d->last_seen = now;
	d->used = 1;
	d->suspended = 0;
	lru_push_head(t, slot);
	t->count++;
	t->added++;
	if (is_new)
		*is_new = true;
	return (int32_t)slot;
}

int32_t rp_devtable_lookup(const struct rp_devtable *t, const struct rp_ip *addr)
{
	uint32_t hash = rp_ip_hash32(addr), i = home(t, hash);
	uint32_t s1;

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
	t->dev[slot].last_seen = now;
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
	if (!t->dev[slot].used)
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
		uint64_t seen = t->dev[slot].last_seen;

		if (seen >= now || now - seen <= max_age)
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
	if (!t->dev[slot].suspended) {
		t->dev[slot].suspended = 1;
		t->suspended++;
	}
	t->until[slot] = until;
}

void rp_devtable_resume(struct rp_devtable *t, uint32_t slot)
{
	need_used(t, slot, __func__);
	if (t->dev[slot].suspended) {
		t->dev[slot].suspended = 0;
		t->until[slot] = 0;
		t->suspended--;
	}
}

bool rp_devtable_is_suspended(const struct rp_devtable *t, uint32_t slot)
{
	need_used(t, slot, __func__);
	return t->dev[slot].suspended;
}

uint64_t rp_devtable_suspended_until(const struct rp_devtable *t, uint32_t slot)
{
	need_used(t, slot, __func__);
	return t->until[slot];
}

bool rp_devtable_is_live(const struct rp_devtable *t, uint32_t slot, uint32_t gen)
{
	return slot < t->capacity && t->dev[slot].used && t->dev[slot].gen == gen;
}

const struct rp_ip *rp_devtable_addr(const struct rp_devtable *t, uint32_t slot)
{
	need_used(t, slot, __func__);
	return &t->dev[slot].addr;
}

uint32_t rp_devtable_gen(const struct rp_devtable *t, uint32_t slot)
{
	if (RP_UNLIKELY(slot >= t->capacity))
		bad_slot(__func__, slot, t->capacity);
	return t->dev[slot].gen;
}

uint64_t rp_devtable_last_seen(const struct rp_devtable *t, uint32_t slot)
{
	need_used(t, slot, __func__);
	return t->dev[slot].last_seen;
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
	for (slot = after < 0 ? 0 : (uint32_t)after + 1; slot < t->capacity; slot++) {
		if (t->dev[slot].used)
			return (int32_t)slot;
	}
	return -ENOENT;
}
