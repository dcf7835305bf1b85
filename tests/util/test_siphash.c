/* SipHash-2-4 against the reference test vectors (key 00..0f, message 00..len-1). */
#include <criterion/criterion.h>

#include "ringprobe/siphash.h"

/* First 16 and the 64th of vectors.h's vectors_sip64, as little-endian uint64. */
static const uint64_t expected[] = {
    0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull, 0x85676696d7fb7e2dull,
    0xcf2794e0277187b7ull, 0x18765564cd99a68dull, 0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull,
    0x93f5f5799a932462ull, 0x9e0082df0ba9e4b0ull, 0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull,
    0x751e8fbc860ee5fbull, 0x14ea5627c0843d90ull, 0xf723ca908e7af2eeull, 0xa129ca6149be45e5ull,
};

Test(siphash, reference_vectors)
{
	struct rp_siphash_key key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
	unsigned char msg[64];

	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	for (size_t len = 0; len < sizeof(expected) / sizeof(expected[0]); len++)
		cr_expect_eq(rp_siphash24(&key, msg, len), expected[len], "length %zu", len);
	cr_expect_eq(rp_siphash24(&key, msg, 63), 0x958a324ceb064572ull);
}
