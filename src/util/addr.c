/* Addresses of either family and their text forms: the one parser and formatter every
 * module uses (logs, points, the CLI, SNMP peer names). Pure; no allocation. */
#include "ringprobe/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Decimal text of each octet, left-aligned, with its length in the last byte: one 4-byte
 * copy per octet, and the length byte is overwritten by whatever follows. */
static const char octet[256][4] = {
    {'0', 0, 0, 1},	{'1', 0, 0, 1},	    {'2', 0, 0, 1},	{'3', 0, 0, 1},
    {'4', 0, 0, 1},	{'5', 0, 0, 1},	    {'6', 0, 0, 1},	{'7', 0, 0, 1},
    {'8', 0, 0, 1},	{'9', 0, 0, 1},	    {'1', '0', 0, 2},	{'1', '1', 0, 2},
    {'1', '2', 0, 2},	{'1', '3', 0, 2},   {'1', '4', 0, 2},	{'1', '5', 0, 2},
    {'1', '6', 0, 2},	{'1', '7', 0, 2},   {'1', '8', 0, 2},	{'1', '9', 0, 2},
    {'2', '0', 0, 2},	{'2', '1', 0, 2},   {'2', '2', 0, 2},	{'2', '3', 0, 2},
    {'2', '4', 0, 2},	{'2', '5', 0, 2},   {'2', '6', 0, 2},	{'2', '7', 0, 2},
    {'2', '8', 0, 2},	{'2', '9', 0, 2},   {'3', '0', 0, 2},	{'3', '1', 0, 2},
    {'3', '2', 0, 2},	{'3', '3', 0, 2},   {'3', '4', 0, 2},	{'3', '5', 0, 2},
    {'3', '6', 0, 2},	{'3', '7', 0, 2},   {'3', '8', 0, 2},	{'3', '9', 0, 2},
    {'4', '0', 0, 2},	{'4', '1', 0, 2},   {'4', '2', 0, 2},	{'4', '3', 0, 2},
    {'4', '4', 0, 2},	{'4', '5', 0, 2},   {'4', '6', 0, 2},	{'4', '7', 0, 2},
    {'4', '8', 0, 2},	{'4', '9', 0, 2},   {'5', '0', 0, 2},	{'5', '1', 0, 2},
    {'5', '2', 0, 2},	{'5', '3', 0, 2},   {'5', '4', 0, 2},	{'5', '5', 0, 2},
    {'5', '6', 0, 2},	{'5', '7', 0, 2},   {'5', '8', 0, 2},	{'5', '9', 0, 2},
    {'6', '0', 0, 2},	{'6', '1', 0, 2},   {'6', '2', 0, 2},	{'6', '3', 0, 2},
    {'6', '4', 0, 2},	{'6', '5', 0, 2},   {'6', '6', 0, 2},	{'6', '7', 0, 2},
    {'6', '8', 0, 2},	{'6', '9', 0, 2},   {'7', '0', 0, 2},	{'7', '1', 0, 2},
    {'7', '2', 0, 2},	{'7', '3', 0, 2},   {'7', '4', 0, 2},	{'7', '5', 0, 2},
    {'7', '6', 0, 2},	{'7', '7', 0, 2},   {'7', '8', 0, 2},	{'7', '9', 0, 2},
    {'8', '0', 0, 2},	{'8', '1', 0, 2},   {'8', '2', 0, 2},	{'8', '3', 0, 2},
    {'8', '4', 0, 2},	{'8', '5', 0, 2},   {'8', '6', 0, 2},	{'8', '7', 0, 2},
    {'8', '8', 0, 2},	{'8', '9', 0, 2},   {'9', '0', 0, 2},	{'9', '1', 0, 2},
    {'9', '2', 0, 2},	{'9', '3', 0, 2},   {'9', '4', 0, 2},	{'9', '5', 0, 2},
    {'9', '6', 0, 2},	{'9', '7', 0, 2},   {'9', '8', 0, 2},	{'9', '9', 0, 2},
    {'1', '0', '0', 3}, {'1', '0', '1', 3}, {'1', '0', '2', 3}, {'1', '0', '3', 3},
    {'1', '0', '4', 3}, {'1', '0', '5', 3}, {'1', '0', '6', 3}, {'1', '0', '7', 3},
    {'1', '0', '8', 3}, {'1', '0', '9', 3}, {'1', '1', '0', 3}, {'1', '1', '1', 3},
    {'1', '1', '2', 3}, {'1', '1', '3', 3}, {'1', '1', '4', 3}, {'1', '1', '5', 3},
    {'1', '1', '6', 3}, {'1', '1', '7', 3}, {'1', '1', '8', 3}, {'1', '1', '9', 3},
    {'1', '2', '0', 3}, {'1', '2', '1', 3}, {'1', '2', '2', 3}, {'1', '2', '3', 3},
    {'1', '2', '4', 3}, {'1', '2', '5', 3}, {'1', '2', '6', 3}, {'1', '2', '7', 3},
    {'1', '2', '8', 3}, {'1', '2', '9', 3}, {'1', '3', '0', 3}, {'1', '3', '1', 3},
    {'1', '3', '2', 3}, {'1', '3', '3', 3}, {'1', '3', '4', 3}, {'1', '3', '5', 3},
    {'1', '3', '6', 3}, {'1', '3', '7', 3}, {'1', '3', '8', 3}, {'1', '3', '9', 3},
    {'1', '4', '0', 3}, {'1', '4', '1', 3}, {'1', '4', '2', 3}, {'1', '4', '3', 3},
    {'1', '4', '4', 3}, {'1', '4', '5', 3}, {'1', '4', '6', 3}, {'1', '4', '7', 3},
    {'1', '4', '8', 3}, {'1', '4', '9', 3}, {'1', '5', '0', 3}, {'1', '5', '1', 3},
    {'1', '5', '2', 3}, {'1', '5', '3', 3}, {'1', '5', '4', 3}, {'1', '5', '5', 3},
    {'1', '5', '6', 3}, {'1', '5', '7', 3}, {'1', '5', '8', 3}, {'1', '5', '9', 3},
    {'1', '6', '0', 3}, {'1', '6', '1', 3}, {'1', '6', '2', 3}, {'1', '6', '3', 3},
    {'1', '6', '4', 3}, {'1', '6', '5', 3}, {'1', '6', '6', 3}, {'1', '6', '7', 3},
    {'1', '6', '8', 3}, {'1', '6', '9', 3}, {'1', '7', '0', 3}, {'1', '7', '1', 3},
    {'1', '7', '2', 3}, {'1', '7', '3', 3}, {'1', '7', '4', 3}, {'1', '7', '5', 3},
    {'1', '7', '6', 3}, {'1', '7', '7', 3}, {'1', '7', '8', 3}, {'1', '7', '9', 3},
    {'1', '8', '0', 3}, {'1', '8', '1', 3}, {'1', '8', '2', 3}, {'1', '8', '3', 3},
    {'1', '8', '4', 3}, {'1', '8', '5', 3}, {'1', '8', '6', 3}, {'1', '8', '7', 3},
    {'1', '8', '8', 3}, {'1', '8', '9', 3}, {'1', '9', '0', 3}, {'1', '9', '1', 3},
    {'1', '9', '2', 3}, {'1', '9', '3', 3}, {'1', '9', '4', 3}, {'1', '9', '5', 3},
    {'1', '9', '6', 3}, {'1', '9', '7', 3}, {'1', '9', '8', 3}, {'1', '9', '9', 3},
    {'2', '0', '0', 3}, {'2', '0', '1', 3}, {'2', '0', '2', 3}, {'2', '0', '3', 3},
    {'2', '0', '4', 3}, {'2', '0', '5', 3}, {'2', '0', '6', 3}, {'2', '0', '7', 3},
    {'2', '0', '8', 3}, {'2', '0', '9', 3}, {'2', '1', '0', 3}, {'2', '1', '1', 3},
    {'2', '1', '2', 3}, {'2', '1', '3', 3}, {'2', '1', '4', 3}, {'2', '1', '5', 3},
    {'2', '1', '6', 3}, {'2', '1', '7', 3}, {'2', '1', '8', 3}, {'2', '1', '9', 3},
    {'2', '2', '0', 3}, {'2', '2', '1', 3}, {'2', '2', '2', 3}, {'2', '2', '3', 3},
    {'2', '2', '4', 3}, {'2', '2', '5', 3}, {'2', '2', '6', 3}, {'2', '2', '7', 3},
    {'2', '2', '8', 3}, {'2', '2', '9', 3}, {'2', '3', '0', 3}, {'2', '3', '1', 3},
    {'2', '3', '2', 3}, {'2', '3', '3', 3}, {'2', '3', '4', 3}, {'2', '3', '5', 3},
    {'2', '3', '6', 3}, {'2', '3', '7', 3}, {'2', '3', '8', 3}, {'2', '3', '9', 3},
    {'2', '4', '0', 3}, {'2', '4', '1', 3}, {'2', '4', '2', 3}, {'2', '4', '3', 3},
    {'2', '4', '4', 3}, {'2', '4', '5', 3}, {'2', '4', '6', 3}, {'2', '4', '7', 3},
    {'2', '4', '8', 3}, {'2', '4', '9', 3}, {'2', '5', '0', 3}, {'2', '5', '1', 3},
    {'2', '5', '2', 3}, {'2', '5', '3', 3}, {'2', '5', '4', 3}, {'2', '5', '5', 3}};

char *rp_addr_put(char *p, uint32_t a)
{
	const char *o;

	o = octet[a >> 24];
	memcpy(p, o, 4);
	p += o[3];
	*p++ = '.';
	o = octet[(a >> 16) & 0xff];
	memcpy(p, o, 4);
	p += o[3];
	*p++ = '.';
	o = octet[(a >> 8) & 0xff];
	memcpy(p, o, 4);
	p += o[3];
	*p++ = '.';
	o = octet[a & 0xff];
	memcpy(p, o, 4);
	return p + o[3];
}

char *rp_addr_format(uint32_t a, char buf[RP_ADDR_STRLEN])
{
	char tmp[RP_ADDR_PUT_ROOM];
	size_t n = (size_t)(rp_addr_put(tmp, a) - tmp);

	memcpy(buf, tmp, n);
	buf[n] = '\0';
	return buf;
}

bool rp_ip_parse(const char *s, struct rp_ip *out)
{
	struct in6_addr a6;
	const char *p;

	if (!s || !*s)
		return false;
	if (!strchr(s, ':')) {
		uint32_t v = 0;

		/* A dotted quad: four decimal parts 0..255 without leading zeros (inet_pton
		 * agrees but takes "010" as 10 where inet_aton took it as 8: refuse both). */
		p = s;
		for (int part = 0; part < 4; part++) {
			unsigned x = 0, nd = 0;

			if (part > 0 && *p++ != '.')
				return false;
			while (*p >= '0' && *p <= '9' && nd < 4) {
				x = x * 10 + (unsigned)(*p++ - '0');
				nd++;
			}
			if (nd == 0 || nd > 3 || x > 255 || (nd > 1 && p[-(int)nd] == '0'))
				return false;
			v = v << 8 | x;
		}
		if (*p)
			return false;
		*out = rp_ip_v4(v);
		return true;
	}
	if (strlen(s) >= RP_IP_STRLEN || inet_pton(AF_INET6, s, &a6) != 1)
		return false;
	memcpy(out->b, a6.s6_addr, 16);
	return true;
}

static const char hexdig[16] = "0123456789abcdef";

/* One group without leading zeros. */
static char *put_group(char *p, unsigned g)
{
	int shift = g >= 0x1000 ? 12 : g >= 0x100 ? 8 : g >= 0x10 ? 4 : 0;

	for (; shift >= 0; shift -= 4)
		*p++ = hexdig[(g >> shift) & 0xf];
	return p;
}

char *rp_ip_put(char *p, const struct rp_ip *a)
{
	unsigned g[8];
	int best = -1, bestlen = 0;

	if (rp_ip_is_v4(a))
		return rp_addr_put(p, rp_ip_to_v4(a));
	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)a->b[2 * i] << 8 | a->b[2 * i + 1];
	/* RFC 5952 §4.2: the longest run of two or more zero groups, the first on a tie. */
	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > bestlen && j - i >= 2) {
			best = i;
			bestlen = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			*p++ = ':';
			if (i == 0)
				*p++ = ':';
			i += bestlen - 1;
			continue;
		}
		p = put_group(p, g[i]);
		if (i < 7)
			*p++ = ':';
	}
	return p;
}

char *rp_ip_format(const struct rp_ip *a, char buf[RP_IP_STRLEN])
{
	char tmp[RP_IP_PUT_ROOM];
	size_t n = (size_t)(rp_ip_put(tmp, a) - tmp);

	memcpy(buf, tmp, n);
	buf[n] = '\0';
	return buf;
}

unsigned rp_ip_to_sockaddr(const struct rp_ip *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (rp_ip_is_v4(a)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(rp_ip_to_v4(a));
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(sin6->sin6_addr.s6_addr, a->b, 16);
	return sizeof(*sin6);
}

bool rp_ip_from_sockaddr(const void *sa, unsigned len, struct rp_ip *out, uint16_t *port)
{
	sa_family_t fam;

	if (len < sizeof(sa_family_t))
		return false;
	memcpy(&fam, sa, sizeof(fam));
	if (fam == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin;

		memcpy(&sin, sa, sizeof(sin));
		*out = rp_ip_v4(ntohl(sin.sin_addr.s_addr));
		if (port)
			*port = ntohs(sin.sin_port);
		return true;
	}
	if (fam == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		memcpy(out->b, sin6.sin6_addr.s6_addr, 16);
		if (port)
			*port = ntohs(sin6.sin6_port);
		return true;
	}
	return false;
}
