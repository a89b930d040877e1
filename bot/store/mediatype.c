/*
 * Media types from file names (see mediatype.h). The table is sorted by
 * extension (lower case, byte order) and searched with bsearch; the unit
 * test checks the order. Extensions whose meaning is ambiguous (".ts":
 * MPEG transport stream or TypeScript) are left to libmagic.
 */
#include "mediatype.h"

#include <stdlib.h>
#include <string.h>

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
