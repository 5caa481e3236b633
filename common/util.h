/* Helpers shared by the daemon and the CLI: sizes, durations, escaping, time. */
#ifndef SENTINEL_UTIL_H
#define SENTINEL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A guest's UUID as text ("8-4-4-4-12" hex digits), and a buffer for it. */
#define UUID_LEN	36
#define UUID_BUF	(UUID_LEN + 1)

/* "4096", "64k", "100M", "2G" (powers of 1024).  0 on success, -1 on error. */
int	 parse_size(const char *, uint64_t *);
/* "90", "90s", "15m", "24h", "7d".  Result in seconds.  0 or -1. */
int	 parse_duration(const char *, uint64_t *);
/* Plain decimal integer, whole string, within [min, max].  0 or -1. */
int	 parse_int(const char *, long long, long long, long long *);
/* Bytes to text that is safe to print: printable ASCII stays, backslash
 * becomes "\\", everything else "\xNN".  Returns malloc'd string. */
char	*escape_bytes(const void *, size_t);
/* Bytes as a person reads them: printable ASCII and UTF-8 as they are
 * (a backslash too), every other byte \xNN; malloc'd. */
char	*display_bytes(const void *, size_t);
/* 1 if NAME matches one of PATTERNS (fnmatch(3) globs separated by spaces
 * or tabs), or PATTERNS has none; else 0. */
int	 name_matches(const char *, const char *);
/* mkdir -p: makes path and its missing parents with mode.  0 or -1. */
int	 mkdir_p(const char *, mode_t);
/* mkdir -p of the directory part of path (nothing for a bare name). */
int	 mkdir_parent(const char *, mode_t);
/* Every directory from / down to DIR searchable by the user PW (ROLE says
 * who that user is, for the message); -1 with why naming the one that is
 * not. */
struct passwd;
int	 path_reachable(const char *, const struct passwd *, const char *,
	    char *, size_t);
/* Wall clock in milliseconds since the epoch. */
int64_t	 now_ms(void);
/* Milliseconds of CLOCK_MONOTONIC, for durations. */
uint64_t mono_ms(void);
/* Local time "YYYY-MM-DD HH:MM:SS" of an epoch time in ms; "-" for 0. */
void	 format_time(int64_t, char *, size_t);
/* "1.5M" style size, for humans. */
void	 format_size(uint64_t, char *, size_t);
/* A duration in ms for humans: "45s", "3m05s", "2h10m"; "-" if < 0. */
void	 format_span(int64_t, char *, size_t);
/* sd_notify(3)'s protocol, without libsystemd. */
void	 service_notify(const char *);

#endif
