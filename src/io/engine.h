/* The I/O engine: one ICMP socket per address family (IPv4, IPv6; the same kind, raw
 * or dgram) and the system calls around them, behind one
 * interface with two implementations chosen at start (STYLE.md section 1):
 *   uring.c  io_uring: sends as SQEs (IORING_OP_SEND with a destination address on
 *            6.1+, SENDMSG otherwise), receives by multishot RECVMSG on a provided
 *            buffer ring (6.0+) or a fixed number of outstanding RECVMSG SQEs.
 *   mmsg.c   sendmmsg/recvmmsg with epoll, for kernels or containers without
 *            io_uring (ENOSYS, EPERM from seccomp, kernel.io_uring_disabled).
 * One engine belongs to one shard thread; nothing here locks. The per-probe path
 * (send_buf, send_queue, the receive callback) makes no system call and allocates
 * nothing; rp_engine_poll makes one io_uring_enter (or one sendmmsg batch + one
 * epoll_wait + recvmmsg until empty) per call. */
#ifndef RP_IO_ENGINE_H
#define RP_IO_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringprobe/prober.h" /* RP_FEAT_*, struct rp_engine_info */

struct rp_engine;

/** The echo requests themselves (struct rp_prober_conf's packet fields, which say what
 *  each does). Zero is the default of each. */
struct rp_engine_pkt {
	uint32_t payload_len; /* 0 = RP_ICMP_PAYLOAD_LEN; else RP_ICMP_PAYLOAD_MIN..MAX */
	int ttl;	      /* 0 = the kernel's; 1..255 */
	int tos;	      /* 0..255 */
	bool dont_fragment;
	bool random_payload;
	struct rp_ip source[2]; /* all-zero = none; each binds the socket of its family */
	char interface[16];	/* "" = none */
	uint32_t fwmark;	/* 0 = none */
};

struct rp_engine_conf {
	int backend;	       /* enum rp_backend (conf.h): auto, uring, mmsg */
	int icmp_mode;	       /* enum rp_icmp_mode (conf.h): auto, raw, dgram */
	unsigned feature_mask; /* RP_FEAT_* allowed; also narrowed by $RINGPROBE_DISABLE */
	uint32_t send_slots;   /* packet buffers for sends in flight; power of two */
	uint32_t recv_bufs;    /* receive buffers; power of two */
	uint32_t rcvbuf_bytes; /* SO_RCVBUF asked for (SO_RCVBUFFORCE when privileged) */
	uint16_t ident;	       /* ICMP identifier on raw sockets; the BPF filter keeps it */
	bool tx_stamps;	       /* hand each request's kernel transmit stamp to the poll
				  callback (rx->tx); needs RP_FEAT_TX_STAMP in the mask */
	bool send_failures;    /* hand each request the kernel refused to the poll
				  callback (rx->send_failed) */
	unsigned families;     /* RP_FAMILY_* (prober.h) to open sockets for; 0 = both */
	struct rp_engine_pkt pkt;
};

/** One received datagram, valid only during the callback. Or, with tx set, the
 *  transmit timestamp of one of our own requests (conf tx_stamps): buf is the request
 *  from its ICMP header on, rx_ns when the device driver took it, src zero. */
struct rp_rx {
	const void *buf;
	size_t len;
	struct rp_ip src; /* sender */
	uint64_t rx_ns;	  /* kernel receive timestamp, CLOCK_REALTIME ns; 0 when missing */
	bool tx;	  /* a transmit timestamp, not a datagram */
	bool cut;	  /* the datagram was longer than the buffer (MSG_TRUNC): buf holds
			   * its first len bytes */
	uint8_t ttl;	  /* IP_TTL / IPV6_HOPLIMIT control message; 0 = none came (raw
			   * IPv4: the TTL is in the header instead) */
	/* Or, with icmp_err set, an ICMP error from a datagram socket's error queue
	 * (txstamp.c): buf is the request it quotes from its ICMP header on, src the
	 * error's sender (SO_EE_OFFENDER), err_dst the request's destination. */
	bool icmp_err;
	uint8_t err_type, err_code;
	struct rp_ip err_dst;
	/* Or, with send_failed set (conf send_failures), a request whose send failed
	 * (counted in send_errors): buf is the request from its ICMP header on. */
	bool send_failed;
};

typedef void (*rp_rx_cb)(void *arg, const struct rp_rx *rx);

struct rp_engine_stats {
	uint64_t sent;		  /* sends completed */
	uint64_t send_errors;	  /* sends that failed (per errno class below) */
	uint64_t send_nosock;	  /* of those: to a family without a socket (IPv6
				     unavailable, or not asked for in families) */
	uint64_t send_eagain;	  /* socket buffer full: retried next poll, not lost */
	uint64_t received;	  /* datagrams handed to the callback */
	uint64_t recv_nobufs;	  /* -ENOBUFS: buffer ring empty, multishot re-armed */
	uint64_t kernel_rx_drops; /* datagrams the kernel dropped at the socket (receive
				     buffer full): SO_RXQ_OVFL on the next datagram read,
				     SO_MEMINFO once a second (engine.c) */
	uint64_t recv_errors;	  /* other receive errors */
	uint64_t polls;		  /* rp_engine_poll calls */
	uint64_t tx_stamps;	  /* transmit timestamps handed to the callback */
	uint64_t tx_unusable;	  /* error-queue messages that were not a usable stamp */
	uint64_t errq_icmp;	  /* ICMP errors read from a datagram socket's error queue */
};

/** Opens the sockets (raw or dgram per conf->icmp_mode; auto prefers dgram where
 *  net.ipv4.ping_group_range allows, which covers ICMPv6 too; the IPv6 socket takes the
 *  IPv4 one's kind), then the backend (auto: io_uring when it can be set up with
 *  IORING_FEAT_FAST_POLL, else mmsg). With both families asked for, an IPv6 socket
 *  that cannot be opened (EAFNOSUPPORT: IPv6 disabled) leaves an IPv4-only engine and
 *  the reason in why and info.why; sends to IPv6 then fail (send_nosock). -errno on
 *  failure with the reason in why. The sockets get conf->pkt's options (a refused one
 *  fails the create, naming it). Every send buffer is prepared with rp_icmp_init_len
 *  here, its fill zeros or (pkt.random_payload) random bytes drawn once. */
int rp_engine_create(struct rp_engine **out, const struct rp_engine_conf *conf, char *why,
		     size_t whylen);
/** Closes the socket and frees everything; NULL is ok. */
void rp_engine_destroy(struct rp_engine *e);
/** What was chosen and why. */
void rp_engine_info(const struct rp_engine *e, struct rp_engine_info *out);
/** A free send buffer of rp_engine_pkt_len bytes (header and fill prepared), or NULL
 *  when every buffer is in flight (the caller retries after the next poll). */
void *rp_engine_send_buf(struct rp_engine *e);
/** The length of every request (ICMP header and payload), and the sum of its fill for
 *  rp_icmp_stamp_filled (the same in every buffer). */
size_t rp_engine_pkt_len(const struct rp_engine *e, uint32_t *fill_sum);
/** Queues `buf` (from rp_engine_send_buf) for `dst`, on the socket of dst's family; sent
 *  at the next poll, `len` bytes of it (at most rp_engine_pkt_len). The buffer returns
 *  to the engine once sent. 0; or -EAFNOSUPPORT when there is no socket for dst's
 *  family: a send error at once, counted (send_nosock), the buffer back already. A
 *  send the kernel refuses later is counted too, and with conf send_failures handed to
 *  the poll callback. */
int rp_engine_send_queue(struct rp_engine *e, void *buf, size_t len, const struct rp_ip *dst);
/** rp_engine_send_queue with packet options k (rp_engine_set_opts; 0 = the sockets'
 *  own, no control message); the same result. */
int rp_engine_send_queue_opt(struct rp_engine *e, void *buf, size_t len, const struct rp_ip *dst,
			     unsigned k);
/** Sets packet options k (1..RP_PROFILES_MAX-1): the control messages the requests
 *  sent with k carry, one per option that differs from the sockets' own (conf->pkt):
 *  IP_TTL / IPV6_HOPLIMIT (ttl 1..255), IP_TOS / IPV6_TCLASS (tos 0..255), IP_PKTINFO /
 *  IPV6_PKTINFO (src[0] IPv4, src[1] IPv6 source; all-zero = the socket's; and the
 *  outgoing interface ifindex, 0 = the routing table's). Owner thread; no system call.
 *  0, or -EINVAL for a bad k or value. */
int rp_engine_set_opts(struct rp_engine *e, unsigned k, int ttl, int tos, const struct rp_ip src[2],
		       int ifindex);
/** The sum of the fill of a request of `len` bytes (at most rp_engine_pkt_len), for
 *  rp_icmp_stamp_filled of a shorter request. */
uint32_t rp_engine_fill_sum(const struct rp_engine *e, size_t len);
/** Sends everything queued, waits up to timeout_ns for datagrams (0 = do not wait),
 *  hands each to cb. Returns the number received, or -errno on a fatal error. */
int rp_engine_poll(struct rp_engine *e, uint64_t timeout_ns, rp_rx_cb cb, void *arg);
/** Counters (owner thread only; the shard copies them into its stats). */
void rp_engine_stats(const struct rp_engine *e, struct rp_engine_stats *out);
/** The IPv4 socket's descriptor, or the IPv6 one's in an IPv6-only engine (for tests
 *  and the privilege drop ordering). */
int rp_engine_fd(const struct rp_engine *e);
/** The socket of one family (RP_AF_INET or RP_AF_INET6), or -1 when none is open. */
int rp_engine_fd_family(const struct rp_engine *e, int family);

#endif
