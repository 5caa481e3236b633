/* sentinelctl: replies as text (sentinelctl.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sentinelctl.h"
#include "util.h"

const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

long long
num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
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
void
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

/* A progress event of scan --follow: one line each, or one line kept
 * up to date on a terminal. */
void
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

void
print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	putchar('\n');
}

int
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

	/* "display": as Windows shows it on a drive (C:\Users\x.exe). */
	if (json_is_string(json_object_get(o, "display")))
		path = str(o, "display");
	if (*path == '\0')
		snprintf(buf, len, "%s", str(o, "fs"));
	else if (json_is_true(json_object_get(o, "guest_path")))
		snprintf(buf, len, "%s (on %s)", path, str(o, "fs"));
	else if (json_is_string(json_object_get(o, "display")))
		snprintf(buf, len, "%s", path);
	else
		snprintf(buf, len, "%s:%s", str(o, "fs"), path);
	return buf;
}

/* "; not complete: 2 files or filesystems not scanned in full" for a
 * clean or infected scan that left some out, else "". */
const char *
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
/* "12.3 s" of the estimate a scan started with, or "". */
static const char *
estimated(json_t *s, char *buf, size_t len)
{
	buf[0] = '\0';
	if (json_is_integer(json_object_get(s, "estimate_ms")))
		snprintf(buf, len, "%.1f s",
		    (double)num(s, "estimate_ms") / 1000);
	return buf;
}

int
print_scan(json_t *s)
{
	char t0[32], t1[32], b1[32], b2[32], w[8192], note[128], est[32];
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
		    "%.1f s%s%s)\n", t0, t1, (double)(ended - started) / 1000,
		    (double)num(s, "launch_ms") / 1000,
		    json_is_integer(json_object_get(s, "estimate_ms")) ?
		    "; estimated " : "", estimated(s, est, sizeof(est)));
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
