/* rp_names_resolve_all(): the resolver of names.c driven to completion in poll(), for
 * the one-shot CLI (`ringprobe ping NAME`), which resolves its targets once at start
 * with a deadline. Caller's thread; blocks for at most timeout_ms (plus one tick). */
#include "ringprobe/names.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct oneshot {
	struct rp_names *n;
	struct rp_names_result *out;
	size_t left;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The first outcome of names[id] is its result: stop tracking it (no retries). */
static void got(void *arg, uint32_t id, const char *name, const struct rp_ip *addrs, size_t n,
		enum rp_names_status status)
{
	struct oneshot *o = arg;
	struct rp_names_result *r = &o->out[id];

	r->status = status;
	r->n = (uint32_t)n;
	memcpy(r->addrs, addrs, n * sizeof(*addrs));
	o->left--;
	rp_names_remove(o->n, id);
}

int rp_names_resolve_all(const struct rp_names_conf *c, const char *const *names, size_t count,
			 uint32_t timeout_ms, struct rp_names_result *out, char *why, size_t whylen)
{
	uint64_t now = mono_ms(), deadline = now + timeout_ms;
	struct oneshot o = {.out = out, .left = count};
	int ret, ok = 0;

	if (count > UINT32_MAX)
		return -EINVAL;
	ret = rp_names_create(&o.n, c, now, got, &o, why, whylen);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < count; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].status = RP_NAMES_PENDING;
	}
	for (size_t i = 0; i < count; i++) {
		ret = rp_names_add(o.n, names[i], (uint32_t)i);
		if (ret < 0) {
			if (why && whylen)
				snprintf(why, whylen, "not a host name: target %zu", i + 1);
			goto out;
		}
	}
	for (;;) {
		struct pollfd fds[16];
		int k, t;

		rp_names_tick(o.n, now);
		if (!o.left || now >= deadline)
			break;
		k = rp_names_pollfds(o.n, fds, 16);
		t = rp_names_next_timeout_ms(o.n, now);
		if (t < 0 || (uint64_t)t > deadline - now)
			t = (int)(deadline - now);
		if (poll(fds, (nfds_t)k, t) < 0 && errno != EINTR) {
			ret = -errno;
			goto out;
		}
		now = mono_ms();
	}
	for (size_t i = 0; i < count; i++) {
		if (out[i].status == RP_NAMES_PENDING)
			out[i].status = RP_NAMES_TIMEOUT;
		ok += out[i].status == RP_NAMES_OK;
	}
	ret = ok;
out:
	rp_names_destroy(o.n);
	return ret;
}
