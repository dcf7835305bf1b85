/* Giving back a single-threaded ring's read pages (trim.h). */
#include "ringprobe/trim.h"

#include <sys/mman.h>
#include <unistd.h>

/* The whole pages inside entries [a, b) of the ring at base. */
static size_t give(unsigned char *base, size_t esz, uint32_t a, uint32_t b)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t from = ((uintptr_t)(base + (size_t)a * esz) + page - 1) & ~(page - 1);
	uintptr_t to = (uintptr_t)(base + (size_t)b * esz) & ~(page - 1);

	if (to <= from)
		return 0;
	return madvise((void *)from, to - from, MADV_DONTNEED) == 0 ? to - from : 0;
}

size_t rp_ring_trim(void *base, size_t esz, uint32_t mask, uint32_t *given, uint32_t head,
		    uint32_t tail)
{
	uint32_t size = mask + 1, lo = *given, a, n;

	if ((uint64_t)(head - lo) * esz < RP_TRIM_BYTES)
		return 0;
	*given = head;
	/* Entries the writer has reached again since (a full ring's) are in use. */
	if (tail - lo > size)
		lo = tail - size;
	n = head - lo;
	a = lo & mask;
	if ((uint64_t)a + n <= size)
		return give(base, esz, a, a + n);
	return give(base, esz, a, size) + give(base, esz, 0, a + n - size);
}
