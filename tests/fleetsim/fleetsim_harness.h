// SPDX-License-Identifier: MIT
/*
 * Shared by the fleetsim integration tests: start bench/fleetsim in the test's own network
 * namespace, stop it, read its truth file. Binaries: $FLEETSIM_BIN / $RINGPROBE_BIN, else the
 * meson build tree.
 */
#ifndef FLEETSIM_HARNESS_H
#define FLEETSIM_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <criterion/options.h>
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ringprobe/addr.h"
#include "support/support.h"

#ifndef RP_BUILD_ROOT
#define RP_BUILD_ROOT "build/release"
#endif

struct fleet {
	pid_t pid;
	unsigned ndev;
	char dir[64];
	char truth[128];
	char devices[128];
	char devices6[128]; /* the same devices' IPv6 addresses (fleetsim --family 6 or both) */
};

static inline const char *bin(const char *env, const char *rel)
{
	static char buf[2][512];
	static int n;
	const char *e = getenv(env);
	char *b = buf[n++ & 1];

	if (e)
		return e;
	snprintf(b, sizeof(buf[0]), "%s/%s", RP_BUILD_ROOT, rel);
	return b;
}

/* A network namespace of the test's own; lo stays down (fleetsim's TUN device carries the
 * fleet's traffic), a test that needs it brings it up. */
static inline void enter_netns(void)
{
	const char *what;
	int rc;

	if (geteuid() != 0)
		cr_skip_test("needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW)");
	rc = sup_netns_enter(0, &what);
	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
}

/* Device i (from 0) of a fleet started with the default --base 198.18.0.1, host order. */
static inline unsigned fleet_addr(unsigned i)
{
	return 0xc6120001u + i;
}

static inline void fmt_addr(char *out, size_t n, unsigned a)
{
	char ip[RP_ADDR_STRLEN];

	snprintf(out, n, "%s", rp_addr_format(a, ip));
}

/*
 * The IPv6 address fleetsim --family 6|both answers on for device address @a (host order):
 * 2001:2:: followed by its 32 bits, printed as inet_ntop does (198.18.0.1: 2001:2::c612:1).
 */
static inline void fmt_addr6(char *out, size_t n, unsigned a)
{
	snprintf(out, n, "2001:2::%x:%x", a >> 16, a & 0xffffu);
}

/* Starts fleetsim with @ndev devices and the @extra arguments; returns once it printed ready. */
static inline void fleet_start(struct fleet *f, unsigned ndev, const char *const *extra)
{
	const char *argv[48];
	char nbuf[16], line[64];
	int pfd[2], argc = 0;
	pid_t parent;
	FILE *fp;

	f->ndev = ndev;
	snprintf(f->dir, sizeof(f->dir), "/tmp/fleetsim-test-XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	snprintf(f->truth, sizeof(f->truth), "%s/truth.json", f->dir);
	snprintf(f->devices, sizeof(f->devices), "%s/devices.txt", f->dir);
	fp = fopen(f->devices, "w");
	cr_assert_not_null(fp);
	for (unsigned i = 0; i < ndev; i++) {
		char a[16];

		fmt_addr(a, sizeof(a), fleet_addr(i));
		fprintf(fp, "%s\n", a);
	}
	fclose(fp);
	snprintf(f->devices6, sizeof(f->devices6), "%s/devices6.txt", f->dir);
	fp = fopen(f->devices6, "w");
	cr_assert_not_null(fp);
	for (unsigned i = 0; i < ndev; i++) {
		char a[48];

		fmt_addr6(a, sizeof(a), fleet_addr(i));
		fprintf(fp, "%s\n", a);
	}
	fclose(fp);

	snprintf(nbuf, sizeof(nbuf), "%u", ndev);
	argv[argc++] = bin("FLEETSIM_BIN", "bench/fleetsim/fleetsim");
	argv[argc++] = "--devices";
	argv[argc++] = nbuf;
	argv[argc++] = "--truth";
	argv[argc++] = f->truth;
	/* busy-poll the last 1 ms before a reply is due: VM timer wake-ups run up to 2 ms late */
	argv[argc++] = "--spin";
	argv[argc++] = "1000";
	for (; extra && *extra && argc < 47; extra++)
		argv[argc++] = *extra;
	argv[argc] = NULL;

	cr_assert_eq(pipe(pfd), 0);
	parent = getpid();
	f->pid = fork();
	cr_assert_geq(f->pid, 0);
	if (f->pid == 0) {
		/* a failed assertion ends the test process: fleetsim must not outlive it */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	fp = fdopen(pfd[0], "r");
	cr_assert(fgets(line, sizeof(line), fp) && !strcmp(line, "ready\n"),
		  "fleetsim (%s) did not become ready", argv[0]);
	fclose(fp);
}

static inline void fleet_stop(struct fleet *f)
{
	int st;

	cr_assert_eq(kill(f->pid, SIGTERM), 0);
	cr_assert_eq(waitpid(f->pid, &st, 0), f->pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fleetsim exit status %#x", st);
}

/* Asks the running fleetsim for its truth file (SIGUSR1) and waits until it is written. */
static inline void fleet_dump(const struct fleet *f)
{
	struct stat st;

	unlink(f->truth);
	cr_assert_eq(kill(f->pid, SIGUSR1), 0);
	for (int i = 0; i < 1000 && stat(f->truth, &st); i++)
		usleep(5000);
	cr_assert_eq(stat(f->truth, &st), 0, "fleetsim wrote no truth file on SIGUSR1");
}

/* The whole truth file, NUL-terminated (malloc'd). */
static inline char *fleet_truth(const struct fleet *f)
{
	FILE *fp = fopen(f->truth, "r");
	char *buf;
	long n;

	cr_assert_not_null(fp, "no truth file %s", f->truth);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* The first occurrence of "key": in the truth file is the totals object's. */
static inline unsigned long long truth_total(const struct fleet *f, const char *key)
{
	char *buf = fleet_truth(f), pat[64];
	const char *p;
	unsigned long long v;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(buf, pat);
	cr_assert_not_null(p, "truth lacks %s", key);
	v = strtoull(p + strlen(pat), NULL, 10);
	free(buf);
	return v;
}

/*
 * The value of "key": in the line of device @i (from 0) in the truth text @t, copied to @out
 * (strings without their quotes).
 */
static inline void truth_dev(const char *t, unsigned i, const char *key, char *out, size_t n)
{
	char pat[64], a[16];
	const char *p, *eol;
	size_t k = 0;

	fmt_addr(a, sizeof(a), fleet_addr(i));
	snprintf(pat, sizeof(pat), "{\"addr\":\"%s\",", a);
	p = strstr(t, pat);
	cr_assert_not_null(p, "truth lacks device %s", a);
	eol = strchr(p, '\n');
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(p, pat);
	cr_assert(p && (!eol || p < eol), "truth lacks %s for %s", key, a);
	p += strlen(pat);
	if (*p == '"') {
		p++;
		while (p[k] && p[k] != '"' && k + 1 < n)
			k++;
	} else {
		while (p[k] && p[k] != ',' && p[k] != '}' && k + 1 < n)
			k++;
	}
	memcpy(out, p, k);
	out[k] = '\0';
}

/* The body of a test's own main() that runs its tests one at a time (Criterion runs them in
 * parallel by default): a test whose timing bounds assume nothing else runs a fleet on the
 * machine's cores calls it. */
static inline int fleet_run_serially(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	int ok = 1;

	criterion_options.jobs = 1;
	if (criterion_handle_args(argc, argv, true))
		ok = criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return ok ? 0 : 1;
}

#endif
