/* The io_uring backend (liburing examples/io_uring-udp.c for the ring loop).
 *
 * One ring per engine, no SQPOLL (a whole core on small machines, DESIGN.md).
 * Sends: one SQE per queued buffer, IORING_OP_SEND with a destination address (6.1+)
 * or IORING_OP_SENDMSG with the slot's msghdr. A buffer goes back to the free stack at
 * its CQE; -EAGAIN/-ENOBUFS put it back on the pending queue for the next poll.
 * Receives: one multishot RECVMSG on a provided buffer ring (6.0+), re-armed when a CQE
 * comes without IORING_CQE_F_MORE; otherwise a fixed set of single RECVMSG SQEs, each
 * re-submitted after its completion. Either way a poll re-arms and flushes again
 * (a bounded number of times) while receives keep ending, so datagrams left in the
 * socket do not wait for the next tick.
 * With two sockets (IPv4 and IPv6) each has its own receive: one multishot RECVMSG per
 * socket, both on one provided buffer ring (one buffer group): the pool stays
 * recv_bufs buffers whatever the mix of families, the busy family takes what it
 * needs, and an idle socket holds no buffer (a multishot receive takes a buffer only
 * per datagram). Both use one msghdr template sized for a sockaddr_in6, so every
 * buffer has the same layout. Without multishot, each socket has its own set of
 * single RECVMSGs. Sends go to the socket of each buffer's family.
 * user_data: the op in the top byte, the send slot, receive index or (multishot) the
 * socket in the low 32 bits.
 *
 * With SINGLE_ISSUER|DEFER_TASKRUN the ring is created disabled (R_DISABLED) and
 * enabled by the first rp_engine_poll: the kernel then takes the polling thread, not
 * the creating one, as the ring's only submitter, so an engine may be created by the
 * main thread before the shard threads start. */
#include "io/io_int.h"

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ringprobe/compiler.h"
#include "ringprobe/conf.h"
#include "ringprobe/xalloc.h"

enum { UD_SEND = 1, UD_RECV_MULTI = 2, UD_RECV_ONE = 3 };
#define UD(op, idx) ((uint64_t)(op) << 56 | (uint32_t)(idx))
#define UD_OP(ud) ((unsigned)((ud) >> 56))
#define UD_IDX(ud) ((uint32_t)(ud))

#define BGID 7
#define CQE_BATCH 256u
#define ONE_MAX 64u /* single RECVMSGs outstanding without multishot */
#define SQ_MIN 128u
#define SQ_MAX 4096u
#define CQ_MAX 65536u

/* A single-shot receive: its own message, buffer, name and control space. */
struct one_rx {
	struct msghdr msg;
	struct iovec iov;
	union rp_io_addr name;
	unsigned sock; /* RP_IO_V4 or RP_IO_V6 */
	uint64_t ctrl[RP_IO_CTRL_LEN / sizeof(uint64_t)];
};

struct uring {
	struct io_uring ring;
	bool enabled;	   /* false until the first poll when created R_DISABLED */
	bool send_addr;	   /* IORING_OP_SEND with address, else SENDMSG */
	bool send_addr_ok; /* one has succeeded: -EINVAL no longer means "unsupported" */
	bool multishot;	   /* multishot RECVMSG on the buffer ring, else single RECVMSGs */
	bool multishot_ok; /* one has delivered: -EINVAL no longer means "unsupported" */
	bool arm_multi[RP_IO_NSOCK]; /* that socket's multishot receive needs (re-)arming */
	unsigned drain_rounds;
	unsigned rearm_rounds; /* extra flushes per poll for receives that ended */

	uint8_t *rbuf; /* nrbuf * RP_IO_RECV_BUF_LEN */
	uint32_t nrbuf;
	struct io_uring_buf_ring *br;
	uint32_t br_added; /* buffers added since the last advance */
	struct msghdr multi_msg;

	struct one_rx *one; /* none of them, over the first none receive buffers: none
			     * per open socket, in socket order */
	uint32_t none;
	uint32_t *one_arm; /* indices to submit at the next poll */
	uint32_t none_arm;
	uint32_t per;		     /* single receives per open socket */
	uint32_t arm_n[RP_IO_NSOCK]; /* of one_arm, those of each socket */

	struct io_uring_cqe *cqes[CQE_BATCH];
};

/* Tries setup flags from best to plainest; -EINVAL means "this kernel does not know a
 * flag", anything else (EPERM from seccomp or kernel.io_uring_disabled, ENOSYS, ENOMEM)
 * is final. *defer says whether DEFER_TASKRUN was accepted. */
static int ring_init(struct uring *u, const struct rp_engine_conf *conf, unsigned mask, bool *defer,
		     char *why, size_t whylen)
{
	const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
	const unsigned tries[] = {
	    base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		IORING_SETUP_R_DISABLED,
	    base | IORING_SETUP_COOP_TASKRUN,
	    base,
	    IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP,
	};
	uint32_t sq = rp_pow2_at_least(conf->send_slots * 2u);
	uint32_t cq = rp_pow2_at_least(conf->send_slots + conf->recv_bufs + 2 * ONE_MAX);
	int rc = -EINVAL;

	sq = sq < SQ_MIN ? SQ_MIN : sq > SQ_MAX ? SQ_MAX : sq;
	cq = cq < 2 * sq ? 2 * sq : cq > CQ_MAX ? CQ_MAX : cq;
	for (size_t i = (mask & RP_FEAT_DEFER_TASKRUN) ? 0 : 1; i < RP_ARRAY_SIZE(tries); i++) {
		struct io_uring_params p = {.flags = tries[i], .cq_entries = cq};

		rc = io_uring_queue_init_params(sq, &u->ring, &p);
		if (rc == -EINVAL)
			continue;
		if (rc)
			break;
		if (!(p.features & IORING_FEAT_FAST_POLL)) {
			io_uring_queue_exit(&u->ring);
			snprintf(why, whylen,
				 "io_uring lacks IORING_FEAT_FAST_POLL (kernel < 5.7)");
			return -EOPNOTSUPP;
		}
		*defer = tries[i] & IORING_SETUP_DEFER_TASKRUN;
		u->enabled = !(tries[i] & IORING_SETUP_R_DISABLED);
		return 0;
	}
	snprintf(why, whylen, "io_uring_setup failed: %s%s", strerror(-rc),
		 rc == -EPERM	 ? " (seccomp or kernel.io_uring_disabled)"
		 : rc == -ENOSYS ? " (kernel without io_uring)"
				 : "");
	return rc;
}

/* Receive buffers, the provided buffer ring over all of them (when multishot is
 * possible) and the single-shot receives over the first ONE_MAX (always prepared, so a
 * kernel that refuses multishot at run time can be served without allocating). */
static int recv_init(struct rp_engine *e, struct uring *u, const struct rp_engine_conf *conf,
		     bool multishot)
{
	struct io_uring_buf_reg reg = {.ring_entries = conf->recv_bufs, .bgid = BGID};
	int rc, mask = io_uring_buf_ring_mask(conf->recv_bufs);
	unsigned socks[RP_IO_NSOCK], nsock = 0;
	uint32_t per;

	for (unsigned i = 0; i < RP_IO_NSOCK; i++)
		if (e->fd[i] >= 0)
			socks[nsock++] = i;
	u->nrbuf = conf->recv_bufs;
	/* recv_bufs 1 with two sockets: a second buffer, for the single RECVMSGs only. */
	u->rbuf = rp_xaligned_alloc(4096, (size_t)(u->nrbuf < nsock ? nsock : u->nrbuf) *
					      RP_IO_RECV_BUF_LEN);
	per = u->nrbuf / nsock < ONE_MAX ? u->nrbuf / nsock : ONE_MAX;
	per = per ? per : 1;
	u->per = per;
	u->none = per * nsock;
	u->one = rp_xcalloc(u->none, sizeof(*u->one));
	u->one_arm = rp_xcalloc(u->none, sizeof(*u->one_arm));
	for (uint32_t i = 0; i < u->none; i++) {
		struct one_rx *r = &u->one[i];

		r->sock = socks[i / per];
		r->iov.iov_base = u->rbuf + (size_t)i * RP_IO_RECV_BUF_LEN;
		r->iov.iov_len = RP_IO_RECV_BUF_LEN;
		r->msg.msg_iov = &r->iov;
		r->msg.msg_iovlen = 1;
	}
	/* Room for a sockaddr_in6, rounded up so that the control messages after it
	 * (io_uring_recvmsg_out, name, cmsgs, payload) stay 8-byte aligned. */
	u->multi_msg.msg_namelen = (sizeof(struct sockaddr_in6) + 7u) & ~7u;
	u->multi_msg.msg_controllen = RP_IO_CTRL_LEN;
	if (!multishot)
		return -EOPNOTSUPP;
	u->br = rp_xaligned_calloc(4096, (size_t)u->nrbuf * sizeof(struct io_uring_buf));
	reg.ring_addr = (uint64_t)(uintptr_t)u->br;
	rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (rc) {
		free(u->br);
		u->br = NULL;
		return rc;
	}
	io_uring_buf_ring_init(u->br);
	for (uint32_t i = 0; i < u->nrbuf; i++)
		io_uring_buf_ring_add(u->br, u->rbuf + (size_t)i * RP_IO_RECV_BUF_LEN,
				      RP_IO_RECV_BUF_LEN, (unsigned short)i, mask, (int)i);
	io_uring_buf_ring_advance(u->br, (int)u->nrbuf);
	return 0;
}

static void uring_destroy(struct rp_engine *e)
{
	struct uring *u = e->be;

	/* Closing the ring cancels every request; the kernel holds its own pin on the
	 * buffer ring pages, so freeing our mapping afterwards is safe. */
	io_uring_queue_exit(&u->ring);
	free(u->br);
	free(u->rbuf);
	free(u->one);
	free(u->one_arm);
	free(u);
}

/* An SQE, submitting what is queued when the SQ is full. NULL if even that fails
 * (the caller leaves the rest for the next poll). */
static struct io_uring_sqe *sqe_get(struct uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (RP_LIKELY(sqe))
		return sqe;
	if (io_uring_submit(&u->ring) < 0)
		return NULL;
	return io_uring_get_sqe(&u->ring);
}

/* Every single receive to be submitted at the next poll (start-up, or multishot
 * refused at run time while none of them is in flight). */
static void arm_all_ones(struct uring *u)
{
	for (uint32_t i = 0; i < u->none; i++)
		u->one_arm[i] = i;
	u->none_arm = u->none;
	for (unsigned i = 0; i < RP_IO_NSOCK; i++)
		u->arm_n[i] = 0;
	for (uint32_t i = 0; i < u->none; i++)
		u->arm_n[u->one[i].sock]++;
}

static void arm_one(struct rp_engine *e, struct uring *u, struct io_uring_sqe *sqe, uint32_t i)
{
	struct one_rx *r = &u->one[i];

	r->msg.msg_name = &r->name;
	r->msg.msg_namelen = sizeof(r->name);
	r->msg.msg_control = r->ctrl;
	r->msg.msg_controllen = sizeof(r->ctrl);
	r->msg.msg_flags = 0;
	io_uring_prep_recvmsg(sqe, e->fd[r->sock], &r->msg, 0);
	io_uring_sqe_set_data64(sqe, UD(UD_RECV_ONE, i));
}

static void queue_recvs(struct rp_engine *e, struct uring *u)
{
	struct io_uring_sqe *sqe;

	if (u->multishot) {
		for (unsigned i = 0; i < RP_IO_NSOCK; i++) {
			if (!u->arm_multi[i] || !(sqe = sqe_get(u)))
				continue;
			io_uring_prep_recvmsg_multishot(sqe, e->fd[i], &u->multi_msg, 0);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = BGID;
			io_uring_sqe_set_data64(sqe, UD(UD_RECV_MULTI, i));
			u->arm_multi[i] = false;
		}
		return;
	}
	while (u->none_arm && (sqe = sqe_get(u))) {
		uint32_t idx = u->one_arm[--u->none_arm];

		u->arm_n[u->one[idx].sock]--;
		arm_one(e, u, sqe, idx);
	}
}

static void queue_sends(struct rp_engine *e, struct uring *u)
{
	struct io_uring_sqe *sqe;
	uint32_t n[RP_IO_NSOCK] = {0};

	while (rp_io__queued(e) && (sqe = sqe_get(u))) {
		uint32_t idx = rp_io__queue_pop(e);
		struct rp_io_slot *s = &e->slots[idx];
		int fd = e->fd[s->sock];

		/* A request with control messages (a profile's packet options) needs SENDMSG:
		 * SEND takes none. */
		if (u->send_addr && RP_LIKELY(!s->msg.msg_controllen)) {
			io_uring_prep_send(sqe, fd, s->iov.iov_base, s->iov.iov_len, 0);
			io_uring_prep_send_set_addr(sqe, &s->to.sa, (uint16_t)s->msg.msg_namelen);
		} else {
			io_uring_prep_sendmsg(sqe, fd, &s->msg, 0);
		}
		io_uring_sqe_set_data64(sqe, UD(UD_SEND, idx));
		n[s->sock]++;
	}
	for (unsigned i = 0; i < RP_IO_NSOCK; i++)
		if (n[i])
			rp_io__tx_sent(e, i, n[i]);
}

static void on_send(struct rp_engine *e, struct uring *u, uint32_t idx, int res, rp_rx_cb cb,
		    void *arg)
{
	if (RP_LIKELY(res >= 0)) {
		e->stats.sent++;
		u->send_addr_ok |= u->send_addr;
		rp_io__slot_release(e, idx);
	} else if (res == -EAGAIN || res == -ENOBUFS) {
		e->stats.send_eagain++;
		rp_io__queue_push(e, idx);
	} else if (res == -EINVAL && u->send_addr && !u->send_addr_ok &&
		   !e->slots[idx].msg.msg_controllen) {
		/* A kernel that has the ops we probed for but not SEND with an address. */
		u->send_addr = false;
		e->info.features &= ~(unsigned)RP_FEAT_SEND_ADDR;
		rp_io__queue_push(e, idx);
	} else {
		rp_io__send_failed(e, idx, cb, arg);
	}
}

static void deliver_multi(struct rp_engine *e, struct uring *u, unsigned sock, void *buf, int len,
			  rp_rx_cb cb, void *arg)
{
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, len, &u->multi_msg);
	struct rp_rx rx = {0};

	if (RP_UNLIKELY(!o)) {
		e->stats.recv_errors++;
		return;
	}
	/* o->namelen is the sender's full length; the kernel copied at most the
	 * template's. */
	rp_io__src(sock, io_uring_recvmsg_name(o),
		   o->namelen < u->multi_msg.msg_namelen ? o->namelen : u->multi_msg.msg_namelen,
		   &rx.src);
	for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, &u->multi_msg); c;
	     c = io_uring_recvmsg_cmsg_nexthdr(o, &u->multi_msg, c))
		rp_io__cmsg(e, sock, c, &rx);
	rx.buf = io_uring_recvmsg_payload(o, &u->multi_msg);
	rx.len = io_uring_recvmsg_payload_length(o, len, &u->multi_msg);
	rx.cut = (o->flags & MSG_TRUNC) != 0;
	e->stats.received++;
	cb(arg, &rx);
}

/* Returns 1 when a datagram went to the callback. */
static int on_recv_multi(struct rp_engine *e, struct uring *u, const struct io_uring_cqe *cqe,
			 rp_rx_cb cb, void *arg)
{
	unsigned sock = UD_IDX(cqe->user_data) < RP_IO_NSOCK ? UD_IDX(cqe->user_data) : 0;
	uint16_t bid;
	uint8_t *buf;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		u->arm_multi[sock] = true;
	if (RP_UNLIKELY(cqe->res < 0)) {
		if (cqe->res == -ENOBUFS) {
			e->stats.recv_nobufs++;
		} else if (cqe->res == -EINVAL && !u->multishot_ok) {
			/* Refused at run time: serve with single RECVMSGs from now on (once:
			 * the other socket's refusal may come after they went out). */
			if (u->multishot) {
				u->multishot = false;
				e->info.features &= ~(unsigned)RP_FEAT_RECV_MULTISHOT;
				arm_all_ones(u);
			}
		} else if (cqe->res != -ECANCELED && !rp_io__errq_flag(e, sock)) {
			e->stats.recv_errors++;
		}
		return 0;
	}
	if (RP_UNLIKELY(!(cqe->flags & IORING_CQE_F_BUFFER))) {
		e->stats.recv_errors++;
		return 0;
	}
	u->multishot_ok = true;
	bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	buf = u->rbuf + (size_t)bid * RP_IO_RECV_BUF_LEN;
	deliver_multi(e, u, sock, buf, cqe->res, cb, arg);
	/* Back to the kernel right after the callback; made visible once per batch. */
	io_uring_buf_ring_add(u->br, buf, RP_IO_RECV_BUF_LEN, bid, io_uring_buf_ring_mask(u->nrbuf),
			      (int)u->br_added++);
	return 1;
}

static int on_recv_one(struct rp_engine *e, struct uring *u, uint32_t idx, int res, rp_rx_cb cb,
		       void *arg)
{
	struct one_rx *r = &u->one[idx];
	struct rp_rx rx = {0};

	u->one_arm[u->none_arm++] = idx;
	u->arm_n[r->sock]++;
	if (RP_UNLIKELY(res < 0)) {
		if (res != -ECANCELED && !rp_io__errq_flag(e, r->sock))
			e->stats.recv_errors++;
		return 0;
	}
	rp_io__src(r->sock, &r->name, r->msg.msg_namelen, &rx.src);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&r->msg); c; c = CMSG_NXTHDR(&r->msg, c))
		rp_io__cmsg(e, r->sock, c, &rx);
	rx.buf = r->iov.iov_base;
	rx.len = (size_t)res < r->iov.iov_len ? (size_t)res : r->iov.iov_len;
	rx.cut = (r->msg.msg_flags & MSG_TRUNC) != 0;
	e->stats.received++;
	cb(arg, &rx);
	return 1;
}

/* Batches of CQEs, one cq_advance each, bounded: what is left (and, with
 * DEFER_TASKRUN, task work the kernel has not run yet) is for the next poll. Returns
 * the datagrams delivered. */
static int drain(struct rp_engine *e, struct uring *u, rp_rx_cb cb, void *arg)
{
	unsigned n, rounds = 0;
	int got = 0;

	/* The sends of this poll went out in the enter before: their stamps first. */
	rp_io__tx_read(e, cb, arg);
	do {
		n = io_uring_peek_batch_cqe(&u->ring, u->cqes, CQE_BATCH);
		for (unsigned i = 0; i < n; i++) {
			const struct io_uring_cqe *cqe = u->cqes[i];

			switch (UD_OP(cqe->user_data)) {
			case UD_SEND:
				on_send(e, u, UD_IDX(cqe->user_data), cqe->res, cb, arg);
				break;
			case UD_RECV_MULTI:
				got += on_recv_multi(e, u, cqe, cb, arg);
				break;
			case UD_RECV_ONE:
				got += on_recv_one(e, u, UD_IDX(cqe->user_data), cqe->res, cb, arg);
				break;
			default: /* liburing's internal timeout on kernels without EXT_ARG */
				break;
			}
		}
		io_uring_cq_advance(&u->ring, n);
		if (u->br_added) {
			io_uring_buf_ring_advance(u->br, (int)u->br_added);
			u->br_added = 0;
		}
	} while (n == CQE_BATCH && ++rounds < u->drain_rounds);
	rp_io__tx_read(e, cb, arg); /* an ICMP error a receive reported (dgram) */
	return got;
}

/* liburing 2.3 declares io_uring_enable_rings but does not export it (its symbol map
 * lacks it), so register directly. Makes the calling thread the single issuer. */
static int enable_rings(struct uring *u)
{
	long rc =
	    syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);

	return rc < 0 ? -errno : 0;
}

/* One io_uring_enter: submits what is queued and waits up to timeout_ns for wait_nr
 * CQEs. ETIME (nothing in time), EINTR (a signal), EAGAIN/EBUSY (the kernel is short
 * of memory or holds overflowed CQEs) are left for the next poll. */
static int enter(struct uring *u, unsigned wait_nr, uint64_t timeout_ns)
{
	struct __kernel_timespec ts = {.tv_sec = (long long)(timeout_ns / 1000000000u),
				       .tv_nsec = (long long)(timeout_ns % 1000000000u)};
	struct io_uring_cqe *cqe;
	int rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, wait_nr, &ts, NULL);

	if (RP_UNLIKELY(rc < 0) && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
		return rc;
	return 0;
}

/* How many CQEs to ask for in the flushing enter. With DEFER_TASKRUN the kernel runs
 * task work in the caller's io_uring_enter only, and at most max(20, wait_nr) items
 * per call; a multishot receive is one item that posts up to 32 CQEs before it
 * requeues itself. Asking for a CQ's worth makes one enter run everything that is
 * ready (measured on 6.18: 27K round trips/s with wait_nr 1, 330K with this), while
 * the division by 32 keeps a burst inside the CQ instead of its overflow list. */
static unsigned flush_nr(const struct uring *u)
{
	unsigned used = io_uring_cq_ready(&u->ring) + io_uring_sq_ready(&u->ring);
	unsigned space = u->ring.cq.ring_entries > used ? u->ring.cq.ring_entries - used : 0;

	return space / 32 ? space / 32 : 1;
}

/* True when receives wait to be re-armed: a socket's multishot one ended, or every
 * single RECVMSG of a socket completed (a sign that more datagrams are waiting there;
 * the other socket's, idle, may all still be out). */
static bool rearm_pending(const struct uring *u)
{
	if (u->multishot)
		return u->arm_multi[RP_IO_V4] || u->arm_multi[RP_IO_V6];
	return u->arm_n[u->one[0].sock] == u->per || u->arm_n[u->one[u->none - 1].sock] == u->per;
}

/* Submits every queued send (and receive re-arm), runs ready completions without
 * waiting and hands them out; only when that brought no datagram, waits up to
 * timeout_ns for a first completion. Busy: one io_uring_enter per poll; otherwise
 * two. Owner thread only (with SINGLE_ISSUER, the thread of the first poll). */
static int uring_poll(struct rp_engine *e, uint64_t timeout_ns, rp_rx_cb cb, void *arg)
{
	struct uring *u = e->be;
	int rc, got;

	if (RP_UNLIKELY(!u->enabled)) {
		rc = enable_rings(u);
		if (rc < 0)
			return rc;
		u->enabled = true;
	}
	queue_recvs(e, u);
	queue_sends(e, u);
	rc = enter(u, flush_nr(u), 0);
	if (rc)
		return rc;
	got = drain(e, u, cb, arg);
	/* A receive that ended in this drain (every single RECVMSG completed, or the
	 * multishot one stopped, e.g. on -ENOBUFS) may leave datagrams in the socket that
	 * nothing is armed for: re-arm and flush again, a bounded number of times. */
	for (unsigned r = 0; r < u->rearm_rounds && rearm_pending(u); r++) {
		queue_recvs(e, u);
		rc = enter(u, flush_nr(u), 0);
		if (rc)
			return rc;
		got += drain(e, u, cb, arg);
	}
	if (got || !timeout_ns)
		return got;
	/* No datagram yet (perhaps only send completions, which need no re-arm): wait
	 * for the first completion. */
	rc = enter(u, 1, timeout_ns);
	if (rc)
		return rc;
	return got + drain(e, u, cb, arg);
}

static const struct rp_io_ops uring_ops = {
    .name = "uring",
    .poll = uring_poll,
    .destroy = uring_destroy,
};

/* "without multishot (masked)": what the sentence says about one feature not used. */
static size_t note_missing(char *buf, size_t len, const char *name, bool masked)
{
	int n =
	    snprintf(buf, len, ", without %s (%s)", name, masked ? "masked" : "kernel lacks it");

	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* "send_addr,multishot" or "no optional feature". */
static void used_format(unsigned features, char *buf, size_t len)
{
	static const char *const names[] = {"send_addr", "multishot", "defer_taskrun"};
	static const unsigned bits[] = {RP_FEAT_SEND_ADDR, RP_FEAT_RECV_MULTISHOT,
					RP_FEAT_DEFER_TASKRUN};
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < RP_ARRAY_SIZE(names); i++)
		if ((features & bits[i]) && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "," : "", names[i]);
	if (!o)
		snprintf(buf, len, "no optional feature");
}

int rp_io__uring_create(struct rp_engine *e, const struct rp_engine_conf *conf, unsigned mask,
			char *why, size_t whylen)
{
	struct uring *u = rp_xcalloc(1, sizeof(*u));
	struct io_uring_probe *probe;
	bool defer = false, have_send_addr, have_multi;
	unsigned features = RP_FEAT_URING;
	char notes[160] = "", used[64];
	size_t o = 0;
	int rc;

	rc = ring_init(u, conf, mask, &defer, why, whylen);
	if (rc)
		goto out_free;
	probe = io_uring_get_probe_ring(&u->ring);
	if (!probe || !io_uring_opcode_supported(probe, IORING_OP_SENDMSG) ||
	    !io_uring_opcode_supported(probe, IORING_OP_RECVMSG)) {
		snprintf(why, whylen, "io_uring lacks SENDMSG/RECVMSG");
		rc = -EOPNOTSUPP;
		if (probe)
			io_uring_free_probe(probe);
		goto out_exit;
	}
	/* No feature bit says "SEND takes an address" (6.1) or "RECVMSG can be multishot"
	 * (6.0); the ops that arrived in the same releases stand in for them, and a
	 * -EINVAL at run time switches to the fallback anyway. */
	have_send_addr = io_uring_opcode_supported(probe, IORING_OP_SEND) &&
			 io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC);
	have_multi = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
	io_uring_free_probe(probe);

	u->send_addr = have_send_addr && (mask & RP_FEAT_SEND_ADDR);
	if (!u->send_addr)
		o += note_missing(notes + o, sizeof(notes) - o, "send_addr",
				  !(mask & RP_FEAT_SEND_ADDR));
	rc = recv_init(e, u, conf, have_multi && (mask & RP_FEAT_RECV_MULTISHOT));
	u->multishot = rc == 0;
	if (!u->multishot) {
		if (have_multi && (mask & RP_FEAT_RECV_MULTISHOT))
			o += (size_t)snprintf(notes + o, sizeof(notes) - o,
					      ", without multishot (buffer ring: %s)",
					      strerror(-rc));
		else
			o += note_missing(notes + o, sizeof(notes) - o, "multishot",
					  !(mask & RP_FEAT_RECV_MULTISHOT));
		arm_all_ones(u);
	}
	if (!defer && o < sizeof(notes))
		o += note_missing(notes + o, sizeof(notes) - o, "defer_taskrun",
				  !(mask & RP_FEAT_DEFER_TASKRUN));
	for (unsigned i = 0; i < RP_IO_NSOCK; i++)
		u->arm_multi[i] = u->multishot && e->fd[i] >= 0;
	u->drain_rounds = u->ring.cq.ring_entries / CQE_BATCH + 1;
	u->rearm_rounds = u->nrbuf / u->none < 64 ? u->nrbuf / u->none : 64;
	u->rearm_rounds = u->rearm_rounds ? u->rearm_rounds : 1;
	features |= (u->send_addr ? RP_FEAT_SEND_ADDR : 0u) |
		    (u->multishot ? RP_FEAT_RECV_MULTISHOT : 0u) |
		    (defer ? RP_FEAT_DEFER_TASKRUN : 0u);
	used_format(features, used, sizeof(used));
	snprintf(why, whylen, "io_uring with %s%s", used, notes);
	e->ops = &uring_ops;
	e->be = u;
	e->info.backend = RP_BACKEND_URING;
	e->info.features = features;
	return 0;

out_exit:
	io_uring_queue_exit(&u->ring);
out_free:
	free(u);
	return rc;
}
