/* The exclude globs: one fnmatch per path component, with one set of
 * flags (none). */
#include "exclude.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot/alloc.h"

/* The fnmatch flags of every exclude glob (see exclude.h). */
#define EXCLUDE_FNM_FLAGS 0

bool exclude_name(const struct strlist *globs, const char *name)
{
	for (size_t i = 0; i < globs->n; i++)
		if (fnmatch(globs->v[i], name, EXCLUDE_FNM_FLAGS) == 0)
			return true;
	return false;
}

bool exclude_path(const struct strlist *globs, const char *path)
{
	const char *p = path;
	char buf[256];

	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		char *name = len < sizeof(buf) ? buf : xmalloc(len + 1);
		bool hit;

		memcpy(name, p, len);
		name[len] = '\0';
		hit = exclude_name(globs, name);
		if (name != buf)
			free(name);
		if (hit)
			return true;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return false;
}

const char *exclude_glob_problem(const char *glob)
{
	int rc;

	if (strchr(glob, '/') != NULL)
		return "contains '/' (each glob matches one path component)";
	rc = fnmatch(glob, "", EXCLUDE_FNM_FLAGS);
	if (rc != 0 && rc != FNM_NOMATCH)
		return "is not a valid glob";
	return NULL;
}
