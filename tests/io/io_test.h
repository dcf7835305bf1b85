/* Shared by the tests in tests/io: a private network namespace with loopback up, and
 * raw ICMP packets from any 127.0.0.0/8 source to 127.0.0.1. Plain functions that
 * return errors rather than assert, so the TSan build (no Criterion) can use them. */
#ifndef RP_TESTS_IO_TEST_H
#define RP_TESTS_IO_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ringprobe/icmp.h"
#include "support/support.h"

/* Enters a new network namespace and brings lo up (support.h sup_netns_enter). 0, or
 * -errno with the step in *what. Kept for the tests here that call it by this name. */
static inline int io_test_netns(const char **what)
{
	return sup_netns_enter(SUP_NETNS_LO_UP, what);
}

/* Recomputes the ICMP checksum of icmp[len]. */
static inline void io_test_fix_sum(unsigned char *icmp, size_t len)
{
	uint16_t s;

	icmp[2] = icmp[3] = 0;
	s = rp_icmp_checksum(icmp, len);
	icmp[2] = (unsigned char)(s >> 8);
	icmp[3] = (unsigned char)s;
}

/* Sends icmp[len] in an IPv4 packet with our own header (IP_HDRINCL raw socket `fd`),
 * from `src` (host order, on lo) to 127.0.0.1. True when all of it went. */
static inline bool io_test_send_from(int fd, uint32_t src, const unsigned char *icmp, size_t len)
{
	unsigned char pkt[256] = {0};
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	uint32_t nsrc = htonl(src), ndst = htonl(0x7f000001);

	if (len > sizeof(pkt) - 20)
		return false;
	pkt[0] = 0x45;
	pkt[2] = (unsigned char)((20 + len) >> 8);
	pkt[3] = (unsigned char)(20 + len);
	pkt[8] = 64;
	pkt[9] = IPPROTO_ICMP;
	memcpy(pkt + 12, &nsrc, 4);
	memcpy(pkt + 16, &ndst, 4);
	memcpy(pkt + 20, icmp, len);
	return sendto(fd, pkt, 20 + len, 0, (struct sockaddr *)&to, sizeof(to)) ==
	       (ssize_t)(20 + len);
}

/* Makes the kernel of the namespace we are in own, and answer echo for, every address
 * of 2001:2::/64 (RFC 5180's benchmarking range; never outside a namespace of our
 * own). 0, or the exit status of `ip` (or -errno). */
static inline int io_test_local6(void)
{
	return sup_run("ip -6 route add local 2001:2::/64 dev lo", 0, NULL, NULL);
}

/* 2001:2::hi:lo, a benchmarking address (inside a namespace of our own only). */
static inline struct rp_ip io_test_bench6(uint32_t host)
{
	struct rp_ip a = {.w = {0, 0, 0, 0}};

	a.b[0] = 0x20;
	a.b[1] = 0x01;
	a.b[3] = 0x02;
	a.b[12] = (uint8_t)(host >> 24);
	a.b[13] = (uint8_t)(host >> 16);
	a.b[14] = (uint8_t)(host >> 8);
	a.b[15] = (uint8_t)host;
	return a;
}

/* ::1 */
static inline struct rp_ip io_test_lo6(void)
{
	struct rp_ip a = {.w = {0, 0, 0, 0}};

	a.b[15] = 1;
	return a;
}

#endif
