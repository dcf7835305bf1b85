/* Devices given by DNS name (`devices:` entries that are names): the control thread's
 * side of the resolver (src/names). Each name's current address set is monitored, every
 * probe of it tagged name=NAME beside ip; when the set changes the device moves (the
 * old addresses are removed, the new ones added), so its series keep the name. A name
 * that fails keeps its last good addresses, is logged once per change of its state,
 * counted, and retried by the resolver with backoff; it never stops anything else.
 *
 * Tags: a name's result id is its class (classes.c): name=NAME with its group's and its
 * own static tags, at its group's interval; a name given again gets its old class back.
 *
 * Addresses: held in a device table with a count of the names holding each, so two
 * names on one address probe it once (tagged with the first), and an address that is
 * also a listed or discovered device is monitored as that (untagged) and not twice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ctl/ctl_int.h"
#include "ringprobe/log.h"
#include "ringprobe/names.h"
#include "ringprobe/prober.h"
#include "ringprobe/xalloc.h"

static uint32_t ms_of(int64_t ns)
{
	uint64_t ms = (uint64_t)ns / 1000000u;

	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Starts probing addr for a name (tag). An address the daemon may not probe (loopback
 * without allow_loopback, multicast ...) or past max_devices is refused, logged and
 * counted; one the prober refuses now is unplaced and asked again by
 * rp_ctl__names_retry. */
static void hold(struct rp_ctl *d, const struct rp_ip *addr, uint32_t tag)
{
	struct rp_ctl_names *nm = &d->names;
	int32_t slot = rp_devtable_lookup(nm->held, addr);
	const char *refused;

	if (slot >= 0) {
		nm->refs[slot]++;
		return;
	}
	refused = rp_conf_refuses(&d->conf, addr);
	if (refused) {
		char ip[RP_IP_STRLEN];

		nm->refused++;
		rp_log(RP_LOG_WARN, "a name's address is not probed", "name=%s ip=%s why=\"%s\"",
		       rp_ctl__class_at(d, tag) ? rp_ctl__class_at(d, tag)->name : "?",
		       rp_ip_format(addr, ip), refused);
		return;
	}
	if (rp_devtable_count(nm->held) >= nm->cap ||
	    rp_fleet_count(&d->fleet) + rp_devtable_count(nm->held) >=
		(uint64_t)d->conf.max_devices) {
		nm->refused++;
		return;
	}
	slot = rp_devtable_add(nm->held, addr, 0, NULL, NULL);
	nm->refs[slot] = 1;
	nm->tag_of[slot] = tag;
	nm->unplaced[slot] = 0;
	if (rp_fleet_has(&d->fleet, addr))
		return; /* monitored as a listed or discovered device already */
	if (rp_ctl__queue_add(d, addr, tag) < 0) {
		nm->unplaced[slot] = 1;
		nm->nunplaced++;
		return;
	}
	rp_enrich_add_class(&d->enrich, addr, d->now_ms, tag);
}

static void release(struct rp_ctl *d, const struct rp_ip *addr)
{
	struct rp_ctl_names *nm = &d->names;
	int32_t slot = rp_devtable_lookup(nm->held, addr);

	if (slot < 0 || --nm->refs[slot] > 0)
		return;
	if (nm->unplaced[slot])
		nm->nunplaced--;
	else if (!rp_fleet_has(&d->fleet, addr)) {
		rp_prober_queue_remove(d->prober, addr);
		rp_enrich_remove(&d->enrich, addr);
	}
	rp_devtable_remove(nm->held, (uint32_t)slot);
}

static bool in_set(const struct rp_ip *a, const struct rp_ip *set, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (rp_ip_eq(a, &set[i]))
			return true;
	return false;
}

static void join(char *out, size_t len, const struct rp_ip *addrs, size_t n)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		char ip[RP_IP_STRLEN];

		off += (size_t)snprintf(out + off, len - off, "%s%s", i ? "," : "",
					rp_ip_format(&addrs[i], ip));
	}
}

/* The resolver's callback: a name's delivered state changed. */
static void on_name(void *arg, uint32_t id, const char *name, const struct rp_ip *addrs, size_t n,
		    enum rp_names_status status)
{
	struct rp_ctl *d = arg;
	struct rp_ctl_names *nm = &d->names;
	struct rp_ctl_name *x;
	char list[512];

	if (id >= nm->n || !nm->v[id].name)
		return;
	x = &nm->v[id];
	/* New addresses first, then the old ones go: an address in both stays held. */
	for (size_t i = 0; i < n; i++)
		if (!in_set(&addrs[i], x->addrs, x->n))
			hold(d, &addrs[i], x->tag);
	for (uint32_t i = 0; i < x->n; i++)
		if (!in_set(&x->addrs[i], addrs, (uint32_t)n))
			release(d, &x->addrs[i]);
	x->n = (uint32_t)(n < RP_NAMES_MAX_ADDRS ? n : RP_NAMES_MAX_ADDRS);
	memcpy(x->addrs, addrs, x->n * sizeof(*addrs));
	join(list, sizeof(list), addrs, n);
	if (status == RP_NAMES_OK) {
		if (x->status != RP_NAMES_OK && x->status != RP_NAMES_PENDING)
			nm->failing--;
		rp_log(RP_LOG_NOTICE, "name resolved", "name=%s addresses=%s", name,
		       n ? list : "none");
	} else {
		if (x->status == RP_NAMES_OK || x->status == RP_NAMES_PENDING)
			nm->failing++;
		rp_log(RP_LOG_WARN, "name did not resolve; retried with backoff",
		       "name=%s status=%s probing=%s", name, rp_names_status_str(status),
		       n ? list : "none");
	}
	x->status = (int)status;
	nm->changes++;
}

/* Calls fn for every name of every group of c, with its group and own tags. */
static void each_name(const struct rp_conf *c,
		      void (*fn)(struct rp_ctl *d, const char *name, size_t g,
				 const struct rp_tagset *own),
		      struct rp_ctl *d)
{
	for (size_t g = 0; g <= c->groups.n; g++) {
		const struct rp_conf_group *x = g ? &c->groups.v[g - 1] : NULL;
		const struct rp_cidr_list *l = x ? &x->devices : &c->devices;
		size_t walk = 0;

		for (size_t j = 0; j < l->nnames; j++) {
			const struct rp_devtags *t =
			    rp_devtags_walk(x ? x->devtags : c->devtags,
					    x ? x->ndevtags : c->ndevtags, &walk, j, true);

			fn(d, l->names[j], g, t ? &t->tags : NULL);
		}
	}
}

static size_t count_names(const struct rp_conf *c)
{
	size_t n = c->devices.nnames;

	for (size_t g = 0; g < c->groups.n; g++)
		n += c->groups.v[g].devices.nnames;
	return n;
}

/* Starts tracking a name of the configuration (logged when it cannot be). */
static void track(struct rp_ctl *d, const char *name, size_t g, const struct rp_tagset *own)
{
	struct rp_ctl_names *nm = &d->names;
	uint32_t tag = rp_ctl__class(d, &d->conf, g, own, name);
	size_t id = nm->n;
	int ret;

	nm->v = rp_xrealloc(nm->v, (nm->n + 1) * sizeof(*nm->v));
	nm->v[id] =
	    (struct rp_ctl_name){.name = rp_xstrdup(name), .tag = tag, .status = RP_NAMES_PENDING};
	nm->n++;
	ret = rp_names_add(nm->r, name, (uint32_t)id);
	if (ret < 0) {
		rp_log(RP_LOG_ERROR, "name not monitored", "name=%s why=\"%s\"", name,
		       strerror(-ret));
		free(nm->v[id].name);
		nm->v[id].name = NULL;
	}
}

int rp_ctl__names_start(struct rp_ctl *d, char *why, size_t whylen)
{
	struct rp_ctl_names *nm = &d->names;
	size_t nnames = count_names(&d->conf);
	struct rp_names_conf nc = {0};
	int fam = 0, ret;

	if (nnames == 0)
		return 0;
	nm->cap =
	    (uint32_t)(nnames * 4 < (size_t)d->conf.max_devices ? nnames * 4
								: (size_t)d->conf.max_devices);
	if (nm->cap < 16)
		nm->cap = 16;
	if (rp_devtable_create(&nm->held, nm->cap) < 0) {
		snprintf(why, whylen, "cannot size the table of named devices");
		return -ENOMEM;
	}
	nm->refs = rp_xcalloc(nm->cap, sizeof(*nm->refs));
	nm->tag_of = rp_xcalloc(nm->cap, sizeof(*nm->tag_of));
	nm->unplaced = rp_xcalloc(nm->cap, sizeof(*nm->unplaced));
	if (d->conf.address_family == RP_ADDRFAM_4)
		fam = 4;
	else if (d->conf.address_family == RP_ADDRFAM_6)
		fam = 6;
	else {
		/* both: of each family the host has a route for (none known: both) */
		int routed = rp_names_routed_family();

		fam = routed == 4 || routed == 6 ? routed : 0;
	}
	nm->family = fam;
	nc.ttl_floor_ms = ms_of(d->conf.dns.ttl_floor);
	nc.ttl_ceiling_ms = ms_of(d->conf.dns.ttl_ceiling);
	nc.retry_min_ms = ms_of(d->conf.dns.retry_min);
	nc.retry_max_ms = ms_of(d->conf.dns.retry_max);
	nc.family = fam;
	nc.servers = d->conf.dns.servers && *d->conf.dns.servers ? d->conf.dns.servers : NULL;
	nc.seed = d->start_real_ns;
	ret = rp_names_create(&nm->r, &nc, d->now_ms, on_name, d, why, whylen);
	if (ret < 0)
		return ret;
	each_name(&d->conf, track, d);
	rp_log(RP_LOG_INFO, "resolving devices given by name", "names=%zu family=%s servers=%s",
	       nnames,
	       fam == 4	  ? "4"
	       : fam == 6 ? "6"
			  : "both",
	       nc.servers ? nc.servers : "system");
	return 0;
}

void rp_ctl__names_tick(struct rp_ctl *d)
{
	if (d->names.r)
		rp_names_tick(d->names.r, d->now_ms);
}

size_t rp_ctl__names_retry(struct rp_ctl *d)
{
	struct rp_ctl_names *nm = &d->names;
	size_t placed = 0;

	if (!nm->held || !nm->nunplaced)
		return 0;
	for (int32_t s = rp_devtable_next(nm->held, -1); s >= 0 && nm->nunplaced;
	     s = rp_devtable_next(nm->held, s)) {
		const struct rp_ip *a = rp_devtable_addr(nm->held, (uint32_t)s);

		if (!nm->unplaced[s] || rp_ctl__queue_add(d, a, nm->tag_of[s]) < 0)
			continue;
		rp_enrich_add_class(&d->enrich, a, d->now_ms, nm->tag_of[s]);
		nm->unplaced[s] = 0;
		nm->nunplaced--;
		placed++;
	}
	return placed;
}

bool rp_ctl__names_holds(const struct rp_ctl *d, const struct rp_ip *addr)
{
	return d->names.held && rp_devtable_lookup(d->names.held, addr) >= 0;
}

uint32_t rp_ctl__name_tag(const struct rp_ctl *d, const struct rp_ip *addr)
{
	int32_t s;

	if (!d->names.held || (s = rp_devtable_lookup(d->names.held, addr)) < 0)
		return 0;
	return d->names.tag_of[s];
}

const char *rp_ctl__name_of(const struct rp_ctl *d, const struct rp_ip *addr)
{
	const struct rp_ctl_class *k = rp_ctl__class_at(d, rp_ctl__name_tag(d, addr));

	return k ? k->name : NULL;
}

void rp_ctl__names_each(struct rp_ctl *d,
			void (*fn)(void *arg, const struct rp_ip *addr, uint32_t tag), void *arg)
{
	struct rp_ctl_names *nm = &d->names;

	if (!nm->held)
		return;
	for (int32_t s = rp_devtable_next(nm->held, -1); s >= 0; s = rp_devtable_next(nm->held, s))
		if (!nm->unplaced[s] &&
		    !rp_fleet_has(&d->fleet, rp_devtable_addr(nm->held, (uint32_t)s)))
			fn(arg, rp_devtable_addr(nm->held, (uint32_t)s), nm->tag_of[s]);
}

/* The running name given `name` (index into v), or -1. */
static ssize_t find_name(const struct rp_ctl_names *nm, const char *name)
{
	for (size_t i = 0; i < nm->n; i++)
		if (nm->v[i].name && strcmp(nm->v[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static bool conf_has_name(const struct rp_conf *c, const char *name)
{
	for (size_t g = 0; g <= c->groups.n; g++) {
		const struct rp_cidr_list *l = g ? &c->groups.v[g - 1].devices : &c->devices;

		for (size_t j = 0; j < l->nnames; j++)
			if (strcmp(l->names[j], name) == 0)
				return true;
	}
	return false;
}

/* A name of the new configuration: tracked when new; when its class (group, tags or
 * interval) changed, its addresses are re-added with the new one. */
static void renew(struct rp_ctl *d, const char *name, size_t g, const struct rp_tagset *own)
{
	struct rp_ctl_names *nm = &d->names;
	ssize_t i = find_name(nm, name);
	struct rp_ctl_name *x;
	uint32_t tag;

	if (i < 0) {
		track(d, name, g, own);
		return;
	}
	x = &nm->v[i];
	tag = rp_ctl__class(d, &d->conf, g, own, name);
	if (tag == x->tag)
		return;
	for (uint32_t a = 0; a < x->n; a++) {
		int32_t s = rp_devtable_lookup(nm->held, &x->addrs[a]);

		if (s < 0 || nm->tag_of[s] != x->tag)
			continue;
		nm->tag_of[s] = tag;
		if (!nm->unplaced[s] && !rp_fleet_has(&d->fleet, &x->addrs[a]))
			rp_ctl__queue_readd(d, &x->addrs[a], tag);
	}
	x->tag = tag;
}

void rp_ctl__names_reload(struct rp_ctl *d)
{
	struct rp_ctl_names *nm = &d->names;
	size_t nnames = count_names(&d->conf);

	if (!nm->r) {
		if (nnames)
			rp_log(RP_LOG_WARN,
			       "devices given by name take effect at restart (none at start)",
			       "names=%zu", nnames);
		return;
	}
	/* Names gone: their addresses go. */
	for (size_t i = 0; i < nm->n; i++) {
		struct rp_ctl_name *x = &nm->v[i];

		if (!x->name || conf_has_name(&d->conf, x->name))
			continue;
		for (uint32_t a = 0; a < x->n; a++)
			release(d, &x->addrs[a]);
		if (x->status != RP_NAMES_OK && x->status != RP_NAMES_PENDING)
			nm->failing--;
		rp_names_remove(nm->r, (uint32_t)i);
		free(x->name);
		x->name = NULL;
		x->n = 0;
	}
	/* Names new: tracked; names kept whose class changed: re-added. */
	each_name(&d->conf, renew, d);
}

void rp_ctl__names_stats(const struct rp_ctl *d, struct rp_ctl_names_stats *out)
{
	const struct rp_ctl_names *nm = &d->names;
	struct rp_names_stats rs = {0};

	memset(out, 0, sizeof(*out));
	if (!nm->r)
		return;
	rp_names_stats(nm->r, &rs);
	out->names = rs.tracked;
	out->failing = nm->failing;
	out->addresses = nm->held ? rp_devtable_count(nm->held) : 0;
	out->queries = rs.queries;
	out->failures = rs.failures;
	out->changes = nm->changes;
	out->refused = nm->refused;
}

void rp_ctl__names_fini(struct rp_ctl *d)
{
	struct rp_ctl_names *nm = &d->names;

	rp_names_destroy(nm->r);
	for (size_t i = 0; i < nm->n; i++)
		free(nm->v[i].name);
	free(nm->v);
	rp_devtable_destroy(nm->held);
	free(nm->refs);
	free(nm->tag_of);
	free(nm->unplaced);
	memset(nm, 0, sizeof(*nm));
}
