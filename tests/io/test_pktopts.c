/* The echo requests' packet options on the wire (issues 15 and 16): payload size,
 * random fill, TTL / hop limit, TOS / traffic class, DF / IPV6_DONTFRAG, source
 * address, SO_BINDTODEVICE and SO_MARK, each set through a shard (struct
 * rp_shard_conf.pkt, what rp_prober_create fills from struct rp_prober_conf) and seen
 * in the packets a capture socket (AF_PACKET, every interface) takes off the wire;
 * the mark by an nftables rule counting `meta mark`. Every case runs on both backends
 * (io_uring, mmsg) and both ICMP modes (raw, dgram): datagram sockets honour every
 * option. The replies' TTL / hop limit (struct rp_probe_result.ttl) is the kernel's
 * default, 64, for 127.0.0.1 and ::1.
 *
 * Each test runs in its own process (Criterion forks one per test), in a network
 * namespace of its own with lo up, and sends only to 127.0.0.0/8, ::1, and (through
 * veth pairs made here, answered by no one) 198.18.0.0/15 and 2001:2::/48. Root is
 * needed (CAP_NET_RAW, CAP_NET_ADMIN, CAP_SYS_ADMIN for unshare); without it the
 * tests are skipped, never passed. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/shard.h"
#include "io_cr.h"
#include "io_test.h"
#include "ringprobe/conf.h"
#include "ringprobe/icmp.h"
#include "ringprobe/prober.h"
#include "ringprobe/spsc.h"

#define MS 1000000ull
#define CAP_BUF 70000

static const struct rp_siphash_key key = {0x706b746f70747321ull, 0x0123456789abcdefull};

static const struct combo {
	int backend, mode;
	const char *name;
} combos[] = {
    {RP_BACKEND_URING, RP_ICMP_RAW, "uring/raw"},
    {RP_BACKEND_URING, RP_ICMP_DGRAM, "uring/dgram"},
    {RP_BACKEND_MMSG, RP_ICMP_RAW, "mmsg/raw"},
    {RP_BACKEND_MMSG, RP_ICMP_DGRAM, "mmsg/dgram"},
};

/* --- The capture: every packet of every interface, from its IP header on. ---- */

static int cap_open(void)
{
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	int big = 16 << 20;

	cr_assert_geq(fd, 0, "AF_PACKET socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	return fd;
}

/* One echo request seen leaving (or its first fragment). */
struct seen {
	int ifindex;
	struct rp_ip src, dst;
	uint8_t ttl, tos;
	bool df, frag;	/* IPv4 DF; a fragment (IPv4 MF, or an IPv6 fragment header) */
	uint16_t ip_id; /* IPv4 identification */
	size_t ip_len;	/* IPv4 total length / IPv6 payload length (of this packet) */
	uint8_t fill[16];
	bool fill_zero; /* every fill byte this packet holds is 0 */
};

static void fill_of(struct seen *s, const uint8_t *icmp, size_t n)
{
	s->fill_zero = true;
	for (size_t i = RP_ICMP_MIN_LEN; i < n; i++) {
		if (i - RP_ICMP_MIN_LEN < sizeof(s->fill))
			s->fill[i - RP_ICMP_MIN_LEN] = icmp[i];
		s->fill_zero &= icmp[i] == 0;
	}
}

/* Reads what the capture holds; keeps the outgoing echo requests to dst, or to any
 * address when it is NULL (first fragments included). Returns how many, at most max. */
static unsigned cap_read(int fd, const struct rp_ip *dst, struct seen *out, unsigned max)
{
	static uint8_t b[CAP_BUF];
	unsigned n = 0;

	for (;;) {
		struct sockaddr_ll ll;
		socklen_t sl = sizeof(ll);
		ssize_t len = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&ll, &sl);
		struct seen s = {.ifindex = ll.sll_ifindex};
		const uint8_t *icmp;
		size_t ilen;

		if (len < 0)
			break;
		if (ll.sll_pkttype != PACKET_OUTGOING || n >= max)
			continue;
		if (ntohs(ll.sll_protocol) == ETH_P_IP && len >= 28 && (b[0] >> 4) == 4) {
			size_t ihl = (size_t)(b[0] & 15) * 4;
			uint16_t frag = (uint16_t)(b[6] << 8 | b[7]);

			s.src = rp_ip_v4((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
					 (uint32_t)b[14] << 8 | b[15]);
			s.dst = rp_ip_v4((uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 |
					 (uint32_t)b[18] << 8 | b[19]);
			if (b[9] != IPPROTO_ICMP || (dst && !rp_ip_eq(dst, &s.dst)) ||
			    (frag & 0x1fff) || (size_t)len < ihl + RP_ICMP_MIN_LEN || b[ihl] != 8)
				continue;
			s.ttl = b[8];
			s.tos = b[1];
			s.df = frag & 0x4000;
			s.ip_id = (uint16_t)(b[4] << 8 | b[5]);
			s.frag = frag & 0x2000;
			s.ip_len = (size_t)(b[2] << 8 | b[3]);
			icmp = b + ihl;
			ilen = (size_t)len - ihl;
		} else if (ntohs(ll.sll_protocol) == ETH_P_IPV6 && len >= 48 && (b[0] >> 4) == 6) {
			size_t off = 40;
			uint8_t nh = b[6];

			memcpy(s.dst.b, b + 24, 16);
			if (dst && !rp_ip_eq(dst, &s.dst))
				continue;
			if (nh == 44) { /* a fragment header: the first fragment only */
				if ((b[42] << 8 | b[43]) & 0xfff8)
					continue;
				nh = b[40];
				off = 48;
				s.frag = true;
			}
			if (nh != 58 || (size_t)len < off + RP_ICMP_MIN_LEN || b[off] != 128)
				continue;
			memcpy(s.src.b, b + 8, 16);
			s.ttl = b[7];
			s.tos = (uint8_t)((b[0] & 15) << 4 | b[1] >> 4);
			s.ip_len = (size_t)(b[4] << 8 | b[5]);
			icmp = b + off;
			ilen = (size_t)len - off;
		} else {
			continue;
		}
		fill_of(&s, icmp, ilen);
		out[n++] = s;
	}
	return n;
}

/* --- A shard probing one address `count` times ----------------------------- */

struct outcome {
	uint32_t results, ok;
	uint8_t ttl[8]; /* of the first successful results */
	struct rp_shard_stats st;
	struct rp_engine_info info;
};

/* Profile 0's payload when not 0 (struct rp_shard_conf.payload0): smaller than pk's,
 * which is then the largest another profile (a group) sends. */
static uint32_t run_payload0;

static int run(const struct combo *cb, const struct rp_engine_pkt *pk, const struct rp_ip *dst,
	       uint32_t count, struct outcome *o, char *why, size_t whylen)
{
	struct rp_shard_conf sc = {.index = 0,
				   .capacity = 4,
				   .timeout_ns = 300 * MS,
				   .burst = 1,
				   .tick_ns = 5 * MS,
				   .result_ring = 64,
				   .cmd_ring = 64,
				   .key = key,
				   .backend = cb->backend,
				   .icmp_mode = cb->mode,
				   .feature_mask = RP_FEAT_ALL,
				   .send_slots = 16,
				   .recv_bufs = 64,
				   .rcvbuf_bytes = 4 << 20,
				   .ident = 0x7070,
				   .payload0 = run_payload0,
				   .pkt = *pk};
	struct rp_shard_dev d = {
	    .addr = *dst, .id = 1, .interval_ms = 20, .count = count, .immediate = true};
	struct rp_shard *s;
	int rc;

	memset(o, 0, sizeof(*o));
	rc = rp_shard_create(&s, &sc, why, whylen);
	if (rc < 0)
		return rc;
	rp_shard_engine_info(s, &o->info);
	cr_assert_eq(rp_shard_add(s, &d), 0);
	cr_assert_eq(rp_shard_start(s), 0);
	for (int i = 0; i < 400 && o->results < count; i++) {
		struct rp_probe_result r[8];
		uint32_t n = rp_spsc_pop(rp_shard_results(s), r, 8);

		for (uint32_t j = 0; j < n; j++) {
			if (r[j].success && o->ok < sizeof(o->ttl))
				o->ttl[o->ok] = r[j].ttl;
			o->ok += r[j].success;
			o->results++;
		}
		if (!n)
			usleep(5000);
	}
	rp_shard_stop(s);
	rp_shard_stats(s, &o->st);
	rp_shard_destroy(s);
	return 0;
}

/* Runs a combination that must start, and says which one ran. */
static void run_ok(const struct combo *cb, const struct rp_engine_pkt *pk, const struct rp_ip *dst,
		   uint32_t count, struct outcome *o)
{
	char why[512];
	int rc = run(cb, pk, dst, count, o, why, sizeof(why));

	cr_assert_eq(rc, 0, "%s: shard: %s", cb->name, why);
	cr_assert_eq(o->info.backend, cb->backend, "%s", cb->name);
	cr_assert_eq(o->info.icmp_mode, cb->mode, "%s", cb->name);
}

/* Every option but the interface and DF, one family; then the same without options:
 * the kernel's defaults and a zero fill. */
static void options_case(const char *target, const char *source, uint8_t ttl, uint8_t tos)
{
	struct rp_ip dst = ip_of(target), src = ip_of(source);
	bool v4 = rp_ip_is_v4(&dst);

	for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
		struct rp_engine_pkt pk = {.payload_len = 100,
					   .ttl = ttl,
					   .tos = tos,
					   .random_payload = true,
					   .source = {src},
					   .fwmark = 0x2a};
		struct seen s[8];
		struct outcome o;
		int fd = cap_open();
		unsigned n;

		run_ok(&combos[c], &pk, &dst, 3, &o);
		n = cap_read(fd, &dst, s, 8);
		cr_log_info("%s %s: %u results, %u ok, %u requests seen", combos[c].name, target,
			    o.results, o.ok, n);
		cr_expect_eq(o.ok, 3, "%s: %u of 3 replies valid", combos[c].name, o.ok);
		cr_expect_eq(n, 3, "%s: %u requests on the wire", combos[c].name, n);
		for (unsigned i = 0; i < n; i++) {
			cr_expect_eq(s[i].ttl, ttl, "%s: TTL %u", combos[c].name, s[i].ttl);
			cr_expect_eq(s[i].tos, tos, "%s: TOS %#x", combos[c].name, s[i].tos);
			cr_expect(rp_ip_eq(&s[i].src, &src), "%s: not from %s", combos[c].name,
				  source);
			cr_expect_eq(s[i].ip_len, (v4 ? 20u : 0u) + 8 + 100, "%s: length %zu",
				     combos[c].name, s[i].ip_len);
			cr_expect(!s[i].fill_zero, "%s: the fill is not random", combos[c].name);
			cr_expect(!memcmp(s[i].fill, s[0].fill, sizeof(s[0].fill)),
				  "%s: the fill differs between requests", combos[c].name);
		}
		for (unsigned i = 0; i < o.ok && i < 3; i++)
			cr_expect_eq(o.ttl[i], 64,
				     "%s: reply TTL/hop limit %u, not the kernel's 64",
				     combos[c].name, o.ttl[i]);
		close(fd);

		/* No options: the kernel's defaults on the wire, zeros after our fields. */
		pk = (struct rp_engine_pkt){0};
		fd = cap_open();
		run_ok(&combos[c], &pk, &dst, 1, &o);
		n = cap_read(fd, &dst, s, 8);
		cr_expect_eq(o.ok, 1, "%s: plain probe unanswered", combos[c].name);
		cr_expect_eq(n, 1, "%s: %u plain requests seen", combos[c].name, n);
		if (n) {
			cr_expect_eq(s[0].ttl, 64, "%s: default TTL %u", combos[c].name, s[0].ttl);
			cr_expect_eq(s[0].tos, 0, "%s: default TOS %#x", combos[c].name, s[0].tos);
			cr_expect_eq(s[0].ip_len, (v4 ? 20u : 0u) + RP_ICMP_PKT_LEN);
			cr_expect(s[0].fill_zero, "%s: the default fill is not zeros",
				  combos[c].name);
		}
		for (unsigned i = 0; i < o.ok && i < 1; i++)
			cr_expect_eq(o.ttl[i], 64, "%s: reply TTL %u", combos[c].name, o.ttl[i]);
		close(fd);
	}
}

/* An nftables counter of the echo requests leaving with mark 42. */
static void mark_counter(void)
{
	sh("nft add table inet pkt && nft add chain inet pkt out '{ type filter hook output "
	   "priority 0; }' && nft add rule inet pkt out meta mark 42 meta l4proto '{ icmp, "
	   "ipv6-icmp }' counter");
}

static unsigned long mark_count(void)
{
	char *out = NULL, *p;
	unsigned long n = 0;

	cr_assert_eq(sup_run("nft list chain inet pkt out", 0, &out, NULL), 0);
	p = strstr(out, "packets ");
	cr_assert_not_null(p, "no counter in: %s", out);
	n = strtoul(p + 8, NULL, 10);
	free(out);
	return n;
}

Test(pktopts, ipv4_ttl_tos_size_source_mark_random_and_reply_ttl)
{
	io_netns_ping();
	mark_counter();
	/* 127.0.0.0/8 is all this host's: 127.0.0.2 is a source like any other. */
	options_case("127.0.0.1", "127.0.0.2", 7, 0xb8);
	/* 3 marked requests per combination; the 1 plain one each is not counted. */
	cr_expect_eq(mark_count(), 3 * RP_ARRAY_SIZE(combos), "SO_MARK: %lu marked requests",
		     mark_count());
}

Test(pktopts, ipv6_hops_tclass_size_source_mark_random_and_reply_hop_limit)
{
	io_netns_ping();
	mark_counter();
	/* A second local address on lo to send from (nodad: usable at once). */
	sh("ip -6 addr add 2001:2::5/128 dev lo nodad");
	options_case("::1", "2001:2::5", 9, 0xb8);
	cr_expect_eq(mark_count(), 3 * RP_ARRAY_SIZE(combos), "SO_MARK: %lu marked requests",
		     mark_count());
}

/* DF on a link of 1,500 bytes: a 2,000-byte payload is fragmented without it (and
 * answered: the reply, longer than the 2 KiB receive buffer, validated by our fields
 * alone), refused by the kernel with it (a send error; nothing leaves). Small requests
 * carry the DF bit (IPv4; IPv6 has no such bit, routers never fragment). */
static void df_case(const char *target)
{
	struct rp_ip dst = ip_of(target);
	bool v4 = rp_ip_is_v4(&dst);

	sh("ip link set lo mtu 1500");
	for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
		struct rp_engine_pkt big = {.payload_len = 2000};
		struct seen s[8];
		struct outcome o;
		int fd = cap_open();
		unsigned n;

		run_ok(&combos[c], &big, &dst, 1, &o);
		n = cap_read(fd, &dst, s, 8);
		cr_expect_eq(o.ok, 1, "%s: fragmented request not answered", combos[c].name);
		cr_expect(n == 1 && s[0].frag && !s[0].df, "%s: %u first fragments seen",
			  combos[c].name, n);
		cr_expect_eq(o.st.send_errors, 0);
		close(fd);

		big.dont_fragment = true;
		fd = cap_open();
		run_ok(&combos[c], &big, &dst, 1, &o);
		n = cap_read(fd, &dst, s, 8);
		cr_expect_eq(o.ok, 0, "%s: a DF request over the MTU was answered", combos[c].name);
		cr_expect_eq(n, 0, "%s: %u DF requests over the MTU left", combos[c].name, n);
		cr_expect_eq(o.st.send_errors, 1, "%s: %llu send errors (EMSGSIZE expected)",
			     combos[c].name, (unsigned long long)o.st.send_errors);
		close(fd);

		big = (struct rp_engine_pkt){.dont_fragment = true};
		fd = cap_open();
		run_ok(&combos[c], &big, &dst, 1, &o);
		n = cap_read(fd, &dst, s, 8);
		cr_expect_eq(o.ok, 1, "%s: small DF request not answered", combos[c].name);
		cr_expect(n == 1 && s[0].df == v4 && !s[0].frag, "%s: DF bit not set",
			  combos[c].name);
		close(fd);
	}
}

Test(pktopts, ipv4_dont_fragment)
{
	io_netns_ping();
	df_case("127.0.0.1");
}

Test(pktopts, ipv6_dont_fragment)
{
	io_netns_ping();
	df_case("::1");
}

/* Four requests to 127.0.0.1 through combo c, captured: how many left with IP ID 0
 * (each one answered, with DF and unfragmented, `len` IP bytes long). */
static unsigned ids_zero(const struct combo *c, const struct rp_engine_pkt *pk, size_t len)
{
	struct rp_ip dst = ip_of("127.0.0.1");
	struct seen s[8];
	struct outcome o;
	int fd = cap_open();
	unsigned n, zero = 0;

	run_ok(c, pk, &dst, 4, &o);
	n = cap_read(fd, &dst, s, 8);
	close(fd);
	cr_expect_eq(o.ok, 4, "%s, %zu bytes: %u of 4 answered", c->name, len, o.ok);
	cr_expect_eq(n, 4, "%s, %zu bytes: %u requests seen", c->name, len, n);
	for (unsigned i = 0; i < n; i++) {
		cr_expect(s[i].df && !s[i].frag, "%s, %zu bytes: DF not set", c->name, len);
		cr_expect_eq(s[i].ip_len, len, "%s: a %zu-byte request, %zu expected", c->name,
			     s[i].ip_len, len);
		zero += s[i].ip_id == 0;
	}
	return n == 4 ? zero : UINT32_MAX;
}

/* Without dont_fragment, an IPv4 request of up to 552 bytes (the default's 84, and a
 * 524-byte payload) leaves as the kernel's default sends it, with DF, but with IP ID
 * 0 (IP_PMTUDISC_PROBE: the kernel computes no ID); a 525-byte payload (553 bytes)
 * keeps the kernel's default, IDs from __ip_select_ident: of 4 requests to one
 * address, not all 0. Every one is answered. */
Test(pktopts, ipv4_small_requests_leave_with_df_and_id_0)
{
	static const struct {
		uint32_t payload;
		bool id0;
	} cases[] = {{0, true}, {524, true}, {525, false}};

	io_netns_ping();
	sh("ip link set lo mtu 1500");
	for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
		for (size_t k = 0; k < RP_ARRAY_SIZE(cases); k++) {
			struct rp_engine_pkt pk = {.payload_len = cases[k].payload};
			uint32_t payload =
			    cases[k].payload ? cases[k].payload : RP_ICMP_PAYLOAD_LEN;
			unsigned zero = ids_zero(&combos[c], &pk, 20u + RP_ICMP_HDR_LEN + payload);

			if (cases[k].id0)
				cr_expect_eq(zero, 4, "%s payload %u: %u of 4 IDs 0",
					     combos[c].name, payload, zero);
			else
				cr_expect_lt(zero, 4, "%s payload %u: every ID 0", combos[c].name,
					     payload);
		}
	}
}

/* The socket is shared by every probe profile: when one (a group's packet_size) sends
 * more than 552 bytes, the default's 84-byte requests keep the kernel's IDs too, so
 * the larger ones can still be fragmented locally. */
Test(pktopts, ipv4_a_large_profile_keeps_the_default_for_all)
{
	io_netns_ping();
	sh("ip link set lo mtu 1500");
	run_payload0 = RP_ICMP_PAYLOAD_LEN;
	for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
		struct rp_engine_pkt pk = {.payload_len = 2000};
		unsigned zero = ids_zero(&combos[c], &pk, 20u + RP_ICMP_PKT_LEN);

		cr_expect_lt(zero, 4, "%s: every ID 0", combos[c].name);
	}
	run_payload0 = 0;
}

/* The largest payload (65,507 bytes: a 65,535-byte IPv4 datagram, within lo's MTU of
 * 65,536) and the smallest (40: the probe's fields alone) are answered and
 * validated, in both families; one byte less is refused at create, naming the size. */
Test(pktopts, payload_extremes)
{
	const char *targets[] = {"127.0.0.1", "::1"};
	const uint32_t sizes[] = {RP_ICMP_PAYLOAD_MAX, RP_ICMP_PAYLOAD_MIN};

	io_netns_ping();
	for (size_t t = 0; t < 2; t++) {
		struct rp_ip dst = ip_of(targets[t]);

		for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
			for (size_t z = 0; z < 2; z++) {
				struct rp_engine_pkt pk = {.payload_len = sizes[z],
							   .random_payload = true};
				struct seen s[4];
				struct outcome o;
				int fd = cap_open();
				unsigned n;

				run_ok(&combos[c], &pk, &dst, 2, &o);
				n = cap_read(fd, &dst, s, 4);
				cr_expect_eq(o.ok, 2, "%s %s payload %u: %u of 2 answered",
					     combos[c].name, targets[t], sizes[z], o.ok);
				cr_expect_eq(n, 2);
				/* ICMPv6 at 65,507: 65,555 bytes with its header, more than
				 * lo's MTU: fragmented (the first fragment is seen). */
				for (unsigned i = 0; i < n; i++)
					cr_expect(s[i].frag || s[i].ip_len == (t ? 0u : 20u) +
										  RP_ICMP_HDR_LEN +
										  sizes[z],
						  "%s %s payload %u: length %zu", combos[c].name,
						  targets[t], sizes[z], s[i].ip_len);
				cr_expect_eq(o.st.invalid[RP_REPLY_CORRUPTED], 0);
				/* The kernel's copy of a large request (longer than the
				 * stamp buffer) is still found by its header and magic. */
				cr_expect_gt(o.st.tx_stamped, 0,
					     "%s %s payload %u: no transmit stamp", combos[c].name,
					     targets[t], sizes[z]);
				close(fd);
			}
		}
	}
}

Test(pktopts, payload_below_fields_refused)
{
	struct rp_engine_conf c = {.backend = RP_BACKEND_MMSG,
				   .icmp_mode = RP_ICMP_DGRAM,
				   .send_slots = 16,
				   .recv_bufs = 16,
				   .pkt = {.payload_len = RP_ICMP_PAYLOAD_MIN - 1}};
	struct rp_engine *e = NULL;
	char why[256];

	cr_assert_eq(rp_engine_create(&e, &c, why, sizeof(why)), -EINVAL);
	cr_expect_not_null(strstr(why, "39 bytes"), "%s", why);
	cr_expect_not_null(strstr(why, "MAC"), "%s", why);
	c.pkt.payload_len = RP_ICMP_PAYLOAD_MAX + 1;
	cr_assert_eq(rp_engine_create(&e, &c, why, sizeof(why)), -EINVAL);
	cr_expect_not_null(strstr(why, "65508"), "%s", why);
}

/* SO_BINDTODEVICE: two veth pairs; 198.18.1.0/24 and 2001:2:1::/64 are routed by va0,
 * and by vb0 at a worse metric. Unbound, a request to .2 leaves by va0; bound to vb0,
 * by vb0. Static neighbours stand in for the peer, which never answers. */
Test(pktopts, interface_binds_the_way_out)
{
	const char *targets[] = {"198.18.1.2", "2001:2:1::2"};

	io_netns_ping();
	sh("ip link add va0 type veth peer name va1 && ip link add vb0 type veth peer name vb1 && "
	   "for l in va0 va1 vb0 vb1; do ip link set $l up; done && "
	   "ip addr add 198.18.1.1/24 dev va0 && ip addr add 198.18.2.1/24 dev vb0 && "
	   "ip route add 198.18.1.0/24 dev vb0 metric 2000 && "
	   "ip -6 addr add 2001:2:1::1/64 dev va0 nodad && "
	   "ip -6 addr add 2001:2:2::1/64 dev vb0 nodad && "
	   "ip -6 route add 2001:2:1::/64 dev vb0 metric 2000 && "
	   "for l in va0 vb0; do ip neigh add 198.18.1.2 lladdr 02:00:00:00:00:02 dev $l && "
	   "ip -6 neigh add 2001:2:1::2 lladdr 02:00:00:00:00:02 dev $l; done");
	for (size_t t = 0; t < 2; t++) {
		struct rp_ip dst = ip_of(targets[t]);

		for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
			struct rp_engine_pkt pk = {0};
			struct seen s[4];
			struct outcome o;
			int fd = cap_open();
			unsigned n;

			run_ok(&combos[c], &pk, &dst, 1, &o);
			n = cap_read(fd, &dst, s, 4);
			cr_expect(n == 1 && s[0].ifindex == (int)if_nametoindex("va0"),
				  "%s %s unbound: %u requests, ifindex %d", combos[c].name,
				  targets[t], n, n ? s[0].ifindex : 0);
			close(fd);

			snprintf(pk.interface, sizeof(pk.interface), "vb0");
			fd = cap_open();
			run_ok(&combos[c], &pk, &dst, 1, &o);
			n = cap_read(fd, &dst, s, 4);
			cr_expect(n == 1 && s[0].ifindex == (int)if_nametoindex("vb0"),
				  "%s %s bound to vb0: %u requests, ifindex %d", combos[c].name,
				  targets[t], n, n ? s[0].ifindex : 0);
			close(fd);
		}
	}
}

/* A refused option fails the start and names itself: a source that is not this
 * host's, an interface that does not exist. */
Test(pktopts, refused_options_are_named)
{
	struct rp_ip dst = ip_of("127.0.0.1");

	io_netns_ping();
	for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
		struct rp_engine_pkt pk = {.source = {ip_of("198.18.9.9")}};
		struct outcome o;
		char why[512];

		cr_expect_eq(run(&combos[c], &pk, &dst, 1, &o, why, sizeof(why)), -EADDRNOTAVAIL,
			     "%s", combos[c].name);
		cr_expect_not_null(strstr(why, "bind (source_address)"), "%s: %s", combos[c].name,
				   why);
		pk = (struct rp_engine_pkt){.source = {ip_of("2001:2:9::9")}};
		cr_expect_eq(run(&combos[c], &pk, &dst, 1, &o, why, sizeof(why)), -EADDRNOTAVAIL,
			     "%s", combos[c].name);
		cr_expect_not_null(strstr(why, "ICMPv6"), "%s: %s", combos[c].name, why);
		pk = (struct rp_engine_pkt){.interface = "nosuch0"};
		cr_expect_eq(run(&combos[c], &pk, &dst, 1, &o, why, sizeof(why)), -ENODEV, "%s",
			     combos[c].name);
		cr_expect_not_null(strstr(why, "SO_BINDTODEVICE (interface)"), "%s: %s",
				   combos[c].name, why);
	}
}

/* The configuration's keys fill what the command line left zero (no root needed). */
Test(pktopts, conf_fills_prober_packet_fields)
{
	struct rp_conf c;
	struct rp_diags d;
	struct rp_prober_conf pc = {0};
	struct rp_ip v6 = ip_of("2001:db8::1"), v4 = ip_of("192.0.2.1"), v4b = ip_of("192.0.2.9");
	static const char yml[] = "packet_size: 1000\nttl: 5\ntos: 32\ndont_fragment: true\n"
				  "source_address: [2001:db8::1, 192.0.2.1]\ninterface: eth1\n"
				  "fwmark: 4294967295\n";

	rp_conf_init(&c);
	rp_diags_init(&d);
	cr_assert_eq(rp_conf_load_buffer(&c, "t.yml", yml, sizeof(yml) - 1, &d), 0);
	rp_conf_validate(&c, RP_CONF_FOR_PING, &d);
	cr_assert_eq(d.errors, 0);
	rp_prober_conf_packet(&pc, &c);
	cr_expect_eq(pc.payload_len, 1000);
	cr_expect_eq(pc.ttl, 5);
	cr_expect_eq(pc.tos, 32);
	cr_expect(pc.dont_fragment);
	cr_expect(rp_ip_eq(&pc.source, &v6));
	cr_expect(rp_ip_eq(&pc.source2, &v4));
	cr_expect_str_eq(pc.interface, "eth1");
	cr_expect_eq(pc.fwmark, 4294967295u);

	/* What a flag set first is kept: fping -S 192.0.2.9 -H 3. */
	pc = (struct rp_prober_conf){.ttl = 3, .source = v4b};
	rp_prober_conf_packet(&pc, &c);
	cr_expect_eq(pc.ttl, 3);
	cr_expect(rp_ip_eq(&pc.source, &v4b));
	cr_expect(rp_ip_eq(&pc.source2, &v6));
	rp_conf_fini(&c);
	rp_diags_fini(&d);
}

struct bad {
	const char *yml, *error;
};

Test(pktopts, conf_refuses_bad_packet_keys)
{
	static const struct bad bad[] = {
	    {"packet_size: 39\n", "packet_size: 39 is below 40: the first 40 payload bytes are "
				  "the probe's own fields"},
	    {"packet_size: 0\n", "packet_size: 0 is below 40"},
	    {"packet_size: 65508\n", "65508 is out of range (0..65507)"},
	    {"ttl: 256\n", "ttl: 256 is out of range (0..255)"},
	    {"tos: -1\n", "tos: -1 is out of range (0..255)"},
	    {"fwmark: 4294967296\n", "4294967296 is out of range"},
	    {"source_address: [192.0.2.1, 192.0.2.2]\n", "a second IPv4 address"},
	    {"source_address: [2001:db8::/120]\n", "is a network"},
	    {"source_address: [0.0.0.0]\n", "unspecified"},
	    {"interface: abcdefghijklmnop\n", "not an interface name"},
	    {"interface: a/b\n", "not an interface name"},
	};

	for (size_t i = 0; i < RP_ARRAY_SIZE(bad); i++) {
		struct rp_conf c;
		struct rp_diags d;
		char all[2048] = "";
		size_t off = 0;

		rp_conf_init(&c);
		rp_diags_init(&d);
		rp_conf_load_buffer(&c, "t.yml", bad[i].yml, strlen(bad[i].yml), &d);
		rp_conf_validate(&c, RP_CONF_FOR_PING, &d);
		for (size_t j = 0; j < d.n && off < sizeof(all); j++) {
			rp_diag_format(&d.v[j], all + off, sizeof(all) - off);
			off += strlen(all + off);
		}
		cr_expect(d.errors > 0, "%s accepted", bad[i].yml);
		cr_expect_not_null(strstr(all, bad[i].error), "%s: got %s", bad[i].yml, all);
		rp_conf_fini(&c);
		rp_diags_fini(&d);
	}
}

/* Through the prober (what ping, sweep and the daemon create): struct rp_prober_conf's
 * packet fields reach every shard's sockets, one source per family included. */
struct prober_tally {
	uint32_t next, got[2], ok[2], ttl[2];
};

static bool prober_next(void *arg, struct rp_shard_dev *d)
{
	struct prober_tally *t = arg;

	if (t->next == 2)
		return false;
	*d = (struct rp_shard_dev){.addr = ip_of(t->next ? "::1" : "127.0.0.1"),
				   .id = t->next,
				   .interval_ms = 20,
				   .count = 2,
				   .immediate = true};
	t->next++;
	return true;
}

static bool prober_take(void *arg, const struct rp_probe_result *r)
{
	struct prober_tally *t = arg;

	t->ok[r->id] += r->success;
	if (r->success)
		t->ttl[r->id] = r->ttl;
	return ++t->got[r->id] == 2;
}

Test(pktopts, prober_conf_reaches_every_shard)
{
	const char *targets[] = {"127.0.0.1", "::1"}, *sources[] = {"127.0.0.3", "2001:2::5"};

	io_netns_ping();
	sh("ip -6 addr add 2001:2::5/128 dev lo nodad");
	for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
		struct rp_prober_conf pc = {.shards = 2,
					    .capacity = 8,
					    .timeout_ns = 300 * MS,
					    .tick_ns = 5 * MS,
					    .burst = 1,
					    .backend = combos[c].backend,
					    .icmp_mode = combos[c].mode,
					    .feature_mask = RP_FEAT_ALL,
					    .payload_len = 200,
					    .ttl = 11,
					    .tos = 0x20,
					    .source = ip_of(sources[1]),
					    .source2 = ip_of(sources[0]),
					    .interface = "lo",
					    .fwmark = 7,
					    .random_payload = true};
		struct prober_tally t = {0};
		struct rp_prober *p;
		struct seen s[8];
		unsigned n;
		char why[512];
		int fd = cap_open();
		pid_t pid;
		int status;

		/* The start drops every capability: in a child, so the next combination
		 * (and the capture) keep theirs. */
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			if (rp_prober_create(&p, &pc, why, sizeof(why)) < 0 ||
			    rp_prober_start(p, NULL, why, sizeof(why)) < 0) {
				fprintf(stderr, "%s: %s\n", combos[c].name, why);
				_exit(3);
			}
			if (rp_prober_run(p, prober_next, prober_take, NULL, &t) < 0)
				_exit(4);
			rp_prober_destroy(p);
			_exit(t.ok[0] == 2 && t.ok[1] == 2 && t.ttl[0] == 64 && t.ttl[1] == 64 ? 0
											       : 5);
		}
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_expect(
		    WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "%s: prober child status %#x (3 start, 4 lost, 5 unanswered or TTL not 64)",
		    combos[c].name, status);
		n = cap_read(fd, NULL, s, 8);
		for (size_t f = 0; f < 2; f++) {
			struct rp_ip dst = ip_of(targets[f]), src = ip_of(sources[f]);
			unsigned seen = 0;

			for (unsigned i = 0; i < n; i++) {
				if (!rp_ip_eq(&s[i].dst, &dst))
					continue;
				seen++;
				cr_expect(s[i].ttl == 11 && s[i].tos == 0x20 &&
					      rp_ip_eq(&s[i].src, &src) && !s[i].fill_zero &&
					      s[i].ip_len == (f ? 0u : 20u) + 8 + 200,
					  "%s %s: ttl %u tos %#x length %zu", combos[c].name,
					  targets[f], s[i].ttl, s[i].tos, s[i].ip_len);
			}
			cr_expect_eq(seen, 2, "%s %s: %u requests", combos[c].name, targets[f],
				     seen);
		}
		close(fd);
	}
}
