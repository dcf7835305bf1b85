/* Prometheus file_sd documents (include/ringprobe/filesd.h). libyaml reads both
 * formats: a JSON document is a YAML flow sequence, and its node marks give every
 * target and label its line. */
#include "ringprobe/filesd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "ringprobe/xalloc.h"

struct parse {
	yaml_document_t *doc;
	const char *name;
	struct rp_diags *d;
	struct rp_filesd_doc *out;
	int errors;
};

static void where_of(const struct parse *p, const yaml_node_t *n, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%zu:%zu", p->name, n->start_mark.line + 1, n->start_mark.column + 1);
}

static void fail(struct parse *p, const yaml_node_t *n, const char *key, const char *fmt, ...)
    RP_PRINTF(4, 5);
static void fail(struct parse *p, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
	char where[512], msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	where_of(p, n, where, sizeof(where));
	rp_diags_add(p->d, RP_DIAG_ERROR, where, key, "%s", msg);
	p->errors++;
}

static const char *kind(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE    ? "a mapping"
	       : n->type == YAML_SEQUENCE_NODE ? "a list"
					       : "a scalar";
}

static bool is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0);
}

bool rp_filesd_host(const char *target, char *out, size_t cap)
{
	const char *colon = strchr(target, ':'), *end;
	size_t n;

	if (target[0] == '[') {
		end = strchr(target, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		target++;
	} else if (colon && !strchr(colon + 1, ':')) {
		end = colon; /* host:port; two colons or more is an IPv6 address */
	} else {
		end = target + strlen(target);
	}
	n = (size_t)(end - target);
	if (n >= cap)
		return false;
	memcpy(out, target, n);
	out[n] = '\0';
	return true;
}

static void add_target(struct parse *p, const yaml_node_t *n, uint32_t group)
{
	const char *text = (const char *)n->data.scalar.value;
	struct rp_filesd_doc *o = p->out;
	char host[256], why[256];
	struct rp_cidr c;
	bool host_bits;

	if (n->type != YAML_SCALAR_NODE) {
		fail(p, n, "targets", "a target must be a string, not %s", kind(n));
		return;
	}
	if (!rp_filesd_host(text, host, sizeof(host)) || !host[0]) {
		fail(p, n, "targets", "\"%s\" is not an address, network or host name", text);
		return;
	}
	if (rp_parse_cidr(host, &c, &host_bits, why, sizeof(why)) < 0) {
		if (!rp_name_valid(host)) {
			fail(p, n, "targets", "\"%s\": %s", text, why);
			return;
		}
	} else if (rp_cidr_host_bits(&c) > RP_CIDR_MAX_HOST_BITS) {
		fail(p, n, "targets", "%s is larger than a /8 or /104; split it", host);
		return;
	}
	o->targets = rp_xrealloc(o->targets, (o->ntargets + 1) * sizeof(*o->targets));
	o->targets[o->ntargets++] = (struct rp_filesd_target){
	    .text = rp_xstrdup(host), .line = (uint32_t)n->start_mark.line + 1, .group = group};
}

static bool label_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static void read_labels(struct parse *p, const yaml_node_t *m, struct rp_filesd_labels *l)
{
	for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top;
	     q++) {
		yaml_node_t *kn = yaml_document_get_node(p->doc, q->key);
		yaml_node_t *vn = yaml_document_get_node(p->doc, q->value);
		const char *name = (const char *)kn->data.scalar.value, *value;
		bool dup = false;

		if (kn->type != YAML_SCALAR_NODE) {
			fail(p, kn, "labels", "a label name must be a string, not %s", kind(kn));
			continue;
		}
		if (!label_name_ok(name) || strlen(name) > RP_FILESD_LABEL_NAME_MAX) {
			fail(p, kn, "labels",
			     "label name \"%s\" is not a valid tag name (a letter or _, then "
			     "letters, digits or _, at most 64 bytes)",
			     name);
			continue;
		}
		if (strcmp(name, "ip") == 0 || strcmp(name, "name") == 0 ||
		    strcmp(name, "shard") == 0) {
			fail(p, kn, "labels",
			     "label \"%s\" is reserved: ringprobe writes that tag itself", name);
			continue;
		}
		if (vn->type != YAML_SCALAR_NODE || is_null(vn)) {
			fail(p, vn, "labels", "label \"%s\" needs a string value", name);
			continue;
		}
		value = (const char *)vn->data.scalar.value;
		if (strlen(value) > RP_FILESD_LABEL_VALUE_MAX || has_control(value)) {
			fail(p, vn, "labels",
			     "the value of label \"%s\" is longer than %d bytes or holds a "
			     "control character",
			     name, RP_FILESD_LABEL_VALUE_MAX);
			continue;
		}
		for (size_t i = 0; i < l->n && !dup; i++)
			dup = strcmp(l->v[i].name, name) == 0;
		if (dup) {
			fail(p, kn, "labels", "label \"%s\" is given twice", name);
			continue;
		}
		if (name[0] == '_' && name[1] == '_')
			continue; /* Prometheus's own (__meta_*, __address__ ...) */
		l->v = rp_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = (struct rp_filesd_label){rp_xstrdup(name), rp_xstrdup(value)};
	}
}

static void read_group(struct parse *p, const yaml_node_t *g)
{
	struct rp_filesd_doc *o = p->out;
	const yaml_node_t *targets = NULL, *labels = NULL;
	uint32_t gi = (uint32_t)o->ngroups;

	if (g->type != YAML_MAPPING_NODE) {
		fail(p, g, NULL,
		     "each entry must be a mapping {targets: [...], labels: {...}}, not %s",
		     kind(g));
		return;
	}
	for (yaml_node_pair_t *q = g->data.mapping.pairs.start; q < g->data.mapping.pairs.top;
	     q++) {
		yaml_node_t *kn = yaml_document_get_node(p->doc, q->key);
		yaml_node_t *vn = yaml_document_get_node(p->doc, q->value);
		const char *key = (const char *)kn->data.scalar.value;
		const yaml_node_t **slot = NULL;

		if (kn->type == YAML_SCALAR_NODE && strcmp(key, "targets") == 0)
			slot = &targets;
		else if (kn->type == YAML_SCALAR_NODE && strcmp(key, "labels") == 0)
			slot = &labels;
		if (!slot) {
			fail(p, kn, NULL, "unknown key \"%s\" (an entry has targets and labels)",
			     kn->type == YAML_SCALAR_NODE ? key : kind(kn));
			continue;
		}
		if (*slot) {
			fail(p, kn, key, "%s is given twice in this entry", key);
			continue;
		}
		*slot = vn;
	}
	o->groups = rp_xrealloc(o->groups, (o->ngroups + 1) * sizeof(*o->groups));
	o->groups[o->ngroups++] = (struct rp_filesd_labels){0};
	if (labels && labels->type == YAML_MAPPING_NODE)
		read_labels(p, labels, &o->groups[gi]);
	else if (labels && !is_null(labels))
		fail(p, labels, "labels", "labels must be a mapping of name: value, not %s",
		     kind(labels));
	if (!targets) {
		fail(p, g, "targets", "%s", "this entry has no targets list");
		return;
	}
	if (targets->type != YAML_SEQUENCE_NODE) {
		if (!is_null(targets))
			fail(p, targets, "targets", "targets must be a list, not %s",
			     kind(targets));
		return;
	}
	for (yaml_node_item_t *i = targets->data.sequence.items.start;
	     i < targets->data.sequence.items.top; i++)
		add_target(p, yaml_document_get_node(p->doc, *i), gi);
}

int rp_filesd_parse(const char *name, const char *text, size_t len, struct rp_filesd_doc *out,
		    struct rp_diags *d)
{
	struct parse p = {.name = name, .d = d, .out = out};
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;

	memset(out, 0, sizeof(*out));
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		char where[512];

		snprintf(where, sizeof(where), "%s:%zu:%zu", name, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1);
		rp_diags_add(d, RP_DIAG_ERROR, where, NULL, "invalid JSON or YAML: %s%s%s",
			     parser.problem ? parser.problem : "cannot parse",
			     parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	p.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root && root->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = root->data.sequence.items.start;
		     i < root->data.sequence.items.top; i++)
			read_group(&p, yaml_document_get_node(&doc, *i));
	} else if (root && !is_null(root)) {
		fail(&p, root, NULL,
		     "a device file is a list of {targets: [...], labels: {...}}, not %s",
		     kind(root));
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (p.errors) {
		rp_filesd_free(out);
		return -EINVAL;
	}
	return 0;
}

int rp_filesd_load(const char *path, struct rp_filesd_doc *out, struct rp_diags *d)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!f) {
		ret = -errno;
		rp_diags_add(d, RP_DIAG_ERROR, path, NULL, "cannot open device file: %s",
			     strerror(-ret));
		return ret;
	}
	buf = rp_xread_all(f, &len);
	if (!buf) {
		rp_diags_add(d, RP_DIAG_ERROR, path, NULL, "cannot read device file: %s",
			     strerror(EIO));
		ret = -EIO;
	} else {
		ret = rp_filesd_parse(path, buf, len, out, d);
	}
	free(buf);
	fclose(f);
	return ret;
}

void rp_filesd_free(struct rp_filesd_doc *doc)
{
	for (size_t i = 0; i < doc->ntargets; i++)
		free(doc->targets[i].text);
	for (size_t i = 0; i < doc->ngroups; i++) {
		for (size_t k = 0; k < doc->groups[i].n; k++) {
			free(doc->groups[i].v[k].name);
			free(doc->groups[i].v[k].value);
		}
		free(doc->groups[i].v);
	}
	free(doc->targets);
	free(doc->groups);
	memset(doc, 0, sizeof(*doc));
}
