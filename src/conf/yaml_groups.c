/* The YAML of groups and tags: `groups:` (a list of mappings), `tags:` (a mapping of
 * key: value) and `devices:` items given as {address: ..., tags: {...}}. Every problem
 * is reported with file:line:col and the key's path ("groups[1].tags.site"). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/yaml_int.h"
#include "ringprobe/icmp.h"
#include "ringprobe/xalloc.h"

RP_PRINTF(4, 5)
static void say(struct rp_conf__reader *r, const yaml_node_t *n, const char *path, const char *fmt,
		...)
{
	char where[256], msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rp_conf__where_of(r, n->start_mark, where, sizeof(where));
	rp_diags_add(r->d, RP_DIAG_ERROR, where, path, "%s", msg);
}

static yaml_node_t *node(struct rp_conf__reader *r, int id)
{
	return yaml_document_get_node(r->doc, id);
}

static const char *scalar_of(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Whether the key of pair p repeats an earlier one of the same mapping (reported). */
static bool dup_key(struct rp_conf__reader *r, const yaml_node_t *map, const yaml_node_pair_t *p,
		    const char *path)
{
	const char *key = scalar_of(node(r, p->key));

	for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
		const yaml_node_t *prev = node(r, q->key);
		char where[256];

		if (key && scalar_of(prev) && strcmp(scalar_of(prev), key) == 0) {
			rp_conf__where_of(r, node(r, p->key)->start_mark, where, sizeof(where));
			rp_diags_add(r->d, RP_DIAG_ERROR, where, path,
				     "duplicate key (first set at line %zu)",
				     prev->start_mark.line + 1);
			return true;
		}
	}
	return false;
}

void rp_conf__read_tags(struct rp_conf__reader *r, struct rp_tagset *t, const yaml_node_t *v,
			const char *path)
{
	rp_tagset_clear(t);
	if (v->type == YAML_SCALAR_NODE && rp_conf__is_null(v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		say(r, v, path, "expected a mapping of tag key: value, got %s",
		    rp_conf__node_kind(v));
		return;
	}
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = node(r, p->key), *vn = node(r, p->value);
		char name[256], where[256];
		char *val;

		if (!scalar_of(kn)) {
			say(r, kn, path, "a tag key must be a plain name, not %s",
			    rp_conf__node_kind(kn));
			continue;
		}
		snprintf(name, sizeof(name), "%s.%s", path, scalar_of(kn));
		if (dup_key(r, v, p, name))
			continue;
		if (vn->type != YAML_SCALAR_NODE || rp_conf__is_null(vn)) {
			say(r, vn, name, "a tag value must be a plain value, not %s",
			    vn->type == YAML_SCALAR_NODE ? "empty" : rp_conf__node_kind(vn));
			continue;
		}
		val = rp_conf__scalar(r, vn, name);
		if (!val)
			continue;
		rp_conf__where_of(r, kn->start_mark, where, sizeof(where));
		if (rp_conf__tag_check(scalar_of(kn), val, where, name, r->d) == 0)
			rp_tagset_set(t, scalar_of(kn), val, (uint32_t)kn->start_mark.line + 1);
		free(val);
	}
	if (t->n > RP_TAGS_MAX) {
		say(r, v, path, "%zu tags; at most %d are allowed", t->n, RP_TAGS_MAX);
	}
}

void rp_conf__read_device_map(struct rp_conf__reader *r, struct rp_cidr_list *l,
			      struct rp_devtags **dt, size_t *ndt, const yaml_node_t *item,
			      const char *name)
{
	const yaml_node_t *addr = NULL, *tags = NULL;
	struct rp_tagset ts = {0};
	size_t n0 = l->n, nn0 = l->nnames;
	char path[160], where[256];
	char *text;

	for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
	     p++) {
		const char *key = scalar_of(node(r, p->key));

		snprintf(path, sizeof(path), "%s.%s", name, key ? key : "?");
		if (dup_key(r, item, p, path))
			continue;
		if (key && strcmp(key, "address") == 0)
			addr = node(r, p->value);
		else if (key && strcmp(key, "tags") == 0)
			tags = node(r, p->value);
		else
			say(r, node(r, p->key), path, "unknown key in a device entry (it takes %s)",
			    "address and tags");
	}
	if (!addr || addr->type != YAML_SCALAR_NODE || rp_conf__is_null(addr)) {
		say(r, addr ? addr : item, name, "%s",
		    "a device given as a mapping needs `address:` (an address, CIDR or name)");
		return;
	}
	snprintf(path, sizeof(path), "%s.address", name);
	text = rp_conf__scalar(r, addr, path);
	if (!text)
		return;
	if (strpbrk(text, ", ")) {
		say(r, addr, path, "%s", "`address:` takes one address, CIDR or name");
		free(text);
		return;
	}
	rp_conf__where_of(r, addr->start_mark, where, sizeof(where));
	rp_conf__add_cidrs(l, "devices", true, text, where, path,
			   (uint32_t)addr->start_mark.line + 1, r->d);
	free(text);
	if (l->n == n0 && l->nnames == nn0)
		return; /* the address's own error says why */
	if (tags) {
		snprintf(path, sizeof(path), "%s.tags", name);
		rp_conf__read_tags(r, &ts, tags, path);
	}
	if (!ts.n)
		return;
	*dt = rp_xrealloc(*dt, (*ndt + 1) * sizeof(**dt));
	(*dt)[*ndt] = (struct rp_devtags){.index = l->n > n0 ? n0 : nn0,
					  .is_name = l->n == n0,
					  .line = (uint32_t)item->start_mark.line + 1,
					  .tags = ts};
	(*ndt)++;
}

void rp_conf__read_targets(struct rp_conf__reader *r, struct rp_cidr_list *l, bool devices,
			   struct rp_devtags **dt, size_t *ndt, const yaml_node_t *v,
			   const char *path)
{
	char where[256], name[160];
	size_t i = 0;

	if (v->type == YAML_SCALAR_NODE) {
		char *text;

		if (rp_conf__is_null(v) || !(text = rp_conf__scalar(r, v, path)))
			return;
		rp_conf__where_of(r, v->start_mark, where, sizeof(where));
		rp_conf__add_cidrs(l, devices ? "devices" : "networks", devices, text, where, path,
				   (uint32_t)v->start_mark.line + 1, r->d);
		free(text);
		return;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		say(r, v, path, "expected a list of addresses or CIDRs, got %s",
		    rp_conf__node_kind(v));
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++, i++) {
		yaml_node_t *item = node(r, *it);
		char *text;

		snprintf(name, sizeof(name), "%s[%zu]", path, i);
		if (item->type == YAML_MAPPING_NODE && devices) {
			rp_conf__read_device_map(r, l, dt, ndt, item, name);
			continue;
		}
		if (item->type != YAML_SCALAR_NODE) {
			say(r, item, name, "expected an address or CIDR, got %s",
			    rp_conf__node_kind(item));
			continue;
		}
		text = rp_conf__scalar(r, item, name);
		if (!text)
			continue;
		rp_conf__where_of(r, item->start_mark, where, sizeof(where));
		rp_conf__add_cidrs(l, devices ? "devices" : "networks", devices, text, where, name,
				   (uint32_t)item->start_mark.line + 1, r->d);
		free(text);
	}
}

/* Keys a group may hold; the process-wide ones say why they are refused. */
static const struct {
	const char *key;
	const char *refusal; /* NULL: taken */
} group_keys[] = {
    {"name", NULL},
    {"devices", NULL},
    {"networks", NULL},
    {"tags", NULL},
    {"ping_interval", NULL},
    {"ping_timeout", NULL},
    {"ping_count", NULL},
    {"ping_spacing", NULL},
    {"packet_size", NULL},
    {"tos", NULL},
    {"ttl", NULL},
    {"source_address", NULL},
    {"source", "is spelt source_address"},
    /* Socket options with no per-packet form: one more socket set per group would be
     * needed, and on raw sockets each would receive a copy of every ICMP packet. (A
     * group's interface goes per packet, IP_PKTINFO's ifindex: sent there, received
     * on the shard's unbound socket.) */
    {"interface", NULL},
    {"dont_fragment", "is process-wide (IPv4 has no per-packet DF option, and the shard's "
		      "socket is shared by every group); set it at the top level"},
    {"fwmark", "is process-wide (SO_MARK is a socket option, and the shard's socket is "
	       "shared by every group); set it at the top level"},
    {"snmp", NULL},
    {"device_files", NULL},
};

/* A group's `device_files`: a pattern or a list of them, as the top level's key takes. */
static void read_group_paths(struct rp_conf__reader *r, struct rp_path_list *pl,
			     const yaml_node_t *v, const char *path)
{
	size_t i = 0;

	if (v->type == YAML_SCALAR_NODE) {
		char *text;

		if (rp_conf__is_null(v) || !(text = rp_conf__scalar(r, v, path)))
			return;
		rp_conf__add_path(pl, text, (uint32_t)v->start_mark.line + 1);
		free(text);
		return;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		say(r, v, path, "expected a list of file names or patterns, got %s",
		    rp_conf__node_kind(v));
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++, i++) {
		yaml_node_t *item = node(r, *it);
		char name[200], *text;

		snprintf(name, sizeof(name), "%.160s[%zu]", path, i);
		if (item->type != YAML_SCALAR_NODE || rp_conf__is_null(item)) {
			say(r, item, name, "expected a file name or pattern, got %s",
			    item->type == YAML_SCALAR_NODE ? "nothing" : rp_conf__node_kind(item));
			continue;
		}
		text = rp_conf__scalar(r, item, name);
		if (!text)
			continue;
		if (!*text)
			say(r, item, name, "%s", "an empty file name");
		else
			rp_conf__add_path(pl, text, (uint32_t)item->start_mark.line + 1);
		free(text);
	}
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

/* One of a group's probe settings (rp_group_probe_keys but source_address), with the
 * top level key's type and range; ttl is 1..255 here (0, the kernel's default, has no
 * per-packet form). */
static void read_probe_key(struct rp_conf__reader *r, struct rp_conf_group *g, const char *key,
			   const yaml_node_t *vn, const char *path)
{
	const struct rp_conf_key *k = rp_conf_key_find(key);
	char where[256], why[256];
	int64_t v, min;
	unsigned i;
	char *text;
	int ret;

	for (i = 0; i < RP_GP_N; i++)
		if (strcmp(rp_group_probe_keys[i], key) == 0)
			break;
	if (i == RP_GP_N || !k)
		return;
	text = vn->type == YAML_SCALAR_NODE && !rp_conf__is_null(vn) ? rp_conf__scalar(r, vn, path)
								     : NULL;
	if (!text) {
		say(r, vn, path, "%s",
		    k->type == RP_CT_DURATION ? "needs a duration" : "needs a number");
		return;
	}
	rp_conf__where_of(r, vn->start_mark, where, sizeof(where));
	ret = k->type == RP_CT_DURATION ? rp_parse_duration(text, &v, why, sizeof(why))
					: rp_parse_int(text, &v, why, sizeof(why));
	min = i == RP_GP_TTL ? 1 : i == RP_GP_PACKET_SIZE ? RP_ICMP_PAYLOAD_MIN : k->min;
	if (ret < 0) {
		rp_diags_add(r->d, RP_DIAG_ERROR, where, path, "%s", why);
	} else if (v < min || v > k->max) {
		char lo[32], hi[32];

		if (k->type == RP_CT_DURATION) {
			rp_format_duration(min, lo, sizeof(lo));
			rp_format_duration(k->max, hi, sizeof(hi));
		} else {
			snprintf(lo, sizeof(lo), "%lld", (long long)min);
			snprintf(hi, sizeof(hi), "%lld", (long long)k->max);
		}
		rp_diags_add(r->d, RP_DIAG_ERROR, where, path, "%s is out of range (%s..%s%s)",
			     text, lo, hi,
			     i == RP_GP_TTL ? "; 0, the kernel's default, only at the top level"
			     : i == RP_GP_PACKET_SIZE ? "; below 40 there is no room for the "
							"probe's own fields"
						      : "");
	} else {
		g->probe[i] = v;
		g->probe_line[i] = (uint32_t)vn->start_mark.line + 1;
	}
	free(text);
}

static void read_group(struct rp_conf__reader *r, struct rp_conf_group *g, const yaml_node_t *m,
		       size_t idx)
{
	const struct rp_conf_key *pi = rp_conf_key_find("ping_interval");
	char path[160], where[256], why[256];

	g->line = (uint32_t)m->start_mark.line + 1;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = node(r, p->key), *vn = node(r, p->value);
		const char *key = scalar_of(kn);
		size_t k;

		snprintf(path, sizeof(path), "groups[%zu].%s", idx, key ? key : "?");
		if (!key) {
			say(r, kn, path, "a key must be a plain name, not %s",
			    rp_conf__node_kind(kn));
			continue;
		}
		if (dup_key(r, m, p, path))
			continue;
		for (k = 0; k < RP_ARRAY_SIZE(group_keys); k++)
			if (strcmp(group_keys[k].key, key) == 0)
				break;
		if (k == RP_ARRAY_SIZE(group_keys)) {
			say(r, kn, path, "%s",
			    "unknown key in a group (a group takes name, devices, networks, tags, "
			    "ping_interval, ping_timeout, ping_count, ping_spacing, packet_size, "
			    "ttl, tos, source_address, interface, snmp and device_files)");
			continue;
		}
		if (group_keys[k].refusal) {
			say(r, kn, path, "not per group: %s %s", key, group_keys[k].refusal);
			continue;
		}
		if (strcmp(key, "snmp") == 0) {
			rp_conf__read_group_snmp(r, g, vn, idx);
		} else if (strcmp(key, "device_files") == 0) {
			read_group_paths(r, &g->device_files, vn, path);
		} else if (strcmp(key, "devices") == 0 || strcmp(key, "networks") == 0) {
			bool dev = key[0] == 'd';

			rp_conf__read_targets(r, dev ? &g->devices : &g->networks, dev, &g->devtags,
					      &g->ndevtags, vn, path);
		} else if (strcmp(key, "tags") == 0) {
			rp_conf__read_tags(r, &g->tags, vn, path);
		} else if (strcmp(key, "interface") == 0) {
			char *text = vn->type == YAML_SCALAR_NODE && !rp_conf__is_null(vn)
					 ? rp_conf__scalar(r, vn, path)
					 : NULL;

			if (!text) {
				say(r, vn, path, "%s", "needs an interface name");
			} else {
				free(g->interface);
				g->interface = text;
				g->probe_line[RP_GP_INTERFACE] = (uint32_t)vn->start_mark.line + 1;
			}
		} else if (strcmp(key, "source_address") == 0) {
			rp_conf__read_targets(r, &g->source_address, false, NULL, NULL, vn, path);
			g->probe_line[RP_GP_SOURCE_ADDRESS] = (uint32_t)vn->start_mark.line + 1;
		} else if (strcmp(key, "name") != 0 && strcmp(key, "ping_interval") != 0) {
			read_probe_key(r, g, key, vn, path);
		} else {
			char *text = vn->type == YAML_SCALAR_NODE && !rp_conf__is_null(vn)
					 ? rp_conf__scalar(r, vn, path)
					 : NULL;

			if (!text) {
				say(r, vn, path, "%s",
				    strcmp(key, "name") == 0 ? "needs a name" : "needs a duration");
				continue;
			}
			rp_conf__where_of(r, vn->start_mark, where, sizeof(where));
			if (strcmp(key, "name") == 0) {
				if (name_ok(text)) {
					free(g->name);
					g->name = rp_xstrdup(text);
				} else {
					say(r, vn, path,
					    "\"%s\" is not a group name (1..64 letters, digits, "
					    "'_', "
					    "'-' or '.')",
					    text);
				}
			} else if (rp_parse_duration(text, &g->ping_interval, why, sizeof(why)) <
				   0) {
				rp_diags_add(r->d, RP_DIAG_ERROR, where, path, "%s", why);
				g->ping_interval = 0;
			} else if (g->ping_interval < pi->min || g->ping_interval > pi->max) {
				rp_diags_add(r->d, RP_DIAG_ERROR, where, path,
					     "%s is out of range (10ms..1d)", text);
				g->ping_interval = 0;
			} else {
				g->interval_line = (uint32_t)vn->start_mark.line + 1;
			}
			free(text);
		}
	}
	snprintf(path, sizeof(path), "groups[%zu]", idx);
	if (!g->name) {
		say(r, m, path, "%s", "a group needs a `name:`");
		g->name = rp_xstrdup("");
	}
}

void rp_conf__read_groups(struct rp_conf__reader *r, const yaml_node_t *v)
{
	struct rp_conf_groups *gs = &r->c->groups;
	size_t i = 0;

	rp_conf__free_groups(gs);
	if (v->type == YAML_SCALAR_NODE && rp_conf__is_null(v))
		return;
	if (v->type != YAML_SEQUENCE_NODE) {
		say(r, v, "groups",
		    "expected a list of groups (each a mapping with a name), got %s",
		    rp_conf__node_kind(v));
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++, i++) {
		yaml_node_t *m = node(r, *it);
		struct rp_conf_group *g;
		char path[64];

		snprintf(path, sizeof(path), "groups[%zu]", i);
		if (m->type != YAML_MAPPING_NODE) {
			say(r, m, path, "expected a mapping (name:, devices:, ...), got %s",
			    rp_conf__node_kind(m));
			continue;
		}
		gs->v = rp_xrealloc(gs->v, (gs->n + 1) * sizeof(*gs->v));
		g = &gs->v[gs->n++];
		memset(g, 0, sizeof(*g));
		read_group(r, g, m, i);
		for (size_t j = 0; j + 1 < gs->n && *g->name; j++) {
			if (strcmp(gs->v[j].name, g->name) == 0) {
				say(r, m, path, "group name \"%s\" is used at line %u too", g->name,
				    gs->v[j].line);
			}
		}
	}
}
