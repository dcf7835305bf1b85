/* The receive buffer each shard's socket gets from rp_prober_create: room for a
 * second of replies at the shard's share of the rate (768 bytes of socket memory per
 * reply), at least 4 MiB, at most 256 MiB; 32 MiB when unpaced (prober.c rcvbuf_for).
 * Read back from the sockets themselves: the prober's sockets are the only ICMP
 * sockets in this process. As root (SO_RCVBUFFORCE, so net.core.rmem_max does not cap
 * it), in a private network namespace; skipped otherwise. The kernel reports twice
 * what was set (socket(7), SO_RCVBUF). No packet is sent. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/engine.h"
#include "ringprobe/conf.h"
#include "ringprobe/prober.h"
#include "support/support.h"

#define MIB (1u << 20)

static void netns(void)
{
	const char *what;
	int rc;

	if (geteuid() != 0)
		cr_skip_test("needs root (raw sockets, SO_RCVBUFFORCE, a network namespace)");
	rc = sup_netns_enter(0, &what);
	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* SO_RCVBUF of every raw ICMP socket in this process, in descriptor order (the order
 * the shards opened them). Returns how many. */
static int icmp_rcvbufs(int *out, int max)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int fds[64], nfd = 0, n = 0;

	cr_assert_not_null(dir);
	while ((de = readdir(dir)) && nfd < 64) {
		int fd = atoi(de->d_name), type, proto;
		socklen_t len = sizeof(int);

		if (de->d_name[0] == '.' || fd == dirfd(dir))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
			continue;
		len = sizeof(int);
		if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0)
			continue;
		if (type == SOCK_RAW && proto == IPPROTO_ICMP)
			fds[nfd++] = fd;
	}
	closedir(dir);
	qsort(fds, (size_t)nfd, sizeof(int), cmp_int);
	for (int i = 0; i < nfd && n < max; i++) {
		socklen_t len = sizeof(int);

		cr_assert_eq(getsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &out[n], &len), 0);
		n++;
	}
	return n;
}

/* Creates a prober (threads not started) and checks each shard's socket. */
static void expect_rcvbufs(unsigned shards, double rate, const uint32_t *weights,
			   const uint32_t *want)
{
	struct rp_prober_conf pc = {.shards = shards,
				    .capacity = 64,
				    .timeout_ns = 100000000,
				    .rate_pps = rate,
				    .weights = weights,
				    .burst = 1,
				    .tick_ns = 5000000,
				    .backend = RP_BACKEND_MMSG,
				    .icmp_mode = RP_ICMP_RAW,
				    .feature_mask = RP_FEAT_ALL};
	struct rp_prober *p;
	int got[8], n;
	char why[512];

	cr_assert_eq(rp_prober_create(&p, &pc, why, sizeof(why)), 0, "%s", why);
	n = icmp_rcvbufs(got, 8);
	cr_assert_eq(n, (int)shards, "%d ICMP sockets for %u shards", n, shards);
	for (unsigned i = 0; i < shards; i++)
		cr_expect_eq((uint32_t)got[i], 2 * want[i],
			     "rate %.0f, shard %u: SO_RCVBUF %d, want 2 x %u", rate, i, got[i],
			     want[i]);
	rp_prober_destroy(p);
}

TestSuite(rcvbuf, .timeout = 30);

Test(rcvbuf, unpaced_gets_32_mib)
{
	netns();
	expect_rcvbufs(1, 0, NULL, (const uint32_t[]){32 * MIB});
}

Test(rcvbuf, low_rates_get_the_4_mib_floor)
{
	netns();
	expect_rcvbufs(1, 1000, NULL, (const uint32_t[]){4 * MIB});
	/* 5461 replies/s x 768 B is just under 4 MiB */
	expect_rcvbufs(1, 5461, NULL, (const uint32_t[]){4 * MIB});
}

Test(rcvbuf, a_second_of_replies_at_the_rate)
{
	netns();
	expect_rcvbufs(1, 6000, NULL, (const uint32_t[]){6000 * 768});
	expect_rcvbufs(1, 100000, NULL, (const uint32_t[]){100000 * 768});
}

Test(rcvbuf, high_rates_stop_at_256_mib)
{
	netns();
	expect_rcvbufs(1, 1000000, NULL, (const uint32_t[]){256 * MIB});
}

Test(rcvbuf, each_shard_sized_for_its_share_of_the_rate)
{
	netns();
	expect_rcvbufs(2, 100000, NULL, (const uint32_t[]){50000 * 768, 50000 * 768});
	expect_rcvbufs(2, 40000, (const uint32_t[]){3, 1},
		       (const uint32_t[]){30000 * 768, 10000 * 768});
	expect_rcvbufs(2, 0, NULL, (const uint32_t[]){32 * MIB, 32 * MIB});
}
