/* The last SNMP facts per device (include/ringprobe/facts.h): a device table from address
 * to slot, per slot the offset of its sysName in one arena of NUL-terminated names.
 *
 * A changed name is appended and the old one becomes garbage; when the arena is full the
 * store compacts it (if the garbage outweighs the names kept, and is worth a copy) or
 * doubles it. Either way the work is paid for by the bytes appended since the last one, so
 * a set costs O(1) amortized; a compaction walks the slots in use once. The device table
 * likewise doubles when full (up to the store's cap; past it the least recently set
 * device makes room), re-adding its devices in LRU order. All of it happens
 * under the mutex, which readers take only to copy one name. */
#include "ringprobe/facts.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/devtable.h"
#include "ringprobe/snmp.h"
#include "ringprobe/xalloc.h"

/* The arena's first size, and the least garbage worth a compaction. */
#define ARENA_MIN 4096u
/* The device table's first capacity. */
#define TABLE_MIN 1024u

struct rp_facts {
	pthread_mutex_t lock;  /* the writer holds it while it changes anything below; a
				* reader while it copies a name */
	struct rp_devtable *t; /* address -> slot; LRU order = order of the sets */
	uint32_t *off;	       /* per slot: its name's offset in arena */
	uint32_t tcap, max;    /* t's capacity now; the most it may grow to */
	char *arena;
	uint32_t len, cap; /* bytes of arena used, allocated */
	uint64_t garbage;  /* bytes of len no slot names */
	uint64_t clock;	   /* the devtable's "now": one tick per set */
	uint64_t changes, compacted;
};

int rp_facts_create(struct rp_facts **out, uint32_t cap)
{
	struct rp_facts *f;
	int err;

	if (cap < 1 || cap > RP_DEVTABLE_MAX_CAPACITY)
		return -EINVAL;
	f = rp_xcalloc(1, sizeof(*f));
	err = pthread_mutex_init(&f->lock, NULL);
	if (err) {
		free(f);
		return -err;
	}
	/* The table starts small and doubles as devices answer: a table sized for
	 * max_devices at once would cost its whole index (16 bytes a device), which
	 * hashing touches everywhere, for the first few thousand answers. */
	f->max = cap;
	f->tcap = cap < TABLE_MIN ? cap : TABLE_MIN;
	rp_devtable_create(&f->t, f->tcap);
	f->off = rp_xcalloc(f->tcap, sizeof(*f->off));
	*out = f;
	return 0;
}

void rp_facts_destroy(struct rp_facts *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->lock);
	rp_devtable_destroy(f->t);
	free(f->off);
	free(f->arena);
	free(f);
}

/* Length of s cut to at most max bytes without splitting a UTF-8 character. */
static size_t cut(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* Under the lock: the names still named, copied to a fresh arena of `cap` bytes. */
static void repack(struct rp_facts *f, uint32_t cap)
{
	char *a = rp_xmalloc(cap);
	uint32_t len = 0;

	for (int32_t s = rp_devtable_next(f->t, -1); s >= 0; s = rp_devtable_next(f->t, s)) {
		const char *name = f->arena + f->off[s];
		size_t n = strlen(name) + 1;

		memcpy(a + len, name, n);
		f->off[s] = len;
		len += (uint32_t)n;
	}
	free(f->arena);
	f->arena = a;
	f->len = len;
	f->cap = cap;
	f->garbage = 0;
	f->compacted++;
}

struct aged {
	uint64_t seen;
	uint32_t slot;
};

static int by_seen(const void *a, const void *b)
{
	const struct aged *x = a, *y = b;

	return (x->seen > y->seen) - (x->seen < y->seen);
}

/* Under the lock, with the table full below max: a table twice the size, the devices
 * re-added least recently set first (so the LRU order holds), names where they are. */
static void grow(struct rp_facts *f)
{
	uint32_t cap = f->tcap > f->max / 2 ? f->max : 2 * f->tcap, n = 0;
	struct aged *v = rp_xcalloc(f->tcap, sizeof(*v));
	struct rp_devtable *t;
	uint32_t *off = rp_xcalloc(cap, sizeof(*off));

	for (int32_t s = rp_devtable_next(f->t, -1); s >= 0; s = rp_devtable_next(f->t, s))
		v[n++] = (struct aged){rp_devtable_last_seen(f->t, (uint32_t)s), (uint32_t)s};
	qsort(v, n, sizeof(*v), by_seen);
	rp_devtable_create(&t, cap);
	for (uint32_t i = 0; i < n; i++) {
		int32_t slot =
		    rp_devtable_add(t, rp_devtable_addr(f->t, v[i].slot), v[i].seen, NULL, NULL);

		off[slot] = f->off[v[i].slot];
	}
	rp_devtable_destroy(f->t);
	free(f->off);
	free(v);
	f->t = t;
	f->off = off;
	f->tcap = cap;
	/* glibc keeps freed tables below its (raised) mmap threshold in the heap: give
	 * their pages back, or a million devices would hold the last sizes' too (+26 MB). */
	malloc_trim(0);
}

/* Under the lock: room for need more bytes. */
static void make_room(struct rp_facts *f, uint32_t need)
{
	uint64_t live, cap;

	if ((uint64_t)f->len + need <= f->cap)
		return;
	live = f->len - f->garbage;
	cap = f->cap ? f->cap : ARENA_MIN;
	/* At most RP_DEVTABLE_MAX_CAPACITY names of RP_SNMP_NAME_MAX bytes: 2^36, so the
	 * arena's offsets would overflow first; the table's cap keeps it far below. */
	while (cap < 2 * (live + need))
		cap *= 2;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	if (f->garbage >= ARENA_MIN && f->garbage >= live)
		repack(f, (uint32_t)cap); /* may shrink as well as grow */
	else if (cap > f->cap) {
		f->arena = rp_xrealloc(f->arena, (size_t)cap);
		f->cap = (uint32_t)cap;
	}
	if ((uint64_t)f->len + need > f->cap)
		repack(f, (uint32_t)cap);
}

bool rp_facts_set_sysname(struct rp_facts *f, const struct rp_ip *addr, const char *name)
{
	size_t n = cut(name, RP_SNMP_NAME_MAX - 1);
	int32_t slot = rp_devtable_lookup(f->t, addr);
	bool is_new = false;

	if (!n) {
		if (slot < 0)
			return false;
		rp_facts_forget(f, addr);
		return true;
	}
	if (slot >= 0) {
		const char *old = f->arena + f->off[slot];

		if (strncmp(old, name, n) == 0 && old[n] == '\0') {
			/* the LRU links share words with what a reader's lookup reads */
			pthread_mutex_lock(&f->lock);
			rp_devtable_touch(f->t, (uint32_t)slot, ++f->clock);
			pthread_mutex_unlock(&f->lock);
			return false;
		}
	}
	pthread_mutex_lock(&f->lock);
	make_room(f, (uint32_t)n + 1);
	if (slot >= 0) {
		f->garbage += strlen(f->arena + f->off[slot]) + 1;
		rp_devtable_touch(f->t, (uint32_t)slot, ++f->clock);
	} else {
		struct rp_dev_ref ev;

		if (rp_devtable_count(f->t) >= f->tcap && f->tcap < f->max)
			grow(f);
		slot = rp_devtable_add(f->t, addr, ++f->clock, &is_new, &ev);
		if (ev.slot != RP_DEVTABLE_NO_SLOT) /* full: the evicted one's name is garbage */
			f->garbage += strlen(f->arena + f->off[slot]) + 1;
	}
	memcpy(f->arena + f->len, name, n);
	f->arena[f->len + n] = '\0';
	f->off[slot] = f->len;
	f->len += (uint32_t)n + 1;
	f->changes++;
	pthread_mutex_unlock(&f->lock);
	return true;
}

void rp_facts_forget(struct rp_facts *f, const struct rp_ip *addr)
{
	int32_t slot;

	if (!f || (slot = rp_devtable_lookup(f->t, addr)) < 0)
		return;
	pthread_mutex_lock(&f->lock);
	f->garbage += strlen(f->arena + f->off[slot]) + 1;
	rp_devtable_remove(f->t, (uint32_t)slot);
	pthread_mutex_unlock(&f->lock);
}

size_t rp_facts_sysname(struct rp_facts *f, const struct rp_ip *addr, char *buf, size_t cap)
{
	size_t n = 0;
	int32_t slot;

	if (cap)
		buf[0] = '\0';
	if (!f || !cap)
		return 0;
	pthread_mutex_lock(&f->lock);
	slot = rp_devtable_lookup(f->t, addr);
	if (slot >= 0) {
		const char *name = f->arena + f->off[slot];

		n = cut(name, cap - 1);
		memcpy(buf, name, n);
		buf[n] = '\0';
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

void rp_facts_stats(struct rp_facts *f, struct rp_facts_stats *out)
{
	pthread_mutex_lock(&f->lock);
	*out = (struct rp_facts_stats){
	    .devices = rp_devtable_count(f->t),
	    .arena = f->cap,
	    .used = f->len,
	    .garbage = f->garbage,
	    .changes = f->changes,
	    .compacted = f->compacted,
	};
	pthread_mutex_unlock(&f->lock);
}
