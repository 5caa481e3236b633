#include <stdarg.h>
#include <sys/time.h>

#include "event.h"

/* A JSON string: quotes, backslash and control bytes escaped (paths
 * arrive already escaped to ASCII by sentineld). */
static void
str(FILE *f, const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	putc('"', f);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			putc(*p, f);
	}
	putc('"', f);
}

void
event_json(FILE *f, const char *event, const struct sentinel_scan *s,
    const struct sentinel_detection *d, int finished)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	fprintf(f, "{\"event\":\"%s\",\"time\":%lld,\"scan\":{\"id\":%lld,"
	    "\"guest\":", event, (long long)tv.tv_sec * 1000 +
	    tv.tv_usec / 1000, (long long)s->id);
	str(f, s->guest);
	fputs(",\"uuid\":", f);
	str(f, s->uuid);
	fputs(",\"trigger\":", f);
	str(f, s->trigger);
	fprintf(f, ",\"started\":%lld", (long long)s->started_ms);
	if (finished) {
		fprintf(f, ",\"ended\":%lld,\"status\":", (long long)s->ended_ms);
		str(f, s->status);
		fputs(",\"reason\":", f);
		str(f, s->reason);
		fprintf(f, ",\"files\":%llu,\"bytes_read\":%llu,"
		    "\"detections\":%u", (unsigned long long)s->files,
		    (unsigned long long)s->bytes_read, s->detections);
	}
	putc('}', f);
	if (d != NULL) {
		fputs(",\"detection\":{\"fs\":", f);
		str(f, d->fs);
		fputs(",\"path\":", f);
		str(f, d->path);
		fprintf(f, ",\"guest_path\":%s,\"display\":",
		    d->guest_path ? "true" : "false");
		str(f, d->display != NULL ? d->display : d->path);
		fputs(",\"signature\":", f);
		str(f, d->signature);
		fputs(",\"engine\":", f);
		str(f, d->engine);
		fprintf(f, ",\"size\":%llu}", (unsigned long long)d->size);
	}
	putc('}', f);
}

void
plugin_log(const struct sentinel_host *h, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->log(h, level, msg);
}
