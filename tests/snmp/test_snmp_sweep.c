/* `ringprobe sweep --snmp` against a real snmpd on 127.0.0.1 (snmpd_harness.h) whose
 * sysName carries what a terminal acts on rather than shows: C1 controls (8-bit CSI, NEL)
 * and Unicode bidi controls (RLO, LRI, RLM ...). The line printed for the device must
 * hold the name without them (src/util/term.c), other non-ASCII text untouched. Sends
 * nothing outside 127.0.0.1 (an ICMP echo to it, then the GET). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snmpd_harness.h"
#include "support/support.h"

#define BIN RP_BUILD_ROOT "/src/cli/ringprobe"

/* U+009B CSI "2J", U+202E RLO, U+202C PDF, U+2066 LRI, U+2069 PDI, U+200F RLM, U+200E LRM,
 * U+0085 NEL; kept: U+00A0, U+00FC, U+202F. */
#define TRICKY_NAME                                                                                \
	"core\xc2\x9b"                                                                             \
	"2J-\xe2\x80\xae"                                                                          \
	"lanigiro\xe2\x80\xac-\xe2\x81\xa6iso\xe2\x81\xa9-\xe2\x80\x8frlm\xe2\x80\x8e-\xc2\x85"    \
	"nel\xc2\xa0Z\xc3\xbcrich\xe2\x80\xaf"                                                     \
	"1"
#define TRICKY_SHOWN                                                                               \
	"core2J-lanigiro-iso-rlm-nel\xc2\xa0Z\xc3\xbcrich\xe2\x80\xaf"                             \
	"1"

Test(snmp_sweep, sysname_controls_never_reach_the_terminal, .timeout = 60)
{
	struct snmpd_values v = {.descr = "test agent", .name = TRICKY_NAME};
	struct snmpd_agent a;
	char why[1600] = "", cmd[512], b1[1024], b2[1024];
	char *out = NULL, *err = NULL;
	int st;

	if (!snmpd_start(&a, &v, why, sizeof(why))) {
		snmpd_stop(&a);
		cr_assert_fail("%s", why);
	}
	snprintf(cmd, sizeof(cmd),
		 "%s sweep --snmp --snmp-port %u --snmp-timeout 2s --snmp-retries 1 127.0.0.1/32",
		 BIN, (unsigned)a.port);
	st = sup_run(cmd, 0, &out, &err);
	snmpd_stop(&a);
	cr_assert_eq(st, 0, "exit %d: %s", st, err ? err : "");
	cr_assert_not_null(strstr(err, "1 answered"), "%s", sup_shown(err, b1, sizeof(b1)));
	cr_assert_str_eq(out, "127.0.0.1\t" TRICKY_SHOWN "\n", "stdout %s, want %s",
			 sup_shown(out, b1, sizeof(b1)),
			 sup_shown("127.0.0.1\t" TRICKY_SHOWN "\n", b2, sizeof(b2)));
	free(out);
	free(err);
}
