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

Test(hosts, skip_network_and_broadcast_except_31_32)
{
	struct rp_cidr nets[] = {
	    {0x0a000000, 30}, {0x0a000100, 31}, {0x0a000200, 32}, {0x0a010000, 24}};
	struct rp_hosts h;

	rp_hosts_init(&h, nets, 4);
	cr_assert_eq(h.count, 2 + 2 + 1 + 254);
	cr_assert_eq(rp_hosts_at(&h, 0), 0x0a000001);
	cr_assert_eq(rp_hosts_at(&h, 1), 0x0a000002);
	cr_assert_eq(rp_hosts_at(&h, 2), 0x0a000100);
	cr_assert_eq(rp_hosts_at(&h, 3), 0x0a000101);
	cr_assert_eq(rp_hosts_at(&h, 4), 0x0a000200);
	cr_assert_eq(rp_hosts_at(&h, 5), 0x0a010001);
	cr_assert_eq(rp_hosts_at(&h, 258), 0x0a0100fe);
	cr_assert_eq(rp_hosts_net_of(&h, 258), 3);
	rp_hosts_fini(&h);
}
