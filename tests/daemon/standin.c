/*
 * A stand-in for sentinel-scanner, for the tests of sentineld's own logic
 * (control, jobs, schedule) without appliances, libclamav or root.
 * sentineld runs it in the scanner's place when SENTINEL_SCANNER names
 * it.  It speaks the scanner's protocol (srec.h) as the real one does: an
 * SR_READY, then for each SR_SPAWN a child in a process group of its own
 * that reads the SR_SCAN, answers with records, and whose end comes to
 * sentineld as SR_EXITED.  It opens no disk.
 *
 * What a scan of guest G does is read from $STANDIN_DIR/G, one command a
 * line (none: clean, three files, at once):
 *
 *	progress N		N files more, a progress record each
 *	fs NAME			the filesystem progress names from here on
 *	launch SECONDS		the appliance launch time the result says
 *	sleep SECONDS		waits (fractions allowed); a cancel (SIGUSR1,
 *				or SIGUSR2: cut short) ends the scan
 *				incomplete "cancelled"
 *	detect PATH SIGNATURE	a detection
 *	fail REASON		the scan failed
 *	crash			dies of SIGSEGV
 *	hang			ignores cancels from here on
 *	garbage			sends a record that is not one
 *
 * Each scan appends "GUEST PID" to $STANDIN_DIR/scans.log as it starts,
 * and "GUEST PID cut" when it was cut short (SIGUSR2).
 * SR_READY carries the signature directory's stamp, and as the signature
 * version "standin-" and that stamp: new signatures are a new version, as
 * a reload, SelfCheck and what is keyed by version expect.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scan.h"
#include "srec.h"
#include "stamp.h"

#define MAX_KIDS	256

static struct {
	pid_t	 pid;
	int	 fd;
} kids[MAX_KIDS];
static size_t nkids;
static volatile sig_atomic_t cancelled, deaf;
static uint64_t done;			/* files, as progress said */
static char fs[SREC_FS_MAX] = "/dev/sda";

#ifdef __SANITIZE_ADDRESS__
/* "crash" dies of SIGSEGV as in production, as sentinel-scanner's
 * children do in a sanitizer build. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "handle_segv=0";
}
#endif

static void
on_usr1(int sig)
{
	if (!deaf)
		cancelled = sig == SIGUSR2 ? 2 : 1;
}

static void
send_or_die(int fd, const struct srec_buf *b)
{
	if (srec_send(fd, b, -1) == -1)
		_exit(3);
}

static void
progress(int fd)
{
	struct srec_buf b;

	srec_start(&b, SR_PROGRESS);
	srec_u64(&b, done);
	srec_u64(&b, done * 4096);
	srec_u64(&b, 1 << 20);
	srec_str(&b, fs);
	send_or_die(fd, &b);
}

/* Sleeps S seconds in steps, with progress; 1 if a cancel came. */
static int
nap(int fd, double s)
{
	struct timespec step = { 0, 100 * 1000000L };
	int i, n = (int)(s * 10 + 0.5);

	for (i = 0; i < n; i++) {
		if (cancelled)
			return 1;
		nanosleep(&step, NULL);
		if (i % 5 == 0)
			progress(fd);
	}
	return cancelled != 0;
}

static int
child(int fd)
{
	static unsigned char buf[SREC_MAX];
	static struct srec_scan s;
	static struct srec_result res;
	struct srec_buf b;
	struct sigaction sa;
	struct srec r;
	char path[4096], line[1024], a[512], c[512], err[256];
	const char *dir = getenv("STANDIN_DIR");
	uint64_t files = 3;
	double secs;
	FILE *f;
	long n;
	unsigned long long v;

	(void)setpgid(0, 0);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	if ((n = srec_recv(fd, buf, NULL)) <= 0)
		return 2;
	memset(&r, 0, sizeof(r));
	r.scan = &s;
	if (srec_decode(buf, (size_t)n, &r, err, sizeof(err)) == -1 ||
	    r.type != SR_SCAN) {
		fprintf(stderr, "standin: not a scan request: %s\n", err);
		return 2;
	}
	if (dir != NULL) {
		snprintf(path, sizeof(path), "%s/scans.log", dir);
		if ((f = fopen(path, "a")) != NULL) {
			fprintf(f, "%s %d\n", s.guest, (int)getpid());
			fclose(f);
		}
	}
	memset(&res, 0, sizeof(res));
	res.status = SCAN_CLEAN;
	res.fs_scanned = 1;
	snprintf(res.os, sizeof(res.os), "linux");
	f = NULL;
	if (dir != NULL && strchr(s.guest, '/') == NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, s.guest);
		f = fopen(path, "r");
	}
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		a[0] = c[0] = '\0';
		if (sscanf(line, "progress %llu", &v) == 1) {
			for (; v > 0 && !cancelled; v--) {
				done++;
				progress(fd);
			}
		} else if (sscanf(line, "launch %lf", &secs) == 1) {
			res.launch_ms = (uint64_t)(secs * 1000);
		} else if (sscanf(line, "fs %127s", a) == 1) {
			snprintf(fs, sizeof(fs), "%s", a);
		} else if (sscanf(line, "sleep %lf", &secs) == 1) {
			if (nap(fd, secs))
				break;
		} else if (sscanf(line, "detect %511s %511s", a, c) == 2) {
			srec_start(&b, SR_DETECTION);
			srec_str(&b, fs);
			srec_u8(&b, SREC_DET_GUEST_PATH);
			srec_u8(&b, 0);
			srec_bytes(&b, a, strlen(a));
			srec_str(&b, c);
			srec_u8(&b, 0);
			srec_u64(&b, 68);
			send_or_die(fd, &b);
			res.ndetections++;
			res.status = SCAN_INFECTED;
		} else if (sscanf(line, "fail %511[^\n]", a) == 1) {
			res.status = SCAN_FAILED;
			snprintf(res.reason, sizeof(res.reason), "%s", a);
		} else if (strncmp(line, "crash", 5) == 0) {
			raise(SIGSEGV);
		} else if (strncmp(line, "hang", 4) == 0) {
			deaf = 1;
		} else if (strncmp(line, "garbage", 7) == 0) {
			srec_start(&b, SR_NTYPES + 7);
			send_or_die(fd, &b);
		}
	}
	if (f != NULL)
		fclose(f);
	if (cancelled == 2 && dir != NULL) {
		snprintf(path, sizeof(path), "%s/scans.log", dir);
		if ((f = fopen(path, "a")) != NULL) {
			fprintf(f, "%s %d cut\n", s.guest, (int)getpid());
			fclose(f);
		}
	}
	/* As the scan library says it. */
	if (cancelled && res.status == SCAN_INFECTED)
		snprintf(res.reason, sizeof(res.reason),
		    "cancelled before the end");
	if (cancelled && res.status != SCAN_INFECTED) {
		res.status = SCAN_INCOMPLETE;
		snprintf(res.reason, sizeof(res.reason), "cancelled");
	}
	if (files < done)
		files = done;
	done = files;
	res.files = files;
	res.bytes_read = files * 4096;
	res.bytes_scanned = files * 4096;
	progress(fd);
	srec_start(&b, SR_RESULT);
	srec_put_result(&b, &res);
	send_or_die(fd, &b);
	return 0;
}

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
			continue;
		srec_start(&b, SR_EXITED);
		srec_u32(&b, (uint32_t)st);
		(void)srec_send(kids[i].fd, &b, -1);
		close(kids[i].fd);
		kids[i] = kids[--nkids];
	}
}

static void
spawned(int chan, pid_t pid, const char *why)
{
	struct srec_buf b;

	srec_start(&b, SR_SPAWNED);
	srec_u32(&b, (uint32_t)pid);
	srec_str(&b, why);
	(void)srec_send(chan, &b, -1);
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
		{ NULL, 0, NULL, 0 }
	};
	static unsigned char buf[SREC_MAX];
	static struct srec_ready rd;
	static struct srec_buf rb;
	const char *dbdir = "", *yara = "";
	struct pollfd pfd;
	struct srec r;
	char err[256];
	size_t i;
	long n;
	pid_t pid;
	int ch, chan = -1, fd, open = 1;

	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1)
		switch (ch) {
		case 'd': dbdir = optarg; break;
		case 'y': yara = optarg; break;
		case 'c': chan = atoi(optarg); break;
		case '?': return 2;
		default: break;
		}
	if (chan < 3) {
		fprintf(stderr, "usage: standin --channel FD [the scanner's "
		    "options]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	sig_dir_stamp(dbdir, yara, rd.stamp, sizeof(rd.stamp));
	snprintf(rd.version, sizeof(rd.version), "standin-%.50s", rd.stamp);
	snprintf(rd.dbdir, sizeof(rd.dbdir), "%s", dbdir);
	snprintf(rd.libversion, sizeof(rd.libversion), "0.0.0-standin");
	rd.signatures = 1;
	srec_start(&rb, SR_READY);
	srec_put_ready(&rb, &rd);
	if (srec_send(chan, &rb, -1) == -1)
		return 1;
	/* As the scanner: serve until sentineld closes the channel, then
	 * until the last child has ended. */
	while (open || nkids > 0) {
		pfd.fd = open ? chan : -1;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) == -1 && errno != EINTR)
			return 1;
		reap();
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((n = srec_recv(chan, buf, &fd)) <= 0) {
			open = 0;
			continue;
		}
		memset(&r, 0, sizeof(r));
		if (srec_decode(buf, (size_t)n, &r, err, sizeof(err)) == -1 ||
		    r.type != SR_SPAWN || fd == -1) {
			if (fd != -1)
				close(fd);
			spawned(chan, 0, "not a spawn request");
			continue;
		}
		if (nkids == MAX_KIDS || (pid = fork()) == -1) {
			close(fd);
			spawned(chan, 0, "cannot fork");
			continue;
		}
		if (pid == 0) {
			close(chan);
			for (i = 0; i < nkids; i++)
				close(kids[i].fd);
			_exit(child(fd));
		}
		(void)setpgid(pid, pid);
		kids[nkids].pid = pid;
		kids[nkids].fd = fd;
		nkids++;
		spawned(chan, pid, "");
	}
	return 0;
}
