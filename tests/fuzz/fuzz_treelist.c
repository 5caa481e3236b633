/* libFuzzer: the replies of sentinel-fiemap's list mode, which the
 * appliance writes from the guest's filesystem (names, modes, sizes). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "treelist.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct listing l;
	char why[256], *text;
	uint64_t next;
	size_t i, len;
	int r;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&l, 0, sizeof(l));
	r = treelist_parse(text, &l, 0, 1 << 20, &next, why, sizeof(why));
	/* What the parser gives must hold what it promises: paths that
	 * start with '/', with no NUL and no empty, "." or ".." name; a
	 * "more" that moves on within the reply. */
	if (r < TL_LIMIT || r > TL_UNCERTAIN ||
	    (r == TL_MORE && (next == 0 || next > size)))
		abort();
	for (i = 0; i < l.n; i++) {
		const char *p = listing_path(&l, i);

		len = l.e[i].pathlen;
		if (len == 0 || p[0] != '/' || strlen(p) != len ||
		    p[len - 1] == '/' || strstr(p, "//") != NULL ||
		    strstr(p, "/./") != NULL || strstr(p, "/../") != NULL ||
		    (len >= 2 && strcmp(p + len - 2, "/.") == 0) ||
		    (len >= 3 && strcmp(p + len - 3, "/..") == 0) ||
		    (len > LISTING_PATH_MAX && l.e[i].plan != PLAN_TOO_DEEP) ||
		    len > LISTING_PATH_MAX + 256)
			abort();
	}
	listing_free(&l);
	free(text);
	return 0;
}
