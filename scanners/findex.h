/*
 * The per-guest file index as the scan library sees it: what each file
 * was (inode, size, times, content hash) when last read, and what was
 * found in it: nothing, or the signatures that named it.  A file whose
 * metadata is unchanged is not read again (one found infected, only under
 * the same signatures: its detections are reported again).  The daemon keeps it in its state database
 * (scheduler/indexstore.c); the scanner child asks for it over its
 * channel (scanner/child.c).
 */
#ifndef SENTINEL_FINDEX_H
#define SENTINEL_FINDEX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cache.h"
#include "srec.h"

struct findex_rec {
	uint64_t	 ino, size;
	int64_t		 mtime_s, mtime_ns, ctime_s, ctime_ns;
	unsigned char	 sha[VERDICT_HASH_LEN];
	unsigned char	 md5[16], sha1[20];	/* for hash signatures */
	uint32_t	 classes;	/* sigsum.h: what it is subject to;
					 * 0: not known (every class) */
	uint32_t	 changed;	/* from sentineld: the classes whose
					 * signatures changed since it was
					 * found clean (0: same signatures) */
	uint8_t		 has_ext;	/* ext: a hash of where its bytes lie
					 * on the guest's disks (extents.h) */
	unsigned char	 ext[16];
	/* A file found infected: the signature each engine (enum
	 * engine_kind) named, "" for none; all "" for a clean file.  Only
	 * ever trusted under the same signatures (changed == 0). */
	char		 found[SREC_NENGINES][SREC_NAME_MAX];
};

/* Whether REC is of a file found infected. */
static inline int
findex_rec_found(const struct findex_rec *rec)
{
	int k;

	for (k = 0; k < SREC_NENGINES; k++)
		if (rec->found[k][0] != '\0')
			return 1;
	return 0;
}

/* The record as it crosses between a scanner and sentineld (srec.h). */
static inline void
findex_rec_from_srec(struct findex_rec *to, const struct srec_rec *from)
{
	to->ino = from->ino;
	to->size = from->size;
	to->mtime_s = from->mtime_s;
	to->mtime_ns = from->mtime_ns;
	to->ctime_s = from->ctime_s;
	to->ctime_ns = from->ctime_ns;
	memcpy(to->sha, from->sha, sizeof(to->sha));
	memcpy(to->md5, from->md5, sizeof(to->md5));
	memcpy(to->sha1, from->sha1, sizeof(to->sha1));
	to->classes = from->classes;
	to->changed = from->changed;
	to->has_ext = from->has_ext;
	memcpy(to->ext, from->ext, sizeof(to->ext));
	memcpy(to->found, from->found, sizeof(to->found));
}

static inline void
findex_rec_to_srec(struct srec_rec *to, const struct findex_rec *from)
{
	to->ino = from->ino;
	to->size = from->size;
	to->mtime_s = from->mtime_s;
	to->mtime_ns = from->mtime_ns;
	to->ctime_s = from->ctime_s;
	to->ctime_ns = from->ctime_ns;
	memcpy(to->sha, from->sha, sizeof(to->sha));
	memcpy(to->md5, from->md5, sizeof(to->md5));
	memcpy(to->sha1, from->sha1, sizeof(to->sha1));
	to->classes = from->classes;
	to->changed = from->changed;
	to->has_ext = from->has_ext;
	memcpy(to->ext, from->ext, sizeof(to->ext));
	memcpy(to->found, from->found, sizeof(to->found));
}

/* A lookup's flags: the tree's filesystem lets a user set every time of a
 * file, ctime too (NTFS, FAT): [scan] settable_times_max_age bounds the
 * trust. */
#define FINDEX_Q_SETTABLE	0x01

#define FINDEX_OWN	1
#define FINDEX_BASE	2

struct file_index {
	void	*p;
	/* PATH of tree FS as last found clean: FINDEX_OWN and *rec, or 0;
	 * with BASE (a linked clone's scan), also FINDEX_BASE and *base
	 * when the base's index has it.  FLAGS: FINDEX_Q_*. */
	int	(*lookup)(void *, const char *, const char *, size_t,
		    struct findex_rec *, struct findex_rec *, int);
	/* PATH of FS is as REC now: clean, or infected (REC's found). */
	void	(*put)(void *, const char *, const char *, size_t,
		    const struct findex_rec *);
	/* FS was listed and read to the end: what was not put is gone. */
	void	(*tree_done)(void *, const char *);
};

#endif
