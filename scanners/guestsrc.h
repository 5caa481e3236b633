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

struct gsrc_stream {
	guestfs_h	*g;
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
/* Starts streaming "/" (what is mounted there) as tar into s->rfd. */
int		 gsrc_stream_start(guestfs_h *, struct gsrc_stream *, char *,
		    size_t);
/* Reads what is left if drain (the consumer reached the end of the tar
 * archive), closes the read end and waits for the producer; 0 if tar-out
 * succeeded. */
int		 gsrc_stream_finish(struct gsrc_stream *, int, char *, size_t);

#endif
