/*
 * The watcher. Design: every listed folder of the share gets an inotify
 * watch (libinotifytools keeps the wd -> folder name table; folder names
 * end in '/'). Events become facts for the sink (the indexer's): "look at
 * this path" or "this was renamed to that"; the indexer checks the disk
 * itself, so the watcher never needs to be exact about what kind of change
 * it saw.
 *
 * - A new folder (created or moved in) is watched first, recursively, and
 *   only then reported: the indexer's scan of it then sees every file,
 *   including those created before the watch existed.
 * - Renames: IN_MOVED_FROM is paired with the IN_MOVED_TO that follows it
 *   with the same cookie; the kernel queues the two together. A
 *   MOVED_FROM without a partner left the share (a removal), a MOVED_TO
 *   without one came from outside (an addition).
 * - IN_Q_OVERFLOW: events were lost; every folder is watched again and the
 *   indexer reconciles the whole share.
 * - A folder's attributes changed (IN_ATTRIB, e.g. chmod): a folder the bot
 *   could not read had no watch (inotify needs read access, and the walk
 *   skips what the bot may not read); once readable it is watched like a
 *   new one. Either way the indexer is told: a folder made unreadable
 *   leaves the catalogue.
 * - ENOSPC from inotify_add_watch (fs.inotify.max_user_watches): logged once,
 *   and the indexer falls back to a periodic full reconcile.
 * Symbolic links are never watched (IN_DONT_FOLLOW | IN_ONLYDIR, and the
 * walk skips links). Watches of a folder moved out of the share linger
 * until it is deleted; their events name paths that the indexer finds
 * missing or excluded, so they are harmless.
 */
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <inotifytools/inotify.h>
#include <inotifytools/inotifytools.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/beneath.h"
#include "base/exclude.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "scan.h"

#define WATCH_EVENTS                                                           \
	(IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |              \
	 IN_MOVED_TO | IN_ATTRIB | IN_DONT_FOLLOW | IN_ONLYDIR |               \
	 IN_EXCL_UNLINK)
#define FALLBACK_RESCAN_MS 60000

struct watch {
	char *root; /* absolute, without a trailing '/' */
	const struct strlist *exclude;
	struct watch_sink sink;
	int rootfd;
	pthread_t thread;
	atomic_bool stopping, paused, parked;
	atomic_uint_fast64_t overflows;
	bool limit_logged;
};

/* Adds a watch on the folder rel ("" for the root). Returns 0, or -1 if
 * the watch limit is reached. */
static int add_one(struct watch *w, const char *rel)
{
	char *abs = rel[0] ? xasprintf("%s/%s/", w->root, rel)
	                   : xasprintf("%s/", w->root);
	int rc = 0;

	if (!inotifytools_watch_file(abs, WATCH_EVENTS)) {
		int err = inotifytools_error();

		if (err == ENOSPC) {
			if (!w->limit_logged)
				log_errorx(
				    "inotify watch limit reached "
				    "(fs.inotify.max_user_watches = %d): new "
				    "files are found by a full rescan every "
				    "%d s instead",
				    inotifytools_get_max_user_watches(),
				    FALLBACK_RESCAN_MS / 1000);
			w->limit_logged = true;
			w->sink.periodic_rescan(w->sink.arg,
			                        FALLBACK_RESCAN_MS);
			rc = -1;
		} else if (err != ENOENT && err != ENOTDIR && err != ELOOP) {
			errno = err;
			log_warn("cannot watch \"%s\"", rel);
		}
	}
	free(abs);
	return rc;
}

/* Watches the folder rel and every listed folder under it. */
static void add_tree(struct watch *w, const char *rel)
{
	struct scan_list l = {0};

	if (add_one(w, rel) == -1)
		return;
	if (scan_walk_dirs(w->rootfd, rel, w->exclude, &l) == -1)
		return;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].is_dir && add_one(w, l.v[i].path) == -1)
			break;
	scan_list_free(&l);
}

/* Returns the share-relative path of an event (the caller frees it), or
 * NULL if its watch is unknown. */
static char *event_path(struct watch *w, struct inotify_event *ev)
{
	const char *dir = inotifytools_filename_from_wd(ev->wd);
	size_t n = strlen(w->root);
	const char *rel;

	if (dir == NULL || strncmp(dir, w->root, n) != 0 || dir[n] != '/')
		return NULL;
	rel = dir + n + 1;
	return xasprintf("%s%s", rel, ev->name);
}

/* Handles an overflow: watches everything again, reconciles. */
static void overflowed(struct watch *w)
{
	atomic_fetch_add(&w->overflows, 1);
	log_warnx("inotify queue overflowed: reconciling the whole share");
	add_tree(w, "");
	w->sink.rescan(w->sink.arg);
}

/* Tells libinotifytools that folder from is now to (both relative). */
static void rename_watches(struct watch *w, const char *from, const char *to)
{
	char *a = xasprintf("%s/%s/", w->root, from);
	char *b = xasprintf("%s/%s/", w->root, to);

	inotifytools_replace_filename(a, b);
	free(a);
	free(b);
}

/* Handles one event; next is the event after it when already read (for
 * rename pairing). Returns true if next was consumed. */
static bool handle(struct watch *w, struct inotify_event *ev,
                   struct inotify_event *next)
{
	bool isdir = (ev->mask & IN_ISDIR) != 0, used = false;
	char *path, *to = NULL;

	if (ev->mask & IN_Q_OVERFLOW) {
		overflowed(w);
		return false;
	}
	/* Events about a watched folder itself (no name) are reported again
	 * by its parent's watch, with a name. */
	if ((ev->mask & IN_IGNORED) || ev->len == 0 || ev->name[0] == '\0')
		return false;
	path = event_path(w, ev);
	if (path == NULL)
		return false;
	if (isdir && (ev->mask & ~(uint32_t)IN_ISDIR) == IN_ATTRIB) {
		/* Permissions may have changed: watch it if readable (again:
		 * folders made under it while it was not could not be). */
		if (!exclude_path(w->exclude, path) &&
		    beneath_readable(w->rootfd, path, true))
			add_tree(w, path);
		w->sink.attrib(w->sink.arg, path);
	} else if (ev->mask & IN_MOVED_FROM) {
		if (next != NULL && (next->mask & IN_MOVED_TO) &&
		    next->cookie == ev->cookie)
			to = event_path(w, next);
		used = next != NULL && to != NULL;
		if (to != NULL) {
			if (isdir) {
				rename_watches(w, path, to);
				/* Watch anything the new name no longer
				 * excludes (e.g. a hidden folder renamed). */
				if (!exclude_path(w->exclude, to))
					add_tree(w, to);
			}
			w->sink.rename(w->sink.arg, path, to);
		} else {
			w->sink.path(w->sink.arg, path);
		}
	} else if (isdir && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
		if (!exclude_path(w->exclude, path))
			add_tree(w, path);
		w->sink.path(w->sink.arg, path);
	} else if (ev->mask & (IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
	                       IN_MOVED_TO | IN_ATTRIB)) {
		w->sink.path(w->sink.arg, path);
	}
	free(path);
	free(to);
	return used;
}

/* Copies an event (libinotifytools reuses its buffer). */
static struct inotify_event *event_copy(const struct inotify_event *ev)
{
	struct inotify_event *c = xmalloc(sizeof(*ev) + ev->len + 1);

	memcpy(c, ev, sizeof(*ev) + ev->len);
	((char *)(c + 1))[ev->len] = '\0';
	return c;
}

/* The watcher thread. */
static void *watch_main(void *arg)
{
	struct watch *w = arg;
	struct inotify_event *held = NULL;

	while (!atomic_load(&w->stopping)) {
		struct inotify_event *ev, *cur;

		atomic_store(&w->parked, atomic_load(&w->paused));
		if (atomic_load(&w->paused)) {
			struct timespec ts = {0, 10 * 1000000};

			nanosleep(&ts, NULL);
			continue;
		}
		if (held != NULL) {
			cur = held;
			held = NULL;
		} else {
			ev = inotifytools_next_event(1);
			if (ev == NULL)
				continue;
			cur = event_copy(ev);
		}
		/* A MOVED_FROM looks at the event right behind it (queued
		 * with it by the kernel; at most a second's wait when it
		 * left the share). libinotifytools has no non-blocking
		 * read: 0 and negative timeouts both block. */
		if ((cur->mask & IN_MOVED_FROM) != 0) {
			ev = inotifytools_next_event(1);
			if (ev != NULL)
				held = event_copy(ev);
		}
		if (handle(w, cur, held)) {
			free(held);
			held = NULL;
		}
		free(cur);
	}
	free(held);
	return NULL;
}

struct watch *watch_start(const char *root, const struct strlist *exclude,
                          const struct watch_sink *sink, char **cause)
{
	struct watch *w = xcalloc(1, sizeof(*w));
	size_t n;
	int err;

	w->root = xstrdup(root);
	n = strlen(w->root);
	while (n > 1 && w->root[n - 1] == '/')
		w->root[--n] = '\0';
	w->exclude = exclude;
	w->sink = *sink;
	w->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->rootfd == -1) {
		*cause = xasprintf("share \"%s\": %s", root, strerror(errno));
		goto fail;
	}
	if (!inotifytools_initialize()) {
		*cause = xasprintf("cannot start inotify: %s",
		                   strerror(inotifytools_error()));
		goto fail;
	}
	add_tree(w, "");
	err = pthread_create(&w->thread, NULL, watch_main, w);
	if (err != 0) {
		*cause =
		    xasprintf("cannot start the watcher: %s", strerror(err));
		inotifytools_cleanup();
		goto fail;
	}
	w->sink.rescan(w->sink.arg);
	return w;
fail:
	if (w->rootfd != -1)
		close(w->rootfd);
	free(w->root);
	free(w);
	return NULL;
}

void watch_stop(struct watch *w)
{
	if (w == NULL)
		return;
	atomic_store(&w->stopping, true);
	pthread_join(w->thread, NULL);
	inotifytools_cleanup();
	close(w->rootfd);
	free(w->root);
	free(w);
}

void watch_pause(struct watch *w, bool paused)
{
	atomic_store(&w->paused, paused);
	/* Pausing returns once the thread no longer reads. */
	while (paused && !atomic_load(&w->parked)) {
		struct timespec ts = {0, 5 * 1000000};

		nanosleep(&ts, NULL);
	}
}

uint64_t watch_overflows(struct watch *w)
{
	return atomic_load(&w->overflows);
}
