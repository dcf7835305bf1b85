/* fping 5.1's command line: its options, defaults, checks, messages and usage text,
 * copied from its src/fping.c (main() and usage()) so that a program that runs fping
 * sees the same words and exit codes. `ringprobe ping` applies the same options through
 * its own parser (cmd_ping.c) and turns these messages into its diagnostics. */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "fping.h"
#include "ringprobe/icmp.h"
#include "optparse.h"

/* The version `fping -v` reports: the fping whose command line this is. */
#define FPING_VERSION "5.1"

void rp_fping_defaults(struct rp_fping *f, const char *prog, bool fping)
{
	memset(f, 0, sizeof(*f));
	f->prog = prog;
	f->fping = fping;
	f->size = RP_FPING_DEFAULT_SIZE;
	f->backoff = 1.5f;
	f->count = 1;
	f->retry = 3;
	f->timeout_ns = 500 * 1000000ll;
	f->interval_ns = 10 * 1000000ll;
	f->period_ns = 1000 * 1000000ll;
	f->verbose = true;
}

/* sscanf "%f" as fping reads -t -i -p -Q: a number >= 0, else usage. */
static int msec(const char *arg, int64_t *out, double scale)
{
	float v;

	if (!arg || sscanf(arg, "%f", &v) != 1 || v < 0)
		return RP_FPING_USAGE;
	*out = (int64_t)(v * scale);
	return RP_FPING_OK;
}

int rp_fping_option(struct rp_fping *f, int c, const char *arg, char *msg, size_t len)
{
	switch (c) {
	case '4':
	case '6':
		if (f->family && f->family != (c == '4' ? 4 : 6)) {
			snprintf(msg, len, "can't specify both -4 and -6");
			return RP_FPING_ERR;
		}
		f->family = c == '4' ? 4 : 6;
		return RP_FPING_OK;
	case 'M':
		f->dontfrag = true;
		return RP_FPING_OK;
	case 't':
		f->timeout_flag = true;
		return msec(arg, &f->timeout_ns, 1e6);
	case 'r':
		return sscanf(arg, "%u", &f->retry) == 1 ? RP_FPING_OK : RP_FPING_USAGE;
	case 'i':
		f->interval_flag = true;
		return msec(arg, &f->interval_ns, 1e6);
	case 'p':
		return msec(arg, &f->period_ns, 1e6);
	case 'c':
	case 'C':
		if (!(f->count = (unsigned)atoi(arg)))
			return RP_FPING_USAGE;
		f->count_flag = true;
		f->vcount |= c == 'C';
		return RP_FPING_OK;
	case 'b':
		return sscanf(arg, "%u", &f->size) == 1 ? RP_FPING_OK : RP_FPING_USAGE;
	case 'q':
		f->verbose = false;
		f->quiet = true;
		return RP_FPING_OK;
	case 'Q':
		f->verbose = false;
		f->quiet = true;
		return msec(arg, &f->report_ns, 1e9);
	case 'e':
		f->elapsed = true;
		return RP_FPING_OK;
	case 'm':
		f->all = true;
		return RP_FPING_OK;
	case 'N':
		f->netdata = true;
		return RP_FPING_OK;
	case 'n':
	case 'd':
		if (c == 'n')
			f->name = true;
		else
			f->rdns = true;
		if (f->name && f->rdns) {
			snprintf(msg, len, "use either one of -d or -n");
			return RP_FPING_ERR;
		}
		return RP_FPING_OK;
	case 'A':
		f->addr = true;
		return RP_FPING_OK;
	case 'B':
		return (f->backoff = (float)atof(arg)) != 0 ? RP_FPING_OK : RP_FPING_USAGE;
	case 's':
		f->stats = true;
		return RP_FPING_OK;
	case 'D':
		f->timestamp = true;
		return RP_FPING_OK;
	case 'R':
		f->random = true;
		return RP_FPING_OK;
	case 'l':
		f->loop = true;
		return RP_FPING_OK;
	case 'u':
		f->unreach = true;
		return RP_FPING_OK;
	case 'a':
		f->alive = true;
		return RP_FPING_OK;
	case 'H':
		return (f->ttl = (unsigned)atoi(arg)) != 0 ? RP_FPING_OK : RP_FPING_USAGE;
	case 'x':
		return (f->min_reachable = (unsigned)atoi(arg)) != 0 ? RP_FPING_OK : RP_FPING_USAGE;
	case 'X': /* fping 5.2: -x N, and stop as soon as N answered */
		if (!(f->min_reachable = (unsigned)atoi(arg)))
			return RP_FPING_USAGE;
		f->fast_reachable = f->min_reachable;
		return RP_FPING_OK;
	case 'k': /* fping 5.2: SO_MARK */
		return sscanf(arg, "%u", &f->fwmark) == 1 ? RP_FPING_OK : RP_FPING_USAGE;
	case 'f':
		f->file = arg;
		return RP_FPING_OK;
	case 'g':
		f->generate = true;
		return RP_FPING_OK;
	case 'S': {
		struct rp_ip a;

		if (rp_ip_parse(arg, &a)) {
			if (rp_ip_is_v4(&a))
				f->src4 = a, f->src4_set = true;
			else
				f->src6 = a, f->src6_set = true;
			return RP_FPING_OK;
		}
	}
		snprintf(msg, len, "can't parse source address: %s", arg);
		return RP_FPING_ERR;
	case 'I':
		/* fping binds its sockets here and reports as perror() does. */
		if (strlen(arg) >= sizeof(f->iface) || !if_nametoindex(arg)) {
			snprintf(msg, len, "binding to specific interface (SO_BINTODEVICE): %s",
				 strlen(arg) >= sizeof(f->iface) ? "Numerical result out of range"
								 : "No such device");
			return RP_FPING_PERROR;
		}
		snprintf(f->iface, sizeof(f->iface), "%s", arg);
		return RP_FPING_OK;
	case 'T': /* ignored, as fping ignores it */
		return RP_FPING_OK;
	case 'O':
		if (sscanf(arg, "%i", &f->tos) != 1)
			return RP_FPING_USAGE;
		f->tos_set = true;
		return RP_FPING_OK;
	case 'o':
		f->outage = true;
		return RP_FPING_OK;
	default:
		return RP_FPING_USAGE;
	}
}

int rp_fping_check(struct rp_fping *f, bool have_args, char *msg, size_t len)
{
	/* fping 5.1 checks in this order. */
	if (f->ttl > 255) {
		snprintf(msg, len, "ttl %u out of range", f->ttl);
		return RP_FPING_ERR;
	}
	if (f->unreach && f->alive) {
		snprintf(msg, len, "specify only one of a, u");
		return RP_FPING_ERR;
	}
	if (f->count_flag && f->loop) {
		snprintf(msg, len, "specify only one of c, l");
		return RP_FPING_ERR;
	}
	/* Debian builds fping with FPING_SAFE_LIMITS: only root may go below them. */
	if (f->fping && (f->interval_ns < 1000000 || f->period_ns < 10000000) && getuid()) {
		snprintf(msg, len,
			 "these options are too risky for mere mortals.\n%s: You need -i >= 1 "
			 "and -p >= 10",
			 f->prog);
		return RP_FPING_ERR;
	}
	/* fping sends as little as 0 bytes; ringprobe's requests carry their own fields
	 * (timestamp, sequence, MAC) in the first RP_ICMP_FIELDS_LEN, and a reply is matched
	 * and trusted by them: a smaller payload is refused, naming the flag. */
	if (f->size < RP_ICMP_FIELDS_LEN) {
		snprintf(
		    msg, len,
		    "data size %u not valid for ringprobe, must be at least %u (-b: its echo "
		    "requests carry a timestamp, a sequence and a MAC in their first %u bytes)",
		    f->size, (unsigned)RP_ICMP_FIELDS_LEN, (unsigned)RP_ICMP_FIELDS_LEN);
		return RP_FPING_ERR;
	}
	if (f->size > RP_FPING_MAX_SIZE) {
		snprintf(msg, len, "data size %u not valid, must be lower than %u", f->size,
			 RP_FPING_MAX_SIZE);
		return RP_FPING_ERR;
	}
	if (f->backoff > 5.0f || f->backoff < 1.0f) {
		snprintf(msg, len, "backoff factor %.1f not valid, must be between %.1f and %.1f",
			 f->backoff, 1.0, 5.0);
		return RP_FPING_ERR;
	}
	if (f->alive || f->unreach || f->min_reachable)
		f->verbose = false;
	if (f->count_flag) {
		if (f->verbose)
			f->per_recv = true;
		f->alive = f->unreach = f->verbose = false;
	}
	if (f->loop) {
		if (!f->report_ns)
			f->per_recv = true;
		f->alive = f->unreach = f->verbose = false;
	}
	/* -c and -l: the timeout is the period, up to 2 s (fping's github #32). */
	if ((f->loop || f->count_flag) && !f->timeout_flag)
		f->timeout_ns = f->period_ns < 2000000000ll ? f->period_ns : 2000000000ll;
	/* -f, -g and targets: one source of targets; -g needs its arguments. */
	if ((have_args && f->file) || (f->file && f->generate) || (f->generate && !have_args))
		return RP_FPING_USAGE;
	return RP_FPING_OK;
}

void rp_fping_usage(const struct rp_fping *f, FILE *out)
{
	const char *prog = f->prog;

	fprintf(out, "Usage: %s [options] [targets...]\n", prog);
	fprintf(out, "\n");
	fprintf(out, "Probing options:\n");
	fprintf(out, "   -4, --ipv4         only ping IPv4 addresses\n");
	fprintf(out, "   -6, --ipv6         only ping IPv6 addresses\n");
	fprintf(out, "   -b, --size=BYTES   amount of ping data to send, in bytes (default: %d)\n",
		RP_FPING_DEFAULT_SIZE);
	fprintf(out, "   -B, --backoff=N    set exponential backoff factor to N (default: 1.5)\n");
	fprintf(out, "   -c, --count=N      count mode: send N pings to each target\n");
	fprintf(out, "   -f, --file=FILE    read list of targets from a file ( - means stdin)\n");
	fprintf(out, "   -g, --generate     generate target list (only if no -f specified)\n");
	fprintf(out, "                      (give start and end IP in the target list, or a "
		     "CIDR address)\n");
	fprintf(out,
		"                      (ex. %s -g 192.168.1.0 192.168.1.255 or %s -g "
		"192.168.1.0/24)\n",
		prog, prog);
	fprintf(out, "   -H, --ttl=N        set the IP TTL value (Time To Live hops)\n");
	fprintf(out, "   -I, --iface=IFACE  bind to a particular interface\n");
	fprintf(out, "   -l, --loop         loop mode: send pings forever\n");
	fprintf(out, "   -m, --all          use all IPs of provided hostnames (e.g. IPv4 and "
		     "IPv6), use with -A\n");
	fprintf(out, "   -M, --dontfrag     set the Don't Fragment flag\n");
	fprintf(out,
		"   -O, --tos=N        set the type of service (tos) flag on the ICMP packets\n");
	fprintf(out, "   -p, --period=MSEC  interval between ping packets to one target (in ms)\n");
	fprintf(out, "                      (in loop and count modes, default: %.0f ms)\n",
		(double)f->period_ns / 1e6);
	fprintf(out, "   -r, --retry=N      number of retries (default: %d)\n", 3);
	fprintf(out, "   -R, --random       random packet data (to foil link data compression)\n");
	fprintf(out, "   -S, --src=IP       set source address\n");
	fprintf(out, "   -t, --timeout=MSEC individual target initial timeout (default: %.0f ms,\n",
		(double)f->timeout_ns / 1e6);
	fprintf(out, "                      except with -l/-c/-C, where it's the -p period up "
		     "to 2000 ms)\n");
	fprintf(out, "\n");
	fprintf(out, "Output options:\n");
	fprintf(out, "   -a, --alive        show targets that are alive\n");
	fprintf(out, "   -A, --addr         show targets by address\n");
	fprintf(out, "   -C, --vcount=N     same as -c, report results in verbose format\n");
	fprintf(out, "   -d, --rdns         show targets by name (force reverse-DNS lookup)\n");
	fprintf(out, "   -D, --timestamp    print timestamp before each output line\n");
	fprintf(out, "   -e, --elapsed      show elapsed time on return packets\n");
	fprintf(out,
		"   -i, --interval=MSEC  interval between sending ping packets (default: %.0f "
		"ms)\n",
		(double)f->interval_ns / 1e6);
	fprintf(out, "   -n, --name         show targets by name (reverse-DNS lookup for target "
		     "IPs)\n");
	fprintf(out, "   -N, --netdata      output compatible for netdata (-l -Q are required)\n");
	fprintf(out, "   -o, --outage       show the accumulated outage time (lost packets * "
		     "packet interval)\n");
	fprintf(out, "   -q, --quiet        quiet (don't show per-target/per-ping results)\n");
	fprintf(out, "   -Q, --squiet=SECS  same as -q, but add interval summary every SECS "
		     "seconds\n");
	fprintf(out, "   -s, --stats        print final stats\n");
	fprintf(out, "   -u, --unreach      show targets that are unreachable\n");
	fprintf(out, "   -v, --version      show version\n");
	fprintf(out, "   -x, --reachable=N  shows if >=N hosts are reachable or not\n");
}

int rp_fping_main(int argc, char **argv)
{
	static const struct optparse_long longopts[] = {
	    {"ipv4", '4', OPTPARSE_NONE},
	    {"ipv6", '6', OPTPARSE_NONE},
	    {"alive", 'a', OPTPARSE_NONE},
	    {"addr", 'A', OPTPARSE_NONE},
	    {"size", 'b', OPTPARSE_REQUIRED},
	    {"backoff", 'B', OPTPARSE_REQUIRED},
	    {"count", 'c', OPTPARSE_REQUIRED},
	    {"vcount", 'C', OPTPARSE_REQUIRED},
	    {"rdns", 'd', OPTPARSE_NONE},
	    {"timestamp", 'D', OPTPARSE_NONE},
	    {"elapsed", 'e', OPTPARSE_NONE},
	    {"file", 'f', OPTPARSE_REQUIRED},
	    {"generate", 'g', OPTPARSE_NONE},
	    {"help", 'h', OPTPARSE_NONE},
	    {"ttl", 'H', OPTPARSE_REQUIRED},
	    {"interval", 'i', OPTPARSE_REQUIRED},
	    {"iface", 'I', OPTPARSE_REQUIRED},
	    {"fwmark", 'k', OPTPARSE_REQUIRED},
	    {"loop", 'l', OPTPARSE_NONE},
	    {"all", 'm', OPTPARSE_NONE},
	    {"dontfrag", 'M', OPTPARSE_NONE},
	    {"name", 'n', OPTPARSE_NONE},
	    {"netdata", 'N', OPTPARSE_NONE},
	    {"outage", 'o', OPTPARSE_NONE},
	    {"tos", 'O', OPTPARSE_REQUIRED},
	    {"period", 'p', OPTPARSE_REQUIRED},
	    {"quiet", 'q', OPTPARSE_NONE},
	    {"squiet", 'Q', OPTPARSE_REQUIRED},
	    {"retry", 'r', OPTPARSE_REQUIRED},
	    {"random", 'R', OPTPARSE_NONE},
	    {"stats", 's', OPTPARSE_NONE},
	    {"src", 'S', OPTPARSE_REQUIRED},
	    {"timeout", 't', OPTPARSE_REQUIRED},
	    {NULL, 'T', OPTPARSE_REQUIRED},
	    {"unreach", 'u', OPTPARSE_NONE},
	    {"version", 'v', OPTPARSE_NONE},
	    {"reachable", 'x', OPTPARSE_REQUIRED},
	    {"fast-reachable", 'X', OPTPARSE_REQUIRED},
	    /* ringprobe's own, last: optparse builds its short options from the table. */
	    {"allow-large", 0, OPTPARSE_NONE},
	    {0, 0, 0},
	};
	struct optparse st;
	struct rp_fping f;
	char msg[512];
	int c, r;

	rp_fping_defaults(&f, argv[0], true);
	if (strstr(f.prog, "fping6")) /* as fping 5.1 called by that name */
		f.family = 6;
	/* As fping: -h alone is answered before anything else. */
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		rp_fping_usage(&f, stdout);
		return 0;
	}
	optparse_init(&st, argv);
	while ((c = optparse_long(&st, longopts, NULL)) != -1) {
		if (c == '?') {
			fprintf(stderr, "%s: %s\n", argv[0], st.errmsg);
			fprintf(stderr, "see 'fping -h' for usage information\n");
			return 1;
		}
		if (c == 'h') {
			rp_fping_usage(&f, stdout);
			return 0;
		}
		if (c == 'v') {
			printf("%s: Version %s (ringprobe %s)\n", f.prog, FPING_VERSION,
			       RP_VERSION);
			return 0;
		}
		if (c == 0) {
			f.allow_large = true;
			continue;
		}
		r = rp_fping_option(&f, c, st.optarg, msg, sizeof(msg));
		if (r != RP_FPING_OK)
			goto bad;
	}
	r = rp_fping_check(&f, st.optind < argc, msg, sizeof(msg));
	if (r != RP_FPING_OK)
		goto bad;
	return rp_ping_fping_run(&f, NULL, argv + st.optind, argc - st.optind);
bad:
	if (r == RP_FPING_USAGE)
		rp_fping_usage(&f, stderr);
	else if (r == RP_FPING_PERROR)
		fprintf(stderr, "%s\n", msg);
	else
		fprintf(stderr, "%s: %s\n", f.prog, msg);
	return 1;
}
