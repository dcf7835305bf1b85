/* fuzz-sources: src/writer/line.c src/util/addr.c src/probe/icmp.c src/util/siphash.c */
/* libFuzzer harness for src/writer/line.c. The first byte picks a mode:
 *   point     measurement, tags, field keys and string values are NUL-separated chunks of
 *             the input, numbers and sizes come from its bytes; the point is appended after
 *             an existing line and the whole buffer must read back, with both parser ports
 *             in tests/writer/lp_parse.h, as that line plus exactly the cleaned point. Errors
 *             must be the ones the cleaned inputs call for; -ENOSPC must leave the buffer
 *             byte-identical and be confirmed by encoding into a large buffer.
 *   ping      rp_line_ping with any result, same checks.
 *   sanitize  rp_line_sanitize of raw bytes, NULs included, against the reference cleaner.
 * Any mismatch calls abort(), which libFuzzer reports as a crash with the reproducer. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/line.h"

#include "../writer/lp_parse.h"

#define NT 4
#define NF 5
#define NSTR (1 + 2 * NT + 2 * NF)
#define TOKEN_MAX 512
#define BIG (1u << 18)
#define PREFIX "p f=1i 1\n"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_line: check failed at line %d: %s\n", __LINE__, #c); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t n;
};

static char buf[BIG], big[BIG], snap[BIG];
static char arena[2 * BIG];
static struct lp_point v1[3], v2[3];
static char tok[NSTR][TOKEN_MAX + 1];
static char want[NSTR][3 * TOKEN_MAX + 1];
static size_t wn[NSTR];

static uint8_t take8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t take64(struct input *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | take8(in);
	return v;
}

/* The next NUL-terminated chunk (at most TOKEN_MAX bytes) as a C string. */
static void take_str(struct input *in, char *dst)
{
	size_t n = 0;

	while (in->n && n < TOKEN_MAX) {
		uint8_t c = take8(in);

		if (c == 0)
			break;
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
}

static bool same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* Parses buf[0..len) with both ports; both must see `want_points`, and agree. */
static void parse_both(const char *b, size_t len, int want_points)
{
	struct lp_arena a1 = {arena, 0, BIG}, a2 = {arena + BIG, 0, BIG};

	CHECK(lp_parse_v1(b, len, v1, 3, &a1) == want_points);
	CHECK(lp_parse_v2(b, len, v2, 3, &a2) == want_points);
	for (int i = 0; i < want_points; i++) {
		CHECK(lp_str_eq(v1[i].name, v2[i].name.p, v2[i].name.n));
		CHECK(v1[i].ntags == v2[i].ntags && v1[i].nfields == v2[i].nfields);
		CHECK(v1[i].time == v2[i].time && v1[i].has_time == v2[i].has_time);
	}
	/* the existing line is untouched */
	CHECK(lp_str_eq(v1[0].name, "p", 1) && v1[0].nfields == 1 && v1[0].field[0].i == 1);
}

static void fuzz_point(struct input *in)
{
	uint8_t ntags = take8(in) % (NT + 1), nfields = take8(in) % (NF + 1);
	uint8_t mb = take8(in), capsel = take8(in), tsb = take8(in);
	size_t max = mb >= 250 ? SIZE_MAX : mb;
	uint64_t ts = take64(in) >> (tsb & 3);
	size_t cap = capsel < 192 ? BIG : PREFIX_LEN + (size_t)(capsel - 192) * 4;
	struct rp_field f[NF];
	struct rp_tag t[NT];
	bool einval = nfields == 0 || ts > (uint64_t)INT64_MAX - 1;
	size_t keylen;
	int rc;

	memset(f, 0, sizeof(f));
	for (int i = 0; i < NF; i++) {
		f[i].type = (enum rp_field_type)(take8(in) % 5);
		f[i].v.u = take64(in);
		if (f[i].type == RP_FIELD_BOOL)
			f[i].v.b = f[i].v.u & 1;
		if (f[i].type == RP_FIELD_FLOAT && !isfinite(f[i].v.f) && i < nfields)
			einval = true;
		if (f[i].type == RP_FIELD_UINT && f[i].v.u > (uint64_t)INT64_MAX && i < nfields)
			einval = true;
	}
	for (int i = 0; i < NSTR; i++) {
		bool capped = i > 0 && i % 2 == 0, string_value = i > 2 * NT && i % 2 == 0;

		take_str(in, tok[i]);
		wn[i] = lp_expect(tok[i], strlen(tok[i]), capped ? max : SIZE_MAX, !string_value,
				  want[i]);
	}
	for (int i = 0; i < NT; i++)
		t[i] = (struct rp_tag){tok[1 + 2 * i], tok[2 + 2 * i]};
	for (int i = 0; i < NF; i++) {
		f[i].key = tok[1 + 2 * NT + 2 * i];
		if (f[i].type == RP_FIELD_STRING)
			f[i].v.s = tok[2 + 2 * NT + 2 * i];
	}

	/* What the cleaned inputs call for. */
	if (wn[0] == 0 || want[0][0] == '#')
		einval = true;
	keylen = lp_escaped_len(want[0], wn[0], true);
	for (int i = 0; i < ntags; i++) {
		if (wn[2 + 2 * i] == 0)
			continue;
		if (wn[1 + 2 * i] == 0)
			einval = true;
		for (int j = 0; j < i; j++)
			if (wn[2 + 2 * j] && wn[1 + 2 * j] == wn[1 + 2 * i] &&
			    !memcmp(want[1 + 2 * j], want[1 + 2 * i], wn[1 + 2 * i]))
				einval = true;
		keylen += 2 + lp_escaped_len(want[1 + 2 * i], wn[1 + 2 * i], false) +
			  lp_escaped_len(want[2 + 2 * i], wn[2 + 2 * i], false);
	}
	for (int i = 0; i < nfields; i++)
		if (wn[1 + 2 * NT + 2 * i] == 0 ||
		    keylen + 4 +
			    lp_escaped_len(want[1 + 2 * NT + 2 * i], wn[1 + 2 * NT + 2 * i],
					   false) >
			LP_KEY_MAX)
			einval = true;

	struct rp_linebuf b = {buf, PREFIX_LEN, cap, 1};

	memcpy(buf, PREFIX, PREFIX_LEN);
	if (cap < BIG) { /* a snapshot to compare after -ENOSPC */
		memset(buf + PREFIX_LEN, 0xa5, cap - PREFIX_LEN);
		memcpy(snap, buf, cap);
	}
	rc = rp_line_point(&b, tok[0], t, ntags, f, nfields, ts, max);

	if (rc == -ENOSPC) {
		struct rp_linebuf l = {big, 0, BIG, 0};
		int rc2;

		CHECK(cap < BIG);
		CHECK(b.len == PREFIX_LEN && b.points == 1 && memcmp(buf, snap, cap) == 0);
		rc2 = rp_line_point(&l, tok[0], t, ntags, f, nfields, ts, max);
		CHECK(rc2 == (einval ? -EINVAL : 0));
		CHECK(einval || l.len > cap - PREFIX_LEN);
		return;
	}
	if (rc == -EINVAL) {
		CHECK(einval);
		CHECK(b.len == PREFIX_LEN && b.points == 1 && memcmp(buf, PREFIX, PREFIX_LEN) == 0);
		return;
	}
	CHECK(rc == 0 && !einval);
	CHECK(b.points == 2 && b.len <= cap && buf[b.len - 1] == '\n');
	CHECK(memchr(buf + PREFIX_LEN, '\n', b.len - PREFIX_LEN) == buf + b.len - 1);
	parse_both(buf, b.len, 2);

	const struct lp_point *p = &v1[1], *q = &v2[1];
	size_t k = 0;

	CHECK(lp_str_eq(p->name, want[0], wn[0]));
	for (int i = 0; i < ntags; i++) {
		if (wn[2 + 2 * i] == 0)
			continue;
		CHECK(k < p->ntags);
		CHECK(lp_str_eq(p->tag_key[k], want[1 + 2 * i], wn[1 + 2 * i]));
		CHECK(lp_str_eq(q->tag_key[k], want[1 + 2 * i], wn[1 + 2 * i]));
		CHECK(lp_str_eq(p->tag_val[k], want[2 + 2 * i], wn[2 + 2 * i]));
		CHECK(lp_str_eq(q->tag_val[k], want[2 + 2 * i], wn[2 + 2 * i]));
		k++;
	}
	CHECK(p->ntags == k && p->nfields == nfields);
	for (int i = 0; i < nfields; i++) {
		const struct lp_field *g = &p->field[i], *h = &q->field[i];
		const char *wk = want[1 + 2 * NT + 2 * i];
		size_t wkn = wn[1 + 2 * NT + 2 * i];

		CHECK(lp_str_eq(g->key, wk, wkn) && lp_str_eq(h->key, wk, wkn));
		switch (f[i].type) {
		case RP_FIELD_FLOAT:
			CHECK(g->type == LP_FLOAT && h->type == LP_FLOAT);
			CHECK(same_bits(g->f, f[i].v.f) && same_bits(h->f, f[i].v.f));
			break;
		case RP_FIELD_INT:
			CHECK(g->type == LP_INT && h->type == LP_INT);
			CHECK(g->i == f[i].v.i && h->i == f[i].v.i);
			break;
		case RP_FIELD_UINT:
			CHECK(g->type == LP_INT && h->type == LP_INT);
			CHECK((uint64_t)g->i == f[i].v.u && (uint64_t)h->i == f[i].v.u);
			break;
		case RP_FIELD_BOOL:
			CHECK(g->type == LP_BOOL && h->type == LP_BOOL);
			CHECK(g->b == f[i].v.b && h->b == f[i].v.b);
			break;
		case RP_FIELD_STRING:
			CHECK(g->type == LP_STRING && h->type == LP_STRING);
			CHECK(lp_str_eq(g->s, want[2 + 2 * NT + 2 * i], wn[2 + 2 * NT + 2 * i]));
			CHECK(lp_str_eq(h->s, want[2 + 2 * NT + 2 * i], wn[2 + 2 * NT + 2 * i]));
			break;
		}
	}
	CHECK(p->has_time && (uint64_t)p->time == ts);
}

static void fuzz_ping(struct input *in)
{
	struct rp_probe_result r;
	uint8_t shift = take8(in), capsel = take8(in);
	size_t cap = capsel < 128 ? BIG : PREFIX_LEN + (capsel - 128u);
	char ip[INET6_ADDRSTRLEN], rtt[48];
	uint64_t rtt_ns;
	int rc;

	memset(&r, 0, sizeof(r));
	r.sent_ns = take64(in) >> (shift & 1);
	if (take8(in) & 1) { /* IPv6: 16 bytes as they come */
		uint64_t hi = take64(in), lo = take64(in);

		memcpy(r.addr.b, &hi, 8);
		memcpy(r.addr.b + 8, &lo, 8);
	} else {
		r.addr = rp_ip_v4((uint32_t)take64(in));
	}
	r.rtt_ns = take64(in) >> (shift >> 2);
	r.success = take8(in) & 1;
	r.suspended = take8(in);
	rtt_ns = r.rtt_ns;

	struct rp_linebuf b = {buf, PREFIX_LEN, cap, 1};

	memcpy(buf, PREFIX, PREFIX_LEN);
	if (cap < BIG) {
		memset(buf + PREFIX_LEN, 0x5a, cap - PREFIX_LEN);
		memcpy(snap, buf, cap);
	}
	rc = rp_line_ping(&b, &r, NULL);
	if (r.sent_ns > (uint64_t)INT64_MAX - 1) {
		CHECK(rc == -EINVAL && b.len == PREFIX_LEN && b.points == 1);
		return;
	}
	if (rc == -ENOSPC) {
		struct rp_linebuf l = {big, 0, BIG, 0};

		CHECK(cap < BIG);
		CHECK(b.len == PREFIX_LEN && b.points == 1 && memcmp(buf, snap, cap) == 0);
		CHECK(rp_line_ping(&l, &r, NULL) == 0 && l.len > cap - PREFIX_LEN);
		return;
	}
	CHECK(rc == 0 && b.points == 2 && b.len - PREFIX_LEN <= RP_LINE_PING_MAX);
	parse_both(buf, b.len, 2);
	/* snprintf and inet_ntop, not rp_ip_format: the oracle must not share the encoder's
	 * formatter. inet_ntop writes ::a.b.c.d for IPv4-compatible addresses (::/96), where
	 * RFC 5952 and the encoder keep hex groups: those are checked by reading back. */
	if (rp_ip_is_v4(&r.addr)) {
		uint32_t a4 = rp_ip_to_v4(&r.addr);

		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", a4 >> 24, (a4 >> 16) & 0xff,
			 (a4 >> 8) & 0xff, a4 & 0xff);
	} else if (r.addr.w[0] || r.addr.w[1] || r.addr.w[2]) {
		CHECK(inet_ntop(AF_INET6, r.addr.b, ip, sizeof(ip)));
	} else {
		uint8_t back[16];
		size_t n = v1[1].tag_val[0].n;

		CHECK(n < sizeof(ip));
		memcpy(ip, v1[1].tag_val[0].p, n);
		ip[n] = '\0';
		CHECK(!strchr(ip, '.') && inet_pton(AF_INET6, ip, back) == 1 &&
		      memcmp(back, r.addr.b, 16) == 0);
	}
	CHECK(lp_str_eq(v1[1].name, "ping", 4) && v1[1].ntags == 1);
	CHECK(lp_str_eq(v1[1].tag_key[0], "ip", 2) && lp_str_eq(v1[1].tag_val[0], ip, strlen(ip)));
	CHECK(v1[1].nfields == (r.success ? 3u : 2u));
	if (r.success) {
		snprintf(rtt, sizeof(rtt), "%" PRIu64 ".%06" PRIu64, rtt_ns / 1000000,
			 rtt_ns % 1000000);
		CHECK(lp_str_eq(v1[1].field[0].key, "rtt_ms", 6) &&
		      v1[1].field[0].type == LP_FLOAT);
		CHECK(same_bits(v1[1].field[0].f, strtod(rtt, NULL)));
		CHECK(same_bits(v2[1].field[0].f, strtod(rtt, NULL)));
	}
	CHECK(lp_str_eq(v1[1].field[r.success].key, "success", 7));
	CHECK(v1[1].field[r.success].type == LP_BOOL && v1[1].field[r.success].b == r.success);
	CHECK(lp_str_eq(v1[1].field[r.success + 1].key, "suspended", 9));
	CHECK(v1[1].field[r.success + 1].b == (r.suspended != 0));
	CHECK((uint64_t)v1[1].time == r.sent_ns);
}

static void fuzz_sanitize(struct input *in)
{
	uint8_t sz = take8(in), mb = take8(in);
	size_t dsize = sz, max = mb >= 250 ? SIZE_MAX : mb, n;
	size_t len = in->n > TOKEN_MAX ? TOKEN_MAX : in->n;
	size_t cap = dsize ? (dsize - 1 < max ? dsize - 1 : max) : 0;

	memset(big, 0x77, 300);
	n = rp_line_sanitize(big, dsize, (const char *)in->p, len, max);
	if (dsize == 0) {
		CHECK(n == 0 && (unsigned char)big[0] == 0x77);
		return;
	}
	CHECK(n == lp_expect((const char *)in->p, len, cap, false, want[0]));
	CHECK(big[n] == '\0' && memcmp(big, want[0], n) == 0 && lp_utf8_valid(big, n));
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)big[i] >= 0x20 && big[i] != 0x7f);
	CHECK(n + 1 >= 300 || (unsigned char)big[n + 1] == 0x77);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};

	switch (take8(&in) % 3) {
	case 0:
		fuzz_point(&in);
		break;
	case 1:
		fuzz_ping(&in);
		break;
	default:
		fuzz_sanitize(&in);
		break;
	}
	return 0;
}
