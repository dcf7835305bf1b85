/* /health's JSON and /metrics' Prometheus text exposition, rendered from one
 * snapshot into the caller's buffer. Pure: no allocation, no clock, no I/O, so the
 * tests call it directly and the server thread calls it without locks (on its own
 * copy of the snapshot).
 *
 * One table below lists every snapshot field once with its JSON key and its metric,
 * so the two outputs cannot drift apart. */
#include "ringprobe/health.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ringprobe/compiler.h"

#define NSEC_PER_SEC ((uint64_t)1000000000)

static const char *const reason_names[RP_HEALTH_REASON_COUNT] = {
    "sink_failing",
    "ring_drops",
    "send_errors",
    "points_dropped",
};

const char *rp_health_reason_name(uint32_t bit)
{
	for (unsigned i = 0; i < RP_HEALTH_REASON_COUNT; i++)
		if (bit == 1u << i)
			return reason_names[i];
	return NULL;
}

/* How a field is stored; F_NS is a uint64_t of nanoseconds, exported in seconds. */
enum kind { F_U64, F_U32, F_DBL, F_BOOL, F_NS };

struct field {
	const char *key;    /* JSON key: the struct member's name */
	const char *metric; /* without the ringprobe_ prefix */
	const char *type;   /* "counter" or "gauge" */
	const char *help;
	size_t off;
	enum kind kind;
};

/* One row of the table: the member's name is its JSON key. */
#define FIELD(m, name, t, k, h)                                                                    \
	{                                                                                          \
		.key = #m, .metric = name, .type = t, .help = h,                                   \
		.off = offsetof(struct rp_health_snapshot, m), .kind = k,                          \
	}

/* In struct order. `reasons` and `version` are not here: they become the
 * "reasons" name list / ringprobe_degraded{reason} and ringprobe_build_info. */
static const struct field fields[] = {
    FIELD(time_ns, "snapshot_timestamp_seconds", "gauge", F_NS,
	  "When this snapshot was taken, in seconds since the Unix epoch."),
    FIELD(uptime_s, "uptime_seconds", "gauge", F_DBL, "Seconds since the daemon started."),
    FIELD(cpu_seconds, "cpu_seconds_total", "counter", F_DBL,
	  "User and system CPU time of all threads, in seconds."),
    FIELD(rss_bytes, "rss_bytes", "gauge", F_U64, "Resident set size in bytes."),
    FIELD(shards, "shards", "gauge", F_U32, "Probe shards (one thread each)."),
    FIELD(ready, "ready", "gauge", F_BOOL, "1 when the shards and the writer have started."),
    FIELD(rate_limit_pps, "rate_limit_probes_per_second", "gauge", F_DBL,
	  "The configured ping_rate_limit, in probes per second."),
    FIELD(needed_pps, "needed_probes_per_second", "gauge", F_DBL,
	  "The probe rate the fleet's intervals ask for, in probes per second."),
    FIELD(devices, "devices", "gauge", F_U64, "Devices in the fleet now."),
    FIELD(active, "devices_active", "gauge", F_U64, "Devices in the fleet not suspended."),
    FIELD(suspended, "devices_suspended", "gauge", F_U64, "Devices suspended now."),
    FIELD(discovered, "devices_discovered_total", "counter", F_U64, "Devices added by sweeps."),
    FIELD(evicted, "devices_evicted_total", "counter", F_U64,
	  "Devices removed at max_devices, least recently seen first."),
    FIELD(pruned, "devices_pruned_total", "counter", F_U64,
	  "Devices removed after prune_after without a reply."),
    FIELD(sweeps, "sweeps_total", "counter", F_U64, "Sweeps of one network completed."),
    FIELD(sweep_probes, "sweep_probes_total", "counter", F_U64, "Probes sent by sweeps."),
    FIELD(config_reloads, "config_reloads_total", "counter", F_U64,
	  "Configuration reloads (SIGHUP) applied."),
    FIELD(config_reload_errors, "config_reload_errors_total", "counter", F_U64,
	  "Configuration reloads rejected, the old configuration kept."),
    FIELD(probes_sent, "probes_sent_total", "counter", F_U64, "Echo requests sent."),
    FIELD(replies, "replies_total", "counter", F_U64, "Valid echo replies in time."),
    FIELD(timeouts, "timeouts_total", "counter", F_U64, "Probes that got no reply in time."),
    FIELD(late_replies, "late_replies_total", "counter", F_U64,
	  "Valid echo replies received after the timeout."),
    FIELD(invalid_replies, "invalid_replies_total", "counter", F_U64,
	  "Replies rejected: duplicate, truncated, corrupt, forged, wrong source or stale."),
    FIELD(send_errors, "send_errors_total", "counter", F_U64, "Sends that failed."),
    FIELD(ring_drops, "ring_drops_total", "counter", F_U64, "Results lost to a full result ring."),
    FIELD(late_sends, "late_sends_total", "counter", F_U64,
	  "Probes sent more than 10 ms after they were due."),
    FIELD(max_late_ns, "max_late_seconds", "gauge", F_NS,
	  "Worst lateness of a send since start, in seconds."),
    FIELD(points_written, "points_written_total", "counter", F_U64, "Points the sink accepted."),
    FIELD(points_dropped, "points_dropped_total", "counter", F_U64,
	  "Points dropped for any reason, rejected by the sink included."),
    FIELD(points_dropped_pool, "points_dropped_pool_total", "counter", F_U64,
	  "Points dropped because no buffer was free (or one point was too large for one)."),
    FIELD(points_dropped_rejected, "points_dropped_rejected_total", "counter", F_U64,
	  "Points the sink refused (400 partial write, or one line over its body limit)."),
    FIELD(points_dropped_spool_overflow, "points_dropped_spool_overflow_total", "counter", F_U64,
	  "Points dropped because the spool was over spool.max_bytes or a spool write failed."),
    FIELD(points_dropped_spool_corrupt, "points_dropped_spool_corrupt_total", "counter", F_U64,
	  "Points lost in torn or corrupt spool records that were skipped."),
    FIELD(points_dropped_no_spool, "points_dropped_no_spool_total", "counter", F_U64,
	  "Points dropped while the sink was down and spool.max_bytes was 0."),
    FIELD(batches_ok, "batches_ok_total", "counter", F_U64, "Batches the sink accepted."),
    FIELD(batches_failed, "batches_failed_total", "counter", F_U64,
	  "Batches the sink failed or rejected."),
    FIELD(batches_retried, "batches_retried_total", "counter", F_U64,
	  "Requests resending data that failed before or was spooled."),
    FIELD(requests_inflight, "requests_inflight", "gauge", F_U64,
	  "Write requests in flight to the sink now."),
    FIELD(spool_bytes, "spool_bytes", "gauge", F_U64, "Bytes in the disk spool now."),
    FIELD(spool_points, "spool_points", "gauge", F_U64, "Points in the disk spool now."),
    FIELD(sink_down, "sink_down", "gauge", F_BOOL, "1 while the sink is backed off from."),
    FIELD(snmp_devices, "snmp_devices", "gauge", F_U64, "Devices with an SNMP schedule now."),
    FIELD(snmp_suspended, "snmp_devices_suspended", "gauge", F_U64,
	  "Devices whose SNMP polls are backed off from after repeated failures."),
    FIELD(snmp_waiting, "snmp_polls_waiting", "gauge", F_U64,
	  "SNMP polls due but held back by snmp_rate_limit now."),
    FIELD(snmp_polls, "snmp_polls_total", "counter", F_U64, "SNMP system-group requests made."),
    FIELD(snmp_ok, "snmp_answers_total", "counter", F_U64,
	  "SNMP requests answered (one device_info point each)."),
    FIELD(snmp_timeouts, "snmp_timeouts_total", "counter", F_U64,
	  "SNMP requests not answered within snmp.timeout and snmp.retries."),
    FIELD(snmp_errors, "snmp_errors_total", "counter", F_U64,
	  "SNMP requests answered with an error (wrong community or v3 keys) or not sent."),
};

/* A bounded writer with snprintf's contract: `len` counts what was needed, the
 * buffer holds the longest prefix that fits, always NUL-terminated when cap > 0. */
struct out {
	char *buf;
	size_t cap;
	size_t len;
};

static void RP_PRINTF(2, 3) put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (o->len < o->cap)
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	else
		n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void put_char(struct out *o, char c)
{
	if (o->len + 1 < o->cap) {
		o->buf[o->len] = c;
		o->buf[o->len + 1] = '\0';
	} else if (o->len < o->cap) {
		o->buf[o->len] = '\0';
	}
	o->len++;
}

/* A string field, NUL-terminated within n bytes or cut at n. */
static size_t field_len(const char *s, size_t n)
{
	const char *nul = memchr(s, '\0', n);

	return nul ? (size_t)(nul - s) : n;
}

static void put_json_string(struct out *o, const char *s, size_t n)
{
	put_char(o, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			put_char(o, '\\');
			put_char(o, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			put(o, "\\u%04x", c);
		} else {
			put_char(o, (char)c);
		}
	}
	put_char(o, '"');
}

/* Label values escape backslash, double quote and newline (exposition format 0.0.4). */
static void put_label_value(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' || s[i] == '"') {
			put_char(o, '\\');
			put_char(o, s[i]);
		} else if (s[i] == '\n') {
			put(o, "\\n");
		} else {
			put_char(o, s[i]);
		}
	}
}

static uint64_t get_u64(const struct rp_health_snapshot *s, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)s + off, sizeof(v));
	return v;
}

static double get_dbl(const struct rp_health_snapshot *s, size_t off)
{
	double v;

	memcpy(&v, (const char *)s + off, sizeof(v));
	return v;
}

static uint32_t get_u32(const struct rp_health_snapshot *s, size_t off)
{
	uint32_t v;

	memcpy(&v, (const char *)s + off, sizeof(v));
	return v;
}

static bool get_bool(const struct rp_health_snapshot *s, size_t off)
{
	bool v;

	memcpy(&v, (const char *)s + off, sizeof(v));
	return v;
}

/* JSON has no NaN or infinity: those become null. */
static void put_json_value(struct out *o, const struct rp_health_snapshot *s, const struct field *f)
{
	double d;

	switch (f->kind) {
	case F_U64:
	case F_NS:
		put(o, "%" PRIu64, get_u64(s, f->off));
		break;
	case F_U32:
		put(o, "%" PRIu32, get_u32(s, f->off));
		break;
	case F_DBL:
		d = get_dbl(s, f->off);
		if (isfinite(d))
			put(o, "%.15g", d);
		else
			put(o, "null");
		break;
	case F_BOOL:
		put(o, "%s", get_bool(s, f->off) ? "true" : "false");
		break;
	}
}

static void put_prom_double(struct out *o, double d)
{
	if (isnan(d))
		put(o, "NaN");
	else if (isinf(d))
		put(o, "%sInf", d < 0 ? "-" : "+");
	else
		put(o, "%.15g", d);
}

static void put_prom_value(struct out *o, const struct rp_health_snapshot *s, const struct field *f)
{
	uint64_t ns;

	switch (f->kind) {
	case F_U64:
		put(o, "%" PRIu64, get_u64(s, f->off));
		break;
	case F_U32:
		put(o, "%" PRIu32, get_u32(s, f->off));
		break;
	case F_NS:
		/* Exact decimal seconds; a double would round wall-clock nanoseconds. */
		ns = get_u64(s, f->off);
		put(o, "%" PRIu64 ".%09" PRIu64, ns / NSEC_PER_SEC, ns % NSEC_PER_SEC);
		break;
	case F_DBL:
		put_prom_double(o, get_dbl(s, f->off));
		break;
	case F_BOOL:
		put(o, "%d", get_bool(s, f->off) ? 1 : 0);
		break;
	}
}

size_t rp_health_json(const struct rp_health_snapshot *s, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0};
	bool first = true;

	if (cap)
		buf[0] = '\0';
	put(&o, "{\"status\":\"%s\",\"reasons\":[", s->reasons ? "degraded" : "ok");
	for (unsigned i = 0; i < RP_HEALTH_REASON_COUNT; i++) {
		if (!(s->reasons & (1u << i)))
			continue;
		put(&o, "%s\"%s\"", first ? "" : ",", reason_names[i]);
		first = false;
	}
	put(&o, "],\"version\":");
	put_json_string(&o, s->version, field_len(s->version, sizeof(s->version)));
	for (size_t i = 0; i < RP_ARRAY_SIZE(fields); i++) {
		put(&o, ",\"%s\":", fields[i].key);
		put_json_value(&o, s, &fields[i]);
	}
	put(&o, "}\n");
	return o.len;
}

static void put_family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP ringprobe_%s %s\n# TYPE ringprobe_%s %s\n", name, help, name, type);
}

size_t rp_health_prom(const struct rp_health_snapshot *s, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0};

	if (cap)
		buf[0] = '\0';
	put_family(&o, "build_info", "gauge", "Build information; the value is always 1.");
	put(&o, "ringprobe_build_info{version=\"");
	put_label_value(&o, s->version, field_len(s->version, sizeof(s->version)));
	put(&o, "\"} 1\n");
	for (size_t i = 0; i < RP_ARRAY_SIZE(fields); i++) {
		put_family(&o, fields[i].metric, fields[i].type, fields[i].help);
		put(&o, "ringprobe_%s ", fields[i].metric);
		put_prom_value(&o, s, &fields[i]);
		put_char(&o, '\n');
	}
	put_family(&o, "degraded", "gauge", "1 for each reason the daemon is degraded now.");
	for (unsigned i = 0; i < RP_HEALTH_REASON_COUNT; i++)
		put(&o, "ringprobe_degraded{reason=\"%s\"} %d\n", reason_names[i],
		    (s->reasons >> i) & 1u ? 1 : 0);
	return o.len;
}
