/* An SNMP answer into a struct rp_snmp_result (src/snmp/snmp_int.h): which varbinds are
 * the system group's six scalars, their values checked for type, strings cleaned of
 * what an agent should not send (rp_line_sanitize: control bytes dropped, invalid UTF-8
 * replaced, cut at a character boundary). No socket, no clock, no allocation, so
 * tests/snmp/test_decode.c and tests/fuzz/fuzz_snmp_decode.c call it on PDUs made in
 * memory. The poller thread runs it from net-snmp's callback. Not reentrant only through
 * net-snmp's snmp_api_errstring (a report's words, formatted in a static buffer). */
#include "snmp/snmp_int.h"

#include <stdio.h>
#include <string.h>

#include "ringprobe/line.h"

/* .1.3.6.1.2.1.1.N.0 for N = 1..6, and where each lands. */
enum obj { O_DESCR = 1, O_OBJECT_ID, O_UPTIME, O_CONTACT, O_NAME, O_LOCATION };

/* An OCTET STRING, cleaned and cut to size - 1 bytes; any other type leaves it empty. */
static void copy_str(char *dst, size_t size, const netsnmp_variable_list *v)
{
	if (v->type != ASN_OCTET_STR || !v->val.string) {
		dst[0] = '\0';
		return;
	}
	rp_line_sanitize(dst, size, (const char *)v->val.string, v->val_len, size - 1);
}

/* An OBJECT IDENTIFIER, dotted (.1.3.6...), cut after the last sub-identifier that fits;
 * any other type leaves it empty. */
static void copy_oid(char *dst, size_t size, const netsnmp_variable_list *v)
{
	size_t n = v->val_len / sizeof(oid), off = 0;

	dst[0] = '\0';
	if (v->type != ASN_OBJECT_ID || !v->val.objid)
		return;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(dst + off, size - off, ".%lu", (unsigned long)v->val.objid[i]);

		if (w < 0 || (size_t)w >= size - off) {
			dst[off] = '\0'; /* cut at a whole sub-identifier */
			return;
		}
		off += (size_t)w;
	}
}

/* Which of the six objects a varbind is (1..6), or 0. */
static int which(const netsnmp_variable_list *v)
{
	static const oid sys[] = {1, 3, 6, 1, 2, 1, 1};

	if (v->name_length != 9 || memcmp(v->name, sys, sizeof(sys)) != 0 || v->name[8] != 0)
		return 0;
	return v->name[7] >= 1 && v->name[7] <= RP_SNMP_NOBJ ? (int)v->name[7] : 0;
}

/* Every varbind that is one of the six, in the order they come; an exception
 * (noSuchObject, noSuchInstance, endOfMibView) or NULL is not counted, a value of the
 * wrong type is counted and leaves its field empty, a later varbind for the same
 * object overwrites an earlier one. */
static void fill(struct rp_snmp_result *r, const netsnmp_pdu *pdu)
{
	for (const netsnmp_variable_list *v = pdu->variables; v; v = v->next_variable) {
		int k = which(v);

		if (!k || v->type == SNMP_NOSUCHOBJECT || v->type == SNMP_NOSUCHINSTANCE ||
		    v->type == SNMP_ENDOFMIBVIEW || v->type == ASN_NULL)
			continue;
		r->objects++;
		switch (k) {
		case O_DESCR:
			copy_str(r->descr, sizeof(r->descr), v);
			break;
		case O_OBJECT_ID:
			copy_oid(r->object_id, sizeof(r->object_id), v);
			break;
		case O_UPTIME:
			if (v->type == ASN_TIMETICKS && v->val.integer) {
				r->uptime_ticks = (uint32_t)*v->val.integer;
				r->has_uptime = true;
			}
			break;
		case O_CONTACT:
			copy_str(r->contact, sizeof(r->contact), v);
			break;
		case O_NAME:
			copy_str(r->name, sizeof(r->name), v);
			break;
		default:
			copy_str(r->location, sizeof(r->location), v);
		}
	}
}

int rp_snmp__decode(const netsnmp_pdu *pdu, struct rp_snmp_result *out)
{
	struct rp_ip addr = out->addr;
	uint32_t tag = out->tag;
	uint64_t done_real_ns = out->done_real_ns;

	memset(out, 0, sizeof(*out));
	out->addr = addr;
	out->tag = tag;
	out->done_real_ns = done_real_ns;
	if (pdu->command == SNMP_MSG_REPORT) {
		out->status = RP_SNMP_AGENT_ERROR;
		/* net-snmp's prototype lacks the const; it only reads the PDU */
		snprintf(out->detail, sizeof(out->detail), "report: %s",
			 snmp_api_errstring(snmpv3_get_report_type((netsnmp_pdu *)pdu)));
	} else if (pdu->errstat != SNMP_ERR_NOERROR) {
		out->status = RP_SNMP_AGENT_ERROR;
		snprintf(out->detail, sizeof(out->detail), "%s", snmp_errstring(pdu->errstat));
	} else {
		out->status = RP_SNMP_OK;
		fill(out, pdu);
	}
	return out->status;
}
