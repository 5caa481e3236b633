/*
 * syslog: each detection at LOG_ALERT, with guest, path and signature;
 * each scan's end at LOG_NOTICE, or LOG_WARNING when it is not clean.
 *
 *	[plugin syslog]
 *	path = /usr/lib/x86_64-linux-gnu/sentinel/plugins/syslog.so
 *	facility = daemon	; daemon, auth, authpriv, local0 .. local7
 *	ident = sentinel
 *	socket = /dev/log
 *
 * It writes datagrams to the syslog socket itself (RFC 3164 format)
 * instead of calling openlog(3), which would change the ident of
 * sentineld's own log lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "sentinel/plugin.h"

struct slog {
	const struct sentinel_host	*host;
	int				 facility;
	char				 ident[64];
	struct sockaddr_un		 sun;
	int				 fd;
	int				 failing;	/* said once */
};

static const struct {
	const char	*name;
	int		 code;
} facilities[] = {
	{ "daemon", LOG_DAEMON }, { "auth", LOG_AUTH },
	{ "authpriv", LOG_AUTHPRIV }, { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

static int
slog_init(const struct sentinel_host *h, void **state, char *err,
    size_t errlen)
{
	const char *fac = h->conf_get(h, "facility");
	const char *ident = h->conf_get(h, "ident");
	const char *sock = h->conf_get(h, "socket");
	struct slog *l;
	size_t i;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->host = h;
	l->facility = LOG_DAEMON;
	if (fac != NULL) {
		for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
			if (strcmp(fac, facilities[i].name) == 0)
				break;
		if (i == sizeof(facilities) / sizeof(facilities[0])) {
			snprintf(err, errlen, "unknown facility \"%s\"", fac);
			free(l);
			return -1;
		}
		l->facility = facilities[i].code;
	}
	snprintf(l->ident, sizeof(l->ident), "%s", ident ? ident : "sentinel");
	if (sock == NULL)
		sock = "/dev/log";
	if (strlen(sock) >= sizeof(l->sun.sun_path)) {
		snprintf(err, errlen, "\"socket\" path too long");
		free(l);
		return -1;
	}
	l->sun.sun_family = AF_UNIX;
	strcpy(l->sun.sun_path, sock);
	if ((l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		free(l);
		return -1;
	}
	*state = l;
	return 0;
}

static void __attribute__((format(printf, 3, 4)))
send_line(struct slog *l, int severity, const char *fmt, ...)
{
	char msg[2048], stamp[32];
	struct tm tm;
	va_list ap;
	time_t t;
	int n;

	t = time(NULL);
	localtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	n = snprintf(msg, sizeof(msg), "<%d>%s %s[%d]: ", l->facility |
	    severity, stamp, l->ident, (int)getpid());
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (sendto(l->fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&l->sun, sizeof(l->sun)) == -1) {
		if (!l->failing) {
			char e[300];

			snprintf(e, sizeof(e), "%s: %s (said once until it "
			    "works again)", l->sun.sun_path, strerror(errno));
			l->host->log(l->host, 1, e);
		}
		l->failing = 1;
	} else
		l->failing = 0;
}

static void
slog_detected(void *state, const struct sentinel_scan *s,
    const struct sentinel_detection *d)
{
	send_line(state, LOG_ALERT, "guest %s: %s FOUND in %s (scan %lld, %s)",
	    s->guest, d->signature, d->display, (long long)s->id, d->engine);
}

static void
slog_finished(void *state, const struct sentinel_scan *s)
{
	send_line(state, strcmp(s->status, "clean") == 0 ? LOG_NOTICE :
	    LOG_WARNING, "guest %s: scan %lld %s%s%s, %llu files, %u "
	    "detections", s->guest, (long long)s->id, s->status,
	    s->reason ? ": " : "", s->reason ? s->reason : "",
	    (unsigned long long)s->files, s->detections);
}

static void
slog_shutdown(void *state)
{
	struct slog *l = state;

	close(l->fd);
	free(l);
}

const struct sentinel_plugin sentinel_plugin = {
	.abi = SENTINEL_PLUGIN_ABI,
	.name = "syslog",
	.init = slog_init,
	.file_detected = slog_detected,
	.scan_finished = slog_finished,
	.shutdown = slog_shutdown,
};
