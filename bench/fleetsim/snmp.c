// SPDX-License-Identifier: MIT
/*
 * fleetsim's SNMP v2c agent for the system group; see snmp.h.
 *
 * Decoding uses net-snmp's bounds-checked BER parsers (asn_parse_sequence, asn_parse_int,
 * asn_parse_string, asn_parse_header, snmp_parse_var_op), encoding its reverse encoders
 * (asn_realloc_rbuild_*, snmp_realloc_rbuild_var_op) with allow_realloc = 0, so they write into
 * the caller's fixed buffer and fail instead of growing it. What is left here is the MIB: six
 * scalars, Get / GetNext / GetBulk over them (RFC 3416 section 4.2), per-device values.
 */
#include "snmp.h"

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FS_SNMP_MAX_OUT 256u /* varbinds in one response before the size limit is even tried */
#define FS_SNMP_NOBJ 6

enum { OBJ_DESCR, OBJ_OBJECT_ID, OBJ_UPTIME, OBJ_CONTACT, OBJ_NAME, OBJ_LOCATION };

/* One varbind of a response: a system object's value, or an exception (value_type). */
struct vb {
	const oid *name;
	size_t name_len;
	int obj;	  /* OBJ_*, or -1 for an exception */
	u_char exception; /* SNMP_NOSUCHOBJECT, SNMP_NOSUCHINSTANCE, SNMP_ENDOFMIBVIEW */
};

struct fs_snmp_req {
	u_char community[256];
	size_t community_len;
	u_char pdu_type;
	long request_id;
	long error_status; /* GetBulk: non-repeaters */
	long error_index;  /* GetBulk: max-repetitions */
	unsigned nvb;	   /* varbinds in the request; only the first FS_SNMP_MAX_VB are kept */
	size_t name_len[FS_SNMP_MAX_VB];
	oid name[FS_SNMP_MAX_VB][MAX_OID_LEN];
	struct vb out[FS_SNMP_MAX_OUT];
	size_t out_size[FS_SNMP_MAX_OUT];
	u_char scratch[FS_SNMP_MAX_MSG];
};

/* The system group, in lexicographic order: .1.3.6.1.2.1.1.<n>.0 */
static const oid sys_oid[FS_SNMP_NOBJ][9] = {
    {1, 3, 6, 1, 2, 1, 1, 1, 0}, {1, 3, 6, 1, 2, 1, 1, 2, 0}, {1, 3, 6, 1, 2, 1, 1, 3, 0},
    {1, 3, 6, 1, 2, 1, 1, 4, 0}, {1, 3, 6, 1, 2, 1, 1, 5, 0}, {1, 3, 6, 1, 2, 1, 1, 6, 0},
};
static const oid sys_prefix[] = {1, 3, 6, 1, 2, 1, 1};

#define FS_SNMP_CONTACT "noc@fleetsim.example"

/*
 * Vendor profiles. sysDescr is descr, or descr + sysName + descr_tail (a Linux host names itself).
 * Printable ASCII only, without '"' or '\\': the truth file embeds them in JSON unescaped.
 */
static const struct profile {
	const char *descr;
	const char *descr_tail;
	oid object_id[16];
	size_t object_id_len;
} profiles[] = {
    {"Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E4, RELEASE "
     "SOFTWARE (fc2)",
     NULL,
     {1, 3, 6, 1, 4, 1, 9, 1, 1208},
     9},
    {"Cisco NX-OS(tm) n9000, Software (n9000-dk9), Version 9.3(8), RELEASE SOFTWARE Copyright "
     "(c) 2002-2021 by Cisco Systems, Inc.",
     NULL,
     {1, 3, 6, 1, 4, 1, 9, 12, 3, 1, 3, 1812},
     12},
    {"Juniper Networks, Inc. ex4300-48t Ethernet Switch, kernel JUNOS 21.4R3.15, Build date: "
     "2023-01-11 06:52:22 UTC Copyright (c) 1996-2023 Juniper Networks, Inc.",
     NULL,
     {1, 3, 6, 1, 4, 1, 2636, 1, 1, 1, 2, 63},
     12},
    {"Arista Networks EOS version 4.28.3M running on an Arista Networks DCS-7050SX3-48YC8",
     NULL,
     {1, 3, 6, 1, 4, 1, 30065, 1, 3011, 7050, 3741, 3248},
     12},
    {"Aruba JL256A 2930F-48G-PoE+-4SFP+ Switch, revision WC.16.11.0012, ROM WC.17.02.0006",
     NULL,
     {1, 3, 6, 1, 4, 1, 11, 2, 3, 7, 11, 181, 14},
     13},
    {"RouterOS CRS326-24G-2S+", NULL, {1, 3, 6, 1, 4, 1, 14988, 1}, 8},
    {"Linux ",
     " 5.10.0-23-amd64 #1 SMP Debian 5.10.179-1 (2023-05-12) x86_64",
     {1, 3, 6, 1, 4, 1, 8072, 3, 2, 10},
     10},
};

#define FS_SNMP_NPROFILES (sizeof(profiles) / sizeof(profiles[0]))

unsigned fs_snmp_profiles(void)
{
	return FS_SNMP_NPROFILES;
}

void fs_snmp_init(void)
{
	snmp_disable_log();
}

struct fs_snmp_req *fs_snmp_req_new(void)
{
	return calloc(1, sizeof(struct fs_snmp_req));
}

void fs_snmp_req_free(struct fs_snmp_req *rq)
{
	free(rq);
}

/* ---- values ---- */

static const struct profile *profile_of(const struct fs_snmp_id *id)
{
	return &profiles[id->profile % FS_SNMP_NPROFILES];
}

void fs_snmp_sys_name(const struct fs_snmp_id *id, char *out, size_t n)
{
	uint32_t a = id->addr;

	snprintf(out, n, "sim-%u-%u-%u-%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

void fs_snmp_sys_descr(const struct fs_snmp_id *id, char *out, size_t n)
{
	const struct profile *p = profile_of(id);
	char name[32];

	if (!p->descr_tail) {
		snprintf(out, n, "%s", p->descr);
		return;
	}
	fs_snmp_sys_name(id, name, sizeof(name));
	snprintf(out, n, "%s%s%s", p->descr, name, p->descr_tail);
}

void fs_snmp_sys_object_id(const struct fs_snmp_id *id, char *out, size_t n)
{
	const struct profile *p = profile_of(id);
	size_t used = 0;

	if (n)
		out[0] = '\0';
	for (size_t i = 0; i < p->object_id_len && used < n; i++) {
		int k = snprintf(out + used, n - used, "%s%lu", i ? "." : "",
				 (unsigned long)p->object_id[i]);

		if (k < 0)
			break;
		used += (size_t)k;
	}
}

void fs_snmp_sys_location(const struct fs_snmp_id *id, char *out, size_t n)
{
	snprintf(out, n, "fleetsim DC1, row %c, rack %02u", (char)('A' + id->index / 40 % 26),
		 (unsigned)(id->index % 40 + 1));
}

const char *fs_snmp_sys_contact(void)
{
	return FS_SNMP_CONTACT;
}

/* ---- the MIB ---- */

/* The first system object after @name, or -1: GetNext. */
static int next_obj(const oid *name, size_t len)
{
	for (int i = 0; i < FS_SNMP_NOBJ; i++)
		if (snmp_oid_compare(sys_oid[i], 9, name, len) > 0)
			return i;
	return -1;
}

/* Get: the object @name is, or the exception for it. */
static struct vb get_vb(const oid *name, size_t len)
{
	struct vb v = {.name = name, .name_len = len, .obj = -1, .exception = SNMP_NOSUCHOBJECT};

	if (len < 8 || snmp_oid_compare(name, 7, sys_prefix, 7) || name[7] < 1 ||
	    name[7] > FS_SNMP_NOBJ)
		return v;
	if (len == 9 && name[8] == 0)
		v.obj = (int)name[7] - 1;
	else
		v.exception = SNMP_NOSUCHINSTANCE;
	return v;
}

static struct vb next_vb(const oid *name, size_t len)
{
	int i = next_obj(name, len);

	if (i < 0)
		return (struct vb){
		    .name = name, .name_len = len, .obj = -1, .exception = SNMP_ENDOFMIBVIEW};
	return (struct vb){.name = sys_oid[i], .name_len = 9, .obj = i};
}

/* The successor of a response varbind (GetBulk repetitions): endOfMibView stays there. */
static struct vb next_of(const struct vb *prev)
{
	if (prev->obj < 0)
		return *prev;
	return next_vb(prev->name, prev->name_len);
}

/* Fills rq->out with the response varbinds; returns their number. */
static unsigned answer_vbs(struct fs_snmp_req *rq)
{
	unsigned n = 0, nvb = rq->nvb, nonrep, reps;
	long mr;

	switch (rq->pdu_type) {
	case SNMP_MSG_GET:
		for (unsigned i = 0; i < nvb; i++)
			rq->out[n++] = get_vb(rq->name[i], rq->name_len[i]);
		return n;
	case SNMP_MSG_GETNEXT:
		for (unsigned i = 0; i < nvb; i++)
			rq->out[n++] = next_vb(rq->name[i], rq->name_len[i]);
		return n;
	default: /* GetBulk */
		break;
	}
	nonrep = rq->error_status < 0	  ? 0
		 : rq->error_status > nvb ? nvb
					  : (unsigned)rq->error_status;
	mr = rq->error_index < 0 ? 0 : rq->error_index;
	reps = nvb - nonrep;
	for (unsigned i = 0; i < nonrep; i++)
		rq->out[n++] = next_vb(rq->name[i], rq->name_len[i]);
	if (reps == 0)
		return n;
	/* stop at the first repetition in which every repeater is at endOfMibView */
	for (long r = 0; r < mr; r++) {
		int all_end = 1;

		if (n + reps > FS_SNMP_MAX_OUT)
			break;
		for (unsigned j = 0; j < reps; j++) {
			struct vb v = r == 0
					  ? next_vb(rq->name[nonrep + j], rq->name_len[nonrep + j])
					  : next_of(&rq->out[n - reps]);

			all_end &= v.obj < 0;
			rq->out[n++] = v;
		}
		if (all_end)
			break;
	}
	return n;
}

/* ---- encoding ---- */

static int rbuild_vb(u_char *buf, size_t cap, size_t *off, const struct vb *v,
		     const struct fs_snmp_id *id, uint32_t uptime)
{
	const struct profile *p = profile_of(id);
	char s[256];
	u_long ticks = uptime;
	u_char *pkt = buf, type = ASN_OCTET_STR;
	const void *val = s;
	size_t len = 0, name_len = v->name_len;

	switch (v->obj) {
	case OBJ_DESCR:
		fs_snmp_sys_descr(id, s, sizeof(s));
		break;
	case OBJ_OBJECT_ID:
		type = ASN_OBJECT_ID;
		val = p->object_id;
		len = p->object_id_len * sizeof(oid);
		break;
	case OBJ_UPTIME:
		type = ASN_TIMETICKS;
		val = &ticks;
		len = sizeof(ticks);
		break;
	case OBJ_CONTACT:
		snprintf(s, sizeof(s), "%s", fs_snmp_sys_contact());
		break;
	case OBJ_NAME:
		fs_snmp_sys_name(id, s, sizeof(s));
		break;
	case OBJ_LOCATION:
		fs_snmp_sys_location(id, s, sizeof(s));
		break;
	default:
		type = v->exception;
		val = NULL;
		break;
	}
	if (type == ASN_OCTET_STR)
		len = strlen(s);
	return snmp_realloc_rbuild_var_op(&pkt, &cap, off, 0, v->name, &name_len, type,
					  (u_char *)(uintptr_t)val, len);
}

/*
 * The whole message with the first @nvb of rq->out at the end of buf[0, cap); returns its length
 * or 0 when it does not fit.
 */
static size_t encode(const struct fs_snmp_req *rq, unsigned nvb, long error_status,
		     const struct fs_snmp_id *id, uint32_t uptime, u_char *buf, size_t cap)
{
	u_char *pkt = buf;
	size_t off = 0;
	long v;

	for (unsigned i = nvb; i-- > 0;)
		if (!rbuild_vb(buf, cap, &off, &rq->out[i], id, uptime))
			return 0;
	if (!asn_realloc_rbuild_sequence(&pkt, &cap, &off, 0, ASN_SEQUENCE | ASN_CONSTRUCTOR, off))
		return 0;
	v = 0; /* error-index */
	if (!asn_realloc_rbuild_int(&pkt, &cap, &off, 0, ASN_INTEGER, &v, sizeof(v)))
		return 0;
	v = error_status;
	if (!asn_realloc_rbuild_int(&pkt, &cap, &off, 0, ASN_INTEGER, &v, sizeof(v)))
		return 0;
	if (!asn_realloc_rbuild_int(&pkt, &cap, &off, 0, ASN_INTEGER, &rq->request_id,
				    sizeof(rq->request_id)))
		return 0;
	if (!asn_realloc_rbuild_header(&pkt, &cap, &off, 0, SNMP_MSG_RESPONSE, off))
		return 0;
	if (!asn_realloc_rbuild_string(&pkt, &cap, &off, 0, ASN_OCTET_STR, rq->community,
				       rq->community_len))
		return 0;
	v = SNMP_VERSION_2c;
	if (!asn_realloc_rbuild_int(&pkt, &cap, &off, 0, ASN_INTEGER, &v, sizeof(v)))
		return 0;
	if (!asn_realloc_rbuild_sequence(&pkt, &cap, &off, 0, ASN_SEQUENCE | ASN_CONSTRUCTOR, off))
		return 0;
	return off;
}

size_t fs_snmp_respond(struct fs_snmp_req *rq, const struct fs_snmp_id *id, uint32_t uptime,
		       uint8_t *buf, size_t cap)
{
	size_t use = cap < FS_SNMP_MAX_MSG ? cap : FS_SNMP_MAX_MSG, n;
	/* everything but the varbinds: message, version, community, PDU, 3 integers, list */
	size_t overhead = 40 + rq->community_len, sum = 0;
	unsigned nout, fit = 0;

	buf += cap - use;
	if (rq->nvb > FS_SNMP_MAX_VB)
		return encode(rq, 0, SNMP_ERR_TOOBIG, id, uptime, buf, use);
	nout = answer_vbs(rq);
	/* the sizes of the varbinds one by one, to know how many fit */
	for (; fit < nout; fit++) {
		size_t off = 0;

		if (!rbuild_vb(rq->scratch, sizeof(rq->scratch), &off, &rq->out[fit], id, uptime))
			break;
		rq->out_size[fit] = off;
		if (overhead + sum + off > use)
			break;
		sum += off;
	}
	if (fit < nout && rq->pdu_type != SNMP_MSG_GETBULK)
		return encode(rq, 0, SNMP_ERR_TOOBIG, id, uptime, buf, use);
	n = encode(rq, fit, SNMP_ERR_NOERROR, id, uptime, buf, use);
	if (!n)
		n = encode(rq, 0, SNMP_ERR_TOOBIG, id, uptime, buf, use);
	return n;
}

/* ---- decoding ---- */

static u_char *parse_long(u_char *p, size_t *len, long *out)
{
	u_char type;

	p = asn_parse_int(p, len, &type, out, sizeof(*out));
	return p && type == ASN_INTEGER ? p : NULL;
}

enum fs_snmp_kind fs_snmp_parse(struct fs_snmp_req *rq, const uint8_t *msg, size_t len)
{
	u_char *p = (u_char *)(uintptr_t)msg, type;
	size_t n = len, pdu_len, list_len;
	long version;

	rq->nvb = 0;
	if (!len)
		return FS_SNMP_MALFORMED;
	/* Message ::= SEQUENCE { version INTEGER, community OCTET STRING, data PDU } */
	p = asn_parse_sequence(p, &n, &type, ASN_SEQUENCE | ASN_CONSTRUCTOR, "message");
	if (!p)
		return FS_SNMP_MALFORMED;
	p = parse_long(p, &n, &version);
	if (!p)
		return FS_SNMP_MALFORMED;
	if (version != SNMP_VERSION_2c)
		return FS_SNMP_UNSUPPORTED;
	/* a community over 255 bytes (which could match none) counts as malformed */
	rq->community_len = sizeof(rq->community);
	p = asn_parse_string(p, &n, &type, rq->community, &rq->community_len);
	if (!p || type != ASN_OCTET_STR)
		return FS_SNMP_MALFORMED;
	/* PDU ::= [n] IMPLICIT SEQUENCE { request-id, error-status, error-index, varbinds } */
	pdu_len = n;
	p = asn_parse_header(p, &pdu_len, &rq->pdu_type);
	if (!p)
		return FS_SNMP_MALFORMED;
	if (rq->pdu_type != SNMP_MSG_GET && rq->pdu_type != SNMP_MSG_GETNEXT &&
	    rq->pdu_type != SNMP_MSG_GETBULK)
		return FS_SNMP_UNSUPPORTED;
	p = parse_long(p, &pdu_len, &rq->request_id);
	if (p)
		p = parse_long(p, &pdu_len, &rq->error_status);
	if (p)
		p = parse_long(p, &pdu_len, &rq->error_index);
	if (!p)
		return FS_SNMP_MALFORMED;
	list_len = pdu_len;
	p = asn_parse_sequence(p, &list_len, &type, ASN_SEQUENCE | ASN_CONSTRUCTOR, "varbinds");
	if (!p)
		return FS_SNMP_MALFORMED;
	while (list_len > 0) {
		oid name[MAX_OID_LEN];
		size_t name_len = MAX_OID_LEN, val_len;
		u_char val_type, *val;

		p = snmp_parse_var_op(p, name, &name_len, &val_type, &val_len, &val, &list_len);
		if (!p)
			return FS_SNMP_MALFORMED;
		if (rq->nvb < FS_SNMP_MAX_VB) {
			memcpy(rq->name[rq->nvb], name, name_len * sizeof(oid));
			rq->name_len[rq->nvb] = name_len;
		}
		rq->nvb++;
	}
	return FS_SNMP_REQUEST;
}

int fs_snmp_community_ok(const struct fs_snmp_req *rq, const char *community)
{
	size_t n = strlen(community);

	return n == rq->community_len && !memcmp(rq->community, community, n);
}
