/* Token bucket pacing. */
#include <criterion/criterion.h>

#include "io/pace.h"

#define MS 1000000ull

Test(pace, unpaced_grants_everything)
{
	struct rp_pace p;

	rp_pace_init(&p, 0, 0, 0);
	cr_assert_eq(rp_pace_take(&p, 0, 100000), 100000);
	cr_assert_eq(rp_pace_wait_ns(&p), 0);
}

Test(pace, burst_then_rate)
{
	struct rp_pace p;
	uint64_t total = 0;

	rp_pace_init(&p, 1000, 10, 0);
	cr_assert_eq(rp_pace_take(&p, 0, 100), 10, "a full bucket first");
	cr_assert_eq(rp_pace_take(&p, 0, 1), 0);
	cr_assert_eq(rp_pace_wait_ns(&p), 1 * MS + 1);
	cr_assert_eq(rp_pace_take(&p, 5 * MS, 100), 5);
	/* One second in 5 ms steps grants the rate, whatever the step. */
	for (uint64_t t = 10 * MS; t <= 1005 * MS; t += 5 * MS)
		total += rp_pace_take(&p, t, 1000);
	cr_assert_geq(total, 999);
	cr_assert_leq(total, 1001);
}

Test(pace, bucket_caps_at_burst_after_idle)
{
	struct rp_pace p;

	rp_pace_init(&p, 1000, 50, 0);
	cr_assert_eq(rp_pace_take(&p, 0, 50), 50);
	cr_assert_eq(rp_pace_take(&p, 10000 * MS, 1000), 50);
	/* A clock that goes back grants nothing extra. */
	cr_assert_eq(rp_pace_take(&p, 9000 * MS, 1000), 0);
}

Test(pace, untaken_tokens_come_back_up_to_the_burst)
{
	struct rp_pace p;

	rp_pace_init(&p, 1000, 10, 0);
	cr_assert_eq(rp_pace_take(&p, 0, 10), 10);
	rp_pace_untake(&p, 4);
	cr_assert_eq(rp_pace_take(&p, 0, 100), 4);
	rp_pace_untake(&p, 50);
	cr_assert_eq(rp_pace_take(&p, 0, 100), 10, "never above the burst");
}

Test(pace, a_new_rate_keeps_what_the_old_one_earned)
{
	struct rp_pace p;
	uint32_t total = 0;

	rp_pace_init(&p, 1000, 100, 0);
	cr_assert_eq(rp_pace_take(&p, 0, 100), 100);
	/* 20 ms at 1,000/s earned 20; then the rate doubles. */
	rp_pace_set(&p, 2000, 100, 20 * MS);
	cr_assert_eq(rp_pace_take(&p, 20 * MS, 1000), 20);
	for (uint64_t t = 25 * MS; t <= 1020 * MS; t += 5 * MS)
		total += rp_pace_take(&p, t, 1000);
	cr_assert(total >= 1999 && total <= 2001, "%u in one second at 2,000/s", total);
	/* A smaller depth caps what is saved. */
	rp_pace_set(&p, 2000, 10, 2000 * MS);
	cr_assert_eq(rp_pace_take(&p, 2000 * MS, 1000), 10);
	/* Rate 0 is unpaced. */
	rp_pace_set(&p, 0, 10, 2001 * MS);
	cr_assert_eq(rp_pace_take(&p, 2001 * MS, 5000), 5000);
}
