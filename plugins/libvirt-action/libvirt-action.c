/*
 * libvirt-action: when a scan finds something, act on the guest through
 * libvirt.
 *
 *	[plugin quarantine]
 *	path = /usr/lib/x86_64-linux-gnu/sentinel/plugins/libvirt-action.so
 *	action = none		; none, suspend, shutdown or tag
 *	guests = web01:suspend db01:tag	; per guest, over action
 *	snapshot = no		; yes: a disk-only snapshot before acting
 *	uri = qemu:///system
 *
 * suspend and shutdown (graceful: the guest is asked to power off) touch
 * only a running guest; another is left alone, and that is said.  tag
 * writes <infected scan= detections= at=/> into the guest's libvirt
 * metadata under the namespace SENTINEL_NS, in its persistent definition
 * and, when it runs, its live one.  The snapshot is named
 * sentinel-scan-ID.  Every action, and every failure, is logged and
 * recorded with the scan (sentinelctl results shows it).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "sentinel/plugin.h"

#define SENTINEL_NS	"http://sentinel.invalid/xmlns/infected/1"
#define MAX_GUESTS	256

enum action { ACT_NONE, ACT_SUSPEND, ACT_SHUTDOWN, ACT_TAG };
static const char *const actions[] = { "none", "suspend", "shutdown",
    "tag" };

struct lva {
	const struct sentinel_host	*host;
	char				*uri;
	enum action			 def;
	int				 snapshot;
	size_t				 nguests;
	char				*guest[MAX_GUESTS];
	enum action			 act[MAX_GUESTS];
};

static int
parse_action(const char *s, enum action *a)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(s, actions[i]) == 0) {
			*a = (enum action)i;
			return 0;
		}
	return -1;
}

static void
lva_free(struct lva *l)
{
	size_t i;

	for (i = 0; i < l->nguests; i++)
		free(l->guest[i]);
	free(l->uri);
	free(l);
}

static int
lva_init(const struct sentinel_host *h, void **state, char *err,
    size_t errlen)
{
	const char *action = h->conf_get(h, "action");
	const char *guests = h->conf_get(h, "guests");
	const char *snap = h->conf_get(h, "snapshot");
	const char *uri = h->conf_get(h, "uri");
	char *copy, *p, *colon, *save = NULL;
	struct lva *l;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->uri = strdup(uri ? uri : "qemu:///system")) == NULL) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->host = h;
	if (action != NULL && parse_action(action, &l->def) == -1) {
		snprintf(err, errlen, "\"action\" must be none, suspend, "
		    "shutdown or tag");
		goto fail;
	}
	if (snap != NULL && strcmp(snap, "yes") != 0 && strcmp(snap, "no")) {
		snprintf(err, errlen, "\"snapshot\" must be yes or no");
		goto fail;
	}
	l->snapshot = snap != NULL && strcmp(snap, "yes") == 0;
	if (guests != NULL && (copy = strdup(guests)) != NULL) {
		for (p = strtok_r(copy, " \t,", &save); p != NULL;
		    p = strtok_r(NULL, " \t,", &save)) {
			if ((colon = strrchr(p, ':')) == NULL ||
			    parse_action(colon + 1, &l->act[l->nguests]) == -1 ||
			    l->nguests == MAX_GUESTS) {
				snprintf(err, errlen, "\"guests\": \"%s\" is not "
				    "NAME:ACTION", p);
				free(copy);
				goto fail;
			}
			*colon = '\0';
			l->guest[l->nguests++] = strdup(p);
		}
		free(copy);
	}
	*state = l;
	return 0;
fail:
	lva_free(l);
	return -1;
}

/* Logs and records one line about scan s. */
static void __attribute__((format(printf, 3, 4)))
note(struct lva *l, const struct sentinel_scan *s, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	l->host->record(l->host, s->id, text);
}

static const char *
verr(void)
{
	virErrorPtr e = virGetLastError();

	return e && e->message ? e->message : "unknown libvirt error";
}

static void
snapshot(struct lva *l, virDomainPtr dom, const struct sentinel_scan *s)
{
	char xml[512];
	virDomainSnapshotPtr snap;

	snprintf(xml, sizeof(xml), "<domainsnapshot><name>sentinel-scan-%lld"
	    "</name><description>evidence: sentinel scan %lld found %u "
	    "detections</description></domainsnapshot>", (long long)s->id,
	    (long long)s->id, s->detections);
	if ((snap = virDomainSnapshotCreateXML(dom, xml,
	    VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY |
	    VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC)) == NULL) {
		note(l, s, "snapshot failed: %s", verr());
		return;
	}
	note(l, s, "disk-only snapshot sentinel-scan-%lld taken",
	    (long long)s->id);
	virDomainSnapshotFree(snap);
}

static void
lva_finished(void *state, const struct sentinel_scan *s)
{
	struct lva *l = state;
	enum action a = l->def;
	virConnectPtr conn;
	virDomainPtr dom;
	char meta[256], when[32];
	int st = -1, reason, running;
	struct tm tm;
	time_t t;
	size_t i;

	if (s->detections == 0)
		return;
	for (i = 0; i < l->nguests; i++)
		if (strcmp(l->guest[i], s->guest) == 0)
			a = l->act[i];
	if (a == ACT_NONE)
		return;
	if ((conn = virConnectOpen(l->uri)) == NULL) {
		note(l, s, "cannot %s: %s: %s", actions[a], l->uri, verr());
		return;
	}
	if ((dom = virDomainLookupByUUIDString(conn, s->uuid)) == NULL) {
		note(l, s, "cannot %s: no guest %s at %s", actions[a], s->uuid,
		    l->uri);
		virConnectClose(conn);
		return;
	}
	virDomainGetState(dom, &st, &reason, 0);
	running = st == VIR_DOMAIN_RUNNING;
	/* Evidence first, of the disks as the scan saw them. */
	if (l->snapshot)
		snapshot(l, dom, s);
	switch (a) {
	case ACT_NONE:
		break;
	case ACT_SUSPEND:
	case ACT_SHUTDOWN:
		if (!running)
			note(l, s, "%s: left alone, the guest is not running",
			    actions[a]);
		else if ((a == ACT_SUSPEND ? virDomainSuspend(dom) :
		    virDomainShutdown(dom)) == -1)
			note(l, s, "%s failed: %s", actions[a], verr());
		else
			note(l, s, a == ACT_SUSPEND ? "guest suspended (%u "
			    "detections)" : "guest asked to shut down (%u "
			    "detections)", s->detections);
		break;
	case ACT_TAG:
		t = time(NULL);
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(meta, sizeof(meta), "<infected scan='%lld' "
		    "detections='%u' at='%s'/>", (long long)s->id,
		    s->detections, when);
		if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, meta,
		    "sentinel", SENTINEL_NS, VIR_DOMAIN_AFFECT_CONFIG |
		    (running ? VIR_DOMAIN_AFFECT_LIVE : 0)) == -1)
			note(l, s, "tag failed: %s", verr());
		else
			note(l, s, "tagged in the guest's libvirt metadata (%s)",
			    SENTINEL_NS);
		break;
	}
	virDomainFree(dom);
	virConnectClose(conn);
}

static void
lva_shutdown(void *state)
{
	lva_free(state);
}

const struct sentinel_plugin sentinel_plugin = {
	.abi = SENTINEL_PLUGIN_ABI,
	.name = "libvirt-action",
	.init = lva_init,
	.scan_finished = lva_finished,
	.shutdown = lva_shutdown,
};
