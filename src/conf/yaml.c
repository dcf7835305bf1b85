/* The YAML reader. libyaml's document API keeps every node's line and column, so
 * the whole file is checked in one pass and every problem is reported with its
 * position (libcyaml stops at the first error and points at the enclosing mapping). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "conf/yaml_int.h"
#include "ringprobe/xalloc.h"

#define where_of rp_conf__where_of
#define node_kind rp_conf__node_kind
#define is_null rp_conf__is_null

void rp_conf__where_of(const struct rp_conf__reader *r, yaml_mark_t m, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%zu:%zu", r->name, m.line + 1, m.column + 1);
}

const char *rp_conf__node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a value";
	}
}

static const char *type_name(enum rp_conf_type t)
{
	switch (t) {
	case RP_CT_DURATION:
		return "a duration such as 30s";
	case RP_CT_INT:
		return "an integer";
	case RP_CT_FLOAT:
		return "a number";
	case RP_CT_BOOL:
		return "true or false";
	case RP_CT_SIZE:
		return "a size such as 1GiB";
	case RP_CT_SHARD:
		return "I/N or auto/N";
	case RP_CT_CIDRS:
		return "a list of addresses or CIDRs";
	case RP_CT_PATHS:
		return "a list of file names or patterns";
	default:
		return "a string";
	}
}

bool rp_conf__is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	       strcmp(v, "NULL") == 0;
}

/* Expands ${VAR} in a scalar; NULL (with the error added) when that fails. The error
 * names the key and position only: the value may be a secret or a URL with user-info. */
static char *scalar_text(struct rp_conf__reader *r, const struct rp_conf_key *k,
			 const yaml_node_t *n, const char *name)
{
	char why[512], where[256];
	const char *raw = (const char *)n->data.scalar.value;
	char *s;

	if (strlen(raw) != n->data.scalar.length) {
		where_of(r, n->start_mark, where, sizeof(where));
		rp_diags_add(r->d, RP_DIAG_ERROR, where, name, "contains a NUL character");
		return NULL;
	}
	s = rp_expand_env(raw, k && rp_conf__hides_value(k), why, sizeof(why));
	if (!s) {
		where_of(r, n->start_mark, where, sizeof(where));
		rp_diags_add(r->d, RP_DIAG_ERROR, where, name, "%s", why);
	}
	return s;
}

char *rp_conf__scalar(struct rp_conf__reader *r, const yaml_node_t *n, const char *name)
{
	return scalar_text(r, NULL, n, name);
}

static void set_scalar(struct rp_conf__reader *r, const struct rp_conf_key *k, const yaml_node_t *n,
		       const char *name)
{
	char where[256];
	char *text = scalar_text(r, k, n, name);

	if (!text)
		return;
	where_of(r, n->start_mark, where, sizeof(where));
	rp_conf__set_text(r->c, k, text, where, name, (uint32_t)n->start_mark.line + 1, r->d);
	free(text);
}

static void read_list(struct rp_conf__reader *r, const struct rp_conf_key *k, const yaml_node_t *v)
{
	size_t i = 0;

	if (k->type == RP_CT_PATHS)
		rp_conf__clear_paths(r->c, k);
	else
		rp_conf__clear_list(r->c, k);
	if (v->type == YAML_SCALAR_NODE) {
		if (!is_null(v))
			set_scalar(r, k, v, k->path);
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++, i++) {
		yaml_node_t *item = yaml_document_get_node(r->doc, *it);
		char name[96], where[256];

		snprintf(name, sizeof(name), "%s[%zu]", k->path, i);
		if (item->type == YAML_MAPPING_NODE && strcmp(k->path, "devices") == 0) {
			rp_conf__read_device_map(r, &r->c->devices, &r->c->devtags, &r->c->ndevtags,
						 item, name);
			continue;
		}
		if (item->type != YAML_SCALAR_NODE) {
			where_of(r, item->start_mark, where, sizeof(where));
			rp_diags_add(r->d, RP_DIAG_ERROR, where, name, "expected %s, got %s",
				     k->type == RP_CT_PATHS ? "a file name or pattern"
							    : "an address or CIDR",
				     node_kind(item));
			continue;
		}
		set_scalar(r, k, item, name);
	}
}

static void read_value(struct rp_conf__reader *r, const struct rp_conf_key *k, const yaml_node_t *v,
		       const char *name)
{
	char where[256];

	where_of(r, v->start_mark, where, sizeof(where));
	if (k->type == RP_CT_IGNORED) {
		rp_diags_add(r->d, RP_DIAG_NOTICE, where, k->path, "ignored: %s", k->help);
		return;
	}
	if (k->type == RP_CT_TAGS) {
		rp_conf__read_tags(r, &r->c->tags, v, k->path);
		return;
	}
	if (k->type == RP_CT_GROUPS) {
		rp_conf__read_groups(r, v);
		return;
	}
	if (k->type == RP_CT_CIDRS || k->type == RP_CT_PATHS) {

		if (v->type == YAML_MAPPING_NODE)
			rp_diags_add(r->d, RP_DIAG_ERROR, where, k->path, "expected %s, got %s",
				     type_name(k->type), node_kind(v));
		else
			read_list(r, k, v);
		return;
	}
	if (v->type != YAML_SCALAR_NODE) {
		rp_diags_add(r->d, RP_DIAG_ERROR, where, name, "expected %s, got %s",
			     type_name(k->type), node_kind(v));
		return;
	}
	if (is_null(v)) {
		if (k->type == RP_CT_STRING || k->type == RP_CT_SECRET ||
		    k->type == RP_CT_SECRET_FILE)
			rp_conf__clear_string(r->c, k);
		else
			rp_diags_add(r->d, RP_DIAG_ERROR, where, name, "needs a value (%s)",
				     type_name(k->type));
		return;
	}
	set_scalar(r, k, v, name);
}

void rp_conf__read_section(struct rp_conf__reader *r, const yaml_node_t *map, const char *prefix)
{
	yaml_node_pair_t *start = map->data.mapping.pairs.start;

	for (yaml_node_pair_t *p = start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(r->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(r->doc, p->value);
		const struct rp_conf_key *k;
		char path[160], shown[256], where[256];
		const char *key;
		bool dup = false;

		where_of(r, kn->start_mark, where, sizeof(where));
		if (kn->type != YAML_SCALAR_NODE) {
			rp_diags_add(r->d, RP_DIAG_ERROR, where, NULL,
				     "a key must be a plain name, not %s", node_kind(kn));
			continue;
		}
		key = (const char *)kn->data.scalar.value;
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", key);
		snprintf(shown, sizeof(shown), "%s%s", r->shown ? r->shown : "", path);
		for (yaml_node_pair_t *q = start; q < p; q++) {
			yaml_node_t *prev = yaml_document_get_node(r->doc, q->key);

			if (prev->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)prev->data.scalar.value, key) == 0) {
				rp_diags_add(r->d, RP_DIAG_ERROR, where, shown,
					     "duplicate key (first set at line %zu)",
					     prev->start_mark.line + 1);
				dup = true;
				break;
			}
		}
		if (dup)
			continue;
		if (rp_conf__is_section(path)) {
			if (vn->type == YAML_MAPPING_NODE)
				rp_conf__read_section(r, vn, path);
			else if (vn->type != YAML_SCALAR_NODE || !is_null(vn))
				rp_diags_add(r->d, RP_DIAG_ERROR, where, shown,
					     "expected a mapping of %s.* keys, got %s", shown,
					     node_kind(vn));
			continue;
		}
		k = rp_conf_key_find(path);
		if (!k) {
			rp_conf__unknown_key(r->d, where, shown);
			continue;
		}
		read_value(r, k, vn, shown);
		r->c->origin[rp_conf_key_index(k)] = (int32_t)kn->start_mark.line + 1;
	}
}

/* libyaml's message, or a plainer one for the mistakes people make most. */
static void syntax_error(struct rp_conf__reader *r, const yaml_parser_t *p)
{
	const yaml_mark_t m = p->problem_mark;
	size_t line_start = m.index, i;
	char where[256];

	while (line_start > 0 && line_start <= r->len && r->text[line_start - 1] != '\n')
		line_start--;
	where_of(r, m, where, sizeof(where));
	for (i = line_start; i < r->len && (r->text[i] == ' ' || r->text[i] == '\t'); i++) {
		if (r->text[i] == '\t') {
			snprintf(where, sizeof(where), "%s:%zu:%zu", r->name, m.line + 1,
				 i - line_start + 1);
			rp_diags_add(r->d, RP_DIAG_ERROR, where, NULL,
				     "tab character in indentation; YAML indents with spaces only");
			return;
		}
	}
	if (p->context)
		rp_diags_add(r->d, RP_DIAG_ERROR, where, NULL, "invalid YAML: %s %s", p->problem,
			     p->context);
	else
		rp_diags_add(r->d, RP_DIAG_ERROR, where, NULL, "invalid YAML: %s",
			     p->problem ? p->problem : "cannot parse");
}

int rp_conf_load_buffer(struct rp_conf *c, const char *name, const char *text, size_t len,
			struct rp_diags *d)
{
	struct rp_conf__reader r = {.c = c, .name = name, .text = text, .len = len, .d = d};
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root;
	int ret = 0;

	free(c->file);
	c->file = rp_xstrdup(name);
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(&r, &parser);
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	r.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root && root->type == YAML_MAPPING_NODE) {
		rp_conf__read_section(&r, root, "");
	} else if (root && !(root->type == YAML_SCALAR_NODE && is_null(root))) {
		char where[256];

		where_of(&r, root->start_mark, where, sizeof(where));
		rp_diags_add(d, RP_DIAG_ERROR, where, NULL,
			     "the file must be a mapping of keys (key: value), not %s",
			     node_kind(root));
		ret = -EINVAL;
	}
	/* One document per file: a second one would be silently ignored otherwise. */
	if (!yaml_parser_load(&parser, &extra)) {
		syntax_error(&r, &parser);
		ret = -EINVAL;
	} else {
		if (yaml_document_get_root_node(&extra)) {
			char where[256];

			where_of(&r, extra.start_mark, where, sizeof(where));
			rp_diags_add(d, RP_DIAG_ERROR, where, NULL,
				     "a second YAML document starts here; ringprobe reads one "
				     "document per file (remove the \"---\" line)");
			ret = -EINVAL;
		}
		yaml_document_delete(&extra);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return ret;
}

int rp_conf_load_file(struct rp_conf *c, const char *path, struct rp_diags *d)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if (!f) {
		ret = -errno;
		rp_diags_add(d, RP_DIAG_ERROR, path, NULL, "cannot open: %s", strerror(-ret));
		return ret;
	}
	buf = rp_xread_all(f, &len);
	if (!buf) {
		ret = -EIO;
		rp_diags_add(d, RP_DIAG_ERROR, path, NULL, "cannot read: %s", strerror(EIO));
		goto out;
	}
	ret = rp_conf_load_buffer(c, path, buf, len, d);
out:
	free(buf);
	fclose(f);
	return ret;
}
