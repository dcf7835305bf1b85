/* What the control thread reports about itself: the health snapshot (filled from the
 * prober's, the writer's, the fleet's and the SNMP schedule's counters) for /health,
 * /metrics and the health_metrics point, and the log lines that say the rate is short
 * or shard commands were refused. Control thread only. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl_int.h"
#include "ringprobe/compiler.h"
#include "ringprobe/health.h"
#include "ringprobe/log.h"
#include "ringprobe/prober.h"
#include "ringprobe/spsc.h"
#include "ringprobe/writer.h"

#define NS_PER_S 1000000000ull

static uint32_t class_ms(void *arg, uint32_t id)
{
	return rp_ctl__class_interval(arg, id);
}

void rp_ctl__rate_refresh(struct rp_ctl *d)
{
	double per_ms = (double)(d->conf.ping_count > 0 ? d->conf.ping_count : 1) * 1e3;
	double sum = 0;
	uint32_t found;

	if (!d->cls.n) {
		d->static_pps = (double)d->fleet.nstatic * rp_ctl__device_pps(d);
		d->found_pps = rp_ctl__device_pps(d);
		return;
	}
	for (size_t i = 0; i < d->fleet.nstatic; i++)
		sum +=
		    per_ms / (double)rp_ctl__class_interval(d, rp_fleet_static_class(&d->fleet, i));
	d->static_pps = sum;
	found = rp_fleet_net_class_max(&d->fleet, class_ms, d);
	d->found_pps = per_ms / (double)rp_ctl__class_interval(d, found);
}

double rp_ctl__needed_pps(const struct rp_ctl *d)
{
	return d->static_pps +
	       (double)(rp_fleet_count(&d->fleet) - d->fleet.nstatic) * d->found_pps;
}

static void proc_usage(double *cpu_s, uint64_t *rss)
{
	struct rusage ru;
	long pages = 0, resident = 0;
	FILE *f;

	*cpu_s = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		*cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
			 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
	*rss = 0;
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) == 2)
			*rss = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
		fclose(f);
	}
}

void rp_ctl__snapshot(struct rp_ctl *d, struct rp_health_snapshot *h)
{
	struct rp_shard_stats st;
	struct rp_writer_stats ws = {0};

	memset(h, 0, sizeof(*h));
	rp_prober_stats(d->prober, &st);
	if (d->writer) /* none without a sink: nothing written, nothing lost */
		rp_writer_stats(d->writer, &ws);
	h->sink = d->writer != NULL;
	h->time_ns = rp_ctl__clock_ns(CLOCK_REALTIME);
	h->uptime_s = (double)(d->now_ns - d->start_ns) * 1e-9;
	proc_usage(&h->cpu_seconds, &h->rss_bytes);
	h->shards = d->nshards;
	h->ready = d->ready;
	h->rate_limit_pps = d->conf.ping_rate_limit;
	h->needed_pps = rp_ctl__needed_pps(d);
	h->devices = rp_fleet_count(&d->fleet);
	h->suspended = st.suspended;
	h->active = h->devices > h->suspended ? h->devices - h->suspended : 0;
	h->discovered = d->fleet.discovered;
	h->evicted = d->fleet.evicted;
	h->pruned = d->fleet.pruned;
	h->sweeps = d->sweep.rounds;
	h->sweep_probes = d->sweep.probes;
	h->config_reloads = d->reloads;
	h->config_reload_errors = d->reload_errors;
	h->probes_sent = st.probes_sent;
	h->replies = st.replies;
	h->timeouts = st.timeouts;
	h->late_replies = st.invalid[RP_REPLY_LATE];
	for (int k = 0; k < RP_REPLY_KIND_COUNT; k++)
		if (k != RP_REPLY_OK && k != RP_REPLY_LATE)
			h->invalid_replies += st.invalid[k];
	h->send_errors = st.send_errors;
	h->ring_drops = st.ring_drops + (d->wring ? rp_spsc_drops(d->wring) : 0) +
			(d->wevents ? rp_spsc_drops(d->wevents) : 0);
	h->kernel_rx_drops = st.kernel_rx_drops;
	h->rtt_clock_fallbacks = st.rtt_clock_fallbacks;
	h->timeout_fifo_full = st.timeout_fifo_full;
	h->late_sends = st.late_sends;
	h->max_late_ns = st.max_late_ns;
	h->points_written = ws.points_written;
	h->points_dropped_pool = ws.dropped_pool;
	h->points_dropped_rejected = ws.points_rejected;
	h->points_dropped_spool_overflow = ws.dropped_spool_overflow;
	h->points_dropped_spool_corrupt = ws.dropped_spool_corrupt;
	h->points_dropped_no_spool = ws.dropped_no_spool;
	h->points_dropped = h->points_dropped_pool + h->points_dropped_rejected +
			    h->points_dropped_spool_overflow + h->points_dropped_spool_corrupt +
			    h->points_dropped_no_spool;
	h->batches_ok = ws.batches_ok;
	h->batches_failed = ws.batches_failed;
	h->batches_retried = ws.batches_retried;
	h->requests_inflight = ws.inflight;
	h->spool_bytes = ws.spool_bytes;
	h->spool_points = ws.spool_points;
	h->spool_io_errors = ws.spool_io_errors;
	h->spool_read_failing = ws.spool_read_failing != 0;
	h->sink_down = ws.sink_down != 0;
	{
		struct rp_enrich_stats es;

		rp_enrich_stats(&d->enrich, &es);
		h->snmp_devices = es.devices;
		h->snmp_suspended = es.suspended;
		h->snmp_waiting = es.waiting;
		h->snmp_polls = es.polls;
		h->snmp_ok = es.ok;
		h->snmp_timeouts = es.timeouts;
		h->snmp_errors = es.errors;
		h->snmp_spoofed = es.spoofed;
	}
	h->commands_refused = st.cmd_refused;
	h->state_changes = st.state_changes;
	h->devices_down = st.devices_down;
	h->rounds = st.rounds;
	h->icmp_errors = st.icmp_errors;
	h->icmp_errors_short = st.icmp_errors_short;
	{
		struct rp_ctl_names_stats ns;

		rp_ctl__names_stats(d, &ns);
		h->names = ns.names;
		h->names_failing = ns.failing;
		h->name_addresses = ns.addresses;
		h->name_lookups = ns.queries;
		h->name_failures = ns.failures;
	}
	snprintf(h->version, sizeof(h->version), "%s", RP_VERSION);
	/* Degraded: the sink is failing now, or something was lost in the last minute. */
	rp_health_judge(&d->hist, h);
}

void rp_ctl__health_point(struct rp_ctl *d, const struct rp_health_snapshot *h)
{
	struct rp_tag tag = {"host", d->host};
	struct rp_field f[RP_HEALTH_POINT_FIELDS];

	if (!d->writer)
		return; /* no sink */
	rp_health_point(h, f);
	rp_writer_point(d->writer, RP_WRITER_HEALTH, "health_metrics", &tag, 1, f, RP_ARRAY_SIZE(f),
			h->time_ns);
	rp_writer_commit(d->writer);
}

/* Says once when the rate cannot serve the intervals, and once when it can again. */
void rp_ctl__check_rate(struct rp_ctl *d)
{
	double need = rp_ctl__needed_pps(d), rate = d->conf.ping_rate_limit;
	bool short_now = rate > 0 && need > rate;

	if (short_now && !d->rate_short)
		rp_log(RP_LOG_WARN, "ping_rate_limit cannot serve every device at ping_interval",
		       "devices=%llu ping_interval_s=%.3f needed_pps=%.0f ping_rate_limit=%.0f "
		       "achieved_interval_s=%.3f",
		       (unsigned long long)rp_fleet_count(&d->fleet),
		       (double)d->conf.ping_interval * 1e-9, need, rate,
		       (double)rp_fleet_count(&d->fleet) * rp_ctl__device_pps(d) / rate *
			   (double)d->conf.ping_interval * 1e-9);
	else if (!short_now && d->rate_short)
		rp_log(RP_LOG_NOTICE, "ping_rate_limit serves every device again",
		       "devices=%llu needed_pps=%.0f ping_rate_limit=%.0f",
		       (unsigned long long)rp_fleet_count(&d->fleet), need, rate);
	d->rate_short = short_now;
}

/* Says when the prober refused commands (a backlog full or a shard at capacity), at
 * most once a minute: static devices are asked again every 10 s, discovered ones
 * found again by the next sweep, re-adds keep the old interval. */
void rp_ctl__note_refused(struct rp_ctl *d, uint64_t refused)
{
	if (refused == d->refused_logged ||
	    (d->refused_log_ns && d->now_ns - d->refused_log_ns < 60 * NS_PER_S))
		return;
	rp_log(RP_LOG_WARN, "shard commands refused: a backlog was full or a shard at capacity",
	       "refused=%llu refused_total=%llu static_waiting=%zu",
	       (unsigned long long)(refused - d->refused_logged), (unsigned long long)refused,
	       d->fleet.nunplaced);
	d->refused_logged = refused;
	d->refused_log_ns = d->now_ns;
}
