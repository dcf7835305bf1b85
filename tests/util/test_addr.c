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

/* rp_ip: the one address type of either family. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

static struct rp_ip ip_of(const char *s)
{
	struct rp_ip a;

	cr_assert(rp_ip_parse(s, &a), "\"%s\" should parse", s);
	return a;
}

Test(ip, ipv4_is_its_mapped_form_and_keeps_its_hash)
{
	struct rp_ip a = rp_ip_v4(0xc0000201u), b = ip_of("192.0.2.1"),
		     m = ip_of("::ffff:192.0.2.1");
	char buf[RP_IP_STRLEN];

	cr_assert(rp_ip_is_v4(&a));
	cr_assert_eq(rp_ip_family(&a), RP_AF_INET);
	cr_assert(rp_ip_eq(&a, &b));
	cr_assert(rp_ip_eq(&a, &m), "a mapped address is that IPv4 address");
	cr_assert_eq(rp_ip_to_v4(&a), 0xc0000201u);
	cr_assert_eq(rp_ip_hash32(&a), rp_hash_u32(0xc0000201u), "IPv4 keeps its phase and shard");
	cr_assert_eq(rp_ip_key64(&a), 0xc0000201u);
	cr_assert_str_eq(rp_ip_format(&a, buf), "192.0.2.1");
	cr_assert_eq(memcmp(a.b, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\0\2\1", 16), 0);
}

Test(ip, ipv6_is_not_ipv4_and_hashes_all_its_bits)
{
	struct rp_ip a = ip_of("2001:db8::1"), b = ip_of("2001:db8::2"), c = ip_of("2001:db8:1::1");

	cr_assert_not(rp_ip_is_v4(&a));
	cr_assert_eq(rp_ip_family(&a), RP_AF_INET6);
	cr_assert_not(rp_ip_eq(&a, &b));
	cr_assert_neq(rp_ip_hash32(&a), rp_hash_u32(1), "not the IPv4 hash of its low word");
	cr_assert_neq(rp_ip_hash32(&a), rp_ip_hash32(&b));
	cr_assert_neq(rp_ip_hash32(&a), rp_ip_hash32(&c), "the high half counts");
	cr_assert_lt(rp_ip_cmp(&a, &b), 0);
	cr_assert_not(rp_ip_is_v4(&(struct rp_ip){{{0}}}), ":: is IPv6");
	cr_assert(rp_ip_is_zero(&(struct rp_ip){{{0}}}));
}

Test(ip, parse_refuses_what_is_not_one_address)
{
	static const char *const bad[] = {"",
					  "192.0.2",
					  "192.0.2.1.5",
					  "192.0.2.01",
					  "192.0.2.256",
					  "192.0.2.1/24",
					  "192.0.2.-",
					  "192.0.256.1",
					  " 192.0.2.1",
					  "192.0.2.1 ",
					  "::1/128",
					  "2001:db8::1%lo",
					  ":::",
					  "2001:db8::2::3",
					  "2001:db8::g",
					  "12345::",
					  "localhost",
					  "[::1]",
					  "2001:db8:3:4:5:6:7:8:9",
					  "::ffff:192.0.2.01"};
	struct rp_ip a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(rp_ip_parse(bad[i], &a), "\"%s\" should be refused", bad[i]);
	cr_assert_not(rp_ip_parse(NULL, &a));
}

Test(ip, rfc5952_text_for_the_rules_cases)
{
	static const char *const cases[][2] = {
	    {"::1", "::1"},
	    {"::", "::"},
	    {"2001:DB8::1", "2001:db8::1"},				/* §4.3 lower case */
	    {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"}, /* §4.1 no leading 0 */
	    {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},		/* §4.2.2 one 0 stays */
	    {"2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"},   /* §4.2.3 the longest run */
	    {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"}, /* §4.2.3 the first on a tie */
	    {"2001:2::", "2001:2::"},
	    {"1:0:0:0:0:0:0:0", "1::"},
	    {"0:0:0:0:0:0:0:2", "::2"},
	    {"2001:db8::1:2:3:4", "2001:db8::1:2:3:4"},
	    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	};
	char buf[RP_IP_STRLEN + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rp_ip a = ip_of(cases[i][0]);

		memset(buf, 'x', sizeof(buf));

		cr_assert_str_eq(rp_ip_format(&a, buf), cases[i][1], "%s", cases[i][0]);
		cr_assert_eq(buf[RP_IP_STRLEN], 'x');
	}
}

/* Against glibc's inet_ntop, which follows RFC 5952 too except that it writes
 * IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291) in dotted form. */
Test(ip, random_addresses_match_inet_ntop_and_read_back)
{
	char got[RP_IP_STRLEN], want[INET6_ADDRSTRLEN];
	unsigned seed = 42;

	for (int n = 0; n < 200000; n++) {
		struct rp_ip a, back;

		for (int i = 0; i < 8; i++) {
			unsigned r = (unsigned)rand_r(&seed);
			/* Many zero groups, so runs of every length and position occur. */
			unsigned g = (r & 3) ? 0 : (r >> 2) & ((r & 4) ? 0xffff : 0xf);

			a.b[2 * i] = (uint8_t)(g >> 8);
			a.b[2 * i + 1] = (uint8_t)g;
		}
		if (rp_ip_is_v4(&a))
			continue;
		if (a.w[0] == 0 && a.w[1] == 0 && a.w[2] == 0)
			continue; /* ::a.b.c.d: inet_ntop's dotted form */
		inet_ntop(AF_INET6, a.b, want, sizeof(want));
		cr_assert_str_eq(rp_ip_format(&a, got), want);
		cr_assert(rp_ip_parse(got, &back));
		cr_assert(rp_ip_eq(&a, &back));
	}
}

Test(ip, sockaddr_round_trip_by_family)
{
	struct sockaddr_storage ss;
	struct rp_ip a = ip_of("127.0.0.2"), b = ip_of("2001:2::7"), out;
	uint16_t port = 0;

	cr_assert_eq(rp_ip_to_sockaddr(&a, 161, &ss), sizeof(struct sockaddr_in));
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_eq(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(0x7f000002u));
	cr_assert(rp_ip_from_sockaddr(&ss, sizeof(struct sockaddr_in), &out, &port));
	cr_assert(rp_ip_eq(&out, &a));
	cr_assert_eq(port, 161);
	cr_assert_eq(rp_ip_to_sockaddr(&b, 53, &ss), sizeof(struct sockaddr_in6));
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert(rp_ip_from_sockaddr(&ss, sizeof(struct sockaddr_in6), &out, &port));
	cr_assert(rp_ip_eq(&out, &b));
	cr_assert_eq(port, 53);
	cr_assert_not(rp_ip_from_sockaddr(&ss, sizeof(struct sockaddr_in6) - 1, &out, NULL),
		      "a short sockaddr is refused");
	ss.ss_family = AF_UNIX;
	cr_assert_not(rp_ip_from_sockaddr(&ss, sizeof(ss), &out, NULL));
}
