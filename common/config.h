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

/* Set by the build from its sysconfdir (/etc with the prefix /usr). */
#ifndef SENTINEL_CONF_PATH
#define SENTINEL_CONF_PATH	"/etc/sentinel/sentineld.conf"
#endif

enum opt_type {
	OPT_STRING,
	OPT_INT,
	OPT_SIZE,		/* bytes, with k/M/G/T suffixes */
	OPT_DURATION,		/* seconds, with s/m/h/d/w suffixes */
	OPT_DOUBLE,
	OPT_BOOL,		/* yes/no, true/false, on/off, 1/0 */
	OPT_WINDOWS,		/* a string that windows_parse() accepts */
};

struct opt_entry {
	const char	*section;
	const char	*name;
	enum opt_type	 type;
	long long	 min, max;	/* bounds for numbers */
	const char	*def;		/* default, as text */
	size_t		 off;		/* offset in its struct */
	const char	*help;
};

struct config {
	char		*libvirt_uri;
	char		*libvirt_guests;	/* patterns of names seen */
	char		*clamav_database;	/* "" means libclamav's default */
	char		*clamav_tmpdir;
	char		*yara_rules;		/* "" means no YARA */
	char		*guestfs_backend;	/* "" means libguestfs' default */
	char		*guestfs_backend_settings;
	uint64_t	 guestfs_launch_timeout;	/* seconds, 0: none */
	char		*scanner_user;
	char		*scanner_dir;
	char		*scanner_appliance;
	char		*control_socket;
	char		*control_group;		/* "" means root only */
	long long	 max_clients;		/* of the group, at once */
	char		*metrics_listen;	/* "" means not served */
	char		*metrics_textfile;	/* "" means not written */
	uint64_t	 metrics_textfile_interval;	/* seconds */
	int		 metrics_guest_labels;
	char		*state_path;
	uint64_t	 keep_scans;		/* seconds; 0: forever */
	long long	 keep_per_guest;
	uint64_t	 forget_guests;		/* seconds; 0: never */
	long long	 max_concurrent_scans;	/* 0 means derived from the host */
	uint64_t	 max_file_size;
	uint64_t	 max_scan_size;
	long long	 max_files;
	long long	 max_recursion;
	uint64_t	 max_file_scan_time;	/* seconds */
	char		*exclude_paths;
	uint64_t	 self_check;		/* seconds; 0 means never */
	uint64_t	 max_signature_age;	/* seconds; 0: not checked */
	uint64_t	 libvirt_refresh;
	long long	 per_storage_scans;
	long long	 verdict_cache;		/* entries; 0 means off */
	int		 file_index;
	uint64_t	 index_max_age;		/* seconds; 0: no bound */
	uint64_t	 settable_times_max_age;	/* NTFS, FAT: seconds;
						 * 0: never trusted */
	int		 strict;
	int		 carry_unchanged;
	uint64_t	 max_listing_size;
	uint64_t	 read_rate;		/* bytes/s; 0 means unlimited */
	uint64_t	 pressure_read_rate;
	long long	 engine_threads;	/* 0: the host's CPUs */
	long long	 cpu_threads;		/* 0: the host's CPUs */
	uint64_t	 spool_size;
	double		 max_io_pressure;
	double		 max_cpu_pressure;
	double		 max_load;		/* 0 means not checked */
	uint64_t	 interval;		/* seconds */
	uint64_t	 jitter;
	char		*windows;
	uint64_t	 retry_min, retry_max;
	uint64_t	 max_scan_time;		/* 0 means no limit */
	int		 scan_on_shutdown;
	uint64_t	 busy_read_rate;	/* 0 means not checked */
	uint64_t	 busy_max_delay;
	int		 point_in_time;
	int		 view_freeze;
	uint64_t	 agent_timeout;		/* seconds */
	char		*scratch_dir;
	uint64_t	 max_scratch;
	char		*qemu_user;
	char		*fleet_database;	/* libpq conninfo; "": none */
	char		*fleet_host;		/* "": the hostname */
	uint64_t	 fleet_lease;		/* seconds */
	long long	 fleet_verdicts;	/* shared clean verdicts kept;
						 * 0: not shared */
	struct fleet_storage *storages;		/* [fleet] storage NAME */
	struct guest_conf *guests;		/* [guest NAME] sections */
	struct plugin_conf *plugins;		/* [plugin NAME], in order */
};

/* [fleet] storage NAME = PREFIX... CAP: disks whose source starts with a
 * PREFIX share CAP scans fleet-wide. */
struct fleet_storage {
	char		*name;
	char		**prefixes;
	size_t		 n;
	long long	 cap;
	struct fleet_storage *next;
};

#define FLEET_STORAGE_MAX_CAP	1000
/* The storage of a disk source, or NULL. */
const struct fleet_storage *config_storage(const struct config *,
		    const char *);

/* A [plugin NAME] section: path, and keys the plugin reads itself. */
struct plugin_conf {
	char		*name;
	char		**keys, **values;
	size_t		 n;
	struct plugin_conf *next;
};

const char	*plugin_conf_get(const struct plugin_conf *, const char *);

/* A [guest NAME] section: what is not set comes from [schedule]. */
struct guest_conf {
	char		*name;
	unsigned int	 set;			/* bit per guest_options row */
	uint64_t	 interval;
	char		*windows;
	int		 exclude;
	long long	 priority;
	char		*exclude_paths;
	int		 scan_on_shutdown;
	struct guest_conf *next;
};

extern const struct opt_entry guest_options[];
extern const size_t guest_noptions;
#define GUEST_OPT_INTERVAL	0x1
#define GUEST_OPT_WINDOWS	0x2
#define GUEST_OPT_EXCLUDE	0x4
#define GUEST_OPT_PRIORITY	0x8
#define GUEST_OPT_EXCLUDE_PATHS	0x10
#define GUEST_OPT_SCAN_ON_SHUTDOWN 0x20

const struct guest_conf *config_guest(const struct config *, const char *);

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
/* Every effective setting, in -n's order and text: FN(ARG, SECTION, NAME,
 * VALUE), sections as "scan", "guest NAME", "plugin NAME".  -1 when FN
 * returns -1 or memory runs out, else 0. */
typedef int (*config_walk_fn)(void *, const char *, const char *,
    const char *);
int	config_walk(const struct config *, config_walk_fn, void *);
void	config_free(struct config *);
const struct opt_entry *config_find(const char *, const char *);

#endif
