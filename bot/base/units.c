/* Parsers for durations and sizes. */
#include "fisbot/units.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

/* Parses the leading decimal digits of s into *v; returns the rest of s, or
 * NULL if there are no digits or the value overflows. */
static const char *parse_number(const char *s, uint64_t *v)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return NULL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return NULL;
	return end;
}

/* Stores v * mul in *out; returns -1 on overflow. */
static int mul_checked(uint64_t v, uint64_t mul, uint64_t *out)
{
	if (mul != 0 && v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int units_parse_duration(const char *s, uint64_t *ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} table[] = {
	    {"", 1000},     {"ms", 1},       {"s", 1000},      {"m", 60000},
	    {"h", 3600000}, {"d", 86400000}, {"w", 604800000},
	};
	const char *rest;
	uint64_t v;

	if (s == NULL || (rest = parse_number(s, &v)) == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcasecmp(rest, table[i].suffix) == 0)
			return mul_checked(v, table[i].ms, ms);
	return -1;
}

int units_parse_size(const char *s, uint64_t *bytes)
{
	static const char letters[] = "KMGT";
	const char *rest;
	uint64_t v, mul = 1;

	if (s == NULL || (rest = parse_number(s, &v)) == NULL)
		return -1;
	if (*rest != '\0' && strcasecmp(rest, "B") != 0) {
		int shift = 0;

		for (int i = 0; letters[i] != '\0'; i++)
			if (toupper((unsigned char)*rest) == letters[i])
				shift = 10 * (i + 1);
		if (shift == 0)
			return -1;
		rest++;
		if (*rest != '\0' && strcasecmp(rest, "B") != 0 &&
		    strcasecmp(rest, "iB") != 0)
			return -1;
		mul = (uint64_t)1 << shift;
	}
	return mul_checked(v, mul, bytes);
}
