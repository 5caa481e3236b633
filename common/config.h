/*
 * sentineld.conf: one table declares every option (section, name, type,
 * bounds, default, help).  The parser, `sentineld -n` and the man page all
 * follow that table.
 */
#ifndef SENTINEL_CONFIG_H
#define SENTINEL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SENTINEL_CONF_PATH	"/etc/sentinel/sentineld.conf"

enum opt_type {
	OPT_STRING,
	OPT_INT,
	OPT_SIZE,		/* bytes, with k/M/G/T suffixes */
	OPT_DURATION,		/* seconds, with s/m/h/d/w suffixes */
};

struct opt_entry {
	const char	*section;
	const char	*name;
	enum opt_type	 type;
	long long	 min, max;	/* bounds for numbers */
	const char	*def;		/* default, as text */
	size_t		 off;		/* offset in struct config */
	const char	*help;
};

struct config {
	char		*libvirt_uri;
	char		*clamav_database;	/* "" means libclamav's default */
	char		*clamav_tmpdir;
	char		*guestfs_backend;	/* "" means libguestfs' default */
	char		*guestfs_backend_settings;
	char		*control_socket;
	char		*control_group;		/* "" means root only */
	char		*state_path;
	long long	 max_concurrent_scans;	/* 0 means derived from the host */
	uint64_t	 max_file_size;
	uint64_t	 libvirt_refresh;
};

extern const struct opt_entry config_options[];
extern const size_t config_noptions;

void	config_defaults(struct config *);
/* Load FILE over the current values.  On error returns -1 and writes
 * "FILE:LINE: message" into err. */
int	config_load(struct config *, const char *, char *, size_t);
/* Set one option from text; -1 with a message in err if invalid. */
int	config_set(struct config *, const char *, const char *, const char *,
	    char *, size_t);
void	config_print(const struct config *, FILE *);
void	config_free(struct config *);
const struct opt_entry *config_find(const char *, const char *);

#endif
