/* Child commands and time for tests and benchmarks (see support.h). */
#include "support/support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double sup_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sup_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Writes "<what> failed: errno <n>" to fd 2 without stdio or strerror (see child()). */
static void say_failed(const char *what, int err)
{
	char msg[128], digits[12];
	size_t n = strlen(what), k = 0;

	if (n > sizeof(msg) - 40)
		n = sizeof(msg) - 40;
	memcpy(msg, what, n);
	memcpy(msg + n, " failed: errno ", 15);
	n += 15;
	do {
		digits[k++] = (char)('0' + err % 10);
		err /= 10;
	} while (err && k < sizeof(digits));
	while (k)
		msg[n++] = digits[--k];
	msg[n++] = '\n';
	if (write(2, msg, n) < 0)
		return; /* nowhere left to say it: the exit status still does */
}

/* The forked child. The caller may have threads, and another may have held a lock (in
 * malloc, in stdio) when it forked: until exec, only system calls. */
static void child(const char *cmd, unsigned flags, const int fd[2])
{
	const char *what = "";
	int null = open("/dev/null", O_RDONLY), ret;

	if (null > 0) { /* 0: stdin was closed, and /dev/null took its place */
		dup2(null, 0);
		close(null);
	}
	if (fd[0] >= 0)
		dup2(fd[0], 1);
	if (fd[1] >= 0)
		dup2(fd[1], 2);
	if (flags & SUP_RUN_NETNS) {
		ret = sup_netns_enter(SUP_NETNS_LO_UP, &what);
		if (ret < 0) {
			say_failed(what, -ret);
			_exit(126);
		}
	}
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

int sup_run(const char *cmd, unsigned flags, char **out, char **err)
{
	char path[2][32] = {"", ""};
	char **dst[2] = {out, err};
	int fd[2] = {-1, -1}, st, ret;
	pid_t pid;

	for (int i = 0; i < 2; i++) {
		if (!dst[i])
			continue;
		strcpy(path[i], "/tmp/rp-run-XXXXXX");
		fd[i] = mkostemp(path[i], O_CLOEXEC);
		if (fd[i] < 0) {
			ret = -errno;
			path[i][0] = '\0';
			goto out_files;
		}
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out_files;
	}
	if (pid == 0)
		child(cmd, flags, fd);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			ret = -errno;
			goto out_files;
		}
	}
	ret = WIFEXITED(st) ? WEXITSTATUS(st) : -ECHILD;
	for (int i = 0; i < 2; i++)
		if (dst[i])
			*dst[i] = sup_slurp(path[i]);
out_files:
	for (int i = 0; i < 2; i++) {
		if (fd[i] >= 0)
			close(fd[i]);
		if (path[i][0])
			unlink(path[i]);
	}
	return ret;
}
