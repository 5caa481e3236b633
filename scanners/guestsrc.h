/*
 * The guest source: a libguestfs appliance over a guest's disks, added
 * read-only with their format given (never probed), and a tar stream of a
 * mounted filesystem fed into a pipe by a producer thread.
 */
#ifndef SENTINEL_GUESTSRC_H
#define SENTINEL_GUESTSRC_H

#include <pthread.h>
#include <stddef.h>

#include <guestfs.h>

#include "scan.h"

struct listing;

struct gsrc_stream {
	guestfs_h	*g;
	const char	*dir;		/* what is streamed */
	char *const	*excludes;	/* tar patterns, or NULL */
	int		 find0;		/* find0 names instead of tar */
	uint64_t	 head;		/* > 0: the first head bytes of the
					 * file dir instead of tar */
	pthread_t	 thread;
	int		 rfd;		/* read end, for the consumer */
	int		 wfd;		/* write end, owned by the producer */
	int		 rc;		/* tar_out's result */
	char		 err[512];
};

/* The first line of the handle's last error. */
const char	*gsrc_error(guestfs_h *);
/* Creates a handle, adds the disks read-only and launches the appliance. */
guestfs_h	*gsrc_launch(const struct scan_opts *, struct scan_progress *,
		    char *, size_t);
/* Starts streaming directory DIR of what is mounted as tar into s->rfd,
 * less the entries matching EXCLUDES (NULL: none).  DIR must stay valid
 * until gsrc_stream_finish. */
int		 gsrc_stream_start(guestfs_h *, struct gsrc_stream *,
		    const char *, char *const *, char *, size_t);
/* Starts streaming the first LEN (> 0) bytes of file PATH into s->rfd, as
 * they are, to be ended with gsrc_stream_finish. */
int		 gsrc_head_start(guestfs_h *, struct gsrc_stream *,
		    const char *, uint64_t, char *, size_t);
/* Lists every name under "/" with its lstat into L (plans unset): in one
 * find0 stream, or with WALK directory by directory (names past the
 * longest path the appliance can name become PLAN_TOO_DEEP), in at most
 * MAX bytes of names and entries ([scan] max_listing_size).  Returns 0;
 * -1 with err; GSRC_LOST with err when find0 failed, which leaves the
 * handle unusable (libguestfs cannot recover from a cancelled transfer):
 * a new appliance may list the same tree with WALK. */
#define GSRC_LOST	(-2)
int		 gsrc_list(guestfs_h *, struct listing *, atomic_int *, int,
		    uint64_t, char *, size_t);
/* Reads what is left if drain (the consumer reached the end of the tar
 * archive), closes the read end and waits for the producer; 0 if tar-out
 * succeeded. */
int		 gsrc_stream_finish(struct gsrc_stream *, int, char *, size_t);

#endif
