/* fuzz-sources: src/conf/targets.c src/conf/value.c src/conf/diag.c src/util/addr.c
 * src/util/xalloc.c */
/* fuzz-cflags: -Dfopen=rp_fuzz_fopen */
/* Target arguments of `ping` and `sweep` (src/conf/targets.c): an address, a CIDR, or
 * @file with one per line. Byte 0 picks:
 *   even  the rest is one command-line argument (cut at a NUL, as argv would be)
 *   odd   the rest is the content of a target file, given as "@targets"
 * Checks, against a reference written here from the documented format (a '#' starts a
 * comment, blanks and CR/LF around an entry are ignored, empty lines skipped): the list
 * holds exactly the entries that rp_parse_cidr accepts with at most 24 host bits (an
 * IPv4 /8, an IPv6 /104), and its names exactly the entries that are DNS names by a
 * reference check written here (each with its line and its place among the networks),
 * in order, each with its line number; every refused entry is one error; the return
 * is 0 exactly when nothing was refused; every network formats back to text that
 * parses to itself; rp_targets_count is the sum of the sizes.
 *
 * Files: fopen() in targets.c is compiled to rp_fuzz_fopen (fuzz-cflags above), which
 * opens only the name "targets", as a read-only memory stream over this input's file
 * content (fmemopen: no disk I/O per run), so "@/etc/shadow" or "@/dev/stdin" in an
 * input fails with ENOENT, and so does "@targets" when the input is an argument. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringprobe/targets.h"

#undef fopen

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_conf_targets: check failed at line %d: %s\n",        \
				__LINE__, #c);                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAX_INPUT 65536

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
FILE *rp_fuzz_fopen(const char *path, const char *mode);

static char text[MAX_INPUT + 1];
static char file[MAX_INPUT + 1]; /* the "targets" file of this input */
static size_t file_len;
static bool have_file;

FILE *rp_fuzz_fopen(const char *path, const char *mode)
{
	if (!have_file || strcmp(path, "targets") != 0 || strcmp(mode, "r") != 0) {
		errno = ENOENT;
		return NULL;
	}
	static char nul[1];

	/* fmemopen of 0 bytes fails (EINVAL): an empty file reads as one NUL byte, an
	 * empty entry, which targets.c skips as it skips an empty line. */
	return file_len ? fmemopen(file, file_len, "r") : fmemopen(nul, 1, "r");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* An independent reading of what a DNS host name is (rp_name_valid's contract). */
static bool ref_name(const char *s)
{
	size_t len = strlen(s), start = 0;
	bool digits_only = true;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		size_t l;

		if (i < len && s[i] != '.') {
			char ch = s[i];

			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
				return false;
			if (!(ch >= '0' && ch <= '9'))
				digits_only = false;
			continue;
		}
		l = i - start;
		if (i == len && l == 0 && len > 0 && s[len - 1] == '.' && len > 1)
			break; /* a final dot */
		if (l == 0 || l > 63 || s[start] == '-' || s[i - 1] == '-')
			return false;
		start = i + 1;
	}
	return !digits_only;
}

/* What one entry must give: 1 and *out for a network, 2 for a name, 0 when refused. */
static int expect(const char *entry, struct rp_cidr *out)
{
	bool host_bits;
	char why[256];

	if (rp_parse_cidr(entry, out, &host_bits, why, sizeof(why)) < 0)
		return ref_name(entry) ? 2 : 0;
	CHECK(!ref_name(entry) || strchr(entry, '.')); /* an address is never a name */
	return rp_cidr_host_bits(out) <= RP_CIDR_MAX_HOST_BITS;
}

static void check_network(const struct rp_cidr *c)
{
	bool v4 = rp_ip_is_v4(&c->net), host_bits;
	unsigned hb = (v4 ? 32u : 128u) - c->prefix;
	struct rp_ip last = rp_cidr_nth(c, rp_cidr_size(c) - 1), after = last;
	struct rp_cidr back;
	char buf[RP_CIDR_STRLEN], why[256];

	CHECK(c->prefix <= (v4 ? 32 : 128) && hb <= RP_CIDR_MAX_HOST_BITS);
	CHECK(rp_cidr_host_bits(c) == hb);
	/* The host bits of net are clear: the last address only sets them. */
	for (unsigned bit = 128 - hb; bit < 128; bit++)
		CHECK(!(c->net.b[bit / 8] & (0x80u >> (bit % 8))) &&
		      (last.b[bit / 8] & (0x80u >> (bit % 8))));
	for (int bare = 0; bare <= 1; bare++) {
		rp_format_cidr(c, bare, buf, sizeof(buf));
		CHECK(rp_parse_cidr(buf, &back, &host_bits, why, sizeof(why)) == 0);
		CHECK(!host_bits && rp_ip_eq(&back.net, &c->net) && back.prefix == c->prefix);
	}
	CHECK(rp_cidr_contains(c, &c->net) && rp_cidr_contains(c, &last));
	after.b[15] ^= 1; /* flipping the last bit leaves a network only when it is a host */
	CHECK(rp_cidr_contains(c, &after) == (hb > 0));
	CHECK(rp_cidr_size(c) == (uint64_t)1 << hb);
}

/* The reference reading of a target file: entries in order with their lines. */
static void check_file(const char *p, size_t n, const struct rp_cidr_list *l, size_t errors)
{
	size_t got = 0, gotn = 0, refused = 0;
	uint32_t lineno = 0;

	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t len = nl ? (size_t)(nl - p) + 1 : n;
		char *s = text, *end;
		struct rp_cidr want;

		memcpy(text, p, len);
		text[len] = '\0';
		p += len;
		n -= len;
		lineno++;
		if ((end = strchr(s, '#')))
			*end = '\0';
		s += strspn(s, " \t");
		end = s + strlen(s);
		while (end > s && strchr(" \t\r\n", end[-1]))
			*--end = '\0';
		if (!*s)
			continue;
		switch (expect(s, &want)) {
		case 0:
			refused++;
			continue;
		case 2:
			CHECK(gotn < l->nnames && strcmp(l->names[gotn], s) == 0);
			CHECK(l->name_line[gotn] == lineno && l->name_pos[gotn] == got);
			gotn++;
			continue;
		}
		CHECK(got < l->n);
		CHECK(rp_ip_eq(&l->v[got].net, &want.net) && l->v[got].prefix == want.prefix);
		CHECK(l->line[got] == lineno);
		got++;
	}
	CHECK(got == l->n && gotn == l->nnames);
	CHECK(refused == errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp_cidr_list l = {0};
	struct rp_diags d;
	uint64_t total = 0;
	int ret;

	if (size < 1 || size > MAX_INPUT)
		return 0;
	rp_diags_init(&d);
	have_file = data[0] & 1;
	if (have_file) {
		memcpy(file, data + 1, size - 1);
		file_len = size - 1;
		ret = rp_targets_add_arg(&l, "@targets", &d);
		check_file((const char *)data + 1, size - 1, &l, d.errors);
	} else {
		struct rp_cidr want;
		size_t n = strnlen((const char *)data + 1, size - 1);
		char *arg = malloc(n + 1); /* exact size: ASan sees any over-read */

		memcpy(arg, data + 1, n);
		arg[n] = '\0';
		ret = rp_targets_add_arg(&l, arg, &d);
		if (arg[0] != '@') {
			int ok = expect(arg, &want);

			CHECK(l.n == (size_t)(ok == 1) && l.nnames == (size_t)(ok == 2) &&
			      d.errors == (size_t)!ok);
			CHECK(ok != 1 || (rp_ip_eq(&l.v[0].net, &want.net) &&
					  l.v[0].prefix == want.prefix && l.line[0] == 0));
			CHECK(ok != 2 || (strcmp(l.names[0], arg) == 0 && l.name_pos[0] == 0));
		} else {
			CHECK(ret < 0 && l.n == 0 && d.errors == 1); /* no such file */
		}
		free(arg);
	}
	CHECK((ret == 0) == (d.errors == 0));
	for (size_t i = 0; i < l.n; i++) {
		check_network(&l.v[i]);
		total += rp_cidr_size(&l.v[i]);
	}
	CHECK(rp_targets_count(&l) == total);
	rp_targets_free(&l);
	rp_diags_fini(&d);
	return 0;
}
