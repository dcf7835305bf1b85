/* Real sinks for the tests and benchmarks: influxd (InfluxDB 1.x), victoria-metrics and
 * prometheus (its remote-write receiver),
 * each started on a free 127.0.0.1 port in its own temporary directory and stopped by
 * its PID (kill + waitpid). Also small libcurl helpers to query them.
 *
 * Every function that can fail returns 0 or -errno and writes the reason into the
 * server's `why`, so a test can fail with a clear message (a missing binary included:
 * CI installs both packages, so a test never passes without them). */
#ifndef RP_TESTS_SUPPORT_SERVERS_H
#define RP_TESTS_SUPPORT_SERVERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

enum srv_kind { SRV_INFLUX, SRV_VM, SRV_PROM };

/** influxd options. */
struct srv_influx_opts {
	bool auth;	      /* auth-enabled, with user "admin"/"adminpw" created first */
	long max_body_size;   /* [http] max-body-size, 0 = influxd's default */
	const char *database; /* created after start (NULL = none) */
	bool tls; /* https only, with a self-signed certificate for 127.0.0.1 made by the
		     openssl CLI at start: s->url is https://, s->ca the certificate */
};

/** victoria-metrics options; the zero value (or NULL) is what the tests want. */
struct srv_vm_opts {
	bool search_cache;  /* keep the query cache; off by default so that a query sees
			       every sample already written (-search.disableCache) */
	const char *gogc;   /* GOGC in its environment (NULL = Go's default) */
	bool inherit_stdio; /* its output to the caller's stdout and stderr, not s->log */
};

/** One running (or stopped) server. */
struct srv {
	enum srv_kind kind;
	pid_t pid; /* 0 when not running */
	int port;
	int port2; /* influxd RPC bind-address */
	char dir[64];
	char url[64];
	char log[96]; /* its output; "its output above" with inherit_stdio */
	char ca[96];  /* PEM certificate to trust for s->url; "" over plain http */
	char why[512];
	struct srv_influx_opts iopts;
	struct srv_vm_opts vopts; /* its strings must outlive the server */
};

/** Starts influxd and waits for /ping (and creates the database). */
int srv_influx_start(struct srv *s, const struct srv_influx_opts *o);
/** Starts victoria-metrics and waits for /health (o NULL: the defaults). */
int srv_vm_start(struct srv *s, const struct srv_vm_opts *o);
/** Starts prometheus (Debian's 2.42) with --web.enable-remote-write-receiver, no scrape
 *  job, out_of_order_time_window 1h, storage in its directory; waits for /-/ready.
 *  s->url is its base URL: remote write goes to s->url + "/api/v1/write". */
int srv_prom_start(struct srv *s);
/** Starts the same server again: same directory and port. */
int srv_restart(struct srv *s);
/** Sends `sig` to the server and waits for it to exit (SIGKILL after 10 s). */
void srv_stop(struct srv *s, int sig);
/** Stops the server and removes its directory. */
void srv_cleanup(struct srv *s);

/** One HTTP request; *body (NUL-terminated, malloc'ed, caller frees) and *status out.
 *  `content_type` NULL = form-encoded when data is given. `userpw` "user:pw" or NULL. */
int srv_http(const char *method, const char *url, const char *data, size_t len, const char *userpw,
	     char **body, long *status);
/** InfluxQL against s (auth as admin when enabled): the JSON answer, caller frees. */
char *srv_influx_query(struct srv *s, const char *db, const char *q);
/** The first number in the first row of a query answer (e.g. a count), -1 when none. */
int64_t srv_influx_scalar(struct srv *s, const char *db, const char *q);

/** One row of a query answer: its values as text (strings unescaped). */
struct srv_row {
	int ncols;
	char *col[16];
	char *val[16]; /* NULL for JSON null */
};
/** Parses rows of the first series in a /query answer; returns the count (<= max). Free with
 * srv_rows_free. */
int srv_influx_rows(const char *json, struct srv_row *rows, int max);
/** Frees what srv_influx_rows() made. */
void srv_rows_free(struct srv_row *rows, int n);

/** Prometheus or VictoriaMetrics: the value of the PromQL `query` at `at_s` (one
 *  element; 0 for an empty answer), NAN on error. */
double srv_promql(struct srv *s, const char *query, int64_t at_s);
/** VictoriaMetrics: /internal/force_flush. */
int srv_vm_flush(struct srv *s);
/** VictoriaMetrics: samples of the series matching `match` in /api/v1/export (-1 on error);
 *  `sum` (optional) gets the sum of their values. */
int64_t srv_vm_export_count(struct srv *s, const char *match, double *sum);
/** VictoriaMetrics or Prometheus: sum(count_over_time(metric[window])) at `at_s`; -1 on
 *  error. */
int64_t srv_vm_count_over_time(struct srv *s, const char *metric, const char *window, int64_t at_s);

#define FAKE_LOG 64	   /* requests whose arrival and headers are kept */
#define FAKE_HEAD_MAX 2048 /* bytes of each one's request line and headers kept */

/** A canned HTTP server on 127.0.0.1 (a thread of the test): answers every request
 *  with `response` (a full HTTP/1.1 response), or never when it is NULL. Keeps
 *  connections open, up to 16 at once. For the first FAKE_LOG requests it keeps when
 *  each was complete and its request line and headers (NUL-terminated, CRLFs kept),
 *  written before `requests` counts it: entries below atomic_load(&requests) are
 *  complete.
 *
 *  Faults for the tests of a sink that misbehaves, all off after fake_http_start():
 *  with `forward` set (fake_http_forward) and `response` NULL, each request goes on to
 *  a real server and its answer comes back (a proxy, so a real sink counts what was
 *  delivered); `delay_ms` holds each answer that long after its request was complete;
 *  `reset_at` reads only that many bytes of each request's body, then closes the
 *  connection with a reset (the request is never counted in `requests`). */
struct fake_http {
	int fd;
	int port;
	char url[64];
	pthread_t thread;
	_Atomic(const char *) response;
	atomic_int requests;	/* complete requests seen */
	atomic_long body_bytes; /* their bodies, summed */
	atomic_int stop;
	double at[FAKE_LOG];		    /* sup_now() when request i was complete */
	char head[FAKE_LOG][FAKE_HEAD_MAX]; /* its request line and headers */
	_Atomic(const char *) forward;	    /* base URL to pass requests on to, or NULL */
	atomic_int delay_ms;		    /* answer this long after the request */
	atomic_int reset_at;		    /* > 0: reset after this many body bytes */
	atomic_int resets;		    /* connections reset mid-request */
	atomic_int forwarded;		    /* requests passed on and answered 2xx there */
};
/** Starts the server thread. 0 or -errno. */
int fake_http_start(struct fake_http *f, const char *response);
/** Changes the canned answer (NULL = stop answering). */
void fake_http_set(struct fake_http *f, const char *response);
/** Passes requests on to `url` (a base URL such as srv.url; NULL: stop) while the
 *  canned response is NULL; the string must outlive the server. */
void fake_http_forward(struct fake_http *f, const char *url);
/** Holds each answer ms milliseconds after its request was complete (0: at once). */
void fake_http_delay(struct fake_http *f, int ms);
/** Resets each connection once `bytes` of a request's body were read (0: off). */
void fake_http_reset(struct fake_http *f, int bytes);
/** Stops the thread and closes every socket. */
void fake_http_stop(struct fake_http *f);
/** The value of header `name` (case-insensitive) in request i's kept headers, copied
 *  into out; false when the request has no such header. */
bool fake_http_header(const struct fake_http *f, int i, const char *name, char *out, size_t cap);

/* dnsmasq (package dnsmasq-base) as an authoritative-only resolver on 127.0.0.1 and a
 * free UDP port, for the name tests: it answers the names of its hosts file (lines
 * "ADDRESS NAME", either family) with TTL ttl_s, NXDOMAIN for any other name under
 * "test.", and logs every query, which srv_dns_queries() counts. It asks no upstream
 * server, except `forward` ("/DOMAIN/127.0.0.1#PORT", dnsmasq's --server) for a
 * domain the test serves itself (a socket that never answers, say). */
struct srv_dns_opts {
	unsigned ttl_s;	     /* --local-ttl (0: 1 s) */
	const char *hosts;   /* the hosts file's text (NULL: empty) */
	const char *forward; /* NULL: none */
};
struct srv_dns {
	pid_t pid; /* 0 when not running */
	int port;
	unsigned ttl_s;
	char server[32]; /* "127.0.0.1:PORT": rp_names_conf.servers */
	char dir[64];
	char hosts[96];
	char log[96];
	char forward[128];
	char why[512];
};
/** Starts dnsmasq and waits until it has read its hosts file. 0 or -errno (d->why). */
int srv_dns_start(struct srv_dns *d, const struct srv_dns_opts *o);
/** Replaces the hosts file and, when running, reloads it (SIGHUP) and waits for that. */
int srv_dns_set_hosts(struct srv_dns *d, const char *hosts);
/** Queries logged so far of type (as dnsmasq names it, "A", "AAAA"; NULL: any) for name. */
int srv_dns_queries(const struct srv_dns *d, const char *type, const char *name);
/** Stops dnsmasq (SIGTERM, SIGKILL after 10 s); its directory stays. */
void srv_dns_stop(struct srv_dns *d);
/** Starts it again after srv_dns_stop(): same port, files and log. */
int srv_dns_restart(struct srv_dns *d);
/** Stops it and removes its directory. */
void srv_dns_cleanup(struct srv_dns *d);

#endif
