/* The fallback backend, for kernels and containers without io_uring: sendmmsg of
 * everything queued (batches of up to 1024, each a run of one socket's buffers in
 * queue order), epoll_wait on the sockets, then recvmmsg in batches of 64 until each
 * socket is empty. On loopback at 20K probes/s it costs about what io_uring does
 * (DESIGN.md "What was measured").
 *
 * A socket is read only once it is live: once something was sent on it, or epoll
 * found it readable. An IPv4-only fleet thus never makes a system call for the IPv6
 * socket (and the reverse); nothing arrives on a socket before our first request
 * through it but what its filters drop or what epoll reports. */
#include "io/io_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ringprobe/compiler.h"
#include "ringprobe/conf.h"
#include "ringprobe/xalloc.h"

#define SEND_BATCH 1024u
#define RECV_BATCH 64u
/* Datagrams one poll takes at most, so a flood cannot keep sends from going out. */
#define RECV_PER_POLL 65536

struct mmsg {
	int epfd;
	bool want_out[RP_IO_NSOCK]; /* EPOLLOUT in its interest set: sends wait for room */
	bool live[RP_IO_NSOCK];	    /* read it each poll (see above) */
	struct mmsghdr smsg[SEND_BATCH];
	struct mmsghdr rmsg[RECV_BATCH];
	struct iovec riov[RECV_BATCH];
	union rp_io_addr rname[RECV_BATCH];
	uint64_t rctrl[RECV_BATCH][RP_IO_CTRL_LEN / sizeof(uint64_t)];
	uint8_t *rbuf;
};

/* Sends the queue from its head, a run of buffers for one socket per sendmmsg. A
 * partial sendmmsg sent a prefix: those slots are done and the rest goes in the next
 * call. EAGAIN/ENOBUFS leave the rest queued for the next poll (counted once per
 * refusal) and return the socket that refused; any other error fails the first
 * message of the batch alone (sendmmsg reports it when nothing was sent). Returns -1
 * when everything went. */
static int send_all(struct rp_engine *e, struct mmsg *m, rp_rx_cb cb, void *arg)
{
	uint32_t mask = e->nslots - 1;

	while (rp_io__queued(e)) {
		uint32_t most = rp_io__queued(e) < SEND_BATCH ? rp_io__queued(e) : SEND_BATCH, n;
		unsigned sock = e->slots[e->queue[e->q_head & mask]].sock;
		int rc;

		for (n = 0; n < most; n++) {
			const struct rp_io_slot *s = &e->slots[e->queue[(e->q_head + n) & mask]];

			if (RP_UNLIKELY(s->sock != sock))
				break;
			m->smsg[n].msg_hdr = s->msg;
		}
		m->live[sock] = true;
		rc = sendmmsg(e->fd[sock], m->smsg, n, 0);
		if (RP_LIKELY(rc > 0)) {
			for (int i = 0; i < rc; i++)
				rp_io__slot_release(e, rp_io__queue_pop(e));
			e->stats.sent += (uint64_t)rc;
			rp_io__tx_sent(e, sock, (uint32_t)rc);
			continue;
		}
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			e->stats.send_eagain++;
			return (int)sock;
		}
		rp_io__send_failed(e, rp_io__queue_pop(e), cb, arg);
	}
	return -1;
}

/* Asks epoll for EPOLLOUT on the socket whose sends wait for room, and only then. */
static void want_out(struct rp_engine *e, struct mmsg *m, int blocked)
{
	for (unsigned i = 0; i < RP_IO_NSOCK; i++) {
		bool want = (int)i == blocked;
		struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0u), .data.u32 = i};

		if (e->fd[i] < 0 || want == m->want_out[i])
			continue;
		if (epoll_ctl(m->epfd, EPOLL_CTL_MOD, e->fd[i], &ev) == 0)
			m->want_out[i] = want;
	}
}

static void deliver(struct rp_engine *e, struct mmsg *m, unsigned sock, unsigned i, rp_rx_cb cb,
		    void *arg)
{
	struct msghdr *h = &m->rmsg[i].msg_hdr;
	struct rp_rx rx = {.buf = m->riov[i].iov_base, .len = m->rmsg[i].msg_len};

	if (rx.len > RP_IO_RECV_BUF_LEN)
		rx.len = RP_IO_RECV_BUF_LEN;
	rx.cut = (h->msg_flags & MSG_TRUNC) != 0;
	rp_io__src(sock, &m->rname[i], h->msg_namelen, &rx.src);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
		rp_io__cmsg(e, sock, c, &rx);
	cb(arg, &rx);
}

/* recvmmsg with MSG_DONTWAIT returns fewer than asked exactly when the socket ran
 * dry, so a short batch ends the loop without a last EAGAIN call. */
static int recv_all(struct rp_engine *e, struct mmsg *m, unsigned sock, rp_rx_cb cb, void *arg)
{
	int got = 0, errs = 0;

	while (got < RECV_PER_POLL) {
		int rc;

		for (unsigned i = 0; i < RECV_BATCH; i++) {
			m->rmsg[i].msg_hdr.msg_namelen = sizeof(m->rname[i]);
			m->rmsg[i].msg_hdr.msg_controllen = sizeof(m->rctrl[i]);
			m->rmsg[i].msg_hdr.msg_flags = 0;
		}
		rc = recvmmsg(e->fd[sock], m->rmsg, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (rc < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno != EINTR && !rp_io__errq_flag(e, sock))
				e->stats.recv_errors++;
			/* A pending socket error is consumed by the call that reports it. */
			if (++errs > 16)
				break;
			continue;
		}
		for (int i = 0; i < rc; i++)
			deliver(e, m, sock, (unsigned)i, cb, arg);
		e->stats.received += (uint64_t)rc;
		got += rc;
		if ((unsigned)rc < RECV_BATCH)
			break;
	}
	return got;
}

static int mmsg_poll(struct rp_engine *e, uint64_t timeout_ns, rp_rx_cb cb, void *arg)
{
	struct mmsg *m = e->be;
	int got = 0;

	want_out(e, m, send_all(e, m, cb, arg));
	/* Stamps of the requests just sent, before the replies and before the wait (a
	 * non-empty error queue makes the socket ready). */
	rp_io__tx_read(e, cb, arg);
	if (timeout_ns) {
		uint64_t ms = (timeout_ns + 999999u) / 1000000u;
		struct epoll_event ev[RP_IO_NSOCK];
		int n = epoll_wait(m->epfd, ev, RP_IO_NSOCK, ms > INT_MAX ? INT_MAX : (int)ms);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++)
			if (ev[i].data.u32 < RP_IO_NSOCK)
				m->live[ev[i].data.u32] = true;
		if (rp_io__queued(e))
			send_all(e, m, cb, arg);
	}
	rp_io__tx_read(e, cb, arg); /* a second send_all above */
	for (unsigned i = 0; i < RP_IO_NSOCK; i++)
		if (m->live[i] && e->fd[i] >= 0)
			got += recv_all(e, m, i, cb, arg);
	rp_io__tx_read(e, cb, arg); /* an ICMP error a receive reported (dgram) */
	return got;
}

static void mmsg_destroy(struct rp_engine *e)
{
	struct mmsg *m = e->be;

	close(m->epfd);
	free(m->rbuf);
	free(m);
}

static const struct rp_io_ops mmsg_ops = {
    .name = "mmsg",
    .poll = mmsg_poll,
    .destroy = mmsg_destroy,
};

int rp_io__mmsg_create(struct rp_engine *e, const struct rp_engine_conf *conf, char *why,
		       size_t whylen)
{
	struct mmsg *m;
	int epfd = epoll_create1(EPOLL_CLOEXEC), rc = epfd < 0 ? -errno : 0;

	(void)conf;
	for (unsigned i = 0; !rc && i < RP_IO_NSOCK; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};

		if (e->fd[i] >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, e->fd[i], &ev) < 0)
			rc = -errno;
	}
	if (rc) {
		snprintf(why, whylen, "; epoll for mmsg failed: %s", strerror(-rc));
		if (epfd >= 0)
			close(epfd);
		return rc;
	}
	m = rp_xcalloc(1, sizeof(*m));
	m->epfd = epfd;
	/* The IPv4 socket is read from the start, as it always was. */
	m->live[RP_IO_V4] = true;
	m->rbuf = rp_xaligned_alloc(64, (size_t)RECV_BATCH * RP_IO_RECV_BUF_LEN);
	for (unsigned i = 0; i < RECV_BATCH; i++) {
		struct msghdr *h = &m->rmsg[i].msg_hdr;

		m->riov[i].iov_base = m->rbuf + (size_t)i * RP_IO_RECV_BUF_LEN;
		m->riov[i].iov_len = RP_IO_RECV_BUF_LEN;
		h->msg_name = &m->rname[i];
		h->msg_iov = &m->riov[i];
		h->msg_iovlen = 1;
		h->msg_control = m->rctrl[i];
	}
	e->ops = &mmsg_ops;
	e->be = m;
	e->info.backend = RP_BACKEND_MMSG;
	e->info.features = 0;
	return 0;
}
