/* Disk spool: batches the sink could not take wait here, in append-only segment files
 * of length + CRC32 records, and are read back oldest first (format in writer_int.h).
 *
 * Owned by one thread (the writer's). Nothing allocates after rp_spool_open(): records
 * go straight from the caller's buffer to pwritev() and back with preadv().
 *
 * Durability: fsync "always" syncs every record, "batch" whatever rp_spool_sync()
 * finds appended since the last call, "never" leaves it to the kernel. The cursor
 * file is never synced: a stale cursor can only replay a record twice, not lose one.
 *
 * What a crash can leave: a torn record at the end of the newest segment (cut off and
 * counted at open), a segment shorter than its header (removed), segments the cursor
 * already passed (removed). A record failing its CRC elsewhere is skipped and counted
 * when the reader reaches it. */
#include "writer/writer_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "ringprobe/xalloc.h"

#define SEG_MAGIC "RPSPOOL1"
#define SEG_VERSION 1u
#define CURSOR_MAGIC 0x52504355u /* "RPCU" */
#define CURSOR_LEN 24u
#define META_LEN 8u /* points + kind + pad, the payload's first bytes */
#define SCAN_CHUNK (64u << 10)

struct rp_spool {
	int dirfd;
	int lockfd;
	int curfd; /* cursor file */
	int fsync_mode;
	uint64_t max_bytes;
	uint64_t seg_bytes;

	/* Segments on disk are numbered [first_seq, next_seq); only the ones found at open
	 * may have holes between them, so `found` (sorted) is kept to step over those. */
	uint64_t first_seq;
	uint64_t next_seq;
	uint64_t *found;
	size_t nfound;

	int wfd; /* the append segment, next_seq - 1, or -1 when none is open */
	uint64_t wsize;
	bool dirty; /* appended since the last fdatasync (fsync batch) */

	uint64_t rseq; /* reader: next record at (rseq, roff) */
	uint64_t roff;
	int rfd; /* segment rseq, or -1 */
	uint64_t rsize;

	struct rp_spool_pos *taken; /* read, not yet released */
	unsigned ntaken;
	unsigned max_taken;
	struct rp_spool_pos commit; /* what the cursor file says */

	unsigned char *scratch; /* SCAN_CHUNK bytes, used only by open */
	struct rp_spool_stats st;
};

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void seg_name(char *buf, size_t len, uint64_t seq)
{
	snprintf(buf, len, "%016" PRIx64 ".seg", seq);
}

/* "0123456789abcdef.seg" -> seq; false for anything else in the directory. */
static bool parse_seg_name(const char *name, uint64_t *seq)
{
	uint64_t v = 0;

	if (strlen(name) != 20 || strcmp(name + 16, ".seg") != 0)
		return false;
	for (int i = 0; i < 16; i++) {
		char c = name[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*seq = v;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void sub_clamped(uint64_t *v, uint64_t n)
{
	*v = *v > n ? *v - n : 0;
}

/* A record header's point count, trusted only when it could be true (a point is at
 * least 6 bytes: "m f=1\n"). Used to count what a damaged record held. */
static uint64_t plausible_points(uint32_t len, uint32_t points)
{
	return len >= META_LEN && points <= (len - META_LEN) / 6 ? points : 0;
}

static void count_corrupt(struct rp_spool *s, uint64_t points)
{
	s->st.corrupt_records++;
	s->st.corrupt_points += points;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static bool seq_exists(const struct rp_spool *s, uint64_t seq)
{
	size_t lo = 0, hi = s->nfound;

	if (seq < s->first_seq || seq >= s->next_seq)
		return false;
	if (!s->nfound || seq > s->found[s->nfound - 1])
		return true;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->found[mid] < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nfound && s->found[lo] == seq;
}

/* The first segment after `seq`, or next_seq when there is none. */
static uint64_t next_existing(const struct rp_spool *s, uint64_t seq)
{
	for (uint64_t n = seq + 1; n < s->next_seq; n++) {
		if (seq_exists(s, n))
			return n;
		/* Jump over a hole among the segments found at open. */
		for (size_t i = 0; i < s->nfound; i++)
			if (s->found[i] > n) {
				n = s->found[i] - 1;
				break;
			}
	}
	return s->next_seq;
}

static void write_cursor(struct rp_spool *s, struct rp_spool_pos pos)
{
	unsigned char b[CURSOR_LEN];

	if (pos.seq == s->commit.seq && pos.off == s->commit.off)
		return;
	put32(b, CURSOR_MAGIC);
	put64(b + 4, pos.seq);
	put64(b + 12, pos.off);
	put32(b + 20, (uint32_t)crc32(0, b, 20));
	if (pwrite(s->curfd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		s->st.io_errors++;
	s->commit = pos;
}

static void close_append(struct rp_spool *s)
{
	if (s->wfd < 0)
		return;
	if (s->fsync_mode != RP_FSYNC_NEVER && fdatasync(s->wfd) < 0)
		s->st.io_errors++;
	/* A reader inside this segment sized it while it was still growing. */
	if (s->rfd >= 0 && s->rseq == s->next_seq - 1)
		s->rsize = s->wsize;
	close(s->wfd);
	s->wfd = -1;
	s->dirty = false;
}

static void unlink_seg(struct rp_spool *s, uint64_t seq)
{
	char name[32];
	struct stat sb;

	seg_name(name, sizeof(name), seq);
	if (fstatat(s->dirfd, name, &sb, 0) == 0)
		sub_clamped(&s->st.bytes, (uint64_t)sb.st_size);
	if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
		s->st.io_errors++;
	sub_clamped(&s->st.segments, 1);
}

/* Walks record headers of segment `fd` from `off` to `size`, for counting. */
static void walk_headers(int fd, uint64_t off, uint64_t size, uint64_t *records, uint64_t *points)
{
	unsigned char h[RP_SPOOL_REC_HDR];

	while (size - off >= RP_SPOOL_REC_HDR) {
		uint32_t len;

		if (pread(fd, h, sizeof(h), (off_t)off) != (ssize_t)sizeof(h))
			return;
		len = get32(h);
		if (len < META_LEN || len > RP_SPOOL_MAX_RECORD + META_LEN || off + 8 + len > size)
			return;
		*records += 1;
		*points += plausible_points(len, get32(h + 8));
		off += 8 + (uint64_t)len;
	}
}

/* Removes the oldest segment to make room; its unread records count as overflow. */
static void drop_oldest(struct rp_spool *s)
{
	uint64_t seq = s->first_seq;

	if (s->wfd >= 0 && seq == s->next_seq - 1)
		close_append(s);
	if (s->rseq == seq) {
		uint64_t records = 0, points = 0;
		char name[32];
		struct stat sb;
		int fd;

		seg_name(name, sizeof(name), seq);
		fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (fstat(fd, &sb) == 0)
				walk_headers(fd, s->roff, (uint64_t)sb.st_size, &records, &points);
			close(fd);
		}
		s->st.overflow_records += records;
		s->st.overflow_points += points;
		sub_clamped(&s->st.records, records);
		sub_clamped(&s->st.points, points);
		if (s->rfd >= 0)
			close(s->rfd);
		s->rfd = -1;
		s->rseq = next_existing(s, seq);
		s->roff = RP_SPOOL_SEG_HDR;
	}
	unlink_seg(s, seq);
	s->first_seq = next_existing(s, seq);
}

/* Size of the newest segment as the reader knows it (UINT64_MAX: not known yet). */
static uint64_t last_size(const struct rp_spool *s)
{
	if (s->wfd >= 0)
		return s->wsize;
	return s->rfd >= 0 ? s->rsize : UINT64_MAX;
}

/* Moves the cursor to the oldest record not yet settled and unlinks what lies before. */
static void settle(struct rp_spool *s)
{
	struct rp_spool_pos c = {s->rseq, s->roff};

	for (unsigned i = 0; i < s->ntaken; i++)
		if (s->taken[i].seq < c.seq ||
		    (s->taken[i].seq == c.seq && s->taken[i].off < c.off))
			c = s->taken[i];
	if (c.seq < s->first_seq) {
		write_cursor(s, c);
		return;
	}
	while (s->first_seq < c.seq) {
		uint64_t seq = s->first_seq;

		s->first_seq = next_existing(s, seq);
		unlink_seg(s, seq);
	}
	/* Everything read and settled, up to the end of the last segment: start afresh so
	 * a drained spool holds no bytes. */
	if (s->ntaken == 0 && s->rseq == s->next_seq - 1 && s->roff >= last_size(s)) {
		close_append(s);
		if (s->rfd >= 0)
			close(s->rfd);
		s->rfd = -1;
		unlink_seg(s, s->rseq);
		s->first_seq = s->next_seq;
		s->rseq = s->next_seq;
		s->roff = RP_SPOOL_SEG_HDR;
		c.seq = s->rseq;
		c.off = s->roff;
	}
	if (s->first_seq == s->next_seq) {
		s->st.records = 0;
		s->st.points = 0;
	}
	write_cursor(s, c);
}

static int create_segment(struct rp_spool *s)
{
	unsigned char h[RP_SPOOL_SEG_HDR] = {0};
	char name[32];
	int fd;

	seg_name(name, sizeof(name), s->next_seq);
	fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	memcpy(h, SEG_MAGIC, 8);
	put32(h + 8, SEG_VERSION);
	if (pwrite(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		int ret = errno ? -errno : -EIO;

		close(fd);
		unlinkat(s->dirfd, name, 0);
		return ret;
	}
	if (s->fsync_mode != RP_FSYNC_NEVER && fsync(s->dirfd) < 0)
		s->st.io_errors++;
	if (s->first_seq == s->next_seq && s->rseq == s->next_seq)
		s->roff = RP_SPOOL_SEG_HDR;
	s->wfd = fd;
	s->wsize = RP_SPOOL_SEG_HDR;
	s->next_seq++;
	s->st.bytes += RP_SPOOL_SEG_HDR;
	s->st.segments++;
	return 0;
}

int rp_spool_append(struct rp_spool *s, uint8_t kind, uint32_t points, const void *data, size_t len)
{
	unsigned char h[RP_SPOOL_REC_HDR];
	struct iovec iov[2];
	uint64_t rec = RP_SPOOL_REC_HDR + (uint64_t)len, need;
	uint32_t crc;
	ssize_t n;
	int ret;

	if (len > RP_SPOOL_MAX_RECORD || rec + RP_SPOOL_SEG_HDR > s->max_bytes) {
		s->st.overflow_records++;
		s->st.overflow_points += points;
		return -EFBIG;
	}
	if (s->wfd >= 0 && s->wsize > RP_SPOOL_SEG_HDR && s->wsize + rec > s->seg_bytes)
		close_append(s);
	need = rec + (s->wfd < 0 ? RP_SPOOL_SEG_HDR : 0);
	while (s->st.bytes + need > s->max_bytes && s->first_seq < s->next_seq) {
		if (s->wfd >= 0 && s->first_seq == s->next_seq - 1)
			need += RP_SPOOL_SEG_HDR; /* dropping the append segment itself */
		drop_oldest(s);
	}
	if (s->wfd < 0) {
		ret = create_segment(s);
		if (ret < 0) {
			s->st.io_errors++;
			s->st.overflow_records++;
			s->st.overflow_points += points;
			return ret;
		}
	}

	put32(h, (uint32_t)(len + META_LEN));
	put32(h + 8, points);
	h[12] = kind;
	h[13] = h[14] = h[15] = 0;
	crc = (uint32_t)crc32(0, h + 8, META_LEN);
	crc = (uint32_t)crc32(crc, data, (uInt)len);
	put32(h + 4, crc);
	iov[0].iov_base = h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)data;
	iov[1].iov_len = len;
	n = pwritev(s->wfd, iov, 2, (off_t)s->wsize);
	if (n != (ssize_t)rec) {
		ret = n < 0 ? -errno : -ENOSPC;
		/* Leave no partial record behind for the next append to follow. */
		if (ftruncate(s->wfd, (off_t)s->wsize) < 0)
			s->st.io_errors++;
		s->st.io_errors++;
		s->st.overflow_records++;
		s->st.overflow_points += points;
		return ret;
	}
	s->wsize += rec;
	s->st.bytes += rec;
	s->st.records++;
	s->st.points += points;
	s->st.appended_records++;
	s->st.appended_points += points;
	if (s->fsync_mode == RP_FSYNC_ALWAYS) {
		if (fdatasync(s->wfd) < 0)
			s->st.io_errors++;
	} else if (s->fsync_mode == RP_FSYNC_BATCH) {
		s->dirty = true;
	}
	return 0;
}

int rp_spool_sync(struct rp_spool *s)
{
	if (!s->dirty || s->wfd < 0)
		return 0;
	s->dirty = false;
	if (fdatasync(s->wfd) < 0) {
		s->st.io_errors++;
		return -errno;
	}
	return 0;
}

/* Opens segment rseq for reading; false when it vanished (then the reader moved on). */
static bool reader_open(struct rp_spool *s)
{
	char name[32];
	struct stat sb;

	if (s->rfd >= 0)
		return true;
	seg_name(name, sizeof(name), s->rseq);
	s->rfd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (s->rfd < 0 || fstat(s->rfd, &sb) < 0) {
		if (s->rfd >= 0)
			close(s->rfd);
		s->rfd = -1;
		s->st.io_errors++;
		s->rseq = next_existing(s, s->rseq);
		s->roff = RP_SPOOL_SEG_HDR;
		return false;
	}
	s->rsize = (uint64_t)sb.st_size;
	return true;
}

static void reader_next_segment(struct rp_spool *s)
{
	if (s->rfd >= 0)
		close(s->rfd);
	s->rfd = -1;
	s->rseq = next_existing(s, s->rseq);
	s->roff = RP_SPOOL_SEG_HDR;
	settle(s);
}

int rp_spool_read(struct rp_spool *s, void *buf, size_t cap, struct rp_spool_rec *rec)
{
	unsigned char h[RP_SPOOL_REC_HDR];

	if (s->ntaken >= s->max_taken)
		return -EBUSY;
	for (;;) {
		bool append_seg;
		uint64_t size, dlen;
		uint32_t len, points, crc;

		if (s->rseq >= s->next_seq) {
			s->st.records = 0;
			s->st.points = 0;
			return 0;
		}
		if (!reader_open(s))
			continue;
		append_seg = s->wfd >= 0 && s->rseq == s->next_seq - 1;
		size = append_seg ? s->wsize : s->rsize;
		if (s->roff >= size || size - s->roff < RP_SPOOL_REC_HDR) {
			if (append_seg || s->rseq == s->next_seq - 1) {
				s->st.records = 0;
				s->st.points = 0;
				if (!s->ntaken)
					settle(s);
				return 0;
			}
			if (s->roff < size)
				count_corrupt(s, 0); /* a torn header */
			reader_next_segment(s);
			continue;
		}
		if (pread(s->rfd, h, sizeof(h), (off_t)s->roff) != (ssize_t)sizeof(h)) {
			s->st.io_errors++;
			return -EIO;
		}
		len = get32(h);
		crc = get32(h + 4);
		points = get32(h + 8);
		if (len < META_LEN || len > RP_SPOOL_MAX_RECORD + META_LEN ||
		    s->roff + 8 + len > size) {
			/* Torn, or a length that cannot be trusted: nothing after it can be
			 * found in this segment. */
			count_corrupt(s, plausible_points(len, points));
			sub_clamped(&s->st.records, 1);
			sub_clamped(&s->st.points, plausible_points(len, points));
			s->roff = size;
			continue;
		}
		dlen = len - META_LEN;
		if (dlen > cap) {
			count_corrupt(s, plausible_points(len, points));
			sub_clamped(&s->st.records, 1);
			sub_clamped(&s->st.points, plausible_points(len, points));
			s->roff += 8 + (uint64_t)len;
			continue;
		}
		if (pread(s->rfd, buf, dlen, (off_t)(s->roff + RP_SPOOL_REC_HDR)) !=
		    (ssize_t)dlen) {
			s->st.io_errors++;
			return -EIO;
		}
		if ((uint32_t)crc32(crc32(0, h + 8, META_LEN), buf, (uInt)dlen) != crc) {
			count_corrupt(s, rp_line__count_lines(buf, dlen));
			sub_clamped(&s->st.records, 1);
			sub_clamped(&s->st.points, points);
			s->roff += 8 + (uint64_t)len;
			continue;
		}
		rec->len = dlen;
		rec->points = points;
		rec->kind = h[12];
		rec->pos.seq = s->rseq;
		rec->pos.off = s->roff;
		s->taken[s->ntaken++] = rec->pos;
		s->roff += 8 + (uint64_t)len;
		sub_clamped(&s->st.records, 1);
		sub_clamped(&s->st.points, points);
		s->st.read_records++;
		s->st.read_points += points;
		return 1;
	}
}

void rp_spool_release(struct rp_spool *s, const struct rp_spool_pos *pos)
{
	for (unsigned i = 0; i < s->ntaken; i++) {
		if (s->taken[i].seq == pos->seq && s->taken[i].off == pos->off) {
			s->taken[i] = s->taken[--s->ntaken];
			break;
		}
	}
	settle(s);
}

bool rp_spool_has_unread(const struct rp_spool *s)
{
	uint64_t size;

	if (s->rseq >= s->next_seq)
		return false;
	if (s->rseq != s->next_seq - 1)
		return true;
	size = last_size(s);
	return s->roff < size && size - s->roff >= RP_SPOOL_REC_HDR;
}

void rp_spool_get_stats(const struct rp_spool *s, struct rp_spool_stats *st)
{
	*st = s->st;
}

/* Reads the cursor file; (0, 0) when it is missing or damaged. */
static struct rp_spool_pos read_cursor(int fd)
{
	unsigned char b[CURSOR_LEN];
	struct rp_spool_pos pos = {0, 0};

	if (pread(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return pos;
	if (get32(b) != CURSOR_MAGIC || get32(b + 20) != (uint32_t)crc32(0, b, 20))
		return pos;
	pos.seq = get64(b + 4);
	pos.off = get64(b + 12);
	return pos;
}

/* Checks a payload's CRC reading it in chunks; counts its lines for the corrupt case. */
static bool payload_ok(struct rp_spool *s, int fd, uint64_t off, uint32_t len, uint32_t crc,
		       uint64_t *lines)
{
	uLong c = crc32(0, Z_NULL, 0);
	uint64_t done = 0;

	*lines = 0;
	while (done < len) {
		size_t n = len - done < SCAN_CHUNK ? (size_t)(len - done) : SCAN_CHUNK;

		if (pread(fd, s->scratch, n, (off_t)(off + done)) != (ssize_t)n)
			return false;
		c = crc32(c, s->scratch, (uInt)n);
		*lines += rp_line__count_lines(s->scratch + (done ? 0 : META_LEN),
					       n - (done ? 0 : META_LEN));
		done += n;
	}
	return (uint32_t)c == crc;
}

/* Open-time check of one segment by its record headers: returns its size after any cut,
 * 0 to remove it. In the newest segment a crash may have left a torn record (cut short,
 * or with a length but not all of its bytes on disk): that tail is cut off and counted,
 * so appends continue on a record boundary. Damage anywhere else is left for the reader
 * to skip and count once. Records at or after *start (a cursor inside this segment)
 * count as unread; a cursor inside a record is moved back to that record's start. */
static uint64_t scan_segment(struct rp_spool *s, uint64_t seq, bool newest, uint64_t *start)
{
	unsigned char h[RP_SPOOL_REC_HDR];
	char name[32];
	struct stat sb;
	uint64_t off = RP_SPOOL_SEG_HDR, size, last = 0, last_points = 0;
	uint32_t last_len = 0, last_crc = 0;
	uint64_t lines;
	int fd;

	seg_name(name, sizeof(name), seq);
	fd = openat(s->dirfd, name, newest ? O_RDWR | O_CLOEXEC : O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		if (fd >= 0)
			close(fd);
		s->st.io_errors++;
		return 0;
	}
	size = (uint64_t)sb.st_size;
	if (size < RP_SPOOL_SEG_HDR || pread(fd, h, RP_SPOOL_SEG_HDR, 0) != RP_SPOOL_SEG_HDR ||
	    memcmp(h, SEG_MAGIC, 8) != 0) {
		/* Shorter than a header: a crash while creating it. Otherwise not ours. */
		if (size >= RP_SPOOL_SEG_HDR)
			count_corrupt(s, 0);
		close(fd);
		return 0;
	}
	while (off < size) {
		uint32_t len = 0, points = 0;
		bool torn = size - off < RP_SPOOL_REC_HDR;

		if (!torn) {
			if (pread(fd, h, sizeof(h), (off_t)off) != (ssize_t)sizeof(h))
				break;
			len = get32(h);
			points = get32(h + 8);
			torn = len < META_LEN || len > RP_SPOOL_MAX_RECORD + META_LEN ||
			       off + 8 + len > size;
		}
		if (torn) {
			if (newest) {
				count_corrupt(s, plausible_points(len, points));
				if (ftruncate(fd, (off_t)off) < 0)
					s->st.io_errors++;
				size = off;
			}
			break;
		}
		if (*start > off && *start < off + 8 + len)
			*start = off;
		if (off >= *start) {
			s->st.records++;
			s->st.points += points;
		}
		if (len - META_LEN > s->st.max_record)
			s->st.max_record = len - META_LEN;
		last = off;
		last_len = len;
		last_crc = get32(h + 4);
		last_points = points;
		off += 8 + (uint64_t)len;
	}
	if (newest && last && !payload_ok(s, fd, last + 8, last_len, last_crc, &lines)) {
		count_corrupt(s, lines);
		if (ftruncate(fd, (off_t)last) < 0)
			s->st.io_errors++;
		if (last >= *start) {
			sub_clamped(&s->st.records, 1);
			sub_clamped(&s->st.points, last_points);
		}
		size = last;
	}
	if (*start > size)
		*start = size;
	close(fd);
	return size;
}

static int open_dir(struct rp_spool *s, const char *dir, char *why, size_t whylen)
{
	int ret = mkdir_p(dir);

	if (ret < 0) {
		snprintf(why, whylen, "spool.dir %s: cannot create: %s", dir, strerror(-ret));
		return ret;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		ret = -errno;
		snprintf(why, whylen, "spool.dir %s: %s", dir, strerror(-ret));
		return ret;
	}
	s->lockfd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0) {
		ret = -errno;
		snprintf(why, whylen, "spool.dir %s: cannot create the lock file: %s", dir,
			 strerror(-ret));
		return ret;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(why, whylen, "spool.dir %s is in use by another process", dir);
		return ret;
	}
	s->curfd = openat(s->dirfd, "cursor", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->curfd < 0) {
		ret = -errno;
		snprintf(why, whylen, "spool.dir %s: cannot create the cursor file: %s", dir,
			 strerror(-ret));
		return ret;
	}
	return 0;
}

/* Lists the segment files, sorted. */
static int list_segments(struct rp_spool *s, char *why, size_t whylen)
{
	size_t cap = 0;
	struct dirent *de;
	DIR *d;
	int fd = dup(s->dirfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		int ret = -errno;

		if (fd >= 0)
			close(fd);
		snprintf(why, whylen, "spool.dir: cannot list: %s", strerror(-ret));
		return ret;
	}
	while ((de = readdir(d)) != NULL) {
		uint64_t seq;

		if (!parse_seg_name(de->d_name, &seq))
			continue;
		if (s->nfound == cap) {
			cap = cap ? cap * 2 : 64;
			s->found = rp_xrealloc(s->found, cap * sizeof(*s->found));
		}
		s->found[s->nfound++] = seq;
	}
	closedir(d);
	if (s->nfound)
		qsort(s->found, s->nfound, sizeof(*s->found), cmp_u64);
	return 0;
}

int rp_spool_open(struct rp_spool **out, const struct rp_spool_opts *o, char *why, size_t whylen)
{
	struct rp_spool *s;
	struct rp_spool_pos cur;
	uint64_t start = 0;
	size_t keep = 0;
	int ret;

	if (!o || !o->dir || !*o->dir || o->max_bytes <= 0) {
		snprintf(why, whylen, "spool: no directory or no size limit");
		return -EINVAL;
	}
	s = rp_xcalloc(1, sizeof(*s));
	s->dirfd = s->lockfd = s->curfd = s->wfd = s->rfd = -1;
	s->fsync_mode = o->fsync;
	s->max_bytes = (uint64_t)o->max_bytes;
	s->seg_bytes = o->segment_bytes;
	if (!s->seg_bytes) {
		s->seg_bytes = s->max_bytes / 4 > 4096 ? s->max_bytes / 4 : 4096;
		if (s->seg_bytes > RP_SPOOL_DEFAULT_SEGMENT)
			s->seg_bytes = RP_SPOOL_DEFAULT_SEGMENT;
	}
	s->max_taken = o->max_taken ? o->max_taken : 64;
	s->taken = rp_xcalloc(s->max_taken, sizeof(*s->taken));
	s->scratch = rp_xmalloc(SCAN_CHUNK);

	ret = open_dir(s, o->dir, why, whylen);
	if (ret < 0)
		goto out_close;
	ret = list_segments(s, why, whylen);
	if (ret < 0)
		goto out_close;
	cur = read_cursor(s->curfd);

	for (size_t i = 0; i < s->nfound; i++) {
		uint64_t seq = s->found[i], size, st = RP_SPOOL_SEG_HDR;
		char name[32];

		seg_name(name, sizeof(name), seq);
		if (seq < cur.seq) {
			/* Passed by the cursor: a crash came between the cursor and unlink. */
			unlinkat(s->dirfd, name, 0);
			continue;
		}
		if (seq == cur.seq && cur.off > st)
			st = cur.off;
		size = scan_segment(s, seq, i == s->nfound - 1, &st);
		if (!size) {
			unlinkat(s->dirfd, name, 0);
			continue;
		}
		if (keep == 0)
			start = st;
		s->found[keep++] = seq;
		s->st.bytes += size;
		s->st.segments++;
		if (i == s->nfound - 1)
			s->wsize = size;
	}
	s->nfound = keep;
	if (keep) {
		char name[32];

		s->first_seq = s->found[0];
		s->next_seq = s->found[keep - 1] + 1;
		seg_name(name, sizeof(name), s->next_seq - 1);
		/* The newest segment keeps taking appends, unless a damaged last file was
		 * removed above: then a new segment starts. */
		if (s->wsize) {
			s->wfd = openat(s->dirfd, name, O_WRONLY | O_CLOEXEC);
			if (s->wfd < 0) {
				ret = -errno;
				snprintf(why, whylen, "spool.dir %s: %s: %s", o->dir, name,
					 strerror(-ret));
				goto out_close;
			}
		}
	} else {
		s->first_seq = s->next_seq = cur.seq + 1;
	}
	s->rseq = s->first_seq;
	s->roff = start > RP_SPOOL_SEG_HDR ? start : RP_SPOOL_SEG_HDR;
	s->commit = cur;
	write_cursor(s, (struct rp_spool_pos){s->rseq, s->roff});
	*out = s;
	return 0;

out_close:
	rp_spool_close(s);
	return ret;
}

void rp_spool_close(struct rp_spool *s)
{
	if (!s)
		return;
	close_append(s);
	if (s->rfd >= 0)
		close(s->rfd);
	if (s->curfd >= 0)
		close(s->curfd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->taken);
	free(s->found);
	free(s->scratch);
	free(s);
}
