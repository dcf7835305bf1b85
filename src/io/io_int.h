/* Private to src/io: the engine's shared state, the send buffer pool and the backend
 * ops table. uring.c and mmsg.c see struct rp_engine; nothing outside src/io does
 * (STYLE.md section 3: include/ is the API, src/<module>/<module>_int.h is private).
 *
 * Sockets: e->fd[RP_IO_V4] and e->fd[RP_IO_V6], either -1 when not open (not asked
 * for, or IPv6 unavailable). Both are of one kind (raw or dgram).
 *
 * Send buffers: conf->send_slots buffers of e->stride bytes (the request's length,
 * rounded up to a power of two, 64 at least) in one block,
 * each with a preallocated destination (room for a sockaddr_in6), iovec, msghdr and
 * the index of the socket it goes out on. A slot is always in exactly
 * one place: the free stack, the caller's hands (rp_engine_send_buf .. send_queue), the
 * pending queue, or in flight in the backend. So neither the stack nor the queue can
 * overflow, and neither needs a bound check on push. */
#ifndef RP_IO_INT_H
#define RP_IO_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "io/engine.h"
#include "ringprobe/icmp.h"

/* A receive buffer: room for io_uring_recvmsg_out, the sender's name, the control
 * messages and a datagram far larger than an echo reply of the default size. A larger
 * reply (packet_size past about 1,800) is cut to fit (rp_rx.cut): its fields come
 * first, and they are all that validation reads (icmp.h). */
#define RP_IO_RECV_BUF_LEN 2048u
/* Control space: SCM_TIMESTAMPNS needs CMSG_SPACE(16) = 32; with transmit timestamps
 * on, kernels before 6.11 add an SCM_TIMESTAMPING (CMSG_SPACE(48) = 64) to each;
 * SO_RXQ_OVFL, once the socket has dropped anything, CMSG_SPACE(4) = 24; IP_TTL or
 * IPV6_HOPLIMIT, CMSG_SPACE(4) = 24: 144. */
#define RP_IO_CTRL_LEN 160u
/* Largest provided buffer ring (the kernel's limit; bids are 16-bit). */
#define RP_IO_MAX_RECV_BUFS 32768u

/* Socket indices: e->fd[], per-socket state in the backends, user_data. */
enum { RP_IO_V4 = 0, RP_IO_V6 = 1, RP_IO_NSOCK = 2 };

/** One socket socket.c opened, and how. */
struct rp_io_sock {
	int fd;		     /* -1: none */
	int mode;	     /* RP_ICMP_RAW or RP_ICMP_DGRAM */
	int32_t ident;	     /* identifier replies carry */
	bool ip_header;	     /* raw IPv4: datagrams start with the IPv4 header */
	const char *refused; /* on failure: the option (or bind) the kernel refused,
			      * "SO_MARK (fwmark)"; NULL when socket() itself failed */
};

/** Opens the ICMP sockets of conf->families (0: both) per conf->icmp_mode (auto: dgram
 *  where ping_group_range admits us, else raw; the IPv6 socket takes the kind the first
 *  socket got), with filters, timestamps and buffer sizes set. out[RP_IO_V6].fd is -1
 *  when IPv6 was not asked for, or could not be opened while IPv4 was (why then says
 *  why). Writes a sentence about the choice into why. 0 or -errno (nothing left open;
 *  why says what failed). */
int rp_io__socket_open(const struct rp_engine_conf *conf, struct rp_io_sock out[RP_IO_NSOCK],
		       char *why, size_t whylen);

/** A destination of either family. */
union rp_io_addr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

/** Per send buffer: destination, the message that points at the buffer, and the
 *  socket (RP_IO_V4 or RP_IO_V6) it goes out on. msg.msg_namelen is the family's. */
struct rp_io_slot {
	union rp_io_addr to;
	struct iovec iov;
	struct msghdr msg;
	uint8_t sock;
};

/** A backend: uring.c or mmsg.c. Called only by engine.c. */
struct rp_io_ops {
	const char *name;
	int (*poll)(struct rp_engine *e, uint64_t timeout_ns, rp_rx_cb cb, void *arg);
	void (*destroy)(struct rp_engine *e);
};

struct rp_engine {
	const struct rp_io_ops *ops;
	void *be;	     /* the backend's own state; owned by the backend */
	int fd[RP_IO_NSOCK]; /* -1: not open */
	bool ip_header;	     /* raw: IPv4 datagrams start with the IPv4 header */
	bool send_failures;  /* conf send_failures: refused sends to the callback */

	uint32_t pkt_len;      /* every request's length: ICMP header and payload */
	uint32_t stride;       /* pkt_len rounded up to a power of two, at least a cache line */
	unsigned stride_shift; /* log2(stride): a send finds its slot without dividing */
	uint32_t fill_sum;     /* rp_icmp_fill_sum of every buffer */
	uint8_t *send_mem;     /* nslots * stride, cache-line aligned */
	struct rp_io_slot *slots;
	uint32_t nslots; /* power of two */
	uint32_t *free_stack;
	uint32_t nfree;
	uint32_t *queue; /* pending sends, FIFO; free-running indices masked on access */
	uint32_t q_head, q_tail;

	struct rp_io_tx *tx; /* transmit timestamps (txstamp.c); NULL when off */

	/* Packet options (rp_engine_set_opts): per profile and socket, the control
	 * messages its requests carry; len 0 = none (option set 0 always). */
	struct rp_io_opts {
		union {
			size_t align; /* struct cmsghdr's alignment */
			unsigned char buf[96];
		} u;
		uint32_t len;
	} opts[RP_PROFILES_MAX][RP_IO_NSOCK];
	int base_ttl, base_tos; /* the sockets' own (conf->pkt) */
	struct rp_ip base_src[2];

	struct rp_engine_stats stats;
	uint32_t drops_last[RP_IO_NSOCK]; /* each socket's drop count last seen */
	uint64_t meminfo_ns;		  /* when engine.c last read SO_MEMINFO (monotonic) */
	struct rp_engine_info info;
};

/* The length of every request the engine sends (ICMP header and payload): the send
 * buffers' size, and what the sockets' options are chosen for. */
static inline uint32_t rp_io__pkt_len(const struct rp_engine_pkt *pk)
{
	return RP_ICMP_HDR_LEN + (pk->payload_len ? pk->payload_len : RP_ICMP_PAYLOAD_LEN);
}

static inline uint32_t rp_io__queued(const struct rp_engine *e)
{
	return e->q_tail - e->q_head;
}

static inline uint32_t rp_io__queue_pop(struct rp_engine *e)
{
	return e->queue[e->q_head++ & (e->nslots - 1)];
}

static inline void rp_io__queue_push(struct rp_engine *e, uint32_t idx)
{
	e->queue[e->q_tail++ & (e->nslots - 1)] = idx;
}

static inline void rp_io__slot_release(struct rp_engine *e, uint32_t idx)
{
	e->free_stack[e->nfree++] = idx;
}

static inline uint8_t *rp_io__slot_buf(const struct rp_engine *e, uint32_t idx)
{
	return e->send_mem + ((size_t)idx << e->stride_shift);
}

/** A send the kernel refused (not EAGAIN/ENOBUFS): counted, handed to cb as
 *  rx->send_failed when asked for (engine.c), its buffer released. */
void rp_io__send_failed(struct rp_engine *e, uint32_t idx, rp_rx_cb cb, void *arg);

/** Reads one control message of a datagram received on socket `sock`: SCM_TIMESTAMPNS
 *  into rx->rx_ns (CLOCK_REALTIME ns, when it is still 0), IP_TTL or IPV6_HOPLIMIT
 *  into rx->ttl, SO_RXQ_OVFL into e->stats.kernel_rx_drops; others are ignored. Owner
 *  thread; no system call. */
void rp_io__cmsg(struct rp_engine *e, unsigned sock, const struct cmsghdr *c, struct rp_rx *rx);
/** One sample of socket `sock`'s cumulative drop count (sk_drops, from SO_RXQ_OVFL or
 *  SO_MEMINFO): adds what is new to e->stats.kernel_rx_drops; older samples add 0. */
void rp_io__drops_seen(struct rp_engine *e, unsigned sock, uint32_t drops);
/** The sender of a datagram received on socket `sock` from its msg_name (namelen
 *  bytes): zero (::) when the name is missing or short, or when the IPv6 socket
 *  reports an IPv4-mapped source (never one of our IPv4 devices answering). */
void rp_io__src(unsigned sock, const void *name, unsigned namelen, struct rp_ip *out);

/** Turns on transmit timestamps for e's sockets (txstamp.c). 0 or -errno (e->tx
 *  stays NULL). */
int rp_io__tx_init(struct rp_engine *e);
/** The backend sent n requests on socket `sock` (their stamps are now on its error
 *  queue). */
void rp_io__tx_sent(struct rp_engine *e, unsigned sock, uint32_t n);
/** Hands every queued transmit stamp to cb (rx->tx set). Makes a system call only
 *  when requests went out since the last read; backends call it after sending and
 *  before handing out the replies of the same poll. No-op when off. */
void rp_io__tx_read(struct rp_engine *e, rp_rx_cb cb, void *arg);
void rp_io__tx_fini(struct rp_engine *e);
/** Sets up the error-queue reader for a datagram engine's ICMP errors when transmit
 *  stamps did not (txstamp.c). */
void rp_io__errq_init(struct rp_engine *e);
/** A receive on socket `sock` failed (not ENOBUFS, EAGAIN, EINTR or ECANCELED): on a
 *  datagram engine that is the socket's pending error, an ICMP error waiting on its
 *  error queue, which the next rp_io__tx_read reads; true then (not a receive error
 *  to count). */
bool rp_io__errq_flag(struct rp_engine *e, unsigned sock);

/** Sets up the io_uring backend on e (socket and send pool already there), using the
 *  RP_FEAT_* in mask that the kernel has. On success sets e->ops, e->be,
 *  e->info.features and writes what was chosen into why; on failure (-errno) writes
 *  why it could not, and e is unchanged. */
int rp_io__uring_create(struct rp_engine *e, const struct rp_engine_conf *conf, unsigned mask,
			char *why, size_t whylen);
/** Sets up the sendmmsg/recvmmsg + epoll backend on e. Same contract. */
int rp_io__mmsg_create(struct rp_engine *e, const struct rp_engine_conf *conf, char *why,
		       size_t whylen);

#endif
