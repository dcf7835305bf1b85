/* SPSC ring throughput (DPDK app/test/test_ring_perf.c): items/s and ns/item for
 * batch sizes 1, 32, 256 and element sizes 8 and 32 bytes.
 *
 * same_core:  one thread alternately pushes a batch and pops it.
 * cross_core: producer and consumer threads pinned to the first two allowed CPUs;
 *             the producer uses try_push (retrying) so every item is counted once.
 * Each case runs a warm-up, then a fixed item count, and prints one line.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringprobe/compiler.h"
#include "ringprobe/spsc.h"
#include "support/support.h"

#define RING_CAPACITY 4096u
#define MAX_BATCH 256u
#define MAX_ELEM 32u

struct bench_case {
	uint32_t batch;
	uint32_t elem;
	uint64_t items;
	uint64_t warmup;
};

struct cross {
	struct rp_spsc *ring;
	const struct bench_case *bc;
	int cpu;
	pthread_barrier_t *start;
	uint64_t t0_ns; /* producer, after the post-warm-up barrier */
	uint64_t t1_ns; /* consumer, after its last pop */
	uint64_t sum;	/* consumer: keeps the copies observable */
};

static int cpus[2] = {-1, -1};

static int pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The first two CPUs this process may run on; returns how many were found. */
static int find_cpus(void)
{
	cpu_set_t set;
	int found = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 0;
	for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus[found++] = c;
	return found;
}

static void fill(unsigned char *buf, uint32_t elem, uint32_t n)
{
	for (uint32_t i = 0; i < n * elem; i++)
		buf[i] = (unsigned char)i;
}

static void report(const char *name, const struct bench_case *bc, uint64_t ns)
{
	double secs = (double)ns / 1e9;

	printf(
	    "bench=spsc case=%s batch=%u elem=%u items=%llu mitems_per_s=%.1f ns_per_item=%.2f\n",
	    name, bc->batch, bc->elem, (unsigned long long)bc->items,
	    (double)bc->items / secs / 1e6, (double)ns / (double)bc->items);
	fflush(stdout);
}

static uint64_t same_core_run(struct rp_spsc *r, uint32_t batch, uint64_t items, unsigned char *in,
			      unsigned char *out)
{
	uint64_t sum = 0;

	for (uint64_t done = 0; done < items; done += batch) {
		uint32_t n = items - done < batch ? (uint32_t)(items - done) : batch;

		if (rp_spsc_push(r, in, n) != n || rp_spsc_pop(r, out, n) != n) {
			fprintf(stderr, "bench_spsc: same_core lost items\n");
			exit(1);
		}
		sum += out[0];
	}
	return sum;
}

static int same_core(const struct bench_case *bc)
{
	unsigned char in[MAX_BATCH * MAX_ELEM], out[MAX_BATCH * MAX_ELEM];
	struct rp_spsc *r;
	uint64_t t0, t1;
	volatile uint64_t sink;
	int ret;

	ret = rp_spsc_create(&r, RING_CAPACITY, bc->elem);
	if (ret < 0)
		return ret;
	fill(in, bc->elem, bc->batch);
	sink = same_core_run(r, bc->batch, bc->warmup, in, out);
	t0 = sup_clock_ns(CLOCK_MONOTONIC);
	sink = same_core_run(r, bc->batch, bc->items, in, out);
	t1 = sup_clock_ns(CLOCK_MONOTONIC);
	(void)sink;
	report("same_core", bc, t1 - t0);
	rp_spsc_destroy(r);
	return 0;
}

static void produce(struct rp_spsc *r, uint32_t batch, uint64_t items, const unsigned char *in)
{
	for (uint64_t done = 0; done < items;) {
		uint32_t n = items - done < batch ? (uint32_t)(items - done) : batch;

		done += rp_spsc_try_push(r, in, n);
	}
}

static uint64_t consume(struct rp_spsc *r, uint32_t batch, uint64_t items, unsigned char *out)
{
	uint64_t sum = 0;

	for (uint64_t done = 0; done < items;) {
		uint32_t n = rp_spsc_pop(r, out, batch);

		if (n)
			sum += out[0];
		done += n;
	}
	return sum;
}

static void *producer_main(void *arg)
{
	struct cross *x = arg;
	unsigned char in[MAX_BATCH * MAX_ELEM];

	pin_self(x->cpu);
	fill(in, x->bc->elem, x->bc->batch);
	pthread_barrier_wait(x->start);
	produce(x->ring, x->bc->batch, x->bc->warmup, in);
	pthread_barrier_wait(x->start);
	x->t0_ns = sup_clock_ns(CLOCK_MONOTONIC);
	produce(x->ring, x->bc->batch, x->bc->items, in);
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct cross *x = arg;
	unsigned char out[MAX_BATCH * MAX_ELEM];

	pin_self(x->cpu);
	pthread_barrier_wait(x->start);
	x->sum = consume(x->ring, x->bc->batch, x->bc->warmup, out);
	/* Warm-up fully drained before timing starts. */
	pthread_barrier_wait(x->start);
	x->sum += consume(x->ring, x->bc->batch, x->bc->items, out);
	x->t1_ns = sup_clock_ns(CLOCK_MONOTONIC);
	return NULL;
}

static int cross_core(const struct bench_case *bc)
{
	pthread_barrier_t start;
	struct cross prod = {.bc = bc, .cpu = cpus[0], .start = &start};
	struct cross cons = {.bc = bc, .cpu = cpus[1], .start = &start};
	pthread_t p, c;
	struct rp_spsc *r;
	int ret;

	ret = rp_spsc_create(&r, RING_CAPACITY, bc->elem);
	if (ret < 0)
		return ret;
	prod.ring = cons.ring = r;
	pthread_barrier_init(&start, NULL, 2);
	ret = -pthread_create(&c, NULL, consumer_main, &cons);
	if (ret < 0)
		goto out_barrier;
	ret = -pthread_create(&p, NULL, producer_main, &prod);
	if (ret < 0) {
		/* The consumer is already waiting at the barrier and cannot be joined. */
		fprintf(stderr, "bench_spsc: pthread_create: %s\n", strerror(-ret));
		exit(1);
	}
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	report("cross_core", bc, cons.t1_ns - prod.t0_ns);
out_barrier:
	pthread_barrier_destroy(&start);
	rp_spsc_destroy(r);
	return ret;
}

int main(void)
{
	static const uint32_t batches[] = {1, 32, 256};
	static const uint32_t elems[] = {8, 32};
	int ncpu = find_cpus();
	int ret;

	if (pin_self(cpus[0]) < 0)
		fprintf(stderr, "bench_spsc: could not pin to CPU %d\n", cpus[0]);
	for (size_t e = 0; e < RP_ARRAY_SIZE(elems); e++) {
		for (size_t b = 0; b < RP_ARRAY_SIZE(batches); b++) {
			struct bench_case bc = {
			    .batch = batches[b],
			    .elem = elems[e],
			    .items = 100000000,
			    .warmup = 10000000,
			};

			ret = same_core(&bc);
			if (ret < 0)
				goto fail;
		}
	}
	if (ncpu < 2) {
		fprintf(stderr, "bench_spsc: fewer than 2 CPUs allowed, skipping cross_core\n");
		return 0;
	}
	for (size_t e = 0; e < RP_ARRAY_SIZE(elems); e++) {
		for (size_t b = 0; b < RP_ARRAY_SIZE(batches); b++) {
			struct bench_case bc = {
			    .batch = batches[b],
			    .elem = elems[e],
			    .items = 100000000,
			    .warmup = 10000000,
			};

			ret = cross_core(&bc);
			if (ret < 0)
				goto fail;
		}
	}
	return 0;
fail:
	fprintf(stderr, "bench_spsc: %s\n", strerror(-ret));
	return 1;
}
