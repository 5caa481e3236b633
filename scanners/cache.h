/*
 * The verdict cache as the scan library sees it: whether a content hash is
 * known clean for the engine's signature database, and a way to record a
 * new clean verdict.  Detections are never cached: an infected file is
 * scanned every time.  The daemon provides the implementation (memory
 * plus the state database); NULL means no cache.
 */
#ifndef SENTINEL_CACHE_H
#define SENTINEL_CACHE_H

#define VERDICT_HASH_LEN	32	/* sha256 */

struct verdict_cache {
	void	*p;
	/* 1 if the hash is known clean; called from scanning threads. */
	int	(*is_clean)(void *, const unsigned char *);
	/* Records a clean verdict; called from scanning threads. */
	void	(*add_clean)(void *, const unsigned char *);
};

#endif
