/* Test plugin: built for another plugin ABI; sentineld must refuse it
 * without calling anything. */
#include <stdlib.h>

#include "sentinel/plugin.h"

static int
never(const struct sentinel_host *h, void **state, char *err, size_t len)
{
	(void)h;
	(void)state;
	(void)err;
	(void)len;
	abort();
}

const struct sentinel_plugin sentinel_plugin = {
	.abi = SENTINEL_PLUGIN_ABI + 98,
	.name = "badabi",
	.init = never,
};
