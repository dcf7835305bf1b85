/* SNMP enrichment: asks devices for their system group (sysDescr, sysObjectID,
 * sysUpTime, sysContact, sysName, sysLocation) with net-snmp, v2c or v3.
 *
 * The poller runs its own thread. net-snmp's session API is asynchronous for
 * requests, but opening a v3 session probes the agent's engine ID synchronously
 * (snmp_sess_open waits up to snmp.timeout x (snmp.retries + 1)); on the control
 * thread that would stall the shards' result rings, so the polls live apart.
 *
 * Threads: rp_snmp_create/start/stop/destroy belong to one owner thread;
 * rp_snmp_submit, rp_snmp_take and rp_snmp_room belong to one other thread (the
 * control thread, or the owner itself): requests travel to the poller through
 * one SPSC ring and results come back through another. rp_snmp_stats may be
 * called from any thread.
 *
 * Bounded: at most snmp.max_inflight requests in flight (v2c: through shared
 * net-snmp sessions, a UDP socket per 64 and family, the IPv6 ones opened by the first
 * IPv6 request; v3: a session and socket each), a request ring and a result ring with
 * room for every request accepted, so a result is never dropped. The poller takes a new
 * request only while the result ring has room for everything in flight.
 *
 * Either family: IPv6 devices are asked over UDP/IPv6 ("udp6"). Where the host has no
 * IPv6, their requests end as RP_SNMP_LOCAL_ERROR ("no IPv6 on this host: ...") and
 * IPv4 goes on. */
#ifndef RP_SNMP_H
#define RP_SNMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringprobe/addr.h"
#include "ringprobe/conf.h"

/** Sizes of the strings of a result, NUL included (longer values are cut). */
#define RP_SNMP_NAME_MAX 256
#define RP_SNMP_DESCR_MAX 512
#define RP_SNMP_OID_MAX 128
#define RP_SNMP_TEXT_MAX 256
/** Most sessions open at once, whatever snmp.max_inflight says (each holds a socket). */
#define RP_SNMP_INFLIGHT_MAX 4096

enum rp_snmp_status {
	RP_SNMP_OK = 0,	     /* the agent answered (some objects may be missing) */
	RP_SNMP_TIMEOUT,     /* no answer within snmp.timeout x (snmp.retries + 1) */
	RP_SNMP_AGENT_ERROR, /* the agent answered with an error status, or v3 auth failed */
	RP_SNMP_LOCAL_ERROR, /* the session could not be opened or the request not sent */
	RP_SNMP_STATUS_COUNT
};

/** One poll's answer. Strings are sanitized (rp_line_sanitize: no control characters,
 *  valid UTF-8) and NUL-terminated; a missing object leaves its string empty. */
struct rp_snmp_result {
	struct rp_ip addr;
	uint32_t tag;	/* the caller's, from rp_snmp_submit */
	uint8_t status; /* enum rp_snmp_status */
	bool has_uptime;
	uint16_t objects;		 /* how many of the six objects came back */
	uint32_t uptime_ticks;		 /* sysUpTime, hundredths of a second */
	uint64_t done_real_ns;		 /* CLOCK_REALTIME when the answer came (or gave up) */
	char name[RP_SNMP_NAME_MAX];	 /* sysName.0 */
	char descr[RP_SNMP_DESCR_MAX];	 /* sysDescr.0 */
	char object_id[RP_SNMP_OID_MAX]; /* sysObjectID.0, dotted: .1.3.6.1.4.1... */
	char location[RP_SNMP_TEXT_MAX]; /* sysLocation.0 */
	char contact[RP_SNMP_TEXT_MAX];	 /* sysContact.0 */
	char detail[96];		 /* why, for statuses other than OK (net-snmp's words) */
};

/** Counters, monotonic unless noted. */
struct rp_snmp_stats {
	uint64_t submitted;		     /* requests accepted by rp_snmp_submit */
	uint64_t done[RP_SNMP_STATUS_COUNT]; /* results by status */
	uint64_t inflight;		     /* now: sessions open */
	uint64_t queued;		     /* now: accepted, not yet sent */
	uint64_t spoofed; /* v2c answers from another address or port than the request's,
			   * either family, dropped (the request still waits for its own) */
};

struct rp_snmp;

/** Sizes everything from conf's snmp.* (version, community or v3 keys, port, timeout,
 *  retries, max_inflight); v3 keys are derived from the passphrases here, once. Each
 *  group with its own `snmp:` block (enabled) gets a profile of its own: profile g is
 *  group g - 1's (rp_snmp_profile), profile 0 the top level's. -errno with `why`. */
int rp_snmp_create(struct rp_snmp **out, const struct rp_conf *conf, char *why, size_t whylen);
/** The profile devices of group g (0 = the top level) of conf are asked with:
 *  g when that group has its own `snmp:` block, else 0. */
uint32_t rp_snmp_profile(const struct rp_conf *conf, size_t g);
/** Whether SNMP is on for group g of conf (its block's snmp.enabled, or the top level's). */
bool rp_snmp_group_on(const struct rp_conf *conf, size_t g);
/** Whether any group's devices (or the top level's) are asked at all. */
bool rp_snmp_any_on(const struct rp_conf *conf);
/** Whether any of them uses SNMPv3. */
bool rp_snmp_any_v3(const struct rp_conf *conf);
/** Starts the poller thread. 0 or -errno. */
int rp_snmp_start(struct rp_snmp *s);
/** Stops the thread (requests in flight are abandoned, counted nowhere); idempotent. */
void rp_snmp_stop(struct rp_snmp *s);
/** Asks the thread to stop, without waiting; answers already back stay takeable. */
void rp_snmp_request_stop(struct rp_snmp *s);
/** Waits for the thread until deadline_ns (CLOCK_MONOTONIC): 0 once it has ended,
 *  -ETIMEDOUT if it is still inside a blocking call (a v3 engine-ID discovery holds it
 *  for up to timeout x (retries + 1)). Then the poller is abandoned: rp_snmp_destroy
 *  leaves its memory to the thread, for a process that is about to exit. */
int rp_snmp_join_by(struct rp_snmp *s, uint64_t deadline_ns);
/** Stops if running and frees everything (unless abandoned); NULL is a no-op. */
void rp_snmp_destroy(struct rp_snmp *s);
/** Requests the system group of addr (either family); `tag` comes back in the result.
 *  False when the request ring is full (nothing accepted: try again later). */
bool rp_snmp_submit(struct rp_snmp *s, const struct rp_ip *addr, uint32_t tag);
/** Same, with profile `prof`'s settings (one of rp_snmp_profile's; a profile that is not
 *  open asks with profile 0's). */
bool rp_snmp_submit_as(struct rp_snmp *s, const struct rp_ip *addr, uint32_t tag, uint32_t prof);
/** How many more requests rp_snmp_submit would accept now. */
uint32_t rp_snmp_room(struct rp_snmp *s);
/** Moves up to max results out; returns how many. */
uint32_t rp_snmp_take(struct rp_snmp *s, struct rp_snmp_result *out, uint32_t max);
/** Any thread: a snapshot of the counters. */
void rp_snmp_stats(const struct rp_snmp *s, struct rp_snmp_stats *out);
/** A status's name: "ok", "timeout", "agent_error", "local_error". */
const char *rp_snmp_status_name(int status);

#endif
