/* Spool reading (writer_int.h): rp_spool_read() hands out the oldest unread record,
 * skipping and counting torn and corrupt ones; rp_spool_release() takes it back once
 * settled, moves the cursor to the oldest record still out and unlinks the segments
 * left behind. Writer thread. */
#include "writer/writer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

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
		rp_spool__write_cursor(s, c);
		return;
	}
	while (s->first_seq < c.seq) {
		uint64_t seq = s->first_seq;

		s->first_seq = rp_spool__next_existing(s, seq);
		rp_spool__unlink_seg(s, seq);
	}
	/* Everything read and settled, up to the end of the last segment: start afresh so
	 * a drained spool holds no bytes. */
	if (s->ntaken == 0 && s->rseq == s->next_seq - 1 && s->roff >= last_size(s)) {
		rp_spool__close_append(s);
		if (s->rfd >= 0)
			close(s->rfd);
		s->rfd = -1;
		rp_spool__unlink_seg(s, s->rseq);
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
	rp_spool__write_cursor(s, c);
}

/* Opens segment rseq for reading: 1, 0 when it is gone (then the reader moved on), or
 * -errno when it is there but cannot be opened (EIO, EACCES, or refused by
 * rp_spool__open_file): then it stays where it is, unsettled, and the next read
 * retries it; the caller decides when (the writer backs off). */
static int reader_open(struct rp_spool *s)
{
	char name[32];
	struct stat sb;
	int ret;

	if (s->rfd >= 0)
		return 1;
	rp_spool__seg_name(name, sizeof(name), s->rseq);
	ret = rp_spool__open_file(s, name, O_RDONLY);
	if (ret == -ENOENT) {
		s->rseq = rp_spool__next_existing(s, s->rseq);
		s->roff = RP_SPOOL_SEG_HDR;
		return 0;
	}
	if (ret >= 0 && fstat(ret, &sb) < 0) {
		close(ret);
		ret = -errno;
	}
	if (ret < 0) {
		s->st.io_errors++;
		s->st.read_failing = true;
		return ret;
	}
	s->rfd = ret;
	s->rsize = (uint64_t)sb.st_size;
	s->st.read_failing = false;
	return 1;
}

/* A read failed: count it, and close the segment so the retry reopens it (a file put
 * back in place, or a device that recovered, is a new open). */
static int read_failed(struct rp_spool *s, ssize_t got)
{
	int ret = got < 0 ? -errno : -EIO;

	s->st.io_errors++;
	s->st.read_failing = true;
	close(s->rfd);
	s->rfd = -1;
	return ret;
}

static void reader_next_segment(struct rp_spool *s)
{
	if (s->rfd >= 0)
		close(s->rfd);
	s->rfd = -1;
	s->rseq = rp_spool__next_existing(s, s->rseq);
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
		ssize_t got;
		int ret;

		if (s->rseq >= s->next_seq) {
			s->st.records = 0;
			s->st.points = 0;
			return 0;
		}
		ret = reader_open(s);
		if (ret < 0)
			return ret;
		if (ret == 0)
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
				rp_spool__count_corrupt(s, 0); /* a torn header */
			reader_next_segment(s);
			continue;
		}
		got = pread(s->rfd, h, sizeof(h), (off_t)s->roff);
		if (got != (ssize_t)sizeof(h))
			return read_failed(s, got);
		len = rp_spool__get32(h);
		crc = rp_spool__get32(h + 4);
		points = rp_spool__get32(h + 8);
		if (len < RP_SPOOL_META_LEN || len > RP_SPOOL_MAX_RECORD + RP_SPOOL_META_LEN ||
		    s->roff + 8 + len > size) {
			/* Torn, or a length that cannot be trusted: nothing after it can be
			 * found in this segment. */
			rp_spool__count_corrupt(s, rp_spool__plausible_points(len, points));
			rp_spool__sub_clamped(&s->st.records, 1);
			rp_spool__sub_clamped(&s->st.points,
					      rp_spool__plausible_points(len, points));
			s->roff = size;
			continue;
		}
		dlen = len - RP_SPOOL_META_LEN;
		if (dlen > cap) {
			rp_spool__count_corrupt(s, rp_spool__plausible_points(len, points));
			rp_spool__sub_clamped(&s->st.records, 1);
			rp_spool__sub_clamped(&s->st.points,
					      rp_spool__plausible_points(len, points));
			s->roff += 8 + (uint64_t)len;
			continue;
		}
		got = pread(s->rfd, buf, dlen, (off_t)(s->roff + RP_SPOOL_REC_HDR));
		if (got != (ssize_t)dlen)
			return read_failed(s, got);
		if ((uint32_t)crc32(crc32(0, h + 8, RP_SPOOL_META_LEN), buf, (uInt)dlen) != crc) {
			rp_spool__count_corrupt(s, rp_line__count_lines(buf, dlen));
			rp_spool__sub_clamped(&s->st.records, 1);
			rp_spool__sub_clamped(&s->st.points, points);
			s->roff += 8 + (uint64_t)len;
			continue;
		}
		s->st.read_failing = false;
		rec->len = dlen;
		rec->points = points;
		rec->kind = h[12];
		rec->pos.seq = s->rseq;
		rec->pos.off = s->roff;
		s->taken[s->ntaken++] = rec->pos;
		s->roff += 8 + (uint64_t)len;
		rp_spool__sub_clamped(&s->st.records, 1);
		rp_spool__sub_clamped(&s->st.points, points);
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
