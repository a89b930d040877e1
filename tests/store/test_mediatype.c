/* Unit tests for the media types of mediatype.c: the extension table and
 * the first bytes. */
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

/* The first bytes of common formats and of text give a type without
 * libmagic; anything else (binary data, scripts, markup) is left to it. */
static void test_sniff(void **state)
{
	static const struct {
		const char *data;
		size_t len;
		const char *type;
	} cases[] = {
#define C(d, t) {d, sizeof(d) - 1, t}
	    C("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png"),
	    C("\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
	    C("GIF89a\x01\0", "image/gif"), C("%PDF-1.4\n", "application/pdf"),
	    C("PK\x03\x04\x14\0", "application/zip"),
	    C("\x1f\x8b\x08\0", "application/gzip"),
	    C("OggS\0\x02", "audio/ogg"), C("fLaC\0\0\0\x22", "audio/flac"),
	    C("ID3\x04\0\0", "audio/mpeg"),
	    C("RIFF\x24\0\0\0WAVEfmt ", "audio/x-wav"),
	    C("RIFF\x24\0\0\0WEBPVP8 ", "image/webp"),
	    C("\0\0\0\x18"
	      "ftypmp42",
	      "video/mp4"),
	    C("\x1a\x45\xdf\xa3\x01", "video/x-matroska"),
	    C("", "application/x-empty"), C("hello world\n", "text/plain"),
	    C("caf\xc3\xa9 cr\xc3\xa8me\r\n\ttab\f", "text/plain"),
	    /* A character cut by the end of the buffer is still text. */
	    C("abc \xe2\x82", "text/plain"),
	    /* Not sure: libmagic's. */
	    C("\x00\x01\x02\x03"
	      "binary",
	      NULL),
	    C("abc\x01"
	      "def",
	      NULL),
	    C("bad \xff utf-8", NULL), C("overlong \xc0\xaf", NULL),
	    C("#!/bin/sh\necho hi\n", NULL),
	    C("<html><body>x</body></html>", NULL), C("{\"json\": 1}", NULL),
	    C("\x7f"
	      "ELF\x02\x01\x01",
	      NULL),
	    C("RIFF\x24\0\0\0WAV", NULL), /* too short for its subtype */
#undef C
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = mediatype_sniff(cases[i].data, cases[i].len);

		if (cases[i].type == NULL && t != NULL)
			fail_msg("case %zu: \"%s\", expected NULL", i, t);
		if (cases[i].type != NULL &&
		    (t == NULL || strcmp(t, cases[i].type) != 0))
			fail_msg("case %zu: \"%s\", expected \"%s\"", i,
			         t ? t : "NULL", cases[i].type);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_sorted),
	    cmocka_unit_test(test_every_entry_found),
	    cmocka_unit_test(test_common_types),
	    cmocka_unit_test(test_unknown),
	    cmocka_unit_test(test_sniff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
