/* Small compiler helpers shared by every module. */
#ifndef RP_COMPILER_H
#define RP_COMPILER_H

#include <stddef.h>
#include <stdint.h>

#define RP_CACHELINE 64

#define RP_LIKELY(x) __builtin_expect(!!(x), 1)
#define RP_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define RP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/** The struct that embeds `ptr` as its member `member` (h2o H2O_STRUCT_FROM_MEMBER). */
#define RP_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
/** The same for a pointer to const: a const pointer to the embedding struct. */
#define RP_CONST_CONTAINER_OF(ptr, type, member)                                                   \
	((const type *)(const void *)((const char *)(ptr)-offsetof(type, member)))

#define RP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/** The smallest power of two >= n (1 for 0), at most 2^31: ring and table sizes. */
static inline uint32_t rp_pow2_at_least(uint64_t n)
{
	uint32_t p = 1;

	while (p < n && p < (1u << 31))
		p <<= 1;
	return p;
}

#endif
