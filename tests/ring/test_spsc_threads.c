/* Two-thread stress of the SPSC ring, also run under ThreadSanitizer.
 *
 * Each scenario is a plain function that runs a producer and a consumer thread and
 * returns a verdict; worker threads never call cr_assert (Criterion's asserts belong
 * to the test's own thread). The Criterion tests assert on the verdicts.
 *
 * Under TSan, Criterion cannot start: its BoxFort arena maps at a random address in
 * 0x2000_0000_0000..0x7f00_0000_0000, almost all of which TSan has reserved for shadow
 * and meta memory, and it gives up after 10 tries ("Could not initialize inheritable
 * arena: Resource temporarily unavailable", Snaipe/Criterion#274). So a TSan build
 * gets its own main() at the bottom that runs the same scenarios in-process.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/spsc.h"
#include "support/support.h"

#define MAX_BATCH 256u
#define STRESS_ITEMS_DEFAULT 100000000ull
#define LOSSY_ITEMS 10000000ull
/* Busy-work units per item offered and per pop (4.5 items on average): the lossy
 * producer runs at roughly twice the consumer's rate. */
#define PRODUCER_WORK 20u
#define CONSUMER_WORK 200u

struct stress {
	struct rp_spsc *ring;
	uint64_t items;
	uint64_t seed_prod; /* producer only */
	uint64_t seed_cons; /* consumer only */

	/* Written by the producer, read by the test thread after join. */
	uint64_t offered;
	uint64_t *kept_bits; /* lossy: one bit per sequence number push accepted */

	/* Written by the consumer, read by the test thread after join. */
	uint64_t received;
	uint64_t bad_index; /* position of the first bad item, or UINT64_MAX */
	uint64_t bad_value;
	uint64_t *seen_bits; /* lossy: one bit per sequence number received */

	/* Release-stored by the producer after its last push; pairs with the consumer's
	 * load-acquire before each pop, so once it reads true that pop sees every item. */
	atomic_bool done;
	/* Release-stored by the lossy producer once it has overfilled the ring; pairs with
	 * the consumer's load-acquire before its first pop. */
	atomic_bool go;
};

static uint32_t rng_batch(uint64_t *s)
{
	return 1 + (uint32_t)(sup_xorshift64(s) % MAX_BATCH);
}

/* RP_SPSC_STRESS_ITEMS or the default; 0 if the variable is not a positive integer. */
static uint64_t stress_items(void)
{
	const char *env = getenv("RP_SPSC_STRESS_ITEMS");
	char *end;
	unsigned long long v;

	if (!env || !*env)
		return STRESS_ITEMS_DEFAULT;
	v = strtoull(env, &end, 10);
	return *end == '\0' ? v : 0;
}

/* Spinning is fine on 2+ cores; yielding now and then keeps a 1-CPU run from crawling. */
static void backoff(uint32_t *spins)
{
	if (++*spins % 64 == 0)
		sched_yield();
}

static bool run_pair(struct stress *s, void *(*prod)(void *), void *(*cons)(void *))
{
	pthread_t p, c;

	if (pthread_create(&c, NULL, cons, s) != 0)
		return false;
	if (pthread_create(&p, NULL, prod, s) != 0) {
		/* Let the consumer finish so it can be joined. */
		atomic_store_explicit(&s->go, true, memory_order_release);
		atomic_store_explicit(&s->done, true, memory_order_release);
		pthread_join(c, NULL);
		return false;
	}
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	return true;
}

/* Producer: 0..items-1 in random batches, retried until they fit so nothing is dropped.
 * Odd batches use try_push, even ones "ask space, push what fits", so both paths run. */
static void *lossless_producer(void *arg)
{
	struct stress *s = arg;
	uint64_t buf[MAX_BATCH];
	uint64_t next = 0;
	uint32_t spins = 0;

	while (next < s->items) {
		uint32_t n = rng_batch(&s->seed_prod);
		uint32_t got;

		if (n > s->items - next)
			n = (uint32_t)(s->items - next);
		for (uint32_t i = 0; i < n; i++)
			buf[i] = next + i;
		if (n & 1) {
			got = rp_spsc_try_push(s->ring, buf, n);
		} else {
			uint32_t space = rp_spsc_space(s->ring);

			/* space only grows until we push, so this push never drops. */
			got = rp_spsc_push(s->ring, buf, n < space ? n : space);
		}
		if (got == 0)
			backoff(&spins);
		next += got;
	}
	s->offered = next;
	atomic_store_explicit(&s->done, true, memory_order_release);
	return NULL;
}

static void *lossless_consumer(void *arg)
{
	struct stress *s = arg;
	uint64_t buf[MAX_BATCH];
	uint64_t expect = 0;
	uint32_t spins = 0;

	for (;;) {
		/* Loaded before the pop: once done is seen, that pop sees every push. */
		bool done = atomic_load_explicit(&s->done, memory_order_acquire);
		uint32_t n = rp_spsc_pop(s->ring, buf, rng_batch(&s->seed_cons));

		if (n == 0) {
			if (done)
				break;
			backoff(&spins);
			continue;
		}
		for (uint32_t i = 0; i < n; i++) {
			if (buf[i] != expect + i && s->bad_index == UINT64_MAX) {
				s->bad_index = expect + i;
				s->bad_value = buf[i];
			}
		}
		expect += n;
	}
	s->received = expect;
	return NULL;
}

/* Push 0..items-1 through a 1024-slot ring with retries; on failure, say why in `why`. */
static bool lossless_ok(uint64_t items, char *why, size_t why_len)
{
	struct stress s = {
	    .items = items,
	    .seed_prod = 0x9e3779b97f4a7c15ull,
	    .seed_cons = 0xd1b54a32d192ed03ull,
	    .bad_index = UINT64_MAX,
	};
	bool ok = false;

	if (items == 0) {
		snprintf(why, why_len, "RP_SPSC_STRESS_ITEMS is not a positive integer");
		return false;
	}
	/* A small ring keeps it full or empty often, so both index caches refresh a lot. */
	if (rp_spsc_create(&s.ring, 1024, sizeof(uint64_t)) < 0) {
		snprintf(why, why_len, "rp_spsc_create failed");
		return false;
	}
	atomic_init(&s.done, false);
	atomic_init(&s.go, true);
	if (!run_pair(&s, lossless_producer, lossless_consumer))
		snprintf(why, why_len, "pthread_create failed");
	else if (s.bad_index != UINT64_MAX)
		snprintf(why, why_len, "item %" PRIu64 " arrived as %" PRIu64, s.bad_index,
			 s.bad_value);
	else if (s.offered != items || s.received != items)
		snprintf(why, why_len, "offered %" PRIu64 ", received %" PRIu64 " of %" PRIu64,
			 s.offered, s.received, items);
	else if (rp_spsc_pushed_total(s.ring) != items || rp_spsc_drops(s.ring) != 0)
		snprintf(why, why_len,
			 "pushed_total %" PRIu64 ", drops %" PRIu64 ", want %" PRIu64 " and 0",
			 rp_spsc_pushed_total(s.ring), rp_spsc_drops(s.ring), items);
	else if (!rp_spsc_empty(s.ring))
		snprintf(why, why_len, "ring not empty at the end");
	else
		ok = true;
	rp_spsc_destroy(s.ring);
	return ok;
}

/* Producer that never retries: each sequence number is offered once and either kept or
 * dropped. The first burst overfills the ring before the consumer may start, so drops
 * are certain; after that it is paced to about twice the consumer's rate, so the ring
 * swings between full and draining and the race decides the rest. */
static void *lossy_producer(void *arg)
{
	struct stress *s = arg;
	uint64_t buf[MAX_BATCH];
	uint64_t next = 0;
	uint32_t cap = rp_spsc_capacity(s->ring);
	volatile uint32_t work = 0;

	while (next < s->items) {
		uint32_t n = rng_batch(&s->seed_prod);
		uint32_t got;

		if (n > s->items - next)
			n = (uint32_t)(s->items - next);
		for (uint32_t i = 0; i < n; i++)
			buf[i] = next + i;
		got = rp_spsc_push(s->ring, buf, n);
		/* push keeps a prefix of the batch. */
		for (uint32_t i = 0; i < got; i++)
			s->kept_bits[(next + i) / 64] |= 1ull << ((next + i) % 64);
		next += n;
		if (next < 2ull * cap)
			continue;
		atomic_store_explicit(&s->go, true, memory_order_release);
		for (uint32_t i = 0; i < PRODUCER_WORK * n; i++)
			work = work + i;
	}
	s->offered = next;
	atomic_store_explicit(&s->go, true, memory_order_release);
	atomic_store_explicit(&s->done, true, memory_order_release);
	return NULL;
}

/* Slow consumer: small pops with busy work between them, so the producer outruns it. */
static void *lossy_consumer(void *arg)
{
	struct stress *s = arg;
	uint64_t buf[8];
	uint64_t last = 0, count = 0;
	uint32_t spins = 0;
	volatile uint32_t work = 0;

	while (!atomic_load_explicit(&s->go, memory_order_acquire))
		sched_yield();
	for (;;) {
		/* Loaded before the pop: once done is seen, that pop sees every push. */
		bool done = atomic_load_explicit(&s->done, memory_order_acquire);
		uint32_t n =
		    rp_spsc_pop(s->ring, buf, 1 + (uint32_t)(sup_xorshift64(&s->seed_cons) % 8));

		if (n == 0) {
			if (done)
				break;
			backoff(&spins);
			continue;
		}
		for (uint32_t i = 0; i < n; i++) {
			uint64_t v = buf[i];

			if ((count > 0 && v <= last) || v >= s->items) {
				if (s->bad_index == UINT64_MAX) {
					s->bad_index = count;
					s->bad_value = v;
				}
				continue;
			}
			s->seen_bits[v / 64] |= 1ull << (v % 64);
			last = v;
			count++;
		}
		for (uint32_t i = 0; i < CONSUMER_WORK; i++)
			work = work + i;
	}
	s->received = count;
	return NULL;
}

/* Offer 0..items-1 once each with plain push against a slow consumer on a 256-slot ring:
 * pushed + drops == offered, and the consumer gets exactly the pushed items, in order. */
static bool lossy_ok(uint64_t items, char *why, size_t why_len)
{
	struct stress s = {
	    .items = items,
	    .seed_prod = 0x243f6a8885a308d3ull,
	    .seed_cons = 0x13198a2e03707344ull,
	    .bad_index = UINT64_MAX,
	};
	size_t words = (size_t)(items + 63) / 64;
	uint64_t pushed, drops;
	bool ok = false;

	if (rp_spsc_create(&s.ring, 256, sizeof(uint64_t)) < 0) {
		snprintf(why, why_len, "rp_spsc_create failed");
		return false;
	}
	s.seen_bits = calloc(words, sizeof(uint64_t));
	s.kept_bits = calloc(words, sizeof(uint64_t));
	atomic_init(&s.done, false);
	atomic_init(&s.go, false);
	if (!s.seen_bits || !s.kept_bits) {
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	if (!run_pair(&s, lossy_producer, lossy_consumer)) {
		snprintf(why, why_len, "pthread_create failed");
		goto out;
	}

	pushed = rp_spsc_pushed_total(s.ring);
	drops = rp_spsc_drops(s.ring);
	if (s.bad_index != UINT64_MAX)
		snprintf(why, why_len, "received item #%" PRIu64 " is %" PRIu64 ": not increasing",
			 s.bad_index, s.bad_value);
	else if (s.offered != items || pushed + drops != items)
		snprintf(why, why_len,
			 "offered %" PRIu64 ", pushed %" PRIu64 " + drops %" PRIu64
			 ", want %" PRIu64,
			 s.offered, pushed, drops, items);
	else if (drops < rp_spsc_capacity(s.ring))
		snprintf(why, why_len, "only %" PRIu64 " drops: the first burst must overfill",
			 drops);
	else if (s.received != pushed)
		snprintf(why, why_len, "received %" PRIu64 " of %" PRIu64 " pushed", s.received,
			 pushed);
	/* Same set, not just the same count: exactly the kept items arrived. */
	else if (memcmp(s.seen_bits, s.kept_bits, words * sizeof(uint64_t)) != 0)
		snprintf(why, why_len, "received set differs from the set push accepted");
	else if (!rp_spsc_empty(s.ring))
		snprintf(why, why_len, "ring not empty at the end");
	else
		ok = true;
out:
	free(s.seen_bits);
	free(s.kept_bits);
	rp_spsc_destroy(s.ring);
	return ok;
}

Test(spsc, two_threads_keep_strict_order)
{
	char why[256] = "";

	cr_assert(lossless_ok(stress_items(), why, sizeof(why)), "%s", why);
}

Test(spsc, lossy_producer_drops_exactly_what_consumer_misses)
{
	char why[256] = "";

	cr_assert(lossy_ok(LOSSY_ITEMS, why, sizeof(why)), "%s", why);
}

#if defined(__SANITIZE_THREAD__)
#define SPSC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPSC_TSAN 1
#endif
#endif

#ifdef SPSC_TSAN
/* Replaces Criterion's main (see the top of the file); prints TAP, fails on any miss. */
int main(void)
{
	char why[256];
	int failed = 0;

	printf("1..2\n");
	why[0] = '\0';
	if (lossless_ok(stress_items(), why, sizeof(why))) {
		printf("ok 1 - spsc::two_threads_keep_strict_order\n");
	} else {
		printf("not ok 1 - spsc::two_threads_keep_strict_order: %s\n", why);
		failed++;
	}
	why[0] = '\0';
	if (lossy_ok(LOSSY_ITEMS, why, sizeof(why))) {
		printf("ok 2 - spsc::lossy_producer_drops_exactly_what_consumer_misses\n");
	} else {
		printf("not ok 2 - spsc::lossy_producer_drops_exactly_what_consumer_misses: %s\n",
		       why);
		failed++;
	}
	return failed ? 1 : 0;
}
#endif
