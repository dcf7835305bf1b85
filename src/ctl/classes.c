/* Device classes: a device's tags (name, top-level, group and its own static tags,
 * escaped once for line protocol) and its probe interval, shared by every device with
 * the same ones. A group with its own `snmp:` block keys its devices' classes by its
 * name too, so a class names the SNMP settings (a profile of the poller, snmp.h) its
 * devices are asked with: nothing per device but the class id they carry already. A device carries
 * its class id as its results' id; the writer turns the id into the tags (rp_writer_device_tags),
 * the shards use the interval. Control thread only; the writer reads `lines` under the rule in
 * ctl_int.h. */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_int.h"
#include "ringprobe/hash.h"
#include "ringprobe/line.h"
#include "ringprobe/log.h"
#include "ringprobe/xalloc.h"

#define BUCKETS 4096u

void rp_ctl__classes_init(struct rp_ctl *d)
{
	struct rp_ctl_classes *k = &d->cls;

	k->cap = RP_CTL_CLASSES;
	k->lines = rp_xcalloc(k->cap, sizeof(*k->lines));
	k->head = rp_xcalloc(BUCKETS, sizeof(*k->head));
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

static uint32_t hash_of(const char *line, uint32_t interval_ms, const char *group)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ interval_ms;

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
	if (!line[0] && !group &&
	    interval_ms == (uint32_t)((uint64_t)c->ping_interval / 1000000u)) {
		rp_tagset_clear(&t);
		return 0;
	}
	h = hash_of(line, interval_ms, group);
	for (id = k->head[h]; id; id = k->v[id - 1].next) {
		const char *have = k->lines[id - 1] ? k->lines[id - 1] : "";

		if (k->v[id - 1].interval_ms == interval_ms && strcmp(have, line) == 0 &&
		    same_group(k->v[id - 1].group, group)) {
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
					   .next = k->head[h]};
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
