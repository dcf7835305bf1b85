// SPDX-License-Identifier: MIT
/*
 * Integration tests for fleetsim's SNMP agent: net-snmp's own snmpget / snmpgetnext / snmpwalk /
 * snmpbulkwalk (Debian package snmp) against the simulated fleet, each test in its own network
 * namespace, so every packet goes to 198.18.0.0/15 on the namespace's TUN device and nowhere else.
 * Root only. Which devices have no agent, are slow or down comes from the truth file (SIGUSR1).
 */
#include "fleetsim_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>

#define NDEV 200
#define DELAY_MS 400
#define SYS ".1.3.6.1.2.1.1"

/* Seed 11 with --down 5 gives, among 200 devices, fast, slow, agentless and down ones. */
static const char *const fleet_args[] = {"--seed", "11",	"--down",    "5", "--snmp-delay",
					 "400",	   "--latency", "fixed:1ms", NULL};

/* GetRequest sysName.0, community "public", request-id 0x1234: a fixed test vector. */
static const uint8_t get_sysname[] = {
    0x30, 0x27, 0x02, 0x01, 0x01, 0x04, 0x06, 'p',  'u',  'b',	'l',  'i',  'c',  0xa0,
    0x1a, 0x02, 0x02, 0x12, 0x34, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30,
    0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x05, 0x00, 0x05, 0x00};

/* GetBulkRequest (non-repeaters 0, max-repetitions 10) from .1.3.6.1.2.1.1, "public". */
static const uint8_t getbulk_system[] = {0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x06, 'p',	 'u',  'b',
					 'l',  'i',  'c',  0xa5, 0x18, 0x02, 0x02, 0x43, 0x21, 0x02,
					 0x01, 0x00, 0x02, 0x01, 0x0a, 0x30, 0x0c, 0x30, 0x0a, 0x06,
					 0x06, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x05, 0x00};

struct picks {
	int fast;    /* an agent that answers at once */
	int fast2;   /* another one */
	int slow;    /* an agent that answers after DELAY_MS */
	int noagent; /* up, but no agent */
	int down;    /* an agent on a down device */
	unsigned agents, slows;
};

static int dev_is(const char *t, unsigned i, const char *key, const char *want)
{
	char v[64];

	truth_dev(t, i, key, v, sizeof(v));
	return !strcmp(v, want);
}

/* Classifies the devices from the truth file of the running fleet. */
static void pick(struct fleet *f, struct picks *p)
{
	char *t;

	cr_assert_eq(system("for t in snmpget snmpgetnext snmpwalk snmpbulkwalk; do "
			    "command -v $t >/dev/null || exit 1; done"),
		     0, "needs net-snmp's command-line tools (Debian package snmp)");
	fleet_dump(f);
	t = fleet_truth(f);
	memset(p, 0, sizeof(*p));
	p->fast = p->fast2 = p->slow = p->noagent = p->down = -1;
	for (unsigned i = 0; i < f->ndev; i++) {
		int agent = dev_is(t, i, "snmp_agent", "true");
		int slow = dev_is(t, i, "snmp_slow", "true");
		int down = dev_is(t, i, "down", "true") || dev_is(t, i, "flap", "true");

		p->agents += agent;
		p->slows += slow;
		if (agent && !slow && !down) {
			if (p->fast < 0)
				p->fast = (int)i;
			else if (p->fast2 < 0)
				p->fast2 = (int)i;
		}
		if (slow && !down && p->slow < 0)
			p->slow = (int)i;
		if (!agent && !down && p->noagent < 0)
			p->noagent = (int)i;
		if (agent && down && p->down < 0)
			p->down = (int)i;
	}
	free(t);
	cr_assert(p->fast >= 0 && p->fast2 >= 0 && p->slow >= 0 && p->noagent >= 0 && p->down >= 0,
		  "seed lacks a kind of device: fast %d/%d slow %d noagent %d down %d", p->fast,
		  p->fast2, p->slow, p->noagent, p->down);
}

/* A device number | AT6: the device at its IPv6 address (fleetsim --family 6 or both). */
#define AT6 0x80000000u

/*
 * Runs "TOOL -v2c -c COMMUNITY -On OPTS ADDR OIDS" (stderr too, net-snmp's notes about its
 * persistent directory left out) into @out; returns the exit status. ADDR is device @dev's
 * IPv4 address, or with AT6 udp6:[its IPv6 address]:161.
 */
static int snmp(const struct fleet *f, const char *tool, const char *community, const char *opts,
		unsigned dev, const char *oids, char *out, size_t n)
{
	char cmd[768], a[64], line[512];
	size_t used = 0;
	FILE *p;
	int st;

	if (dev & AT6) {
		char a6[48];

		fmt_addr6(a6, sizeof(a6), fleet_addr(dev & ~AT6));
		snprintf(a, sizeof(a), "udp6:[%s]:161", a6);
	} else {
		fmt_addr(a, sizeof(a), fleet_addr(dev));
	}
	snprintf(cmd, sizeof(cmd), "SNMP_PERSISTENT_DIR=%s/snmp %s -v2c -c %s -On %s %s %s 2>&1",
		 f->dir, tool, community, opts, a, oids);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	out[0] = '\0';
	while (fgets(line, sizeof(line), p)) {
		if (!strncmp(line, "Created directory", 17))
			continue;
		used += (size_t)snprintf(out + used, n - used, "%s", line);
		if (used >= n)
			used = n - 1;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A Get to @dev gets no answer within @secs ("0.5"). */
static void expect_timeout(const struct fleet *f, const char *community, unsigned dev,
			   const char *secs)
{
	char out[1024], opts[32];
	int rc;

	snprintf(opts, sizeof(opts), "-t %s -r 0", secs);
	rc = snmp(f, "snmpget", community, opts, dev, SYS ".5.0", out, sizeof(out));

	cr_expect_neq(rc, 0, "device %u answered: %s", dev, out);
	cr_expect_not_null(strstr(out, "Timeout: No Response"), "device %u: %s", dev, out);
}

static void sys_name(unsigned dev, char *out, size_t n)
{
	unsigned a = fleet_addr(dev & ~AT6);

	snprintf(out, n, "\"sim-%u-%u-%u-%u\"\n", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
		 a & 255);
}

TestSuite(fleetsim_snmp, .timeout = 120);

Test(fleetsim_snmp, get_answers_the_device_s_own_system_group)
{
	struct fleet f;
	struct picks p;
	char out[2048], want[256], *t;
	unsigned long long up1, up2;
	int devs[2];

	enter_netns();
	fleet_start(&f, NDEV, fleet_args);
	pick(&f, &p);
	t = fleet_truth(&f);
	devs[0] = p.fast;
	devs[1] = p.fast2;
	for (int k = 0; k < 2; k++) {
		unsigned d = (unsigned)devs[k];
		char descr[256], objid[128], got[300];

		cr_assert_eq(snmp(&f, "snmpget", "public", "-Oqv -t 1 -r 0", d, SYS ".5.0", out,
				  sizeof(out)),
			     0, "%s", out);
		sys_name(d, want, sizeof(want));
		cr_expect_str_eq(out, want);

		truth_dev(t, d, "sys_descr", descr, sizeof(descr));
		cr_assert_eq(snmp(&f, "snmpget", "public", "-Oqv -t 1 -r 0", d, SYS ".1.0", out,
				  sizeof(out)),
			     0, "%s", out);
		snprintf(got, sizeof(got), "\"%s\"\n", descr);
		cr_expect_str_eq(out, got);

		truth_dev(t, d, "sys_object_id", objid, sizeof(objid));
		cr_assert_eq(snmp(&f, "snmpget", "public", "-Oqv -t 1 -r 0", d, SYS ".2.0", out,
				  sizeof(out)),
			     0, "%s", out);
		snprintf(got, sizeof(got), ".%s\n", objid);
		cr_expect_str_eq(out, got);
		cr_expect(!strncmp(objid, "1.3.6.1.4.1.", 12), "not an enterprise OID: %s", objid);
	}
	free(t);
	/* different devices, different names */
	cr_assert_eq(snmp(&f, "snmpget", "public", "-Oqv -t 1 -r 0", (unsigned)p.fast2, SYS ".5.0",
			  out, sizeof(out)),
		     0);
	sys_name((unsigned)p.fast, want, sizeof(want));
	cr_expect_str_neq(out, want);

	/* a scalar without its .0 instance, and an object the agent lacks */
	snmp(&f, "snmpget", "public", "-t 1 -r 0", (unsigned)p.fast, SYS ".5 " SYS ".9.0", out,
	     sizeof(out));
	cr_expect_not_null(strstr(out, SYS ".5 = No Such Instance"), "%s", out);
	cr_expect_not_null(strstr(out, SYS ".9.0 = No Such Object"), "%s", out);

	/* sysUpTime grows with time, in 1/100 s */
	cr_assert_eq(snmp(&f, "snmpget", "public", "-Oqvt -t 1 -r 0", (unsigned)p.fast, SYS ".3.0",
			  out, sizeof(out)),
		     0, "%s", out);
	up1 = strtoull(out, NULL, 10);
	usleep(500 * 1000);
	cr_assert_eq(snmp(&f, "snmpget", "public", "-Oqvt -t 1 -r 0", (unsigned)p.fast, SYS ".3.0",
			  out, sizeof(out)),
		     0, "%s", out);
	up2 = strtoull(out, NULL, 10);
	cr_expect(up2 >= up1 + 45 && up2 <= up1 + 150, "sysUpTime %llu then %llu after 0.5 s", up1,
		  up2);
	fleet_stop(&f);
}

/* The lines of @out that are not empty, up to 16. */
static int split_lines(char *out, char **lines)
{
	int n = 0;

	for (char *s = strtok(out, "\n"); s && n < 16; s = strtok(NULL, "\n"))
		lines[n++] = s;
	return n;
}

static void expect_walk(char *out)
{
	char *lines[16], want[64];
	int n = split_lines(out, lines);

	cr_assert_eq(n, 7, "walk gave %d lines", n);
	for (int i = 0; i < 6; i++) {
		snprintf(want, sizeof(want), SYS ".%d.0 = ", i + 1);
		cr_expect(!strncmp(lines[i], want, strlen(want)), "line %d: %s", i, lines[i]);
	}
	cr_expect_str_eq(lines[6], SYS ".6.0 = No more variables left in this MIB View (It is past "
				       "the end of the MIB tree)");
}

Test(fleetsim_snmp, getnext_walks_six_objects_then_end_of_mib_view)
{
	struct fleet f;
	struct picks p;
	char out[4096];
	unsigned d;

	enter_netns();
	fleet_start(&f, NDEV, fleet_args);
	pick(&f, &p);
	d = (unsigned)p.fast;

	cr_assert_eq(snmp(&f, "snmpwalk", "public", "-t 1 -r 0", d, SYS, out, sizeof(out)), 0, "%s",
		     out);
	expect_walk(out);
	/* from the default root (mib-2) too */
	cr_assert_eq(snmp(&f, "snmpwalk", "public", "-t 1 -r 0", d, "", out, sizeof(out)), 0, "%s",
		     out);
	expect_walk(out);
	/* GetBulk ends the same way */
	cr_assert_eq(snmp(&f, "snmpbulkwalk", "public", "-t 1 -r 0", d, SYS, out, sizeof(out)), 0,
		     "%s", out);
	expect_walk(out);

	snmp(&f, "snmpgetnext", "public", "-t 1 -r 0", d, SYS ".3", out, sizeof(out));
	cr_expect(!strncmp(out, SYS ".3.0 = Timeticks: ", strlen(SYS ".3.0 = Timeticks: ")), "%s",
		  out);
	snmp(&f, "snmpgetnext", "public", "-t 1 -r 0", d, SYS ".3.0", out, sizeof(out));
	cr_expect(!strncmp(out, SYS ".4.0 = STRING: ", strlen(SYS ".4.0 = STRING: ")), "%s", out);
	snmp(&f, "snmpgetnext", "public", "-t 1 -r 0", d, ".1.3", out, sizeof(out));
	cr_expect(!strncmp(out, SYS ".1.0 = STRING: ", strlen(SYS ".1.0 = STRING: ")), "%s", out);
	snmp(&f, "snmpgetnext", "public", "-t 1 -r 0", d, SYS ".6.0", out, sizeof(out));
	cr_expect_str_eq(out, SYS ".6.0 = No more variables left in this MIB View (It is past the "
				  "end of the MIB tree)\n");
	fleet_stop(&f);
}

Test(fleetsim_snmp, wrong_community_gets_no_answer)
{
	static const char *const args[] = {"--seed",	  "11",	    "--down", "5",
					   "--community", "s3cret", NULL};
	struct fleet f;
	struct picks p;
	char out[1024], want[64];

	enter_netns();
	fleet_start(&f, NDEV, args);
	pick(&f, &p);
	expect_timeout(&f, "public", (unsigned)p.fast, "0.5");
	expect_timeout(&f, "s3cre", (unsigned)p.fast, "0.5");
	cr_assert_eq(snmp(&f, "snmpget", "s3cret", "-Oqv -t 1 -r 0", (unsigned)p.fast, SYS ".5.0",
			  out, sizeof(out)),
		     0, "%s", out);
	sys_name((unsigned)p.fast, want, sizeof(want));
	cr_expect_str_eq(out, want);
	fleet_stop(&f);
	cr_expect_eq(truth_total(&f, "snmp_requests"), 3);
	cr_expect_eq(truth_total(&f, "snmp_drops_community"), 2);
	cr_expect_eq(truth_total(&f, "snmp_answered"), 1);
}

Test(fleetsim_snmp, agentless_and_down_devices_time_out)
{
	struct fleet f;
	struct picks p;

	enter_netns();
	fleet_start(&f, NDEV, fleet_args);
	pick(&f, &p);
	expect_timeout(&f, "public", (unsigned)p.noagent, "0.5");
	expect_timeout(&f, "public", (unsigned)p.down, "0.5");
	fleet_stop(&f);
	cr_expect_eq(truth_total(&f, "snmp_requests"), 2);
	cr_expect_eq(truth_total(&f, "snmp_drops_noagent"), 1);
	cr_expect_eq(truth_total(&f, "snmp_drops_down"), 1);
	cr_expect_eq(truth_total(&f, "snmp_answered"), 0);
}

/*
 * Sends @req to port 161 of device @dev (| AT6: at its IPv6 address, @fd an AF_INET6 socket)
 * and waits up to @wait_ms for an answer: ms, or -1.
 */
static double udp_query(int fd, unsigned dev, const uint8_t *req, size_t len, int wait_ms,
			uint8_t *resp, size_t *resp_len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(161)};
	struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(161)};
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	double t0 = sup_now();
	ssize_t n;

	if (dev & AT6) {
		char a6[48];

		fmt_addr6(a6, sizeof(a6), fleet_addr(dev & ~AT6));
		cr_assert_eq(inet_pton(AF_INET6, a6, &sa6.sin6_addr), 1);
		cr_assert_eq(sendto(fd, req, len, 0, (struct sockaddr *)&sa6, sizeof(sa6)),
			     (ssize_t)len);
	} else {
		sa.sin_addr.s_addr = htonl(fleet_addr(dev));
		cr_assert_eq(sendto(fd, req, len, 0, (struct sockaddr *)&sa, sizeof(sa)),
			     (ssize_t)len);
	}
	if (poll(&pfd, 1, wait_ms) != 1)
		return -1;
	n = recv(fd, resp, *resp_len, 0);
	cr_assert_gt(n, 0);
	*resp_len = (size_t)n;
	return (sup_now() - t0) * 1e3;
}

static int contains(const uint8_t *p, size_t n, const char *s)
{
	return memmem(p, n, s, strlen(s)) != NULL;
}

Test(fleetsim_snmp, slow_device_answers_after_the_delay)
{
	struct fleet f;
	struct picks p;
	uint8_t resp[1500];
	size_t rl = sizeof(resp);
	char name[64], out[1024];
	double ms;
	int fd;

	enter_netns();
	fleet_start(&f, NDEV, fleet_args);
	pick(&f, &p);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);

	ms = udp_query(fd, (unsigned)p.fast, get_sysname, sizeof(get_sysname), 2000, resp, &rl);
	cr_expect(ms >= 0 && ms < 100, "fast device answered after %.1f ms", ms);
	sys_name((unsigned)p.fast, name, sizeof(name));
	name[strlen(name) - 2] = '\0'; /* without the closing quote and newline */
	cr_expect(contains(resp, rl, name + 1), "no sysName in the answer");

	rl = sizeof(resp);
	ms = udp_query(fd, (unsigned)p.slow, get_sysname, sizeof(get_sysname), 3000, resp, &rl);
	cr_expect(ms >= DELAY_MS && ms < DELAY_MS + 300, "slow device answered after %.1f ms", ms);
	sys_name((unsigned)p.slow, name, sizeof(name));
	name[strlen(name) - 2] = '\0';
	cr_expect(contains(resp, rl, name + 1), "no sysName in the slow answer");
	close(fd);

	/* net-snmp's client gives up before the delay, and waits long enough after it */
	expect_timeout(&f, "public", (unsigned)p.slow, "0.2");
	cr_expect_eq(snmp(&f, "snmpget", "public", "-Oqv -t 2 -r 0", (unsigned)p.slow, SYS ".5.0",
			  out, sizeof(out)),
		     0, "%s", out);
	fleet_stop(&f);
	/* the answer to the request that timed out was sent all the same */
	cr_expect_eq(truth_total(&f, "snmp_answered"), 4);
}

/*
 * SNMP over UDP/IPv6 (--family both): net-snmp's tools to udp6:[2001:2::...]:161 get each
 * device's own system group, the same as the truth has it and as IPv4 answers it; a walk ends
 * the same way; the slow agent answers a udp6 socket after the delay, the fast one at once
 * (the kernel drops a datagram with a wrong UDP checksum, so an answer proves it right);
 * agentless, down and wrong-community requests time out; the truth counts the IPv6 share.
 */
Test(fleetsim_snmp, udp6_answers_each_device_s_own_system_group)
{
	static const char *const args[] = {
	    "--seed",	    "11",  "--down",	"5",	     "--family", "both",
	    "--snmp-delay", "400", "--latency", "fixed:1ms", NULL};
	struct fleet f;
	struct picks p;
	char out[4096], want[300], v[256], *t;
	uint8_t resp[1500];
	size_t rl = sizeof(resp);
	int devs[2], fd;
	double ms;

	enter_netns();
	fleet_start(&f, NDEV, args);
	pick(&f, &p);
	t = fleet_truth(&f);
	devs[0] = p.fast;
	devs[1] = p.fast2;
	for (int k = 0; k < 2; k++) {
		unsigned d = (unsigned)devs[k];

		truth_dev(t, d, "addr6", v, sizeof(v));
		fmt_addr6(want, sizeof(want), fleet_addr(d));
		cr_expect_str_eq(v, want);
		truth_dev(t, d, "sys_name", v, sizeof(v));
		snprintf(want, sizeof(want), "\"%s\"\n", v);
		cr_assert_eq(snmp(&f, "snmpget", "public", "-Oqv -t 1 -r 0", d | AT6, SYS ".5.0",
				  out, sizeof(out)),
			     0, "%s", out);
		cr_expect_str_eq(out, want, "device %u over udp6", d);
		sys_name(d, want, sizeof(want));
		cr_expect_str_eq(out, want, "device %u: not its IPv4 sysName", d);

		truth_dev(t, d, "sys_descr", v, sizeof(v));
		snprintf(want, sizeof(want), "\"%s\"\n", v);
		cr_assert_eq(snmp(&f, "snmpget", "public", "-Oqv -t 1 -r 0", d | AT6, SYS ".1.0",
				  out, sizeof(out)),
			     0, "%s", out);
		cr_expect_str_eq(out, want, "device %u over udp6", d);
	}
	free(t);
	cr_assert_eq(snmp(&f, "snmpwalk", "public", "-t 1 -r 0", (unsigned)p.fast | AT6, SYS, out,
			  sizeof(out)),
		     0, "%s", out);
	expect_walk(out);

	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	ms = udp_query(fd, (unsigned)p.fast | AT6, get_sysname, sizeof(get_sysname), 2000, resp,
		       &rl);
	cr_expect(ms >= 0 && ms < 100, "fast device answered udp6 after %.1f ms", ms);
	sys_name((unsigned)p.fast, want, sizeof(want));
	want[strlen(want) - 2] = '\0';
	cr_expect(ms >= 0 && contains(resp, rl, want + 1), "no sysName in the udp6 answer");
	rl = sizeof(resp);
	ms = udp_query(fd, (unsigned)p.slow | AT6, get_sysname, sizeof(get_sysname), 3000, resp,
		       &rl);
	cr_expect(ms >= DELAY_MS && ms < DELAY_MS + 300, "slow device answered udp6 after %.1f ms",
		  ms);
	sys_name((unsigned)p.slow, want, sizeof(want));
	want[strlen(want) - 2] = '\0';
	cr_expect(ms >= 0 && contains(resp, rl, want + 1), "no sysName in the slow udp6 answer");
	close(fd);

	expect_timeout(&f, "public", (unsigned)p.noagent | AT6, "0.5");
	expect_timeout(&f, "public", (unsigned)p.down | AT6, "0.5");
	expect_timeout(&f, "private", (unsigned)p.fast | AT6, "0.5");
	/* and the same device on IPv4 */
	cr_assert_eq(snmp(&f, "snmpget", "public", "-Oqv -t 1 -r 0", (unsigned)p.fast, SYS ".5.0",
			  out, sizeof(out)),
		     0, "%s", out);
	sys_name((unsigned)p.fast, want, sizeof(want));
	cr_expect_str_eq(out, want);
	fleet_stop(&f);

	/* IPv6: 4 gets, a 7-request walk, 2 socket gets answered; 3 not */
	cr_expect_eq(truth_total(&f, "snmp_requests_v6"), 4 + 7 + 2 + 3);
	cr_expect_eq(truth_total(&f, "snmp_answered_v6"), 4 + 7 + 2);
	cr_expect_eq(truth_total(&f, "snmp_requests"), 4 + 7 + 2 + 3 + 1);
	cr_expect_eq(truth_total(&f, "snmp_answered"), 4 + 7 + 2 + 1);
	cr_expect_eq(truth_total(&f, "snmp_drops_noagent"), 1);
	cr_expect_eq(truth_total(&f, "snmp_drops_down"), 1);
	cr_expect_eq(truth_total(&f, "snmp_drops_community"), 1);
	cr_expect_eq(truth_total(&f, "snmp_malformed"), 0);
	cr_expect_eq(truth_total(&f, "stray"), 0);
}

Test(fleetsim_snmp, truth_counts_are_exact)
{
	struct fleet f;
	struct picks p;
	char out[4096], v[64], *t;
	unsigned agents = 0, slows = 0;

	enter_netns();
	fleet_start(&f, NDEV, fleet_args);
	pick(&f, &p);
	/* answered: 3 gets + a 7-request walk + a 1-request bulk walk + 1 slow get */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(snmp(&f, "snmpget", "public", "-t 1 -r 0", (unsigned)p.fast,
				  SYS ".5.0", out, sizeof(out)),
			     0, "%s", out);
	cr_assert_eq(
	    snmp(&f, "snmpwalk", "public", "-t 1 -r 0", (unsigned)p.fast2, SYS, out, sizeof(out)),
	    0, "%s", out);
	cr_assert_eq(snmp(&f, "snmpbulkwalk", "public", "-t 1 -r 0", (unsigned)p.fast2, SYS, out,
			  sizeof(out)),
		     0, "%s", out);
	cr_assert_eq(snmp(&f, "snmpget", "public", "-t 2 -r 0", (unsigned)p.slow, SYS ".5.0", out,
			  sizeof(out)),
		     0, "%s", out);
	/* not answered */
	expect_timeout(&f, "private", (unsigned)p.fast, "0.5");
	expect_timeout(&f, "private", (unsigned)p.fast, "0.5");
	expect_timeout(&f, "public", (unsigned)p.noagent, "0.5");
	expect_timeout(&f, "public", (unsigned)p.down, "0.5");
	/* SNMPv1 is not spoken */
	snmp(&f, "snmpget", "public", "-v1 -t 0.3 -r 0", (unsigned)p.fast, SYS ".5.0", out,
	     sizeof(out));
	cr_expect_not_null(strstr(out, "Timeout"), "%s", out);
	fleet_stop(&f);

	cr_expect_eq(truth_total(&f, "snmp_requests"), 3 + 7 + 1 + 1 + 4);
	cr_expect_eq(truth_total(&f, "snmp_answered"), 3 + 7 + 1 + 1);
	cr_expect_eq(truth_total(&f, "snmp_drops"), 4);
	cr_expect_eq(truth_total(&f, "snmp_drops_community"), 2);
	cr_expect_eq(truth_total(&f, "snmp_drops_noagent"), 1);
	cr_expect_eq(truth_total(&f, "snmp_drops_down"), 1);
	cr_expect_eq(truth_total(&f, "snmp_drops_queue"), 0);
	cr_expect_eq(truth_total(&f, "snmp_unsupported"), 1);
	cr_expect_eq(truth_total(&f, "snmp_malformed"), 0);
	cr_expect_eq(truth_total(&f, "requests"), 0, "SNMP must not count as echo requests");

	t = fleet_truth(&f);
	truth_dev(t, (unsigned)p.fast, "snmp_requests", v, sizeof(v));
	cr_expect_str_eq(v, "5");
	truth_dev(t, (unsigned)p.fast, "snmp_answered", v, sizeof(v));
	cr_expect_str_eq(v, "3");
	truth_dev(t, (unsigned)p.fast, "snmp_drops", v, sizeof(v));
	cr_expect_str_eq(v, "2");
	truth_dev(t, (unsigned)p.fast2, "snmp_answered", v, sizeof(v));
	cr_expect_str_eq(v, "8");
	truth_dev(t, (unsigned)p.slow, "snmp_answered", v, sizeof(v));
	cr_expect_str_eq(v, "1");
	for (unsigned i = 0; i < NDEV; i++) {
		agents += dev_is(t, i, "snmp_agent", "true");
		slows += dev_is(t, i, "snmp_slow", "true");
	}
	free(t);
	cr_expect_eq(truth_total(&f, "snmp_agents"), agents);
	cr_expect_eq(truth_total(&f, "snmp_slow_devices"), slows);
	/* defaults 0.1 without an agent, 0.05 of the agents slow: loose bounds for 200 devices */
	cr_expect(agents >= 160 && agents <= 195, "%u agents of %u", agents, NDEV);
	cr_expect(slows >= 1 && slows <= 25, "%u slow agents", slows);
}

/* ---- malformed input ---- */

/* One fuzzed SNMP payload into @buf: random bytes, a truncated, mutated or lying request. */
static size_t fuzz_payload(uint64_t *rs, uint8_t *buf, size_t cap)
{
	const uint8_t *base = sup_splitmix64(rs) & 1 ? get_sysname : getbulk_system;
	size_t blen = base == get_sysname ? sizeof(get_sysname) : sizeof(getbulk_system);
	size_t n;

	switch (sup_splitmix64(rs) % 6) {
	case 0: /* random bytes */
		n = sup_splitmix64(rs) % 600;
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)sup_splitmix64(rs);
		return n;
	case 1: /* truncated */
		n = sup_splitmix64(rs) % blen;
		memcpy(buf, base, n);
		return n;
	case 2: /* a few bytes changed */
		memcpy(buf, base, blen);
		for (int k = 1 + (int)(sup_splitmix64(rs) % 4); k > 0; k--)
			buf[sup_splitmix64(rs) % blen] = (uint8_t)sup_splitmix64(rs);
		return blen;
	case 3: /* one length byte lies: short, long, long form */
		memcpy(buf, base, blen);
		buf[1 + 2 * (sup_splitmix64(rs) % (blen / 2))] =
		    (uint8_t[]){0x00, 0x7f, 0x80, 0x81, 0x84, 0xff}[sup_splitmix64(rs) % 6];
		return blen;
	case 4: /* deep nesting of sequences with huge lengths */
		n = 2 + sup_splitmix64(rs) % (cap / 4 - 2);
		for (size_t i = 0; i < n; i++) {
			buf[4 * i] = 0x30;
			buf[4 * i + 1] = 0x82;
			buf[4 * i + 2] = (uint8_t)sup_splitmix64(rs);
			buf[4 * i + 3] = (uint8_t)sup_splitmix64(rs);
		}
		return 4 * n;
	default: /* trailing garbage */
		memcpy(buf, base, blen);
		n = blen + sup_splitmix64(rs) % 64;
		for (size_t i = blen; i < n; i++)
			buf[i] = (uint8_t)sup_splitmix64(rs);
		return n;
	}
}

static uint16_t csum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * A raw IPv4/UDP packet to port 161 of @dev carrying get_sysname, broken as @how says:
 * 0 bad UDP checksum, 1 a fragment (MF), 2 UDP length beyond the packet, 3 UDP length < 8,
 * 4 no room for a UDP header. The kernel fills in the IP total length and checksum.
 */
static void send_raw(int fd, unsigned dev, int how)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	uint8_t pkt[128] = {0x45, 0, 0, 0, 0, 0, 0, 0, 64, IPPROTO_UDP};
	uint8_t *udp = pkt + 20;
	size_t ulen = 8 + sizeof(get_sysname), len = 20 + ulen;
	uint16_t c;

	sa.sin_addr.s_addr = htonl(fleet_addr(dev));
	memcpy(pkt + 12, (uint8_t[]){198, 19, 255, 254}, 4);
	memcpy(pkt + 16, &sa.sin_addr, 4);
	udp[0] = 0x9c;
	udp[1] = 0x40; /* 40000 */
	udp[3] = 161;
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	memcpy(udp + 8, get_sysname, sizeof(get_sysname));
	/* the pseudo header's sum: addresses, protocol, length */
	c = csum16(udp, ulen,
		   (uint32_t)(198 << 8 | 19) + (255 << 8 | 254) + (pkt[16] << 8 | pkt[17]) +
		       (pkt[18] << 8 | pkt[19]) + IPPROTO_UDP + (uint32_t)ulen);
	udp[6] = (uint8_t)(c >> 8);
	udp[7] = (uint8_t)c;
	switch (how) {
	case 0:
		udp[7] ^= 0x01;
		break;
	case 1:
		pkt[6] = 0x20;
		break;
	case 2:
		udp[5] += 10;
		break;
	case 3:
		udp[4] = 0;
		udp[5] = 7;
		break;
	default:
		len = 24;
		break;
	}
	cr_assert_eq(sendto(fd, pkt, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len,
		     "raw sendto: %s", strerror(errno));
}

static void drain(int fd)
{
	uint8_t buf[2048];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

Test(fleetsim_snmp, malformed_packets_never_crash_it)
{
	enum { ROUNDS = 20000, RAW_EACH = 50 };
	struct fleet f;
	struct picks p;
	uint64_t rs = 0x5eed5eedull;
	uint8_t buf[1024];
	char out[1024], want[64];
	unsigned long long sent = 0, ok;
	int fd, raw, targets[3];

	enter_netns();
	fleet_start(&f, NDEV, fleet_args);
	pick(&f, &p);
	targets[0] = p.fast;
	targets[1] = p.noagent;
	targets[2] = p.down;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	cr_assert(fd >= 0 && raw >= 0);
	for (int i = 0; i < ROUNDS; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(161)};
		size_t n = fuzz_payload(&rs, buf, sizeof(buf));

		sa.sin_addr.s_addr = htonl(fleet_addr((unsigned)targets[i % 3]));
		if (sendto(fd, buf, n, 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)n)
			sent++;
		/* pace: the TUN queue must never overflow, or the counts below would not add up */
		if (i % 200 == 199) {
			usleep(3000);
			drain(fd);
		}
	}
	for (int how = 0; how < 5; how++)
		for (int i = 0; i < RAW_EACH; i++)
			send_raw(raw, (unsigned)p.fast, how);
	usleep(100 * 1000);
	drain(fd);
	close(fd);
	close(raw);

	cr_assert_eq(kill(f.pid, 0), 0, "fleetsim died");
	cr_assert_eq(snmp(&f, "snmpget", "public", "-Oqv -t 1 -r 0", (unsigned)p.fast, SYS ".5.0",
			  out, sizeof(out)),
		     0, "%s", out);
	sys_name((unsigned)p.fast, want, sizeof(want));
	cr_expect_str_eq(out, want);
	fleet_stop(&f);

	/* every datagram to port 161 is exactly one of request, malformed, unsupported */
	ok = truth_total(&f, "snmp_requests") + truth_total(&f, "snmp_malformed") +
	     truth_total(&f, "snmp_unsupported");
	cr_expect_eq(ok, sent + 4 * RAW_EACH + 1, "%llu classified, %llu sent", ok,
		     sent + 4 * RAW_EACH + 1);
	cr_expect_geq(truth_total(&f, "snmp_malformed"), 4 * RAW_EACH);
	cr_expect_geq(truth_total(&f, "stray"), RAW_EACH);
	cr_expect_eq(truth_total(&f, "write_errors"), 0);
}

/*
 * A whole IPv6 packet (IPPROTO_RAW: the test writes the header) from the TUN device's own
 * 2001:2::c613:fffe to device @dev's IPv6 address: get_sysname over UDP from port 40001 to 161,
 * then, by @how: 0 as it should be; 1 without a UDP checksum (mandatory in IPv6), 2 with a
 * wrong one, 3 a UDP length beyond the packet (malformed); 4 an ICMPv6 neighbour solicitation,
 * 5 an echo request cut to 4 bytes of ICMPv6, 6 an echo request behind a hop-by-hop header,
 * 7 an echo request to 2001:2:0:1::c612:1, inside the /48 but no device's (all stray).
 */
static void send_raw6(int fd, unsigned dev, int how)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
	uint8_t pkt[128] = {0x60, 0, 0, 0, 0, 0, IPPROTO_UDP, 64};
	uint8_t *udp = pkt + 40;
	size_t ulen = 8 + sizeof(get_sysname), len = 40 + ulen;
	char a6[48];
	uint32_t sum = IPPROTO_UDP + (uint32_t)ulen;
	uint16_t c;

	fmt_addr6(a6, sizeof(a6), fleet_addr(dev));
	cr_assert_eq(inet_pton(AF_INET6, a6, &sa.sin6_addr), 1);
	cr_assert_eq(inet_pton(AF_INET6, "2001:2::c613:fffe", pkt + 8), 1);
	memcpy(pkt + 24, &sa.sin6_addr, 16);
	if (how == 7)
		pkt[29] = 1; /* 2001:2:0:1::... */
	pkt[4] = (uint8_t)(ulen >> 8);
	pkt[5] = (uint8_t)ulen;
	udp[0] = 0x9c;
	udp[1] = 0x41; /* 40001 */
	udp[3] = 161;
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	memcpy(udp + 8, get_sysname, sizeof(get_sysname));
	for (int i = 8; i < 40; i += 2)
		sum += (uint32_t)pkt[i] << 8 | pkt[i + 1];
	c = csum16(udp, ulen, sum);
	udp[6] = (uint8_t)(c >> 8);
	udp[7] = (uint8_t)c;
	switch (how) {
	case 0:
		break;
	case 1:
		udp[6] = udp[7] = 0;
		break;
	case 2:
		udp[7] ^= 0x01;
		break;
	case 3:
		udp[5] += 10;
		break;
	default:
		/* ICMPv6: type 135 (NS) or 128 (echo), code 0, checksum left 0, id/seq */
		pkt[6] = IPPROTO_ICMPV6;
		memset(udp, 0, ulen);
		udp[0] = how == 4 ? 135 : 128;
		len = how == 5 ? 44 : 40 + 16;
		if (how == 6) { /* hop-by-hop (8 bytes, PadN) before the echo */
			pkt[6] = 0;
			memmove(udp + 8, udp, 8);
			memset(udp, 0, 8);
			udp[0] = IPPROTO_ICMPV6;
			udp[2] = 1; /* PadN */
			udp[3] = 4;
			len += 8;
		}
		pkt[4] = (uint8_t)((len - 40) >> 8);
		pkt[5] = (uint8_t)(len - 40);
		break;
	}
	cr_assert_eq(sendto(fd, pkt, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len,
		     "raw6 sendto (%d): %s", how, strerror(errno));
}

/*
 * IPv6 packets fleetsim must not answer: SNMP without or with a wrong UDP checksum or a bad
 * length (malformed), neighbour discovery, a cut echo request, an extension header, an
 * address that is no device's (stray). One correct datagram of the same kind is answered.
 */
Test(fleetsim_snmp, udp6_checksum_is_mandatory_and_other_ipv6_is_stray)
{
	enum { EACH = 20 };
	static const char *const args[] = {"--seed",	   "11",  "--down",    "5",
					   "--family",	   "6",	  "--latency", "fixed:1ms",
					   "--snmp-delay", "400", NULL};
	struct sockaddr_in6 me = {.sin6_family = AF_INET6, .sin6_port = htons(40001)};
	struct pollfd pfd;
	struct fleet f;
	struct picks p;
	uint8_t resp[1500];
	char out[1024], want[64];
	int raw, fd, answers = 0;
	ssize_t n;

	enter_netns();
	fleet_start(&f, NDEV, args);
	pick(&f, &p);
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	raw = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW);
	cr_assert(fd >= 0 && raw >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0, "%s", strerror(errno));
	for (int how = 1; how < 8; how++)
		for (int i = 0; i < EACH; i++)
			send_raw6(raw, (unsigned)p.fast, how);
	send_raw6(raw, (unsigned)p.fast, 0);
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	while (poll(&pfd, 1, 300) == 1 && (n = recv(fd, resp, sizeof(resp), 0)) > 0) {
		sys_name((unsigned)p.fast, want, sizeof(want));
		want[strlen(want) - 2] = '\0';
		cr_expect(contains(resp, (size_t)n, want + 1), "an answer without the sysName");
		answers++;
	}
	close(fd);
	close(raw);
	cr_expect_eq(answers, 1, "%d answers to 1 correct datagram", answers);
	cr_assert_eq(kill(f.pid, 0), 0, "fleetsim died");
	cr_assert_eq(snmp(&f, "snmpget", "public", "-Oqv -t 1 -r 0", (unsigned)p.fast | AT6,
			  SYS ".5.0", out, sizeof(out)),
		     0, "%s", out);
	sys_name((unsigned)p.fast, want, sizeof(want));
	cr_expect_str_eq(out, want);
	fleet_stop(&f);

	cr_expect_eq(truth_total(&f, "snmp_malformed"), 3 * EACH);
	cr_expect_eq(truth_total(&f, "stray"), 4 * EACH);
	cr_expect_eq(truth_total(&f, "snmp_requests_v6"), 2);
	cr_expect_eq(truth_total(&f, "snmp_answered_v6"), 2);
	cr_expect_eq(truth_total(&f, "requests"), 0);
	cr_expect_eq(truth_total(&f, "replies"), 0);
	cr_expect_eq(truth_total(&f, "write_errors"), 0);
}

/* One test at a time: the timing bounds assume nothing else runs a fleet on the 2 cores. */
int main(int argc, char *argv[])
{
	return fleet_run_serially(argc, argv);
}
