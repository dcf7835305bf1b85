/* Per-device exposition (prometheus.per_device): the accumulators in the shards
 * (src/io/pacc.c), their snapshot (rp_prober_pacc_snapshot), the renderer
 * (src/ops/probe_metrics.c) and the health server's /probe-metrics over real HTTP.
 *
 * End to end in a private network namespace (root; skipped visibly otherwise): a
 * prober with per_device probes 127.0.0.2..5 and ::1 every 600 ms; once each has
 * three results, the snapshot must hold for each device exactly what its results say:
 * 3 requests, 3 replies, the RTT sum to the nanosecond, each RTT in the bucket its
 * value falls in, the TTL. Then the page over HTTP, plain and gzip'd (libcurl decodes),
 * carries those numbers with smokeping_prober's names and labels (host = the device's
 * name when it has one), and `promtool check metrics` accepts it with no lint. */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ops/probe_metrics.h"
#include "ringprobe/conf.h"
#include "ringprobe/facts.h"
#include "ringprobe/health.h"
#include "ringprobe/prober.h"
#include "support/support.h"

static const char smokeping_buckets[] =
    "5e-05,0.0001,0.0002,0.0004,0.0008,0.0016,0.0032,0.0064,0.0128,0.0256,0.0512,0.1024,"
    "0.2048,0.4096,0.8192,1.6384,3.2768,6.5536,13.1072,26.2144";

/* --- formatting and the bucket key, no network --------------------------------- */

Test(probe_metrics, le_as_go_writes_it)
{
	double b[RP_CONF_MAX_BUCKETS];
	char why[160], out[2048] = "", f[32];
	int n = rp_conf_buckets(smokeping_buckets, b, RP_CONF_MAX_BUCKETS, why, sizeof(why));

	cr_assert_eq(n, 20, "%d: %s", n, why);
	for (int i = 0; i < n; i++) {
		strcat(out, i ? "," : "");
		strcat(out, rp_pm_go_float(b[i], f));
	}
	/* smokeping_prober 0.6.1's --buckets default, as its `le` labels show them. */
	cr_assert_str_eq(out, smokeping_buckets);
	cr_assert_str_eq(rp_pm_go_float(1e6, f), "1e+06");
	cr_assert_str_eq(rp_pm_go_float(100, f), "100");
	cr_assert_str_eq(rp_pm_go_float(0.1, f), "0.1");
	cr_assert_str_eq(rp_pm_go_float(123456, f), "123456");
	cr_assert_str_eq(rp_pm_go_float(1.5e-7, f), "1.5e-07");
}

Test(probe_metrics, buckets_key_errors)
{
	double b[4];
	char why[160];

	cr_assert_eq(rp_conf_buckets("0.001,0.01", b, 4, why, sizeof(why)), 2);
	cr_assert_eq(rp_conf_buckets(" 0.001 , 0.01 ", b, 4, why, sizeof(why)), 2);
	cr_assert_eq(rp_conf_buckets("0.01,0.001", b, 4, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "ascending"), "%s", why);
	cr_assert_eq(rp_conf_buckets("0.01,abc", b, 4, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "bound 2"), "%s", why);
	cr_assert_eq(rp_conf_buckets("-1", b, 4, why, sizeof(why)), -EINVAL);
	cr_assert_eq(rp_conf_buckets("", b, 4, why, sizeof(why)), -EINVAL);
	cr_assert_eq(rp_conf_buckets("1,2,3,4,5", b, 4, why, sizeof(why)), -EINVAL);
	cr_assert_eq(rp_conf_buckets("1;2", b, 4, why, sizeof(why)), -EINVAL);
}

/* A view of n synthetic devices (every counter distinct) over two shards. */
struct fake {
	struct rp_pacc_view v;
	double bounds[3];
	unsigned char *mem;
};

static void fake_view(struct fake *f, uint32_t n)
{
	size_t words = RP_PACC_BUCKETS + 4, size = sizeof(struct rp_pacc_rec) + words * 8;

	f->bounds[0] = 0.001;
	f->bounds[1] = 0.01;
	f->bounds[2] = 0.1;
	f->mem = calloc(n ? n : 1, size);
	cr_assert_not_null(f->mem);
	memset(&f->v, 0, sizeof(f->v));
	f->v.nbounds = 3;
	f->v.bounds_s = f->bounds;
	f->v.rec_size = size;
	f->v.nshards = 2;
	f->v.recs[0] = f->mem;
	f->v.n[0] = n / 2;
	f->v.recs[1] = f->mem + (size_t)(n / 2) * size;
	f->v.n[1] = n - n / 2;
	f->v.devices = n;
	for (uint32_t i = 0; i < n; i++) {
		struct rp_pacc_rec *r = (struct rp_pacc_rec *)(void *)(f->mem + i * size);

		r->addr = rp_ip_v4(0xc6120000u + i); /* 198.18.0.0 ..: a fake view, nothing sent */
		r->id = i % 3 == 0 ? 1 : 0;
		r->v[RP_PACC_SENT] = 10 + i;
		r->v[RP_PACC_BUCKETS + 0] = 1;
		r->v[RP_PACC_BUCKETS + 1] = 2;
		r->v[RP_PACC_BUCKETS + 2] = 3;
		r->v[RP_PACC_BUCKETS + 3] = i % 4;
		r->v[RP_PACC_COUNT] = 6 + i % 4;
		r->v[RP_PACC_SUM_NS] = 1500000000ull + i;
		r->v[RP_PACC_DUPS] = i % 2;
		r->v[RP_PACC_TTL] = i % 5 ? 64 : 0;
		r->v[RP_PACC_SEND_ERRORS] = i % 3;
	}
	f->v.recv_errors = 7;
}

static char *read_all(struct rp_pm_stream *st, size_t chunk, size_t *len)
{
	size_t cap = 1 << 20, n = 0, got;
	char *buf = malloc(cap);

	while ((got = rp_pm_stream_read(st, buf + n, chunk)) > 0) {
		n += got;
		if (cap - n < chunk + 1) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* zcat of a gzip'd buffer, by gzip itself (Debian's, another implementation). */
static char *gunzip(const char *z, size_t zlen, size_t *len)
{
	char path[] = "/tmp/rp_pm_XXXXXX", cmd[128], *out = NULL;
	int fd = mkstemp(path), rc;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, z, zlen), (ssize_t)zlen);
	close(fd);
	snprintf(cmd, sizeof(cmd), "gzip -dc < %s", path);
	rc = sup_run(cmd, 0, &out, NULL);
	unlink(path);
	cr_assert_eq(rc, 0, "gzip -dc exited %d", rc);
	*len = strlen(out);
	return out;
}

Test(probe_metrics, stream_plain_and_gzip_agree)
{
	/* Device id 1's class tags, as the writer's table holds them (line protocol's
	 * escapes): name is host, the others labels; host, ip and le are never labels. */
	static const char *const tags[] = {",name=core-1.example,site=ams\\ 1\\,2,le=x,host=y"};
	struct fake f;
	struct rp_pm_stream *st;
	size_t n, zn, un;
	char *plain, *z, *unz;

	fake_view(&f, 5000);
	/* Odd chunk sizes: the stream is cut anywhere. */
	st = rp_pm_stream_open(&f.v, tags, 1, false);
	plain = read_all(st, 777, &n);
	rp_pm_stream_close(st);
	st = rp_pm_stream_open(&f.v, tags, 1, true);
	z = read_all(st, 1001, &zn);
	rp_pm_stream_close(st);
	unz = gunzip(z, zn, &un);
	cr_assert_eq(un, n, "gzip'd page is %zu bytes unpacked, plain %zu", un, n);
	cr_assert(memcmp(unz, plain, n) == 0);
	cr_assert_lt(zn * 4, n, "gzip: %zu of %zu bytes", zn, n);
	/* 5,000 x (requests, duplicates, 4 buckets, sum, count, send errors) + 4,000
	 * TTLs + 12 heads + the receive errors' one line. */
	{
		size_t lines = 0;

		for (size_t i = 0; i < n; i++)
			lines += plain[i] == '\n';
		cr_assert_eq(lines, 5000u * 9 + 4000 + 12 + 1, "%zu lines", lines);
	}
	/* smokeping_prober 0.7's families, where its registry puts them (sorted by name):
	 * the receive errors first, one counter without labels, the send errors last. */
	cr_assert(strncmp(plain,
			  "# HELP smokeping_receive_errors_total The number of errors when "
			  "Pinger attempts to receive packets.\n"
			  "# TYPE smokeping_receive_errors_total counter\n"
			  "smokeping_receive_errors_total 7\n"
			  "# HELP smokeping_requests_total ",
			  strlen("# HELP smokeping_receive_errors_total The number of errors when "
				 "Pinger attempts to receive packets.\n"
				 "# TYPE smokeping_receive_errors_total counter\n"
				 "smokeping_receive_errors_total 7\n"
				 "# HELP smokeping_requests_total ")) == 0,
		  "%.300s", plain);
	cr_assert(strstr(plain,
			 "# HELP smokeping_send_errors_total The number of errors when "
			 "Pinger attempts to send packets.\n"
			 "# TYPE smokeping_send_errors_total counter\n"
			 "smokeping_send_errors_total{host=\"core-1.example\","
			 "ip=\"198.18.0.0\",site=\"ams 1,2\"} 0\n"
			 "smokeping_send_errors_total{host=\"198.18.0.1\",ip=\"198.18.0.1\"} 1\n"
			 "smokeping_send_errors_total{host=\"198.18.0.2\",ip=\"198.18.0.2\"} 2\n"));
	cr_assert(strstr(plain, "# TYPE smokeping_response_ttl gauge\n") <
		  strstr(plain, "# HELP smokeping_send_errors_total"));
	cr_assert_null(strstr(plain, "source="), "no source label unless asked for");
	cr_assert(strstr(plain,
			 "smokeping_requests_total{host=\"core-1.example\",ip=\"198.18.0.0\","
			 "site=\"ams 1,2\"} 10\n"),
		  "%.600s", plain);
	cr_assert(
	    strstr(plain, "smokeping_requests_total{host=\"198.18.0.1\",ip=\"198.18.0.1\"} 11\n"));
	cr_assert(strstr(plain, "smokeping_response_duration_seconds_bucket{host=\"198.18.0.1\","
				"ip=\"198.18.0.1\",le=\"0.01\"} 3\n"));
	cr_assert(strstr(plain, "smokeping_response_duration_seconds_bucket{host=\"198.18.0.1\","
				"ip=\"198.18.0.1\",le=\"+Inf\"} 7\n"));
	cr_assert(strstr(plain, "smokeping_response_duration_seconds_sum{host=\"198.18.0.1\","
				"ip=\"198.18.0.1\"} 1.500000001\n"));
	cr_assert(
	    strstr(plain, "smokeping_response_ttl{host=\"198.18.0.1\",ip=\"198.18.0.1\"} 64\n"));
	cr_assert_null(strstr(plain, "smokeping_response_ttl{host=\"198.18.0.5\","),
		       "a device with no reply yet has no TTL");
	free(plain);
	free(z);
	free(unz);
	free(f.mem);
}

/* No device: only the process's receive error counter, as smokeping_prober >= 0.7
 * shows it with no target (a family without labels is always there). */
Test(probe_metrics, empty_view_is_the_receive_errors_alone)
{
	struct fake f;
	struct rp_pm_stream *st;
	size_t n;
	char *s;

	fake_view(&f, 0);
	st = rp_pm_stream_open(&f.v, NULL, 0, false);
	s = read_all(st, 4096, &n);
	rp_pm_stream_close(st);
	cr_assert_str_eq(s, "# HELP smokeping_receive_errors_total The number of errors when "
			    "Pinger attempts to receive packets.\n"
			    "# TYPE smokeping_receive_errors_total counter\n"
			    "smokeping_receive_errors_total 7\n");
	free(s);
	free(f.mem);
}

/* prometheus.source_label: smokeping_prober 0.7's `source` after ip on every labelled
 * series: the source address of the device's family, "" without one (its pinger's
 * Source then); a tag named source gives way to it. */
Test(probe_metrics, source_label_follows_ip)
{
	static const char *const tags[] = {",name=core-1.example,source=tag,site=ams"};
	struct fake f;
	struct rp_pm_stream *st;
	size_t n;
	char *s;

	fake_view(&f, 4);
	st = rp_pm_stream_open(&f.v, tags, 1, false);
	rp_pm_stream_source(st, "192.0.2.1", NULL);
	s = read_all(st, 4096, &n);
	rp_pm_stream_close(st);
	cr_assert(strstr(s, "smokeping_requests_total{host=\"core-1.example\",ip=\"198.18.0.0\","
			    "source=\"192.0.2.1\",site=\"ams\"} 10\n"),
		  "%s", s);
	cr_assert(strstr(s, "smokeping_response_duration_seconds_bucket{host=\"198.18.0.1\","
			    "ip=\"198.18.0.1\",source=\"192.0.2.1\",le=\"0.01\"} 3\n"));
	cr_assert(strstr(s, "smokeping_send_errors_total{host=\"198.18.0.2\",ip=\"198.18.0.2\","
			    "source=\"192.0.2.1\"} 2\n"));
	cr_assert_null(strstr(s, "source=\"tag\""));
	cr_assert(strstr(s, "\nsmokeping_receive_errors_total 7\n"), "no labels on it");
	free(s);
	/* No source address for the family: the label is there, empty. */
	st = rp_pm_stream_open(&f.v, NULL, 0, false);
	rp_pm_stream_source(st, NULL, "2001:db8::1");
	s = read_all(st, 4096, &n);
	rp_pm_stream_close(st);
	cr_assert(strstr(s, "smokeping_requests_total{host=\"198.18.0.1\",ip=\"198.18.0.1\","
			    "source=\"\"} 11\n"),
		  "%s", s);
	free(s);
	free(f.mem);
}

/* --- end to end on loopback ------------------------------------------------------ */

#define NDEV 5
#define INTERVAL_MS 600

struct body {
	char *p;
	size_t n;
	char encoding[64];
};

static size_t on_body(char *d, size_t sz, size_t nm, void *arg)
{
	struct body *b = arg;

	b->p = realloc(b->p, b->n + sz * nm + 1);
	memcpy(b->p + b->n, d, sz * nm);
	b->n += sz * nm;
	b->p[b->n] = '\0';
	return sz * nm;
}

static size_t on_header(char *d, size_t sz, size_t nm, void *arg)
{
	struct body *b = arg;

	if (sz * nm > 18 && strncasecmp(d, "Content-Encoding: ", 18) == 0)
		snprintf(b->encoding, sizeof(b->encoding), "%.*s", (int)(sz * nm - 18 - 2), d + 18);
	return sz * nm;
}

/* GET path; gzip: libcurl asks for it and unpacks; hdr: one more request header. */
static long get_with(uint16_t port, const char *path, bool gzip, const char *hdr, struct body *b)
{
	struct curl_slist *h = hdr ? curl_slist_append(NULL, hdr) : NULL;
	CURL *c = curl_easy_init();
	char url[128];
	long code = 0;

	memset(b, 0, sizeof(*b));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, b);
	if (gzip)
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
	if (h)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK, "GET %s", url);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return code;
}

static long get(uint16_t port, const char *path, bool gzip, struct body *b)
{
	return get_with(port, path, gzip, NULL, b);
}

/* `promtool check metrics` accepts the page with no lint. */
static void promtool_ok(const struct body *b)
{
	char path[] = "/tmp/rp_pm_XXXXXX", cmd[128], *out = NULL, *err = NULL;
	int fd = mkstemp(path), rc;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, b->p, b->n), (ssize_t)b->n);
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	rc = sup_run(cmd, 0, &out, &err);
	unlink(path);
	cr_assert_eq(rc, 0, "promtool exited %d: %s%s\n%s", rc, out, err, b->p);
	cr_assert_str_empty(out, "%s", out);
	cr_assert_str_empty(err, "%s", err);
	free(out);
	free(err);
}

struct truth {
	uint32_t results, ok;
	uint64_t rtt_sum;
	uint8_t ttl;
	uint64_t bucket[21];
};

Test(probe_metrics, loopback_counts_match_results, .timeout = 60)
{
	static const char *const tags[] = {",name=gw.example"};
	struct rp_ip addrs[NDEV] = {rp_ip_v4(0x7f000002), rp_ip_v4(0x7f000003),
				    rp_ip_v4(0x7f000004), rp_ip_v4(0x7f000005)};
	double bounds[RP_CONF_MAX_BUCKETS];
	int nb;
	struct rp_prober_conf pc = {.shards = 2,
				    .capacity = 64,
				    .timeout_ns = 500000000,
				    .rate_pps = 1000,
				    .burst = 100,
				    .tick_ns = 5000000,
				    .feature_mask = RP_FEAT_ALL,
				    .per_device = true};
	struct truth t[NDEV] = {{0}};
	struct rp_probe_result res[64];
	struct rp_pacc_view v;
	struct rp_prober *p;
	struct rp_health_server *h;
	struct body plain, gz;
	char why[512], line[512], ip[RP_IP_STRLEN];
	const char *what;
	double t0;
	bool all;

	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets and a private network namespace)");
	cr_assert_eq(sup_netns_enter(SUP_NETNS_LO_UP, &what), 0, "%s", what);
	rp_ip_parse("::1", &addrs[4]);
	nb = rp_conf_buckets(smokeping_buckets, bounds, RP_CONF_MAX_BUCKETS, why, sizeof(why));
	cr_assert_eq(nb, 20);
	pc.pacc_nbounds = (uint32_t)nb;
	pc.pacc_bounds = bounds;
	cr_assert_eq(rp_prober_create(&p, &pc, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rp_prober_start(p, NULL, why, sizeof(why)), 0, "%s", why);
	for (int i = 0; i < NDEV; i++)
		cr_assert(rp_prober_offer(p, &(struct rp_shard_dev){.addr = addrs[i],
								    .id = i == 3 ? 1 : 0,
								    .interval_ms = INTERVAL_MS,
								    .immediate = true}));
	/* Three results each: probes at 0, 600 and 1,200 ms; the snapshot comes before
	 * the fourth (1,800 ms). */
	t0 = sup_now();
	do {
		uint32_t n = rp_prober_poll(p, res, 64);

		for (uint32_t k = 0; k < n; k++) {
			int i = 0;

			while (i < NDEV && !rp_ip_eq(&res[k].addr, &addrs[i]))
				i++;
			cr_assert_lt(i, NDEV);
			t[i].results++;
			if (res[k].success) {
				uint32_t b = 0;

				t[i].ok++;
				t[i].rtt_sum += res[k].rtt_ns;
				t[i].ttl = res[k].ttl;
				while (b < (uint32_t)nb &&
				       (double)res[k].rtt_ns > bounds[b] * 1e9 + 1e-6)
					b++;
				t[i].bucket[b]++;
			}
		}
		all = true;
		for (int i = 0; i < NDEV; i++)
			all &= t[i].results >= 3;
		sup_sleep_ms(2);
	} while (!all && sup_now() - t0 < 10);
	cr_assert(all, "three results each within 10 s");
	cr_assert_lt(sup_now() - t0, 1.7, "too late for the snapshot before the 4th probe");
	cr_assert_eq(rp_prober_pacc_snapshot(p, 1000000000ull, &v), 0);
	cr_assert_eq(v.missing, 0);
	cr_assert_eq(v.devices, NDEV);
	cr_assert_eq(v.nbounds, 20);
	for (unsigned s = 0; s < v.nshards; s++)
		for (uint32_t k = 0; k < v.n[s]; k++) {
			const struct rp_pacc_rec *r = rp_pacc_view_rec(&v, s, k);
			uint64_t sum = 0;
			int i = 0;

			while (i < NDEV && !rp_ip_eq(&r->addr, &addrs[i]))
				i++;
			cr_assert_lt(i, NDEV);
			rp_ip_format(&r->addr, ip);
			cr_assert_eq(t[i].results, 3, "%s: %u results", ip, t[i].results);
			cr_assert_eq(r->v[RP_PACC_SENT], 3, "%s: sent %llu", ip,
				     (unsigned long long)r->v[RP_PACC_SENT]);
			cr_assert_eq(r->v[RP_PACC_COUNT], t[i].ok, "%s", ip);
			cr_assert_eq(t[i].ok, 3, "%s: loopback answers", ip);
			cr_assert_eq(r->v[RP_PACC_SUM_NS], t[i].rtt_sum, "%s", ip);
			cr_assert_eq(r->v[RP_PACC_TTL], t[i].ttl, "%s", ip);
			cr_assert_eq(r->v[RP_PACC_DUPS], 0, "%s", ip);
			for (int b = 0; b <= nb; b++) {
				cr_assert_eq(r->v[RP_PACC_BUCKETS + b], t[i].bucket[b],
					     "%s bucket %d", ip, b);
				sum += r->v[RP_PACC_BUCKETS + b];
			}
			cr_assert_eq(sum, 3);
			cr_assert_eq(r->id, i == 3 ? 1u : 0u);
		}

	/* Over HTTP, before the fourth probe too. */
	cr_assert_eq(rp_health_server_start(&h, "127.0.0.1", 0, why, sizeof(why)), 0, "%s", why);
	rp_health_server_probe_metrics(
	    h, &(struct rp_probe_metrics_conf){
		   .prober = p, .path = "/probe-metrics", .name_tags = tags, .name_tag_cap = 1});
	cr_assert_eq(get(rp_health_server_port(h), "/probe-metrics", false, &plain), 200);
	cr_assert_eq(get(rp_health_server_port(h), "/probe-metrics", true, &gz), 200);
	cr_assert_str_empty(plain.encoding);
	cr_assert_str_eq(gz.encoding, "gzip");
	cr_assert_lt(sup_now() - t0, 1.75, "the page came after the fourth probe");
	cr_assert_str_eq(plain.p, gz.p, "gzip'd page differs:\n%s\n---\n%s", plain.p, gz.p);
	for (int i = 0; i < NDEV; i++) {
		rp_ip_format(&addrs[i], ip);
		snprintf(line, sizeof(line), "smokeping_requests_total{host=\"%s\",ip=\"%s\"} 3\n",
			 i == 3 ? "gw.example" : ip, ip);
		cr_assert(strstr(plain.p, line), "no %s in:\n%s", line, plain.p);
		snprintf(line, sizeof(line),
			 "smokeping_response_duration_seconds_count{host=\"%s\",ip=\"%s\"} 3\n",
			 i == 3 ? "gw.example" : ip, ip);
		cr_assert(strstr(plain.p, line), "no %s", line);
		snprintf(
		    line, sizeof(line),
		    "smokeping_response_duration_seconds_bucket{host=\"%s\",ip=\"%s\",le=\"+Inf\"} "
		    "3\n",
		    i == 3 ? "gw.example" : ip, ip);
		cr_assert(strstr(plain.p, line), "no %s", line);
		snprintf(line, sizeof(line), "smokeping_response_ttl{host=\"%s\",ip=\"%s\"} 64\n",
			 i == 3 ? "gw.example" : ip, ip);
		cr_assert(strstr(plain.p, line), "no %s", line);
	}
	promtool_ok(&plain);
	/* gzip refused with q=0: plain text. */
	free(plain.p);
	cr_assert_eq(get_with(rp_health_server_port(h), "/probe-metrics", false,
			      "Accept-Encoding: gzip;q=0, identity", &plain),
		     200);
	cr_assert_str_empty(plain.encoding);
	cr_assert(strstr(plain.p, "# TYPE smokeping_requests_total counter\n"));
	/* /metrics is ringprobe's own (no on_metrics): 503 before a health publish. */
	free(plain.p);
	cr_assert_eq(get(rp_health_server_port(h), "/metrics", false, &plain), 503);
	free(plain.p);
	free(gz.p);
	rp_health_server_stop(h);
	rp_prober_destroy(p);
}

/* smokeping_send_errors_total: a device the namespace has no route to (198.18.0.1,
 * only lo is up) refuses every send at once (ENETUNREACH); each probe then times out.
 * After three timeouts and before the fourth send, the device has sent 3 and failed 3,
 * with no reply; the page says so, with the source label (no source address: "")
 * that promtool accepts. */
Test(probe_metrics, unroutable_device_counts_send_errors, .timeout = 60)
{
	double bounds[1] = {0.01};
	struct rp_prober_conf pc = {.shards = 1,
				    .capacity = 8,
				    .timeout_ns = 100000000,
				    .rate_pps = 1000,
				    .burst = 100,
				    .tick_ns = 5000000,
				    .feature_mask = RP_FEAT_ALL,
				    .per_device = true,
				    .pacc_nbounds = 1,
				    .pacc_bounds = bounds};
	struct rp_ip dst = rp_ip_v4(0xc6120001u); /* 198.18.0.1, inside the namespace */
	struct rp_probe_result res[8];
	struct rp_probe_metrics_conf pmc = {
	    .prober = NULL, .path = "/probe-metrics", .source_label = true};
	struct rp_health_server *h;
	struct rp_pacc_view v;
	struct rp_prober *p;
	struct body b;
	char why[512];
	const char *what;
	uint32_t results = 0;
	double t0;

	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets and a private network namespace)");
	cr_assert_eq(sup_netns_enter(SUP_NETNS_LO_UP, &what), 0, "%s", what);
	cr_assert_eq(rp_prober_create(&p, &pc, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rp_prober_start(p, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert(rp_prober_offer(
	    p, &(struct rp_shard_dev){.addr = dst, .interval_ms = 1000, .immediate = true}));
	/* Timeouts at 0.1, 1.1 and 2.1 s; the fourth send is at 3 s. */
	t0 = sup_now();
	while (results < 3 && sup_now() - t0 < 5) {
		uint32_t n = rp_prober_poll(p, res, 8);

		for (uint32_t k = 0; k < n; k++) {
			cr_assert(!res[k].success);
			results++;
		}
		sup_sleep_ms(2);
	}
	cr_assert_eq(results, 3);
	cr_assert_lt(sup_now() - t0, 2.8, "too late for the snapshot before the 4th probe");
	cr_assert_eq(rp_prober_pacc_snapshot(p, 1000000000ull, &v), 0);
	cr_assert_eq(v.devices, 1);
	{
		const struct rp_pacc_rec *r = rp_pacc_view_rec(&v, 0, 0);

		cr_assert_eq(r->v[RP_PACC_SENT], 3);
		cr_assert_eq(r->v[RP_PACC_SEND_ERRORS], 3);
		cr_assert_eq(r->v[RP_PACC_COUNT], 0);
		cr_assert_eq(r->v[RP_PACC_TTL], 0);
	}
	cr_assert_eq(v.recv_errors, 0);
	cr_assert_eq(rp_health_server_start(&h, "127.0.0.1", 0, why, sizeof(why)), 0, "%s", why);
	pmc.prober = p;
	rp_health_server_probe_metrics(h, &pmc);
	cr_assert_eq(get(rp_health_server_port(h), "/probe-metrics", false, &b), 200);
	cr_assert_lt(sup_now() - t0, 2.95, "the page came after the fourth probe");
	cr_assert(strstr(b.p, "\nsmokeping_send_errors_total{host=\"198.18.0.1\","
			      "ip=\"198.18.0.1\",source=\"\"} 3\n"),
		  "%s", b.p);
	cr_assert(strstr(b.p, "\nsmokeping_requests_total{host=\"198.18.0.1\",ip=\"198.18.0.1\","
			      "source=\"\"} 3\n"));
	cr_assert(strstr(b.p, "\nsmokeping_receive_errors_total 0\n"));
	cr_assert_null(strstr(b.p, "smokeping_response_ttl{"), "no reply, no TTL");
	promtool_ok(&b);
	free(b.p);
	rp_health_server_stop(h);
	rp_prober_destroy(p);
}

Test(probe_metrics, off_means_no_snapshot)
{
	struct rp_prober_conf pc = {.shards = 1,
				    .capacity = 8,
				    .timeout_ns = 1000000000,
				    .tick_ns = 5000000,
				    .feature_mask = RP_FEAT_ALL};
	struct rp_pacc_view v;
	struct rp_prober *p;
	char why[512];
	const char *what;

	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets and a private network namespace)");
	cr_assert_eq(sup_netns_enter(SUP_NETNS_LO_UP, &what), 0, "%s", what);
	cr_assert_eq(rp_prober_create(&p, &pc, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rp_prober_pacc_snapshot(p, 1000000, &v), -ENOTSUP);
	rp_prober_destroy(p);
}

/* --- prometheus.sysname_label -------------------------------------------------------- */

/* `promtool check metrics` on text: exit 0 and nothing said (no lint either). */
static void promtool_accepts(const char *text, size_t n)
{
	char path[] = "/tmp/rp_pm_XXXXXX", cmd[128], *out = NULL, *err = NULL;
	int fd = mkstemp(path), rc;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, n), (ssize_t)n);
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	rc = sup_run(cmd, 0, &out, &err);
	unlink(path);
	cr_assert_eq(rc, 0, "promtool exited %d: %s%s\n%.2000s", rc, out, err, text);
	cr_assert_str_empty(out, "%s", out);
	cr_assert_str_empty(err, "%s", err);
	free(out);
	free(err);
}

/* Each device whose sysName the facts hold gets it as one more label, escaped as the
 * format asks (backslash, quote, newline); a device without one keeps smokeping_prober's
 * label set; a tag of the same name (conf refuses it; a device file could bring one at
 * runtime) never doubles the label. Without the key nothing changes. */
Test(probe_metrics, sysname_label_from_the_facts)
{
	static const char *const tags[] = {",name=core-1.example,sysname=from-a-tag,site=ams1"};
	struct rp_facts *facts = NULL;
	struct rp_ip a0 = rp_ip_v4(0xc6120000u), a1 = rp_ip_v4(0xc6120001u),
		     a2 = rp_ip_v4(0xc6120002u);
	struct rp_pm_stream *st;
	struct fake f;
	size_t n;
	char *plain;

	fake_view(&f, 4);
	cr_assert_eq(rp_facts_create(&facts, 8), 0);
	rp_facts_set_sysname(facts, &a0, "core-sw-01");
	rp_facts_set_sysname(facts, &a1, "a\\b \"c\"\nd caf\xc3\xa9 </script>");
	rp_facts_set_sysname(facts, &a2, "edge");
	rp_facts_forget(facts, &a2); /* left the fleet */
	st = rp_pm_stream_open(&f.v, tags, 1, false);
	rp_pm_stream_sysname(st, facts, "sysname");
	plain = read_all(st, 333, &n);
	rp_pm_stream_close(st);
	cr_assert(strstr(plain,
			 "smokeping_requests_total{host=\"core-1.example\",ip=\"198.18.0.0\","
			 "sysname=\"core-sw-01\",site=\"ams1\"} 10\n"),
		  "%s", plain);
	cr_assert_null(strstr(plain, "from-a-tag"), "the tag is left out");
	cr_assert(strstr(plain, "smokeping_response_duration_seconds_bucket{host=\"198.18.0.1\","
				"ip=\"198.18.0.1\",sysname=\"a\\\\b \\\"c\\\"\\nd caf\xc3\xa9 "
				"</script>\",le=\"0.01\"} 3\n"),
		  "%s", plain);
	cr_assert(strstr(plain, "smokeping_requests_total{host=\"198.18.0.2\",ip=\"198.18.0.2\"} "
				"12\n"),
		  "forgotten: no label: %s", plain);
	cr_assert(strstr(plain, "smokeping_response_ttl{host=\"core-1.example\",ip=\"198.18.0.3\","
				"site=\"ams1\"} 64\n"),
		  "never answered: no label: %s", plain);
	promtool_accepts(plain, n);
	free(plain);
	/* off: no label, even with the facts there */
	st = rp_pm_stream_open(&f.v, tags, 1, false);
	rp_pm_stream_sysname(st, facts, "");
	plain = read_all(st, 4096, &n);
	rp_pm_stream_close(st);
	cr_assert_null(strstr(plain, "core-sw-01"), "%s", plain);
	promtool_accepts(plain, n);
	free(plain);
	rp_facts_destroy(facts);
	free(f.mem);
}
