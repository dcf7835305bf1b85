/* The lines fping 5.1 prints, format for format (its src/fping.c: sprint_tm,
 * wait_for_reply, main_loop's timeout lines, print_per_system_stats,
 * print_per_system_splits, print_netdata, print_global_stats). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fping.h"

const char *rp_fping_tm(int64_t ns, char buf[16])
{
	double t = (double)ns / 1e6;

	if (t < 0.0)
		snprintf(buf, 16, "%.2g", t);
	else if (t < 1.0)
		snprintf(buf, 16, "%.3f", t);
	else if (t < 10.0)
		snprintf(buf, 16, "%.2f", t);
	else if (t < 100.0)
		snprintf(buf, 16, "%.1f", t);
	else if (t < 1000000.0)
		snprintf(buf, 16, "%.0f", t);
	else
		snprintf(buf, 16, "%.3e", t);
	return buf;
}

void rp_fping_stats_add(struct rp_fping_host *h, uint32_t seq, bool ok, int64_t ns)
{
	h->sent++;
	h->sent_i++;
	if (!ok) {
		if (h->resp)
			h->resp[seq] = -1;
		return;
	}
	h->recv++;
	h->recv_i++;
	if (!h->max || ns > h->max)
		h->max = ns;
	if (!h->max_i || ns > h->max_i)
		h->max_i = ns;
	if (!h->min || ns < h->min)
		h->min = ns;
	if (!h->min_i || ns < h->min_i)
		h->min_i = ns;
	h->total += ns;
	h->total_i += ns;
	if (h->resp)
		h->resp[seq] = ns;
}

static unsigned loss(uint32_t sent, uint32_t recv)
{
	return sent > 0 ? (unsigned)((sent - recv) * 100ull / sent) : 0;
}

void rp_fping_print_probe(const struct rp_fping *f, FILE *out, int width, const char *host,
			  const struct rp_fping_host *h, uint32_t seq, bool ok, int64_t ns,
			  unsigned bytes)
{
	char a[16], b[16];

	if (f->timestamp) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		fprintf(out, "[%.5f] ", (double)now.tv_sec + (double)now.tv_nsec / 1e9);
	}
	if (ok)
		fprintf(out, "%-*s : [%u], %u bytes, %s ms (%s avg, %u%% loss)\n", width, host, seq,
			bytes, rp_fping_tm(ns, a), rp_fping_tm(h->total / h->recv, b),
			loss(h->sent, h->recv));
	else if (h->recv)
		fprintf(out, "%-*s : [%u], timed out (%s avg, %u%% loss)\n", width, host, seq,
			rp_fping_tm(h->total / h->recv, b), loss(h->sent, h->recv));
	else
		fprintf(out, "%-*s : [%u], timed out (NaN avg, %u%% loss)\n", width, host, seq,
			loss(h->sent, h->recv));
}

/* fping 5.1's icmp_unreach_str[], by ICMP destination unreachable code. */
static const char *const unreach4[16] = {
    "ICMP Network Unreachable",
    "ICMP Host Unreachable",
    "ICMP Protocol Unreachable",
    "ICMP Port Unreachable",
    "ICMP Unreachable (Fragmentation Needed)",
    "ICMP Unreachable (Source Route Failed)",
    "ICMP Unreachable (Destination Network Unknown)",
    "ICMP Unreachable (Destination Host Unknown)",
    "ICMP Unreachable (Source Host Isolated)",
    "ICMP Unreachable (Communication with Network Prohibited)",
    "ICMP Unreachable (Communication with Host Prohibited)",
    "ICMP Unreachable (Network Unreachable For Type Of Service)",
    "ICMP Unreachable (Host Unreachable For Type Of Service)",
    "ICMP Unreachable (Communication Administratively Prohibited)",
    "ICMP Unreachable (Host Precedence Violation)",
    "ICMP Unreachable (Precedence cutoff in effect)",
};

/* The same wording for ICMPv6 destination unreachable codes (RFC 4443 3.1). fping
 * 5.1 reads an ICMPv6 error's quote at IPv4 offsets and its type with the ICMPv4
 * table, so it prints nothing useful for one; these lines are ours. */
static const char *const unreach6[7] = {
    "ICMP Network Unreachable",
    "ICMP Unreachable (Communication Administratively Prohibited)",
    "ICMP Unreachable (Beyond Scope of Source Address)",
    "ICMP Host Unreachable",
    "ICMP Port Unreachable",
    "ICMP Unreachable (Source Address Failed Ingress/Egress Policy)",
    "ICMP Unreachable (Reject Route to Destination)",
};

void rp_fping_print_icmp_error(FILE *out, const char *host, const struct rp_probe_result *r,
			       bool v6)
{
	const char *what;
	char from[32] = "";

	if (r->icmp_type == (v6 ? 3 : 11))
		what = "ICMP Time Exceeded";
	else if (v6)
		what =
		    r->icmp_code < 7 ? unreach6[r->icmp_code] : "ICMP Unreachable (Invalid Code)";
	else
		what =
		    r->icmp_code < 16 ? unreach4[r->icmp_code] : "ICMP Unreachable (Invalid Code)";
	/* The sender is in the result for IPv4 errors only (result.h). */
	if (!v6)
		snprintf(from, sizeof(from), " from %u.%u.%u.%u", r->from4[0], r->from4[1],
			 r->from4[2], r->from4[3]);
	fprintf(out, "%s%s for ICMP Echo sent to %s\n", what, from, host);
}

static void print_counts(const struct rp_fping *f, FILE *out, uint32_t sent, uint32_t recv,
			 int64_t min, int64_t total, int64_t max)
{
	char a[16];

	fprintf(out, " xmt/rcv/%%loss = %u/%u/%u%%", sent, recv, loss(sent, recv));
	if (f->outage)
		fprintf(out, ", outage(ms) = %d",
			(int)((double)(sent - recv) * (double)f->period_ns / 1e6));
	if (recv) {
		/* fping averages into an int of nanoseconds */
		fprintf(out, ", min/avg/max = %s", rp_fping_tm(min, a));
		fprintf(out, "/%s", rp_fping_tm((int)(total / recv), a));
		fprintf(out, "/%s", rp_fping_tm(max, a));
	}
	fputc('\n', out);
}

void rp_fping_print_summary(const struct rp_fping *f, FILE *out, int width, const char *host,
			    const struct rp_fping_host *h)
{
	char a[16];

	fprintf(out, "%-*s :", width, host);
	if (f->vcount && h->resp) {
		for (uint32_t j = 0; j < h->sent; j++)
			if (h->resp[j] >= 0)
				fprintf(out, " %s", rp_fping_tm(h->resp[j], a));
			else
				fprintf(out, " -");
		fputc('\n', out);
		return;
	}
	print_counts(f, out, h->sent, h->recv, h->min, h->total, h->max);
}

void rp_fping_print_clock(FILE *out)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	fprintf(out, "[%2.2d:%2.2d:%2.2d]\n", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void rp_fping_print_split(const struct rp_fping *f, FILE *out, int width, const char *host,
			  struct rp_fping_host *h)
{
	fprintf(out, "%-*s :", width, host);
	print_counts(f, out, h->sent_i, h->recv_i, h->min_i, h->total_i, h->max_i);
	h->sent_i = h->recv_i = 0;
	h->min_i = h->max_i = h->total_i = 0;
}

void rp_fping_print_netdata(const struct rp_fping *f, FILE *out, const char *name, const char *host,
			    struct rp_fping_host *h, bool first)
{
	char id[256];
	size_t k = 0;
	double every = (double)f->report_ns / 1e9;

	/* fping puts '_' for every character of the name that is not alphanumeric */
	for (; name[k] && k + 1 < sizeof(id); k++)
		id[k] = (name[k] >= '0' && name[k] <= '9') || (name[k] >= 'a' && name[k] <= 'z') ||
				(name[k] >= 'A' && name[k] <= 'Z')
			    ? name[k]
			    : '_';
	id[k] = '\0';
	if (first) {
		fprintf(out,
			"CHART fping.%s_packets '' 'FPing Packets for host %s' packets '%s' "
			"fping.packets line 110020 %.0f\n",
			id, host, host, every);
		fprintf(out, "DIMENSION xmt sent absolute 1 1\n");
		fprintf(out, "DIMENSION rcv received absolute 1 1\n");
	}
	fprintf(out, "BEGIN fping.%s_packets\n", id);
	fprintf(out, "SET xmt = %u\n", h->sent_i);
	fprintf(out, "SET rcv = %u\n", h->recv_i);
	fprintf(out, "END\n");
	if (first) {
		fprintf(out,
			"CHART fping.%s_quality '' 'FPing Quality for host %s' percentage '%s' "
			"fping.quality area 110010 %.0f\n",
			id, host, host, every);
		fprintf(out, "DIMENSION returned '' absolute 1 1\n");
	}
	fprintf(out, "BEGIN fping.%s_quality\n", id);
	fprintf(out, "SET returned = %u\n", h->sent_i > 0 ? h->recv_i * 100 / h->sent_i : 0);
	fprintf(out, "END\n");
	if (first) {
		fprintf(out,
			"CHART fping.%s_latency '' 'FPing Latency for host %s' ms '%s' "
			"fping.latency area 110000 %.0f\n",
			id, host, host, every);
		fprintf(out, "DIMENSION min minimum absolute 1 1000000\n");
		fprintf(out, "DIMENSION max maximum absolute 1 1000000\n");
		fprintf(out, "DIMENSION avg average absolute 1 1000000\n");
	}
	fprintf(out, "BEGIN fping.%s_latency\n", id);
	if (h->recv_i) {
		fprintf(out, "SET min = %lld\n", (long long)h->min_i);
		fprintf(out, "SET avg = %lld\n", (long long)(h->total_i / h->recv_i));
		fprintf(out, "SET max = %lld\n", (long long)h->max_i);
	}
	fprintf(out, "END\n");
	h->sent_i = h->recv_i = 0;
	h->min_i = h->max_i = h->total_i = 0;
}

void rp_fping_print_global(FILE *out, const struct rp_fping_global *g)
{
	char a[16];
	int64_t min = g->min, max = g->max, sum = g->sum;
	uint64_t n = g->replies;

	fprintf(out, "\n");
	fprintf(out, " %7u targets\n", g->targets);
	fprintf(out, " %7u alive\n", g->alive);
	fprintf(out, " %7u unreachable\n", g->unreachable);
	fprintf(out, " %7u unknown addresses\n", g->noaddress);
	fprintf(out, "\n");
	fprintf(out, " %7u timeouts (waiting for response)\n", g->timeouts);
	fprintf(out, " %7u ICMP Echos sent\n", g->sent);
	fprintf(out, " %7u ICMP Echo Replies received\n", g->received);
	fprintf(out, " %7u other ICMP received\n", g->other);
	fprintf(out, "\n");
	if (n == 0) {
		min = max = sum = 0;
		n = 1;
	}
	fprintf(out, " %s ms (min round trip time)\n", rp_fping_tm(min, a));
	fprintf(out, " %s ms (avg round trip time)\n", rp_fping_tm(sum / (int64_t)n, a));
	fprintf(out, " %s ms (max round trip time)\n", rp_fping_tm(max, a));
	fprintf(out, " %12.3f sec (elapsed real time)\n", (double)g->elapsed_ns / 1e9);
	fprintf(out, "\n");
}
