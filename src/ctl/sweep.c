/* Discovery sweeps: every icmp_discovery_interval, one round over every host of
 * every network, in a random order, at whatever rate the daemon can spare after
 * monitoring. A round ends when every address was offered and every result came
 * back (or the grace time after the last offer passed: a result lost to a full
 * ring must not hold the next round back). Owned by the control thread. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ctl/ctl_int.h"
#include "ringprobe/xalloc.h"

#define NS_PER_S 1000000000ull

/* Every group's networks, the top level's first: n set, the caller frees. */
static struct rp_cidr *all_networks(const struct rp_conf *c, size_t *n)
{
	struct rp_cidr *v;
	size_t k = c->networks.n;

	for (size_t g = 0; g < c->groups.n; g++)
		k += c->groups.v[g].networks.n;
	v = rp_xcalloc(k ? k : 1, sizeof(*v));
	if (c->networks.n)
		memcpy(v, c->networks.v, c->networks.n * sizeof(*v));
	k = c->networks.n;
	for (size_t g = 0; g < c->groups.n; g++) {
		const struct rp_cidr_list *l = &c->groups.v[g].networks;

		if (l->n)
			memcpy(v + k, l->v, l->n * sizeof(*v));
		k += l->n;
	}
	*n = k;
	return v;
}

static void set_networks(struct rp_sweep *s, const struct rp_conf *c)
{
	free(s->nets);
	free(s->probed);
	free(s->alive);
	rp_hosts_fini(&s->hosts);
	s->nets = all_networks(c, &s->nnets);
	s->probed = rp_xcalloc(s->nnets ? s->nnets : 1, sizeof(*s->probed));
	s->alive = rp_xcalloc(s->nnets ? s->nnets : 1, sizeof(*s->alive));
	rp_hosts_init(&s->hosts, s->nets, s->nnets);
}

void rp_sweep_init(struct rp_sweep *s, const struct rp_conf *c, uint64_t now_ns)
{
	memset(s, 0, sizeof(*s));
	set_networks(s, c);
	s->interval_ns = (uint64_t)c->icmp_discovery_interval;
	s->grace_ns = (uint64_t)c->ping_timeout + 2 * NS_PER_S;
	s->next_round_ns = now_ns; /* the first round starts at once */
}

void rp_sweep_fini(struct rp_sweep *s)
{
	free(s->nets);
	free(s->probed);
	free(s->alive);
	rp_hosts_fini(&s->hosts);
	memset(s, 0, sizeof(*s));
}

static bool same_networks(const struct rp_sweep *s, const struct rp_conf *c)
{
	size_t n;
	struct rp_cidr *v = all_networks(c, &n);
	bool same = n == s->nnets;

	for (size_t i = 0; same && i < s->nnets; i++)
		same = rp_ip_eq(&s->nets[i].net, &v[i].net) && s->nets[i].prefix == v[i].prefix;
	free(v);
	return same;
}

void rp_sweep_reconf(struct rp_sweep *s, const struct rp_conf *c, uint64_t now_ns)
{
	s->interval_ns = (uint64_t)c->icmp_discovery_interval;
	s->grace_ns = (uint64_t)c->ping_timeout + 2 * NS_PER_S;
	if (same_networks(s, c)) {
		if (!s->active && s->interval_ns)
			s->next_round_ns = s->round_start_ns + s->interval_ns;
		return;
	}
	/* Results of the abandoned round carry its epoch and are ignored. */
	s->active = false;
	s->outstanding = 0;
	set_networks(s, c);
	s->next_round_ns = now_ns;
}

void rp_sweep_tick(struct rp_sweep *s, uint64_t now_ns)
{
	uint64_t seed;

	if (s->active || s->nnets == 0 || (int64_t)(now_ns - s->next_round_ns) < 0)
		return;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = now_ns;
	s->epoch++;
	s->active = true;
	s->fed = false;
	s->outstanding = 0;
	s->round_start_ns = now_ns;
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		s->round_start_real_ns = (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
	}
	memset(s->probed, 0, s->nnets * sizeof(*s->probed));
	memset(s->alive, 0, s->nnets * sizeof(*s->alive));
	rp_permute_init(&s->perm, s->hosts.count, seed);
	s->tokens = 0;
	s->tokens_at_ns = now_ns;
}

bool rp_sweep_next(struct rp_sweep *s, uint64_t now_ns, double rate_pps, uint64_t window,
		   bool (*skip)(void *arg, const struct rp_ip *addr), void *arg, struct rp_ip *addr,
		   uint32_t *id)
{
	uint64_t i;

	if (!s->active || s->fed)
		return false;
	if (now_ns > s->tokens_at_ns) {
		s->tokens += (double)(now_ns - s->tokens_at_ns) * 1e-9 * rate_pps;
		s->tokens_at_ns = now_ns;
		/* At most a tenth of a second's worth saved up: no bursts after a pause. */
		if (s->tokens > rate_pps / 10 + 1)
			s->tokens = rate_pps / 10 + 1;
	}
	if (s->tokens < 1 || s->outstanding >= window)
		return false;
	/* Skipped addresses cost no token; a bounded number per call keeps a loop
	 * iteration short when most of a network is someone else's share. */
	for (int tries = 0; tries < 4096; tries++) {
		struct rp_ip a;
		size_t net;

		if (!rp_permute_next(&s->perm, &i)) {
			s->fed = true;
			s->fed_at_ns = now_ns;
			return false;
		}
		a = rp_hosts_at(&s->hosts, i);
		if (skip && skip(arg, &a))
			continue;
		net = rp_hosts_net_of(&s->hosts, i);
		s->probed[net]++;
		s->tokens -= 1;
		s->outstanding++;
		s->probes++;
		*addr = a;
		*id = RP_SWEEP_ID(s->epoch, net);
		return true;
	}
	return false;
}

bool rp_sweep_result(struct rp_sweep *s, uint32_t id, bool success)
{
	uint32_t net = id & 0xffffu;

	if (!s->active || ((id >> 16) & 0x7fffu) != (s->epoch & 0x7fffu))
		return false;
	if (s->outstanding)
		s->outstanding--;
	if (!success)
		return false;
	if (net < s->nnets)
		s->alive[net]++;
	s->found++;
	return true;
}

bool rp_sweep_finish(struct rp_sweep *s, uint64_t now_ns,
		     void (*report)(void *arg, const struct rp_sweep_report *r), void *arg)
{
	double dur;

	if (!s->active || !s->fed)
		return false;
	if (s->outstanding && now_ns - s->fed_at_ns < s->grace_ns)
		return false;
	s->active = false;
	s->rounds++;
	dur = (double)(now_ns - s->round_start_ns) * 1e-9;
	for (size_t i = 0; i < s->nnets; i++) {
		struct rp_sweep_report r = {
		    .net = &s->nets[i],
		    .probed = s->probed[i],
		    .alive = s->alive[i],
		    .duration_s = dur,
		    .start_real_ns = s->round_start_real_ns,
		};

		if (report)
			report(arg, &r);
	}
	/* icmp_discovery_interval 0: one round at start only. */
	s->next_round_ns =
	    s->interval_ns ? s->round_start_ns + s->interval_ns : now_ns + (1ull << 62);
	if ((int64_t)(s->next_round_ns - now_ns) < 0)
		s->next_round_ns = now_ns;
	return true;
}
