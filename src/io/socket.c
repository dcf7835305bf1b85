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
void rp_io__cmsg(struct rp_engine *e, unsigned sock, const struct cmsghdr *c, struct rp_rx *rx)
{
	struct timespec ts;
	uint32_t drops;
	int ttl;

	if (c->cmsg_level != SOL_SOCKET) {
		/* The reply's TTL (IP_RECVTTL) or hop limit (IPV6_RECVHOPLIMIT): an int. */
		if (((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
		     (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) &&
		    c->cmsg_len >= CMSG_LEN(sizeof(ttl))) {
			memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
			rx->ttl = (uint8_t)(ttl > 0 && ttl < 256 ? ttl : 0);
		}
		return;
	}
	if (c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(ts)) && !rx->rx_ns) {
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		rx->rx_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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
 * reply, destination unreachable and time exceeded in the raw receive path; the BPF
 * program then keeps only unfragmented echo replies whose identifier is ours, and
 * errors quoting an echo request with our identifier: data starts at the IPv4 header,
 * so the ICMP header is found with the header length from BPF_MSH (4 * (ip[0] & 0xf));
 * the quoted IPv4 header must be one without options (0x45), as ours are, which puts
 * the quoted request 28 bytes after the error's ICMP header. */
static int attach_raw_filters(int fd, uint16_t ident)
{
	struct icmp_filter f = {
	    .data = ~(1u << ICMP_ECHOREPLY | 1u << ICMP_DEST_UNREACH | 1u << ICMP_TIME_EXCEEDED)};
	enum { ACCEPT = 17, DROP = 18 };
	struct sock_filter code[] = {
	    /* 0 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),	       /* frag offset + flags */
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, DROP - 2, 0), /* a later fragment */
	    BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),		       /* X = IPv4 header length */
	    BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),		       /* ICMP type */
	    /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP_ECHOREPLY, 0, 2),
	    BPF_STMT(BPF_LD | BPF_H | BPF_IND, 4), /* identifier, host order */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ident, ACCEPT - 7, DROP - 7),
	    /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP_DEST_UNREACH, 1, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP_TIME_EXCEEDED, 0, DROP - 9),
	    /* 9 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 8), /* quoted version, IHL */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x45, 0, DROP - 11),
	    BPF_STMT(BPF_LD | BPF_B | BPF_IND, 8 + 9), /* quoted protocol */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMP, 0, DROP - 13),
	    /* 13 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 8 + 20), /* quoted ICMP type */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP_ECHO, 0, DROP - 15),
	    BPF_STMT(BPF_LD | BPF_H | BPF_IND, 8 + 20 + 4), /* quoted identifier */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ident, 0, DROP - 17),
	    /* 17 */ BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
	    /* 18 */ BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {.len = RP_ARRAY_SIZE(code), .filter = code};
	unsigned char junk[256];

	_Static_assert(RP_ARRAY_SIZE(code) == DROP + 1, "jump targets");
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
 * and checked the checksum. ICMP6_FILTER lets only echo replies, destination
 * unreachable and time exceeded through (RFC 3542 3.2); the BPF program then keeps
 * replies with our identifier, and errors quoting an echo request with our identifier
 * right after the quoted IPv6 header (next header 58: we send no extension headers),
 * at the ICMPv6 offsets. */
static int attach_raw6_filters(int fd, uint16_t ident)
{
	struct icmp6_filter f;
	enum { ACCEPT = 12, DROP = 13 };
	struct sock_filter code[] = {
	    /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), /* ICMPv6 type */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP6_ECHO_REPLY, 0, 2),
	    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4), /* identifier, host order */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ident, ACCEPT - 4, DROP - 4),
	    /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP6_DST_UNREACH, 1, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP6_TIME_EXCEEDED, 0, DROP - 6),
	    /* 6 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8 + 6), /* quoted next header */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMPV6, 0, DROP - 8),
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8 + 40), /* quoted ICMPv6 type */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP6_ECHO_REQUEST, 0, DROP - 10),
	    /* 10 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 8 + 40 + 4), /* quoted identifier */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ident, 0, DROP - 12),
	    /* 12 */ BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
	    /* 13 */ BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {.len = RP_ARRAY_SIZE(code), .filter = code};
	unsigned char junk[256];

	_Static_assert(RP_ARRAY_SIZE(code) == DROP + 1, "jump targets");
	ICMP6_FILTER_SETBLOCKALL(&f);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
	ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
	ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
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
static int set_common_opts(int fd, int af, bool raw, uint32_t rcvbuf)
{
	int one = 1, recverr = !raw, sz = rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)rcvbuf;

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		return -errno;
	/* Raw sockets receive ICMP errors as datagrams (the filters above let ours in):
	 * off their error queue, where only transmit stamps go. Datagram sockets get
	 * them nowhere else: on the error queue (ping_err), read by txstamp.c. */
	if (af == AF_INET6
		? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &recverr, sizeof(recverr)) < 0
		: setsockopt(fd, IPPROTO_IP, IP_RECVERR, &recverr, sizeof(recverr)) < 0)
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

/* One int option; on failure -errno, with its name in *refused. */
static int setint(int fd, int level, int name, int v, const char *what, const char **refused)
{
	if (setsockopt(fd, level, name, &v, sizeof(v)) == 0)
		return 0;
	*refused = what;
	return -errno;
}

/* The source address of family af in pkt, into sa; false when none is set. */
static bool source_of(const struct rp_engine_pkt *pk, int af, union rp_io_addr *sa, socklen_t *len)
{
	for (unsigned i = 0; i < RP_ARRAY_SIZE(pk->source); i++) {
		const struct rp_ip *a = &pk->source[i];

		if (rp_ip_is_zero(a) || rp_ip_is_v4(a) != (af == AF_INET))
			continue;
		memset(sa, 0, sizeof(*sa));
		sa->sa.sa_family = (sa_family_t)af;
		if (af == AF_INET) {
			memcpy(&sa->v4.sin_addr, a->b + 12, 4);
			*len = sizeof(sa->v4);
		} else {
			memcpy(&sa->v6.sin6_addr, a->b, 16);
			*len = sizeof(sa->v6);
		}
		return true;
	}
	return false;
}

/* Linux takes no path MTU below net.ipv4.route.min_pmtu, whose default this is: an
 * IPv4 request no longer than this is never fragmented by the kernel's choice (only a
 * link narrower than 552 bytes, of which we know none in use, would need it to). */
#define SMALL_DF_MAX_LEN 552u

/* Without dont_fragment the kernel's default (IP_PMTUDISC_WANT) already sends a small
 * request with DF set, but may fragment it locally, so each one gets an IP ID from
 * __ip_select_ident: a keyed hash of the addresses and, for a destination not sent
 * to in the same jiffy, a random step (sampled with perf under bench/daemon on 6.18:
 * about 0.3 CPU-s per 1M requests, 5% of the daemon's whole cost at 20k devices).
 * IP_PMTUDISC_PROBE keeps DF, gives up the local fragmenting that
 * a request this small never needs, and lets the ID be 0 (RFC 6864: an atomic
 * datagram's ID means nothing). The packets differ from the default's in the ID
 * alone. Larger requests keep the default: fragmented locally when over the MTU. The
 * socket is shared by every probe profile, so what decides is pk->payload_len, the
 * largest any profile sends (groups' packet_size; a reload cannot raise it). An
 * optimisation, so a refusal is not an error. */
static void small_df(int fd, const struct rp_engine_pkt *pk)
{
	int v = IP_PMTUDISC_PROBE;

	/* Our IPv4 headers carry no options: 20 bytes. */
	if (20u + rp_io__pkt_len(pk) <= SMALL_DF_MAX_LEN)
		(void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
}

/* What each echo request carries at the IP layer, and where it leaves from (struct
 * rp_prober_conf's packet fields), plus the reply's TTL or hop limit as a control
 * message. Datagram sockets honour every one (ping_v4_sendmsg and ping_v6_sendmsg take
 * TTL, TOS, DF, mark and device from the socket as raw ones do); SO_MARK needs
 * CAP_NET_ADMIN, and SO_BINDTODEVICE CAP_NET_RAW before Linux 5.7, whatever the kind.
 * Raw IPv4 sockets get no IP_RECVTTL: the TTL is in the header they pass. The bind to
 * a source is done by the caller (dgram binds anyway, for its identifier). */
static int set_pkt_opts(int fd, int af, bool raw, const struct rp_engine_pkt *pk,
			const char **refused)
{
	bool v6 = af == AF_INET6;
	int rc = 0;

	if (!rc && pk->ttl)
		rc = v6 ? setint(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, pk->ttl,
				 "IPV6_UNICAST_HOPS (ttl)", refused)
			: setint(fd, IPPROTO_IP, IP_TTL, pk->ttl, "IP_TTL (ttl)", refused);
	if (!rc && pk->tos)
		rc = v6 ? setint(fd, IPPROTO_IPV6, IPV6_TCLASS, pk->tos, "IPV6_TCLASS (tos)",
				 refused)
			: setint(fd, IPPROTO_IP, IP_TOS, pk->tos, "IP_TOS (tos)", refused);
	if (!rc && pk->dont_fragment)
		rc = v6 ? setint(fd, IPPROTO_IPV6, IPV6_DONTFRAG, 1,
				 "IPV6_DONTFRAG (dont_fragment)", refused)
			: setint(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO,
				 "IP_MTU_DISCOVER (dont_fragment)", refused);
	else if (!rc && !v6)
		small_df(fd, pk);
	if (!rc && pk->interface[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, pk->interface,
		       (socklen_t)strnlen(pk->interface, sizeof(pk->interface))) < 0) {
		*refused = "SO_BINDTODEVICE (interface)";
		rc = -errno;
	}
	if (!rc && pk->fwmark)
		rc = setint(fd, SOL_SOCKET, SO_MARK, (int)pk->fwmark, "SO_MARK (fwmark)", refused);
	if (!rc && v6)
		rc = setint(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT", refused);
	else if (!rc && !raw)
		rc = setint(fd, IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL", refused);
	return rc;
}

/* Why an option was refused, when it was one: " (SO_MARK (fwmark) refused, needs
 * CAP_NET_ADMIN)", else "". */
static void refused_why(const struct rp_io_sock *s, int rc, char *buf, size_t len)
{
	const char *need = "";

	buf[0] = '\0';
	if (!s->refused)
		return;
	if (rc == -EPERM && !strncmp(s->refused, "SO_MARK", 7))
		need = ", needs CAP_NET_ADMIN";
	else if (rc == -EPERM && !strncmp(s->refused, "SO_BINDTODEVICE", 15))
		need = ", needs CAP_NET_RAW on this kernel";
	else if (rc == -ENODEV)
		need = ": no such interface";
	else if (rc == -EADDRNOTAVAIL)
		need = ": not an address of this host";
	snprintf(buf, len, " (%s refused%s)", s->refused, need);
}

static int open_raw(const struct rp_engine_conf *conf, int af, struct rp_io_sock *s)
{
	int fd = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			af == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	union rp_io_addr sa;
	socklen_t len;
	int rc;

	s->refused = NULL;
	if (fd < 0)
		return -errno;
	rc = af == AF_INET6 ? attach_raw6_filters(fd, conf->ident)
			    : attach_raw_filters(fd, conf->ident);
	if (!rc)
		rc = set_common_opts(fd, af, true, conf->rcvbuf_bytes);
	if (!rc)
		rc = set_pkt_opts(fd, af, true, &conf->pkt, &s->refused);
	if (!rc && source_of(&conf->pkt, af, &sa, &len) && bind(fd, &sa.sa, len) < 0) {
		rc = -errno;
		s->refused = "bind (source_address)";
	}
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

	s->refused = NULL;
	if (fd < 0)
		return -errno;
	/* The options first: SO_BINDTODEVICE must precede the bind to an address. */
	rc = set_pkt_opts(fd, af, false, &conf->pkt, &s->refused);
	if (!rc) {
		bool src = source_of(&conf->pkt, af, &sa, &len);

		if (bind(fd, &sa.sa, len) < 0) {
			rc = -errno;
			if (src)
				s->refused = "bind (source_address)";
		} else if (getsockname(fd, &sa.sa, &len) < 0) {
			rc = -errno;
		}
	}
	if (!rc)
		rc = set_common_opts(fd, af, false, conf->rcvbuf_bytes);
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
	char range[64], dgram_why[192], opt[96];
	int rc;

	read_ping_range(range, sizeof(range));
	switch (conf->icmp_mode) {
	case RP_ICMP_RAW:
		rc = open_raw(conf, af, out);
		refused_why(out, rc, opt, sizeof(opt));
		if (rc)
			snprintf(why, whylen, "raw ICMP%s socket (icmp_mode raw) failed: %s%s", v,
				 strerror(-rc),
				 opt[0]		? opt
				 : rc == -EPERM ? " (needs CAP_NET_RAW)"
						: "");
		else
			snprintf(why, whylen, "icmp raw (configured), ident %d", out->ident);
		return rc;
	case RP_ICMP_DGRAM:
		rc = open_dgram(conf, af, out);
		refused_why(out, rc, opt, sizeof(opt));
		if (rc && opt[0])
			snprintf(why, whylen,
				 "ICMP%s datagram socket (icmp_mode dgram) failed: %s%s", v,
				 strerror(-rc), opt);
		else if (rc)
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
	refused_why(out, rc, opt, sizeof(opt));
	if (!rc) {
		snprintf(why, whylen, "icmp dgram (ping_group_range %s admits gid %u)", range,
			 (unsigned)getegid());
		return 0;
	}
	if (rc == -EACCES)
		snprintf(dgram_why, sizeof(dgram_why), "ping_group_range %s excludes gid %u", range,
			 (unsigned)getegid());
	else
		snprintf(dgram_why, sizeof(dgram_why), "ICMP datagram socket: %s%s", strerror(-rc),
			 opt);
	rc = open_raw(conf, af, out);
	refused_why(out, rc, opt, sizeof(opt));
	if (rc)
		snprintf(why, whylen, "no ICMP%s socket: dgram refused (%s), raw: %s%s", v,
			 dgram_why, strerror(-rc),
			 opt[0]		? opt
			 : rc == -EPERM ? " (needs CAP_NET_RAW)"
					: "");
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
	if (rc && out[RP_IO_V6].refused) {
		/* An option asked for and refused is an error, not a missing family. */
		char opt[96];

		refused_why(&out[RP_IO_V6], rc, opt, sizeof(opt));
		out[RP_IO_V6].fd = -1;
		close(out[RP_IO_V4].fd);
		out[RP_IO_V4].fd = -1;
		snprintf(why, whylen, "ICMPv6 socket: %s%s", strerror(-rc), opt);
		return rc;
	}
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
