/* Groups and static tags, apart from their YAML (yaml_groups.c): the tag rules, the
 * checks that need the whole file (a device or network in two groups, the merged tags'
 * limits, each group's targets), the printer and the comparisons a reload makes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"
#include "ringprobe/xalloc.h"

/* ---- tag sets ------------------------------------------------------------------- */

void rp_tagset_clear(struct rp_tagset *t)
{
	for (size_t i = 0; i < 2 * t->n; i++)
		free(t->kv[i]);
	free(t->kv);
	free(t->line);
	memset(t, 0, sizeof(*t));
}

void rp_tagset_set(struct rp_tagset *t, const char *key, const char *value, uint32_t line)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->kv[2 * i], key) == 0) {
			free(t->kv[2 * i + 1]);
			t->kv[2 * i + 1] = rp_xstrdup(value);
			t->line[i] = line;
			return;
		}
	}
	t->kv = rp_xrealloc(t->kv, 2 * (t->n + 1) * sizeof(*t->kv));
	t->line = rp_xrealloc(t->line, (t->n + 1) * sizeof(*t->line));
	t->kv[2 * t->n] = rp_xstrdup(key);
	t->kv[2 * t->n + 1] = rp_xstrdup(value);
	t->line[t->n] = line;
	t->n++;
}

void rp_tagset_merge(struct rp_tagset *out, const struct rp_tagset *base,
		     const struct rp_tagset *over)
{
	rp_tagset_clear(out);
	for (size_t i = 0; base && i < base->n; i++)
		rp_tagset_set(out, base->kv[2 * i], base->kv[2 * i + 1], base->line[i]);
	for (size_t i = 0; over && i < over->n; i++)
		rp_tagset_set(out, over->kv[2 * i], over->kv[2 * i + 1], over->line[i]);
}

const struct rp_devtags *rp_devtags_find(const struct rp_devtags *v, size_t n, size_t index,
					 bool is_name)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].index == index && v[i].is_name == is_name)
			return &v[i];
	return NULL;
}

const struct rp_devtags *rp_devtags_walk(const struct rp_devtags *v, size_t n, size_t *k,
					 size_t index, bool is_name)
{
	for (; *k < n; (*k)++) {
		if (v[*k].is_name != is_name)
			continue;
		if (v[*k].index > index)
			return NULL;
		if (v[*k].index == index)
			return &v[*k];
	}
	return NULL;
}

/* Bytes of the tags written as k=v,k=v (unescaped). */
static size_t tags_text_len(const struct rp_tagset *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += (i ? 1 : 0) + strlen(t->kv[2 * i]) + 1 + strlen(t->kv[2 * i + 1]);
	return n;
}

const char *rp_tag_key_invalid(const char *s)
{
	static const char *const reserved[] = {"ip", "name", "shard"};
	size_t len = strlen(s);

	if (len == 0)
		return "a tag key must not be empty";
	if (len > RP_TAG_KEY_MAX)
		return "a tag key is at most 64 bytes";
	if (s[0] >= '0' && s[0] <= '9')
		return "a tag key must not start with a digit (it must be a Prometheus label name)";
	if (s[0] == '_' && s[1] == '_')
		return "a tag key must not start with \"__\" (reserved for Prometheus' own labels)";
	for (const char *p = s; *p; p++) {
		char ch = *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return "a tag key holds only letters, digits and '_' (a Prometheus label "
			       "name)";
	}
	for (size_t i = 0; i < RP_ARRAY_SIZE(reserved); i++)
		if (strcmp(s, reserved[i]) == 0)
			return "is ringprobe's own tag: ip, name and shard are reserved";
	return NULL;
}

int rp_conf__tag_check(const char *key, const char *value, const char *where, const char *name,
		       struct rp_diags *d)
{
	const char *why = rp_tag_key_invalid(key);
	size_t vlen = strlen(value);

	if (why) {
		rp_diags_add(d, RP_DIAG_ERROR, where, name, "tag key \"%s\": %s", key, why);
		return -EINVAL;
	}
	if (vlen == 0) {
		rp_diags_add(d, RP_DIAG_ERROR, where, name,
			     "empty tag value (InfluxDB leaves out an empty tag; remove the tag)");
		return -EINVAL;
	}
	if (vlen > RP_TAG_VALUE_MAX) {
		rp_diags_add(d, RP_DIAG_ERROR, where, name,
			     "tag value is %zu bytes; at most %d are allowed", vlen,
			     RP_TAG_VALUE_MAX);
		return -EINVAL;
	}
	if (!rp_conf__utf8_valid((const unsigned char *)value)) {
		rp_diags_add(d, RP_DIAG_ERROR, where, name, "tag value is not valid UTF-8");
		return -EINVAL;
	}
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			rp_diags_add(d, RP_DIAG_ERROR, where, name,
				     "tag value holds a control character");
			return -EINVAL;
		}
	}
	return 0;
}

int rp_conf__set_tags_text(struct rp_tagset *t, const char *text, const char *where,
			   const char *name, uint32_t line, struct rp_diags *d)
{
	char *copy = rp_xstrdup(text), *save = NULL, *tok;
	int ret = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			rp_diags_add(d, RP_DIAG_ERROR, where, name,
				     "\"%s\" is not key=value (tags are k=v[,k=v...])", tok);
			ret = -EINVAL;
			continue;
		}
		*eq = '\0';
		if (rp_conf__tag_check(tok, eq + 1, where, name, d) < 0) {
			ret = -EINVAL;
			continue;
		}
		rp_tagset_set(t, tok, eq + 1, line);
	}
	free(copy);
	if (t->n > RP_TAGS_MAX) {
		rp_diags_add(d, RP_DIAG_ERROR, where, name, "%zu tags; at most %d are allowed",
			     t->n, RP_TAGS_MAX);
		ret = -EINVAL;
	}
	return ret;
}

void rp_conf__free_devtags(struct rp_devtags **v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		rp_tagset_clear(&(*v)[i].tags);
	free(*v);
	*v = NULL;
	*n = 0;
}

void rp_conf__free_groups(struct rp_conf_groups *g)
{
	for (size_t i = 0; i < g->n; i++) {
		struct rp_conf_group *x = &g->v[i];

		free(x->name);
		rp_conf__free_list(&x->devices);
		rp_conf__free_list(&x->networks);
		rp_conf__free_list(&x->source_address);
		free(x->interface);
		rp_conf__free_devtags(&x->devtags, &x->ndevtags);
		rp_tagset_clear(&x->tags);
		rp_conf__free_group_snmp(&x->snmp);
		rp_conf__free_paths(&x->device_files);
		rp_conf__files_fini(&x->files);
	}
	free(g->v);
	memset(g, 0, sizeof(*g));
}

/* ---- checks that need the whole file ---------------------------------------------- */

/* One network of some group's list, for the overlap scan; group 0 is the top level. */
struct span {
	struct rp_ip first, last;
	size_t group, index;
	uint32_t line;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	int c = rp_ip_cmp(&x->first, &y->first);

	return c ? c : (x->group > y->group) - (x->group < y->group);
}

static const char *group_label(const struct rp_conf *c, size_t g, char *buf, size_t len)
{
	if (g == 0)
		snprintf(buf, len, "the top level (the default group)");
	else
		snprintf(buf, len, "group \"%s\"", c->groups.v[g - 1].name);
	return buf;
}

static const struct rp_cidr_list *list_of(const struct rp_conf *c, size_t g, bool networks)
{
	if (g == 0)
		return networks ? &c->networks : &c->devices;
	return networks ? &c->groups.v[g - 1].networks : &c->groups.v[g - 1].devices;
}

/* Where entry i (is_name: name i) of group g's devices came from (networks: never a
 * file): into `where` "file:line", into `ref` "line N" for the configuration's own or
 * "FILE:N" for a device file's. */
static void entry_where(const struct rp_conf *c, size_t g, bool networks, size_t i, bool is_name,
			uint32_t line, char *where, char *ref, size_t len)
{
	const struct rp_device_files *f = g ? &c->groups.v[g - 1].files : &c->files;
	const char *file = NULL;

	if (!networks && f->n && !is_name && i >= f->own && f->src)
		file = f->path[f->src[i - f->own]];
	else if (!networks && f->n && is_name && i >= f->own_names && f->name_src)
		file = f->path[f->name_src[i - f->own_names]];
	snprintf(where, len, "%s:%u", file ? file : c->file ? c->file : "", line);
	if (file)
		snprintf(ref, len, "%s:%u", file, line);
	else
		snprintf(ref, len, "line %u", line);
}

/* Addresses (or networks) given in two groups: sorted by first address, a span that
 * starts before the furthest end seen so far overlaps it. n log n for a million. */
static void check_overlap(const struct rp_conf *c, bool networks, struct rp_diags *d)
{
	const char *what = networks ? "networks" : "devices";
	struct span *v, best = {0};
	size_t n = 0, k = 0, reported = 0;

	for (size_t g = 0; g <= c->groups.n; g++)
		n += list_of(c, g, networks)->n;
	if (n < 2 || c->groups.n == 0)
		return;
	v = rp_xcalloc(n, sizeof(*v));
	for (size_t g = 0; g <= c->groups.n; g++) {
		const struct rp_cidr_list *l = list_of(c, g, networks);

		for (size_t i = 0; i < l->n; i++) {
			v[k].first = l->v[i].net;
			v[k].last = rp_cidr_nth(&l->v[i], rp_cidr_size(&l->v[i]) - 1);
			v[k].group = g;
			v[k].index = i;
			v[k].line = l->line[i];
			k++;
		}
	}
	qsort(v, n, sizeof(*v), cmp_span);
	best = v[0];
	for (size_t i = 1; i < n && reported < 10; i++) {
		if (rp_ip_cmp(&v[i].first, &best.last) <= 0 && v[i].group != best.group) {
			char where[512], first[512], ref[512], tmp[512], a[160], b[160];
			char ip[RP_IP_STRLEN];

			entry_where(c, v[i].group, networks, v[i].index, false, v[i].line, where,
				    ref, sizeof(where));
			entry_where(c, best.group, networks, best.index, false, best.line, tmp,
				    first, sizeof(first));
			rp_diags_add(d, RP_DIAG_ERROR, where, what,
				     "%s is in %s (%s) and in %s (%s); a device belongs to one "
				     "group",
				     rp_ip_format(&v[i].first, ip),
				     group_label(c, best.group, a, sizeof(a)), first,
				     group_label(c, v[i].group, b, sizeof(b)), ref);
			reported++;
		}
		if (rp_ip_cmp(&v[i].last, &best.last) > 0)
			best = v[i];
	}
	free(v);
}

/* A name given in two groups. Few names: quadratic is fine. */
static void check_names(const struct rp_conf *c, struct rp_diags *d)
{
	for (size_t g = 0; g <= c->groups.n; g++) {
		const struct rp_cidr_list *l = list_of(c, g, false);

		for (size_t i = 0; i < l->nnames; i++)
			for (size_t h = g + 1; h <= c->groups.n; h++) {
				const struct rp_cidr_list *m = list_of(c, h, false);

				for (size_t j = 0; j < m->nnames; j++) {
					char where[512], first[512], ref[512], tmp[512];
					char a[160], b[160];

					if (strcmp(l->names[i], m->names[j]) != 0)
						continue;
					entry_where(c, h, false, j, true, m->name_line[j], where,
						    ref, sizeof(where));
					entry_where(c, g, false, i, true, l->name_line[i], tmp,
						    first, sizeof(first));
					rp_diags_add(d, RP_DIAG_ERROR, where, "devices",
						     "%s is in %s (%s) and in %s (%s); a device "
						     "belongs to one group",
						     l->names[i], group_label(c, g, a, sizeof(a)),
						     first, group_label(c, h, b, sizeof(b)), ref);
				}
			}
	}
}

/* The tags a device of group g (with its own `own`, or NULL) is written with. */
static void check_merged(const struct rp_conf *c, const struct rp_tagset *group,
			 const struct rp_tagset *own, const char *path, uint32_t line,
			 struct rp_diags *d)
{
	struct rp_tagset a = {0}, b = {0};
	char where[512];

	rp_tagset_merge(&a, &c->tags, group);
	rp_tagset_merge(&b, &a, own);
	snprintf(where, sizeof(where), "%s:%u", c->file ? c->file : "", line);
	if (b.n > RP_TAGS_MAX)
		rp_diags_add(d, RP_DIAG_ERROR, where, path,
			     "%zu tags with the top level's and the group's; at most %d are "
			     "allowed",
			     b.n, RP_TAGS_MAX);
	else if (tags_text_len(&b) > RP_TAGS_TEXT_MAX)
		rp_diags_add(d, RP_DIAG_ERROR, where, path,
			     "tags of %zu bytes (as k=v,k=v) with the top level's and the group's; "
			     "at most %d are allowed",
			     tags_text_len(&b), RP_TAGS_TEXT_MAX);
	rp_tagset_clear(&a);
	rp_tagset_clear(&b);
}

/* ---- probe settings ------------------------------------------------------------------ */

const char *const rp_group_probe_keys[RP_GP_N] = {
    "ping_timeout", "ping_count", "ping_spacing",   "packet_size",
    "ttl",	    "tos",	  "source_address", "interface",
};

/* The addresses of a source_address list into out[0] (IPv4) and out[1] (IPv6). */
static void sources_of(const struct rp_cidr_list *l, struct rp_ip out[2])
{
	memset(out, 0, 2 * sizeof(*out));
	for (size_t i = 0; i < l->n; i++) {
		struct rp_ip *o = &out[rp_ip_is_v4(&l->v[i].net) ? 0 : 1];

		if (rp_ip_is_zero(o))
			*o = l->v[i].net;
	}
}

void rp_conf_probe_of(const struct rp_conf *c, size_t g, struct rp_conf_probe *out)
{
	const struct rp_conf_group *x = g && g <= c->groups.n ? &c->groups.v[g - 1] : NULL;
	int64_t interval = x && x->ping_interval ? x->ping_interval : c->ping_interval;
	int64_t *own[RP_GP_SOURCE_ADDRESS] = {&out->ping_timeout, &out->ping_count,
					      &out->ping_spacing, &out->packet_size,
					      &out->ttl,	  &out->tos};

	*out = (struct rp_conf_probe){.ping_timeout = c->ping_timeout,
				      .ping_count = c->ping_count,
				      .ping_spacing = c->ping_spacing,
				      .packet_size = c->packet_size,
				      .ttl = c->ttl,
				      .tos = c->tos};
	sources_of(&c->source_address, out->source);
	if (!x)
		return;
	for (unsigned k = 0; k < RP_GP_SOURCE_ADDRESS; k++)
		if (x->probe_line[k])
			*own[k] = x->probe[k];
	if (x->probe_line[RP_GP_SOURCE_ADDRESS]) {
		struct rp_ip mine[2];

		sources_of(&x->source_address, mine);
		for (unsigned f = 0; f < 2; f++)
			if (!rp_ip_is_zero(&mine[f]))
				out->source[f] = mine[f];
	}
	if (x->interface)
		snprintf(out->interface, sizeof(out->interface), "%s", x->interface);
	if (!x->probe_line[RP_GP_PING_TIMEOUT] && out->ping_timeout > interval)
		out->ping_timeout = interval;
}

bool rp_conf_probe_equal(const struct rp_conf_probe *a, const struct rp_conf_probe *b)
{
	return a->ping_timeout == b->ping_timeout && a->ping_count == b->ping_count &&
	       a->ping_spacing == b->ping_spacing && a->packet_size == b->packet_size &&
	       a->ttl == b->ttl && a->tos == b->tos && rp_ip_eq(&a->source[0], &b->source[0]) &&
	       rp_ip_eq(&a->source[1], &b->source[1]) && strcmp(a->interface, b->interface) == 0;
}

/* An error at `line` about groups[i]'s key k (RP_GP_N: its ping_interval). */
RP_PRINTF(6, 7)
static void group_err(const struct rp_conf *c, struct rp_diags *d, size_t i, unsigned k,
		      uint32_t line, const char *fmt, ...)
{
	char where[512], path[96], msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(where, sizeof(where), "%s:%u", c->file ? c->file : "", line);
	snprintf(path, sizeof(path), "groups[%zu].%s", i,
		 k < RP_GP_N ? rp_group_probe_keys[k] : "ping_interval");
	rp_diags_add(d, RP_DIAG_ERROR, where, path, "%s", msg);
}

/* A group's probe settings: its timeout within its own interval, its round within it
 * too, its source addresses single and one per family; and at most RP_CONF_PROFILES
 * distinct settings in all, the one that makes too many named. */
static void check_probe(const struct rp_conf *c, struct rp_diags *d)
{
	struct rp_conf_probe seen[RP_CONF_PROFILES];
	size_t nseen = 1;
	bool told = false;

	rp_conf_probe_of(c, 0, &seen[0]);
	for (size_t i = 0; i < c->groups.n; i++) {
		const struct rp_conf_group *x = &c->groups.v[i];
		int64_t interval = x->ping_interval ? x->ping_interval : c->ping_interval;
		const struct rp_cidr_list *l = &x->source_address;
		struct rp_conf_probe p;
		bool fam[2] = {false, false};
		char a[64], b[64];
		int64_t sp;
		size_t j;

		rp_conf_probe_of(c, i + 1, &p);
		if (x->probe_line[RP_GP_PING_TIMEOUT] && p.ping_timeout > interval) {
			rp_format_duration(p.ping_timeout, a, sizeof(a));
			rp_format_duration(interval, b, sizeof(b));
			group_err(c, d, i, RP_GP_PING_TIMEOUT, x->probe_line[RP_GP_PING_TIMEOUT],
				  "%s is longer than the group's ping_interval (%s): a reply is "
				  "waited for at most until the next probe is due",
				  a, b);
		}
		if (x->probe_line[RP_GP_PING_SPACING] && p.ping_spacing > 0 &&
		    p.ping_spacing < RP_NSEC_PER_MSEC)
			group_err(c, d, i, RP_GP_PING_SPACING, x->probe_line[RP_GP_PING_SPACING],
				  "must be 0 (automatic) or at least 1ms");
		sp = p.ping_spacing;
		if (p.ping_count > 1 && sp == 0) {
			sp = interval / 10 / (p.ping_count - 1) / RP_NSEC_PER_MSEC *
			     RP_NSEC_PER_MSEC;
			if (sp < 10 * RP_NSEC_PER_MSEC)
				sp = 10 * RP_NSEC_PER_MSEC;
		}
		if (p.ping_count > 1 && (p.ping_count - 1) * sp >= interval) {
			unsigned k = x->probe_line[RP_GP_PING_SPACING] ? RP_GP_PING_SPACING
				     : x->probe_line[RP_GP_PING_COUNT] ? RP_GP_PING_COUNT
								       : RP_GP_N;
			char what[96];

			rp_format_duration(sp, a, sizeof(a));
			rp_format_duration(interval, b, sizeof(b));
			snprintf(what, sizeof(what), "%lld echoes %s apart",
				 (long long)p.ping_count, a);
			group_err(c, d, i, k,
				  k == RP_GP_N ? (x->interval_line ? x->interval_line : x->line)
					       : x->probe_line[k],
				  "%s do not fit in the group's ping_interval (%s): lower "
				  "ping_count or ping_spacing, or raise ping_interval",
				  what, b);
		}
		for (size_t n = 0; n < l->n; n++) {
			bool v4 = rp_ip_is_v4(&l->v[n].net);
			uint32_t line = l->line[n];

			rp_format_cidr(&l->v[n], true, a, sizeof(a));
			if (l->v[n].prefix != (v4 ? 32 : 128))
				group_err(c, d, i, RP_GP_SOURCE_ADDRESS, line,
					  "%s is a network; give one address of this host", a);
			else if (fam[v4])
				group_err(
				    c, d, i, RP_GP_SOURCE_ADDRESS, line,
				    "%s is a second %s address; give at most one IPv4 and one "
				    "IPv6 address",
				    a, v4 ? "IPv4" : "IPv6");
			else if (rp_ip_is_zero(&l->v[n].net) || (v4 && l->v[n].net.w[3] == 0))
				group_err(c, d, i, RP_GP_SOURCE_ADDRESS, line,
					  "%s is the unspecified address", a);
			fam[v4] = true;
		}
		if (x->interface) {
			size_t n = strlen(x->interface);

			if (!n || n >= sizeof(p.interface) || strchr(x->interface, '/') ||
			    strpbrk(x->interface, " \t:"))
				group_err(c, d, i, RP_GP_INTERFACE, x->probe_line[RP_GP_INTERFACE],
					  "\"%s\" is not an interface name (1 to 15 characters, no "
					  "'/', ':' or blanks)",
					  x->interface);
			else if (c->interface && *c->interface)
				group_err(
				    c, d, i, RP_GP_INTERFACE, x->probe_line[RP_GP_INTERFACE],
				    "needs the top level without `interface`: the shard's "
				    "socket is bound to \"%s\" (SO_BINDTODEVICE), and a group "
				    "sends on its own per packet",
				    c->interface);
		}
		for (j = 0; j < nseen; j++)
			if (rp_conf_probe_equal(&seen[j], &p))
				break;
		if (j < nseen)
			continue;
		if (nseen == RP_CONF_PROFILES) {
			unsigned k;

			if (told)
				continue;
			told = true;
			for (k = 0; k < RP_GP_N && !x->probe_line[k]; k++)
				;
			group_err(
			    c, d, i, k,
			    k < RP_GP_N ? x->probe_line[k]
					: (x->interval_line ? x->interval_line : x->line),
			    "makes a %dth distinct set of probe settings (ping_timeout, "
			    "ping_count, ping_spacing, packet_size, ttl, tos, source_address, "
			    "interface; "
			    "the top level's is one); at most %d are allowed: give groups the "
			    "same values",
			    RP_CONF_PROFILES + 1, RP_CONF_PROFILES);
			continue;
		}
		seen[nseen++] = p;
	}
}

void rp_conf__check_groups(const struct rp_conf *c, enum rp_conf_purpose purpose,
			   struct rp_diags *d)
{
	(void)purpose;
	check_probe(c, d);
	check_overlap(c, false, d);
	check_overlap(c, true, d);
	check_names(c, d);
	for (size_t g = 0; g <= c->groups.n; g++) {
		const struct rp_conf_group *x = g ? &c->groups.v[g - 1] : NULL;
		const struct rp_devtags *dt = x ? x->devtags : c->devtags;
		/* device files' labels are checked where they are read (files.c) */
		size_t ndt = x		  ? (x->files.n ? x->files.own_devtags : x->ndevtags)
			     : c->files.n ? c->files.own_devtags
					  : c->ndevtags;
		char path[160];

		snprintf(path, sizeof(path), g ? "groups[%zu].tags" : "tags", g - 1);
		check_merged(c, x ? &x->tags : NULL, NULL, path, x ? x->line : 1, d);
		for (size_t i = 0; i < ndt; i++) {
			snprintf(path, sizeof(path),
				 g ? "groups[%zu].devices[%zu].tags" : "devices[%zu].tags",
				 g ? g - 1 : i, i);
			check_merged(c, x ? &x->tags : NULL, &dt[i].tags, path, dt[i].line, d);
		}
	}
}

/* ---- printing and comparing --------------------------------------------------------- */

void rp_conf__print_tags(const struct rp_tagset *t, FILE *out, int indent)
{
	if (!t->n) {
		fputs("{}", out);
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		fprintf(out, "\n%*s%s: ", indent + 2, "", t->kv[2 * i]);
		rp_conf__put_string(out, t->kv[2 * i + 1]);
	}
}

/* A group's devices as its file gave them (not its device files' targets: their
 * patterns are printed). */
static void print_targets(const struct rp_cidr_list *l, const struct rp_devtags *dt, size_t ndt,
			  const struct rp_device_files *f, const char *key, FILE *out)
{
	size_t n = f && f->n ? f->own : l->n, nnames = f && f->n ? f->own_names : l->nnames;
	char buf[RP_CIDR_STRLEN];

	if (!n && !nnames)
		return;
	fprintf(out, "    %s:\n", key);
	for (size_t i = 0; i < n + nnames; i++) {
		bool is_name = i >= n;
		size_t j = is_name ? i - n : i;
		const struct rp_devtags *t = rp_devtags_find(dt, ndt, j, is_name);

		if (!is_name)
			rp_format_cidr(&l->v[j], true, buf, sizeof(buf));
		fputs(t ? "      - address: " : "      - ", out);
		rp_conf__put_target(out, is_name ? l->names[j] : buf);
		if (t) {
			fputs("\n        tags:", out);
			rp_conf__print_tags(&t->tags, out, 8);
		}
		fputc('\n', out);
	}
}

void rp_conf__print_groups(const struct rp_conf *c, FILE *out)
{
	char buf[64];

	if (!c->groups.n) {
		fputs(" []\n", out);
		return;
	}
	fputc('\n', out);
	for (size_t i = 0; i < c->groups.n; i++) {
		const struct rp_conf_group *g = &c->groups.v[i];

		fprintf(out, "  - name: ");
		rp_conf__put_string(out, g->name);
		fprintf(out, "  # %s:%u\n", c->file ? c->file : "", g->line);
		if (g->ping_interval) {
			rp_format_duration(g->ping_interval, buf, sizeof(buf));
			fprintf(out, "    ping_interval: %s\n", buf);
		}
		for (unsigned k = 0; k < RP_GP_SOURCE_ADDRESS; k++) {
			if (!g->probe_line[k])
				continue;
			if (k == RP_GP_PING_TIMEOUT || k == RP_GP_PING_SPACING)
				rp_format_duration(g->probe[k], buf, sizeof(buf));
			else
				snprintf(buf, sizeof(buf), "%lld", (long long)g->probe[k]);
			fprintf(out, "    %s: %s\n", rp_group_probe_keys[k], buf);
		}
		if (g->source_address.n) {
			fputs("    source_address:", out);
			for (size_t j = 0; j < g->source_address.n; j++) {
				char cb[RP_CIDR_STRLEN];

				rp_format_cidr(&g->source_address.v[j], true, cb, sizeof(cb));
				fprintf(out, " %s%s", cb, j + 1 < g->source_address.n ? "," : "");
			}
			fputc('\n', out);
		}
		if (g->interface) {
			fputs("    interface: ", out);
			rp_conf__put_string(out, g->interface);
			fputc('\n', out);
		}
		if (g->tags.n) {
			fputs("    tags:", out);
			rp_conf__print_tags(&g->tags, out, 4);
			fputc('\n', out);
		}
		print_targets(&g->devices, g->devtags, g->ndevtags, &g->files, "devices", out);
		print_targets(&g->networks, NULL, 0, NULL, "networks", out);
		if (g->device_files.n) {
			fputs("    device_files:\n", out);
			for (size_t j = 0; j < g->device_files.n; j++) {
				fputs("      - ", out);
				rp_conf__put_string(out, g->device_files.v[j]);
				fputc('\n', out);
			}
		}
		if (g->snmp)
			rp_conf__print_group_snmp(g->snmp, out, 4);
	}
}

bool rp_conf__tags_equal(const struct rp_tagset *a, const struct rp_tagset *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < 2 * a->n; i++)
		if (strcmp(a->kv[i], b->kv[i]) != 0)
			return false;
	return true;
}

static bool lists_equal(const struct rp_cidr_list *x, const struct rp_cidr_list *y)
{
	if (x->n != y->n || x->nnames != y->nnames)
		return false;
	for (size_t i = 0; i < x->n; i++)
		if (!rp_ip_eq(&x->v[i].net, &y->v[i].net) || x->v[i].prefix != y->v[i].prefix)
			return false;
	for (size_t i = 0; i < x->nnames; i++)
		if (strcmp(x->names[i], y->names[i]) != 0)
			return false;
	return true;
}

/* The probe settings two groups set (where they were set does not matter). */
static bool probe_keys_equal(const struct rp_conf_group *x, const struct rp_conf_group *y)
{
	for (unsigned k = 0; k < RP_GP_N; k++)
		if (!x->probe_line[k] != !y->probe_line[k] ||
		    (x->probe_line[k] && x->probe[k] != y->probe[k]))
			return false;
	return !x->interface == !y->interface &&
	       (!x->interface || strcmp(x->interface, y->interface) == 0);
}

bool rp_conf__groups_equal(const struct rp_conf_groups *a, const struct rp_conf_groups *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct rp_conf_group *x = &a->v[i], *y = &b->v[i];

		if (strcmp(x->name, y->name) != 0 || x->ping_interval != y->ping_interval ||
		    !probe_keys_equal(x, y) ||
		    !lists_equal(&x->source_address, &y->source_address) ||
		    !rp_conf__tags_equal(&x->tags, &y->tags) ||
		    !lists_equal(&x->devices, &y->devices) ||
		    !lists_equal(&x->networks, &y->networks) || x->ndevtags != y->ndevtags ||
		    !rp_conf__group_snmp_equal(x->snmp, y->snmp) ||
		    x->device_files.n != y->device_files.n)
			return false;
		for (size_t j = 0; j < x->device_files.n; j++)
			if (strcmp(x->device_files.v[j], y->device_files.v[j]) != 0)
				return false;
		for (size_t j = 0; j < x->ndevtags; j++)
			if (x->devtags[j].index != y->devtags[j].index ||
			    x->devtags[j].is_name != y->devtags[j].is_name ||
			    !rp_conf__tags_equal(&x->devtags[j].tags, &y->devtags[j].tags))
				return false;
	}
	return true;
}
