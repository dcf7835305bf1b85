/* `ringprobe ping`: probe targets a fixed number of times and print fping-style
 * results. The options keep fping's meaning so scripts that parse fping switch. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"
#include "ringprobe/addr.h"
#include "ringprobe/hash.h"
#include "ringprobe/hosts.h"
#include "ringprobe/log.h"
#include "ringprobe/names.h"
#include "ringprobe/prober.h"
#include "ringprobe/spsc.h"
#include "ringprobe/writer.h"
#include "ringprobe/targets.h"
#include "ringprobe/xalloc.h"

struct ping_opts {
	bool count_given;
	int64_t count;
	int64_t period_ms;
	int64_t timeout_ms;
	int64_t interval_ms;
	bool quiet;
	bool json;
	int family; /* -4/-6: enum rp_addrfam; RP_ADDRFAM_BOTH = address_family decides */
};

enum {
	O_COUNT,
	O_PERIOD,
	O_TIMEOUT,
	O_INTERVAL,
	O_QUIET,
	O_OUTPUT,
	O_RATE,
	O_ALLOW_LARGE,
	O_IPV4,
	O_IPV6
};

static const struct rp_cli_opt ping_opts[] = {
    [O_COUNT] = {"count", 'c', required_argument, "COUNT", "probes per target (default 1)"},
    [O_PERIOD] = {"period", 'p', required_argument, "MS",
		  "time between two probes of one target, ms (default 1000)"},
    [O_TIMEOUT] =
	{"timeout", 't', required_argument, "MS",
	 "a reply later than this is lost, ms (default 500; with -c the period, at most 2000)"},
    [O_INTERVAL] = {"interval", 'i', required_argument, "MS",
		    "least time between any two packets, ms; 0 = unpaced (as fping -i)"},
    [O_QUIET] = {"quiet", 'q', no_argument, NULL,
		 "no per-probe lines; with -c, fping's per-target summary on stderr"},
    [O_OUTPUT] = {"output", 'o', required_argument, "text|json",
		  "text (fping's format) or json (one object per target)"},
    [O_RATE] = {"rate", 0, required_argument, "PPS",
		"packets per second for the whole run (= --ping-rate-limit)", "ping_rate_limit"},
    [O_ALLOW_LARGE] = {"allow-large", 0, no_argument, NULL,
		       "allow CIDR targets larger than a /16 (= --allow-large-networks)",
		       "allow_large_networks"},
    [O_IPV4] = {"ipv4", '4', no_argument, NULL,
		"only IPv4: names resolve to IPv4 addresses, IPv6 targets are refused (as fping "
		"-4; = --address-family 4)"},
    [O_IPV6] = {"ipv6", '6', no_argument, NULL,
		"only IPv6: names resolve to IPv6 addresses, IPv4 targets are refused (as fping "
		"-6; = --address-family 6)"},
};

static void ms_opt(const struct rp_cli_opt *o, const char *arg, int64_t min, int64_t max,
		   int64_t *out, struct rp_diags *d)
{
	char flag[64], why[256];
	int64_t v;

	snprintf(flag, sizeof(flag), "-%c/--%s", o->short_name, o->name);
	if (rp_parse_int(arg, &v, why, sizeof(why)) < 0)
		rp_diags_add(d, RP_DIAG_ERROR, flag, NULL, "%s", why);
	else if (v < min || v > max)
		rp_diags_add(d, RP_DIAG_ERROR, flag, NULL, "%s is out of range (%lld..%lld)", arg,
			     (long long)min, (long long)max);
	else
		*out = v;
}

static void on_opt(void *ctx, const struct rp_cli_opt *o, const char *arg, struct rp_diags *d)
{
	struct ping_opts *p = ctx;

	switch (o - ping_opts) {
	case O_COUNT:
		ms_opt(o, arg, 1, 1000000, &p->count, d);
		p->count_given = true;
		break;
	case O_PERIOD:
		ms_opt(o, arg, 1, 86400000, &p->period_ms, d);
		break;
	case O_TIMEOUT:
		ms_opt(o, arg, 1, 3600000, &p->timeout_ms, d);
		break;
	case O_INTERVAL:
		ms_opt(o, arg, 0, 60000, &p->interval_ms, d);
		break;
	case O_QUIET:
		p->quiet = true;
		break;
	case O_IPV4:
	case O_IPV6:
		if (p->family != RP_ADDRFAM_BOTH &&
		    p->family != (o - ping_opts == O_IPV4 ? RP_ADDRFAM_4 : RP_ADDRFAM_6))
			rp_diags_add(d, RP_DIAG_ERROR, "-4/-6", NULL,
				     "-4 and -6 exclude each other");
		p->family = o - ping_opts == O_IPV4 ? RP_ADDRFAM_4 : RP_ADDRFAM_6;
		break;
	case O_OUTPUT:
		if (strcmp(arg, "json") == 0)
			p->json = true;
		else if (strcmp(arg, "text") == 0)
			p->json = false;
		else
			rp_diags_add(d, RP_DIAG_ERROR, "-o/--output", NULL,
				     "\"%s\" is not one of text, json", arg);
		break;
	}
}

/* Per-target tallies, indexed like the host space. */
struct tally {
	uint32_t xmt, rcv;
	uint64_t min_ns, max_ns, sum_ns;
};

/* fping 5.1's sprint_tm, so that times print exactly as fping prints them. */
static const char *fmt_ms(uint64_t ns, char *buf, size_t len)
{
	double t = (double)ns / 1e6;

	if (t < 1.0)
		snprintf(buf, len, "%.3f", t);
	else if (t < 10.0)
		snprintf(buf, len, "%.2f", t);
	else if (t < 100.0)
		snprintf(buf, len, "%.1f", t);
	else if (t < 1000000.0)
		snprintf(buf, len, "%.0f", t);
	else
		snprintf(buf, len, "%.3e", t);
	return buf;
}

static unsigned loss_pct(const struct tally *t)
{
	return t->xmt ? (unsigned)((t->xmt - t->rcv) * 100ull / t->xmt) : 0;
}

/* One line per probe, as fping -c prints it. */
static void print_probe(const struct ping_opts *p, int width, const char *name,
			const struct rp_probe_result *r, const struct tally *t)
{
	char a[16], b[16];

	if (r->success)
		printf("%-*s : [%u], %d bytes, %s ms (%s avg, %u%% loss)\n", width, name,
		       t->xmt - 1, RP_ICMP_PKT_LEN, fmt_ms(r->rtt_ns, a, sizeof(a)),
		       fmt_ms(t->sum_ns / t->rcv, b, sizeof(b)), loss_pct(t));
	else if (t->rcv)
		printf("%-*s : [%u], timed out (%s avg, %u%% loss)\n", width, name, t->xmt - 1,
		       fmt_ms(t->sum_ns / t->rcv, b, sizeof(b)), loss_pct(t));
	else
		printf("%-*s : [%u], timed out (NaN avg, %u%% loss)\n", width, name, t->xmt - 1,
		       loss_pct(t));
}

static void print_summary(FILE *out, int width, const char *name, const struct tally *t)
{
	char a[16], b[16], c[16];

	fprintf(out, "%-*s : xmt/rcv/%%loss = %u/%u/%u%%", width, name, t->xmt, t->rcv,
		loss_pct(t));
	if (t->rcv)
		fprintf(out, ", min/avg/max = %s/%s/%s", fmt_ms(t->min_ns, a, sizeof(a)),
			fmt_ms(t->sum_ns / t->rcv, b, sizeof(b)), fmt_ms(t->max_ns, c, sizeof(c)));
	fputc('\n', out);
}

static void print_json(int width, const char *name, const struct rp_ip *addr, const struct tally *t)
{
	char ip[RP_IP_STRLEN];

	rp_ip_format(addr, ip);
	/* A target given by name says which address answered for it. */
	printf("{\"target\":\"%s\",", name);
	if (strcmp(name, ip) != 0)
		printf("\"ip\":\"%s\",", ip);
	printf("\"sent\":%u,\"received\":%u,\"loss_pct\":%u", t->xmt, t->rcv, loss_pct(t));
	if (t->rcv)
		printf(",\"rtt_ms\":{\"min\":%.3f,\"avg\":%.3f,\"max\":%.3f}", t->min_ns / 1e6,
		       (double)t->sum_ns / t->rcv / 1e6, t->max_ns / 1e6);
	printf("}\n");
}

struct ping_run {
	const struct ping_opts *p;
	const struct rp_hosts *h;
	const char *const *labels; /* per network: the name it was given by, or NULL */
	struct tally *t;
	int width;
	uint64_t next;
	uint64_t alive;
	struct rp_spsc *to_writer; /* results on their way to InfluxDB, or NULL */
};

/* How target i is shown: the name it was given by, else its address (into buf). */
static const char *target_name(const struct rp_hosts *h, const char *const *labels, uint64_t i,
			       char buf[RP_IP_STRLEN])
{
	struct rp_ip a;

	if (labels) {
		const char *l = labels[rp_hosts_net_of(h, i)];

		if (l)
			return l;
	}
	a = rp_hosts_at(h, i);
	return rp_ip_format(&a, buf);
}

/* Hands a result to the writer thread. A one-shot command may wait for room: nothing
 * it measured is dropped. */
static void forward(struct rp_spsc *ring, const struct rp_probe_result *res)
{
	const struct timespec pause = {0, 200000};

	while (rp_spsc_try_push(ring, res, 1) == 0)
		nanosleep(&pause, NULL);
}

static bool next_target(void *arg, struct rp_shard_dev *d)
{
	struct ping_run *r = arg;

	if (r->next == r->h->count)
		return false;
	*d = (struct rp_shard_dev){
	    .addr = rp_hosts_at(r->h, r->next),
	    .id = (uint32_t)r->next,
	    .interval_ms = (uint32_t)r->p->period_ms,
	    .count = (uint32_t)r->p->count,
	    .immediate = true,
	};
	r->next++;
	return true;
}

static bool take_result(void *arg, const struct rp_probe_result *res)
{
	struct ping_run *r = arg;
	const struct ping_opts *p = r->p;
	struct tally *x = &r->t[res->id];

	x->xmt++;
	if (r->to_writer)
		forward(r->to_writer, res);
	if (res->success) {
		if (!x->rcv || res->rtt_ns < x->min_ns)
			x->min_ns = res->rtt_ns;
		if (res->rtt_ns > x->max_ns)
			x->max_ns = res->rtt_ns;
		x->sum_ns += res->rtt_ns;
		x->rcv++;
	}
	if (p->count_given && !p->quiet && !p->json) {
		char name[RP_IP_STRLEN];

		print_probe(p, r->width, target_name(r->h, r->labels, res->id, name), res, x);
	}
	if (x->xmt < p->count)
		return false;
	r->alive += x->rcv > 0;
	if (!p->count_given && !p->quiet && !p->json) {
		char name[RP_IP_STRLEN];

		printf("%s is %s\n", target_name(r->h, r->labels, res->id, name),
		       x->rcv ? "alive" : "unreachable");
	}
	return true;
}

/* Flushes (or spools) every point within shutdown_timeout and says where they went.
 * -EIO when some were neither written nor spooled. */
static int report_writer(struct rp_writer *w, const struct rp_conf *c)
{
	struct rp_writer_stats ws;
	uint64_t lost;
	char url[1024];

	rp_writer_stop(w, c->shutdown_timeout);
	rp_writer_stats(w, &ws);
	rp_url_redact(c->influxdb.url, url, sizeof(url));
	lost = ws.dropped_pool + ws.points_rejected + ws.dropped_spool_overflow +
	       ws.dropped_spool_corrupt + ws.dropped_no_spool;
	if (ws.points_written == ws.points_in) {
		rp_log(RP_LOG_INFO, "points written", "points=%llu url=%s",
		       (unsigned long long)ws.points_written, url);
		return 0;
	}
	fprintf(stderr,
		"ringprobe ping: %llu of %llu points written to %s; %llu spooled in %s, %llu "
		"lost\n",
		(unsigned long long)ws.points_written, (unsigned long long)ws.points_in, url,
		(unsigned long long)ws.spool_points, c->spool.dir ? c->spool.dir : "(no spool)",
		(unsigned long long)lost);
	return lost ? -EIO : 0;
}

static int run_ping(const struct ping_opts *p, const struct rp_conf *c,
		    const struct rp_cidr_list *targets, const char *const *labels)
{
	struct rp_hosts h;
	struct tally *t;
	struct rp_prober *pr;
	struct rp_prober_conf pc;
	struct rp_shard_stats st;
	uint32_t *per_shard;
	struct ping_run run = {0};
	struct rp_writer *w = NULL;
	char why[512];
	uint64_t alive = 0;
	uint32_t cap = 0;
	int width = 0, ret; /* fping pads to the longest target as given */

	rp_hosts_init(&h, targets->v, targets->n);
	t = rp_xcalloc(h.count, sizeof(*t));
	memset(&pc, 0, sizeof(pc));
	/* -i is the least time between any two packets: one token bucket keeps it, one
	 * per shard would not (and at most 1,000 packets/s needs no second thread). */
	pc.shards =
	    p->interval_ms > 0 && c->shards == 0 ? 1 : rp_prober_shards_for(c->shards, h.count);
	/* Every target with more than one probe stays in its shard for the whole run;
	 * single probes stream through a bounded window. */
	per_shard = rp_xcalloc(pc.shards, sizeof(*per_shard));
	for (uint64_t i = 0; i < h.count; i++) {
		struct rp_ip a = rp_hosts_at(&h, i);
		char buf[RP_IP_STRLEN];
		const char *name = target_name(&h, labels, i, buf);

		if ((int)strlen(name) > width)
			width = (int)strlen(name);
		per_shard[rp_prober_route(&a, pc.shards)]++;
	}
	for (unsigned i = 0; i < pc.shards; i++)
		if (per_shard[i] > cap)
			cap = per_shard[i];
	pc.weights = per_shard;
	if (p->count == 1 && cap > 65536)
		cap = 65536;
	pc.capacity = cap ? cap : 1;
	pc.timeout_ns = (uint64_t)p->timeout_ms * 1000000ull;
	if (p->interval_ms >= 0) {
		pc.rate_pps = p->interval_ms ? 1000.0 / (double)p->interval_ms : 0;
		pc.burst = 1;
	} else {
		pc.rate_pps = c->ping_rate_limit;
		pc.burst = (double)c->ping_burst_limit;
	}
	pc.tick_ns = p->period_ms < 20 ? 1000000ull : 5000000ull;
	/* -i's bucket holds one packet: a shard sleeping a tick longer than the interval
	 * would waste the tokens of that sleep and space every packet a tick apart. */
	if (p->interval_ms > 0 && (uint64_t)p->interval_ms * 1000000ull < pc.tick_ns)
		pc.tick_ns = (uint64_t)p->interval_ms * 1000000ull;
	/* With --influxdb-url every result is also written as a `ping` point. */
	if (c->influxdb.url && *c->influxdb.url) {
		rp_spsc_create(&run.to_writer, 65536, sizeof(struct rp_probe_result));
		if (rp_writer_create(&w, c, &run.to_writer, 1, NULL, why, sizeof(why)) < 0 ||
		    rp_writer_start(w) < 0) {
			char url[1024];

			rp_url_redact(c->influxdb.url, url, sizeof(url));
			fprintf(stderr, "ringprobe ping: cannot write to %s: %s\n", url, why);
			ret = RP_EXIT_RUNTIME;
			goto out;
		}
	}
	ret = rp_cli__prober("ping", c, &pc, &pr);
	if (ret != RP_EXIT_OK)
		goto out;
	run.p = p;
	run.h = &h;
	run.labels = labels;
	run.t = t;
	run.width = width;
	if (rp_prober_run(pr, next_target, take_result, NULL, &run) == -EIO) {
		rp_prober_stats(pr, &st);
		fprintf(stderr, "ringprobe ping: %llu results were lost (result ring full)\n",
			(unsigned long long)st.ring_drops);
	}
	alive = run.alive;
	fflush(stdout);
	rp_prober_stats(pr, &st);
	/* Summaries go out in one buffered stream, not one write per fprintf. */
	setvbuf(stderr, NULL, _IOFBF, 1 << 16);
	if (p->json) {
		for (uint64_t i = 0; i < h.count; i++) {
			struct rp_ip a = rp_hosts_at(&h, i);
			char buf[RP_IP_STRLEN];

			print_json(width, target_name(&h, labels, i, buf), &a, &t[i]);
		}
	} else if (p->count_given) {
		if (!p->quiet)
			fputc('\n', stderr);
		for (uint64_t i = 0; i < h.count; i++) {
			char buf[RP_IP_STRLEN];

			print_summary(stderr, width, target_name(&h, labels, i, buf), &t[i]);
		}
	}
	fflush(stderr);
	rp_log(RP_LOG_INFO, "ping done",
	       "targets=%llu alive=%llu sent=%llu replies=%llu timeouts=%llu late_sends=%llu "
	       "ring_drops=%llu",
	       (unsigned long long)h.count, (unsigned long long)alive,
	       (unsigned long long)st.probes_sent, (unsigned long long)st.replies,
	       (unsigned long long)st.timeouts, (unsigned long long)st.late_sends,
	       (unsigned long long)st.ring_drops);
	ret = alive == h.count ? RP_EXIT_OK : RP_EXIT_DOWN;
	rp_prober_destroy(pr);
	if (w && report_writer(w, c) < 0)
		ret = RP_EXIT_RUNTIME;
out:
	rp_writer_destroy(w);
	rp_spsc_destroy(run.to_writer);
	free(per_shard);
	free(t);
	rp_hosts_fini(&h);
	return ret;
}

/* fping's words for a target without an address (gai_strerror's, which fping prints). */
static const char *gai_words(enum rp_names_status s)
{
	switch (s) {
	case RP_NAMES_NXDOMAIN:
		return "Name or service not known";
	case RP_NAMES_NODATA:
		return "No address associated with hostname";
	default:
		return "Temporary failure in name resolution";
	}
}

/* How long `ping` waits for its names at start, all together. */
#define RESOLVE_TIMEOUT_MS 5000

/* The list to probe, in the order given: each name resolved to one address (as fping
 * takes the first, preferring IPv6 only where the host has an IPv6 route) and labelled
 * with the name; with -4/-6, addresses of the other family are left out. What has no
 * address is reported on stderr as fping reports it and counted in *missing. A failure
 * to start the resolver is RP_EXIT_RUNTIME. */
static int resolve_targets(const struct rp_conf *c, int family, const struct rp_cidr_list *in,
			   struct rp_cidr_list *out, char ***labels_out, size_t *missing)
{
	struct rp_names_conf nc = {0};
	struct rp_names_result *res = NULL;
	char **labels, why[512];
	size_t k = 0, cap = in->n + in->nnames + 1;
	int prefer = 4;

	*missing = 0;
	if (in->nnames) {
		int routed = rp_names_routed_family();

		nc.family = family == RP_ADDRFAM_4 ? 4 : family == RP_ADDRFAM_6 ? 6 : 0;
		nc.servers = c->dns.servers && *c->dns.servers ? c->dns.servers : NULL;
		nc.tries = 2;
		res = rp_xcalloc(in->nnames, sizeof(*res));
		if (rp_names_resolve_all(&nc, (const char *const *)in->names, in->nnames,
					 RESOLVE_TIMEOUT_MS, res, why, sizeof(why)) < 0) {
			fprintf(stderr, "ringprobe ping: cannot resolve names: %s\n", why);
			free(res);
			return RP_EXIT_RUNTIME;
		}
		if (routed == 6)
			prefer = 6;
		else if (routed == 0 && family != RP_ADDRFAM_4)
			prefer = 6;
	}
	out->v = rp_xcalloc(cap, sizeof(*out->v));
	out->line = rp_xcalloc(cap, sizeof(*out->line));
	labels = rp_xcalloc(cap, sizeof(*labels));
	for (size_t i = 0, j = 0; i <= in->n; i++) {
		for (; j < in->nnames && in->name_pos[j] == i; j++) {
			const struct rp_names_result *r = &res[j];
			const struct rp_ip *pick = NULL;

			for (uint32_t a = 0; a < r->n && r->status == RP_NAMES_OK; a++)
				if (!pick || ((rp_ip_is_v4(&r->addrs[a]) ? 4 : 6) == prefer &&
					      (rp_ip_is_v4(pick) ? 4 : 6) != prefer))
					pick = &r->addrs[a];
			if (!pick) {
				fprintf(stderr, "%s: %s\n", in->names[j],
					gai_words(r->status == RP_NAMES_OK ? RP_NAMES_NODATA
									   : r->status));
				++*missing;
				continue;
			}
			out->v[k] = (struct rp_cidr){*pick, rp_ip_is_v4(pick) ? 32 : 128};
			labels[k++] = rp_xstrdup(in->names[j]);
		}
		if (i == in->n)
			break;
		if ((family == RP_ADDRFAM_4 && !rp_ip_is_v4(&in->v[i].net)) ||
		    (family == RP_ADDRFAM_6 && rp_ip_is_v4(&in->v[i].net))) {
			char txt[RP_CIDR_STRLEN];

			rp_format_cidr(&in->v[i], true, txt, sizeof(txt));
			fprintf(stderr, "%s: Address family for hostname not supported\n", txt);
			++*missing;
			continue;
		}
		out->v[k++] = in->v[i];
	}
	out->n = k;
	*labels_out = labels;
	free(res);
	return RP_EXIT_OK;
}

int rp_cmd_ping(int argc, char **argv)
{
	struct ping_opts p = {.count = 1, .period_ms = 1000, .timeout_ms = -1, .interval_ms = -1};
	const struct rp_cli_cmd cmd = {
	    .name = "ping",
	    .usage = "[options] TARGET...",
	    .summary = "Probe each TARGET with ICMP echo COUNT times and print the results as "
		       "fping does.\nTARGET is an address (IPv4 or IPv6), a CIDR (every host "
		       "in it), a DNS name (its first address; -4/-6 choose the family) or @FILE "
		       "(one per line, # comments).\nWithout -i or --rate, packets are "
		       "paced by ping_rate_limit (default 20000/s).\nWith --influxdb-url (and "
		       "the v1 or v2 keys) every result is also written as a `ping` point.\n"
		       "Exit status: 0 every target answered, 1 some did not, 2 usage error, "
		       "3 runtime failure.",
	    .opts = ping_opts,
	    .nopts = RP_ARRAY_SIZE(ping_opts),
	    .purpose = RP_CONF_FOR_PING,
	    .on_opt = on_opt,
	    .ctx = &p,
	};
	struct rp_cli cli;
	struct rp_cidr_list targets = {0}, probed = {0};
	char **labels = NULL;
	size_t missing = 0;
	int ret, family;

	rp_cli__parse(&cmd, argc, argv, &cli);
	if (cli.help) {
		ret = RP_EXIT_OK;
		goto out;
	}
	if (cli.nargs == 0)
		rp_diags_add(
		    &cli.diags, RP_DIAG_ERROR, NULL, NULL,
		    "ping needs at least one TARGET (an address, a CIDR, a name or @FILE)");
	for (int i = 0; i < cli.nargs; i++)
		rp_targets_add_arg(&targets, cli.args[i], &cli.diags);
	for (size_t i = 0; i < targets.n; i++) {
		char txt[RP_CIDR_STRLEN];

		if (rp_cidr_host_bits(&targets.v[i]) <= RP_CIDR_SWEEP_HOST_BITS ||
		    cli.conf.allow_large_networks)
			continue;
		rp_format_cidr(&targets.v[i], true, txt, sizeof(txt));
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, txt, NULL,
			     "has %llu addresses, more than a %s; add --allow-large to probe it",
			     (unsigned long long)rp_cidr_size(&targets.v[i]),
			     rp_ip_is_v4(&targets.v[i].net) ? "/16" : "/112");
	}
	/* fping's default: 500 ms, or with -c the period up to 2 s. */
	if (p.timeout_ms < 0)
		p.timeout_ms = !p.count_given ? 500 : p.period_ms < 2000 ? p.period_ms : 2000;
	if (p.timeout_ms > p.period_ms && p.count > 1)
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, "-t/--timeout", NULL,
			     "%lld ms is longer than the period -p %lld ms",
			     (long long)p.timeout_ms, (long long)p.period_ms);
	ret = rp_cli__report(&cmd, &cli);
	if (ret == RP_EXIT_OK) {
		/* One-shot output is parsed by scripts: only warnings and errors are logged
		 * unless --log-level says otherwise. */
		rp_log_setup(cli.conf.log.format,
			     rp_conf_is_set(&cli.conf, rp_conf_key_find("log.level"))
				 ? cli.conf.log.level
				 : RP_LOG_WARN);
		family = p.family != RP_ADDRFAM_BOTH ? p.family : cli.conf.address_family;
		ret = resolve_targets(&cli.conf, family, &targets, &probed, &labels, &missing);
		if (ret == RP_EXIT_OK && probed.n)
			ret = run_ping(&p, &cli.conf, &probed, (const char *const *)labels);
		/* As fping: a target without an address makes the exit status 2, after the
		 * others were probed. */
		if (missing && ret != RP_EXIT_RUNTIME)
			ret = RP_EXIT_USAGE;
	}
out:
	for (size_t i = 0; labels && i < probed.n; i++)
		free(labels[i]);
	free(labels);
	rp_targets_free(&probed);
	rp_targets_free(&targets);
	rp_cli__fini(&cli);
	return ret;
}
