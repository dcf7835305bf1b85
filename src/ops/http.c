/* The /health, /health/live, /health/ready and /metrics server (libmicrohttpd).
 *
 * Threads: the control thread calls start, publish and stop; one server thread
 * (serve(), ours, created by start) runs libmicrohttpd's event loop, so answer(),
 * notify() and reap() all run on it. The two share only the published snapshot,
 * under `lock`, which either side holds just long enough to copy ~300 bytes: a
 * request never holds it while rendering or sending, so publish never waits on a
 * client. Slow clients are bounded four ways: a connection limit, a limit per client
 * address, an idle timeout, and a deadline for the whole request (accept to the last
 * byte of the answer; one request per connection), which libmicrohttpd lacks: its
 * timeout is an idle one, so a client trickling a byte a second would keep its slot
 * for ever. The server thread never blocks on one socket. */
#include "ringprobe/health.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "ops/page.h"
#include "ops/page_dist.h"
#include "ringprobe/dist.h"
#include "ops/probe_metrics.h"
#include "ringprobe/facts.h"
#include "ringprobe/snmp.h"
#include "ringprobe/xalloc.h"

/* Enough for /metrics with every field at its widest (about 7.6 KB) and the fleet
 * page (about 6 KB), with room for more; a snapshot that does not fit answers 500
 * rather than a truncated body. */
#define RESPONSE_MAX 32768
/* Prometheus, a load balancer's checks and an operator's curl need a handful at once;
 * the room above that is for slow or hostile clients, each bounded by the deadline. */
#define CONNECTION_LIMIT 64
/* Connections from one client address: one client (or a few behind one NAT) cannot
 * take every slot and lock out Prometheus and the liveness probe. */
#define PER_IP_LIMIT 8
/* Seconds a connection may stay idle before it is closed, so a client that opens a
 * socket and sends nothing cannot keep its slot. */
#define CONNECTION_TIMEOUT_S 10
/* Seconds from accept to the end of the answer. A health request is one packet and
 * an answer of at most 16 KB: a well-behaved client needs milliseconds. */
#define REQUEST_DEADLINE_S 5
/* How often the server thread looks for connections past their deadline. */
#define TICK_MS 100

#define TYPE_JSON "application/json"
#define TYPE_PROM "text/plain; version=0.0.4; charset=utf-8"
#define TYPE_TEXT "text/plain; charset=utf-8"
#define TYPE_HTML "text/html; charset=utf-8"
/* The page runs only its own script and stylesheet and talks only to this server: an
 * outside string that slipped past escaping still could not run or load anything. */
#define PAGE_CSP                                                                                   \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "            \
	"img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* One open connection, from libmicrohttpd's accept to its close (server thread). */
struct slot {
	struct MHD_Connection *conn; /* NULL: free */
	int fd;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	bool shut;	      /* shutdown() done; libmicrohttpd closes it next round */
};

struct rp_health_server {
	struct MHD_Daemon *daemon;
	uint16_t port;
	pthread_t thread;
	atomic_bool stop;
	/* Server thread only. libmicrohttpd accepts at most CONNECTION_LIMIT. */
	struct slot slots[CONNECTION_LIMIT];
	pthread_mutex_t lock; /* guards published, snap and the down list */
	bool published;
	struct rp_health_snapshot snap;
	/* /api/v1/down: the list (down_cap entries, allocated at init), its length and
	 * the devices down in all; page is the server thread's copy of one page. */
	struct rp_down_entry *down, *page;
	char (*page_sys)[RP_SNMP_NAME_MAX]; /* the page's sysNames, page[i].sysname's */
	uint32_t down_cap, ndown;
	uint64_t down_total;
	char *down_buf; /* DOWN_BUF bytes: one rendered page */
	char *page_buf; /* PAGE_BUF bytes: the fleet page (server thread) */
	/* Per-device series (probe_metrics.c): set once by the control thread after
	 * start, read by the server thread; NULL when off. */
	_Atomic(struct rp_pm *) pm;
	/* /api/v1/rtt and /api/v1/loss (dist_*, below): the published view under the
	 * lock (dist.cap rows; NULL before dist_init), and the server thread's copies of
	 * it sorted worst first and by network, each redone when a newer one is asked
	 * for (at most once per publication). */
	struct rp_dist_view dist;
	uint64_t dist_gen;
	atomic_bool dist_on; /* dist_init done (release): the server thread may look */
	struct dist_sorted {
		struct rp_dist_view v;
		uint64_t gen;
		uint32_t lossy;
	} sorted[2];
	char *loss_buf; /* LOSS_BUF bytes: one rendered /api/v1/loss page */
	/* sysNames (facts.h): set once by the control thread, owned by it; NULL = none. */
	_Atomic(struct rp_facts *) facts;
};

/* Rows of the down list on the fleet page; the full list is /api/v1/down's. */
#define PAGE_DOWN_ROWS 50
/* The page with PAGE_DOWN_ROWS rows whose names and sysNames escape at their widest (a
 * 253-byte name is at most 253 x 6 bytes of entities, a 255-byte sysName 255 x 6). */
#define PAGE_BUF ((size_t)RESPONSE_MAX + PAGE_DOWN_ROWS * 4096 + PAGE_DIST_MAX)

/* The RTT chart and its table, and a page of the loss table (page_dist.c). */
#define PAGE_DIST_MAX 32768
/* One /api/v1/loss page at its widest: 256 KB, the API's bound. */
#define LOSS_BUF ((size_t)256 * 1024)

/* One page at its widest: RP_DOWN_PAGE_MAX entries with 253-byte names and 255-byte
 * sysNames of quotes (each escaped to 2 bytes). */
#define DOWN_BUF ((size_t)RP_DOWN_PAGE_MAX * 960 + 256)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (strcmp(type, TYPE_HTML) == 0)
		MHD_add_response_header(r, "Content-Security-Policy", PAGE_CSP);
	/* One request per connection, so the deadline from accept bounds each request
	 * and never cuts an idle keep-alive connection in the middle of its next one. */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
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

/* What is rendered from the snapshot, and how it is answered. */
struct render {
	size_t (*fn)(const struct rp_health_snapshot *s, char *buf, size_t cap);
	const char *type;
	bool degraded_503; /* 503 while degraded (/health), else 200 */
};

static const struct render r_health = {rp_health_json, TYPE_JSON, true};
static const struct render r_metrics = {rp_health_prom, TYPE_PROM, false};
static const struct render r_summary = {rp_page_summary_json, TYPE_JSON, false};

static enum MHD_Result answer_rendered(struct MHD_Connection *c, const struct rp_health_snapshot *s,
				       const struct render *r)
{
	char buf[RESPONSE_MAX];
	size_t n = r->fn(s, buf, sizeof(buf));

	if (n >= sizeof(buf))
		return reply_str(c, MHD_HTTP_INTERNAL_SERVER_ERROR, TYPE_TEXT,
				 "response larger than the server's buffer\n");
	return reply(c, r->degraded_503 && s->reasons ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
		     r->type, buf, n);
}

/* Whether the client takes gzip: Accept-Encoding names it, without a q of 0. */
static bool accepts_gzip(struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
	const char *g = v ? strstr(v, "gzip") : NULL, *q;

	if (!g)
		return false;
	g += 4;
	q = strstr(g, "q=");
	if (q && q < g + strcspn(g, ","))
		return strtod(q + 2, NULL) > 0;
	return true;
}

/* Seconds a per-device scrape may take from accept to its last byte: 20,000 devices are
 * about 25 MB of text (2.5 MB gzip'd) that the client reads at its pace. */
#define PM_DEADLINE_S 60

/* The per-device series, streamed, `prefix` first (/metrics with on_metrics). */
static enum MHD_Result answer_pm(struct rp_health_server *h, struct MHD_Connection *c,
				 struct rp_pm *pm, const char *prefix, size_t len)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	bool gz = accepts_gzip(c);
	struct MHD_Response *r;
	enum MHD_Result ret;
	char why[256];

	(void)h;
	r = rp_pm_response(pm, prefix, len, gz, why, sizeof(why));
	if (!r)
		return reply_str(c, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_TEXT, why);
	if (info && info->socket_context) {
		struct slot *sl = info->socket_context;

		sl->deadline_ns = now_ns() + (uint64_t)PM_DEADLINE_S * 1000000000u;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, TYPE_PROM);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (gz)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* /metrics with the per-device series appended. */
static enum MHD_Result answer_metrics_pm(struct rp_health_server *h, struct MHD_Connection *c,
					 struct rp_pm *pm, const struct rp_health_snapshot *s)
{
	char buf[RESPONSE_MAX];
	size_t n = rp_health_prom(s, buf, sizeof(buf));

	if (n >= sizeof(buf))
		return reply_str(c, MHD_HTTP_INTERNAL_SERVER_ERROR, TYPE_TEXT,
				 "response larger than the server's buffer\n");
	return answer_pm(h, c, pm, buf, n);
}

/* A query argument as a number within [0, max]; dflt when absent or not a number. */
static uint32_t arg_u32(struct MHD_Connection *c, const char *key, uint32_t dflt, uint32_t max)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
	unsigned long long n;
	char *end;

	if (!v || !*v)
		return dflt;
	n = strtoull(v, &end, 10);
	if (*end || v[0] == '-')
		return dflt;
	return n > max ? max : (uint32_t)n;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One page of the down list into h->page, under the lock: the entries the search q
 * matches ("" = all), from the offset-th match, at most limit. The scan of a search
 * reads the whole list (at most down_cap entries) with the lock held; the control
 * thread's publish waits that long, once a second at most. */
static void copy_down(struct rp_health_server *h, const char *q, struct rp_page_down *pd)
{
	struct rp_facts *f = atomic_load_explicit(&h->facts, memory_order_acquire);
	char sys[RP_SNMP_NAME_MAX];
	uint32_t n = 0, matched = 0;

	pthread_mutex_lock(&h->lock);
	pd->listed = h->ndown;
	pd->total = h->down_total;
	if (!*q) {
		matched = pd->listed;
		if (pd->offset < pd->listed) {
			n = pd->listed - pd->offset < pd->limit ? pd->listed - pd->offset
								: pd->limit;
			memcpy(h->page, h->down + pd->offset, n * sizeof(*h->page));
		}
	} else {
		/* The search reads each entry's sysName too (the facts' lock, inside ours:
		 * the control thread never holds both). */
		for (uint32_t i = 0; i < pd->listed; i++) {
			struct rp_down_entry e = h->down[i];

			e.sysname = rp_facts_sysname(f, &e.addr, sys, sizeof(sys)) ? sys : NULL;
			if (!rp_down_match(&e, q))
				continue;
			if (matched >= pd->offset && n < pd->limit) {
				if (e.sysname)
					e.sysname = memcpy(h->page_sys[n], sys, sizeof(sys));
				h->page[n++] = e;
			}
			matched++;
		}
	}
	pthread_mutex_unlock(&h->lock);
	if (!*q) /* after the lock: the page is this thread's own copy */
		for (uint32_t i = 0; i < n; i++)
			h->page[i].sysname =
			    rp_facts_sysname(f, &h->page[i].addr, h->page_sys[i], RP_SNMP_NAME_MAX)
				? h->page_sys[i]
				: NULL;
	pd->v = h->page;
	pd->n = n;
	pd->matched = matched;
	pd->q = q;
	pd->on = true;
	pd->now_ns = real_ns();
}

/* The search argument q: "" when absent; NULL when it is not one rp_down_query_ok
 * takes. */
static const char *arg_query(struct MHD_Connection *c)
{
	const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");

	if (!q)
		return "";
	return rp_down_query_ok(q) ? q : NULL;
}

#define BAD_QUERY "q: a search is at most 64 printable ASCII characters\n"

/* /api/v1/down?offset=O&limit=L&q=S: copies the page under the lock, renders it after. */
static enum MHD_Result answer_down(struct rp_health_server *h, struct MHD_Connection *c)
{
	struct rp_page_down pd = {.offset = arg_u32(c, "offset", 0, UINT32_MAX),
				  .limit = arg_u32(c, "limit", 100, RP_DOWN_PAGE_MAX)};
	const char *q = arg_query(c);
	size_t len;

	if (!h->down_cap)
		return reply_str(c, MHD_HTTP_NOT_FOUND, TYPE_JSON,
				 "{\"status\":\"not found\",\"detail\":\"device states are "
				 "off (output.states: false)\"}\n");
	if (!q)
		return reply_str(c, MHD_HTTP_BAD_REQUEST, TYPE_TEXT, BAD_QUERY);
	copy_down(h, q, &pd);
	len = rp_health_down_json(pd.v, pd.n, pd.offset, pd.listed, pd.total, pd.limit, q,
				  pd.matched, pd.now_ns, h->down_buf, DOWN_BUF);
	if (len >= DOWN_BUF)
		return reply_str(c, MHD_HTTP_INTERNAL_SERVER_ERROR, TYPE_TEXT,
				 "down list page larger than the server's buffer\n");
	return reply(c, MHD_HTTP_OK, TYPE_JSON, h->down_buf, len);
}

/* ---- /api/v1/rtt and /api/v1/loss ---------------------------------------------------- */

enum { SORT_LOSS = 0, SORT_NET = 1 };

/* The server thread's copy of the published view sorted as `order` says, renewed
 * when a newer one was published: copied under the lock (a memcpy of at most
 * RP_DIST_NETS_MAX rows), sorted after. False before dist_init or the first publish. */
static bool dist_sorted(struct rp_health_server *h, int order)
{
	struct dist_sorted *d = &h->sorted[order];
	bool fresh;

	if (!atomic_load_explicit(&h->dist_on, memory_order_acquire))
		return false;
	pthread_mutex_lock(&h->lock);
	fresh = h->dist_gen && d->gen != h->dist_gen;
	if (fresh) {
		struct rp_dist_net *keep = d->v.nets;

		d->v = h->dist;
		d->v.nets = keep;
		memcpy(keep, h->dist.nets, h->dist.nnets * sizeof(*keep));
		d->gen = h->dist_gen;
	}
	pthread_mutex_unlock(&h->lock);
	if (!d->gen)
		return false;
	if (fresh) {
		d->lossy = 0;
		for (uint32_t i = 0; i < d->v.nnets; i++)
			d->lossy += d->v.nets[i].received < d->v.nets[i].sent;
		if (order == SORT_NET)
			rp_dist_sort_by_net(d->v.nets, d->v.nnets);
		else
			rp_dist_sort_by_loss(d->v.nets, d->v.nnets);
	}
	return true;
}

#define DIST_OFF                                                                                   \
	"{\"status\":\"not found\",\"detail\":\"no RTT and loss figures: the daemon "              \
	"publishes them when it probes\"}\n"
#define DIST_NOT_YET "{\"status\":\"not ready\",\"detail\":\"nothing published yet\"}\n"

/* /api/v1/rtt. */
static enum MHD_Result answer_rtt(struct rp_health_server *h, struct MHD_Connection *c)
{
	char buf[RESPONSE_MAX];
	size_t n;

	if (!atomic_load_explicit(&h->dist_on, memory_order_acquire))
		return reply_str(c, MHD_HTTP_NOT_FOUND, TYPE_JSON, DIST_OFF);
	if (!dist_sorted(h, SORT_LOSS))
		return reply_str(c, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_JSON, DIST_NOT_YET);
	n = rp_dist_rtt_json(&h->sorted[SORT_LOSS].v, buf, sizeof(buf));
	if (n >= sizeof(buf))
		return reply_str(c, MHD_HTTP_INTERNAL_SERVER_ERROR, TYPE_TEXT,
				 "response larger than the server's buffer\n");
	return reply(c, MHD_HTTP_OK, TYPE_JSON, buf, n);
}

/* /api/v1/loss?sort=loss|net&offset=O&limit=L. */
static enum MHD_Result answer_loss(struct rp_health_server *h, struct MHD_Connection *c)
{
	const char *sort = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sort");
	int order = SORT_LOSS;
	size_t n;

	if (!atomic_load_explicit(&h->dist_on, memory_order_acquire))
		return reply_str(c, MHD_HTTP_NOT_FOUND, TYPE_JSON, DIST_OFF);
	if (sort && strcmp(sort, "net") == 0)
		order = SORT_NET;
	else if (sort && strcmp(sort, "loss") != 0)
		return reply_str(c, MHD_HTTP_BAD_REQUEST, TYPE_TEXT,
				 "sort: \"loss\" (worst first, the default) or \"net\"\n");
	if (!dist_sorted(h, order))
		return reply_str(c, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_JSON, DIST_NOT_YET);
	n = rp_dist_loss_json(&h->sorted[order].v, order == SORT_NET ? "net" : "loss",
			      arg_u32(c, "offset", 0, UINT32_MAX),
			      arg_u32(c, "limit", 100, RP_DIST_PAGE_MAX), h->loss_buf, LOSS_BUF);
	if (n >= LOSS_BUF)
		return reply_str(c, MHD_HTTP_INTERNAL_SERVER_ERROR, TYPE_TEXT,
				 "loss page larger than the server's buffer\n");
	return reply(c, MHD_HTTP_OK, TYPE_JSON, h->loss_buf, n);
}

/* The fleet page: the snapshot's figures and a page of the down list (/?q=S&offset=O). */
static enum MHD_Result answer_page(struct rp_health_server *h, struct MHD_Connection *c,
				   const struct rp_health_snapshot *s)
{
	struct rp_page_down pd = {.offset = arg_u32(c, "offset", 0, UINT32_MAX),
				  .limit = PAGE_DOWN_ROWS};
	struct rp_page_dist dp = {0};
	const char *q = arg_query(c);
	size_t len;

	if (!q)
		return reply_str(c, MHD_HTTP_BAD_REQUEST, TYPE_TEXT, BAD_QUERY);
	if (h->down_cap)
		copy_down(h, q, &pd);
	if (dist_sorted(h, SORT_LOSS)) {
		const struct dist_sorted *d = &h->sorted[SORT_LOSS];

		dp.v = &d->v;
		dp.lossy = d->lossy;
		dp.offset = arg_u32(c, "loss_offset", 0, UINT32_MAX);
		dp.limit = RP_PAGE_LOSS_ROWS;
		if (dp.offset < d->v.nnets) {
			dp.rows = d->v.nets + dp.offset;
			dp.n =
			    d->v.nnets - dp.offset < dp.limit ? d->v.nnets - dp.offset : dp.limit;
		}
	}
	len = rp_page_html_dist(s, &pd, dp.v ? &dp : NULL, h->page_buf, PAGE_BUF);
	if (len >= PAGE_BUF)
		return reply_str(c, MHD_HTTP_INTERNAL_SERVER_ERROR, TYPE_TEXT,
				 "page larger than the server's buffer\n");
	return reply(c, MHD_HTTP_OK, TYPE_HTML, h->page_buf, len);
}

/* libmicrohttpd's access handler, on its polling thread. Answers on the first call
 * (after the headers): nothing here reads a request body. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct rp_health_server *h = cls;
	struct rp_pm *pm = atomic_load_explicit(&h->pm, memory_order_acquire);
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

	if (pm && strcmp(url, rp_pm_path(pm)) == 0)
		return answer_pm(h, c, pm, NULL, 0);

	if (strcmp(url, "/health") == 0 || strcmp(url, "/metrics") == 0) {
		bool prom = url[1] == 'm';

		if (prom && pm && rp_pm_on_metrics(pm) && snapshot(h, &s))
			return answer_metrics_pm(h, c, pm, &s);
		if (snapshot(h, &s))
			return answer_rendered(c, &s, prom ? &r_metrics : &r_health);
		if (prom)
			return reply_str(c, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_TEXT,
					 "not ready yet: no health snapshot published\n");
		return reply_str(c, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_JSON,
				 "{\"status\":\"not ready\",\"detail\":\"no health snapshot "
				 "published yet\"}\n");
	}

	if (strcmp(url, "/") == 0 || strcmp(url, "/api/v1/summary") == 0) {
		bool html = url[1] == '\0';

		if (snapshot(h, &s) && html)
			return answer_page(h, c, &s);
		if (snapshot(h, &s))
			return answer_rendered(c, &s, &r_summary);
		return reply_str(c, MHD_HTTP_SERVICE_UNAVAILABLE, html ? TYPE_TEXT : TYPE_JSON,
				 html ? "ringprobe is starting: no snapshot yet; reload in a "
					"second\n"
				      : "{\"status\":\"not ready\",\"detail\":\"no health "
					"snapshot published yet\"}\n");
	}

	{
		const unsigned char *data;
		const char *type;
		size_t len;

		if (rp_page_asset(url, &data, &len, &type))
			return reply(c, MHD_HTTP_OK, type, (const char *)data, len);
	}

	if (strcmp(url, "/api/v1/down") == 0)
		return answer_down(h, c);
	if (strcmp(url, "/api/v1/rtt") == 0)
		return answer_rtt(h, c);
	if (strcmp(url, "/api/v1/loss") == 0)
		return answer_loss(h, c);

	return reply_str(c, MHD_HTTP_NOT_FOUND, TYPE_JSON,
			 "{\"status\":\"not found\",\"paths\":[\"/\",\"/api/v1/summary\","
			 "\"/api/v1/down\",\"/api/v1/rtt\",\"/api/v1/loss\",\"/health\",\"/health/"
			 "live\",\"/health/ready\","
			 "\"/metrics\"]}\n");
}

/* Server thread: libmicrohttpd accepted or closed a connection. A connection that
 * finds no slot (cannot happen: the slots match CONNECTION_LIMIT) is not bounded. */
static void notify(void *cls, struct MHD_Connection *c, void **socket_context,
		   enum MHD_ConnectionNotificationCode toe)
{
	struct rp_health_server *h = cls;
	struct slot *sl = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (sl)
			sl->conn = NULL;
		*socket_context = NULL;
		return;
	}
	for (size_t i = 0; i < CONNECTION_LIMIT; i++) {
		const union MHD_ConnectionInfo *info;

		if (h->slots[i].conn)
			continue;
		info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!info)
			return;
		h->slots[i] = (struct slot){
		    .conn = c,
		    .fd = info->connect_fd,
		    .deadline_ns = now_ns() + (uint64_t)REQUEST_DEADLINE_S * 1000000000u,
		};
		*socket_context = &h->slots[i];
		return;
	}
}

/* Server thread, between two rounds of libmicrohttpd's loop, so every slot still in
 * use is a connection it has not closed and its fd cannot be another socket's yet.
 * shutdown() makes the next round read end-of-file (or fail to send) and close it. */
static void reap(struct rp_health_server *h)
{
	uint64_t now = now_ns();

	for (size_t i = 0; i < CONNECTION_LIMIT; i++) {
		struct slot *sl = &h->slots[i];

		if (sl->conn && !sl->shut && now >= sl->deadline_ns) {
			shutdown(sl->fd, SHUT_RDWR);
			sl->shut = true;
		}
	}
}

/* The server thread: libmicrohttpd's loop, waking at least every TICK_MS to enforce
 * deadlines and to see stop. */
static void *serve(void *arg)
{
	struct rp_health_server *h = arg;

	while (!atomic_load_explicit(&h->stop, memory_order_relaxed)) {
		MHD_run_wait(h->daemon, TICK_MS);
		reap(h);
	}
	return NULL;
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
		/* No internal thread: serve() runs the loop, so reap() can run between
		 * rounds on the same thread. */
		unsigned int flags = MHD_USE_AUTO;

		if (ai->ai_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		else if (ai->ai_family != AF_INET)
			continue;
		/* MHD reports a failed socket/bind/listen only through errno. */
		errno = 0;
		h->daemon = MHD_start_daemon(
		    flags, port, NULL, NULL, answer, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)PER_IP_LIMIT,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
		    MHD_OPTION_NOTIFY_CONNECTION, notify, h, MHD_OPTION_END);
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

	h->page_buf = rp_xmalloc(PAGE_BUF);
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
	err = pthread_create(&h->thread, NULL, serve, h);
	if (err) {
		print_why(why, whylen, listen, port, strerror(err));
		err = -err;
		goto out_daemon;
	}
	pthread_setname_np(h->thread, "rp-http");
	*out = h;
	return 0;

out_daemon:
	MHD_stop_daemon(h->daemon);
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

/* Control thread, before the first publish_down. */
void rp_health_server_down_init(struct rp_health_server *h, uint32_t cap)
{
	if (!cap || h->down_cap)
		return;
	h->down = rp_xcalloc(cap, sizeof(*h->down));
	h->page = rp_xcalloc(RP_DOWN_PAGE_MAX, sizeof(*h->page));
	h->page_sys = rp_xcalloc(RP_DOWN_PAGE_MAX, sizeof(*h->page_sys));
	h->down_buf = rp_xmalloc(DOWN_BUF);
	pthread_mutex_lock(&h->lock);
	h->down_cap = cap;
	pthread_mutex_unlock(&h->lock);
}

/* Control thread, before the first publish_down. */
void rp_health_server_facts(struct rp_health_server *h, struct rp_facts *f)
{
	if (h)
		atomic_store_explicit(&h->facts, f, memory_order_release);
}

/* Control thread. Holds the lock for one copy of the list (at most down_cap entries,
 * when it changed: about a millisecond at 65,536). */
void rp_health_server_publish_down(struct rp_health_server *h, const struct rp_down_entry *v,
				   uint32_t n, uint64_t total)
{
	if (!h->down_cap)
		return;
	if (n > h->down_cap)
		n = h->down_cap;
	pthread_mutex_lock(&h->lock);
	memcpy(h->down, v, n * sizeof(*v));
	h->ndown = n;
	h->down_total = total;
	pthread_mutex_unlock(&h->lock);
}

/* Control thread, before the first publish_dist; once. */
void rp_health_server_dist_init(struct rp_health_server *h, uint32_t cap)
{
	struct rp_dist_view v;

	if (!cap || h->dist.nets)
		return;
	for (int i = 0; i < 2; i++)
		rp_dist_view_init(&h->sorted[i].v, cap);
	h->loss_buf = rp_xmalloc(LOSS_BUF);
	rp_dist_view_init(&v, cap);
	pthread_mutex_lock(&h->lock);
	h->dist = v;
	pthread_mutex_unlock(&h->lock);
	/* Pairs with the server thread's acquire loads: the buffers above exist. */
	atomic_store_explicit(&h->dist_on, true, memory_order_release);
}

/* Control thread, once a second: holds the lock for one copy of the view (its rows:
 * at most RP_DIST_NETS_MAX x 32 bytes, 2 MB; 128 KB at a million devices in /24s). */
void rp_health_server_publish_dist(struct rp_health_server *h, const struct rp_dist_view *v)
{
	struct rp_dist_net *keep = h->dist.nets;
	uint32_t cap = h->dist.cap;

	if (!keep)
		return;
	pthread_mutex_lock(&h->lock);
	h->dist = *v;
	h->dist.nets = keep;
	h->dist.cap = cap;
	h->dist.nnets = v->nnets < cap ? v->nnets : cap;
	memcpy(keep, v->nets, h->dist.nnets * sizeof(*keep));
	h->dist_gen++;
	pthread_mutex_unlock(&h->lock);
}

/* Control thread, once after start. */
void rp_health_server_probe_metrics(struct rp_health_server *h,
				    const struct rp_probe_metrics_conf *conf)
{
	if (!h || atomic_load(&h->pm))
		return;
	atomic_store_explicit(&h->pm, rp_pm_create(conf), memory_order_release);
}

/* Control thread. The server thread sees stop within TICK_MS; once it is joined no
 * request is running, and MHD_stop_daemon closes what is left. */
void rp_health_server_stop(struct rp_health_server *h)
{
	if (!h)
		return;
	atomic_store(&h->stop, true);
	pthread_join(h->thread, NULL);
	MHD_stop_daemon(h->daemon); /* frees what responses are left: before pm */
	rp_pm_destroy(atomic_load(&h->pm));
	pthread_mutex_destroy(&h->lock);
	free(h->down);
	free(h->page);
	free(h->page_sys);
	free(h->down_buf);
	free(h->page_buf);
	rp_dist_view_fini(&h->dist);
	for (int i = 0; i < 2; i++)
		rp_dist_view_fini(&h->sorted[i].v);
	free(h->loss_buf);
	free(h);
}
