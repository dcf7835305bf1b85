/* ICMP and ICMPv6 echo request building and echo reply validation. Pure: no I/O, no
 * clock reads (zmap src/probe_modules/module_icmp_echo.c, src/validate.c).
 *
 * Both families carry the same packet but for the type (8/0 for ICMP, 128/129 for
 * ICMPv6) and the checksum: ICMPv6's covers a pseudo-header with both addresses, so the
 * kernel fills it on send and verifies it on receive (raw and datagram ICMPv6 sockets
 * alike, RFC 3542 §3.1); ours stays 0 there and is not checked on replies. The MAC
 * covers the whole 16-byte address, so a reply is bound to its source as strongly for
 * IPv6 as for IPv4.
 *
 * Every request carries, after the 8-byte ICMP header, a payload of 56 bytes by default
 * (fping's), or any length from RP_ICMP_PAYLOAD_MIN to RP_ICMP_PAYLOAD_MAX (the
 * `packet_size` key, fping -b):
 *
 *   offset  size  field
 *        0     4  magic "RPRB"
 *        4     1  shard
 *        5     1  version (1)
 *        6     2  reserved (0)
 *        8     4  slot      (the sender's device slot)
 *       12     4  gen       (the slot's generation when sent)
 *       16     4  seq       (the device's probe sequence; low 16 bits also in the header)
 *       20     4  reserved (0)
 *       24     8  sent_ns   (CLOCK_REALTIME, ns)
 *       32     8  mac       SipHash-2-4 under a per-process random key over
 *                           (destination address, shard, slot, gen, seq, sent_ns)
 *       40     -  fill      (zeros, or random bytes: the same in every request of a
 *                           process, like fping -R; 16 bytes by default, so the packet
 *                           is fping's 64)
 *
 * all little-endian. A reply is an echo of that payload, so a reply is matched with no
 * table lookup: its payload names the slot, and the MAC proves we sent it to the address
 * the reply comes from. A reply whose MAC does not verify was forged, corrupted in a way
 * the checksum missed, or comes from another address than the one we probed.
 *
 * The first 40 payload bytes are the probe's own fields, so a payload is never shorter:
 * fping -b accepts 0 (its timestamp then goes missing too), but without the slot,
 * generation and MAC a reply could be neither matched without a table nor trusted, so a
 * shorter size is refused where it is configured. Validation reads nothing of the fill:
 * a reply larger than the receive buffer (the rest cut off, MSG_TRUNC) is checked by
 * its fields and MAC alone, the ICMP checksum then covering bytes we never saw. */
#ifndef RP_ICMP_H
#define RP_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringprobe/addr.h"
#include "ringprobe/siphash.h"

#define RP_ICMP_HDR_LEN 8
#define RP_ICMP_PAYLOAD_LEN 56 /* the default payload (fping's) */
#define RP_ICMP_PKT_LEN (RP_ICMP_HDR_LEN + RP_ICMP_PAYLOAD_LEN)
#define RP_ICMP_FIELDS_LEN 40 /* the probe's own fields: magic .. mac */
#define RP_ICMP_PAYLOAD_MIN RP_ICMP_FIELDS_LEN
#define RP_ICMP_PAYLOAD_MAX 65507 /* 65535 - IPv4 header - ICMP header, as fping */
/* The shortest datagram that can be a reply of ours: header and fields. */
#define RP_ICMP_MIN_LEN (RP_ICMP_HDR_LEN + RP_ICMP_FIELDS_LEN)
#define RP_ICMP_MAGIC 0x42525052u /* "RPRB" read little-endian */

/** What one probe carries (and what a valid reply gives back). */
struct rp_probe_stamp {
	struct rp_ip addr; /* destination of the request = source of the reply */
	uint32_t slot;
	uint32_t gen;
	uint32_t seq;
	uint64_t sent_ns;
	uint8_t shard;
	/* Set by the parser on an ICMP error (RP_REPLY_ICMP_ERROR), else 0. */
	uint8_t err;	  /* enum rp_icmp_err */
	uint8_t err_type; /* the error's ICMP or ICMPv6 type and code, as received */
	uint8_t err_code;
	uint8_t err_short; /* the quote held only the echo header (8 bytes): slot, gen and
			    * sent_ns are unknown, seq holds its 16 bits (see below) */
};

/* What an ICMP error that quotes one of our requests says, in a few classes an
 * operator acts on. ICMP (RFC 792, 1812) and ICMPv6 (RFC 4443) codes map as:
 *   net         v4 unreachable 0 (net), 6 (net unknown), 11 (net for TOS); v6 0 (no route)
 *   host        v4 1 (host), 7 (host unknown), 12 (host for TOS); v6 3 (address)
 *   protocol    v4 2
 *   port        v4 3; v6 4
 *   prohibited  v4 9, 10, 13 (administratively), 14, 15 (precedence); v6 1
 *               (administratively), 5 (source policy), 6 (reject route)
 *   fragmentation  v4 4 (fragmentation needed and DF set)
 *   other       any other unreachable code (v4 5 source route, 8 isolated; v6 2 scope)
 *   time_exceeded  v4 type 11, v6 type 3, any code (TTL / hop limit exceeded in
 *               transit, or reassembly time exceeded) */
enum rp_icmp_err {
	RP_ERR_NONE = 0,
	RP_ERR_NET,
	RP_ERR_HOST,
	RP_ERR_PROTOCOL,
	RP_ERR_PORT,
	RP_ERR_PROHIBITED,
	RP_ERR_FRAGMENTATION,
	RP_ERR_UNREACH_OTHER,
	RP_ERR_TIME_EXCEEDED,
	RP_ERR_COUNT
};

/** The `error` field's value of a class: "unreachable:net", "unreachable:host",
 *  "unreachable:protocol", "unreachable:port", "unreachable:prohibited",
 *  "unreachable:fragmentation", "unreachable:other", "time_exceeded"; NULL for
 *  RP_ERR_NONE or an unknown value. */
const char *rp_icmp_err_name(unsigned err);
/** The class of an ICMP (v6 false) or ICMPv6 error of `type` and `code`; RP_ERR_NONE
 *  when the type is neither destination unreachable nor time exceeded. */
enum rp_icmp_err rp_icmp_err_of(bool v6, unsigned type, unsigned code);

/* What a received datagram turned out to be. The first kinds are decided by the
 * parser alone; the rest by the shard that owns the slot. Every kind but OK is
 * counted and otherwise ignored. */
enum rp_reply_kind {
	RP_REPLY_OK,
	RP_REPLY_TRUNCATED,    /* shorter than an echo reply with our fields */
	RP_REPLY_NOT_ECHO,     /* another ICMP type (unreachable, request looped back ...) */
	RP_REPLY_FOREIGN,      /* not ours: other identifier (raw) or no magic */
	RP_REPLY_CORRUPTED,    /* ICMP checksum does not verify */
	RP_REPLY_FORGED,       /* magic right, MAC wrong: forged or tampered */
	RP_REPLY_WRONG_SOURCE, /* MAC wrong because it came from another address than probed */
	RP_REPLY_STALE,	       /* for a slot that has since been reused (generation moved on) */
	RP_REPLY_DUPLICATE,    /* the probe was already answered */
	RP_REPLY_LATE,	       /* arrived after its timeout (the probe counted as lost) */
	RP_REPLY_ICMP_ERROR,   /* an ICMP error quoting one of our requests (parser); the
				* shard then ends the probe as failed. Never counted as
				* invalid: one that matches no outstanding probe counts as
				* stale, duplicate or late */
	RP_REPLY_KIND_COUNT
};

/** Short lowercase name of a kind ("ok", "forged" ...), for counters and logs. */
const char *rp_reply_kind_name(enum rp_reply_kind k);

/** Writes the constant part of an echo request of `len` bytes (RP_ICMP_MIN_LEN ..
 *  RP_ICMP_HDR_LEN + RP_ICMP_PAYLOAD_MAX) into pkt: code, identifier (network order on
 *  the wire), magic, version, and the fill after the fields: len - RP_ICMP_MIN_LEN
 *  bytes from `fill`, or zeros when it is NULL. Done once per buffer; the buffer then
 *  serves either family. */
void rp_icmp_init_len(void *pkt, size_t len, uint16_t ident, const void *fill);
/** rp_icmp_init_len of the default RP_ICMP_PKT_LEN bytes, zero-filled. */
void rp_icmp_init(void *pkt, uint16_t ident);
/** The one's complement sum, unfolded, of the fill of a `len`-byte request prepared by
 *  rp_icmp_init_len (its bytes after the fields): constant per buffer, so a stamp sums
 *  only the first RP_ICMP_MIN_LEN bytes. 0 for a zero fill. */
uint32_t rp_icmp_fill_sum(const void *pkt, size_t len);
/** Writes the type (ICMP or ICMPv6 echo, by s->addr's family), the per-probe fields,
 *  the MAC and (ICMP) the checksum into a buffer prepared by rp_icmp_init_len, whose
 *  fill sums to fill_sum (rp_icmp_fill_sum): its length does not matter here. s->addr is the
 *  destination. Reads and writes only the first RP_ICMP_MIN_LEN bytes. */
void rp_icmp_stamp_filled(void *pkt, uint32_t fill_sum, const struct rp_siphash_key *key,
			  const struct rp_probe_stamp *s);
/** rp_icmp_stamp_filled of a zero-filled RP_ICMP_PKT_LEN-byte buffer (rp_icmp_init). */
void rp_icmp_stamp(void *pkt, const struct rp_siphash_key *key, const struct rp_probe_stamp *s);

/** Validates one received datagram of src's family: an echo reply, or an ICMP error
 *  (ICMP destination unreachable 3 and time exceeded 11; ICMPv6 1 and 3) quoting one
 *  of our requests. `buf` starts with the IPv4 header
 *  when `ip_header` (raw IPv4 sockets) or with the ICMP header (datagram sockets, and
 *  raw ICMPv6 sockets, which never pass the IPv6 header). `src` is the sender (from the
 *  IP header or msg_name); an ICMPv6 datagram's checksum was checked by the kernel and
 *  is not checked again. When `ident` >= 0 the ICMP
 *  identifier must equal it (raw sockets; the kernel rewrites it on datagram sockets).
 *  The datagram is taken as whole: of any length from RP_ICMP_MIN_LEN on (a reply of
 *  any payload size), its ICMP checksum over all `len` bytes; with `ip_header`, an
 *  IPv4 total length beyond `len` says the rest was cut off (as rp_icmp_parse_cut).
 *  On RP_REPLY_OK, and on RP_REPLY_FORGED (so the shard can tell a wrong source from a
 *  forgery), *out holds the payload's fields with out->addr = src. Never reads past
 *  `len`. */
enum rp_reply_kind rp_icmp_parse(const void *buf, size_t len, bool ip_header,
				 const struct rp_ip *src, int32_t ident,
				 const struct rp_siphash_key *key, struct rp_probe_stamp *out);
/*    An ICMP error gives RP_REPLY_ICMP_ERROR with out->err* set and out->addr the
 *  quoted request's destination (src is the router or host that sent the error). The
 *  quote must be an IPv4 (ICMP) or IPv6 (ICMPv6) header without extension headers
 *  (we send none) of an echo request with our identifier (when `ident` >= 0). When the
 *  quote holds our fields (RFC 1812 routers and Linux quote up to 576 bytes, RFC 4443
 *  up to 1280, so our 40 bytes nearly always come back) they are read and the MAC,
 *  computed over the quoted destination, must verify (else RP_REPLY_FORGED): as strong
 *  a match as a reply's. When only the 8-byte echo header came back (RFC 792's
 *  minimum), out->err_short is set and out->seq holds the header's 16-bit sequence:
 *  the shard matches it to the probe outstanding to out->addr by that sequence alone,
 *  as fping does, which a host on the path that sees the request could forge. */
/** rp_icmp_parse of a datagram whose end the receive buffer cut off (MSG_TRUNC): the
 *  ICMP checksum, which covers bytes we never got, is not checked; the MAC still
 *  covers every field of ours. */
enum rp_reply_kind rp_icmp_parse_cut(const void *buf, size_t len, bool ip_header,
				     const struct rp_ip *src, int32_t ident,
				     const struct rp_siphash_key *key, struct rp_probe_stamp *out);

/** The request an ICMP error quoted, as a datagram socket's error queue hands it over
 *  (IP_RECVERR / IPV6_RECVERR, MSG_ERRQUEUE): `req`, `len` bytes from the quoted ICMP
 *  header on, sent to `dst` (the message's name), and the error's type and code (the
 *  extended error's ee_type, ee_code; of dst's family). Judged as rp_icmp_parse judges
 *  an error's quote: RP_REPLY_ICMP_ERROR, FORGED, FOREIGN, TRUNCATED, or NOT_ECHO for
 *  a type that is neither unreachable nor time exceeded. */
enum rp_reply_kind rp_icmp_parse_quote(const void *req, size_t len, const struct rp_ip *dst,
				       uint8_t type, uint8_t code, int32_t ident,
				       const struct rp_siphash_key *key,
				       struct rp_probe_stamp *out);

/** Reads back the fields of an echo request we built (a copy the kernel returned with
 *  its transmit timestamp; addr is left zero), from its first RP_ICMP_MIN_LEN bytes. No
 *  MAC check: only our own socket's packets come back that way. False when `pkt` is
 *  not one of our requests (of either family). */
bool rp_icmp_peek_request(const void *pkt, size_t len, struct rp_probe_stamp *out);
/** The Internet checksum (RFC 1071) of `len` bytes. */
uint16_t rp_icmp_checksum(const void *data, size_t len);

#endif
