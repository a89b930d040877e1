/* Unit tests for the log's two forms: time-stamped lines on a plain
 * standard error, and lines with a syslog priority and no time stamp when
 * standard error is the journal's stream (JOURNAL_STREAM names it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fisbot/log.h"

/* Points standard error at a new temporary file; returns the saved
 * descriptor of the old one. */
static int stderr_to_file(char *path, size_t size)
{
	int fd, saved;

	snprintf(path, size, "/tmp/fisbot-test-log-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	return saved;
}

/* Restores standard error, returns what was written to path, unlinks it. */
static char *stderr_restore(int saved, const char *path)
{
	static char buf[4096];
	FILE *f;
	size_t n;

	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	return buf;
}

/* Sets JOURNAL_STREAM to the device and inode of standard error, plus
 * inode_delta. */
static void journal_is_stderr(long inode_delta)
{
	struct stat st;
	char value[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(value, sizeof(value), "%ju:%ju", (uintmax_t)st.st_dev,
	         (uintmax_t)st.st_ino + (uintmax_t)inode_delta);
	assert_int_equal(setenv("JOURNAL_STREAM", value, 1), 0);
}

/* True if text matches the extended regular expression re. */
static int matches(const char *text, const char *re)
{
	regex_t r;
	int rc;

	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&r, text, 0, NULL, 0);
	regfree(&r);
	return rc == 0;
}

static void test_plain_stderr_has_stamps(void **state)
{
	char path[64];
	int saved;
	const char *out;

	unsetenv("JOURNAL_STREAM");
	saved = stderr_to_file(path, sizeof(path));
	assert_false(log_to_journal());
	log_info("hello %d", 1);
	log_warnx("careful");
	out = stderr_restore(saved, path);
	assert_true(matches(out,
	                    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z "
	                    "fisbot info: hello 1\n"
	                    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z "
	                    "fisbot warn: careful\n$"));
}

static void test_journal_stream_drops_stamps(void **state)
{
	char path[64];
	int saved;
	const char *out;

	saved = stderr_to_file(path, sizeof(path));
	journal_is_stderr(0);
	assert_true(log_to_journal());
	log_info("hello %d", 2);
	log_warnx("careful");
	log_errorx("broken");
	out = stderr_restore(saved, path);
	unsetenv("JOURNAL_STREAM");
	assert_string_equal(out, "<6>info: hello 2\n"
	                         "<4>warn: careful\n"
	                         "<3>error: broken\n");
}

static void test_other_stream_keeps_stamps(void **state)
{
	char path[64];
	int saved;
	const char *out;

	saved = stderr_to_file(path, sizeof(path));
	/* Inherited from a parent whose stderr was the journal. */
	journal_is_stderr(1);
	assert_false(log_to_journal());
	log_info("not the journal");
	out = stderr_restore(saved, path);
	assert_true(matches(out, "^[0-9-]{10}T[0-9:.]{12}Z fisbot info: "
	                         "not the journal\n$"));
	/* Malformed values are not the journal either. */
	assert_int_equal(setenv("JOURNAL_STREAM", "12", 1), 0);
	assert_false(log_to_journal());
	assert_int_equal(setenv("JOURNAL_STREAM", "1:2x", 1), 0);
	assert_false(log_to_journal());
	unsetenv("JOURNAL_STREAM");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_stderr_has_stamps),
	    cmocka_unit_test(test_journal_stream_drops_stamps),
	    cmocka_unit_test(test_other_stream_keeps_stamps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
