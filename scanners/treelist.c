/*
 * The replies of sentinel-fiemap's list mode.  The appliance's kernel
 * parsed the guest's filesystem to answer: the text is untrusted.  Every
 * number is checked and bounded, every path must be one find0 could have
 * given ("/a/b": no empty, "." or ".." name, no NUL), and a reply not
 * understood ends this listing (the tree is listed the other way).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "treelist.h"

#define MAX_CALLS	4096		/* replies per tree */

/* An unsigned decimal at *p, then one space (moved past): -1 if none, or
 * past UINT64_MAX. */
static int
unum(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' &&
	    s[1] <= '9'))
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (*s != ' ')
		return -1;
	*p = s + 1;
	*v = x;
	return 0;
}

/* The decimal from P to EOL, all of it. */
static int
digits(const char *p, const char *eol, uint64_t *v)
{
	uint64_t x = 0;

	if (p == eol || (*p == '0' && eol - p > 1))
		return -1;
	for (; p < eol; p++) {
		if (*p < '0' || *p > '9' ||
		    x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*v = x;
	return 0;
}

/* A signed decimal at *p, then one space, within int64_t. */
static int
snum(const char **p, int64_t *v)
{
	uint64_t x;
	int neg = **p == '-';

	if (neg)
		(*p)++;
	if (unum(p, &x) == -1 || x > (uint64_t)INT64_MAX)
		return -1;
	*v = neg ? -(int64_t)x : (int64_t)x;
	return 0;
}

/* The path from P to EOL, unescaped into OUT (at most MAX bytes): its
 * length, or -1 if it is not a path find0 could give. */
static long
path(const char *p, const char *eol, char *out, size_t max)
{
	size_t n = 0, name = 0;
	int hi, lo;
	char ch;

	if (p == eol || *p != '/')
		return -1;
	for (; p < eol; p++) {
		ch = *p;
		if (ch == '%') {
			if (eol - p < 3 || (hi = extents_hexval(p[1])) == -1 ||
			    (lo = extents_hexval(p[2])) == -1)
				return -1;
			ch = (char)(hi << 4 | lo);
			/* Only what the program escapes. */
			if (ch != '%' && (unsigned char)ch > ' ' &&
			    (unsigned char)ch <= '~')
				return -1;
			if (ch == '\0')
				return -1;
			p += 2;
		} else if ((unsigned char)ch <= ' ' ||
		    (unsigned char)ch > '~')
			return -1;
		if (ch == '/') {
			/* The name before it: not empty, ".", "..". */
			if (n > 0 && (name == 0 || (name == 1 &&
			    out[n - 1] == '.') || (name == 2 &&
			    out[n - 1] == '.' && out[n - 2] == '.')))
				return -1;
			name = 0;
		} else
			name++;
		if (n == max)
			return -1;
		out[n++] = ch;
	}
	if (name == 0 || (name == 1 && out[n - 1] == '.') || (name == 2 &&
	    out[n - 1] == '.' && out[n - 2] == '.'))
		return -1;
	return (long)n;
}

int
treelist_parse(const char *text, struct listing *l, uint64_t from,
    uint64_t max, uint64_t *next, char *why, size_t whylen)
{
	char buf[LISTING_PATH_MAX + 256 + 1];
	const char *p = text, *eol;
	struct lentry m;
	uint64_t mode, size, v;
	int64_t t;
	long len, at;
	int done = 0, deep;

	*next = 0;
	while (*p != '\0') {
		/* The appliance's reply may have lost its last newline. */
		if ((eol = strchr(p, '\n')) == NULL)
			eol = p + strlen(p);
		if (eol - p == 3 && strncmp(p, "end", 3) == 0) {
			if (*eol != '\0' && eol[1] != '\0')
				break;
			if (!done) {
				snprintf(why, whylen, "the listing ended "
				    "before the walk did");
				return TL_REFUSED;
			}
			return TL_DONE;
		}
		if (done)
			break;		/* nothing after "done" but "end" */
		if (strncmp(p, "more ", 5) == 0) {
			/* The next reply starts where this one's lines stop:
			 * as many bytes on as they took. */
			if (digits(p + 5, eol, &v) == -1 || p == text ||
			    v != from + (uint64_t)(p - text) ||
			    (*eol != '\0' && eol[1] != '\0'))
				break;
			*next = v;
			return TL_MORE;
		}
		if (strncmp(p, "uncertain ", 10) == 0) {
			snprintf(why, whylen, "the appliance could not walk "
			    "the filesystem in one go");
			return TL_UNCERTAIN;
		}
		if (eol - p == 4 && strncmp(p, "over", 4) == 0) {
			snprintf(why, whylen, "more than %llu bytes of names "
			    "(max_listing_size)", (unsigned long long)max);
			return TL_LIMIT;
		}
		if (eol - p == 4 && strncmp(p, "done", 4) == 0) {
			done = 1;
			p = *eol != '\0' ? eol + 1 : eol;
			continue;
		}
		memset(&m, 0, sizeof(m));
		deep = 0;
		if ((p[0] == 'f' || p[0] == 't') && p[1] == ' ') {
			/* "t": too deep, all 0 if lstat failed. */
			deep = p[0] == 't';
			p += 2;
			if (unum(&p, &mode) == -1 || mode > UINT32_MAX ||
			    (mode == 0 && !deep) || unum(&p, &m.dev) == -1 ||
			    unum(&p, &m.ino) == -1 ||
			    snum(&p, &t) == -1 || t < 0)
				break;
			size = (uint64_t)t;
			if (unum(&p, &m.nlink) == -1 ||
			    snum(&p, &m.mtime_s) == -1 ||
			    unum(&p, &v) == -1 || v > 999999999)
				break;
			m.mtime_ns = (int64_t)v;
			if (snum(&p, &m.ctime_s) == -1 ||
			    unum(&p, &v) == -1 || v > 999999999)
				break;
			m.ctime_ns = (int64_t)v;
			m.mode = (uint32_t)mode;
			m.size = size;
		} else if (p[0] == 'u' && p[1] == ' ')
			p += 2;
		else
			break;
		if ((len = path(p, eol, buf, deep ? sizeof(buf) - 1 :
		    LISTING_PATH_MAX)) == -1)
			break;
		if ((at = listing_add(l, buf, (size_t)len, &m)) == -1) {
			snprintf(why, whylen, "out of memory listing files");
			return TL_LIMIT;
		}
		if (deep)
			l->e[at].plan = PLAN_TOO_DEEP;
		/* The names and what the listing keeps for each. */
		if (l->nlen + l->n * sizeof(m) > max) {
			snprintf(why, whylen, "more than %llu bytes of names "
			    "(max_listing_size)", (unsigned long long)max);
			return TL_LIMIT;
		}
		p = *eol != '\0' ? eol + 1 : eol;
	}
	snprintf(why, whylen, "a reply not understood");
	return TL_REFUSED;
}

int
treelist_list(struct extents_run *x, guestfs_h *g, int fd,
    struct listing *l, uint64_t max, char *why, size_t whylen)
{
	char maxs[24], *out;
	uint64_t from = 0, next;
	int r, calls = 0;

	why[0] = '\0';
	if (fd < 0) {
		snprintf(why, whylen, "sentinel-fiemap is not installed");
		return 1;
	}
	snprintf(maxs, sizeof(maxs), "%llu", (unsigned long long)max);
	do {
		if (from > (uint64_t)LONG_MAX) {
			snprintf(why, whylen, "a reply not understood");
			r = TL_REFUSED;
			break;
		}
		if ((out = extents_reply(x, g, fd, "list", (long)from, maxs,
		    why, whylen)) == NULL) {
			r = TL_REFUSED;
			break;
		}
		r = treelist_parse(out, l, from, max, &next, why, whylen);
		free(out);
		from = next;
	} while (r == TL_MORE && ++calls < MAX_CALLS);
	if (r == TL_MORE)
		snprintf(why, whylen, "more than %d replies", MAX_CALLS);
	if (r == TL_LIMIT)
		return -1;
	if (r == TL_DONE) {
		if (listing_link_inodes(l) == 0)
			return 0;
		snprintf(why, whylen, "out of memory listing files");
		return -1;
	}
	listing_free(l);
	return 1;
}
