/* A private net-snmp agent (snmpd, Debian package snmpd) for the SNMP poller's tests: started
 * in the foreground on 127.0.0.1 and a free UDP port, with its own configuration, log and
 * persistent directory in a mkdtemp directory, stopped by PID. It needs no root and listens
 * on nothing but that port (SMUX, which would bind TCP 199, is left out with -I -smux; no
 * trap sink is configured, so it sends nothing on its own).
 *
 * Plain functions that return false with a reason rather than assert, so the ThreadSanitizer
 * build (no Criterion) uses them too.
 *
 * snmpd_start6 also has it listen on udp6:[::1] and the same port, and take the community
 * from ::1 too (rocommunity6): a host without IPv6 on lo cannot start that one.
 *
 * What it serves: v2c community SNMPD_COMMUNITY (from 127.0.0.1 only), a v3 authPriv
 * SHA/AES user and an authNoPriv MD5 user (below), and sysDescr, sysName, sysLocation,
 * sysContact as given. snmpd takes a value's bytes as they are in the file (quotes, commas,
 * backslashes, control bytes, invalid UTF-8), except that it strips leading and trailing
 * white space, cannot hold a newline or NUL, and refuses values of 256 bytes or more;
 * snmpd_start rejects such values rather than let the agent serve something else. */
#ifndef RP_TESTS_SNMPD_HARNESS_H
#define RP_TESTS_SNMPD_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/support.h"

#define SNMPD_COMMUNITY "public"
/* v3 users: passphrases of at least 8 bytes, with spaces (quoted in the file) */
#define SNMPD_V3_PRIV_USER "rp-sha-aes"
#define SNMPD_V3_PRIV_AUTH "auth pass: sha one"
#define SNMPD_V3_PRIV_PRIV "priv pass: aes one"
#define SNMPD_V3_AUTH_USER "rp-md5"
#define SNMPD_V3_AUTH_AUTH "md5 auth passphrase"
/* sysObjectID of net-snmp's agent on Linux (NET-SNMP-TC netSnmpAgentOIDs.linux) */
#define SNMPD_OBJECT_ID ".1.3.6.1.4.1.8072.3.2.10"
/* The longest value snmpd's system group takes from its configuration file. */
#define SNMPD_VALUE_MAX 255

/** What the agent's system group says. */
struct snmpd_values {
	const char *descr, *name, *location, *contact;
};

struct snmpd_agent {
	pid_t pid;
	uint16_t port;
	uint64_t started_ns; /* CLOCK_MONOTONIC just before snmpd was started */
	uint64_t ready_ns;   /* CLOCK_MONOTONIC when it first answered */
	bool v6;	     /* also on udp6:[::1]:port (snmpd_start6) */
	char dir[64];	     /* the mkdtemp directory: conf, log, pid file, persistent data */
};

#define SNMPD_FAIL(...) (snprintf(why, whylen, __VA_ARGS__), false)

/* Whether snmpd would serve `v` exactly as given (see the top of the file). */
static inline bool snmpd_value_ok(const char *v)
{
	size_t n = strlen(v);

	return n > 0 && n <= SNMPD_VALUE_MAX && !strchr(v, '\n') && !strchr(" \t\r\f\v", v[0]) &&
	       !strchr(" \t\r\f\v", v[n - 1]);
}

/* Path of file `name` in the agent's directory. */
static inline void snmpd_path(const struct snmpd_agent *a, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", a->dir, name);
}

static inline bool snmpd_write_conf(const struct snmpd_agent *a, const struct snmpd_values *v,
				    char *why, size_t whylen)
{
	const char *keys[4] = {"sysDescr", "sysName", "sysLocation", "sysContact"};
	const char *vals[4] = {v->descr, v->name, v->location, v->contact};
	char path[128];
	FILE *f;

	snmpd_path(a, "snmpd.conf", path, sizeof(path));
	f = fopen(path, "w");
	if (!f)
		return SNMPD_FAIL("%s: %s", path, strerror(errno));
	fprintf(f, "rocommunity %s 127.0.0.1\n", SNMPD_COMMUNITY);
	if (a->v6)
		fprintf(f, "rocommunity6 %s ::1\n", SNMPD_COMMUNITY);
	fprintf(f, "createUser %s SHA \"%s\" AES \"%s\"\n", SNMPD_V3_PRIV_USER, SNMPD_V3_PRIV_AUTH,
		SNMPD_V3_PRIV_PRIV);
	fprintf(f, "createUser %s MD5 \"%s\"\n", SNMPD_V3_AUTH_USER, SNMPD_V3_AUTH_AUTH);
	fprintf(f, "rouser %s priv\n", SNMPD_V3_PRIV_USER);
	fprintf(f, "rouser %s auth\n", SNMPD_V3_AUTH_USER);
	fprintf(f, "dontLogTCPWrappersConnects yes\n");
	for (int i = 0; i < 4; i++)
		if (vals[i])
			fprintf(f, "%s %s\n", keys[i], vals[i]);
	if (fclose(f) != 0)
		return SNMPD_FAIL("%s: %s", path, strerror(errno));
	return true;
}

/* The last bytes of the agent's log and stderr, for a failure message. */
static inline void snmpd_log_tail(const struct snmpd_agent *a, char *out, size_t n)
{
	const char *names[2] = {"snmpd.log", "stderr"};
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < 2 && used + 1 < n; i++) {
		char path[128], buf[600];
		size_t got;
		FILE *f;

		snmpd_path(a, names[i], path, sizeof(path));
		f = fopen(path, "r");
		if (!f)
			continue;
		fseek(f, -(long)(sizeof(buf) - 1), SEEK_END);
		got = fread(buf, 1, sizeof(buf) - 1, f);
		buf[got] = '\0';
		fclose(f);
		used += (size_t)snprintf(out + used, n - used, "[%s] %s ", names[i], buf);
		if (used >= n)
			used = n - 1;
	}
}

/* Sends a v2c GetRequest for sysName.0 to the agent every 20 ms until any SNMP message comes
 * back (true), snmpd exits (false, *exited set) or `timeout_ms` passes (false). */
static inline bool snmpd_wait_answer(struct snmpd_agent *a, unsigned timeout_ms, bool *exited)
{
	/* GetRequest sysName.0, community "public", request-id 0x1234 */
	static const uint8_t get[] = {
	    0x30, 0x27, 0x02, 0x01, 0x01, 0x04, 0x06, 'p',  'u',  'b',	'l',  'i',  'c',  0xa0,
	    0x1a, 0x02, 0x02, 0x12, 0x34, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30,
	    0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x05, 0x00, 0x05, 0x00};
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons(a->port),
				 .sin_addr.s_addr = htonl(0x7f000001)};
	uint64_t end = sup_clock_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000u;
	bool ok = false;
	int fd, st;

	*exited = false;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	/* connected: only the agent's answers come in (a refusal shows as ECONNREFUSED) */
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return false;
	}
	while (!ok && sup_clock_ns(CLOCK_MONOTONIC) < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint8_t buf[1500];

		if (waitpid(a->pid, &st, WNOHANG) == a->pid) {
			a->pid = 0;
			*exited = true;
			break;
		}
		if (send(fd, get, sizeof(get), 0) < 0 && errno != ECONNREFUSED)
			break;
		while (poll(&pfd, 1, 20) == 1) {
			ssize_t got = recv(fd, buf, sizeof(buf), 0);

			if (got > 0 && buf[0] == 0x30) {
				ok = true;
				break;
			}
			if (got < 0 && errno != ECONNREFUSED)
				break;
		}
	}
	close(fd);
	if (ok)
		a->ready_ns = sup_clock_ns(CLOCK_MONOTONIC);
	return ok;
}

/* Starts snmpd once on a->port; false with why (and *retry when the port was taken). */
static inline bool snmpd_spawn(struct snmpd_agent *a, bool *retry, char *why, size_t whylen)
{
	char conf[128], log[128], pidf[128], errf[128], addr[64], envd[160], envc[160];
	const char *bin = getenv("SNMPD_BIN");
	char *const argv[] = {
	    (char *)"snmpd", (char *)"-f", (char *)"-C",    (char *)"-c", conf,
	    (char *)"-Lf",   log,	   (char *)"-p",    pidf,	  (char *)"-m",
	    (char *)"",	     (char *)"-I", (char *)"-smux", addr,	  NULL};
	/* the agent's whole environment: its persistent data and configuration path are in
	 * its directory, and no MIB is loaded (Debian ships no IETF MIB files) */
	char *const envp[] = {envd, envc, (char *)"MIBS=", (char *)"PATH=/usr/sbin:/usr/bin:/bin",
			      NULL};
	pid_t parent = getpid();
	bool exited;
	int fd;

	*retry = false;
	snmpd_path(a, "snmpd.conf", conf, sizeof(conf));
	snmpd_path(a, "snmpd.log", log, sizeof(log));
	snmpd_path(a, "snmpd.pid", pidf, sizeof(pidf));
	snmpd_path(a, "stderr", errf, sizeof(errf));
	if (a->v6)
		snprintf(addr, sizeof(addr), "udp:127.0.0.1:%u,udp6:[::1]:%u", (unsigned)a->port,
			 (unsigned)a->port);
	else
		snprintf(addr, sizeof(addr), "udp:127.0.0.1:%u", (unsigned)a->port);
	snprintf(envd, sizeof(envd), "SNMP_PERSISTENT_DIR=%s/persist", a->dir);
	snprintf(envc, sizeof(envc), "SNMPCONFPATH=%s", a->dir);
	if (!bin)
		bin = access("/usr/sbin/snmpd", X_OK) == 0 ? "/usr/sbin/snmpd" : "/usr/bin/snmpd";
	if (access(bin, X_OK) != 0)
		return SNMPD_FAIL("needs snmpd (%s: %s; Debian package snmpd, scripts/deps "
				  "installs it)",
				  bin, strerror(errno));
	fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return SNMPD_FAIL("%s: %s", errf, strerror(errno));
	a->started_ns = sup_clock_ns(CLOCK_MONOTONIC);
	a->pid = fork();
	if (a->pid < 0) {
		close(fd);
		a->pid = 0;
		return SNMPD_FAIL("fork: %s", strerror(errno));
	}
	if (a->pid == 0) {
		/* async-signal-safe calls only: the test may have threads */
		int nul = open("/dev/null", O_RDWR);

		/* a test that dies (failed assertion, crash) takes its agent with it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
		}
		dup2(fd, 2);
		execve(bin, argv, envp);
		_exit(127);
	}
	close(fd);
	if (snmpd_wait_answer(a, 10000, &exited))
		return true;
	if (exited) {
		char tail[1400];

		snmpd_log_tail(a, tail, sizeof(tail));
		/* "Error opening specified endpoint": someone took the port meanwhile */
		*retry = strstr(tail, "endpoint") != NULL;
		return SNMPD_FAIL("snmpd on port %u exited at start: %s", (unsigned)a->port, tail);
	}
	kill(a->pid, SIGKILL);
	waitpid(a->pid, NULL, 0);
	a->pid = 0;
	return SNMPD_FAIL("snmpd on port %u did not answer within 10 s", (unsigned)a->port);
}

/** Starts a private snmpd serving `v` (on [::1] too when v6), waits until it answers; false
 *  with why. The caller owns the agent and stops it with snmpd_stop (also after a failed
 *  start). */
static inline bool snmpd_start_family(struct snmpd_agent *a, const struct snmpd_values *v, bool v6,
				      char *why, size_t whylen)
{
	const char *vals[4] = {v->descr, v->name, v->location, v->contact};
	bool retry = true;

	memset(a, 0, sizeof(*a));
	a->v6 = v6;
	for (int i = 0; i < 4; i++)
		if (vals[i] && !snmpd_value_ok(vals[i]))
			return SNMPD_FAIL("value %d cannot be served as is by snmpd", i);
	snprintf(a->dir, sizeof(a->dir), "/tmp/rp-snmpd-XXXXXX");
	if (!mkdtemp(a->dir)) {
		a->dir[0] = '\0';
		return SNMPD_FAIL("mkdtemp: %s", strerror(errno));
	}
	if (!snmpd_write_conf(a, v, why, whylen))
		return false;
	for (int tries = 0; retry && tries < 8; tries++) {
		int port = sup_free_udp_port();

		if (port < 0)
			return SNMPD_FAIL("no free UDP port on 127.0.0.1: %s", strerror(-port));
		a->port = (uint16_t)port;
		if (snmpd_spawn(a, &retry, why, whylen))
			return true;
	}
	return false;
}

/** snmpd_start_family on 127.0.0.1 only. */
static inline bool snmpd_start(struct snmpd_agent *a, const struct snmpd_values *v, char *why,
			       size_t whylen)
{
	return snmpd_start_family(a, v, false, why, whylen);
}

/** snmpd_start_family on 127.0.0.1 and [::1]. */
static inline bool snmpd_start6(struct snmpd_agent *a, const struct snmpd_values *v, char *why,
				size_t whylen)
{
	return snmpd_start_family(a, v, true, why, whylen);
}

/** Stops the agent (SIGTERM, then SIGKILL after 5 s) and removes its directory and everything
 *  in it. */
static inline void snmpd_stop(struct snmpd_agent *a)
{
	if (a->pid > 0) {
		uint64_t end = sup_clock_ns(CLOCK_MONOTONIC) + 5000000000u;
		pid_t got = 0;

		kill(a->pid, SIGTERM);
		while ((got = waitpid(a->pid, NULL, WNOHANG)) == 0 &&
		       sup_clock_ns(CLOCK_MONOTONIC) < end)
			usleep(2000);
		if (got == 0) {
			kill(a->pid, SIGKILL);
			waitpid(a->pid, NULL, 0);
		}
		a->pid = 0;
	}
	if (a->dir[0])
		sup_rm_rf(a->dir);
	a->dir[0] = '\0';
}

#endif
