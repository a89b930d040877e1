/*
 * The temporary folder of the indexer's end-to-end tests (test_faults,
 * test_fts_merge, test_pipe_bound, test_watch): made before the tests,
 * removed after them if every one passed (kept to look at otherwise).
 * Linked into those tests only.
 */
#ifndef FISBOT_SHARE_DIR_H
#define FISBOT_SHARE_DIR_H

#include <limits.h>

#define SHARE_DIR_MAX 64 /* /tmp/fisbot-NAME-XXXXXX, NAME a short word */

/* Makes /tmp/fisbot-NAME-XXXXXX into dir and its share folder into
 * share; sets db (if not NULL) to DIR/fisbot.db. Returns 0, or -1. */
int share_dir_make(const char *name, char dir[SHARE_DIR_MAX],
                   char share[PATH_MAX], char db[PATH_MAX]);
/* Removes dir if rc, the tests' result, is 0. Returns rc, or 1 if dir
 * could not be removed. */
int share_dir_done(const char *dir, int rc);

#endif
