/* An LD_PRELOAD shim that makes chosen files fail, for the fault tests: the daemon runs
 * with LD_PRELOAD=librp_fault_shim.so and RP_FAULT_CTL=<file>. While <file> exists it
 * holds one line "ERRNO OP MATCH": ERRNO is EIO or EACCES, OP is `open` (opening a file
 * whose name contains MATCH fails) or `read` (read/pread/pread64 of a file opened under
 * such a name fail). Remove the file and everything works again, so a test toggles the
 * fault while the daemon runs, as a disk that recovers would. Names are what the
 * program passed (the spool opens its segments by name relative to its directory).
 *
 * Every open is remembered by descriptor (below 4096) with its name, whether or not a
 * fault is on then: a segment opened before the fault still fails its reads after. */
/* The shim defines both open and open64 (and the others): with 64-bit file offsets the
 * headers would rename open to open64. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FD 4096
#define NAME_LEN 64

static char names[MAX_FD][NAME_LEN];
static atomic_int faults; /* how many calls were failed, for a debugger */

/* The control file's fault, if it exists and applies to op and name. */
static int fault_for(const char *op, const char *name)
{
	const char *ctl = getenv("RP_FAULT_CTL");
	char buf[256], eno[16], o[16], match[128];
	long n;
	int fd;

	if (!ctl || !name || !*name)
		return 0;
	/* Raw system calls: the shim's own open/read must not come back here. */
	fd = (int)syscall(SYS_openat, AT_FDCWD, ctl, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	eno[0] = o[0] = match[0] = '\0';
	{
		const char *p = buf;
		char *outs[3] = {eno, o, match};
		size_t caps[3] = {sizeof(eno), sizeof(o), sizeof(match)};

		for (int k = 0; k < 3; k++) {
			size_t len;

			p += strspn(p, " \t\r\n");
			len = strcspn(p, " \t\r\n");
			if (len >= caps[k])
				len = caps[k] - 1;
			memcpy(outs[k], p, len);
			outs[k][len] = '\0';
			p += len;
		}
	}
	if (strcmp(o, op) != 0 || !match[0] || !strstr(name, match))
		return 0;
	atomic_fetch_add(&faults, 1);
	return strcmp(eno, "EACCES") == 0 ? EACCES : EIO;
}

static void remember(int fd, const char *name)
{
	if (fd < 0 || fd >= MAX_FD)
		return;
	strncpy(names[fd], name ? name : "", NAME_LEN - 1);
	names[fd][NAME_LEN - 1] = '\0';
}

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef int (*close_fn)(int);

/* The next definition of sym (libc's, or a sanitizer's interceptor). ISO C has no cast
 * from dlsym's object pointer to a function pointer: a union carries it. */
union next {
	void *p;
	openat_fn openat;
	pread_fn pread;
	read_fn read;
	close_fn close;
};

static union next next(const char *sym)
{
	union next n;

	n.p = dlsym(RTLD_NEXT, sym);
	return n;
}

static int do_openat(const char *sym, int dirfd, const char *path, int flags, mode_t mode)
{
	openat_fn real = next(sym).openat;
	int err = fault_for("open", path ? basename_of(path) : NULL), fd;

	if (err) {
		errno = err;
		return -1;
	}
	fd = real(dirfd, path, flags, mode);
	if (fd >= 0)
		remember(fd, basename_of(path));
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_openat("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_openat("openat64", dirfd, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_openat("openat", AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_openat("openat64", AT_FDCWD, path, flags, mode);
}

static int read_fault(int fd)
{
	if (fd < 0 || fd >= MAX_FD || !names[fd][0])
		return 0;
	return fault_for("read", names[fd]);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	int err = read_fault(fd);

	if (err) {
		errno = err;
		return -1;
	}
	return next("pread").pread(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	int err = read_fault(fd);

	if (err) {
		errno = err;
		return -1;
	}
	return next("pread64").pread(fd, buf, n, off);
}

ssize_t read(int fd, void *buf, size_t n)
{
	int err = read_fault(fd);

	if (err) {
		errno = err;
		return -1;
	}
	return next("read").read(fd, buf, n);
}

int close(int fd)
{
	if (fd >= 0 && fd < MAX_FD)
		names[fd][0] = '\0';
	return next("close").close(fd);
}
