/*
 * The control socket: newline-delimited JSON over AF_UNIX.  Every client
 * starts with a hello carrying the protocol version; then each request line
 * gets exactly one reply line with the request's id.  Bad input of any kind
 * gets an error reply and the connection stays usable.
 *
 * Access: the socket file is 0660, root's and [control] group's; beyond
 * that each client's credentials (SO_PEERCRED) are checked, so a socket
 * whose mode was loosened still serves only root and the group.  A client
 * that says no hello within HELLO_TIMEOUT_MS, or sends nothing for
 * IDLE_TIMEOUT_MS with no request outstanding, is told so and closed.
 *
 * This file moves bytes and checks peers: the connection, the hello, the
 * framing, the replies.  What each command does is ctlcmds.c's.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "sentinel/version.h"
#include "sentineld.h"
#include "util.h"

#define MAX_PENDING_WRITE	(4 * 1024 * 1024)
#define HELLO_TIMEOUT_MS	10000
#define IDLE_TIMEOUT_MS		600000

struct client {
	uv_pipe_t	 pipe;
	uv_timer_t	 timer;		/* hello, then idle timeout */
	int		 timer_closed;
	struct linebuf	 lb;
	int		 hello;
	int		 closed;
	int		 refs;
	int		 npending;	/* requests answered later */
	int		 counted;	/* not root: one of nusers */
	TAILQ_ENTRY(client) entry;
	char		 rbuf[65536];
};

struct wreq {
	uv_write_t	 req;
	char		*buf;
};

static uv_pipe_t server;
static int server_open;
static gid_t ctl_gid;		/* [control] group's, when set */
static int have_gid;
static TAILQ_HEAD(, client) clients = TAILQ_HEAD_INITIALIZER(clients);

static void client_close(struct client *);
static void client_finish(struct client *);
static void on_client_timer(uv_timer_t *);

void
client_ref(struct client *c)
{
	c->refs++;
}

void
client_unref(struct client *c)
{
	if (--c->refs > 0)
		return;
	linebuf_free(&c->lb);
	free(c);
}

/* Whether C's connection is closed (what is sent to it is dropped). */
int
client_closed(const struct client *c)
{
	return c->closed;
}

/* A request of C whose answer comes later: +1 when it is taken, -1 when
 * answered.  A client with one is not idle. */
void
client_pending(struct client *c, int delta)
{
	c->npending += delta;
}

static void
on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;

	(void)status;
	free(w->buf);
	free(w);
}

void
client_send(struct client *c, json_t *msg)
{
	struct wreq *w;
	uv_buf_t b;
	size_t len;

	if (c->closed)
		return;
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) >
	    MAX_PENDING_WRITE) {
		log_warnx("control: client does not read its replies; "
		    "closing it");
		client_close(c);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->buf = proto_encode(msg, &len)) == NULL) {
		free(w);
		log_warnx("control: out of memory for a reply");
		return;
	}
	b = uv_buf_init(w->buf, (unsigned int)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_write) != 0) {
		free(w->buf);
		free(w);
		client_close(c);
	}
}

void
reply_error(struct client *c, long long id, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	if (id >= 0)
		json_object_set_new(j, "id", json_integer(id));
	client_send(c, j);
	json_decref(j);
}

/* Sends {"id":id,"ok":true} merged with body (body's reference is taken). */
void
reply_ok(struct client *c, long long id, json_t *body)
{
	/* A reply that could not be built (json_pack failed: no memory) is
	 * an error, never "ok" without its data. */
	if (body == NULL) {
		reply_error(c, id, "out of memory building the reply");
		return;
	}
	json_object_set_new(body, "ok", json_true());
	if (id >= 0)
		json_object_set_new(body, "id", json_integer(id));
	client_send(c, body);
	json_decref(body);
}

static void
handle_request(struct client *c, json_t *req)
{
	char err[256];
	const char *cmd;
	long long id;

	if (proto_request(req, &cmd, &id, err, sizeof(err)) == -1) {
		reply_error(c, id, "%s", err);
		return;
	}
	ctl_handle(c, id, cmd, req);
}

static int
on_line(void *arg, const char *line, size_t len)
{
	struct client *c = arg;
	char err[256];
	json_t *msg, *h;

	if (c->closed)
		return -1;
	uv_timer_start(&c->timer, on_client_timer, c->hello ?
	    IDLE_TIMEOUT_MS : HELLO_TIMEOUT_MS, 0);
	if (line == NULL) {
		reply_error(c, -1, "request longer than %d bytes, ignored",
		    PROTO_MAX_LINE);
		return 0;
	}
	if (len == 0)
		return 0;
	if ((msg = proto_parse(line, len, err, sizeof(err))) == NULL) {
		reply_error(c, -1, "%s", err);
		return 0;
	}
	if (!c->hello) {
		if (proto_check_hello(msg, err, sizeof(err)) == -1)
			reply_error(c, -1, "%s", err);
		else {
			c->hello = 1;
			uv_timer_start(&c->timer, on_client_timer,
			    IDLE_TIMEOUT_MS, 0);
			h = json_pack("{s:s, s:i, s:s}", "hello", "sentineld",
			    "version", SENTINEL_PROTO_VERSION, "server_version",
			    SENTINEL_VERSION);
			reply_ok(c, -1, h);
		}
	} else
		handle_request(c, msg);
	json_decref(msg);
	return 0;
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct client *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct client *c = s->data;

	if (n == UV_EOF) {
		client_finish(c);	/* the client may still read replies */
		return;
	}
	if (n < 0) {
		client_close(c);
		return;
	}
	client_ref(c);
	if (linebuf_feed(&c->lb, buf->base, (size_t)n, on_line, c) == -1 &&
	    !c->closed) {
		log_warnx("control: out of memory reading a request");
		client_close(c);
	}
	client_unref(c);
}

/* Clients that are not root, connected now: at most [control]
 * max_clients, so that members of the group cannot take every descriptor
 * (each client holds one, and a 64 KiB buffer) from the scans and from
 * root, who is always served. */
static int nusers;
static int64_t refused_said;

static void
on_client_closed(uv_handle_t *h)
{
	struct client *c = h->data;

	if (c->counted)
		nusers--;
	TAILQ_REMOVE(&clients, c, entry);
	client_unref(c);
}

static void
on_timer_closed(uv_handle_t *h)
{
	client_unref(h->data);
}

static void
client_stop_timer(struct client *c)
{
	if (c->timer_closed)
		return;
	c->timer_closed = 1;
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void
client_close(struct client *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	client_stop_timer(c);
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct client *c = req->data;

	(void)status;
	free(req);
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

/* Closes a client after the replies already queued are written. */
static void
client_finish(struct client *c)
{
	uv_shutdown_t *req;

	if (c->closed)
		return;
	c->closed = 1;
	client_stop_timer(c);
	uv_read_stop((uv_stream_t *)&c->pipe);
	if ((req = calloc(1, sizeof(*req))) != NULL) {
		req->data = c;
		if (uv_shutdown(req, (uv_stream_t *)&c->pipe, on_shutdown) == 0)
			return;
		free(req);
	}
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

/* Root, or sentineld's own user where it does not run as root (the
 * tests' fast tier): every command, no client cap. */
static int
trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* Trusted, or a process whose group or supplementary groups hold
 * [control] group (read from /proc: the groups the peer has now). */
static int
peer_allowed(struct client *c, uid_t *uid, char *why, size_t whylen)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	uv_os_fd_t fd;
	char path[64], line[4096], *p, *end;
	unsigned long g;
	FILE *f;
	int ok = 0;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1) {
		snprintf(why, whylen, "cannot read the client's credentials");
		return -1;
	}
	*uid = cr.uid;
	if (trusted(cr.uid))
		return 0;
	if (have_gid) {
		if (cr.gid == ctl_gid)
			return 0;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)cr.pid);
		if ((f = fopen(path, "r")) != NULL) {
			while (!ok && fgets(line, sizeof(line), f) != NULL) {
				if (strncmp(line, "Groups:", 7) != 0)
					continue;
				for (p = line + 7; ; p = end) {
					g = strtoul(p, &end, 10);
					if (end == p)
						break;
					if ((gid_t)g == ctl_gid)
						ok = 1;
				}
			}
			fclose(f);
		}
		if (ok)
			return 0;
		snprintf(why, whylen, "uid %u (pid %d) is neither root nor in "
		    "group %s", (unsigned)cr.uid, (int)cr.pid,
		    sd.conf.control_group);
	} else
		snprintf(why, whylen, "uid %u (pid %d) is not root, and no "
		    "[control] group is set", (unsigned)cr.uid, (int)cr.pid);
	return -1;
}

static void
on_client_timer(uv_timer_t *t)
{
	struct client *c = t->data;

	/* Waiting for a scan or a refresh is not idle. */
	if (c->hello && c->npending > 0) {
		uv_timer_start(t, on_client_timer, IDLE_TIMEOUT_MS, 0);
		return;
	}
	reply_error(c, -1, c->hello ? "no request for %d s; closing" :
	    "no hello within %d s; closing", (c->hello ? IDLE_TIMEOUT_MS :
	    HELLO_TIMEOUT_MS) / 1000);
	client_finish(c);
}

static void
on_connection(uv_stream_t *srv, int status)
{
	struct client *c;
	char why[256];
	uid_t uid = 0;

	if (status < 0) {
		log_warnx("control: accept: %s", uv_strerror(status));
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("control: out of memory for a client");
		return;
	}
	linebuf_init(&c->lb);
	c->refs = 1;
	uv_pipe_init(sd.loop, &c->pipe, 0);
	c->pipe.data = c;
	TAILQ_INSERT_TAIL(&clients, c, entry);
	uv_timer_init(sd.loop, &c->timer);
	c->timer.data = c;
	client_ref(c);		/* the timer's */
	if (uv_accept(srv, (uv_stream_t *)&c->pipe) != 0) {
		client_close(c);
		return;
	}
	if (peer_allowed(c, &uid, why, sizeof(why)) == -1) {
		log_warnx("control: refused a client: %s", why);
		reply_error(c, -1, "permission denied: %s", why);
		client_finish(c);
		return;
	}
	if (!trusted(uid) && nusers >= sd.conf.max_clients) {
		/* Said once a minute, not once per client of a flood. */
		if (now_ms() - refused_said > 60000) {
			log_warnx("control: refused a client (uid %u): %d "
			    "clients of the group connected ([control] "
			    "max_clients)", (unsigned)uid, nusers);
			refused_said = now_ms();
		}
		reply_error(c, -1, "too many clients connected (%d); try "
		    "again later", nusers);
		client_finish(c);
		return;
	}
	if (!trusted(uid)) {
		c->counted = 1;
		nusers++;
	}
	if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0) {
		client_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_client_timer, HELLO_TIMEOUT_MS, 0);
}

/* An existing socket file is stale unless a daemon answers on it. */
static int
socket_in_use(const char *path)
{
	struct sockaddr_un sun;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0;
}

int
control_init(char *err, size_t errlen)
{
	const char *path = sd.conf.control_socket;
	struct sockaddr_un sun;
	struct group *gr = NULL;
	mode_t old;
	int r;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path %s is too long", path);
		return -1;
	}
	if (*sd.conf.control_group != '\0' &&
	    (gr = getgrnam(sd.conf.control_group)) == NULL) {
		snprintf(err, errlen, "control group %s does not exist",
		    sd.conf.control_group);
		return -1;
	}
	if (gr != NULL) {
		ctl_gid = gr->gr_gid;
		have_gid = 1;
	}
	if (socket_in_use(path)) {
		snprintf(err, errlen, "another sentineld is listening on %s",
		    path);
		return -1;
	}
	(void)unlink(path);
	uv_pipe_init(sd.loop, &server, 0);
	server_open = 1;
	old = umask(0117);
	r = uv_pipe_bind(&server, path);
	umask(old);
	if (r != 0) {
		snprintf(err, errlen, "control socket %s: %s", path,
		    uv_strerror(r));
		return -1;
	}
	if (chmod(path, 0660) == -1 ||
	    (gr != NULL && chown(path, (uid_t)-1, gr->gr_gid) == -1)) {
		snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((r = uv_listen((uv_stream_t *)&server, SOMAXCONN,
	    on_connection)) != 0) {
		snprintf(err, errlen, "control socket %s: listen: %s", path,
		    uv_strerror(r));
		return -1;
	}
	return 0;
}

/* Stops accepting; clients already connected are left alone. */
void
control_close(void)
{
	if (!server_open)
		return;
	server_open = 0;
	uv_close((uv_handle_t *)&server, NULL);
	(void)unlink(sd.conf.control_socket);
}

/* Closes every client once the replies already queued are written. */
void
control_close_clients(void)
{
	struct client *c;

	TAILQ_FOREACH(c, &clients, entry)
		client_finish(c);
}
