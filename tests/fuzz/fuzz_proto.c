/* libFuzzer: the control protocol's framing, request parsing and the
 * check of a request against its command's entry, as the daemon applies
 * them to whatever a client sends. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cmdtab.h"
#include "proto.h"

static int
on_line(void *arg, const char *line, size_t len)
{
	const struct cmd_entry *e;
	const char *cmd;
	long long id;
	char err[512];
	json_t *o;
	char *enc;
	size_t n;

	(void)arg;
	if (line == NULL)
		return 0;		/* over the limit: the daemon says so */
	if ((o = proto_parse(line, len, err, sizeof(err))) == NULL)
		return 0;
	(void)proto_check_hello(o, err, sizeof(err));
	if (proto_request(o, &cmd, &id, err, sizeof(err)) == 0) {
		if ((e = cmd_find(cmd)) != NULL)
			(void)cmd_check(e, o, err, sizeof(err));
		if ((enc = proto_encode(o, &n)) != NULL)
			free(enc);
	}
	json_decref(o);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linebuf lb;
	size_t half = size / 2;

	linebuf_init(&lb);
	/* In two reads, as a socket may deliver it. */
	linebuf_feed(&lb, (const char *)data, half, on_line, NULL);
	linebuf_feed(&lb, (const char *)data + half, size - half, on_line,
	    NULL);
	linebuf_free(&lb);
	return 0;
}
