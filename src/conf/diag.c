#include "ringprobe/diag.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/xalloc.h"

void rp_diags_init(struct rp_diags *d)
{
	memset(d, 0, sizeof(*d));
}

void rp_diags_fini(struct rp_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].where);
		free(d->v[i].key);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void rp_diags_add(struct rp_diags *d, enum rp_diag_level level, const char *where, const char *key,
		  const char *fmt, ...)
{
	struct rp_diag *e;
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->v = rp_xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	e = &d->v[d->n++];
	e->level = level;
	e->where = where ? rp_xstrdup(where) : NULL;
	e->key = key ? rp_xstrdup(key) : NULL;
	e->msg = rp_xstrdup(msg);
	if (level == RP_DIAG_ERROR)
		d->errors++;
	else
		d->notices++;
}

void rp_diag_format(const struct rp_diag *e, char *buf, size_t len)
{
	const char *lvl = e->level == RP_DIAG_ERROR ? "error" : "notice";

	snprintf(buf, len, "%s%s%s: %s%s%s", e->where ? e->where : "", e->where ? ": " : "", lvl,
		 e->key ? e->key : "", e->key ? ": " : "", e->msg);
}

void rp_diags_print(const struct rp_diags *d, FILE *out)
{
	char line[2048];

	for (size_t i = 0; i < d->n; i++) {
		rp_diag_format(&d->v[i], line, sizeof(line));
		fprintf(out, "%s%s\n", d->v[i].where ? "" : "ringprobe: ", line);
	}
}

/* How many bytes of a (counting repeats) are values that b has nowhere. No alignment
 * can match one, so each costs an edit: a lower bound of the distance. */
static size_t unmatched(const char *a, size_t la, const char *b, size_t lb)
{
	uint64_t has[4] = {0};
	size_t n = 0;

	for (size_t j = 0; j < lb; j++)
		has[(unsigned char)b[j] >> 6] |= UINT64_C(1) << ((unsigned char)b[j] & 63);
	for (size_t i = 0; i < la; i++)
		n += !(has[(unsigned char)a[i] >> 6] >> ((unsigned char)a[i] & 63) & 1);
	return n;
}

size_t rp_edit_distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	/* Too long for the table, or further apart in length than cap, or with more bytes
	 * one has and the other lacks than cap: at least cap. The last is what makes a
	 * command line of unknown garbage options cheap to refuse with suggestions. */
	if (la >= RP_ARRAY_SIZE(row) || lb >= RP_ARRAY_SIZE(row) ||
	    (la > lb ? la - lb : lb - la) >= cap || unmatched(a, la, b, lb) >= cap ||
	    unmatched(b, lb, a, la) >= cap)
		return cap;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], best;

		row[0] = i;
		best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t v = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
			if (v < best)
				best = v;
		}
		if (best >= cap)
			return cap;
	}
	return row[lb] < cap ? row[lb] : cap;
}
