/* Unit tests of the chat command-line parser (cmdline.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chat/cmdline.h"
#include "fisbot/alloc.h"

/* Parses body (a C string) with prefix "!". */
static bool parse(const char *body, bool in_room, struct cmdline *c)
{
	return cmdline_parse(body, strlen(body), "!", in_room, c);
}

static void test_prefix_rules(void **state)
{
	struct cmdline c;

	/* In rooms the prefix is required. */
	assert_false(parse("help", true, &c));
	assert_true(parse("!help", true, &c));
	assert_int_equal(c.trigger, CMDLINE_PREFIX);
	assert_string_equal(c.name, "help");
	assert_int_equal(c.argc, 1);
	assert_string_equal(c.argv[0], "help");
	assert_null(c.argv[1]);
	assert_string_equal(c.args, "");
	cmdline_clear(&c);
	/* Elsewhere it is optional. */
	assert_true(parse("help", false, &c));
	assert_int_equal(c.trigger, CMDLINE_BARE);
	cmdline_clear(&c);
	assert_true(parse("  help  ", false, &c));
	assert_string_equal(c.name, "help");
	cmdline_clear(&c);
	assert_true(parse("!help", false, &c));
	assert_int_equal(c.trigger, CMDLINE_PREFIX);
	cmdline_clear(&c);
	/* The prefix must be first and the name must follow it at once. */
	assert_false(parse(" !help", true, &c));
	assert_false(parse("! help", true, &c));
	assert_false(parse("!", true, &c));
	assert_false(parse("!!", true, &c));
	assert_false(parse("!?", true, &c));
	assert_false(parse("hello, world", false, &c));
	/* A multi-byte prefix. */
	assert_true(cmdline_parse("fb:get 1", 8, "fb:", true, &c));
	assert_string_equal(c.name, "get");
	cmdline_clear(&c);
	assert_false(cmdline_parse("fb get 1", 8, "fb:", true, &c));
	assert_false(cmdline_parse("fb: get 1", 9, "fb:", true, &c));
}

static void test_at_trigger(void **state)
{
	struct cmdline c;

	assert_true(parse("@find song ogg", true, &c));
	assert_int_equal(c.trigger, CMDLINE_AT);
	assert_string_equal(c.name, "find");
	assert_int_equal(c.argc, 3);
	assert_string_equal(c.args, "song ogg");
	cmdline_clear(&c);
	assert_false(parse("@ find", true, &c));
	assert_false(parse("@alice: hi", true, &c));
	/* A prefix of "@" is just the prefix. */
	assert_true(cmdline_parse("@find x", 7, "@", true, &c));
	assert_int_equal(c.trigger, CMDLINE_PREFIX);
	cmdline_clear(&c);
}

static void test_quotes(void **state)
{
	struct cmdline c;

	assert_true(parse("!get \"a b\"  c\td\"e f\" \"\"", true, &c));
	assert_int_equal(c.argc, 5);
	assert_string_equal(c.argv[1], "a b");
	assert_string_equal(c.argv[2], "c");
	assert_string_equal(c.argv[3], "de f");
	assert_string_equal(c.argv[4], "");
	assert_string_equal(c.args, "\"a b\"  c\td\"e f\" \"\"");
	assert_null(c.error);
	cmdline_clear(&c);
	assert_true(parse("!get \"a b", true, &c));
	assert_string_equal(c.error, "unterminated quote");
	assert_string_equal(c.name, "get");
	cmdline_clear(&c);
	/* Newlines separate arguments like spaces. */
	assert_true(parse("!get a\nb\r\n", true, &c));
	assert_int_equal(c.argc, 3);
	assert_string_equal(c.args, "a\nb");
	cmdline_clear(&c);
}

static void test_limits(void **state)
{
	struct cmdline c;
	char *s = xmalloc(CMDLINE_MAX + 100);

	/* Exactly CMDLINE_MAX bytes is fine; one more is too long. */
	memset(s, 'x', CMDLINE_MAX);
	memcpy(s, "!echo ", 6);
	s[CMDLINE_MAX] = '\0';
	assert_true(parse(s, true, &c));
	assert_null(c.error);
	assert_int_equal(c.argc, 2);
	assert_int_equal(strlen(c.argv[1]), CMDLINE_MAX - 6);
	cmdline_clear(&c);
	s[CMDLINE_MAX] = 'x';
	s[CMDLINE_MAX + 1] = '\0';
	assert_true(parse(s, true, &c));
	assert_string_equal(c.error, "command too long");
	assert_string_equal(c.name, "echo");
	cmdline_clear(&c);
	free(s);

	/* Too many arguments. */
	s = xmalloc(2 * (CMDLINE_MAX_ARGS + 2) + 8);
	strcpy(s, "!e");
	for (int i = 0; i < CMDLINE_MAX_ARGS; i++)
		strcat(s, " a");
	assert_true(parse(s, true, &c));
	assert_null(c.error);
	assert_int_equal(c.argc, CMDLINE_MAX_ARGS + 1);
	cmdline_clear(&c);
	strcat(s, " a");
	assert_true(parse(s, true, &c));
	assert_string_equal(c.error, "too many arguments");
	cmdline_clear(&c);
	free(s);

	/* Names: at most CMDLINE_MAX_NAME bytes. */
	assert_true(parse("!abcdefghijabcdefghijabcdefghij12", true, &c));
	cmdline_clear(&c);
	assert_false(parse("!abcdefghijabcdefghijabcdefghij123", true, &c));
}

static void test_bad_input(void **state)
{
	struct cmdline c;

	assert_false(parse("", false, &c));
	assert_false(parse("   \n\t", false, &c));
	/* Invalid UTF-8 is never a command. */
	assert_false(parse("!get \xff", true, &c));
	assert_false(parse("!get \xc0\xaf", true, &c));
	assert_false(parse("get \xed\xa0\x80", false, &c));
	/* Valid UTF-8 arguments are kept as they are. */
	assert_true(parse("!get caf\xc3\xa9", true, &c));
	assert_string_equal(c.argv[1], "caf\xc3\xa9");
	cmdline_clear(&c);
	/* A NUL byte inside the length. */
	assert_true(cmdline_parse("!get a\0b", 8, "!", true, &c) ||
	            c.name == NULL);
	if (c.name != NULL)
		assert_non_null(c.error);
	cmdline_clear(&c);
	/* Non-ASCII names are not commands. */
	assert_false(parse("!caf\xc3\xa9", true, &c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prefix_rules),
	    cmocka_unit_test(test_at_trigger),
	    cmocka_unit_test(test_quotes),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
