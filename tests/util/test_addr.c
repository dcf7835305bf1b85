/* Tests for src/util/addr.c: the one address formatter, against snprintf. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ringprobe/addr.h"

Test(addr, every_octet_in_every_position_matches_snprintf)
{
	char want[32], got[RP_ADDR_STRLEN];

	for (unsigned pos = 0; pos < 4; pos++)
		for (unsigned v = 0; v < 256; v++) {
			uint32_t a = 0x01020304u & ~(0xffu << (pos * 8));

			a |= v << (pos * 8);
			snprintf(want, sizeof(want), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
				 (a >> 8) & 255, a & 255);
			cr_assert_str_eq(rp_addr_format(a, got), want);
		}
}

Test(addr, longest_and_shortest_fit)
{
	char buf[RP_ADDR_STRLEN + 1];

	memset(buf, 'x', sizeof(buf));
	cr_assert_str_eq(rp_addr_format(0xffffffffu, buf), "255.255.255.255");
	cr_assert_eq(buf[RP_ADDR_STRLEN], 'x', "wrote past RP_ADDR_STRLEN");
	cr_assert_str_eq(rp_addr_format(0, buf), "0.0.0.0");
}

Test(addr, put_returns_the_end_and_stays_in_its_room)
{
	char buf[RP_ADDR_PUT_ROOM + 1], *end;

	memset(buf, 'x', sizeof(buf));
	end = rp_addr_put(buf, 0x7f000001u);
	cr_assert_eq(end - buf, 9);
	cr_assert_eq(memcmp(buf, "127.0.0.1", 9), 0);
	memset(buf, 'x', sizeof(buf));
	end = rp_addr_put(buf, 0xfffefdfcu);
	cr_assert_eq(end - buf, 15);
	cr_assert_eq(memcmp(buf, "255.254.253.252", 15), 0);
	cr_assert_eq(buf[RP_ADDR_PUT_ROOM], 'x', "wrote past RP_ADDR_PUT_ROOM");
}
