/* The effective configuration as YAML that ringprobe itself reads back: defaults,
 * file and flags merged, secrets masked, each non-default value annotated with
 * where it came from. */
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"
#include "ringprobe/xalloc.h"

#define FIELD(c, k, type) ((const type *)(const void *)((const char *)(c) + (k)->offset))

void rp_conf__put_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	for (; p && *p; p++) {
		if (*p == '"' || *p == '\\') {
			fprintf(out, "\\%c", *p);
		} else if (*p == '$' && p[1] == '{') { /* a literal "${" reads back as one */
			fputs("$$", out);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\x%02x", *p);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			/* C1 controls: libyaml refuses them raw even inside quotes, and NEL
			 * (U+0085) is a line break it folds into a space */
			fprintf(out, "\\x%02x", p[1]);
			p++;
		} else if (*p == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
			fputs(p[2] == 0xa8 ? "\\u2028" : "\\u2029", out); /* line breaks too */
			p += 2;
		} else if (*p == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf)) {
			fputs(p[2] == 0xbe ? "\\uFFFE" : "\\uFFFF", out); /* noncharacters, too */
			p += 2;
		} else {
			fputc(*p, out);
		}
	}
	fputc('"', out);
}

void rp_conf__put_target(FILE *out, const char *a)
{
	size_t n = strlen(a);

	fprintf(out, n && a[n - 1] == ':' ? "\"%s\"" : "%s", a);
}

/* The tags of `devices` entries given as mappings: the entry again, with its tags
 * (a later entry of the same address reads back as the same device). */
static void put_devtags(const struct rp_conf *c, FILE *out, int indent)
{
	char buf[RP_CIDR_STRLEN];

	/* device files' targets are not keys: their patterns are printed */
	size_t n = c->files.n ? c->files.own_devtags : c->ndevtags;

	for (size_t i = 0; i < n; i++) {
		const struct rp_devtags *t = &c->devtags[i];

		if (!t->is_name)
			rp_format_cidr(&c->devices.v[t->index], true, buf, sizeof(buf));
		fprintf(out, "\n%*s- address: ", indent + 2, "");
		rp_conf__put_target(out, t->is_name ? c->devices.names[t->index] : buf);
		fprintf(out, "\n%*stags:", indent + 4, "");
		rp_conf__print_tags(&t->tags, out, indent + 4);
	}
}

static void put_value(const struct rp_conf *c, const struct rp_conf_key *k, FILE *out, int indent)
{
	char buf[64];

	switch (k->type) {
	case RP_CT_STRING:
	case RP_CT_SECRET_FILE: /* the path, not the secret */
		if (rp_conf__hides_value(k)) {
			const char *v = *FIELD(c, k, char *);
			/* Redaction only takes bytes away: the whole URL fits, never cut. */
			size_t n = v ? strlen(v) + 1 : 1;
			char *url = rp_xmalloc(n);

			rp_url_redact(v, url, n);
			rp_conf__put_string(out, url);
			free(url);
		} else {
			rp_conf__put_string(out, *FIELD(c, k, char *));
		}
		break;
	case RP_CT_SECRET:
		rp_conf__put_string(out, *FIELD(c, k, char *) ? "********" : "");
		break;
	case RP_CT_DURATION:
		rp_format_duration(*FIELD(c, k, int64_t), buf, sizeof(buf));
		fputs(buf, out);
		break;
	case RP_CT_INT:
		fprintf(out, "%lld", (long long)*FIELD(c, k, int64_t));
		break;
	case RP_CT_SIZE:
		rp_format_size(*FIELD(c, k, int64_t), buf, sizeof(buf));
		fputs(buf, out);
		break;
	case RP_CT_FLOAT:
		fprintf(out, "%.15g", *FIELD(c, k, double));
		break;
	case RP_CT_BOOL:
		fputs(*FIELD(c, k, bool) ? "true" : "false", out);
		break;
	case RP_CT_ENUM:
		rp_conf__put_string(out, k->names[*FIELD(c, k, int)]);
		break;
	case RP_CT_SHARD: {
		const struct rp_shard_sel *s = FIELD(c, k, struct rp_shard_sel);

		if (s->from_host)
			fprintf(out, "\"auto/%u\"  # %u/%u from the host name", s->count, s->index,
				s->count);
		else
			fprintf(out, "\"%u/%u\"", s->index, s->count);
		break;
	}
	case RP_CT_CIDRS: {
		const struct rp_cidr_list *l = FIELD(c, k, struct rp_cidr_list);
		size_t n = l->n, nnames = l->nnames;
		bool tagged;

		if (l == &c->devices && c->files.n) { /* device_files' own are not keys */
			n = c->files.own;
			nnames = c->files.own_names;
		}
		if (n + nnames == 0)
			fputs("[]", out);
		tagged = strcmp(k->path, "devices") == 0;
		for (size_t i = 0; i < n; i++) {
			if (tagged && rp_devtags_find(c->devtags, c->ndevtags, i, false))
				continue;
			rp_format_cidr(&l->v[i], true, buf, sizeof(buf));
			fprintf(out, "\n%*s- ", indent + 2, "");
			rp_conf__put_target(out, buf);
		}
		/* Names are checked at load (rp_name_valid): plain YAML scalars. */
		for (size_t i = 0; i < nnames; i++)
			if (!tagged || !rp_devtags_find(c->devtags, c->ndevtags, i, true))
				fprintf(out, "\n%*s- %s", indent + 2, "", l->names[i]);
		if (tagged)
			put_devtags(c, out, indent);
		break;
	}
	case RP_CT_PATHS: {
		const struct rp_path_list *l = FIELD(c, k, struct rp_path_list);

		if (l->n == 0)
			fputs("[]", out);
		for (size_t i = 0; i < l->n; i++) {
			fprintf(out, "\n%*s- ", indent + 2, "");
			rp_conf__put_string(out, l->v[i]);
		}
		break;
	}
	case RP_CT_TAGS:
		rp_conf__print_tags(FIELD(c, k, struct rp_tagset), out, indent);
		break;
	case RP_CT_GROUPS:
	case RP_CT_IGNORED:
		break;
	}
}

static void put_origin(const struct rp_conf *c, const struct rp_conf_key *k, FILE *out)
{
	int32_t o = c->origin[rp_conf_key_index(k)];
	char flag[64];

	if (o == RP_CONF_FROM_FLAG) {
		rp_conf_key_flag(k, flag, sizeof(flag));
		fprintf(out, "  # --%s", flag);
	} else if (o > 0) {
		fprintf(out, "  # %s:%d", c->file ? c->file : "", o);
	}
}

/* Prints the keys directly under `section` ("" = top level), then its subsections. */
static void put_section(const struct rp_conf *c, const char *section, FILE *out, int indent)
{
	size_t plen = strlen(section);
	static const char *const subsections[] = {"snmp",
						  "snmp.v3",
						  "influxdb",
						  "prometheus_remote_write",
						  "prometheus_remote_write.basic_auth",
						  "log",
						  "spool",
						  "dns",
						  "output",
						  "state",
						  "prometheus"};

	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);
		const char *leaf = k->path + (plen ? plen + 1 : 0);

		if (k->type == RP_CT_IGNORED || strncmp(k->path, section, plen) != 0 ||
		    (plen && k->path[plen] != '.') || strchr(leaf, '.'))
			continue;
		fprintf(out, "%*s%s:", indent, "", leaf);
		if (k->type == RP_CT_GROUPS) {
			put_origin(c, k, out);
			rp_conf__print_groups(c, out);
			continue;
		}
		bool list =
		    (k->type == RP_CT_CIDRS && (FIELD(c, k, struct rp_cidr_list)->n ||
						FIELD(c, k, struct rp_cidr_list)->nnames)) ||
		    (k->type == RP_CT_TAGS && FIELD(c, k, struct rp_tagset)->n) ||
		    (k->type == RP_CT_PATHS && FIELD(c, k, struct rp_path_list)->n);

		if (!list)
			fputc(' ', out);
		if (list)
			put_origin(c, k, out);
		put_value(c, k, out, indent);
		if (!list)
			put_origin(c, k, out);
		fputc('\n', out);
	}
	for (size_t i = 0; i < RP_ARRAY_SIZE(subsections); i++) {
		const char *s = subsections[i];

		if (strncmp(s, section, plen) != 0 || (plen && s[plen] != '.') ||
		    strchr(s + (plen ? plen + 1 : 0), '.'))
			continue;
		fprintf(out, "%*s%s:\n", indent, "", s + (plen ? plen + 1 : 0));
		put_section(c, s, out, indent + 2);
	}
}

/* The keys of section `section` a group's block set, then its v3 ones. */
static void put_set_keys(const struct rp_conf *gs, const char *section, FILE *out, int indent)
{
	size_t plen = strlen(section);

	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);

		if (strncmp(k->path, section, plen) != 0 || k->path[plen] != '.' ||
		    strchr(k->path + plen + 1, '.') || !rp_conf_is_set(gs, k))
			continue;
		fprintf(out, "%*s%s: ", indent, "", k->path + plen + 1);
		put_value(gs, k, out, indent);
		put_origin(gs, k, out);
		fputc('\n', out);
	}
}

void rp_conf__print_group_snmp(const struct rp_conf *gs, FILE *out, int indent)
{
	bool v3 = false, any = false;

	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);

		if (strncmp(k->path, "snmp.", 5) != 0 || !rp_conf_is_set(gs, k))
			continue;
		any = true;
		v3 = v3 || strncmp(k->path, "snmp.v3.", 8) == 0;
	}
	if (!any) { /* `snmp: {}`: a block of its own all the same */
		fprintf(out, "%*ssnmp: {}\n", indent, "");
		return;
	}
	fprintf(out, "%*ssnmp:\n", indent, "");
	put_set_keys(gs, "snmp", out, indent + 2);
	if (!v3)
		return;
	fprintf(out, "%*sv3:\n", indent + 2, "");
	put_set_keys(gs, "snmp.v3", out, indent + 4);
}

void rp_conf_print(const struct rp_conf *c, FILE *out)
{
	fprintf(out,
		"# effective configuration%s%s (defaults, file and flags merged; secrets "
		"masked)\n",
		c->file ? " from " : "", c->file ? c->file : "");
	put_section(c, "", out, 0);
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

bool rp_conf_key_equal(const struct rp_conf *a, const struct rp_conf *b,
		       const struct rp_conf_key *k)
{
	switch (k->type) {
	case RP_CT_STRING:
	case RP_CT_SECRET:
	case RP_CT_SECRET_FILE:
		return str_eq(*FIELD(a, k, char *), *FIELD(b, k, char *));
	case RP_CT_DURATION:
	case RP_CT_INT:
	case RP_CT_SIZE:
		return *FIELD(a, k, int64_t) == *FIELD(b, k, int64_t);
	case RP_CT_FLOAT:
		return *FIELD(a, k, double) == *FIELD(b, k, double);
	case RP_CT_BOOL:
		return *FIELD(a, k, bool) == *FIELD(b, k, bool);
	case RP_CT_ENUM:
		return *FIELD(a, k, int) == *FIELD(b, k, int);
	case RP_CT_SHARD: {
		const struct rp_shard_sel *x = FIELD(a, k, struct rp_shard_sel);
		const struct rp_shard_sel *y = FIELD(b, k, struct rp_shard_sel);

		return x->index == y->index && x->count == y->count && x->from_host == y->from_host;
	}
	case RP_CT_CIDRS: {
		const struct rp_cidr_list *x = FIELD(a, k, struct rp_cidr_list);
		const struct rp_cidr_list *y = FIELD(b, k, struct rp_cidr_list);

		if (x->n != y->n || x->nnames != y->nnames)
			return false;
		for (size_t i = 0; i < x->n; i++)
			if (!rp_ip_eq(&x->v[i].net, &y->v[i].net) ||
			    x->v[i].prefix != y->v[i].prefix)
				return false;
		for (size_t i = 0; i < x->nnames; i++)
			if (strcmp(x->names[i], y->names[i]) != 0)
				return false;
		return true;
	}
	case RP_CT_PATHS: {
		const struct rp_path_list *x = FIELD(a, k, struct rp_path_list);
		const struct rp_path_list *y = FIELD(b, k, struct rp_path_list);

		if (x->n != y->n)
			return false;
		for (size_t i = 0; i < x->n; i++)
			if (strcmp(x->v[i], y->v[i]) != 0)
				return false;
		return true;
	}
	case RP_CT_TAGS:
		return rp_conf__tags_equal(FIELD(a, k, struct rp_tagset),
					   FIELD(b, k, struct rp_tagset));
	case RP_CT_GROUPS:
		return rp_conf__groups_equal(FIELD(a, k, struct rp_conf_groups),
					     FIELD(b, k, struct rp_conf_groups));
	case RP_CT_IGNORED:
		return true;
	}
	return true;
}
