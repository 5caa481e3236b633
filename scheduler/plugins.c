/*
 * Plugins: shared objects named by [plugin NAME] sections, loaded at
 * start (include/sentinel/plugin.h is their ABI).  Each runs its hooks in
 * a thread of its own from a bounded queue: the loop thread only copies
 * an event in and signals, so a slow or hung plugin costs sentineld
 * nothing but that plugin's queue; a full queue drops events, counted and
 * logged.  A watchdog on the loop logs a hook that runs too long.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sentinel/plugin.h"
#include "sentineld.h"
#include "util.h"

#define PLUGIN_QUEUE_MAX	1024	/* detections waiting per plugin */
/* Starts, ends and reopens are never dropped for detections: they wait
 * past PLUGIN_QUEUE_MAX, up to this (two per scan: a plugin stuck for
 * days of scans, not a burst). */
#define PLUGIN_QUEUE_HARD	65536
#define PLUGIN_SLOW_MS		10000	/* a hook running longer is logged */
#define PLUGIN_WATCH_MS		5000
#define PLUGIN_JOIN_S		5	/* at exit, per plugin */

enum pev_kind { PEV_STARTED, PEV_DETECTED, PEV_FINISHED, PEV_REOPEN };

/* An event, with copies of everything it points to. */
struct pev {
	enum pev_kind			 kind;
	struct sentinel_scan		 scan;
	struct sentinel_detection	 det;
	char				*strs[10];	/* owned copies */
	TAILQ_ENTRY(pev)		 entry;
};
TAILQ_HEAD(pevq, pev);

struct plugin {
	char				*name;
	void				*dl;
	int				 fd;		/* what dl was loaded from */
	const struct sentinel_plugin	*d;
	void				*state;
	struct sentinel_host		 host;
	const struct plugin_conf	*conf;		/* during init only */
	pthread_t			 thread;
	pthread_mutex_t			 mtx;
	pthread_cond_t			 cv;
	struct pevq			 q;
	unsigned int			 nq;
	int				 quit;
	uint64_t			 dropped;	/* since last said */
	uint64_t			 dropped_total;	/* (mtx) */
	_Atomic int64_t			 busy_since;	/* a hook runs; 0 */
	int				 slow_said;
	struct plugin			*next;
};

static struct plugin *plugins;
static struct plugin *abandoned;	/* stuck in a hook at exit */

/* Records from plugin threads, waiting for the loop to store them. */
struct precord {
	int64_t			 scan_id;
	char			*plugin;
	char			*text;
	int64_t			 at;
	TAILQ_ENTRY(precord)	 entry;
};
static TAILQ_HEAD(, precord) records = TAILQ_HEAD_INITIALIZER(records);
static pthread_mutex_t records_mtx = PTHREAD_MUTEX_INITIALIZER;
static uv_async_t records_async;
static int records_open;
static uv_timer_t watch_timer;
static int watching;

static const char *
host_conf_get(const struct sentinel_host *h, const char *key)
{
	const struct plugin *p = h->priv;

	return p->conf != NULL ? plugin_conf_get(p->conf, key) : NULL;
}

static void
host_log(const struct sentinel_host *h, int level, const char *msg)
{
	if (level > 0)
		log_warnx("plugin %s: %s", h->name, msg);
	else
		log_info("plugin %s: %s", h->name, msg);
}

static void
host_record(const struct sentinel_host *h, int64_t scan_id, const char *text)
{
	struct precord *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->plugin = strdup(h->name)) == NULL ||
	    (r->text = strdup(text)) == NULL) {
		if (r != NULL)
			free(r->plugin);
		free(r);
		log_warnx("plugin %s: scan %lld: %s (not recorded: out of "
		    "memory)", h->name, (long long)scan_id, text);
		return;
	}
	r->scan_id = scan_id;
	r->at = now_ms();
	pthread_mutex_lock(&records_mtx);
	if (!records_open) {
		/* A hook left running at exit: the loop is gone; the log
		 * keeps what it did. */
		pthread_mutex_unlock(&records_mtx);
		log_warnx("plugin %s: scan %lld: %s (not recorded: sentineld "
		    "is stopping)", h->name, (long long)scan_id, text);
		free(r->plugin);
		free(r->text);
		free(r);
		return;
	}
	TAILQ_INSERT_TAIL(&records, r, entry);
	/* Under the lock: plugins_close cannot close the handle meanwhile. */
	uv_async_send(&records_async);
	pthread_mutex_unlock(&records_mtx);
}

/* In the loop: each record into the state database, and the log. */
static void
on_records(uv_async_t *a)
{
	struct precord *r;

	(void)a;
	for (;;) {
		pthread_mutex_lock(&records_mtx);
		if ((r = TAILQ_FIRST(&records)) != NULL)
			TAILQ_REMOVE(&records, r, entry);
		pthread_mutex_unlock(&records_mtx);
		if (r == NULL)
			break;
		log_info("plugin %s: scan %lld: %s", r->plugin,
		    (long long)r->scan_id, r->text);
		if (r->scan_id < 0 || store_scan_action(r->scan_id, r->plugin,
		    r->at, r->text) == -1)
			log_warnx("plugin %s: scan %lld: the action above is "
			    "in this log only", r->plugin,
			    (long long)r->scan_id);
		free(r->plugin);
		free(r->text);
		free(r);
	}
}

/* Root's, and not writable by group or others. */
static int
trusted_st(const struct stat *st, const char *what, const char *path,
    char *err, size_t errlen)
{
	if (st->st_uid != 0) {
		snprintf(err, errlen, "%s %s is owned by uid %u, not root", what,
		    path, (unsigned)st->st_uid);
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s %s is writable by %s (mode %04o)",
		    what, path, st->st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

/*
 * Opens the plugin PATH for dlopen, or says why not.  Every directory from
 * the file's (symbolic links resolved) up to / must be root's and not
 * writable by others, or anyone who can write one could swap what is
 * below it between the check and the load; the file itself is opened
 * with O_NOFOLLOW, checked on the open descriptor, and loaded through
 * that descriptor (/proc/self/fd/N), so what is checked is what is loaded.
 */
static int
plugin_open(const char *path, char *err, size_t errlen)
{
	char *copy, *real = NULL, *base, *slash;
	struct stat st;
	int dfd = -1, fd = -1;

	if ((copy = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((real = realpath(dirname(copy), NULL)) == NULL) {
		snprintf(err, errlen, "directory of %s: %s", path,
		    strerror(errno));
		goto out;
	}
	for (slash = real + strlen(real);; ) {
		char c = *slash;
		const char *dir = slash == real ? "/" : real;

		*slash = '\0';
		if (stat(dir, &st) == -1) {
			snprintf(err, errlen, "directory %s: %s", dir,
			    strerror(errno));
			*slash = c;
			goto out;
		}
		if (trusted_st(&st, "directory", dir, err, errlen) == -1) {
			*slash = c;
			goto out;
		}
		*slash = c;
		if (slash == real)
			break;
		while (slash > real && *--slash != '/')
			;
	}
	strcpy(copy, path);
	base = basename(copy);
	if ((dfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "file %s: %s", path, errno == ELOOP ?
		    "is a symbolic link" : strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "file %s: not a regular file", path);
		goto fail;
	}
	if (trusted_st(&st, "file", path, err, errlen) == -1)
		goto fail;
	goto out;
fail:
	close(fd);
	fd = -1;
out:
	if (dfd != -1)
		close(dfd);
	free(real);
	free(copy);
	return fd;
}

static void
pev_free(struct pev *e)
{
	size_t i;

	for (i = 0; i < sizeof(e->strs) / sizeof(e->strs[0]); i++)
		free(e->strs[i]);
	free(e);
}

static void
deliver(struct plugin *p, struct pev *e)
{
	const struct sentinel_plugin *d = p->d;

	atomic_store(&p->busy_since, now_ms());
	switch (e->kind) {
	case PEV_STARTED:
		if (d->scan_started != NULL)
			d->scan_started(p->state, &e->scan);
		break;
	case PEV_DETECTED:
		if (d->file_detected != NULL)
			d->file_detected(p->state, &e->scan, &e->det);
		break;
	case PEV_FINISHED:
		if (d->scan_finished != NULL)
			d->scan_finished(p->state, &e->scan);
		break;
	case PEV_REOPEN:
		if (d->reopen != NULL)
			d->reopen(p->state);
		break;
	}
	atomic_store(&p->busy_since, 0);
}

static void *
plugin_main(void *arg)
{
	struct plugin *p = arg;
	struct pev *e;

	pthread_mutex_lock(&p->mtx);
	for (;;) {
		while ((e = TAILQ_FIRST(&p->q)) == NULL && !p->quit)
			pthread_cond_wait(&p->cv, &p->mtx);
		if (e == NULL)
			break;		/* quit, and nothing left */
		TAILQ_REMOVE(&p->q, e, entry);
		p->nq--;
		pthread_mutex_unlock(&p->mtx);
		deliver(p, e);
		pev_free(e);
		pthread_mutex_lock(&p->mtx);
	}
	pthread_mutex_unlock(&p->mtx);
	if (p->d->shutdown != NULL)
		p->d->shutdown(p->state);
	return NULL;
}

static void
plugin_free(struct plugin *p)
{
	if (p->fd != -1)
		close(p->fd);
	free(p->name);
	free(p);
}

/* Loads [plugin NAME]; a refusal is logged and sentineld goes on. */
static struct plugin *
plugin_load(const struct plugin_conf *pc)
{
	const char *path = plugin_conf_get(pc, "path");
	struct plugin *p;
	char err[512], fdpath[32];
	int fd, rc;

	if (path == NULL || path[0] != '/') {
		log_warnx("plugin %s: refused: \"path\" must name the shared "
		    "object by its absolute path", pc->name);
		return NULL;
	}
	if ((fd = plugin_open(path, err, sizeof(err))) == -1) {
		log_warnx("plugin %s: refused: %s", pc->name, err);
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->name = strdup(pc->name)) == NULL) {
		free(p);
		close(fd);
		return NULL;
	}
	/*
	 * The descriptor stays open while the plugin is loaded: the dynamic
	 * loader takes a name it loaded before for the same object, so two
	 * plugins must never be loaded under one /proc/self/fd/N.
	 */
	p->fd = fd;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	if ((p->dl = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		log_warnx("plugin %s: refused: %s: %s", pc->name, path,
		    dlerror());
		plugin_free(p);
		return NULL;
	}
	if ((p->d = dlsym(p->dl, SENTINEL_PLUGIN_SYMBOL)) == NULL) {
		log_warnx("plugin %s: refused: %s exports no %s", pc->name,
		    path, SENTINEL_PLUGIN_SYMBOL);
		goto fail;
	}
	/* The version first: nothing else of the descriptor is read before
	 * it matches. */
	if (p->d->abi != SENTINEL_PLUGIN_ABI) {
		log_warnx("plugin %s: refused: %s has plugin ABI %u, sentineld "
		    "has %u", pc->name, path, (unsigned)p->d->abi,
		    SENTINEL_PLUGIN_ABI);
		goto fail;
	}
	p->host.abi = SENTINEL_PLUGIN_ABI;
	p->host.name = p->name;
	p->host.conf_get = host_conf_get;
	p->host.log = host_log;
	p->host.record = host_record;
	p->host.priv = p;
	p->conf = pc;
	err[0] = '\0';
	rc = p->d->init != NULL ? p->d->init(&p->host, &p->state, err,
	    sizeof(err)) : 0;
	p->conf = NULL;
	if (rc != 0) {
		log_warnx("plugin %s: refused: %s", pc->name, err[0] ? err :
		    "init failed");
		goto fail;
	}
	TAILQ_INIT(&p->q);
	pthread_mutex_init(&p->mtx, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, plugin_main, p) != 0) {
		log_warnx("plugin %s: cannot start its thread", pc->name);
		if (p->d->shutdown != NULL)
			p->d->shutdown(p->state);
		goto fail;
	}
	log_info("plugin %s: loaded %s (%s)", pc->name, path,
	    p->d->name ? p->d->name : "?");
	return p;
fail:
	dlclose(p->dl);
	plugin_free(p);
	return NULL;
}

static void
on_watch(uv_timer_t *t)
{
	struct plugin *p;
	int64_t since, now = now_ms();
	uint64_t dropped;

	(void)t;
	for (p = plugins; p != NULL; p = p->next) {
		since = atomic_load(&p->busy_since);
		if (since != 0 && now - since > PLUGIN_SLOW_MS) {
			if (!p->slow_said)
				log_warnx("plugin %s: a hook has run for %lld s; "
				    "its events wait (and past %d, detections "
				    "drop)",
				    p->name, (long long)(now - since) / 1000,
				    PLUGIN_QUEUE_MAX);
			p->slow_said = 1;
		} else
			p->slow_said = 0;
		pthread_mutex_lock(&p->mtx);
		dropped = p->dropped;
		p->dropped = 0;
		pthread_mutex_unlock(&p->mtx);
		if (dropped > 0)
			log_warnx("plugin %s: %llu events dropped: its queue of "
			    "%d was full (scan starts and ends are kept)",
			    p->name, (unsigned long long)dropped,
			    PLUGIN_QUEUE_MAX);
	}
}

void
plugins_dropped(void (*fn)(void *, const char *, uint64_t), void *arg)
{
	struct plugin *p;
	uint64_t n;

	for (p = plugins; p != NULL; p = p->next) {
		pthread_mutex_lock(&p->mtx);
		n = p->dropped_total;
		pthread_mutex_unlock(&p->mtx);
		fn(arg, p->name, n);
	}
}

void
plugins_init(void)
{
	const struct plugin_conf *pc;
	struct plugin *p, **tail = &plugins;

	uv_async_init(sd.loop, &records_async, on_records);
	records_open = 1;
	for (pc = sd.conf.plugins; pc != NULL; pc = pc->next)
		if ((p = plugin_load(pc)) != NULL) {
			*tail = p;
			tail = &p->next;
		}
	if (plugins != NULL) {
		uv_timer_init(sd.loop, &watch_timer);
		uv_timer_start(&watch_timer, on_watch, PLUGIN_WATCH_MS,
		    PLUGIN_WATCH_MS);
		uv_unref((uv_handle_t *)&watch_timer);
		watching = 1;
	}
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* Whether the plugin has a hook for this kind of event: one that has none
 * is not given the event, so it never fills its queue with them. */
static int
wants(const struct sentinel_plugin *d, enum pev_kind k)
{
	switch (k) {
	case PEV_STARTED:
		return d->scan_started != NULL;
	case PEV_DETECTED:
		return d->file_detected != NULL;
	case PEV_FINISHED:
		return d->scan_finished != NULL;
	case PEV_REOPEN:
		return d->reopen != NULL;
	}
	return 0;
}

/*
 * Copies ev (its strings too) into each plugin's queue.  Only detections
 * are dropped when a slow plugin's queue is full: a scan's end, which
 * carries its status and the count of its detections and is what
 * quarantine acts on, always reaches the plugin.
 */
static void
post(const struct pev *ev)
{
	struct plugin *p;
	struct pev *e;
	unsigned int cap = ev->kind == PEV_DETECTED ? PLUGIN_QUEUE_MAX :
	    PLUGIN_QUEUE_HARD;

	for (p = plugins; p != NULL; p = p->next) {
		if (!wants(p->d, ev->kind))
			continue;
		if ((e = calloc(1, sizeof(*e))) == NULL)
			continue;
		e->kind = ev->kind;
		e->scan = ev->scan;
		e->det = ev->det;
		e->scan.guest = e->strs[0] = dup_or_null(ev->scan.guest);
		e->scan.uuid = e->strs[1] = dup_or_null(ev->scan.uuid);
		e->scan.trigger = e->strs[2] = dup_or_null(ev->scan.trigger);
		e->scan.status = e->strs[3] = dup_or_null(ev->scan.status);
		e->scan.reason = e->strs[4] = dup_or_null(ev->scan.reason);
		e->det.fs = e->strs[5] = dup_or_null(ev->det.fs);
		e->det.path = e->strs[6] = dup_or_null(ev->det.path);
		e->det.signature = e->strs[7] = dup_or_null(ev->det.signature);
		e->det.engine = e->strs[8] = dup_or_null(ev->det.engine);
		e->det.display = e->strs[9] = dup_or_null(ev->det.display);
		pthread_mutex_lock(&p->mtx);
		if (p->nq >= cap || p->quit) {
			p->dropped++;
			p->dropped_total++;
			pthread_mutex_unlock(&p->mtx);
			pev_free(e);
			continue;
		}
		TAILQ_INSERT_TAIL(&p->q, e, entry);
		p->nq++;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mtx);
	}
}

static void
scan_of(const struct job *j, struct sentinel_scan *s, int finished)
{
	memset(s, 0, sizeof(*s));
	s->id = j->id;
	s->guest = j->guest;
	s->uuid = j->uuid;
	s->trigger = j->trigger;
	s->started_ms = j->started_ms;
	if (!finished)
		return;
	s->status = scan_status_name(j->result.status);
	s->reason = j->result.reason[0] ? j->result.reason : NULL;
	s->ended_ms = j->ended_ms;
	s->files = j->result.files;
	s->bytes_read = j->result.bytes_read;
	s->detections = j->result.ndetections;
}

void
plugins_scan_started(const struct job *j)
{
	struct pev ev;

	if (plugins == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = PEV_STARTED;
	scan_of(j, &ev.scan, 0);
	post(&ev);
}

/* The scan's detections, then its end. */
void
plugins_scan_finished(const struct job *j)
{
	const struct scan_detection *d;
	struct pev ev;
	char *path, *shown, *display;

	if (plugins == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = PEV_DETECTED;
	scan_of(j, &ev.scan, 0);
	for (d = j->result.detections; d != NULL; d = d->next) {
		path = escape_bytes(d->path, d->pathlen);
		shown = scan_display_path(d->fs, d->path, d->pathlen,
		    d->guest_path);
		display = shown != NULL ? display_bytes(shown, strlen(shown)) :
		    NULL;
		ev.det.fs = d->fs;
		ev.det.path = path ? path : "?";
		ev.det.display = display ? display : "?";
		ev.det.guest_path = d->guest_path;
		ev.det.signature = d->signature;
		ev.det.engine = d->engine;
		ev.det.size = d->size;
		post(&ev);
		free(path);
		free(shown);
		free(display);
	}
	memset(&ev, 0, sizeof(ev));
	ev.kind = PEV_FINISHED;
	scan_of(j, &ev.scan, 1);
	post(&ev);
}

/* SIGHUP: plugins reopen their files (log rotation). */
void
plugins_reopen(void)
{
	struct pev ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = PEV_REOPEN;
	post(&ev);
}

/* At exit: each plugin gets what is queued, then shutdown; one that does
 * not end within PLUGIN_JOIN_S is left running (and not unloaded). */
void
plugins_close(void)
{
	struct plugin *p, *next;
	struct timespec ts;

	if (watching) {
		uv_timer_stop(&watch_timer);
		uv_close((uv_handle_t *)&watch_timer, NULL);
		watching = 0;
	}
	for (p = plugins; p != NULL; p = p->next) {
		pthread_mutex_lock(&p->mtx);
		p->quit = 1;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mtx);
	}
	for (p = plugins; p != NULL; p = next) {
		next = p->next;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += PLUGIN_JOIN_S;
		if (pthread_timedjoin_np(p->thread, NULL, &ts) != 0) {
			log_warnx("plugin %s: still in a hook after %d s; left "
			    "running", p->name, PLUGIN_JOIN_S);
			pthread_detach(p->thread);
			/* Its thread still uses it: kept, not freed. */
			p->next = abandoned;
			abandoned = p;
			continue;
		}
		dlclose(p->dl);
		pthread_mutex_destroy(&p->mtx);
		pthread_cond_destroy(&p->cv);
		plugin_free(p);
	}
	plugins = NULL;
	if (records_open) {
		/* A hook left running may still record: from now on its
		 * records go to the log (host_record), never to a closed
		 * handle. */
		pthread_mutex_lock(&records_mtx);
		records_open = 0;
		pthread_mutex_unlock(&records_mtx);
		on_records(&records_async);	/* what came last */
		uv_close((uv_handle_t *)&records_async, NULL);
	}
}

/* Whether two configurations load the same plugins the same way. */
int
plugins_conf_same(const struct plugin_conf *a, const struct plugin_conf *b)
{
	size_t i;

	for (; a != NULL && b != NULL; a = a->next, b = b->next) {
		if (strcmp(a->name, b->name) != 0 || a->n != b->n)
			return 0;
		for (i = 0; i < a->n; i++)
			if (strcmp(a->keys[i], b->keys[i]) != 0 ||
			    strcmp(a->values[i], b->values[i]) != 0)
				return 0;
	}
	return a == NULL && b == NULL;
}
