/*
 * The verdict cache as the scan library sees it: whether a content hash is
 * known clean for the engine's signature database, and a way to record a
 * new clean verdict.  Detections are never cached: an infected file is
 * scanned every time.  The daemon provides the implementation (memory
 * plus the state database); NULL means no cache.
 */
#ifndef SENTINEL_CACHE_H
#define SENTINEL_CACHE_H

#include <stdint.h>

#define VERDICT_HASH_LEN	32	/* sha256 */

/* Both are called from scanning threads.  The classes are those of
 * sigsum.h a file of that content is subject to (0: not known): a file
 * known clean by the cache is not typed by the engine, and its index
 * record takes them from here. */
struct verdict_cache {
	void	*p;
	/* 1 if the hash is known clean, and its classes in *classes. */
	int	(*is_clean)(void *, const unsigned char *, uint32_t *);
	/* Records a clean verdict, and the content's classes. */
	void	(*add_clean)(void *, const unsigned char *, uint32_t);
};

#endif
