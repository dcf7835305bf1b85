/* Network set-up for tests and benchmarks (see support.h). */
#include "support/support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Also called in a forked child (sup_run with SUP_RUN_NETNS) before exec: system calls
 * and strcpy only, nothing that allocates or locks. */
int sup_netns_enter(unsigned flags, const char **what)
{
	struct ifreq ifr = {0};
	const char *step;
	int fd, ret = 0;

	if (!what)
		what = &step;
	*what = "unshare(CLONE_NEWNET)";
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	if (!(flags & SUP_NETNS_LO_UP))
		return 0;
	*what = "socket";
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	*what = "SIOCGIFFLAGS lo";
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		ret = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP;
		*what = "SIOCSIFFLAGS lo";
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			ret = -errno;
	}
	close(fd);
	return ret;
}

int sup_sysctl_set(const char *path, const char *value)
{
	size_t len = strlen(value);
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

/* Binds a socket of `type` to 127.0.0.1 port 0 and returns the port the kernel chose. */
static int free_port(int type)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		ret = ntohs(a.sin_port);
	else
		ret = -errno;
	close(fd);
	return ret;
}

int sup_free_port(void)
{
	return free_port(SOCK_STREAM);
}

int sup_free_udp_port(void)
{
	return free_port(SOCK_DGRAM);
}
