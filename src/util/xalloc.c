#include "ringprobe/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void oom(size_t size)
{
	fprintf(stderr, "ringprobe: out of memory allocating %zu bytes at start-up\n", size);
	abort();
}

void *rp_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		oom(size);
	return p;
}

void *rp_xcalloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		oom(SIZE_MAX);
	p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *rp_xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	if (!q)
		oom(size);
	return q;
}

char *rp_xstrdup(const char *s)
{
	return rp_xstrndup(s, strlen(s));
}

char *rp_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = rp_xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void *rp_xaligned_alloc(size_t align, size_t size)
{
	void *p = NULL;
	size_t rounded = (size + align - 1) & ~(align - 1);

	if (posix_memalign(&p, align, rounded ? rounded : align) != 0)
		oom(size);
	return p;
}

void *rp_xaligned_calloc(size_t align, size_t size)
{
	void *p = NULL;
	size_t rounded = (size + align - 1) & ~(align - 1);

	if (posix_memalign(&p, align, rounded ? rounded : align) != 0)
		oom(size);
	memset(p, 0, rounded ? rounded : align);
	return p;
}

char *rp_xread_all(void *stream, size_t *len)
{
	FILE *f = stream;
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	do {
		if (*len + 4096 > cap) {
			cap = cap ? cap * 2 : 16384;
			buf = rp_xrealloc(buf, cap);
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

size_t rp_advise_huge(void *p, size_t len)
{
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t from = ((uintptr_t)p + huge - 1) & ~(huge - 1);
	uintptr_t to = ((uintptr_t)p + len) & ~(huge - 1);

	if (!p || len < RP_HUGE_MIN_BYTES || to <= from)
		return 0;
	return madvise((void *)from, to - from, MADV_HUGEPAGE) == 0 ? to - from : 0;
}
