/* ICMP build, parse and MAC: every malformed reply kind the parser decides. */
#include <criterion/criterion.h>
#include <string.h>

#include "ringprobe/compiler.h"
#include "ringprobe/icmp.h"

static const struct rp_siphash_key key = {0x0123456789abcdefull, 0xfedcba9876543210ull};
#define MAPPED(o1, o2, o3, o4)                                                                     \
	{                                                                                          \
		.b = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, o1, o2, o3, o4 }                  \
	}
static const struct rp_probe_stamp stamp = {.addr = MAPPED(127, 0, 0, 5),
					    .slot = 12345,
					    .gen = 7,
					    .seq = 70001,
					    .sent_ns = 1732550400123456789ull,
					    .shard = 3};

/* An echo reply as the kernel returns it: the request with type 0 and the checksum fixed. */
static size_t make_reply(unsigned char *buf, bool ip_header, uint16_t ident)
{
	unsigned char *icmp = buf + (ip_header ? 20 : 0);
	uint16_t sum;

	memset(buf, 0, 20);
	rp_icmp_init(icmp, ident);
	rp_icmp_stamp(icmp, &key, &stamp);
	icmp[0] = 0;
	icmp[2] = icmp[3] = 0;
	sum = rp_icmp_checksum(icmp, RP_ICMP_PKT_LEN);
	icmp[2] = (unsigned char)(sum >> 8);
	icmp[3] = (unsigned char)sum;
	if (ip_header) {
		buf[0] = 0x45;
		buf[3] = 20 + RP_ICMP_PKT_LEN; /* total length */
		buf[9] = 1;
	}
	return (ip_header ? 20 : 0) + RP_ICMP_PKT_LEN;
}

static void fix_checksum(unsigned char *icmp, size_t len)
{
	uint16_t sum;

	icmp[2] = icmp[3] = 0;
	sum = rp_icmp_checksum(icmp, len);
	icmp[2] = (unsigned char)(sum >> 8);
	icmp[3] = (unsigned char)sum;
}

Test(icmp, request_is_a_valid_echo_with_payload)
{
	unsigned char pkt[RP_ICMP_PKT_LEN];

	rp_icmp_init(pkt, 0xbeef);
	rp_icmp_stamp(pkt, &key, &stamp);
	cr_assert_eq(pkt[0], 8);
	cr_assert_eq(pkt[1], 0);
	cr_assert_eq(pkt[4] << 8 | pkt[5], 0xbeef);
	cr_assert_eq(pkt[6] << 8 | pkt[7], stamp.seq & 0xffff);
	cr_assert_eq(rp_icmp_checksum(pkt, sizeof(pkt)), 0, "checksum must verify");
	cr_assert_eq(memcmp(pkt + 8, "RPRB", 4), 0);
}

Test(icmp, checksum_matches_rfc1071_example)
{
	/* RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (complement 220d). */
	static const unsigned char data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	static const unsigned char odd[] = {0x01};

	cr_assert_eq(rp_icmp_checksum(data, sizeof(data)), 0x220d);
	cr_assert_eq(rp_icmp_checksum(odd, 1), (uint16_t)~0x0100);
}

Test(icmp, reply_round_trips_with_and_without_ip_header)
{
	unsigned char buf[128];
	struct rp_probe_stamp got;

	for (int ip = 0; ip <= 1; ip++) {
		size_t len = make_reply(buf, ip, 0x1234);

		memset(&got, 0, sizeof(got));
		cr_assert_eq(rp_icmp_parse(buf, len, ip, &stamp.addr, ip ? 0x1234 : -1, &key, &got),
			     RP_REPLY_OK);
		cr_assert(rp_ip_eq(&got.addr, &stamp.addr));
		cr_assert_eq(got.slot, stamp.slot);
		cr_assert_eq(got.gen, stamp.gen);
		cr_assert_eq(got.seq, stamp.seq);
		cr_assert_eq(got.sent_ns, stamp.sent_ns);
		cr_assert_eq(got.shard, stamp.shard);
	}
}

/* Shorter than the header and our fields: truncated. Longer, but short of the whole
 * reply: with the IPv4 header, its total length says the buffer cut the datagram, and
 * the fields and MAC validate it; without, it is a shorter echo whose checksum still
 * holds (the default fill is zeros, which add nothing to the sum). A non-zero fill cut
 * off is CORRUPTED unless the receive buffer said so (every_payload_length_round_trips). */
Test(icmp, truncation_below_the_fields_is_truncated_above_them_the_mac_decides)
{
	unsigned char buf[128];
	struct rp_probe_stamp got;

	for (int ip = 0; ip <= 1; ip++) {
		size_t len = make_reply(buf, ip, 1), fields = (ip ? 20u : 0u) + RP_ICMP_MIN_LEN;

		for (size_t n = 0; n < len; n++) {
			enum rp_reply_kind k =
			    rp_icmp_parse(buf, n, ip, &stamp.addr, ip ? 1 : -1, &key, &got);
			enum rp_reply_kind want = n < fields ? RP_REPLY_TRUNCATED : RP_REPLY_OK;

			cr_expect_eq(k, want, "ip=%d len=%zu gave %s", ip, n,
				     rp_reply_kind_name(k));
			k = rp_icmp_parse_cut(buf, n, ip, &stamp.addr, ip ? 1 : -1, &key, &got);
			cr_expect_eq(k, n < fields ? RP_REPLY_TRUNCATED : RP_REPLY_OK,
				     "cut: ip=%d len=%zu gave %s", ip, n, rp_reply_kind_name(k));
		}
	}
}

/* Any payload length from the fields on, with any fill: built, stamped with the fill's
 * sum, and parsed back; the fill is never read (a cut copy validates alike). */
Test(icmp, every_payload_length_round_trips)
{
	static unsigned char pkt[RP_ICMP_HDR_LEN + RP_ICMP_PAYLOAD_MAX], fill[RP_ICMP_PAYLOAD_MAX];
	const size_t lens[] = {
	    RP_ICMP_MIN_LEN, RP_ICMP_MIN_LEN + 1, RP_ICMP_PKT_LEN, RP_ICMP_PKT_LEN + 3, 1480,
	    sizeof(pkt)};
	struct rp_probe_stamp got;
	uint16_t sum;

	for (size_t i = 0; i < sizeof(fill); i++)
		fill[i] = (unsigned char)(i * 131 + 7);
	for (size_t i = 0; i < RP_ARRAY_SIZE(lens); i++) {
		rp_icmp_init_len(pkt, lens[i], 0x1234, i & 1 ? fill : NULL);
		rp_icmp_stamp_filled(pkt, rp_icmp_fill_sum(pkt, lens[i]), &key, &stamp);
		cr_assert_eq(rp_icmp_checksum(pkt, lens[i]), 0, "len %zu: checksum", lens[i]);
		cr_assert(rp_icmp_peek_request(pkt, lens[i], &got));
		cr_assert_eq(got.seq, stamp.seq);
		pkt[0] = 0; /* as the echo reply */
		pkt[2] = pkt[3] = 0;
		sum = rp_icmp_checksum(pkt, lens[i]);
		pkt[2] = (unsigned char)(sum >> 8);
		pkt[3] = (unsigned char)sum;
		cr_assert_eq(rp_icmp_parse(pkt, lens[i], false, &stamp.addr, -1, &key, &got),
			     RP_REPLY_OK, "len %zu", lens[i]);
		cr_assert_eq(got.slot, stamp.slot);
		cr_assert_eq(
		    rp_icmp_parse_cut(pkt, RP_ICMP_MIN_LEN, false, &stamp.addr, -1, &key, &got),
		    RP_REPLY_OK, "len %zu cut to the fields", lens[i]);
		/* Without its last (non-zero) fill byte and not said to be cut: the sum
		 * fails. */
		if (lens[i] > RP_ICMP_MIN_LEN && pkt[lens[i] - 1])
			cr_assert_eq(
			    rp_icmp_parse(pkt, lens[i] - 1, false, &stamp.addr, -1, &key, &got),
			    RP_REPLY_CORRUPTED, "len %zu less one", lens[i]);
	}
}

Test(icmp, other_types_are_not_echo)
{
	unsigned char buf[128];
	struct rp_probe_stamp got;
	size_t len = make_reply(buf, false, 1);

	buf[0] = 5; /* redirect */
	cr_assert_eq(rp_icmp_parse(buf, len, false, &stamp.addr, -1, &key, &got),
		     RP_REPLY_NOT_ECHO);
	buf[0] = 3; /* destination unreachable whose quote is no IPv4 header */
	cr_assert_eq(rp_icmp_parse(buf, len, false, &stamp.addr, -1, &key, &got), RP_REPLY_FOREIGN);
	buf[0] = 8; /* our own request looped back on a raw socket */
	cr_assert_eq(rp_icmp_parse(buf, len, false, &stamp.addr, -1, &key, &got),
		     RP_REPLY_NOT_ECHO);
	buf[0] = 0;
	buf[1] = 1; /* code must be 0 */
	cr_assert_eq(rp_icmp_parse(buf, len, false, &stamp.addr, -1, &key, &got),
		     RP_REPLY_NOT_ECHO);
}

Test(icmp, foreign_identifier_magic_version_or_ip_are_foreign)
{
	unsigned char buf[128];
	struct rp_probe_stamp got;
	size_t len = make_reply(buf, true, 0x1111);

	cr_assert_eq(rp_icmp_parse(buf, len, true, &stamp.addr, 0x2222, &key, &got),
		     RP_REPLY_FOREIGN);
	len = make_reply(buf, false, 1);
	buf[8] = 'X';
	fix_checksum(buf, len);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &stamp.addr, -1, &key, &got), RP_REPLY_FOREIGN);
	len = make_reply(buf, false, 1);
	buf[8 + 5] = 2; /* payload version */
	fix_checksum(buf, len);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &stamp.addr, -1, &key, &got), RP_REPLY_FOREIGN);
	len = make_reply(buf, true, 1);
	buf[0] = 0x65; /* IPv6 version nibble */
	cr_assert_eq(rp_icmp_parse(buf, len, true, &stamp.addr, 1, &key, &got), RP_REPLY_FOREIGN);
	/* Someone else's short ping (fping's 56-byte payload is longer, but a 12-byte one). */
	len = make_reply(buf, false, 1);
	memcpy(buf + 8, "ping", 4);
	cr_assert_eq(rp_icmp_parse(buf, 12, false, &stamp.addr, -1, &key, &got), RP_REPLY_FOREIGN);
}

Test(icmp, bit_flips_are_corrupted)
{
	unsigned char buf[128];
	struct rp_probe_stamp got;

	for (size_t byte = 8; byte < RP_ICMP_PKT_LEN; byte++) {
		size_t len = make_reply(buf, false, 1);
		enum rp_reply_kind k;

		if (byte >= 8 && byte < 12)
			continue; /* the magic: a flip there makes it foreign, tested above */
		buf[byte] ^= 0x10;
		k = rp_icmp_parse(buf, len, false, &stamp.addr, -1, &key, &got);
		cr_expect(k == RP_REPLY_CORRUPTED || (byte == 13 && k == RP_REPLY_FOREIGN),
			  "flip at %zu gave %s", byte, rp_reply_kind_name(k));
	}
}

Test(icmp, tampered_payload_with_fixed_checksum_is_forged)
{
	unsigned char buf[128];
	struct rp_probe_stamp got;
	static const size_t fields[] = {8 + 4, 8 + 8, 8 + 12, 8 + 16, 8 + 24, 8 + 32};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t len = make_reply(buf, false, 1);

		buf[fields[i]] ^= 0x01;
		fix_checksum(buf, len);
		cr_expect_eq(rp_icmp_parse(buf, len, false, &stamp.addr, -1, &key, &got),
			     RP_REPLY_FORGED, "field at %zu", fields[i]);
	}
}

Test(icmp, reply_from_another_address_fails_the_mac)
{
	unsigned char buf[128];
	struct rp_probe_stamp got;
	size_t len = make_reply(buf, false, 1);

	struct rp_ip other = rp_ip_v4(0x7f000006);

	cr_assert_eq(rp_icmp_parse(buf, len, false, &other, -1, &key, &got), RP_REPLY_FORGED);
	/* The fields are still returned so the shard can tell a wrong source from a forgery. */
	cr_assert_eq(got.slot, stamp.slot);
	cr_assert(rp_ip_eq(&got.addr, &other));
}

Test(icmp, another_key_cannot_forge)
{
	struct rp_siphash_key other = {1, 2};
	unsigned char buf[128];
	struct rp_probe_stamp got;
	size_t len = make_reply(buf, false, 1);

	cr_assert_eq(rp_icmp_parse(buf, len, false, &stamp.addr, -1, &other, &got),
		     RP_REPLY_FORGED);
}

Test(icmp, kind_names)
{
	cr_assert_str_eq(rp_reply_kind_name(RP_REPLY_OK), "ok");
	cr_assert_str_eq(rp_reply_kind_name(RP_REPLY_WRONG_SOURCE), "wrong_source");
	cr_assert_str_eq(rp_reply_kind_name(RP_REPLY_KIND_COUNT), "unknown");
	for (int k = 0; k < RP_REPLY_KIND_COUNT; k++)
		cr_assert_str_neq(rp_reply_kind_name(k), "unknown");
}

/* A request the kernel hands back with its transmit timestamp reads back whole; a
 * reply, a short copy or another program's request does not. */
Test(icmp, own_request_peeks_back)
{
	unsigned char pkt[RP_ICMP_PKT_LEN], reply[20 + RP_ICMP_PKT_LEN];
	struct rp_probe_stamp got = {.addr = MAPPED(9, 9, 9, 9)};

	rp_icmp_init(pkt, 0xbeef);
	rp_icmp_stamp(pkt, &key, &stamp);
	cr_assert(rp_icmp_peek_request(pkt, sizeof(pkt), &got));
	cr_assert_eq(got.slot, stamp.slot);
	cr_assert_eq(got.gen, stamp.gen);
	cr_assert_eq(got.seq, stamp.seq);
	cr_assert_eq(got.sent_ns, stamp.sent_ns);
	cr_assert_eq(got.shard, stamp.shard);
	cr_assert(rp_ip_is_zero(&got.addr));
	cr_assert(rp_icmp_peek_request(pkt, RP_ICMP_MIN_LEN, &got), "the fields suffice");
	cr_assert_not(rp_icmp_peek_request(pkt, RP_ICMP_MIN_LEN - 1, &got), "short copy");
	make_reply(reply, false, 0xbeef);
	cr_assert_not(rp_icmp_peek_request(reply, RP_ICMP_PKT_LEN, &got), "a reply");
	pkt[8] ^= 1;
	cr_assert_not(rp_icmp_peek_request(pkt, sizeof(pkt), &got), "no magic");
}

/* ICMPv6: the same packet with type 128 (reply 129) and no checksum of ours (the
 * kernel's, over the pseudo-header); raw ICMPv6 sockets pass no IP header. */

static struct rp_probe_stamp stamp6(void)
{
	struct rp_probe_stamp s = stamp;

	cr_assert(rp_ip_parse("2001:2::7f00:5", &s.addr));
	return s;
}

static size_t make_reply6(unsigned char *buf, const struct rp_probe_stamp *s, uint16_t ident)
{
	rp_icmp_init(buf, ident);
	rp_icmp_stamp(buf, &key, s);
	cr_assert_eq(buf[0], 128, "an ICMPv6 echo request");
	cr_assert_eq(buf[2] << 8 | buf[3], 0, "the kernel fills the ICMPv6 checksum");
	buf[0] = 129;
	buf[2] = 0x5a; /* whatever the kernel wrote: not ours to check */
	return RP_ICMP_PKT_LEN;
}

Test(icmp6, reply_round_trips_and_binds_the_source)
{
	struct rp_probe_stamp s6 = stamp6(), got;
	unsigned char buf[128];
	size_t len = make_reply6(buf, &s6, 0x4242);
	struct rp_ip other = s6.addr;

	cr_assert_eq(rp_icmp_parse(buf, len, false, &s6.addr, 0x4242, &key, &got), RP_REPLY_OK);
	cr_assert(rp_ip_eq(&got.addr, &s6.addr));
	cr_assert_eq(got.slot, s6.slot);
	cr_assert_eq(got.seq, s6.seq);
	cr_assert_eq(got.sent_ns, s6.sent_ns);
	cr_assert_eq(rp_icmp_parse(buf, len, true, &s6.addr, 0x4242, &key, &got), RP_REPLY_OK,
		     "ip_header means IPv4's header only: ICMPv6 never has one");
	other.b[0] ^= 0x80; /* a high bit: the MAC covers all 128 */
	cr_assert_eq(rp_icmp_parse(buf, len, false, &other, 0x4242, &key, &got), RP_REPLY_FORGED);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &stamp.addr, 0x4242, &key, &got),
		     RP_REPLY_NOT_ECHO, "an ICMPv6 reply read as IPv4 is no echo reply");
	cr_assert_eq(rp_icmp_parse(buf, len, false, &s6.addr, 0x4243, &key, &got),
		     RP_REPLY_FOREIGN);
}

Test(icmp6, requests_types_and_truncation)
{
	struct rp_probe_stamp s6 = stamp6(), got;
	unsigned char buf[128];
	size_t len = make_reply6(buf, &s6, 1);

	/* No checksum of ours on ICMPv6: from the fields on, the MAC decides. */
	for (size_t n = 0; n < len; n++)
		cr_expect_eq(rp_icmp_parse(buf, n, false, &s6.addr, -1, &key, &got),
			     n < RP_ICMP_MIN_LEN ? RP_REPLY_TRUNCATED : RP_REPLY_OK, "len %zu", n);
	buf[0] = 128; /* our own request, looped back */
	cr_assert_eq(rp_icmp_parse(buf, len, false, &s6.addr, -1, &key, &got), RP_REPLY_NOT_ECHO);
	buf[0] = 0; /* an ICMP (v4) echo reply type on the ICMPv6 socket */
	cr_assert_eq(rp_icmp_parse(buf, len, false, &s6.addr, -1, &key, &got), RP_REPLY_NOT_ECHO);
	buf[0] = 1; /* destination unreachable whose quote is no IPv6 header */
	cr_assert_eq(rp_icmp_parse(buf, len, false, &s6.addr, -1, &key, &got), RP_REPLY_FOREIGN);
	buf[0] = 2; /* packet too big */
	cr_assert_eq(rp_icmp_parse(buf, len, false, &s6.addr, -1, &key, &got), RP_REPLY_NOT_ECHO);
	make_reply6(buf, &s6, 1);
	buf[8 + 20] ^= 1; /* reserved payload bytes are not in the MAC, seq is */
	buf[8 + 16] ^= 1;
	cr_assert_eq(rp_icmp_parse(buf, len, false, &s6.addr, -1, &key, &got), RP_REPLY_FORGED);
	/* A request of either family peeks back. */
	rp_icmp_init(buf, 1);
	rp_icmp_stamp(buf, &key, &s6);
	cr_assert(rp_icmp_peek_request(buf, RP_ICMP_PKT_LEN, &got));
	cr_assert_eq(got.slot, s6.slot);
}

/* The same probe to an IPv4 address and to an IPv6 address with the same low 32 bits
 * carries different MACs. */
Test(icmp6, mac_differs_by_family)
{
	struct rp_probe_stamp s4 = stamp, s6 = stamp;
	unsigned char a[RP_ICMP_PKT_LEN], b[RP_ICMP_PKT_LEN];

	cr_assert(rp_ip_parse("::7f00:5", &s6.addr));
	rp_icmp_init(a, 1);
	rp_icmp_init(b, 1);
	rp_icmp_stamp(a, &key, &s4);
	rp_icmp_stamp(b, &key, &s6);
	cr_assert_neq(memcmp(a + 8 + 32, b + 8 + 32, 8), 0);
}

/* An ICMP error as a router sends it: its header (type, code), then the request as it
 * left (`s`'s, `ident`), under an IP header of the request's family, cut to `quote`
 * bytes of the request (0: all of it). ip_header: an outer IPv4 header too (raw IPv4
 * sockets). Returns the length. */
static size_t make_error(unsigned char *buf, const struct rp_probe_stamp *s, uint16_t ident,
			 uint8_t type, uint8_t code, size_t quote, bool ip_header)
{
	bool v6 = !rp_ip_is_v4(&s->addr);
	size_t ohl = ip_header ? 20 : 0, qhl = v6 ? 40 : 20;
	unsigned char *icmp = buf + ohl, *q = icmp + 8;
	size_t req = quote ? quote : RP_ICMP_PKT_LEN, len;

	memset(buf, 0, ohl + 8 + qhl);
	q[0] = v6 ? 0x60 : 0x45;
	if (v6) {
		q[6] = 58;
		q[7] = 1;
		memcpy(q + 24, s->addr.b, 16);
	} else {
		q[8] = 1;
		q[9] = 1;
		memcpy(q + 16, s->addr.b + 12, 4);
	}
	rp_icmp_init(q + qhl, ident);
	rp_icmp_stamp(q + qhl, &key, s);
	icmp[0] = type;
	icmp[1] = code;
	len = 8 + qhl + req;
	if (!v6)
		fix_checksum(icmp, len);
	if (ip_header) {
		buf[0] = 0x45;
		buf[2] = (unsigned char)((20 + len) >> 8);
		buf[3] = (unsigned char)(20 + len);
		buf[9] = 1;
	}
	return ohl + len;
}

Test(icmp_error, unreachable_quoting_our_request_matches_by_mac)
{
	unsigned char buf[256];
	struct rp_probe_stamp got;
	struct rp_ip router = MAPPED(198, 18, 0, 1);

	for (int ip = 0; ip <= 1; ip++) {
		size_t len = make_error(buf, &stamp, 0x1234, 3, 1, 0, ip);

		cr_assert_eq(rp_icmp_parse(buf, len, ip, &router, 0x1234, &key, &got),
			     RP_REPLY_ICMP_ERROR);
		cr_assert(rp_ip_eq(&got.addr, &stamp.addr),
			  "the quoted destination, not the router");
		cr_assert_eq(got.slot, stamp.slot);
		cr_assert_eq(got.gen, stamp.gen);
		cr_assert_eq(got.seq, stamp.seq);
		cr_assert_eq(got.sent_ns, stamp.sent_ns);
		cr_assert_eq(got.err, RP_ERR_HOST);
		cr_assert_eq(got.err_type, 3);
		cr_assert_eq(got.err_code, 1);
		cr_assert_eq(got.err_short, 0);
		/* Another identifier is another program's. */
		cr_assert_eq(rp_icmp_parse(buf, len, ip, &router, 0x4321, &key, &got),
			     RP_REPLY_FOREIGN);
	}
	cr_assert_str_eq(rp_icmp_err_name(RP_ERR_HOST), "unreachable:host");
}

Test(icmp_error, quote_not_ours_is_ignored)
{
	unsigned char buf[256];
	struct rp_probe_stamp got, other = stamp;
	struct rp_siphash_key wrong = {1, 2};
	struct rp_ip router = MAPPED(198, 18, 0, 1);
	size_t len;

	/* Another process's key (a second ringprobe with our identifier): its MAC. */
	len = make_error(buf, &stamp, 7, 11, 0, 0, false);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 7, &wrong, &got), RP_REPLY_FORGED);
	/* The quoted destination rewritten (the request was not to that address). */
	buf[8 + 19] ^= 1;
	fix_checksum(buf, len);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 7, &key, &got), RP_REPLY_FORGED);
	/* A quoted field altered. */
	len = make_error(buf, &stamp, 7, 11, 0, 0, false);
	buf[8 + 20 + 8 + 8] ^= 1; /* slot */
	fix_checksum(buf, len);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 7, &key, &got), RP_REPLY_FORGED);
	/* No magic: not one of ours. */
	len = make_error(buf, &stamp, 7, 11, 0, 0, false);
	buf[8 + 20 + 8] = 'X';
	fix_checksum(buf, len);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 7, &key, &got), RP_REPLY_FOREIGN);
	/* A quoted UDP datagram, and a quoted echo reply. */
	len = make_error(buf, &stamp, 7, 3, 3, 0, false);
	buf[8 + 9] = 17;
	fix_checksum(buf, len);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 7, &key, &got), RP_REPLY_FOREIGN);
	len = make_error(buf, &stamp, 7, 3, 3, 0, false);
	buf[8 + 20] = 0;
	fix_checksum(buf, len);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 7, &key, &got), RP_REPLY_FOREIGN);
	/* The error's own checksum. */
	len = make_error(buf, &stamp, 7, 3, 3, 0, false);
	buf[2] ^= 1;
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 7, &key, &got), RP_REPLY_CORRUPTED);
	/* A different request of ours quoted still verifies, for what it says. */
	other.seq++;
	len = make_error(buf, &other, 7, 3, 3, 0, false);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 7, &key, &got), RP_REPLY_ICMP_ERROR);
	cr_assert_eq(got.seq, other.seq);
}

Test(icmp_error, eight_byte_quote_matches_by_sequence)
{
	unsigned char buf[256];
	struct rp_probe_stamp got;
	struct rp_ip router = MAPPED(198, 18, 0, 1);
	size_t len;

	for (size_t q = 8; q < RP_ICMP_MIN_LEN; q++) {
		len = make_error(buf, &stamp, 7, 3, 13, q, false);
		cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 7, &key, &got),
			     RP_REPLY_ICMP_ERROR, "quote %zu", q);
		cr_assert_eq(got.err_short, 1);
		cr_assert_eq(got.seq, stamp.seq & 0xffff);
		cr_assert_eq(got.err, RP_ERR_PROHIBITED);
		cr_assert(rp_ip_eq(&got.addr, &stamp.addr));
	}
	/* Less than the echo header: nothing to match by. */
	for (size_t q = 1; q < 8; q++) {
		len = make_error(buf, &stamp, 7, 3, 13, q, false);
		cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 7, &key, &got),
			     RP_REPLY_TRUNCATED, "quote %zu", q);
	}
	/* Some quoted magic that is not ours. */
	len = make_error(buf, &stamp, 7, 3, 13, 10, false);
	buf[8 + 20 + 8] = 'X';
	fix_checksum(buf, len);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 7, &key, &got), RP_REPLY_FOREIGN);
}

Test(icmp_error, icmpv6_unreachable_and_time_exceeded)
{
	struct rp_probe_stamp s6 = stamp6(), got;
	unsigned char buf[256];
	struct rp_ip router, mapped = stamp.addr;
	size_t len;

	cr_assert(rp_ip_parse("2001:2::1", &router));
	len = make_error(buf, &s6, 9, 1, 3, 0, false);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 9, &key, &got), RP_REPLY_ICMP_ERROR);
	cr_assert(rp_ip_eq(&got.addr, &s6.addr));
	cr_assert_eq(got.err, RP_ERR_HOST);
	cr_assert_eq(got.slot, s6.slot);
	len = make_error(buf, &s6, 9, 3, 0, 0, false);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 9, &key, &got), RP_REPLY_ICMP_ERROR);
	cr_assert_eq(got.err, RP_ERR_TIME_EXCEEDED);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 10, &key, &got), RP_REPLY_FOREIGN);
	/* Quoting a request to another address than it was sent to. */
	buf[8 + 39] ^= 1;
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 9, &key, &got), RP_REPLY_FORGED);
	/* An IPv4-mapped quoted destination would name an IPv4 device: never ours. */
	len = make_error(buf, &s6, 9, 1, 3, 8, false);
	memcpy(buf + 8 + 24, mapped.b, 16);
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 9, &key, &got), RP_REPLY_FOREIGN);
	/* An extension header in the quote: not a request of ours. */
	len = make_error(buf, &s6, 9, 1, 3, 0, false);
	buf[8 + 6] = 0;
	cr_assert_eq(rp_icmp_parse(buf, len, false, &router, 9, &key, &got), RP_REPLY_FOREIGN);
}

Test(icmp_error, classes_of_types_and_codes)
{
	cr_assert_eq(rp_icmp_err_of(false, 3, 0), RP_ERR_NET);
	cr_assert_eq(rp_icmp_err_of(false, 3, 1), RP_ERR_HOST);
	cr_assert_eq(rp_icmp_err_of(false, 3, 3), RP_ERR_PORT);
	cr_assert_eq(rp_icmp_err_of(false, 3, 4), RP_ERR_FRAGMENTATION);
	cr_assert_eq(rp_icmp_err_of(false, 3, 10), RP_ERR_PROHIBITED);
	cr_assert_eq(rp_icmp_err_of(false, 3, 13), RP_ERR_PROHIBITED);
	cr_assert_eq(rp_icmp_err_of(false, 3, 99), RP_ERR_UNREACH_OTHER);
	cr_assert_eq(rp_icmp_err_of(false, 11, 1), RP_ERR_TIME_EXCEEDED);
	cr_assert_eq(rp_icmp_err_of(false, 5, 0), RP_ERR_NONE);
	cr_assert_eq(rp_icmp_err_of(true, 1, 0), RP_ERR_NET);
	cr_assert_eq(rp_icmp_err_of(true, 1, 1), RP_ERR_PROHIBITED);
	cr_assert_eq(rp_icmp_err_of(true, 1, 3), RP_ERR_HOST);
	cr_assert_eq(rp_icmp_err_of(true, 1, 4), RP_ERR_PORT);
	cr_assert_eq(rp_icmp_err_of(true, 1, 6), RP_ERR_PROHIBITED);
	cr_assert_eq(rp_icmp_err_of(true, 3, 0), RP_ERR_TIME_EXCEEDED);
	cr_assert_eq(rp_icmp_err_of(true, 11, 0), RP_ERR_NONE);
	cr_assert_eq(rp_icmp_err_of(true, 2, 0), RP_ERR_NONE);
	for (unsigned e = RP_ERR_NET; e < RP_ERR_COUNT; e++)
		cr_assert_not_null(rp_icmp_err_name(e));
	cr_assert_null(rp_icmp_err_name(RP_ERR_NONE));
	cr_assert_null(rp_icmp_err_name(RP_ERR_COUNT));
	cr_assert_str_eq(rp_reply_kind_name(RP_REPLY_ICMP_ERROR), "icmp_error");
}
