#include "share_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fisbot/alloc.h"

int share_dir_make(const char *name, char dir[SHARE_DIR_MAX],
                   char share[PATH_MAX], char db[PATH_MAX])
{
	if (snprintf(dir, SHARE_DIR_MAX, "/tmp/fisbot-%s-XXXXXX", name) >=
	    SHARE_DIR_MAX)
		return -1;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(share, PATH_MAX, "%s/share", dir);
	if (db != NULL)
		snprintf(db, PATH_MAX, "%s/fisbot.db", dir);
	return mkdir(share, 0700);
}

int share_dir_done(const char *dir, int rc)
{
	char *cmd;

	if (rc != 0)
		return rc;
	cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	free(cmd);
	return rc;
}
