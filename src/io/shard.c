/* The shard loop: wheel -> probe -> engine -> ring. Everything here belongs to the
 * shard's thread; other threads see only the rings and the stats snapshot. */
#include "io/shard.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/engine.h"
#include "io/pacc.h"
#include "ringprobe/compiler.h"
#include "ringprobe/devtable.h"
#include "ringprobe/event.h"
#include "ringprobe/log.h"
#include "io/pace.h"
#include "io/tmo.h"
#include "ringprobe/result.h"
#include "ringprobe/round.h"
#include "ringprobe/spsc.h"
#include "ringprobe/trim.h"
#include "ringprobe/wheel.h"
#include "ringprobe/xalloc.h"

#define NS_PER_MS 1000000ull
#define LATE_NS (10 * NS_PER_MS)
#define RESULT_BATCH 256
#define EVENT_BATCH 64
#define CMD_BATCH 256
#define CMD_BUDGET_NS (2 * NS_PER_MS)

enum cmd_op { CMD_ADD = 1, CMD_REMOVE = 2, CMD_RATE = 3, CMD_TIMEOUT = 4, CMD_PROFILE = 5 };

/* One command through the command ring: `op` says which member of `u` it carries. */
struct cmd {
	uint8_t op; /* enum cmd_op */
	union {
		struct rp_shard_dev add;  /* CMD_ADD */
		struct rp_ip remove_addr; /* CMD_REMOVE */
		struct {
			float pps;	/* the shard's new share of the rate */
			uint32_t burst; /* bucket depth, whole packets, at least 1 */
		} rate;			/* CMD_RATE */
		uint32_t timeout_ms;	/* CMD_TIMEOUT: at least 1 */
		struct {
			const struct rp_probe_profile *p; /* the prober's, immutable */
			uint8_t k;
		} profile; /* CMD_PROFILE */
	} u;
};

/* Per-device probe state, indexed by the device table's slot. When the current/next
 * probe is due (monotonic ms) is the timer's own due (rp_wheel_entry_due: every
 * schedule goes through rp_wheel_add), which left room for the state. */
struct sdev {
	struct rp_wheel_entry timer;
	uint64_t sent_ns;  /* CLOCK_MONOTONIC when the last probe was prepared */
	uint64_t since_ms; /* when `state` last changed, or the device joined (monotonic) */
	uint32_t id;
	uint32_t interval_ms;
	uint32_t seq;	     /* sequence of the last probe sent */
	uint32_t remaining;  /* probes still to send; UINT32_MAX = forever */
	uint32_t fails;	     /* failures (echoes) in a row */
	uint8_t outstanding; /* probes out: 0/1, or a round's echoes out */
	uint8_t suspended;
	uint8_t queued;	      /* in the ready queue: QUEUED, or HELD when held back for a
				 timeout FIFO place (counted once) */
	uint8_t answered;     /* the probe `seq` got its reply */
	uint8_t profile;      /* its probe profile (struct prof), < RP_PROFILES_MAX */
	uint8_t state;	      /* enum rp_dev_state | STATE_LAST_GOOD */
	uint16_t streak;      /* rounds in a row with the last one's outcome (saturating) */
	uint32_t tx_after_ns; /* when the driver took it (its transmit stamp), ns after
				 sent_ns; 0 until that comes. In the padding: 72 bytes */
};
_Static_assert(sizeof(struct sdev) <= 72, "per-device state grew: 1M devices cost 72 MB");

#define QUEUED 1u
#define HELD 2u

#define STATE_MASK 0x3u
#define STATE_LAST_GOOD 0x80u /* the last round had a reply */

/* A monitored device's round, when rounds are on or ping_count > 1 (then every
 * monitored device probes in rounds; one-shot probes never do). Fixed size per device,
 * allocated at create: the header, then per echo its state (ECHO_*), its send time and
 * (rounds on) its RTT. A round starts with its first echo, ends when every echo is
 * answered or has timed out (one timeout FIFO entry per round, pushed with its last
 * echo), and at the latest when the next round starts. */
struct racc {
	uint64_t round_due; /* monotonic ms: when the first echo was due */
	uint32_t base;	    /* sequence of the first echo */
	uint8_t want;	    /* echoes this round: ping_count, 1 while suspended */
	uint8_t sent;
	uint8_t received;
	uint8_t open;			 /* started, not yet summed up */
	uint8_t susp;			 /* suspended when it started */
	uint8_t ttl;			 /* the last reply's TTL (0: not known yet) */
	uint8_t errors;			 /* echoes ended by an ICMP error */
	uint8_t err, err_type, err_code; /* the last one's (struct icmperr) */
	uint8_t _pad[2];
};

/* What an ICMP error that ended a probe said (icmp.h: rp_icmp_err, type, code). */
struct icmperr {
	uint8_t err, type, code;
};

enum { ECHO_UNSENT = 0, ECHO_OUT, ECHO_ANSWERED, ECHO_FAILED };

/* A probe profile as the shard uses it (prober.h: struct rp_probe_profile). Each
 * distinct timeout has its own FIFO (tmo.h), which stays in send order because every
 * entry in it waits the same time. */
struct prof {
	uint64_t timeout_ns;
	uint32_t count;	     /* echoes per round, 1..count_max */
	uint32_t spacing_ms; /* 0 = automatic */
	uint32_t pkt_len;    /* the request's length */
	uint32_t fill_sum;   /* rp_engine_fill_sum of it */
	uint8_t fifo;	     /* index into rp_shard.tmo */
	uint8_t opts;	     /* engine packet options: 0, or the profile's index */
};
struct ready {
	uint32_t slot;
	uint32_t gen;
};

#define STATS_WORDS ((sizeof(struct rp_shard_stats) + 7) / 8)

struct rp_shard {
	struct rp_shard_conf conf;
	struct rp_engine *engine;
	struct rp_engine_info info;
	struct rp_devtable *table;
	struct sdev *devs;
	struct rp_wheel *wheel;
	struct rp_spsc *results;
	struct rp_spsc *cmds;
	struct rp_pace pace;

	struct prof prof[RP_PROFILES_MAX];  /* undefined ones are copies of profile 0 */
	struct rp_tmo tmo[RP_PROFILES_MAX]; /* timeout FIFOs, one per distinct timeout */
	uint64_t tmo_ns[RP_PROFILES_MAX];   /* the timeout each FIFO was made for */
	unsigned ntmo;
	uint64_t max_timeout_ns; /* the longest of any profile (a stop's wait) */
	uint32_t count_max;	 /* echoes a round accumulator has room for */
	struct ready *readyq;	 /* due, not yet sent (pacing, buffers) */
	uint32_t ready_mask, ready_head, ready_tail;
	uint32_t ready_given; /* rp_ring_trim: pages before this entry given back */

	struct rp_probe_result batch[RESULT_BATCH];
	uint32_t nbatch;
	struct rp_spsc *events; /* NULL without rounds and states */
	struct rp_event ebatch[EVENT_BATCH];
	uint32_t nebatch;
	unsigned char *acc; /* struct racc per slot, acc_stride bytes each; NULL = none */
	size_t acc_stride, acc_st_off, acc_sent_off, acc_rtt_off;
	uint32_t active;      /* devices with probes left or outstanding */
	uint32_t outstanding; /* probes sent and not yet answered or timed out */
	bool buf_starved;     /* the last send round ran out of send buffers */

	uint64_t now_ns; /* monotonic, read once per iteration */
	uint64_t now_ms;
	/* CLOCK_REALTIME - CLOCK_MONOTONIC (read_offset()). Every duration (RTT, timeout,
	 * lateness) is measured on the monotonic clock; the real-time clock only stamps the
	 * points, and the kernel's real-time packet stamps are turned into monotonic time
	 * with this, so a clock step (NTP, an operator) moves timestamps, never RTTs. */
	uint64_t mono_to_real;
	uint64_t imm_next_ns; /* first due of the next immediate device (paced) */

	struct rp_shard_stats local; /* the thread's own counters */
	/* The snapshot, as relaxed atomic words so that a reader racing the writer is
	 * defined behaviour; the sequence counter makes the words one consistent set. */
	_Alignas(RP_CACHELINE) _Atomic uint64_t shared[STATS_WORDS];
	atomic_uint_fast64_t seqlock;

	/* Per-device exposition (pacc.h): NULL when off. The snapshot hand-off: the reader
	 * sets pacc_buf and bumps pacc_req (release); the loop copies once per new request
	 * and publishes pacc_n and pacc_done (release). */
	struct rp_pacc *pacc;
	_Atomic(void *) pacc_buf;
	_Atomic uint64_t pacc_req, pacc_done;
	_Atomic uint32_t pacc_n;
	/* The engine's recv_errors at the copy. */
	_Atomic uint64_t pacc_rxerr;
	uint64_t pacc_seen; /* the shard's: the last request answered */

	pthread_t thread;
	bool started;
	atomic_bool stop;
	_Atomic uint64_t stop_wait_ns; /* written before stop */
};

/* A reading of CLOCK_REALTIME - CLOCK_MONOTONIC is believed when the two monotonic
 * reads around it are closer than this (not interrupted), and taken when it moved by
 * more than its own uncertainty plus this (NTP slews both clocks alike, so only a step
 * moves it). */
#define OFFSET_BRACKET_NS 20000ull
#define OFFSET_MOVE_NS 1000ull

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC from the real-time clock read between two monotonic
 * reads: right to within half their distance, returned in *bracket. */
static uint64_t offset_reading(uint64_t *bracket)
{
	uint64_t m0 = clock_ns(CLOCK_MONOTONIC), r = clock_ns(CLOCK_REALTIME);
	uint64_t m1 = clock_ns(CLOCK_MONOTONIC);

	*bracket = m1 - m0;
	return r - (m0 + *bracket / 2);
}

/* Follows a step of the real-time clock. mono_to_real changes only when an
 * uninterrupted reading moved by more than its uncertainty (plus 1 us), so a probe's
 * point carries the same timestamp whether it is answered (the one in its payload) or
 * times out (sent_ns + mono_to_real). */
static void read_offset(struct rp_shard *s)
{
	uint64_t bracket, off = offset_reading(&bracket);
	int64_t moved = (int64_t)(off - s->mono_to_real);
	uint64_t dist = moved < 0 ? (uint64_t)-moved : (uint64_t)moved;

	if (bracket < OFFSET_BRACKET_NS && dist > bracket / 2 + OFFSET_MOVE_NS)
		s->mono_to_real = off;
}

/* The first offset: the tightest of a few readings. */
static void first_offset(struct rp_shard *s)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 8; i++) {
		uint64_t bracket, off = offset_reading(&bracket);

		if (bracket < best) {
			best = bracket;
			s->mono_to_real = off;
		}
	}
}

/* Profile k as the shard uses it, from pf (k > 0) or (k == 0) the shard's own conf.
 * Its timeout takes the FIFO made for the same timeout, or a new one (allocated here:
 * at create, or on the thread at a reload's CMD_PROFILE, never per probe). */
static void define_profile(struct rp_shard *s, unsigned k, const struct rp_probe_profile *pf)
{
	struct prof *p = &s->prof[k];
	uint32_t payload = k ? pf->payload_len : s->conf.payload0;
	uint64_t tmo = k ? pf->timeout_ns : s->conf.timeout_ns;
	uint32_t count = k ? pf->ping_count : s->conf.ping_count;
	uint64_t spacing = k ? pf->spacing_ns : (uint64_t)s->conf.spacing_ms * NS_PER_MS;
	size_t most = rp_engine_pkt_len(s->engine, NULL);
	unsigned f;

	p->timeout_ns = tmo ? tmo : NS_PER_MS;
	p->count = count < 1 ? 1 : count > s->count_max ? s->count_max : count;
	p->spacing_ms = (uint32_t)(spacing / NS_PER_MS);
	/* Profile 0 without payload0: the send buffers' own length (pkt.payload_len). */
	p->pkt_len = !payload && !k ? (uint32_t)most
				    : RP_ICMP_HDR_LEN + (payload ? payload : RP_ICMP_PAYLOAD_LEN);
	if (p->pkt_len > most)
		p->pkt_len = (uint32_t)most;
	p->fill_sum = rp_engine_fill_sum(s->engine, p->pkt_len);
	p->opts = 0;
	if (k && rp_engine_set_opts(s->engine, k, pf->ttl, pf->tos < 0 ? s->conf.pkt.tos : pf->tos,
				    pf->source, pf->ifindex > 0 ? pf->ifindex : 0) == 0)
		p->opts = (uint8_t)k;
	for (f = 0; f < s->ntmo; f++)
		if (s->tmo_ns[f] == p->timeout_ns)
			break;
	if (f == s->ntmo) {
		rp_tmo_init(&s->tmo[f], s->conf.capacity);
		s->tmo_ns[f] = p->timeout_ns;
		s->ntmo++;
	}
	p->fifo = (uint8_t)f;
	if (p->timeout_ns > s->max_timeout_ns)
		s->max_timeout_ns = p->timeout_ns;
}

static void warm_due(const struct rp_wheel_entry *e, void *arg);

int rp_shard_create(struct rp_shard **out, const struct rp_shard_conf *conf, char *why,
		    size_t whylen)
{
	struct rp_shard *s = rp_xaligned_calloc(RP_CACHELINE, sizeof(*s));
	struct rp_engine_conf ec = {
	    .backend = conf->backend,
	    .icmp_mode = conf->icmp_mode,
	    .feature_mask = conf->feature_mask,
	    .send_slots = conf->send_slots,
	    .recv_bufs = conf->recv_bufs,
	    .rcvbuf_bytes = conf->rcvbuf_bytes,
	    .ident = conf->ident,
	    .tx_stamps = true,
	    .send_failures = conf->pacc_nbounds != 0, /* per-device send errors */
	    .families = conf->families,
	    .pkt = conf->pkt,
	};
	int ret;

	s->conf = *conf;
	ret = rp_engine_create(&s->engine, &ec, why, whylen);
	if (ret < 0)
		goto out_free;
	rp_engine_info(s->engine, &s->info);
	ret = rp_devtable_create(&s->table, conf->capacity);
	if (ret < 0) {
		snprintf(why, whylen, "shard capacity %u is invalid", conf->capacity);
		goto out_engine;
	}
	s->now_ns = clock_ns(CLOCK_MONOTONIC);
	s->now_ms = s->now_ns / NS_PER_MS;
	ret = rp_wheel_create(&s->wheel, RP_WHEEL_WIDE_BITS, RP_WHEEL_WIDE_LEVELS, s->now_ms);
	if (ret < 0)
		goto out_table;
	rp_wheel_set_warm(s->wheel, warm_due);
	ret = rp_spsc_create(&s->results, conf->result_ring, sizeof(struct rp_probe_result));
	if (ret < 0)
		goto out_wheel;
	ret = rp_spsc_create(&s->cmds, conf->cmd_ring, sizeof(struct cmd));
	if (ret < 0)
		goto out_results;
	if (conf->rounds || conf->states) {
		ret = rp_spsc_create(&s->events, conf->event_ring ? conf->event_ring : 4096,
				     sizeof(struct rp_event));
		if (ret < 0)
			goto out_cmds;
	}
	if (s->conf.ping_count == 0)
		s->conf.ping_count = 1;
	if (s->conf.ping_count > RP_ROUND_MAX)
		s->conf.ping_count = RP_ROUND_MAX;
	s->count_max = conf->count_max > s->conf.ping_count ? conf->count_max : s->conf.ping_count;
	for (unsigned k = 1; k < conf->nprofiles && k < RP_PROFILES_MAX; k++)
		if (conf->profiles[k].ping_count > s->count_max)
			s->count_max = conf->profiles[k].ping_count;
	if (s->count_max > RP_ROUND_MAX)
		s->count_max = RP_ROUND_MAX;
	if (s->count_max > 1 || s->conf.rounds) {
		size_t n = s->count_max;

		s->acc_st_off = sizeof(struct racc);
		s->acc_sent_off = s->acc_st_off + ((n + 7) & ~(size_t)7);
		s->acc_rtt_off = s->acc_sent_off + n * sizeof(uint64_t);
		s->acc_stride = s->acc_rtt_off + (s->conf.rounds ? n * sizeof(float) : 0);
		s->acc_stride = (s->acc_stride + 7) & ~(size_t)7;
		s->acc = rp_xcalloc(conf->capacity, s->acc_stride);
		rp_advise_huge(s->acc, (size_t)conf->capacity * s->acc_stride);
	}
	if (conf->pacc_nbounds) {
		s->pacc = rp_xcalloc(1, sizeof(*s->pacc));
		rp_pacc_init(s->pacc, conf->capacity, conf->pacc_bounds, conf->pacc_nbounds);
	}
	/* Zeroed timers are unlinked ones (rp_wheel_entry_init): writing them here would
	 * make every slot resident, used or not (72 bytes x capacity). */
	s->devs = rp_xcalloc(conf->capacity, sizeof(*s->devs));
	/* Each probe reads its device's record, table slot and index bucket, at random
	 * over ~140 bytes x capacity: at 1M devices 4 KiB pages made a TLB miss of each
	 * (huge pages: 0.5-0.8x the probe threads' user CPU at 1M, docs/benchmarks.md). A
	 * small fleet (under RP_HUGE_MIN_BYTES per array) is left as it was. */
	rp_devtable_advise_huge(s->table);
	rp_advise_huge(s->devs, (size_t)conf->capacity * sizeof(*s->devs));
	define_profile(s, 0, NULL);
	for (unsigned k = 1; k < RP_PROFILES_MAX; k++)
		s->prof[k] = s->prof[0];
	for (unsigned k = 1; k < conf->nprofiles && k < RP_PROFILES_MAX; k++)
		define_profile(s, k, &conf->profiles[k]);
	s->ready_mask = rp_pow2_at_least(conf->capacity < 2 ? 2 : conf->capacity) - 1;
	s->readyq = rp_xcalloc((size_t)s->ready_mask + 1, sizeof(*s->readyq));
	rp_pace_init(&s->pace, conf->rate_pps, conf->burst, s->now_ns);
	first_offset(s);
	atomic_init(&s->stop_wait_ns, UINT64_MAX);
	*out = s;
	return 0;

out_cmds:
	rp_spsc_destroy(s->cmds);
out_results:
	rp_spsc_destroy(s->results);
out_wheel:
	rp_wheel_destroy(s->wheel);
out_table:
	rp_devtable_destroy(s->table);
out_engine:
	rp_engine_destroy(s->engine);
out_free:
	free(s);
	return ret;
}

void rp_shard_destroy(struct rp_shard *s)
{
	if (!s)
		return;
	rp_shard_stop(s);
	/* The wheel unlinks what is still scheduled: it goes before the devices. */
	rp_wheel_destroy(s->wheel);
	free(s->readyq);
	for (unsigned f = 0; f < s->ntmo; f++)
		rp_tmo_fini(&s->tmo[f]);
	free(s->devs);
	free(s->acc);
	if (s->pacc)
		rp_pacc_fini(s->pacc);
	free(s->pacc);
	rp_spsc_destroy(s->events);
	rp_spsc_destroy(s->cmds);
	rp_spsc_destroy(s->results);
	rp_devtable_destroy(s->table);
	rp_engine_destroy(s->engine);
	free(s);
}

struct rp_spsc *rp_shard_results(struct rp_shard *s)
{
	return s->results;
}

struct rp_spsc *rp_shard_events(struct rp_shard *s)
{
	return s->events;
}

void rp_shard_engine_info(const struct rp_shard *s, struct rp_engine_info *out)
{
	*out = s->info;
}

/* The stats snapshot is written by the shard and read by anyone: a sequence counter
 * around a plain copy (odd while writing), so readers never see a torn snapshot. */
static void publish(struct rp_shard *s)
{
	uint64_t seq = atomic_load_explicit(&s->seqlock, memory_order_relaxed);
	struct rp_engine_stats es;

	rp_engine_stats(s->engine, &es);
	s->local.devices = rp_devtable_count(s->table);
	s->local.suspended = rp_devtable_suspended_count(s->table);
	s->local.send_errors = es.send_errors;
	s->local.recv_nobufs = es.recv_nobufs;
	s->local.kernel_rx_drops = es.kernel_rx_drops;
	s->local.ring_drops =
	    rp_spsc_drops(s->results) + (s->events ? rp_spsc_drops(s->events) : 0);
	/* A pairs with C: readers that see an even, unchanged counter saw whole data. */
	atomic_store_explicit(&s->seqlock, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	{
		uint64_t w[STATS_WORDS] = {0};

		memcpy(w, &s->local, sizeof(s->local));
		for (size_t i = 0; i < STATS_WORDS; i++)
			atomic_store_explicit(&s->shared[i], w[i], memory_order_relaxed);
	}
	/* B pairs with D. */
	atomic_store_explicit(&s->seqlock, seq + 2, memory_order_release);
}

void rp_shard_stats(const struct rp_shard *s, struct rp_shard_stats *out)
{
	struct rp_shard *m = (struct rp_shard *)s;
	uint64_t a, b, w[STATS_WORDS];

	do {
		/* D pairs with B. */
		a = atomic_load_explicit(&m->seqlock, memory_order_acquire);
		for (size_t i = 0; i < STATS_WORDS; i++)
			w[i] = atomic_load_explicit(&m->shared[i], memory_order_relaxed);
		memcpy(out, w, sizeof(*out));
		/* C pairs with A. */
		atomic_thread_fence(memory_order_acquire);
		b = atomic_load_explicit(&m->seqlock, memory_order_relaxed);
	} while ((a & 1) || a != b);
}

static void emit(struct rp_shard *s, const struct rp_probe_result *r)
{
	if (s->nbatch == RESULT_BATCH) {
		rp_spsc_push(s->results, s->batch, s->nbatch);
		s->nbatch = 0;
	}
	s->batch[s->nbatch++] = *r;
}

static void emit_event(struct rp_shard *s, const struct rp_event *e)
{
	if (s->nebatch == EVENT_BATCH) {
		rp_spsc_push(s->events, s->ebatch, s->nebatch);
		s->nebatch = 0;
	}
	s->ebatch[s->nebatch++] = *e;
}

static void flush_results(struct rp_shard *s)
{
	if (s->nbatch) {
		rp_spsc_push(s->results, s->batch, s->nbatch);
		s->nbatch = 0;
	}
	if (s->nebatch) {
		rp_spsc_push(s->events, s->ebatch, s->nebatch);
		s->nebatch = 0;
	}
}

static inline uint64_t due_of(const struct sdev *d)
{
	return rp_wheel_entry_due(&d->timer);
}

/* Whether d probes in rounds (the accumulator's path): monitored, with one. */
static inline bool in_rounds(const struct rp_shard *s, const struct sdev *d)
{
	return s->acc && d->remaining == UINT32_MAX;
}

static inline struct racc *acc_of(const struct rp_shard *s, uint32_t slot)
{
	return (struct racc *)(s->acc + (size_t)slot * s->acc_stride);
}

static inline uint8_t *acc_st(const struct rp_shard *s, struct racc *a)
{
	return (uint8_t *)a + s->acc_st_off;
}

static inline uint64_t *acc_sent(const struct rp_shard *s, struct racc *a)
{
	return (uint64_t *)(void *)((unsigned char *)a + s->acc_sent_off);
}

static inline float *acc_rtt(const struct rp_shard *s, struct racc *a)
{
	return (float *)(void *)((unsigned char *)a + s->acc_rtt_off);
}

/* The time between a round's echoes for d (ms, at least 1). */
static uint32_t spacing_ms(const struct rp_shard *s, const struct sdev *d)
{
	const struct prof *p = &s->prof[d->profile];
	uint32_t n = p->count, sp;

	if (p->spacing_ms)
		return p->spacing_ms;
	if (n < 2)
		return 10;
	sp = d->interval_ms / 10 / (n - 1);
	return sp < 10 ? 10 : sp;
}

/* A device's state changes to `to`: one event, the counters, the time it changed. */
static void change_state(struct rp_shard *s, uint32_t slot, struct sdev *d, unsigned to,
			 const struct icmperr *ie)
{
	unsigned from = d->state & STATE_MASK;
	struct rp_event e = {
	    .ts_ns = s->now_ns + s->mono_to_real,
	    .addr = *rp_devtable_addr(s->table, slot),
	    .id = d->id,
	    .kind = RP_EVENT_STATE,
	    .suspended = d->suspended,
	    .u.state = {.state = (uint8_t)to,
			.previous = (uint8_t)from,
			.reason = to == RP_STATE_UP ? RP_REASON_REPLY
				  : d->suspended    ? RP_REASON_SUSPENDED
				  : ie		    ? RP_REASON_UNREACHABLE
						    : RP_REASON_TIMEOUT,
			.duration_ms = s->now_ms - d->since_ms},
	};

	if (s->acc)
		e.ttl = acc_of(s, slot)->ttl;
	if (e.u.state.reason == RP_REASON_UNREACHABLE) {
		e.u.state.error = ie->err;
		e.u.state.icmp_type = ie->type;
		e.u.state.icmp_code = ie->code;
	}
	if (from == RP_STATE_DOWN)
		s->local.devices_down--;
	if (to == RP_STATE_DOWN)
		s->local.devices_down++;
	if (from != RP_STATE_UNKNOWN)
		s->local.state_changes++;
	d->state = (uint8_t)((d->state & ~STATE_MASK) | to);
	d->since_ms = s->now_ms;
	emit_event(s, &e);
}

/* A monitored device finished a round (with ping_count 1 and no rounds: an echo):
 * good when a reply came. down_after bad ones in a row make it down, up_after good
 * ones up. ie: a bad round's ICMP error (the last), NULL when it only timed out; the
 * round that makes the change gives its reason. */
static void round_outcome(struct rp_shard *s, uint32_t slot, struct sdev *d, bool good,
			  const struct icmperr *ie)
{
	bool last_good = (d->state & STATE_LAST_GOOD) != 0;
	unsigned cur = d->state & STATE_MASK, to = good ? RP_STATE_UP : RP_STATE_DOWN;
	uint32_t need = good ? s->conf.up_after : s->conf.down_after;

	if (d->remaining != UINT32_MAX)
		return;
	s->local.rounds++;
	if (!s->conf.states)
		return;
	if (d->streak && good == last_good)
		d->streak += d->streak < UINT16_MAX;
	else
		d->streak = 1;
	d->state = (uint8_t)((d->state & STATE_MASK) | (good ? STATE_LAST_GOOD : 0));
	if (cur != to && d->streak >= (need ? need : 1))
		change_state(s, slot, d, to, good ? NULL : ie);
}

/* A device with nothing left to send and nothing outstanding is finished; its slot
 * is freed (the generation moves on, so a straggling reply counts as stale). */
static void maybe_finished(struct rp_shard *s, struct sdev *d)
{
	if (d->remaining == 0 && !d->outstanding && !d->queued && !rp_wheel_is_linked(&d->timer)) {
		s->active--;
		rp_devtable_remove(s->table, (uint32_t)(d - s->devs));
	}
}

/* The wheel reads the next ticks' due devices ahead of firing them (wheel.h): on_due
 * and send_ready will then touch the rest of the device's record (72 bytes: two lines
 * for most slots) and its table slot (address, generation), at random over the fleet. */
static void warm_due(const struct rp_wheel_entry *e, void *arg)
{
	const struct rp_shard *s = arg;
	const struct sdev *d = RP_CONST_CONTAINER_OF(e, struct sdev, timer);

	__builtin_prefetch((const char *)d + sizeof(*d) - 1, 1);
	rp_devtable_prefetch(s->table, (uint32_t)(d - s->devs));
}

static void on_due(struct rp_wheel_entry *e, uint64_t now, void *arg)
{
	struct rp_shard *s = arg;
	struct sdev *d = RP_CONTAINER_OF(e, struct sdev, timer);
	uint32_t slot = (uint32_t)(d - s->devs);

	/* The ready queue holds at most one entry per device, so it cannot overflow. */
	d->queued = QUEUED;
	s->readyq[s->ready_tail++ & s->ready_mask] =
	    (struct ready){slot, rp_devtable_gen(s->table, slot)};
}

/* One echo sent at sent_mono got no reply in time, or (ie) an ICMP error from `from`
 * ended it: its result, the failure streak and the suspension it may start. */
static void fail_echo(struct rp_shard *s, uint32_t slot, struct sdev *d, uint64_t sent_mono,
		      const struct icmperr *ie, const struct rp_ip *from)
{
	struct rp_probe_result r = {
	    .sent_ns = sent_mono + s->mono_to_real,
	    .addr = *rp_devtable_addr(s->table, slot),
	    .id = d->id,
	    .success = 0,
	    .suspended = d->suspended,
	};

	if (RP_UNLIKELY(ie)) {
		r.error = ie->err;
		r.icmp_type = ie->type;
		r.icmp_code = ie->code;
		if (rp_ip_is_v4(from))
			memcpy(r.from4, from->b + 12, 4);
		s->local.icmp_errors++;
	} else {
		s->local.timeouts++;
	}
	d->fails++;
	if (s->conf.max_fails && !d->suspended && d->fails >= s->conf.max_fails) {
		d->suspended = 1;
		rp_devtable_suspend(s->table, slot, s->now_ms + s->conf.backoff_ns / NS_PER_MS);
	}
	emit(s, &r);
}

/* The single outstanding probe (not a round's) failed: timed out, or (ie) ended by an
 * ICMP error from `from`. */
static void fail_with(struct rp_shard *s, uint32_t slot, struct sdev *d, const struct icmperr *ie,
		      const struct rp_ip *from)
{
	d->outstanding = 0;
	s->outstanding--;
	fail_echo(s, slot, d, d->sent_ns, ie, from);
	if (!in_rounds(s, d))
		round_outcome(s, slot, d, false, ie);
	maybe_finished(s, d);
}

static void fail(struct rp_shard *s, uint32_t slot, struct sdev *d)
{
	fail_with(s, slot, d, NULL, NULL);
}

/* Ends d's open round: echoes still out failed; the summary event (rounds on); the
 * state's round outcome. */
static void close_round(struct rp_shard *s, uint32_t slot, struct sdev *d, struct racc *a)
{
	uint8_t *st = acc_st(s, a);
	uint64_t *sent = acc_sent(s, a);

	for (unsigned i = 0; i < a->sent; i++) {
		if (st[i] != ECHO_OUT)
			continue;
		st[i] = ECHO_FAILED;
		d->outstanding--;
		s->outstanding--;
		fail_echo(s, slot, d, sent[i], NULL, NULL);
	}
	if (s->conf.rounds) {
		float rtt[RP_ROUND_MAX], *all = acc_rtt(s, a);
		unsigned k = 0;
		struct rp_event e = {
		    .ts_ns = sent[0] + s->mono_to_real,
		    .addr = *rp_devtable_addr(s->table, slot),
		    .id = d->id,
		    .kind = RP_EVENT_ROUND,
		    .suspended = a->susp,
		    .ttl = a->ttl,
		};

		for (unsigned i = 0; i < a->sent; i++)
			if (st[i] == ECHO_ANSWERED)
				rtt[k++] = all[i];
		rp_round_stats(rtt, k, a->sent, &e.u.round);
		e.u.round.errors = a->errors;
		e.u.round.error = a->err;
		emit_event(s, &e);
	}
	a->open = 0;
	round_outcome(s, slot, d, a->received > 0,
		      a->errors ? &(struct icmperr){a->err, a->err_type, a->err_code} : NULL);
}

static void expire_fifo(struct rp_shard *s, struct rp_tmo *t)
{
	const struct rp_tmo_entry *p;

	/* p stays readable after the pop: only a push (not here) reuses its place. */
	while ((p = rp_tmo_peek(t)) != NULL) {
		struct sdev *d;

		if ((int64_t)(s->now_ns - p->deadline_ns) < 0)
			break;
		rp_tmo_pop(t);
		if (!rp_devtable_is_live(s->table, p->slot, p->gen))
			continue;
		d = &s->devs[p->slot];
		if (in_rounds(s, d)) {
			struct racc *a = acc_of(s, p->slot);

			/* A round's entry carries its first echo's sequence. */
			if (a->open && a->base == p->seq) {
				close_round(s, p->slot, d, a);
				continue;
			}
			if (a->open)
				continue;
		}
		if (d->outstanding && d->seq == p->seq)
			fail(s, p->slot, d);
	}
}

static void expire_timeouts(struct rp_shard *s)
{
	for (unsigned f = 0; f < s->ntmo; f++)
		expire_fifo(s, &s->tmo[f]);
}

static void schedule_next(struct rp_shard *s, struct sdev *d)
{
	uint64_t step = d->suspended ? s->conf.backoff_ns / NS_PER_MS : d->interval_ms;

	if (d->remaining == 0)
		return;
	rp_wheel_add(s->wheel, &d->timer, due_of(d) + (step ? step : 1));
}

/* d's next echo of the round, or its next round. */
static void schedule_round(struct rp_shard *s, struct sdev *d, const struct racc *a)
{
	uint64_t step = d->suspended ? s->conf.backoff_ns / NS_PER_MS : d->interval_ms;

	if (a->sent < a->want)
		rp_wheel_add(s->wheel, &d->timer,
			     a->round_due + (uint64_t)a->sent * spacing_ms(s, d));
	else
		rp_wheel_add(s->wheel, &d->timer, a->round_due + (step ? step : 1));
}

/* Before d's next echo: the round it belongs to (a new one when none is open or the
 * open one has sent all it wants); returns the echo's index in it. */
static unsigned round_send(struct rp_shard *s, uint32_t slot, struct sdev *d, struct racc *a)
{
	if (!a->open || a->sent >= a->want) {
		if (a->open)
			close_round(s, slot, d, a); /* the next round is due: the rest failed */
		if (d->outstanding)
			fail(s, slot, d); /* a one-shot probe's, from before it was monitored */
		a->open = 1;
		a->base = d->seq + 1;
		a->want = d->suspended ? 1 : (uint8_t)s->prof[d->profile].count;
		a->susp = d->suspended;
		a->sent = 0;
		a->received = 0;
		a->errors = 0;
		a->round_due = due_of(d);
	}
	return a->sent++;
}

static void send_ready(struct rp_shard *s)
{
	uint32_t want = s->ready_tail - s->ready_head;
	uint32_t n = rp_pace_take(&s->pace, s->now_ns, want), sent = 0;

	s->buf_starved = false;

	while (sent < n) {
		struct ready *r = &s->readyq[s->ready_head & s->ready_mask];
		struct sdev *d;
		struct racc *a;
		struct rp_probe_stamp st;
		const struct prof *pf;
		struct rp_tmo *fifo;
		unsigned echo = 0;
		uint64_t due;
		void *buf;

		if (!rp_devtable_is_live(s->table, r->slot, r->gen)) {
			s->ready_head++;
			continue;
		}
		d = &s->devs[r->slot];
		pf = &s->prof[d->profile];
		fifo = &s->tmo[pf->fifo];
		if (rp_tmo_full(fifo)) {
			/* No FIFO place: the probe waits, like one without a buffer, for
			 * the oldest entry to expire (tmo.h); never overwrite one. */
			s->local.timeout_fifo_full += d->queued != HELD;
			d->queued = HELD;
			break;
		}
		buf = rp_engine_send_buf(s->engine);
		if (!buf) {
			/* Every buffer in flight: the rest waits for the next poll. */
			s->buf_starved = true;
			break;
		}
		s->ready_head++;
		sent++;
		d->queued = 0;
		a = in_rounds(s, d) ? acc_of(s, r->slot) : NULL;
		if (a)
			echo = round_send(s, r->slot, d, a);
		else if (d->outstanding)
			fail(s, r->slot, d); /* still out (timeout >= interval): it failed */
		d->seq++;
		d->sent_ns = clock_ns(CLOCK_MONOTONIC);
		d->tx_after_ns = 0;
		st = (struct rp_probe_stamp){
		    .addr = *rp_devtable_addr(s->table, r->slot),
		    .slot = r->slot,
		    .gen = r->gen,
		    .seq = d->seq,
		    .sent_ns = d->sent_ns + s->mono_to_real,
		    .shard = (uint8_t)s->conf.index,
		};
		rp_icmp_stamp_filled(buf, pf->fill_sum, &s->conf.key, &st);
		if (RP_UNLIKELY(rp_engine_send_queue_opt(s->engine, buf, pf->pkt_len, &st.addr,
							 pf->opts) < 0) &&
		    s->pacc)
			rp_pacc_send_error(s->pacc, r->slot); /* no socket for the family */
		if (a) {
			acc_st(s, a)[echo] = ECHO_OUT;
			acc_sent(s, a)[echo] = d->sent_ns;
			d->outstanding++;
		} else {
			d->outstanding = 1;
		}
		s->outstanding++;
		d->answered = 0;
		if (d->remaining != UINT32_MAX)
			d->remaining--;
		s->local.probes_sent++;
		if (s->pacc)
			rp_pacc_sent(s->pacc, r->slot);
		due = due_of(d);
		if (s->now_ms > due && (s->now_ms - due) * NS_PER_MS > LATE_NS)
			s->local.late_sends++;
		if (s->now_ms > due && (s->now_ms - due) * NS_PER_MS > s->local.max_late_ns)
			s->local.max_late_ns = (s->now_ms - due) * NS_PER_MS;
		/* Cannot fail: rp_tmo_full was checked above, before the buffer was taken. A
		 * round has one entry, pushed with its last echo, carrying its first's
		 * sequence: its echoes are judged together, each against its own send. */
		if (!a || a->sent == a->want)
			rp_tmo_push(
			    fifo, &(struct rp_tmo_entry){.deadline_ns = s->now_ns + pf->timeout_ns,
							 .slot = r->slot,
							 .gen = r->gen,
							 .seq = a ? a->base : d->seq});
		if (a)
			schedule_round(s, d, a);
		else
			schedule_next(s, d);
	}
	/* Tokens taken but not used (buffers ran out) go back to the bucket. */
	rp_pace_untake(&s->pace, n - sent);
}

/* The kernel's transmit stamp of one of our requests (txstamp.c): from now on the
 * probe's send time, if the probe is still out and the stamp is plausible (not before
 * the request was prepared, not after its deadline). The stamp is real time, read on
 * the monotonic clock through mono_to_real; one that a clock step has made implausible
 * is ignored. */
static void on_tx(struct rp_shard *s, const struct rp_rx *rx)
{
	struct rp_probe_stamp st;
	struct sdev *d;
	uint64_t tx;

	if (!rp_icmp_peek_request(rx->buf, rx->len, &st) || st.shard != s->conf.index ||
	    st.slot >= s->conf.capacity || !rp_devtable_is_live(s->table, st.slot, st.gen))
		return;
	d = &s->devs[st.slot];
	tx = rx->rx_ns - s->mono_to_real - d->sent_ns;
	if (d->seq != st.seq || !d->outstanding || d->answered || d->tx_after_ns ||
	    (int64_t)tx <= 0 || tx > s->prof[d->profile].timeout_ns || tx > UINT32_MAX)
		return;
	d->tx_after_ns = (uint32_t)tx;
}

/* A request the kernel refused (engine conf send_failures, on with the per-device
 * accumulators): its device's send errors, if the request is still its device's. The
 * probe itself times out as it would have (the engine counted the error). */
static void on_send_failed(struct rp_shard *s, const struct rp_rx *rx)
{
	struct rp_probe_stamp st;

	if (!s->pacc || !rp_icmp_peek_request(rx->buf, rx->len, &st) || st.shard != s->conf.index ||
	    st.slot >= s->conf.capacity || !rp_devtable_is_live(s->table, st.slot, st.gen))
		return;
	rp_pacc_send_error(s->pacc, st.slot);
}

/* Slack for reading mono_to_real (two clock reads) against a kernel stamp. */
#define CLOCK_SLACK_NS 1000000ull

/* The round-trip time of a reply to a probe sent at sent (monotonic ns), from the
 * kernel's receive stamp rx_real (real-time ns; 0 when none came). The stamp must lie
 * between the send and now on the monotonic clock; one that does not (the real-time
 * clock stepped between the stamp and our reading of mono_to_real, or the process's
 * clock is not the kernel's) is not believed: the reply is timed on the monotonic
 * clock as it is read (at most one loop late) and counted. */
static uint64_t rtt_of(struct rp_shard *s, uint64_t rx_real, uint64_t sent, uint64_t timeout_ns)
{
	uint64_t upper, rtt = rx_real - s->mono_to_real - sent;

	if (rx_real && (int64_t)rtt >= 0 && rtt <= timeout_ns)
		return rtt;
	upper = clock_ns(CLOCK_MONOTONIC) - sent;
	if (!rx_real)
		return upper;
	if ((int64_t)rtt >= 0 && rtt <= upper + CLOCK_SLACK_NS)
		return rtt; /* truly after its deadline */
	s->local.rtt_clock_fallbacks++;
	return upper;
}

/* The reply's TTL or hop limit: from the IPv4 header a raw IPv4 socket passes (a
 * valid reply has one of at least 20 bytes), else from the control message. */
static uint8_t reply_ttl(const struct rp_shard *s, const struct rp_rx *rx)
{
	if (s->info.ip_header && rp_ip_is_v4(&rx->src))
		return ((const uint8_t *)rx->buf)[8];
	return rx->ttl;
}

/* A valid reply in time to d's probe st (ttl: the reply's, 0 if not known): its result, the failure
 * streak, the end of a suspension. */
static void answered(struct rp_shard *s, const struct rp_probe_stamp *st, struct sdev *d,
		     uint64_t rtt, uint8_t ttl)
{
	struct rp_probe_result r = {
	    .sent_ns = st->sent_ns,
	    .addr = st->addr,
	    .rtt_ns = rtt,
	    .id = d->id,
	    .success = 1,
	    .suspended = d->suspended,
	    .ttl = ttl,
	};

	d->fails = 0;
	rp_devtable_touch(s->table, st->slot, s->now_ms);
	emit(s, &r);
	if (s->pacc)
		rp_pacc_reply(s->pacc, st->slot, rtt, ttl);
	if (d->suspended) {
		/* Back: resume the normal interval from the next due. */
		d->suspended = 0;
		rp_devtable_resume(s->table, st->slot);
		if (rp_wheel_is_linked(&d->timer)) {
			rp_wheel_cancel(s->wheel, &d->timer);
			rp_wheel_add(s->wheel, &d->timer, s->now_ms + d->interval_ms);
		}
	}
	s->local.replies++;
}

/* A reply to an echo of d's open round (its sequence within the round checked). */
static enum rp_reply_kind round_reply(struct rp_shard *s, const struct rp_rx *rx,
				      const struct rp_probe_stamp *st, struct sdev *d)
{
	struct racc *a = acc_of(s, st->slot);
	unsigned i = st->seq - a->base;
	uint8_t *es = acc_st(s, a);
	uint64_t rtt, tmo = s->prof[d->profile].timeout_ns;

	if (es[i] != ECHO_OUT)
		return es[i] == ECHO_ANSWERED ? RP_REPLY_DUPLICATE : RP_REPLY_LATE;
	/* The last echo sent may have its transmit stamp; an earlier one is timed from
	 * when it was prepared. */
	if (st->seq == d->seq) {
		s->local.tx_stamped += d->tx_after_ns != 0;
		rtt = rtt_of(s, rx->rx_ns, d->sent_ns + d->tx_after_ns, tmo);
	} else {
		rtt = rtt_of(s, rx->rx_ns, acc_sent(s, a)[i], tmo);
	}
	if (rtt > tmo)
		return RP_REPLY_LATE; /* its round's end counts the timeout */
	es[i] = ECHO_ANSWERED;
	if (s->conf.rounds)
		acc_rtt(s, a)[i] = (float)rtt;
	a->received++;
	a->ttl = reply_ttl(s, rx);
	d->outstanding--;
	s->outstanding--;
	if (st->seq == d->seq)
		d->answered = 1;
	answered(s, st, d, rtt, a->ttl);
	if (a->sent == a->want && d->outstanding == 0)
		close_round(s, st->slot, d, a);
	return RP_REPLY_OK;
}

/* An ICMP error quoting one of our requests (the parser checked the quote: icmp.h):
 * the probe it names, if still out and within its timeout, ends at once as failed with
 * the error; the router's address (rx->src) goes into the result when IPv4. */
static void on_icmp_error(struct rp_shard *s, const struct rp_rx *rx, struct rp_probe_stamp *st)
{
	struct icmperr ie = {st->err, st->err_type, st->err_code};
	enum rp_reply_kind k;
	struct racc *a;
	struct sdev *d;
	uint32_t slot;
	uint64_t sent;

	if (st->err_short) {
		/* Only the echo header was quoted: the device by the quoted destination (a
		 * hash lookup, once per error), the probe by its 16-bit sequence, taken as
		 * the latest sent with those bits. */
		int32_t i = rp_devtable_lookup(s->table, &st->addr);

		if (i < 0) {
			k = RP_REPLY_STALE;
			goto invalid;
		}
		slot = (uint32_t)i;
		d = &s->devs[slot];
		st->seq = d->seq - (uint16_t)(d->seq - st->seq);
	} else {
		if (st->shard != s->conf.index || st->slot >= s->conf.capacity) {
			k = RP_REPLY_FORGED;
			goto invalid;
		}
		if (!rp_devtable_is_live(s->table, st->slot, st->gen)) {
			k = RP_REPLY_STALE;
			goto invalid;
		}
		slot = st->slot;
		d = &s->devs[slot];
	}
	/* The MAC (or the lookup) bound the quote to this address; checked all the same. */
	if (!rp_ip_eq(rp_devtable_addr(s->table, slot), &st->addr)) {
		k = RP_REPLY_WRONG_SOURCE;
		goto invalid;
	}
	a = in_rounds(s, d) ? acc_of(s, slot) : NULL;
	if (a && a->open && st->seq - a->base < a->sent) {
		unsigned i = st->seq - a->base;
		uint8_t *es = acc_st(s, a);

		if (es[i] != ECHO_OUT) {
			k = es[i] == ECHO_ANSWERED ? RP_REPLY_DUPLICATE : RP_REPLY_LATE;
			goto invalid;
		}
		sent = acc_sent(s, a)[i];
		if (rtt_of(s, rx->rx_ns, sent, s->prof[d->profile].timeout_ns) >
		    s->prof[d->profile].timeout_ns) {
			k = RP_REPLY_LATE; /* its round's end counts the timeout */
			goto invalid;
		}
		es[i] = ECHO_FAILED;
		d->outstanding--;
		s->outstanding--;
		if (st->seq == d->seq)
			d->answered = 1;
		a->errors++;
		a->err = ie.err;
		a->err_type = ie.type;
		a->err_code = ie.code;
		s->local.icmp_errors_short += st->err_short;
		fail_echo(s, slot, d, sent, &ie, &rx->src);
		if (a->sent == a->want && d->outstanding == 0)
			close_round(s, slot, d, a);
		return;
	}
	if (st->seq != d->seq || !d->outstanding) {
		k = st->seq == d->seq && d->answered ? RP_REPLY_DUPLICATE : RP_REPLY_LATE;
		goto invalid;
	}
	if (rtt_of(s, rx->rx_ns, d->sent_ns, s->prof[d->profile].timeout_ns) >
	    s->prof[d->profile].timeout_ns) {
		k = RP_REPLY_LATE; /* the FIFO will count the timeout */
		goto invalid;
	}
	d->answered = 1;
	s->local.icmp_errors_short += st->err_short;
	fail_with(s, slot, d, &ie, &rx->src);
	return;
invalid:
	s->local.invalid[k]++;
}

static void on_rx(void *arg, const struct rp_rx *rx)
{
	struct rp_shard *s = arg;
	struct rp_probe_stamp st;
	enum rp_reply_kind k;
	struct sdev *d;
	uint64_t rtt;

	if (rx->tx) {
		on_tx(s, rx);
		return;
	}
	if (RP_UNLIKELY(rx->send_failed)) {
		on_send_failed(s, rx);
		return;
	}
	if (RP_UNLIKELY(rx->icmp_err)) {
		/* A datagram socket's: the quoted request from its error queue. */
		k = rp_icmp_parse_quote(rx->buf, rx->len, &rx->err_dst, rx->err_type, rx->err_code,
					-1, &s->conf.key, &st);
		if (k == RP_REPLY_ICMP_ERROR)
			on_icmp_error(s, rx, &st);
		else
			s->local.invalid[k]++;
		return;
	}

	if (RP_LIKELY(!rx->cut))
		k = rp_icmp_parse(rx->buf, rx->len, s->info.ip_header, &rx->src,
				  s->info.ip_header ? s->info.ident : -1, &s->conf.key, &st);
	else /* a large payload's reply, longer than the receive buffer */
		k = rp_icmp_parse_cut(rx->buf, rx->len, s->info.ip_header, &rx->src,
				      s->info.ip_header ? s->info.ident : -1, &s->conf.key, &st);
	if (RP_UNLIKELY(k == RP_REPLY_ICMP_ERROR)) {
		on_icmp_error(s, rx, &st);
		return;
	}
	if (k == RP_REPLY_FORGED && !st.err && st.shard == s->conf.index &&
	    st.slot < s->conf.capacity && rp_devtable_is_live(s->table, st.slot, st.gen) &&
	    !rp_ip_eq(rp_devtable_addr(s->table, st.slot), &rx->src))
		k = RP_REPLY_WRONG_SOURCE;
	if (k != RP_REPLY_OK)
		goto invalid;
	if (st.shard != s->conf.index || st.slot >= s->conf.capacity) {
		k = RP_REPLY_FORGED; /* a valid MAC for another shard cannot happen by chance */
		goto invalid;
	}
	if (!rp_devtable_is_live(s->table, st.slot, st.gen)) {
		k = RP_REPLY_STALE;
		goto invalid;
	}
	d = &s->devs[st.slot];
	if (in_rounds(s, d) && acc_of(s, st.slot)->open &&
	    st.seq - acc_of(s, st.slot)->base < acc_of(s, st.slot)->sent) {
		k = round_reply(s, rx, &st, d);
		if (k != RP_REPLY_OK)
			goto invalid;
		return;
	}
	if (st.seq != d->seq || !d->outstanding) {
		/* The latest probe answered twice, or it (or an older one) already failed. */
		if (st.seq == d->seq)
			k = d->answered ? RP_REPLY_DUPLICATE : RP_REPLY_LATE;
		else
			k = rx->rx_ns && rx->rx_ns - st.sent_ns <= s->prof[d->profile].timeout_ns
				? RP_REPLY_DUPLICATE
				: RP_REPLY_LATE;
		goto invalid;
	}
	/* The same probe (seq and generation match): its transmit stamp if it came. */
	s->local.tx_stamped += d->tx_after_ns != 0;
	rtt = rtt_of(s, rx->rx_ns, d->sent_ns + d->tx_after_ns, s->prof[d->profile].timeout_ns);
	if (rtt > s->prof[d->profile].timeout_ns) {
		/* Answered after its deadline: the FIFO will count the timeout. */
		k = RP_REPLY_LATE;
		goto invalid;
	}
	d->outstanding = 0;
	s->outstanding--;
	d->answered = 1;
	answered(s, &st, d, rtt, reply_ttl(s, rx));
	if (!in_rounds(s, d))
		round_outcome(s, st.slot, d, true, NULL);
	maybe_finished(s, d);
	return;
invalid:
	s->local.invalid[k]++;
	if (k == RP_REPLY_DUPLICATE && s->pacc) /* its slot is live: checked above */
		rp_pacc_dup(s->pacc, st.slot);
}

static int add_dev(struct rp_shard *s, const struct rp_shard_dev *dv)
{
	uint64_t due;
	bool is_new = false;
	int32_t slot;
	struct sdev *d;

	slot = rp_devtable_lookup(s->table, &dv->addr);
	if (slot >= 0) {
		/* A one-shot probe (a discovery sweep's) is running for an address that
		 * now joins for good: it becomes the monitored device, keeping its probe. */
		d = &s->devs[slot];
		if (dv->count != 0 || d->remaining == UINT32_MAX)
			return -EEXIST;
		d->id = dv->id;
		d->interval_ms = dv->interval_ms ? dv->interval_ms : 1000;
		d->remaining = UINT32_MAX;
		d->profile = dv->profile < RP_PROFILES_MAX ? dv->profile : 0;
		d->since_ms = s->now_ms;
		if (s->acc)
			memset(acc_of(s, (uint32_t)slot), 0, sizeof(struct racc));
		if (s->pacc)
			rp_pacc_reset(s->pacc, (uint32_t)slot);
		if (!d->queued && !rp_wheel_is_linked(&d->timer))
			rp_wheel_add(
			    s->wheel, &d->timer,
			    rp_wheel_phase_due(rp_ip_key32(&dv->addr), d->interval_ms, s->now_ms));
		return 0;
	}
	if (rp_devtable_count(s->table) >= s->conf.capacity)
		return -ENOSPC;
	slot = rp_devtable_add(s->table, &dv->addr, s->now_ms, &is_new, NULL);
	d = &s->devs[slot];
	rp_wheel_cancel(s->wheel, &d->timer);
	*d = (struct sdev){.id = dv->id,
			   .interval_ms = dv->interval_ms ? dv->interval_ms : 1000,
			   .since_ms = s->now_ms,
			   .profile = dv->profile < RP_PROFILES_MAX ? dv->profile : 0};
	rp_wheel_entry_init(&d->timer);
	d->remaining = dv->count ? dv->count : UINT32_MAX;
	if (s->acc)
		memset(acc_of(s, (uint32_t)slot), 0, sizeof(struct racc));
	if (s->pacc)
		rp_pacc_reset(s->pacc, (uint32_t)slot);
	if (dv->immediate) {
		/* One-shot devices start as soon as the rate lets them: spread their first
		 * dues at the shard's rate so the schedule is the paced one (and a probe
		 * is late only when the shard falls behind it). */
		if ((int64_t)(s->imm_next_ns - s->now_ns) < 0)
			s->imm_next_ns = s->now_ns;
		due = s->imm_next_ns / NS_PER_MS;
		if (s->conf.rate_pps > 0)
			s->imm_next_ns += (uint64_t)(1e9 / s->conf.rate_pps);
	} else {
		due = rp_wheel_phase_due(rp_ip_key32(&dv->addr), d->interval_ms, s->now_ms);
	}
	rp_wheel_add(s->wheel, &d->timer, due);
	s->active++;
	return 0;
}

static void remove_dev(struct rp_shard *s, const struct rp_ip *addr)
{
	int32_t slot = rp_devtable_lookup(s->table, addr);
	struct sdev *d;

	if (slot < 0)
		return;
	d = &s->devs[slot];
	if (d->remaining != 0 || d->outstanding || d->queued || rp_wheel_is_linked(&d->timer))
		s->active--;
	rp_wheel_cancel(s->wheel, &d->timer);
	s->outstanding -= d->outstanding; /* 0, 1, or a round's echoes */
	if ((d->state & STATE_MASK) == RP_STATE_DOWN)
		s->local.devices_down--;
	d->state = 0;
	d->outstanding = 0;
	d->queued = 0;
	d->remaining = 0;
	rp_devtable_remove(s->table, (uint32_t)slot);
}

int rp_shard_add(struct rp_shard *s, const struct rp_shard_dev *dv)
{
	s->now_ns = clock_ns(CLOCK_MONOTONIC);
	s->now_ms = s->now_ns / NS_PER_MS;
	return add_dev(s, dv);
}

bool rp_shard_offer(struct rp_shard *s, const struct rp_shard_dev *dv)
{
	struct cmd c = {.op = CMD_ADD, .u.add = *dv};

	return rp_spsc_try_push(s->cmds, &c, 1) == 1;
}

bool rp_shard_offer_remove(struct rp_shard *s, const struct rp_ip *addr)
{
	struct cmd c = {.op = CMD_REMOVE, .u.remove_addr = *addr};

	return rp_spsc_try_push(s->cmds, &c, 1) == 1;
}

bool rp_shard_offer_readd(struct rp_shard *s, const struct rp_shard_dev *dv)
{
	struct cmd c[2] = {{.op = CMD_REMOVE, .u.remove_addr = dv->addr},
			   {.op = CMD_ADD, .u.add = *dv}};

	/* try_push takes all or nothing: a remove without its add would drop the device. */
	return rp_spsc_try_push(s->cmds, c, 2) == 2;
}

bool rp_shard_offer_rate(struct rp_shard *s, double rate_pps, double burst)
{
	struct cmd c = {
	    .op = CMD_RATE,
	    .u.rate = {.pps = (float)rate_pps, .burst = burst < 1 ? 1 : (uint32_t)burst}};

	return rp_spsc_try_push(s->cmds, &c, 1) == 1;
}

bool rp_shard_offer_profile(struct rp_shard *s, unsigned k, const struct rp_probe_profile *pf)
{
	struct cmd c = {.op = CMD_PROFILE, .u.profile = {.p = pf, .k = (uint8_t)k}};

	if (k == 0 || k >= RP_PROFILES_MAX)
		return true; /* nothing to define */
	return rp_spsc_try_push(s->cmds, &c, 1) == 1;
}

bool rp_shard_offer_timeout(struct rp_shard *s, uint64_t timeout_ns)
{
	uint64_t ms = timeout_ns / NS_PER_MS;
	struct cmd c = {.op = CMD_TIMEOUT, .u.timeout_ms = ms ? (uint32_t)ms : 1};

	return rp_spsc_try_push(s->cmds, &c, 1) == 1;
}

static void run_command_batch(struct rp_shard *s, const struct cmd *cmds, uint32_t n);

/* Commands until the ring is empty or CMD_BUDGET_NS has gone: a million adds at
 * start (each touching fresh memory) must not hold up the sends that are due. */
static void run_commands(struct rp_shard *s)
{
	struct cmd cmds[CMD_BATCH];
	uint32_t n;

	while ((n = rp_spsc_pop(s->cmds, cmds, CMD_BATCH)) > 0) {
		run_command_batch(s, cmds, n);
		if (n < CMD_BATCH || clock_ns(CLOCK_MONOTONIC) - s->now_ns > CMD_BUDGET_NS)
			break;
	}
}

static void run_command_batch(struct rp_shard *s, const struct cmd *cmds, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct cmd *c = &cmds[i];

		switch ((enum cmd_op)c->op) {
		case CMD_ADD:
			if (add_dev(s, &c->u.add) == -ENOSPC)
				s->local.cmd_rejected++;
			break;
		case CMD_REMOVE:
			remove_dev(s, &c->u.remove_addr);
			break;
		case CMD_TIMEOUT:
			/* Probes already out keep their deadlines: the FIFO stays in order
			 * for a longer timeout, and a shorter one only delays a few. */
			s->conf.timeout_ns = (uint64_t)c->u.timeout_ms * NS_PER_MS;
			s->prof[0].timeout_ns = s->conf.timeout_ns;
			if (s->conf.timeout_ns > s->max_timeout_ns)
				s->max_timeout_ns = s->conf.timeout_ns;
			break;
		case CMD_PROFILE:
			/* A new profile: no device has it yet (the prober sends it ahead of
			 * the adds that use it). */
			define_profile(s, c->u.profile.k, c->u.profile.p);
			break;
		case CMD_RATE:
			s->conf.rate_pps = c->u.rate.pps;
			s->conf.burst = c->u.rate.burst;
			rp_pace_set(&s->pace, c->u.rate.pps, c->u.rate.burst, s->now_ns);
			break;
		}
	}
}

/* A snapshot request (rp_shard_pacc_ask): the monitored devices' accumulators into the
 * reader's buffer, once per request; a few MB at most per 20,000 devices. */
static void pacc_answer(struct rp_shard *s)
{
	uint64_t req = atomic_load_explicit(&s->pacc_req, memory_order_acquire);
	size_t size = rp_pacc_rec_size(s->pacc);
	unsigned char *out = atomic_load_explicit(&s->pacc_buf, memory_order_relaxed);
	uint32_t n = 0;

	if (req == s->pacc_seen)
		return;
	for (int32_t slot = rp_devtable_next(s->table, -1); slot >= 0;
	     slot = rp_devtable_next(s->table, slot)) {
		const struct sdev *d = &s->devs[slot];

		if (d->remaining != UINT32_MAX)
			continue; /* a one-shot (discovery) probe: not a monitored device */
		rp_pacc_copy(s->pacc, (uint32_t)slot, rp_devtable_addr(s->table, (uint32_t)slot),
			     d->id, (struct rp_pacc_rec *)(void *)(out + (size_t)n * size));
		n++;
	}
	{
		struct rp_engine_stats es;

		rp_engine_stats(s->engine, &es);
		/* Published with pacc_n by pacc_done's release store below. */
		atomic_store_explicit(&s->pacc_rxerr, es.recv_errors, memory_order_relaxed);
	}
	atomic_store_explicit(&s->pacc_n, n, memory_order_relaxed);
	atomic_store_explicit(&s->pacc_done, req, memory_order_release);
	s->pacc_seen = req;
}

uint64_t rp_shard_pacc_ask(struct rp_shard *s, void *buf)
{
	atomic_store_explicit(&s->pacc_buf, buf, memory_order_relaxed);
	return atomic_fetch_add_explicit(&s->pacc_req, 1, memory_order_release) + 1;
}

bool rp_shard_pacc_done(struct rp_shard *s, uint64_t ticket, uint32_t *n, uint64_t *recv_errors)
{
	if (atomic_load_explicit(&s->pacc_done, memory_order_acquire) != ticket)
		return false;
	*n = atomic_load_explicit(&s->pacc_n, memory_order_relaxed);
	*recv_errors = atomic_load_explicit(&s->pacc_rxerr, memory_order_relaxed);
	return true;
}

size_t rp_shard_pacc_rec_size(const struct rp_shard *s)
{
	return s->pacc ? rp_pacc_rec_size(s->pacc) : 0;
}

static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000ull),
			      .tv_nsec = (long)(deadline_ns % 1000000000ull)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* SCHED_FIFO for this thread: on a busy 2-core host a shard woken by its timer
 * otherwise waits behind other work (measured: 40+ wake-ups a minute more than 10 ms
 * late with a sink on the same cores; none at FIFO). The loop sleeps every tick and
 * its work per tick is bounded (commands within a budget, sends paced), so it cannot
 * hog a core; the kernel's RT throttling stays as a backstop. */
static void set_realtime(int prio)
{
	static atomic_bool told;
	struct sched_param sp = {.sched_priority = prio}, cur;
	int policy, ret;

	/* Already there (inherited from a privileged creator, see the daemon). */
	if (pthread_getschedparam(pthread_self(), &policy, &cur) == 0 && policy == SCHED_FIFO &&
	    cur.sched_priority >= prio)
		ret = 0;
	else
		ret = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);

	if (atomic_exchange(&told, true))
		return;
	if (ret == 0)
		rp_log(RP_LOG_INFO, "probe threads run at real-time priority",
		       "policy=fifo priority=%d", prio);
	else
		rp_log(RP_LOG_NOTICE,
		       "probe threads run at normal priority: real-time priority not permitted",
		       "priority=%d err=\"%s\" hint=\"run as root, grant CAP_SYS_NICE or set "
		       "LimitRTPRIO; realtime_priority: 0 silences this\"",
		       prio, strerror(ret));
}

static void *shard_main(void *arg)
{
	struct rp_shard *s = arg;
	uint64_t stop_at = 0;

	if (s->conf.rt_priority > 0)
		set_realtime(s->conf.rt_priority);

	for (;;) {
		uint64_t wait;
		uint64_t next;

		s->now_ns = clock_ns(CLOCK_MONOTONIC);
		s->now_ms = s->now_ns / NS_PER_MS;
		read_offset(s);
		s->local.loops++;
		run_commands(s);
		if (!stop_at) {
			/* Whatever falls due before the next wake-up goes now, up to one
			 * tick early, rather than up to one tick late: a wake-up delayed by
			 * the scheduler then has a whole tick more before a send is late. */
			rp_wheel_run(s->wheel, s->now_ms + s->conf.tick_ns / NS_PER_MS, on_due, s);
			send_ready(s);
		}
		/* Submit the sends and drain the replies that came in while we slept before
		 * judging timeouts: a reply waiting in the socket is not late. */
		rp_engine_poll(s->engine, 0, on_rx, s);
		expire_timeouts(s);
		/* Both rings are written lap after lap: give back what was read (a system
		 * call per MiB read), else each costs its full size for a few entries. */
		for (unsigned f = 0; f < s->ntmo; f++)
			rp_tmo_trim(&s->tmo[f]);
		rp_ring_trim(s->readyq, sizeof(*s->readyq), s->ready_mask, &s->ready_given,
			     s->ready_head, s->ready_tail);
		flush_results(s);
		s->local.done = s->active == 0;
		publish(s);
		if (s->pacc)
			pacc_answer(s);
		if (!stop_at && atomic_load_explicit(&s->stop, memory_order_acquire)) {
			uint64_t most =
			    atomic_load_explicit(&s->stop_wait_ns, memory_order_relaxed);

			stop_at = s->now_ns + (most < s->max_timeout_ns ? most : s->max_timeout_ns);
		}
		if (stop_at && ((int64_t)(s->now_ns - stop_at) >= 0 || s->outstanding == 0))
			break;
		/* Sleep a tick; sooner when work is waiting only for a token or a buffer. */
		/* A tick's worth of tokens accumulates while we sleep, so pacing needs no
		 * shorter sleep; only running out of send buffers (an unpaced burst) does. */
		wait = s->conf.tick_ns;
		if (s->ready_head != s->ready_tail) {
			next = rp_pace_wait_ns(&s->pace);
			if (s->buf_starved)
				wait = 200000;
			else if (next > wait)
				wait = next;
		}
		if (s->active == 0 && !stop_at)
			wait = s->conf.tick_ns;
		/* Sleep out the tick rather than wake on every completion, which would cost
		 * a system call per reply; replies wait in the socket with their kernel
		 * timestamps, so batching them costs no accuracy. */
		sleep_until(s->now_ns + wait);
	}
	/* Whatever is still outstanding past its deadline did not answer in time; what the
	 * stop's wait cut off before its deadline is unknown: no result, only counted. */
	s->now_ns = clock_ns(CLOCK_MONOTONIC);
	expire_timeouts(s);
	s->local.stop_unknown = s->outstanding;
	flush_results(s);
	s->local.done = true;
	s->local.stopped = true;
	publish(s);
	return NULL;
}

int rp_shard_start(struct rp_shard *s)
{
	int ret;

	publish(s);
	ret = -pthread_create(&s->thread, NULL, shard_main, s);
	if (ret == 0) {
		char name[16];

		/* For top -H, perf and /proc/PID/task: which thread is which. */
		snprintf(name, sizeof(name), "rp-probe/%u", s->conf.index);
		pthread_setname_np(s->thread, name);
		s->started = true;
	}
	return ret;
}

void rp_shard_request_stop(struct rp_shard *s, uint64_t wait_ns)
{
	atomic_store_explicit(&s->stop_wait_ns, wait_ns, memory_order_relaxed);
	atomic_store_explicit(&s->stop, true, memory_order_release);
}

void rp_shard_stop(struct rp_shard *s)
{
	if (!s->started)
		return;
	atomic_store_explicit(&s->stop, true, memory_order_release);
	pthread_join(s->thread, NULL);
	s->started = false;
}
