/*
 * sentinelctl: asks sentineld over its control socket.  Exit status as
 * clamscan's: 0 success or clean, 1 detections, 2 error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmdtab.h"
#include "config.h"
#include "proto.h"
#include "sentinel/version.h"
#include "util.h"

#define EXIT_CLEAN	0
#define EXIT_INFECTED	1
#define EXIT_ERROR	2

#define MAX_REPLY	(64 * 1024 * 1024)


struct ctl {
	int		 fd;
	int		 json;
	/* The command's options, as common/cmdtab.c defines them: 1 for a
	 * flag given, the number of one with a value; 0: not given. */
	long long	 opt[ARG_COUNT];
	int		 raw_text;	/* config: the file's lines as they are */
	const char	*socket;
	char		*buf;		/* bytes read, not yet parsed */
	size_t		 len, cap;
	char		 err[256];
};

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

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sentinelctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(EXIT_ERROR);
}

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static long long
num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void
ctl_connect(struct ctl *c)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(c->socket) >= sizeof(sun.sun_path))
		die("socket path %s is too long", c->socket);
	strcpy(sun.sun_path, c->socket);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			die("sentineld is not running (nothing listens on %s)",
			    c->socket);
		if (errno == EACCES || errno == EPERM)
			die("permission denied on %s (root or the [control] "
			    "group may use it)", c->socket);
		die("connect %s: %s", c->socket, strerror(errno));
	}
}

static json_t *ctl_read(struct ctl *);

static void
ctl_write(struct ctl *c, json_t *msg)
{
	size_t len, off = 0;
	ssize_t n;
	json_t *r;
	char *s;

	if ((s = proto_encode(msg, &len)) == NULL)
		die("out of memory");
	while (off < len) {
		if ((n = write(c->fd, s + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			/* A daemon that refused us said why before it
			 * closed: that is the error to show. */
			if (errno == EPIPE) {
				r = ctl_read(c);
				die("%s", json_is_string(json_object_get(r,
				    "error")) ? json_string_value(
				    json_object_get(r, "error")) :
				    "sentineld closed the connection");
			}
			die("writing to sentineld: %s", strerror(errno));
		}
		off += (size_t)n;
	}
	free(s);
}

/*
 * A string as a terminal may show it: C0 controls (newline too: a guest's
 * text must not start lines of its own), DEL and C1 controls as UTF-8
 * writes them (U+009B is CSI) become \xNN.  Backslashes stay: sentineld
 * already escaped the paths it sends, and they are shown as sent.  NULL
 * when nothing needs it.
 */
static char *
term_safe(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, n = strlen(s), bad = 0;
	char *out, *o;

	for (i = 0; i < n; i++)
		if (u[i] < 0x20 || u[i] == 0x7f || (u[i] == 0xc2 &&
		    u[i + 1] >= 0x80 && u[i + 1] <= 0x9f))
			bad++;
	if (bad == 0)
		return NULL;
	if ((out = malloc(n + bad * 8 + 1)) == NULL)
		die("out of memory");
	for (o = out, i = 0; i < n; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			o += sprintf(o, "\\x%02x", u[i]);
		else if (u[i] == 0xc2 && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f) {
			o += sprintf(o, "\\x%02x\\x%02x", u[i], u[i + 1]);
			i++;
		} else
			*o++ = (char)u[i];
	}
	*o = '\0';
	return out;
}

/* Every string of a reply made safe for text output (term_safe).  Much
 * of what sentineld reports comes from guests: OS names, file system and
 * volume names, reasons and details of failures. */
static void
term_safe_json(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;
	char *t;

	if (json_is_string(j)) {
		if ((t = term_safe(json_string_value(j))) != NULL) {
			json_string_set(j, t);
			free(t);
		}
	} else if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			term_safe_json(v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			term_safe_json(v);
	}
}

/* Reads the next message line and parses it, or dies. */
static json_t *
ctl_read(struct ctl *c)
{
	char *nl;
	ssize_t n;
	size_t len;
	json_t *j;

	while (c->len == 0 || (nl = memchr(c->buf, '\n', c->len)) == NULL) {
		if (c->len == c->cap) {
			char *nb;

			if (c->cap >= MAX_REPLY)
				die("reply from sentineld longer than %d bytes",
				    MAX_REPLY);
			c->cap = c->cap ? c->cap * 2 : 65536;
			if ((nb = realloc(c->buf, c->cap)) == NULL)
				die("out of memory");
			c->buf = nb;
		}
		if ((n = read(c->fd, c->buf + c->len, c->cap - c->len)) == -1) {
			if (errno == EINTR)
				continue;
			die("reading from sentineld: %s", strerror(errno));
		}
		if (n == 0)
			die("sentineld closed the connection");
		c->len += (size_t)n;
	}
	len = (size_t)(nl - c->buf);
	if ((j = proto_parse(c->buf, len, c->err, sizeof(c->err))) == NULL)
		die("bad reply from sentineld: %s", c->err);
	memmove(c->buf, nl + 1, c->len - len - 1);
	c->len -= len + 1;
	/* --json prints JSON, whose encoding escapes controls itself. */
	if (!c->json && !c->raw_text)
		term_safe_json(j);
	return j;
}

static void
ctl_hello(struct ctl *c)
{
	json_t *h = proto_hello(), *r;

	ctl_write(c, h);
	json_decref(h);
	r = ctl_read(c);
	if (!json_is_true(json_object_get(r, "ok")))
		die("sentineld refused the hello: %s",
		    json_string_value(json_object_get(r, "error")));
	json_decref(r);
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

/* A progress event of scan --follow: one line each, or one line kept
 * up to date on a terminal. */
static void
show_event(struct ctl *c, json_t *ev)
{
	json_t *s = json_object_get(ev, "scan");
	char b[32];

	if (c->json) {
		json_dumpf(ev, stdout, JSON_COMPACT);
		putchar('\n');
		fflush(stdout);
		return;
	}
	format_size((uint64_t)num(s, "bytes_read"), b, sizeof(b));
	printf("%s%s: %s, %lld files, %s read%s%s%s", isatty(STDOUT_FILENO) ?
	    "\r\033[K" : "", str(s, "guest"), str(s, "state"),
	    num(s, "files"), b,
	    json_is_string(json_object_get(s, "filesystem")) ? ", on " : "",
	    json_is_string(json_object_get(s, "filesystem")) ?
	    str(s, "filesystem") : "", isatty(STDOUT_FILENO) ? "" : "\n");
	fflush(stdout);
}

/*
 * A request of command NAME, of GUEST (or NULL), with the options given on
 * the command line that the command takes, each as the command table
 * types it.
 */
static json_t *
request(const struct ctl *c, const char *name, const char *guest)
{
	const struct cmd_entry *e = cmd_find(name);
	json_t *req, *v;
	int a;

	if ((req = json_pack("{s:s}", "cmd", name)) == NULL)
		die("out of memory");
	if (guest != NULL && ((v = json_string(guest)) == NULL ||
	    json_object_set_new(req, "guest", v) == -1))
		die("guest name \"%s\" is not UTF-8", guest);
	for (a = 0; a < ARG_COUNT; a++) {
		if (c->opt[a] == 0 || !(e->args & CMD_ARG(a)))
			continue;
		v = cmd_args[a].type == CA_BOOL ? json_true() :
		    json_integer(c->opt[a]);
		if (json_object_set_new(req, cmd_args[a].name, v) == -1)
			die("out of memory");
	}
	return req;
}

/* Sends a request and returns the successful reply, or dies. */
static json_t *
ctl_request(struct ctl *c, json_t *req)
{
	json_t *r, *id;

	json_object_set_new(req, "id", json_integer(1));
	ctl_write(c, req);
	json_decref(req);
	for (;;) {
		r = ctl_read(c);
		id = json_object_get(r, "id");
		if (json_is_integer(id) && json_integer_value(id) == 1) {
			/* Events come before the reply that ends them. */
			if (!json_is_string(json_object_get(r, "event")))
				break;
			show_event(c, r);
		}
		json_decref(r);
	}
	if (!json_is_true(json_object_get(r, "ok"))) {
		if (c->json) {
			json_dumpf(r, stdout, JSON_INDENT(2));
			putchar('\n');
			exit(EXIT_ERROR);
		}
		die("%s", json_string_value(json_object_get(r, "error")));
	}
	return r;
}

static void
print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	putchar('\n');
}

static int
status_exit(const char *status)
{
	if (strcmp(status, "clean") == 0)
		return EXIT_CLEAN;
	if (strcmp(status, "infected") == 0)
		return EXIT_INFECTED;
	return EXIT_ERROR;
}

/* A path as the guest sees it, or DEVICE:/path; a filesystem alone. */
static const char *
where(json_t *o, char *buf, size_t len)
{
	const char *path = str(o, "path");

	if (*path == '\0')
		snprintf(buf, len, "%s", str(o, "fs"));
	else if (json_is_true(json_object_get(o, "guest_path")))
		snprintf(buf, len, "%s (on %s)", path, str(o, "fs"));
	else
		snprintf(buf, len, "%s:%s", str(o, "fs"), path);
	return buf;
}

/* "; not complete: 2 files or filesystems not scanned in full" for a
 * clean or infected scan that left some out, else "". */
static const char *
not_complete(json_t *s, char *buf, size_t len)
{
	const char *status = str(s, "status");

	buf[0] = '\0';
	if (json_is_false(json_object_get(s, "complete")) &&
	    (strcmp(status, "clean") == 0 || strcmp(status, "infected") == 0))
		snprintf(buf, len, "; not complete: %lld files or filesystems "
		    "not scanned in full", num(s, "not_scanned"));
	return buf;
}

/* "not scanned: 2 too large, 1 special" or "not scanned: nothing". */
static void
print_skipped(json_t *sk)
{
	const char *key;
	json_t *v;
	int any = 0;

	printf("not scanned: ");
	json_object_foreach(sk, key, v) {
		if (json_integer_value(v) == 0)
			continue;
		printf("%s %lld %s", any ? "," : "",
		    (long long)json_integer_value(v), key);
		any = 1;
	}
	printf("%s\n", any ? "" : " nothing");
}

/* Which disks the scan read: a shut-off guest's images, a point-in-time
 * backup of a running one, or its images live. */
static void
print_view(json_t *s)
{
	const char *view = NULL, *note = NULL;
	char t[32];

	if (json_is_string(json_object_get(s, "view")))
		view = str(s, "view");
	if (json_is_string(json_object_get(s, "view_note")))
		note = str(s, "view_note");
	if (view == NULL)
		return;
	if (strcmp(view, "offline") == 0)
		printf("view:         the guest's images (shut off)\n");
	else if (strcmp(view, "backup") == 0) {
		format_time(num(s, "view_at"), t, sizeof(t));
		printf("view:         point in time %s (backup job), %s%s%s%s; "
		    "taken in %.2f s, ended in %.2f s\n", t,
		    str(s, "view_consistency"), note ? " (" : "",
		    note ? note : "", note ? ")" : "",
		    (double)num(s, "view_begin_ms") / 1000,
		    (double)num(s, "view_end_ms") / 1000);
	} else
		printf("view:         live, not point-in-time: %s\n",
		    note ? note : "no reason recorded");
}

/* Prints one scan record; returns the exit status it stands for. */
static int
print_scan(json_t *s)
{
	char t0[32], t1[32], b1[32], b2[32], w[8192], note[128];
	json_t *dets = json_object_get(s, "detections"), *d, *sk;
	const char *status = str(s, "status");
	long long started = num(s, "started"), ended = num(s, "ended");
	size_t i;

	format_time(started, t0, sizeof(t0));
	format_time(ended, t1, sizeof(t1));
	format_size((uint64_t)num(s, "bytes_read"), b1, sizeof(b1));
	format_size((uint64_t)num(s, "bytes_scanned"), b2, sizeof(b2));
	printf("guest:        %s (%s)\n", str(s, "guest"), str(s, "uuid"));
	if (json_is_false(json_object_get(s, "stored")))
		printf("scan:         not stored yet (the state database "
		    "cannot take it; sentineld keeps it in memory), %s\n",
		    str(s, "trigger"));
	else
		printf("scan:         %lld, %s\n", num(s, "id"),
		    str(s, "trigger"));
	printf("status:       %s%s%s%s\n", status,
	    json_is_string(json_object_get(s, "reason")) ? ": " : "",
	    json_is_string(json_object_get(s, "reason")) ? str(s, "reason") : "",
	    not_complete(s, note, sizeof(note)));
	if (ended > 0 && started > 0)
		printf("time:         %s to %s (%.1f s, appliance launch "
		    "%.1f s)\n", t0, t1, (double)(ended - started) / 1000,
		    (double)num(s, "launch_ms") / 1000);
	print_view(s);
	if (json_is_string(json_object_get(s, "os")))
		printf("system:       %s (paths as the guest mounts them)\n",
		    str(s, "os"));
	printf("files:        %lld read and checked (%lld known clean from "
	    "earlier scans), %lld unchanged since the last scan (not read)\n",
	    num(s, "files"), num(s, "cache_hits"), num(s, "unchanged"));
	print_skipped(json_object_get(s, "skipped"));
	if (num(s, "hidden") > 0)
		printf("hidden:       %lld files under a mountpoint of the guest, "
		    "on the filesystem beneath it: the running guest does not "
		    "see them (a rootkit sign); scanned\n", num(s, "hidden"));
	printf("bytes:        %s read from the guest, %s scanned\n", b1, b2);
	printf("filesystems:  %lld scanned, %lld failed\n",
	    num(s, "fs_scanned"), num(s, "fs_failed"));
	if (json_is_string(json_object_get(s, "signature_version")))
		printf("signatures:   version %s\n",
		    str(s, "signature_version"));
	printf("detections:   %zu\n", json_array_size(dets));
	json_array_foreach(dets, i, d)
		printf("  %s\t%s%s%s%s%s\n", where(d, w, sizeof(w)),
		    str(d, "signature"),
		    strcmp(str(d, "engine"), "yara") == 0 ? " (" : "",
		    strcmp(str(d, "engine"), "yara") == 0 ? "YARA rule" : "",
		    strcmp(str(d, "engine"), "yara") == 0 ? ")" : "",
		    json_is_true(json_object_get(d, "hidden")) ? "\t(hidden "
		    "under a mountpoint of the guest)" : "");
	sk = json_object_get(s, "actions");
	if (json_array_size(sk) > 0) {
		printf("actions:      %zu (by plugins)\n", json_array_size(sk));
		json_array_foreach(sk, i, d) {
			format_time(num(d, "at"), t0, sizeof(t0));
			printf("  %s %s: %s\n", t0, str(d, "plugin"),
			    str(d, "text"));
		}
	}
	sk = json_object_get(s, "skipped_paths");
	if (json_is_array(sk)) {
		printf("not scanned:  %zu listed%s\n", json_array_size(sk),
		    json_array_size(sk) > 0 ? " (reason, path, detail)" : "");
		json_array_foreach(sk, i, d)
			printf("  %-11s %s%s%s\n", str(d, "reason"),
			    where(d, w, sizeof(w)),
			    json_is_string(json_object_get(d, "detail")) ?
			    "\t" : "",
			    json_is_string(json_object_get(d, "detail")) ?
			    str(d, "detail") : "");
	}
	return status_exit(status);
}

static int
cmd_guests(struct ctl *c, int argc, char **argv)
{
	json_t *r, *gs, *g, *last, *lv;
	char when[32], due[32];
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
	printf("%-24s %-10s %-5s %-19s %-10s %-4s %s\n", "NAME", "STATE",
	    "DISKS", "LAST SCAN", "RESULT", "DET", "NEXT DUE");
	json_array_foreach(gs, i, g) {
		last = json_object_get(g, "last_scan");
		format_time(json_is_object(last) ? num(last, "ended") : 0, when,
		    sizeof(when));
		if (json_is_integer(json_object_get(g, "paused")))
			snprintf(due, sizeof(due), "paused");
		else
			format_time(num(g, "next_due"), due, sizeof(due));
		printf("%-24s %-10s %-5zu %-19s %-10s %-4lld %s\n",
		    str(g, "name"), str(g, "state"),
		    json_array_size(json_object_get(g, "disks")), when,
		    json_is_object(json_object_get(g, "scan")) ?
		    str(json_object_get(g, "scan"), "state") :
		    json_is_object(last) ? str(last, "status") : "-",
		    json_is_object(last) ? num(last, "detection_count") : 0,
		    due);
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
	printf("%-7s %-24s %-10s %-19s %-10s %8s %4s %-7s %s\n", "SCAN",
	    "GUEST", "TRIGGER", "ENDED", "STATUS", "FILES", "DET", "VIEW",
	    "REASON");
	json_array_foreach(json_object_get(r, "scans"), i, s) {
		format_time(num(s, "ended"), when, sizeof(when));
		not_complete(s, note, sizeof(note));
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
	json_t *r, *gs, *g, *last, *sc;
	char due[32], when[32], b[32], what[64];
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
	printf("%-24s %-22s %-19s %-10s %s\n", "NAME", "STATE", "LAST SCAN",
	    "RESULT", "NEXT DUE");
	json_array_foreach(gs, i, g) {
		last = json_object_get(g, "last_scan");
		sc = json_object_get(g, "scan");
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
		printf("%-24s %-22s %-19s %-10s %s\n", str(g, "name"), what,
		    when, json_is_object(last) ? str(last, "status") : "-", due);
	}
	json_decref(r);
	return EXIT_CLEAN;
}

static int
cmd_status(struct ctl *c, int argc, char **argv)
{
	json_t *r, *lv, *en, *sc, *jobs, *j, *pr;
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
	pr = json_object_get(r, "pressure");
	printf("pressure:     io %.1f%%, cpu %.1f%%, load %.2f%s\n",
	    json_real_value(json_object_get(pr, "io")),
	    json_real_value(json_object_get(pr, "cpu")),
	    json_real_value(json_object_get(pr, "load")),
	    json_is_true(json_object_get(pr, "high")) ?
	    " (over the limits: new scans wait)" : "");
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
