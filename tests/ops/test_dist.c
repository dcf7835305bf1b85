/* The RTT distribution and loss by network (src/ops/dist.c), their JSON and the page's
 * sections (src/ops/page_dist.c), and the server's /api/v1/rtt and /api/v1/loss. The
 * aggregation is pure: the tests pass the time. */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/page.h"
#include "ops/page_dist.h"
#include "ringprobe/dist.h"
#include "ringprobe/health.h"

#define S 1000000000ull
#define T0 (1000 * S)

static struct rp_ip ip(const char *s)
{
	struct rp_ip a;

	cr_assert(rp_ip_parse(s, &a), "%s", s);
	return a;
}

Test(dist, buckets_are_r10_bounds_from_10us_to_100s)
{
	cr_assert_eq(rp_dist_bound_ns(0), 10000);
	cr_assert_eq(rp_dist_bound_ns(1), 12500);
	cr_assert_eq(rp_dist_bound_ns(5), 31500);
	cr_assert_eq(rp_dist_bound_ns(10), 100000);
	cr_assert_eq(rp_dist_bound_ns(20), 1000000, "1 ms");
	cr_assert_eq(rp_dist_bound_ns(RP_DIST_BOUNDS - 1), 100 * S);
	for (unsigned i = 1; i < RP_DIST_BOUNDS; i++)
		cr_assert_gt(rp_dist_bound_ns(i), rp_dist_bound_ns(i - 1));
	cr_assert_eq(rp_dist_bucket(0), 0);
	cr_assert_eq(rp_dist_bucket(10000), 0, "on a bound: in it");
	cr_assert_eq(rp_dist_bucket(10001), 1);
	cr_assert_eq(rp_dist_bucket(1000000), 20);
	cr_assert_eq(rp_dist_bucket(1000001), 21);
	cr_assert_eq(rp_dist_bucket(100 * S), RP_DIST_BOUNDS - 1);
	cr_assert_eq(rp_dist_bucket(100 * S + 1), RP_DIST_BOUNDS, "above every bound");
	for (unsigned i = 0; i < RP_DIST_BOUNDS; i++) {
		cr_assert_eq(rp_dist_bucket(rp_dist_bound_ns(i)), i);
		cr_assert_eq(rp_dist_bucket(rp_dist_bound_ns(i) + 1), i + 1);
	}
}

Test(dist, networks_are_the_v4_24_and_the_v6_64)
{
	struct rp_ip n = rp_dist_net_of(&(struct rp_ip){0});
	char buf[RP_IP_STRLEN];

	n = ip("192.0.2.77");
	n = rp_dist_net_of(&n);
	cr_assert_str_eq(rp_ip_format(&n, buf), "192.0.2.0");
	n = ip("2001:db8:1:2:3:4:5:6");
	n = rp_dist_net_of(&n);
	cr_assert_str_eq(rp_ip_format(&n, buf), "2001:db8:1:2::");
}

/* Results for the last minute of a small fleet: a /24 answering all, a /24 losing one
 * probe in four, a /64 losing all. */
static void feed(struct rp_dist *d)
{
	for (int k = 0; k < 4; k++) {
		rp_dist_result(d, &(struct rp_ip){0}, false, 0); /* ::/64, all lost */
		rp_dist_result(d, &(struct rp_ip){0}, false, 0);
	}
	for (int i = 0; i < 8; i++) {
		struct rp_ip a = ip(i < 4 ? "198.51.100.1" : "198.51.100.200");

		rp_dist_result(d, &a, true, 1000000); /* 1 ms */
	}
	for (int i = 0; i < 8; i++) {
		struct rp_ip a = ip("203.0.113.9");

		rp_dist_result(d, &a, i % 4 != 0, 100 * 1000000ull); /* 100 ms */
	}
}

Test(dist, counts_per_network_and_sorts_worst_first)
{
	struct rp_dist d;
	struct rp_dist_view v;
	char buf[RP_IP_STRLEN];

	rp_dist_init(&d, 16, T0);
	rp_dist_view_init(&v, d.cap);
	feed(&d);
	rp_dist_fold(&d, T0 + 5 * S, &v);
	cr_assert_eq(v.window_ns, 5 * S, "since start");
	cr_assert_eq(v.sent, 24);
	cr_assert_eq(v.received, 14);
	cr_assert_eq(v.nnets, 3);
	cr_assert_eq(v.other_sent, 0);
	cr_assert_eq(v.rtt[rp_dist_bucket(1000000)], 8);
	cr_assert_eq(v.rtt[rp_dist_bucket(100000000)], 6);
	cr_assert_eq(v.rtt_min_ns, 1000000);
	cr_assert_eq(v.rtt_max_ns, 100000000);
	rp_dist_sort_by_loss(v.nets, v.nnets);
	cr_assert_str_eq(rp_ip_format(&v.nets[0].net, buf), "::");
	cr_assert_eq(v.nets[0].sent, 8);
	cr_assert_eq(v.nets[0].received, 0);
	cr_assert_str_eq(rp_ip_format(&v.nets[1].net, buf), "203.0.113.0");
	cr_assert_eq(v.nets[1].sent, 8);
	cr_assert_eq(v.nets[1].received, 6);
	cr_assert_str_eq(rp_ip_format(&v.nets[2].net, buf), "198.51.100.0");
	cr_assert_eq(v.nets[2].received, 8);
	rp_dist_sort_by_net(v.nets, v.nnets);
	cr_assert_str_eq(rp_ip_format(&v.nets[0].net, buf), "::");
	cr_assert_str_eq(rp_ip_format(&v.nets[1].net, buf), "198.51.100.0");
	rp_dist_view_fini(&v);
	rp_dist_fini(&d);
}

Test(dist, percentiles_read_off_the_histogram_within_min_and_max)
{
	struct rp_dist d;
	struct rp_dist_view v;

	rp_dist_init(&d, 4, T0);
	rp_dist_view_init(&v, d.cap);
	rp_dist_fold(&d, T0, &v);
	cr_assert_eq(rp_dist_percentile(&v, 50), 0, "no reply: 0");
	for (int i = 0; i < 90; i++)
		rp_dist_result(&d, &(struct rp_ip){0}, true, 1000000);
	for (int i = 0; i < 10; i++)
		rp_dist_result(&d, &(struct rp_ip){0}, true, 100000000);
	rp_dist_fold(&d, T0 + S, &v);
	cr_assert_eq(rp_dist_percentile(&v, 50), 1000000, "one value: exactly it");
	cr_assert_eq(rp_dist_percentile(&v, 90), 1000000);
	/* 99: the ninth of ten in the bucket (80, 100] ms, linearly. */
	cr_assert_eq(rp_dist_percentile(&v, 99), 98000000);
	cr_assert_eq(rp_dist_percentile(&v, 100), 100000000, "kept within max");
	rp_dist_view_fini(&v);
	rp_dist_fini(&d);
}

Test(dist, the_window_is_the_last_minute_in_ten_second_slots)
{
	struct rp_dist d;
	struct rp_dist_view v;
	struct rp_ip a = ip("198.51.100.1"), b = ip("203.0.113.1");

	rp_dist_init(&d, 16, T0);
	rp_dist_view_init(&v, d.cap);
	rp_dist_result(&d, &a, false, 0);
	for (unsigned t = 1; t <= 60; t++) {
		rp_dist_tick(&d, T0 + t * S);
		rp_dist_result(&d, &b, true, 50000);
	}
	rp_dist_fold(&d, T0 + 60 * S, &v);
	cr_assert_eq(v.window_ns, 60 * S);
	cr_assert_eq(v.sent, 61, "the first result is 60 s old: still in");
	cr_assert_eq(v.nnets, 2);
	rp_dist_tick(&d, T0 + 69 * S);
	rp_dist_fold(&d, T0 + 69 * S, &v);
	cr_assert_eq(v.window_ns, 69 * S);
	cr_assert_eq(v.sent, 61);
	rp_dist_tick(&d, T0 + 70 * S);
	rp_dist_fold(&d, T0 + 70 * S, &v);
	cr_assert_eq(v.window_ns, 60 * S, "six whole slots and none of the new one");
	cr_assert_eq(v.sent, 51, "the first slot (0 .. 10 s) left");
	cr_assert_eq(v.nnets, 1, "a network without a probe in the window leaves");
	cr_assert_eq(d.n, 1);
	cr_assert(rp_ip_eq(&v.nets[0].net,
			   &(struct rp_ip){.b = {[10] = 0xff, [11] = 0xff, 203, 0, 113, 0}}));
	/* It comes back as a new network; the table's hash still finds the other. */
	rp_dist_result(&d, &a, true, 50000);
	rp_dist_result(&d, &b, true, 50000);
	rp_dist_fold(&d, T0 + 70 * S, &v);
	cr_assert_eq(v.nnets, 2);
	cr_assert_eq(d.n, 2);
	/* A long gap: everything is out of the window. */
	rp_dist_tick(&d, T0 + 3600 * S);
	rp_dist_fold(&d, T0 + 3600 * S, &v);
	cr_assert_eq(v.sent, 0);
	cr_assert_eq(v.nnets, 0);
	cr_assert_eq(v.received, 0);
	cr_assert_eq(v.rtt_min_ns, 0);
	rp_dist_view_fini(&v);
	rp_dist_fini(&d);
}

Test(dist, past_its_bound_the_table_counts_in_other)
{
	struct rp_dist d;
	struct rp_dist_view v;

	rp_dist_init(&d, 2, T0);
	rp_dist_view_init(&v, d.cap);
	for (int i = 0; i < 5; i++) {
		char s[32];
		struct rp_ip a;

		snprintf(s, sizeof(s), "198.51.%d.1", i);
		a = ip(s);
		rp_dist_result(&d, &a, i != 4, 20000);
	}
	rp_dist_fold(&d, T0 + S, &v);
	cr_assert_eq(v.nnets, 2);
	cr_assert_eq(v.other_sent, 3);
	cr_assert_eq(v.other_received, 2);
	cr_assert_eq(v.sent, 5);
	cr_assert_eq(v.received, 4);
	rp_dist_view_fini(&v);
	rp_dist_fini(&d);
}

/* ---- JSON and HTML --------------------------------------------------------------- */

static struct rp_dist_view *sample_view(struct rp_dist *d)
{
	static struct rp_dist_view v;

	rp_dist_init(d, 16, T0);
	rp_dist_view_init(&v, d->cap);
	feed(d);
	rp_dist_fold(d, T0 + 30 * S, &v);
	rp_dist_sort_by_loss(v.nets, v.nnets);
	return &v;
}

Test(dist, rtt_json_has_the_figures_and_every_bucket)
{
	struct rp_dist d;
	struct rp_dist_view *v = sample_view(&d);
	static char buf[16384];
	size_t n = rp_dist_rtt_json(v, buf, sizeof(buf));

	cr_assert_lt(n, sizeof(buf));
	cr_assert(strstr(buf, "{\"window_s\":30.0,\"sent\":24,\"received\":14,\"loss_pct\":41.67,"
			      "\"rtt_ms\":{\"min\":1.000,\"mean\":43.429,\"p50\":1.000,"),
		  "%s", buf);
	cr_assert(strstr(buf, "\"max\":100.000},\"buckets\":[{\"le_ms\":0.01,\"count\":0},"
			      "{\"le_ms\":0.0125,\"count\":0},"),
		  "%s", buf);
	cr_assert(strstr(buf, "{\"le_ms\":1,\"count\":8}"), "%s", buf);
	cr_assert(strstr(buf, "{\"le_ms\":100,\"count\":6}"), "%s", buf);
	cr_assert(strstr(buf, "{\"le_ms\":100000,\"count\":0},{\"le_ms\":null,\"count\":0}]}\n"),
		  "%s", buf);
	rp_dist_view_fini(v);
	rp_dist_fini(&d);
}

Test(dist, loss_json_pages_worst_first_and_links_the_next_page)
{
	struct rp_dist d;
	struct rp_dist_view *v = sample_view(&d);
	static char buf[16384];

	rp_dist_loss_json(v, "loss", 0, 2, buf, sizeof(buf));
	cr_assert(strstr(buf,
			 "{\"window_s\":30.0,\"prefix_v4\":24,\"prefix_v6\":64,\"networks\":3,"
			 "\"lossy\":2,\"max_networks\":16,\"other\":{\"sent\":0,"
			 "\"received\":0},\"sort\":\"loss\",\"offset\":0,\"limit\":2,\"rows\":["
			 "{\"net\":\"::/64\",\"sent\":8,\"received\":0,\"loss_pct\":100.00},"
			 "{\"net\":\"203.0.113.0/24\",\"sent\":8,\"received\":6,\"loss_pct\":25."
			 "00}],\"next\":\"/api/v1/loss?sort=loss&offset=2&limit=2\"}\n"),
		  "%s", buf);
	rp_dist_loss_json(v, "loss", 2, 2, buf, sizeof(buf));
	cr_assert(strstr(buf, "\"rows\":[{\"net\":\"198.51.100.0/24\",\"sent\":8,\"received\":8,"
			      "\"loss_pct\":0.00}]}\n"),
		  "%s", buf);
	rp_dist_loss_json(v, "loss", 9, 2, buf, sizeof(buf));
	cr_assert(strstr(buf, "\"offset\":9,\"limit\":2,\"rows\":[]}\n"), "%s", buf);
	rp_dist_loss_json(v, "loss", 0, 0, buf, sizeof(buf));
	cr_assert(strstr(buf, "\"limit\":0,\"rows\":[]}\n"), "limit 0: only the counts");
	rp_dist_view_fini(v);
	rp_dist_fini(&d);
}

Test(dist, a_loss_page_at_its_widest_stays_under_256_kb)
{
	static struct rp_dist_net rows[RP_DIST_PAGE_MAX + 1];
	struct rp_dist_view v = {.window_ns = 70 * S,
				 .nnets = RP_DIST_PAGE_MAX + 1,
				 .cap = RP_DIST_NETS_MAX,
				 .other_sent = UINT64_MAX,
				 .other_received = UINT64_MAX,
				 .nets = rows};
	static char buf[512 * 1024];
	size_t n;

	for (size_t i = 0; i < RP_DIST_PAGE_MAX + 1; i++) {
		memset(rows[i].net.b, 0xff, 8);
		rows[i].sent = UINT64_MAX;
		rows[i].received = UINT64_MAX - 1 - i;
	}
	n = rp_dist_loss_json(&v, "loss", 0, UINT32_MAX, buf, sizeof(buf));
	cr_assert(strstr(buf, "\"limit\":1000,"), "limit is capped");
	cr_assert(strstr(buf, "{\"net\":\"ffff:ffff:ffff:ffff::/64\",\"sent\":18446744073709551615,"
			      "\"received\":18446744073709551614,\"loss_pct\":0.00}"),
		  "%s", buf);
	cr_assert_leq(n, (size_t)RP_DIST_PAGE_MAX * RP_DIST_ROW_MAX + 1024);
	cr_assert_leq(n, 256 * 1024, "%zu bytes", n);
}

Test(dist, page_sections_show_the_chart_and_the_worst_networks_as_a_table)
{
	struct rp_dist d;
	struct rp_dist_view *v = sample_view(&d);
	struct rp_page_dist pd = {.v = v, .rows = v->nets, .n = 2, .limit = 2, .lossy = 2};
	static char buf[65536];
	struct rp_out o = rp_out_init(buf, sizeof(buf));
	const char *p;
	int rects = 0;

	rp_page_dist_sections(&o, &pd);
	cr_assert_lt(o.len, sizeof(buf));
	cr_assert(strstr(buf,
			 "<p id=\"rtt-summary\">Last 30 s: 14 replies of 24 probes; min 1.000, "
			 "median 1.000, p90 95.333, p99 99.533, max 100.000 ms.</p>"),
		  "%s", buf);
	for (p = buf; (p = strstr(p, "<rect ")); p++)
		rects++;
	/* Buckets from 1 ms (le 1) to 100 ms (le 100): 21 bars, empty ones included. */
	cr_assert_eq(rects, 21, "%s", buf);
	cr_assert(strstr(buf, "<title>&le; 1 ms: 8</title>"), "%s", buf);
	cr_assert(strstr(buf, "<tr><td>100</td><td>6</td></tr>"), "the buckets as a table");
	cr_assert(strstr(buf, "<tr class=\"l5\"><td>::/64</td><td>8</td><td>0</td><td>100.00%</td>"
			      "</tr>"),
		  "%s", buf);
	cr_assert(strstr(buf, "<tr class=\"l4\"><td>203.0.113.0/24</td><td>8</td><td>6</td><td>25."
			      "00%</td></tr>"),
		  "%s", buf);
	cr_assert_null(strstr(buf, "198.51.100.0/24"), "not on this page");
	cr_assert(strstr(buf, " 1&ndash;2 of 3, worst first <a href=\"/?loss_offset=2#s-loss\">"
			      "next &rarr;</a>"),
		  "%s", buf);
	cr_assert(strstr(buf, "<div id=\"loss-map\" hidden></div>"), "the script's grid");
	cr_assert_eq(rp_page_loss_class(100, 100), 0);
	cr_assert_eq(rp_page_loss_class(1000, 995), 1);
	cr_assert_eq(rp_page_loss_class(100, 97), 2);
	cr_assert_eq(rp_page_loss_class(100, 81), 3);
	cr_assert_eq(rp_page_loss_class(100, 80), 4);
	cr_assert_eq(rp_page_loss_class(100, 0), 5);
	cr_assert_eq(rp_page_loss_class(0, 0), 0);
	rp_dist_view_fini(v);
	rp_dist_fini(&d);
}

Test(dist, without_replies_the_sections_say_so)
{
	struct rp_dist_view v = {.window_ns = 12 * S, .sent = 0};
	struct rp_page_dist pd = {.v = &v, .limit = 50};
	static char buf[8192];
	struct rp_out o = rp_out_init(buf, sizeof(buf));

	rp_page_dist_sections(&o, &pd);
	cr_assert(strstr(buf, "No reply in the last 12 s (0 probes).</p>"), "%s", buf);
	cr_assert(strstr(buf, "No probe in the last minute."), "%s", buf);
	cr_assert_null(strstr(buf, "<svg"));
}

/* ---- the server ------------------------------------------------------------------ */

struct got {
	long code;
	size_t len;
	char body[300000];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct got *g = arg;
	size_t len = size * n;

	if (g->len + len >= sizeof(g->body))
		return 0;
	memcpy(g->body + g->len, p, len);
	g->len += len;
	g->body[g->len] = '\0';
	return len;
}

static struct got *get(uint16_t port, const char *path)
{
	static struct got g;
	char url[160];
	CURL *c = curl_easy_init();

	memset(&g, 0, sizeof(g));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned int)port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK, "GET %s", url);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g.code);
	curl_easy_cleanup(c);
	return &g;
}

Test(dist, served_on_api_v1_rtt_and_loss_and_on_the_page)
{
	struct rp_health_server *h = NULL;
	struct rp_health_snapshot s;
	struct rp_dist d;
	struct rp_dist_view *v = sample_view(&d);
	char why[256] = "";
	uint16_t port;
	struct got *g;

	memset(&s, 0, sizeof(s));
	snprintf(s.version, sizeof(s.version), "test");
	cr_assert_eq(rp_health_server_start(&h, "127.0.0.1", 0, why, sizeof(why)), 0, "%s", why);
	port = rp_health_server_port(h);
	rp_health_server_publish(h, &s);
	cr_assert_eq(get(port, "/api/v1/rtt")->code, 404, "no figures: not served");
	cr_assert_eq(get(port, "/api/v1/loss")->code, 404);
	cr_assert_null(strstr(get(port, "/")->body, "s-loss"), "nor on the page");
	rp_health_server_dist_init(h, 16);
	cr_assert_eq(get(port, "/api/v1/rtt")->code, 503, "nothing published yet");
	rp_dist_fold(&d, T0 + 30 * S, v); /* table order: the server sorts */
	rp_health_server_publish_dist(h, v);
	g = get(port, "/api/v1/rtt");
	cr_assert_eq(g->code, 200);
	cr_assert(strstr(g->body, "\"sent\":24,\"received\":14,"), "%s", g->body);
	g = get(port, "/api/v1/loss");
	cr_assert_eq(g->code, 200);
	cr_assert(strstr(g->body, "\"limit\":100,\"rows\":[{\"net\":\"::/64\","), "%s", g->body);
	g = get(port, "/api/v1/loss?sort=net&offset=1&limit=1");
	cr_assert(strstr(g->body, "\"rows\":[{\"net\":\"198.51.100.0/24\",\"sent\":8,"), "%s",
		  g->body);
	cr_assert(strstr(g->body, "\"next\":\"/api/v1/loss?sort=net&offset=2&limit=1\""), "%s",
		  g->body);
	cr_assert_eq(get(port, "/api/v1/loss?sort=worst")->code, 400);
	g = get(port, "/");
	cr_assert_eq(g->code, 200);
	cr_assert(strstr(g->body, "<section id=\"s-rtt\">"));
	cr_assert(strstr(g->body, "<tr class=\"l5\"><td>::/64</td>"), "%s", g->body);
	g = get(port, "/?loss_offset=2");
	cr_assert(strstr(g->body, "<td>198.51.100.0/24</td>"), "%s", g->body);
	cr_assert(strstr(g->body, "<a href=\"/?loss_offset=0#s-loss\">&larr; previous</a>"));
	g = get(port, "/dist.js");
	cr_assert_eq(g->code, 200);
	cr_assert_null(strstr(g->body, "innerHTML"), "the script sets text, never HTML");
	/* A newer view replaces the old one. */
	rp_dist_tick(&d, T0 + 3600 * S);
	rp_dist_fold(&d, T0 + 3600 * S, v);
	rp_health_server_publish_dist(h, v);
	cr_assert(strstr(get(port, "/api/v1/loss")->body, "\"networks\":0,"));
	rp_health_server_stop(h);
	rp_dist_view_fini(v);
	rp_dist_fini(&d);
}
