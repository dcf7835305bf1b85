/* What the fleet page's figures cost the control thread (include/ringprobe/dist.h): one
 * rp_dist_result per probe result, for a fleet of 1,048,574 devices over 4,096 /24s
 * (127.64.0.0/12) and the worst bound (65,536 networks, every device its own), the
 * results in a random order as the shards' phase spread delivers them; and the
 * once-a-second fold of the window and a sort of the networks (the server's, per
 * publication). The baseline is a plain loop over the same results that only reads
 * each one. Prints one line per case:
 * bench=dist case=<name> n=<ops> ns_per_op=<ns>. Times are the thread's CPU time (this
 * machine is shared: wall time would count other processes' turns); the fold and the
 * sort the best of ten. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringprobe/dist.h"
#include "ringprobe/xalloc.h"
#include "support/support.h"

enum { N = 1048574, ROUNDS = 4 };

static void report(const char *name, size_t n, uint64_t ns)
{
	printf("bench=dist case=%s n=%zu ns_per_op=%.1f\n", name, n, n ? (double)ns / n : 0.0);
}

static struct rp_ip *fleet(uint32_t nets_shift)
{
	struct rp_ip *a = rp_xcalloc(N, sizeof(*a));
	uint64_t seed = 42;

	for (uint32_t i = 0; i < N; i++)
		a[i] = rp_ip_v4(0x7f400001u + (i << nets_shift));
	/* A random order (Fisher-Yates on a fixed seed). */
	for (uint32_t i = N - 1; i > 0; i--) {
		uint32_t j;
		struct rp_ip t;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		j = (uint32_t)((seed >> 33) % (i + 1));
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
	return a;
}

static void run(const char *name, uint32_t nets_shift)
{
	struct rp_ip *a = fleet(nets_shift);
	struct rp_dist d;
	struct rp_dist_view v;
	uint64_t t0, t1, best;
	volatile uint64_t sink = 0;
	char case_[64];

	rp_dist_init(&d, RP_DIST_NETS_MAX, 0);
	rp_dist_view_init(&v, d.cap);
	t0 = sup_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	for (int r = 0; r < ROUNDS; r++)
		for (uint32_t i = 0; i < N; i++)
			sink = (uint64_t)(a[i].b[15] ^ a[i].b[14]) * 1000 + 20000 + a[i].w[3];
	t1 = sup_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	snprintf(case_, sizeof(case_), "%s_baseline_loop", name);
	report(case_, (size_t)N * ROUNDS, t1 - t0);
	t0 = sup_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	for (int r = 0; r < ROUNDS; r++)
		for (uint32_t i = 0; i < N; i++)
			rp_dist_result(&d, &a[i], (i & 63) != 0,
				       (uint64_t)(a[i].b[15] ^ a[i].b[14]) * 1000 + 20000);
	t1 = sup_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	snprintf(case_, sizeof(case_), "%s_result", name);
	report(case_, (size_t)N * ROUNDS, t1 - t0);
	best = UINT64_MAX;
	for (int r = 0; r < 10; r++) {
		t0 = sup_clock_ns(CLOCK_THREAD_CPUTIME_ID);
		rp_dist_fold(&d, 1000000000ull, &v);
		t1 = sup_clock_ns(CLOCK_THREAD_CPUTIME_ID);
		best = t1 - t0 < best ? t1 - t0 : best;
	}
	snprintf(case_, sizeof(case_), "%s_fold_%unets", name, v.nnets);
	report(case_, 1, best);
	best = UINT64_MAX;
	for (int r = 0; r < 10; r++) {
		rp_dist_fold(&d, 1000000000ull, &v);
		t0 = sup_clock_ns(CLOCK_THREAD_CPUTIME_ID);
		rp_dist_sort_by_loss(v.nets, v.nnets);
		t1 = sup_clock_ns(CLOCK_THREAD_CPUTIME_ID);
		best = t1 - t0 < best ? t1 - t0 : best;
	}
	snprintf(case_, sizeof(case_), "%s_sort_%unets", name, v.nnets);
	report(case_, 1, best);
	(void)sink;
	rp_dist_view_fini(&v);
	rp_dist_fini(&d);
	free(a);
}

int main(void)
{
	run("1m_in_4096_24s", 0);
	/* Every device its own /24: the table fills at 65,536, the rest in `other`. */
	run("1m_in_1m_24s", 8);
	return 0;
}
