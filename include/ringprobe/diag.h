/* Diagnostics gathered while reading input (config files, flags, target lists),
 * so that every problem is reported at once instead of stopping at the first. */
#ifndef RP_DIAG_H
#define RP_DIAG_H

#include <stddef.h>
#include <stdio.h>

#include "ringprobe/compiler.h"

enum rp_diag_level { RP_DIAG_ERROR, RP_DIAG_NOTICE };

/** One problem: where (file:line:col, or a flag), which key, and what. */
struct rp_diag {
	enum rp_diag_level level;
	char *where; /* "config.yml:12:3", "--ping-interval", "targets.txt:4" or NULL */
	char *key;   /* "influxdb.url", "networks[2]" or NULL */
	char *msg;
};

struct rp_diags {
	struct rp_diag *v;
	size_t n, cap;
	size_t errors;
	size_t notices;
};

/** Empty list. */
void rp_diags_init(struct rp_diags *d);
/** Frees every entry. */
void rp_diags_fini(struct rp_diags *d);
/** Adds an entry; `where` and `key` may be NULL. Strings are copied. */
void rp_diags_add(struct rp_diags *d, enum rp_diag_level level, const char *where, const char *key,
		  const char *fmt, ...) RP_PRINTF(5, 6);
/** Formats entry i as "where: error: key: msg" into buf. */
void rp_diag_format(const struct rp_diag *e, char *buf, size_t len);
/** Prints every entry, one line each, prefixed "ringprobe: " when there is no location. */
void rp_diags_print(const struct rp_diags *d, FILE *out);
/** Levenshtein distance, capped at `cap` (for "did you mean"). */
size_t rp_edit_distance(const char *a, const char *b, size_t cap);

#endif
