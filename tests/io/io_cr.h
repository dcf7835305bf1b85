/* Shared by the Criterion tests in tests/io that set up interfaces and routes in their
 * own namespace (io_test.h holds what the TSan build, without Criterion, uses too). */
#ifndef RP_TESTS_IO_CR_H
#define RP_TESTS_IO_CR_H

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringprobe/addr.h"
#include "support/support.h"

/* Runs a shell command (ip, nft, sysctl); fails the test with its output if it fails. */
static inline void sh(const char *cmd)
{
	char *out = NULL, *err = NULL;
	int rc = sup_run(cmd, 0, &out, &err);

	cr_assert_eq(rc, 0, "%s: exit %d: %s%s", cmd, rc, out ? out : "", err ? err : "");
	free(out);
	free(err);
}

/* A namespace of our own, lo up, ping sockets allowed to every group; skipped, visibly,
 * without root. */
static inline void io_netns_ping(void)
{
	const char *what;
	int rc;

	if (geteuid() != 0)
		cr_skip_test("needs root (raw and packet sockets, a private network namespace)");
	rc = sup_netns_enter(SUP_NETNS_LO_UP, &what);
	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
	cr_assert_eq(sup_sysctl_set("/proc/sys/net/ipv4/ping_group_range", "0 2147483647"), 0);
}

/* An IPv4 or IPv6 address in text, which the test itself wrote. */
static inline struct rp_ip ip_of(const char *s)
{
	struct rp_ip a = {.w = {0, 0, 0, 0}};
	unsigned char b[16];

	if (inet_pton(AF_INET, s, b) == 1)
		return rp_ip_v4((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
				b[3]);
	cr_assert_eq(inet_pton(AF_INET6, s, a.b), 1, "%s", s);
	return a;
}

#endif
