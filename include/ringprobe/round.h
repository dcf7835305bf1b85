/* One round's statistics: `ping_count` echoes to a device, summed up in one
 * `ping_round` point. Pure (no I/O, no clock, no allocation): the shard computes them
 * when a round ends, tests link it directly. */
#ifndef RP_ROUND_H
#define RP_ROUND_H

#include <stdint.h>

/** Most echoes one round may send (the `ping_count` key's upper bound). */
#define RP_ROUND_MAX 100

/** A round's summary. RTTs are nanoseconds as floats (exact below 16.7 ms, within
 *  0.5 ulp above); every RTT statistic is 0 when nothing was received, and jitter is
 *  0 with fewer than two replies. */
struct rp_round_stats {
	uint8_t sent;	  /* echoes sent */
	uint8_t received; /* of those, answered in time */
	uint8_t errors;	  /* of the rest, ended by an ICMP error (set by the shard) */
	uint8_t error;	  /* the last such error's enum rp_icmp_err (icmp.h); 0 = none */
	float min_ns, avg_ns, median_ns, max_ns;
	float stddev_ns; /* population standard deviation */
	float jitter_ns; /* mean |rtt[i] - rtt[i-1]| over consecutive replies (in send
			  * order, lost echoes skipped), RFC 3550's D without its smoothing */
};

/** Fills *out from the RTTs of the `received` echoes answered, in the order they were
 *  sent (rtt[0 .. received)); sent >= received, both <= RP_ROUND_MAX. */
void rp_round_stats(const float *rtt, unsigned received, unsigned sent, struct rp_round_stats *out);

#endif
