/* fuzz-sources: src/writer/promrw.c @prompb.pb-c.c src/util/xalloc.c */
/* fuzz-pkgs: libprotobuf-c snappy */
/* libFuzzer harness for src/writer/promrw.c: any bytes as a body of line protocol (a
 * spool record or a batch holds what the writer wrote, but the encoder must not trust
 * it). The body is encoded, the snappy block decompressed and the WriteRequest
 * unpacked with libprotobuf-c; then:
 *   - the packed size is the one reported and the series are as many as the samples;
 *   - each series has one sample and labels sorted strictly by name (so no duplicate),
 *     exactly one of them __name__, whose value is a valid metric name; every other
 *     name is a valid label name and no value is empty;
 *   - bad lines are at most the lines read;
 *   - the same body encoded again by the same encoder (its memory reused) gives the
 *     same bytes.
 * Any mismatch calls abort(), which libFuzzer reports as a crash with the reproducer. */
#include <snappy-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prompb.pb-c.h"
#include "writer/writer_int.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_writer_promrw: check failed at line %d: %s\n",       \
				__LINE__, #c);                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static bool valid_name(const char *s, bool metric)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (metric && c == ':')))
			return false;
	}
	return true;
}

static void check_series(const Prometheus__TimeSeries *ts)
{
	unsigned names = 0;

	CHECK(ts->n_samples == 1);
	for (size_t i = 0; i < ts->n_labels; i++) {
		const Prometheus__Label *l = ts->labels[i];
		bool is_name = strcmp(l->name, "__name__") == 0;

		if (i)
			CHECK(strcmp(ts->labels[i - 1]->name, l->name) < 0);
		names += is_name;
		CHECK(valid_name(is_name ? l->value : l->name, is_name));
		CHECK(*l->value);
	}
	CHECK(names == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rp_promrw *e;
	struct rp_promrw_counts c, c2;
	uint8_t *out = NULL, *out2 = NULL;
	size_t cap = 0, cap2 = 0, plain = 0;
	ssize_t n, n2;
	char *raw;
	Prometheus__WriteRequest *wr;

	if (!e)
		CHECK(rp_promrw_create(&e) == 0);
	n = rp_promrw_encode(e, (const char *)data, size, &out, &cap, &c);
	CHECK(n > 0 && (size_t)n <= cap);
	CHECK(c.bad_lines <= c.lines);
	CHECK(snappy_uncompressed_length((const char *)out, (size_t)n, &plain) == SNAPPY_OK);
	CHECK(plain == c.packed_bytes);
	raw = malloc(plain + 1);
	CHECK(snappy_uncompress((const char *)out, (size_t)n, raw, &plain) == SNAPPY_OK);
	wr = prometheus__write_request__unpack(NULL, plain, (const uint8_t *)raw);
	CHECK(wr);
	CHECK(wr->n_timeseries == c.samples);
	for (size_t i = 0; i < wr->n_timeseries; i++)
		check_series(wr->timeseries[i]);
	prometheus__write_request__free_unpacked(wr, NULL);
	free(raw);

	n2 = rp_promrw_encode(e, (const char *)data, size, &out2, &cap2, &c2);
	CHECK(n2 == n && memcmp(out, out2, (size_t)n) == 0);
	CHECK(c2.samples == c.samples && c2.lines == c.lines && c2.bad_lines == c.bad_lines);
	free(out);
	free(out2);
	return 0;
}
