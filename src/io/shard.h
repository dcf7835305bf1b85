/* A probe shard: one thread that owns one engine (one ICMP socket), one timing wheel,
 * one device table slice and one outgoing result ring. Devices reach it through its
 * command ring (or rp_shard_add before it starts); results leave through its result
 * ring; nothing else is shared, so nothing locks.
 *
 * The loop (one iteration per tick, ~5 ms):
 *   read the clock once -> commands -> expire the wheel into the ready queue ->
 *   time out overdue probes (FIFO in send order) -> send what is due, paced by a token
 *   bucket -> one engine poll (submit, wait, drain) -> match replies -> push results.
 *
 * Private to src/io (prober.c drives the shards; tests/io and bench_engine may use it).
 * The types other stages see, struct rp_shard_dev and struct rp_shard_stats, are in
 * include/ringprobe/prober.h. */
#ifndef RP_IO_SHARD_H
#define RP_IO_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "io/engine.h" /* struct rp_engine_pkt */
#include "ringprobe/prober.h"
#include "ringprobe/siphash.h"

struct rp_shard;
struct rp_spsc;
struct rp_engine_info;

struct rp_shard_conf {
	unsigned index;	      /* 0..shards-1, carried in every probe */
	uint32_t capacity;    /* devices this shard can hold */
	uint64_t timeout_ns;  /* a reply later than this is a timeout */
	double rate_pps;      /* this shard's share of the packet rate; 0 = unpaced */
	double burst;	      /* token bucket depth, packets */
	uint64_t tick_ns;     /* longest sleep per iteration (5 ms) */
	uint32_t max_fails;   /* failures in a row before suspension; 0 = never */
	uint64_t backoff_ns;  /* a suspended device is probed once per backoff */
	uint32_t result_ring; /* result ring capacity (power of two) */
	uint32_t cmd_ring;    /* command ring capacity (power of two) */
	struct rp_siphash_key key;
	/* engine */
	int backend;
	int icmp_mode;
	unsigned feature_mask;
	uint32_t send_slots;
	uint32_t recv_bufs;
	uint32_t rcvbuf_bytes;
	uint16_t ident;
	unsigned families;	  /* RP_FAMILY_* to open sockets for; 0 = both */
	struct rp_engine_pkt pkt; /* the echo requests' size, IP options and source */
	int rt_priority;	  /* SCHED_FIFO priority for the thread; 0 = normal scheduling */
	/* Rounds and states, for monitored devices only (one-shot probes are single
	 * echoes without a state). With ping_count > 1 or rounds, a per-device round
	 * accumulator is allocated at create; otherwise nothing more than today. */
	uint32_t ping_count; /* echoes per round, 1..RP_ROUND_MAX; 0 = 1 */
	uint32_t spacing_ms; /* between a round's echoes; 0 = interval / 10 / (count - 1),
			      * at least 10 ms */
	bool rounds;	     /* a round summary event per device and round */
	bool states;	     /* up/down state, an event per change */
	uint32_t down_after; /* failed rounds in a row before down (0 = 1) */
	uint32_t up_after;   /* good rounds in a row before up (0 = 1) */
	uint32_t event_ring; /* event ring capacity (power of two) when rounds or states */
	/* Probe profiles (prober.h): profile 0 is timeout_ns, ping_count, spacing_ms and
	 * payload0 with pkt's options; profiles[1..nprofiles-1] are defined at create,
	 * others later (rp_shard_offer_profile). pkt.payload_len sizes the send buffers
	 * (the largest any profile may use), count_max the round accumulators (0 =
	 * ping_count). */
	uint32_t payload0; /* profile 0's payload (0 = pkt.payload_len's, the buffers') */
	const struct rp_probe_profile *profiles;
	unsigned nprofiles;
	uint32_t count_max;
	/* Per-device exposition accumulators (src/io/pacc.h); none when pacc_nbounds is 0. */
	uint32_t pacc_nbounds;
	const double *pacc_bounds;
};

/** Creates the shard and opens its engine (socket first). -errno with why on failure. */
int rp_shard_create(struct rp_shard **out, const struct rp_shard_conf *conf, char *why,
		    size_t whylen);
/** Stops (if running) and frees; NULL is ok. */
void rp_shard_destroy(struct rp_shard *s);
/** Adds a device before rp_shard_start (the caller owns the shard until then). -ENOSPC
 *  when full, -EEXIST when the address is already there. */
int rp_shard_add(struct rp_shard *s, const struct rp_shard_dev *d);
/** Sends an add command from the controlling thread (the one producer of the command
 *  ring) while the shard runs; false when the ring is full (offer again later). */
bool rp_shard_offer(struct rp_shard *s, const struct rp_shard_dev *d);
/** Sends a remove command for `addr`; false when the ring is full. */
bool rp_shard_offer_remove(struct rp_shard *s, const struct rp_ip *addr);
/** Sends a remove of d->addr and then the add of d, both or neither (a device whose
 *  interval changes); false when the ring has no room for the two. */
bool rp_shard_offer_readd(struct rp_shard *s, const struct rp_shard_dev *d);
/** Sends a new packet rate (and bucket depth) for this shard, taking effect at its
 *  next iteration; false when the ring is full. The daemon splits ping_rate_limit
 *  over the shards by the devices each holds. */
bool rp_shard_offer_rate(struct rp_shard *s, double rate_pps, double burst);
/** Sends a new reply timeout, for probes sent from its next iteration on; false when
 *  the ring is full. */
bool rp_shard_offer_timeout(struct rp_shard *s, uint64_t timeout_ns);
/** Sends the definition of profile k (1..RP_PROFILES_MAX-1): *pf must stay unchanged
 *  and alive until the shard is destroyed (the prober's table). It takes effect before
 *  the commands sent after it. false when the ring is full. */
bool rp_shard_offer_profile(struct rp_shard *s, unsigned k, const struct rp_probe_profile *pf);
/** Starts the shard thread. */
int rp_shard_start(struct rp_shard *s);
/** Asks the thread to stop sending; it waits one timeout for replies, pushes the last
 *  results and exits. Joins it. */
void rp_shard_stop(struct rp_shard *s);
/** Same request without waiting: the stats say `stopped` once the thread has pushed
 *  its last results (keep draining the result ring meanwhile); rp_shard_stop joins.
 *  The thread waits for replies up to one timeout, or wait_ns if shorter; probes whose
 *  deadline that cuts off get no result (counted as stop_unknown, neither up nor down). */
void rp_shard_request_stop(struct rp_shard *s, uint64_t wait_ns);
/** The ring results leave by (the consumer pops it). */
struct rp_spsc *rp_shard_results(struct rp_shard *s);
/** The ring events (struct rp_event: round summaries, state changes) leave by; NULL
 *  without rounds and states. */
struct rp_spsc *rp_shard_events(struct rp_shard *s);
/** Snapshot of the counters. */
void rp_shard_stats(const struct rp_shard *s, struct rp_shard_stats *out);
/** Per-device exposition: asks the shard to copy its monitored devices' accumulators
 *  into buf (rp_shard_pacc_rec_size bytes per device, capacity at most) at its next
 *  loop; returns the ticket rp_shard_pacc_done waits for. The caller keeps buf alive
 *  and untouched until then, and does not change it between calls (a request that
 *  timed out may still be answered into it). One asking thread. */
uint64_t rp_shard_pacc_ask(struct rp_shard *s, void *buf);
/** Whether the copy of `ticket` is there; then *n says how many records and
 *  *recv_errors the engine's receive errors when it was taken. */
bool rp_shard_pacc_done(struct rp_shard *s, uint64_t ticket, uint32_t *n, uint64_t *recv_errors);
/** Bytes per record; 0 without accumulators. */
size_t rp_shard_pacc_rec_size(const struct rp_shard *s);
/** What the engine chose and why. */
void rp_shard_engine_info(const struct rp_shard *s, struct rp_engine_info *out);

#endif
