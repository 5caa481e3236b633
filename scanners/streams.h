/*
 * Named data streams of an NTFS filesystem ("alternate data streams",
 * report.docx:payload.exe): no directory listing shows them, so
 * sentinel-fiemap lists them inside the appliance, on a tree ntfs-3g
 * mounts with streams_interface=windows, and the scan reads each as
 * PATH:NAME.
 */
#ifndef SENTINEL_STREAMS_H
#define SENTINEL_STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include <guestfs.h>

#include "extents.h"

#define STREAM_NAME_MAX		255	/* NTFS's longest name */

/* Called for each stream: the inode of its file or directory, its size
 * (-1: not known) and name (NAMELEN bytes, no NUL and no '/').  Nonzero
 * stops the listing. */
typedef int (*stream_cb)(void *arg, uint64_t ino, int64_t size,
    const char *name, size_t namelen);

/* Parses one reply of sentinel-fiemap's streams mode (pure; for tests and
 * the fuzzer): 1 when it asks to go on from *next, 0 at its end, -1 if the
 * text is not understood (why), 2 if CB stopped it. */
int	streams_parse(const char *text, stream_cb cb, void *arg, long *next,
	    char *why, size_t whylen);

/* Lists the streams of the tree mounted on "/" of G, running the program
 * (open on FD) uploaded through X.  0, or -1 with why. */
int	streams_list(struct extents_run *x, guestfs_h *g, int fd, stream_cb cb,
	    void *arg, char *why, size_t whylen);

#endif
