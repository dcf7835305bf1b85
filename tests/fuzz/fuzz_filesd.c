/* fuzz-sources: src/conf/filesd.c src/conf/value.c src/conf/diag.c src/util/addr.c
 * src/util/xalloc.c */
/* fuzz-pkgs: yaml-0.1 */
/* Device files (src/conf/filesd.c): the input is a file_sd document, JSON or YAML.
 * Checks: the return is 0 exactly when no error was reported, and a refused document
 * gives nothing; a taken one gives targets that each are an address, a network of at
 * most 24 host bits or a DNS name, have no port left (their host part is themselves),
 * a line from 1 to the input's line count, and a group that exists; every label kept
 * has a valid name (not reserved, not "__"), a value within the limit and without
 * control characters, and appears once in its group. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/filesd.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_filesd: check failed at line %d: %s\n", __LINE__,    \
				#c);                                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) > RP_FILESD_LABEL_NAME_MAX || (s[0] == '_' && s[1] == '_'))
		return false;
	if (strcmp(s, "ip") == 0 || strcmp(s, "name") == 0 || strcmp(s, "shard") == 0)
		return false;
	if (*s >= '0' && *s <= '9')
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static void check_target(const struct rp_filesd_doc *doc, const struct rp_filesd_target *t,
			 uint32_t lines)
{
	char host[256], why[256];
	struct rp_cidr c;
	bool host_bits;

	CHECK(t->group < doc->ngroups);
	CHECK(t->line >= 1 && t->line <= lines);
	CHECK(t->text[0] != '\0');
	if (rp_parse_cidr(t->text, &c, &host_bits, why, sizeof(why)) == 0)
		CHECK(rp_cidr_host_bits(&c) <= RP_CIDR_MAX_HOST_BITS);
	else
		CHECK(rp_name_valid(t->text));
	CHECK(rp_filesd_host(t->text, host, sizeof(host)));
	CHECK(strcmp(host, t->text) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp_filesd_doc doc;
	struct rp_diags d;
	uint32_t lines = 1;
	int ret;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n' || data[i] == '\r'; /* an upper bound on libyaml's */
	rp_diags_init(&d);
	ret = rp_filesd_parse("fuzz", (const char *)data, size, &doc, &d);
	CHECK((ret == 0) == (d.errors == 0));
	if (ret != 0) {
		CHECK(doc.ntargets == 0 && doc.ngroups == 0 && !doc.targets && !doc.groups);
	}
	for (size_t i = 0; i < doc.ntargets; i++)
		check_target(&doc, &doc.targets[i], lines);
	for (size_t g = 0; g < doc.ngroups; g++) {
		const struct rp_filesd_labels *l = &doc.groups[g];

		for (size_t i = 0; i < l->n; i++) {
			const char *v = l->v[i].value;

			CHECK(name_ok(l->v[i].name));
			CHECK(strlen(v) <= RP_FILESD_LABEL_VALUE_MAX);
			for (const char *p = v; *p; p++)
				CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
			for (size_t k = 0; k < i; k++)
				CHECK(strcmp(l->v[k].name, l->v[i].name) != 0);
		}
	}
	rp_filesd_free(&doc);
	rp_diags_fini(&d);
	return 0;
}
