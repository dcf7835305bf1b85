// SPDX-License-Identifier: MIT
/*
 * fleetsim's SNMP agent: the system group (sysDescr .. sysLocation) of each simulated device,
 * answered to SNMP v2c GetRequest, GetNextRequest and GetBulkRequest. The BER codec is
 * net-snmp's (asn_parse_*, snmp_parse_var_op, the asn_realloc_rbuild_* reverse encoders with a
 * fixed buffer); this file only decides what to answer. Nothing is allocated per message.
 */
#ifndef FLEETSIM_SNMP_H
#define FLEETSIM_SNMP_H

#include <stddef.h>
#include <stdint.h>

#define FS_SNMP_PORT 161
#define FS_SNMP_MAX_MSG 1472u /* largest response: fits a 1500-byte MTU after IPv4 + UDP */
#define FS_SNMP_MAX_VB 64u    /* varbinds kept from a request; more is answered tooBig */

/* What fs_snmp_parse() made of a UDP payload. */
enum fs_snmp_kind {
	FS_SNMP_REQUEST = 0,	 /* a v2c Get, GetNext or GetBulk request */
	FS_SNMP_MALFORMED = -1,	 /* not a well-formed SNMP message */
	FS_SNMP_UNSUPPORTED = -2 /* SNMP, but another version or PDU type (not answered) */
};

/* The identity of one device's agent, all drawn from the seed by the caller. */
struct fs_snmp_id {
	uint32_t addr;	  /* host order; sysName is sim-A-B-C-D */
	uint32_t index;	  /* device index: sysLocation's row and rack */
	uint32_t profile; /* vendor profile (sysDescr, sysObjectID); taken modulo the table */
};

struct fs_snmp_req; /* one parsed request; opaque (holds net-snmp types) */

/* The number of vendor profiles (sysDescr + sysObjectID pairs). */
unsigned fs_snmp_profiles(void);

/* Allocates the (large, reusable) request buffer once; NULL when out of memory. */
struct fs_snmp_req *fs_snmp_req_new(void);
void fs_snmp_req_free(struct fs_snmp_req *rq);

/* Parses @msg[0, @len) into @rq. Bounds-checked for any input. */
enum fs_snmp_kind fs_snmp_parse(struct fs_snmp_req *rq, const uint8_t *msg, size_t len);

/* Whether the parsed request's community string is exactly @community. */
int fs_snmp_community_ok(const struct fs_snmp_req *rq, const char *community);

/*
 * Encodes the Response-PDU to the parsed request @rq (whose scratch space it uses) for the device
 * @id whose sysUpTime is @uptime (1/100 s). The message is written at the end of @buf: it occupies
 * [@buf + @cap - n, @buf + @cap) where n, at most min(@cap, FS_SNMP_MAX_MSG), is returned.
 * A Get or GetNext whose answer does not fit is answered tooBig; a GetBulk is cut short.
 * Returns 0 only when not even that fits (@cap far too small).
 */
size_t fs_snmp_respond(struct fs_snmp_req *rq, const struct fs_snmp_id *id, uint32_t uptime,
		       uint8_t *buf, size_t cap);

/*
 * sysName, sysDescr, sysObjectID (dotted), sysLocation and sysContact as strings, exactly as the
 * agent answers them, for the truth file. Printable ASCII without '"' or '\\'.
 */
void fs_snmp_sys_name(const struct fs_snmp_id *id, char *out, size_t n);
void fs_snmp_sys_descr(const struct fs_snmp_id *id, char *out, size_t n);
void fs_snmp_sys_object_id(const struct fs_snmp_id *id, char *out, size_t n);
void fs_snmp_sys_location(const struct fs_snmp_id *id, char *out, size_t n);
const char *fs_snmp_sys_contact(void);

/* Quiets net-snmp's logging (parse errors of malformed input would go to stderr). */
void fs_snmp_init(void);

#endif
