#include "io/pace.h"

void rp_pace_init(struct rp_pace *p, double rate, double burst, uint64_t now_ns)
{
	p->rate = rate > 0 ? rate : 0;
	p->burst = burst < 1 ? 1 : burst;
	p->tokens = p->burst;
	p->last_ns = now_ns;
}

uint32_t rp_pace_take(struct rp_pace *p, uint64_t now_ns, uint32_t want)
{
	uint32_t got;

	if (p->rate == 0)
		return want;
	if ((int64_t)(now_ns - p->last_ns) > 0) {
		p->tokens += p->rate * (double)(now_ns - p->last_ns) / 1e9;
		if (p->tokens > p->burst)
			p->tokens = p->burst;
		p->last_ns = now_ns;
	}
	got = p->tokens >= want ? want : (uint32_t)p->tokens;
	p->tokens -= got;
	return got;
}

void rp_pace_untake(struct rp_pace *p, uint32_t n)
{
	if (p->rate == 0)
		return;
	p->tokens += n;
	if (p->tokens > p->burst)
		p->tokens = p->burst;
}

uint64_t rp_pace_wait_ns(const struct rp_pace *p)
{
	if (p->rate == 0 || p->tokens >= 1)
		return 0;
	return (uint64_t)((1 - p->tokens) / p->rate * 1e9) + 1;
}

void rp_pace_set(struct rp_pace *p, double rate, double burst, uint64_t now_ns)
{
	if (p->rate > 0 && (int64_t)(now_ns - p->last_ns) > 0)
		p->tokens += p->rate * (double)(now_ns - p->last_ns) / 1e9;
	p->last_ns = now_ns;
	p->rate = rate > 0 ? rate : 0;
	p->burst = burst < 1 ? 1 : burst;
	if (p->tokens > p->burst)
		p->tokens = p->burst;
}
