/* Line-protocol encoding throughput on one core (STYLE.md section 11):
 *   ping_ok      rp_line_ping, successful results
 *   ping_fail    rp_line_ping, failed results (no rtt_ms field)
 *   device_info  rp_line_point: one tag, five string fields and an integer, as the SNMP
 *                enrichment writes them (the generic path: cleaning, escaping, bounds)
 *   round        rp_line_point: a ping_round point's fields (two integers, loss_pct and
 *                five RTT statistics in ms as whole ns, a boolean): float formatting
 * Inputs (random addresses, RTTs and device strings) are precomputed into arrays. Each case
 * encodes into one 1 MiB pool buffer, resetting it when full as a flush would, runs a
 * warm-up, then a fixed count timed with CLOCK_MONOTONIC, and prints one line. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringprobe/addr.h"
#include "ringprobe/compiler.h"
#include "ringprobe/line.h"
#include "support/support.h"
#include "writer/pool.h"

#define NRESULTS 4096u /* power of two: index with a mask */
#define NDEVICES 256u
#define BUF_SIZE (1u << 20)
#define MAX_STRING 256

struct device {
	char ip[RP_ADDR_STRLEN];
	char hostname[32];
	char descr[160];
	char oid[48];
	char location[64];
	char contact[48];
	int64_t uptime_s;
};

static struct rp_probe_result results[NRESULTS];
static struct device devices[NDEVICES];
static uint64_t total_bytes;

static void make_inputs(void)
{
	static const char *models[] = {"C2960-LANBASEK9-M", "C3750E-UNIVERSALK9-M", "ASR1000-RP2"};
	uint64_t seed = 0x5eed;

	for (uint32_t i = 0; i < NRESULTS; i++) {
		struct rp_probe_result *r = &results[i];

		r->sent_ns = 1732550400000000000ull + (uint64_t)i * 1000003;
		r->addr = rp_ip_v4((uint32_t)sup_xorshift64(&seed));
		r->rtt_ns = 20000 + sup_xorshift64(&seed) % 200000000; /* 20 us .. 200 ms */
		r->id = i;
		r->suspended = (sup_xorshift64(&seed) & 63) == 0;
	}
	for (uint32_t i = 0; i < NDEVICES; i++) {
		struct device *d = &devices[i];
		uint32_t a = (uint32_t)sup_xorshift64(&seed);

		rp_addr_format(a, d->ip);
		snprintf(d->hostname, sizeof(d->hostname), "sw-core-%03u.dc1", i);
		snprintf(d->descr, sizeof(d->descr),
			 "Cisco IOS Software, Catalyst Software (%s), Version 15.0(2)SE11, "
			 "RELEASE SOFTWARE (fc3)\r\nCopyright (c) 1986-2017 by Cisco Systems, Inc.",
			 models[i % 3]);
		snprintf(d->oid, sizeof(d->oid), ".1.3.6.1.4.1.9.1.%u", 500 + i);
		snprintf(d->location, sizeof(d->location), "DC1, Row %u, Rack \"B%u\"", i / 16,
			 i % 16);
		snprintf(d->contact, sizeof(d->contact), "noc@example.net");
		d->uptime_s = (int64_t)(sup_xorshift64(&seed) % 40000000);
	}
}

static int encode_ping(struct rp_linebuf *b, uint64_t i, int success)
{
	struct rp_probe_result r = results[i & (NRESULTS - 1)];

	r.success = (uint8_t)success;
	return rp_line_ping(b, &r, NULL);
}

static int encode_device(struct rp_linebuf *b, uint64_t i)
{
	const struct device *d = &devices[i & (NDEVICES - 1)];
	struct rp_tag tag = {"ip", d->ip};
	struct rp_field f[6] = {
	    {.key = "hostname", .type = RP_FIELD_STRING, .v.s = d->hostname},
	    {.key = "snmp_description", .type = RP_FIELD_STRING, .v.s = d->descr},
	    {.key = "snmp_object_id", .type = RP_FIELD_STRING, .v.s = d->oid},
	    {.key = "snmp_location", .type = RP_FIELD_STRING, .v.s = d->location},
	    {.key = "snmp_contact", .type = RP_FIELD_STRING, .v.s = d->contact},
	    {.key = "snmp_uptime_s", .type = RP_FIELD_INT, .v.i = d->uptime_s},
	};

	return rp_line_point(b, "device_info", &tag, 1, f, RP_ARRAY_SIZE(f),
			     results[i & (NRESULTS - 1)].sent_ns, MAX_STRING);
}

/* A ping_round point as src/writer/events.c writes it: RTTs are whole ns in ms. */
static int encode_round(struct rp_linebuf *b, uint64_t i)
{
	const struct rp_probe_result *r = &results[i & (NRESULTS - 1)];
	const struct device *d = &devices[i & (NDEVICES - 1)];
	struct rp_tag tag = {"ip", d->ip};
	uint64_t rtt = r->rtt_ns;
	int64_t received = 5 - (int64_t)(i % 7 == 0);
	struct rp_field f[9] = {
	    {.key = "sent", .type = RP_FIELD_INT, .v.i = 5},
	    {.key = "received", .type = RP_FIELD_INT, .v.i = received},
	    {.key = "loss_pct", .type = RP_FIELD_FLOAT, .v.f = 100.0 * (double)(5 - received) / 5},
	    {.key = "rtt_min_ms", .type = RP_FIELD_FLOAT, .v.f = (double)(rtt - rtt / 9) / 1e6},
	    {.key = "rtt_avg_ms", .type = RP_FIELD_FLOAT, .v.f = (double)rtt / 1e6},
	    {.key = "rtt_median_ms", .type = RP_FIELD_FLOAT, .v.f = (double)(rtt + 17) / 1e6},
	    {.key = "rtt_max_ms", .type = RP_FIELD_FLOAT, .v.f = (double)(rtt + rtt / 7) / 1e6},
	    {.key = "rtt_stddev_ms", .type = RP_FIELD_FLOAT, .v.f = (double)(rtt / 13) / 1e6},
	    {.key = "suspended", .type = RP_FIELD_BOOL, .v.b = false},
	};

	return rp_line_point(b, "ping_round", &tag, 1, f, RP_ARRAY_SIZE(f), r->sent_ns, MAX_STRING);
}

enum bench_case { PING_OK, PING_FAIL, DEVICE_INFO, ROUND };

/* Encodes `n` points of one case; a full buffer is reset (flushed) and the point retried. */
static void run(struct rp_linebuf *b, enum bench_case c, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int rc;

		for (;;) {
			if (c == DEVICE_INFO)
				rc = encode_device(b, i);
			else if (c == ROUND)
				rc = encode_round(b, i);
			else
				rc = encode_ping(b, i, c == PING_OK);
			if (RP_LIKELY(rc != -ENOSPC))
				break;
			total_bytes += b->len;
			rp_line_reset(b);
		}
		if (rc) {
			fprintf(stderr, "bench_line: encode failed: %d\n", rc);
			exit(1);
		}
	}
}

static void bench(struct rp_linebuf *b, const char *name, enum bench_case c, uint64_t n)
{
	uint64_t t0, t1, bytes0;
	double secs;

	run(b, c, n / 10); /* warm-up */
	total_bytes += b->len;
	rp_line_reset(b);
	bytes0 = total_bytes;
	t0 = sup_clock_ns(CLOCK_MONOTONIC);
	run(b, c, n);
	t1 = sup_clock_ns(CLOCK_MONOTONIC);
	total_bytes += b->len;
	rp_line_reset(b);
	secs = (double)(t1 - t0) / 1e9;
	printf("bench=line case=%s points=%llu mpoints_per_s=%.1f ns_per_point=%.1f "
	       "bytes_per_point=%.1f\n",
	       name, (unsigned long long)n, (double)n / secs / 1e6, (double)(t1 - t0) / (double)n,
	       (double)(total_bytes - bytes0) / (double)n);
}

int main(void)
{
	struct rp_pool *pool;
	struct rp_linebuf *b;

	if (rp_pool_create(&pool, 1, BUF_SIZE) != 0)
		return 1;
	b = rp_pool_get(pool);
	make_inputs();
	bench(b, "ping_ok", PING_OK, 20000000);
	bench(b, "ping_fail", PING_FAIL, 20000000);
	bench(b, "device_info", DEVICE_INFO, 2000000);
	bench(b, "round", ROUND, 2000000);
	rp_pool_put(pool, b);
	rp_pool_destroy(pool);
	return total_bytes == 0;
}
