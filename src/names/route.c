/* rp_names_routed_family(): which address families this host can reach beyond itself,
 * for `address_family: both` ("both where the host has a route"). */
#include "ringprobe/names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* Whether the kernel has a route to addr: connect() on a UDP socket looks the route up
 * and sends nothing. */
static bool routed(int af, const void *sa, socklen_t len)
{
	int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, sa, len) == 0;
	close(fd);
	return ok;
}

int rp_names_routed_family(void)
{
	/* Documentation addresses (RFC 5737, RFC 3849): any default route covers them. */
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(53)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(53)};
	bool has4, has6;

	inet_pton(AF_INET, "192.0.2.1", &v4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
	has4 = routed(AF_INET, &v4, sizeof(v4));
	has6 = routed(AF_INET6, &v6, sizeof(v6));
	if (has4 && has6)
		return 0;
	if (has4)
		return 4;
	if (has6)
		return 6;
	return -ENETUNREACH;
}
