/*
 * The stamp of a shut-off guest's images, as the host sees them: for every
 * file of every disk's backing chain, its device, inode, size, and
 * modification and change times (to the nanosecond), then the settings
 * that shape a result.  Two equal stamps mean nothing the guest could
 * read has changed: a write to an image moves its times, and its change
 * time is the host kernel's to set (a guest, or anything it controls,
 * cannot set it back).  A stamp is only made where that holds: every file
 * of every chain a regular file on the host.  A block device (LVM, iSCSI)
 * keeps its times while written, and a network disk has no file: for
 * those there is no stamp, and the guest is read each time.
 *
 * The chain is what qemu-img reports (the format given, never probed;
 * shared, no lock taken), run in the scan's worker thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "sentineld.h"
#include "util.h"

#define CHAIN_MAX	16		/* images in one backing chain */
#define QEMU_IMG_MS	10000		/* a stuck NFS mount, say */
#define QEMU_IMG_OUT	(256 * 1024)

/* Appends what stat says of PATH to *s; -1 (why said) unless it is a
 * regular file. */
static int
add_file(char **s, size_t *len, const char *path, char *why, size_t whylen)
{
	struct stat st;
	char buf[160], *n;
	int k;

	if (stat(path, &st) == -1) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file (its times do "
		    "not follow writes)", path);
		return -1;
	}
	k = snprintf(buf, sizeof(buf), "%llu:%llu:%lld:%lld.%09ld:%lld.%09ld;",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
	    (long long)st.st_size, (long long)st.st_mtim.tv_sec,
	    st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
	    st.st_ctim.tv_nsec);
	if ((n = realloc(*s, *len + (size_t)k + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	memcpy(n + *len, buf, (size_t)k + 1);
	*s = n;
	*len += (size_t)k;
	return 0;
}

/* qemu-img's JSON report of the backing chain of PATH (format FMT): its
 * standard output, malloc'd, or NULL (why said). */
static char *
qemu_img_info(const char *path, const char *fmt, char *why, size_t whylen)
{
	char *argv[] = { "qemu-img", "info", "-U", "--backing-chain",
	    "--output=json", "-f", (char *)fmt, (char *)path, NULL };
	struct pollfd pfd;
	char *out = NULL;
	size_t len = 0;
	uint64_t t0 = mono_ms();
	ssize_t n;
	pid_t pid;
	int fds[2], st, left, devnull;

	if (pipe2(fds, O_CLOEXEC) == -1) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return NULL;
	}
	if ((out = malloc(QEMU_IMG_OUT + 1)) == NULL ||
	    (pid = fork()) == -1) {
		snprintf(why, whylen, "cannot run qemu-img: %s",
		    out ? strerror(errno) : "out of memory");
		free(out);
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		if ((devnull = open("/dev/null", O_RDWR)) != -1) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	for (;;) {
		left = (int)(QEMU_IMG_MS - (int64_t)(mono_ms() - t0));
		if (left <= 0 || poll(&pfd, 1, left) == 0) {
			snprintf(why, whylen, "qemu-img info on %s took over "
			    "%d s", path, QEMU_IMG_MS / 1000);
			kill(pid, SIGKILL);
			len = (size_t)-1;
			break;
		}
		n = read(fds[0], out + len, QEMU_IMG_OUT - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == QEMU_IMG_OUT) {
			snprintf(why, whylen, "qemu-img info on %s: report too "
			    "long", path);
			kill(pid, SIGKILL);
			len = (size_t)-1;
			break;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (len == (size_t)-1) {
		free(out);
		return NULL;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(why, whylen, "qemu-img info on %s failed", path);
		free(out);
		return NULL;
	}
	out[len] = '\0';
	return out;
}

/* Appends the stamp of every file of DISK's chain to *s. */
static int
add_chain(char **s, size_t *len, const struct scan_disk *d, char *why,
    size_t whylen)
{
	json_t *chain, *img;
	const char *file;
	char *out;
	size_t i;
	int rc = -1;

	if (d->nbd) {
		snprintf(why, whylen, "%s is a network disk", d->target);
		return -1;
	}
	/* The top first: a block device ends it before qemu-img runs. */
	if (add_file(s, len, d->path, why, whylen) == -1)
		return -1;
	if ((out = qemu_img_info(d->path, d->format, why, whylen)) == NULL)
		return -1;
	chain = json_loads(out, 0, NULL);
	free(out);
	if (!json_is_array(chain) || json_array_size(chain) == 0 ||
	    json_array_size(chain) > CHAIN_MAX) {
		snprintf(why, whylen, "qemu-img info on %s: no chain of at most "
		    "%d images", d->path, CHAIN_MAX);
		goto out;
	}
	/* The first is the top, stamped already. */
	for (i = 1; i < json_array_size(chain); i++) {
		img = json_array_get(chain, i);
		file = json_string_value(json_object_get(img, "filename"));
		if (file == NULL || file[0] != '/') {
			snprintf(why, whylen, "%s: a backing image that is not "
			    "a file path", d->path);
			goto out;
		}
		if (add_file(s, len, file, why, whylen) == -1)
			goto out;
	}
	rc = 0;
out:
	json_decref(chain);
	return rc;
}

/*
 * The stamp of the N disks D and of SETTINGS, malloc'd; NULL, with why,
 * when there can be none.
 */
char *
disk_stamp(const struct scan_disk *d, size_t n, const char *settings,
    char *why, size_t whylen)
{
	char *s = NULL, *ns;
	size_t len = 0, i, k;

	for (i = 0; i < n; i++) {
		if (add_chain(&s, &len, &d[i], why, whylen) == -1) {
			free(s);
			return NULL;
		}
		if ((ns = realloc(s, len + 2)) == NULL)
			goto oom;
		s = ns;
		s[len++] = '|';
		s[len] = '\0';
	}
	k = strlen(settings);
	if ((ns = realloc(s, len + k + 1)) == NULL)
		goto oom;
	s = ns;
	memcpy(s + len, settings, k + 1);
	return s;
oom:
	free(s);
	snprintf(why, whylen, "out of memory");
	return NULL;
}
