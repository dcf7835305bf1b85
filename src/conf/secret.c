/* Secrets: the *_file keys that read a secret from a file, and the URL redaction
 * every logged or printed URL goes through. A secret's value never reaches a
 * message: errors name the key, the file and the position, never the text. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf_int.h"
#include "ringprobe/xalloc.h"

#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->offset))

/* A secret is a line or a token, never a document: a bigger file is a wrong path. */
#define SECRET_FILE_MAX 65536

/* A URL cut to fit `buf` ends on a whole UTF-8 character: the cut moves back to the
 * start of the character it would split (as facts.c cuts a sysName), so that neither
 * a log line nor a printed configuration gets half a character. */
void rp_url_redact(const char *url, char *buf, size_t len)
{
	const char *auth, *end, *at = NULL, *tail;
	size_t head, k;

	if (!len)
		return;
	if (!url) {
		buf[0] = '\0';
		return;
	}
	auth = strstr(url, "://");
	auth = auth ? auth + 3 : url;
	end = auth + strcspn(auth, "/?#");
	/* The last '@' of the authority ends the user-info: a password may hold an '@'. */
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	/* The redacted URL: url's first `head` bytes, then `tail`. */
	head = at ? (size_t)(auth - url) : 0;
	tail = at ? at + 1 : url;
	if ((size_t)snprintf(buf, len, "%.*s%s", (int)head, url, tail) < len)
		return;
	/* Cut: back from the first byte left out to the start of its character (a
	 * character has at most three continuation bytes). */
	k = len - 1;
	for (int i = 0; i < 3 && k > 0; i++, k--) {
		unsigned char next = (unsigned char)(k < head ? url[k] : tail[k - head]);

		if ((next & 0xc0) != 0x80)
			break;
	}
	buf[k] = '\0';
}

bool rp_conf__hides_value(const struct rp_conf_key *k)
{
	size_t n = strlen(k->path);

	return k->type == RP_CT_SECRET || (n >= 3 && strcmp(k->path + n - 3, "url") == 0);
}

/* Reads the whole of `path` into a new string, one trailing newline (\n or \r\n)
 * removed. Returns 0, or -errno with the reason in `why`. */
static int read_secret(const char *path, char **out, char *why, size_t whylen)
{
	char *buf = rp_xmalloc(SECRET_FILE_MAX + 1);
	size_t len = 0;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(-ret));
		goto out_free;
	}
	while (len <= SECRET_FILE_MAX &&
	       (n = read(fd, buf + len, SECRET_FILE_MAX + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(why, whylen, "cannot read %s: %s", path, strerror(-ret));
			goto out_close;
		}
		len += (size_t)n;
		if (len > SECRET_FILE_MAX)
			break;
	}
	if (len > SECRET_FILE_MAX) {
		ret = -EFBIG;
		snprintf(why, whylen, "%s is larger than %d bytes; it should hold only the secret",
			 path, SECRET_FILE_MAX);
		goto out_close;
	}
	if (len && buf[len - 1] == '\n')
		len--;
	if (len && buf[len - 1] == '\r')
		len--;
	if (memchr(buf, '\0', len)) {
		ret = -EINVAL;
		snprintf(why, whylen, "%s contains a NUL byte", path);
		goto out_close;
	}
	if (len == 0) {
		ret = -EINVAL;
		snprintf(why, whylen, "%s is empty", path);
		goto out_close;
	}
	buf[len] = '\0';
	*out = rp_xstrdup(buf);
out_close:
	close(fd);
out_free:
	/* The buffer held the secret: leave no copy in freed memory. */
	explicit_bzero(buf, SECRET_FILE_MAX + 1);
	free(buf);
	return ret;
}

void rp_conf__read_secret_files(struct rp_conf *c, struct rp_diags *d)
{
	for (size_t i = 0; i < rp_conf_key_count(); i++) {
		const struct rp_conf_key *fk = rp_conf_key_at(i);
		const char *path;
		const struct rp_conf_key *sk;
		char name[96], where[512], why[512];
		const char *w;
		char **secret, *value = NULL;
		size_t n;

		if (fk->type != RP_CT_SECRET_FILE)
			continue;
		path = *FIELD(c, fk, char *);
		if (!path || !*path)
			continue;
		n = strlen(fk->path) - strlen("_file");
		snprintf(name, sizeof(name), "%.*s", (int)n, fk->path);
		sk = rp_conf_key_find(name);
		if (!sk)
			continue; /* keys.c pairs every _file key; test_conf checks it */
		w = rp_conf__where(c, fk, where, sizeof(where));
		if (!w)
			w = c->file;
		/* An empty secret ("" or null) is no value: it does not conflict. */
		if (rp_conf_is_set(c, sk) && *FIELD(c, sk, char *)) {
			char other[512];
			const char *ow = rp_conf__where(c, sk, other, sizeof(other));

			rp_diags_add(d, RP_DIAG_ERROR, w, fk->path,
				     "%s is set too (%s); set the secret or the file holding it, "
				     "not both",
				     sk->path, ow ? ow : "?");
			continue;
		}
		if (read_secret(path, &value, why, sizeof(why)) < 0) {
			rp_diags_add(d, RP_DIAG_ERROR, w, fk->path, "%s", why);
			continue;
		}
		secret = FIELD(c, sk, char *);
		free(*secret);
		*secret = value;
	}
}
