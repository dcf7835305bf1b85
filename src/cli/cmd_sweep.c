/* `ringprobe sweep`: probe every host address of some networks once and list
 * the ones that answer. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"
#include "ringprobe/addr.h"
#include "ringprobe/hosts.h"
#include "ringprobe/log.h"
#include "ringprobe/permute.h"
#include "ringprobe/prober.h"
#include "ringprobe/snmp.h"
#include "ringprobe/targets.h"
#include "ringprobe/term.h"
#include "ringprobe/xalloc.h"

struct sweep_opts {
	bool snmp;
};

enum { O_RATE, O_ALLOW_LARGE, O_SNMP };

static const struct rp_cli_opt sweep_opts[] = {
    [O_RATE] = {"rate", 0, required_argument, "PPS", "packets per second (= --ping-rate-limit)",
		"ping_rate_limit"},
    [O_ALLOW_LARGE] = {"allow-large", 0, no_argument, NULL,
		       "allow networks larger than a /16 (= --allow-large-networks)",
		       "allow_large_networks"},
    [O_SNMP] = {"snmp", 0, no_argument, NULL,
		"also ask each alive host its sysName over SNMP (the --snmp-* flags); print\n"
		"ADDRESS<TAB>SYSNAME, or ADDRESS<TAB>- when its agent does not answer (SYSNAME\n"
		"without control characters, C1 and Unicode bidi controls included)"},
};

static void on_opt(void *ctx, const struct rp_cli_opt *o, const char *arg, struct rp_diags *d)
{
	struct sweep_opts *s = ctx;

	if (o - sweep_opts == O_SNMP)
		s->snmp = true;
}

/* --snmp: alive hosts wait here until the poller has room, then are asked. */
struct snmp_run {
	struct rp_snmp *p;
	struct rp_ip *wait; /* alive; [0, head) asked already */
	size_t nwait, cap, head;
	uint64_t answered, status[RP_SNMP_STATUS_COUNT];
	struct rp_snmp_result res[16];
};

struct sweep_run {
	struct snmp_run *snmp; /* NULL without --snmp */
	struct rp_hosts h;
	struct rp_permute perm;
	uint64_t done, alive;
	uint64_t start_ns;
	bool tty;     /* stderr is a terminal: draw the progress line */
	bool out_tty; /* stdout is one too: an address must not land on the drawn line */
	bool drawn;   /* a progress line is on the screen */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void snmp_pump(struct snmp_run *sr)
{
	uint32_t n;

	while (sr->head < sr->nwait && rp_snmp_room(sr->p) > 0 &&
	       rp_snmp_submit(sr->p, &sr->wait[sr->head], 0))
		sr->head++;
	while ((n = rp_snmp_take(sr->p, sr->res, RP_ARRAY_SIZE(sr->res))) > 0)
		for (uint32_t i = 0; i < n; i++) {
			const struct rp_snmp_result *r = &sr->res[i];
			char ip[RP_IP_STRLEN], name[RP_SNMP_NAME_MAX];

			sr->answered++;
			sr->status[r->status]++;
			/* the device's own words, for a person's terminal: without the C1
			 * and bidi controls rp_line_sanitize leaves (src/util/term.c) */
			rp_term_sanitize(name, sizeof(name),
					 r->status == RP_SNMP_OK ? r->name : "-");
			printf("%s\t%s\n", rp_ip_format(&r->addr, ip), name);
		}
}

static bool next_host(void *arg, struct rp_shard_dev *d)
{
	struct sweep_run *r = arg;
	uint64_t i;

	if (!rp_permute_next(&r->perm, &i))
		return false;
	*d = (struct rp_shard_dev){.addr = rp_hosts_at(&r->h, i),
				   .id = 0,
				   .interval_ms = 1000,
				   .count = 1,
				   .immediate = true};
	return true;
}

static bool take_result(void *arg, const struct rp_probe_result *res)
{
	struct sweep_run *r = arg;
	struct rp_ip a = res->addr;

	r->done++;
	if (res->success) {
		r->alive++;
		/* Erase the progress line once before the first address after it; it comes
		 * back at the next tick. Not per address, and not when stdout goes elsewhere:
		 * that would erase the line as fast as hosts answer, one write each. */
		if (r->drawn && r->out_tty) {
			fputs("\r\033[K", stderr);
			r->drawn = false;
		}
		if (r->snmp) {
			struct snmp_run *sr = r->snmp;

			if (sr->nwait == sr->cap) {
				sr->cap = sr->cap ? sr->cap * 2 : 1024;
				sr->wait = rp_xrealloc(sr->wait, sr->cap * sizeof(*sr->wait));
			}
			sr->wait[sr->nwait++] = a;
			snmp_pump(sr);
		} else {
			char ip[RP_IP_STRLEN];

			printf("%s\n", rp_ip_format(&a, ip));
		}
	}
	return true;
}

static void progress(void *arg, const struct rp_shard_stats *st)
{
	struct sweep_run *r = arg;
	double secs = (double)(now_ns() - r->start_ns) / 1e9;
	double rate = secs > 0 ? (double)st->probes_sent / secs : 0;
	uint64_t left = r->h.count - (st->probes_sent < r->h.count ? st->probes_sent : r->h.count);

	if (r->snmp)
		snmp_pump(r->snmp);
	if (!r->tty)
		return;
	fflush(stdout);
	fprintf(stderr, "\r\033[K%llu/%llu probed (%.0f%%), %.0f/s, %llu alive, ETA %.0fs",
		(unsigned long long)st->probes_sent, (unsigned long long)r->h.count,
		100.0 * (double)st->probes_sent / (double)r->h.count, rate,
		(unsigned long long)r->alive, rate > 0 ? (double)left / rate : 0.0);
	r->drawn = true;
}

/* After the sweep: ask the hosts still waiting, print every answer, sum up. */
static void snmp_finish(struct snmp_run *sr)
{
	while (sr->answered < sr->nwait) {
		snmp_pump(sr);
		if (sr->answered < sr->nwait)
			usleep(2000);
	}
	fflush(stdout);
	fprintf(stderr, "snmp: %llu asked, %llu answered, %llu timed out, %llu errors\n",
		(unsigned long long)sr->head, (unsigned long long)sr->status[RP_SNMP_OK],
		(unsigned long long)sr->status[RP_SNMP_TIMEOUT],
		(unsigned long long)(sr->status[RP_SNMP_AGENT_ERROR] +
				     sr->status[RP_SNMP_LOCAL_ERROR]));
}

static int run_sweep(const struct rp_conf *c, const struct rp_cidr_list *nets, bool snmp)
{
	struct sweep_run r = {.tty = isatty(STDERR_FILENO), .out_tty = isatty(STDOUT_FILENO)};
	struct snmp_run sr = {0};
	struct rp_prober_conf pc = {0};
	struct rp_prober *pr;
	struct rp_shard_stats st;
	uint64_t seed = 0;
	int ret;

	if (snmp) {
		char why[256];

		/* before any thread: net-snmp's set-up sets an environment variable */
		if (rp_snmp_create(&sr.p, c, why, sizeof(why)) < 0 || rp_snmp_start(sr.p) < 0) {
			fprintf(stderr, "ringprobe sweep: --snmp: %s\n",
				sr.p ? "cannot start the SNMP poller thread" : why);
			rp_snmp_destroy(sr.p);
			return RP_EXIT_RUNTIME;
		}
		r.snmp = &sr;
	}
	rp_hosts_init(&r.h, nets->v, nets->n);
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)now_ns();
	rp_permute_init(&r.perm, r.h.count, seed);
	pc.shards = rp_prober_shards_for(c->shards, r.h.count);
	/* Hosts in flight per shard: what the rate sends within a timeout, with room. */
	pc.capacity =
	    (uint32_t)(c->ping_rate_limit * ((double)c->ping_timeout / 1e9 + 1) / pc.shards) + 1024;
	if (pc.capacity > (1u << 20))
		pc.capacity = 1u << 20;
	pc.timeout_ns = (uint64_t)c->ping_timeout;
	pc.rate_pps = c->ping_rate_limit;
	pc.burst = (double)c->ping_burst_limit;
	pc.tick_ns = 5000000;
	if (rp_cli__prober("sweep", c, &pc, &pr) != RP_EXIT_OK) {
		rp_hosts_fini(&r.h);
		rp_snmp_destroy(sr.p);
		return RP_EXIT_RUNTIME;
	}
	r.start_ns = now_ns();
	ret = rp_prober_run(pr, next_host, take_result, progress, &r);
	rp_prober_stats(pr, &st);
	fflush(stdout);
	if (r.drawn)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "swept %llu host%s in %zu network%s in %.1fs at %.0f/s: %llu alive\n",
		(unsigned long long)r.h.count, r.h.count == 1 ? "" : "s", nets->n,
		nets->n == 1 ? "" : "s", (double)(now_ns() - r.start_ns) / 1e9,
		(double)st.probes_sent / ((double)(now_ns() - r.start_ns) / 1e9),
		(unsigned long long)r.alive);
	if (ret == -EIO)
		fprintf(stderr, "ringprobe sweep: %llu results were lost (result ring full)\n",
			(unsigned long long)st.ring_drops);
	rp_prober_destroy(pr);
	rp_hosts_fini(&r.h);
	if (r.snmp) {
		snmp_finish(&sr);
		rp_snmp_destroy(sr.p);
		free(sr.wait);
	}
	return ret < 0 ? RP_EXIT_RUNTIME : RP_EXIT_OK;
}

int rp_cmd_sweep(int argc, char **argv)
{
	struct sweep_opts s = {0};
	const struct rp_cli_cmd cmd = {
	    .name = "sweep",
	    .usage = "[options] CIDR...",
	    .summary = "Send one ICMP echo to every host address of each CIDR, in a random "
		       "order, paced by\n--rate, and print the addresses that answer, one "
		       "per line. Networks larger than\na /16 need --allow-large.",
	    .opts = sweep_opts,
	    .nopts = RP_ARRAY_SIZE(sweep_opts),
	    .purpose = RP_CONF_FOR_SWEEP,
	    .on_opt = on_opt,
	    .ctx = &s,
	};
	struct rp_cli cli;
	struct rp_cidr_list nets = {0};
	int ret;

	rp_cli__parse(&cmd, argc, argv, &cli);
	if (cli.help) {
		ret = RP_EXIT_OK;
		goto out;
	}
	if (cli.nargs == 0)
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, NULL, NULL,
			     "sweep needs at least one CIDR (e.g. 192.0.2.0/24) or @FILE");
	for (int i = 0; i < cli.nargs; i++)
		rp_targets_add_arg(&nets, cli.args[i], &cli.diags);
	for (size_t i = 0; i < nets.nnames; i++)
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, nets.names[i], NULL,
			     "is a name; sweep takes addresses and CIDR ranges (ping takes names)");
	for (size_t i = 0; i < nets.n; i++) {
		char txt[RP_CIDR_STRLEN];

		if (rp_cidr_host_bits(&nets.v[i]) <= RP_CIDR_SWEEP_HOST_BITS ||
		    cli.conf.allow_large_networks)
			continue;
		rp_format_cidr(&nets.v[i], true, txt, sizeof(txt));
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, txt, NULL,
			     "has %llu addresses, more than a %s; add --allow-large to sweep it",
			     (unsigned long long)rp_cidr_size(&nets.v[i]),
			     rp_ip_is_v4(&nets.v[i].net) ? "/16" : "/112");
	}
	ret = rp_cli__report(&cmd, &cli);
	if (ret == RP_EXIT_OK) {
		rp_log_setup(cli.conf.log.format,
			     rp_conf_is_set(&cli.conf, rp_conf_key_find("log.level"))
				 ? cli.conf.log.level
				 : RP_LOG_WARN);
		ret = run_sweep(&cli.conf, &nets, s.snmp);
	}
out:
	rp_targets_free(&nets);
	rp_cli__fini(&cli);
	return ret;
}
