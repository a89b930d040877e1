/* Unit tests for the media types of mediatype.c: the extension table, the
 * first bytes, libmagic, and a file of the share read for its type. */
#include <fcntl.h>
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

#include "base/fsutil.h"
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

#define SCRIPT "#!/bin/sh\necho hello\n"

/* What neither the name nor the sniffing tells is libmagic's; without a
 * handle, the default. */
static void test_magic(void **state)
{
	struct mediatype_magic *m = mediatype_magic_open();
	static const unsigned char junk[] = {0x00, 0x9f, 0x13, 0x37, 0xfe,
	                                     0x01, 0x80, 0x00, 0xaa, 0x55};

	(void)state;
	assert_non_null(m);
	assert_null(mediatype_sniff(SCRIPT, strlen(SCRIPT)));
	assert_string_equal(mediatype_of_bytes(m, SCRIPT, strlen(SCRIPT)),
	                    "text/x-shellscript");
	assert_string_equal(mediatype_of_bytes(NULL, SCRIPT, strlen(SCRIPT)),
	                    "application/octet-stream");
	assert_string_equal(mediatype_of_bytes(m, junk, sizeof(junk)),
	                    "application/octet-stream");
	/* what sniffing knows does not reach libmagic */
	assert_string_equal(mediatype_of_bytes(m, "%PDF-1.4\n", 9),
	                    "application/pdf");
	mediatype_magic_close(m);
	mediatype_magic_close(NULL);
}

/* Writes data to dir/name. */
static void put(const char *dir, const char *name, const char *data)
{
	char *path = fsutil_join(dir, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(data, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	free(path);
}

/* mediatype_of_file reads the file beneath the root, only if it is still
 * the file the catalogue knows, never through a link. */
static void test_of_file(void **state)
{
	char root[] = "/tmp/fisbot-mt-XXXXXX", *path, *t;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(root));
	put(root, "run", SCRIPT);
	put(root, "notes.txt", "not looked at");
	path = fsutil_join(root, "run");
	assert_int_equal(stat(path, &st), 0);
	t = mediatype_of_file(root, "run", (uint64_t)st.st_size,
	                      fsutil_mtime_ns(&st));
	assert_non_null(t);
	assert_string_equal(t, "text/x-shellscript");
	free(t);
	/* changed since: no type */
	assert_null(mediatype_of_file(root, "run", (uint64_t)st.st_size + 1,
	                              fsutil_mtime_ns(&st)));
	assert_null(mediatype_of_file(root, "gone", 1, 0));
	/* the name decides first, without a read */
	t = mediatype_of_file(root, "notes.txt", 0, 0);
	assert_string_equal(t, "text/plain");
	free(t);
	/* a link is not followed */
	{
		char *link = fsutil_join(root, "link");

		assert_int_equal(symlink(path, link), 0);
		free(path);
		path = link;
	}
	assert_null(mediatype_of_file(root, "link", (uint64_t)st.st_size,
	                              fsutil_mtime_ns(&st)));
	unlink(path);
	free(path);
	path = fsutil_join(root, "run");
	unlink(path);
	free(path);
	path = fsutil_join(root, "notes.txt");
	unlink(path);
	free(path);
	assert_int_equal(rmdir(root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_sorted),
	    cmocka_unit_test(test_every_entry_found),
	    cmocka_unit_test(test_common_types),
	    cmocka_unit_test(test_unknown),
	    cmocka_unit_test(test_sniff),
	    cmocka_unit_test(test_magic),
	    cmocka_unit_test(test_of_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
