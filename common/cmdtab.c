/* The control commands, once (cmdtab.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdtab.h"
#include "util.h"

const struct cmd_arg cmd_args[ARG_COUNT] = {
	[ARG_WAIT] =		{ "wait", CA_BOOL, CA_CLI, 0, 0, 'w' },
	[ARG_FOLLOW] =		{ "follow", CA_BOOL, CA_CLI, 0, 0, 'f' },
	[ARG_FULL] =		{ "full", CA_BOOL, CA_CLI, 0, 0, 'F' },
	[ARG_ALL] =		{ "all", CA_BOOL, CA_CLI | CA_ALONE, 0, 0, 'a' },
	[ARG_SKIPPED] =		{ "skipped", CA_BOOL, CA_CLI, 0, 0, 'k' },
	[ARG_SCAN] =		{ "scan", CA_INT, CA_CLI, 1, INT64_MAX, 'S' },
	[ARG_LIMIT] =		{ "limit", CA_INT, CA_CLI, 1, 100000, 'l' },
	[ARG_DETECTIONS_FROM] =	{ "detections_from", CA_INT, CA_NULL, 1,
				    INT64_MAX, 0 },
	[ARG_SKIPPED_FROM] =	{ "skipped_from", CA_INT, CA_NULL, 1,
				    INT64_MAX, 0 },
	[ARG_BEFORE] =		{ "before", CA_INT, CA_NULL, 1, INT64_MAX, 0 },
	[ARG_RESUME] =		{ "resume", CA_BOOL, CA_CLI, 0, 0, 'r' },
	[ARG_FLEET] =		{ "fleet", CA_BOOL, CA_CLI, 0, 0, 0 },
};

const struct cmd_entry cmd_table[] = {
	{ "guests", CG_NONE, 0, "guests",
	    "list the guests libvirt knows and their last scan" },
	{ "scan", CG_MANY, CMD_ARG(ARG_WAIT) | CMD_ARG(ARG_FOLLOW) |
	    CMD_ARG(ARG_FULL) | CMD_ARG(ARG_ALL),
	    "scan NAME... [--wait | --follow] [--full] | --all",
	    "scan guests now, ahead of the schedule; --wait waits for the "
	    "results (exit status: the worst), --follow also shows one "
	    "scan's progress (Ctrl-C stops following, not the scan); --full "
	    "reads a shut-off guest whose images are unchanged all the same; "
	    "--all queues every guest" },
	{ "cancel", CG_ONE, CMD_ARG(ARG_RESUME), "cancel NAME [--resume]",
	    "stop a guest's running scan, or withdraw its request; --resume "
	    "keeps what the scan read, and the guest's next scan goes on from "
	    "there" },
	{ "pause", CG_OPTIONAL, 0, "pause [NAME]",
	    "no scan on schedule, of a guest or of all, until resumed "
	    "(on-demand scans still run; running scans go on)" },
	{ "resume", CG_OPTIONAL, 0, "resume [NAME]",
	    "put a guest, or all, back on schedule" },
	{ "results", CG_ONE, CMD_ARG(ARG_SKIPPED) | CMD_ARG(ARG_SCAN) |
	    CMD_ARG(ARG_DETECTIONS_FROM) | CMD_ARG(ARG_SKIPPED_FROM),
	    "results NAME [--scan ID] [--skipped]",
	    "the last scan of a guest (or scan ID), its detections and what "
	    "it did not scan; --skipped lists those paths" },
	{ "history", CG_OPTIONAL, CMD_ARG(ARG_LIMIT) | CMD_ARG(ARG_BEFORE) |
	    CMD_ARG(ARG_FLEET),
	    "history [NAME] [--limit N] [--fleet]",
	    "past scans, newest first, of a guest or of all (20 unless "
	    "--limit); --fleet: every host's, from the fleet's database" },
	{ "fleet", CG_NONE, 0, "fleet",
	    "every guest of the fleet: the hosts that see it, its last scan "
	    "on any host, when it is due; and the fleet's hosts" },
	{ "schedule", CG_NONE, 0, "schedule",
	    "each guest's state, next due time and what holds it back" },
	{ "reload", CG_NONE, 0, "reload",
	    "load the signatures again; the old ones stay if that fails" },
	{ "status", CG_NONE, 0, "status",
	    "daemon, libvirt, signatures, caps, pressure and running scans" },
	{ "config", CG_NONE, 0, "config",
	    "the daemon's effective settings" },
	{ "version", CG_NONE, 0, "version",
	    "versions of sentinelctl, sentineld and the libraries it uses" },
};

const size_t cmd_count = sizeof(cmd_table) / sizeof(cmd_table[0]);

const struct cmd_entry *
cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < cmd_count; i++)
		if (strcmp(name, cmd_table[i].name) == 0)
			return &cmd_table[i];
	return NULL;
}

static int
arg_of(const struct cmd_entry *e, const char *key)
{
	int a;

	for (a = 0; a < ARG_COUNT; a++)
		if ((e->args & CMD_ARG(a)) && strcmp(key, cmd_args[a].name) == 0)
			return a;
	return -1;
}

/* Appends ITEM (in quotes if QUOTE) to the list in BUF: "a", "a and b",
 * "a, b and c"; LAST says ITEM ends it. */
static void
list_add(char *buf, size_t len, int quote, const char *item, int last)
{
	size_t n = strlen(buf);

	snprintf(buf + n, len - n, "%s%s%s%s", n == 0 ? "" : last ? " and " :
	    ", ", quote ? "\"" : "", item, quote ? "\"" : "");
}

/* "\"guest\", \"a\" and \"b\"": the keys E takes (with "guest" if
 * GUEST), but for those in SKIP. */
static void
arg_list(const struct cmd_entry *e, int guest, unsigned int skip, char *buf,
    size_t len)
{
	unsigned int left = e->args & ~skip;
	int a;

	buf[0] = '\0';
	if (guest)
		list_add(buf, len, 1, "guest", left == 0);
	for (a = 0; a < ARG_COUNT; a++) {
		if (!(left & CMD_ARG(a)))
			continue;
		left &= ~CMD_ARG(a);
		list_add(buf, len, 1, cmd_args[a].name, left == 0);
	}
}

static int
check_value(const struct cmd_arg *a, json_t *v, char *err, size_t errlen)
{
	json_int_t n;

	if (a->type == CA_BOOL) {
		if (json_is_boolean(v))
			return 0;
		snprintf(err, errlen, "\"%s\" must be true or false", a->name);
		return -1;
	}
	if ((a->flags & CA_NULL) && json_is_null(v))
		return 0;
	if (json_is_integer(v) && (n = json_integer_value(v)) >= a->min &&
	    n <= a->max)
		return 0;
	if (a->max == INT64_MAX)
		snprintf(err, errlen, "\"%s\" must be an integer from %lld up",
		    a->name, a->min);
	else
		snprintf(err, errlen, "\"%s\" must be an integer from %lld to "
		    "%lld", a->name, a->min, a->max);
	return -1;
}

/* Whether argument A is given: true, or any value but null. */
static int
given(json_t *v)
{
	return v != NULL && !json_is_null(v) && !json_is_false(v);
}

int
cmd_check(const struct cmd_entry *e, json_t *req, char *err, size_t errlen)
{
	const char *key;
	json_t *v, *g = json_object_get(req, "guest");
	char list[256];
	int a, alone = -1;

	json_object_foreach(req, key, v) {
		if (strcmp(key, "cmd") == 0 || strcmp(key, "id") == 0 ||
		    strcmp(key, "guest") == 0)
			continue;
		if ((a = arg_of(e, key)) == -1) {
			char *esc = escape_bytes(key, strlen(key));

			arg_list(e, e->guest != CG_NONE, 0, list,
			    sizeof(list));
			snprintf(err, errlen, "%s takes no \"%.64s\" (%s%s)",
			    e->name, esc ? esc : "?", list[0] ? "it takes " :
			    "it takes no argument", list);
			free(esc);
			return -1;
		}
		if (check_value(&cmd_args[a], v, err, errlen) == -1)
			return -1;
		if ((cmd_args[a].flags & CA_ALONE) && json_is_true(v))
			alone = a;
	}
	if (g != NULL) {
		if (e->guest == CG_NONE) {
			snprintf(err, errlen, "%s takes no \"guest\"", e->name);
			return -1;
		}
		if (!json_is_string(g)) {
			snprintf(err, errlen, "this command needs a string "
			    "\"guest\"");
			return -1;
		}
		if (json_string_length(g) == 0 ||
		    json_string_length(g) > CMD_MAX_GUEST ||
		    strlen(json_string_value(g)) != json_string_length(g)) {
			snprintf(err, errlen, "\"guest\" must be 1 to %d bytes, "
			    "no NUL", CMD_MAX_GUEST);
			return -1;
		}
	}
	if (alone != -1) {
		json_object_foreach(req, key, v) {
			a = arg_of(e, key);
			if (strcmp(key, "guest") == 0 || (a != -1 && a != alone &&
			    given(v))) {
				arg_list(e, 1, CMD_ARG(alone), list,
				    sizeof(list));
				snprintf(err, errlen, "\"%s\" goes without %s",
				    cmd_args[alone].name, list);
				return -1;
			}
		}
		return 0;
	}
	if (g == NULL && (e->guest == CG_ONE || e->guest == CG_MANY)) {
		snprintf(err, errlen, "this command needs a string \"guest\"");
		return -1;
	}
	return 0;
}

void
cmd_takers(enum cmd_arg_id a, char *buf, size_t len)
{
	size_t i, left = 0;

	for (i = 0; i < cmd_count; i++)
		if (cmd_table[i].args & CMD_ARG(a))
			left++;
	buf[0] = '\0';
	for (i = 0; i < cmd_count; i++)
		if (cmd_table[i].args & CMD_ARG(a))
			list_add(buf, len, 0, cmd_table[i].name, --left == 0);
}
