/*
 * sentineld's private header: the daemon's state, owned by the libuv loop
 * thread, and the prototypes of its modules.
 *
 * The threads, and what each may touch.  Data crosses between them one
 * way: a queue under a mutex, then uv_async_send() to wake the loop.
 * Counters read across threads are C11 atomics.  pthreads throughout.
 *
 *   loop	    The libuv loop (main.c): sd, the inventory's guests, the
 *		    policy, the control clients and the metrics' (their
 *		    counters, server and textfile), the estimates' ring of
 *		    recent scans, the state database's main connection
 *		    (store.c), and every field of a job marked (loop) below.  The only thread that calls into the other
 *		    modules' state.
 *   pool	    libuv's work threads, one request each, results read by
 *		    the request's done callback on the loop: the inventory's
 *		    refresh (its own libvirt connection), retention's prune
 *		    (its own database connection), a reload's wait for the
 *		    new scanner (scanner.c).
 *   worker	    One per running scan (jobs.c): the job's fields marked
 *		    (worker) while it runs; the view, the NBD exports, the
 *		    disk stamps, the file index (its own database
 *		    connection), and the scanner child's records
 *		    (scanner_run).  Hands the job back on the done queue.
 *		    The loop reads `progress` (atomics) and may cancel.
 *   reaper	    One per scanner process (scanner.c): waits for it to exit,
 *		    says so through died_async.
 *   abort	    A view's abort (view.c): ends a backup job on a
 *		    libvirt connection of its own after the job has left.
 *   events	    libvirt's event loop (inventory.c, ev_main): the `ev`
 *		    struct's fields marked as the event thread's own; the
 *		    rest under ev.mtx, read by the loop after ev.async.
 *   plugin	    One per loaded plugin (plugins.c): takes events off its
 *		    queue (under its mutex), calls the plugin; the plugin's
 *		    records come back through records_async.
 *
 * Scanner children are processes, not threads: they share nothing but
 * their channel (srec.h).
 */
#ifndef SENTINELD_H
#define SENTINELD_H

#include <pthread.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "config.h"
#include "policy.h"
#include "scan.h"

struct scanner;
struct client;
struct throttle;
struct read_budget;
struct verdict_cache;

/* A guest as libvirt last described it. */
struct guest {
	char			*name;
	char			 uuid[UUID_BUF];
	char			*state;		/* "running", "shut off", ... */
	struct scan_disk	*disks;
	size_t			 ndisks;
	char			*disk_note;	/* disks that cannot be scanned */
	uint64_t		 devs[POL_MAX_DEVS]; /* storage they live on */
	unsigned int		 ndevs;
	int64_t			 rd_bytes;	/* its disks' reads; -1: unknown */
	int64_t			 rd_ms;		/* when sampled */
};

enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
};

typedef void (*job_waiter_fn)(void *, const json_t *);

struct job_waiter {
	job_waiter_fn			 fn;
	void				*arg;
	TAILQ_ENTRY(job_waiter)		 entry;
};

/* Which disks a scan read (view.c). */
enum view_kind {
	VIEW_OFFLINE,		/* a shut-off guest's images */
	VIEW_BACKUP,		/* a backup job's point-in-time export */
	VIEW_LIVE,		/* a running guest's images, changing */
};

struct _virConnect;
struct _virDomain;

/*
 * A scan's view of its guest's disks (view.c), inside its job.  Untagged
 * fields are set on the loop before the worker starts and read-only
 * after.  (worker): written by the scan's worker (view_begin, view_end),
 * read by the loop only after the hand-back.  (mtx): under the job's
 * progress.mtx, written by the worker and by the loop's scratch check
 * (view_check_scratch), which also reads the (worker) fields marked
 * "while job" under that lock, and only while job is set: view_end
 * clears job under the lock before it lets them go.
 */
struct view {
	/* Settings, copied when the scan starts. */
	int			 want;		/* try a backup job */
	int			 freeze;
	int			 agent_timeout;		/* seconds */
	uint64_t		 max_scratch;
	char			*dir;		/* scratch_dir */
	char			*uri;
	/* What the scan got. */
	enum view_kind		 kind;		/* (worker) */
	const char		*consistency;	/* (worker) crash-/application- */
	char			 note[384];	/* (worker) why live, no freeze */
	int64_t			 at_ms;		/* (worker) when taken */
	int64_t			 begin_ms, end_ms; /* (worker) cost of taking,
						 * ending */
	uint64_t		 scratch_used;	/* (mtx) most seen, bytes */
	/* The backup job, while it runs. */
	struct _virConnect	*conn;		/* (worker) */
	struct _virDomain	*dom;		/* (worker; while job) */
	int			 job;		/* (mtx) a job of ours runs */
	int			 aborting;	/* (mtx) past max_scratch */
	char			 sock[108];	/* (worker; while job) */
	char			**scratch;	/* (worker; while job) per disk */
	struct scan_disk	*disks;		/* (worker) the NBD exports */
	size_t			 ndisks;	/* (worker; while job) */
};

/* A disk exported read-only to the scanner by qemu-nbd (export.c). */
struct export {
	pid_t			 pid;
	char			 sock[108];
};

/*
 * A scan, from the request until its result is stored.  (loop): set and
 * read on the loop only.  (worker): written by the scan's worker thread
 * between its start and its hand-back, read by the loop only after it
 * (jobs.c, on_done joins the thread first).  Anything else: set on the
 * loop before the worker starts, read-only while it runs.
 */
struct job {
	int64_t				 id;		/* row in scans */
	char				*guest;
	char				 uuid[UUID_BUF];
	const char			*trigger;
	enum job_state			 state;		/* (loop) */
	struct pol_guest		*pg;		/* (loop) policy place */
	char				 cancel_why[96];	/* (loop) who */
	int				 cut;		/* (loop) cut short, to be
							 * resumed (scan_cut) */
	int				 attempt;	/* (loop) 1, or the n-th of
							 * a scan cut short */
	int				 resumable;	/* (loop) the result: the
							 * next scan goes on */
	int64_t				 queued_ms, started_ms, ended_ms; /* (loop) */
	struct scan_disk		*disks;
	size_t				 ndisks;
	char				*disk_note;	/* disks left out */
	int				 strict;	/* [scan] strict */
	/* A shut-off guest whose images are as at its last complete scan
	 * is not read again (diskstamp.c): that scan's result is carried
	 * over.  Set at start, on the loop: */
	int				 full;		/* scan --full */
	int				 carry;		/* carry_unchanged */
	char				*settings;	/* what shapes a result */
	int64_t				 prev_id;	/* last complete scan */
	int64_t				 prev_from;	/* its own source */
	char				*prev_stamp;	/* its images, or NULL */
	char				 prev_sig[48];
	/* (worker): */
	char				*disk_stamp;	/* the images now, or NULL */
	char				*base_stamp;	/* their backing images' */
	int64_t				 carried_from;	/* result carried over */
	int64_t				 estimate_ms;	/* (loop) at start */
	int				 estimate_basis; /* (loop) est_basis */
	/* A linked clone whose base was scanned as a guest: */
	struct findex			*base_findex;	/* the base's index */
	struct own_map			*own;		/* one per disk */
	/* Set on the loop before the worker starts: */
	char				*backend;	/* copies: a reload */
	char				*backend_settings; /* may free sd.conf's */
	char				**excludes;	/* exclude_paths, split */
	size_t				 nexcludes;
	struct findex			*findex;	/* used by the worker */
	struct scanner			*scanner;	/* the one it started on */
	char				*export_dir;	/* [scanner] dir, copied */
	struct export			*exports;	/* (worker) one a disk */
	size_t				 nexports;	/* (worker) */
	struct scan_disk		*xdisks;	/* (worker) what the
							 * scanner reads */
	struct read_budget		*budget;
	char				 sig_version[48];
	struct scan_opts		 opts;		/* own, base_index,
							 * disks: (worker) */
	struct scan_progress		 progress;	/* atomics: both */
	struct scan_result		 result;	/* (worker) */
	struct view			 view;		/* (worker) */
	pthread_t			 thread;
	TAILQ_HEAD(, job_waiter)	 waiters;	/* (loop) */
	TAILQ_ENTRY(job)		 entry;		/* (loop) queued, running */
	TAILQ_ENTRY(job)		 done_entry;	/* under done_mtx */
};
TAILQ_HEAD(jobq, job);

struct daemon {
	uv_loop_t		*loop;
	struct config		 conf;
	const char		*conf_path;
	int64_t			 started_ms;
	struct scanner		*scanner;	/* the current one */
	int			 stopping;
	unsigned int		 max_scans;	/* effective cap */
};

extern struct daemon sd;

/* fleet.c: the fleet's shared PostgreSQL ([fleet] database) */
int		 fleet_init(char *, size_t);
void		 fleet_close(void);
int		 fleet_enabled(void);
const char	*fleet_host(void);
void		 fleet_kick(void);
json_t		*fleet_status_json(void);
void		 fleet_guests(void (*)(void *, json_t *, const char *), void *);
void		 fleet_history(const char *, long long,
		    void (*)(void *, json_t *, const char *), void *);
/* The fleet's verdicts on a scan about to start (fleet_gate). */
#define FLEET_ALONE	-1	/* no answer: this host decides alone */
#define FLEET_OK	0	/* start (claim and slot taken) */
#define FLEET_SCANNED	1	/* the fleet scanned it since: who, ended */
#define FLEET_FAILED	2	/* the fleet tried it since, and failed */
#define FLEET_CLAIMED	3	/* another host scans it: who, until */
#define FLEET_SLOT	4	/* its storage's slots are taken: by whom,
				 * the first lapses at */
typedef void (*fleet_gate_fn)(void *, int, const char *, int64_t);
int		 fleet_ready(void);
#define FLEET_START_MS	30000
int		 fleet_starting(void);
void		 fleet_gate(const char *, const char *, int64_t, int,
		    const struct fleet_storage *, fleet_gate_fn, void *);
void		 fleet_release(const char *);

/* plugins.c */
void		 plugins_init(void);
void		 plugins_scan_started(const struct job *);
void		 plugins_scan_finished(const struct job *);
void		 plugins_reopen(void);
void		 plugins_close(void);
/* Calls FN with each plugin's name and the events its queue dropped. */
void		 plugins_dropped(void (*)(void *, const char *, uint64_t),
		    void *);
int		 plugins_conf_same(const struct plugin_conf *,
		    const struct plugin_conf *);

/* indexstore.c: the file index's store (the interface: scanners/findex.h) */
struct findex;
/* The file index of guest UUID in the state database at PATH, for a scan
 * with signatures VERSION starting at NOW (seconds since the epoch),
 * records trusted for at most MAX_AGE seconds (0: no bound). */
struct findex	*findex_new(const char *, const char *, const char *,
		    uint64_t, int64_t);
/* Records of trees whose filesystem lets a user set every time
 * (FINDEX_Q_SETTABLE) are trusted for at most SECS (0: never). */
void		 findex_set_settable_age(struct findex *, uint64_t);
const struct file_index *findex_iface(struct findex *);
int		 findex_save(struct findex *);
void		 findex_free(struct findex *);
/* The guest (into UUID, 37 bytes) other than SELF whose newest complete
 * scan read images of stamp STAMP: 1, or 0 if none (-1 on error). */
int		 findex_base_guest(const char *, const char *, const char *,
		    char *);

/* main.c */
unsigned int	 derive_max_scans(void);
void		 signatures_reload(void (*)(void *, const char *), void *);

/* scanner.c */
int		 scanner_setup(const struct config *, char *, size_t);
int		 scanner_init(void);
void		 scanner_close(void);
struct scanner	*scanner_start(const struct config *, char *, size_t);
void		 scanner_reload(void (*)(void *, const char *), void *);
int		 scanner_reloading(void);
void		 scanner_restart_cb(uv_timer_t *);
struct scanner	*scanner_ref(struct scanner *);
void		 scanner_unref(struct scanner *);
void		 scanner_run(struct scanner *, const struct scan_opts *,
		    struct scan_progress *, struct scan_result *);
unsigned int	 scanner_kill_all(void);
gid_t		 scanner_gid(void);
void		 scanner_budget(struct read_budget *, struct throttle *);
int		 scanner_stale(const struct scanner *, const char *);
const char	*scanner_version(const struct scanner *);
const char	*scanner_stamp(const struct scanner *);
const char	*scanner_dbdir(const struct scanner *);
const char	*scanner_libversion(const struct scanner *);
unsigned int	 scanner_signatures(const struct scanner *);
unsigned int	 scanner_yara_rules(const struct scanner *);
uint64_t	 scanner_load_ms(const struct scanner *);
/* When the loaded signatures were built or written (sig_dir_time). */
int64_t		 scanner_signature_time(const struct scanner *);
int		 scanner_outdated(const struct scanner *, int64_t);
/* The current scanner was loaded: its signatures' age is checked. */
void		 scanner_loaded(void);
/* Keeps the sums of its signatures by class of file (sigsum.h), when the
 * scanner could take them, in the state database for the file index of
 * later scans. */
void		 scanner_keep_sigsum(const struct scanner *);
pid_t		 scanner_pid(const struct scanner *);

/* export.c */
int		 exports_begin(struct job *, char *, size_t);
void		 exports_end(struct job *);
void		 exports_free(struct job *);

/* control.c */
int		 control_init(char *, size_t);
void		 control_close(void);
void		 control_close_clients(void);
void		 client_send(struct client *, json_t *);
void		 client_ref(struct client *);
void		 client_unref(struct client *);
void		 client_pending(struct client *, int);
int		 client_closed(const struct client *);
/* {"ok":true,"id":ID} merged with BODY (taken; NULL: an error reply). */
void		 reply_ok(struct client *, long long, json_t *);
void		 reply_error(struct client *, long long, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* ctlcmds.c: a request's command, checked against common/cmdtab.c and
 * run (its reply sent, now or later); at start, that every command of the
 * table has its handler. */
void		 ctl_handle(struct client *, long long, const char *, json_t *);
int		 ctl_check_table(char *, size_t);

/* inventory.c */
typedef void (*inventory_cb)(void *);
void		 inventory_init(void);
void		 inventory_refresh(inventory_cb, void *);
void		 inventory_close(void);
const struct guest *inventory_find(const char *);
size_t		 inventory_count(void);
const struct guest *inventory_at(size_t);
int		 inventory_connected(void);
int		 inventory_live(void);
const char	*inventory_error(void);
int64_t		 inventory_refreshed_ms(void);

/* domxml.c */
int		 domxml_disks(const char *, struct scan_disk **, size_t *,
		    char **, char *, size_t);
void		 disks_free(struct scan_disk *, size_t);
struct scan_disk *disks_copy(const struct scan_disk *, size_t);
int		 domxml_agent(const char *);
char		*domxml_backup(const char *, const struct scan_disk *, size_t,
		    char *const *);
char		*domxml_backup_socket(const char *);

/* jobs.c */
int		 jobs_init(void);
/* What jobs_submit found for the guest. */
enum submitted {
	SUBMIT_NEW,		/* queued now */
	SUBMIT_QUEUED,		/* was queued: moved to the front */
	SUBMIT_RUNNING		/* is running: that scan is the answer */
};
struct job	*jobs_submit(const struct guest *, const char *,
		    enum submitted *, char *, size_t);
void		 jobs_start(struct pol_guest *);
void		 jobs_check_time(int64_t);
const char	*jobs_cancel(struct job *, int);
void		 jobs_wait(struct job *, job_waiter_fn, void *);
void		 jobs_unwait(void *);
struct job	*jobs_find(const char *);
json_t		*jobs_json(void);
unsigned int	 jobs_running(void);
unsigned int	 jobs_unstored_count(void);
void		 jobs_shutdown(void (*)(void));
void		 jobs_close(void);
json_t		*job_progress_json(struct job *);
json_t		*jobs_unstored_json(const char *, const char *);

/* schedule.c */
/* diskstamp.c */
char		*disk_stamp(const struct scan_disk *, size_t, const char *,
		    char **, char *, size_t);
int		 disk_own_ranges(const struct scan_disk *, struct own_map *,
		    char *, size_t);

void		 retention_init(void);
void		 retention_close(void);

int		 schedule_init(char *, size_t);
void		 schedule_sync(void);
void		 schedule_kick(void);
void		 schedule_reconf(void);
void		 schedule_close(void);
void		 schedule_free(void);
struct pol_guest *schedule_guest(const char *);
void		 policy_done_guest(struct pol_guest *, int, int64_t);
void		 policy_demand_guest(struct pol_guest *);
void		 policy_undemand_guest(struct pol_guest *);
struct throttle	*schedule_throttle(void);
unsigned int	 schedule_waiting(void);
int		 schedule_pressure(struct pressure *);
/* The host's engine threads ([scan] cpu_threads), dealt among running
 * scans: a scan holds a share from schedule_cpu_hold to
 * schedule_cpu_release, and schedule_cpu_grant says how many of its WANT
 * threads it may run now.  Thread-safe: scan workers ask. */
void		 schedule_cpu_hold(void);
void		 schedule_cpu_release(void);
unsigned int	 schedule_cpu_grant(unsigned int);
unsigned int	 schedule_cpu_budget(void);
unsigned int	 effective_engine_threads(const struct config *);
/* The rows of `sentinelctl schedule`; *ROUND the current round's end. */
json_t		*schedule_json(json_t **);
int		 schedule_pause(const char *, const char *, int, char *,
		    size_t);
int64_t		 schedule_paused(const char *);
json_t		*schedule_next_due_json(const char *);
void		 schedule_fleet_history(const char *, int64_t, int);
/* How many guests are in each of the N states NAMES (policy_explain's
 * words), into COUNTS. */
void		 schedule_count_states(const char *const *, size_t,
		    unsigned int *);
/* The end of guest UUID's last complete scan (ms), 0 if none. */
int64_t		 schedule_last_complete(const char *);

/* estimate.c */
enum est_basis { EST_HISTORY, EST_ALLOCATION, EST_HOST, EST_DEFAULT };
struct est_rates {
	unsigned int	 scans;		/* measured over */
	double		 read_rate;	/* bytes/s once an appliance is up */
	int64_t		 launch_ms;	/* median appliance launch */
	int64_t		 scan_ms;	/* median scan */
};
void		 estimate_init(void);
/* Sets O's estimate_ms and estimate_basis for guest G (ctlcmds.c). */
void		 estimate_json(json_t *, const struct guest *);
void		 estimate_scan_done(const struct job *);
void		 estimate_rates(struct est_rates *);
int64_t		 estimate_guest(const struct guest *, enum est_basis *);
const char	*estimate_basis_name(enum est_basis);
int64_t		 estimate_median(int64_t *, size_t);

/* metrics.c */
struct sockaddr_storage;
void		 metrics_scan_done(const struct job *);
int		 metrics_parse_listen(const char *, struct sockaddr_storage *,
		    char *, size_t);
int		 metrics_init(char *, size_t);
void		 metrics_reconf(void);
void		 metrics_close(void);

/* view.c */
int		 view_setup(const struct config *, int);
int		 view_prepare(struct job *, const struct guest *);
void		 view_begin(struct job *);
void		 view_end(struct job *);
void		 view_free(struct view *);
void		 view_check_scratch(struct job *);
void		 view_orphans(struct _virDomain **, int, const char *);
const char	*view_kind_name(enum view_kind);
const char	*virt_error(void);

/* vcache.c */
int		 vcache_init(size_t, const char *);
const struct verdict_cache *vcache_iface(void);
void		 vcache_flush(void);
size_t		 vcache_size(void);
void		 vcache_share(int);
size_t		 vcache_take_fresh(unsigned char **, uint32_t **, char *,
		    size_t);
const char	*vcache_version(void);
int		 vcache_add_shared(const char *, const unsigned char *,
		    uint32_t);
void		 vcache_free(void);

/* pressure.c */
void		 pressure_read(struct pressure *);

/* store.c */
struct store_history {
	int64_t		first_seen;
	int64_t		last_ok_end;
	int64_t		last_fail_end;
	unsigned int	failures;
};
void		 store_history(const char *, const char *, int64_t,
		    struct store_history *);
void		 store_verdicts_load(const char *, size_t,
		    void (*)(void *, const unsigned char *, uint32_t), void *);
int		 store_verdicts_save(const char *, const unsigned char *,
		    const uint32_t *, size_t, size_t);
int		 store_open(const char *, char *, size_t);
void		 store_close(void);
int		 store_recover(void);
int64_t		 store_scan_queued(const struct job *);
int		 store_scan_started(const struct job *);
int		 store_scan_finished(const struct job *, int64_t);
int		 store_scan_write(struct job *);
int		 store_pause(const char *, int64_t);
int		 store_scan_action(int64_t, const char *, int64_t,
		    const char *);
int64_t		 store_paused(const char *);
int		 store_sigsum_put(const char *, const unsigned char *,
		    const unsigned char *, size_t, int64_t);
json_t		*store_scan_json_unstored(const struct job *);
json_t		*store_scan_json(int64_t);
/* Where a scan's lists start in a reply: row ids from an earlier page's
 * detections_next and skipped_next (0: the start). */
struct store_page {
	int64_t		 detections_from, skipped_from;
};
json_t		*store_scan_by_id(int64_t, int, const struct store_page *);
int		 store_fleet_instance(char *, size_t);
void		 store_fleet_enable(int);
size_t		 store_fleet_pending(int64_t *, size_t);
int64_t		 store_fleet_backlog(void);
int		 store_fleet_sent(int64_t);
int		 store_last_complete(const char *, int64_t *, char **, char *,
		    size_t, int64_t *);
int		 store_scan_load(int64_t, struct scan_result *);
int		 store_next_attempt(const char *, int64_t);
#define HISTORY_PAGE	500	/* scans in one history reply */
json_t		*store_history_json(const char *, const char *, int64_t,
		    int64_t);
#define STORE_DETECTIONS	0x1	/* with a scan's detections */
#define STORE_SKIPPED		0x2	/* with the paths not scanned */
json_t		*store_last_scan(const char *, const char *, int);
/* The last scan of guest UUID that ended: its end and detections (zeros
 * when none); 0, or -1 on a database error. */
struct store_last {
	int64_t		 ended_ms;
	int64_t		 detections;
};
int		 store_last_result(const char *, struct store_last *);
/* The durations (ms) of guest UUID's last N scans that read something
 * and were whole (not cut short, not the rest of one), newest first, into
 * OUT; how many. */
size_t		 store_guest_durations(const char *, int64_t *, size_t);
/* The host's last N such scans, oldest first, to FN(ARG, launch, total,
 * bytes read). */
void		 store_recent_scans(size_t, void (*)(void *, int64_t, int64_t,
		    uint64_t), void *);

#endif
