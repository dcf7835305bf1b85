/* SNMP enrichment schedule (ctl_int.h): which monitored device is asked its system
 * group when. The control thread's; the polls themselves run on the SNMP poller's
 * thread (include/ringprobe/snmp.h).
 *
 * A device is due at once when it joins the fleet, then every snmp_interval after
 * each answer or failure; snmp_max_consecutive_fails failures in a row suspend it
 * for snmp_backoff_duration (longer than the interval, else the interval stands).
 * Due devices wait in a FIFO and leave it at snmp_rate_limit per second (bursts of
 * snmp_burst_limit) while the poller has room.
 *
 * Waiting devices are in one of two lists, one per wait (the interval, the backoff):
 * both waits are fixed for the schedule's life and `now` never goes back, so each list
 * is in order of due time, and the due ones are at its head.
 *
 * Each device keeps its class id (classes.c); when it leaves the due list the class
 * says which of the poller's profiles (its group's own snmp block, or the top level's)
 * it is asked with, and whether it is asked at all (a group with `snmp: {enabled:
 * false}`: it then waits another interval). A reload that changes the settings swaps
 * the poller (rp_enrich_repoll); the schedule stays. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_int.h"
#include "ringprobe/addr.h"
#include "ringprobe/compiler.h"
#include "ringprobe/log.h"
#include "ringprobe/xalloc.h"

#define NS_PER_MS 1000000ull

/* A device's state; the first three name its list (rp_enrich.list). E_IDLE: in no
 * list (left the fleet). */
enum { E_READY = 0, E_WAIT_INTERVAL, E_WAIT_BACKOFF, E_INFLIGHT, E_IDLE };

#define NO_SLOT RP_DEVTABLE_NO_SLOT

int rp_enrich_init(struct rp_enrich *e, const struct rp_conf *c, uint64_t now_ms, char *why,
		   size_t whylen)
{
	uint32_t cap = c->max_devices > 0 ? (uint32_t)c->max_devices : 1;
	int ret;

	memset(e, 0, sizeof(*e));
	e->interval_ms = (uint64_t)c->snmp_interval / NS_PER_MS;
	e->backoff_ms = (uint64_t)c->snmp_backoff_duration / NS_PER_MS;
	e->max_fails =
	    c->snmp_max_consecutive_fails > 0 ? (uint32_t)c->snmp_max_consecutive_fails : 1;
	e->rate = c->snmp_rate_limit;
	e->burst = c->snmp_burst_limit > 0 ? (double)c->snmp_burst_limit : 1;
	e->tokens = e->burst;
	e->tokens_at_ms = now_ms;
	ret = rp_snmp_create(&e->snmp, c, why, whylen);
	if (ret < 0)
		return ret;
	rp_devtable_create(&e->t, cap);
	e->dev = rp_xcalloc(cap, sizeof(*e->dev));
	e->cap = cap;
	for (size_t i = 0; i < RP_ARRAY_SIZE(e->list); i++)
		e->list[i].head = e->list[i].tail = NO_SLOT;
	return 0;
}

void rp_enrich_fini(struct rp_enrich *e)
{
	rp_snmp_destroy(e->snmp);
	rp_devtable_destroy(e->t);
	free(e->dev);
	memset(e, 0, sizeof(*e));
}

int rp_enrich_start(struct rp_enrich *e)
{
	return rp_snmp_start(e->snmp);
}

void rp_enrich_request_stop(struct rp_enrich *e)
{
	rp_snmp_request_stop(e->snmp);
}

int rp_enrich_join_by(struct rp_enrich *e, uint64_t deadline_ns)
{
	return rp_snmp_join_by(e->snmp, deadline_ns);
}

/* The lists are linked through the devices, so a device that leaves while listed is
 * unlinked at once: it never holds a place, and a reused slot is never listed twice. */
static void list_push(struct rp_enrich *e, uint32_t slot, uint8_t state)
{
	struct rp_enrich_dev *d = &e->dev[slot];
	struct rp_enrich_list *l = &e->list[state];

	d->next = NO_SLOT;
	d->prev = l->tail;
	if (l->tail != NO_SLOT)
		e->dev[l->tail].next = slot;
	else
		l->head = slot;
	l->tail = slot;
	l->len++;
	d->state = state;
}

static void list_unlink(struct rp_enrich *e, uint32_t slot)
{
	struct rp_enrich_dev *d = &e->dev[slot];
	struct rp_enrich_list *l = &e->list[d->state];

	if (d->prev != NO_SLOT)
		e->dev[d->prev].next = d->next;
	else
		l->head = d->next;
	if (d->next != NO_SLOT)
		e->dev[d->next].prev = d->prev;
	else
		l->tail = d->prev;
	l->len--;
	d->state = E_IDLE;
}

static bool listed(const struct rp_enrich_dev *d)
{
	return d->state <= E_WAIT_BACKOFF;
}

void rp_enrich_add(struct rp_enrich *e, const struct rp_ip *addr, uint64_t now_ms)
{
	rp_enrich_add_class(e, addr, now_ms, 0);
}

void rp_enrich_set_class(struct rp_enrich *e, const struct rp_ip *addr, uint32_t cls)
{
	int32_t slot;

	if (e->t && (slot = rp_devtable_lookup(e->t, addr)) >= 0)
		e->dev[slot].cls = cls;
}

void rp_enrich_add_class(struct rp_enrich *e, const struct rp_ip *addr, uint64_t now_ms,
			 uint32_t cls)
{
	int32_t slot;

	if (!e->t || rp_devtable_lookup(e->t, addr) >= 0)
		return;
	/* The table holds max_devices, as the fleet does: nothing is evicted here. */
	slot = rp_devtable_add(e->t, addr, now_ms, NULL, NULL);
	memset(&e->dev[slot], 0, sizeof(e->dev[slot]));
	e->dev[slot].cls = cls;
	list_push(e, (uint32_t)slot, E_READY);
}

void rp_enrich_remove(struct rp_enrich *e, const struct rp_ip *addr)
{
	int32_t slot;

	rp_facts_forget(e->facts, addr);
	if (!e->t || (slot = rp_devtable_lookup(e->t, addr)) < 0)
		return;
	if (listed(&e->dev[slot]))
		list_unlink(e, (uint32_t)slot);
	/* In flight: the slot is free (or another device's) and no longer E_INFLIGHT,
	 * so what comes back for it is recognized as stale. */
	rp_devtable_remove(e->t, (uint32_t)slot);
	e->dev[slot].state = E_IDLE;
}

/* Moves the devices whose wait is over to the due FIFO, earliest first. */
static void run_due(struct rp_enrich *e, uint64_t now_ms)
{
	for (;;) {
		uint32_t a = e->list[E_WAIT_INTERVAL].head, b = e->list[E_WAIT_BACKOFF].head;
		uint32_t slot;

		if (a != NO_SLOT && e->dev[a].due_ms > now_ms)
			a = NO_SLOT;
		if (b != NO_SLOT && e->dev[b].due_ms > now_ms)
			b = NO_SLOT;
		if (a == NO_SLOT && b == NO_SLOT)
			return;
		slot =
		    b == NO_SLOT || (a != NO_SLOT && e->dev[a].due_ms <= e->dev[b].due_ms) ? a : b;
		list_unlink(e, slot);
		list_push(e, slot, E_READY);
	}
}

static bool live(const struct rp_enrich *e, uint32_t slot)
{
	return rp_devtable_is_live(e->t, slot, rp_devtable_gen(e->t, slot));
}

static void schedule(struct rp_enrich *e, uint32_t slot, uint64_t now_ms, bool ok)
{
	struct rp_enrich_dev *d = &e->dev[slot];
	uint64_t wait = e->interval_ms;
	uint8_t list = E_WAIT_INTERVAL;

	if (!ok && d->fails < RP_ENRICH_FAILS_MAX) /* held there: a 24-bit field */
		d->fails++;
	if (ok) {
		d->fails = 0;
		if (rp_devtable_is_suspended(e->t, slot))
			rp_devtable_resume(e->t, slot);
	} else if (d->fails >= e->max_fails) {
		if (e->backoff_ms > wait) {
			wait = e->backoff_ms;
			list = E_WAIT_BACKOFF;
		}
		if (!rp_devtable_is_suspended(e->t, slot)) {
			rp_devtable_suspend(e->t, slot, now_ms + wait);
			e->suspensions++;
		}
	}
	d->due_ms = now_ms + (wait ? wait : 1);
	list_push(e, slot, list);
}

static void take_results(struct rp_enrich *e, uint64_t now_ms, rp_enrich_emit_fn emit,
			 bool (*ready)(void *arg), void *arg)
{
	struct rp_snmp_result r[16];
	uint32_t n;

	/* One at a time while the consumer may be full: what is not taken stays queued. */
	while ((n = rp_snmp_take(e->snmp, r, ready ? 1 : RP_ARRAY_SIZE(r))) > 0) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t slot = r[i].tag;
			bool ok = r[i].status == RP_SNMP_OK;

			e->results[r[i].status < RP_SNMP_STATUS_COUNT ? r[i].status
								      : RP_SNMP_LOCAL_ERROR]++;
			if (slot >= e->cap || !live(e, slot) ||
			    !rp_ip_eq(rp_devtable_addr(e->t, slot), &r[i].addr) ||
			    e->dev[slot].state != E_INFLIGHT) {
				e->stale++; /* the device left while it was asked */
				continue;
			}
			if (ok) {
				if (e->facts)
					rp_facts_set_sysname(e->facts, &r[i].addr, r[i].name);
				emit(arg, &r[i]);
			} else if (r[i].status != RP_SNMP_TIMEOUT && e->errors_logged < 5) {
				/* a wrong community or v3 key fails every device alike: the
				 * first few say why, the health counters count the rest */
				char ip[RP_IP_STRLEN];

				e->errors_logged++;
				rp_log(RP_LOG_WARN, "SNMP poll failed",
				       "ip=%s status=%s detail=\"%s\"%s",
				       rp_ip_format(&r[i].addr, ip),
				       rp_snmp_status_name(r[i].status), r[i].detail,
				       e->errors_logged == 5 ? " more=\"counted as snmp_errors\""
							     : "");
			}
			schedule(e, slot, now_ms, ok);
		}
		if (ready && !ready(arg))
			break;
	}
}

static void refill(struct rp_enrich *e, uint64_t now_ms)
{
	if (e->rate <= 0) {
		e->tokens = e->burst;
		return;
	}
	e->tokens += (double)(now_ms - e->tokens_at_ms) * e->rate / 1000.0;
	if (e->tokens > e->burst)
		e->tokens = e->burst;
	e->tokens_at_ms = now_ms;
}

void rp_enrich_tick(struct rp_enrich *e, uint64_t now_ms, rp_enrich_emit_fn emit,
		    bool (*ready)(void *arg), void *arg)
{
	uint32_t room;

	if (!e->snmp)
		return;
	if (!ready || ready(arg))
		take_results(e, now_ms, emit, ready, arg);
	run_due(e, now_ms);
	refill(e, now_ms);
	room = rp_snmp_room(e->snmp);
	while (e->list[E_READY].len > 0 && room > 0 && (e->rate <= 0 || e->tokens >= 1.0)) {
		uint32_t slot = e->list[E_READY].head, prof = 0;
		bool on = true;

		if (e->snmp_of)
			prof = e->snmp_of(e->snmp_arg, e->dev[slot].cls, &on);
		if (!on) { /* its group's SNMP is off: asked again when it may be on */
			list_unlink(e, slot);
			e->skipped++;
			e->dev[slot].due_ms = now_ms + (e->interval_ms ? e->interval_ms : 1);
			list_push(e, slot, E_WAIT_INTERVAL);
			continue;
		}
		if (!rp_snmp_submit_as(e->snmp, rp_devtable_addr(e->t, slot), slot, prof))
			break; /* room said there was a place: not expected */
		list_unlink(e, slot);
		e->dev[slot].state = E_INFLIGHT;
		e->polls++;
		e->tokens -= 1.0;
		room--;
	}
}

int rp_enrich_repoll(struct rp_enrich *e, const struct rp_conf *c, const struct rp_conf *old,
		     uint64_t now_ms, rp_enrich_emit_fn emit, void *arg, char *why, size_t whylen)
{
	uint64_t deadline = rp_ctl__clock_ns(CLOCK_MONOTONIC) + 2000000000ull;
	struct rp_snmp *ns = NULL;
	int ret = 0;

	if (!e->snmp)
		return -ENOTSUP;
	/* Stopped before the new one is made: net-snmp's user table (v3) is the process's,
	 * and making a poller edits it. */
	if (rp_snmp_join_by(e->snmp, deadline) == -ETIMEDOUT)
		rp_log(RP_LOG_WARN, "the old SNMP poller is stuck in a blocking call; left behind",
		       "hint=\"an SNMPv3 engine-ID discovery waits up to snmp.timeout x "
		       "(snmp.retries + 1)\"");
	/* What it answered is still written; what it had in flight is asked again. */
	if (emit)
		take_results(e, now_ms, emit, NULL, arg);
	ret = rp_snmp_create(&ns, c, why, whylen);
	if (ret < 0 && old) {
		char again[256];

		rp_log(RP_LOG_ERROR,
		       "cannot make the SNMP poller for the new settings; the old "
		       "ones stay",
		       "why=\"%s\"", why);
		if (rp_snmp_create(&ns, old, again, sizeof(again)) < 0)
			ns = NULL;
	}
	rp_snmp_destroy(e->snmp);
	e->snmp = ns;
	for (uint32_t slot = 0; slot < e->cap; slot++)
		if (e->dev[slot].state == E_INFLIGHT && live(e, slot))
			list_push(e, slot, E_READY);
		else if (e->dev[slot].state == E_INFLIGHT)
			e->dev[slot].state = E_IDLE;
	if (!ns)
		return ret < 0 ? ret : -EIO;
	if (rp_snmp_start(ns) < 0)
		return -EIO;
	return ret;
}

void rp_enrich_due_now(struct rp_enrich *e, bool (*pick)(void *arg, uint32_t cls), void *arg)
{
	for (uint32_t slot = 0; e->t && slot < e->cap; slot++) {
		struct rp_enrich_dev *dv = &e->dev[slot];

		/* Out of the middle of a wait list: the others stay in due order. */
		if ((dv->state != E_WAIT_INTERVAL && dv->state != E_WAIT_BACKOFF) ||
		    !live(e, slot) || !pick(arg, dv->cls))
			continue;
		list_unlink(e, slot);
		list_push(e, slot, E_READY);
	}
}

void rp_enrich_stats(const struct rp_enrich *e, struct rp_enrich_stats *out)
{
	struct rp_snmp_stats st;

	memset(out, 0, sizeof(*out));
	if (!e->snmp)
		return;
	rp_snmp_stats(e->snmp, &st);
	out->devices = rp_devtable_count(e->t);
	out->suspended = rp_devtable_suspended_count(e->t);
	out->waiting = e->list[E_READY].len;
	out->inflight = st.inflight + st.queued;
	out->polls = e->polls;
	out->ok = e->results[RP_SNMP_OK];
	out->timeouts = e->results[RP_SNMP_TIMEOUT];
	out->errors = e->results[RP_SNMP_AGENT_ERROR] + e->results[RP_SNMP_LOCAL_ERROR];
	out->stale = e->stale;
	out->spoofed = st.spoofed;
	out->suspensions = e->suspensions;
}
