/*
 * The exclude globs of the share ([share] exclude): one matcher for every
 * place that decides whether a path is served (the reconcile walk, the
 * watcher, the indexer, upload names) or checks it (the configuration).
 *
 * A glob matches one path component, never a '/': a path is excluded when
 * any of its components matches any glob. Globs are fnmatch(3) patterns
 * without flags: '*', '?' and '[...]' match a leading dot like any other
 * character (as in .gitignore or rsync's excludes: "*.tmp" hides
 * ".notes.tmp" too), and a backslash quotes the next character. Hidden
 * files and folders are excluded by the glob ".*", in the default list.
 */
#ifndef FISBOT_EXCLUDE_H
#define FISBOT_EXCLUDE_H

#include <stdbool.h>

#include "fisbot/strlist.h"

/* Returns true if the path component name matches one of the globs. */
bool exclude_name(const struct strlist *globs, const char *name);

/* Returns true if a component of the relative path ('/'-separated, ""
 * for the root: never excluded) matches one of the globs. */
bool exclude_path(const struct strlist *globs, const char *path);

/* Returns NULL if glob can be an exclude glob, else why not (a phrase for
 * a message: "contains '/' (...)", "is not a valid glob"). */
const char *exclude_glob_problem(const char *glob);

#endif
