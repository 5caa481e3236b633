/* Sizes, durations, byte escaping and time helpers. */
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int
parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Number followed by an optional unit from the table; mult[] matches units. */
static int
parse_scaled(const char *s, const char *units, const uint64_t *mult,
    uint64_t *out)
{
	char *end;
	const char *u;
	unsigned long long v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end == '\0') {
		*out = v;
		return 0;
	}
	if (end[1] != '\0' || (u = strchr(units, *end)) == NULL)
		return -1;
	if (v > UINT64_MAX / mult[u - units])
		return -1;
	*out = v * mult[u - units];
	return 0;
}

int
parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1024, 1024, 1ULL << 20, 1ULL << 20,
	    1ULL << 30, 1ULL << 30, 1ULL << 40, 1ULL << 40, 1, 1 };

	return parse_scaled(s, "kKmMgGtTbB", mult, out);
}

int
parse_duration(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1, 60, 3600, 86400, 604800 };

	return parse_scaled(s, "smhdw", mult, out);
}

char *
escape_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	char *out, *o;
	size_t i;

	if (n > (SIZE_MAX - 1) / 4)
		return NULL;
	if ((out = malloc(n * 4 + 1)) == NULL)
		return NULL;
	for (o = out, i = 0; i < n; i++) {
		if (b[i] == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (b[i] >= 0x20 && b[i] < 0x7f) {
			*o++ = (char)b[i];
		} else {
			o += sprintf(o, "\\x%02x", b[i]);
		}
	}
	*o = '\0';
	return out;
}

/* The length of the UTF-8 sequence at B (N bytes left) of a printable
 * character (no C1 control, bidirectional mark, surrogate or overlong
 * form), or 0. */
static size_t
utf8_printable(const unsigned char *b, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (b[0] >= 0xc2 && b[0] <= 0xdf)
		len = 2;
	else if (b[0] >= 0xe0 && b[0] <= 0xef)
		len = 3;
	else if (b[0] >= 0xf0 && b[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	cp = b[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((b[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (b[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	/* Marks that reorder what follows ("invoice\u202Eexe.pdf"). */
	if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 &&
	    cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c)
		return 0;
	return len;
}

char *
display_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	char *out, *o;
	size_t i, k;

	if (n > (SIZE_MAX - 1) / 4)
		return NULL;
	if ((out = malloc(n * 4 + 1)) == NULL)
		return NULL;
	for (o = out, i = 0; i < n; ) {
		if (b[i] >= 0x20 && b[i] < 0x7f) {
			*o++ = (char)b[i++];
		} else if ((k = utf8_printable(b + i, n - i)) > 0) {
			memcpy(o, b + i, k);
			o += k;
			i += k;
		} else
			o += sprintf(o, "\\x%02x", b[i++]);
	}
	*o = '\0';
	return out;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
format_time(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t;

	if (ms <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	t = (time_t)(ms / 1000);
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

void
format_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "BKMGT";
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 "B", v);
	else
		snprintf(buf, len, "%.1f%c", d, units[u]);
}

void
format_span(int64_t ms, char *buf, size_t len)
{
	long long s = (ms + 500) / 1000;

	if (ms < 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
}

int
name_matches(const char *patterns, const char *name)
{
	char pat[256];
	const char *p = patterns;
	size_t n;
	int any = 0;

	for (;;) {
		p += strspn(p, " \t");
		if ((n = strcspn(p, " \t")) == 0)
			return !any;
		any = 1;
		/* A pattern longer than any name libvirt allows matches
		 * nothing rather than a cut of itself. */
		if (n < sizeof(pat)) {
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (fnmatch(pat, name, 0) == 0)
				return 1;
		}
		p += n;
	}
}

int
mkdir_p(const char *path, mode_t mode)
{
	char *copy, *p;
	int rc = 0;

	if ((copy = strdup(path)) == NULL)
		return -1;
	for (p = copy + 1; rc == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(copy, mode) == -1 && errno != EEXIST)
			rc = -1;
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	return rc;
}

int
mkdir_parent(const char *path, mode_t mode)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int rc;

	if (slash == NULL || slash == path)
		return 0;
	if ((dir = strndup(path, (size_t)(slash - path))) == NULL)
		return -1;
	rc = mkdir_p(dir, mode);
	free(dir);
	return rc;
}

/*
 * Tells the service manager about the daemon's state (READY=1,
 * STOPPING=1, RELOADING=1, STATUS=...), as sd_notify(3) does, when
 * NOTIFY_SOCKET is set: one datagram on that socket ('@' for the abstract
 * namespace).  The protocol is systemd's stable interface; speaking it
 * here spares a dependency on libsystemd.
 */
void
service_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len);
	close(fd);
}

/* Whether a user (uid, groups) may search a directory with stat st. */
static int
searchable(const struct stat *st, uid_t uid, const gid_t *groups, int ngroups)
{
	int i;

	if (uid == 0)
		return 1;
	if (st->st_uid == uid)
		return (st->st_mode & S_IXUSR) != 0;
	for (i = 0; i < ngroups; i++)
		if (st->st_gid == groups[i])
			return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

int
path_reachable(const char *dir, const struct passwd *pw, const char *role,
    char *why, size_t len)
{
	gid_t groups[256];
	int ngroups = 256;
	struct stat st;
	char path[4096];
	size_t i;

	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups) == -1)
		ngroups = 256;
	snprintf(path, sizeof(path), "%s", dir);
	for (i = 1;; i++) {
		char c = path[i];

		if (c != '/' && c != '\0')
			continue;
		path[i] = '\0';
		if (stat(path, &st) == -1) {
			snprintf(why, len, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (!searchable(&st, pw->pw_uid, groups, ngroups)) {
			snprintf(why, len, "%s (mode %04o, owner %u:%u) cannot "
			    "be searched by %s, %s", path,
			    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
			    (unsigned)st.st_gid, pw->pw_name, role);
			return -1;
		}
		path[i] = c;
		if (c == '\0')
			return 0;
	}
}
