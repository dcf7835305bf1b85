/* The fault tests' rig (rig.h). */
#include "rig.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <curl/curl.h>

extern char **environ;

void fd_need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (raw ICMP sockets, network and mount namespaces)");
}

void fd_enter_netns(void)
{
	const char *what = "";
	int rc = sup_netns_enter(SUP_NETNS_LO_UP, &what);

	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
}

void fd_init(struct fd_daemon *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/rp-fault-XXXXXX");
	cr_assert_not_null(mkdtemp(d->dir), "mkdtemp: %s", strerror(errno));
	sup_rm_at_exit(d->dir);
	/* The daemon may run as `nobody`: it must reach its spool below. */
	chmod(d->dir, 0755);
	snprintf(d->cfg, sizeof(d->cfg), "%s/config.yml", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/log", d->dir);
	snprintf(d->spool, sizeof(d->spool), "%s/spool", d->dir);
	d->hport = sup_free_port();
	cr_assert_gt(d->hport, 0);
}

void fd_config(struct fd_daemon *d, const struct fd_conf *c)
{
	FILE *f = fopen(d->cfg, "w");

	cr_assert_not_null(f, "%s: %s", d->cfg, strerror(errno));
	if (c->spool_dir)
		snprintf(d->spool, sizeof(d->spool), "%s", c->spool_dir);
	fprintf(f,
		"allow_loopback: true\ndevices: [%s]\nping_interval: %dms\n"
		"health_check_port: %d\nhealth_report_interval: 1d\nshards: 1\n"
		"snmp:\n  enabled: false\n"
		/* The checks count `ping` points against probes sent and points dropped:
		 * no device_state points among them. */
		"output:\n  states: false\n"
		"influxdb:\n  url: %s\n  database: rp\n  batch_size: %d\n  buffer_size: %d\n"
		"  flush_interval: %dms\n  max_inflight: %d\n  gzip: %s\n"
		"spool:\n  dir: %s\n  max_bytes: %lld\n",
		c->devices, c->interval_ms, d->hport, c->url, c->batch_size ? c->batch_size : 100,
		c->buffer_size ? c->buffer_size : 4000, c->flush_ms ? c->flush_ms : 250,
		c->max_inflight ? c->max_inflight : 4, c->gzip ? "true" : "false", d->spool,
		(long long)(c->spool_bytes ? c->spool_bytes : 64 << 20));
	if (c->user)
		fprintf(f, "user: %s\n", c->user);
	if (c->extra)
		fprintf(f, "%s", c->extra);
	fclose(f);
}

void fd_start(struct fd_daemon *d)
{
	char *argv[] = {FAULT_BIN, "run", "--config", d->cfg, NULL};
	char *envp[256];
	size_t n = 0;

	/* d->env replaces any variable of the same name (getenv takes the first). */
	for (char **e = environ; *e && n < 240; e++) {
		bool replaced = false;

		for (int i = 0; i < 4 && d->env[i]; i++) {
			size_t len = strcspn(d->env[i], "=") + 1;

			replaced |= strncmp(*e, d->env[i], len) == 0;
		}
		if (!replaced)
			envp[n++] = *e;
	}
	for (int i = 0; i < 4 && d->env[i]; i++)
		envp[n++] = (char *)d->env[i];
	envp[n] = NULL;
	d->pid = fork();
	cr_assert_geq(d->pid, 0);
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		/* Never outlive the test, even one that fails before its cleanup. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		execve(FAULT_BIN, argv, envp);
		_exit(127);
	}
}

void fd_start_ready(struct fd_daemon *d, int devices)
{
	fd_start(d);
	if (fd_wait_eq(d, "ready", 1, 20) != 1 || fd_wait_eq(d, "devices", devices, 10) != devices)
		fd_dump_log(d);
	cr_assert_eq(fd_health(d, "devices"), devices, "the daemon did not start");
}

int fd_stop(struct fd_daemon *d, double secs)
{
	double until = sup_now() + secs;
	int st;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	while (sup_now() < until) {
		pid_t p = waitpid(d->pid, &st, WNOHANG);

		if (p == d->pid) {
			d->pid = 0;
			if (!WIFEXITED(st))
				fd_dump_log(d);
			cr_assert(WIFEXITED(st), "the daemon died of signal %d", WTERMSIG(st));
			return WEXITSTATUS(st);
		}
		sup_sleep_ms(20);
	}
	fd_kill9(d);
	fd_dump_log(d);
	cr_assert_fail("the daemon did not stop within %.0f s", secs);
	return -1;
}

void fd_kill9(struct fd_daemon *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
}

void fd_fini(struct fd_daemon *d)
{
	fd_kill9(d);
	if (d->dir[0]) {
		sup_rm_rf(d->dir);
		sup_rm_at_exit_cancel(d->dir);
	}
}

void fd_dump_log(const struct fd_daemon *d)
{
	char *s = sup_slurp(d->log);
	size_t n = strlen(s);

	/* The end says most; a long run's log is not worth printing whole. */
	fprintf(stderr, "---- %s (last 6000 bytes) ----\n%s\n----\n", d->log,
		n > 6000 ? s + n - 6000 : s);
	free(s);
}

bool fd_log_has(const struct fd_daemon *d, const char *text)
{
	char *s = sup_slurp(d->log);
	bool ok = strstr(s, text) != NULL;

	free(s);
	return ok;
}

char *fd_health_json(const struct fd_daemon *d)
{
	char url[96], *body = NULL;
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", d->hport);
	if (srv_http("GET", url, NULL, 0, NULL, &body, &status) != 0 || !body) {
		free(body);
		return NULL;
	}
	return body;
}

double fd_health(const struct fd_daemon *d, const char *key)
{
	char *body = fd_health_json(d);
	double v;

	if (!body)
		return -1;
	v = sup_json_number(body, key);
	free(body);
	return v;
}

bool fd_degraded_for(const struct fd_daemon *d, const char *reason)
{
	char pat[64], *body = fd_health_json(d), *r;
	bool yes = false;

	if (!body)
		return false;
	snprintf(pat, sizeof(pat), "\"%s\"", reason);
	r = strstr(body, "\"reasons\":[");
	if (r && strstr(body, "\"status\":\"degraded\"")) {
		char *end = strchr(r, ']');

		if (end) {
			*end = '\0';
			yes = strstr(r, pat) != NULL;
		}
	}
	free(body);
	return yes;
}

double fd_wait_geq(const struct fd_daemon *d, const char *key, double want, double secs)
{
	double until = sup_now() + secs, v = -1;

	while (sup_now() < until) {
		v = fd_health(d, key);
		if (v >= want)
			return v;
		sup_sleep_ms(50);
	}
	return v;
}

double fd_wait_eq(const struct fd_daemon *d, const char *key, double want, double secs)
{
	double until = sup_now() + secs, v = -1;

	while (sup_now() < until) {
		v = fd_health(d, key);
		if (v == want)
			return v;
		sup_sleep_ms(50);
	}
	return v;
}

int64_t fd_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- point keys ------------------------------------------------------------------ */

void fd_keys_add(struct fd_keys *s, uint64_t key)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->k = realloc(s->k, s->cap * sizeof(*s->k));
		cr_assert_not_null(s->k);
	}
	s->k[s->n++] = key;
}

static int cmp_key(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void fd_keys_sort(struct fd_keys *s, bool unique)
{
	size_t o = 0;

	if (s->n)
		qsort(s->k, s->n, sizeof(*s->k), cmp_key);
	if (!unique)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (o == 0 || s->k[o - 1] != s->k[i])
			s->k[o++] = s->k[i];
	s->n = o;
}

/* The first index whose key is >= key (s sorted). */
static size_t lower_bound(const struct fd_keys *s, uint64_t key)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->k[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool fd_keys_has(const struct fd_keys *s, uint64_t key)
{
	size_t i = lower_bound(s, key);

	return i < s->n && s->k[i] == key;
}

size_t fd_keys_count(const struct fd_keys *s, uint64_t key)
{
	size_t i = lower_bound(s, key), n = 0;

	while (i + n < s->n && s->k[i + n] == key)
		n++;
	return n;
}

void fd_keys_free(struct fd_keys *s)
{
	free(s->k);
	memset(s, 0, sizeof(*s));
}

/* ---- the sink ---------------------------------------------------------------------- */

/* The body of an /api/v1/export for `match` (malloc'ed), asserting it worked. */
static char *vm_export(struct srv *s, const char *match)
{
	char url[128], form[256], *em, *body = NULL;
	long status = 0;
	int ret;

	srv_vm_flush(s);
	em = curl_easy_escape(NULL, match, 0);
	snprintf(form, sizeof(form), "match[]=%s", em);
	curl_free(em);
	snprintf(url, sizeof(url), "%s/api/v1/export", s->url);
	ret = srv_http("POST", url, form, strlen(form), NULL, &body, &status);
	cr_assert(ret == 0 && status == 200, "export %s: %d, HTTP %ld", match, ret, status);
	return body;
}

void fd_vm_points(struct srv *s, int interval_ms, struct fd_points *p)
{
	char *body = vm_export(s, "{__name__=\"ping_success\"}");

	memset(p, 0, sizeof(*p));
	for (char *line = body; line && *line;) {
		char *nl = strchr(line, '\n'), *ip, *ts;
		struct in_addr a;
		char ipbuf[32];
		size_t n;

		if (nl)
			*nl = '\0';
		ip = strstr(line, "\"ip\":\"");
		ts = strstr(line, "\"timestamps\":[");
		if (ip && ts) {
			ip += 6;
			n = strcspn(ip, "\"");
			cr_assert_lt(n, sizeof(ipbuf));
			memcpy(ipbuf, ip, n);
			ipbuf[n] = '\0';
			cr_assert_eq(inet_pton(AF_INET, ipbuf, &a), 1, "ip %s", ipbuf);
			p->series++;
			for (char *q = ts + 14; *q && *q != ']';) {
				char *end;
				long long v = strtoll(q, &end, 10);

				if (end == q)
					break;
				fd_keys_add(&p->all, fd_key(ntohl(a.s_addr), v));
				q = *end == ',' ? end + 1 : end;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	free(body);
	fd_keys_sort(&p->all, false);
	/* Per device: repeats, and the probes missing between its first and last point.
	 * A device's probes keep to a fixed schedule (its phase plus whole intervals), so
	 * it had round((last - first) / interval) + 1 of them; each one the sink lacks is
	 * missing. A send may be late under load (then the next gap is as much shorter; other
	 * real-time threads on a busy host can hold a shard back), so only a gap of 3
	 * intervals or more is taken as a run of missing probes, for where they lie: the
	 * rule drops whole segments, seconds of every device. */
	for (size_t i = 0, first = 0, distinct = 0; i < p->all.n; i++) {
		uint64_t k = p->all.k[i], prev = i ? p->all.k[i - 1] : 0;
		int64_t t = (int64_t)(k & ((1ull << 44) - 1));
		int64_t tp = (int64_t)(prev & ((1ull << 44) - 1));
		bool last = i + 1 == p->all.n || p->all.k[i + 1] >> 44 != k >> 44;

		if (i && k == prev) {
			p->dups++;
		} else {
			p->distinct++;
			if (!i || k >> 44 != prev >> 44) {
				first = i;
				distinct = 0;
			} else if (t - tp >= 3 * (int64_t)interval_ms) {
				p->runs++;
				if (!p->miss_first_ms || tp + interval_ms < p->miss_first_ms)
					p->miss_first_ms = tp + interval_ms;
				if (t - interval_ms > p->miss_last_ms)
					p->miss_last_ms = t - interval_ms;
			}
			distinct++;
		}
		if (last) {
			int64_t t0 = (int64_t)(p->all.k[first] & ((1ull << 44) - 1));
			int64_t expected = (t - t0 + interval_ms / 2) / interval_ms + 1;

			if (expected > (int64_t)distinct)
				p->missing += (size_t)(expected - (int64_t)distinct);
		}
	}
}

void fd_points_free(struct fd_points *p)
{
	fd_keys_free(&p->all);
}

static int64_t vm_last_once(struct srv *s, const char *field)
{
	char match[128], *body, *v, *t;
	int64_t val = -1, best = -1;

	snprintf(match, sizeof(match), "{__name__=\"health_metrics_%s\"}", field);
	body = vm_export(s, match);
	/* One series per host; the latest sample of all. */
	for (char *line = body; (v = strstr(line, "\"values\":[")) != NULL;) {
		t = strstr(v, "\"timestamps\":[");
		if (!t)
			break;
		for (char *q = v + 10, *r = t + 14; *q && *q != ']' && *r && *r != ']';) {
			char *e1, *e2;
			double x = strtod(q, &e1);
			long long ts = strtoll(r, &e2, 10);

			if (e1 == q || e2 == r)
				break;
			if (ts >= best) {
				best = ts;
				val = (int64_t)x;
			}
			q = *e1 == ',' ? e1 + 1 : e1;
			r = *e2 == ',' ? e2 + 1 : e2;
		}
		line = t + 14;
	}
	free(body);
	return val;
}

int64_t fd_vm_last(struct srv *s, const char *field)
{
	double until = sup_now() + 10;
	int64_t v;

	/* A point just written may take a moment to be searchable. */
	while ((v = vm_last_once(s, field)) < 0 && sup_now() < until)
		sup_sleep_ms(250);
	return v;
}

int64_t fd_vm_wait_count(struct srv *s, int64_t want, double secs)
{
	double until = sup_now() + secs;
	int64_t got = -1;

	do {
		srv_vm_flush(s);
		got = srv_vm_export_count(s, "{__name__=\"ping_success\"}", NULL);
		if (got >= want)
			break;
		sup_sleep_ms(250);
	} while (sup_now() < until);
	return got;
}

/* ---- the spool on disk (src/writer/writer_int.h's format) ------------------------ */

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Adds the ping lines of one record's line protocol, buf[0..n). */
static size_t add_lines(const char *buf, size_t n, struct fd_keys *out)
{
	size_t added = 0;

	if (!buf)
		return 0;
	for (size_t i = 0; i < n;) {
		const char *line = buf + i, *nl = memchr(line, '\n', n - i);
		size_t ll = nl ? (size_t)(nl - line) : n - i;
		const char *ip = ll ? memmem(line, ll, ",ip=", 4) : NULL;
		const char *sp = ll ? memrchr(line, ' ', ll) : NULL;

		if (ll > 5 && !memcmp(line, "ping,", 5) && ip && sp) {
			char ipbuf[32];
			size_t il = strcspn(ip + 4, " ,");
			struct in_addr a;

			if (il < sizeof(ipbuf)) {
				memcpy(ipbuf, ip + 4, il);
				ipbuf[il] = '\0';
				if (inet_pton(AF_INET, ipbuf, &a) == 1) {
					long long ns = strtoll(sp + 1, NULL, 10);

					fd_keys_add(out, fd_key(ntohl(a.s_addr), ns / 1000000));
					added++;
				}
			}
		}
		i += ll + 1;
	}
	return added;
}

size_t fd_spool_points(const char *dir, struct fd_keys *out)
{
	char path[512];
	unsigned char c[24], h[16];
	uint64_t cseq = 0, coff = 0, *seqs = NULL;
	size_t nseq = 0, added = 0;
	struct dirent *de;
	DIR *dp;
	int fd;

	snprintf(path, sizeof(path), "%s/cursor", dir);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		if (pread(fd, c, sizeof(c), 0) == (ssize_t)sizeof(c) && get32(c) != 0 &&
		    get32(c + 20) == (uint32_t)crc32(0, c, 20)) {
			cseq = get64(c + 4);
			coff = get64(c + 12);
		}
		close(fd);
	}
	dp = opendir(dir);
	if (!dp)
		return 0;
	while ((de = readdir(dp))) {
		unsigned long long seq;
		char tail[8];

		if (sscanf(de->d_name, "%16llx%7s", &seq, tail) == 2 && !strcmp(tail, ".seg") &&
		    strlen(de->d_name) == 20 && seq >= cseq) {
			seqs = realloc(seqs, (nseq + 1) * sizeof(*seqs));
			seqs[nseq++] = seq;
		}
	}
	closedir(dp);
	if (nseq)
		qsort(seqs, nseq, sizeof(*seqs), cmp_key);
	for (size_t i = 0; i < nseq; i++) {
		struct stat sb;
		uint64_t off = seqs[i] == cseq && coff >= 16 ? coff : 16;
		char *data = NULL;

		snprintf(path, sizeof(path), "%s/%016llx.seg", dir, (unsigned long long)seqs[i]);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		if (fstat(fd, &sb) < 0 || sb.st_size < 16) {
			close(fd);
			continue;
		}
		data = malloc((size_t)sb.st_size);
		cr_assert_not_null(data);
		if (pread(fd, data, (size_t)sb.st_size, 0) == sb.st_size) {
			uint64_t size = (uint64_t)sb.st_size;

			while (size - off >= 16) {
				uint32_t len, crc;

				memcpy(h, data + off, 16);
				len = get32(h);
				crc = get32(h + 4);
				if (len < 8 || off + 8 + len > size)
					break; /* torn: not acknowledged */
				if ((uint32_t)crc32(0, (const unsigned char *)data + off + 8,
						    len) == crc)
					added += add_lines(data + off + 16, len - 8, out);
				off += 8 + (uint64_t)len;
			}
		}
		free(data);
		close(fd);
	}
	free(seqs);
	return added;
}
