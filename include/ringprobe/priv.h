/* Dropping privileges once the ICMP sockets are open (DESIGN.md "Reliability": raw
 * socket first, then --user and capabilities cleared). */
#ifndef RP_PRIV_H
#define RP_PRIV_H

#include <stddef.h>

/** Switches the process to `user` (getpwnam: setgroups to its primary group, then
 *  setresgid and setresuid) and clears every capability: effective, permitted,
 *  inheritable, ambient, and the bounding set while CAP_SETPCAP still allows it, with
 *  PR_SET_KEEPCAPS off and PR_SET_NO_NEW_PRIVS on. Then checks that CAP_NET_RAW is
 *  gone, that no_new_privs is set and that setuid(0) fails.
 *  NULL or "" keeps the uid and only clears capabilities (a root process stays uid 0
 *  but loses CAP_NET_RAW and the rest). Call it from the main thread before any other
 *  thread starts: capability sets are per thread. Sockets already open keep working.
 *  Returns 0, or -errno with the reason in why (-ENOENT: no such user; -EINVAL: the
 *  user is root; -EPERM: a check failed). */
int rp_priv_drop(const char *user, char *why, size_t whylen);

#endif
