/* Tests for src/writer/pool.c: exact counts, distinct buffers of the asked capacity, LIFO
 * reuse, reset on get, argument checks, and abort on a foreign or double put. */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/compiler.h"
#include "writer/pool.h"

static struct rp_pool *new_pool(uint32_t n, size_t size)
{
	struct rp_pool *p = NULL;

	cr_assert_eq(rp_pool_create(&p, n, size), 0);
	cr_assert_not_null(p);
	cr_assert_eq(rp_pool_size(p), n);
	cr_assert_eq(rp_pool_free_count(p), n);
	cr_assert_eq(rp_pool_bufsize(p), size);
	return p;
}

Test(pool, get_until_empty_then_null_and_put_back)
{
	static const uint32_t counts[] = {1, 2, 3, 8, 100};
	static const size_t sizes[] = {1, 63, 64, 65, 4096, 1 << 20};

	for (size_t c = 0; c < RP_ARRAY_SIZE(counts); c++)
		for (size_t z = 0; z < RP_ARRAY_SIZE(sizes); z++) {
			uint32_t n = counts[c];
			size_t size = sizes[z];
			struct rp_pool *p = new_pool(n, size);
			struct rp_linebuf **out = calloc(n, sizeof(*out));

			for (uint32_t i = 0; i < n; i++) {
				out[i] = rp_pool_get(p);
				cr_assert_not_null(out[i]);
				cr_assert_eq(out[i]->cap, size);
				cr_assert_eq(out[i]->len, 0);
				cr_assert_eq(out[i]->points, 0);
				cr_assert_eq(rp_pool_free_count(p), n - i - 1);
				/* the whole capacity is writable (ASan checks the bounds) */
				memset(out[i]->data, (int)i, size);
			}
			cr_assert_null(rp_pool_get(p));
			cr_assert_null(rp_pool_get(p), "still empty");
			cr_assert_eq(rp_pool_free_count(p), 0);

			/* distinct, non-overlapping, cache-line aligned, contents intact */
			for (uint32_t i = 0; i < n; i++) {
				cr_assert_eq((uintptr_t)out[i]->data % RP_CACHELINE, 0);
				cr_assert_eq((unsigned char)out[i]->data[size - 1],
					     (unsigned char)i);
				for (uint32_t j = i + 1; j < n; j++) {
					cr_assert_neq(out[i], out[j]);
					cr_assert(out[i]->data + size <= out[j]->data ||
						  out[j]->data + size <= out[i]->data);
				}
			}

			for (uint32_t i = 0; i < n; i++) {
				rp_pool_put(p, out[i]);
				cr_assert_eq(rp_pool_free_count(p), i + 1);
			}
			for (uint32_t i = 0; i < n; i++)
				cr_assert_not_null(rp_pool_get(p));
			cr_assert_null(rp_pool_get(p));
			cr_assert_eq(rp_pool_size(p), n);
			free(out);
			rp_pool_destroy(p);
		}
}

Test(pool, get_resets_len_and_points_and_reuses_last_put)
{
	struct rp_pool *p = new_pool(4, 256);
	struct rp_linebuf *a = rp_pool_get(p), *b = rp_pool_get(p);
	char *a_data = a->data;

	a->len = 100;
	a->points = 7;
	a->data = NULL; /* a careless user; get restores it */
	a->cap = 1;
	rp_pool_put(p, b);
	rp_pool_put(p, a);
	cr_assert_eq(rp_pool_free_count(p), 4);
	cr_assert_eq(rp_pool_get(p), a, "LIFO: the warmest buffer first");
	cr_assert_eq(a->len, 0);
	cr_assert_eq(a->points, 0);
	cr_assert_eq(a->data, a_data);
	cr_assert_eq(a->cap, 256);
	cr_assert_eq(rp_pool_get(p), b);
	rp_pool_destroy(p);
}

Test(pool, interleaved_gets_and_puts_keep_exact_counts)
{
	enum { N = 16 };
	struct rp_pool *p = new_pool(N, 128);
	struct rp_linebuf *held[N];
	uint32_t nheld = 0;
	uint64_t s = 99;

	for (int step = 0; step < 100000; step++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		if ((s & 1) && nheld < N) {
			held[nheld] = rp_pool_get(p);
			cr_assert_not_null(held[nheld]);
			held[nheld]->data[0] = 'x';
			nheld++;
		} else if (nheld) {
			uint32_t k = (uint32_t)(s >> 8) % nheld;

			rp_pool_put(p, held[k]);
			held[k] = held[--nheld];
		} else {
			cr_assert_eq(rp_pool_free_count(p), N);
		}
		cr_assert_eq(rp_pool_free_count(p), N - nheld);
		if (nheld == N)
			cr_assert_null(rp_pool_get(p));
	}
	rp_pool_destroy(p);
}

Test(pool, rejects_bad_sizes)
{
	struct rp_pool *p = (struct rp_pool *)0x1;

	cr_assert_eq(rp_pool_create(&p, 0, 64), -EINVAL);
	cr_assert_eq(rp_pool_create(&p, 4, 0), -EINVAL);
	cr_assert_eq(rp_pool_create(&p, UINT32_MAX, SIZE_MAX / 4), -EINVAL);
	cr_assert_eq(rp_pool_create(&p, 2, SIZE_MAX), -EINVAL);
	cr_assert_eq(rp_pool_create(NULL, 2, 64), -EINVAL);
	cr_assert_eq(p, (struct rp_pool *)0x1, "*out untouched on failure");
	rp_pool_destroy(NULL);
}

Test(pool, put_twice_aborts, .signal = SIGABRT)
{
	struct rp_pool *p = new_pool(2, 64);
	struct rp_linebuf *b = rp_pool_get(p);

	rp_pool_put(p, b);
	rp_pool_put(p, b);
}

Test(pool, put_of_a_foreign_buffer_aborts, .signal = SIGABRT)
{
	struct rp_pool *p = new_pool(2, 64), *q = new_pool(2, 64);
	struct rp_linebuf *b = rp_pool_get(q);

	rp_pool_put(p, b);
}

Test(pool, put_of_a_stack_buffer_aborts, .signal = SIGABRT)
{
	struct rp_pool *p = new_pool(2, 64);
	char mem[64];
	struct rp_linebuf b = {mem, 0, sizeof(mem), 0};

	rp_pool_put(p, &b);
}
