/* libFuzzer: the replies of sentinel-fiemap's streams mode, which the
 * appliance writes from the guest's NTFS (names, sizes, inodes). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "streams.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
take(void *arg, uint64_t ino, int64_t size, const char *name, size_t len)
{
	size_t *n = arg;

	(void)ino;
	/* What the parser gives must hold what it promises. */
	if (len == 0 || len > STREAM_NAME_MAX || size < -1 ||
	    memchr(name, '\0', len) != NULL || memchr(name, '/', len) != NULL)
		abort();
	(*n)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256], *text;
	size_t n = 0;
	long next;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)streams_parse(text, take, &n, &next, why, sizeof(why));
	if (next < 0)
		abort();
	free(text);
	return 0;
}
