/* Test plugin: its first scan_started hook never returns (it sleeps an
 * hour); scans and the control socket must not notice. */
#include <unistd.h>

#include "sentinel/plugin.h"

static void
hang(void *state, const struct sentinel_scan *s)
{
	(void)state;
	(void)s;
	sleep(3600);
}

const struct sentinel_plugin sentinel_plugin = {
	.abi = SENTINEL_PLUGIN_ABI,
	.name = "hang",
	.scan_started = hang,
};
