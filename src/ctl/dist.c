/* The fleet page's RTT distribution and loss by network: the control thread counts
 * every monitored device's result (daemon.c take_results calls rp_dist_result) and
 * publishes the last minute to the health server once a second. Control thread only. */
#include "ctl/ctl_int.h"
#include "ringprobe/dist.h"
#include "ringprobe/health.h"

void rp_ctl__dist_init(struct rp_ctl *d)
{
	uint64_t cap = (uint64_t)d->conf.max_devices;

	if (!d->http)
		return;
	if (cap > RP_DIST_NETS_MAX)
		cap = RP_DIST_NETS_MAX;
	rp_dist_init(&d->dist, (uint32_t)cap, d->now_ns);
	rp_dist_view_init(&d->dist_view, d->dist.cap);
	rp_health_server_dist_init(d->http, d->dist.cap);
}

void rp_ctl__dist_fini(struct rp_ctl *d)
{
	if (!d->dist.cap)
		return;
	rp_dist_fini(&d->dist);
	rp_dist_view_fini(&d->dist_view);
}

void rp_ctl__dist_publish(struct rp_ctl *d)
{
	if (!d->dist.cap)
		return;
	rp_dist_tick(&d->dist, d->now_ns);
	rp_dist_fold(&d->dist, d->now_ns, &d->dist_view);
	rp_health_server_publish_dist(d->http, &d->dist_view);
}
