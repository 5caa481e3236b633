/*
 * The appliance's kernel unpacked once, at the appliance's preparation,
 * so that no launch spends seconds of emulated CPU unpacking it again.
 *
 * A bzImage is a small real-mode setup, a decompressor and the packed
 * kernel (an ELF executable).  qemu boots such an ELF directly when it
 * carries a PVH entry note (Linux's CONFIG_PVH), with the same command
 * line and initrd.  This reads the host's kernel as supermin copied it,
 * unpacks it with the packer's own program, checks the result whole
 * (its size as the build recorded it, every segment inside the file, the
 * PVH note) and only then puts it in the bzImage's place.  Anything
 * else keeps the bzImage, and says why once.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pvh.h"

#define PVH_MARKER	"kernel.bzimage-only"
#define XEN_ELFNOTE_PHYS32_ENTRY 18

static uint16_t
le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The packers Linux's x86 build knows, by their magic, and the program
 * (and its arguments) that unpacks each to its standard output. */
static const struct packer {
	const char	*magic;
	size_t		 mlen;
	const char	*argv[4];
} packers[] = {
	{ "\xfd" "7zXZ\0", 6, { "xz", "-dc", NULL } },
	{ "\x1f\x8b", 2, { "gzip", "-dc", NULL } },
	{ "\x28\xb5\x2f\xfd", 4, { "zstd", "-dcq", NULL } },
	{ "BZh", 3, { "bzip2", "-dc", NULL } },
	{ "\x02\x21\x4c\x18", 4, { "lz4", "-dc", NULL } },
	{ "\x5d\x00\x00", 3, { "xz", "-dc", "--format=lzma", NULL } },
	{ "\x89LZO", 4, { "lzop", "-dc", NULL } },
};

static const struct packer *
packer_of(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(packers) / sizeof(packers[0]); i++)
		if (len >= packers[i].mlen &&
		    memcmp(p, packers[i].magic, packers[i].mlen) == 0)
			return &packers[i];
	return NULL;
}

int
pvh_payload(const unsigned char *buf, size_t len, size_t *off, size_t *plen,
    uint32_t *size, const char **tool, char *why, size_t whylen)
{
	const struct packer *pk;
	size_t setup, o, n;

	/* The boot header (Documentation/arch/x86/boot.rst): the payload's
	 * place is there from protocol 2.08 on. */
	if (len < 0x254 || buf[0x1fe] != 0x55 || buf[0x1ff] != 0xaa ||
	    memcmp(buf + 0x202, "HdrS", 4) != 0) {
		snprintf(why, whylen, "not a bzImage");
		return -1;
	}
	if (le16(buf + 0x206) < 0x0208) {
		snprintf(why, whylen, "boot protocol %u.%02u: older than 2.08",
		    buf[0x207], buf[0x206]);
		return -1;
	}
	setup = buf[0x1f1] != 0 ? buf[0x1f1] : 4;
	o = (setup + 1) * 512 + le32(buf + 0x248);
	n = le32(buf + 0x24c);
	if (n < 8 || o > len || n > len - o) {
		snprintf(why, whylen, "its packed kernel lies outside it");
		return -1;
	}
	if ((pk = packer_of(buf + o, n)) == NULL) {
		snprintf(why, whylen, "its kernel is packed in a way not "
		    "known here");
		return -1;
	}
	/* The build appends the unpacked size to every packed kernel. */
	*size = le32(buf + o + n - 4);
	if (*size < 64 || *size > PVH_MAX_KERNEL) {
		snprintf(why, whylen, "its unpacked size (%u bytes) is out of "
		    "bounds", *size);
		return -1;
	}
	*off = o;
	*plen = n;
	*tool = pk->argv[0];
	return 0;
}

/* Whether the notes in BUF[OFF, OFF + N) hold Xen's PVH entry. */
static int
has_pvh_note(const unsigned char *buf, uint64_t off, uint64_t n)
{
	uint64_t p = off, end = off + n, namesz, descsz;

	while (end - p >= 12) {
		namesz = le32(buf + p);
		descsz = le32(buf + p + 4);
		if (le32(buf + p + 8) == XEN_ELFNOTE_PHYS32_ENTRY &&
		    namesz == 4 && end - p >= 16 &&
		    memcmp(buf + p + 12, "Xen", 4) == 0 && descsz >= 4)
			return 1;
		namesz = (namesz + 3) & ~3ULL;
		descsz = (descsz + 3) & ~3ULL;
		if (namesz > end - p - 12 || descsz > end - p - 12 - namesz)
			return 0;
		p += 12 + namesz + descsz;
	}
	return 0;
}

int
pvh_elf(const unsigned char *buf, size_t len, char *why, size_t whylen)
{
	uint64_t phoff, off, n;
	unsigned int phnum, i, found = 0;
	const unsigned char *ph;

	if (len < 64 || memcmp(buf, "\x7f" "ELF", 4) != 0 || buf[4] != 2 ||
	    buf[5] != 1 || le16(buf + 16) != 2 || le16(buf + 18) != 62) {
		snprintf(why, whylen, "not an x86-64 ELF executable");
		return 0;
	}
	phoff = le64(buf + 32);
	phnum = le16(buf + 56);
	if (le16(buf + 54) != 56 || phnum == 0 || phoff > len ||
	    (uint64_t)phnum * 56 > len - phoff) {
		snprintf(why, whylen, "its program headers are not whole");
		return 0;
	}
	for (i = 0; i < phnum; i++) {
		ph = buf + phoff + (uint64_t)i * 56;
		off = le64(ph + 8);
		n = le64(ph + 32);
		if (off > len || n > len - off) {
			snprintf(why, whylen, "a segment lies past its end "
			    "(cut short?)");
			return 0;
		}
		if (le32(ph) == 4 /* PT_NOTE */ && has_pvh_note(buf, off, n))
			found = 1;
	}
	if (!found) {
		snprintf(why, whylen, "it has no PVH entry (CONFIG_PVH)");
		return 0;
	}
	return 1;
}

/* Writes WHY into DIR's marker, so that the bzImage is kept from now on. */
static void
mark(const char *dir, const char *why)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, PVH_MARKER);
	if ((f = fopen(path, "we")) != NULL) {
		fprintf(f, "%s\n", why);
		fclose(f);
	}
}

/* Unpacks BUF[OFF, OFF + N) with PK into the open file OUT; -1 with WHY
 * if the program could not run. */
static int
unpack(const struct packer *pk, const unsigned char *p, size_t n, int out,
    char *why, size_t whylen)
{
	int fds[2], st, devnull;
	ssize_t w;
	size_t done = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) == -1) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		if (dup2(fds[0], 0) == -1 || dup2(out, 1) == -1 ||
		    (devnull != -1 && dup2(devnull, 2) == -1))
			_exit(126);
		execvp(pk->argv[0], (char *const *)pk->argv);
		_exit(127);
	}
	close(fds[0]);
	/* sentineld ignores SIGPIPE: a program gone early is an EPIPE. */
	while (done < n) {
		if ((w = write(fds[1], p + done, n - done)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		done += (size_t)w;
	}
	close(fds[1]);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			snprintf(why, whylen, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
		snprintf(why, whylen, "%s is not installed", pk->argv[0]);
		return -1;
	}
	/* Its status aside (the size the build appended after the packed
	 * stream is trailing input to some of them), the result is judged
	 * whole or not by what it holds. */
	return 0;
}

/* Maps the regular file open on FD read-only: its bytes and size, or NULL. */
static unsigned char *
map_file(int fd, size_t *len)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > PVH_MAX_KERNEL)
		return NULL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = (size_t)st.st_size;
	return p;
}

int
pvh_appliance_kernel(const char *dir, char *why, size_t whylen)
{
	char kpath[4096], tmp[4096], mpath[4096];
	unsigned char head[4], *k = NULL, *u = NULL;
	const struct packer *pk;
	const char *tool;
	size_t klen = 0, ulen = 0, off, plen;
	uint32_t size;
	int fd = -1, out = -1, rc = -1;
	FILE *f;

	why[0] = '\0';
	snprintf(kpath, sizeof(kpath), "%s/kernel", dir);
	snprintf(mpath, sizeof(mpath), "%s/%s", dir, PVH_MARKER);
	snprintf(tmp, sizeof(tmp), "%s/kernel.pvh.%d", dir, (int)getpid());
	if ((fd = open(kpath, O_RDONLY | O_CLOEXEC)) == -1 ||
	    pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head)) {
		snprintf(why, whylen, "%s: %s", kpath, fd == -1 ?
		    strerror(errno) : "too short");
		goto out;
	}
	if (memcmp(head, "\x7f" "ELF", 4) == 0) {
		rc = 1;
		goto out;
	}
	if ((f = fopen(mpath, "re")) != NULL) {
		if (fgets(why, (int)whylen, f) == NULL)
			snprintf(why, whylen, "tried before");
		why[strcspn(why, "\n")] = '\0';
		fclose(f);
		rc = 0;
		goto out;
	}
	if ((k = map_file(fd, &klen)) == NULL) {
		snprintf(why, whylen, "%s: cannot map it", kpath);
		goto out;
	}
	if (pvh_payload(k, klen, &off, &plen, &size, &tool, why, whylen) ==
	    -1) {
		mark(dir, why);
		rc = 0;
		goto out;
	}
	pk = packer_of(k + off, plen);
	if ((out = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) ==
	    -1) {
		snprintf(why, whylen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (unpack(pk, k + off, plen - 4, out, why, whylen) == -1) {
		/* A program missing now may be installed later: no mark. */
		rc = 0;
		goto out;
	}
	if ((u = map_file(out, &ulen)) == NULL || ulen != size) {
		snprintf(why, whylen, "%s gave %zu bytes, the build recorded "
		    "%u", tool, u != NULL ? ulen : 0, size);
		mark(dir, why);
		rc = 0;
		goto out;
	}
	if (!pvh_elf(u, ulen, why, whylen)) {
		mark(dir, why);
		rc = 0;
		goto out;
	}
	if (fchmod(out, 0644) == -1 || fsync(out) == -1 ||
	    rename(tmp, kpath) == -1) {
		snprintf(why, whylen, "%s: %s", kpath, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	rc = 2;
out:
	if (u != NULL)
		munmap(u, ulen);
	if (k != NULL)
		munmap(k, klen);
	if (out != -1)
		close(out);
	if (fd != -1)
		close(fd);
	if (tmp[0] != '\0')
		(void)unlink(tmp);
	return rc;
}
