/* Files for tests and benchmarks (see support.h). */
#include "support/support.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define AT_EXIT_MAX 32

/* Tests only: running out of memory here is not worth a code path of its own. */
static void *grow(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		abort();
	return p;
}

char *sup_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = grow(NULL, 65536);
	size_t cap = 65536, len = 0, n;

	if (f) {
		do {
			if (len + 65536 > cap) {
				cap = cap * 2 + 65536;
				buf = grow(buf, cap);
			}
			n = fread(buf + len, 1, cap - len - 1, f);
			len += n;
		} while (n > 0);
		fclose(f);
	}
	buf[len] = '\0';
	return buf;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

int sup_rm_rf(const char *path)
{
	/* FTW_DEPTH: a directory's entries before the directory; FTW_PHYS: a link is
	 * removed, never followed. */
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT)
		return 0;
	return -errno;
}

/* Paths still to remove at exit: a test that fails an assertion before its own clean-up
 * exits at once, and would leave them in /tmp. */
static char at_exit[AT_EXIT_MAX][128];

static void remove_at_exit(void)
{
	for (int i = 0; i < AT_EXIT_MAX; i++)
		if (at_exit[i][0])
			sup_rm_rf(at_exit[i]);
}

void sup_rm_at_exit(const char *path)
{
	static bool registered;

	if (!registered) {
		atexit(remove_at_exit);
		registered = true;
	}
	for (int i = 0; i < AT_EXIT_MAX; i++)
		if (!at_exit[i][0]) {
			snprintf(at_exit[i], sizeof(at_exit[i]), "%s", path);
			return;
		}
}

void sup_rm_at_exit_cancel(const char *path)
{
	for (int i = 0; i < AT_EXIT_MAX; i++)
		if (!strcmp(at_exit[i], path)) {
			at_exit[i][0] = '\0';
			return;
		}
}

const char *sup_shown(const char *s, char *buf, size_t n)
{
	size_t k = 0;

	for (; s && *s && k + 5 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f)
			buf[k++] = (char)c;
		else
			k += (size_t)snprintf(buf + k, n - k, "\\x%02x", c);
	}
	buf[k] = '\0';
	return buf;
}

double sup_json_number(const char *body, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(body, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	return strncmp(p, "true", 4) == 0 ? 1 : strncmp(p, "false", 5) == 0 ? 0 : strtod(p, NULL);
}
