/* Transmit timestamps: when each echo request really left, from the kernel.
 *
 * The send stamp in a request's payload is read when the request is prepared. A shard
 * prepares everything due in a tick and submits it in one batch; the kernel then
 * sends the batch one request after the other, so the hundredth leaves a few hundred
 * microseconds after its stamp was read, and that delay would count as round-trip
 * time. With SOF_TIMESTAMPING_TX_SOFTWARE the kernel stamps each request as the
 * device driver takes it (skb_tx_timestamp: loopback, tun and nearly every NIC driver)
 * and queues a copy of the packet with that stamp on the socket's error queue. We read
 * them back in batches (recvmmsg with MSG_ERRQUEUE, one system call per 32 stamps,
 * only in a poll that sent something) right after the sends went out and before the
 * replies of the same poll are handed out, and pass each to the poll callback with
 * rx->tx set; the shard then measures the rtt from that stamp.
 *
 * Reading after the sends and before the replies is enough: a reply cannot arrive
 * before its request has left, and the stamp is queued when the request leaves. A
 * stamp that comes later (a driver that stamps after a queue) finds its probe answered
 * and is ignored; the rtt then starts at the payload's stamp, as without this.
 *
 * The copy comes back from the link-layer header on (an Ethernet header on loopback,
 * none on tun; then the IPv4 or IPv6 header), so the request is found at its end: our
 * packets have one length (or, when a large payload makes the copy longer than our
 * buffer, by its header and magic: find_request). Each socket has its own error queue; IPv6 ones
 * describe each stamp with a SOL_IPV6/IPV6_RECVERR message instead of SOL_IP/IP_RECVERR. Without
 * SOF_TIMESTAMPING_OPT_TSONLY the kernel charges each copy to the receive buffer until it is read:
 * one tick's sends at most.
 *
 * The same queue carries the ICMP errors of datagram (ping) sockets, which get them no
 * other way (IP_RECVERR / IPV6_RECVERR, socket.c): each message is the request the
 * error quoted, from its ICMP header on, named by its destination, with the error's
 * type, code and sender in the extended error. They go to the callback with
 * rx->icmp_err set. They are read with the stamps, and otherwise only when a receive
 * reported the socket's pending error (rp_io__errq_flag: the kernel sets sk_err with
 * each, so the next recvmsg fails once with its errno, and epoll says EPOLLERR): no
 * system call is added to a poll that has no error waiting. Without transmit stamps
 * (a datagram engine with them masked off) the reader is set up for errors alone. */
#include "io/io_int.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ringprobe/compiler.h"
#include "ringprobe/conf.h"
#include "ringprobe/xalloc.h"

/* Not in Debian 12's headers (Linux 6.11): rx packets then get no SCM_TIMESTAMPING
 * beside their SCM_TIMESTAMPNS. Older kernels refuse it; we retry without. */
#ifndef SOF_TIMESTAMPING_OPT_RX_FILTER
#define SOF_TIMESTAMPING_OPT_RX_FILTER (1 << 17)
#endif

#define TX_BATCH 32u
/* Room for a link-layer header, an IPv4 header with options or an IPv6 header, and
 * our request. */
#define TX_DATA_LEN 256u
/* SCM_TIMESTAMPING (3 timespecs) and IP_RECVERR (extended error + address). */
#define TX_CTRL_LEN 256u

struct rp_io_tx {
	struct mmsghdr msg[TX_BATCH];
	struct iovec iov[TX_BATCH];
	uint64_t ctrl[TX_BATCH][TX_CTRL_LEN / sizeof(uint64_t)];
	uint8_t data[TX_BATCH][TX_DATA_LEN];
	union rp_io_addr name[TX_BATCH]; /* an ICMP error's request destination */
	uint32_t pending[RP_IO_NSOCK];	 /* requests sent on each since its last read */
	bool more[RP_IO_NSOCK];		 /* its last read filled a batch, or a receive
					  * reported an error: more may wait */
	bool stamps;			 /* transmit stamps on (else ICMP errors only) */
};

static struct rp_io_tx *tx_init(void)
{
	struct rp_io_tx *t = rp_xcalloc(1, sizeof(*t));

	for (unsigned i = 0; i < TX_BATCH; i++) {
		t->iov[i] = (struct iovec){.iov_base = t->data[i], .iov_len = TX_DATA_LEN};
		t->msg[i].msg_hdr.msg_iov = &t->iov[i];
		t->msg[i].msg_hdr.msg_iovlen = 1;
		t->msg[i].msg_hdr.msg_name = &t->name[i];
	}
	return t;
}

void rp_io__errq_init(struct rp_engine *e)
{
	if (!e->tx)
		e->tx = tx_init();
}

bool rp_io__errq_flag(struct rp_engine *e, unsigned sock)
{
	if (!e->tx || sock >= RP_IO_NSOCK || e->info.icmp_mode != RP_ICMP_DGRAM)
		return false;
	e->tx->more[sock] = true;
	return true;
}

int rp_io__tx_init(struct rp_engine *e)
{
	int flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
		    SOF_TIMESTAMPING_OPT_RX_FILTER;

	for (unsigned i = 0; i < RP_IO_NSOCK; i++) {
		if (e->fd[i] < 0 ||
		    !setsockopt(e->fd[i], SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)))
			continue;
		flags &= ~SOF_TIMESTAMPING_OPT_RX_FILTER;
		if (setsockopt(e->fd[i], SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)) < 0)
			return -errno;
	}
	if (!e->tx)
		e->tx = tx_init();
	e->tx->stamps = true;
	return 0;
}

void rp_io__tx_sent(struct rp_engine *e, unsigned sock, uint32_t n)
{
	if (e->tx && e->tx->stamps)
		e->tx->pending[sock] += n;
}

/* An ICMP error of a datagram socket (SO_EE_ORIGIN_ICMP / ICMP6): its type, code and
 * sender into rx; false when h is not one. */
static bool icmp_error(struct msghdr *h, unsigned sock, struct rp_rx *rx)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		struct sock_extended_err ee;
		union rp_io_addr off;
		size_t olen;

		if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
		      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) ||
		    c->cmsg_len < CMSG_LEN(sizeof(ee)))
			continue;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6)
			return false;
		rx->icmp_err = true;
		rx->err_type = ee.ee_type;
		rx->err_code = ee.ee_code;
		/* The offender follows the extended error (SO_EE_OFFENDER). */
		olen = c->cmsg_len - CMSG_LEN(sizeof(ee));
		memset(&off, 0, sizeof(off));
		memcpy(&off, CMSG_DATA(c) + sizeof(ee), olen < sizeof(off) ? olen : sizeof(off));
		rp_io__src(sock, &off, (unsigned)(olen < sizeof(off) ? olen : sizeof(off)),
			   &rx->src);
		rp_io__src(sock, h->msg_name, h->msg_namelen, &rx->err_dst);
		return true;
	}
	return false;
}

/* The driver's stamp of one error-queue message, or 0 when it is not a transmit
 * timestamp (an ICMP error, were IP_RECVERR on). */
static uint64_t tx_ns(struct msghdr *h)
{
	uint64_t ns = 0;
	bool stamp = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts)); /* ts[0]: the software stamp */
			ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		} else if (((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
			    (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct sock_extended_err))) {
			struct sock_extended_err ee;

			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			stamp = ee.ee_errno == ENOMSG &&
				ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING &&
				ee.ee_info == SCM_TSTAMP_SND;
		}
	}
	return stamp ? ns : 0;
}

/* Where our request starts in a copy of `len` bytes. Our requests have one length
 * (pkt_len), so in a whole copy the request is its tail. A copy cut to TX_DATA_LEN (a
 * payload larger than about 200 bytes) has lost its tail: the request is then the
 * first echo request header (type 8 or 128, code 0) followed by our magic after a
 * link-layer and IP header; the shard checks the fields it reads. NULL when neither
 * is there. */
static const uint8_t *find_request(const struct rp_engine *e, const uint8_t *d, size_t len,
				   bool cut)
{
	if (!cut)
		return len >= e->pkt_len ? d + len - e->pkt_len : NULL;
	for (size_t o = 0; o + RP_ICMP_MIN_LEN <= len; o++) {
		const uint8_t *m = d + o + RP_ICMP_HDR_LEN;

		if ((d[o] == 8 || d[o] == 128) && d[o + 1] == 0 &&
		    (m[0] | m[1] << 8 | m[2] << 16 | (uint32_t)m[3] << 24) == RP_ICMP_MAGIC)
			return d + o;
	}
	return NULL;
}

static void tx_read_sock(struct rp_engine *e, unsigned sock, rp_rx_cb cb, void *arg)
{
	struct rp_io_tx *t = e->tx;

	t->pending[sock] = 0;
	for (unsigned rounds = 0; rounds < 1024; rounds++) {
		int rc;

		for (unsigned i = 0; i < TX_BATCH; i++) {
			struct msghdr *h = &t->msg[i].msg_hdr;

			h->msg_control = t->ctrl[i];
			h->msg_controllen = sizeof(t->ctrl[i]);
			h->msg_namelen = sizeof(t->name[i]);
			h->msg_flags = 0;
		}
		rc = recvmmsg(e->fd[sock], t->msg, TX_BATCH, MSG_ERRQUEUE | MSG_DONTWAIT, NULL);
		if (rc < 0 && errno == EINTR)
			continue;
		t->more[sock] = rc == (int)TX_BATCH;
		if (rc <= 0)
			return;
		for (int i = 0; i < rc; i++) {
			struct msghdr *h = &t->msg[i].msg_hdr;
			size_t len = t->msg[i].msg_len;
			struct rp_rx rx = {.tx = true};

			if (RP_UNLIKELY(icmp_error(h, sock, &rx))) {
				rx.tx = false;
				rx.buf = t->data[i];
				rx.len = len < TX_DATA_LEN ? len : TX_DATA_LEN;
				rx.rx_ns = 0; /* timed on the monotonic clock */
				e->stats.errq_icmp++;
				cb(arg, &rx);
				continue;
			}
			rx.rx_ns = tx_ns(h);
			rx.buf = rx.rx_ns ? find_request(e, t->data[i], len,
							 (h->msg_flags & MSG_TRUNC) != 0)
					  : NULL;
			if (RP_UNLIKELY(!rx.buf)) {
				e->stats.tx_unusable++;
				continue;
			}
			rx.len = RP_ICMP_MIN_LEN;
			e->stats.tx_stamps++;
			cb(arg, &rx);
		}
		if (!t->more[sock])
			return;
	}
}

void rp_io__tx_read(struct rp_engine *e, rp_rx_cb cb, void *arg)
{
	struct rp_io_tx *t = e->tx;

	if (!t)
		return;
	for (unsigned i = 0; i < RP_IO_NSOCK; i++)
		if (t->pending[i] || t->more[i])
			tx_read_sock(e, i, cb, arg);
}

void rp_io__tx_fini(struct rp_engine *e)
{
	free(e->tx);
	e->tx = NULL;
}
