/* Tests for src/util/term.c: device strings made safe to print on a terminal. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ringprobe/term.h"

static const char *clean(const char *in)
{
	static char out[256];
	size_t n = rp_term_sanitize(out, sizeof(out), in);

	cr_assert_eq(n, strlen(out));
	return out;
}

Test(term, c1_controls_are_dropped)
{
	/* U+0080, U+0085 (NEL), U+009B (CSI), U+009D (OSC), U+009F */
	cr_assert_str_eq(clean("a\xc2\x80"
			       "b\xc2\x85"
			       "c\xc2\x9b"
			       "31md\xc2\x9d"
			       "0;t\xc2\x9f"
			       "e"),
			 "abc31md0;te");
	/* the neighbours stay: U+007E, U+00A0 (no-break space), U+00FC */
	cr_assert_str_eq(clean("~\xc2\xa0\xc3\xbc"), "~\xc2\xa0\xc3\xbc");
}

Test(term, bidi_controls_are_dropped)
{
	static const char *const bidi[] = {
	    "\xd8\x9c",	    /* U+061C ALM */
	    "\xe2\x80\x8e", /* U+200E LRM */
	    "\xe2\x80\x8f", /* U+200F RLM */
	    "\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac",
	    "\xe2\x80\xad", "\xe2\x80\xae", /* U+202A..U+202E LRE RLE PDF LRO RLO */
	    "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8",
	    "\xe2\x81\xa9", /* U+2066..U+2069 LRI RLI FSI PDI */
	};
	char in[32];

	for (size_t i = 0; i < sizeof(bidi) / sizeof(bidi[0]); i++) {
		snprintf(in, sizeof(in), "sw%s-01", bidi[i]);
		cr_assert_str_eq(clean(in), "sw-01", "bidi control %zu kept", i);
	}
	/* the neighbours stay: U+200D (ZWJ), U+2029, U+202F, U+2065 (unassigned), U+206A */
	cr_assert_str_eq(clean("\xe2\x80\x8d\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa"),
			 "\xe2\x80\x8d\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa");
}

Test(term, c0_controls_and_del_are_dropped)
{
	cr_assert_str_eq(clean("a\x1b[2Jb\tc\nd\re\x7f"
			       "f\x01"),
			 "a[2Jbcdef");
}

Test(term, invalid_utf8_bytes_become_question_marks)
{
	/* a lone 8-bit CSI, a cut sequence, an overlong '/', a surrogate, above U+10FFFF */
	cr_assert_str_eq(clean("a\x9b"
			       "b\xe2\x80"
			       "c\xc0\xaf"
			       "d\xed\xa0\x80"
			       "e\xf4\x90\x80\x80"),
			 "a?b??c??d???e????");
	/* four-byte characters stay whole */
	cr_assert_str_eq(clean("\xf0\x9f\x9b\xb0"), "\xf0\x9f\x9b\xb0");
}

Test(term, cut_at_a_character_boundary)
{
	char out[6];

	/* "ab" + U+00FC + U+2603 (3 bytes): 2 + 2 fit in 5 bytes, the snowman does not */
	cr_assert_eq(rp_term_sanitize(out, sizeof(out), "ab\xc3\xbc\xe2\x98\x83"), 4);
	cr_assert_str_eq(out, "ab\xc3\xbc");
	cr_assert_eq(rp_term_sanitize(out, 1, "abc"), 0);
	cr_assert_str_eq(out, "");
	cr_assert_eq(rp_term_sanitize(out, sizeof(out), ""), 0);
	cr_assert_str_eq(out, "");
}
