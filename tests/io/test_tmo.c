/* The shard's timeout FIFO (src/io/tmo.h): a full FIFO refuses a push and never
 * overwrites, and a shard at the edge of the FIFO's bound (a full device table of
 * one-shot probes, sent unpaced, each answered one freeing its slot at once, and a
 * timeout long against the replies) holds probes back rather than lose the deadline
 * of one still out: every probe gets exactly one result.
 *
 * The shard test runs in its own network namespace (root only; skipped otherwise)
 * where the kernel answers every echo request to 127.0.0.0/8 except those to
 * 127.9.0.0/16, which a blackhole route in the namespace's local table swallows
 * before they are sent. Only 127.0.0.0/8 is ever used. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/shard.h"
#include "io/tmo.h"
#include "io_test.h"
#include "ringprobe/conf.h"
#include "ringprobe/result.h"
#include "ringprobe/spsc.h"
#include "support/support.h"

#define MS 1000000ull

TestSuite(tmo, .timeout = 60);

/* --- the FIFO alone ------------------------------------------------------------- */

static struct rp_tmo_entry entry(uint32_t i)
{
	return (struct rp_tmo_entry){.deadline_ns = 1000 + i, .slot = i, .gen = 7, .seq = i};
}

static void fill_and_check(struct rp_tmo *t, uint32_t start)
{
	uint32_t size = rp_tmo_size(t);

	t->head = t->tail = start; /* free-running indices: also across the 2^32 wrap */
	for (uint32_t i = 0; i < size; i++) {
		struct rp_tmo_entry e = entry(i);

		cr_assert_eq(rp_tmo_push(t, &e), 0, "push %u of %u", i, size);
	}
	cr_assert(rp_tmo_full(t));
	{
		struct rp_tmo_entry e = entry(999);

		cr_assert_eq(rp_tmo_push(t, &e), -ENOSPC);
	}
	/* Nothing was overwritten: the oldest is still entry 0, and all come out in order. */
	for (uint32_t i = 0; i < size; i++) {
		const struct rp_tmo_entry *p = rp_tmo_peek(t);

		cr_assert_not_null(p);
		cr_assert_eq(p->slot, i, "entry %u holds slot %u", i, p->slot);
		cr_assert_eq(p->deadline_ns, 1000 + i);
		rp_tmo_pop(t);
		if (i == 0) {
			/* One place free again: one push fits, the next does not. */
			struct rp_tmo_entry e = entry(size);

			cr_assert_eq(rp_tmo_push(t, &e), 0);
			cr_assert_eq(rp_tmo_push(t, &e), -ENOSPC);
		}
	}
	cr_assert_eq(rp_tmo_peek(t)->slot, size);
	rp_tmo_pop(t);
	cr_assert_null(rp_tmo_peek(t));
}

Test(tmo, sized_at_twice_the_capacity)
{
	struct rp_tmo t;

	rp_tmo_init(&t, 16);
	cr_expect_eq(rp_tmo_size(&t), 32);
	rp_tmo_fini(&t);
	rp_tmo_init(&t, 1000);
	cr_expect_eq(rp_tmo_size(&t), 2048);
	rp_tmo_fini(&t);
	rp_tmo_init(&t, 0);
	cr_expect_eq(rp_tmo_size(&t), 2);
	rp_tmo_fini(&t);
}

Test(tmo, full_refuses_and_never_overwrites)
{
	struct rp_tmo t;

	rp_tmo_init(&t, 16);
	fill_and_check(&t, 0);
	fill_and_check(&t, UINT32_MAX - 5);
	rp_tmo_fini(&t);
}

/* --- a shard at the FIFO's edge ------------------------------------------------- */

#define CAP 16	    /* FIFO of 32 */
#define TARGETS 160 /* every 8th silent: 20 */
#define TIMEOUT_MS 300

static const struct rp_siphash_key key = {0x0a0b0c0d01020304ull, 0x1122334455667788ull};

static bool silent(uint32_t i)
{
	return i % 8 == 0;
}

static uint32_t target(uint32_t i)
{
	return silent(i) ? 0x7f090000u + 1 + i : 0x7f010000u + 1 + i;
}

static void fifo_edge(int backend)
{
	struct rp_shard_conf sc = {.index = 0,
				   .capacity = CAP,
				   .timeout_ns = TIMEOUT_MS * MS,
				   .rate_pps = 0, /* unpaced: the full rate */
				   .burst = 1,
				   .tick_ns = 5 * MS,
				   .result_ring = 1024,
				   .cmd_ring = 64,
				   .key = key,
				   .backend = backend,
				   .icmp_mode = RP_ICMP_RAW,
				   .feature_mask = RP_FEAT_ALL,
				   .send_slots = 64,
				   .recv_bufs = 64,
				   .rcvbuf_bytes = 1 << 20,
				   .ident = 0x4343};
	static uint32_t got[TARGETS], ok[TARGETS];
	struct rp_probe_result res[64];
	struct rp_shard_stats st;
	struct rp_engine_info info;
	struct rp_shard *s;
	uint32_t next = 0, live = 0, done = 0, silent_n = 0;
	const char *what;
	char why[512];
	double until;
	int rc;

	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets and a private network namespace)");
	rc = sup_netns_enter(SUP_NETNS_LO_UP, &what);
	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
	rc = sup_run("ip route add blackhole 127.9.0.0/16 table local", 0, NULL, NULL);
	cr_assert_eq(rc, 0, "ip route add blackhole: status %d", rc);
	memset(got, 0, sizeof(got));
	memset(ok, 0, sizeof(ok));
	cr_assert_eq(rp_shard_create(&s, &sc, why, sizeof(why)), 0, "%s", why);
	rp_shard_engine_info(s, &info);
	cr_assert_eq(info.backend, backend, "%s", info.why);
	cr_assert_eq(rp_shard_start(s), 0);

	/* A sweep's driver: the device table kept full, a new one-shot probe for each
	 * result. Without the bound check this loses the deadlines of silent probes
	 * (their FIFO places overwritten) and their results never come. */
	until = sup_now() + 20;
	while (done < TARGETS && sup_now() < until) {
		uint32_t n;

		while (live < CAP && next < TARGETS) {
			struct rp_shard_dev d = {.addr = rp_ip_v4(target(next)),
						 .id = next,
						 .interval_ms = 1000,
						 .count = 1,
						 .immediate = true};

			if (!rp_shard_offer(s, &d))
				break;
			next++;
			live++;
		}
		n = rp_spsc_pop(rp_shard_results(s), res, 64);
		for (uint32_t i = 0; i < n; i++) {
			cr_assert_lt(res[i].id, TARGETS);
			got[res[i].id]++;
			ok[res[i].id] += res[i].success;
			live--;
			done++;
		}
		if (!n)
			sup_sleep_ms(1);
	}
	rp_shard_stop(s);
	rp_shard_stats(s, &st);
	rp_shard_destroy(s);
	cr_log_info("fifo edge: %u results of %u; sent %llu replies %llu timeouts %llu "
		    "fifo_full %llu send_errors %llu",
		    done, TARGETS, (unsigned long long)st.probes_sent,
		    (unsigned long long)st.replies, (unsigned long long)st.timeouts,
		    (unsigned long long)st.timeout_fifo_full, (unsigned long long)st.send_errors);
	for (uint32_t i = 0; i < TARGETS; i++) {
		silent_n += silent(i);
		cr_expect_eq(got[i], 1, "target %u (%s): %u results", i,
			     silent(i) ? "silent" : "answering", got[i]);
		cr_expect_eq(ok[i], silent(i) ? 0u : got[i], "target %u: %u of %u answered", i,
			     ok[i], got[i]);
	}
	cr_expect_eq(done, TARGETS);
	cr_expect_eq(st.probes_sent, TARGETS);
	cr_expect_eq(st.timeouts, silent_n);
	cr_expect_eq(st.replies, TARGETS - silent_n);
	/* The edge was reached: probes were held back for a FIFO place. */
	cr_expect_gt(st.timeout_fifo_full, 0);
	cr_expect_leq(st.timeout_fifo_full, TARGETS);
}

Test(tmo, edge_full_table_full_rate_long_timeout_uring)
{
	fifo_edge(RP_BACKEND_URING);
}

Test(tmo, edge_full_table_full_rate_long_timeout_mmsg)
{
	fifo_edge(RP_BACKEND_MMSG);
}
