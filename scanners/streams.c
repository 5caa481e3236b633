/*
 * The replies of sentinel-fiemap's streams mode.  The appliance's ntfs-3g
 * parsed the guest's filesystem to answer: the text is untrusted, every
 * number and name is checked and bounded, and a reply not understood ends
 * the listing with a reason (the scan says the streams were not read).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streams.h"

#define MAX_CALLS	4096		/* replies per tree */

/* A decimal of at most 19 digits at *p, moving past it and one space or
 * the end of the line.  -1 if there is none. */
static int
number(const char **p, int neg_ok, int64_t *v)
{
	const char *s = *p;
	int neg = 0;
	size_t n;

	if (neg_ok && *s == '-') {
		neg = 1;
		s++;
	}
	n = strspn(s, "0123456789");
	if (n == 0 || n > 18 || (s[n] != ' ' && s[n] != '\n' && s[n] != '\0'))
		return -1;
	*v = strtoll(s, NULL, 10);
	if (neg)
		*v = -*v;
	*p = s + n + (s[n] == ' ');
	return 0;
}

int
streams_parse(const char *text, stream_cb cb, void *arg, long *next,
    char *why, size_t whylen)
{
	char name[STREAM_NAME_MAX];
	const char *p = text, *eol;
	int64_t ino, size;
	size_t n, k;
	int hi, lo;

	*next = 0;
	while (*p != '\0') {
		/* The appliance's reply may have lost its last newline. */
		if ((eol = strchr(p, '\n')) == NULL)
			eol = p + strlen(p);
		if (strncmp(p, "end", 3) == 0 && p + 3 == eol)
			return 0;
		if (strncmp(p, "more ", 5) == 0) {
			p += 5;
			if (number(&p, 0, &ino) == -1 || p != eol ||
			    ino > LONG_MAX)
				break;
			*next = (long)ino;
			return 1;
		}
		if (strncmp(p, "uncertain ", 10) == 0) {
			snprintf(why, whylen, "the appliance could not walk "
			    "the filesystem");
			return -1;
		}
		if (strncmp(p, "s ", 2) != 0)
			break;
		p += 2;
		if (number(&p, 0, &ino) == -1 || number(&p, 1, &size) == -1 ||
		    size < -1)
			break;
		n = (size_t)(eol - p);
		if (n == 0 || n % 2 != 0 || n / 2 > sizeof(name))
			break;
		for (k = 0; k < n / 2; k++) {
			if ((hi = extents_hexval(p[2 * k])) == -1 ||
			    (lo = extents_hexval(p[2 * k + 1])) == -1)
				break;
			name[k] = (char)(hi << 4 | lo);
			if (name[k] == '\0' || name[k] == '/')
				break;
		}
		if (k != n / 2)
			break;
		if (cb(arg, (uint64_t)ino, size, name, n / 2) != 0)
			return 2;
		p = *eol != '\0' ? eol + 1 : eol;
	}
	snprintf(why, whylen, "a reply not understood");
	return -1;
}

int
streams_list(struct extents_run *x, guestfs_h *g, int fd, stream_cb cb,
    void *arg, char *why, size_t whylen)
{
	char *out;
	long next = 0;
	int r, calls = 0;

	why[0] = '\0';
	do {
		if ((out = extents_reply(x, g, fd, "streams", next, NULL,
		    why, whylen)) == NULL)
			return -1;
		r = streams_parse(out, cb, arg, &next, why, whylen);
		free(out);
		if (r == -1)
			return -1;
		if (r == 2)
			return 0;
	} while (r == 1 && ++calls < MAX_CALLS);
	if (r == 1) {
		snprintf(why, whylen, "more than %d replies", MAX_CALLS);
		return -1;
	}
	return 0;
}
