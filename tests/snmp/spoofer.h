/* A hostile SNMP device and a slow relay for the poller's spoofing test (test_snmp.c),
 * all on 127.0.0.0/8 and the agent's port:
 *   hostile  127.0.0.2:port, a device of the fleet: on its own GET it learns its request ID
 *            and at once sends GetResponses for the IDs around it (own ± SPOOF_SPAN) with
 *            sysName SPOOF_NAME to the poller's source port, first from sidedoor
 *            (127.0.0.3, the honest device's address, another port), then from its own
 *            socket; last it answers its own GET (sysName SPOOF_OWN_NAME).
 *   relay    127.0.0.3:port, the honest device: forwards each GET to the real snmpd on
 *            127.0.0.1:port only once the forgeries went out, and the agent's answer back.
 * spoof_start6 sets up the same over IPv6, in a network namespace of the test's own where
 * lo holds SPOOF6_HOSTILE and SPOOF6_HONEST (2001:2::/48): the relay forwards to the agent
 * on [::1]:port, and a third forger, an IPv4 socket on 127.0.0.2:port, sends the same
 * forgeries to 127.0.0.1 and the poller's source port, which reach a dual-stack IPv6
 * socket as from ::ffff:127.0.0.2.
 * Loopback delivers a datagram into the receiving socket's queue within sendto, so every
 * forgery is queued at the poller before the real answer: the race is decided, not timed.
 * Threads: spoof_start and spoof_stop on the test's thread; one thread each for the hostile
 * device and the relay, which share only the atomics. */
#ifndef RP_TESTS_SPOOFER_H
#define RP_TESTS_SPOOFER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ringprobe/addr.h"

#define SPOOF_HOSTILE_ADDR 0x7f000002u
#define SPOOF_HONEST_ADDR 0x7f000003u
#define SPOOF6_HOSTILE "2001:2::2"
#define SPOOF6_HONEST "2001:2::3"
#define SPOOF_NAME "EVIL-renamed"
#define SPOOF_OWN_NAME "hostile-own"
#define SPOOF_SPAN 4

struct spoofer {
	int hostile_fd;	 /* 127.0.0.2:port (v6: [SPOOF6_HOSTILE]:port) */
	int sidedoor_fd; /* 127.0.0.3:ephemeral (v6: [SPOOF6_HONEST]:ephemeral) */
	int relay_fd;	 /* 127.0.0.3:port (v6: [SPOOF6_HONEST]:port) */
	int upstream_fd; /* connected to snmpd, 127.0.0.1:port (v6: [::1]:port) */
	int v4_fd;	 /* v6 only: 127.0.0.2:port, forging to the poller's port; else -1 */
	pthread_t hostile, relay;
	bool hostile_up, relay_up;
	atomic_bool stop, forged;
	atomic_uint forgeries; /* forged datagrams sent */
	atomic_uint relayed;   /* agent answers passed back */
};

/* A BER length at p[*i] (short form, or long form of one or two bytes); -1 if malformed. */
static inline long spoof_ber_len(const uint8_t *p, size_t n, size_t *i)
{
	unsigned k;
	long v = 0;

	if (*i >= n)
		return -1;
	if (p[*i] < 0x80)
		return p[(*i)++];
	k = p[(*i)++] & 0x7fu;
	if (k == 0 || k > 2 || *i + k > n)
		return -1;
	while (k--)
		v = v << 8 | p[(*i)++];
	return v;
}

/* Skips one TLV of tag `tag` at p[*i]; its content length, or -1. */
static inline long spoof_ber_skip(const uint8_t *p, size_t n, size_t *i, uint8_t tag, bool into)
{
	long l;

	if (*i >= n || p[(*i)++] != tag)
		return -1;
	l = spoof_ber_len(p, n, i);
	if (l < 0 || *i + (size_t)l > n)
		return -1;
	if (!into)
		*i += (size_t)l;
	return l;
}

/* The request ID of a v2c GetRequest; false when p is not one. */
static inline bool spoof_get_reqid(const uint8_t *p, size_t n, int32_t *id)
{
	size_t i = 0;
	uint32_t v;
	long l;

	if (spoof_ber_skip(p, n, &i, 0x30, true) < 0 || spoof_ber_skip(p, n, &i, 0x02, false) < 0 ||
	    spoof_ber_skip(p, n, &i, 0x04, false) < 0 || spoof_ber_skip(p, n, &i, 0xa0, true) < 0)
		return false;
	l = spoof_ber_skip(p, n, &i, 0x02, true);
	if (l < 1 || l > 4)
		return false;
	v = (p[i] & 0x80) ? UINT32_MAX : 0;
	for (long k = 0; k < l; k++)
		v = v << 8 | p[i + (size_t)k];
	*id = (int32_t)v;
	return true;
}

/* A v2c GetResponse (community "public") to request `id`: sysName.0 = name (< 64 bytes).
 * Returns its length. */
static inline size_t spoof_response(uint8_t *out, int32_t id, const char *name)
{
	static const uint8_t sysname[] = {0x06, 0x08, 0x2b, 0x06, 0x01,
					  0x02, 0x01, 0x01, 0x05, 0x00};
	uint8_t b[4] = {(uint8_t)((uint32_t)id >> 24), (uint8_t)((uint32_t)id >> 16),
			(uint8_t)((uint32_t)id >> 8), (uint8_t)id};
	size_t skip = 0, nid, nl = strlen(name), vb, vbl, pdu, msg, k = 0;

	/* the shortest two's complement, as BER wants */
	while (skip < 3 && ((b[skip] == 0 && !(b[skip + 1] & 0x80)) ||
			    (b[skip] == 0xff && (b[skip + 1] & 0x80))))
		skip++;
	nid = 4 - skip;
	vb = sizeof(sysname) + 2 + nl;
	vbl = 2 + vb;
	pdu = (2 + nid) + 3 + 3 + (2 + vbl);
	msg = 3 + 8 + (2 + pdu);
	out[k++] = 0x30, out[k++] = (uint8_t)msg;
	out[k++] = 0x02, out[k++] = 0x01, out[k++] = 0x01; /* version: v2c */
	out[k++] = 0x04, out[k++] = 0x06;
	memcpy(out + k, "public", 6), k += 6;
	out[k++] = 0xa2, out[k++] = (uint8_t)pdu; /* GetResponse-PDU */
	out[k++] = 0x02, out[k++] = (uint8_t)nid;
	memcpy(out + k, b + skip, nid), k += nid;
	out[k++] = 0x02, out[k++] = 0x01, out[k++] = 0x00; /* error-status */
	out[k++] = 0x02, out[k++] = 0x01, out[k++] = 0x00; /* error-index */
	out[k++] = 0x30, out[k++] = (uint8_t)vbl;
	out[k++] = 0x30, out[k++] = (uint8_t)vb;
	memcpy(out + k, sysname, sizeof(sysname)), k += sizeof(sysname);
	out[k++] = 0x04, out[k++] = (uint8_t)nl;
	memcpy(out + k, name, nl), k += nl;
	return k;
}

/* Waits up to ms for fd to be readable, then takes one datagram; its length or -1. */
static inline ssize_t spoof_recv(int fd, uint8_t *buf, size_t n, struct sockaddr_storage *from,
				 socklen_t *fl, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	*fl = sizeof(*from);
	if (poll(&p, 1, ms) != 1)
		return -1;
	return recvfrom(fd, buf, n, 0, (struct sockaddr *)from, fl);
}

static inline void *spoof_hostile_main(void *arg)
{
	struct spoofer *x = arg;
	uint8_t buf[1500], out[128];

	while (!atomic_load(&x->stop)) {
		struct sockaddr_storage from, to4;
		socklen_t fl;
		ssize_t got = spoof_recv(x->hostile_fd, buf, sizeof(buf), &from, &fl, 10);
		struct rp_ip lo4 = rp_ip_v4(0x7f000001u), src;
		uint16_t port = 0;
		int32_t id;
		size_t n;

		if (got <= 0 || !spoof_get_reqid(buf, (size_t)got, &id))
			continue;
		rp_ip_from_sockaddr(&from, fl, &src, &port);
		/* the v4 forger aims at 127.0.0.1 and the port the GET came from */
		socklen_t l4 = rp_ip_to_sockaddr(&lo4, port, &to4);
		if (!atomic_load(&x->forged)) {
			for (int pass = 0; pass < 3; pass++) {
				int fd = pass == 0   ? x->sidedoor_fd
					 : pass == 1 ? x->hostile_fd
						     : x->v4_fd;
				const struct sockaddr_storage *to = pass == 2 ? &to4 : &from;
				socklen_t tl = pass == 2 ? l4 : fl;

				for (int32_t k = -SPOOF_SPAN; fd >= 0 && k <= SPOOF_SPAN; k++) {
					if (k == 0)
						continue;
					n = spoof_response(out, id + k, SPOOF_NAME);
					if (sendto(fd, out, n, 0, (const struct sockaddr *)to,
						   tl) == (ssize_t)n)
						atomic_fetch_add(&x->forgeries, 1);
				}
			}
			atomic_store(&x->forged, true);
		}
		n = spoof_response(out, id, SPOOF_OWN_NAME);
		sendto(x->hostile_fd, out, n, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static inline void *spoof_relay_main(void *arg)
{
	struct spoofer *x = arg;
	uint8_t buf[1500], ans[1500];

	while (!atomic_load(&x->stop)) {
		struct sockaddr_storage from, up;
		socklen_t fl, ul;
		ssize_t got = spoof_recv(x->relay_fd, buf, sizeof(buf), &from, &fl, 10), back;

		if (got <= 0)
			continue;
		/* the honest device is slow: its answer leaves after every forgery */
		for (int i = 0; i < 500 && !atomic_load(&x->forged) && !atomic_load(&x->stop); i++)
			usleep(10000);
		if (send(x->upstream_fd, buf, (size_t)got, 0) != got)
			continue;
		back = spoof_recv(x->upstream_fd, ans, sizeof(ans), &up, &ul, 5000);
		if (back <= 0)
			continue;
		/* counted before it leaves: once sent, the poller may have its result (and the
		 * test its check) before this thread runs again */
		atomic_fetch_add(&x->relayed, 1);
		sendto(x->relay_fd, ans, (size_t)back, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

/* A UDP socket bound to addr:port (port 0: any), connected to peer:peer_port if peer is
 * not NULL; the family is addr's. IPv6 sockets are IPv6 only. */
static inline int spoof_socket_ip(const struct rp_ip *addr, uint16_t port, const struct rp_ip *peer,
				  uint16_t peer_port)
{
	struct sockaddr_storage a;
	socklen_t len = rp_ip_to_sockaddr(addr, port, &a);
	int fd = socket(a.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	if (a.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&a, len) < 0)
		goto fail;
	if (peer) {
		len = rp_ip_to_sockaddr(peer, peer_port, &a);
		if (connect(fd, (struct sockaddr *)&a, len) < 0)
			goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* spoof_socket_ip for IPv4 addresses in host order (peer 0: not connected). */
static inline int spoof_socket(uint32_t addr, uint16_t port, uint32_t peer, uint16_t peer_port)
{
	struct rp_ip a = rp_ip_v4(addr), p = rp_ip_v4(peer);

	return spoof_socket_ip(&a, port, peer ? &p : NULL, peer_port);
}

static inline void spoof_stop(struct spoofer *x)
{
	atomic_store(&x->stop, true);
	if (x->hostile_up)
		pthread_join(x->hostile, NULL);
	if (x->relay_up)
		pthread_join(x->relay, NULL);
	x->hostile_up = x->relay_up = false;
	for (int i = 0; i < 5; i++) {
		int *fd = i == 0   ? &x->hostile_fd
			  : i == 1 ? &x->sidedoor_fd
			  : i == 2 ? &x->relay_fd
			  : i == 3 ? &x->upstream_fd
				   : &x->v4_fd;

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

/* Starts the threads once the sockets are open. */
static inline bool spoof_run(struct spoofer *x, char *why, size_t whylen)
{
	if (pthread_create(&x->hostile, NULL, spoof_hostile_main, x) != 0) {
		snprintf(why, whylen, "pthread_create failed");
		return false;
	}
	x->hostile_up = true;
	if (pthread_create(&x->relay, NULL, spoof_relay_main, x) != 0) {
		snprintf(why, whylen, "pthread_create failed");
		return false;
	}
	x->relay_up = true;
	return true;
}

/** Starts the hostile device and the relay in front of the agent on 127.0.0.1:port; false
 *  with why. The caller stops them with spoof_stop (also after a failed start). */
static inline bool spoof_start(struct spoofer *x, uint16_t port, char *why, size_t whylen)
{
	memset(x, 0, sizeof(*x));
	x->v4_fd = -1;
	x->hostile_fd = spoof_socket(SPOOF_HOSTILE_ADDR, port, 0, 0);
	x->sidedoor_fd = spoof_socket(SPOOF_HONEST_ADDR, 0, 0, 0);
	x->relay_fd = spoof_socket(SPOOF_HONEST_ADDR, port, 0, 0);
	x->upstream_fd = spoof_socket(0x7f000001u, 0, 0x7f000001u, port);
	if (x->hostile_fd < 0 || x->sidedoor_fd < 0 || x->relay_fd < 0 || x->upstream_fd < 0) {
		snprintf(why, whylen, "spoofer sockets on 127.0.0.2/3 port %u: %s", (unsigned)port,
			 strerror(errno));
		return false;
	}
	return spoof_run(x, why, whylen);
}

/** The same over IPv6 (see the top): lo must hold SPOOF6_HOSTILE and SPOOF6_HONEST and the
 *  agent listen on [::1]:port. */
static inline bool spoof_start6(struct spoofer *x, uint16_t port, char *why, size_t whylen)
{
	struct rp_ip hostile, honest, lo6;

	memset(x, 0, sizeof(*x));
	x->hostile_fd = x->sidedoor_fd = x->relay_fd = x->upstream_fd = x->v4_fd = -1;
	if (!rp_ip_parse(SPOOF6_HOSTILE, &hostile) || !rp_ip_parse(SPOOF6_HONEST, &honest) ||
	    !rp_ip_parse("::1", &lo6)) {
		snprintf(why, whylen, "cannot parse the spoofer's addresses");
		return false;
	}
	x->hostile_fd = spoof_socket_ip(&hostile, port, NULL, 0);
	x->sidedoor_fd = spoof_socket_ip(&honest, 0, NULL, 0);
	x->relay_fd = spoof_socket_ip(&honest, port, NULL, 0);
	x->upstream_fd = spoof_socket_ip(&lo6, 0, &lo6, port);
	x->v4_fd = spoof_socket(SPOOF_HOSTILE_ADDR, port, 0, 0);
	if (x->hostile_fd < 0 || x->sidedoor_fd < 0 || x->relay_fd < 0 || x->upstream_fd < 0 ||
	    x->v4_fd < 0) {
		snprintf(why, whylen, "spoofer sockets on %s, %s, ::1, 127.0.0.2 port %u: %s",
			 SPOOF6_HOSTILE, SPOOF6_HONEST, (unsigned)port, strerror(errno));
		return false;
	}
	return spoof_run(x, why, whylen);
}

#endif
