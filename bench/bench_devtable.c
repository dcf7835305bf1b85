/* Device table ns/op at 100 .. 1M devices: add with eviction, touch, lookup hit and
 * lookup miss on a full table. Addresses are rp_hash_u32(i), so consecutive devices
 * land on unrelated buckets as real fleets do, and slots are picked at random so
 * large tables pay their cache misses. One line per case (STYLE.md section 11). */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringprobe/compiler.h"
#include "ringprobe/devtable.h"
#include "ringprobe/hash.h"
#include "support/support.h"

#define OPS 5000000u
#define WARMUP 500000u

/* Address of device number i. i in [0, 2^31) are devices that get added; misses use
 * i with the top bit set, which the bijective hash keeps apart from every added one. */
static inline uint32_t dev_addr(uint32_t i)
{
	return rp_hash_u32(i);
}

/* The table's keys are struct rp_ip; the devices here are IPv4 addresses. */
static inline int32_t add4(struct rp_devtable *t, uint32_t a, uint64_t now, bool *is_new,
			   struct rp_dev_ref *ev)
{
	struct rp_ip ip = rp_ip_v4(a);

	return rp_devtable_add(t, &ip, now, is_new, ev);
}

static inline int32_t lookup4(const struct rp_devtable *t, uint32_t a)
{
	struct rp_ip ip = rp_ip_v4(a);

	return rp_devtable_lookup(t, &ip);
}

#define MISS_BIT 0x80000000u

/* Uniform in [0, n) by multiply-shift instead of a division; with xorshift64 (a few cycles
 * a draw) the loop measures the table, not the RNG. */
static inline uint32_t below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((sup_xorshift64(s) >> 32) * n) >> 32);
}

/* Kept in a volatile so the compiler cannot drop lookups whose result is unused. */
static volatile uint64_t sink;

static void report(const char *name, uint32_t devices, uint32_t ops, uint64_t ns)
{
	printf("bench=devtable case=%s devices=%" PRIu32 " ops=%" PRIu32 " ns_per_op=%.1f\n", name,
	       devices, ops, (double)ns / ops);
	fflush(stdout);
}

/* The table holds devices [*base, *base + n) after this; `now` keeps counting up. */
static uint64_t run_add_evict(struct rp_devtable *t, uint32_t n, uint32_t *base, uint64_t *now,
			      uint32_t ops)
{
	uint32_t next = *base + n;
	uint64_t start, acc = 0;
	struct rp_dev_ref ev;
	bool is_new;

	start = sup_clock_ns(CLOCK_MONOTONIC);
	for (uint32_t i = 0; i < ops; i++) {
		acc += (uint32_t)add4(t, dev_addr(next++), (*now)++, &is_new, &ev);
		acc += ev.gen;
	}
	sink += acc;
	*base = next - n;
	return sup_clock_ns(CLOCK_MONOTONIC) - start;
}

static uint64_t run_touch(struct rp_devtable *t, uint32_t n, uint64_t *now, uint64_t *rs,
			  uint32_t ops)
{
	uint64_t start = sup_clock_ns(CLOCK_MONOTONIC);

	for (uint32_t i = 0; i < ops; i++)
		rp_devtable_touch(t, below(rs, n), (*now)++);
	return sup_clock_ns(CLOCK_MONOTONIC) - start;
}

static uint64_t run_lookup(const struct rp_devtable *t, uint32_t n, uint32_t base, uint32_t miss,
			   uint64_t *rs, uint32_t ops)
{
	uint64_t start, acc = 0;

	start = sup_clock_ns(CLOCK_MONOTONIC);
	for (uint32_t i = 0; i < ops; i++)
		acc += (uint32_t)lookup4(t, dev_addr((base + below(rs, n)) | miss));
	sink += acc;
	return sup_clock_ns(CLOCK_MONOTONIC) - start;
}

static int bench_size(uint32_t n)
{
	struct rp_devtable *t;
	uint32_t base = 0;
	uint64_t now = 1, rs = 0x9e3779b97f4a7c15ull ^ n;
	uint64_t ns;
	int ret;

	ret = rp_devtable_create(&t, n);
	if (ret < 0)
		return ret;
	for (uint32_t i = 0; i < n; i++)
		add4(t, dev_addr(i), now++, NULL, NULL);

	/* Each case runs its warm-up first, on the same table, then the timed ops. */
	run_add_evict(t, n, &base, &now, WARMUP);
	ns = run_add_evict(t, n, &base, &now, OPS);
	report("add_evict", n, OPS, ns);
	if (rp_devtable_count(t) != n || lookup4(t, dev_addr(base)) < 0) {
		fprintf(stderr, "bench_devtable: table lost devices at %u\n", n);
		rp_devtable_destroy(t);
		return -EIO;
	}

	run_touch(t, n, &now, &rs, WARMUP);
	ns = run_touch(t, n, &now, &rs, OPS);
	report("touch", n, OPS, ns);

	run_lookup(t, n, base, 0, &rs, WARMUP);
	ns = run_lookup(t, n, base, 0, &rs, OPS);
	report("lookup_hit", n, OPS, ns);

	run_lookup(t, n, base, MISS_BIT, &rs, WARMUP);
	ns = run_lookup(t, n, base, MISS_BIT, &rs, OPS);
	report("lookup_miss", n, OPS, ns);

	rp_devtable_destroy(t);
	return 0;
}

int main(void)
{
	static const uint32_t sizes[] = {100, 1000, 10000, 20000, 1000000};

	for (size_t i = 0; i < RP_ARRAY_SIZE(sizes); i++) {
		int ret = bench_size(sizes[i]);

		if (ret < 0) {
			fprintf(stderr, "bench_devtable: %u devices: error %d\n", sizes[i], ret);
			return 1;
		}
	}
	return 0;
}
