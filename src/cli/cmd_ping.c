/* `ringprobe ping`: probe targets a fixed number of times and print fping-style
 * results. The options keep fping's meaning so scripts that parse fping switch. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "ringprobe/targets.h"

struct ping_opts {
	int64_t count;
	int64_t period_ms;
	int64_t timeout_ms;
	int64_t interval_ms;
	bool quiet;
	bool json;
};

enum { O_COUNT, O_PERIOD, O_TIMEOUT, O_INTERVAL, O_QUIET, O_OUTPUT, O_RATE, O_ALLOW_LARGE };

static const struct rp_cli_opt ping_opts[] = {
    [O_COUNT] = {"count", 'c', required_argument, "COUNT", "probes per target (default 1)"},
    [O_PERIOD] = {"period", 'p', required_argument, "MS",
		  "time between two probes of one target, ms (default 1000)"},
    [O_TIMEOUT] = {"timeout", 't', required_argument, "MS",
		   "a reply later than this is lost, ms (default 500)"},
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

int rp_cmd_ping(int argc, char **argv)
{
	struct ping_opts p = {.count = 1, .period_ms = 1000, .timeout_ms = 500, .interval_ms = -1};
	const struct rp_cli_cmd cmd = {
	    .name = "ping",
	    .usage = "[options] TARGET...",
	    .summary = "Probe each TARGET with ICMP echo COUNT times and print the results as "
		       "fping does.\nTARGET is an address, a CIDR (every host in it) or "
		       "@FILE (one per line, # comments).\nExit status: 0 every target "
		       "answered, 1 some did not, 2 usage error, 3 runtime failure.",
	    .opts = ping_opts,
	    .nopts = RP_ARRAY_SIZE(ping_opts),
	    .purpose = RP_CONF_FOR_PING,
	    .on_opt = on_opt,
	    .ctx = &p,
	};
	struct rp_cli cli;
	struct rp_cidr_list targets = {0};
	int ret;

	rp_cli__parse(&cmd, argc, argv, &cli);
	if (cli.help) {
		ret = RP_EXIT_OK;
		goto out;
	}
	if (cli.nargs == 0)
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, NULL, NULL,
			     "ping needs at least one TARGET (an address, a CIDR or @FILE)");
	for (int i = 0; i < cli.nargs; i++)
		rp_targets_add_arg(&targets, cli.args[i], &cli.diags);
	for (size_t i = 0; i < targets.n; i++) {
		char txt[32];

		if (targets.v[i].prefix >= 16 || cli.conf.allow_large_networks)
			continue;
		rp_format_cidr(&targets.v[i], true, txt, sizeof(txt));
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, txt, NULL,
			     "has %llu addresses, more than a /16; add --allow-large to probe it",
			     (unsigned long long)rp_cidr_size(&targets.v[i]));
	}
	if (p.timeout_ms > p.period_ms && p.count > 1)
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, "-t/--timeout", NULL,
			     "%lld ms is longer than the period -p %lld ms",
			     (long long)p.timeout_ms, (long long)p.period_ms);
	ret = rp_cli__report(&cmd, &cli);
	if (ret == RP_EXIT_OK)
		ret = rp_cli__not_available("ping", "the probe engine");
out:
	rp_targets_free(&targets);
	rp_cli__fini(&cli);
	return ret;
}
