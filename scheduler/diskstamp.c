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
#define QEMU_MAP_OUT	(128UL * 1024 * 1024)	/* about a million ranges */

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

/* What qemu-img ARGV (its second word says what, for messages; PATH is
 * the image) writes on its standard output, at most CAP bytes,
 * malloc'd, or NULL (why said). */
static char *
qemu_img(char *const argv[], size_t cap, const char *path, char *why,
    size_t whylen)
{
	const char *what = argv[1];
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
	if ((out = malloc(cap + 1)) == NULL ||
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
			snprintf(why, whylen, "qemu-img %s on %s took over "
			    "%d s", what, path, QEMU_IMG_MS / 1000);
			kill(pid, SIGKILL);
			len = (size_t)-1;
			break;
		}
		n = read(fds[0], out + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			snprintf(why, whylen, "qemu-img %s on %s: report too "
			    "long", what, path);
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
		snprintf(why, whylen, "qemu-img %s on %s failed", what, path);
		free(out);
		return NULL;
	}
	out[len] = '\0';
	return out;
}

/* qemu-img's JSON report of the backing chain of PATH (format FMT). */
static char *
qemu_img_info(const char *path, const char *fmt, char *why, size_t whylen)
{
	char *argv[] = { "qemu-img", "info", "-U", "--backing-chain",
	    "--output=json", "-f", (char *)fmt, (char *)path, NULL };

	return qemu_img(argv, QEMU_IMG_OUT, path, why, whylen);
}

/* Appends the stamp of every file of DISK's chain to *s, and of every
 * file but the top to *b (the stamp its base would have) unless B is NULL;
 * *b is set to NULL when the disk has no backing image. */
static int
add_chain(char **s, size_t *len, char **b, size_t *blen,
    const struct scan_disk *d, char *why, size_t whylen)
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
	if (json_array_size(chain) == 1 && b != NULL && *b != NULL) {
		free(*b);	/* no backing image: not a clone */
		*b = NULL;
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
		if (b != NULL && *b != NULL && add_file(b, blen, file, why,
		    whylen) == -1)
			goto out;
	}
	rc = 0;
out:
	json_decref(chain);
	return rc;
}

/* Appends C to *s (a stamp being made), unless *s is NULL. */
static int
add_char(char **s, size_t *len, char c)
{
	char *n;

	if (*s == NULL)
		return 0;
	if ((n = realloc(*s, *len + 2)) == NULL)
		return -1;
	n[(*len)++] = c;
	n[*len] = '\0';
	*s = n;
	return 0;
}

/*
 * The stamp of the N disks D and of SETTINGS, malloc'd; NULL, with why,
 * when there can be none.  With BASE, *base is the stamp the same disks'
 * backing images would have as a guest's own disks (a linked clone's
 * base), or NULL when some disk has no backing image.
 */
char *
disk_stamp(const struct scan_disk *d, size_t n, const char *settings,
    char **base, char *why, size_t whylen)
{
	char *s = NULL, *ns;
	size_t len = 0, blen = 0, i, k;

	if (base != NULL && (*base = strdup("")) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		if (add_chain(&s, &len, base, &blen, &d[i], why, whylen) ==
		    -1)
			goto fail;
		if (add_char(&s, &len, '|') == -1 || (base != NULL &&
		    add_char(base, &blen, '|') == -1))
			goto oom;
	}
	k = strlen(settings);
	if ((ns = realloc(s, len + k + 1)) == NULL)
		goto oom;
	s = ns;
	memcpy(s + len, settings, k + 1);
	if (base != NULL && *base != NULL) {
		if ((ns = realloc(*base, blen + k + 1)) == NULL)
			goto oom;
		*base = ns;
		memcpy(*base + blen, settings, k + 1);
	}
	return s;
oom:
	snprintf(why, whylen, "out of memory");
fail:
	free(s);
	if (base != NULL) {
		free(*base);
		*base = NULL;
	}
	return NULL;
}

/*
 * The ranges of disk D that its top image holds itself (qemu-img map:
 * depth 0), in order, merged, into M; -1 (why said) when they cannot be
 * had or are more than OWN_MAX_RANGES.  A range that image holds as
 * zeroes counts as its own: it hides what the backing image has.
 */
int
disk_own_ranges(const struct scan_disk *d, struct own_map *m, char *why,
    size_t whylen)
{
	char *argv[] = { "qemu-img", "map", "-U", "--output=json", "-f",
	    d->format, d->path, NULL };
	json_t *map, *e;
	json_int_t start, length, depth;
	struct own_range *r;
	size_t i, cap = 0;
	char *out;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if ((out = qemu_img(argv, QEMU_MAP_OUT, d->path, why, whylen)) ==
	    NULL)
		return -1;
	map = json_loads(out, 0, NULL);
	free(out);
	if (!json_is_array(map)) {
		snprintf(why, whylen, "qemu-img map on %s: not a list",
		    d->path);
		goto out;
	}
	json_array_foreach(map, i, e) {
		start = json_integer_value(json_object_get(e, "start"));
		length = json_integer_value(json_object_get(e, "length"));
		depth = json_integer_value(json_object_get(e, "depth"));
		if (!json_is_integer(json_object_get(e, "depth")) ||
		    start < 0 || length <= 0 || start + length < start ||
		    (m->n > 0 && (uint64_t)start < m->r[m->n - 1].end)) {
			snprintf(why, whylen, "qemu-img map on %s: a range "
			    "not understood", d->path);
			goto out;
		}
		if (depth != 0)
			continue;
		if (m->n > 0 && m->r[m->n - 1].end == (uint64_t)start) {
			m->r[m->n - 1].end += (uint64_t)length;
			continue;
		}
		if (m->n == OWN_MAX_RANGES) {
			snprintf(why, whylen, "%s holds more than %u ranges of "
			    "its own", d->path, OWN_MAX_RANGES);
			goto out;
		}
		if (m->n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((r = realloc(m->r, cap * sizeof(*r))) == NULL) {
				snprintf(why, whylen, "out of memory");
				goto out;
			}
			m->r = r;
		}
		m->r[m->n].start = (uint64_t)start;
		m->r[m->n].end = (uint64_t)(start + length);
		m->n++;
	}
	rc = 0;
out:
	json_decref(map);
	if (rc == -1) {
		free(m->r);
		memset(m, 0, sizeof(*m));
	}
	return rc;
}
