/*
 * libFuzzer target for the fis plugin's handlers: each input is parsed as
 * a stanza (xmpp_stanza_new_from_string) and handed to the XEP-0329 and
 * jabber:iq:search handlers, which answer from a temporary catalogue with
 * ordinary and hostile file names. An answer must be a payload within the
 * byte budget, or an error with a condition and a clean one-line text.
 * Seeds: tests/fuzz/corpus/fis.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strophe.h>

#include "fis.h"
#include "fis_xml.h"
#include "fisbot/alloc.h"
#include "fisbot/text.h"
#include "store/catalogue_write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The catalogue and the context, made once; the folder of the catalogue. */
static struct fis_env env;
static char tmp_dir[] = "/tmp/fisbot-fuzz-fis-XXXXXX";

/* Removes the temporary catalogue when the fuzzer exits. */
static void cleanup(void)
{
	static const char *const names[] = {"fisbot.db", "fisbot.db-wal",
	                                    "fisbot.db-shm"};

	catalogue_close(env.cat);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = xasprintf("%s/%s", tmp_dir, names[i]);

		unlink(p);
		free(p);
	}
	rmdir(tmp_dir);
}

/* A fake URL maker. */
static char *fake_url(void *arg, const struct cat_file *f)
{
	(void)arg;
	return xasprintf("http://127.0.0.1/f/%lld/x", (long long)f->id);
}

/* Adds a hashed file at path. */
static void add(struct catalogue *c, const char *path, uint64_t size)
{
	struct cat_file f = {0};
	unsigned char sha[32];
	bool stale;

	f.path = (char *)path;
	f.size = size;
	f.mtime_ns = 1000000000;
	f.ino = size;
	if (catalogue_upsert(c, &f) == -1)
		abort();
	memset(sha, (int)f.id, sizeof(sha));
	if (catalogue_set_hash(c, f.id, size, f.mtime_ns, sha, "audio/ogg",
	                       &stale) == -1)
		abort();
}

/* Builds the temporary catalogue and the context. */
static void init(void)
{
	static const char *const paths[] = {
	    "top.txt",       "music/live/song.ogg",
	    "music/a.ogg",   "bad\xff\xfe/na\x01me.txt",
	    "back\\slash/x", "q\"'<&>/y",
	    "été/日本.txt",
	};
	char *db, *cause = NULL;
	struct catalogue *c;

	if (mkdtemp(tmp_dir) == NULL)
		abort();
	db = xasprintf("%s/fisbot.db", tmp_dir);
	c = catalogue_open_writer(db, &cause);
	if (c == NULL) {
		fprintf(stderr, "%s\n", cause);
		abort();
	}
	catalogue_begin(c);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		add(c, paths[i], i + 1);
	for (unsigned k = 0; k < 150; k++) {
		char path[32];

		snprintf(path, sizeof(path), "many/%s/%03u.ogg",
		         k % 2 ? "odd" : "even", k);
		add(c, path, k * 100);
	}
	catalogue_commit(c);
	free(db);
	atexit(cleanup);
	xmpp_initialize();
	env.ctx = xmpp_ctx_new(NULL, NULL);
	env.cat = c;
	env.page_limit = 100;
	env.file_url = fake_url;
}

/* Checks one answer's invariants. */
static void check(int rc, struct fis_reply *r)
{
	if (rc == 0) {
		if (r->payload == NULL ||
		    fis_xml_size(r->payload) > env.max_payload)
			abort();
		return;
	}
	if (r->payload != NULL || r->type == NULL || r->condition == NULL)
		abort();
	if (r->text != NULL) {
		if (!text_is_utf8(r->text, strlen(r->text)))
			abort();
		for (const char *p = r->text; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xmpp_stanza_t *st;
	struct fis_reply r;
	char *text;

	if (env.ctx == NULL)
		init();
	text = xstrndup((const char *)data, size);
	st = xmpp_stanza_new_from_string(env.ctx, text);
	free(text);
	if (st == NULL)
		return 0;
	env.max_payload = fis_reply_budget(st);
	check(fis_query_answer(&env, st, &r), &r);
	fis_reply_clear(&r);
	check(search_form_answer(&env, st, &r), &r);
	fis_reply_clear(&r);
	xmpp_stanza_release(st);
	return 0;
}
