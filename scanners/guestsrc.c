/*
 * libguestfs side of a scan.  Disks are always added read-only with their
 * format given explicitly: probing a guest-controlled image's format lets a
 * raw image pretend to be qcow2 with a backing file on the host
 * (CVE-2010-3851).  The guest filesystem is parsed only inside the
 * appliance.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guestsrc.h"
#include "log.h"

#define PIPE_SIZE	(1024 * 1024)	/* lets transfer and scan overlap */

/* libguestfs errors may run on with generic advice: keep the first line.
 * The text lives in a per-thread buffer until the next call. */
const char *
gsrc_error(guestfs_h *g)
{
	static __thread char buf[512];
	const char *e = guestfs_last_error(g);

	if (e == NULL)
		e = "unknown libguestfs error";
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(e, "\n"), e);
	return buf;
}

/* "a:b:c" to a NULL-terminated vector; the strings point into copy. */
static char **
split_settings(char *copy)
{
	char **v;
	size_t n = 1, i = 0;
	char *p, *save = NULL;

	for (p = copy; *p; p++)
		if (*p == ':')
			n++;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return NULL;
	for (p = strtok_r(copy, ":", &save); p != NULL;
	    p = strtok_r(NULL, ":", &save))
		v[i++] = p;
	v[i] = NULL;
	return v;
}

guestfs_h *
gsrc_launch(const struct scan_opts *o, struct scan_progress *pr, char *err,
    size_t errlen)
{
	guestfs_h *g;
	char *copy = NULL, **v = NULL;
	size_t i;

	if ((g = guestfs_create()) == NULL) {
		snprintf(err, errlen, "cannot create libguestfs handle: %s",
		    strerror(errno));
		return NULL;
	}
	guestfs_set_error_handler(g, NULL, NULL);
	guestfs_set_identifier(g, o->guest);
	if (o->backend != NULL && *o->backend != '\0' &&
	    guestfs_set_backend(g, o->backend) == -1) {
		snprintf(err, errlen, "backend %s: %s", o->backend,
		    gsrc_error(g));
		goto fail;
	}
	if (o->backend_settings != NULL && *o->backend_settings != '\0') {
		if ((copy = strdup(o->backend_settings)) == NULL ||
		    (v = split_settings(copy)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (guestfs_set_backend_settings(g, v) == -1) {
			snprintf(err, errlen, "backend settings %s: %s",
			    o->backend_settings, gsrc_error(g));
			goto fail;
		}
	}
	for (i = 0; i < o->ndisks; i++) {
		if (guestfs_add_drive_opts(g, o->disks[i].path,
		    GUESTFS_ADD_DRIVE_OPTS_READONLY, 1,
		    GUESTFS_ADD_DRIVE_OPTS_FORMAT, o->disks[i].format,
		    -1) == -1) {
			snprintf(err, errlen, "disk %s (%s): %s",
			    o->disks[i].target ? o->disks[i].target : "?",
			    o->disks[i].path, gsrc_error(g));
			goto fail;
		}
	}
	pthread_mutex_lock(&pr->mtx);
	pr->g = g;
	pthread_mutex_unlock(&pr->mtx);
	if (atomic_load(&pr->cancel)) {
		snprintf(err, errlen, "cancelled");
		goto fail;
	}
	if (guestfs_launch(g) == -1) {
		snprintf(err, errlen, "appliance launch: %s",
		    gsrc_error(g));
		goto fail;
	}
	free(v);
	free(copy);
	return g;
fail:
	pthread_mutex_lock(&pr->mtx);
	pr->g = NULL;
	pthread_mutex_unlock(&pr->mtx);
	guestfs_close(g);
	free(v);
	free(copy);
	return NULL;
}

static void *
producer(void *arg)
{
	struct gsrc_stream *s = arg;
	char path[64];

	snprintf(path, sizeof(path), "/dev/fd/%d", s->wfd);
	s->rc = guestfs_tar_out(s->g, "/", path);
	if (s->rc == -1)
		snprintf(s->err, sizeof(s->err), "tar-out: %s",
		    gsrc_error(s->g));
	close(s->wfd);
	s->wfd = -1;
	return NULL;
}

int
gsrc_stream_start(guestfs_h *g, struct gsrc_stream *s, char *err,
    size_t errlen)
{
	int fds[2], r;

	memset(s, 0, sizeof(*s));
	s->g = g;
	if (pipe2(fds, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* A bigger pipe lets the appliance send while a file is scanned. */
	(void)fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE);
	s->rfd = fds[0];
	s->wfd = fds[1];
	if ((r = pthread_create(&s->thread, NULL, producer, s)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(r));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	return 0;
}

int
gsrc_stream_finish(struct gsrc_stream *s, int drain, char *err,
    size_t errlen)
{
	char buf[65536];
	ssize_t n;

	/* libarchive stops at tar's end-of-archive blocks, but tar pads its
	 * last record after them: read the rest so tar-out ends well. */
	while (drain && ((n = read(s->rfd, buf, sizeof(buf))) > 0 ||
	    (n == -1 && errno == EINTR)))
		;
	/* Closing the read end makes a producer still writing fail (EPIPE;
	 * the daemon ignores SIGPIPE) rather than block forever. */
	close(s->rfd);
	s->rfd = -1;
	pthread_join(s->thread, NULL);
	if (s->rc == -1) {
		snprintf(err, errlen, "%s", s->err);
		return -1;
	}
	return 0;
}
