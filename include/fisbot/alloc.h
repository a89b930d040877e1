/* Allocation wrappers: they never return NULL, they abort on out-of-memory. */
#ifndef FISBOT_ALLOC_H
#define FISBOT_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

#include "fisbot_export.h"

/* Returns size bytes of uninitialised memory; the caller frees it. */
FB_EXPORT void *xmalloc(size_t size);
/* Returns n * size zeroed bytes (the product is overflow-checked). */
FB_EXPORT void *xcalloc(size_t n, size_t size);
/* Resizes p to n * size bytes (overflow-checked). */
FB_EXPORT void *xreallocarray(void *p, size_t n, size_t size);
/* Returns a copy of s; the caller frees it. */
FB_EXPORT char *xstrdup(const char *s);
/* Returns a NUL-terminated copy of the first len bytes of s. */
FB_EXPORT char *xstrndup(const char *s, size_t len);
/* Returns a newly allocated formatted string; the caller frees it. */
FB_EXPORT char *xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Like xasprintf, with a va_list. */
FB_EXPORT char *xvasprintf(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

#endif
