/*
 * The per-guest file index as the scan library sees it: what each file
 * was (inode, size, times, content hash) when last found clean with the
 * current signatures.  A file whose metadata is unchanged is not read
 * again.  The daemon keeps it in its state database.
 */
#ifndef SENTINEL_FINDEX_H
#define SENTINEL_FINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"

struct findex_rec {
	uint64_t	 ino, size;
	int64_t		 mtime_s, mtime_ns, ctime_s, ctime_ns;
	unsigned char	 sha[VERDICT_HASH_LEN];
};

struct file_index {
	void	*p;
	/* PATH of tree FS as last found clean: 1 and *rec, or 0. */
	int	(*lookup)(void *, const char *, const char *, size_t,
		    struct findex_rec *);
	/* PATH of FS is clean now, as REC. */
	void	(*put)(void *, const char *, const char *, size_t,
		    const struct findex_rec *);
	/* FS was listed and read to the end: what was not put is gone. */
	void	(*tree_done)(void *, const char *);
};

#endif
