/* Shared by the command files in src/cli: option tables built from the config key
 * table, so every config key is a flag of every command. */
#ifndef RP_CLI_INT_H
#define RP_CLI_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "ringprobe/conf.h"
#include "ringprobe/diag.h"

/* Exit codes (DESIGN.md "Command line"). */
enum { RP_EXIT_OK = 0, RP_EXIT_DOWN = 1, RP_EXIT_USAGE = 2, RP_EXIT_RUNTIME = 3 };

/** A command's own option (beyond --config, --help and the config flags). */
struct rp_cli_opt {
	const char *name; /* long name without "--" */
	char short_name;  /* 0 = none */
	int has_arg;	  /* no_argument / required_argument */
	const char *metavar;
	const char *help;
	const char *conf_key; /* non-NULL: an alias of this config key's flag */
};

/** A command's description for parsing and --help. */
struct rp_cli_cmd {
	const char *name;    /* "ping" */
	const char *usage;   /* "[options] TARGET..." */
	const char *summary; /* one paragraph */
	const struct rp_cli_opt *opts;
	size_t nopts;
	enum rp_conf_purpose purpose;
	bool list_config_flags;	    /* --help lists every config flag (run, check-config) */
	const char *default_config; /* used when --config is absent and the file exists */
	/* Called for each of the command's own options; adds to `d` on bad values. */
	void (*on_opt)(void *ctx, const struct rp_cli_opt *o, const char *arg, struct rp_diags *d);
	void *ctx;
};

/** Result of parsing one command line. */
struct rp_cli {
	struct rp_conf conf;
	struct rp_diags diags;
	const char *config_path;
	char **args; /* positional arguments */
	int nargs;
	bool help;
};

/** Parses argv (argv[0] = the command name) into `cli`: own options through
 *  cmd->on_opt, config flags applied over the file, then validation. Problems are
 *  left in cli->diags for the command to add its own and print (rp_cli__report).
 *  --help prints the help and sets cli->help. */
int rp_cli__parse(const struct rp_cli_cmd *cmd, int argc, char **argv, struct rp_cli *cli);
/** Prints every problem; returns RP_EXIT_USAGE when there was an error, else 0. */
int rp_cli__report(const struct rp_cli_cmd *cmd, struct rp_cli *cli);
/** Frees what rp_cli__parse allocated. */
void rp_cli__fini(struct rp_cli *cli);
/** Prints the command's --help. */
void rp_cli__help(const struct rp_cli_cmd *cmd, FILE *out);
/** Prints "ringprobe CMD: " + message for a feature this build does not have yet. */
int rp_cli__not_available(const char *cmd, const char *what);

struct rp_prober;
struct rp_prober_conf;
/** Fills the engine choices of `pc` from the configuration, and the packet fields the
 *  caller left zero (rp_prober_conf_packet: a flag set first wins over the key),
 *  creates the prober, drops to `user` and starts it. Prints why and returns RP_EXIT_RUNTIME on
 * failure. */
int rp_cli__prober(const char *cmd, const struct rp_conf *c, struct rp_prober_conf *pc,
		   struct rp_prober **out);

int rp_cmd_run(int argc, char **argv);
int rp_cmd_ping(int argc, char **argv);
/* ringprobe invoked as `fping` (fping_opts.c). */
int rp_fping_main(int argc, char **argv);
int rp_cmd_sweep(int argc, char **argv);
int rp_cmd_check_config(int argc, char **argv);

#endif
