/* Spool writing (writer_int.h): rp_spool_append() puts one record at the end of the
 * newest segment, starting a new segment at the segment size and dropping the oldest
 * ones to stay under max_bytes; rp_spool_sync() makes the appends of an fsync "batch"
 * durable at once. Writer thread. */
#include "writer/writer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "ringprobe/log.h"

void rp_spool__close_append(struct rp_spool *s)
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

/* An fsync of the append segment failed: what was written since the last good one
 * cannot be trusted to be on disk, and the kernel may have dropped the error state
 * with the dirty pages, so a later fsync of the same file proves nothing. Close it
 * unsynced and start a new segment at the next append. The records already in it
 * stay: they are readable (from the page cache now) and replayed as usual; if they
 * never reached the disk and the host crashes, the open-time check and the CRC find
 * the damage and count it. Re-appending them instead would replay them twice. */
static void fsync_failed(struct rp_spool *s, int err)
{
	s->st.io_errors++;
	rp_log(RP_LOG_WARN, "spool fsync failed; segment closed, a new one started",
	       "seq=%llu err=\"%s\"", (unsigned long long)(s->next_seq - 1), strerror(-err));
	if (s->rfd >= 0 && s->rseq == s->next_seq - 1)
		s->rsize = s->wsize;
	close(s->wfd);
	s->wfd = -1;
	s->dirty = false;
}

/* Walks record headers of segment `fd` from `off` to `size`, for counting. false when
 * a read failed (the counts then stop short). */
static bool walk_headers(int fd, uint64_t off, uint64_t size, uint64_t *records, uint64_t *points)
{
	unsigned char h[RP_SPOOL_REC_HDR];

	while (size - off >= RP_SPOOL_REC_HDR) {
		uint32_t len;

		if (pread(fd, h, sizeof(h), (off_t)off) != (ssize_t)sizeof(h))
			return false;
		len = rp_spool__get32(h);
		if (len < RP_SPOOL_META_LEN || len > RP_SPOOL_MAX_RECORD + RP_SPOOL_META_LEN ||
		    off + 8 + len > size)
			return true;
		*records += 1;
		*points += rp_spool__plausible_points(len, rp_spool__get32(h + 8));
		off += 8 + (uint64_t)len;
	}
	return true;
}

/* Counts the records of segment seq from `off` on; false when it cannot be read. */
static bool count_segment(struct rp_spool *s, uint64_t seq, uint64_t off, uint64_t *records,
			  uint64_t *points)
{
	char name[32];
	struct stat sb;
	bool ok = false;
	int fd;

	rp_spool__seg_name(name, sizeof(name), seq);
	fd = rp_spool__open_file(s, name, O_RDONLY);
	if (fd < 0)
		return false;
	if (fstat(fd, &sb) == 0)
		ok = walk_headers(fd, off, (uint64_t)sb.st_size, records, points);
	close(fd);
	return ok;
}

/* The unread records of segment seq, where the reader stands, when it cannot be read
 * (the reader is stuck on it, retrying): what the counters say is unread, less what the
 * segments after it hold (all unread, the reader being behind them). */
static void count_unreadable(struct rp_spool *s, uint64_t seq, uint64_t *records, uint64_t *points)
{
	uint64_t later_records = 0, later_points = 0;

	for (uint64_t n = rp_spool__next_existing(s, seq); n < s->next_seq;
	     n = rp_spool__next_existing(s, n))
		if (!count_segment(s, n, RP_SPOOL_SEG_HDR, &later_records, &later_points))
			break; /* unreadable too: what is left is the best count there is */
	*records = s->st.records > later_records ? s->st.records - later_records : 0;
	*points = s->st.points > later_points ? s->st.points - later_points : 0;
}

/* Removes the oldest segment to make room; its unread records count as overflow. One
 * that cannot be read (EIO, EACCES: the reader is stuck on it) is counted from the
 * counters, so its points are not lost uncounted. */
static void drop_oldest(struct rp_spool *s)
{
	uint64_t seq = s->first_seq;

	if (s->wfd >= 0 && seq == s->next_seq - 1)
		rp_spool__close_append(s);
	if (s->rseq == seq) {
		uint64_t records = 0, points = 0;

		if (!count_segment(s, seq, s->roff, &records, &points))
			count_unreadable(s, seq, &records, &points);
		s->st.overflow_records += records;
		s->st.overflow_points += points;
		rp_spool__sub_clamped(&s->st.records, records);
		rp_spool__sub_clamped(&s->st.points, points);
		if (s->rfd >= 0)
			close(s->rfd);
		s->rfd = -1;
		s->rseq = rp_spool__next_existing(s, seq);
		s->roff = RP_SPOOL_SEG_HDR;
	}
	rp_spool__unlink_seg(s, seq);
	s->first_seq = rp_spool__next_existing(s, seq);
}

static int create_segment(struct rp_spool *s)
{
	unsigned char h[RP_SPOOL_SEG_HDR] = {0};
	char name[32];
	int fd;

	rp_spool__seg_name(name, sizeof(name), s->next_seq);
	/* O_EXCL: a new segment is new; anything already under its name (planted by the
	 * user owning the directory) is neither followed nor truncated. */
	fd = rp_spool__open_file(s, name, O_WRONLY | O_CREAT | O_EXCL);
	if (fd < 0)
		return fd;
	memcpy(h, RP_SPOOL_SEG_MAGIC, 8);
	rp_spool__put32(h + 8, RP_SPOOL_SEG_VERSION);
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
		rp_spool__close_append(s);
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

	rp_spool__put32(h, (uint32_t)(len + RP_SPOOL_META_LEN));
	rp_spool__put32(h + 8, points);
	h[12] = kind;
	h[13] = h[14] = h[15] = 0;
	crc = (uint32_t)crc32(0, h + 8, RP_SPOOL_META_LEN);
	crc = (uint32_t)crc32(crc, data, (uInt)len);
	rp_spool__put32(h + 4, crc);
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
			fsync_failed(s, -errno);
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
		int ret = -errno;

		fsync_failed(s, ret);
		return ret;
	}
	return 0;
}
