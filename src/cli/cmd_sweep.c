/* `ringprobe sweep`: probe every host address of some networks once and list
 * the ones that answer. */
#include <getopt.h>
#include <string.h>

#include "cli_int.h"
#include "ringprobe/targets.h"

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
		"also ask each alive host its sysName over SNMP (snmp.* keys apply)"},
};

static void on_opt(void *ctx, const struct rp_cli_opt *o, const char *arg, struct rp_diags *d)
{
	struct sweep_opts *s = ctx;

	if (o - sweep_opts == O_SNMP)
		s->snmp = true;
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
	for (size_t i = 0; i < nets.n; i++) {
		char txt[32];

		if (nets.v[i].prefix >= 16 || cli.conf.allow_large_networks)
			continue;
		rp_format_cidr(&nets.v[i], true, txt, sizeof(txt));
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, txt, NULL,
			     "has %llu addresses, more than a /16; add --allow-large to sweep it",
			     (unsigned long long)rp_cidr_size(&nets.v[i]));
	}
	ret = rp_cli__report(&cmd, &cli);
	if (ret == RP_EXIT_OK)
		ret = rp_cli__not_available("sweep", "the probe engine");
out:
	rp_targets_free(&nets);
	rp_cli__fini(&cli);
	return ret;
}
