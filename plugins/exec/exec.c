/*
 * exec: runs a program for each event, with the event as one line of JSON
 * on its standard input.
 *
 *	[plugin notify]
 *	path = /usr/lib/x86_64-linux-gnu/sentinel/plugins/exec.so
 *	command = /usr/local/sbin/page-oncall --team av
 *	events = file_detected scan_finished	; default: all three
 *	timeout = 30				; seconds
 *
 * command is split on blanks into argv and run directly, never through a
 * shell.  The environment holds only PATH and SENTINEL_EVENT,
 * SENTINEL_GUEST, SENTINEL_UUID, SENTINEL_SCAN_ID, and SENTINEL_STATUS
 * (scan_finished) or SENTINEL_SIGNATURE and SENTINEL_PATH
 * (file_detected).  Standard output is discarded; standard error goes to
 * sentineld's.  A program still running after timeout is killed, with
 * its process group; that, and a non-zero exit, are logged.  One program
 * at a time, in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "sentinel/plugin.h"

#define MAX_ARGS	64

struct exec {
	const struct sentinel_host	*host;
	char				*line;		/* command, split */
	char				*argv[MAX_ARGS + 1];
	int				 want[3];	/* by event */
	long				 timeout_ms;
};

enum { EV_STARTED, EV_DETECTED, EV_FINISHED };
static const char *const names[] = { "scan_started", "file_detected",
    "scan_finished" };

static int
exec_init(const struct sentinel_host *h, void **state, char *err,
    size_t errlen)
{
	const char *cmd = h->conf_get(h, "command");
	const char *events = h->conf_get(h, "events");
	const char *timeout = h->conf_get(h, "timeout");
	struct exec *x;
	char *p, *save = NULL, *copy;
	int n = 0, i;

	if (cmd == NULL || cmd[0] != '/') {
		snprintf(err, errlen, "\"command\" must start with the "
		    "program's absolute path");
		return -1;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (x->line = strdup(cmd)) == NULL) {
		free(x);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	x->host = h;
	for (p = strtok_r(x->line, " \t", &save); p != NULL && n < MAX_ARGS;
	    p = strtok_r(NULL, " \t", &save))
		x->argv[n++] = p;
	x->timeout_ms = 30000;
	if (timeout != NULL) {
		x->timeout_ms = strtol(timeout, &p, 10) * 1000;
		if (*p != '\0' || x->timeout_ms <= 0) {
			snprintf(err, errlen, "\"timeout\" must be a number of "
			    "seconds");
			goto fail;
		}
	}
	if (events == NULL)
		x->want[0] = x->want[1] = x->want[2] = 1;
	else if ((copy = strdup(events)) != NULL) {
		save = NULL;
		for (p = strtok_r(copy, " \t,", &save); p != NULL;
		    p = strtok_r(NULL, " \t,", &save)) {
			for (i = 0; i < 3 && strcmp(p, names[i]) != 0; i++)
				;
			if (i == 3) {
				snprintf(err, errlen, "unknown event \"%s\" in "
				    "\"events\" (scan_started, file_detected, "
				    "scan_finished)", p);
				free(copy);
				goto fail;
			}
			x->want[i] = 1;
		}
		free(copy);
	}
	if (access(x->argv[0], X_OK) == -1) {
		snprintf(err, errlen, "%s: %s", x->argv[0], strerror(errno));
		goto fail;
	}
	*state = x;
	return 0;
fail:
	free(x->line);
	free(x);
	return -1;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets envp[n] to e[n], formatted; the next n. */
static int __attribute__((format(printf, 4, 5)))
addenv(char e[][1024], char **envp, int n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e[n], sizeof(e[n]), fmt, ap);
	va_end(ap);
	envp[n] = e[n];
	return n + 1;
}

static void
run(struct exec *x, int ev, const struct sentinel_scan *s,
    const struct sentinel_detection *d)
{
	char e[8][1024], *envp[9], *json = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	size_t jlen = 0, off = 0;
	int fds[2], status, n = 0, rc;
	ssize_t w;
	int64_t t0;
	FILE *f;
	pid_t pid;

	if (!x->want[ev])
		return;
	if ((f = open_memstream(&json, &jlen)) == NULL)
		return;
	event_json(f, names[ev], s, d, ev == EV_FINISHED);
	putc('\n', f);
	fclose(f);
	n = addenv(e, envp, n, "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
	n = addenv(e, envp, n, "SENTINEL_EVENT=%s", names[ev]);
	n = addenv(e, envp, n, "SENTINEL_GUEST=%s", s->guest);
	n = addenv(e, envp, n, "SENTINEL_UUID=%s", s->uuid);
	n = addenv(e, envp, n, "SENTINEL_SCAN_ID=%lld", (long long)s->id);
	if (ev == EV_FINISHED)
		n = addenv(e, envp, n, "SENTINEL_STATUS=%s", s->status);
	if (d != NULL) {
		n = addenv(e, envp, n, "SENTINEL_SIGNATURE=%s", d->signature);
		n = addenv(e, envp, n, "SENTINEL_PATH=%s", d->path);
	}
	envp[n] = NULL;
	if (pipe2(fds, O_CLOEXEC) == -1) {
		plugin_log(x->host, 1, "pipe: %s", strerror(errno));
		free(json);
		return;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	/* A group of its own: a timeout kills what it started too. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	rc = posix_spawn(&pid, x->argv[0], &fa, &attr, x->argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[0]);
	if (rc != 0) {
		plugin_log(x->host, 1, "%s: %s", x->argv[0], strerror(rc));
		close(fds[1]);
		free(json);
		return;
	}
	/* A program that does not read its input must not block us. */
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	while (off < jlen && (w = write(fds[1], json + off, jlen - off)) > 0)
		off += (size_t)w;
	close(fds[1]);
	free(json);
	t0 = mono_ms();
	while ((rc = waitpid(pid, &status, WNOHANG)) == 0) {
		if (mono_ms() - t0 > x->timeout_ms) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			plugin_log(x->host, 1, "%s for %s of %s: timed out after %ld s; "
			    "killed", x->argv[0], names[ev], s->guest,
			    x->timeout_ms / 1000);
			return;
		}
		poll(NULL, 0, 50);
	}
	if (rc == -1)
		plugin_log(x->host, 1, "waitpid: %s", strerror(errno));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		plugin_log(x->host, 1, "%s for %s of %s: exited with status "
		    "%d", x->argv[0], names[ev], s->guest,
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		plugin_log(x->host, 1, "%s for %s of %s: killed by signal "
		    "%d", x->argv[0], names[ev], s->guest, WTERMSIG(status));
}

static void
exec_started(void *state, const struct sentinel_scan *s)
{
	run(state, EV_STARTED, s, NULL);
}

static void
exec_detected(void *state, const struct sentinel_scan *s,
    const struct sentinel_detection *d)
{
	run(state, EV_DETECTED, s, d);
}

static void
exec_finished(void *state, const struct sentinel_scan *s)
{
	run(state, EV_FINISHED, s, NULL);
}

static void
exec_shutdown(void *state)
{
	struct exec *x = state;

	free(x->line);
	free(x);
}

const struct sentinel_plugin sentinel_plugin = {
	.abi = SENTINEL_PLUGIN_ABI,
	.name = "exec",
	.init = exec_init,
	.scan_started = exec_started,
	.file_detected = exec_detected,
	.scan_finished = exec_finished,
	.shutdown = exec_shutdown,
};
