/*
 * Reading libclamav's signature files ourselves, for two things the
 * engine cannot tell: what a new version changed, by class of file
 * (sigsum.h), and whether a file known only by its hashes is named by a
 * whole-file hash signature (.hdb, .hsb), allowing for the allowlists
 * (.fp, .sfp) and ignore lists (.ign, .ign2).  The files are the ones
 * the engine was loaded from: trusted input, read in the scanner, never
 * by sentineld.  Plain files and the members of .cvd, .cld and .cud
 * containers (a 512-byte header, then a tar, gzip-compressed or not).
 */
#ifndef SENTINEL_SIGDB_H
#define SENTINEL_SIGDB_H

#include <stddef.h>
#include <stdint.h>

#include "sigsum.h"

/* Called for each line of each file whose extension (".ndb") WANT
 * accepts; OFFICIAL for the members of a signed container.  Nonzero
 * stops the walk. */
typedef int	(*sigdb_line_fn)(void *, const char *, int, const char *,
		    size_t);

/* Every line of DIR's databases, as libclamav would load them; -1 with
 * err when a file cannot be read. */
int	sigdb_each(const char *, int (*)(const char *), sigdb_line_fn, void *,
	    char *, size_t);
/* The sum of DIR's signatures, YARADIR's rules (NULL: none) and
 * libclamav's version. */
int	sigdb_summary(const char *, const char *, struct sigsum *, char *,
	    size_t);

/* A file known by its hashes. */
struct sigdb_file {
	unsigned char	 md5[16], sha1[20], sha256[32];
	uint64_t	 size;
	char		*name;		/* out: the hash signature that names
					 * it, as libclamav reports it; NULL
					 * when none does (free it) */
};

/* Fills in the name of each of the N files a whole-file hash signature
 * of DIR names (none on an allowlist or ignored); -1 with err when the
 * files could not be read (no name is then set). */
int	sigdb_match(const char *, struct sigdb_file *, size_t, char *,
	    size_t);

#endif
