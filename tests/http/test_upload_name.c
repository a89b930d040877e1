/* Unit tests for the names of uploaded files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fisbot/config.h"
#include "http/upload_name.h"

/* Cleans name with the default excludes; returns the result or the cause
 * prefixed with "!" (the caller frees). */
static char *clean(const char *name)
{
	struct strlist ex = {0};
	char *cause = NULL, *out, *r;

	strlist_add(&ex, ".*");
	strlist_add(&ex, "*.part");
	strlist_add(&ex, "*.tmp");
	strlist_add(&ex, "*~");
	out = upload_name_clean(name, &ex, &cause);
	strlist_free(&ex);
	if (out != NULL) {
		assert_null(cause);
		return out;
	}
	assert_non_null(cause);
	r = malloc(strlen(cause) + 2);
	r[0] = '!';
	strcpy(r + 1, cause);
	free(cause);
	return r;
}

/* Asserts that name cleans to want. */
static void check(const char *name, const char *want)
{
	char *got = clean(name);

	assert_string_equal(got, want);
	free(got);
}

static void test_plain_names_kept(void **state)
{
	check("song.ogg", "song.ogg");
	check("My Holiday (2024).tar.gz", "My Holiday (2024).tar.gz");
	check("Ünïcödé ファイル.txt", "Ünïcödé ファイル.txt");
	check("a", "a");
	check("name.with.dots.", "name.with.dots.");
}

static void test_unsafe_characters_replaced(void **state)
{
	check("dir/file.txt", "dir_file.txt");
	check("../../etc/passwd", "_.._etc_passwd");
	check("back\\slash", "back_slash");
	check("tab\there", "tab_here");
	check("new\nline", "new_line");
	check("del\x7f", "del_");
	check("c1\xc2\x85x", "c1_x");                     /* U+0085 NEL */
	check("evil\xe2\x80\xaegpj.exe", "evil_gpj.exe"); /* U+202E RLO */
	check("iso\xe2\x81\xa6x", "iso_x");               /* U+2066 */
}

static void test_leading_and_trailing(void **state)
{
	check(".hidden", "hidden");
	check("...dots", "dots");
	check(". . .x", "x");
	check("  spaced  ", "spaced");
	check("\xc2\xa0nbsp", "nbsp");
	check("./a", "_a");
}

static void test_refused(void **state)
{
	char *r;

	check("", "!the name is empty");
	check(".",
	      "!the name is empty once leading dots and spaces are removed");
	check("..",
	      "!the name is empty once leading dots and spaces are removed");
	check("   ",
	      "!the name is empty once leading dots and spaces are removed");
	check("bad\xff.txt", "!the name is not valid UTF-8");
	check("over\xc0\xaflong", "!the name is not valid UTF-8");
	check("surrogate\xed\xa0\x80", "!the name is not valid UTF-8");
	check("file.part",
	      "!files named like \"file.part\" are not shared ([share] "
	      "exclude); choose another name");
	check("backup~", "!files named like \"backup~\" are not shared "
	                 "([share] exclude); choose another name");
	check("x.tmp", "!files named like \"x.tmp\" are not shared ([share] "
	               "exclude); choose another name");

	/* Length: exactly the limit passes, one byte more does not. */
	r = malloc(UPLOAD_NAME_MAX + 2);
	memset(r, 'a', UPLOAD_NAME_MAX + 1);
	r[UPLOAD_NAME_MAX + 1] = '\0';
	check(r, "!the name is too long (201 bytes; at most 200)");
	r[UPLOAD_NAME_MAX] = '\0';
	{
		char *got = clean(r);

		assert_int_equal(strlen(got), UPLOAD_NAME_MAX);
		free(got);
	}
	free(r);
}

static void test_no_exclude_list(void **state)
{
	char *cause = NULL, *out = upload_name_clean("x.part", NULL, &cause);

	assert_string_equal(out, "x.part");
	free(out);
}

static void test_variants(void **state)
{
	static const struct {
		const char *name;
		unsigned n;
		const char *want;
	} cases[] = {
	    {"song.ogg", 1, "song (1).ogg"},
	    {"song.ogg", 12, "song (12).ogg"},
	    {"archive.tar.gz", 1, "archive (1).tar.gz"},
	    {"ARCHIVE.TAR.XZ", 2, "ARCHIVE (2).TAR.XZ"},
	    {"noext", 1, "noext (1)"},
	    {"x.tar", 1, "x (1).tar"},
	    {"a.b.c", 3, "a.b (3).c"},
	    {"long.extensionthatistoolong", 1,
	     "long.extensionthatistoolong (1)"},
	    {"trailingdot.", 1, "trailingdot (1)."},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = upload_name_variant(cases[i].name, cases[i].n);

		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_names_kept),
	    cmocka_unit_test(test_unsafe_characters_replaced),
	    cmocka_unit_test(test_leading_and_trailing),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_no_exclude_list),
	    cmocka_unit_test(test_variants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
