/* Start-up allocation that aborts on failure (zmap lib/xalloc.c). Nothing on the
 * per-probe path allocates, so there is no runtime out-of-memory path to handle. */
#ifndef RP_XALLOC_H
#define RP_XALLOC_H

#include <stddef.h>

/** malloc or abort with a message naming the size. */
void *rp_xmalloc(size_t size);
/** calloc or abort; n * size overflow aborts too. */
void *rp_xcalloc(size_t n, size_t size);
/** realloc or abort. */
void *rp_xrealloc(void *p, size_t size);
/** strdup or abort. */
char *rp_xstrdup(const char *s);
/** strndup or abort. */
char *rp_xstrndup(const char *s, size_t n);
/** Uninitialized memory aligned to `align` (a power of two); free with free(). Pages
 *  are not touched, so large buffers cost nothing until used. */
void *rp_xaligned_alloc(size_t align, size_t size);
/** Zeroed memory aligned to `align` (a power of two); free with free(). */
void *rp_xaligned_calloc(size_t align, size_t size);
/** Advises transparent huge pages (MADV_HUGEPAGE) for the whole 2 MiB pages inside
 *  [p, p + len) when len is at least RP_HUGE_MIN_BYTES; returns the bytes advised (0:
 *  too small, or a kernel without THP). For the large per-device arrays a probe thread
 *  reads at random: with 4 KiB pages each device costs a TLB miss, in a VM a nested
 *  page walk. Pages still cost memory only once written, but a written one costs
 *  2 MiB: only for arrays that fill from the start or are read across. */
size_t rp_advise_huge(void *p, size_t len);
#define RP_HUGE_MIN_BYTES (4u << 20)

/** Everything left in f (a configuration or device file) in a buffer grown as it is
 *  read, with its length in *len; the caller frees it. NULL on a read error (ferror). */
char *rp_xread_all(void *f, size_t *len);

#endif
