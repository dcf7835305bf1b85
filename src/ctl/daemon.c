/* `ringprobe run`: the control thread's start, loop and stop.
 *
 * One loop, woken every 10 ms or by a signal:
 *   results from every shard -> sweep bookkeeping / fleet last-seen -> writer ring;
 *   shard commands waiting in the prober's backlogs -> shards (as their rings allow);
 *   discovery probes at the rate monitoring leaves over;
 *   SNMP answers -> device_info points; due SNMP polls -> the poller (enrich.c);
 *   once a second a health snapshot for /health and /metrics (status.c) and the rate
 *   split; every health_report_interval a health_metrics point; prune_after; sweep
 *   reports (points.c).
 * SIGTERM/SIGINT stop it (a second one exits at once); SIGHUP reloads (reload.c).
 * Every function here runs on the control thread (the one that called
 * rp_daemon_run), except die_now, a signal handler. */
#include "ringprobe/daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl_int.h"
#include "ringprobe/compiler.h"
#include "ringprobe/dist.h"
#include "ringprobe/health.h"
#include "ringprobe/log.h"
#include "ringprobe/priv.h"
#include "ringprobe/prober.h"
#include "ringprobe/result.h"
#include "ringprobe/spsc.h"
#include "ringprobe/writer.h"
#include "ringprobe/xalloc.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define LOOP_NS (10 * NS_PER_MS)
#define SWEEP_WINDOW_PER_SHARD 4096u

/* The probe threads' token bucket: ping_burst_limit, but at least two probe ticks of
 * ping_rate_limit (the prober splits both by the same shares). A probe thread sends once
 * a tick, so it needs a tick's tokens at once; a smaller bucket caps it at
 * ping_burst_limit / shards per tick whatever the rate (the default 1,000 over two
 * shards is 50,000 probes/s each at a 10 ms tick), and the second tick's worth covers a
 * wake-up that comes late. `ringprobe ping` keeps a bucket of 1: its -i spaces every
 * packet. */
static double probe_burst(double rate_pps, double burst, uint64_t tick_ns)
{
	double ticks = 2 * rate_pps * (double)tick_ns / 1e9;

	return burst > ticks ? burst : ticks;
}

uint64_t rp_ctl__clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

bool rp_ctl__has_sink(const struct rp_conf *c)
{
	return (c->influxdb.url && *c->influxdb.url) ||
	       (c->prometheus_remote_write.url && *c->prometheus_remote_write.url);
}

/* ---- shard commands --------------------------------------------------------------- */

/* The fleet's add: false when the prober refused it (counted there); the fleet then
 * keeps a static device for a retry and forgets a discovered one. */
static bool fleet_add(void *arg, const struct rp_ip *addr, uint32_t id)
{
	struct rp_ctl *d = arg;

	if (rp_ctl__queue_add(d, addr, id) < 0)
		return false;
	rp_enrich_add_class(&d->enrich, addr, d->now_ms, id);
	return true;
}

/* The fleet's remove: never refused (the device's add kept it room). */
static void fleet_remove(void *arg, const struct rp_ip *addr)
{
	struct rp_ctl *d = arg;
	const char *name = rp_ctl__name_of(d, addr);

	/* Also a device given by name: it stays, now probed (and tagged) for the name. */
	if (name) {
		rp_ctl__queue_readd(d, addr, rp_ctl__name_tag(d, addr));
		rp_enrich_set_class(&d->enrich, addr, rp_ctl__name_tag(d, addr));
		return;
	}
	rp_prober_queue_remove(d->prober, addr);
	rp_enrich_remove(&d->enrich, addr);
	rp_ctl__down_forget(d, addr);
}

/* A monitored device's class changed (a reload): a new add with its tags and interval.
 * Refused (the backlog full): it keeps the old ones. */
static void fleet_readd(void *arg, const struct rp_ip *addr, uint32_t id)
{
	struct rp_ctl *d = arg;

	rp_ctl__queue_readd(d, addr, id);
	rp_enrich_set_class(&d->enrich, addr, id);
}

static uint32_t fleet_class(void *arg, const struct rp_conf *c, size_t g,
			    const struct rp_devtags *dt)
{
	return rp_ctl__class(arg, c, g, dt ? &dt->tags : NULL, NULL);
}

/* ---- SNMP enrichment -------------------------------------------------------------- */

/* The poller's profile of a device's class, and whether its group's SNMP is on. */
static uint32_t class_snmp(void *arg, uint32_t cls, bool *on)
{
	return rp_ctl__class_snmp(arg, cls, on);
}

/* SNMP answers wait in the poller's ring while the writer has no free buffer for them. */
static bool writer_ready(void *arg)
{
	struct rp_ctl *d = arg;

	return !d->writer || rp_writer_point_ready(d->writer);
}

static void enrich(struct rp_ctl *d)
{
	uint64_t before = d->info_points;

	rp_enrich_tick(&d->enrich, d->now_ms, rp_ctl__device_info, writer_ready, d);
	if (d->info_points != before && d->writer)
		rp_writer_commit(d->writer);
}

/* ---- results ---------------------------------------------------------------------- */

/* Pops every shard's results: sweep probes go to the sweep's bookkeeping (and free
 * their room in the prober), the rest to the writer's ring, noting who answered.
 * Without a sink there is no ring: the results are only noted. */
static void take_results(struct rp_ctl *d)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		uint32_t n = rp_prober_poll(d->prober, d->res, RP_ARRAY_SIZE(d->res)), k = 0;

		for (uint32_t j = 0; j < n; j++) {
			const struct rp_probe_result *r = &d->res[j];

			if (d->dist.cap) { /* the page's counters, a few results ahead */
				if (j + 8 < n)
					rp_dist_prefetch(&d->dist, &d->res[j + 8].addr, false);
				if (j + 4 < n)
					rp_dist_prefetch(&d->dist, &d->res[j + 4].addr, true);
			}
			if (r->id & RP_SWEEP_ID_BIT) {
				rp_prober_finished(d->prober, &r->addr);
				if (rp_sweep_result(&d->sweep, r->id, r->success) &&
				    rp_ctl_mine(&d->conf.shard, &r->addr) &&
				    !rp_ctl__names_holds(d, &r->addr))
					rp_fleet_found(&d->fleet, &r->addr, d->now_ms);
				continue;
			}
			if (r->success)
				rp_fleet_seen(&d->fleet, &r->addr, d->now_ms);
			if (d->dist.cap) /* the page's RTTs and loss by network */
				rp_dist_result(&d->dist, &r->addr, r->success, r->rtt_ns);
			if (!d->wring || !d->conf.output.probes)
				continue; /* seen, not written */
			if (k != j)
				d->res[k] = *r;
			k++;
		}
		if (k)
			rp_spsc_push(d->wring, d->res, k); /* full: dropped and counted */
		if (n < RP_ARRAY_SIZE(d->res))
			break;
	}
}

/* Round summaries and state changes go to the writer's event ring as they are (state
 * changes are noted for /api/v1/down first; without a sink, only noted). */
static void take_events(struct rp_ctl *d)
{
	if (!d->events)
		return;
	for (int rounds = 0; rounds < 64; rounds++) {
		uint32_t n = rp_prober_poll_events(d->prober, d->ev, RP_ARRAY_SIZE(d->ev));

		for (uint32_t i = 0; i < n; i++)
			if (d->ev[i].kind == RP_EVENT_STATE)
				rp_ctl__down_event(d, &d->ev[i]);
		if (n && d->wevents)
			rp_spsc_push(d->wevents, d->ev, n); /* full: dropped and counted */
		if (n < RP_ARRAY_SIZE(d->ev))
			break;
	}
}

/* ---- discovery -------------------------------------------------------------------- */

static bool sweep_skip(void *arg, const struct rp_ip *addr)
{
	struct rp_ctl *d = arg;

	return !rp_ctl_mine(&d->conf.shard, addr) || rp_fleet_has(&d->fleet, addr) ||
	       rp_ctl__names_holds(d, addr);
}

/* Sweeps get what monitoring leaves of the rate, and at least 1% of it so that a
 * fleet that needs everything still discovers, slowly. */
static double sweep_rate(const struct rp_ctl *d)
{
	double rate = d->conf.ping_rate_limit, spare;

	if (rate <= 0)
		return 1e9;
	spare = rate - rp_ctl__needed_pps(d) * 1.05;
	return spare > rate * 0.01 ? spare : rate * 0.01;
}

static void run_sweeps(struct rp_ctl *d)
{
	uint64_t window = (uint64_t)SWEEP_WINDOW_PER_SHARD * d->nshards;
	double rate = sweep_rate(d);
	struct rp_ip addr;
	uint32_t id;

	rp_sweep_tick(&d->sweep, d->now_ns);
	/* Commands wait in the backlogs while the shards cannot take them: no new probes
	 * then. One the prober refuses counts as sent and unanswered, so the round does
	 * not wait for it; the address is asked again next round. */
	while (rp_prober_queued(d->prober) < window &&
	       rp_sweep_next(&d->sweep, d->now_ns, rate, window, sweep_skip, d, &addr, &id))
		if (rp_prober_queue_once(d->prober, &addr, id) < 0)
			rp_sweep_result(&d->sweep, id, false);
	if (rp_sweep_finish(&d->sweep, d->now_ns, rp_ctl__sweep_report, d) && d->writer)
		rp_writer_commit(d->writer);
}

/* ---- timers ----------------------------------------------------------------------- */

/* Once a second: the snapshot, published and remembered, the rate split and the
 * warnings; every health_report_interval its point. Every 10 s: prune_after and the
 * static devices still waiting after a refusal. */
static void timers(struct rp_ctl *d)
{
	struct rp_health_snapshot h;

	if ((int64_t)(d->now_ns - d->next_snap_ns) >= 0) {
		d->next_snap_ns += NS_PER_S;
		if ((int64_t)(d->now_ns - d->next_snap_ns) >= 0)
			d->next_snap_ns = d->now_ns + NS_PER_S;
		rp_ctl__snapshot(d, &h);
		rp_health_remember(&d->hist, &h);
		if (d->http) {
			rp_health_server_publish(d->http, &h);
			rp_ctl__down_publish(d, h.devices_down);
			rp_ctl__dist_publish(d);
		}
		rp_ctl__check_rate(d);
		rp_prober_rebalance(d->prober);
		rp_ctl__note_refused(d, h.commands_refused);
		if ((int64_t)(d->now_ns - d->next_point_ns) >= 0) {
			d->next_point_ns = d->now_ns + (uint64_t)d->conf.health_report_interval;
			rp_ctl__health_point(d, &h);
		}
	}
	if ((int64_t)(d->now_ns - d->next_prune_ns) >= 0) {
		uint32_t n =
		    rp_fleet_prune(&d->fleet, d->now_ms, (uint64_t)d->conf.prune_after / NS_PER_MS);

		if (n)
			rp_log(RP_LOG_INFO, "devices pruned", "count=%u prune_after_s=%.0f", n,
			       (double)d->conf.prune_after * 1e-9);
		if (d->fleet.nunplaced && rp_fleet_retry(&d->fleet))
			rp_log(RP_LOG_INFO, "static devices placed after a refusal", "waiting=%zu",
			       d->fleet.nunplaced);
		if (d->names.nunplaced && rp_ctl__names_retry(d))
			rp_log(RP_LOG_INFO, "named devices placed after a refusal", "waiting=%u",
			       d->names.nunplaced);
		d->next_prune_ns = d->now_ns + 10 * NS_PER_S;
	}
}

/* ---- start and stop --------------------------------------------------------------- */

static void die_now(int sig)
{
	static const char msg[] = "ringprobe: second signal, exiting at once; data not yet "
				  "written or spooled is lost\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);

	(void)r;
	(void)sig;
	_exit(1);
}

/* The spool was opened (and maybe created) with the privileges of the start: hand
 * its directory and files to `user`, who writes the next segments after the drop. */
static void give_spool_to(const char *dir, const char *user)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	struct dirent *de;
	DIR *dp;

	if (getpwnam_r(user, &pw, buf, sizeof(buf), &found) != 0 || !found)
		return; /* rp_priv_drop says why */
	if (chown(dir, pw.pw_uid, pw.pw_gid) < 0) {
		rp_log(RP_LOG_WARN, "cannot hand the spool directory to the user",
		       "dir=%s user=%s "
		       "err=\"%s\"",
		       dir, user, strerror(errno));
		return;
	}
	dp = opendir(dir);
	if (!dp)
		return;
	while ((de = readdir(dp)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    fchownat(dirfd(dp), de->d_name, pw.pw_uid, pw.pw_gid, AT_SYMLINK_NOFOLLOW) < 0)
			rp_log(RP_LOG_WARN, "cannot hand a spool file to the user",
			       "file=%s/%s user=%s err=\"%s\"", dir, de->d_name, user,
			       strerror(errno));
	closedir(dp);
}

static uint32_t shard_capacity(uint64_t max_devices, unsigned n)
{
	uint64_t per = n == 1 ? max_devices : max_devices / n + max_devices / n / 4 + 1024;

	per += SWEEP_WINDOW_PER_SHARD;
	return per > RP_DEVTABLE_MAX_CAPACITY ? RP_DEVTABLE_MAX_CAPACITY : (uint32_t)per;
}

/* The result ring, the writer (which opens the spool) and, with rounds or states, the
 * event ring: created only when there is a sink. */
static int start_writer(struct rp_ctl *d, const struct rp_prober_conf *pc, char *why, size_t whylen)
{
	int ret = rp_spsc_create(&d->wring, 1u << 17, sizeof(struct rp_probe_result));

	if (ret < 0) {
		snprintf(why, whylen, "cannot create the result ring");
		return ret;
	}
	ret = rp_writer_create(&d->writer, &d->conf, &d->wring, 1, NULL, why, whylen);
	if (ret < 0)
		return ret;
	if (pc->rounds || pc->states) {
		ret = rp_spsc_create(&d->wevents, pc->rounds ? 1u << 16 : 1u << 14,
				     sizeof(struct rp_event));
		if (ret < 0) {
			snprintf(why, whylen, "cannot create the event ring");
			return ret;
		}
		rp_writer_events(d->writer, d->wevents);
	}
	return 0;
}

static int start(struct rp_ctl *d, char *why, size_t whylen)
{
	struct rp_prober_conf pc = {0};
	struct rp_probe_profile prof[RP_PROFILES_MAX];
	double pm_bounds[RP_CONF_MAX_BUCKETS];
	uint32_t *weights;
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread exists, so every thread inherits the mask and only
	 * the signalfd sees them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0) {
		snprintf(why, whylen, "signalfd: %s", strerror(errno));
		return -errno;
	}
	/* With v3 the SNMP poller holds a UDP socket per request in flight (snmp.max_inflight,
	 * up to 4096): take the hard limit of open files. The poller is created before any
	 * thread starts (net-snmp's set-up sets an environment variable). */
	if (rp_snmp_any_v3(&d->conf)) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	/* On when the top level's or any group's SNMP is: each device's group says. */
	if (rp_snmp_any_on(&d->conf)) {
		ret = rp_enrich_init(&d->enrich, &d->conf, d->now_ms, why, whylen);
		if (ret < 0)
			return ret;
		d->enrich.snmp_of = class_snmp;
		d->enrich.snmp_arg = d;
	}
	d->nshards = rp_prober_shards_for(d->conf.shards, (uint64_t)d->conf.max_devices);
	d->shard_cap = shard_capacity((uint64_t)d->conf.max_devices, d->nshards);
	pc.shards = d->nshards;
	pc.capacity = d->shard_cap;
	pc.timeout_ns = (uint64_t)d->conf.ping_timeout;
	pc.rate_pps = d->conf.ping_rate_limit;
	pc.tick_ns = (uint64_t)d->conf.probe_tick;
	pc.burst = probe_burst(pc.rate_pps, (double)d->conf.ping_burst_limit, pc.tick_ns);
	pc.backend = d->conf.backend;
	pc.icmp_mode = d->conf.icmp_mode;
	pc.feature_mask = d->opts->feature_mask ? d->opts->feature_mask : RP_FEAT_ALL;
	pc.max_fails = (uint32_t)d->conf.ping_max_consecutive_fails;
	rp_prober_conf_packet(&pc, &d->conf);
	pc.backoff_ns = (uint64_t)d->conf.ping_backoff_duration;
	pc.cmd_ring = 65536;
	/* Room for every device to wait at once (a start with a large static list) and
	 * for a remove of each: the prober's bound. */
	pc.backlog = 2 * d->shard_cap;
	pc.rt_priority = (int)d->conf.realtime_priority;
	pc.ping_count = (uint32_t)d->conf.ping_count;
	pc.spacing_ns = (uint64_t)d->conf.ping_spacing;
	/* The groups' probe profiles (classes.c): the prober starts with every one. */
	{
		for (unsigned k = 1; k < d->cls.nprof; k++) {
			rp_ctl__profile(d, k, &prof[k]);
			if (prof[k].ifindex < 0) {
				snprintf(why, whylen,
					 "a group's interface \"%s\" does not exist "
					 "(groups[].interface)",
					 d->cls.prof[k].interface);
				return -ENODEV;
			}
			if (prof[k].payload_len > pc.payload_max)
				pc.payload_max = prof[k].payload_len;
			if (prof[k].ping_count > pc.count_max)
				pc.count_max = prof[k].ping_count;
		}
		pc.profiles = prof;
		pc.nprofiles = d->cls.nprof;
	}
	/* Without a sink nothing writes round summaries: the shards make none. */
	pc.rounds = d->conf.output.rounds && rp_ctl__has_sink(&d->conf);
	pc.states = d->conf.output.states;
	pc.down_after = (uint32_t)d->conf.state.down_after;
	pc.up_after = (uint32_t)d->conf.state.up_after;
	if (d->conf.prometheus.per_device) {
		/* Validated: the bounds parse (src/conf/buckets.c). */
		pc.per_device = true;
		ret = rp_conf_buckets(d->conf.prometheus.buckets, pm_bounds, RP_CONF_MAX_BUCKETS,
				      why, whylen);
		if (ret < 0)
			return ret;
		pc.pacc_nbounds = (uint32_t)ret;
		pc.pacc_bounds = pm_bounds;
	}
	/* The rate starts split by the static devices each shard will hold; once a
	 * second rp_prober_rebalance() follows the fleet as it changes. */
	weights = rp_xcalloc(d->nshards, sizeof(*weights));
	for (unsigned i = 0; i < d->nshards; i++)
		weights[i] = 1;
	for (size_t i = 0; i < d->fleet.nstatic; i++) {
		struct rp_ip a = rp_fleet_static(&d->fleet, i);

		weights[rp_prober_route(&a, d->nshards)]++;
	}
	pc.weights = weights;
	ret = rp_prober_create(&d->prober, &pc, why, whylen);
	free(weights);
	if (ret < 0)
		return ret;
	d->events = pc.rounds || pc.states;
	if (rp_ctl__has_sink(&d->conf)) {
		ret = start_writer(d, &pc, why, whylen);
		if (ret < 0)
			return ret;
	} else {
		/* Only the per-device series (validated: prometheus.per_device is on):
		 * no writer thread, spool or ring; results and events are only noted. */
		rp_log(RP_LOG_NOTICE, "no sink: nothing is written",
		       "hint=\"influxdb.url and prometheus_remote_write.url are unset; the "
		       "results are served as prometheus.per_device's series\"");
	}
	/* Devices given by name: their tag table goes to the writer before it starts; the
	 * resolver's answers come in the loop. */
	ret = rp_ctl__names_start(d, why, whylen);
	if (ret < 0)
		return ret;
	if (d->writer)
		rp_writer_device_tags(d->writer, d->cls.lines, d->cls.cap);
	/* Every socket is open (the HTTP one binds next, so health_check_port must be
	 * above 1023): rp_prober_start drops every capability, with or without `user`,
	 * before any thread starts (capability sets are per thread). It takes the
	 * real-time priority first, while still privileged, for the shards to inherit.
	 * The spool was opened with the start's privileges: hand it to `user` first. */
	if (d->writer && d->conf.user && *d->conf.user && d->conf.spool.dir && *d->conf.spool.dir &&
	    d->conf.spool.max_bytes > 0)
		give_spool_to(d->conf.spool.dir, d->conf.user);
	/* The shards start first, at the process's priority; then this thread lowers
	 * its own (nice +5, per thread on Linux), and the HTTP and writer threads it
	 * starts inherit that: on a busy machine the scheduler lets a shard run first,
	 * so sends stay on time while encoding, gzip and HTTP wait a little. */
	ret = rp_prober_start(d->prober, d->conf.user, why, whylen);
	if (ret < 0)
		return ret;
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 5) < 0)
		rp_log(RP_LOG_INFO, "cannot lower the control thread's priority", "errno=%d",
		       errno);
	if (d->conf.health_check_port) {
		ret = rp_health_server_start(&d->http, d->conf.health_listen,
					     (uint16_t)d->conf.health_check_port, why, whylen);
		if (ret < 0)
			return ret;
		rp_log(RP_LOG_INFO, "health server listening", "listen=%s port=%u",
		       d->conf.health_listen, rp_health_server_port(d->http));
		rp_ctl__down_init(d);
		rp_ctl__dist_init(d);
		/* What SNMP answers are kept for the page, /api/v1/down and the series'
		 * sysname label: only with a poller and a server to show them. */
		if (d->enrich.snmp) {
			ret = rp_facts_create(&d->facts, (uint32_t)d->enrich.cap);
			if (ret < 0) {
				snprintf(why, whylen, "cannot create the SNMP facts: %s",
					 strerror(-ret));
				return ret;
			}
			d->enrich.facts = d->facts;
			rp_health_server_facts(d->http, d->facts);
		}
		if (d->conf.prometheus.per_device) {
			struct rp_probe_metrics_conf pmc = {
			    .prober = d->prober,
			    .path = d->conf.prometheus.path,
			    .on_metrics = d->conf.prometheus.on_metrics,
			    .name_tags = d->cls.lines,
			    .name_tag_cap = d->cls.cap,
			    .source_label = d->conf.prometheus.source_label,
			    .facts = d->facts,
			    .sysname_label = d->conf.prometheus.sysname_label};

			/* smokeping_prober's source is its pinger's Source: "" when unset. */
			for (size_t i = 0; i < d->conf.source_address.n; i++) {
				const struct rp_ip *a = &d->conf.source_address.v[i].net;

				rp_ip_format(a, pmc.source[rp_ip_is_v4(a) ? 0 : 1]);
			}
			rp_health_server_probe_metrics(d->http, &pmc);
			rp_log(RP_LOG_INFO, "per-device series served", "path=%s on_metrics=%s",
			       d->conf.prometheus.path,
			       d->conf.prometheus.on_metrics ? "true" : "false");
		}
	}
	ret = d->writer ? rp_writer_start(d->writer) : 0;
	if (ret < 0) {
		snprintf(why, whylen, "cannot start the writer thread: %s", strerror(-ret));
		return ret;
	}
	if (d->enrich.snmp) {
		ret = rp_enrich_start(&d->enrich);
		if (ret < 0) {
			snprintf(why, whylen, "cannot start the SNMP poller thread: %s",
				 strerror(-ret));
			return ret;
		}
	}
	d->ready = true;
	return 0;
}

/* The writer's thread, told to park everything by its deadline, is given this much more
 * to return (rp_writer_stop). */
#define WRITER_JOIN_SLACK_NS (200 * NS_PER_MS)

/* Stop probing, take the last results, flush or spool, all within shutdown_timeout:
 * the shards wait for their outstanding replies at most half of it, the writer has the
 * rest, and the SNMP poller (asked to stop first; a v3 engine-ID discovery can hold it
 * far longer) is waited for only until the deadline, then left to the process's exit. */
static void stop(struct rp_ctl *d, const char *why)
{
	uint64_t start = rp_ctl__clock_ns(CLOCK_MONOTONIC);
	uint64_t deadline = start + (uint64_t)d->conf.shutdown_timeout;
	uint64_t probe_wait = (uint64_t)d->conf.shutdown_timeout / 2;
	struct sigaction sa = {.sa_handler = die_now};
	struct rp_shard_stats st;
	struct rp_writer_stats ws;
	sigset_t set;
	int64_t left;

	sd_notify(0, "STOPPING=1");
	rp_log(RP_LOG_NOTICE, "stopping", "reason=\"%s\" shutdown_timeout_s=%.1f", why,
	       (double)d->conf.shutdown_timeout * 1e-9);
	/* From here a second SIGTERM/SIGINT ends the process at once. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	d->ready = false;
	if (d->http && d->prober) {
		struct rp_health_snapshot h;

		rp_ctl__snapshot(d, &h); /* /health/ready answers 503 from now on */
		rp_health_server_publish(d->http, &h);
	}
	if (d->enrich.snmp)
		rp_enrich_request_stop(&d->enrich);
	if (d->prober) {
		/* Each shard stops within probe_wait (+ one loop); a little more is allowed
		 * for the last results to reach the ring. */
		rp_prober_request_stop(d->prober, probe_wait);
		for (;;) {
			d->now_ns = rp_ctl__clock_ns(CLOCK_MONOTONIC);
			d->now_ms = d->now_ns / NS_PER_MS;
			take_results(d);
			take_events(d);
			rp_prober_stats(d->prober, &st);
			if (st.stopped ||
			    (int64_t)(d->now_ns - (start + probe_wait + 50 * NS_PER_MS)) >= 0)
				break;
			poll(NULL, 0, 5);
		}
		take_results(d);
		take_events(d);
		if (st.stop_unknown)
			rp_log(RP_LOG_NOTICE, "probes cut off by the stop: no result written",
			       "probes=%llu hint=\"ping_timeout is over half of shutdown_timeout\"",
			       (unsigned long long)st.stop_unknown);
	}
	if (d->enrich.snmp && d->writer) {
		/* answers already back are written; polls in flight are abandoned */
		d->now_ms = rp_ctl__clock_ns(CLOCK_MONOTONIC) / NS_PER_MS;
		enrich(d);
	}
	if (d->writer) {
		struct rp_health_snapshot h;

		if (d->prober) {
			rp_ctl__snapshot(d, &h);
			rp_ctl__health_point(d, &h);
		}
		d->now_ns = rp_ctl__clock_ns(CLOCK_MONOTONIC);
		left = (int64_t)(deadline - d->now_ns) - (int64_t)WRITER_JOIN_SLACK_NS;
		if (left < (int64_t)(100 * NS_PER_MS))
			left = 100 * NS_PER_MS;
		if (rp_writer_stop(d->writer, left) < 0)
			rp_log(RP_LOG_WARN, "writer did not finish within shutdown_timeout", NULL);
	}
	/* What is left of the deadline (all of it, if the writer was quick). */
	if (d->enrich.snmp && rp_enrich_join_by(&d->enrich, deadline) == -ETIMEDOUT)
		rp_log(RP_LOG_WARN, "SNMP poller still busy at shutdown_timeout: left to the exit",
		       "hint=\"an SNMPv3 engine-ID discovery waits up to snmp.timeout x "
		       "(snmp.retries + 1)\"");
	if (d->writer) {
		rp_writer_stats(d->writer, &ws);
		rp_log(RP_LOG_NOTICE, "stopped",
		       "points_written=%llu spooled_points=%llu points_dropped=%llu",
		       (unsigned long long)ws.points_written, (unsigned long long)ws.spool_points,
		       (unsigned long long)(ws.dropped_pool + ws.points_rejected +
					    ws.dropped_spool_overflow + ws.dropped_spool_corrupt +
					    ws.dropped_no_spool));
	}
}

static void cleanup(struct rp_ctl *d)
{
	rp_health_server_stop(d->http);
	rp_ctl__down_fini(d);
	rp_ctl__dist_fini(d);
	d->enrich.facts = NULL;
	rp_facts_destroy(d->facts);   /* after the server, its reader */
	rp_prober_destroy(d->prober); /* joins the shards */
	rp_writer_destroy(d->writer);
	rp_spsc_destroy(d->wring);
	rp_spsc_destroy(d->wevents);
	rp_ctl__names_fini(d);
	rp_ctl__classes_fini(d); /* after the writer, which reads its tags */
	rp_enrich_fini(&d->enrich);
	rp_sweep_fini(&d->sweep);
	rp_fleet_fini(&d->fleet);
	if (d->sigfd >= 0)
		close(d->sigfd);
	rp_ctl__watch_fini(d);
	rp_conf_fini(&d->conf);
}

/* The signal that ended the wait, 0 for none; SIGHUP is handled here. */
static int wait_signal(struct rp_ctl *d, int timeout_ms)
{
	struct pollfd p[2] = {{.fd = d->sigfd, .events = POLLIN},
			      {.fd = d->watch.fd, .events = POLLIN}};
	struct signalfd_siginfo si;

	if (poll(p, d->watch.fd >= 0 ? 2 : 1, timeout_ms) <= 0 || !(p[0].revents & POLLIN))
		return 0;
	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			rp_log(RP_LOG_NOTICE, "SIGHUP: reloading the configuration", "file=%s",
			       d->conf.file ? d->conf.file : "(none)");
			rp_ctl__reload(d);
			continue;
		}
		return (int)si.ssi_signo;
	}
	return 0;
}

int rp_daemon_run(const struct rp_daemon_opts *o)
{
	struct rp_ctl *d = rp_xcalloc(1, sizeof(*d));
	const struct rp_fleet_ops ops = {fleet_add, fleet_remove, fleet_readd, fleet_class, d};
	struct rp_engine_info info;
	char why[512];
	int sig = 0, ret;
	uint64_t end_ns = 0;

	d->opts = o;
	d->conf = *o->conf;
	memset(o->conf, 0, sizeof(*o->conf)); /* taken over */
	d->sigfd = -1;
	d->watch.fd = -1;
	rp_log_setup(d->conf.log.format, d->conf.log.level);
	if (gethostname(d->host, sizeof(d->host)) != 0 || !d->host[0])
		snprintf(d->host, sizeof(d->host), "unknown");
	rp_ctl__classes_init(d);
	rp_ctl__classes_snmp(d, &d->conf);
	ret = rp_fleet_init(&d->fleet, &d->conf, &ops, why, sizeof(why));
	if (ret < 0) {
		fprintf(stderr, "ringprobe run: %s; nothing was started\n", why);
		rp_ctl__classes_fini(d);
		rp_conf_fini(&d->conf);
		free(d);
		return 2;
	}
	d->start_ns = d->now_ns = rp_ctl__clock_ns(CLOCK_MONOTONIC);
	d->now_ms = d->now_ns / NS_PER_MS;
	d->start_real_ns = rp_ctl__clock_ns(CLOCK_REALTIME);
	rp_sweep_init(&d->sweep, &d->conf, d->now_ns);
	ret = start(d, why, sizeof(why));
	if (ret < 0) {
		rp_log(RP_LOG_ERROR, "cannot start", "why=\"%s\"", why);
		stop(d, "start failed");
		cleanup(d);
		free(d);
		return 3;
	}
	rp_prober_engine_info(d->prober, &info);
	rp_log(RP_LOG_NOTICE, "ringprobe running",
	       "version=%s devices=%zu networks=%zu shards=%u ping_interval_s=%.3f "
	       "ping_timeout_s=%.3f ping_rate_limit=%.0f max_devices=%lld shard=%u/%u "
	       "probe_tick_ms=%.3f",
	       RP_VERSION, d->fleet.nstatic, rp_ctl__network_count(&d->conf), d->nshards,
	       (double)d->conf.ping_interval * 1e-9, (double)d->conf.ping_timeout * 1e-9,
	       d->conf.ping_rate_limit, (long long)d->conf.max_devices, d->conf.shard.index,
	       d->conf.shard.count ? d->conf.shard.count : 1, (double)d->conf.probe_tick * 1e-6);
	rp_fleet_start(&d->fleet);
	rp_ctl__rate_refresh(d);
	rp_ctl__check_rate(d);
	if (!d->rate_short)
		rp_log(RP_LOG_INFO, "ping_rate_limit serves the static devices",
		       "devices=%zu needed_pps=%.0f ping_rate_limit=%.0f sweep_pps=%.0f",
		       d->fleet.nstatic, rp_ctl__needed_pps(d), d->conf.ping_rate_limit,
		       sweep_rate(d));
	rp_ctl__watch_init(d);
	d->next_snap_ns = d->now_ns;
	d->next_point_ns = d->now_ns + (uint64_t)d->conf.health_report_interval;
	d->next_prune_ns = d->now_ns + 10 * NS_PER_S;
	if (o->run_for_ns > 0)
		end_ns = d->now_ns + (uint64_t)o->run_for_ns;
	sd_notify(0, "READY=1");
	for (;;) {
		d->now_ns = rp_ctl__clock_ns(CLOCK_MONOTONIC);
		d->now_ms = d->now_ns / NS_PER_MS;
		take_results(d);
		take_events(d);
		rp_ctl__names_tick(d);
		rp_ctl__watch_tick(d);
		rp_prober_drain(d->prober);
		run_sweeps(d);
		enrich(d);
		timers(d);
		if (end_ns && (int64_t)(d->now_ns - end_ns) >= 0)
			break;
		sig = wait_signal(d, (int)(LOOP_NS / NS_PER_MS));
		if (sig)
			break;
	}
	stop(d, sig ? strsignal(sig) : "run_for elapsed");
	cleanup(d);
	free(d);
	return 0;
}
