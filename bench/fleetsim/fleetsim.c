// SPDX-License-Identifier: MIT
/*
 * fleetsim: a simulated fleet of devices answering ICMP echo on a TUN device.
 *
 * Runs inside a private network namespace (`unshare -n`): it creates the TUN device "fleetsim0",
 * gives it 198.19.255.254/15 and brings it (and lo) up, so the kernel routes 198.18.0.0/15 to it.
 * Each echo request to a device address base+i is answered after an injected latency drawn from
 * that device's own PRNG, seeded from a hash of (seed, i): two runs with the same seed and the same
 * request sequence agree exactly. Behaviours per device: latency distribution, loss, down,
 * flapping, duplicate replies, corrupted payloads.
 *
 * IPv6 (--family 6 or both): the same TUN device also carries 2001:2::/48 (it gets
 * 2001:2::c613:fffe/128 and a route to the /48 via a gateway, see net_setup) and device i
 * answers on 2001:2:: followed by the 32 bits of its IPv4 address base+i, e.g.
 * 198.18.0.1 -> 2001:2::c612:1 ((0x20010002 << 96) | ipv4 as integers),
 * with the same behaviours: ICMPv6 echo (128 -> 129) on the same PRNG stream, and SNMP over
 * UDP/IPv6. One device, one state: its draws and counts are shared by both families. The
 * kernel sends nothing else on the device (no link-local address, no router solicitation; on
 * an L3 TUN device neighbour discovery never happens) and whatever else arrives is stray.
 *
 * Each device also answers SNMP v2c Get/GetNext/GetBulk for the system group on UDP port 161
 * (snmp.c): sysName sim-A-B-C-D, a vendor sysDescr and sysObjectID and a sysUpTime drawn from
 * (seed, i) on a stream of their own, so they do not depend on the echo options. A fraction of the
 * devices has no agent (--snmp-none) and some agents answer late (--snmp-slow, --snmp-delay);
 * a wrong community, a down device or one in the down half of its flap period gets no answer.
 * --loss applies to echo only.
 *
 * Single threaded: one ppoll() loop, requests read in batches until EAGAIN, pending replies kept in
 * a binary min-heap over a preallocated slot pool. Nothing is allocated per packet.
 *
 * Ground truth (JSON) goes to --truth FILE at exit and on SIGUSR1, so that a reader needs no
 * copy of the draws above (keys are only ever added):
 *
 *   "totals":  the counts summed over the devices, the wire tap's figures, and elapsed_us: the
 *              time from fleetsim's start (the zero of the flap phases and of the sysUpTime
 *              drift) to this write
 *   "options": what the fleet was told: base, family ("6" or "both"; absent: IPv4 only),
 *              base6 (with IPv6), latency (fixed, uniform, normal or longtail)
 *              with latency_a_us and latency_b_us (fixed: a; uniform: a..b; normal: mean a,
 *              sd b; longtail: base a, scale b), loss_pct, down_pct, flap_pct,
 *              flap_period_ns, dup_pct, corrupt_pct, snmp_none, snmp_slow, snmp_delay_ns
 *   "devices": one line per device, "addr" first (its IPv4 address, also its identity when
 *              it answers on IPv6 only), then with IPv6 "addr6" and "answers" (the
 *              addresses it answers on; absent: addr only); what was drawn for it (down,
 *              flap and flap_phase_ns: down while (t - start + phase) mod period < period / 2; dup,
 *              corrupt; snmp_agent, snmp_slow; sys_name, sys_descr, sys_object_id,
 *              sys_location, sys_contact as the agent answers them; sys_uptime_start: its
 *              sysUpTime at start, 1/100 s, which a request at t answers as
 *              sys_uptime_start + (t - start) / 10 ms) and what it counted
 *
 * The latency each reply was given is in the --replies records (below), with its request's
 * number at the device.
 *
 * The wire tap (wire.c) stamps each echo request as the host sends it into the TUN device and
 * each echo reply as it enters the stack, so every reply has a wire hold: what the simulator
 * really applied, its read delay and lateness included, between the two kernel stamps a
 * prober's own send and receive times enclose. --replies FILE keeps one record per reply:
 *
 *   header, 16 bytes: "fsreply1" (8 ASCII bytes), u32 record size (24), u32 0
 *   record, 24 bytes, all little-endian:
 *     u32 device index (its address is --base + index)
 *     u32 k: the request's number at that device, from 0, counting every echo request the
 *         device received, answered or not (the order of its PRNG draws)
 *     u32 drawn latency, us
 *     u32 flags: bit 0 a duplicate was sent too, bit 1 the payload was corrupted, bit 2
 *         the exchange was ICMPv6 (to the device's 2001:2:: address)
 *     u64 wire hold, ns: tap stamp of the reply - tap stamp of its request; all ones when
 *         unknown (either frame missing from the tap)
 *
 * Records are written in the order the replies were handed to the kernel, buffered, and
 * flushed with the truth file (exit, SIGUSR1): then the file has exactly totals.replies
 * records.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "snmp.h"
#include "wire.h"

#define FS_IFNAME "fleetsim0"
#define FS_IFADDR "198.19.255.254"
#define FS_IFADDR6 "2001:2::c613:fffe" /* FS_IFADDR mapped like a device's address */
#define FS_GW6 "2001:2:0:ffff::1"      /* the /48's next hop: outside the devices' /96 */
#define FS_NET6_LEN 12u		       /* 2001:2::/96 holds the devices: the IPv4 address */
#define FS_NET 0xc6120000u	       /* 198.18.0.0 */
#define FS_NETMASK 0xfffe0000u	       /* /15 */
#define FS_SLOT_BYTES 256u /* larger echo requests are counted as oversize and dropped */
#define FS_RX_BATCH 256
#define FS_DEFAULT_SLOTS (1u << 16)
#define FS_SNMP_SLOTS 4096u			   /* slow SNMP answers pending at once */
#define FS_SNMP_SLOT_BYTES (28u + FS_SNMP_MAX_MSG) /* IPv4 + UDP + message (IPv6: 48 + 1452) */
#define FS_PEND_DUP 0x80000000u			   /* struct pending.dev: send a duplicate */
#define FS_PEND_SNMP 0x40000000u		   /* struct pending.dev: an SNMP answer */
#define FS_PEND_DEV 0x3fffffffu
#define FS_TAP_FRAMES (1u << 14)
#define FS_REC_BYTES 24u
#define FS_REC_BUF 4096u	   /* records per write to --replies */
#define FS_LATE_BUCKETS (1u << 17) /* wire lateness histogram, 1 us buckets: 131 ms */
#define FS_HOLD_UNKNOWN UINT64_MAX

enum lat_kind { LAT_FIXED, LAT_UNIFORM, LAT_NORMAL, LAT_LONGTAIL };

struct lat_spec {
	enum lat_kind kind;
	double a_us;
	double b_us;
};

struct dev {
	uint64_t rng; /* per-device PRNG state (splitmix64) */
	uint64_t flap_phase_ns;
	bool down;
	bool flap;
	bool dup;
	bool corrupt;
	uint32_t requests;
	uint32_t replies;
	uint32_t duplicates;
	uint32_t drops_loss;
	uint32_t drops_down;
	uint32_t drops_flap;
	uint32_t drops_queue;
	uint32_t corrupted;
	uint64_t lat_sum_us;
	uint32_t lat_min_us;
	uint32_t lat_max_us;
	/* SNMP */
	bool snmp_agent;
	bool snmp_slow;
	uint32_t snmp_profile;
	uint32_t snmp_uptime0; /* sysUpTime at start, 1/100 s */
	uint32_t snmp_requests;
	uint32_t snmp_answered;
	uint32_t snmp_drops_down;
	uint32_t snmp_drops_noagent;
	uint32_t snmp_drops_community;
	uint32_t snmp_drops_queue;
};

struct pending {
	uint64_t due_ns;
	uint32_t slot;
	uint32_t dev; /* device index | FS_PEND_DUP | FS_PEND_SNMP */
	uint32_t lat_us;
	uint32_t corrupt;
};

struct opts {
	uint32_t devices;
	uint32_t base; /* host order */
	uint64_t seed;
	struct lat_spec lat;
	double loss;
	double down;
	double flap;
	uint64_t flap_period_ns;
	double dup;
	double corrupt;
	const char *truth;
	double duration;
	uint32_t slots;
	uint64_t spin_ns; /* busy-poll this long before a reply is due */
	double snmp_none; /* fraction of devices without an agent */
	double snmp_slow; /* fraction of the agents that answer after snmp_delay_ns */
	uint64_t snmp_delay_ns;
	const char *community;
	const char *replies; /* per-reply record file */
	uint32_t tap_frames; /* wire tap ring frames; 0: no tap */
	bool v4, v6;	     /* --family: which of the two the fleet answers on */
};

/* A reply handed to the kernel, waiting for its tap frame. */
struct settle {
	struct fs_wire_key key;
	uint32_t dev, k, lat_us, flags;
	uint64_t req_ns; /* tap stamp of its request, 0 unknown */
};

struct sim {
	struct opts o;
	int tun;
	struct dev *devs;
	struct pending *heap;
	uint32_t nheap;
	uint8_t *bufs; /* slots * FS_SLOT_BYTES */
	uint16_t *lens;
	uint32_t *free_slots;
	uint32_t nfree;
	uint64_t start_ns;
	uint64_t stray; /* packets not an echo request to a device */
	uint64_t oversize;
	uint64_t write_errors;
	uint64_t max_late_ns; /* worst lateness of a reply against its due time */
	/* SNMP */
	struct fs_snmp_req *snmp_req;
	uint8_t *snmp_bufs; /* FS_SNMP_SLOTS * FS_SNMP_SLOT_BYTES, for slow answers */
	uint16_t *snmp_lens;
	uint32_t *snmp_free;
	uint32_t snmp_nfree;
	uint64_t snmp_malformed;   /* UDP to port 161 of a device that is no SNMP message */
	uint64_t snmp_unsupported; /* SNMP but not v2c Get/GetNext/GetBulk */
	/* of the devices' counts, those over IPv6 */
	uint64_t requests6, replies6, snmp_requests6, snmp_answered6;
	/* wire tap: per slot, the request's tap stamp and number at its device */
	struct fs_wire *wire;
	uint64_t *slot_req_ns;
	uint32_t *slot_k;
	struct settle *settle; /* slots entries */
	uint32_t nsettle;
	uint64_t wire_matched;
	uint64_t wire_unknown;
	uint64_t wire_unknown_req; /* of which the request's frame was not found */
	uint64_t wire_early;	   /* holds shorter than the draw (should not happen) */
	uint64_t wire_late_max_ns;
	uint32_t *late_hist; /* (wire hold - drawn) in us */
	FILE *rec;
	uint8_t *recbuf;
	uint32_t nrec;
	uint64_t rec_errors;
};

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t dump_flag;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_flag = 1;
	else
		stop_flag = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rnd01(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static bool chance(uint64_t *s, double pct)
{
	return pct > 0 && rnd01(s) * 100.0 < pct;
}

static double rnd_normal(uint64_t *s)
{
	double u1 = rnd01(s), u2 = rnd01(s);

	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static uint32_t draw_latency_us(const struct lat_spec *l, uint64_t *s)
{
	double v;

	switch (l->kind) {
	case LAT_UNIFORM:
		v = l->a_us + (l->b_us - l->a_us) * rnd01(s);
		break;
	case LAT_NORMAL:
		v = l->a_us + l->b_us * rnd_normal(s);
		break;
	case LAT_LONGTAIL:
		/* base plus a Pareto(alpha 1.5) tail of scale b, capped at 100x base */
		v = l->a_us + l->b_us * (pow(1.0 - rnd01(s), -1.0 / 1.5) - 1.0);
		if (v > 100.0 * l->a_us + l->b_us)
			v = 100.0 * l->a_us + l->b_us;
		break;
	default:
		v = l->a_us;
		break;
	}
	if (v < 0)
		v = 0;
	return (uint32_t)(v + 0.5);
}

/* ---- min-heap of pending replies ---- */

static void heap_push(struct sim *sm, struct pending p)
{
	uint32_t i = sm->nheap++;

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (sm->heap[parent].due_ns <= p.due_ns)
			break;
		sm->heap[i] = sm->heap[parent];
		i = parent;
	}
	sm->heap[i] = p;
}

static struct pending heap_pop(struct sim *sm)
{
	struct pending top = sm->heap[0];
	struct pending last = sm->heap[--sm->nheap];
	uint32_t i = 0, n = sm->nheap;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && sm->heap[c + 1].due_ns < sm->heap[c].due_ns)
			c++;
		if (last.due_ns <= sm->heap[c].due_ns)
			break;
		sm->heap[i] = sm->heap[c];
		i = c;
	}
	if (n)
		sm->heap[i] = last;
	return top;
}

/* ---- packets ---- */

static uint16_t csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

/* The 96 bits before a device's IPv4 address in its IPv6 address: 2001:2::/96. */
static const uint8_t fs_net6[FS_NET6_LEN] = {0x20, 0x01, 0x00, 0x02};

static bool is_v6(const uint8_t *pkt)
{
	return (pkt[0] >> 4) == 6;
}

/*
 * The checksum (host order) of @l4[0, @len) of protocol @proto in IPv4 or IPv6 packet @ip,
 * over the pseudo-header of its family; 0 if a received one is ok.
 */
static uint16_t l4_csum(const uint8_t *ip, uint8_t proto, const uint8_t *l4, size_t len)
{
	uint32_t sum = proto + (uint32_t)len;

	sum = is_v6(ip) ? sum16(ip + 8, 32, sum) : sum16(ip + 12, 8, sum);
	sum = sum16(l4, len, sum);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Sets the ICMP (IPv4) or ICMPv6 checksum of the echo message at @pkt + @hl. */
static void echo_csum(uint8_t *pkt, size_t hl, size_t len)
{
	pkt[hl + 2] = pkt[hl + 3] = 0;
	if (is_v6(pkt))
		put16(pkt + hl + 2, l4_csum(pkt, IPPROTO_ICMPV6, pkt + hl, len - hl));
	else
		memcpy(pkt + hl + 2, &(uint16_t){csum(pkt + hl, len - hl)}, 2);
}

/*
 * Turn the echo request in @pkt into the reply in place. Returns the IP header length, or
 * -EINVAL if it is no IPv4 ICMP echo request.
 */
static int request_to_reply(uint8_t *pkt, size_t len)
{
	size_t ihl;
	uint8_t tmp[4];

	if (len < 20 || (pkt[0] >> 4) != 4)
		return -EINVAL;
	ihl = (size_t)(pkt[0] & 0xf) * 4;
	if (ihl < 20 || len < ihl + 8 || pkt[9] != IPPROTO_ICMP || pkt[ihl] != 8)
		return -EINVAL;
	if (((uint32_t)pkt[2] << 8 | pkt[3]) != len)
		return -EINVAL;
	memcpy(tmp, pkt + 12, 4);
	memcpy(pkt + 12, pkt + 16, 4);
	memcpy(pkt + 16, tmp, 4);
	pkt[8] = 64; /* TTL */
	pkt[10] = pkt[11] = 0;
	memcpy(pkt + 10, &(uint16_t){csum(pkt, ihl)}, 2);
	pkt[ihl] = 0; /* echo reply */
	echo_csum(pkt, ihl, len);
	return (int)ihl;
}

/*
 * The same for an ICMPv6 echo request (type 128) without extension headers: the reply (129)
 * from the device, hop limit 64, checksummed over the IPv6 pseudo-header. Returns 40.
 */
static int request_to_reply6(uint8_t *pkt, size_t len)
{
	uint8_t tmp[16];

	if (len < 48 || !is_v6(pkt) || pkt[6] != IPPROTO_ICMPV6 || pkt[40] != 128)
		return -EINVAL;
	if (((size_t)pkt[4] << 8 | pkt[5]) + 40 != len)
		return -EINVAL;
	memcpy(tmp, pkt + 8, 16);
	memcpy(pkt + 8, pkt + 24, 16);
	memcpy(pkt + 24, tmp, 16);
	pkt[7] = 64;   /* hop limit */
	pkt[40] = 129; /* echo reply */
	echo_csum(pkt, 40, len);
	return 40;
}

/* The exchange of a packet already turned into the reply (src: the device). */
static struct fs_wire_key reply_key(const uint8_t *pkt)
{
	struct fs_wire_key k = {0};
	size_t ihl = (size_t)(pkt[0] & 0xf) * 4;

	if (is_v6(pkt)) {
		memcpy(&k.dev, pkt + 8 + FS_NET6_LEN, 4);
		k.peer = fs_wire_peer6(pkt + 24);
		memcpy(&k.idseq, pkt + 44, 4);
		k.v6 = 1;
		return k;
	}
	memcpy(&k.dev, pkt + 12, 4);
	memcpy(&k.peer, pkt + 16, 4);
	memcpy(&k.idseq, pkt + ihl + 4, 4);
	return k;
}

/*
 * The index of the device packet @pkt is addressed to, if it is one of a family the fleet
 * answers on: -1 otherwise.
 */
static int64_t dev_index(const struct sim *sm, const uint8_t *pkt, size_t len)
{
	uint32_t dst, idx;

	if (len >= 20 && (pkt[0] >> 4) == 4 && sm->o.v4)
		dst = rd32(pkt + 16);
	else if (len >= 40 && is_v6(pkt) && sm->o.v6 && !memcmp(pkt + 24, fs_net6, FS_NET6_LEN))
		dst = rd32(pkt + 24 + FS_NET6_LEN);
	else
		return -1;
	idx = dst - sm->o.base;
	return idx < sm->o.devices ? (int64_t)idx : -1;
}

static bool flap_is_down(const struct sim *sm, const struct dev *d, uint64_t t)
{
	uint64_t p = sm->o.flap_period_ns;

	/* down for the first half of each period, shifted by the device's phase */
	return ((t - sm->start_ns + d->flap_phase_ns) % p) < p / 2;
}

static struct fs_snmp_id snmp_id(const struct sim *sm, uint32_t idx)
{
	return (struct fs_snmp_id){
	    .addr = sm->o.base + idx, .index = idx, .profile = sm->devs[idx].snmp_profile};
}

/*
 * Writes the IP + UDP headers (IPv4: 28 bytes, IPv6: 48) at @ip before a payload of @n bytes,
 * answering request @req (of the same family) whose UDP header is @req_udp.
 */
static void udp_reply_headers(uint8_t *ip, const uint8_t *req, const uint8_t *req_udp, size_t n)
{
	size_t ulen = 8 + n;
	uint8_t *udp;
	uint16_t c;

	if (is_v6(req)) {
		udp = ip + 40;
		ip[0] = 0x60;
		ip[1] = ip[2] = ip[3] = 0;
		put16(ip + 4, (uint16_t)ulen);
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, req + 24, 16); /* from the device */
		memcpy(ip + 24, req + 8, 16); /* to the asker */
	} else {
		udp = ip + 20;
		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, (uint16_t)(20 + ulen));
		ip[4] = ip[5] = 0;
		ip[6] = 0x40; /* DF */
		ip[7] = 0;
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		ip[10] = ip[11] = 0;
		memcpy(ip + 12, req + 16, 4); /* from the device */
		memcpy(ip + 16, req + 12, 4); /* to the asker */
		memcpy(ip + 10, &(uint16_t){csum(ip, 20)}, 2);
	}
	memcpy(udp, req_udp + 2, 2); /* source port: 161 */
	memcpy(udp + 2, req_udp, 2);
	put16(udp + 4, (uint16_t)ulen);
	udp[6] = udp[7] = 0;
	c = l4_csum(ip, IPPROTO_UDP, udp, ulen);
	put16(udp + 6, c ? c : 0xffff);
}

/*
 * A UDP datagram (IPv4 or IPv6) to device @idx: SNMP on port 161, anything else is stray. IPv6
 * makes the UDP checksum mandatory: a datagram without one is malformed.
 */
static void handle_udp(struct sim *sm, uint32_t idx, const uint8_t *pkt, size_t len, uint64_t rx_ns)
{
	static uint8_t out[FS_SNMP_SLOT_BYTES];
	struct dev *d = &sm->devs[idx];
	bool v6 = is_v6(pkt);
	size_t ihl = v6 ? 40 : (size_t)(pkt[0] & 0xf) * 4, hl = v6 ? 48 : 28, ulen, n;
	size_t total = v6 ? 40 + ((size_t)pkt[4] << 8 | pkt[5]) : ((size_t)pkt[2] << 8 | pkt[3]);
	const uint8_t *udp = pkt + ihl;
	struct fs_snmp_id id;
	uint32_t slot, uptime;
	bool has_csum;
	uint8_t *ip;

	if (ihl < 20 || len < ihl + 8 || total != len ||
	    ((uint32_t)udp[2] << 8 | udp[3]) != FS_SNMP_PORT) {
		sm->stray++;
		return;
	}
	ulen = (size_t)udp[4] << 8 | udp[5];
	has_csum = udp[6] || udp[7];
	/* fragments, a bad UDP length or checksum: a real stack would drop them too */
	if ((!v6 && ((pkt[6] & 0x3f) || pkt[7])) || ulen < 8 || ulen > len - ihl ||
	    (v6 && !has_csum) || (has_csum && l4_csum(pkt, IPPROTO_UDP, udp, ulen) != 0)) {
		sm->snmp_malformed++;
		return;
	}
	switch (fs_snmp_parse(sm->snmp_req, udp + 8, ulen - 8)) {
	case FS_SNMP_REQUEST:
		break;
	case FS_SNMP_UNSUPPORTED:
		sm->snmp_unsupported++;
		return;
	default:
		sm->snmp_malformed++;
		return;
	}
	d->snmp_requests++;
	sm->snmp_requests6 += v6;
	if (d->down || (d->flap && flap_is_down(sm, d, rx_ns))) {
		d->snmp_drops_down++;
		return;
	}
	if (!d->snmp_agent) {
		d->snmp_drops_noagent++;
		return;
	}
	if (!fs_snmp_community_ok(sm->snmp_req, sm->o.community)) {
		d->snmp_drops_community++;
		return;
	}
	if (d->snmp_slow && !sm->snmp_nfree) {
		d->snmp_drops_queue++;
		return;
	}
	id = snmp_id(sm, idx);
	uptime = d->snmp_uptime0 + (uint32_t)((rx_ns - sm->start_ns) / 10000000u);
	/* the message ends the buffer; IPv6's larger headers leave it 20 bytes less room */
	n = fs_snmp_respond(sm->snmp_req, &id, uptime, out + hl, sizeof(out) - hl);
	if (!n) { /* cannot happen: a tooBig answer always fits */
		sm->write_errors++;
		return;
	}
	ip = out + sizeof(out) - n - hl;
	udp_reply_headers(ip, pkt, udp, n);
	if (!d->snmp_slow) {
		if (write(sm->tun, ip, hl + n) < 0)
			sm->write_errors++;
		d->snmp_answered++;
		sm->snmp_answered6 += v6;
		return;
	}
	slot = sm->snmp_free[--sm->snmp_nfree];
	memcpy(sm->snmp_bufs + (size_t)slot * FS_SNMP_SLOT_BYTES, ip, hl + n);
	sm->snmp_lens[slot] = (uint16_t)(hl + n);
	heap_push(sm, (struct pending){.due_ns = rx_ns + sm->o.snmp_delay_ns,
				       .slot = slot,
				       .dev = idx | FS_PEND_SNMP});
}

static void handle_request(struct sim *sm, uint8_t *pkt, size_t len, uint64_t rx_ns)
{
	uint32_t idx, slot, lat, k;
	uint64_t req_ns = 0;
	bool lost, dup, corrupt, v6;
	int64_t i = dev_index(sm, pkt, len);
	struct dev *d;
	uint8_t *buf;
	int ihl;

	if (i < 0) {
		sm->stray++;
		return;
	}
	idx = (uint32_t)i;
	v6 = is_v6(pkt);
	if ((v6 ? pkt[6] : pkt[9]) == IPPROTO_UDP) {
		handle_udp(sm, idx, pkt, len, rx_ns);
		return;
	}
	d = &sm->devs[idx];
	if (len > FS_SLOT_BYTES) {
		sm->oversize++;
		return;
	}
	ihl = v6 ? request_to_reply6(pkt, len) : request_to_reply(pkt, len);
	if (ihl < 0) {
		sm->stray++;
		return;
	}
	k = d->requests++;
	sm->requests6 += v6;
	/* every request to a device, answered or not, so the tap's request FIFO moves on */
	if (sm->wire) {
		struct fs_wire_key key = reply_key(pkt);

		req_ns = fs_wire_request(sm->wire, &key);
	}
	/* draw every random number each time so the stream does not depend on the outcome */
	lat = draw_latency_us(&sm->o.lat, &d->rng);
	lost = chance(&d->rng, sm->o.loss);
	dup = d->dup;
	corrupt = d->corrupt;

	if (d->down) {
		d->drops_down++;
		return;
	}
	if (d->flap && flap_is_down(sm, d, rx_ns)) {
		d->drops_flap++;
		return;
	}
	if (lost) {
		d->drops_loss++;
		return;
	}
	if (!sm->nfree) {
		d->drops_queue++;
		return;
	}
	slot = sm->free_slots[--sm->nfree];
	buf = sm->bufs + (size_t)slot * FS_SLOT_BYTES;
	memcpy(buf, pkt, len);
	sm->lens[slot] = (uint16_t)len;
	sm->slot_req_ns[slot] = req_ns;
	sm->slot_k[slot] = k;
	if (corrupt && len > (size_t)ihl + 8) {
		size_t off = (size_t)ihl + 8 + (len - ihl - 8) / 2;

		buf[off] ^= 0x01;
		echo_csum(buf, (size_t)ihl, len);
	} else {
		corrupt = false;
	}
	heap_push(sm, (struct pending){.due_ns = rx_ns + (uint64_t)lat * 1000u,
				       .slot = slot,
				       .dev = idx | (dup ? FS_PEND_DUP : 0),
				       .lat_us = lat,
				       .corrupt = corrupt});
}

/* ---- per-reply records (--replies) ---- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void rec_flush(struct sim *sm)
{
	if (!sm->rec)
		return;
	if (sm->nrec && fwrite(sm->recbuf, FS_REC_BYTES, sm->nrec, sm->rec) != sm->nrec)
		sm->rec_errors++;
	sm->nrec = 0;
	if (fflush(sm->rec))
		sm->rec_errors++;
}

static void rec_put(struct sim *sm, const struct settle *s, uint64_t hold_ns)
{
	uint8_t *p = sm->recbuf + (size_t)sm->nrec * FS_REC_BYTES;

	put_le(p, s->dev, 4);
	put_le(p + 4, s->k, 4);
	put_le(p + 8, s->lat_us, 4);
	put_le(p + 12, s->flags, 4);
	put_le(p + 16, hold_ns, 8);
	if (++sm->nrec == FS_REC_BUF) {
		if (fwrite(sm->recbuf, FS_REC_BYTES, sm->nrec, sm->rec) != sm->nrec)
			sm->rec_errors++;
		sm->nrec = 0;
	}
}

/*
 * The replies written since the last call now have their frames in the tap (a TUN write
 * delivers to the packet socket before it returns): pair each with its frame, count its
 * lateness on the wire against the draw and keep its record.
 */
static void settle_replies(struct sim *sm)
{
	fs_wire_poll(sm->wire);
	for (uint32_t i = 0; i < sm->nsettle; i++) {
		const struct settle *s = &sm->settle[i];
		uint64_t rep_ns = fs_wire_reply(sm->wire, &s->key), hold = FS_HOLD_UNKNOWN;

		if (s->req_ns && rep_ns && rep_ns >= s->req_ns) {
			int64_t late = (int64_t)(rep_ns - s->req_ns) - (int64_t)s->lat_us * 1000;
			uint64_t us = late > 0 ? (uint64_t)late / 1000u : 0;

			hold = rep_ns - s->req_ns;
			sm->wire_matched++;
			if (late < 0)
				sm->wire_early++;
			else if ((uint64_t)late > sm->wire_late_max_ns)
				sm->wire_late_max_ns = (uint64_t)late;
			sm->late_hist[us < FS_LATE_BUCKETS ? us : FS_LATE_BUCKETS - 1]++;
		} else {
			sm->wire_unknown++;
			sm->wire_unknown_req += !s->req_ns;
		}
		if (sm->rec)
			rec_put(sm, s, hold);
	}
	sm->nsettle = 0;
}

static void send_due(struct sim *sm, uint64_t now)
{
	while (sm->nheap && sm->heap[0].due_ns <= now) {
		struct pending p = heap_pop(sm);
		uint8_t *buf = sm->bufs + (size_t)p.slot * FS_SLOT_BYTES;
		int copies = (p.dev & FS_PEND_DUP) ? 2 : 1;
		struct dev *d = &sm->devs[p.dev & FS_PEND_DEV];

		if (now - p.due_ns > sm->max_late_ns)
			sm->max_late_ns = now - p.due_ns;
		if (p.dev & FS_PEND_SNMP) {
			const uint8_t *ans = sm->snmp_bufs + (size_t)p.slot * FS_SNMP_SLOT_BYTES;

			if (write(sm->tun, ans, sm->snmp_lens[p.slot]) < 0)
				sm->write_errors++;
			d->snmp_answered++;
			sm->snmp_answered6 += is_v6(ans);
			sm->snmp_free[sm->snmp_nfree++] = p.slot;
			continue;
		}

		/* truth counts what was handed to the kernel, so replies pending at exit are not */
		for (int i = 0; i < copies; i++)
			if (write(sm->tun, buf, sm->lens[p.slot]) < 0)
				sm->write_errors++;
		d->replies++;
		sm->replies6 += is_v6(buf);
		d->duplicates += copies - 1;
		d->corrupted += p.corrupt;
		d->lat_sum_us += p.lat_us;
		if (p.lat_us < d->lat_min_us)
			d->lat_min_us = p.lat_us;
		if (p.lat_us > d->lat_max_us)
			d->lat_max_us = p.lat_us;
		if (sm->wire)
			sm->settle[sm->nsettle++] =
			    (struct settle){.key = reply_key(buf),
					    .dev = p.dev & FS_PEND_DEV,
					    .k = sm->slot_k[p.slot],
					    .lat_us = p.lat_us,
					    .flags = (copies > 1 ? 1u : 0u) |
						     (p.corrupt ? 2u : 0u) | (is_v6(buf) ? 4u : 0u),
					    .req_ns = sm->slot_req_ns[p.slot]};
		sm->free_slots[sm->nfree++] = p.slot;
	}
	if (sm->nsettle)
		settle_replies(sm);
}

static void receive_batch(struct sim *sm)
{
	static uint8_t pkt[65536];

	for (int i = 0; i < FS_RX_BATCH; i++) {
		ssize_t n = read(sm->tun, pkt, sizeof(pkt));
		uint64_t now = now_ns();

		if (n <= 0)
			break;
		handle_request(sm, pkt, (size_t)n, now);
		/* a long burst of requests must not delay replies already due */
		if (sm->nheap && sm->heap[0].due_ns <= now)
			send_due(sm, now);
	}
}

/* ---- truth ---- */

/* The @p-th percentile (as bench/fleet takes it) of the wire lateness histogram, us. */
static uint64_t late_pct(const struct sim *sm, double p)
{
	uint64_t want = (uint64_t)ceil(p / 100.0 * (double)sm->wire_matched), c = 0;

	if (want < 1)
		want = 1;
	for (uint32_t i = 0; i < FS_LATE_BUCKETS; i++) {
		c += sm->late_hist[i];
		if (c >= want)
			return i;
	}
	return FS_LATE_BUCKETS - 1;
}

/* The wire figures of the truth's totals, from ",\"wire_matched\"" on; nulls without a tap. */
static void wire_totals(struct sim *sm, char *out, size_t n)
{
	struct fs_wire_stats st;

	if (!sm->wire) {
		snprintf(out, n,
			 ",\"wire_matched\":null,\"wire_unknown\":null,\"tap_drops\":null,"
			 "\"sim_late_p50_us\":null,\"sim_late_p99_us\":null,"
			 "\"sim_late_max_us\":null");
		return;
	}
	fs_wire_stats(sm->wire, &st);
	snprintf(out, n,
		 ",\"wire_matched\":%" PRIu64 ",\"wire_unknown\":%" PRIu64 ",\"tap_drops\":%" PRIu64
		 ",\"tap_frames\":%" PRIu64 ",\"tap_waits\":%" PRIu64
		 ",\"tap_skipped_requests\":%" PRIu64 ",\"tap_skipped_replies\":%" PRIu64
		 ",\"wire_unknown_request\":%" PRIu64 ",\"tap_fifo_overflow\":%" PRIu64
		 ",\"wire_early\":%" PRIu64 ",\"sim_late_p50_us\":%" PRIu64
		 ",\"sim_late_p99_us\":%" PRIu64
		 ",\"sim_late_max_us\":%.1f,\"replies_file_errors\":%" PRIu64,
		 sm->wire_matched, sm->wire_unknown, st.tap_drops, st.frames, st.waits,
		 st.skipped_req, st.skipped_rep, sm->wire_unknown_req, st.fifo_overflow,
		 sm->wire_early, sm->wire_matched ? late_pct(sm, 50) : 0,
		 sm->wire_matched ? late_pct(sm, 99) : 0, (double)sm->wire_late_max_ns / 1000.0,
		 sm->rec_errors);
}

/* Device address @a's IPv6 twin: 2001:2:: and its 32 bits (198.18.0.1: 2001:2::c612:1). */
static const char *addr6(uint32_t a, char out[INET6_ADDRSTRLEN])
{
	uint8_t b[16] = {0};

	memcpy(b, fs_net6, FS_NET6_LEN);
	b[12] = (uint8_t)(a >> 24);
	b[13] = (uint8_t)(a >> 16);
	b[14] = (uint8_t)(a >> 8);
	b[15] = (uint8_t)a;
	return inet_ntop(AF_INET6, b, out, INET6_ADDRSTRLEN);
}

/* The truth's "options": what the fleet was told, so a reader need not parse our flags. */
static void write_options(const struct sim *sm, FILE *f)
{
	static const char *const kinds[] = {[LAT_FIXED] = "fixed",
					    [LAT_UNIFORM] = "uniform",
					    [LAT_NORMAL] = "normal",
					    [LAT_LONGTAIL] = "longtail"};
	const struct opts *o = &sm->o;
	uint32_t b = o->base;

	fprintf(f,
		"\"options\":{\"base\":\"%u.%u.%u.%u\",\"latency\":\"%s\",\"latency_a_us\":%.15g"
		",\"latency_b_us\":%.15g,\"loss_pct\":%.15g,\"down_pct\":%.15g,\"flap_pct\":%.15g"
		",\"flap_period_ns\":%" PRIu64 ",\"dup_pct\":%.15g,\"corrupt_pct\":%.15g"
		",\"snmp_none\":%.15g,\"snmp_slow\":%.15g,\"snmp_delay_ns\":%" PRIu64,
		b >> 24, (b >> 16) & 255, (b >> 8) & 255, b & 255, kinds[o->lat.kind], o->lat.a_us,
		o->lat.b_us, o->loss, o->down, o->flap, o->flap_period_ns, o->dup, o->corrupt,
		o->snmp_none, o->snmp_slow, o->snmp_delay_ns);
	/* only with IPv6, so that an IPv4 fleet's truth reads as it always did */
	if (o->v6) {
		char a6[INET6_ADDRSTRLEN];

		fprintf(f, ",\"family\":\"%s\",\"base6\":\"%s\"", o->v4 ? "both" : "6",
			addr6(o->base, a6));
	}
	fprintf(f, "},\n");
}

static int write_truth(struct sim *sm)
{
	char tmp[4096], wire[1024], v6[256] = "";
	uint64_t req = 0, rep = 0, dupl = 0, dl = 0, dd = 0, df = 0, dq = 0, cor = 0, lat = 0;
	uint64_t sreq = 0, sans = 0, sdd = 0, sdn = 0, sdc = 0, sdq = 0;
	uint32_t ndown = 0, nflap = 0, nagent = 0, nslow = 0;
	FILE *f;

	rec_flush(sm);
	if (!sm->o.truth)
		return 0;
	wire_totals(sm, wire, sizeof(wire));
	if (sm->o.v6)
		snprintf(v6, sizeof(v6),
			 ",\"requests_v6\":%" PRIu64 ",\"replies_v6\":%" PRIu64
			 ",\"snmp_requests_v6\":%" PRIu64 ",\"snmp_answered_v6\":%" PRIu64,
			 sm->requests6, sm->replies6, sm->snmp_requests6, sm->snmp_answered6);
	for (uint32_t i = 0; i < sm->o.devices; i++) {
		const struct dev *d = &sm->devs[i];

		req += d->requests;
		rep += d->replies;
		dupl += d->duplicates;
		dl += d->drops_loss;
		dd += d->drops_down;
		df += d->drops_flap;
		dq += d->drops_queue;
		cor += d->corrupted;
		lat += d->lat_sum_us;
		ndown += d->down;
		nflap += d->flap;
		sreq += d->snmp_requests;
		sans += d->snmp_answered;
		sdd += d->snmp_drops_down;
		sdn += d->snmp_drops_noagent;
		sdc += d->snmp_drops_community;
		sdq += d->snmp_drops_queue;
		nagent += d->snmp_agent;
		nslow += d->snmp_slow;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", sm->o.truth);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f,
		"{\"totals\":{\"devices\":%" PRIu32 ",\"seed\":%" PRIu64 ",\"requests\":%" PRIu64
		",\"replies\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"drops\":%" PRIu64
		",\"drops_loss\":%" PRIu64 ",\"drops_down\":%" PRIu64 ",\"drops_flap\":%" PRIu64
		",\"drops_queue\":%" PRIu64 ",\"corrupted\":%" PRIu64 ",\"latency_sum_us\":%" PRIu64
		",\"down_devices\":%" PRIu32 ",\"flap_devices\":%" PRIu32 ",\"stray\":%" PRIu64
		",\"oversize\":%" PRIu64 ",\"write_errors\":%" PRIu64 ",\"max_late_us\":%" PRIu64
		",\"snmp_agents\":%" PRIu32 ",\"snmp_slow_devices\":%" PRIu32
		",\"snmp_requests\":%" PRIu64 ",\"snmp_answered\":%" PRIu64
		",\"snmp_drops\":%" PRIu64 ",\"snmp_drops_down\":%" PRIu64
		",\"snmp_drops_noagent\":%" PRIu64 ",\"snmp_drops_community\":%" PRIu64
		",\"snmp_drops_queue\":%" PRIu64 ",\"snmp_malformed\":%" PRIu64
		",\"snmp_unsupported\":%" PRIu64 "%s%s,\"elapsed_us\":%" PRIu64 "},\n",
		sm->o.devices, sm->o.seed, req, rep, dupl, dl + dd + df + dq, dl, dd, df, dq, cor,
		lat, ndown, nflap, sm->stray, sm->oversize, sm->write_errors,
		sm->max_late_ns / 1000u, nagent, nslow, sreq, sans, sdd + sdn + sdc + sdq, sdd, sdn,
		sdc, sdq, sm->snmp_malformed, sm->snmp_unsupported, wire, v6,
		(now_ns() - sm->start_ns) / 1000u);
	write_options(sm, f);
	fprintf(f, "\"devices\":[\n");
	for (uint32_t i = 0; i < sm->o.devices; i++) {
		const struct dev *d = &sm->devs[i];
		uint32_t a = sm->o.base + i;
		struct fs_snmp_id id = snmp_id(sm, i);
		char name[32], descr[256], objid[128], loc[64], a4[16], a6[INET6_ADDRSTRLEN];

		fs_snmp_sys_name(&id, name, sizeof(name));
		fs_snmp_sys_descr(&id, descr, sizeof(descr));
		fs_snmp_sys_object_id(&id, objid, sizeof(objid));
		fs_snmp_sys_location(&id, loc, sizeof(loc));
		snprintf(a4, sizeof(a4), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
			 a & 255);
		fprintf(f, "{\"addr\":\"%s\",", a4);
		if (sm->o.v6) {
			addr6(a, a6);
			fprintf(f, "\"addr6\":\"%s\",\"answers\":[", a6);
			if (sm->o.v4)
				fprintf(f, "\"%s\",", a4);
			fprintf(f, "\"%s\"],", a6);
		}
		fprintf(
		    f,
		    "\"down\":%s,\"flap\":%s,\"dup\":%s,\"corrupt\":%s,"
		    "\"requests\":%" PRIu32 ",\"replies\":%" PRIu32 ",\"duplicates\":%" PRIu32
		    ",\"drops\":%" PRIu32 ",\"corrupted\":%" PRIu32 ",\"latency_sum_us\":%" PRIu64
		    ",\"latency_min_us\":%" PRIu32 ",\"latency_max_us\":%" PRIu32
		    ",\"snmp_agent\":%s,\"snmp_slow\":%s,\"snmp_requests\":%" PRIu32
		    ",\"snmp_answered\":%" PRIu32 ",\"snmp_drops\":%" PRIu32
		    ",\"sys_name\":\"%s\",\"sys_descr\":\"%s\",\"sys_object_id\":\"%s\""
		    ",\"sys_location\":\"%s\",\"sys_contact\":\"%s\",\"sys_uptime_start\":%" PRIu32
		    ",\"flap_phase_ns\":%" PRIu64 "}%s\n",
		    d->down ? "true" : "false", d->flap ? "true" : "false",
		    d->dup ? "true" : "false", d->corrupt ? "true" : "false", d->requests,
		    d->replies, d->duplicates,
		    d->drops_loss + d->drops_down + d->drops_flap + d->drops_queue, d->corrupted,
		    d->lat_sum_us, d->replies ? d->lat_min_us : 0, d->lat_max_us,
		    d->snmp_agent ? "true" : "false", d->snmp_slow ? "true" : "false",
		    d->snmp_requests, d->snmp_answered,
		    d->snmp_drops_down + d->snmp_drops_noagent + d->snmp_drops_community +
			d->snmp_drops_queue,
		    name, descr, objid, loc, fs_snmp_sys_contact(), d->snmp_uptime0,
		    d->flap_phase_ns, i + 1 < sm->o.devices ? "," : "");
	}
	fprintf(f, "]}\n");
	if (fclose(f))
		return -errno;
	if (rename(tmp, sm->o.truth))
		return -errno;
	return 0;
}

/* ---- setup ---- */

static int tun_open(void)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", FS_IFNAME);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * lo up, the addresses of the families asked for on the TUN device, the device up. With IPv6
 * the device gets no link-local address (addrgenmode none) nor router solicitations, so the
 * kernel itself sends nothing into it; it is L3 (IFF_NOARP): no neighbour discovery, no DAD.
 *
 * IPv6's /48 is routed through the device via a gateway (FS_GW6, onlink: never resolved on
 * a NOARP device, and never a destination) rather than on-link: the kernel keeps a
 * neighbour entry for each on-link IPv6 destination even on a NOARP device (IPv4 keys
 * every destination of a point-to-point device to one entry), so 20,000 on-link devices
 * overflow the host-wide table (net.ipv6.neigh.default.gc_thresh3, 1,024 by default) and
 * every send then creates an entry and evicts another: 10% of the daemon's CPU at 20,000
 * devices, measured. A fleet behind a router, as most are, has one neighbour, the router;
 * so has IPv4's /15 here.
 */
static int net_setup(const struct opts *o)
{
	char cmd[640];
	int ret;

	snprintf(cmd, sizeof(cmd),
		 "ip link set lo up%s%s && ip link set " FS_IFNAME " up txqueuelen 10000%s",
		 o->v4 ? " && ip addr add " FS_IFADDR "/15 dev " FS_IFNAME : "",
		 o->v6 ? " && ip link set " FS_IFNAME " addrgenmode none"
			 " && echo 0 > /proc/sys/net/ipv6/conf/" FS_IFNAME "/accept_ra"
			 " && ip -6 addr add " FS_IFADDR6 "/128 dev " FS_IFNAME " nodad"
		       : "",
		 o->v6 ? " && ip -6 route add 2001:2::/48 via " FS_GW6 " dev " FS_IFNAME " onlink"
		       : "");
	ret = system(cmd);
	return ret == 0 ? 0 : -EIO;
}

static void dev_init(struct sim *sm)
{
	for (uint32_t i = 0; i < sm->o.devices; i++) {
		struct dev *d = &sm->devs[i];
		uint64_t h = sm->o.seed ^ (0xd1b54a32d192ed03ull * (i + 1));
		uint64_t s = splitmix64(&h);

		memset(d, 0, sizeof(*d));
		d->rng = s;
		d->down = chance(&s, sm->o.down);
		d->flap = !d->down && chance(&s, sm->o.flap);
		d->flap_phase_ns = sm->o.flap_period_ns ? splitmix64(&s) % sm->o.flap_period_ns : 0;
		d->dup = chance(&s, sm->o.dup);
		d->corrupt = chance(&s, sm->o.corrupt);
		d->lat_min_us = UINT32_MAX;

		/* SNMP identity: its own stream, independent of the echo options */
		h = sm->o.seed ^ (0x9e6c63d0676a9a99ull * (i + 1));
		s = splitmix64(&h);
		d->snmp_agent = !(rnd01(&s) < sm->o.snmp_none);
		d->snmp_slow = rnd01(&s) < sm->o.snmp_slow && d->snmp_agent;
		d->snmp_profile = (uint32_t)(splitmix64(&s) % fs_snmp_profiles());
		/* up for 0 to 400 days at start: fits 32-bit TimeTicks (497 days) */
		d->snmp_uptime0 = (uint32_t)(splitmix64(&s) % (400ull * 86400u * 100u));
	}
}

/* ---- options ---- */

static int parse_time_us(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -EINVAL;
	if (!strncmp(end, "us", 2))
		*out = v;
	else if (!strncmp(end, "ms", 2) || *end == '\0' || *end == ':')
		*out = v * 1000.0;
	else if (*end == 's')
		*out = v * 1e6;
	else
		return -EINVAL;
	return 0;
}

static int parse_latency(const char *s, struct lat_spec *l)
{
	static const struct {
		const char *name;
		enum lat_kind kind;
		int nargs;
	} kinds[] = {{"fixed:", LAT_FIXED, 1},
		     {"uniform:", LAT_UNIFORM, 2},
		     {"normal:", LAT_NORMAL, 2},
		     {"longtail:", LAT_LONGTAIL, 2}};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].name);
		const char *colon;

		if (strncmp(s, kinds[i].name, n))
			continue;
		l->kind = kinds[i].kind;
		s += n;
		if (parse_time_us(s, &l->a_us))
			return -EINVAL;
		colon = strchr(s, ':');
		if (kinds[i].nargs == 1) {
			l->b_us = 0;
			return colon ? -EINVAL : 0;
		}
		if (!colon || parse_time_us(colon + 1, &l->b_us))
			return -EINVAL;
		if (l->kind == LAT_UNIFORM && l->b_us < l->a_us)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

static int parse_pct(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || (*end && *end != '%' && *end != ':') || v < 0 || v > 100)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A fraction in [0, 1], or a percentage with '%'. */
static int parse_frac(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -EINVAL;
	if (*end == '%' && end[1] == '\0')
		v /= 100.0;
	else if (*end)
		return -EINVAL;
	if (v > 1)
		return -EINVAL;
	*out = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: fleetsim --devices N [--base 198.18.0.1] [--seed S]\n"
	    "       [--latency fixed:2ms | uniform:1ms:3ms | normal:2ms:0.5ms | "
	    "longtail:2ms:0.5ms]\n"
	    "       [--loss PCT] [--down PCT] [--flap PCT:PERIOD] [--dup PCT] [--corrupt PCT]\n"
	    "       [--truth FILE] [--duration SECS] [--slots N] [--spin US]\n"
	    "       [--snmp-none FRAC] [--snmp-slow FRAC] [--snmp-delay MS] [--community STR]\n"
	    "       [--replies FILE] [--tap-frames N] [--family 4|6|both]\n"
	    "Run inside a private network namespace (unshare -n). Prints \"ready\" on stdout when\n"
	    "the TUN device " FS_IFNAME " (" FS_IFADDR "/15) is up. SIGUSR1 (and the exit) write\n"
	    "the truth file: \"totals\", \"options\" (what it was told) and one line per device:\n"
	    "what was drawn for it (down, flap, flap_phase_ns, SNMP agent, slow, sys_* values,\n"
	    "sys_uptime_start) and what it counted.\n"
	    "--family 4|6|both (default 4): the address families the fleet answers on. With 6\n"
	    "the device also owns " FS_IFADDR6 "/128, 2001:2::/48 is routed to it (via\n" FS_GW6
	    ": one neighbour entry, as for a fleet behind a router) and device base+i\n"
	    "answers on 2001:2::\n"
	    "followed by the 32 bits of its IPv4 address (198.18.0.1: 2001:2::c612:1, i.e.\n"
	    "0x20010002 << 96 | ipv4): ICMPv6 echo and SNMP over UDP/IPv6 with the same\n"
	    "behaviours, draws and counts as IPv4 (one device, either family). The truth then\n"
	    "has options.family (\"6\" or \"both\") and base6, per device addr6 and \"answers\"\n"
	    "(the addresses it answered on), totals requests_v6, replies_v6, snmp_requests_v6 and\n"
	    "snmp_answered_v6; with 4 (no IPv6) none of these keys.\n"
	    "--spin US busy-polls the last US before each reply is due (timer wake-ups are late\n"
	    "on VMs); --slots N bounds pending replies (default 65536; beyond, counted "
	    "drops_queue).\n"
	    "SNMP v2c (UDP 161, system group): --snmp-none FRAC of the devices have no agent\n"
	    "(default 0.1), --snmp-slow FRAC of the agents answer after --snmp-delay (default\n"
	    "0.05, 1500 ms), others at once; --community (default public): others get none.\n"
	    "Wire tap: an AF_PACKET ring on " FS_IFNAME
	    " (--tap-frames N, default 16384; 0: none)\n"
	    "stamps each echo request as it enters the TUN device and each reply as it leaves\n"
	    "it (CLOCK_REALTIME, the stamp a prober's SO_TIMESTAMPNS reports). The truth's\n"
	    "totals then carry wire_matched, wire_unknown, tap_drops and sim_late_p50/p99/max_us:\n"
	    "the wire hold (reply stamp - request stamp) minus the drawn latency.\n"
	    "--replies FILE (needs the tap) writes one record per echo reply handed to the "
	    "kernel,\n"
	    "in that order, flushed with the truth file. Little-endian; a 16-byte header\n"
	    "\"fsreply1\", u32 record size 24, u32 0; then per record: u32 device index, u32 k\n"
	    "(the request's number at the device from 0, every echo request counted, answered or\n"
	    "not), u32 drawn latency us, u32 flags (1: duplicate sent, 2: corrupted, 4: ICMPv6),\n"
	    "u64 wire hold ns (all ones: unknown, a frame missing from the tap).\n");
}

enum {
	OPT_SNMP_NONE = 256,
	OPT_SNMP_SLOW,
	OPT_SNMP_DELAY,
	OPT_COMMUNITY,
	OPT_REPLIES,
	OPT_TAP_FRAMES,
	OPT_FAMILY
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {{"devices", required_argument, NULL, 'n'},
					   {"base", required_argument, NULL, 'b'},
					   {"seed", required_argument, NULL, 's'},
					   {"latency", required_argument, NULL, 'l'},
					   {"loss", required_argument, NULL, 'L'},
					   {"down", required_argument, NULL, 'D'},
					   {"flap", required_argument, NULL, 'F'},
					   {"dup", required_argument, NULL, 'U'},
					   {"corrupt", required_argument, NULL, 'C'},
					   {"truth", required_argument, NULL, 't'},
					   {"duration", required_argument, NULL, 'd'},
					   {"slots", required_argument, NULL, 'S'},
					   {"spin", required_argument, NULL, 'P'},
					   {"snmp-none", required_argument, NULL, OPT_SNMP_NONE},
					   {"snmp-slow", required_argument, NULL, OPT_SNMP_SLOW},
					   {"snmp-delay", required_argument, NULL, OPT_SNMP_DELAY},
					   {"community", required_argument, NULL, OPT_COMMUNITY},
					   {"replies", required_argument, NULL, OPT_REPLIES},
					   {"tap-frames", required_argument, NULL, OPT_TAP_FRAMES},
					   {"family", required_argument, NULL, OPT_FAMILY},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct in_addr a;
	double per_us, delay_us;
	int c;

	memset(o, 0, sizeof(*o));
	o->base = 0xc6120001u;
	o->lat.kind = LAT_FIXED;
	o->lat.a_us = 2000;
	o->slots = FS_DEFAULT_SLOTS;
	o->snmp_none = 0.1;
	o->snmp_slow = 0.05;
	o->snmp_delay_ns = 1500000000u;
	o->community = "public";
	o->tap_frames = FS_TAP_FRAMES;
	o->v4 = true;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end = NULL;

		switch (c) {
		case 'n':
			o->devices = (uint32_t)strtoul(optarg, &end, 10);
			break;
		case 'b':
			if (inet_pton(AF_INET, optarg, &a) != 1)
				goto bad;
			o->base = ntohl(a.s_addr);
			break;
		case 's':
			o->seed = strtoull(optarg, &end, 0);
			break;
		case 'l':
			if (parse_latency(optarg, &o->lat))
				goto bad;
			break;
		case 'L':
			if (parse_pct(optarg, &o->loss))
				goto bad;
			break;
		case 'D':
			if (parse_pct(optarg, &o->down))
				goto bad;
			break;
		case 'F':
			if (parse_pct(optarg, &o->flap) || !strchr(optarg, ':') ||
			    parse_time_us(strchr(optarg, ':') + 1, &per_us) || per_us < 2)
				goto bad;
			o->flap_period_ns = (uint64_t)(per_us * 1000.0);
			break;
		case 'U':
			if (parse_pct(optarg, &o->dup))
				goto bad;
			break;
		case 'C':
			if (parse_pct(optarg, &o->corrupt))
				goto bad;
			break;
		case 't':
			o->truth = optarg;
			break;
		case 'd':
			o->duration = strtod(optarg, &end);
			break;
		case 'S':
			o->slots = (uint32_t)strtoul(optarg, &end, 10);
			break;
		case 'P':
			o->spin_ns = strtoull(optarg, &end, 10) * 1000u;
			break;
		case OPT_SNMP_NONE:
			if (parse_frac(optarg, &o->snmp_none))
				goto bad;
			break;
		case OPT_SNMP_SLOW:
			if (parse_frac(optarg, &o->snmp_slow))
				goto bad;
			break;
		case OPT_SNMP_DELAY:
			if (parse_time_us(optarg, &delay_us) || strchr(optarg, ':'))
				goto bad;
			o->snmp_delay_ns = (uint64_t)(delay_us * 1000.0);
			break;
		case OPT_COMMUNITY:
			if (strlen(optarg) > 255)
				goto bad;
			o->community = optarg;
			break;
		case OPT_REPLIES:
			o->replies = optarg;
			break;
		case OPT_TAP_FRAMES:
			o->tap_frames = (uint32_t)strtoul(optarg, &end, 10);
			break;
		case OPT_FAMILY:
			o->v4 = !strcmp(optarg, "4") || !strcmp(optarg, "both");
			o->v6 = !strcmp(optarg, "6") || !strcmp(optarg, "both");
			if (!o->v4 && !o->v6)
				goto bad;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			goto bad;
		}
		if (end && *end)
			goto bad;
	}
	if (optind != argc || o->devices == 0 || o->slots == 0)
		goto bad;
	if (o->tap_frames && (o->tap_frames < 64 || o->tap_frames > (1u << 24) ||
			      (o->tap_frames & (o->tap_frames - 1)))) {
		fprintf(stderr, "fleetsim: --tap-frames must be 0 or a power of 2 from 64\n");
		goto bad;
	}
	if (o->replies && !o->tap_frames) {
		fprintf(stderr, "fleetsim: --replies needs the wire tap (--tap-frames > 0)\n");
		goto bad;
	}
	if ((o->base & FS_NETMASK) != FS_NET ||
	    (uint64_t)(o->base & ~FS_NETMASK) + o->devices > (uint64_t)~FS_NETMASK + 1) {
		fprintf(stderr, "fleetsim: --base .. base+N-1 must lie inside 198.18.0.0/15\n");
		return -ERANGE;
	}
	if (o->base <= 0xc613fffeu && 0xc613fffeu - o->base < o->devices) {
		fprintf(stderr, "fleetsim: the range must not include " FS_IFADDR
				" (the TUN's own address)\n");
		return -ERANGE;
	}
	return 0;
bad:
	usage(stderr);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t block, empty;
	struct sim sm = {0};
	uint64_t end_ns = 0;
	int ret;

	if (parse_opts(argc, argv, &sm.o))
		return 2;
	sm.devs = calloc(sm.o.devices, sizeof(*sm.devs));
	sm.heap = calloc((size_t)sm.o.slots + FS_SNMP_SLOTS, sizeof(*sm.heap));
	sm.bufs = malloc((size_t)sm.o.slots * FS_SLOT_BYTES);
	sm.lens = calloc(sm.o.slots, sizeof(*sm.lens));
	sm.free_slots = calloc(sm.o.slots, sizeof(*sm.free_slots));
	sm.snmp_req = fs_snmp_req_new();
	sm.snmp_bufs = malloc((size_t)FS_SNMP_SLOTS * FS_SNMP_SLOT_BYTES);
	sm.snmp_lens = calloc(FS_SNMP_SLOTS, sizeof(*sm.snmp_lens));
	sm.snmp_free = calloc(FS_SNMP_SLOTS, sizeof(*sm.snmp_free));
	sm.slot_req_ns = calloc(sm.o.slots, sizeof(*sm.slot_req_ns));
	sm.slot_k = calloc(sm.o.slots, sizeof(*sm.slot_k));
	sm.settle = calloc(sm.o.slots, sizeof(*sm.settle));
	sm.late_hist = calloc(FS_LATE_BUCKETS, sizeof(*sm.late_hist));
	sm.recbuf = malloc((size_t)FS_REC_BUF * FS_REC_BYTES);
	if (!sm.devs || !sm.heap || !sm.bufs || !sm.lens || !sm.free_slots || !sm.snmp_req ||
	    !sm.snmp_bufs || !sm.snmp_lens || !sm.snmp_free || !sm.slot_req_ns || !sm.slot_k ||
	    !sm.settle || !sm.late_hist || !sm.recbuf) {
		fprintf(stderr, "fleetsim: out of memory\n");
		return 3;
	}
	/* touch every page now so no reply waits on a page fault */
	memset(sm.bufs, 0, (size_t)sm.o.slots * FS_SLOT_BYTES);
	memset(sm.heap, 0, ((size_t)sm.o.slots + FS_SNMP_SLOTS) * sizeof(*sm.heap));
	memset(sm.snmp_bufs, 0, (size_t)FS_SNMP_SLOTS * FS_SNMP_SLOT_BYTES);
	memset(sm.settle, 0, (size_t)sm.o.slots * sizeof(*sm.settle));
	memset(sm.recbuf, 0, (size_t)FS_REC_BUF * FS_REC_BYTES);
	for (uint32_t i = 0; i < sm.o.slots; i++)
		sm.free_slots[i] = sm.o.slots - 1 - i;
	sm.nfree = sm.o.slots;
	for (uint32_t i = 0; i < FS_SNMP_SLOTS; i++)
		sm.snmp_free[i] = FS_SNMP_SLOTS - 1 - i;
	sm.snmp_nfree = FS_SNMP_SLOTS;
	fs_snmp_init();

	sm.tun = tun_open();
	if (sm.tun < 0) {
		fprintf(stderr, "fleetsim: TUN: %s (run as root inside unshare -n)\n",
			strerror(-sm.tun));
		return 3;
	}
	ret = net_setup(&sm.o);
	if (ret) {
		fprintf(stderr, "fleetsim: cannot configure %s (is this a private netns?)\n",
			FS_IFNAME);
		return 3;
	}
	if (sm.o.tap_frames) {
		ret = fs_wire_open(&sm.wire, FS_IFNAME, sm.o.tap_frames);
		if (ret) {
			fprintf(stderr, "fleetsim: wire tap on %s: %s\n", FS_IFNAME,
				strerror(-ret));
			return 3;
		}
	}
	if (sm.o.replies) {
		static const uint8_t hdr[16] = {'f',	      's', 'r', 'e', 'p', 'l', 'y', '1',
						FS_REC_BYTES, 0,   0,	0,   0,	  0,   0,   0};

		sm.rec = fopen(sm.o.replies, "wb");
		if (!sm.rec || fwrite(hdr, 1, sizeof(hdr), sm.rec) != sizeof(hdr)) {
			fprintf(stderr, "fleetsim: --replies %s: %s\n", sm.o.replies,
				strerror(errno));
			return 3;
		}
	}
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	sm.start_ns = now_ns();
	dev_init(&sm);
	if (sm.o.duration > 0)
		end_ns = sm.start_ns + (uint64_t)(sm.o.duration * 1e9);
	printf("ready\n");
	fflush(stdout);

	while (!stop_flag) {
		struct pollfd pfd = {.fd = sm.tun, .events = POLLIN};
		struct timespec ts, *tsp = NULL;
		uint64_t now = now_ns(), wake = UINT64_MAX;

		if (sm.wire)
			fs_wire_poll(sm.wire);
		send_due(&sm, now);
		if (end_ns && now >= end_ns)
			break;
		if (dump_flag) {
			dump_flag = 0;
			write_truth(&sm);
		}
		if (sm.nheap)
			wake = sm.heap[0].due_ns;
		if (end_ns && end_ns < wake)
			wake = end_ns;
		if (wake != UINT64_MAX) {
			uint64_t d = wake > now ? wake - now : 0;

			/* VM timer wake-ups run 0.1-2 ms late: sleep short and poll the rest */
			d = d > sm.o.spin_ns ? d - sm.o.spin_ns : 0;

			ts.tv_sec = (time_t)(d / 1000000000u);
			ts.tv_nsec = (long)(d % 1000000000u);
			tsp = &ts;
		}
		ret = ppoll(&pfd, 1, tsp, &empty);
		if (ret > 0 && (pfd.revents & POLLIN))
			receive_batch(&sm);
	}
	ret = write_truth(&sm);
	if (ret)
		fprintf(stderr, "fleetsim: truth %s: %s\n", sm.o.truth, strerror(-ret));
	if (sm.rec && (fclose(sm.rec) || sm.rec_errors)) {
		fprintf(stderr, "fleetsim: --replies %s: write failed\n", sm.o.replies);
		ret = ret ? ret : -EIO;
	}
	fs_wire_close(sm.wire);
	close(sm.tun);
	free(sm.slot_req_ns);
	free(sm.slot_k);
	free(sm.settle);
	free(sm.late_hist);
	free(sm.recbuf);
	free(sm.devs);
	free(sm.heap);
	free(sm.bufs);
	free(sm.lens);
	free(sm.free_slots);
	fs_snmp_req_free(sm.snmp_req);
	free(sm.snmp_bufs);
	free(sm.snmp_lens);
	free(sm.snmp_free);
	return ret ? 3 : 0;
}
