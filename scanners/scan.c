/*
 * One scan job: launch the appliance over a guest's disks, mount each
 * filesystem read-only in turn, stream it as tar and scan every regular
 * file from memory with the shared engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <guestfs.h>

#include <clamav.h>

#include "cache.h"
#include "engine.h"
#include "guestsrc.h"
#include "log.h"
#include "scan.h"
#include "walker.h"

struct walk_ctx {
	const struct scan_opts	*opts;
	struct scan_progress	*pr;
	struct scan_result	*res;
	struct scan_detection	**tail;
	const char		*fs;
};

void
scan_progress_init(struct scan_progress *pr)
{
	memset(pr, 0, sizeof(*pr));
	atomic_init(&pr->files, 0);
	atomic_init(&pr->bytes_read, 0);
	atomic_init(&pr->fs_bytes, 0);
	atomic_init(&pr->cancel, 0);
	pthread_mutex_init(&pr->mtx, NULL);
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
	/* guestfs_user_cancel is meant to be called from another thread: it
	 * stops a transfer (our tar-out) in progress. */
	if (pr->g != NULL)
		guestfs_user_cancel(pr->g);
	pthread_mutex_unlock(&pr->mtx);
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
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
on_file(void *arg, const struct walk_entry *we)
{
	struct walk_ctx *c = arg;
	const struct verdict_cache *cache = c->opts->cache;
	unsigned char sha[VERDICT_HASH_LEN];
	struct scan_detection *d;
	const char *virname;
	char err[256];
	int hashed = 0;

	if (we->kind == WALK_TOO_LARGE) {
		c->res->skipped_too_large++;
		return 0;
	}
	c->res->files++;
	atomic_store(&c->pr->files, c->res->files);
	if (we->len == 0)
		return 0;	/* as clamscan: an empty file is not scanned */
	/* The hash of what streamed past: a file seen clean before, in this
	 * guest or another, with the same signatures, is not scanned again. */
	if (cache != NULL && cl_sha256(we->data, we->len, sha, NULL) != NULL) {
		if (cache->is_clean(cache->p, sha)) {
			c->res->cache_hits++;
			return 0;
		}
		hashed = 1;
	}
	c->res->bytes_scanned += we->len;
	switch (engine_scan_mem(c->opts->engine, we->data, we->len, we->path,
	    &virname, err, sizeof(err))) {
	case ENGINE_CLEAN:
		if (hashed)
			cache->add_clean(cache->p, sha);
		return 0;
	case ENGINE_ERROR:
		c->res->errors++;
		log_debug("scan %s: %s:%s: %s", c->opts->guest, c->fs,
		    we->path, err);
		return 0;
	case ENGINE_INFECTED:
		break;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->fs = strdup(c->fs)) == NULL ||
	    (d->path = malloc(we->pathlen + 1)) == NULL ||
	    (d->signature = strdup(virname ? virname : "?")) == NULL) {
		if (d != NULL) {
			free(d->fs);
			free(d->path);
			free(d);
		}
		c->res->errors++;
		return 0;
	}
	memcpy(d->path, we->path, we->pathlen + 1);
	d->pathlen = we->pathlen;
	d->size = we->size;
	*c->tail = d;
	c->tail = &d->next;
	c->res->ndetections++;
	return 0;
}

/* Skipped types: nothing to mount, or nothing sentinel can read. */
static int
fs_skipped(const char *type)
{
	return strcmp(type, "swap") == 0 || strcmp(type, "unknown") == 0 ||
	    strcmp(type, "crypto_LUKS") == 0 || strcmp(type, "luks") == 0;
}

/* Scans one mounted filesystem; -1 with err if it could not be read. */
static int
scan_mounted(struct walk_ctx *c, guestfs_h *g, char *err, size_t errlen)
{
	struct gsrc_stream s;
	char werr[256], serr[512];
	uint64_t t0;
	int wrc, src;

	if (gsrc_stream_start(g, &s, err, errlen) == -1)
		return -1;
	atomic_store(&c->pr->fs_bytes, 0);
	t0 = mono_ms();
	wrc = walk_tar_fd(s.rfd, c->opts->max_file_size, c->opts->throttle,
	    on_file, c, &c->pr->cancel, &c->pr->fs_bytes, werr, sizeof(werr));
	src = gsrc_stream_finish(&s, wrc == 0, serr, sizeof(serr));
	c->res->stream_ms += mono_ms() - t0;
	c->res->bytes_read += atomic_load(&c->pr->fs_bytes);
	atomic_store(&c->pr->bytes_read, c->res->bytes_read);
	atomic_store(&c->pr->fs_bytes, 0);
	if (atomic_load(&c->pr->cancel))
		return 0;
	if (wrc == -1) {
		snprintf(err, errlen, "%s%s%s", werr, src == -1 ? "; " : "",
		    src == -1 ? serr : "");
		return -1;
	}
	if (src == -1) {
		snprintf(err, errlen, "%s", serr);
		return -1;
	}
	return 0;
}

void
scan_run(const struct scan_opts *o, struct scan_progress *pr,
    struct scan_result *res)
{
	struct walk_ctx c;
	char err[512], fserr[512];
	char **fs = NULL;
	guestfs_h *g;
	uint64_t t0;
	size_t i;
	unsigned int candidates = 0;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.opts = o;
	c.pr = pr;
	c.res = res;
	c.tail = &res->detections;

	if (o->ndisks == 0) {
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason),
		    "the guest has no disk that can be scanned");
		return;
	}
	t0 = mono_ms();
	if ((g = gsrc_launch(o, pr, err, sizeof(err))) == NULL) {
		if (atomic_load(&pr->cancel)) {
			res->status = SCAN_INCOMPLETE;
			snprintf(res->reason, sizeof(res->reason), "cancelled");
		} else {
			res->status = SCAN_FAILED;
			snprintf(res->reason, sizeof(res->reason), "%s", err);
		}
		return;
	}
	res->launch_ms = mono_ms() - t0;
	log_debug("scan %s: appliance up in %llu ms", o->guest,
	    (unsigned long long)res->launch_ms);

	if ((fs = guestfs_list_filesystems(g)) == NULL) {
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason),
		    "listing filesystems: %s", gsrc_error(g));
		goto out;
	}
	for (i = 0; fs[i] != NULL && fs[i + 1] != NULL; i += 2) {
		if (atomic_load(&pr->cancel))
			break;
		if (fs_skipped(fs[i + 1])) {
			log_debug("scan %s: %s: %s, skipped", o->guest, fs[i],
			    fs[i + 1]);
			continue;
		}
		candidates++;
		c.fs = fs[i];
		if (guestfs_mount_ro(g, fs[i], "/") == -1) {
			res->fs_failed++;
			snprintf(fserr, sizeof(fserr), "mount %s (%s): %s",
			    fs[i], fs[i + 1], gsrc_error(g));
			log_warnx("scan %s: %s", o->guest, fserr);
			if (res->reason[0] == '\0')
				snprintf(res->reason, sizeof(res->reason),
				    "%s", fserr);
			continue;
		}
		if (scan_mounted(&c, g, err, sizeof(err)) == -1) {
			res->fs_failed++;
			snprintf(fserr, sizeof(fserr), "reading %s: %s", fs[i],
			    err);
			log_warnx("scan %s: %s", o->guest, fserr);
			if (res->reason[0] == '\0')
				snprintf(res->reason, sizeof(res->reason),
				    "%s", fserr);
		} else if (!atomic_load(&pr->cancel))
			res->fs_scanned++;
		if (guestfs_umount_all(g) == -1 && !atomic_load(&pr->cancel))
			log_warnx("scan %s: umount %s: %s", o->guest, fs[i],
			    gsrc_error(g));
	}

	if (res->ndetections > 0) {
		res->status = SCAN_INFECTED;
		if (atomic_load(&pr->cancel))
			snprintf(res->reason, sizeof(res->reason),
			    "cancelled before the end");
	} else if (atomic_load(&pr->cancel)) {
		res->status = SCAN_INCOMPLETE;
		snprintf(res->reason, sizeof(res->reason), "cancelled");
	} else if (candidates == 0) {
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason),
		    "no filesystem found on the guest's disks");
	} else if (res->fs_scanned == 0) {
		res->status = SCAN_FAILED;
	} else if (res->fs_failed > 0) {
		res->status = SCAN_INCOMPLETE;
	} else
		res->status = SCAN_CLEAN;
out:
	if (fs != NULL) {
		for (i = 0; fs[i] != NULL; i++)
			free(fs[i]);
		free(fs);
	}
	pthread_mutex_lock(&pr->mtx);
	pr->g = NULL;
	pthread_mutex_unlock(&pr->mtx);
	if (guestfs_shutdown(g) == -1)
		log_debug("scan %s: appliance shutdown: %s", o->guest,
		    gsrc_error(g));
	guestfs_close(g);
}
