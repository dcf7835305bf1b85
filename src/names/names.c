/* The name resolver (include/ringprobe/names.h): one c-ares channel, one record per name
 * found by id in an open-addressing table, re-resolutions and retries on an rp_wheel of
 * 1 ms ticks, due names waiting for an in-flight slot on a FIFO, and changes waiting for
 * the next rp_names_tick() on a second list, so the caller's callback never runs inside
 * c-ares (and may add and remove names). Control thread only. */
#include "ringprobe/names.h"

#include <ares.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ringprobe/compiler.h"
#include "ringprobe/hash.h"
#include "ringprobe/wheel.h"
#include "ringprobe/xalloc.h"

/* A circular intrusive list; a node pointing at itself is on no list. */
struct link {
	struct link *prev, *next;
};

static void link_init(struct link *l)
{
	l->prev = l->next = l;
}

static bool link_on(const struct link *l)
{
	return l->next != l;
}

static void link_del(struct link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	link_init(l);
}

static void link_tail(struct link *head, struct link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

struct ent {
	struct rp_wheel_entry timer; /* linked while a re-resolution or retry is scheduled */
	struct link ready;	     /* on n->ready: due, waiting for an in-flight slot */
	struct link done;	     /* on n->done: a change waiting to be delivered */
	struct rp_names *owner;
	char *name;
	uint32_t id;
	bool inflight;		     /* c-ares holds a query with this record as its argument */
	bool removed;		     /* removed while in flight: the query's callback frees it */
	enum rp_names_status status; /* delivered */
	uint32_t fails;		     /* consecutive failures: the backoff's exponent */
	uint32_t n;
	struct rp_ip addrs[RP_NAMES_MAX_ADDRS];
};

struct rp_names {
	ares_channel ch;
	struct rp_wheel *wheel;
	rp_names_cb cb;
	void *arg;
	uint64_t now; /* the latest rp_names_tick() now (or create's) */
	uint64_t rng;
	uint32_t floor_ms, ceiling_ms, retry_min_ms, retry_max_ms, max_inflight;
	int af;
	/* id -> record: linear probing, at most half full, backward-shift deletion */
	struct ent **slots;
	uint32_t mask;
	struct link ready, done;
	struct rp_names_stats st;
};

const char *rp_names_status_str(enum rp_names_status s)
{
	switch (s) {
	case RP_NAMES_OK:
		return "ok";
	case RP_NAMES_PENDING:
		return "pending";
	case RP_NAMES_NXDOMAIN:
		return "nxdomain";
	case RP_NAMES_NODATA:
		return "nodata";
	case RP_NAMES_SERVFAIL:
		return "servfail";
	case RP_NAMES_REFUSED:
		return "refused";
	case RP_NAMES_TIMEOUT:
		return "timeout";
	case RP_NAMES_UNREACHABLE:
		return "unreachable";
	case RP_NAMES_ERROR:
		break;
	}
	return "error";
}

static bool is_failure(enum rp_names_status s)
{
	return s != RP_NAMES_OK && s != RP_NAMES_PENDING;
}

static int fail(char *why, size_t whylen, int err, const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
	return err;
}

/* ---- the id table ---- */

static uint32_t home(const struct rp_names *n, uint32_t id)
{
	return rp_hash_u32(id) & n->mask;
}

static uint32_t find_slot(const struct rp_names *n, uint32_t id)
{
	uint32_t i = home(n, id);

	while (n->slots[i] && n->slots[i]->id != id)
		i = (i + 1) & n->mask;
	return i;
}

static void table_put(struct rp_names *n, struct ent *e)
{
	n->slots[find_slot(n, e->id)] = e;
}

static void table_grow(struct rp_names *n)
{
	struct ent **old = n->slots;
	uint32_t cap = n->mask + 1;

	n->slots = rp_xcalloc((size_t)cap * 2, sizeof(*n->slots));
	n->mask = cap * 2 - 1;
	for (uint32_t i = 0; i < cap; i++)
		if (old[i])
			table_put(n, old[i]);
	free(old);
}

/* Empties slot i, moving back the entries after it that probing would no longer reach. */
static void table_del(struct rp_names *n, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		uint32_t k;

		j = (j + 1) & n->mask;
		if (!n->slots[j])
			break;
		k = home(n, n->slots[j]->id);
		/* The entry at j stays unless its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		n->slots[i] = n->slots[j];
		i = j;
	}
	n->slots[i] = NULL;
}

/* ---- scheduling ---- */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* retry_min doubled per failure after the first, capped at retry_max, minus up to a
 * quarter of jitter so that names failing together spread out. */
static uint64_t backoff(struct rp_names *n, uint32_t fails)
{
	uint64_t d = n->retry_min_ms;

	for (uint32_t i = 1; i < fails && d < n->retry_max_ms; i++)
		d *= 2;
	if (d > n->retry_max_ms)
		d = n->retry_max_ms;
	return d - xorshift(&n->rng) % (d / 4 + 1);
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res);

static void start(struct rp_names *n, struct ent *e)
{
	struct ares_addrinfo_hints h = {
	    .ai_flags = ARES_AI_NOSORT, /* sorted here; c-ares's RFC 6724 sort connects sockets */
	    .ai_family = n->af,
	    .ai_socktype = SOCK_DGRAM,
	};

	e->inflight = true;
	n->st.resolving++;
	n->st.queries++;
	if (e->fails)
		n->st.retries++;
	/* May call on_addrinfo() before it returns (a malformed name, no memory). */
	ares_getaddrinfo(n->ch, e->name, NULL, &h, on_addrinfo, e);
}

/* Starts due names while there are in-flight slots. */
static void pump(struct rp_names *n)
{
	while (link_on(&n->ready) && n->st.resolving < n->max_inflight) {
		struct ent *e = RP_CONTAINER_OF(n->ready.next, struct ent, ready);

		link_del(&e->ready);
		n->st.waiting--;
		start(n, e);
	}
}

static void make_due(struct rp_names *n, struct ent *e)
{
	link_tail(&n->ready, &e->ready);
	n->st.waiting++;
}

static void on_due(struct rp_wheel_entry *t, uint64_t now, void *arg)
{
	make_due(arg, RP_CONTAINER_OF(t, struct ent, timer));
}

/* ---- outcomes ---- */

static enum rp_names_status map_status(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return RP_NAMES_OK;
	case ARES_ENOTFOUND:
		return RP_NAMES_NXDOMAIN;
	case ARES_ENODATA:
		return RP_NAMES_NODATA;
	case ARES_ESERVFAIL:
		return RP_NAMES_SERVFAIL;
	case ARES_EREFUSED:
		return RP_NAMES_REFUSED;
	case ARES_ETIMEOUT:
		return RP_NAMES_TIMEOUT;
	case ARES_ECONNREFUSED:
		return RP_NAMES_UNREACHABLE;
	default:
		return RP_NAMES_ERROR;
	}
}

/* Adds ip to the sorted, duplicate-free set of *cnt addresses, keeping the lowest
 * RP_NAMES_MAX_ADDRS. */
static void insert(struct rp_ip *set, uint32_t *cnt, const struct rp_ip *ip)
{
	uint32_t pos = 0;

	while (pos < *cnt && rp_ip_cmp(&set[pos], ip) < 0)
		pos++;
	if ((pos < *cnt && rp_ip_eq(&set[pos], ip)) || pos == RP_NAMES_MAX_ADDRS)
		return;
	if (*cnt < RP_NAMES_MAX_ADDRS)
		(*cnt)++;
	memmove(&set[pos + 1], &set[pos], (*cnt - 1 - pos) * sizeof(*set));
	set[pos] = *ip;
}

/* The addresses of res of the families asked for into set (see insert()); the lowest TTL
 * among them into *ttl_s. Returns the count. */
static uint32_t collect(const struct rp_names *n, const struct ares_addrinfo *res,
			struct rp_ip set[RP_NAMES_MAX_ADDRS], uint32_t *ttl_s)
{
	uint32_t cnt = 0;

	*ttl_s = UINT32_MAX;
	for (const struct ares_addrinfo_node *a = res ? res->nodes : NULL; a; a = a->ai_next) {
		struct rp_ip ip;

		if (!rp_ip_from_sockaddr(a->ai_addr, (unsigned)a->ai_addrlen, &ip, NULL))
			continue;
		/* An AAAA record of a mapped address is that IPv4 address. */
		if ((n->af == AF_INET && !rp_ip_is_v4(&ip)) ||
		    (n->af == AF_INET6 && rp_ip_is_v4(&ip)))
			continue;
		if (a->ai_ttl >= 0 && (uint32_t)a->ai_ttl < *ttl_s)
			*ttl_s = (uint32_t)a->ai_ttl;
		insert(set, &cnt, &ip);
	}
	if (*ttl_s == UINT32_MAX)
		*ttl_s = 0;
	return cnt;
}

static void set_status(struct rp_names *n, struct ent *e, enum rp_names_status s)
{
	n->st.failing += (uint32_t)is_failure(s) - (uint32_t)is_failure(e->status);
	n->st.pending +=
	    (uint32_t)(s == RP_NAMES_PENDING) - (uint32_t)(e->status == RP_NAMES_PENDING);
	e->status = s;
}

/* Records an outcome: queues a change for delivery, schedules the next resolution. */
static void complete(struct rp_names *n, struct ent *e, enum rp_names_status s,
		     const struct rp_ip *set, uint32_t cnt, uint32_t ttl_s)
{
	bool changed = e->status != s;
	uint64_t delay;

	if (s == RP_NAMES_OK) {
		n->st.ok++;
		e->fails = 0;
		delay = (uint64_t)ttl_s * 1000;
		if (delay < n->floor_ms)
			delay = n->floor_ms;
		if (delay > n->ceiling_ms)
			delay = n->ceiling_ms;
		if (cnt != e->n || memcmp(set, e->addrs, cnt * sizeof(*set)) != 0) {
			changed = true;
			memcpy(e->addrs, set, cnt * sizeof(*set));
			e->n = cnt;
		}
	} else {
		n->st.failures++;
		if (e->fails < UINT32_MAX)
			e->fails++;
		delay = backoff(n, e->fails);
	}
	set_status(n, e, s);
	if (changed && !link_on(&e->done))
		link_tail(&n->done, &e->done);
	rp_wheel_add(n->wheel, &e->timer, n->now + delay);
}

static void free_ent(struct ent *e)
{
	free(e->name);
	free(e);
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct ent *e = arg;
	struct rp_names *n = e->owner;
	struct rp_ip set[RP_NAMES_MAX_ADDRS];
	enum rp_names_status s = map_status(status);
	uint32_t cnt = 0, ttl_s = 0;

	e->inflight = false;
	n->st.resolving--;
	if (e->removed) {
		free_ent(e);
		goto out;
	}
	/* ares_destroy(): rp_names_destroy() frees the record after it. */
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
		goto out;
	if (s == RP_NAMES_OK) {
		cnt = collect(n, res, set, &ttl_s);
		if (cnt == 0)
			s = RP_NAMES_NODATA;
	}
	complete(n, e, s, set, cnt, ttl_s);
out:
	if (res)
		ares_freeaddrinfo(res);
}

static void deliver(struct rp_names *n)
{
	while (link_on(&n->done)) {
		struct ent *e = RP_CONTAINER_OF(n->done.next, struct ent, done);

		link_del(&e->done);
		n->st.changes++;
		/* May remove e (or any other record) or add names. */
		n->cb(n->arg, e->id, e->name, e->addrs, e->n, e->status);
	}
}

/* ---- c-ares's sockets ---- */

static int get_fds(const struct rp_names *n, struct pollfd *fds, int max)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	int bits = ares_getsock(n->ch, socks, ARES_GETSOCK_MAXNUM), k = 0;

	for (int i = 0; i < ARES_GETSOCK_MAXNUM && k < max; i++) {
		short ev = 0;

		if (ARES_GETSOCK_READABLE(bits, i))
			ev |= POLLIN;
		if (ARES_GETSOCK_WRITABLE(bits, i))
			ev |= POLLOUT;
		if (!ev)
			break;
		fds[k].fd = socks[i];
		fds[k].events = ev;
		fds[k].revents = 0;
		k++;
	}
	return k;
}

int rp_names_pollfds(const struct rp_names *n, struct pollfd *fds, int max)
{
	return get_fds(n, fds, max);
}

/* Reads what is ready without waiting, then lets c-ares time out and retransmit. */
static void process(struct rp_names *n)
{
	struct pollfd fds[ARES_GETSOCK_MAXNUM];
	int k;

	if (!n->st.resolving)
		return;
	k = get_fds(n, fds, ARES_GETSOCK_MAXNUM);
	if (k > 0 && poll(fds, (nfds_t)k, 0) > 0) {
		for (int i = 0; i < k; i++) {
			short r = fds[i].revents;

			if (!r)
				continue;
			ares_process_fd(
			    n->ch, (r & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD,
			    (r & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD);
		}
	}
	ares_process_fd(n->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

void rp_names_tick(struct rp_names *n, uint64_t now_ms)
{
	n->now = now_ms;
	process(n);
	deliver(n);
	rp_wheel_run(n->wheel, now_ms, on_due, n);
	pump(n);
	deliver(n); /* outcomes c-ares gave while starting (a malformed name) */
}

int rp_names_next_timeout_ms(const struct rp_names *n, uint64_t now_ms)
{
	uint64_t best = UINT64_MAX, tick;
	struct timeval tv;

	if (link_on(&n->done) || (link_on(&n->ready) && n->st.resolving < n->max_inflight))
		return 0;
	if (rp_wheel_next_tick(n->wheel, &tick))
		best = tick > now_ms ? tick - now_ms : 0;
	if (n->st.resolving && ares_timeout(n->ch, NULL, &tv)) {
		uint64_t ms = (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;

		if (ms < best)
			best = ms;
	}
	if (best == UINT64_MAX)
		return -1;
	return best > INT_MAX ? INT_MAX : (int)best;
}

/* ---- life cycle ---- */

static uint32_t or_default(uint32_t v, uint32_t def)
{
	return v ? v : def;
}

int rp_names_create(struct rp_names **out, const struct rp_names_conf *c, uint64_t now_ms,
		    rp_names_cb cb, void *arg, char *why, size_t whylen)
{
	struct ares_options o;
	struct rp_names *n;
	int mask, ret;

	if (!cb)
		return fail(why, whylen, -EINVAL, "no callback");
	if (c->family != 0 && c->family != 4 && c->family != 6)
		return fail(why, whylen, -EINVAL, "address family must be 4, 6 or both");
	n = rp_xcalloc(1, sizeof(*n));
	n->floor_ms = or_default(c->ttl_floor_ms, RP_NAMES_DEFAULT_TTL_FLOOR_MS);
	n->ceiling_ms = or_default(c->ttl_ceiling_ms, RP_NAMES_DEFAULT_TTL_CEILING_MS);
	n->retry_min_ms = or_default(c->retry_min_ms, RP_NAMES_DEFAULT_RETRY_MIN_MS);
	n->retry_max_ms = or_default(c->retry_max_ms, RP_NAMES_DEFAULT_RETRY_MAX_MS);
	n->max_inflight = or_default(c->max_inflight, RP_NAMES_DEFAULT_MAX_INFLIGHT);
	n->af = c->family == 4 ? AF_INET : c->family == 6 ? AF_INET6 : AF_UNSPEC;
	n->rng = c->seed ? c->seed : 0x9e3779b97f4a7c15ull;
	n->cb = cb;
	n->arg = arg;
	n->now = now_ms;
	link_init(&n->ready);
	link_init(&n->done);
	ret = -EINVAL;
	if (n->floor_ms > n->ceiling_ms) {
		fail(why, whylen, ret, "the TTL floor is above the ceiling");
		goto out_free;
	}
	if (n->retry_min_ms > n->retry_max_ms) {
		fail(why, whylen, ret, "the shortest retry delay is above the longest");
		goto out_free;
	}
	n->mask = 15;
	n->slots = rp_xcalloc(n->mask + 1, sizeof(*n->slots));
	ret = rp_wheel_create(&n->wheel, RP_WHEEL_DEFAULT_BITS, RP_WHEEL_DEFAULT_LEVELS, now_ms);
	if (ret < 0) {
		fail(why, whylen, ret, "timing wheel");
		goto out_slots;
	}
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		ret = fail(why, whylen, -EIO, "c-ares: library initialisation failed");
		goto out_wheel;
	}
	memset(&o, 0, sizeof(o));
	o.timeout = (int)or_default(c->query_timeout_ms, RP_NAMES_DEFAULT_QUERY_TIMEOUT_MS);
	o.tries = (int)or_default(c->tries, RP_NAMES_DEFAULT_TRIES);
	mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	if (c->servers) {
		/* Exactly these servers, the name as given: no search list, no hosts file. */
		o.ndomains = 0;
		o.domains = NULL;
		o.lookups = (char *)"b";
		mask |= ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS;
	}
	ret = ares_init_options(&n->ch, &o, mask);
	if (ret != ARES_SUCCESS) {
		char msg[160];

		snprintf(msg, sizeof(msg), "c-ares: %s", ares_strerror(ret));
		ret = fail(why, whylen, ret == ARES_ENOMEM ? -ENOMEM : -EIO, msg);
		goto out_lib;
	}
	if (c->servers && ares_set_servers_ports_csv(n->ch, c->servers) != ARES_SUCCESS) {
		ret = fail(why, whylen, -EINVAL,
			   "bad resolver list (want addr[:port][,addr[:port]...])");
		goto out_channel;
	}
	*out = n;
	return 0;

out_channel:
	ares_destroy(n->ch);
out_lib:
	ares_library_cleanup();
out_wheel:
	rp_wheel_destroy(n->wheel);
out_slots:
	free(n->slots);
out_free:
	free(n);
	return ret;
}

void rp_names_destroy(struct rp_names *n)
{
	if (!n)
		return;
	/* Calls on_addrinfo() with ARES_EDESTRUCTION for each query in flight: it frees the
	 * records removed meanwhile; the table's are freed below. */
	ares_destroy(n->ch);
	ares_library_cleanup();
	rp_wheel_destroy(n->wheel); /* unlinks the records still scheduled: before freeing */
	for (uint32_t i = 0; i <= n->mask; i++)
		if (n->slots[i])
			free_ent(n->slots[i]);
	free(n->slots);
	free(n);
}

/* A host name, not an address: printable, no blank, not all digits and dots (a dotted
 * quad in any spelling, which c-ares would take as a literal), no ':' (IPv6). */
static bool valid_name(const char *name)
{
	size_t len = strlen(name);
	bool numeric = true;
	struct rp_ip ip;

	if (len == 0 || len > RP_NAMES_MAX_LEN || rp_ip_parse(name, &ip))
		return false;
	for (const char *p = name; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch <= ' ' || ch >= 0x7f || ch == ':')
			return false;
		if (ch != '.' && (ch < '0' || ch > '9'))
			numeric = false;
	}
	return !numeric;
}

int rp_names_add(struct rp_names *n, const char *name, uint32_t id)
{
	struct ent *e;
	uint32_t i;

	if (!valid_name(name))
		return -EINVAL;
	i = find_slot(n, id);
	if (n->slots[i])
		return -EEXIST;
	if ((n->st.tracked + 1) * 2 > n->mask + 1) {
		table_grow(n);
		i = find_slot(n, id);
	}
	e = rp_xcalloc(1, sizeof(*e));
	rp_wheel_entry_init(&e->timer);
	link_init(&e->ready);
	link_init(&e->done);
	e->owner = n;
	e->name = rp_xstrdup(name);
	e->id = id;
	e->status = RP_NAMES_PENDING;
	n->slots[i] = e;
	n->st.tracked++;
	n->st.pending++;
	make_due(n, e);
	pump(n);
	return 0;
}

int rp_names_remove(struct rp_names *n, uint32_t id)
{
	uint32_t i = find_slot(n, id);
	struct ent *e = n->slots[i];

	if (!e)
		return -ENOENT;
	table_del(n, i);
	n->st.tracked--;
	set_status(n, e, RP_NAMES_OK); /* out of the failing and pending counts */
	rp_wheel_cancel(n->wheel, &e->timer);
	if (link_on(&e->ready)) {
		link_del(&e->ready);
		n->st.waiting--;
	}
	if (link_on(&e->done))
		link_del(&e->done);
	if (e->inflight)
		e->removed = true; /* on_addrinfo() frees it */
	else
		free_ent(e);
	return 0;
}

int rp_names_get(const struct rp_names *n, uint32_t id, struct rp_ip *addrs, size_t max,
		 size_t *count)
{
	const struct ent *e = n->slots[find_slot(n, id)];

	if (!e)
		return -ENOENT;
	if (addrs && max)
		memcpy(addrs, e->addrs, (max < e->n ? max : e->n) * sizeof(*addrs));
	if (count)
		*count = e->n;
	return (int)e->status;
}

void rp_names_stats(const struct rp_names *n, struct rp_names_stats *out)
{
	*out = n->st;
}
