// SPDX-License-Identifier: MIT
/*
 * Unit tests for fleetsim's SNMP agent (bench/fleetsim/snmp.c) without a network: requests are
 * encoded and responses decoded with net-snmp's own codec (snmp_pdu_parse), and a fuzz loop feeds
 * random, truncated and mutated messages to fs_snmp_parse / fs_snmp_respond.
 */
#include <criterion/criterion.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../bench/fleetsim/snmp.h"
#include "support/support.h"

#define SYS 1, 3, 6, 1, 2, 1, 1

static const struct fs_snmp_id dev7 = {.addr = 0xc6120007u, .index = 6, .profile = 2};

/* A request encoded with net-snmp's reverse encoder: returns where it starts in a static buffer. */
static const uint8_t *build_req(u_char type, long version, const char *community, long e1, long e2,
				const oid *const *names, const size_t *lens, unsigned n,
				size_t *len)
{
	static u_char buf[1 << 16];
	u_char *pkt = buf;
	size_t cap = sizeof(buf), off = 0;
	long v;

	for (unsigned i = n; i-- > 0;) {
		size_t nl = lens[i];

		cr_assert(snmp_realloc_rbuild_var_op(&pkt, &cap, &off, 0, names[i], &nl, ASN_NULL,
						     NULL, 0));
	}
	cr_assert(
	    asn_realloc_rbuild_sequence(&pkt, &cap, &off, 0, ASN_SEQUENCE | ASN_CONSTRUCTOR, off));
	cr_assert(asn_realloc_rbuild_int(&pkt, &cap, &off, 0, ASN_INTEGER, &e2, sizeof(e2)));
	cr_assert(asn_realloc_rbuild_int(&pkt, &cap, &off, 0, ASN_INTEGER, &e1, sizeof(e1)));
	v = 0x2468ace;
	cr_assert(asn_realloc_rbuild_int(&pkt, &cap, &off, 0, ASN_INTEGER, &v, sizeof(v)));
	cr_assert(asn_realloc_rbuild_header(&pkt, &cap, &off, 0, type, off));
	cr_assert(asn_realloc_rbuild_string(&pkt, &cap, &off, 0, ASN_OCTET_STR,
					    (const u_char *)community, strlen(community)));
	cr_assert(
	    asn_realloc_rbuild_int(&pkt, &cap, &off, 0, ASN_INTEGER, &version, sizeof(version)));
	cr_assert(
	    asn_realloc_rbuild_sequence(&pkt, &cap, &off, 0, ASN_SEQUENCE | ASN_CONSTRUCTOR, off));
	*len = off;
	return buf + sizeof(buf) - off;
}

/* Decodes a response with net-snmp: NULL when it is no well-formed v2c message. */
static netsnmp_pdu *decode(const uint8_t *msg, size_t len, char *community, size_t clen)
{
	u_char *p = (u_char *)(uintptr_t)msg, type;
	size_t n = len;
	long version;
	netsnmp_pdu *pdu;

	p = asn_parse_sequence(p, &n, &type, ASN_SEQUENCE | ASN_CONSTRUCTOR, "msg");
	if (p)
		p = asn_parse_int(p, &n, &type, &version, sizeof(version));
	if (!p || version != SNMP_VERSION_2c)
		return NULL;
	clen--;
	p = asn_parse_string(p, &n, &type, (u_char *)community, &clen);
	if (!p)
		return NULL;
	community[clen] = '\0';
	pdu = calloc(1, sizeof(*pdu));
	cr_assert_not_null(pdu);
	pdu->version = SNMP_VERSION_2c;
	if (snmp_pdu_parse(pdu, p, &n)) {
		snmp_free_pdu(pdu);
		return NULL;
	}
	return pdu;
}

struct answer {
	netsnmp_pdu *pdu;
	size_t len;
	char community[256];
};

/* Parses @req as the agent does and decodes its answer (for device dev7, uptime 4242). */
static void ask(const uint8_t *req, size_t len, struct answer *a)
{
	static uint8_t out[FS_SNMP_MAX_MSG];
	struct fs_snmp_req *rq = fs_snmp_req_new();

	cr_assert_not_null(rq);
	cr_assert_eq(fs_snmp_parse(rq, req, len), FS_SNMP_REQUEST);
	a->len = fs_snmp_respond(rq, &dev7, 4242, out, sizeof(out));
	cr_assert_gt(a->len, 0);
	cr_assert_leq(a->len, FS_SNMP_MAX_MSG);
	a->pdu = decode(out + sizeof(out) - a->len, a->len, a->community, sizeof(a->community));
	cr_assert_not_null(a->pdu, "net-snmp cannot decode the answer");
	cr_assert_eq(a->pdu->command, SNMP_MSG_RESPONSE);
	cr_assert_eq(a->pdu->reqid, 0x2468ace);
	fs_snmp_req_free(rq);
}

static netsnmp_variable_list *nth(netsnmp_pdu *pdu, int i)
{
	netsnmp_variable_list *v = pdu->variables;

	while (v && i-- > 0)
		v = v->next_variable;
	cr_assert_not_null(v, "too few varbinds");
	return v;
}

static int count(netsnmp_pdu *pdu)
{
	int n = 0;

	for (netsnmp_variable_list *v = pdu->variables; v; v = v->next_variable)
		n++;
	return n;
}

static void expect_name(netsnmp_variable_list *v, const oid *name, size_t len)
{
	cr_expect_eq(snmp_oid_compare(v->name, v->name_length, name, len), 0);
}

static void expect_string(netsnmp_variable_list *v, const char *s)
{
	cr_assert_eq(v->type, ASN_OCTET_STR);
	cr_expect_eq(v->val_len, strlen(s));
	cr_expect(!memcmp(v->val.string, s, strlen(s)), "%.*s", (int)v->val_len, v->val.string);
}

static const oid o_descr[] = {SYS, 1, 0}, o_objid[] = {SYS, 2, 0}, o_uptime[] = {SYS, 3, 0},
		 o_contact[] = {SYS, 4, 0}, o_name[] = {SYS, 5, 0}, o_loc[] = {SYS, 6, 0},
		 o_services[] = {SYS, 7, 0}, o_name_noinst[] = {SYS, 5}, o_sys[] = {SYS},
		 o_13[] = {1, 3}, o_2[] = {2, 0};

TestSuite(fleetsim_codec, .init = fs_snmp_init);

Test(fleetsim_codec, get_answers_every_system_object_and_exceptions)
{
	const oid *names[] = {o_descr, o_objid, o_uptime,   o_contact,
			      o_name,  o_loc,	o_services, o_name_noinst};
	const size_t lens[] = {9, 9, 9, 9, 9, 9, 9, 8};
	static const oid juniper[] = {1, 3, 6, 1, 4, 1, 2636, 1, 1, 1, 2, 63};
	char descr[256];
	struct answer a;
	size_t len;
	const uint8_t *req =
	    build_req(SNMP_MSG_GET, SNMP_VERSION_2c, "public", 0, 0, names, lens, 8, &len);

	ask(req, len, &a);
	cr_expect_str_eq(a.community, "public");
	cr_assert_eq(a.pdu->errstat, SNMP_ERR_NOERROR);
	cr_assert_eq(count(a.pdu), 8);
	for (int i = 0; i < 8; i++)
		expect_name(nth(a.pdu, i), names[i], lens[i]);
	fs_snmp_sys_descr(&dev7, descr, sizeof(descr));
	cr_expect(!strncmp(descr, "Juniper Networks", 16), "%s", descr);
	expect_string(nth(a.pdu, 0), descr);
	cr_assert_eq(nth(a.pdu, 1)->type, ASN_OBJECT_ID);
	cr_expect_eq(snmp_oid_compare(nth(a.pdu, 1)->val.objid,
				      nth(a.pdu, 1)->val_len / sizeof(oid), juniper, 12),
		     0);
	cr_assert_eq(nth(a.pdu, 2)->type, ASN_TIMETICKS);
	cr_expect_eq(*nth(a.pdu, 2)->val.integer, 4242);
	expect_string(nth(a.pdu, 3), "noc@fleetsim.example");
	expect_string(nth(a.pdu, 4), "sim-198-18-0-7");
	expect_string(nth(a.pdu, 5), "fleetsim DC1, row A, rack 07");
	cr_expect_eq(nth(a.pdu, 6)->type, SNMP_NOSUCHOBJECT);
	cr_expect_eq(nth(a.pdu, 7)->type, SNMP_NOSUCHINSTANCE);
	snmp_free_pdu(a.pdu);
}

Test(fleetsim_codec, getnext_goes_in_order_and_ends_in_end_of_mib_view)
{
	const oid *names[] = {o_13, o_sys, o_name_noinst, o_uptime, o_loc, o_2};
	const size_t lens[] = {2, 7, 8, 9, 9, 2};
	const oid *want[] = {o_descr, o_descr, o_name, o_contact};
	struct answer a;
	size_t len;
	const uint8_t *req =
	    build_req(SNMP_MSG_GETNEXT, SNMP_VERSION_2c, "public", 0, 0, names, lens, 6, &len);

	ask(req, len, &a);
	cr_assert_eq(count(a.pdu), 6);
	for (int i = 0; i < 4; i++)
		expect_name(nth(a.pdu, i), want[i], 9);
	/* past the end: the requested name with endOfMibView */
	expect_name(nth(a.pdu, 4), o_loc, 9);
	cr_expect_eq(nth(a.pdu, 4)->type, SNMP_ENDOFMIBVIEW);
	expect_name(nth(a.pdu, 5), o_2, 2);
	cr_expect_eq(nth(a.pdu, 5)->type, SNMP_ENDOFMIBVIEW);
	snmp_free_pdu(a.pdu);
}

Test(fleetsim_codec, getbulk_repeats_until_every_repeater_ends)
{
	const oid *names[] = {o_contact, o_sys, o_name};
	const size_t lens[] = {9, 7, 9};
	const oid *rep0[] = {o_descr, o_objid, o_uptime, o_contact, o_name, o_loc};
	struct answer a;
	size_t len;
	const uint8_t *req =
	    build_req(SNMP_MSG_GETBULK, SNMP_VERSION_2c, "public", 1, 100, names, lens, 3, &len);

	ask(req, len, &a);
	/* 1 non-repeater, then pairs until both repeaters are at endOfMibView: 7 repetitions */
	cr_assert_eq(count(a.pdu), 1 + 2 * 7);
	expect_name(nth(a.pdu, 0), o_name, 9);
	for (int r = 0; r < 7; r++) {
		netsnmp_variable_list *x = nth(a.pdu, 1 + 2 * r), *y = nth(a.pdu, 2 + 2 * r);

		if (r < 6)
			expect_name(x, rep0[r], 9);
		else
			cr_expect_eq(x->type, SNMP_ENDOFMIBVIEW);
		if (r == 0)
			expect_name(y, o_loc, 9);
		else
			cr_expect_eq(y->type, SNMP_ENDOFMIBVIEW);
	}
	snmp_free_pdu(a.pdu);
}

Test(fleetsim_codec, too_big_gets_toobig_and_getbulk_is_cut_short)
{
	const oid *names[80];
	size_t lens[80], len;
	struct answer a;
	const uint8_t *req;

	for (int i = 0; i < 80; i++) {
		names[i] = o_descr;
		lens[i] = 9;
	}
	/* 20 sysDescr of ~150 bytes exceed 1472 */
	req = build_req(SNMP_MSG_GET, SNMP_VERSION_2c, "public", 0, 0, names, lens, 20, &len);
	ask(req, len, &a);
	cr_expect_eq(a.pdu->errstat, SNMP_ERR_TOOBIG);
	cr_expect_eq(a.pdu->errindex, 0);
	cr_expect_eq(count(a.pdu), 0);
	snmp_free_pdu(a.pdu);
	/* more varbinds than the agent keeps */
	req = build_req(SNMP_MSG_GETNEXT, SNMP_VERSION_2c, "public", 0, 0, names, lens, 80, &len);
	ask(req, len, &a);
	cr_expect_eq(a.pdu->errstat, SNMP_ERR_TOOBIG);
	snmp_free_pdu(a.pdu);
	/* GetBulk answers what fits */
	for (int i = 0; i < 30; i++)
		names[i] = o_sys, lens[i] = 7;
	req = build_req(SNMP_MSG_GETBULK, SNMP_VERSION_2c, "public", 0, 10, names, lens, 30, &len);
	ask(req, len, &a);
	cr_expect_eq(a.pdu->errstat, SNMP_ERR_NOERROR);
	cr_expect_gt(count(a.pdu), 5);
	cr_expect_lt(count(a.pdu), 30 * 7);
	cr_expect_leq(a.len, FS_SNMP_MAX_MSG);
	cr_expect_gt(a.len, FS_SNMP_MAX_MSG - 200, "GetBulk answer of %zu bytes", a.len);
	snmp_free_pdu(a.pdu);
}

Test(fleetsim_codec, community_and_unsupported_messages)
{
	const oid *names[] = {o_name};
	const size_t lens[] = {9};
	struct fs_snmp_req *rq = fs_snmp_req_new();
	const uint8_t *req;
	size_t len;
	uint8_t out[64];

	req = build_req(SNMP_MSG_GET, SNMP_VERSION_2c, "public", 0, 0, names, lens, 1, &len);
	cr_assert_eq(fs_snmp_parse(rq, req, len), FS_SNMP_REQUEST);
	cr_expect(fs_snmp_community_ok(rq, "public"));
	cr_expect(!fs_snmp_community_ok(rq, "publi"));
	cr_expect(!fs_snmp_community_ok(rq, "public2"));
	cr_expect(!fs_snmp_community_ok(rq, ""));
	/* no room even for tooBig: nothing, and nothing written outside */
	memset(out, 0xa5, sizeof(out));
	cr_expect_eq(fs_snmp_respond(rq, &dev7, 1, out + 32, 20), 0);
	for (size_t i = 0; i < 32; i++)
		cr_expect_eq(out[i], 0xa5);
	for (size_t i = 52; i < sizeof(out); i++)
		cr_expect_eq(out[i], 0xa5);

	req = build_req(SNMP_MSG_GET, SNMP_VERSION_1, "public", 0, 0, names, lens, 1, &len);
	cr_expect_eq(fs_snmp_parse(rq, req, len), FS_SNMP_UNSUPPORTED);
	req = build_req(SNMP_MSG_GET, SNMP_VERSION_3, "public", 0, 0, names, lens, 1, &len);
	cr_expect_eq(fs_snmp_parse(rq, req, len), FS_SNMP_UNSUPPORTED);
	req = build_req(SNMP_MSG_SET, SNMP_VERSION_2c, "public", 0, 0, names, lens, 1, &len);
	cr_expect_eq(fs_snmp_parse(rq, req, len), FS_SNMP_UNSUPPORTED);
	req = build_req(SNMP_MSG_RESPONSE, SNMP_VERSION_2c, "public", 0, 0, names, lens, 1, &len);
	cr_expect_eq(fs_snmp_parse(rq, req, len), FS_SNMP_UNSUPPORTED);
	cr_expect_eq(fs_snmp_parse(rq, req, 0), FS_SNMP_MALFORMED);
	fs_snmp_req_free(rq);
}

Test(fleetsim_codec, identity_strings)
{
	char s[256];
	struct fs_snmp_id linux_dev = {.addr = 0xc613fffdu, .index = 131067, .profile = 6};

	fs_snmp_sys_name(&dev7, s, sizeof(s));
	cr_expect_str_eq(s, "sim-198-18-0-7");
	fs_snmp_sys_object_id(&dev7, s, sizeof(s));
	cr_expect_str_eq(s, "1.3.6.1.4.1.2636.1.1.1.2.63");
	fs_snmp_sys_descr(&linux_dev, s, sizeof(s));
	cr_expect(!strncmp(s, "Linux sim-198-19-255-253 ", 25), "%s", s);
	for (unsigned p = 0; p < fs_snmp_profiles(); p++) {
		struct fs_snmp_id id = {.addr = 0xc6120001u, .profile = p};

		fs_snmp_sys_descr(&id, s, sizeof(s));
		cr_expect_gt(strlen(s), 10);
		cr_expect_null(strpbrk(s, "\"\\\r\n"), "profile %u: %s", p, s);
		fs_snmp_sys_object_id(&id, s, sizeof(s));
		cr_expect(!strncmp(s, "1.3.6.1.4.1.", 12), "profile %u: %s", p, s);
	}
}

/* ---- fuzz ---- */

Test(fleetsim_codec, fuzzed_messages_never_crash_or_overrun, .timeout = 300)
{
	const oid *names[] = {o_sys, o_name, o_descr, o_13};
	const size_t lens[] = {7, 9, 9, 2};
	struct fs_snmp_req *rq = fs_snmp_req_new();
	static uint8_t seeds[4][128], out[FS_SNMP_MAX_MSG + 64];
	size_t seed_len[4];
	uint64_t s = 0xf1ee751ull;
	unsigned kinds[3] = {0};
	char community[256];

	for (int k = 0; k < 4; k++) {
		static const u_char types[] = {SNMP_MSG_GET, SNMP_MSG_GETNEXT, SNMP_MSG_GETBULK,
					       SNMP_MSG_GETBULK};
		const uint8_t *r = build_req(types[k], SNMP_VERSION_2c, "public", k == 3 ? -5 : 1,
					     k == 3 ? 1L << 40 : 7, names, lens, 4, &seed_len[k]);

		cr_assert_leq(seed_len[k], sizeof(seeds[k]));
		memcpy(seeds[k], r, seed_len[k]);
	}
	for (long it = 0; it < 300000; it++) {
		const uint8_t *base = seeds[it % 4];
		size_t blen = seed_len[it % 4], n;
		uint8_t *msg = malloc(2048); /* exact-size copy below: ASan sees over-reads */
		uint8_t *exact;
		enum fs_snmp_kind kind;

		cr_assert_not_null(msg);
		switch (sup_splitmix64(&s) % 5) {
		case 0:
			n = sup_splitmix64(&s) % 300;
			for (size_t i = 0; i < n; i++)
				msg[i] = (uint8_t)sup_splitmix64(&s);
			break;
		case 1:
			n = sup_splitmix64(&s) % blen;
			memcpy(msg, base, n);
			break;
		case 2:
			n = blen;
			memcpy(msg, base, n);
			for (int k = 1 + (int)(sup_splitmix64(&s) % 6); k > 0; k--)
				msg[sup_splitmix64(&s) % n] = (uint8_t)sup_splitmix64(&s);
			break;
		case 3:
			n = blen;
			memcpy(msg, base, n);
			msg[sup_splitmix64(&s) % n] = (uint8_t[]){
			    0x00, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x88, 0xff}[sup_splitmix64(&s) % 8];
			break;
		default: /* splice two messages */
			n = sup_splitmix64(&s) % blen;
			memcpy(msg, base, n);
			memcpy(msg + n, seeds[sup_splitmix64(&s) % 4], blen);
			n += blen;
			break;
		}
		exact = malloc(n ? n : 1);
		cr_assert_not_null(exact);
		memcpy(exact, msg, n);
		kind = fs_snmp_parse(rq, exact, n);
		cr_assert(kind == FS_SNMP_REQUEST || kind == FS_SNMP_MALFORMED ||
			  kind == FS_SNMP_UNSUPPORTED);
		kinds[-kind]++;
		if (kind == FS_SNMP_REQUEST) {
			size_t r;
			netsnmp_pdu *pdu;

			memset(out, 0xa5, sizeof(out));
			r = fs_snmp_respond(rq, &dev7, (uint32_t)it, out + 32, FS_SNMP_MAX_MSG);
			cr_assert(r > 0 && r <= FS_SNMP_MAX_MSG);
			for (size_t i = 0; i < 32; i++)
				cr_assert_eq(out[i], 0xa5);
			for (size_t i = 32 + FS_SNMP_MAX_MSG; i < sizeof(out); i++)
				cr_assert_eq(out[i], 0xa5);
			pdu =
			    decode(out + 32 + FS_SNMP_MAX_MSG - r, r, community, sizeof(community));
			cr_assert_not_null(pdu, "undecodable answer to iteration %ld", it);
			snmp_free_pdu(pdu);
		}
		free(exact);
		free(msg);
	}
	fs_snmp_req_free(rq);
	cr_log_info("fuzz: %u requests, %u malformed, %u unsupported", kinds[0], kinds[1],
		    kinds[2]);
	cr_expect_gt(kinds[0], 1000);
	cr_expect_gt(kinds[1], 1000);
}
