/* The ICMP socket: raw (CAP_NET_RAW, kernel-side filters keep only our echo replies)
 * or unprivileged datagram (net.ipv4.ping_group_range; the kernel owns the
 * identifier). Both get kernel RX timestamps, non-blocking mode and a receive buffer
 * sized from the configuration. Start-up only. */
#include "io/io_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/icmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ringprobe/compiler.h"
#include "ringprobe/conf.h"

/* One control message of a received datagram: the kernel's receive stamp into
 * *rx_ns (the first one wins), or SO_RXQ_OVFL's count of datagrams the kernel dropped
 * at this socket so far (sk_drops when this one was queued; a uint32 that wraps; sent
 * only once it is nonzero, and only by raw sockets: ping_recvmsg passes the timestamp
 * alone, so engine.c also reads SO_MEMINFO once a second). Datagrams leave the queue
 * in the order they entered it, so the counts only grow: the difference to the last
 * one seen is what was dropped in between. Shard thread; no system call. */
void rp_io__cmsg(struct rp_engine *e, const struct cmsghdr *c, uint64_t *rx_ns)
{
	struct timespec ts;
	uint32_t drops;

	if (c->cmsg_level != SOL_SOCKET)
		return;
	if (c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(ts)) && !*rx_ns) {
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		*rx_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	} else if (c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(drops))) {
		memcpy(&drops, CMSG_DATA(c), sizeof(drops));
		rp_io__drops_seen(e, drops);
	}
}

void rp_io__drops_seen(struct rp_engine *e, uint32_t drops)
{
	int32_t more = (int32_t)(drops - e->drops_last);

	/* An older sample (a datagram queued before the last SO_MEMINFO read) is no news. */
	if (more > 0) {
		e->stats.kernel_rx_drops += (uint32_t)more;
		e->drops_last = drops;
	}
}

/* "1 0" from /proc/sys/net/ipv4/ping_group_range, for the log line only. */
static void read_ping_range(char *buf, size_t len)
{
	int fd = open("/proc/sys/net/ipv4/ping_group_range", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[n] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\t' || *p == '\n')
			*p = *p == '\t' ? ' ' : '\0';
}

/* Raw sockets see every ICMP packet on the host. ICMP_FILTER drops all types but echo
 * reply in the raw receive path; the BPF program then keeps only unfragmented echo
 * replies whose identifier is ours. Data starts at the IPv4 header, so the ICMP header
 * is found with the header length from BPF_MSH (4 * (ip[0] & 0xf)). */
static int attach_raw_filters(int fd, uint16_t ident)
{
	struct icmp_filter f = {.data = ~(1u << ICMP_ECHOREPLY)};
	struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),		/* frag offset + flags */
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 6, 0), /* a later fragment */
	    BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),		/* X = IPv4 header length */
	    BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),		/* ICMP type */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP_ECHOREPLY, 0, 3),
	    BPF_STMT(BPF_LD | BPF_H | BPF_IND, 4), /* identifier, host order */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ident, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
	    BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {.len = RP_ARRAY_SIZE(code), .filter = code};
	unsigned char junk[256];

	if (setsockopt(fd, SOL_RAW, ICMP_FILTER, &f, sizeof(f)) < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	/* Whatever arrived between socket() and the filter was not filtered: drop it. */
	for (int i = 0; i < 65536 && recv(fd, junk, sizeof(junk), MSG_DONTWAIT) >= 0; i++)
		;
	return 0;
}

/* Options both kinds share. SO_RCVBUFFORCE goes past net.core.rmem_max when we hold
 * CAP_NET_ADMIN; without it, SO_RCVBUF (capped by rmem_max) is the best we can do. */
static int set_common_opts(int fd, uint32_t rcvbuf)
{
	int one = 1, zero = 0, sz = rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)rcvbuf;

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &zero, sizeof(zero)) < 0)
		return -errno;
	/* Each datagram then carries the socket's drop count (rp_io__cmsg): replies
	 * lost to a full receive buffer are counted, not mistaken for timeouts alone. */
	if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) < 0)
		return -errno;
	if (sz > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) < 0)
		return -errno;
	return 0;
}

static int open_raw(const struct rp_engine_conf *conf, struct rp_io_sock *s)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	int rc;

	if (fd < 0)
		return -errno;
	rc = attach_raw_filters(fd, conf->ident);
	if (!rc)
		rc = set_common_opts(fd, conf->rcvbuf_bytes);
	if (rc) {
		close(fd);
		return rc;
	}
	*s = (struct rp_io_sock){
	    .fd = fd, .mode = RP_ICMP_RAW, .ident = conf->ident, .ip_header = true};
	return 0;
}

/* The kernel picks the identifier when the socket is bound to port 0, and reports it
 * as the port; binding now (rather than on first send) lets us know it up front. */
static int open_dgram(const struct rp_engine_conf *conf, struct rp_io_sock *s)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		rc = -errno;
	if (!rc)
		rc = set_common_opts(fd, conf->rcvbuf_bytes);
	if (rc) {
		close(fd);
		return rc;
	}
	*s = (struct rp_io_sock){
	    .fd = fd, .mode = RP_ICMP_DGRAM, .ident = ntohs(sa.sin_port), .ip_header = false};
	return 0;
}

/* Auto mode tries dgram first: it needs no privilege, and the kernel demultiplexes
 * replies by identifier, so no filter is needed. EACCES is the kernel saying our group
 * is outside ping_group_range; other errors (a kernel without ping sockets) also fall
 * back to raw, and the sentence names them. */
int rp_io__socket_open(const struct rp_engine_conf *conf, struct rp_io_sock *out, char *why,
		       size_t whylen)
{
	char range[64], dgram_why[128];
	int rc;

	read_ping_range(range, sizeof(range));
	switch (conf->icmp_mode) {
	case RP_ICMP_RAW:
		rc = open_raw(conf, out);
		if (rc)
			snprintf(why, whylen, "raw ICMP socket (icmp_mode raw) failed: %s%s",
				 strerror(-rc), rc == -EPERM ? " (needs CAP_NET_RAW)" : "");
		else
			snprintf(why, whylen, "icmp raw (configured), ident %d", out->ident);
		return rc;
	case RP_ICMP_DGRAM:
		rc = open_dgram(conf, out);
		if (rc)
			snprintf(why, whylen,
				 "ICMP datagram socket (icmp_mode dgram) failed: %s (gid %u, "
				 "net.ipv4.ping_group_range %s)",
				 strerror(-rc), (unsigned)getegid(), range);
		else
			snprintf(why, whylen, "icmp dgram (configured), kernel ident %d",
				 out->ident);
		return rc;
	default:
		break;
	}
	rc = open_dgram(conf, out);
	if (!rc) {
		snprintf(why, whylen, "icmp dgram (ping_group_range %s admits gid %u)", range,
			 (unsigned)getegid());
		return 0;
	}
	if (rc == -EACCES)
		snprintf(dgram_why, sizeof(dgram_why), "ping_group_range %s excludes gid %u", range,
			 (unsigned)getegid());
	else
		snprintf(dgram_why, sizeof(dgram_why), "ICMP datagram socket: %s", strerror(-rc));
	rc = open_raw(conf, out);
	if (rc)
		snprintf(why, whylen, "no ICMP socket: dgram refused (%s), raw: %s%s", dgram_why,
			 strerror(-rc), rc == -EPERM ? " (needs CAP_NET_RAW)" : "");
	else
		snprintf(why, whylen, "icmp raw (%s)", dgram_why);
	return rc;
}
