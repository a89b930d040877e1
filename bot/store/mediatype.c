/*
 * Media types from file names and first bytes (see mediatype.h). The table
 * is sorted by extension (lower case, byte order) and searched with
 * bsearch; the unit test checks the order. Extensions whose meaning is
 * ambiguous (".ts": MPEG transport stream or TypeScript) are left to the
 * content. The signatures are the few formats common in shares; anything
 * else is left to libmagic, whose rules cost about 150 us a file on a
 * binary it does not know (tests/bench/bench_scale.py), so that text is
 * recognised here first. libmagic sees the first 4 KiB with its costly
 * tests off (MAGIC_CHEAP), and its database is loaded when a handle is
 * opened.
 */
#include "mediatype.h"

#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/beneath.h"
#include "base/fsutil.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"

/* libmagic's tests that cost and do not give a media type worth it here:
 * looking into compressed files and archives, ELF details, the
 * application-type and token tests, CSV and JSON (the extension table has
 * those). The magic rules and the text tests stay. */
#define MAGIC_CHEAP                                                            \
	(MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_TAR | MAGIC_NO_CHECK_CDF |   \
	 MAGIC_NO_CHECK_ELF | MAGIC_NO_CHECK_APPTYPE | MAGIC_NO_CHECK_TOKENS | \
	 MAGIC_NO_CHECK_CSV | MAGIC_NO_CHECK_JSON)
#define DEFAULT_TYPE "application/octet-stream"

struct mediatype {
	const char *ext;
	const char *type;
};

static const struct mediatype table[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"aiff", "audio/x-aiff"},
    {"apk", "application/vnd.android.package-archive"},
    {"avi", "video/x-msvideo"},
    {"avif", "image/avif"},
    {"azw3", "application/vnd.amazon.ebook"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"c", "text/x-c"},
    {"cbr", "application/vnd.comicbook-rar"},
    {"cbz", "application/vnd.comicbook+zip"},
    {"cpp", "text/x-c++"},
    {"css", "text/css"},
    {"csv", "text/csv"},
    {"deb", "application/vnd.debian.binary-package"},
    {"djvu", "image/vnd.djvu"},
    {"doc", "application/msword"},
    {"docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"flv", "video/x-flv"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"h", "text/x-c"},
    {"heic", "image/heic"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"ico", "image/vnd.microsoft.icon"},
    {"ics", "text/calendar"},
    {"iso", "application/x-iso9660-image"},
    {"jar", "application/java-archive"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"jxl", "image/jxl"},
    {"m3u", "audio/x-mpegurl"},
    {"m4a", "audio/mp4"},
    {"m4v", "video/mp4"},
    {"md", "text/markdown"},
    {"mid", "audio/midi"},
    {"midi", "audio/midi"},
    {"mjs", "text/javascript"},
    {"mkv", "video/x-matroska"},
    {"mobi", "application/x-mobipocket-ebook"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"mpg", "video/mpeg"},
    {"odp", "application/vnd.oasis.opendocument.presentation"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"pptx", "application/"
             "vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"ps", "application/postscript"},
    {"py", "text/x-python"},
    {"rar", "application/vnd.rar"},
    {"rpm", "application/x-rpm"},
    {"rtf", "application/rtf"},
    {"sh", "application/x-sh"},
    {"srt", "application/x-subrip"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tex", "text/x-tex"},
    {"tgz", "application/gzip"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"toml", "application/toml"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain"},
    {"vtt", "text/vtt"},
    {"wav", "audio/wav"},
    {"weba", "audio/webm"},
    {"webm", "video/webm"},
    {"webp", "image/webp"},
    {"wma", "audio/x-ms-wma"},
    {"wmv", "video/x-ms-wmv"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"xml", "application/xml"},
    {"xz", "application/x-xz"},
    {"yaml", "application/yaml"},
    {"yml", "application/yaml"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

#define TABLE_LEN (sizeof(table) / sizeof(table[0]))
#define EXT_MAX   8 /* longer extensions are not in the table */

/* bsearch comparison: a key (a lower-case extension) with an entry. */
static int compare(const void *key, const void *entry)
{
	return strcmp(key, ((const struct mediatype *)entry)->ext);
}

const char *mediatype_from_name(const char *name)
{
	const char *base = strrchr(name, '/'), *dot;
	const struct mediatype *m;
	char ext[EXT_MAX + 1];
	size_t n;

	base = base != NULL ? base + 1 : name;
	dot = strrchr(base, '.');
	/* No extension, or a dotfile's name (".bashrc") without one. */
	if (dot == NULL || dot == base)
		return NULL;
	n = strlen(dot + 1);
	if (n == 0 || n > EXT_MAX)
		return NULL;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)dot[1 + i];

		ext[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	m = bsearch(ext, table, TABLE_LEN, sizeof(table[0]), compare);
	return m != NULL ? m->type : NULL;
}

size_t mediatype_table(size_t i, const char **ext, const char **type)
{
	if (i < TABLE_LEN) {
		*ext = table[i].ext;
		*type = table[i].type;
	}
	return TABLE_LEN;
}

/* A signature: bytes at an offset. */
struct signature {
	size_t off;
	const char *magic;
	size_t len;
	const char *type;
};

#define SIG(off, m, type)                                                      \
	{                                                                      \
		off, m, sizeof(m) - 1, type                                    \
	}

static const struct signature signatures[] = {
    SIG(0, "\x89PNG\r\n\x1a\n", "image/png"),
    SIG(0, "\xff\xd8\xff", "image/jpeg"),
    SIG(0, "GIF87a", "image/gif"),
    SIG(0, "GIF89a", "image/gif"),
    SIG(0, "%PDF-", "application/pdf"),
    SIG(0, "PK\x03\x04", "application/zip"),
    SIG(0, "\x1f\x8b", "application/gzip"),
    SIG(0, "BZh", "application/x-bzip2"),
    SIG(0,
        "\xfd"
        "7zXZ\x00",
        "application/x-xz"),
    SIG(0, "7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    SIG(0, "Rar!\x1a\x07", "application/vnd.rar"),
    SIG(0, "\x28\xb5\x2f\xfd", "application/zstd"),
    SIG(0, "OggS", "audio/ogg"),
    SIG(0, "fLaC", "audio/flac"),
    SIG(0, "ID3", "audio/mpeg"),
    SIG(8, "WAVE", "audio/x-wav"),
    SIG(8, "WEBP", "image/webp"),
    SIG(8, "AVI ", "video/x-msvideo"),
    SIG(4, "ftyp", "video/mp4"),
    SIG(0, "\x1a\x45\xdf\xa3", "video/x-matroska"),
    SIG(0, "%!PS", "application/postscript"),
    SIG(0, "{\\rtf", "text/rtf"),
};

/* Returns true if the n bytes at p are text: valid UTF-8 without control
 * characters other than tab, line feed, form feed, carriage return and
 * escape. A character cut at the end of the buffer counts as valid. */
static bool is_text(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		size_t len;

		if (c < 0x80) {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\f' &&
			    c != '\r' && c != 0x1b)
				return false;
			if (c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		else
			return false;
		for (size_t k = 1; k < len; k++) {
			if (i + k >= n)
				return true; /* cut by the buffer */
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		}
		i += len;
	}
	return true;
}

const char *mediatype_sniff(const void *data, size_t n)
{
	const unsigned char *p = data;

	if (n == 0)
		return "application/x-empty";
	for (size_t i = 0; i < sizeof(signatures) / sizeof(signatures[0]);
	     i++) {
		const struct signature *s = &signatures[i];

		if (n >= s->off + s->len &&
		    memcmp(p + s->off, s->magic, s->len) == 0)
			return s->type;
	}
	/* Scripts, markup and the like are libmagic's (text/x-shellscript,
	 * text/html...); other text is plain. */
	if (p[0] == '#' || p[0] == '<' || p[0] == '{' || p[0] == '[')
		return NULL;
	return is_text(p, n) ? "text/plain" : NULL;
}

struct mediatype_magic {
	magic_t magic;
};

/* Set once libmagic failed to start: said once, not at every handle. */
static atomic_bool magic_failed;

struct mediatype_magic *mediatype_magic_open(void)
{
	struct mediatype_magic *m;
	size_t bytes = MEDIATYPE_MAGIC_BYTES;
	magic_t magic;

	magic = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_CHEAP);
	if (magic == NULL) {
		if (!atomic_exchange(&magic_failed, true))
			log_warn("cannot start libmagic");
		return NULL;
	}
	(void)magic_setparam(magic, MAGIC_PARAM_BYTES_MAX, &bytes);
	if (magic_load(magic, NULL) == -1) {
		if (!atomic_exchange(&magic_failed, true))
			log_warnx("cannot load the libmagic database: %s",
			          magic_error(magic));
		magic_close(magic);
		return NULL;
	}
	m = xmalloc(sizeof(*m));
	m->magic = magic;
	return m;
}

void mediatype_magic_close(struct mediatype_magic *m)
{
	if (m == NULL)
		return;
	magic_close(m->magic);
	free(m);
}

const char *mediatype_of_bytes(struct mediatype_magic *m, const void *data,
                               size_t n)
{
	const char *t = mediatype_sniff(data, n);

	if (t == NULL && m != NULL)
		t = magic_buffer(m->magic, data, n);
	return t != NULL ? t : DEFAULT_TYPE;
}

/* The handle mediatype_of_file shares between threads, opened when first
 * needed (once: if libmagic cannot start, the first bytes decide). */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mediatype_magic *shared_magic;
static bool shared_tried;

ssize_t mediatype_head(int rootfd, const char *path, uint64_t size,
                       int64_t mtime_ns, void *buf)
{
	struct stat st;
	ssize_t n = -1;
	int fd;

	fd = beneath_open(rootfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == size && fsutil_mtime_ns(&st) == mtime_ns) {
		do
			n = pread(fd, buf, MEDIATYPE_MAGIC_BYTES, 0);
		while (n == -1 && errno == EINTR);
	}
	close(fd);
	return n;
}

char *mediatype_of_file(const char *root, const char *path, uint64_t size,
                        int64_t mtime_ns)
{
	const char *known = mediatype_from_name(path);
	unsigned char buf[MEDIATYPE_MAGIC_BYTES];
	char *type;
	ssize_t n;
	int rootfd;

	if (known != NULL)
		return xstrdup(known);
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd == -1)
		return NULL;
	n = mediatype_head(rootfd, path, size, mtime_ns, buf);
	close(rootfd);
	if (n == -1)
		return NULL;
	pthread_mutex_lock(&shared_lock);
	if (!shared_tried) {
		shared_tried = true;
		shared_magic = mediatype_magic_open();
	}
	type = xstrdup(mediatype_of_bytes(shared_magic, buf, (size_t)n));
	pthread_mutex_unlock(&shared_lock);
	return type;
}
