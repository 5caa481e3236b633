/*
 * The parts of the scan library that link nothing but libc: progress and
 * cancel handles, results and their names.  sentineld uses them for the
 * records its scanner processes send; it never maps libguestfs,
 * libclamav, libyara or libarchive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "scan.h"

void
scan_progress_init(struct scan_progress *pr)
{
	memset(pr, 0, sizeof(*pr));
	atomic_init(&pr->files, 0);
	atomic_init(&pr->bytes_read, 0);
	atomic_init(&pr->fs_bytes, 0);
	atomic_init(&pr->cancel, 0);
	atomic_init(&pr->threads, 0);
	atomic_init(&pr->spool_peak, 0);
	pthread_mutex_init(&pr->mtx, NULL);
}

/* The filesystem being scanned now, for progress reports. */
void
scan_progress_fs(struct scan_progress *pr, char *buf, size_t len)
{
	pthread_mutex_lock(&pr->mtx);
	snprintf(buf, len, "%s", pr->fs);
	pthread_mutex_unlock(&pr->mtx);
}

void
scan_progress_set_fs(struct scan_progress *pr, const char *fs)
{
	pthread_mutex_lock(&pr->mtx);
	snprintf(pr->fs, sizeof(pr->fs), "%s", fs);
	pthread_mutex_unlock(&pr->mtx);
}

void
scan_progress_destroy(struct scan_progress *pr)
{
	pthread_mutex_destroy(&pr->mtx);
}

void
scan_cancel(struct scan_progress *pr)
{
	atomic_store(&pr->cancel, 1);
	pthread_mutex_lock(&pr->mtx);
	/* The source may stop what is in progress at once: libguestfs's
	 * user_cancel, meant to be called from another thread, stops a
	 * transfer (our tar-out). */
	if (pr->g != NULL && pr->on_cancel != NULL)
		pr->on_cancel(pr->g);
	pthread_mutex_unlock(&pr->mtx);
}

void
scan_cut(struct scan_progress *pr)
{
	atomic_store(&pr->cut, 1);
	scan_cancel(pr);
}

const char *
scan_status_name(enum scan_status s)
{
	switch (s) {
	case SCAN_CLEAN:	return "clean";
	case SCAN_INFECTED:	return "infected";
	case SCAN_INCOMPLETE:	return "incomplete";
	case SCAN_FAILED:	return "failed";
	}
	return "unknown";
}

void
scan_result_free(struct scan_result *r)
{
	struct scan_detection *d, *next;

	for (d = r->detections; d != NULL; d = next) {
		next = d->next;
		free(d->fs);
		free(d->path);
		free(d->signature);
		free(d);
	}
	r->detections = NULL;
	while (r->skips != NULL) {
		struct scan_skip *k = r->skips;

		r->skips = k->next;
		free(k->fs);
		free(k->path);
		free(k->detail);
		free(k);
	}
}

const char *
skip_reason_name(enum skip_reason r)
{
	static const char *names[SKIP_NREASONS] = { "too_large", "limit",
	    "excluded", "unreadable", "encrypted", "special", "filesystem",
	    "memory" };

	return (unsigned int)r < SKIP_NREASONS ? names[r] : "unknown";
}

char *
scan_display_path(const char *fs, const char *path, size_t len,
    int guest_path)
{
	char *p, drive = SCAN_DRIVE(guest_path);
	size_t n = strlen(fs);

	if (drive != 0) {
		if ((p = malloc(len + 3)) != NULL)
			windows_path(drive, path, len, p);
		return p;
	}
	if (guest_path) {
		if ((p = malloc(len + 1)) != NULL) {
			memcpy(p, path, len);
			p[len] = '\0';
		}
		return p;
	}
	if ((p = malloc(n + 1 + len + 1)) != NULL) {
		memcpy(p, fs, n);
		p[n] = ':';
		memcpy(p + n + 1, path, len);
		p[n + 1 + len] = '\0';
	}
	return p;
}

uint64_t
scan_not_scanned(const uint64_t skipped[SKIP_NREASONS])
{
	return skipped[SKIP_TOO_LARGE] + skipped[SKIP_LIMIT] +
	    skipped[SKIP_UNREADABLE] + skipped[SKIP_ENCRYPTED] +
	    skipped[SKIP_FILESYSTEM];
}

int
scan_complete(enum scan_status status, const uint64_t skipped[SKIP_NREASONS])
{
	return (status == SCAN_CLEAN || status == SCAN_INFECTED) &&
	    scan_not_scanned(skipped) == 0;
}
