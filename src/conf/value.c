/* Value parsers shared by the YAML reader, the flags and command arguments.
 * Pure: no I/O. Each rejects with a reason the user can act on. */
#include "ringprobe/addr.h"
#include "ringprobe/conf.h"
#include "ringprobe/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), -EINVAL)

struct unit {
	const char *name;
	int64_t ns;
};

/* Go's time.ParseDuration units, plus "d" for days (prune_after: 7d). */
static const struct unit duration_units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000}, /* U+03BC greek mu */
    {"ms", RP_NSEC_PER_MSEC},
    {"s", RP_NSEC_PER_SEC},
    {"m", 60 * RP_NSEC_PER_SEC},
    {"h", 3600 * RP_NSEC_PER_SEC},
    {"d", 86400 * RP_NSEC_PER_SEC},
};

int rp_parse_duration(const char *s, int64_t *ns, char *why, size_t whylen)
{
	const char *p = s;
	long double total = 0;

	if (!*s)
		return WHY("empty duration (write e.g. 30s, 250ms or 1h30m)");
	if (*p == '-')
		return WHY("duration \"%s\" is negative", s);
	if (*p == '+')
		p++;
	if (strcmp(p, "0") == 0) {
		*ns = 0;
		return 0;
	}
	while (*p) {
		long double whole = 0, frac = 0, scale = 1;
		bool digits = false;
		size_t ulen = 0;
		const struct unit *u = NULL;

		while (isdigit((unsigned char)*p)) {
			whole = whole * 10 + (*p++ - '0');
			digits = true;
		}
		if (*p == '.') {
			p++;
			while (isdigit((unsigned char)*p)) {
				frac = frac * 10 + (*p++ - '0');
				scale *= 10;
				digits = true;
			}
		}
		if (!digits)
			return WHY("invalid duration \"%s\" (write e.g. 30s, 250ms or 1h30m)", s);
		while (p[ulen] && !isdigit((unsigned char)p[ulen]) && p[ulen] != '.')
			ulen++;
		if (ulen == 0)
			return WHY("duration \"%s\" needs a unit (ns, us, ms, s, m, h or d), e.g. "
				   "\"%ss\"",
				   s, s);
		for (size_t i = 0; i < RP_ARRAY_SIZE(duration_units); i++) {
			if (strlen(duration_units[i].name) == ulen &&
			    strncmp(duration_units[i].name, p, ulen) == 0)
				u = &duration_units[i];
		}
		if (!u)
			return WHY(
			    "duration \"%s\" has unknown unit \"%.*s\" (use ns, us, ms, s, m, h "
			    "or d)",
			    s, (int)ulen, p);
		total += (whole + frac / scale) * (long double)u->ns;
		p += ulen;
	}
	if (total > (long double)INT64_MAX)
		return WHY("duration \"%s\" is too long", s);
	*ns = (int64_t)(total + 0.5L);
	return 0;
}

void rp_format_duration(int64_t ns, char *buf, size_t len)
{
	static const struct unit big[] = {{"d", 86400 * RP_NSEC_PER_SEC},
					  {"h", 3600 * RP_NSEC_PER_SEC},
					  {"m", 60 * RP_NSEC_PER_SEC},
					  {"s", RP_NSEC_PER_SEC}};
	size_t off = 0;

	if (ns == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	/* Not a whole number of seconds: one small unit, the coarsest that holds it exactly
	 * (seconds with milliseconds between one second and a minute). */
	if (ns % RP_NSEC_PER_SEC != 0) {
		if (ns % RP_NSEC_PER_MSEC == 0 && ns > RP_NSEC_PER_SEC && ns < 60 * RP_NSEC_PER_SEC)
			snprintf(buf, len, "%lld.%03llds", (long long)(ns / RP_NSEC_PER_SEC),
				 (long long)(ns % RP_NSEC_PER_SEC / RP_NSEC_PER_MSEC));
		else if (ns % RP_NSEC_PER_MSEC == 0)
			snprintf(buf, len, "%lldms", (long long)(ns / RP_NSEC_PER_MSEC));
		else if (ns % 1000 == 0)
			snprintf(buf, len, "%lldus", (long long)(ns / 1000));
		else
			snprintf(buf, len, "%lldns", (long long)ns);
		return;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < RP_ARRAY_SIZE(big) && ns > 0; i++) {
		int64_t n = ns / big[i].ns;

		/* Days only when the whole value is whole days: "36h" reads better than "1d12h". */
		if (i == 0 && ns % big[i].ns != 0)
			continue;
		if (n > 0 && off < len) {
			off += (size_t)snprintf(buf + off, len - off, "%lld%s", (long long)n,
						big[i].name);
			ns -= n * big[i].ns;
		}
	}
}

int rp_parse_int(const char *s, int64_t *out, char *why, size_t whylen)
{
	const char *p = s;
	bool neg = false, digits = false;
	uint64_t v = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; *p; p++) {
		if (*p == '_' && digits && p[1] && p[1] != '_')
			continue;
		if (!isdigit((unsigned char)*p))
			return WHY("expected an integer, got \"%s\"", s);
		if (v > (UINT64_MAX - 9) / 10)
			return WHY("integer \"%s\" is too large", s);
		v = v * 10 + (uint64_t)(*p - '0');
		digits = true;
	}
	if (!digits)
		return WHY("expected an integer, got \"%s\"", s);
	if (v > (uint64_t)INT64_MAX)
		return WHY("integer \"%s\" is too large", s);
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int rp_parse_float(const char *s, double *out, char *why, size_t whylen)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno == ERANGE || !isfinite(v) || isspace((unsigned char)*s))
		return WHY("expected a number, got \"%s\"", s);
	*out = v;
	return 0;
}

int rp_parse_bool(const char *s, bool *out, char *why, size_t whylen)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};

	for (size_t i = 0; i < RP_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return WHY("expected true or false, got \"%s\"", s);
}

int rp_parse_size(const char *s, int64_t *out, char *why, size_t whylen)
{
	static const struct unit units[] = {
	    {"", 1},
	    {"B", 1},
	    {"K", 1LL << 10},
	    {"KiB", 1LL << 10},
	    {"KB", 1000},
	    {"M", 1LL << 20},
	    {"MiB", 1LL << 20},
	    {"MB", 1000000},
	    {"G", 1LL << 30},
	    {"GiB", 1LL << 30},
	    {"GB", 1000000000},
	    {"T", 1LL << 40},
	    {"TiB", 1LL << 40},
	    {"TB", 1000000000000LL},
	};
	char num[32];
	size_t n = 0;
	int64_t v;

	while (isdigit((unsigned char)s[n]) || s[n] == '_')
		n++;
	if (n == 0 || n >= sizeof(num))
		return WHY("expected a size such as 512MiB or 1GB, got \"%s\"", s);
	memcpy(num, s, n);
	num[n] = '\0';
	if (rp_parse_int(num, &v, why, whylen) < 0)
		return -EINVAL;
	for (size_t i = 0; i < RP_ARRAY_SIZE(units); i++) {
		if (strcasecmp(s + n, units[i].name) == 0) {
			if (v > INT64_MAX / units[i].ns)
				return WHY("size \"%s\" is too large", s);
			*out = v * units[i].ns;
			return 0;
		}
	}
	return WHY("size \"%s\" has unknown unit \"%s\" (use B, K, M, G, T, KiB.. or KB..)", s,
		   s + n);
}

void rp_format_size(int64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};

	for (size_t i = 0; i < RP_ARRAY_SIZE(units); i++) {
		int64_t unit = 1LL << (10 * (4 - i));

		if (bytes > 0 && bytes % unit == 0) {
			snprintf(buf, len, "%lld%s", (long long)(bytes / unit), units[i]);
			return;
		}
	}
	snprintf(buf, len, "%lld", (long long)bytes);
}

int rp_parse_ipv4(const char *s, uint32_t *out, char *why, size_t whylen)
{
	const char *p = s;
	uint32_t addr = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0, ndig = 0;

		if (part > 0) {
			if (*p != '.')
				return WHY("invalid IPv4 address \"%s\"", s);
			p++;
		}
		while (isdigit((unsigned char)*p) && ndig < 4) {
			v = v * 10 + (unsigned)(*p++ - '0');
			ndig++;
		}
		if (ndig == 0 || ndig > 3 || v > 255)
			return WHY("invalid IPv4 address \"%s\"", s);
		if (ndig > 1 && p[-(int)ndig] == '0')
			return WHY("invalid IPv4 address \"%s\" (leading zeros are ambiguous)", s);
		addr = addr << 8 | v;
	}
	if (*p)
		return WHY("invalid IPv4 address \"%s\"", s);
	*out = addr;
	return 0;
}

void rp_cidr_list_add_name(struct rp_cidr_list *l, const char *name, uint32_t line)
{
	l->names = rp_xrealloc(l->names, (l->nnames + 1) * sizeof(*l->names));
	l->name_line = rp_xrealloc(l->name_line, (l->nnames + 1) * sizeof(*l->name_line));
	l->name_pos = rp_xrealloc(l->name_pos, (l->nnames + 1) * sizeof(*l->name_pos));
	l->names[l->nnames] = rp_xstrdup(name);
	l->name_line[l->nnames] = line;
	l->name_pos[l->nnames] = l->n;
	l->nnames++;
}

bool rp_name_valid(const char *s)
{
	size_t len = strlen(s), label = 0;
	bool only_digits = true;

	if (len == 0 || len > 253 || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(ch) && ch != '-' && ch != '_')
			return false;
		if (ch == '-' && label == 0)
			return false;
		if (!isdigit(ch))
			only_digits = false;
		if (++label > 63)
			return false;
	}
	return !only_digits && s[len - 1] != '-';
}

int rp_parse_ip(const char *s, struct rp_ip *out, char *why, size_t whylen)
{
	uint32_t v4;

	if (!strchr(s, ':')) {
		if (rp_parse_ipv4(s, &v4, why, whylen) < 0)
			return -EINVAL;
		*out = rp_ip_v4(v4);
		return 0;
	}
	if (strchr(s, '%'))
		return WHY("invalid IPv6 address \"%s\" (a zone index is not accepted)", s);
	if (!rp_ip_parse(s, out))
		return WHY("invalid IPv6 address \"%s\"", s);
	return 0;
}

int rp_parse_cidr(const char *s, struct rp_cidr *out, bool *host_bits, char *why, size_t whylen)
{
	const char *slash = strchr(s, '/');
	char addr[RP_IP_STRLEN + 8];
	int64_t prefix = -1;
	unsigned max;
	struct rp_ip a;
	char sub[128];

	if (slash) {
		size_t n = (size_t)(slash - s);

		if (n >= sizeof(addr))
			return WHY("invalid CIDR \"%s\"", s);
		memcpy(addr, s, n);
		addr[n] = '\0';
	} else {
		if (strlen(s) >= sizeof(addr))
			return WHY("invalid address \"%s\"", s);
		strcpy(addr, s);
	}
	if (rp_parse_ip(addr, &a, sub, sizeof(sub)) < 0)
		return WHY("invalid %s \"%s\": %s", slash ? "CIDR" : "address", s, sub);
	max = rp_ip_is_v4(&a) ? 32 : 128;
	if (slash) {
		if (rp_parse_int(slash + 1, &prefix, sub, sizeof(sub)) < 0 || slash[1] == '+' ||
		    slash[1] == '-' || strchr(slash + 1, '_'))
			return WHY("invalid CIDR \"%s\": prefix length must be a number 0..%u", s,
				   max);
		if (prefix < 0 || prefix > max)
			return WHY("invalid CIDR \"%s\": prefix length must be 0..%u", s, max);
	} else {
		prefix = max;
	}
	out->prefix = (uint8_t)prefix;
	out->net = a;
	/* Clear the host bits: the last (max - prefix) bits of the 128-bit form. */
	for (unsigned bit = (128 - max) + (unsigned)prefix; bit < 128; bit++)
		out->net.b[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	if (host_bits)
		*host_bits = !rp_ip_eq(&out->net, &a);
	return 0;
}

int rp_parse_shard(const char *s, struct rp_shard_sel *out, char *why, size_t whylen)
{
	const char *slash = strchr(s, '/');
	char left[24], sub[128];
	int64_t i, n;
	size_t len;

	bool from_host;

	if (!slash)
		return WHY("expected I/N (this instance's index and the number of instances) or "
			   "auto/N, got \"%s\"",
			   s);
	len = (size_t)(slash - s);
	if (len == 0 || len >= sizeof(left))
		return WHY("expected I/N or auto/N, got \"%s\"", s);
	memcpy(left, s, len);
	left[len] = '\0';
	from_host = strcmp(left, "auto") == 0;
	if ((!from_host && rp_parse_int(left, &i, sub, sizeof(sub)) < 0) ||
	    rp_parse_int(slash + 1, &n, sub, sizeof(sub)) < 0)
		return WHY("expected I/N or auto/N with whole numbers, got \"%s\"", s);
	if (n < 1 || n > RP_SHARD_MAX)
		return WHY("\"%s\": N must be 1..%d", s, RP_SHARD_MAX);
	if (from_host)
		i = 0;
	else if (i < 0 || i >= n)
		return WHY("\"%s\": I must be 0..%lld (instances are numbered from 0)", s,
			   (long long)(n - 1));
	out->index = (uint32_t)i;
	out->count = (uint32_t)n;
	out->from_host = from_host;
	return 0;
}

int rp_shard_from_host(struct rp_shard_sel *sel, const char *host, char *why, size_t whylen)
{
	size_t len = strcspn(host, "."), d = len;
	uint64_t ord = 0;

	while (d > 0 && isdigit((unsigned char)host[d - 1]))
		d--;
	if (d == len || d < 2 || host[d - 1] != '-')
		return WHY("auto/%u: host name \"%s\" does not end in -ORDINAL (as a "
			   "StatefulSet's pods do: ringprobe-0, ringprobe-1, ...); write I/N",
			   sel->count, host);
	if (host[d] == '0' && len - d > 1)
		return WHY("auto/%u: host name \"%s\": ordinal with a leading zero is ambiguous "
			   "(ordinals count from 0 without padding); write I/N",
			   sel->count, host);
	for (size_t k = d; k < len && ord < RP_SHARD_MAX; k++)
		ord = ord * 10 + (uint64_t)(host[k] - '0');
	if (ord >= sel->count)
		return WHY("auto/%u: host name \"%s\" has ordinal %.*s, but N = %u allows 0..%u "
			   "(raise N to the number of replicas)",
			   sel->count, host, (int)(len - d), host + d, sel->count, sel->count - 1);
	sel->index = (uint32_t)ord;
	return 0;
}

void rp_format_cidr(const struct rp_cidr *c, bool bare32, char *buf, size_t len)
{
	char ip[RP_IP_STRLEN];

	rp_ip_format(&c->net, ip);
	if (bare32 && rp_cidr_host_bits(c) == 0)
		snprintf(buf, len, "%s", ip);
	else
		snprintf(buf, len, "%s/%u", ip, c->prefix);
}

unsigned rp_cidr_host_bits(const struct rp_cidr *c)
{
	return (rp_ip_is_v4(&c->net) ? 32u : 128u) - c->prefix;
}

uint64_t rp_cidr_size(const struct rp_cidr *c)
{
	unsigned hb = rp_cidr_host_bits(c);

	return hb >= 64 ? UINT64_MAX : 1ull << hb;
}

bool rp_cidr_contains(const struct rp_cidr *c, const struct rp_ip *addr)
{
	bool v4 = rp_ip_is_v4(&c->net);
	unsigned bits = (v4 ? 96u : 0u) + c->prefix, full = bits / 8;

	if (v4 != rp_ip_is_v4(addr) || memcmp(addr->b, c->net.b, full) != 0)
		return false;
	return bits % 8 == 0 ||
	       ((addr->b[full] ^ c->net.b[full]) & (uint8_t)(0xff00u >> (bits % 8))) == 0;
}

struct rp_ip rp_cidr_nth(const struct rp_cidr *c, uint64_t i)
{
	struct rp_ip a = c->net;
	uint64_t lo = 0;

	/* The host part is at most 2^64 here (i is a uint64_t) and its bits are clear in
	 * net, so adding i to the low 64 bits never carries into the prefix. */
	for (int k = 8; k < 16; k++)
		lo = lo << 8 | a.b[k];
	lo += i;
	for (int k = 15; k >= 8; k--, lo >>= 8)
		a.b[k] = (uint8_t)lo;
	return a;
}
