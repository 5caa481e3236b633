/*
 * The tar stream walker: libarchive reads entries from the pipe that
 * guestfs_tar_out fills, and each regular file is handed to the caller
 * from memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "throttle.h"
#include "walker.h"

#define WALK_BLOCK	(256 * 1024)

/* The stream as libarchive reads it: read(2), then the read budget. */
struct reader {
	int		 fd;
	const struct read_budget *budget;
	atomic_int	*cancel;
	char		 buf[WALK_BLOCK];
};

static la_ssize_t
reader_read(struct archive *a, void *arg, const void **buf)
{
	struct reader *r = arg;
	ssize_t n;

	do
		n = read(r->fd, r->buf, sizeof(r->buf));
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		archive_set_error(a, errno, "reading the stream: %s",
		    strerror(errno));
		return -1;
	}
	if (n > 0 && r->budget != NULL &&
	    r->budget->take(r->budget->p, (size_t)n, r->cancel) == -1) {
		archive_set_error(a, ECANCELED, "cancelled");
		return -1;
	}
	*buf = r->buf;
	return n;
}

/* "./a/b" or "a/b" under PREFIX ("" or "/dir") becomes "PREFIX/a/b";
 * trailing slashes are kept as given. */
static char *
guest_path(const char *prefix, const char *name, size_t *lenp)
{
	size_t n, np = strlen(prefix);
	char *p;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (name[0] == '/')
		name++;
	n = strlen(name);
	if ((p = malloc(np + n + 2)) == NULL)
		return NULL;
	memcpy(p, prefix, np);
	p[np] = '/';
	memcpy(p + np + 1, name, n + 1);
	*lenp = np + n + 1;
	return p;
}

/* Reads the whole data of the current entry into buf (size known). */
static int
read_data(struct archive *a, unsigned char *buf, size_t size)
{
	size_t got = 0;
	la_ssize_t n;

	while (got < size) {
		n = archive_read_data(a, buf + got, size - got);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	/* A short entry (truncated stream) leaves zeros, as tar would. */
	if (got < size)
		memset(buf + got, 0, size - got);
	return 0;
}

int
walk_tar_fd(int fd, const char *prefix, uint64_t max_size,
    const struct read_budget *budget, walk_cb cb, void *arg, atomic_int *cancel,
    _Atomic uint64_t *bytes_read, char *err, size_t errlen)
{
	struct archive_entry *ae;
	struct walk_entry we;
	struct archive *a;
	struct reader *rd;
	unsigned char *buf = NULL;
	size_t bufcap = 0;
	int rc = -1, r;

	if ((rd = malloc(sizeof(*rd))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rd->fd = fd;
	rd->budget = budget;
	rd->cancel = cancel;
	if ((a = archive_read_new()) == NULL) {
		free(rd);
		snprintf(err, errlen, "archive_read_new failed");
		return -1;
	}
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open(a, rd, NULL, reader_read, NULL) != ARCHIVE_OK) {
		snprintf(err, errlen, "tar stream: %s", archive_error_string(a));
		goto out;
	}
	for (;;) {
		if (cancel != NULL && atomic_load(cancel)) {
			rc = 1;
			goto out;
		}
		r = archive_read_next_header(a, &ae);
		if (bytes_read != NULL)
			atomic_store(bytes_read,
			    (uint64_t)archive_filter_bytes(a, -1));
		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_FATAL) {
			snprintf(err, errlen, "tar stream: %s",
			    archive_error_string(a));
			goto out;
		}
		/* ARCHIVE_WARN (odd header fields) still gives an entry. */
		if (archive_entry_filetype(ae) != AE_IFREG ||
		    archive_entry_hardlink(ae) != NULL)
			continue;
		memset(&we, 0, sizeof(we));
		we.size = archive_entry_size_is_set(ae) ?
		    (uint64_t)archive_entry_size(ae) : 0;
		if ((we.path = guest_path(prefix, archive_entry_pathname(ae),
		    &we.pathlen)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		if (we.size > max_size) {
			we.kind = WALK_TOO_LARGE;
		} else {
			we.kind = WALK_FILE;
			if (we.size > bufcap) {
				unsigned char *nb = realloc(buf, we.size);

				if (nb == NULL) {
					free((char *)we.path);
					snprintf(err, errlen, "out of memory "
					    "for a %llu-byte file",
					    (unsigned long long)we.size);
					goto out;
				}
				buf = nb;
				bufcap = we.size;
			}
			if (read_data(a, buf, we.size) == -1) {
				free((char *)we.path);
				snprintf(err, errlen, "tar stream: %s",
				    archive_error_string(a));
				goto out;
			}
			we.data = buf;
			we.len = we.size;
		}
		r = cb(arg, &we);
		free((char *)we.path);
		if (r == WALK_KEPT) {
			buf = NULL;	/* the next file gets its own */
			bufcap = 0;
		} else if (r == -1) {
			rc = 1;
			goto out;
		}
	}
	rc = 0;
out:
	if (bytes_read != NULL)
		atomic_store(bytes_read, (uint64_t)archive_filter_bytes(a, -1));
	free(buf);
	archive_read_free(a);
	free(rd);
	return rc;
}

int
walk_head_fd(int fd, const char *path, size_t pathlen, uint64_t size,
    size_t len, const struct read_budget *budget, walk_cb cb, void *arg,
    atomic_int *cancel, _Atomic uint64_t *bytes_read, char *err,
    size_t errlen)
{
	struct walk_entry we;
	unsigned char *buf;
	size_t got = 0, want;
	ssize_t n;
	int r;

	if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
		snprintf(err, errlen, "out of memory for the first %zu bytes "
		    "of a file", len);
		return -1;
	}
	while (got < len) {
		if (cancel != NULL && atomic_load(cancel)) {
			free(buf);
			return 1;
		}
		want = len - got < WALK_BLOCK ? len - got : WALK_BLOCK;
		do
			n = read(fd, buf + got, want);
		while (n == -1 && errno == EINTR);
		if (n == -1) {
			snprintf(err, errlen, "reading the stream: %s",
			    strerror(errno));
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		if (budget != NULL &&
		    budget->take(budget->p, (size_t)n, cancel) == -1) {
			free(buf);
			return 1;
		}
		got += (size_t)n;
		if (bytes_read != NULL)
			atomic_store(bytes_read, (uint64_t)got);
	}
	memset(&we, 0, sizeof(we));
	we.kind = WALK_HEAD;
	we.path = path;
	we.pathlen = pathlen;
	we.size = size;
	we.data = buf;
	we.len = got;
	r = cb(arg, &we);
	if (r != WALK_KEPT)
		free(buf);
	return r == -1 ? 1 : 0;
}
