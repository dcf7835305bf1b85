/* Tests for src/snmp/decode.c: answer PDUs built in memory with net-snmp's API (no agent,
 * no socket) and what rp_snmp__decode makes of them. Every system-group field, wrong
 * types, cleaning and caps of untrusted strings, missing varbinds, exceptions, order,
 * foreign and duplicate OIDs, error statuses and reports: the behaviour the poller had
 * when decoding lived in poller.c. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "ringprobe/compiler.h"
#include "snmp/snmp_int.h"

enum { DESCR = 1, OBJECT_ID, UPTIME, CONTACT, NAME, LOCATION };

/* U+FFFD, what an ill-formed UTF-8 subpart becomes. */
#define FFFD "\xef\xbf\xbd"

static struct rp_snmp_result r;

/* A result full of garbage but for the fields decode must keep. */
static void setup(void)
{
	memset(&r, 0xa5, sizeof(r));
	r.addr = rp_ip_v4(0xc0000201);
	r.tag = 77;
	r.done_real_ns = 123456789;
}

TestSuite(snmp_decode, .init = setup);

/* An answer as net-snmp parses one: snmp_pdu_create leaves errstat and errindex at
 * SNMP_DEFAULT_ERRSTAT (-1), which an agent's answer never has. */
static netsnmp_pdu *response(void)
{
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_RESPONSE);

	cr_assert_not_null(pdu);
	pdu->errstat = SNMP_ERR_NOERROR;
	pdu->errindex = 0;
	return pdu;
}

/* .1.3.6.1.2.1.1.k.0 of the given type and value. */
static void add(netsnmp_pdu *pdu, int k, u_char type, const void *val, size_t len)
{
	oid name[] = {1, 3, 6, 1, 2, 1, 1, (oid)k, 0};

	cr_assert_not_null(snmp_pdu_add_variable(pdu, name, RP_ARRAY_SIZE(name), type, val, len));
}

static void add_str(netsnmp_pdu *pdu, int k, const char *s, size_t len)
{
	add(pdu, k, ASN_OCTET_STR, s, len);
}

static void add_ticks(netsnmp_pdu *pdu, u_long ticks)
{
	add(pdu, UPTIME, ASN_TIMETICKS, &ticks, sizeof(ticks));
}

static void add_oid(netsnmp_pdu *pdu, const oid *v, size_t n)
{
	add(pdu, OBJECT_ID, ASN_OBJECT_ID, v, n * sizeof(oid));
}

static void add_all(netsnmp_pdu *pdu)
{
	static const oid netsnmp_linux[] = {1, 3, 6, 1, 4, 1, 8072, 3, 2, 10};

	add_str(pdu, DESCR, "Linux r1 6.1.0", 14);
	add_oid(pdu, netsnmp_linux, RP_ARRAY_SIZE(netsnmp_linux));
	add_ticks(pdu, 8640000);
	add_str(pdu, CONTACT, "noc@example.net", 15);
	add_str(pdu, NAME, "r1.example.net", 14);
	add_str(pdu, LOCATION, "rack 4", 6);
}

static void assert_all(void)
{
	cr_assert_eq(r.status, RP_SNMP_OK);
	cr_assert_eq(r.objects, 6);
	cr_assert_str_eq(r.descr, "Linux r1 6.1.0");
	cr_assert_str_eq(r.object_id, ".1.3.6.1.4.1.8072.3.2.10");
	cr_assert(r.has_uptime);
	cr_assert_eq(r.uptime_ticks, 8640000);
	cr_assert_str_eq(r.contact, "noc@example.net");
	cr_assert_str_eq(r.name, "r1.example.net");
	cr_assert_str_eq(r.location, "rack 4");
	cr_assert_str_eq(r.detail, "");
}

static int decode(netsnmp_pdu *pdu)
{
	int status = rp_snmp__decode(pdu, &r);

	snmp_free_pdu(pdu);
	return status;
}

Test(snmp_decode, every_system_group_field_lands)
{
	netsnmp_pdu *pdu = response();

	add_all(pdu);
	cr_assert_eq(decode(pdu), RP_SNMP_OK);
	assert_all();
}

Test(snmp_decode, keeps_addr_tag_and_time_and_clears_the_rest)
{
	netsnmp_pdu *pdu = response();
	struct rp_snmp_result want;

	cr_assert_eq(decode(pdu), RP_SNMP_OK);
	memset(&want, 0, sizeof(want));
	want.addr = rp_ip_v4(0xc0000201);
	want.tag = 77;
	want.done_real_ns = 123456789;
	cr_assert_eq(memcmp(&r, &want, sizeof(r)), 0, "an empty answer: all zero but the three");
}

Test(snmp_decode, varbinds_in_any_order_land)
{
	static const oid netsnmp_linux[] = {1, 3, 6, 1, 4, 1, 8072, 3, 2, 10};
	netsnmp_pdu *pdu = response();

	add_str(pdu, LOCATION, "rack 4", 6);
	add_str(pdu, NAME, "r1.example.net", 14);
	add_ticks(pdu, 8640000);
	add_str(pdu, CONTACT, "noc@example.net", 15);
	add_str(pdu, DESCR, "Linux r1 6.1.0", 14);
	add_oid(pdu, netsnmp_linux, RP_ARRAY_SIZE(netsnmp_linux));
	decode(pdu);
	assert_all();
}

Test(snmp_decode, missing_varbinds_leave_their_fields_empty)
{
	netsnmp_pdu *pdu = response();

	add_str(pdu, NAME, "only-name", 9);
	cr_assert_eq(decode(pdu), RP_SNMP_OK);
	cr_assert_eq(r.objects, 1);
	cr_assert_str_eq(r.name, "only-name");
	cr_assert_str_eq(r.descr, "");
	cr_assert_str_eq(r.object_id, "");
	cr_assert_str_eq(r.contact, "");
	cr_assert_str_eq(r.location, "");
	cr_assert_not(r.has_uptime);
	cr_assert_eq(r.uptime_ticks, 0);
}

Test(snmp_decode, no_varbinds_is_ok_with_no_objects)
{
	cr_assert_eq(decode(response()), RP_SNMP_OK);
	cr_assert_eq(r.objects, 0);
	cr_assert_str_eq(r.name, "");
}

Test(snmp_decode, exceptions_and_null_are_not_counted)
{
	netsnmp_pdu *pdu = response();

	add(pdu, DESCR, SNMP_NOSUCHOBJECT, NULL, 0);
	add(pdu, OBJECT_ID, SNMP_NOSUCHINSTANCE, NULL, 0);
	add(pdu, UPTIME, ASN_NULL, NULL, 0);
	add(pdu, CONTACT, SNMP_ENDOFMIBVIEW, NULL, 0);
	add_str(pdu, NAME, "r1", 2);
	add(pdu, LOCATION, SNMP_NOSUCHINSTANCE, NULL, 0);
	cr_assert_eq(decode(pdu), RP_SNMP_OK);
	cr_assert_eq(r.objects, 1);
	cr_assert_str_eq(r.name, "r1");
	cr_assert_str_eq(r.descr, "");
	cr_assert_str_eq(r.object_id, "");
	cr_assert_str_eq(r.contact, "");
	cr_assert_str_eq(r.location, "");
	cr_assert_not(r.has_uptime);
}

/* A value of the wrong type is counted as an object that came back, and leaves its
 * field empty (no uptime). */
Test(snmp_decode, wrong_types_are_counted_and_left_empty)
{
	static const oid some_oid[] = {1, 3, 6, 1};
	netsnmp_pdu *pdu = response();
	long forty_two = 42;

	add(pdu, DESCR, ASN_OBJECT_ID, some_oid, sizeof(some_oid));
	add_str(pdu, OBJECT_ID, ".1.3.6.1.4.1.9", 14);
	add(pdu, UPTIME, ASN_INTEGER, &forty_two, sizeof(forty_two));
	add(pdu, CONTACT, ASN_INTEGER, &forty_two, sizeof(forty_two));
	add(pdu, NAME, ASN_IPADDRESS, "\x0a\x00\x00\x01", 4);
	add(pdu, LOCATION, ASN_COUNTER, &forty_two, sizeof(forty_two));
	cr_assert_eq(decode(pdu), RP_SNMP_OK);
	cr_assert_eq(r.objects, 6);
	cr_assert_str_eq(r.descr, "");
	cr_assert_str_eq(r.object_id, "");
	cr_assert_not(r.has_uptime);
	cr_assert_eq(r.uptime_ticks, 0);
	cr_assert_str_eq(r.contact, "");
	cr_assert_str_eq(r.name, "");
	cr_assert_str_eq(r.location, "");
}

/* Only .1.3.6.1.2.1.1.N.0 for N = 1..6: longer, shorter, other instances, other
 * objects of the group and other groups are skipped and not counted. */
Test(snmp_decode, foreign_oids_are_ignored)
{
	static const oid longer[] = {1, 3, 6, 1, 2, 1, 1, 5, 0, 0};
	static const oid shorter[] = {1, 3, 6, 1, 2, 1, 1, 5};
	static const oid instance1[] = {1, 3, 6, 1, 2, 1, 1, 5, 1};
	static const oid services[] = {1, 3, 6, 1, 2, 1, 1, 7, 0};
	static const oid zero[] = {1, 3, 6, 1, 2, 1, 1, 0, 0};
	static const oid if_number[] = {1, 3, 6, 1, 2, 1, 2, 5, 0};
	static const oid private_name[] = {1, 3, 6, 1, 4, 1, 1, 5, 0};
	const oid *names[] = {longer, shorter, instance1, services, zero, if_number, private_name};
	const size_t lens[] = {10, 8, 9, 9, 9, 9, 9};
	netsnmp_pdu *pdu = response();

	for (size_t i = 0; i < RP_ARRAY_SIZE(names); i++)
		cr_assert_not_null(
		    snmp_pdu_add_variable(pdu, names[i], lens[i], ASN_OCTET_STR, "intruder", 8));
	cr_assert_eq(decode(pdu), RP_SNMP_OK);
	cr_assert_eq(r.objects, 0);
	cr_assert_str_eq(r.name, "");
	cr_assert_str_eq(r.descr, "");
	cr_assert_str_eq(r.location, "");
}

/* Today's behaviour, kept: each varbind for an object counts, and the last one wins,
 * even when it is of the wrong type (its field is then empty). */
Test(snmp_decode, a_repeated_object_counts_twice_and_the_last_wins)
{
	netsnmp_pdu *pdu = response();
	long one = 1;

	add_str(pdu, NAME, "first", 5);
	add_str(pdu, NAME, "second", 6);
	add_str(pdu, LOCATION, "kept", 4);
	add(pdu, LOCATION, ASN_INTEGER, &one, sizeof(one));
	add_ticks(pdu, 5);
	add(pdu, UPTIME, ASN_INTEGER, &one, sizeof(one));
	decode(pdu);
	cr_assert_eq(r.objects, 6);
	cr_assert_str_eq(r.name, "second");
	cr_assert_str_eq(r.location, "");
	cr_assert(r.has_uptime, "a wrong-typed uptime after a good one does not undo it");
	cr_assert_eq(r.uptime_ticks, 5);
}

Test(snmp_decode, uptime_takes_all_32_bits)
{
	netsnmp_pdu *pdu = response();

	add_ticks(pdu, 0xffffffffUL);
	decode(pdu);
	cr_assert(r.has_uptime);
	cr_assert_eq(r.uptime_ticks, 0xffffffffu);
}

Test(snmp_decode, control_characters_are_dropped)
{
	static const char descr[] = "a\tb\r\nc\x7f d\x01\x1b[31m";
	netsnmp_pdu *pdu = response();

	add_str(pdu, DESCR, descr, sizeof(descr) - 1);
	add_str(pdu, CONTACT, "\n\n\n", 3);
	decode(pdu);
	cr_assert_str_eq(r.descr, "abc d[31m");
	cr_assert_str_eq(r.contact, "");
	cr_assert_eq(r.objects, 2);
}

/* Escaping is the line encoder's job when the point is written: decode only cleans, so
 * `"` `,` `=` `\` and spaces stay; newlines and NULs (inside the OCTET STRING's length)
 * go, and what follows a NUL is kept. */
Test(snmp_decode, hostile_sysname_is_cleaned_not_escaped)
{
	static const char name[] = "evil\nname\"x,y=z\\ \0tail\0\r\n";
	netsnmp_pdu *pdu = response();

	add_str(pdu, NAME, name, sizeof(name) - 1);
	decode(pdu);
	cr_assert_str_eq(r.name, "evilname\"x,y=z\\ tail");
}

Test(snmp_decode, invalid_utf8_is_replaced)
{
	static const char descr[] = "ok\xff"
				    "a\xc3"
				    "b\xe2\x82"
				    "c\xc3\xa9";
	netsnmp_pdu *pdu = response();

	add_str(pdu, DESCR, descr, sizeof(descr) - 1);
	decode(pdu);
	cr_assert_str_eq(r.descr, "ok" FFFD "a" FFFD "b" FFFD "c\xc3\xa9");
}

/* Each string is cut to its size - 1 bytes, at a character boundary. */
Test(snmp_decode, long_strings_are_cut_to_their_sizes)
{
	static char big[4096], two_byte[1000];
	netsnmp_pdu *pdu = response();

	memset(big, 'x', sizeof(big));
	for (size_t i = 0; i < sizeof(two_byte); i += 2)
		memcpy(two_byte + i, "\xc3\xa9", 2);
	add_str(pdu, DESCR, big, sizeof(big));
	add_str(pdu, NAME, two_byte, sizeof(two_byte));
	add_str(pdu, CONTACT, big, sizeof(big));
	add_str(pdu, LOCATION, big, RP_SNMP_TEXT_MAX - 1);
	decode(pdu);
	cr_assert_eq(strlen(r.descr), RP_SNMP_DESCR_MAX - 1);
	cr_assert_eq(strlen(r.name), RP_SNMP_NAME_MAX - 2, "255 bytes would split an é");
	cr_assert_eq(memcmp(r.name, two_byte, RP_SNMP_NAME_MAX - 2), 0);
	cr_assert_eq(strlen(r.contact), RP_SNMP_TEXT_MAX - 1);
	cr_assert_eq(strlen(r.location), RP_SNMP_TEXT_MAX - 1, "exactly the size fits");
}

/* 255 bytes 0xff are 765 bytes once cleaned: cut to whole replacement characters. */
Test(snmp_decode, replacements_count_against_the_cap)
{
	static char ff[255];
	netsnmp_pdu *pdu = response();

	memset(ff, 0xff, sizeof(ff));
	add_str(pdu, DESCR, ff, sizeof(ff));
	decode(pdu);
	cr_assert_eq(strlen(r.descr), (RP_SNMP_DESCR_MAX - 1) / 3 * 3);
	for (size_t i = 0; i < strlen(r.descr); i += 3)
		cr_assert_eq(memcmp(r.descr + i, FFFD, 3), 0);
}

Test(snmp_decode, long_object_id_is_cut_at_a_whole_subidentifier)
{
	oid v[MAX_OID_LEN];
	netsnmp_pdu *pdu = response();
	char want[RP_SNMP_OID_MAX] = "";

	for (size_t i = 0; i < RP_ARRAY_SIZE(v); i++)
		v[i] = 4294967295u; /* ".4294967295": 11 characters */
	add_oid(pdu, v, RP_ARRAY_SIZE(v));
	decode(pdu);
	for (int i = 0; i < (RP_SNMP_OID_MAX - 1) / 11; i++)
		strcat(want, ".4294967295");
	cr_assert_str_eq(r.object_id, want);
	cr_assert_eq(strlen(r.object_id), 121);
	cr_assert_eq(r.objects, 1);
}

Test(snmp_decode, empty_values)
{
	netsnmp_pdu *pdu = response();

	add_str(pdu, NAME, "", 0);
	add(pdu, OBJECT_ID, ASN_OBJECT_ID, NULL, 0);
	decode(pdu);
	cr_assert_eq(r.objects, 2);
	cr_assert_str_eq(r.name, "");
	cr_assert_str_eq(r.object_id, "");
}

/* An error status is an agent error in net-snmp's words, whatever the varbinds say. */
Test(snmp_decode, error_status_is_an_agent_error)
{
	netsnmp_pdu *pdu = response();
	char want[sizeof(r.detail)];

	add_all(pdu);
	pdu->errstat = SNMP_ERR_NOSUCHNAME;
	pdu->errindex = 1;
	snprintf(want, sizeof(want), "%s", snmp_errstring(SNMP_ERR_NOSUCHNAME));
	cr_assert_eq(decode(pdu), RP_SNMP_AGENT_ERROR);
	cr_assert_eq(r.status, RP_SNMP_AGENT_ERROR);
	cr_assert_str_eq(r.detail, want);
	cr_assert(strstr(r.detail, "noSuchName"), "%s", r.detail);
	cr_assert_eq(r.objects, 0);
	cr_assert_str_eq(r.name, "");
}

Test(snmp_decode, unknown_error_status_still_has_words)
{
	netsnmp_pdu *pdu = response();

	pdu->errstat = 9999;
	cr_assert_eq(decode(pdu), RP_SNMP_AGENT_ERROR);
	cr_assert_neq(r.detail[0], '\0');
	cr_assert_lt(strlen(r.detail), sizeof(r.detail));
}

/* A v3 report (usmStatsUnknownUserNames.0): an agent error naming the report. */
Test(snmp_decode, report_is_an_agent_error)
{
	static const oid unknown_user[] = {1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0};
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_REPORT);
	u_long count = 3;

	cr_assert_not_null(pdu);
	snmp_pdu_add_variable(pdu, unknown_user, RP_ARRAY_SIZE(unknown_user), ASN_COUNTER, &count,
			      sizeof(count));
	add_str(pdu, NAME, "not read", 8);
	cr_assert_eq(decode(pdu), RP_SNMP_AGENT_ERROR);
	cr_assert_str_eq(r.detail, "report: Unknown user name");
	cr_assert_eq(r.objects, 0);
	cr_assert_str_eq(r.name, "");
}

Test(snmp_decode, report_of_an_unknown_kind)
{
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_REPORT);

	cr_assert_not_null(pdu);
	cr_assert_eq(decode(pdu), RP_SNMP_AGENT_ERROR);
	cr_assert(strncmp(r.detail, "report: ", 8) == 0, "%s", r.detail);
	cr_assert_gt(strlen(r.detail), 8);
}
