/* One probe's outcome: what a shard pushes into its result ring and the writer (or a
 * one-shot command) pops. Fixed size, no pointers, so rings copy it. */
#ifndef RP_RESULT_H
#define RP_RESULT_H

#include <stdint.h>

#include "ringprobe/addr.h"

struct rp_probe_result {
	uint64_t sent_ns;  /* CLOCK_REALTIME ns when sent: the point's timestamp */
	uint64_t rtt_ns;   /* round trip, valid when success */
	struct rp_ip addr; /* device address */
	uint32_t id;	   /* the caller's device id (ping: the target's index) */
	uint8_t success;   /* 1 = a valid reply within the timeout */
	uint8_t suspended; /* the device is suspended (probed once per backoff) */
	uint8_t ttl;	   /* the reply's IPv4 TTL / IPv6 hop limit; 0 = unknown (or no
			    * reply) */
	/* An ICMP error that quoted the probe ended it (success 0), else all zero. In
	 * the padding: the struct stays 48 bytes (a million-device fleet's rings are
	 * sized in these), so the error's sender fits only when it is IPv4. */
	uint8_t error;	   /* enum rp_icmp_err (icmp.h); 0 = none (a timeout) */
	uint8_t icmp_type; /* the error's ICMP / ICMPv6 type and code */
	uint8_t icmp_code;
	uint8_t from4[4]; /* IPv4 errors: who sent it (network order); zero for IPv6 */
	uint8_t _pad[2];
};

_Static_assert(sizeof(struct rp_probe_result) == 48, "rp_probe_result is copied through rings");

#endif
