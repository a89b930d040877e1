/*
 * Unit tests of the ASCII fallback of Content-Disposition file names
 * (http/disposition.c): transliteration whatever the process locale, and
 * nothing a quoted string must not hold.
 */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/disposition.h"

/* Asserts that the fallback of in is want. */
static void check(const char *in, const char *want)
{
	char *out = disposition_ascii(in);

	assert_string_equal(out, want);
	free(out);
}

/* Under the "C" locale, as the daemon runs. */
static void test_translit(void **state)
{
	(void)state;
	check("Caf\xc3\xa9 \xe2\x80\x93 Unicode.txt", "Cafe - Unicode.txt");
	check("na\xc3\xafve r\xc3\xa9sum\xc3\xa9.pdf", "naive resume.pdf");
	check("Stra\xc3\x9f"
	      "e \xe2\x82\xac.txt",
	      "Strasse EUR.txt");
	/* No ASCII form: one '_' each, the extension kept. */
	check("\xe6\x97\xa5\xe6\x9c\xac.txt", "__.txt");
}

/* ASCII names pass, but for what a quoted string must not hold. */
static void test_ascii(void **state)
{
	(void)state;
	check("plain name (1).txt", "plain name (1).txt");
	check("a\"b\\c%d?e.txt", "a_b_c_d_e.txt");
	check("", "");
}

/* The same under a UTF-8 process locale. */
static void test_utf8_locale(void **state)
{
	(void)state;
	if (setlocale(LC_ALL, "C.UTF-8") == NULL)
		skip();
	check("Caf\xc3\xa9 \xe2\x80\x93 Unicode.txt", "Cafe - Unicode.txt");
	setlocale(LC_ALL, "C");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_translit),
	    cmocka_unit_test(test_ascii),
	    cmocka_unit_test(test_utf8_locale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
