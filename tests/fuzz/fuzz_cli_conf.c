/* fuzz-sources: src/cli/opts.c src/conf/buckets.c src/conf/conf.c src/conf/diag.c
 * src/conf/expand.c src/conf/files.c src/conf/filesd.c src/conf/group_snmp.c src/conf/groups.c
 * src/conf/keys.c
 * src/conf/print.c src/conf/secret.c src/conf/targets.c src/conf/validate.c src/conf/value.c
 * src/conf/yaml.c src/conf/yaml_groups.c src/util/addr.c src/util/xalloc.c */
/* fuzz-pkgs: yaml-0.1 */
/* fuzz-cflags: -Dopen=rp_fuzz_open -Dfopen=rp_fuzz_fopen -Dglob=rp_fuzz_glob */
/* The whole configuration path of a command: the YAML file and the flags through
 * rp_cli__parse() (getopt_long over the generated --flags, rp_conf_load_file, the flags
 * applied over it, ${VAR} expansion, *_file secrets, rp_conf_validate), as `run`,
 * `ping` and `sweep` do. The input is
 *   byte 0      bits 0-1: purpose (run, ping, sweep); bit 2: no --config
 *   then        the YAML file's text, up to the first NUL
 *   then        argv items, NUL-separated (flags, values, positional arguments)
 * Checks: parsing the same command line twice gives the same configuration and the
 * same diagnostics (what a SIGHUP reload with an unchanged file must see); and a
 * configuration without errors (whose strings are all UTF-8: YAML can hold no other
 * bytes, and only flags or ${VAR} can bring them), printed by rp_conf_print, reads back by
 * rp_conf_load_buffer without errors and with every key equal (secrets, which the
 * printer masks, and URLs, which it redacts, aside).
 *
 * Files: every open()/fopen()/glob() of the sources is compiled to rp_fuzz_open/_fopen/
 * _glob (fuzz-cflags above), which open or match only plain names inside a per-process
 * directory holding "config.yml" (this input's YAML) and "secret"; any other path fails
 * with ENOENT (a pattern matches nothing), so no input can make the harness read
 * /etc/shadow, block on /dev/stdin or walk the file system. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_int.h"
#include "ringprobe/prober.h"

#undef open
#undef fopen
#undef glob

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_cli_conf: check failed at line %d: %s\n", __LINE__,  \
				#c);                                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAX_ARGS 64
#define MAX_INPUT 65536

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int dirfd_ = -1;
static char dirpath[64];
static char argbuf[2][MAX_INPUT + 64];
static char printed[1 << 20];

/* Only plain names, inside our directory. */
static bool allowed(const char *path)
{
	return path && *path && !strchr(path, '/') && strcmp(path, "..") != 0 &&
	       strcmp(path, ".") != 0;
}

int rp_fuzz_open(const char *path, int flags, ...);
FILE *rp_fuzz_fopen(const char *path, const char *mode);

int rp_fuzz_open(const char *path, int flags, ...)
{
	if (!allowed(path) || (flags & O_ACCMODE) != O_RDONLY) {
		errno = ENOENT;
		return -1;
	}
	return openat(dirfd_, path, flags | O_NOFOLLOW | O_NONBLOCK);
}

FILE *rp_fuzz_fopen(const char *path, const char *mode)
{
	int fd;
	FILE *f;

	if (strcmp(mode, "r") != 0 && strcmp(mode, "rb") != 0) {
		errno = ENOENT;
		return NULL;
	}
	fd = rp_fuzz_open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, mode);
	if (!f)
		close(fd);
	return f;
}

int rp_fuzz_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g);

/* A pattern of a plain name, matched in our directory; the matches as plain names. */
int rp_fuzz_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g)
{
	char full[4096];
	size_t cut = strlen(dirpath) + 1;
	int r;

	memset(g, 0, sizeof(*g));
	if (!allowed(pattern) ||
	    (size_t)snprintf(full, sizeof(full), "%s/%s", dirpath, pattern) >= sizeof(full))
		return GLOB_NOMATCH;
	r = glob(full, flags, errfunc, g);
	for (size_t i = 0; r == 0 && i < g->gl_pathc; i++)
		memmove(g->gl_pathv[i], g->gl_pathv[i] + cut, strlen(g->gl_pathv[i] + cut) + 1);
	return r;
}

/* opts.c's rp_cli__prober (not reached: nothing here starts a prober). */
int rp_prober_create(struct rp_prober **out, const struct rp_prober_conf *c, char *why,
		     size_t whylen)
{
	(void)out, (void)c, (void)why, (void)whylen;
	abort();
}

int rp_prober_start(struct rp_prober *p, const char *user, char *why, size_t whylen)
{
	(void)p, (void)user, (void)why, (void)whylen;
	abort();
}

void rp_prober_destroy(struct rp_prober *p)
{
	(void)p;
	abort();
}

void rp_prober_conf_packet(struct rp_prober_conf *pc, const struct rp_conf *c)
{
	(void)pc, (void)c;
	abort();
}

/* A command's own options as ping's are: some plain, two aliases of config keys. */
static const struct rp_cli_opt own_opts[] = {
    {"count", 'c', required_argument, "COUNT", "probes per target", NULL},
    {"quiet", 'q', no_argument, NULL, "no per-probe lines", NULL},
    {"rate", 0, required_argument, "PPS", "= --ping-rate-limit", "ping_rate_limit"},
    {"allow-large", 0, no_argument, NULL, "= --allow-large-networks", "allow_large_networks"},
};

static void on_opt(void *ctx, const struct rp_cli_opt *o, const char *arg, struct rp_diags *d)
{
	int64_t v;
	char why[256];

	(void)ctx;
	if (o->has_arg == required_argument && rp_parse_int(arg, &v, why, sizeof(why)) < 0)
		rp_diags_add(d, RP_DIAG_ERROR, o->name, NULL, "%s", why);
}

static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s, need, lo, hi;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c < 0xc2 || c > 0xf4)
			return false;
		need = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
		lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
		for (unsigned k = 1; k <= need; k++, lo = 0x80, hi = 0xbf)
			if (s[k] < lo || s[k] > hi)
				return false;
		s += need + 1;
	}
	return true;
}

#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->offset))

/* Whether key k of c can be expected to read back equal from rp_conf_print's text. */
static bool comparable(const struct rp_conf *c, const struct rp_conf_key *k)
{
	const char *s;

	if (k->type == RP_CT_SECRET || k->type == RP_CT_IGNORED)
		return false;
	/* a group's own snmp secrets are printed masked too */
	if (k->type == RP_CT_GROUPS)
		for (size_t g = 0; g < c->groups.n; g++)
			for (size_t i = 0; c->groups.v[g].snmp && i < rp_conf_key_count(); i++)
				if (rp_conf_key_at(i)->type == RP_CT_SECRET &&
				    rp_conf_is_set(c->groups.v[g].snmp, rp_conf_key_at(i)))
					return false;
	if (k->type != RP_CT_STRING && k->type != RP_CT_SECRET_FILE)
		return true;
	s = *FIELD(c, k, char *);
	/* URLs are printed redacted; YAML cannot hold bytes that are not UTF-8 (only
	 * flags can bring them) */
	return !(strlen(k->path) >= 3 && strcmp(k->path + strlen(k->path) - 3, "url") == 0) &&
	       (!s || utf8_valid((const unsigned char *)s));
}

static bool float_close(double a, double b)
{
	return a == b || fabs(a - b) <= 1e-14 * fmax(fabs(a), fabs(b));
}

static void check_same(const struct rp_conf *a, const struct rp_conf *b, bool all)
{
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);

		if (!all && !comparable(a, k))
			continue;
		if (!all && k->type == RP_CT_FLOAT) {
			/* printed with 15 significant digits */
			CHECK(float_close(*FIELD(a, k, double), *FIELD(b, k, double)));
			continue;
		}
		if (!rp_conf_key_equal(a, b, k)) {
			fprintf(stderr, "fuzz_cli_conf: key %s differs\n", k->path);
			CHECK(!"a key differs");
		}
	}
}

static void check_same_diags(const struct rp_diags *a, const struct rp_diags *b)
{
	CHECK(a->n == b->n && a->errors == b->errors && a->notices == b->notices);
	for (size_t i = 0; i < a->n; i++)
		CHECK(strcmp(a->v[i].msg, b->v[i].msg) == 0);
}

/* Whether every string value is UTF-8: YAML holds nothing else, so a value with other
 * bytes (only a flag or a ${VAR} can bring one) cannot be printed to read back. */
static bool all_utf8(const struct rp_conf *c)
{
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);
		const char *s;

		if (k->type != RP_CT_STRING && k->type != RP_CT_SECRET_FILE)
			continue;
		s = *FIELD(c, k, const char *);
		if (s && !utf8_valid((const unsigned char *)s))
			return false;
	}
	return true;
}

/* The configuration, printed, reads back the same. */
static void check_print_roundtrip(const struct rp_conf *c)
{
	FILE *f = fmemopen(printed, sizeof(printed), "w");
	struct rp_conf back;
	struct rp_diags d;
	long len;

	CHECK(f != NULL);
	rp_conf_print(c, f);
	len = ftell(f);
	fclose(f);
	CHECK(len > 0 && (size_t)len < sizeof(printed) - 1);
	rp_conf_init(&back);
	rp_diags_init(&d);
	if (rp_conf_load_buffer(&back, "printed", printed, (size_t)len, &d) < 0 || d.errors) {
		rp_diags_print(&d, stderr);
		fprintf(stderr, "%.*s\n", (int)len, printed);
		CHECK(!"the printed configuration does not read back");
	}
	check_same(c, &back, false);
	rp_diags_fini(&d);
	rp_conf_fini(&back);
}

/* glibc's getopt keeps a pointer into the last argv; optind = 0 forgets it (opts.c
 * sets optind = 1, which a new process, or reload's same argv, never needs more). */
static void reset_getopt(void)
{
	char prog[] = "x";
	char *av[] = {prog, NULL};

	optind = 0;
	opterr = 0;
	(void)getopt(1, av, "");
}

/* Builds argv in argbuf[which]: the command name, --config config.yml, the items. */
static int build_argv(int which, bool config, const uint8_t *p, size_t n, char **argv)
{
	char *b = argbuf[which];
	int argc = 0;
	size_t off = 0;

	argv[argc++] = strcpy(b, "fuzz");
	off = 5;
	if (config) {
		argv[argc++] = strcpy(b + off, "--config");
		off += 9;
		argv[argc++] = strcpy(b + off, "config.yml");
		off += 11;
	}
	while (n && argc < MAX_ARGS) {
		const uint8_t *z = memchr(p, 0, n);
		size_t len = z ? (size_t)(z - p) : n;

		memcpy(b + off, p, len);
		b[off + len] = '\0';
		argv[argc++] = b + off;
		off += len + 1;
		p += len + (z ? 1 : 0);
		n -= len + (z ? 1 : 0);
	}
	argv[argc] = NULL;
	return argc;
}

static void parse(const struct rp_cli_cmd *cmd, int which, bool config, const uint8_t *p, size_t n,
		  struct rp_cli *cli)
{
	char *argv[MAX_ARGS + 1];
	int argc = build_argv(which, config, p, n, argv);

	reset_getopt();
	rp_cli__parse(cmd, argc, argv, cli);
}

static void remove_dir(void)
{
	unlinkat(dirfd_, "secret", 0);
	unlinkat(dirfd_, "config.yml", 0);
	rmdir(dirpath);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	(void)argc;
	(void)argv;
	/* tmpfs where there is one: config.yml is rewritten for every input */
	snprintf(dirpath, sizeof(dirpath), "%s/fuzz_cli_conf.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dirpath)) {
		perror("mkdtemp");
		abort();
	}
	dirfd_ = openat(AT_FDCWD, dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = openat(dirfd_, "secret", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (dirfd_ < 0 || fd < 0 || write(fd, "s3cret\n", 7) != 7) {
		perror("fuzz_cli_conf: set-up");
		abort();
	}
	close(fd);
	atexit(remove_dir);
	/* --help prints to stdout */
	if (!freopen("/dev/null", "w", stdout))
		abort();
	/* a few variables for ${VAR} to find */
	setenv("RP_FUZZ_PORT", "8086", 1);
	setenv("RP_FUZZ_DIR", "/var/spool/rp", 1);
	setenv("RP_FUZZ_EMPTY", "", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp_cli_cmd cmd = {
	    .name = "fuzz",
	    .usage = "[options]",
	    .summary = "fuzzing",
	    .opts = own_opts,
	    .nopts = sizeof(own_opts) / sizeof(own_opts[0]),
	    .list_config_flags = true,
	    .on_opt = on_opt,
	};
	struct rp_cli a, b;
	const uint8_t *nul;
	size_t ylen;
	bool config;
	int fd;

	if (size < 1 || size > MAX_INPUT)
		return 0;
	cmd.purpose = (data[0] & 3) == 3 ? RP_CONF_FOR_RUN : (enum rp_conf_purpose)(data[0] & 3);
	config = !(data[0] & 4);
	data++;
	size--;
	nul = memchr(data, 0, size);
	ylen = nul ? (size_t)(nul - data) : size;

	fd = openat(dirfd_, "config.yml", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, data, ylen) == (ssize_t)ylen);
	close(fd);
	data += ylen + (nul ? 1 : 0);
	size -= ylen + (nul ? 1 : 0);

	parse(&cmd, 0, config, data, size, &a);
	parse(&cmd, 1, config, data, size, &b);
	CHECK(a.help == b.help && a.nargs == b.nargs);
	if (!a.help) {
		check_same(&a.conf, &b.conf, true);
		check_same_diags(&a.diags, &b.diags);
		if (!a.diags.errors && all_utf8(&a.conf))
			check_print_roundtrip(&a.conf);
	}
	rp_cli__fini(&a);
	rp_cli__fini(&b);
	return 0;
}
