// SPDX-License-Identifier: MIT
/*
 * fleetsim's wire tap (wire.h): a TPACKET_V2 ring on an AF_PACKET socket bound to the TUN
 * device, read without system calls, and two FIFOs of (key, stamp): requests and replies.
 */
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * 128-byte frames: a SOCK_DGRAM TPACKET_V2 frame puts the packet at offset 80 (the aligned
 * header and sockaddr_ll, plus 16), so 48 bytes of each packet are kept: the IPv4 header (20,
 * up to 40 with options) or the IPv6 header (40) and the ICMP header (8) are all the tap reads.
 */
#define WIRE_FRAME 128u
#define WIRE_BLOCK 4096u
#define WIRE_FIFO (1u << 16)
#define WIRE_SCAN 8192u /* frames a lookup walks before it calls a key unknown */
/*
 * Requests from several sending threads can reach the TUN queue in another order than the
 * tap's: each is stamped and copied to the ring in dev_queue_xmit_nit, then queued by
 * tun_net_xmit, and two threads on two CPUs can interleave between the two. So a request
 * lookup passes over older frames without dropping them, unless they are this much older
 * than the one it found (then the TUN queue dropped them, or fleetsim will never read them).
 * Replies have one writer, fleetsim: their order is strict.
 */
#define WIRE_REQ_REORDER_NS 50000000u
#define WIRE_PEEK 4u	   /* frames past an empty one looked at: one per other CPU copying */
#define WIRE_SPIN 1000000u /* status reads while a frame is being copied (a few ms at most) */

struct wire_ent {
	struct fs_wire_key k;
	uint64_t ns;
};

struct wire_fifo {
	struct wire_ent *e;
	uint32_t head, tail; /* free running, masked by WIRE_FIFO - 1 */
	uint64_t reorder_ns; /* frames before a match and this close to it are kept */
};

struct fs_wire {
	int fd;
	uint8_t *ring;
	size_t ring_len;
	uint32_t frames, next;
	struct wire_fifo req, rep;
	struct fs_wire_stats st;
};

/*
 * Classic BPF on the packet from its IP header (SOCK_DGRAM on a device without a link
 * header): keep IPv4 ICMP (protocol 1) of type 0 or 8 and IPv6 ICMPv6 (next header 58, right
 * after the fixed header) of type 128 or 129, drop the rest before it reaches the ring.
 */
static struct sock_filter echo_filter[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
    /* 1 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
    /* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 7, 0), /* IPv6: to 10 */
    /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, 11),
    /* 4 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
    /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMP, 0, 9),
    /* 6 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
    /* 7 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),
    /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 8, 7, 0),
    /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 6, 5),
    /* 10 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),
    /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMPV6, 0, 3),
    /* 12 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 40),
    /* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 128, 2, 0),
    /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 129, 1, 0),
    /* 15 */ BPF_STMT(BPF_RET | BPF_K, 0),
    /* 16 */ BPF_STMT(BPF_RET | BPF_K, 0xffff),
};

int fs_wire_open(struct fs_wire **out, const char *ifname, uint32_t frames)
{
	struct sock_fprog prog = {.len = sizeof(echo_filter) / sizeof(echo_filter[0]),
				  .filter = echo_filter};
	struct tpacket_req req;
	struct sockaddr_ll sll;
	int ver = TPACKET_V2, one = 1, err;
	struct fs_wire *w;
	unsigned idx;

	if (frames < 64 || (frames & (frames - 1)))
		return -EINVAL;
	idx = if_nametoindex(ifname);
	if (!idx)
		return -errno;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->req.e = calloc(WIRE_FIFO, sizeof(*w->req.e));
	w->rep.e = calloc(WIRE_FIFO, sizeof(*w->rep.e));
	w->req.reorder_ns = WIRE_REQ_REORDER_NS;
	if (!w->req.e || !w->rep.e) {
		err = -ENOMEM;
		goto out_free;
	}
	/* protocol 0 until bind: nothing is captured before the ring and the filter are in place */
	w->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (w->fd < 0) {
		err = -errno;
		goto out_free;
	}
	/* SO_TIMESTAMPNS turns on the kernel's packet stamping even without a prober asking */
	if (setsockopt(w->fd, SOL_PACKET, PACKET_VERSION, &ver, sizeof(ver)) < 0 ||
	    setsockopt(w->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
	    setsockopt(w->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		err = -errno;
		goto out_close;
	}
	req = (struct tpacket_req){.tp_block_size = WIRE_BLOCK,
				   .tp_block_nr = frames / (WIRE_BLOCK / WIRE_FRAME),
				   .tp_frame_size = WIRE_FRAME,
				   .tp_frame_nr = frames};
	if (setsockopt(w->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		err = -errno;
		goto out_close;
	}
	w->frames = frames;
	w->ring_len = (size_t)frames * WIRE_FRAME;
	w->ring =
	    mmap(NULL, w->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, w->fd, 0);
	if (w->ring == MAP_FAILED) {
		err = -errno;
		goto out_close;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)idx;
	if (bind(w->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err = -errno;
		goto out_unmap;
	}
	*out = w;
	return 0;
out_unmap:
	munmap(w->ring, w->ring_len);
out_close:
	close(w->fd);
out_free:
	free(w->req.e);
	free(w->rep.e);
	free(w);
	return err;
}

static void fifo_push(struct fs_wire *w, struct wire_fifo *f, const struct fs_wire_key *k,
		      uint64_t ns)
{
	if (f->tail - f->head == WIRE_FIFO) {
		f->head++;
		w->st.fifo_overflow++;
	}
	f->e[f->tail & (WIRE_FIFO - 1)] = (struct wire_ent){.k = *k, .ns = ns};
	f->tail++;
}

static bool key_eq(const struct fs_wire_key *a, const struct fs_wire_key *b)
{
	return a->dev == b->dev && a->peer == b->peer && a->idseq == b->idseq && a->v6 == b->v6;
}

/* One filled frame: an ICMP echo request going out to a device or a reply coming from one. */
static void take_frame(struct fs_wire *w, const struct tpacket2_hdr *h)
{
	const uint8_t *ip = (const uint8_t *)h + h->tp_net;
	const struct sockaddr_ll *sll =
	    (const struct sockaddr_ll *)((const uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
	uint64_t ns = (uint64_t)h->tp_sec * 1000000000u + h->tp_nsec;
	struct fs_wire_key k = {0};
	size_t ihl;

	if (h->tp_snaplen >= 48 && (ip[0] >> 4) == 6 && ip[6] == IPPROTO_ICMPV6) {
		memcpy(&k.idseq, ip + 44, 4);
		k.v6 = 1;
		if (ip[40] == 128 && sll->sll_pkttype == PACKET_OUTGOING) {
			memcpy(&k.dev, ip + 36, 4);
			k.peer = fs_wire_peer6(ip + 8);
			fifo_push(w, &w->req, &k, ns);
		} else if (ip[40] == 129 && sll->sll_pkttype != PACKET_OUTGOING) {
			memcpy(&k.dev, ip + 20, 4);
			k.peer = fs_wire_peer6(ip + 24);
			fifo_push(w, &w->rep, &k, ns);
		}
		return;
	}
	if (h->tp_snaplen < 28 || (ip[0] >> 4) != 4)
		return;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	if (ihl < 20 || h->tp_snaplen < ihl + 8 || ip[9] != IPPROTO_ICMP)
		return;
	memcpy(&k.idseq, ip + ihl + 4, 4);
	if (ip[ihl] == 8 && sll->sll_pkttype == PACKET_OUTGOING) {
		memcpy(&k.dev, ip + 16, 4);
		memcpy(&k.peer, ip + 12, 4);
		fifo_push(w, &w->req, &k, ns);
	} else if (ip[ihl] == 0 && sll->sll_pkttype != PACKET_OUTGOING) {
		memcpy(&k.dev, ip + 12, 4);
		memcpy(&k.peer, ip + 16, 4);
		fifo_push(w, &w->rep, &k, ns);
	}
}

static struct tpacket2_hdr *frame(const struct fs_wire *w, uint32_t i)
{
	return (struct tpacket2_hdr *)(w->ring + (size_t)(i & (w->frames - 1)) * WIRE_FRAME);
}

static bool filled(const struct tpacket2_hdr *h)
{
	/* pairs with the kernel's smp_wmb() before it sets TP_STATUS_USER */
	return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER;
}

/*
 * The kernel takes a frame under the socket's queue lock but copies into it and sets its
 * status after unlocking: while the prober's request is being copied on one CPU, fleetsim's
 * own reply (written from the other CPU) can be complete in the next frame. Stopping at the
 * frame in progress would miss that reply, so when a later frame is filled, wait for this one
 * (a copy of a few dozen bytes with bottom halves off; bounded all the same).
 */
static bool in_progress(const struct fs_wire *w, const struct tpacket2_hdr *h)
{
	bool later = false;

	for (uint32_t i = 1; i <= WIRE_PEEK && !later; i++)
		later = filled(frame(w, w->next + i));
	if (!later)
		return false;
	for (uint32_t n = 0; n < WIRE_SPIN; n++)
		if (filled(h))
			return true;
	return false;
}

void fs_wire_poll(struct fs_wire *w)
{
	for (;;) {
		struct tpacket2_hdr *h = frame(w, w->next);

		if (!filled(h)) {
			if (!in_progress(w, h))
				break;
			w->st.waits++;
		}
		take_frame(w, h);
		w->st.frames++;
		/* the frame's contents are read: hand it back (pairs with the kernel's smp_rmb) */
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		w->next = (w->next + 1) & (w->frames - 1);
	}
}

/*
 * Removes entry @j of @f: the entries before it that are within f->reorder_ns of it move up
 * by one, the older ones are dropped (counted as skipped_req or skipped_rep).
 */
static void fifo_take(struct fs_wire *w, struct wire_fifo *f, uint32_t j)
{
	const uint32_t m = WIRE_FIFO - 1;
	uint64_t ns = f->e[j & m].ns;
	uint32_t d = j + 1;

	for (uint32_t i = j; i-- != f->head;) {
		if (f->e[i & m].ns + f->reorder_ns >= ns) {
			d--;
			f->e[d & m] = f->e[i & m];
		} else {
			(*(f == &w->req ? &w->st.skipped_req : &w->st.skipped_rep))++;
		}
	}
	f->head = d;
}

/* Walks @f from @from for @k and takes it out (fifo_take). 0: not there. */
static uint64_t fifo_find(struct fs_wire *w, struct wire_fifo *f, uint32_t *from,
			  const struct fs_wire_key *k)
{
	uint32_t i = *from;

	if ((int32_t)(i - f->head) < 0)
		i = f->head;
	for (; i != f->tail && i - f->head < WIRE_SCAN; i++) {
		const struct wire_ent *e = &f->e[i & (WIRE_FIFO - 1)];

		if (key_eq(&e->k, k)) {
			uint64_t ns = e->ns ? e->ns : 1;

			fifo_take(w, f, i);
			return ns;
		}
	}
	*from = i;
	return 0;
}

static uint64_t lookup(struct fs_wire *w, struct wire_fifo *f, const struct fs_wire_key *k)
{
	uint32_t from = f->head;
	uint64_t ns = fifo_find(w, f, &from, k);

	if (ns)
		return ns;
	/* not read from the ring yet */
	fs_wire_poll(w);
	return fifo_find(w, f, &from, k);
}

uint64_t fs_wire_request(struct fs_wire *w, const struct fs_wire_key *k)
{
	return lookup(w, &w->req, k);
}

uint64_t fs_wire_reply(struct fs_wire *w, const struct fs_wire_key *k)
{
	return lookup(w, &w->rep, k);
}

void fs_wire_stats(struct fs_wire *w, struct fs_wire_stats *st)
{
	struct tpacket_stats ps;
	socklen_t len = sizeof(ps);

	/* the kernel zeroes its counters on each read: accumulate */
	if (getsockopt(w->fd, SOL_PACKET, PACKET_STATISTICS, &ps, &len) == 0)
		w->st.tap_drops += ps.tp_drops;
	*st = w->st;
}

void fs_wire_close(struct fs_wire *w)
{
	if (!w)
		return;
	munmap(w->ring, w->ring_len);
	close(w->fd);
	free(w->req.e);
	free(w->rep.e);
	free(w);
}
