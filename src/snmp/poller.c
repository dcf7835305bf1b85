/* The SNMP poller thread (include/ringprobe/snmp.h), the part v2c and v3 share: a GET of
 * the six scalar objects of the system group per request, poll(2) over the sessions'
 * sockets, snmp_sess_timeout for retries and give-ups; the callback makes the result
 * (decode.c) and pushes it at once. What differs between the versions is behind
 * struct rp_snmp_ops (snmp/snmp_int.h), chosen at create:
 *   v2c.c  a few shared sessions, each PDU naming its destination
 *   v3.c   a session per request, since USM keys and engine IDs are per session
 * Threads: rp_snmp_create/start/stop/destroy on the owner thread; rp_snmp_submit,
 * rp_snmp_room and rp_snmp_take on the submitting (control) thread; rp_snmp_stats on
 * any; poller_main and everything it calls (the callback included) on the poller
 * thread. */
#include "snmp/snmp_int.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringprobe/compiler.h"
#include "ringprobe/spsc.h"
#include "ringprobe/xalloc.h"

struct in_req {
	struct rp_ip addr;
	uint32_t tag;
	uint32_t prof;
};

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

/* ---- profiles ---------------------------------------------------------------------- */

/* The settings of group g (0 = the top level): its own block's, or the top level's. */
static const struct rp_conf *settings_of(const struct rp_conf *c, size_t g)
{
	return g && g <= c->groups.n && c->groups.v[g - 1].snmp ? c->groups.v[g - 1].snmp : c;
}

uint32_t rp_snmp_profile(const struct rp_conf *c, size_t g)
{
	return settings_of(c, g) == c ? 0 : (uint32_t)g;
}

bool rp_snmp_group_on(const struct rp_conf *c, size_t g)
{
	return settings_of(c, g)->snmp.enabled;
}

bool rp_snmp_any_on(const struct rp_conf *c)
{
	for (size_t g = 0; g <= c->groups.n; g++)
		if (rp_snmp_group_on(c, g))
			return true;
	return false;
}

bool rp_snmp_any_v3(const struct rp_conf *c)
{
	for (size_t g = 0; g <= c->groups.n; g++)
		if (rp_snmp_group_on(c, g) && settings_of(c, g)->snmp.version == RP_SNMP_V3)
			return true;
	return false;
}

static void prof_init(struct rp_snmp_prof *p, const struct rp_conf *c)
{
	p->ops = c->snmp.version == RP_SNMP_V3 ? &rp_snmp__v3_ops : &rp_snmp__v2c_ops;
	p->port = c->snmp.port > 0 ? (unsigned)c->snmp.port : 161;
	p->timeout_us = (long)(c->snmp.timeout / 1000);
	if (p->timeout_us <= 0)
		p->timeout_us = 5000000;
	p->retries = (int)c->snmp.retries;
}

/* The profile a request is asked with: its own when open, else the top level's. */
static struct rp_snmp_prof *prof_of(struct rp_snmp *s, uint32_t prof)
{
	return prof < s->nprof && s->prof[prof].open ? &s->prof[prof] : &s->prof[0];
}

/* ---- create / destroy -------------------------------------------------------------- */

int rp_snmp_create(struct rp_snmp **out, const struct rp_conf *c, char *why, size_t whylen)
{
	struct rp_snmp *s = rp_xcalloc(1, sizeof(*s));
	long least_us;
	uint32_t want;
	int ret;

	*out = NULL;
	pthread_once(&lib_once, lib_init);
	s->nprof = (uint32_t)c->groups.n + 1;
	s->prof = rp_xcalloc(s->nprof, sizeof(*s->prof));
	for (uint32_t g = 0; g < s->nprof; g++)
		prof_init(&s->prof[g], settings_of(c, g));
	least_us = s->prof[0].timeout_us;
	for (uint32_t g = 1; g < s->nprof; g++)
		if (rp_snmp_profile(c, g) == g && s->prof[g].timeout_us < least_us)
			least_us = s->prof[g].timeout_us;
	want = c->snmp.max_inflight > 0 ? (uint32_t)c->snmp.max_inflight : 256;
	s->max_inflight = want > RP_SNMP_INFLIGHT_MAX ? RP_SNMP_INFLIGHT_MAX : want;
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
	s->pfd = rp_xcalloc(RP_SNMP_PFD_MAX(s->max_inflight) + s->nprof * 2 * RP_SNMP_MAX_SHARED,
			    sizeof(*s->pfd));
	s->pfd_key =
	    rp_xcalloc(RP_SNMP_PFD_MAX(s->max_inflight) + s->nprof * 2 * RP_SNMP_MAX_SHARED,
		       sizeof(*s->pfd_key));
	for (uint32_t i = 0; i < s->max_inflight; i++)
		s->free_slots[i] = s->max_inflight - 1 - i;
	s->nfree = s->max_inflight;
	netsnmp_large_fd_set_init(&s->lfs, FD_SETSIZE);
	s->done_slots = rp_xcalloc(s->max_inflight, sizeof(*s->done_slots));
	/* Timeouts are checked at a twentieth of snmp.timeout, 5 to 50 ms: each check walks
	 * every request in flight. With groups' own blocks, the shortest timeout's. */
	s->timeout_check_ms = (uint64_t)least_us / 20000;
	s->timeout_check_ms = s->timeout_check_ms < RP_SNMP_LOOP_MS ? RP_SNMP_LOOP_MS
			      : s->timeout_check_ms > 50	    ? 50
								    : s->timeout_check_ms;
	/* Profile 0 always (the top level's, asked for groups without a block of their
	 * own, and by `sweep --snmp`), each group's own when it is on. */
	for (uint32_t g = 0; g < s->nprof; g++) {
		if (g && (rp_snmp_profile(c, g) != g || !rp_snmp_group_on(c, g)))
			continue;
		s->prof[g].open = true;
		ret = s->prof[g].ops->open(s, &s->prof[g], settings_of(c, g), why, whylen);
		if (ret < 0) {
			if (g) {
				char inner[256];

				snprintf(inner, sizeof(inner), "%s", why);
				snprintf(why, whylen, "group \"%s\": %s", c->groups.v[g - 1].name,
					 inner);
			}
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	rp_snmp_destroy(s);
	return ret;
}

void rp_snmp_destroy(struct rp_snmp *s)
{
	if (!s || s->abandoned)
		return;
	rp_snmp_stop(s);
	for (uint32_t g = 0; g < s->nprof; g++)
		if (s->prof[g].open)
			s->prof[g].ops->close(s, &s->prof[g]);
	free(s->prof);
	if (s->reqs)
		netsnmp_large_fd_set_cleanup(&s->lfs);
	rp_spsc_destroy(s->in);
	rp_spsc_destroy(s->out);
	free(s->reqs);
	free(s->free_slots);
	free(s->done_slots);
	free(s->pfd);
	free(s->pfd_key);
	free(s);
}

/* ---- the submitting thread ----------------------------------------------------------- */

bool rp_snmp_submit(struct rp_snmp *s, const struct rp_ip *addr, uint32_t tag)
{
	return rp_snmp_submit_as(s, addr, tag, 0);
}

bool rp_snmp_submit_as(struct rp_snmp *s, const struct rp_ip *addr, uint32_t tag, uint32_t prof)
{
	struct in_req r = {*addr, tag, prof};

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
	out->spoofed = atomic_load_explicit(&s->spoofed, memory_order_relaxed);
	/* Not rp_spsc_used(s->in): that is the consumer's (the poller's) and writes its
	 * cached head, which the poller would then trust without its own acquire.
	 * Relaxed counters may be seen out of step: never below 0. */
	out->queued = out->submitted > taken ? out->submitted - taken : 0;
}

/* ---- the poller thread ------------------------------------------------------------- */

/* The result of request q, to fill and deliver(). Results are pushed as they are made
 * (the ring keeps room for every request in flight), not kept per slot: at 1,700
 * requests in flight a result per slot was 2.6 MB. */
static struct rp_snmp_result *result_for(struct rp_snmp *s, const struct rp_snmp_req *q)
{
	struct rp_snmp_result *r = &s->scratch;

	memset(r, 0, sizeof(*r));
	r->addr = q->addr;
	r->tag = q->tag;
	r->done_real_ns = real_ns();
	return r;
}

/* Pushes the result made for q and queues q's slot for finish(). */
static void deliver(struct rp_snmp *s, struct rp_snmp_req *q)
{
	q->done = true;
	s->done_slots[s->ndone++] = (uint32_t)(q - s->reqs);
	atomic_store_explicit(&s->inflight, s->max_inflight - s->nfree - s->ndone,
			      memory_order_relaxed);
	rp_spsc_push(s->out, &s->scratch, 1); /* room was kept for every slot */
	atomic_fetch_add_explicit(&s->done[s->scratch.status], 1, memory_order_relaxed);
}

int rp_snmp__on_answer(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic)
{
	struct rp_snmp *s = sess ? sess->callback_magic : NULL;
	uint64_t t = (uint64_t)(uintptr_t)magic;
	struct rp_snmp_result *r;
	struct rp_snmp_req *q;

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
	} else {
		rp_snmp__decode(pdu, r); /* ok, or a report or error status from the agent */
	}
	deliver(s, q);
	return 1;
}

void rp_snmp__local_error(struct rp_snmp *s, struct rp_snmp_req *q, const char *what, void *sp,
			  netsnmp_session *ss)
{
	struct rp_snmp_result *r;
	int liberr = 0, syserr = 0;
	char *msg = NULL;

	if (q->done)
		return; /* net-snmp's callback came first (a send that failed inside it) */
	if (sp)
		snmp_sess_error(sp, &syserr, &liberr, &msg);
	else if (ss)
		snmp_error(ss, &syserr, &liberr, &msg);
	r = result_for(s, q);
	/* v3: net-snmp probes the engine ID inside the send; no answer is a timeout */
	r->status = liberr == SNMPERR_TIMEOUT ? RP_SNMP_TIMEOUT : RP_SNMP_LOCAL_ERROR;
	if (sp || ss)
		snprintf(r->detail, sizeof(r->detail), "%s: %s", what, msg ? msg : "unknown");
	else
		snprintf(r->detail, sizeof(r->detail), "%s", what);
	free(msg);
	deliver(s, q);
}

/* GET sysDescr.0 .. sysLocation.0 */
netsnmp_pdu *rp_snmp__get_pdu(void)
{
	static const oid sys[] = {1, 3, 6, 1, 2, 1, 1, 0, 0};
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);

	for (oid k = 1; k <= RP_SNMP_NOBJ; k++) {
		oid name[9];

		memcpy(name, sys, sizeof(name));
		name[7] = k;
		snmp_add_null_var(pdu, name, 9);
	}
	return pdu;
}

void rp_snmp__read(struct rp_snmp *s, void *sp, int fd)
{
	if ((unsigned)fd >= s->lfs.lfs_setsize)
		netsnmp_large_fd_set_resize(&s->lfs, fd + 1024);
	NETSNMP_LARGE_FD_SET(fd, &s->lfs);
	snmp_sess_read2(sp, &s->lfs);
	NETSNMP_LARGE_FD_CLR(fd, &s->lfs);
}

/* Takes a slot for `in` and sends its GET (ops->begin); on failure the slot is done at
 * once. */
static void begin(struct rp_snmp *s, struct rp_snmp_req *q, const struct in_req *in)
{
	struct rp_snmp_prof *p = prof_of(s, in->prof);

	q->addr = in->addr;
	q->tag = in->tag;
	q->prof = (uint16_t)(p - s->prof);
	q->busy = true;
	q->done = false;
	q->gen++;
	q->sp = NULL;
	q->fd = -1;
	p->ops->begin(s, p, q);
}

static void finish(struct rp_snmp *s, uint32_t slot)
{
	struct rp_snmp_req *q = &s->reqs[slot];

	s->prof[q->prof].ops->end(s, &s->prof[q->prof], q);
	q->sp = NULL;
	q->fd = -1;
	q->busy = false;
	q->done = false;
	s->free_slots[s->nfree++] = slot;
}

/* How long the poll may sleep: RP_SNMP_WAIT_MS, less when requests are in flight and
 * their next timeout check comes sooner. */
static int poll_wait(const struct rp_snmp *s, uint32_t inflight, uint64_t last_check_ms)
{
	struct timespec ts;
	uint64_t now_ms, due;

	if (!inflight)
		return RP_SNMP_WAIT_MS;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	due = last_check_ms + s->timeout_check_ms;
	if (due <= now_ms)
		return 0;
	return due - now_ms < RP_SNMP_WAIT_MS ? (int)(due - now_ms) : RP_SNMP_WAIT_MS;
}

static void *poller_main(void *arg)
{
	struct rp_snmp *s = arg;
	uint64_t last_timeout_check = 0;

	while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
		uint32_t n, inflight;
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
		n = 0;
		for (uint32_t g = 0; inflight && g < s->nprof; g++) {
			uint32_t n0 = n;

			if (!s->prof[g].open)
				continue;
			n = s->prof[g].ops->fds(s, &s->prof[g], inflight, n);
			for (uint32_t i = n0; i < n; i++)
				s->pfd_key[i] += g * RP_SNMP_KEY_SPAN;
		}
		if (n)
			poll(s->pfd, n, poll_wait(s, inflight, last_timeout_check));
		else if (!inflight)
			poll(NULL, 0, RP_SNMP_WAIT_MS);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t g = s->pfd_key[i] / RP_SNMP_KEY_SPAN;

			if (s->pfd[i].revents)
				s->prof[g].ops->read(s, &s->prof[g],
						     s->pfd_key[i] % RP_SNMP_KEY_SPAN);
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		if (inflight && now_ms - last_timeout_check >= s->timeout_check_ms) {
			last_timeout_check = now_ms;
			for (uint32_t g = 0; g < s->nprof; g++)
				if (s->prof[g].open)
					s->prof[g].ops->timeouts(s, &s->prof[g]);
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
	pthread_setname_np(s->thread, "rp-snmp");
	s->running = true;
	return 0;
}

void rp_snmp_stop(struct rp_snmp *s)
{
	if (!s || !s->running || s->abandoned)
		return;
	atomic_store_explicit(&s->stop, true, memory_order_release);
	pthread_join(s->thread, NULL);
	s->running = false;
}

void rp_snmp_request_stop(struct rp_snmp *s)
{
	if (s && s->running)
		atomic_store_explicit(&s->stop, true, memory_order_release);
}

int rp_snmp_join_by(struct rp_snmp *s, uint64_t deadline_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000ull),
			      .tv_nsec = (long)(deadline_ns % 1000000000ull)};
	int ret;

	if (!s || !s->running || s->abandoned)
		return s && s->abandoned ? -ETIMEDOUT : 0;
	atomic_store_explicit(&s->stop, true, memory_order_release);
	ret = pthread_clockjoin_np(s->thread, NULL, CLOCK_MONOTONIC, &ts);
	if (ret == ETIMEDOUT) {
		s->abandoned = true;
		return -ETIMEDOUT;
	}
	s->running = false;
	return ret ? -ret : 0;
}
