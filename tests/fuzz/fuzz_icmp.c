/* fuzz-sources: src/probe/icmp.c src/util/siphash.c */
/* The reply parser on arbitrary bytes, both with and without an IPv4 header: it must
 * never read out of bounds (ASan) and an OK verdict must be self-consistent. With byte
 * 0's bits 3 and 4 set and 26 bytes or more, the input is a recipe for an ICMP error
 * instead: destination unreachable or time exceeded (byte 22 picks type and code)
 * quoting a genuine request to 198.18.0.5 (fields from bytes 1..21) under an IPv4
 * header, cut to byte 23's length when its top bit is set, the bytes from 26 on
 * XORed over it; an ICMP_ERROR verdict must name the quoted destination and a class
 * that fits the type, and a whole quote's fields must rebuild its MAC. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/icmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks an ICMP_ERROR verdict on the error `e` (from its ICMP header) of len bytes. */
static void check_error(const uint8_t *e, size_t len, const struct rp_siphash_key *key,
			const struct rp_probe_stamp *got)
{
	size_t qhl;

	if (len < 8 + 20 + 8 || got->err != rp_icmp_err_of(false, e[0], e[1]) ||
	    got->err == RP_ERR_NONE || got->err_type != e[0] || got->err_code != e[1] ||
	    !rp_ip_is_v4(&got->addr) || memcmp(got->addr.b + 12, e + 8 + 16, 4) != 0)
		abort();
	qhl = (size_t)(e[8] & 15) * 4;
	if (got->err_short) {
		if (got->seq > 0xffff || len >= 8 + qhl + RP_ICMP_MIN_LEN)
			abort();
	} else {
		uint8_t pkt[RP_ICMP_PKT_LEN];

		rp_icmp_init(pkt, 0);
		rp_icmp_stamp(pkt, key, got);
		if (len < 8 + qhl + RP_ICMP_MIN_LEN || memcmp(pkt + 40, e + 8 + qhl + 40, 8) != 0)
			abort();
	}
}

static void error_recipe(const uint8_t *data, size_t size)
{
	static const struct rp_siphash_key key = {42, 43};
	static const uint8_t tc[8][2] = {{3, 0},  {3, 1},  {3, 3},  {3, 4},
					 {3, 13}, {3, 15}, {11, 0}, {11, 1}};
	struct rp_probe_stamp st = {.addr = rp_ip_v4(0xc6120005)}, got;
	struct rp_ip router = rp_ip_v4(0xc6120101);
	size_t extra = size - 26, len = 20 + 8 + 20 + RP_ICMP_PKT_LEN;
	uint8_t *b = malloc(len + extra), *e = b + 20;
	uint16_t sum;

	memcpy(&st.slot, data + 1, 4);
	memcpy(&st.gen, data + 5, 4);
	memcpy(&st.seq, data + 9, 4);
	memcpy(&st.sent_ns, data + 13, 8);
	st.shard = data[21];
	memset(b, 0, len + extra);
	b[0] = 0x45;
	b[9] = 1;
	e[0] = tc[data[22] & 7][0];
	e[1] = tc[data[22] & 7][1];
	e[8] = 0x45;
	e[8 + 9] = 1;
	e[8 + 16] = 198;
	e[8 + 17] = 18;
	e[8 + 19] = 5;
	rp_icmp_init(e + 28, 7);
	rp_icmp_stamp(e + 28, &key, &st);
	if (data[23] & 0x80)
		len = 20 + 28 + (data[23] & 0x7f) % RP_ICMP_PKT_LEN;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	sum = rp_icmp_checksum(e, len - 20);
	e[2] = (uint8_t)(sum >> 8);
	e[3] = (uint8_t)sum;
	for (size_t i = 0; i < extra && i < len; i++)
		b[i] ^= data[26 + i];
	for (int ip = 0; ip <= 1; ip++) {
		const uint8_t *m = ip ? b : e;
		size_t mlen = ip ? len : len - 20;
		enum rp_reply_kind k =
		    rp_icmp_parse(m, mlen, ip, &router, data[0] & 1 ? -1 : 7, &key, &got);

		if ((unsigned)k >= RP_REPLY_KIND_COUNT || k == RP_REPLY_OK)
			abort();
		if (k == RP_REPLY_ICMP_ERROR) {
			size_t ihl = ip ? (size_t)(b[0] & 15) * 4 : 0;

			check_error(m + ihl, mlen - ihl, &key, &got);
		}
	}
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct rp_siphash_key key = {42, 43};
	struct rp_probe_stamp got;
	uint8_t *copy;
	struct rp_ip src = rp_ip_v4(0x7f000001);

	if (size < 1)
		return 0;
	if ((data[0] & 0x18) == 0x18 && size >= 26) {
		error_recipe(data, size);
		return 0;
	}
	/* An exact-size heap copy so any over-read is caught. */
	copy = malloc(size - 1 ? size - 1 : 1);
	memcpy(copy, data + 1, size - 1);
	for (int ip = 0; ip <= 1; ip++) {
		enum rp_reply_kind k =
		    rp_icmp_parse(copy, size - 1, ip, &src, data[0] & 1 ? -1 : 7, &key, &got);

		if ((unsigned)k >= RP_REPLY_KIND_COUNT)
			abort();
		if (k == RP_REPLY_OK) {
			/* Rebuild the request from the fields: its MAC must match the reply's. */
			uint8_t pkt[RP_ICMP_PKT_LEN];
			const uint8_t *icmp = copy + (ip ? (copy[0] & 0x0f) * 4 : 0);

			rp_icmp_init(pkt, 0);
			rp_icmp_stamp(pkt, &key, &got);
			if (memcmp(pkt + 40, icmp + 40, 8) != 0)
				abort();
		}
		if (k == RP_REPLY_ICMP_ERROR) {
			size_t ihl = ip ? (size_t)(copy[0] & 0x0f) * 4 : 0;

			check_error(copy + ihl, size - 1 - ihl, &key, &got);
		}
	}
	free(copy);
	return 0;
}
