/*
 * The guest inventory: every domain libvirt knows, running or not, with
 * its disks.  libvirt calls block, so they run in libuv's thread pool; the
 * loop thread only ever sees a finished list and swaps it in.  When libvirt
 * is unreachable the last list is kept and the error is reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "log.h"
#include "sentineld.h"
#include "util.h"

struct inv_waiter {
	inventory_cb		 fn;
	void			*arg;
	struct inv_waiter	*next;
};

/* One refresh in flight; its result is built off the loop thread. */
struct inv_work {
	uv_work_t	 req;
	char		*uri;
	struct guest	*guests;
	size_t		 nguests;
	int		 ok;
	char		 err[512];
};

static struct guest *guests;
static size_t nguests;
static int connected;
static char lasterr[512];
static int64_t refreshed_ms;
static virConnectPtr conn;	/* touched only by the work thread */
static int refreshing;
static struct inv_waiter *waiters, *next_waiters;
static uv_timer_t refresh_timer;

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

static const char *
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
out:
	for (i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
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
	free(w);
	refreshing = 0;
	if (w_ok)
		schedule_sync();
	flush_waiters();
	/* Requests that came during this refresh want a newer list. */
	if (next_waiters != NULL) {
		waiters = next_waiters;
		next_waiters = NULL;
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
	    (w->uri = strdup(sd.conf.libvirt_uri)) == NULL) {
		free(w);
		log_warnx("inventory: out of memory");
		flush_waiters();
		return;
	}
	w->req.data = w;
	refreshing = 1;
	if (uv_queue_work(sd.loop, &w->req, refresh_work, refresh_done) != 0) {
		refreshing = 0;
		free(w->uri);
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
	if (refreshing)
		return;
	if (sd.stopping)
		flush_waiters();
	else
		start_refresh();
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
	inventory_refresh(NULL, NULL);
}

void
inventory_close(void)
{
	uv_timer_stop(&refresh_timer);
	uv_close((uv_handle_t *)&refresh_timer, NULL);
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
