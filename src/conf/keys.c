/* The one table of configuration keys. The YAML reader, the generated --flags,
 * --help, docs/configuration.md's list, the defaults and the effective-config
 * printer all read this table, so adding a key here adds it everywhere. */
#include <stddef.h>
#include <string.h>

#include "conf/conf_int.h"
#include "ringprobe/icmp.h"

#define NS_MS RP_NSEC_PER_MSEC
#define NS_S RP_NSEC_PER_SEC
#define NS_DAY (86400 * NS_S)

#define K(p, t, f, lo, hi, nm, d, h)                                                               \
	{                                                                                          \
		.path = p, .type = t, .offset = offsetof(struct rp_conf, f), .min = lo, .max = hi, \
		.names = nm, .dflt = d, .help = h                                                  \
	}
/* A netscan key that means nothing here; `why` is the notice. */
#define IGNORED(p, why)                                                                            \
	{                                                                                          \
		.path = p, .type = RP_CT_IGNORED, .help = why                                      \
	}

static const char *const backend_names[] = {"auto", "uring", "mmsg", NULL};
static const char *const icmp_mode_names[] = {"auto", "raw", "dgram", NULL};
static const char *const log_format_names[] = {"text", "json", NULL};
static const char *const log_level_names[] = {"debug", "info", "notice", "warn", "error", NULL};
static const char *const api_names[] = {"auto", "v1", "v2", NULL};
static const char *const fsync_names[] = {"batch", "always", "never", NULL};
static const char *const snmp_version_names[] = {"2c", "3", NULL};
static const char *const seclevel_names[] = {"noAuthNoPriv", "authNoPriv", "authPriv", NULL};
static const char *const auth_names[] = {"SHA", "MD5", "SHA-256", "SHA-512", NULL};
static const char *const priv_names[] = {"AES", "DES", NULL};
static const char *const family_names[] = {"both", "4", "6", NULL};

#define I64MAX INT64_MAX

static const struct rp_conf_key keys[] = {
    /* netscan's keys */
    K("networks", RP_CT_CIDRS, networks, 0, 0, NULL, NULL,
      "CIDR ranges to discover devices in by ICMP sweep"),
    K("icmp_discovery_interval", RP_CT_DURATION, icmp_discovery_interval, 0, 365 * NS_DAY, NULL,
      "5m", "time between discovery sweeps of `networks` (0 = sweep once at start)"),
    K("ping_interval", RP_CT_DURATION, ping_interval, 10 * NS_MS, NS_DAY, NULL, "10s",
      "time between two probes of the same device"),
    K("ping_timeout", RP_CT_DURATION, ping_timeout, NS_MS, 3600 * NS_S, NULL, "3s",
      "a reply later than this is a failure (capped at ping_interval when not set)"),
    K("ping_rate_limit", RP_CT_FLOAT, ping_rate_limit, 0, 10000000, NULL, "20000",
      "packets per second for the whole process, discovery included"),
    K("ping_burst_limit", RP_CT_INT, ping_burst_limit, 1, 10000000, NULL, "1000",
      "packets that may be sent at once above the rate (token bucket size; each probe thread's is "
      "at least two probe_tick's worth of its rate, so the rate is reached)"),
    K("ping_max_consecutive_fails", RP_CT_INT, ping_max_consecutive_fails, 1, 1000000, NULL, "10",
      "failures in a row before a device is suspended"),
    K("ping_backoff_duration", RP_CT_DURATION, ping_backoff_duration, NS_S, 30 * NS_DAY, NULL, "5m",
      "how long a suspended device is probed only once"),
    K("snmp_interval", RP_CT_DURATION, snmp_interval, NS_S, 365 * NS_DAY, NULL, "1h",
      "time between two SNMP polls of the same device"),
    K("snmp_rate_limit", RP_CT_FLOAT, snmp_rate_limit, 0, 1000000, NULL, "10",
      "SNMP requests per second for the whole process"),
    K("snmp_burst_limit", RP_CT_INT, snmp_burst_limit, 1, 1000000, NULL, "50",
      "SNMP requests that may be sent at once above the rate"),
    K("snmp_max_consecutive_fails", RP_CT_INT, snmp_max_consecutive_fails, 1, 1000000, NULL, "5",
      "SNMP failures in a row before polling a device is suspended"),
    K("snmp_backoff_duration", RP_CT_DURATION, snmp_backoff_duration, NS_S, 30 * NS_DAY, NULL, "1h",
      "how long SNMP polling of a failing device is suspended"),
    K("snmp.community", RP_CT_SECRET, snmp.community, 0, 0, NULL, "public", "SNMP v2c community"),
    K("snmp.community_file", RP_CT_SECRET_FILE, snmp.community_file, 0, 0, NULL, NULL,
      "file holding snmp.community (one trailing newline removed; reread on SIGHUP)"),
    K("snmp.port", RP_CT_INT, snmp.port, 1, 65535, NULL, "161", "SNMP agent UDP port"),
    K("snmp.timeout", RP_CT_DURATION, snmp.timeout, 10 * NS_MS, 300 * NS_S, NULL, "5s",
      "time to wait for one SNMP response"),
    K("snmp.retries", RP_CT_INT, snmp.retries, 0, 10, NULL, "1",
      "SNMP retransmissions after a timeout"),
    K("influxdb.url", RP_CT_STRING, influxdb.url, 0, 0, NULL, NULL,
      "InfluxDB or VictoriaMetrics base URL, http:// or https://"),
    K("influxdb.token", RP_CT_SECRET, influxdb.token, 0, 0, NULL, NULL,
      "API token (v2); use ${INFLUX_TOKEN} or token_file to keep it out of the file"),
    K("influxdb.token_file", RP_CT_SECRET_FILE, influxdb.token_file, 0, 0, NULL, NULL,
      "file holding influxdb.token (one trailing newline removed; reread on SIGHUP)"),
    K("influxdb.org", RP_CT_STRING, influxdb.org, 0, 0, NULL, NULL, "organization (v2)"),
    K("influxdb.bucket", RP_CT_STRING, influxdb.bucket, 0, 0, NULL, NULL,
      "bucket for ping and device_info points (v2)"),
    K("influxdb.health_bucket", RP_CT_STRING, influxdb.health_bucket, 0, 0, NULL, "health",
      "bucket for health_metrics points (v2; v1 writes them to `database`)"),
    K("influxdb.batch_size", RP_CT_INT, influxdb.batch_size, 1, 1000000, NULL, "5000",
      "points per write request"),
    K("influxdb.buffer_size", RP_CT_INT, influxdb.buffer_size, 1, 100000000, NULL, "200000",
      "points held in memory while the sink is slow, before spooling"),
    K("influxdb.flush_interval", RP_CT_DURATION, influxdb.flush_interval, 10 * NS_MS, 3600 * NS_S,
      NULL, "5s", "longest time a point waits before it is written"),
    K("health_check_port", RP_CT_INT, health_check_port, 0, 65535, NULL, "8080",
      "port of the /health and /metrics HTTP server (0 = no server)"),
    K("health_report_interval", RP_CT_DURATION, health_report_interval, NS_S, NS_DAY, NULL, "10s",
      "time between two health_metrics points"),
    K("max_devices", RP_CT_INT, max_devices, 1, 1 << 24, NULL, "20000",
      "devices kept; past it the least recently seen is evicted"),
    IGNORED("icmp_workers", "ringprobe runs one probe shard per core (see `shards`)"),
    IGNORED("snmp_workers", "SNMP polling is asynchronous (see `snmp.max_inflight`)"),
    IGNORED("max_concurrent_pingers", "there is no pinger per device (see `max_devices`)"),
    IGNORED("max_concurrent_snmp_pollers", "SNMP polling is asynchronous (see "
					   "`snmp.max_inflight`)"),
    IGNORED("min_scan_interval", "sweeps run every `icmp_discovery_interval`"),
    IGNORED("memory_limit_mb", "memory is sized at start from `max_devices`"),
    IGNORED("discovery_interval", "sweeps run every `icmp_discovery_interval`"),
    IGNORED("snmp_daily_schedule", "devices are polled every `snmp_interval`"),

    /* ringprobe's own keys */
    K("device_files", RP_CT_PATHS, device_files, 0, 0, NULL, NULL,
      "Prometheus file_sd documents (JSON or YAML; glob patterns) whose targets are devices "
      "and whose labels are their tags; re-read when they change"),
    K("devices", RP_CT_CIDRS, devices, 0, 0, NULL, NULL,
      "addresses (IPv4 or IPv6), small CIDRs or DNS names monitored without discovery"),
    K("address_family", RP_CT_ENUM, address_family, 0, 0, family_names, "both",
      "which addresses of a DNS name are probed: 4, 6 or both (both: of each family the host "
      "has a route for)"),
    K("dns.ttl_floor", RP_CT_DURATION, dns.ttl_floor, NS_S, NS_DAY, NULL, "5s",
      "a name is resolved again after its records' TTL, but never sooner than this"),
    K("dns.ttl_ceiling", RP_CT_DURATION, dns.ttl_ceiling, NS_S, 7 * NS_DAY, NULL, "1h",
      "a name is resolved again after its records' TTL, but never later than this"),
    K("dns.retry_min", RP_CT_DURATION, dns.retry_min, 100 * NS_MS, NS_DAY, NULL, "1s",
      "first retry of a name that failed to resolve; each next one waits twice as long"),
    K("dns.retry_max", RP_CT_DURATION, dns.retry_max, 100 * NS_MS, NS_DAY, NULL, "5m",
      "longest wait between retries of a name that fails to resolve"),
    K("dns.servers", RP_CT_STRING, dns.servers, 0, 0, NULL, NULL,
      "DNS servers to ask, IP[:PORT] separated by commas (default: /etc/resolv.conf)"),
    K("allow_loopback", RP_CT_BOOL, allow_loopback, 0, 0, NULL, "false",
      "allow 127.0.0.0/8 and ::1 in networks and devices (tests and demos)"),
    K("allow_large_networks", RP_CT_BOOL, allow_large_networks, 0, 0, NULL, "false",
      "allow networks larger than a /16 (IPv6: a /112)"),
    K("prune_after", RP_CT_DURATION, prune_after, 0, 3650 * NS_DAY, NULL, "24h",
      "forget a discovered device unseen this long (0 = never)"),
    K("shards", RP_CT_INT, shards, 0, 64, NULL, "0",
      "probe threads (0 = one per online CPU, at most 8)"),
    K("realtime_priority", RP_CT_INT, realtime_priority, 0, 99, NULL, "10",
      "SCHED_FIFO priority of the daemon's probe threads, so sends stay on time on a busy host "
      "(needs root, CAP_SYS_NICE or LimitRTPRIO; 0 = normal scheduling)"),
    K("probe_tick", RP_CT_DURATION, probe_tick, NS_MS, 10 * NS_MS, NULL, "10ms",
      "how often each probe thread wakes to send what is due and read the replies, 1ms to "
      "10ms: a wake-up costs the same however much it does, so longer costs less CPU; probes "
      "due before the next wake-up go up to one tick early (RTTs are kernel-stamped, not "
      "affected)"),
    K("backend", RP_CT_ENUM, backend, 0, 0, backend_names, "auto",
      "I/O backend: uring, mmsg (sendmmsg/recvmmsg + epoll) or auto"),
    K("icmp_mode", RP_CT_ENUM, icmp_mode, 0, 0, icmp_mode_names, "auto",
      "ICMP socket: raw (CAP_NET_RAW), dgram (ping_group_range) or auto"),
    K("packet_size", RP_CT_INT, packet_size, 0, RP_ICMP_PAYLOAD_MAX, NULL, "56",
      "ICMP payload bytes of each echo request, as fping -b (at least 40: the probe's own "
      "fields, which validate its reply)"),
    K("ttl", RP_CT_INT, ttl, 0, 255, NULL, "0",
      "IPv4 TTL / IPv6 hop limit of the echo requests (0 = the kernel's default, usually 64)"),
    K("tos", RP_CT_INT, tos, 0, 255, NULL, "0",
      "IPv4 TOS / IPv6 traffic class byte of the echo requests (DSCP is its top 6 bits: EF "
      "is 184)"),
    K("dont_fragment", RP_CT_BOOL, dont_fragment, 0, 0, NULL, "false",
      "set DF (IPv6: IPV6_DONTFRAG): a request larger than the path MTU fails instead of "
      "being fragmented (without it, IPv4 requests of up to 552 bytes carry DF anyway, as "
      "Linux sends them, with IP ID 0)"),
    K("source_address", RP_CT_CIDRS, source_address, 0, 0, NULL, NULL,
      "source address of the echo requests: one IPv4 and/or one IPv6 address of this host "
      "(default: the kernel's choice per route)"),
    K("interface", RP_CT_STRING, interface, 0, 0, NULL, NULL,
      "send and receive the echo requests on this interface only (SO_BINDTODEVICE)"),
    K("fwmark", RP_CT_INT, fwmark, 0, UINT32_MAX, NULL, "0",
      "firewall mark of the echo requests, for policy routing and nftables (SO_MARK, needs "
      "CAP_NET_ADMIN; 0 = none)"),
    K("user", RP_CT_STRING, user, 0, 0, NULL, NULL,
      "also become this user once the sockets are open (capabilities are always cleared)"),
    K("shard", RP_CT_SHARD, shard, 0, 0, NULL, "0/1",
      "I/N: keep only the devices whose address ranks I of N instances (rendezvous hashing, "
      "0-based, N <= 256; N to N+1 moves 1/(N+1) of them); auto/N: I is the host name's "
      "ordinal suffix (ringprobe-3 is 3, as in a Kubernetes StatefulSet)"),
    K("health_listen", RP_CT_STRING, health_listen, 0, 0, NULL, "127.0.0.1",
      "address of the /health and /metrics HTTP server"),
    K("shutdown_timeout", RP_CT_DURATION, shutdown_timeout, 100 * NS_MS, 600 * NS_S, NULL, "10s",
      "longest time from SIGTERM to exit, flushing or spooling included"),
    K("log.format", RP_CT_ENUM, log.format, 0, 0, log_format_names, "text",
      "log line format: text (logfmt) or json"),
    K("log.level", RP_CT_ENUM, log.level, 0, 0, log_level_names, "info",
      "least severe level logged"),
    K("influxdb.api", RP_CT_ENUM, influxdb.api, 0, 0, api_names, "auto",
      "v1 (/write), v2 (/api/v2/write) or auto (v1 when `database` is set)"),
    K("influxdb.database", RP_CT_STRING, influxdb.database, 0, 0, NULL, NULL, "database (v1)"),
    K("influxdb.retention_policy", RP_CT_STRING, influxdb.retention_policy, 0, 0, NULL, NULL,
      "retention policy (v1; empty = the database's default)"),
    K("influxdb.username", RP_CT_STRING, influxdb.username, 0, 0, NULL, NULL,
      "user for basic auth (v1)"),
    K("influxdb.password", RP_CT_SECRET, influxdb.password, 0, 0, NULL, NULL,
      "password for basic auth (v1)"),
    K("influxdb.password_file", RP_CT_SECRET_FILE, influxdb.password_file, 0, 0, NULL, NULL,
      "file holding influxdb.password (one trailing newline removed; reread on SIGHUP)"),
    K("influxdb.gzip", RP_CT_BOOL, influxdb.gzip, 0, 0, NULL, "true", "gzip request bodies"),
    K("influxdb.max_inflight", RP_CT_INT, influxdb.max_inflight, 1, 64, NULL, "4",
      "write requests in flight at once"),
    K("influxdb.timeout", RP_CT_DURATION, influxdb.timeout, 100 * NS_MS, 600 * NS_S, NULL, "10s",
      "time limit of one write request"),
    K("influxdb.ca_file", RP_CT_STRING, influxdb.ca_file, 0, 0, NULL, NULL,
      "PEM file of CA certificates for https"),
    K("influxdb.insecure_skip_verify", RP_CT_BOOL, influxdb.insecure_skip_verify, 0, 0, NULL,
      "false", "do not verify the server's TLS certificate"),
    K("prometheus_remote_write.url", RP_CT_STRING, prometheus_remote_write.url, 0, 0, NULL, NULL,
      "Prometheus remote write URL (e.g. http://127.0.0.1:9090/api/v1/write), instead of "
      "influxdb.url"),
    K("prometheus_remote_write.headers", RP_CT_SECRET, prometheus_remote_write.headers, 0, 0, NULL,
      NULL, "extra request headers, one \"Name: value\" per line (X-Scope-OrgID: ...)"),
    K("prometheus_remote_write.basic_auth.username", RP_CT_STRING,
      prometheus_remote_write.basic_auth.username, 0, 0, NULL, NULL,
      "user for basic auth to the remote write URL"),
    K("prometheus_remote_write.basic_auth.password", RP_CT_SECRET,
      prometheus_remote_write.basic_auth.password, 0, 0, NULL, NULL,
      "password for basic auth to the remote write URL"),
    K("prometheus_remote_write.basic_auth.password_file", RP_CT_SECRET_FILE,
      prometheus_remote_write.basic_auth.password_file, 0, 0, NULL, NULL,
      "file holding prometheus_remote_write.basic_auth.password (one trailing newline removed; "
      "reread on SIGHUP)"),
    K("prometheus_remote_write.bearer_token", RP_CT_SECRET, prometheus_remote_write.bearer_token, 0,
      0, NULL, NULL, "sent as Authorization: Bearer TOKEN"),
    K("prometheus_remote_write.bearer_token_file", RP_CT_SECRET_FILE,
      prometheus_remote_write.bearer_token_file, 0, 0, NULL, NULL,
      "file holding prometheus_remote_write.bearer_token (one trailing newline removed; reread on "
      "SIGHUP)"),
    K("spool.dir", RP_CT_STRING, spool.dir, 0, 0, NULL, "/var/lib/ringprobe/spool",
      "where batches wait on disk while the sink is down"),
    K("spool.max_bytes", RP_CT_SIZE, spool.max_bytes, 0, 1LL << 50, NULL, "1GiB",
      "spool size limit; past it the oldest data is dropped (0 = no spool)"),
    K("spool.fsync", RP_CT_ENUM, spool.fsync, 0, 0, fsync_names, "batch",
      "fsync the spool after every batch, after every record, or never"),
    K("snmp.version", RP_CT_ENUM, snmp.version, 0, 0, snmp_version_names, "2c",
      "SNMP version: 2c or 3"),
    K("snmp.enabled", RP_CT_BOOL, snmp.enabled, 0, 0, NULL, "true",
      "ask every monitored device its system group (device_info points)"),
    K("snmp.max_inflight", RP_CT_INT, snmp.max_inflight, 1, 4096, NULL, "256",
      "SNMP requests outstanding at once (v3: one UDP socket each)"),
    K("snmp.v3.username", RP_CT_STRING, snmp.v3.username, 0, 0, NULL, NULL, "SNMPv3 user name"),
    K("snmp.v3.security_level", RP_CT_ENUM, snmp.v3.security_level, 0, 0, seclevel_names,
      "authPriv", "SNMPv3 security level"),
    K("snmp.v3.auth_protocol", RP_CT_ENUM, snmp.v3.auth_protocol, 0, 0, auth_names, "SHA",
      "SNMPv3 authentication protocol"),
    K("snmp.v3.auth_password", RP_CT_SECRET, snmp.v3.auth_password, 0, 0, NULL, NULL,
      "SNMPv3 authentication passphrase"),
    K("snmp.v3.auth_password_file", RP_CT_SECRET_FILE, snmp.v3.auth_password_file, 0, 0, NULL, NULL,
      "file holding snmp.v3.auth_password (one trailing newline removed; reread on SIGHUP)"),
    K("snmp.v3.priv_protocol", RP_CT_ENUM, snmp.v3.priv_protocol, 0, 0, priv_names, "AES",
      "SNMPv3 privacy protocol"),
    K("snmp.v3.priv_password", RP_CT_SECRET, snmp.v3.priv_password, 0, 0, NULL, NULL,
      "SNMPv3 privacy passphrase"),
    K("snmp.v3.priv_password_file", RP_CT_SECRET_FILE, snmp.v3.priv_password_file, 0, 0, NULL, NULL,
      "file holding snmp.v3.priv_password (one trailing newline removed; reread on SIGHUP)"),
    K("ping_count", RP_CT_INT, ping_count, 1, 100, NULL, "1",
      "echoes per device and round (every ping_interval), ping_spacing apart"),
    K("ping_spacing", RP_CT_DURATION, ping_spacing, 0, 60 * NS_S, NULL, "0s",
      "time between the echoes of a round (0 = the round fits in a tenth of ping_interval, "
      "at least 10ms)"),
    K("output.probes", RP_CT_BOOL, output.probes, 0, 0, NULL, "true",
      "write a `ping` point per echo"),
    K("output.rounds", RP_CT_BOOL, output.rounds, 0, 0, NULL, "false",
      "write a `ping_round` point per device and round (loss, min/avg/median/max, stddev, "
      "jitter)"),
    K("output.states", RP_CT_BOOL, output.states, 0, 0, NULL, "true",
      "write a `device_state` point each time a device goes up or down"),
    K("state.down_after", RP_CT_INT, state.down_after, 1, 1000, NULL, "3",
      "rounds in a row without any reply before a device is down"),
    K("state.up_after", RP_CT_INT, state.up_after, 1, 1000, NULL, "1",
      "rounds in a row with a reply before a device is up"),
    K("prometheus.per_device", RP_CT_BOOL, prometheus.per_device, 0, 0, NULL, "false",
      "serve smokeping_prober's per-device series (requests, RTT histogram, duplicates, TTL) "
      "from the health server"),
    K("prometheus.path", RP_CT_STRING, prometheus.path, 0, 0, NULL, "/probe-metrics",
      "the health server's path for the per-device series"),
    K("prometheus.buckets", RP_CT_STRING, prometheus.buckets, 0, 0, NULL,
      "5e-05,0.0001,0.0002,0.0004,0.0008,0.0016,0.0032,0.0064,0.0128,0.0256,0.0512,0.1024,"
      "0.2048,0.4096,0.8192,1.6384,3.2768,6.5536,13.1072,26.2144",
      "RTT histogram bounds in seconds, comma-separated and ascending (smokeping_prober's "
      "--buckets; at most 64)"),
    K("prometheus.on_metrics", RP_CT_BOOL, prometheus.on_metrics, 0, 0, NULL, "false",
      "also append the per-device series to /metrics (one scrape job for both)"),
    K("prometheus.source_label", RP_CT_BOOL, prometheus.source_label, 0, 0, NULL, "false",
      "add smokeping_prober 0.7's source label to the per-device series (source_address's "
      "address of the device's family, else empty)"),
    K("prometheus.sysname_label", RP_CT_STRING, prometheus.sysname_label, 0, 0, NULL, NULL,
      "label each device's per-device series with its SNMP sysName under this label name "
      "(e.g. sysname; empty: no such label)"),
    /* groups and static tags (src/conf/groups.c) */
    K("tags", RP_CT_TAGS, tags, 0, 0, NULL, NULL,
      "static tags written on every point of every device (key: value; a group's and a "
      "device's own are added to them)"),
    K("groups", RP_CT_GROUPS, groups, 0, 0, NULL, NULL,
      "groups of devices with their own ping_interval and tags (a list; the top level is "
      "the default group; in the file only)"),
};

_Static_assert(RP_ARRAY_SIZE(keys) <= RP_ARRAY_SIZE(((struct rp_conf *)0)->origin),
	       "struct rp_conf.origin is too small for the key table");

size_t rp_conf_key_count(void)
{
	return RP_ARRAY_SIZE(keys);
}

const struct rp_conf_key *rp_conf_key_at(size_t i)
{
	return i < RP_ARRAY_SIZE(keys) ? &keys[i] : NULL;
}

const struct rp_conf_key *rp_conf_key_find(const char *path)
{
	for (size_t i = 0; i < RP_ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].path, path) == 0)
			return &keys[i];
	}
	return NULL;
}

size_t rp_conf_key_index(const struct rp_conf_key *k)
{
	return (size_t)(k - keys);
}

void rp_conf_key_flag(const struct rp_conf_key *k, char *buf, size_t len)
{
	size_t i;

	for (i = 0; k->path[i] && i + 1 < len; i++)
		buf[i] = (k->path[i] == '.' || k->path[i] == '_') ? '-' : k->path[i];
	buf[i] = '\0';
}

bool rp_conf__is_section(const char *path)
{
	static const char *const sections[] = {"snmp",
					       "influxdb",
					       "log",
					       "spool",
					       "snmp.v3",
					       "dns",
					       "output",
					       "state",
					       "prometheus",
					       "prometheus_remote_write",
					       "prometheus_remote_write.basic_auth"};

	for (size_t i = 0; i < RP_ARRAY_SIZE(sections); i++) {
		if (strcmp(sections[i], path) == 0)
			return true;
	}
	return false;
}
