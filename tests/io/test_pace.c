/* Token bucket pacing. */
#include <criterion/criterion.h>

#include "ringprobe/pace.h"

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
