/* Scaffolding shared by the tests (tests/) and the benchmarks (bench/): the static library
 * rp_support (tests/support/meson.build). One copy of what they used to repeat: real
 * sinks and HTTP helpers (servers.h).
 *
 * Nothing here uses Criterion, so the benchmarks and the TSan builds (which run without
 * it) link the same code: a helper returns 0 or -errno, says why where a step can fail,
 * and the caller asserts. Names are sup_ (srv_ and fake_http_ for the servers), never
 * rp_, which is ringprobe's own API. */
#ifndef RP_TESTS_SUPPORT_H
#define RP_TESTS_SUPPORT_H

#include "support/servers.h"

#endif
