/* Several shards driven as one. Devices are routed to shards by a hash of their
 * address and fed through the shards' command rings; results are gathered from every
 * result ring. Two ways in:
 *   - the one-shot commands (ping, sweep): rp_prober_offer / rp_prober_run, the caller
 *     keeping what a full shard could not take;
 *   - the daemon: rp_prober_queue_* put commands in a bounded backlog per shard (sized
 *     at create, never grown) that rp_prober_drain hands over as the rings have room,
 *     in order per shard; rp_prober_rebalance splits the rate by the devices held.
 * The thread that creates the prober owns it (the caller's, or the control thread). */
#ifndef RP_PROBER_H
#define RP_PROBER_H

#include <stdbool.h>
#include <stdint.h>

#include "ringprobe/addr.h"
#include "ringprobe/hash.h"
#include "ringprobe/icmp.h"
#include "ringprobe/result.h"

struct rp_prober;

/* io_uring features; each can be masked off to test the fallback paths here. */
enum rp_engine_feature {
	RP_FEAT_URING = 1u << 0,	  /* io_uring at all (off => mmsg) */
	RP_FEAT_SEND_ADDR = 1u << 1,	  /* IORING_OP_SEND with a destination (6.1+) */
	RP_FEAT_RECV_MULTISHOT = 1u << 2, /* multishot RECVMSG + provided buffer ring (6.0+) */
	RP_FEAT_DEFER_TASKRUN = 1u << 3,  /* IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (6.1+) */
	RP_FEAT_TX_STAMP = 1u << 4,	  /* transmit timestamps (either backend), if asked for */
	RP_FEAT_ALL = 0x1fu,
};

/* Address families an engine opens a socket for (struct rp_prober_conf families). */
enum rp_family_bit {
	RP_FAMILY_V4 = 1u << 0,
	RP_FAMILY_V6 = 1u << 1,
	RP_FAMILY_BOTH = RP_FAMILY_V4 | RP_FAMILY_V6,
};

/** What was chosen, and why (for the one start-up log line). */
struct rp_engine_info {
	int backend;	   /* RP_BACKEND_URING or RP_BACKEND_MMSG */
	int icmp_mode;	   /* RP_ICMP_RAW or RP_ICMP_DGRAM */
	unsigned features; /* RP_FEAT_* in use */
	unsigned families; /* RP_FAMILY_* with a socket open */
	bool ip_header;	   /* raw: IPv4 datagrams start with the IPv4 header (ICMPv6 ones
			    * never do: raw ICMPv6 sockets pass no IPv6 header) */
	int32_t ident;	   /* identifier replies carry: conf ident (raw, both families),
			    * the kernel's (dgram: the IPv4 socket's, or the IPv6 one's
			    * when there is no IPv4 socket; never checked) */
	char why[256];	   /* "io_uring_setup: Operation not permitted (seccomp?) -> mmsg" */
};

/** Counters, readable from any thread (relaxed; refreshed once per iteration). */
struct rp_shard_stats {
	uint64_t devices;
	uint64_t suspended;
	uint64_t probes_sent;
	uint64_t replies; /* valid, in time */
	uint64_t timeouts;
	uint64_t invalid[RP_REPLY_KIND_COUNT]; /* per kind; [RP_REPLY_OK] unused */
	uint64_t send_errors;
	uint64_t ring_drops;   /* results lost to a full result ring */
	uint64_t cmd_rejected; /* adds refused: shard full */
	uint64_t cmd_refused;  /* prober only: adds, re-adds and one-shot probes its
				* backlog refused (full, or the shard at capacity) */
	uint64_t late_sends;   /* sent more than 10 ms after due */
	uint64_t max_late_ns;
	uint64_t loops;
	uint64_t recv_nobufs;
	uint64_t tx_stamped;	      /* replies timed from the kernel's
					 transmit stamp (else the payload's) */
	uint64_t timeout_fifo_full;   /* probes whose turn came with the timeout FIFO full:
				       * held back until a place freed (src/io/tmo.h) */
	uint64_t kernel_rx_drops;     /* datagrams the kernel dropped at the socket
				       * (receive buffer full): SO_RXQ_OVFL,
				       * SO_MEMINFO (src/io/engine.c) */
	uint64_t rtt_clock_fallbacks; /* replies whose kernel stamp disagreed with the
				       * monotonic clock (a clock step): timed on it */
	uint64_t stop_unknown;	      /* probes still out when a stop's wait ran out
				       * before their deadline: no result written */
	uint64_t rounds;	      /* rounds of monitored devices completed */
	uint64_t state_changes;	      /* device state flips between up and down */
	uint64_t devices_down;	      /* now: monitored devices whose state is down */
	uint64_t icmp_errors;	      /* probes ended by an ICMP error quoting them
				       * (counted as failed, not in timeouts) */
	uint64_t icmp_errors_short;   /* of those, matched by sequence alone (the error
				       * quoted only the echo header) */
	bool done;		      /* every device finished its count */
	bool stopped;		      /* the thread has exited (after stop) */
};

/** A device to add: probed every interval_ms, `count` times (0 = forever). */
struct rp_shard_dev {
	struct rp_ip addr;
	uint32_t id; /* the caller's id, returned in each result */
	uint32_t interval_ms;
	uint32_t count;
	bool immediate;	 /* first probe now (ping); else phase-spread (daemon) */
	uint8_t profile; /* its probe profile (rp_prober_set_profile); 0 = the prober's */
};

/* Probe profiles: the settings a device is probed with where groups may differ (the
 * daemon's `groups:`). Profile 0 is the prober's own (struct rp_prober_conf); others
 * are defined at create (rp_prober_conf.profiles) or later (rp_prober_set_profile),
 * each once: a profile is never redefined, so a device added with it keeps it.
 * Packet options that differ from profile 0 go out as per-packet control messages
 * (IP_TTL, IP_TOS, IP_PKTINFO; IPV6_HOPLIMIT, IPV6_TCLASS, IPV6_PKTINFO) on the
 * shard's one socket; profile 0's packets carry none. */
#define RP_PROFILES_MAX 16
struct rp_probe_profile {
	uint64_t timeout_ns;	/* a reply later than this is a timeout */
	uint32_t ping_count;	/* echoes per round, 1..RP_ROUND_MAX (monitored devices) */
	uint64_t spacing_ns;	/* between a round's echoes; 0 = automatic */
	uint32_t payload_len;	/* 0 = RP_ICMP_PAYLOAD_LEN; at most the prober's payload_max */
	int ttl;		/* 1..255; 0 = profile 0's */
	int tos;		/* 0..255; -1 = profile 0's */
	struct rp_ip source[2]; /* IPv4, IPv6 source; all-zero = profile 0's */
	int ifindex;		/* outgoing interface, per packet; 0 = profile 0's (the socket's) */
};

/* Per-device exposition: one device's counters as a snapshot holds them. v[] has
 * RP_PACC_BUCKETS words and then nbounds + 1 bucket counts (not cumulative; the last
 * counts replies above every bound). */
#define RP_PACC_MAX_BUCKETS 64
enum rp_pacc_word {
	RP_PACC_SENT = 0, /* echo requests sent */
	RP_PACC_COUNT,	  /* replies in time */
	RP_PACC_SUM_NS,	  /* their RTTs' sum, ns */
	RP_PACC_DUPS,	  /* duplicate replies */
	RP_PACC_TTL,	  /* the last reply's TTL or hop limit; 0 = none yet */
	/* requests whose send failed (no socket, or the kernel refused it:
	 * EHOSTUNREACH, ENETUNREACH, EPERM ...) */
	RP_PACC_SEND_ERRORS,
	RP_PACC_BUCKETS, /* the first bucket count */
};
struct rp_pacc_rec {
	struct rp_ip addr;
	uint32_t id; /* the id the device was added with (a name's tag) */
	uint32_t _pad;
	uint64_t v[];
};

/** A consistent copy of every shard's accumulators for its monitored devices (each
 *  shard's taken at one instant of its loop). Records are rec_size bytes apart. */
struct rp_pacc_view {
	uint32_t nbounds;
	const double *bounds_s; /* the prober's copy */
	size_t rec_size;
	unsigned nshards;
	unsigned missing; /* shards that did not answer within the wait (not listed) */
	uint64_t devices; /* records in all */
	/* the shards' sockets' receive errors (rp_engine_stats' recv_errors), summed,
	 * as each shard's copy was taken */
	uint64_t recv_errors;
	const unsigned char *recs[64];
	uint32_t n[64];
};

static inline const struct rp_pacc_rec *rp_pacc_view_rec(const struct rp_pacc_view *v,
							 unsigned shard, uint32_t i)
{
	return (const struct rp_pacc_rec *)(const void *)(v->recs[shard] + (size_t)i * v->rec_size);
}

/** The shard of n that owns addr (what rp_prober_shard_of answers). */
static inline unsigned rp_prober_route(const struct rp_ip *addr, unsigned n)
{
	return rp_ip_hash32(addr) % n;
}

struct rp_prober_conf {
	unsigned shards;   /* 1..64 */
	uint32_t capacity; /* devices in flight per shard */
	uint64_t timeout_ns;
	double rate_pps;	 /* whole process; 0 = unpaced */
	const uint32_t *weights; /* per shard, e.g. devices each will hold: the rate is
				  * split in proportion (NULL = evenly) */
	double burst;
	uint64_t tick_ns;
	int backend;
	int icmp_mode;
	unsigned feature_mask;
	uint32_t max_fails;  /* failures in a row before suspension; 0 = never */
	uint64_t backoff_ns; /* a suspended device is probed once per backoff */
	uint32_t cmd_ring;   /* command ring capacity per shard; 0 = 4096 */
	uint32_t backlog;    /* commands that may wait per shard (rp_prober_queue_*), at
			      * least 2 x capacity to hold a remove for every device;
			      * 0 = none (the daemon's; ping and sweep use none) */
	int rt_priority;     /* SCHED_FIFO priority of the shard threads; 0 = normal */
	unsigned families;   /* RP_FAMILY_* to open sockets for; 0 = both (an IPv6
			      * socket that cannot be opened then only leaves IPv6
			      * probes failing; one asked for alone is an error) */
	/* The echo requests themselves (fping -b -H -O -M -S -I -k -R; the daemon's
	 * packet keys). Zero is the default for each. */
	uint32_t payload_len; /* ICMP payload bytes after the 8-byte header; 0 = 56; else
			       * RP_ICMP_PAYLOAD_MIN (40, the probe's own fields) ..
			       * RP_ICMP_PAYLOAD_MAX (65507), refused otherwise */
	int ttl;	      /* IPv4 TTL / IPv6 hop limit; 0 = the kernel's */
	int tos;	      /* IPv4 TOS / IPv6 traffic class byte; 0 = none */
	bool dont_fragment;   /* IPv4 DF (IP_PMTUDISC_DO) / IPv6 IPV6_DONTFRAG */
	struct rp_ip source;  /* bind address for its family; all-zero = the kernel's */
	struct rp_ip source2; /* a second one, of the other family (the daemon's
			       * source_address takes one of each); all-zero = none */
	char interface[16];   /* SO_BINDTODEVICE; "" = none */
	uint32_t fwmark;      /* SO_MARK; 0 = none */
	bool random_payload;  /* payload bytes after the probe's own fields are random (drawn
			       * once per shard at start, as fping -R fills its buffer) */
	/* Rounds and states of monitored devices (the daemon's; zero for ping and sweep:
	 * single echoes, no events). */
	uint32_t ping_count; /* echoes per round, 1..RP_ROUND_MAX; 0 = 1 */
	uint64_t spacing_ns; /* between a round's echoes; 0 = a tenth of the interval
			      * spread over the round, at least 10 ms */
	bool rounds;	     /* a struct rp_event round summary per device and round */
	bool states;	     /* up/down state per device, a struct rp_event per change */
	uint32_t down_after; /* failed rounds (no reply at all) in a row before down */
	uint32_t up_after;   /* good rounds (a reply) in a row before up */
	/* Per-device exposition (prometheus.per_device): accumulators in every shard,
	 * read with rp_prober_pacc_snapshot. Off: nothing is allocated per device. */
	bool per_device;
	uint32_t pacc_nbounds;	   /* histogram bounds, 1..RP_PACC_MAX_BUCKETS */
	const double *pacc_bounds; /* seconds, ascending (copied at create) */
	/* Probe profiles 1..nprofiles-1 (profiles[0] is unused: profile 0 is the fields
	 * above), and room for ones defined later: send buffers hold payload_max bytes,
	 * round accumulators count_max echoes (0 = what the profiles given need). */
	const struct rp_probe_profile *profiles;
	unsigned nprofiles;
	uint32_t payload_max;
	uint32_t count_max;
};

struct rp_conf;

/** Fills the packet fields of pc (payload_len .. fwmark) that are still zero from the
 *  configuration's keys (packet_size, ttl, tos, dont_fragment, source_address,
 *  interface, fwmark): what a command line set first wins. The one rule for ping,
 *  sweep and the daemon. */
void rp_prober_conf_packet(struct rp_prober_conf *pc, const struct rp_conf *c);
/** Shards for a run over `targets` devices: `shards_key` (the `shards` key) when set,
 *  else one per online CPU (at most 8); one below 1,000 targets, where more threads
 *  only cost start-up. The one rule for ping, sweep and the daemon. */
unsigned rp_prober_shards_for(int64_t shards_key, uint64_t targets);
/** Creates the shards and opens their sockets (threads not started). -errno with why. */
int rp_prober_create(struct rp_prober **out, const struct rp_prober_conf *conf, char *why,
		     size_t whylen);
/** Takes SCHED_FIFO on the calling thread when rt_priority is set, drops every
 *  capability and sets no_new_privs (rp_priv_drop: to `user` when set, else keeping
 *  the uid), starts the shard threads (they inherit the priority), then gives the
 *  calling thread its own policy back. Call it before any other thread exists.
 *  -errno with why. */
int rp_prober_start(struct rp_prober *p, const char *user, char *why, size_t whylen);
/** Stops and frees; NULL is ok. */
void rp_prober_destroy(struct rp_prober *p);
/** Offers a device; false when its shard has no room now (offer it again later). */
bool rp_prober_offer(struct rp_prober *p, const struct rp_shard_dev *d);
/** Tells the prober a device finished (its last result was seen), an rp_prober_offer'd
 *  one or an rp_prober_queue_once probe: frees its room in the shard's capacity. */
void rp_prober_finished(struct rp_prober *p, const struct rp_ip *addr);
/** Pops up to max results from all shards. */
uint32_t rp_prober_poll(struct rp_prober *p, struct rp_probe_result *out, uint32_t max);
struct rp_event;
/** Pops up to max events (round summaries, state changes) from all shards; 0 without
 *  rounds and states. */
uint32_t rp_prober_poll_events(struct rp_prober *p, struct rp_event *out, uint32_t max);
/** Sum of every shard's counters. */
void rp_prober_stats(const struct rp_prober *p, struct rp_shard_stats *out);
/** Shard 0's engine choice (all shards choose alike). */
void rp_prober_engine_info(const struct rp_prober *p, struct rp_engine_info *out);
/** Stops every shard: no new probes, one timeout for replies, last results pushed. */
void rp_prober_stop(struct rp_prober *p);
/* Yields the next device to probe into *d; false when there are no more. */
typedef bool (*rp_prober_source)(void *arg, struct rp_shard_dev *d);
/* Takes one result; returns true when it was its device's last. */
typedef bool (*rp_prober_sink)(void *arg, const struct rp_probe_result *r);
/* Called about every 250 ms while running (progress lines); may be NULL. */
typedef void (*rp_prober_tick)(void *arg, const struct rp_shard_stats *st);

/** Feeds every device from `source`, hands every result to `sink`, until each device
 *  has finished; then stops the shards. -EIO when results were lost (ring full). */
int rp_prober_run(struct rp_prober *p, rp_prober_source source, rp_prober_sink sink,
		  rp_prober_tick tick, void *arg);
/** Asks every shard to stop without waiting (see rp_shard_request_stop): each waits for
 *  its outstanding replies up to one ping timeout, or wait_ns if that is shorter. */
void rp_prober_request_stop(struct rp_prober *p, uint64_t wait_ns);
/** Asks every shard for a copy of its accumulators and waits for them, at most wait_ns
 *  in all (a shard answers once per loop: a tick, 5 ms, at most when it keeps up).
 *  The copies live in buffers the prober owns until the next call: one reader at a
 *  time, which must be done with a view before taking the next. The shards take no
 *  lock; the caller's thread waits. 0, or -ENOTSUP without per_device. */
int rp_prober_pacc_snapshot(struct rp_prober *p, uint64_t wait_ns, struct rp_pacc_view *out);
/** Number of shards. */
unsigned rp_prober_count(const struct rp_prober *p);
/** Which shard an address belongs to. */
unsigned rp_prober_shard_of(const struct rp_prober *p, const struct rp_ip *addr);

/* The daemon's commands (the creating thread only). Each goes to the ring of addr's
 * shard at once when nothing waits for that shard, else waits in its backlog; a
 * shard's commands arrive in the order they were queued. Adds are refused, counted
 * in rp_shard_stats.cmd_refused, when the shard holds `capacity` devices and probes
 * or its backlog has no room to spare (see prober.c); removes and timeouts never are.
 * Refused means nothing was queued: the caller still owns the device (the daemon's
 * fleet retries static devices and forgets discovered ones, which the next sweep
 * finds again). */

/** Queues a monitored device (probed every interval_ms with `profile` until removed,
 *  first probe phase-spread). 0, -ENOSPC (shard at capacity) or -ENOBUFS (backlog full). */
int rp_prober_queue_add_profile(struct rp_prober *p, const struct rp_ip *addr, uint32_t id,
				uint32_t interval_ms, unsigned profile);
/** rp_prober_queue_add_profile with profile 0. */
int rp_prober_queue_add(struct rp_prober *p, const struct rp_ip *addr, uint32_t id,
			uint32_t interval_ms);
/** Queues one probe now (a discovery probe), finished by rp_prober_finished when its
 *  result comes. 0, -ENOSPC or -ENOBUFS. */
int rp_prober_queue_once(struct rp_prober *p, const struct rp_ip *addr, uint32_t id);
/** Queues a remove and a new add of a monitored device as one command (a new
 *  interval or profile). 0, or -ENOBUFS: the device keeps its schedule. */
int rp_prober_queue_readd_profile(struct rp_prober *p, const struct rp_ip *addr, uint32_t id,
				  uint32_t interval_ms, unsigned profile);
/** rp_prober_queue_readd_profile with profile 0. */
int rp_prober_queue_readd(struct rp_prober *p, const struct rp_ip *addr, uint32_t id,
			  uint32_t interval_ms);
/** Defines profile k (1..RP_PROFILES_MAX-1, not defined before) in every shard, ahead
 *  of every command queued after it. Its payload_len and ping_count are cut to the
 *  prober's payload_max and count_max: -E2BIG then (defined all the same), else 0;
 *  -EINVAL for a bad k. Never refused for room: one per profile waits. */
int rp_prober_set_profile(struct rp_prober *p, unsigned k, const struct rp_probe_profile *pf);
/** Queues the remove of a monitored device (one queued with rp_prober_queue_add). Never
 *  refused: the device's add kept it an entry. */
void rp_prober_queue_remove(struct rp_prober *p, const struct rp_ip *addr);
/** Queues a new reply timeout for every shard, after the commands waiting now. Never
 *  refused: one per shard waits, a newer one replacing it. */
void rp_prober_queue_timeout(struct rp_prober *p, uint64_t timeout_ns);
/** Hands each shard what waits for it, oldest first, until its ring is full. */
void rp_prober_drain(struct rp_prober *p);
/** Commands waiting in the backlogs. */
uint64_t rp_prober_queued(const struct rp_prober *p);
/** Splits the configured rate over the shards by the devices and probes each holds,
 *  so a shard with more than its even share is not held to less than it needs (with
 *  the rate at the fleet's need, an even split leaves that shard late for good).
 *  Sent to a shard only when its share moves by more than 1%; a full ring is retried
 *  at the next call. No-op unpaced or with one shard. */
void rp_prober_rebalance(struct rp_prober *p);

#endif
