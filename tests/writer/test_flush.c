/* The libcurl multi flusher (src/writer/flush.c) against real sinks: influxd for the v1
 * API and every status it answers, victoria-metrics for the v2 API, and a canned
 * loopback server for what neither produces on demand (429 + Retry-After, silence).
 * Servers are started by the tests on free 127.0.0.1 ports and stopped by PID. */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "writer/writer_int.h"
#include "support/support.h"

#define MAX_BODY (256 << 10)

struct outcome {
	int n;
	struct {
		void *user;
		enum rp_flush_verdict verdict;
		int err;
		long status;
		int64_t retry_after_ns;
		int64_t rejected;
		char reason[256];
	} d[16];
};

static void on_done(void *arg, const struct rp_flush_done *d)
{
	struct outcome *o = arg;

	cr_assert_lt(o->n, 16);
	o->d[o->n].user = d->user;
	o->d[o->n].verdict = d->verdict;
	o->d[o->n].err = d->err;
	o->d[o->n].status = d->status;
	o->d[o->n].retry_after_ns = d->retry_after_ns;
	o->d[o->n].rejected = d->rejected;
	snprintf(o->d[o->n].reason, sizeof(o->d[o->n].reason), "%s", d->reason);
	o->n++;
}

/* conf strings are owned by the struct (rp_conf_fini frees them). */
static void set_str(char **field, const char *v)
{
	free(*field);
	*field = v ? strdup(v) : NULL;
}

static void conf_v1(struct rp_conf *c, const char *url, const char *db, bool gzip)
{
	rp_conf_init(c);
	set_str(&c->influxdb.url, url);
	set_str(&c->influxdb.database, db);
	c->influxdb.gzip = gzip;
	c->influxdb.max_inflight = 4;
	c->influxdb.timeout = 10 * RP_NSEC_PER_SEC;
}

static struct rp_flush *make_flush(const struct rp_conf *c)
{
	struct rp_flush *f = NULL;
	char why[256] = "";

	cr_assert_eq(rp_flush_create(&f, c, MAX_BODY, why, sizeof(why)), 0, "%s", why);
	return f;
}

/* Sends one body and waits for its answer. */
static void send_wait(struct rp_flush *f, enum rp_flush_dest dest, const char *body,
		      struct outcome *o)
{
	int before = o->n;
	double until = sup_now() + 20;

	cr_assert_eq(rp_flush_send(f, dest, body, strlen(body), (void *)body), 0);
	while (o->n == before && sup_now() < until)
		cr_assert_geq(rp_flush_run(f, 50, on_done, o), 0);
	cr_assert_eq(o->n, before + 1, "no answer within 20 s");
	cr_assert_eq(o->d[before].user, body);
}

static void start_influx(struct srv *s, const struct srv_influx_opts *o)
{
	int ret = srv_influx_start(s, o);

	cr_assert_eq(ret, 0, "cannot start influxd: %s", s->why);
}

/* `n` lines of measurement m, values base..base+n-1, distinct times. */
static char *lines(const char *m, int n, int base)
{
	size_t cap = (size_t)n * 80 + 1, len = 0;
	char *b = malloc(cap);

	b[0] = '\0';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(b + len, cap - len, "%s,ip=10.0.%d.%d v=%di %lld\n", m,
					i / 256, i % 256, base + i,
					1700000000000000000LL + (long long)(base + i) * 1000);
	return b;
}

Test(flush, v1_write_plain_and_gzip_reads_back_exactly)
{
	struct srv_influx_opts io = {.database = "t"};
	struct srv s;
	struct rp_conf c;
	struct outcome o = {0};
	char *b1 = lines("plain", 300, 0), *b2 = lines("gz", 300, 1000);

	start_influx(&s, &io);
	for (int gz = 0; gz < 2; gz++) {
		struct rp_flush *f;

		conf_v1(&c, s.url, "t", gz);
		f = make_flush(&c);
		cr_assert_eq(rp_flush_is_v1(f), true);
		send_wait(f, RP_FLUSH_DATA, gz ? b2 : b1, &o);
		cr_assert_eq(o.d[o.n - 1].verdict, RP_FLUSH_OK, "status %ld %s",
			     o.d[o.n - 1].status, o.d[o.n - 1].reason);
		cr_assert_eq(o.d[o.n - 1].status, 204);
		rp_flush_destroy(f);
		rp_conf_fini(&c);
	}
	cr_assert_eq(srv_influx_scalar(&s, "t", "SELECT count(v) FROM plain"), 300);
	cr_assert_eq(srv_influx_scalar(&s, "t", "SELECT sum(v) FROM plain"), 299 * 300 / 2);
	cr_assert_eq(srv_influx_scalar(&s, "t", "SELECT count(v) FROM gz"), 300);
	cr_assert_eq(srv_influx_scalar(&s, "t", "SELECT sum(v) FROM gz"),
		     300 * 1000 + 299 * 300 / 2);
	free(b1);
	free(b2);
	srv_cleanup(&s);
}

Test(flush, v1_statuses_map_to_verdicts)
{
	struct srv_influx_opts io = {.database = "t", .max_body_size = 2000};
	struct srv s;
	struct rp_conf c;
	struct rp_flush *f;
	struct outcome o = {0};
	char *big = lines("big", 100, 0);

	start_influx(&s, &io);

	/* 404: the database does not exist. */
	conf_v1(&c, s.url, "nosuchdb", false);
	f = make_flush(&c);
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o);
	cr_assert_eq(o.d[0].verdict, RP_FLUSH_NOT_FOUND);
	cr_assert_eq(o.d[0].status, 404);
	cr_assert(strstr(o.d[0].reason, "database not found"), "%s", o.d[0].reason);
	rp_flush_destroy(f);
	rp_conf_fini(&c);

	conf_v1(&c, s.url, "t", false);
	f = make_flush(&c);
	/* 400 partial write: a field type conflict drops one point (dropped=1). */
	send_wait(f, RP_FLUSH_DATA, "ty v=1 1\n", &o);
	cr_assert_eq(o.d[1].verdict, RP_FLUSH_OK);
	send_wait(f, RP_FLUSH_DATA, "ty v=2 2\nty v=\"x\" 3\nty v=4 4\n", &o);
	cr_assert_eq(o.d[2].verdict, RP_FLUSH_REJECTED);
	cr_assert_eq(o.d[2].status, 400);
	cr_assert_eq(o.d[2].rejected, 1, "reason: %s", o.d[2].reason);
	cr_assert(strstr(o.d[2].reason, "field type conflict"), "%s", o.d[2].reason);
	cr_assert_eq(srv_influx_scalar(&s, "t", "SELECT count(v) FROM ty"), 3);
	/* 400 with unparsable lines: each counted (influxd says dropped=0). */
	send_wait(f, RP_FLUSH_DATA, "pe v=1 1\nbad line\npe v=2 2\nalso bad\n", &o);
	cr_assert_eq(o.d[3].verdict, RP_FLUSH_REJECTED);
	cr_assert_eq(o.d[3].rejected, 2, "reason: %s", o.d[3].reason);
	cr_assert_eq(srv_influx_scalar(&s, "t", "SELECT count(v) FROM pe"), 2);
	/* 413: over max-body-size. */
	send_wait(f, RP_FLUSH_DATA, big, &o);
	cr_assert_eq(o.d[4].verdict, RP_FLUSH_TOO_LARGE);
	cr_assert_eq(o.d[4].status, 413);
	rp_flush_destroy(f);
	rp_conf_fini(&c);
	free(big);
	srv_cleanup(&s);
}

Test(flush, v1_wrong_credentials_are_an_auth_failure)
{
	struct srv_influx_opts io = {.auth = true, .database = "t"};
	struct srv s;
	struct rp_conf c;
	struct rp_flush *f;
	struct outcome o = {0};

	start_influx(&s, &io);
	conf_v1(&c, s.url, "t", true);
	f = make_flush(&c);
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o); /* no credentials */
	cr_assert_eq(o.d[0].verdict, RP_FLUSH_AUTH, "status %ld", o.d[0].status);
	cr_assert_eq(o.d[0].status, 401);
	rp_flush_destroy(f);

	set_str(&c.influxdb.username, "admin");
	set_str(&c.influxdb.password, "wrong");
	f = make_flush(&c);
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o);
	cr_assert_eq(o.d[1].verdict, RP_FLUSH_AUTH);
	rp_flush_destroy(f);

	set_str(&c.influxdb.password, "adminpw");
	f = make_flush(&c);
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o);
	cr_assert_eq(o.d[2].verdict, RP_FLUSH_OK, "%ld %s", o.d[2].status, o.d[2].reason);
	rp_flush_destroy(f);
	rp_conf_fini(&c);
	cr_assert_eq(srv_influx_scalar(&s, "t", "SELECT count(v) FROM m"), 1);
	srv_cleanup(&s);
}

Test(flush, v2_write_to_victoria_metrics_reads_back)
{
	struct srv s;
	struct rp_conf c;
	struct rp_flush *f;
	struct outcome o = {0};
	char body[64 * 100];
	size_t len = 0;
	long long now = (long long)time(NULL) * 1000000000LL;
	double sum = 0, until;
	int64_t n = -1;

	cr_assert_eq(srv_vm_start(&s, NULL), 0, "cannot start victoria-metrics: %s", s.why);
	rp_conf_init(&c);
	set_str(&c.influxdb.url, s.url);
	set_str(&c.influxdb.org, "o");
	set_str(&c.influxdb.bucket, "b");
	set_str(&c.influxdb.token, "not-checked-by-vm");
	c.influxdb.gzip = true;
	f = make_flush(&c);
	cr_assert_eq(rp_flush_is_v1(f), false);
	cr_assert(
	    strstr(rp_flush_url(f, RP_FLUSH_DATA), "/api/v2/write?org=o&bucket=b&precision=ns"),
	    "%s", rp_flush_url(f, RP_FLUSH_DATA));
	cr_assert(strstr(rp_flush_url(f, RP_FLUSH_HEALTH), "bucket=health"), "%s",
		  rp_flush_url(f, RP_FLUSH_HEALTH));
	for (int i = 0; i < 50; i++)
		len += (size_t)snprintf(body + len, sizeof(body) - len,
					"ping,ip=10.1.0.%d rtt_ms=%d.25,success=true %lld\n", i, i,
					now - 60000000000LL + i * 1000000LL);
	send_wait(f, RP_FLUSH_DATA, body, &o);
	cr_assert_eq(o.d[0].verdict, RP_FLUSH_OK, "%ld %s", o.d[0].status, o.d[0].reason);
	/* Samples become searchable a moment after the write. */
	for (until = sup_now() + 15; sup_now() < until;
	     nanosleep(&(struct timespec){0, 200000000}, NULL)) {
		srv_vm_flush(&s);
		n = srv_vm_export_count(&s, "{__name__=\"ping_rtt_ms\"}", &sum);
		if (n == 50)
			break;
	}
	cr_assert_eq(n, 50);
	cr_assert_float_eq(sum, 49 * 50 / 2 + 50 * 0.25, 1e-6);
	rp_flush_destroy(f);
	rp_conf_fini(&c);
	srv_cleanup(&s);
}

Test(flush, connection_refused_is_retry)
{
	struct rp_conf c;
	struct rp_flush *f;
	struct outcome o = {0};
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", sup_free_port());
	conf_v1(&c, url, "t", true);
	f = make_flush(&c);
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o);
	cr_assert_eq(o.d[0].verdict, RP_FLUSH_RETRY);
	cr_assert_eq(o.d[0].err, -ECONNREFUSED);
	cr_assert_eq(o.d[0].status, 0);
	rp_flush_destroy(f);
	rp_conf_fini(&c);
}

Test(flush, retry_after_and_server_errors_are_reported)
{
	struct fake_http fk;
	struct rp_conf c;
	struct rp_flush *f;
	struct outcome o = {0};

	cr_assert_eq(fake_http_start(&fk, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n"
					  "Content-Length: 4\r\n\r\nslow"),
		     0);
	conf_v1(&c, fk.url, "t", false);
	f = make_flush(&c);
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o);
	cr_assert_eq(o.d[0].verdict, RP_FLUSH_RETRY);
	cr_assert_eq(o.d[0].status, 429);
	cr_assert_eq(o.d[0].retry_after_ns, 7 * RP_NSEC_PER_SEC);
	cr_assert_str_eq(o.d[0].reason, "slow");
	fake_http_set(&fk, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 36\r\n\r\n"
			   "{\"message\":\"engine: \\\"busy\\\" shard\"}");
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o);
	cr_assert_eq(o.d[1].verdict, RP_FLUSH_RETRY);
	cr_assert_eq(o.d[1].status, 503);
	cr_assert_str_eq(o.d[1].reason, "engine: 'busy' shard");
	fake_http_set(&fk, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o);
	cr_assert_eq(o.d[2].verdict, RP_FLUSH_AUTH);
	cr_assert_str_eq(o.d[2].reason, "HTTP 403");
	/* Every request went over one kept-alive connection; the bodies arrived whole. */
	cr_assert_eq(atomic_load(&fk.requests), 3);
	cr_assert_eq(atomic_load(&fk.body_bytes), 3 * 9);
	rp_flush_destroy(f);
	rp_conf_fini(&c);
	fake_http_stop(&fk);
}

/* Request i's headers on the fake server, for assertion messages. */
static const char *head_of(const struct fake_http *fk, int i)
{
	return i < atomic_load((atomic_int *)&fk->requests) && i < FAKE_LOG ? fk->head[i] : "";
}

Test(flush, auth_headers_on_the_wire_and_no_token_on_v1)
{
	struct fake_http fk;
	struct rp_conf c;
	struct rp_flush *f;
	struct outcome o = {0};
	char v[256];

	cr_assert_eq(fake_http_start(&fk, "HTTP/1.1 204 No Content\r\n\r\n"), 0);

	/* v2: the token as "Authorization: Token <t>", on the data and the health URL. */
	rp_conf_init(&c);
	set_str(&c.influxdb.url, fk.url);
	set_str(&c.influxdb.org, "o");
	set_str(&c.influxdb.bucket, "b");
	set_str(&c.influxdb.token, "tok-S3cr3t==");
	c.influxdb.timeout = 10 * RP_NSEC_PER_SEC;
	f = make_flush(&c);
	cr_assert_not(rp_flush_is_v1(f));
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o);
	send_wait(f, RP_FLUSH_HEALTH, "m v=1i 1\n", &o);
	for (int i = 0; i < 2; i++) {
		cr_assert(fake_http_header(&fk, i, "Authorization", v, sizeof(v)), "%s",
			  head_of(&fk, i));
		cr_assert_str_eq(v, "Token tok-S3cr3t==");
		cr_assert_eq(strncmp(head_of(&fk, i), "POST /api/v2/write?", 19), 0, "%s",
			     head_of(&fk, i));
	}
	rp_flush_destroy(f);
	rp_conf_fini(&c);

	/* v1 with a username: basic auth; the token, though set, never leaves. */
	conf_v1(&c, fk.url, "t", false);
	c.influxdb.api = RP_INFLUX_V1;
	set_str(&c.influxdb.username, "writer");
	set_str(&c.influxdb.password, "pw:with colon");
	set_str(&c.influxdb.token, "tok-S3cr3t==");
	f = make_flush(&c);
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o);
	cr_assert(fake_http_header(&fk, 2, "Authorization", v, sizeof(v)), "%s", head_of(&fk, 2));
	/* base64("writer:pw:with colon") */
	cr_assert_str_eq(v, "Basic d3JpdGVyOnB3OndpdGggY29sb24=");
	cr_assert_eq(strncmp(head_of(&fk, 2), "POST /write?db=t", 16), 0, "%s", head_of(&fk, 2));
	cr_assert_null(strstr(head_of(&fk, 2), "S3cr3t"), "token sent on v1:\n%s", head_of(&fk, 2));
	cr_assert_null(strstr(head_of(&fk, 2), "Token"), "%s", head_of(&fk, 2));
	rp_flush_destroy(f);
	rp_conf_fini(&c);

	/* v1 without a username: no Authorization header at all, still no token. */
	conf_v1(&c, fk.url, "t", false);
	set_str(&c.influxdb.token, "tok-S3cr3t==");
	f = make_flush(&c);
	cr_assert(rp_flush_is_v1(f), "influxdb.database set: auto picks v1");
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o);
	cr_assert_not(fake_http_header(&fk, 3, "Authorization", v, sizeof(v)), "%s",
		      head_of(&fk, 3));
	cr_assert_null(strstr(head_of(&fk, 3), "S3cr3t"), "token sent on v1:\n%s", head_of(&fk, 3));
	cr_assert_eq(atomic_load(&fk.requests), 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(o.d[i].verdict, RP_FLUSH_OK);
	rp_flush_destroy(f);
	rp_conf_fini(&c);
	fake_http_stop(&fk);
}

Test(flush, max_inflight_bounds_requests_and_abort_reports_them)
{
	struct fake_http fk;
	struct rp_conf c;
	struct rp_flush *f;
	struct outcome o = {0};
	const char *body = "m v=1i 1\n";

	cr_assert_eq(fake_http_start(&fk, NULL), 0); /* never answers */
	conf_v1(&c, fk.url, "t", true);
	c.influxdb.max_inflight = 2;
	f = make_flush(&c);
	cr_assert_eq(rp_flush_idle(f), 2);
	cr_assert_eq(rp_flush_send(f, RP_FLUSH_DATA, body, strlen(body), (void *)1), 0);
	cr_assert_eq(rp_flush_send(f, RP_FLUSH_HEALTH, body, strlen(body), (void *)2), 0);
	cr_assert_eq(rp_flush_send(f, RP_FLUSH_DATA, body, strlen(body), (void *)3), -EBUSY);
	cr_assert_eq(rp_flush_busy(f), 2);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(rp_flush_run(f, 20, on_done, &o), 0);
	cr_assert_eq(o.n, 0);
	rp_flush_abort(f, on_done, &o);
	cr_assert_eq(o.n, 2);
	cr_assert_eq(o.d[0].verdict, RP_FLUSH_ABORTED);
	cr_assert_eq(o.d[1].verdict, RP_FLUSH_ABORTED);
	cr_assert_eq(rp_flush_idle(f), 2);
	cr_assert_eq(rp_flush_send(f, RP_FLUSH_DATA, body, MAX_BODY + 1, NULL), -E2BIG);
	rp_flush_destroy(f);
	rp_conf_fini(&c);
	fake_http_stop(&fk);
}

Test(flush, timeout_is_retry)
{
	struct fake_http fk;
	struct rp_conf c;
	struct rp_flush *f;
	struct outcome o = {0};

	cr_assert_eq(fake_http_start(&fk, NULL), 0);
	conf_v1(&c, fk.url, "t", false);
	c.influxdb.timeout = 300 * RP_NSEC_PER_MSEC;
	f = make_flush(&c);
	send_wait(f, RP_FLUSH_DATA, "m v=1i 1\n", &o);
	cr_assert_eq(o.d[0].verdict, RP_FLUSH_RETRY);
	cr_assert_eq(o.d[0].err, -ETIMEDOUT);
	rp_flush_destroy(f);
	rp_conf_fini(&c);
	fake_http_stop(&fk);
}

Test(flush, query_values_are_url_escaped)
{
	struct rp_conf c;
	struct rp_flush *f;
	char why[128];

	conf_v1(&c, "http://example.invalid:8086///", "my db&x=1", false);
	set_str(&c.influxdb.retention_policy, "rp/1 h");
	f = make_flush(&c);
	cr_assert_str_eq(
	    rp_flush_url(f, RP_FLUSH_DATA),
	    "http://example.invalid:8086/write?db=my%20db%26x%3D1&rp=rp%2F1%20h&precision=ns");
	cr_assert_str_eq(rp_flush_url(f, RP_FLUSH_HEALTH), rp_flush_url(f, RP_FLUSH_DATA));
	rp_flush_destroy(f);
	rp_conf_fini(&c);

	rp_conf_init(&c);
	set_str(&c.influxdb.url, "https://h");
	set_str(&c.influxdb.org, "Acme Inc");
	set_str(&c.influxdb.bucket, "a/b");
	set_str(&c.influxdb.health_bucket, "h?");
	f = make_flush(&c);
	cr_assert_str_eq(rp_flush_url(f, RP_FLUSH_DATA),
			 "https://h/api/v2/write?org=Acme%20Inc&bucket=a%2Fb&precision=ns");
	cr_assert_str_eq(rp_flush_url(f, RP_FLUSH_HEALTH),
			 "https://h/api/v2/write?org=Acme%20Inc&bucket=h%3F&precision=ns");
	rp_flush_destroy(f);

	/* api: v1 without a database, a URL without a scheme: refused with the key. */
	c.influxdb.api = RP_INFLUX_V1;
	cr_assert_eq(rp_flush_create(&f, &c, 1024, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "influxdb.database"), "%s", why);
	c.influxdb.api = RP_INFLUX_V2;
	set_str(&c.influxdb.url, "localhost:8086");
	cr_assert_eq(rp_flush_create(&f, &c, 1024, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "influxdb.url"), "%s", why);
	rp_conf_fini(&c);
}

Test(flush, rejected_count_reads_influx_bodies)
{
	cr_assert_eq(rp_flush__rejected_count("{\"error\":\"partial write: field type conflict: "
					      "x dropped=17\"}"),
		     17);
	cr_assert_eq(rp_flush__rejected_count("{\"error\":\"partial write: unable to parse 'a': "
					      "x\\nunable to parse 'b': y dropped=0\"}"),
		     2);
	cr_assert_eq(rp_flush__rejected_count("{\"code\":\"invalid\",\"message\":\"no\"}"), -1);
	cr_assert_eq(rp_flush__rejected_count(""), -1);
}
