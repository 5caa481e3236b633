/*
 * The scan library's public face: scan one guest's disks with limits, a
 * progress and cancel handle, and a result.  It knows nothing of the
 * daemon; the daemon, the benchmarks and one-shot tools compose it.
 */
#ifndef SENTINEL_SCAN_H
#define SENTINEL_SCAN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct engine;
struct throttle;
struct verdict_cache;

struct scan_disk {
	char	*path;		/* file or block device on the host */
	char	*format;	/* "raw", "qcow2", ...: always given */
	char	*target;	/* "vda", for messages */
};

struct scan_opts {
	const char		*guest;		/* name, for log lines */
	const struct scan_disk	*disks;
	size_t			 ndisks;
	const char		*backend;	/* NULL/"": libguestfs default */
	const char		*backend_settings;
	uint64_t		 max_file_size;
	struct engine		*engine;
	struct throttle		*throttle;	/* host-wide budget, or NULL */
	const struct verdict_cache *cache;	/* clean verdicts, or NULL */
};

/* Shared between the scanning thread and whoever watches or cancels it. */
struct scan_progress {
	_Atomic uint64_t	 files;
	_Atomic uint64_t	 bytes_read;	/* off the tar stream, done fs */
	_Atomic uint64_t	 fs_bytes;	/* off the current fs stream */
	atomic_int		 cancel;
	pthread_mutex_t		 mtx;		/* guards g */
	void			*g;		/* guestfs_h while open */
};

enum scan_status {
	SCAN_CLEAN,
	SCAN_INFECTED,
	SCAN_INCOMPLETE,	/* cancelled or part of the guest unscanned */
	SCAN_FAILED,		/* nothing could be scanned */
};

struct scan_detection {
	char			*fs;		/* device in the appliance */
	char			*path;		/* raw bytes, NUL-terminated */
	size_t			 pathlen;
	char			*signature;
	uint64_t		 size;
	struct scan_detection	*next;
};

struct scan_result {
	enum scan_status	 status;
	char			 reason[512];	/* for failed and incomplete */
	uint64_t		 files;		/* regular files scanned */
	uint64_t		 bytes_read;	/* tar stream bytes */
	uint64_t		 bytes_scanned;	/* bytes given to the engine */
	uint64_t		 cache_hits;	/* files known clean by hash */
	uint64_t		 skipped_too_large;
	uint64_t		 errors;	/* files the engine could not scan */
	unsigned int		 fs_scanned;
	unsigned int		 fs_failed;
	unsigned int		 ndetections;
	struct scan_detection	*detections;	/* in scan order */
	uint64_t		 launch_ms;	/* appliance launch time */
	uint64_t		 stream_ms;	/* time spent streaming files */
};

void		 scan_progress_init(struct scan_progress *);
void		 scan_progress_destroy(struct scan_progress *);
/* Asks a running scan to stop; safe from any thread. */
void		 scan_cancel(struct scan_progress *);
/* Runs the scan in the calling thread.  The result is always filled. */
void		 scan_run(const struct scan_opts *, struct scan_progress *,
		    struct scan_result *);
void		 scan_result_free(struct scan_result *);
const char	*scan_status_name(enum scan_status);

#endif
