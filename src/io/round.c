/* A round's statistics (include/ringprobe/round.h) and the names of states and
 * reasons (event.h). Pure: the shard calls it once per round on its own stack. */
#include "ringprobe/round.h"

#include <math.h>

#include "ringprobe/event.h"

void rp_round_stats(const float *rtt, unsigned received, unsigned sent, struct rp_round_stats *out)
{
	float sorted[RP_ROUND_MAX];
	double sum = 0, sq = 0, jit = 0, mean;
	unsigned n = received > RP_ROUND_MAX ? RP_ROUND_MAX : received;

	*out = (struct rp_round_stats){.sent = (uint8_t)sent, .received = (uint8_t)n};
	if (n == 0)
		return;
	/* Insertion sort of at most RP_ROUND_MAX values, once a round: no allocation. */
	for (unsigned i = 0; i < n; i++) {
		float v = rtt[i];
		unsigned j = i;

		sum += v;
		if (i)
			jit += fabs((double)v - (double)rtt[i - 1]);
		while (j > 0 && sorted[j - 1] > v) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = v;
	}
	mean = sum / n;
	for (unsigned i = 0; i < n; i++)
		sq += ((double)rtt[i] - mean) * ((double)rtt[i] - mean);
	out->min_ns = sorted[0];
	out->max_ns = sorted[n - 1];
	out->avg_ns = (float)mean;
	out->median_ns = n & 1 ? sorted[n / 2]
			       : (float)(((double)sorted[n / 2 - 1] + (double)sorted[n / 2]) / 2);
	out->stddev_ns = (float)sqrt(sq / n);
	out->jitter_ns = n > 1 ? (float)(jit / (n - 1)) : 0;
}

const char *rp_dev_state_name(unsigned state)
{
	return state == RP_STATE_UP ? "up" : state == RP_STATE_DOWN ? "down" : "unknown";
}

const char *rp_state_reason_name(unsigned reason)
{
	return reason == RP_REASON_TIMEOUT	 ? "timeout"
	       : reason == RP_REASON_SUSPENDED	 ? "suspended"
	       : reason == RP_REASON_UNREACHABLE ? "unreachable"
						 : "reply";
}
