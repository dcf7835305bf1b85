/* The control thread's pieces: the fleet (which devices are monitored), the discovery
 * sweeps (which addresses answer), the SNMP schedule, and the daemon's own state with
 * the helpers its files share (daemon.c: start, loop, stop; status.c: health and its
 * log lines; points.c: device_info and sweep points; reload.c: SIGHUP). All belong to
 * the control thread; the fleet and the sweeps talk to the shards only through the
 * callbacks the daemon gives them. */
#ifndef RP_CTL_INT_H
#define RP_CTL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ringprobe/conf.h"
#include "ringprobe/daemon.h"
#include "ringprobe/devtable.h"
#include "ringprobe/dist.h"
#include "ringprobe/event.h"
#include "ringprobe/facts.h"
#include "ringprobe/health.h"
#include "ringprobe/hosts.h"
#include "ringprobe/permute.h"
#include "ringprobe/result.h"
#include "ringprobe/snmp.h"

/* `shard: I/N`: whether this instance keeps addr, by rendezvous hashing of the address
 * alone (seeded apart from the hash that routes addresses to shard threads). */
bool rp_ctl_mine(const struct rp_shard_sel *sel, const struct rp_ip *addr);
/* Which of `count` instances (0-based, count >= 1) owns addr: fixed across hosts and
 * versions (the function is written out above its definition in fleet.c). */
uint32_t rp_ctl_shard_owner(const struct rp_ip *addr, uint32_t count);

/* ---- fleet ---------------------------------------------------------------------- */

/* What the fleet asks of the shards: start monitoring addr (false: refused, nothing
 * started, the fleet must not remove it later), or stop. */
struct rp_fleet_ops {
	bool (*add)(void *arg, const struct rp_ip *addr, uint32_t id);
	void (*remove)(void *arg, const struct rp_ip *addr);
	/* A monitored device's class (its tags and interval, classes.c) changed. */
	void (*readd)(void *arg, const struct rp_ip *addr, uint32_t id);
	/* The class id of the devices of group g (0 = the top level) of c, with a device's
	 * own tags (dt, or NULL). */
	uint32_t (*class_of)(void *arg, const struct rp_conf *c, size_t g,
			     const struct rp_devtags *dt);
	void *arg;
};

/* A network of some group and the class its discovered devices take. */
struct rp_fleet_net {
	struct rp_cidr net;
	uint32_t id;
};

/* The static devices, sorted (rp_ip_cmp) and unique, stored by family so that an IPv4
 * device costs 4 bytes, not 16 (a million of them: 4 MB): in rp_ip_cmp order the IPv6
 * addresses below ::ffff:0:0 come first (v6[0 .. low6)), then every IPv4 address (v4),
 * then the rest of the IPv6 ones (v6[low6 .. n6)). Static device i of the n4 + n6 is
 * rp_fleet_static(f, i). */
struct rp_statics {
	uint32_t *v4;	     /* host byte order, ascending */
	struct rp_ip *v6;    /* ascending (rp_ip_cmp), no IPv4-mapped address */
	uint32_t *id4, *id6; /* each one's class id, beside v4 and v6; NULL: all 0 (no groups
			      * or tags, so a plain fleet costs nothing more) */
	size_t n4, n6, low6;
};

/* Static devices (the `devices` key, this instance's share) are kept in sorted
 * arrays and never evicted or pruned; discovered ones live in a device table with
 * room for max_devices minus the static ones, least recently answering first out. */
struct rp_fleet {
	struct rp_fleet_ops ops;
	struct rp_shard_sel sel;
	struct rp_statics statics;
	uint8_t *unplaced;	   /* per static: its add was refused; rp_fleet_retry asks again */
	size_t nstatic, nunplaced; /* nstatic = statics.n4 + statics.n6 */
	struct rp_devtable *found;
	uint32_t found_cap;
	struct rp_fleet_net *nets; /* every group's networks, for a discovered device's class */
	size_t nnets;
	uint64_t max_devices;
	uint64_t discovered, evicted, pruned, removed;
};

/** Expands `devices` (this instance's share) and sizes the table for max_devices.
 *  -E2BIG with why when the static devices alone exceed max_devices. Emits nothing:
 *  call rp_fleet_start to add the static devices. */
int rp_fleet_init(struct rp_fleet *f, const struct rp_conf *c, const struct rp_fleet_ops *ops,
		  char *why, size_t whylen);
void rp_fleet_fini(struct rp_fleet *f);
/** Static device i (< nstatic), in rp_ip_cmp order, and its class id. */
struct rp_ip rp_fleet_static(const struct rp_fleet *f, size_t i);
uint32_t rp_fleet_static_class(const struct rp_fleet *f, size_t i);
/** Of the networks' classes, the one with the shortest interval (0 without networks). */
uint32_t rp_fleet_net_class_max(const struct rp_fleet *f, uint32_t (*interval_ms)(void *, uint32_t),
				void *arg);
/** Emits an add for every static device. */
void rp_fleet_start(struct rp_fleet *f);
/** Devices monitored now. */
uint64_t rp_fleet_count(const struct rp_fleet *f);
/** Whether addr is monitored (static or discovered). */
bool rp_fleet_has(const struct rp_fleet *f, const struct rp_ip *addr);
/** Asks again for the static devices whose add was refused; returns how many went. */
size_t rp_fleet_retry(struct rp_fleet *f);
/** A sweep found addr alive: adds it (evicting the least recently seen discovered
 *  device when full) or refreshes it. True when it is new. A refused add is not kept
 *  (the next round finds the device again). */
bool rp_fleet_found(struct rp_fleet *f, const struct rp_ip *addr, uint64_t now_ms);
/** A monitored device answered: it is seen now. */
void rp_fleet_seen(struct rp_fleet *f, const struct rp_ip *addr, uint64_t now_ms);
/** Removes discovered devices unseen for longer than max_age_ms; returns how many. */
uint32_t rp_fleet_prune(struct rp_fleet *f, uint64_t now_ms, uint64_t max_age_ms);
/** Applies a new configuration's `devices`, `networks` and `max_devices`: static
 *  devices added and removed, discovered ones outside every network removed. -E2BIG
 *  (nothing changed) when the new static devices exceed max_devices. */
int rp_fleet_reload(struct rp_fleet *f, const struct rp_conf *c, char *why, size_t whylen);
/** Calls fn for every monitored device (not for statics whose add was refused), with
 *  its class id. */
void rp_fleet_each(const struct rp_fleet *f,
		   void (*fn)(void *arg, const struct rp_ip *addr, uint32_t id), void *arg);
/** The class id addr is (or would be) monitored with: a static's, else its network's. */
uint32_t rp_fleet_class(const struct rp_fleet *f, const struct rp_ip *addr);

/* ---- discovery sweeps ----------------------------------------------------------- */

/* A sweep probe's result id: the top bit, the round's epoch, the network index. */
#define RP_SWEEP_ID_BIT 0x80000000u
#define RP_SWEEP_ID(epoch, net)                                                                    \
	(RP_SWEEP_ID_BIT | ((uint32_t)((epoch)&0x7fffu) << 16) |                                   \
	 ((net) > 0xfffe ? 0xffffu : (uint32_t)(net)))

/* One round visits every host of every network once, in a random order, at the rate
 * the daemon gives it; a `sweep` point per network follows the round. */
struct rp_sweep {
	struct rp_cidr *nets; /* owned copy of `networks` */
	size_t nnets;
	struct rp_hosts hosts;
	struct rp_permute perm;
	uint64_t *probed, *alive; /* per network, this round */
	uint16_t epoch;
	bool active;	      /* a round is feeding or waiting for results */
	bool fed;	      /* every address of the round has been offered or skipped */
	uint64_t outstanding; /* probes offered and not yet answered */
	uint64_t round_start_real_ns, round_start_ns, fed_at_ns, next_round_ns;
	uint64_t interval_ns;
	uint64_t grace_ns; /* after the last offer, how long results may take */
	double tokens;
	uint64_t tokens_at_ns;
	uint64_t rounds, probes, found;
};

/** A point about one network's round (the daemon writes it as `sweep`). */
struct rp_sweep_report {
	const struct rp_cidr *net;
	uint64_t probed, alive;
	double duration_s;
	uint64_t start_real_ns;
};

void rp_sweep_init(struct rp_sweep *s, const struct rp_conf *c, uint64_t now_ns);
void rp_sweep_fini(struct rp_sweep *s);
/** New networks or interval: the current round ends (without a report) and a new
 *  one starts now when networks changed. */
void rp_sweep_reconf(struct rp_sweep *s, const struct rp_conf *c, uint64_t now_ns);
/** Starts a round when one is due. */
void rp_sweep_tick(struct rp_sweep *s, uint64_t now_ns);
/** Next address to probe within `rate_pps` (tokens) and `window` probes outstanding;
 *  addresses for which skip() says true are passed over (not ours, known already).
 *  False when nothing is to be sent now. */
bool rp_sweep_next(struct rp_sweep *s, uint64_t now_ns, double rate_pps, uint64_t window,
		   bool (*skip)(void *arg, const struct rp_ip *addr), void *arg, struct rp_ip *addr,
		   uint32_t *id);
/** A result of a sweep probe: true when it belongs to the current round and the
 *  address answered (a device found). */
bool rp_sweep_result(struct rp_sweep *s, uint32_t id, bool success);
/** When the round is over, calls report for each network and returns true. */
bool rp_sweep_finish(struct rp_sweep *s, uint64_t now_ns,
		     void (*report)(void *arg, const struct rp_sweep_report *r), void *arg);

/* ---- SNMP enrichment ------------------------------------------------------------ */

/* One monitored device's SNMP schedule, indexed by its slot in rp_enrich.t: 24 bytes
 * and no timer. The interval and the backoff are fixed for the schedule's life, so the
 * devices put to wait the one (or the other) are due in the order they were put there:
 * a list per wait, in time order, does what a timer wheel did (whose entry alone was 24
 * bytes a device, and 1M devices' schedule 48 MB instead of 24). */
struct rp_enrich_dev {
	uint64_t due_ms;     /* waiting: when it is due */
	uint32_t next, prev; /* in the list its state names: neighbours (RP_DEVTABLE_NO_SLOT) */
	uint32_t fails : 24; /* failed polls in a row (held at RP_ENRICH_FAILS_MAX) */
	uint32_t state : 8;  /* waiting (an interval or a backoff), due, or being asked */
	uint32_t cls;	     /* its class (classes.c): which SNMP settings apply */
};
_Static_assert(sizeof(struct rp_enrich_dev) <= 24, "1M devices' SNMP schedule costs 24 MB");
/* fails' bound: above snmp_max_consecutive_fails' largest (1,000,000). */
#define RP_ENRICH_FAILS_MAX ((1u << 24) - 1)

/* An intrusive list of slots, oldest first. */
struct rp_enrich_list {
	uint32_t head, tail, len;
};

/* Every monitored device is asked its system group when it joins, then every
 * snmp_interval; failures in a row past snmp_max_consecutive_fails suspend it for
 * snmp_backoff_duration. Polls leave at snmp_rate_limit (bursts of snmp_burst_limit).
 * Times are milliseconds of CLOCK_MONOTONIC. */
struct rp_enrich {
	struct rp_snmp *snmp;
	struct rp_devtable *t; /* address -> slot; suspension = SNMP backoff */
	struct rp_enrich_dev *dev;
	struct rp_facts *facts; /* the daemon's (facts.h), or NULL: answers' sysNames kept */
	uint32_t cap;
	/* By state (enrich.c's E_*): the due FIFO, those waiting an interval, those
	 * waiting a backoff. */
	struct rp_enrich_list list[3];
	uint64_t interval_ms, backoff_ms;
	uint32_t max_fails;
	double rate, burst, tokens;
	uint64_t tokens_at_ms;
	uint64_t polls, results[RP_SNMP_STATUS_COUNT], stale, suspensions;
	uint64_t skipped; /* due, not asked: SNMP off for their group */
	unsigned errors_logged;
	/* A class's profile and whether SNMP is on for it (NULL: profile 0, on). */
	uint32_t (*snmp_of)(void *arg, uint32_t cls, bool *on);
	void *snmp_arg;
};

struct rp_enrich_stats {
	uint64_t devices;     /* with an SNMP schedule now */
	uint64_t suspended;   /* backed off from now */
	uint64_t waiting;     /* due, held back by snmp_rate_limit now */
	uint64_t inflight;    /* handed to the poller, not answered yet, now */
	uint64_t polls;	      /* handed to the poller */
	uint64_t ok;	      /* answered */
	uint64_t timeouts;    /* not answered */
	uint64_t errors;      /* answered with an error, or not sent */
	uint64_t spoofed;     /* v2c answers from another address or port, dropped */
	uint64_t stale;	      /* answers for devices that left meanwhile */
	uint64_t suspensions; /* times a device was suspended */
};

/* An answer to write (a device_info point). */
typedef void (*rp_enrich_emit_fn)(void *arg, const struct rp_snmp_result *r);

/** Sizes the schedule for max_devices and creates the poller (not started); -errno, why. */
int rp_enrich_init(struct rp_enrich *e, const struct rp_conf *c, uint64_t now_ms, char *why,
		   size_t whylen);
void rp_enrich_fini(struct rp_enrich *e);
/** Starts the poller's thread; asks it to stop; waits for it until deadline_ns
 *  (CLOCK_MONOTONIC): -ETIMEDOUT when it is stuck in a blocking call (rp_snmp_join_by). */
int rp_enrich_start(struct rp_enrich *e);
void rp_enrich_request_stop(struct rp_enrich *e);
int rp_enrich_join_by(struct rp_enrich *e, uint64_t deadline_ns);
/** A device joined the fleet: due now. A device already known is left as it is. */
void rp_enrich_add(struct rp_enrich *e, const struct rp_ip *addr, uint64_t now_ms);
/** Same, for a device of class cls (its group's SNMP settings apply). */
void rp_enrich_add_class(struct rp_enrich *e, const struct rp_ip *addr, uint64_t now_ms,
			 uint32_t cls);
/** A known device's class changed (a reload). */
void rp_enrich_set_class(struct rp_enrich *e, const struct rp_ip *addr, uint32_t cls);
/** New SNMP settings (a reload): stops the poller, writes what it answered (emit, may be
 *  NULL), makes one for c (for `old` again when that fails) and asks again what was in
 *  flight. The schedule and the devices stay. 0, or -errno with why. */
int rp_enrich_repoll(struct rp_enrich *e, const struct rp_conf *c, const struct rp_conf *old,
		     uint64_t now_ms, rp_enrich_emit_fn emit, void *arg, char *why, size_t whylen);
/** Makes due now every waiting device whose class pick() takes. */
void rp_enrich_due_now(struct rp_enrich *e, bool (*pick)(void *arg, uint32_t cls), void *arg);
/** A device left the fleet: no more polls, an answer in flight is dropped, its facts
 *  (e->facts) forgotten. */
void rp_enrich_remove(struct rp_enrich *e, const struct rp_ip *addr);
/** Takes answers (emit for each success), moves due devices on, submits within the rate. */
/** Answers go to emit while ready(arg) says the consumer takes one more (ready may be
 *  NULL: always); the rest wait in the poller's ring for the next tick. */
void rp_enrich_tick(struct rp_enrich *e, uint64_t now_ms, rp_enrich_emit_fn emit,
		    bool (*ready)(void *arg), void *arg);
void rp_enrich_stats(const struct rp_enrich *e, struct rp_enrich_stats *out);

/* ---- device classes (classes.c) ---------------------------------------------------- */

/* Most classes one run can hold (the writer's tag table). */
#define RP_CTL_CLASSES 65536

/* A class: what a device's points are written with (its name and static tags, escaped
 * once) and how often it is probed. Devices with the same tags and interval share one,
 * so a million devices in three groups cost three. Id 0 is no tags at the top level's
 * ping_interval; class k is v[k - 1], and lines[k - 1] its pre-escaped tags, which the
 * writer reads (rp_writer_device_tags): written once before any result carries the id,
 * never changed or freed while the writer runs (a reload adds classes, never edits). */
struct rp_ctl_class {
	char *name;	       /* the DNS name it is for, or NULL */
	char *group;	       /* the group with its own snmp block it is keyed by, or NULL */
	struct rp_tagset tags; /* merged static tags (device_info points) */
	uint32_t interval_ms;
	uint32_t next;	 /* hash chain: the next id, 0 = end */
	uint16_t snmp;	 /* the poller's profile its devices are asked with */
	bool snmp_on;	 /* whether they are asked at all */
	uint8_t profile; /* its probe profile (prof[] below; prober.h) */
};

struct rp_probe_profile;

struct rp_ctl_classes {
	const char **lines; /* [RP_CTL_CLASSES], append-only */
	struct rp_ctl_class *v;
	uint32_t n, cap;
	uint32_t *head; /* RP_CTL_CLASS_BUCKETS chains of ids */
	bool full_logged;
	bool top_snmp_on; /* class 0's snmp_on: the running snmp.enabled */
	/* Probe profiles, append-only like the classes (a profile the prober has is never
	 * redefined): prof[0] is the top level's as running, the others each distinct
	 * settings of some group. */
	struct rp_conf_probe prof[RP_CONF_PROFILES];
	unsigned nprof;
	bool prof_full_logged;
};

/* ---- devices given by name (names.c) --------------------------------------------- */

struct rp_names;

/* One `devices:` name (of any group): its class (classes.c: the results' id, with
 * name=NAME and its group's tags) and the addresses held for it. */
struct rp_ctl_name {
	char *name; /* NULL once a reload removed it */
	uint32_t tag;
	uint32_t n;
	struct rp_ip addrs[16]; /* RP_NAMES_MAX_ADDRS */
	int status;		/* enum rp_names_status last delivered */
};

struct rp_ctl_names {
	struct rp_names *r;    /* NULL without names */
	int family;	       /* 4, 6 or 0 (both) */
	struct rp_ctl_name *v; /* indexed by the resolver's id */
	size_t n;
	struct rp_devtable *held; /* address -> slot */
	uint32_t *refs, *tag_of;  /* per slot: names holding it, the first one's class */
	uint8_t *unplaced;	  /* per slot: the prober refused it; asked again */
	uint32_t cap, nunplaced, failing;
	uint64_t changes, refused;
};

struct rp_ctl_names_stats {
	uint32_t names, failing, addresses;
	uint64_t queries, failures, changes, refused;
};

/* ---- the daemon ------------------------------------------------------------------- */

struct rp_prober;
struct rp_spsc;
struct rp_writer;
struct rp_health_server;

/* The devices down now, for /api/v1/down (down.c); t is NULL without states or a
 * health server. */
struct rp_ctl_down {
	struct rp_devtable *t;	    /* address -> slot, at most cap */
	struct rp_down_entry *v;    /* per slot */
	struct rp_down_entry *list; /* what was published last, oldest first */
	uint32_t cap;
	uint64_t total; /* devices down in all when last published */
	bool dirty;
};

/* device_files' watches (watch.c). */
struct rp_ctl_watch {
	int fd;	     /* inotify; -1 = none */
	int *wd;     /* per watched pattern */
	char **base; /* its file name part (a pattern) */
	size_t n;
	uint64_t due_ns; /* a reload is due then; 0 = none */
	uint64_t changes;
	char first[256]; /* the first file that changed since the last reload */
};

/* Everything `ringprobe run` holds: created and destroyed by rp_daemon_run (daemon.c),
 * which owns every pointer here; the control thread is its only user. */
struct rp_ctl {
	struct rp_conf conf; /* the running configuration (reload swaps its hot keys) */
	const struct rp_daemon_opts *opts;
	struct rp_prober *prober;
	unsigned nshards;
	uint32_t shard_cap;
	struct rp_spsc *wring; /* results to the writer */
	struct rp_writer *writer;
	struct rp_health_server *http;
	struct rp_fleet fleet;
	struct rp_sweep sweep;
	struct rp_enrich enrich; /* .snmp NULL when snmp.enabled is false */
	struct rp_facts *facts;	 /* sysNames for the health server; NULL without SNMP or it */
	struct rp_ctl_names names;
	struct rp_ctl_classes cls;
	uint64_t info_points;
	int sigfd;
	char host[256];

	uint64_t start_ns, start_real_ns, now_ns, now_ms;
	uint64_t next_snap_ns, next_point_ns, next_prune_ns;
	uint64_t reloads, reload_errors;
	double static_pps, found_pps;		 /* rp_ctl__rate_refresh: by the devices' classes */
	uint64_t refused_logged, refused_log_ns; /* cmd_refused at the last warning */
	bool ready, rate_short;

	struct rp_health_history hist; /* for "in the last minute" */

	struct rp_probe_result res[1024];
	struct rp_spsc *wevents; /* rounds and state changes to the writer; NULL = none */
	bool events;		 /* the shards make events (rounds or states) */
	struct rp_event ev[256];
	struct rp_ctl_down down;
	struct rp_ctl_watch watch;
	/* The page's RTT distribution and loss by network (dist.c); cap 0 without a
	 * health server. */
	struct rp_dist dist;
	struct rp_dist_view dist_view;
};

/** Whether c names a sink (influxdb.url or prometheus_remote_write.url); without one
 *  (prometheus.per_device alone) there is no writer, ring or spool (daemon.c). */
bool rp_ctl__has_sink(const struct rp_conf *c);

/** The clock `id` now, in ns (daemon.c). Any thread. */
uint64_t rp_ctl__clock_ns(clockid_t id);
/** Probes per second one device asks for: ping_count every ping_interval. */
static inline double rp_ctl__device_pps(const struct rp_ctl *d)
{
	return (double)(d->conf.ping_count > 0 ? d->conf.ping_count : 1) * 1e9 /
	       (double)d->conf.ping_interval;
}

/** ping_interval in milliseconds, as the shards take it. */
static inline uint32_t rp_ctl__interval_ms(const struct rp_ctl *d)
{
	return (uint32_t)((uint64_t)d->conf.ping_interval / 1000000u);
}

/* status.c */
/** Probes per second the fleet's intervals ask for. */
double rp_ctl__needed_pps(const struct rp_ctl *d);
/** Sums the static devices' rates by class, and takes a discovered device's as the
 *  fastest network's: after the fleet starts or reloads (a walk over the statics). */
void rp_ctl__rate_refresh(struct rp_ctl *d);
/** The networks to sweep: the top level's and every group's. */
size_t rp_ctl__network_count(const struct rp_conf *c);
/** Fills h from every stage's counters and judges it degraded or not (d->hist). */
void rp_ctl__snapshot(struct rp_ctl *d, struct rp_health_snapshot *h);
/** Writes h as a health_metrics point (host tag) and commits it. */
void rp_ctl__health_point(struct rp_ctl *d, const struct rp_health_snapshot *h);
/** Logs once when ping_rate_limit cannot serve the fleet, once when it can again. */
void rp_ctl__check_rate(struct rp_ctl *d);
/** Logs, at most once a minute, that the prober refused commands (`refused` in all). */
void rp_ctl__note_refused(struct rp_ctl *d, uint64_t refused);

/* points.c: callbacks, arg is the struct rp_ctl */
/** rp_enrich_emit_fn: one device_info point per SNMP answer (counted in info_points). */
void rp_ctl__device_info(void *arg, const struct rp_snmp_result *r);
/** A sweep point per network after a round, and its log line. */
void rp_ctl__sweep_report(void *arg, const struct rp_sweep_report *r);

/* names.c */
/** Allocates the tag table, and with names in `devices` starts the resolver and asks
 *  for each (after the prober exists). -errno with why. */
int rp_ctl__names_start(struct rp_ctl *d, char *why, size_t whylen);
/** Each loop: the resolver's answers, retries and re-resolutions (never blocks). */
void rp_ctl__names_tick(struct rp_ctl *d);
/** Asks the prober again for named addresses it refused; returns how many went. */
size_t rp_ctl__names_retry(struct rp_ctl *d);
/** Whether addr is probed for a name (sweeps skip it; discovery does not take it). */
bool rp_ctl__names_holds(const struct rp_ctl *d, const struct rp_ip *addr);
/** The tag (result id) addr is probed with for a name, 0 for none. */
uint32_t rp_ctl__name_tag(const struct rp_ctl *d, const struct rp_ip *addr);
/** The name addr is probed for, or NULL. */
const char *rp_ctl__name_of(const struct rp_ctl *d, const struct rp_ip *addr);
/** Calls fn for every named address the prober holds (not those monitored as listed
 *  or discovered devices), with its tag. */
void rp_ctl__names_each(struct rp_ctl *d,
			void (*fn)(void *arg, const struct rp_ip *addr, uint32_t tag), void *arg);
/** After a reload swapped in the new `devices`: names gone are released, new ones
 *  asked for (dns.* and address_family apply at restart). */
void rp_ctl__names_reload(struct rp_ctl *d);
void rp_ctl__names_stats(const struct rp_ctl *d, struct rp_ctl_names_stats *out);
void rp_ctl__names_fini(struct rp_ctl *d);

/* classes.c */
void rp_ctl__classes_init(struct rp_ctl *d);
void rp_ctl__classes_fini(struct rp_ctl *d);
/** The class of a device of group g (0 = the top level) of c, given by `name` (or NULL),
 *  with its own tags `own` (or NULL): found or added. 0 for no tags at the top level's
 *  interval, and when the table is full (logged once). */
uint32_t rp_ctl__class(struct rp_ctl *d, const struct rp_conf *c, size_t g,
		       const struct rp_tagset *own, const char *name);
/** A class's probe interval: class 0's is the running ping_interval. */
uint32_t rp_ctl__class_interval(const struct rp_ctl *d, uint32_t id);
/** A class (id > 0), or NULL. */
const struct rp_ctl_class *rp_ctl__class_at(const struct rp_ctl *d, uint32_t id);
/** Every class's SNMP profile and on/off again from c (at start and after a reload). */
void rp_ctl__classes_snmp(struct rp_ctl *d, const struct rp_conf *c);
/** The profile devices of class id are asked with, and (*on) whether they are. */
uint32_t rp_ctl__class_snmp(const struct rp_ctl *d, uint32_t id, bool *on);
/** A class's probe profile (0 for class 0). */
unsigned rp_ctl__class_profile(const struct rp_ctl *d, uint32_t id);
/** rp_prober_queue_add_profile / _readd_profile of a device of class id, with its
 *  interval and profile. */
int rp_ctl__queue_add(struct rp_ctl *d, const struct rp_ip *addr, uint32_t id);
int rp_ctl__queue_readd(struct rp_ctl *d, const struct rp_ip *addr, uint32_t id);
/** The prober's form of profile k (k < nprof). */
void rp_ctl__profile(const struct rp_ctl *d, unsigned k, struct rp_probe_profile *out);
/** A reload's new top-level ping_timeout, before the classes are computed again. */
void rp_ctl__profile_timeout(struct rp_ctl *d, int64_t ping_timeout);
/* down.c */
/** Sizes the list (states on and a health server running; else nothing). */
void rp_ctl__down_init(struct rp_ctl *d);
void rp_ctl__down_fini(struct rp_ctl *d);
/** A state change on its way to the writer. */
void rp_ctl__down_event(struct rp_ctl *d, const struct rp_event *e);
/** The fleet removed addr: off the list. */
void rp_ctl__down_forget(struct rp_ctl *d, const struct rp_ip *addr);
/** Once a second: the list to the health server when it or `total` (the shards'
 *  devices_down) changed. */
void rp_ctl__down_publish(struct rp_ctl *d, uint64_t total);

/* dist.c */
/** With a health server: the RTT histogram and the network table (max_devices
 *  networks at most, RP_DIST_NETS_MAX). */
void rp_ctl__dist_init(struct rp_ctl *d);
void rp_ctl__dist_fini(struct rp_ctl *d);
/** Once a second: moves the window on and publishes it to the health server. */
void rp_ctl__dist_publish(struct rp_ctl *d);

/* watch.c */
/** Watches the directories of device_files' patterns (none: nothing is opened). */
void rp_ctl__watch_init(struct rp_ctl *d);
/** After a reload took a new configuration: the patterns' directories again. */
void rp_ctl__watch_reset(struct rp_ctl *d);
/** Each loop: reads the events; a quarter second after the last one for a matching
 *  file, reloads. */
void rp_ctl__watch_tick(struct rp_ctl *d);
void rp_ctl__watch_fini(struct rp_ctl *d);

/* reload.c */
/** SIGHUP: re-reads the configuration and applies what can change while running. */
void rp_ctl__reload(struct rp_ctl *d);

#endif
