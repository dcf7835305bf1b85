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
/** Everything left in f (a configuration or device file) in a buffer grown as it is
 *  read, with its length in *len; the caller frees it. NULL on a read error (ferror). */
char *rp_xread_all(void *f, size_t *len);

#endif
