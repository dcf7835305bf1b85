/* SIGHUP: re-read the configuration and apply the keys that can change while running
 * (hot_keys): the fleet's devices and networks, groups and tags (a device whose class,
 * classes.c, changed is re-added; the others go on untouched), ping_interval (each
 * device re-added),
 * ping_timeout (queued to every shard), the sweep and report intervals, the instance
 * shard and logging, and the SNMP settings, the top level's and the groups' own (a new
 * poller; the schedule stays, and the devices whose settings changed are asked again
 * now). Anything else changed is logged as needing a restart; a file
 * with errors changes nothing. Control thread only (from its signal wait). */
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "ctl/ctl_int.h"
#include "ringprobe/compiler.h"
#include "ringprobe/conf.h"
#include "ringprobe/diag.h"
#include "ringprobe/log.h"
#include "ringprobe/prober.h"

/* Keys a reload applies; any other key changed is reported as needing a restart. */
static const char *const hot_keys[] = {
    "networks",
    "devices",
    "device_files",
    "ping_interval",
    "ping_timeout",
    "icmp_discovery_interval",
    "prune_after",
    "health_report_interval",
    "shard",
    "log.format",
    "log.level",
    "allow_loopback",
    "allow_large_networks",
    "tags",
    "groups",
};

/* With SNMP running, its settings apply too (a new poller); snmp.max_inflight sized it. */
static bool is_hot_snmp(const struct rp_conf_key *k)
{
	return strncmp(k->path, "snmp.", 5) == 0 && strcmp(k->path, "snmp.max_inflight") != 0;
}

/* Whether two snmp blocks (configurations: the top level, or a group's own) ask alike. */
static bool snmp_same(const struct rp_conf *a, const struct rp_conf *b)
{
	if (!a || !b)
		return a == b;
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);

		if (is_hot_snmp(k) && !rp_conf_key_equal(a, b, k))
			return false;
	}
	return true;
}

/* Whether the poller's profiles differ: the top level's block, or a group's, or which
 * group is which profile (their order). */
static bool snmp_changed(const struct rp_conf *a, const struct rp_conf *b)
{
	if (!snmp_same(a, b) || a->groups.n != b->groups.n)
		return true;
	for (size_t g = 0; g < a->groups.n; g++)
		if (strcmp(a->groups.v[g].name, b->groups.v[g].name) != 0 ||
		    !snmp_same(a->groups.v[g].snmp, b->groups.v[g].snmp))
			return true;
	return false;
}

struct changed {
	struct rp_ctl *d;
	const struct rp_conf *old; /* the running configuration before the reload */
	bool top;		   /* the top level's block changed */
};

/* Whether devices of class cls are asked with other settings than before. */
static bool settings_changed(void *arg, uint32_t cls)
{
	const struct changed *ch = arg;
	const struct rp_ctl_class *k = rp_ctl__class_at(ch->d, cls);

	if (!k || !k->group)
		return ch->top;
	for (size_t g = 0; g < ch->old->groups.n; g++)
		if (strcmp(ch->old->groups.v[g].name, k->group) == 0)
			for (size_t h = 0; h < ch->d->conf.groups.n; h++)
				if (strcmp(ch->d->conf.groups.v[h].name, k->group) == 0)
					return !snmp_same(ch->old->groups.v[g].snmp,
							  ch->d->conf.groups.v[h].snmp);
	return true;
}

/* After the swap (d->conf new, old the one before): a new poller when the settings
 * differ, every class told its profile, the devices whose settings changed due now. */
static void apply_snmp(struct rp_ctl *d, struct rp_conf *old)
{
	struct changed ch = {d, old, !snmp_same(&d->conf, old)};
	char why[256];

	rp_ctl__classes_snmp(d, &d->conf);
	if (!d->enrich.snmp || !snmp_changed(&d->conf, old))
		return;
	if (rp_enrich_repoll(&d->enrich, &d->conf, old, d->now_ms, rp_ctl__device_info, d, why,
			     sizeof(why)) < 0) {
		rp_log(RP_LOG_ERROR, "SNMP settings not applied", "why=\"%s\"", why);
		return;
	}
	rp_enrich_due_now(&d->enrich, settings_changed, &ch);
	rp_log(RP_LOG_NOTICE, "SNMP settings applied", NULL);
}

static bool is_hot(const struct rp_conf_key *k)
{
	for (size_t i = 0; i < RP_ARRAY_SIZE(hot_keys); i++)
		if (strcmp(k->path, hot_keys[i]) == 0)
			return true;
	return false;
}

static void log_diags(const struct rp_diags *dg)
{
	char line[1024];

	for (size_t i = 0; i < dg->n; i++) {
		rp_diag_format(&dg->v[i], line, sizeof(line));
		for (char *p = line; *p; p++)
			if (*p == '"')
				*p = '\'';
		rp_log(dg->v[i].level == RP_DIAG_ERROR ? RP_LOG_ERROR : RP_LOG_NOTICE,
		       "configuration problem", "detail=\"%s\"", line);
	}
}

/* A new ping_interval reaches a device by a remove and a new add (its phase and
 * failure count start over). Refused (the backlog full, which a reload moments after
 * a start with a huge fleet can meet): the device keeps its old interval, counted. */
static void readd(void *arg, const struct rp_ip *addr, uint32_t id)
{
	struct rp_ctl *d = arg;

	/* Other classes carry their own interval: a changed one made a new class, which
	 * rp_fleet_reload re-added the device with. */
	if (id == 0)
		rp_ctl__queue_readd(d, addr, 0);
}

static void readd_named(void *arg, const struct rp_ip *addr, uint32_t tag)
{
	struct rp_ctl *d = arg;

	rp_ctl__queue_readd(d, addr, tag);
}

static void swap_lists(struct rp_cidr_list *a, struct rp_cidr_list *b)
{
	struct rp_cidr_list t = *a;

	*a = *b;
	*b = t;
}

void rp_ctl__reload(struct rp_ctl *d)
{
	struct rp_conf nc;
	struct rp_diags dg;
	char restart[512] = "", why[256];
	size_t off = 0;
	bool interval_changed;

	if (!d->opts->reload) {
		rp_log(RP_LOG_WARN, "SIGHUP: reload is not available here", NULL);
		return;
	}
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)(rp_ctl__clock_ns(CLOCK_MONOTONIC) / 1000));
	memset(&nc, 0, sizeof(nc));
	rp_diags_init(&dg);
	if (d->opts->reload(d->opts->reload_arg, &nc, &dg) != 0 || dg.errors) {
		log_diags(&dg);
		rp_log(RP_LOG_ERROR, "configuration reload rejected; the running one is kept",
		       "file=%s errors=%zu", d->conf.file ? d->conf.file : "(none)", dg.errors);
		d->reload_errors++;
		goto out;
	}
	log_diags(&dg);
	nc.max_devices = d->conf.max_devices; /* shards were sized for it */
	/* The groups' settings are taken against the new top-level timeout (queued to
	 * the shards below). */
	rp_ctl__profile_timeout(d, nc.ping_timeout);
	if (rp_fleet_reload(&d->fleet, &nc, why, sizeof(why)) < 0) {
		rp_ctl__profile_timeout(d, d->conf.ping_timeout);
		rp_log(RP_LOG_ERROR, "configuration reload rejected; the running one is kept",
		       "why=\"%s\"", why);
		d->reload_errors++;
		goto out;
	}
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *k = rp_conf_key_at(i);

		if (is_hot(k) || (d->enrich.snmp && is_hot_snmp(k)) ||
		    strcmp(k->path, "max_devices") == 0 || rp_conf_key_equal(&d->conf, &nc, k))
			continue;
		if (off < sizeof(restart))
			off += (size_t)snprintf(restart + off, sizeof(restart) - off, "%s%s",
						off ? "," : "", k->path);
	}
	if (!d->enrich.snmp && rp_snmp_any_on(&nc) && off < sizeof(restart))
		off += (size_t)snprintf(restart + off, sizeof(restart) - off,
					"%sgroups[].snmp (SNMP was off for every group at start)",
					off ? "," : "");
	interval_changed = nc.ping_interval != d->conf.ping_interval;
	if (nc.ping_timeout != d->conf.ping_timeout) {
		/* Queued behind the commands already waiting, so it lands in order. */
		rp_prober_queue_timeout(d->prober, (uint64_t)nc.ping_timeout);
		d->conf.ping_timeout = nc.ping_timeout;
	}
	/* Take the keys a reload applies into the running configuration. */
	swap_lists(&d->conf.networks, &nc.networks);
	swap_lists(&d->conf.devices, &nc.devices);
	{
		struct rp_path_list p = d->conf.device_files;
		struct rp_device_files f = d->conf.files;

		d->conf.device_files = nc.device_files;
		d->conf.files = nc.files;
		nc.device_files = p;
		nc.files = f;
	}
	{ /* groups and tags: the fleet took their classes already; names take theirs next */
		struct rp_conf_groups g = d->conf.groups;
		struct rp_tagset t = d->conf.tags;
		struct rp_devtags *dt = d->conf.devtags;
		size_t ndt = d->conf.ndevtags;

		d->conf.groups = nc.groups;
		nc.groups = g;
		d->conf.tags = nc.tags;
		nc.tags = t;
		d->conf.devtags = nc.devtags;
		d->conf.ndevtags = nc.ndevtags;
		nc.devtags = dt;
		nc.ndevtags = ndt;
	}
	if (d->enrich.snmp) { /* the top level's block, but the poller's size */
		int64_t max_inflight = d->conf.snmp.max_inflight;
		unsigned char t[sizeof(d->conf.snmp)];

		memcpy(t, &d->conf.snmp, sizeof(t));
		memcpy(&d->conf.snmp, &nc.snmp, sizeof(t));
		memcpy(&nc.snmp, t, sizeof(t));
		d->conf.snmp.max_inflight = max_inflight;
	}
	apply_snmp(d, &nc);
	d->conf.ping_interval = nc.ping_interval;
	d->conf.icmp_discovery_interval = nc.icmp_discovery_interval;
	d->conf.prune_after = nc.prune_after;
	d->conf.health_report_interval = nc.health_report_interval;
	d->conf.shard = nc.shard;
	d->conf.log = nc.log;
	d->conf.allow_loopback = nc.allow_loopback;
	d->conf.allow_large_networks = nc.allow_large_networks;
	rp_log_setup(d->conf.log.format, d->conf.log.level);
	rp_ctl__names_reload(d);
	if (interval_changed) {
		rp_fleet_each(&d->fleet, readd, d);
		rp_ctl__names_each(d, readd_named, d);
	}
	rp_sweep_reconf(&d->sweep, &d->conf, d->now_ns);
	rp_ctl__watch_reset(d);
	rp_ctl__rate_refresh(d);
	d->next_point_ns = d->now_ns + (uint64_t)d->conf.health_report_interval;
	d->reloads++;
	rp_log(RP_LOG_NOTICE, "configuration reloaded",
	       "devices=%llu networks=%zu ping_interval_s=%.3f",
	       (unsigned long long)rp_fleet_count(&d->fleet), rp_ctl__network_count(&d->conf),
	       (double)d->conf.ping_interval * 1e-9);
	if (off)
		rp_log(RP_LOG_WARN, "some changed keys take effect only at restart", "keys=%s",
		       restart);
out:
	rp_conf_fini(&nc);
	rp_diags_fini(&dg);
	sd_notify(0, "READY=1");
}
