/* Untrusted text (what devices say about themselves: sysName ...) made safe to print on a
 * terminal. Pure; no allocation; any thread. */
#ifndef RP_TERM_H
#define RP_TERM_H

#include <stddef.h>

/** Copies the NUL-terminated `src` to `dst` (`size` > 0 bytes, always NUL-terminated)
 *  without what a terminal would act on rather than show: C0 controls and DEL, C1
 *  controls (U+0080..U+009F: CSI, OSC ... in their 8-bit form), and the Unicode bidi
 *  controls that reorder what follows them (U+061C, U+200E, U+200F, U+202A..U+202E,
 *  U+2066..U+2069). A byte that does not start valid UTF-8 becomes '?'. Cut at a
 *  character boundary when dst is too small. Returns the length written. */
size_t rp_term_sanitize(char *dst, size_t size, const char *src);

#endif
