/* What the fault tests share (tests/fault/): the real daemon as a child process
 * (`ringprobe run` from this build), its /health, the points a VictoriaMetrics sink
 * holds per series, and the records a spool directory holds. Uses Criterion's asserts:
 * tests only, never the benchmarks. */
#ifndef RP_TESTS_FAULT_RIG_H
#define RP_TESTS_FAULT_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "support/support.h"

#define FAULT_BIN RP_BUILD_ROOT "/src/cli/ringprobe"
#define FAULT_SHIM RP_BUILD_ROOT "/tests/fault/librp_fault_shim.so"

/* Under AddressSanitizer the daemon is several times slower to start and run: the
 * expensive cases scale down (fewer restarts, a shorter outage). */
#if defined(__SANITIZE_ADDRESS__)
#define FAULT_ASAN 1
#else
#define FAULT_ASAN 0
#endif

/** One daemon: its directory (config, log, spool), health port and process. */
struct fd_daemon {
	pid_t pid;
	int hport;
	char dir[64];
	char cfg[96];
	char log[96];
	char spool[96];
	const char *env[4]; /* extra NAME=value for the child, NULL-terminated */
};

/** What a daemon's configuration holds beyond the fixed parts (rig.c fd_config). */
struct fd_conf {
	const char *devices;   /* e.g. "127.20.0.0/25" */
	int interval_ms;       /* ping_interval */
	const char *url;       /* influxdb.url */
	int batch_size;	       /* influxdb.batch_size (0: 100) */
	int buffer_size;       /* influxdb.buffer_size (0: 4000, a quick start) */
	int flush_ms;	       /* influxdb.flush_interval */
	int max_inflight;      /* influxdb.max_inflight */
	bool gzip;	       /* influxdb.gzip */
	int64_t spool_bytes;   /* spool.max_bytes */
	const char *spool_dir; /* NULL: <dir>/spool */
	const char *user;      /* NULL: none */
	const char *extra;     /* more YAML lines, or NULL */
};

/** Skips the test (visibly) without root: raw sockets, namespaces, mounts. */
void fd_need_root(void);
/** Enters a new network namespace with lo up (asserts). */
void fd_enter_netns(void);
/** Makes d's directory (under /tmp, removed at exit) and picks its health port. */
void fd_init(struct fd_daemon *d);
/** Writes d's configuration file from c. */
void fd_config(struct fd_daemon *d, const struct fd_conf *c);
/** Starts `ringprobe run --config d->cfg` with d->env added, output appended to d->log. */
void fd_start(struct fd_daemon *d);
/** Starts and waits until /health says ready with `devices` devices (asserts). */
void fd_start_ready(struct fd_daemon *d, int devices);
/** SIGTERM and the exit status (asserts it exits within secs). */
int fd_stop(struct fd_daemon *d, double secs);
/** SIGKILL and reap. */
void fd_kill9(struct fd_daemon *d);
/** Kills what is left and removes the directory. */
void fd_fini(struct fd_daemon *d);
/** Prints the daemon's log to stderr (for a failing test). */
void fd_dump_log(const struct fd_daemon *d);
/** Whether the log holds `text`. */
bool fd_log_has(const struct fd_daemon *d, const char *text);

/** /health's JSON (malloc'ed) or NULL when the daemon does not answer. */
char *fd_health_json(const struct fd_daemon *d);
/** A number from /health (true/false as 1/0); -1 when absent or no answer. */
double fd_health(const struct fd_daemon *d, const char *key);
/** Whether /health lists `reason` among its degraded reasons. */
bool fd_degraded_for(const struct fd_daemon *d, const char *reason);
/** Waits until pred-like: /health `key` >= want; returns the last value seen. */
double fd_wait_geq(const struct fd_daemon *d, const char *key, double want, double secs);
/** Waits until /health `key` == want; returns the last value seen. */
double fd_wait_eq(const struct fd_daemon *d, const char *key, double want, double secs);

/** CLOCK_REALTIME in ms (the sink's timestamps are ms). */
int64_t fd_real_ms(void);

/** A point's key: the low 20 bits of its IPv4 address and its time in ms. */
static inline uint64_t fd_key(uint32_t ip, int64_t ms)
{
	return (uint64_t)(ip & 0xfffffu) << 44 | ((uint64_t)ms & ((1ull << 44) - 1));
}

/** A sorted multiset of point keys. */
struct fd_keys {
	uint64_t *k;
	size_t n, cap;
};
void fd_keys_add(struct fd_keys *s, uint64_t key);
/** Sorts (and, with unique, removes repeats). */
void fd_keys_sort(struct fd_keys *s, bool unique);
bool fd_keys_has(const struct fd_keys *s, uint64_t key);
/** How many times key is in s (sorted, repeats kept). */
size_t fd_keys_count(const struct fd_keys *s, uint64_t key);
void fd_keys_free(struct fd_keys *s);

/** The ping points a sink holds, per device. */
struct fd_points {
	struct fd_keys all;    /* every sample of ping_success, repeats kept, sorted */
	size_t series;	       /* devices with points */
	size_t distinct;       /* distinct (device, time) */
	size_t dups;	       /* samples beyond the first of the same (device, time) */
	size_t missing;	       /* probes absent between a device's first and last point */
	int64_t miss_first_ms; /* the earliest missing probe's time (0: none) */
	int64_t miss_last_ms;  /* the latest */
	size_t runs;	       /* gaps of 3 intervals or more, over all devices */
};
/** Reads every ping_success sample from VictoriaMetrics s (forcing a flush first) and
 *  works out repeats and the probes missing between each device's points, taking
 *  `interval_ms` as the time between two probes of one device. Asserts the export
 *  worked. */
void fd_vm_points(struct srv *s, int interval_ms, struct fd_points *p);
void fd_points_free(struct fd_points *p);
/** The last value of health_metrics field `field` in s; -1 when none. */
int64_t fd_vm_last(struct srv *s, const char *field);
/** Waits until VictoriaMetrics holds at least `want` ping_success samples. */
int64_t fd_vm_wait_count(struct srv *s, int64_t want, double secs);

/** Adds to `out` every ping point in the spool directory `dir` that is not yet
 *  acknowledged: the records from the cursor on that pass their CRC (a torn tail is
 *  not there). Returns the number of points added (repeats included). */
size_t fd_spool_points(const char *dir, struct fd_keys *out);

#endif
