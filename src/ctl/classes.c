/* Device classes: a device's tags (name, top-level, group and its own static tags,
 * escaped once for line protocol), its probe interval and its probe profile (the
 * group's ping_timeout, ping_count, ping_spacing and packet options), shared by every
 * device with the same ones. A group with its own `snmp:` block keys its devices'
 * classes by its name too, so a class names the SNMP settings (a profile of the poller,
 * snmp.h) its devices are asked with: nothing per device but the class id they carry
 * already. A device carries its class id as its results' id; the writer turns the id
 * into the tags (rp_writer_device_tags), the shards use the interval and the profile.
 * Control thread only; the writer reads `lines` under the rule in ctl_int.h. */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_int.h"
#include "ringprobe/hash.h"
#include "ringprobe/line.h"
#include "ringprobe/log.h"
#include "ringprobe/prober.h"
#include "ringprobe/xalloc.h"

#define BUCKETS 4096u

_Static_assert(RP_CONF_PROFILES == RP_PROFILES_MAX, "one profile per distinct setting");

/* Group g's probe settings against the running top level: what the group does not set
 * is prof[0]'s (a top-level key other than ping_timeout changed by a reload needs a
 * restart, so the new file's value is not taken). */
static void settings_of(const struct rp_ctl *d, const struct rp_conf *c, size_t g,
			struct rp_conf_probe *out)
{
	const struct rp_conf_group *x = g && g <= c->groups.n ? &c->groups.v[g - 1] : NULL;
	const struct rp_conf_probe *top = &d->cls.prof[0];
	int64_t interval = x && x->ping_interval ? x->ping_interval : c->ping_interval;
	struct rp_conf_probe mine;

	*out = *top;
	if (!x)
		return;
	rp_conf_probe_of(c, g, &mine);
	if (x->probe_line[RP_GP_PING_TIMEOUT])
		out->ping_timeout = mine.ping_timeout;
	else if (out->ping_timeout > interval)
		out->ping_timeout = interval;
	if (x->probe_line[RP_GP_PING_COUNT])
		out->ping_count = mine.ping_count;
	if (x->probe_line[RP_GP_PING_SPACING])
		out->ping_spacing = mine.ping_spacing;
	if (x->probe_line[RP_GP_PACKET_SIZE])
		out->packet_size = mine.packet_size;
	if (x->probe_line[RP_GP_TTL])
		out->ttl = mine.ttl;
	if (x->probe_line[RP_GP_TOS])
		out->tos = mine.tos;
	for (unsigned f = 0; f < 2 && x->probe_line[RP_GP_SOURCE_ADDRESS]; f++)
		if (!rp_ip_is_zero(&mine.source[f]) && !rp_ip_eq(&mine.source[f], &top->source[f]))
			out->source[f] = mine.source[f];
	memcpy(out->interface, mine.interface, sizeof(out->interface));
}

/* The profile of group g's devices: found, or added (and, with the prober running,
 * defined there). 0 when the table is full (logged once: a restart applies it). */
static unsigned profile_of(struct rp_ctl *d, const struct rp_conf *c, size_t g)
{
	struct rp_ctl_classes *k = &d->cls;
	struct rp_conf_probe p;
	struct rp_probe_profile pp;
	unsigned i;

	settings_of(d, c, g, &p);
	for (i = 0; i < k->nprof; i++)
		if (rp_conf_probe_equal(&k->prof[i], &p))
			return i;
	if (k->nprof == RP_CONF_PROFILES) {
		if (!k->prof_full_logged)
			rp_log(RP_LOG_ERROR,
			       "more distinct group probe settings than a run can hold; the "
			       "group's devices keep the top level's until a restart",
			       "group=%s most=%d", g ? c->groups.v[g - 1].name : "-",
			       RP_CONF_PROFILES);
		k->prof_full_logged = true;
		return 0;
	}
	i = k->nprof++;
	k->prof[i] = p;
	if (d->prober) {
		rp_ctl__profile(d, i, &pp);
		if (pp.ifindex < 0) {
			rp_log(RP_LOG_ERROR,
			       "a group's interface does not exist; its requests go where the "
			       "routing table sends them",
			       "group=%s interface=%s", g ? c->groups.v[g - 1].name : "-",
			       p.interface);
			pp.ifindex = 0;
		}
		if (rp_prober_set_profile(d->prober, i, &pp) == -E2BIG)
			rp_log(RP_LOG_ERROR,
			       "a group's packet_size or ping_count is larger than any the run "
			       "started with; it is cut to that until a restart",
			       "group=%s packet_size=%lld ping_count=%lld",
			       g ? c->groups.v[g - 1].name : "-", (long long)p.packet_size,
			       (long long)p.ping_count);
	}
	return i;
}

void rp_ctl__profile(const struct rp_ctl *d, unsigned k, struct rp_probe_profile *out)
{
	const struct rp_conf_probe *p = &d->cls.prof[k < d->cls.nprof ? k : 0];
	unsigned ifindex = p->interface[0] ? if_nametoindex(p->interface) : 0;

	*out = (struct rp_probe_profile){
	    .timeout_ns = (uint64_t)p->ping_timeout,
	    .ping_count = (uint32_t)p->ping_count,
	    .spacing_ns = (uint64_t)p->ping_spacing,
	    .payload_len = (uint32_t)p->packet_size,
	    .ttl = (int)p->ttl,
	    .tos = (int)p->tos,
	    .source = {p->source[0], p->source[1]},
	    /* -1: no such interface now (the daemon refuses to start; a reload logs it) */
	    .ifindex = p->interface[0] && !ifindex ? -1 : (int)ifindex,
	};
}

void rp_ctl__profile_timeout(struct rp_ctl *d, int64_t ping_timeout)
{
	d->cls.prof[0].ping_timeout = ping_timeout;
}

void rp_ctl__classes_init(struct rp_ctl *d)
{
	struct rp_ctl_classes *k = &d->cls;

	k->cap = RP_CTL_CLASSES;
	k->lines = rp_xcalloc(k->cap, sizeof(*k->lines));
	k->head = rp_xcalloc(BUCKETS, sizeof(*k->head));
	/* Every group's profile now, so that the prober is created with them all. */
	rp_conf_probe_of(&d->conf, 0, &k->prof[0]);
	k->nprof = 1;
	for (size_t g = 1; g <= d->conf.groups.n; g++)
		profile_of(d, &d->conf, g);
}

void rp_ctl__classes_fini(struct rp_ctl *d)
{
	struct rp_ctl_classes *k = &d->cls;

	for (uint32_t i = 0; i < k->n; i++) {
		free((char *)k->lines[i]);
		free(k->v[i].name);
		free(k->v[i].group);
		rp_tagset_clear(&k->v[i].tags);
	}
	free(k->lines);
	free(k->v);
	free(k->head);
	memset(k, 0, sizeof(*k));
}

static uint32_t hash_of(const char *line, uint32_t interval_ms, unsigned profile, const char *group)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ interval_ms ^ (uint64_t)profile << 40;

	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	for (const unsigned char *p = (const unsigned char *)(group ? group : ""); *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return (uint32_t)(rp_hash_u64(h) % BUCKETS);
}

static bool same_group(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The poller's profile and SNMP's on/off for a class keyed by group name `group` (or
 * none: the top level's) in configuration c. */
static void snmp_of(const struct rp_conf *c, const char *group, uint16_t *prof, bool *on)
{
	for (size_t g = 0; group && g < c->groups.n; g++)
		if (strcmp(c->groups.v[g].name, group) == 0 && c->groups.v[g].snmp) {
			*prof = (uint16_t)rp_snmp_profile(c, g + 1);
			*on = rp_snmp_group_on(c, g + 1);
			return;
		}
	*prof = 0;
	*on = c->snmp.enabled;
}

void rp_ctl__classes_snmp(struct rp_ctl *d, const struct rp_conf *c)
{
	struct rp_ctl_classes *k = &d->cls;

	for (uint32_t i = 0; i < k->n; i++)
		snmp_of(c, k->v[i].group, &k->v[i].snmp, &k->v[i].snmp_on);
	k->top_snmp_on = c->snmp.enabled;
}

uint32_t rp_ctl__class_snmp(const struct rp_ctl *d, uint32_t id, bool *on)
{
	if (id && id <= d->cls.n) {
		*on = d->cls.v[id - 1].snmp_on;
		return d->cls.v[id - 1].snmp;
	}
	*on = d->cls.top_snmp_on;
	return 0;
}

uint32_t rp_ctl__class(struct rp_ctl *d, const struct rp_conf *c, size_t g,
		       const struct rp_tagset *own, const char *name)
{
	struct rp_ctl_classes *k = &d->cls;
	const struct rp_conf_group *x = g && g <= c->groups.n ? &c->groups.v[g - 1] : NULL;
	struct rp_tagset a = {0}, t = {0};
	struct rp_tag tags[RP_TAGS_MAX + 1];
	char line[RP_LINE_TAGS_MAX + 1];
	uint64_t ns =
	    x && x->ping_interval ? (uint64_t)x->ping_interval : (uint64_t)c->ping_interval;
	uint32_t interval_ms = (uint32_t)(ns / 1000000u), h, id;
	const char *group = x && x->snmp ? x->name : NULL;
	unsigned profile = profile_of(d, c, g);
	size_t n = 0;

	rp_tagset_merge(&a, &c->tags, x ? &x->tags : NULL);
	rp_tagset_merge(&t, &a, own);
	rp_tagset_clear(&a);
	if (name)
		tags[n++] = (struct rp_tag){"name", name};
	for (size_t i = 0; i < t.n && n < RP_ARRAY_SIZE(tags); i++)
		tags[n++] = (struct rp_tag){t.kv[2 * i], t.kv[2 * i + 1]};
	line[0] = '\0';
	if (n)
		rp_line_tags(line, sizeof(line), tags, n);
	if (!line[0] && !group && profile == 0 &&
	    interval_ms == (uint32_t)((uint64_t)c->ping_interval / 1000000u)) {
		rp_tagset_clear(&t);
		return 0;
	}
	h = hash_of(line, interval_ms, profile, group);
	for (id = k->head[h]; id; id = k->v[id - 1].next) {
		const char *have = k->lines[id - 1] ? k->lines[id - 1] : "";

		if (k->v[id - 1].interval_ms == interval_ms && k->v[id - 1].profile == profile &&
		    strcmp(have, line) == 0 && same_group(k->v[id - 1].group, group)) {
			rp_tagset_clear(&t);
			return id;
		}
	}
	if (k->n == k->cap) {
		if (!k->full_logged)
			rp_log(RP_LOG_ERROR,
			       "more device classes (distinct tags and intervals) than a run can "
			       "hold; further devices are written without their tags",
			       "most=%u", k->cap);
		k->full_logged = true;
		rp_tagset_clear(&t);
		return 0;
	}
	k->v = rp_xrealloc(k->v, (k->n + 1) * sizeof(*k->v));
	k->v[k->n] = (struct rp_ctl_class){.name = name ? rp_xstrdup(name) : NULL,
					   .group = group ? rp_xstrdup(group) : NULL,
					   .tags = t,
					   .interval_ms = interval_ms,
					   .next = k->head[h],
					   .profile = (uint8_t)profile};
	snmp_of(c, group, &k->v[k->n].snmp, &k->v[k->n].snmp_on);
	/* Written before the id goes anywhere: the writer may read it from then on. */
	k->lines[k->n] = line[0] ? rp_xstrdup(line) : NULL;
	id = ++k->n;
	k->head[h] = id;
	return id;
}

uint32_t rp_ctl__class_interval(const struct rp_ctl *d, uint32_t id)
{
	if (id && id <= d->cls.n)
		return d->cls.v[id - 1].interval_ms;
	return rp_ctl__interval_ms(d);
}

const struct rp_ctl_class *rp_ctl__class_at(const struct rp_ctl *d, uint32_t id)
{
	return id && id <= d->cls.n ? &d->cls.v[id - 1] : NULL;
}

unsigned rp_ctl__class_profile(const struct rp_ctl *d, uint32_t id)
{
	return id && id <= d->cls.n ? d->cls.v[id - 1].profile : 0;
}

int rp_ctl__queue_add(struct rp_ctl *d, const struct rp_ip *addr, uint32_t id)
{
	return rp_prober_queue_add_profile(d->prober, addr, id, rp_ctl__class_interval(d, id),
					   rp_ctl__class_profile(d, id));
}

int rp_ctl__queue_readd(struct rp_ctl *d, const struct rp_ip *addr, uint32_t id)
{
	return rp_prober_queue_readd_profile(d->prober, addr, id, rp_ctl__class_interval(d, id),
					     rp_ctl__class_profile(d, id));
}
