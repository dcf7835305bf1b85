/* Token bucket pacing (pure: the caller passes `now`). rate 0 = unpaced. */
#ifndef RP_PACE_H
#define RP_PACE_H

#include <stdint.h>

struct rp_pace {
	double rate;  /* tokens per second; 0 = unlimited */
	double burst; /* bucket depth */
	double tokens;
	uint64_t last_ns;
};

/** A full bucket at `now_ns`. burst < 1 is taken as 1. */
void rp_pace_init(struct rp_pace *p, double rate, double burst, uint64_t now_ns);
/** Changes rate and depth at now_ns, keeping the tokens earned so far (capped). */
void rp_pace_set(struct rp_pace *p, double rate, double burst, uint64_t now_ns);
/** Takes up to `want` tokens at now_ns; returns how many were granted. */
uint32_t rp_pace_take(struct rp_pace *p, uint64_t now_ns, uint32_t want);
/** Returns `n` tokens taken but not used (capped at the bucket depth). */
void rp_pace_untake(struct rp_pace *p, uint32_t n);
/** Nanoseconds until one token is available (0 when one is). */
uint64_t rp_pace_wait_ns(const struct rp_pace *p);

#endif
