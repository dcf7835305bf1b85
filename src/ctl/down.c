/* The devices that are down now, for /api/v1/down: kept by the control thread from the
 * state changes it forwards to the writer (the shards own the states; this is a
 * listener's copy), bounded at start, and handed to the health server once a second
 * when it changed, oldest first. Control thread only. */
#include <stdlib.h>

#include "ctl/ctl_int.h"
#include "ringprobe/event.h"
#include "ringprobe/health.h"
#include "ringprobe/prober.h"
#include "ringprobe/xalloc.h"

/* Most devices listed: past it /api/v1/down still says how many are down ("total"). */
#define DOWN_LIST_MAX 16384u

void rp_ctl__down_init(struct rp_ctl *d)
{
	struct rp_ctl_down *dn = &d->down;
	uint64_t cap = (uint64_t)d->conf.max_devices;

	if (!d->conf.output.states || !d->http)
		return;
	dn->cap = cap < DOWN_LIST_MAX ? (uint32_t)cap : DOWN_LIST_MAX;
	rp_devtable_create(&dn->t, dn->cap);
	dn->v = rp_xcalloc(dn->cap, sizeof(*dn->v));
	dn->list = rp_xcalloc(dn->cap, sizeof(*dn->list));
	rp_health_server_down_init(d->http, dn->cap);
	dn->dirty = true;
}

void rp_ctl__down_fini(struct rp_ctl *d)
{
	rp_devtable_destroy(d->down.t);
	free(d->down.v);
	free(d->down.list);
}

void rp_ctl__down_event(struct rp_ctl *d, const struct rp_event *e)
{
	struct rp_ctl_down *dn = &d->down;
	bool is_new = false;
	int32_t slot;

	if (!dn->t || e->kind != RP_EVENT_STATE)
		return;
	slot = rp_devtable_lookup(dn->t, &e->addr);
	if (e->u.state.state != RP_STATE_DOWN) {
		if (slot >= 0) {
			rp_devtable_remove(dn->t, (uint32_t)slot);
			dn->dirty = true;
		}
		return;
	}
	/* Down again after a re-add (previous unknown): it keeps its first since. */
	if (slot >= 0 || rp_devtable_count(dn->t) >= dn->cap)
		return;
	slot = rp_devtable_add(dn->t, &e->addr, 0, &is_new, NULL);
	dn->v[slot] = (struct rp_down_entry){
	    .addr = e->addr,
	    .since_ns = e->ts_ns,
	    .name = rp_ctl__name_of(d, &e->addr),
	    .reason = e->u.state.reason,
	    .tags = e->id && e->id <= d->cls.n ? d->cls.lines[e->id - 1] : NULL,
	};
	dn->dirty = true;
}

void rp_ctl__down_forget(struct rp_ctl *d, const struct rp_ip *addr)
{
	int32_t slot;

	if (!d->down.t || (slot = rp_devtable_lookup(d->down.t, addr)) < 0)
		return;
	rp_devtable_remove(d->down.t, (uint32_t)slot);
	d->down.dirty = true;
}

static int by_since(const void *a, const void *b)
{
	const struct rp_down_entry *x = a, *y = b;

	if (x->since_ns != y->since_ns)
		return x->since_ns < y->since_ns ? -1 : 1;
	return rp_ip_cmp(&x->addr, &y->addr);
}

void rp_ctl__down_publish(struct rp_ctl *d, uint64_t total)
{
	struct rp_ctl_down *dn = &d->down;
	uint32_t n = 0;

	if (!dn->t || (!dn->dirty && total == dn->total))
		return;
	for (uint32_t i = 0; i < dn->cap; i++)
		if (rp_devtable_is_live(dn->t, i, rp_devtable_gen(dn->t, i)))
			dn->list[n++] = dn->v[i];
	qsort(dn->list, n, sizeof(*dn->list), by_since);
	rp_health_server_publish_down(d->http, dn->list, n, total > n ? total : n);
	dn->dirty = false;
	dn->total = total;
}
