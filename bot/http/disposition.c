/*
 * The ASCII fallback of a Content-Disposition file name (disposition.h).
 *
 * glibc's //TRANSLIT follows the LC_CTYPE of the calling thread: under the
 * "C" locale it turns "é" into "?", under a UTF-8 one into "e". The
 * daemon never calls setlocale, so the conversion runs under a C.UTF-8
 * locale of its own (newlocale once, uselocale around the call, which
 * touches only this thread). Plain ASCII names skip iconv altogether.
 */
#include <errno.h>
#include <iconv.h>
#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "disposition.h"
#include "fisbot/alloc.h"

#define TRANSLIT_GROWTH 4 /* room for ASCII forms longer than the UTF-8 */

static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale = (locale_t)0;

/* Makes the UTF-8 locale transliteration runs under, if there is one. */
static void utf8_locale_init(void)
{
	static const char *const names[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		utf8_locale = newlocale(LC_CTYPE_MASK, names[i], (locale_t)0);
		if (utf8_locale != (locale_t)0)
			return;
	}
}

/* Returns true if ch may stand in the quoted filename as it is. */
static bool plain(unsigned char ch)
{
	return ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' &&
	       ch != '%' && ch != '?';
}

/* Replaces in s (n bytes, NUL-terminated) what may not stand as it is with
 * '_', one per byte. */
static void replace_unsafe(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!plain((unsigned char)s[i]))
			s[i] = '_';
}

/* Transliterates utf8 (n bytes) into out (TRANSLIT_GROWTH * n + 1 bytes);
 * returns false if iconv cannot. */
static bool translit(const char *utf8, size_t n, char *out)
{
	iconv_t cd;
	locale_t old = (locale_t)0;
	char *in = (char *)utf8, *op = out;
	size_t il = n, ol = TRANSLIT_GROWTH * n;
	bool ok;

	pthread_once(&utf8_once, utf8_locale_init);
	if (utf8_locale != (locale_t)0)
		old = uselocale(utf8_locale);
	cd = iconv_open("ASCII//TRANSLIT", "UTF-8");
	ok = cd != (iconv_t)-1;
	/* A character's ASCII form is rarely longer than its UTF-8 ("€" is
	 * "EUR"); one that would not fit ends the name (E2BIG). */
	if (ok && iconv(cd, &in, &il, &op, &ol) == (size_t)-1 && errno != E2BIG)
		ok = false;
	if (cd != (iconv_t)-1)
		iconv_close(cd);
	if (utf8_locale != (locale_t)0)
		uselocale(old);
	*op = '\0';
	return ok && op > out;
}

char *disposition_ascii(const char *utf8)
{
	size_t n = strlen(utf8);
	char *out = xmalloc(TRANSLIT_GROWTH * n + 1);
	bool ascii = true;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)utf8[i] >= 0x80)
			ascii = false;
	if (ascii || !translit(utf8, n, out))
		memcpy(out, utf8, n + 1);
	replace_unsafe(out, strlen(out));
	return out;
}
