/* dnsmasq on loopback, the resolver the name tests ask (see servers.h). */
#include "support/support.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DNS_START_TIMEOUT_S 10.0

static int dfail(struct srv_dns *d, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	return err;
}

static int write_file(const char *path, const char *text)
{
	char tmp[160];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fputs(text ? text : "", f);
	if (fclose(f) != 0)
		return -EIO;
	return rename(tmp, path) == 0 ? 0 : -errno;
}

/* Lines of the log containing every one of a and b (b nullable). */
static int count_lines(const char *log, const char *a, const char *b)
{
	char *text = sup_slurp(log), *line = text;
	int n = 0;

	while (line && *line) {
		char *end = strchr(line, '\n');

		if (end)
			*end = '\0';
		if (strstr(line, a) && (!b || strstr(line, b)))
			n++;
		line = end ? end + 1 : NULL;
	}
	free(text);
	return n;
}

/* Waits until the hosts file was read more than `before` times. */
static int wait_read(struct srv_dns *d, int before)
{
	double until = sup_now() + DNS_START_TIMEOUT_S;
	char what[128];
	int status;

	snprintf(what, sizeof(what), "read %s ", d->hosts);
	while (sup_now() < until) {
		if (count_lines(d->log, what, NULL) > before)
			return 0;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return dfail(d, -ECHILD, "dnsmasq exited; see %s", d->log);
		}
		sup_sleep_ms(10);
	}
	return dfail(d, -ETIMEDOUT, "dnsmasq did not read %s; see %s", d->hosts, d->log);
}

static int spawn_dns(struct srv_dns *d)
{
	char port[32], hosts[128], pidf[128], logf[128], ttl[32], user[64], fwd[160], what[128];
	char *argv[24];
	struct passwd *pw = getpwuid(getuid());
	const char *bin = "/usr/sbin/dnsmasq";
	int k = 0, ret;

	if (access(bin, X_OK) != 0)
		bin = "dnsmasq";
	snprintf(port, sizeof(port), "--port=%d", d->port);
	snprintf(hosts, sizeof(hosts), "--addn-hosts=%s", d->hosts);
	snprintf(pidf, sizeof(pidf), "--pid-file=%s/dnsmasq.pid", d->dir);
	snprintf(logf, sizeof(logf), "--log-facility=%s", d->log);
	snprintf(ttl, sizeof(ttl), "--local-ttl=%u", d->ttl_s);
	snprintf(user, sizeof(user), "--user=%s", pw ? pw->pw_name : "root");
	argv[k++] = "dnsmasq";
	argv[k++] = "--conf-file=/dev/null";
	argv[k++] = "--keep-in-foreground";
	argv[k++] = "--no-resolv";
	argv[k++] = "--no-hosts";
	argv[k++] = "--no-poll";
	argv[k++] = "--listen-address=127.0.0.1";
	argv[k++] = "--bind-interfaces";
	argv[k++] = "--local=/test/"; /* unknown names under test. are NXDOMAIN */
	argv[k++] = "--log-queries";
	argv[k++] = "--cache-size=0";
	argv[k++] = port;
	argv[k++] = hosts;
	argv[k++] = pidf;
	argv[k++] = logf;
	argv[k++] = ttl;
	argv[k++] = user;
	if (d->forward[0]) {
		snprintf(fwd, sizeof(fwd), "--server=%s", d->forward);
		argv[k++] = fwd;
	}
	argv[k] = NULL;
	snprintf(what, sizeof(what), "read %s ", d->hosts);
	ret = count_lines(d->log, what, NULL);
	d->pid = fork();
	if (d->pid < 0)
		return dfail(d, -errno, "fork: %s", strerror(errno));
	if (d->pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		setpgid(0, 0);
		execvp(bin, argv);
		_exit(127);
	}
	return wait_read(d, ret);
}

int srv_dns_start(struct srv_dns *d, const struct srv_dns_opts *o)
{
	int ret = 0;

	memset(d, 0, sizeof(*d));
	d->ttl_s = o && o->ttl_s ? o->ttl_s : 1;
	if (o && o->forward)
		snprintf(d->forward, sizeof(d->forward), "%s", o->forward);
	snprintf(d->dir, sizeof(d->dir), "/tmp/rp-dns-XXXXXX");
	if (!mkdtemp(d->dir))
		return dfail(d, -errno, "mkdtemp: %s", strerror(errno));
	sup_rm_at_exit(d->dir);
	snprintf(d->hosts, sizeof(d->hosts), "%s/hosts", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/dnsmasq.log", d->dir);
	ret = write_file(d->hosts, o ? o->hosts : "");
	if (ret)
		return dfail(d, ret, "%s: %s", d->hosts, strerror(-ret));
	/* The port is free for UDP when drawn; another process may take it (or its TCP
	 * twin) before dnsmasq binds: then draw again. */
	for (int attempt = 0; attempt < 5; attempt++) {
		d->port = sup_free_udp_port();
		if (d->port < 0)
			return dfail(d, d->port, "no free UDP port");
		snprintf(d->server, sizeof(d->server), "127.0.0.1:%d", d->port);
		ret = spawn_dns(d);
		if (ret != -ECHILD)
			break;
	}
	return ret;
}

int srv_dns_set_hosts(struct srv_dns *d, const char *hosts)
{
	char what[128];
	int before, ret;

	snprintf(what, sizeof(what), "read %s ", d->hosts);
	before = count_lines(d->log, what, NULL);
	ret = write_file(d->hosts, hosts);
	if (ret)
		return dfail(d, ret, "%s: %s", d->hosts, strerror(-ret));
	if (!d->pid)
		return 0;
	if (kill(d->pid, SIGHUP) != 0)
		return dfail(d, -errno, "kill(SIGHUP): %s", strerror(errno));
	return wait_read(d, before);
}

int srv_dns_queries(const struct srv_dns *d, const char *type, const char *name)
{
	char q[32], what[300];

	snprintf(q, sizeof(q), "query[%s] ", type ? type : "");
	snprintf(what, sizeof(what), " %s from ", name);
	return count_lines(d->log, type ? q : "query[", what);
}

void srv_dns_stop(struct srv_dns *d)
{
	double until = sup_now() + 10.0;
	int status;

	if (!d->pid)
		return;
	kill(d->pid, SIGTERM);
	while (waitpid(d->pid, &status, WNOHANG) == 0) {
		if (sup_now() > until) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
			break;
		}
		sup_sleep_ms(5);
	}
	d->pid = 0;
}

int srv_dns_restart(struct srv_dns *d)
{
	if (d->pid)
		return dfail(d, -EBUSY, "dnsmasq is still running");
	return spawn_dns(d);
}

void srv_dns_cleanup(struct srv_dns *d)
{
	srv_dns_stop(d);
	if (d->dir[0]) {
		sup_rm_rf(d->dir);
		sup_rm_at_exit_cancel(d->dir);
	}
	d->dir[0] = '\0';
}
