/* influxd and victoria-metrics on loopback, and a canned HTTP server (see servers.h). */
#include "support/support.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_S 30.0

static int fail(struct srv *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	return err;
}

/* The binary named by `env` when set, else on PATH (or in /usr/bin, /usr/local/bin). */
static bool find_bin(const char *name, const char *env, char *out, size_t len)
{
	const char *path = getenv("PATH"), *forced = getenv(env);
	char buf[4096];

	if (forced && *forced) {
		snprintf(out, len, "%s", forced);
		return access(out, X_OK) == 0;
	}
	snprintf(buf, sizeof(buf), "%s:/usr/bin:/usr/local/bin:/usr/sbin", path ? path : "");
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", d, name);
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

struct membuf {
	char *p;
	size_t n;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct membuf *m = arg;
	size_t n = size * nmemb;
	char *p = realloc(m->p, m->n + n + 1);

	if (!p)
		return 0;
	memcpy(p + m->n, ptr, n);
	m->p = p;
	m->n += n;
	m->p[m->n] = '\0';
	return n;
}

/* srv_http() trusting the PEM certificate `ca` (NULL: the system's CAs). */
static int http_ca(const char *method, const char *url, const char *data, size_t len,
		   const char *userpw, const char *ca, char **body, long *status)
{
	struct membuf m = {calloc(1, 1), 0};
	CURL *e = curl_easy_init();
	CURLcode rc;

	if (!e)
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &m);
	if (data) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (method)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (ca && *ca)
		curl_easy_setopt(e, CURLOPT_CAINFO, ca);
	if (userpw) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERPWD, userpw);
	}
	rc = curl_easy_perform(e);
	if (status) {
		*status = 0;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	}
	curl_easy_cleanup(e);
	if (rc != CURLE_OK) {
		free(m.p);
		return rc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
	}
	if (body)
		*body = m.p;
	else
		free(m.p);
	return 0;
}

int srv_http(const char *method, const char *url, const char *data, size_t len, const char *userpw,
	     char **body, long *status)
{
	return http_ca(method, url, data, len, userpw, NULL, body, status);
}

/* environ with `assign` ("NAME=value") in place of any NAME= there: an array to free (its
 * strings are environ's and the caller's). Built before fork: the child must not
 * allocate. */
static char **env_with(const char *assign)
{
	size_t name = strcspn(assign, "=") + 1, n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], assign, name) != 0)
			env[k++] = environ[i];
	env[k++] = (char *)assign;
	env[k] = NULL;
	return env;
}

/* Starts bin with its output appended to `log` (NULL: the caller's stdout and stderr)
 * and environment `env` (NULL: ours). */
static pid_t spawn(const char *bin, char *const argv[], const char *log, char *const env[])
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0600) : -1;

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* Never outlive the test, even one that fails before its cleanup. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		setpgid(0, 0);
		execve(bin, argv, env ? env : environ);
		_exit(127);
	}
	return pid;
}

/* Polls url until it answers 2xx, the process exits, or the time runs out. */
static int wait_ready(struct srv *s, const char *path)
{
	char url[128];
	double until = sup_now() + START_TIMEOUT_S;
	int status;

	snprintf(url, sizeof(url), "%s%s", s->url, path);
	while (sup_now() < until) {
		long code = 0;

		if (http_ca(NULL, url, NULL, 0, NULL, s->ca, NULL, &code) == 0 && code >= 200 &&
		    code < 300)
			return 0;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return fail(s, -ECHILD, "%s exited during start-up; see %s", s->url,
				    s->log);
		}
		sup_sleep_ms(50);
	}
	srv_stop(s, SIGKILL);
	return fail(s, -ETIMEDOUT, "%s not ready after %.0f s; see %s", s->url, START_TIMEOUT_S,
		    s->log);
}

static int make_dir(struct srv *s, const char *tag)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/rp-%s-XXXXXX", tag);
	if (!mkdtemp(s->dir))
		return fail(s, -errno, "mkdtemp: %s", strerror(errno));
	sup_rm_at_exit(s->dir);
	snprintf(s->log, sizeof(s->log), "%s/server.log", s->dir);
	return 0;
}

static int influx_spawn(struct srv *s)
{
	char bin[512], conf[128];
	char *argv[] = {"influxd", "-config", conf, NULL};

	if (!find_bin("influxd", "RP_TEST_INFLUXD", bin, sizeof(bin)))
		return fail(
		    s, -ENOENT,
		    "influxd not found (PATH, or $RP_TEST_INFLUXD): install the influxdb "
		    "package (apt-get install influxdb); these tests need a real InfluxDB 1.x");
	snprintf(conf, sizeof(conf), "%s/influxdb.conf", s->dir);
	s->pid = spawn(bin, argv, s->log, NULL);
	if (s->pid < 0)
		return fail(s, -errno, "fork: %s", strerror(errno));
	return wait_ready(s, "/ping");
}

/* A self-signed certificate (and its key) for 127.0.0.1 in s->dir, made by the
 * openssl CLI (package openssl): s->ca names it. */
static int make_cert(struct srv *s)
{
	char bin[512], key[96], subj[] = "/CN=127.0.0.1", san[] = "subjectAltName=IP:127.0.0.1";
	char *argv[] = {"openssl",
			"req",
			"-x509",
			"-newkey",
			"ec",
			"-pkeyopt",
			"ec_paramgen_curve:prime256v1",
			"-nodes",
			"-days",
			"2",
			"-subj",
			subj,
			"-addext",
			san,
			"-keyout",
			key,
			"-out",
			s->ca,
			NULL};
	pid_t pid;
	int status;

	if (!find_bin("openssl", "RP_TEST_OPENSSL", bin, sizeof(bin)))
		return fail(s, -ENOENT,
			    "openssl not found (PATH, or $RP_TEST_OPENSSL): install the openssl "
			    "package; the TLS tests make their certificate with it");
	snprintf(s->ca, sizeof(s->ca), "%s/cert.pem", s->dir);
	snprintf(key, sizeof(key), "%s/key.pem", s->dir);
	pid = spawn(bin, argv, s->log, NULL);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		s->ca[0] = '\0';
		return fail(s, -EIO, "openssl req failed; see %s", s->log);
	}
	return 0;
}

int srv_influx_start(struct srv *s, const struct srv_influx_opts *o)
{
	char path[128];
	FILE *f;
	int ret;

	memset(s, 0, sizeof(*s));
	s->kind = SRV_INFLUX;
	if (o)
		s->iopts = *o;
	ret = make_dir(s, "influx");
	if (ret)
		return ret;
	s->port = sup_free_port();
	s->port2 = sup_free_port();
	if (s->iopts.tls) {
		ret = make_cert(s);
		if (ret)
			return ret;
	}
	snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d", s->iopts.tls ? "https" : "http",
		 s->port);
	snprintf(path, sizeof(path), "%s/influxdb.conf", s->dir);
	f = fopen(path, "w");
	if (!f)
		return fail(s, -errno, "%s: %s", path, strerror(errno));
	fprintf(f,
		"reporting-disabled = true\n"
		"bind-address = \"127.0.0.1:%d\"\n"
		"[meta]\n  dir = \"%s/meta\"\n"
		"[data]\n  dir = \"%s/data\"\n  wal-dir = \"%s/wal\"\n"
		"  max-values-per-tag = 0\n  max-series-per-database = 0\n"
		"  query-log-enabled = false\n"
		"[retention]\n  enabled = false\n"
		"[monitor]\n  store-enabled = false\n"
		"[continuous_queries]\n  enabled = false\n"
		"[logging]\n  level = \"warn\"\n"
		"[http]\n  enabled = true\n  bind-address = \"127.0.0.1:%d\"\n"
		"  auth-enabled = %s\n  log-enabled = false\n",
		s->port2, s->dir, s->dir, s->dir, s->port, s->iopts.auth ? "true" : "false");
	if (s->iopts.max_body_size)
		fprintf(f, "  max-body-size = %ld\n", s->iopts.max_body_size);
	if (s->iopts.tls)
		fprintf(f,
			"  https-enabled = true\n  https-certificate = \"%s/cert.pem\"\n"
			"  https-private-key = \"%s/key.pem\"\n",
			s->dir, s->dir);
	fclose(f);
	ret = influx_spawn(s);
	if (ret)
		return ret;
	if (s->iopts.auth) {
		/* With auth on and no user yet, influxd takes exactly this statement. */
		char *r = srv_influx_query(
		    s, NULL, "CREATE USER admin WITH PASSWORD 'adminpw' WITH ALL PRIVILEGES");

		if (!r || strstr(r, "\"error\""))
			return fail(s, -EIO, "creating the admin user failed: %s", r ? r : "");
		free(r);
	}
	if (s->iopts.database) {
		char q[256];
		char *r;

		snprintf(q, sizeof(q), "CREATE DATABASE \"%s\"", s->iopts.database);
		r = srv_influx_query(s, NULL, q);
		if (!r || strstr(r, "\"error\""))
			return fail(s, -EIO, "CREATE DATABASE failed: %s", r ? r : "");
		free(r);
	}
	return 0;
}

static int vm_spawn(struct srv *s)
{
	char bin[512], data[96], listen[64], gogc[64];
	char *argv[] = {"victoria-metrics",
			"-storageDataPath",
			data,
			"-httpListenAddr",
			listen,
			"-loggerLevel",
			"ERROR",
			"-retentionPeriod",
			"100y",
			"-search.latencyOffset",
			"0s",
			s->vopts.search_cache ? NULL : "-search.disableCache",
			NULL};
	char **env = NULL;

	if (!find_bin("victoria-metrics", "RP_TEST_VICTORIA_METRICS", bin, sizeof(bin)))
		return fail(
		    s, -ENOENT,
		    "victoria-metrics not found (PATH, or $RP_TEST_VICTORIA_METRICS): install "
		    "the victoria-metrics package; these tests need a real VictoriaMetrics");
	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
	if (s->vopts.gogc && *s->vopts.gogc) {
		snprintf(gogc, sizeof(gogc), "GOGC=%s", s->vopts.gogc);
		env = env_with(gogc);
		if (!env)
			return fail(s, -ENOMEM, "no memory for the environment");
	}
	s->pid = spawn(bin, argv, s->vopts.inherit_stdio ? NULL : s->log, env);
	free(env);
	if (s->pid < 0)
		return fail(s, -errno, "fork: %s", strerror(errno));
	return wait_ready(s, "/health");
}

int srv_vm_start(struct srv *s, const struct srv_vm_opts *o)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->kind = SRV_VM;
	if (o)
		s->vopts = *o;
	ret = make_dir(s, "vm");
	if (ret)
		return ret;
	if (s->vopts.inherit_stdio)
		snprintf(s->log, sizeof(s->log), "its output above");
	s->port = sup_free_port();
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	return vm_spawn(s);
}

static int prom_spawn(struct srv *s)
{
	char bin[512], conf[128], data[128], listen[64];
	char *argv[] = {"prometheus",  "--config.file",
			conf,	       "--storage.tsdb.path",
			data,	       "--web.listen-address",
			listen,	       "--web.enable-remote-write-receiver",
			"--log.level", "warn",
			NULL};

	if (!find_bin("prometheus", "RP_TEST_PROMETHEUS", bin, sizeof(bin)))
		return fail(s, -ENOENT,
			    "prometheus not found (PATH, or $RP_TEST_PROMETHEUS): install the "
			    "prometheus package; these tests need a real Prometheus");
	snprintf(conf, sizeof(conf), "%s/prometheus.yml", s->dir);
	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
	s->pid = spawn(bin, argv, s->log, NULL);
	if (s->pid < 0)
		return fail(s, -errno, "fork: %s", strerror(errno));
	return wait_ready(s, "/-/ready");
}

int srv_prom_start(struct srv *s)
{
	char path[128];
	FILE *f;
	int ret;

	memset(s, 0, sizeof(*s));
	s->kind = SRV_PROM;
	ret = make_dir(s, "prom");
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/prometheus.yml", s->dir);
	f = fopen(path, "w");
	if (!f)
		return fail(s, -errno, "%s: %s", path, strerror(errno));
	/* No scrape job: it only receives. A window for samples older than the newest of
	 * their series (a replayed spool behind live data). */
	fputs("global:\n  scrape_interval: 1h\nstorage:\n  tsdb:\n"
	      "    out_of_order_time_window: 1h\n",
	      f);
	fclose(f);
	s->port = sup_free_port();
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	return prom_spawn(s);
}

int srv_restart(struct srv *s)
{
	if (s->pid)
		return fail(s, -EBUSY, "%s is still running", s->url);
	switch (s->kind) {
	case SRV_INFLUX:
		return influx_spawn(s);
	case SRV_PROM:
		return prom_spawn(s);
	default:
		return vm_spawn(s);
	}
}

void srv_stop(struct srv *s, int sig)
{
	double until = sup_now() + 10.0;
	int status;

	if (!s->pid)
		return;
	kill(s->pid, sig);
	while (waitpid(s->pid, &status, WNOHANG) == 0) {
		if (sup_now() > until) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &status, 0);
			break;
		}
		sup_sleep_ms(20);
	}
	s->pid = 0;
}

void srv_cleanup(struct srv *s)
{
	srv_stop(s, SIGTERM);
	if (s->dir[0]) {
		sup_rm_rf(s->dir);
		sup_rm_at_exit_cancel(s->dir);
	}
	s->dir[0] = '\0';
}

char *srv_influx_query(struct srv *s, const char *db, const char *q)
{
	char url[128], *form, *eq, *edb = NULL, *body = NULL;
	size_t n;
	long status;
	int ret;

	eq = curl_easy_escape(NULL, q, 0);
	if (db)
		edb = curl_easy_escape(NULL, db, 0);
	n = strlen(eq) + (edb ? strlen(edb) : 0) + 32;
	form = malloc(n);
	snprintf(form, n, "q=%s&epoch=ns%s%s", eq, edb ? "&db=" : "", edb ? edb : "");
	curl_free(eq);
	curl_free(edb);
	snprintf(url, sizeof(url), "%s/query", s->url);
	ret = http_ca("POST", url, form, strlen(form),
		      s->iopts.auth && s->pid ? "admin:adminpw" : NULL, s->ca, &body, &status);
	free(form);
	return ret == 0 ? body : NULL;
}

/* A tiny JSON reader, just enough for /query answers. */
static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
		p++;
	return p;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* p at the opening quote; returns a malloc'ed unescaped copy and moves *end past it. */
static char *json_string(const char *p, const char **end)
{
	char *out = malloc(strlen(p) + 1);
	size_t o = 0;

	for (p++; *p && *p != '"'; p++) {
		if (*p != '\\') {
			out[o++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'n':
			out[o++] = '\n';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'u': {
			unsigned cp =
			    (unsigned)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);

			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u') {
				unsigned lo = (unsigned)strtoul(
				    (char[5]){p[3], p[4], p[5], p[6], 0}, NULL, 16);

				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			o += put_utf8(out + o, cp);
			break;
		}
		default:
			out[o++] = *p;
			break;
		}
	}
	out[o] = '\0';
	*end = *p ? p + 1 : p;
	return out;
}

/* One scalar: string, number, true/false/null. */
static char *json_scalar(const char *p, const char **end)
{
	const char *q = p;

	p = skip_ws(p);
	if (*p == '"')
		return json_string(p, end);
	for (q = p; *q && *q != ',' && *q != ']' && *q != '}'; q++)
		;
	*end = q;
	if (!strncmp(p, "null", 4))
		return NULL;
	return strndup(p, (size_t)(q - p));
}

int srv_influx_rows(const char *json, struct srv_row *rows, int max)
{
	const char *cols = strstr(json, "\"columns\":["), *p;
	char *colname[16];
	int ncols = 0, n = 0;

	if (!cols)
		return 0;
	p = cols + strlen("\"columns\":[");
	while (*(p = skip_ws(p)) == '"' && ncols < 16) {
		colname[ncols++] = json_string(p, &p);
		p = skip_ws(p);
		if (*p == ',')
			p++;
	}
	p = strstr(p, "\"values\":[");
	if (p) {
		p += strlen("\"values\":[");
		while (*(p = skip_ws(p)) == '[' && n < max) {
			struct srv_row *r = &rows[n++];

			r->ncols = 0;
			p++;
			while (*(p = skip_ws(p)) != ']' && *p && r->ncols < 16) {
				r->col[r->ncols] = strdup(colname[r->ncols]);
				r->val[r->ncols] = json_scalar(p, &p);
				r->ncols++;
				p = skip_ws(p);
				if (*p == ',')
					p++;
			}
			if (*p == ']')
				p++;
			p = skip_ws(p);
			if (*p == ',')
				p++;
		}
	}
	for (int i = 0; i < ncols; i++)
		free(colname[i]);
	return n;
}

void srv_rows_free(struct srv_row *rows, int n)
{
	for (int i = 0; i < n; i++)
		for (int c = 0; c < rows[i].ncols; c++) {
			free(rows[i].col[c]);
			free(rows[i].val[c]);
		}
}

int64_t srv_influx_scalar(struct srv *s, const char *db, const char *q)
{
	char *json = srv_influx_query(s, db, q);
	struct srv_row row;
	int64_t v = -1;

	if (!json)
		return -1;
	if (!strstr(json, "\"series\"") && !strstr(json, "\"error\""))
		v = 0; /* no series: nothing matched */
	if (srv_influx_rows(json, &row, 1) == 1) {
		if (row.ncols > 1 && row.val[1])
			v = strtoll(row.val[1], NULL, 10);
		srv_rows_free(&row, 1);
	}
	free(json);
	return v;
}

int srv_vm_flush(struct srv *s)
{
	char url[128];
	long status;

	snprintf(url, sizeof(url), "%s/internal/force_flush", s->url);
	return srv_http(NULL, url, NULL, 0, NULL, NULL, &status);
}

int64_t srv_vm_export_count(struct srv *s, const char *match, double *sum)
{
	char url[128], *form, *em, *body = NULL;
	const char *p;
	int64_t count = 0;
	long status;
	size_t n;
	int ret;

	em = curl_easy_escape(NULL, match, 0);
	n = strlen(em) + 16;
	form = malloc(n);
	snprintf(form, n, "match[]=%s", em);
	curl_free(em);
	snprintf(url, sizeof(url), "%s/api/v1/export", s->url);
	ret = srv_http("POST", url, form, strlen(form), NULL, &body, &status);
	free(form);
	if (ret || status != 200) {
		free(body);
		return -1;
	}
	if (sum)
		*sum = 0;
	for (p = body; (p = strstr(p, "\"values\":[")) != NULL;) {
		p += strlen("\"values\":[");
		while (*p && *p != ']') {
			char *end;
			double v = strtod(p, &end);

			if (end == p)
				break;
			count++;
			if (sum)
				*sum += v;
			p = end;
			if (*p == ',')
				p++;
		}
	}
	free(body);
	return count;
}

double srv_promql(struct srv *s, const char *query, int64_t at_s)
{
	char url[256], *form, *eq, *body = NULL;
	const char *p;
	long status;
	double v = NAN;
	size_t n;

	eq = curl_easy_escape(NULL, query, 0);
	n = strlen(eq) + 64;
	form = malloc(n);
	snprintf(form, n, "query=%s&time=%lld", eq, (long long)at_s);
	curl_free(eq);
	snprintf(url, sizeof(url), "%s/api/v1/query", s->url);
	if (srv_http("POST", url, form, strlen(form), NULL, &body, &status) || status != 200) {
		free(form);
		free(body);
		return NAN;
	}
	free(form);
	p = strstr(body, "\"value\":[");
	if (p) {
		p = strchr(p, ',');
		p = p ? strchr(p, '"') : NULL;
		if (p)
			v = strtod(p + 1, NULL);
	} else if (strstr(body, "\"result\":[]")) {
		v = 0;
	}
	free(body);
	return v;
}

int64_t srv_vm_count_over_time(struct srv *s, const char *metric, const char *window, int64_t at_s)
{
	char url[256], form[512], q[256], *eq, *body = NULL;
	const char *p;
	long status;
	int64_t v = -1;

	snprintf(q, sizeof(q), "sum(count_over_time(%s[%s]))", metric, window);
	eq = curl_easy_escape(NULL, q, 0);
	snprintf(form, sizeof(form), "query=%s&time=%lld", eq, (long long)at_s);
	curl_free(eq);
	snprintf(url, sizeof(url), "%s/api/v1/query", s->url);
	if (srv_http("POST", url, form, strlen(form), NULL, &body, &status) || status != 200) {
		free(body);
		return -1;
	}
	p = strstr(body, "\"value\":[");
	if (p) {
		p = strchr(p, ',');
		p = p ? strchr(p, '"') : NULL;
		if (p)
			v = (int64_t)strtod(p + 1, NULL);
	} else if (strstr(body, "\"result\":[]")) {
		v = 0;
	}
	free(body);
	return v;
}

#define FAKE_CONNS 16
#define FAKE_BUF (1 << 20)
#define FAKE_RESET_READ 256 /* bytes per read while resets are on: stop mid-body */

struct fake_conn {
	int fd;
	size_t n;
	char *buf;
	bool logged; /* the complete request at buf's start is counted */
	double due;  /* when its answer may go (delay_ms) */
};

/* Length of the complete request at the start of buf[0..n), or 0. */
static size_t request_len(const char *buf, size_t n)
{
	const char *end = memmem(buf, n, "\r\n\r\n", 4);
	size_t hdr, body = 0;

	if (!end)
		return 0;
	hdr = (size_t)(end - buf) + 4;
	for (const char *p = buf; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
		if (*p == '\n')
			p++;
		if (!strncasecmp(p, "Content-Length:", 15))
			body = strtoul(p + 15, NULL, 10);
	}
	return n >= hdr + body ? hdr + body : 0;
}

/* Closes c with a reset (SO_LINGER 0), as a sink that dies mid-request does. */
static void reset_conn(struct fake_conn *c)
{
	struct linger l = {1, 0};

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(c->fd);
	c->fd = -1;
	c->n = 0;
	c->logged = false;
}

/* The value of header `name` in the head h[0..hlen), copied into out ("" if none). */
static void head_value(const char *h, size_t hlen, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);

	out[0] = '\0';
	for (const char *p = h, *end = h + hlen; p && p < end;
	     p = memchr(p, '\n', (size_t)(end - p))) {
		size_t n;

		if (*p == '\n')
			p++;
		if ((size_t)(end - p) <= nlen || strncasecmp(p, name, nlen) != 0 || p[nlen] != ':')
			continue;
		p += nlen + 1;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		n = strcspn(p, "\r\n");
		if (n >= cap)
			n = cap - 1;
		memcpy(out, p, n);
		out[n] = '\0';
		return;
	}
}

/* Passes the request req[0..len) (head of hlen bytes) on to base + its path; writes
 * the upstream's answer (503 when it cannot be reached) as a full response into out. */
static void forward_one(struct fake_http *f, const char *base, const char *req, size_t hlen,
			size_t len, char *out, size_t cap)
{
	char url[512], path[384], enc[64], type[96], hdr[2][160];
	const char *sp = memchr(req, ' ', hlen), *sp2;
	struct curl_slist *hl = NULL;
	struct membuf m = {calloc(1, 1), 0};
	long status = 0;
	CURL *e = curl_easy_init();
	CURLcode rc = CURLE_FAILED_INIT;

	path[0] = '\0';
	if (sp && (sp2 = memchr(sp + 1, ' ', hlen - (size_t)(sp + 1 - req))) != NULL)
		snprintf(path, sizeof(path), "%.*s", (int)(sp2 - sp - 1), sp + 1);
	snprintf(url, sizeof(url), "%s%s", base, path);
	head_value(req, hlen, "Content-Encoding", enc, sizeof(enc));
	head_value(req, hlen, "Content-Type", type, sizeof(type));
	if (e) {
		snprintf(hdr[0], sizeof(hdr[0]), "Content-Encoding: %s", enc);
		snprintf(hdr[1], sizeof(hdr[1]), "Content-Type: %s", type);
		if (enc[0])
			hl = curl_slist_append(hl, hdr[0]);
		if (type[0])
			hl = curl_slist_append(hl, hdr[1]);
		hl = curl_slist_append(hl, "Expect:");
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req + hlen + 4);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(len - hlen - 4));
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &m);
		rc = curl_easy_perform(e);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(e);
		curl_slist_free_all(hl);
	}
	if (rc != CURLE_OK || status == 0) {
		status = 503;
		m.n = 0;
	}
	if (status >= 200 && status < 300)
		atomic_fetch_add(&f->forwarded, 1);
	if (m.n > cap / 2)
		m.n = cap / 2;
	snprintf(out, cap, "HTTP/1.1 %ld Forwarded\r\nContent-Length: %zu\r\n\r\n%.*s", status, m.n,
		 (int)m.n, m.p ? m.p : "");
	free(m.p);
}

/* Counts and keeps the complete request at the start of c's buffer (len bytes). */
static void log_request(struct fake_http *f, struct fake_conn *c, size_t len)
{
	const char *hdr_end = memmem(c->buf, len, "\r\n\r\n", 4);
	int seen = atomic_load(&f->requests);

	if (seen < FAKE_LOG) {
		size_t h = (size_t)(hdr_end - c->buf);

		if (h >= FAKE_HEAD_MAX)
			h = FAKE_HEAD_MAX - 1;
		memcpy(f->head[seen], c->buf, h);
		f->head[seen][h] = '\0';
		f->at[seen] = sup_now();
	}
	/* seq_cst: publishes head[seen] and at[seen] to the readers. */
	atomic_fetch_add(&f->requests, 1);
	atomic_fetch_add(&f->body_bytes, (long)(len - (size_t)(hdr_end + 4 - c->buf)));
	c->logged = true;
	c->due = sup_now() + atomic_load(&f->delay_ms) / 1000.0;
}

/* Answers the complete requests at the start of c's buffer whose time has come; false
 * when the connection failed (then closed). */
static bool answer_ready(struct fake_http *f, struct fake_conn *c, char *fwd, size_t fwdcap)
{
	size_t len;

	while ((len = request_len(c->buf, c->n)) > 0) {
		const char *resp, *base;

		if (!c->logged)
			log_request(f, c, len);
		if (sup_now() < c->due)
			return true;
		resp = atomic_load(&f->response);
		base = atomic_load(&f->forward);
		if (!resp && base) {
			const char *hdr_end = memmem(c->buf, len, "\r\n\r\n", 4);

			forward_one(f, base, c->buf, (size_t)(hdr_end - c->buf), len, fwd, fwdcap);
			resp = fwd;
		}
		if (resp && write(c->fd, resp, strlen(resp)) < 0) {
			close(c->fd);
			c->fd = -1;
			return false;
		}
		c->logged = false;
		memmove(c->buf, c->buf + len, c->n - len);
		c->n -= len;
	}
	return true;
}

/* Reads what c has; with resets on, reads little at a time and resets the connection
 * once reset_at bytes of the body are in. false when the connection is gone. */
static bool read_conn(struct fake_http *f, struct fake_conn *c)
{
	int reset_at = atomic_load(&f->reset_at);
	size_t want = FAKE_BUF - c->n;
	const char *end;
	ssize_t r;

	if (reset_at > 0 && want > FAKE_RESET_READ)
		want = FAKE_RESET_READ;
	r = read(c->fd, c->buf + c->n, want);
	if (r <= 0) {
		close(c->fd);
		c->fd = -1;
		return false;
	}
	c->n += (size_t)r;
	if (reset_at > 0 && !c->logged && (end = memmem(c->buf, c->n, "\r\n\r\n", 4)) != NULL &&
	    c->n - (size_t)(end + 4 - c->buf) >= (size_t)reset_at) {
		atomic_fetch_add(&f->resets, 1);
		reset_conn(c);
		return false;
	}
	return true;
}

static void *fake_main(void *arg)
{
	struct fake_http *f = arg;
	struct fake_conn c[FAKE_CONNS];
	struct pollfd pfd[FAKE_CONNS + 1];
	size_t fwdcap = 1 << 16;
	char *fwd = malloc(fwdcap);

	for (int i = 0; i < FAKE_CONNS; i++) {
		c[i].fd = -1;
		c[i].buf = malloc(FAKE_BUF);
		c[i].logged = false;
	}
	while (!atomic_load(&f->stop)) {
		int ready;

		pfd[0].fd = f->fd;
		pfd[0].events = POLLIN;
		for (int i = 0; i < FAKE_CONNS; i++) {
			pfd[i + 1].fd = c[i].fd;
			pfd[i + 1].events = POLLIN;
			pfd[i + 1].revents = 0;
		}
		ready = poll(pfd, FAKE_CONNS + 1, 20);
		if (ready > 0 && (pfd[0].revents & POLLIN)) {
			int fd = accept(f->fd, NULL, NULL);

			for (int i = 0; fd >= 0 && i < FAKE_CONNS; i++)
				if (c[i].fd < 0) {
					c[i].fd = fd;
					c[i].n = 0;
					c[i].logged = false;
					fd = -1;
				}
			if (fd >= 0)
				close(fd);
		}
		for (int i = 0; i < FAKE_CONNS; i++) {
			if (c[i].fd < 0)
				continue;
			/* A delayed answer is due without the socket saying anything. */
			if (ready > 0 && (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !read_conn(f, &c[i]))
				continue;
			answer_ready(f, &c[i], fwd, fwdcap);
		}
	}
	for (int i = 0; i < FAKE_CONNS; i++) {
		if (c[i].fd >= 0)
			close(c[i].fd);
		free(c[i].buf);
	}
	free(fwd);
	return NULL;
}

int fake_http_start(struct fake_http *f, const char *response)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int one = 1, ret;

	memset(f, 0, sizeof(*f));
	atomic_store(&f->response, response);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0)
		return -errno;
	setsockopt(f->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(f->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(f->fd, 64) < 0 ||
	    getsockname(f->fd, (struct sockaddr *)&a, &alen) < 0) {
		ret = -errno;
		close(f->fd);
		return ret;
	}
	f->port = ntohs(a.sin_port);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
	ret = pthread_create(&f->thread, NULL, fake_main, f);
	if (ret) {
		close(f->fd);
		return -ret;
	}
	return 0;
}

void fake_http_set(struct fake_http *f, const char *response)
{
	atomic_store(&f->response, response);
}

void fake_http_forward(struct fake_http *f, const char *url)
{
	atomic_store(&f->forward, url);
}

void fake_http_delay(struct fake_http *f, int ms)
{
	atomic_store(&f->delay_ms, ms);
}

void fake_http_reset(struct fake_http *f, int bytes)
{
	atomic_store(&f->reset_at, bytes);
}

void fake_http_stop(struct fake_http *f)
{
	atomic_store(&f->stop, 1);
	pthread_join(f->thread, NULL);
	close(f->fd);
}

bool fake_http_header(const struct fake_http *f, int i, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p;

	if (i < 0 || i >= FAKE_LOG || i >= atomic_load((atomic_int *)&f->requests))
		return false;
	for (p = strstr(f->head[i], "\r\n"); p; p = strstr(p, "\r\n")) {
		const char *v, *end;
		size_t n;

		p += 2;
		if (strncasecmp(p, name, nlen) != 0 || p[nlen] != ':')
			continue;
		for (v = p + nlen + 1; *v == ' ' || *v == '\t'; v++)
			;
		end = strstr(v, "\r\n");
		n = end ? (size_t)(end - v) : strlen(v);
		if (n >= cap)
			n = cap - 1;
		memcpy(out, v, n);
		out[n] = '\0';
		return true;
	}
	return false;
}
