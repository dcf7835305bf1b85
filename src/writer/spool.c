/* Disk spool: batches the sink could not take wait here, in append-only segment files
 * of length + CRC32 records, and are read back oldest first (format in writer_int.h).
 * By concern: spool_open.c (open, recovery of what a crash left, close), spool_append.c
 * (append, room, fsync), spool_read.c (reading back, the cursor), and this file, what
 * they share: segment names and the set of segments on disk, the cursor file's format,
 * and how a damaged record is counted.
 *
 * Owned by one thread (the writer's). Nothing allocates after rp_spool_open(): records
 * go straight from the caller's buffer to pwritev() and back with pread().
 *
 * Durability: fsync "always" syncs every record, "batch" whatever rp_spool_sync()
 * finds appended since the last call, "never" leaves it to the kernel. The cursor
 * file is never synced: a stale cursor can only replay a record twice, not lose one. */
#include "writer/writer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CURSOR_MAGIC 0x52504355u /* "RPCU" */
#define CURSOR_LEN 24u

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)rp_spool__get32(p) | (uint64_t)rp_spool__get32(p + 4) << 32;
}

void rp_spool__seg_name(char *buf, size_t len, uint64_t seq)
{
	snprintf(buf, len, "%016" PRIx64 ".seg", seq);
}

/* "0123456789abcdef.seg" -> seq; false for anything else in the directory. */
bool rp_spool__parse_seg_name(const char *name, uint64_t *seq)
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
uint64_t rp_spool__next_existing(const struct rp_spool *s, uint64_t seq)
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

void rp_spool__unlink_seg(struct rp_spool *s, uint64_t seq)
{
	char name[32];
	struct stat sb;

	rp_spool__seg_name(name, sizeof(name), seq);
	if (fstatat(s->dirfd, name, &sb, 0) == 0)
		rp_spool__sub_clamped(&s->st.bytes, (uint64_t)sb.st_size);
	if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
		s->st.io_errors++;
	rp_spool__sub_clamped(&s->st.segments, 1);
}

/* A record header's point count, trusted only when it could be true (a point is at
 * least 6 bytes: "m f=1\n"). Used to count what a damaged record held. */
uint64_t rp_spool__plausible_points(uint32_t len, uint32_t points)
{
	return len >= RP_SPOOL_META_LEN && points <= (len - RP_SPOOL_META_LEN) / 6 ? points : 0;
}

void rp_spool__count_corrupt(struct rp_spool *s, uint64_t points)
{
	s->st.corrupt_records++;
	s->st.corrupt_points += points;
}

void rp_spool__write_cursor(struct rp_spool *s, struct rp_spool_pos pos)
{
	unsigned char b[CURSOR_LEN];

	if (pos.seq == s->commit.seq && pos.off == s->commit.off)
		return;
	rp_spool__put32(b, CURSOR_MAGIC);
	put64(b + 4, pos.seq);
	put64(b + 12, pos.off);
	rp_spool__put32(b + 20, (uint32_t)crc32(0, b, 20));
	if (pwrite(s->curfd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		s->st.io_errors++;
	s->commit = pos;
}

/* Reads the cursor file; (0, 0) when it is missing or damaged. */
struct rp_spool_pos rp_spool__read_cursor(int fd)
{
	unsigned char b[CURSOR_LEN];
	struct rp_spool_pos pos = {0, 0};

	if (pread(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return pos;
	if (rp_spool__get32(b) != CURSOR_MAGIC ||
	    rp_spool__get32(b + 20) != (uint32_t)crc32(0, b, 20))
		return pos;
	pos.seq = get64(b + 4);
	pos.off = get64(b + 12);
	return pos;
}

int rp_spool__open_file(const struct rp_spool *s, const char *name, int flags)
{
	struct stat sb;
	int fd, ret;

	/* O_NONBLOCK: a FIFO planted under a spool name must not hang the open; it has no
	 * effect on the regular files we accept. */
	fd = openat(s->dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		ret = -errno;
		goto out_close;
	}
	ret = -EINVAL;
	if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1)
		goto out_close;
	ret = -EPERM;
	if (sb.st_uid != geteuid() && sb.st_uid != s->dir_uid)
		goto out_close;
	return fd;

out_close:
	close(fd);
	return ret;
}

const char *rp_spool__open_error(int err)
{
	switch (err) {
	case -ELOOP:
		return "is a symbolic link (refusing to follow it)";
	case -EINVAL:
		return "is not a regular file with one link (refusing to use it)";
	case -EPERM:
		return "belongs to another user (refusing to use it)";
	default:
		return strerror(-err);
	}
}

void rp_spool_get_stats(const struct rp_spool *s, struct rp_spool_stats *st)
{
	*st = s->st;
}
