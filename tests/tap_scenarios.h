/* Threaded tests that run under ThreadSanitizer without Criterion (whose runner forks
 * and threads of its own confuse TSan): a table of scenarios, each a function that says
 * why it failed, and a main that runs each in its own child process and prints TAP.
 * Under the other builds the same scenarios run as Criterion tests. */
#ifndef RP_TESTS_TAP_SCENARIOS_H
#define RP_TESTS_TAP_SCENARIOS_H

/* RP_UNDER_TSAN: this build runs under ThreadSanitizer (GCC or clang). */
#if defined(__SANITIZE_THREAD__)
#define RP_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RP_UNDER_TSAN 1
#endif
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct rp_tap_scenario {
	const char *name;
	bool (*fn)(char *why, size_t whylen);
};

/* Runs every scenario in a child of its own; prints TAP on stdout (a child that exits 77
 * is a skip, its reason in the message). With skip_unless_root, a failure when not
 * root is reported as a skip (the scenario needed root). Returns main's exit status. */
static inline int rp_tap_run(const struct rp_tap_scenario *sc, size_t n, bool skip_unless_root)
{
	int failed = 0;

	printf("1..%zu\n", n);
	fflush(stdout);
	for (size_t i = 0; i < n; i++) {
		int fds[2], st = 0;
		char why[2048] = "";
		ssize_t got;
		pid_t pid;

		if (pipe(fds) < 0)
			return 2;
		pid = fork();
		if (pid == 0) {
			bool ok = sc[i].fn(why, sizeof(why));

			if (write(fds[1], why, strlen(why)) < 0)
				_exit(3);
			_exit(ok ? 0 : skip_unless_root && geteuid() != 0 ? 77 : 1);
		}
		close(fds[1]);
		got = read(fds[0], why, sizeof(why) - 1);
		why[got > 0 ? got : 0] = '\0';
		close(fds[0]);
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			printf("ok %zu - %s\n", i + 1, sc[i].name);
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
			printf("ok %zu - %s # SKIP %s\n", i + 1, sc[i].name, why);
		} else {
			printf("not ok %zu - %s: %s (status %d)\n", i + 1, sc[i].name, why, st);
			failed++;
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

/* Writes "line N: " and the message into why (a scenario's reason). */
__attribute__((format(printf, 4, 5))) static inline void
rp_tap_fail_at(char *why, size_t whylen, int line, const char *fmt, ...)
{
	int n = snprintf(why, whylen, "line %d: ", line);
	va_list ap;

	if (n < 0 || (size_t)n >= whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why + n, whylen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* In a scenario (parameters why, whylen; a label out: for its clean-up): fails it with
 * a message, file line first, and jumps to out. */
#define RP_TAP_CHECK(cond, ...)                                                                    \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			rp_tap_fail_at(why, whylen, __LINE__, __VA_ARGS__);                        \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

#endif
