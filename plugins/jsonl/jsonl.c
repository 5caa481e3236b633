/*
 * jsonl: every event as one JSON object per line, appended to a file.
 *
 *	[plugin jsonl]
 *	path = /usr/lib/x86_64-linux-gnu/sentinel/plugins/jsonl.so
 *	file = /var/log/sentinel/events.jsonl
 *	fsync = scan		; event, scan (at each scan's end) or no
 *
 * The file is opened for appending and reopened on SIGHUP, so log
 * rotation works by renaming it and signalling sentineld.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "sentinel/plugin.h"

enum sync_mode { SYNC_NO, SYNC_SCAN, SYNC_EVENT };

struct jsonl {
	const struct sentinel_host	*host;
	char				*file;
	enum sync_mode			 sync;
	FILE				*f;
};

static int
open_file(struct jsonl *j, char *err, size_t errlen)
{
	int fd;

	if ((fd = open(j->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640)) == -1 || (j->f = fdopen(fd, "a")) == NULL) {
		snprintf(err, errlen, "%s: %s", j->file, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return 0;
}

static int
jsonl_init(const struct sentinel_host *h, void **state, char *err,
    size_t errlen)
{
	const char *file = h->conf_get(h, "file");
	const char *sync = h->conf_get(h, "fsync");
	struct jsonl *j;

	if (file == NULL || file[0] != '/') {
		snprintf(err, errlen, "\"file\" must be an absolute path");
		return -1;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->file = strdup(file)) == NULL) {
		free(j);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	j->host = h;
	if (sync == NULL || strcmp(sync, "scan") == 0)
		j->sync = SYNC_SCAN;
	else if (strcmp(sync, "event") == 0)
		j->sync = SYNC_EVENT;
	else if (strcmp(sync, "no") == 0)
		j->sync = SYNC_NO;
	else {
		snprintf(err, errlen, "\"fsync\" must be event, scan or no");
		free(j->file);
		free(j);
		return -1;
	}
	if (open_file(j, err, errlen) == -1) {
		free(j->file);
		free(j);
		return -1;
	}
	*state = j;
	return 0;
}

/* One event, one line; synced as fsync says. */
static void
write_event(struct jsonl *j, const char *event, const struct sentinel_scan *s,
    const struct sentinel_detection *d, int finished)
{
	if (j->f == NULL)
		return;		/* a reopen failed; said then */
	event_json(j->f, event, s, d, finished);
	putc('\n', j->f);
	if (fflush(j->f) == EOF)
		plugin_log(j->host, 1, "%s: %s", j->file, strerror(errno));
	if (j->sync == SYNC_EVENT || (j->sync == SYNC_SCAN && finished))
		if (fsync(fileno(j->f)) == -1)
			plugin_log(j->host, 1, "fsync %s: %s", j->file,
			    strerror(errno));
}

static void
jsonl_started(void *state, const struct sentinel_scan *s)
{
	write_event(state, "scan_started", s, NULL, 0);
}

static void
jsonl_detected(void *state, const struct sentinel_scan *s,
    const struct sentinel_detection *d)
{
	write_event(state, "file_detected", s, d, 0);
}

static void
jsonl_finished(void *state, const struct sentinel_scan *s)
{
	write_event(state, "scan_finished", s, NULL, 1);
}

static void
jsonl_reopen(void *state)
{
	struct jsonl *j = state;
	char err[512];

	if (j->f != NULL)
		fclose(j->f);
	j->f = NULL;
	if (open_file(j, err, sizeof(err)) == -1)
		plugin_log(j->host, 1, "reopen: %s; events are not written "
		    "until the next SIGHUP", err);
}

static void
jsonl_shutdown(void *state)
{
	struct jsonl *j = state;

	if (j->f != NULL) {
		fflush(j->f);
		fsync(fileno(j->f));
		fclose(j->f);
	}
	free(j->file);
	free(j);
}

const struct sentinel_plugin sentinel_plugin = {
	.abi = SENTINEL_PLUGIN_ABI,
	.name = "jsonl",
	.init = jsonl_init,
	.scan_started = jsonl_started,
	.file_detected = jsonl_detected,
	.scan_finished = jsonl_finished,
	.reopen = jsonl_reopen,
	.shutdown = jsonl_shutdown,
};
