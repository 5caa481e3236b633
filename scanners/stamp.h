/*
 * What a signature directory holds, by name, size and time: a stamp that
 * changes with any file freshclam (or an admin) adds, replaces or removes.
 * libc only: sentineld's self-check computes it without libclamav, and
 * compares it with the stamp the scanner's engine was loaded with.
 */
#ifndef SENTINEL_STAMP_H
#define SENTINEL_STAMP_H

#include <stddef.h>
#include <stdint.h>

/* A file name libclamav would load as a database. */
int	sig_is_database(const char *);
/* A YARA rules file (*.yar, *.yara). */
int	sig_is_rules(const char *);
/* The stamp of DIR's databases, then "+y" and YARADIR's rule files' when
 * YARADIR is not NULL or "". */
void	sig_dir_stamp(const char *, const char *, char *, size_t);
/* How old DIR's signatures are, in seconds since the epoch: the newest
 * build time the .cvd and .cld headers give (freshclam's databases; a
 * local database edited today must not hide a stale daily), or without
 * them the newest modification time of a database; 0 if none. */
int64_t	sig_dir_time(const char *);

#endif
