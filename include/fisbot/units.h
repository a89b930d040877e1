/* Durations ("30s", "5m", "24h", "7d", "250ms") and sizes ("512", "10K",
 * "5M", "2G", "1T", powers of 1024), as written in the configuration and in
 * search filters. */
#ifndef FISBOT_UNITS_H
#define FISBOT_UNITS_H

#include <stdint.h>

#include "fisbot_export.h"

/* Parses a duration into milliseconds. A bare number is seconds. Returns 0,
 * or -1 if s is not a duration or overflows. */
FB_EXPORT int units_parse_duration(const char *s, uint64_t *ms);

/* Parses a size into bytes. A bare number is bytes; K, M, G, T (optionally
 * followed by "iB" or "B", any case) are powers of 1024. Returns 0, or -1 if
 * s is not a size or overflows. */
FB_EXPORT int units_parse_size(const char *s, uint64_t *bytes);

#endif
