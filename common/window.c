/* Parsing and testing of local-time windows. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "window.h"

static int
parse_hhmm(const char *s, const char **end, int *min)
{
	int h, m, n = 0;

	if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2 || n != 5 || h < 0 ||
	    h > 24 || m < 0 || m > 59 || (h == 24 && m != 0))
		return -1;
	*min = h * 60 + m;
	*end = s + n;
	return 0;
}

int
windows_parse(const char *s, struct windows *out, char *err, size_t errlen)
{
	const char *p = s, *e;
	int a, b;

	memset(out, 0, sizeof(*out));
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	for (;;) {
		while (*p == ' ')
			p++;
		if (parse_hhmm(p, &e, &a) == -1 || *e != '-' ||
		    parse_hhmm(e + 1, &e, &b) == -1 || a == b || a == 1440) {
			snprintf(err, errlen, "\"%s\" is not a list of windows "
			    "like 01:00-06:00,13:00-14:00", s);
			return -1;
		}
		if (out->n == WINDOWS_MAX) {
			snprintf(err, errlen, "more than %d windows",
			    WINDOWS_MAX);
			return -1;
		}
		out->w[out->n].start = (uint16_t)a;
		out->w[out->n].end = (uint16_t)(b == 0 ? 1440 : b);
		out->n++;
		for (p = e; *p == ' '; p++)
			;
		if (*p == '\0')
			return 0;
		if (*p++ != ',') {
			snprintf(err, errlen, "\"%s\" is not a list of windows "
			    "like 01:00-06:00,13:00-14:00", s);
			return -1;
		}
	}
}

int
windows_open_at(const struct windows *w, int minute)
{
	unsigned int i;

	if (w->n == 0)
		return 1;
	for (i = 0; i < w->n; i++) {
		int a = w->w[i].start, b = w->w[i].end;

		if (a < b ? (minute >= a && minute < b) :
		    (minute >= a || minute < b))
			return 1;
	}
	return 0;
}

static int
minute_of_day(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	return tm.tm_hour * 60 + tm.tm_min;
}

int
windows_open(const struct windows *w, int64_t ms)
{
	return w->n == 0 || windows_open_at(w, minute_of_day(ms));
}

int64_t
windows_next_open(const struct windows *w, int64_t ms)
{
	int m, k;

	if (w->n == 0)
		return ms;
	/* One conversion, then whole minutes: across a DST change the
	 * answer may be off by the shift, which the next check corrects. */
	m = minute_of_day(ms);
	if (windows_open_at(w, m))
		return ms;
	for (k = 1; k <= 1440; k++)
		if (windows_open_at(w, (m + k) % 1440))
			return ms - ms % 60000 + (int64_t)k * 60000;
	return ms;	/* never open: cannot happen for a parsed list */
}
