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
/** Reads the files `device_files` names and appends their targets to `devices`, and
 *  each group's to the group's (src/conf/files.c); problems name the file, line and
 *  column. */
void rp_conf__read_device_files(struct rp_conf *c, struct rp_diags *d);
/** Appends a pattern to a list of them; frees a list (files.c). */
void rp_conf__add_path(struct rp_path_list *pl, const char *text, uint32_t line);
void rp_conf__free_paths(struct rp_path_list *pl);
/** Frees what rp_conf__read_device_files() kept. */
void rp_conf__files_fini(struct rp_device_files *f);
/** Frees what a list owns and empties it. */
void rp_conf__free_list(struct rp_cidr_list *l);
/** Adds a comma-separated group of networks (and, with `names`, DNS names) to l; `path`
 *  names the key in messages. 0 or -EINVAL. */
int rp_conf__add_cidrs(struct rp_cidr_list *l, const char *path, bool names, const char *text,
		       const char *where, const char *name, uint32_t line, struct rp_diags *d);

/** Well-formed UTF-8 (conf.c). */
bool rp_conf__utf8_valid(const unsigned char *s);

/* groups.c */
/** A flag's tags, "k=v[,k=v...]", added to t (checked as in the file). 0 or -EINVAL. */
int rp_conf__set_tags_text(struct rp_tagset *t, const char *text, const char *where,
			   const char *name, uint32_t line, struct rp_diags *d);
/** Checks one tag at `where` (key rules, reserved keys, value); 0 or -EINVAL. */
int rp_conf__tag_check(const char *key, const char *value, const char *where, const char *name,
		       struct rp_diags *d);
void rp_conf__free_devtags(struct rp_devtags **v, size_t *n);
void rp_conf__free_groups(struct rp_conf_groups *g);
/** Validation of groups and tags that needs the whole file: a device or network in two
 *  groups, the merged tags' limits, the groups' targets (rp_conf_validate calls it). */
void rp_conf__check_groups(const struct rp_conf *c, enum rp_conf_purpose purpose,
			   struct rp_diags *d);
/* A string as check-config prints it: in double quotes, escaped so that YAML reads it
 * back the same ("\\", "\"", control characters, C1 ones and U+FFFE/U+FFFF, which
 * libyaml refuses raw, NEL and U+2028/U+2029, which it folds; a literal "${" as "$${"). */
void rp_conf__put_string(FILE *out, const char *s);
/* A device or network as check-config prints it (an address, a CIDR or a name, whole):
 * plain, except one that ends in ':' (an IPv6 address such as 2001:db8::), which YAML
 * would read as a mapping's key, in double quotes. */
void rp_conf__put_target(FILE *out, const char *s);
/** Prints `tags:` and `groups:` values (print.c). */
void rp_conf__print_tags(const struct rp_tagset *t, FILE *out, int indent);
void rp_conf__print_groups(const struct rp_conf *c, FILE *out);
bool rp_conf__tags_equal(const struct rp_tagset *a, const struct rp_tagset *b);
bool rp_conf__groups_equal(const struct rp_conf_groups *a, const struct rp_conf_groups *b);

/* group_snmp.c */
/** Each group's `snmp:` block: its *_file secrets read, the keys it did not set taken
 *  from the top level's (read and flagged already), the v3 rules checked. */
void rp_conf__resolve_group_snmp(struct rp_conf *c, struct rp_diags *d);
/** The same keys set by the group, to the same values (NULL: none). What a group
 *  inherits is the top level's keys' to compare (src/ctl/reload.c compares the
 *  effective blocks). */
bool rp_conf__group_snmp_equal(const struct rp_conf *a, const struct rp_conf *b);
/** Frees a group's block and sets it NULL. */
void rp_conf__free_group_snmp(struct rp_conf **gs);
/** The keys a group's block set, as `snmp:` at `indent`, secrets masked (print.c). */
void rp_conf__print_group_snmp(const struct rp_conf *gs, FILE *out, int indent);
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
