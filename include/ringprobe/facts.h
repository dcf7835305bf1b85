/* What SNMP said about each device, kept for the health server: the last sysName the
 * control thread learned per device, so the fleet page, /api/v1/down and the per-device
 * exposition (prometheus.sysname_label) can show it. The device_info points carry every
 * answer to the sink; this keeps only what the server shows.
 *
 * Threads: one owner, the control thread, creates, writes and destroys it (after the
 * health server stopped); the health server's thread only reads, through
 * rp_facts_sysname, which copies under the store's mutex. Neither side is the probe path
 * (the shards never touch it), and the owner holds the mutex only while it changes an
 * entry (or, rarely, compacts the strings), a reader only while it copies one string.
 *
 * Memory: only devices that answered with a non-empty sysName have an entry (a device
 * table that starts at 1,024 and doubles up to max_devices as they answer), and their names
 * live in one arena, each at most RP_SNMP_NAME_MAX - 1 bytes and NUL-terminated. A name
 * replaced or forgotten leaves garbage that a compaction reclaims once it outweighs the
 * names kept. A device that leaves the fleet (reload, prune, eviction) is forgotten. */
#ifndef RP_FACTS_H
#define RP_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringprobe/addr.h"

struct rp_facts;

struct rp_facts_stats {
	uint32_t devices;   /* with a sysName kept */
	uint64_t arena;	    /* bytes allocated for names */
	uint64_t used;	    /* bytes of them holding names, garbage included */
	uint64_t garbage;   /* bytes of names replaced or forgotten, not yet reclaimed */
	uint64_t changes;   /* names set to something new (first or different) */
	uint64_t compacted; /* compactions */
};

/** Control thread: a store for up to cap devices (1..RP_DEVTABLE_MAX_CAPACITY, else
 *  -EINVAL); *out, owned by the caller, is written only on success. */
int rp_facts_create(struct rp_facts **out, uint32_t cap);
/** Control thread, once no reader can call in any more; NULL is a no-op. */
void rp_facts_destroy(struct rp_facts *f);
/** Control thread: addr's sysName is now `name` (already sanitized as SNMP results are:
 *  no control characters, valid UTF-8; cut to RP_SNMP_NAME_MAX - 1 bytes at a character
 *  boundary). "" forgets it. True when what is kept changed. When the store is full the
 *  least recently set device makes room. */
bool rp_facts_set_sysname(struct rp_facts *f, const struct rp_ip *addr, const char *name);
/** Control thread: addr left the fleet; its entry goes. NULL f is a no-op. */
void rp_facts_forget(struct rp_facts *f, const struct rp_ip *addr);
/** Any thread: copies addr's sysName into buf (cap >= 1 bytes, NUL-terminated, cut at a
 *  character boundary when cap is short; RP_SNMP_NAME_MAX always holds it). Returns its
 *  length, 0 when none is known (buf ""). NULL f knows none. */
size_t rp_facts_sysname(struct rp_facts *f, const struct rp_ip *addr, char *buf, size_t cap);
/** Any thread: the counters. */
void rp_facts_stats(struct rp_facts *f, struct rp_facts_stats *out);

#endif
