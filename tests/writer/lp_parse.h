/* Test helper for src/writer/line.c (tests/writer/test_line.c, tests/fuzz/fuzz_line.c): two
 * line-protocol parsers, each a port of the one a real server runs, and the reference cleaner
 * that says what an untrusted token must read back as.
 *
 *   lp_parse_v1  InfluxDB 1.x models.ParsePointsWithPrecision (models/points.go, with
 *                pkg/escape): scanLine, scanKey, scanFields, scanTime, then Name(), Tags() and
 *                the field iterator, byte rule for byte rule, including where its scanners
 *                disagree on backslashes.
 *   lp_parse_v2  influxdata/line-protocol v2 lineprotocol.Decoder (decoder.go, escape.go):
 *                the stricter grammar used by the v2 and v3 tooling.
 *
 * Both return the number of points, or -1 where the real parser reports any error (or, for
 * 1.x, would panic). Unescaped text is copied into a caller-provided arena; text never grows
 * when unescaped, so an arena as large as the input is enough. Everything is static inline:
 * no allocation, nothing to link. */
#ifndef RP_TESTS_LP_PARSE_H
#define RP_TESTS_LP_PARSE_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LP_MAX_TAGS 80
#define LP_MAX_FIELDS 80
#define LP_KEY_MAX 65535u

enum lp_type { LP_FLOAT, LP_INT, LP_UINT, LP_BOOL, LP_STRING };

struct lp_str {
	const char *p;
	size_t n;
};

struct lp_field {
	struct lp_str key;
	enum lp_type type;
	double f;
	int64_t i;
	uint64_t u;
	bool b;
	struct lp_str s;
};

struct lp_point {
	struct lp_str name;
	size_t ntags;
	struct lp_str tag_key[LP_MAX_TAGS];
	struct lp_str tag_val[LP_MAX_TAGS];
	size_t nfields;
	struct lp_field field[LP_MAX_FIELDS];
	bool has_time;
	int64_t time;
};

struct lp_arena {
	char *p;
	size_t n;
	size_t cap;
};

static inline bool lp_str_eq(struct lp_str s, const char *p, size_t n)
{
	return s.n == n && (n == 0 || memcmp(s.p, p, n) == 0);
}

/* Starts a string at the arena's end; lp_put appends to it. */
static inline struct lp_str lp_begin(struct lp_arena *a)
{
	struct lp_str s = {a->p + a->n, 0};

	return s;
}

static inline bool lp_put(struct lp_arena *a, struct lp_str *s, char c)
{
	if (a->n >= a->cap)
		return false;
	a->p[a->n++] = c;
	s->n++;
	return true;
}

static inline bool lp_copy(struct lp_arena *a, struct lp_str *out, const char *p, size_t n)
{
	*out = lp_begin(a);
	for (size_t i = 0; i < n; i++)
		if (!lp_put(a, out, p[i]))
			return false;
	return true;
}

/* Go utf8.Valid: well-formed UTF-8 (no overlongs, surrogates or code points over U+10FFFF). */
static inline bool lp_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		uint32_t cp;
		size_t len, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			len = 2, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			len = 3, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			len = 4, cp = c & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* Go strconv.ParseInt(s, 10, 64). */
static inline bool lp_parse_i64(const char *s, size_t n, int64_t *out)
{
	uint64_t v = 0, lim;
	bool neg = false;
	size_t i = 0;

	if (n && (s[0] == '-' || s[0] == '+'))
		neg = s[i++] == '-';
	if (i == n)
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (lim - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* Go strconv.ParseUint(s, 10, 64). */
static inline bool lp_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* Go strconv.ParseFloat(s, 64) for decimal text: [+-] digits [. digits] [(e|E) [+-] digits],
 * at least one mantissa digit; infinities are out of range. */
static inline bool lp_parse_f64(const char *s, size_t n, double *out)
{
	char tmp[512];
	size_t i = 0, digits = 0;
	char *end;

	if (n == 0 || n >= sizeof(tmp))
		return false;
	if (s[i] == '+' || s[i] == '-')
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (!digits)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t ed = 0;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			ed++;
		if (!ed)
			return false;
	}
	if (i != n)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	*out = strtod(tmp, &end);
	return end == tmp + n && *out != HUGE_VAL && *out != -HUGE_VAL;
}

/* ---- InfluxDB 1.x ---------------------------------------------------------------------- */

enum { LP1_TAGKEY, LP1_TAGVALUE, LP1_FIELDS };

static inline size_t lp1_skip_ws(const char *b, size_t len, size_t i)
{
	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == 0))
		i++;
	return i;
}

/* scanLine: a backslash skips the next byte; quotes count only in field values. May return
 * past len where Go would panic on the slice. */
static inline size_t lp1_scan_line(const char *b, size_t len, size_t i)
{
	bool quoted = false, fields = false;
	long equals = 0, commas = 0;

	while (i < len) {
		if (b[i] == '\\') {
			i += 2;
			continue;
		}
		if (b[i] == ' ')
			fields = true;
		if (fields) {
			if (!quoted && b[i] == '=') {
				i++;
				equals++;
				continue;
			} else if (!quoted && b[i] == ',') {
				i++;
				commas++;
				continue;
			} else if (b[i] == '"' && equals > commas) {
				i++;
				quoted = !quoted;
				continue;
			}
		}
		if (b[i] == '\n' && !quoted)
			break;
		i++;
	}
	return i;
}

/* scanTo: up to `stop` not preceded by a backslash. */
static inline size_t lp1_scan_to(const char *b, size_t len, size_t i, char stop)
{
	for (; i < len; i++)
		if (b[i] == stop && (i == 0 || b[i - 1] != '\\'))
			break;
	return i;
}

static inline bool lp1_scan_number(const char *b, size_t len, size_t *pi)
{
	size_t i = *pi, start = i, nd;
	bool is_int = false, is_uint = false, decimal = false, sci = false;

	if (i < len && b[i] == '-') {
		i++;
		if (i == len)
			return false;
	}
	for (; i < len; i++) {
		char c = b[i];

		if (c == ',' || c == ' ')
			break;
		if (c == 'i' && i > start && !(is_int || is_uint)) {
			is_int = true;
			continue;
		} else if (c == 'u' && i > start && !(is_int || is_uint)) {
			is_uint = true;
			continue;
		}
		if (c == '.') {
			if (decimal)
				return false;
			decimal = true;
		}
		if (i > start && (c == 'e' || c == 'E')) {
			sci = true;
			continue;
		}
		if ((c == '+' || c == '-') && (b[i - 1] == 'e' || b[i - 1] == 'E'))
			continue;
		if (i + 2 < len && (c == 'N' || c == 'n'))
			return false;
		if (!((c >= '0' && c <= '9') || c == '.'))
			return false;
	}
	*pi = i;
	if ((is_int || is_uint) && (decimal || sci))
		return false;
	nd = i - start - (is_int ? 1 : 0) - (decimal ? 1 : 0) - (b[start] == '-' ? 1 : 0);
	if (nd == 0)
		return false;
	if (is_int) {
		int64_t v;

		if (b[i - 1] != 'i')
			return false;
		if (i - 1 - start >= 19 && !lp_parse_i64(b + start, i - 1 - start, &v))
			return false;
	} else if (is_uint) {
		return false; /* 1.x rejects `u` unless uint64 support is enabled */
	} else if (sci || i - start >= 25) {
		double v;

		if (!lp_parse_f64(b + start, i - start, &v))
			return false;
	}
	return true;
}

static inline bool lp1_scan_bool(const char *b, size_t len, size_t *pi)
{
	size_t i = *pi, start = i, n;
	const char *s = b + start;

	if (i < len && b[i] != 't' && b[i] != 'f' && b[i] != 'T' && b[i] != 'F')
		return false;
	for (i++; i < len && b[i] != ',' && b[i] != ' '; i++)
		;
	*pi = i;
	n = i - start;
	if (n == 1)
		return true;
	if ((s[0] == 't' || s[0] == 'T') && n != 4)
		return false;
	if ((s[0] == 'f' || s[0] == 'F') && n != 5)
		return false;
	switch (s[0]) {
	case 't':
		return !memcmp(s, "true", 4);
	case 'f':
		return !memcmp(s, "false", 5);
	case 'T':
		return !memcmp(s, "TRUE", 4) || !memcmp(s, "True", 4);
	case 'F':
		return !memcmp(s, "FALSE", 5) || !memcmp(s, "False", 5);
	}
	return false;
}

/* scanFields: a backslash skips the next byte; returns false on its errors. */
static inline bool lp1_scan_fields(const char *b, size_t len, size_t *pi, size_t *start)
{
	size_t i = lp1_skip_ws(b, len, *pi);
	bool quoted = false;
	long equals = 0, commas = 0;

	*start = i;
	while (i < len) {
		if (b[i] == '\\' && i + 1 < len) {
			i += 2;
			continue;
		}
		if (b[i] == '"' && equals > commas) {
			quoted = !quoted;
			i++;
			continue;
		}
		if (b[i] == '=' && !quoted) {
			equals++;
			if (i >= 2 && b[i - 1] == ' ' && b[i - 2] != '\\')
				return false;
			if (i >= 2 && b[i - 1] == ',' && b[i - 2] != '\\')
				return false;
			if (i + 1 >= len)
				return false;
			if (b[i + 1] == ',' || b[i + 1] == ' ')
				return false;
			if ((b[i + 1] >= '0' && b[i + 1] <= '9') || b[i + 1] == '.' ||
			    b[i + 1] == '-' || b[i + 1] == 'N' || b[i + 1] == 'n') {
				i++;
				if (!lp1_scan_number(b, len, &i))
					return false;
				continue;
			}
			if (b[i + 1] != '"') {
				i++;
				if (!lp1_scan_bool(b, len, &i))
					return false;
				continue;
			}
		}
		if (b[i] == ',' && !quoted)
			commas++;
		if (b[i] == ' ' && !quoted)
			break;
		i++;
	}
	*pi = i;
	if (quoted)
		return false;
	return equals != 0 && commas == equals - 1;
}

/* escape.Unescape (measurement names). */
static inline bool lp1_unescape(struct lp_arena *a, struct lp_str *out, const char *in, size_t n)
{
	*out = lp_begin(a);
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\\' && i + 1 < n &&
		    (in[i + 1] == ',' || in[i + 1] == '"' || in[i + 1] == ' ' ||
		     in[i + 1] == '=')) {
			if (!lp_put(a, out, in[i + 1]))
				return false;
			i++;
			continue;
		}
		if (!lp_put(a, out, in[i]))
			return false;
	}
	return true;
}

/* escape.IsEscaped + escape.AppendUnescaped (field keys): `\` before one of `," =` goes. */
static inline bool lp1_unescape_field_key(struct lp_arena *a, struct lp_str *out, const char *in,
					  size_t n)
{
	bool escaped = false;

	for (size_t i = 0; i + 1 < n; i++)
		if (in[i] == '\\' && strchr(",\" =", in[i + 1]) && in[i + 1])
			escaped = true;
	if (!escaped)
		return lp_copy(a, out, in, n);
	return lp1_unescape(a, out, in, n);
}

/* unescapeTag: replaces `\,` `\ ` `\=` (one pass each; the passes cannot feed each other). */
static inline bool lp1_unescape_tag(struct lp_arena *a, struct lp_str *out, const char *in,
				    size_t n)
{
	*out = lp_begin(a);
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\\' && i + 1 < n &&
		    (in[i + 1] == ',' || in[i + 1] == ' ' || in[i + 1] == '=')) {
			if (!lp_put(a, out, in[i + 1]))
				return false;
			i++;
			continue;
		}
		if (!lp_put(a, out, in[i]))
			return false;
	}
	return true;
}

/* unescapeStringField: `\\` and `\"`. */
static inline bool lp1_unescape_string(struct lp_arena *a, struct lp_str *out, const char *in,
				       size_t n)
{
	*out = lp_begin(a);
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\\' && i + 1 < n && (in[i + 1] == '\\' || in[i + 1] == '"'))
			i++;
		if (!lp_put(a, out, in[i]))
			return false;
	}
	return true;
}

/* scanFieldValue: only `\"` and `\\` are escapes; a comma outside quotes ends the value. */
static inline size_t lp1_scan_field_value(const char *b, size_t len, size_t i)
{
	bool quoted = false;

	while (i < len) {
		if (b[i] == '\\' && i + 1 < len && (b[i + 1] == '"' || b[i + 1] == '\\')) {
			i += 2;
			continue;
		}
		if (b[i] == '"') {
			i++;
			quoted = !quoted;
			continue;
		}
		if (b[i] == ',' && !quoted)
			break;
		i++;
	}
	return i;
}

static inline bool lp1_decode_fields(const char *f, size_t flen, struct lp_point *pt,
				     struct lp_arena *a)
{
	size_t start = 0, end;

	while (start < flen) {
		struct lp_field *fd = &pt->field[pt->nfields];
		struct lp_str key;
		const char *v;
		size_t vlen;

		end = lp1_scan_to(f, flen, start, '=');
		if (!lp1_unescape_field_key(a, &key, f + start, end - start))
			return false;
		start = lp1_scan_field_value(f, flen, end + 1);
		v = f + end + 1;
		vlen = start - (end + 1);
		start++;
		if (key.n == 0 || vlen == 0)
			continue; /* unmarshalBinary skips these */
		if (pt->nfields >= LP_MAX_FIELDS)
			return false;
		memset(fd, 0, sizeof(*fd));
		fd->key = key;
		if (v[0] == '"') {
			fd->type = LP_STRING;
			if (vlen < 2 || !lp1_unescape_string(a, &fd->s, v + 1, vlen - 2))
				return false;
		} else if (strchr("0123456789-.nNiIu", v[0])) {
			if (v[vlen - 1] == 'i') {
				fd->type = LP_INT;
				if (!lp_parse_i64(v, vlen - 1, &fd->i))
					return false;
			} else if (v[vlen - 1] == 'u') {
				fd->type = LP_UINT;
				if (!lp_parse_u64(v, vlen - 1, &fd->u))
					return false;
			} else {
				fd->type = LP_FLOAT;
				if (!lp_parse_f64(v, vlen, &fd->f))
					return false;
			}
		} else {
			fd->type = LP_BOOL;
			if ((vlen == 1 && strchr("1tT", v[0])) ||
			    (vlen == 4 && (!memcmp(v, "TRUE", 4) || !memcmp(v, "true", 4) ||
					   !memcmp(v, "True", 4))))
				fd->b = true;
			else if ((vlen == 1 && strchr("0fF", v[0])) ||
				 (vlen == 5 && (!memcmp(v, "FALSE", 5) || !memcmp(v, "false", 5) ||
						!memcmp(v, "False", 5))))
				fd->b = false;
			else
				return false;
		}
		pt->nfields++;
	}
	return true;
}

/* parsePoint plus what Name(), Tags() and Fields() return for it. */
static inline bool lp1_parse_point(const char *b, size_t len, struct lp_point *pt,
				   struct lp_arena *a)
{
	size_t idx[LP_MAX_TAGS + 1], commas = 0, i, start, keylen, fstart, fend, tstart;
	int state;
	bool has_escape;

	memset(pt, 0, sizeof(*pt));
	/* scanKey / scanMeasurement */
	i = start = lp1_skip_ws(b, len, 0);
	if (i >= len || b[i] == ',')
		return false;
	for (;;) {
		i++;
		if (i >= len)
			return false;
		if (b[i - 1] == '\\')
			continue;
		if (b[i] == ',') {
			state = LP1_TAGKEY;
			i++;
			break;
		}
		if (b[i] == ' ') {
			state = LP1_FIELDS;
			break;
		}
	}
	/* scanTags */
	if (state == LP1_TAGKEY) {
		for (;;) {
			if (state == LP1_TAGKEY) {
				if (commas >= LP_MAX_TAGS)
					return false;
				idx[commas++] = i;
				/* scanTagsKey */
				if (i >= len || b[i] == ' ' || b[i] == ',' || b[i] == '=')
					return false;
				for (;;) {
					i++;
					if (i >= len ||
					    ((b[i] == ' ' || b[i] == ',') && b[i - 1] != '\\'))
						return false;
					if (b[i] == '=' && b[i - 1] != '\\') {
						i++;
						break;
					}
				}
				state = LP1_TAGVALUE;
			} else if (state == LP1_TAGVALUE) {
				/* scanTagsValue */
				if (i >= len || b[i] == ',' || b[i] == ' ')
					return false;
				for (;;) {
					i++;
					if (i >= len)
						return false;
					if (b[i] == '=' && b[i - 1] != '\\')
						return false;
					if (b[i] == ',' && b[i - 1] != '\\') {
						state = LP1_TAGKEY;
						i++;
						break;
					}
					if (b[i] == ' ' && b[i - 1] != '\\') {
						state = LP1_FIELDS;
						break;
					}
				}
			} else {
				idx[commas] = i + 1;
				break;
			}
		}
	}
	/* Duplicate tag keys (compared escaped, as scanKey does). */
	for (size_t x = 0; x < commas; x++)
		for (size_t y = x + 1; y < commas; y++) {
			size_t ex = lp1_scan_to(b, idx[x + 1] - 1, idx[x], '=');
			size_t ey = lp1_scan_to(b, idx[y + 1] - 1, idx[y], '=');

			if (ex - idx[x] == ey - idx[y] &&
			    !memcmp(b + idx[x], b + idx[y], ex - idx[x]))
				return false;
		}
	keylen = i - start;
	if (keylen == 0 || keylen > LP_KEY_MAX)
		return false;

	if (!lp1_scan_fields(b, len, &i, &fstart))
		return false;
	fend = i;
	if (fend == fstart)
		return false;
	/* walkFields: series key size per field key (escaped). */
	for (size_t s = fstart; s < fend;) {
		size_t e = lp1_scan_to(b, fend, s, '=');

		if (keylen + 4 + (e - s) > LP_KEY_MAX)
			return false;
		s = lp1_scan_field_value(b, fend, e + 1) + 1;
	}

	/* scanTime */
	i = tstart = lp1_skip_ws(b, len, i);
	for (; i < len; i++) {
		if (b[i] == '\n' || b[i] == ' ')
			break;
		if (i == tstart && b[i] == '-')
			continue;
		if (b[i] < '0' || b[i] > '9')
			return false;
	}
	if (i > tstart) {
		if (!lp_parse_i64(b + tstart, i - tstart, &pt->time))
			return false;
		if (pt->time < INT64_MIN + 2 || pt->time > INT64_MAX - 1)
			return false;
		pt->has_time = true;
		for (; i < len; i++)
			if (b[i] != ' ')
				return false;
	}

	/* Name(): scanTo(key, ',') then escape.Unescape. */
	{
		const char *key = b + start;
		size_t nend = lp1_scan_to(key, keylen, 0, ',');

		if (!lp1_unescape(a, &pt->name, key, nend))
			return false;
		/* walkTags */
		has_escape = memchr(key, '\\', keylen) != NULL;
		for (size_t t = nend + 1; nend < keylen && t < keylen;) {
			size_t ke = lp1_scan_to(key, keylen, t, '='), ve;

			for (ve = ke + 1; ve < keylen; ve++)
				if (key[ve] == ',' && key[ve - 1] != '\\')
					break;
			if (ve == ke + 1) {
				t = ve;
				continue;
			}
			if (pt->ntags >= LP_MAX_TAGS)
				return false;
			if (has_escape) {
				if (!lp1_unescape_tag(a, &pt->tag_key[pt->ntags], key + t,
						      ke - t) ||
				    !lp1_unescape_tag(a, &pt->tag_val[pt->ntags], key + ke + 1,
						      ve - ke - 1))
					return false;
			} else if (!lp_copy(a, &pt->tag_key[pt->ntags], key + t, ke - t) ||
				   !lp_copy(a, &pt->tag_val[pt->ntags], key + ke + 1,
					    ve - ke - 1)) {
				return false;
			}
			pt->ntags++;
			t = ve + 1;
		}
	}
	return lp1_decode_fields(b + fstart, fend - fstart, pt, a);
}

/* models.ParsePointsWithPrecision(buf, now, "n"). */
static inline int lp_parse_v1(const char *buf, size_t len, struct lp_point *pts, int max,
			      struct lp_arena *a)
{
	size_t pos = 0;
	int n = 0;

	while (pos < len) {
		size_t end = lp1_scan_line(buf, len, pos), blen, start;
		const char *block = buf + pos;

		if (end > len)
			return -1;
		blen = end - pos;
		pos = end + 1;
		if (blen == 0)
			continue;
		start = lp1_skip_ws(block, blen, 0);
		if (start >= blen || block[start] == '#')
			continue;
		if (block[blen - 1] == '\n')
			blen--;
		if (n >= max || !lp1_parse_point(block + start, blen - start, &pts[n], a))
			return -1;
		n++;
	}
	return n;
}

/* ---- influxdata/line-protocol v2 --------------------------------------------------------- */

enum lp2_set { LP2_MEAS, LP2_KEY, LP2_STRVAL, LP2_VAL, LP2_COMMENT };

static inline bool lp2_in(enum lp2_set set, unsigned char c)
{
	bool nonprint = c < 0x20 || c == 0x7f;
	bool ws = c == ' ' || c == '\r' || c == '\n';

	switch (set) {
	case LP2_MEAS:
		return !(c == ',' || c == ' ' || nonprint);
	case LP2_KEY:
		return !(c == ',' || c == '=' || ws || nonprint);
	case LP2_STRVAL:
		return c != '"';
	case LP2_VAL:
		return !(c == ',' || ws);
	case LP2_COMMENT:
		return !nonprint;
	}
	return false;
}

/* escaper.revTable: what `\c` unescapes to in each set, 0 when the backslash stays. */
static inline char lp2_unescape(enum lp2_set set, unsigned char c)
{
	switch (set) {
	case LP2_MEAS:
		return (c == ' ' || c == ',') ? (char)c : 0;
	case LP2_KEY:
		return (c == ',' || c == '=' || c == ' ') ? (char)c : 0;
	case LP2_STRVAL:
		return c == '\\'  ? '\\'
		       : c == '"' ? '"'
		       : c == 'n' ? '\n'
		       : c == 'r' ? '\r'
		       : c == 't' ? '\t'
				  : 0;
	default:
		return 0;
	}
}

/* Decoder.takeEsc */
static inline bool lp2_take_esc(const char *b, size_t len, size_t *r, enum lp2_set set,
				struct lp_arena *a, struct lp_str *out)
{
	size_t i = *r;

	*out = lp_begin(a);
	while (i < len) {
		unsigned char c = (unsigned char)b[i];
		char rep;

		if (c != '\\') {
			if (!lp2_in(set, c))
				break;
			if (!lp_put(a, out, (char)c))
				return false;
			i++;
			continue;
		}
		if (i + 1 >= len) {
			if (!lp_put(a, out, '\\'))
				return false;
			i++;
			break;
		}
		rep = lp2_unescape(set, (unsigned char)b[i + 1]);
		if (!rep) {
			if (!lp_put(a, out, '\\'))
				return false;
			i++;
			continue;
		}
		if (!lp_put(a, out, rep))
			return false;
		i += 2;
	}
	*r = i;
	return lp_utf8_valid(out->p, out->n);
}

static inline bool lp2_ws(unsigned char c)
{
	return c == ' ' || c == '\r' || c == '\n';
}

/* Decoder.takeEOL */
static inline bool lp2_take_eol(const char *b, size_t len, size_t *r)
{
	if (*r >= len)
		return true;
	if (b[*r] == '\n') {
		(*r)++;
		return true;
	}
	if (b[*r] == '\r') {
		if (*r + 1 >= len) {
			(*r)++;
			return true;
		}
		if (b[*r + 1] == '\n') {
			*r += 2;
			return true;
		}
	}
	return false;
}

/* advanceTagComma */
static inline bool lp2_tag_comma(const char *b, size_t len, size_t *r)
{
	if (*r >= len || b[*r] != ',')
		return true;
	(*r)++;
	return *r < len && !lp2_ws((unsigned char)b[*r]);
}

static inline bool lp2_entry(const char *b, size_t len, size_t *pr, struct lp_point *pt,
			     struct lp_arena *a)
{
	size_t r = *pr;

	memset(pt, 0, sizeof(*pt));
	if (!lp2_take_esc(b, len, &r, LP2_MEAS, a, &pt->name) || pt->name.n == 0 ||
	    pt->name.p[0] == '#' || !lp2_tag_comma(b, len, &r))
		return false;
	for (;;) { /* NextTag */
		if (r < len && b[r] == ' ') {
			while (r < len && b[r] == ' ')
				r++;
			break;
		}
		if (pt->ntags >= LP_MAX_TAGS)
			return false;
		if (!lp2_take_esc(b, len, &r, LP2_KEY, a, &pt->tag_key[pt->ntags]) ||
		    pt->tag_key[pt->ntags].n == 0 || r >= len || b[r] != '=')
			return false;
		r++;
		if (!lp2_take_esc(b, len, &r, LP2_KEY, a, &pt->tag_val[pt->ntags]) ||
		    pt->tag_val[pt->ntags].n == 0)
			return false;
		pt->ntags++;
		if (r >= len)
			return false; /* no fields */
		if (!lp2_tag_comma(b, len, &r))
			return false;
	}
	for (;;) { /* NextFieldBytes */
		struct lp_field *fd;
		const char *v;
		size_t vlen;

		if (pt->nfields >= LP_MAX_FIELDS)
			return false;
		fd = &pt->field[pt->nfields];
		if (!lp2_take_esc(b, len, &r, LP2_KEY, a, &fd->key) || fd->key.n == 0 || r >= len ||
		    b[r] != '=')
			return false;
		r++;
		if (r >= len)
			return false;
		switch (b[r]) {
		case '"':
			r++;
			fd->type = LP_STRING;
			if (!lp2_take_esc(b, len, &r, LP2_STRVAL, a, &fd->s) || r >= len ||
			    b[r] != '"')
				return false;
			r++;
			break;
		case 't':
		case 'T':
		case 'f':
		case 'F':
			v = b + r;
			for (vlen = 0; r < len && lp2_in(LP2_VAL, (unsigned char)b[r]); r++)
				vlen++;
			fd->type = LP_BOOL;
			if ((vlen == 1 && (v[0] == 't' || v[0] == 'T')) ||
			    (vlen == 4 && (!memcmp(v, "true", 4) || !memcmp(v, "True", 4) ||
					   !memcmp(v, "TRUE", 4))))
				fd->b = true;
			else if ((vlen == 1 && (v[0] == 'f' || v[0] == 'F')) ||
				 (vlen == 5 && (!memcmp(v, "false", 5) || !memcmp(v, "False", 5) ||
						!memcmp(v, "FALSE", 5))))
				fd->b = false;
			else
				return false;
			break;
		default:
			if (!strchr("-0123456789.", b[r]) || b[r] == 0)
				return false;
			v = b + r;
			for (vlen = 0; r < len && lp2_in(LP2_VAL, (unsigned char)b[r]); r++)
				vlen++;
			if (v[vlen - 1] == 'i') {
				fd->type = LP_INT;
				if (!lp_parse_i64(v, vlen - 1, &fd->i))
					return false;
			} else if (v[vlen - 1] == 'u') {
				fd->type = LP_UINT;
				if (!lp_parse_u64(v, vlen - 1, &fd->u))
					return false;
			} else {
				fd->type = LP_FLOAT;
				if (!lp_parse_f64(v, vlen, &fd->f))
					return false;
			}
		}
		pt->nfields++;
		if (r >= len) {
			*pr = r;
			return true;
		}
		if (b[r] == ',') {
			r++;
			continue;
		}
		if (!lp2_ws((unsigned char)b[r]))
			return false;
		while (r < len && b[r] == ' ')
			r++;
		if (lp2_take_eol(b, len, &r)) {
			*pr = r;
			return true;
		}
		break;
	}
	{ /* TimeBytes */
		size_t t0 = r;

		while (r < len && strchr("-0123456789", b[r]) && b[r])
			r++;
		if (r > t0) {
			if (!lp_parse_i64(b + t0, r - t0, &pt->time))
				return false;
			pt->has_time = true;
		}
		if (r < len && !lp2_ws((unsigned char)b[r]))
			return false;
		while (r < len && b[r] == ' ')
			r++;
		if (!lp2_take_eol(b, len, &r))
			return false;
	}
	*pr = r;
	return true;
}

/* Decoder over a whole buffer: Next() then every section; any syntax error fails it all. */
static inline int lp_parse_v2(const char *b, size_t len, struct lp_point *pts, int max,
			      struct lp_arena *a)
{
	size_t r = 0;
	int n = 0;

	for (;;) {
		for (;;) { /* skipEmptyLines */
			while (r < len && b[r] == ' ')
				r++;
			if (r >= len)
				return n;
			if (b[r] == '#') {
				while (r < len && lp2_in(LP2_COMMENT, (unsigned char)b[r]))
					r++;
				if (!lp2_take_eol(b, len, &r))
					return -1;
			} else if (b[r] == '\n' || b[r] == '\r') {
				if (!lp2_take_eol(b, len, &r))
					return -1;
			} else {
				break;
			}
		}
		if (n >= max || !lp2_entry(b, len, &r, &pts[n], a))
			return -1;
		n++;
	}
}

/* ---- what a token must read back as ----------------------------------------------------- */

/* Unicode table 3-7, well-formed UTF-8 byte sequences: lead range, second-byte range, length. */
static const struct {
	unsigned char lo, hi, second_lo, second_hi, len;
} lp_utf8_rows[] = {
    {0xc2, 0xdf, 0x80, 0xbf, 2}, {0xe0, 0xe0, 0xa0, 0xbf, 3}, {0xe1, 0xec, 0x80, 0xbf, 3},
    {0xed, 0xed, 0x80, 0x9f, 3}, {0xee, 0xef, 0x80, 0xbf, 3}, {0xf0, 0xf0, 0x90, 0xbf, 4},
    {0xf1, 0xf3, 0x80, 0xbf, 4}, {0xf4, 0xf4, 0x80, 0x8f, 4},
};

/* The cleaned token: control bytes out, each maximal ill-formed subpart as U+FFFD, cut to
 * `max` bytes between characters; with `key_rules`, backslashes right before `,` `=` space
 * `"` or the end removed. Writes to out (room for 3 * n bytes) and returns the length. */
static inline size_t lp_expect(const char *in, size_t n, size_t max, bool key_rules, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, len = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t take = 1, row, k, ulen = 3;
		const unsigned char *unit = (const unsigned char *)"\xef\xbf\xbd";

		if (c < 0x80) {
			i++;
			if (c < 0x20 || c == 0x7f)
				continue;
			unit = s + i - 1;
			ulen = 1;
		} else {
			for (row = 0; row < sizeof(lp_utf8_rows) / sizeof(lp_utf8_rows[0]); row++)
				if (c >= lp_utf8_rows[row].lo && c <= lp_utf8_rows[row].hi)
					break;
			if (row < sizeof(lp_utf8_rows) / sizeof(lp_utf8_rows[0])) {
				for (k = 1; k < lp_utf8_rows[row].len; k++) {
					unsigned lo = k == 1 ? lp_utf8_rows[row].second_lo : 0x80;
					unsigned hi = k == 1 ? lp_utf8_rows[row].second_hi : 0xbf;

					if (i + k >= n || s[i + k] < lo || s[i + k] > hi)
						break;
				}
				take = k;
				if (k == lp_utf8_rows[row].len) {
					unit = s + i;
					ulen = k;
				}
			}
			i += take;
		}
		if (len + ulen > max)
			break;
		memcpy(out + len, unit, ulen);
		len += ulen;
	}
	if (!key_rules)
		return len;
	for (i = 0; i < len;) {
		size_t run = 0;

		while (i + run < len && out[i + run] == '\\')
			run++;
		if (!run) {
			i++;
		} else if (i + run == len || strchr(",= \"", out[i + run])) {
			memmove(out + i, out + i + run, len - i - run);
			len -= run;
		} else {
			i += run;
		}
	}
	return len;
}

/* Length of a cleaned token once escaped for its place (for the series-key limit). */
static inline size_t lp_escaped_len(const char *s, size_t n, bool measurement)
{
	size_t e = n;

	for (size_t i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == ' ' || (!measurement && s[i] == '='))
			e++;
	return e;
}

#endif
