/*
 * Walks a tar stream read from a file descriptor, in memory: nothing from
 * the stream is written to disk, and names are handed on as raw bytes.
 */
#ifndef SENTINEL_WALKER_H
#define SENTINEL_WALKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum walk_kind {
	WALK_FILE,		/* regular file, data and len are set */
	WALK_TOO_LARGE,		/* regular file over the size limit, no data */
	WALK_HEAD,		/* the first len bytes of a file of size bytes
				 * over the size limit (walk_head_fd) */
};

struct walk_entry {
	enum walk_kind	 kind;
	const char	*path;		/* "/dir/name", raw bytes, NUL-terminated */
	size_t		 pathlen;
	uint64_t	 size;
	const void	*data;
	size_t		 len;
};

/* Return 0 to go on, -1 to stop the walk, WALK_KEPT to go on having
 * taken the entry's data: it is the callback's to free(3). */
#define WALK_KEPT	1
typedef int (*walk_cb)(void *, const struct walk_entry *);

struct read_budget;

/* Reads the tar stream on FD until its end, a callback's -1, *cancel or an
 * error, taking what it reads from the read budget (NULL: none).  Entry names
 * are put under PREFIX ("" for the top, else "/dir").  *bytes_read follows
 * the bytes taken off FD.  Returns 0 at the end of the stream, 1 if
 * stopped, -1 on a stream error (err says why). */
int	walk_tar_fd(int, const char *, uint64_t, const struct read_budget *,
	    walk_cb,
	    void *, atomic_int *, _Atomic uint64_t *, char *, size_t);

/* Reads the first LEN bytes of the file at PATH (SIZE bytes in all) off FD,
 * with the budget and *cancel as walk_tar_fd, and hands them on as one
 * WALK_HEAD entry: fewer if the stream ends first.  Returns as
 * walk_tar_fd. */
int	walk_head_fd(int, const char *, size_t, uint64_t, size_t,
	    const struct read_budget *, walk_cb, void *, atomic_int *,
	    _Atomic uint64_t *, char *, size_t);

#endif
