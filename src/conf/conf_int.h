/* Private to src/conf and its tests. */
#ifndef RP_CONF_INT_H
#define RP_CONF_INT_H

#include "ringprobe/conf.h"

/** True for "snmp", "influxdb", "log", "spool", "snmp.v3": keys that hold a mapping. */
bool rp_conf__is_section(const char *path);

/** Converts `text` for key `k` and stores it. `where` (file:line:col or --flag) and
 *  `name` (the key, or "networks[3]") go into any diagnostic. For list keys this
 *  appends one comma-separated item group. Returns 0 or -EINVAL. */
int rp_conf__set_text(struct rp_conf *c, const struct rp_conf_key *k, const char *text,
		      const char *where, const char *name, uint32_t line, struct rp_diags *d);
/** Empties a list key's value (before the file's or the first flag's items). */
void rp_conf__clear_list(struct rp_conf *c, const struct rp_conf_key *k);
/** Empties a RP_CT_PATHS key's list. */
void rp_conf__clear_paths(struct rp_conf *c, const struct rp_conf_key *k);
/** Reads the files `device_files` names and appends their targets to `devices`
 *  (src/conf/files.c); problems name the file, line and column. */
void rp_conf__read_device_files(struct rp_conf *c, struct rp_diags *d);
/** Frees what rp_conf__read_device_files() kept. */
void rp_conf__files_fini(struct rp_device_files *f);
/** Empties a string key's value (a YAML null). */
void rp_conf__clear_string(struct rp_conf *c, const struct rp_conf_key *k);
/** "config.yml:12" for a key set by the file, "--flag" for one set by a flag, else NULL. */
const char *rp_conf__where(const struct rp_conf *c, const struct rp_conf_key *k, char *buf,
			   size_t len);
/** Adds an "unknown key" error for `path` with a "did you mean" hint. */
void rp_conf__unknown_key(struct rp_diags *d, const char *where, const char *path);

/** True for keys whose value must never appear in a message: secrets and URLs
 *  (which may carry user-info). */
bool rp_conf__hides_value(const struct rp_conf_key *k);
/** Reads each set *_file key's file into its secret key; an unreadable file, or the
 *  secret set as well, is an error naming the _file key and the path. */
void rp_conf__read_secret_files(struct rp_conf *c, struct rp_diags *d);

#endif
