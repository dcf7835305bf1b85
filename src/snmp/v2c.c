/* The v2c variant of the SNMP poller (struct rp_snmp_ops, src/snmp/snmp_int.h): a few
 * shared net-snmp sessions (one unconnected UDP socket each, RP_SNMP_PER_SHARED requests
 * in flight each) carry every request; each PDU names its own destination
 * (pdu->transport_data, as net-snmp's agent does for answers) and answers are matched
 * by request ID. Opening a session per request cost 150-250 us of CPU and ~10 KB per
 * request in flight (bench/fleet, 20,000 devices).
 *
 * Two families, two sets of sessions: "udp" ones (AF_INET sockets) opened at create, and
 * "udp6" ones (AF_INET6) opened on the poller thread by the first IPv6 request of their
 * group of slots, so an IPv4 fleet holds no IPv6 socket and a host without IPv6 starts
 * as before; there, IPv6 requests end at once as local errors saying so (one try to open
 * a session a second at most) and IPv4 goes on.
 *
 * What net-snmp 5.9.3 wants in pdu->transport_data (snmplib/transports/):
 *   udp   netsnmp_udpbase_send takes a netsnmp_indexed_addr_pair (or a bare sockaddr_in);
 *         netsnmp_udpipv4_recv records the sender as one (snmpUDPIPv4BaseDomain.c).
 *   udp6  netsnmp_udp6_send takes a bare struct sockaddr_in6, of exactly that length: with
 *         any other length it sends to the session's own peer instead, silently
 *         (snmpUDPIPv6Domain.c); netsnmp_udp6_recv records the sender as a bare
 *         sockaddr_in6 of that length.
 * snmp_free_pdu frees transport_data with the PDU.
 * Threads: open and close run on the owner thread (rp_snmp_create/destroy), the rest
 * on the poller thread. */
#include "snmp/snmp_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ringprobe/addr.h"
#include "ringprobe/xalloc.h"

/* Requests in flight per shared session (RP_SNMP_PER_SHARED). net-snmp walks a session's
 * request list for every answer and every timeout check, so one session for 1,700
 * requests in flight spent most of the poller's CPU there (perf, 20,000 devices at
 * 2,000/s). */
#define PER_SHARED RP_SNMP_PER_SHARED
#define MAX_SHARED RP_SNMP_MAX_SHARED
/* The families of shared sessions, and how long a failed udp6 open is not retried. */
#define FAM_V4 0
#define FAM_V6 1
#define V6_RETRY_NS 1000000000ull

static int v2c_on_answer(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic);

struct v2c {
	char *community;
	/* [FAM_V4]: open from create on; [FAM_V6]: NULL until an IPv6 request needs one */
	void *shared[2][MAX_SHARED];
	int shared_fd[2][MAX_SHARED];
	uint32_t nshared;     /* per family */
	uint64_t v6_retry_ns; /* after a failed udp6 open: no new try before (MONOTONIC) */
	char v6_why[96];      /* why that open failed: the detail of IPv6 requests meanwhile */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Opens shared session k of family fam. Its peer (the loopback address of the family)
 * is only a default: each PDU carries its own destination. A large receive buffer keeps
 * a burst of answers from overflowing a socket. 0, or -EIO with net-snmp's words. */
static int open_shared(struct rp_snmp *s, const struct rp_snmp_prof *p, struct v2c *v, int fam,
		       uint32_t k, char *why, size_t whylen)
{
	int rcvbuf = 1 << 20;
	netsnmp_session ss;
	char peer[64];

	if (fam == FAM_V4)
		snprintf(peer, sizeof(peer), "udp:127.0.0.1:%u", p->port);
	else
		snprintf(peer, sizeof(peer), "udp6:[::1]:%u", p->port);
	snmp_sess_init(&ss);
	ss.peername = peer;
	ss.version = SNMP_VERSION_2c;
	ss.community = (u_char *)v->community;
	ss.community_len = strlen(v->community);
	ss.timeout = p->timeout_us;
	ss.retries = p->retries;
	ss.callback = v2c_on_answer;
	ss.callback_magic = s;
	v->shared[fam][k] = snmp_sess_open(&ss);
	if (!v->shared[fam][k]) {
		int liberr = 0, syserr = 0;
		char *msg = NULL;

		snmp_error(&ss, &syserr, &liberr, &msg);
		snprintf(why, whylen, "cannot open a %s session: %s",
			 fam == FAM_V4 ? "UDP" : "UDP/IPv6", msg ? msg : "unknown");
		free(msg);
		return -EIO;
	}
	v->shared_fd[fam][k] = snmp_sess_transport(v->shared[fam][k])->sock;
	if (setsockopt(v->shared_fd[fam][k], SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) <
	    0)
		setsockopt(v->shared_fd[fam][k], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return 0;
}

/* The IPv4 sessions every IPv4 request goes through, one per PER_SHARED requests in
 * flight; the IPv6 ones come later (open_v6). */
static int v2c_open(struct rp_snmp *s, struct rp_snmp_prof *p, const struct rp_conf *c, char *why,
		    size_t whylen)
{
	struct v2c *v = rp_xcalloc(1, sizeof(*v));

	p->var = v;
	v->community = strdup(c->snmp.community ? c->snmp.community : "public");
	if (!v->community) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	v->nshared = (s->max_inflight + PER_SHARED - 1) / PER_SHARED;
	for (uint32_t i = 0; i < v->nshared; i++) {
		int ret = open_shared(s, p, v, FAM_V4, i, why, whylen);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Opens udp6 session k for the first IPv6 request of its slots (poller thread: a socket
 * and a bind, no packet). After a failure, IPv6 requests fail with its reason for
 * V6_RETRY_NS before the next try. A host without IPv6 is told apart from net-snmp's
 * failures (whose message only names the peer) by trying socket(AF_INET6) ourselves. */
static bool open_v6(struct rp_snmp *s, const struct rp_snmp_prof *p, struct v2c *v, uint32_t k)
{
	int fd;

	if (v->v6_retry_ns && (int64_t)(mono_ns() - v->v6_retry_ns) < 0)
		return false;
	if (open_shared(s, p, v, FAM_V6, k, v->v6_why, sizeof(v->v6_why)) == 0) {
		v->v6_retry_ns = 0;
		return true;
	}
	v->v6_retry_ns = mono_ns() + V6_RETRY_NS;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		snprintf(v->v6_why, sizeof(v->v6_why), "no IPv6 on this host: socket(AF_INET6): %s",
			 strerror(errno));
	else
		close(fd);
	return false;
}

/* Whether an answer came from where q's GET went: q->addr and the agent port. The
 * sender is what net-snmp's transport recorded for the datagram (pdu->transport_data):
 * udp6 a bare struct sockaddr_in6, udp a netsnmp_indexed_addr_pair (see the top). An
 * IPv4 datagram to a udp6 socket (dual-stack: net-snmp sets IPV6_V6ONLY on listening
 * sockets only) shows as a mapped address, which rp_ip_from_sockaddr reads as IPv4: it
 * matches no IPv6 request. An answer without a sender cannot be checked: it does not
 * count. */
static bool from_peer(const struct rp_snmp *s, const struct rp_snmp_req *q, const netsnmp_pdu *pdu)
{
	const netsnmp_indexed_addr_pair *pair = pdu->transport_data;
	const void *sa = pdu->transport_data;
	unsigned len = (unsigned)pdu->transport_data_length;
	struct rp_ip ip;
	uint16_t port;

	if (!sa || pdu->transport_data_length <= 0)
		return false;
	if (len != sizeof(struct sockaddr_in6)) {
		if (len < sizeof(*pair))
			return false;
		sa = &pair->remote_addr;
		len = sizeof(pair->remote_addr);
	}
	return rp_ip_from_sockaddr(sa, len, &ip, &port) && rp_ip_eq(&ip, &q->addr) &&
	       port == (uint16_t)s->prof[q->prof].port;
}

/* net-snmp's callback for v2c requests (poller thread). net-snmp matches a v1/v2c answer
 * to its request by request ID alone, and the IDs are one process-wide sequence: a device
 * that sees its own ID can answer its neighbours' and rename them. An answer from another
 * address or port than the request's is counted (snmp_spoofed) and ignored: returning 0
 * keeps net-snmp's request waiting (snmp_api.c deletes a request only when its callback
 * returns 1), so the device's own answer, the retries and the timeout still apply. */
static int v2c_on_answer(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic)
{
	struct rp_snmp *s = sess ? sess->callback_magic : NULL;
	uint64_t t = (uint64_t)(uintptr_t)magic;
	const struct rp_snmp_req *q;

	if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || !pdu || !s ||
	    (t >> 32) >= s->max_inflight)
		return rp_snmp__on_answer(op, sess, reqid, pdu, magic);
	q = &s->reqs[t >> 32];
	if (q->busy && q->gen == (uint32_t)t && !q->done && !from_peer(s, q, pdu)) {
		atomic_fetch_add_explicit(&s->spoofed, 1, memory_order_relaxed);
		return 0;
	}
	return rp_snmp__on_answer(op, sess, reqid, pdu, magic);
}

/* The destination of q's GET as net-snmp's transport for its family wants it (see the
 * top), allocated: the PDU owns it. NULL when out of memory. */
static void *destination(const struct rp_snmp *s, const struct rp_snmp_req *q, int *len)
{
	netsnmp_indexed_addr_pair *to;
	struct sockaddr_in6 *to6;

	if (rp_ip_is_v4(&q->addr)) {
		to = calloc(1, sizeof(*to));
		if (!to)
			return NULL;
		to->remote_addr.sin.sin_family = AF_INET;
		to->remote_addr.sin.sin_port = htons((uint16_t)s->prof[q->prof].port);
		to->remote_addr.sin.sin_addr.s_addr = htonl(rp_ip_to_v4(&q->addr));
		*len = sizeof(*to);
		return to;
	}
	to6 = calloc(1, sizeof(*to6));
	if (!to6)
		return NULL;
	to6->sin6_family = AF_INET6;
	to6->sin6_port = htons((uint16_t)s->prof[q->prof].port);
	memcpy(to6->sin6_addr.s6_addr, q->addr.b, 16);
	*len = sizeof(*to6); /* exactly: netsnmp_udp6_send ignores any other length */
	return to6;
}

/* The GET goes through the shared session of q's family to q->addr (the PDU's own
 * destination, freed with the PDU); its answer comes back on that session's socket. */
static void v2c_begin(struct rp_snmp *s, struct rp_snmp_prof *p, struct rp_snmp_req *q)
{
	struct v2c *v = p->var;
	/* slot i always uses session i / PER_SHARED: at most PER_SHARED requests each */
	uint32_t k = (uint32_t)(q - s->reqs) / PER_SHARED;
	int fam = rp_ip_is_v4(&q->addr) ? FAM_V4 : FAM_V6;
	netsnmp_pdu *pdu;
	void *to;
	int len = 0;

	if (fam == FAM_V6 && !v->shared[fam][k] && !open_v6(s, p, v, k)) {
		rp_snmp__local_error(s, q, v->v6_why, NULL, NULL);
		return;
	}
	q->sp = v->shared[fam][k];
	to = destination(s, q, &len);
	if (!to) {
		rp_snmp__local_error(s, q, "cannot send: out of memory", NULL, NULL);
		return;
	}
	pdu = rp_snmp__get_pdu();
	pdu->transport_data = to;
	pdu->transport_data_length = len;
	if (!snmp_sess_async_send(q->sp, pdu, v2c_on_answer, rp_snmp__ticket(s, q))) {
		snmp_free_pdu(pdu);
		rp_snmp__local_error(s, q, "cannot send", q->sp, NULL);
	}
}

/* Nothing to release: the shared session outlives its requests. */
static void v2c_end(struct rp_snmp *s, struct rp_snmp_prof *p, struct rp_snmp_req *q)
{
	(void)s;
	(void)p;
	(void)q;
}

/* Every open shared session's socket (pfd_key: family x MAX_SHARED + session). */
static uint32_t v2c_fds(struct rp_snmp *s, struct rp_snmp_prof *p, uint32_t inflight, uint32_t n)
{
	struct v2c *v = p->var;

	(void)inflight;
	for (int fam = FAM_V4; fam <= FAM_V6; fam++)
		for (uint32_t k = 0; k < v->nshared; k++) {
			if (!v->shared[fam][k])
				continue;
			s->pfd[n] = (struct pollfd){.fd = v->shared_fd[fam][k], .events = POLLIN};
			s->pfd_key[n++] = (uint32_t)fam * MAX_SHARED + k;
		}
	return n;
}

/* Every answer waiting on the socket of shared session `key` (see v2c_fds); a read takes
 * one datagram and the socket blocks, so poll before each. */
static void v2c_read(struct rp_snmp *s, struct rp_snmp_prof *prof, uint32_t key)
{
	struct v2c *v = prof->var;
	uint32_t fam = key / MAX_SHARED, k = key % MAX_SHARED;
	struct pollfd p = {.fd = v->shared_fd[fam][k], .events = POLLIN};

	for (int i = 0; i < PER_SHARED && poll(&p, 1, 0) == 1 && (p.revents & POLLIN); i++)
		rp_snmp__read(s, v->shared[fam][k], v->shared_fd[fam][k]);
}

static void v2c_timeouts(struct rp_snmp *s, struct rp_snmp_prof *p)
{
	struct v2c *v = p->var;

	(void)s;

	for (int fam = FAM_V4; fam <= FAM_V6; fam++)
		for (uint32_t k = 0; k < v->nshared; k++)
			if (v->shared[fam][k])
				snmp_sess_timeout(v->shared[fam][k]);
}

static void v2c_close(struct rp_snmp *s, struct rp_snmp_prof *p)
{
	struct v2c *v = p->var;

	(void)s;

	if (!v)
		return;
	for (int fam = FAM_V4; fam <= FAM_V6; fam++)
		for (uint32_t i = 0; i < v->nshared; i++)
			if (v->shared[fam][i])
				snmp_sess_close(v->shared[fam][i]); /* its requests go with it */
	if (v->community)
		explicit_bzero(v->community, strlen(v->community));
	free(v->community);
	free(v);
	p->var = NULL;
}

const struct rp_snmp_ops rp_snmp__v2c_ops = {
    .name = "v2c",
    .open = v2c_open,
    .begin = v2c_begin,
    .end = v2c_end,
    .fds = v2c_fds,
    .read = v2c_read,
    .timeouts = v2c_timeouts,
    .close = v2c_close,
};
