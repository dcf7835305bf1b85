/* Several shards as one, for ping and sweep. */
#include "ringprobe/prober.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "io/engine.h"
#include "ringprobe/compiler.h"
#include "ringprobe/hash.h"
#include "ringprobe/log.h"
#include "ringprobe/priv.h"
#include "ringprobe/spsc.h"
#include "ringprobe/xalloc.h"

struct rp_prober {
	unsigned n;
	uint32_t capacity;
	struct rp_shard **shards;
	uint32_t *inflight; /* offered - finished, per shard */
	unsigned next_poll; /* round robin start for fairness */
};

/* Room for a second of replies at this rate (a reply takes about 768 bytes of socket
 * memory on loopback), at least 4 MiB; unpaced: 32 MiB. */
static uint32_t rcvbuf_for(double rate)
{
	double bytes = rate > 0 ? rate * 768 : 32.0 * (1 << 20);

	if (bytes < 4.0 * (1 << 20))
		bytes = 4.0 * (1 << 20);
	if (bytes > 256.0 * (1 << 20))
		bytes = 256.0 * (1 << 20);
	return (uint32_t)bytes;
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
	p->shards = rp_xcalloc(p->n, sizeof(*p->shards));
	p->inflight = rp_xcalloc(p->n, sizeof(*p->inflight));
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
		    .send_slots = 4096,
		    .recv_bufs = 1024,
		    .rcvbuf_bytes = rcvbuf_for(conf->rate_pps * share),
		    .ident = (uint16_t)(ident + i),
		};

		ret = rp_shard_create(&p->shards[i], &sc, why, whylen);
		if (ret < 0)
			goto fail;
	}
	*out = p;
	return 0;
fail:
	rp_prober_destroy(p);
	return ret;
}

int rp_prober_start(struct rp_prober *p, const char *user, char *why, size_t whylen)
{
	int ret;

	/* Every socket is open: drop privileges before any thread exists, since
	 * capability sets are per thread. */
	if (user && *user) {
		ret = rp_priv_drop(user, why, whylen);
		if (ret < 0)
			return ret;
		rp_log(RP_LOG_INFO, "privileges dropped", "user=%s", user);
	}
	for (unsigned i = 0; i < p->n; i++) {
		ret = rp_shard_start(p->shards[i]);
		if (ret < 0) {
			snprintf(why, whylen, "cannot start shard thread: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void rp_prober_destroy(struct rp_prober *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n; i++)
		rp_shard_destroy(p->shards[i]);
	free(p->shards);
	free(p->inflight);
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

unsigned rp_prober_shard_of(const struct rp_prober *p, uint32_t addr)
{
	return rp_prober_route(addr, p->n);
}

bool rp_prober_offer(struct rp_prober *p, const struct rp_shard_dev *d)
{
	unsigned i = rp_prober_shard_of(p, d->addr);

	if (p->inflight[i] >= p->capacity || !rp_shard_offer(p->shards[i], d))
		return false;
	p->inflight[i]++;
	return true;
}

void rp_prober_finished(struct rp_prober *p, uint32_t addr)
{
	unsigned i = rp_prober_shard_of(p, addr);

	if (p->inflight[i])
		p->inflight[i]--;
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

void rp_prober_stats(const struct rp_prober *p, struct rp_shard_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->done = true;
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
		out->done = out->done && s.done;
		out->stopped = i == 0 ? s.stopped : out->stopped && s.stopped;
	}
}

void rp_prober_engine_info(const struct rp_prober *p, struct rp_engine_info *out)
{
	rp_shard_engine_info(p->shards[0], out);
}

void rp_prober_request_stop(struct rp_prober *p)
{
	for (unsigned i = 0; i < p->n; i++)
		rp_shard_request_stop(p->shards[i]);
}

unsigned rp_prober_count(const struct rp_prober *p)
{
	return p->n;
}

struct rp_shard *rp_prober_shard(struct rp_prober *p, unsigned i)
{
	return p->shards[i];
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
				rp_prober_finished(p, res[i].addr);
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
