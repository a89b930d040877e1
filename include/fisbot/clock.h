/*
 * The monotonic clock, for the core and the plugins alike: milliseconds
 * since an arbitrary origin that does not change while the process runs,
 * immune to changes of the wall clock. The core's other clocks are in
 * bot/base/clock.h.
 */
#ifndef FISBOT_PUBLIC_CLOCK_H
#define FISBOT_PUBLIC_CLOCK_H

#include <stdint.h>

#include "fisbot_export.h"

/* Returns the monotonic clock in milliseconds. [any thread] */
FB_EXPORT int64_t clock_now_ms(void);

#endif
