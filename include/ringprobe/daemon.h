/* `ringprobe run`: the control thread and everything it starts.
 *
 * The calling thread becomes the control thread. It builds the fleet from `devices`
 * and from discovery sweeps of `networks`, routes add/remove commands to the shards,
 * forwards their results to the writer (noting who answered, for max_devices and
 * prune_after), writes health_metrics and sweep points, serves /health and /metrics,
 * and handles SIGTERM/SIGINT (stop, flush or spool, exit) and SIGHUP (reload). */
#ifndef RP_DAEMON_H
#define RP_DAEMON_H

#include "ringprobe/conf.h"
#include "ringprobe/diag.h"

/** Re-reads the configuration as at start (same file, same flags) into `out` (fresh,
 *  caller-initialized), problems into `d`. Returns 0 when it is usable. */
typedef int (*rp_daemon_reload_fn)(void *arg, struct rp_conf *out, struct rp_diags *d);

struct rp_daemon_opts {
	struct rp_conf *conf;	    /* validated for RP_CONF_FOR_RUN; the daemon takes it over */
	rp_daemon_reload_fn reload; /* NULL: SIGHUP only logs that reload is unavailable */
	void *reload_arg;
	int64_t run_for_ns;    /* stop by itself after this long (0 = until a signal) */
	unsigned feature_mask; /* engine features (RP_FEAT_ALL normally) */
};

/** Runs until SIGTERM/SIGINT (or run_for_ns). Returns the process exit code: 0 after a
 *  clean stop, 2 when the configuration cannot be used (nothing started), 3 when
 *  something could not start (the reason is logged). */
int rp_daemon_run(const struct rp_daemon_opts *o);

#endif
