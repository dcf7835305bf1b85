/* The /health, /health/live, /health/ready and /metrics server (libmicrohttpd).
 *
 * Threads: the control thread calls start, publish and stop; libmicrohttpd's one
 * internal polling thread calls answer(). They share only the published snapshot,
 * under `lock`, which either side holds just long enough to copy ~300 bytes: a
 * request never holds it while rendering or sending, so publish never waits on a
 * client. Slow clients are bounded by a connection limit and a per-connection
 * timeout, and the polling thread never blocks on one socket. */
#include "ringprobe/health.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "ringprobe/xalloc.h"

/* Enough for /metrics with every field at its widest (about 7.6 KB), with room for
 * more fields; a snapshot that does not fit answers 500 rather than a truncated body. */
#define RESPONSE_MAX 16384
/* Prometheus, a load balancer's checks and an operator's curl: a handful at once. */
#define CONNECTION_LIMIT 16
/* Seconds a connection may stay idle before it is closed, so a client that opens a
 * socket and sends nothing cannot keep its slot. */
#define CONNECTION_TIMEOUT_S 10

#define TYPE_JSON "application/json"
#define TYPE_PROM "text/plain; version=0.0.4; charset=utf-8"
#define TYPE_TEXT "text/plain; charset=utf-8"

struct rp_health_server {
	struct MHD_Daemon *daemon;
	uint16_t port;
	pthread_mutex_t lock; /* guards published and snap */
	bool published;
	struct rp_health_snapshot snap;
};

/* Queues one response (copied, so `body` may live on the stack). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, const char *type,
			     const char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_str(struct MHD_Connection *c, unsigned int code, const char *type,
				 const char *body)
{
	return reply(c, code, type, body, strlen(body));
}

/* Takes a consistent copy of the last snapshot; false before the first publish. */
static bool snapshot(struct rp_health_server *h, struct rp_health_snapshot *s)
{
	bool published;

	pthread_mutex_lock(&h->lock);
	published = h->published;
	if (published)
		*s = h->snap;
	pthread_mutex_unlock(&h->lock);
	return published;
}

static enum MHD_Result answer_rendered(struct MHD_Connection *c, const struct rp_health_snapshot *s,
				       bool prom)
{
	char buf[RESPONSE_MAX];
	size_t n;

	n = prom ? rp_health_prom(s, buf, sizeof(buf)) : rp_health_json(s, buf, sizeof(buf));
	if (n >= sizeof(buf))
		return reply_str(c, MHD_HTTP_INTERNAL_SERVER_ERROR, TYPE_TEXT,
				 "health response larger than the server's buffer\n");
	if (prom)
		return reply(c, MHD_HTTP_OK, TYPE_PROM, buf, n);
	return reply(c, s->reasons ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, TYPE_JSON, buf, n);
}

/* libmicrohttpd's access handler, on its polling thread. Answers on the first call
 * (after the headers): nothing here reads a request body. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct rp_health_server *h = cls;
	struct rp_health_snapshot s;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_str(
		    c, MHD_HTTP_METHOD_NOT_ALLOWED, TYPE_JSON,
		    "{\"status\":\"method not allowed\",\"allow\":[\"GET\",\"HEAD\"]}\n");

	if (strcmp(url, "/health/live") == 0)
		return reply_str(c, MHD_HTTP_OK, TYPE_JSON, "{\"status\":\"live\"}\n");

	if (strcmp(url, "/health/ready") == 0) {
		if (snapshot(h, &s) && s.ready)
			return reply_str(c, MHD_HTTP_OK, TYPE_JSON, "{\"status\":\"ready\"}\n");
		return reply_str(c, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_JSON,
				 "{\"status\":\"not ready\"}\n");
	}

	if (strcmp(url, "/health") == 0 || strcmp(url, "/metrics") == 0) {
		bool prom = url[1] == 'm';

		if (snapshot(h, &s))
			return answer_rendered(c, &s, prom);
		if (prom)
			return reply_str(c, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_TEXT,
					 "not ready yet: no health snapshot published\n");
		return reply_str(c, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_JSON,
				 "{\"status\":\"not ready\",\"detail\":\"no health snapshot "
				 "published yet\"}\n");
	}

	return reply_str(c, MHD_HTTP_NOT_FOUND, TYPE_JSON,
			 "{\"status\":\"not found\",\"paths\":[\"/health\",\"/health/live\","
			 "\"/health/ready\",\"/metrics\"]}\n");
}

/* getaddrinfo's EAI_* as -errno (STYLE.md section 4: library codes stop here). */
static int gai_errno(int rc)
{
	switch (rc) {
	case EAI_SYSTEM:
		return errno ? -errno : -EIO;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

/* "host:port", bracketing IPv6 literals. */
static void print_why(char *why, size_t whylen, const char *listen, uint16_t port, const char *msg)
{
	const char *host = listen && *listen ? listen : "*";
	bool v6 = strchr(host, ':') != NULL;

	if (why && whylen)
		snprintf(why, whylen, "cannot listen on %s%s%s:%u: %s", v6 ? "[" : "", host,
			 v6 ? "]" : "", (unsigned int)port, msg);
}

/* Tries each address getaddrinfo gives until one binds; the error is the first
 * address's, which is the one the user most likely meant. */
static int start_daemon(struct rp_health_server *h, const char *listen, uint16_t port, char *why,
			size_t whylen)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC,
	    .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res, *ai;
	char service[8];
	int rc, err = 0;

	snprintf(service, sizeof(service), "%u", (unsigned int)port);
	rc = getaddrinfo(listen && *listen ? listen : NULL, service, &hints, &res);
	if (rc) {
		print_why(why, whylen, listen, port, gai_strerror(rc));
		return gai_errno(rc);
	}
	for (ai = res; ai; ai = ai->ai_next) {
		unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC;

		if (ai->ai_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		else if (ai->ai_family != AF_INET)
			continue;
		/* MHD reports a failed socket/bind/listen only through errno. */
		errno = 0;
		h->daemon =
		    MHD_start_daemon(flags, port, NULL, NULL, answer, h, MHD_OPTION_SOCK_ADDR,
				     ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
				     (unsigned int)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
				     (unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
		if (h->daemon)
			break;
		if (!err)
			err = errno ? -errno : -EIO;
	}
	freeaddrinfo(res);
	if (!h->daemon) {
		if (!err)
			err = -EAFNOSUPPORT;
		print_why(why, whylen, listen, port, strerror(-err));
		return err;
	}
	return 0;
}

/* Control thread, at start-up. *out (owned by the caller, freed by stop) is written
 * only on success. */
int rp_health_server_start(struct rp_health_server **out, const char *listen, uint16_t port,
			   char *why, size_t whylen)
{
	struct rp_health_server *h = rp_xcalloc(1, sizeof(*h));
	const union MHD_DaemonInfo *info;
	int err;

	err = pthread_mutex_init(&h->lock, NULL);
	if (err) {
		print_why(why, whylen, listen, port, strerror(err));
		free(h);
		return -err;
	}
	err = start_daemon(h, listen, port, why, whylen);
	if (err)
		goto out_lock;
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info && info->port ? info->port : port;
	*out = h;
	return 0;

out_lock:
	pthread_mutex_destroy(&h->lock);
	free(h);
	return err;
}

uint16_t rp_health_server_port(const struct rp_health_server *h)
{
	return h->port;
}

/* Control thread. Waits at most for a request thread's struct copy. */
void rp_health_server_publish(struct rp_health_server *h, const struct rp_health_snapshot *s)
{
	pthread_mutex_lock(&h->lock);
	h->snap = *s;
	h->published = true;
	pthread_mutex_unlock(&h->lock);
}

/* Control thread. MHD_stop_daemon joins the polling thread, so no request is
 * running when h is freed. */
void rp_health_server_stop(struct rp_health_server *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
