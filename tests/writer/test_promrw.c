/* Prometheus remote write (src/writer/promrw.c, and flush.c's remote write mode):
 * the encoder read back with libsnappy and libprotobuf-c (every label and sample of
 * ping, ping_round, device_state and device_info points, escapes, a damaged line), then
 * the writer end to end against a real Prometheus 2.42 (--web.enable-remote-write-
 * receiver) and VictoriaMetrics' /api/v1/write, counted back with PromQL and
 * /api/v1/export; an outage spooled and replayed; 400 dropped and counted; 429 and 503
 * retried; the request headers; a spool written for InfluxDB replayed by remote write. */
#include <criterion/criterion.h>

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "prompb.pb-c.h"
#include "ringprobe/event.h"
#include "ringprobe/line.h"
#include "ringprobe/result.h"
#include "ringprobe/spsc.h"
#include "ringprobe/writer.h"
#include "support/support.h"
#include "writer/writer_int.h"

#define RING_CAP (1u << 16)

/* ---- the encoder, read back ---- */

/* Encodes `lp` and unpacks what comes out; the caller frees it
 * (prometheus__write_request__free_unpacked). */
static Prometheus__WriteRequest *round_trip(const char *lp, struct rp_promrw_counts *c)
{
	struct rp_promrw *e;
	uint8_t *out = NULL;
	size_t cap = 0, plain = 0;
	ssize_t n;
	char *raw;
	Prometheus__WriteRequest *wr;

	cr_assert_eq(rp_promrw_create(&e), 0);
	n = rp_promrw_encode(e, lp, strlen(lp), &out, &cap, c);
	cr_assert_gt(n, 0);
	cr_assert_eq(snappy_uncompressed_length((const char *)out, (size_t)n, &plain), SNAPPY_OK);
	cr_assert_eq(plain, c->packed_bytes);
	raw = malloc(plain + 1);
	cr_assert_eq(snappy_uncompress((const char *)out, (size_t)n, raw, &plain), SNAPPY_OK);
	wr = prometheus__write_request__unpack(NULL, plain, (const uint8_t *)raw);
	cr_assert_not_null(wr, "not a WriteRequest");
	free(raw);
	free(out);
	rp_promrw_destroy(e);
	return wr;
}

/* Series i as text: name{a="b",...} value@ts, labels in the order sent. */
static void series_text(const Prometheus__TimeSeries *ts, char *buf, size_t cap)
{
	size_t o = 0;
	const char *name = "";

	for (size_t i = 0; i < ts->n_labels; i++)
		if (strcmp(ts->labels[i]->name, "__name__") == 0)
			name = ts->labels[i]->value;
	o += (size_t)snprintf(buf + o, cap - o, "%s{", name);
	for (size_t i = 0; i < ts->n_labels; i++) {
		if (strcmp(ts->labels[i]->name, "__name__") == 0)
			continue;
		o += (size_t)snprintf(buf + o, cap - o, "%s%s=\"%s\"", buf[o - 1] == '{' ? "" : ",",
				      ts->labels[i]->name, ts->labels[i]->value);
	}
	cr_assert_eq(ts->n_samples, 1);
	snprintf(buf + o, cap - o, "} %.17g@%lld", ts->samples[0]->value,
		 (long long)ts->samples[0]->timestamp);
}

static void assert_sorted(const Prometheus__TimeSeries *ts)
{
	for (size_t i = 1; i < ts->n_labels; i++)
		cr_assert_lt(strcmp(ts->labels[i - 1]->name, ts->labels[i]->name), 0,
			     "labels not sorted: %s before %s", ts->labels[i - 1]->name,
			     ts->labels[i]->name);
}

static void expect_series(const char *lp, const char *const *want, size_t nwant)
{
	struct rp_promrw_counts c;
	Prometheus__WriteRequest *wr = round_trip(lp, &c);
	char got[1024];

	cr_assert_eq(wr->n_timeseries, nwant, "%zu series for %s", wr->n_timeseries, lp);
	cr_assert_eq(c.samples, nwant);
	for (size_t i = 0; i < nwant; i++) {
		assert_sorted(wr->timeseries[i]);
		series_text(wr->timeseries[i], got, sizeof(got));
		cr_assert_str_eq(got, want[i]);
	}
	prometheus__write_request__free_unpacked(wr, NULL);
}

Test(promrw, ping_point_from_rp_line_ping)
{
	struct rp_probe_result r = {0};
	char data[512];
	struct rp_linebuf b = {.data = data, .cap = sizeof(data)};
	static const char *const want[] = {
	    "ping_rtt_ms{ip=\"192.0.2.7\",name=\"r1.example\"} 1.234567@1700000000123",
	    "ping_success{ip=\"192.0.2.7\",name=\"r1.example\"} 1@1700000000123",
	    "ping_suspended{ip=\"192.0.2.7\",name=\"r1.example\"} 0@1700000000123",
	    "ping_success{ip=\"192.0.2.8\"} 0@1700000000999",
	    "ping_suspended{ip=\"192.0.2.8\"} 1@1700000000999",
	};

	r.addr = rp_ip_v4(0xc0000207);
	r.sent_ns = 1700000000123456789ull;
	r.rtt_ns = 1234567;
	r.success = 1;
	cr_assert_eq(rp_line_ping(&b, &r, ",name=r1.example"), 0);
	r.addr = rp_ip_v4(0xc0000208);
	r.sent_ns = 1700000000999999999ull;
	r.success = 0;
	r.suspended = 1;
	cr_assert_eq(rp_line_ping(&b, &r, NULL), 0);
	data[b.len] = '\0';
	expect_series(data, want, 5);
}

Test(promrw, round_and_state_events)
{
	char data[2048];
	struct rp_linebuf b = {.data = data, .cap = sizeof(data)};
	struct rp_event e = {0};
	struct rp_promrw_counts c;
	Prometheus__WriteRequest *wr;
	char got[1024];

	e.kind = RP_EVENT_ROUND;
	e.addr = rp_ip_v4(0xc0000209);
	e.ts_ns = 1700000001000000000ull;
	e.u.round.sent = 5;
	e.u.round.received = 4;
	e.u.round.min_ns = 1000000;
	e.u.round.avg_ns = 2000000;
	e.u.round.median_ns = 2000000;
	e.u.round.max_ns = 3000000;
	e.u.round.stddev_ns = 500000;
	e.u.round.jitter_ns = 250000;
	cr_assert_eq(rp_writer__event_point(&b, &e, ",name=r9"), 0);
	memset(&e.u, 0, sizeof(e.u));
	e.kind = RP_EVENT_STATE;
	e.u.state.state = RP_STATE_DOWN;
	e.u.state.previous = RP_STATE_UP;
	e.u.state.duration_ms = 3500;
	cr_assert_eq(rp_writer__event_point(&b, &e, NULL), 0);
	data[b.len] = '\0';
	wr = round_trip(data, &c);
	/* sent, received, loss_pct, 5 rtt, jitter, suspended; then duration_s. */
	cr_assert_eq(wr->n_timeseries, 11, "%zu series from\n%s", wr->n_timeseries, data);
	series_text(wr->timeseries[0], got, sizeof(got));
	cr_assert_str_eq(got, "ping_round_sent{ip=\"192.0.2.9\",name=\"r9\"} 5@1700000001000");
	series_text(wr->timeseries[2], got, sizeof(got));
	cr_assert_str_eq(got, "ping_round_loss_pct{ip=\"192.0.2.9\",name=\"r9\"} 20@1700000001000");
	series_text(wr->timeseries[4], got, sizeof(got));
	cr_assert_str_eq(got,
			 "ping_round_rtt_avg_ms{ip=\"192.0.2.9\",name=\"r9\"} 2@1700000001000");
	series_text(wr->timeseries[9], got, sizeof(got));
	cr_assert_str_eq(got, "ping_round_suspended{ip=\"192.0.2.9\",name=\"r9\"} 0@1700000001000");
	/* String fields are labels: state, previous, reason. */
	series_text(wr->timeseries[10], got, sizeof(got));
	cr_assert_str_eq(got, "device_state_duration_s{ip=\"192.0.2.9\",previous=\"up\",reason="
			      "\"reply\",state=\"down\"} 3.5@1700000001000");
	for (size_t i = 0; i < wr->n_timeseries; i++)
		assert_sorted(wr->timeseries[i]);
	prometheus__write_request__free_unpacked(wr, NULL);
}

Test(promrw, strings_only_point_is_an_info_sample_and_escapes_are_undone)
{
	/* Label values as sent (series_text does not escape them). */
	static const char *const want[] = {
	    "device_info{hostname=\"sw 1\",ip=\"192.0.2.1\",snmp_description=\"a \"b\" \\c\"} "
	    "1@1700000002000",
	    "my_meas_x_y_z{Zed=\"up\",_1tag=\"a,b=c d\"} -3@1700000003000",
	    "my_meas_u{Zed=\"up\",_1tag=\"a,b=c d\"} 7@1700000003000",
	    "my_meas_b{Zed=\"up\",_1tag=\"a,b=c d\"} 1@1700000003000",
	};
	const char *lp =
	    "device_info,ip=192.0.2.1 hostname=\"sw 1\",snmp_description=\"a \\\"b\\\" "
	    "\\\\c\" 1700000002000000000\n"
	    "my\\ meas,1tag=a\\,b\\=c\\ d,Zed=up x.y-z=-3i,u=7u,b=true,s=\"\" "
	    "1700000003000000000\n";

	expect_series(lp, want, 4);
}

Test(promrw, damaged_lines_are_skipped_and_counted)
{
	struct rp_promrw_counts c;
	Prometheus__WriteRequest *wr =
	    round_trip("ping,ip=1 rtt_ms=1 1700000000000000000\n"
		       "no_fields_at_all\n"
		       "bad,tag rtt_ms=1 1\n"
		       "# a comment\n"
		       "\n"
		       "ping,ip=2 x=\"open quote 1\n"
		       "ping,ip=3 rtt_ms=2 12x\n"
		       "ping,ip=4 rtt_ms=3,junk=abc 1700000000000000000\n",
		       &c);

	cr_assert_eq(c.lines, 6);
	cr_assert_eq(c.bad_lines, 4, "bad %llu", (unsigned long long)c.bad_lines);
	cr_assert_eq(wr->n_timeseries, 2); /* ip=1 rtt_ms, ip=4 rtt_ms (junk is no number) */
	cr_assert_eq(c.samples, 2);
	prometheus__write_request__free_unpacked(wr, NULL);
}

Test(promrw, large_body_reuses_memory_and_round_trips)
{
	struct rp_promrw *e;
	uint8_t *out = NULL;
	size_t cap = 0, len = 0, plain;
	struct rp_promrw_counts c;
	char *lp = malloc(8u << 20), *raw;
	struct rp_probe_result r = {0};
	struct rp_linebuf b = {.data = lp, .cap = 8u << 20};
	Prometheus__WriteRequest *wr;

	for (uint32_t i = 0; i < 50000; i++) {
		r.addr = rp_ip_v4(0xc6120000 | i);
		r.sent_ns = 1700000000000000000ull + i * 1000000ull;
		r.rtt_ns = 1000 + i;
		r.success = 1;
		cr_assert_eq(rp_line_ping(&b, &r, NULL), 0);
	}
	len = b.len;
	cr_assert_eq(rp_promrw_create(&e), 0);
	for (int k = 0; k < 3; k++) {
		ssize_t n = rp_promrw_encode(e, lp, len, &out, &cap, &c);

		cr_assert_gt(n, 0);
		cr_assert_eq(c.samples, 150000);
		if (k < 2)
			continue;
		cr_assert_eq(snappy_uncompressed_length((const char *)out, (size_t)n, &plain),
			     SNAPPY_OK);
		raw = malloc(plain);
		cr_assert_eq(snappy_uncompress((const char *)out, (size_t)n, raw, &plain),
			     SNAPPY_OK);
		wr = prometheus__write_request__unpack(NULL, plain, (const uint8_t *)raw);
		cr_assert_not_null(wr);
		cr_assert_eq(wr->n_timeseries, 150000);
		cr_assert_eq(wr->timeseries[149999]->samples[0]->timestamp,
			     1700000000000ll + 49999);
		prometheus__write_request__free_unpacked(wr, NULL);
		free(raw);
	}
	rp_promrw_destroy(e);
	free(out);
	free(lp);
}

/* ---- the writer end to end ---- */

struct rig {
	struct rp_conf conf;
	struct rp_spsc *ring;
	struct rp_writer *w;
	char spool[64];
};

static void set_str(char **field, const char *v)
{
	free(*field);
	*field = v ? strdup(v) : NULL;
}

static void rig_init(struct rig *r, const char *write_url)
{
	memset(r, 0, sizeof(*r));
	rp_conf_init(&r->conf);
	set_str(&r->conf.prometheus_remote_write.url, write_url);
	r->conf.influxdb.batch_size = 500;
	r->conf.influxdb.buffer_size = 20000;
	r->conf.influxdb.flush_interval = 50 * RP_NSEC_PER_MSEC;
	r->conf.influxdb.max_inflight = 4;
	r->conf.influxdb.timeout = 5 * RP_NSEC_PER_SEC;
	strcpy(r->spool, "/tmp/rp-rwspool-XXXXXX");
	cr_assert_not_null(mkdtemp(r->spool));
	sup_rm_at_exit(r->spool);
	set_str(&r->conf.spool.dir, r->spool);
	r->conf.spool.max_bytes = 64 << 20;
	r->conf.spool.fsync = RP_FSYNC_BATCH;
	cr_assert_eq(rp_spsc_create(&r->ring, RING_CAP, sizeof(struct rp_probe_result)), 0);
}

static void rig_start(struct rig *r)
{
	struct rp_writer_tuning t;
	char why[512] = "";
	int ret;

	rp_writer_tuning_init(&t);
	t.backoff_min_ns = 100 * RP_NSEC_PER_MSEC;
	t.backoff_max_ns = 400 * RP_NSEC_PER_MSEC;
	t.slow_retry_ns = 300 * RP_NSEC_PER_MSEC;
	t.spool_segment_bytes = 256 << 10;
	ret = rp_writer_create(&r->w, &r->conf, &r->ring, 1, &t, why, sizeof(why));
	cr_assert_eq(ret, 0, "rp_writer_create: %d %s", ret, why);
	cr_assert_eq(rp_writer_start(r->w), 0);
}

static struct rp_writer_stats st(struct rig *r)
{
	struct rp_writer_stats s;

	rp_writer_stats(r->w, &s);
	return s;
}

static void rig_fini(struct rig *r)
{
	if (r->w) {
		cr_assert_eq(rp_writer_stop(r->w, 5 * RP_NSEC_PER_SEC), 0);
		rp_writer_destroy(r->w);
	}
	rp_spsc_destroy(r->ring);
	rp_conf_fini(&r->conf);
	sup_rm_rf(r->spool);
}

static uint64_t base_ts;

/* Device i of network `net` (10.net.x.x), probed once: distinct series per point. */
static struct rp_probe_result result(uint8_t net, uint32_t i)
{
	struct rp_probe_result r = {0};

	r.sent_ns = base_ts + (uint64_t)i * 1000000;
	r.addr = rp_ip_v4(10u << 24 | (uint32_t)net << 16 | (i & 0xffff));
	r.rtt_ns = 1000000 + (uint64_t)(i % 5000) * 1000;
	r.success = i % 10 != 0;
	r.id = i;
	return r;
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

#define WAIT_UNTIL(cond, secs)                                                                     \
	do {                                                                                       \
		double until_ = sup_now() + (secs);                                                \
		while (!(cond) && sup_now() < until_)                                              \
			sup_sleep_ms(10);                                                          \
	} while (0)

static void assert_nothing_dropped(const struct rp_writer_stats *s)
{
	cr_assert_eq(s->dropped_pool, 0);
	cr_assert_eq(s->points_rejected, 0);
	cr_assert_eq(s->dropped_spool_overflow, 0);
	cr_assert_eq(s->dropped_spool_corrupt, 0);
	cr_assert_eq(s->dropped_no_spool, 0);
}

/* The samples of `metric` for 10.net.x.x, and their sum, by PromQL, once they add up to
 * `want` (or after 20 s). */
static double promql_count(struct srv *s, const char *metric, uint8_t net, double want, double *sum)
{
	char q[256];
	int64_t at = (int64_t)(base_ts / 1000000000ull) + 120;
	double got = NAN;

	snprintf(q, sizeof(q), "sum(count_over_time(%s{ip=~\"10\\\\.%u\\\\..*\"}[10m]))", metric,
		 net);
	for (double until = sup_now() + 20; sup_now() < until; sup_sleep_ms(200)) {
		if (s->kind == SRV_VM)
			srv_vm_flush(s);
		got = srv_promql(s, q, at);
		if (got == want)
			break;
	}
	if (sum) {
		snprintf(q, sizeof(q), "sum(sum_over_time(%s{ip=~\"10\\\\.%u\\\\..*\"}[10m]))",
			 metric, net);
		*sum = srv_promql(s, q, at);
	}
	return got;
}

static void init_base_ts(void)
{
	base_ts = ((uint64_t)time(NULL) - 60) * 1000000000ull;
}

/* n points into `url`: every sample arrives, counted back with PromQL. */
static void every_sample_arrives(struct srv *s, const char *url, uint8_t net)
{
	struct rig r;
	struct rp_writer_stats ws;
	const uint32_t n = 10000;
	double ok = 0, rtt = 0, sum = 0;

	rig_init(&r, url);
	rig_start(&r);
	push_range(r.ring, net, 0, n);
	WAIT_UNTIL(st(&r).points_written >= n, 30);
	ws = st(&r);
	cr_assert_eq(ws.points_in, n);
	cr_assert_eq(ws.points_written, n);
	assert_nothing_dropped(&ws);
	for (uint32_t i = 0; i < n; i++) {
		struct rp_probe_result p = result(net, i);

		ok += p.success;
		if (p.success)
			rtt += (double)p.rtt_ns / 1e6;
	}
	/* success and suspended for every point, rtt_ms for the answered ones */
	cr_assert_eq(ws.samples_written, 2 * n + (uint64_t)ok);
	cr_assert_eq(promql_count(s, "ping_success", net, n, &sum), (double)n);
	cr_assert_eq(sum, ok);
	cr_assert_eq(promql_count(s, "ping_suspended", net, n, NULL), (double)n);
	cr_assert_eq(promql_count(s, "ping_rtt_ms", net, ok, &sum), ok);
	cr_assert(fabs(sum - rtt) < 1e-6 * rtt, "rtt sum %.6f want %.6f", sum, rtt);
	rig_fini(&r);
}

Test(promrw, prometheus_receives_every_sample, .timeout = 120)
{
	struct srv s;
	char url[128];

	init_base_ts();
	cr_assert_eq(srv_prom_start(&s), 0, "cannot start prometheus: %s", s.why);
	snprintf(url, sizeof(url), "%s/api/v1/write", s.url);
	every_sample_arrives(&s, url, 1);
	srv_cleanup(&s);
}

Test(promrw, victoria_metrics_receives_every_sample, .timeout = 120)
{
	struct srv s;
	char url[128];

	init_base_ts();
	cr_assert_eq(srv_vm_start(&s, NULL), 0, "cannot start victoria-metrics: %s", s.why);
	snprintf(url, sizeof(url), "%s/api/v1/write", s.url);
	every_sample_arrives(&s, url, 2);
	srv_cleanup(&s);
}

struct producer {
	struct rp_spsc *ring;
	uint8_t net;
	uint32_t count;
	double seconds;
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
		push_range(p->ring, p->net, i, n);
	}
	return NULL;
}

Test(promrw, prometheus_outage_spools_and_replays_every_sample_once, .timeout = 180)
{
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;
	struct producer p;
	pthread_t th;
	char url[128];
	const uint32_t n = 20000;

	init_base_ts();
	cr_assert_eq(srv_prom_start(&s), 0, "cannot start prometheus: %s", s.why);
	snprintf(url, sizeof(url), "%s/api/v1/write", s.url);
	rig_init(&r, url);
	rig_start(&r);
	p = (struct producer){r.ring, 3, n, 3.0};
	cr_assert_eq(pthread_create(&th, NULL, producer_main, &p), 0);
	sup_sleep_ms(700);
	srv_stop(&s, SIGTERM);
	WAIT_UNTIL(st(&r).spool_points > 0, 10);
	cr_assert_gt(st(&r).spool_points, 0, "nothing spooled while the sink was down");
	cr_assert_eq(st(&r).sink_down, 1);
	sup_sleep_ms(1500);
	cr_assert_eq(srv_restart(&s), 0, "restart: %s", s.why);
	pthread_join(th, NULL);
	WAIT_UNTIL(st(&r).points_written >= n && st(&r).spool_bytes == 0, 60);
	ws = st(&r);
	cr_assert_eq(ws.points_in, n);
	cr_assert_eq(ws.points_written, n, "written %llu", (unsigned long long)ws.points_written);
	cr_assert_gt(ws.points_spooled, 0);
	cr_assert_eq(ws.points_replayed, ws.points_spooled);
	cr_assert_eq(ws.spool_points, 0);
	cr_assert_gt(ws.batches_retried, 0);
	assert_nothing_dropped(&ws);
	/* Each device has one sample: a resend would not add one, a loss would show. */
	cr_assert_eq(promql_count(&s, "ping_success", 3, n, NULL), (double)n);
	rig_fini(&r);
	srv_cleanup(&s);
}

Test(promrw, bad_request_is_dropped_and_counted_not_retried)
{
	struct fake_http fk;
	struct rig r;
	struct rp_writer_stats ws;
	int reqs;

	init_base_ts();
	cr_assert_eq(fake_http_start(&fk, "HTTP/1.1 400 Bad Request\r\nContent-Length: 20\r\n\r\n"
					  "out of order sample\n"),
		     0);
	rig_init(&r, fk.url);
	r.conf.influxdb.max_inflight = 1;
	rig_start(&r);
	push_range(r.ring, 4, 0, 1200); /* 3 batches of 500, 500, 200 */
	WAIT_UNTIL(st(&r).points_rejected >= 1200, 10);
	sup_sleep_ms(500);
	ws = st(&r);
	reqs = atomic_load(&fk.requests);
	cr_assert_eq(ws.points_rejected, 1200);
	cr_assert_eq(ws.points_written, 0);
	cr_assert_eq(ws.points_spooled, 0);
	cr_assert_eq(ws.sink_down, 0);
	cr_assert_eq(ws.last_status, 400);
	cr_assert_eq(reqs, 3, "%d requests: a 400 is not retried", reqs);
	rig_fini(&r);
	fake_http_stop(&fk);
}

static void retried_then_delivered(const char *answer)
{
	struct fake_http fk;
	struct rig r;
	struct rp_writer_stats ws;
	char h[256];

	init_base_ts();
	cr_assert_eq(fake_http_start(&fk, answer), 0);
	rig_init(&r, fk.url);
	set_str(&r.conf.prometheus_remote_write.bearer_token, "s3cret");
	set_str(&r.conf.prometheus_remote_write.headers, "X-Scope-OrgID: tenant-1\nX-Other: a b");
	r.conf.influxdb.max_inflight = 1;
	rig_start(&r);
	push_range(r.ring, 5, 0, 400);
	WAIT_UNTIL(atomic_load(&fk.requests) >= 3, 10);
	cr_assert_geq(atomic_load(&fk.requests), 3, "retried");
	cr_assert_eq(st(&r).points_written, 0);
	cr_assert_eq(st(&r).sink_down, 1);
	fake_http_set(&fk, "HTTP/1.1 204 No Content\r\n\r\n");
	WAIT_UNTIL(st(&r).points_written >= 400 && st(&r).spool_points == 0, 10);
	ws = st(&r);
	cr_assert_eq(ws.points_written, 400);
	cr_assert_eq(ws.points_rejected, 0);
	cr_assert_eq(ws.sink_down, 0);
	cr_assert_gt(ws.batches_failed, 1);
	cr_assert(fake_http_header(&fk, 0, "Content-Encoding", h, sizeof(h)));
	cr_assert_str_eq(h, "snappy");
	cr_assert(fake_http_header(&fk, 0, "Content-Type", h, sizeof(h)));
	cr_assert_str_eq(h, "application/x-protobuf");
	cr_assert(fake_http_header(&fk, 0, "X-Prometheus-Remote-Write-Version", h, sizeof(h)));
	cr_assert_str_eq(h, "0.1.0");
	cr_assert(fake_http_header(&fk, 0, "Authorization", h, sizeof(h)));
	cr_assert_str_eq(h, "Bearer s3cret");
	cr_assert(fake_http_header(&fk, 0, "X-Scope-OrgID", h, sizeof(h)));
	cr_assert_str_eq(h, "tenant-1");
	cr_assert(fake_http_header(&fk, 0, "X-Other", h, sizeof(h)));
	cr_assert_str_eq(h, "a b");
	rig_fini(&r);
	fake_http_stop(&fk);
}

Test(promrw, too_many_requests_is_retried_then_delivered)
{
	retried_then_delivered("HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n");
}

Test(promrw, server_error_is_retried_then_delivered)
{
	retried_then_delivered("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
}

Test(promrw, basic_auth_is_sent)
{
	struct fake_http fk;
	struct rig r;
	char h[256];

	init_base_ts();
	cr_assert_eq(fake_http_start(&fk, "HTTP/1.1 204 No Content\r\n\r\n"), 0);
	rig_init(&r, fk.url);
	set_str(&r.conf.prometheus_remote_write.basic_auth.username, "u");
	set_str(&r.conf.prometheus_remote_write.basic_auth.password, "p");
	rig_start(&r);
	push_range(r.ring, 6, 0, 10);
	WAIT_UNTIL(st(&r).points_written >= 10, 10);
	cr_assert_eq(st(&r).points_written, 10);
	cr_assert(fake_http_header(&fk, 0, "Authorization", h, sizeof(h)));
	cr_assert_str_eq(h, "Basic dTpw"); /* base64("u:p") */
	rig_fini(&r);
	fake_http_stop(&fk);
}

/* The spool holds line protocol for either destination: what a writer for InfluxDB
 * spooled (its sink refusing connections) a remote write writer replays, every point. */
Test(promrw, spool_written_for_influxdb_replays_by_remote_write, .timeout = 120)
{
	struct srv s;
	struct rig r;
	struct rp_writer_stats ws;
	char dead[64], url[128];
	const uint32_t n = 3000;

	init_base_ts();
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", sup_free_port());
	rig_init(&r, NULL);
	set_str(&r.conf.influxdb.url, dead);
	set_str(&r.conf.influxdb.bucket, "b");
	set_str(&r.conf.influxdb.org, "o");
	rig_start(&r);
	push_range(r.ring, 7, 0, n);
	WAIT_UNTIL(st(&r).points_spooled >= n, 20);
	ws = st(&r);
	cr_assert_eq(ws.points_spooled, n, "spooled %llu", (unsigned long long)ws.points_spooled);
	cr_assert_eq(ws.points_written, 0);
	cr_assert_eq(rp_writer_stop(r.w, 5 * RP_NSEC_PER_SEC), 0);
	rp_writer_destroy(r.w);
	r.w = NULL;

	cr_assert_eq(srv_vm_start(&s, NULL), 0, "cannot start victoria-metrics: %s", s.why);
	snprintf(url, sizeof(url), "%s/api/v1/write", s.url);
	set_str(&r.conf.influxdb.url, NULL);
	set_str(&r.conf.prometheus_remote_write.url, url);
	rig_start(&r);
	WAIT_UNTIL(st(&r).points_written >= n && st(&r).spool_points == 0, 30);
	ws = st(&r);
	cr_assert_eq(ws.points_written, n);
	cr_assert_eq(ws.points_replayed, n);
	assert_nothing_dropped(&ws);
	cr_assert_eq(promql_count(&s, "ping_success", 7, n, NULL), (double)n);
	rig_fini(&r);
	srv_cleanup(&s);
}
