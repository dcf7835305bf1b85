/* Tests for rp_advise_huge (src/util/xalloc.c) and rp_devtable_advise_huge: a large
 * array's whole 2 MiB pages are advised (the kernel marks its mapping `hg`), a small
 * one is left alone, and advising costs no memory and changes no byte. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ringprobe/devtable.h"
#include "ringprobe/xalloc.h"

#define HUGE ((size_t)2 << 20)

/* Whether the mapping holding p has the kernel's `hg` flag (MADV_HUGEPAGE). */
static bool advised(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false, hg = false;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && strncmp(line, "VmFlags:", 8) == 0)
			hg = strstr(line, " hg") != NULL;
	}
	fclose(f);
	return hg;
}

static size_t resident_pages(const void *from, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), np = len / page, n = 0;
	unsigned char *v = calloc(np, 1);

	cr_assert_eq(mincore((void *)from, len, v), 0);
	for (size_t i = 0; i < np; i++)
		n += v[i] & 1;
	free(v);
	return n;
}

static void need_thp(void)
{
	if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0)
		cr_skip_test("this kernel has no transparent huge pages");
}

Test(huge, a_large_array_is_advised_by_whole_huge_pages)
{
	/* A fresh mapping of its own (calloc could hand back heap pages written before),
	 * the array 16 bytes in as calloc's would be: neither end on a huge page. */
	size_t maplen = 16 << 20, len = maplen - 16, got;
	unsigned char *map =
	    mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *p = map + 16;
	uintptr_t first = ((uintptr_t)p + HUGE - 1) & ~(HUGE - 1);

	need_thp();
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_not(advised((void *)first), "a fresh mapping came advised already");
	got = rp_advise_huge(p, len);
	cr_assert_gt(got, 0);
	cr_assert_eq(got % HUGE, 0, "%zu bytes: not whole huge pages", got);
	cr_assert_geq(got, len - 2 * HUGE);
	cr_assert_leq(first + got, (uintptr_t)p + len, "past the array");
	cr_assert(advised((void *)first));
	/* Nothing was touched: the pages still cost nothing, and read as zeros. */
	cr_assert_eq(resident_pages((void *)first, got), 0);
	for (size_t i = 0; i < len; i += 4096)
		cr_assert_eq(p[i], 0);
	p[len / 2] = 7;
	cr_assert_eq(p[len / 2], 7);
	munmap(map, maplen);
}

Test(huge, a_small_array_or_null_is_left_alone)
{
	size_t len = RP_HUGE_MIN_BYTES - 1;
	unsigned char *p = rp_xcalloc(len, 1);

	cr_assert_eq(rp_advise_huge(p, len), 0);
	cr_assert_eq(rp_advise_huge(NULL, 64 << 20), 0);
	free(p);
}

Test(huge, a_devtable_for_a_million_is_advised_and_one_for_a_thousand_is_not)
{
	struct rp_devtable *big, *small;
	bool is_new;

	need_thp();
	cr_assert_eq(rp_devtable_create(&big, 1000000), 0);
	cr_assert_eq(rp_devtable_create(&small, 1000), 0);
	/* index 2^21 x 8 B, records 36 B and deadlines 8 B x 10^6: ~16 + 36 + 8 MB. */
	cr_assert_geq(rp_devtable_advise_huge(big), (size_t)50 << 20);
	cr_assert_eq(rp_devtable_advise_huge(small), 0);
	/* It still works as a table. */
	for (uint32_t i = 0; i < 1000; i++)
		cr_assert_geq(rp_devtable_add(big, &(struct rp_ip[]){rp_ip_v4(0xc6120000 + i)}[0],
					      i, &is_new, NULL),
			      0);
	cr_assert_eq(rp_devtable_lookup(big, &(struct rp_ip[]){rp_ip_v4(0xc6120000 + 999)}[0]),
		     999);
	rp_devtable_destroy(big);
	rp_devtable_destroy(small);
}
