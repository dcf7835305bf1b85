/* The validated configuration: YAML file + command-line flags -> one struct.
 *
 * Every key has one row in a table (src/conf/keys.c) that drives the YAML reader,
 * the generated --flags, the help text, validation ranges and the effective-config
 * printer, so a key cannot exist in one place and be missing in another.
 * Every problem is collected in a struct rp_diags and reported at once. */
#ifndef RP_CONF_H
#define RP_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ringprobe/addr.h"
#include "ringprobe/diag.h"

#define RP_NSEC_PER_MSEC 1000000LL
#define RP_NSEC_PER_SEC 1000000000LL

/** A network of either family; a single address is a /32 (IPv4) or /128 (IPv6). */
struct rp_cidr {
	struct rp_ip net; /* host bits clear */
	uint8_t prefix;	  /* in the family's terms: 0..32 for IPv4, 0..128 for IPv6 */
};

/* Host bits of the largest network a list may hold at all (a /8, a /104), and of the
 * largest a sweep takes without allow_large_networks (a /16, a /112). */
#define RP_CIDR_MAX_HOST_BITS 24
#define RP_CIDR_SWEEP_HOST_BITS 16

/** A list of networks; `line` keeps where each came from for later messages. Lists
 *  that take DNS names (`devices`, command-line targets) keep them apart, in the order
 *  given, with their own line numbers. */
struct rp_cidr_list {
	struct rp_cidr *v;
	uint32_t *line;
	size_t n;
	char **names;
	uint32_t *name_line;
	size_t *name_pos; /* networks given before each name: its place in the order given */
	size_t nnames;
};

struct rp_filesd_doc;

/** A list of file names or glob patterns, each with the line it was given on. */
struct rp_path_list {
	char **v;
	uint32_t *line;
	size_t n;
};

/** What `device_files` gave (rp_conf_validate reads them): the entries of `devices`
 *  from index `own` on (and of its names from `own_names` on) came from these files;
 *  src[i] / name_src[i] is the file of the (own + i)-th network / (own_names + i)-th
 *  name, and group[i] / name_group[i] its label set in that file's doc. */
struct rp_device_files {
	size_t own, own_names;
	size_t own_devtags; /* c->devtags from this on are the files' labels */
	char **path;	    /* the files read, in order */
	struct rp_filesd_doc *doc;
	size_t n;
	uint32_t *src, *group, *name_src, *name_group;
};

/** Which address families are probed: of a name's records, and at all. */
enum rp_addrfam { RP_ADDRFAM_BOTH, RP_ADDRFAM_4, RP_ADDRFAM_6 };

/** Whether s can be a DNS host name: 1..253 bytes, dot-separated labels of 1..63
 *  letters, digits, '-' or '_' not starting or ending with '-', an optional final dot,
 *  and not all digits and dots (a mistyped IPv4 address is an address error). */
bool rp_name_valid(const char *s);
/** Appends a (valid) name to l, in its place after the networks given so far. */
void rp_cidr_list_add_name(struct rp_cidr_list *l, const char *name, uint32_t line);

/* ---- groups and static tags (src/conf/groups.c) ---------------------------------- */

/** Limits of static tags: a key is 1..RP_TAG_KEY_MAX bytes of [A-Za-z0-9_], not starting
 *  with a digit or "__" (a Prometheus label name too); a value 1..RP_TAG_VALUE_MAX bytes of
 *  UTF-8 without control characters; a device's tags (top level, group and its own merged)
 *  at most RP_TAGS_MAX pairs and RP_TAGS_TEXT_MAX bytes written as k=v,k=v. The keys
 *  ip, name and shard are ringprobe's own and refused. */
#define RP_TAG_KEY_MAX 64
#define RP_TAG_VALUE_MAX 128
#define RP_TAGS_MAX 16
#define RP_TAGS_TEXT_MAX 512

/** Static tags (`tags:` of the top level, a group or a device), in the order given. */
struct rp_tagset {
	char **kv; /* key, value, key, value ... (owned) */
	uint32_t *line;
	size_t n; /* pairs */
};

/** A `devices:` entry given as a mapping `{address: ..., tags: {...}}`: the entry it made
 *  in its list (index into .v, or with is_name into .names) and its tags. */
struct rp_devtags {
	size_t index;
	bool is_name;
	uint32_t line;
	struct rp_tagset tags;
};

struct rp_conf;
/* The probe settings a group may set (rp_conf_group.probe), in this order. */
enum rp_group_probe_key {
	RP_GP_PING_TIMEOUT,
	RP_GP_PING_COUNT,
	RP_GP_PING_SPACING,
	RP_GP_PACKET_SIZE,
	RP_GP_TTL,
	RP_GP_TOS,
	RP_GP_SOURCE_ADDRESS, /* in rp_conf_group.source_address */
	RP_GP_INTERFACE,      /* in rp_conf_group.interface */
	RP_GP_N,
};
/** The key of each (its path at the top level too): "ping_timeout", ... */
extern const char *const rp_group_probe_keys[RP_GP_N];

/* Distinct probe settings (the top level's and the groups') one run may hold: each is
 * a probe profile in the shards (prober.h RP_PROFILES_MAX). */
#define RP_CONF_PROFILES 16
/** One `groups:` entry. A key it does not set keeps the top level's value; its tags are
 *  added to the top level's (the group's win on the same key), a device's to both.
 *  Its `device_files` targets join its `devices` at validation (after its own, as the
 *  top level's do), with their labels as rp_devtags, so everything downstream takes
 *  them unchanged. */
struct rp_conf_group {
	char *name;
	uint32_t line;
	struct rp_cidr_list devices, networks;
	struct rp_devtags *devtags;
	size_t ndevtags;
	struct rp_tagset tags;
	int64_t ping_interval; /* 0 = the top level's */
	uint32_t interval_line;
	/* `snmp:`: NULL = the top level's. Its snmp.* keys, read into a configuration of
	 * their own (its origin[] says which the group set); rp_conf_validate fills the
	 * others from the top level's, so its snmp is then the group's effective block. */
	struct rp_conf *snmp;
	struct rp_path_list device_files; /* its own globs of file_sd documents */
	struct rp_device_files files;	  /* what they gave (rp_conf_validate) */
	/* Probe settings: probe_line[k] is the line that set probe[k] (enum
	 * rp_group_probe_key), 0 = not set (the top level's). */
	int64_t probe[RP_GP_N];
	uint32_t probe_line[RP_GP_N];
	struct rp_cidr_list source_address; /* one address per family at most */
	char *interface; /* the requests' outgoing interface (per packet); NULL = none */
};

struct rp_conf;

/** The settings devices of the top level (g = 0) or group g (1..groups.n) are probed
 *  with: the group's own, else the top level's; an inherited ping_timeout longer than
 *  the group's ping_interval is cut to it (as the top level's is to its own). */
struct rp_conf_probe {
	int64_t ping_timeout; /* ns */
	int64_t ping_count;
	int64_t ping_spacing; /* ns; 0 = automatic */
	int64_t packet_size;
	int64_t ttl;
	int64_t tos;
	struct rp_ip source[2]; /* IPv4, IPv6 source_address; all-zero = none */
	char interface[16];	/* a group's interface (per packet); "" = none */
};
void rp_conf_probe_of(const struct rp_conf *c, size_t g, struct rp_conf_probe *out);
bool rp_conf_probe_equal(const struct rp_conf_probe *a, const struct rp_conf_probe *b);

struct rp_conf_groups {
	struct rp_conf_group *v;
	size_t n;
};

/** Whether `s` can be a tag key; NULL, or which rule it breaks. */
const char *rp_tag_key_invalid(const char *s);
/** Frees what a tag set owns and empties it. */
void rp_tagset_clear(struct rp_tagset *t);
/** Adds (or, for a key present, replaces) a pair; copies both. */
void rp_tagset_set(struct rp_tagset *t, const char *key, const char *value, uint32_t line);
/** The tags of a device: `base` with `over`'s pairs set on it, into out (cleared first). */
void rp_tagset_merge(struct rp_tagset *out, const struct rp_tagset *base,
		     const struct rp_tagset *over);
/** The rp_devtags of entry `index` (is_name: a name's) of a devices list, or NULL. */
const struct rp_devtags *rp_devtags_find(const struct rp_devtags *v, size_t n, size_t index,
					 bool is_name);
/** Same, for a caller walking a list's entries of one kind in order: looks from *k on
 *  (start it at 0), so a walk costs entries + devtags, not their product (a device
 *  file gives a devtags entry to each of its targets). The devtags of one kind are in
 *  increasing index, as the file and the device files give them. */
const struct rp_devtags *rp_devtags_walk(const struct rp_devtags *v, size_t n, size_t *k,
					 size_t index, bool is_name);

/** Most instances `shard: I/N` splits a fleet over (rendezvous costs N hashes an address). */
#define RP_SHARD_MAX 256

/** `shard: I/N`: keep the devices whose address ranks I highest of N (rendezvous
 * hashing, src/ctl/fleet.c); count 1 = everything. `shard: auto/N` sets from_host and
 * takes index from the host name's ordinal suffix (`ringprobe-3` is 3, 0-based). */
struct rp_shard_sel {
	uint32_t index;
	uint32_t count;
	bool from_host;
};

enum rp_backend { RP_BACKEND_AUTO, RP_BACKEND_URING, RP_BACKEND_MMSG };
enum rp_icmp_mode { RP_ICMP_AUTO, RP_ICMP_RAW, RP_ICMP_DGRAM };
enum rp_log_format { RP_LOG_TEXT, RP_LOG_JSON };
enum rp_log_level { RP_LOG_DEBUG, RP_LOG_INFO, RP_LOG_NOTICE, RP_LOG_WARN, RP_LOG_ERROR };
enum rp_influx_api { RP_INFLUX_AUTO, RP_INFLUX_V1, RP_INFLUX_V2 };
enum rp_spool_fsync { RP_FSYNC_BATCH, RP_FSYNC_ALWAYS, RP_FSYNC_NEVER };
enum rp_snmp_version { RP_SNMP_V2C, RP_SNMP_V3 };
enum rp_snmp_seclevel { RP_SNMP_NOAUTHNOPRIV, RP_SNMP_AUTHNOPRIV, RP_SNMP_AUTHPRIV };
enum rp_snmp_auth { RP_SNMP_AUTH_SHA, RP_SNMP_AUTH_MD5, RP_SNMP_AUTH_SHA256, RP_SNMP_AUTH_SHA512 };
enum rp_snmp_priv { RP_SNMP_PRIV_AES, RP_SNMP_PRIV_DES };

/* Durations are nanoseconds (int64_t, never negative after validation). Enum-valued
 * keys are stored as int so the table-driven reader can set them; the enum above
 * each names the values. Strings are owned by the struct (rp_conf_fini frees them). */
struct rp_conf {
	/* netscan's keys, same meaning */
	struct rp_cidr_list networks;
	int64_t icmp_discovery_interval;
	int64_t ping_interval;
	int64_t ping_timeout;
	double ping_rate_limit;
	int64_t ping_burst_limit;
	int64_t ping_max_consecutive_fails;
	int64_t ping_backoff_duration;
	int64_t snmp_interval;
	double snmp_rate_limit;
	int64_t snmp_burst_limit;
	int64_t snmp_max_consecutive_fails;
	int64_t snmp_backoff_duration;
	int64_t health_check_port;
	int64_t health_report_interval;
	int64_t max_devices;
	struct {
		char *community;
		char *community_file;
		int64_t port;
		int64_t timeout;
		int64_t retries;
		int version; /* enum rp_snmp_version */
		bool enabled;
		int64_t max_inflight;
		struct {
			char *username;
			int security_level; /* enum rp_snmp_seclevel */
			int auth_protocol;  /* enum rp_snmp_auth */
			char *auth_password;
			char *auth_password_file;
			int priv_protocol; /* enum rp_snmp_priv */
			char *priv_password;
			char *priv_password_file;
		} v3;
	} snmp;
	struct {
		char *url;
		char *token;
		char *token_file;
		char *org;
		char *bucket;
		char *health_bucket;
		int64_t batch_size;
		int64_t buffer_size;
		int64_t flush_interval;
		int api; /* enum rp_influx_api */
		char *database;
		char *retention_policy;
		char *username;
		char *password;
		char *password_file;
		bool gzip;
		int64_t max_inflight;
		int64_t timeout;
		char *ca_file;
		bool insecure_skip_verify;
	} influxdb;
	/* The other destination: Prometheus remote write 1.0 (src/writer/promrw.c). The
	 * writer's knobs (batch_size, buffer_size, flush_interval, max_inflight, timeout,
	 * ca_file, insecure_skip_verify) are influxdb.*'s for both. */
	struct {
		char *url;     /* the full write URL, e.g. http://prom:9090/api/v1/write */
		char *headers; /* "Name: value" lines */
		struct {
			char *username;
			char *password;
			char *password_file;
		} basic_auth;
		char *bearer_token;
		char *bearer_token_file;
	} prometheus_remote_write;

	/* ringprobe's own keys */
	struct rp_cidr_list devices;	  /* addresses, small networks and DNS names; with
					   * device_files, theirs follow (files below) */
	struct rp_path_list device_files; /* globs of Prometheus file_sd documents */
	struct rp_device_files files;	  /* what they gave (rp_conf_validate) */
	int address_family;		  /* enum rp_addrfam */
	struct {
		int64_t ttl_floor;
		int64_t ttl_ceiling;
		int64_t retry_min;
		int64_t retry_max;
		char *servers; /* "IP[:PORT],..."; NULL = /etc/resolv.conf */
	} dns;
	bool allow_loopback;
	bool allow_large_networks;
	int64_t prune_after;
	int64_t shards;		   /* 0 = one per online CPU, at most 8 */
	int64_t realtime_priority; /* SCHED_FIFO priority of the run's shards; 0 = off */
	int64_t probe_tick;	   /* ns between the shards' wake-ups, 1 .. 10 ms */
	int backend;		   /* enum rp_backend */
	int icmp_mode;		   /* enum rp_icmp_mode */
	/* The echo requests (struct rp_prober_conf's packet fields) */
	int64_t packet_size;		    /* ICMP payload bytes, as fping -b */
	int64_t ttl;			    /* 0 = the kernel's */
	int64_t tos;			    /* IPv4 TOS / IPv6 traffic class byte */
	bool dont_fragment;		    /* DF / IPV6_DONTFRAG */
	struct rp_cidr_list source_address; /* one address per family at most */
	char *interface;		    /* SO_BINDTODEVICE; NULL = none */
	int64_t fwmark;			    /* SO_MARK; 0 = none */
	char *user;
	struct rp_shard_sel shard;
	char *health_listen;
	int64_t shutdown_timeout;
	struct {
		int format; /* enum rp_log_format */
		int level;  /* enum rp_log_level */
	} log;
	struct {
		char *dir;
		int64_t max_bytes;
		int fsync; /* enum rp_spool_fsync */
	} spool;
	int64_t ping_count;   /* echoes per round, 1..100 */
	int64_t ping_spacing; /* between a round's echoes; 0 = automatic */
	struct {
		bool probes; /* a `ping` point per echo */
		bool rounds; /* a `ping_round` point per device and round */
		bool states; /* a `device_state` point per state change */
	} output;
	struct {
		int64_t down_after; /* failed rounds in a row before a device is down */
		int64_t up_after;   /* good rounds in a row before it is up */
	} state;
	struct {
		bool per_device; /* smokeping_prober's series per device (docs/prometheus.md) */
		char *path;	 /* the health server's path for them */
		char *buckets;	 /* histogram bounds: "5e-05,0.0001,..." (seconds) */
		bool on_metrics; /* also appended to /metrics */
		/* smokeping_prober 0.7's `source` label on each series */
		bool source_label;
		/* the label for a device's sysName; NULL or "" = none */
		char *sysname_label;
	} prometheus;
	/* The default group is the top level: its tags, and devtags for its `devices`. */
	struct rp_tagset tags;
	struct rp_devtags *devtags;
	size_t ndevtags;
	struct rp_conf_groups groups;

	/* Where each key's value came from, indexed like rp_conf_key_at(): 0 = default,
	 * > 0 = the file line, RP_CONF_FROM_FLAG = a command-line flag. */
	int32_t origin[128];
	char *file; /* the config file read, or NULL */
};

#define RP_CONF_FROM_FLAG (-1)

/** What the configuration is for: each command needs different keys. */
enum rp_conf_purpose {
	RP_CONF_FOR_RUN,   /* the daemon (and check-config): a fleet, and a sink unless
			    * prometheus.per_device serves the results instead */
	RP_CONF_FOR_PING,  /* one-shot ping: targets come from the command line */
	RP_CONF_FOR_SWEEP, /* one-shot sweep */
};

/* Kinds of value a key holds. */
enum rp_conf_type {
	RP_CT_STRING,
	RP_CT_SECRET, /* a string never printed or logged */
	/* The path of a file holding the secret key named by this key's path without
	 * "_file" ("influxdb.token_file" -> "influxdb.token"); rp_conf_validate reads it. */
	RP_CT_SECRET_FILE,
	RP_CT_DURATION,
	RP_CT_INT,
	RP_CT_FLOAT,
	RP_CT_BOOL,
	RP_CT_ENUM,
	RP_CT_SIZE,
	RP_CT_CIDRS,
	RP_CT_SHARD,
	RP_CT_PATHS,   /* a list of file names or glob patterns (struct rp_path_list) */
	RP_CT_IGNORED, /* a netscan key with no meaning here: accepted with one notice */
	RP_CT_TAGS,    /* struct rp_tagset: a mapping in the file, k=v[,k=v] as a flag */
	RP_CT_GROUPS,  /* struct rp_conf_groups: a list of mappings, in the file only */
};

/** One configuration key (a row of the table in src/conf/keys.c). */
struct rp_conf_key {
	const char *path; /* "influxdb.url" */
	enum rp_conf_type type;
	size_t offset;		  /* into struct rp_conf */
	int64_t min, max;	  /* INT, DURATION (ns), SIZE; FLOAT uses them too */
	const char *const *names; /* ENUM: NULL-terminated value names, index = value */
	const char *dflt;	  /* default as text, parsed at rp_conf_init; NULL = empty */
	const char *help;	  /* one line for --help and docs */
};

/** Number of keys in the table. */
size_t rp_conf_key_count(void);
/** The i-th key, in table (and printing) order. */
const struct rp_conf_key *rp_conf_key_at(size_t i);
/** The key with this dotted path, or NULL. */
const struct rp_conf_key *rp_conf_key_find(const char *path);
/** Index of a key returned by the functions above. */
size_t rp_conf_key_index(const struct rp_conf_key *k);
/** Writes the flag name of key `k` ("influxdb.url" -> "influxdb-url") into buf. */
void rp_conf_key_flag(const struct rp_conf_key *k, char *buf, size_t len);

/** Fills `c` with the documented defaults; rp_conf_fini releases it. */
void rp_conf_init(struct rp_conf *c);
/** Frees what `c` owns; `c` may be re-initialized afterwards. */
void rp_conf_fini(struct rp_conf *c);

/** Reads a YAML file into `c`, adding every problem (with file:line:col and key)
 *  to `d`. Returns 0, or -errno when the file cannot be read or is not YAML. */
int rp_conf_load_file(struct rp_conf *c, const char *path, struct rp_diags *d);
/** Same, from a buffer; `name` is used in messages. */
int rp_conf_load_buffer(struct rp_conf *c, const char *name, const char *text, size_t len,
			struct rp_diags *d);
/** Sets key `k` from a flag's text (`value` may be NULL for a bare boolean flag).
 *  Problems go to `d` naming the flag. Returns 0 or -EINVAL. */
int rp_conf_set_flag(struct rp_conf *c, const struct rp_conf_key *k, const char *value,
		     struct rp_diags *d);
/** Reads each *_file key's file into its secret key (so it runs at start and on every
 *  reload), then checks everything that involves more than one key, for `purpose`. */
void rp_conf_validate(struct rp_conf *c, enum rp_conf_purpose purpose, struct rp_diags *d);
/** Whether key `k` has the same value in `a` and `b` (where it came from aside). */
bool rp_conf_key_equal(const struct rp_conf *a, const struct rp_conf *b,
		       const struct rp_conf_key *k);
/** Prints the effective configuration as YAML, secrets masked. */
void rp_conf_print(const struct rp_conf *c, FILE *out);
/** True when key `k` was set by the file or a flag. */
#define RP_CONF_MAX_BUCKETS 64 /* RP_PACC_MAX_BUCKETS (prober.h) */
/** Parses prometheus.buckets' text (comma-separated seconds, ascending, each finite and
 *  above 0; smokeping_prober's --buckets) into out (at most max). The count, or -EINVAL
 *  with why (no key name: the caller adds it). */
int rp_conf_buckets(const char *s, double *out, unsigned max, char *why, size_t whylen);
bool rp_conf_is_set(const struct rp_conf *c, const struct rp_conf_key *k);

/* Value parsers, shared by the YAML reader, flags and command arguments.
 * Each returns 0, or -EINVAL and writes a human-readable reason into `why`. */

/** "250ms", "30s", "1h30m", "1.5s", "7d"; a bare "0" is zero. Result in ns. */
int rp_parse_duration(const char *s, int64_t *ns, char *why, size_t whylen);
/** Formats ns as the shortest duration text ("1h30m", "250ms", "0s"). */
void rp_format_duration(int64_t ns, char *buf, size_t len);
/** A decimal integer, optional sign, optional '_' separators. */
int rp_parse_int(const char *s, int64_t *out, char *why, size_t whylen);
/** A finite decimal number. */
int rp_parse_float(const char *s, double *out, char *why, size_t whylen);
/** true/false/yes/no/on/off, any case. */
/** Why `run` may not probe addr (loopback without allow_loopback, multicast, broadcast,
 *  link-local, unspecified: the rules `networks` and `devices` are checked by), or NULL. */
const char *rp_conf_refuses(const struct rp_conf *c, const struct rp_ip *addr);
int rp_parse_bool(const char *s, bool *out, char *why, size_t whylen);
/** Bytes: "1048576", "512MiB", "1GB", "64K" (K/M/G/T and KiB.. binary; KB/MB.. decimal). */
int rp_parse_size(const char *s, int64_t *out, char *why, size_t whylen);
/** Formats bytes with the largest binary unit that divides them ("1GiB", "1500"). */
void rp_format_size(int64_t bytes, char *buf, size_t len);
/** A dotted-quad IPv4 address (no leading zeros), host byte order. */
int rp_parse_ipv4(const char *s, uint32_t *out, char *why, size_t whylen);
/** An address of either family (rp_ip_parse), with a reason when it is not one. */
int rp_parse_ip(const char *s, struct rp_ip *out, char *why, size_t whylen);
/** "ADDR/p" or "ADDR" (/32, /128) for an address of either family. Host bits set are
 *  cleared and *host_bits says so. */
int rp_parse_cidr(const char *s, struct rp_cidr *out, bool *host_bits, char *why, size_t whylen);
/** "I/N" with 1 <= N <= RP_SHARD_MAX and I < N, or "auto/N" (from_host set, index 0 until
 * rp_shard_from_host). */
int rp_parse_shard(const char *s, struct rp_shard_sel *out, char *why, size_t whylen);
/** Sets sel->index from a host name ending in "-ORDINAL" (the first label of a dotted
 * name; decimal, no leading zeros); rejects other names and an ordinal >= sel->count. */
int rp_shard_from_host(struct rp_shard_sel *sel, const char *host, char *why, size_t whylen);
/** Formats a network as "ADDR/p" (or "ADDR" for a single address when `bare32`); buf
 *  needs RP_CIDR_STRLEN bytes. */
void rp_format_cidr(const struct rp_cidr *c, bool bare32, char *buf, size_t len);
#define RP_CIDR_STRLEN (RP_IP_STRLEN + 4)
/** Whether addr lies in network c (never for an address of the other family). */
bool rp_cidr_contains(const struct rp_cidr *c, const struct rp_ip *addr);
/** Bits of the host part: 32 - prefix for IPv4, 128 - prefix for IPv6. */
unsigned rp_cidr_host_bits(const struct rp_cidr *c);
/** Number of addresses in a network, 2^host_bits, UINT64_MAX when that is 2^64 or more. */
uint64_t rp_cidr_size(const struct rp_cidr *c);
/** The address at offset i < rp_cidr_size(c) of network c. */
struct rp_ip rp_cidr_nth(const struct rp_cidr *c, uint64_t i);

/** Expands ${VAR} and ${VAR:-default} in `s` ("$${" is a literal "${").
 *  Returns a new string, or NULL with the reason in `why` (unset variable,
 *  unterminated or empty name). `why` never quotes `s`, only the position of the
 *  problem in it; for a `secret` value it does not name the variable either, since
 *  that text may be part of a password that merely contains "${". */
char *rp_expand_env(const char *s, bool secret, char *why, size_t whylen);

/** Copies `url` into buf without its user-info ("http://u:p@h/x" -> "http://h/x"),
 *  so that a URL can be logged or printed: every message naming a URL goes through
 *  it. A NULL url gives "". */
void rp_url_redact(const char *url, char *buf, size_t len);

#endif
