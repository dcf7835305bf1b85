/* libcurl multi flusher (curl docs/examples/10-at-a-time.c): a fixed set of easy
 * handles, each reused for request after request (remove, set the body, re-add) so
 * connections stay pooled; at most influxdb.max_inflight requests at once.
 *
 * Owned by the writer thread; only rp_flush_wakeup() may be called from elsewhere.
 * Bodies are never copied: the caller's buffer goes out as CURLOPT_POSTFIELDS, or is
 * gzipped into the handle's own buffer, sized at create for the largest body. A body is
 * compressed whole, in one call, so libdeflate does it (about half zlib's CPU at level
 * 1, and a smaller body: docs/benchmarks.md, the writer); zlib stays for the spool's
 * files and /probe-metrics' chunks. With prometheus_remote_write.url set, every body
 * is re-encoded as a remote write request (promrw.c) into the handle's own buffer
 * instead, and goes to that URL with its headers. libcurl stays inside this file
 * (STYLE.md section 8); CURLcode becomes -errno here. */
#include "writer/writer_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/xalloc.h"

#define RESP_MAX 2048
#define GZIP_LEVEL 1 /* level 1: the writer's CPU matters more than the last bytes saved */

struct slot {
	CURL *easy;
	unsigned char *gz;
	size_t gzcap;
	uint8_t *rw; /* remote write: the snappy body */
	size_t rwcap;
	uint64_t samples;
	void *user;
	int dest; /* which URL the handle holds, -1 none yet */
	bool busy;
	uint64_t wire;
	size_t resp_len;
	char resp[RESP_MAX];
	char msg[RESP_MAX];
	char err[CURL_ERROR_SIZE];
};

struct rp_flush {
	CURLM *multi;
	struct slot *slots;
	unsigned nslots;
	unsigned busy;
	struct curl_slist *headers;
	char *url[RP_FLUSH_NDEST];
	char *log_url[RP_FLUSH_NDEST];	  /* url without user-info: what messages show */
	struct libdeflate_compressor *gz; /* when gzip */
	bool gzip;
	bool v1;
	bool promrw; /* prometheus_remote_write.url: bodies go out as remote write */
	struct rp_promrw *enc;
	size_t max_body;
};

static bool empty(const char *s)
{
	return !s || !*s;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct slot *sl = arg;
	size_t n = size * nmemb, room = RESP_MAX - 1 - sl->resp_len;

	if (n < room)
		room = n;
	memcpy(sl->resp + sl->resp_len, ptr, room);
	sl->resp_len += room;
	return n;
}

/* Appends "&key=escaped(value)" (or "?key=" first) to buf; false when it does not fit. */
static bool add_param(char *buf, size_t cap, const char *key, const char *value)
{
	char *esc = curl_easy_escape(NULL, value, 0);
	size_t len = strlen(buf);
	int n;

	if (!esc)
		return false;
	n = snprintf(buf + len, cap - len, "%c%s=%s", strchr(buf, '?') ? '&' : '?', key, esc);
	curl_free(esc);
	return n > 0 && (size_t)n < cap - len;
}

static char *make_url(const char *base, size_t baselen, bool v1, const char *db_or_bucket,
		      const char *rp_or_org)
{
	size_t cap =
	    baselen + 64 + 3 * (strlen(db_or_bucket) + (rp_or_org ? strlen(rp_or_org) : 0));
	char *url = rp_xmalloc(cap);

	snprintf(url, cap, "%.*s%s", (int)baselen, base, v1 ? "/write" : "/api/v2/write");
	if (v1) {
		add_param(url, cap, "db", db_or_bucket);
		if (!empty(rp_or_org))
			add_param(url, cap, "rp", rp_or_org);
	} else {
		if (!empty(rp_or_org))
			add_param(url, cap, "org", rp_or_org);
		add_param(url, cap, "bucket", db_or_bucket);
	}
	add_param(url, cap, "precision", "ns");
	return url;
}

static int build_urls(struct rp_flush *f, const struct rp_conf *conf, char *why, size_t whylen)
{
	const char *base = conf->influxdb.url;
	size_t baselen;

	if (f->promrw) {
		base = conf->prometheus_remote_write.url;
		if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
			snprintf(why, whylen,
				 "prometheus_remote_write.url must start with http:// or https://");
			return -EINVAL;
		}
		/* One URL: health points go with the data. */
		f->url[RP_FLUSH_DATA] = rp_xstrdup(base);
		f->url[RP_FLUSH_HEALTH] = rp_xstrdup(base);
		return 0;
	}

	if (empty(base) ||
	    (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)) {
		snprintf(why, whylen, "influxdb.url must start with http:// or https://");
		return -EINVAL;
	}
	baselen = strlen(base);
	while (baselen > 8 && base[baselen - 1] == '/')
		baselen--;
	f->v1 = conf->influxdb.api == RP_INFLUX_V1 ||
		(conf->influxdb.api == RP_INFLUX_AUTO && !empty(conf->influxdb.database));
	if (f->v1) {
		if (empty(conf->influxdb.database)) {
			snprintf(why, whylen, "influxdb.database must be set for the v1 API");
			return -EINVAL;
		}
		f->url[RP_FLUSH_DATA] = make_url(base, baselen, true, conf->influxdb.database,
						 conf->influxdb.retention_policy);
		f->url[RP_FLUSH_HEALTH] = rp_xstrdup(f->url[RP_FLUSH_DATA]);
		return 0;
	}
	if (empty(conf->influxdb.bucket)) {
		snprintf(why, whylen, "influxdb.bucket must be set for the v2 API");
		return -EINVAL;
	}
	f->url[RP_FLUSH_DATA] =
	    make_url(base, baselen, false, conf->influxdb.bucket, conf->influxdb.org);
	f->url[RP_FLUSH_HEALTH] =
	    make_url(base, baselen, false,
		     empty(conf->influxdb.health_bucket) ? conf->influxdb.bucket
							 : conf->influxdb.health_bucket,
		     conf->influxdb.org);
	return 0;
}

static int add_header(struct rp_flush *f, const char *h)
{
	struct curl_slist *l = curl_slist_append(f->headers, h);

	if (!l)
		return -ENOMEM;
	f->headers = l;
	return 0;
}

/* Remote write 1.0's headers, then prometheus_remote_write.headers ("Name: value" lines,
 * checked by rp_conf_validate) and the bearer token. */
static int build_rw_headers(struct rp_flush *f, const struct rp_conf *conf)
{
	const char *fixed[] = {"Content-Type: application/x-protobuf", "Content-Encoding: snappy",
			       "X-Prometheus-Remote-Write-Version: 0.1.0", "Expect:"};
	const char *h = conf->prometheus_remote_write.headers;
	const char *tok = conf->prometheus_remote_write.bearer_token;
	int ret = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && !ret; i++)
		ret = add_header(f, fixed[i]);
	while (!ret && h && *h) {
		size_t n = strcspn(h, "\n");
		char *line = rp_xstrndup(h, n);
		size_t k = strlen(line);

		if (k && line[k - 1] == '\r')
			line[--k] = '\0';
		if (strspn(line, " \t") < k)
			ret = add_header(f, line);
		memset(line, 0, k); /* may hold a tenant's key */
		free(line);
		h += n + (h[n] == '\n');
	}
	if (!ret && !empty(tok)) {
		size_t n = strlen(tok) + 32;
		char *a = rp_xmalloc(n);

		snprintf(a, n, "Authorization: Bearer %s", tok);
		ret = add_header(f, a);
		memset(a, 0, n);
		free(a);
	}
	return ret;
}

static int build_headers(struct rp_flush *f, const struct rp_conf *conf)
{
	const char *fixed[] = {"Content-Type: text/plain; charset=utf-8",
			       "Expect:", /* no 100-continue round trip for large bodies */
			       f->gzip ? "Content-Encoding: gzip" : NULL};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		struct curl_slist *l;

		if (!fixed[i])
			continue;
		l = curl_slist_append(f->headers, fixed[i]);
		if (!l)
			return -ENOMEM;
		f->headers = l;
	}
	if (!f->v1 && !empty(conf->influxdb.token)) {
		size_t n = strlen(conf->influxdb.token) + 32;
		char *h = rp_xmalloc(n);
		struct curl_slist *l;

		snprintf(h, n, "Authorization: Token %s", conf->influxdb.token);
		l = curl_slist_append(f->headers, h);
		memset(h, 0, n); /* the token is a secret: no stray copy */
		free(h);
		if (!l)
			return -ENOMEM;
		f->headers = l;
	}
	return 0;
}

static int setup_handle(struct rp_flush *f, struct slot *sl, const struct rp_conf *conf)
{
	CURL *e = curl_easy_init();
	CURLcode rc = CURLE_OK;

	if (!e)
		return -ENOMEM;
	sl->easy = e;
	sl->dest = -1;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_HTTPHEADER, f->headers);
	SET(CURLOPT_TIMEOUT_MS, (long)(conf->influxdb.timeout / RP_NSEC_PER_MSEC));
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, sl);
	SET(CURLOPT_ERRORBUFFER, sl->err);
	SET(CURLOPT_PRIVATE, sl);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_USERAGENT, "ringprobe/" RP_VERSION);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	if (!empty(conf->influxdb.ca_file))
		SET(CURLOPT_CAINFO, conf->influxdb.ca_file);
	if (conf->influxdb.insecure_skip_verify) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (f->v1 && !empty(conf->influxdb.username)) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, conf->influxdb.username);
		SET(CURLOPT_PASSWORD, conf->influxdb.password ? conf->influxdb.password : "");
	}
	if (f->promrw && !empty(conf->prometheus_remote_write.basic_auth.username)) {
		const char *pw = conf->prometheus_remote_write.basic_auth.password;

		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, conf->prometheus_remote_write.basic_auth.username);
		SET(CURLOPT_PASSWORD, pw ? pw : "");
	}
#undef SET
	return rc == CURLE_OK ? 0 : -EINVAL;
}

int rp_flush_create(struct rp_flush **out, const struct rp_conf *conf, size_t max_body, char *why,
		    size_t whylen)
{
	struct rp_flush *f;
	size_t gzcap = 0;
	int ret;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(why, whylen, "libcurl failed to initialize");
		return -ENOMEM;
	}
	f = rp_xcalloc(1, sizeof(*f));
	f->promrw = !empty(conf->prometheus_remote_write.url);
	f->gzip = conf->influxdb.gzip && !f->promrw; /* remote write bodies are snappy */
	f->max_body = max_body;
	f->nslots = conf->influxdb.max_inflight > 0 ? (unsigned)conf->influxdb.max_inflight : 1;
	ret = build_urls(f, conf, why, whylen);
	if (ret < 0)
		goto out_free;
	/* Every message names the URL through rp_flush_url(): keep the user-info out. */
	for (int d = 0; d < RP_FLUSH_NDEST; d++) {
		size_t n = strlen(f->url[d]) + 1;

		f->log_url[d] = rp_xmalloc(n);
		rp_url_redact(f->url[d], f->log_url[d], n);
	}
	ret = f->promrw ? build_rw_headers(f, conf) : build_headers(f, conf);
	if (ret < 0) {
		snprintf(why, whylen, "libcurl: out of memory");
		goto out_free;
	}
	if (f->promrw)
		rp_promrw_create(&f->enc);
	if (f->gzip) {
		f->gz = libdeflate_alloc_compressor(GZIP_LEVEL);
		if (!f->gz) {
			snprintf(why, whylen, "libdeflate: cannot allocate a gzip compressor");
			ret = -ENOMEM;
			goto out_free;
		}
		gzcap = libdeflate_gzip_compress_bound(f->gz, max_body);
	}
	f->multi = curl_multi_init();
	if (!f->multi) {
		snprintf(why, whylen, "libcurl: curl_multi_init failed");
		ret = -ENOMEM;
		goto out_free;
	}
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)f->nslots);
	f->slots = rp_xcalloc(f->nslots, sizeof(*f->slots));
	for (unsigned i = 0; i < f->nslots; i++) {
		struct slot *sl = &f->slots[i];

		ret = setup_handle(f, sl, conf);
		if (ret < 0) {
			snprintf(why, whylen,
				 "libcurl: cannot set up a request handle "
				 "(is influxdb.ca_file supported by this libcurl?)");
			goto out_free;
		}
		if (f->gzip) {
			sl->gz = rp_xmalloc(gzcap);
			sl->gzcap = gzcap;
		}
	}
	*out = f;
	return 0;

out_free:
	rp_flush_destroy(f);
	return ret;
}

void rp_flush_destroy(struct rp_flush *f)
{
	if (!f)
		return;
	for (unsigned i = 0; f->slots && i < f->nslots; i++) {
		struct slot *sl = &f->slots[i];

		if (sl->busy)
			curl_multi_remove_handle(f->multi, sl->easy);
		if (sl->easy)
			curl_easy_cleanup(sl->easy);
		free(sl->gz);
		free(sl->rw);
	}
	rp_promrw_destroy(f->enc);
	free(f->slots);
	if (f->multi)
		curl_multi_cleanup(f->multi);
	curl_slist_free_all(f->headers);
	libdeflate_free_compressor(f->gz);
	for (int d = 0; d < RP_FLUSH_NDEST; d++) {
		free(f->url[d]);
		free(f->log_url[d]);
	}
	free(f);
	curl_global_cleanup();
}

unsigned rp_flush_idle(const struct rp_flush *f)
{
	return f->nslots - f->busy;
}

unsigned rp_flush_busy(const struct rp_flush *f)
{
	return f->busy;
}

const char *rp_flush_url(const struct rp_flush *f, enum rp_flush_dest dest)
{
	return f->log_url[dest];
}

bool rp_flush_is_v1(const struct rp_flush *f)
{
	return f->v1;
}

bool rp_flush_is_promrw(const struct rp_flush *f)
{
	return f->promrw;
}

int rp_flush_send(struct rp_flush *f, enum rp_flush_dest dest, const char *body, size_t len,
		  void *user)
{
	struct slot *sl = NULL;
	const void *data = body;
	size_t n = len;

	if (len > f->max_body)
		return -E2BIG;
	for (unsigned i = 0; i < f->nslots && !sl; i++)
		if (!f->slots[i].busy)
			sl = &f->slots[i];
	if (!sl)
		return -EBUSY;
	sl->samples = 0;
	if (f->promrw) {
		struct rp_promrw_counts c;
		ssize_t z = rp_promrw_encode(f->enc, body, len, &sl->rw, &sl->rwcap, &c);

		if (z < 0)
			return -EIO;
		data = sl->rw;
		n = (size_t)z;
		sl->samples = c.samples;
	} else if (f->gzip) {
		/* One compressor, made at create: no allocation per body. 0 means the output
		 * did not fit, which the bound taken at create rules out. */
		n = libdeflate_gzip_compress(f->gz, body, len, sl->gz, sl->gzcap);
		if (!n)
			return -EIO;
		data = sl->gz;
	}
	if (sl->dest != (int)dest) {
		if (curl_easy_setopt(sl->easy, CURLOPT_URL, f->url[dest]) != CURLE_OK)
			return -ENOMEM;
		sl->dest = (int)dest;
	}
	curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDS, data);
	curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	sl->resp_len = 0;
	sl->err[0] = '\0';
	sl->user = user;
	sl->wire = n;
	if (curl_multi_add_handle(f->multi, sl->easy) != CURLM_OK)
		return -EIO;
	sl->busy = true;
	f->busy++;
	return 0;
}

static int map_curl_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static enum rp_flush_verdict classify(long status)
{
	if (status >= 200 && status < 300)
		return RP_FLUSH_OK;
	switch (status) {
	case 401:
	case 403:
		return RP_FLUSH_AUTH;
	case 404:
		return RP_FLUSH_NOT_FOUND;
	case 413:
		return RP_FLUSH_TOO_LARGE;
	case 408:
	case 429:
		return RP_FLUSH_RETRY;
	default:
		break;
	}
	if (status >= 400 && status < 500)
		return RP_FLUSH_REJECTED;
	return RP_FLUSH_RETRY;
}

/* The server's message: the "error" (InfluxDB 1.x) or "message" (2.x) member of a JSON
 * body, else the body itself; one line, quotes replaced, for logfmt. */
static const char *server_message(struct slot *sl, long status)
{
	static const char *const keys[] = {"\"error\":\"", "\"message\":\""};
	const char *src = sl->resp, *p;
	size_t o = 0;

	sl->resp[sl->resp_len] = '\0';
	for (size_t k = 0; k < 2; k++) {
		p = strstr(sl->resp, keys[k]);
		if (p) {
			src = p + strlen(keys[k]);
			break;
		}
	}
	for (p = src; *p && o + 1 < sizeof(sl->msg); p++) {
		char c = *p;

		if (src != sl->resp && c == '"')
			break; /* end of the JSON string */
		if (src != sl->resp && c == '\\' && p[1]) {
			c = *++p;
			if (c == 'n' || c == 't')
				c = ' ';
		}
		if ((unsigned char)c < 0x20 || c == '"')
			c = c == '"' ? '\'' : ' ';
		sl->msg[o++] = c;
	}
	while (o && sl->msg[o - 1] == ' ')
		o--;
	sl->msg[o] = '\0';
	if (!o)
		snprintf(sl->msg, sizeof(sl->msg), "HTTP %ld", status);
	return sl->msg;
}

/* curl's message, on one line with no double quote, for logfmt. */
static const char *one_line(struct slot *sl, const char *src)
{
	size_t o = 0;

	for (; *src && o + 1 < sizeof(sl->msg); src++)
		sl->msg[o++] = (unsigned char)*src < 0x20 ? ' ' : *src == '"' ? '\'' : *src;
	sl->msg[o] = '\0';
	return sl->msg;
}

int64_t rp_flush__rejected_count(const char *body)
{
	const char *p = strstr(body, "dropped=");
	int64_t n = 0;

	if (p) {
		p += strlen("dropped=");
		while (*p >= '0' && *p <= '9' && n < INT64_MAX / 10)
			n = n * 10 + (*p++ - '0');
		if (n > 0)
			return n;
	}
	for (p = body; (p = strstr(p, "unable to parse")) != NULL; p++)
		n++;
	return n > 0 ? n : -1;
}

static void finish(struct rp_flush *f, struct slot *sl, CURLcode rc, rp_flush_done_fn fn, void *arg)
{
	struct rp_flush_done d = {
	    .user = sl->user, .wire_bytes = sl->wire, .samples = sl->samples, .rejected = -1};
	curl_off_t retry_after = 0;
	long status = 0;

	curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_getinfo(sl->easy, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK)
		retry_after = 0;
	curl_multi_remove_handle(f->multi, sl->easy);
	sl->busy = false;
	f->busy--;

	d.status = status;
	if (rc != CURLE_OK) {
		d.verdict = RP_FLUSH_RETRY;
		d.err = map_curl_error(rc);
		d.reason = one_line(sl, sl->err[0] ? sl->err : curl_easy_strerror(rc));
	} else {
		d.verdict = classify(status);
		d.reason = server_message(sl, status);
		if (d.verdict == RP_FLUSH_REJECTED)
			d.rejected = rp_flush__rejected_count(sl->resp);
		if (retry_after > 0)
			d.retry_after_ns = (int64_t)retry_after * RP_NSEC_PER_SEC;
	}
	fn(arg, &d);
}

int rp_flush_run(struct rp_flush *f, int timeout_ms, rp_flush_done_fn fn, void *arg)
{
	CURLMsg *msg;
	int running, left, done = 0;

	if (curl_multi_perform(f->multi, &running) != CURLM_OK)
		return -EIO;
	if (timeout_ms > 0) {
		if (curl_multi_poll(f->multi, NULL, 0, timeout_ms, NULL) != CURLM_OK)
			return -EIO;
		if (curl_multi_perform(f->multi, &running) != CURLM_OK)
			return -EIO;
	}
	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		struct slot *sl = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
		if (!sl || !sl->busy)
			continue;
		finish(f, sl, msg->data.result, fn, arg);
		done++;
	}
	return done;
}

void rp_flush_abort(struct rp_flush *f, rp_flush_done_fn fn, void *arg)
{
	for (unsigned i = 0; i < f->nslots; i++) {
		struct slot *sl = &f->slots[i];
		struct rp_flush_done d = {.user = sl->user,
					  .verdict = RP_FLUSH_ABORTED,
					  .err = -ECANCELED,
					  .rejected = -1,
					  .reason = "stopped before the sink answered",
					  .wire_bytes = sl->wire};

		if (!sl->busy)
			continue;
		curl_multi_remove_handle(f->multi, sl->easy);
		sl->busy = false;
		f->busy--;
		fn(arg, &d);
	}
}

void rp_flush_wakeup(struct rp_flush *f)
{
	curl_multi_wakeup(f->multi);
}
