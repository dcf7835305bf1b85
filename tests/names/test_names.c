/* The name resolver against a real resolver: dnsmasq on 127.0.0.1 and a free port
 * (tests/support/dns.c), whose hosts file each test rewrites to change records, with
 * TTLs of a second or two so that re-resolution, changes, backoff and recovery happen
 * within the test. Nothing is sent beyond 127.0.0.1. No root needed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ringprobe/names.h"
#include "support/support.h"

#define MAX_EVENTS 64

/* The callbacks seen, in order. */
struct event {
	uint32_t id;
	char name[64];
	enum rp_names_status status;
	size_t n;
	struct rp_ip addrs[RP_NAMES_MAX_ADDRS];
	uint64_t at_ms;
};

struct rec {
	struct rp_names *names;
	int count;
	struct event ev[MAX_EVENTS];
	uint64_t now; /* the tick in progress */
	/* callback_may_remove_and_add: on id remove_on, remove it and add add_name */
	uint32_t remove_on;
	const char *add_name;
};

static uint64_t mono_ms(void)
{
	return sup_clock_ns(CLOCK_MONOTONIC) / 1000000;
}

static void on_change(void *arg, uint32_t id, const char *name, const struct rp_ip *addrs, size_t n,
		      enum rp_names_status status)
{
	struct rec *r = arg;
	struct event *e;

	cr_assert_lt(r->count, MAX_EVENTS, "too many callbacks");
	e = &r->ev[r->count++];
	e->id = id;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->status = status;
	e->n = n;
	cr_assert_leq(n, RP_NAMES_MAX_ADDRS);
	memcpy(e->addrs, addrs, n * sizeof(*addrs));
	e->at_ms = r->now;
	if (r->add_name && id == r->remove_on) {
		cr_assert_eq(rp_names_remove(r->names, id), 0);
		cr_assert_eq(rp_names_add(r->names, r->add_name, id + 1000), 0);
	}
}

static struct srv_dns dns;

static void dns_up(const char *hosts, unsigned ttl_s, const char *forward)
{
	struct srv_dns_opts o = {.ttl_s = ttl_s, .hosts = hosts, .forward = forward};
	int ret = srv_dns_start(&dns, &o);

	cr_assert_eq(ret, 0, "dnsmasq: %s (apt-get install dnsmasq-base)", dns.why);
}

static void teardown(void)
{
	srv_dns_cleanup(&dns);
}

TestSuite(names, .fini = teardown, .timeout = 60);

static struct rp_names_conf conf_for(int family)
{
	struct rp_names_conf c = {
	    .ttl_floor_ms = 100,
	    .ttl_ceiling_ms = 60000,
	    .retry_min_ms = 100,
	    .retry_max_ms = 400,
	    .query_timeout_ms = 500,
	    .tries = 1,
	    .family = family,
	    .servers = dns.server,
	    .seed = 42,
	};
	return c;
}

static void make(struct rec *r, const struct rp_names_conf *c)
{
	char why[256] = "";
	int ret;

	memset(r, 0, sizeof(*r));
	r->now = mono_ms();
	ret = rp_names_create(&r->names, c, r->now, on_change, r, why, sizeof(why));
	cr_assert_eq(ret, 0, "rp_names_create: %d %s", ret, why);
}

/* Ticks every 5 ms for ms milliseconds, or until r has `until` callbacks (0: no early
 * stop). Returns the longest tick in microseconds. */
static uint64_t run(struct rec *r, int ms, int until)
{
	uint64_t end = mono_ms() + (uint64_t)ms, worst = 0;

	while (mono_ms() < end) {
		uint64_t t0 = sup_clock_ns(CLOCK_MONOTONIC), us;

		r->now = t0 / 1000000;
		rp_names_tick(r->names, r->now);
		us = (sup_clock_ns(CLOCK_MONOTONIC) - t0) / 1000;
		if (us > worst)
			worst = us;
		if (until && r->count >= until)
			break;
		sup_sleep_ms(5);
	}
	return worst;
}

static struct rp_ip ip(const char *s)
{
	struct rp_ip a;

	cr_assert(rp_ip_parse(s, &a), "%s", s);
	return a;
}

static void assert_set(const struct event *e, size_t n, const char *const *want)
{
	char got[RP_IP_STRLEN];

	cr_assert_eq(e->n, n, "%s: %zu addresses, want %zu", e->name, e->n, n);
	for (size_t i = 0; i < n; i++) {
		struct rp_ip w = ip(want[i]);

		cr_assert(rp_ip_eq(&e->addrs[i], &w), "%s: address %zu is %s, want %s", e->name, i,
			  rp_ip_format(&e->addrs[i], got), want[i]);
	}
}

#define DUAL_HOSTS                                                                                 \
	"198.18.0.2 dev1.test\n2001:2::1 dev1.test\n198.18.0.1 dev1.test\n"                        \
	"2001:2::1 dev1.test\n198.18.0.3 v4only.test\n"

Test(names, family_filter_picks_4_6_or_both)
{
	static const char *const both[] = {"198.18.0.1", "198.18.0.2", "2001:2::1"};
	static const char *const v4[] = {"198.18.0.1", "198.18.0.2"};
	static const char *const v6[] = {"2001:2::1"};
	static const char *const v4only[] = {"198.18.0.3"};
	struct rp_names_stats st;
	struct rec r;
	struct rp_names_conf c;
	int a0, aaaa0;

	dns_up(DUAL_HOSTS, 60, NULL);

	/* IPv4 only: A queries, never AAAA. */
	c = conf_for(4);
	make(&r, &c);
	cr_assert_eq(rp_names_add(r.names, "dev1.test", 7), 0);
	run(&r, 3000, 1);
	cr_assert_eq(r.count, 1);
	cr_assert_eq(r.ev[0].id, 7);
	cr_assert_str_eq(r.ev[0].name, "dev1.test");
	cr_assert_eq(r.ev[0].status, RP_NAMES_OK);
	assert_set(&r.ev[0], 2, v4);
	cr_assert_eq(srv_dns_queries(&dns, "A", "dev1.test"), 1);
	cr_assert_eq(srv_dns_queries(&dns, "AAAA", "dev1.test"), 0);
	rp_names_destroy(r.names);

	/* IPv6 only: AAAA queries; a name with only an A record has no data. */
	a0 = srv_dns_queries(&dns, "A", "dev1.test");
	c = conf_for(6);
	make(&r, &c);
	cr_assert_eq(rp_names_add(r.names, "dev1.test", 1), 0);
	cr_assert_eq(rp_names_add(r.names, "v4only.test", 2), 0);
	run(&r, 3000, 2);
	cr_assert_eq(r.count, 2);
	for (int i = 0; i < 2; i++) {
		if (r.ev[i].id == 1) {
			cr_assert_eq(r.ev[i].status, RP_NAMES_OK);
			assert_set(&r.ev[i], 1, v6);
		} else {
			cr_assert_eq(r.ev[i].id, 2);
			cr_assert_eq(r.ev[i].status, RP_NAMES_NODATA, "status %s",
				     rp_names_status_str(r.ev[i].status));
			cr_assert_eq(r.ev[i].n, 0);
		}
	}
	cr_assert_eq(srv_dns_queries(&dns, "A", "dev1.test"), a0);
	cr_assert_eq(srv_dns_queries(&dns, "AAAA", "dev1.test"), 1);
	rp_names_stats(r.names, &st);
	cr_assert_eq(st.tracked, 2);
	cr_assert_eq(st.failing, 1);
	cr_assert_eq(st.pending, 0);
	cr_assert_eq(st.ok, 1);
	cr_assert_eq(st.failures, 1);
	cr_assert_eq(st.changes, 2);
	rp_names_destroy(r.names);

	/* Both: the sorted, deduplicated union (IPv4 first, as its mapped form sorts). */
	aaaa0 = srv_dns_queries(&dns, "AAAA", "dev1.test");
	c = conf_for(0);
	make(&r, &c);
	cr_assert_eq(rp_names_add(r.names, "dev1.test", 1), 0);
	cr_assert_eq(rp_names_add(r.names, "v4only.test", 2), 0);
	run(&r, 3000, 2);
	cr_assert_eq(r.count, 2);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(r.ev[i].status, RP_NAMES_OK);
		if (r.ev[i].id == 1)
			assert_set(&r.ev[i], 3, both);
		else
			assert_set(&r.ev[i], 1, v4only);
	}
	cr_assert_eq(srv_dns_queries(&dns, "AAAA", "dev1.test"), aaaa0 + 1);
	{
		struct rp_ip got[RP_NAMES_MAX_ADDRS];
		size_t cnt = 0;
		struct rp_ip want = ip("2001:2::1");

		cr_assert_eq(rp_names_get(r.names, 1, got, RP_NAMES_MAX_ADDRS, &cnt), RP_NAMES_OK);
		cr_assert_eq(cnt, 3);
		cr_assert(rp_ip_eq(&got[2], &want));
		cr_assert_eq(rp_names_get(r.names, 99, NULL, 0, NULL), -ENOENT);
	}
	rp_names_destroy(r.names);
}

/* TTL 1 s, floor 100 ms: re-resolved about once a second, and since nothing changes,
 * the callback is never called again. */
Test(names, ttl_is_honoured_and_no_change_says_nothing)
{
	struct rp_names_conf c;
	struct rp_names_stats st;
	struct rec r;
	int q;

	dns_up("198.18.0.1 dev1.test\n", 1, NULL);
	c = conf_for(4);
	make(&r, &c);
	cr_assert_eq(rp_names_add(r.names, "dev1.test", 1), 0);
	run(&r, 3500, 0);
	q = srv_dns_queries(&dns, "A", "dev1.test");
	/* at 0, ~1, ~2, ~3 s (a few ms each for the answer and the 5 ms ticks) */
	cr_assert(q >= 3 && q <= 4, "%d queries in 3.5 s with a 1 s TTL", q);
	rp_names_stats(r.names, &st);
	cr_assert_eq(st.queries, (uint64_t)q);
	cr_assert_eq(st.ok, (uint64_t)q);
	cr_assert_eq(st.failures, 0);
	cr_assert_eq(st.changes, 1);
	cr_assert_eq(r.count, 1);
	rp_names_destroy(r.names);
}

Test(names, floor_and_ceiling_clamp_the_ttl)
{
	struct rp_names_conf c;
	struct rec r;
	int q;

	/* TTL 1 s under a 2 s floor: re-resolved at ~2 s only within 3 s. */
	dns_up("198.18.0.1 dev1.test\n198.18.0.2 dev2.test\n", 1, NULL);
	c = conf_for(4);
	c.ttl_floor_ms = 2000;
	make(&r, &c);
	cr_assert_eq(rp_names_add(r.names, "dev1.test", 1), 0);
	run(&r, 3000, 0);
	q = srv_dns_queries(&dns, "A", "dev1.test");
	cr_assert_eq(q, 2, "%d queries in 3 s with TTL 1 s and a 2 s floor", q);
	rp_names_destroy(r.names);

	/* TTL 60 s over a 400 ms ceiling: re-resolved every 400 ms. */
	srv_dns_cleanup(&dns);
	dns_up("198.18.0.2 dev2.test\n", 60, NULL);
	c = conf_for(4);
	c.ttl_ceiling_ms = 400;
	make(&r, &c);
	cr_assert_eq(rp_names_add(r.names, "dev2.test", 2), 0);
	run(&r, 2100, 0);
	q = srv_dns_queries(&dns, "A", "dev2.test");
	/* at 0, 0.4, 0.8, 1.2, 1.6, 2.0 s (one fewer when the machine is busy); 1 without
	 * the ceiling */
	cr_assert(q >= 4 && q <= 6, "%d queries in 2.1 s with a 400 ms ceiling", q);
	cr_assert_eq(r.count, 1);
	rp_names_destroy(r.names);
}

/* A record that changes is delivered once, within its TTL and a margin, with the name
 * and id it was added with; then nothing more. */
Test(names, change_is_delivered_once_within_the_ttl)
{
	static const char *const before[] = {"198.18.0.1", "2001:2::1"};
	static const char *const after[] = {"198.18.0.9", "2001:2::9"};
	struct rp_names_conf c;
	struct rec r;
	uint64_t changed_at;

	dns_up("198.18.0.1 dev1.test\n2001:2::1 dev1.test\n", 1, NULL);
	c = conf_for(0);
	make(&r, &c);
	cr_assert_eq(rp_names_add(r.names, "dev1.test", 42), 0);
	run(&r, 3000, 1);
	cr_assert_eq(r.count, 1);
	assert_set(&r.ev[0], 2, before);

	cr_assert_eq(srv_dns_set_hosts(&dns, "198.18.0.9 dev1.test\n2001:2::9 dev1.test\n"), 0,
		     "%s", dns.why);
	changed_at = mono_ms();
	run(&r, 3000, 2);
	cr_assert_eq(r.count, 2);
	cr_assert_eq(r.ev[1].id, 42);
	cr_assert_str_eq(r.ev[1].name, "dev1.test");
	cr_assert_eq(r.ev[1].status, RP_NAMES_OK);
	assert_set(&r.ev[1], 2, after);
	cr_assert_leq(r.ev[1].at_ms - changed_at, 1000 + 400, "delivered %llu ms after the change",
		      (unsigned long long)(r.ev[1].at_ms - changed_at));

	run(&r, 1500, 0);
	cr_assert_eq(r.count, 2, "a callback without a change");
	cr_assert_geq(srv_dns_queries(&dns, "A", "dev1.test"), 3);
	rp_names_destroy(r.names);
}

/* An unknown name: NXDOMAIN delivered once, retried at 100, 200, 400, 400 ms (each less up
 * to a quarter of jitter), and delivered again when the record appears. */
Test(names, nxdomain_once_then_backoff_then_recovery)
{
	static const char *const found[] = {"198.18.0.7"};
	struct rp_names_conf c;
	struct rp_names_stats st;
	struct rec r;
	uint64_t starts[16], last_q = 0, end;
	int k = 0;

	dns_up("198.18.0.1 dev1.test\n", 1, NULL);
	c = conf_for(4);
	make(&r, &c);
	cr_assert_eq(rp_names_add(r.names, "ghost.test", 3), 0);
	/* The times at which resolutions start, to 1 ms. */
	end = mono_ms() + 1400;
	while (mono_ms() < end && k < 16) {
		r.now = mono_ms();
		rp_names_tick(r.names, r.now);
		rp_names_stats(r.names, &st);
		if (st.queries != last_q) {
			last_q = st.queries;
			starts[k++] = r.now;
		}
		sup_sleep_ms(1);
	}
	cr_assert_eq(r.count, 1, "NXDOMAIN delivered %d times", r.count);
	cr_assert_eq(r.ev[0].status, RP_NAMES_NXDOMAIN, "status %s",
		     rp_names_status_str(r.ev[0].status));
	cr_assert_eq(r.ev[0].n, 0);
	cr_assert_geq(k, 5, "%d resolutions in 1.4 s", k);
	{
		const uint64_t want[] = {100, 200, 400, 400};

		for (int i = 0; i < 4; i++) {
			uint64_t gap = starts[i + 1] - starts[i];

			cr_assert(gap + 5 >= want[i] * 3 / 4 && gap <= want[i] + 50,
				  "retry %d after %llu ms, want %llu less up to a quarter", i + 1,
				  (unsigned long long)gap, (unsigned long long)want[i]);
		}
	}
	rp_names_stats(r.names, &st);
	cr_assert_eq(st.failing, 1);
	cr_assert_eq(st.retries, st.queries - 1);
	cr_assert_eq(st.failures, st.queries - (st.resolving ? 1 : 0));
	cr_assert_eq(srv_dns_queries(&dns, "A", "ghost.test"), (int)st.queries - (int)st.resolving);

	cr_assert_eq(srv_dns_set_hosts(&dns, "198.18.0.7 ghost.test\n"), 0, "%s", dns.why);
	run(&r, 1000, 2);
	cr_assert_eq(r.count, 2);
	cr_assert_eq(r.ev[1].status, RP_NAMES_OK);
	assert_set(&r.ev[1], 1, found);
	rp_names_stats(r.names, &st);
	cr_assert_eq(st.failing, 0);
	cr_assert_eq(st.changes, 2);
	rp_names_destroy(r.names);
}

/* The server goes away: the re-resolution fails without a tick ever blocking, the last
 * good addresses are kept, and the name recovers when the server is back. */
Test(names, server_down_fails_without_blocking_and_keeps_the_addresses)
{
	static const char *const set[] = {"198.18.0.1"};
	struct rp_names_conf c;
	struct rp_names_stats st;
	struct rec r;
	uint64_t worst;

	dns_up("198.18.0.1 dev1.test\n", 1, NULL);
	c = conf_for(4);
	c.query_timeout_ms = 300;
	make(&r, &c);
	cr_assert_eq(rp_names_add(r.names, "dev1.test", 5), 0);
	run(&r, 3000, 1);
	cr_assert_eq(r.count, 1);
	cr_assert_eq(r.ev[0].status, RP_NAMES_OK);

	srv_dns_stop(&dns);
	worst = run(&r, 4000, 2);
	cr_assert_eq(r.count, 2);
	cr_assert(r.ev[1].status == RP_NAMES_UNREACHABLE || r.ev[1].status == RP_NAMES_TIMEOUT,
		  "status %s", rp_names_status_str(r.ev[1].status));
	assert_set(&r.ev[1], 1, set);
	/* 50 ms: scheduling noise on a busy machine, far below the 300 ms a blocking
	 * query would take */
	cr_assert_lt(worst, 50000, "a tick took %llu us", (unsigned long long)worst);
	{
		struct rp_ip got;
		size_t cnt = 0;

		cr_assert_eq(rp_names_get(r.names, 5, &got, 1, &cnt), (int)r.ev[1].status);
		cr_assert_eq(cnt, 1);
	}
	rp_names_stats(r.names, &st);
	cr_assert_eq(st.failing, 1);

	/* Still failing a while later: no callback for the same failure. */
	worst = run(&r, 800, 0);
	cr_assert_eq(r.count, 2);
	cr_assert_lt(worst, 50000, "a tick took %llu us", (unsigned long long)worst);

	cr_assert_eq(srv_dns_restart(&dns), 0, "%s", dns.why);
	run(&r, 2000, 3);
	cr_assert_eq(r.count, 3);
	cr_assert_eq(r.ev[2].status, RP_NAMES_OK);
	assert_set(&r.ev[2], 1, set);
	rp_names_destroy(r.names);
}

/* Many names through few in-flight slots; removal in every state; the id table grows and
 * deletes (backward shift) without losing anyone. */
Test(names, many_names_wait_for_slots_and_remove_in_any_state)
{
	char hosts[8192], name[32];
	struct rp_names_conf c;
	struct rp_names_stats st;
	struct rec r;
	size_t off = 0;
	int ndone = 0;

	for (int i = 0; i < 60; i++)
		off += (size_t)snprintf(hosts + off, sizeof(hosts) - off, "198.18.1.%d h%d.test\n",
					i + 1, i);
	dns_up(hosts, 60, NULL);
	c = conf_for(4);
	c.max_inflight = 4;
	make(&r, &c);
	for (uint32_t i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "h%u.test", i);
		cr_assert_eq(rp_names_add(r.names, name, i * 7919), 0);
	}
	rp_names_stats(r.names, &st);
	cr_assert_eq(st.tracked, 60);
	cr_assert_eq(st.resolving, 4);
	cr_assert_eq(st.waiting, 56);
	cr_assert_eq(st.pending, 60);
	/* In flight (the first), waiting (the last): gone without a callback. */
	cr_assert_eq(rp_names_remove(r.names, 0), 0);
	cr_assert_eq(rp_names_remove(r.names, 59 * 7919), 0);
	cr_assert_eq(rp_names_remove(r.names, 59 * 7919), -ENOENT);
	run(&r, 5000, 58);
	cr_assert_eq(r.count, 58, "%d callbacks for 58 names", r.count);
	for (int i = 0; i < r.count; i++) {
		uint32_t k = r.ev[i].id / 7919;
		struct rp_ip want = rp_ip_v4(0xc6120100u + k + 1); /* 198.18.1.k+1 */

		cr_assert_eq(r.ev[i].id % 7919, 0);
		cr_assert(k > 0 && k < 59, "callback for removed id %u", r.ev[i].id);
		snprintf(name, sizeof(name), "h%u.test", k);
		cr_assert_str_eq(r.ev[i].name, name);
		cr_assert_eq(r.ev[i].status, RP_NAMES_OK);
		cr_assert_eq(r.ev[i].n, 1);
		cr_assert(rp_ip_eq(&r.ev[i].addrs[0], &want));
		ndone++;
	}
	cr_assert_eq(ndone, 58);
	/* Every other one removed, then all the rest found where they were. */
	for (uint32_t i = 1; i < 59; i += 2)
		cr_assert_eq(rp_names_remove(r.names, i * 7919), 0);
	for (uint32_t i = 1; i < 59; i++) {
		struct rp_ip a;
		size_t cnt = 0;
		int ret = rp_names_get(r.names, i * 7919, &a, 1, &cnt);

		if (i % 2) {
			cr_assert_eq(ret, -ENOENT, "id %u", i * 7919);
		} else {
			struct rp_ip want = rp_ip_v4(0xc6120100u + i + 1);

			cr_assert_eq(ret, RP_NAMES_OK, "id %u: %d", i * 7919, ret);
			cr_assert(rp_ip_eq(&a, &want));
		}
	}
	rp_names_stats(r.names, &st);
	cr_assert_eq(st.tracked, 29);
	cr_assert_eq(st.pending, 0);
	cr_assert_eq(st.resolving, 0);
	cr_assert_eq(st.waiting, 0);
	rp_names_destroy(r.names);
}

Test(names, callback_may_remove_and_add)
{
	struct rp_names_conf c;
	struct rec r;

	dns_up("198.18.0.1 a.test\n198.18.0.2 b.test\n", 60, NULL);
	c = conf_for(4);
	make(&r, &c);
	r.remove_on = 1;
	r.add_name = "b.test";
	cr_assert_eq(rp_names_add(r.names, "a.test", 1), 0);
	run(&r, 3000, 2);
	cr_assert_eq(r.count, 2);
	cr_assert_eq(r.ev[0].id, 1);
	cr_assert_eq(r.ev[1].id, 1001);
	cr_assert_str_eq(r.ev[1].name, "b.test");
	cr_assert_eq(rp_names_get(r.names, 1, NULL, 0, NULL), -ENOENT);
	rp_names_destroy(r.names);
}

Test(names, refuses_literals_bad_names_and_bad_conf)
{
	static const char *const bad[] = {
	    "",		  "198.18.0.1", "2001:db8::1",	  "::ffff:192.0.2.4", "192.0.2",
	    "0192.0.2.1", "a b.test",	"2001:db8::1%lo", "tab\t.test"};
	char why[256], longname[300];
	struct rp_names_conf c;
	struct rp_names *n;
	struct rec r;

	dns_up("", 60, NULL);
	c = conf_for(0);
	make(&r, &c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(rp_names_add(r.names, bad[i], 1), -EINVAL, "\"%s\" accepted", bad[i]);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(rp_names_add(r.names, longname, 1), -EINVAL);
	cr_assert_eq(rp_names_add(r.names, "ok.test", 1), 0);
	cr_assert_eq(rp_names_add(r.names, "other.test", 1), -EEXIST);
	cr_assert_eq(rp_names_remove(r.names, 2), -ENOENT);
	rp_names_destroy(r.names);
	rp_names_destroy(NULL);

	c.family = 5;
	cr_assert_eq(rp_names_create(&n, &c, 0, on_change, NULL, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "family"), "%s", why);
	c = conf_for(0);
	c.ttl_floor_ms = 5000;
	c.ttl_ceiling_ms = 1000;
	cr_assert_eq(rp_names_create(&n, &c, 0, on_change, NULL, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "floor"), "%s", why);
	c = conf_for(0);
	c.retry_min_ms = 10000;
	cr_assert_eq(rp_names_create(&n, &c, 0, on_change, NULL, why, sizeof(why)), -EINVAL);
	c = conf_for(0);
	c.servers = "not a server";
	cr_assert_eq(rp_names_create(&n, &c, 0, on_change, NULL, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "resolver"), "%s", why);
	c = conf_for(0);
	cr_assert_eq(rp_names_create(&n, &c, 0, NULL, NULL, why, sizeof(why)), -EINVAL);
	/* The system's configuration: read at create (nothing is sent until a name is added). */
	c = conf_for(0);
	c.servers = NULL;
	cr_assert_eq(rp_names_create(&n, &c, 0, on_change, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rp_names_next_timeout_ms(n, 0), -1);
	rp_names_destroy(n);
	cr_assert_str_eq(rp_names_status_str(RP_NAMES_NXDOMAIN), "nxdomain");
	cr_assert_str_eq(rp_names_status_str(RP_NAMES_TIMEOUT), "timeout");
}

/* The one-shot form: names that answer resolve, an unknown one is NXDOMAIN, and one whose
 * server never answers (dnsmasq forwards slow.test to a socket that reads nothing) times
 * out at the deadline, not before and not much after. */
Test(names, resolve_all_resolves_several_and_times_out_one)
{
	static const char *const names[] = {"a.test", "b.test", "ghost.test", "x.slow.test",
					    "nowhere.example"};
	struct rp_names_result res[5];
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	char fwd[96], why[256] = "";
	struct rp_names_conf c;
	struct rp_ip a = ip("198.18.0.1"), b = ip("2001:2::2");
	uint64_t t0, took;
	int hole, ret;

	hole = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(hole, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(hole, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(getsockname(hole, (struct sockaddr *)&sin, &len), 0);
	snprintf(fwd, sizeof(fwd), "/slow.test/127.0.0.1#%d", ntohs(sin.sin_port));
	dns_up("198.18.0.1 a.test\n2001:2::2 b.test\n", 60, fwd);

	c = conf_for(0);
	c.query_timeout_ms = 5000; /* the deadline comes first */
	t0 = mono_ms();
	ret = rp_names_resolve_all(&c, names, 5, 1500, res, why, sizeof(why));
	took = mono_ms() - t0;
	cr_assert_eq(ret, 2, "%d resolved: %s", ret, why);
	cr_assert_eq(res[0].status, RP_NAMES_OK);
	cr_assert_eq(res[0].n, 1);
	cr_assert(rp_ip_eq(&res[0].addrs[0], &a));
	cr_assert_eq(res[1].status, RP_NAMES_OK);
	cr_assert_eq(res[1].n, 1);
	cr_assert(rp_ip_eq(&res[1].addrs[0], &b));
	cr_assert_eq(res[2].status, RP_NAMES_NXDOMAIN, "%s", rp_names_status_str(res[2].status));
	cr_assert_eq(res[2].n, 0);
	cr_assert_eq(res[3].status, RP_NAMES_TIMEOUT, "%s", rp_names_status_str(res[3].status));
	cr_assert_eq(res[3].n, 0);
	/* dnsmasq refuses a name outside its domains (no upstream server) */
	cr_assert(res[4].status == RP_NAMES_UNREACHABLE || res[4].status == RP_NAMES_REFUSED, "%s",
		  rp_names_status_str(res[4].status));
	cr_assert(took >= 1500 && took < 2000, "took %llu ms for a 1500 ms deadline",
		  (unsigned long long)took);
	cr_assert_geq(srv_dns_queries(&dns, NULL, "x.slow.test"), 1);
	/* Nothing failed quickly, so the failed name was asked once: no retries. */
	cr_assert_eq(srv_dns_queries(&dns, "A", "ghost.test"), 1);

	/* All answer: returns as soon as they have, far before the deadline. */
	t0 = mono_ms();
	ret = rp_names_resolve_all(&c, names, 2, 5000, res, why, sizeof(why));
	took = mono_ms() - t0;
	cr_assert_eq(ret, 2);
	cr_assert_lt(took, 1000, "took %llu ms", (unsigned long long)took);

	ret = rp_names_resolve_all(&c, (const char *const[]){"a.test", "198.18.0.1"}, 2, 1000, res,
				   why, sizeof(why));
	cr_assert_eq(ret, -EINVAL);
	cr_assert(strstr(why, "target 2"), "%s", why);
	close(hole);
}

/* A server that never answers (dnsmasq forwards slow.test to a socket that reads nothing):
 * c-ares times the query out (300 ms, one try) while every tick returns at once, the
 * timeout is delivered once, and retries follow with backoff. */
Test(names, unanswered_query_times_out_without_blocking)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct rp_names_conf c;
	struct rp_names_stats st;
	struct rec r;
	char fwd[96];
	uint64_t worst, t0;
	int hole;

	hole = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(hole, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(hole, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(getsockname(hole, (struct sockaddr *)&sin, &len), 0);
	snprintf(fwd, sizeof(fwd), "/slow.test/127.0.0.1#%d", ntohs(sin.sin_port));
	dns_up("", 60, fwd);
	c = conf_for(4);
	c.query_timeout_ms = 300;
	make(&r, &c);
	t0 = mono_ms();
	cr_assert_eq(rp_names_add(r.names, "x.slow.test", 9), 0);
	worst = run(&r, 3000, 1);
	cr_assert_eq(r.count, 1);
	cr_assert_eq(r.ev[0].status, RP_NAMES_TIMEOUT, "status %s",
		     rp_names_status_str(r.ev[0].status));
	cr_assert_eq(r.ev[0].n, 0);
	cr_assert(r.ev[0].at_ms - t0 >= 290 && r.ev[0].at_ms - t0 < 1000, "timed out after %llu ms",
		  (unsigned long long)(r.ev[0].at_ms - t0));
	{
		uint64_t more = run(&r, 1000, 0);

		worst = more > worst ? more : worst;
	}
	cr_assert_lt(worst, 50000, "a tick took %llu us", (unsigned long long)worst);
	cr_assert_eq(r.count, 1, "the same failure delivered again");
	rp_names_stats(r.names, &st);
	cr_assert_geq(st.retries, 1);
	cr_assert_eq(st.failing, 1);
	cr_assert_geq(rp_names_next_timeout_ms(r.names, mono_ms()), 0);
	rp_names_destroy(r.names);
	close(hole);
}

/* Which families have a route: none in a fresh network namespace (lo only), then each
 * as a default route via lo is added. Needs root for the namespace. */
Test(names, routed_family_follows_the_routes)
{
	const char *what = "";
	int ret;

	ret = rp_names_routed_family();
	cr_assert(ret == 0 || ret == 4 || ret == 6 || ret == -ENETUNREACH, "%d", ret);
	if (geteuid() != 0)
		cr_skip_test("needs root (a network namespace)");
	ret = sup_netns_enter(SUP_NETNS_LO_UP, &what);
	cr_assert_eq(ret, 0, "%s: %d", what, ret);
	cr_assert_eq(rp_names_routed_family(), -ENETUNREACH);
	cr_assert_eq(sup_run("ip route add default dev lo", 0, NULL, NULL), 0);
	cr_assert_eq(rp_names_routed_family(), 4);
	cr_assert_eq(sup_run("ip -6 route add default dev lo", 0, NULL, NULL), 0);
	cr_assert_eq(rp_names_routed_family(), 0);
	cr_assert_eq(sup_run("ip route del default dev lo", 0, NULL, NULL), 0);
	cr_assert_eq(rp_names_routed_family(), 6);
}

/* More addresses than RP_NAMES_MAX_ADDRS: the lowest ones are kept. An AAAA record
 * holding a mapped IPv4 address is that IPv4 address (one entry with its A twin). */
Test(names, big_sets_keep_the_lowest_and_mapped_aaaa_is_ipv4)
{
	char hosts[4096];
	struct rp_names_conf c;
	struct rec r;
	size_t off = 0;

	/* 198.18.2.1 .. 198.18.2.20, written highest first */
	for (int i = 20; i >= 1; i--)
		off +=
		    (size_t)snprintf(hosts + off, sizeof(hosts) - off, "198.18.2.%d big.test\n", i);
	snprintf(hosts + off, sizeof(hosts) - off,
		 "198.18.0.5 twin.test\n::ffff:198.18.0.5 twin.test\n");
	dns_up(hosts, 60, NULL);
	c = conf_for(0);
	make(&r, &c);
	cr_assert_eq(rp_names_add(r.names, "big.test", 1), 0);
	cr_assert_eq(rp_names_add(r.names, "twin.test", 2), 0);
	run(&r, 3000, 2);
	cr_assert_eq(r.count, 2);
	for (int i = 0; i < 2; i++) {
		const struct event *e = &r.ev[i];

		cr_assert_eq(e->status, RP_NAMES_OK, "%s: %s", e->name,
			     rp_names_status_str(e->status));
		if (e->id == 1) {
			cr_assert_eq(e->n, RP_NAMES_MAX_ADDRS);
			for (uint32_t k = 0; k < RP_NAMES_MAX_ADDRS; k++) {
				struct rp_ip want = rp_ip_v4(0xc6120200u + k + 1);

				cr_assert(rp_ip_eq(&e->addrs[k], &want), "big.test address %u", k);
			}
		} else {
			static const char *const twin[] = {"198.18.0.5"};

			assert_set(e, 1, twin);
		}
	}
	rp_names_destroy(r.names);

	/* IPv6 only: the mapped AAAA is IPv4, so twin.test has no IPv6 address. */
	c = conf_for(6);
	make(&r, &c);
	cr_assert_eq(rp_names_add(r.names, "twin.test", 2), 0);
	run(&r, 3000, 1);
	cr_assert_eq(r.count, 1);
	cr_assert_eq(r.ev[0].status, RP_NAMES_NODATA, "%s", rp_names_status_str(r.ev[0].status));
	rp_names_destroy(r.names);
}
