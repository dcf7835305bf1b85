/* The v2c variant of the SNMP poller (struct rp_snmp_ops, src/snmp/snmp_int.h): a few
 * shared net-snmp sessions (one unconnected UDP socket each, PER_SHARED requests in
 * flight each) carry every request; each PDU names its own destination
 * (pdu->transport_data, as net-snmp's agent does for answers) and answers are matched
 * by request ID. Opening a session per request cost 150-250 us of CPU and ~10 KB per
 * request in flight (bench/fleet, 20,000 devices).
 * Threads: open and close run on the owner thread (rp_snmp_create/destroy), the rest
 * on the poller thread. */
#include "snmp/snmp_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ringprobe/xalloc.h"

/* Requests in flight per shared session. net-snmp walks a session's request list for
 * every answer and every timeout check, so one session for 1,700 requests in flight
 * spent most of the poller's CPU there (perf, 20,000 devices at 2,000/s). */
#define PER_SHARED 64
#define MAX_SHARED (RP_SNMP_INFLIGHT_MAX / PER_SHARED)

static int v2c_on_answer(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic);

struct v2c {
	char *community;
	void *shared[MAX_SHARED]; /* the sessions every request goes through */
	int shared_fd[MAX_SHARED];
	uint32_t nshared;
};

/* The sessions every request goes through, one per PER_SHARED requests in flight.
 * Their peer is only a default: each PDU carries its own destination. A large receive
 * buffer keeps a burst of answers from overflowing a socket. */
static int v2c_open(struct rp_snmp *s, const struct rp_conf *c, char *why, size_t whylen)
{
	struct v2c *v = rp_xcalloc(1, sizeof(*v));
	int rcvbuf = 1 << 20;
	char peer[64];

	s->var = v;
	v->community = strdup(c->snmp.community ? c->snmp.community : "public");
	if (!v->community) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	snprintf(peer, sizeof(peer), "udp:127.0.0.1:%u", s->port);
	v->nshared = (s->max_inflight + PER_SHARED - 1) / PER_SHARED;
	for (uint32_t i = 0; i < v->nshared; i++) {
		netsnmp_session ss;

		snmp_sess_init(&ss);
		ss.peername = peer;
		ss.version = SNMP_VERSION_2c;
		ss.community = (u_char *)v->community;
		ss.community_len = strlen(v->community);
		ss.timeout = s->timeout_us;
		ss.retries = s->retries;
		ss.callback = v2c_on_answer;
		ss.callback_magic = s;
		v->shared[i] = snmp_sess_open(&ss);
		if (!v->shared[i]) {
			int liberr = 0, syserr = 0;
			char *msg = NULL;

			snmp_error(&ss, &syserr, &liberr, &msg);
			snprintf(why, whylen, "cannot open an SNMP session: %s",
				 msg ? msg : "unknown");
			free(msg);
			return -EIO;
		}
		v->shared_fd[i] = snmp_sess_transport(v->shared[i])->sock;
		if (setsockopt(v->shared_fd[i], SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
			       sizeof(rcvbuf)) < 0)
			setsockopt(v->shared_fd[i], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	}
	return 0;
}

/* Whether an answer came from where q's GET went: q->addr and the agent port. The
 * sender is what net-snmp's UDP transport recorded for the datagram
 * (pdu->transport_data, a netsnmp_indexed_addr_pair); an answer without one cannot be
 * checked and does not count. */
static bool from_peer(const struct rp_snmp *s, const struct rp_snmp_req *q, const netsnmp_pdu *pdu)
{
	const netsnmp_indexed_addr_pair *from = pdu->transport_data;

	return from && pdu->transport_data_length >= (int)sizeof(*from) &&
	       from->remote_addr.sin.sin_family == AF_INET &&
	       from->remote_addr.sin.sin_addr.s_addr == htonl(rp_ip_to_v4(&q->addr)) &&
	       from->remote_addr.sin.sin_port == htons((uint16_t)s->port);
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

/* The GET goes through the shared session to q->addr (the PDU's own destination,
 * freed with the PDU); its answer comes back on the shared socket. */
static void v2c_begin(struct rp_snmp *s, struct rp_snmp_req *q)
{
	struct v2c *v = s->var;
	netsnmp_pdu *pdu = rp_snmp__get_pdu();
	netsnmp_indexed_addr_pair *to = calloc(1, sizeof(*to));

	/* slot i always uses session i / PER_SHARED: at most PER_SHARED requests each */
	q->sp = v->shared[(uint32_t)(q - s->reqs) / PER_SHARED];
	if (!to || !rp_ip_is_v4(&q->addr)) {
		free(to);
		snmp_free_pdu(pdu);
		rp_snmp__local_error(s, q, "cannot send", NULL, NULL);
		return;
	}
	to->remote_addr.sin.sin_family = AF_INET;
	to->remote_addr.sin.sin_port = htons((uint16_t)s->port);
	to->remote_addr.sin.sin_addr.s_addr = htonl(rp_ip_to_v4(&q->addr));
	pdu->transport_data = to;
	pdu->transport_data_length = sizeof(*to);
	if (!snmp_sess_async_send(q->sp, pdu, v2c_on_answer, rp_snmp__ticket(s, q))) {
		snmp_free_pdu(pdu);
		rp_snmp__local_error(s, q, "cannot send", q->sp, NULL);
	}
}

/* Nothing to release: the shared session outlives its requests. */
static void v2c_end(struct rp_snmp *s, struct rp_snmp_req *q)
{
	(void)s;
	(void)q;
}

/* Every shared session's socket (pfd_key: the session). */
static uint32_t v2c_fds(struct rp_snmp *s, uint32_t inflight)
{
	struct v2c *v = s->var;

	(void)inflight;
	for (uint32_t k = 0; k < v->nshared; k++) {
		s->pfd[k] = (struct pollfd){.fd = v->shared_fd[k], .events = POLLIN};
		s->pfd_key[k] = k;
	}
	return v->nshared;
}

/* Every answer waiting on shared session k's socket (a read takes one datagram and the
 * socket blocks, so poll before each). */
static void v2c_read(struct rp_snmp *s, uint32_t k)
{
	struct v2c *v = s->var;
	struct pollfd p = {.fd = v->shared_fd[k], .events = POLLIN};

	for (int i = 0; i < PER_SHARED && poll(&p, 1, 0) == 1 && (p.revents & POLLIN); i++)
		rp_snmp__read(s, v->shared[k], v->shared_fd[k]);
}

static void v2c_timeouts(struct rp_snmp *s)
{
	struct v2c *v = s->var;

	for (uint32_t k = 0; k < v->nshared; k++)
		snmp_sess_timeout(v->shared[k]);
}

static void v2c_close(struct rp_snmp *s)
{
	struct v2c *v = s->var;

	if (!v)
		return;
	for (uint32_t i = 0; i < v->nshared; i++)
		if (v->shared[i])
			snmp_sess_close(v->shared[i]); /* its requests still out go with it */
	free(v->community);
	free(v);
	s->var = NULL;
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
