/*
 * What is on one guest filesystem tree before any file is read: every
 * name with its metadata (from the appliance's find and lstat), and what
 * the scan will do with it.  From it come the tar excludes that keep
 * unchanged, excluded and too large files out of the stream, the counts of
 * what was not scanned, and the per-guest file index.
 */
#ifndef SENTINEL_LISTING_H
#define SENTINEL_LISTING_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "findex.h"

enum plan {
	PLAN_FETCH,		/* regular file to read and scan */
	PLAN_LINK,		/* another name of a file listed earlier */
	PLAN_UNCHANGED,		/* as in the index: known clean, not read */
	PLAN_HASHES,		/* as in the index under other signatures:
				 * its hashes to check, not read (the scan
				 * makes it unchanged or to be read) */
	PLAN_EXCLUDED,		/* matches an exclude pattern */
	PLAN_TOO_LARGE,		/* over max_file_size */
	PLAN_UNREADABLE,	/* lstat failed in the appliance */
	PLAN_SPECIAL,		/* device node, FIFO or socket */
	PLAN_SYMLINK,		/* never followed; its target has its own name */
	PLAN_DIR,
	PLAN_TOO_DEEP,		/* path over LISTING_PATH_MAX: it and all
				 * below it not listed (set by the listing) */
};

/* The longest path the appliance can name (its PATH_MAX, less the NUL). */
#define LISTING_PATH_MAX	4095
/* What a tree's names may take in memory, all paths together, unless the
 * caller says otherwise ([scan] max_listing_size): past it the filesystem
 * fails with the reason, whatever the guest put there. */
#define LISTING_MAX_BYTES	(256UL * 1024 * 1024)

struct lentry {
	size_t		 off;		/* "/a/b" in names, NUL-terminated */
	uint32_t	 pathlen;
	uint32_t	 mode;		/* st_mode; 0 if lstat failed */
	uint64_t	 dev, ino, size, nlink;
	int64_t		 mtime_s, mtime_ns, ctime_s, ctime_ns;
	uint32_t	 leader;	/* first name of the same inode */
	uint8_t		 plan;
	uint8_t		 seen;		/* its data came in the stream */
	uint8_t		 has_sha;
	uint8_t		 clean;		/* scanned (or a cache hit): clean */
	int64_t		 verified_s;	/* sentineld's file index: when the
					 * file was last read and found clean
					 * (0: not known) */
	unsigned char	 sha[VERDICT_HASH_LEN];
	unsigned char	 md5[16], sha1[20];
	uint32_t	 classes;	/* sigsum.h; 0: not known */
	uint32_t	 changed;	/* sentineld's index: classes changed
					 * since it was found clean */
	uint8_t		 has_ext;	/* where its bytes lie (extents.h) */
	uint8_t		 own;		/* some in a clone's own ranges */
	uint8_t		 put;		/* its record went to the index */
	unsigned char	 ext[16];
	uint32_t	 found;		/* found infected: its detections are
					 * the listing's found[found - 1];
					 * 0: none (listing_set_found) */
};

struct listing {
	struct lentry	*e;
	size_t		 n, cap;
	char		*names;
	size_t		 nlen, ncap;
	uint32_t	*slots;		/* hash of paths: index + 1; 0 free */
	size_t		 nslots;
	char		*(*found)[SREC_NENGINES];	/* names, or NULL */
	size_t		 nfound, capfound;
};

/* The most files of one listing that keep the names of their detections;
 * past it a file found infected is not remembered as such (the next scan
 * reads it again: slower, never wrong). */
#define LISTING_MAX_FOUND	10000

/* Adds PATH ("/a/b", LEN bytes) with META's metadata; its index, or -1
 * when out of memory.  A path listed twice keeps its first entry. */
long		 listing_add(struct listing *, const char *, size_t,
		    const struct lentry *);
long		 listing_find(const struct listing *, const char *, size_t);
/* The name of entry I's inode whose data is read: its leader, unless the
 * leader is planned out (excluded, too deep), where the first name after
 * it that is not becomes the leader instead (and the planned-out one
 * points to it).  Call in listing order, once the names before I are
 * planned and I is neither excluded nor too deep. */
size_t		 listing_lead(struct listing *, size_t);
const char	*listing_path(const struct listing *, size_t);
/* The index of entry I's parent directory, or -1 at the top. */
long		 listing_parent(const struct listing *, size_t);
/* Points every further name of a hard-linked inode at its first name. */
int		 listing_link_inodes(struct listing *);
void		 listing_free(struct listing *);

/* An entry's metadata and hash as a file index record, and back (the
 * rest of the entry zeroed); and whether an entry is as REC recorded it. */
void		 lentry_to_rec(const struct lentry *, struct findex_rec *);
void		 lentry_from_rec(struct lentry *, const struct findex_rec *);
int		 lentry_unchanged(const struct lentry *,
		    const struct findex_rec *);
/* Entry I's detections from REC's found (nothing if REC has none): 0, or
 * -1 when out of memory or past LISTING_MAX_FOUND (then entry I has
 * none).  And entry I's detections into REC's found ("" each if none). */
int		 listing_set_found(struct listing *, size_t,
		    const struct findex_rec *);
void		 listing_get_found(const struct listing *, size_t,
		    struct findex_rec *);

/* True if PATH matches one of the glob patterns ('*' matches '/' too). */
int		 path_excluded(const char *, char *const *, size_t);
/* As path_excluded, of a path as the guest sees it on a filesystem with
 * Windows' DRIVE letter (0: none): patterns "C:\\Users\\*" match the path
 * in Windows' form, backslashes literal; the others the path itself.
 * CASEFOLD: names that ignore case (NTFS, FAT). */
int		 path_excluded_as(const char *, char, int, char *const *,
		    size_t);
/* PATH (LEN bytes) in Windows' form into OUT (LEN + 3 bytes):
 * "C:\\Users\\x.exe" for "/Users/x.exe". */
void		 windows_path(char, const char *, size_t, char *);
/* Whether PATH is the root's pagefile.sys, hiberfil.sys or swapfile.sys,
 * in any case: Windows' memory on disk. */
int		 path_is_memory(const char *, size_t);

/*
 * The directory tree of a listing, and what reading it takes: NEEDS, an
 * entry with something to read at or below it; PURE, a directory with
 * nothing at or below it to leave out (it can be streamed whole, which
 * tar does fast at any depth; tar's exclude matching costs depth times
 * entries, so excludes are only ever given for one directory level).
 * Index -1 is the top of the tree.
 */
struct ltree {
	long		*parent;	/* -1: at the top */
	long		*first;		/* first child, -1: none */
	long		*next;		/* next sibling, -1: none */
	uint8_t		*needs, *pure;
	long		 top_first;
	uint8_t		 top_needs, top_pure;
};

int		 ltree_build(const struct listing *, struct ltree *);
void		 ltree_free(struct ltree *);
/* Entry I's own name (after its parent's path) and its length. */
const char	*ltree_name(const struct listing *, const struct ltree *,
		    size_t, size_t *);
/* "./NAME" with tar's pattern characters escaped; NULL if out of memory
 * or if NAME holds a newline (tar's exclude file cannot). */
char		*tar_pattern(const char *, size_t);

#endif
