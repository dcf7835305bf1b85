/* rp_names_reverse_all(): the names of addresses (PTR, or the hosts file as c-ares reads
 * it), once each, with a deadline: for `ringprobe ping -n/-d` and fping's -n/-d. The
 * same choice of servers as the forward resolver (names.h): the configured ones only,
 * or the system's configuration read by c-ares. Caller's thread; blocks. */
#include "ringprobe/names.h"

#include <ares.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "ringprobe/xalloc.h"

struct rev {
	char **out;
	size_t i;
	size_t *left;
};

static void got(void *arg, int status, int timeouts, char *node, char *service)
{
	struct rev *r = arg;

	(void)timeouts;
	(void)service;
	if (status == ARES_SUCCESS && node && *node)
		r->out[r->i] = rp_xstrdup(node);
	--*r->left;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int rp_names_reverse_all(const char *servers, const struct rp_ip *addrs, size_t count,
			 uint32_t timeout_ms, char **out, char *why, size_t whylen)
{
	struct ares_options o;
	ares_channel ch;
	struct rev *r;
	size_t left = count;
	uint64_t deadline = mono_ms() + timeout_ms;
	int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES, ret;

	memset(&o, 0, sizeof(o));
	o.timeout = 1000;
	o.tries = 2;
	if (servers) {
		o.lookups = (char *)"b";
		mask |= ARES_OPT_LOOKUPS;
	}
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		snprintf(why, whylen, "c-ares: library initialisation failed");
		return -EIO;
	}
	ret = ares_init_options(&ch, &o, mask);
	if (ret != ARES_SUCCESS) {
		snprintf(why, whylen, "c-ares: %s", ares_strerror(ret));
		ares_library_cleanup();
		return -EIO;
	}
	if (servers && ares_set_servers_ports_csv(ch, servers) != ARES_SUCCESS) {
		snprintf(why, whylen, "bad resolver list (want addr[:port][,addr[:port]...])");
		ares_destroy(ch);
		ares_library_cleanup();
		return -EINVAL;
	}
	r = rp_xcalloc(count ? count : 1, sizeof(*r));
	for (size_t i = 0; i < count; i++) {
		struct sockaddr_storage ss;
		unsigned len = rp_ip_to_sockaddr(&addrs[i], 0, &ss);

		out[i] = NULL;
		r[i] = (struct rev){out, i, &left};
		ares_getnameinfo(ch, (struct sockaddr *)&ss, (ares_socklen_t)len,
				 ARES_NI_LOOKUPHOST | ARES_NI_NAMEREQD, got, &r[i]);
	}
	while (left) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd fds[ARES_GETSOCK_MAXNUM];
		struct timeval tv, *tvp;
		int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM), k = 0, t;
		uint64_t now = mono_ms();

		if (now >= deadline)
			break;
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev = 0;

			if (ARES_GETSOCK_READABLE(bits, i))
				ev |= POLLIN;
			if (ARES_GETSOCK_WRITABLE(bits, i))
				ev |= POLLOUT;
			if (!ev) /* the sockets in use come first (names.c's get_fds) */
				break;
			fds[k++] = (struct pollfd){.fd = socks[i], .events = ev};
		}
		tvp = ares_timeout(ch, NULL, &tv);
		t = tvp ? (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000) : 100;
		if ((uint64_t)t > deadline - now)
			t = (int)(deadline - now);
		if (poll(fds, (nfds_t)k, t) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < k; i++)
			ares_process_fd(ch,
					fds[i].revents & (POLLIN | POLLERR | POLLHUP)
					    ? fds[i].fd
					    : ARES_SOCKET_BAD,
					fds[i].revents & POLLOUT ? fds[i].fd : ARES_SOCKET_BAD);
		ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	}
	ares_destroy(ch); /* calls back what is still pending, with ARES_EDESTRUCTION */
	ares_library_cleanup();
	free(r);
	return 0;
}
