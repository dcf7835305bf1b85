/* Host index spaces and the sweep permutation. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/hosts.h"
#include "ringprobe/permute.h"

Test(permute, visits_every_index_once)
{
	static const uint64_t sizes[] = {1, 2, 3, 5, 254, 256, 1000, 65534, 100003};

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t n = sizes[s], v, count = 0;
		unsigned char *seen = calloc(n, 1);
		struct rp_permute p;

		rp_permute_init(&p, n, 42 + s);
		while (rp_permute_next(&p, &v)) {
			cr_assert_lt(v, n);
			cr_assert_eq(seen[v], 0, "n=%llu: %llu twice", (unsigned long long)n,
				     (unsigned long long)v);
			seen[v] = 1;
			count++;
		}
		cr_assert_eq(count, n);
		cr_assert_not(rp_permute_next(&p, &v));
		free(seen);
	}
}

Test(permute, order_is_random_and_seeded)
{
	struct rp_permute a, b, c;
	uint64_t va, vb, vc, in_order = 0, same_ab = 0, same_ac = 0, prev = 0;

	rp_permute_init(&a, 65534, 1);
	rp_permute_init(&b, 65534, 1);
	rp_permute_init(&c, 65534, 2);
	for (int i = 0; i < 65534; i++) {
		cr_assert(rp_permute_next(&a, &va));
		cr_assert(rp_permute_next(&b, &vb));
		cr_assert(rp_permute_next(&c, &vc));
		same_ab += va == vb;
		same_ac += va == vc;
		in_order += va == prev + 1;
		prev = va;
	}
	cr_assert_eq(same_ab, 65534, "same seed, same order");
	cr_assert_lt(same_ac, 100, "another seed, another order");
	cr_assert_lt(in_order, 100, "not sequential");
}

static uint32_t at4(const struct rp_hosts *h, uint64_t i)
{
	struct rp_ip a = rp_hosts_at(h, i);

	cr_assert(rp_ip_is_v4(&a));
	return rp_ip_to_v4(&a);
}

Test(hosts, skip_network_and_broadcast_except_31_32)
{
	struct rp_cidr nets[] = {{rp_ip_v4(0xc6120000), 30},
				 {rp_ip_v4(0xc6120100), 31},
				 {rp_ip_v4(0xc6120200), 32},
				 {rp_ip_v4(0xc6121000), 24}};
	struct rp_hosts h;

	rp_hosts_init(&h, nets, 4);
	cr_assert_eq(h.count, 2 + 2 + 1 + 254);
	cr_assert_eq(at4(&h, 0), 0xc6120001);
	cr_assert_eq(at4(&h, 1), 0xc6120002);
	cr_assert_eq(at4(&h, 2), 0xc6120100);
	cr_assert_eq(at4(&h, 3), 0xc6120101);
	cr_assert_eq(at4(&h, 4), 0xc6120200);
	cr_assert_eq(at4(&h, 5), 0xc6121001);
	cr_assert_eq(at4(&h, 258), 0xc61210fe);
	cr_assert_eq(rp_hosts_net_of(&h, 258), 3);
	rp_hosts_fini(&h);
}

/* IPv6 networks: every address but the Subnet-Router anycast (the all-zero host), which
 * a /127 and a /128 keep; mixed with IPv4 in one index space. */
Test(hosts, ipv6_skips_the_subnet_router_anycast_only)
{
	struct rp_cidr nets[4];
	const char *txt[] = {"2001:2::/126", "2001:2::10/127", "2001:2::20/128", "192.0.2.0/30"};
	static const char *const want[] = {"2001:2::1",	 "2001:2::2",  "2001:2::3", "2001:2::10",
					   "2001:2::11", "2001:2::20", "192.0.2.1", "192.0.2.2"};
	char why[128], buf[RP_IP_STRLEN];
	struct rp_hosts h;

	for (int i = 0; i < 4; i++)
		cr_assert_eq(rp_parse_cidr(txt[i], &nets[i], NULL, why, sizeof(why)), 0, "%s", why);
	rp_hosts_init(&h, nets, 4);
	cr_assert_eq(h.count, 8);
	for (uint64_t i = 0; i < h.count; i++) {
		struct rp_ip a = rp_hosts_at(&h, i);

		cr_assert_str_eq(rp_ip_format(&a, buf), want[i]);
	}
	cr_assert_eq(rp_hosts_net_of(&h, 3), 1);
	rp_hosts_fini(&h);
}

/* A /104 is the largest network a list holds: 2^24 - 1 hosts, the last one all ones. */
Test(hosts, ipv6_104_ends_at_its_last_address)
{
	struct rp_cidr net;
	char why[128], buf[RP_IP_STRLEN];
	struct rp_hosts h;
	struct rp_ip a;

	cr_assert_eq(rp_parse_cidr("2001:2::ab00:0/104", &net, NULL, why, sizeof(why)), 0);
	rp_hosts_init(&h, &net, 1);
	cr_assert_eq(h.count, (1u << 24) - 1);
	a = rp_hosts_at(&h, h.count - 1);
	cr_assert_str_eq(rp_ip_format(&a, buf), "2001:2::abff:ffff");
	rp_hosts_fini(&h);
}
