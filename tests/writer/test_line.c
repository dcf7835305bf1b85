/* Tests for src/writer/line.c: exact text of ping points, escaping in every position, cleaning
 * of untrusted strings, atomic -ENOSPC, -EINVAL cases, number formatting, and property tests
 * that read every output back with ports of the InfluxDB 1.x and line-protocol v2 parsers
 * (lp_parse.h) and compare with the reference cleaner. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/compiler.h"
#include "ringprobe/icmp.h"
#include "ringprobe/line.h"
#include "support/support.h"
#include "ringprobe/event.h"
#include "writer/writer_int.h"

#include "lp_parse.h"

#define STORE_SIZE (1u << 20)
#define BIG_STRING 10240

static char store[STORE_SIZE];
static char text[STORE_SIZE + 1];
static char arena_mem[STORE_SIZE];
static struct lp_point pts[4];

static struct rp_linebuf new_buf(size_t cap)
{
	struct rp_linebuf b = {store, 0, cap, 0};

	cr_assert_leq(cap, sizeof(store));
	return b;
}

/* Encodes one point into an empty buffer; returns its text, or NULL when rc != 0. */
static const char *point(int *rc, const char *m, const struct rp_tag *tags, size_t ntags,
			 const struct rp_field *fields, size_t nfields, uint64_t ts, size_t max)
{
	struct rp_linebuf b = new_buf(sizeof(store));

	*rc = rp_line_point(&b, m, tags, ntags, fields, nfields, ts, max);
	if (*rc)
		return NULL;
	cr_assert_eq(b.points, 1);
	memcpy(text, b.data, b.len);
	text[b.len] = '\0';
	return text;
}

static const char *ok_point(const char *m, const struct rp_tag *tags, size_t ntags,
			    const struct rp_field *fields, size_t nfields, uint64_t ts, size_t max)
{
	int rc;
	const char *t = point(&rc, m, tags, ntags, fields, nfields, ts, max);

	cr_assert_eq(rc, 0, "rp_line_point: %d", rc);
	return t;
}

static const char *ping_text(const struct rp_probe_result *r)
{
	struct rp_linebuf b = new_buf(sizeof(store));

	cr_assert_eq(rp_line_ping(&b, r, NULL), 0);
	cr_assert_eq(b.points, 1);
	cr_assert_leq(b.len, RP_LINE_PING_MAX);
	memcpy(text, b.data, b.len);
	text[b.len] = '\0';
	return text;
}

/* Parses `t` with both parsers; each must see exactly `want` points. Returns the v1 points
 * in pts[0..] and checks the v2 ones against them. */
static void parse_both(const char *t, size_t len, int want)
{
	static struct lp_point v2[4];
	struct lp_arena a1 = {arena_mem, 0, sizeof(arena_mem) / 2};
	struct lp_arena a2 = {arena_mem + sizeof(arena_mem) / 2, 0, sizeof(arena_mem) / 2};
	int n1 = lp_parse_v1(t, len, pts, 4, &a1);
	int n2 = lp_parse_v2(t, len, v2, 4, &a2);

	cr_assert_eq(n1, want, "1.x parser: %d points in [%.*s]", n1, (int)len, t);
	cr_assert_eq(n2, want, "v2 parser: %d points in [%.*s]", n2, (int)len, t);
	for (int i = 0; i < want; i++) {
		const struct lp_point *p = &pts[i], *q = &v2[i];

		cr_assert(lp_str_eq(p->name, q->name.p, q->name.n));
		cr_assert_eq(p->ntags, q->ntags);
		for (size_t k = 0; k < p->ntags; k++) {
			cr_assert(lp_str_eq(p->tag_key[k], q->tag_key[k].p, q->tag_key[k].n));
			cr_assert(lp_str_eq(p->tag_val[k], q->tag_val[k].p, q->tag_val[k].n));
		}
		cr_assert_eq(p->nfields, q->nfields);
		for (size_t k = 0; k < p->nfields; k++) {
			const struct lp_field *f = &p->field[k], *g = &q->field[k];

			cr_assert(lp_str_eq(f->key, g->key.p, g->key.n));
			cr_assert_eq(f->type, g->type);
			cr_assert_eq(f->i, g->i);
			cr_assert_eq(f->b, g->b);
			cr_assert(memcmp(&f->f, &g->f, sizeof(f->f)) == 0);
			if (f->type == LP_STRING)
				cr_assert(lp_str_eq(f->s, g->s.p, g->s.n));
		}
		cr_assert_eq(p->has_time, q->has_time);
		cr_assert_eq(p->time, q->time);
	}
}

static bool same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* ---- ping ---------------------------------------------------------------------------------- */

Test(line, ping_success_exact)
{
	struct rp_probe_result r = {.sent_ns = 1732550400123456789ull,
				    .addr = rp_ip_v4(0x7f000001),
				    .rtt_ns = 42000,
				    .success = 1};

	cr_assert_str_eq(ping_text(&r),
			 "ping,ip=127.0.0.1 rtt_ms=0.042,success=true,suspended=false "
			 "1732550400123456789\n");
	r.suspended = 1;
	cr_assert_str_eq(ping_text(&r),
			 "ping,ip=127.0.0.1 rtt_ms=0.042,success=true,suspended=true "
			 "1732550400123456789\n");
}

Test(line, ping_failure_has_no_rtt)
{
	struct rp_probe_result r = {
	    .sent_ns = 1, .addr = rp_ip_v4(0xc0000203), .rtt_ns = 777, .success = 0};

	cr_assert_str_eq(ping_text(&r), "ping,ip=192.0.2.3 success=false,suspended=false 1\n");
	r.suspended = 7;
	cr_assert_str_eq(ping_text(&r), "ping,ip=192.0.2.3 success=false,suspended=true 1\n");
	r.sent_ns = 0;
	cr_assert_str_eq(ping_text(&r), "ping,ip=192.0.2.3 success=false,suspended=true 0\n");
}

/* A failure an ICMP error caused says which, and only then (the netscan point is
 * unchanged otherwise); the longest such line is RP_LINE_PING_MAX. */
Test(line, ping_failure_by_icmp_error_has_error_field)
{
	struct rp_probe_result r = {.sent_ns = 1,
				    .addr = rp_ip_v4(0xc0000203),
				    .success = 0,
				    .error = RP_ERR_HOST,
				    .icmp_type = 3,
				    .icmp_code = 1};
	char want[200];

	cr_assert_str_eq(
	    ping_text(&r),
	    "ping,ip=192.0.2.3 error=\"unreachable:host\",success=false,suspended=false 1\n");
	r.error = RP_ERR_TIME_EXCEEDED;
	r.suspended = 1;
	cr_assert_str_eq(
	    ping_text(&r),
	    "ping,ip=192.0.2.3 error=\"time_exceeded\",success=false,suspended=true 1\n");
	parse_both(text, strlen(text), 1);
	r.error = RP_ERR_COUNT; /* unknown: written as a plain failure */
	cr_assert_str_eq(ping_text(&r), "ping,ip=192.0.2.3 success=false,suspended=true 1\n");
	r.error = RP_ERR_HOST;
	r.success = 1; /* never on a success */
	r.rtt_ns = 1000000;
	cr_assert_str_eq(ping_text(&r),
			 "ping,ip=192.0.2.3 rtt_ms=1,success=true,suspended=true 1\n");
	r = (struct rp_probe_result){.sent_ns = (uint64_t)INT64_MAX - 1,
				     .error = RP_ERR_FRAGMENTATION};
	memset(r.addr.b, 0xff, 16);
	r.addr.b[0] = 0x7f;
	snprintf(
	    want, sizeof(want),
	    "ping,ip=7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff error=\"unreachable:fragmentation\","
	    "success=false,suspended=false 9223372036854775806\n");
	cr_assert_str_eq(ping_text(&r), want);
	cr_assert_eq(strlen(want), RP_LINE_PING_MAX, "RP_LINE_PING_MAX is the exact maximum");
	for (unsigned e = RP_ERR_NET; e < RP_ERR_COUNT; e++)
		cr_assert_leq(strlen(rp_icmp_err_name(e)), strlen("unreachable:fragmentation"));
}

Test(line, ping_rtt_ms_trims_trailing_zeros)
{
	static const struct {
		uint64_t ns;
		const char *ms;
	} cases[] = {
	    {0, "0"},
	    {1, "0.000001"},
	    {10, "0.00001"},
	    {999, "0.000999"},
	    {1000, "0.001"},
	    {42000, "0.042"},
	    {100000, "0.1"},
	    {999999, "0.999999"},
	    {1000000, "1"},
	    {1000001, "1.000001"},
	    {12500000, "12.5"},
	    {250000000, "250"},
	    {1234567890, "1234.56789"},
	};
	char want[128];

	for (size_t i = 0; i < RP_ARRAY_SIZE(cases); i++) {
		struct rp_probe_result r = {
		    .sent_ns = 5, .addr = rp_ip_v4(1), .rtt_ns = cases[i].ns, .success = 1};

		snprintf(want, sizeof(want),
			 "ping,ip=0.0.0.1 rtt_ms=%s,success=true,suspended=false 5\n", cases[i].ms);
		cr_assert_str_eq(ping_text(&r), want);
	}
}

/* Whatever width rtt_ns has, the text is exact: integer ms, then the remainder's digits. */
Test(line, ping_largest_rtt_and_time_fit_ping_max)
{
	struct rp_probe_result r = {
	    .sent_ns = (uint64_t)INT64_MAX - 1, .addr = rp_ip_v4(0xffffffff), .success = 1};
	uint64_t ns;
	char want[160], frac[16];
	size_t n;

	r.rtt_ns = ~r.rtt_ns; /* all ones, in the field's own width */
	ns = r.rtt_ns;
	snprintf(frac, sizeof(frac), "%06" PRIu64, ns % 1000000);
	for (n = strlen(frac); n && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	snprintf(want, sizeof(want),
		 "ping,ip=255.255.255.255 rtt_ms=%" PRIu64 "%s%s,success=true,suspended=false "
		 "9223372036854775806\n",
		 ns / 1000000, n ? "." : "", frac);
	cr_assert_str_eq(ping_text(&r), want);
	cr_assert_eq(strlen(want), RP_LINE_PING_REPLY_MAX - 24, "the longest IPv4 line");
	/* The longest IPv6 text: 8 groups of 4 digits. */
	memset(r.addr.b, 0xff, 16);
	r.addr.b[0] = 0x7f; /* not mapped IPv4 either way; keeps 4 digits */
	snprintf(want, sizeof(want),
		 "ping,ip=7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff rtt_ms=%" PRIu64
		 "%s%s,success=true,suspended=false 9223372036854775806\n",
		 ns / 1000000, n ? "." : "", frac);
	cr_assert_str_eq(ping_text(&r), want);
	if (sizeof(r.rtt_ns) == 8)
		cr_assert_eq(strlen(want), RP_LINE_PING_REPLY_MAX,
			     "RP_LINE_PING_REPLY_MAX is the exact maximum of a reply's line");
}

/* A device's tags (its name, static tags) come pre-escaped by rp_line_tags and go after
 * ip as they are; the longest fits, a longer one or one not starting with ',' is refused,
 * and a buffer without room for the tagged line is left as it was. */
Test(line, ping_with_a_device_tag_string)
{
	struct rp_probe_result r = {.sent_ns = 9, .rtt_ns = 2500000, .success = 1};
	static char tags[RP_LINE_TAGS_MAX + 2], want[RP_LINE_TAGS_MAX + 256];
	const struct rp_tag kv[] = {{"name", "dev5.example.net"}, {"rack", "r 1,=x"}, {"e", ""}};
	struct rp_linebuf b = new_buf(sizeof(store));

	cr_assert_eq(rp_line_tags(tags, sizeof(tags), kv, 3), 37, "%s", tags);
	cr_assert_str_eq(tags, ",name=dev5.example.net,rack=r\\ 1\\,\\=x");
	cr_assert_eq(rp_line_tags(tags, 10, kv, 3), 0, "does not fit");
	cr_assert_eq(rp_line_tags(tags, sizeof(tags), kv, 3), 37, "%s", tags);
	cr_assert(rp_ip_parse("2001:2::5", &r.addr));
	cr_assert_eq(rp_line_ping(&b, &r, tags), 0);
	b.data[b.len] = '\0';
	cr_assert_str_eq(b.data, "ping,ip=2001:2::5,name=dev5.example.net,rack=r\\ 1\\,\\=x "
				 "rtt_ms=2.5,success=true,suspended=false 9\n");
	parse_both(b.data, b.len, 1);
	cr_assert(lp_str_eq(pts[0].tag_key[1], "name", 4));
	cr_assert(lp_str_eq(pts[0].tag_key[2], "rack", 4));
	memset(tags, 'a', RP_LINE_TAGS_MAX);
	memcpy(tags, ",k=", 3);
	tags[RP_LINE_TAGS_MAX] = '\0';
	b = new_buf(sizeof(store));
	cr_assert_eq(rp_line_ping(&b, &r, tags), 0);
	snprintf(want, sizeof(want),
		 "ping,ip=2001:2::5%s rtt_ms=2.5,success=true,suspended=false 9\n", tags);
	b.data[b.len] = '\0';
	cr_assert_str_eq(b.data, want);
	tags[RP_LINE_TAGS_MAX] = 'a';
	tags[RP_LINE_TAGS_MAX + 1] = '\0';
	cr_assert_eq(rp_line_ping(&b, &r, tags), -EINVAL, "too long");
	cr_assert_eq(rp_line_ping(&b, &r, ""), -EINVAL, "empty");
	cr_assert_eq(rp_line_ping(&b, &r, "name=x"), -EINVAL, "not a tag string");
	for (size_t cap = 1; cap < strlen(want); cap += 7) {
		struct rp_linebuf small = new_buf(cap);

		tags[RP_LINE_TAGS_MAX] = '\0';
		cr_assert_eq(rp_line_ping(&small, &r, tags), -ENOSPC, "cap %zu", cap);
		cr_assert_eq(small.len, 0);
		cr_assert_eq(small.points, 0);
	}
}

/* IPv6 addresses go out in RFC 5952 form, the same as inet_ntop's for these (of two
 * equally long runs of zeros, the first is the one cut). */
Test(line, ping_ipv6_addresses_are_rfc5952)
{
	static const char *const in[] = {"2001:2::1", "2001:0DB8:0:0:1:0:0:1", "::1",
					 "2001:db8:0:0:abcd:0:0:7", "2001:2:0:ffff::"};
	static const char *const out[] = {"2001:2::1", "2001:db8::1:0:0:1", "::1",
					  "2001:db8::abcd:0:0:7", "2001:2:0:ffff::"};
	char want[160];

	for (size_t i = 0; i < RP_ARRAY_SIZE(in); i++) {
		struct rp_probe_result r = {.sent_ns = 7, .rtt_ns = 1500000, .success = 1};

		cr_assert(rp_ip_parse(in[i], &r.addr));
		snprintf(want, sizeof(want),
			 "ping,ip=%s rtt_ms=1.5,success=true,suspended=false 7\n", out[i]);
		cr_assert_str_eq(ping_text(&r), want);
	}
}

Test(line, ping_addresses_match_inet_ntop)
{
	static const uint32_t fixed[] = {0,	     0xffffffff, 0x0a000001, 0x011791c8,
					 0x64646464, 0x09090909, 0xc0a80001};
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	char want[128], ip[INET_ADDRSTRLEN];

	for (size_t i = 0; i < 20000; i++) {
		uint32_t a = i < RP_ARRAY_SIZE(fixed) ? fixed[i] : (uint32_t)sup_xorshift64(&seed);
		struct in_addr in = {htonl(a)};
		struct rp_probe_result r = {.sent_ns = 3, .addr = rp_ip_v4(a)};

		inet_ntop(AF_INET, &in, ip, sizeof(ip));
		snprintf(want, sizeof(want), "ping,ip=%s success=false,suspended=false 3\n", ip);
		cr_assert_str_eq(ping_text(&r), want);
	}
}

/* Random results read back with both parsers: rtt_ms is bit-for-bit rtt_ns / 1e6. */
Test(line, ping_random_results_read_back_exactly)
{
	uint64_t seed = 42;
	char ip[INET_ADDRSTRLEN];

	for (int i = 0; i < 20000; i++) {
		struct rp_probe_result r = {0};
		const char *t;
		struct in_addr in;
		double want;

		r.sent_ns = sup_xorshift64(&seed) % ((uint64_t)INT64_MAX);
		r.addr = rp_ip_v4((uint32_t)sup_xorshift64(&seed));
		r.rtt_ns = sup_xorshift64(&seed) >> (sup_xorshift64(&seed) % 64);
		r.success = sup_xorshift64(&seed) & 1;
		r.suspended = sup_xorshift64(&seed) & 1;
		t = ping_text(&r);
		parse_both(t, strlen(t), 1);
		in.s_addr = htonl(rp_ip_to_v4(&r.addr));
		inet_ntop(AF_INET, &in, ip, sizeof(ip));
		cr_assert(lp_str_eq(pts[0].name, "ping", 4));
		cr_assert_eq(pts[0].ntags, 1);
		cr_assert(lp_str_eq(pts[0].tag_key[0], "ip", 2));
		cr_assert(lp_str_eq(pts[0].tag_val[0], ip, strlen(ip)));
		cr_assert_eq(pts[0].nfields, r.success ? 3u : 2u);
		if (r.success) {
			uint64_t ns = r.rtt_ns;
			char exact[48];

			cr_assert(lp_str_eq(pts[0].field[0].key, "rtt_ms", 6));
			cr_assert_eq(pts[0].field[0].type, LP_FLOAT);
			/* the text is the exact quotient, so below 2^53 ns (104 days), where
			 * (double)rtt_ns is exact, it reads back as the divided double */
			want = (double)ns / 1e6;
			if (ns <= (1ull << 53))
				cr_assert(same_bits(pts[0].field[0].f, want), "%s", t);
			snprintf(exact, sizeof(exact), "rtt_ms=%" PRIu64 ".%06" PRIu64,
				 ns / 1000000, ns % 1000000);
			for (size_t n = strlen(exact); exact[n - 1] == '0';)
				exact[--n] = '\0';
			if (exact[strlen(exact) - 1] == '.')
				exact[strlen(exact) - 1] = '\0';
			cr_assert(strstr(t, exact) && strstr(t, exact)[strlen(exact)] == ',', "%s",
				  t);
		}
		cr_assert(lp_str_eq(pts[0].field[r.success].key, "success", 7));
		cr_assert_eq(pts[0].field[r.success].b, r.success != 0);
		cr_assert(lp_str_eq(pts[0].field[r.success + 1].key, "suspended", 9));
		cr_assert_eq(pts[0].field[r.success + 1].b, r.suspended != 0);
		cr_assert_eq((uint64_t)pts[0].time, r.sent_ns);
	}
}

/* Every capacity short of the line fails without touching a byte; the exact size fits. */
Test(line, ping_enospc_leaves_buffer_byte_identical)
{
	static char snap[512];
	struct rp_probe_result r = {.sent_ns = 1732550400123456789ull,
				    .addr = rp_ip_v4(0xc0a80a0b),
				    .rtt_ns = 1234567,
				    .success = 1};
	size_t need = strlen(ping_text(&r));

	for (size_t prefix = 0; prefix < 3; prefix++) {
		for (size_t cap = prefix; cap < prefix + need; cap++) {
			struct rp_linebuf b = {store, prefix, cap, 7};

			memset(store, 0xa5, sizeof(snap));
			memcpy(snap, store, sizeof(snap));
			cr_assert_eq(rp_line_ping(&b, &r, NULL), -ENOSPC, "cap %zu", cap);
			cr_assert_eq(b.len, prefix);
			cr_assert_eq(b.points, 7);
			cr_assert_eq(b.cap, cap);
			cr_assert(memcmp(store, snap, sizeof(snap)) == 0, "cap %zu", cap);
		}
		struct rp_linebuf b = {store, prefix, prefix + need, 0};

		memset(store, 'x', prefix);
		cr_assert_eq(rp_line_ping(&b, &r, NULL), 0);
		cr_assert_eq(b.len, prefix + need);
		cr_assert_eq(b.points, 1);
		cr_assert(memcmp(store + prefix, "ping,ip=192.168.10.11 rtt_ms=1.234567,", 38) ==
			  0);
	}
}

Test(line, ping_rejects_time_beyond_int64)
{
	struct rp_probe_result r = {.sent_ns = (uint64_t)INT64_MAX, .addr = rp_ip_v4(1)};
	struct rp_linebuf b = new_buf(4096);

	cr_assert_eq(rp_line_ping(&b, &r, NULL), -EINVAL);
	r.sent_ns = UINT64_MAX;
	cr_assert_eq(rp_line_ping(&b, &r, NULL), -EINVAL);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.points, 0);
}

Test(line, ping_appends_many_lines)
{
	struct rp_linebuf b = new_buf(1 << 16);
	struct rp_probe_result r = {
	    .sent_ns = 10, .addr = rp_ip_v4(0x01020304), .rtt_ns = 5, .success = 1};
	size_t n = 0;

	while (rp_line_ping(&b, &r, NULL) == 0) {
		n++;
		r.sent_ns++;
	}
	cr_assert_eq(b.points, n);
	cr_assert_gt(n, 1000);
	cr_assert_gt(b.len + RP_LINE_PING_MAX, b.cap, "stopped only when the next could not fit");
	/* Every line reads back on its own, with its own time. */
	int64_t want_time = 10;

	for (size_t i = 0, start = 0; i < b.len; i++) {
		if (store[i] != '\n')
			continue;
		parse_both(store + start, i + 1 - start, 1);
		cr_assert_eq(pts[0].time, want_time++);
		start = i + 1;
	}
	cr_assert_eq(want_time, (int64_t)(10 + n));
}

/* ---- escaping ---------------------------------------------------------------------------- */

struct esc_case {
	const char *in;
	const char *out;
};

Test(line, escapes_measurement)
{
	static const struct esc_case cases[] = {
	    {"a b", "a\\ b"},	    {"a,b", "a\\,b"},	  {"a=b", "a=b"},
	    {"a\"b", "a\"b"},	    {" lead", "\\ lead"}, {",lead", "\\,lead"},
	    {"trail ", "trail\\ "}, {"x\\y", "x\\y"},	  {"é", "é"},
	};
	struct rp_field f = {.key = "v", .type = RP_FIELD_INT, .v.i = 1};
	char want[64];

	for (size_t i = 0; i < RP_ARRAY_SIZE(cases); i++) {
		snprintf(want, sizeof(want), "%s v=1i 9\n", cases[i].out);
		cr_assert_str_eq(ok_point(cases[i].in, NULL, 0, &f, 1, 9, 64), want, "%s",
				 cases[i].in);
	}
}

static const struct esc_case key_cases[] = {
    {"a b", "a\\ b"},	  {"a,b", "a\\,b"},	{"a=b", "a\\=b"},   {"a\"b", "a\"b"},
    {"=", "\\="},	  {" ,=", "\\ \\,\\="}, {"x\\y", "x\\y"},   {"\\\\y", "\\\\y"},
    {"x\\ y", "x\\ y"},	  {"x\\,y", "x\\,y"},	{"x\\=y", "x\\=y"}, {"x\\\"y", "x\"y"},
    {"x\\\\,y", "x\\,y"}, {"k\\", "k"},		{"k\\\\\\", "k"},   {"ü=ö", "ü\\=ö"},
};

Test(line, escapes_tag_key)
{
	struct rp_field f = {.key = "v", .type = RP_FIELD_BOOL, .v.b = true};
	char want[64];

	for (size_t i = 0; i < RP_ARRAY_SIZE(key_cases); i++) {
		struct rp_tag t = {key_cases[i].in, "v"};

		snprintf(want, sizeof(want), "m,%s=v v=true 9\n", key_cases[i].out);
		cr_assert_str_eq(ok_point("m", &t, 1, &f, 1, 9, 64), want, "%s", key_cases[i].in);
	}
}

Test(line, escapes_tag_value)
{
	struct rp_field f = {.key = "v", .type = RP_FIELD_BOOL, .v.b = false};
	char want[64];

	for (size_t i = 0; i < RP_ARRAY_SIZE(key_cases); i++) {
		struct rp_tag t = {"k", key_cases[i].in};

		snprintf(want, sizeof(want), "m,k=%s v=false 9\n", key_cases[i].out);
		cr_assert_str_eq(ok_point("m", &t, 1, &f, 1, 9, 64), want, "%s", key_cases[i].in);
	}
}

Test(line, escapes_field_key)
{
	char want[64];

	for (size_t i = 0; i < RP_ARRAY_SIZE(key_cases); i++) {
		struct rp_field f = {.key = key_cases[i].in, .type = RP_FIELD_INT, .v.i = -3};

		snprintf(want, sizeof(want), "m %s=-3i 9\n", key_cases[i].out);
		cr_assert_str_eq(ok_point("m", NULL, 0, &f, 1, 9, 64), want, "%s", key_cases[i].in);
	}
}

Test(line, escapes_string_field)
{
	static const struct esc_case cases[] = {
	    {"", "\"\""},
	    {"plain", "\"plain\""},
	    {"say \"hi\"", "\"say \\\"hi\\\"\""},
	    {"C:\\new\\", "\"C:\\\\new\\\\\""},
	    {"\\\"", "\"\\\\\\\"\""},
	    {"a,b=c d", "\"a,b=c d\""},
	    {"\"", "\"\\\"\""},
	    {"\\", "\"\\\\\""},
	};
	char want[64];

	for (size_t i = 0; i < RP_ARRAY_SIZE(cases); i++) {
		struct rp_field f = {.key = "s", .type = RP_FIELD_STRING, .v.s = cases[i].in};

		snprintf(want, sizeof(want), "m s=%s 9\n", cases[i].out);
		cr_assert_str_eq(ok_point("m", NULL, 0, &f, 1, 9, 64), want, "%s", cases[i].in);
	}
}

/* The same special characters everywhere at once still read back as one point. */
Test(line, every_special_in_every_position_reads_back)
{
	const char *nasty = "a b,c=d\"e\\f\ng\rh\ti\\";
	struct rp_tag t[2] = {{nasty, nasty}, {"k2", "x"}};
	struct rp_field f[2] = {{.key = nasty, .type = RP_FIELD_STRING, .v.s = nasty},
				{.key = "n", .type = RP_FIELD_FLOAT, .v.f = -0.5}};
	char key[64], str[64];
	size_t kn = lp_expect(nasty, strlen(nasty), SIZE_MAX, true, key);
	size_t sn = lp_expect(nasty, strlen(nasty), SIZE_MAX, false, str);
	const char *out = ok_point(nasty, t, 2, f, 2, 1, 256);

	cr_assert_str_eq(out,
			 "a\\ b\\,c=d\"e\\fghi,a\\ b\\,c\\=d\"e\\fghi=a\\ b\\,c\\=d\"e\\fghi,k2=x "
			 "a\\ b\\,c\\=d\"e\\fghi=\"a b,c=d\\\"e\\\\fghi\\\\\",n=-0.5 1\n");
	parse_both(out, strlen(out), 1);
	cr_assert(lp_str_eq(pts[0].name, key, kn));
	cr_assert(lp_str_eq(pts[0].tag_key[0], key, kn));
	cr_assert(lp_str_eq(pts[0].tag_val[0], key, kn));
	cr_assert(lp_str_eq(pts[0].field[0].key, key, kn));
	cr_assert(lp_str_eq(pts[0].field[0].s, str, sn));
}

/* ---- cleaning ------------------------------------------------------------------------------ */

static const char *tag_value_of(const char *v, size_t max)
{
	struct rp_tag t = {"k", v};
	struct rp_field f = {.key = "v", .type = RP_FIELD_INT, .v.i = 0};
	static char got[BIG_STRING * 3];
	const char *out = ok_point("m", &t, 1, &f, 1, 0, max);

	if (strncmp(out, "m,k=", 4) != 0)
		return NULL; /* tag dropped */
	snprintf(got, sizeof(got), "%.*s", (int)(strstr(out, " v=0i") - out - 4), out + 4);
	return got;
}

static const char *string_field_of(const char *v, size_t max)
{
	struct rp_field f = {.key = "s", .type = RP_FIELD_STRING, .v.s = v};
	static char got[BIG_STRING * 3];
	const char *out = ok_point("m", NULL, 0, &f, 1, 0, max);
	size_t n = strlen(out);

	cr_assert(strncmp(out, "m s=\"", 5) == 0);
	cr_assert(strcmp(out + n - 4, "\" 0\n") == 0);
	snprintf(got, sizeof(got), "%.*s", (int)(n - 9), out + 5);
	return got;
}

Test(line, removes_control_characters)
{
	char all[40];
	size_t n = 0;

	for (int c = 1; c < 0x20; c++)
		all[n++] = (char)c;
	all[n++] = 0x7f;
	all[n] = '\0';
	cr_assert_str_eq(tag_value_of("a\nb\rc\td\x01"
				      "e\x1f"
				      "f\x7fg",
				      64),
			 "abcdefg");
	cr_assert_str_eq(string_field_of("line1\nline2\r\n\"x\"\x1b[31m", 64),
			 "line1line2\\\"x\\\"[31m");
	cr_assert_null(tag_value_of(all, 64), "only controls: tag dropped");
	cr_assert_str_eq(string_field_of(all, 64), "");
	cr_assert_str_eq(ok_point("m\n", NULL, 0,
				  &(struct rp_field){.key = "f\r\n", .type = RP_FIELD_BOOL}, 1, 0,
				  8),
			 "m f=false 0\n");
	/* C1 controls are well-formed characters, not ASCII controls: kept. */
	cr_assert_str_eq(tag_value_of("\xc2\x85", 64), "\xc2\x85");
}

#define FFFD "\xef\xbf\xbd"

static const struct esc_case utf8_cases[] = {
    /* well-formed, kept */
    {"\xc3\xa9", "\xc3\xa9"},
    {"\xe2\x82\xac", "\xe2\x82\xac"},
    {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    {"\xed\x9f\xbf", "\xed\x9f\xbf"},	      /* U+D7FF */
    {"\xee\x80\x80", "\xee\x80\x80"},	      /* U+E000 */
    {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"}, /* U+10FFFF */
    {"\xef\xbf\xbd", FFFD},		      /* U+FFFD itself */
    /* overlongs */
    {"\xc0\xaf", FFFD FFFD},
    {"\xc1\xbf", FFFD FFFD},
    {"\xe0\x80\xaf", FFFD FFFD FFFD},
    {"\xe0\x9f\xbf", FFFD FFFD FFFD},
    {"\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD},
    {"\xf0\x8f\xbf\xbf", FFFD FFFD FFFD FFFD},
    /* surrogates */
    {"\xed\xa0\x80", FFFD FFFD FFFD},
    {"\xed\xbf\xbf", FFFD FFFD FFFD},
    /* above U+10FFFF */
    {"\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD},
    {"\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD},
    {"\xf7\xbf\xbf\xbf", FFFD FFFD FFFD FFFD},
    {"\xfe", FFFD},
    {"\xff", FFFD},
    /* lone continuation bytes */
    {"\x80", FFFD},
    {"a\xbf"
     "b",
     "a" FFFD "b"},
    /* truncated sequences: one U+FFFD per maximal subpart */
    {"\xc3", FFFD},
    {"\xe2\x82", FFFD},
    {"\xf0\x9f\x98", FFFD},
    {"\xe2\x82"
     "z",
     FFFD "z"},
    {"\xf0\x9f\x98"
     "\xc3\xa9",
     FFFD "\xc3\xa9"},
    {"\xe2"
     "\xe2\x82\xac",
     FFFD "\xe2\x82\xac"},
    {"\xf0\x9f"
     "\n"
     "\x98\x80",
     FFFD FFFD FFFD},
};

Test(line, replaces_each_invalid_utf8_class)
{
	for (size_t i = 0; i < RP_ARRAY_SIZE(utf8_cases); i++) {
		char ref[64];
		size_t n =
		    lp_expect(utf8_cases[i].in, strlen(utf8_cases[i].in), SIZE_MAX, true, ref);

		cr_assert_str_eq(tag_value_of(utf8_cases[i].in, 64), utf8_cases[i].out, "case %zu",
				 i);
		cr_assert_str_eq(string_field_of(utf8_cases[i].in, 64), utf8_cases[i].out,
				 "case %zu", i);
		cr_assert(n == strlen(utf8_cases[i].out) && !memcmp(ref, utf8_cases[i].out, n),
			  "reference cleaner, case %zu", i);
	}
}

/* Cutting at every max_string never leaves part of a character, and stops at the last
 * character that fits (U+FFFD counts 3 bytes). */
Test(line, truncation_never_splits_utf8)
{
	const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
			"b\xff"
			"c";
	/* character boundaries of the cleaned text: a é € 😀 b U+FFFD c */
	static const size_t bounds[] = {0, 1, 3, 6, 10, 11, 14, 15};
	char clean[64];
	size_t full = lp_expect(s, strlen(s), SIZE_MAX, false, clean);

	cr_assert_eq(full, 15);
	for (size_t max = 0; max <= 20; max++) {
		size_t want = 0;

		for (size_t k = 0; k < RP_ARRAY_SIZE(bounds); k++)
			if (bounds[k] <= max)
				want = bounds[k];
		const char *got = string_field_of(s, max);

		cr_assert_eq(strlen(got), want, "max %zu", max);
		cr_assert(memcmp(got, clean, want) == 0);
		cr_assert(lp_utf8_valid(got, strlen(got)));
		if (want) {
			got = tag_value_of(s, max);
			cr_assert_eq(strlen(got), want, "max %zu", max);
			cr_assert(memcmp(got, clean, want) == 0);
		} else {
			cr_assert_null(tag_value_of(s, max));
		}
	}
}

/* The cap counts cleaned bytes, before escaping: escapes do not eat into it. */
Test(line, cap_counts_cleaned_bytes_not_escapes)
{
	cr_assert_str_eq(tag_value_of("a,b,c,d", 5), "a\\,b\\,c");
	cr_assert_str_eq(string_field_of("\"\"\"\"\"\"", 4), "\\\"\\\"\\\"\\\"");
	cr_assert_str_eq(tag_value_of("\x01\x02xyz", 2), "xy");
}

Test(line, nul_ends_a_c_string_and_sanitize_removes_it)
{
	static const char raw[] = "ab\0cd\0\xc3\xa9";
	char out[16];

	cr_assert_str_eq(tag_value_of(raw, 64), "ab");
	cr_assert_str_eq(string_field_of(raw, 64), "ab");
	cr_assert_eq(rp_line_sanitize(out, sizeof(out), raw, sizeof(raw) - 1, 64), 6);
	cr_assert_str_eq(out, "abcd\xc3\xa9");
	cr_assert_eq(rp_line_sanitize(out, sizeof(out), raw, sizeof(raw) - 1, 5), 4);
	cr_assert_str_eq(out, "abcd");
	cr_assert_eq(rp_line_sanitize(out, 6, raw, sizeof(raw) - 1, 64), 4, "dst size caps too");
	cr_assert_str_eq(out, "abcd");
	cr_assert_eq(rp_line_sanitize(out, 1, raw, sizeof(raw) - 1, 64), 0);
	cr_assert_str_eq(out, "");
	cr_assert_eq(rp_line_sanitize(out, sizeof(out), NULL, 0, 64), 0);
	cr_assert_eq(rp_line_sanitize(out, 0, raw, 3, 64), 0);
	/* Cleaning is idempotent, so the encoder sees the same text again. */
	cr_assert_eq(rp_line_sanitize(out, sizeof(out), "x\xff\\y", 4, 64), 6);
	cr_assert_str_eq(tag_value_of(out, 64), "x" FFFD "\\y");
}

Test(line, caps_a_10k_value)
{
	static char big[BIG_STRING + 1];

	memset(big, 'x', BIG_STRING);
	big[BIG_STRING] = '\0';
	cr_assert_eq(strlen(tag_value_of(big, 256)), 256);
	cr_assert_eq(strlen(string_field_of(big, 256)), 256);
	cr_assert_eq(strlen(string_field_of(big, BIG_STRING * 2)), BIG_STRING);
	memset(big, ',', BIG_STRING);
	cr_assert_eq(strlen(tag_value_of(big, 100)), 200, "100 commas, each escaped");
	memset(big, 0xff, BIG_STRING);
	cr_assert_eq(strlen(tag_value_of(big, 100)), 99, "33 U+FFFD");
}

Test(line, drops_a_tag_whose_value_ends_up_empty)
{
	struct rp_tag t[5] = {
	    {"a", ""}, {"b", NULL}, {"c", "\x01\x02\n"}, {"d", "\\\\"}, {"e", "ok"}};
	struct rp_field f = {.key = "v", .type = RP_FIELD_INT, .v.i = 1};

	cr_assert_str_eq(ok_point("m", t, 5, &f, 1, 2, 64), "m,e=ok v=1i 2\n");
	cr_assert_str_eq(ok_point("m", t, 4, &f, 1, 2, 64), "m v=1i 2\n");
	cr_assert_str_eq(ok_point("m", t, 1, &f, 1, 2, 0), "m v=1i 2\n");
	/* max_string 0 empties every capped string but leaves keys alone. */
	cr_assert_str_eq(ok_point("m", t + 4, 1, &f, 1, 2, 0), "m v=1i 2\n");
	struct rp_field s = {.key = "s", .type = RP_FIELD_STRING, .v.s = "abc"};
	cr_assert_str_eq(ok_point("m", NULL, 0, &s, 1, 2, 0), "m s=\"\" 2\n");
}

/* InfluxDB 1.x treats any byte after a backslash as escaped while scanning the key, so
 * `k=abc\ v=1` would swallow the separator: a backslash before a separator is dropped. */
Test(line, trailing_backslash_never_escapes_a_separator)
{
	static const char *bad = "m,k=abc\\ v=1i 2\n";
	struct lp_arena a = {arena_mem, 0, sizeof(arena_mem)};

	cr_assert_eq(lp_parse_v1(bad, strlen(bad), pts, 4, &a), -1, "what dropping prevents");
	cr_assert_str_eq(tag_value_of("abc\\", 64), "abc");
	cr_assert_str_eq(tag_value_of("abc\\\\\\\\", 64), "abc");
	cr_assert_str_eq(tag_value_of("a\\b", 64), "a\\b");
	cr_assert_str_eq(tag_value_of("\\b", 64), "\\b");
	cr_assert_null(tag_value_of("\\", 64));
	cr_assert_str_eq(tag_value_of("ab\\c", 3), "ab", "backslash left last by the cap");
	cr_assert_str_eq(ok_point("m\\", NULL, 0,
				  &(struct rp_field){.key = "f\\", .type = RP_FIELD_BOOL}, 1, 0, 8),
			 "m f=false 0\n");
	cr_assert_str_eq(string_field_of("x\\", 64), "x\\\\", "strings escape it instead");
}

/* ---- -ENOSPC and -EINVAL ------------------------------------------------------------------ */

Test(line, enospc_leaves_buffer_byte_identical)
{
	static char snap[4096];
	struct rp_tag t[2] = {{"ip", "192.0.2.1"}, {"dropped", ""}};
	struct rp_field f[6] = {
	    {.key = "hostname", .type = RP_FIELD_STRING, .v.s = "core\xff-sw,1"},
	    {.key = "snmp_description", .type = RP_FIELD_STRING, .v.s = "Cisco \"IOS\"\n"},
	    {.key = "x", .type = RP_FIELD_FLOAT, .v.f = 0.1},
	    {.key = "i", .type = RP_FIELD_INT, .v.i = INT64_MIN},
	    {.key = "u", .type = RP_FIELD_UINT, .v.u = 7},
	    {.key = "b", .type = RP_FIELD_BOOL, .v.b = true},
	};
	size_t need = strlen(ok_point("device_info", t, 2, f, 6, 1, 64));

	for (size_t prefix = 0; prefix < 3; prefix++) {
		for (size_t cap = prefix; cap < prefix + need; cap++) {
			struct rp_linebuf b = {store, prefix, cap, 3};

			memset(store, 0x5a, sizeof(snap));
			memcpy(snap, store, sizeof(snap));
			cr_assert_eq(rp_line_point(&b, "device_info", t, 2, f, 6, 1, 64), -ENOSPC);
			cr_assert_eq(b.len, prefix);
			cr_assert_eq(b.points, 3);
			cr_assert(memcmp(store, snap, sizeof(snap)) == 0, "cap %zu", cap);
		}
		struct rp_linebuf b = {store, prefix, prefix + need, 3};

		cr_assert_eq(rp_line_point(&b, "device_info", t, 2, f, 6, 1, 64), 0);
		cr_assert_eq(b.len, prefix + need);
		cr_assert_eq(b.points, 4);
	}
}

static void assert_einval(const char *m, const struct rp_tag *t, size_t nt,
			  const struct rp_field *f, size_t nf, uint64_t ts)
{
	struct rp_linebuf b = {store, 5, sizeof(store), 1};

	cr_assert_eq(rp_line_point(&b, m, t, nt, f, nf, ts, 64), -EINVAL);
	cr_assert_eq(b.len, 5);
	cr_assert_eq(b.points, 1);
	/* and when it would not fit either, -EINVAL or -ENOSPC, never success */
	b.cap = 8;
	int rc = rp_line_point(&b, m, t, nt, f, nf, ts, 64);
	cr_assert(rc == -EINVAL || rc == -ENOSPC);
}

Test(line, rejects_nan_and_infinity)
{
	const double bad[] = {NAN, -NAN, INFINITY, -INFINITY};

	for (size_t i = 0; i < RP_ARRAY_SIZE(bad); i++) {
		struct rp_field f[2] = {{.key = "ok", .type = RP_FIELD_INT},
					{.key = "x", .type = RP_FIELD_FLOAT, .v.f = bad[i]}};

		assert_einval("m", NULL, 0, f, 2, 1);
	}
}

Test(line, rejects_zero_fields_and_null_arguments)
{
	struct rp_field f = {.key = "v", .type = RP_FIELD_BOOL};
	struct rp_tag nokey = {NULL, "v"};
	struct rp_field nullkey = {.key = NULL, .type = RP_FIELD_BOOL};
	struct rp_field nullstr = {.key = "s", .type = RP_FIELD_STRING, .v.s = NULL};
	struct rp_field badtype = {.key = "s", .type = (enum rp_field_type)99};
	struct rp_linebuf b = new_buf(64);

	assert_einval("m", NULL, 0, &f, 0, 1);
	assert_einval("m", NULL, 0, NULL, 1, 1);
	assert_einval(NULL, NULL, 0, &f, 1, 1);
	assert_einval("m", NULL, 1, &f, 1, 1);
	assert_einval("m", &nokey, 1, &f, 1, 1);
	assert_einval("m", NULL, 0, &nullkey, 1, 1);
	assert_einval("m", NULL, 0, &nullstr, 1, 1);
	assert_einval("m", NULL, 0, &badtype, 1, 1);
	cr_assert_eq(rp_line_point(NULL, "m", NULL, 0, &f, 1, 1, 64), -EINVAL);
	cr_assert_eq(b.len, 0);
}

Test(line, rejects_uint_beyond_int64)
{
	struct rp_field f = {.key = "u", .type = RP_FIELD_UINT, .v.u = (uint64_t)INT64_MAX + 1};

	assert_einval("m", NULL, 0, &f, 1, 1);
	f.v.u = UINT64_MAX;
	assert_einval("m", NULL, 0, &f, 1, 1);
	f.v.u = (uint64_t)INT64_MAX;
	cr_assert_str_eq(ok_point("m", NULL, 0, &f, 1, 1, 8), "m u=9223372036854775807i 1\n");
}

Test(line, rejects_empty_or_comment_measurement_and_empty_keys)
{
	struct rp_field f = {.key = "v", .type = RP_FIELD_BOOL};
	struct rp_tag t = {"\x01", "v"};
	struct rp_tag dropped = {"", ""};
	struct rp_field ek = {.key = "\n\\", .type = RP_FIELD_BOOL};

	assert_einval("", NULL, 0, &f, 1, 1);
	assert_einval("\r\n\x7f", NULL, 0, &f, 1, 1);
	assert_einval("\\", NULL, 0, &f, 1, 1);
	assert_einval("#m", NULL, 0, &f, 1, 1);
	assert_einval("\n#m", NULL, 0, &f, 1, 1);
	assert_einval("m", &t, 1, &f, 1, 1);
	assert_einval("m", NULL, 0, &ek, 1, 1);
	cr_assert_str_eq(ok_point("m#", &dropped, 1, &f, 1, 1, 8), "m# v=false 1\n",
			 "a dropped tag's key is not checked");
	cr_assert_str_eq(ok_point("\\#", NULL, 0, &f, 1, 1, 8), "\\# v=false 1\n");
}

Test(line, rejects_duplicate_tag_keys)
{
	struct rp_field f = {.key = "v", .type = RP_FIELD_BOOL};
	struct rp_tag same[2] = {{"k", "1"}, {"k", "2"}};
	struct rp_tag cleaned_same[3] = {{"a", "1"}, {"k\x01", "2"}, {"k\\", "3"}};
	struct rp_tag one_dropped[2] = {{"k", ""}, {"k", "2"}};

	assert_einval("m", same, 2, &f, 1, 1);
	assert_einval("m", cleaned_same, 3, &f, 1, 1);
	cr_assert_str_eq(ok_point("m", one_dropped, 2, &f, 1, 1, 8), "m,k=2 v=false 1\n");
}

Test(line, rejects_time_beyond_int64_and_too_many_tags)
{
	struct rp_field f = {.key = "v", .type = RP_FIELD_BOOL};
	static struct rp_tag many[RP_LINE_MAX_TAGS + 1];
	static char keys[RP_LINE_MAX_TAGS + 1][8];

	assert_einval("m", NULL, 0, &f, 1, (uint64_t)INT64_MAX);
	cr_assert_str_eq(ok_point("m", NULL, 0, &f, 1, (uint64_t)INT64_MAX - 1, 8),
			 "m v=false 9223372036854775806\n");
	for (int i = 0; i <= RP_LINE_MAX_TAGS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		many[i].key = keys[i];
		many[i].value = "v";
	}
	assert_einval("m", many, RP_LINE_MAX_TAGS + 1, &f, 1, 1);
	int rc;
	cr_assert_not_null(point(&rc, "m", many, RP_LINE_MAX_TAGS, &f, 1, 1, 8));
	parse_both(text, strlen(text), 1);
	cr_assert_eq(pts[0].ntags, RP_LINE_MAX_TAGS);
}

/* 1.x: escaped measurement and tags, plus 4, plus an escaped field key, at most 65535. */
Test(line, rejects_series_key_over_65535)
{
	static char key[70000];
	struct rp_field f = {.key = "v", .type = RP_FIELD_BOOL};
	struct rp_tag t = {"k", "v"};
	size_t m = 65535 - 4 - 1; /* measurement alone, field key "v" */

	memset(key, 'm', m);
	key[m] = '\0';
	cr_assert_not_null(ok_point(key, NULL, 0, &f, 1, 1, 8));
	parse_both(text, strlen(text), 1);
	key[m] = 'm';
	key[m + 1] = '\0';
	assert_einval(key, NULL, 0, &f, 1, 1);
	key[m - 1] = ' '; /* escaping counts */
	key[m] = '\0';
	assert_einval(key, NULL, 0, &f, 1, 1);
	memset(key, 'm', m);
	key[m - 4] = '\0'; /* ",k=v" */
	cr_assert_not_null(ok_point(key, &t, 1, &f, 1, 1, 8));
	parse_both(text, strlen(text), 1);
	key[m - 4] = 'm';
	key[m - 3] = '\0';
	assert_einval(key, &t, 1, &f, 1, 1);
}

/* ---- numbers ----------------------------------------------------------------------------- */

static const char *one_field(struct rp_field f)
{
	const char *out;

	f.key = "x";
	out = ok_point("m", NULL, 0, &f, 1, 0, 8);
	cr_assert(strncmp(out, "m x=", 4) == 0);
	static char v[64];
	snprintf(v, sizeof(v), "%.*s", (int)(strlen(out) - 7), out + 4);
	return v;
}

Test(line, formats_integers)
{
	static const struct {
		int64_t v;
		const char *s;
	} cases[] = {
	    {0, "0i"},
	    {1, "1i"},
	    {-1, "-1i"},
	    {9, "9i"},
	    {10, "10i"},
	    {-10, "-10i"},
	    {99, "99i"},
	    {100, "100i"},
	    {123456789, "123456789i"},
	    {INT64_MAX, "9223372036854775807i"},
	    {INT64_MIN, "-9223372036854775808i"},
	    {INT64_MIN + 1, "-9223372036854775807i"},
	};
	char want[32];

	for (size_t i = 0; i < RP_ARRAY_SIZE(cases); i++)
		cr_assert_str_eq(
		    one_field((struct rp_field){.type = RP_FIELD_INT, .v.i = cases[i].v}),
		    cases[i].s);
	/* every power of ten and its neighbours, against printf */
	for (uint64_t p = 1; p <= (uint64_t)INT64_MAX / 10; p *= 10)
		for (int64_t d = -1; d <= 1; d++) {
			int64_t v = (int64_t)p * 10 + d;

			snprintf(want, sizeof(want), "%" PRId64 "i", v);
			cr_assert_str_eq(
			    one_field((struct rp_field){.type = RP_FIELD_INT, .v.i = v}), want);
			cr_assert_str_eq(
			    one_field((struct rp_field){.type = RP_FIELD_UINT, .v.u = (uint64_t)v}),
			    want);
		}
}

Test(line, formats_booleans)
{
	cr_assert_str_eq(one_field((struct rp_field){.type = RP_FIELD_BOOL, .v.b = true}), "true");
	cr_assert_str_eq(one_field((struct rp_field){.type = RP_FIELD_BOOL, .v.b = false}),
			 "false");
}

Test(line, formats_floats_shortest)
{
	static const struct {
		double v;
		const char *s;
	} cases[] = {
	    {0.0, "0"},
	    {-0.0, "-0"},
	    {1.0, "1"},
	    {-2.5, "-2.5"},
	    {0.1, "0.1"},
	    {0.3, "0.3"},
	    {0.1 + 0.2, "0.30000000000000004"},
	    {1.0 / 3, "0.3333333333333333"},
	    {123.456, "123.456"},
	    {0.042, "0.042"},
	    {1e-6, "0.000001"},
	    {1.5e-6, "0.0000015"},
	    {1e-7, "1e-7"},
	    {1.25e-7, "1.25e-7"},
	    {1e20, "100000000000000000000"},
	    {1e21, "1e21"},
	    {123456789012345680000.0, "123456789012345680000"},
	    {DBL_MAX, "1.7976931348623157e308"},
	    {-DBL_MAX, "-1.7976931348623157e308"},
	    {DBL_MIN, "2.2250738585072014e-308"},
	    {5e-324, "5e-324"},
	    {-5e-324, "-5e-324"},
	    {1e-310, "1e-310"},
	    {9007199254740993.0, "9007199254740992"},
	    {4.35, "4.35"},
	    {2.0e15, "2000000000000000"},
	};

	for (size_t i = 0; i < RP_ARRAY_SIZE(cases); i++)
		cr_assert_str_eq(
		    one_field((struct rp_field){.type = RP_FIELD_FLOAT, .v.f = cases[i].v}),
		    cases[i].s, "case %zu", i);
}

/* Random bit patterns and decimal-looking values: the text strtod reads back (and both
 * parsers read back) is the same double, bit for bit, in at most 17 significant digits. */
Test(line, floats_round_trip_bit_exact)
{
	uint64_t seed = 7;
	size_t checked = 0;

	for (int i = 0; i < 200000; i++) {
		uint64_t bits = sup_xorshift64(&seed);
		double v;
		char *end;
		const char *s;
		size_t digits = 0;

		if (i % 3 == 1)
			bits &= 0x800fffffffffffffull; /* subnormals */
		memcpy(&v, &bits, sizeof(v));
		if (i % 3 == 2)
			v = (double)(int64_t)(bits % 2000001) / 1000.0 - 1000.0;
		if (!isfinite(v))
			continue;
		s = one_field((struct rp_field){.type = RP_FIELD_FLOAT, .v.f = v});
		cr_assert(same_bits(strtod(s, &end), v), "%s", s);
		cr_assert_eq(*end, '\0');
		for (const char *p = s; *p && *p != 'e'; p++)
			digits += *p >= '0' && *p <= '9';
		cr_assert_leq(digits, 25);
		if (i % 50 == 0) {
			const char *line = ok_point(
			    "m", NULL, 0,
			    &(struct rp_field){.key = "f", .type = RP_FIELD_FLOAT, .v.f = v}, 1, 0,
			    8);
			parse_both(line, strlen(line), 1);
			cr_assert(same_bits(pts[0].field[0].f, v));
		}
		checked++;
	}
	cr_assert_gt(checked, 190000);
}

/* The integer path for whole millionths (RTTs in ms, durations in s) prints what the
 * printf/strtod path prints, for the values it takes and the ones it hands over. */
Test(line, float_fast_path_matches_slow_path)
{
	uint64_t seed = 11;
	size_t fast = 0;

	for (int i = 0; i < 400000; i++) {
		uint64_t r = sup_xorshift64(&seed);
		double v;
		char want[40];
		size_t n;
		const char *got;

		switch (i % 5) {
		case 0: /* an RTT: up to 100 s in ns, as ms */
			v = (double)(r % 100000000000ull) / 1e6;
			break;
		case 1: /* a duration: ms as s, up to 10^9 s */
			v = (double)(int64_t)(r % 1000000000000ull) / 1e3;
			break;
		case 2: /* millionths of any size, either sign, across the 1e9 edge */
			v = (double)((int64_t)(r % 4000000000000000ull) - 2000000000000000ll) / 1e6;
			break;
		case 3: /* a percentage: 100 * lost / sent */
			v = 100.0 * (double)(r % 1000) / (double)(1 + (r >> 20) % 1000);
			break;
		default: /* any bit pattern */
			memcpy(&v, &r, sizeof(v));
			if (!isfinite(v))
				continue;
			break;
		}
		n = rp_line__fmt_double_slow(want, v);
		want[n] = '\0';
		got = one_field((struct rp_field){.type = RP_FIELD_FLOAT, .v.f = v});
		cr_assert_str_eq(got, want, "v=%.17g", v);
		fast += fabs(v) < 1e9 && (double)llrint(v * 1e6) / 1e6 == v;
	}
	/* Most of the first three kinds take the integer path. */
	cr_assert_gt(fast, 200000);
	for (int64_t k = -2000; k <= 2000; k++) {
		double v = (double)k / 1e6;
		char want[40];
		size_t n = rp_line__fmt_double_slow(want, v);

		want[n] = '\0';
		cr_assert_str_eq(one_field((struct rp_field){.type = RP_FIELD_FLOAT, .v.f = v}),
				 want, "k=%lld", (long long)k);
	}
}

/* A locale with a decimal comma must not put a `,` into a field value. */
Test(line, float_format_ignores_locale)
{
	static const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "ru_RU.UTF-8"};
	bool set = false;

	for (size_t i = 0; i < RP_ARRAY_SIZE(names) && !set; i++)
		set = setlocale(LC_NUMERIC, names[i]) != NULL;
	if (!set)
		cr_skip_test("no decimal-comma locale installed");
	cr_assert_str_eq(one_field((struct rp_field){.type = RP_FIELD_FLOAT, .v.f = 1.5}), "1.5");
	cr_assert_str_eq(one_field((struct rp_field){.type = RP_FIELD_FLOAT, .v.f = 0.1 + 0.2}),
			 "0.30000000000000004");
	setlocale(LC_NUMERIC, "C"); /* lets glibc free the locale name (LeakSanitizer) */
}

/* ---- reading back ------------------------------------------------------------------------ */

Test(line, appends_points_after_existing_ones)
{
	struct rp_linebuf b = new_buf(4096);
	struct rp_field f = {.key = "v", .type = RP_FIELD_STRING, .v.s = "x\ny"};
	struct rp_tag t = {"host", "h 1"};
	struct rp_probe_result r = {
	    .sent_ns = 9, .addr = rp_ip_v4(0x01020304), .rtt_ns = 10, .success = 1};

	cr_assert_eq(rp_line_point(&b, "a", &t, 1, &f, 1, 1, 64), 0);
	cr_assert_eq(rp_line_ping(&b, &r, NULL), 0);
	cr_assert_eq(rp_line_point(&b, "c", NULL, 0, &f, 1, 3, 64), 0);
	cr_assert_eq(b.points, 3);
	parse_both(store, b.len, 3);
	cr_assert(lp_str_eq(pts[0].tag_val[0], "h 1", 3));
	cr_assert(lp_str_eq(pts[0].field[0].s, "xy", 2));
	cr_assert(lp_str_eq(pts[1].name, "ping", 4));
	cr_assert(lp_str_eq(pts[2].name, "c", 1));
	cr_assert_eq(pts[2].time, 3);
	rp_line_reset(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.points, 0);
}

/* A random token: bytes 0..255 with a bias to the ones that matter (separators, quotes,
 * backslashes, controls, UTF-8 leads and continuations). A 0 ends it early, as in C. */
static size_t random_token(uint64_t *seed, char *out, size_t maxlen)
{
	static const char interesting[] = ",= \"\\\n\r\t#\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
					  "\xed\xa0\x80\xc0\xff\x80\xbf";
	size_t n = sup_xorshift64(seed) % (maxlen + 1);

	for (size_t i = 0; i < n; i++) {
		uint64_t r = sup_xorshift64(seed);

		if (r % 3 == 0)
			out[i] = interesting[(r >> 8) % (sizeof(interesting) - 1)];
		else if (r % 3 == 1)
			out[i] = (char)('a' + (r >> 8) % 26);
		else
			out[i] = (char)(r >> 8);
	}
	out[n] = '\0';
	return n;
}

/* Property: whatever bytes go into every position, the output is one line that both parsers
 * read back as exactly the cleaned inputs, or the call fails with the error the cleaned
 * inputs call for. */
Test(line, random_bytes_in_every_position_read_back)
{
	enum { ITER = 20000, NT = 3, NF = 4, TOK = 24 };
	static char tok[1 + 2 * NT + 2 * NF][TOK + 1];
	static char want[1 + 2 * NT + 2 * NF][3 * TOK + 1];
	size_t wn[1 + 2 * NT + 2 * NF];
	uint64_t seed = 0x1234567;
	size_t ok = 0, einval = 0;

	for (int it = 0; it < ITER; it++) {
		struct rp_tag t[NT];
		struct rp_field f[NF];
		size_t max = sup_xorshift64(&seed) % 20;
		size_t nt = sup_xorshift64(&seed) % (NT + 1), nf = 1 + sup_xorshift64(&seed) % NF;
		uint64_t ts = sup_xorshift64(&seed) >> 1;
		bool expect_ok = true;
		int rc;

		for (size_t i = 0; i < RP_ARRAY_SIZE(tok); i++) {
			bool capped = i > 0 && i % 2 == 0;
			bool is_string_value = i > 2 * NT && i % 2 == 0;

			random_token(&seed, tok[i], i == 0 || i % 2 ? 6 : TOK);
			wn[i] = lp_expect(tok[i], strlen(tok[i]), capped ? max : SIZE_MAX,
					  !is_string_value, want[i]);
		}
		if (ts > (uint64_t)INT64_MAX - 1)
			ts = 0;
		for (size_t i = 0; i < nt; i++)
			t[i] = (struct rp_tag){tok[1 + 2 * i], tok[2 + 2 * i]};
		for (size_t i = 0; i < nf; i++) {
			uint64_t r = sup_xorshift64(&seed);

			f[i].key = tok[1 + 2 * NT + 2 * i];
			f[i].type = (enum rp_field_type)(r % 5);
			f[i].v.u = sup_xorshift64(&seed);
			if (f[i].type == RP_FIELD_STRING)
				f[i].v.s = tok[2 + 2 * NT + 2 * i];
			if (f[i].type == RP_FIELD_BOOL)
				f[i].v.b = r & 8;
			if (f[i].type == RP_FIELD_UINT)
				f[i].v.u >>= 1;
			if (f[i].type == RP_FIELD_FLOAT && !isfinite(f[i].v.f))
				f[i].v.f = 1.5;
		}
		/* What the cleaned inputs call for. */
		if (wn[0] == 0 || want[0][0] == '#')
			expect_ok = false;
		for (size_t i = 0; i < nt; i++) {
			if (wn[2 + 2 * i] == 0)
				continue;
			if (wn[1 + 2 * i] == 0)
				expect_ok = false;
			for (size_t j = 0; j < i; j++)
				if (wn[2 + 2 * j] && wn[1 + 2 * j] == wn[1 + 2 * i] &&
				    !memcmp(want[1 + 2 * j], want[1 + 2 * i], wn[1 + 2 * i]))
					expect_ok = false;
		}
		for (size_t i = 0; i < nf; i++)
			if (wn[1 + 2 * NT + 2 * i] == 0)
				expect_ok = false;

		point(&rc, tok[0], t, nt, f, nf, ts, max);
		if (!expect_ok) {
			cr_assert_eq(rc, -EINVAL, "iteration %d", it);
			einval++;
			continue;
		}
		cr_assert_eq(rc, 0, "iteration %d", it);
		cr_assert_eq(strchr(text, '\n'), text + strlen(text) - 1, "one line");
		parse_both(text, strlen(text), 1);

		const struct lp_point *p = &pts[0];
		size_t k = 0;

		cr_assert(lp_str_eq(p->name, want[0], wn[0]), "iteration %d: %s", it, text);
		for (size_t i = 0; i < nt; i++) {
			if (wn[2 + 2 * i] == 0)
				continue;
			cr_assert(k < p->ntags);
			cr_assert(lp_str_eq(p->tag_key[k], want[1 + 2 * i], wn[1 + 2 * i]));
			cr_assert(lp_str_eq(p->tag_val[k], want[2 + 2 * i], wn[2 + 2 * i]),
				  "iteration %d: %s", it, text);
			k++;
		}
		cr_assert_eq(p->ntags, k);
		cr_assert_eq(p->nfields, nf);
		for (size_t i = 0; i < nf; i++) {
			const struct lp_field *g = &p->field[i];

			cr_assert(
			    lp_str_eq(g->key, want[1 + 2 * NT + 2 * i], wn[1 + 2 * NT + 2 * i]));
			switch (f[i].type) {
			case RP_FIELD_FLOAT:
				cr_assert_eq(g->type, LP_FLOAT);
				cr_assert(same_bits(g->f, f[i].v.f));
				break;
			case RP_FIELD_INT:
				cr_assert_eq(g->type, LP_INT);
				cr_assert_eq(g->i, f[i].v.i);
				break;
			case RP_FIELD_UINT:
				cr_assert_eq(g->type, LP_INT);
				cr_assert_eq((uint64_t)g->i, f[i].v.u);
				break;
			case RP_FIELD_BOOL:
				cr_assert_eq(g->type, LP_BOOL);
				cr_assert_eq(g->b, f[i].v.b);
				break;
			case RP_FIELD_STRING:
				cr_assert_eq(g->type, LP_STRING);
				cr_assert(lp_str_eq(g->s, want[2 + 2 * NT + 2 * i],
						    wn[2 + 2 * NT + 2 * i]),
					  "iteration %d: %s", it, text);
				break;
			}
		}
		cr_assert_eq((uint64_t)p->time, ts);
		ok++;
	}
	cr_assert_gt(ok, ITER / 4);
	cr_assert_gt(einval, 10);
}

/* ---- the parsers themselves -------------------------------------------------------------- */

/* Lines from the InfluxDB line-protocol reference read as the reference says. */
Test(line_parser, reads_reference_examples)
{
	static const char *in = "# comment\n"
				"cpu,host=server\\ 01,region=uswest value=1.0,msg=\"all systems "
				"nominal\" 1434055562000000000\n"
				"\n"
				"\"measurement\\ with\\ quo⚡es\\ and\\ emoji\",tag\\ key\\ with\\ "
				"sp🚀ces=tag\\,value\\,with\"commas\" field_k\\ey=\"string field "
				"value, only \\\" need be esc🍭ped\"\n";

	parse_both(in, strlen(in), 2);
	cr_assert(lp_str_eq(pts[0].name, "cpu", 3));
	cr_assert(lp_str_eq(pts[0].tag_val[0], "server 01", 9));
	cr_assert_eq(pts[0].field[0].f, 1.0);
	cr_assert(lp_str_eq(pts[0].field[1].s, "all systems nominal", 19));
	cr_assert_eq(pts[0].time, 1434055562000000000);
	cr_assert(lp_str_eq(pts[1].name, "\"measurement with quo⚡es and emoji\"",
			    strlen("\"measurement with quo⚡es and emoji\"")));
	cr_assert(
	    lp_str_eq(pts[1].tag_key[0], "tag key with sp🚀ces", strlen("tag key with sp🚀ces")));
	cr_assert(lp_str_eq(pts[1].tag_val[0], "tag,value,with\"commas\"",
			    strlen("tag,value,with\"commas\"")));
	cr_assert(lp_str_eq(pts[1].field[0].key, "field_k\\ey", 10));
	cr_assert(lp_str_eq(pts[1].field[0].s, "string field value, only \" need be esc🍭ped",
			    strlen("string field value, only \" need be esc🍭ped")));
	cr_assert_not(pts[1].has_time);
}

Test(line_parser, rejects_what_influxdb_rejects)
{
	static const struct {
		const char *line;
		int v2; /* points the v2 decoder reads: it allows `u`, duplicate tags, 2^63-1 */
	} bad[] = {
	    {"m,t= f=1 1\n", -1},
	    {"m,t=v\n", -1},
	    {"m f=1,\n", -1},
	    {"m f= 1\n", -1},
	    {"m f=1 1x\n", -1},
	    {"m f=\"x 1\n", -1},
	    {"m,t=a=b f=1 1\n", -1},
	    {",m f=1\n", -1},
	    {"m,=v f=1\n", -1},
	    {"m f=1u 1\n", 1},
	    {"m f=1.5i\n", -1},
	    {"m f=tru\n", -1},
	    {"m,t=a\\ f=1i 2\n", -1},
	    {"m,k=1,k=2 f=1\n", 1},
	    {"m f=1 9223372036854775807\n", 1},
	    {"m f=NaN\n", -1},
	    {"m f=1e999\n", -1},
	    {"m\xff f=1\n", -1},
	    {"m,t=\x01 f=1\n", -1},
	    {"m f=\"\xed\xa0\x80\"\n", -1},
	};
	struct lp_arena a = {arena_mem, 0, sizeof(arena_mem)};

	for (size_t i = 0; i < RP_ARRAY_SIZE(bad); i++) {
		const char *l = bad[i].line;
		bool v2_strict_only = i >= 17; /* 1.x does not check UTF-8 or control bytes */

		a.n = 0;
		if (!v2_strict_only)
			cr_assert_eq(lp_parse_v1(l, strlen(l), pts, 4, &a), -1, "1.x: %s", l);
		a.n = 0;
		cr_assert_eq(lp_parse_v2(l, strlen(l), pts, 4, &a), bad[i].v2, "v2: %s", l);
	}
}

/* The device_state and ping_round points of ICMP errors (src/writer/events.c). */
Test(line, event_points_carry_icmp_errors)
{
	struct rp_event e = {.ts_ns = 5,
			     .addr = rp_ip_v4(0xc0000203),
			     .kind = RP_EVENT_STATE,
			     .u.state = {.state = RP_STATE_DOWN,
					 .previous = RP_STATE_UP,
					 .reason = RP_REASON_UNREACHABLE,
					 .error = RP_ERR_PROHIBITED,
					 .icmp_type = 3,
					 .icmp_code = 13,
					 .duration_ms = 1500}};
	struct rp_linebuf b = new_buf(sizeof(store));

	cr_assert_eq(rp_writer__event_point(&b, &e, NULL), 0);
	b.data[b.len] = '\0';
	cr_assert_str_eq(b.data, "device_state,ip=192.0.2.3 state=\"down\",previous=\"up\","
				 "duration_s=1.5,reason=\"unreachable\",error=\"unreachable:"
				 "prohibited\",icmp_type=3i,icmp_code=13i 5\n");
	/* A timeout carries no error fields, whatever the bytes say. */
	e.u.state.reason = RP_REASON_TIMEOUT;
	b = new_buf(sizeof(store));
	cr_assert_eq(rp_writer__event_point(&b, &e, NULL), 0);
	b.data[b.len] = '\0';
	cr_assert_str_eq(b.data, "device_state,ip=192.0.2.3 state=\"down\",previous=\"up\","
				 "duration_s=1.5,reason=\"timeout\" 5\n");
	e = (struct rp_event){.ts_ns = 5,
			      .addr = rp_ip_v4(0xc0000203),
			      .kind = RP_EVENT_ROUND,
			      .u.round = {.sent = 3, .errors = 2, .error = RP_ERR_TIME_EXCEEDED}};
	b = new_buf(sizeof(store));
	cr_assert_eq(rp_writer__event_point(&b, &e, NULL), 0);
	b.data[b.len] = '\0';
	cr_assert_str_eq(b.data, "ping_round,ip=192.0.2.3 sent=3i,received=0i,loss_pct=100,"
				 "errors=2i,error=\"time_exceeded\",suspended=false 5\n");
}
