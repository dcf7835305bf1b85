/* fping 5.1's command line and output, shared by `ringprobe ping` and ringprobe invoked
 * as `fping` (a symlink): the options (fping_opts.c), the lines it prints (fping_out.c)
 * and the run (cmd_ping.c). */
#ifndef RP_CLI_FPING_H
#define RP_CLI_FPING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ringprobe/addr.h"
#include "ringprobe/conf.h"
#include "ringprobe/result.h"

/* fping 5.1's limits and defaults (src/options.h, src/fping.c). */
#define RP_FPING_DEFAULT_SIZE 56
#define RP_FPING_MAX_SIZE 65488 /* fping's MAX_IP_PACKET (65536) - SIZE_IP_HDR (40) - 8 */
#define RP_FPING_MAX_GENERATE 100000

/* What rp_fping_option and rp_fping_check found wrong. */
/* RP_FPING_PERROR: msg is the whole line, as perror() prints it. */
enum { RP_FPING_OK = 0, RP_FPING_USAGE, RP_FPING_ERR, RP_FPING_PERROR };

struct rp_fping {
	const char *prog; /* argv[0], as fping prints it */
	bool fping;	  /* invoked as fping: fping's messages and exit codes */
	/* Probing. */
	int family; /* 0, 4 or 6 */
	unsigned size;
	float backoff;
	unsigned count; /* -c/-C N; 1 otherwise */
	bool count_flag, vcount, loop;
	unsigned retry;
	int64_t timeout_ns, interval_ns, period_ns, report_ns;
	bool timeout_flag, interval_flag;
	unsigned ttl;
	int tos;
	bool tos_set, dontfrag, random, all;
	bool src4_set, src6_set;
	struct rp_ip src4, src6;
	char iface[16];
	uint32_t fwmark;
	/* Targets. */
	const char *file;
	bool generate, allow_large;
	/* Output. */
	bool alive, addr, rdns, name, timestamp, elapsed, netdata, outage, quiet, stats, unreach;
	bool verbose, per_recv; /* derived as fping derives them (rp_fping_check) */
	unsigned min_reachable, fast_reachable;
	bool json; /* ringprobe ping --output json */
};

/** fping 5.1's defaults; prog is what messages start with. */
void rp_fping_defaults(struct rp_fping *f, const char *prog, bool fping);
/** Applies one option (its short letter; 'k' fwmark and 'X' fast-reachable as fping
 *  5.2 has them) with its argument as fping 5.1 does: RP_FPING_OK, RP_FPING_USAGE (fping
 *  prints its usage and exits 1) or RP_FPING_ERR with fping's message (without the
 *  "prog: " fping puts before it) in msg. */
int rp_fping_option(struct rp_fping *f, int c, const char *arg, char *msg, size_t len);
/** fping's checks after the options, then its derived flags (verbose, per_recv, the
 *  timeout of -c/-l). Same returns. */
int rp_fping_check(struct rp_fping *f, bool have_args, char *msg, size_t len);
/** fping 5.1's usage text, with the defaults as they stand (fping prints its current
 *  -p and -t). */
void rp_fping_usage(const struct rp_fping *f, FILE *out);
/** `ringprobe` invoked as fping: fping 5.1's command line, output and exit codes. */
int rp_fping_main(int argc, char **argv);
/** The run (cmd_ping.c) after the options: resolves the targets (args, -f FILE or
 *  standard input, -g), probes and prints as fping. c: ringprobe ping's configuration,
 *  or NULL for the defaults (invoked as fping). Returns the exit code (fping's when
 *  f->fping, else ringprobe's). */
int rp_ping_fping_run(struct rp_fping *f, const struct rp_conf *c, char **args, int nargs);

/* fping_out.c: the lines fping prints. */
/** fping's sprint_tm: milliseconds with three significant digits. */
const char *rp_fping_tm(int64_t ns, char buf[16]);

/** One target's counts as fping keeps them (all and since the last -Q report). */
struct rp_fping_host {
	uint32_t sent, recv, sent_i, recv_i;
	int64_t min, max, total, min_i, max_i, total_i;
	int64_t *resp; /* -C: every probe's time, -1 lost; else NULL */
};

void rp_fping_stats_add(struct rp_fping_host *h, uint32_t seq, bool ok, int64_t ns);
/** "host : [seq], 64 bytes, 0.05 ms (0.05 avg, 0% loss)" or the "timed out" line. */
void rp_fping_print_probe(const struct rp_fping *f, FILE *out, int width, const char *host,
			  const struct rp_fping_host *h, uint32_t seq, bool ok, int64_t ns,
			  unsigned bytes);
/** The line fping 5.1 prints (to stderr, unless -q) when an ICMP error quotes one of
 *  its echoes: "ICMP Host Unreachable from 198.51.100.1 for ICMP Echo sent to HOST".
 *  `r` is the failed result that carries the error; v6 says the target is IPv6. */
void rp_fping_print_icmp_error(FILE *out, const char *host, const struct rp_probe_result *r,
			       bool v6);
/** The final per-target line: -C's list of times, else xmt/rcv/%loss[, outage][, min/avg/max]. */
void rp_fping_print_summary(const struct rp_fping *f, FILE *out, int width, const char *host,
			    const struct rp_fping_host *h);
/** -Q's interval line (and reset of the interval counts). */
void rp_fping_print_split(const struct rp_fping *f, FILE *out, int width, const char *host,
			  struct rp_fping_host *h);
/** The "[hh:mm:ss]" line before -Q's interval lines. */
void rp_fping_print_clock(FILE *out);
/** -N: one target's netdata block; charts on the first call (first = true). */
void rp_fping_print_netdata(const struct rp_fping *f, FILE *out, const char *name, const char *host,
			    struct rp_fping_host *h, bool first);

/** -s: fping's final statistics. */
struct rp_fping_global {
	unsigned targets, alive, unreachable, noaddress;
	unsigned timeouts, sent, received, other;
	int64_t min, max, sum;
	uint64_t replies;
	int64_t elapsed_ns;
};
void rp_fping_print_global(FILE *out, const struct rp_fping_global *g);

#endif
