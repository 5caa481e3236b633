/*
 * Framing and validation of control protocol messages, shared by the
 * daemon and sentinelctl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "sentinel/version.h"

void
linebuf_init(struct linebuf *lb)
{
	memset(lb, 0, sizeof(*lb));
}

void
linebuf_free(struct linebuf *lb)
{
	free(lb->buf);
	memset(lb, 0, sizeof(*lb));
}

static int
linebuf_append(struct linebuf *lb, const char *p, size_t n)
{
	size_t ncap;
	char *nb;

	if (lb->len + n + 1 > lb->cap) {
		ncap = lb->cap ? lb->cap : 1024;
		while (ncap < lb->len + n + 1)
			ncap *= 2;
		if ((nb = realloc(lb->buf, ncap)) == NULL)
			return -1;
		lb->buf = nb;
		lb->cap = ncap;
	}
	memcpy(lb->buf + lb->len, p, n);
	lb->len += n;
	return 0;
}

int
linebuf_feed(struct linebuf *lb, const char *data, size_t n, linebuf_cb cb,
    void *arg)
{
	const char *nl;
	size_t chunk;

	while (n > 0) {
		nl = memchr(data, '\n', n);
		chunk = nl ? (size_t)(nl - data) : n;
		if (!lb->discarding) {
			if (lb->len + chunk > PROTO_MAX_LINE) {
				/* Too long: drop it, tell the caller once. */
				lb->len = 0;
				lb->discarding = 1;
				if (cb(arg, NULL, 0) == -1)
					return -1;
			} else if (linebuf_append(lb, data, chunk) == -1)
				return -1;
		}
		if (nl == NULL)
			return 0;
		if (!lb->discarding) {
			lb->buf[lb->len] = '\0';
			chunk = lb->len;
			lb->len = 0;
			if (cb(arg, lb->buf, chunk) == -1)
				return -1;
		}
		lb->discarding = 0;
		n -= (size_t)(nl - data) + 1;
		data = nl + 1;
	}
	return 0;
}

json_t *
proto_parse(const char *line, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;

	if ((j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(err, errlen, "invalid JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(err, errlen, "a message must be a JSON object");
		return NULL;
	}
	return j;
}

int
proto_check_hello(json_t *msg, char *err, size_t errlen)
{
	json_t *h = json_object_get(msg, "hello");
	json_t *v = json_object_get(msg, "version");

	if (!json_is_string(h) || strcmp(json_string_value(h), "sentinel") != 0) {
		snprintf(err, errlen, "expected hello {\"hello\":\"sentinel\","
		    "\"version\":%d} as the first message", SENTINEL_PROTO_VERSION);
		return -1;
	}
	if (!json_is_integer(v)) {
		snprintf(err, errlen, "protocol version mismatch: the hello "
		    "has no version; this daemon speaks version %d",
		    SENTINEL_PROTO_VERSION);
		return -1;
	}
	if (json_integer_value(v) != SENTINEL_PROTO_VERSION) {
		snprintf(err, errlen, "protocol version mismatch: the client "
		    "speaks version %lld, this daemon version %d",
		    (long long)json_integer_value(v), SENTINEL_PROTO_VERSION);
		return -1;
	}
	return 0;
}

json_t *
proto_hello(void)
{
	return json_pack("{s:s, s:i}", "hello", "sentinel", "version",
	    SENTINEL_PROTO_VERSION);
}

int
proto_request(json_t *req, const char **cmd, long long *id, char *err,
    size_t errlen)
{
	json_t *c = json_object_get(req, "cmd");
	json_t *i = json_object_get(req, "id");

	*id = -1;
	if (i != NULL) {
		if (!json_is_integer(i) || json_integer_value(i) < 0) {
			snprintf(err, errlen, "\"id\" must be a non-negative "
			    "integer");
			return -1;
		}
		*id = json_integer_value(i);
	}
	if (!json_is_string(c)) {
		snprintf(err, errlen, "a request needs a string \"cmd\"");
		return -1;
	}
	*cmd = json_string_value(c);
	return 0;
}

char *
proto_encode(json_t *j, size_t *lenp)
{
	char *s, *out;
	size_t n;

	if ((s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII)) == NULL)
		return NULL;
	n = strlen(s);
	if ((out = realloc(s, n + 2)) == NULL) {
		free(s);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	if (lenp)
		*lenp = n + 1;
	return out;
}
