/* fuzz-sources: src/writer/spool.c src/writer/spool_open.c src/writer/spool_append.c
 * src/writer/spool_read.c src/writer/line.c src/util/addr.c src/util/xalloc.c src/ops/log.c
 * src/probe/icmp.c src/util/siphash.c */
/* fuzz-pkgs: zlib */
/* The disk spool (src/writer/spool*.c) opening, recovering and replaying what it finds
 * on disk, in a directory of its own (under /dev/shm when there is one), emptied before
 * each input. Byte 0 picks the mode:
 *   even  raw files: the input becomes the cursor file and up to three segment files
 *         (each optionally starting with a valid segment header), then the spool is
 *         opened and read to the end. Every record it hands out must be, byte for
 *         byte, a record with a good CRC at that position of the file written.
 *   odd   a spool written by rp_spool_append (records, segment size and how many are
 *         read and released first all from the input), closed, then one file (a segment
 *         or the cursor) truncated at offset K, or one byte at K changed, or left alone;
 *         reopened and read to the end. Untouched: exactly the unreleased records come
 *         back, in order. A segment truncated at K: exactly those less the ones in that
 *         segment not wholly before K. A changed byte in a segment: an in-order subset
 *         of the unreleased records holding every one outside that segment or wholly
 *         before K. A damaged cursor: the unreleased records, after an in-order subset
 *         of released ones (a lost cursor may replay, never lose).
 * Then, in both modes, a record appended after the replay reads back as written, and
 * the spool, reopened, has nothing left to read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ringprobe/log.h"
#include "writer/writer_int.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_writer_spool: check failed at line %d: %s\n",        \
				__LINE__, #c);                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAX_RECS 32
#define MAX_SEGS 3
#define MAX_OUT 256
#define BIG (1u << 16)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t n;
};

/* A record appended (mode odd) or handed out. */
struct rec {
	uint8_t kind;
	uint32_t points;
	const unsigned char *data;
	size_t len;
	uint64_t seq, off; /* where it was appended */
};

static char dir[64];
static int dirfd_ = -1;
static unsigned char readbuf[BIG];
static unsigned char pool[MAX_RECS * 256];
static unsigned char files[MAX_SEGS + 1][BIG]; /* mode even: what was written */
static size_t file_len[MAX_SEGS + 1];
static struct rec out[MAX_OUT];
static unsigned char outdata[MAX_OUT][256];

static uint8_t take8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t take16(struct input *in)
{
	return (uint16_t)(take8(in) << 8 | take8(in));
}

static void empty_dir(void)
{
	int fd = dup(dirfd_);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	CHECK(d != NULL);
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd_, de->d_name, 0);
	closedir(d);
}

static void remove_dir(void)
{
	empty_dir();
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/fuzz_writer_spool.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir) || (dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror("fuzz_writer_spool: set-up");
		abort();
	}
	atexit(remove_dir);
	/* open logs an unreadable segment; keep the fuzzer's output readable */
	rp_log_setup(RP_LOG_TEXT, RP_LOG_ERROR);
	return 0;
}

static void write_file(const char *name, const void *p, size_t n)
{
	int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	CHECK(write(fd, p, n) == (ssize_t)n);
	close(fd);
}

static int truncate_at(const char *name, uint64_t k)
{
	int fd = openat(dirfd_, name, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = ftruncate(fd, (off_t)k) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static struct rp_spool *open_spool(uint64_t segment_bytes)
{
	struct rp_spool_opts o = {
	    .dir = dir,
	    .max_bytes = 1 << 20,
	    .fsync = RP_FSYNC_NEVER,
	    .segment_bytes = segment_bytes,
	};
	struct rp_spool *s = NULL;
	char why[512];

	if (rp_spool_open(&s, &o, why, sizeof(why)) < 0)
		return NULL;
	return s;
}

/* Reads every record to the end, releasing each; returns how many (in out[]). */
static size_t drain(struct rp_spool *s, size_t cap)
{
	struct rp_spool_rec r;
	size_t n = 0;
	int ret;

	while ((ret = rp_spool_read(s, readbuf, cap, &r)) == 1) {
		CHECK(r.len <= cap && n < MAX_OUT && r.len <= sizeof(outdata[0]));
		out[n] = (struct rec){r.kind, r.points, outdata[n], r.len, r.pos.seq, r.pos.off};
		memcpy(outdata[n], readbuf, r.len);
		n++;
		rp_spool_release(s, &r.pos);
	}
	CHECK(ret == 0);
	CHECK(!rp_spool_has_unread(s));
	return n;
}

static bool same(const struct rec *a, const struct rec *b)
{
	return a->kind == b->kind && a->points == b->points && a->len == b->len &&
	       memcmp(a->data, b->data, a->len) == 0;
}

/* The same record at the same place (records may repeat). */
static bool same_at(const struct rec *a, const struct rec *b)
{
	return same(a, b) && a->seq == b->seq && a->off == b->off;
}

/* After a replay: one more record goes in and comes back as written; reopened, the
 * spool is empty. */
static void check_append_after(struct rp_spool *s, uint64_t segment_bytes)
{
	static const char line[] = "ping,ip=192.0.2.1 rtt=1.5 1\n";
	struct rp_spool_rec r;

	CHECK(rp_spool_append(s, 7, 1, line, sizeof(line) - 1) == 0);
	CHECK(rp_spool_has_unread(s));
	CHECK(rp_spool_read(s, readbuf, BIG, &r) == 1);
	CHECK(r.kind == 7 && r.points == 1 && r.len == sizeof(line) - 1);
	CHECK(memcmp(readbuf, line, r.len) == 0);
	rp_spool_release(s, &r.pos);
	CHECK(rp_spool_read(s, readbuf, BIG, &r) == 0);
	rp_spool_close(s);
	s = open_spool(segment_bytes);
	CHECK(s != NULL);
	CHECK(!rp_spool_has_unread(s));
	CHECK(rp_spool_read(s, readbuf, BIG, &r) == 0);
	rp_spool_close(s);
}

/* Mode even: the files come from the input. */
static void fuzz_raw(struct input *in)
{
	uint8_t flags = take8(in), capsel = take8(in);
	size_t cap = capsel < 200 ? BIG : (size_t)(capsel - 200) * 4;
	unsigned nseg = flags % (MAX_SEGS + 1);
	uint64_t seqs[MAX_SEGS];
	struct rp_spool *s;
	size_t n;

	/* the cursor: raw bytes, or a valid one pointing where the input says */
	if (flags & 0x10) {
		unsigned char *c = files[MAX_SEGS];
		uint64_t seq = take8(in) % 5, off = take16(in);

		rp_spool__put32(c, 0x52504355u);
		for (int i = 0; i < 8; i++) {
			c[4 + i] = (unsigned char)(seq >> (8 * i));
			c[12 + i] = (unsigned char)(off >> (8 * i));
		}
		rp_spool__put32(c + 20, (uint32_t)crc32(0, c, 20));
		file_len[MAX_SEGS] = 24;
		write_file("cursor", c, 24);
	} else if (flags & 0x20) {
		size_t len = take8(in) % 32;

		len = len < in->n ? len : in->n;
		memcpy(files[MAX_SEGS], in->p, len);
		in->p += len;
		in->n -= len;
		write_file("cursor", files[MAX_SEGS], len);
	}
	for (unsigned i = 0; i < nseg; i++) {
		unsigned char *f = files[i];
		size_t len = take16(in), hdr = 0;
		char name[32];

		seqs[i] = 1 + i + (take8(in) & 3);
		if (i && seqs[i] <= seqs[i - 1])
			seqs[i] = seqs[i - 1] + 1;
		if (flags & (0x40 << (i & 1))) { /* a valid header first */
			memcpy(f, RP_SPOOL_SEG_MAGIC, 8);
			rp_spool__put32(f + 8, RP_SPOOL_SEG_VERSION);
			rp_spool__put32(f + 12, 0);
			hdr = RP_SPOOL_SEG_HDR;
		}
		if (len > in->n)
			len = in->n;
		if (len > BIG - hdr)
			len = BIG - hdr;
		memcpy(f + hdr, in->p, len);
		in->p += len;
		in->n -= len;
		file_len[i] = hdr + len;
		rp_spool__seg_name(name, sizeof(name), seqs[i]);
		write_file(name, f, file_len[i]);
	}
	s = open_spool(0);
	if (!s)
		return;
	n = drain(s, cap);
	for (size_t k = 0; k < n; k++) {
		const struct rec *r = &out[k];
		const unsigned char *f = NULL;
		uint32_t crc;

		for (unsigned i = 0; i < nseg; i++)
			if (seqs[i] == r->seq)
				f = files[i];
		CHECK(f != NULL);
		for (unsigned i = 0; i < nseg; i++)
			if (seqs[i] == r->seq)
				CHECK(r->off >= RP_SPOOL_SEG_HDR &&
				      r->off + RP_SPOOL_REC_HDR + r->len <= file_len[i]);
		CHECK(rp_spool__get32(f + r->off) == r->len + RP_SPOOL_META_LEN);
		CHECK(rp_spool__get32(f + r->off + 8) == r->points && f[r->off + 12] == r->kind);
		CHECK(memcmp(f + r->off + RP_SPOOL_REC_HDR, r->data, r->len) == 0);
		crc = (uint32_t)crc32(0, f + r->off + 8, RP_SPOOL_META_LEN);
		crc = (uint32_t)crc32(crc, r->data, (uInt)r->len);
		CHECK(rp_spool__get32(f + r->off + 4) == crc);
	}
	check_append_after(s, 0);
}

/* Whether out[0..n) is recs[want..nrec) less the ones `lost` says, in order. */
static bool is_exactly(const struct rec *recs, size_t nrec, size_t from, const bool *lost, size_t n)
{
	size_t k = 0;

	for (size_t i = from; i < nrec; i++) {
		if (lost && lost[i])
			continue;
		if (k >= n || !same_at(&out[k], &recs[i]))
			return false;
		k++;
	}
	return k == n;
}

/* Whether out[0..n) is an in-order subset of recs[from..nrec) holding every record
 * `must` names. */
static bool is_subset(const struct rec *recs, size_t nrec, size_t from, const bool *must, size_t n)
{
	size_t k = 0;

	for (size_t i = from; i < nrec; i++) {
		if (k < n && same_at(&out[k], &recs[i])) {
			k++;
			continue;
		}
		if (must && must[i])
			return false;
	}
	return k == n;
}

/* Mode odd: a spool written through the API, then damaged. */
static void fuzz_damaged(struct input *in)
{
	static struct rec recs[MAX_RECS];
	static bool flag[MAX_RECS];
	uint64_t segment_bytes = 64 + (uint64_t)(take8(in) % 16) * 32;
	size_t nrec = take8(in) % (MAX_RECS + 1), released, used = 0, n;
	uint8_t target, op, v;
	uint64_t seq = 1, wsize = RP_SPOOL_SEG_HDR, maxseq = 0, fsize, k;
	struct rp_spool_rec r;
	struct rp_spool *s = open_spool(segment_bytes);
	char name[32];
	struct stat sb;

	CHECK(s != NULL);
	for (size_t i = 0; i < nrec; i++) {
		struct rec *x = &recs[i];
		uint64_t size;

		x->kind = take8(in);
		x->points = take8(in);
		x->len = take8(in) % 200;
		/* line protocol is text: no byte string in it can pass for a record header */
		for (size_t j = 0; j < x->len; j++) {
			uint8_t b = take8(in);

			pool[used + j] = b == 0xff ? '\n' : (unsigned char)(' ' + b % 95);
		}
		x->data = pool + used;
		used += x->len;
		/* where rp_spool_append puts it: a new segment when this one would pass
		 * segment_bytes (max_bytes is far away) */
		size = RP_SPOOL_REC_HDR + x->len;
		if (wsize > RP_SPOOL_SEG_HDR && wsize + size > segment_bytes) {
			seq++;
			wsize = RP_SPOOL_SEG_HDR;
		}
		x->seq = seq;
		x->off = wsize;
		wsize += size;
		maxseq = seq;
		CHECK(rp_spool_append(s, x->kind, x->points, x->data, x->len) == 0);
	}
	released = nrec ? take8(in) % (nrec + 1) : 0;
	for (size_t i = 0; i < released; i++) {
		struct rec got;

		CHECK(rp_spool_read(s, readbuf, BIG, &r) == 1);
		got = (struct rec){r.kind, r.points, readbuf, r.len, r.pos.seq, r.pos.off};
		CHECK(same(&got, &recs[i]) && r.pos.seq == recs[i].seq && r.pos.off == recs[i].off);
		rp_spool_release(s, &r.pos);
	}
	rp_spool_close(s);

	/* the damage: to segment `target` (1..maxseq) or the cursor (0) */
	target = take8(in);
	op = take8(in) % 3;
	k = take16(in);
	v = take8(in) | 1;
	target = maxseq ? target % (maxseq + 1) : 0;
	if (target)
		rp_spool__seg_name(name, sizeof(name), target);
	else
		snprintf(name, sizeof(name), "cursor");
	if (fstatat(dirfd_, name, &sb, 0) < 0)
		op = 2; /* released and gone: nothing to damage */
	fsize = op == 2 ? 0 : (uint64_t)sb.st_size;
	if (op == 0) {
		k %= fsize + 1;
		CHECK(truncate_at(name, k) == 0);
	} else if (op == 1 && fsize) {
		int fd = openat(dirfd_, name, O_RDWR | O_CLOEXEC);
		unsigned char b;

		k %= fsize;
		CHECK(fd >= 0 && pread(fd, &b, 1, (off_t)k) == 1);
		b ^= v;
		CHECK(pwrite(fd, &b, 1, (off_t)k) == 1);
		close(fd);
	} else {
		op = 2;
	}

	s = open_spool(segment_bytes);
	CHECK(s != NULL);
	n = drain(s, BIG);
	for (size_t i = 0; i < nrec; i++)
		flag[i] = recs[i].seq == target && recs[i].off + RP_SPOOL_REC_HDR + recs[i].len > k;
	if (op == 2) {
		CHECK(is_exactly(recs, nrec, released, NULL, n));
	} else if (target == 0) {
		/* a damaged cursor: replay from the oldest segment still there */
		size_t lead = n >= nrec - released ? n - (nrec - released) : 0;

		CHECK(n >= nrec - released);
		CHECK(is_subset(recs, released, 0, NULL, lead));
		memmove(out, out + lead, (n - lead) * sizeof(out[0]));
		CHECK(is_exactly(recs, nrec, released, NULL, n - lead));
	} else if (op == 0) {
		CHECK(is_exactly(recs, nrec, released, flag, n));
	} else {
		for (size_t i = 0; i < nrec; i++)
			flag[i] = !flag[i];
		CHECK(is_subset(recs, nrec, released, flag, n));
	}
	check_append_after(s, segment_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t mode = take8(&in);

	empty_dir();
	if (mode & 1)
		fuzz_damaged(&in);
	else
		fuzz_raw(&in);
	return 0;
}
