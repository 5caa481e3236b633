/*
 * One scan, in a child of the scanner: reads the request (SR_SCAN) from
 * its channel, runs the scan library over the NBD exports it names, and
 * sends back what it found as records.  The verdict cache, the file index
 * and the host's read budget stay in sentineld; here they are proxies that
 * ask over the channel and wait for the answer.  sentineld cancels with
 * SIGUSR1, cuts a scan short (to be resumed) with SIGUSR2, and, if that is
 * not enough, kills the process group.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "engine.h"
#include "findex.h"
#include "log.h"
#include "scan.h"
#include "scanner.h"
#include "srec.h"
#include "throttle.h"

#define PROGRESS_MS	500

static int chan = -1;
static pthread_mutex_t rpc_mtx = PTHREAD_MUTEX_INITIALIZER;
static int cancel_pipe[2] = { -1, -1 };
static atomic_int finished;

/* The channel is gone or sentineld broke the protocol: nothing this scan
 * does can reach anyone any more. */
static void __attribute__((noreturn))
lost(const char *what)
{
	log_warnx("channel to sentineld: %s", what);
	_exit(3);
}

static void
send_rec(const struct srec_buf *b)
{
	if (srec_send(chan, b, -1) == -1) {
		if (errno == EMSGSIZE)
			return;		/* cut by the caller's bounds */
		lost(strerror(errno));
	}
}

static struct srec_own own_buf;	/* SR_OWN_A's, read under rpc_mtx's
					 * caller (the scan's thread) */

/* Sends Q and waits for a record of type WANT into A. */
static void
rpc(const struct srec_buf *q, enum srec_type want, struct srec *a)
{
	static unsigned char buf[SREC_MAX];
	char err[256];
	long n;

	pthread_mutex_lock(&rpc_mtx);
	send_rec(q);
	if ((n = srec_recv(chan, buf, NULL)) <= 0)
		lost(n == 0 ? "closed" : strerror(errno));
	a->scan = NULL;
	a->result = NULL;
	a->ready = NULL;
	a->own = want == SR_OWN_A ? &own_buf : NULL;
	if (srec_decode(buf, (size_t)n, a, err, sizeof(err)) == -1)
		lost(err);
	if (a->type != want)
		lost("unexpected answer");
	pthread_mutex_unlock(&rpc_mtx);
}

/* Log lines travel as records; sentineld writes them to its log. */
static void
sink(int pri, const char *msg)
{
	struct srec_buf b;
	char cut[SREC_TEXT_MAX];

	snprintf(cut, sizeof(cut), "%s", msg);
	srec_start(&b, SR_LOG);
	srec_u8(&b, (uint8_t)(pri & 7));
	srec_str(&b, cut);
	(void)srec_send(chan, &b, -1);
}

static int
cache_is_clean(void *p, const unsigned char *sha, uint32_t *classes)
{
	struct srec_buf b;
	struct srec a;

	(void)p;
	srec_start(&b, SR_CACHE_Q);
	srec_raw(&b, sha, SREC_SHA_LEN);
	rpc(&b, SR_CACHE_A, &a);
	*classes = (uint32_t)a.n[0];
	return a.flag != 0;
}

static void
cache_add_clean(void *p, const unsigned char *sha, uint32_t classes)
{
	struct srec_buf b;

	(void)p;
	srec_start(&b, SR_CACHE_ADD);
	srec_raw(&b, sha, SREC_SHA_LEN);
	srec_u32(&b, classes);
	send_rec(&b);
}

static int
index_lookup(void *p, const char *key, const char *path, size_t len,
    struct findex_rec *rec, struct findex_rec *base, int flags)
{
	struct srec_buf b;
	struct srec a;
	int found = 0;

	(void)p;
	/* What cannot be asked is read again: slower, never wrong. */
	if (len > SREC_PATH_MAX || strlen(key) >= SREC_FS_MAX)
		return 0;
	srec_start(&b, SR_INDEX_Q);
	srec_str(&b, key);
	srec_bytes(&b, path, len);
	srec_u8(&b, (uint8_t)flags);
	rpc(&b, SR_INDEX_A, &a);
	if (a.flag) {
		findex_rec_from_srec(rec, &a.rec);
		found |= FINDEX_OWN;
	}
	if (a.base_found && base != NULL) {
		findex_rec_from_srec(base, &a.base);
		found |= FINDEX_BASE;
	}
	return found;
}

/*
 * A linked clone's own ranges, disk by disk, from sentineld: NULL (every
 * file is read) if they cannot be had.  Bounded by what sentineld sends
 * (OWN_MAX_RANGES a disk).
 */
static struct own_map *
fetch_own(size_t ndisks)
{
	struct own_map *m;
	struct srec_buf b;
	struct srec a;
	size_t d, i, cap;
	uint64_t last;

	if ((m = calloc(ndisks, sizeof(*m))) == NULL)
		return NULL;
	for (d = 0; d < ndisks; d++) {
		cap = 0;
		last = 0;
		do {
			srec_start(&b, SR_OWN_Q);
			srec_u32(&b, (uint32_t)d);
			srec_u32(&b, (uint32_t)m[d].n);
			rpc(&b, SR_OWN_A, &a);
			if (m[d].n + a.own->n > OWN_MAX_RANGES)
				goto fail;
			if (m[d].n + a.own->n > cap) {
				struct own_range *r;

				cap = (m[d].n + a.own->n) * 2;
				if ((r = realloc(m[d].r, cap * sizeof(*r))) ==
				    NULL)
					goto fail;
				m[d].r = r;
			}
			for (i = 0; i < a.own->n; i++) {
				/* In order, apart: or none is trusted. */
				if (a.own->start[i] < last)
					goto fail;
				m[d].r[m[d].n].start = a.own->start[i];
				m[d].r[m[d].n].end = last = a.own->start[i] +
				    a.own->len[i];
				m[d].n++;
			}
		} while (a.own->more && a.own->n > 0);
	}
	return m;
fail:
	for (d = 0; d < ndisks; d++)
		free(m[d].r);
	free(m);
	return NULL;
}

static void
index_put(void *p, const char *key, const char *path, size_t len,
    const struct findex_rec *rec)
{
	struct srec_buf b;
	struct srec_rec r;

	(void)p;
	if (len > SREC_PATH_MAX || strlen(key) >= SREC_FS_MAX)
		return;
	findex_rec_to_srec(&r, rec);
	srec_start(&b, SR_INDEX_PUT);
	srec_str(&b, key);
	srec_bytes(&b, path, len);
	srec_put_rec(&b, &r);
	send_rec(&b);
}

static void
index_done(void *p, const char *key)
{
	struct srec_buf b;

	(void)p;
	if (strlen(key) >= SREC_FS_MAX)
		return;
	srec_start(&b, SR_INDEX_DONE);
	srec_str(&b, key);
	send_rec(&b);
}

/*
 * The host's read budget: sentineld answers once the bytes are allowed.
 * Asked once per BUDGET_BATCH bytes, not once per read of the stream: a
 * round trip per pipe read (64 KiB) cost a scan a tenth of its time on a
 * busy host.  A scan runs at most one batch ahead of the rate, well inside
 * the bucket's own burst at any rate worth setting.
 */
#define BUDGET_BATCH	(1024 * 1024)

static size_t budget_owed;	/* read, not yet accounted: parser thread */
static struct scan_progress pr;
static const char *granted_guest = "";
static unsigned int granted_max;
static unsigned int granted_last;	/* 0: none yet */

static int
budget_flush(atomic_int *cancel)
{
	struct srec_buf b;
	struct srec a;
	size_t n = budget_owed;

	if (n == 0)
		return 0;
	budget_owed = 0;
	if (cancel != NULL && atomic_load(cancel))
		return -1;
	srec_start(&b, SR_READ);
	srec_u64(&b, n);
	rpc(&b, SR_READ_OK, &a);
	/* With the bytes, sentineld deals the host's engine threads. */
	atomic_store(&pr.threads, (unsigned int)a.n[0]);
	if (a.n[0] != granted_last && (granted_last = (unsigned int)a.n[0]))
		log_info("scan %s: %u of %u engine threads granted",
		    granted_guest, (unsigned int)a.n[0], granted_max);
	return a.flag ? 0 : -1;
}

static int
budget_take(void *p, size_t n, atomic_int *cancel)
{
	(void)p;
	if (cancel != NULL && atomic_load(cancel))
		return -1;
	budget_owed += n;
	return budget_owed >= BUDGET_BATCH ? budget_flush(cancel) : 0;
}

/* SIGUSR1 cancels; SIGUSR2 cuts the scan short, to be resumed
 * (scan_cut). */
static void
on_usr1(int sig)
{
	char c = 1;

	if (sig == SIGUSR2)
		atomic_store(&pr.cut, 1);
	atomic_store(&pr.cancel, 1);
	(void)write(cancel_pipe[1], &c, 1);
}

/* scan_cancel takes a mutex: not from the handler, from here. */
static void *
cancel_main(void *arg)
{
	char c;

	(void)arg;
	while (read(cancel_pipe[0], &c, 1) == -1 && errno == EINTR)
		;
	scan_cancel(&pr);
	return NULL;
}

static void
send_progress(void)
{
	struct srec_buf b;
	char fs[SREC_FS_MAX];

	scan_progress_fs(&pr, fs, sizeof(fs));
	srec_start(&b, SR_PROGRESS);
	srec_u64(&b, atomic_load(&pr.files));
	srec_u64(&b, atomic_load(&pr.bytes_read));
	srec_u64(&b, atomic_load(&pr.fs_bytes));
	srec_str(&b, fs);
	send_rec(&b);
}

static void *
progress_main(void *arg)
{
	struct timespec ts = { 0, PROGRESS_MS * 1000000L };

	(void)arg;
	while (!atomic_load(&finished)) {
		nanosleep(&ts, NULL);
		send_progress();
	}
	return NULL;
}

static void
send_results(const struct scan_result *res)
{
	const struct scan_detection *d;
	const struct scan_skip *k;
	struct srec_result *r;
	struct srec_buf *b;
	int i;

	if ((b = malloc(sizeof(*b))) == NULL || (r = calloc(1, sizeof(*r))) ==
	    NULL)
		lost("out of memory");
	for (d = res->detections; d != NULL; d = d->next) {
		srec_start(b, SR_DETECTION);
		srec_str(b, d->fs);
		srec_u8(b, (uint8_t)((d->guest_path != 0 ? SREC_DET_GUEST_PATH :
		    0) | (d->hidden ? SREC_DET_HIDDEN : 0)));
		srec_u8(b, (uint8_t)SCAN_DRIVE(d->guest_path));
		srec_bytes(b, d->path, d->pathlen > SREC_PATH_MAX ?
		    SREC_PATH_MAX : d->pathlen);
		srec_str(b, d->signature);
		srec_u8(b, strcmp(d->engine, "yara") == 0);
		srec_u64(b, d->size);
		send_rec(b);
	}
	for (k = res->skips; k != NULL; k = k->next) {
		srec_start(b, SR_SKIP);
		srec_u8(b, (uint8_t)k->reason);
		srec_str(b, k->fs);
		srec_bytes(b, k->path, k->pathlen > SREC_PATH_MAX ?
		    SREC_PATH_MAX : k->pathlen);
		srec_u8(b, (uint8_t)(SCAN_DRIVE(k->guest_path) != 0 ?
		    k->guest_path : k->guest_path != 0));
		srec_str(b, k->detail);
		send_rec(b);
	}
	r->status = (uint8_t)res->status;
	snprintf(r->reason, sizeof(r->reason), "%s", res->reason);
	r->files = res->files;
	r->bytes_read = res->bytes_read;
	r->bytes_scanned = res->bytes_scanned;
	r->cache_hits = res->cache_hits;
	r->unchanged = res->unchanged;
	r->hidden = res->hidden;
	for (i = 0; i < SREC_NSKIP && i < SKIP_NREASONS; i++)
		r->skipped[i] = res->skipped[i];
	r->fs_scanned = res->fs_scanned;
	r->fs_failed = res->fs_failed;
	r->ndetections = res->ndetections;
	r->streams = res->streams;
	snprintf(r->os, sizeof(r->os), "%s", res->os);
	r->launch_ms = res->launch_ms;
	r->stream_ms = res->stream_ms;
	srec_start(b, SR_RESULT);
	srec_put_result(b, r);
	send_rec(b);
	free(r);
	free(b);
}

int
child_main(int fd, struct engine *e, int verbose, int fiemap_fd)
{
	static unsigned char buf[SREC_MAX];
	struct verdict_cache cache = { NULL, cache_is_clean, cache_add_clean };
	struct file_index index = { NULL, index_lookup, index_put, index_done };
	struct read_budget budget = { NULL, budget_take };
	struct scan_disk disks[SREC_MAX_DISKS];
	char *excludes[SREC_MAX_EXCLUDES];
	struct scan_result res;
	struct rusage ru;
	struct scan_opts o;
	struct srec_scan *s;
	struct sigaction sa;
	pthread_t progress, canceller;
	struct srec r;
	char err[256];
	uint32_t i;
	long n;

	chan = fd;
	(void)setpgid(0, 0);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Nothing of the same user may attach to a scan or read it. */
	(void)prctl(PR_SET_DUMPABLE, 0);
	log_set_sink(sink);
	log_setverbose(verbose);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		lost("out of memory");
	if ((n = srec_recv(chan, buf, NULL)) <= 0)
		lost(n == 0 ? "closed before the request" : strerror(errno));
	r.scan = s;
	r.result = NULL;
	r.ready = NULL;
	r.own = NULL;
	if (srec_decode(buf, (size_t)n, &r, err, sizeof(err)) == -1)
		lost(err);
	if (r.type != SR_SCAN)
		lost("the first record is not a scan request");
	log_setverbose(s->verbose);

	memset(&o, 0, sizeof(o));
	memset(disks, 0, sizeof(disks));
	for (i = 0; i < s->ndisks; i++) {
		disks[i].path = s->disks[i].path;
		disks[i].format = s->disks[i].format;
		disks[i].target = s->disks[i].target;
		disks[i].nbd = 1;	/* nothing is opened by path */
	}
	for (i = 0; i < s->nexcludes; i++)
		excludes[i] = s->excludes[i];
	o.guest = s->guest;
	o.disks = disks;
	o.ndisks = s->ndisks;
	o.backend = "direct";
	o.backend_settings = s->backend_settings;
	o.launch_timeout = s->launch_timeout;
	o.max_file_size = s->max_file_size;
	o.max_listing = s->max_listing;
	o.excludes = excludes;
	o.nexcludes = s->nexcludes;
	o.engine = e;
	o.budget = &budget;
	o.cache = s->use_cache ? &cache : NULL;
	o.index = s->use_index ? &index : NULL;
	o.confine_parser = sandbox_confine_parser;
	o.threads = s->threads;
	o.spool_size = (size_t)s->spool;
	o.extents = s->extents;
	o.fiemap_fd = fiemap_fd;
	/* The base's records come with the index's answers. */
	if (s->clone && s->use_index && (o.own = fetch_own(s->ndisks)) == NULL)
		log_warnx("scan %s: a linked clone whose own ranges could not "
		    "be had: every file is read", s->guest);
	granted_guest = s->guest;
	granted_max = s->threads;

	scan_progress_init(&pr);
	/* One engine thread until sentineld deals more: with the answer to
	 * the first megabyte read. */
	atomic_store(&pr.threads, 1);
	if (pipe(cancel_pipe) == -1)
		lost(strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	if (pthread_create(&canceller, NULL, cancel_main, NULL) != 0 ||
	    pthread_create(&progress, NULL, progress_main, NULL) != 0)
		lost("cannot start threads");
	pthread_detach(canceller);

	scan_run(&o, &pr, &res);
	/* What the last batch read counts against the host's budget too. */
	(void)budget_flush(NULL);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		log_info("scan %s: peak memory of the scan process %ld KiB "
		    "(spool %llu KiB at most, %u engine threads)", s->guest,
		    ru.ru_maxrss, (unsigned long long)
		    (atomic_load(&pr.spool_peak) / 1024), s->threads);

	atomic_store(&finished, 1);
	pthread_join(progress, NULL);
	send_progress();
	send_results(&res);
	scan_result_free(&res);
	free(s);
	return 0;
}
