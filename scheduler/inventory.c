/*
 * The guest inventory: every domain libvirt knows, running or not, with
 * its disks.  libvirt calls block, so they run in libuv's thread pool; the
 * loop thread only ever sees a finished list and swaps it in.  When libvirt
 * is unreachable the last list is kept and the error is reported.
 *
 * libvirt's own event loop runs in a thread of its own, on a connection of
 * its own: a domain defined, undefined, started or stopped, a disk plugged
 * or unplugged, sets off a refresh at once, through an async handle.  That
 * thread notices the connection's loss (EOF or keepalive) and reconnects
 * with backoff; the inventory is rebuilt once it is back.  Scans do not
 * use libvirt: they carry on meanwhile.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "log.h"
#include "sentineld.h"
#include "util.h"

_Static_assert(VIR_UUID_STRING_BUFLEN == UUID_BUF,
    "libvirt's UUID text is sentinel's");

struct inv_waiter {
	inventory_cb		 fn;
	void			*arg;
	struct inv_waiter	*next;
};

/* One refresh in flight; its result is built off the loop thread. */
struct inv_work {
	uv_work_t	 req;
	char		*uri;
	char		*only;		/* [libvirt] guests */
	char		*scratch_dir;	/* to find orphaned backup jobs */
	struct guest	*guests;
	size_t		 nguests;
	int		 ok;
	char		 err[512];
};

static struct guest *guests;
static size_t nguests;
static int connected;
static int orphans_checked;	/* by the refresh thread only */
static char lasterr[512];
static int64_t refreshed_ms;
static virConnectPtr conn;	/* touched only by the work thread */
static int refreshing;
static struct inv_waiter *waiters, *next_waiters;
static int refresh_again;
static uv_timer_t refresh_timer;

/* Guests that stopped, waiting for a refresh to see them shut off. */
struct stopped {
	char		 uuid[UUID_BUF];
	struct stopped	*next;
};
static struct stopped *stop_pending, *stop_inflight;

#define EV_BACKOFF_MIN_MS	500
#define EV_BACKOFF_MAX_MS	30000
#define EV_KEEPALIVE_S		5	/* probe every 5 s, 3 unanswered: gone */
#define EV_KEEPALIVE_COUNT	3

static struct {
	pthread_t	 thread;
	int		 started;
	uv_async_t	 async;
	pthread_mutex_t	 mtx;
	/* Shared with the loop thread, under mtx. */
	int		 dirty;		/* an event: the list is stale */
	int		 up;		/* events are flowing */
	int		 changed;	/* up or err changed */
	char		 err[512];	/* why not up */
	struct stopped	*stopped;
	/* The event thread's own. */
	char		*uri;
	virConnectPtr	 conn;
	int		 cb[3];
	int		 timer;
	int		 backoff_ms;
	atomic_int	 lost;		/* the close callback's reason + 1 */
	int		 quit;
	/* The loop thread's copy of up. */
	int		 live;
} ev = { .cb = { -1, -1, -1 }, .timer = -1 };

static void flush_waiters(void);

static void
silent_error(void *arg, virErrorPtr e)
{
	(void)arg;
	(void)e;
}

static void
guests_free(struct guest *g, size_t n)
{
	size_t i;

	for (i = 0; g != NULL && i < n; i++) {
		free(g[i].name);
		free(g[i].state);
		free(g[i].disk_note);
		disks_free(g[i].disks, g[i].ndisks);
	}
	free(g);
}

static const char *
state_name(int st)
{
	switch (st) {
	case VIR_DOMAIN_RUNNING:	return "running";
	case VIR_DOMAIN_BLOCKED:	return "blocked";
	case VIR_DOMAIN_PAUSED:		return "paused";
	case VIR_DOMAIN_SHUTDOWN:	return "shutting down";
	case VIR_DOMAIN_SHUTOFF:	return "shut off";
	case VIR_DOMAIN_CRASHED:	return "crashed";
	case VIR_DOMAIN_PMSUSPENDED:	return "suspended";
	default:			return "unknown";
	}
}

const char *
virt_error(void)
{
	virErrorPtr e = virGetLastError();

	return e && e->message ? e->message : "unknown libvirt error";
}

/*
 * The storage devices a guest's disks live on (the device of the image
 * file, or the block device itself), for the per-storage cap; and, for a
 * running guest, how much its disks have read, to see it busy.
 */
static void
disk_facts(virDomainPtr dom, struct guest *g, int running)
{
	virDomainBlockStatsStruct bs;
	struct stat st;
	uint64_t dev;
	size_t i;
	unsigned int k;

	g->rd_bytes = running ? 0 : -1;
	for (i = 0; i < g->ndisks; i++) {
		if (stat(g->disks[i].path, &st) == 0) {
			dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
			for (k = 0; k < g->ndevs && g->devs[k] != dev; k++)
				;
			if (k == g->ndevs && g->ndevs < POL_MAX_DEVS)
				g->devs[g->ndevs++] = dev;
		}
		if (running && g->rd_bytes >= 0) {
			if (virDomainBlockStats(dom, g->disks[i].target, &bs,
			    sizeof(bs)) == 0 && bs.rd_bytes >= 0)
				g->rd_bytes += bs.rd_bytes;
			else
				g->rd_bytes = -1;
		}
	}
	g->rd_ms = now_ms();
}

static int
describe(virDomainPtr dom, struct guest *g, char *err, size_t errlen)
{
	const char *name;
	char *xml;
	int st, reason;

	if ((name = virDomainGetName(dom)) == NULL ||
	    virDomainGetUUIDString(dom, g->uuid) == -1) {
		snprintf(err, errlen, "domain name: %s", virt_error());
		return -1;
	}
	g->name = strdup(name);
	if (virDomainGetState(dom, &st, &reason, 0) == -1)
		st = -1;
	g->state = strdup(state_name(st));
	/* The inactive definition would miss hot-plugged disks; the live
	 * XML of a running guest is what its qemu has open. */
	if ((xml = virDomainGetXMLDesc(dom, 0)) == NULL) {
		snprintf(err, errlen, "%s: XML: %s", name, virt_error());
		return -1;
	}
	if (domxml_disks(xml, &g->disks, &g->ndisks, &g->disk_note, err,
	    errlen) == -1) {
		free(xml);
		return -1;
	}
	free(xml);
	disk_facts(dom, g, st == VIR_DOMAIN_RUNNING);
	return g->name && g->state ? 0 : -1;
}

static void
refresh_work(uv_work_t *req)
{
	struct inv_work *w = req->data;
	virDomainPtr *doms = NULL;
	char err[512];
	int n, i;

	if (conn != NULL && virConnectIsAlive(conn) != 1) {
		virConnectClose(conn);
		conn = NULL;
	}
	if (conn == NULL && (conn = virConnectOpen(w->uri)) == NULL) {
		snprintf(w->err, sizeof(w->err), "cannot connect to %s: %s",
		    w->uri, virt_error());
		return;
	}
	if ((n = virConnectListAllDomains(conn, &doms, 0)) < 0) {
		snprintf(w->err, sizeof(w->err), "listing guests at %s: %s",
		    w->uri, virt_error());
		/* Drop the connection; the next refresh opens a new one. */
		virConnectClose(conn);
		conn = NULL;
		return;
	}
	if ((w->guests = calloc((size_t)n + 1, sizeof(*w->guests))) == NULL) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const char *name = virDomainGetName(doms[i]);

		/* Another's guests: not described, not even their XML. */
		if (name != NULL && !name_matches(w->only, name))
			continue;
		if (describe(doms[i], &w->guests[w->nguests], err,
		    sizeof(err)) == -1) {
			/* A guest undefined meanwhile, or odd XML: skip it. */
			log_warnx("inventory: %s", err);
			free(w->guests[w->nguests].name);
			free(w->guests[w->nguests].state);
			memset(&w->guests[w->nguests], 0, sizeof(struct guest));
			continue;
		}
		w->nguests++;
	}
	w->ok = 1;
	/* Once: jobs left by a sentineld that died mid-scan. */
	if (!orphans_checked) {
		view_orphans(doms, n, w->scratch_dir);
		orphans_checked = 1;
	}
out:
	for (i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
}

/* The [guest NAME] setting, else [schedule]'s. */
static int
wants_shutdown_scan(const char *name)
{
	const struct guest_conf *gc = config_guest(&sd.conf, name);

	if (gc != NULL && (gc->set & GUEST_OPT_SCAN_ON_SHUTDOWN))
		return gc->scan_on_shutdown;
	return sd.conf.scan_on_shutdown;
}

/* After a refresh: scans of the guests that stopped before it began and
 * are still shut off, where scan_on_shutdown asks for one. */
static void
scan_stopped(void)
{
	struct stopped *s, *next;
	const struct guest *g;
	char err[256];
	enum submitted was;

	for (s = stop_inflight, stop_inflight = NULL; s != NULL; s = next) {
		next = s->next;
		g = sd.stopping ? NULL : inventory_find(s->uuid);
		if (g != NULL && strcmp(g->state, "shut off") == 0 &&
		    wants_shutdown_scan(g->name) &&
		    jobs_submit(g, "shutdown", &was, err, sizeof(err)) == NULL)
			log_warnx("scan %s on shutdown: %s", g->name, err);
		free(s);
	}
}

/* A refresh failed: its stopped guests wait for the next one. */
static void
stopped_keep(void)
{
	struct stopped *s;

	while ((s = stop_inflight) != NULL) {
		stop_inflight = s->next;
		s->next = stop_pending;
		stop_pending = s;
	}
}

static void
stopped_free(struct stopped *s)
{
	struct stopped *next;

	for (; s != NULL; s = next) {
		next = s->next;
		free(s);
	}
}

static void
refresh_done(uv_work_t *req, int status)
{
	struct inv_work *w = req->data;
	int w_ok = w->ok;

	(void)status;
	if (w->ok) {
		if (!connected)
			log_info("libvirt: connected to %s, %zu guests",
			    w->uri, w->nguests);
		guests_free(guests, nguests);
		guests = w->guests;
		nguests = w->nguests;
		connected = 1;
		lasterr[0] = '\0';
		refreshed_ms = now_ms();
	} else {
		if (connected || strcmp(lasterr, w->err) != 0)
			log_warnx("libvirt: %s", w->err);
		connected = 0;
		snprintf(lasterr, sizeof(lasterr), "%s", w->err);
		guests_free(w->guests, w->nguests);
	}
	free(w->uri);
	free(w->only);
	free(w->scratch_dir);
	free(w);
	refreshing = 0;
	if (w_ok) {
		schedule_sync();
		scan_stopped();
	} else
		stopped_keep();
	flush_waiters();
	/* Requests and events that came during this refresh want a newer
	 * list. */
	if (next_waiters != NULL || refresh_again) {
		waiters = next_waiters;
		next_waiters = NULL;
		refresh_again = 0;
		inventory_refresh(NULL, NULL);
	}
}

/* Answers every waiter with the list as it is. */
static void
flush_waiters(void)
{
	struct inv_waiter *q, *next;

	q = waiters;
	waiters = NULL;
	for (; q != NULL; q = next) {
		next = q->next;
		q->fn(q->arg);
		free(q);
	}
}

static void
start_refresh(void)
{
	struct inv_work *w;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->uri = strdup(sd.conf.libvirt_uri)) == NULL ||
	    (w->only = strdup(sd.conf.libvirt_guests)) == NULL ||
	    (w->scratch_dir = strdup(sd.conf.scratch_dir)) == NULL) {
		if (w != NULL) {
			free(w->uri);
			free(w->only);
		}
		free(w);
		log_warnx("inventory: out of memory");
		flush_waiters();
		return;
	}
	w->req.data = w;
	refreshing = 1;
	/* Guests that stopped before now are shut off in this list. */
	stop_inflight = stop_pending;
	stop_pending = NULL;
	if (uv_queue_work(sd.loop, &w->req, refresh_work, refresh_done) != 0) {
		refreshing = 0;
		stopped_keep();
		free(w->uri);
		free(w->only);
		free(w->scratch_dir);
		free(w);
		log_warnx("inventory: cannot queue a refresh");
		flush_waiters();
	}
}

/* Calls fn once a refresh that started after this call has finished. */
void
inventory_refresh(inventory_cb fn, void *arg)
{
	struct inv_waiter *q;

	if (fn != NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL) {
			fn(arg);
			return;
		}
		q->fn = fn;
		q->arg = arg;
		if (refreshing) {
			q->next = next_waiters;
			next_waiters = q;
			return;
		}
		q->next = waiters;
		waiters = q;
	}
	if (refreshing) {
		refresh_again = 1;
		return;
	}
	if (sd.stopping)
		flush_waiters();
	else
		start_refresh();
}

/*
 * The event thread.  Everything from here to inventory_init runs in it,
 * except ev_set's and on_event's use of the shared fields under ev.mtx.
 */
static void
ev_set(int up, const char *err)
{
	pthread_mutex_lock(&ev.mtx);
	if (ev.up != up || strcmp(ev.err, err) != 0) {
		ev.up = up;
		snprintf(ev.err, sizeof(ev.err), "%s", err);
		ev.changed = 1;
	}
	if (up)
		ev.dirty = 1;
	pthread_mutex_unlock(&ev.mtx);
	uv_async_send(&ev.async);
}

static int
on_lifecycle(virConnectPtr c, virDomainPtr dom, int event, int detail,
    void *arg)
{
	struct stopped *s = NULL;

	(void)c;
	(void)detail;
	(void)arg;
	if (event == VIR_DOMAIN_EVENT_STOPPED &&
	    (s = calloc(1, sizeof(*s))) != NULL &&
	    virDomainGetUUIDString(dom, s->uuid) == -1) {
		free(s);
		s = NULL;
	}
	pthread_mutex_lock(&ev.mtx);
	ev.dirty = 1;
	if (s != NULL) {
		s->next = ev.stopped;
		ev.stopped = s;
	}
	pthread_mutex_unlock(&ev.mtx);
	uv_async_send(&ev.async);
	return 0;
}

static void
on_device(virConnectPtr c, virDomainPtr dom, const char *alias, void *arg)
{
	(void)c;
	(void)dom;
	(void)alias;
	(void)arg;
	pthread_mutex_lock(&ev.mtx);
	ev.dirty = 1;
	pthread_mutex_unlock(&ev.mtx);
	uv_async_send(&ev.async);
}

static void
on_close(virConnectPtr c, int reason, void *arg)
{
	(void)c;
	(void)arg;
	atomic_store(&ev.lost, reason + 1);
	virEventUpdateTimeout(ev.timer, 0);
}

static const char *
close_reason(int reason)
{
	switch (reason) {
	case VIR_CONNECT_CLOSE_REASON_EOF:	return "end of file";
	case VIR_CONNECT_CLOSE_REASON_KEEPALIVE: return "keepalive timeout";
	case VIR_CONNECT_CLOSE_REASON_CLIENT:	return "closed";
	default:				return "an error";
	}
}

static void
ev_drop(void)
{
	size_t i;

	for (i = 0; i < sizeof(ev.cb) / sizeof(ev.cb[0]); i++)
		if (ev.cb[i] >= 0) {
			virConnectDomainEventDeregisterAny(ev.conn, ev.cb[i]);
			ev.cb[i] = -1;
		}
	virConnectUnregisterCloseCallback(ev.conn, on_close);
	virConnectClose(ev.conn);
	ev.conn = NULL;
}

/* The connection's timer: connects, and after a loss reconnects, with a
 * backoff that doubles up to EV_BACKOFF_MAX_MS; off while connected. */
static void
ev_tick(int timer, void *arg)
{
	char err[512];
	int lost;

	(void)arg;
	if (ev.conn != NULL) {
		if ((lost = atomic_exchange(&ev.lost, 0)) == 0) {
			virEventUpdateTimeout(timer, -1);
			return;
		}
		snprintf(err, sizeof(err), "connection to %s lost (%s); "
		    "reconnecting", ev.uri, close_reason(lost - 1));
		ev_drop();
		ev_set(0, err);
		ev.backoff_ms = EV_BACKOFF_MIN_MS;
		virEventUpdateTimeout(timer, ev.backoff_ms);
		return;
	}
	if ((ev.conn = virConnectOpen(ev.uri)) == NULL) {
		snprintf(err, sizeof(err), "cannot connect to %s: %s; "
		    "retrying", ev.uri, virt_error());
		goto retry;
	}
	if (virConnectRegisterCloseCallback(ev.conn, on_close, NULL,
	    NULL) == -1 ||
	    (ev.cb[0] = virConnectDomainEventRegisterAny(ev.conn, NULL,
	    VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	    VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), NULL, NULL)) == -1 ||
	    (ev.cb[1] = virConnectDomainEventRegisterAny(ev.conn, NULL,
	    VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
	    VIR_DOMAIN_EVENT_CALLBACK(on_device), NULL, NULL)) == -1 ||
	    (ev.cb[2] = virConnectDomainEventRegisterAny(ev.conn, NULL,
	    VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
	    VIR_DOMAIN_EVENT_CALLBACK(on_device), NULL, NULL)) == -1) {
		snprintf(err, sizeof(err), "cannot follow guest events at "
		    "%s: %s; retrying", ev.uri, virt_error());
		ev_drop();
		goto retry;
	}
	/* A libvirtd that hangs is noticed too, not only one that exits.
	 * Drivers without keepalive (test://) refuse it: no matter. */
	virConnectSetKeepAlive(ev.conn, EV_KEEPALIVE_S, EV_KEEPALIVE_COUNT);
	atomic_store(&ev.lost, 0);
	ev.backoff_ms = EV_BACKOFF_MIN_MS;
	virEventUpdateTimeout(timer, -1);
	ev_set(1, "");
	return;
retry:
	ev_set(0, err);
	virEventUpdateTimeout(timer, ev.backoff_ms);
	ev.backoff_ms = ev.backoff_ms * 2 > EV_BACKOFF_MAX_MS ?
	    EV_BACKOFF_MAX_MS : ev.backoff_ms * 2;
}

static void
ev_quit(int timer, void *arg)
{
	(void)arg;
	ev.quit = 1;
	virEventRemoveTimeout(timer);
}

static void *
ev_main(void *arg)
{
	(void)arg;
	while (!ev.quit)
		if (virEventRunDefaultImpl() == -1) {
			log_warnx("libvirt: event loop: %s; guest events are "
			    "no longer followed", virt_error());
			break;
		}
	if (ev.conn != NULL)
		ev_drop();
	virEventRemoveTimeout(ev.timer);
	return NULL;
}

/* In the loop thread: what the event thread saw. */
static void
on_event(uv_async_t *a)
{
	struct stopped *list, *s, *next, *p;
	int dirty, changed, up;
	char err[512];

	(void)a;
	pthread_mutex_lock(&ev.mtx);
	dirty = ev.dirty;
	changed = ev.changed;
	up = ev.up;
	snprintf(err, sizeof(err), "%s", ev.err);
	list = ev.stopped;
	ev.dirty = ev.changed = 0;
	ev.stopped = NULL;
	pthread_mutex_unlock(&ev.mtx);
	if (changed) {
		if (up)
			log_info("libvirt: following guest events at %s",
			    sd.conf.libvirt_uri);
		else
			log_warnx("libvirt: %s", err);
		ev.live = up;
	}
	for (s = list; s != NULL; s = next) {
		next = s->next;
		for (p = stop_pending; p != NULL; p = p->next)
			if (strcmp(p->uuid, s->uuid) == 0)
				break;
		if (p != NULL || sd.stopping) {
			free(s);
			continue;
		}
		s->next = stop_pending;
		stop_pending = s;
	}
	/* A lost connection too: the refresh records why. */
	if (dirty || changed || list != NULL)
		inventory_refresh(NULL, NULL);
}

static void
events_start(void)
{
	if (virEventRegisterDefaultImpl() == -1) {
		log_warnx("libvirt: no event loop (%s); the inventory is "
		    "re-read every %llu s only", virt_error(),
		    (unsigned long long)sd.conf.libvirt_refresh);
		return;
	}
	pthread_mutex_init(&ev.mtx, NULL);
	uv_async_init(sd.loop, &ev.async, on_event);
	ev.backoff_ms = EV_BACKOFF_MIN_MS;
	if ((ev.uri = strdup(sd.conf.libvirt_uri)) == NULL ||
	    (ev.timer = virEventAddTimeout(0, ev_tick, NULL, NULL)) == -1 ||
	    pthread_create(&ev.thread, NULL, ev_main, NULL) != 0) {
		log_warnx("libvirt: cannot start the event thread; the "
		    "inventory is re-read every %llu s only",
		    (unsigned long long)sd.conf.libvirt_refresh);
		uv_close((uv_handle_t *)&ev.async, NULL);
		return;
	}
	ev.started = 1;
}

static void
events_stop(void)
{
	struct timespec ts;

	if (!ev.started)
		return;
	ev.started = 0;
	/* A timer added from here wakes the event loop up to end it. */
	virEventAddTimeout(0, ev_quit, NULL, NULL);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	if (pthread_timedjoin_np(ev.thread, NULL, &ts) != 0) {
		log_warnx("libvirt: the event thread did not end in 5 s; "
		    "leaving it");
		pthread_detach(ev.thread);
	} else
		free(ev.uri);
	uv_close((uv_handle_t *)&ev.async, NULL);
	stopped_free(ev.stopped);
	ev.stopped = NULL;
}

static void
on_refresh_timer(uv_timer_t *t)
{
	(void)t;
	inventory_refresh(NULL, NULL);
}

void
inventory_init(void)
{
	uint64_t ms = sd.conf.libvirt_refresh * 1000;

	virSetErrorFunc(NULL, silent_error);
	uv_timer_init(sd.loop, &refresh_timer);
	uv_timer_start(&refresh_timer, on_refresh_timer, ms, ms);
	events_start();
	inventory_refresh(NULL, NULL);
}

void
inventory_close(void)
{
	uv_timer_stop(&refresh_timer);
	uv_close((uv_handle_t *)&refresh_timer, NULL);
	events_stop();
	stopped_free(stop_pending);
	stop_pending = NULL;
	/* Any refresh in flight finishes on its own; conn stays open until
	 * exit, as closing it here could race that work. */
}

const struct guest *
inventory_find(const char *name)
{
	size_t i;

	for (i = 0; i < nguests; i++)
		if (strcmp(guests[i].name, name) == 0)
			return &guests[i];
	for (i = 0; i < nguests; i++)
		if (strcasecmp(guests[i].uuid, name) == 0)
			return &guests[i];
	return NULL;
}

size_t
inventory_count(void)
{
	return nguests;
}

const struct guest *
inventory_at(size_t i)
{
	return i < nguests ? &guests[i] : NULL;
}

int
inventory_connected(void)
{
	return connected;
}

/* Connected and following events: the list is current. */
int
inventory_live(void)
{
	return connected && ev.live;
}

const char *
inventory_error(void)
{
	return lasterr;
}

int64_t
inventory_refreshed_ms(void)
{
	return refreshed_ms;
}
