/* A round's statistics (rp_round_stats): min, avg, median, max, population standard
 * deviation and the mean absolute difference of consecutive RTTs, against values
 * worked out by hand; and the state and reason names the points carry. */
#include <criterion/criterion.h>
#include <math.h>

#include "ringprobe/event.h"
#include "ringprobe/round.h"

static void near(double got, double want, const char *what)
{
	cr_assert(fabs(got - want) <= 1e-3 * (fabs(want) > 1 ? fabs(want) : 1),
		  "%s: %.6f, want %.6f", what, got, want);
}

Test(round, nothing_received_is_all_zero_but_the_counts)
{
	struct rp_round_stats r;

	rp_round_stats(NULL, 0, 5, &r);
	cr_assert_eq(r.sent, 5);
	cr_assert_eq(r.received, 0);
	cr_assert(r.min_ns == 0 && r.avg_ns == 0 && r.median_ns == 0 && r.max_ns == 0);
	cr_assert(r.stddev_ns == 0 && r.jitter_ns == 0);
}

Test(round, one_reply_has_no_spread_and_no_jitter)
{
	float rtt[1] = {1234567};
	struct rp_round_stats r;

	rp_round_stats(rtt, 1, 3, &r);
	cr_assert_eq(r.sent, 3);
	cr_assert_eq(r.received, 1);
	cr_assert(r.min_ns == 1234567 && r.max_ns == 1234567 && r.median_ns == 1234567);
	cr_assert(r.avg_ns == 1234567);
	cr_assert(r.stddev_ns == 0 && r.jitter_ns == 0);
}

/* Odd count, out of order: 30 10 20 50 40 (us). Sorted 10 20 30 40 50: median 30,
 * mean 30, population variance (400+100+0+100+400)/5 = 200 -> stddev 14.1421;
 * consecutive differences 20 10 30 10 -> jitter 17.5. */
Test(round, odd_count_in_send_order)
{
	float rtt[5] = {30000, 10000, 20000, 50000, 40000};
	struct rp_round_stats r;

	rp_round_stats(rtt, 5, 5, &r);
	cr_assert_eq(r.received, 5);
	near(r.min_ns, 10000, "min");
	near(r.max_ns, 50000, "max");
	near(r.median_ns, 30000, "median");
	near(r.avg_ns, 30000, "avg");
	near(r.stddev_ns, 1000 * sqrt(200), "stddev");
	near(r.jitter_ns, 17500, "jitter");
	/* The caller's array is left as it was (the median sorts a copy). */
	cr_assert(rtt[0] == 30000 && rtt[4] == 40000);
}

/* Even count: the median is the mean of the two middle values. 4 1 3 2 ms: sorted
 * 1 2 3 4, median 2.5, mean 2.5, variance (2.25+0.25+0.25+2.25)/4 = 1.25; differences
 * 3 2 1 -> jitter 2. */
Test(round, even_count_takes_the_mean_of_the_middle_two)
{
	float rtt[4] = {4e6f, 1e6f, 3e6f, 2e6f};
	struct rp_round_stats r;

	rp_round_stats(rtt, 4, 6, &r);
	cr_assert_eq(r.sent, 6);
	cr_assert_eq(r.received, 4);
	near(r.median_ns, 2.5e6, "median");
	near(r.avg_ns, 2.5e6, "avg");
	near(r.stddev_ns, 1e6 * sqrt(1.25), "stddev");
	near(r.jitter_ns, 2e6, "jitter");
	near(r.min_ns, 1e6, "min");
	near(r.max_ns, 4e6, "max");
}

/* The largest round: 100 replies 1..100 ms sent in descending order. */
Test(round, a_full_round_of_one_hundred)
{
	float rtt[RP_ROUND_MAX];
	struct rp_round_stats r;

	for (int i = 0; i < RP_ROUND_MAX; i++)
		rtt[i] = (float)(RP_ROUND_MAX - i) * 1e6f;
	rp_round_stats(rtt, RP_ROUND_MAX, RP_ROUND_MAX, &r);
	near(r.min_ns, 1e6, "min");
	near(r.max_ns, 100e6, "max");
	near(r.median_ns, 50.5e6, "median");
	near(r.avg_ns, 50.5e6, "avg");
	/* Population stddev of 1..100 is sqrt((100^2 - 1) / 12). */
	near(r.stddev_ns, 1e6 * sqrt((10000.0 - 1) / 12), "stddev");
	near(r.jitter_ns, 1e6, "jitter");
}

Test(round, names_of_states_and_reasons)
{
	cr_assert_str_eq(rp_dev_state_name(RP_STATE_UP), "up");
	cr_assert_str_eq(rp_dev_state_name(RP_STATE_DOWN), "down");
	cr_assert_str_eq(rp_dev_state_name(RP_STATE_UNKNOWN), "unknown");
	cr_assert_str_eq(rp_state_reason_name(RP_REASON_TIMEOUT), "timeout");
	cr_assert_str_eq(rp_state_reason_name(RP_REASON_SUSPENDED), "suspended");
	cr_assert_str_eq(rp_state_reason_name(RP_REASON_REPLY), "reply");
}
