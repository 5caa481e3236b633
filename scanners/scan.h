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
struct read_budget;
struct verdict_cache;
struct file_index;
struct own_map;

struct scan_disk {
	char	*path;		/* file or block device on the host, or the
				 * Unix socket of an NBD server */
	char	*format;	/* "raw", "qcow2", ...: always given */
	char	*target;	/* "vda": for messages, and the NBD export */
	int	 nbd;		/* path is an NBD socket exporting target */
};

struct scan_opts {
	const char		*guest;		/* name, for log lines */
	const struct scan_disk	*disks;
	size_t			 ndisks;
	const char		*backend;	/* NULL/"": libguestfs default */
	const char		*backend_settings;
	/* Seconds the appliance may take to come up (0: libguestfs's own
	 * bound) before it is killed and launched once more. */
	unsigned int		 launch_timeout;
	uint64_t		 max_file_size;
	uint64_t		 max_listing;	/* bytes of a tree's listing */
	char *const		*excludes;	/* glob patterns of guest paths */
	size_t			 nexcludes;
	struct engine		*engine;
	const struct read_budget *budget;	/* host-wide, or NULL */
	/* Called first in the thread that parses tar streams and runs the
	 * engines, to confine it (a seccomp filter); -1 fails the scan. */
	int			(*confine_parser)(char *, size_t);
	const struct verdict_cache *cache;	/* clean verdicts, or NULL */
	const struct file_index	*index;		/* last scans' files, or NULL */
	/* Engine threads: files read off the stream wait in a spool of
	 * spool_size bytes (0: SCAN_SPOOL_DEFAULT) for one of `threads`
	 * threads (0: 1), of which progress->threads may scan at once. */
	unsigned int		 threads;
	size_t			 spool_size;
	/* The program sentinel-fiemap, open as fiemap_fd (else -1): it
	 * lists each tree in one walk (treelist.h), and learns where each
	 * file's bytes lie on the disks (extents.h) when `extents` is set,
	 * for the index, so that linked clones of this guest can be spared
	 * reading what they share with it. */
	int			 extents;
	int			 fiemap_fd;
	/* A linked clone's scan: the ranges of each disk (ndisks of them)
	 * its own overlay holds, and its base's file index (on
	 * sentineld's side; the scanner has it through `index`); a file
	 * that lies wholly outside those ranges where the base's file of
	 * the same path lay is the base's file.  NULL: not a clone. */
	const struct own_map	*own;
	const struct file_index	*base_index;
};

/* Byte ranges [start, end) of one disk, in order, none overlapping. */
struct own_range {
	uint64_t	 start, end;
};

struct own_map {
	struct own_range	*r;
	size_t			 n;
};
#define OWN_MAX_RANGES	(1U << 20)	/* a disk's; past it, no clone */
#define SCAN_SPOOL_DEFAULT	(64UL * 1024 * 1024)
#define SCAN_MAX_THREADS	32	/* YARA's concurrent scans per rules */

/* Shared between the scanning thread and whoever watches or cancels it. */
struct scan_progress {
	_Atomic uint64_t	 files;
	_Atomic uint64_t	 bytes_read;	/* off the tar stream, done fs */
	_Atomic uint64_t	 fs_bytes;	/* off the current fs stream */
	atomic_int		 cancel;
	atomic_int		 cut;		/* with cancel: cut short, to be
						 * resumed (scan_cut) */
	atomic_uint		 threads;	/* engine threads granted now; 0:
						 * all of opts->threads */
	_Atomic uint64_t	 spool_peak;	/* bytes the spool held at most */
	pthread_mutex_t		 mtx;		/* guards g and fs */
	void			*g;		/* guestfs_h while open */
	void			(*on_cancel)(void *);	/* called with g */
	char			 fs[128];	/* being scanned, or "" */
};

enum scan_status {
	SCAN_CLEAN,
	SCAN_INFECTED,
	SCAN_INCOMPLETE,	/* cancelled or part of the guest unscanned */
	SCAN_FAILED,		/* nothing could be scanned */
};
#define SCAN_NSTATUS	(SCAN_FAILED + 1)

/* Why a file (or a filesystem) was not scanned. */
enum skip_reason {
	SKIP_TOO_LARGE,		/* over max_file_size */
	SKIP_LIMIT,		/* an engine limit stopped it (archive, time) */
	SKIP_EXCLUDED,		/* an exclude pattern */
	SKIP_UNREADABLE,	/* lstat, read or the engine failed */
	SKIP_ENCRYPTED,		/* encrypted archive, document or volume */
	SKIP_SPECIAL,		/* device node, FIFO or socket */
	SKIP_FILESYSTEM,	/* a filesystem that could not be scanned */
	SKIP_MEMORY,		/* Windows' paging, hibernation or swap file */
	SKIP_NREASONS
};
#define SCAN_SKIP_PATHS	1000	/* paths kept per reason and scan */

/*
 * How a path of a result is shown: guest_path 0, of the device
 * ("/dev/sda1:/x"); 1, as the guest mounts it ("/srv/x"); a letter 'A' to
 * 'Z', as Windows shows it on that drive ("C:\\Users\\x.exe").
 */
#define SCAN_DRIVE(gp)	((gp) >= 'A' && (gp) <= 'Z' ? (char)(gp) : 0)

/* PATH (LEN raw bytes) of device FS as the result shows it (above);
 * malloc'd, NULL without memory. */
char		*scan_display_path(const char *fs, const char *path, size_t len,
		    int guest_path);

struct scan_skip {
	enum skip_reason	 reason;
	char			*fs;
	char			*path;		/* raw bytes; "" for a filesystem */
	size_t			 pathlen;
	int			 guest_path;	/* SCAN_GUEST_PATH */
	char			*detail;
	uint64_t		 seq;		/* order of a serial scan */
	struct scan_skip	*next;
};

struct scan_detection {
	char			*fs;		/* device in the appliance */
	int			 guest_path;	/* SCAN_GUEST_PATH */
	char			*path;		/* raw bytes, NUL-terminated */
	size_t			 pathlen;
	char			*signature;
	const char		*engine;	/* "clamav", "yara" */
	int			 hidden;	/* under a mountpoint of the
						 * guest: the running guest
						 * does not see it */
	uint64_t		 size;
	uint64_t		 seq;		/* order of a serial scan */
	struct scan_detection	*next;
};

struct scan_result {
	enum scan_status	 status;
	char			 reason[512];	/* for failed and incomplete */
	uint64_t		 files;		/* regular files scanned */
	uint64_t		 bytes_read;	/* tar stream bytes */
	uint64_t		 bytes_scanned;	/* bytes given to the engine */
	uint64_t		 cache_hits;	/* files known clean by hash */
	uint64_t		 unchanged;	/* known clean by the index, not read */
	uint64_t		 hidden;	/* files under a mountpoint of the
						 * guest, on the filesystem below
						 * it: scanned, and a rootkit sign */
	uint64_t		 skipped[SKIP_NREASONS];
	unsigned int		 fs_scanned;
	unsigned int		 fs_failed;
	unsigned int		 ndetections;
	struct scan_detection	*detections;	/* in scan order */
	struct scan_skip	*skips;		/* at most SCAN_SKIP_PATHS each */
	unsigned int		 nskips[SKIP_NREASONS];
	char			 os[128];	/* inspected OS, "" if none */
	uint64_t		 launch_ms;	/* appliance launch time */
	uint64_t		 stream_ms;	/* time spent streaming files */
	unsigned int		 streams;	/* tar streams it took */
};

void		 scan_progress_init(struct scan_progress *);
void		 scan_progress_fs(struct scan_progress *, char *, size_t);
void		 scan_progress_set_fs(struct scan_progress *, const char *);
void		 scan_progress_destroy(struct scan_progress *);
/* Asks a running scan to stop; safe from any thread. */
void		 scan_cancel(struct scan_progress *);
/* Cancels, keeping what was read: the files taken off the stream are still
 * scanned, and every verdict goes to the file index, so that the next scan
 * of the guest goes on where this one stopped. */
void		 scan_cut(struct scan_progress *);
/* Runs the scan from the calling thread; tar streams are parsed and the
 * engines run in a parser thread of the scan's own, confined first by
 * opts->confine_parser.  The result is always filled. */
void		 scan_run(const struct scan_opts *, struct scan_progress *,
		    struct scan_result *);
/* Scans the tar stream on FD as one filesystem named NAME, through the
 * same parser thread, spool and engine threads (opts->disks unused): for
 * benchmarks and tests of the pipeline without an appliance. */
void		 scan_tar(const struct scan_opts *, struct scan_progress *, int,
		    const char *, struct scan_result *);
void		 scan_result_free(struct scan_result *);
const char	*scan_status_name(enum scan_status);
const char	*skip_reason_name(enum skip_reason);
/* Files and filesystems of a scan not scanned in full: too large (only
 * their first bytes were), stopped at an engine limit, unreadable,
 * encrypted, and filesystems that failed.  Excluded paths (the admin's
 * choice) and special files (no data) are not counted. */
uint64_t	 scan_not_scanned(const uint64_t [SKIP_NREASONS]);
/* Whether a scan of STATUS with those skipped counts covered every file:
 * what the result calls complete. */
int		 scan_complete(enum scan_status, const uint64_t [SKIP_NREASONS]);

#endif
