#include "ringprobe/targets.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/xalloc.h"

int rp_targets_add_entry(struct rp_cidr_list *out, const char *text, const char *where,
			 uint32_t line, struct rp_diags *d)
{
	struct rp_cidr c;
	bool host_bits;
	char why[256];

	if (rp_parse_cidr(text, &c, &host_bits, why, sizeof(why)) < 0) {
		if (rp_name_valid(text)) {
			rp_cidr_list_add_name(out, text, line);
			return 0;
		}
		rp_diags_add(d, RP_DIAG_ERROR, where, NULL, "%s", why);
		return -EINVAL;
	}
	if (rp_cidr_host_bits(&c) > RP_CIDR_MAX_HOST_BITS) {
		rp_diags_add(d, RP_DIAG_ERROR, where, NULL,
			     "%s is larger than a %s; split it into smaller networks", text,
			     rp_ip_is_v4(&c.net) ? "/8" : "/104");
		return -EINVAL;
	}
	out->v = rp_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
	out->line = rp_xrealloc(out->line, (out->n + 1) * sizeof(*out->line));
	out->v[out->n] = c;
	out->line[out->n] = line;
	out->n++;
	return 0;
}

static int add_file(struct rp_cidr_list *out, const char *path, struct rp_diags *d)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint32_t lineno = 0;
	int ret = 0;

	if (!f) {
		ret = -errno;
		rp_diags_add(d, RP_DIAG_ERROR, path, NULL, "cannot open target file: %s",
			     strerror(-ret));
		return ret;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *p = line, *end, where[512];

		lineno++;
		if ((end = strchr(p, '#')))
			*end = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p &&
		       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
			*--end = '\0';
		if (!*p)
			continue;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (rp_targets_add_entry(out, p, where, lineno, d) < 0)
			ret = -EINVAL;
	}
	free(line);
	fclose(f);
	return ret;
}

int rp_targets_add_arg(struct rp_cidr_list *out, const char *arg, struct rp_diags *d)
{
	if (arg[0] == '@')
		return add_file(out, arg + 1, d);
	return rp_targets_add_entry(out, arg, arg, 0, d);
}

uint64_t rp_targets_count(const struct rp_cidr_list *l)
{
	uint64_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += rp_cidr_size(&l->v[i]);
	return n;
}

void rp_targets_free(struct rp_cidr_list *l)
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
