/* Tests for src/util/trim.c: the pages of a ring that its reader has passed go back to
 * the kernel (mincore says they are no longer resident), the entries still to read keep
 * their values, and nothing happens before a MiB has been read. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ringprobe/trim.h"

struct ent {
	uint64_t a;
	uint32_t b, c, d; /* 24 bytes with padding: entries straddle pages */
};

#define NENT (1u << 18) /* 6 MiB */
#define MASK (NENT - 1)

static struct ent *ring;
static size_t page;

static void setup(void)
{
	ring = calloc(NENT, sizeof(*ring));
	cr_assert_not_null(ring);
	page = (size_t)sysconf(_SC_PAGESIZE);
}

static void teardown(void)
{
	free(ring);
}

/* Resident pages among those wholly inside entries [a, b) (no wrap). */
static size_t resident(uint32_t a, uint32_t b)
{
	uintptr_t from = ((uintptr_t)&ring[a] + page - 1) & ~(page - 1);
	uintptr_t to = (uintptr_t)&ring[b] & ~(page - 1);
	size_t n = 0, np;
	unsigned char *v;

	if (to <= from)
		return 0;
	np = (to - from) / page;
	v = calloc(np, 1);
	cr_assert_eq(mincore((void *)from, to - from, v), 0);
	for (size_t i = 0; i < np; i++)
		n += v[i] & 1;
	free(v);
	return n;
}

static void write_range(uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i != to; i++)
		ring[i & MASK] = (struct ent){.a = i, .b = i ^ 0x5a5a5a5a, .c = i, .d = ~i};
}

static void check_range(uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i != to; i++) {
		const struct ent *e = &ring[i & MASK];

		cr_assert(e->a == i && e->b == (i ^ 0x5a5a5a5a) && e->c == i && e->d == ~i,
			  "entry %u lost its value", i);
	}
}

TestSuite(trim, .init = setup, .fini = teardown);

Test(trim, nothing_before_a_mib_read)
{
	uint32_t given = 0, head = (RP_TRIM_BYTES / sizeof(struct ent)) - 1;

	write_range(0, NENT);
	cr_assert_eq(rp_ring_trim(ring, sizeof(*ring), MASK, &given, head, NENT), 0);
	cr_assert_eq(given, 0);
	cr_assert_eq(resident(0, NENT), ((size_t)NENT * sizeof(*ring) - page) / page, "%zu",
		     resident(0, NENT));
}

Test(trim, read_pages_go_back_the_rest_stays)
{
	uint32_t given = 0, head = 100000, tail = 150000;
	size_t got;

	write_range(0, tail);
	got = rp_ring_trim(ring, sizeof(*ring), MASK, &given, head, tail);
	cr_assert_eq(given, head);
	/* Every whole page of the entries read, i.e. all but at most one page each end. */
	cr_assert(got <= (size_t)head * sizeof(*ring) &&
		      got + 2 * page >= (size_t)head * sizeof(*ring),
		  "gave %zu of %zu bytes read", got, (size_t)head * sizeof(*ring));
	cr_assert_eq(resident(0, head - 200), 0);
	check_range(head, tail);
	/* The pages read again are zero pages until written: the writer's next lap. */
	write_range(tail, head + NENT);
	check_range(tail, head + NENT);
}

Test(trim, across_the_wrap)
{
	/* Read from 3/4 of the ring to 1/4 past its end: both pieces go back. */
	uint32_t start = NENT / 4 * 3, head = NENT + NENT / 4, tail = head + 1000;
	uint32_t given = start;

	write_range(start, tail);
	cr_assert_gt(rp_ring_trim(ring, sizeof(*ring), MASK, &given, head, tail), 0);
	cr_assert_eq(given, head);
	cr_assert_eq(resident(start + 200, NENT), 0);
	cr_assert_eq(resident(0, NENT / 4 - 200), 0);
	check_range(head, tail);
}

Test(trim, a_full_ring_keeps_what_the_writer_reused)
{
	/* The last trim was at 0; since, the reader got to `head` and the writer went on
	 * to fill the ring (entries head .. head + NENT - 1): every position read was
	 * written again, so nothing may go. */
	uint32_t given = 0, head = NENT / 2, tail = head + NENT;

	write_range(head, tail);
	rp_ring_trim(ring, sizeof(*ring), MASK, &given, head, tail);
	cr_assert_eq(given, head);
	check_range(head, tail);
	cr_assert_eq(resident(0, NENT), ((size_t)NENT * sizeof(*ring) - page) / page, "%zu",
		     resident(0, NENT));
}

Test(trim, a_partly_reused_ring)
{
	/* Read up to head; the writer has written up to tail = head + 3/4 ring: of the
	 * entries read, those at positions the writer reached again stay. */
	uint32_t given = 0, head = NENT / 2, tail = head + NENT / 4 * 3;

	write_range(0, tail);
	rp_ring_trim(ring, sizeof(*ring), MASK, &given, head, tail);
	check_range(head, tail);
	/* entries tail - NENT .. head were read and not reused: gone */
	cr_assert_eq(resident(tail - NENT + 200, head - 200), 0);
}
