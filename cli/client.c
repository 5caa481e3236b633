/* sentinelctl: the control socket, requests and replies (sentinelctl.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"
#include "sentinelctl.h"

void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sentinelctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(EXIT_ERROR);
}

void
ctl_connect(struct ctl *c)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(c->socket) >= sizeof(sun.sun_path))
		die("socket path %s is too long", c->socket);
	strcpy(sun.sun_path, c->socket);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			die("sentineld is not running (nothing listens on %s)",
			    c->socket);
		if (errno == EACCES || errno == EPERM)
			die("permission denied on %s (root or the [control] "
			    "group may use it)", c->socket);
		die("connect %s: %s", c->socket, strerror(errno));
	}
}

void
ctl_write(struct ctl *c, json_t *msg)
{
	size_t len, off = 0;
	ssize_t n;
	json_t *r;
	char *s;

	if ((s = proto_encode(msg, &len)) == NULL)
		die("out of memory");
	while (off < len) {
		if ((n = write(c->fd, s + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			/* A daemon that refused us said why before it
			 * closed: that is the error to show. */
			if (errno == EPIPE) {
				r = ctl_read(c);
				die("%s", json_is_string(json_object_get(r,
				    "error")) ? json_string_value(
				    json_object_get(r, "error")) :
				    "sentineld closed the connection");
			}
			die("writing to sentineld: %s", strerror(errno));
		}
		off += (size_t)n;
	}
	free(s);
}

/* Reads the next message line and parses it, or dies. */
json_t *
ctl_read(struct ctl *c)
{
	char *nl;
	ssize_t n;
	size_t len;
	json_t *j;

	while (c->len == 0 || (nl = memchr(c->buf, '\n', c->len)) == NULL) {
		if (c->len == c->cap) {
			char *nb;

			if (c->cap >= MAX_REPLY)
				die("reply from sentineld longer than %d bytes",
				    MAX_REPLY);
			c->cap = c->cap ? c->cap * 2 : 65536;
			if ((nb = realloc(c->buf, c->cap)) == NULL)
				die("out of memory");
			c->buf = nb;
		}
		if ((n = read(c->fd, c->buf + c->len, c->cap - c->len)) == -1) {
			if (errno == EINTR)
				continue;
			die("reading from sentineld: %s", strerror(errno));
		}
		if (n == 0)
			die("sentineld closed the connection");
		c->len += (size_t)n;
	}
	len = (size_t)(nl - c->buf);
	if ((j = proto_parse(c->buf, len, c->err, sizeof(c->err))) == NULL)
		die("bad reply from sentineld: %s", c->err);
	memmove(c->buf, nl + 1, c->len - len - 1);
	c->len -= len + 1;
	/* --json prints JSON, whose encoding escapes controls itself. */
	if (!c->json && !c->raw_text)
		term_safe_json(j);
	return j;
}

void
ctl_hello(struct ctl *c)
{
	json_t *h = proto_hello(), *r;

	ctl_write(c, h);
	json_decref(h);
	r = ctl_read(c);
	if (!json_is_true(json_object_get(r, "ok")))
		die("sentineld refused the hello: %s",
		    json_string_value(json_object_get(r, "error")));
	json_decref(r);
}

/*
 * A request of command NAME, of GUEST (or NULL), with the options given on
 * the command line that the command takes, each as the command table
 * types it.
 */
json_t *
request(const struct ctl *c, const char *name, const char *guest)
{
	const struct cmd_entry *e = cmd_find(name);
	json_t *req, *v;
	int a;

	if ((req = json_pack("{s:s}", "cmd", name)) == NULL)
		die("out of memory");
	if (guest != NULL && ((v = json_string(guest)) == NULL ||
	    json_object_set_new(req, "guest", v) == -1))
		die("guest name \"%s\" is not UTF-8", guest);
	for (a = 0; a < ARG_COUNT; a++) {
		if (c->opt[a] == 0 || !(e->args & CMD_ARG(a)))
			continue;
		v = cmd_args[a].type == CA_BOOL ? json_true() :
		    json_integer(c->opt[a]);
		if (json_object_set_new(req, cmd_args[a].name, v) == -1)
			die("out of memory");
	}
	return req;
}

/* Sends a request and returns the successful reply, or dies. */
json_t *
ctl_request(struct ctl *c, json_t *req)
{
	json_t *r, *id;

	json_object_set_new(req, "id", json_integer(1));
	ctl_write(c, req);
	json_decref(req);
	for (;;) {
		r = ctl_read(c);
		id = json_object_get(r, "id");
		if (json_is_integer(id) && json_integer_value(id) == 1) {
			/* Events come before the reply that ends them. */
			if (!json_is_string(json_object_get(r, "event")))
				break;
			show_event(c, r);
		}
		json_decref(r);
	}
	if (!json_is_true(json_object_get(r, "ok"))) {
		if (c->json) {
			json_dumpf(r, stdout, JSON_INDENT(2));
			putchar('\n');
			exit(EXIT_ERROR);
		}
		die("%s", json_string_value(json_object_get(r, "error")));
	}
	return r;
}
