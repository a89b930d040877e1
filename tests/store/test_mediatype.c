/* Unit tests for the extension table of media types (mediatype.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/mediatype.h"

/* The table is sorted (bsearch needs it), lower case, without duplicates,
 * and every type looks like type/subtype. */
static void test_table_sorted(void **state)
{
	const char *ext, *type, *prev = NULL;
	size_t n = mediatype_table(0, &ext, &type);

	(void)state;
	assert_true(n > 50);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(mediatype_table(i, &ext, &type), n);
		assert_true(ext[0] != '\0');
		for (const char *p = ext; *p; p++)
			assert_false(*p >= 'A' && *p <= 'Z');
		assert_non_null(strchr(type, '/'));
		if (prev != NULL && strcmp(prev, ext) >= 0)
			fail_msg("table not sorted at \"%s\" after \"%s\"", ext,
			         prev);
		prev = ext;
	}
}

/* Every entry is found by name, whatever the case. */
static void test_every_entry_found(void **state)
{
	const char *ext, *type;
	size_t n = mediatype_table(0, &ext, &type);
	char name[64], upper[64];

	(void)state;
	for (size_t i = 0; i < n; i++) {
		mediatype_table(i, &ext, &type);
		snprintf(name, sizeof(name), "dir/file.%s", ext);
		assert_string_equal(mediatype_from_name(name), type);
		for (size_t j = 0; j < sizeof(upper); j++) {
			char c = name[j];

			upper[j] =
			    (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
			if (c == '\0')
				break;
		}
		assert_string_equal(mediatype_from_name(upper), type);
	}
}

static void test_common_types(void **state)
{
	static const struct {
		const char *name, *type;
	} cases[] = {
	    {"song.ogg", "audio/ogg"},
	    {"song.OPUS", "audio/ogg"},
	    {"a/b/c.Mp3", "audio/mpeg"},
	    {"x.flac", "audio/flac"},
	    {"x.mkv", "video/x-matroska"},
	    {"x.webm", "video/webm"},
	    {"photo.JPG", "image/jpeg"},
	    {"photo.jpeg", "image/jpeg"},
	    {"x.svg", "image/svg+xml"},
	    {"x.pdf", "application/pdf"},
	    {"notes.txt", "text/plain"},
	    {"README.md", "text/markdown"},
	    {"index.HTML", "text/html"},
	    {"x.tar.gz", "application/gzip"},
	    {"x.tgz", "application/gzip"},
	    {"x.7z", "application/x-7z-compressed"},
	    {"x.zst", "application/zstd"},
	    {"x.woff2", "font/woff2"},
	    {"x.epub", "application/epub+zip"},
	    {"..txt", "text/plain"}, /* a dotfile with an extension */
	    {"dir.d/x.txt", "text/plain"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(mediatype_from_name(cases[i].name),
		                    cases[i].type);
}

/* Unknown extensions, names without one and dotfiles give NULL (libmagic
 * decides). */
static void test_unknown(void **state)
{
	static const char *const names[] = {
	    "",
	    "README",
	    "Makefile",
	    ".bashrc",
	    ".txt", /* a dotfile named "txt", no extension */
	    "dir/.mp3",
	    "name.",
	    "name..",
	    "x.unknownext",
	    "x.mp3x",
	    "x.verylongextension",
	    "x.ts", /* ambiguous: left to libmagic */
	    "dir.txt/README",
	    "x.t\xc3\xa9xt",
	    "x.TXT\n",
	    "x.tx t",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (mediatype_from_name(names[i]) != NULL)
			fail_msg("\"%s\" has a type", names[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_sorted),
	    cmocka_unit_test(test_every_entry_found),
	    cmocka_unit_test(test_common_types),
	    cmocka_unit_test(test_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
