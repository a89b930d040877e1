/* Unit tests for upload_offer: who may upload, size and quota limits
 * (exactly at the limit and one byte over), names, and the URL made. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fisbot/config.h"
#include "http/token.h"
#include "http/upload.h"
#include "http/upload_token.h"
#include "store/catalogue_write.h"

static const unsigned char key_bytes[TOKEN_KEY_LEN] =
    "0123456789abcdef0123456789abcde";

struct fixture {
	char dir[64];
	struct config *cfg;
	struct catalogue *cat;
	struct token_key *key;
};

/* Loads a configuration with the given [upload] section. */
static struct config *load(struct fixture *f, const char *upload)
{
	struct strlist problems = {0};
	char path[128];
	struct config *cfg;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/fisbot.conf", f->dir);
	fp = fopen(path, "w");
	fprintf(fp,
	        "[xmpp]\njid = bot@example.org\npassword = x\n"
	        "[share]\npath = share\ndatabase = fisbot.db\n"
	        "[http]\nbase_url = https://files.example.org/fb\n"
	        "[upload]\n%s\n",
	        upload);
	fclose(fp);
	cfg = config_load(path, &problems);
	for (size_t i = 0; i < problems.n; i++)
		fprintf(stderr, "%s\n", problems.v[i]);
	strlist_free(&problems);
	assert_non_null(cfg);
	return cfg;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128], *cause = NULL;

	strcpy(f->dir, "/tmp/fisbot-upload-offer-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/share", f->dir);
	mkdir(path, 0755);
	f->cfg = load(f, "enabled = yes\nallow = alice@example.org, "
	                 "friends.example\nmax_file_size = 10K\nquota = 20K");
	f->cat = catalogue_open_writer(f->cfg->share.database, &cause);
	assert_non_null(f->cat);
	f->key = token_key_from_bytes(key_bytes);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	catalogue_close(f->cat);
	config_free(f->cfg);
	token_key_free(f->key);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Adds a file of size bytes stored by uploader (NULL: nobody). */
static void add_file(struct fixture *f, const char *path, uint64_t size,
                     const char *uploader)
{
	struct cat_file cf = {0};

	cf.path = (char *)path;
	cf.size = size;
	cf.mtime_ns = 1;
	cf.ino = size + 1;
	assert_int_equal(catalogue_upsert(f->cat, &cf), 0);
	if (uploader != NULL)
		assert_int_equal(
		    catalogue_set_uploader(f->cat, cf.id, uploader), 0);
}

/* Calls upload_offer; returns the URL, or the cause after "!". */
static char *offer(struct fixture *f, const char *who, const char *name,
                   uint64_t size)
{
	char *cause = NULL, *url, *r;

	url = upload_offer(f->cfg, f->key, f->cat, who, name, size, 1000, NULL,
	                   &cause);
	if (url != NULL) {
		assert_null(cause);
		return url;
	}
	assert_non_null(cause);
	r = malloc(strlen(cause) + 2);
	r[0] = '!';
	strcpy(r + 1, cause);
	free(cause);
	return r;
}

/* Asserts that the offer is refused with want. */
static void refused(struct fixture *f, const char *who, const char *name,
                    uint64_t size, const char *want)
{
	char *got = offer(f, who, name, size);

	assert_int_equal(got[0], '!');
	assert_string_equal(got + 1, want);
	free(got);
}

/* Asserts that the offer is accepted; returns the URL (caller frees). */
static char *accepted(struct fixture *f, const char *who, const char *name,
                      uint64_t size)
{
	char *got = offer(f, who, name, size);

	if (got[0] == '!')
		fail_msg("refused: %s", got + 1);
	return got;
}

static void test_url_and_token(void **state)
{
	struct fixture *f = *state;
	char *clean = NULL, *cause = NULL, *url;
	const char *prefix = "https://files.example.org/fb/u/";
	struct upload_token t;
	const char *tok, *slash;

	url = upload_offer(f->cfg, f->key, f->cat, "Alice@Example.ORG",
	                   "my song (live).ogg", 1234, 1000, &clean, &cause);
	assert_non_null(url);
	assert_string_equal(clean, "my song (live).ogg");
	assert_int_equal(strncmp(url, prefix, strlen(prefix)), 0);
	tok = url + strlen(prefix);
	slash = strchr(tok, '/');
	assert_non_null(slash);
	assert_string_equal(slash + 1, "my%20song%20%28live%29.ogg");
	assert_int_equal(upload_token_parse(tok, (size_t)(slash - tok), &t), 0);
	/* The uploader is recorded in lower case. */
	assert_string_equal(t.uploader, "alice@example.org");
	assert_int_equal(t.size, 1234);
	assert_int_equal(t.quota, 20 * 1024);
	assert_int_equal(t.issued, 1000);
	assert_int_equal(t.expires, 1000 + UPLOAD_URL_LIFETIME);
	assert_int_equal(upload_token_verify(f->key, &t, clean, 1000),
	                 UPLOAD_TOKEN_OK);
	free(url);
	free(clean);

	/* The name is cleaned before it is signed. */
	url = upload_offer(f->cfg, f->key, f->cat, "alice@example.org",
	                   ".hidden/x", 1, 1000, &clean, &cause);
	assert_string_equal(clean, "hidden_x");
	assert_non_null(strstr(url, "/hidden_x"));
	free(url);
	free(clean);
}

static void test_who_may_upload(void **state)
{
	struct fixture *f = *state;

	free(accepted(f, "alice@example.org", "a", 1));
	free(accepted(f, "anyone@friends.example", "a", 1));
	refused(f, "mallory@example.org", "a", 1,
	        "you are not allowed to upload");
	refused(f, NULL, "a", 1,
	        "uploads need your real JID, and it is not known here (an "
	        "anonymous room); ask in a direct chat");
	config_free(f->cfg);
	f->cfg = load(f, "enabled = no\nallow = alice@example.org");
	refused(f, "alice@example.org", "a", 1, "uploads are disabled");
}

static void test_sizes(void **state)
{
	struct fixture *f = *state;

	free(accepted(f, "alice@example.org", "a", 0));
	free(accepted(f, "alice@example.org", "a", 10240));
	refused(f, "alice@example.org", "a", 10241,
	        "too large: 10.0 KiB (10241 bytes); the limit is 10.0 KiB");
	refused(f, "alice@example.org", "a", UINT64_MAX,
	        "too large: 16.0 EiB (18446744073709551615 bytes); the limit "
	        "is 10.0 KiB");
}

static void test_quota_exactly(void **state)
{
	struct fixture *f = *state;

	/* Other uploaders' files and unattributed files do not count. */
	add_file(f, "incoming/b", 9000, "bob@friends.example");
	add_file(f, "music/x", 9000, NULL);
	add_file(f, "incoming/a1", 10240, "alice@example.org");
	add_file(f, "incoming/a2", 5120, "alice@example.org");
	/* 15 KiB stored of 20 KiB: 5 KiB fits exactly, one byte more not. */
	free(accepted(f, "alice@example.org", "a", 5120));
	refused(f, "alice@example.org", "a", 5121,
	        "over your quota: you store 15.0 KiB of 20.0 KiB, and this "
	        "file needs 5.0 KiB");
	free(accepted(f, "bob@friends.example", "b", 10240));
}

static void test_bad_names(void **state)
{
	struct fixture *f = *state;

	refused(f, "alice@example.org", "..", 1,
	        "the name is empty once leading dots and spaces are removed");
	refused(f, "alice@example.org", "x.part", 1,
	        "files named like \"x.part\" are not shared ([share] "
	        "exclude); choose another name");
	refused(f, "alice@example.org", "\xff", 1,
	        "the name is not valid UTF-8");
}

/* A folder that cannot be written: no URL, a clear refusal; the offer
 * works again once it can be. */
static void test_folder_unwritable(void **state)
{
	struct fixture *f = *state;
	char path[128], *cause = NULL;
	struct stat st;
	FILE *fp;

	/* A missing folder is fine (the first upload makes it), and the
	 * check leaves nothing behind. */
	free(accepted(f, "alice@example.org", "a", 1));
	snprintf(path, sizeof(path), "%s/share/incoming", f->dir);
	assert_int_equal(upload_folder_check(f->cfg, &cause), 0);
	assert_int_equal(stat(path, &st), -1);
	/* Where the folder should be, a file (unwritable even for root). */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	refused(f, "alice@example.org", "a", 1,
	        "uploads are unavailable: the upload folder cannot be "
	        "written");
	assert_int_equal(upload_folder_check(f->cfg, &cause), -1);
	assert_non_null(strstr(cause, "[upload] folder \"incoming\""));
	free(cause);
	/* Users who may not upload are not told about the folder. */
	refused(f, "mallory@example.org", "a", 1,
	        "you are not allowed to upload");
	/* An existing folder gets a probe file, removed at once. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	free(accepted(f, "alice@example.org", "a", 1));
	assert_int_equal(rmdir(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_url_and_token, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_who_may_upload, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quota_exactly, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_folder_unwritable, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
