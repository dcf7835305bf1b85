/* Name resolver: DNS names of devices and targets -> address sets, asynchronously with
 * c-ares, re-resolved when their TTL expires, retried with backoff when they fail.
 *
 * Threads: one object belongs to one thread (the control thread of `run`); nothing here
 * locks, and nothing in rp_names_tick() blocks: it polls c-ares's sockets with a zero
 * timeout. The callback runs on that thread, from rp_names_tick() only (never from
 * rp_names_add() or rp_names_remove()), so it may call rp_names_add() and
 * rp_names_remove() (for any id, its own included), but not rp_names_tick() or
 * rp_names_destroy().
 *
 * Time: `now` is the caller's monotonic clock in milliseconds, non-decreasing across
 * calls (the daemon's loop clock). TTLs and backoff delays are scheduled on it (an
 * rp_wheel of 1 ms ticks); c-ares times out its own queries on its own clock.
 *
 * Allocation: rp_names_add() allocates the name's record (and grows the id table);
 * c-ares allocates per query. Nothing is allocated per probe: this is control-path code.
 *
 * What the callback is told (the contract the daemon builds on):
 * - Each name has a delivered state: a status and an address set. The set is sorted by
 *   rp_ip_cmp, without duplicates, holds only the families the configuration asks for,
 *   and at most RP_NAMES_MAX_ADDRS addresses (the lowest ones when a name has more). An
 *   AAAA record holding a mapped address (::ffff:a.b.c.d) counts as that IPv4 address.
 * - The callback is called only on a change of that state: the first outcome after
 *   rp_names_add() (success or failure), a different address set, or a different status
 *   (ok -> failing, failing -> ok, or one failure kind -> another). A re-resolution that
 *   gives the same set, or the same failure again, is counted and says nothing. So the
 *   callback is the place to log "once per change".
 * - A failure keeps the last good set: a name that resolved once and then fails (the
 *   server is down, the record was removed) is delivered with its failure status and the
 *   addresses it had, which the caller keeps probing until a success changes them. A name
 *   that never resolved is delivered with n = 0.
 * - A success is re-resolved after its TTL (the lowest TTL among its records, clamped to
 *   [ttl_floor_ms, ttl_ceiling_ms]); a failure is retried after a delay that doubles from
 *   retry_min_ms up to retry_max_ms with each consecutive failure, minus up to a quarter
 *   of jitter (never above retry_max_ms). A success resets the backoff.
 * - At most max_inflight queries run at once; the others wait their turn in order.
 *
 * Names: a name must be a host name, not an address literal (the caller parses
 * addresses first; rp_names_add() refuses a literal with -EINVAL). With conf->servers
 * NULL the system's resolver configuration is read once at create: /etc/resolv.conf
 * (servers, search list, ndots) and /etc/hosts as "lookup files bind" say. With
 * conf->servers given, only those servers are asked, the name is taken as it is (no
 * search list) and /etc/hosts is not read: what the tests use, with a resolver on
 * loopback.
 */
#ifndef RP_NAMES_H
#define RP_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringprobe/addr.h"

struct pollfd;
struct rp_names;

/* Addresses kept and delivered per name. */
#define RP_NAMES_MAX_ADDRS 16
/* Longest name accepted (RFC 1035: 253 characters without the final dot). */
#define RP_NAMES_MAX_LEN 253

/* Defaults for a zero field of struct rp_names_conf. */
#define RP_NAMES_DEFAULT_TTL_FLOOR_MS 5000u
#define RP_NAMES_DEFAULT_TTL_CEILING_MS 3600000u
#define RP_NAMES_DEFAULT_RETRY_MIN_MS 1000u
#define RP_NAMES_DEFAULT_RETRY_MAX_MS 300000u
#define RP_NAMES_DEFAULT_QUERY_TIMEOUT_MS 2000u
#define RP_NAMES_DEFAULT_TRIES 2u
#define RP_NAMES_DEFAULT_MAX_INFLIGHT 64u

/* The outcome of a resolution. Every value but RP_NAMES_OK and RP_NAMES_PENDING is a
 * failure. */
enum rp_names_status {
	RP_NAMES_OK = 0,
	RP_NAMES_PENDING,     /* never resolved yet (stats and results only, never delivered) */
	RP_NAMES_NXDOMAIN,    /* the name does not exist */
	RP_NAMES_NODATA,      /* it exists, with no address of the families asked for */
	RP_NAMES_SERVFAIL,    /* the server failed (see UNREACHABLE) */
	RP_NAMES_REFUSED,     /* the server refused the query (see UNREACHABLE) */
	RP_NAMES_TIMEOUT,     /* no answer in time */
	RP_NAMES_UNREACHABLE, /* no server gave an answer: each refused the connection (ICMP
				 port unreachable), or answered SERVFAIL or REFUSED, which
				 c-ares 1.18 takes as "try the next server" and reports so */
	RP_NAMES_ERROR,	      /* anything else (a malformed answer, out of memory) */
};

/** A short lower-case word for the status ("ok", "nxdomain", "timeout", ...). */
const char *rp_names_status_str(enum rp_names_status s);

struct rp_names_conf {
	uint32_t ttl_floor_ms;	   /* shortest time a success is kept (0: default) */
	uint32_t ttl_ceiling_ms;   /* longest time a success is kept (0: default) */
	uint32_t retry_min_ms;	   /* first retry after a failure (0: default) */
	uint32_t retry_max_ms;	   /* the backoff's cap (0: default) */
	uint32_t query_timeout_ms; /* c-ares's first try's timeout (0: default) */
	uint32_t tries;		   /* c-ares's tries per server (0: default) */
	uint32_t max_inflight;	   /* queries at once (0: default) */
	int family;		   /* 4, 6, or 0 for both (address_family: both may pick one by
				      rp_names_routed_family() first) */
	const char *servers;	   /* NULL: the system's; else "127.0.0.1:5353[,...]" (c-ares
				      ares_set_servers_ports_csv), no search list, no hosts file */
	uint64_t seed;		   /* of the backoff jitter (0: a fixed default) */
};

/* Called on a change of a name's delivered state (see above), from rp_names_tick(). addrs
 * (n of them, sorted, deduplicated) is the set to probe: the new one on success, the last
 * good one (maybe none) on failure. name and addrs belong to the resolver and are valid
 * during the call only, and only until it removes id. */
typedef void (*rp_names_cb)(void *arg, uint32_t id, const char *name, const struct rp_ip *addrs,
			    size_t n, enum rp_names_status status);

struct rp_names_stats {
	uint32_t tracked;   /* names added and not removed */
	uint32_t resolving; /* queries in flight */
	uint32_t waiting;   /* due, waiting for a free in-flight slot */
	uint32_t failing;   /* names whose delivered status is a failure */
	uint32_t pending;   /* names with no outcome yet */
	uint64_t queries;   /* resolutions started */
	uint64_t ok;	    /* resolutions that succeeded */
	uint64_t failures;  /* resolutions that failed */
	uint64_t retries;   /* resolutions started after a failure */
	uint64_t changes;   /* callbacks made */
};

/** Creates a resolver: validates c (-EINVAL: family not 0/4/6, floor > ceiling, retry_min
 *  > retry_max, a bad servers list), initialises c-ares (-EIO, -ENOMEM) and writes why
 *  (nullable) on failure. cb is required; arg is passed to it. *out only on success. */
int rp_names_create(struct rp_names **out, const struct rp_names_conf *c, uint64_t now_ms,
		    rp_names_cb cb, void *arg, char *why, size_t whylen);
/** Cancels every query (no callback is called) and frees everything; NULL is a no-op. */
void rp_names_destroy(struct rp_names *n);

/** Tracks name under id and starts resolving it now (or as soon as an in-flight slot is
 *  free): 0, -EEXIST for an id already tracked, -EINVAL for an empty or too long name or
 *  an address literal. The name is copied. */
int rp_names_add(struct rp_names *n, const char *name, uint32_t id);
/** Stops tracking id (a query in flight is forgotten; no callback follows): 0 or -ENOENT. */
int rp_names_remove(struct rp_names *n, uint32_t id);

/** Processes c-ares's ready sockets and timeouts, delivers the changes (the callback),
 *  starts the re-resolutions and retries due by now_ms. Never blocks. */
void rp_names_tick(struct rp_names *n, uint64_t now_ms);
/** Milliseconds from now_ms until rp_names_tick() has work (0: now), or -1 for none
 *  (nothing in flight or scheduled). */
int rp_names_next_timeout_ms(const struct rp_names *n, uint64_t now_ms);
/** Fills fds (up to max) with the sockets c-ares waits on and their events; returns the
 *  count. For a caller that sleeps in poll() between ticks. */
int rp_names_pollfds(const struct rp_names *n, struct pollfd *fds, int max);

/** The delivered state of id: its status (RP_NAMES_PENDING before the first outcome) and
 *  up to max addresses into addrs (nullable when max is 0); *count (nullable) gets the
 *  set's size. -ENOENT for an id not tracked. */
int rp_names_get(const struct rp_names *n, uint32_t id, struct rp_ip *addrs, size_t max,
		 size_t *count);
/** Counters for /health and /metrics. */
void rp_names_stats(const struct rp_names *n, struct rp_names_stats *out);

/* One name's outcome from rp_names_resolve_all(). */
struct rp_names_result {
	enum rp_names_status status; /* RP_NAMES_TIMEOUT when the deadline passed first */
	uint32_t n;
	struct rp_ip addrs[RP_NAMES_MAX_ADDRS];
};

/** Resolves names[0..count) once each, blocking in poll() until each has an outcome or
 *  timeout_ms passed, with the resolver above (same configuration, same filter; no
 *  retries): for the one-shot CLI. out[i] is names[i]'s outcome. Returns how many
 *  resolved (>= 0), or -errno: as rp_names_create, or -EINVAL for a name that
 *  rp_names_add() refuses (why says which). */
int rp_names_resolve_all(const struct rp_names_conf *c, const char *const *names, size_t count,
			 uint32_t timeout_ms, struct rp_names_result *out, char *why,
			 size_t whylen);

/** The name of each of addrs[0..count) (a PTR record, or the hosts file when the system's
 *  configuration says so), asked at once and waited for until timeout_ms: out[i] is a
 *  malloc'd name, or NULL (no name, a failure, or the deadline first). servers as
 *  rp_names_conf.servers: NULL for the system's configuration (c-ares reads
 *  /etc/resolv.conf and /etc/hosts), else only those servers. 0, or -errno with why. */
int rp_names_reverse_all(const char *servers, const struct rp_ip *addrs, size_t count,
			 uint32_t timeout_ms, char **out, char *why, size_t whylen);
/** The families this host has a route beyond itself for (a default route or any route
 *  covering 192.0.2.1 and 2001:db8::1, looked up with connect() on a UDP socket, which
 *  sends nothing): 0 for both, 4 or 6 for one, -ENETUNREACH for neither. What
 *  `address_family: both` resolves to at start. */
int rp_names_routed_family(void);

#endif
