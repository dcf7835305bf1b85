/* `ringprobe ping` and ringprobe invoked as `fping`: probe targets and print what fping
 * 5.1 prints. The options are fping's (fping_opts.c), the lines fping's (fping_out.c);
 * this file parses `ringprobe ping`'s command line and runs both: targets, names, the
 * engine, the retries, -l, -Q reports, the final summaries and the exit status. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"
#include "fping.h"
#include "ringprobe/addr.h"
#include "ringprobe/hash.h"
#include "ringprobe/hosts.h"
#include "ringprobe/log.h"
#include "ringprobe/names.h"
#include "ringprobe/prober.h"
#include "ringprobe/spsc.h"
#include "ringprobe/targets.h"
#include "ringprobe/writer.h"
#include "ringprobe/xalloc.h"

/* ------------------------------------------------------------------ the command line */

enum { O_OUTPUT = 0x100, O_RATE, O_ALLOW_LARGE };

/* fping's options (short letter = id), then ringprobe's own long ones. */
static const struct rp_cli_opt ping_opts[] = {
    {"count", 'c', required_argument, "N", "count mode: send N probes to each target", NULL},
    {"vcount", 'C', required_argument, "N", "as -c, and the summary lists every probe's time",
     NULL},
    {"period", 'p', required_argument, "MS",
     "time between two probes of one target, ms (default 1000)", NULL},
    {"timeout", 't', required_argument, "MS",
     "a reply later than this is lost, ms (default 500;\nwith -c/-C/-l the period, at most "
     "2000)",
     NULL},
    {"interval", 'i', required_argument, "MS",
     "least time between any two packets, ms; 0 = unpaced\n(default: ping_rate_limit)", NULL},
    {"retry", 'r', required_argument, "N",
     "without -c/-l: probe a target that did not answer\nagain, up to N times (default 3)", NULL},
    {"backoff", 'B', required_argument, "F",
     "each retry waits F times longer than the one before\n(1.0..5.0, default 1.5)", NULL},
    {"loop", 'l', no_argument, NULL, "probe until interrupted (Ctrl-C), then summarise", NULL},
    {"quiet", 'q', no_argument, NULL, "no per-probe lines; with -c, the summary only", NULL},
    {"squiet", 'Q', required_argument, "SECS", "as -q, and an interval summary every SECS seconds",
     NULL},
    {"size", 'b', required_argument, "BYTES", "ICMP payload bytes (default 56)", NULL},
    {"ttl", 'H', required_argument, "N", "IP TTL / IPv6 hop limit (1..255)", NULL},
    {"tos", 'O', required_argument, "N", "type of service (IPv4 TOS / IPv6 traffic class)", NULL},
    {"dontfrag", 'M', no_argument, NULL, "set Don't Fragment", NULL},
    {"src", 'S', required_argument, "IP", "source address", NULL},
    {"iface", 'I', required_argument, "IFACE", "bind to this interface", NULL},
    {"fwmark", 'k', required_argument, "MARK", "firewall mark (SO_MARK)", NULL},
    {"random", 'R', no_argument, NULL, "random payload bytes", NULL},
    {"ipv4", '4', no_argument, NULL,
     "only IPv4: names resolve to IPv4 addresses, IPv6\ntargets are refused (= "
     "--address-family 4)",
     NULL},
    {"ipv6", '6', no_argument, NULL,
     "only IPv6: names resolve to IPv6 addresses, IPv4\ntargets are refused (= "
     "--address-family 6)",
     NULL},
    {"all", 'm', no_argument, NULL, "probe every address of a name, not the first", NULL},
    {"alive", 'a', no_argument, NULL, "list the targets that answered", NULL},
    {"unreach", 'u', no_argument, NULL, "list the targets that did not answer", NULL},
    {"addr", 'A', no_argument, NULL, "show targets by address", NULL},
    {"rdns", 'd', no_argument, NULL, "show targets by name (reverse DNS lookup)", NULL},
    {"name", 'n', no_argument, NULL, "show targets given as addresses by name\n(reverse DNS)",
     NULL},
    {"timestamp", 'D', no_argument, NULL, "print a timestamp before each per-probe line", NULL},
    {"elapsed", 'e', no_argument, NULL, "show the round trip on \"is alive\" lines", NULL},
    {"outage", 'o', no_argument, NULL, "show the outage time (lost probes x period)", NULL},
    {"stats", 's', no_argument, NULL, "print fping's final statistics", NULL},
    {"reachable", 'x', required_argument, "N", "say whether at least N targets answered", NULL},
    {"fast-reachable", 'X', required_argument, "N", "as -x, and stop as soon as N targets answered",
     NULL},
    {"netdata", 'N', no_argument, NULL, "with -Q: netdata's format on standard output", NULL},
    {"file", 'f', required_argument, "FILE",
     "read targets from FILE, one per line (- = standard\ninput, also read without TARGET)", NULL},
    {"generate", 'g', no_argument, NULL,
     "TARGETs are START END (IPv4) or one CIDR: every\naddress in it", NULL},
    {"output", 0, required_argument, "text|json",
     "text (fping's format) or json (one object per\ntarget)", NULL},
    {"rate", 0, required_argument, "PPS",
     "packets per second for the whole run\n(= --ping-rate-limit)", "ping_rate_limit"},
    {"allow-large", 0, no_argument, NULL,
     "allow CIDR targets larger than a /16 and -g beyond\n100,000 addresses (= "
     "--allow-large-networks)",
     "allow_large_networks"},
};

static void on_opt(void *ctx, const struct rp_cli_opt *o, const char *arg, struct rp_diags *d)
{
	struct rp_fping *f = ctx;
	char flag[64], msg[512];
	int r;

	if (!o->short_name) { /* --output */
		if (strcmp(arg, "json") == 0 || strcmp(arg, "text") == 0)
			f->json = arg[0] == 'j';
		else
			rp_diags_add(d, RP_DIAG_ERROR, "--output", NULL,
				     "\"%s\" is not one of text, json", arg);
		return;
	}
	snprintf(flag, sizeof(flag), "-%c/--%s", o->short_name, o->name);
	/* fping reads integers with atoi ("3x" is 3); `ringprobe ping` wants them whole. */
	if (strchr("cCrbHxXk", o->short_name)) {
		int64_t v;

		if (rp_parse_int(arg, &v, msg, sizeof(msg)) < 0) {
			rp_diags_add(d, RP_DIAG_ERROR, flag, NULL, "%s", msg);
			return;
		}
		if (v < 0 || v > UINT32_MAX) {
			rp_diags_add(d, RP_DIAG_ERROR, flag, NULL, "%s is out of range", arg);
			return;
		}
	}
	r = rp_fping_option(f, o->short_name, arg, msg, sizeof(msg));
	if (r == RP_FPING_USAGE)
		rp_diags_add(d, RP_DIAG_ERROR, flag, NULL, "\"%s\" is not a valid value", arg);
	else if (r != RP_FPING_OK)
		rp_diags_add(d, RP_DIAG_ERROR, flag, NULL, "%s", msg);
}

/* ---------------------------------------------------------------------- the targets */

static void add_net(struct rp_cidr_list *l, struct rp_cidr c)
{
	if ((l->n & (l->n - 1)) == 0) {
		size_t cap = l->n ? 2 * l->n : 1;

		l->v = rp_xrealloc(l->v, cap * sizeof(*l->v));
		l->line = rp_xrealloc(l->line, cap * sizeof(*l->line));
	}
	l->line[l->n] = 0;
	l->v[l->n++] = c;
}

static void add_host(struct rp_cidr_list *l, const struct rp_ip *a)
{
	add_net(l, (struct rp_cidr){*a, rp_ip_is_v4(a) ? 32 : 128});
}

/* fping says nothing of a target without an address under -q; `ringprobe ping` does. */
static bool hush(const struct rp_fping *f)
{
	return f->quiet && f->fping;
}

/* fping's add_name before the lookup: an address, a name, or what can be neither. */
static void add_target(const struct rp_fping *f, struct rp_cidr_list *l, const char *s,
		       size_t *noaddr, struct rp_diags *d)
{
	struct rp_ip a;

	if (!f->fping) { /* ringprobe ping: CIDRs and @FILE too */
		rp_targets_add_arg(l, s, d);
		return;
	}
	if (rp_ip_parse(s, &a)) {
		add_host(l, &a);
	} else if (rp_name_valid(s) && strlen(s) <= RP_NAMES_MAX_LEN) {
		rp_cidr_list_add_name(l, s, 0);
	} else {
		if (!hush(f))
			fprintf(stderr, "%s: Name or service not known\n", s);
		++*noaddr;
	}
}

/* -g: fping's add_cidr and add_range, its messages included. RP_EXIT_OK or 1. */
static int generate(const struct rp_fping *f, struct rp_cidr_list *l, char **args, int nargs)
{
	struct rp_ip a, b;
	char *copy, *slash;
	unsigned long mask;
	uint64_t first, last;

	if (nargs == 1) {
		copy = rp_xstrdup(args[0]);
		slash = strchr(copy, '/');
		if (!slash) {
			free(copy);
			rp_fping_usage(f, stderr);
			return 1;
		}
		*slash = '\0';
		mask = strtoul(slash + 1, NULL, 10);
		if (!rp_ip_parse(copy, &a)) {
			fprintf(stderr, "%s, can't parse address %s: Name or service not known\n",
				f->prog, copy);
			free(copy);
			return 1;
		}
		free(copy);
		if (!rp_ip_is_v4(&a)) {
			fprintf(stderr, "%s: -g works only with IPv4 addresses\n", f->prog);
			return 1;
		}
		if (mask < 1 || mask > 32) {
			fprintf(stderr, "%s: netmask must be between 1 and 32 (is: %s)\n", f->prog,
				strchr(args[0], '/') + 1);
			return 1;
		}
		first = rp_ip_to_v4(&a) & (uint32_t)(0xffffffffull << (32 - mask));
		last = first + (1ull << (32 - mask)) - 1;
		if (mask < 31) {
			first++;
			last--;
		}
	} else if (nargs == 2) {
		for (int i = 0; i < 2; i++) {
			if (!rp_ip_parse(args[i], i ? &b : &a)) {
				fprintf(stderr,
					"%s: can't parse address %s: Name or service not known\n",
					f->prog, args[i]);
				return 1;
			}
			if (!rp_ip_is_v4(i ? &b : &a)) {
				fprintf(stderr, "%s: -g works only with IPv4 addresses\n", f->prog);
				return 1;
			}
		}
		first = rp_ip_to_v4(&a);
		last = rp_ip_to_v4(&b);
	} else {
		rp_fping_usage(f, stderr);
		return 1;
	}
	/* fping limits a range to 100,000 addresses; ringprobe a CIDR too, unless
	 * --allow-large. */
	if (last > first + RP_FPING_MAX_GENERATE && !f->allow_large) {
		fprintf(stderr, "%s: -g parameter generates too many addresses\n", f->prog);
		return 1;
	}
	for (uint64_t v = first; v <= last; v++) {
		struct rp_ip h = rp_ip_v4((uint32_t)v);

		add_host(l, &h);
	}
	return RP_EXIT_OK;
}

/* -f FILE, or standard input: fping reads each line's first word, # starts a comment. */
static int read_file(const struct rp_fping *f, struct rp_cidr_list *l, size_t *noaddr,
		     struct rp_diags *d)
{
	const char *file = f->file ? f->file : "-";
	FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	char line[132], host[132];

	if (!in) {
		fprintf(stderr, "%s: fopen : %s\n", f->prog, strerror(errno));
		return 4;
	}
	while (fgets(line, sizeof(line), in)) {
		if (sscanf(line, "%131s", host) != 1 || !*host || host[0] == '#')
			continue;
		add_target(f, l, host, noaddr, d);
	}
	if (in != stdin)
		fclose(in);
	return RP_EXIT_OK;
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

/* How long names (and -n/-d's reverse lookups) may take at start, all together. */
#define RESOLVE_TIMEOUT_MS 5000

/* The list to probe, in the order given: each name resolved to one address (as fping
 * takes the first, preferring IPv6 only where the host has an IPv6 route), or every one
 * with -m, labelled with the name; with -4/-6, addresses of the other family are left
 * out. What has no address is reported on stderr as fping reports it and counted in
 * *missing. A failure to start the resolver is RP_EXIT_RUNTIME. */
static int resolve_targets(const struct rp_fping *f, const struct rp_conf *c, int family,
			   const struct rp_cidr_list *in, struct rp_cidr_list *out,
			   char ***labels_out, size_t *missing)
{
	struct rp_names_conf nc = {0};
	struct rp_names_result *res = NULL;
	char **labels, why[512];
	size_t k = 0, cap = in->n + 1;
	int prefer = 4;

	for (size_t j = 0; j < in->nnames; j++)
		cap += f->all ? RP_NAMES_MAX_ADDRS : 1;
	if (in->nnames) {
		int routed = rp_names_routed_family();

		nc.family = family == RP_ADDRFAM_4 ? 4 : family == RP_ADDRFAM_6 ? 6 : 0;
		nc.servers = c->dns.servers && *c->dns.servers ? c->dns.servers : NULL;
		nc.tries = 2;
		res = rp_xcalloc(in->nnames, sizeof(*res));
		if (rp_names_resolve_all(&nc, (const char *const *)in->names, in->nnames,
					 RESOLVE_TIMEOUT_MS, res, why, sizeof(why)) < 0) {
			fprintf(stderr, "%s: cannot resolve names: %s\n", f->prog, why);
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

			for (uint32_t a = 0; a < r->n && r->status == RP_NAMES_OK; a++) {
				if (f->all) {
					out->v[k] = (struct rp_cidr){
					    r->addrs[a], rp_ip_is_v4(&r->addrs[a]) ? 32 : 128};
					labels[k++] = rp_xstrdup(in->names[j]);
					pick = &r->addrs[a];
					continue;
				}
				if (!pick || ((rp_ip_is_v4(&r->addrs[a]) ? 4 : 6) == prefer &&
					      (rp_ip_is_v4(pick) ? 4 : 6) != prefer))
					pick = &r->addrs[a];
			}
			if (!pick) {
				if (!hush(f))
					fprintf(stderr, "%s: %s\n", in->names[j],
						gai_words(r->status == RP_NAMES_OK ? RP_NAMES_NODATA
										   : r->status));
				++*missing;
				continue;
			}
			if (f->all)
				continue;
			out->v[k] = (struct rp_cidr){*pick, rp_ip_is_v4(pick) ? 32 : 128};
			labels[k++] = rp_xstrdup(in->names[j]);
		}
		if (i == in->n)
			break;
		if ((family == RP_ADDRFAM_4 && !rp_ip_is_v4(&in->v[i].net)) ||
		    (family == RP_ADDRFAM_6 && rp_ip_is_v4(&in->v[i].net))) {
			char txt[RP_CIDR_STRLEN];

			rp_format_cidr(&in->v[i], true, txt, sizeof(txt));
			if (!hush(f))
				fprintf(stderr, "%s: Address family for hostname not supported\n",
					txt);
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

static bool single(const struct rp_cidr *c)
{
	return rp_cidr_host_bits(c) == 0;
}

/* -A, -n, -d: what each single-address target is shown as, as fping's add_name builds
 * it ("name", "address", "name (address)"); reverse lookups through c-ares, with the
 * configured dns.servers or the system's configuration. */
static void display_names(const struct rp_fping *f, const struct rp_conf *c,
			  const struct rp_cidr_list *l, char **labels)
{
	struct rp_ip *want = NULL;
	char **rev = NULL, why[256];
	size_t *at = NULL, n = 0;

	if (!f->addr && !f->name && !f->rdns)
		return;
	if (f->name || f->rdns) {
		want = rp_xcalloc(l->n + 1, sizeof(*want));
		at = rp_xcalloc(l->n + 1, sizeof(*at));
		rev = rp_xcalloc(l->n + 1, sizeof(*rev));
		for (size_t i = 0; i < l->n; i++) {
			/* -n looks up only the targets given as addresses; -d every one */
			if (single(&l->v[i]) && (f->rdns || !labels[i])) {
				at[n] = i;
				want[n++] = l->v[i].net;
			}
		}
		if (n &&
		    rp_names_reverse_all(c->dns.servers && *c->dns.servers ? c->dns.servers : NULL,
					 want, n, RESOLVE_TIMEOUT_MS, rev, why, sizeof(why)) < 0) {
			fprintf(stderr, "%s: cannot look up names: %s\n", f->prog, why);
			memset(rev, 0, n * sizeof(*rev));
		}
	}
	for (size_t i = 0, j = 0; i < l->n; i++) {
		char addr[RP_IP_STRLEN], *print, *host;

		if (!single(&l->v[i]))
			continue;
		rp_ip_format(&l->v[i].net, addr);
		print = labels[i] ? labels[i] : addr;
		if (j < n && at[j] == i) {
			print = rev[j] ? rev[j] : addr;
			j++;
		}
		if (f->addr && (f->name || f->rdns)) {
			size_t len = strlen(print) + strlen(addr) + 4;

			host = rp_xmalloc(len);
			snprintf(host, len, "%s (%s)", print, addr);
		} else {
			host = rp_xstrdup(f->addr ? addr : print);
		}
		free(labels[i]);
		labels[i] = host;
	}
	for (size_t j = 0; j < n; j++)
		free(rev[j]);
	free(rev);
	free(at);
	free(want);
}

/* ---------------------------------------------------------------------------- the run */

static volatile sig_atomic_t g_interrupt, g_snapshot;

static void on_signal(int sig)
{
	if (sig == SIGINT)
		g_interrupt = 1;
	else
		g_snapshot = 1;
}

struct retry {
	uint64_t due_ns;
	uint32_t id;
};

struct ping_run {
	struct rp_fping *f;
	const struct rp_hosts *h;
	char *const *labels; /* per network: how it is shown, or NULL (its address) */
	struct rp_fping_host *t;
	uint8_t *tries; /* without -c/-l: probes sent to each target */
	uint64_t *same; /* find_same() */
	uint8_t *dup;
	int width;
	unsigned bytes;
	uint64_t next;
	struct retry *heap; /* retries waiting for their time, earliest first */
	size_t nheap;
	uint64_t active; /* targets offered and not finished */
	bool stop;
	struct rp_fping_global g;
	struct rp_spsc *to_writer; /* results on their way to InfluxDB, or NULL */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void heap_push(struct ping_run *r, struct retry x)
{
	size_t i = r->nheap++;

	while (i) {
		size_t p = (i - 1) / 2;

		if (r->heap[p].due_ns <= x.due_ns)
			break;
		r->heap[i] = r->heap[p];
		i = p;
	}
	r->heap[i] = x;
}

static struct retry heap_pop(struct ping_run *r)
{
	struct retry top = r->heap[0], last = r->heap[--r->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= r->nheap)
			break;
		if (c + 1 < r->nheap && r->heap[c + 1].due_ns < r->heap[c].due_ns)
			c++;
		if (last.due_ns <= r->heap[c].due_ns)
			break;
		r->heap[i] = r->heap[c];
		i = c;
	}
	if (r->nheap)
		r->heap[i] = last;
	return top;
}

/* How target i is shown: its label, else its address (into buf). */
static const char *target_name(const struct ping_run *r, uint64_t i, char buf[RP_IP_STRLEN])
{
	struct rp_ip a;

	if (r->labels) {
		const char *l = r->labels[rp_hosts_net_of(r->h, i)];

		if (l)
			return l;
	}
	a = rp_hosts_at(r->h, i);
	return rp_ip_format(&a, buf);
}

/* The next probe to offer: a retry whose time has come, else the next target. */
static bool next_probe(struct ping_run *r, uint64_t now, struct rp_shard_dev *d)
{
	const struct rp_fping *f = r->f;
	uint64_t id;

	while (r->dup && r->next < r->h->count && r->dup[r->next])
		r->next++;
	if (r->nheap && r->heap[0].due_ns <= now)
		id = heap_pop(r).id;
	else if (r->next < r->h->count)
		id = r->next++;
	else
		return false;
	*d = (struct rp_shard_dev){
	    .addr = rp_hosts_at(r->h, id),
	    .id = (uint32_t)id,
	    .interval_ms = (uint32_t)(f->period_ns / 1000000),
	    .count = f->loop	     ? 0
		     : f->count_flag ? f->count
				     : 1,
	    .immediate = true,
	};
	if (!d->interval_ms)
		d->interval_ms = 1;
	if (r->tries)
		r->tries[id]++;
	return true;
}

/* Hands a result to the writer thread. A one-shot command may wait for room: nothing
 * it measured is dropped. */
static void forward(struct rp_spsc *ring, const struct rp_probe_result *res)
{
	const struct timespec pause = {0, 200000};

	while (rp_spsc_try_push(ring, res, 1) == 0)
		nanosleep(&pause, NULL);
}

/* One result for target id, as fping's wait_for_reply and main_loop take a reply or a
 * timeout: its counts, its lines. */
static void account(struct ping_run *r, uint64_t id, bool ok, int64_t ns)
{
	struct rp_fping *f = r->f;
	struct rp_fping_host *x = &r->t[id];
	uint32_t seq = f->count_flag || f->loop ? x->sent : 0;
	char buf[RP_IP_STRLEN], tm[16];
	const char *host;

	rp_fping_stats_add(x, seq, ok, ns);
	r->g.sent++;
	if (!ok) {
		r->g.timeouts++;
	} else {
		r->g.received++;
		if (!r->g.max || ns > r->g.max)
			r->g.max = ns;
		if (!r->g.min || ns < r->g.min)
			r->g.min = ns;
		r->g.sum += ns;
		r->g.replies++;
	}
	if (ok && x->recv == 1) {
		r->g.alive++;
		if (f->verbose || f->alive) {
			host = target_name(r, id, buf);
			printf("%s%s", host, f->verbose ? " is alive" : "");
			if (f->elapsed)
				printf(" (%s ms)", rp_fping_tm(ns, tm));
			putchar('\n');
		}
		if (f->fast_reachable && r->g.alive >= f->fast_reachable)
			r->stop = true;
	}
	if (f->per_recv && !f->json) {
		host = target_name(r, id, buf);
		rp_fping_print_probe(f, stdout, r->width, host, x, seq, ok, ns, r->bytes);
	}
}

/* A result from the engine: for its target and every later target with the same
 * address (probed once for all of them: the engine holds an address once). True when
 * it was the target's last. */
static bool take_result(struct ping_run *r, const struct rp_probe_result *res, uint64_t now)
{
	struct rp_fping *f = r->f;
	bool ok = res->success;

	if (r->to_writer)
		forward(r->to_writer, res);
	if (RP_UNLIKELY(res->error)) {
		/* fping's decode_icmp_ipv4: a warning line, counted as other ICMP; the
		 * echo then fails as a timeout does (fping's times out later). */
		char buf[RP_IP_STRLEN];

		r->g.other++;
		if (!f->quiet && !f->json)
			rp_fping_print_icmp_error(stderr, target_name(r, res->id, buf), res,
						  !rp_ip_is_v4(&res->addr));
	}
	account(r, res->id, ok, (int64_t)res->rtt_ns);
	for (uint64_t j = r->same ? r->same[res->id] : 0; j; j = r->same[j - 1])
		account(r, j - 1, ok, (int64_t)res->rtt_ns);
	if (f->loop)
		return false;
	if (f->count_flag)
		return r->t[res->id].sent >= f->count;
	if (ok || r->tries[res->id] > f->retry)
		return true;
	/* fping waits timeout x backoff^k for its k-th retry, sent at once; the engine's
	 * timeout is one for all, so the retry goes out later by the difference and the
	 * whole takes as long. */
	{
		double wait = (double)f->timeout_ns, extra;

		for (unsigned k = 0; k < r->tries[res->id]; k++)
			wait *= f->backoff;
		extra = wait - (double)f->timeout_ns;
		heap_push(r, (struct retry){now + (uint64_t)(extra > 0 ? extra : 0), res->id});
	}
	return true;
}

/* Targets that share an address with an earlier one: same[i] = 1 + the next target
 * with i's address (0: none), dup[i] set for every target but the first of an address.
 * Both stay NULL when every address is distinct. */
static void find_same(struct ping_run *r)
{
	uint64_t n = r->h->count, size = 16;
	uint64_t *slot, *last;

	while (size < 2 * n)
		size *= 2;
	slot = rp_xcalloc(size, sizeof(*slot));
	last = rp_xcalloc(n, sizeof(*last));
	for (uint64_t i = 0; i < n; i++) {
		struct rp_ip a = rp_hosts_at(r->h, i);
		uint64_t k = rp_ip_hash32(&a) & (size - 1);

		for (; slot[k]; k = (k + 1) & (size - 1)) {
			struct rp_ip b = rp_hosts_at(r->h, slot[k] - 1);

			if (rp_ip_eq(&a, &b))
				break;
		}
		if (!slot[k]) {
			slot[k] = i + 1;
			last[i] = i;
			continue;
		}
		if (!r->same) {
			r->same = rp_xcalloc(n, sizeof(*r->same));
			r->dup = rp_xcalloc(n, 1);
		}
		/* append i to the chain of the first target with this address */
		r->same[last[slot[k] - 1]] = i + 1;
		last[slot[k] - 1] = i;
		r->dup[i] = 1;
	}
	free(last);
	free(slot);
}

static void report(struct ping_run *r, bool first)
{
	struct rp_fping *f = r->f;
	char buf[RP_IP_STRLEN];

	if (f->netdata) {
		for (uint64_t i = 0; i < r->h->count; i++)
			rp_fping_print_netdata(f, stdout, target_name(r, i, buf),
					       target_name(r, i, buf), &r->t[i], first);
		fflush(stdout);
		return;
	}
	if (f->verbose || f->per_recv)
		fputc('\n', stderr);
	rp_fping_print_clock(stderr);
	for (uint64_t i = 0; i < r->h->count; i++)
		rp_fping_print_split(f, stderr, r->width, target_name(r, i, buf), &r->t[i]);
	fflush(stderr);
}

static void print_json(const char *name, const struct rp_ip *addr, const struct rp_fping_host *t)
{
	char ip[RP_IP_STRLEN];

	rp_ip_format(addr, ip);
	/* A target given by name says which address answered for it. */
	printf("{\"target\":\"%s\",", name);
	if (strcmp(name, ip) != 0)
		printf("\"ip\":\"%s\",", ip);
	printf("\"sent\":%u,\"received\":%u,\"loss_pct\":%u", t->sent, t->recv,
	       t->sent ? (unsigned)((t->sent - t->recv) * 100ull / t->sent) : 0);
	if (t->recv)
		printf(",\"rtt_ms\":{\"min\":%.3f,\"avg\":%.3f,\"max\":%.3f}", (double)t->min / 1e6,
		       (double)t->total / t->recv / 1e6, (double)t->max / 1e6);
	printf("}\n");
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
	rp_url_redact(c->influxdb.url && *c->influxdb.url ? c->influxdb.url
							  : c->prometheus_remote_write.url,
		      url, sizeof(url));
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

/* The engine's settings for this run: pacing, capacity, timeout and the packet options. */
static void engine_conf(const struct rp_fping *f, const struct rp_conf *c, const struct rp_hosts *h,
			struct rp_prober_conf *pc, uint32_t **weights)
{
	uint32_t *per_shard, cap = 0;
	memset(pc, 0, sizeof(*pc));
	/* -i is the least time between any two packets: one token bucket keeps it, one
	 * per shard would not (and at most 1,000 packets/s needs no second thread). */
	pc->shards = f->interval_flag && f->interval_ns > 0 && c->shards == 0
			 ? 1
			 : rp_prober_shards_for(c->shards, h->count);
	per_shard = rp_xcalloc(pc->shards, sizeof(*per_shard));
	for (uint64_t i = 0; i < h->count; i++) {
		struct rp_ip a = rp_hosts_at(h, i);

		per_shard[rp_prober_route(&a, pc->shards)]++;
	}
	for (unsigned i = 0; i < pc->shards; i++)
		if (per_shard[i] > cap)
			cap = per_shard[i];
	pc->weights = per_shard;
	/* Single probes stream through a bounded window; counted ones stay. */
	if (!f->loop && f->count == 1 && cap > 65536)
		cap = 65536;
	pc->capacity = cap ? cap : 1;
	pc->timeout_ns = (uint64_t)f->timeout_ns;
	if (f->interval_flag) {
		pc->rate_pps = f->interval_ns ? 1e9 / (double)f->interval_ns : 0;
		pc->burst = 1;
	} else {
		pc->rate_pps = c->ping_rate_limit;
		pc->burst = (double)c->ping_burst_limit;
	}
	pc->tick_ns = f->period_ns < 20000000 ? 1000000ull : 5000000ull;
	/* -i's bucket holds one packet: a shard sleeping a tick longer than the interval
	 * would waste the tokens of that sleep and space every packet a tick apart. */
	if (f->interval_flag && f->interval_ns > 0 && (uint64_t)f->interval_ns < pc->tick_ns)
		pc->tick_ns = (uint64_t)f->interval_ns;
	pc->payload_len = f->size;
	pc->ttl = (int)f->ttl;
	pc->tos = f->tos;
	pc->dont_fragment = f->dontfrag;
	/* One source per family (the engine binds each family's socket to its own). */
	if (f->src4_set)
		pc->source = f->src4;
	if (f->src6_set)
		pc->source2 = f->src6;
	memcpy(pc->interface, f->iface, sizeof(pc->interface));
	pc->fwmark = f->fwmark;
	pc->random_payload = f->random;
	*weights = per_shard;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Prints the -Q report due at `due`; returns when the next is due. */
static uint64_t report_due(struct ping_run *r, uint64_t due, bool *first)
{
	uint64_t now = real_ns();

	report(r, *first);
	*first = false;
	do
		due += (uint64_t)r->f->report_ns;
	while (now >= due);
	return due;
}

static int run_ping(struct ping_run *r, const struct rp_conf *c, uint64_t start_ns)
{
	struct rp_fping *f = r->f;
	const struct rp_hosts *h = r->h;
	struct rp_prober *pr;
	struct rp_prober_conf pc;
	struct rp_shard_stats st;
	struct rp_shard_dev dev;
	struct rp_probe_result res[1024];
	struct rp_writer *w = NULL;
	struct sigaction sa;
	const struct timespec idle = {0, 1000000};
	uint32_t *weights = NULL;
	uint64_t next_report, now;
	bool have = false, first_report = true, timed = false,
	     reports = f->report_ns && (f->loop || f->count_flag);
	char why[512];
	int ret;

	engine_conf(f, c, h, &pc, &weights);
	/* With --influxdb-url (or --prometheus-remote-write-url) every result is also
	 * written as a `ping` point. */
	if ((c->influxdb.url && *c->influxdb.url) ||
	    (c->prometheus_remote_write.url && *c->prometheus_remote_write.url)) {
		rp_spsc_create(&r->to_writer, 65536, sizeof(struct rp_probe_result));
		if (rp_writer_create(&w, c, &r->to_writer, 1, NULL, why, sizeof(why)) < 0 ||
		    rp_writer_start(w) < 0) {
			char url[1024];

			rp_url_redact(c->influxdb.url && *c->influxdb.url
					  ? c->influxdb.url
					  : c->prometheus_remote_write.url,
				      url, sizeof(url));
			fprintf(stderr, "ringprobe ping: cannot write to %s: %s\n", url, why);
			ret = RP_EXIT_RUNTIME;
			goto out;
		}
	}
	if (f->fping) {
		pc.backend = c->backend;
		pc.icmp_mode = c->icmp_mode;
		pc.feature_mask = RP_FEAT_ALL;
		ret = rp_prober_create(&pr, &pc, why, sizeof(why));
		if (ret == 0 && (ret = rp_prober_start(pr, c->user, why, sizeof(why))) < 0)
			rp_prober_destroy(pr);
		if (ret < 0) {
			/* fping's words when it cannot open its sockets (its exit code 4) */
			fprintf(stderr, "%s: can't create socket (must run as root?)\n", f->prog);
			rp_log(RP_LOG_WARN, "engine start failed", "why=\"%s\"", why);
			ret = -1;
			goto out;
		}
	} else if (rp_cli__prober("ping", c, &pc, &pr) != RP_EXIT_OK) {
		ret = -1;
		goto out;
	}
	/* As fping: SIGINT ends the run (with its summary), SIGQUIT prints the counts
	 * so far. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	/* -Q's reports are due on the wall clock, which the results' send times are on. */
	next_report = real_ns() + (uint64_t)f->report_ns;
	for (;;) {
		uint32_t n;

		now = mono_ns();
		while (!r->stop) {
			if (!have && !(have = next_probe(r, now, &dev)))
				break;
			if (!rp_prober_offer(pr, &dev))
				break;
			have = false;
			r->active++;
		}
		n = rp_prober_poll(pr, res, RP_ARRAY_SIZE(res));
		now = mono_ns();
		for (uint32_t i = 0; i < n && !g_interrupt; i++) {
			/* fping's reports fall due an interval after its first probes went
			 * out, and count what was answered by then: a probe sent when one
			 * is due, a period after the first, is not in it (the engine may
			 * send up to a tick, 5 ms, early). */
			if (reports && !timed) {
				next_report = res[i].sent_ns + (uint64_t)f->report_ns -
					      (f->report_ns > 12000000 ? 6000000 : 0);
				timed = true;
			}
			if (reports && res[i].sent_ns >= next_report)
				next_report = report_due(r, next_report, &first_report);
			if (take_result(r, &res[i], now)) {
				r->active--;
				rp_prober_finished(pr, &res[i].addr);
			}
		}
		if (g_interrupt || r->stop)
			break;
		while (r->dup && r->next < h->count && r->dup[r->next])
			r->next++;
		if (!r->active && !have && !r->nheap && r->next == h->count)
			break;
		if (g_snapshot) {
			g_snapshot = 0;
			report(r, false);
		}
		if (reports && real_ns() >= next_report)
			next_report = report_due(r, next_report, &first_report);
		if (n)
			continue;
		rp_prober_stats(pr, &st);
		/* Results lost to a full ring would leave targets waiting forever. */
		if (st.done && st.ring_drops && !r->nheap && r->next == h->count && !have) {
			fprintf(stderr, "%s: %llu results were lost (result ring full)\n", f->prog,
				(unsigned long long)st.ring_drops);
			break;
		}
		nanosleep(&idle, NULL);
	}
	rp_prober_request_stop(pr, 0);
	rp_prober_stop(pr);
	rp_prober_stats(pr, &st);
	r->g.elapsed_ns = (int64_t)(mono_ns() - start_ns);
	rp_log(RP_LOG_INFO, "ping done",
	       "targets=%llu alive=%u sent=%llu replies=%llu timeouts=%llu late_sends=%llu "
	       "ring_drops=%llu",
	       (unsigned long long)h->count, r->g.alive, (unsigned long long)st.probes_sent,
	       (unsigned long long)st.replies, (unsigned long long)st.timeouts,
	       (unsigned long long)st.late_sends, (unsigned long long)st.ring_drops);
	rp_prober_destroy(pr);
	ret = RP_EXIT_OK;
	if (w && report_writer(w, c) < 0)
		ret = RP_EXIT_RUNTIME;
out:
	rp_writer_destroy(w);
	rp_spsc_destroy(r->to_writer);
	free(weights);
	return ret;
}

/* fping's finish(): the unreachable, the summaries, -s, -x; then the exit status. */
static int finish(struct ping_run *r, size_t noaddr)
{
	struct rp_fping *f = r->f;
	const struct rp_hosts *h = r->h;
	char buf[RP_IP_STRLEN];
	unsigned reachable;

	for (uint64_t i = 0; i < h->count; i++) {
		if (r->t[i].recv)
			continue;
		r->g.unreachable++;
		if (f->verbose || f->unreach)
			printf("%s%s\n", target_name(r, i, buf),
			       f->verbose ? " is unreachable" : "");
	}
	fflush(stdout);
	/* Summaries go out in one buffered stream, not one write per fprintf. */
	setvbuf(stderr, NULL, _IOFBF, 1 << 16);
	if (f->json) {
		for (uint64_t i = 0; i < h->count; i++) {
			struct rp_ip a = rp_hosts_at(h, i);

			print_json(target_name(r, i, buf), &a, &r->t[i]);
		}
	} else if (f->count_flag || f->loop) {
		if (f->verbose || f->per_recv)
			fputc('\n', stderr);
		for (uint64_t i = 0; i < h->count; i++)
			rp_fping_print_summary(f, stderr, r->width, target_name(r, i, buf),
					       &r->t[i]);
	}
	if (f->stats) {
		r->g.targets = (unsigned)h->count;
		r->g.noaddress = (unsigned)noaddr;
		rp_fping_print_global(stderr, &r->g);
	}
	fflush(stderr);
	fflush(stdout);
	reachable = (unsigned)h->count - r->g.unreachable;
	if (f->min_reachable) {
		bool enough = reachable >= f->min_reachable;

		printf("%s hosts reachable (required: %u, reachable: %u)\n",
		       enough ? "Enough" : "Not enough", f->min_reachable, reachable);
		fflush(stdout);
		return enough ? RP_EXIT_OK : RP_EXIT_DOWN;
	}
	if (noaddr)
		return f->fping ? 2 : RP_EXIT_USAGE;
	return r->g.alive == h->count ? RP_EXIT_OK : RP_EXIT_DOWN;
}

int rp_ping_fping_run(struct rp_fping *f, const struct rp_conf *cin, char **args, int nargs)
{
	struct rp_conf defaults;
	const struct rp_conf *c = cin;
	struct rp_cidr_list in = {0}, probed = {0};
	struct rp_diags d;
	struct rp_hosts h;
	struct ping_run r = {0};
	char **labels = NULL;
	size_t noaddr = 0, missing = 0;
	uint64_t start = mono_ns();
	int ret = RP_EXIT_OK, family;

	rp_diags_init(&d);
	if (!cin) {
		rp_conf_init(&defaults);
		rp_conf_validate(&defaults, RP_CONF_FOR_PING, &d);
		rp_log_setup(defaults.log.format, RP_LOG_ERROR);
		c = &defaults;
	}
	/* The engine waits for a reply at most one period: fping's -t beyond -p is cut. */
	if (f->fping && (f->loop || f->count > 1) && f->timeout_ns > f->period_ns &&
	    f->period_ns > 0)
		f->timeout_ns = f->period_ns;
	if (!f->allow_large)
		f->allow_large = c->allow_large_networks;
	/* Targets: -g's, the arguments, else -f FILE or standard input. */
	if (f->generate)
		ret = generate(f, &in, args, nargs);
	else if (nargs)
		for (int i = 0; i < nargs; i++)
			add_target(f, &in, args[i], &noaddr, &d);
	else if (f->file || f->fping || !isatty(STDIN_FILENO))
		ret = read_file(f, &in, &noaddr, &d); /* -f FILE, else standard input */
	/* `ringprobe ping`: what rp_targets_add_arg found wrong, and large CIDRs. */
	for (size_t i = 0; !f->fping && i < in.n; i++) {
		char txt[RP_CIDR_STRLEN];

		if (rp_cidr_host_bits(&in.v[i]) <= RP_CIDR_SWEEP_HOST_BITS || f->allow_large)
			continue;
		rp_format_cidr(&in.v[i], true, txt, sizeof(txt));
		rp_diags_add(&d, RP_DIAG_ERROR, txt, NULL,
			     "has %llu addresses, more than a %s; add --allow-large to probe it",
			     (unsigned long long)rp_cidr_size(&in.v[i]),
			     rp_ip_is_v4(&in.v[i].net) ? "/16" : "/112");
	}
	if (d.errors || d.n) {
		rp_diags_print(&d, stderr);
		if (d.errors) {
			ret = RP_EXIT_USAGE;
			goto out;
		}
	}
	if (ret != RP_EXIT_OK) {
		/* -g's and -f's errors: fping's 1 and 4, `ringprobe ping`'s usage error */
		ret = f->fping ? ret : RP_EXIT_USAGE;
		goto out;
	}
	family = f->family == 4 ? RP_ADDRFAM_4 : f->family == 6 ? RP_ADDRFAM_6 : RP_ADDRFAM_BOTH;
	if (family == RP_ADDRFAM_BOTH)
		family = c->address_family;
	ret = resolve_targets(f, c, family, &in, &probed, &labels, &missing);
	if (ret != RP_EXIT_OK)
		goto out;
	noaddr += missing;
	if (!probed.n && !noaddr && !f->fping) {
		fprintf(stderr,
			"ringprobe ping: ping needs at least one TARGET (an address, a CIDR, "
			"a name or @FILE), -f FILE, -g or targets on standard input\n");
		ret = RP_EXIT_USAGE;
		goto out;
	}
	if (!probed.n) {
		/* fping: nothing to probe is 2 when a name did not resolve, else 1 */
		ret = noaddr ? (f->fping ? 2 : RP_EXIT_USAGE) : RP_EXIT_DOWN;
		goto out;
	}
	display_names(f, c, &probed, labels);
	rp_hosts_init(&h, probed.v, probed.n);
	r.f = f;
	r.h = &h;
	r.labels = labels;
	r.t = rp_xcalloc(h.count, sizeof(*r.t));
	r.bytes = f->size + 8;
	if (!f->count_flag && !f->loop) {
		r.tries = rp_xcalloc(h.count, 1);
		r.heap = rp_xcalloc(h.count, sizeof(*r.heap));
	}
	find_same(&r);
	if (f->vcount)
		for (uint64_t i = 0; i < h.count; i++)
			r.t[i].resp = rp_xcalloc(f->count, sizeof(int64_t));
	/* fping pads to the longest target as shown. */
	for (uint64_t i = 0; i < h.count; i++) {
		char buf[RP_IP_STRLEN];
		int len = (int)strlen(target_name(&r, i, buf));

		if (len > r.width)
			r.width = len;
	}
	/* fping writes standard output a line at a time (a run ended by a signal has
	 * printed every line so far); `ringprobe ping` only when a signal ends it. */
	if (f->fping || f->loop || f->report_ns)
		setvbuf(stdout, NULL, _IOLBF, 0);
	ret = run_ping(&r, c, start);
	if (ret == -1)
		ret = f->fping ? 4 : RP_EXIT_RUNTIME;
	else if (ret == RP_EXIT_OK)
		ret = finish(&r, noaddr);
	for (uint64_t i = 0; f->vcount && i < h.count; i++)
		free(r.t[i].resp);
	free(r.t);
	free(r.tries);
	free(r.heap);
	free(r.same);
	free(r.dup);
	rp_hosts_fini(&h);
out:
	for (size_t i = 0; labels && i < probed.n; i++)
		free(labels[i]);
	free(labels);
	rp_targets_free(&probed);
	rp_targets_free(&in);
	rp_diags_fini(&d);
	if (!cin)
		rp_conf_fini(&defaults);
	return ret;
}

int rp_cmd_ping(int argc, char **argv)
{
	struct rp_fping f;
	const struct rp_cli_cmd cmd = {
	    .name = "ping",
	    .usage = "[options] [TARGET...]",
	    .summary =
		"Probe each TARGET with ICMP echo and print the results as fping 5.1 does: the "
		"same\noptions, defaults and output (ringprobe installed as `fping` is fping, "
		"exit codes\nincluded; see docs/fping.md).\nTARGET is an address (IPv4 or "
		"IPv6), a CIDR (every host in it), a DNS name (its first\naddress; -4/-6 "
		"choose the family, -m takes all) or @FILE (one per line, # comments);\n"
		"without TARGET, -f FILE or standard input gives them; -g START END a range.\n"
		"Without -i or --rate, packets are paced by ping_rate_limit (default "
		"20000/s).\nWith --influxdb-url (and the v1 or v2 keys) every result is also "
		"written as a `ping` point.\nExit status: 0 every target answered, 1 some did "
		"not, 2 usage error or a name without\nan address, 3 runtime failure.",
	    .opts = ping_opts,
	    .nopts = RP_ARRAY_SIZE(ping_opts),
	    .purpose = RP_CONF_FOR_PING,
	    .on_opt = on_opt,
	    .ctx = &f,
	};
	struct rp_cli cli;
	char msg[512];
	int ret, r;

	rp_fping_defaults(&f, "ringprobe ping", false);
	rp_cli__parse(&cmd, argc, argv, &cli);
	if (cli.help) {
		ret = RP_EXIT_OK;
		goto out;
	}
	if (rp_conf_is_set(&cli.conf, rp_conf_key_find("allow_large_networks")))
		f.allow_large = cli.conf.allow_large_networks;
	if (!cli.diags.errors) {
		r = rp_fping_check(&f, cli.nargs > 0, msg, sizeof(msg));
		if (r == RP_FPING_USAGE)
			rp_diags_add(&cli.diags, RP_DIAG_ERROR, NULL, NULL,
				     "-f and -g take their targets: give either TARGETs, -f FILE "
				     "or -g with START END or a CIDR");
		else if (r != RP_FPING_OK)
			rp_diags_add(&cli.diags, RP_DIAG_ERROR, NULL, NULL, "%s", msg);
	}
	if (f.timeout_ns > f.period_ns && ((f.count_flag && f.count > 1) || f.loop))
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, "-t/--timeout", NULL,
			     "%lld ms is longer than the period -p %lld ms",
			     (long long)(f.timeout_ns / 1000000),
			     (long long)(f.period_ns / 1000000));
	ret = rp_cli__report(&cmd, &cli);
	if (ret == RP_EXIT_OK) {
		/* One-shot output is parsed by scripts: only warnings and errors are logged
		 * unless --log-level says otherwise. */
		rp_log_setup(cli.conf.log.format,
			     rp_conf_is_set(&cli.conf, rp_conf_key_find("log.level"))
				 ? cli.conf.log.level
				 : RP_LOG_WARN);
		ret = rp_ping_fping_run(&f, &cli.conf, cli.args, cli.nargs);
	}
out:
	rp_cli__fini(&cli);
	return ret;
}
