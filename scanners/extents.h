/*
 * Where a tree's files lie on the guest's disks, from sentinel-fiemap run
 * in the appliance (FIEMAP of each regular file, mapped through the
 * partition to the disk).  Each file gets a hash of its size and its
 * extents on the disk ("ext"): two files with the same ext have the same
 * bytes wherever the disk's blocks they lie on are the same.  For a linked
 * clone, a file is also marked `own` when any of its bytes lie in a range
 * the clone's overlay holds: only such a file can differ from the base's
 * file with the same ext.
 */
#ifndef SENTINEL_EXTENTS_H
#define SENTINEL_EXTENTS_H

#include <stddef.h>

#include <guestfs.h>

#include "listing.h"
#include "scan.h"

struct extents_run {
	guestfs_h	*uploaded;	/* the appliance that has the program */
	size_t		 files, placed, uncertain, own;
	/* The index of the drive named ("hd0"), or -1. */
	long		(*disk_index)(void *, const char *);
	void		*arg;
};

/* The index of the drive sentinel-fiemap names NAME: "hdN" is the N-th
 * drive libguestfs added (qemu's device id, in the appliance's
 * /dev/disk/by-id), N < 1000; -1 for any other name. */
long		 extents_drive_index(void *, const char *);

/* Learns where the regular files of L lie, for the tree mounted on the
 * appliance's "/": sets has_ext, ext and (with OWN, NDISKS maps) own of
 * each file it could place.  0, with *why set when no file could be
 * placed (the filesystem's type, a device-mapper device, a journal
 * replayed at mount); -1 on an error of the appliance (why). */
int	extents_learn(struct extents_run *, guestfs_h *, int fd,
	    struct listing *l, const struct own_map *own, size_t ndisks,
	    char *why, size_t whylen);

/* A hex digit as sentinel-fiemap writes them (lowercase): its value, or
 * -1. */
int	extents_hexval(char);

/* One reply of sentinel-fiemap (uploaded into G from FD, once) on the
 * tree mounted there, from its SKIP-th file (or byte) on; MODE NULL
 * (extents), "streams" or "list" (with ARG, else NULL).  Malloc'd, or
 * NULL with why. */
char	*extents_reply(struct extents_run *, guestfs_h *, int fd,
	    const char *mode, long skip, const char *arg, char *why,
	    size_t whylen);

/* Parses one reply of sentinel-fiemap into L (pure; for tests): 1 when
 * it asks to go on from *next, 0 at its end, -1 if the filesystem cannot
 * be placed or the text is not understood (why). */
int	extents_parse(struct extents_run *, const char *text,
	    struct listing *l, const size_t *byino, size_t nbyino,
	    const struct own_map *own, size_t ndisks, long *next, char *why,
	    size_t whylen);

/* Entry indexes of L's regular files, sorted by inode; malloc'd. */
size_t	*extents_by_ino(const struct listing *l, size_t *n);

#endif
