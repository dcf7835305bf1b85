/* The v3 variant of the SNMP poller (struct rp_snmp_ops, src/snmp/snmp_int.h): a session
 * per request (snmp_sess_open; net-snmp's synchronous engine ID probe runs in the first
 * send), since USM keys and engine IDs are per session; closed when the request ends.
 * The keys are derived from the passphrases once, at create.
 * Threads: open and close run on the owner thread (rp_snmp_create/destroy), the rest
 * on the poller thread. */
#include "snmp/snmp_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/addr.h"
#include "ringprobe/xalloc.h"

struct v3 {
	char *user;
	int seclevel;
	oid *auth_proto, *priv_proto;
	size_t auth_proto_len, priv_proto_len;
	u_char auth_ku[USM_AUTH_KU_LEN], priv_ku[USM_PRIV_KU_LEN];
	size_t auth_ku_len, priv_ku_len;
};

static int derive_keys(struct v3 *v, const struct rp_conf *c, char *why, size_t whylen)
{
	static oid des[] = {1, 3, 6, 1, 6, 3, 10, 1, 2, 2};
	const char *ap = c->snmp.v3.auth_password ? c->snmp.v3.auth_password : "";
	const char *pp = c->snmp.v3.priv_password ? c->snmp.v3.priv_password : "";

	switch (c->snmp.v3.auth_protocol) {
	case RP_SNMP_AUTH_MD5:
		v->auth_proto = usmHMACMD5AuthProtocol;
		break;
	case RP_SNMP_AUTH_SHA256:
		v->auth_proto = usmHMAC192SHA256AuthProtocol;
		break;
	case RP_SNMP_AUTH_SHA512:
		v->auth_proto = usmHMAC384SHA512AuthProtocol;
		break;
	default:
		v->auth_proto = usmHMACSHA1AuthProtocol;
	}
	v->auth_proto_len = USM_AUTH_PROTO_SHA_LEN;
	v->priv_proto = c->snmp.v3.priv_protocol == RP_SNMP_PRIV_DES ? des : usmAESPrivProtocol;
	v->priv_proto_len = USM_AUTH_PROTO_SHA_LEN;
	if (v->seclevel == SNMP_SEC_LEVEL_NOAUTH)
		return 0;
	v->auth_ku_len = sizeof(v->auth_ku);
	if (generate_Ku(v->auth_proto, (u_int)v->auth_proto_len, (const u_char *)ap, strlen(ap),
			v->auth_ku, &v->auth_ku_len) != SNMPERR_SUCCESS) {
		snprintf(why, whylen,
			 "snmp.v3.auth_password: cannot derive the authentication key");
		return -EINVAL;
	}
	if (v->seclevel != SNMP_SEC_LEVEL_AUTHPRIV)
		return 0;
	/* RFC 3414: the privacy key is derived with the authentication hash. */
	v->priv_ku_len = sizeof(v->priv_ku);
	if (generate_Ku(v->auth_proto, (u_int)v->auth_proto_len, (const u_char *)pp, strlen(pp),
			v->priv_ku, &v->priv_ku_len) != SNMPERR_SUCCESS) {
		snprintf(why, whylen, "snmp.v3.priv_password: cannot derive the privacy key");
		return -EINVAL;
	}
	return 0;
}

/* net-snmp keeps one USM user per (engine ID, name) for the whole process and copies a
 * session's protocols and keys into it only when it creates it
 * (usm_create_user_from_session: `if (user->authKey == NULL)`): a poller created after
 * another with other passphrases would go on with the first ones. Drops every user
 * called `name`, so the next sessions build theirs from this poller's keys (and the
 * entries of past devices are freed). Owner thread, while no poller thread runs. */
static void forget_usm_users(const char *name)
{
	struct usmUser *u = usm_get_userList(), *next;

	for (; u; u = next) {
		next = u->next;
		if (u->name && strcmp(u->name, name) == 0) {
			usm_remove_user(u);
			usm_free_user(u);
		}
	}
}

static int v3_open(struct rp_snmp *s, struct rp_snmp_prof *p, const struct rp_conf *c, char *why,
		   size_t whylen)
{
	struct v3 *v = rp_xcalloc(1, sizeof(*v));
	int ret;

	(void)s;
	p->var = v;
	v->user = strdup(c->snmp.v3.username ? c->snmp.v3.username : "");
	if (!v->user) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	v->seclevel = c->snmp.v3.security_level == RP_SNMP_AUTHPRIV	? SNMP_SEC_LEVEL_AUTHPRIV
		      : c->snmp.v3.security_level == RP_SNMP_AUTHNOPRIV ? SNMP_SEC_LEVEL_AUTHNOPRIV
									: SNMP_SEC_LEVEL_NOAUTH;
	ret = derive_keys(v, c, why, whylen);
	if (ret < 0)
		return ret;
	forget_usm_users(v->user);
	return 0;
}

/* Opens q's own session to q->addr and sends the GET (net-snmp probes the engine ID
 * first, synchronously: the poller thread waits up to snmp.timeout x (retries + 1)). */
static void v3_begin(struct rp_snmp *s, struct rp_snmp_prof *p, struct rp_snmp_req *q)
{
	struct v3 *v = p->var;
	netsnmp_session ss;
	netsnmp_pdu *pdu;
	char peer[96], ip[RP_IP_STRLEN];

	rp_ip_format(&q->addr, ip);
	if (rp_ip_is_v4(&q->addr))
		snprintf(peer, sizeof(peer), "udp:%s:%u", ip, p->port);
	else
		snprintf(peer, sizeof(peer), "udp6:[%s]:%u", ip, p->port);
	snmp_sess_init(&ss);
	ss.peername = peer;
	ss.timeout = p->timeout_us;
	ss.retries = p->retries;
	ss.callback = rp_snmp__on_answer;
	ss.callback_magic = s;
	ss.version = SNMP_VERSION_3;
	ss.securityName = v->user;
	ss.securityNameLen = strlen(v->user);
	ss.securityLevel = v->seclevel;
	ss.securityAuthProto = v->auth_proto;
	ss.securityAuthProtoLen = v->auth_proto_len;
	ss.securityPrivProto = v->priv_proto;
	ss.securityPrivProtoLen = v->priv_proto_len;
	ss.securityAuthKeyLen = v->auth_ku_len;
	memcpy(ss.securityAuthKey, v->auth_ku, v->auth_ku_len);
	ss.securityPrivKeyLen = v->priv_ku_len;
	memcpy(ss.securityPrivKey, v->priv_ku, v->priv_ku_len);
	q->sp = snmp_sess_open(&ss);
	if (!q->sp) {
		rp_snmp__local_error(s, q, "cannot open a session", NULL, &ss);
		return;
	}
	q->fd = snmp_sess_transport(q->sp)->sock;
	pdu = rp_snmp__get_pdu();
	if (!snmp_sess_async_send(q->sp, pdu, rp_snmp__on_answer, rp_snmp__ticket(s, q))) {
		snmp_free_pdu(pdu);
		rp_snmp__local_error(s, q, "cannot send", q->sp, NULL);
	}
}

/* The request's session goes with it. */
static void v3_end(struct rp_snmp *s, struct rp_snmp_prof *p, struct rp_snmp_req *q)
{
	(void)s;
	(void)p;
	if (q->sp)
		snmp_sess_close(q->sp);
}

/* The socket of each request waiting for its answer (pfd_key: the slot). */
/* Whether p is the first open v3 profile: that one's fds() and timeouts() walk the v3
 * requests of every v3 profile (a v3 request is the one with a socket of its own), so
 * several v3 groups cost one walk of the slots, not one each. */
static bool first_v3(const struct rp_snmp *s, const struct rp_snmp_prof *p)
{
	for (uint32_t g = 0; g < s->nprof; g++)
		if (s->prof[g].open && s->prof[g].ops == &rp_snmp__v3_ops)
			return &s->prof[g] == p;
	return false;
}

static uint32_t v3_fds(struct rp_snmp *s, struct rp_snmp_prof *p, uint32_t inflight, uint32_t n)
{
	uint32_t seen = 0;

	if (!first_v3(s, p))
		return n;
	for (uint32_t i = 0; i < s->max_inflight && seen < inflight; i++) {
		const struct rp_snmp_req *q = &s->reqs[i];

		seen += q->busy;
		if (!q->busy || q->done || q->fd < 0)
			continue;
		s->pfd[n] = (struct pollfd){.fd = q->fd, .events = POLLIN};
		s->pfd_key[n++] = i;
	}
	return n;
}

static void v3_read(struct rp_snmp *s, struct rp_snmp_prof *p, uint32_t slot)
{
	const struct rp_snmp_req *q = &s->reqs[slot];

	(void)p;
	rp_snmp__read(s, q->sp, q->fd);
}

static void v3_timeouts(struct rp_snmp *s, struct rp_snmp_prof *p)
{
	if (!first_v3(s, p))
		return;
	for (uint32_t i = 0; i < s->max_inflight; i++)
		if (s->reqs[i].busy && !s->reqs[i].done && s->reqs[i].sp && s->reqs[i].fd >= 0)
			snmp_sess_timeout(s->reqs[i].sp);
}

static void v3_close(struct rp_snmp *s, struct rp_snmp_prof *p)
{
	struct v3 *v = p->var;
	uint32_t g = (uint32_t)(p - s->prof);

	if (!v)
		return;
	for (uint32_t i = 0; s->reqs && i < s->max_inflight; i++)
		if (s->reqs[i].sp && s->reqs[i].prof == g) {
			snmp_sess_close(s->reqs[i].sp);
			s->reqs[i].sp = NULL;
		}
	if (v->user) {
		forget_usm_users(v->user);
		memset(v->user, 0, strlen(v->user));
	}
	free(v->user);
	memset(v, 0, sizeof(*v)); /* the keys */
	free(v);
	p->var = NULL;
}

const struct rp_snmp_ops rp_snmp__v3_ops = {
    .name = "v3",
    .open = v3_open,
    .begin = v3_begin,
    .end = v3_end,
    .fds = v3_fds,
    .read = v3_read,
    .timeouts = v3_timeouts,
    .close = v3_close,
};
