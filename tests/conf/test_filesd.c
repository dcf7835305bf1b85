/* Device files: Prometheus file_sd documents in JSON and YAML (src/conf/filesd.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringprobe/filesd.h"

static struct rp_filesd_doc doc;
static struct rp_diags diags;

static void setup(void)
{
	rp_diags_init(&diags);
	memset(&doc, 0, sizeof(doc));
}

static void teardown(void)
{
	rp_filesd_free(&doc);
	rp_diags_fini(&diags);
}

TestSuite(filesd, .init = setup, .fini = teardown);

static int parse(const char *text)
{
	return rp_filesd_parse("sd.json", text, strlen(text), &doc, &diags);
}

/* Every diagnostic, one per line, as the daemon would print them. */
static const char *messages(void)
{
	static char all[4096];
	size_t off = 0;

	all[0] = '\0';
	for (size_t i = 0; i < diags.n && off < sizeof(all); i++) {
		char line[1024];

		rp_diag_format(&diags.v[i], line, sizeof(line));
		off += (size_t)snprintf(all + off, sizeof(all) - off, "%s\n", line);
	}
	return all;
}

static const char *label(size_t group, const char *name)
{
	const struct rp_filesd_labels *l = &doc.groups[group];

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return l->v[i].value;
	return NULL;
}

Test(filesd, json_as_prometheus_writes_it)
{
	const char *json = "[\n"
			   "  {\n"
			   "    \"targets\": [\"192.0.2.1\", \"192.0.2.2:9100\"],\n"
			   "    \"labels\": {\"site\": \"ams1\", \"role\": \"core\"}\n"
			   "  },\n"
			   "  {\n"
			   "    \"targets\": [\"[2001:db8::1]:9100\", \"2001:db8::2\", "
			   "\"sw-1.example.net\"]\n"
			   "  }\n"
			   "]\n";

	cr_assert_eq(parse(json), 0, "%s", messages());
	cr_assert_eq(doc.ngroups, 2);
	cr_assert_eq(doc.ntargets, 5);
	cr_expect_str_eq(doc.targets[0].text, "192.0.2.1");
	cr_expect_str_eq(doc.targets[1].text, "192.0.2.2");
	cr_expect_str_eq(doc.targets[2].text, "2001:db8::1");
	cr_expect_str_eq(doc.targets[3].text, "2001:db8::2");
	cr_expect_str_eq(doc.targets[4].text, "sw-1.example.net");
	cr_expect_eq(doc.targets[0].line, 3);
	cr_expect_eq(doc.targets[4].line, 7);
	cr_expect_eq(doc.targets[1].group, 0);
	cr_expect_eq(doc.targets[2].group, 1);
	cr_expect_str_eq(label(0, "site"), "ams1");
	cr_expect_str_eq(label(0, "role"), "core");
	cr_expect_eq(doc.groups[1].n, 0);
}

Test(filesd, yaml_too_with_lines_and_networks)
{
	const char *yaml = "# racks\n"
			   "- targets:\n"
			   "    - 198.51.100.0/30\n"
			   "    - core-2.example.net:161\n"
			   "  labels:\n"
			   "    site: fra2\n"
			   "    __meta_source: cmdb\n"
			   "- targets: []\n"
			   "  labels: {site: empty}\n";

	cr_assert_eq(parse(yaml), 0, "%s", messages());
	cr_assert_eq(doc.ntargets, 2);
	cr_expect_str_eq(doc.targets[0].text, "198.51.100.0/30");
	cr_expect_eq(doc.targets[0].line, 3);
	cr_expect_str_eq(doc.targets[1].text, "core-2.example.net");
	cr_expect_eq(doc.targets[1].line, 4);
	cr_expect_str_eq(label(0, "site"), "fra2");
	cr_expect_null(label(0, "__meta_source"), "Prometheus's own labels are skipped");
	cr_expect_eq(doc.ngroups, 2);
}

Test(filesd, empty_file_is_no_devices)
{
	cr_expect_eq(parse(""), 0);
	cr_expect_eq(parse("[]"), 0);
	cr_expect_eq(doc.ntargets, 0);
	cr_expect_eq(diags.errors, 0);
}

/* Each broken document: the error's place and words, and nothing taken from it. */
Test(filesd, errors_name_file_line_and_what)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"[{\"targets\": [\"192.0.2.1\"]}",
	     "error: invalid JSON or YAML: did not find expected ',' or ']'"},
	    {"{\"targets\": [\"192.0.2.1\"]}", "sd.json:1:1: error: a device file is a list"},
	    {"[{\"targets\": \"192.0.2.1\"}]", "targets must be a list, not a scalar"},
	    {"[{\"labels\": {\"a\": \"b\"}}]", "this entry has no targets list"},
	    {"[\n {\"targets\": [\"192.0.2.1\"],\n  \"lables\": {}}]",
	     "sd.json:3:3: error: unknown key \"lables\""},
	    {"[{\"targets\": [\"192.0.2.300\"]}]", "sd.json:1:15: error: targets: \"192.0.2.300\""},
	    {"[{\"targets\": [\"192.0.0.0/4\"]}]", "is larger than a /8"},
	    {"[{\"targets\": [\"[2001:db8::1\"]}]", "is not an address, network or host name"},
	    {"[{\"targets\": [[\"192.0.2.1\"]]}]", "a target must be a string, not a list"},
	    {"[{\"targets\": [], \"labels\": {\"ip\": \"x\"}}]", "label \"ip\" is reserved"},
	    {"[{\"targets\": [], \"labels\": {\"name\": \"x\"}}]", "label \"name\" is reserved"},
	    {"[{\"targets\": [], \"labels\": {\"shard\": \"x\"}}]", "label \"shard\" is reserved"},
	    {"[{\"targets\": [], \"labels\": {\"my-site\": \"x\"}}]",
	     "label name \"my-site\" is not a valid tag name"},
	    {"[{\"targets\": [], \"labels\": {\"site\": null}}]", "needs a string value"},
	    {"[{\"targets\": [], \"labels\": {\"site\": \"a\\nb\"}}]", "control character"},
	    {"[{\"targets\": [], \"labels\": {\"a\": \"1\", \"a\": \"2\"}}]", "is given twice"},
	    {"[{\"targets\": [], \"labels\": [\"a\"]}]", "labels must be a mapping"},
	    {"[\"192.0.2.1\"]", "each entry must be a mapping"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rp_diags_fini(&diags);
		rp_diags_init(&diags);
		cr_expect_eq(parse(bad[i].text), -EINVAL, "%s", bad[i].text);
		cr_expect(strstr(messages(), bad[i].want) != NULL, "%s: got \"%s\", want \"%s\"",
			  bad[i].text, messages(), bad[i].want);
		cr_expect_eq(doc.ntargets, 0, "%s: a broken file gives no targets", bad[i].text);
		cr_expect_eq(doc.ngroups, 0);
	}
}

Test(filesd, a_long_value_is_refused_at_the_limit)
{
	char text[1024], value[RP_FILESD_LABEL_VALUE_MAX + 2];

	memset(value, 'v', sizeof(value) - 1);
	value[RP_FILESD_LABEL_VALUE_MAX] = '\0';
	snprintf(text, sizeof(text), "[{\"targets\": [], \"labels\": {\"a\": \"%s\"}}]", value);
	cr_expect_eq(parse(text), 0, "%s", messages());
	rp_filesd_free(&doc);
	value[RP_FILESD_LABEL_VALUE_MAX] = 'v';
	value[RP_FILESD_LABEL_VALUE_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "[{\"targets\": [], \"labels\": {\"a\": \"%s\"}}]", value);
	cr_expect_eq(parse(text), -EINVAL);
	cr_expect(strstr(messages(), "longer than 128 bytes") != NULL, "%s", messages());
}

Test(filesd, host_part)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
	    {"192.0.2.1", "192.0.2.1"},
	    {"192.0.2.1:9100", "192.0.2.1"},
	    {"[2001:db8::1]:9100", "2001:db8::1"},
	    {"[2001:db8::1]", "2001:db8::1"},
	    {"2001:db8::1", "2001:db8::1"},
	    {"h.example.net:1", "h.example.net"},
	};
	char out[64];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_expect(rp_filesd_host(ok[i].in, out, sizeof(out)), "%s", ok[i].in);
		cr_expect_str_eq(out, ok[i].out, "%s", ok[i].in);
	}
	cr_expect_not(rp_filesd_host("[2001:db8::1", out, sizeof(out)));
	cr_expect_not(rp_filesd_host("[2001:db8::1]x", out, sizeof(out)));
	cr_expect_not(rp_filesd_host("192.0.2.1", out, 4), "too long for the buffer");
}

Test(filesd, load_reads_a_file_and_names_it)
{
	char path[] = "/tmp/rp_filesd_XXXXXX";
	int fd = mkstemp(path);
	const char *text = "- targets: [127.0.0.2]\n  labels: {site: lo}\n";

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_expect_eq(rp_filesd_load(path, &doc, &diags), 0, "%s", messages());
	cr_expect_eq(doc.ntargets, 1);
	unlink(path);
	rp_filesd_free(&doc);
	cr_expect_eq(rp_filesd_load(path, &doc, &diags), -ENOENT);
	cr_expect(strstr(messages(), "cannot open device file") != NULL, "%s", messages());
	cr_expect(strstr(messages(), path) != NULL, "%s", messages());
}
