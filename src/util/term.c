/* Terminal-safe text (include/ringprobe/term.h). rp_line_sanitize (src/writer/line.c)
 * already cleans device strings for the line protocol (C0 controls, DEL, invalid UTF-8),
 * but a terminal acts on more than that: the C1 controls are valid UTF-8 (U+009B is CSI
 * in its 8-bit form; terminals that take 8-bit controls read C2 9B as one), and the bidi
 * controls reorder the rest of a line, so a name can show as another (CVE-2021-42574,
 * "Trojan Source"). Those are dropped here, for output to a person only: the stored
 * value keeps them. Pure; any thread. */
#include "ringprobe/term.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF) and its code point; 0 when s does not start one. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
	unsigned c = s[0], need;
	uint32_t min, v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, min = 0x80, v = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, min = 0x800, v = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, min = 0x10000, v = c & 0x07;
	else
		return 0;
	for (unsigned i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80) /* the NUL ends it too */
			return 0;
		v = v << 6 | (s[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return need + 1;
}

/* What a terminal acts on rather than shows. */
static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t rp_term_sanitize(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t out = 0;

	while (*s) {
		uint32_t cp = 0;
		size_t n = utf8_next(s, &cp);
		const unsigned char *put = s;

		if (n == 0) {
			put = (const unsigned char *)"?";
			n = 1;
			s++;
		} else {
			s += n;
			if (is_control(cp))
				continue;
		}
		if (out + n >= size)
			break;
		memcpy(dst + out, put, n);
		out += n;
	}
	dst[out] = '\0';
	return out;
}
