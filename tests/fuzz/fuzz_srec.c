/* libFuzzer: the decoder of scanner records, as sentineld (root) applies
 * it to whatever a scanner process sends.  Besides not crashing, every
 * record it accepts must hold its bounds: lengths within their fields,
 * strings terminated, no control byte in text, values in range; and a
 * result it accepts must encode back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srec.h"

static void
text_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		abort();
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct srec_scan scan;
	static struct srec_result result;
	static struct srec_ready ready;
	static struct srec_own own;
	static struct srec_result result2;
	static struct srec_buf b;
	struct srec r, r2;
	char err[256];

	memset(&result, 0, sizeof(result));
	r.scan = &scan;
	r.result = &result;
	r.ready = &ready;
	r.own = &own;
	if (srec_decode(data, size, &r, err, sizeof(err)) == -1) {
		if (strnlen(err, sizeof(err)) == sizeof(err))
			abort();
		return 0;
	}
	if (r.type <= 0 || r.type >= SR_NTYPES || r.pathlen > SREC_PATH_MAX ||
	    r.path[r.pathlen] != '\0' || memchr(r.path, '\0', r.pathlen))
		abort();
	text_ok(r.fs, sizeof(r.fs));
	text_ok(r.name, sizeof(r.name));
	text_ok(r.text, sizeof(r.text));
	switch (r.type) {
	case SR_DETECTION:
		if ((r.flag & ~(SREC_DET_GUEST_PATH | SREC_DET_HIDDEN)) != 0 ||
		    r.engine >= SREC_NENGINES || r.name[0] == '\0' ||
		    (r.drive != 0 && (r.drive < 'A' || r.drive > 'Z')))
			abort();
		break;
	case SR_SKIP:
		/* guest_path: 0, 1 or a Windows drive letter. */
		if (r.flag >= SREC_NSKIP || (r.engine > 1 &&
		    (r.engine < 'A' || r.engine > 'Z')))
			abort();
		break;
	case SR_INDEX_Q:
		if (r.flag > 1)
			abort();
		break;
	case SR_RESULT:
		if (result.status >= SREC_NSTATUS)
			abort();
		text_ok(result.reason, sizeof(result.reason));
		text_ok(result.os, sizeof(result.os));
		/* What it accepted encodes to what decodes the same. */
		srec_start(&b, SR_RESULT);
		srec_put_result(&b, &result);
		memset(&result2, 0, sizeof(result2));
		r2.scan = NULL;
		r2.result = &result2;
		r2.ready = NULL;
		r2.own = NULL;
		if (b.over || srec_decode(b.b, b.len, &r2, err,
		    sizeof(err)) == -1 || memcmp(&result, &result2,
		    sizeof(result)) != 0)
			abort();
		break;
	case SR_SCAN:
		if (scan.ndisks == 0 || scan.ndisks > SREC_MAX_DISKS ||
		    scan.nexcludes > SREC_MAX_EXCLUDES)
			abort();
		break;
	case SR_INDEX_PUT:
		if (r.rec.mtime_ns < 0 || r.rec.mtime_ns > 999999999 ||
		    r.rec.ctime_ns < 0 || r.rec.ctime_ns > 999999999)
			abort();
		break;
	default:
		break;
	}
	return 0;
}
