/*
 * Signature directory stamps: a 64-bit FNV-1a hash of each file's name,
 * size and modification time, added up so that readdir's order does not
 * matter.  It is a change detector, not a defence: the directory is root's.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stamp.h"

int
sig_is_database(const char *name)
{
	static const char *ext[] = { ".cvd", ".cld", ".cud", ".hdb", ".hsb",
	    ".hdu", ".hsu", ".mdb", ".msb", ".mdu", ".msu", ".ndb", ".ndu",
	    ".ldb", ".ldu", ".cdb", ".idb", ".fp", ".sfp", ".ign", ".ign2",
	    ".pdb", ".gdb", ".wdb", ".ftm", ".cbc", ".crb", ".cat", ".yar",
	    ".yara", ".pwdb", ".imp", ".db" };
	const char *dot;
	size_t i;

	if ((dot = strrchr(name, '.')) == NULL)
		return 0;
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (strcmp(dot, ext[i]) == 0)
			return 1;
	return 0;
}

int
sig_is_rules(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot != NULL && (strcmp(dot, ".yar") == 0 ||
	    strcmp(dot, ".yara") == 0);
}

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
files_stamp(const char *dir, int (*wanted)(const char *), char *out,
    size_t outlen)
{
	char line[512], path[4096];
	struct dirent *de;
	struct stat st;
	uint64_t sum = 0;
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (!wanted(de->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (stat(path, &st) == -1)
				continue;
			snprintf(line, sizeof(line), "%s:%lld:%lld.%09ld",
			    de->d_name, (long long)st.st_size,
			    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
			sum += fnv1a(line);
		}
		closedir(d);
	}
	snprintf(out, outlen, "%016llx", (unsigned long long)sum);
}

void
sig_dir_stamp(const char *dir, const char *yaradir, char *out, size_t outlen)
{
	char y[24];

	files_stamp(dir, sig_is_database, out, outlen);
	if (yaradir != NULL && *yaradir != '\0') {
		files_stamp(yaradir, sig_is_rules, y, sizeof(y));
		snprintf(out + strlen(out), outlen - strlen(out), "+y%s", y);
	}
}

/*
 * A CVD or CLD file starts with a 512-byte header, "ClamAV-VDB:" and
 * colon-separated fields: build time as text, version, signatures,
 * functionality level, MD5, digital signature, builder, then the build
 * time in seconds since the epoch.  That last field, or -1.
 */
static int64_t
cvd_build_time(const char *path)
{
	char hdr[513], *f, *save = NULL, *end;
	long long t;
	ssize_t n;
	int fd, i;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, hdr, 512);
	close(fd);
	if (n < 11 || strncmp(hdr, "ClamAV-VDB:", 11) != 0)
		return -1;
	hdr[n] = '\0';
	hdr[strcspn(hdr, "\n")] = '\0';
	for (i = 0, f = strtok_r(hdr, ":", &save); f != NULL && i < 8;
	    i++, f = strtok_r(NULL, ":", &save))
		;
	if (f == NULL)
		return -1;
	t = strtoll(f, &end, 10);
	return end != f && t > 0 ? (int64_t)t : -1;
}

int64_t
sig_dir_time(const char *dir)
{
	char path[4096];
	struct dirent *de;
	struct stat st;
	const char *dot;
	int64_t newest = 0, official = 0, t;
	DIR *d;

	if (dir == NULL || (d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!sig_is_database(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		dot = strrchr(de->d_name, '.');
		if ((strcmp(dot, ".cvd") == 0 || strcmp(dot, ".cld") == 0) &&
		    (t = cvd_build_time(path)) != -1) {
			if (t > official)
				official = t;
		} else if ((int64_t)st.st_mtime > newest)
			newest = (int64_t)st.st_mtime;
	}
	closedir(d);
	return official > 0 ? official : newest;
}
