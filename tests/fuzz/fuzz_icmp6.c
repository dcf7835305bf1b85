/* fuzz-sources: src/probe/icmp.c src/util/siphash.c */
/* The reply parser on arbitrary bytes from an IPv6 source, as a raw or datagram ICMPv6
 * socket hands them over (no IP header; the kernel checked the checksum): it must never
 * read out of bounds (ASan), an OK verdict must be self-consistent (the fields rebuild a
 * request with the same MAC, for this source and no other), and no kind but OK, FORGED
 * and the parser's own may come out. Byte 0: bit 0 drops the identifier check (datagram
 * sockets), bits 1-2 pick one of four sources (the MAC binds each), bit 3 makes the
 * rest a recipe instead of the datagram: a genuine reply is built from its first 25
 * bytes (slot, gen, seq, sent_ns, shard) and the bytes after them are XORed over it, so
 * the fuzzer reaches the OK path and every corruption of a real reply. Bit 4 (with bit
 * 3) makes the recipe an ICMPv6 error instead: destination unreachable or time
 * exceeded (byte 22 picks type and code) from a router quoting the genuine request to
 * the chosen source under an IPv6 header, the quote cut to byte 23's length when its
 * top bit is set; an ICMP_ERROR verdict must then name the quoted destination and a
 * class that fits the type, and a whole quote's fields must rebuild its MAC. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/icmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct rp_ip srcs[4] = {
    {.b = {0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},    /* 2001:2::1 */
    {.b = {0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}},    /* 2001:2::2 */
    {.b = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},	      /* ::1 */
    {.b = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0, 0, 1}}, /* low bits of 127.0.0.1 */
};

/* Checks an ICMP_ERROR verdict on the error `e` of `len` bytes. */
static void check_error(const uint8_t *e, size_t len, const struct rp_siphash_key *key,
			const struct rp_probe_stamp *got)
{
	if (len < 8 + 40 + 8 || got->err != rp_icmp_err_of(true, e[0], e[1]) ||
	    got->err == RP_ERR_NONE || got->err_type != e[0] || got->err_code != e[1] ||
	    memcmp(got->addr.b, e + 8 + 24, 16) != 0 || rp_ip_is_v4(&got->addr))
		abort();
	if (got->err_short) {
		if (got->seq > 0xffff || len >= 8 + 40 + RP_ICMP_MIN_LEN)
			abort();
	} else {
		uint8_t pkt[RP_ICMP_PKT_LEN];

		rp_icmp_init(pkt, 0);
		rp_icmp_stamp(pkt, key, got);
		if (len < 8 + 40 + RP_ICMP_MIN_LEN || memcmp(pkt + 40, e + 48 + 40, 8) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct rp_siphash_key key = {42, 43};
	struct rp_probe_stamp got;
	const struct rp_ip *src;
	enum rp_reply_kind k;
	uint8_t *copy;

	if (size < 1)
		return 0;
	src = &srcs[(data[0] >> 1) & 3];
	if ((data[0] & 0x18) == 0x18 && size >= 26) {
		static const uint8_t tc[8][2] = {{1, 0}, {1, 1}, {1, 3}, {1, 4},
						 {1, 6}, {1, 9}, {3, 0}, {3, 1}};
		struct rp_probe_stamp st = {.addr = *src};
		const struct rp_ip *router = &srcs[((data[0] >> 1) + 1) & 3];
		size_t extra = size - 26, len = 8 + 40 + RP_ICMP_PKT_LEN;

		memcpy(&st.slot, data + 1, 4);
		memcpy(&st.gen, data + 5, 4);
		memcpy(&st.seq, data + 9, 4);
		memcpy(&st.sent_ns, data + 13, 8);
		st.shard = data[21];
		copy = malloc(len + extra);
		memset(copy, 0, len + extra);
		copy[0] = tc[data[22] & 7][0];
		copy[1] = tc[data[22] & 7][1];
		copy[8] = 0x60;
		copy[8 + 6] = 58;
		copy[8 + 7] = 1;
		memcpy(copy + 8 + 24, src->b, 16);
		rp_icmp_init(copy + 48, 7);
		rp_icmp_stamp(copy + 48, &key, &st);
		if (data[23] & 0x80)
			len = 48 + (data[23] & 0x7f) % RP_ICMP_PKT_LEN;
		for (size_t i = 0; i < extra && i < len; i++)
			copy[i] ^= data[26 + i];
		k = rp_icmp_parse(copy, len, false, router, data[0] & 1 ? -1 : 7, &key, &got);
		if ((unsigned)k >= RP_REPLY_KIND_COUNT || k == RP_REPLY_CORRUPTED ||
		    k == RP_REPLY_OK)
			abort();
		if (k == RP_REPLY_ICMP_ERROR)
			check_error(copy, len, &key, &got);
		free(copy);
		return 0;
	}
	if ((data[0] & 8) && size >= 26) {
		struct rp_probe_stamp st = {.addr = *src};
		size_t extra = size - 26;

		memcpy(&st.slot, data + 1, 4);
		memcpy(&st.gen, data + 5, 4);
		memcpy(&st.seq, data + 9, 4);
		memcpy(&st.sent_ns, data + 13, 8);
		st.shard = data[21];
		size =
		    1 + RP_ICMP_PKT_LEN + (extra > RP_ICMP_PKT_LEN ? extra - RP_ICMP_PKT_LEN : 0);
		copy = malloc(size - 1);
		memset(copy, 0, size - 1);
		rp_icmp_init(copy, 7);
		rp_icmp_stamp(copy, &key, &st);
		copy[0] = 129; /* the reply the kernel hands over */
		for (size_t i = 0; i < extra && i < size - 1; i++)
			copy[i] ^= data[26 + i];
		/* a length other than the packet's: the tail of the recipe says */
		if (extra && (data[26] & 0x80))
			size = 1 + (data[26] & 0x7f) % (size - 1);
	} else {
		/* An exact-size heap copy so any over-read is caught. */
		copy = malloc(size - 1 ? size - 1 : 1);
		memcpy(copy, data + 1, size - 1);
	}
	k = rp_icmp_parse(copy, size - 1, false, src, data[0] & 1 ? -1 : 7, &key, &got);
	if ((unsigned)k >= RP_REPLY_KIND_COUNT || k == RP_REPLY_CORRUPTED)
		abort(); /* ICMPv6's checksum is the kernel's: never ours to fail */
	if (k == RP_REPLY_ICMP_ERROR)
		check_error(copy, size - 1, &key, &got);
	if (k == RP_REPLY_OK) {
		uint8_t pkt[RP_ICMP_PKT_LEN];

		if (size - 1 < RP_ICMP_MIN_LEN || copy[0] != 129 || copy[1] != 0 ||
		    !rp_ip_eq(&got.addr, src))
			abort();
		/* Rebuild the request from the fields: its MAC must match the reply's, and
		 * the same fields from any other source must not verify. */
		rp_icmp_init(pkt, 0);
		rp_icmp_stamp(pkt, &key, &got);
		if (pkt[0] != 128 || memcmp(pkt + 40, copy + 40, 8) != 0)
			abort();
		for (int i = 0; i < 4; i++) {
			struct rp_probe_stamp other;

			if (&srcs[i] != src && rp_icmp_parse(copy, size - 1, false, &srcs[i], -1,
							     &key, &other) != RP_REPLY_FORGED)
				abort();
		}
	}
	free(copy);
	return 0;
}
