/* The YAML reader's state and helpers, shared by yaml.c (keys) and yaml_groups.c
 * (`groups`, `tags` and `devices` entries given as mappings). */
#ifndef RP_CONF_YAML_INT_H
#define RP_CONF_YAML_INT_H

#include <yaml.h>

#include "conf/conf_int.h"

struct rp_conf__reader {
	struct rp_conf *c;
	yaml_document_t *doc;
	const char *name;
	const char *text;
	size_t len;
	struct rp_diags *d;
	const char *shown; /* put before every key path in messages ("groups[1]."), or NULL */
};

/** "file:line:col" of a node's mark. */
void rp_conf__where_of(const struct rp_conf__reader *r, yaml_mark_t m, char *buf, size_t len);
/** "a mapping", "a list", "a value". */
const char *rp_conf__node_kind(const yaml_node_t *n);
/** A plain empty, ~ or null scalar. */
bool rp_conf__is_null(const yaml_node_t *n);
/** A scalar's text with ${VAR} expanded (caller frees), or NULL with the error added. */
char *rp_conf__scalar(struct rp_conf__reader *r, const yaml_node_t *n, const char *name);

/** The keys of mapping `map` under section `prefix` ("" = the top level, "snmp") into r->c,
 *  each marking its origin (yaml.c). */
void rp_conf__read_section(struct rp_conf__reader *r, const yaml_node_t *map, const char *prefix);

/* group_snmp.c */
/** A group's `snmp:` mapping (path "groups[idx].snmp") into g->snmp: read as the top level's
 *  snmp section is, into a configuration of its own whose origins say which keys the group
 *  set; snmp.max_inflight is refused (one poller for the process). */
void rp_conf__read_group_snmp(struct rp_conf__reader *r, struct rp_conf_group *g,
			      const yaml_node_t *v, size_t idx);

/* yaml_groups.c */
/** `tags:` (a mapping of key: value) into t, replacing what it held. */
void rp_conf__read_tags(struct rp_conf__reader *r, struct rp_tagset *t, const yaml_node_t *v,
			const char *path);
/** One `devices:` item that is a mapping ({address: ..., tags: {...}}), added to l with its
 *  tags in *dt. */
void rp_conf__read_device_map(struct rp_conf__reader *r, struct rp_cidr_list *l,
			      struct rp_devtags **dt, size_t *ndt, const yaml_node_t *item,
			      const char *name);
/** A devices or networks list (scalars, and for devices mappings) into l. */
void rp_conf__read_targets(struct rp_conf__reader *r, struct rp_cidr_list *l, bool devices,
			   struct rp_devtags **dt, size_t *ndt, const yaml_node_t *v,
			   const char *path);
/** `groups:` into r->c->groups, replacing what it held. */
void rp_conf__read_groups(struct rp_conf__reader *r, const yaml_node_t *v);

#endif
