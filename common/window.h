/*
 * Time windows in local time, "01:00-06:00,13:00-14:00": scheduled scans
 * start only inside them.  A window may wrap midnight ("22:00-02:00").
 */
#ifndef SENTINEL_WINDOW_H
#define SENTINEL_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#define WINDOWS_MAX	16

struct windows {
	unsigned int	n;		/* 0: always open */
	struct {
		uint16_t start, end;	/* minutes of the day, end exclusive */
	} w[WINDOWS_MAX];
};

/* "" means always.  0, or -1 with a message. */
int	windows_parse(const char *, struct windows *, char *, size_t);
int	windows_open_at(const struct windows *, int);	/* minute of day */
/* Whether the windows are open at epoch time ms, in local time. */
int	windows_open(const struct windows *, int64_t);
/* The first time >= ms at which they are open (ms itself if open). */
int64_t	windows_next_open(const struct windows *, int64_t);

#endif
