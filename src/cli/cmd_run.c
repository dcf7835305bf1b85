/* `ringprobe run`: the daemon. */
#include "cli_int.h"

static void on_opt(void *ctx, const struct rp_cli_opt *o, const char *arg, struct rp_diags *d)
{
}

int rp_cmd_run(int argc, char **argv)
{
	const struct rp_cli_cmd cmd = {
	    .name = "run",
	    .usage = "[--config FILE] [flags]",
	    .summary = "Run the daemon: discover devices in `networks` by ICMP sweeps, learn "
		       "them over SNMP,\nprobe each one every `ping_interval` and write every "
		       "result to InfluxDB.",
	    .purpose = RP_CONF_FOR_RUN,
	    .list_config_flags = true,
	    .default_config = "/etc/ringprobe/config.yml",
	    .on_opt = on_opt,
	};
	struct rp_cli cli;
	int ret;

	rp_cli__parse(&cmd, argc, argv, &cli);
	if (cli.help) {
		ret = RP_EXIT_OK;
	} else {
		if (cli.nargs > 0)
			rp_diags_add(&cli.diags, RP_DIAG_ERROR, cli.args[0], NULL,
				     "unexpected argument; run takes only options");
		ret = rp_cli__report(&cmd, &cli);
		if (ret == RP_EXIT_OK)
			ret = rp_cli__not_available("run", "the daemon");
	}
	rp_cli__fini(&cli);
	return ret;
}
