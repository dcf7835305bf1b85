/* Several shards as one: for ping and sweep (rp_prober_offer / rp_prober_run), and for
 * the daemon's control thread, whose device commands wait in a bounded backlog per
 * shard until the shard's command ring has room (rp_prober_queue_* / rp_prober_drain).
 * Everything here belongs to the thread that created the prober; the shards see only
 * their command rings. */
#include "ringprobe/prober.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "io/engine.h"
#include "io/shard.h"
#include "ringprobe/compiler.h"
#include "ringprobe/conf.h"
#include "ringprobe/event.h"
#include "ringprobe/hash.h"
#include "ringprobe/log.h"
#include "ringprobe/priv.h"
#include "ringprobe/round.h"
#include "ringprobe/spsc.h"
#include "ringprobe/xalloc.h"

/* A command waiting for room in its shard's ring. `op` says which fields it uses. */
enum qop {
	Q_ADD = 0, /* addr, id, interval_ms: a monitored device */
	Q_ONCE,	   /* addr, id: one probe now */
	Q_READD,   /* addr, id, interval_ms: remove, then add again (both or neither) */
	Q_REMOVE,  /* addr */
};

/* 24 bytes: the op in the top two bits of the interval's word. An interval is at most a
 * day (ping_interval's maximum, 86,400,000 ms < 2^30); a longer one is kept as the
 * longest the word holds, 2^30 - 1 ms (12.4 days). A monitored device's profile is the
 * top byte of the id's word: the daemon's device ids are class ids, below 2^24
 * (RP_CTL_CLASSES is 2^16); a one-shot probe's id keeps all 32 bits. */
struct qcmd {
	struct rp_ip addr;
	uint32_t id_profile;  /* Q_ADD, Q_READD: profile << 24 | id; else id */
	uint32_t op_interval; /* op << 30 | interval_ms */
};
_Static_assert(sizeof(struct qcmd) == 24, "a backlog entry grew: 2 x capacity of them per shard");

#define Q_INTERVAL_MAX 0x3fffffffu

#define Q_ID_MASK 0xffffffu

static struct qcmd qcmd_make(enum qop op, const struct rp_ip *addr, uint32_t id,
			     uint32_t interval_ms, unsigned profile)
{
	if (interval_ms > Q_INTERVAL_MAX)
		interval_ms = Q_INTERVAL_MAX;
	if (profile >= RP_PROFILES_MAX)
		profile = 0;
	/* A one-shot probe's id keeps all its bits (the daemon's sweep ids use the top
	 * one) and has no profile. */
	if (op == Q_ADD || op == Q_READD)
		id = (uint32_t)profile << 24 | (id & Q_ID_MASK);
	return (struct qcmd){
	    .addr = *addr, .id_profile = id, .op_interval = (uint32_t)op << 30 | interval_ms};
}

static enum qop qcmd_op(const struct qcmd *c)
{
	return (enum qop)(c->op_interval >> 30);
}

/* A drained backlog gives back the pages a burst wrote (the start of a large static
 * list can fill half a million entries) once it wrote at least this much. */
#define RELEASE_BYTES (1u << 20)

/* One shard's backlog and accounting.
 *
 * The backlog is a FIFO of `cap` entries allocated at create, so commands reach the
 * shard in the order they were queued. Its memory costs only while used: calloc's
 * fresh pages until written, and once it drains after a burst the written pages go
 * back (lane_emptied). Its bound holds this invariant:
 *
 *	used + monitored <= cap
 *
 * A monitored device may be removed later, and that remove must find room: so every
 * admitted add keeps one entry in reserve for its remove (it needs two free, one
 * for itself), and a remove takes the entry its device kept. Adds, re-adds and
 * one-shot probes are refused when the reserve would break; a remove never is. The
 * new reply timeout is no entry: one pending value per shard, sent when the FIFO
 * reaches the place it was queued at (a newer one replaces it and its place). */
struct lane {
	struct qcmd *v;
	uint32_t cap, head, used; /* the FIFO: [head, head + used) modulo cap */
	uint32_t hi;		  /* entries [0, hi) may have been written since the last
				   * release; an empty FIFO starts again at 0 */
	uint64_t queued, sent;	  /* entries ever put in / taken out: places in the FIFO */
	uint32_t load;		  /* devices and one-shot probes given to this shard, not yet
				   * removed or finished (counted when queued) */
	uint32_t monitored;	  /* of those, monitored devices (each keeps a remove entry) */
	bool timeout_pending;
	uint32_t profiles_pending; /* bit k: profile k still to be sent (before all else) */
	uint64_t timeout_ns;
	uint64_t timeout_at; /* goes when `sent` reaches this */
	double rate;	     /* its share of the packet rate, as last sent (0: never) */
};

struct rp_prober {
	unsigned n;
	uint32_t capacity;
	double rate_pps, burst; /* the whole process's, split by rp_prober_rebalance */
	struct rp_shard **shards;
	struct lane *lanes;
	uint64_t refused;   /* adds, re-adds and one-shot probes the backlog refused */
	int rt_priority;    /* taken by rp_prober_start's caller thread before the drop */
	unsigned next_poll; /* round robin start for fairness */
	/* Per-device exposition: the bounds, and one snapshot buffer per shard (capacity
	 * records, allocated at create, kept until destroy: a shard may still answer a
	 * request that timed out into it). */
	uint32_t pacc_nbounds;
	double pacc_bounds[RP_PACC_MAX_BUCKETS];
	unsigned char **pacc_buf;
	/* Probe profiles: defined ones never change (the shards point at them). */
	struct rp_probe_profile prof[RP_PROFILES_MAX];
	uint32_t prof_defined; /* bit k */
	uint32_t payload_max, count_max;
};

/* Room for a second of replies at this rate (a reply of the default size takes about
 * 768 bytes of socket memory on loopback; a larger payload, that much more), at least
 * 4 MiB; unpaced: 32 MiB. */
static uint32_t rcvbuf_for(double rate, uint32_t payload_len)
{
	double per =
	    768.0 + (payload_len > RP_ICMP_PAYLOAD_LEN ? payload_len - RP_ICMP_PAYLOAD_LEN : 0);
	double bytes = rate > 0 ? rate * per : 32.0 * (1 << 20);

	if (bytes < 4.0 * (1 << 20))
		bytes = 4.0 * (1 << 20);
	if (bytes > 256.0 * (1 << 20))
		bytes = 256.0 * (1 << 20);
	return (uint32_t)bytes;
}

void rp_prober_conf_packet(struct rp_prober_conf *pc, const struct rp_conf *c)
{
	const struct rp_cidr_list *src = &c->source_address;
	struct rp_ip *slot[2] = {&pc->source, &pc->source2};

	if (!pc->payload_len && c->packet_size != RP_ICMP_PAYLOAD_LEN)
		pc->payload_len = (uint32_t)c->packet_size;
	if (!pc->ttl)
		pc->ttl = (int)c->ttl;
	if (!pc->tos)
		pc->tos = (int)c->tos;
	pc->dont_fragment |= c->dont_fragment;
	/* One address of each family at most (validated); one the command line gave for
	 * a family keeps its place. */
	for (size_t i = 0; i < src->n; i++) {
		const struct rp_ip *a = &src->v[i].net;
		bool taken = false;

		for (unsigned j = 0; j < 2; j++)
			taken |= !rp_ip_is_zero(slot[j]) && rp_ip_is_v4(slot[j]) == rp_ip_is_v4(a);
		for (unsigned j = 0; !taken && j < 2; j++) {
			if (rp_ip_is_zero(slot[j])) {
				*slot[j] = *a;
				break;
			}
		}
	}
	if (!pc->interface[0] && c->interface)
		snprintf(pc->interface, sizeof(pc->interface), "%s", c->interface);
	if (!pc->fwmark)
		pc->fwmark = (uint32_t)c->fwmark;
}

/* Send buffers per shard: 4096, fewer for large payloads so that the pool stays within
 * 16 MiB (a buffer is the request rounded up to a power of two: 256 of 64 KiB). */
static uint32_t send_slots(uint32_t payload_len)
{
	uint32_t len = RP_ICMP_HDR_LEN + (payload_len ? payload_len : RP_ICMP_PAYLOAD_LEN);
	uint32_t stride = rp_pow2_at_least(len < 64 ? 64 : len), n = (16u << 20) / stride;

	return n < 4096 ? n : 4096;
}

int rp_prober_create(struct rp_prober **out, const struct rp_prober_conf *conf, char *why,
		     size_t whylen)
{
	struct rp_prober *p = rp_xcalloc(1, sizeof(*p));
	struct rp_siphash_key key;
	uint16_t ident;
	uint64_t wsum = 0;
	int ret = 0;

	/* One random key per process: a reply cannot be forged without it. */
	if (getrandom(&key, sizeof(key), 0) != sizeof(key) ||
	    getrandom(&ident, sizeof(ident), 0) != sizeof(ident)) {
		snprintf(why, whylen, "getrandom failed");
		free(p);
		return -EIO;
	}
	p->n = conf->shards ? conf->shards : 1;
	for (unsigned i = 0; conf->weights && i < p->n; i++)
		wsum += conf->weights[i];
	p->capacity = conf->capacity;
	p->rt_priority = conf->rt_priority;
	p->rate_pps = conf->rate_pps;
	p->burst = conf->burst;
	if (conf->per_device) {
		p->pacc_nbounds = conf->pacc_nbounds > RP_PACC_MAX_BUCKETS ? RP_PACC_MAX_BUCKETS
									   : conf->pacc_nbounds;
		memcpy(p->pacc_bounds, conf->pacc_bounds, p->pacc_nbounds * sizeof(double));
		p->pacc_buf = rp_xcalloc(p->n, sizeof(*p->pacc_buf));
	}
	p->payload_max = conf->payload_len ? conf->payload_len : RP_ICMP_PAYLOAD_LEN;
	if (conf->payload_max > p->payload_max)
		p->payload_max = conf->payload_max;
	p->count_max = conf->ping_count ? conf->ping_count : 1;
	if (conf->count_max > p->count_max)
		p->count_max = conf->count_max;
	for (unsigned k = 1; k < conf->nprofiles && k < RP_PROFILES_MAX; k++) {
		const struct rp_probe_profile *pf = &conf->profiles[k];

		if (pf->payload_len > p->payload_max)
			p->payload_max = pf->payload_len;
		if (pf->ping_count > p->count_max)
			p->count_max = pf->ping_count;
		p->prof[k] = *pf;
		p->prof_defined |= 1u << k;
	}
	if (p->count_max > RP_ROUND_MAX)
		p->count_max = RP_ROUND_MAX;
	p->shards = rp_xcalloc(p->n, sizeof(*p->shards));
	p->lanes = rp_xcalloc(p->n, sizeof(*p->lanes));
	for (unsigned i = 0; i < p->n; i++) {
		p->lanes[i].cap = conf->backlog;
		if (conf->backlog)
			p->lanes[i].v = rp_xcalloc(conf->backlog, sizeof(*p->lanes[i].v));
	}
	for (unsigned i = 0; i < p->n; i++) {
		double share = wsum ? (double)conf->weights[i] / (double)wsum : 1.0 / p->n;
		struct rp_shard_conf sc = {
		    .index = i,
		    .capacity = conf->capacity,
		    .timeout_ns = conf->timeout_ns,
		    .rate_pps = conf->rate_pps * share,
		    .burst = conf->burst * share < 1 ? 1 : conf->burst * share,
		    .tick_ns = conf->tick_ns,
		    .result_ring = rp_pow2_at_least(conf->capacity < 65536    ? 65536
						    : conf->capacity > 262144 ? 262144
									      : conf->capacity),
		    .cmd_ring = conf->cmd_ring
				    ? rp_pow2_at_least(conf->cmd_ring < 64 ? 64 : conf->cmd_ring)
				    : 4096,
		    .max_fails = conf->max_fails,
		    .backoff_ns = conf->backoff_ns,
		    .rt_priority = conf->rt_priority,
		    .key = key,
		    .backend = conf->backend,
		    .icmp_mode = conf->icmp_mode,
		    .feature_mask = conf->feature_mask,
		    .send_slots = send_slots(p->payload_max),
		    .recv_bufs = 1024,
		    .rcvbuf_bytes = rcvbuf_for(conf->rate_pps * share, p->payload_max),
		    .ident = (uint16_t)(ident + i),
		    .families = conf->families,
		    .pkt =
			{
			    .payload_len = p->payload_max,
			    .ttl = conf->ttl,
			    .tos = conf->tos,
			    .dont_fragment = conf->dont_fragment,
			    .random_payload = conf->random_payload,
			    .source = {conf->source, conf->source2},
			    .fwmark = conf->fwmark,
			},
		    .ping_count = conf->ping_count,
		    .payload0 = conf->payload_len ? conf->payload_len : RP_ICMP_PAYLOAD_LEN,
		    .profiles = p->prof,
		    .nprofiles =
			conf->nprofiles < RP_PROFILES_MAX ? conf->nprofiles : RP_PROFILES_MAX,
		    .count_max = p->count_max,
		    .spacing_ms = (uint32_t)(conf->spacing_ns / 1000000u),
		    .rounds = conf->rounds,
		    .states = conf->states,
		    .down_after = conf->down_after,
		    .up_after = conf->up_after,
		    .pacc_nbounds = conf->per_device ? p->pacc_nbounds : 0,
		    .pacc_bounds = p->pacc_bounds,
		    .event_ring = conf->rounds
				      ? rp_pow2_at_least(conf->capacity < 16384	  ? 16384
							 : conf->capacity > 65536 ? 65536
										  : conf->capacity)
				      : 16384,
		};

		memcpy(sc.pkt.interface, conf->interface, sizeof(sc.pkt.interface));
		sc.pkt.interface[sizeof(sc.pkt.interface) - 1] = '\0';
		ret = rp_shard_create(&p->shards[i], &sc, why, whylen);
		if (ret < 0)
			goto fail;
		/* calloc'd: pages cost memory once a snapshot wrote them. */
		if (p->pacc_buf)
			p->pacc_buf[i] = rp_xcalloc(p->capacity ? p->capacity : 1,
						    rp_shard_pacc_rec_size(p->shards[i]));
	}
	*out = p;
	return 0;
fail:
	rp_prober_destroy(p);
	return ret;
}

int rp_prober_start(struct rp_prober *p, const char *user, char *why, size_t whylen)
{
	struct sched_param keep, sp = {.sched_priority = p->rt_priority};
	int policy = -1, ret;

	/* SCHED_FIFO needs CAP_SYS_NICE (or LimitRTPRIO), which the drop below takes
	 * away: this thread takes it now, the shard threads inherit it, and this thread
	 * gives it back once they run (lowering needs no capability). */
	if (p->rt_priority > 0 && pthread_getschedparam(pthread_self(), &policy, &keep) == 0 &&
	    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0)
		policy = -1;
	/* Every socket is open: drop every capability, with or without `user`, before
	 * any thread exists, since capability sets are per thread. */
	ret = rp_priv_drop(user, why, whylen);
	if (ret < 0)
		goto out;
	rp_log(RP_LOG_INFO, "privileges dropped", "user=%s detail=\"%s\"",
	       user && *user ? user : "-", why);
	for (unsigned i = 0; i < p->n; i++) {
		ret = rp_shard_start(p->shards[i]);
		if (ret < 0) {
			snprintf(why, whylen, "cannot start shard thread: %s", strerror(-ret));
			goto out;
		}
	}
out:
	if (policy >= 0)
		pthread_setschedparam(pthread_self(), policy, &keep);
	return ret;
}

void rp_prober_destroy(struct rp_prober *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n; i++)
		rp_shard_destroy(p->shards[i]);
	for (unsigned i = 0; p->lanes && i < p->n; i++)
		free(p->lanes[i].v);
	for (unsigned i = 0; p->pacc_buf && i < p->n; i++)
		free(p->pacc_buf[i]);
	free(p->pacc_buf);
	free(p->shards);
	free(p->lanes);
	free(p);
}

unsigned rp_prober_shards_for(int64_t shards_key, uint64_t targets)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (shards_key > 0)
		return (unsigned)shards_key;
	if (targets < 1000 || cpus < 1)
		return 1;
	return cpus > 8 ? 8 : (unsigned)cpus;
}

unsigned rp_prober_shard_of(const struct rp_prober *p, const struct rp_ip *addr)
{
	return rp_prober_route(addr, p->n);
}

bool rp_prober_offer(struct rp_prober *p, const struct rp_shard_dev *d)
{
	struct lane *l = &p->lanes[rp_prober_shard_of(p, &d->addr)];

	if (l->load >= p->capacity || !rp_shard_offer(p->shards[l - p->lanes], d))
		return false;
	l->load++;
	return true;
}

void rp_prober_finished(struct rp_prober *p, const struct rp_ip *addr)
{
	struct lane *l = &p->lanes[rp_prober_shard_of(p, addr)];

	if (l->load)
		l->load--;
}

/* Puts one command in shard i's command ring now; false when the ring is full. */
static bool hand_over(struct rp_prober *p, unsigned i, const struct qcmd *c)
{
	struct rp_shard *s = p->shards[i];
	bool monitored = qcmd_op(c) == Q_ADD || qcmd_op(c) == Q_READD;
	struct rp_shard_dev dev = {.addr = c->addr,
				   .id = monitored ? c->id_profile & Q_ID_MASK : c->id_profile,
				   .interval_ms = c->op_interval & Q_INTERVAL_MAX,
				   .profile = monitored ? (uint8_t)(c->id_profile >> 24) : 0};

	switch (qcmd_op(c)) {
	case Q_REMOVE:
		return rp_shard_offer_remove(s, &c->addr);
	case Q_READD:
		return rp_shard_offer_readd(s, &dev);
	case Q_ONCE:
		dev.interval_ms = 1000;
		dev.count = 1;
		dev.immediate = true;
		break;
	case Q_ADD:
		break;
	}
	return rp_shard_offer(s, &dev);
}

/* Nothing waits for shard i: a new command may go straight to its ring. */
static bool lane_idle(const struct lane *l)
{
	return l->used == 0 && !l->timeout_pending && !l->profiles_pending;
}

/* Sends c now when nothing waits before it and the ring has room, else puts it at
 * the FIFO's tail. The caller has checked there is room (the invariant above). */
static void enqueue(struct rp_prober *p, unsigned i, const struct qcmd *c)
{
	struct lane *l = &p->lanes[i];
	uint32_t tail;

	if (lane_idle(l) && hand_over(p, i, c))
		return;
	tail = l->head + l->used;
	if (tail >= l->cap)
		tail -= l->cap;
	l->v[tail] = *c;
	if (tail >= l->hi)
		l->hi = tail + 1;
	l->used++;
	l->queued++;
}

/* Lane l has just emptied: the next command goes to entry 0, and when a burst wrote
 * RELEASE_BYTES or more, the whole pages it wrote go back to the kernel (they read as
 * zeros again and cost no memory until written). */
static void lane_emptied(struct lane *l)
{
	uintptr_t page, from, to;

	l->head = 0;
	if ((size_t)l->hi * sizeof(*l->v) < RELEASE_BYTES)
		return;
	page = (uintptr_t)sysconf(_SC_PAGESIZE);
	from = ((uintptr_t)l->v + page - 1) & ~(page - 1);
	to = (uintptr_t)(l->v + l->hi) & ~(page - 1);
	if (to > from)
		madvise((void *)from, to - from, MADV_DONTNEED);
	l->hi = 0;
}

/* Whether shard i's backlog can take a command needing `entries` entries (and, for
 * a device or probe, whether the shard has room for one more); counts a refusal. */
static int admit(struct rp_prober *p, unsigned i, uint32_t entries, bool adds_load)
{
	struct lane *l = &p->lanes[i];

	if (adds_load && l->load >= p->capacity) {
		p->refused++;
		return -ENOSPC;
	}
	if ((uint64_t)l->used + l->monitored + entries > l->cap) {
		p->refused++;
		return -ENOBUFS;
	}
	return 0;
}

int rp_prober_queue_add(struct rp_prober *p, const struct rp_ip *addr, uint32_t id,
			uint32_t interval_ms)
{
	return rp_prober_queue_add_profile(p, addr, id, interval_ms, 0);
}

int rp_prober_queue_add_profile(struct rp_prober *p, const struct rp_ip *addr, uint32_t id,
				uint32_t interval_ms, unsigned profile)
{
	unsigned i = rp_prober_shard_of(p, addr);
	struct qcmd c = qcmd_make(Q_ADD, addr, id, interval_ms, profile);
	/* One entry for the add, one kept for its remove. */
	int ret = admit(p, i, 2, true);

	if (ret < 0)
		return ret;
	p->lanes[i].load++;
	p->lanes[i].monitored++;
	enqueue(p, i, &c);
	return 0;
}

int rp_prober_queue_once(struct rp_prober *p, const struct rp_ip *addr, uint32_t id)
{
	unsigned i = rp_prober_shard_of(p, addr);
	struct qcmd c = qcmd_make(Q_ONCE, addr, id, 0, 0);
	/* Its result, not a remove, ends it: nothing to keep in reserve. */
	int ret = admit(p, i, 1, true);

	if (ret < 0)
		return ret;
	p->lanes[i].load++;
	enqueue(p, i, &c);
	return 0;
}

int rp_prober_queue_readd(struct rp_prober *p, const struct rp_ip *addr, uint32_t id,
			  uint32_t interval_ms)
{
	return rp_prober_queue_readd_profile(p, addr, id, interval_ms, 0);
}

int rp_prober_queue_readd_profile(struct rp_prober *p, const struct rp_ip *addr, uint32_t id,
				  uint32_t interval_ms, unsigned profile)
{
	unsigned i = rp_prober_shard_of(p, addr);
	struct qcmd c = qcmd_make(Q_READD, addr, id, interval_ms, profile);
	/* The device already keeps its remove entry; the load does not change. */
	int ret = admit(p, i, 1, false);

	if (ret < 0)
		return ret;
	enqueue(p, i, &c);
	return 0;
}

void rp_prober_queue_remove(struct rp_prober *p, const struct rp_ip *addr)
{
	unsigned i = rp_prober_shard_of(p, addr);
	struct lane *l = &p->lanes[i];
	struct qcmd c = qcmd_make(Q_REMOVE, addr, 0, 0, 0);

	if (l->load)
		l->load--;
	if (l->monitored) {
		l->monitored--; /* it takes the entry its device kept */
	} else if (l->used == l->cap) {
		/* A remove of a device never added here (a caller's bug): nothing in the
		 * shard to remove, and no entry kept for it. */
		p->refused++;
		return;
	}
	enqueue(p, i, &c);
}

void rp_prober_queue_timeout(struct rp_prober *p, uint64_t timeout_ns)
{
	for (unsigned i = 0; i < p->n; i++) {
		struct lane *l = &p->lanes[i];

		if (lane_idle(l) && rp_shard_offer_timeout(p->shards[i], timeout_ns))
			continue;
		l->timeout_pending = true;
		l->timeout_ns = timeout_ns;
		l->timeout_at = l->queued;
	}
}

/* Sends lane i's waiting profile definitions; false when the ring filled first. */
static bool send_profiles(struct rp_prober *p, unsigned i)
{
	struct lane *l = &p->lanes[i];

	while (l->profiles_pending) {
		unsigned k = (unsigned)__builtin_ctz(l->profiles_pending);

		if (!rp_shard_offer_profile(p->shards[i], k, &p->prof[k]))
			return false;
		l->profiles_pending &= ~(1u << k);
	}
	return true;
}

int rp_prober_set_profile(struct rp_prober *p, unsigned k, const struct rp_probe_profile *pf)
{
	int ret = 0;

	if (k == 0 || k >= RP_PROFILES_MAX || (p->prof_defined & (1u << k)))
		return -EINVAL;
	p->prof[k] = *pf;
	if (p->prof[k].payload_len > p->payload_max) {
		p->prof[k].payload_len = p->payload_max;
		ret = -E2BIG;
	}
	if (p->prof[k].ping_count > p->count_max) {
		p->prof[k].ping_count = p->count_max;
		ret = -E2BIG;
	}
	p->prof_defined |= 1u << k;
	/* Ahead of whatever waits in the backlogs: no device there has it yet. */
	for (unsigned i = 0; i < p->n; i++) {
		p->lanes[i].profiles_pending |= 1u << k;
		send_profiles(p, i);
	}
	return ret;
}

void rp_prober_drain(struct rp_prober *p)
{
	for (unsigned i = 0; i < p->n; i++) {
		struct lane *l = &p->lanes[i];

		if (!send_profiles(p, i))
			continue;
		for (;;) {
			if (l->timeout_pending && l->sent == l->timeout_at) {
				if (!rp_shard_offer_timeout(p->shards[i], l->timeout_ns))
					break;
				l->timeout_pending = false;
				continue;
			}
			if (!l->used || !hand_over(p, i, &l->v[l->head]))
				break;
			l->head = l->head + 1 == l->cap ? 0 : l->head + 1;
			l->used--;
			l->sent++;
			if (!l->used)
				lane_emptied(l);
		}
	}
}

uint64_t rp_prober_queued(const struct rp_prober *p)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < p->n; i++)
		n += p->lanes[i].used + p->lanes[i].timeout_pending +
		     (uint64_t)__builtin_popcount(p->lanes[i].profiles_pending);
	return n;
}

void rp_prober_rebalance(struct rp_prober *p)
{
	double sum = 0;

	if (p->rate_pps <= 0 || p->n < 2)
		return;
	for (unsigned i = 0; i < p->n; i++)
		sum += (double)p->lanes[i].load + 1;
	for (unsigned i = 0; i < p->n; i++) {
		struct lane *l = &p->lanes[i];
		double share = ((double)l->load + 1) / sum, want = p->rate_pps * share;
		double burst = p->burst * share;

		if (l->rate > 0 && want > l->rate * 0.99 && want < l->rate * 1.01)
			continue;
		if (rp_shard_offer_rate(p->shards[i], want, burst < 1 ? 1 : burst))
			l->rate = want;
	}
}

uint32_t rp_prober_poll(struct rp_prober *p, struct rp_probe_result *out, uint32_t max)
{
	uint32_t got = 0;

	for (unsigned k = 0; k < p->n && got < max; k++) {
		unsigned i = (p->next_poll + k) % p->n;

		got += rp_spsc_pop(rp_shard_results(p->shards[i]), out + got, max - got);
	}
	p->next_poll++;
	return got;
}

uint32_t rp_prober_poll_events(struct rp_prober *p, struct rp_event *out, uint32_t max)
{
	uint32_t got = 0;

	for (unsigned i = 0; i < p->n && got < max; i++) {
		struct rp_spsc *r = rp_shard_events(p->shards[i]);

		if (r)
			got += rp_spsc_pop(r, out + got, max - got);
	}
	return got;
}

void rp_prober_stats(const struct rp_prober *p, struct rp_shard_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->done = true;
	out->cmd_refused = p->refused;
	for (unsigned i = 0; i < p->n; i++) {
		struct rp_shard_stats s;

		rp_shard_stats(p->shards[i], &s);
		out->devices += s.devices;
		out->suspended += s.suspended;
		out->probes_sent += s.probes_sent;
		out->replies += s.replies;
		out->timeouts += s.timeouts;
		for (int k = 0; k < RP_REPLY_KIND_COUNT; k++)
			out->invalid[k] += s.invalid[k];
		out->send_errors += s.send_errors;
		out->ring_drops += s.ring_drops;
		out->cmd_rejected += s.cmd_rejected;
		out->late_sends += s.late_sends;
		if (s.max_late_ns > out->max_late_ns)
			out->max_late_ns = s.max_late_ns;
		out->loops += s.loops;
		out->recv_nobufs += s.recv_nobufs;
		out->tx_stamped += s.tx_stamped;
		out->timeout_fifo_full += s.timeout_fifo_full;
		out->kernel_rx_drops += s.kernel_rx_drops;
		out->rtt_clock_fallbacks += s.rtt_clock_fallbacks;
		out->stop_unknown += s.stop_unknown;
		out->rounds += s.rounds;
		out->state_changes += s.state_changes;
		out->devices_down += s.devices_down;
		out->icmp_errors += s.icmp_errors;
		out->icmp_errors_short += s.icmp_errors_short;
		out->done = out->done && s.done;
		out->stopped = i == 0 ? s.stopped : out->stopped && s.stopped;
	}
}

void rp_prober_engine_info(const struct rp_prober *p, struct rp_engine_info *out)
{
	rp_shard_engine_info(p->shards[0], out);
}

void rp_prober_request_stop(struct rp_prober *p, uint64_t wait_ns)
{
	for (unsigned i = 0; i < p->n; i++)
		rp_shard_request_stop(p->shards[i], wait_ns);
}

unsigned rp_prober_count(const struct rp_prober *p)
{
	return p->n;
}

void rp_prober_stop(struct rp_prober *p)
{
	for (unsigned i = 0; i < p->n; i++)
		rp_shard_stop(p->shards[i]);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int rp_prober_run(struct rp_prober *p, rp_prober_source source, rp_prober_sink sink,
		  rp_prober_tick tick, void *arg)
{
	struct rp_probe_result res[1024];
	struct rp_shard_dev pending;
	struct rp_shard_stats st;
	const struct timespec idle = {0, 2000000};
	bool have = false, exhausted = false;
	uint64_t offered = 0, finished = 0, last_tick = mono_ms();
	int ret = 0;

	while (!exhausted || finished < offered) {
		uint32_t n;

		/* A device the shard had no room for is offered again before the next one. */
		while (!exhausted) {
			if (!have && !(have = source(arg, &pending))) {
				exhausted = true;
				break;
			}
			if (!rp_prober_offer(p, &pending))
				break;
			have = false;
			offered++;
		}
		n = rp_prober_poll(p, res, RP_ARRAY_SIZE(res));
		for (uint32_t i = 0; i < n; i++) {
			if (sink(arg, &res[i])) {
				finished++;
				rp_prober_finished(p, &res[i].addr);
			}
		}
		if (tick && mono_ms() - last_tick >= 250) {
			last_tick = mono_ms();
			rp_prober_stats(p, &st);
			tick(arg, &st);
		}
		if (n)
			continue;
		rp_prober_stats(p, &st);
		/* Results lost to a full ring would leave devices waiting forever. */
		if (st.done && exhausted && st.ring_drops) {
			ret = -EIO;
			break;
		}
		nanosleep(&idle, NULL);
	}
	rp_prober_stop(p);
	return ret;
}

int rp_prober_pacc_snapshot(struct rp_prober *p, uint64_t wait_ns, struct rp_pacc_view *out)
{
	uint64_t ticket[64], deadline;
	bool done[64] = {false};
	unsigned left = p->n;
	struct timespec ts;

	if (!p->pacc_buf || !p->pacc_nbounds)
		return -ENOTSUP;
	memset(out, 0, sizeof(*out));
	out->nbounds = p->pacc_nbounds;
	out->bounds_s = p->pacc_bounds;
	out->rec_size = rp_shard_pacc_rec_size(p->shards[0]);
	out->nshards = p->n;
	for (unsigned i = 0; i < p->n; i++) {
		ticket[i] = rp_shard_pacc_ask(p->shards[i], p->pacc_buf[i]);
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + wait_ns;
	for (;;) {
		for (unsigned i = 0; i < p->n; i++) {
			uint64_t rxerr;

			if (!done[i] &&
			    rp_shard_pacc_done(p->shards[i], ticket[i], &out->n[i], &rxerr)) {
				done[i] = true;
				out->recv_errors += rxerr;
				out->recs[i] = p->pacc_buf[i];
				out->devices += out->n[i];
				left--;
			}
		}
		if (!left)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec >= deadline)
			break;
		/* A shard answers once per loop (a tick at most): poll every 200 us. */
		ts = (struct timespec){.tv_nsec = 200000};
		nanosleep(&ts, NULL);
	}
	out->missing = left;
	return 0;
}
