/*
 * The sentinel plugin ABI.
 *
 * A plugin is a shared object that exports one const descriptor,
 *
 *	const struct sentinel_plugin sentinel_plugin = { ... };
 *
 * beginning with SENTINEL_PLUGIN_ABI.  sentineld loads the plugins named
 * by [plugin NAME] sections (path = ...), refuses a file or directory not
 * owned by root or writable by group or others, checks the ABI version
 * before it calls anything, then calls init with the section.  Hooks run
 * in a thread of the plugin's own, one at a time, in order, never on
 * sentineld's loop: a slow plugin delays only its own events (which queue,
 * then drop, counted), never scans or the control socket.
 *
 * New hooks go into the spare slots, so a plugin built against this
 * header keeps loading; an incompatible change bumps the ABI version.
 * Everything a hook receives is valid during the call only.
 */
#ifndef SENTINEL_PLUGIN_H
#define SENTINEL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define SENTINEL_PLUGIN_ABI	1
#define SENTINEL_PLUGIN_SYMBOL	"sentinel_plugin"

/* A scan, as the hooks see it. */
struct sentinel_scan {
	int64_t		 id;		/* scan id; -1 when not stored yet */
	const char	*guest;
	const char	*uuid;
	const char	*trigger;	/* "schedule", "on-demand", "shutdown" */
	const char	*status;	/* scan_finished: "clean", "infected",
					 * "incomplete", "failed"; else NULL */
	const char	*reason;	/* scan_finished: or NULL */
	int64_t		 started_ms;	/* ms since the epoch */
	int64_t		 ended_ms;	/* scan_finished; else 0 */
	uint64_t	 files;		/* scan_finished: files read */
	uint64_t	 bytes_read;
	unsigned int	 detections;	/* scan_finished: how many */
	void		*spare[4];
};

/* A file found infected. */
struct sentinel_detection {
	const char	*fs;		/* device in the appliance */
	const char	*path;		/* escaped: \\ and \xNN for other bytes */
	int		 guest_path;	/* 1: path as the guest mounts it;
					 * 'A'-'Z': on that Windows drive */
	const char	*signature;
	const char	*engine;	/* "clamav" */
	uint64_t	 size;
	const char	*display;	/* as the guest shows it
					 * ("C:\\Users\\x.exe", "/srv/x"), or
					 * DEVICE:/path; UTF-8 kept, other
					 * bytes \xNN */
	void		*spare[3];
};

/* What sentineld gives init. */
struct sentinel_host {
	uint32_t	 abi;		/* SENTINEL_PLUGIN_ABI */
	const char	*name;		/* NAME of [plugin NAME] */
	/* A key of the section, or NULL; during init only. */
	const char	*(*conf_get)(const struct sentinel_host *,
			    const char *key);
	/* A line in sentineld's log, prefixed with the plugin's name;
	 * level 0 information, 1 warning.  Any thread. */
	void		 (*log)(const struct sentinel_host *, int level,
			    const char *msg);
	/* What the plugin did about scan scan_id, kept with the scan in
	 * the state database (sentinelctl results shows it) and logged.
	 * Any thread. */
	void		 (*record)(const struct sentinel_host *,
			    int64_t scan_id, const char *text);
	void		*priv;		/* sentineld's */
	void		*spare[8];
};

struct sentinel_plugin {
	uint32_t	 abi;		/* SENTINEL_PLUGIN_ABI */
	const char	*name;		/* the plugin's own name */
	/* 0, or -1 with a message in err: then it is not loaded. */
	int		(*init)(const struct sentinel_host *, void **state,
			    char *err, size_t errlen);
	void		(*scan_started)(void *state,
			    const struct sentinel_scan *);
	/* Each detection of a scan, when the scan ends, before
	 * scan_finished. */
	void		(*file_detected)(void *state,
			    const struct sentinel_scan *,
			    const struct sentinel_detection *);
	void		(*scan_finished)(void *state,
			    const struct sentinel_scan *);
	void		(*reopen)(void *state);		/* on SIGHUP */
	void		(*shutdown)(void *state);	/* last call */
	void		(*spare[8])(void);		/* NULL */
};

#endif
