/*
 * The control protocol: one JSON object per line over a Unix socket.
 * The client's first line is a hello carrying the protocol version:
 *	{"hello":"sentinel","version":1}
 * then requests {"id":N,"cmd":"NAME",...}; each reply carries the same id
 * and "ok": true with the command's fields, or "ok": false with "error".
 */
#ifndef SENTINEL_PROTO_H
#define SENTINEL_PROTO_H

#include <stddef.h>

#include <jansson.h>

/*
 * The protocol's version, checked on the hello.  It changes when a client
 * of one version could misread a daemon of another: a command, field or
 * reply removed or renamed, a field whose type or meaning changes, the
 * framing or the hello itself.  It does not change for what an older
 * client can ignore (a new reply field) or an older daemon refuses by
 * name (a new command, a new optional request field: every request is
 * checked against common/cmdtab.c, and a key its command does not take
 * is an error, never ignored).  A daemon speaks one version; a mismatch
 * is refused at the hello, with both versions in the message.
 */
#define SENTINEL_PROTO_VERSION	1

#define PROTO_MAX_LINE	65536	/* longest accepted line, newline excluded */

/* Splits a byte stream into lines of at most PROTO_MAX_LINE bytes. */
struct linebuf {
	char	*buf;
	size_t	 len, cap;
	int	 discarding;	/* inside a line that was too long */
};

/* Called per complete line (NUL-terminated, newline removed), or with
 * line == NULL once for each line that exceeded the limit.  Return -1 to
 * stop feeding. */
typedef int (*linebuf_cb)(void *, const char *, size_t);

void	 linebuf_init(struct linebuf *);
void	 linebuf_free(struct linebuf *);
int	 linebuf_feed(struct linebuf *, const char *, size_t, linebuf_cb, void *);

/* Parses one line into a JSON object; NULL with a message otherwise. */
json_t	*proto_parse(const char *, size_t, char *, size_t);
/* Checks a client hello; 0, or -1 with a message. */
int	 proto_check_hello(json_t *, char *, size_t);
json_t	*proto_hello(void);
/* Extracts "cmd" and the optional integer "id" of a request. */
int	 proto_request(json_t *, const char **, long long *, char *, size_t);
/* Serializes an object as one line with its newline; malloc'd. */
char	*proto_encode(json_t *, size_t *);

#endif
