/* Timing wheel add / expire / steady-state reschedule cost (STYLE.md section 11).
 * Prints one line per case: bench=wheel case=<name> n=<ops> ns_per_op=<ns>. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringprobe/compiler.h"
#include "ringprobe/wheel.h"
#include "ringprobe/xalloc.h"
#include "support/support.h"

enum {
	N_ENTRIES = 1000000,
	SPREAD = 60000, /* ticks the 1e6 dues are spread over */
	STEADY_ENTRIES = 20000,
	STEADY_INTERVAL = 1000,
	STEADY_TICKS = 10 * 60 * 1000, /* ten simulated minutes at 1 ms ticks */
	STALL_TICKS = 1000,	       /* one second missed at 1 ms ticks */
	BIG_INTERVAL = 60000,	       /* 1e6 devices at 60 s, as `bench/daemon 1m` */
	BIG_TICKS = 2 * BIG_INTERVAL,
};

struct dev {
	struct rp_wheel_entry link;
	uint32_t addr;
};

/* The shard's per-device record is 72 bytes with the wheel entry first; the 1M steady
 * case spaces its entries the same, so a fire touches memory as the daemon's does. */
struct bigdev {
	struct rp_wheel_entry link;
	uint8_t rest[72 - sizeof(struct rp_wheel_entry)];
};

static void report(const char *name, size_t n, uint64_t ns)
{
	printf("bench=wheel case=%s n=%zu ns_per_op=%.1f\n", name, n, n ? (double)ns / n : 0.0);
}

static struct rp_wheel *new_wheel(uint64_t now)
{
	struct rp_wheel *w;

	if (rp_wheel_create(&w, RP_WHEEL_DEFAULT_BITS, RP_WHEEL_DEFAULT_LEVELS, now) < 0)
		abort();
	return w;
}

static void count_cb(struct rp_wheel_entry *e, uint64_t now, void *arg)
{
	(*(size_t *)arg)++;
}

static void resched_cb(struct rp_wheel_entry *e, uint64_t now, void *arg)
{
	rp_wheel_add(arg, e, now + STEADY_INTERVAL);
}

/* Adds 1e6 entries over SPREAD ticks, then runs tick by tick as the daemon would. */
static void add_and_expire(struct dev *devs, const uint64_t *dues, bool print)
{
	struct rp_wheel *w = new_wheel(0);
	size_t i, fired = 0;
	uint64_t t0, t1, t2, now;

	t0 = sup_clock_ns(CLOCK_MONOTONIC);
	for (i = 0; i < N_ENTRIES; i++)
		rp_wheel_add(w, &devs[i].link, dues[i]);
	t1 = sup_clock_ns(CLOCK_MONOTONIC);
	for (now = 1; now <= SPREAD; now++)
		rp_wheel_run(w, now, count_cb, &fired);
	t2 = sup_clock_ns(CLOCK_MONOTONIC);
	if (fired != N_ENTRIES || rp_wheel_count(w))
		abort();
	if (print) {
		report("add", N_ENTRIES, t1 - t0);
		report("run", fired, t2 - t1);
	}
	rp_wheel_destroy(w);
}

/* Adds 1e6 entries then cancels them in a shuffled order. */
static void add_and_cancel(struct dev *devs, const uint64_t *dues, const uint32_t *order,
			   bool print)
{
	struct rp_wheel *w = new_wheel(0);
	size_t i;
	uint64_t t0, t1;

	for (i = 0; i < N_ENTRIES; i++)
		rp_wheel_add(w, &devs[i].link, dues[i]);
	t0 = sup_clock_ns(CLOCK_MONOTONIC);
	for (i = 0; i < N_ENTRIES; i++)
		rp_wheel_cancel(w, &devs[order[i]].link);
	t1 = sup_clock_ns(CLOCK_MONOTONIC);
	if (rp_wheel_count(w))
		abort();
	if (print)
		report("cancel", N_ENTRIES, t1 - t0);
	rp_wheel_destroy(w);
}

/* 20,000 phase-spread devices at a 1 s interval for ten minutes, one run per tick; then a
 * 1 s stall caught up in a single run. */
static void steady(struct dev *devs, bool print)
{
	uint64_t start = 1700000000000ull; /* absolute ms, so phase alignment is realistic */
	struct rp_wheel *w = new_wheel(start);
	size_t i, fired = 0, stalled;
	uint64_t t0, t1, now;

	for (i = 0; i < STEADY_ENTRIES; i++)
		rp_wheel_add(w, &devs[i].link,
			     rp_wheel_phase_due(devs[i].addr, STEADY_INTERVAL, start + 1));
	t0 = sup_clock_ns(CLOCK_MONOTONIC);
	for (now = start + 1; now <= start + STEADY_TICKS; now++)
		fired += rp_wheel_run(w, now, resched_cb, w);
	t1 = sup_clock_ns(CLOCK_MONOTONIC);
	if (fired != (size_t)STEADY_ENTRIES * (STEADY_TICKS / STEADY_INTERVAL))
		abort();
	if (print)
		report("reschedule", fired, t1 - t0);

	t0 = sup_clock_ns(CLOCK_MONOTONIC);
	stalled = rp_wheel_run(w, now + STALL_TICKS - 1, resched_cb, w);
	t1 = sup_clock_ns(CLOCK_MONOTONIC);
	if (stalled != STEADY_ENTRIES)
		abort();
	if (print)
		report("stall_1s", stalled, t1 - t0);
	rp_wheel_destroy(w);
}

/* The shards' device table beside their records: 36 bytes a device (src/fleet/devtable.c),
 * of which on_due reads the generation. */
struct tabrec {
	uint8_t addr[16];
	uint32_t gen;
	uint8_t rest[16];
};

struct big {
	struct rp_wheel *w;
	struct bigdev *devs;
	struct tabrec *tab; /* NULL: the callback touches its device's first line only */
	uint64_t sum;
};

static void big_resched_cb(struct rp_wheel_entry *e, uint64_t now, void *arg)
{
	struct big *b = arg;
	struct bigdev *d = RP_CONTAINER_OF(e, struct bigdev, link);

	d->rest[0]++; /* the callback reads and writes its device, as on_due does */
	if (b->tab) {
		/* ... and, as on_due, its record's last bytes and its table slot. */
		d->rest[sizeof(d->rest) - 1]++;
		b->sum += b->tab[d - b->devs].gen;
	}
	rp_wheel_add(b->w, e, now + BIG_INTERVAL);
}

/* What the shards' warm_due does: prefetch what big_resched_cb will touch. */
static void big_warm_cb(const struct rp_wheel_entry *e, void *arg)
{
	const struct big *b = arg;
	const struct bigdev *d = RP_CONST_CONTAINER_OF(e, struct bigdev, link);

	__builtin_prefetch(&d->rest[sizeof(d->rest) - 1], 1);
	__builtin_prefetch(&b->tab[d - b->devs].gen);
}

/* 1e6 phase-spread devices at a 60 s interval, 72 bytes apart, for two simulated intervals
 * at 1 ms ticks: the daemon's wheel at 1M devices (fires, and cascades with 8-bit levels;
 * the shards' 16-bit level 0 holds a minute without cascading). One run per `step` ticks:
 * 1, or 10 as a shard runs it with the default probe_tick (10 ms). `table`: the callback
 * also reads a 36-byte table record per device, as the shards' does; `hint`: with the
 * read-ahead hint (rp_wheel_set_warm) prefetching those. */
static void steady_1m(unsigned bits, unsigned levels, unsigned step, bool table, bool hint,
		      const char *name, bool print)
{
	uint64_t start = 1700000000000ull;
	struct big b = {.devs = rp_xcalloc(N_ENTRIES, sizeof(*b.devs)),
			.tab = table ? rp_xcalloc(N_ENTRIES, sizeof(*b.tab)) : NULL};

	if (rp_wheel_create(&b.w, bits, levels, start) < 0)
		abort();
	if (hint)
		rp_wheel_set_warm(b.w, big_warm_cb);
	size_t i, fired = 0;
	uint64_t t0, t1, now;

	for (i = 0; i < N_ENTRIES; i++) {
		rp_wheel_entry_init(&b.devs[i].link);
		rp_wheel_add(
		    b.w, &b.devs[i].link,
		    rp_wheel_phase_due(0xc6120000u + (uint32_t)i, BIG_INTERVAL, start + 1));
	}
	/* One interval first, so every entry has been fired and re-added once. */
	for (now = start + step; now <= start + BIG_INTERVAL; now += step)
		rp_wheel_run(b.w, now, big_resched_cb, &b);
	t0 = sup_clock_ns(CLOCK_MONOTONIC);
	for (; now <= start + BIG_INTERVAL + BIG_TICKS; now += step)
		fired += rp_wheel_run(b.w, now, big_resched_cb, &b);
	t1 = sup_clock_ns(CLOCK_MONOTONIC);
	if (fired != (size_t)N_ENTRIES * (BIG_TICKS / BIG_INTERVAL))
		abort();
	if (print)
		report(name, fired, t1 - t0);
	rp_wheel_destroy(b.w);
	free(b.devs);
	free(b.tab);
}

int main(void)
{
	struct dev *devs = rp_xcalloc(N_ENTRIES, sizeof(*devs));
	uint64_t *dues = rp_xcalloc(N_ENTRIES, sizeof(*dues));
	uint32_t *order = rp_xcalloc(N_ENTRIES, sizeof(*order));
	uint64_t rng = 0x2545f4914f6cdd1dull;
	size_t i;

	for (i = 0; i < N_ENTRIES; i++) {
		rp_wheel_entry_init(&devs[i].link);
		devs[i].addr = 0x0a000000u + (uint32_t)i;
		dues[i] = 1 + sup_xorshift64(&rng) % SPREAD;
		order[i] = (uint32_t)i;
	}
	for (i = N_ENTRIES - 1; i > 0; i--) {
		size_t j = sup_xorshift64(&rng) % (i + 1);
		uint32_t tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}

	/* Warm-up pass faults the arrays in and trains the branch predictors. */
	add_and_expire(devs, dues, false);
	add_and_expire(devs, dues, true);
	add_and_cancel(devs, dues, order, false);
	add_and_cancel(devs, dues, order, true);
	steady(devs, false);
	steady(devs, true);
	steady_1m(RP_WHEEL_DEFAULT_BITS, RP_WHEEL_DEFAULT_LEVELS, 1, false, false,
		  "reschedule_1m_72b", true);
	steady_1m(RP_WHEEL_WIDE_BITS, RP_WHEEL_WIDE_LEVELS, 1, false, false,
		  "reschedule_1m_72b_wide", true);
	steady_1m(RP_WHEEL_WIDE_BITS, RP_WHEEL_WIDE_LEVELS, 10, false, false,
		  "reschedule_1m_72b_wide_10ms", true);
	steady_1m(RP_WHEEL_WIDE_BITS, RP_WHEEL_WIDE_LEVELS, 10, true, false,
		  "reschedule_1m_72b_wide_10ms_table", true);
	steady_1m(RP_WHEEL_WIDE_BITS, RP_WHEEL_WIDE_LEVELS, 10, true, true,
		  "reschedule_1m_72b_wide_10ms_table_hint", true);

	free(order);
	free(dues);
	free(devs);
	return 0;
}
