/*
 * Where files lie: sentinel-fiemap is uploaded into the appliance (from
 * the descriptor the scanner opened before it was confined) and run on the
 * mounted tree, a batch of files per call; its replies are parsed here.
 * The appliance's kernel parsed the guest's filesystem to answer, so the
 * text is read as untrusted: numbers, bounded, or the reply is refused and
 * every file is read.  Being wrong here can only make a clone's file be
 * taken for its base's: the ext is a SHA-256 of what was said, so a file
 * is spared only when the appliance reports for it exactly the extents the
 * base's file had and none of them in the clone's overlay.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <clamav.h>

#include "extents.h"
#include "log.h"

#define FIEMAP_PROGRAM	"/tmp/sentinel-fiemap"
#define MAX_EXTENTS	64		/* as sentinel-fiemap asks */
#define MAX_CALLS	4096		/* replies per tree */

static int
by_ino(const void *a, const void *b, void *arg)
{
	const struct listing *l = arg;
	uint64_t x = l->e[*(const size_t *)a].ino;
	uint64_t y = l->e[*(const size_t *)b].ino;

	return x < y ? -1 : x > y;
}

size_t *
extents_by_ino(const struct listing *l, size_t *n)
{
	size_t i, k = 0, *v;

	if ((v = calloc(l->n + 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < l->n; i++)
		if (S_ISREG(l->e[i].mode))
			v[k++] = i;
	qsort_r(v, k, sizeof(*v), by_ino, (void *)l);
	*n = k;
	return v;
}

/* Whether [start, start+len) of a disk meets a range of M. */
static int
meets(const struct own_map *m, uint64_t start, uint64_t len)
{
	size_t lo = 0, hi = m->n, mid;
	uint64_t end = start + len;

	while (lo < hi) {		/* the first range ending past start */
		mid = lo + (hi - lo) / 2;
		if (m->r[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && m->r[lo].start < end;
}

/* The next unsigned number of *p, which must follow a space (or start
 * the line); -1 if there is none. */
static int
num(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	while (*s == ' ')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*v = x;
	return 0;
}

/* The start of the line at P, for a message: letters, digits, spaces
 * and a few marks; anything else shown as '?'. */
static const char *
shown(const char *p, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && p[i] != '\0' && p[i] != '\n'; i++)
		buf[i] = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' &&
		    p[i] <= '9') || p[i] == ' ' || p[i] == '-' ? p[i] : '?';
	buf[i] = '\0';
	return buf;
}

int
extents_parse(struct extents_run *x, const char *text, struct listing *l,
    const size_t *byino, size_t nbyino, const struct own_map *own,
    size_t ndisks, long *next, char *why, size_t whylen)
{
	unsigned char buf[4 + 8 + MAX_EXTENTS * 25], ext[32];
	char line[48];
	const char *p = text, *eol, *ls = text;
	uint64_t disk, v, ino, size, n, lo, ph, len, un;
	char name[16];
	long idx;
	size_t lineno = 0, k, b, a, z;
	int own_file, more = 0;

	if (strncmp(p, "uncertain ", 10) == 0) {
		eol = strchr(p, '\n');
		snprintf(why, whylen, "%.*s", eol ? (int)(eol - p - 10) : 32,
		    p + 10);
		return -1;
	}
	/* The disk by its name in the appliance, as libguestfs numbers the
	 * drives it was given. */
	p += strncmp(p, "fs ", 3) == 0 ? 3 : 0;
	k = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789");
	if (p == text || k == 0 || k > 15 || p[k] != ' ' ||
	    (memcpy(name, p, k), name[k] = '\0', p += k,
	    num(&p, &v)) == -1 || *p != '\n' ||
	    (idx = x->disk_index(x->arg, name)) < 0 || (size_t)idx >= ndisks) {
		snprintf(why, whylen, "a reply not understood: \"%s\"",
		    shown(text, line, sizeof(line)));
		return -1;
	}
	disk = (uint64_t)idx;
	p++;
	for (;;) {
		lineno++;
		ls = p;
		/* The appliance's reply may have lost its last newline. */
		if (strcmp(p, "end") == 0 || strcmp(p, "end\n") == 0)
			break;
		if ((eol = strchr(p, '\n')) == NULL)
			goto bad;
		if (strncmp(p, "more ", 5) == 0) {
			p += 4;
			if (num(&p, &v) == -1 || p != eol || v > LONG_MAX)
				goto bad;
			*next = (long)v;
			more = 1;
			p = eol + 1;
			continue;
		}
		if (num(&p, &ino) == -1 || num(&p, &size) == -1)
			goto bad;
		x->files++;
		while (*p == ' ')
			p++;
		if (*p == '-') {	/* not certain: read */
			x->uncertain++;
			p = eol + 1;
			continue;
		}
		if (num(&p, &n) == -1 || n > MAX_EXTENTS)
			goto bad;
		b = 0;
		buf[b++] = (unsigned char)disk;
		buf[b++] = 0;
		buf[b++] = 0;
		buf[b++] = 0;
		memcpy(buf + b, &size, 8);
		b += 8;
		own_file = 0;
		for (k = 0; k < n; k++) {
			if (num(&p, &lo) == -1 || num(&p, &ph) == -1 ||
			    num(&p, &len) == -1 || num(&p, &un) == -1 ||
			    un > 1 || len == 0 || ph + len < ph)
				goto bad;
			memcpy(buf + b, &lo, 8);
			memcpy(buf + b + 8, &ph, 8);
			memcpy(buf + b + 16, &len, 8);
			buf[b + 24] = (unsigned char)un;
			b += 25;
			if (own != NULL && meets(&own[disk], ph, len))
				own_file = 1;
		}
		if (p != eol)
			goto bad;
		p = eol + 1;
		if (cl_sha256(buf, b, ext, NULL) == NULL) {
			snprintf(why, whylen, "sha256 failed");
			return -1;
		}
		/* Every name of the inode, if the listing has it. */
		for (a = 0, z = nbyino; a < z;) {
			size_t mid = a + (z - a) / 2;

			if (l->e[byino[mid]].ino < ino)
				a = mid + 1;
			else
				z = mid;
		}
		for (; a < nbyino && l->e[byino[a]].ino == ino; a++) {
			struct lentry *e = &l->e[byino[a]];

			if (e->size != size)
				continue;	/* changed since listed */
			memcpy(e->ext, ext, sizeof(e->ext));
			e->has_ext = 1;
			e->own = (uint8_t)own_file;
		}
		x->placed++;
		x->own += own_file;
	}
	return more;
bad:
	snprintf(why, whylen, "a reply not understood (line %zu: \"%s\")",
	    lineno, shown(ls, line, sizeof(line)));
	return -1;
}

/*
 * Not the kernel's name of the disk ("sda"): the appliance's own disk can
 * take sda first, and a guest's drive then is sdb (SCSI devices are probed
 * at once).  libguestfs gives each drive a qemu id, hd0, hd1, ... in the
 * order it added them; sentinel-fiemap names the drive by it.
 */
long
extents_drive_index(void *arg, const char *name)
{
	size_t k;

	(void)arg;
	if (strncmp(name, "hd", 2) != 0)
		return -1;
	k = strspn(name + 2, "0123456789");
	if (k == 0 || k > 3 || name[2 + k] != '\0' ||
	    (k > 1 && name[2] == '0'))
		return -1;
	return strtol(name + 2, NULL, 10);
}

int
extents_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Uploads the program into the appliance G once. */
static int
upload(struct extents_run *x, guestfs_h *g, int fd, char *why,
    size_t whylen)
{
	char path[32];

	if (x->uploaded == g)
		return 0;
	snprintf(path, sizeof(path), "/dev/fd/%d", fd);
	if (guestfs_debug_upload(g, path, FIEMAP_PROGRAM, 0700) == -1) {
		snprintf(why, whylen, "cannot upload sentinel-fiemap: %s",
		    guestfs_last_error(g) ? guestfs_last_error(g) : "?");
		return -1;
	}
	x->uploaded = g;
	return 0;
}

char *
extents_reply(struct extents_run *x, guestfs_h *g, int fd, const char *mode,
    long skip, const char *arg, char *why, size_t whylen)
{
	char from[24];
	char *argv[] = { FIEMAP_PROGRAM, "/sysroot", from, (char *)mode,
	    (char *)arg, NULL };
	char *out;

	if (fd < 0) {
		snprintf(why, whylen, "sentinel-fiemap is not installed");
		return NULL;
	}
	if (upload(x, g, fd, why, whylen) == -1)
		return NULL;
	snprintf(from, sizeof(from), "%ld", skip);
	if ((out = guestfs_debug(g, "sh", argv)) == NULL)
		snprintf(why, whylen, "sentinel-fiemap: %s",
		    guestfs_last_error(g) ? guestfs_last_error(g) : "?");
	return out;
}

int
extents_learn(struct extents_run *x, guestfs_h *g, int fd,
    struct listing *l, const struct own_map *own, size_t ndisks, char *why,
    size_t whylen)
{
	size_t *byino, nbyino, i;
	char *out;
	long next = 0;
	int rc = -1, r, calls = 0;

	why[0] = '\0';
	for (i = 0; i < l->n; i++)
		l->e[i].has_ext = l->e[i].own = 0;
	if (fd < 0) {
		snprintf(why, whylen, "sentinel-fiemap is not installed");
		return 0;
	}
	x->disk_index = extents_drive_index;
	x->arg = g;
	if ((byino = extents_by_ino(l, &nbyino)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	do {
		if ((out = extents_reply(x, g, fd, NULL, next, NULL, why,
		    whylen)) == NULL)
			goto out;
		r = extents_parse(x, out, l, byino, nbyino, own, ndisks, &next,
		    why, whylen);
		free(out);
		if (r == -1) {
			/* Nothing of a filesystem half placed is used. */
			for (i = 0; i < l->n; i++)
				l->e[i].has_ext = l->e[i].own = 0;
			rc = 0;
			goto out;
		}
	} while (r == 1 && ++calls < MAX_CALLS);
	if (r == 1) {
		for (i = 0; i < l->n; i++)
			l->e[i].has_ext = l->e[i].own = 0;
		snprintf(why, whylen, "more than %d replies", MAX_CALLS);
	}
	rc = 0;
out:
	free(byino);
	return rc;
}
