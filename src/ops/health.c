/* /health's JSON and /metrics' Prometheus text exposition, rendered from one
 * snapshot into the caller's buffer, and the health_metrics point's fields. Pure: no
 * allocation, no clock, no I/O, so the tests call it directly and the server thread
 * calls it without locks (on its own copy of the snapshot).
 *
 * Every field comes from the one list in health.h (RP_HEALTH_FIELDS), so the struct,
 * the two renders and the point cannot drift apart. Also the degraded-reason history,
 * which the control thread keeps. */
#include "ringprobe/health.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ops/out.h"
#include "ringprobe/compiler.h"

#define NSEC_PER_SEC ((uint64_t)1000000000)

static const char *const reason_names[RP_HEALTH_REASON_COUNT] = {
    "sink_failing", "ring_drops", "send_errors", "points_dropped", "spool_errors",
};

const char *rp_health_reason_name(uint32_t bit)
{
	for (unsigned i = 0; i < RP_HEALTH_REASON_COUNT; i++)
		if (bit == 1u << i)
			return reason_names[i];
	return NULL;
}

/* How a field is stored (health.h's kind column). */
enum kind { F_U64, F_U32, F_DBL, F_BOOL, F_NS };

struct field {
	const char *key;    /* JSON key: the struct member's name */
	const char *metric; /* without the ringprobe_ prefix */
	const char *type;   /* "counter" or "gauge" */
	const char *help;
	size_t off;
	enum kind kind;
	unsigned point;		/* place in the health_metrics point, 1-based; 0 = not there */
	const char *point_name; /* its field name there */
};

#define ROW(m, k, name, t, pt, pname, h)                                                           \
	{.key = #m,                                                                                \
	 .metric = name,                                                                           \
	 .type = #t,                                                                               \
	 .help = h,                                                                                \
	 .off = offsetof(struct rp_health_snapshot, m),                                            \
	 .kind = F_##k,                                                                            \
	 .point = pt,                                                                              \
	 .point_name = pname},

static const struct field fields[] = {RP_HEALTH_FIELDS(ROW)};

/* Label values escape backslash, double quote and newline (exposition format 0.0.4). */
static void put_label_value(struct rp_out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' || s[i] == '"') {
			rp_out_char(o, '\\');
			rp_out_char(o, s[i]);
		} else if (s[i] == '\n') {
			rp_out_put(o, "\\n");
		} else {
			rp_out_char(o, s[i]);
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
static void put_json_value(struct rp_out *o, const struct rp_health_snapshot *s,
			   const struct field *f)
{
	double d;

	switch (f->kind) {
	case F_U64:
	case F_NS:
		rp_out_put(o, "%" PRIu64, get_u64(s, f->off));
		break;
	case F_U32:
		rp_out_put(o, "%" PRIu32, get_u32(s, f->off));
		break;
	case F_DBL:
		d = get_dbl(s, f->off);
		if (isfinite(d))
			rp_out_put(o, "%.15g", d);
		else
			rp_out_put(o, "null");
		break;
	case F_BOOL:
		rp_out_put(o, "%s", get_bool(s, f->off) ? "true" : "false");
		break;
	}
}

static void put_prom_double(struct rp_out *o, double d)
{
	if (isnan(d))
		rp_out_put(o, "NaN");
	else if (isinf(d))
		rp_out_put(o, "%sInf", d < 0 ? "-" : "+");
	else
		rp_out_put(o, "%.15g", d);
}

static void put_prom_value(struct rp_out *o, const struct rp_health_snapshot *s,
			   const struct field *f)
{
	uint64_t ns;

	switch (f->kind) {
	case F_U64:
		rp_out_put(o, "%" PRIu64, get_u64(s, f->off));
		break;
	case F_U32:
		rp_out_put(o, "%" PRIu32, get_u32(s, f->off));
		break;
	case F_NS:
		/* Exact decimal seconds; a double would round wall-clock nanoseconds. */
		ns = get_u64(s, f->off);
		rp_out_put(o, "%" PRIu64 ".%09" PRIu64, ns / NSEC_PER_SEC, ns % NSEC_PER_SEC);
		break;
	case F_DBL:
		put_prom_double(o, get_dbl(s, f->off));
		break;
	case F_BOOL:
		rp_out_put(o, "%d", get_bool(s, f->off) ? 1 : 0);
		break;
	}
}

size_t rp_health_json(const struct rp_health_snapshot *s, char *buf, size_t cap)
{
	struct rp_out o = rp_out_init(buf, cap);
	bool first = true;

	rp_out_put(&o, "{\"status\":\"%s\",\"reasons\":[", s->reasons ? "degraded" : "ok");
	for (unsigned i = 0; i < RP_HEALTH_REASON_COUNT; i++) {
		if (!(s->reasons & (1u << i)))
			continue;
		rp_out_put(&o, "%s\"%s\"", first ? "" : ",", reason_names[i]);
		first = false;
	}
	rp_out_put(&o, "],\"version\":");
	rp_out_json_string(&o, s->version, rp_out_field_len(s->version, sizeof(s->version)));
	for (size_t i = 0; i < RP_ARRAY_SIZE(fields); i++) {
		rp_out_put(&o, ",\"%s\":", fields[i].key);
		put_json_value(&o, s, &fields[i]);
	}
	rp_out_put(&o, "}\n");
	return o.len;
}

static void put_family(struct rp_out *o, const char *name, const char *type, const char *help)
{
	rp_out_put(o, "# HELP ringprobe_%s %s\n# TYPE ringprobe_%s %s\n", name, help, name, type);
}

size_t rp_health_prom(const struct rp_health_snapshot *s, char *buf, size_t cap)
{
	struct rp_out o = rp_out_init(buf, cap);

	put_family(&o, "build_info", "gauge", "Build information; the value is always 1.");
	rp_out_put(&o, "ringprobe_build_info{version=\"");
	put_label_value(&o, s->version, rp_out_field_len(s->version, sizeof(s->version)));
	rp_out_put(&o, "\"} 1\n");
	for (size_t i = 0; i < RP_ARRAY_SIZE(fields); i++) {
		put_family(&o, fields[i].metric, fields[i].type, fields[i].help);
		rp_out_put(&o, "ringprobe_%s ", fields[i].metric);
		put_prom_value(&o, s, &fields[i]);
		rp_out_char(&o, '\n');
	}
	put_family(&o, "degraded", "gauge", "1 for each reason the daemon is degraded now.");
	for (unsigned i = 0; i < RP_HEALTH_REASON_COUNT; i++)
		rp_out_put(&o, "ringprobe_degraded{reason=\"%s\"} %d\n", reason_names[i],
			   (s->reasons >> i) & 1u ? 1 : 0);
	return o.len;
}

void rp_health_point(const struct rp_health_snapshot *s, struct rp_field *f)
{
	uint64_t placed = 0;

	_Static_assert(RP_HEALTH_POINT_FIELDS <= 64, "placed is a 64-bit mask");
	for (size_t i = 0; i < RP_ARRAY_SIZE(fields); i++) {
		const struct field *d = &fields[i];
		struct rp_field *o;

		if (!d->point)
			continue;
		/* Places are 1..RP_HEALTH_POINT_FIELDS, each once (test_health checks it). */
		assert(d->point <= RP_HEALTH_POINT_FIELDS && !(placed >> (d->point - 1) & 1));
		placed |= 1ull << (d->point - 1);
		o = &f[d->point - 1];
		o->key = d->point_name;
		switch (d->kind) {
		case F_U64:
		case F_U32:
			o->type = RP_FIELD_INT;
			o->v.i = d->kind == F_U64 ? (int64_t)get_u64(s, d->off)
						  : (int64_t)get_u32(s, d->off);
			break;
		case F_DBL:
			o->type = RP_FIELD_FLOAT;
			o->v.f = get_dbl(s, d->off);
			break;
		case F_NS:
			o->type = RP_FIELD_FLOAT;
			o->v.f = (double)get_u64(s, d->off) / 1e6; /* milliseconds */
			break;
		case F_BOOL:
			o->type = RP_FIELD_BOOL;
			o->v.b = get_bool(s, d->off);
			break;
		}
	}
}

void rp_health_judge(const struct rp_health_history *h, struct rp_health_snapshot *s)
{
	/* The oldest sample kept: the first until the ring has wrapped. */
	unsigned last = h->_n < RP_HEALTH_HISTORY ? 0 : h->_n % RP_HEALTH_HISTORY;

	if (s->sink_down)
		s->reasons |= RP_HEALTH_SINK_FAILING;
	if (h->_n && s->ring_drops > h->_ring_drops[last])
		s->reasons |= RP_HEALTH_RING_DROPS;
	if (h->_n && s->send_errors > h->_send_errors[last])
		s->reasons |= RP_HEALTH_SEND_ERRORS;
	if (h->_n && s->points_dropped > h->_points_dropped[last])
		s->reasons |= RP_HEALTH_POINTS_DROPPED;
	if (s->spool_read_failing || (h->_n && s->spool_io_errors > h->_spool_io_errors[last]))
		s->reasons |= RP_HEALTH_SPOOL_ERRORS;
}

void rp_health_remember(struct rp_health_history *h, const struct rp_health_snapshot *s)
{
	unsigned i = h->_n % RP_HEALTH_HISTORY;

	h->_ring_drops[i] = s->ring_drops;
	h->_send_errors[i] = s->send_errors;
	h->_points_dropped[i] = s->points_dropped;
	h->_spool_io_errors[i] = s->spool_io_errors;
	h->_n++;
}
