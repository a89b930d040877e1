/*
 * The watcher on its own: started with a recording sink instead of the
 * indexer on a temporary share, it reports the initial reconcile, new
 * files and folders (and files made in a new folder), renames paired into
 * one fact, a folder's permission change, and nothing from inside an
 * excluded folder. Each check waits for its report up to a generous limit;
 * no timing is asserted.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fisbot/alloc.h"
#include "fisbot/strlist.h"
#include "index/watch.h"

#define WAIT_MS 20000

/* What the sink was told, one "kind:args" string per call. */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct strlist seen;
static int sink_arg;

static char share[PATH_MAX];

/* Records one report, s (taken over). */
static void record(void *arg, char *s)
{
	assert_ptr_equal(arg, &sink_arg);
	pthread_mutex_lock(&seen_lock);
	strlist_add(&seen, s);
	pthread_mutex_unlock(&seen_lock);
	free(s);
}

static void on_path(void *arg, const char *path)
{
	record(arg, xasprintf("path:%s", path));
}

static void on_attrib(void *arg, const char *path)
{
	record(arg, xasprintf("attrib:%s", path));
}

static void on_rename(void *arg, const char *from, const char *to)
{
	record(arg, xasprintf("rename:%s>%s", from, to));
}

static void on_rescan(void *arg)
{
	record(arg, xstrdup("rescan"));
}

static void on_periodic(void *arg, uint64_t interval_ms)
{
	record(arg,
	       xasprintf("periodic:%llu", (unsigned long long)interval_ms));
}

/* Returns how many reports equal s. */
static unsigned count(const char *s)
{
	unsigned n = 0;

	pthread_mutex_lock(&seen_lock);
	for (size_t i = 0; i < seen.n; i++)
		n += strcmp(seen.v[i], s) == 0;
	pthread_mutex_unlock(&seen_lock);
	return n;
}

/* Waits until s was reported (up to WAIT_MS); returns true if it was. */
static bool wait_for(const char *s)
{
	struct timespec ts = {0, 10 * 1000000};

	for (int waited = 0; waited < WAIT_MS; waited += 10) {
		if (count(s) > 0)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Runs a shell command in the share. */
static void sh(const char *cmd)
{
	char *full = xasprintf("cd '%s' && %s", share, cmd);

	assert_int_equal(system(full), 0);
	free(full);
}

static void test_sink(void **state)
{
	static char g0[] = ".*", g1[] = "*.part";
	static char *globs[] = {g0, g1};
	const struct strlist exclude = {globs, 2};
	const struct watch_sink sink = {
	    .path = on_path,
	    .attrib = on_attrib,
	    .rename = on_rename,
	    .rescan = on_rescan,
	    .periodic_rescan = on_periodic,
	    .arg = &sink_arg,
	};
	char tmpl[] = "/tmp/fisbot-watch-sink-XXXXXX", *cause = NULL;
	struct watch *w;

	assert_non_null(mkdtemp(tmpl));
	snprintf(share, sizeof(share), "%s", tmpl);
	sh("mkdir old .hidden && touch old/f");
	w = watch_start(share, &exclude, &sink, &cause);
	assert_non_null(w);
	/* The watches in place, a full reconcile is asked for at once. */
	assert_int_equal(count("rescan"), 1);

	sh("echo hello > a.txt");
	assert_true(wait_for("path:a.txt"));
	/* A new folder is watched before it is reported; what was made in
	 * it before that is the sink's to find (the indexer reconciles the
	 * folder it is told of), so the file comes after the report. */
	sh("mkdir -p new");
	assert_true(wait_for("path:new"));
	sh("echo x > new/inner");
	assert_true(wait_for("path:new/inner"));
	sh("echo x > old/g");
	assert_true(wait_for("path:old/g"));
	sh("mv a.txt b.txt");
	assert_true(wait_for("rename:a.txt>b.txt"));
	sh("mv old renamed && echo y > renamed/h");
	assert_true(wait_for("rename:old>renamed"));
	assert_true(wait_for("path:renamed/h"));
	sh("chmod 700 new");
	assert_true(wait_for("attrib:new"));

	/* An excluded folder is not watched: nothing from inside it. The
	 * marker is reported after the folder's file (one queue, in order). */
	sh("echo z > .hidden/secret && echo m > marker");
	assert_true(wait_for("path:marker"));
	assert_int_equal(count("path:.hidden/secret"), 0);
	assert_int_equal(count("rescan"), 1);
	assert_int_equal(count("periodic:60000"), 0);

	watch_stop(w);
	sh("rm -rf ./* ./.hidden");
	assert_int_equal(rmdir(share), 0);
	strlist_free(&seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
