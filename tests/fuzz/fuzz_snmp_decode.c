/* fuzz-sources: src/snmp/decode.c src/writer/line.c src/util/addr.c src/probe/icmp.c
 * src/util/siphash.c */
/* fuzz-pkgs: netsnmp */
/* libFuzzer harness for src/snmp/decode.c: what an agent's bytes can make of a result.
 * The first byte picks a mode:
 *   pdu       the rest as a BER PDU (net-snmp's snmp_pdu_parse, as for a scoped PDU)
 *   message   the rest as a whole SNMP message (snmp_parse with a blank session and no
 *             session list, as net-snmp's own testing/fuzzing/snmp_parse_fuzzer.c)
 *   varbinds  a PDU built from the bytes with net-snmp's API (system-group OIDs, near
 *             misses and others; every type; strings up to 1,100 bytes), decoded as is;
 *             then encoded to BER (snmp_pdu_build), one byte altered or not, parsed back
 *             and decoded again: unaltered, the two results must agree.
 * libnetsnmp is the system's, not instrumented: coverage guides through the harness and
 * decode.c only, so random bytes seldom parse. The varbinds mode reaches decode's cases
 * from nothing; the BER modes start from the seeds in tests/fuzz/corpus/fuzz_snmp_decode/
 * (v1 and v2c responses, a report, exceptions, wrong types, foreign OIDs, hostile and
 * long strings; made by tests/fuzz/corpus/fuzz_snmp_decode.py).
 * Whatever parsed is decoded, and the result must hold: status OK or agent_error as the
 * PDU's command and error status say, addr/tag/time untouched, every string
 * NUL-terminated within its size, no control bytes, valid UTF-8, the object ID dotted
 * decimal and a prefix of the value cut at a sub-identifier, objects and uptime as the
 * varbinds say. Any mismatch calls abort(), which libFuzzer reports with the reproducer.
 * Single-threaded (decode reaches net-snmp's snmp_api_errstring). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/line.h"

/* The private header of src/snmp, by path: checksrc's module rule reads tests/fuzz as a
 * module of its own (fuzz_line.c reaches tests/writer/lp_parse.h the same way). */
#include "snmp/snmp_int.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_snmp_decode: check failed at line %d: %s\n",         \
				__LINE__, #c);                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define ADDR 0xc0000201u
#define TAG 0x5a5a5a5au
#define DONE_NS 0x0123456789abcdefull
#define MAX_VARBINDS 12
#define MAX_STR 1100
#define BER_MAX 65536

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t n;
};

static struct rp_snmp_result r1, r2;
static u_char ber[BER_MAX];
static char full_oid[MAX_OID_LEN * 24 + 1];
static char want[RP_SNMP_DESCR_MAX];

static uint8_t take8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint32_t take32(struct input *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | take8(in);
	return v;
}

/* Which of the six a varbind is, written apart from decode.c's which(). */
static int object_of(const netsnmp_variable_list *v)
{
	if (v->name_length != 9 || !v->name)
		return 0;
	if (v->name[0] != 1 || v->name[1] != 3 || v->name[2] != 6 || v->name[3] != 1 ||
	    v->name[4] != 2 || v->name[5] != 1 || v->name[6] != 1 || v->name[8] != 0)
		return 0;
	return v->name[7] >= 1 && v->name[7] <= 6 ? (int)v->name[7] : 0;
}

static bool is_exception(const netsnmp_variable_list *v)
{
	return v->type == SNMP_NOSUCHOBJECT || v->type == SNMP_NOSUCHINSTANCE ||
	       v->type == SNMP_ENDOFMIBVIEW || v->type == ASN_NULL;
}

/* Valid UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c < 0xc2 || c > 0xf4)
			return false;
		need = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
		lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
		for (unsigned k = 1; k <= need; k++, lo = 0x80, hi = 0xbf)
			if (i + k >= n || s[i + k] < lo || s[i + k] > hi)
				return false;
		i += need + 1;
	}
	return true;
}

/* NUL-terminated within size, no control byte, valid UTF-8. */
static void check_text(const char *s, size_t size)
{
	const char *nul = memchr(s, '\0', size);
	size_t n;

	CHECK(nul != NULL);
	n = (size_t)(nul - s);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
	CHECK(utf8_valid((const unsigned char *)s, n));
}

/* The string decode must have made from v: cleaned OCTET STRING, else empty. */
static const char *want_str(const netsnmp_variable_list *v, size_t size)
{
	want[0] = '\0';
	if (v->type == ASN_OCTET_STR && v->val.string)
		rp_line_sanitize(want, size, (const char *)v->val.string, v->val_len, size - 1);
	return want;
}

/* object_id must be v's value, dotted, cut after the last sub-identifier that fits. */
static void check_object_id(const char *got, const netsnmp_variable_list *v)
{
	size_t n = 0, len = strlen(got), off = 0;

	CHECK(len < RP_SNMP_OID_MAX);
	for (size_t i = 0; i < len; i++)
		CHECK(got[i] == '.' || (got[i] >= '0' && got[i] <= '9'));
	if (!v || v->type != ASN_OBJECT_ID || !v->val.objid) {
		CHECK(len == 0);
		return;
	}
	full_oid[0] = '\0';
	for (size_t i = 0; i < v->val_len / sizeof(oid) && off < sizeof(full_oid) - 24; i++)
		off += (size_t)snprintf(full_oid + off, sizeof(full_oid) - off, ".%lu",
					(unsigned long)v->val.objid[i]);
	n = strlen(full_oid);
	CHECK(len <= n && memcmp(got, full_oid, len) == 0);
	if (len < n) {
		const char *next = strchr(full_oid + len + 1, '.');
		size_t next_end = next ? (size_t)(next - full_oid) : n;

		CHECK(full_oid[len] == '.');
		CHECK(next_end > RP_SNMP_OID_MAX - 1); /* the next one would not have fitted */
	}
}

static void check(const netsnmp_pdu *pdu, const struct rp_snmp_result *r, int status)
{
	const netsnmp_variable_list *last[7] = {NULL};
	const netsnmp_variable_list *ticks = NULL;
	uint16_t objects = 0;
	int want_status = pdu->command == SNMP_MSG_REPORT || pdu->errstat != SNMP_ERR_NOERROR
			      ? RP_SNMP_AGENT_ERROR
			      : RP_SNMP_OK;

	CHECK(status == r->status && r->status == want_status);
	CHECK(rp_ip_is_v4(&r->addr) && rp_ip_to_v4(&r->addr) == ADDR && r->tag == TAG &&
	      r->done_real_ns == DONE_NS);
	CHECK(memchr(r->detail, '\0', sizeof(r->detail)) != NULL);
	CHECK((r->status == RP_SNMP_OK) == (r->detail[0] == '\0'));
	check_text(r->name, sizeof(r->name));
	check_text(r->descr, sizeof(r->descr));
	check_text(r->contact, sizeof(r->contact));
	check_text(r->location, sizeof(r->location));
	CHECK(memchr(r->object_id, '\0', sizeof(r->object_id)) != NULL);
	if (r->status != RP_SNMP_OK) {
		CHECK(r->objects == 0 && !r->has_uptime && r->uptime_ticks == 0);
		CHECK(!r->name[0] && !r->descr[0] && !r->contact[0] && !r->location[0]);
		CHECK(!r->object_id[0]);
		return;
	}
	for (const netsnmp_variable_list *v = pdu->variables; v; v = v->next_variable) {
		int k = object_of(v);

		if (!k || is_exception(v))
			continue;
		objects++;
		last[k] = v;
		if (k == 3 && v->type == ASN_TIMETICKS && v->val.integer)
			ticks = v;
	}
	CHECK(r->objects == objects);
	CHECK(r->has_uptime == (ticks != NULL));
	CHECK(!ticks || r->uptime_ticks == (uint32_t)*ticks->val.integer);
	CHECK(ticks || r->uptime_ticks == 0);
	CHECK(strcmp(r->descr, last[1] ? want_str(last[1], sizeof(r->descr)) : "") == 0);
	check_object_id(r->object_id, last[2]);
	CHECK(strcmp(r->contact, last[4] ? want_str(last[4], sizeof(r->contact)) : "") == 0);
	CHECK(strcmp(r->name, last[5] ? want_str(last[5], sizeof(r->name)) : "") == 0);
	CHECK(strcmp(r->location, last[6] ? want_str(last[6], sizeof(r->location)) : "") == 0);
}

static void decode_check(const netsnmp_pdu *pdu, struct rp_snmp_result *r)
{
	int status;

	/* snmp_api_errstring appends (and clears) a detail some earlier net-snmp error may
	 * have left; take it now, so a report's words depend on this PDU only */
	(void)snmp_api_errstring(SNMPERR_SUCCESS);
	memset(r, 0xa5, sizeof(*r));
	r->addr = rp_ip_v4(ADDR);
	r->tag = TAG;
	r->done_real_ns = DONE_NS;
	status = rp_snmp__decode(pdu, r);
	check(pdu, r, status);
}

/* Bytes as a BER PDU, from an exact-size heap copy so ASan sees any over-read by the
 * harness or decode (libnetsnmp itself is not instrumented). */
static void fuzz_pdu(const uint8_t *data, size_t size)
{
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_RESPONSE);
	u_char *copy = malloc(size ? size : 1);
	size_t len = size;

	memcpy(copy, data, size);
	pdu->version = SNMP_VERSION_2c;
	if (snmp_pdu_parse(pdu, copy, &len) == 0)
		decode_check(pdu, &r1);
	snmp_free_pdu(pdu);
	free(copy);
}

static void fuzz_message(const uint8_t *data, size_t size)
{
	netsnmp_pdu *pdu = SNMP_MALLOC_TYPEDEF(netsnmp_pdu);
	netsnmp_session sess;
	u_char *copy = malloc(size ? size : 1);

	memcpy(copy, data, size);
	memset(&sess, 0, sizeof(sess));
	sess.version = SNMP_DEFAULT_VERSION; /* any: a blank session's 0 is v1 only */
	if (pdu && snmp_parse(NULL, &sess, pdu, copy, size) == SNMPERR_SUCCESS)
		decode_check(pdu, &r1);
	snmp_free_pdu(pdu);
	free(copy);
}

/* A varbind name: mostly the six, else a near miss or any OID under .1.3 (so that its
 * BER encoding reads back as the same OID). */
static size_t take_name(struct input *in, oid *name)
{
	static const oid sys[] = {1, 3, 6, 1, 2, 1, 1, 0, 0};
	uint8_t sel = take8(in);
	size_t n = 9, k;

	memcpy(name, sys, sizeof(sys));
	name[7] = (oid)(sel % 6 + 1);
	if (sel < 192)
		return n;
	switch (sel % 6) {
	case 0:
		name[9] = take8(in);
		return 10;
	case 1:
		return 8;
	case 2:
		name[8] = take8(in) % 3;
		return 9;
	case 3:
		name[7] = take8(in) % 10;
		return 9;
	case 4:
		k = take8(in) % 7;
		name[k] = take8(in) % 8;
		name[0] = 1;
		name[1] = 3;
		return 9;
	default:
		n = 2 + take8(in) % 14;
		for (size_t i = 2; i < n; i++)
			name[i] = take32(in) % 16;
		return n;
	}
}

static void add_varbind(struct input *in, netsnmp_pdu *pdu)
{
	static const u_char types[] = {
	    ASN_OCTET_STR, ASN_OBJECT_ID,     ASN_TIMETICKS,	   ASN_INTEGER,
	    ASN_NULL,	   SNMP_NOSUCHOBJECT, SNMP_NOSUCHINSTANCE, SNMP_ENDOFMIBVIEW,
	    ASN_COUNTER,   ASN_GAUGE,	      ASN_IPADDRESS,	   ASN_OPAQUE,
	};
	static u_char val[MAX_STR];
	static oid oval[MAX_OID_LEN + 16];
	oid name[16];
	size_t nlen = take_name(in, name), len = 0;
	u_char type = types[take8(in) % sizeof(types)];
	const void *value = NULL;
	u_long num;

	switch (type) {
	case ASN_OCTET_STR:
	case ASN_OPAQUE:
		len = ((size_t)take8(in) << 8 | take8(in)) % (MAX_STR + 1);
		len = len > in->n ? in->n : len;
		memcpy(val, in->p, len);
		in->p += len;
		in->n -= len;
		value = val;
		break;
	case ASN_OBJECT_ID:
		len = take8(in) % (RP_ARRAY_SIZE(oval) + 1);
		for (size_t i = 0; i < len; i++)
			oval[i] = take32(in);
		value = oval;
		len *= sizeof(oid);
		break;
	case ASN_TIMETICKS:
	case ASN_INTEGER:
	case ASN_COUNTER:
	case ASN_GAUGE:
		num = take32(in);
		value = &num;
		len = sizeof(num);
		break;
	case ASN_IPADDRESS:
		num = take32(in);
		memcpy(val, &num, 4);
		value = val;
		len = 4;
		break;
	default: /* NULL and the exceptions carry no value */
		break;
	}
	snmp_pdu_add_variable(pdu, name, nlen, type, value, len);
}

static bool same_but_object_id(const struct rp_snmp_result *a, const struct rp_snmp_result *b)
{
	return a->status == b->status && a->objects == b->objects &&
	       a->has_uptime == b->has_uptime && a->uptime_ticks == b->uptime_ticks &&
	       strcmp(a->name, b->name) == 0 && strcmp(a->descr, b->descr) == 0 &&
	       strcmp(a->contact, b->contact) == 0 && strcmp(a->location, b->location) == 0 &&
	       strcmp(a->detail, b->detail) == 0;
}

static void fuzz_varbinds(struct input *in)
{
	uint8_t cmd = take8(in), err = take8(in), nvb = take8(in) % (MAX_VARBINDS + 1);
	uint8_t alter = take8(in), at_hi = take8(in), at_lo = take8(in), with = take8(in);
	netsnmp_pdu *pdu = snmp_pdu_create(cmd < 224 ? SNMP_MSG_RESPONSE : SNMP_MSG_REPORT);
	netsnmp_pdu *back;
	u_char *end, *copy;
	size_t room = sizeof(ber), blen, len;

	pdu->version = SNMP_VERSION_2c;
	pdu->errstat = err < 224 ? SNMP_ERR_NOERROR : err % 24;
	pdu->errindex = 0;
	for (uint8_t i = 0; i < nvb; i++)
		add_varbind(in, pdu);
	decode_check(pdu, &r1);

	end = snmp_pdu_build(pdu, ber, &room);
	if (!end || end <= ber) {
		snmp_free_pdu(pdu);
		return;
	}
	blen = (size_t)(end - ber);
	if (alter & 1)
		ber[((size_t)at_hi << 8 | at_lo) % blen] ^= with | 1;
	copy = malloc(blen);
	memcpy(copy, ber, blen);
	back = snmp_pdu_create(SNMP_MSG_RESPONSE);
	back->version = SNMP_VERSION_2c;
	len = blen;
	if (snmp_pdu_parse(back, copy, &len) == 0) {
		decode_check(back, &r2);
		CHECK((alter & 1) || same_but_object_id(&r1, &r2));
	}
	snmp_free_pdu(back);
	snmp_free_pdu(pdu);
	free(copy);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* a parse error is logged; with no handler net-snmp falls back to stderr */
	netsnmp_register_loghandler(NETSNMP_LOGHANDLER_NONE, LOG_EMERG);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t mode = take8(&in);

	switch (mode % 3) {
	case 0:
		fuzz_pdu(in.p, in.n);
		break;
	case 1:
		fuzz_message(in.p, in.n);
		break;
	default:
		fuzz_varbinds(&in);
		break;
	}
	return 0;
}
