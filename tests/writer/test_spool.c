/* The disk spool (src/writer/spool.c) on its own: order, cursor, CRC, torn tails, the size
 * bound, fsync modes and reopening. No servers, no threads; each test works in its own
 * temporary directory. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "writer/writer_int.h"

static char dir[64];

/* A failing fsync cannot be had from a real file system without a faulty device, so
 * this binary interposes fdatasync() (the spool's objects are linked into it, and an
 * executable's definition wins over libc's, as an LD_PRELOAD shim's would): EIO while
 * fail_fdatasync is set, the real system call otherwise. */
static int fail_fdatasync;

int fdatasync(int fd)
{
	if (fail_fdatasync) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fdatasync, fd);
}

/* Likewise pread64() (what pread() is with _FILE_OFFSET_BITS=64): EIO for a file
 * whose path ends in fail_pread_name, as a failing disk would answer. */
static const char *fail_pread_name;

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	if (fail_pread_name) {
		char link[64], path[512];
		ssize_t len;
		size_t want = strlen(fail_pread_name);

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		len = readlink(link, path, sizeof(path) - 1);
		if (len >= (ssize_t)want && memcmp(path + len - want, fail_pread_name, want) == 0) {
			errno = EIO;
			return -1;
		}
	}
	return (ssize_t)syscall(SYS_pread64, fd, buf, n, off);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	strcpy(dir, "/tmp/rp-spool-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(spool, .init = setup, .fini = teardown);

static struct rp_spool *open_spool(int64_t max_bytes, uint64_t seg, int fsync_mode)
{
	struct rp_spool_opts o = {
	    .dir = dir, .max_bytes = max_bytes, .fsync = fsync_mode, .segment_bytes = seg};
	struct rp_spool *s = NULL;
	char why[256] = "";
	int ret = rp_spool_open(&s, &o, why, sizeof(why));

	cr_assert_eq(ret, 0, "open: %d %s", ret, why);
	return s;
}

/* Record k: `points` lines that name k, so a read can be checked for what it is. */
static size_t payload(char *buf, size_t cap, unsigned k, unsigned points)
{
	size_t n = 0;

	for (unsigned i = 0; i < points; i++)
		n += (size_t)snprintf(buf + n, cap - n, "m,rec=%u f=%ui 1700000000000000000\n", k,
				      i);
	return n;
}

static void append(struct rp_spool *s, unsigned k, unsigned points)
{
	char buf[8192];
	size_t n = payload(buf, sizeof(buf), k, points);

	cr_assert_eq(rp_spool_append(s, (uint8_t)(k & 1), points, buf, n), 0, "append %u", k);
}

/* Reads one record and checks it is record k; returns its position. */
static struct rp_spool_pos expect(struct rp_spool *s, unsigned k, unsigned points)
{
	char want[8192], got[8192];
	size_t n = payload(want, sizeof(want), k, points);
	struct rp_spool_rec rec;
	int ret = rp_spool_read(s, got, sizeof(got), &rec);

	cr_assert_eq(ret, 1, "read of record %u returned %d", k, ret);
	cr_assert_eq(rec.len, n, "record %u: %zu bytes, want %zu", k, rec.len, n);
	cr_assert(memcmp(got, want, n) == 0, "record %u: wrong bytes", k);
	cr_assert_eq(rec.points, points);
	cr_assert_eq(rec.kind, k & 1);
	return rec.pos;
}

static void expect_end(struct rp_spool *s)
{
	char got[8192];
	struct rp_spool_rec rec;

	cr_assert_eq(rp_spool_read(s, got, sizeof(got), &rec), 0, "expected no more records");
	cr_assert_not(rp_spool_has_unread(s));
}

static struct rp_spool_stats stats(struct rp_spool *s)
{
	struct rp_spool_stats st;

	rp_spool_get_stats(s, &st);
	return st;
}

static void seg_path(char *buf, size_t len, uint64_t seq)
{
	snprintf(buf, len, "%s/%016llx.seg", dir, (unsigned long long)seq);
}

static off_t file_size(const char *path)
{
	struct stat sb;

	cr_assert_eq(stat(path, &sb), 0, "stat %s", path);
	return sb.st_size;
}

static int count_segments(void)
{
	char path[128];
	int n = 0;

	for (uint64_t seq = 0; seq < 4096; seq++) {
		seg_path(path, sizeof(path), seq);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

Test(spool, append_then_replay_oldest_first)
{
	struct rp_spool *s = open_spool(1 << 20, 0, RP_FSYNC_BATCH);
	struct rp_spool_pos pos[20];

	for (unsigned k = 0; k < 20; k++)
		append(s, k, 1 + k % 5);
	cr_assert_eq(stats(s).records, 20);
	cr_assert_eq(stats(s).appended_points, 4 * (1 + 2 + 3 + 4 + 5));
	for (unsigned k = 0; k < 20; k++)
		pos[k] = expect(s, k, 1 + k % 5);
	expect_end(s);
	cr_assert_eq(stats(s).points, 0);
	for (unsigned k = 0; k < 20; k++)
		rp_spool_release(s, &pos[k]);
	/* A drained spool keeps no bytes on disk. */
	cr_assert_eq(stats(s).bytes, 0);
	cr_assert_eq(count_segments(), 0);
	/* And it takes appends again. */
	append(s, 100, 2);
	expect(s, 100, 2);
	rp_spool_close(s);
}

Test(spool, unreleased_records_are_replayed_after_reopen)
{
	struct rp_spool *s = open_spool(1 << 20, 0, RP_FSYNC_NEVER);
	struct rp_spool_pos p0, p1, p2;

	for (unsigned k = 0; k < 4; k++)
		append(s, k, 3);
	p0 = expect(s, 0, 3);
	p1 = expect(s, 1, 3);
	p2 = expect(s, 2, 3);
	/* Settled out of order: 0 and 2, not 1 (still in flight when the process ends). */
	rp_spool_release(s, &p2);
	rp_spool_release(s, &p0);
	(void)p1;
	rp_spool_close(s);

	s = open_spool(1 << 20, 0, RP_FSYNC_NEVER);
	/* The cursor stops at the oldest unsettled record: 1 comes again, 2 with it
	 * (at-least-once), 0 does not. */
	cr_assert_eq(stats(s).records, 3);
	cr_assert_eq(stats(s).points, 9);
	expect(s, 1, 3);
	expect(s, 2, 3);
	expect(s, 3, 3);
	expect_end(s);
	rp_spool_close(s);
}

Test(spool, reopen_continues_after_existing_records)
{
	struct rp_spool *s = open_spool(1 << 20, 512, RP_FSYNC_BATCH);
	struct rp_spool_pos p;

	for (unsigned k = 0; k < 10; k++)
		append(s, k, 2);
	cr_assert_eq(rp_spool_sync(s), 0);
	p = expect(s, 0, 2);
	rp_spool_release(s, &p);
	rp_spool_close(s);

	s = open_spool(1 << 20, 512, RP_FSYNC_BATCH);
	cr_assert_eq(stats(s).records, 9);
	for (unsigned k = 10; k < 15; k++)
		append(s, k, 2);
	for (unsigned k = 1; k < 15; k++) {
		p = expect(s, k, 2);
		rp_spool_release(s, &p);
	}
	expect_end(s);
	cr_assert_eq(stats(s).bytes, 0);
	rp_spool_close(s);
}

Test(spool, segments_rotate_and_go_once_settled)
{
	struct rp_spool *s = open_spool(1 << 20, 600, RP_FSYNC_NEVER);
	struct rp_spool_pos pos[30];
	int before;

	for (unsigned k = 0; k < 30; k++)
		append(s, k, 4);
	before = count_segments();
	cr_assert_gt(before, 5, "600-byte segments should rotate often (%d)", before);
	cr_assert_eq(stats(s).segments, (uint64_t)before);
	for (unsigned k = 0; k < 30; k++)
		pos[k] = expect(s, k, 4);
	for (unsigned k = 0; k < 15; k++)
		rp_spool_release(s, &pos[k]);
	cr_assert_lt(count_segments(), before);
	for (unsigned k = 15; k < 30; k++)
		rp_spool_release(s, &pos[k]);
	cr_assert_eq(count_segments(), 0);
	rp_spool_close(s);
}

Test(spool, crc_detects_corruption_and_skips_the_record)
{
	struct rp_spool *s = open_spool(1 << 20, 0, RP_FSYNC_ALWAYS);
	char path[128];
	off_t at;
	int fd;
	unsigned char c;

	append(s, 0, 2);
	append(s, 1, 5);
	append(s, 2, 2);
	rp_spool_close(s);

	/* Flip one payload byte of the middle record: its length is intact. */
	seg_path(path, sizeof(path), 1);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	at = 16 + 16 + (off_t)payload((char[8192]){0}, 8192, 0, 2) + 16 + 10;
	cr_assert_eq(pread(fd, &c, 1, at), 1);
	c ^= 0x20;
	cr_assert_eq(pwrite(fd, &c, 1, at), 1);
	close(fd);

	s = open_spool(1 << 20, 0, RP_FSYNC_ALWAYS);
	cr_assert_eq(stats(s).corrupt_records, 0, "only a torn tail is judged at open");
	expect(s, 0, 2);
	expect(s, 2, 2);
	expect_end(s);
	cr_assert_eq(stats(s).corrupt_records, 1);
	cr_assert_eq(stats(s).corrupt_points, 5);
	rp_spool_close(s);
}

Test(spool, torn_tail_skipped_and_counted)
{
	struct rp_spool *s = open_spool(1 << 20, 0, RP_FSYNC_BATCH);
	char path[128];
	off_t size;

	append(s, 0, 3);
	append(s, 1, 3);
	append(s, 2, 7);
	rp_spool_close(s);

	/* A crash in the middle of writing record 2. */
	seg_path(path, sizeof(path), 1);
	size = file_size(path);
	cr_assert_eq(truncate(path, size - 40), 0);

	s = open_spool(1 << 20, 0, RP_FSYNC_BATCH);
	cr_assert_eq(stats(s).corrupt_records, 1);
	cr_assert_eq(stats(s).corrupt_points, 7);
	cr_assert_eq(stats(s).records, 2);
	cr_assert_eq(stats(s).points, 6);
	/* New records continue on a record boundary. */
	append(s, 3, 1);
	expect(s, 0, 3);
	expect(s, 1, 3);
	expect(s, 3, 1);
	expect_end(s);
	rp_spool_close(s);
}

Test(spool, torn_header_and_unwritten_payload_are_cut)
{
	struct rp_spool *s = open_spool(1 << 20, 0, RP_FSYNC_NEVER);
	char path[128];
	off_t size;
	int fd;

	append(s, 0, 2);
	append(s, 1, 2);
	rp_spool_close(s);
	seg_path(path, sizeof(path), 1);
	size = file_size(path);

	/* The length reached the disk but the payload did not (zeros). */
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	{
		char zeros[64] = {0};
		off_t last = size - 16 - (off_t)payload((char[8192]){0}, 8192, 1, 2);

		cr_assert_eq(pwrite(fd, zeros, sizeof(zeros), last + 16), (ssize_t)sizeof(zeros));
	}
	/* Plus half a header after it. */
	cr_assert_eq(pwrite(fd, "\x10\x00\x00", 3, size), 3);
	close(fd);

	s = open_spool(1 << 20, 0, RP_FSYNC_NEVER);
	cr_assert_eq(stats(s).corrupt_records, 2);
	expect(s, 0, 2);
	expect_end(s);
	rp_spool_close(s);
}

Test(spool, max_bytes_drops_oldest_segment_and_counts)
{
	/* Records are 16 + 4 * 37 bytes; 1 KiB segments hold 5; the bound holds ~4 segments. */
	struct rp_spool *s = open_spool(4096, 1024, RP_FSYNC_NEVER);
	struct rp_spool_stats st;
	unsigned first = 0, k;
	char got[8192];
	struct rp_spool_rec rec;

	for (k = 0; k < 200; k++) {
		append(s, k, 4);
		cr_assert_leq(stats(s).bytes, 4096, "over the bound after record %u", k);
	}
	st = stats(s);
	cr_assert_gt(st.overflow_records, 0);
	cr_assert_eq(st.overflow_points, st.overflow_records * 4);
	cr_assert_eq(st.records + st.overflow_records, 200);
	cr_assert_eq(st.points, st.records * 4);
	/* What is left is the newest records, in order, without a gap. */
	cr_assert_eq(rp_spool_read(s, got, sizeof(got), &rec), 1);
	sscanf(got, "m,rec=%u", &first);
	cr_assert_eq(first, st.overflow_records);
	for (k = first + 1; k < 200; k++)
		expect(s, k, 4);
	expect_end(s);
	rp_spool_close(s);
}

Test(spool, drop_while_reading_counts_only_unread)
{
	struct rp_spool *s = open_spool(4096, 1024, RP_FSYNC_NEVER);
	struct rp_spool_pos p;
	struct rp_spool_stats st;

	for (unsigned k = 0; k < 10; k++)
		append(s, k, 4);
	p = expect(s, 0, 4); /* in flight when its segment is dropped */
	for (unsigned k = 10; k < 40; k++)
		append(s, k, 4);
	st = stats(s);
	cr_assert_eq(st.records + st.overflow_records + 1, 40);
	rp_spool_release(s, &p); /* its segment is gone: harmless */
	rp_spool_close(s);
}

Test(spool, record_larger_than_the_bound_is_refused_and_counted)
{
	struct rp_spool *s = open_spool(1024, 0, RP_FSYNC_NEVER);
	char big[2048];

	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	cr_assert_eq(rp_spool_append(s, 0, 9, big, sizeof(big)), -EFBIG);
	cr_assert_eq(stats(s).overflow_records, 1);
	cr_assert_eq(stats(s).overflow_points, 9);
	cr_assert_eq(stats(s).bytes, 0);
	rp_spool_close(s);
}

Test(spool, fsync_modes_all_work)
{
	const int modes[] = {RP_FSYNC_BATCH, RP_FSYNC_ALWAYS, RP_FSYNC_NEVER};

	for (unsigned m = 0; m < 3; m++) {
		struct rp_spool *s = open_spool(1 << 20, 700, modes[m]);
		struct rp_spool_pos p;

		for (unsigned k = 0; k < 12; k++) {
			append(s, k, 3);
			cr_assert_eq(rp_spool_sync(s), 0);
		}
		rp_spool_close(s);
		s = open_spool(1 << 20, 700, modes[m]);
		for (unsigned k = 0; k < 12; k++) {
			p = expect(s, k, 3);
			rp_spool_release(s, &p);
		}
		expect_end(s);
		cr_assert_eq(stats(s).io_errors, 0);
		rp_spool_close(s);
	}
}

Test(spool, read_buffer_too_small_skips_and_counts)
{
	struct rp_spool *s = open_spool(1 << 20, 0, RP_FSYNC_NEVER);
	char small[16];
	struct rp_spool_rec rec;

	append(s, 0, 3);
	append(s, 1, 1);
	cr_assert_eq(rp_spool_read(s, small, sizeof(small), &rec), 0);
	cr_assert_eq(stats(s).corrupt_records, 2);
	rp_spool_close(s);
}

Test(spool, max_taken_bounds_outstanding_reads)
{
	struct rp_spool_opts o = {.dir = dir, .max_bytes = 1 << 20, .max_taken = 2};
	struct rp_spool *s;
	struct rp_spool_pos p;
	char why[128], got[8192];
	struct rp_spool_rec rec;

	cr_assert_eq(rp_spool_open(&s, &o, why, sizeof(why)), 0);
	for (unsigned k = 0; k < 3; k++)
		append(s, k, 1);
	p = expect(s, 0, 1);
	expect(s, 1, 1);
	cr_assert_eq(rp_spool_read(s, got, sizeof(got), &rec), -EBUSY);
	rp_spool_release(s, &p);
	expect(s, 2, 1);
	rp_spool_close(s);
}

Test(spool, second_open_is_refused_while_locked)
{
	struct rp_spool *s = open_spool(1 << 20, 0, RP_FSYNC_NEVER);
	struct rp_spool_opts o = {.dir = dir, .max_bytes = 1 << 20};
	struct rp_spool *t = NULL;
	char why[256] = "";

	cr_assert_eq(rp_spool_open(&t, &o, why, sizeof(why)), -EBUSY);
	cr_assert_null(t);
	cr_assert(strstr(why, "in use") != NULL, "why: %s", why);
	rp_spool_close(s);
	t = open_spool(1 << 20, 0, RP_FSYNC_NEVER);
	rp_spool_close(t);
}

Test(spool, foreign_and_empty_segment_files_are_removed)
{
	struct rp_spool *s;
	char path[128];
	FILE *f;

	mkdir(dir, 0700);
	seg_path(path, sizeof(path), 5);
	f = fopen(path, "w");
	fputs("this is not a spool segment at all", f);
	fclose(f);
	seg_path(path, sizeof(path), 6);
	f = fopen(path, "w"); /* created, then the crash */
	fclose(f);
	s = open_spool(1 << 20, 0, RP_FSYNC_NEVER);
	cr_assert_eq(stats(s).corrupt_records, 1);
	cr_assert_eq(count_segments(), 0);
	append(s, 0, 1);
	expect(s, 0, 1);
	rp_spool_close(s);
}

Test(spool, creates_missing_directories)
{
	char sub[128];
	struct rp_spool_opts o = {.max_bytes = 1 << 20};
	struct rp_spool *s;
	char why[128];

	snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
	o.dir = sub;
	cr_assert_eq(rp_spool_open(&s, &o, why, sizeof(why)), 0, "%s", why);
	rp_spool_close(s);
	cr_assert_eq(access(sub, W_OK), 0);
}

Test(spool, damaged_newest_segment_leaves_older_ones_readable)
{
	struct rp_spool *s = open_spool(1 << 20, 400, RP_FSYNC_NEVER);
	struct rp_spool_pos p[8];
	char path[128];
	int fd, nseg;

	for (unsigned k = 0; k < 8; k++)
		append(s, k, 2);
	rp_spool_close(s);
	nseg = count_segments();
	cr_assert_geq(nseg, 2);
	/* Overwrite the newest segment's magic: not a spool file any more. */
	seg_path(path, sizeof(path), (uint64_t)nseg);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, "XXXXXXXX", 8, 0), 8);
	close(fd);

	s = open_spool(1 << 20, 400, RP_FSYNC_NEVER);
	cr_assert_eq(stats(s).corrupt_records, 1);
	cr_assert_eq(count_segments(), nseg - 1);
	for (unsigned k = 0; k < 8; k++) {
		char got[8192];
		struct rp_spool_rec rec;

		if (rp_spool_read(s, got, sizeof(got), &rec) != 1) {
			cr_assert_gt(k, 0);
			break;
		}
		p[k] = rec.pos;
		rp_spool_release(s, &p[k]);
	}
	cr_assert_not(rp_spool_has_unread(s));
	cr_assert_eq(stats(s).bytes, 0, "drained: no bytes left");
	cr_assert_eq(count_segments(), 0);
	append(s, 50, 1);
	expect(s, 50, 1);
	rp_spool_close(s);
}

/* ---- files planted in the spool directory (it belongs to the unprivileged user) ---- */

/* A file outside the spool holding `text`; its path in `out`. */
static void outside_file(char *out, size_t len, const char *text)
{
	char tmpl[] = "/tmp/rp-spool-target-XXXXXX";
	int fd = mkstemp(tmpl);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(out, len, "%s", tmpl);
}

static void assert_untouched(const char *path, const char *text)
{
	char buf[256] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0, "%s is gone", path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_eq(n, (ssize_t)strlen(text), "%s: %zd bytes, want %zu", path, n, strlen(text));
	cr_assert_str_eq(buf, text, "%s was written to", path);
	unlink(path);
}

/* Plants <dir>/<name> -> a file outside, opens the spool: refused, naming the path, and
 * the file outside untouched (not truncated, not overwritten, still there). */
static void refuses_planted_symlink(const char *name)
{
	const char *text = "precious: not the spool's\n";
	struct rp_spool_opts o = {.dir = dir, .max_bytes = 1 << 20};
	struct rp_spool *s = NULL;
	char target[64], link[128], why[512] = "";
	int ret;

	outside_file(target, sizeof(target), text);
	snprintf(link, sizeof(link), "%s/%s", dir, name);
	cr_assert_eq(symlink(target, link), 0);
	ret = rp_spool_open(&s, &o, why, sizeof(why));
	cr_assert_eq(ret, -ELOOP, "open: %d %s", ret, why);
	cr_assert_null(s);
	cr_assert(strstr(why, link) != NULL, "why does not name %s: %s", link, why);
	cr_assert(strstr(why, "symbolic link") != NULL, "why: %s", why);
	assert_untouched(target, text);
}

Test(spool, symlinked_cursor_is_refused_and_its_target_untouched)
{
	refuses_planted_symlink("cursor");
}

Test(spool, symlinked_lock_is_refused_and_its_target_untouched)
{
	refuses_planted_symlink("lock");
}

Test(spool, symlinked_segment_is_refused_and_its_target_untouched)
{
	refuses_planted_symlink("0000000000000001.seg");
}

/* The segment the next append creates, planted after open: neither followed nor
 * truncated; the append fails and is counted. */
Test(spool, symlink_planted_as_the_next_segment_is_not_followed)
{
	const char *text = "precious: not the spool's\n";
	struct rp_spool *s = open_spool(1 << 20, 0, RP_FSYNC_NEVER);
	char target[64], link[128], buf[256];
	size_t n = payload(buf, sizeof(buf), 1, 1);

	outside_file(target, sizeof(target), text);
	seg_path(link, sizeof(link), 1);
	cr_assert_eq(symlink(target, link), 0);
	cr_assert_lt(rp_spool_append(s, 0, 1, buf, n), 0);
	cr_assert_eq(stats(s).overflow_records, 1);
	cr_assert_geq(stats(s).io_errors, 1);
	rp_spool_close(s);
	assert_untouched(target, text);
}

/* A hard link to someone else's file under the cursor's name is not ours either. */
Test(spool, hard_linked_cursor_is_refused)
{
	const char *text = "precious: not the spool's\n";
	struct rp_spool_opts o = {.dir = dir, .max_bytes = 1 << 20};
	struct rp_spool *s = NULL;
	char target[128], lnk[128], why[512] = "";

	/* Same file system as the spool, or link() cannot work. */
	snprintf(target, sizeof(target), "%s.target", dir);
	{
		FILE *f = fopen(target, "w");

		cr_assert_not_null(f);
		fputs(text, f);
		fclose(f);
	}
	snprintf(lnk, sizeof(lnk), "%s/cursor", dir);
	cr_assert_eq(link(target, lnk), 0);
	cr_assert_eq(rp_spool_open(&s, &o, why, sizeof(why)), -EINVAL, "%s", why);
	cr_assert(strstr(why, lnk) != NULL, "why: %s", why);
	unlink(lnk);
	assert_untouched(target, text);
}

/* ---- I/O faults: unsent data stays on disk, counted, and is retried ---- */

/* The oldest segment cannot be opened while its path holds a directory (a real fault,
 * as root too): the read fails and is counted, nothing is skipped or unlinked, and
 * once the file is back the same records come out, in order. */
Test(spool, unreadable_segment_during_replay_stays_and_is_retried)
{
	struct rp_spool *s = open_spool(1 << 20, 400, RP_FSYNC_NEVER);
	struct rp_spool_pos p[6];
	char path[128], aside[160], got[8192];
	struct rp_spool_rec rec;
	int nseg;

	for (unsigned k = 0; k < 6; k++)
		append(s, k, 2);
	rp_spool_close(s);
	nseg = count_segments();
	cr_assert_geq(nseg, 2);
	s = open_spool(1 << 20, 400, RP_FSYNC_NEVER);

	seg_path(path, sizeof(path), 1);
	snprintf(aside, sizeof(aside), "%s.aside", path);
	cr_assert_eq(rename(path, aside), 0);
	cr_assert_eq(mkdir(path, 0700), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_lt(rp_spool_read(s, got, sizeof(got), &rec), 0, "try %d", i);
		cr_assert(rp_spool_has_unread(s));
	}
	cr_assert_geq(stats(s).io_errors, 3);
	cr_assert(stats(s).read_failing);
	cr_assert_eq(count_segments(), nseg, "a segment was unlinked");
	cr_assert_eq(stats(s).corrupt_records, 0);

	cr_assert_eq(rmdir(path), 0);
	cr_assert_eq(rename(aside, path), 0);
	for (unsigned k = 0; k < 6; k++)
		p[k] = expect(s, k, 2);
	cr_assert_not(stats(s).read_failing);
	for (unsigned k = 0; k < 6; k++)
		rp_spool_release(s, &p[k]);
	expect_end(s);
	rp_spool_close(s);
}

/* A failed fsync (mode always) closes the segment: the next append starts a new one,
 * and the records of the old one are still replayed, in order. */
Test(spool, failed_fsync_always_starts_a_new_segment)
{
	struct rp_spool *s = open_spool(1 << 20, 0, RP_FSYNC_ALWAYS);
	struct rp_spool_pos p[3];

	append(s, 0, 2);
	fail_fdatasync = 1;
	append(s, 1, 2);
	fail_fdatasync = 0;
	cr_assert_eq(stats(s).io_errors, 1);
	cr_assert_eq(count_segments(), 1);
	append(s, 2, 2);
	cr_assert_eq(count_segments(), 2, "no new segment after the failed fsync");
	for (unsigned k = 0; k < 3; k++)
		p[k] = expect(s, k, 2);
	cr_assert_eq(p[2].seq, p[0].seq + 1);
	for (unsigned k = 0; k < 3; k++)
		rp_spool_release(s, &p[k]);
	expect_end(s);
	rp_spool_close(s);
}

/* The same in mode batch: rp_spool_sync() reports the failure and the segment closes. */
Test(spool, failed_fsync_batch_starts_a_new_segment)
{
	struct rp_spool *s = open_spool(1 << 20, 0, RP_FSYNC_BATCH);

	append(s, 0, 2);
	append(s, 1, 2);
	fail_fdatasync = 1;
	cr_assert_eq(rp_spool_sync(s), -EIO);
	fail_fdatasync = 0;
	cr_assert_eq(stats(s).io_errors, 1);
	append(s, 2, 2);
	cr_assert_eq(rp_spool_sync(s), 0);
	cr_assert_eq(count_segments(), 2, "no new segment after the failed fsync");
	expect(s, 0, 2);
	expect(s, 1, 2);
	expect(s, 2, 2);
	rp_spool_close(s);
	/* Reopened: all three are still there, unreleased. */
	s = open_spool(1 << 20, 0, RP_FSYNC_BATCH);
	expect(s, 0, 2);
	expect(s, 1, 2);
	expect(s, 2, 2);
	rp_spool_close(s);
}

/* A full disk (a 1 MiB tmpfs in this test's own mount namespace) frees nothing unsent:
 * the record that did not fit is refused and counted, every record before it is still
 * there and readable, and appends work again once replay frees room. */
Test(spool, full_disk_frees_nothing_unsent)
{
	struct rp_spool *s;
	struct rp_spool_stats before;
	char buf[8192];
	unsigned n = 0;
	int ret = 0, segs;

	cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare: %s", strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	cr_assert_eq(mount("tmpfs", dir, "tmpfs", 0, "size=1m"), 0, "mount: %s", strerror(errno));
	s = open_spool(64 << 20, 256 << 10, RP_FSYNC_NEVER);
	for (; n < 256; n++) {
		size_t len = payload(buf, sizeof(buf), n, 190);

		before = stats(s);
		segs = count_segments();
		ret = rp_spool_append(s, (uint8_t)(n & 1), 190, buf, len);
		if (ret < 0)
			break;
	}
	cr_assert_eq(ret, -ENOSPC, "append %u: %d", n, ret);
	cr_assert_gt(n, 16);
	cr_assert_geq(count_segments(), segs, "a segment was removed to make room");
	cr_assert_eq(stats(s).records, before.records, "unsent records were freed");
	cr_assert_eq(stats(s).overflow_records, before.overflow_records + 1);
	cr_assert_geq(stats(s).io_errors, 1);
	for (unsigned k = 0; k < n; k++) {
		struct rp_spool_pos pos = expect(s, k, 190);

		rp_spool_release(s, &pos);
	}
	expect_end(s);
	append(s, 1000, 2);
	expect(s, 1000, 2);
	rp_spool_close(s);
	umount2(dir, MNT_DETACH);
}

/* EIO while the spool opens: the oldest segment is kept whole (not taken for a foreign
 * file and unlinked), counted, and read back once the disk answers again. The same
 * for the newest one, whose last record the open checks (not cut off). */
static void eio_at_open_keeps(uint64_t bad_seq, bool newest)
{
	struct rp_spool *s = open_spool(1 << 20, 400, RP_FSYNC_NEVER);
	char name[32], got[8192], path[128];
	struct rp_spool_rec rec;
	off_t size;
	int nseg;

	for (unsigned k = 0; k < 6; k++)
		append(s, k, 2);
	rp_spool_close(s);
	nseg = count_segments();
	cr_assert_geq(nseg, 2);
	if (newest)
		bad_seq = (uint64_t)nseg;
	seg_path(path, sizeof(path), bad_seq);
	size = file_size(path);
	snprintf(name, sizeof(name), "/%016llx.seg", (unsigned long long)bad_seq);

	fail_pread_name = name;
	s = open_spool(1 << 20, 400, RP_FSYNC_NEVER);
	cr_assert_eq(count_segments(), nseg, "a segment was unlinked");
	cr_assert_eq(file_size(path), size, "the unreadable segment was cut");
	cr_assert_geq(stats(s).io_errors, 1);
	cr_assert_eq(stats(s).corrupt_records, 0);
	if (bad_seq == 1) {
		cr_assert_lt(rp_spool_read(s, got, sizeof(got), &rec), 0);
		cr_assert(stats(s).read_failing);
	}
	fail_pread_name = NULL;
	for (unsigned k = 0; k < 6; k++) {
		struct rp_spool_pos pos = expect(s, k, 2);

		rp_spool_release(s, &pos);
	}
	/* New data goes to a new segment, not after a tail the open could not check. */
	append(s, 7, 2);
	expect(s, 7, 2);
	expect_end(s);
	rp_spool_close(s);
}

Test(spool, eio_at_open_keeps_the_oldest_segment)
{
	eio_at_open_keeps(1, false);
}

Test(spool, eio_at_open_keeps_the_newest_segment_uncut)
{
	eio_at_open_keeps(0, true);
}

/* EIO on a record's read during replay: nothing skipped, counted, read_failing while it
 * lasts, and the same record comes out once the disk answers. */
Test(spool, eio_at_read_during_replay_skips_nothing)
{
	struct rp_spool *s = open_spool(1 << 20, 0, RP_FSYNC_NEVER);
	char name[32], got[8192];
	struct rp_spool_rec rec;
	struct rp_spool_pos pos;

	for (unsigned k = 0; k < 3; k++)
		append(s, k, 2);
	pos = expect(s, 0, 2);
	rp_spool_release(s, &pos);
	snprintf(name, sizeof(name), "/%016llx.seg", (unsigned long long)pos.seq);
	fail_pread_name = name;
	for (int i = 0; i < 3; i++)
		cr_assert_eq(rp_spool_read(s, got, sizeof(got), &rec), -EIO, "try %d", i);
	fail_pread_name = NULL;
	cr_assert_eq(stats(s).io_errors, 3);
	cr_assert(stats(s).read_failing);
	cr_assert_eq(stats(s).corrupt_records, 0);
	for (unsigned k = 1; k < 3; k++) {
		pos = expect(s, k, 2);
		rp_spool_release(s, &pos);
	}
	cr_assert_not(stats(s).read_failing);
	expect_end(s);
	rp_spool_close(s);
}
