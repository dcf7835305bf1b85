/* The daemon against a sink that misbehaves: a proxy (fake_http, forwarding to a real
 * VictoriaMetrics) answers 500, or 429 with Retry-After, or answers seconds late, or
 * resets the connection halfway through the body. Each case then lets the proxy pass
 * requests on, stops the daemon and counts in VictoriaMetrics: every probe the daemon
 * sent is a point there, exactly once (probes_sent of the last health_metrics point =
 * the distinct points, none repeated). ("missing" in the figures counts the slots of
 * each device's schedule without a point; on a loaded machine a shard that falls an
 * interval behind sends a device's probe once for two slots, so it is not a loss.) */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rig.h"

#define DEVICES "127.21.0.0/25"
#define NDEV 126
#define INTERVAL_MS 100

struct sink_case {
	struct srv s;
	struct fake_http proxy;
	struct fd_daemon d;
};

/* VictoriaMetrics, the proxy passing requests on to it, and the daemon writing through
 * the proxy, running. */
static void case_start(struct sink_case *c, bool gzip)
{
	fd_need_root();
	fd_enter_netns();
	cr_assert_eq(srv_vm_start(&c->s, NULL), 0, "%s", c->s.why);
	cr_assert_eq(fake_http_start(&c->proxy, NULL), 0);
	fake_http_forward(&c->proxy, c->s.url);
	fd_init(&c->d);
	fd_config(&c->d, &(struct fd_conf){.devices = DEVICES,
					   .interval_ms = INTERVAL_MS,
					   .url = c->proxy.url,
					   .gzip = gzip});
	fd_start_ready(&c->d, NDEV);
	sup_sleep_ms(1000);
}

/* The proxy passes requests on again: waits for the spool to drain, stops the daemon,
 * and checks that every probe is in the sink exactly once. */
static void case_finish(struct sink_case *c, const char *what)
{
	struct fd_points p;
	double t0 = sup_now();
	int64_t probes;

	fake_http_set(&c->proxy, NULL);
	fake_http_delay(&c->proxy, 0);
	fake_http_reset(&c->proxy, 0);
	while (sup_now() - t0 < 90 &&
	       (fd_health(&c->d, "sink_down") != 0 || fd_health(&c->d, "spool_points") != 0))
		sup_sleep_ms(200);
	cr_assert_eq(fd_health(&c->d, "sink_down"), 0, "%s: the sink never came back", what);
	cr_assert_eq(fd_health(&c->d, "spool_points"), 0, "%s: the spool was not replayed", what);
	cr_assert_eq(fd_health(&c->d, "points_dropped"), 0, "%s: points dropped", what);
	cr_assert_eq(fd_stop(&c->d, 30), 0);
	probes = fd_vm_last(&c->s, "probes_sent");
	cr_assert_gt(probes, 0, "%s: no health_metrics point at the stop", what);
	cr_assert_eq(fd_vm_last(&c->s, "points_dropped"), 0, "%s", what);
	cr_assert_eq(fd_vm_last(&c->s, "ring_drops"), 0, "%s", what);
	fd_vm_wait_count(&c->s, probes, 20);
	fd_vm_points(&c->s, INTERVAL_MS, &p);
	fprintf(stderr, "%s: produced=%lld delivered=%zu repeats=%zu missing=%zu\n", what,
		(long long)probes, p.distinct, p.dups, p.missing);
	cr_assert_eq(p.series, NDEV, "%s", what);
	cr_assert_eq((int64_t)p.distinct, probes, "%s: %zu delivered, %lld produced", what,
		     p.distinct, (long long)probes);
	cr_assert_eq(p.dups, 0, "%s: %zu points delivered twice", what, p.dups);
	fd_points_free(&p);
	fake_http_stop(&c->proxy);
	fd_fini(&c->d);
	srv_cleanup(&c->s);
}

static const char resp_500[] =
    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops\n";
static const char resp_429[] = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\n"
			       "Content-Length: 0\r\n\r\n";

Test(fault, sink_answering_500_is_retried_and_loses_nothing, .timeout = 180)
{
	struct sink_case c;
	double failed0;

	case_start(&c, true);
	failed0 = fd_health(&c.d, "batches_failed");
	fake_http_set(&c.proxy, resp_500);
	cr_assert_eq(fd_wait_eq(&c.d, "sink_down", 1, 10), 1, "500 did not put the sink down");
	cr_assert(fd_degraded_for(&c.d, "sink_failing"));
	sup_sleep_ms(4000);
	cr_assert_gt(fd_health(&c.d, "batches_failed"), failed0);
	cr_assert_gt(fd_health(&c.d, "spool_points"), 0, "nothing spooled while failing");
	case_finish(&c, "500");
}

Test(fault, sink_answering_429_with_retry_after_is_waited_for, .timeout = 180)
{
	struct sink_case c;
	int n0, n;
	double first, next = 0;

	case_start(&c, true);
	n0 = atomic_load(&c.proxy.requests);
	cr_assert_lt(n0, FAKE_LOG - 8, "too many requests before the test: %d", n0);
	fake_http_set(&c.proxy, resp_429);
	cr_assert_eq(fd_wait_eq(&c.d, "sink_down", 1, 10), 1, "429 did not put the sink down");
	/* Wait for the first try after the 429s (those in flight with the first one are
	 * answered at once; the next request is the writer's retry). */
	for (double until = sup_now() + 10; sup_now() < until; sup_sleep_ms(50))
		if (atomic_load(&c.proxy.requests) >= n0 + 1)
			break;
	first = c.proxy.at[n0];
	for (double until = sup_now() + 10; sup_now() < until && !next; sup_sleep_ms(50)) {
		n = atomic_load(&c.proxy.requests);
		for (int i = n0 + 1; i < n && i < FAKE_LOG; i++)
			if (c.proxy.at[i] - first > 0.2) {
				next = c.proxy.at[i];
				break;
			}
	}
	cr_assert_gt(next, 0, "no retry after the 429");
	fprintf(stderr, "429: retried %.2f s after a 429 with Retry-After: 3\n", next - first);
	cr_assert_geq(next - first, 2.9, "retried %.2f s after Retry-After: 3", next - first);
	cr_assert_leq(next - first, 6, "retried %.2f s after Retry-After: 3", next - first);
	case_finish(&c, "429");
}

Test(fault, slow_sink_keeps_probes_on_time_and_loses_nothing, .timeout = 180)
{
	struct sink_case c;
	double sent0, late0, sent, late, inflight = 0;

	case_start(&c, true);
	sent0 = fd_health(&c.d, "probes_sent");
	late0 = fd_health(&c.d, "late_sends");
	fake_http_delay(&c.proxy, 2000);
	for (double until = sup_now() + 10; sup_now() < until; sup_sleep_ms(250)) {
		double v = fd_health(&c.d, "requests_inflight");

		if (v > inflight)
			inflight = v;
	}
	sent = fd_health(&c.d, "probes_sent") - sent0;
	late = fd_health(&c.d, "late_sends") - late0;
	fprintf(stderr, "slow: %.0f probes sent in 10 s, %.0f late, up to %.0f requests waiting\n",
		sent, late, inflight);
	/* 126 devices every 100 ms for 10 s: ~12,600 sends, on time while the writer
	 * waits on the sink. */
	cr_assert_geq(sent, NDEV * 10 * 10 * 0.95, "%.0f probes in 10 s", sent);
	cr_assert_leq(late, sent * 0.05, "%.0f of %.0f sends late", late, sent);
	cr_assert_eq(inflight, 4, "the slow answers never filled influxdb.max_inflight");
	case_finish(&c, "slow");
}

Test(fault, sink_resetting_mid_request_loses_nothing, .timeout = 180)
{
	struct sink_case c;

	/* Uncompressed: a body of 100 lines is several KB, so the reset comes halfway. */
	case_start(&c, false);
	fake_http_reset(&c.proxy, 1000);
	cr_assert_eq(fd_wait_eq(&c.d, "sink_down", 1, 10), 1, "resets did not put the sink down");
	sup_sleep_ms(4000);
	cr_assert_gt(atomic_load(&c.proxy.resets), 0);
	fprintf(stderr, "reset: %d connections reset mid-request\n", atomic_load(&c.proxy.resets));
	case_finish(&c, "reset");
}
