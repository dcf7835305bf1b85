/* Groups and static tags in the configuration: the YAML forms, every refusal with its
 * file:line:col and key, a device in two groups, and the printer reading back. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringprobe/conf.h"

static struct rp_conf conf;
static struct rp_diags diags;

static void setup(void)
{
	rp_conf_init(&conf);
	rp_diags_init(&diags);
}

static void teardown(void)
{
	rp_conf_fini(&conf);
	rp_diags_fini(&diags);
}

TestSuite(groups, .init = setup, .fini = teardown);

#define HEAD                                                                                       \
	"allow_loopback: true\n"                                                                   \
	"influxdb: {url: \"http://127.0.0.1:1\", database: x}\n"

static int load(const char *yaml)
{
	int ret = rp_conf_load_buffer(&conf, "t.yml", yaml, strlen(yaml), &diags);

	rp_conf_validate(&conf, RP_CONF_FOR_RUN, &diags);
	return ret;
}

static const char *diag(size_t i)
{
	static char buf[2048];

	cr_assert_lt(i, diags.n, "expected a diagnostic #%zu, have %zu", i, diags.n);
	rp_diag_format(&diags.v[i], buf, sizeof(buf));
	return buf;
}

/* Whether some diagnostic reads exactly `want`. */
static bool has(const char *want)
{
	for (size_t i = 0; i < diags.n; i++)
		if (strcmp(diag(i), want) == 0)
			return true;
	for (size_t i = 0; i < diags.n; i++)
		cr_log_info("have: %s", diag(i));
	return false;
}

static const char good[] = HEAD "tags: {site: ams1}\n"
				"devices:\n"
				"  - 127.0.0.2\n"
				"  - address: 127.0.0.3\n"
				"    tags: {rack: \"r 1,=x\", site: fra1}\n"
				"groups:\n"
				"  - name: core\n"
				"    ping_interval: 1s\n"
				"    tags:\n"
				"      role: core\n"
				"    devices:\n"
				"      - 127.0.1.0/30\n"
				"      - {address: 127.0.1.9, tags: {rack: r9}}\n"
				"  - name: edge\n"
				"    networks: [127.0.3.0/24]\n";

Test(groups, the_forms_load)
{
	const struct rp_conf_group *g;

	cr_assert_eq(load(good), 0);
	for (size_t i = 0; i < diags.n; i++)
		cr_log_info("%s", diag(i));
	cr_assert_eq(diags.errors, 0);
	cr_assert_eq(conf.tags.n, 1);
	cr_assert_str_eq(conf.tags.kv[0], "site");
	cr_assert_str_eq(conf.tags.kv[1], "ams1");
	cr_assert_eq(conf.devices.n, 2);
	cr_assert_eq(conf.ndevtags, 1);
	cr_assert_eq(conf.devtags[0].index, 1);
	cr_assert_not(conf.devtags[0].is_name);
	cr_assert_str_eq(conf.devtags[0].tags.kv[1], "r 1,=x");
	cr_assert_eq(conf.groups.n, 2);
	g = &conf.groups.v[0];
	cr_assert_str_eq(g->name, "core");
	cr_assert_eq(g->ping_interval, RP_NSEC_PER_SEC);
	cr_assert_eq(g->devices.n, 2);
	cr_assert_eq(g->ndevtags, 1);
	cr_assert_eq(g->devtags[0].index, 1);
	cr_assert_str_eq(g->tags.kv[0], "role");
	g = &conf.groups.v[1];
	cr_assert_str_eq(g->name, "edge");
	cr_assert_eq(g->ping_interval, 0);
	cr_assert_eq(g->networks.n, 1);
	/* The top level keeps its timeout; a group that takes it with a shorter interval
	 * has it cut to its own. */
	cr_assert_eq(conf.ping_timeout, 3 * RP_NSEC_PER_SEC);
	{
		struct rp_conf_probe p;

		rp_conf_probe_of(&conf, 1, &p);
		cr_assert_eq(p.ping_timeout, RP_NSEC_PER_SEC);
		rp_conf_probe_of(&conf, 2, &p);
		cr_assert_eq(p.ping_timeout, 3 * RP_NSEC_PER_SEC);
	}
}

Test(groups, merge_more_specific_wins)
{
	struct rp_tagset a = {0}, b = {0};

	cr_assert_eq(load(good), 0);
	rp_tagset_merge(&a, &conf.tags, &conf.groups.v[0].tags);
	rp_tagset_merge(&b, &a, &conf.devtags[0].tags);
	cr_assert_eq(b.n, 3);
	cr_assert_str_eq(b.kv[0], "site");
	cr_assert_str_eq(b.kv[1], "fra1");
	cr_assert_str_eq(b.kv[2], "role");
	cr_assert_str_eq(b.kv[4], "rack");
	rp_tagset_clear(&a);
	rp_tagset_clear(&b);
}

Test(groups, bad_tags_name_file_line_key_and_rule)
{
	load(
	    HEAD
	    "devices: [127.0.0.2]\n"
	    "tags:\n"
	    "  ip: x\n"
	    "  9a: b\n"
	    "  a-b: c\n"
	    "  __x: y\n"
	    "  ok: \"\"\n"
	    "  long: "
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
	cr_assert(has("t.yml:5:3: error: tags.ip: tag key \"ip\": is ringprobe's own tag: ip, name "
		      "and shard are reserved"));
	cr_assert(has("t.yml:6:3: error: tags.9a: tag key \"9a\": a tag key must not start with a "
		      "digit (it must be a Prometheus label name)"));
	cr_assert(has("t.yml:7:3: error: tags.a-b: tag key \"a-b\": a tag key holds only letters, "
		      "digits and '_' (a Prometheus label name)"));
	cr_assert(has("t.yml:8:3: error: tags.__x: tag key \"__x\": a tag key must not start with "
		      "\"__\" (reserved for Prometheus' own labels)"));
	cr_assert(has("t.yml:9:3: error: tags.ok: empty tag value (InfluxDB leaves out an empty "
		      "tag; remove the tag)"));
	cr_assert(has("t.yml:10:3: error: tags.long: tag value is 138 bytes; at most 128 are "
		      "allowed"));
	cr_assert_eq(diags.errors, 6);
}

Test(groups, device_in_two_groups_names_both)
{
	load(HEAD "devices: [127.0.0.2]\n"
		  "groups:\n"
		  "  - name: core\n"
		  "    devices: [127.0.0.0/30]\n"
		  "  - name: edge\n"
		  "    devices: [127.0.1.1, 127.0.0.3]\n"
		  "    networks: [127.0.5.0/24]\n"
		  "  - name: lab\n"
		  "    networks: [127.0.5.128/25]\n");
	cr_assert(has("t.yml:3: error: devices: 127.0.0.2 is in group \"core\" (line 6) and in the "
		      "top level (the default group) (line 3); a device belongs to one group"));
	cr_assert(has("t.yml:8: error: devices: 127.0.0.3 is in group \"core\" (line 6) and in "
		      "group \"edge\" (line 8); a device belongs to one group"));
	cr_assert(has("t.yml:11: error: networks: 127.0.5.128 is in group \"edge\" (line 9) and in "
		      "group \"lab\" (line 11); a device belongs to one group"));
	cr_assert_eq(diags.errors, 3);
}

Test(groups, process_wide_keys_are_refused_in_a_group)
{
	load(HEAD "groups:\n"
		  "  - name: core\n"
		  "    devices: [127.0.0.2]\n"
		  "    dont_fragment: true\n"
		  "    fwmark: 7\n"
		  "    snmp: {max_inflight: 9}\n"
		  "    colour: red\n"
		  "  - name: core\n"
		  "    ping_interval: 5ms\n"
		  "  - devices: [127.0.0.9]\n");
	cr_assert(has("t.yml:6:5: error: groups[0].dont_fragment: not per group: dont_fragment is "
		      "process-wide (IPv4 has no per-packet DF option, and the shard's socket is "
		      "shared by every group); set it at the top level"));
	cr_assert(has("t.yml:7:5: error: groups[0].fwmark: not per group: fwmark is process-wide "
		      "(SO_MARK is a socket option, and the shard's socket is shared by every "
		      "group); set it at the top level"));
	cr_assert(has("t.yml:8: error: groups[0].snmp.max_inflight: not per group: "
		      "snmp.max_inflight bounds the one SNMP poller of the process; set it at the "
		      "top level"));
	cr_assert(has("t.yml:9:5: error: groups[0].colour: unknown key in a group (a group takes "
		      "name, devices, networks, tags, ping_interval, ping_timeout, ping_count, "
		      "ping_spacing, packet_size, ttl, tos, source_address, interface, snmp and "
		      "device_files)"));
	cr_assert(has("t.yml:10:5: error: groups[1]: group name \"core\" is used at line 4 too"));
	cr_assert(has("t.yml:11:20: error: groups[1].ping_interval: 5ms is out of range "
		      "(10ms..1d)"));
	cr_assert(has("t.yml:12:5: error: groups[2]: a group needs a `name:`"));
}

Test(groups, device_entry_mapping_errors)
{
	load(HEAD "devices:\n"
		  "  - {address: 127.0.0.3, tags: {name: q}, foo: 1}\n"
		  "  - {tags: {a: b}}\n"
		  "  - {address: \"127.0.0.4, 127.0.0.5\"}\n");
	cr_assert(has("t.yml:4:43: error: devices[0].foo: unknown key in a device entry (it takes "
		      "address and tags)"));
	cr_assert(has("t.yml:4:33: error: devices[0].tags.name: tag key \"name\": is ringprobe's "
		      "own tag: ip, name and shard are reserved"));
	cr_assert(has("t.yml:5:5: error: devices[1]: a device given as a mapping needs `address:` "
		      "(an address, CIDR or name)"));
	cr_assert(has("t.yml:6:15: error: devices[2].address: `address:` takes one address, CIDR "
		      "or name"));
}

Test(groups, too_many_merged_tags)
{
	char yaml[4096];
	size_t off = (size_t)snprintf(yaml, sizeof(yaml), HEAD "tags:\n");

	for (int i = 0; i < 10; i++)
		off += (size_t)snprintf(yaml + off, sizeof(yaml) - off, "  t%d: v\n", i);
	off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
				"groups:\n  - name: g\n    devices: [127.0.0.2]\n    tags:\n");
	for (int i = 0; i < 7; i++)
		off += (size_t)snprintf(yaml + off, sizeof(yaml) - off, "      g%d: v\n", i);
	load(yaml);
	cr_assert(has("t.yml:15: error: groups[0].tags: 17 tags with the top level's and the "
		      "group's; at most 16 are allowed"));
}

Test(groups, tags_flag)
{
	const struct rp_conf_key *k = rp_conf_key_find("tags");

	cr_assert_eq(rp_conf_set_flag(&conf, k, "site=ams1,role=core", &diags), 0);
	cr_assert_eq(conf.tags.n, 2);
	cr_assert_str_eq(conf.tags.kv[3], "core");
	cr_assert_eq(rp_conf_set_flag(&conf, k, "ip=x,junk", &diags), -EINVAL);
	cr_assert(has("--tags: error: tag key \"ip\": is ringprobe's own tag: ip, name and shard "
		      "are reserved"));
	cr_assert(has("--tags: error: \"junk\" is not key=value (tags are k=v[,k=v...])"));
	cr_assert_eq(rp_conf_set_flag(&conf, rp_conf_key_find("groups"), "x", &diags), -EINVAL);
}

/* check-config's output reads back as the same configuration. */
Test(groups, printed_reads_back)
{
	struct rp_conf again;
	struct rp_diags d2;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	cr_assert_eq(load(good), 0);
	f = open_memstream(&text, &len);
	rp_conf_print(&conf, f);
	fclose(f);
	rp_conf_init(&again);
	rp_diags_init(&d2);
	cr_assert_eq(rp_conf_load_buffer(&again, "p.yml", text, len, &d2), 0, "%s", text);
	cr_assert_eq(d2.errors, 0, "%s", text);
	cr_assert(rp_conf_key_equal(&conf, &again, rp_conf_key_find("tags")));
	cr_assert(rp_conf_key_equal(&conf, &again, rp_conf_key_find("groups")));
	cr_assert_eq(again.ndevtags, 1);
	cr_assert_str_eq(again.devtags[0].tags.kv[1], "r 1,=x");
	cr_assert_eq(again.groups.v[0].ndevtags, 1);
	cr_assert_eq(again.groups.v[0].ping_interval, RP_NSEC_PER_SEC);
	rp_conf_fini(&again);
	rp_diags_fini(&d2);
	free(text);
}

/* A DNS name in two groups is refused like an address; names keep their tags. */
Test(groups, a_name_in_two_groups)
{
	load(HEAD "devices: [a.example.net, {address: b.example.net, tags: {rack: r2}}]\n"
		  "groups:\n"
		  "  - name: core\n"
		  "    devices: [a.example.net]\n");
	cr_assert(has("t.yml:6: error: devices: a.example.net is in the top level (the default "
		      "group) (line 3) and in group \"core\" (line 6); a device belongs to one "
		      "group"));
	cr_assert_eq(conf.ndevtags, 1);
	cr_assert(conf.devtags[0].is_name);
	cr_assert_eq(conf.devtags[0].index, 1);
}

/* ---- a group's own snmp block ------------------------------------------------------- */

static const struct rp_conf_group *group(const char *name)
{
	for (size_t i = 0; i < conf.groups.n; i++)
		if (strcmp(conf.groups.v[i].name, name) == 0)
			return &conf.groups.v[i];
	cr_assert_fail("no group %s", name);
	return NULL;
}

static const char snmp_groups[] = HEAD "devices: [127.0.0.2]\n"
				       "snmp:\n"
				       "  community: topsecret\n"
				       "  port: 1161\n"
				       "  timeout: 2s\n"
				       "groups:\n"
				       "  - name: lab\n"
				       "    devices: [127.0.1.1]\n"
				       "    snmp:\n"
				       "      community: labsecret\n"
				       "      port: 1162\n"
				       "  - name: dumb\n"
				       "    devices: [127.0.1.2]\n"
				       "    snmp: {enabled: false}\n"
				       "  - name: plain\n"
				       "    devices: [127.0.1.3]\n"
				       "  - name: v3\n"
				       "    devices: [127.0.1.4]\n"
				       "    snmp:\n"
				       "      version: \"3\"\n"
				       "      v3: {username: ops, security_level: authNoPriv,\n"
				       "           auth_password: authsecret1}\n";

Test(groups, snmp_block_inherits_unset_keys_from_the_top_level)
{
	const struct rp_conf_group *g;

	cr_assert_eq(load(snmp_groups), 0);
	cr_assert_eq(diags.errors, 0, "%s", diags.n ? diag(0) : "");
	g = group("lab");
	cr_assert_not_null(g->snmp);
	cr_assert_str_eq(g->snmp->snmp.community, "labsecret");
	cr_assert_eq(g->snmp->snmp.port, 1162);
	cr_assert_eq(g->snmp->snmp.timeout, 2 * RP_NSEC_PER_SEC, "inherited");
	cr_assert_eq(g->snmp->snmp.retries, conf.snmp.retries);
	cr_assert(g->snmp->snmp.enabled);
	g = group("dumb");
	cr_assert_not(g->snmp->snmp.enabled);
	cr_assert_str_eq(g->snmp->snmp.community, "topsecret", "inherited");
	cr_assert_eq(g->snmp->snmp.port, 1161);
	cr_assert_null(group("plain")->snmp, "no block: the top level's, nothing copied");
	g = group("v3");
	cr_assert_eq(g->snmp->snmp.version, RP_SNMP_V3);
	cr_assert_str_eq(g->snmp->snmp.v3.username, "ops");
	cr_assert_eq(g->snmp->snmp.v3.security_level, RP_SNMP_AUTHNOPRIV);
	cr_assert_eq(g->snmp->snmp.port, 1161);
	/* the top level keeps its own */
	cr_assert_str_eq(conf.snmp.community, "topsecret");
	cr_assert_eq(conf.snmp.version, RP_SNMP_V2C);
}

/* Whether some diagnostic starts with `want`. */
static bool has_prefix(const char *want)
{
	for (size_t i = 0; i < diags.n; i++)
		if (strncmp(diag(i), want, strlen(want)) == 0)
			return true;
	for (size_t i = 0; i < diags.n; i++)
		cr_log_info("have: %s", diag(i));
	return false;
}

Test(groups, snmp_block_errors_name_line_and_group_key)
{
	load(HEAD "devices: [127.0.0.2]\n"
		  "groups:\n"
		  "  - name: a\n"
		  "    snmp:\n"
		  "      comunity: x\n"
		  "      port: 0\n"
		  "      v3: {security_level: loud}\n"
		  "  - name: b\n"
		  "    snmp: {version: \"3\"}\n"
		  "  - name: c\n"
		  "    snmp: 5\n"
		  "  - name: d\n"
		  "    snmp: {timeout: 2s, timeout: 3s}\n");
	cr_assert(has_prefix("t.yml:7:7: error: groups[0].snmp.comunity: unknown key"));
	cr_assert(has_prefix("t.yml:8:13: error: groups[0].snmp.port: "));
	cr_assert(has_prefix("t.yml:9:28: error: groups[0].snmp.v3.security_level: "));
	cr_assert(has("t.yml:10: error: groups[1].snmp.v3.username: must be set (here or at the "
		      "top level) when the group's snmp.version is 3"));
	cr_assert(has("t.yml:13:11: error: groups[2].snmp: expected a mapping of snmp.* keys "
		      "(community, version, port, ...), got a value"));
	cr_assert(has("t.yml:15:25: error: groups[3].snmp.timeout: duplicate key (first set at "
		      "line 15)"));
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/rp_test_groups_XXXXXX");
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

Test(groups, snmp_secrets_from_files_and_never_printed)
{
	char *file = write_tmp("filesecret\n"), yaml[2048], *out = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(yaml, sizeof(yaml),
		 HEAD "devices: [127.0.0.2]\n"
		      "snmp: {community: topsecret}\n"
		      "groups:\n"
		      "  - name: a\n"
		      "    devices: [127.0.1.1]\n"
		      "    snmp: {community_file: %s}\n"
		      "  - name: b\n"
		      "    devices: [127.0.1.2]\n"
		      "    snmp:\n"
		      "      community: inlinesecret\n"
		      "      v3: {auth_password: authsecret1, priv_password_file: %s}\n",
		 file, file);
	cr_assert_eq(load(yaml), 0);
	cr_assert_eq(diags.errors, 0, "%s", diags.n ? diag(0) : "");
	cr_assert_str_eq(group("a")->snmp->snmp.community, "filesecret");
	cr_assert_str_eq(group("b")->snmp->snmp.community, "inlinesecret");
	cr_assert_str_eq(group("b")->snmp->snmp.v3.priv_password, "filesecret");
	f = open_memstream(&out, &len);
	rp_conf_print(&conf, f);
	fclose(f);
	cr_assert_null(strstr(out, "filesecret"), "%s", out);
	cr_assert_null(strstr(out, "inlinesecret"), "%s", out);
	cr_assert_null(strstr(out, "authsecret1"), "%s", out);
	cr_assert_null(strstr(out, "topsecret"), "%s", out);
	cr_assert_not_null(strstr(out, "    snmp:\n      community: \"********\"  # t.yml:12\n"),
			   "%s", out);
	cr_assert_not_null(strstr(out, "      community_file: \""), "%s", out);
	cr_assert_not_null(strstr(out, "        auth_password: \"********\"  # t.yml:13\n"), "%s",
			   out);
	/* and it reads back to the same groups */
	{
		struct rp_conf again;
		struct rp_diags d2;

		rp_conf_init(&again);
		rp_diags_init(&d2);
		cr_assert_eq(rp_conf_load_buffer(&again, "p.yml", out, strlen(out), &d2), 0);
		cr_assert_eq(again.groups.n, 2);
		cr_assert_not_null(again.groups.v[1].snmp);
		cr_assert(rp_conf_is_set(again.groups.v[1].snmp,
					 rp_conf_key_find("snmp.v3.auth_password")));
		rp_conf_fini(&again);
		rp_diags_fini(&d2);
	}
	free(out);
	unlink(file);
	free(file);
}

Test(groups, snmp_secret_and_its_file_both_set_is_an_error)
{
	char *file = write_tmp("x\n"), yaml[1024];

	snprintf(yaml, sizeof(yaml),
		 HEAD "devices: [127.0.0.2]\n"
		      "groups:\n"
		      "  - name: a\n"
		      "    snmp:\n"
		      "      community: c\n"
		      "      community_file: %s\n",
		 file);
	load(yaml);
	cr_assert(has_prefix("t.yml:8: error: groups[0].snmp.community_file: snmp.community is "
			     "set too (t.yml:7)"));
	unlink(file);
	free(file);
}

/* ---- a group's own device_files ------------------------------------------------------ */

Test(groups, device_files_of_a_group_join_it_with_their_labels)
{
	char *sd = write_tmp("[{\"targets\": [\"127.0.2.1\", \"127.0.2.2:9100\"],\n"
			     "  \"labels\": {\"rack\": \"r7\"}}]\n");
	char yaml[1024], *out = NULL;
	const struct rp_conf_group *g;
	size_t len = 0;
	FILE *f;

	snprintf(yaml, sizeof(yaml),
		 HEAD "devices: [127.0.0.2]\n"
		      "groups:\n"
		      "  - name: lab\n"
		      "    tags: {role: lab}\n"
		      "    devices: [127.0.1.1]\n"
		      "    device_files: [\"%s\"]\n",
		 sd);
	cr_assert_eq(load(yaml), 0);
	cr_assert_eq(diags.errors, 0, "%s", diags.n ? diag(0) : "");
	g = group("lab");
	cr_assert_eq(g->devices.n, 3);
	cr_assert_eq(g->files.n, 1);
	cr_assert_eq(g->files.own, 1);
	cr_assert_eq(g->ndevtags, 2, "each file target has its labels");
	cr_assert_str_eq(g->devtags[0].tags.kv[0], "rack");
	cr_assert_str_eq(g->devtags[0].tags.kv[1], "r7");
	cr_assert_eq(conf.devices.n, 1, "the top level's stay its own");
	/* printed: the pattern, not the file's targets */
	f = open_memstream(&out, &len);
	rp_conf_print(&conf, f);
	fclose(f);
	cr_assert_not_null(strstr(out, "    device_files:\n      - \""), "%s", out);
	cr_assert_null(strstr(out, "127.0.2.1"), "%s", out);
	free(out);
	unlink(sd);
	free(sd);
}

Test(groups, device_file_target_in_two_groups_names_both_files)
{
	char *a = write_tmp("[{\"targets\": [\"127.0.2.1\"]}]\n");
	char *b = write_tmp("- targets:\n    - 127.0.3.1\n    - 127.0.2.1\n");
	char yaml[1024], want[1024];

	snprintf(yaml, sizeof(yaml),
		 HEAD "devices: [127.0.3.1]\n"
		      "groups:\n"
		      "  - name: x\n"
		      "    device_files: [\"%s\"]\n"
		      "  - name: y\n"
		      "    device_files: [\"%s\"]\n",
		 a, b);
	load(yaml);
	snprintf(want, sizeof(want),
		 "%s:3: error: devices: 127.0.2.1 is in group \"x\" (%s:1) and in group \"y\" "
		 "(%s:3); a device belongs to one group",
		 b, a, b);
	cr_assert(has(want));
	snprintf(want, sizeof(want),
		 "%s:2: error: devices: 127.0.3.1 is in the top level (the default group) (line 3) "
		 "and in group \"y\" (%s:2); a device belongs to one group",
		 b, b);
	cr_assert(has(want));
	unlink(a);
	unlink(b);
	free(a);
	free(b);
}

Test(groups, broken_group_device_file_is_refused_with_its_line)
{
	char *a = write_tmp("[{\"targets\": [\"127.0.2.1\"], \"labels\": 5}]\n");
	char yaml[1024], want[512];

	snprintf(yaml, sizeof(yaml),
		 HEAD "groups:\n"
		      "  - name: x\n"
		      "    device_files: [\"%s\"]\n",
		 a);
	load(yaml);
	cr_assert_gt(diags.errors, 0);
	snprintf(want, sizeof(want), "%s:1:", a);
	cr_assert(has_prefix(want));
	unlink(a);
	free(a);
}

Test(groups, an_empty_snmp_block_prints_and_reads_back_as_one)
{
	char *out = NULL;
	size_t len = 0;
	struct rp_conf again;
	struct rp_diags d2;
	FILE *f;

	cr_assert_eq(load(HEAD "groups:\n"
			       "  - name: a\n"
			       "    devices: [127.0.1.1]\n"
			       "    snmp: {}\n"
			       "  - name: b\n"
			       "    devices: [127.0.1.2]\n"
			       "    snmp:\n"),
		     0);
	cr_assert_eq(diags.errors, 0, "%s", diags.n ? diag(0) : "");
	cr_assert_not_null(group("a")->snmp, "a block of its own, every key the top level's");
	cr_assert_null(group("b")->snmp, "`snmp:` with nothing is no block");
	f = open_memstream(&out, &len);
	rp_conf_print(&conf, f);
	fclose(f);
	cr_assert_not_null(strstr(out, "    snmp: {}\n"), "%s", out);
	rp_conf_init(&again);
	rp_diags_init(&d2);
	cr_assert_eq(rp_conf_load_buffer(&again, "p.yml", out, strlen(out), &d2), 0);
	cr_assert_eq(d2.errors, 0);
	cr_assert(rp_conf_key_equal(&conf, &again, rp_conf_key_find("groups")));
	rp_conf_fini(&again);
	rp_diags_fini(&d2);
	free(out);
}

/* A group's own probe settings: what it sets is its own, the rest the top level's. */
static const char probe_cfg[] = HEAD "ping_interval: 2s\n"
				     "ping_timeout: 1s\n"
				     "ttl: 64\n"
				     "source_address: [127.0.0.1, \"::1\"]\n"
				     "groups:\n"
				     "  - name: fast\n"
				     "    devices: [127.0.0.2]\n"
				     "    ping_interval: 1s\n"
				     "    ping_timeout: 250ms\n"
				     "    ping_count: 3\n"
				     "    ping_spacing: 20ms\n"
				     "    packet_size: 120\n"
				     "    ttl: 7\n"
				     "    tos: 184\n"
				     "    source_address: 127.0.0.5\n"
				     "    interface: lo\n"
				     "  - name: plain\n"
				     "    devices: [127.0.0.3]\n"
				     "    ping_interval: 500ms\n";

Test(groups, probe_settings_per_group)
{
	struct rp_conf_probe top, fast, plain;

	cr_assert_eq(load(probe_cfg), 0);
	for (size_t i = 0; i < diags.n; i++)
		cr_log_info("%s", diag(i));
	cr_assert_eq(diags.errors, 0);
	rp_conf_probe_of(&conf, 0, &top);
	rp_conf_probe_of(&conf, 1, &fast);
	rp_conf_probe_of(&conf, 2, &plain);
	cr_assert_eq(top.ping_timeout, RP_NSEC_PER_SEC);
	cr_assert_eq(top.ping_count, 1);
	cr_assert_eq(top.packet_size, 56);
	cr_assert_eq(top.ttl, 64);
	cr_assert_eq(fast.ping_timeout, 250 * RP_NSEC_PER_MSEC);
	cr_assert_eq(fast.ping_count, 3);
	cr_assert_eq(fast.ping_spacing, 20 * RP_NSEC_PER_MSEC);
	cr_assert_eq(fast.packet_size, 120);
	cr_assert_eq(fast.ttl, 7);
	cr_assert_eq(fast.tos, 184);
	cr_assert_eq(fast.source[0].b[15], 5, "the group's IPv4 source");
	cr_assert_eq(fast.source[1].b[15], 1, "the top level's IPv6 source (::1)");
	cr_assert_str_eq(fast.interface, "lo");
	cr_assert_str_eq(top.interface, "", "the top level's is the socket's, not a profile's");
	/* Nothing set but a shorter interval: the top level's, its timeout cut to 500ms. */
	cr_assert_eq(plain.ping_timeout, 500 * RP_NSEC_PER_MSEC);
	cr_assert_eq(plain.ttl, 64);
	cr_assert_eq(plain.source[0].b[15], 1);
	cr_assert_not(rp_conf_probe_equal(&top, &plain));
	snprintf(plain.interface, sizeof(plain.interface), "eth0");
	cr_assert_not(rp_conf_probe_equal(&top, &plain), "the interface makes it differ");
}

Test(groups, probe_settings_errors_name_group_key_and_line)
{
	load(HEAD "ping_interval: 10s\n"
		  "groups:\n"
		  "  - name: a\n"
		  "    devices: [127.0.0.2]\n"
		  "    ping_interval: 1s\n"
		  "    ping_timeout: 2s\n"
		  "    ttl: 0\n"
		  "    packet_size: 20\n"
		  "    tos: 256\n"
		  "  - name: b\n"
		  "    devices: [127.0.0.3]\n"
		  "    ping_interval: 1s\n"
		  "    ping_count: 5\n"
		  "    ping_spacing: 300ms\n"
		  "    source_address: [127.0.0.0/24, 127.0.0.7, 127.0.0.8]\n"
		  "  - name: c\n"
		  "    devices: [127.0.0.4]\n"
		  "    ping_interval: 10ms\n"
		  "    ping_spacing: 500us\n");
	cr_assert(has("t.yml:8: error: groups[0].ping_timeout: 2s is longer than the group's "
		      "ping_interval (1s): a reply is waited for at most until the next probe is "
		      "due"));
	cr_assert(has("t.yml:9:10: error: groups[0].ttl: 0 is out of range (1..255; 0, the "
		      "kernel's default, only at the top level)"));
	cr_assert(has("t.yml:10:18: error: groups[0].packet_size: 20 is out of range (40..65507; "
		      "below 40 there is no room for the probe's own fields)"));
	cr_assert(has("t.yml:11:10: error: groups[0].tos: 256 is out of range (0..255)"));
	cr_assert(has("t.yml:16: error: groups[1].ping_spacing: 5 echoes 300ms apart do not fit "
		      "in the group's ping_interval (1s): lower ping_count or ping_spacing, or "
		      "raise ping_interval"));
	cr_assert(has("t.yml:17: error: groups[1].source_address: 127.0.0.0/24 is a network; give "
		      "one address of this host"));
	cr_assert(has("t.yml:17: error: groups[1].source_address: 127.0.0.8 is a second IPv4 "
		      "address; give at most one IPv4 and one IPv6 address"));
	cr_assert(has("t.yml:21: error: groups[2].ping_spacing: must be 0 (automatic) or at least "
		      "1ms"));
}

/* At most RP_CONF_PROFILES distinct settings (the top level's one of them); the group
 * that makes one too many is named at the key that made it differ. */
Test(groups, probe_settings_cap)
{
	char yaml[8192];
	size_t o = (size_t)snprintf(yaml, sizeof(yaml), "%sgroups:\n", HEAD);

	/* 15 groups, each its own ttl, and the top level: 16. */
	for (int i = 0; i < RP_CONF_PROFILES - 1; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o,
				      "  - name: g%d\n"
				      "    devices: [127.0.%d.1]\n"
				      "    ttl: %d\n",
				      i, i + 1, i + 1);
	load(yaml);
	cr_assert_eq(diags.errors, 0, "16 in all are allowed");
	o = (size_t)snprintf(yaml, sizeof(yaml), "%sgroups:\n", HEAD);
	for (int i = 0; i < RP_CONF_PROFILES + 1; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o,
				      "  - name: g%d\n"
				      "    devices: [127.0.%d.1]\n"
				      "    ttl: %d\n",
				      i, i + 1, i + 1);
	rp_conf_fini(&conf);
	rp_diags_fini(&diags);
	rp_conf_init(&conf);
	rp_diags_init(&diags);
	load(yaml);
	/* g15 is the 17th; its ttl is at line 3 + 15 x 3 + 3. */
	cr_assert_eq(diags.errors, 1);
	cr_assert(has("t.yml:51: error: groups[15].ttl: makes a 17th distinct set of probe "
		      "settings (ping_timeout, ping_count, ping_spacing, packet_size, ttl, tos, "
		      "source_address, interface; the top level's is one); at most 16 are allowed: "
		      "give "
		      "groups the same values"));
}

Test(groups, probe_settings_print_and_compare)
{
	struct rp_conf again;
	struct rp_diags d2;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	cr_assert_eq(load(probe_cfg), 0);
	f = open_memstream(&text, &len);
	rp_conf_print(&conf, f);
	fclose(f);
	rp_conf_init(&again);
	rp_diags_init(&d2);
	cr_assert_eq(rp_conf_load_buffer(&again, "p.yml", text, len, &d2), 0, "%s", text);
	cr_assert_eq(d2.errors, 0, "%s", text);
	cr_assert(rp_conf_key_equal(&conf, &again, rp_conf_key_find("groups")), "%s", text);
	/* A changed setting is a changed group (a reload re-adds its devices). */
	cr_assert(strstr(text, "    interface: \"lo\"\n"), "%s", text);
	again.groups.v[0].probe[RP_GP_TTL] = 8;
	cr_assert_not(rp_conf_key_equal(&conf, &again, rp_conf_key_find("groups")));
	again.groups.v[0].probe[RP_GP_TTL] = conf.groups.v[0].probe[RP_GP_TTL];
	cr_assert(rp_conf_key_equal(&conf, &again, rp_conf_key_find("groups")));
	free(again.groups.v[0].interface);
	again.groups.v[0].interface = strdup("eth1");
	cr_assert_not(rp_conf_key_equal(&conf, &again, rp_conf_key_find("groups")));
	rp_conf_fini(&again);
	rp_diags_fini(&d2);
	free(text);
}

/* A group's interface: a name the kernel can hold, and only with an unbound socket (the
 * top level without `interface`); errors name the group, key and line. */
Test(groups, a_groups_interface_is_checked)
{
	load(HEAD "interface: lo\n"
		  "groups:\n"
		  "  - name: a\n"
		  "    devices: [127.0.0.2]\n"
		  "    interface: eth0\n"
		  "  - name: b\n"
		  "    devices: [127.0.0.3]\n"
		  "    interface: \"a/b\"\n"
		  "  - name: c\n"
		  "    devices: [127.0.0.4]\n"
		  "    interface: abcdefghijklmnopq\n");
	cr_assert(has("t.yml:7: error: groups[0].interface: needs the top level without "
		      "`interface`: the shard's socket is bound to \"lo\" (SO_BINDTODEVICE), and "
		      "a group sends on its own per packet"));
	cr_assert(has("t.yml:10: error: groups[1].interface: \"a/b\" is not an interface name "
		      "(1 to 15 characters, no '/', ':' or blanks)"));
	cr_assert(has("t.yml:13: error: groups[2].interface: \"abcdefghijklmnopq\" is not an "
		      "interface name (1 to 15 characters, no '/', ':' or blanks)"));
}

/* A pattern's {a,b} alternatives are bounded: glob reads the directory once per pattern
 * they make, and fuzz_cli_conf found a device_files pattern whose braces kept a reload
 * busy for minutes. Under the bound they work as glob's GLOB_BRACE has them. */
Test(groups, device_files_brace_alternatives_are_bounded)
{
	char dir[] = "/tmp/rp-brace.XXXXXX", path[256], yaml[2048];
	const char *bomb = "{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}";

	cr_assert_not_null(mkdtemp(dir));
	for (int i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%c.json", dir, "ab"[i]);
		f = fopen(path, "w");
		cr_assert_not_null(f);
		fprintf(f, "[{\"targets\": [\"127.0.3.%d\"]}]\n", i + 1);
		fclose(f);
	}
	snprintf(yaml, sizeof(yaml), HEAD "device_files: [\"%s/{a,b}.j?on\"]\n", dir);
	cr_assert_eq(load(yaml), 0);
	cr_assert_eq(diags.errors, 0, "%s", diags.n ? diag(0) : "");
	cr_assert_eq(conf.files.n, 2, "both files, through the braces");
	cr_assert_eq(conf.devices.n, 2);

	rp_conf_fini(&conf);
	rp_diags_fini(&diags);
	rp_conf_init(&conf);
	rp_diags_init(&diags);
	/* 2^9 = 512 patterns: refused, at the top level and in a group, naming the key */
	snprintf(yaml, sizeof(yaml),
		 HEAD "device_files: [\"%s/%s.j?on\"]\n"
		      "groups:\n  - name: g\n    device_files: [\"%s/x%s*\"]\n",
		 dir, bomb, dir, bomb);
	load(yaml);
	cr_assert_eq(diags.errors, 2, "%s", diags.n ? diag(0) : "");
	snprintf(path, sizeof(path),
		 "t.yml:3: error: device_files[0]: %s/%s.j?on: its {a,b} alternatives make "
		 "more than 256 patterns",
		 dir, bomb);
	cr_assert(has(path));
	cr_assert_eq(conf.files.n, 0);
	snprintf(path, sizeof(path),
		 "t.yml:6: error: groups[0].device_files[0]: %s/x%s*: its {a,b} alternatives "
		 "make more than 256 patterns",
		 dir, bomb);
	cr_assert(has(path));
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%c.json", dir, "ab"[i]);
		unlink(path);
	}
	rmdir(dir);
}
