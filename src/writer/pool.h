/* A fixed pool of line buffers (h2o h2o_mem_recycle_t, curl struct bufc_pool): every buffer is
 * allocated by rp_pool_create() in one allocation and recycled through an intrusive free list,
 * so encoding and flushing never allocate. rp_pool_get() returns NULL when every buffer is out;
 * the caller counts that, it is not an error to log.
 *
 * Not thread-safe: one owner thread at a time. In ringprobe the writer thread gets buffers and
 * the flusher, running on the same thread, puts them back; handing the pool to another thread
 * needs the caller's own synchronisation. */
#ifndef RP_POOL_H
#define RP_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "ringprobe/line.h"

struct rp_pool;

/** Makes `nbufs` buffers of `bufsize` bytes (aborts on OOM); 0, or -EINVAL for 0 or overflow. */
int rp_pool_create(struct rp_pool **out, uint32_t nbufs, size_t bufsize);
/** Frees the pool and all its buffers, including any still out; NULL is a no-op. */
void rp_pool_destroy(struct rp_pool *p);
/** Takes a free buffer (len 0, points 0, cap bufsize) the caller owns until put; NULL if none. */
struct rp_linebuf *rp_pool_get(struct rp_pool *p);
/** Gives back a buffer from rp_pool_get(); aborts on a foreign or already free buffer. */
void rp_pool_put(struct rp_pool *p, struct rp_linebuf *b);
/** Buffers free right now. */
uint32_t rp_pool_free_count(const struct rp_pool *p);
/** Buffers in the pool, free or out. */
uint32_t rp_pool_size(const struct rp_pool *p);
/** Capacity of every buffer, in bytes. */
size_t rp_pool_bufsize(const struct rp_pool *p);

#endif
