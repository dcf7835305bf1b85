/* The engine front: picks the ICMP mode and the backend, owns the send buffer pool
 * and the pending-send queue, and dispatches polls to the backend's ops table.
 * One engine belongs to one shard thread (see engine.h). */
#include "io/io_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/sock_diag.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ringprobe/compiler.h"
#include "ringprobe/conf.h"
#include "ringprobe/log.h"
#include "ringprobe/xalloc.h"

static atomic_bool choice_logged;

static const struct {
	const char *name;
	unsigned bit;
} feature_names[] = {
    {"uring", RP_FEAT_URING},
    {"send_addr", RP_FEAT_SEND_ADDR},
    {"multishot", RP_FEAT_RECV_MULTISHOT},
    {"defer_taskrun", RP_FEAT_DEFER_TASKRUN},
    {"txstamp", RP_FEAT_TX_STAMP},
};

/* $RINGPROBE_DISABLE: a comma list of feature names to clear, so that tests and users
 * can force each fallback. Unknown names are logged once and ignored. */
static unsigned env_disabled(void)
{
	const char *env = getenv("RINGPROBE_DISABLE");
	unsigned bits = 0;

	while (env && *env) {
		size_t n = strcspn(env, ", ");
		bool known = false;

		for (size_t i = 0; n && i < RP_ARRAY_SIZE(feature_names); i++) {
			if (strlen(feature_names[i].name) == n &&
			    !strncmp(env, feature_names[i].name, n)) {
				bits |= feature_names[i].bit;
				known = true;
			}
		}
		if (n && !known)
			rp_log(RP_LOG_WARN, "unknown feature in RINGPROBE_DISABLE ignored",
			       "feature=%.*s known=uring,send_addr,multishot,defer_taskrun,txstamp",
			       (int)n, env);
		env += n;
		env += strspn(env, ", ");
	}
	return bits;
}

/* "send_addr,multishot" or "none". */
static void features_format(unsigned bits, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 1; i < RP_ARRAY_SIZE(feature_names); i++)
		if ((bits & feature_names[i].bit) && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "," : "",
					      feature_names[i].name);
	if (!o)
		snprintf(buf, len, "none");
}

static int conf_check(const struct rp_engine_conf *c, char *why, size_t whylen)
{
	if (!c->send_slots || (c->send_slots & (c->send_slots - 1)) || c->send_slots > (1u << 24)) {
		snprintf(why, whylen, "send_slots %u must be a power of two up to 2^24",
			 c->send_slots);
		return -EINVAL;
	}
	if (!c->recv_bufs || (c->recv_bufs & (c->recv_bufs - 1)) ||
	    c->recv_bufs > RP_IO_MAX_RECV_BUFS) {
		snprintf(why, whylen, "recv_bufs %u must be a power of two up to %u", c->recv_bufs,
			 RP_IO_MAX_RECV_BUFS);
		return -EINVAL;
	}
	if (c->backend < RP_BACKEND_AUTO || c->backend > RP_BACKEND_MMSG ||
	    c->icmp_mode < RP_ICMP_AUTO || c->icmp_mode > RP_ICMP_DGRAM) {
		snprintf(why, whylen, "backend %d or icmp_mode %d out of range", c->backend,
			 c->icmp_mode);
		return -EINVAL;
	}
	if (c->pkt.payload_len && (c->pkt.payload_len < RP_ICMP_PAYLOAD_MIN ||
				   c->pkt.payload_len > RP_ICMP_PAYLOAD_MAX)) {
		snprintf(why, whylen,
			 "ICMP payload of %u bytes: must be %u (the probe's own fields: magic, "
			 "slot, sequence, send time, MAC) to %u",
			 c->pkt.payload_len, RP_ICMP_PAYLOAD_MIN, RP_ICMP_PAYLOAD_MAX);
		return -EINVAL;
	}
	if (c->pkt.ttl < 0 || c->pkt.ttl > 255 || c->pkt.tos < 0 || c->pkt.tos > 255) {
		snprintf(why, whylen, "ttl %d or tos %d out of range (0..255)", c->pkt.ttl,
			 c->pkt.tos);
		return -EINVAL;
	}
	return 0;
}

/* The fill after the probe's fields: random bytes (fping -R), drawn once at start, the
 * same in every buffer, so that their sum is computed once too. getrandom(2) at start
 * only; falls back to zeros should it fail (the fill means nothing to validation). */
static uint8_t *fill_create(uint32_t pkt_len, bool random)
{
	size_t n = pkt_len - RP_ICMP_MIN_LEN, got = 0;
	uint8_t *f;

	if (!random || !n)
		return NULL;
	f = rp_xcalloc(1, n);
	while (got < n) {
		ssize_t r = getrandom(f + got, n - got, 0);

		if (r <= 0 && errno != EINTR)
			break;
		got += r > 0 ? (size_t)r : 0;
	}
	return f;
}

/* Every buffer gets its constant header and fill once (STYLE.md section 6.4) and a
 * message that points at it, so a send only writes the destination and the length. */
static void pool_init(struct rp_engine *e, uint32_t n, uint16_t ident,
		      const struct rp_engine_pkt *pk)
{
	uint8_t *fill;

	e->pkt_len = rp_io__pkt_len(pk);
	e->stride = rp_pow2_at_least(e->pkt_len < 64 ? 64 : e->pkt_len);
	for (e->stride_shift = 0; (1u << e->stride_shift) < e->stride; e->stride_shift++)
		;
	fill = fill_create(e->pkt_len, pk->random_payload);
	e->nslots = n;
	e->send_mem = rp_xaligned_calloc(64, (size_t)n * e->stride);
	e->slots = rp_xcalloc(n, sizeof(*e->slots));
	e->free_stack = rp_xcalloc(n, sizeof(*e->free_stack));
	e->queue = rp_xcalloc(n, sizeof(*e->queue));
	for (uint32_t i = 0; i < n; i++) {
		struct rp_io_slot *s = &e->slots[i];

		rp_icmp_init_len(rp_io__slot_buf(e, i), e->pkt_len, ident, fill);
		s->to.v4.sin_family = AF_INET;
		s->iov.iov_base = rp_io__slot_buf(e, i);
		s->iov.iov_len = e->pkt_len;
		s->msg.msg_name = &s->to;
		s->msg.msg_namelen = sizeof(s->to.v4);
		s->msg.msg_iov = &s->iov;
		s->msg.msg_iovlen = 1;
		/* Popped from the top: buffer 0 first, in address order. */
		e->free_stack[i] = n - 1 - i;
	}
	e->nfree = n;
	e->fill_sum = rp_icmp_fill_sum(rp_io__slot_buf(e, 0), e->pkt_len);
	free(fill);
}

static void close_socks(struct rp_engine *e)
{
	for (unsigned i = 0; i < RP_IO_NSOCK; i++)
		if (e->fd[i] >= 0)
			close(e->fd[i]);
}

static void pool_fini(struct rp_engine *e)
{
	free(e->send_mem);
	free(e->slots);
	free(e->free_stack);
	free(e->queue);
}

/* "a; b", cut to fit: the sentence is for people, a lost tail is harmless. */
static void join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s", a);

	if (n >= 0 && (size_t)n + 2 < len)
		snprintf(out + n, len - (size_t)n, "; %s", b);
}

/* Chooses the backend. `mask` is what config and environment allow. Writes the
 * backend half of the start-up sentence into why. */
static int backend_create(struct rp_engine *e, const struct rp_engine_conf *conf, unsigned mask,
			  unsigned env_off, char *why, size_t whylen)
{
	char uwhy[160];
	int rc;

	if (conf->backend == RP_BACKEND_MMSG) {
		snprintf(why, whylen, "mmsg (backend mmsg configured)");
		return rp_io__mmsg_create(e, conf, why + strlen(why), whylen - strlen(why));
	}
	if (!(mask & RP_FEAT_URING)) {
		const char *by =
		    (env_off & RP_FEAT_URING) ? "RINGPROBE_DISABLE=uring" : "the feature mask";

		if (conf->backend == RP_BACKEND_URING) {
			snprintf(why, whylen, "backend uring configured but disabled by %s", by);
			return -EOPNOTSUPP;
		}
		snprintf(why, whylen, "io_uring disabled by %s; using mmsg", by);
		return rp_io__mmsg_create(e, conf, why + strlen(why), whylen - strlen(why));
	}
	rc = rp_io__uring_create(e, conf, mask, uwhy, sizeof(uwhy));
	if (!rc || conf->backend == RP_BACKEND_URING) {
		snprintf(why, whylen, "%s", uwhy);
		return rc;
	}
	snprintf(why, whylen, "%s; using mmsg", uwhy);
	return rp_io__mmsg_create(e, conf, why + strlen(why), whylen - strlen(why));
}

int rp_engine_create(struct rp_engine **out, const struct rp_engine_conf *conf, char *why,
		     size_t whylen)
{
	struct rp_engine *e;
	struct rp_io_sock sock[RP_IO_NSOCK];
	const struct rp_io_sock *first;
	char swhy[200], bwhy[200], feats[64];
	unsigned env_off, mask;
	int rc;

	rc = conf_check(conf, why, whylen);
	if (rc)
		return rc;
	env_off = env_disabled();
	mask = conf->feature_mask & ~env_off;
	rc = rp_io__socket_open(conf, sock, swhy, sizeof(swhy));
	if (rc) {
		snprintf(why, whylen, "%s", swhy);
		return rc;
	}
	first = sock[RP_IO_V4].fd >= 0 ? &sock[RP_IO_V4] : &sock[RP_IO_V6];
	e = rp_xcalloc(1, sizeof(*e));
	for (unsigned i = 0; i < RP_IO_NSOCK; i++)
		e->fd[i] = sock[i].fd;
	/* Raw: IPv4 datagrams carry the IPv4 header, ICMPv6 ones never an IPv6 header
	 * (rp_icmp_parse knows: it looks at ip_header for IPv4 sources only). */
	e->ip_header = first->mode == RP_ICMP_RAW;
	e->send_failures = conf->send_failures;
	e->info.icmp_mode = first->mode;
	e->info.ip_header = e->ip_header;
	e->info.ident = first->ident;
	e->info.families = (e->fd[RP_IO_V4] >= 0 ? (unsigned)RP_FAMILY_V4 : 0u) |
			   (e->fd[RP_IO_V6] >= 0 ? (unsigned)RP_FAMILY_V6 : 0u);
	/* Raw sockets of both families carry conf->ident; on dgram ones the kernel
	 * rewrites whatever the buffer holds. */
	pool_init(e, conf->send_slots, (uint16_t)first->ident, &conf->pkt);
	e->base_ttl = conf->pkt.ttl;
	e->base_tos = conf->pkt.tos;
	/* A source binds the socket of its family (socket.c), whichever slot it is in. */
	for (unsigned i = 0; i < 2; i++)
		if (!rp_ip_is_zero(&conf->pkt.source[i]))
			e->base_src[rp_ip_is_v4(&conf->pkt.source[i]) ? 0 : 1] =
			    conf->pkt.source[i];
	bwhy[0] = '\0';
	rc = backend_create(e, conf, mask, env_off, bwhy, sizeof(bwhy));
	if (rc) {
		join(why, whylen, swhy, bwhy);
		pool_fini(e);
		close_socks(e);
		free(e);
		return rc;
	}
	if (conf->tx_stamps && (mask & RP_FEAT_TX_STAMP)) {
		rc = rp_io__tx_init(e);
		if (!rc)
			e->info.features |= RP_FEAT_TX_STAMP;
		else
			snprintf(bwhy + strlen(bwhy), sizeof(bwhy) - strlen(bwhy),
				 ", no transmit timestamps (%s)", strerror(-rc));
	}
	if (e->info.icmp_mode == RP_ICMP_DGRAM)
		rp_io__errq_init(e);
	join(e->info.why, sizeof(e->info.why), swhy, bwhy);
	snprintf(why, whylen, "%s", e->info.why);
	features_format(e->info.features, feats, sizeof(feats));
	/* Every shard chooses alike: say it once per process. */
	if (!atomic_exchange(&choice_logged, true))
		rp_log(RP_LOG_INFO, "io engine ready",
		       "backend=%s icmp=%s families=%s features=%s why=\"%s\"", e->ops->name,
		       e->info.icmp_mode == RP_ICMP_RAW ? "raw" : "dgram",
		       e->info.families == RP_FAMILY_BOTH ? "ipv4,ipv6"
		       : e->info.families == RP_FAMILY_V4 ? "ipv4"
							  : "ipv6",
		       feats, e->info.why);
	*out = e;
	return 0;
}

void rp_engine_destroy(struct rp_engine *e)
{
	if (!e)
		return;
	e->ops->destroy(e);
	rp_io__tx_fini(e);
	close_socks(e);
	pool_fini(e);
	free(e);
}

void rp_engine_info(const struct rp_engine *e, struct rp_engine_info *out)
{
	*out = e->info;
}

void *rp_engine_send_buf(struct rp_engine *e)
{
	if (RP_UNLIKELY(!e->nfree))
		return NULL;
	return rp_io__slot_buf(e, e->free_stack[--e->nfree]);
}

size_t rp_engine_pkt_len(const struct rp_engine *e, uint32_t *fill_sum)
{
	if (fill_sum)
		*fill_sum = e->fill_sum;
	return e->pkt_len;
}

int rp_engine_send_queue(struct rp_engine *e, void *buf, size_t len, const struct rp_ip *dst)
{
	return rp_engine_send_queue_opt(e, buf, len, dst, 0);
}

/* One control message of `len` data bytes at *off in o, if it fits. */
static void put_cmsg(struct rp_io_opts *o, int level, int type, const void *data, size_t len)
{
	struct cmsghdr *c = (struct cmsghdr *)(void *)(o->u.buf + o->len);

	if (o->len + CMSG_SPACE(len) > sizeof(o->u.buf))
		return;
	memset(c, 0, CMSG_SPACE(len));
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	o->len += (uint32_t)CMSG_SPACE(len);
}

int rp_engine_set_opts(struct rp_engine *e, unsigned k, int ttl, int tos, const struct rp_ip src[2],
		       int ifindex)
{
	bool src4, src6;

	struct rp_io_opts *v4, *v6;

	if (k == 0 || k >= RP_PROFILES_MAX || ttl < 0 || ttl > 255 || tos < 0 || tos > 255 ||
	    ifindex < 0)
		return -EINVAL;
	v4 = &e->opts[k][RP_IO_V4];
	v6 = &e->opts[k][RP_IO_V6];
	v4->len = v6->len = 0;
	if (ttl && ttl != e->base_ttl) {
		put_cmsg(v4, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
		put_cmsg(v6, IPPROTO_IPV6, IPV6_HOPLIMIT, &ttl, sizeof(ttl));
	}
	if (tos != e->base_tos) {
		put_cmsg(v4, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
		put_cmsg(v6, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
	}
	/* One PKTINFO per family carries the source and the outgoing interface. */
	src4 = !rp_ip_is_zero(&src[0]) && !rp_ip_eq(&src[0], &e->base_src[0]);
	src6 = !rp_ip_is_zero(&src[1]) && !rp_ip_eq(&src[1], &e->base_src[1]);
	if (src4 || ifindex) {
		struct in_pktinfo pi = {.ipi_ifindex = ifindex};

		if (src4)
			memcpy(&pi.ipi_spec_dst, src[0].b + 12, 4);
		put_cmsg(v4, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
	}
	if (src6 || ifindex) {
		struct in6_pktinfo pi = {.ipi6_ifindex = (unsigned)ifindex};
		static atomic_bool told;

		/* Measured (tests/io/test_profiles.c): ping_v6_sendmsg takes the hop limit
		 * and traffic class but neither the source nor the interface. Said once; the
		 * request still goes. */
		if (e->info.icmp_mode == RP_ICMP_DGRAM && e->fd[RP_IO_V6] >= 0 &&
		    !atomic_exchange(&told, true))
			rp_log(RP_LOG_WARN,
			       "datagram ICMPv6 sockets ignore a per-packet source address and "
			       "interface: a group's IPv6 source_address and interface are used "
			       "with icmp_mode raw only",
			       NULL);
		if (src6)
			memcpy(&pi.ipi6_addr, src[1].b, 16);
		put_cmsg(v6, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
	}
	return 0;
}

uint32_t rp_engine_fill_sum(const struct rp_engine *e, size_t len)
{
	/* The fill is the same in every buffer and never written after pool_init: buffer
	 * 0's may be read while it is in flight. */
	return rp_icmp_fill_sum(rp_io__slot_buf(e, 0), len < e->pkt_len ? len : e->pkt_len);
}

int rp_engine_send_queue_opt(struct rp_engine *e, void *buf, size_t len, const struct rp_ip *dst,
			     unsigned k)
{
	size_t off = (size_t)((uint8_t *)buf - e->send_mem);
	uint32_t idx = (uint32_t)(off >> e->stride_shift);
	struct rp_io_slot *s;

	/* Only buffers from rp_engine_send_buf, at most pkt_len long. */
	if (RP_UNLIKELY((off & (e->stride - 1)) || idx >= e->nslots))
		abort();
	s = &e->slots[idx];
	if (RP_LIKELY(rp_ip_is_v4(dst))) {
		s->sock = RP_IO_V4;
		s->to.v4 = (struct sockaddr_in){.sin_family = AF_INET};
		memcpy(&s->to.v4.sin_addr, dst->b + 12, 4);
		s->msg.msg_namelen = sizeof(s->to.v4);
	} else {
		s->sock = RP_IO_V6;
		s->to.v6 = (struct sockaddr_in6){.sin6_family = AF_INET6};
		memcpy(&s->to.v6.sin6_addr, dst->b, 16);
		s->msg.msg_namelen = sizeof(s->to.v6);
	}
	s->iov.iov_len = len < e->pkt_len ? len : e->pkt_len;
	if (RP_LIKELY(k == 0) || !e->opts[k & (RP_PROFILES_MAX - 1)][s->sock].len) {
		s->msg.msg_control = NULL;
		s->msg.msg_controllen = 0;
	} else {
		s->msg.msg_control = e->opts[k & (RP_PROFILES_MAX - 1)][s->sock].u.buf;
		s->msg.msg_controllen = e->opts[k & (RP_PROFILES_MAX - 1)][s->sock].len;
	}
	if (RP_UNLIKELY(e->fd[s->sock] < 0)) {
		/* No socket for the family: a send error now, and the probe times out
		 * like one the kernel refused. */
		e->stats.send_errors++;
		e->stats.send_nosock++;
		rp_io__slot_release(e, idx);
		return -EAFNOSUPPORT;
	}
	rp_io__queue_push(e, idx);
	return 0;
}

void rp_io__send_failed(struct rp_engine *e, uint32_t idx, rp_rx_cb cb, void *arg)
{
	e->stats.send_errors++;
	if (e->send_failures && cb) {
		const struct rp_io_slot *s = &e->slots[idx];
		struct rp_rx rx = {
		    .buf = rp_io__slot_buf(e, idx), .len = s->iov.iov_len, .send_failed = true};

		cb(arg, &rx);
	}
	rp_io__slot_release(e, idx);
}

/* Once a second, the socket's drop count from SO_MEMINFO (SK_MEMINFO_DROPS, the
 * sk_drops that SO_RXQ_OVFL samples): ping sockets never send SO_RXQ_OVFL, and on raw
 * ones the control message tells only of drops before the last datagram read. One
 * getsockopt a second, on the shard thread, never per probe. */
static void read_meminfo(struct rp_engine *e)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (now - e->meminfo_ns < 1000000000ull)
		return;
	e->meminfo_ns = now;
	for (unsigned i = 0; i < RP_IO_NSOCK; i++) {
		len = sizeof(mem);
		if (e->fd[i] >= 0 && getsockopt(e->fd[i], SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
		    len > SK_MEMINFO_DROPS * sizeof(uint32_t))
			rp_io__drops_seen(e, i, mem[SK_MEMINFO_DROPS]);
	}
}

int rp_engine_poll(struct rp_engine *e, uint64_t timeout_ns, rp_rx_cb cb, void *arg)
{
	int ret;

	e->stats.polls++;
	ret = e->ops->poll(e, timeout_ns, cb, arg);
	read_meminfo(e);
	return ret;
}

void rp_engine_stats(const struct rp_engine *e, struct rp_engine_stats *out)
{
	*out = e->stats;
}

int rp_engine_fd(const struct rp_engine *e)
{
	return e->fd[RP_IO_V4] >= 0 ? e->fd[RP_IO_V4] : e->fd[RP_IO_V6];
}

int rp_engine_fd_family(const struct rp_engine *e, int family)
{
	return family == RP_AF_INET    ? e->fd[RP_IO_V4]
	       : family == RP_AF_INET6 ? e->fd[RP_IO_V6]
				       : -1;
}
