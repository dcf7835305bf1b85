/* What a shard reports besides the echoes themselves: a round's summary (the
 * `ping_round` point) and a device's state change (the `device_state` point). They
 * travel in a ring of their own, next to the result ring (struct rp_probe_result stays
 * 48 bytes and the per-echo path unchanged), from the shard to the control thread and
 * from there to the writer. Fixed size, no pointers, so rings copy it. */
#ifndef RP_EVENT_H
#define RP_EVENT_H

#include <stdint.h>

#include "ringprobe/addr.h"
#include "ringprobe/round.h"

enum rp_event_kind {
	RP_EVENT_ROUND = 1, /* u.round */
	RP_EVENT_STATE = 2, /* u.state */
};

/** A device's up/down state; a device starts unknown. */
enum rp_dev_state { RP_STATE_UNKNOWN = 0, RP_STATE_UP = 1, RP_STATE_DOWN = 2 };

/** Why the state changed. */
enum rp_state_reason {
	RP_REASON_REPLY = 0,	   /* up: replies came back */
	RP_REASON_TIMEOUT = 1,	   /* down: rounds without a reply */
	RP_REASON_SUSPENDED = 2,   /* down, and suspended (ping_max_consecutive_fails) */
	RP_REASON_UNREACHABLE = 3, /* down: the round that decided it got an ICMP error
				    * (u.state.error, icmp_type, icmp_code) */
};

struct rp_event {
	uint64_t ts_ns;	   /* CLOCK_REALTIME ns: the round's first send; the change's time */
	struct rp_ip addr; /* device address */
	uint32_t id;	   /* the caller's device id (the name tag's) */
	uint8_t kind;	   /* enum rp_event_kind */
	uint8_t suspended; /* the device is suspended */
	uint8_t ttl;	   /* the last reply's TTL / hop limit; 0 = not known */
	uint8_t _pad;
	union {
		struct rp_round_stats round;
		struct {
			uint8_t state;	   /* enum rp_dev_state: the new one */
			uint8_t previous;  /* enum rp_dev_state */
			uint8_t reason;	   /* enum rp_state_reason */
			uint8_t error;	   /* RP_REASON_UNREACHABLE: enum rp_icmp_err */
			uint8_t icmp_type; /* and the error's type and code */
			uint8_t icmp_code;
			uint8_t _pad[2];
			uint64_t duration_ms; /* time spent in `previous` */
		} state;
	} u;
};

_Static_assert(sizeof(struct rp_event) == 64, "rp_event is copied through rings");

/** "up", "down" or "unknown". */
const char *rp_dev_state_name(unsigned state);
/** "reply", "timeout", "suspended" or "unreachable". */
const char *rp_state_reason_name(unsigned reason);

#endif
