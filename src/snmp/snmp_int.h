/* Private to src/snmp (and its tests and fuzzer): the poller's state and the table of
 * what its two variants do differently, chosen once at rp_snmp_create (STYLE.md
 * section 1, as src/io/io_int.h puts uring.c and mmsg.c behind one table):
 *   poller.c  the common loop: rings, slots, thread, stop, stats, net-snmp's callback
 *   v2c.c     a few shared sessions carry every request (PDUs name their destination)
 *   v3.c      a session per request (USM keys and engine IDs are per session)
 *   decode.c  an answer PDU's varbinds into a struct rp_snmp_result: pure, no socket
 * Threads: the ops' open and close run on the owner thread (rp_snmp_create/destroy);
 * the others, and the callback, on the poller thread. */
#ifndef RP_SNMP_INT_H
#define RP_SNMP_INT_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>

#include "ringprobe/conf.h"
#include "ringprobe/snmp.h"
#include "ringprobe/spsc.h"

/* The least time between two timeout checks. */
#define RP_SNMP_LOOP_MS 5
/* The poller's longest poll(2): a new request waits at most this long to be taken, and
 * an idle poller wakes this often (each wake-up costs ~40 us of CPU on a VM; at 5 ms it
 * was 200 a second with nothing to do). With requests in flight it wakes sooner when
 * their next timeout check is due. */
#define RP_SNMP_WAIT_MS 20
/* The system group's scalars asked for: .1.3.6.1.2.1.1.N.0, N = 1..6. */
#define RP_SNMP_NOBJ 6
/* v2c: requests in flight per shared session (v2c.c), and so the most sessions of one
 * family. */
#define RP_SNMP_PER_SHARED 64
#define RP_SNMP_MAX_SHARED (RP_SNMP_INFLIGHT_MAX / RP_SNMP_PER_SHARED)
/* Entries of s->pfd: a socket per request (v3), or per shared session of either family
 * (v2c: 2 x ceil(max_inflight / 64), never more than this). */
#define RP_SNMP_PFD_MAX(max_inflight) ((max_inflight) + RP_SNMP_MAX_SHARED)
/* pfd_key of a profile's socket: the profile times this, plus the variant's own key. */
#define RP_SNMP_KEY_SPAN (1u << 20)

/** One request slot: the poller thread's. */
struct rp_snmp_req {
	void *sp;     /* v3: its own session; v2c: the shared one it went through */
	int fd;	      /* v3: its own session's socket, -1 otherwise */
	bool busy;    /* from begin() to finish() */
	bool done;    /* its result was pushed (by the callback, or at once on an error) */
	uint32_t gen; /* bumped by each begin(): a callback names (slot, gen), see ticket */
	struct rp_ip addr;
	uint32_t tag;
	uint16_t prof; /* the profile it is asked with */
};

struct rp_snmp;
struct rp_snmp_prof;

/** What v2c.c and v3.c do differently. Each is called by poller.c only. */
struct rp_snmp_ops {
	const char *name;
	/* Owner thread, at the end of rp_snmp_create (rings and slots exist): the
	 * variant's state from conf into s->var. 0, or -errno with why. */
	int (*open)(struct rp_snmp *s, struct rp_snmp_prof *p, const struct rp_conf *c, char *why,
		    size_t whylen);
	/* Sends the GET for q (addr, tag, gen, prof set); on failure delivers at once
	 * (rp_snmp__local_error). */
	void (*begin)(struct rp_snmp *s, struct rp_snmp_prof *p, struct rp_snmp_req *q);
	/* q's result was pushed: releases what begin took (v3: its session). */
	void (*end)(struct rp_snmp *s, struct rp_snmp_prof *p, struct rp_snmp_req *q);
	/* Fills s->pfd and s->pfd_key from index n on with the profile's sockets to wait on
	 * while `inflight` (> 0) requests are out; returns the new n. A key is the
	 * variant's own below RP_SNMP_KEY_SPAN (poller.c adds the profile). */
	uint32_t (*fds)(struct rp_snmp *s, struct rp_snmp_prof *p, uint32_t inflight, uint32_t n);
	/* A socket fds() listed is readable: `key` is its own key. */
	void (*read)(struct rp_snmp *s, struct rp_snmp_prof *p, uint32_t key);
	/* snmp_sess_timeout over every session with requests out (retries, give-ups). */
	void (*timeouts)(struct rp_snmp *s, struct rp_snmp_prof *p);
	/* Owner thread, from rp_snmp_destroy with the thread stopped: closes every
	 * session still open and frees p->var (which may be NULL: open never ran). */
	void (*close)(struct rp_snmp *s, struct rp_snmp_prof *p);
};

/* One set of settings devices are asked with: profile 0 the top level's snmp block,
 * profile g a group's own (group g - 1 of the configuration); a group without its own
 * block is not opened (`open` false) and its devices use profile 0. */
struct rp_snmp_prof {
	const struct rp_snmp_ops *ops;
	void *var; /* the variant's own state (struct v2c or struct v3); owned by ops */
	unsigned port;
	long timeout_us;
	int retries;
	bool open; /* its variant's state exists (enabled, and profile 0 or a group's own) */
};

extern const struct rp_snmp_ops rp_snmp__v2c_ops;
extern const struct rp_snmp_ops rp_snmp__v3_ops;

struct rp_snmp {
	/* set at create, read-only after (but each profile's var, its ops' own) */
	struct rp_snmp_prof *prof;
	uint32_t nprof;
	uint32_t max_inflight;
	uint64_t timeout_check_ms; /* how often ops->timeouts runs */

	struct rp_spsc *in;  /* (addr, tag) requests (control -> poller) */
	struct rp_spsc *out; /* struct rp_snmp_result (poller -> control) */

	/* the poller thread's own */
	struct rp_snmp_req *reqs;
	uint32_t *free_slots;
	uint32_t nfree;
	uint32_t *done_slots; /* slots whose result was pushed, to finish() */
	uint32_t ndone;
	struct rp_snmp_result scratch; /* the result being made, pushed at once */
	struct pollfd *pfd;	       /* RP_SNMP_PFD_MAX entries, filled by ops->fds */
	uint32_t *pfd_key;	       /* per pfd: v2c its shared session, v3 its slot */
	netsnmp_large_fd_set lfs;

	pthread_t thread;
	bool running;
	bool abandoned; /* a timed join gave up on the thread: never freed */
	atomic_bool stop;

	/* counters */
	_Atomic uint64_t submitted;		     /* the submitting thread's */
	_Atomic uint64_t done[RP_SNMP_STATUS_COUNT]; /* the poller's */
	_Atomic uint64_t inflight;		     /* the poller's */
	_Atomic uint64_t taken;			     /* the poller's: popped from `in` */
	_Atomic uint64_t spoofed;		     /* the poller's: v2c answers dropped */
};

/** A request's callback magic: its slot and generation, not a pointer to the slot. */
static inline void *rp_snmp__ticket(const struct rp_snmp *s, const struct rp_snmp_req *q)
{
	return (void *)(uintptr_t)((uint64_t)(uint32_t)(q - s->reqs) << 32 | q->gen);
}

/** net-snmp's callback for every session (callback_magic: the poller); poller thread. */
int rp_snmp__on_answer(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic);
/** Delivers a local_error (or timeout: a v3 engine ID probe unanswered) result for q,
 *  with net-snmp's message from sp (a session handle) or else ss after `what`; both may
 *  be NULL (the detail is then `what` alone).
 *  Does nothing when the callback already delivered q. Poller thread. */
void rp_snmp__local_error(struct rp_snmp *s, struct rp_snmp_req *q, const char *what, void *sp,
			  netsnmp_session *ss);
/** A new GET of the six objects; the caller owns it (snmp_free_pdu unless sent). */
netsnmp_pdu *rp_snmp__get_pdu(void);
/** One snmp_sess_read2 on session sp for socket fd (which must be readable). */
void rp_snmp__read(struct rp_snmp *s, void *sp, int fd);

/** Decodes an answer PDU into *out (no socket, clock or allocation): status (OK, or
 *  AGENT_ERROR for a report or an error status, with detail), objects, the uptime and
 *  the five strings (cleaned by rp_line_sanitize, cut to their sizes). Writes all of
 *  *out but addr, tag and done_real_ns. Returns out->status. One thread at a time: a
 *  report's words come from net-snmp's snmp_api_errstring, which uses a static buffer. */
int rp_snmp__decode(const netsnmp_pdu *pdu, struct rp_snmp_result *out);

#endif
