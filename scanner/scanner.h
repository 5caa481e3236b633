/*
 * sentinel-scanner: the unprivileged side of the trust barrier.  sentineld
 * starts it as root; it confines itself (sandbox.c), loads the engines
 * once and then forks one child per scan (child.c), which runs the scan
 * library over NBD exports and reports records (srec.h) to sentineld.
 */
#ifndef SENTINEL_SCANNER_H
#define SENTINEL_SCANNER_H

#include <stddef.h>

struct engine;

struct sandbox_conf {
	const char	*user;		/* the scanner user */
	const char	*tmpdir;	/* becomes /tmp, the only writable place */
	const char	*ro[4];		/* signatures, YARA rules, appliance */
	size_t		 nro;
};

/* sandbox.c */
int	sandbox_enter(const struct sandbox_conf *, char *, size_t);
int	sandbox_confine_parser(char *, size_t);
/* Tries what the sandbox must refuse, and what it must allow; prints a
 * line each; 0 if every answer was the expected one. */
int	sandbox_check(char *const *, size_t);

/* child.c: runs one scan on channel FD with ENGINE; returns the exit
 * status. */
int	child_main(int, struct engine *, int, int);

#endif
