/* The writer thread end to end (src/writer/writer.c with flush.c, spool.c, line.c, pool.c)
 * against real sinks started by the tests on free 127.0.0.1 ports: influxd (v1) and
 * victoria-metrics (v2), plus a canned loopback server for 429/Retry-After and
 * silence. Covers exact read-back, gzip on and off, TLS (influxdb.ca_file, default
 * verification, insecure_skip_verify), 401/404/400/413, backoff and Retry-After, an
 * outage with the server killed and restarted, a writer SIGKILLed while spooling and a
 * torn spool tail, hostile strings, and stopping within the timeout. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ringprobe/line.h"
#include "ringprobe/result.h"
#include "ringprobe/spsc.h"
#include "ringprobe/writer.h"
#include "support/support.h"

#define RING_CAP (1u << 16)
#define MAX_STRING 1024

struct rig {
	struct rp_conf conf;
	struct rp_spsc *rings[2];
	struct rp_writer *w;
	char spool[64];
	char log[64];
	int saved_stderr;
};

static void set_str(char **field, const char *v)
{
	free(*field);
	*field = v ? strdup(v) : NULL;
}

/* Defaults for a test writer: small batches, a short flush interval, a spool. */
static void rig_init(struct rig *r, const char *url)
{
	memset(r, 0, sizeof(*r));
	r->saved_stderr = -1;
	rp_conf_init(&r->conf);
	set_str(&r->conf.influxdb.url, url);
	r->conf.influxdb.batch_size = 500;
	r->conf.influxdb.buffer_size = 20000;
	r->conf.influxdb.flush_interval = 50 * RP_NSEC_PER_MSEC;
	r->conf.influxdb.max_inflight = 4;
	r->conf.influxdb.timeout = 5 * RP_NSEC_PER_SEC;
	r->conf.influxdb.gzip = true;
	strcpy(r->spool, "/tmp/rp-wspool-XXXXXX");
	cr_assert_not_null(mkdtemp(r->spool));
	sup_rm_at_exit(r->spool);
	set_str(&r->conf.spool.dir, r->spool);
	r->conf.spool.max_bytes = 64 << 20;
	r->conf.spool.fsync = RP_FSYNC_BATCH;
	for (int i = 0; i < 2; i++)
		cr_assert_eq(rp_spsc_create(&r->rings[i], RING_CAP, sizeof(struct rp_probe_result)),
			     0);
}

static void rig_v1(struct rig *r, const char *url, const char *db)
{
	rig_init(r, url);
	set_str(&r->conf.influxdb.database, db);
}

/* Sends the writer's log lines to a file the test can read. */
static void capture_log(struct rig *r)
{
	int fd;

	strcpy(r->log, "/tmp/rp-wlog-XXXXXX");
	fd = mkstemp(r->log);
	cr_assert_geq(fd, 0);
	sup_rm_at_exit(r->log);
	fflush(stderr);
	r->saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

static void fast_tuning(struct rp_writer_tuning *t)
{
	rp_writer_tuning_init(t);
	t->backoff_min_ns = 100 * RP_NSEC_PER_MSEC;
	t->backoff_max_ns = 400 * RP_NSEC_PER_MSEC;
	t->slow_retry_ns = 300 * RP_NSEC_PER_MSEC;
	t->max_string = MAX_STRING;
	t->spool_segment_bytes = 256 << 10;
}

static void rig_start_tuned(struct rig *r, const struct rp_writer_tuning *t)
{
	char why[512] = "";
	int ret = rp_writer_create(&r->w, &r->conf, r->rings, 2, t, why, sizeof(why));

	cr_assert_eq(ret, 0, "rp_writer_create: %d %s", ret, why);
	cr_assert_eq(rp_writer_start(r->w), 0);
}

static void rig_start(struct rig *r)
{
	struct rp_writer_tuning t;

	fast_tuning(&t);
	rig_start_tuned(r, &t);
}

static struct rp_writer_stats st(struct rig *r)
{
	struct rp_writer_stats s;

	rp_writer_stats(r->w, &s);
	return s;
}

static void rig_stop(struct rig *r)
{
	if (r->w) {
		cr_assert_eq(rp_writer_stop(r->w, 5 * RP_NSEC_PER_SEC), 0);
		rp_writer_destroy(r->w);
		r->w = NULL;
	}
}

static void rig_fini(struct rig *r)
{
	rig_stop(r);
	for (int i = 0; i < 2; i++)
		rp_spsc_destroy(r->rings[i]);
	rp_conf_fini(&r->conf);
	sup_rm_rf(r->spool);
	if (r->saved_stderr >= 0) {
		dup2(r->saved_stderr, 2);
		close(r->saved_stderr);
		unlink(r->log);
	}
}

/* Probe result i of network `net` (the second octet tells test phases apart). */
static uint64_t base_ts;

static struct rp_probe_result result(uint8_t net, uint32_t i)
{
	struct rp_probe_result r = {0};

	r.sent_ns = base_ts + (uint64_t)net * 100000000000ull + (uint64_t)i * 1000;
	r.addr = rp_ip_v4(10u << 24 | (uint32_t)net << 16 | (i & 0xffff));
	r.rtt_ns = 1000000 + (uint64_t)(i % 5000) * 1001;
	r.success = i % 10 != 0;
	r.suspended = i % 50 == 0;
	r.id = i;
	return r;
}

static void init_base_ts(void)
{
	base_ts = ((uint64_t)time(NULL) - 7200) * 1000000000ull;
}

static void push_range(struct rp_spsc *ring, uint8_t net, uint32_t first, uint32_t count)
{
	struct rp_probe_result batch[64];

	for (uint32_t i = 0; i < count;) {
		uint32_t n = count - i < 64 ? count - i : 64;

		for (uint32_t k = 0; k < n; k++)
			batch[k] = result(net, first + i + k);
		while (!rp_spsc_try_push(ring, batch, n))
			sup_sleep_ms(1);
		i += n;
	}
}

/* Points first..first+count of net split over both rings (even/odd blocks of 1000). */
static void push_both(struct rig *r, uint8_t net, uint32_t first, uint32_t count)
{
	for (uint32_t b = 0; b < count; b += 1000) {
		uint32_t n = count - b < 1000 ? count - b : 1000;

		push_range(r->rings[(b / 1000) & 1], net, first + b, n);
	}
}

struct producer {
	struct rp_spsc *ring;
	uint8_t net;
	uint32_t first, count;
	double seconds; /* spread over this long */
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	double t0 = sup_now();

	for (uint32_t i = 0; i < p->count; i += 100) {
		uint32_t n = p->count - i < 100 ? p->count - i : 100;
		double due = t0 + p->seconds * i / p->count;

		while (sup_now() < due)
			sup_sleep_ms(1);
		push_range(p->ring, p->net, p->first + i, n);
	}
	return NULL;
}

#define WAIT_UNTIL(cond, secs)                                                                     \
	do {                                                                                       \
		double until_ = sup_now() + (secs);                                                \
		while (!(cond) && sup_now() < until_)                                              \
			sup_sleep_ms(10);                                                          \
	} while (0)

static void start_influx(struct srv *s, const struct srv_influx_opts *o)
{
	int ret = srv_influx_start(s, o);

	cr_assert_eq(ret, 0, "cannot start influxd: %s", s->why);
}

static int64_t influx_count(struct srv *s, const char *db, uint8_t net)
{
	char q[160];

	snprintf(q, sizeof(q), "SELECT count(success) FROM ping WHERE ip =~ /^10\\.%u\\./", net);
	return srv_influx_scalar(s, db, q);
}

/* Every point i in [0, n) of `net` is stored exactly as encoded. */
static void verify_influx(struct srv *s, const char *db, uint8_t net, uint32_t n)
{
	uint64_t ok = 0, susp = 0;
	double sum = 0, got;
	char q[200], *json;
	struct srv_row rows[64];
	int nrows;

	for (uint32_t i = 0; i < n; i++) {
		struct rp_probe_result r = result(net, i);

		ok += r.success;
		susp += r.suspended;
		if (r.success)
			sum += (double)r.rtt_ns / 1e6;
	}
	cr_assert_eq(influx_count(s, db, net), (int64_t)n, "points of 10.%u.x.x", net);
	snprintf(q, sizeof(q), "SELECT count(rtt_ms) FROM ping WHERE ip =~ /^10\\.%u\\./", net);
	cr_assert_eq(srv_influx_scalar(s, db, q), (int64_t)ok);
	snprintf(q, sizeof(q),
		 "SELECT count(success) FROM ping WHERE ip =~ /^10\\.%u\\./ AND suspended = true",
		 net);
	cr_assert_eq(srv_influx_scalar(s, db, q), (int64_t)susp);
	snprintf(q, sizeof(q), "SELECT sum(rtt_ms) FROM ping WHERE ip =~ /^10\\.%u\\./", net);
	json = srv_influx_query(s, db, q);
	cr_assert_not_null(json);
	cr_assert_eq(srv_influx_rows(json, rows, 1), 1, "%s", json);
	got = strtod(rows[0].val[1], NULL);
	cr_assert(fabs(got - sum) <= 1e-9 * sum, "sum(rtt_ms) %.9f, want %.9f", got, sum);
	srv_rows_free(rows, 1);
	free(json);

	/* Field by field for a few devices. */
	for (uint32_t i = 1; i < n && i < 40; i += 13) {
		struct rp_probe_result r = result(net, i);

		snprintf(q, sizeof(q),
			 "SELECT rtt_ms, success, suspended FROM ping WHERE ip = '10.%u.%u.%u'",
			 net, (i >> 8) & 0xff, i & 0xff);
		json = srv_influx_query(s, db, q);
		nrows = srv_influx_rows(json, rows, 64);
		cr_assert_eq(nrows, 1, "%s", json);
		cr_assert_eq(strtoull(rows[0].val[0], NULL, 10), r.sent_ns);
		if (r.success)
			cr_assert_eq(strtod(rows[0].val[1], NULL), (double)r.rtt_ns / 1e6);
		else
			cr_assert_null(rows[0].val[1]);
		cr_assert_str_eq(rows[0].val[2], r.success ? "true" : "false");
		cr_assert_str_eq(rows[0].val[3], r.suspended ? "true" : "false");
		srv_rows_free(rows, nrows);
		free(json);
	}
}

static void assert_nothing_dropped(const struct rp_writer_stats *s)
{
	cr_assert_eq(s->dropped_pool, 0);
	cr_assert_eq(s->points_rejected, 0);
	cr_assert_eq(s->dropped_spool_overflow, 0);
	cr_assert_eq(s->dropped_spool_corrupt, 0);
	cr_assert_eq(s->dropped_no_spool, 0);
}

static void round_trip_v1(bool gzip)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;
	const uint32_t n = 20000;

	init_base_ts();
	start_influx(&s, &io);
	rig_v1(&r, s.url, "rp");
	r.conf.influxdb.gzip = gzip;
	rig_start(&r);
	push_both(&r, 1, 0, n);
	WAIT_UNTIL(st(&r).points_written >= n, 30);
	ws = st(&r);
	cr_assert_eq(ws.points_written, n);
	cr_assert_eq(ws.points_in, n);
	assert_nothing_dropped(&ws);
	cr_assert_geq(ws.batches_ok, n / 500);
	cr_assert_eq(ws.batches_failed, 0);
	cr_assert_eq(ws.last_status, 204);
	cr_assert_gt(ws.cpu_ns, 0);
	if (gzip)
		cr_assert_lt(ws.wire_bytes, (uint64_t)n * 40, "gzip should shrink %llu",
			     (unsigned long long)ws.wire_bytes);
	else
		cr_assert_gt(ws.wire_bytes, (uint64_t)n * 60);
	cr_assert_eq(ws.spool_bytes, 0);
	verify_influx(&s, "rp", 1, n);
	rig_fini(&r);
	srv_cleanup(&s);
}

Test(writer, v1_round_trip_exact_gzip_on)
{
	round_trip_v1(true);
}

Test(writer, v1_round_trip_exact_gzip_off)
{
	round_trip_v1(false);
}

Test(writer, control_points_reach_data_and_health)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;

	init_base_ts();
	start_influx(&s, &io);
	rig_v1(&r, s.url, "rp");
	rig_start(&r);
	for (int i = 0; i < 30; i++) {
		char ip[32], name[32];
		struct rp_tag tags[] = {{"ip", ip}};
		struct rp_field f[] = {{"hostname", RP_FIELD_STRING, {.s = name}},
				       {"snmp_uptime_s", RP_FIELD_INT, {.i = i * 100}}};
		struct rp_tag htags[] = {{"host", "probe-1"}};
		struct rp_field hf[] = {{"points_written", RP_FIELD_UINT, {.u = (uint64_t)i}}};

		snprintf(ip, sizeof(ip), "10.9.0.%d", i);
		snprintf(name, sizeof(name), "dev-%d", i);
		cr_assert_eq(rp_writer_point(r.w, RP_WRITER_DATA, "device_info", tags, 1, f, 2,
					     base_ts + (uint64_t)i),
			     0);
		cr_assert_eq(rp_writer_point(r.w, RP_WRITER_HEALTH, "health_metrics", htags, 1, hf,
					     1, base_ts + (uint64_t)i),
			     0);
		if (i % 7 == 0)
			cr_assert_eq(rp_writer_commit(r.w), 0);
	}
	cr_assert_eq(rp_writer_commit(r.w), 0);
	WAIT_UNTIL(st(&r).points_written >= 60, 20);
	ws = st(&r);
	cr_assert_eq(ws.points_written, 60);
	cr_assert_eq(ws.points_in, 60);
	cr_assert_eq(srv_influx_scalar(&s, "rp", "SELECT count(hostname) FROM device_info"), 30);
	cr_assert_eq(srv_influx_scalar(&s, "rp", "SELECT sum(snmp_uptime_s) FROM device_info"),
		     100 * 29 * 30 / 2);
	cr_assert_eq(srv_influx_scalar(&s, "rp", "SELECT sum(points_written) FROM health_metrics"),
		     29 * 30 / 2);
	rig_fini(&r);
	srv_cleanup(&s);
}

Test(writer, v2_victoria_metrics_round_trip)
{
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;
	const uint32_t n = 10000;
	uint64_t ok = 0, susp = 0;
	double sum = 0, got_sum = -1;
	int64_t got = -1;

	init_base_ts();
	cr_assert_eq(srv_vm_start(&s, NULL), 0, "cannot start victoria-metrics: %s", s.why);
	rig_init(&r, s.url);
	set_str(&r.conf.influxdb.org, "org");
	set_str(&r.conf.influxdb.bucket, "bucket");
	rig_start(&r);
	push_both(&r, 2, 0, n);
	WAIT_UNTIL(st(&r).points_written >= n, 30);
	ws = st(&r);
	cr_assert_eq(ws.points_written, n);
	assert_nothing_dropped(&ws);
	for (uint32_t i = 0; i < n; i++) {
		struct rp_probe_result p = result(2, i);

		ok += p.success;
		susp += p.suspended;
		if (p.success)
			sum += (double)p.rtt_ns / 1e6;
	}
	/* VM names series measurement_field with the tags as labels. */
	for (double until = sup_now() + 20; sup_now() < until; sup_sleep_ms(200)) {
		srv_vm_flush(&s);
		got = srv_vm_export_count(&s, "{__name__=\"ping_success\"}", NULL);
		if (got == (int64_t)n)
			break;
	}
	cr_assert_eq(got, (int64_t)n, "ping_success samples");
	cr_assert_eq(srv_vm_export_count(&s, "{__name__=\"ping_rtt_ms\"}", &got_sum), (int64_t)ok);
	cr_assert(fabs(got_sum - sum) < 1e-6 * sum, "sum %.6f want %.6f", got_sum, sum);
	cr_assert_eq(srv_vm_export_count(&s, "{__name__=\"ping_suspended\"}", &got_sum),
		     (int64_t)n);
	cr_assert_eq((uint64_t)got_sum, susp);
	cr_assert_eq(
	    srv_vm_export_count(&s, "{__name__=\"ping_success\",ip=\"10.2.0.7\"}", &got_sum), 1);
	cr_assert_eq(got_sum, 1.0);
	rig_fini(&r);
	srv_cleanup(&s);
}

/* influxd over https with a self-signed certificate for 127.0.0.1. */
/* A fresh v1 writer over https (trusting the server's certificate, or verifying
 * nothing) delivers n points of 10.<sub>.x.x, none failed or dropped. */
static void delivered_over_tls(struct srv *s, bool ca_file, bool insecure, uint8_t sub, uint32_t n)
{
	struct rig r;
	struct rp_writer_stats ws;

	rig_v1(&r, s->url, "rp");
	if (ca_file)
		set_str(&r.conf.influxdb.ca_file, s->ca);
	r.conf.influxdb.insecure_skip_verify = insecure;
	rig_start(&r);
	push_both(&r, sub, 0, n);
	WAIT_UNTIL(st(&r).points_written >= n, 20);
	ws = st(&r);
	cr_assert_eq(ws.points_written, n);
	cr_assert_eq(ws.batches_failed, 0);
	assert_nothing_dropped(&ws);
	verify_influx(s, "rp", sub, n);
	rig_fini(&r);
}

Test(writer, tls_ca_file_verifies_unverified_spools_and_insecure_skips)
{
	struct srv_influx_opts io = {.database = "rp", .tls = true};
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;
	char *log;
	const uint32_t n = 2000;

	init_base_ts();
	start_influx(&s, &io);
	cr_assert_eq(strncmp(s.url, "https://", 8), 0, "%s", s.url);

	/* influxdb.ca_file = the server's certificate: verified, delivered. */
	delivered_over_tls(&s, true, false, 18, n);

	/* Default verification (the system's CAs): a TLS error, the points kept in the
	 * spool and retried, never written to a server that was not verified. */
	rig_v1(&r, s.url, "rp");
	capture_log(&r);
	rig_start(&r);
	push_both(&r, 19, 0, n);
	WAIT_UNTIL(st(&r).spool_points >= n, 20);
	ws = st(&r);
	cr_assert_eq(ws.spool_points, n);
	cr_assert_eq(ws.points_written, 0);
	cr_assert_eq(ws.sink_down, 1);
	cr_assert_eq(ws.last_status, 0, "no HTTP answer over an unverified connection");
	cr_assert_geq(ws.batches_failed, 1);
	assert_nothing_dropped(&ws);
	WAIT_UNTIL(st(&r).batches_retried >= 1, 5);
	cr_assert_geq(st(&r).batches_retried, 1, "retried with backoff");
	cr_assert_eq(st(&r).points_written, 0);
	rig_stop(&r);
	log = sup_slurp(r.log);
	cr_assert(strstr(log, "sink unavailable"), "log: %s", log);
	cr_assert(strstr(log, "err=-71 "), "EPROTO for a TLS failure; log: %s", log);
	cr_assert(strstr(log, "certificate"), "curl's reason names the certificate; log: %s", log);
	free(log);
	cr_assert_leq(influx_count(&s, "rp", 19), 0, "nothing of 10.19.x.x stored: %lld",
		      (long long)influx_count(&s, "rp", 19));

	/* The same spool with the certificate trusted: every kept point arrives. */
	set_str(&r.conf.influxdb.ca_file, s.ca);
	rig_start(&r);
	WAIT_UNTIL(st(&r).points_written >= n, 20);
	ws = st(&r);
	cr_assert_eq(ws.points_written, n);
	cr_assert_eq(ws.points_replayed, n);
	assert_nothing_dropped(&ws);
	verify_influx(&s, "rp", 19, n);
	rig_fini(&r);

	/* influxdb.insecure_skip_verify: no verification at all, delivered. */
	delivered_over_tls(&s, false, true, 20, n);
	srv_cleanup(&s);
}

Test(writer, auth_failure_names_the_key_and_keeps_data_in_the_spool)
{
	struct srv_influx_opts io = {.auth = true, .database = "rp"};
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;
	char *log;
	const uint32_t n = 3000;

	init_base_ts();
	start_influx(&s, &io);
	rig_v1(&r, s.url, "rp");
	set_str(&r.conf.influxdb.username, "admin");
	set_str(&r.conf.influxdb.password, "not-the-password");
	capture_log(&r);
	rig_start(&r);
	push_both(&r, 3, 0, n);
	WAIT_UNTIL(st(&r).spool_points >= n, 20);
	ws = st(&r);
	cr_assert_eq(ws.spool_points, n);
	cr_assert_eq(ws.points_written, 0);
	cr_assert_eq(ws.sink_down, 1);
	cr_assert_eq(ws.last_status, 401);
	cr_assert_geq(ws.batches_failed, 1);
	assert_nothing_dropped(&ws);
	/* Retried slowly: a probe every slow_retry (300 ms here), not a storm. */
	sup_sleep_ms(1000);
	cr_assert_leq(st(&r).batches_failed, ws.batches_failed + 5);
	rig_stop(&r);
	log = sup_slurp(r.log);
	cr_assert(strstr(log, "fix=influxdb.username+influxdb.password"), "log: %s", log);
	cr_assert(strstr(log, "status=401"), "log: %s", log);
	cr_assert_null(strstr(log, "not-the-password"), "the password must never be logged");
	free(log);

	/* The right password: the spool empties into the database. */
	set_str(&r.conf.influxdb.password, "adminpw");
	rig_start(&r);
	WAIT_UNTIL(st(&r).points_written >= n, 20);
	ws = st(&r);
	cr_assert_eq(ws.points_written, n);
	cr_assert_eq(ws.points_replayed, n);
	WAIT_UNTIL(st(&r).spool_bytes == 0, 5);
	cr_assert_eq(st(&r).spool_points, 0);
	verify_influx(&s, "rp", 3, n);
	rig_fini(&r);
	srv_cleanup(&s);
}

/* The oldest spool segment's path, for the test to break and mend. */
static void oldest_segment(const char *dir, char *out, size_t len)
{
	for (unsigned long long seq = 0; seq < 4096; seq++) {
		snprintf(out, len, "%s/%016llx.seg", dir, seq);
		if (access(out, F_OK) == 0)
			return;
	}
	cr_assert_fail("no segment in %s", dir);
}

/* A spooled segment that cannot be read (its path holds a directory: a real fault, as
 * root too) is kept, counted and retried with backoff without blocking the writer;
 * once it is readable again every point arrives, once. */
Test(writer, unreadable_spool_segment_is_kept_counted_and_retried)
{
	struct srv_influx_opts io = {.auth = true, .database = "rp"};
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;
	struct rp_writer_tuning t;
	char seg[128], aside[160], why[512] = "", *log;
	const uint32_t n = 2000;

	init_base_ts();
	start_influx(&s, &io);
	rig_v1(&r, s.url, "rp");
	set_str(&r.conf.influxdb.username, "admin");
	set_str(&r.conf.influxdb.password, "not-the-password");
	rig_start(&r);
	push_both(&r, 9, 0, n);
	WAIT_UNTIL(st(&r).spool_points >= n, 20);
	cr_assert_eq(st(&r).spool_points, n);
	rig_stop(&r);

	/* The sink takes data now, but the oldest segment cannot be opened. */
	set_str(&r.conf.influxdb.password, "adminpw");
	capture_log(&r);
	fast_tuning(&t);
	cr_assert_eq(rp_writer_create(&r.w, &r.conf, r.rings, 2, &t, why, sizeof(why)), 0, "%s",
		     why);
	oldest_segment(r.spool, seg, sizeof(seg));
	snprintf(aside, sizeof(aside), "%s.aside", seg);
	cr_assert_eq(rename(seg, aside), 0);
	cr_assert_eq(mkdir(seg, 0700), 0);
	cr_assert_eq(rp_writer_start(r.w), 0);
	WAIT_UNTIL(st(&r).spool_read_failing == 1, 10);
	ws = st(&r);
	cr_assert_eq(ws.spool_read_failing, 1);
	cr_assert_geq(ws.spool_io_errors, 1);
	/* Backed off: a second of failures is a handful of tries (100, 200, 400 ms ...). */
	sup_sleep_ms(1000);
	ws = st(&r);
	cr_assert_leq(ws.spool_io_errors, 6, "retried without backoff: %llu",
		      (unsigned long long)ws.spool_io_errors);
	cr_assert_eq(ws.points_written, 0);
	cr_assert_eq(ws.spool_points, n, "spooled points were dropped");
	assert_nothing_dropped(&ws);
	/* Not blocked: fresh points still go out while the spool cannot be read. */
	push_both(&r, 10, 0, 100);
	WAIT_UNTIL(st(&r).points_written >= 100, 10);
	cr_assert_eq(st(&r).points_written, 100);

	cr_assert_eq(rmdir(seg), 0);
	cr_assert_eq(rename(aside, seg), 0);
	WAIT_UNTIL(st(&r).points_written >= n + 100 && st(&r).spool_bytes == 0, 40);
	ws = st(&r);
	cr_assert_eq(ws.points_written, n + 100);
	cr_assert_eq(ws.spool_read_failing, 0);
	cr_assert_eq(ws.spool_bytes, 0);
	assert_nothing_dropped(&ws);
	rig_stop(&r);
	log = sup_slurp(r.log);
	cr_assert(strstr(log, "cannot read the spool"), "log: %s", log);
	cr_assert(strstr(log, "the spool reads again"), "log: %s", log);
	free(log);
	verify_influx(&s, "rp", 9, n);
	verify_influx(&s, "rp", 10, 100);
	rig_fini(&r);
	srv_cleanup(&s);
}

Test(writer, missing_database_is_404_spooled_and_retried_until_created)
{
	struct srv_influx_opts io = {0};
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;
	char *log, *q;
	const uint32_t n = 2000;

	init_base_ts();
	start_influx(&s, &io);
	rig_v1(&r, s.url, "later");
	capture_log(&r);
	rig_start(&r);
	push_both(&r, 4, 0, n);
	WAIT_UNTIL(st(&r).spool_points >= n, 20);
	ws = st(&r);
	cr_assert_eq(ws.spool_points, n);
	cr_assert_eq(ws.last_status, 404);
	log = sup_slurp(r.log);
	cr_assert(strstr(log, "fix=influxdb.database"), "log: %s", log);
	cr_assert(strstr(log, "database not found"), "log: %s", log);
	free(log);

	q = srv_influx_query(&s, NULL, "CREATE DATABASE later");
	free(q);
	WAIT_UNTIL(st(&r).points_written >= n, 20);
	ws = st(&r);
	cr_assert_eq(ws.points_written, n);
	cr_assert_eq(ws.sink_down, 0);
	assert_nothing_dropped(&ws);
	verify_influx(&s, "later", 4, n);
	rig_fini(&r);
	srv_cleanup(&s);
}

Test(writer, partial_write_counts_rejected_points_without_retry)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;
	struct rp_tag tags[] = {{"ip", "198.51.100.255"}};
	struct rp_field bad[] = {{"rtt_ms", RP_FIELD_STRING, {.s = "not a number"}}};
	char *log;

	init_base_ts();
	start_influx(&s, &io);
	rig_v1(&r, s.url, "rp");
	r.conf.influxdb.batch_size = 10000;
	r.conf.influxdb.flush_interval = 500 * RP_NSEC_PER_MSEC;
	capture_log(&r);
	rig_start(&r);
	/* rtt_ms becomes a float field, then one point in a batch writes it as a string. */
	push_range(r.rings[0], 5, 0, 100);
	WAIT_UNTIL(st(&r).points_written >= 100, 20);
	push_range(r.rings[0], 5, 100, 400);
	/* At the instant of a float point already written: influxd keeps field types per
	 * shard (7-day groups from Monday 00:00 UTC), so a string in another shard would land. */
	cr_assert_eq(
	    rp_writer_point(r.w, RP_WRITER_DATA, "ping", tags, 1, bad, 1, result(5, 1).sent_ns), 0);
	cr_assert_eq(rp_writer_commit(r.w), 0);
	WAIT_UNTIL(st(&r).points_written + st(&r).points_rejected >= 501, 20);
	sup_sleep_ms(300);
	ws = st(&r);
	cr_assert_eq(ws.points_rejected, 1);
	cr_assert_eq(ws.points_written, 500);
	cr_assert_eq(ws.batches_retried, 0, "a 400 is not retried");
	cr_assert_eq(ws.spool_points, 0);
	cr_assert_eq(influx_count(&s, "rp", 5), 500);
	log = sup_slurp(r.log);
	cr_assert(strstr(log, "rejected=1 of=401"), "log: %s", log);
	cr_assert(strstr(log, "field type conflict"), "log: %s", log);
	free(log);
	rig_fini(&r);
	srv_cleanup(&s);
}

Test(writer, too_large_bodies_are_split_and_all_delivered)
{
	struct srv_influx_opts io = {.database = "rp", .max_body_size = 2000};
	struct srv s;
	const uint32_t n = 3000;

	init_base_ts();
	start_influx(&s, &io);
	for (int gz = 0; gz < 2; gz++) {
		struct rig r;
		struct rp_writer_stats ws;

		rig_v1(&r, s.url, "rp");
		r.conf.influxdb.gzip = gz;
		r.conf.influxdb.batch_size = 1000;
		rig_start(&r);
		push_both(&r, (uint8_t)(6 + gz), 0, n);
		WAIT_UNTIL(st(&r).points_written >= n, 30);
		ws = st(&r);
		cr_assert_eq(ws.points_written, n, "gzip %d", gz);
		cr_assert_geq(ws.batches_split, 1);
		assert_nothing_dropped(&ws);
		cr_assert_eq(ws.spool_points, 0);
		verify_influx(&s, "rp", (uint8_t)(6 + gz), n);
		rig_fini(&r);
	}
	srv_cleanup(&s);
}

Test(writer, outage_spools_and_replays_every_point_once)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;
	pthread_t th[2];
	struct producer p[2];
	const uint32_t n = 40000;

	init_base_ts();
	start_influx(&s, &io);
	rig_v1(&r, s.url, "rp");
	rig_start(&r);
	for (int i = 0; i < 2; i++) {
		p[i] = (struct producer){r.rings[i], 8, (uint32_t)i * (n / 2), n / 2, 3.0};
		cr_assert_eq(pthread_create(&th[i], NULL, producer_main, &p[i]), 0);
	}
	sup_sleep_ms(700);
	srv_stop(&s, SIGKILL);
	WAIT_UNTIL(st(&r).spool_points > 0, 10);
	cr_assert_gt(st(&r).spool_points, 0, "nothing spooled while the sink was down");
	cr_assert_eq(st(&r).sink_down, 1);
	sup_sleep_ms(1500);
	cr_assert_eq(srv_restart(&s), 0, "restart: %s", s.why);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	WAIT_UNTIL(st(&r).points_written >= n && st(&r).spool_bytes == 0, 60);
	ws = st(&r);
	cr_assert_eq(ws.points_in, n);
	cr_assert_eq(ws.points_written, n, "written %llu", (unsigned long long)ws.points_written);
	cr_assert_gt(ws.points_spooled, 0);
	cr_assert_eq(ws.points_replayed, ws.points_spooled);
	cr_assert_eq(ws.spool_points, 0);
	cr_assert_eq(ws.spool_bytes, 0);
	cr_assert_gt(ws.batches_retried, 0);
	cr_assert_eq(ws.sink_down, 0);
	assert_nothing_dropped(&ws);
	verify_influx(&s, "rp", 8, n);
	rig_fini(&r);
	srv_cleanup(&s);
}

Test(writer, outage_on_victoria_metrics_writes_no_duplicate)
{
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;
	pthread_t th;
	struct producer p;
	const uint32_t n = 20000;
	int64_t got = -1;

	init_base_ts();
	cr_assert_eq(srv_vm_start(&s, NULL), 0, "cannot start victoria-metrics: %s", s.why);
	rig_init(&r, s.url);
	set_str(&r.conf.influxdb.bucket, "b");
	rig_start(&r);
	p = (struct producer){r.rings[0], 9, 0, n, 2.5};
	cr_assert_eq(pthread_create(&th, NULL, producer_main, &p), 0);
	sup_sleep_ms(600);
	srv_stop(&s, SIGTERM);
	sup_sleep_ms(1200);
	cr_assert_eq(srv_restart(&s), 0, "restart: %s", s.why);
	pthread_join(th, NULL);
	WAIT_UNTIL(st(&r).points_written >= n && st(&r).spool_bytes == 0, 60);
	ws = st(&r);
	cr_assert_eq(ws.points_written, n);
	cr_assert_gt(ws.points_replayed, 0);
	assert_nothing_dropped(&ws);
	/* VictoriaMetrics keeps duplicate samples: the export count shows any resend. */
	for (double until = sup_now() + 20; sup_now() < until; sup_sleep_ms(200)) {
		srv_vm_flush(&s);
		got = srv_vm_export_count(&s, "{__name__=\"ping_success\"}", NULL);
		if (got >= (int64_t)n)
			break;
	}
	cr_assert_eq(got, (int64_t)n, "got %lld", (long long)got);
	rig_fini(&r);
	srv_cleanup(&s);
}

/* What the spooling child shares with the test. */
struct shared {
	struct rp_writer_stats ws;
	atomic_int phase1_spooled;
};

static void child_spools(struct srv *s, const char *spool, struct shared *sh, uint32_t n1)
{
	struct rig r;
	struct rp_writer_tuning t;
	char why[256];

	/* The child builds its own rig on the same spool directory. */
	memset(&r, 0, sizeof(r));
	rp_conf_init(&r.conf);
	set_str(&r.conf.influxdb.url, s->url);
	set_str(&r.conf.influxdb.database, "rp");
	r.conf.influxdb.batch_size = 500;
	r.conf.influxdb.buffer_size = 20000;
	r.conf.influxdb.flush_interval = 20 * RP_NSEC_PER_MSEC;
	r.conf.influxdb.max_inflight = 2;
	set_str(&r.conf.spool.dir, spool);
	r.conf.spool.max_bytes = 64 << 20;
	r.conf.spool.fsync = RP_FSYNC_NEVER;
	for (int i = 0; i < 2; i++)
		rp_spsc_create(&r.rings[i], RING_CAP, sizeof(struct rp_probe_result));
	fast_tuning(&t);
	if (rp_writer_create(&r.w, &r.conf, r.rings, 2, &t, why, sizeof(why)) ||
	    rp_writer_start(r.w))
		_exit(3);
	push_both(&r, 11, 0, n1);
	for (;;) {
		rp_writer_stats(r.w, &sh->ws);
		if (sh->ws.spool_points >= n1)
			break;
		sup_sleep_ms(5);
	}
	atomic_store(&sh->phase1_spooled, 1);
	/* Keep spooling until killed. */
	for (uint32_t i = 0;; i += 200) {
		push_range(r.rings[0], 12, i, 200);
		sup_sleep_ms(5);
		rp_writer_stats(r.w, &sh->ws);
	}
}

/* Lines of the last record in segment `path` whose ip is in 10.<net>.x.x; the record
 * layout is writer_int.h's: a 16-byte segment header, then per record a little-endian
 * length (of meta + data) and CRC, 8 bytes of meta, the data. */
static uint32_t last_record_lines(const char *path, uint8_t net)
{
	static char data[1 << 22];
	unsigned char h[16];
	uint64_t off = 16, last = 0;
	uint32_t lastlen = 0, n = 0;
	char needle[32];
	FILE *f = fopen(path, "rb");

	cr_assert_not_null(f, "%s", path);
	for (;;) {
		uint32_t len;

		if (fseeko(f, (off_t)off, SEEK_SET) || fread(h, 1, 16, f) != 16)
			break;
		len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
		      (uint32_t)h[3] << 24;
		cr_assert_geq(len, 8u);
		last = off;
		lastlen = len - 8;
		off += 8 + len;
	}
	cr_assert_gt(last, 0, "no record in %s", path);
	cr_assert_lt(lastlen, sizeof(data));
	cr_assert_eq(fseeko(f, (off_t)last + 16, SEEK_SET), 0);
	cr_assert_eq(fread(data, 1, lastlen, f), lastlen);
	fclose(f);
	snprintf(needle, sizeof(needle), "ip=10.%u.", net);
	for (const char *p = data, *end = data + lastlen; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (memmem(p, ll, needle, strlen(needle)))
			n++;
		p += ll + 1;
	}
	return n;
}

Test(writer, sigkilled_while_spooling_then_replayed_with_torn_tail_skipped)
{
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws, child;
	struct shared *sh;
	const uint32_t n1 = 5000;
	char seg[128], last[128] = "";
	int status, nseg = 0;
	uint32_t torn1;
	off_t size;
	pid_t pid;

	init_base_ts();
	start_influx(&s, &io);
	srv_stop(&s, SIGTERM); /* down while the child runs: everything goes to the spool */
	rig_v1(&r, s.url, "rp");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(sh, MAP_FAILED);
	memset(sh, 0, sizeof(*sh));

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		child_spools(&s, r.spool, sh, n1);
	}
	WAIT_UNTIL(atomic_load(&sh->phase1_spooled), 30);
	cr_assert(atomic_load(&sh->phase1_spooled), "the child never spooled its first points");
	WAIT_UNTIL(sh->ws.points_spooled >= n1 + 2000, 30);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	child = sh->ws;
	cr_assert_geq(child.points_spooled, n1 + 2000);

	/* Tear the newest segment's last record, as a crash mid-write would. */
	for (uint64_t seq = 0; seq < 10000; seq++) {
		snprintf(seg, sizeof(seg), "%s/%016llx.seg", r.spool, (unsigned long long)seq);
		if (access(seg, F_OK) == 0) {
			strcpy(last, seg);
			nseg++;
		}
	}
	cr_assert_gt(nseg, 0);
	{
		struct stat sb;

		cr_assert_eq(stat(last, &sb), 0);
		size = sb.st_size;
		cr_assert_gt(size, 200);
		/* While the sink is down the writer probes it with the oldest spooled record
		 * and parks that record again at the tail, so the torn record may hold
		 * phase 1 points as well as phase 2 ones. */
		torn1 = last_record_lines(last, 11);
		cr_assert_eq(truncate(last, size - 100), 0);
	}

	cr_assert_eq(srv_restart(&s), 0, "restart: %s", s.why);
	rig_start(&r);
	ws = st(&r);
	cr_assert_eq(ws.spool_corrupt_records, 1, "the torn tail is found at open");
	cr_assert_gt(ws.dropped_spool_corrupt, 0);
	WAIT_UNTIL(st(&r).spool_points == 0 && st(&r).inflight == 0 && st(&r).spool_bytes == 0, 30);
	ws = st(&r);
	cr_assert_eq(ws.spool_points, 0);
	/* Every point spooled by the child (and not in the torn record) arrived. */
	cr_assert_eq(influx_count(&s, "rp", 11), (int64_t)(n1 - torn1),
		     "phase 1 points: %lld stored, %u expected (%u were in the torn record)",
		     (long long)influx_count(&s, "rp", 11), n1 - torn1, torn1);
	cr_assert_eq(ws.points_written,
		     (uint64_t)influx_count(&s, "rp", 11) + (uint64_t)influx_count(&s, "rp", 12));
	cr_assert_geq(ws.points_written + ws.dropped_spool_corrupt, child.spool_points);
	cr_assert_eq(ws.dropped_spool_overflow, 0);
	if (torn1 == 0)
		verify_influx(&s, "rp", 11, n1);
	munmap(sh, sizeof(*sh));
	rig_fini(&r);
	srv_cleanup(&s);
}

/* Tag values drop a backslash run before `,` `=` space `"` or the end (see line.c). */
static void expect_tag(char *out, size_t cap, const char *in)
{
	char clean[4096];
	size_t n = rp_line_sanitize(clean, sizeof(clean), in, strlen(in), MAX_STRING), o = 0;

	for (size_t i = 0; i < n && o + 1 < cap;) {
		size_t run = 0;

		while (i + run < n && clean[i + run] == '\\')
			run++;
		if (run) {
			char next = i + run < n ? clean[i + run] : '\0';
			bool drop = next == '\0' || next == ',' || next == '=' || next == ' ' ||
				    next == '"';

			for (size_t k = 0; k < run && !drop; k++)
				out[o++] = '\\';
			i += run;
			continue;
		}
		out[o++] = clean[i++];
	}
	out[o] = '\0';
}

Test(writer, hostile_strings_read_back_intact_and_alone)
{
	static char big[10 * 1024 + 1];
	const char *hostile[] = {
	    "new\nline\nping,ip=6.6.6.6 rtt_ms=1 1",
	    "com,ma,x=1",
	    "sp ace and more",
	    "eq=ual=",
	    "quo\"te\" \"",
	    "back\\slash\\\\double",
	    "trailing\\",
	    "nul\0hidden",
	    big,
	    "bad utf8 \xff\xfe \xc3\x28 \xed\xa0\x80 end",
	    "tab\there\rcr\x7f del",
	    "emoji \xf0\x9f\x98\x80 ok",
	    "#not a comment",
	    "=leading",
	    "\\\"",
	    "x\\,y\\=z\\ w",
	    "a\\b",
	};
	const int n = (int)(sizeof(hostile) / sizeof(hostile[0]));
	struct srv_influx_opts io = {.database = "rp"};
	struct srv s;
	struct rig r;
	struct srv_row rows[32];
	char *json;
	int nrows;

	memset(big, 'A', sizeof(big) - 1);
	for (size_t i = 0; i < sizeof(big) - 1; i += 97)
		big[i] = "\"\\, =\n"[i % 6];
	init_base_ts();
	start_influx(&s, &io);
	rig_v1(&r, s.url, "rp");
	rig_start(&r);
	for (int i = 0; i < n; i++) {
		char ip[32];
		struct rp_tag tags[] = {{"ip", ip}, {"loc", hostile[i]}};
		struct rp_field f[] = {{"hostname", RP_FIELD_STRING, {.s = hostile[i]}},
				       {"snmp_description", RP_FIELD_STRING, {.s = hostile[i]}},
				       {"snmp_uptime_s", RP_FIELD_INT, {.i = i}}};

		snprintf(ip, sizeof(ip), "10.13.0.%d", i);
		cr_assert_eq(rp_writer_point(r.w, RP_WRITER_DATA, "device_info", tags, 2, f, 3,
					     base_ts + (uint64_t)i),
			     0, "point %d", i);
	}
	cr_assert_eq(rp_writer_commit(r.w), 0);
	WAIT_UNTIL(st(&r).points_written >= (uint64_t)n, 20);
	cr_assert_eq(st(&r).points_written, (uint64_t)n);
	cr_assert_eq(st(&r).points_rejected, 0);

	/* Nothing but device_info exists, with exactly the tags and fields written. */
	cr_assert_eq(srv_influx_scalar(&s, "rp", "SELECT count(snmp_uptime_s) FROM /.*/"), n);
	json = srv_influx_query(&s, "rp", "SHOW MEASUREMENTS");
	nrows = srv_influx_rows(json, rows, 32);
	cr_assert_eq(nrows, 1, "%s", json);
	cr_assert_str_eq(rows[0].val[0], "device_info");
	srv_rows_free(rows, nrows);
	free(json);
	json = srv_influx_query(&s, "rp", "SHOW TAG KEYS FROM device_info");
	nrows = srv_influx_rows(json, rows, 32);
	cr_assert_eq(nrows, 2, "%s", json);
	srv_rows_free(rows, nrows);
	free(json);
	json = srv_influx_query(&s, "rp", "SHOW FIELD KEYS FROM device_info");
	nrows = srv_influx_rows(json, rows, 32);
	cr_assert_eq(nrows, 3, "%s", json);
	srv_rows_free(rows, nrows);
	free(json);

	json = srv_influx_query(&s, "rp", "SELECT * FROM device_info");
	nrows = srv_influx_rows(json, rows, 32);
	cr_assert_eq(nrows, n, "%s", json);
	for (int k = 0; k < nrows; k++) {
		int ci = -1, ch = -1, cd = -1, cl = -1, cu = -1, i;
		char want[4096], want_tag[4096];

		for (int c = 0; c < rows[k].ncols; c++) {
			const char *col = rows[k].col[c];

			if (!strcmp(col, "ip"))
				ci = c;
			else if (!strcmp(col, "hostname"))
				ch = c;
			else if (!strcmp(col, "snmp_description"))
				cd = c;
			else if (!strcmp(col, "loc"))
				cl = c;
			else if (!strcmp(col, "snmp_uptime_s"))
				cu = c;
		}
		cr_assert(ci >= 0 && ch >= 0 && cd >= 0 && cl >= 0 && cu >= 0);
		i = atoi(rows[k].val[cu]);
		cr_assert(i >= 0 && i < n);
		{
			char ip[32];

			snprintf(ip, sizeof(ip), "10.13.0.%d", i);
			cr_assert_str_eq(rows[k].val[ci], ip, "each point alone, with its own ip");
		}
		rp_line_sanitize(want, sizeof(want), hostile[i], strlen(hostile[i]), MAX_STRING);
		cr_assert_str_eq(rows[k].val[ch], want, "hostname of point %d", i);
		cr_assert_str_eq(rows[k].val[cd], want, "snmp_description of point %d", i);
		expect_tag(want_tag, sizeof(want_tag), hostile[i]);
		if (want_tag[0])
			cr_assert_str_eq(rows[k].val[cl], want_tag, "loc tag of point %d", i);
		else
			cr_assert_null(rows[k].val[cl]);
		cr_assert_leq(strlen(rows[k].val[ch]), MAX_STRING);
		for (const char *p = rows[k].val[ch]; *p; p++)
			cr_assert((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte in %d", i);
	}
	srv_rows_free(rows, nrows);
	free(json);
	rig_fini(&r);
	srv_cleanup(&s);
}

Test(writer, retry_after_is_honoured_then_data_delivered)
{
	struct fake_http fk;
	struct rig r;
	struct rp_writer_tuning t;
	int first;
	double t0;

	init_base_ts();
	cr_assert_eq(fake_http_start(&fk, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n"
					  "Content-Length: 0\r\n\r\n"),
		     0);
	rig_v1(&r, fk.url, "rp");
	r.conf.influxdb.max_inflight = 1;
	fast_tuning(&t);
	rig_start_tuned(&r, &t);
	push_range(r.rings[0], 14, 0, 400);
	WAIT_UNTIL(atomic_load(&fk.requests) >= 1, 10);
	WAIT_UNTIL(st(&r).sink_down == 1, 10);
	t0 = sup_now();
	first = atomic_load(&fk.requests);
	cr_assert_eq(st(&r).sink_down, 1);
	/* The backoff alone would retry in 50-100 ms; Retry-After says 1 s. */
	while (sup_now() - t0 < 0.8) {
		cr_assert_eq(atomic_load(&fk.requests), first, "retried %.2f s after a 429",
			     sup_now() - t0);
		sup_sleep_ms(20);
	}
	fake_http_set(&fk, "HTTP/1.1 204 No Content\r\n\r\n");
	WAIT_UNTIL(st(&r).points_written >= 400 && st(&r).spool_points == 0, 10);
	cr_assert_eq(st(&r).points_written, 400);
	cr_assert_eq(st(&r).sink_down, 0);
	cr_assert_eq(st(&r).spool_points, 0, "spool_points %llu replayed %llu spooled %llu",
		     (unsigned long long)st(&r).spool_points,
		     (unsigned long long)st(&r).points_replayed,
		     (unsigned long long)st(&r).points_spooled);
	rig_fini(&r);
	fake_http_stop(&fk);
}

/* Gap between the fake server's requests i-1 and i, in seconds. */
static double gap(const struct fake_http *fk, int i)
{
	return fk->at[i] - fk->at[i - 1];
}

/* The sink answers 503: each wait is drawn from [b/2, b] with b doubling from
 * backoff_min to backoff_max; a Retry-After longer than that wait replaces it, capped
 * at retry_after_max. Request times are taken by the server; `slack` covers the answer's
 * round trip and the writer thread's wake-up on a loaded machine. */
Test(writer, backoff_doubles_within_jitter_bounds_and_honours_retry_after)
{
	static const char *busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
	static const char *ra2 = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\n"
				 "Content-Length: 0\r\n\r\n";
	static const char *ra100 = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 100\r\n"
				   "Content-Length: 0\r\n\r\n";
	const double slack = 0.15;
	const double b[] = {0, 0.2, 0.4, 0.8, 1.6, 1.6}; /* b for gap i */
	struct fake_http fk;
	struct rig r;
	struct rp_writer_tuning t;
	struct rp_writer_stats ws;

	init_base_ts();
	cr_assert_eq(fake_http_start(&fk, busy), 0);
	rig_v1(&r, fk.url, "rp");
	r.conf.influxdb.max_inflight = 1; /* one request at a time: gaps are waits */
	fast_tuning(&t);
	t.backoff_min_ns = 200 * RP_NSEC_PER_MSEC;
	t.backoff_max_ns = 1600 * RP_NSEC_PER_MSEC;
	t.retry_after_max_ns = 2500 * RP_NSEC_PER_MSEC;
	t.slow_retry_ns = 30 * RP_NSEC_PER_SEC;
	rig_start_tuned(&r, &t);
	push_range(r.rings[0], 17, 0, 100);

	WAIT_UNTIL(atomic_load(&fk.requests) >= 6, 15);
	cr_assert_geq(atomic_load(&fk.requests), 6);
	/* Switch before request 6 arrives (request 5's answer is already chosen). */
	fake_http_set(&fk, ra2);
	for (int i = 1; i < 6; i++)
		cr_assert(gap(&fk, i) >= b[i] / 2 && gap(&fk, i) <= b[i] + slack,
			  "gap %d: %.3f s, want [%.3f, %.3f]", i, gap(&fk, i), b[i] / 2,
			  b[i] + slack);
	/* The waits grow: the jitter ranges of gaps 1 and 3 do not overlap. */
	cr_assert_gt(gap(&fk, 3), gap(&fk, 1));
	/* The server has request 6; the writer counts it once the answer is read (on a
	 * loaded machine, after this thread looks), and request 7 is >= 0.8 s away. */
	WAIT_UNTIL(st(&r).batches_failed >= 6, 2);
	cr_assert_eq(st(&r).sink_down, 1);
	cr_assert_eq(st(&r).batches_failed, 6);
	cr_assert_eq(st(&r).batches_retried, 5, "every request after the first resends");

	/* Request 6 is told Retry-After: 2, longer than the wait (at most 1.6 s). */
	WAIT_UNTIL(atomic_load(&fk.requests) >= 7, 5);
	cr_assert_geq(atomic_load(&fk.requests), 7);
	fake_http_set(&fk, ra100);
	WAIT_UNTIL(atomic_load(&fk.requests) >= 8, 5);
	cr_assert_geq(atomic_load(&fk.requests), 8);
	fake_http_set(&fk, "HTTP/1.1 204 No Content\r\n\r\n");
	cr_assert(gap(&fk, 7) >= 2.0 && gap(&fk, 7) <= 2.0 + slack, "Retry-After 2: gap %.3f s",
		  gap(&fk, 7));
	/* Request 7 is told Retry-After: 100, capped at retry_after_max (2.5 s). */
	WAIT_UNTIL(atomic_load(&fk.requests) >= 9, 5);
	cr_assert_geq(atomic_load(&fk.requests), 9);
	cr_assert(gap(&fk, 8) >= 2.5 && gap(&fk, 8) <= 2.5 + slack,
		  "Retry-After 100 capped at 2.5 s: gap %.3f s", gap(&fk, 8));

	WAIT_UNTIL(st(&r).points_written >= 100 && st(&r).spool_points == 0, 10);
	ws = st(&r);
	cr_assert_eq(ws.points_written, 100);
	cr_assert_eq(ws.sink_down, 0);
	cr_assert_eq(ws.batches_ok, 1);
	cr_assert_eq(ws.batches_failed, 8);
	assert_nothing_dropped(&ws);
	rig_fini(&r);
	fake_http_stop(&fk);
}

/* No configuration key sets the cap on untrusted strings: the default tuning (what
 * the daemon and `ping` use) cuts each at 1024 bytes. */
Test(writer, default_tuning_caps_strings_at_1024_bytes)
{
	struct fake_http fk;
	struct rig r;
	struct rp_writer_tuning t;
	char why[256] = "", *big = malloc(5001), line[1200];
	struct rp_tag tags[] = {{"ip", "192.0.2.1"}};
	struct rp_field f[] = {{"hostname", RP_FIELD_STRING, {.s = big}}};

	rp_writer_tuning_init(&t);
	cr_assert_eq(t.max_string, 1024);
	memset(big, 'h', 5000);
	big[5000] = '\0';
	cr_assert_eq(fake_http_start(&fk, "HTTP/1.1 204 No Content\r\n\r\n"), 0);
	rig_v1(&r, fk.url, "rp");
	r.conf.influxdb.gzip = false;
	cr_assert_eq(rp_writer_create(&r.w, &r.conf, r.rings, 2, NULL, why, sizeof(why)), 0, "%s",
		     why);
	cr_assert_eq(rp_writer_start(r.w), 0);
	cr_assert_eq(rp_writer_point(r.w, RP_WRITER_DATA, "device_info", tags, 1, f, 1, 7), 0);
	cr_assert_eq(rp_writer_commit(r.w), 0);
	WAIT_UNTIL(st(&r).points_written >= 1, 10);
	cr_assert_eq(st(&r).points_written, 1);
	snprintf(line, sizeof(line), "device_info,ip=192.0.2.1 hostname=\"%.1024s\" 7\n", big);
	cr_assert_eq(atomic_load(&fk.body_bytes), (long)strlen(line));
	rig_fini(&r);
	fake_http_stop(&fk);
	free(big);
}

Test(writer, stop_spools_requests_the_sink_never_answers)
{
	struct fake_http fk;
	struct rig r;
	struct rp_writer_stats ws;
	double t0;

	init_base_ts();
	cr_assert_eq(fake_http_start(&fk, NULL), 0);
	rig_v1(&r, fk.url, "rp");
	rig_start(&r);
	push_both(&r, 15, 0, 5000);
	WAIT_UNTIL(st(&r).points_in >= 5000 && st(&r).inflight > 0, 10);
	t0 = sup_now();
	cr_assert_eq(rp_writer_stop(r.w, RP_NSEC_PER_SEC), 0);
	cr_assert_lt(sup_now() - t0, 1.3, "stop took %.2f s", sup_now() - t0);
	ws = st(&r);
	cr_assert_eq(ws.points_written, 0);
	cr_assert_eq(ws.spool_points, 5000, "in memory and in flight, all spooled");
	assert_nothing_dropped(&ws);
	rp_writer_destroy(r.w);
	r.w = NULL;
	rig_fini(&r);
	fake_http_stop(&fk);
}

Test(writer, stop_without_spool_drops_and_counts_within_timeout)
{
	struct rig r;
	struct rp_writer_stats ws;
	char url[64];
	double t0;

	init_base_ts();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", sup_free_port());
	rig_v1(&r, url, "rp");
	r.conf.spool.max_bytes = 0;
	rig_start(&r);
	push_both(&r, 16, 0, 3000);
	WAIT_UNTIL(st(&r).points_in >= 3000 && st(&r).sink_down, 10);
	t0 = sup_now();
	cr_assert_eq(rp_writer_stop(r.w, 500 * RP_NSEC_PER_MSEC), 0);
	cr_assert_lt(sup_now() - t0, 0.8);
	ws = st(&r);
	cr_assert_eq(ws.dropped_no_spool, 3000);
	cr_assert_eq(ws.points_written, 0);
	cr_assert_eq(ws.spool_bytes, 0);
	rp_writer_destroy(r.w);
	r.w = NULL;
	rig_fini(&r);
}

Test(writer, control_points_without_a_free_buffer_are_counted)
{
	struct rig r;
	struct rp_writer_tuning t;
	char why[256], *big = malloc(1000);
	struct rp_tag tags[] = {{"ip", "192.0.2.1"}};
	struct rp_field f[] = {{"hostname", RP_FIELD_STRING, {.s = big}}};
	int ret = 0, points = 0;

	memset(big, 'h', 999);
	big[999] = '\0';
	rig_v1(&r, "http://127.0.0.1:9", "rp");
	fast_tuning(&t);
	/* Not started: nothing takes the committed buffers back. */
	cr_assert_eq(rp_writer_create(&r.w, &r.conf, r.rings, 2, &t, why, sizeof(why)), 0, "%s",
		     why);
	/* Bad input is refused, not counted. */
	f[0].type = RP_FIELD_FLOAT;
	f[0].v.f = NAN;
	cr_assert_eq(rp_writer_point(r.w, RP_WRITER_DATA, "device_info", tags, 1, f, 1, 1),
		     -EINVAL);
	f[0].type = RP_FIELD_STRING;
	f[0].v.s = big;
	while ((ret = rp_writer_point(r.w, RP_WRITER_DATA, "device_info", tags, 1, f, 1, 1)) == 0)
		points++;
	cr_assert_eq(ret, -ENOBUFS);
	cr_assert_gt(points, 8 * 50);
	cr_assert_eq(st(&r).dropped_pool, 1);
	rp_writer_destroy(r.w);
	r.w = NULL;
	free(big);
	rig_fini(&r);
}

/* rp_writer_point_ready() says so before a control-thread point would be dropped: a
 * producer that asks first (the SNMP answers) never loses one to a held-up writer. */
Test(writer, point_ready_turns_false_before_a_point_is_dropped)
{
	struct rig r;
	struct rp_writer_tuning t;
	char why[256], *big = malloc(1000);
	struct rp_tag tags[] = {{"ip", "192.0.2.1"}};
	struct rp_field f[] = {{"hostname", RP_FIELD_STRING, {.s = big}}};
	int points = 0;

	memset(big, 'h', 999);
	big[999] = '\0';
	rig_v1(&r, "http://127.0.0.1:9", "rp");
	fast_tuning(&t);
	/* Not started: nothing takes the committed buffers back. */
	cr_assert_eq(rp_writer_create(&r.w, &r.conf, r.rings, 2, &t, why, sizeof(why)), 0, "%s",
		     why);
	cr_assert(rp_writer_point_ready(r.w));
	while (rp_writer_point_ready(r.w)) {
		cr_assert_eq(rp_writer_point(r.w, RP_WRITER_DATA, "device_info", tags, 1, f, 1, 1),
			     0, "point %d, asked first", points);
		points++;
		rp_writer_commit(r.w); /* a buffer per point: the worst case */
	}
	cr_assert_geq(points, 8, "one point per buffer, every buffer used");
	cr_assert_eq(st(&r).dropped_pool, 0);
	/* Not asking drops (and counts) the point that finds no buffer. */
	cr_assert_eq(rp_writer_point(r.w, RP_WRITER_DATA, "device_info", tags, 1, f, 1, 1),
		     -ENOBUFS);
	cr_assert_eq(st(&r).dropped_pool, 1);
	rp_writer_destroy(r.w);
	r.w = NULL;
	free(big);
	rig_fini(&r);
}
