/*
 * Logging for sentineld and sentinelctl: stderr in the foreground, syslog
 * when daemonized.  log_warn appends strerror(errno), log_warnx does not.
 */
#ifndef SENTINEL_LOG_H
#define SENTINEL_LOG_H

#include <stdarg.h>

void	log_init(const char *progname, int to_stderr, int verbose);
void	log_setverbose(int verbose);
int	log_verbose_on(void);
/* Every line goes to FN (priority, text) instead: a scanner child sends
 * its lines to sentineld. */
void	log_set_sink(void (*)(int, const char *));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
