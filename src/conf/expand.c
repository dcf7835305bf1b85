/* ${VAR} and ${VAR:-default} in every string of the configuration. Unlike netscan,
 * which expands only a few keys and silently turns an unset variable into "", an
 * unset variable without a default is an error: a blank token or URL is never what
 * the user meant. A bare "$" is left alone, so passwords containing "$" survive.
 * Messages never quote the value: it may be a password or a URL with user-info, and
 * the caller's diagnostic already names the file, line, column and key. */
#include "ringprobe/conf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/xalloc.h"

struct sbuf {
	char *p;
	size_t n, cap;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = rp_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

char *rp_expand_env(const char *s, bool secret, char *why, size_t whylen)
{
	struct sbuf b = {0};
	const char *p = s;

	put(&b, "", 0);
	while (*p) {
		const char *start, *end, *val;
		size_t nlen;
		char name[256];
		const char *dflt = NULL;
		size_t dlen = 0;

		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			put(&b, "${", 2);
			p += 3;
			continue;
		}
		if (p[0] != '$' || p[1] != '{') {
			put(&b, p, 1);
			p++;
			continue;
		}
		start = p + 2;
		end = strchr(start, '}');
		if (!end) {
			snprintf(why, whylen,
				 "unterminated \"${\" at character %zu of the value (write "
				 "${NAME} or $${ for a literal \"${\")",
				 (size_t)(p - s) + 1);
			goto fail;
		}
		nlen = 0;
		while (start + nlen < end &&
		       (isalnum((unsigned char)start[nlen]) || start[nlen] == '_'))
			nlen++;
		if (start + nlen < end) {
			if (end - (start + nlen) >= 2 && start[nlen] == ':' &&
			    start[nlen + 1] == '-') {
				dflt = start + nlen + 2;
				dlen = (size_t)(end - dflt);
			} else {
				snprintf(why, whylen,
					 "invalid variable reference at character %zu of the "
					 "value (write ${NAME} or ${NAME:-default}, or $${ for a "
					 "literal \"${\")",
					 (size_t)(p - s) + 1);
				goto fail;
			}
		}
		if (nlen == 0 || nlen >= sizeof(name) || isdigit((unsigned char)start[0])) {
			snprintf(why, whylen,
				 "invalid variable name at character %zu of the value (write "
				 "${NAME} with letters, digits and _, or $${ for a literal "
				 "\"${\")",
				 (size_t)(p - s) + 1);
			goto fail;
		}
		memcpy(name, start, nlen);
		name[nlen] = '\0';
		val = getenv(name);
		if (val && *val)
			put(&b, val, strlen(val));
		else if (dflt)
			put(&b, dflt, dlen);
		else if (!val && secret && !(p == s && end[1] == '\0')) {
			/* Only a value that is nothing but one reference surely is one: in
			 * "pa${ss}word" the name may be part of the password. */
			snprintf(why, whylen,
				 "the environment variable referenced at character %zu of the "
				 "value is not set (write ${NAME:-default} to give a default, "
				 "or $${ for a literal \"${\")",
				 (size_t)(p - s) + 1);
			goto fail;
		} else if (!val) {
			snprintf(why, whylen,
				 "environment variable %s is not set (write ${%s:-default} "
				 "to give a default)",
				 name, name);
			goto fail;
		}
		p = end + 1;
	}
	return b.p;
fail:
	free(b.p);
	return NULL;
}
