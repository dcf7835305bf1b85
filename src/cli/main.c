/* ringprobe's entry point: picks the command; no logic of its own (zmap src/zmap.c). */
#include <stdio.h>
#include <string.h>

#include "cli_int.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
    {"run", rp_cmd_run, "daemon: discover, enrich, monitor, write to InfluxDB"},
    {"ping", rp_cmd_ping, "one shot: probe targets, print fping-style results"},
    {"sweep", rp_cmd_sweep, "one shot: list the alive hosts of CIDR ranges"},
    {"check-config", rp_cmd_check_config, "validate a config file; print the effective one"},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: ringprobe COMMAND [options]\n\n"
		     "Monitor a large fleet of network devices with ICMP echo over io_uring and "
		     "write\nevery result to InfluxDB or VictoriaMetrics.\n\nCommands:\n");
	for (size_t i = 0; i < RP_ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n  ringprobe --version | --help | COMMAND --help\n\n"
		"Exit status: 0 ok, 1 some targets did not answer (ping), 2 usage or "
		"configuration\nerror, 3 runtime failure. Documentation: docs/ and README.md.\n"
		"Installed under the name fping (a symlink), ringprobe is fping 5.1: its command "
		"line,\noutput and exit codes (docs/fping.md).\n");
}

int main(int argc, char **argv)
{
	const char *best = NULL, *base = strrchr(argv[0], '/');
	size_t bestd = 3;

	/* Installed as `fping` (a symlink or a copy, any name that starts so): fping 5.1's
	 * command line and exit codes (docs/fping.md); `fping6` implies -6 as in 5.1. */
	base = base ? base + 1 : argv[0];
	if (strncmp(base, "fping", 5) == 0)
		return rp_fping_main(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return RP_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("ringprobe %s\n", RP_VERSION);
		return RP_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return RP_EXIT_OK;
	}
	for (size_t i = 0; i < RP_ARRAY_SIZE(commands); i++) {
		size_t d = rp_edit_distance(argv[1], commands[i].name, bestd);

		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
		if (d < bestd) {
			bestd = d;
			best = commands[i].name;
		}
	}
	if (best)
		fprintf(stderr, "ringprobe: unknown command \"%s\" (did you mean %s?)\n", argv[1],
			best);
	else
		fprintf(stderr, "ringprobe: unknown command \"%s\"; see ringprobe --help\n",
			argv[1]);
	return RP_EXIT_USAGE;
}
