/* Spool start and end (writer_int.h): rp_spool_open() creates and locks the directory,
 * checks every segment by its record headers, repairs what a crash left and puts the
 * reader at the cursor; rp_spool_close() syncs and closes. Runs on the thread creating
 * or destroying the writer, before the writer thread starts or after it is joined.
 *
 * What a crash can leave: a torn record at the end of the newest segment (cut off and
 * counted at open), a segment shorter than its header (removed), segments the cursor
 * already passed (removed). A record failing its CRC elsewhere is skipped and counted
 * when the reader reaches it. */
#include "writer/writer_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ringprobe/log.h"
#include "ringprobe/xalloc.h"

#define SCAN_CHUNK (64u << 10)

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
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

/* Checks a payload's CRC reading it in chunks; counts its lines for the corrupt case.
 * 1: good, 0: fails its CRC, -errno: could not be read (then it proves nothing). */
static int payload_ok(struct rp_spool *s, int fd, uint64_t off, uint32_t len, uint32_t crc,
		      uint64_t *lines)
{
	uLong c = crc32(0, Z_NULL, 0);
	uint64_t done = 0;

	*lines = 0;
	while (done < len) {
		size_t n = len - done < SCAN_CHUNK ? (size_t)(len - done) : SCAN_CHUNK;
		ssize_t got = pread(fd, s->scratch, n, (off_t)(off + done));

		if (got < 0)
			return -errno;
		if (got != (ssize_t)n)
			return 0; /* the header said more than the file holds: torn */
		c = crc32(c, s->scratch, (uInt)n);
		*lines += rp_line__count_lines(s->scratch + (done ? 0 : RP_SPOOL_META_LEN),
					       n - (done ? 0 : RP_SPOOL_META_LEN));
		done += n;
	}
	return (uint32_t)c == crc;
}

/* Open-time check of one segment by its record headers: *size is its size after any
 * cut, 0 to remove it. Only a segment that is provably empty (shorter than its header)
 * or provably not ours (another magic) is removed; one that cannot be opened, stat'ed
 * or read (EIO, EACCES) is kept whole, counted, and left for the reader to retry:
 * returns -errno then, *size being what fstatat says. A symlink, a non-regular file or
 * someone else's file under a segment name refuses the spool (rp_spool__open_file).
 * In the newest segment a crash may have left a torn record (cut short, or with a
 * length but not all of its bytes on disk): that tail is cut off and counted, so
 * appends continue on a record boundary. Damage anywhere else is left for the reader
 * to skip and count once. Records at or after *start (a cursor inside this segment)
 * count as unread; a cursor inside a record is moved back to that record's start. */
static int scan_segment(struct rp_spool *s, uint64_t seq, bool newest, uint64_t *start,
			uint64_t *out_size)
{
	unsigned char h[RP_SPOOL_REC_HDR];
	char name[32];
	struct stat sb;
	uint64_t off = RP_SPOOL_SEG_HDR, size, last = 0, last_points = 0;
	uint32_t last_len = 0, last_crc = 0;
	uint64_t lines;
	ssize_t got;
	int fd, ret = 0;

	*out_size = 0;
	rp_spool__seg_name(name, sizeof(name), seq);
	fd = rp_spool__open_file(s, name, newest ? O_RDWR : O_RDONLY);
	if (fd == -ELOOP || fd == -EINVAL || fd == -EPERM)
		return fd;
	if (fd < 0) {
		s->st.io_errors++;
		if (fstatat(s->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			*out_size = (uint64_t)sb.st_size;
		return fd;
	}
	/* rp_spool__open_file() fstat'ed it already; this one is for the size. */
	if (fstat(fd, &sb) < 0) {
		ret = -errno;
		goto out_io;
	}
	size = (uint64_t)sb.st_size;
	if (size < RP_SPOOL_SEG_HDR) {
		close(fd); /* a crash while creating it: provably empty */
		return 0;
	}
	got = pread(fd, h, RP_SPOOL_SEG_HDR, 0);
	if (got < 0) {
		ret = -errno;
		goto out_io;
	}
	if (got != RP_SPOOL_SEG_HDR || memcmp(h, RP_SPOOL_SEG_MAGIC, 8) != 0) {
		rp_spool__count_corrupt(s, 0); /* not ours */
		close(fd);
		return 0;
	}
	while (off < size) {
		uint32_t len = 0, points = 0;
		bool torn = size - off < RP_SPOOL_REC_HDR;

		if (!torn) {
			got = pread(fd, h, sizeof(h), (off_t)off);
			if (got < 0) {
				ret = -errno;
				goto out_io;
			}
			if (got != (ssize_t)sizeof(h))
				break;
			len = rp_spool__get32(h);
			points = rp_spool__get32(h + 8);
			torn = len < RP_SPOOL_META_LEN ||
			       len > RP_SPOOL_MAX_RECORD + RP_SPOOL_META_LEN ||
			       off + 8 + len > size;
		}
		if (torn) {
			if (newest) {
				rp_spool__count_corrupt(s, rp_spool__plausible_points(len, points));
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
		if (len - RP_SPOOL_META_LEN > s->st.max_record)
			s->st.max_record = len - RP_SPOOL_META_LEN;
		last = off;
		last_len = len;
		last_crc = rp_spool__get32(h + 4);
		last_points = points;
		off += 8 + (uint64_t)len;
	}
	if (newest && last) {
		ret = payload_ok(s, fd, last + 8, last_len, last_crc, &lines);
		if (ret < 0)
			goto out_io;
		if (ret == 0) {
			rp_spool__count_corrupt(s, lines);
			if (ftruncate(fd, (off_t)last) < 0)
				s->st.io_errors++;
			if (last >= *start) {
				rp_spool__sub_clamped(&s->st.records, 1);
				rp_spool__sub_clamped(&s->st.points, last_points);
			}
			size = last;
		}
		ret = 0;
	}
	if (*start > size)
		*start = size;
	close(fd);
	*out_size = size;
	return 0;

out_io:
	/* A read error proves nothing about the data: keep the whole file. */
	s->st.io_errors++;
	*out_size = (uint64_t)sb.st_size;
	close(fd);
	return ret;
}

static int open_dir(struct rp_spool *s, const char *dir, char *why, size_t whylen)
{
	struct stat sb;
	int ret = mkdir_p(dir);

	if (ret < 0) {
		snprintf(why, whylen, "spool.dir %s: cannot create: %s", dir, strerror(-ret));
		return ret;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0 || fstat(s->dirfd, &sb) < 0) {
		ret = -errno;
		snprintf(why, whylen, "spool.dir %s: %s", dir, strerror(-ret));
		return ret;
	}
	s->dir_uid = sb.st_uid;
	/* Opened as root before the privilege drop, in a directory the unprivileged user
	 * then owns: never through a link it planted (rp_spool__open_file). */
	s->lockfd = rp_spool__open_file(s, "lock", O_RDWR | O_CREAT);
	if (s->lockfd < 0) {
		ret = s->lockfd;
		snprintf(why, whylen, "spool.dir %s: cannot create the lock file %s/lock: %s", dir,
			 dir, rp_spool__open_error(ret));
		return ret;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(why, whylen, "spool.dir %s is in use by another process", dir);
		return ret;
	}
	s->curfd = rp_spool__open_file(s, "cursor", O_RDWR | O_CREAT);
	if (s->curfd < 0) {
		ret = s->curfd;
		snprintf(why, whylen, "spool.dir %s: cannot create the cursor file %s/cursor: %s",
			 dir, dir, rp_spool__open_error(ret));
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

		if (!rp_spool__parse_seg_name(de->d_name, &seq))
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
	cur = rp_spool__read_cursor(s->curfd);

	for (size_t i = 0; i < s->nfound; i++) {
		uint64_t seq = s->found[i], size, st = RP_SPOOL_SEG_HDR;
		char name[32];

		rp_spool__seg_name(name, sizeof(name), seq);
		if (seq < cur.seq) {
			/* Passed by the cursor: a crash came between the cursor and unlink. */
			unlinkat(s->dirfd, name, 0);
			continue;
		}
		if (seq == cur.seq && cur.off > st)
			st = cur.off;
		ret = scan_segment(s, seq, i == s->nfound - 1, &st, &size);
		if (ret == -ELOOP || ret == -EINVAL || ret == -EPERM) {
			snprintf(why, whylen, "spool.dir %s: segment %s/%s %s", o->dir, o->dir,
				 name, rp_spool__open_error(ret));
			goto out_close;
		}
		if (ret < 0) {
			/* Unreadable now (EIO, EACCES): kept whole, not appended to; the
			 * reader retries it from the cursor (a record start). */
			rp_log(RP_LOG_WARN, "spool segment unreadable; kept, to be retried",
			       "path=\"%s/%s\" err=\"%s\"", o->dir, name, strerror(-ret));
			size = size ? size : RP_SPOOL_SEG_HDR;
		} else if (!size) {
			unlinkat(s->dirfd, name, 0);
			continue;
		}
		if (keep == 0)
			start = st;
		s->found[keep++] = seq;
		s->st.bytes += size;
		s->st.segments++;
		if (i == s->nfound - 1 && ret == 0)
			s->wsize = size;
	}
	ret = 0;
	s->nfound = keep;
	if (keep) {
		char name[32];

		s->first_seq = s->found[0];
		s->next_seq = s->found[keep - 1] + 1;
		rp_spool__seg_name(name, sizeof(name), s->next_seq - 1);
		/* The newest segment keeps taking appends, unless a damaged last file was
		 * removed above: then a new segment starts. */
		if (s->wsize) {
			s->wfd = rp_spool__open_file(s, name, O_WRONLY);
			if (s->wfd < 0) {
				ret = s->wfd;
				snprintf(why, whylen, "spool.dir %s: segment %s/%s %s", o->dir,
					 o->dir, name, rp_spool__open_error(ret));
				goto out_close;
			}
		}
	} else {
		s->first_seq = s->next_seq = cur.seq + 1;
	}
	s->rseq = s->first_seq;
	s->roff = start > RP_SPOOL_SEG_HDR ? start : RP_SPOOL_SEG_HDR;
	s->commit = cur;
	rp_spool__write_cursor(s, (struct rp_spool_pos){s->rseq, s->roff});
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
	rp_spool__close_append(s);
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
