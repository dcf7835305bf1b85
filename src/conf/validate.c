/* Checks that involve more than one key or depend on the command. Single values
 * were range-checked when they were read. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"
#include "ringprobe/icmp.h"

#define KEY(path) rp_conf_key_find(path)

/* One problem with the key at `path`, located at its line (a missing key has none:
 * then the file it is missing from). */
static void vsay(const struct rp_conf *c, struct rp_diags *d, int level, const char *path,
		 const char *fmt, va_list ap)
{
	char where[512], msg[768];
	const char *w = rp_conf__where(c, KEY(path), where, sizeof(where));

	if (!w)
		w = c->file;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	rp_diags_add(d, level, w, path, "%s", msg);
}

RP_PRINTF(5, 6)
static void say(const struct rp_conf *c, struct rp_diags *d, int level, const char *path,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(c, d, level, path, fmt, ap);
	va_end(ap);
}

RP_PRINTF(4, 5)
static void err(const struct rp_conf *c, struct rp_diags *d, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(c, d, RP_DIAG_ERROR, path, fmt, ap);
	va_end(ap);
}

static bool empty(const char *s)
{
	return !s || !*s;
}

/* Whether a lies in the network written `net` (a constant of this file). */
static bool in_net(const struct rp_ip *a, const char *net)
{
	struct rp_cidr c;
	char why[64];

	if (rp_parse_cidr(net, &c, NULL, why, sizeof(why)) < 0)
		abort();
	return rp_cidr_contains(&c, a);
}

/* Why the daemon may not send to network n (first or last address), or NULL. */
static const char *refused(const struct rp_conf *c, const struct rp_cidr *n,
			   const struct rp_ip *last)
{
	if (rp_ip_is_v4(&n->net)) {
		if (in_net(&n->net, "127.0.0.0/8") && !c->allow_loopback)
			return "is loopback; set allow_loopback: true (--allow-loopback) to "
			       "monitor it";
		if (in_net(&n->net, "224.0.0.0/4") || in_net(last, "224.0.0.0/4"))
			return "is multicast; only unicast devices can be monitored";
		if (in_net(&n->net, "240.0.0.0/4") || in_net(last, "240.0.0.0/4"))
			return "is reserved or broadcast (240.0.0.0/4)";
		if (in_net(&n->net, "0.0.0.0/8"))
			return "is in 0.0.0.0/8 (\"this network\"), which cannot be probed";
		return NULL;
	}
	if (in_net(&n->net, "::1/128") && !c->allow_loopback)
		return "is loopback; set allow_loopback: true (--allow-loopback) to monitor it";
	if (in_net(&n->net, "ff00::/8"))
		return "is multicast; only unicast devices can be monitored";
	if (in_net(&n->net, "fe80::/10"))
		return "is link-local, which needs an interface to send on; monitor the "
		       "device by a global or unique local address";
	if (rp_ip_is_zero(&n->net) && n->prefix == 128)
		return "is the unspecified address (::), which cannot be probed";
	return NULL;
}

const char *rp_conf_refuses(const struct rp_conf *c, const struct rp_ip *addr)
{
	struct rp_cidr one = {*addr, rp_ip_is_v4(addr) ? 32 : 128};

	return refused(c, &one, addr);
}

/* Networks and devices the daemon may send to. `run` refuses loopback (unless
 * allow_loopback), multicast, broadcast, IPv6 link-local and "this network"; sweeps
 * of more than 2^16 addresses (a /16, a /112) need allow_large_networks. */
static void check_targets(const struct rp_conf *c, const char *path, const struct rp_cidr_list *l,
			  bool large_rule, struct rp_diags *d)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct rp_cidr *n = &l->v[i];
		struct rp_ip last = rp_cidr_nth(n, rp_cidr_size(n) - 1);
		char name[64], where[512], txt[RP_CIDR_STRLEN];
		const char *why = refused(c, n, &last);

		snprintf(name, sizeof(name), "%s[%zu]", path, i);
		if (l == &c->devices && i >= c->files.own && c->files.n)
			snprintf(where, sizeof(where), "%s:%u",
				 c->files.path[c->files.src[i - c->files.own]], l->line[i]);
		else if (KEY(path) && c->origin[rp_conf_key_index(KEY(path))] == RP_CONF_FROM_FLAG)
			rp_conf__where(c, KEY(path), where, sizeof(where));
		else
			snprintf(where, sizeof(where), "%s:%u", c->file ? c->file : "", l->line[i]);
		rp_format_cidr(n, true, txt, sizeof(txt));
		if (why)
			rp_diags_add(d, RP_DIAG_ERROR, where, name, "%s %s", txt, why);
		else if (large_rule && rp_cidr_host_bits(n) > RP_CIDR_SWEEP_HOST_BITS &&
			 !c->allow_large_networks)
			rp_diags_add(d, RP_DIAG_ERROR, where, name,
				     "%s has %llu addresses, more than a %s; set "
				     "allow_large_networks: true (--allow-large-networks) to "
				     "sweep it",
				     txt, (unsigned long long)rp_cidr_size(n),
				     rp_ip_is_v4(&n->net) ? "/16" : "/112");
	}
}

static void check_influx(struct rp_conf *c, enum rp_conf_purpose purpose, struct rp_diags *d)
{
	const char *url = c->influxdb.url;
	int api = c->influxdb.api;

	if (empty(url)) {
		/* No sink: only an operator who scrapes the per-device series wants none. */
		if (purpose == RP_CONF_FOR_RUN && empty(c->prometheus_remote_write.url) &&
		    !c->prometheus.per_device)
			err(c, d, "influxdb.url",
			    "must be set: the daemon writes every result to InfluxDB or "
			    "VictoriaMetrics (e.g. http://127.0.0.1:8086), or set "
			    "prometheus_remote_write.url instead, or set prometheus.per_device: "
			    "true to only serve the per-device series for Prometheus to scrape");
		else if (purpose == RP_CONF_FOR_RUN && empty(c->prometheus_remote_write.url) &&
			 !c->health_check_port)
			err(c, d, "health_check_port",
			    "is 0 (no health server) while influxdb.url and "
			    "prometheus_remote_write.url are unset: prometheus.per_device's series "
			    "would be served nowhere; set a port, or a sink");
		else if (purpose == RP_CONF_FOR_RUN && empty(c->prometheus_remote_write.url))
			say(c, d, RP_DIAG_NOTICE, "influxdb.url",
			    "and prometheus_remote_write.url are unset: no sink, nothing is "
			    "written (no points, no spool); the results are only served as "
			    "prometheus.per_device's series on %s%s",
			    c->prometheus.path ? c->prometheus.path : "/probe-metrics",
			    c->prometheus.on_metrics ? " and /metrics" : "");
		return;
	}
	if (!empty(c->prometheus_remote_write.url)) {
		err(c, d, "influxdb.url",
		    "and prometheus_remote_write.url are both set: the writer sends to one "
		    "destination; remove one of them");
		return;
	}
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		char shown[512];

		rp_url_redact(url, shown, sizeof(shown));
		err(c, d, "influxdb.url", "\"%s\" must start with http:// or https://", shown);
	}
	if (api == RP_INFLUX_AUTO)
		api = !empty(c->influxdb.database) ? RP_INFLUX_V1 : RP_INFLUX_V2;
	if (api == RP_INFLUX_V1) {
		if (empty(c->influxdb.database))
			err(c, d, "influxdb.database", "must be set for the v1 API (/write)");
	} else {
		if (empty(c->influxdb.bucket))
			err(c, d, "influxdb.bucket",
			    "must be set for the v2 API (/api/v2/write); for InfluxDB 1.x set "
			    "influxdb.database instead");
		if (empty(c->influxdb.org))
			err(c, d, "influxdb.org", "must be set for the v2 API (/api/v2/write)");
	}
	if (c->influxdb.buffer_size < c->influxdb.batch_size)
		err(c, d, "influxdb.buffer_size",
		    "must be at least influxdb.batch_size (a full batch has to fit)");
}

/* "Name: value" lines: a header name is a token (RFC 9110), the value has no control
 * byte; blank lines are skipped. */
static bool headers_valid(const char *h, size_t *bad_line)
{
	size_t line = 1;

	for (const char *p = h; *p; line++) {
		const char *eol = strchr(p, '\n'), *colon;
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (n && p[n - 1] == '\r')
			n--;
		colon = memchr(p, ':', n);
		if (n && strspn(p, " \t") < n) {
			size_t name = colon ? (size_t)(colon - p) : 0;

			if (!colon || !name ||
			    strspn(p, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != name) {
				*bad_line = line;
				return false;
			}
			for (const char *q = colon + 1; q < p + n; q++)
				if ((unsigned char)*q < 0x20 && *q != '\t') {
					*bad_line = line;
					return false;
				}
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	return true;
}

static void check_remote_write(const struct rp_conf *c, struct rp_diags *d)
{
	const char *url = c->prometheus_remote_write.url;
	size_t bad = 0;

	if (empty(url))
		return;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		char shown[512];

		rp_url_redact(url, shown, sizeof(shown));
		err(c, d, "prometheus_remote_write.url",
		    "\"%s\" must start with http:// or https://", shown);
	}
	if (!empty(c->prometheus_remote_write.headers) &&
	    !headers_valid(c->prometheus_remote_write.headers, &bad))
		err(c, d, "prometheus_remote_write.headers",
		    "line %zu is not \"Name: value\" (a header name, a colon, a value without "
		    "control characters)",
		    bad);
	if (!empty(c->prometheus_remote_write.bearer_token) &&
	    !empty(c->prometheus_remote_write.basic_auth.username))
		err(c, d, "prometheus_remote_write.bearer_token",
		    "and prometheus_remote_write.basic_auth are both set: use one of them");
	if (!empty(c->prometheus_remote_write.bearer_token) &&
	    strpbrk(c->prometheus_remote_write.bearer_token, "\r\n"))
		err(c, d, "prometheus_remote_write.bearer_token", "holds a line break");
}

static void check_snmp(const struct rp_conf *c, struct rp_diags *d)
{
	if (c->snmp.version != RP_SNMP_V3)
		return;
	if (empty(c->snmp.v3.username))
		err(c, d, "snmp.v3.username", "must be set when snmp.version is 3");
	if (c->snmp.v3.security_level != RP_SNMP_NOAUTHNOPRIV &&
	    (empty(c->snmp.v3.auth_password) || strlen(c->snmp.v3.auth_password) < 8))
		err(c, d, "snmp.v3.auth_password",
		    "must be at least 8 characters for security_level %s",
		    c->snmp.v3.security_level == RP_SNMP_AUTHPRIV ? "authPriv" : "authNoPriv");
	if (c->snmp.v3.security_level == RP_SNMP_AUTHPRIV &&
	    (empty(c->snmp.v3.priv_password) || strlen(c->snmp.v3.priv_password) < 8))
		err(c, d, "snmp.v3.priv_password",
		    "must be at least 8 characters for security_level authPriv");
}

/* source_address: single addresses, one per family at most (each binds the socket of
 * its family); interface: a name the kernel can hold (IFNAMSIZ). Whether the address
 * is this host's or the interface exists is the kernel's to say at start. */
static void check_packet(const struct rp_conf *c, struct rp_diags *d)
{
	const struct rp_cidr_list *l = &c->source_address;
	bool seen[2] = {false, false};
	size_t n = c->interface ? strlen(c->interface) : 0;
	char txt[RP_CIDR_STRLEN];

	/* fping -b takes 0; ours needs room for the fields that validate a reply. */
	if (c->packet_size < RP_ICMP_PAYLOAD_MIN)
		err(c, d, "packet_size",
		    "%lld is below %d: the first %d payload bytes are the probe's own fields "
		    "(magic, slot, generation, sequence, send time, MAC), without which a reply "
		    "can be neither matched nor trusted",
		    (long long)c->packet_size, RP_ICMP_PAYLOAD_MIN, RP_ICMP_PAYLOAD_MIN);
	for (size_t i = 0; i < l->n; i++) {
		bool v4 = rp_ip_is_v4(&l->v[i].net);

		rp_format_cidr(&l->v[i], true, txt, sizeof(txt));
		if (l->v[i].prefix != (v4 ? 32 : 128))
			err(c, d, "source_address",
			    "%s is a network; give one address of this host", txt);
		else if (seen[v4])
			err(c, d, "source_address",
			    "%s is a second %s address; give at most one IPv4 and one IPv6 address",
			    txt, v4 ? "IPv4" : "IPv6");
		else if (rp_ip_is_zero(&l->v[i].net) || (v4 && l->v[i].net.w[3] == 0))
			err(c, d, "source_address",
			    "%s is the unspecified address; leave "
			    "source_address out for the kernel's choice",
			    txt);
		seen[v4] = true;
	}
	if (n >= 16 || (n && (strchr(c->interface, '/') || strpbrk(c->interface, " \t:"))))
		err(c, d, "interface",
		    "\"%s\" is not an interface name (at most 15 characters, no '/', ':' or "
		    "space)",
		    c->interface);
}

/* A round's echoes must fit in its interval: ping_count echoes ping_spacing apart
 * (automatic: a tenth of the interval spread over them, at least 10 ms). */
static void check_rounds(const struct rp_conf *c, struct rp_diags *d)
{
	int64_t sp = c->ping_spacing, n = c->ping_count;
	char a[32], b[32];

	if (sp > 0 && sp < RP_NSEC_PER_MSEC)
		err(c, d, "ping_spacing", "must be 0 (automatic) or at least 1ms");
	if (n < 2)
		return;
	if (sp == 0) {
		sp = c->ping_interval / 10 / (n - 1) / RP_NSEC_PER_MSEC * RP_NSEC_PER_MSEC;
		if (sp < 10 * RP_NSEC_PER_MSEC)
			sp = 10 * RP_NSEC_PER_MSEC;
	}
	if ((n - 1) * sp >= c->ping_interval) {
		rp_format_duration(sp, a, sizeof(a));
		rp_format_duration(c->ping_interval, b, sizeof(b));
		err(c, d, c->ping_spacing ? "ping_spacing" : "ping_count",
		    "%lld echoes %s apart do not fit in ping_interval (%s): lower ping_count or "
		    "ping_spacing, or raise ping_interval",
		    (long long)n, a, b);
	}
}

/* The tag set holding key (the first of the top level's, its devices', each group's and
 * its devices'), and that key's line; NULL when no tag is named key. */
static bool tagset_has(const struct rp_tagset *t, const char *key, uint32_t *line)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->kv[2 * i], key) == 0) {
			*line = t->line ? t->line[i] : 0;
			return true;
		}
	return false;
}

/* Whether a tag (of the top level, a group, or a device of either) is named key; *line
 * is then the first such tag's line. */
static bool tag_named(const struct rp_conf *c, const char *key, uint32_t *line)
{
	if (tagset_has(&c->tags, key, line))
		return true;
	for (size_t i = 0; i < c->ndevtags; i++)
		if (tagset_has(&c->devtags[i].tags, key, line))
			return true;
	for (size_t g = 0; g < c->groups.n; g++) {
		const struct rp_conf_group *gr = &c->groups.v[g];

		if (tagset_has(&gr->tags, key, line))
			return true;
		for (size_t i = 0; i < gr->ndevtags; i++)
			if (tagset_has(&gr->devtags[i].tags, key, line))
				return true;
	}
	return false;
}

/* prometheus.sysname_label: a Prometheus label name (no "__" prefix: Prometheus' own)
 * that none of the series' other labels takes: host, ip, le (the histogram's), source,
 * or a tag's key (tags become labels). */
static void check_sysname_label(const struct rp_conf *c, struct rp_diags *d)
{
	static const char *const own[] = {"host", "ip", "le", "source"};
	const char *l = c->prometheus.sysname_label;
	uint32_t line = 0;

	if (empty(l))
		return;
	if (strlen(l) > RP_TAG_KEY_MAX || (l[0] >= '0' && l[0] <= '9') ||
	    strspn(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
		strlen(l)) {
		err(c, d, "prometheus.sysname_label",
		    "\"%s\" is not a Prometheus label name: 1 to %d letters, digits and '_', not "
		    "starting with a digit",
		    l, RP_TAG_KEY_MAX);
		return;
	}
	if (l[0] == '_' && l[1] == '_') {
		err(c, d, "prometheus.sysname_label",
		    "\"%s\" starts with \"__\", which Prometheus reserves for its own labels", l);
		return;
	}
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strcmp(l, own[i]) == 0) {
			err(c, d, "prometheus.sysname_label",
			    "\"%s\" is already a label of every per-device series (host, ip, le "
			    "and source are): choose another name, e.g. sysname",
			    l);
			return;
		}
	if (tag_named(c, l, &line))
		err(c, d, "prometheus.sysname_label",
		    "\"%s\" is also a tag key (line %u), and tags are labels of the per-device "
		    "series: the label would appear twice; rename the tag or choose another name",
		    l, (unsigned)line);
	else if (!c->prometheus.per_device || !c->snmp.enabled)
		say(c, d, RP_DIAG_NOTICE, "prometheus.sysname_label",
		    "has no effect: %s is false, so no series will carry a sysName",
		    !c->prometheus.per_device ? "prometheus.per_device" : "snmp.enabled");
}

/* Per-device exposition: the bounds parse, the path is one the server does not answer
 * already (/metrics takes prometheus.on_metrics). */
static void check_prometheus(const struct rp_conf *c, struct rp_diags *d)
{
	static const char *const taken[] = {
	    "/",	"/health",	   "/health/live", "/health/ready",
	    "/metrics", "/api/v1/summary", "/api/v1/down", "/page.js",
	    "/page.css"};
	double b[RP_CONF_MAX_BUCKETS];
	const char *p = c->prometheus.path;
	char why[160];

	if (rp_conf_buckets(c->prometheus.buckets, b, RP_CONF_MAX_BUCKETS, why, sizeof(why)) < 0)
		err(c, d, "prometheus.buckets", "%s", why);
	check_sysname_label(c, d);
	if (empty(p) || p[0] != '/' || strpbrk(p, "?# \t"))
		err(c, d, "prometheus.path", "\"%s\" must be a URL path starting with /",
		    p ? p : "");
	else
		for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
			if (strcmp(p, taken[i]) == 0)
				err(c, d, "prometheus.path",
				    "\"%s\" is already one of the health server's own paths%s", p,
				    strcmp(p, "/metrics") == 0 ? ": set prometheus.on_metrics: "
								 "true to append the series to it"
							       : "");
}

void rp_conf_validate(struct rp_conf *c, enum rp_conf_purpose purpose, struct rp_diags *d)
{
	unsigned char buf[16];
	char a[32], b[32];

	/* Here, after the file and the flags, so a flag can name the file too; and the
	 * reload path calls this again, so a rotated secret is read on SIGHUP. */
	rp_conf__read_secret_files(c, d);
	rp_conf__resolve_group_snmp(c, d);

	/* A timeout longer than the interval follows the interval: a probe still out when
	 * the next one is due counts as failed. Unset, silently (ping_interval: 1s alone
	 * works); set (netscan's own example has 2s and 3s, and a netscan file must load),
	 * with a notice saying what is used. */
	/* The top level's; a group that takes it with a shorter ping_interval has it cut
	 * to its own (rp_conf_probe_of), one that sets its own must keep within it. */
	int64_t shortest = c->ping_interval;

	if (c->ping_timeout > shortest) {
		if (rp_conf_is_set(c, KEY("ping_timeout"))) {
			rp_format_duration(c->ping_timeout, a, sizeof(a));
			rp_format_duration(shortest, b, sizeof(b));
			say(c, d, RP_DIAG_NOTICE, "ping_timeout",
			    "%s is longer than %s (%s): a reply is waited for until the "
			    "next probe is due, %s",
			    a, "ping_interval", b, b);
		}
		c->ping_timeout = shortest;
	}
	check_rounds(c, d);
	if (empty(c->health_listen) || (inet_pton(AF_INET, c->health_listen, buf) != 1 &&
					inet_pton(AF_INET6, c->health_listen, buf) != 1))
		err(c, d, "health_listen", "\"%s\" is not an IPv4 or IPv6 address",
		    c->health_listen ? c->health_listen : "");
	if (purpose == RP_CONF_FOR_RUN) {
		rp_conf__read_device_files(c, d);
		/* When the user did write one of them, its own errors say what is wrong. */
		if (c->networks.n == 0 && c->devices.n == 0 && c->devices.nnames == 0 &&
		    c->groups.n == 0 && !rp_conf_is_set(c, KEY("networks")) &&
		    !rp_conf_is_set(c, KEY("devices")) && !rp_conf_is_set(c, KEY("device_files")))
			err(c, d, "networks",
			    "nothing to monitor: set networks (swept for devices), devices (a "
			    "static list) or device_files");
		check_targets(c, "networks", &c->networks, true, d);
		check_targets(c, "devices", &c->devices, false, d);
		for (size_t i = 0; i < c->groups.n; i++) {
			char p[64];

			snprintf(p, sizeof(p), "groups[%zu].networks", i);
			check_targets(c, p, &c->groups.v[i].networks, true, d);
			snprintf(p, sizeof(p), "groups[%zu].devices", i);
			check_targets(c, p, &c->groups.v[i].devices, false, d);
		}
		if (empty(c->spool.dir) && c->spool.max_bytes > 0)
			err(c, d, "spool.dir",
			    "must be set, or set spool.max_bytes: 0 to run "
			    "without a spool");
	}
	rp_conf__check_groups(c, purpose, d);
	check_packet(c, d);
	check_influx(c, purpose, d);
	check_remote_write(c, d);
	check_snmp(c, d);
	check_prometheus(c, d);
}
