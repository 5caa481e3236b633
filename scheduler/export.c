/*
 * Disks reach the scanner only as read-only NBD exports: the scanner can
 * open no image file or block device by path.  A backup job's export is
 * libvirt's (view.c); every other disk of a scan (a shut-off guest's image
 * chain, or a running guest read live) is exported here by qemu-nbd,
 * started by sentineld in the scan's worker thread: read-only, its format
 * always given (never probed), on a socket in [scanner] dir that only root
 * and the scanner's group can reach, and stopped after the scan.  A live
 * read shares the image with the guest's qemu (force-share), as the
 * read-only overlay did before.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sentineld.h"
#include "util.h"

#define EXPORT_WAIT_MS	15000	/* for qemu-nbd's socket */
#define EXPORT_STOP_MS	3000	/* then SIGKILL */

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* "driver=FMT,force-share=on,file.driver=...,file.filename=PATH" for
 * --image-opts, commas in the path doubled as qemu wants them. */
static char *
live_opts(const struct scan_disk *d)
{
	struct stat st;
	const char *p, *proto;
	char *o, *q;
	size_t n = 0;

	for (p = d->path; *p != '\0'; p++)
		n += *p == ',' ? 2 : 1;
	proto = stat(d->path, &st) == 0 && S_ISBLK(st.st_mode) ?
	    "host_device" : "file";
	if ((o = malloc(n + strlen(d->format) + 128)) == NULL)
		return NULL;
	q = o + sprintf(o, "driver=%s,read-only=on,force-share=on,"
	    "file.driver=%s,file.filename=", d->format, proto);
	for (p = d->path; *p != '\0'; p++) {
		*q++ = *p;
		if (*p == ',')
			*q++ = ',';
	}
	*q = '\0';
	return o;
}

/* Starts qemu-nbd for disk D; fills X.  -1 with err. */
static int
export_one(const char *dir, const char *uuid, size_t idx,
    const struct scan_disk *d, int live, struct export *x, char *err,
    size_t errlen)
{
	char fmt[64], name[64], sockarg[160], msg[512], *opts = NULL;
	struct stat st;
	uint64_t t0;
	int p[2], st_rc, devnull;
	ssize_t n;
	pid_t pid;

	if ((size_t)snprintf(x->sock, sizeof(x->sock), "%s/%s-%zu.nbd", dir,
	    uuid, idx) >= sizeof(x->sock)) {
		x->sock[0] = '\0';
		snprintf(err, errlen, "[scanner] dir %s is too long for the "
		    "export sockets", dir);
		return -1;
	}
	(void)unlink(x->sock);
	/* A live read shares the image with the guest's qemu, which holds
	 * its write lock: qemu-nbd has no --force-share, the block layer's
	 * option does it (inherited by the backing chain). */
	if (live && (opts = live_opts(d)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(fmt, sizeof(fmt), "--format=%s", d->format);
	snprintf(name, sizeof(name), "--export-name=%s", d->target);
	snprintf(sockarg, sizeof(sockarg), "--socket=%s", x->sock);
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		free(opts);
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		free(opts);
		return -1;
	}
	if (pid == 0) {
		char *argv[16];
		int i = 0;

		/* It ends with the worker thread that started it. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((devnull = open("/dev/null", O_RDWR)) != -1) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		dup2(p[1], 2);
		umask(077);
		argv[i++] = "qemu-nbd";
		argv[i++] = "--read-only";
		if (!live)
			argv[i++] = fmt;
		else
			argv[i++] = "--image-opts";
		argv[i++] = name;
		argv[i++] = sockarg;
		argv[i++] = "--persistent";
		argv[i++] = "--shared=8";
		argv[i++] = live ? opts : d->path;
		argv[i] = NULL;
		execvp("qemu-nbd", argv);
		fprintf(stderr, "cannot run qemu-nbd: %s\n", strerror(errno));
		_exit(127);
	}
	close(p[1]);
	free(opts);
	x->pid = pid;
	t0 = mono_ms();
	for (;;) {
		if (stat(x->sock, &st) == 0 && S_ISSOCK(st.st_mode))
			break;
		if (waitpid(pid, &st_rc, WNOHANG) == pid) {
			x->pid = 0;
			n = read(p[0], msg, sizeof(msg) - 1);
			msg[n > 0 ? n : 0] = '\0';
			msg[strcspn(msg, "\n")] = '\0';
			snprintf(err, errlen, "exporting disk %s (%s): %s",
			    d->target, d->path, msg[0] ? msg :
			    "qemu-nbd exited");
			close(p[0]);
			return -1;
		}
		if (mono_ms() - t0 > EXPORT_WAIT_MS) {
			close(p[0]);
			snprintf(err, errlen, "exporting disk %s: qemu-nbd did "
			    "not listen within %d s", d->target,
			    EXPORT_WAIT_MS / 1000);
			return -1;
		}
		sleep_ms(20);
	}
	close(p[0]);
	/* Root's socket (qemu-nbd's, forked by root), in a directory only
	 * root may write: the scanner's group may connect, nobody else. */
	if (chown(x->sock, (uid_t)-1, scanner_gid()) == -1 ||
	    chmod(x->sock, 0660) == -1) {
		snprintf(err, errlen, "export socket %s: %s", x->sock,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
stop_one(struct export *x)
{
	uint64_t t0;
	int st;

	if (x->pid > 0) {
		kill(x->pid, SIGTERM);
		t0 = mono_ms();
		while (waitpid(x->pid, &st, WNOHANG) == 0) {
			if (mono_ms() - t0 > EXPORT_STOP_MS) {
				kill(x->pid, SIGKILL);
				waitpid(x->pid, &st, 0);
				break;
			}
			sleep_ms(10);
		}
		x->pid = 0;
	}
	if (x->sock[0] != '\0' && unlink(x->sock) == -1 && errno != ENOENT)
		log_warn("export %s", x->sock);
	x->sock[0] = '\0';
}

/*
 * In the worker, after the view is taken: every disk of the scan that is
 * not an NBD export already gets one, and the scan reads the exports.
 * -1 with err if one cannot be had (the scan fails with it).
 */
int
exports_begin(struct job *j, char *err, size_t errlen)
{
	struct scan_disk *xd;
	size_t i, n = j->opts.ndisks;
	int live = j->view.kind == VIEW_LIVE;

	for (i = 0; i < n && j->opts.disks[i].nbd; i++)
		;
	if (i == n)
		return 0;
	if ((j->exports = calloc(n, sizeof(*j->exports))) == NULL ||
	    (xd = calloc(n, sizeof(*xd))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	j->nexports = n;
	j->xdisks = xd;
	for (i = 0; i < n; i++) {
		const struct scan_disk *d = &j->opts.disks[i];

		if (d->nbd) {
			if ((xd[i].path = strdup(d->path)) == NULL)
				goto oom;
		} else {
			if (export_one(j->export_dir, j->uuid, i, d, live,
			    &j->exports[i], err, errlen) == -1)
				return -1;
			if ((xd[i].path = strdup(j->exports[i].sock)) == NULL)
				goto oom;
		}
		/* Through the export the scanner sees the guest's data. */
		if ((xd[i].format = strdup(d->nbd ? d->format : "raw")) ==
		    NULL || (xd[i].target = strdup(d->target)) == NULL)
			goto oom;
		xd[i].nbd = 1;
	}
	j->opts.disks = xd;
	log_debug("scan %s: %zu disk%s exported read-only%s", j->guest, n,
	    n == 1 ? "" : "s", live ? " (shared with the running guest)" : "");
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

void
exports_end(struct job *j)
{
	size_t i;

	for (i = 0; j->exports != NULL && i < j->nexports; i++)
		stop_one(&j->exports[i]);
}

void
exports_free(struct job *j)
{
	exports_end(j);
	free(j->exports);
	disks_free(j->xdisks, j->nexports);
	j->exports = NULL;
	j->xdisks = NULL;
	j->nexports = 0;
}
