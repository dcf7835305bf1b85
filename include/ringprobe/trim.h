/* Giving back the pages of a ring that its consumer has passed.
 *
 * A ring walked by free-running indexes (head = next to read, tail = next to write,
 * masked on access) writes every entry once per lap, so after one lap all of it is
 * resident even when it holds only a few entries at a time: the shard's timeout FIFO
 * and ready queue at 1M devices are 2 x 48 and 2 x 8 MiB of which ~1 s of probes is
 * in use. rp_ring_trim() hands the whole pages behind the head back to the kernel
 * (MADV_DONTNEED: they read as zeros and cost nothing until written again), once at
 * least RP_TRIM_BYTES have been read since the last time: one system call per MiB
 * read, never per entry.
 *
 * For rings whose producer and consumer are one thread only: the pages given back
 * are those of entries [max(*given, tail - size), head), which only that thread
 * writes next. The memory must be private anonymous or heap (malloc/calloc). */
#ifndef RP_TRIM_H
#define RP_TRIM_H

#include <stddef.h>
#include <stdint.h>

#define RP_TRIM_BYTES (1u << 20)

/** Ring of mask + 1 entries of esz bytes at base; *given (start at head, e.g. 0) is
 *  where the last trim stopped and is moved to head. Returns the bytes given back. */
size_t rp_ring_trim(void *base, size_t esz, uint32_t mask, uint32_t *given, uint32_t head,
		    uint32_t tail);

#endif
