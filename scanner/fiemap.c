/*
 * sentinel-fiemap: runs inside the libguestfs appliance, never on the
 * host.  The scanner uploads it there (statically linked: the appliance
 * has its own libraries) and runs it on one mounted filesystem to learn
 * where each regular file's bytes lie on the guest's disks, so that a
 * linked clone's file whose blocks are all its base's, untouched by the
 * clone's overlay, need not be read.
 *
 *	sentinel-fiemap ROOT SKIP
 *	sentinel-fiemap ROOT SKIP streams
 *	sentinel-fiemap ROOT FROM list MAX
 *
 * Output, text, one line each:
 *	fs DRIVE OFFSET			the filesystem's device is the
 *					drive libguestfs added as DRIVE
 *					(hd0, hd1: qemu's ids, not the
 *					kernel's sdX, which the appliance's
 *					own disk can take first) from byte
 *					OFFSET
 *	uncertain WORD			or: no file's place can be trusted
 *	INO SIZE N [LOGICAL PHYSICAL LENGTH UNWRITTEN]...
 *					a file; N -1: its place is not
 *					certain (inline, encoded, too many
 *					extents); PHYSICAL is on the disk
 *	more NEXT			output full: run again with SKIP NEXT
 *	end
 *
 * With "streams", on an NTFS filesystem that ntfs-3g mounts with
 * streams_interface=windows, it lists instead the named data streams
 * ("alternate data streams") of every file and directory, which no
 * directory listing shows:
 *	s INO SIZE NAME			a stream, NAME in hex (any byte
 *					but NUL and '/'); SIZE -1: it could
 *					not be stat'ed
 *	more NEXT, end			as above
 *
 * With "list", it lists every name under ROOT (not ROOT itself; nothing
 * on another filesystem), a directory before what it holds, with what
 * lstat says of it, in one walk: what find0 and one lstatnslist call
 * per directory would give, without a round trip per directory.  FROM 0
 * walks the tree into $TMPDIR/sentinel-list (/tmp), at most MAX bytes,
 * and replies with its start; FROM N replies with the rest from byte N
 * of that file.  The file's lines:
 *	f MODE DEV INO SIZE NLINK MTIME MTIME_NS CTIME CTIME_NS PATH
 *	u PATH				lstat failed
 *	t MODE ... PATH			as f, of a name too long to be
 *					named (PATH_MAX), not entered;
 *					all 0 if lstat failed
 *	done				the whole tree is above
 *	over				MAX reached: the walk stopped
 * PATH is "/a/b" under ROOT, each byte below '!', above '~' and '%'
 * written as %XX (hex).  Each reply ends with "more NEXT" (the next
 * FROM) or "end"; "uncertain WORD" when ROOT cannot be walked, or a
 * directory that could be named could not be read.
 *
 * The filesystem's device must not have been written since the appliance
 * started: a journal or log replayed at mount (ro mounts replay into the
 * appliance's overlay) would put bytes where the guest's images do not
 * have them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/fiemap.h>
#include <linux/fs.h>

#define MAX_EXTENTS	64
#define MAX_OUTPUT	(1536 * 1024)	/* of the 4 MB a reply may carry */
#define EXT_MAGIC	0xEF53
#define XFS_MAGIC	0x58465342

#define UNCERTAIN_FLAGS	(FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | \
	FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED | \
	FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE | \
	FIEMAP_EXTENT_DATA_TAIL)

static uint64_t	 part_start;	/* bytes */
static dev_t	 fs_dev;
static long	 skip, seen;
static size_t	 out;
static int	 full;

static int
read_sys(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/*
 * The drive whose kernel name is KNAME, as libguestfs added it: "hdN"
 * from qemu's device id, which udev links as
 * /dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_hdN.  0, or -1 if none is.
 */
static int
drive_id(const char *kname, char *id, size_t len)
{
	static const char pfx[] = "scsi-0QEMU_QEMU_HARDDISK_hd";
	char path[300], link[PATH_MAX];
	const char *num, *b;
	struct dirent *de;
	ssize_t n;
	DIR *d;
	int rc = -1;

	if ((d = opendir("/dev/disk/by-id")) == NULL)
		return -1;
	while (rc == -1 && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, pfx, sizeof(pfx) - 1) != 0)
			continue;
		num = de->d_name + sizeof(pfx) - 1;
		if (*num == '\0' || strlen(num) > 3 ||
		    strspn(num, "0123456789") != strlen(num))
			continue;	/* hd0-part1, ... */
		snprintf(path, sizeof(path), "/dev/disk/by-id/%s", de->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		b = strrchr(link, '/');
		b = b ? b + 1 : link;
		if (strcmp(b, kname) == 0) {
			snprintf(id, len, "hd%s", num);
			rc = 0;
		}
	}
	closedir(d);
	return rc;
}

/* The drive (as drive_id names it, into DISK) and offset of the device
 * DEV: 0, or -1 with *why. */
static int
place(dev_t dev, char *disk, uint64_t *start, const char **why)
{
	char sys[128], buf[512], real[PATH_MAX], *base;
	unsigned long long w, v[5];
	size_t n;

	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(dev),
	    minor(dev));
	snprintf(buf, sizeof(buf), "%s/dm", sys);
	if (access(buf, F_OK) == 0) {
		*why = "device-mapper";
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s/stat", sys);
	if (read_sys(buf, buf, sizeof(buf)) == -1 ||
	    sscanf(buf, "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	    &v[3], &w) != 5) {
		*why = "no-stat";
		return -1;
	}
	if (w != 0) {
		*why = "written";	/* a journal replayed, say */
		return -1;
	}
	*start = 0;
	snprintf(buf, sizeof(buf), "%s/partition", sys);
	if (access(buf, F_OK) == 0) {
		snprintf(buf, sizeof(buf), "%s/start", sys);
		if (read_sys(buf, buf, sizeof(buf)) == -1) {
			*why = "no-start";
			return -1;
		}
		*start = strtoull(buf, NULL, 10) * 512;
		snprintf(buf, sizeof(buf), "%s/..", sys);
	} else
		snprintf(buf, sizeof(buf), "%s", sys);
	if (realpath(buf, real) == NULL) {
		*why = "no-sysfs";
		return -1;
	}
	base = strrchr(real, '/');
	base = base ? base + 1 : real;
	n = strlen(base);
	if (n == 0 || n > 15 || strspn(base, "abcdefghijklmnopqrstuvwxyz"
	    "0123456789") != n) {
		*why = "not-a-disk";
		return -1;
	}
	if (drive_id(base, disk, 16) == -1) {
		*why = "no-drive-id";
		return -1;
	}
	return 0;
}

static char	 slist[65536];	/* one file's stream names */

/* The named streams of PATH, from ntfs-3g's ntfs.streams.list. */
static int
visit_streams(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	char spath[PATH_MAX + 256];
	struct stat sst;
	ssize_t n, i, j;
	size_t k, nl;

	(void)ftw;
	if ((flag != FTW_F && flag != FTW_D) || st->st_dev != fs_dev ||
	    (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)))
		return 0;
	if (seen++ < skip)
		return 0;
	if (out >= MAX_OUTPUT) {
		full = 1;
		return 1;
	}
	if ((n = lgetxattr(path, "ntfs.streams.list", slist,
	    sizeof(slist))) <= 0)
		return 0;
	for (i = 0; i < n; i = j + 1) {
		for (j = i; j < n && slist[j] != '\0'; j++)
			;
		nl = (size_t)(j - i);
		if (nl == 0 || nl > 255 || memchr(slist + i, '/', nl) != NULL)
			continue;
		snprintf(spath, sizeof(spath), "%s:%.*s", path, (int)nl,
		    slist + i);
		out += (size_t)printf("s %" PRIu64 " %lld ",
		    (uint64_t)st->st_ino, lstat(spath, &sst) == 0 &&
		    S_ISREG(sst.st_mode) ? (long long)sst.st_size : -1LL);
		for (k = 0; k < nl; k++)
			out += (size_t)printf("%02x",
			    (unsigned char)slist[i + (ssize_t)k]);
		out += (size_t)printf("\n");
	}
	return 0;
}

static int
visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	union {
		struct fiemap	fm;
		char		buf[sizeof(struct fiemap) +
				    MAX_EXTENTS * sizeof(struct fiemap_extent)];
	} u;
	struct fiemap_extent *e;
	uint32_t i;
	int fd, ok;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode) || st->st_dev != fs_dev)
		return 0;
	if (seen++ < skip)
		return 0;
	if (out >= MAX_OUTPUT) {
		full = 1;
		return 1;
	}
	ok = 0;
	memset(&u, 0, sizeof(u));
	u.fm.fm_start = 0;
	u.fm.fm_length = FIEMAP_MAX_OFFSET;
	u.fm.fm_extent_count = MAX_EXTENTS;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC)) != -1) {
		struct stat fst;

		if (fstat(fd, &fst) == 0 && fst.st_ino == st->st_ino &&
		    ioctl(fd, FS_IOC_FIEMAP, &u.fm) == 0) {
			ok = 1;
			/* All of it mapped: none, or the last says so. */
			if (u.fm.fm_mapped_extents > 0 &&
			    !(u.fm.fm_extents[u.fm.fm_mapped_extents - 1].
			    fe_flags & FIEMAP_EXTENT_LAST))
				ok = 0;
			for (i = 0; ok && i < u.fm.fm_mapped_extents; i++)
				if (u.fm.fm_extents[i].fe_flags &
				    UNCERTAIN_FLAGS)
					ok = 0;
		}
		close(fd);
	}
	if (!ok) {
		out += (size_t)printf("%" PRIu64 " %" PRIu64 " -1\n",
		    (uint64_t)st->st_ino, (uint64_t)st->st_size);
		return 0;
	}
	out += (size_t)printf("%" PRIu64 " %" PRIu64 " %u",
	    (uint64_t)st->st_ino, (uint64_t)st->st_size,
	    u.fm.fm_mapped_extents);
	for (i = 0; i < u.fm.fm_mapped_extents; i++) {
		e = &u.fm.fm_extents[i];
		out += (size_t)printf(" %llu %llu %llu %d",
		    (unsigned long long)e->fe_logical,
		    (unsigned long long)(e->fe_physical + part_start),
		    (unsigned long long)e->fe_length,
		    (e->fe_flags & FIEMAP_EXTENT_UNWRITTEN) != 0);
	}
	out += (size_t)printf("\n");
	return 0;
}

static FILE	*list_out;	/* list: the file walked into */
static size_t	 root_len;
static uint64_t	 list_max;
static const char *list_stop;	/* why the walk stopped early */

/* One name of the tree into list_out; the walk stops once list_max is
 * reached, or at a directory that could be named but not read. */
static int
visit_list(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t len;
	long pos;
	int deep = 0;

	if (ftw->level == 0)
		return FTW_CONTINUE;
	p = (const unsigned char *)path + root_len;
	len = strlen((const char *)p);
	if (flag == FTW_DNR && root_len + len <= PATH_MAX - 1) {
		list_stop = "unreadable-dir";	/* not a listing to trust */
		return FTW_STOP;
	}
	if (flag == FTW_DNR || len > PATH_MAX - 1)
		deep = 1;		/* too long to be named */
	if (flag == FTW_NS)
		fputs(deep ? "t 0 0 0 0 0 0 0 0 0 " : "u ", list_out);
	else
		fprintf(list_out, "%c %u %" PRIu64 " %" PRIu64 " %lld %" PRIu64
		    " %lld %ld %lld %ld ", deep ? 't' : 'f',
		    (unsigned)st->st_mode,
		    (uint64_t)st->st_dev, (uint64_t)st->st_ino,
		    (long long)st->st_size, (uint64_t)st->st_nlink,
		    (long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec,
		    (long long)st->st_ctim.tv_sec, (long)st->st_ctim.tv_nsec);
	for (; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~' || *p == '%') {
			putc('%', list_out);
			putc(hex[*p >> 4], list_out);
			putc(hex[*p & 15], list_out);
		} else
			putc(*p, list_out);
	putc('\n', list_out);
	if ((pos = ftell(list_out)) == -1 || (uint64_t)pos > list_max) {
		list_stop = "over";
		return FTW_STOP;
	}
	/* Nothing under a name too long: glibc's walk could go on. */
	return deep && flag == FTW_D ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
}

/* Replies with the listing file from byte FROM: whole lines, at most
 * MAX_OUTPUT bytes of them. */
static int
list_reply(const char *file, long from)
{
	static char buf[MAX_OUTPUT + 1];
	size_t n, cut;
	FILE *f;

	if ((f = fopen(file, "re")) == NULL || fseek(f, from, SEEK_SET) == -1) {
		printf("uncertain no-list\nend\n");
		return 0;
	}
	n = fread(buf, 1, MAX_OUTPUT, f);
	fclose(f);
	if (n == MAX_OUTPUT) {
		for (cut = n; cut > 0 && buf[cut - 1] != '\n'; cut--)
			;
		if (cut == 0) {
			printf("uncertain long-line\nend\n");
			return 0;
		}
		fwrite(buf, 1, cut, stdout);
		printf("more %ld\n", from + (long)cut);
	} else {
		fwrite(buf, 1, n, stdout);
		printf("end\n");
	}
	return 0;
}

/* list: walks ROOT into the listing file (FROM 0), then replies. */
static int
list(const char *root, long from, const char *max)
{
	char file[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	struct stat st;
	int rc;

	snprintf(file, sizeof(file), "%s/sentinel-list",
	    tmp != NULL && *tmp == '/' ? tmp : "/tmp");
	if (from > 0)
		return list_reply(file, from);
	list_max = strtoull(max, NULL, 10);
	if (stat(root, &st) == -1 || !S_ISDIR(st.st_mode)) {
		printf("uncertain no-root\nend\n");
		return 0;
	}
	root_len = strcmp(root, "/") == 0 ? 0 : strlen(root);
	if ((list_out = fopen(file, "we")) == NULL) {
		printf("uncertain no-file\nend\n");
		return 0;
	}
	rc = nftw(root, visit_list, 64, FTW_PHYS | FTW_MOUNT |
	    FTW_ACTIONRETVAL);
	if (rc == 0)
		fputs("done\n", list_out);
	else if (list_stop != NULL && strcmp(list_stop, "over") == 0)
		fputs("over\n", list_out);
	if (fclose(list_out) == EOF || (rc != 0 && (list_stop == NULL ||
	    strcmp(list_stop, "over") != 0))) {
		printf("uncertain %s\nend\n", list_stop != NULL ? list_stop :
		    "walk");
		return 0;
	}
	return list_reply(file, 0);
}

/* Walks ROOT (NULL: none to walk) with FN and ends the reply: "more"
 * when the output filled up first. */
static int
walk(const char *root, int (*fn)(const char *, const struct stat *, int,
    struct FTW *))
{
	if (root == NULL || nftw(root, fn, 64, FTW_PHYS | FTW_MOUNT) == -1) {
		printf("uncertain walk\nend\n");
		return 0;
	}
	if (full)
		printf("more %ld\n", seen - 1);
	printf("end\n");
	return 0;
}

int
main(int argc, char **argv)
{
	struct statfs sfs;
	struct stat st;
	const char *why = NULL;
	char disk[16] = "";

	if (argc != 3 && !(argc == 4 && strcmp(argv[3], "streams") == 0) &&
	    !(argc == 5 && strcmp(argv[3], "list") == 0)) {
		fprintf(stderr, "usage: sentinel-fiemap ROOT SKIP [streams]\n"
		    "       sentinel-fiemap ROOT FROM list MAX\n");
		return 2;
	}
	skip = strtol(argv[2], NULL, 10);
	if (argc == 5)
		return list(argv[1], skip, argv[4]);
	if (argc == 4) {
		if (stat(argv[1], &st) == -1)
			st.st_dev = 0;
		fs_dev = st.st_dev;
		return walk(fs_dev != 0 ? argv[1] : NULL, visit_streams);
	}
	if (stat(argv[1], &st) == -1 || statfs(argv[1], &sfs) == -1) {
		printf("uncertain no-root\nend\n");
		return 0;
	}
	fs_dev = st.st_dev;
	if (sfs.f_type != EXT_MAGIC && sfs.f_type != XFS_MAGIC)
		why = "filesystem-type";
	else
		(void)place(st.st_dev, disk, &part_start, &why);
	if (why != NULL) {
		printf("uncertain %s\nend\n", why);
		return 0;
	}
	printf("fs %s %llu\n", disk, (unsigned long long)part_start);
	return walk(argv[1], visit);
}
