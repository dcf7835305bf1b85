/* Addresses of either family, and their text forms: the one representation the device
 * tables, wheel entries, results, rings, encoders, logs and the CLI share, and the one
 * formatter every module uses (logs, points, the CLI, SNMP peer names).
 *
 * struct rp_ip is 16 bytes in network byte order: an IPv6 address as it is, an IPv4
 * address as its IPv4-mapped IPv6 form ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). One type, one
 * compare, one hash; the family is the prefix. A mapped address given as text
 * ("::ffff:192.0.2.1") therefore is the IPv4 device 192.0.2.1, as the kernel treats it.
 *
 * The uint32_t forms (rp_addr_put, rp_addr_format) are IPv4 in host byte order, kept for
 * the dotted-quad fast path and for code that is IPv4 by nature (sweep permutations). */
#ifndef RP_ADDR_H
#define RP_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ringprobe/hash.h"

struct sockaddr_storage;

struct rp_ip {
	union {
		uint8_t b[16];
		uint32_t w[4]; /* network byte order words: for compares and hashing */
	};
};
_Static_assert(sizeof(struct rp_ip) == 16, "rp_ip is 16 bytes");

/* The families, as the kernel numbers them (AF_INET, AF_INET6), without <sys/socket.h>. */
#define RP_AF_INET 2
#define RP_AF_INET6 10

/* "255.255.255.255" and its NUL. */
#define RP_ADDR_STRLEN 16
/* Room rp_addr_put needs at p: the text plus up to 3 bytes it may overwrite beyond it. */
#define RP_ADDR_PUT_ROOM (RP_ADDR_STRLEN + 3)
/* The longest RFC 5952 text ("ffff:...:255.255.255.255" form excluded: 39 chars) and
 * its NUL, with room for the mapped form too (INET6_ADDRSTRLEN). */
#define RP_IP_STRLEN 46
/* Room rp_ip_put needs at p. */
#define RP_IP_PUT_ROOM (RP_IP_STRLEN + 3)

/** Writes addr as a dotted quad (no leading zeros, no NUL) at p and returns the end of
 *  the text; may overwrite up to 3 bytes past that end (4-byte stores), so p needs
 *  RP_ADDR_PUT_ROOM bytes. For encoders on the hot path. */
char *rp_addr_put(char *p, uint32_t addr);
/** Formats addr as a NUL-terminated dotted quad into buf; returns buf. */
char *rp_addr_format(uint32_t addr, char buf[RP_ADDR_STRLEN]);

/** The IPv4 address v4 (host byte order) as an rp_ip. */
static inline struct rp_ip rp_ip_v4(uint32_t v4)
{
	struct rp_ip a = {.w = {0, 0, 0, 0}};

	a.b[10] = 0xff;
	a.b[11] = 0xff;
	a.b[12] = (uint8_t)(v4 >> 24);
	a.b[13] = (uint8_t)(v4 >> 16);
	a.b[14] = (uint8_t)(v4 >> 8);
	a.b[15] = (uint8_t)v4;
	return a;
}

/** Whether a is an IPv4 address (its mapped form). */
static inline bool rp_ip_is_v4(const struct rp_ip *a)
{
	return a->w[0] == 0 && a->w[1] == 0 && a->b[8] == 0 && a->b[9] == 0 && a->b[10] == 0xff &&
	       a->b[11] == 0xff;
}

/** RP_AF_INET or RP_AF_INET6. */
static inline int rp_ip_family(const struct rp_ip *a)
{
	return rp_ip_is_v4(a) ? RP_AF_INET : RP_AF_INET6;
}

/** The IPv4 address of a mapped a, host byte order (meaningless for IPv6). */
static inline uint32_t rp_ip_to_v4(const struct rp_ip *a)
{
	return (uint32_t)a->b[12] << 24 | (uint32_t)a->b[13] << 16 | (uint32_t)a->b[14] << 8 |
	       a->b[15];
}

static inline bool rp_ip_eq(const struct rp_ip *a, const struct rp_ip *b)
{
	return ((a->w[0] ^ b->w[0]) | (a->w[1] ^ b->w[1]) | (a->w[2] ^ b->w[2]) |
		(a->w[3] ^ b->w[3])) == 0;
}

/** Whether a is all zeros (::, "no address"). */
static inline bool rp_ip_is_zero(const struct rp_ip *a)
{
	return (a->w[0] | a->w[1] | a->w[2] | a->w[3]) == 0;
}

/** Total order: IPv4 (mapped) sorts among IPv6 by its bytes, which puts every IPv4
 *  address after ::ffff:0:0 and before ::1:0:0:0. memcmp order. */
static inline int rp_ip_cmp(const struct rp_ip *a, const struct rp_ip *b)
{
	return memcmp(a->b, b->b, 16);
}

/** A stable 32-bit key for the hashes that take one (rp_wheel_phase_due): the IPv4
 *  address in host order for IPv4, as it always was, so IPv4 devices keep their phases;
 *  a mix of all 128 bits for IPv6. */
static inline uint32_t rp_ip_key32(const struct rp_ip *a)
{
	if (rp_ip_is_v4(a))
		return rp_ip_to_v4(a);
	uint64_t hi, lo;

	memcpy(&hi, a->b, 8);
	memcpy(&lo, a->b + 8, 8);
	return (uint32_t)rp_hash_u64(rp_hash_u64(hi) ^ lo);
}

/** A stable, unkeyed 32-bit hash (shard routing, table index): rp_hash_u32 of
 *  rp_ip_key32, so an IPv4 address routes to the shard it always did. */
static inline uint32_t rp_ip_hash32(const struct rp_ip *a)
{
	return rp_hash_u32(rp_ip_key32(a));
}

/** A stable 64-bit key for hashes that take one (rendezvous sharding): the IPv4 address
 *  in host order for IPv4 (as it always was), a mix of the 128 bits for IPv6. */
static inline uint64_t rp_ip_key64(const struct rp_ip *a)
{
	if (rp_ip_is_v4(a))
		return rp_ip_to_v4(a);
	uint64_t hi, lo;

	memcpy(&hi, a->b, 8);
	memcpy(&lo, a->b + 8, 8);
	return rp_hash_u64(hi) ^ lo;
}

/** Parses an address of either family: a dotted quad (no leading zeros) or an IPv6
 *  address in any RFC 4291 text form (no zone, no prefix). false on anything else. */
bool rp_ip_parse(const char *s, struct rp_ip *out);
/** Writes a's canonical text at p (a dotted quad, or RFC 5952 for IPv6: lower case, the
 *  longest run of two or more zero groups compressed, leftmost on a tie; no NUL) and
 *  returns its end; may overwrite up to 3 bytes past it: p needs RP_IP_PUT_ROOM bytes. */
char *rp_ip_put(char *p, const struct rp_ip *a);
/** rp_ip_put with a NUL, into buf; returns buf. */
char *rp_ip_format(const struct rp_ip *a, char buf[RP_IP_STRLEN]);
/** Fills *ss (AF_INET or AF_INET6 by the family of a) with a and port (host order);
 *  returns the length to pass to the kernel. */
unsigned rp_ip_to_sockaddr(const struct rp_ip *a, uint16_t port, struct sockaddr_storage *ss);
/** Reads an AF_INET or AF_INET6 sockaddr (an AF_INET6 one holding a mapped address
 *  yields that IPv4 address); false for another family or a short length. */
bool rp_ip_from_sockaddr(const void *sa, unsigned len, struct rp_ip *out, uint16_t *port);

#endif
