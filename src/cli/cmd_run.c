/* `ringprobe run`: the daemon. Parses and validates everything before anything is
 * started (a bad file or flag exits 2 with no socket opened), then hands over to
 * rp_daemon_run; SIGHUP re-reads the same file with the same flags. */
#include <getopt.h>
#include <string.h>

#include "cli_int.h"
#include "ringprobe/compiler.h"
#include "ringprobe/prober.h"
#include "ringprobe/daemon.h"

struct run_opts {
	int64_t run_for_ns;
};

enum { O_RUN_FOR };

static const struct rp_cli_opt run_opts[] = {
    [O_RUN_FOR] = {"run-for", 0, required_argument, "DURATION",
		   "stop by itself after this long, as on SIGTERM (demos, tests)"},
};

static void on_opt(void *ctx, const struct rp_cli_opt *o, const char *arg, struct rp_diags *d)
{
	struct run_opts *r = ctx;
	char why[256] = "";

	if (o - run_opts == O_RUN_FOR &&
	    (rp_parse_duration(arg, &r->run_for_ns, why, sizeof(why)) < 0 || r->run_for_ns <= 0))
		rp_diags_add(d, RP_DIAG_ERROR, "--run-for", NULL, "%s",
			     r->run_for_ns <= 0 && !why[0] ? "must be more than 0" : why);
}

static struct rp_cli_cmd run_cmd(struct run_opts *r)
{
	return (struct rp_cli_cmd){
	    .name = "run",
	    .usage = "[--config FILE] [flags]",
	    .summary =
		"Run the daemon: discover devices in `networks` by ICMP sweeps (and take the "
		"`devices`\nlist as given), probe each one every `ping_interval` and write every "
		"result to\nInfluxDB or VictoriaMetrics. /health and /metrics are served on "
		"health_listen:health_check_port.\nSIGTERM or SIGINT: stop, flush or spool, exit "
		"(a second one exits at once);\nSIGHUP: re-read the configuration file (flags "
		"given here still apply).",
	    .opts = run_opts,
	    .nopts = RP_ARRAY_SIZE(run_opts),
	    .purpose = RP_CONF_FOR_RUN,
	    .list_config_flags = true,
	    .default_config = "/etc/ringprobe/config.yml",
	    .on_opt = on_opt,
	    .ctx = r,
	};
}

struct reload_ctx {
	int argc;
	char **argv;
};

/* Parses the same command line again: the file as it is now, the same flags over it. */
static int reload(void *arg, struct rp_conf *out, struct rp_diags *d)
{
	struct reload_ctx *rc = arg;
	struct run_opts ignored = {0};
	struct rp_cli_cmd cmd = run_cmd(&ignored);
	struct rp_cli cli;

	rp_cli__parse(&cmd, rc->argc, rc->argv, &cli);
	rp_diags_fini(d);
	*d = cli.diags;
	rp_diags_init(&cli.diags);
	*out = cli.conf;
	rp_conf_init(&cli.conf);
	rp_cli__fini(&cli);
	return d->errors ? -1 : 0;
}

int rp_cmd_run(int argc, char **argv)
{
	struct run_opts r = {0};
	struct rp_cli_cmd cmd = run_cmd(&r);
	struct reload_ctx rc = {argc, argv};
	struct rp_daemon_opts o = {0};
	struct rp_cli cli;
	int ret;

	rp_cli__parse(&cmd, argc, argv, &cli);
	if (cli.help) {
		rp_cli__fini(&cli);
		return RP_EXIT_OK;
	}
	if (cli.nargs > 0)
		rp_diags_add(&cli.diags, RP_DIAG_ERROR, cli.args[0], NULL,
			     "unexpected argument; run takes only options");
	ret = rp_cli__report(&cmd, &cli);
	if (ret != RP_EXIT_OK) {
		rp_cli__fini(&cli);
		return ret;
	}
	o.conf = &cli.conf;
	o.reload = reload;
	o.reload_arg = &rc;
	o.run_for_ns = r.run_for_ns;
	o.feature_mask = RP_FEAT_ALL;
	ret = rp_daemon_run(&o);
	rp_cli__fini(&cli);
	return ret;
}
