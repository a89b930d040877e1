/*
 * Logging. One line per message on standard error, with a time stamp and a
 * level. The whole formatted line goes through the text sanitiser, so an
 * untrusted string (a file name, a JID, a message body) can neither forge a
 * second line nor carry invalid UTF-8 or control characters into the log.
 *
 * log_warn and log_error append ": strerror(errno)"; the x variants do not.
 * fatal and fatalx log at error level and exit(1): only for start-up
 * failures and broken invariants.
 *
 * When standard error is the journal's stream (systemd's JOURNAL_STREAM
 * names it), lines have no time stamp of their own (the journal adds one)
 * and start with their syslog priority instead ("<3>error: ...").
 */
#ifndef FISBOT_LOG_H
#define FISBOT_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "fisbot_export.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the minimum level that is written (default LOG_INFO). */
void log_set_level(enum log_level level);
/* Returns the current level. */
FB_EXPORT enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns 0, or -1 if unknown. */
int log_level_parse(const char *name, enum log_level *level);
/* True when standard error is the journal's stream (JOURNAL_STREAM). */
bool log_to_journal(void);

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
FB_EXPORT void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
FB_EXPORT void log_errorx(const char *fmt, ...) LOG_PRINTF(1, 2);
FB_EXPORT void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
FB_EXPORT void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
FB_EXPORT void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
FB_EXPORT void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
/* Writes at the given level; with_errno appends strerror(errno). */
FB_EXPORT void log_vwrite(enum log_level level, int with_errno, const char *fmt,
                          va_list ap) LOG_PRINTF(3, 0);
_Noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
