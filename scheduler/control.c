/*
 * The control socket: newline-delimited JSON over AF_UNIX.  Every client
 * starts with a hello carrying the protocol version; then each request line
 * gets exactly one reply line with the request's id.  Bad input of any kind
 * gets an error reply and the connection stays usable.
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

#include "engine.h"
#include "log.h"
#include "proto.h"
#include "sentinel/version.h"
#include "sentineld.h"
#include "throttle.h"
#include "util.h"

#define MAX_PENDING_WRITE	(8 * 1024 * 1024)
#define MAX_NAME		1024

struct client {
	uv_pipe_t	 pipe;
	struct linebuf	 lb;
	int		 hello;
	int		 closed;
	int		 refs;
	TAILQ_ENTRY(client) entry;
	char		 rbuf[65536];
};

/* A request whose answer comes later (after a refresh, or a scan). */
struct pending {
	struct client	*c;
	long long	 id;
	char		*guest;
	int		 wait;
};

struct wreq {
	uv_write_t	 req;
	char		*buf;
};

static uv_pipe_t server;
static int server_open;
static TAILQ_HEAD(, client) clients = TAILQ_HEAD_INITIALIZER(clients);

static void client_close(struct client *);
static void client_finish(struct client *);

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

static void
reply_error(struct client *c, long long id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
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
static void
reply_ok(struct client *c, long long id, json_t *body)
{
	if (body == NULL)
		body = json_object();
	json_object_set_new(body, "ok", json_true());
	if (id >= 0)
		json_object_set_new(body, "id", json_integer(id));
	client_send(c, body);
	json_decref(body);
}

static struct pending *
pending_new(struct client *c, long long id, const char *guest, int wait)
{
	struct pending *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if (guest != NULL && (p->guest = strdup(guest)) == NULL) {
		free(p);
		return NULL;
	}
	p->c = c;
	p->id = id;
	p->wait = wait;
	client_ref(c);
	return p;
}

static void
pending_free(struct pending *p)
{
	client_unref(p->c);
	free(p->guest);
	free(p);
}

static json_t *
libvirt_json(void)
{
	json_t *o = json_pack("{s:s, s:b, s:b, s:I}", "uri",
	    sd.conf.libvirt_uri, "connected", inventory_connected(),
	    "events", inventory_live(),
	    "guests", (json_int_t)inventory_count());

	if (!inventory_connected())
		json_object_set_new(o, "error", json_string(inventory_error()));
	return o;
}

static json_t *
guest_json(const struct guest *g)
{
	json_t *disks = json_array(), *o, *last;
	struct job *j;
	size_t i;

	for (i = 0; i < g->ndisks; i++)
		json_array_append_new(disks, json_pack("{s:s, s:s, s:s}",
		    "target", g->disks[i].target, "path", g->disks[i].path,
		    "format", g->disks[i].format));
	o = json_pack("{s:s, s:s, s:s, s:o}", "name", g->name, "uuid",
	    g->uuid, "state", g->state, "disks", disks);
	if (g->disk_note != NULL)
		json_object_set_new(o, "disks_not_scanned",
		    json_string(g->disk_note));
	if ((last = jobs_unstored_json(g->uuid, NULL)) != NULL)
		json_object_del(last, "detections");
	else
		last = store_last_scan(g->uuid, NULL, 0);
	json_object_set_new(o, "last_scan", last ? last : json_null());
	j = jobs_find(g->uuid);
	json_object_set_new(o, "scan", j ? job_progress_json(j) : json_null());
	return o;
}

static void
guests_ready(void *arg)
{
	struct pending *p = arg;
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < inventory_count(); i++)
		json_array_append_new(a, guest_json(inventory_at(i)));
	reply_ok(p->c, p->id, json_pack("{s:o, s:o}", "guests", a,
	    "libvirt", libvirt_json()));
	pending_free(p);
}

static void
unknown_guest(struct client *c, long long id, const char *name)
{
	char *esc = escape_bytes(name, strlen(name));

	if (inventory_connected())
		reply_error(c, id, "unknown guest \"%s\": libvirt at %s has no "
		    "such domain", esc ? esc : "?", sd.conf.libvirt_uri);
	else
		reply_error(c, id, "unknown guest \"%s\": libvirt is "
		    "unreachable (%s)", esc ? esc : "?", inventory_error());
	free(esc);
}

static void
scan_finished(void *arg, const json_t *scan)
{
	struct pending *p = arg;

	reply_ok(p->c, p->id, json_pack("{s:O}", "scan", scan));
	pending_free(p);
}

/* What became of a scan request, from jobs_submit's *was. */
static const char *
request_name(int was)
{
	return was == 2 ? "already running" : was == 1 ?
	    "moved to the front" : "queued";
}

static void
scan_ready(void *arg)
{
	struct pending *p = arg;
	const struct guest *g;
	struct job *j;
	json_t *sj;
	char err[256];
	int was;

	if ((g = inventory_find(p->guest)) == NULL) {
		unknown_guest(p->c, p->id, p->guest);
		pending_free(p);
		return;
	}
	if ((j = jobs_submit(g, "on-demand", &was, err, sizeof(err))) == NULL) {
		reply_error(p->c, p->id, "scan %s: %s", g->name, err);
		pending_free(p);
		return;
	}
	if (!p->wait) {
		sj = job_progress_json(j);
		json_object_set_new(sj, "request",
		    json_string(request_name(was)));
		reply_ok(p->c, p->id, json_pack("{s:o}", "scan", sj));
		pending_free(p);
		return;
	}
	jobs_wait(j, scan_finished, p);
}

/* scan --all: every guest libvirt knows, on demand, under the caps. */
static void
scan_all_ready(void *arg)
{
	struct pending *p = arg;
	const struct guest *g;
	json_t *a = json_array(), *sj;
	struct job *j;
	char err[256];
	size_t i;
	int was;

	for (i = 0; i < inventory_count(); i++) {
		g = inventory_at(i);
		if ((j = jobs_submit(g, "on-demand", &was, err, sizeof(err))) ==
		    NULL)
			sj = json_pack("{s:s, s:s}", "guest", g->name, "error",
			    err);
		else {
			sj = job_progress_json(j);
			json_object_set_new(sj, "request",
			    json_string(request_name(was)));
		}
		json_array_append_new(a, sj);
	}
	reply_ok(p->c, p->id, json_pack("{s:o}", "scans", a));
	pending_free(p);
}

/* Reads "guest" of a request: a string of sane length. */
static const char *
req_guest(struct client *c, long long id, json_t *req)
{
	json_t *g = json_object_get(req, "guest");

	if (!json_is_string(g)) {
		reply_error(c, id, "this command needs a string \"guest\"");
		return NULL;
	}
	if (json_string_length(g) == 0 || json_string_length(g) > MAX_NAME ||
	    strlen(json_string_value(g)) != json_string_length(g)) {
		reply_error(c, id, "\"guest\" must be 1 to %d bytes, no NUL",
		    MAX_NAME);
		return NULL;
	}
	return json_string_value(g);
}

static void
cmd_guests(struct client *c, long long id, json_t *req)
{
	struct pending *p;

	(void)req;
	if ((p = pending_new(c, id, NULL, 0)) == NULL) {
		reply_error(c, id, "out of memory");
		return;
	}
	/* Following libvirt's events, the list is current; else it is read
	 * again first. */
	if (inventory_live())
		guests_ready(p);
	else
		inventory_refresh(guests_ready, p);
}

static void
cmd_scan(struct client *c, long long id, json_t *req)
{
	json_t *wait = json_object_get(req, "wait");
	json_t *all = json_object_get(req, "all");
	struct pending *p;
	const char *name;

	if (all != NULL && !json_is_boolean(all)) {
		reply_error(c, id, "\"all\" must be true or false");
		return;
	}
	if (json_is_true(all)) {
		if (json_object_get(req, "guest") != NULL ||
		    json_is_true(wait)) {
			reply_error(c, id, "\"all\" goes without \"guest\" "
			    "and \"wait\"");
			return;
		}
		if ((p = pending_new(c, id, NULL, 0)) == NULL) {
			reply_error(c, id, "out of memory");
			return;
		}
		inventory_refresh(scan_all_ready, p);
		return;
	}
	if ((name = req_guest(c, id, req)) == NULL)
		return;
	if (wait != NULL && !json_is_boolean(wait)) {
		reply_error(c, id, "\"wait\" must be true or false");
		return;
	}
	if ((p = pending_new(c, id, name, json_is_true(wait))) == NULL) {
		reply_error(c, id, "out of memory");
		return;
	}
	inventory_refresh(scan_ready, p);
}

static void
cmd_results(struct client *c, long long id, json_t *req)
{
	const struct guest *g;
	const char *name;
	json_t *scan, *sk = json_object_get(req, "skipped");
	char *esc;

	if ((name = req_guest(c, id, req)) == NULL)
		return;
	if (sk != NULL && !json_is_boolean(sk)) {
		reply_error(c, id, "\"skipped\" must be true or false");
		return;
	}
	g = inventory_find(name);
	/* A result waiting for the state database is the newest. */
	if ((scan = jobs_unstored_json(g ? g->uuid : NULL, name)) == NULL)
		scan = store_last_scan(g ? g->uuid : NULL, g ? NULL : name,
		    STORE_DETECTIONS | (json_is_true(sk) ? STORE_SKIPPED : 0));
	if (scan == NULL) {
		if (g == NULL) {
			unknown_guest(c, id, name);
			return;
		}
		esc = escape_bytes(name, strlen(name));
		reply_error(c, id, "guest \"%s\" has not been scanned yet",
		    esc ? esc : "?");
		free(esc);
		return;
	}
	reply_ok(c, id, json_pack("{s:o}", "scan", scan));
}

static void
cmd_cancel(struct client *c, long long id, json_t *req)
{
	const struct guest *g;
	const char *name, *what;
	struct job *j;
	json_t *sj;

	if ((name = req_guest(c, id, req)) == NULL)
		return;
	if ((g = inventory_find(name)) == NULL) {
		unknown_guest(c, id, name);
		return;
	}
	if ((j = jobs_find(g->uuid)) == NULL) {
		reply_error(c, id, "guest \"%s\" has no scan running or "
		    "requested", g->name);
		return;
	}
	sj = job_progress_json(j);	/* before a withdrawn job is freed */
	what = jobs_cancel(j);
	json_object_set_new(sj, "request", json_string(what));
	reply_ok(c, id, json_pack("{s:o}", "scan", sj));
}

static void
reload_replied(void *arg, const char *err)
{
	struct pending *p = arg;

	if (err != NULL)
		reply_error(p->c, p->id, "reload failed, the signatures "
		    "loaded before stay: %s", err);
	else
		reply_ok(p->c, p->id, json_pack("{s:{s:s, s:i, s:I, s:s}}",
		    "engine", "database", engine_dbdir(sd.engine),
		    "signatures", (int)engine_signatures(sd.engine),
		    "load_ms", (json_int_t)engine_load_ms(sd.engine),
		    "version", engine_version(sd.engine)));
	pending_free(p);
}

static void
cmd_reload(struct client *c, long long id, json_t *req)
{
	struct pending *p;

	(void)req;
	if ((p = pending_new(c, id, NULL, 0)) == NULL) {
		reply_error(c, id, "out of memory");
		return;
	}
	signatures_reload(reload_replied, p);
}

static void
cmd_schedule(struct client *c, long long id, json_t *req)
{
	(void)req;
	reply_ok(c, id, json_pack("{s:o}", "guests", schedule_json()));
}

static void
cmd_status(struct client *c, long long id, json_t *req)
{
	struct pressure pr;
	int high;

	(void)req;
	high = schedule_pressure(&pr);
	reply_ok(c, id, json_pack("{s:s, s:i, s:I, s:o, s:{s:s, s:i, s:I, s:s, "
	    "s:I}, s:{s:i, s:i, s:i, s:i, s:I, s:o}, s:{s:f, s:f, s:f, s:b}}",
	    "version", SENTINEL_VERSION,
	    "pid", (int)getpid(),
	    "uptime", (json_int_t)((now_ms() - sd.started_ms) / 1000),
	    "libvirt", libvirt_json(),
	    "engine", "database", engine_dbdir(sd.engine),
	    "signatures", (int)engine_signatures(sd.engine),
	    "load_ms", (json_int_t)engine_load_ms(sd.engine),
	    "version", engine_version(sd.engine),
	    "cached_clean", (json_int_t)vcache_size(),
	    "scans", "running", (int)jobs_running(),
	    "queued", (int)schedule_waiting(),
	    "max_concurrent", (int)sd.max_scans,
	    "per_storage", (int)sd.conf.per_storage_scans,
	    "read_rate", (json_int_t)throttle_rate(schedule_throttle()),
	    "jobs", jobs_json(),
	    "pressure", "io", pr.io, "cpu", pr.cpu, "load", pr.load,
	    "high", high));
}

static const struct ctl_cmd {
	const char	*name;
	void		(*fn)(struct client *, long long, json_t *);
} ctl_cmds[] = {
	{ "guests",	cmd_guests },
	{ "scan",	cmd_scan },
	{ "cancel",	cmd_cancel },
	{ "reload",	cmd_reload },
	{ "results",	cmd_results },
	{ "schedule",	cmd_schedule },
	{ "status",	cmd_status },
};

static void
handle_request(struct client *c, json_t *req)
{
	char err[256], known[256] = "";
	const char *cmd;
	long long id;
	size_t i;

	if (proto_request(req, &cmd, &id, err, sizeof(err)) == -1) {
		reply_error(c, id, "%s", err);
		return;
	}
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		if (strcmp(cmd, ctl_cmds[i].name) == 0) {
			ctl_cmds[i].fn(c, id, req);
			return;
		}
		snprintf(known + strlen(known), sizeof(known) - strlen(known),
		    "%s%s", i ? ", " : "", ctl_cmds[i].name);
	}
	if (strlen(cmd) > 64)
		reply_error(c, id, "unknown command (known: %s)", known);
	else {
		char *esc = escape_bytes(cmd, strlen(cmd));
		reply_error(c, id, "unknown command \"%s\" (known: %s)",
		    esc ? esc : "?", known);
		free(esc);
	}
}

static int
on_line(void *arg, const char *line, size_t len)
{
	struct client *c = arg;
	char err[256];
	json_t *msg, *h;

	if (c->closed)
		return -1;
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

static void
on_client_closed(uv_handle_t *h)
{
	struct client *c = h->data;

	TAILQ_REMOVE(&clients, c, entry);
	client_unref(c);
}

static void
client_close(struct client *c)
{
	if (c->closed)
		return;
	c->closed = 1;
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
	uv_read_stop((uv_stream_t *)&c->pipe);
	if ((req = calloc(1, sizeof(*req))) != NULL) {
		req->data = c;
		if (uv_shutdown(req, (uv_stream_t *)&c->pipe, on_shutdown) == 0)
			return;
		free(req);
	}
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void
on_connection(uv_stream_t *srv, int status)
{
	struct client *c;

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
	if (uv_accept(srv, (uv_stream_t *)&c->pipe) != 0 ||
	    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0) {
		client_close(c);
		return;
	}
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
	    (gr != NULL && chown(path, 0, gr->gr_gid) == -1)) {
		snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((r = uv_listen((uv_stream_t *)&server, 128, on_connection)) != 0) {
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
