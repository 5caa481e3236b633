/*
 * Scan jobs: a scan from the request until its result is stored, run in
 * its own worker thread.  Which scan starts when is the schedule's call
 * (schedule.c); on-demand requests wait here as queued jobs so that
 * clients can wait on them.  Workers touch nothing of the daemon's state:
 * they post the finished job back to the loop through a uv_async.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "throttle.h"
#include "log.h"
#include "sentineld.h"
#include "util.h"
#include "window.h"

static struct jobq queued = TAILQ_HEAD_INITIALIZER(queued);
static struct jobq running = TAILQ_HEAD_INITIALIZER(running);
static struct jobq done = TAILQ_HEAD_INITIALIZER(done);	/* by workers */
static pthread_mutex_t done_mtx = PTHREAD_MUTEX_INITIALIZER;
static uv_async_t done_async;
static unsigned int nrunning;
static void (*on_idle)(void);

/*
 * Results the state database could not take (its filesystem full, say),
 * oldest first: kept in memory, retried every UNSTORED_RETRY_MS, and past
 * UNSTORED_MAX or at exit dropped with a log line that says what is lost.
 */
#define UNSTORED_MAX		256
#define UNSTORED_RETRY_MS	10000
static struct jobq unstored = TAILQ_HEAD_INITIALIZER(unstored);
static unsigned int nunstored;
static uv_timer_t unstored_timer;

/* Backup views' scratch space is measured this often while scans run. */
#define SCRATCH_CHECK_MS	1000
static uv_timer_t scratch_timer;

/* Tells the shutdown that no worker is left, once. */
static void
idle_once(void)
{
	void (*fn)(void) = on_idle;

	on_idle = NULL;
	if (fn != NULL)
		fn();
}

static void	clone_free(struct job *);

static void
job_free(struct job *j)
{
	struct job_waiter *w;

	while ((w = TAILQ_FIRST(&j->waiters)) != NULL) {
		TAILQ_REMOVE(&j->waiters, w, entry);
		free(w);
	}
	scan_result_free(&j->result);
	scan_progress_destroy(&j->progress);
	disks_free(j->disks, j->ndisks);
	view_free(&j->view);
	free(j->disk_note);
	free(j->settings);
	free(j->prev_stamp);
	free(j->disk_stamp);
	free(j->base_stamp);
	clone_free(j);
	free(j->backend);
	free(j->backend_settings);
	for (size_t i = 0; i < j->nexcludes; i++)
		free(j->excludes[i]);
	free(j->excludes);
	findex_free(j->findex);
	exports_free(j);
	free(j->export_dir);
	free(j->budget);
	scanner_unref(j->scanner);
	free(j->guest);
	free(j);
}

/*
 * A shut-off guest's images are stamped before anything reads them; if the
 * stamp is that of the guest's last complete scan, with the same
 * signatures, and no --full was asked, that scan's result stands.
 */
static void
carry_over(struct job *j)
{
	char why[512];

	if (j->view.kind != VIEW_OFFLINE || j->settings == NULL)
		return;
	if ((j->disk_stamp = disk_stamp(j->disks, j->ndisks, j->settings,
	    &j->base_stamp, why, sizeof(why))) == NULL) {
		log_debug("scan %s: no stamp of its images (%s): read in full",
		    j->guest, why);
		return;
	}
	if (!j->carry || j->full || j->prev_stamp == NULL ||
	    strcmp(j->prev_sig, j->sig_version) != 0 ||
	    strcmp(j->prev_stamp, j->disk_stamp) != 0)
		return;
	j->carried_from = j->prev_from > 0 ? j->prev_from : j->prev_id;
}

static void
clone_free(struct job *j)
{
	size_t i;

	for (i = 0; j->own != NULL && i < j->ndisks; i++)
		free(j->own[i].r);
	free(j->own);
	j->own = NULL;
	findex_free(j->base_findex);
	j->base_findex = NULL;
}

/*
 * A shut-off guest read in full: where its files lie is learnt, for the
 * index (linked clones of it are spared what they share).  If it is a
 * linked clone of a guest scanned with its images as they are now, the
 * scanner gets that guest's index and the ranges the clone's own
 * overlays hold: a file that lies where the base's file of the same path
 * lay, outside them, is not read.  Anything uncertain: read in full.
 */
static void
clone_prepare(struct job *j)
{
	char base[UUID_BUF], why[512];
	size_t i;

	if (j->disk_stamp == NULL || j->findex == NULL)
		return;
	j->opts.extents = 1;
	if (j->base_stamp == NULL)
		return;
	if (findex_base_guest(sd.conf.state_path, j->base_stamp, j->uuid,
	    base) != 1)
		return;
	if ((j->own = calloc(j->ndisks, sizeof(*j->own))) == NULL)
		return;
	for (i = 0; i < j->ndisks; i++)
		if (disk_own_ranges(&j->disks[i], &j->own[i], why,
		    sizeof(why)) == -1) {
			log_info("scan %s: a linked clone read in full: %s",
			    j->guest, why);
			clone_free(j);
			return;
		}
	if ((j->base_findex = findex_new(sd.conf.state_path, base,
	    j->sig_version, sd.conf.index_max_age, (int64_t)time(NULL))) ==
	    NULL) {
		clone_free(j);
		return;
	}
	j->opts.own = j->own;
	j->opts.base_index = findex_iface(j->base_findex);
	log_info("scan %s: a linked clone of guest %s, scanned with its images "
	    "as they are: what lies outside its own ranges is known from that "
	    "scan", j->guest, base);
}

static void *
worker(void *arg)
{
	struct job *j = arg;
	char err[512];

	/* Signals stay unblocked: qemu-nbd is forked from this thread and
	 * would inherit a blocked mask.  libuv's handlers are installed
	 * with SA_RESTART, so a signal landing here is harmless. */
	view_begin(j);
	carry_over(j);
	if (j->carried_from > 0) {
		/* The images are as the last complete scan read them: its
		 * result is carried over (finish), nothing is read. */
	} else if (atomic_load(&j->progress.cancel)) {
		/* Cancelled while the view was taken (a freeze waiting on
		 * the guest's agent): nothing more starts. */
		memset(&j->result, 0, sizeof(j->result));
		j->result.status = SCAN_INCOMPLETE;
		snprintf(j->result.reason, sizeof(j->result.reason),
		    "cancelled");
	} else if (exports_begin(j, err, sizeof(err)) == -1) {
		/* The scanner reads NBD exports only: a backup job's, or
		 * ours. */
		memset(&j->result, 0, sizeof(j->result));
		j->result.status = SCAN_FAILED;
		snprintf(j->result.reason, sizeof(j->result.reason), "%s", err);
	} else {
		clone_prepare(j);
		schedule_cpu_hold();
		scanner_run(j->scanner, &j->opts, &j->progress, &j->result);
		schedule_cpu_release();
	}
	exports_end(j);
	view_end(j);
	/* The file index is written here, off the loop: it may be large. */
	if (j->findex != NULL && j->result.status != SCAN_FAILED &&
	    findex_save(j->findex) == -1)
		log_warnx("scan %s: the file index could not be saved; the "
		    "next scan reads every file", j->guest);
	pthread_mutex_lock(&done_mtx);
	TAILQ_INSERT_TAIL(&done, j, done_entry);
	pthread_mutex_unlock(&done_mtx);
	uv_async_send(&done_async);
	return NULL;
}

/* Tells every waiter of j and forgets them. */
static void
notify(struct job *j, const json_t *scan)
{
	struct job_waiter *w;

	while ((w = TAILQ_FIRST(&j->waiters)) != NULL) {
		TAILQ_REMOVE(&j->waiters, w, entry);
		w->fn(w->arg, scan);
		free(w);
	}
}

static void
unstored_lost(struct job *j, const char *why)
{
	log_warnx("state: result of the scan of %s lost (%s, %u detections, "
	    "ended %lld s ago): %s", j->guest, scan_status_name(j->result.status),
	    j->result.ndetections, (long long)(now_ms() - j->ended_ms) / 1000,
	    why);
	TAILQ_REMOVE(&unstored, j, entry);
	nunstored--;
	job_free(j);
}

/* Writes what it can, oldest first; stops at the first failure. */
static void
unstored_write(void)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&unstored)) != NULL) {
		if (store_scan_write(j) == -1)
			return;
		log_info("state: result of the scan of %s written, %lld s after "
		    "it ended", j->guest,
		    (long long)(now_ms() - j->ended_ms) / 1000);
		TAILQ_REMOVE(&unstored, j, entry);
		nunstored--;
		job_free(j);
	}
	uv_timer_stop(&unstored_timer);
}

static void
on_unstored_timer(uv_timer_t *t)
{
	(void)t;
	unstored_write();
}

static void
unstored_keep(struct job *j)
{
	/* Only the result is kept: not an engine a reload replaced, nor the
	 * file index of the scan. */
	findex_free(j->findex);
	j->findex = NULL;
	scanner_unref(j->scanner);
	j->scanner = NULL;
	exports_free(j);
	disks_free(j->disks, j->ndisks);
	view_free(&j->view);
	j->disks = NULL;
	j->ndisks = 0;
	if (nunstored == UNSTORED_MAX)
		unstored_lost(TAILQ_FIRST(&unstored), "more results than "
		    "that wait for the state database");
	log_warnx("scan %s: result not stored (the state database cannot "
	    "take it); kept in memory and written once it can", j->guest);
	TAILQ_INSERT_TAIL(&unstored, j, entry);
	nunstored++;
	if (!uv_is_active((uv_handle_t *)&unstored_timer))
		uv_timer_start(&unstored_timer, on_unstored_timer,
		    UNSTORED_RETRY_MS, UNSTORED_RETRY_MS);
}

/* The newest result not yet stored of a guest, by UUID or name. */
json_t *
jobs_unstored_json(const char *uuid, const char *name)
{
	struct job *j;

	TAILQ_FOREACH_REVERSE(j, &unstored, jobq, entry)
		if (uuid ? strcmp(j->uuid, uuid) == 0 :
		    strcmp(j->guest, name) == 0)
			return store_scan_json_unstored(j);
	return NULL;
}

/* The result of the scan carried over, as this scan's: nothing read. */
static void
carried(struct job *j)
{
	struct scan_result *r = &j->result;
	size_t len;
	char *was;

	/* Read from the last complete scan itself (a carried one holds its
	 * own copy), whatever retention left of the scan it came from. */
	scan_result_free(r);
	if (store_scan_load(j->prev_id, r) == -1) {
		memset(r, 0, sizeof(*r));
		r->status = SCAN_FAILED;
		snprintf(r->reason, sizeof(r->reason), "the result of scan "
		    "%lld, which its unchanged images would carry over, cannot "
		    "be read from the state database",
		    (long long)j->prev_id);
		j->carried_from = 0;
		return;
	}
	/* Said once, of the scan the result first came from. */
	if ((was = strstr(r->reason, "no image changed since scan ")) != NULL) {
		*was = '\0';
		if (was >= r->reason + 2 && strcmp(was - 2, "; ") == 0)
			was[-2] = '\0';
	}
	len = strlen(r->reason);
	snprintf(r->reason + len, sizeof(r->reason) - len, "%sno image "
	    "changed since scan %lld: its result carried over, nothing read",
	    len ? "; " : "", (long long)j->carried_from);
}

static void
finish(struct job *j)
{
	struct scan_result *r = &j->result;
	const struct scan_detection *d;
	int64_t ended;
	size_t len;
	json_t *scan;
	char *path;
	int kept, finished;

	if (j->carried_from > 0)
		carried(j);
	/* A scan stopped by the daemon says why (the library only knows it
	 * was cancelled). */
	if (j->cancel_why[0] != '\0' && r->status == SCAN_INCOMPLETE &&
	    strcmp(r->reason, "cancelled") == 0)
		snprintf(r->reason, sizeof(r->reason), "%s", j->cancel_why);
	/* What failed once the daemon stopped it (a backup job ended under
	 * the appliance) failed because it was stopped. */
	else if (j->cancel_why[0] != '\0' && r->status == SCAN_FAILED) {
		char was[sizeof(r->reason)];

		snprintf(was, sizeof(was), "%s", r->reason);
		r->status = SCAN_INCOMPLETE;
		snprintf(r->reason, sizeof(r->reason), "%s (then: %s)",
		    j->cancel_why, was);
	}
	/* A scan cut short kept what it read (the file index has every
	 * file it read, clean or not): the guest's next scan goes on from
	 * there.  A failed attempt keeps the chain: what the attempts
	 * before it read is still kept. */
	if (j->cut && (r->status == SCAN_INCOMPLETE ||
	    (r->status == SCAN_INFECTED &&
	    strcmp(r->reason, "cancelled before the end") == 0))) {
		j->resumable = 1;
		if (r->status == SCAN_INFECTED)
			snprintf(r->reason, sizeof(r->reason), "%s",
			    j->cancel_why);
		len = strlen(r->reason);
		snprintf(r->reason + len, sizeof(r->reason) - len, "; cut "
		    "short after %llu files: the next scan goes on from here "
		    "(this was attempt %d)", (unsigned long long)r->files,
		    j->attempt);
	} else if (j->attempt > 1 && r->status == SCAN_FAILED)
		j->resumable = 1;
	else if (j->attempt > 1 && (r->status == SCAN_CLEAN ||
	    r->status == SCAN_INFECTED)) {
		len = strlen(r->reason);
		snprintf(r->reason + len, sizeof(r->reason) - len, "%sresumed: "
		    "completed over %d attempts", len ? "; " : "",
		    j->attempt);
	}
	/* Disks the scan could not cover are said, and a scan that missed
	 * some is not clean: it is incomplete. */
	if (j->disk_note != NULL) {
		if (r->status == SCAN_CLEAN)
			r->status = SCAN_INCOMPLETE;
		len = strlen(r->reason);
		snprintf(r->reason + len, sizeof(r->reason) - len,
		    "%sdisks not scanned: %s", len ? "; " : "", j->disk_note);
	}
	/* [scan] strict: clean means every file scanned in full.  Such a
	 * scan is still a finished round for the schedule: another one
	 * at once would not scan more. */
	finished = (r->status == SCAN_CLEAN || r->status == SCAN_INFECTED) &&
	    !j->resumable;
	if (j->strict && r->status == SCAN_CLEAN &&
	    !scan_complete(r->status, r->skipped)) {
		r->status = SCAN_INCOMPLETE;
		len = strlen(r->reason);
		snprintf(r->reason + len, sizeof(r->reason) - len,
		    "%s%llu files or filesystems not scanned in full "
		    "([scan] strict)", len ? "; " : "",
		    (unsigned long long)scan_not_scanned(r->skipped));
	}
	ended = j->ended_ms = now_ms();
	vcache_flush();
	/* Earlier results waiting for space go first. */
	if (nunstored > 0)
		unstored_write();
	kept = nunstored > 0 || store_scan_write(j) == -1;
	if (!kept)
		fleet_kick();
	fleet_release(j->uuid);
	if (j->pg != NULL) {
		j->pg->user = NULL;
		policy_done_guest(j->pg, finished ? POL_COMPLETE :
		    j->resumable && r->files > 0 ? POL_CUT : POL_FAILED, ended);
	}
	log_info("scan %s: %s%s%s, %llu files (%llu known clean), %u "
	    "detections, %llu bytes read, %llu scanned, appliance launch %llu "
	    "ms", j->guest, scan_status_name(j->result.status),
	    j->result.reason[0] ? ": " : "", j->result.reason,
	    (unsigned long long)j->result.files,
	    (unsigned long long)j->result.cache_hits, j->result.ndetections,
	    (unsigned long long)j->result.bytes_read,
	    (unsigned long long)j->result.bytes_scanned,
	    (unsigned long long)j->result.launch_ms);
	for (d = r->detections; d != NULL; d = d->next) {
		char *shown = scan_display_path(d->fs, d->path, d->pathlen,
		    d->guest_path);

		path = shown != NULL ? display_bytes(shown, strlen(shown)) :
		    NULL;
		if (d->guest_path)
			log_warnx("scan %s: %s FOUND in %s (on %s)", j->guest,
			    d->signature, path ? path : "?", d->fs);
		else
			log_warnx("scan %s: %s FOUND in %s", j->guest,
			    d->signature, path ? path : "?");
		free(path);
		free(shown);
	}
	plugins_scan_finished(j);
	metrics_scan_done(j);
	estimate_scan_done(j);
	if ((scan = kept ? store_scan_json_unstored(j) :
	    store_scan_json(j->id)) == NULL)
		scan = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)j->id,
		    "guest", j->guest, "status",
		    scan_status_name(j->result.status), "reason",
		    "result could not be read back from the state database");
	notify(j, scan);
	json_decref(scan);
	if (kept)
		unstored_keep(j);
	else
		job_free(j);
}

static void
on_scratch_timer(uv_timer_t *t)
{
	struct job *j;

	(void)t;
	TAILQ_FOREACH(j, &running, entry)
		view_check_scratch(j);
}

static void
on_done(uv_async_t *a)
{
	struct job *j;

	(void)a;
	for (;;) {
		pthread_mutex_lock(&done_mtx);
		if ((j = TAILQ_FIRST(&done)) != NULL)
			TAILQ_REMOVE(&done, j, done_entry);
		pthread_mutex_unlock(&done_mtx);
		if (j == NULL)
			break;
		pthread_join(j->thread, NULL);
		TAILQ_REMOVE(&running, j, entry);
		nrunning--;
		finish(j);
	}
	if (nrunning == 0)
		uv_timer_stop(&scratch_timer);
	if (sd.stopping) {
		if (nrunning == 0)
			idle_once();
		return;
	}
	schedule_kick();
}

/* Appends the whitespace-separated patterns of LIST to the job's. */
static int
add_excludes(struct job *j, const char *list)
{
	const char *p = list, *q;
	char **v;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return 0;
		for (q = p; *q != '\0' && *q != ' ' && *q != '\t'; q++)
			;
		if ((v = realloc(j->excludes, (j->nexcludes + 1) *
		    sizeof(*v))) == NULL)
			return -1;
		j->excludes = v;
		if ((v[j->nexcludes] = strndup(p, (size_t)(q - p))) == NULL)
			return -1;
		j->nexcludes++;
		p = q;
	}
}

/* What shapes a scan's result beside the images and the signatures: a
 * result is only carried over under the same. */
static int
scan_settings(struct job *j)
{
	char buf[512], *s;
	size_t i, len;

	snprintf(buf, sizeof(buf), "max_file_size=%llu max_listing_size=%llu "
	    "max_scan_size=%llu max_files=%lld max_recursion=%lld "
	    "max_file_scan_time=%llu strict=%d excludes=",
	    (unsigned long long)sd.conf.max_file_size,
	    (unsigned long long)sd.conf.max_listing_size,
	    (unsigned long long)sd.conf.max_scan_size, sd.conf.max_files,
	    sd.conf.max_recursion,
	    (unsigned long long)sd.conf.max_file_scan_time, j->strict);
	len = strlen(buf);
	for (i = 0; i < j->nexcludes; i++)
		len += strlen(j->excludes[i]) + 1;
	if ((s = malloc(len + 1)) == NULL)
		return -1;
	strcpy(s, buf);
	for (i = 0; i < j->nexcludes; i++) {
		strcat(s, j->excludes[i]);
		strcat(s, " ");
	}
	j->settings = s;
	return 0;
}

static int
start(struct job *j)
{
	const struct guest_conf *gc = config_guest(&sd.conf, j->guest);
	const struct guest *g;

	/* The disks as libvirt describes them now, not at the request. */
	if ((g = inventory_find(j->uuid)) != NULL && g->ndisks > 0) {
		struct scan_disk *d = disks_copy(g->disks, g->ndisks);

		if (d != NULL) {
			disks_free(j->disks, j->ndisks);
			j->disks = d;
			j->ndisks = g->ndisks;
		}
	}
	if (view_prepare(j, g) == -1) {
		j->result.status = SCAN_FAILED;
		snprintf(j->result.reason, sizeof(j->result.reason),
		    "out of memory");
		return -1;
	}
	if (g != NULL) {
		enum est_basis basis;

		j->estimate_ms = estimate_guest(g, &basis);
		j->estimate_basis = (int)basis;
	}
	j->opts.guest = j->guest;
	j->opts.disks = j->disks;
	j->opts.ndisks = j->ndisks;
	/* The job keeps its own copies: SIGHUP may replace sd.conf's while
	 * the worker runs. */
	if ((j->backend = strdup(sd.conf.guestfs_backend)) == NULL ||
	    (j->backend_settings = strdup(sd.conf.guestfs_backend_settings)) ==
	    NULL || add_excludes(j, sd.conf.exclude_paths) == -1 ||
	    (gc != NULL && (gc->set & GUEST_OPT_EXCLUDE_PATHS) &&
	    add_excludes(j, gc->exclude_paths) == -1)) {
		j->result.status = SCAN_FAILED;
		snprintf(j->result.reason, sizeof(j->result.reason),
		    "out of memory");
		return -1;
	}
	j->opts.backend = j->backend;
	j->opts.backend_settings = j->backend_settings;
	j->opts.launch_timeout = (unsigned int)sd.conf.guestfs_launch_timeout;
	j->opts.max_file_size = sd.conf.max_file_size;
	j->opts.max_listing = sd.conf.max_listing_size;
	j->opts.threads = effective_engine_threads(&sd.conf);
	j->opts.spool_size = (size_t)sd.conf.spool_size;
	j->strict = sd.conf.strict;
	j->opts.excludes = j->excludes;
	j->opts.nexcludes = j->nexcludes;
	/* The stamp serves linked clones too (clone_prepare). */
	j->carry = sd.conf.carry_unchanged;
	if ((j->carry || sd.conf.file_index) && scan_settings(j) == -1) {
		j->result.status = SCAN_FAILED;
		snprintf(j->result.reason, sizeof(j->result.reason),
		    "out of memory");
		return -1;
	}
	if (sd.scanner == NULL) {
		j->result.status = SCAN_FAILED;
		snprintf(j->result.reason, sizeof(j->result.reason),
		    "no scanner process is running (one is being started)");
		return -1;
	}
	if ((j->export_dir = strdup(sd.conf.scanner_dir)) == NULL ||
	    (j->budget = calloc(1, sizeof(*j->budget))) == NULL) {
		j->result.status = SCAN_FAILED;
		snprintf(j->result.reason, sizeof(j->result.reason),
		    "out of memory");
		return -1;
	}
	j->scanner = scanner_ref(sd.scanner);
	scanner_budget(j->budget, schedule_throttle());
	j->opts.budget = j->budget;
	j->opts.cache = vcache_iface();
	snprintf(j->sig_version, sizeof(j->sig_version), "%s",
	    scanner_version(j->scanner));
	if (store_last_complete(j->uuid, &j->prev_id, &j->prev_stamp,
	    j->prev_sig, sizeof(j->prev_sig), &j->prev_from) == -1)
		j->prev_id = 0;		/* then read in full */
	/* Without an index (out of memory) every file is read: slower,
	 * not wrong. */
	if (sd.conf.file_index && (j->findex = findex_new(sd.conf.state_path,
	    j->uuid, j->sig_version, sd.conf.index_max_age,
	    (int64_t)time(NULL))) == NULL)
		log_warnx("scan %s: no file index (out of memory)", j->guest);
	if (j->findex != NULL)
		findex_set_settable_age(j->findex,
		    sd.conf.settable_times_max_age);
	j->opts.index = findex_iface(j->findex);
	/* The guest's last scan was cut short: this one goes on from it. */
	j->attempt = store_next_attempt(j->uuid, j->id);
	j->started_ms = now_ms();
	j->state = JOB_RUNNING;
	store_scan_started(j);
	plugins_scan_started(j);
	if (pthread_create(&j->thread, NULL, worker, j) != 0) {
		j->result.status = SCAN_FAILED;
		snprintf(j->result.reason, sizeof(j->result.reason),
		    "cannot start a worker thread");
		return -1;
	}
	log_info("scan %s: started (%s, %zu disk%s)%s", j->guest, j->trigger,
	    j->ndisks, j->ndisks == 1 ? "" : "s", j->attempt > 1 ?
	    ", going on from the last scan, cut short" : "");
	return 0;
}

static struct job *
job_new(const struct guest *g, const char *trigger, char *err, size_t errlen)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->guest = strdup(g->name)) == NULL ||
	    (j->disks = disks_copy(g->disks, g->ndisks)) == NULL ||
	    (g->disk_note != NULL &&
	    (j->disk_note = strdup(g->disk_note)) == NULL)) {
		if (j != NULL) {
			free(j->guest);
			disks_free(j->disks, g->ndisks);
		}
		free(j);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	j->ndisks = g->ndisks;
	memcpy(j->uuid, g->uuid, sizeof(j->uuid));
	j->trigger = trigger;
	j->queued_ms = now_ms();
	j->state = JOB_QUEUED;
	j->attempt = 1;
	TAILQ_INIT(&j->waiters);
	scan_progress_init(&j->progress);
	/* Scans run even when the state database cannot take them: the
	 * row is written with the result, once it can be. */
	if ((j->id = store_scan_queued(j)) == -1)
		log_warnx("scan %s: not recorded as queued (the state database "
		    "cannot take it)", j->guest);
	return j;
}

/* The policy picked pg: start its queued job, or a scheduled one. */
static void
start_now(struct pol_guest *pg)
{
	const struct guest *g;
	struct job *j = pg->user;
	char err[256];

	if (j != NULL)
		TAILQ_REMOVE(&queued, j, entry);
	else if ((g = inventory_find(pg->uuid)) == NULL ||
	    (j = job_new(g, "schedule", err, sizeof(err))) == NULL) {
		log_warnx("scan %s: cannot start: %s", pg->uuid,
		    g == NULL ? "no longer defined" : err);
		policy_done_guest(pg, 0, now_ms());
		return;
	}
	j->pg = pg;
	pg->user = j;
	if (start(j) == -1) {
		finish(j);
		return;
	}
	TAILQ_INSERT_TAIL(&running, j, entry);
	if (nrunning++ == 0)
		uv_timer_start(&scratch_timer, on_scratch_timer,
		    SCRATCH_CHECK_MS, SCRATCH_CHECK_MS);
}

/*
 * In a fleet, a guest the policy picked starts when the fleet says so
 * (fleet_gate): a scheduled scan not if another host scanned it since
 * what this host knows, or scans it now; any scan only with a slot of
 * its storage's fleet-wide cap.  Meanwhile the guest keeps its local
 * slot; held back, it is filed again (POL_DEFER) until then.
 */
struct gating {
	struct pol_guest	*pg;
	char			 uuid[UUID_BUF];
	char			 storage[72];
	int			 demand;	/* an on-demand request */
};

static void
gate_note(struct pol_guest *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
gate_note(struct pol_guest *pg, const char *fmt, ...)
{
	char note[sizeof(pg->fleet_note)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	/* Said once, not at every try. */
	if (strcmp(note, pg->fleet_note) != 0) {
		const struct guest *g = inventory_find(pg->uuid);

		log_info("scan %s: %s", g != NULL ? g->name : pg->uuid, note);
		snprintf(pg->fleet_note, sizeof(pg->fleet_note), "%s", note);
	}
}

static void
gate_done(void *arg, int verdict, const char *who, int64_t at)
{
	struct gating *gt = arg;
	struct pol_guest *pg = gt->pg;
	int64_t now = now_ms(), until;
	char when[32];

	if (schedule_guest(gt->uuid) != pg || pg->where != POL_RUNNING) {
		free(gt);	/* gone meanwhile: not ours to start */
		return;
	}
	if (sd.stopping || (gt->demand && pg->user == NULL)) {
		/* Stopping, or the request was withdrawn meanwhile. */
		policy_done_guest(pg, POL_DEFER, now);
		if (gt->demand)
			policy_undemand_guest(pg);
		free(gt);
		return;
	}
	switch (verdict) {
	case FLEET_OK:
	case FLEET_ALONE:
		pg->fleet_note[0] = '\0';
		pg->fleet_until = 0;
		free(gt);
		start_now(pg);
		return;
	case FLEET_SCANNED:
	case FLEET_FAILED:
		policy_done_guest(pg, POL_DEFER, now);
		format_time(at, when, sizeof(when));
		gate_note(pg, "%s by host %s at %s: not scanned here this "
		    "round", verdict == FLEET_SCANNED ? "scanned" :
		    "tried and failed", who, when);
		schedule_fleet_history(pg->uuid, at, verdict == FLEET_SCANNED);
		break;
	case FLEET_CLAIMED:
		/* Looked at again soon: its claim goes when its scan is in
		 * the fleet's database. */
		until = at > now && at < now + 15000 ? at : now + 15000;
		pg->fleet_until = until;
		policy_done_guest(pg, POL_DEFER, now);
		gate_note(pg, "host %s is scanning it", who);
		break;
	case FLEET_SLOT:
	default:
		pg->fleet_until = now + 5000;
		policy_done_guest(pg, POL_DEFER, now);
		gate_note(pg, "waiting for a fleet slot of storage %s, held by "
		    "%s", gt->storage, who);
		break;
	}
	/* Asked for while the fleet was asked about its scheduled scan: a
	 * request now, asked about as one. */
	if (!gt->demand && pg->user != NULL)
		policy_demand_guest(pg);
	free(gt);
	/* The local slot it held is free for another guest. */
	schedule_kick();
}

void
jobs_start(struct pol_guest *pg)
{
	const struct fleet_storage *st = NULL;
	const struct guest *g;
	struct gating *gt;
	size_t i;
	int sched = pg->user == NULL;

	if (sched && fleet_starting()) {
		pg->fleet_until = now_ms() + 2000;
		policy_done_guest(pg, POL_DEFER, now_ms());
		gate_note(pg, "waiting for the fleet's database (at most %d s "
		    "after the start)", FLEET_START_MS / 1000);
		schedule_kick();
		return;
	}
	if (!fleet_ready() || (g = inventory_find(pg->uuid)) == NULL) {
		start_now(pg);
		return;
	}
	for (i = 0; i < g->ndisks && st == NULL; i++)
		st = config_storage(&sd.conf, g->disks[i].path);
	if ((!sched && st == NULL) || (gt = calloc(1, sizeof(*gt))) == NULL) {
		start_now(pg);
		return;
	}
	gt->pg = pg;
	gt->demand = !sched;
	snprintf(gt->uuid, sizeof(gt->uuid), "%s", pg->uuid);
	snprintf(gt->storage, sizeof(gt->storage), "%s", st ? st->name : "");
	fleet_gate(pg->uuid, g->name, pg->last_ok_end > pg->last_fail_end ?
	    pg->last_ok_end : pg->last_fail_end, sched, st, gate_done, gt);
}

/* Cuts the scan short, to be resumed (resume), or cancels it. */
static void
cut_or_cancel(struct job *j, int resume)
{
	if (resume) {
		j->cut = 1;
		scan_cut(&j->progress);
	} else
		scan_cancel(&j->progress);
}

/* `sentinelctl cancel`: a running scan stops (recorded incomplete with
 * what it had scanned; with resume, the next scan goes on from there); a
 * queued request is withdrawn.  Says which. */
const char *
jobs_cancel(struct job *j, int resume)
{
	struct pol_guest *pg = j->pg;

	if (j->state == JOB_RUNNING) {
		snprintf(j->cancel_why, sizeof(j->cancel_why),
		    "cancelled by request%s", resume ? ", to be resumed" : "");
		log_info("scan %s: cancelling by request%s", j->guest,
		    resume ? ", to be resumed" : "");
		cut_or_cancel(j, resume);
		return "cancelling";
	}
	TAILQ_REMOVE(&queued, j, entry);
	j->pg = NULL;
	if (pg != NULL) {
		pg->user = NULL;
		policy_undemand_guest(pg);
	}
	j->result.status = SCAN_INCOMPLETE;
	snprintf(j->result.reason, sizeof(j->result.reason),
	    "cancelled by request before it started");
	finish(j);
	return "withdrawn";
}

/* Cuts short scans running past max_scan_time, and scheduled scans whose
 * windows closed: the next scan of the guest goes on where each stopped. */
void
jobs_check_time(int64_t now)
{
	struct job *j;

	TAILQ_FOREACH(j, &running, entry) {
		if (j->cancel_why[0] != '\0')
			continue;
		if (sd.conf.max_scan_time > 0 && now - j->started_ms >
		    (int64_t)sd.conf.max_scan_time * 1000) {
			snprintf(j->cancel_why, sizeof(j->cancel_why),
			    "cancelled: ran past max_scan_time (%llu s)",
			    (unsigned long long)sd.conf.max_scan_time);
			log_warnx("scan %s: running past max_scan_time (%llu "
			    "s): cutting it short, to be resumed", j->guest,
			    (unsigned long long)sd.conf.max_scan_time);
			cut_or_cancel(j, 1);
		} else if (strcmp(j->trigger, "schedule") == 0 &&
		    j->pg != NULL && !windows_open(&j->pg->windows, now)) {
			snprintf(j->cancel_why, sizeof(j->cancel_why),
			    "cancelled: its scan windows closed");
			log_info("scan %s: its scan windows closed: cutting it "
			    "short, to be resumed in the next", j->guest);
			cut_or_cancel(j, 1);
		}
	}
}

int
jobs_init(void)
{
	if (uv_async_init(sd.loop, &done_async, on_done) != 0 ||
	    uv_timer_init(sd.loop, &unstored_timer) != 0 ||
	    uv_timer_init(sd.loop, &scratch_timer) != 0)
		return -1;
	return 0;
}

struct job *
jobs_find(const char *uuid)
{
	struct job *j;

	TAILQ_FOREACH(j, &running, entry)
		if (strcmp(j->uuid, uuid) == 0)
			return j;
	TAILQ_FOREACH(j, &queued, entry)
		if (strcmp(j->uuid, uuid) == 0)
			return j;
	return NULL;
}

/* An on-demand scan of g: queued ahead of every scheduled scan, or the
 * scan already queued (moved to the front) or running; *was says which. */
struct job *
jobs_submit(const struct guest *g, const char *trigger, enum submitted *was,
    char *err, size_t errlen)
{
	struct pol_guest *pg;
	struct job *j;

	*was = SUBMIT_NEW;
	if (sd.stopping) {
		snprintf(err, errlen, "sentineld is stopping");
		return NULL;
	}
	if ((pg = schedule_guest(g->uuid)) == NULL) {
		snprintf(err, errlen, "not in the schedule yet");
		return NULL;
	}
	if ((j = pg->user) != NULL) {
		*was = j->state == JOB_RUNNING ? SUBMIT_RUNNING :
		    SUBMIT_QUEUED;
		if (j->state == JOB_RUNNING)
			return j;
	} else {
		if ((j = job_new(g, trigger, err, errlen)) == NULL)
			return NULL;
		j->pg = pg;
		pg->user = j;
		TAILQ_INSERT_TAIL(&queued, j, entry);
	}
	policy_demand_guest(pg);
	log_info("scan %s: %s (%s)", g->name, *was == SUBMIT_QUEUED ?
	    "moved to the front" : "queued", trigger);
	schedule_kick();
	return j;
}

void
jobs_wait(struct job *j, job_waiter_fn fn, void *arg)
{
	struct job_waiter *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		json_t *e = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)j->id,
		    "status", "unknown", "reason", "out of memory");
		fn(arg, e);
		json_decref(e);
		return;
	}
	w->fn = fn;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&j->waiters, w, entry);
}

/* Forgets every wait whose argument is arg (a client that went away). */
void
jobs_unwait(void *arg)
{
	struct jobq *qs[] = { &queued, &running };
	struct job_waiter *w, *next;
	struct job *j;
	size_t i;

	for (i = 0; i < 2; i++)
		TAILQ_FOREACH(j, qs[i], entry)
			for (w = TAILQ_FIRST(&j->waiters); w != NULL; w = next) {
				next = TAILQ_NEXT(w, entry);
				if (w->arg == arg) {
					TAILQ_REMOVE(&j->waiters, w, entry);
					free(w);
				}
			}
}

json_t *
job_progress_json(struct job *j)
{
	char fs[sizeof(j->progress.fs)];
	json_t *o;

	scan_progress_fs(&j->progress, fs, sizeof(fs));
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I}",
	    "id", (json_int_t)j->id, "guest", j->guest, "uuid", j->uuid,
	    "state", j->state == JOB_RUNNING ? "running" : "queued",
	    "trigger", j->trigger,
	    "started", (json_int_t)j->started_ms,
	    "files", (json_int_t)atomic_load(&j->progress.files),
	    "bytes_read", (json_int_t)(atomic_load(&j->progress.bytes_read) +
	    atomic_load(&j->progress.fs_bytes)));
	json_object_set_new(o, "filesystem", fs[0] ? json_string(fs) :
	    json_null());
	return o;
}

json_t *
jobs_json(void)
{
	json_t *a = json_array();
	struct job *j;

	TAILQ_FOREACH(j, &running, entry)
		json_array_append_new(a, job_progress_json(j));
	TAILQ_FOREACH(j, &queued, entry)
		json_array_append_new(a, job_progress_json(j));
	return a;
}

unsigned int
jobs_unstored_count(void)
{
	return nunstored;
}

unsigned int
jobs_running(void)
{
	return nrunning;
}

/* Stops everything: queued scans are closed as incomplete without
 * starting, running ones are cancelled; idle() is called once no worker
 * is left (at once if none runs). */
void
jobs_shutdown(void (*idle)(void))
{
	struct job *j;

	on_idle = idle;
	while ((j = TAILQ_FIRST(&queued)) != NULL) {
		TAILQ_REMOVE(&queued, j, entry);
		if (j->pg != NULL)
			j->pg->user = NULL;
		j->pg = NULL;
		j->result.status = SCAN_INCOMPLETE;
		snprintf(j->result.reason, sizeof(j->result.reason),
		    "not started: sentineld stopping");
		finish(j);
	}
	TAILQ_FOREACH(j, &running, entry) {
		log_info("scan %s: cancelling, sentineld stopping", j->guest);
		if (j->cancel_why[0] == '\0')
			snprintf(j->cancel_why, sizeof(j->cancel_why),
			    "cancelled: sentineld stopping");
		cut_or_cancel(j, 1);
	}
	if (nrunning == 0)
		idle_once();
}

/* Closes the async handle once the loop is winding down. */
void
jobs_close(void)
{
	/* A last try; what still cannot be written is said lost. */
	unstored_write();
	while (!TAILQ_EMPTY(&unstored))
		unstored_lost(TAILQ_FIRST(&unstored), "the state database "
		    "could not take it before sentineld stopped");
	uv_timer_stop(&unstored_timer);
	uv_close((uv_handle_t *)&unstored_timer, NULL);
	uv_timer_stop(&scratch_timer);
	uv_close((uv_handle_t *)&scratch_timer, NULL);
	uv_close((uv_handle_t *)&done_async, NULL);
}
