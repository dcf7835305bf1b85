/* Defaults, typed storage and the conversion of one value's text, shared by the
 * YAML reader and the command-line flags. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/conf_int.h"
#include "ringprobe/xalloc.h"

#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->offset))

void rp_conf__clear_list(struct rp_conf *c, const struct rp_conf_key *k)
{
	rp_conf__free_list(FIELD(c, k, struct rp_cidr_list));
	if (strcmp(k->path, "devices") == 0)
		rp_conf__free_devtags(&c->devtags, &c->ndevtags);
}

void rp_conf__free_list(struct rp_cidr_list *l)
{
	free(l->v);
	free(l->line);
	for (size_t i = 0; i < l->nnames; i++)
		free(l->names[i]);
	free(l->names);
	free(l->name_line);
	free(l->name_pos);
	memset(l, 0, sizeof(*l));
}

void rp_conf__clear_paths(struct rp_conf *c, const struct rp_conf_key *k)
{
	struct rp_path_list *l = FIELD(c, k, struct rp_path_list);

	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->line);
	memset(l, 0, sizeof(*l));
}

void rp_conf__clear_string(struct rp_conf *c, const struct rp_conf_key *k)
{
	char **s = FIELD(c, k, char *);

	free(*s);
	*s = NULL;
}

static void range_text(const struct rp_conf_key *k, int64_t v, char *buf, size_t len)
{
	if (k->type == RP_CT_DURATION)
		rp_format_duration(v, buf, len);
	else
		snprintf(buf, len, "%lld", (long long)v);
}

static int check_range(const struct rp_conf_key *k, int64_t v, const char *text, const char *where,
		       const char *name, struct rp_diags *d)
{
	char lo[32], hi[32];

	if (v >= k->min && v <= k->max)
		return 0;
	range_text(k, k->min, lo, sizeof(lo));
	range_text(k, k->max, hi, sizeof(hi));
	rp_diags_add(d, RP_DIAG_ERROR, where, name, "%s is out of range (%s..%s)", text, lo, hi);
	return -EINVAL;
}

static int set_enum(struct rp_conf *c, const struct rp_conf_key *k, const char *text,
		    const char *where, const char *name, struct rp_diags *d)
{
	char list[256] = "";
	size_t off = 0;
	const char *best = NULL;
	size_t bestd = 3;

	for (int i = 0; k->names[i]; i++) {
		size_t dist;

		if (strcasecmp(k->names[i], text) == 0) {
			*FIELD(c, k, int) = i;
			return 0;
		}
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
					k->names[i]);
		dist = rp_edit_distance(text, k->names[i], bestd);
		if (dist < bestd) {
			bestd = dist;
			best = k->names[i];
		}
	}
	if (best)
		rp_diags_add(d, RP_DIAG_ERROR, where, name,
			     "\"%s\" is not one of %s (did you mean \"%s\"?)", text, list, best);
	else
		rp_diags_add(d, RP_DIAG_ERROR, where, name, "\"%s\" is not one of %s", text, list);
	return -EINVAL;
}

/* One network of a list. Prefixes shorter than /8 are refused whatever the other
 * keys say: 16M+ addresses is a typo, never a fleet. */
static int add_cidr(struct rp_cidr_list *l, const char *path, bool names, const char *item,
		    const char *where, const char *name, uint32_t line, struct rp_diags *d)
{
	struct rp_cidr cidr;
	bool host_bits = false;
	char why[256], txt[RP_CIDR_STRLEN];

	if (rp_parse_cidr(item, &cidr, &host_bits, why, sizeof(why)) < 0) {
		if (names && rp_name_valid(item)) {
			l->names = rp_xrealloc(l->names, (l->nnames + 1) * sizeof(*l->names));
			rp_cidr_list_add_name(l, item, line);
			return 0;
		}
		if (!names && rp_name_valid(item))
			rp_diags_add(d, RP_DIAG_ERROR, where, name,
				     "\"%s\" is a name; %s takes addresses and CIDR ranges (give "
				     "devices by name in `devices`)",
				     item, path);
		else
			rp_diags_add(d, RP_DIAG_ERROR, where, name, "%s", why);
		return -EINVAL;
	}
	if (rp_cidr_host_bits(&cidr) > RP_CIDR_MAX_HOST_BITS) {
		if (rp_ip_is_v4(&cidr.net))
			rp_diags_add(d, RP_DIAG_ERROR, where, name,
				     "%s is larger than a /8 (%llu addresses); split it into /8 or "
				     "smaller networks",
				     item, (unsigned long long)rp_cidr_size(&cidr));
		else
			rp_diags_add(
			    d, RP_DIAG_ERROR, where, name,
			    "%s is larger than a /104 (2^%u addresses); split it into /104 "
			    "or smaller networks",
			    item, rp_cidr_host_bits(&cidr));
		return -EINVAL;
	}
	if (host_bits) {
		rp_format_cidr(&cidr, false, txt, sizeof(txt));
		rp_diags_add(d, RP_DIAG_NOTICE, where, name, "%s has host bits set; using %s", item,
			     txt);
	}
	l->v = rp_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->line = rp_xrealloc(l->line, (l->n + 1) * sizeof(*l->line));
	l->v[l->n] = cidr;
	l->line[l->n] = line;
	l->n++;
	return 0;
}

int rp_conf__add_cidrs(struct rp_cidr_list *l, const char *path, bool names, const char *text,
		       const char *where, const char *name, uint32_t line, struct rp_diags *d)
{
	char *copy = rp_xstrdup(text), *save = NULL, *tok;
	int ret = 0;

	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (add_cidr(l, path, names, tok, where, name, line, d) < 0)
			ret = -EINVAL;
	}
	free(copy);
	return ret;
}

/* `shard: I/N` or `auto/N`, whose I is the ordinal ending this host's name (a
 * StatefulSet pod's name, which Kubernetes makes its host name). The name is read
 * here, once per load, so a reload re-reads it; value.c stays free of system calls. */
static int set_shard(struct rp_conf *c, const struct rp_conf_key *k, const char *text,
		     const char *where, const char *name, struct rp_diags *d)
{
	struct rp_shard_sel sel;
	char why[512], host[256];

	if (rp_parse_shard(text, &sel, why, sizeof(why)) < 0) {
		rp_diags_add(d, RP_DIAG_ERROR, where, name, "%s", why);
		return -EINVAL;
	}
	if (sel.from_host) {
		if (gethostname(host, sizeof(host)) < 0) {
			rp_diags_add(d, RP_DIAG_ERROR, where, name, "auto/%u: host name: %s",
				     sel.count, strerror(errno));
			return -EINVAL;
		}
		host[sizeof(host) - 1] = '\0';
		if (rp_shard_from_host(&sel, host, why, sizeof(why)) < 0) {
			rp_diags_add(d, RP_DIAG_ERROR, where, name, "%s", why);
			return -EINVAL;
		}
	}
	*FIELD(c, k, struct rp_shard_sel) = sel;
	return 0;
}

/* Well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF): what YAML
 * can hold, so what `check-config` prints reads back. A flag or an environment variable
 * can carry any bytes; a string key refuses what a configuration file could not say. */
bool rp_conf__utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++, n, lo = 0x80, hi = 0xbf;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			lo = c == 0xe0 ? 0xa0 : 0x80;
			hi = c == 0xed ? 0x9f : 0xbf;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			lo = c == 0xf0 ? 0x90 : 0x80;
			hi = c == 0xf4 ? 0x8f : 0xbf;
		} else
			return false;
		if (*s < lo || *s > hi)
			return false;
		for (s++; --n; s++)
			if (*s < 0x80 || *s > 0xbf)
				return false;
	}
	return true;
}

/* Whether a string or file name value is UTF-8, as YAML (and so check-config's
 * printout) holds only text; an error if not. The value itself is not shown: it may be
 * a secret. */
static bool is_text(const char *text, const char *where, const char *name, struct rp_diags *d)
{
	if (rp_conf__utf8_valid((const unsigned char *)text))
		return true;
	rp_diags_add(d, RP_DIAG_ERROR, where, name,
		     "the value is not valid UTF-8 (a configuration holds text)");
	return false;
}

int rp_conf__set_text(struct rp_conf *c, const struct rp_conf_key *k, const char *text,
		      const char *where, const char *name, uint32_t line, struct rp_diags *d)
{
	char why[512];
	int64_t i64;
	double f;
	bool b;
	int ret = 0;

	switch (k->type) {
	case RP_CT_STRING:
	case RP_CT_SECRET:
	case RP_CT_SECRET_FILE:
		if (!is_text(text, where, name, d))
			return -EINVAL;
		free(*FIELD(c, k, char *));
		*FIELD(c, k, char *) = *text ? rp_xstrdup(text) : NULL;
		return 0;
	case RP_CT_DURATION:
	case RP_CT_INT:
	case RP_CT_SIZE:
		if (k->type == RP_CT_DURATION)
			ret = rp_parse_duration(text, &i64, why, sizeof(why));
		else if (k->type == RP_CT_INT)
			ret = rp_parse_int(text, &i64, why, sizeof(why));
		else
			ret = rp_parse_size(text, &i64, why, sizeof(why));
		if (ret < 0) {
			rp_diags_add(d, RP_DIAG_ERROR, where, name, "%s", why);
			return ret;
		}
		if ((ret = check_range(k, i64, text, where, name, d)) == 0)
			*FIELD(c, k, int64_t) = i64;
		return ret;
	case RP_CT_FLOAT:
		if (rp_parse_float(text, &f, why, sizeof(why)) < 0) {
			rp_diags_add(d, RP_DIAG_ERROR, where, name, "%s", why);
			return -EINVAL;
		}
		if (!(f > (double)k->min) || f > (double)k->max) {
			rp_diags_add(d, RP_DIAG_ERROR, where, name,
				     "%s is out of range (more than %lld, at most %lld)", text,
				     (long long)k->min, (long long)k->max);
			return -EINVAL;
		}
		*FIELD(c, k, double) = f;
		return 0;
	case RP_CT_BOOL:
		if (rp_parse_bool(text, &b, why, sizeof(why)) < 0) {
			rp_diags_add(d, RP_DIAG_ERROR, where, name, "%s", why);
			return -EINVAL;
		}
		*FIELD(c, k, bool) = b;
		return 0;
	case RP_CT_ENUM:
		return set_enum(c, k, text, where, name, d);
	case RP_CT_CIDRS:
		return rp_conf__add_cidrs(FIELD(c, k, struct rp_cidr_list), k->path,
					  strcmp(k->path, "devices") == 0, text, where, name, line,
					  d);
	case RP_CT_TAGS:
		return rp_conf__set_tags_text(FIELD(c, k, struct rp_tagset), text, where, name,
					      line, d);
	case RP_CT_GROUPS:
		rp_diags_add(d, RP_DIAG_ERROR, where, name,
			     "groups are set in the configuration file only (a list of mappings)");
		return -EINVAL;
	case RP_CT_SHARD:
		return set_shard(c, k, text, where, name, d);
	case RP_CT_PATHS: {
		struct rp_path_list *l = FIELD(c, k, struct rp_path_list);

		if (!*text) {
			rp_diags_add(d, RP_DIAG_ERROR, where, name, "an empty file name");
			return -EINVAL;
		}
		if (!is_text(text, where, name, d)) /* check-config prints the list too */
			return -EINVAL;
		l->v = rp_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->line = rp_xrealloc(l->line, (l->n + 1) * sizeof(*l->line));
		l->v[l->n] = rp_xstrdup(text);
		l->line[l->n++] = line;
		return 0;
	}
	case RP_CT_IGNORED:
		rp_diags_add(d, RP_DIAG_NOTICE, where, name, "ignored: %s", k->help);
		return 0;
	}
	return -EINVAL;
}

void rp_conf_init(struct rp_conf *c)
{
	struct rp_diags d;

	memset(c, 0, sizeof(*c));
	rp_diags_init(&d);
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);

		if (k->dflt)
			rp_conf__set_text(c, k, k->dflt, NULL, k->path, 0, &d);
	}
	/* A default that does not parse is a bug in keys.c, caught by every test run. */
	if (d.errors) {
		rp_diags_print(&d, stderr);
		abort();
	}
	rp_diags_fini(&d);
}

void rp_conf_fini(struct rp_conf *c)
{
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);

		if (k->type == RP_CT_STRING || k->type == RP_CT_SECRET ||
		    k->type == RP_CT_SECRET_FILE)
			rp_conf__clear_string(c, k);
		else if (k->type == RP_CT_CIDRS)
			rp_conf__clear_list(c, k);
		else if (k->type == RP_CT_PATHS)
			rp_conf__clear_paths(c, k);
	}
	rp_conf__files_fini(&c->files);
	rp_tagset_clear(&c->tags);
	rp_conf__free_groups(&c->groups);
	free(c->file);
	memset(c, 0, sizeof(*c));
}

bool rp_conf_is_set(const struct rp_conf *c, const struct rp_conf_key *k)
{
	return c->origin[rp_conf_key_index(k)] != 0;
}

const char *rp_conf__where(const struct rp_conf *c, const struct rp_conf_key *k, char *buf,
			   size_t len)
{
	int32_t o = c->origin[rp_conf_key_index(k)];
	char flag[64];

	if (o == RP_CONF_FROM_FLAG) {
		rp_conf_key_flag(k, flag, sizeof(flag));
		snprintf(buf, len, "--%s", flag);
		return buf;
	}
	if (o > 0 && c->file) {
		snprintf(buf, len, "%s:%d", c->file, o);
		return buf;
	}
	return NULL;
}

int rp_conf_set_flag(struct rp_conf *c, const struct rp_conf_key *k, const char *value,
		     struct rp_diags *d)
{
	size_t idx = rp_conf_key_index(k);
	char where[80];
	int ret;

	where[0] = '-';
	where[1] = '-';
	rp_conf_key_flag(k, where + 2, sizeof(where) - 2);
	if (!value) {
		if (k->type != RP_CT_BOOL) {
			rp_diags_add(d, RP_DIAG_ERROR, where, NULL, "needs a value");
			return -EINVAL;
		}
		value = "true";
	}
	/* The first flag for a list replaces the file's list; later ones add to it. */
	if (k->type == RP_CT_CIDRS && c->origin[idx] != RP_CONF_FROM_FLAG)
		rp_conf__clear_list(c, k);
	if (k->type == RP_CT_PATHS && c->origin[idx] != RP_CONF_FROM_FLAG)
		rp_conf__clear_paths(c, k);
	if (k->type == RP_CT_TAGS && c->origin[idx] != RP_CONF_FROM_FLAG)
		rp_tagset_clear(FIELD(c, k, struct rp_tagset));
	ret = rp_conf__set_text(c, k, value, where, NULL, 0, d);
	if (ret == 0)
		c->origin[idx] = RP_CONF_FROM_FLAG;
	return ret;
}

void rp_conf__unknown_key(struct rp_diags *d, const char *where, const char *path)
{
	const char *leaf = strrchr(path, '.');
	const char *best = NULL;
	size_t bestd, cap;

	leaf = leaf ? leaf + 1 : path;
	cap = strlen(leaf) / 3 + 2;
	bestd = cap;
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);
		const char *kleaf = strrchr(k->path, '.');
		size_t dist;

		kleaf = kleaf ? kleaf + 1 : k->path;
		dist = rp_edit_distance(path, k->path, bestd);
		if (dist < bestd) {
			bestd = dist;
			best = k->path;
		}
		/* The right name in the wrong section ("url" at the top level). */
		dist = rp_edit_distance(leaf, kleaf, bestd) + (strcmp(path, k->path) != 0);
		if (dist < bestd) {
			bestd = dist;
			best = k->path;
		}
	}
	if (best)
		rp_diags_add(d, RP_DIAG_ERROR, where, path, "unknown key (did you mean %s?)", best);
	else
		rp_diags_add(d, RP_DIAG_ERROR, where, path, "unknown key");
}
