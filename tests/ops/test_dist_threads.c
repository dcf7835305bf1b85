/* The health server's /api/v1/rtt, /api/v1/loss and page sections while the control
 * thread publishes new views, also run under ThreadSanitizer: one thread publishes a
 * view every millisecond (alternating two fleets), the test's thread asks the three
 * answers over and over; every answer must be 200 and one of the two fleets whole.
 * Under TSan Criterion cannot start (see tests/ring/test_spsc_threads.c), so a TSan
 * build runs the scenario from its own main() and prints TAP. */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringprobe/dist.h"
#include "ringprobe/health.h"

#define REQUESTS 150

struct pub {
	struct rp_health_server *h;
	struct rp_dist_view v[2];
	atomic_bool stop;
	unsigned published;
};

/* Two fleets: 3 networks (the first all lost) or 5 (none lost). */
static void make_views(struct pub *p)
{
	for (int k = 0; k < 2; k++) {
		struct rp_dist d;
		unsigned nets = k ? 5 : 3;

		rp_dist_init(&d, 16, 0);
		rp_dist_view_init(&p->v[k], d.cap);
		for (unsigned i = 0; i < nets; i++) {
			struct rp_ip a = rp_ip_v4(0xc6120001u | i << 8); /* 198.18.i.1 */

			for (int j = 0; j < 10; j++)
				rp_dist_result(&d, &a, k || i, 30000 + (uint64_t)j * 1000);
		}
		rp_dist_fold(&d, 1000000000ull, &p->v[k]);
		rp_dist_fini(&d);
	}
}

static void *publisher(void *arg)
{
	struct pub *p = arg;
	const struct timespec ms = {0, 1000000};

	while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
		rp_health_server_publish_dist(p->h, &p->v[p->published++ & 1]);
		nanosleep(&ms, NULL);
	}
	return NULL;
}

struct body {
	size_t len;
	char buf[65536];
};

static size_t on_body(char *s, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;

	if (b->len + len >= sizeof(b->buf))
		return 0;
	memcpy(b->buf + b->len, s, len);
	b->len += len;
	b->buf[b->len] = '\0';
	return len;
}

static long get(uint16_t port, const char *path, struct body *b)
{
	CURL *c = curl_easy_init();
	char url[128];
	long code = 0;

	b->len = 0;
	b->buf[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code;
}

/* The scenario; a verdict in why (empty when all is well). */
static bool answers_stay_whole(char *why, size_t whylen)
{
	static struct pub p;
	static struct body b;
	struct rp_health_snapshot s;
	pthread_t t;
	uint16_t port;
	bool ok = true;

	memset(&s, 0, sizeof(s));
	if (rp_health_server_start(&p.h, "127.0.0.1", 0, why, whylen) < 0)
		return false;
	port = rp_health_server_port(p.h);
	rp_health_server_publish(p.h, &s);
	make_views(&p);
	rp_health_server_dist_init(p.h, 16);
	rp_health_server_publish_dist(p.h, &p.v[0]);
	pthread_create(&t, NULL, publisher, &p);
	for (int i = 0; ok && i < REQUESTS; i++) {
		const char *path = i % 3 == 0	? "/api/v1/loss?limit=10"
				   : i % 3 == 1 ? "/api/v1/rtt"
						: "/";
		long code = get(port, path, &b);

		if (code != 200) {
			snprintf(why, whylen, "GET %s: %ld", path, code);
			ok = false;
		} else if (i % 3 == 0 && !strstr(b.buf, "\"networks\":3,\"lossy\":1,") &&
			   !strstr(b.buf, "\"networks\":5,\"lossy\":0,")) {
			snprintf(why, whylen, "a torn view: %.300s", b.buf);
			ok = false;
		} else if (i % 3 == 1 && !strstr(b.buf, "\"sent\":30,\"received\":20,") &&
			   !strstr(b.buf, "\"sent\":50,\"received\":50,")) {
			snprintf(why, whylen, "a torn view: %.300s", b.buf);
			ok = false;
		} else if (i % 3 == 2 && !strstr(b.buf, "<section id=\"s-loss\">")) {
			snprintf(why, whylen, "no loss section: %.300s", b.buf);
			ok = false;
		}
	}
	atomic_store(&p.stop, true);
	pthread_join(t, NULL);
	rp_health_server_stop(p.h);
	rp_dist_view_fini(&p.v[0]);
	rp_dist_view_fini(&p.v[1]);
	if (ok && p.published < 2) {
		snprintf(why, whylen, "the publisher did not run");
		ok = false;
	}
	return ok;
}

Test(dist_threads, answers_stay_whole_while_views_are_published, .timeout = 120)
{
	char why[512] = "";

	cr_assert(answers_stay_whole(why, sizeof(why)), "%s", why);
}

#if defined(__SANITIZE_THREAD__)
#define DIST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DIST_TSAN 1
#endif
#endif

#ifdef DIST_TSAN
/* Replaces Criterion's main (see the top of the file); prints TAP. */
int main(void)
{
	char why[512] = "";
	bool ok = answers_stay_whole(why, sizeof(why));

	printf("1..1\n%s 1 - dist_threads::answers_stay_whole_while_views_are_published%s%s\n",
	       ok ? "ok" : "not ok", ok ? "" : ": ", why);
	return ok ? 0 : 1;
}
#endif
