/* The SNMP facts store (src/ctl/facts.c): what the control thread keeps of each
 * device's sysName for the health server. Set, unchanged, changed, forgotten, cut at a
 * character boundary; the arena stays bounded by the names kept however often they
 * change; a full store makes room by its least recently set device; and a reader thread
 * copying names while the owner rewrites them sees only whole names (run under TSan
 * too, from its own main: suite `threads`). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../tap_scenarios.h"
#include "ringprobe/addr.h"
#include "ringprobe/compiler.h"
#include "ringprobe/facts.h"
#include "ringprobe/snmp.h"

static struct rp_ip ip4(uint32_t i)
{
	return rp_ip_v4(0xc6120000u + i); /* 198.18.0.0/15: named, never sent to */
}

static bool keeps_the_last_name_and_forgets(char *why, size_t whylen)
{
	struct rp_facts *f = NULL;
	struct rp_facts_stats st;
	struct rp_ip a = ip4(1), b = ip4(2);
	char buf[RP_SNMP_NAME_MAX], long_name[400];
	bool ok = false;

	RP_TAP_CHECK(rp_facts_create(&f, 0) < 0 && !f, "cap 0 refused");
	RP_TAP_CHECK(rp_facts_create(&f, 8) == 0, "create");
	RP_TAP_CHECK(rp_facts_sysname(f, &a, buf, sizeof(buf)) == 0 && !buf[0], "none yet");
	RP_TAP_CHECK(rp_facts_set_sysname(f, &a, "core-sw-01"), "a first name is a change");
	RP_TAP_CHECK(!rp_facts_set_sysname(f, &a, "core-sw-01"), "the same name is none");
	RP_TAP_CHECK(rp_facts_sysname(f, &a, buf, sizeof(buf)) == 10 &&
			 strcmp(buf, "core-sw-01") == 0,
		     "got \"%s\"", buf);
	RP_TAP_CHECK(rp_facts_sysname(f, &b, buf, sizeof(buf)) == 0, "b answered nothing");
	RP_TAP_CHECK(rp_facts_set_sysname(f, &a, "core-sw-01b"), "a longer name is a change");
	RP_TAP_CHECK(rp_facts_set_sysname(f, &a, "core-sw-0"), "a prefix is a change");
	rp_facts_sysname(f, &a, buf, sizeof(buf));
	RP_TAP_CHECK(strcmp(buf, "core-sw-0") == 0, "got \"%s\"", buf);
	/* a short buffer: cut, never in the middle of a character */
	RP_TAP_CHECK(rp_facts_set_sysname(f, &b, "r\xc3\xa9seau"), "UTF-8 name");
	RP_TAP_CHECK(rp_facts_sysname(f, &b, buf, 3) == 1 && strcmp(buf, "r") == 0,
		     "cut at a boundary: \"%s\"", buf);
	RP_TAP_CHECK(rp_facts_sysname(f, &b, buf, 4) == 3 && strcmp(buf, "r\xc3\xa9") == 0,
		     "a whole character fits");
	/* longer than RP_SNMP_NAME_MAX - 1: kept cut */
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	long_name[RP_SNMP_NAME_MAX - 2] = '\xc3'; /* a 2-byte character across the limit */
	long_name[RP_SNMP_NAME_MAX - 1] = '\xa9';
	rp_facts_set_sysname(f, &b, long_name);
	RP_TAP_CHECK(rp_facts_sysname(f, &b, buf, sizeof(buf)) == RP_SNMP_NAME_MAX - 2,
		     "cut to %d bytes at a boundary, got %zu", RP_SNMP_NAME_MAX - 2, strlen(buf));
	/* "" forgets, and so does a device leaving */
	RP_TAP_CHECK(rp_facts_set_sysname(f, &b, ""), "an empty name forgets");
	RP_TAP_CHECK(!rp_facts_set_sysname(f, &b, ""), "nothing left to forget");
	RP_TAP_CHECK(rp_facts_sysname(f, &b, buf, sizeof(buf)) == 0, "b forgotten");
	rp_facts_forget(f, &a);
	rp_facts_forget(f, &a);
	rp_facts_forget(NULL, &a);
	RP_TAP_CHECK(rp_facts_sysname(f, &a, buf, sizeof(buf)) == 0, "a forgotten");
	RP_TAP_CHECK(rp_facts_sysname(NULL, &a, buf, sizeof(buf)) == 0 && !buf[0], "NULL store");
	rp_facts_stats(f, &st);
	RP_TAP_CHECK(st.devices == 0, "%u devices left", st.devices);
	ok = true;
out:
	rp_facts_destroy(f);
	return ok;
}

/* Names that change on every answer: the arena holds about twice the names kept, not
 * every name ever set. */
static bool arena_stays_bounded_by_the_names_kept(char *why, size_t whylen)
{
	enum { NDEV = 1000, ROUNDS = 200 };
	struct rp_facts *f = NULL;
	struct rp_facts_stats st;
	char name[64], buf[RP_SNMP_NAME_MAX];
	uint64_t live = 0;
	bool ok = false;

	RP_TAP_CHECK(rp_facts_create(&f, NDEV) == 0, "create");
	for (uint32_t r = 0; r < ROUNDS; r++)
		for (uint32_t i = 0; i < NDEV; i++) {
			struct rp_ip a = ip4(i);

			snprintf(name, sizeof(name), "sw-%u-uptime-%u", i, r);
			RP_TAP_CHECK(rp_facts_set_sysname(f, &a, name), "round %u device %u", r, i);
		}
	for (uint32_t i = 0; i < NDEV; i++) {
		struct rp_ip a = ip4(i);

		snprintf(name, sizeof(name), "sw-%u-uptime-%u", i, ROUNDS - 1);
		rp_facts_sysname(f, &a, buf, sizeof(buf));
		RP_TAP_CHECK(strcmp(buf, name) == 0, "device %u: \"%s\", want \"%s\"", i, buf,
			     name);
		live += strlen(name) + 1;
	}
	rp_facts_stats(f, &st);
	RP_TAP_CHECK(st.devices == NDEV && st.changes == (uint64_t)NDEV * ROUNDS,
		     "%u devices, %llu changes", st.devices, (unsigned long long)st.changes);
	RP_TAP_CHECK(st.compacted > 0, "never compacted");
	RP_TAP_CHECK(st.arena <= 4 * live + 8192,
		     "arena %llu bytes for %llu bytes of names (%llu set in all)",
		     (unsigned long long)st.arena, (unsigned long long)live,
		     (unsigned long long)(live * ROUNDS));
	/* every device leaves: the names are garbage, reclaimed by the next compaction */
	for (uint32_t i = 0; i < NDEV; i++) {
		struct rp_ip a = ip4(i);

		rp_facts_forget(f, &a);
	}
	rp_facts_stats(f, &st);
	RP_TAP_CHECK(st.devices == 0 && st.garbage == st.used, "garbage %llu of %llu",
		     (unsigned long long)st.garbage, (unsigned long long)st.used);
	ok = true;
out:
	rp_facts_destroy(f);
	return ok;
}

static bool full_store_drops_the_least_recently_set(char *why, size_t whylen)
{
	struct rp_facts *f = NULL;
	struct rp_ip a = ip4(1), b = ip4(2), c = ip4(3);
	char buf[RP_SNMP_NAME_MAX];
	bool ok = false;

	RP_TAP_CHECK(rp_facts_create(&f, 2) == 0, "create");
	rp_facts_set_sysname(f, &a, "a");
	rp_facts_set_sysname(f, &b, "b");
	rp_facts_set_sysname(f, &a, "a"); /* answered again: a is the most recent */
	rp_facts_set_sysname(f, &c, "c");
	RP_TAP_CHECK(rp_facts_sysname(f, &b, buf, sizeof(buf)) == 0, "b made room: \"%s\"", buf);
	RP_TAP_CHECK(rp_facts_sysname(f, &a, buf, sizeof(buf)) == 1 && buf[0] == 'a', "a kept");
	RP_TAP_CHECK(rp_facts_sysname(f, &c, buf, sizeof(buf)) == 1 && buf[0] == 'c', "c kept");
	ok = true;
out:
	rp_facts_destroy(f);
	return ok;
}

/* The table grows with the devices that answer, up to the cap, keeping every name and
 * the order in which they were set. */
static bool table_grows_to_the_cap_keeping_names_and_order(char *why, size_t whylen)
{
	enum { CAP = 5000 };
	struct rp_facts *f = NULL;
	struct rp_facts_stats st;
	char name[32], buf[RP_SNMP_NAME_MAX];
	struct rp_ip extra = ip4(CAP), first = ip4(0), second = ip4(1);
	bool ok = false;

	RP_TAP_CHECK(rp_facts_create(&f, CAP) == 0, "create");
	for (uint32_t i = 0; i < CAP; i++) {
		struct rp_ip a = ip4(i);

		snprintf(name, sizeof(name), "dev-%u", i);
		rp_facts_set_sysname(f, &a, name);
	}
	rp_facts_set_sysname(f, &first, "dev-0"); /* unchanged, but now the most recent */
	for (uint32_t i = 0; i < CAP; i++) {
		struct rp_ip a = ip4(i);

		snprintf(name, sizeof(name), "dev-%u", i);
		rp_facts_sysname(f, &a, buf, sizeof(buf));
		RP_TAP_CHECK(strcmp(buf, name) == 0, "device %u: \"%s\"", i, buf);
	}
	rp_facts_stats(f, &st);
	RP_TAP_CHECK(st.devices == CAP, "%u devices", st.devices);
	rp_facts_set_sysname(f, &extra, "one too many");
	RP_TAP_CHECK(rp_facts_sysname(f, &second, buf, sizeof(buf)) == 0,
		     "the least recently set made room: \"%s\"", buf);
	RP_TAP_CHECK(rp_facts_sysname(f, &first, buf, sizeof(buf)) == 5, "dev-0 was set again");
	RP_TAP_CHECK(rp_facts_sysname(f, &extra, buf, sizeof(buf)) == 12, "the new one");
	ok = true;
out:
	rp_facts_destroy(f);
	return ok;
}

/* The health server's side: a thread copying names while the owner changes, forgets and
 * compacts them, and the table grows. Each name is its device's number repeated, so a torn copy
 * shows. */
struct reader {
	struct rp_facts *f;
	atomic_bool stop;
	atomic_uint_least64_t reads; /* the writer waits for the first, so the two overlap */
	uint64_t torn;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	char buf[RP_SNMP_NAME_MAX];

	while (!atomic_load(&r->stop))
		for (uint32_t i = 0; i < 64; i++) {
			struct rp_ip a = ip4(i);
			size_t n = rp_facts_sysname(r->f, &a, buf, sizeof(buf));

			atomic_fetch_add_explicit(&r->reads, 1, memory_order_relaxed);
			for (size_t k = 0; k < n; k++)
				if (buf[k] != (char)('a' + i % 26))
					r->torn++;
		}
	return NULL;
}

static bool reader_thread_sees_whole_names(char *why, size_t whylen)
{
	struct reader r = {0};
	pthread_t t;
	bool started = false, ok = false;
	char name[RP_SNMP_NAME_MAX];

	RP_TAP_CHECK(rp_facts_create(&r.f, 4096) == 0, "create");
	RP_TAP_CHECK(pthread_create(&t, NULL, read_loop, &r) == 0, "pthread_create");
	started = true;
	/* On a loaded machine the writer could finish before the reader first runs, and then
	 * nothing was tested: start writing only once the reader is reading. */
	while (atomic_load_explicit(&r.reads, memory_order_relaxed) == 0)
		sched_yield();
	for (uint32_t k = 0; k < 20000; k++) {
		uint32_t i = k % 64;
		struct rp_ip a = ip4(i);
		size_t len = 1 + (k * 7) % (RP_SNMP_NAME_MAX - 1);

		if (k % 97 == 0) {
			rp_facts_forget(r.f, &a);
			continue;
		}
		memset(name, 'a' + (int)(i % 26), len);
		name[len] = '\0';
		rp_facts_set_sysname(r.f, &a, name);
		if (k % 10 == 0) { /* others answer too: the table grows under the reader */
			struct rp_ip other = ip4(1000 + k / 10);

			rp_facts_set_sysname(r.f, &other, "other");
		}
	}
	atomic_store(&r.stop, true);
	pthread_join(t, NULL);
	started = false;
	RP_TAP_CHECK(atomic_load(&r.reads) > 0 && r.torn == 0, "%llu reads, %llu torn bytes",
		     (unsigned long long)atomic_load(&r.reads), (unsigned long long)r.torn);
	ok = true;
out:
	if (started) {
		atomic_store(&r.stop, true);
		pthread_join(t, NULL);
	}
	rp_facts_destroy(r.f);
	return ok;
}

static const struct rp_tap_scenario scenarios[] = {
    {"facts::keeps_the_last_name_and_forgets", keeps_the_last_name_and_forgets},
    {"facts::arena_stays_bounded_by_the_names_kept", arena_stays_bounded_by_the_names_kept},
    {"facts::full_store_drops_the_least_recently_set", full_store_drops_the_least_recently_set},
    {"facts::reader_thread_sees_whole_names", reader_thread_sees_whole_names},
    {"facts::table_grows_to_the_cap_keeping_names_and_order",
     table_grows_to_the_cap_keeping_names_and_order},
};

#ifndef RP_UNDER_TSAN
#include <criterion/criterion.h>

static void run(size_t i)
{
	char why[2048] = "";

	cr_assert(scenarios[i].fn(why, sizeof(why)), "%s", why);
}

Test(facts, keeps_the_last_name_and_forgets)
{
	run(0);
}
Test(facts, arena_stays_bounded_by_the_names_kept)
{
	run(1);
}
Test(facts, full_store_drops_the_least_recently_set)
{
	run(2);
}
Test(facts, reader_thread_sees_whole_names, .timeout = 60)
{
	run(3);
}
Test(facts, table_grows_to_the_cap_keeping_names_and_order)
{
	run(4);
}
#else
int main(void)
{
	return rp_tap_run(scenarios, RP_ARRAY_SIZE(scenarios), false);
}
#endif
