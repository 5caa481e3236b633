/*
 * sentinel-scanner: started by sentineld as root with a channel on a
 * descriptor.  It confines itself (sandbox.c), loads the engines once and
 * says SR_READY; then, for each SR_SPAWN that brings a scan's channel, it
 * forks a child that runs the scan over that channel (child.c), sharing
 * the engines copy-on-write.  When a child ends, its wait status goes to
 * sentineld as SR_EXITED on the scan's channel, so a crash is reported as
 * what it was.  At the end of its channel it serves no new scan and exits
 * once its children have: a signature reload starts a new scanner beside
 * the old one.  It never reads guest bytes itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "scanner.h"
#include "sigdb.h"
#include "srec.h"

_Static_assert(SIGSUM_BYTES == SREC_SIGSUM_LEN, "sums as srec carries them");
_Static_assert(SIGSUM_MAX_ALLOW == SREC_MAX_ALLOW, "allowlist sets alike");

/*
 * The sums of the signatures the engine was loaded from, by class of file
 * (sigsum.h): sentineld keeps them by version, and a file found clean
 * under an older version is read again only where the classes it is
 * subject to changed.  Files replaced since the engine's stamp was taken
 * leave the sums untaken: every file is then read again.
 */
static void
take_sums(struct engine *e, const char *yara, struct srec_ready *rd)
{
	static struct sigsum s;
	struct timespec t0, t1;
	char err[256];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (sigdb_summary(engine_dbdir(e), yara, &s, err, sizeof(err)) ==
	    -1) {
		log_warnx("signature sums: %s; files found clean under "
		    "other signatures are all read again", err);
		return;
	}
	if (!engine_files_unchanged(e)) {
		log_info("signature sums: the files changed since the load; "
		    "files found clean under other signatures are all read "
		    "again");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sigsum_pack(&s, rd->sigsum);
	sigsum_pack_allow(&s, rd->allow);
	rd->nallow = (uint32_t)s.nallow;
	rd->has_sigsum = 1;
	log_debug("signature sums taken in %lld ms", (long long)
	    ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) /
	    1000000));
}

#define MAX_CHILDREN	256

static struct {
	pid_t	 pid;
	int	 fd;		/* the scan's channel, to report the exit */
} kids[MAX_CHILDREN];
static size_t nkids;

#ifdef __SANITIZE_ADDRESS__		/* gcc and clang define it */
/* LeakSanitizer stops the world with ptrace, which the scanner's seccomp
 * filter refuses: its leak check cannot run in here (the scan library's
 * code is leak-checked by the fuzzers and the unit tests).  A scan child
 * that dies of SIGSEGV is a handled event (sentineld fails that scan with
 * the signal, and the tests send one): it dies of it as in production. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0:handle_segv=0";
}
#endif

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: sentinel-scanner --user USER --tmpdir DIR "
	    "[--database DIR] [--yara DIR]\n"
	    "    [--appliance DIR] [--limits SIZE,FILESIZE,RECURSION,FILES,MS] "
	    "[-v]\n"
	    "    (--channel FD | --check [--probe PATH]...)\n");
	exit(2);
}

/* SR_FAILED with why, or SR_SPAWNED with pid 0 and why. */
static void
send_text(int fd, enum srec_type t, const char *why)
{
	struct srec_buf b;

	srec_start(&b, t);
	if (t == SR_SPAWNED)
		srec_u32(&b, 0);
	srec_str(&b, why);
	(void)srec_send(fd, &b, -1);
}

/* Children that ended: their status to sentineld, on their channel. */
static void
reap(void)
{
	struct srec_buf b;
	size_t i;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < nkids && kids[i].pid != pid; i++)
			;
		if (i == nkids)
			continue;	/* an appliance helper, say */
		srec_start(&b, SR_EXITED);
		srec_u32(&b, (uint32_t)st);
		(void)srec_send(kids[i].fd, &b, -1);
		close(kids[i].fd);
		kids[i] = kids[--nkids];
	}
}

static int fiemap_fd = -1;

static void
spawn(int chan, int fd, struct engine *e, int verbose)
{
	struct srec_buf b;
	size_t i;
	pid_t pid;

	if (fd == -1) {
		send_text(chan, SR_SPAWNED, "no channel came with the request");
		return;
	}
	if (nkids == MAX_CHILDREN) {
		close(fd);
		send_text(chan, SR_SPAWNED, "too many scans at once");
		return;
	}
	if ((pid = fork()) == -1) {
		close(fd);
		send_text(chan, SR_SPAWNED, strerror(errno));
		return;
	}
	if (pid == 0) {
		close(chan);
		for (i = 0; i < nkids; i++)
			close(kids[i].fd);
		_exit(child_main(fd, e, verbose, fiemap_fd));
	}
	/* Its own process group, with its appliance: sentineld ends a
	 * stuck scan by killing the group. */
	(void)setpgid(pid, pid);
	kids[nkids].pid = pid;
	kids[nkids].fd = fd;
	nkids++;
	srec_start(&b, SR_SPAWNED);
	srec_u32(&b, (uint32_t)pid);
	srec_str(&b, "");
	(void)srec_send(chan, &b, -1);
}

/*
 * sentinel-fiemap, installed beside this program, copied into a sealed
 * memory file before confinement: each scan uploads it into its appliance
 * (extents.h) through /dev/fd, which the confined scan may open where it
 * could not open the installed file.  -1 without it: every file of a
 * linked clone is read.
 */
static int
fiemap_open(void)
{
	char self[PATH_MAX], path[PATH_MAX + 32], buf[65536], *slash;
	ssize_t n, len;
	int in, out;

	if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return -1;
	self[len] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return -1;
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/sentinel-fiemap", self);
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warnx("%s: %s: linked clones are read in full, and trees "
		    "listed a directory at a time", path, strerror(errno));
		return -1;
	}
	if ((out = memfd_create("sentinel-fiemap", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	if (n < 0 || fcntl(out, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
	    F_SEAL_SHRINK | F_SEAL_SEAL) == -1) {
		close(out);
		return -1;
	}
	return out;
}

static void
serve(int chan, struct engine *e, int verbose)
{
	static unsigned char buf[SREC_MAX];
	struct pollfd pfd;
	struct srec r;
	char err[256];
	long n;
	int fd, open = 1;

	while (open || nkids > 0) {
		pfd.fd = open ? chan : -1;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) == -1 && errno != EINTR)
			fatal("poll");
		reap();
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((n = srec_recv(chan, buf, &fd)) <= 0) {
			/* sentineld closed it: a newer scanner took over, or
			 * sentineld is stopping.  Running scans finish. */
			open = 0;
			continue;
		}
		memset(&r, 0, sizeof(r));
		if (srec_decode(buf, (size_t)n, &r, err, sizeof(err)) == -1 ||
		    r.type != SR_SPAWN) {
			if (fd != -1)
				close(fd);
			log_warnx("unexpected request from sentineld: %s",
			    err);
			continue;
		}
		spawn(chan, fd, e, verbose);
	}
}

static int
parse_limits(const char *s, struct engine_limits *l)
{
	unsigned long long v[5];

	if (sscanf(s, "%llu,%llu,%llu,%llu,%llu", &v[0], &v[1], &v[2], &v[3],
	    &v[4]) != 5)
		return -1;
	l->max_scan_size = v[0];
	l->max_file_size = v[1];
	l->max_recursion = (unsigned int)v[2];
	l->max_files = (unsigned int)v[3];
	l->max_scan_time_ms = (unsigned int)v[4];
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "tmpdir", required_argument, NULL, 't' },
		{ "database", required_argument, NULL, 'd' },
		{ "yara", required_argument, NULL, 'y' },
		{ "appliance", required_argument, NULL, 'a' },
		{ "limits", required_argument, NULL, 'l' },
		{ "channel", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "probe", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct sandbox_conf sc;
	struct engine_limits limits, *lp = NULL;
	struct srec_ready rd;
	struct srec_buf *b;
	struct engine *e;
	const char *dbdir = "", *yara = "", *appliance = "";
	char *probes[16], err[512];
	size_t nprobes = 0;
	int ch, chan = -1, check = 0, verbose = 0;

	memset(&sc, 0, sizeof(sc));
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': sc.user = optarg; break;
		case 't': sc.tmpdir = optarg; break;
		case 'd': dbdir = optarg; break;
		case 'y': yara = optarg; break;
		case 'a': appliance = optarg; break;
		case 'l':
			if (parse_limits(optarg, &limits) == -1)
				usage();
			lp = &limits;
			break;
		case 'c': chan = atoi(optarg); break;
		case 'k': check = 1; break;
		case 'p':
			if (nprobes == sizeof(probes) / sizeof(probes[0]))
				usage();
			probes[nprobes++] = optarg;
			break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc || sc.user == NULL || sc.tmpdir == NULL ||
	    (chan < 3 && !check))
		usage();
	log_init("sentinel-scanner", 1, verbose);
	signal(SIGPIPE, SIG_IGN);
	sc.ro[sc.nro++] = dbdir;
	sc.ro[sc.nro++] = yara;
	sc.ro[sc.nro++] = appliance;
	fiemap_fd = fiemap_open();
	if (sandbox_enter(&sc, err, sizeof(err)) == -1) {
		if (check)
			fatalx("%s", err);
		send_text(chan, SR_FAILED, err);
		return 1;
	}
	if (check)
		return sandbox_check(probes, nprobes) == 0 ? 0 : 1;
	/* Ends with sentineld, whatever way it ends (set after the change
	 * of user, which clears it). */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 1;

	/* libguestfs: the direct backend, the prepared appliance, and every
	 * temporary file and socket in /tmp, the scanner's own. */
	setenv("TMPDIR", "/tmp", 1);
	setenv("HOME", "/tmp", 1);
	setenv("LIBGUESTFS_CACHEDIR", "/tmp", 1);
	setenv("LIBGUESTFS_BACKEND", "direct", 1);
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("LIBGUESTFS_PATH");
	if (*appliance != '\0')
		setenv("LIBGUESTFS_PATH", appliance, 1);

	if (engine_global_init(err, sizeof(err)) == -1 ||
	    (e = engine_load(dbdir, "/tmp", yara, lp, err, sizeof(err))) ==
	    NULL) {
		send_text(chan, SR_FAILED, err);
		return 1;
	}
	memset(&rd, 0, sizeof(rd));
	snprintf(rd.version, sizeof(rd.version), "%s", engine_version(e));
	snprintf(rd.stamp, sizeof(rd.stamp), "%s", engine_dir_stamp_of(e));
	snprintf(rd.dbdir, sizeof(rd.dbdir), "%s", engine_dbdir(e));
	snprintf(rd.libversion, sizeof(rd.libversion), "%s",
	    engine_lib_version());
	rd.signatures = engine_signatures(e);
	rd.yara_rules = engine_yara_rules(e);
	rd.load_ms = engine_load_ms(e);
	take_sums(e, yara, &rd);
	if ((b = malloc(sizeof(*b))) == NULL)
		fatalx("out of memory");
	srec_start(b, SR_READY);
	srec_put_ready(b, &rd);
	if (srec_send(chan, b, -1) == -1)
		fatal("sending ready");
	free(b);
	serve(chan, e, verbose);
	engine_unref(e);
	return 0;
}
