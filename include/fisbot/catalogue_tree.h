/*
 * Flattened listings of the catalogue: the files under a folder, at any
 * depth, in path order (bytes), paged by offset or by a path cursor
 * (keyset). Used for XEP-0329 listings with Result Set Management.
 * Functions return 1 (or 0 where they say) on success and -1 on a database
 * error (already logged).
 */
#ifndef FISBOT_CATALOGUE_TREE_H
#define FISBOT_CATALOGUE_TREE_H

#include <stdint.h>

#include "catalogue.h"
#include "fisbot_export.h"

/* Where a page of the tree starts. */
enum cat_tree_from {
	CAT_TREE_INDEX,  /* the offset-th file on */
	CAT_TREE_AFTER,  /* the files after a path */
	CAT_TREE_BEFORE, /* the files just before a path */
	CAT_TREE_END,    /* the last files */
};

/* Sets *n to the number of files under dir ("" for the whole share, no
 * trailing '/'). Returns 1 or -1. */
FB_EXPORT int catalogue_tree_count(struct catalogue *c, const char *dir,
                                   uint64_t *n);

/* Sets *n to the number of files under dir whose path sorts before path.
 * Returns 1 or -1. */
FB_EXPORT int catalogue_tree_rank(struct catalogue *c, const char *dir,
                                  const char *path, uint64_t *n);

/*
 * Fills out with up to limit files under dir, in ascending path order:
 * from the offset-th file (CAT_TREE_INDEX), after path (CAT_TREE_AFTER),
 * the limit files just before path (CAT_TREE_BEFORE) or the last limit
 * files (CAT_TREE_END). out->total is the number of files under dir.
 * Returns 1 or -1.
 */
FB_EXPORT int catalogue_tree_page(struct catalogue *c, const char *dir,
                                  enum cat_tree_from from, const char *path,
                                  uint64_t offset, unsigned limit,
                                  struct cat_page *out);

/*
 * Fills out with up to limit hashed files whose id is above after_id, in
 * ascending id order (a keyset cursor over the primary key: each page is
 * one short range scan, so the whole catalogue can be read in pages
 * without holding a read transaction open between them). out->total is
 * out->n. Returns 1 or -1.
 */
int catalogue_tree_after_id(struct catalogue *c, int64_t after_id,
                            unsigned limit, struct cat_page *out);

#endif
