/* The control thread's pieces: the fleet (which devices are monitored) and the
 * discovery sweeps (which addresses answer). Both belong to the control thread and
 * talk to the shards only through the callbacks the daemon gives them. */
#ifndef RP_CTL_INT_H
#define RP_CTL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringprobe/conf.h"
#include "ringprobe/devtable.h"
#include "ringprobe/hosts.h"
#include "ringprobe/permute.h"

/* `shard: I/N`: whether this instance keeps addr. A stable hash of the address alone
 * (seeded apart from the hash that routes addresses to shard threads). */
bool rp_ctl_mine(const struct rp_shard_sel *sel, uint32_t addr);

/* ---- fleet ---------------------------------------------------------------------- */

/* What the fleet asks of the shards: start monitoring addr, or stop. */
struct rp_fleet_ops {
	void (*add)(void *arg, uint32_t addr);
	void (*remove)(void *arg, uint32_t addr);
	void *arg;
};

/* Static devices (the `devices` key, this instance's share) are kept in a sorted
 * array and never evicted or pruned; discovered ones live in a device table with
 * room for max_devices minus the static ones, least recently answering first out. */
struct rp_fleet {
	struct rp_fleet_ops ops;
	struct rp_shard_sel sel;
	uint32_t *statics; /* sorted, unique */
	size_t nstatic;
	struct rp_devtable *found;
	uint32_t found_cap;
	uint64_t max_devices;
	uint64_t discovered, evicted, pruned, removed;
};

/** Expands `devices` (this instance's share) and sizes the table for max_devices.
 *  -E2BIG with why when the static devices alone exceed max_devices. Emits nothing:
 *  call rp_fleet_start to add the static devices. */
int rp_fleet_init(struct rp_fleet *f, const struct rp_conf *c, const struct rp_fleet_ops *ops,
		  char *why, size_t whylen);
void rp_fleet_fini(struct rp_fleet *f);
/** Emits an add for every static device. */
void rp_fleet_start(struct rp_fleet *f);
/** Devices monitored now. */
uint64_t rp_fleet_count(const struct rp_fleet *f);
/** Whether addr is monitored (static or discovered). */
bool rp_fleet_has(const struct rp_fleet *f, uint32_t addr);
/** A sweep found addr alive: adds it (evicting the least recently seen discovered
 *  device when full) or refreshes it. True when it is new. */
bool rp_fleet_found(struct rp_fleet *f, uint32_t addr, uint64_t now_ms);
/** A monitored device answered: it is seen now. */
void rp_fleet_seen(struct rp_fleet *f, uint32_t addr, uint64_t now_ms);
/** Removes discovered devices unseen for longer than max_age_ms; returns how many. */
uint32_t rp_fleet_prune(struct rp_fleet *f, uint64_t now_ms, uint64_t max_age_ms);
/** Applies a new configuration's `devices`, `networks` and `max_devices`: static
 *  devices added and removed, discovered ones outside every network removed. -E2BIG
 *  (nothing changed) when the new static devices exceed max_devices. */
int rp_fleet_reload(struct rp_fleet *f, const struct rp_conf *c, char *why, size_t whylen);
/** Calls fn for every monitored device. */
void rp_fleet_each(const struct rp_fleet *f, void (*fn)(void *arg, uint32_t addr), void *arg);

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
		   bool (*skip)(void *arg, uint32_t addr), void *arg, uint32_t *addr, uint32_t *id);
/** A result of a sweep probe: true when it belongs to the current round and the
 *  address answered (a device found). */
bool rp_sweep_result(struct rp_sweep *s, uint32_t id, bool success);
/** When the round is over, calls report for each network and returns true. */
bool rp_sweep_finish(struct rp_sweep *s, uint64_t now_ns,
		     void (*report)(void *arg, const struct rp_sweep_report *r), void *arg);

#endif
