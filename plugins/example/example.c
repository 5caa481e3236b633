/*
 * An example sentinel plugin: logs one line per finished scan, and each
 * detection, through sentineld's log.  Build it against the installed
 * header, out of sentinel's tree:
 *
 *	cc -shared -fPIC -o example.so example.c
 *
 * (add -I PREFIX/include when the header is not under /usr/include), or
 * with the CMakeLists.txt beside it.  Install it root-owned, in a
 * directory only root may write, and name it in sentineld.conf:
 *
 *	[plugin example]
 *	path = /usr/local/lib/sentinel/plugins/example.so
 *	prefix = hello		; a key of its own
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sentinel/plugin.h>

struct example {
	const struct sentinel_host	*host;
	char				 prefix[64];
};

static int
example_init(const struct sentinel_host *h, void **state, char *err,
    size_t errlen)
{
	const char *prefix = h->conf_get(h, "prefix");
	struct example *e;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	e->host = h;
	snprintf(e->prefix, sizeof(e->prefix), "%s", prefix ? prefix :
	    "example");
	*state = e;
	return 0;
}

static void
example_detected(void *state, const struct sentinel_scan *s,
    const struct sentinel_detection *d)
{
	struct example *e = state;
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s: %s has %s in %s", e->prefix,
	    s->guest, d->signature, d->path);
	e->host->log(e->host, 1, msg);
}

static void
example_finished(void *state, const struct sentinel_scan *s)
{
	struct example *e = state;
	char msg[512];

	snprintf(msg, sizeof(msg), "%s: scan %lld of %s: %s, %u detections",
	    e->prefix, (long long)s->id, s->guest, s->status, s->detections);
	e->host->log(e->host, 0, msg);
}

static void
example_shutdown(void *state)
{
	free(state);
}

const struct sentinel_plugin sentinel_plugin = {
	.abi = SENTINEL_PLUGIN_ABI,
	.name = "example",
	.init = example_init,
	.file_detected = example_detected,
	.scan_finished = example_finished,
	.shutdown = example_shutdown,
};
