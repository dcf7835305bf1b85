/* The data points the control thread writes besides the probes' own: `device_info`
 * (one per SNMP answer) and `sweep` (one per network after a discovery round). This
 * file is their schema. Control thread only (the writer's producer). */
#include <stdbool.h>

#include "ctl/ctl_int.h"
#include "ringprobe/addr.h"
#include "ringprobe/log.h"
#include "ringprobe/writer.h"

void rp_ctl__device_info(void *arg, const struct rp_snmp_result *r)
{
	struct rp_ctl *d = arg;
	char ip[RP_IP_STRLEN];
	struct rp_tag tags[2 + RP_TAGS_MAX] = {{"ip", ip}, {"name", rp_ctl__name_of(d, &r->addr)}};
	uint32_t id = rp_ctl__name_tag(d, &r->addr);
	const struct rp_ctl_class *k =
	    rp_ctl__class_at(d, id ? id : rp_fleet_class(&d->fleet, &r->addr));
	size_t n = 2;
	struct rp_field f[6] = {
	    {.key = "hostname", .type = RP_FIELD_STRING, .v.s = r->name},
	    {.key = "snmp_description", .type = RP_FIELD_STRING, .v.s = r->descr},
	    {.key = "snmp_object_id", .type = RP_FIELD_STRING, .v.s = r->object_id},
	    {.key = "snmp_location", .type = RP_FIELD_STRING, .v.s = r->location},
	    {.key = "snmp_contact", .type = RP_FIELD_STRING, .v.s = r->contact},
	    {.key = "snmp_uptime_s", .type = RP_FIELD_INT, .v.i = (int64_t)(r->uptime_ticks / 100)},
	};

	rp_ip_format(&r->addr, ip);
	/* The device's static tags, as on its ping points (a NULL name is left out). */
	for (size_t i = 0; k && i < k->tags.n && n < RP_ARRAY_SIZE(tags); i++)
		tags[n++] = (struct rp_tag){k->tags.kv[2 * i], k->tags.kv[2 * i + 1]};
	if (d->writer) /* none without a sink */
		rp_writer_point(d->writer, RP_WRITER_DATA, "device_info", tags, n, f,
				r->has_uptime ? 6 : 5, r->done_real_ns);
	d->info_points++;
}

void rp_ctl__sweep_report(void *arg, const struct rp_sweep_report *r)
{
	struct rp_ctl *d = arg;
	char net[RP_CIDR_STRLEN];
	struct rp_tag tag = {"network", net};
	struct rp_field f[3] = {
	    {.key = "hosts_probed", .type = RP_FIELD_INT, .v.i = (int64_t)r->probed},
	    {.key = "hosts_alive", .type = RP_FIELD_INT, .v.i = (int64_t)r->alive},
	    {.key = "duration_s", .type = RP_FIELD_FLOAT, .v.f = r->duration_s},
	};

	rp_format_cidr(r->net, true, net, sizeof(net));
	if (d->writer)
		rp_writer_point(d->writer, RP_WRITER_DATA, "sweep", &tag, 1, f, 3,
				r->start_real_ns);
	rp_log(RP_LOG_INFO, "sweep done", "network=%s probed=%llu alive=%llu duration_s=%.1f", net,
	       (unsigned long long)r->probed, (unsigned long long)r->alive, r->duration_s);
}
