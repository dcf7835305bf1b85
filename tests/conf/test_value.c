/* Value parsers and formatters. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/conf.h"
#include "ringprobe/diag.h"

static char why[512];

Test(value, durations_parse_like_go_plus_days)
{
	static const struct {
		const char *s;
		int64_t ns;
	} ok[] = {
	    {"0", 0},
	    {"250ms", 250 * RP_NSEC_PER_MSEC},
	    {"30s", 30 * RP_NSEC_PER_SEC},
	    {"5m", 300 * RP_NSEC_PER_SEC},
	    {"4h", 4 * 3600 * RP_NSEC_PER_SEC},
	    {"1h30m", 5400 * RP_NSEC_PER_SEC},
	    {"1.5s", 1500 * RP_NSEC_PER_MSEC},
	    {"100us", 100000},
	    {"100\xc2\xb5s", 100000},
	    {"7ns", 7},
	    {"7d", 7 * 86400 * RP_NSEC_PER_SEC},
	    {"+2s", 2 * RP_NSEC_PER_SEC},
	    {"1m0.5s", 60500 * RP_NSEC_PER_MSEC},
	};
	static const char *const bad[] = {"", "5", "s", "1x", "-1s", "1.s.", "ms", "1h-5m", ".s"};
	int64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_expect_eq(rp_parse_duration(ok[i].s, &v, why, sizeof(why)), 0, "%s: %s", ok[i].s,
			     why);
		cr_expect_eq(v, ok[i].ns, "%s", ok[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(rp_parse_duration(bad[i], &v, why, sizeof(why)), -EINVAL, "%s",
			     bad[i]);
	cr_expect_eq(rp_parse_duration("999999999h", &v, why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "duration \"999999999h\" is too long");
}

Test(value, durations_format_and_read_back)
{
	static const int64_t samples[] = {
	    0, 1, 1500, RP_NSEC_PER_MSEC, 250 * RP_NSEC_PER_MSEC, 1500 * RP_NSEC_PER_MSEC,
	    RP_NSEC_PER_SEC, 90 * RP_NSEC_PER_SEC, 5400 * RP_NSEC_PER_SEC, 86400 * RP_NSEC_PER_SEC,
	    36 * 3600 * RP_NSEC_PER_SEC, 61500 * RP_NSEC_PER_MSEC,
	    /* a minute or more, below the millisecond (fuzz_cli_conf:
	     * --ping-interval 04.444821051m printed as whole ms) */
	    266689263059, 61000001000};
	char buf[64];
	int64_t v;

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		rp_format_duration(samples[i], buf, sizeof(buf));
		cr_expect_eq(rp_parse_duration(buf, &v, why, sizeof(why)), 0, "%s", buf);
		cr_expect_eq(v, samples[i], "%s", buf);
	}
	rp_format_duration(5400 * RP_NSEC_PER_SEC, buf, sizeof(buf));
	cr_expect_str_eq(buf, "1h30m");
	rp_format_duration(250 * RP_NSEC_PER_MSEC, buf, sizeof(buf));
	cr_expect_str_eq(buf, "250ms");
	rp_format_duration(36 * 3600 * RP_NSEC_PER_SEC, buf, sizeof(buf));
	cr_expect_str_eq(buf, "36h");
	rp_format_duration(61000001000, buf, sizeof(buf));
	cr_expect_str_eq(buf, "61000001us");
}

Test(value, integers_floats_bools_sizes)
{
	int64_t i;
	double f;
	bool b;

	cr_expect_eq(rp_parse_int("1_000_000", &i, why, sizeof(why)), 0);
	cr_expect_eq(i, 1000000);
	cr_expect_eq(rp_parse_int("-42", &i, why, sizeof(why)), 0);
	cr_expect_eq(i, -42);
	cr_expect_eq(rp_parse_int("9223372036854775808", &i, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_int("12a", &i, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_int("_1", &i, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_int("", &i, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_float("64.5", &f, why, sizeof(why)), 0);
	cr_expect_float_eq(f, 64.5, 1e-12);
	cr_expect_eq(rp_parse_float("nan", &f, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_float("1e999", &f, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_bool("Yes", &b, why, sizeof(why)), 0);
	cr_expect(b);
	cr_expect_eq(rp_parse_bool("off", &b, why, sizeof(why)), 0);
	cr_expect_not(b);
	cr_expect_eq(rp_parse_bool("1", &b, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_size("512MiB", &i, why, sizeof(why)), 0);
	cr_expect_eq(i, 512LL << 20);
	cr_expect_eq(rp_parse_size("1GB", &i, why, sizeof(why)), 0);
	cr_expect_eq(i, 1000000000);
	cr_expect_eq(rp_parse_size("64k", &i, why, sizeof(why)), 0);
	cr_expect_eq(i, 65536);
	cr_expect_eq(rp_parse_size("4096", &i, why, sizeof(why)), 0);
	cr_expect_eq(i, 4096);
	cr_expect_eq(rp_parse_size("GiB", &i, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_size("99999999999TiB", &i, why, sizeof(why)), -EINVAL);
}

Test(value, addresses_and_networks)
{
	struct rp_cidr c;
	struct rp_shard_sel s;
	uint32_t a;
	bool hb;
	char buf[32];

	cr_expect_eq(rp_parse_ipv4("192.0.2.1", &a, why, sizeof(why)), 0);
	cr_expect_eq(a, 0xc0000201u);
	cr_expect_eq(rp_parse_ipv4("010.0.0.1", &a, why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "invalid IPv4 address \"010.0.0.1\" (leading zeros are ambiguous)");
	cr_expect_eq(rp_parse_ipv4("1.2.3", &a, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_ipv4("1.2.3.4.5", &a, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_ipv4("1.2.3.4 ", &a, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_cidr("192.0.2.3/16", &c, &hb, why, sizeof(why)), 0);
	cr_expect(hb);
	cr_expect_eq(rp_ip_to_v4(&c.net), 0xc0000000u);
	cr_expect_eq(rp_cidr_size(&c), 65536);
	cr_expect_eq(rp_parse_cidr("192.0.2.3", &c, &hb, why, sizeof(why)), 0);
	cr_expect_eq(c.prefix, 32);
	cr_expect_not(hb);
	rp_format_cidr(&c, true, buf, sizeof(buf));
	cr_expect_str_eq(buf, "192.0.2.3");
	rp_format_cidr(&c, false, buf, sizeof(buf));
	cr_expect_str_eq(buf, "192.0.2.3/32");
	cr_expect_eq(rp_parse_cidr("0.0.0.0/0", &c, &hb, why, sizeof(why)), 0);
	cr_expect_eq(rp_cidr_size(&c), 1ull << 32);
	cr_expect_eq(rp_parse_cidr("192.0.2.0/-1", &c, &hb, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_cidr("192.0.2.0/", &c, &hb, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_cidr("192.0.2.0/33", &c, &hb, why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "invalid CIDR \"192.0.2.0/33\": prefix length must be 0..32");
	cr_expect_eq(rp_parse_shard("1/3", &s, why, sizeof(why)), 0);
	cr_expect_eq(s.index, 1);
	cr_expect_eq(s.count, 3);
	cr_expect_not(s.from_host);
	cr_expect_eq(rp_parse_shard("3", &s, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_shard("0/0", &s, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_shard("255/256", &s, why, sizeof(why)), 0);
	cr_expect_eq(rp_parse_shard("0/257", &s, why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "\"0/257\": N must be 1..256");
}

/* IPv6 networks: prefixes 0..128, host bits cleared, RFC 5952 text, sizes saturating. */
Test(value, ipv6_cidrs)
{
	struct rp_cidr c;
	struct rp_ip a;
	bool hb;
	char buf[RP_CIDR_STRLEN];

	cr_assert_eq(rp_parse_cidr("2001:DB8::1:2/112", &c, &hb, why, sizeof(why)), 0, "%s", why);
	cr_expect(hb);
	cr_expect_eq(c.prefix, 112);
	rp_format_cidr(&c, true, buf, sizeof(buf));
	cr_expect_str_eq(buf, "2001:db8::1:0/112");
	cr_expect_eq(rp_cidr_host_bits(&c), 16);
	cr_expect_eq(rp_cidr_size(&c), 65536);
	cr_assert(rp_ip_parse("2001:db8::1:ffff", &a));
	cr_expect(rp_cidr_contains(&c, &a));
	cr_assert(rp_ip_parse("2001:db8::2:0", &a));
	cr_expect_not(rp_cidr_contains(&c, &a));
	a = rp_ip_v4(0x00010000u);
	cr_expect_not(rp_cidr_contains(&c, &a), "another family is never inside");
	cr_assert_eq(rp_parse_cidr("2001:db8::7", &c, &hb, why, sizeof(why)), 0);
	cr_expect_eq(c.prefix, 128);
	cr_expect_not(hb);
	rp_format_cidr(&c, true, buf, sizeof(buf));
	cr_expect_str_eq(buf, "2001:db8::7");
	rp_format_cidr(&c, false, buf, sizeof(buf));
	cr_expect_str_eq(buf, "2001:db8::7/128");
	cr_assert_eq(rp_parse_cidr("2001:db8::/61", &c, &hb, why, sizeof(why)), 0);
	cr_expect_eq(rp_cidr_size(&c), UINT64_MAX, "2^67 saturates");
	cr_assert_eq(rp_parse_cidr("2001:db8:0:1:8000::/65", &c, &hb, why, sizeof(why)), 0);
	cr_expect_eq(rp_cidr_size(&c), 1ull << 63);
	a = rp_cidr_nth(&c, (1ull << 63) - 1);
	cr_expect_str_eq(rp_ip_format(&a, buf), "2001:db8:0:1:ffff:ffff:ffff:ffff");
	cr_expect_eq(rp_parse_cidr("2001:db8::/129", &c, &hb, why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "invalid CIDR \"2001:db8::/129\": prefix length must be 0..128");
	cr_expect_eq(rp_parse_cidr("2001:db8::1%eth0", &c, &hb, why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "invalid address \"2001:db8::1%eth0\": invalid IPv6 address "
			      "\"2001:db8::1%eth0\" (a zone index is not accepted)");
	cr_expect_eq(rp_parse_cidr("2001:db8:::1", &c, &hb, why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "invalid address \"2001:db8:::1\": invalid IPv6 address "
			      "\"2001:db8:::1\"");
	cr_assert_eq(rp_parse_cidr("::ffff:192.0.2.1/120", &c, &hb, why, sizeof(why)), -EINVAL,
		     "a mapped address is IPv4: its prefix is 0..32");
	cr_assert_eq(rp_parse_cidr("::ffff:192.0.2.1/24", &c, &hb, why, sizeof(why)), 0);
	rp_format_cidr(&c, true, buf, sizeof(buf));
	cr_expect_str_eq(buf, "192.0.2.0/24");
}

Test(value, shard_auto_takes_the_ordinal_from_the_host_name)
{
	struct rp_shard_sel s;

	cr_assert_eq(rp_parse_shard("auto/3", &s, why, sizeof(why)), 0);
	cr_expect(s.from_host);
	cr_expect_eq(s.count, 3);
	cr_expect_eq(rp_parse_shard("auto", &s, why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "expected I/N (this instance's index and the number of instances) "
			      "or auto/N, got \"auto\"");
	cr_expect_eq(rp_parse_shard("auto/0", &s, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_shard("auto/x", &s, why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_parse_shard("Auto/3", &s, why, sizeof(why)), -EINVAL);

	rp_parse_shard("auto/4", &s, why, sizeof(why));
	cr_expect_eq(rp_shard_from_host(&s, "ringprobe-3", why, sizeof(why)), 0);
	cr_expect_eq(s.index, 3);
	cr_expect_eq(rp_shard_from_host(&s, "ringprobe-0", why, sizeof(why)), 0);
	cr_expect_eq(s.index, 0);
	/* A dotted name: the first label (hostname -f style). */
	cr_expect_eq(rp_shard_from_host(&s, "probe-2.probes.monitoring.svc", why, sizeof(why)), 0);
	cr_expect_eq(s.index, 2);
	cr_expect_eq(rp_shard_from_host(&s, "my-probe-1", why, sizeof(why)), 0);
	cr_expect_eq(s.index, 1);

	s.index = 0;
	cr_expect_eq(rp_shard_from_host(&s, "ringprobe-4", why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "auto/4: host name \"ringprobe-4\" has ordinal 4, but N = 4 allows "
			      "0..3 (raise N to the number of replicas)");
	cr_expect_eq(rp_shard_from_host(&s, "ringprobe-99999999999999999999999", why, sizeof(why)),
		     -EINVAL);
	cr_expect_eq(rp_shard_from_host(&s, "ringprobe", why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "auto/4: host name \"ringprobe\" does not end in -ORDINAL (as a "
			      "StatefulSet's pods do: ringprobe-0, ringprobe-1, ...); write I/N");
	cr_expect_eq(rp_shard_from_host(&s, "probe3", why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_shard_from_host(&s, "ringprobe-", why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_shard_from_host(&s, "3", why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_shard_from_host(&s, "-3", why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_shard_from_host(&s, "ringprobe-2x", why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_shard_from_host(&s, "", why, sizeof(why)), -EINVAL);
	cr_expect_eq(rp_shard_from_host(&s, "probe-01", why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "auto/4: host name \"probe-01\": ordinal with a leading zero is "
			      "ambiguous (ordinals count from 0 without padding); write I/N");
	cr_expect_eq(s.index, 0, "a rejected name leaves the index alone");
}

Test(value, env_expansion)
{
	char *s;

	setenv("RP_V_A", "alpha", 1);
	setenv("RP_V_EMPTY", "", 1);
	unsetenv("RP_V_UNSET");
	s = rp_expand_env("x${RP_V_A}y${RP_V_UNSET:-d}z", false, why, sizeof(why));
	cr_assert_str_eq(s, "xalphaydz");
	free(s);
	s = rp_expand_env("${RP_V_EMPTY}|${RP_V_EMPTY:-dflt}|$RP_V_A|$${RP_V_A}", false, why,
			  sizeof(why));
	cr_assert_str_eq(s, "|dflt|$RP_V_A|${RP_V_A}");
	free(s);
	cr_assert_null(rp_expand_env("${RP_V_UNSET}", false, why, sizeof(why)));
	cr_assert_null(rp_expand_env("${}", false, why, sizeof(why)));
	cr_assert_null(rp_expand_env("${A-B}", false, why, sizeof(why)));
	cr_assert_null(rp_expand_env("${1A}", false, why, sizeof(why)));
}

Test(value, edit_distance_for_hints)
{
	cr_expect_eq(rp_edit_distance("ping_interval", "ping_interval", 9), 0);
	cr_expect_eq(rp_edit_distance("ping_intervall", "ping_interval", 9), 1);
	cr_expect_eq(rp_edit_distance("comunity", "community", 9), 1);
	cr_expect_eq(rp_edit_distance("abc", "xyz", 9), 3);
	cr_expect_eq(rp_edit_distance("abcdefgh", "zzzzzzzz", 3), 3);
}

/* The plain Levenshtein table, uncapped: what rp_edit_distance's cuts must agree with. */
static size_t levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[24][24];

	for (size_t i = 0; i <= la; i++)
		for (size_t j = 0; j <= lb; j++) {
			size_t v = i == 0   ? j
				   : j == 0 ? i
					    : d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (i > 0 && d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (j > 0 && d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* Every cut (length, bytes one string lacks, a row past the cap) gives min(distance,
 * cap): checked over random pairs from small alphabets, where each cut both fires and
 * does not. */
Test(value, edit_distance_cuts_agree_with_the_full_table)
{
	static const char *const alpha[] = {"ab", "abc-", "ping_", "xyz\xc3\xa9-_"};
	unsigned seed = 12345;
	char a[24], b[24];

	for (int n = 0; n < 20000; n++) {
		const char *al = alpha[n % 4];
		size_t na = strlen(al), la, lb, cap, want;

		seed = seed * 1103515245u + 12345u;
		la = (seed >> 16) % 20;
		seed = seed * 1103515245u + 12345u;
		lb = (seed >> 16) % 20;
		for (size_t i = 0; i < la; i++, seed = seed * 1103515245u + 12345u)
			a[i] = al[(seed >> 16) % na];
		for (size_t i = 0; i < lb; i++, seed = seed * 1103515245u + 12345u)
			b[i] = al[(seed >> 16) % (n % 3 ? na : 2)];
		a[la] = b[lb] = '\0';
		cap = 1 + n % 12;
		want = levenshtein(a, b);
		cr_assert_eq(rp_edit_distance(a, b, cap), want < cap ? want : cap,
			     "\"%s\" \"%s\" cap %zu: want %zu", a, b, cap, want);
	}
}

Test(value, url_redact_strips_user_info)
{
	static const char *const cases[][2] = {
	    {"http://user:pass@127.0.0.1:8086", "http://127.0.0.1:8086"},
	    {"https://u:p@ss@h:1/api?x=a@b#f@g", "https://h:1/api?x=a@b#f@g"},
	    {"http://tok@h/", "http://h/"},
	    {"http://127.0.0.1:8086/write?db=a@b", "http://127.0.0.1:8086/write?db=a@b"},
	    {"u:p@host:8086", "host:8086"},
	    {"", ""},
	};
	char buf[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rp_url_redact(cases[i][0], buf, sizeof(buf));
		cr_expect_str_eq(buf, cases[i][1], "%s", cases[i][0]);
	}
	rp_url_redact(NULL, buf, sizeof(buf));
	cr_expect_str_eq(buf, "");
	rp_url_redact("http://a:b@h", buf, 5);
	cr_expect_str_eq(buf, "http");
}

/* Whether s is well-formed UTF-8 (lengths only: what a cut can break). */
static bool utf8_whole(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 0;

		if (!n)
			return false;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

/* Found by fuzz_cli_conf: a URL cut to the buffer could end in half a character, which
 * a printed configuration cannot hold. Every cut keeps whole characters only: the
 * result is a prefix of the whole redacted URL, at most three bytes short of the cut. */
Test(value, url_redact_cuts_whole_characters)
{
	const char *url = "http://u:p@h/\xc3\xa9x\xe2\x82\xacy\xf0\x9a\x9e\x93z\xf0\x9f\x98\x80";
	const char *whole = "http://h/\xc3\xa9x\xe2\x82\xacy\xf0\x9a\x9e\x93z\xf0\x9f\x98\x80";
	char buf[64];

	for (size_t len = 1; len <= strlen(whole) + 1; len++) {
		size_t got;

		memset(buf, 'Q', sizeof(buf));
		rp_url_redact(url, buf, len);
		got = strlen(buf);
		cr_expect(got < len, "len %zu: %zu bytes", len, got);
		cr_expect(utf8_whole(buf), "len %zu: half a character kept", len);
		cr_expect_eq(memcmp(buf, whole, got), 0, "len %zu: not a prefix", len);
		cr_expect_geq(got + 4, len, "len %zu: %zu bytes, more cut than a character", len,
			      got);
	}
	rp_url_redact(url, buf, sizeof(buf));
	cr_expect_str_eq(buf, whole);
}
