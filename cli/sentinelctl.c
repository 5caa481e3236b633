/*
 * sentinelctl: asks sentineld over its control socket.  This file reads
 * the command line, as common/cmdtab.c defines it, and runs the
 * commands; client.c and show.c do the talking and the rendering.
 */
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmdtab.h"
#include "config.h"
#include "sentinel/version.h"
#include "sentinelctl.h"
#include "util.h"

static int	cmd_guests(struct ctl *, int, char **);
static int	cmd_scan(struct ctl *, int, char **);
static int	cmd_results(struct ctl *, int, char **);
static int	cmd_status(struct ctl *, int, char **);
static int	cmd_schedule(struct ctl *, int, char **);
static int	cmd_cancel(struct ctl *, int, char **);
static int	cmd_reload(struct ctl *, int, char **);
static int	cmd_pause(struct ctl *, int, char **);
static int	cmd_history(struct ctl *, int, char **);
static int	cmd_version(struct ctl *, int, char **);
static int	cmd_config(struct ctl *, int, char **);
static int	cmd_resume(struct ctl *, int, char **);
static int	cmd_fleet(struct ctl *, int, char **);

/* What sentinelctl does with each command of cmd_table, by name. */
static const struct ctl_command {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
} commands[] = {
	{ "guests",	cmd_guests },
	{ "scan",	cmd_scan },
	{ "cancel",	cmd_cancel },
	{ "pause",	cmd_pause },
	{ "resume",	cmd_resume },
	{ "results",	cmd_results },
	{ "history",	cmd_history },
	{ "schedule",	cmd_schedule },
	{ "reload",	cmd_reload },
	{ "status",	cmd_status },
	{ "config",	cmd_config },
	{ "version",	cmd_version },
	{ "fleet",	cmd_fleet },
};

static void __attribute__((noreturn))
usage(void)
{
	size_t i;

	fprintf(stderr, "usage: sentinelctl [--json] [--socket PATH] "
	    "COMMAND [ARGS]\ncommands:\n");
	for (i = 0; i < cmd_count; i++)
		fprintf(stderr, "  %s\n      %s\n", cmd_table[i].usage,
		    cmd_table[i].help);
	exit(EXIT_ERROR);
}

static const char *following;	/* the guest, for the SIGINT handler */

static void
stop_following(int sig)
{
	char msg[512];
	int n;

	(void)sig;
	n = snprintf(msg, sizeof(msg), "\nsentinelctl: stopped following; "
	    "the scan goes on (sentinelctl results %s)\n", following);
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ?
		    (size_t)n : sizeof(msg) - 1);
	_exit(EXIT_ERROR);
}

static int
cmd_guests(struct ctl *c, int argc, char **argv)
{
	json_t *r, *gs, *g, *last, *lv;
	char when[32], due[32], est[16];
	size_t i;

	(void)argc;
	(void)argv;
	r = ctl_request(c, request(c, "guests", NULL));
	if (c->json) {
		print_json(r);
		json_decref(r);
		return EXIT_CLEAN;
	}
	lv = json_object_get(r, "libvirt");
	if (!json_is_true(json_object_get(lv, "connected")))
		fprintf(stderr, "sentinelctl: warning: libvirt unreachable, "
		    "list may be stale: %s\n", str(lv, "error"));
	gs = json_object_get(r, "guests");
	printf("%-24s %-10s %-5s %-19s %-10s %-4s %-7s %s\n", "NAME", "STATE",
	    "DISKS", "LAST SCAN", "RESULT", "DET", "EST", "NEXT DUE");
	json_array_foreach(gs, i, g) {
		last = json_object_get(g, "last_scan");
		format_span(json_is_integer(json_object_get(g, "estimate_ms")) ?
		    num(g, "estimate_ms") : -1, est, sizeof(est));
		format_time(json_is_object(last) ? num(last, "ended") : 0, when,
		    sizeof(when));
		if (json_is_integer(json_object_get(g, "paused")))
			snprintf(due, sizeof(due), "paused");
		else
			format_time(num(g, "next_due"), due, sizeof(due));
		printf("%-24s %-10s %-5zu %-19s %-10s %-4lld %-7s %s\n",
		    str(g, "name"), str(g, "state"),
		    json_array_size(json_object_get(g, "disks")), when,
		    json_is_object(json_object_get(g, "scan")) ?
		    str(json_object_get(g, "scan"), "state") :
		    json_is_object(last) ? str(last, "status") : "-",
		    json_is_object(last) ? num(last, "detection_count") : 0,
		    est, due);
	}
	json_decref(r);
	return EXIT_CLEAN;
}

/* The worse of two exit statuses: error, then detections, then clean. */
static int
worse(int a, int b)
{
	return a > b ? a : b;
}

/* Appends what array KEY of FROM holds to the same array of TO. */
static void
append_list(json_t *to, json_t *from, const char *key)
{
	json_t *a = json_object_get(to, key), *b = json_object_get(from, key);

	if (json_is_array(a) && json_is_array(b))
		json_array_extend(a, b);
}

/*
 * A scan's detections and skipped paths come a page at a time (every
 * reply is bounded): the pages after the first are asked for, by the
 * scan's id, and added to S.  A list done is asked for past its end.
 */
static void
fetch_pages(struct ctl *c, const char *guest, json_t *s)
{
	json_t *req, *r, *page, *dn, *sn, *v;
	json_int_t was_d, was_s;

	for (;;) {
		dn = json_object_get(s, "detections_next");
		sn = json_object_get(s, "skipped_next");
		if (!json_is_integer(json_object_get(s, "id")) ||
		    (!json_is_integer(dn) && !json_is_integer(sn)))
			break;
		was_d = json_is_integer(dn) ? json_integer_value(dn) : 0;
		was_s = json_is_integer(sn) ? json_integer_value(sn) : 0;
		req = json_pack("{s:s, s:s, s:O, s:b, s:I, s:I}", "cmd",
		    "results", "guest", guest, "scan",
		    json_object_get(s, "id"), "skipped", json_is_integer(sn),
		    "detections_from", json_is_integer(dn) ?
		    json_integer_value(dn) : (json_int_t)INT64_MAX,
		    "skipped_from", json_is_integer(sn) ?
		    json_integer_value(sn) : (json_int_t)INT64_MAX);
		r = ctl_request(c, req);
		page = json_object_get(r, "scan");
		append_list(s, page, "detections");
		append_list(s, page, "skipped_paths");
		/* A page that does not move on ends the fetching: never a
		 * loop on a reply that repeats itself. */
		v = json_object_get(page, "detections_next");
		json_object_set_new(s, "detections_next", was_d > 0 &&
		    json_is_integer(v) && json_integer_value(v) > was_d ?
		    json_incref(v) : json_null());
		v = json_object_get(page, "skipped_next");
		if (sn != NULL)
			json_object_set_new(s, "skipped_next", was_s > 0 &&
			    json_is_integer(v) && json_integer_value(v) >
			    was_s ? json_incref(v) : json_null());
		json_decref(r);
	}
}

/* Whether a scan in a reply has pages still to fetch. */
static int
has_pages(json_t *s)
{
	return json_is_integer(json_object_get(s, "id")) &&
	    (json_is_integer(json_object_get(s, "detections_next")) ||
	    json_is_integer(json_object_get(s, "skipped_next")));
}

/* One reply of scan_many, shown (or kept for --json). */
static void
scan_many_show(struct ctl *c, json_t *r, const char *guest, json_t *all,
    int more)
{
	if (c->json) {
		json_object_set_new(r, "guest", json_string(guest));
		json_array_append(all, r);
	} else if (json_is_true(json_object_get(r, "ok"))) {
		if (c->opt[ARG_WAIT]) {
			print_scan(json_object_get(r, "scan"));
			if (more)
				putchar('\n');
		} else
			printf("scan %lld of %s: %s\n",
			    num(json_object_get(r, "scan"), "id"), guest,
			    str(json_object_get(r, "scan"), "request"));
	}
}

/*
 * scan NAME...: every request first (so the scans queue together, under
 * the caps), then the replies as they come; one guest's error does not
 * stop the others.  The exit status is the worst.  A result with more
 * pages (thousands of detections) is completed and shown once every
 * reply is in: no page request may cross the replies still to come.
 */
static int
scan_many(struct ctl *c, int argc, char **argv)
{
	json_t *req, *r, *id, *all = json_array(), *later = json_array();
	int i, n, left = argc, rc = EXIT_CLEAN;
	size_t k;

	for (i = 0; i < argc; i++) {
		req = request(c, "scan", argv[i]);
		json_object_set_new(req, "id", json_integer(i + 1));
		ctl_write(c, req);
		json_decref(req);
	}
	while (left > 0) {
		r = ctl_read(c);
		id = json_object_get(r, "id");
		n = json_is_integer(id) ? (int)json_integer_value(id) : 0;
		if (n < 1 || n > argc) {
			json_decref(r);
			continue;
		}
		left--;
		if (!json_is_true(json_object_get(r, "ok"))) {
			rc = EXIT_ERROR;
			if (!c->json)
				fprintf(stderr, "sentinelctl: %s\n",
				    str(r, "error"));
		} else if (c->opt[ARG_WAIT]) {
			rc = worse(rc, status_exit(str(json_object_get(r,
			    "scan"), "status")));
			if (has_pages(json_object_get(r, "scan"))) {
				json_array_append_new(later, r);
				continue;
			}
		}
		scan_many_show(c, r, argv[n - 1], all, left > 0 ||
		    json_array_size(later) > 0);
		json_decref(r);
	}
	json_array_foreach(later, k, r) {
		n = (int)json_integer_value(json_object_get(r, "id"));
		fetch_pages(c, argv[n - 1], json_object_get(r, "scan"));
		scan_many_show(c, r, argv[n - 1], all,
		    k + 1 < json_array_size(later));
	}
	json_decref(later);
	if (c->json) {
		r = json_pack("{s:o}", "replies", all);
		print_json(r);
		json_decref(r);
	} else
		json_decref(all);
	return rc;
}

static int
cmd_scan(struct ctl *c, int argc, char **argv)
{
	json_t *r, *s, *a;
	int rc = EXIT_CLEAN;
	size_t i;

	if (c->opt[ARG_ALL]) {
		r = ctl_request(c, request(c, "scan", NULL));
		if (c->json)
			print_json(r);
		else {
			a = json_object_get(r, "scans");
			json_array_foreach(a, i, s) {
				if (json_is_string(json_object_get(s, "error"))) {
					printf("%-24s error: %s\n", str(s, "guest"),
					    str(s, "error"));
					rc = EXIT_ERROR;
				} else
					printf("%-24s scan %lld: %s\n",
					    str(s, "guest"), num(s, "id"),
					    str(s, "request"));
			}
		}
		json_decref(r);
		return rc;
	}
	if (argc > 1) {
		if (c->opt[ARG_FOLLOW])
			die("--follow takes one guest");
		return scan_many(c, argc, argv);
	}
	if (c->opt[ARG_FOLLOW]) {
		following = argv[0];
		signal(SIGINT, stop_following);
		c->opt[ARG_WAIT] = 1;
	}
	r = ctl_request(c, request(c, "scan", argv[0]));
	signal(SIGINT, SIG_DFL);
	if (c->opt[ARG_FOLLOW] && !c->json && isatty(STDOUT_FILENO))
		printf("\r\033[K");
	s = json_object_get(r, "scan");
	if (c->opt[ARG_WAIT]) {
		fetch_pages(c, argv[0], s);
		rc = status_exit(str(s, "status"));
	}
	if (c->json)
		print_json(r);
	else if (c->opt[ARG_WAIT])
		print_scan(s);
	else
		printf("scan %lld of %s: %s\n", num(s, "id"), str(s, "guest"),
		    str(s, "request"));
	json_decref(r);
	return rc;
}

static int
cmd_results(struct ctl *c, int argc, char **argv)
{
	json_t *r, *s;
	int rc;

	(void)argc;
	r = ctl_request(c, request(c, "results", argv[0]));
	s = json_object_get(r, "scan");
	fetch_pages(c, argv[0], s);
	rc = status_exit(str(s, "status"));
	if (c->json)
		print_json(r);
	else
		print_scan(s);
	json_decref(r);
	return rc;
}

static int
cmd_history(struct ctl *c, int argc, char **argv)
{
	json_t *req, *r = NULL, *s, *page, *nx;
	long long left = c->opt[ARG_LIMIT] > 0 ? c->opt[ARG_LIMIT] : 20;
	json_int_t before = 0;
	char when[32], note[128];
	size_t i;

	/* A page at a time (every reply is bounded), into one list. */
	for (;;) {
		req = request(c, "history", argc == 1 ? argv[0] : NULL);
		json_object_set_new(req, "limit", json_integer(left));
		if (before > 0)
			json_object_set_new(req, "before",
			    json_integer(before));
		page = ctl_request(c, req);
		left -= (long long)json_array_size(json_object_get(page,
		    "scans"));
		nx = json_object_get(page, "next");
		before = json_is_integer(nx) ? json_integer_value(nx) : 0;
		json_object_del(page, "next");
		if (r == NULL)
			r = page;
		else {
			append_list(r, page, "scans");
			json_decref(page);
		}
		if (before == 0 || left <= 0)
			break;
	}
	if (c->json) {
		print_json(r);
		json_decref(r);
		return EXIT_CLEAN;
	}
	if (c->opt[ARG_FLEET])
		printf("%-16s ", "HOST");
	printf("%-7s %-24s %-10s %-19s %-10s %8s %4s %-7s %s\n", "SCAN",
	    "GUEST", "TRIGGER", "ENDED", "STATUS", "FILES", "DET", "VIEW",
	    "REASON");
	json_array_foreach(json_object_get(r, "scans"), i, s) {
		format_time(num(s, "ended"), when, sizeof(when));
		not_complete(s, note, sizeof(note));
		if (c->opt[ARG_FLEET])
			printf("%-16s ", str(s, "host"));
		printf("%-7lld %-24s %-10s %-19s %-10s %8lld %4lld %-7s %s%s\n",
		    num(s, "id"), str(s, "guest"), str(s, "trigger"), when,
		    str(s, "status"), num(s, "files"),
		    num(s, "detection_count"),
		    json_is_string(json_object_get(s, "view")) ?
		    str(s, "view") : "-",
		    json_is_string(json_object_get(s, "reason")) ?
		    str(s, "reason") : "",
		    /* "; not complete: ..." without its "; " alone */
		    note[0] == '\0' ? "" : json_is_string(json_object_get(s,
		    "reason")) ? note : note + 2);
	}
	json_decref(r);
	return EXIT_CLEAN;
}

/* The fleet's guests, a line per host that sees each; then its hosts. */
static int
cmd_fleet(struct ctl *c, int argc, char **argv)
{
	json_t *r, *g, *l, *h;
	char when[32], due[32], seen[32];
	size_t i;

	(void)argc;
	(void)argv;
	r = ctl_request(c, request(c, "fleet", NULL));
	if (c->json) {
		print_json(r);
		json_decref(r);
		return EXIT_CLEAN;
	}
	printf("%-24s %-16s %-10s %-19s %-16s %-10s %4s %s\n", "GUEST", "HOST",
	    "STATE", "NEXT DUE", "LAST SCANNED BY", "STATUS", "DET",
	    "ENDED");
	json_array_foreach(json_object_get(r, "guests"), i, g) {
		l = json_object_get(g, "last_scan");
		format_time(num(g, "next_due"), due, sizeof(due));
		if (json_is_object(l))
			format_time(num(l, "ended"), when, sizeof(when));
		printf("%-24s %-16s %-10s %-19s %-16s %-10s %4lld %s\n",
		    str(g, "name"), str(g, "host"), str(g, "state"),
		    json_is_integer(json_object_get(g, "next_due")) ? due : "-",
		    json_is_object(l) ? str(l, "host") : "-",
		    json_is_object(l) ? str(l, "status") : "never",
		    json_is_object(l) ? num(l, "detection_count") : 0LL,
		    json_is_object(l) ? when : "-");
	}
	printf("\n%-24s %-16s %-19s %s\n", "HOST", "VERSION", "SEEN",
	    "BACKLOG");
	json_array_foreach(json_object_get(r, "hosts"), i, h) {
		format_time(num(h, "seen"), seen, sizeof(seen));
		printf("%-24s %-16s %-19s %lld\n", str(h, "name"),
		    str(h, "version"), seen, num(h, "backlog"));
	}
	json_decref(r);
	return EXIT_CLEAN;
}

static int
cmd_version(struct ctl *c, int argc, char **argv)
{
	json_t *r;

	(void)argc;
	(void)argv;
	r = ctl_request(c, request(c, "version", NULL));
	if (c->json) {
		json_object_set_new(r, "client_version",
		    json_string(SENTINEL_VERSION));
		print_json(r);
	} else {
		printf("sentinelctl:  %s\n", SENTINEL_VERSION);
		printf("sentineld:    %s (protocol %lld)\n", str(r, "version"),
		    num(r, "protocol"));
		printf("libclamav:    %s, signatures %s\n", str(r, "libclamav"),
		    str(r, "signatures"));
		printf("libvirt:      %s\n", str(r, "libvirt"));
		printf("libuv:        %s\n", str(r, "libuv"));
	}
	json_decref(r);
	return EXIT_CLEAN;
}

static int
cmd_config(struct ctl *c, int argc, char **argv)
{
	json_t *r;

	(void)argc;
	(void)argv;
	/* The file is root's, its lines shown as they are. */
	c->raw_text = 1;
	r = ctl_request(c, request(c, "config", NULL));
	if (c->json)
		print_json(r);
	else
		printf("# %s\n%s", str(r, "path"), str(r, "text"));
	json_decref(r);
	return EXIT_CLEAN;
}

static int
cmd_cancel(struct ctl *c, int argc, char **argv)
{
	json_t *r, *s;

	(void)argc;
	r = ctl_request(c, request(c, "cancel", argv[0]));
	s = json_object_get(r, "scan");
	if (c->json)
		print_json(r);
	else
		printf("scan %lld of %s: %s\n", num(s, "id"), str(s, "guest"),
		    str(s, "request"));
	json_decref(r);
	return EXIT_CLEAN;
}

static int
pause_resume(struct ctl *c, int argc, char **argv, const char *cmd)
{
	json_t *req, *r;

	req = request(c, cmd, argc == 1 ? argv[0] : NULL);
	r = ctl_request(c, req);
	if (c->json)
		print_json(r);
	else if (json_is_string(json_object_get(r, "guest")))
		printf("%s: %s%s\n", str(r, "guest"),
		    json_is_true(json_object_get(r, "paused")) ?
		    "paused, no scan on schedule until resumed" :
		    "back on schedule",
		    json_is_integer(json_object_get(r, "all_paused")) ?
		    " (all scheduled scans are paused too)" : "");
	else
		printf("%s\n", json_is_true(json_object_get(r, "paused")) ?
		    "all scheduled scans paused until resumed (on-demand "
		    "scans still run)" : "scheduled scans resumed");
	json_decref(r);
	return EXIT_CLEAN;
}

static int
cmd_pause(struct ctl *c, int argc, char **argv)
{
	return pause_resume(c, argc, argv, "pause");
}

static int
cmd_resume(struct ctl *c, int argc, char **argv)
{
	return pause_resume(c, argc, argv, "resume");
}

static int
cmd_reload(struct ctl *c, int argc, char **argv)
{
	json_t *r, *e;

	(void)argc;
	(void)argv;
	r = ctl_request(c, request(c, "reload", NULL));
	e = json_object_get(r, "engine");
	if (c->json)
		print_json(r);
	else
		printf("signatures: %lld from %s, %lld YARA rules (version %s, "
		    "loaded in %lld ms)\n", num(e, "signatures"),
		    str(e, "database"), num(e, "yara_rules"), str(e, "version"),
		    num(e, "load_ms"));
	json_decref(r);
	return EXIT_CLEAN;
}

static int
cmd_schedule(struct ctl *c, int argc, char **argv)
{
	json_t *r, *gs, *g, *last, *sc, *rd;
	char due[32], when[32], b[32], what[64], est[16];
	size_t i;

	(void)argc;
	(void)argv;
	r = ctl_request(c, request(c, "schedule", NULL));
	if (c->json) {
		print_json(r);
		json_decref(r);
		return EXIT_CLEAN;
	}
	gs = json_object_get(r, "guests");
	printf("%-24s %-22s %-19s %-10s %-7s %s\n", "NAME", "STATE",
	    "LAST SCAN", "RESULT", "EST", "NEXT DUE");
	json_array_foreach(gs, i, g) {
		last = json_object_get(g, "last_scan");
		sc = json_object_get(g, "scan");
		format_span(num(g, "estimate_ms"), est, sizeof(est));
		format_time(json_is_object(last) ? num(last, "ended") : 0, when,
		    sizeof(when));
		format_time(num(g, "next_due"), due, sizeof(due));
		if (json_is_object(sc)) {
			format_size((uint64_t)num(sc, "bytes_read"), b, sizeof(b));
			snprintf(what, sizeof(what), "running %lld files %s",
			    num(sc, "files"), b);
		} else if (strcmp(str(g, "state"), "idle") == 0 ||
		    strcmp(str(g, "state"), "excluded") == 0)
			snprintf(what, sizeof(what), "%s", str(g, "state"));
		else
			snprintf(what, sizeof(what), "queued (%s)%s",
			    str(g, "state"), json_is_true(json_object_get(g,
			    "on_demand")) ? " on demand" : "");
		printf("%-24s %-22s %-19s %-10s %-7s %s\n", str(g, "name"),
		    what, when, json_is_object(last) ? str(last, "status") :
		    "-", est, due);
		/* Held back by the fleet: by whom. */
		if (json_is_string(json_object_get(g, "fleet")))
			printf("  fleet: %s\n", str(g, "fleet"));
	}
	rd = json_object_get(r, "round");
	if (json_is_object(rd) && num(rd, "guests") > 0) {
		format_time(num(rd, "ends"), due, sizeof(due));
		printf("round: %lld guests running, queued or due within the "
		    "interval; the last ends about %s (at most %lld at once, in "
		    "their windows; storage caps and pressure not counted)\n",
		    num(rd, "guests"), due, num(rd, "cap"));
	}
	json_decref(r);
	return EXIT_CLEAN;
}

static int
cmd_status(struct ctl *c, int argc, char **argv)
{
	json_t *r, *lv, *en, *sc, *jobs, *j, *pr, *tp, *fl;
	char b[32];
	size_t i;

	(void)argc;
	(void)argv;
	r = ctl_request(c, request(c, "status", NULL));
	if (c->json) {
		print_json(r);
		json_decref(r);
		return EXIT_CLEAN;
	}
	lv = json_object_get(r, "libvirt");
	en = json_object_get(r, "engine");
	sc = json_object_get(r, "scans");
	printf("sentineld:    %s, pid %lld, up %lld s\n", str(r, "version"),
	    num(r, "pid"), num(r, "uptime"));
	printf("libvirt:      %s, %s, %lld guests%s%s\n", str(lv, "uri"),
	    !json_is_true(json_object_get(lv, "connected")) ? "unreachable" :
	    json_is_true(json_object_get(lv, "events")) ?
	    "connected, following events" : "connected, no events",
	    num(lv, "guests"),
	    json_is_string(json_object_get(lv, "error")) ? ": " : "",
	    json_is_string(json_object_get(lv, "error")) ? str(lv, "error") : "");
	if (json_is_integer(json_object_get(r, "paused"))) {
		char since[32];

		format_time(num(r, "paused"), since, sizeof(since));
		printf("schedule:     paused since %s (on-demand scans still "
		    "run)\n", since);
	}
	printf("signatures:   %lld from %s, %lld YARA rules (version %s, loaded "
	    "in %lld ms)\n", num(en, "signatures"), str(en, "database"),
	    num(en, "yara_rules"), str(en, "version"), num(en, "load_ms"));
	if (json_is_integer(json_object_get(en, "built"))) {
		char built[32];
		long long age = (long long)time(NULL) - num(en, "built");

		format_time(num(en, "built") * 1000, built, sizeof(built));
		printf("              dated %s, %lld %s ago%s\n", built,
		    age >= 172800 ? age / 86400 : age / 3600,
		    age >= 172800 ? "days" : "hours",
		    json_is_true(json_object_get(en, "outdated")) ?
		    "; OUTDATED: older than [clamav] max_signature_age" : "");
	}
	printf("cache:        %lld clean content hashes\n",
	    num(en, "cached_clean"));
	if (json_is_object(json_object_get(r, "scanner")))
		printf("scanner:      pid %lld, user %s (unprivileged, "
		    "confined)%s\n", num(json_object_get(r, "scanner"), "pid"),
		    str(json_object_get(r, "scanner"), "user"),
		    json_is_true(json_object_get(json_object_get(r, "scanner"),
		    "reloading")) ? "; a new one is loading signatures" : "");
	printf("scans:        %lld running, %lld queued, at most %lld at once, "
	    "%lld per storage device\n", num(sc, "running"), num(sc, "queued"),
	    num(sc, "max_concurrent"), num(sc, "per_storage"));
	if (num(sc, "read_rate") > 0) {
		format_size((uint64_t)num(sc, "read_rate"), b, sizeof(b));
		printf("read budget:  %s/s\n", b);
	} else
		printf("read budget:  unlimited\n");
	tp = json_object_get(r, "throughput");
	if (num(tp, "scans") > 0) {
		char l[16], s[16];

		format_size((uint64_t)num(tp, "read_rate"), b, sizeof(b));
		format_span(num(tp, "launch_ms"), l, sizeof(l));
		format_span(num(tp, "scan_ms"), s, sizeof(s));
		printf("throughput:   %s/s read once an appliance is up, launch "
		    "%s, scan %s (medians of the last %lld scans)\n", b, l, s,
		    num(tp, "scans"));
	} else
		printf("throughput:   not measured yet (no scan has read "
		    "anything)\n");
	pr = json_object_get(r, "pressure");
	printf("pressure:     io %.1f%%, cpu %.1f%%, load %.2f%s\n",
	    json_real_value(json_object_get(pr, "io")),
	    json_real_value(json_object_get(pr, "cpu")),
	    json_real_value(json_object_get(pr, "load")),
	    json_is_true(json_object_get(pr, "high")) ?
	    " (over the limits: new scans wait)" : "");
	if (json_is_object(fl = json_object_get(r, "fleet")))
		printf("fleet:        host %s, %s%s%s; %lld scan%s to send\n",
		    str(fl, "host"), str(fl, "state"),
		    json_is_string(json_object_get(fl, "error")) ? ": " : "",
		    json_is_string(json_object_get(fl, "error")) ?
		    str(fl, "error") : "", num(fl, "backlog"),
		    num(fl, "backlog") == 1 ? "" : "s");
	jobs = json_object_get(sc, "jobs");
	json_array_foreach(jobs, i, j) {
		format_size((uint64_t)num(j, "bytes_read"), b, sizeof(b));
		printf("  %-24s %-8s %lld files, %s read\n", str(j, "guest"),
		    str(j, "state"), num(j, "files"), b);
	}
	json_decref(r);
	return EXIT_CLEAN;
}

/* The global options, then one per option of the command table. */
enum { OPT_JSON = 'j', OPT_SOCKET = 's', OPT_HELP = 'h', OPT_VERSION = 'V',
    OPT_ARG = 256 };

static void
options(struct option *lo, char *so, size_t solen)
{
	static const struct option global[] = {
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ "socket",	required_argument,	NULL, OPT_SOCKET },
		{ "help",	no_argument,		NULL, OPT_HELP },
		{ "version",	no_argument,		NULL, OPT_VERSION },
	};
	size_t n = 0, k;
	int a;

	snprintf(so, solen, "+jhVs:");
	for (k = 0; k < sizeof(global) / sizeof(global[0]); k++)
		lo[n++] = global[k];
	for (a = 0; a < ARG_COUNT; a++) {
		if (!(cmd_args[a].flags & CA_CLI))
			continue;
		lo[n].name = cmd_args[a].name;
		lo[n].has_arg = cmd_args[a].type == CA_BOOL ? no_argument :
		    required_argument;
		lo[n].flag = NULL;
		lo[n].val = OPT_ARG + a;
		n++;
		if (cmd_args[a].short_opt != 0) {
			k = strlen(so);
			snprintf(so + k, solen - k, "%c%s",
			    cmd_args[a].short_opt,
			    cmd_args[a].type == CA_BOOL ? "" : ":");
		}
	}
	memset(&lo[n], 0, sizeof(lo[n]));
}

/* One option, before or after the command. */
static void
option(struct ctl *c, int ch)
{
	const struct cmd_arg *a;
	long long v;
	int i;

	switch (ch) {
	case OPT_JSON: c->json = 1; return;
	case OPT_SOCKET: c->socket = optarg; return;
	case OPT_HELP: usage();
	}
	for (i = 0; i < ARG_COUNT; i++)
		if (ch == OPT_ARG + i || (cmd_args[i].short_opt != 0 &&
		    ch == cmd_args[i].short_opt))
			break;
	if (i == ARG_COUNT)
		usage();
	a = &cmd_args[i];
	if (a->type == CA_BOOL) {
		c->opt[i] = 1;
		return;
	}
	if (parse_int(optarg, a->min, a->max, &v) == -1) {
		if (a->max == INT64_MAX)
			die("--%s needs a number from %lld up, not \"%s\"",
			    a->name, a->min, optarg);
		die("--%s needs a number from %lld to %lld, not \"%s\"",
		    a->name, a->min, a->max, optarg);
	}
	c->opt[i] = v;
}

/* The command's positional names and options, as its entry says. */
static void
check_args(const struct ctl *c, const struct cmd_entry *e, int nargs)
{
	char takers[128];
	int a, alone = -1, given = 0;

	for (a = 0; a < ARG_COUNT; a++) {
		if (c->opt[a] == 0)
			continue;
		given++;
		if (cmd_args[a].flags & CA_ALONE)
			alone = a;
		if (e->args & CMD_ARG(a))
			continue;
		cmd_takers(a, takers, sizeof(takers));
		die("--%s goes with %s only", cmd_args[a].name, takers);
	}
	if (alone != -1 && (nargs != 0 || given > 1))
		die("%s --%s takes no guest name and no other option", e->name,
		    cmd_args[alone].name);
	if ((e->guest == CG_NONE && nargs != 0) ||
	    (e->guest == CG_OPTIONAL && nargs > 1) ||
	    (e->guest == CG_ONE && nargs != 1) ||
	    (e->guest == CG_MANY && nargs == 0 && alone == -1)) {
		fprintf(stderr, "usage: sentinelctl %s\n", e->usage);
		exit(EXIT_ERROR);
	}
}

int
main(int argc, char *argv[])
{
	struct option longopts[4 + ARG_COUNT + 1];
	char shortopts[64];
	struct ctl c;
	const struct cmd_entry *e;
	const struct ctl_command *cmd = NULL;
	int ch, rc;
	size_t i;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	/* A closed connection is an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	c.socket = getenv("SENTINEL_SOCKET");
	if (c.socket == NULL || *c.socket == '\0')
		c.socket = "/run/sentinel/sentineld.sock";
	options(longopts, shortopts, sizeof(shortopts));
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (ch == OPT_VERSION) {
			printf("sentinelctl %s\n", SENTINEL_VERSION);
			return EXIT_CLEAN;
		}
		option(&c, ch);
	}
	if (optind >= argc)
		usage();
	if ((e = cmd_find(argv[optind])) == NULL) {
		fprintf(stderr, "sentinelctl: unknown command \"%s\"\n",
		    argv[optind]);
		usage();
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(e->name, commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL)
		die("command %s is not built into this sentinelctl", e->name);
	/* Options may also follow the command: "scan NAME --wait". */
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: start over, forgetting the "+" mode */
	while ((ch = getopt_long(argc, argv, shortopts + 1, longopts,
	    NULL)) != -1) {
		if (ch == OPT_VERSION)
			usage();
		option(&c, ch);
	}
	check_args(&c, e, argc - optind);
	ctl_connect(&c);
	ctl_hello(&c);
	rc = cmd->fn(&c, argc - optind, argv + optind);
	close(c.fd);
	free(c.buf);
	return rc;
}
