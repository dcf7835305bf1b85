/* InfluxDB line protocol encoder (include/ringprobe/line.h). Pure: no I/O, no clock, no
 * allocation; tests, the fuzzer and bench link it directly.
 *
 * Escaping follows what InfluxDB actually parses, not only what its reference page says.
 * InfluxDB 1.x (models/points.go) scans the measurement and tags with "a byte preceded by a
 * backslash is escaped" (scanMeasurement, scanTagsValue, scanTo), but splits lines and fields
 * with "a backslash escapes the next byte" (scanLine, scanFields), and neither unescapes `\\`
 * outside string fields. So a literal backslash right before a separator or an escaped byte
 * (`\,` `\=` `\ ` `\"`, or the end of the token) cannot be written in a way every scanner reads
 * the same: doubling it still escapes the next byte for scanMeasurement. Such backslashes are
 * dropped (a tag value `C:\` becomes `C:`); every other backslash is kept as is, which both
 * InfluxDB 1.x and the v2 line-protocol decoder read back literally.
 *
 * Untrusted text is cleaned in this order: control bytes (0x00-0x1f, 0x7f) removed, invalid
 * UTF-8 replaced by U+FFFD (one per maximal ill-formed subpart, Unicode 15 section 3.9), the
 * result cut to `max_string` bytes at a character boundary, the backslashes above dropped,
 * then position escaping applied. Keys and the measurement get the same cleaning without the
 * length cap. */
#include "ringprobe/line.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/addr.h"
#include "ringprobe/compiler.h"
#include "ringprobe/icmp.h"
#include "writer/writer_int.h"

/* InfluxDB 1.x accepts times in [INT64_MIN + 2, INT64_MAX - 1] (models/time.go MaxNanoTime). */
#define TS_MAX ((uint64_t)INT64_MAX - 1)
/* InfluxDB 1.x rejects a point whose series key (escaped measurement and tags) plus 4 plus an
 * escaped field key is longer than this (models/points.go MaxKeyLength, seriesKeySize). */
#define KEY_MAX 65535u
/* Room rp_line_ping() writes into directly: RP_LINE_PING_MAX plus rp_ip_put's over-write. */
#define PING_ROOM 160u
/* Upper bounds of one formatted value, for the fits-without-measuring check. */
#define FLOAT_MAX_LEN 32u
#define INT_MAX_LEN 21u

/* Where a token goes: its escaping rules. */
enum tok {
	TOK_RAW,  /* rp_line_sanitize: cleaned, not escaped */
	TOK_MEAS, /* measurement: escape `,` and space */
	TOK_KEY,  /* tag key, tag value, field key: escape `,` `=` and space */
	TOK_STR,  /* string field value, inside quotes: escape `"` and `\` */
};

/* Output cursor. With p == NULL it only counts, so a point can be measured before it is
 * written and a buffer that is too small is never touched. */
struct sink {
	char *p;
	size_t n;
};

static const char dec2[] = "00010203040506070809"
			   "10111213141516171819"
			   "20212223242526272829"
			   "30313233343536373839"
			   "40414243444546474849"
			   "50515253545556575859"
			   "60616263646566676869"
			   "70717273747576777879"
			   "80818283848586878889"
			   "90919293949596979899";

static const uint64_t pow10_u64[20] = {1ull,
				       10ull,
				       100ull,
				       1000ull,
				       10000ull,
				       100000ull,
				       1000000ull,
				       10000000ull,
				       100000000ull,
				       1000000000ull,
				       10000000000ull,
				       100000000000ull,
				       1000000000000ull,
				       10000000000000ull,
				       100000000000000ull,
				       1000000000000000ull,
				       10000000000000000ull,
				       100000000000000000ull,
				       1000000000000000000ull,
				       10000000000000000000ull};

static const unsigned char replacement[3] = {0xef, 0xbf, 0xbd}; /* U+FFFD */

static inline void sink_put(struct sink *k, const void *src, size_t n)
{
	if (k->p)
		memcpy(k->p + k->n, src, n);
	k->n += n;
}

static inline void sink_byte(struct sink *k, char c)
{
	if (k->p)
		k->p[k->n] = c;
	k->n++;
}

static size_t sat_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* Digits in v (1 for 0): log10 from the bit length, corrected by one comparison. */
static inline unsigned u64_digits(uint64_t v)
{
	unsigned t;

	if (v == 0)
		return 1;
	t = (unsigned)(64 - __builtin_clzll(v)) * 1233u >> 12;
	return t + (v >= pow10_u64[t]);
}

/* Writes v in decimal, two digits per step from the end; returns the end. */
static inline char *put_u64(char *p, uint64_t v)
{
	unsigned n = u64_digits(v);
	char *q = p + n;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;

		v /= 100;
		q -= 2;
		q[0] = dec2[d];
		q[1] = dec2[d + 1];
	}
	if (v >= 10) {
		q -= 2;
		q[0] = dec2[v * 2];
		q[1] = dec2[v * 2 + 1];
	} else {
		*--q = (char)('0' + v);
	}
	return p + n;
}

static size_t fmt_i64(char *out, int64_t v)
{
	char *p = out;
	uint64_t u = (uint64_t)v;

	if (v < 0) {
		*p++ = '-';
		u = 0 - u;
	}
	return (size_t)(put_u64(p, u) - out);
}

/* rtt_ns / 1e6 with all six decimals, trailing zeros (and a bare point) trimmed. The text is
 * the exact quotient, so it reads back as the double nearest to it: bit for bit what
 * (double)rtt_ns / 1e6 gives whenever rtt_ns < 2^53 (104 days). */
static inline char *put_rtt_ms(char *p, uint64_t rtt_ns)
{
	uint32_t frac = (uint32_t)(rtt_ns % 1000000);
	unsigned hi, mid, lo;

	p = put_u64(p, rtt_ns / 1000000);
	if (!frac)
		return p;
	hi = frac / 10000 * 2;
	mid = frac / 100 % 100 * 2;
	lo = frac % 100 * 2;
	p[0] = '.';
	p[1] = dec2[hi];
	p[2] = dec2[hi + 1];
	p[3] = dec2[mid];
	p[4] = dec2[mid + 1];
	p[5] = dec2[lo];
	p[6] = dec2[lo + 1];
	p += 7;
	while (p[-1] == '0')
		p--;
	return p;
}

static bool same_bits(double a, double b)
{
	uint64_t x, y;

	memcpy(&x, &a, sizeof(x));
	memcpy(&y, &b, sizeof(y));
	return x == y;
}

/* Shortest decimal that strtod reads back to the same bits. The digits come from glibc's
 * exactly rounded "%.*e", tried at 15, 16 and 17 significant digits: for a normal double, a
 * decimal of at most 15 digits that reads back is what "%.14e" prints (2^-53 is less than half
 * of a 15-digit step), so the first precision that reads back is the shortest, except at a
 * power of two where a 16-digit candidate below v may fail and 17 are used. Subnormals, with
 * fewer significant bits, start at one digit. Only digits and the exponent are taken from
 * printf and the round-trip string has no radix character, so LC_NUMERIC cannot leak a `,`
 * into the output. Layout is JavaScript's Number#toString: fixed for 1e-6 <= |v| < 1e21,
 * else d.ddde-N (InfluxDB 1.x scanNumber and Go's ParseFloat read both). `out` holds
 * FLOAT_MAX_LEN bytes. */
size_t rp_line__fmt_double_slow(char *out, double v)
{
	char tmp[48], dig[24], back[40];
	int prec = (v != 0 && fabs(v) < DBL_MIN) ? 1 : 15;
	int nd = 0, e10 = 0, point, i;
	bool neg = signbit(v) != 0;
	char *p = out;

	for (;; prec++) {
		const char *s = tmp;
		int esign = 1, len;

		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (*s == '-')
			s++;
		for (nd = 0; *s && *s != 'e'; s++)
			if (*s >= '0' && *s <= '9' && nd < (int)sizeof(dig))
				dig[nd++] = *s;
		if (*s == 'e')
			s++;
		if (*s == '-' || *s == '+')
			esign = *s++ == '-' ? -1 : 1;
		for (e10 = 0; *s >= '0' && *s <= '9'; s++)
			e10 = e10 * 10 + (*s - '0');
		e10 *= esign;
		while (nd > 1 && dig[nd - 1] == '0')
			nd--;
		if (prec >= 17)
			break;
		len = snprintf(back, sizeof(back), "%s%.*se%d", neg ? "-" : "", nd, dig,
			       e10 - nd + 1);
		if (len > 0 && same_bits(strtod(back, NULL), v))
			break;
	}

	if (neg)
		*p++ = '-';
	point = e10 + 1;
	if (e10 >= -6 && e10 < 21) {
		if (point <= 0) {
			*p++ = '0';
			*p++ = '.';
			for (i = point; i < 0; i++)
				*p++ = '0';
			memcpy(p, dig, (size_t)nd);
			p += nd;
		} else if (point < nd) {
			memcpy(p, dig, (size_t)point);
			p += point;
			*p++ = '.';
			memcpy(p, dig + point, (size_t)(nd - point));
			p += nd - point;
		} else {
			memcpy(p, dig, (size_t)nd);
			p += nd;
			for (i = nd; i < point; i++)
				*p++ = '0';
		}
	} else {
		*p++ = dig[0];
		if (nd > 1) {
			*p++ = '.';
			memcpy(p, dig + 1, (size_t)(nd - 1));
			p += nd - 1;
		}
		*p++ = 'e';
		if (e10 < 0) {
			*p++ = '-';
			e10 = -e10;
		}
		p = put_u64(p, (uint64_t)e10);
	}
	return (size_t)(p - out);
}

/* A whole number of millionths, as every RTT statistic in ms and every duration in s
 * the daemon writes is (k ns / 1e6, k ms / 1e3): printed from k with integer
 * arithmetic, without the printf/strtod rounds above (~1 us a field). The text is the
 * same. With |k| < 10^15 the decimal k / 10^6 has at most 15 significant digits, v is
 * the double nearest to it (k and 10^6 are exact, the division correctly rounded: the
 * check below), so "%.14e" of v rounds back to those digits (v lies within 2^-53 of
 * them, half a 15-digit step is more) and the slow path would print them, in the fixed
 * layout since 1e-6 <= |v| < 1e9. */
static size_t fmt_double(char *out, double v)
{
	int64_t k;
	char *p = out;

	if (!(fabs(v) < 1e9) || (v == 0 && signbit(v)))
		return rp_line__fmt_double_slow(out, v);
	k = (int64_t)llrint(v * 1e6);
	if ((double)k / 1e6 != v)
		return rp_line__fmt_double_slow(out, v);
	if (k < 0) {
		*p++ = '-';
		k = -k;
	}
	return (size_t)(put_rtt_ms(p, (uint64_t)k) - out);
}

/* Decodes one unit at s (s < end): a printable ASCII byte, a well-formed UTF-8 sequence, or
 * U+FFFD for one maximal ill-formed subpart (Unicode table 3-7 gives the valid second bytes).
 * Control bytes give *ulen 0. Returns where the next unit starts. */
static inline const unsigned char *next_unit(const unsigned char *s, const unsigned char *end,
					     unsigned char u[4], size_t *ulen)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i, avail = (size_t)(end - s);

	if (c < 0x80) {
		u[0] = (unsigned char)c;
		*ulen = (c < 0x20 || c == 0x7f) ? 0 : 1;
		return s + 1;
	}
	if (c < 0xc2 || c > 0xf4) {
		memcpy(u, replacement, 3);
		*ulen = 3;
		return s + 1;
	}
	need = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	for (i = 1; i <= need; i++) {
		if (i >= avail || s[i] < lo || s[i] > hi) {
			memcpy(u, replacement, 3);
			*ulen = 3;
			return s + i;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	memcpy(u, s, need + 1);
	*ulen = need + 1;
	return s + need + 1;
}

/* 1 for printable ASCII that no position escapes or drops (not space , = " \\): such runs
 * are copied through without per-character work. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static inline bool is_plain(unsigned char c)
{
	return plain[c];
}

/* Appends one cleaned, capped and escaped token (see the top of the file); returns how many
 * bytes it appended, 0 when nothing is left of it. `max` caps the cleaned bytes. */
static size_t put_token(struct sink *k, const char *str, size_t len, size_t max, enum tok kind)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len;
	size_t ulen, used = 0, held = 0, n0 = k->n;
	unsigned char u[4];

	while (s < end) {
		unsigned char c;

		if (is_plain(*s)) {
			const unsigned char *r = s + 1;
			size_t run;

			while (r < end && is_plain(*r))
				r++;
			run = (size_t)(r - s);
			if (run > max - used)
				run = max - used;
			if (run == 0)
				break;
			for (; held; held--)
				sink_byte(k, '\\');
			sink_put(k, s, run);
			used += run;
			s += run;
			continue;
		}
		s = next_unit(s, end, u, &ulen);
		if (ulen == 0)
			continue;
		if (ulen > max - used)
			break;
		used += ulen;
		c = u[0];
		if (ulen > 1 || kind == TOK_RAW) {
			for (; held; held--)
				sink_byte(k, '\\');
			sink_put(k, u, ulen);
		} else if (kind == TOK_STR) {
			if (c == '"' || c == '\\')
				sink_byte(k, '\\');
			sink_byte(k, (char)c);
		} else if (c == '\\') {
			held++; /* kept only if a harmless byte follows */
		} else if (c == ',' || c == ' ' || c == '=' || c == '"') {
			held = 0;
			if (c == ',' || c == ' ' || (c == '=' && kind == TOK_KEY))
				sink_byte(k, '\\');
			sink_byte(k, (char)c);
		} else {
			for (; held; held--)
				sink_byte(k, '\\');
			sink_byte(k, (char)c);
		}
	}
	return k->n - n0;
}

/* Whether the measurement's first cleaned character is `#`: InfluxDB reads the line as a
 * comment and the v2 decoder rejects it. */
static bool starts_with_hash(const char *m, size_t len)
{
	const unsigned char *s = (const unsigned char *)m, *end = s + len;
	unsigned char u[4];
	size_t ulen;

	while (s < end) {
		s = next_unit(s, end, u, &ulen);
		if (ulen)
			return ulen == 1 && u[0] == '#';
	}
	return false;
}

/* Bytes one token can take at most: cleaning grows a byte to at most 3 (U+FFFD), escaping
 * doubles at most. */
static size_t token_bound(const char *s, size_t max)
{
	size_t n = strlen(s);

	n = n > SIZE_MAX / 3 ? SIZE_MAX : n * 3;
	if (n > max)
		n = max;
	return sat_add(n, n);
}

static size_t field_value_bound(const struct rp_field *f, size_t max)
{
	switch (f->type) {
	case RP_FIELD_FLOAT:
		return FLOAT_MAX_LEN;
	case RP_FIELD_INT:
	case RP_FIELD_UINT:
		return INT_MAX_LEN;
	case RP_FIELD_BOOL:
		return 5;
	case RP_FIELD_STRING:
		return sat_add(token_bound(f->v.s, max), 2);
	}
	return SIZE_MAX;
}

/* Argument checks that need no cleaning, done before anything is measured or written. */
static int check_args(const struct rp_linebuf *b, const char *measurement,
		      const struct rp_tag *tags, size_t ntags, const struct rp_field *fields,
		      size_t nfields, uint64_t ts_ns)
{
	size_t i;

	if (!b || !measurement || nfields == 0 || !fields || (ntags && !tags) ||
	    ntags > RP_LINE_MAX_TAGS || ts_ns > TS_MAX)
		return -EINVAL;
	for (i = 0; i < ntags; i++)
		if (!tags[i].key)
			return -EINVAL;
	for (i = 0; i < nfields; i++) {
		const struct rp_field *f = &fields[i];

		if (!f->key)
			return -EINVAL;
		switch (f->type) {
		case RP_FIELD_FLOAT:
			if (!isfinite(f->v.f))
				return -EINVAL;
			break;
		case RP_FIELD_UINT:
			if (f->v.u > (uint64_t)INT64_MAX)
				return -EINVAL; /* 1.x has no `u` by default: written as `i` */
			break;
		case RP_FIELD_STRING:
			if (!f->v.s)
				return -EINVAL;
			break;
		case RP_FIELD_INT:
		case RP_FIELD_BOOL:
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

static void put_field_value(struct sink *k, const struct rp_field *f, size_t max)
{
	char num[FLOAT_MAX_LEN];
	size_t n;

	switch (f->type) {
	case RP_FIELD_FLOAT:
		n = fmt_double(num, f->v.f);
		sink_put(k, num, n);
		break;
	case RP_FIELD_INT:
		n = fmt_i64(num, f->v.i);
		num[n++] = 'i';
		sink_put(k, num, n);
		break;
	case RP_FIELD_UINT:
		n = fmt_i64(num, (int64_t)f->v.u);
		num[n++] = 'i';
		sink_put(k, num, n);
		break;
	case RP_FIELD_BOOL:
		if (f->v.b)
			sink_put(k, "true", 4);
		else
			sink_put(k, "false", 5);
		break;
	case RP_FIELD_STRING:
		sink_byte(k, '"');
		put_token(k, f->v.s, strlen(f->v.s), max, TOK_STR);
		sink_byte(k, '"');
		break;
	}
}

/* Writes (or, with k->p NULL, measures) one point. Errors that need the cleaned text: an
 * empty or `#` measurement, an empty key, a series key over KEY_MAX, and (when writing, as it
 * compares the written keys) two tags with the same key. */
static int encode(struct sink *k, const char *measurement, const struct rp_tag *tags, size_t ntags,
		  const char *raw, const struct rp_field *fields, size_t nfields, uint64_t ts_ns,
		  size_t max)
{
	size_t key_off[RP_LINE_MAX_TAGS], key_len[RP_LINE_MAX_TAGS];
	size_t start = k->n, nkept = 0, keylen, i, j;
	size_t mlen = strlen(measurement);
	char num[24];

	if (put_token(k, measurement, mlen, SIZE_MAX, TOK_MEAS) == 0 ||
	    starts_with_hash(measurement, mlen))
		return -EINVAL;
	for (i = 0; i < ntags; i++) {
		struct sink count = {NULL, 0};
		const char *v = tags[i].value;
		size_t off, klen;

		/* An empty tag value is rejected by InfluxDB: leave the tag out. */
		if (!v || put_token(&count, v, strlen(v), max, TOK_KEY) == 0)
			continue;
		sink_byte(k, ',');
		off = k->n;
		klen = put_token(k, tags[i].key, strlen(tags[i].key), SIZE_MAX, TOK_KEY);
		if (klen == 0)
			return -EINVAL;
		if (k->p)
			for (j = 0; j < nkept; j++)
				if (key_len[j] == klen &&
				    !memcmp(k->p + key_off[j], k->p + off, klen))
					return -EINVAL;
		key_off[nkept] = off;
		key_len[nkept++] = klen;
		sink_byte(k, '=');
		put_token(k, v, strlen(v), max, TOK_KEY);
	}
	if (raw)
		sink_put(k, raw, strlen(raw)); /* escaped by rp_line_tags */
	keylen = k->n - start;
	if (keylen > KEY_MAX)
		return -EINVAL;
	for (i = 0; i < nfields; i++) {
		size_t klen;

		sink_byte(k, i ? ',' : ' ');
		klen = put_token(k, fields[i].key, strlen(fields[i].key), SIZE_MAX, TOK_KEY);
		if (klen == 0 || keylen + 4 + klen > KEY_MAX)
			return -EINVAL;
		sink_byte(k, '=');
		put_field_value(k, &fields[i], max);
	}
	sink_byte(k, ' ');
	sink_put(k, num, (size_t)(put_u64(num, ts_ns) - num));
	sink_byte(k, '\n');
	return 0;
}

/* Caller: the writer (or a one-shot command) that owns `b`. Keys and the measurement are the
 * caller's constants; tag values and string fields may be anything. A tag whose value is NULL
 * or cleans to nothing is left out. max_string 0 empties every capped string. On any error
 * b->len and b->points stay as they were and nothing before b->len is touched; on -ENOSPC
 * nothing at all is written. */
int rp_line_point(struct rp_linebuf *b, const char *measurement, const struct rp_tag *tags,
		  size_t ntags, const struct rp_field *fields, size_t nfields, uint64_t ts_ns,
		  size_t max_string)
{
	return rp_line_point_tagged(b, measurement, tags, ntags, NULL, fields, nfields, ts_ns,
				    max_string);
}

int rp_line_point_tagged(struct rp_linebuf *b, const char *measurement, const struct rp_tag *tags,
			 size_t ntags, const char *raw, const struct rp_field *fields,
			 size_t nfields, uint64_t ts_ns, size_t max_string)
{
	struct sink k;
	size_t room, bound, i;
	int ret;

	ret = check_args(b, measurement, tags, ntags, fields, nfields, ts_ns);
	if (ret)
		return ret;
	room = b->cap - b->len;

	/* Write in place when even the worst case fits; measure first otherwise. */
	bound = sat_add(token_bound(measurement, SIZE_MAX), 2 + INT_MAX_LEN);
	if (raw)
		bound = sat_add(bound, strlen(raw));
	for (i = 0; i < ntags; i++)
		if (tags[i].value)
			bound = sat_add(bound, sat_add(2 + token_bound(tags[i].key, SIZE_MAX),
						       token_bound(tags[i].value, max_string)));
	for (i = 0; i < nfields; i++)
		bound = sat_add(bound, sat_add(2 + token_bound(fields[i].key, SIZE_MAX),
					       field_value_bound(&fields[i], max_string)));
	if (bound > room) {
		k.p = NULL;
		k.n = 0;
		ret = encode(&k, measurement, tags, ntags, raw, fields, nfields, ts_ns, max_string);
		if (ret)
			return ret;
		if (k.n > room)
			return -ENOSPC;
	}
	k.p = b->data + b->len;
	k.n = 0;
	ret = encode(&k, measurement, tags, ntags, raw, fields, nfields, ts_ns, max_string);
	if (ret)
		return ret;
	b->len += k.n;
	b->points++;
	return 0;
}

static const struct {
	char s[32];
	size_t n;
} ping_tail[2][2] = {
    {{" success=false,suspended=false ", 31}, {" success=false,suspended=true ", 30}},
    {{",success=true,suspended=false ", 30}, {",success=true,suspended=true ", 29}},
};

/* Caller: the writer thread that owns `b`. Straight-line code: no printf, no escaping (the
 * address is formatted here; a device's tags were escaped once, by rp_line_tags), no
 * per-byte cleaning. */
int rp_line_ping(struct rp_linebuf *b, const struct rp_probe_result *r, const char *tags)
{
	char tmp[PING_ROOM + RP_LINE_TAGS_MAX];
	size_t room = b->cap - b->len, n, tlen = 0, need = PING_ROOM;
	bool ok = r->success != 0;
	char *start, *p;

	if (RP_UNLIKELY(r->sent_ns > TS_MAX))
		return -EINVAL;
	if (tags) {
		tlen = strnlen(tags, RP_LINE_TAGS_MAX + 1);
		if (RP_UNLIKELY(tlen < 4 || tlen > RP_LINE_TAGS_MAX || tags[0] != ','))
			return -EINVAL;
		need += tlen;
	}
	start = RP_LIKELY(room >= need) ? b->data + b->len : tmp;
	memcpy(start, "ping,ip=", 8);
	p = rp_ip_put(start + 8, &r->addr);
	if (tags) {
		memcpy(p, tags, tlen);
		p += tlen;
	}
	if (ok) {
		memcpy(p, " rtt_ms=", 8);
		p = put_rtt_ms(p + 8, r->rtt_ns);
	}
	memcpy(p, ping_tail[ok][r->suspended != 0].s, 32);
	if (RP_UNLIKELY(!ok && r->error)) {
		/* Before the tail, whose leading space becomes its comma. */
		const char *e = rp_icmp_err_name(r->error);
		size_t elen = e ? strlen(e) : 0;

		if (e) {
			memcpy(p, " error=\"", 8);
			memcpy(p + 8, e, elen);
			p[8 + elen] = '"';
			p += 9 + elen;
			memcpy(p, ping_tail[ok][r->suspended != 0].s, 32);
			*p = ',';
		}
	}
	p += ping_tail[ok][r->suspended != 0].n;
	p = put_u64(p, r->sent_ns);
	*p++ = '\n';
	n = (size_t)(p - start);
	if (RP_UNLIKELY(start == tmp)) {
		if (n > room)
			return -ENOSPC;
		memcpy(b->data + b->len, tmp, n);
	}
	b->len += n;
	b->points++;
	return 0;
}

/* Any thread. A device's tags, once, for rp_line_ping and rp_line_point_tagged. */
size_t rp_line_tags(char *dst, size_t size, const struct rp_tag *tags, size_t ntags)
{
	struct sink k = {NULL, 0};
	size_t n;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < ntags; i++) {
			const char *v = tags[i].value;

			if (!v || !*v)
				continue;
			sink_byte(&k, ',');
			put_token(&k, tags[i].key, strlen(tags[i].key), SIZE_MAX, TOK_KEY);
			sink_byte(&k, '=');
			put_token(&k, v, strlen(v), SIZE_MAX, TOK_KEY);
		}
		if (pass == 1)
			break;
		n = k.n;
		if (!dst || n >= size || n > RP_LINE_TAGS_MAX)
			return 0;
		k.p = dst;
		k.n = 0;
	}
	dst[k.n] = '\0';
	return k.n;
}

/* Any thread; `dst` is the caller's. For device strings that may hold NULs (SNMP OCTET
 * STRINGs), before they go into an rp_tag or rp_field. */
size_t rp_line_sanitize(char *dst, size_t size, const char *src, size_t len, size_t max_string)
{
	struct sink k = {dst, 0};
	size_t max;

	if (!dst || size == 0)
		return 0;
	max = size - 1 < max_string ? size - 1 : max_string;
	if (src)
		put_token(&k, src, len, max, TOK_RAW);
	dst[k.n] = '\0';
	return k.n;
}

/* Any thread. Counts the newlines in p[0..n): the points of whole lines of line protocol
 * (a spool record being split or found damaged). */
uint64_t rp_line__count_lines(const void *buf, size_t n)
{
	const char *p = buf, *end = p + n;
	uint64_t lines = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p++;
	}
	return lines;
}
