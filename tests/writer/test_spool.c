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
#include <sys/stat.h>
#include <unistd.h>

#include "writer/writer_int.h"

static char dir[64];

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
