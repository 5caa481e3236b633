/*
 * Small thread-safe log API in the style of OpenBSD daemons.  Lines are
 * written whole (one write per line) so threads never interleave mid-line.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static const char *log_prog = "sentinel";
static int log_stderr = 1;
static int log_verbose;
static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static void (*log_sink)(int, const char *);

void
log_set_sink(void (*fn)(int, const char *))
{
	log_sink = fn;
}

void
log_init(const char *progname, int to_stderr, int verbose)
{
	log_prog = progname;
	log_stderr = to_stderr;
	log_verbose = verbose;
	if (!to_stderr)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_verbose_on(void)
{
	return log_verbose;
}

static void __attribute__((format(printf, 2, 0)))
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048];
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (suffix != NULL && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", suffix);
	if (log_sink != NULL) {
		log_sink(pri, msg);
		return;
	}
	if (!log_stderr) {
		syslog(pri, "%s", msg);
		return;
	}
	pthread_mutex_lock(&log_mtx);
	fprintf(stderr, "%s: %s\n", log_prog, msg);
	fflush(stderr);
	pthread_mutex_unlock(&log_mtx);
}

void
log_warn(const char *fmt, ...)
{
	char ebuf[128];
	const char *e;
	va_list ap;
	int saved = errno;

	e = strerror_r(saved, ebuf, sizeof(ebuf));
	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, e);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	char ebuf[128];
	const char *e;
	va_list ap;

	e = strerror_r(errno, ebuf, sizeof(ebuf));
	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, e);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
