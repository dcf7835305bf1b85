/* Fixed pool of line buffers (src/writer/pool.h). One allocation holds the pool, the
 * slot array and the data; each buffer's data starts on its own cache line so two buffers
 * never share one. The free list is a LIFO through the slots: the buffer put back last is
 * the next one handed out, still warm in cache. */
#include "writer/pool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "ringprobe/compiler.h"
#include "ringprobe/xalloc.h"

struct slot {
	struct rp_linebuf buf; /* what callers see; put() maps it back by address */
	struct slot *next;     /* free-list link, meaningful while free */
	bool free;
};

struct rp_pool {
	struct slot *slots;
	char *data;
	struct slot *free_head;
	size_t bufsize;
	size_t stride; /* bufsize rounded up to a cache line */
	uint32_t nbufs;
	uint32_t nfree;
};

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

/* Start-up only. rp_xaligned_calloc() zeroes, so every page is touched here, at start-up,
 * rather than page-faulting on the write path later. */
int rp_pool_create(struct rp_pool **out, uint32_t nbufs, size_t bufsize)
{
	size_t head, slots, stride, total;
	struct rp_pool *p;
	char *mem;
	uint32_t i;

	if (!out || nbufs == 0 || bufsize == 0 || bufsize > SIZE_MAX / 2)
		return -EINVAL;
	stride = round_up(bufsize, RP_CACHELINE);
	head = round_up(sizeof(*p), RP_CACHELINE);
	slots = round_up((size_t)nbufs * sizeof(struct slot), RP_CACHELINE);
	if (stride > (SIZE_MAX - head - slots) / nbufs)
		return -EINVAL;
	total = head + slots + stride * nbufs;

	mem = rp_xaligned_calloc(RP_CACHELINE, total);
	p = (struct rp_pool *)(void *)mem;
	p->slots = (struct slot *)(void *)(mem + head);
	p->data = mem + head + slots;
	p->bufsize = bufsize;
	p->stride = stride;
	p->nbufs = nbufs;
	p->nfree = nbufs;
	/* Thread the list so the first get returns buffer 0. */
	for (i = nbufs; i-- > 0;) {
		struct slot *s = &p->slots[i];

		s->buf.data = p->data + (size_t)i * stride;
		s->buf.cap = bufsize;
		s->free = true;
		s->next = p->free_head;
		p->free_head = s;
	}
	*out = p;
	return 0;
}

void rp_pool_destroy(struct rp_pool *p)
{
	free(p);
}

/* Owner thread only. O(1). */
struct rp_linebuf *rp_pool_get(struct rp_pool *p)
{
	struct slot *s = p->free_head;

	if (!s)
		return NULL;
	p->free_head = s->next;
	p->nfree--;
	s->next = NULL;
	s->free = false;
	s->buf.data = p->data + (size_t)(s - p->slots) * p->stride;
	s->buf.cap = p->bufsize;
	s->buf.len = 0;
	s->buf.points = 0;
	return &s->buf;
}

/* Owner thread only. O(1). A buffer that is not one of ours, or is put twice, would corrupt
 * the free list and hand one buffer to two users later: that is a bug, so abort now. */
void rp_pool_put(struct rp_pool *p, struct rp_linebuf *b)
{
	uintptr_t base = (uintptr_t)p->slots, at = (uintptr_t)b;
	struct slot *s;

	if (at < base || at >= base + (uintptr_t)p->nbufs * sizeof(struct slot) ||
	    (at - base) % sizeof(struct slot) != 0)
		abort();
	s = RP_CONTAINER_OF(b, struct slot, buf);
	if (s->free)
		abort();
	s->free = true;
	s->next = p->free_head;
	p->free_head = s;
	p->nfree++;
}

uint32_t rp_pool_free_count(const struct rp_pool *p)
{
	return p->nfree;
}

uint32_t rp_pool_size(const struct rp_pool *p)
{
	return p->nbufs;
}

size_t rp_pool_bufsize(const struct rp_pool *p)
{
	return p->bufsize;
}
