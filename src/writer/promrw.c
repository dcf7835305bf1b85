/* Prometheus remote write 1.0 bodies from the writer's line protocol: what a batch or a
 * spool record holds is re-read here, once per request, and sent as a snappy-compressed
 * protobuf WriteRequest (prompb/prompb.proto, packed by libprotobuf-c, compressed by
 * libsnappy). The batches, the pool, the spool and the retries stay the same for both
 * destinations: a spool written for one replays to the other.
 *
 * The mapping (docs/prometheus.md, "Remote write"): each numeric field of a point (float,
 * integer, unsigned, boolean as 0/1) is one sample of the metric MEASUREMENT_FIELD, at
 * the point's time in ms; the point's tags and its string fields are the labels of all
 * its samples (tags first when two share a name). A point with no numeric field is one
 * sample MEASUREMENT = 1 (an info metric). Metric names keep [a-zA-Z0-9_:] and label
 * names [a-zA-Z0-9_], anything else becomes '_', a leading digit gets a '_' before it;
 * labels with an empty value and a label named __name__ are left out. Each sample is
 * one TimeSeries: a device's points are in time order in a body, and so reach the
 * receiver in order.
 *
 * Memory: the message is built in an arena of blocks kept from request to request and
 * the packed message in one buffer, both grown to the largest body seen and never
 * shrunk: no allocation per request once the largest batch has been encoded. Writer
 * thread only. */
#include "writer/writer_int.h"

#include <errno.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>

#include "prompb.pb-c.h"
#include "ringprobe/xalloc.h"

#define BLOCK_BYTES (256u << 10)
#define MAX_LABELS 32 /* per point; more are left out */
#define MAX_FIELDS 64 /* numeric fields per point; more are left out */
#define NAME_CACHE 32 /* metric and label names remembered within one request */

/* A name already made in this request's arena: the raw bytes it came from (measurement
 * and field key, or a tag or field key), its clean text, and for a metric the
 * __name__ label every sample of it shares. */
struct name {
	const char *raw, *raw2;
	size_t n, n2;
	char *text;
	size_t tlen; /* strlen(text) */
	Prometheus__Label *label;
};

struct block {
	struct block *next;
	size_t cap, used;
	_Alignas(16) unsigned char data[];
};

struct rp_promrw {
	struct block *first, *cur;
	Prometheus__TimeSeries **series;
	size_t nseries, series_cap;
	uint8_t *packed;
	size_t packed_cap;
	struct name metrics[NAME_CACHE], labels[NAME_CACHE], spare;
	unsigned nmetrics, nlabels;
	size_t bound; /* the packed WriteRequest is at most this long */
};

/* One field of a point: its (escaped) key and value as they are in the line. */
struct tok {
	const char *p;
	size_t n;
};

int rp_promrw_create(struct rp_promrw **out)
{
	*out = rp_xcalloc(1, sizeof(**out));
	return 0;
}

void rp_promrw_destroy(struct rp_promrw *e)
{
	if (!e)
		return;
	for (struct block *b = e->first, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(e->series);
	free(e->packed);
	free(e);
}

static void *arena_alloc(struct rp_promrw *e, size_t n)
{
	struct block *b = e->cur;

	n = (n + 15u) & ~(size_t)15u;
	while (b && b->used + n > b->cap) {
		b = b->next;
		if (b)
			b->used = 0;
	}
	if (!b) {
		size_t cap = n > BLOCK_BYTES ? n : BLOCK_BYTES;

		b = rp_xmalloc(sizeof(*b) + cap);
		b->cap = cap;
		b->used = 0;
		b->next = NULL;
		if (e->cur) {
			/* Put it right after cur, so the blocks stay in the order they fill. */
			b->next = e->cur->next;
			e->cur->next = b;
		} else {
			b->next = e->first;
			e->first = b;
		}
	}
	e->cur = b;
	b->used += n;
	return b->data + b->used - n;
}

static void arena_reset(struct rp_promrw *e)
{
	e->cur = e->first;
	if (e->cur)
		e->cur->used = 0;
	e->nmetrics = e->nlabels = 0;
}

/* Grows *buf (of *cap bytes) to hold n, doubling: sizes settle after a few requests. */
static void reserve(uint8_t **buf, size_t *cap, size_t n)
{
	size_t c = *cap ? *cap : 4096;

	if (n <= *cap)
		return;
	while (c < n)
		c *= 2;
	free(*buf);
	*buf = rp_xmalloc(c);
	*cap = c;
}

/* The end of a token starting at p: the first of `stops` not escaped by a backslash. */
static const char *scan(const char *p, const char *end, char s1, char s2)
{
	while (p < end && *p != s1 && *p != s2) {
		if (*p == '\\' && p + 1 < end)
			p++;
		p++;
	}
	return p;
}

/* Copies an escaped name or tag value, NUL-terminated, into the arena: "\," "\=" "\ "
 * lose their backslash (line.c's escaping); `kind` 'm' cleans a metric name, 'l' a
 * label name, 0 keeps the bytes. */
static char *unescape(struct rp_promrw *e, const char *p, size_t n, const char *suffix, size_t slen,
		      int kind)
{
	char *s = arena_alloc(e, n + slen + 3), *o = s;

	if (kind && n && p[0] >= '0' && p[0] <= '9')
		*o++ = '_';
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\\' && i + 1 < n &&
		    (p[i + 1] == ',' || p[i + 1] == '=' || p[i + 1] == ' '))
			c = p[++i];
		*o++ = c;
	}
	if (slen) {
		*o++ = '_';
		memcpy(o, suffix, slen);
		o += slen;
	}
	*o = '\0';
	if (kind)
		for (char *q = s; q < o; q++) {
			char c = *q;
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '_' || (kind == 'm' && c == ':');

			if (!ok)
				*q = '_';
		}
	return s;
}

/* A string field's value between its quotes: "\"" and "\\" lose their backslash. */
static char *unquote(struct rp_promrw *e, const char *p, size_t n)
{
	char *s = arena_alloc(e, n + 1), *o = s;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n && (p[i + 1] == '"' || p[i + 1] == '\\'))
			i++;
		*o++ = p[i];
	}
	*o = '\0';
	return s;
}

static const double pow10_exact[] = {1e0, 1e1, 1e2,  1e3,  1e4,	 1e5,  1e6,  1e7,
				     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* "123.456" with at most 15 digits, as line.c writes rtt_ms: digits / 10^k, both exact
 * doubles, so the quotient is the correctly rounded value strtod gives (Clinger's fast
 * path). false for anything else. */
static bool plain_decimal(const char *p, size_t n, double *v)
{
	uint64_t m = 0;
	size_t digits = 0, frac = 0, i = 0;
	bool neg = n && p[0] == '-', dot = false;

	if (neg)
		i++;
	for (; i < n; i++) {
		char c = p[i];

		if (c >= '0' && c <= '9') {
			m = m * 10 + (uint64_t)(c - '0');
			frac += dot;
			if (++digits > 15)
				return false;
		} else if (c == '.' && !dot) {
			dot = true;
		} else {
			return false;
		}
	}
	if (!digits)
		return false;
	*v = (double)m / pow10_exact[frac];
	if (neg)
		*v = -*v;
	return true;
}

/* Line protocol's spellings of true (the first five) and false. */
static const char *const booleans[] = {"t", "T", "true",  "True",  "TRUE",
				       "f", "F", "false", "False", "FALSE"};

/* A numeric field value: float, 12i, 12u, or a boolean. false when it is none. */
static bool number(const char *p, size_t n, double *v)
{
	char tmp[64], *end;

	if (!n || n >= sizeof(tmp))
		return false;
	if (plain_decimal(p, n, v))
		return true;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	for (size_t i = 0; i < sizeof(booleans) / sizeof(booleans[0]); i++)
		if (strcmp(tmp, booleans[i]) == 0) {
			*v = i < 5;
			return true;
		}
	if (tmp[n - 1] == 'i') {
		tmp[n - 1] = '\0';
		*v = (double)strtoll(tmp, &end, 10);
	} else if (tmp[n - 1] == 'u') {
		tmp[n - 1] = '\0';
		*v = (double)strtoull(tmp, &end, 10);
	} else {
		*v = strtod(tmp, &end);
	}
	return end != tmp && *end == '\0';
}

static void add_series(struct rp_promrw *e, Prometheus__TimeSeries *ts)
{
	if (e->nseries == e->series_cap) {
		e->series_cap = e->series_cap ? e->series_cap * 2 : 4096;
		e->series = rp_xrealloc(e->series, e->series_cap * sizeof(*e->series));
	}
	e->series[e->nseries++] = ts;
}

/* The label name made from the raw key p[0..n), made once per request. */
static char *label_name(struct rp_promrw *e, const char *p, size_t n)
{
	struct name *c;

	for (unsigned i = 0; i < e->nlabels; i++) {
		c = &e->labels[i];
		if (c->n == n && memcmp(c->raw, p, n) == 0)
			return c->text;
	}
	if (e->nlabels == NAME_CACHE)
		return unescape(e, p, n, NULL, 0, 'l');
	c = &e->labels[e->nlabels++];
	*c = (struct name){.raw = p, .n = n, .text = unescape(e, p, n, NULL, 0, 'l')};
	return c->text;
}

/* Metric MEASUREMENT[_KEY] (raw bytes) and its __name__ label, made once per request. */
static struct name *metric_label(struct rp_promrw *e, const char *m, size_t mn, const char *k,
				 size_t kn)
{
	struct name *c;
	char key[256];
	size_t o = 0;

	for (unsigned i = 0; i < e->nmetrics; i++) {
		c = &e->metrics[i];
		if (c->n == mn && c->n2 == kn && memcmp(c->raw, m, mn) == 0 &&
		    (!kn || memcmp(c->raw2, k, kn) == 0))
			return c;
	}
	/* The field key, unescaped, goes after "MEASUREMENT_". */
	for (size_t j = 0; j < kn && o < sizeof(key); j++) {
		char ch = k[j];

		if (ch == '\\' && j + 1 < kn)
			ch = k[++j];
		key[o++] = ch;
	}
	c = e->nmetrics < NAME_CACHE ? &e->metrics[e->nmetrics++] : &e->spare;
	*c = (struct name){.raw = m, .n = mn, .raw2 = k, .n2 = kn};
	c->text = unescape(e, m, mn, key, o, 'm');
	c->label = arena_alloc(e, sizeof(*c->label));
	prometheus__label__init(c->label);
	c->label->name = "__name__";
	c->label->value = c->text;
	c->tlen = strlen(c->text);
	return c;
}

/* Adds the label (name, value) to labels[0..*n), kept sorted by name; a name already
 * there, __name__, or an empty value: left out. */
static void add_label(struct rp_promrw *e, Prometheus__Label **labels, size_t *n, char *name,
		      char *value)
{
	Prometheus__Label *l;
	size_t i = *n;

	if (*n >= MAX_LABELS || !*name || !*value || strcmp(name, "__name__") == 0)
		return;
	for (size_t k = 0; k < *n; k++)
		if (strcmp(labels[k]->name, name) == 0)
			return;
	l = arena_alloc(e, sizeof(*l));
	prometheus__label__init(l);
	l->name = name;
	l->value = value;
	while (i > 0 && strcmp(labels[i - 1]->name, name) > 0) {
		labels[i] = labels[i - 1];
		i--;
	}
	labels[i] = l;
	(*n)++;
}

/* One sample of metric m, labelled labels[0..nl) (sorted, `lbytes` of names and values)
 * with m's __name__ label put in at `at`. The packed size bound grows by the most the
 * sample can take: a TimeSeries' tag and length (6), its Sample (tag and length 6,
 * double 9, varint timestamp 11), each Label (tag and length 6, two strings with a tag
 * and a length each, 12 + their bytes). */
static void add_sample(struct rp_promrw *e, Prometheus__Label *const *labels, size_t nl, size_t at,
		       const struct name *m, size_t lbytes, double v, int64_t ts_ms)
{
	Prometheus__Label *ln = m->label;
	Prometheus__TimeSeries *ts = arena_alloc(e, sizeof(*ts));
	Prometheus__Sample *s = arena_alloc(e, sizeof(*s));
	Prometheus__Sample **sp = arena_alloc(e, sizeof(*sp));
	Prometheus__Label **lp = arena_alloc(e, (nl + 1) * sizeof(*lp));

	memcpy(lp, labels, at * sizeof(*lp));
	lp[at] = ln;
	memcpy(lp + at + 1, labels + at, (nl - at) * sizeof(*lp));
	prometheus__sample__init(s);
	s->value = v;
	s->timestamp = ts_ms;
	*sp = s;
	prometheus__time_series__init(ts);
	ts->n_labels = nl + 1;
	ts->labels = lp;
	ts->n_samples = 1;
	ts->samples = sp;
	add_series(e, ts);
	e->bound += 6 + 26 + lbytes + 18 * (nl + 1) + sizeof("__name__") + m->tlen;
}

/* One line of line protocol [p, end) into samples; false when it is not one. */
static bool encode_line(struct rp_promrw *e, const char *p, const char *end, uint64_t *samples)
{
	Prometheus__Label *labels[MAX_LABELS];
	struct tok fkey[MAX_FIELDS], fval[MAX_FIELDS];
	size_t nl = 0, nf = 0, at = 0, lbytes = 0;
	const char *meas = p, *q;
	size_t mlen;
	int64_t ts_ms;

	p = scan(p, end, ',', ' ');
	mlen = (size_t)(p - meas);
	if (!mlen)
		return false;
	while (p < end && *p == ',') { /* tags */
		const char *k = p + 1, *ke = scan(k, end, '=', '=');
		const char *v, *ve;

		if (ke >= end)
			return false;
		v = ke + 1;
		ve = scan(v, end, ',', ' ');
		add_label(e, labels, &nl, label_name(e, k, (size_t)(ke - k)),
			  unescape(e, v, (size_t)(ve - v), NULL, 0, 0));
		p = ve;
	}
	if (p >= end || *p != ' ')
		return false;
	do { /* fields */
		const char *k = p + 1, *ke = scan(k, end, '=', '=');
		const char *v, *ve;

		if (ke >= end || ke == k)
			return false;
		v = ke + 1;
		if (v < end && *v == '"') {
			for (ve = v + 1; ve < end && *ve != '"'; ve++)
				if (*ve == '\\' && ve + 1 < end)
					ve++;
			if (ve >= end)
				return false;
			add_label(e, labels, &nl, label_name(e, k, (size_t)(ke - k)),
				  unquote(e, v + 1, (size_t)(ve - v - 1)));
			ve++;
		} else {
			ve = scan(v, end, ',', ' ');
			if (nf < MAX_FIELDS) {
				fkey[nf] = (struct tok){k, (size_t)(ke - k)};
				fval[nf++] = (struct tok){v, (size_t)(ve - v)};
			}
		}
		p = ve;
	} while (p < end && *p == ',');
	while (p < end && *p == ' ')
		p++;
	/* The time, in ns: the writer always writes one (a line without is not its own). */
	{
		uint64_t ns = 0;

		for (q = p; q < end && *q >= '0' && *q <= '9'; q++)
			ns = ns * 10 + (uint64_t)(*q - '0');
		if (q == p || q - p > 19 || (q < end && *q != '\r' && *q != ' '))
			return false;
		ts_ms = (int64_t)(ns / 1000000u);
	}
	while (at < nl && strcmp(labels[at]->name, "__name__") < 0)
		at++;
	for (size_t i = 0; i < nl; i++)
		lbytes += strlen(labels[i]->name) + strlen(labels[i]->value);
	if (!nf) {
		add_sample(e, labels, nl, at, metric_label(e, meas, mlen, NULL, 0), lbytes, 1,
			   ts_ms);
		(*samples)++;
		return true;
	}
	for (size_t i = 0; i < nf; i++) {
		double v;

		if (!number(fval[i].p, fval[i].n, &v))
			continue;
		add_sample(e, labels, nl, at, metric_label(e, meas, mlen, fkey[i].p, fkey[i].n),
			   lbytes, v, ts_ms);
		(*samples)++;
	}
	return true;
}

ssize_t rp_promrw_encode(struct rp_promrw *e, const char *body, size_t len, uint8_t **out,
			 size_t *cap, struct rp_promrw_counts *c)
{
	Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
	const char *p = body, *end = body + len;
	size_t packed, need, zlen;

	arena_reset(e);
	e->nseries = 0;
	e->bound = 16;
	memset(c, 0, sizeof(*c));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		if (eol > p && *p != '#') {
			c->lines++;
			if (!encode_line(e, p, eol, &c->samples))
				c->bad_lines++;
		}
		p = eol + 1;
	}
	wr.n_timeseries = e->nseries;
	wr.timeseries = e->series;
	/* Packed into a buffer of the bound: protobuf_c_message_get_packed_size() would walk
	 * the whole message once more. */
	reserve(&e->packed, &e->packed_cap, e->bound);
	packed = protobuf_c_message_pack(&wr.base, e->packed);
	if (packed > e->bound)
		abort(); /* the bound is wrong: memory past the buffer was written */
	need = snappy_max_compressed_length(packed);
	reserve(out, cap, need);
	zlen = *cap;
	if (snappy_compress((const char *)e->packed, packed, (char *)*out, &zlen) != SNAPPY_OK)
		return -EIO;
	c->packed_bytes = packed;
	return (ssize_t)zlen;
}
