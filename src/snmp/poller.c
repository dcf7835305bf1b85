/* The SNMP poller thread (include/ringprobe/snmp.h): a GET of the six scalar objects of
 * the system group per request, poll(2) over the sessions' sockets, snmp_sess_timeout
 * for retries and give-ups; the callback makes the result and pushes it at once.
 *
 * v2c: a few shared net-snmp sessions (one unconnected UDP socket each, PER_SHARED
 * requests in flight each) carry every request; each PDU names its own destination
 * (pdu->transport_data, as net-snmp's agent does for answers) and answers are matched
 * by request ID. Opening a session per request cost 150-250 us of CPU and ~10 KB per
 * request in flight (bench/fleet, 20,000 devices).
 * v3: a session per request (snmp_sess_open; net-snmp's synchronous engine ID probe
 * runs in the first send), since USM keys and engine IDs are per session; closed when
 * the request ends. */
#include "ringprobe/addr.h"
#include "ringprobe/snmp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>

#include "ringprobe/compiler.h"
#include "ringprobe/line.h"
#include "ringprobe/spsc.h"
#include "ringprobe/xalloc.h"

#define LOOP_MS 5
#define NOBJ 6
/* v2c: requests in flight per shared session. net-snmp walks a session's request list
 * for every answer and every timeout check, so one session for 1,700 requests in
 * flight spent most of the poller's CPU there (perf, 20,000 devices at 2,000/s). */
#define PER_SHARED 64
#define MAX_SHARED (RP_SNMP_INFLIGHT_MAX / PER_SHARED)

/* .1.3.6.1.2.1.1.N.0 for N = 1..6, and where each lands. */
enum obj { O_DESCR = 1, O_OBJECT_ID, O_UPTIME, O_CONTACT, O_NAME, O_LOCATION };

struct req {
	void *sp;     /* v3: its own session; v2c: the shared one it went through */
	int fd;	      /* v3: its own session's socket, -1 otherwise */
	bool busy;    /* from begin() to finish() */
	bool done;    /* its result was pushed (by the callback, or at once on an error) */
	uint32_t gen; /* bumped by each begin(): a callback names (slot, gen), see ticket() */
	uint32_t addr, tag;
};

struct rp_snmp {
	/* set at create, read-only after */
	int version;
	char *community;
	char *user;
	int seclevel;
	oid *auth_proto, *priv_proto;
	size_t auth_proto_len, priv_proto_len;
	u_char auth_ku[USM_AUTH_KU_LEN], priv_ku[USM_PRIV_KU_LEN];
	size_t auth_ku_len, priv_ku_len;
	unsigned port;
	long timeout_us;
	int retries;
	uint32_t max_inflight;

	void *shared[MAX_SHARED]; /* v2c: the sessions every request goes through */
	int shared_fd[MAX_SHARED];
	uint32_t nshared;
	uint64_t timeout_check_ms; /* how often snmp_sess_timeout runs */

	struct rp_spsc *in;  /* uint32_t pairs: addr, tag (control -> poller) */
	struct rp_spsc *out; /* struct rp_snmp_result (poller -> control) */

	/* the poller thread's own */
	struct req *reqs;
	uint32_t *free_slots;
	uint32_t nfree;
	uint32_t *done_slots; /* slots whose result was pushed, to finish() */
	uint32_t ndone;
	struct rp_snmp_result scratch; /* the result being made, pushed at once */
	struct pollfd *pfd;
	uint32_t *pfd_slot;
	netsnmp_large_fd_set lfs;

	pthread_t thread;
	bool running;
	atomic_bool stop;

	/* counters */
	_Atomic uint64_t submitted;		     /* the submitting thread's */
	_Atomic uint64_t done[RP_SNMP_STATUS_COUNT]; /* the poller's */
	_Atomic uint64_t inflight;		     /* the poller's */
	_Atomic uint64_t taken;			     /* the poller's: popped from `in` */
};

struct in_req {
	uint32_t addr, tag;
};

static int on_answer(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic);

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

/* net-snmp, once per process: no configuration files, no persistent state, no MIBs
 * (numeric OIDs only; MIBS="" keeps net-snmp from parsing its default modules, which
 * on a machine without them prints pages of warnings), nothing on stderr (ringprobe
 * reports its own errors). Runs at the first rp_snmp_create, which the daemon and
 * `sweep --snmp` call before starting any thread, as setenv requires. */
static void lib_init(void)
{
	setenv("MIBS", "", 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
	netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_WARNINGS, 0);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_ERRORS, 0);
	snmp_disable_log();
	init_snmp("ringprobe");
	snmp_disable_log();
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *rp_snmp_status_name(int status)
{
	static const char *const names[] = {"ok", "timeout", "agent_error", "local_error"};

	return status >= 0 && status < RP_SNMP_STATUS_COUNT ? names[status] : "unknown";
}

/* ---- create / destroy -------------------------------------------------------------- */

static int derive_keys(struct rp_snmp *s, const struct rp_conf *c, char *why, size_t whylen)
{
	static oid des[] = {1, 3, 6, 1, 6, 3, 10, 1, 2, 2};
	const char *ap = c->snmp.v3.auth_password ? c->snmp.v3.auth_password : "";
	const char *pp = c->snmp.v3.priv_password ? c->snmp.v3.priv_password : "";

	switch (c->snmp.v3.auth_protocol) {
	case RP_SNMP_AUTH_MD5:
		s->auth_proto = usmHMACMD5AuthProtocol;
		break;
	case RP_SNMP_AUTH_SHA256:
		s->auth_proto = usmHMAC192SHA256AuthProtocol;
		break;
	case RP_SNMP_AUTH_SHA512:
		s->auth_proto = usmHMAC384SHA512AuthProtocol;
		break;
	default:
		s->auth_proto = usmHMACSHA1AuthProtocol;
	}
	s->auth_proto_len = USM_AUTH_PROTO_SHA_LEN;
	s->priv_proto = c->snmp.v3.priv_protocol == RP_SNMP_PRIV_DES ? des : usmAESPrivProtocol;
	s->priv_proto_len = USM_AUTH_PROTO_SHA_LEN;
	if (s->seclevel == SNMP_SEC_LEVEL_NOAUTH)
		return 0;
	s->auth_ku_len = sizeof(s->auth_ku);
	if (generate_Ku(s->auth_proto, (u_int)s->auth_proto_len, (const u_char *)ap, strlen(ap),
			s->auth_ku, &s->auth_ku_len) != SNMPERR_SUCCESS) {
		snprintf(why, whylen,
			 "snmp.v3.auth_password: cannot derive the authentication key");
		return -EINVAL;
	}
	if (s->seclevel != SNMP_SEC_LEVEL_AUTHPRIV)
		return 0;
	/* RFC 3414: the privacy key is derived with the authentication hash. */
	s->priv_ku_len = sizeof(s->priv_ku);
	if (generate_Ku(s->auth_proto, (u_int)s->auth_proto_len, (const u_char *)pp, strlen(pp),
			s->priv_ku, &s->priv_ku_len) != SNMPERR_SUCCESS) {
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

/* v2c: the sessions every request goes through, one per PER_SHARED requests in flight.
 * Their peer is only a default: each PDU carries its own destination. A large receive
 * buffer keeps a burst of answers from overflowing a socket. */
static int open_shared(struct rp_snmp *s, char *why, size_t whylen)
{
	int rcvbuf = 1 << 20;
	char peer[64];

	snprintf(peer, sizeof(peer), "udp:127.0.0.1:%u", s->port);
	s->nshared = (s->max_inflight + PER_SHARED - 1) / PER_SHARED;
	for (uint32_t i = 0; i < s->nshared; i++) {
		netsnmp_session ss;

		snmp_sess_init(&ss);
		ss.peername = peer;
		ss.version = SNMP_VERSION_2c;
		ss.community = (u_char *)s->community;
		ss.community_len = strlen(s->community);
		ss.timeout = s->timeout_us;
		ss.retries = s->retries;
		ss.callback = on_answer;
		ss.callback_magic = s;
		s->shared[i] = snmp_sess_open(&ss);
		if (!s->shared[i]) {
			int liberr = 0, syserr = 0;
			char *msg = NULL;

			snmp_error(&ss, &syserr, &liberr, &msg);
			snprintf(why, whylen, "cannot open an SNMP session: %s",
				 msg ? msg : "unknown");
			free(msg);
			return -EIO;
		}
		s->shared_fd[i] = snmp_sess_transport(s->shared[i])->sock;
		if (setsockopt(s->shared_fd[i], SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
			       sizeof(rcvbuf)) < 0)
			setsockopt(s->shared_fd[i], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	}
	return 0;
}

int rp_snmp_create(struct rp_snmp **out, const struct rp_conf *c, char *why, size_t whylen)
{
	struct rp_snmp *s = rp_xcalloc(1, sizeof(*s));
	uint32_t want;
	int ret;

	*out = NULL;
	pthread_once(&lib_once, lib_init);
	s->version = c->snmp.version;
	s->community = strdup(c->snmp.community ? c->snmp.community : "public");
	s->user = strdup(c->snmp.v3.username ? c->snmp.v3.username : "");
	s->seclevel = c->snmp.v3.security_level == RP_SNMP_AUTHPRIV	? SNMP_SEC_LEVEL_AUTHPRIV
		      : c->snmp.v3.security_level == RP_SNMP_AUTHNOPRIV ? SNMP_SEC_LEVEL_AUTHNOPRIV
									: SNMP_SEC_LEVEL_NOAUTH;
	s->port = c->snmp.port > 0 ? (unsigned)c->snmp.port : 161;
	s->timeout_us = (long)(c->snmp.timeout / 1000);
	if (s->timeout_us <= 0)
		s->timeout_us = 5000000;
	s->retries = (int)c->snmp.retries;
	want = c->snmp.max_inflight > 0 ? (uint32_t)c->snmp.max_inflight : 256;
	s->max_inflight = want > RP_SNMP_INFLIGHT_MAX ? RP_SNMP_INFLIGHT_MAX : want;
	if (!s->community || !s->user) {
		snprintf(why, whylen, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	if (s->version == RP_SNMP_V3) {
		ret = derive_keys(s, c, why, whylen);
		if (ret < 0)
			goto fail;
		forget_usm_users(s->user);
	}
	ret = rp_spsc_create(
	    &s->in, rp_pow2_at_least(s->max_inflight * 4 > 1024 ? s->max_inflight * 4 : 1024),
	    sizeof(struct in_req));
	if (ret == 0)
		ret = rp_spsc_create(&s->out, rp_pow2_at_least(s->max_inflight + 1),
				     sizeof(struct rp_snmp_result));
	if (ret < 0) {
		snprintf(why, whylen, "cannot create the SNMP rings");
		goto fail;
	}
	s->reqs = rp_xcalloc(s->max_inflight, sizeof(*s->reqs));
	s->free_slots = rp_xcalloc(s->max_inflight, sizeof(*s->free_slots));
	s->pfd = rp_xcalloc(s->max_inflight, sizeof(*s->pfd));
	s->pfd_slot = rp_xcalloc(s->max_inflight, sizeof(*s->pfd_slot));
	for (uint32_t i = 0; i < s->max_inflight; i++)
		s->free_slots[i] = s->max_inflight - 1 - i;
	s->nfree = s->max_inflight;
	netsnmp_large_fd_set_init(&s->lfs, FD_SETSIZE);
	s->done_slots = rp_xcalloc(s->max_inflight, sizeof(*s->done_slots));
	/* Timeouts are checked at a twentieth of snmp.timeout, 5 to 50 ms: each check walks
	 * every request in flight. */
	s->timeout_check_ms = (uint64_t)s->timeout_us / 20000;
	s->timeout_check_ms = s->timeout_check_ms < LOOP_MS ? LOOP_MS
			      : s->timeout_check_ms > 50    ? 50
							    : s->timeout_check_ms;
	if (s->version != RP_SNMP_V3) {
		ret = open_shared(s, why, whylen);
		if (ret < 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	rp_snmp_destroy(s);
	return ret;
}

void rp_snmp_destroy(struct rp_snmp *s)
{
	if (!s)
		return;
	rp_snmp_stop(s);
	for (uint32_t i = 0; s->reqs && i < s->max_inflight; i++)
		if (s->reqs[i].sp && !s->nshared)
			snmp_sess_close(s->reqs[i].sp);
	for (uint32_t i = 0; i < s->nshared; i++)
		if (s->shared[i])
			snmp_sess_close(s->shared[i]); /* its requests still out go with it */
	if (s->version == RP_SNMP_V3 && s->user)
		forget_usm_users(s->user);
	if (s->reqs)
		netsnmp_large_fd_set_cleanup(&s->lfs);
	rp_spsc_destroy(s->in);
	rp_spsc_destroy(s->out);
	free(s->reqs);
	free(s->free_slots);
	free(s->done_slots);
	free(s->pfd);
	free(s->pfd_slot);
	free(s->community);
	if (s->user)
		memset(s->user, 0, strlen(s->user));
	free(s->user);
	memset(s->auth_ku, 0, sizeof(s->auth_ku));
	memset(s->priv_ku, 0, sizeof(s->priv_ku));
	free(s);
}

/* ---- the submitting thread ----------------------------------------------------------- */

bool rp_snmp_submit(struct rp_snmp *s, uint32_t addr, uint32_t tag)
{
	struct in_req r = {addr, tag};

	if (rp_spsc_try_push(s->in, &r, 1) != 1)
		return false;
	atomic_fetch_add_explicit(&s->submitted, 1, memory_order_relaxed);
	return true;
}

uint32_t rp_snmp_room(struct rp_snmp *s)
{
	return rp_spsc_space(s->in);
}

uint32_t rp_snmp_take(struct rp_snmp *s, struct rp_snmp_result *out, uint32_t max)
{
	return rp_spsc_pop(s->out, out, max);
}

void rp_snmp_stats(const struct rp_snmp *s, struct rp_snmp_stats *out)
{
	uint64_t taken = atomic_load_explicit(&s->taken, memory_order_relaxed);

	memset(out, 0, sizeof(*out));
	out->submitted = atomic_load_explicit(&s->submitted, memory_order_relaxed);
	for (int i = 0; i < RP_SNMP_STATUS_COUNT; i++)
		out->done[i] = atomic_load_explicit(&s->done[i], memory_order_relaxed);
	out->inflight = atomic_load_explicit(&s->inflight, memory_order_relaxed);
	/* Not rp_spsc_used(s->in): that is the consumer's (the poller's) and writes its
	 * cached head, which the poller would then trust without its own acquire.
	 * Relaxed counters may be seen out of step: never below 0. */
	out->queued = out->submitted > taken ? out->submitted - taken : 0;
}

/* ---- the poller thread ------------------------------------------------------------- */

static void copy_str(char *dst, size_t size, const netsnmp_variable_list *v)
{
	if (v->type != ASN_OCTET_STR || !v->val.string) {
		dst[0] = '\0';
		return;
	}
	rp_line_sanitize(dst, size, (const char *)v->val.string, v->val_len, size - 1);
}

static void copy_oid(char *dst, size_t size, const netsnmp_variable_list *v)
{
	size_t n = v->val_len / sizeof(oid), off = 0;

	dst[0] = '\0';
	if (v->type != ASN_OBJECT_ID || !v->val.objid)
		return;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(dst + off, size - off, ".%lu", (unsigned long)v->val.objid[i]);

		if (w < 0 || (size_t)w >= size - off) {
			dst[off] = '\0'; /* cut at a whole sub-identifier */
			return;
		}
		off += (size_t)w;
	}
}

/* Which of the six objects a varbind is (1..6), or 0. */
static int which(const netsnmp_variable_list *v)
{
	static const oid sys[] = {1, 3, 6, 1, 2, 1, 1};

	if (v->name_length != 9 || memcmp(v->name, sys, sizeof(sys)) != 0 || v->name[8] != 0)
		return 0;
	return v->name[7] >= 1 && v->name[7] <= NOBJ ? (int)v->name[7] : 0;
}

static void fill(struct rp_snmp_result *r, const netsnmp_pdu *pdu)
{
	for (const netsnmp_variable_list *v = pdu->variables; v; v = v->next_variable) {
		int k = which(v);

		if (!k || v->type == SNMP_NOSUCHOBJECT || v->type == SNMP_NOSUCHINSTANCE ||
		    v->type == SNMP_ENDOFMIBVIEW || v->type == ASN_NULL)
			continue;
		r->objects++;
		switch (k) {
		case O_DESCR:
			copy_str(r->descr, sizeof(r->descr), v);
			break;
		case O_OBJECT_ID:
			copy_oid(r->object_id, sizeof(r->object_id), v);
			break;
		case O_UPTIME:
			if (v->type == ASN_TIMETICKS && v->val.integer) {
				r->uptime_ticks = (uint32_t)*v->val.integer;
				r->has_uptime = true;
			}
			break;
		case O_CONTACT:
			copy_str(r->contact, sizeof(r->contact), v);
			break;
		case O_NAME:
			copy_str(r->name, sizeof(r->name), v);
			break;
		default:
			copy_str(r->location, sizeof(r->location), v);
		}
	}
}

/* The result of request q, to fill and deliver(). Results are pushed as they are made
 * (the ring keeps room for every request in flight), not kept per slot: at 1,700
 * requests in flight a result per slot was 2.6 MB. */
static struct rp_snmp_result *result_for(struct rp_snmp *s, const struct req *q)
{
	struct rp_snmp_result *r = &s->scratch;

	memset(r, 0, sizeof(*r));
	r->addr = q->addr;
	r->tag = q->tag;
	r->done_real_ns = real_ns();
	return r;
}

/* Pushes the result made for q and queues q's slot for finish(). */
static void deliver(struct rp_snmp *s, struct req *q)
{
	q->done = true;
	s->done_slots[s->ndone++] = (uint32_t)(q - s->reqs);
	atomic_store_explicit(&s->inflight, s->max_inflight - s->nfree - s->ndone,
			      memory_order_relaxed);
	rp_spsc_push(s->out, &s->scratch, 1); /* room was kept for every slot */
	atomic_fetch_add_explicit(&s->done[s->scratch.status], 1, memory_order_relaxed);
}

/* A request's callback magic: its slot and generation, not a pointer to the slot. */
static void *ticket(const struct rp_snmp *s, const struct req *q)
{
	return (void *)(uintptr_t)((uint64_t)(uint32_t)(q - s->reqs) << 32 | q->gen);
}

static int on_answer(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic)
{
	struct rp_snmp *s = sess ? sess->callback_magic : NULL;
	uint64_t t = (uint64_t)(uintptr_t)magic;
	struct rp_snmp_result *r;
	struct req *q;

	(void)reqid;
	if (!s || (t >> 32) >= s->max_inflight)
		return 1;
	q = &s->reqs[t >> 32];
	/* a shared session outlives its requests: a callback for a request whose slot
	 * was finished and reused meanwhile names an older generation */
	if (!q->busy || q->gen != (uint32_t)t)
		return 1;
	if (q->done || op == NETSNMP_CALLBACK_OP_RESEND)
		return 1; /* a retry going out is no answer yet */
	r = result_for(s, q);
	if (op == NETSNMP_CALLBACK_OP_TIMED_OUT) {
		r->status = RP_SNMP_TIMEOUT;
		snprintf(r->detail, sizeof(r->detail), "no answer");
	} else if (op == NETSNMP_CALLBACK_OP_SEC_ERROR) {
		r->status = RP_SNMP_AGENT_ERROR;
		snprintf(r->detail, sizeof(r->detail),
			 "v3 security error (snmp.v3.username or a passphrase is wrong)");
	} else if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || !pdu) {
		r->status = RP_SNMP_LOCAL_ERROR;
		snprintf(r->detail, sizeof(r->detail), "send failed (net-snmp operation %d)", op);
	} else if (pdu->command == SNMP_MSG_REPORT) {
		r->status = RP_SNMP_AGENT_ERROR;
		snprintf(r->detail, sizeof(r->detail), "report: %s",
			 snmp_api_errstring(snmpv3_get_report_type(pdu)));
	} else if (pdu->errstat != SNMP_ERR_NOERROR) {
		r->status = RP_SNMP_AGENT_ERROR;
		snprintf(r->detail, sizeof(r->detail), "%s", snmp_errstring(pdu->errstat));
	} else {
		r->status = RP_SNMP_OK;
		fill(r, pdu);
	}
	deliver(s, q);
	return 1;
}

static void local_error(struct rp_snmp *s, struct req *q, const char *what, void *sp_or_null,
			netsnmp_session *ss)
{
	struct rp_snmp_result *r;
	int liberr = 0, syserr = 0;
	char *msg = NULL;

	if (q->done)
		return; /* net-snmp's callback came first (a send that failed inside it) */
	if (sp_or_null)
		snmp_sess_error(sp_or_null, &syserr, &liberr, &msg);
	else if (ss)
		snmp_error(ss, &syserr, &liberr, &msg);
	r = result_for(s, q);
	/* v3: net-snmp probes the engine ID inside the send; no answer is a timeout */
	r->status = liberr == SNMPERR_TIMEOUT ? RP_SNMP_TIMEOUT : RP_SNMP_LOCAL_ERROR;
	snprintf(r->detail, sizeof(r->detail), "%s: %s", what, msg ? msg : "unknown");
	free(msg);
	deliver(s, q);
}

/* GET sysDescr.0 .. sysLocation.0 */
static netsnmp_pdu *get_pdu(void)
{
	static const oid sys[] = {1, 3, 6, 1, 2, 1, 1, 0, 0};
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);

	for (oid k = 1; k <= NOBJ; k++) {
		oid name[9];

		memcpy(name, sys, sizeof(name));
		name[7] = k;
		snmp_add_null_var(pdu, name, 9);
	}
	return pdu;
}

/* v2c: the GET goes through the shared session to in->addr (the PDU's own destination,
 * freed with the PDU); its answer comes back on the shared socket. */
static void begin_shared(struct rp_snmp *s, struct req *q, const struct in_req *in)
{
	netsnmp_pdu *pdu = get_pdu();
	netsnmp_indexed_addr_pair *to = calloc(1, sizeof(*to));

	/* slot i always uses session i / PER_SHARED: at most PER_SHARED requests each */
	q->sp = s->shared[(uint32_t)(q - s->reqs) / PER_SHARED];
	if (!to) {
		snmp_free_pdu(pdu);
		local_error(s, q, "cannot send", NULL, NULL);
		return;
	}
	to->remote_addr.sin.sin_family = AF_INET;
	to->remote_addr.sin.sin_port = htons((uint16_t)s->port);
	to->remote_addr.sin.sin_addr.s_addr = htonl(in->addr);
	pdu->transport_data = to;
	pdu->transport_data_length = sizeof(*to);
	if (!snmp_sess_async_send(q->sp, pdu, on_answer, ticket(s, q))) {
		snmp_free_pdu(pdu);
		local_error(s, q, "cannot send", q->sp, NULL);
	}
}

/* Sends the GET to in->addr (v3: opening a session of its own first); on failure the
 * slot is done at once. */
static void begin(struct rp_snmp *s, struct req *q, const struct in_req *in)
{
	netsnmp_session ss;
	netsnmp_pdu *pdu;
	char peer[64], ip[RP_ADDR_STRLEN];

	q->addr = in->addr;
	q->tag = in->tag;
	q->busy = true;
	q->done = false;
	q->gen++;
	q->sp = NULL;
	q->fd = -1;
	if (s->nshared) {
		begin_shared(s, q, in);
		return;
	}
	snprintf(peer, sizeof(peer), "udp:%s:%u", rp_addr_format(in->addr, ip), s->port);
	snmp_sess_init(&ss);
	ss.peername = peer;
	ss.timeout = s->timeout_us;
	ss.retries = s->retries;
	ss.callback = on_answer;
	ss.callback_magic = s;
	ss.version = SNMP_VERSION_3;
	ss.securityName = s->user;
	ss.securityNameLen = strlen(s->user);
	ss.securityLevel = s->seclevel;
	ss.securityAuthProto = s->auth_proto;
	ss.securityAuthProtoLen = s->auth_proto_len;
	ss.securityPrivProto = s->priv_proto;
	ss.securityPrivProtoLen = s->priv_proto_len;
	ss.securityAuthKeyLen = s->auth_ku_len;
	memcpy(ss.securityAuthKey, s->auth_ku, s->auth_ku_len);
	ss.securityPrivKeyLen = s->priv_ku_len;
	memcpy(ss.securityPrivKey, s->priv_ku, s->priv_ku_len);
	q->sp = snmp_sess_open(&ss);
	if (!q->sp) {
		local_error(s, q, "cannot open a session", NULL, &ss);
		return;
	}
	q->fd = snmp_sess_transport(q->sp)->sock;
	pdu = get_pdu();
	if (!snmp_sess_async_send(q->sp, pdu, on_answer, ticket(s, q))) {
		snmp_free_pdu(pdu);
		local_error(s, q, "cannot send", q->sp, NULL);
	}
}

static void finish(struct rp_snmp *s, uint32_t slot)
{
	struct req *q = &s->reqs[slot];

	if (q->sp && !s->nshared)
		snmp_sess_close(q->sp);
	q->sp = NULL;
	q->fd = -1;
	q->busy = false;
	q->done = false;
	s->free_slots[s->nfree++] = slot;
}

static void read_one(struct rp_snmp *s, struct req *q)
{
	if ((unsigned)q->fd >= s->lfs.lfs_setsize)
		netsnmp_large_fd_set_resize(&s->lfs, q->fd + 1024);
	NETSNMP_LARGE_FD_SET(q->fd, &s->lfs);
	snmp_sess_read2(q->sp, &s->lfs);
	NETSNMP_LARGE_FD_CLR(q->fd, &s->lfs);
}

/* v2c: every answer waiting on shared session k's socket (a read takes one datagram
 * and the socket blocks, so poll before each). */
static void read_shared(struct rp_snmp *s, uint32_t k)
{
	int fd = s->shared_fd[k];
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if ((unsigned)fd >= s->lfs.lfs_setsize)
		netsnmp_large_fd_set_resize(&s->lfs, fd + 1024);
	for (int i = 0; i < PER_SHARED && poll(&p, 1, 0) == 1 && (p.revents & POLLIN); i++) {
		NETSNMP_LARGE_FD_SET(fd, &s->lfs);
		snmp_sess_read2(s->shared[k], &s->lfs);
		NETSNMP_LARGE_FD_CLR(fd, &s->lfs);
	}
}

static void *poller_main(void *arg)
{
	struct rp_snmp *s = arg;
	uint64_t last_timeout_check = 0;

	while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
		uint32_t n = 0, inflight;
		struct timespec ts;
		uint64_t now_ms;

		/* Take new requests while a slot and room for its result are free. A v3
		 * begin() can block for a whole engine ID probe: look at stop between them. */
		while (s->nfree > 0 && rp_spsc_space(s->out) > s->max_inflight - s->nfree &&
		       !atomic_load_explicit(&s->stop, memory_order_acquire)) {
			struct in_req in;
			uint32_t slot;

			if (rp_spsc_pop(s->in, &in, 1) != 1)
				break;
			atomic_fetch_add_explicit(&s->taken, 1, memory_order_relaxed);
			slot = s->free_slots[--s->nfree];
			/* counted before begin(): a v3 engine ID probe is a request in flight */
			atomic_store_explicit(&s->inflight, s->max_inflight - s->nfree - s->ndone,
					      memory_order_relaxed);
			begin(s, &s->reqs[slot], &in);
		}
		inflight = s->max_inflight - s->nfree;
		/* v2c: every shared session's socket (pfd_slot: the session); v3: the
		 * socket of each request waiting for its answer (pfd_slot: the slot) */
		for (uint32_t k = 0; inflight && k < s->nshared; k++) {
			s->pfd[n] = (struct pollfd){.fd = s->shared_fd[k], .events = POLLIN};
			s->pfd_slot[n++] = k;
		}
		for (uint32_t i = 0; !s->nshared && i < s->max_inflight && n < inflight; i++) {
			struct req *q = &s->reqs[i];

			if (!q->busy || q->done || q->fd < 0)
				continue;
			s->pfd[n] = (struct pollfd){.fd = q->fd, .events = POLLIN};
			s->pfd_slot[n++] = i;
		}
		if (n)
			poll(s->pfd, n, LOOP_MS);
		else if (!inflight)
			poll(NULL, 0, LOOP_MS);
		for (uint32_t i = 0; i < n; i++)
			if (s->pfd[i].revents && s->nshared)
				read_shared(s, s->pfd_slot[i]);
			else if (s->pfd[i].revents)
				read_one(s, &s->reqs[s->pfd_slot[i]]);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		if (inflight && now_ms - last_timeout_check >= s->timeout_check_ms) {
			last_timeout_check = now_ms;
			for (uint32_t k = 0; k < s->nshared; k++)
				snmp_sess_timeout(s->shared[k]);
			for (uint32_t i = 0; !s->nshared && i < s->max_inflight; i++)
				if (s->reqs[i].busy && !s->reqs[i].done && s->reqs[i].sp)
					snmp_sess_timeout(s->reqs[i].sp);
		}
		while (s->ndone > 0)
			finish(s, s->done_slots[--s->ndone]);
	}
	return NULL;
}

int rp_snmp_start(struct rp_snmp *s)
{
	int ret;

	if (s->running)
		return 0;
	atomic_store(&s->stop, false);
	ret = pthread_create(&s->thread, NULL, poller_main, s);
	if (ret)
		return -ret;
	s->running = true;
	return 0;
}

void rp_snmp_stop(struct rp_snmp *s)
{
	if (!s || !s->running)
		return;
	atomic_store_explicit(&s->stop, true, memory_order_release);
	pthread_join(s->thread, NULL);
	s->running = false;
}
