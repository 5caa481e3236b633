/*
 * A mounted tree's names and what lstat says of them, listed inside the
 * appliance by sentinel-fiemap in one walk: the same listing find0 and
 * one lstatnslist per directory give, without a round trip per
 * directory.  Where the program is missing or its listing cannot be
 * trusted, the tree is listed the other way.
 */
#ifndef SENTINEL_TREELIST_H
#define SENTINEL_TREELIST_H

#include <stddef.h>
#include <stdint.h>

#include <guestfs.h>

#include "extents.h"
#include "listing.h"

enum {
	TL_LIMIT = -2,		/* past MAX (max_listing_size): the tree
				 * fails, why says so */
	TL_REFUSED = -1,	/* not understood: list another way */
	TL_DONE = 0,
	TL_MORE = 1,		/* go on from *next */
	TL_UNCERTAIN = 2	/* the program could not: list another way */
};

/* Parses one reply of sentinel-fiemap's list mode into L (pure; for
 * tests and the fuzzer).  FROM is the byte of the listing the reply
 * starts at; what L holds, names and entries, may take at most MAX
 * bytes.  One of the TL_ values, with why unless TL_DONE or TL_MORE. */
int	treelist_parse(const char *text, struct listing *l, uint64_t from,
	    uint64_t max, uint64_t *next, char *why, size_t whylen);

/* Lists the tree mounted on "/" of G into L (empty), running the program
 * (open on FD) uploaded through X.  0; 1 when the tree is to be listed
 * another way (L emptied, why); -1 when it fails (why). */
int	treelist_list(struct extents_run *x, guestfs_h *g, int fd,
	    struct listing *l, uint64_t max, char *why, size_t whylen);

#endif
