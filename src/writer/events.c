/* The points of rounds and state changes: this file is their schema.
 *
 *   ping_round,ip=ADDR[,name=NAME][,TAGS] sent=5i,received=4i,loss_pct=20,rtt_min_ms=0.031,
 *       rtt_avg_ms=...,rtt_median_ms=...,rtt_max_ms=...,rtt_stddev_ms=...,jitter_ms=...,
 *       [ttl=64i,][errors=2i,error="unreachable:host",]suspended=false TS
 *   device_state,ip=ADDR[,name=NAME][,TAGS] state="down",previous="up",duration_s=3600.5,
 *       reason="timeout" TS
 *   device_state,... reason="unreachable",error="unreachable:host",icmp_type=3i,
 *       icmp_code=1i TS
 *
 * The RTT fields are absent when nothing came back, jitter_ms with fewer than two
 * replies, ttl until the reply's TTL is known; errors and error (the last one's class,
 * rp_icmp_err_name) only when ICMP errors ended echoes of the round. The
 * device_state's error fields come with reason "unreachable" only. Writer thread (batch.c). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include "ringprobe/addr.h"
#include "ringprobe/event.h"
#include "ringprobe/icmp.h"
#include "ringprobe/line.h"
#include "writer/writer_int.h"

/* A statistic in ms, rounded to whole ns as the `ping` point's rtt_ms is written. */
static double ms(float ns)
{
	return (double)llround((double)ns) / 1e6;
}

static int round_point(struct rp_linebuf *b, const struct rp_event *e, const struct rp_tag *tags,
		       size_t ntags, const char *raw)
{
	const struct rp_round_stats *r = &e->u.round;
	struct rp_field f[14];
	size_t n = 0;

	f[n++] = (struct rp_field){.key = "sent", .type = RP_FIELD_INT, .v.i = r->sent};
	f[n++] = (struct rp_field){.key = "received", .type = RP_FIELD_INT, .v.i = r->received};
	f[n++] = (struct rp_field){
	    .key = "loss_pct",
	    .type = RP_FIELD_FLOAT,
	    .v.f = r->sent ? 100.0 * (double)(r->sent - r->received) / (double)r->sent : 0};
	if (r->received) {
		f[n++] = (struct rp_field){
		    .key = "rtt_min_ms", .type = RP_FIELD_FLOAT, .v.f = ms(r->min_ns)};
		f[n++] = (struct rp_field){
		    .key = "rtt_avg_ms", .type = RP_FIELD_FLOAT, .v.f = ms(r->avg_ns)};
		f[n++] = (struct rp_field){
		    .key = "rtt_median_ms", .type = RP_FIELD_FLOAT, .v.f = ms(r->median_ns)};
		f[n++] = (struct rp_field){
		    .key = "rtt_max_ms", .type = RP_FIELD_FLOAT, .v.f = ms(r->max_ns)};
		f[n++] = (struct rp_field){
		    .key = "rtt_stddev_ms", .type = RP_FIELD_FLOAT, .v.f = ms(r->stddev_ns)};
	}
	if (r->received > 1)
		f[n++] = (struct rp_field){
		    .key = "jitter_ms", .type = RP_FIELD_FLOAT, .v.f = ms(r->jitter_ns)};
	if (e->ttl)
		f[n++] = (struct rp_field){.key = "ttl", .type = RP_FIELD_INT, .v.i = e->ttl};
	if (r->errors && rp_icmp_err_name(r->error)) {
		f[n++] = (struct rp_field){.key = "errors", .type = RP_FIELD_INT, .v.i = r->errors};
		f[n++] = (struct rp_field){
		    .key = "error", .type = RP_FIELD_STRING, .v.s = rp_icmp_err_name(r->error)};
	}
	f[n++] = (struct rp_field){.key = "suspended", .type = RP_FIELD_BOOL, .v.b = e->suspended};
	return rp_line_point_tagged(b, "ping_round", tags, ntags, raw, f, n, e->ts_ns,
				    RP_LINE_NAME_MAX);
}

static int state_point(struct rp_linebuf *b, const struct rp_event *e, const struct rp_tag *tags,
		       size_t ntags, const char *raw)
{
	struct rp_field f[7] = {
	    {.key = "state", .type = RP_FIELD_STRING, .v.s = rp_dev_state_name(e->u.state.state)},
	    {.key = "previous",
	     .type = RP_FIELD_STRING,
	     .v.s = rp_dev_state_name(e->u.state.previous)},
	    {.key = "duration_s",
	     .type = RP_FIELD_FLOAT,
	     .v.f = (double)e->u.state.duration_ms / 1e3},
	    {.key = "reason",
	     .type = RP_FIELD_STRING,
	     .v.s = rp_state_reason_name(e->u.state.reason)},
	};
	size_t n = 4;

	if (e->u.state.reason == RP_REASON_UNREACHABLE && rp_icmp_err_name(e->u.state.error)) {
		f[n++] = (struct rp_field){.key = "error",
					   .type = RP_FIELD_STRING,
					   .v.s = rp_icmp_err_name(e->u.state.error)};
		f[n++] = (struct rp_field){
		    .key = "icmp_type", .type = RP_FIELD_INT, .v.i = e->u.state.icmp_type};
		f[n++] = (struct rp_field){
		    .key = "icmp_code", .type = RP_FIELD_INT, .v.i = e->u.state.icmp_code};
	}
	return rp_line_point_tagged(b, "device_state", tags, ntags, raw, f, n, e->ts_ns,
				    RP_LINE_NAME_MAX);
}

int rp_writer__event_point(struct rp_linebuf *b, const struct rp_event *e, const char *raw)
{
	char ip[RP_IP_STRLEN];
	struct rp_tag tags[1] = {{"ip", ip}};

	rp_ip_format(&e->addr, ip);
	switch (e->kind) {
	case RP_EVENT_ROUND:
		return round_point(b, e, tags, 1, raw);
	case RP_EVENT_STATE:
		return state_point(b, e, tags, 1, raw);
	}
	return -EINVAL;
}
