/*
 * The hash pool: worker threads that read files of the share and compute
 * their SHA-256 (OpenSSL EVP) and, when cheap, their media type (from the
 * extension or the first bytes, mediatype.c); or, for a job marked
 * type_only, only the media type, with libmagic if need be. Workers never
 * touch the catalogue: each result is handed to the done callback, called
 * on the worker's thread, which must take it over quickly (the indexer
 * queues it for its own thread).
 */
#ifndef FISBOT_HASHPOOL_H
#define FISBOT_HASHPOOL_H

#include <stdbool.h>
#include <stdint.h>

enum hash_status {
	HASH_OK,        /* sha256 and media_type are set (see below) */
	HASH_CHANGED,   /* the file differs from the job or changed meanwhile */
	HASH_GONE,      /* the file is no longer there */
	HASH_FAILED,    /* it could not be read (logged) */
	HASH_DENIED,    /* this process may not read it (permissions) */
	HASH_CANCELLED, /* never started: hashpool_cancel */
};

/* A job and, once done, its result. */
struct hash_job {
	int64_t id;
	char *path; /* relative to the share */
	uint64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns; /* 0: not checked */
	/* Only the media type, from the first bytes and libmagic: no hash. */
	bool type_only;
	/* Result. */
	enum hash_status status;
	unsigned char sha256[32];
	/* NULL after a hash when neither the name nor the first bytes tell
	 * (libmagic's, asked by a type_only job later); always set by a
	 * type_only job. */
	char *media_type;
};

void hash_job_free(struct hash_job *job);

struct hashpool;

/* Starts threads workers (0: one per online core) hashing beneath rootfd
 * (which must stay open). done takes the finished job over. Returns NULL
 * with *cause set on failure. */
struct hashpool *hashpool_start(int rootfd, unsigned threads,
                                void (*done)(struct hash_job *job, void *arg),
                                void *arg, char **cause);

/* Queues a job (taken over). */
void hashpool_submit(struct hashpool *p, struct hash_job *job);

/* Hands every queued job that no worker has started back to done, as
 * HASH_CANCELLED (on the calling thread); jobs being hashed finish. */
void hashpool_cancel(struct hashpool *p);

/* Stops the workers once their current file is done; queued jobs are
 * dropped. Frees p. */
void hashpool_stop(struct hashpool *p);

/* Returns the number of worker threads. */
unsigned hashpool_threads(const struct hashpool *p);

#endif
