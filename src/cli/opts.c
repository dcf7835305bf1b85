/* Command-line parsing shared by every command: getopt_long over the command's own
 * options plus one --flag per configuration key, then the config file, then the
 * flags applied over it, then validation; every problem printed at once. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "ringprobe/prober.h"
#include "ringprobe/xalloc.h"

enum { ID_HELP = 0x10000, ID_CONFIG, ID_KEY_BASE = 0x20000, ID_OWN_BASE = 0x30000 };

struct pending {
	const struct rp_conf_key *key;
	const char *value;
};

static const char *metavar(const struct rp_conf_key *k, char *buf, size_t len)
{
	size_t off = 0;

	switch (k->type) {
	case RP_CT_DURATION:
		return "DURATION";
	case RP_CT_INT:
	case RP_CT_FLOAT:
		return "N";
	case RP_CT_BOOL:
		return "[=BOOL]";
	case RP_CT_SIZE:
		return "SIZE";
	case RP_CT_CIDRS:
		return "CIDR[,CIDR...]";
	case RP_CT_PATHS:
		return "PATTERN";
	case RP_CT_TAGS:
		return "KEY=VALUE[,KEY=VALUE...]";
	case RP_CT_SHARD:
		return "I/N|auto/N";
	case RP_CT_SECRET:
		return "SECRET";
	case RP_CT_SECRET_FILE:
		return "FILE";
	case RP_CT_ENUM:
		for (int i = 0; k->names[i] && off < len; i++)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "|" : "",
						k->names[i]);
		return buf;
	case RP_CT_IGNORED:
		return "(ignored)";
	default:
		return "TEXT";
	}
}

static void help_line(FILE *out, char short_name, const char *name, const char *mv,
		      const char *help, const char *dflt)
{
	char left[256];

	if (short_name)
		snprintf(left, sizeof(left), "  -%c, --%s%s%s", short_name, name,
			 mv && mv[0] != '[' ? " " : "", mv ? mv : "");
	else
		snprintf(left, sizeof(left), "      --%s%s%s", name, mv && mv[0] != '[' ? " " : "",
			 mv ? mv : "");
	if (strlen(left) > 34)
		fprintf(out, "%s\n%36s", left, "");
	else
		fprintf(out, "%-36s", left);
	for (const char *p = help; *p; p++) /* continuation lines under the first */
		if (*p == '\n')
			fprintf(out, "\n%36s", "");
		else
			fputc(*p, out);
	if (dflt)
		fprintf(out, " (default %s)", dflt);
	fputc('\n', out);
}

void rp_cli__help(const struct rp_cli_cmd *cmd, FILE *out)
{
	char flag[64], mv[128];

	fprintf(out, "Usage: ringprobe %s %s\n\n%s\n\nOptions:\n", cmd->name, cmd->usage,
		cmd->summary);
	for (size_t i = 0; i < cmd->nopts; i++) {
		const struct rp_cli_opt *o = &cmd->opts[i];

		help_line(out, o->short_name, o->name, o->metavar, o->help, NULL);
	}
	help_line(out, 0, "config", "FILE",
		  cmd->default_config ? "YAML configuration file (default "
				      : "YAML configuration file",
		  NULL);
	if (cmd->default_config)
		fprintf(out, "%36s%s when it exists)\n", "", cmd->default_config);
	help_line(out, 'h', "help", NULL, "show this help and exit", NULL);
	if (!cmd->list_config_flags) {
		fprintf(out, "\nEvery configuration key is also a flag (its path with '.' and '_' "
			     "as '-'),\ne.g. --influxdb-url, --backend, --icmp-mode; "
			     "`ringprobe run --help` lists them all.\n");
		return;
	}
	fprintf(out,
		"\nConfiguration flags (each overrides its key in --config FILE; durations "
		"read like\n250ms, 30s, 1h30m; sizes like 512MiB; see docs/configuration.md):\n");
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);

		if (k->type == RP_CT_IGNORED || k->type == RP_CT_GROUPS)
			continue;
		rp_conf_key_flag(k, flag, sizeof(flag));
		help_line(out, 0, flag, metavar(k, mv, sizeof(mv)), k->help,
			  k->type == RP_CT_SECRET ? NULL : k->dflt);
	}
}

int rp_cli__not_available(const char *cmd, const char *what)
{
	fprintf(stderr,
		"ringprobe %s: %s is not available in this build yet; the command line and "
		"configuration were checked and are valid\n",
		cmd, what);
	return RP_EXIT_RUNTIME;
}

static void unknown_option(const struct option *longopts, const char *arg, struct rp_diags *d)
{
	char name[128];
	const char *eq, *best = NULL;
	size_t len, bestd;

	if (strncmp(arg, "--", 2) != 0) {
		rp_diags_add(d, RP_DIAG_ERROR, arg, NULL, "unknown option");
		return;
	}
	eq = strchr(arg, '=');
	len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, arg + 2, len);
	name[len] = '\0';
	bestd = len / 3 + 2;
	for (const struct option *o = longopts; o->name; o++) {
		size_t dist = rp_edit_distance(name, o->name, bestd);

		if (dist < bestd) {
			bestd = dist;
			best = o->name;
		}
	}
	if (best)
		rp_diags_add(d, RP_DIAG_ERROR, arg, NULL, "unknown option (did you mean --%s?)",
			     best);
	else
		rp_diags_add(d, RP_DIAG_ERROR, arg, NULL, "unknown option");
}

/* A command's own option, or an alias of a config key (`--rate` for
 * `--ping-rate-limit`), which then takes its place among the config flags. */
static void own_opt(const struct rp_cli_cmd *cmd, const struct rp_cli_opt *o, const char *arg,
		    struct pending *pend, size_t *npend, struct rp_diags *d)
{
	if (o->conf_key)
		pend[(*npend)++] = (struct pending){rp_conf_key_find(o->conf_key), arg};
	else
		cmd->on_opt(cmd->ctx, o, arg, d);
}

int rp_cli__parse(const struct rp_cli_cmd *cmd, int argc, char **argv, struct rp_cli *cli)
{
	size_t nkeys = rp_conf_key_count(), n = 0;
	struct option *longopts = rp_xcalloc(nkeys + cmd->nopts + 3, sizeof(*longopts));
	char **names = rp_xcalloc(nkeys, sizeof(*names));
	struct pending *pend = rp_xcalloc((size_t)argc + 1, sizeof(*pend));
	size_t npend = 0;
	char shortopts[64] = ":h";
	size_t slen = 2;
	int opt;

	memset(cli, 0, sizeof(*cli));
	rp_conf_init(&cli->conf);
	rp_diags_init(&cli->diags);
	for (size_t i = 0; i < cmd->nopts; i++) {
		const struct rp_cli_opt *o = &cmd->opts[i];

		longopts[n++] = (struct option){o->name, o->has_arg, NULL, ID_OWN_BASE + (int)i};
		if (o->short_name && slen + 3 < sizeof(shortopts)) {
			shortopts[slen++] = o->short_name;
			if (o->has_arg == required_argument)
				shortopts[slen++] = ':';
			shortopts[slen] = '\0';
		}
	}
	longopts[n++] = (struct option){"help", no_argument, NULL, ID_HELP};
	longopts[n++] = (struct option){"config", required_argument, NULL, ID_CONFIG};
	for (size_t i = 0; i < nkeys; i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);
		char flag[64];

		rp_conf_key_flag(k, flag, sizeof(flag));
		names[i] = rp_xstrdup(flag);
		longopts[n++] = (struct option){
		    names[i], k->type == RP_CT_BOOL ? optional_argument : required_argument, NULL,
		    ID_KEY_BASE + (int)i};
	}

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const char *bad = argv[optind - 1];

		if (opt == '?') {
			if (optopt && optopt < 256) {
				char s[3] = {'-', (char)optopt, 0};

				rp_diags_add(&cli->diags, RP_DIAG_ERROR, s, NULL, "unknown option");
			} else {
				unknown_option(longopts, bad, &cli->diags);
			}
		} else if (opt == ':') {
			rp_diags_add(&cli->diags, RP_DIAG_ERROR, bad, NULL, "needs a value");
		} else if (opt == 'h' || opt == ID_HELP) {
			cli->help = true;
		} else if (opt == ID_CONFIG) {
			cli->config_path = optarg;
		} else if (opt >= ID_OWN_BASE) {
			own_opt(cmd, &cmd->opts[opt - ID_OWN_BASE], optarg, pend, &npend,
				&cli->diags);
		} else if (opt >= ID_KEY_BASE) {
			pend[npend++] =
			    (struct pending){rp_conf_key_at((size_t)(opt - ID_KEY_BASE)), optarg};
		} else {
			for (size_t i = 0; i < cmd->nopts; i++) {
				if (cmd->opts[i].short_name == opt)
					own_opt(cmd, &cmd->opts[i], optarg, pend, &npend,
						&cli->diags);
			}
		}
	}
	if (cli->help) {
		rp_cli__help(cmd, stdout);
		goto out;
	}
	cli->args = argv + optind;
	cli->nargs = argc - optind;

	if (!cli->config_path && cmd->default_config && access(cmd->default_config, R_OK) == 0)
		cli->config_path = cmd->default_config;
	if (cli->config_path)
		rp_conf_load_file(&cli->conf, cli->config_path, &cli->diags);
	for (size_t i = 0; i < npend; i++)
		rp_conf_set_flag(&cli->conf, pend[i].key, pend[i].value, &cli->diags);
	rp_conf_validate(&cli->conf, cmd->purpose, &cli->diags);
out:
	for (size_t i = 0; i < nkeys; i++)
		free(names[i]);
	free(names);
	free(longopts);
	free(pend);
	return 0;
}

int rp_cli__report(const struct rp_cli_cmd *cmd, struct rp_cli *cli)
{
	rp_diags_print(&cli->diags, stderr);
	if (!cli->diags.errors)
		return RP_EXIT_OK;
	fprintf(stderr,
		"ringprobe %s: %zu error%s; nothing was started (see `ringprobe %s --help`)\n",
		cmd->name, cli->diags.errors, cli->diags.errors == 1 ? "" : "s", cmd->name);
	return RP_EXIT_USAGE;
}

void rp_cli__fini(struct rp_cli *cli)
{
	rp_conf_fini(&cli->conf);
	rp_diags_fini(&cli->diags);
}

int rp_cli__prober(const char *cmd, const struct rp_conf *c, struct rp_prober_conf *pc,
		   struct rp_prober **out)
{
	char why[512];
	int ret;

	pc->backend = c->backend;
	pc->icmp_mode = c->icmp_mode;
	pc->feature_mask = RP_FEAT_ALL;
	rp_prober_conf_packet(pc, c);
	ret = rp_prober_create(out, pc, why, sizeof(why));
	if (ret == 0 && (ret = rp_prober_start(*out, c->user, why, sizeof(why))) < 0)
		rp_prober_destroy(*out);
	if (ret < 0) {
		fprintf(stderr, "ringprobe %s: %s\n", cmd, why);
		return RP_EXIT_RUNTIME;
	}
	return RP_EXIT_OK;
}
