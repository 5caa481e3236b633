/*
 * libguestfs side of a scan.  Disks are always added read-only with their
 * format given explicitly: probing a guest-controlled image's format lets a
 * raw image pretend to be qcow2 with a backing file on the host
 * (CVE-2010-3851).  The guest filesystem is parsed only inside the
 * appliance.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include "guestsrc.h"
#include "listing.h"
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

static void
user_cancel(void *g)
{
	guestfs_user_cancel(g);
}

/* A handle with the scan's backend and its disks, read-only. */
static guestfs_h *
handle(const struct scan_opts *o, char *err, size_t errlen)
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
	/* Nothing is written: no sync and unmount round trip at the end. */
	guestfs_set_autosync(g, 0);
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
		const struct scan_disk *d = &o->disks[i];
		int rc;

		if (d->nbd) {
			/* A backup job's export: the guest-visible data. */
			char server[sizeof("unix:") + 4096];
			char *servers[] = { server, NULL };

			snprintf(server, sizeof(server), "unix:%s", d->path);
			rc = guestfs_add_drive_opts(g, d->target,
			    GUESTFS_ADD_DRIVE_OPTS_READONLY, 1,
			    GUESTFS_ADD_DRIVE_OPTS_FORMAT, d->format,
			    GUESTFS_ADD_DRIVE_OPTS_PROTOCOL, "nbd",
			    GUESTFS_ADD_DRIVE_OPTS_SERVER, servers, -1);
		} else
			rc = guestfs_add_drive_opts(g, d->path,
			    GUESTFS_ADD_DRIVE_OPTS_READONLY, 1,
			    GUESTFS_ADD_DRIVE_OPTS_FORMAT, d->format, -1);
		if (rc == -1) {
			snprintf(err, errlen, "disk %s (%s): %s",
			    o->disks[i].target ? o->disks[i].target : "?",
			    o->disks[i].path, gsrc_error(g));
			goto fail;
		}
	}
	free(v);
	free(copy);
	return g;
fail:
	guestfs_close(g);
	free(v);
	free(copy);
	return NULL;
}

/*
 * Kills this process's children: the appliance's qemu (and libguestfs's
 * recovery process), so that a launch waiting for it fails at once.
 * libguestfs does not say qemu's pid before the appliance is up.
 */
static void
kill_children(void)
{
	DIR *d;
	struct dirent *de;
	char path[64], buf[256], *p, *end;
	long pid, ppid;
	pid_t self = getpid();
	ssize_t n;
	int fd;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "PID (COMM) STATE PPID ...": COMM is the process's to
		 * choose; the last ')' ends it. */
		if ((p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == self)
			kill((pid_t)pid, SIGKILL);
	}
	closedir(d);
}

struct launch_watch {
	pthread_mutex_t	 m;
	pthread_cond_t	 cv;
	unsigned int	 secs;
	int		 done, fired;
};

static void *
launch_watch(void *arg)
{
	struct launch_watch *w = arg;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += w->secs;
	pthread_mutex_lock(&w->m);
	while (!w->done &&
	    pthread_cond_timedwait(&w->cv, &w->m, &ts) != ETIMEDOUT)
		;
	if (!w->done) {
		w->fired = 1;
		kill_children();
	}
	pthread_mutex_unlock(&w->m);
	return NULL;
}

/*
 * guestfs_launch, bounded: 0 when the appliance is up, 1 when it was not
 * within `secs` seconds (it is killed), -1 when the launch failed.
 */
static int
launch_bounded(guestfs_h *g, unsigned int secs)
{
	struct launch_watch w;
	pthread_condattr_t a;
	pthread_t t;
	int rc, watched = 0;

	memset(&w, 0, sizeof(w));
	w.secs = secs;
	pthread_mutex_init(&w.m, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &a);
	pthread_condattr_destroy(&a);
	/* Without the watch (no thread to be had), libguestfs's own bound. */
	if (secs > 0 && pthread_create(&t, NULL, launch_watch, &w) == 0)
		watched = 1;
	rc = guestfs_launch(g);
	pthread_mutex_lock(&w.m);
	w.done = 1;
	pthread_cond_signal(&w.cv);
	pthread_mutex_unlock(&w.m);
	if (watched)
		pthread_join(t, NULL);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.m);
	return w.fired ? 1 : rc == -1 ? -1 : 0;
}

/*
 * The appliance, up.  One that does not come up within the launch
 * timeout (a kernel that hangs at boot, under TCG now and then; or on a
 * partition table it reads) is killed and launched once more.
 */
guestfs_h *
gsrc_launch(const struct scan_opts *o, struct scan_progress *pr, char *err,
    size_t errlen)
{
	guestfs_h *g;
	int attempt, r;

	for (attempt = 1; ; attempt++) {
		if ((g = handle(o, err, errlen)) == NULL)
			return NULL;
		pthread_mutex_lock(&pr->mtx);
		pr->g = g;
		pr->on_cancel = user_cancel;
		pthread_mutex_unlock(&pr->mtx);
		if (atomic_load(&pr->cancel)) {
			snprintf(err, errlen, "cancelled");
			break;
		}
		if ((r = launch_bounded(g, o->launch_timeout)) == 0)
			return g;
		if (r == -1) {
			snprintf(err, errlen, "appliance launch: %s",
			    gsrc_error(g));
			break;
		}
		snprintf(err, errlen, "the appliance did not come up within "
		    "%u s%s", o->launch_timeout, attempt > 1 ? ", twice" : "");
		if (attempt > 1 || atomic_load(&pr->cancel))
			break;
		log_warnx("scan %s: %s: killed, launching it once more",
		    o->guest, err);
		pthread_mutex_lock(&pr->mtx);
		pr->g = NULL;
		pthread_mutex_unlock(&pr->mtx);
		guestfs_close(g);
	}
	pthread_mutex_lock(&pr->mtx);
	pr->g = NULL;
	pthread_mutex_unlock(&pr->mtx);
	guestfs_close(g);
	return NULL;
}

static void *
producer(void *arg)
{
	struct gsrc_stream *s = arg;
	char path[64];

	snprintf(path, sizeof(path), "/dev/fd/%d", s->wfd);
	if (s->head > 0)
		s->rc = guestfs_download_offset(s->g, s->dir, path, 0,
		    (int64_t)s->head);
	else if (s->find0)
		s->rc = guestfs_find0(s->g, s->dir, path);
	else if (s->excludes != NULL && s->excludes[0] != NULL)
		s->rc = guestfs_tar_out_opts(s->g, s->dir, path,
		    GUESTFS_TAR_OUT_OPTS_EXCLUDES, s->excludes, -1);
	else
		s->rc = guestfs_tar_out(s->g, s->dir, path);
	if (s->rc == -1)
		snprintf(s->err, sizeof(s->err), "%s: %s",
		    s->head > 0 ? "download-offset" : s->find0 ? "find0" :
		    "tar-out", gsrc_error(s->g));
	close(s->wfd);
	s->wfd = -1;
	return NULL;
}

static int
stream_start(guestfs_h *g, struct gsrc_stream *s, int find0, uint64_t head,
    const char *dir, char *const *excludes, char *err, size_t errlen)
{
	int fds[2], r;

	memset(s, 0, sizeof(*s));
	s->g = g;
	s->dir = dir;
	s->find0 = find0;
	s->head = head;
	s->excludes = excludes;
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

int
gsrc_stream_start(guestfs_h *g, struct gsrc_stream *s, const char *dir,
    char *const *excludes, char *err, size_t errlen)
{
	return stream_start(g, s, 0, 0, dir, excludes, err, errlen);
}

int
gsrc_head_start(guestfs_h *g, struct gsrc_stream *s, const char *path,
    uint64_t len, char *err, size_t errlen)
{
	return stream_start(g, s, 0, len, path, NULL, err, errlen);
}

#define LIST_BATCH_NAMES	4000
#define LIST_BATCH_BYTES	(1024 * 1024)	/* the protocol's limit is 4 MB */

/* The directory part of path P ("/a/b" -> "/a", "/a" -> "/"). */
static size_t
dir_len(const char *p, size_t len)
{
	while (len > 0 && p[len - 1] != '/')
		len--;
	return len > 1 ? len - 1 : 1;
}

static int
by_dir(const void *a, const void *b, void *arg)
{
	const struct listing *sort_l = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const char *p = listing_path(sort_l, i), *q = listing_path(sort_l, j);
	size_t lp = dir_len(p, sort_l->e[i].pathlen);
	size_t lq = dir_len(q, sort_l->e[j].pathlen);
	int c = memcmp(p, q, lp < lq ? lp : lq);

	if (c != 0)
		return c;
	if (lp != lq)
		return lp < lq ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* lstat of IDX[0..n), entries of one directory DIR.  A directory the
 * appliance cannot stat in leaves its entries unreadable (mode 0). */
static int
stat_batch(guestfs_h *g, struct listing *l, const char *dir,
    const size_t *idx, size_t n, char *err, size_t errlen)
{
	struct guestfs_statns_list *st;
	char **names;
	size_t i;

	if ((names = calloc(n + 1, sizeof(*names))) == NULL) {
		snprintf(err, errlen, "out of memory listing files");
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *p = listing_path(l, idx[i]);
		size_t len = l->e[idx[i]].pathlen;

		names[i] = (char *)p + dir_len(p, len) + (dir[1] != '\0');
	}
	if ((st = guestfs_lstatnslist(g, dir, names)) == NULL) {
		log_debug("lstatnslist %.200s: %s", dir, gsrc_error(g));
		free(names);
		return 0;
	}
	free(names);
	for (i = 0; i < n && i < st->len; i++) {
		const struct guestfs_statns *s = &st->val[i];
		struct lentry *m = &l->e[idx[i]];

		/* The daemon gives st_ino -1 where lstat failed. */
		if (s->st_ino == -1)
			continue;
		m->mode = (uint32_t)s->st_mode;
		m->dev = (uint64_t)s->st_dev;
		m->ino = (uint64_t)s->st_ino;
		m->size = s->st_size > 0 ? (uint64_t)s->st_size : 0;
		m->nlink = (uint64_t)s->st_nlink;
		m->mtime_s = s->st_mtime_sec;
		m->mtime_ns = s->st_mtime_nsec;
		m->ctime_s = s->st_ctime_sec;
		m->ctime_ns = s->st_ctime_nsec;
	}
	guestfs_free_statns_list(st);
	return 0;
}

/*
 * Every name of the tree in one find0 stream, in find's order (a
 * directory before its contents), as "/name".  The names come first,
 * whole: lstat needs the appliance, which is busy with find0 until its
 * output is read.  At most MAX bytes of them.  GSRC_LOST when the
 * transfer failed or was cut short (the handle goes with it), -1 when
 * what came is refused.
 */
static int
list_find0(guestfs_h *g, struct listing *l, uint64_t max, char *err,
    size_t errlen)
{
	struct gsrc_stream s;
	struct lentry m;
	char *buf = NULL, *path = NULL, serr[512];
	size_t len = 0, cap = 0, i, start;
	ssize_t r;
	int rc = -1;

	if (stream_start(g, &s, 1, 0, "/", NULL, err, errlen) == -1)
		return -1;
	for (;;) {
		if (len + 65536 > cap) {
			size_t ncap = cap ? cap * 2 : 1 << 20;
			char *nb;

			if (ncap > max)
				ncap = (size_t)max;
			if (cap >= ncap) {
				snprintf(err, errlen, "find0: more than %llu "
				    "bytes of names (max_listing_size)",
				    (unsigned long long)max);
				gsrc_stream_finish(&s, 0, serr, sizeof(serr));
				rc = GSRC_LOST;
				goto out;
			}
			if ((nb = realloc(buf, ncap)) == NULL) {
				snprintf(err, errlen, "out of memory listing "
				    "files");
				gsrc_stream_finish(&s, 0, serr, sizeof(serr));
				rc = GSRC_LOST;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		r = read(s.rfd, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (gsrc_stream_finish(&s, 1, err, errlen) == -1) {
		rc = GSRC_LOST;
		goto out;
	}
	if (len > 0 && buf[len - 1] != '\0') {
		snprintf(err, errlen, "find0: output cut short");
		goto out;
	}
	memset(&m, 0, sizeof(m));
	if ((path = malloc(len + 2)) == NULL)
		goto oom;
	for (start = 0, i = 0; i < len; i++) {
		if (buf[i] != '\0')
			continue;
		path[0] = '/';
		memcpy(path + 1, buf + start, i - start);
		if (i > start && listing_add(l, path, i - start + 1, &m) == -1)
			goto oom;
		start = i + 1;
		/* The names and what the listing keeps for each. */
		if (len + l->n * sizeof(m) > max) {
			snprintf(err, errlen, "more than %llu bytes of names "
			    "(max_listing_size)", (unsigned long long)max);
			goto out;
		}
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory listing files");
out:
	free(path);
	free(buf);
	return rc;
}

/*
 * The tree directory by directory (readdir), breadth first: slower than
 * find0 (a round trip per directory), used where find0 failed.  A name
 * whose path would be longer than the appliance can name is listed
 * PLAN_TOO_DEEP and not entered: the guest's deepest subtree is skipped
 * (and counted), the rest of the filesystem is scanned.  Modes are set
 * here only to steer the walk; the lstat pass sets them for real.
 */
static int
list_walk(guestfs_h *g, struct listing *l, atomic_int *cancel, uint64_t max,
    char *err, size_t errlen)
{
	static char dir[LISTING_PATH_MAX + 1], path[LISTING_PATH_MAX + 258];
	struct guestfs_dirent_list *dl;
	struct lentry m;
	size_t i, k, dlen, nlen, bytes = 0;
	long at;

	memset(&m, 0, sizeof(m));
	for (i = 0; i == 0 || i - 1 < l->n; i++) {
		if (i == 0) {
			dlen = 0;
			strcpy(dir, "/");
		} else {
			const struct lentry *e = &l->e[i - 1];

			if (e->mode != S_IFDIR || e->plan == PLAN_TOO_DEEP)
				continue;
			/* A copy: adding names may move the listing. */
			dlen = e->pathlen;
			memcpy(dir, listing_path(l, i - 1), dlen + 1);
		}
		if (cancel != NULL && atomic_load(cancel)) {
			snprintf(err, errlen, "cancelled");
			return -1;
		}
		if ((dl = guestfs_readdir(g, dir)) == NULL) {
			snprintf(err, errlen, "readdir %.200s: %s", dir,
			    gsrc_error(g));
			return -1;
		}
		for (k = 0; k < dl->len; k++) {
			const char *name = dl->val[k].name;

			if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
				continue;
			nlen = strlen(name);
			if (nlen > 255)
				nlen = 255;	/* no filesystem has longer */
			memcpy(path, dir, dlen);
			path[dlen] = '/';
			memcpy(path + dlen + 1, name, nlen);
			m.mode = dl->val[k].ftyp == 'd' ? S_IFDIR : S_IFREG;
			bytes += dlen + 1 + nlen + 1 + sizeof(m);
			if (bytes > max) {
				guestfs_free_dirent_list(dl);
				snprintf(err, errlen, "more than %llu bytes of "
				    "names (max_listing_size)",
				    (unsigned long long)max);
				return -1;
			}
			if ((at = listing_add(l, path, dlen + 1 + nlen, &m)) ==
			    -1) {
				guestfs_free_dirent_list(dl);
				snprintf(err, errlen, "out of memory listing "
				    "files");
				return -1;
			}
			if (dlen + 1 + nlen > LISTING_PATH_MAX)
				l->e[at].plan = PLAN_TOO_DEEP;
		}
		guestfs_free_dirent_list(dl);
	}
	for (i = 0; i < l->n; i++)
		l->e[i].mode = 0;
	return 0;
}

int
gsrc_list(guestfs_h *g, struct listing *l, atomic_int *cancel, int walk,
    uint64_t max, char *err, size_t errlen)
{
	char *dir = NULL;
	size_t i, j, bytes, dl, maxlen = 1, *idx = NULL;
	int rc = -1;

	if (walk)
		rc = list_walk(g, l, cancel, max, err, errlen);
	else if ((rc = list_find0(g, l, max, err, errlen)) == GSRC_LOST &&
	    cancel != NULL && atomic_load(cancel)) {
		snprintf(err, errlen, "cancelled");
		return -1;
	}
	/* GSRC_LOST: a path longer than the appliance can name fails find0
	 * whole, and the handle with it. */
	if (rc != 0)
		return rc;
	rc = -1;
	/* lstatnslist takes names in one directory: group them. */
	if (l->n == 0)
		return 0;
	for (i = 0; i < l->n; i++)
		if (l->e[i].pathlen > maxlen)
			maxlen = l->e[i].pathlen;
	if ((idx = malloc(l->n * sizeof(*idx))) == NULL ||
	    (dir = malloc(maxlen + 2)) == NULL)
		goto oom;
	for (i = 0; i < l->n; i++)
		idx[i] = i;
	qsort_r(idx, l->n, sizeof(*idx), by_dir, l);
	for (i = 0; i < l->n; i = j) {
		const char *p = listing_path(l, idx[i]);

		if (cancel != NULL && atomic_load(cancel)) {
			snprintf(err, errlen, "cancelled");
			goto out;
		}
		dl = dir_len(p, l->e[idx[i]].pathlen);
		memcpy(dir, p, dl);
		dir[dl] = '\0';
		for (j = i, bytes = 0; j < l->n && j - i < LIST_BATCH_NAMES &&
		    bytes < LIST_BATCH_BYTES; j++) {
			const char *q = listing_path(l, idx[j]);

			if (dir_len(q, l->e[idx[j]].pathlen) != dl ||
			    memcmp(q, dir, dl) != 0)
				break;
			bytes += l->e[idx[j]].pathlen - dl + 8;
		}
		if (stat_batch(g, l, dir, idx + i, j - i, err, errlen) == -1)
			goto out;
	}
	if (listing_link_inodes(l) == -1)
		goto oom;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory listing files");
out:
	free(idx);
	free(dir);
	return rc;
}
