/* `ringprobe check-config`: validate a configuration as the daemon would and print
 * the effective result, so a change can be checked before a reload. */
#include <string.h>

#include "cli_int.h"

static void on_opt(void *ctx, const struct rp_cli_opt *o, const char *arg, struct rp_diags *d)
{
}

int rp_cmd_check_config(int argc, char **argv)
{
	const struct rp_cli_cmd cmd = {
	    .name = "check-config",
	    .usage = "--config FILE [flags]",
	    .summary = "Validate FILE (and any flags over it) as `ringprobe run` would, print "
		       "the effective\nconfiguration (secrets masked) and exit 0; or print "
		       "every problem found and exit 2.",
	    .purpose = RP_CONF_FOR_RUN,
	    .list_config_flags = true,
	    .on_opt = on_opt,
	};
	struct rp_cli cli;
	int ret;

	rp_cli__parse(&cmd, argc, argv, &cli);
	if (cli.help) {
		ret = RP_EXIT_OK;
		goto out;
	}
	if (!cli.config_path)
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, NULL, NULL,
			     "check-config needs --config FILE");
	for (int i = 0; i < cli.nargs; i++) {
		const char *dot = strrchr(cli.args[i], '.');

		if (dot && (strcmp(dot, ".yml") == 0 || strcmp(dot, ".yaml") == 0))
			rp_diags_add(&cli.diags, RP_DIAG_ERROR, cli.args[i], NULL,
				     "unexpected argument; did you mean --config %s?", cli.args[i]);
		else
			rp_diags_add(&cli.diags, RP_DIAG_ERROR, cli.args[i], NULL,
				     "unexpected argument; check-config takes only options");
	}
	ret = rp_cli__report(&cmd, &cli);
	if (ret == RP_EXIT_OK)
		rp_conf_print(&cli.conf, stdout);
out:
	rp_cli__fini(&cli);
	return ret;
}
