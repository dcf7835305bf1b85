/* Logging: one line per event, logfmt ("text") or JSON, to stderr. Never on the
 * per-probe path. Thread-safe: each line is formatted into a local buffer and written
 * with one write(2). */
#ifndef RP_LOG_H
#define RP_LOG_H

#include "ringprobe/compiler.h"
#include "ringprobe/conf.h"

/** Sets the format (enum rp_log_format) and least severe level (enum rp_log_level). */
void rp_log_setup(int format, int level);
/** Logs one event: `msg` is a short constant sentence; `fmt` adds key=value pairs in
 *  logfmt ("backend=%s shards=%d"), converted to JSON members when the format is json.
 *  Values with spaces must be quoted by the caller ("why=\"%s\""). */
void rp_log(int level, const char *msg, const char *fmt, ...) RP_PRINTF(3, 4);

#endif
