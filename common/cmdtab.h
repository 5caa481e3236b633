/*
 * The control commands, defined once: each command's arguments with their
 * type and bounds, its usage and its help.  sentineld checks every request
 * against its command's entry before the handler runs (cmd_check);
 * sentinelctl takes its options, their checks and its usage from the same
 * entries; the man page test holds sentinelctl(1) against them.  As tmux's
 * cmd_entry and cmd_table[].
 *
 * A request is {"id":N,"cmd":"NAME","guest":"...",ARG:VALUE,...}: "guest"
 * is the positional NAME of the command line, the arguments are its
 * options (or, for the paging ones, only the protocol's).
 */
#ifndef SENTINEL_CMDTAB_H
#define SENTINEL_CMDTAB_H

#include <stddef.h>

#include <jansson.h>

#define CMD_MAX_GUEST	1024	/* longest guest name in a request, bytes */

enum cmd_arg_id {
	ARG_WAIT,
	ARG_FOLLOW,
	ARG_FULL,
	ARG_ALL,
	ARG_SKIPPED,
	ARG_SCAN,
	ARG_LIMIT,
	ARG_DETECTIONS_FROM,
	ARG_SKIPPED_FROM,
	ARG_BEFORE,
	ARG_RESUME,
	ARG_FLEET,
	ARG_COUNT
};

enum cmd_arg_type {
	CA_BOOL,	/* true or false; on the command line, --NAME */
	CA_INT		/* an integer in [min, max]; --NAME N */
};

#define CA_CLI		0x1	/* also a sentinelctl option */
#define CA_ALONE	0x2	/* when true: no "guest", no other argument */
#define CA_NULL		0x4	/* null is as absent (a page's "next") */

struct cmd_arg {
	const char		*name;	/* the request's key, the option's name */
	enum cmd_arg_type	 type;
	int			 flags;
	long long		 min, max;	/* CA_INT */
	int			 short_opt;	/* sentinelctl's -X, or 0 */
};

/* How a command takes a guest name. */
enum cmd_guest {
	CG_NONE,	/* never */
	CG_OPTIONAL,	/* one or none: none means every guest */
	CG_ONE,		/* exactly one */
	CG_MANY		/* sentinelctl: one or more, a request each; a
			 * request: exactly one */
};

#define CMD_ARG(a)	(1u << (a))

struct cmd_entry {
	const char	*name;
	enum cmd_guest	 guest;
	unsigned int	 args;		/* CMD_ARG() of each it takes */
	const char	*usage;		/* after "sentinelctl " */
	const char	*help;
};

extern const struct cmd_arg	cmd_args[ARG_COUNT];
extern const struct cmd_entry	cmd_table[];
extern const size_t		cmd_count;

/* The entry of command NAME, or NULL. */
const struct cmd_entry *cmd_find(const char *);
/* Checks request REQ against entry E: every key known to E, each value
 * of its type and within its bounds, the guest where E needs one.  0, or
 * -1 with the message in ERR. */
int	 cmd_check(const struct cmd_entry *, json_t *, char *, size_t);
/* "a, b and c": the names of the commands that take argument A. */
void	 cmd_takers(enum cmd_arg_id, char *, size_t);

#endif
