/* Test plugin: its first file_detected hook takes 3 s, so a scan's other
 * detections pile up behind it; scan_finished appends to [plugin] file
 * "GUEST STATUS DETECTIONS-GIVEN DETECTIONS-OF-THE-SCAN". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sentinel/plugin.h"

struct slow {
	char		*file;
	int		 slept;
	unsigned int	 given;
};

static int
slow_init(const struct sentinel_host *h, void **state, char *err,
    size_t errlen)
{
	const char *file = h->conf_get(h, "file");
	struct slow *s;

	if (file == NULL) {
		snprintf(err, errlen, "\"file\" is required");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->file = strdup(file)) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*state = s;
	return 0;
}

static void
slow_detected(void *state, const struct sentinel_scan *sc,
    const struct sentinel_detection *d)
{
	struct slow *s = state;

	(void)sc;
	(void)d;
	if (!s->slept) {
		s->slept = 1;
		sleep(3);
	}
	s->given++;
}

static void
slow_finished(void *state, const struct sentinel_scan *sc)
{
	struct slow *s = state;
	FILE *f;

	if ((f = fopen(s->file, "a")) != NULL) {
		fprintf(f, "%s %s %u %u\n", sc->guest, sc->status, s->given,
		    sc->detections);
		fclose(f);
	}
	s->given = 0;
}

static void
slow_shutdown(void *state)
{
	struct slow *s = state;

	free(s->file);
	free(s);
}

const struct sentinel_plugin sentinel_plugin = {
	.abi = SENTINEL_PLUGIN_ABI,
	.name = "slow",
	.init = slow_init,
	.file_detected = slow_detected,
	.scan_finished = slow_finished,
	.shutdown = slow_shutdown,
};
