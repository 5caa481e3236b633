/*
 * sentinelctl's private header.  sentinelctl.c parses the command line
 * (from common/cmdtab.c) and runs the commands; client.c talks to
 * sentineld over the control socket; show.c renders replies as text.
 * Exit status as clamscan's: 0 success or clean, 1 detections, 2 error.
 */
#ifndef SENTINELCTL_H
#define SENTINELCTL_H

#include <stddef.h>

#include <jansson.h>

#include "cmdtab.h"

#define EXIT_CLEAN	0
#define EXIT_INFECTED	1
#define EXIT_ERROR	2

#define MAX_REPLY	(64 * 1024 * 1024)

struct ctl {
	int		 fd;
	int		 json;
	/* The command's options, as common/cmdtab.c defines them: 1 for a
	 * flag given, the number of one with a value; 0: not given. */
	long long	 opt[ARG_COUNT];
	int		 raw_text;	/* config: the file's lines as they are */
	const char	*socket;
	char		*buf;		/* bytes read, not yet parsed */
	size_t		 len, cap;
	char		 err[256];
};

/* client.c: the connection, requests and replies; each dies on error. */
void		 die(const char *, ...)
		    __attribute__((noreturn, format(printf, 1, 2)));
void		 ctl_connect(struct ctl *);
void		 ctl_hello(struct ctl *);
void		 ctl_write(struct ctl *, json_t *);
json_t		*ctl_read(struct ctl *);
json_t		*request(const struct ctl *, const char *, const char *);
json_t		*ctl_request(struct ctl *, json_t *);

/* show.c: replies as text.  Much of what they hold comes from guests;
 * ctl_read has made every string of a reply safe for a terminal. */
const char	*str(json_t *, const char *);
long long	 num(json_t *, const char *);
void		 term_safe_json(json_t *);
void		 show_event(struct ctl *, json_t *);
void		 print_json(json_t *);
int		 status_exit(const char *);
/* "; not complete: N files or filesystems not scanned in full" for a
 * clean or infected scan that left some out, else "". */
const char	*not_complete(json_t *, char *, size_t);
/* Prints one scan record; returns the exit status it stands for. */
int		 print_scan(json_t *);

#endif
