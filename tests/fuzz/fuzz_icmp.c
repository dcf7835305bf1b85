/* fuzz-sources: src/probe/icmp.c src/util/siphash.c */
/* The reply parser on arbitrary bytes, both with and without an IPv4 header: it must
 * never read out of bounds (ASan) and an OK verdict must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/icmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct rp_siphash_key key = {42, 43};
	struct rp_probe_stamp got;
	uint8_t *copy;
	struct rp_ip src = rp_ip_v4(0x7f000001);

	if (size < 1)
		return 0;
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
	}
	free(copy);
	return 0;
}
