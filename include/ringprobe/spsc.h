/* Lock-free single-producer single-consumer ring of fixed-size elements (linux
 * include/linux/kfifo.h, DPDK lib/ring/rte_ring_c11_pvt.h).
 *
 * One producer thread, one consumer thread. Exactly one thread may call the
 * producer functions (push, try_push, space) and exactly one thread the consumer
 * functions (pop, used, empty); they may be the same thread. A multi-producer
 * ring is a different type. capacity, drops and pushed_total may be read from
 * any thread.
 *
 * Invariants (C = capacity, a power of two):
 *
 *      tail                      head          free-running uint32_t, slot = idx & (C - 1)
 *       |<------- used ---------->|<-- space -->|
 *       0 <= head - tail <= C     (unsigned subtraction, so the indices may wrap)
 *
 * The ring holds exactly C items. Items are copied in and out with memcpy. The
 * producer writes slots then publishes head with a release store; the consumer
 * acquires head, reads slots, then releases tail. When the ring is full,
 * rp_spsc_push() keeps what fits and counts the rest as drops; it never blocks.
 */
#ifndef RP_SPSC_H
#define RP_SPSC_H

#include <stdbool.h>
#include <stdint.h>

#define RP_SPSC_MAX_ELEM_SIZE 4096u

struct rp_spsc;

/** capacity 2^k >= 2, elem_size 1..4096, else -EINVAL. Caller owns *out, set only on success. */
int rp_spsc_create(struct rp_spsc **out, uint32_t capacity, uint32_t elem_size);
/** Free a ring made by rp_spsc_create(); NULL is a no-op. No thread may still be using it. */
void rp_spsc_destroy(struct rp_spsc *r);

/** Producer: copy in the first min(n, space) items, count the rest as drops; returns pushed. */
uint32_t rp_spsc_push(struct rp_spsc *r, const void *items, uint32_t n);
/** Producer: copy in all n items, or none if they do not fit (no drop counted); returns n or 0. */
uint32_t rp_spsc_try_push(struct rp_spsc *r, const void *items, uint32_t n);
/** Consumer: copy up to `max` items into `out`, oldest first; returns the count (0 when empty). */
uint32_t rp_spsc_pop(struct rp_spsc *r, void *out, uint32_t max);

/** Producer: free slots now; the true value can only grow until the producer pushes again. */
uint32_t rp_spsc_space(struct rp_spsc *r);
/** Consumer: items ready now; the true value can only grow until the consumer pops again. */
uint32_t rp_spsc_used(struct rp_spsc *r);
/** Consumer: whether there is nothing to pop right now. */
bool rp_spsc_empty(struct rp_spsc *r);

/** Any thread: number of elements the ring holds when full. */
uint32_t rp_spsc_capacity(const struct rp_spsc *r);
/** Any thread: element size in bytes given at create. */
uint32_t rp_spsc_elem_size(const struct rp_spsc *r);
/** Any thread: items rp_spsc_push() has refused since create (relaxed, may lag the producer). */
uint64_t rp_spsc_drops(const struct rp_spsc *r);
/** Any thread: items ever accepted by push and try_push (relaxed, may lag the producer). */
uint64_t rp_spsc_pushed_total(const struct rp_spsc *r);

#endif
