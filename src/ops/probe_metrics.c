/* Per-device exposition: smokeping_prober 0.6.1's four families, in its order and
 * with its names, HELP texts, types and labels (host, ip), so its dashboards and
 * alert rules read ringprobe unchanged, and the two error families 0.7 added:
 *
 *   smokeping_receive_errors_total                 counter    the sockets' read errors
 *   smokeping_requests_total{host,ip}              counter    echo requests sent
 *   smokeping_response_duplicates_total{host,ip}   counter    duplicate replies
 *   smokeping_response_duration_seconds{host,ip}   histogram  RTT of replies in time
 *   smokeping_response_ttl{host,ip}                gauge      the last reply's TTL
 *   smokeping_send_errors_total{host,ip}           counter    requests that failed to go
 *
 * With prometheus.source_label, 0.7's `source` label follows ip on every series but
 * the first (source_address's address of the device's family, else "").
 *
 * host is the name a device was given by (devices: entries that are DNS names), else
 * its address, as smokeping_prober's host is what its config lists; ip is the address
 * (a dotted quad, or RFC 5952). `le` is written as Go writes a float64 (shortest).
 *
 * The page is produced a chunk at a time from the snapshot: each family walks every
 * record; a chunk is at least RAW_LOW bytes of text (whole records), deflated when the
 * client asked for gzip. Memory per response: the chunk and zlib's state. */
#include "ops/probe_metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "ringprobe/facts.h"
#include "ringprobe/line.h"
#include "ringprobe/prober.h"
#include "ringprobe/snmp.h"
#include "ringprobe/xalloc.h"

/* prometheus.sysname_label's `,LABEL="VALUE"`: a tag key's length, a sysName escaped to 2x. */
#define SYSNAME_LABEL_MAX (RP_TAG_KEY_MAX + 2 * RP_SNMP_NAME_MAX + 8)

/* The longest record: every bucket line with the longest labels. host is at most 253
 * bytes (a name) escaped to 2x, ip an address, the tags at most RP_LINE_TAGS_MAX bytes
 * escaped to 2x; a line adds the metric name (49), `le` (32) and a count (20). */
#define LABELS_MAX (2 * RP_LINE_TAGS_MAX + 640 + SYSNAME_LABEL_MAX)
#define LINE_MAX_BYTES (LABELS_MAX + 128)
#define REC_MAX ((RP_PACC_MAX_BUCKETS + 4) * LINE_MAX_BYTES)
#define RAW_LOW 65536
#define RAW_CAP (RAW_LOW + REC_MAX + 1024)
#define ZOUT_CAP 65536
/* How long a scrape waits for the shards' copies. */
#define SNAPSHOT_WAIT_NS 2000000000ull

/* smokeping_prober >= 0.7's two error families come first and last: its registry
 * writes the families sorted by name. */
enum fam { F_RECV_ERRORS, F_REQUESTS, F_DUPS, F_DURATION, F_TTL, F_SEND_ERRORS, F_DONE };

static const char *const fam_head[] = {
    "# HELP smokeping_receive_errors_total The number of errors when Pinger attempts to "
    "receive packets.\n"
    "# TYPE smokeping_receive_errors_total counter\n",
    "# HELP smokeping_requests_total Number of ping requests sent\n"
    "# TYPE smokeping_requests_total counter\n",
    "# HELP smokeping_response_duplicates_total The number of duplicated response packets.\n"
    "# TYPE smokeping_response_duplicates_total counter\n",
    "# HELP smokeping_response_duration_seconds A histogram of latencies for ping responses.\n"
    "# TYPE smokeping_response_duration_seconds histogram\n",
    "# HELP smokeping_response_ttl The last response Time To Live (TTL).\n"
    "# TYPE smokeping_response_ttl gauge\n",
    "# HELP smokeping_send_errors_total The number of errors when Pinger attempts to send "
    "packets.\n"
    "# TYPE smokeping_send_errors_total counter\n",
};

struct rp_pm_stream {
	const struct rp_pacc_view *v;
	const char *const *tags;
	uint32_t ntags;
	/* rp_pm_stream_source: the label's values, escaped; [0] IPv4's, [1] IPv6's */
	bool source_label;
	char source[2][RP_IP_STRLEN * 2];
	char le[RP_PACC_MAX_BUCKETS][32];
	size_t le_len[RP_PACC_MAX_BUCKETS];
	enum fam fam;
	unsigned shard;
	uint32_t idx;
	bool head_done;
	char *raw; /* RAW_CAP */
	size_t raw_len, raw_pos;
	size_t prefix_len; /* bytes of raw that are the prefix, before any record */
	bool gzip, zend;
	z_stream z;
	unsigned char *zout; /* ZOUT_CAP */
	size_t zlen, zpos;
	struct rp_pm *pm;	/* the owner holding the snapshot (responses), or NULL */
	struct rp_facts *facts; /* rp_pm_stream_sysname's */
	const char *sn_label;
};

struct rp_pm {
	struct rp_prober *prober;
	char *path;
	bool on_metrics;
	const char *const *tags;
	uint32_t ntags;
	bool source_label;
	char source[2][RP_IP_STRLEN];
	struct rp_pacc_view view;
	unsigned readers; /* responses streaming the current view */
	struct rp_facts *facts;
	char *sn_label; /* prometheus.sysname_label, NULL = off */
};

char *rp_pm_go_float(double v, char *buf)
{
	char tmp[40];
	int p, exp;

	if (v == 0) {
		strcpy(buf, "0");
		return buf;
	}
	if (isinf(v)) {
		strcpy(buf, v > 0 ? "+Inf" : "-Inf");
		return buf;
	}
	if (isnan(v)) {
		strcpy(buf, "NaN");
		return buf;
	}
	for (p = 1; p < 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
	exp = atoi(strchr(tmp, 'e') + 1);
	/* Go's 'g' with the shortest digits: %e when the exponent is below -4 or at
	 * least 6 (strconv/ftoa.go: eprec = 6 when shortest), else %f with the digits. */
	if (exp < -4 || exp >= 6)
		memcpy(buf, tmp, strlen(tmp) + 1);
	else
		snprintf(buf, 32, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, v);
	return buf;
}

static char *put_u64(char *p, uint64_t n)
{
	char tmp[24];
	int i = 0;

	do {
		tmp[i++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	while (i)
		*p++ = tmp[--i];
	return p;
}

static char *put_str(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, s) put_str(p, s, sizeof(s) - 1)

/* ns as seconds, exactly: "0.002025024", "3", "12.5". */
static char *put_seconds(char *p, uint64_t ns)
{
	uint64_t frac = ns % 1000000000u;
	char f[10];
	int n = 9;

	p = put_u64(p, ns / 1000000000u);
	if (!frac)
		return p;
	for (int i = 8; i >= 0; i--, frac /= 10)
		f[i] = (char)('0' + frac % 10);
	while (n > 0 && f[n - 1] == '0')
		n--;
	*p++ = '.';
	return put_str(p, f, (size_t)n);
}

/* A label value, escaped as the text format asks (\\, \", \n). */
static char *put_escaped(char *p, const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++) {
		if (s[i] == '\\' || s[i] == '"') {
			*p++ = '\\';
			*p++ = s[i];
		} else if (s[i] == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else {
			*p++ = s[i];
		}
	}
	return p;
}

/* The next tag of a line-protocol tag string (",k=v,k=v", escaped as rp_line_tags
 * writes it: a backslash before ',', '=', ' ' or '\\'), unescaped into key and val
 * (each at least RP_LINE_TAGS_MAX + 1 bytes); the rest, or NULL at the end. */
static const char *next_tag(const char *s, char *key, char *val)
{
	char *d = key;
	bool in_val = false;

	if (!s || *s != ',')
		return NULL;
	for (s++; *s && *s != ','; s++) {
		if (*s == '\\' && s[1]) {
			s++;
		} else if (*s == '=' && !in_val) {
			*d = '\0';
			d = val;
			in_val = true;
			continue;
		}
		*d++ = *s;
	}
	*d = '\0';
	if (!in_val) /* no '=': not a tag */
		*key = *val = '\0';
	return s;
}

/* prometheus.sysname_label: `,LABEL="sysName"` once the device's sysName is known (an
 * empty value would read as no label at all), escaped as every label value is. */
static char *put_sysname(const struct rp_pm_stream *st, const struct rp_pacc_rec *r, char *p)
{
	char name[RP_SNMP_NAME_MAX];

	if (!st->sn_label || !rp_facts_sysname(st->facts, &r->addr, name, sizeof(name)))
		return p;
	*p++ = ',';
	p = put_str(p, st->sn_label, strlen(st->sn_label));
	p = PUT_LIT(p, "=\"");
	p = put_escaped(p, name, sizeof(name));
	*p++ = '"';
	return p;
}

void rp_pm_stream_sysname(struct rp_pm_stream *st, struct rp_facts *f, const char *label)
{
	st->facts = f;
	st->sn_label = label && *label ? label : NULL;
}

/* `{host="...",ip="..."[,TAG="..."...]` (no closing brace: a bucket adds le). The
 * device's class tags (the writer's pre-escaped strings) give host (the name tag, else
 * the address) and one label per other tag, so group and device tags select series
 * as they select points; a tag named host, ip or le (which the histogram needs) is
 * left out. */
static size_t labels_of(const struct rp_pm_stream *st, const struct rp_pacc_rec *r, char *out)
{
	static _Thread_local char key[RP_LINE_TAGS_MAX + 1], val[RP_LINE_TAGS_MAX + 1];
	char ip[RP_IP_STRLEN], host[RP_LINE_TAGS_MAX + 1];
	const char *tags = r->id && r->id <= st->ntags && st->tags ? st->tags[r->id - 1] : NULL;
	char *p = out;

	rp_ip_format(&r->addr, ip);
	snprintf(host, sizeof(host), "%s", ip);
	for (const char *t = tags; (t = next_tag(t, key, val));)
		if (strcmp(key, "name") == 0)
			snprintf(host, sizeof(host), "%s", val);
	p = PUT_LIT(p, "{host=\"");
	p = put_escaped(p, host, 253);
	p = PUT_LIT(p, "\",ip=\"");
	p = put_str(p, ip, strlen(ip));
	*p++ = '"';
	if (st->source_label) {
		const char *src = st->source[rp_ip_is_v4(&r->addr) ? 0 : 1];

		p = PUT_LIT(p, ",source=\"");
		p = put_str(p, src, strlen(src));
		*p++ = '"';
	}
	p = put_sysname(st, r, p);
	for (const char *t = tags; (t = next_tag(t, key, val));) {
		if (st->sn_label && strcmp(key, st->sn_label) == 0)
			continue; /* conf refuses the clash; a tag must not double the label */
		if (!*key || !strcmp(key, "name") || !strcmp(key, "host") || !strcmp(key, "ip") ||
		    !strcmp(key, "le") || (st->source_label && !strcmp(key, "source")))
			continue;
		*p++ = ',';
		p = put_str(p, key, strlen(key));
		p = PUT_LIT(p, "=\"");
		p = put_escaped(p, val, RP_LINE_TAGS_MAX);
		*p++ = '"';
	}
	return (size_t)(p - out);
}

/* One sample line "NAME{LABELS} V" (lab: labels_of's, without its closing brace). */
static char *put_sample(char *p, const char *name, const char *lab, size_t ln, uint64_t v)
{
	p = put_str(p, name, strlen(name));
	p = put_str(p, lab, ln);
	p = PUT_LIT(p, "} ");
	p = put_u64(p, v);
	*p++ = '\n';
	return p;
}

/* One record's lines of family f at p. */
static char *put_record(const struct rp_pm_stream *st, enum fam f, const struct rp_pacc_rec *r,
			char *p)
{
	char lab[LABELS_MAX];
	size_t ln;
	uint64_t cum = 0;
	uint32_t nb = st->v->nbounds;

	if (f == F_TTL && !r->v[RP_PACC_TTL])
		return p; /* no reply yet: smokeping_prober has no gauge either */
	ln = labels_of(st, r, lab);
	switch (f) {
	case F_REQUESTS:
		p = put_sample(p, "smokeping_requests_total", lab, ln, r->v[RP_PACC_SENT]);
		break;
	case F_DUPS:
		p = put_sample(p, "smokeping_response_duplicates_total", lab, ln,
			       r->v[RP_PACC_DUPS]);
		break;
	case F_DURATION:
		for (uint32_t i = 0; i <= nb; i++) {
			cum += r->v[RP_PACC_BUCKETS + i];
			p = PUT_LIT(p, "smokeping_response_duration_seconds_bucket");
			p = put_str(p, lab, ln);
			p = PUT_LIT(p, ",le=\"");
			if (i < nb)
				p = put_str(p, st->le[i], st->le_len[i]);
			else
				p = PUT_LIT(p, "+Inf");
			p = PUT_LIT(p, "\"} ");
			p = put_u64(p, cum);
			*p++ = '\n';
		}
		p = PUT_LIT(p, "smokeping_response_duration_seconds_sum");
		p = put_str(p, lab, ln);
		p = PUT_LIT(p, "} ");
		p = put_seconds(p, r->v[RP_PACC_SUM_NS]);
		*p++ = '\n';
		p = put_sample(p, "smokeping_response_duration_seconds_count", lab, ln,
			       r->v[RP_PACC_COUNT]);
		break;
	case F_TTL:
		p = put_sample(p, "smokeping_response_ttl", lab, ln, r->v[RP_PACC_TTL]);
		break;
	case F_SEND_ERRORS:
		p = put_sample(p, "smokeping_send_errors_total", lab, ln,
			       r->v[RP_PACC_SEND_ERRORS]);
		break;
	case F_RECV_ERRORS:
	case F_DONE:
		break;
	}
	return p;
}

/* The next chunk of text into raw (after what is left of the prefix); false at the end. */
static bool fill(struct rp_pm_stream *st)
{
	const struct rp_pacc_view *v = st->v;
	char *p = st->raw + st->raw_len;

	while (st->fam != F_DONE && (size_t)(p - st->raw) < RAW_LOW) {
		if (st->fam == F_RECV_ERRORS) {
			/* One counter of the process, no labels: always there, as in
			 * smokeping_prober (its pingers' read errors; ours the sockets'). */
			p = put_str(p, fam_head[F_RECV_ERRORS], strlen(fam_head[F_RECV_ERRORS]));
			p = PUT_LIT(p, "smokeping_receive_errors_total ");
			p = put_u64(p, v->recv_errors);
			*p++ = '\n';
			st->fam++;
			continue;
		}
		if (!st->head_done) {
			if (v->devices)
				p = put_str(p, fam_head[st->fam], strlen(fam_head[st->fam]));
			st->head_done = true;
		}
		while (st->shard < v->nshards && st->idx >= v->n[st->shard]) {
			st->shard++;
			st->idx = 0;
		}
		if (st->shard >= v->nshards) {
			st->fam++;
			st->shard = 0;
			st->idx = 0;
			st->head_done = false;
			continue;
		}
		p = put_record(st, st->fam, rp_pacc_view_rec(v, st->shard, st->idx), p);
		st->idx++;
	}
	st->raw_len = (size_t)(p - st->raw);
	return st->raw_len > 0;
}

struct rp_pm_stream *rp_pm_stream_open(const struct rp_pacc_view *v, const char *const *name_tags,
				       uint32_t name_tag_cap, bool gzip)
{
	struct rp_pm_stream *st = rp_xcalloc(1, sizeof(*st));

	st->v = v;
	st->tags = name_tags;
	st->ntags = name_tag_cap;
	st->raw = rp_xmalloc(RAW_CAP);
	for (uint32_t i = 0; i < v->nbounds; i++)
		st->le_len[i] = strlen(rp_pm_go_float(v->bounds_s[i], st->le[i]));
	if (gzip) {
		st->zout = rp_xmalloc(ZOUT_CAP);
		/* Level 1: a scrape is CPU on the server's thread; text compresses ~10x
		 * at it already. 15 + 16: a gzip wrapper. */
		if (deflateInit2(&st->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			abort(); /* only out of memory or a bad parameter */
		st->gzip = true;
	}
	return st;
}

void rp_pm_stream_source(struct rp_pm_stream *st, const char *v4, const char *v6)
{
	const char *in[2] = {v4, v6};

	st->source_label = true;
	for (int i = 0; i < 2; i++)
		*put_escaped(st->source[i], in[i] ? in[i] : "", RP_IP_STRLEN - 1) = '\0';
}

/* Plain text: what is in raw, then the next chunk. */
static size_t read_plain(struct rp_pm_stream *st, char *buf, size_t max)
{
	size_t n;

	if (st->raw_pos == st->raw_len) {
		st->raw_len = st->raw_pos = 0;
		if (!fill(st))
			return 0;
	}
	n = st->raw_len - st->raw_pos < max ? st->raw_len - st->raw_pos : max;
	memcpy(buf, st->raw + st->raw_pos, n);
	st->raw_pos += n;
	return n;
}

static size_t read_gzip(struct rp_pm_stream *st, char *buf, size_t max)
{
	size_t n;

	while (st->zpos == st->zlen) {
		bool last;
		int rc;

		if (st->zend)
			return 0;
		if (st->raw_pos == st->raw_len) {
			st->raw_len = st->raw_pos = 0;
			fill(st);
		}
		last = st->fam == F_DONE;
		st->z.next_in = (unsigned char *)st->raw + st->raw_pos;
		st->z.avail_in = (uInt)(st->raw_len - st->raw_pos);
		st->z.next_out = st->zout;
		st->z.avail_out = ZOUT_CAP;
		rc = deflate(&st->z, last ? Z_FINISH : Z_NO_FLUSH);
		st->raw_pos = st->raw_len - st->z.avail_in;
		st->zlen = ZOUT_CAP - st->z.avail_out;
		st->zpos = 0;
		if (rc == Z_STREAM_END)
			st->zend = true;
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
			return 0;
	}
	n = st->zlen - st->zpos < max ? st->zlen - st->zpos : max;
	memcpy(buf, st->zout + st->zpos, n);
	st->zpos += n;
	return n;
}

size_t rp_pm_stream_read(struct rp_pm_stream *st, char *buf, size_t max)
{
	return st->gzip ? read_gzip(st, buf, max) : read_plain(st, buf, max);
}

void rp_pm_stream_close(struct rp_pm_stream *st)
{
	if (!st)
		return;
	if (st->gzip)
		deflateEnd(&st->z);
	if (st->pm)
		st->pm->readers--;
	free(st->zout);
	free(st->raw);
	free(st);
}

struct rp_pm *rp_pm_create(const struct rp_probe_metrics_conf *conf)
{
	struct rp_pm *pm = rp_xcalloc(1, sizeof(*pm));

	pm->prober = conf->prober;
	pm->path = rp_xstrdup(conf->path && *conf->path ? conf->path : "/probe-metrics");
	pm->on_metrics = conf->on_metrics;
	pm->tags = conf->name_tags;
	pm->ntags = conf->name_tag_cap;
	pm->source_label = conf->source_label;
	for (int i = 0; i < 2; i++)
		snprintf(pm->source[i], sizeof(pm->source[i]), "%s", conf->source[i]);
	pm->facts = conf->facts;
	if (conf->sysname_label && *conf->sysname_label)
		pm->sn_label = rp_xstrdup(conf->sysname_label);
	return pm;
}

void rp_pm_destroy(struct rp_pm *pm)
{
	if (!pm)
		return;
	free(pm->path);
	free(pm->sn_label);
	free(pm);
}

const char *rp_pm_path(const struct rp_pm *pm)
{
	return pm->path;
}

bool rp_pm_on_metrics(const struct rp_pm *pm)
{
	return pm->on_metrics;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	size_t n = rp_pm_stream_read(cls, buf, max);

	(void)pos;
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void reader_free(void *cls)
{
	rp_pm_stream_close(cls);
}

struct MHD_Response *rp_pm_response(struct rp_pm *pm, const char *prefix, size_t len, bool gzip,
				    char *why, size_t whylen)
{
	struct rp_pm_stream *st;
	struct MHD_Response *r;

	if (!pm->readers) {
		int ret = rp_prober_pacc_snapshot(pm->prober, SNAPSHOT_WAIT_NS, &pm->view);

		if (ret < 0) {
			snprintf(why, whylen, "no per-device snapshot: %s\n", strerror(-ret));
			return NULL;
		}
		if (pm->view.missing) {
			snprintf(why, whylen,
				 "%u of %u probe shards did not hand over their counters within "
				 "%llu s (stopping, or overloaded)\n",
				 pm->view.missing, pm->view.nshards,
				 SNAPSHOT_WAIT_NS / 1000000000ull);
			return NULL;
		}
	}
	st = rp_pm_stream_open(&pm->view, pm->tags, pm->ntags, gzip);
	if (pm->source_label)
		rp_pm_stream_source(st, pm->source[0], pm->source[1]);
	rp_pm_stream_sysname(st, pm->facts, pm->sn_label);
	if (len > RAW_CAP - REC_MAX)
		len = 0; /* cannot happen: /metrics is at most 32 KB */
	if (prefix && len) {
		memcpy(st->raw, prefix, len);
		st->raw_len = len;
	}
	st->pm = pm;
	pm->readers++;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32768, reader, st, reader_free);
	if (!r) {
		rp_pm_stream_close(st);
		snprintf(why, whylen, "cannot create the response\n");
	}
	return r;
}
