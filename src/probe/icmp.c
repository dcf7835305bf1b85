/* ICMP and ICMPv6 echo build and reply validation (zmap module_icmp_echo.c, validate.c). */
#include "ringprobe/icmp.h"

#include <string.h>

#define ICMP_ECHOREPLY_T 0
#define ICMP_ECHO_T 8
#define ICMP6_ECHO_T 128
#define ICMP6_ECHOREPLY_T 129
#define ICMP_UNREACH_T 3
#define ICMP_TIMXCEED_T 11
#define ICMP6_UNREACH_T 1
#define ICMP6_TIMXCEED_T 3
#define PAYLOAD_VERSION 1

/* Payload offsets (see the table in icmp.h). */
enum {
	OFF_MAGIC = 0,
	OFF_SHARD = 4,
	OFF_VERSION = 5,
	OFF_SLOT = 8,
	OFF_GEN = 12,
	OFF_SEQ = 16,
	OFF_SENT = 24,
	OFF_MAC = 32,
};

static const char *const kind_names[RP_REPLY_KIND_COUNT] = {
    [RP_REPLY_OK] = "ok",
    [RP_REPLY_TRUNCATED] = "truncated",
    [RP_REPLY_NOT_ECHO] = "not_echo",
    [RP_REPLY_FOREIGN] = "foreign",
    [RP_REPLY_CORRUPTED] = "corrupted",
    [RP_REPLY_FORGED] = "forged",
    [RP_REPLY_WRONG_SOURCE] = "wrong_source",
    [RP_REPLY_STALE] = "stale",
    [RP_REPLY_DUPLICATE] = "duplicate",
    [RP_REPLY_LATE] = "late",
    [RP_REPLY_ICMP_ERROR] = "icmp_error",
};

static const char *const err_names[RP_ERR_COUNT] = {
    [RP_ERR_NET] = "unreachable:net",
    [RP_ERR_HOST] = "unreachable:host",
    [RP_ERR_PROTOCOL] = "unreachable:protocol",
    [RP_ERR_PORT] = "unreachable:port",
    [RP_ERR_PROHIBITED] = "unreachable:prohibited",
    [RP_ERR_FRAGMENTATION] = "unreachable:fragmentation",
    [RP_ERR_UNREACH_OTHER] = "unreachable:other",
    [RP_ERR_TIME_EXCEEDED] = "time_exceeded",
};

const char *rp_icmp_err_name(unsigned err)
{
	return err < RP_ERR_COUNT ? err_names[err] : NULL;
}

enum rp_icmp_err rp_icmp_err_of(bool v6, unsigned type, unsigned code)
{
	static const uint8_t v4_unreach[16] = {
	    RP_ERR_NET,		  RP_ERR_HOST,		RP_ERR_PROTOCOL,   RP_ERR_PORT,
	    RP_ERR_FRAGMENTATION, RP_ERR_UNREACH_OTHER, RP_ERR_NET,	   RP_ERR_HOST,
	    RP_ERR_UNREACH_OTHER, RP_ERR_PROHIBITED,	RP_ERR_PROHIBITED, RP_ERR_NET,
	    RP_ERR_HOST,	  RP_ERR_PROHIBITED,	RP_ERR_PROHIBITED, RP_ERR_PROHIBITED,
	};
	static const uint8_t v6_unreach[7] = {
	    RP_ERR_NET,	 RP_ERR_PROHIBITED, RP_ERR_UNREACH_OTHER, RP_ERR_HOST,
	    RP_ERR_PORT, RP_ERR_PROHIBITED, RP_ERR_PROHIBITED,
	};

	if (type == (v6 ? ICMP6_TIMXCEED_T : ICMP_TIMXCEED_T))
		return RP_ERR_TIME_EXCEEDED;
	if (type != (v6 ? ICMP6_UNREACH_T : ICMP_UNREACH_T))
		return RP_ERR_NONE;
	if (v6)
		return code < sizeof(v6_unreach) ? (enum rp_icmp_err)v6_unreach[code]
						 : RP_ERR_UNREACH_OTHER;
	return code < sizeof(v4_unreach) ? (enum rp_icmp_err)v4_unreach[code]
					 : RP_ERR_UNREACH_OTHER;
}

const char *rp_reply_kind_name(enum rp_reply_kind k)
{
	return (unsigned)k < RP_REPLY_KIND_COUNT ? kind_names[k] : "unknown";
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* The one's complement sum of len bytes from an even offset, unfolded (64 bits: a
 * 65,535-byte packet cannot overflow it). */
static uint64_t sum16(const unsigned char *p, size_t len)
{
	uint64_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t rp_icmp_checksum(const void *data, size_t len)
{
	return fold(sum16(data, len));
}

/* The MAC binds the reply to the address probed and to the probe itself. */
static uint64_t mac(const struct rp_siphash_key *key, const struct rp_probe_stamp *s)
{
	unsigned char m[40];

	memcpy(m, s->addr.b, 16);
	put32(m + 16, s->slot);
	put32(m + 20, s->gen);
	put32(m + 24, s->seq);
	put64(m + 28, s->sent_ns);
	put32(m + 36, s->shard);
	return rp_siphash24(key, m, sizeof(m));
}

void rp_icmp_init_len(void *pkt, size_t len, uint16_t ident, const void *fill)
{
	unsigned char *p = pkt;

	memset(p, 0, RP_ICMP_MIN_LEN);
	if (len > RP_ICMP_MIN_LEN) {
		if (fill)
			memcpy(p + RP_ICMP_MIN_LEN, fill, len - RP_ICMP_MIN_LEN);
		else
			memset(p + RP_ICMP_MIN_LEN, 0, len - RP_ICMP_MIN_LEN);
	}
	p[0] = ICMP_ECHO_T;
	p[1] = 0;
	p[4] = (unsigned char)(ident >> 8);
	p[5] = (unsigned char)ident;
	put32(p + RP_ICMP_HDR_LEN + OFF_MAGIC, RP_ICMP_MAGIC);
	p[RP_ICMP_HDR_LEN + OFF_VERSION] = PAYLOAD_VERSION;
}

void rp_icmp_init(void *pkt, uint16_t ident)
{
	rp_icmp_init_len(pkt, RP_ICMP_PKT_LEN, ident, NULL);
}

uint32_t rp_icmp_fill_sum(const void *pkt, size_t len)
{
	uint64_t sum;

	if (len <= RP_ICMP_MIN_LEN)
		return 0;
	/* RP_ICMP_MIN_LEN is even: the fill's words are the packet's words. */
	sum = sum16((const unsigned char *)pkt + RP_ICMP_MIN_LEN, len - RP_ICMP_MIN_LEN);
	while (sum >> 32)
		sum = (sum & 0xffffffffu) + (sum >> 32);
	return (uint32_t)sum;
}

void rp_icmp_stamp_filled(void *pkt, uint32_t fill_sum, const struct rp_siphash_key *key,
			  const struct rp_probe_stamp *s)
{
	unsigned char *p = pkt;
	unsigned char *pl = p + RP_ICMP_HDR_LEN;
	uint16_t sum;

	p[0] = rp_ip_is_v4(&s->addr) ? ICMP_ECHO_T : ICMP6_ECHO_T;
	p[2] = p[3] = 0;
	p[6] = (unsigned char)(s->seq >> 8);
	p[7] = (unsigned char)s->seq;
	pl[OFF_SHARD] = s->shard;
	put32(pl + OFF_SLOT, s->slot);
	put32(pl + OFF_GEN, s->gen);
	put32(pl + OFF_SEQ, s->seq);
	put64(pl + OFF_SENT, s->sent_ns);
	put64(pl + OFF_MAC, mac(key, s));
	if (p[0] == ICMP6_ECHO_T)
		return; /* the kernel fills ICMPv6's checksum (pseudo-header) */
	sum = fold(sum16(p, RP_ICMP_MIN_LEN) + fill_sum);
	p[2] = (unsigned char)(sum >> 8);
	p[3] = (unsigned char)sum;
}

void rp_icmp_stamp(void *pkt, const struct rp_siphash_key *key, const struct rp_probe_stamp *s)
{
	rp_icmp_stamp_filled(pkt, 0, key, s);
}

/* The payload fields of a request (or its echo) at pl into *out, addr excepted. */
static void read_fields(const unsigned char *pl, struct rp_probe_stamp *out)
{
	out->shard = pl[OFF_SHARD];
	out->slot = get32(pl + OFF_SLOT);
	out->gen = get32(pl + OFF_GEN);
	out->seq = get32(pl + OFF_SEQ);
	out->sent_ns = get64(pl + OFF_SENT);
}

/* The request an ICMP error of class err (type, code) quotes: e, qlen bytes from its
 * ICMP header on (at least its 8), sent to dst (icmp.h, rp_icmp_parse). */
static enum rp_reply_kind quote(const unsigned char *e, size_t qlen, const struct rp_ip *dst,
				uint8_t type, uint8_t code, enum rp_icmp_err err, int32_t ident,
				const struct rp_siphash_key *key, struct rp_probe_stamp *out)
{
	bool v6 = !rp_ip_is_v4(dst);
	const unsigned char *pl = e + RP_ICMP_HDR_LEN;

	if (e[0] != (v6 ? ICMP6_ECHO_T : ICMP_ECHO_T) || e[1] != 0)
		return RP_REPLY_FOREIGN;
	if (ident >= 0 && ((uint32_t)e[4] << 8 | e[5]) != (uint32_t)ident)
		return RP_REPLY_FOREIGN;
	memset(out, 0, sizeof(*out));
	out->addr = *dst;
	out->err = (uint8_t)err;
	out->err_type = type;
	out->err_code = code;
	if (qlen < RP_ICMP_MIN_LEN) {
		/* Only the echo header (RFC 792's 8 bytes), or a few bytes more: the
		 * sequence is all there is to match by. Some of the magic, if quoted,
		 * must be ours. */
		size_t have = qlen - RP_ICMP_HDR_LEN;
		unsigned char magic[4];

		put32(magic, RP_ICMP_MAGIC);
		if (memcmp(pl, magic, have < 4 ? have : 4) != 0)
			return RP_REPLY_FOREIGN;
		out->err_short = 1;
		out->seq = (uint32_t)e[6] << 8 | e[7];
		return RP_REPLY_ICMP_ERROR;
	}
	if (get32(pl + OFF_MAGIC) != RP_ICMP_MAGIC || pl[OFF_VERSION] != PAYLOAD_VERSION)
		return RP_REPLY_FOREIGN;
	read_fields(pl, out);
	/* Binds the error to the request we sent to dst: a quote the router altered, or a
	 * request to another address, does not verify. */
	if (get64(pl + OFF_MAC) != mac(key, out))
		return RP_REPLY_FORGED;
	return RP_REPLY_ICMP_ERROR;
}

/* An ICMP error of class err at p (len bytes from its ICMP header on, the whole message
 * unless cut): the request it quotes must be one of ours (icmp.h, rp_icmp_parse).
 * Quoted requests of ours carry no IPv4 options and no IPv6 extension headers, but a
 * quoted IPv4 header's length is honoured all the same. */
static enum rp_reply_kind parse_error(const unsigned char *p, size_t len, bool v6, bool cut,
				      enum rp_icmp_err err, int32_t ident,
				      const struct rp_siphash_key *key, struct rp_probe_stamp *out)
{
	const unsigned char *q = p + RP_ICMP_HDR_LEN;
	size_t qlen = len - RP_ICMP_HDR_LEN, ihl;
	struct rp_ip dst;

	if (v6) {
		if (qlen < 40 + RP_ICMP_HDR_LEN)
			return RP_REPLY_TRUNCATED;
		if ((q[0] >> 4) != 6 || q[6] != 58)
			return RP_REPLY_FOREIGN;
		memcpy(dst.b, q + 24, 16);
		/* A mapped address is never one of ours: it would name an IPv4 device. */
		if (rp_ip_is_v4(&dst))
			return RP_REPLY_FOREIGN;
		ihl = 40;
	} else {
		if (qlen < 20 + RP_ICMP_HDR_LEN)
			return RP_REPLY_TRUNCATED;
		ihl = (size_t)(q[0] & 0x0f) * 4;
		if ((q[0] >> 4) != 4 || ihl < 20 || q[9] != 1)
			return RP_REPLY_FOREIGN;
		if (qlen < ihl + RP_ICMP_HDR_LEN)
			return RP_REPLY_TRUNCATED;
		dst = rp_ip_v4((uint32_t)q[16] << 24 | (uint32_t)q[17] << 16 |
			       (uint32_t)q[18] << 8 | q[19]);
	}
	if (!v6 && !cut && rp_icmp_checksum(p, len) != 0)
		return RP_REPLY_CORRUPTED; /* the error's own (ICMPv6's the kernel checked) */
	return quote(q + ihl, qlen - ihl, &dst, p[0], p[1], err, ident, key, out);
}

enum rp_reply_kind rp_icmp_parse_quote(const void *req, size_t len, const struct rp_ip *dst,
				       uint8_t type, uint8_t code, int32_t ident,
				       const struct rp_siphash_key *key, struct rp_probe_stamp *out)
{
	enum rp_icmp_err err = rp_icmp_err_of(!rp_ip_is_v4(dst), type, code);

	if (!err)
		return RP_REPLY_NOT_ECHO;
	if (len < RP_ICMP_HDR_LEN)
		return RP_REPLY_TRUNCATED;
	return quote(req, len, dst, type, code, err, ident, key, out);
}

static enum rp_reply_kind parse(const void *buf, size_t len, bool ip_header, bool cut,
				const struct rp_ip *src, int32_t ident,
				const struct rp_siphash_key *key, struct rp_probe_stamp *out)
{
	const unsigned char *p = buf;
	const unsigned char *pl;
	size_t icmp_len;
	bool v6 = !rp_ip_is_v4(src);

	if (ip_header && !v6) {
		size_t ihl;

		if (len < 20)
			return RP_REPLY_TRUNCATED;
		ihl = (size_t)(p[0] & 0x0f) * 4;
		if ((p[0] >> 4) != 4 || ihl < 20)
			return RP_REPLY_FOREIGN;
		if (len < ihl + RP_ICMP_HDR_LEN)
			return RP_REPLY_TRUNCATED;
		/* Total length past what we got: our receive buffer cut the rest off. */
		cut |= ((size_t)p[2] << 8 | p[3]) > len;
		p += ihl;
		len -= ihl;
	}
	if (len < RP_ICMP_HDR_LEN)
		return RP_REPLY_TRUNCATED;
	if (p[0] != (v6 ? ICMP6_ECHOREPLY_T : ICMP_ECHOREPLY_T)) {
		enum rp_icmp_err err = rp_icmp_err_of(v6, p[0], p[1]);

		return err ? parse_error(p, len, v6, cut, err, ident, key, out) : RP_REPLY_NOT_ECHO;
	}
	if (p[1] != 0)
		return RP_REPLY_NOT_ECHO;
	if (ident >= 0 && ((uint32_t)p[4] << 8 | p[5]) != (uint32_t)ident)
		return RP_REPLY_FOREIGN;
	icmp_len = len;
	if (icmp_len < RP_ICMP_MIN_LEN)
		return icmp_len >= RP_ICMP_HDR_LEN + 4 &&
			       get32(p + RP_ICMP_HDR_LEN + OFF_MAGIC) != RP_ICMP_MAGIC
			   ? RP_REPLY_FOREIGN
			   : RP_REPLY_TRUNCATED;
	pl = p + RP_ICMP_HDR_LEN;
	if (get32(pl + OFF_MAGIC) != RP_ICMP_MAGIC || pl[OFF_VERSION] != PAYLOAD_VERSION)
		return RP_REPLY_FOREIGN;
	/* The sum over header and payload, checksum included, folds to zero. Extra bytes
	 * past our payload (padding) take part, as they would in the sender's sum. A
	 * datagram cut short cannot be summed: its fields are the MAC's to vouch for. */
	if (!v6 && !cut && rp_icmp_checksum(p, icmp_len) != 0)
		return RP_REPLY_CORRUPTED;
	out->addr = *src;
	out->err = out->err_type = out->err_code = out->err_short = 0;
	read_fields(pl, out);
	if (get64(pl + OFF_MAC) != mac(key, out))
		return RP_REPLY_FORGED;
	return RP_REPLY_OK;
}

enum rp_reply_kind rp_icmp_parse(const void *buf, size_t len, bool ip_header,
				 const struct rp_ip *src, int32_t ident,
				 const struct rp_siphash_key *key, struct rp_probe_stamp *out)
{
	return parse(buf, len, ip_header, false, src, ident, key, out);
}

enum rp_reply_kind rp_icmp_parse_cut(const void *buf, size_t len, bool ip_header,
				     const struct rp_ip *src, int32_t ident,
				     const struct rp_siphash_key *key, struct rp_probe_stamp *out)
{
	return parse(buf, len, ip_header, true, src, ident, key, out);
}

bool rp_icmp_peek_request(const void *pkt, size_t len, struct rp_probe_stamp *out)
{
	const unsigned char *p = pkt;
	const unsigned char *pl = p + RP_ICMP_HDR_LEN;

	if (len < RP_ICMP_MIN_LEN || (p[0] != ICMP_ECHO_T && p[0] != ICMP6_ECHO_T) ||
	    get32(pl + OFF_MAGIC) != RP_ICMP_MAGIC || pl[OFF_VERSION] != PAYLOAD_VERSION)
		return false;
	memset(out, 0, sizeof(*out));
	read_fields(pl, out);
	return true;
}
