/*
 * Shared by the shipped plugins: an event as one JSON object, the same in
 * the jsonl file and on an exec'd program's standard input.
 */
#ifndef SENTINEL_PLUGIN_EVENT_H
#define SENTINEL_PLUGIN_EVENT_H

#include <stdio.h>

#include "sentinel/plugin.h"

/* Writes {"event":EVENT,"time":...,"scan":{...}[,"detection":{...}]}
 * without a newline; d only for file_detected, finished for
 * scan_finished. */
void	event_json(FILE *, const char *event, const struct sentinel_scan *,
	    const struct sentinel_detection *, int finished);
/* A formatted line in sentineld's log (level 0 information, 1 warning). */
void	plugin_log(const struct sentinel_host *, int level, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));

#endif
