/*
 * fis latency benchmark: generates a catalogue of N files (default
 * 200,000) in nested folders through the catalogue API, then answers
 * typical XEP-0329 and jabber:iq:search requests with the plugin's
 * handlers (no server), each R times (default 50), and prints p50/p99/max
 * and the size of the answer. Not a test: it prints figures and asserts
 * nothing.
 *
 *   bench_fis [-n FILES] [-r RUNS] [-d DB] [-k]
 *
 * -d reuses (or keeps, with -k) a database so the generation can be
 * skipped on later runs.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <strophe.h>

#include "fis.h"
#include "fis_xml.h"
#include "fisbot/alloc.h"
#include "store/catalogue_write.h"

/* Returns a monotonic time in microseconds. */
static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Orders doubles. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A fake URL maker. */
static char *fake_url(void *arg, const struct cat_file *f)
{
	(void)arg;
	return xasprintf("http://127.0.0.1:8080/f/%" PRId64 "/name", f->id);
}

/* Fills the catalogue: 20 top folders, 50 subfolders each, n files. */
static void generate(struct catalogue *c, unsigned n)
{
	unsigned char sha[32] = {0};
	bool stale;

	catalogue_begin(c);
	for (unsigned i = 0; i < n; i++) {
		struct cat_file f = {0};
		char *path = xasprintf("top%02u/sub%02u/file-%07u.ogg", i % 20,
		                       (i / 20) % 50, i);

		f.path = path;
		f.size = 1000 + i;
		f.mtime_ns = 1700000000000000000LL;
		f.ino = i;
		catalogue_upsert(c, &f);
		memcpy(sha, &i, sizeof(i));
		catalogue_set_hash(c, f.id, f.size, f.mtime_ns, sha,
		                   "audio/ogg", &stale);
		free(path);
		if (i % 10000 == 9999) {
			catalogue_commit(c);
			catalogue_begin(c);
		}
	}
	catalogue_commit(c);
}

/* Runs one request runs times and prints its figures. */
static void run(struct fis_env *env, const char *label, const char *text,
                bool search, unsigned runs)
{
	double *t = xcalloc(runs, sizeof(*t));
	size_t bytes = 0;
	const char *result = "result";

	for (unsigned i = 0; i < runs; i++) {
		xmpp_stanza_t *st = xmpp_stanza_new_from_string(env->ctx, text);
		struct fis_reply r;
		double t0 = now_us();
		int rc = search ? search_form_answer(env, st, &r)
		                : fis_query_answer(env, st, &r);

		t[i] = now_us() - t0;
		if (rc == 0)
			bytes = fis_xml_size(r.payload);
		else
			result = r.condition;
		fis_reply_clear(&r);
		xmpp_stanza_release(st);
	}
	qsort(t, runs, sizeof(*t), cmp_double);
	printf("%-34s p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  %6zu bytes "
	       "%s\n",
	       label, t[runs / 2] / 1000, t[runs * 99 / 100] / 1000,
	       t[runs - 1] / 1000, bytes, result);
	free(t);
}

#define SET(x) "<set xmlns='http://jabber.org/protocol/rsm'>" x "</set>"
#define FISQ(attrs, body)                                                      \
	"<iq type='get' id='b'><query xmlns='urn:xmpp:fis:0'" attrs ">" body   \
	"</query></iq>"
#define SEARCHQ(name, set)                                                     \
	"<iq type='set' id='b'><query xmlns='jabber:iq:search'><x "            \
	"xmlns='jabber:x:data' type='submit'><field var='name'><value>" name   \
	"</value></field></x>" set "</query></iq>"

int main(int argc, char **argv)
{
	unsigned n = 200000, runs = 50;
	const char *db = NULL;
	bool keep = false;
	char tmp[] = "/tmp/fisbot-bench-fis-XXXXXX", *path, *cause = NULL;
	struct catalogue *c;
	struct fis_env env = {0};
	struct stat sb;
	char mid[160], buf[512];
	int ch;

	while ((ch = getopt(argc, argv, "n:r:d:k")) != -1) {
		switch (ch) {
		case 'n':
			n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			db = optarg;
			break;
		case 'k':
			keep = true;
			break;
		default:
			fprintf(stderr, "usage: bench_fis [-n FILES] [-r RUNS] "
			                "[-d DB] [-k]\n");
			return 2;
		}
	}
	if (runs == 0)
		runs = 1;
	if (db == NULL) {
		if (mkdtemp(tmp) == NULL)
			return 1;
		path = xasprintf("%s/fisbot.db", tmp);
	} else {
		path = xstrdup(db);
	}
	if (stat(path, &sb) == -1) {
		c = catalogue_open_writer(path, &cause);
		if (c == NULL) {
			fprintf(stderr, "%s\n", cause);
			return 1;
		}
		printf("generating %u files...\n", n);
		generate(c, n);
		catalogue_close(c);
	}
	c = catalogue_open(path, &cause);
	if (c == NULL) {
		fprintf(stderr, "%s\n", cause);
		return 1;
	}
	xmpp_initialize();
	env.ctx = xmpp_ctx_new(NULL, NULL);
	env.cat = c;
	env.page_limit = 100;
	env.max_payload = 60000;
	env.file_url = fake_url;

	run(&env, "root listing", FISQ("", ""), false, runs);
	run(&env, "folder listing (no RSM)", FISQ(" node='top07'", ""), false,
	    runs);
	run(&env, "one file", FISQ(" node='top07/sub03/file-0001067.ogg'", ""),
	    false, runs);
	run(&env, "flat root, first 100", FISQ("", SET("<max>100</max>")),
	    false, runs);
	snprintf(mid, sizeof(mid), "%u", n / 2);
	snprintf(buf, sizeof(buf),
	         FISQ("", SET("<max>100</max><after>%s</after>")), mid);
	run(&env, "flat root, 100 after a cursor", buf, false, runs);
	snprintf(buf, sizeof(buf),
	         FISQ("", SET("<max>100</max><index>%u</index>")), n / 2);
	run(&env, "flat root, 100 at index n/2", buf, false, runs);
	run(&env, "flat root, last 100",
	    FISQ("", SET("<max>100</max><before/>")), false, runs);
	run(&env, "flat folder, count only",
	    FISQ(" node='top07'", SET("<max>0</max>")), false, runs);
	run(&env, "search first page", SEARCHQ("file-00", ""), true, runs);
	/* A cursor some way down the results (matches are files 0 to 99,999,
	 * ids one more, newest first): as the bot hands it out ("ID:POS"), and
	 * a bare id, found by bisection. */
	if (n > 10000) {
		unsigned matches = n < 100000 ? n : 100000;

		snprintf(buf, sizeof(buf),
		         SEARCHQ("file-00",
		                 SET("<max>100</max><after>9000:%u</after>")),
		         matches - 9000);
		run(&env, "search, 100 after a cursor", buf, true, runs);
		snprintf(buf, sizeof(buf),
		         SEARCHQ("file-00",
		                 SET("<max>100</max><after>9000</after>")));
		run(&env, "search, after a bare id (bisection)", buf, true,
		    runs);
	}
	snprintf(buf, sizeof(buf),
	         SEARCHQ("file-00", SET("<max>100</max><after>%u:400</after>")),
	         n < 100000 ? n - 400 : 100000 - 400);
	run(&env, "search, 100 after position 400", buf, true, runs);

	catalogue_close(c);
	xmpp_ctx_free(env.ctx);
	xmpp_shutdown();
	if (db == NULL && !keep) {
		char *p;

		unlink(path);
		p = xasprintf("%s-wal", path);
		unlink(p);
		free(p);
		p = xasprintf("%s-shm", path);
		unlink(p);
		free(p);
		rmdir(tmp);
	} else if (keep) {
		printf("kept %s\n", path);
	}
	free(path);
	return 0;
}
