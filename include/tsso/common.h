/* Compiler attributes and tiny helpers shared by every module. */
#ifndef TSSO_COMMON_H
#define TSSO_COMMON_H

#include <stddef.h>

/* The result of this function must be looked at (errors are returned, not logged). */
#define TSSO_WUR               __attribute__((warn_unused_result))
#define TSSO_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define TSSO_NONNULL(...)      __attribute__((nonnull(__VA_ARGS__)))
#define TSSO_ARRAY_LEN(a)      (sizeof(a) / sizeof((a)[0]))

#endif
