/* Scaffolding shared by the tests (tests/) and the benchmarks (bench/): the static library
 * rp_support (tests/support/meson.build). One copy of what they used to repeat: network
 * namespaces and free ports (netns.c), files (files.c), child commands and time (run.c),
 * seeded pseudo-random numbers (inline here), and real sinks with HTTP helpers (servers.h).
 *
 * Nothing here uses Criterion, so the benchmarks and the TSan builds of the threads
 * tests (whose own main() runs without it) link the same code: a helper returns 0 or
 * -errno, says why where a step can fail, and the caller asserts. Names are sup_ (srv_
 * and fake_http_ for the servers), never rp_, which is ringprobe's own API. */
#ifndef RP_TESTS_SUPPORT_H
#define RP_TESTS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "support/servers.h"

/* sup_netns_enter() flags. */
enum sup_netns_flag {
	SUP_NETNS_LO_UP = 1 << 0, /* bring lo up: traffic to 127.0.0.0/8 flows */
};

/** Moves the calling process into a new network namespace (needs CAP_SYS_ADMIN), with lo
 *  up when flags has SUP_NETNS_LO_UP. 0, or -errno with the step that failed in *what
 *  ("unshare(CLONE_NEWNET)", "socket", "SIOCGIFFLAGS lo", "SIOCSIFFLAGS lo"; what may be
 *  NULL). Only system calls: a forked child may call it before exec. */
int sup_netns_enter(unsigned flags, const char **what);
/** Writes value to a /proc/sys file (e.g. net/ipv4/ping_group_range of the namespace the
 *  caller is in). 0 or -errno (-EIO for a short write). */
int sup_sysctl_set(const char *path, const char *value);
/** A free TCP port on 127.0.0.1 (nothing listens on it right after), or -errno. */
int sup_free_port(void);
/** A free UDP port on 127.0.0.1 (nothing is bound to it right after), or -errno. Someone
 *  may take it before the caller binds it: a caller that can tell retries. */
int sup_free_udp_port(void);

/** Seconds since an arbitrary start (CLOCK_MONOTONIC). */
double sup_now(void);
/** Clock `id` in nanoseconds; inline, for measurement loops that read it per operation. */
static inline uint64_t sup_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
/** Sleeps ms milliseconds (less if a signal interrupts). */
void sup_sleep_ms(int ms);

/* Seeded generators, so that a failing randomized test replays and a benchmark draws the
 * same inputs each run. Inline: benchmarks draw in their timed loops, and each is a few
 * cycles. Not for anything secret. */

/** Marsaglia's xorshift64 (shifts 13, 7, 17): advances *state and returns it. The seed
 *  must not be 0, which maps to itself. */
static inline uint64_t sup_xorshift64(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}
/** SplitMix64 (Vigna's splitmix64.c, after Steele, Lea and Flood): adds the golden-ratio
 *  increment to *state and returns that, mixed. Any seed, 0 included. */
static inline uint64_t sup_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/** The whole file, NUL-terminated; "" when it cannot be opened, so callers can search it
 *  either way. Malloc'ed: the caller frees it. Aborts when out of memory. */
char *sup_slurp(const char *path);
/** The value of `"key":` in a flat JSON object such as /health's: a number, true (1)
 *  or false (0); -1 when the key is not there. */
double sup_json_number(const char *body, const char *key);
/** s for a test's message: printable ASCII as is, every other byte as \xNN, so a
 *  message never acts on the terminal. Writes at most n bytes into buf; returns buf. A
 *  NULL s is "". */
const char *sup_shown(const char *s, char *buf, size_t n);
/** Removes path and everything below it, following no link (rm -rf). 0 (also when path
 *  does not exist) or -errno from the first removal that failed. */
int sup_rm_rf(const char *path);
/** Removes path (sup_rm_rf) when the process exits, even after a failed assertion. Keeps
 *  up to 32 paths; more are silently not kept. A forked child inherits the list: it
 *  leaves through _exit(), or it removes them too. */
void sup_rm_at_exit(const char *path);
/** Forgets a path given to sup_rm_at_exit() (the caller removed it itself). */
void sup_rm_at_exit_cancel(const char *path);

/* sup_run() flags. */
enum sup_run_flag {
	SUP_RUN_NETNS = 1 << 0, /* in a network namespace of its own, lo up (needs root) */
};

/** Runs cmd with /bin/sh -c, stdin from /dev/null, and waits for it. What it writes to
 *  stdout and stderr comes back in *out and *err (as sup_slurp; the caller frees); a NULL
 *  out or err leaves that stream the caller's. Returns the exit status (0..255), -ECHILD
 *  when a signal ended it, or -errno when it could not be started (*out and *err then
 *  untouched). */
int sup_run(const char *cmd, unsigned flags, char **out, char **err);

#endif
