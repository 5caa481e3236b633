/*
 * The control commands: what each request does and the JSON it answers
 * with.  control.c hands each request here (ctl_handle) once its hello,
 * framing and peer are checked; replies go back through reply_ok and
 * reply_error.  A request whose answer comes later (after an inventory
 * refresh, or a scan) is a struct pending that holds its client.  Each
 * request is checked against its command's entry of common/cmdtab.c
 * (its keys, their types and bounds, its guest) before its handler runs:
 * the handlers read their arguments as the table says they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "cmdtab.h"
#include "log.h"
#include "proto.h"
#include "sentinel/version.h"
#include "sentineld.h"
#include "throttle.h"
#include "util.h"

#define FOLLOW_MS		1000	/* between progress events */

/* What a scan request waits for before its reply. */
enum scan_wait {
	WAIT_NONE,		/* the reply says it is queued */
	WAIT_RESULT,		/* the scan's result */
	WAIT_FOLLOW		/* progress events, then the result */
};

/* A request whose answer comes later (after a refresh, or a scan). */
struct pending {
	struct client	*c;
	long long	 id;
	char		*guest;
	enum scan_wait	 wait;
	int		 full;		/* scan --full */
	uv_timer_t	*follow;	/* progress events until the end */
	char		 uuid[UUID_BUF];	/* of the scan followed */
};

static struct pending *
pending_new(struct client *c, long long id, const char *guest,
    enum scan_wait wait)
{
	struct pending *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if (guest != NULL && (p->guest = strdup(guest)) == NULL) {
		free(p);
		return NULL;
	}
	p->c = c;
	p->id = id;
	p->wait = wait;
	client_ref(c);
	client_pending(c, 1);
	return p;
}

static void
follow_closed(uv_handle_t *h)
{
	free(h);
}

static void
pending_free(struct pending *p)
{
	if (p->follow != NULL) {
		uv_timer_stop(p->follow);
		uv_close((uv_handle_t *)p->follow, follow_closed);
	}
	client_pending(p->c, -1);
	client_unref(p->c);
	free(p->guest);
	free(p);
}

/* A string member of o, or "" when absent. */
static const char *
str_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

/* A time in ms since the epoch, or null for none. */
static json_t *
since_json(int64_t ms)
{
	return ms > 0 ? json_integer(ms) : json_null();
}

static json_t *
libvirt_json(void)
{
	json_t *o = json_pack("{s:s, s:b, s:b, s:I}", "uri",
	    sd.conf.libvirt_uri, "connected", inventory_connected(),
	    "events", inventory_live(),
	    "guests", (json_int_t)inventory_count());

	if (!inventory_connected())
		json_object_set_new(o, "error", json_string(inventory_error()));
	return o;
}

static json_t *
guest_json(const struct guest *g)
{
	json_t *disks = json_array(), *o, *last;
	struct job *j;
	size_t i;

	for (i = 0; i < g->ndisks; i++)
		json_array_append_new(disks, json_pack("{s:s, s:s, s:s}",
		    "target", g->disks[i].target, "path", g->disks[i].path,
		    "format", g->disks[i].format));
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "name", g->name,
	    "uuid", g->uuid, "state", g->state, "disks", disks, "paused",
	    since_json(schedule_paused(g->uuid)), "next_due",
	    schedule_next_due_json(g->uuid));
	if (g->disk_note != NULL)
		json_object_set_new(o, "disks_not_scanned",
		    json_string(g->disk_note));
	if ((last = jobs_unstored_json(g->uuid, NULL)) != NULL)
		json_object_del(last, "detections");
	else
		last = store_last_scan(g->uuid, NULL, 0);
	json_object_set_new(o, "last_scan", last ? last : json_null());
	j = jobs_find(g->uuid);
	json_object_set_new(o, "scan", j ? job_progress_json(j) : json_null());
	estimate_json(o, g);
	return o;
}

static void
guests_ready(void *arg)
{
	struct pending *p = arg;
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < inventory_count(); i++)
		json_array_append_new(a, guest_json(inventory_at(i)));
	reply_ok(p->c, p->id, json_pack("{s:o, s:o}", "guests", a,
	    "libvirt", libvirt_json()));
	pending_free(p);
}

static void
unknown_guest(struct client *c, long long id, const char *name)
{
	char *esc = escape_bytes(name, strlen(name));

	if (inventory_connected())
		reply_error(c, id, "unknown guest \"%s\": libvirt at %s has no "
		    "such domain", esc ? esc : "?", sd.conf.libvirt_uri);
	else
		reply_error(c, id, "unknown guest \"%s\": libvirt is "
		    "unreachable (%s)", esc ? esc : "?", inventory_error());
	free(esc);
}

static void
scan_finished(void *arg, const json_t *scan)
{
	struct pending *p = arg;

	reply_ok(p->c, p->id, json_pack("{s:O}", "scan", scan));
	pending_free(p);
}

/* scan --follow: the scan's progress every FOLLOW_MS, as events with the
 * request's id, until the reply that ends the stream. */
static void
follow_tick(uv_timer_t *t)
{
	struct pending *p = t->data;
	struct job *j;
	json_t *ev;

	if (client_closed(p->c)) {
		uv_timer_stop(t);	/* the scan goes on; nobody follows */
		return;
	}
	if ((j = jobs_find(p->uuid)) == NULL)
		return;
	ev = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)p->id, "event",
	    "progress", "scan", job_progress_json(j));
	client_send(p->c, ev);
	json_decref(ev);
}

static void
follow_start(struct pending *p, const char *uuid)
{
	if ((p->follow = calloc(1, sizeof(*p->follow))) == NULL)
		return;		/* no events; the final reply still comes */
	snprintf(p->uuid, sizeof(p->uuid), "%s", uuid);
	uv_timer_init(sd.loop, p->follow);
	p->follow->data = p;
	follow_tick(p->follow);
	uv_timer_start(p->follow, follow_tick, FOLLOW_MS, FOLLOW_MS);
}

/* What became of a scan request, from jobs_submit's *was. */
static const char *
request_name(enum submitted was)
{
	return was == SUBMIT_RUNNING ? "already running" :
	    was == SUBMIT_QUEUED ? "moved to the front" : "queued";
}

static void
scan_ready(void *arg)
{
	struct pending *p = arg;
	const struct guest *g;
	struct job *j;
	json_t *sj;
	char err[256];
	enum submitted was;

	if ((g = inventory_find(p->guest)) == NULL) {
		unknown_guest(p->c, p->id, p->guest);
		pending_free(p);
		return;
	}
	if ((j = jobs_submit(g, "on-demand", &was, err, sizeof(err))) == NULL) {
		reply_error(p->c, p->id, "scan %s: %s", g->name, err);
		pending_free(p);
		return;
	}
	/* Read in full even if its images are unchanged; a scan already
	 * running goes on as it started (its worker owns the job now). */
	if (p->full && was != SUBMIT_RUNNING)
		j->full = 1;
	if (p->wait == WAIT_NONE) {
		sj = job_progress_json(j);
		json_object_set_new(sj, "request",
		    json_string(request_name(was)));
		reply_ok(p->c, p->id, json_pack("{s:o}", "scan", sj));
		pending_free(p);
		return;
	}
	if (p->wait == WAIT_FOLLOW)
		follow_start(p, g->uuid);
	jobs_wait(j, scan_finished, p);
}

/* scan --all: every guest libvirt knows, on demand, under the caps. */
static void
scan_all_ready(void *arg)
{
	struct pending *p = arg;
	const struct guest *g;
	json_t *a = json_array(), *sj;
	struct job *j;
	char err[256];
	size_t i;
	enum submitted was;

	for (i = 0; i < inventory_count(); i++) {
		g = inventory_at(i);
		if ((j = jobs_submit(g, "on-demand", &was, err, sizeof(err))) ==
		    NULL)
			sj = json_pack("{s:s, s:s}", "guest", g->name, "error",
			    err);
		else {
			sj = job_progress_json(j);
			json_object_set_new(sj, "request",
			    json_string(request_name(was)));
		}
		json_array_append_new(a, sj);
	}
	reply_ok(p->c, p->id, json_pack("{s:o}", "scans", a));
	pending_free(p);
}

/* The request's "guest", checked by cmd_check; NULL if it has none. */
static const char *
req_guest(json_t *req)
{
	return json_string_value(json_object_get(req, "guest"));
}

static void
cmd_guests(struct client *c, long long id, json_t *req)
{
	struct pending *p;

	(void)req;
	if ((p = pending_new(c, id, NULL, WAIT_NONE)) == NULL) {
		reply_error(c, id, "out of memory");
		return;
	}
	/* Following libvirt's events, the list is current; else it is read
	 * again first. */
	if (inventory_live())
		guests_ready(p);
	else
		inventory_refresh(guests_ready, p);
}

static void
cmd_scan(struct client *c, long long id, json_t *req)
{
	struct pending *p;

	if (json_is_true(json_object_get(req, "all"))) {
		if ((p = pending_new(c, id, NULL, WAIT_NONE)) == NULL) {
			reply_error(c, id, "out of memory");
			return;
		}
		inventory_refresh(scan_all_ready, p);
		return;
	}
	if ((p = pending_new(c, id, req_guest(req),
	    json_is_true(json_object_get(req, "follow")) ? WAIT_FOLLOW :
	    json_is_true(json_object_get(req, "wait")) ? WAIT_RESULT :
	    WAIT_NONE)) == NULL) {
		reply_error(c, id, "out of memory");
		return;
	}
	p->full = json_is_true(json_object_get(req, "full"));
	inventory_refresh(scan_ready, p);
}

/* An optional row id where a page starts (checked by cmd_check): 0 if
 * absent or null. */
static int64_t
page_from(json_t *req, const char *key)
{
	json_t *v = json_object_get(req, key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static void
cmd_results(struct client *c, long long id, json_t *req)
{
	const struct guest *g;
	const char *name = req_guest(req);
	json_t *scan, *sk = json_object_get(req, "skipped");
	json_t *sid = json_object_get(req, "scan");
	struct store_page pg = { 0, 0 };
	char *esc;
	int flags;

	/* A next page of a long list: of one scan, from where the last
	 * page said. */
	pg.detections_from = page_from(req, "detections_from");
	pg.skipped_from = page_from(req, "skipped_from");
	if ((pg.detections_from > 0 || pg.skipped_from > 0) && sid == NULL) {
		reply_error(c, id, "\"detections_from\" and \"skipped_from\" "
		    "need \"scan\"");
		return;
	}
	g = inventory_find(name);
	flags = STORE_DETECTIONS | (json_is_true(sk) ? STORE_SKIPPED : 0);
	if (sid != NULL) {
		scan = store_scan_by_id(json_integer_value(sid), flags, &pg);
		if (scan != NULL && strcmp(str_of(scan, g ? "uuid" : "guest"),
		    g ? g->uuid : name) != 0) {
			json_decref(scan);
			scan = NULL;
		}
		if (scan == NULL) {
			esc = escape_bytes(name, strlen(name));
			reply_error(c, id, "guest \"%s\" has no scan %lld",
			    esc ? esc : "?",
			    (long long)json_integer_value(sid));
			free(esc);
			return;
		}
	/* A result waiting for the state database is the newest. */
	} else if ((scan = jobs_unstored_json(g ? g->uuid : NULL, name)) ==
	    NULL)
		scan = store_last_scan(g ? g->uuid : NULL, g ? NULL : name,
		    flags);
	if (scan == NULL) {
		if (g == NULL) {
			unknown_guest(c, id, name);
			return;
		}
		esc = escape_bytes(name, strlen(name));
		reply_error(c, id, "guest \"%s\" has not been scanned yet",
		    esc ? esc : "?");
		free(esc);
		return;
	}
	reply_ok(c, id, json_pack("{s:o}", "scan", scan));
}

static void
cmd_cancel(struct client *c, long long id, json_t *req)
{
	const struct guest *g;
	const char *name, *what;
	struct job *j;
	json_t *sj;

	name = req_guest(req);
	if ((g = inventory_find(name)) == NULL) {
		unknown_guest(c, id, name);
		return;
	}
	if ((j = jobs_find(g->uuid)) == NULL) {
		reply_error(c, id, "guest \"%s\" has no scan running or "
		    "requested", g->name);
		return;
	}
	sj = job_progress_json(j);	/* before a withdrawn job is freed */
	what = jobs_cancel(j, json_is_true(json_object_get(req, "resume")));
	json_object_set_new(sj, "request", json_string(what));
	reply_ok(c, id, json_pack("{s:o}", "scan", sj));
}

static void
reload_replied(void *arg, const char *err)
{
	struct pending *p = arg;

	if (err != NULL)
		reply_error(p->c, p->id, "reload failed, the signatures "
		    "loaded before stay: %s", err);
	else
		reply_ok(p->c, p->id, json_pack("{s:{s:s, s:i, s:i, s:I, s:s}}",
		    "engine", "database", scanner_dbdir(sd.scanner),
		    "signatures", (int)scanner_signatures(sd.scanner),
		    "yara_rules", (int)scanner_yara_rules(sd.scanner),
		    "load_ms", (json_int_t)scanner_load_ms(sd.scanner),
		    "version", scanner_version(sd.scanner)));
	pending_free(p);
}

static void
cmd_reload(struct client *c, long long id, json_t *req)
{
	struct pending *p;

	(void)req;
	if ((p = pending_new(c, id, NULL, WAIT_NONE)) == NULL) {
		reply_error(c, id, "out of memory");
		return;
	}
	signatures_reload(reload_replied, p);
}

/* pause and resume, of one guest or (without "guest") of all. */
static void
pause_resume(struct client *c, long long id, json_t *req, int on)
{
	const struct guest *g = NULL;
	const char *name;
	char err[256];

	if ((name = req_guest(req)) != NULL) {
		if ((g = inventory_find(name)) == NULL) {
			unknown_guest(c, id, name);
			return;
		}
	}
	if (schedule_pause(g ? g->uuid : NULL, g ? g->name : NULL, on, err,
	    sizeof(err)) == -1) {
		reply_error(c, id, "%s", err);
		return;
	}
	reply_ok(c, id, json_pack("{s:o, s:b, s:o}", "guest",
	    g ? json_string(g->name) : json_null(), "paused", on,
	    "all_paused", since_json(schedule_paused(NULL))));
}

static void
cmd_pause(struct client *c, long long id, json_t *req)
{
	pause_resume(c, id, req, 1);
}

static void
cmd_resume(struct client *c, long long id, json_t *req)
{
	pause_resume(c, id, req, 0);
}

/* An answer of the fleet's database, to the request waiting for it. */
static void
fleet_replied(void *arg, json_t *v, const char *err)
{
	struct pending *p = arg;

	if (v == NULL)
		reply_error(p->c, p->id, "%s", err);
	else
		reply_ok(p->c, p->id, json_incref(v));
	pending_free(p);
}

static void
cmd_fleet(struct client *c, long long id, json_t *req)
{
	struct pending *p;

	(void)req;
	if (!fleet_enabled()) {
		reply_error(c, id, "this host is in no fleet: [fleet] database "
		    "is not set");
		return;
	}
	if ((p = pending_new(c, id, NULL, WAIT_NONE)) == NULL) {
		reply_error(c, id, "out of memory");
		return;
	}
	fleet_guests(fleet_replied, p);
}

/* Past scans, newest first: of a guest (known or gone), or of all. */
static void
cmd_history(struct client *c, long long id, json_t *req)
{
	const char *name = req_guest(req);
	const struct guest *g = name ? inventory_find(name) : NULL;
	json_t *lj = json_object_get(req, "limit");
	json_int_t limit = lj != NULL ? json_integer_value(lj) : 20;
	int64_t before = page_from(req, "before");
	struct pending *p;

	if (json_is_true(json_object_get(req, "fleet"))) {
		if (!fleet_enabled()) {
			reply_error(c, id, "this host is in no fleet: [fleet] "
			    "database is not set");
			return;
		}
		if (before > 0) {
			reply_error(c, id, "history --fleet has one page: "
			    "raise --limit");
			return;
		}
		if ((p = pending_new(c, id, NULL, WAIT_NONE)) == NULL) {
			reply_error(c, id, "out of memory");
			return;
		}
		fleet_history(g ? g->uuid : name ? name : "", (long long)limit,
		    fleet_replied, p);
		return;
	}

	reply_ok(c, id, store_history_json(g ? g->uuid : NULL, g ? NULL : name,
	    limit, before));
}

static void
cmd_version(struct client *c, long long id, json_t *req)
{
	unsigned long lv = 0;
	char lvs[32];

	(void)req;
	virGetVersion(&lv, NULL, NULL);
	snprintf(lvs, sizeof(lvs), "%lu.%lu.%lu", lv / 1000000,
	    lv / 1000 % 1000, lv % 1000);
	reply_ok(c, id, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s}", "version",
	    SENTINEL_VERSION, "protocol", SENTINEL_PROTO_VERSION, "libclamav",
	    scanner_libversion(sd.scanner), "signatures", scanner_version(sd.scanner),
	    "libvirt", lvs, "libuv", uv_version_string()));
}

/* The effective settings: the text `sentineld -n` prints, and the same
 * as an object of sections of name: value (as the file would say). */
/* One setting into the object of its section. */
static int
config_put(void *arg, const char *section, const char *name,
    const char *value)
{
	json_t *o = arg, *sec, *v;
	char *esc;

	if ((sec = json_object_get(o, section)) == NULL &&
	    json_object_set_new(o, section, sec = json_object()) == -1)
		return -1;
	/* Bytes that are not UTF-8 (a path in a setting) are escaped. */
	if ((v = json_string(value)) == NULL &&
	    (esc = escape_bytes(value, strlen(value))) != NULL) {
		v = json_string(esc);
		free(esc);
	}
	return json_object_set_new(sec, name, v);
}

static void
cmd_config(struct client *c, long long id, json_t *req)
{
	json_t *o;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)req;
	if ((f = open_memstream(&text, &len)) == NULL) {
		reply_error(c, id, "out of memory");
		return;
	}
	config_print(&sd.conf, f);
	fclose(f);
	/* From the option table, not from the text: what -n prints. */
	if ((o = json_object()) == NULL ||
	    config_walk(&sd.conf, config_put, o) == -1) {
		json_decref(o);
		free(text);
		reply_error(c, id, "out of memory building the reply");
		return;
	}
	reply_ok(c, id, json_pack("{s:s, s:s, s:o}", "path", sd.conf_path,
	    "text", text, "config", o));
	free(text);
}

static void
cmd_schedule(struct client *c, long long id, json_t *req)
{
	json_t *rows, *round;

	(void)req;
	rows = schedule_json(&round);
	reply_ok(c, id, json_pack("{s:o, s:o}", "guests", rows, "round",
	    round));
}

static void
cmd_status(struct client *c, long long id, json_t *req)
{
	struct est_rates rates;
	struct pressure pr;
	int64_t built;
	json_t *o;
	int high;

	(void)req;
	high = schedule_pressure(&pr);
	built = scanner_signature_time(sd.scanner);
	estimate_rates(&rates);
	o = json_pack("{s:s, s:i, s:I, s:o, s:o, s:{s:s, s:i, s:i, "
	    "s:I, s:s, s:I, s:o, s:b}, s:{s:i, s:s, s:b}, s:{s:i, s:i, s:i, "
	    "s:i, s:I, s:o}, s:{s:f, s:f, s:f, s:b}, s:{s:i, s:I, s:I, s:I}}",
	    "version", SENTINEL_VERSION,
	    "pid", (int)getpid(),
	    "uptime", (json_int_t)((now_ms() - sd.started_ms) / 1000),
	    "paused", since_json(schedule_paused(NULL)),
	    "libvirt", libvirt_json(),
	    "engine", "database", scanner_dbdir(sd.scanner),
	    "signatures", (int)scanner_signatures(sd.scanner),
	    "yara_rules", (int)scanner_yara_rules(sd.scanner),
	    "load_ms", (json_int_t)scanner_load_ms(sd.scanner),
	    "version", scanner_version(sd.scanner),
	    "cached_clean", (json_int_t)vcache_size(),
	    "built", built > 0 ? json_integer((json_int_t)built) : json_null(),
	    "outdated", scanner_outdated(sd.scanner, (int64_t)time(NULL)),
	    "scanner", "pid", (int)scanner_pid(sd.scanner),
	    "user", sd.conf.scanner_user,
	    "reloading", scanner_reloading(),
	    "scans", "running", (int)jobs_running(),
	    "queued", (int)schedule_waiting(),
	    "max_concurrent", (int)sd.max_scans,
	    "per_storage", (int)sd.conf.per_storage_scans,
	    "read_rate", (json_int_t)throttle_rate(schedule_throttle()),
	    "jobs", jobs_json(),
	    "pressure", "io", pr.io, "cpu", pr.cpu, "load", pr.load,
	    "high", high,
	    "throughput", "scans", (int)rates.scans,
	    "read_rate", (json_int_t)rates.read_rate,
	    "launch_ms", (json_int_t)rates.launch_ms,
	    "scan_ms", (json_int_t)rates.scan_ms);
	if (o != NULL)
		json_object_set_new(o, "fleet", fleet_status_json());
	reply_ok(c, id, o);
}

/* The handler of each command of cmd_table, by name. */
static const struct ctl_handler {
	const char	*name;
	void		(*fn)(struct client *, long long, json_t *);
} ctl_handlers[] = {
	{ "guests",	cmd_guests },
	{ "scan",	cmd_scan },
	{ "cancel",	cmd_cancel },
	{ "reload",	cmd_reload },
	{ "results",	cmd_results },
	{ "schedule",	cmd_schedule },
	{ "status",	cmd_status },
	{ "pause",	cmd_pause },
	{ "resume",	cmd_resume },
	{ "history",	cmd_history },
	{ "version",	cmd_version },
	{ "config",	cmd_config },
	{ "fleet",	cmd_fleet },
};

static void
(*handler(const char *name))(struct client *, long long, json_t *)
{
	size_t i;

	for (i = 0; i < sizeof(ctl_handlers) / sizeof(ctl_handlers[0]); i++)
		if (strcmp(name, ctl_handlers[i].name) == 0)
			return ctl_handlers[i].fn;
	return NULL;
}

/* At start: a command of the table that this daemon cannot run is a
 * mistake of the build, not of a client. */
int
ctl_check_table(char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < cmd_count; i++)
		if (handler(cmd_table[i].name) == NULL) {
			snprintf(err, errlen, "control command %s has no "
			    "handler", cmd_table[i].name);
			return -1;
		}
	return 0;
}

void
ctl_handle(struct client *c, long long id, const char *cmd, json_t *req)
{
	const struct cmd_entry *e;
	char known[256] = "", err[512];
	size_t i;

	if ((e = cmd_find(cmd)) != NULL) {
		if (cmd_check(e, req, err, sizeof(err)) == -1)
			reply_error(c, id, "%s", err);
		else
			handler(cmd)(c, id, req);
		return;
	}
	for (i = 0; i < cmd_count; i++)
		snprintf(known + strlen(known), sizeof(known) - strlen(known),
		    "%s%s", i ? ", " : "", cmd_table[i].name);
	if (strlen(cmd) > 64)
		reply_error(c, id, "unknown command (known: %s)", known);
	else {
		char *esc = escape_bytes(cmd, strlen(cmd));
		reply_error(c, id, "unknown command \"%s\" (known: %s)",
		    esc ? esc : "?", known);
		free(esc);
	}
}
