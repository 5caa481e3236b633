/*
 * The spool between a scan's tar stream and its engines: files read off
 * the stream wait here, in memory, bounded in bytes, for one of the
 * scan's engine threads.  Reading the next file overlaps scanning the
 * last ones, and a scan uses as many cores as it is granted.
 */
#ifndef SENTINEL_SPOOL_H
#define SENTINEL_SPOOL_H

#include <stdatomic.h>
#include <stddef.h>

/* What waits: the caller's struct starts with one. */
struct spool_item {
	struct spool_item	*next;
	size_t			 cost;		/* bytes it holds */
};

/* Runs in an engine thread; owns the item (frees it). */
typedef void	(*spool_fn)(void *, struct spool_item *);

struct spool;

/* Starts NTHREADS engine threads (at least 1) that run FN(ARG, item) on
 * what is put.  Threads started from a confined thread inherit its
 * confinement.  *ALLOWED (NULL: all) is how many of them may scan now: it
 * may change at any time, and a thread over it waits.  NULL with err. */
struct spool	*spool_new(unsigned int, size_t, spool_fn, void *,
		    const atomic_uint *, char *, size_t);
/* Hands ITEM to the engine threads; waits while the spool holds its
 * bytes' worth (an item larger than the spool goes in alone).  Returns -1
 * without taking it if *CANCEL is set meanwhile. */
int		 spool_put(struct spool *, struct spool_item *, atomic_int *);
/* Waits until everything put so far has been run. */
void		 spool_drain(struct spool *);
/* Drains, stops and joins the threads, frees the spool. */
void		 spool_free(struct spool *);
/* The most bytes the spool held at once. */
size_t		 spool_peak(struct spool *);

#endif
