/* Target lists given on the command line: an address (IPv4 or IPv6), a CIDR, a DNS
 * name, or @file with one per line (# starts a comment). Used by `ping` and `sweep`.
 * Names are kept apart (rp_cidr_list.names) for the caller to resolve. */
#ifndef RP_TARGETS_H
#define RP_TARGETS_H

#include "ringprobe/conf.h"
#include "ringprobe/diag.h"

/** Parses one argument and appends its networks to `out` (a /32 or /128 for an
 *  address), or its names to out->names.
 *  Problems go to `d` naming the argument, or the file and line. Networks larger
 *  than a /8 are refused. Returns 0, or -EINVAL / -errno. */
int rp_targets_add_arg(struct rp_cidr_list *out, const char *arg, struct rp_diags *d);
/** Appends one entry (an address, a network or a DNS name; no @file) given at `where`
 *  (for messages) and `line`. 0 or -EINVAL with the reason in `d`. */
int rp_targets_add_entry(struct rp_cidr_list *out, const char *text, const char *where,
			 uint32_t line, struct rp_diags *d);
/** Total addresses in a list (a network counts all its addresses). */
uint64_t rp_targets_count(const struct rp_cidr_list *l);
/** Frees the list's arrays. */
void rp_targets_free(struct rp_cidr_list *l);

#endif
