/*
 * Logging to standard error, one sanitised line per message.
 *
 * Under systemd, standard error may be a stream to the journal, which
 * stamps every line itself and keeps its priority: systemd says so by
 * setting JOURNAL_STREAM to "DEVICE:INODE" of that stream. When standard
 * error is that very file (a child may have inherited the variable with
 * another stderr), lines carry no time stamp of their own and start with
 * the syslog priority ("<3>error: ..."), which journald reads and strips.
 * The check is made for each line (one fstat): cheap next to the write,
 * and right even if standard error is redirected while running.
 */
#include "fisbot/log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fisbot/alloc.h"
#include "fisbot/text.h"

static enum log_level current = LOG_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};
/* The syslog priority of each level (LOG_ERR, LOG_WARNING, LOG_INFO,
 * LOG_DEBUG), for the journal's "<N>" prefix. */
static const int priorities[] = {3, 4, 6, 7};
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level)
{
	current = level;
}

enum log_level log_get_level(void)
{
	return current;
}

/* Compares JOURNAL_STREAM ("DEV:INO") with standard error's device and
 * inode. */
bool log_to_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	char end;

	if (env == NULL || sscanf(env, "%ju:%ju%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

int log_level_parse(const char *name, enum log_level *level)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_vwrite(enum log_level level, int with_errno, const char *fmt,
                va_list ap)
{
	int saved = errno;
	char stamp[32], *msg, *line, *clean;
	struct timespec ts;
	struct tm tm;
	bool journal;

	if (level > current)
		return;
	msg = xvasprintf(fmt, ap);
	if (with_errno) {
		line = xasprintf("%s: %s", msg, strerror(saved));
		free(msg);
		msg = line;
	}
	clean = text_sanitize(msg, strlen(msg));
	journal = log_to_journal();
	if (!journal) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	}
	pthread_mutex_lock(&lock);
	if (journal)
		fprintf(stderr, "<%d>%s: %s\n", priorities[level], names[level],
		        clean);
	else
		fprintf(stderr, "%s.%03ldZ fisbot %s: %s\n", stamp,
		        ts.tv_nsec / 1000000, names[level], clean);
	fflush(stderr);
	pthread_mutex_unlock(&lock);
	free(clean);
	free(msg);
	errno = saved;
}

#define LOG_FN(name, level, with_errno)                                        \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vwrite(level, with_errno, fmt, ap);                        \
		va_end(ap);                                                    \
	}

LOG_FN(log_error, LOG_ERROR, 1)
LOG_FN(log_errorx, LOG_ERROR, 0)
LOG_FN(log_warn, LOG_WARN, 1)
LOG_FN(log_warnx, LOG_WARN, 0)
LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_debug, LOG_DEBUG, 0)

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
