/* A group's own `snmp:` block. It takes the keys of the top level's snmp section
 * (snmp.max_inflight aside: one poller serves the process) and is read by the same
 * table-driven reader into a configuration of its own, whose origin[] says which keys
 * the group set. At validation its *_file secrets are read, every key it did not set
 * takes the top level's value (after the top level's flags and files), and the result
 * is checked as the top level's is: the group's block is then its effective settings,
 * which the SNMP poller takes as they are (src/snmp/poller.c). Secrets are printed
 * masked, like the top level's (print.c). */
#include <stdlib.h>
#include <string.h>

#include "conf/yaml_int.h"
#include "ringprobe/xalloc.h"

#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->offset))

static bool is_snmp_key(const struct rp_conf_key *k)
{
	return strncmp(k->path, "snmp.", 5) == 0;
}

void rp_conf__read_group_snmp(struct rp_conf__reader *r, struct rp_conf_group *g,
			      const yaml_node_t *v, size_t idx)
{
	const struct rp_conf_key *mi = rp_conf_key_find("snmp.max_inflight");
	struct rp_conf__reader sub = *r;
	char shown[64], where[256];

	rp_conf__free_group_snmp(&g->snmp);
	snprintf(shown, sizeof(shown), "groups[%zu].snmp", idx);
	if (v->type == YAML_SCALAR_NODE && rp_conf__is_null(v))
		return; /* `snmp:` with nothing: the top level's */
	if (v->type != YAML_MAPPING_NODE) {
		rp_conf__where_of(r, v->start_mark, where, sizeof(where));
		rp_diags_add(r->d, RP_DIAG_ERROR, where, shown,
			     "expected a mapping of snmp.* keys (community, version, port, ...), "
			     "got %s",
			     rp_conf__node_kind(v));
		return;
	}
	g->snmp = rp_xmalloc(sizeof(*g->snmp));
	rp_conf_init(g->snmp);
	g->snmp->file = rp_xstrdup(r->name);
	snprintf(shown, sizeof(shown), "groups[%zu].", idx);
	sub.c = g->snmp;
	sub.shown = shown;
	rp_conf__read_section(&sub, v, "snmp");
	if (rp_conf_is_set(g->snmp, mi)) {
		char key[64];

		snprintf(where, sizeof(where), "%s:%d", r->name,
			 g->snmp->origin[rp_conf_key_index(mi)]);
		snprintf(key, sizeof(key), "groups[%zu].snmp.max_inflight", idx);
		rp_diags_add(r->d, RP_DIAG_ERROR, where, key,
			     "not per group: snmp.max_inflight bounds the one SNMP poller of the "
			     "process; set it at the top level");
	}
}

/* The secret key of a *_file key ("snmp.community_file" -> "snmp.community"), or NULL. */
static const struct rp_conf_key *file_of(const struct rp_conf_key *k)
{
	char name[96];

	snprintf(name, sizeof(name), "%s_file", k->path);
	return rp_conf_key_find(name);
}

static void copy_key(struct rp_conf *dst, const struct rp_conf *src, const struct rp_conf_key *k)
{
	switch (k->type) {
	case RP_CT_STRING:
	case RP_CT_SECRET:
	case RP_CT_SECRET_FILE: {
		char **to = FIELD(dst, k, char *), *from = *FIELD(src, k, char *);

		if (*to && k->type == RP_CT_SECRET)
			explicit_bzero(*to, strlen(*to));
		free(*to);
		*to = from ? rp_xstrdup(from) : NULL;
		break;
	}
	case RP_CT_DURATION:
	case RP_CT_INT:
	case RP_CT_SIZE:
		*FIELD(dst, k, int64_t) = *FIELD(src, k, int64_t);
		break;
	case RP_CT_FLOAT:
		*FIELD(dst, k, double) = *FIELD(src, k, double);
		break;
	case RP_CT_BOOL:
		*FIELD(dst, k, bool) = *FIELD(src, k, bool);
		break;
	case RP_CT_ENUM:
		*FIELD(dst, k, int) = *FIELD(src, k, int);
		break;
	default:
		break; /* no snmp.* key has another type */
	}
}

/* The messages of entries from n0 on name the group's key ("groups[1].snmp.community_file"):
 * the shared secret reader names the key as at the top level. */
static void prefix_keys(struct rp_diags *d, size_t n0, size_t idx)
{
	for (size_t i = n0; i < d->n; i++) {
		char buf[256];

		if (!d->v[i].key || strncmp(d->v[i].key, "snmp.", 5) != 0)
			continue;
		snprintf(buf, sizeof(buf), "groups[%zu].%s", idx, d->v[i].key);
		free(d->v[i].key);
		d->v[i].key = rp_xstrdup(buf);
	}
}

/* The checks of the top level's block (validate.c check_snmp), on a group's effective one. */
static void check(const struct rp_conf *gs, size_t idx, uint32_t line, struct rp_diags *d)
{
	const char *u = gs->snmp.v3.username, *ap = gs->snmp.v3.auth_password,
		   *pp = gs->snmp.v3.priv_password;
	char where[512], key[96];

	if (gs->snmp.version != RP_SNMP_V3)
		return;
	snprintf(where, sizeof(where), "%s:%u", gs->file ? gs->file : "", line);
	if (!u || !*u) {
		snprintf(key, sizeof(key), "groups[%zu].snmp.v3.username", idx);
		rp_diags_add(d, RP_DIAG_ERROR, where, key,
			     "must be set (here or at the top level) when the group's "
			     "snmp.version is 3");
	}
	if (gs->snmp.v3.security_level != RP_SNMP_NOAUTHNOPRIV && (!ap || strlen(ap) < 8)) {
		snprintf(key, sizeof(key), "groups[%zu].snmp.v3.auth_password", idx);
		rp_diags_add(d, RP_DIAG_ERROR, where, key,
			     "must be at least 8 characters for the group's security_level");
	}
	if (gs->snmp.v3.security_level == RP_SNMP_AUTHPRIV && (!pp || strlen(pp) < 8)) {
		snprintf(key, sizeof(key), "groups[%zu].snmp.v3.priv_password", idx);
		rp_diags_add(d, RP_DIAG_ERROR, where, key,
			     "must be at least 8 characters for authPriv");
	}
}

void rp_conf__resolve_group_snmp(struct rp_conf *c, struct rp_diags *d)
{
	for (size_t g = 0; g < c->groups.n; g++) {
		struct rp_conf *gs = c->groups.v[g].snmp;
		size_t n0 = d->n;

		if (!gs)
			continue;
		rp_conf__read_secret_files(gs, d);
		prefix_keys(d, n0, g);
		for (size_t i = 0; i < rp_conf_key_count(); i++) {
			const struct rp_conf_key *k = rp_conf_key_at(i), *f;

			if (!is_snmp_key(k) || k->type == RP_CT_SECRET_FILE ||
			    rp_conf_is_set(gs, k))
				continue;
			f = k->type == RP_CT_SECRET ? file_of(k) : NULL;
			if (f && rp_conf_is_set(gs, f))
				continue; /* the group's own file gave it */
			copy_key(gs, c, k);
		}
		check(gs, g, c->groups.v[g].line, d);
	}
}

void rp_conf__free_group_snmp(struct rp_conf **gs)
{
	if (!*gs)
		return;
	rp_conf_fini(*gs);
	free(*gs);
	*gs = NULL;
}

bool rp_conf__group_snmp_equal(const struct rp_conf *a, const struct rp_conf *b)
{
	if (!a || !b)
		return a == b;
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);

		if (!is_snmp_key(k))
			continue;
		if (rp_conf_is_set(a, k) != rp_conf_is_set(b, k) ||
		    (rp_conf_is_set(a, k) && !rp_conf_key_equal(a, b, k)))
			return false;
	}
	return true;
}
