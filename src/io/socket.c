/* The ICMP sockets, one per address family: raw (CAP_NET_RAW, kernel-side filters
 * keep only our echo replies) or unprivileged datagram (net.ipv4.ping_group_range,
 * which admits ICMPv6 ping sockets too; the kernel owns the identifier). All get kernel
 * RX timestamps, non-blocking mode and a receive buffer sized from the configuration.
 * The IPv6 socket is of the IPv4 one's kind; when it cannot be opened (EAFNOSUPPORT:
 * ipv6.disable=1, a container without IPv6) the engine goes on with IPv4 and says why.
 * Start-up only. */
#include "io/io_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
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
void rp_io__cmsg(struct rp_engine *e, unsigned sock, const struct cmsghdr *c, uint64_t *rx_ns)
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
		rp_io__drops_seen(e, sock, drops);
	}
}

void rp_io__drops_seen(struct rp_engine *e, unsigned sock, uint32_t drops)
{
	int32_t more = (int32_t)(drops - e->drops_last[sock]);

	/* An older sample (a datagram queued before the last SO_MEMINFO read) is no news. */
	if (more > 0) {
		e->stats.kernel_rx_drops += (uint32_t)more;
		e->drops_last[sock] = drops;
	}
}

/* The kernel drops IPv6 packets from IPv4-mapped sources (RFC 4291 2.5.5.2), but one
 * that came through would read as an IPv4 address: it must not stand for an IPv4
 * device, so its source becomes ::, which no device has. */
void rp_io__src(unsigned sock, const void *name, unsigned namelen, struct rp_ip *out)
{
	if (!rp_ip_from_sockaddr(name, namelen, out, NULL) ||
	    (sock == RP_IO_V6 && rp_ip_is_v4(out)) || (sock == RP_IO_V4 && !rp_ip_is_v4(out)))
		*out = (struct rp_ip){.w = {0, 0, 0, 0}};
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

/* Raw ICMPv6 sockets see every ICMPv6 packet (neighbour discovery included) and pass
 * it from the ICMPv6 header on: no IPv6 header, the kernel has reassembled fragments
 * and checked the checksum. ICMP6_FILTER lets only echo replies through (RFC 3542
 * 3.2); the BPF program then keeps those with our identifier, at the ICMPv6 offsets. */
static int attach_raw6_filters(int fd, uint16_t ident)
{
	struct icmp6_filter f;
	struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), /* ICMPv6 type */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP6_ECHO_REPLY, 0, 3),
	    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4), /* identifier, host order */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ident, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
	    BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {.len = RP_ARRAY_SIZE(code), .filter = code};
	unsigned char junk[256];

	ICMP6_FILTER_SETBLOCKALL(&f);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
	if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	for (int i = 0; i < 65536 && recv(fd, junk, sizeof(junk), MSG_DONTWAIT) >= 0; i++)
		;
	return 0;
}

/* Options both kinds share. SO_RCVBUFFORCE goes past net.core.rmem_max when we hold
 * CAP_NET_ADMIN; without it, SO_RCVBUF (capped by rmem_max) is the best we can do. */
static int set_common_opts(int fd, int af, uint32_t rcvbuf)
{
	int one = 1, zero = 0, sz = rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)rcvbuf;

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		return -errno;
	/* ICMP errors stay off the error queue: only transmit stamps go there. */
	if (af == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &zero, sizeof(zero)) < 0
			   : setsockopt(fd, IPPROTO_IP, IP_RECVERR, &zero, sizeof(zero)) < 0)
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

static int open_raw(const struct rp_engine_conf *conf, int af, struct rp_io_sock *s)
{
	int fd = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			af == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	int rc;

	if (fd < 0)
		return -errno;
	rc = af == AF_INET6 ? attach_raw6_filters(fd, conf->ident)
			    : attach_raw_filters(fd, conf->ident);
	if (!rc)
		rc = set_common_opts(fd, af, conf->rcvbuf_bytes);
	if (rc) {
		close(fd);
		return rc;
	}
	*s = (struct rp_io_sock){
	    .fd = fd, .mode = RP_ICMP_RAW, .ident = conf->ident, .ip_header = af == AF_INET};
	return 0;
}

/* The kernel picks the identifier when the socket is bound to port 0, and reports it
 * as the port; binding now (rather than on first send) lets us know it up front. */
static int open_dgram(const struct rp_engine_conf *conf, int af, struct rp_io_sock *s)
{
	int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			af == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	union rp_io_addr sa = {.sa.sa_family = (sa_family_t)af};
	socklen_t len = af == AF_INET6 ? sizeof(sa.v6) : sizeof(sa.v4);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (bind(fd, &sa.sa, len) < 0 || getsockname(fd, &sa.sa, &len) < 0)
		rc = -errno;
	if (!rc)
		rc = set_common_opts(fd, af, conf->rcvbuf_bytes);
	if (rc) {
		close(fd);
		return rc;
	}
	/* sin_port and sin6_port are at the same offset. */
	*s = (struct rp_io_sock){
	    .fd = fd, .mode = RP_ICMP_DGRAM, .ident = ntohs(sa.v4.sin_port), .ip_header = false};
	return 0;
}

/* Auto mode tries dgram first: it needs no privilege, and the kernel demultiplexes
 * replies by identifier, so no filter is needed. EACCES is the kernel saying our group
 * is outside ping_group_range; other errors (a kernel without ping sockets) also fall
 * back to raw, and the sentence names them. The first family asked for decides the
 * kind. */
static int open_first(const struct rp_engine_conf *conf, int af, struct rp_io_sock *out, char *why,
		      size_t whylen)
{
	const char *v = af == AF_INET6 ? "v6" : "";
	char range[64], dgram_why[128];
	int rc;

	read_ping_range(range, sizeof(range));
	switch (conf->icmp_mode) {
	case RP_ICMP_RAW:
		rc = open_raw(conf, af, out);
		if (rc)
			snprintf(why, whylen, "raw ICMP%s socket (icmp_mode raw) failed: %s%s", v,
				 strerror(-rc), rc == -EPERM ? " (needs CAP_NET_RAW)" : "");
		else
			snprintf(why, whylen, "icmp raw (configured), ident %d", out->ident);
		return rc;
	case RP_ICMP_DGRAM:
		rc = open_dgram(conf, af, out);
		if (rc)
			snprintf(why, whylen,
				 "ICMP%s datagram socket (icmp_mode dgram) failed: %s (gid %u, "
				 "net.ipv4.ping_group_range %s)",
				 v, strerror(-rc), (unsigned)getegid(), range);
		else
			snprintf(why, whylen, "icmp dgram (configured), kernel ident %d",
				 out->ident);
		return rc;
	default:
		break;
	}
	rc = open_dgram(conf, af, out);
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
	rc = open_raw(conf, af, out);
	if (rc)
		snprintf(why, whylen, "no ICMP%s socket: dgram refused (%s), raw: %s%s", v,
			 dgram_why, strerror(-rc), rc == -EPERM ? " (needs CAP_NET_RAW)" : "");
	else
		snprintf(why, whylen, "icmp raw (%s)", dgram_why);
	return rc;
}

/* The room left at the end of why, for one more clause. */
static char *tail(char *why, size_t whylen, size_t *left)
{
	size_t o = strnlen(why, whylen);

	*left = whylen - o;
	return why + o;
}

int rp_io__socket_open(const struct rp_engine_conf *conf, struct rp_io_sock out[RP_IO_NSOCK],
		       char *why, size_t whylen)
{
	unsigned fams = conf->families & RP_FAMILY_BOTH ? conf->families : RP_FAMILY_BOTH;
	size_t left;
	char *p;
	int rc;

	out[RP_IO_V4] = out[RP_IO_V6] = (struct rp_io_sock){.fd = -1};
	if (!(fams & RP_FAMILY_V4)) {
		rc = open_first(conf, AF_INET6, &out[RP_IO_V6], why, whylen);
		p = tail(why, whylen, &left);
		if (!rc && left > 1)
			snprintf(p, left, ", ICMPv6 only");
		return rc;
	}
	rc = open_first(conf, AF_INET, &out[RP_IO_V4], why, whylen);
	if (rc || !(fams & RP_FAMILY_V6))
		return rc;
	/* The kind the IPv4 socket got: the same privilege or ping_group_range admits it. */
	rc = out[RP_IO_V4].mode == RP_ICMP_RAW ? open_raw(conf, AF_INET6, &out[RP_IO_V6])
					       : open_dgram(conf, AF_INET6, &out[RP_IO_V6]);
	p = tail(why, whylen, &left);
	if (rc) {
		out[RP_IO_V6].fd = -1;
		if (left > 1)
			snprintf(p, left, ", IPv4 only: no ICMPv6 socket (%s%s)", strerror(-rc),
				 rc == -EAFNOSUPPORT
				     ? ": IPv6 is disabled in this kernel or container"
				     : "");
	} else if (left > 1) {
		snprintf(p, left, ", ICMPv6 too");
	}
	return 0;
}
