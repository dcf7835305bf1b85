/* prometheus.buckets: the RTT histogram's bounds, as smokeping_prober's --buckets
 * writes them ("5e-05,0.0001,..."), so a migration copies the flag's value. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe/conf.h"

int rp_conf_buckets(const char *s, double *out, unsigned max, char *why, size_t whylen)
{
	unsigned n = 0;
	const char *p = s;

	if (!s || !*s) {
		snprintf(why, whylen, "is empty: give at least one bound in seconds");
		return -EINVAL;
	}
	for (;;) {
		char *end;
		double v;

		while (*p == ' ')
			p++;
		v = strtod(p, &end);
		if (end == p) {
			snprintf(why, whylen, "bound %u (\"%.20s\") is not a number of seconds",
				 n + 1, p);
			return -EINVAL;
		}
		if (!isfinite(v) || v <= 0) {
			snprintf(why, whylen, "bound %u (%g) must be above 0 and finite", n + 1, v);
			return -EINVAL;
		}
		if (n && v <= out[n - 1]) {
			snprintf(
			    why, whylen,
			    "bound %u (%g) is not above the one before (%g): give them ascending",
			    n + 1, v, out[n - 1]);
			return -EINVAL;
		}
		if (n == max) {
			snprintf(why, whylen, "has more than %u bounds", max);
			return -EINVAL;
		}
		out[n++] = v;
		p = end;
		while (*p == ' ')
			p++;
		if (!*p)
			return (int)n;
		if (*p != ',') {
			snprintf(why, whylen,
				 "\"%.20s\" after bound %u: separate bounds with commas", p, n);
			return -EINVAL;
		}
		p++;
	}
}
