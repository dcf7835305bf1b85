// SPDX-License-Identifier: MIT
/*
 * fleetsim's wire tap: an AF_PACKET socket (SOCK_DGRAM, ETH_P_ALL) on the TUN device with a
 * TPACKET_V2 receive ring, filtered in the kernel to ICMP echo requests and replies. It sees
 * each echo request as the host transmits it into the TUN device (PACKET_OUTGOING, stamped in
 * dev_queue_xmit_nit just before tun_net_xmit queues it) and each echo reply fleetsim writes
 * (stamped on receive: the very skb timestamp a prober's SO_TIMESTAMPNS reports). Both stamps
 * are CLOCK_REALTIME. ICMPv6 echo (128, 129, no extension headers) is tapped the same way. The
 * difference is the hold fleetsim really applied on the wire, its own read delay and lateness
 * included.
 *
 * Replies appear in the tap in the order fleetsim writes them, so that direction is a FIFO:
 * a lookup walks it from the head to the frame with the same (device, peer, ICMP id, ICMP seq)
 * and discards the frames before it (second copies of duplicated replies). Requests appear
 * in the order fleetsim reads them from the TUN device, except that two sending threads can
 * swap between the tap and the TUN queue: a request lookup keeps the frames before its match
 * unless they are 50 ms older (requests the TUN queue dropped). A key not found (the ring
 * overflowed, the write failed) is unknown: 0, nothing consumed.
 *
 * Reading the ring costs no system call; PACKET_STATISTICS is read only for the totals.
 * Single threaded, like the rest of fleetsim; everything is allocated by fs_wire_open().
 */
#ifndef FLEETSIM_WIRE_H
#define FLEETSIM_WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* One echo exchange, the same for the request and its reply. */
struct fs_wire_key {
	uint32_t dev;	/* the simulated device's address (request dst, reply src), as on the wire;
			   IPv6: its last 32 bits (the device's IPv4 address) */
	uint32_t peer;	/* the prober's address, as on the wire; IPv6: fs_wire_peer6() of it */
	uint32_t idseq; /* ICMP (ICMPv6) id and sequence, as on the wire */
	uint32_t v6;	/* 1: an ICMPv6 exchange */
};

/* The 32-bit stand-in for an IPv6 peer address in a key: its four words xor'd. */
static inline uint32_t fs_wire_peer6(const uint8_t *a)
{
	uint32_t w[4];

	memcpy(w, a, 16);
	return w[0] ^ w[1] ^ w[2] ^ w[3];
}

struct fs_wire_stats {
	uint64_t frames;	/* ring frames read */
	uint64_t tap_drops;	/* PACKET_STATISTICS tp_drops: frames the ring had no room for */
	uint64_t waits;		/* frames still being copied while a later one was filled */
	uint64_t fifo_overflow; /* frames discarded because a FIFO was full */
	uint64_t skipped_req;	/* request frames a lookup dropped: the TUN queue dropped them */
	uint64_t skipped_rep;	/* reply frames a lookup dropped: duplicate copies */
};

struct fs_wire;

/** Opens the tap on interface @ifname with @frames ring frames (a power of 2, >= 64). */
int fs_wire_open(struct fs_wire **out, const char *ifname, uint32_t frames);
/** Moves every frame the kernel has filled into the FIFOs and hands the frames back. */
void fs_wire_poll(struct fs_wire *w);
/** CLOCK_REALTIME ns at which the echo request @k was sent into the TUN device; 0: unknown. */
uint64_t fs_wire_request(struct fs_wire *w, const struct fs_wire_key *k);
/** CLOCK_REALTIME ns at which the echo reply @k entered the stack from the TUN device; 0: unknown.
 */
uint64_t fs_wire_reply(struct fs_wire *w, const struct fs_wire_key *k);
/** Counters so far (reads and accumulates PACKET_STATISTICS: one system call). */
void fs_wire_stats(struct fs_wire *w, struct fs_wire_stats *st);
void fs_wire_close(struct fs_wire *w);

#endif
