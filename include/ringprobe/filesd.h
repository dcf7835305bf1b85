/* Device files (`device_files`): Prometheus file_sd documents, JSON or YAML, each a list
 * of target groups
 *
 *   [{"targets": ["192.0.2.1", "core-1.example.net:9100"], "labels": {"site": "ams1"}}]
 *
 * A target is an address, a small network or a DNS name as `devices` takes them; a
 * port after it ("host:9100", "[2001:db8::1]:9100") is dropped, since ICMP has none,
 * so files written for other exporters can be shared. Labels become the targets' tags;
 * labels whose name starts with "__" are Prometheus's own (relabelling input) and are
 * skipped. Every problem is reported with the file, line and column. */
#ifndef RP_FILESD_H
#define RP_FILESD_H

#include <stddef.h>
#include <stdint.h>

#include "ringprobe/conf.h"
#include "ringprobe/diag.h"

/* Limits on a label (a tag): its name as Prometheus allows ([A-Za-z_][A-Za-z0-9_]*). */
#define RP_FILESD_LABEL_NAME_MAX RP_TAG_KEY_MAX
#define RP_FILESD_LABEL_VALUE_MAX RP_TAG_VALUE_MAX

struct rp_filesd_label {
	char *name;
	char *value;
};

/** One `labels:` mapping, shared by the targets of its group. */
struct rp_filesd_labels {
	struct rp_filesd_label *v;
	size_t n;
};

struct rp_filesd_target {
	char *text;	/* the target as `devices` takes it (port dropped) */
	uint32_t line;	/* 1-based, in its file */
	uint32_t group; /* index into rp_filesd_doc.groups */
};

struct rp_filesd_doc {
	struct rp_filesd_target *targets;
	size_t ntargets;
	struct rp_filesd_labels *groups;
	size_t ngroups;
};

/** Parses one document's text. Problems go to `d` as "name:line:col: ..."; on any
 *  error *out is left empty and -EINVAL returned (a file is taken whole or not at all),
 *  else 0. */
int rp_filesd_parse(const char *name, const char *text, size_t len, struct rp_filesd_doc *out,
		    struct rp_diags *d);
/** Reads and parses a file (as rp_filesd_parse; -errno when it cannot be read). */
int rp_filesd_load(const char *path, struct rp_filesd_doc *out, struct rp_diags *d);
/** Frees what rp_filesd_parse() made and empties it. */
void rp_filesd_free(struct rp_filesd_doc *doc);
/** The host part of a file_sd target, port dropped: "h:9100" -> "h", "[v6]:1" -> "v6",
 *  a bare IPv6 address unchanged. Writes at most cap bytes; false when it does not fit
 *  or the brackets do not close. */
bool rp_filesd_host(const char *target, char *out, size_t cap);

#endif
