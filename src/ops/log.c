/* Logging: logfmt or JSON lines on stderr, one write(2) per line. */
#include "ringprobe/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_format = RP_LOG_TEXT;
static atomic_int log_level = RP_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "notice", "warn", "error"};

void rp_log_setup(int format, int level)
{
	atomic_store(&log_format, format);
	atomic_store(&log_level, level);
}

/* Appends `s` as a JSON string body (no quotes). */
static size_t json_escape(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 7 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	return o;
}

/* Turns `k=v k2="v 2"` into `,"k":"v","k2":"v 2"`. */
static size_t kv_to_json(char *out, size_t cap, const char *kv)
{
	size_t o = 0;
	const char *p = kv;

	while (*p && o + 8 < cap) {
		const char *k, *v;
		size_t klen, vlen;

		while (*p == ' ')
			p++;
		k = p;
		while (*p && *p != '=' && *p != ' ')
			p++;
		klen = (size_t)(p - k);
		if (!klen)
			break;
		if (*p == '=')
			p++;
		if (*p == '"') {
			v = ++p;
			while (*p && *p != '"')
				p += (*p == '\\' && p[1]) ? 2 : 1;
			vlen = (size_t)(p - v);
			if (*p)
				p++;
		} else {
			v = p;
			while (*p && *p != ' ')
				p++;
			vlen = (size_t)(p - v);
		}
		o += (size_t)snprintf(out + o, cap - o, ",\"");
		o += json_escape(out + o, cap - o, k, klen);
		o += (size_t)snprintf(out + o, cap - o, "\":\"");
		o += json_escape(out + o, cap - o, v, vlen);
		o += (size_t)snprintf(out + o, cap - o, "\"");
	}
	return o < cap ? o : cap - 1;
}

void rp_log(int level, const char *msg, const char *fmt, ...)
{
	char kv[1024] = "", line[2048], ts[40];
	struct timespec now;
	struct tm tm;
	size_t o;
	va_list ap;

	if (level < atomic_load(&log_level) || level < 0 || level > RP_LOG_ERROR)
		return;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(kv, sizeof(kv), fmt, ap);
		va_end(ap);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	o = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + o, sizeof(ts) - o, ".%03ldZ", now.tv_nsec / 1000000);
	if (atomic_load(&log_format) == RP_LOG_JSON) {
		o = (size_t)snprintf(line, sizeof(line),
				     "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
				     level_names[level]);
		o += json_escape(line + o, sizeof(line) - o, msg, strlen(msg));
		o += (size_t)snprintf(line + o, sizeof(line) - o, "\"");
		o += kv_to_json(line + o, sizeof(line) - o, kv);
		o += (size_t)snprintf(line + o, sizeof(line) - o, "}\n");
	} else {
		o = (size_t)snprintf(line, sizeof(line), "ts=%s level=%s msg=\"%s\"%s%s\n", ts,
				     level_names[level], msg, kv[0] ? " " : "", kv);
	}
	if (o >= sizeof(line)) {
		o = sizeof(line) - 1;
		line[o - 1] = '\n';
	}
	/* One write per line so lines from several threads never interleave. */
	if (write(STDERR_FILENO, line, o) < 0)
		return;
}
