/* Privilege drop: after the sockets are open, become an unprivileged user with no
 * capabilities, and prove it (a drop that silently failed is worse than none). */
#include "ringprobe/priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Empty effective, permitted and inheritable sets for this thread. */
static int caps_clear(void)
{
	cap_t caps = cap_init();
	int rc = 0;

	if (!caps)
		return -errno;
	if (cap_clear(caps) < 0 || cap_set_proc(caps) < 0)
		rc = -errno;
	cap_free(caps);
	return rc;
}

static bool has_net_raw(void)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t eff = CAP_CLEAR, perm = CAP_CLEAR;

	if (!caps)
		return true;
	cap_get_flag(caps, CAP_NET_RAW, CAP_EFFECTIVE, &eff);
	cap_get_flag(caps, CAP_NET_RAW, CAP_PERMITTED, &perm);
	cap_free(caps);
	return eff == CAP_SET || perm == CAP_SET;
}

/* The bounding set limits what an exec of a file with capabilities could regain.
 * Dropping needs CAP_SETPCAP, so this runs before the uid change; without it (an
 * unprivileged start) there is nothing to regain anyway. */
static void bounding_clear(void)
{
	cap_value_t max = cap_max_bits();

	for (cap_value_t c = 0; c < max; c++)
		if (cap_get_bound(c) > 0 && cap_drop_bound(c) < 0)
			return;
}

int rp_priv_drop(const char *user, char *why, size_t whylen)
{
	bool switch_user = user && *user;
	struct passwd pw, *found = NULL;
	char pwbuf[4096];
	int rc;

	if (switch_user) {
		rc = getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &found);
		if (rc || !found) {
			snprintf(why, whylen, "user %s: %s", user,
				 rc ? strerror(rc) : "no such user");
			return rc ? -rc : -ENOENT;
		}
		if (pw.pw_uid == 0) {
			snprintf(why, whylen, "user %s is root: nothing would be dropped", user);
			return -EINVAL;
		}
	}
	/* No exec from here on can gain privileges (setuid binaries, file capabilities):
	 * set in the code, not only in the systemd unit, so a start by hand gets it too.
	 * It is per thread and inherited, like the capability sets below. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0) {
		rc = -errno;
		snprintf(why, whylen, "prctl(PR_SET_NO_NEW_PRIVS, 1): %s", strerror(-rc));
		return rc;
	}
	if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0) {
		rc = -errno;
		snprintf(why, whylen, "prctl(PR_SET_KEEPCAPS, 0): %s", strerror(-rc));
		return rc;
	}
	bounding_clear();
	/* EINVAL: a kernel before 4.3 has no ambient set, so nothing to reset. */
	if (cap_reset_ambient() < 0 && errno != EINVAL) {
		rc = -errno;
		snprintf(why, whylen, "clearing ambient capabilities: %s", strerror(-rc));
		return rc;
	}
	if (switch_user) {
		gid_t gid = pw.pw_gid;
		const char *step = "setgroups";

		if (setgroups(1, &gid) < 0 || (step = "setresgid", setresgid(gid, gid, gid) < 0) ||
		    (step = "setresuid", setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) < 0)) {
			rc = -errno;
			snprintf(why, whylen, "%s to user %s: %s", step, user, strerror(-rc));
			return rc;
		}
	}
	rc = caps_clear();
	if (rc) {
		snprintf(why, whylen, "clearing capabilities: %s", strerror(-rc));
		return rc;
	}
	if (has_net_raw()) {
		snprintf(why, whylen, "CAP_NET_RAW still held after the drop");
		return -EPERM;
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L) != 1) {
		snprintf(why, whylen, "no_new_privs is not set after the drop");
		return -EPERM;
	}
	if (switch_user) {
		if (getuid() != pw.pw_uid || geteuid() != pw.pw_uid || getegid() != pw.pw_gid) {
			snprintf(why, whylen, "uid/gid did not change to %s", user);
			return -EPERM;
		}
		if (setuid(0) == 0) {
			snprintf(why, whylen, "setuid(0) still succeeds after the drop");
			return -EPERM;
		}
		snprintf(why, whylen,
			 "running as %s (uid %u gid %u), no capabilities, no_new_privs", user,
			 (unsigned)pw.pw_uid, (unsigned)pw.pw_gid);
	} else {
		snprintf(why, whylen, "capabilities cleared, uid %u kept, no_new_privs",
			 (unsigned)getuid());
	}
	return 0;
}
