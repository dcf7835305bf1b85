/* Addresses as text: one formatter for logs, points, the CLI and SNMP peer names.
 * Addresses are IPv4 in host byte order. */
#ifndef RP_ADDR_H
#define RP_ADDR_H

#include <stdint.h>

/* "255.255.255.255" and its NUL. */
#define RP_ADDR_STRLEN 16
/* Room rp_addr_put needs at p: the text plus up to 3 bytes it may overwrite beyond it. */
#define RP_ADDR_PUT_ROOM (RP_ADDR_STRLEN + 3)

/** Writes addr as a dotted quad (no leading zeros, no NUL) at p and returns the end of
 *  the text; may overwrite up to 3 bytes past that end (4-byte stores), so p needs
 *  RP_ADDR_PUT_ROOM bytes. For encoders on the hot path. */
char *rp_addr_put(char *p, uint32_t addr);
/** Formats addr as a NUL-terminated dotted quad into buf; returns buf. */
char *rp_addr_format(uint32_t addr, char buf[RP_ADDR_STRLEN]);

#endif
