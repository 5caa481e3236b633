/*
 * The root side of the trust barrier: sentineld's scanner processes.
 *
 * A scanner (sentinel-scanner, started here as root, confined by itself
 * before it loads anything) holds one generation of the engines.  Each
 * scan asks it for a child over the scanner's channel, passing one end of
 * a socket pair for the scan; the child's records arrive on the other end
 * in the scan's worker thread, which decodes each one (srec.c), holds it
 * to its bounds and answers the child's questions (verdict cache, file
 * index, read budget) from the daemon's state.  A child that crashes,
 * hangs or sends what it should not ends its own scan only.
 *
 * A signature reload starts a new scanner and, once it is ready, makes it
 * the current one; the old one exits when its last child has.  A scanner
 * that dies is started again, with backoff.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "findex.h"
#include "log.h"
#include "pvh.h"
#include "sentineld.h"
#include "srec.h"
#include "stamp.h"
#include "throttle.h"
#include "util.h"

#define READY_TIMEOUT_MS	(15 * 60 * 1000)	/* a huge database */
#define SPAWN_TIMEOUT_MS	10000
#define CANCEL_GRACE_MS		10000	/* then the scan's processes die */
#define CUT_GRACE_MS		30000	/* cut short: to scan what it read
					 * (its spool) */
#define POLL_MS			250
#define MAX_KEPT_DETECTIONS	10000	/* per scan; more are counted */
#define MAX_INDEX_PUTS		(4U << 20)	/* per scan; more read again */
#define MAX_LOG_LINES		1000	/* per scan; more are dropped */
#define RESTART_MIN_MS		1000
#define RESTART_MAX_MS		60000

struct scanner {
	atomic_int		 refs;
	pid_t			 pid;
	int			 fd;		/* its channel */
	pthread_mutex_t		 mtx;		/* one spawn at a time */
	atomic_int		 dead;
	struct srec_ready	 ready;
	int64_t			 sig_time;	/* sig_dir_time at ready */
};

/* Children of every scanner, so that a stop can end them all. */
static struct {
	pthread_mutex_t	 mtx;
	pid_t		 pids[256];
	size_t		 n;
} kids = { .mtx = PTHREAD_MUTEX_INITIALIZER };

static uid_t scan_uid;
static gid_t scan_gid;
static uv_async_t died_async;
/* Reapers may outlive the loop's handles (a scanner ends as sentineld
 * stops): they post only while this says the handle is open. */
static pthread_mutex_t died_mtx = PTHREAD_MUTEX_INITIALIZER;
static int died_open;
static uv_timer_t restart_timer;
static uv_timer_t age_timer;		/* hourly: are they outdated? */
static uint64_t restart_ms = RESTART_MIN_MS;
static int reloading;

static void
kids_add(pid_t pid)
{
	pthread_mutex_lock(&kids.mtx);
	if (kids.n < sizeof(kids.pids) / sizeof(kids.pids[0]))
		kids.pids[kids.n++] = pid;
	pthread_mutex_unlock(&kids.mtx);
}

static void
kids_del(pid_t pid)
{
	size_t i;

	pthread_mutex_lock(&kids.mtx);
	for (i = 0; i < kids.n; i++)
		if (kids.pids[i] == pid) {
			kids.pids[i] = kids.pids[--kids.n];
			break;
		}
	pthread_mutex_unlock(&kids.mtx);
}

/* At a stop that takes too long: every scan's processes, appliances
 * included, are killed. */
unsigned int
scanner_kill_all(void)
{
	unsigned int n = 0;
	size_t i;

	pthread_mutex_lock(&kids.mtx);
	for (i = 0; i < kids.n; i++)
		if (kill(-kids.pids[i], SIGKILL) == 0)
			n++;
	pthread_mutex_unlock(&kids.mtx);
	return n;
}

gid_t
scanner_gid(void)
{
	return scan_gid;
}

/* Makes DIR with MODE, owned by UID:GID, whatever was there. */
static int
own_dir(const char *dir, mode_t mode, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	struct stat st;

	/* Parents it makes let everyone pass (as /var/lib is): the mode of
	 * DIR itself says who may enter. */
	if (mkdir_parent(dir, 0711) == -1 || mkdir_p(dir, mode) == -1 ||
	    lstat(dir, &st) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	if ((st.st_uid != uid || st.st_gid != gid) &&
	    chown(dir, uid, gid) == -1) {
		snprintf(err, errlen, "%s: chown: %s", dir, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 07777) != mode && chmod(dir, mode) == -1) {
		snprintf(err, errlen, "%s: chmod: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Runs ARGV, its output to the log on failure; its exit status or -1. */
static int
run_quiet(char *const argv[], char *out, size_t outlen)
{
	int p[2], st, devnull;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		if ((devnull = open("/dev/null", O_RDONLY)) != -1)
			dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	out[0] = '\0';
	while ((n = read(p[0], out + got, outlen - 1 - got)) > 0 &&
	    got + (size_t)n < outlen - 1)
		got += (size_t)n;
	if (n > 0)
		got += (size_t)n;
	out[got < outlen ? got : outlen - 1] = '\0';
	/* Drain the rest so the child never blocks on a full pipe. */
	while (n > 0) {
		char sink[512];

		n = read(p[0], sink, sizeof(sink));
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The appliance's kernel in DIR unpacked, if it can boot so (pvh.h). */
static void
appliance_kernel(const char *dir)
{
	char why[512];

	switch (pvh_appliance_kernel(dir, why, sizeof(why))) {
	case 2:
		log_info("scanner: the appliance's kernel is unpacked once "
		    "and boots through PVH: no launch unpacks it");
		break;
	case 1:
		break;
	case 0:
		log_info("scanner: the appliance's kernel stays packed (a "
		    "bzImage, unpacked at every launch): %s", why);
		break;
	default:
		log_warnx("scanner: the appliance's kernel: %s; it stays "
		    "packed", why);
	}
}

/*
 * The appliance is built by root, once, with supermin from the host's
 * files as libguestfs would build it (Debian's kernels are readable by
 * root only, and the scanners must not run supermin over the host).  It
 * is built beside DIR and renamed into place, so that two daemons that
 * start at once never see half of one; README.fixed makes libguestfs use
 * it as it is.  Remove DIR to have it built again (a new libguestfs).
 */
static int
prepare_appliance(const char *dir, char *err, size_t errlen)
{
	static const char *supermin_d[] = {
	    "/usr/lib/x86_64-linux-gnu/guestfs/supermin.d",
	    "/usr/lib/aarch64-linux-gnu/guestfs/supermin.d",
	    "/usr/lib64/guestfs/supermin.d", "/usr/lib/guestfs/supermin.d",
	    NULL };
	static const char *files[] = { "kernel", "initrd", "root",
	    "README.fixed", NULL };
	char path[4096], tmp[4096], out[2048];
	const char *src = NULL;
	struct stat st;
	size_t i;
	int fd;

	snprintf(path, sizeof(path), "%s/README.fixed", dir);
	if (stat(path, &st) == 0) {
		/* One prepared by an earlier version has its kernel packed. */
		appliance_kernel(dir);
		return 0;
	}
	for (i = 0; supermin_d[i] != NULL && src == NULL; i++)
		if (stat(supermin_d[i], &st) == 0)
			src = supermin_d[i];
	if (src == NULL) {
		snprintf(err, errlen, "no libguestfs supermin.d found: is "
		    "libguestfs installed?");
		return -1;
	}
	if (mkdir_parent(dir, 0755) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.new.%d", dir, (int)getpid());
	log_info("scanner: preparing the appliance in %s (supermin, once)",
	    dir);
	{
		char *argv[] = { "supermin", "--build", "--copy-kernel",
		    "--format", "ext2", "-o", tmp, (char *)src, NULL };

		if (run_quiet(argv, out, sizeof(out)) != 0) {
			out[strcspn(out, "\n")] = '\0';
			snprintf(err, errlen, "building the appliance with "
			    "supermin from %s failed: %s", src, out);
			return -1;
		}
	}
	appliance_kernel(tmp);
	snprintf(path, sizeof(path), "%s/README.fixed", tmp);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) ==
	    -1 || write(fd, "Built by sentineld with supermin: libguestfs "
	    "uses it as it is.\n", 59) != 59) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	/* The scanners read it; nothing in it is secret. */
	for (i = 0; files[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmp, files[i]);
		if (chmod(path, 0644) == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
	}
	if (chmod(tmp, 0755) == -1 || rename(tmp, dir) == -1) {
		snprintf(err, errlen, "installing the appliance in %s: %s", dir,
		    strerror(errno));
		/* Another sentineld may have put one there first. */
		for (i = 0; files[i] != NULL; i++) {
			snprintf(path, sizeof(path), "%s/%s", tmp, files[i]);
			(void)unlink(path);
		}
		(void)rmdir(tmp);
		snprintf(path, sizeof(path), "%s/README.fixed", dir);
		return stat(path, &st) == 0 ? 0 : -1;
	}
	log_info("scanner: appliance ready in %s", dir);
	return 0;
}

/* The program SENTINEL_SCANNER names to run in the scanner's place, for
 * tests of the daemon's own logic; NULL for sentinel-scanner. */
static const char *
standin(void)
{
	const char *p = getenv("SENTINEL_SCANNER");

	return p != NULL && *p != '\0' ? p : NULL;
}

/* At start: the scanner user, its directories and the appliance. */
int
scanner_setup(const struct config *c, char *err, size_t errlen)
{
	struct passwd *pw;
	char path[4096];
	struct dirent *de;
	DIR *d;

	errno = 0;
	if ((pw = getpwnam(c->scanner_user)) == NULL) {
		snprintf(err, errlen, "[scanner] user %s: %s (create it: "
		    "systemd-sysusers, or scripts/host-setup)", c->scanner_user,
		    errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(err, errlen, "[scanner] user %s is root: scanning "
		    "must not run as root", c->scanner_user);
		return -1;
	}
	/* Not root (the tests' fast tier): its directories are the
	 * scanner's only if the scanner is this user. */
	if (geteuid() != 0 && pw->pw_uid != geteuid()) {
		snprintf(err, errlen, "[scanner] user %s: sentineld runs as "
		    "uid %u, not root, and can run its scanner as itself "
		    "only", c->scanner_user, (unsigned int)geteuid());
		return -1;
	}
	scan_uid = pw->pw_uid;
	scan_gid = pw->pw_gid;
	if (own_dir(c->clamav_tmpdir, 0700, scan_uid, scan_gid, err,
	    errlen) == -1 ||
	    own_dir(c->scanner_dir, 0710, geteuid(), scan_gid, err,
	    errlen) == -1)
		return -1;
	if (path_reachable(c->clamav_tmpdir, pw, "the scanner user", err,
	    errlen) == -1 || path_reachable(c->scanner_dir, pw,
	    "the scanner user", err, errlen) == -1)
		return -1;
	/* Exports a sentineld that was killed left behind. */
	if ((d = opendir(c->scanner_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			size_t n = strlen(de->d_name);

			if (n < 5 || strcmp(de->d_name + n - 4, ".nbd") != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", c->scanner_dir,
			    de->d_name);
			if (unlink(path) == 0)
				log_warnx("scanner: removed %s, left by a scan "
				    "that did not end", path);
		}
		closedir(d);
	}
	/* A stand-in (SENTINEL_SCANNER, for tests) boots no appliance. */
	if (standin() != NULL) {
		log_warnx("scanner: %s runs in place of sentinel-scanner "
		    "(SENTINEL_SCANNER): a stand-in for tests, no guest is "
		    "read", standin());
		return 0;
	}
	if (prepare_appliance(c->scanner_appliance, err, errlen) == -1)
		return -1;
	return path_reachable(c->scanner_appliance, pw, "the scanner user",
	    err, errlen);
}

/* Starts a scanner for configuration C; its engine is not loaded yet
 * (scanner_wait_ready).  Called on the loop thread. */
static struct scanner *
launch(const struct config *c, char *err, size_t errlen)
{
	char exe[4096], self[4096], fdarg[16], limits[160], *slash;
	struct scanner *sc;
	int sv[2], devnull;
	ssize_t n;
	pid_t pid;

	/* Beside sentineld (a build tree, or the same prefix), else the
	 * installed one. */
	snprintf(exe, sizeof(exe), "%s/sentinel-scanner", SENTINEL_LIBEXECDIR);
	if (standin() != NULL)
		snprintf(exe, sizeof(exe), "%s", standin());
	else if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) >
	    0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			snprintf(exe, sizeof(exe), "%s/sentinel-scanner", self);
			if (access(exe, X_OK) == -1)
				snprintf(exe, sizeof(exe), "%s/sentinel-scanner",
				    SENTINEL_LIBEXECDIR);
		}
	}
	snprintf(limits, sizeof(limits), "%llu,%llu,%llu,%llu,%llu",
	    (unsigned long long)c->max_scan_size,
	    (unsigned long long)c->max_file_size,
	    (unsigned long long)c->max_recursion,
	    (unsigned long long)c->max_files,
	    (unsigned long long)c->max_file_scan_time * 1000);
	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		free(sc);
		return NULL;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free(sc);
		return NULL;
	}
	if (pid == 0) {
		char *argv[20];
		int i = 0;

		/* Descriptor 3 is the channel; nothing else is inherited
		 * (every other one is close-on-exec). */
		if (dup2(sv[1], 3) == -1)
			_exit(127);
		if ((devnull = open("/dev/null", O_RDONLY)) != -1)
			dup2(devnull, 0);
		snprintf(fdarg, sizeof(fdarg), "3");
		argv[i++] = "sentinel-scanner";
		argv[i++] = "--channel";
		argv[i++] = fdarg;
		argv[i++] = "--user";
		argv[i++] = c->scanner_user;
		argv[i++] = "--tmpdir";
		argv[i++] = c->clamav_tmpdir;
		argv[i++] = "--database";
		argv[i++] = c->clamav_database;
		argv[i++] = "--yara";
		argv[i++] = c->yara_rules;
		argv[i++] = "--appliance";
		argv[i++] = c->scanner_appliance;
		argv[i++] = "--limits";
		argv[i++] = limits;
		if (log_verbose_on())
			argv[i++] = "-v";
		argv[i] = NULL;
		execv(exe, argv);
		fprintf(stderr, "sentineld: cannot run %s: %s\n", exe,
		    strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	atomic_init(&sc->refs, 1);
	atomic_init(&sc->dead, 0);
	pthread_mutex_init(&sc->mtx, NULL);
	sc->pid = pid;
	sc->fd = sv[0];
	return sc;
}

/* Waits for the scanner's word on its engine: 0, or -1 with err. */
static int
wait_ready(struct scanner *sc, char *err, size_t errlen)
{
	static __thread unsigned char buf[SREC_MAX];
	struct pollfd pfd = { sc->fd, POLLIN, 0 };
	struct srec r;
	char derr[256];
	long n;
	int rc;

	do
		rc = poll(&pfd, 1, READY_TIMEOUT_MS);
	while (rc == -1 && errno == EINTR);
	if (rc == 0) {
		snprintf(err, errlen, "the scanner did not load its engine in "
		    "%d s", READY_TIMEOUT_MS / 1000);
		return -1;
	}
	if ((n = srec_recv(sc->fd, buf, NULL)) <= 0) {
		snprintf(err, errlen, "the scanner exited before it was ready "
		    "(its messages are in sentineld's log)");
		return -1;
	}
	r.scan = NULL;
	r.result = NULL;
	r.ready = &sc->ready;
	r.own = NULL;
	if (srec_decode(buf, (size_t)n, &r, derr, sizeof(derr)) == -1) {
		snprintf(err, errlen, "scanner: %s", derr);
		return -1;
	}
	if (r.type == SR_FAILED) {
		snprintf(err, errlen, "%s", r.text);
		return -1;
	}
	if (r.type != SR_READY) {
		snprintf(err, errlen, "scanner: %s record before it was ready",
		    srec_type_name(r.type));
		return -1;
	}
	/* How old what it loaded is (the files may change after). */
	sc->sig_time = sig_dir_time(sc->ready.dbdir);
	return 0;
}

/* Reaps a scanner process in a thread of its own; says if it died. */
static void *
reaper(void *arg)
{
	struct scanner *sc = arg;
	int st;

	while (waitpid(sc->pid, &st, 0) == -1 && errno == EINTR)
		;
	atomic_store(&sc->dead, 1);
	if (WIFSIGNALED(st))
		log_warnx("scanner %d: killed by signal %d", (int)sc->pid,
		    WTERMSIG(st));
	else if (WEXITSTATUS(st) != 0)
		log_warnx("scanner %d: exited with status %d", (int)sc->pid,
		    WEXITSTATUS(st));
	else
		log_debug("scanner %d: exited", (int)sc->pid);
	pthread_mutex_lock(&died_mtx);
	if (died_open)
		uv_async_send(&died_async);
	pthread_mutex_unlock(&died_mtx);
	scanner_unref(sc);
	return NULL;
}

static void
watch(struct scanner *sc)
{
	pthread_t t;

	atomic_fetch_add(&sc->refs, 1);
	if (pthread_create(&t, NULL, reaper, sc) != 0) {
		atomic_fetch_sub(&sc->refs, 1);
		log_warnx("scanner %d: cannot watch it", (int)sc->pid);
		return;
	}
	pthread_detach(t);
}

struct scanner *
scanner_ref(struct scanner *sc)
{
	if (sc != NULL)
		atomic_fetch_add(&sc->refs, 1);
	return sc;
}

/* The last reference closes the channel: the scanner serves no new scan
 * and exits once its children have. */
void
scanner_unref(struct scanner *sc)
{
	if (sc == NULL || atomic_fetch_sub(&sc->refs, 1) != 1)
		return;
	close(sc->fd);
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}

const char *
scanner_version(const struct scanner *sc)
{
	return sc->ready.version;
}

const char *
scanner_stamp(const struct scanner *sc)
{
	return sc->ready.stamp;
}

const char *
scanner_dbdir(const struct scanner *sc)
{
	return sc->ready.dbdir;
}

const char *
scanner_libversion(const struct scanner *sc)
{
	return sc->ready.libversion;
}

unsigned int
scanner_signatures(const struct scanner *sc)
{
	return sc->ready.signatures;
}

unsigned int
scanner_yara_rules(const struct scanner *sc)
{
	return sc->ready.yara_rules;
}

void
scanner_keep_sigsum(const struct scanner *sc)
{
	if (sc->ready.has_sigsum &&
	    store_sigsum_put(sc->ready.version, sc->ready.sigsum,
	    sc->ready.allow, (size_t)sc->ready.nallow * 8,
	    (int64_t)time(NULL)) == -1)
		log_warnx("signature sums: not stored; files found clean "
		    "under version %s will be read again after an update",
		    sc->ready.version);
}

int64_t
scanner_signature_time(const struct scanner *sc)
{
	return sc->sig_time;
}

/*
 * [clamav] max_signature_age: signatures older than that (freshclam not
 * running, or failing) are said in the log when loaded, and again once a
 * day while they stay so; 1 if they are.  NOW in seconds.
 */
int
scanner_outdated(const struct scanner *sc, int64_t now)
{
	return sc != NULL && sd.conf.max_signature_age > 0 &&
	    sc->sig_time > 0 &&
	    now - sc->sig_time > (int64_t)sd.conf.max_signature_age;
}

static void
check_age(int loaded)
{
	static int64_t said;
	int64_t now = (int64_t)time(NULL);
	char when[64];
	struct tm tm;
	time_t t;

	if (sd.scanner == NULL)
		return;
	if (!scanner_outdated(sd.scanner, now)) {
		if (said != 0)
			log_info("signatures: up to date again");
		said = 0;
		return;
	}
	if (!loaded && said != 0 && now - said < 86400)
		return;
	said = now;
	t = (time_t)sd.scanner->sig_time;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	log_warnx("signatures: the newest in %s is from %s, %lld days ago, "
	    "older than [clamav] max_signature_age (%llu days): is freshclam "
	    "running and reaching its mirror?", sd.scanner->ready.dbdir, when,
	    (long long)((now - sd.scanner->sig_time) / 86400),
	    (unsigned long long)(sd.conf.max_signature_age / 86400));
}

static void
on_age_timer(uv_timer_t *t)
{
	(void)t;
	check_age(0);
}

void
scanner_loaded(void)
{
	check_age(1);
}

uint64_t
scanner_load_ms(const struct scanner *sc)
{
	return sc->ready.load_ms;
}

pid_t
scanner_pid(const struct scanner *sc)
{
	return sc->pid;
}

/* At start, before the loop: the first scanner, ready. */
struct scanner *
scanner_start(const struct config *c, char *err, size_t errlen)
{
	struct scanner *sc;

	if ((sc = launch(c, err, errlen)) == NULL)
		return NULL;
	if (wait_ready(sc, err, errlen) == -1) {
		close(sc->fd);
		kill(sc->pid, SIGKILL);
		waitpid(sc->pid, NULL, 0);
		free(sc);
		return NULL;
	}
	watch(sc);
	return sc;
}

/* A new scanner beside the current one: launched on the loop, waited for
 * in the pool, made current on the loop. */
struct reload {
	uv_work_t	 req;
	struct scanner	*sc;
	char		 err[512];
	void		(*cb)(void *, const char *);
	void		*arg;
};

static void
reload_work(uv_work_t *req)
{
	struct reload *r = req->data;

	if (wait_ready(r->sc, r->err, sizeof(r->err)) == -1) {
		close(r->sc->fd);
		r->sc->fd = -1;
	}
}

static void
reload_done(uv_work_t *req, int status)
{
	struct reload *r = req->data;
	struct scanner *old;

	(void)status;
	reloading = 0;
	if (r->sc->fd == -1) {
		/* It may still be loading (a time-out): it ends now. */
		kill(r->sc->pid, SIGKILL);
		waitpid(r->sc->pid, NULL, 0);
		pthread_mutex_destroy(&r->sc->mtx);
		free(r->sc);
		r->sc = NULL;
		log_warnx("signatures: reload failed: %s; keeping the %u "
		    "signatures loaded", r->err, sd.scanner != NULL ?
		    scanner_signatures(sd.scanner) : 0);
		if (sd.scanner == NULL || atomic_load(&sd.scanner->dead))
			uv_timer_start(&restart_timer, (uv_timer_cb)
			    scanner_restart_cb, restart_ms, 0);
	} else {
		watch(r->sc);
		old = sd.scanner;
		sd.scanner = r->sc;
		restart_ms = RESTART_MIN_MS;
		log_info("signatures: %u from %s, %u YARA rules, in %llu ms, "
		    "version %s (scanner %d)", scanner_signatures(sd.scanner),
		    scanner_dbdir(sd.scanner), scanner_yara_rules(sd.scanner),
		    (unsigned long long)scanner_load_ms(sd.scanner),
		    scanner_version(sd.scanner), (int)sd.scanner->pid);
		scanner_unref(old);
		scanner_keep_sigsum(sd.scanner);
		check_age(1);
		if (vcache_init((size_t)sd.conf.verdict_cache,
		    scanner_version(sd.scanner)) == -1)
			log_warnx("verdict cache: out of memory; scans go on "
			    "without it");
	}
	if (r->cb != NULL)
		r->cb(r->arg, r->sc == NULL ? r->err : NULL);
	free(r);
}

void
scanner_reload(void (*cb)(void *, const char *), void *arg)
{
	struct reload *r;
	char err[512];

	if (reloading || sd.stopping) {
		if (cb != NULL)
			cb(arg, sd.stopping ? "sentineld is stopping" :
			    "a reload is already running");
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		if (cb != NULL)
			cb(arg, "out of memory");
		return;
	}
	if ((r->sc = launch(&sd.conf, err, sizeof(err))) == NULL) {
		free(r);
		if (cb != NULL)
			cb(arg, err);
		return;
	}
	r->cb = cb;
	r->arg = arg;
	r->req.data = r;
	if (uv_queue_work(sd.loop, &r->req, reload_work, reload_done) != 0) {
		close(r->sc->fd);
		kill(r->sc->pid, SIGKILL);
		waitpid(r->sc->pid, NULL, 0);
		free(r->sc);
		free(r);
		if (cb != NULL)
			cb(arg, "cannot queue the reload");
		return;
	}
	reloading = 1;
	log_info("signatures: loading from %s in a new scanner",
	    *sd.conf.clamav_database ? sd.conf.clamav_database :
	    "libclamav's default directory");
}

int
scanner_reloading(void)
{
	return reloading;
}

void
scanner_restart_cb(uv_timer_t *t)
{
	(void)t;
	if (sd.stopping || reloading)
		return;
	restart_ms = restart_ms * 2 > RESTART_MAX_MS ? RESTART_MAX_MS :
	    restart_ms * 2;
	scanner_reload(NULL, NULL);
}

/* A scanner died: if it was the current one, another is started. */
static void
on_died(uv_async_t *a)
{
	(void)a;
	if (sd.stopping || sd.scanner == NULL ||
	    !atomic_load(&sd.scanner->dead) || reloading)
		return;
	log_warnx("scanner %d is gone: starting another in %llu ms",
	    (int)sd.scanner->pid, (unsigned long long)restart_ms);
	uv_timer_start(&restart_timer, scanner_restart_cb, restart_ms, 0);
}

int
scanner_init(void)
{
	if (uv_async_init(sd.loop, &died_async, on_died) != 0 ||
	    uv_timer_init(sd.loop, &restart_timer) != 0 ||
	    uv_timer_init(sd.loop, &age_timer) != 0)
		return -1;
	uv_timer_start(&age_timer, on_age_timer, 3600 * 1000, 3600 * 1000);
	pthread_mutex_lock(&died_mtx);
	died_open = 1;
	pthread_mutex_unlock(&died_mtx);
	return 0;
}

void
scanner_close(void)
{
	pthread_mutex_lock(&died_mtx);
	died_open = 0;
	pthread_mutex_unlock(&died_mtx);
	uv_timer_stop(&restart_timer);
	uv_close((uv_handle_t *)&restart_timer, NULL);
	uv_close((uv_handle_t *)&age_timer, NULL);
	uv_close((uv_handle_t *)&died_async, NULL);
}

/* Asks SC for a child to run one scan; its channel in *fdp. */
static pid_t
spawn(struct scanner *sc, int *fdp, char *err, size_t errlen)
{
	static __thread unsigned char buf[SREC_MAX];
	struct pollfd pfd;
	struct srec_buf b;
	struct srec r;
	char derr[256];
	int sv[2], rc;
	long n;

	*fdp = -1;
	if (atomic_load(&sc->dead)) {
		snprintf(err, errlen, "the scanner process is gone (another "
		    "is being started)");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	srec_start(&b, SR_SPAWN);
	pthread_mutex_lock(&sc->mtx);
	if (srec_send(sc->fd, &b, sv[1]) == -1) {
		snprintf(err, errlen, "asking the scanner for a child: %s",
		    strerror(errno));
		goto fail;
	}
	pfd.fd = sc->fd;
	pfd.events = POLLIN;
	do
		rc = poll(&pfd, 1, SPAWN_TIMEOUT_MS);
	while (rc == -1 && errno == EINTR);
	if (rc <= 0 || (n = srec_recv(sc->fd, buf, NULL)) <= 0) {
		snprintf(err, errlen, "the scanner did not answer");
		goto fail;
	}
	r.scan = NULL;
	r.result = NULL;
	r.ready = NULL;
	r.own = NULL;
	if (srec_decode(buf, (size_t)n, &r, derr, sizeof(derr)) == -1 ||
	    r.type != SR_SPAWNED) {
		snprintf(err, errlen, "scanner: %s", r.type != SR_SPAWNED ?
		    "unexpected answer" : derr);
		goto fail;
	}
	if (r.n[0] == 0) {
		snprintf(err, errlen, "the scanner could not start a scan: %s",
		    r.text);
		goto fail;
	}
	pthread_mutex_unlock(&sc->mtx);
	close(sv[1]);
	*fdp = sv[0];
	return (pid_t)r.n[0];
fail:
	pthread_mutex_unlock(&sc->mtx);
	close(sv[0]);
	close(sv[1]);
	return -1;
}

/* What one scan's records made so far. */
struct run {
	const struct scan_opts	*o;
	struct scan_progress	*pr;
	struct scan_result	*res;
	struct scan_detection	**dtail;
	struct scan_skip	**stail;
	struct srec_result	 final;
	int			 got_result;
	int			 exited;	/* SR_EXITED came */
	int			 status;	/* its wait status */
	char			 bad[300];	/* a broken protocol */
	unsigned int		 puts, kept, logs;
};

static void
reply(struct run *x, int fd, struct srec_buf *b)
{
	if (srec_send(fd, b, -1) == -1 && x->bad[0] == '\0')
		snprintf(x->bad, sizeof(x->bad), "answering the scanner: %s",
		    strerror(errno));
}

static void
add_detection(struct run *x, const struct srec *r)
{
	struct scan_detection *d;

	x->res->ndetections++;
	if (x->kept >= MAX_KEPT_DETECTIONS)
		return;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->fs = strdup(r->fs)) == NULL ||
	    (d->path = malloc(r->pathlen + 1)) == NULL ||
	    (d->signature = strdup(r->name)) == NULL) {
		if (d != NULL) {
			free(d->fs);
			free(d->path);
		}
		free(d);
		return;
	}
	memcpy(d->path, r->path, r->pathlen + 1);
	d->pathlen = r->pathlen;
	d->guest_path = r->drive != 0 ? r->drive :
	    (r->flag & SREC_DET_GUEST_PATH) != 0;
	d->hidden = (r->flag & SREC_DET_HIDDEN) != 0;
	d->engine = r->engine == 1 ? "yara" : "clamav";
	d->size = r->n[0];
	*x->dtail = d;
	x->dtail = &d->next;
	x->kept++;
}

static void
add_skip(struct run *x, const struct srec *r)
{
	struct scan_skip *k;
	enum skip_reason why = (enum skip_reason)r->flag;

	if (x->res->nskips[why] >= SCAN_SKIP_PATHS)
		return;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->fs = strdup(r->fs)) == NULL ||
	    (k->path = malloc(r->pathlen + 1)) == NULL ||
	    (r->text[0] != '\0' && (k->detail = strdup(r->text)) == NULL)) {
		if (k != NULL) {
			free(k->fs);
			free(k->path);
		}
		free(k);
		return;
	}
	memcpy(k->path, r->path, r->pathlen + 1);
	k->pathlen = r->pathlen;
	k->reason = why;
	k->guest_path = r->engine;
	*x->stail = k;
	x->stail = &k->next;
	x->res->nskips[why]++;
}

static void
log_child(const struct scan_opts *o, const struct srec *r)
{
	if (r->flag <= LOG_WARNING)
		log_warnx("scanner (%s): %s", o->guest, r->text);
	else if (r->flag < LOG_DEBUG)
		log_info("scanner (%s): %s", o->guest, r->text);
	else
		log_debug("scanner (%s): %s", o->guest, r->text);
}

/* A clone's own ranges of disk DISK, from the FROM-th: as many as a
 * record holds (none for a disk it has not, or a scan of no clone). */
static void
reply_own(struct run *x, int fd, size_t disk, size_t from)
{
	const struct own_map *m = x->o->own != NULL && disk < x->o->ndisks ?
	    &x->o->own[disk] : NULL;
	static __thread struct srec_buf b;
	size_t i, n = 0;

	if (m != NULL && from < m->n)
		n = m->n - from < SREC_OWN_MAX ? m->n - from : SREC_OWN_MAX;
	srec_start(&b, SR_OWN_A);
	srec_u8(&b, m != NULL && from + n < m->n);
	srec_u32(&b, (uint32_t)n);
	for (i = 0; i < n; i++) {
		srec_u64(&b, m->r[from + i].start);
		srec_u64(&b, m->r[from + i].end - m->r[from + i].start);
	}
	reply(x, fd, &b);
}

/* One record from the child; -1 if it breaks the protocol. */
static int
handle(struct run *x, int fd, const struct srec *r)
{
	const struct scan_opts *o = x->o;
	struct findex_rec rec;
	uint32_t classes;
	struct srec_buf b;
	int found, i;

	if (x->got_result && r->type != SR_EXITED && r->type != SR_LOG) {
		snprintf(x->bad, sizeof(x->bad), "%s record after the result",
		    srec_type_name(r->type));
		return -1;
	}
	switch (r->type) {
	case SR_LOG:
		if (x->logs++ < MAX_LOG_LINES)
			log_child(o, r);
		else if (x->logs == MAX_LOG_LINES + 1)
			log_warnx("scan %s: the scanner's further log lines are "
			    "dropped (more than %d)", o->guest, MAX_LOG_LINES);
		return 0;
	case SR_PROGRESS:
		atomic_store(&x->pr->files, r->n[0]);
		atomic_store(&x->pr->bytes_read, r->n[1]);
		atomic_store(&x->pr->fs_bytes, r->n[2]);
		scan_progress_set_fs(x->pr, r->fs);
		return 0;
	case SR_DETECTION:
		add_detection(x, r);
		return 0;
	case SR_SKIP:
		add_skip(x, r);
		return 0;
	case SR_RESULT:
		x->got_result = 1;
		return 0;
	case SR_CACHE_Q:
		classes = 0;
		srec_start(&b, SR_CACHE_A);
		srec_u8(&b, o->cache != NULL &&
		    o->cache->is_clean(o->cache->p, r->sha, &classes));
		srec_u32(&b, classes);
		reply(x, fd, &b);
		return 0;
	case SR_CACHE_ADD:
		if (o->cache != NULL)
			o->cache->add_clean(o->cache->p, r->sha,
			    (uint32_t)r->n[0]);
		return 0;
	case SR_INDEX_Q:
		srec_start(&b, SR_INDEX_A);
		for (i = 0; i < 2; i++) {
			const struct file_index *ix = i == 0 ? o->index :
			    o->base_index;
			struct srec_rec sr;

			found = ix != NULL && ix->lookup(ix->p, r->fs,
			    r->path, r->pathlen, &rec, NULL, r->flag) != 0;
			srec_u8(&b, (uint8_t)found);
			if (found) {
				findex_rec_to_srec(&sr, &rec);
				srec_put_rec(&b, &sr);
			}
		}
		reply(x, fd, &b);
		return 0;
	case SR_OWN_Q:
		reply_own(x, fd, (size_t)r->n[0], (size_t)r->n[1]);
		return 0;
	case SR_INDEX_PUT:
		/* Bounded: past it the files are read again next time. */
		if (o->index != NULL && x->puts++ < MAX_INDEX_PUTS) {
			findex_rec_from_srec(&rec, &r->rec);
			o->index->put(o->index->p, r->fs, r->path, r->pathlen,
			    &rec);
		}
		return 0;
	case SR_INDEX_DONE:
		if (o->index != NULL && x->puts <= MAX_INDEX_PUTS)
			o->index->tree_done(o->index->p, r->fs);
		return 0;
	case SR_READ:
		found = o->budget == NULL || o->budget->take(o->budget->p,
		    (size_t)r->n[0], &x->pr->cancel) == 0;
		srec_start(&b, SR_READ_OK);
		srec_u8(&b, (uint8_t)found);
		srec_u32(&b, schedule_cpu_grant(o->threads));
		reply(x, fd, &b);
		return 0;
	case SR_EXITED:
		x->exited = 1;
		x->status = r->status;
		return 0;
	default:
		snprintf(x->bad, sizeof(x->bad), "unexpected %s record",
		    srec_type_name(r->type));
		return -1;
	}
}

/* "signal 11 (Segmentation fault)", "status 3". */
static void
describe(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
}

static void
conclude(struct run *x, int cancelled, int killed)
{
	struct scan_result *res = x->res;
	const struct srec_result *f = &x->final;
	char how[128];
	int i;

	if (x->got_result && x->bad[0] == '\0') {
		res->status = (enum scan_status)f->status;
		snprintf(res->reason, sizeof(res->reason), "%s", f->reason);
		res->files = f->files;
		res->bytes_read = f->bytes_read;
		res->bytes_scanned = f->bytes_scanned;
		res->cache_hits = f->cache_hits;
		res->unchanged = f->unchanged;
		res->hidden = f->hidden;
		for (i = 0; i < SKIP_NREASONS && i < SREC_NSKIP; i++)
			res->skipped[i] = f->skipped[i] > res->nskips[i] ?
			    f->skipped[i] : res->nskips[i];
		res->fs_scanned = f->fs_scanned;
		res->fs_failed = f->fs_failed;
		snprintf(res->os, sizeof(res->os), "%s", f->os);
		res->launch_ms = f->launch_ms;
		res->stream_ms = f->stream_ms;
		res->streams = f->streams;
		/* What the detections were is what came, not what it says. */
		if (res->ndetections > 0 && res->status != SCAN_INFECTED) {
			res->status = SCAN_INFECTED;
		} else if (res->ndetections == 0 &&
		    res->status == SCAN_INFECTED) {
			res->status = SCAN_FAILED;
			snprintf(res->reason, sizeof(res->reason), "the scanner "
			    "said infected but sent no detection");
		}
		return;
	}
	res->files = atomic_load(&x->pr->files);
	res->bytes_read = atomic_load(&x->pr->bytes_read);
	if (cancelled) {
		res->status = res->ndetections > 0 ? SCAN_INFECTED :
		    SCAN_INCOMPLETE;
		snprintf(res->reason, sizeof(res->reason), "%s",
		    res->ndetections > 0 ? "cancelled before the end" :
		    "cancelled");
		return;
	}
	if (x->bad[0] != '\0')
		snprintf(how, sizeof(how), "%s", "");
	else if (x->exited)
		describe(x->status, how, sizeof(how));
	else
		snprintf(how, sizeof(how), "ended without a result%s",
		    killed ? " (killed)" : "");
	/* Detections that came stand: the guest is infected, and the scan
	 * says it did not finish. */
	res->status = res->ndetections > 0 ? SCAN_INFECTED : SCAN_FAILED;
	if (x->bad[0] != '\0')
		snprintf(res->reason, sizeof(res->reason), "scanner process "
		    "broke the protocol (%s): killed", x->bad);
	else
		snprintf(res->reason, sizeof(res->reason), "scanner process "
		    "%s", how);
}

/*
 * Runs one scan in a child of SC; called in the scan's worker thread.
 * Every disk of O must be an NBD export.  The result is always filled.
 */
void
scanner_run(struct scanner *sc, const struct scan_opts *o,
    struct scan_progress *pr, struct scan_result *res)
{
	static __thread unsigned char buf[SREC_MAX];
	struct srec_scan *s = NULL;
	struct srec_buf *b = NULL;
	struct run x;
	struct pollfd pfd;
	struct srec r;
	uint64_t cancel_at = 0;
	char err[512];
	size_t i;
	pid_t pid;
	int fd = -1, signalled = 0, killed = 0, grace = CANCEL_GRACE_MS, rc;
	long n;

	memset(res, 0, sizeof(*res));
	memset(&x, 0, sizeof(x));
	x.o = o;
	x.pr = pr;
	x.res = res;
	x.dtail = &res->detections;
	x.stail = &res->skips;
	if (o->ndisks == 0) {
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason),
		    "the guest has no disk that can be scanned");
		return;
	}
	if (o->ndisks > SREC_MAX_DISKS || o->nexcludes > SREC_MAX_EXCLUDES) {
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason), "more than %d disks "
		    "or %d exclude patterns", SREC_MAX_DISKS,
		    SREC_MAX_EXCLUDES);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (b = malloc(sizeof(*b))) == NULL) {
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason), "out of memory");
		goto out;
	}
	snprintf(s->guest, sizeof(s->guest), "%s", o->guest);
	snprintf(s->backend_settings, sizeof(s->backend_settings), "%s",
	    o->backend_settings ? o->backend_settings : "");
	s->max_file_size = o->max_file_size;
	s->max_listing = o->max_listing;
	s->launch_timeout = o->launch_timeout;
	s->threads = o->threads < 1 ? 1 : o->threads > SREC_MAX_THREADS ?
	    SREC_MAX_THREADS : o->threads;
	s->spool = o->spool_size < SREC_MIN_SPOOL ? SREC_MIN_SPOOL :
	    o->spool_size;
	s->use_cache = o->cache != NULL;
	s->use_index = o->index != NULL;
	s->verbose = (uint8_t)log_verbose_on();
	s->extents = o->extents != 0;
	s->clone = o->own != NULL && o->base_index != NULL;
	s->ndisks = (uint32_t)o->ndisks;
	for (i = 0; i < o->ndisks; i++) {
		const struct scan_disk *d = &o->disks[i];

		if (!d->nbd || strlen(d->path) >= sizeof(s->disks[i].path)) {
			res->status = SCAN_FAILED;
			snprintf(res->reason, sizeof(res->reason), "disk %s is "
			    "not exported to the scanner", d->target);
			goto out;
		}
		snprintf(s->disks[i].path, sizeof(s->disks[i].path), "%s",
		    d->path);
		snprintf(s->disks[i].format, sizeof(s->disks[i].format), "%s",
		    d->format);
		snprintf(s->disks[i].target, sizeof(s->disks[i].target), "%s",
		    d->target);
	}
	s->nexcludes = (uint32_t)o->nexcludes;
	for (i = 0; i < o->nexcludes; i++) {
		if (strlen(o->excludes[i]) >= sizeof(s->excludes[i])) {
			res->status = SCAN_FAILED;
			snprintf(res->reason, sizeof(res->reason), "exclude "
			    "pattern longer than %zu bytes",
			    sizeof(s->excludes[i]) - 1);
			goto out;
		}
		snprintf(s->excludes[i], sizeof(s->excludes[i]), "%s",
		    o->excludes[i]);
	}
	srec_start(b, SR_SCAN);
	srec_put_scan(b, s);
	if (b->over) {
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason), "the scan request "
		    "is too large (exclude patterns)");
		goto out;
	}
	if ((pid = spawn(sc, &fd, err, sizeof(err))) == -1) {
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason), "%s", err);
		goto out;
	}
	kids_add(pid);
	log_debug("scan %s: scanner child %d", o->guest, (int)pid);
	if (srec_send(fd, b, -1) == -1)
		snprintf(x.bad, sizeof(x.bad), "sending the request: %s",
		    strerror(errno));
	/* Records until the end of the channel: the child's, then the
	 * scanner's SR_EXITED once the child is gone. */
	while (x.bad[0] == '\0') {
		if (atomic_load(&pr->cancel) && !signalled) {
			/* Cut short, it scans what it has read. */
			grace = atomic_load(&pr->cut) ? CUT_GRACE_MS :
			    CANCEL_GRACE_MS;
			kill(pid, atomic_load(&pr->cut) ? SIGUSR2 : SIGUSR1);
			signalled = 1;
			cancel_at = mono_ms();
		}
		if (signalled && !killed &&
		    mono_ms() - cancel_at > (uint64_t)grace) {
			log_warnx("scan %s: the scanner did not stop within %d "
			    "s of the cancel: killing it and its appliance",
			    o->guest, grace / 1000);
			kill(-pid, SIGKILL);
			killed = 1;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		do
			rc = poll(&pfd, 1, POLL_MS);
		while (rc == -1 && errno == EINTR);
		if (rc <= 0)
			continue;
		if ((n = srec_recv(fd, buf, NULL)) == 0)
			break;
		if (n < 0) {
			if (errno == EMSGSIZE)
				snprintf(x.bad, sizeof(x.bad), "a record over "
				    "%d bytes", SREC_MAX);
			break;
		}
		r.scan = NULL;
		r.result = &x.final;
		r.ready = NULL;
		r.own = NULL;
		if (srec_decode(buf, (size_t)n, &r, x.bad, sizeof(x.bad)) ==
		    -1 || handle(&x, fd, &r) == -1)
			break;
	}
	if (x.bad[0] != '\0') {
		log_warnx("scan %s: scanner child %d: %s; killing it",
		    o->guest, (int)pid, x.bad);
		kill(-pid, SIGKILL);
		killed = 1;
	}
	/* A child that ended without its result may have left its appliance:
	 * the group goes (qemu keeps the group's id from being reused). */
	if (!x.got_result && !killed)
		kill(-pid, SIGKILL);
	kids_del(pid);
	conclude(&x, atomic_load(&pr->cancel), killed);
out:
	if (fd != -1)
		close(fd);
	free(s);
	free(b);
}

/* The host's throttle as the scan library's read budget. */
static int
take_throttle(void *p, size_t n, atomic_int *cancel)
{
	return throttle_take(p, n, cancel);
}

void
scanner_budget(struct read_budget *b, struct throttle *t)
{
	b->p = t;
	b->take = take_throttle;
}

/* clamd's SelfCheck: the signature directory changed since the current
 * scanner loaded it. */
int
scanner_stale(const struct scanner *sc, const char *yaradir)
{
	char stamp[64];

	sig_dir_stamp(sc->ready.dbdir, yaradir, stamp, sizeof(stamp));
	return strcmp(stamp, sc->ready.stamp) != 0;
}
