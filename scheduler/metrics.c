/*
 * Prometheus metrics, in the text exposition format (version 0.0.4).
 *
 * Counters and histograms grow as scans end (metrics_scan_done, on the
 * loop thread) and start from zero with the process, as Prometheus
 * expects of a counter; gauges are read when the page is made.  The page
 * is served on a loopback TCP port or a Unix socket ([metrics] listen),
 * and written to a node_exporter textfile ([metrics] textfile) every
 * textfile_interval, by a rename so that no half of one is ever read.
 *
 * The server speaks just enough HTTP/1.x for a scraper: one GET or HEAD
 * of /metrics a connection, its request at most 8 KiB and in within 10 s,
 * at most 16 connections at once; the answer closes the connection.
 * Labels take values from fixed sets (status, trigger, reason, state,
 * plugin names from the configuration), and guest names only where
 * [metrics] guest_labels says so: a series per guest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sentinel/version.h"
#include "sentineld.h"
#include "util.h"

#define REQ_MAX		8192
#define REQ_TIMEOUT_MS	10000
#define MAX_CONNS	16

/* The triggers a scan has (jobs_submit's callers); any other is "other". */
static const char *const triggers[] = { "schedule", "on-demand", "shutdown",
    "other" };
#define NTRIGGERS	(sizeof(triggers) / sizeof(triggers[0]))

/* policy_explain's answers: a gauge each, zeros included. */
static const char *const states[] = { "idle", "next", "cap", "storage",
    "pressure", "window", "busy", "fleet", "running", "paused",
    "excluded" };
#define NSTATES		(sizeof(states) / sizeof(states[0]))

static const double launch_le[] = { 1, 2, 5, 10, 15, 20, 30, 45, 60, 90,
    120, 300 };
static const double duration_le[] = { 1, 5, 10, 30, 60, 120, 300, 600,
    1800, 3600, 7200, 14400, 43200 };
#define HIST_MAX	16

struct hist {
	const double	*le;
	size_t		 n;
	uint64_t	 counts[HIST_MAX];	/* per bucket, not cumulative */
	uint64_t	 count;
	double		 sum;
};

static struct {
	uint64_t	 scans[SCAN_NSTATUS][NTRIGGERS];
	uint64_t	 carried;
	uint64_t	 detections;
	uint64_t	 files, bytes_read, bytes_scanned;
	uint64_t	 cache_hits, unchanged;
	uint64_t	 skipped[SKIP_NREASONS];
	struct hist	 launch, duration;
} m = {
	.launch = { launch_le, sizeof(launch_le) / sizeof(launch_le[0]),
	    { 0 }, 0, 0 },
	.duration = { duration_le, sizeof(duration_le) /
	    sizeof(duration_le[0]), { 0 }, 0, 0 },
};

static void
observe(struct hist *h, double v)
{
	size_t i;

	for (i = 0; i < h->n && v > h->le[i]; i++)
		;
	if (i < h->n)
		h->counts[i]++;
	h->count++;
	h->sum += v;
}

/* A scan ended (finish, on the loop): what it did, once. */
void
metrics_scan_done(const struct job *j)
{
	const struct scan_result *r = &j->result;
	size_t t, i;

	for (t = 0; t < NTRIGGERS - 1 && strcmp(j->trigger, triggers[t]) != 0;
	    t++)
		;
	if ((unsigned int)r->status < SCAN_NSTATUS)
		m.scans[r->status][t]++;
	m.detections += r->ndetections;
	if (j->carried_from > 0) {
		/* Nothing was read: no launch, no duration to learn from. */
		m.carried++;
		return;
	}
	m.files += r->files;
	m.bytes_read += r->bytes_read;
	m.bytes_scanned += r->bytes_scanned;
	m.cache_hits += r->cache_hits;
	m.unchanged += r->unchanged;
	for (i = 0; i < SKIP_NREASONS; i++)
		m.skipped[i] += r->skipped[i];
	if (r->launch_ms > 0)
		observe(&m.launch, (double)r->launch_ms / 1000);
	if (j->started_ms > 0 && j->ended_ms >= j->started_ms)
		observe(&m.duration, (double)(j->ended_ms - j->started_ms) /
		    1000);
}

/* The page, grown as it is written. */
struct page {
	char	*b;
	size_t	 len, cap;
	int	 oom;
};

static void __attribute__((format(printf, 2, 3)))
put(struct page *p, const char *fmt, ...)
{
	va_list ap;
	size_t need;
	int n;
	char *nb;

	if (p->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(p->b + p->len, p->cap - p->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			p->oom = 1;
			return;
		}
		if ((size_t)n < p->cap - p->len) {
			p->len += (size_t)n;
			return;
		}
		need = p->len + (size_t)n + 1;
		if ((nb = realloc(p->b, need > 2 * p->cap ? need : 2 * p->cap)) ==
		    NULL) {
			p->oom = 1;
			return;
		}
		p->cap = need > 2 * p->cap ? need : 2 * p->cap;
		p->b = nb;
	}
}

static void
head(struct page *p, const char *name, const char *type, const char *help)
{
	put(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format wants it: backslash, quote and newline
 * escaped; control bytes and bytes that are not UTF-8 as U+FFFD. */
static void
put_label(struct page *p, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, n, k;

	for (i = 0; u[i] != '\0'; i += n) {
		n = 1;
		if (u[i] == '\\' || u[i] == '"')
			put(p, "\\%c", u[i]);
		else if (u[i] == '\n')
			put(p, "\\n");
		else if (u[i] < 0x20 || u[i] == 0x7f)
			put(p, "\xef\xbf\xbd");
		else if (u[i] < 0x80)
			put(p, "%c", u[i]);
		else {
			n = u[i] >= 0xf0 && u[i] < 0xf5 ? 4 : u[i] >= 0xe0 ?
			    3 : u[i] >= 0xc2 && u[i] < 0xe0 ? 2 : 0;
			for (k = 1; n > 0 && k < n; k++)
				if ((u[i + k] & 0xc0) != 0x80)
					n = 0;
			if (n == 0) {
				put(p, "\xef\xbf\xbd");
				n = 1;
			} else
				put(p, "%.*s", (int)n, (const char *)u + i);
		}
	}
}

static void
put_hist(struct page *p, const char *name, const char *help,
    const struct hist *h)
{
	uint64_t cum = 0;
	size_t i;

	head(p, name, "histogram", help);
	for (i = 0; i < h->n; i++) {
		cum += h->counts[i];
		put(p, "%s_bucket{le=\"%g\"} %llu\n", name, h->le[i],
		    (unsigned long long)cum);
	}
	put(p, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.3f\n%s_count %llu\n",
	    name, (unsigned long long)h->count, name, h->sum, name,
	    (unsigned long long)h->count);
}

static void
put_dropped(void *arg, const char *plugin, uint64_t n)
{
	struct page *p = arg;

	put(p, "sentinel_plugin_events_dropped_total{plugin=\"");
	put_label(p, plugin);
	put(p, "\"} %llu\n", (unsigned long long)n);
}

static void
put_guest(struct page *p, const char *name, const struct guest *g, double v,
    int decimals)
{
	put(p, "%s{guest=\"", name);
	put_label(p, g->name);
	put(p, "\"} %.*f\n", decimals, v);
}

static void
put_guests(struct page *p)
{
	unsigned int counts[NSTATES];
	const struct guest *g;
	struct store_last *last;
	size_t i, n;

	schedule_count_states(states, NSTATES, counts);
	head(p, "sentinel_guests", "gauge", "Guests by what they are doing "
	    "or waiting for (sentinelctl schedule's state).");
	for (i = 0; i < NSTATES; i++)
		put(p, "sentinel_guests{state=\"%s\"} %u\n", states[i],
		    counts[i]);
	if (!sd.conf.metrics_guest_labels || (n = inventory_count()) == 0)
		return;
	/* Each family's series together, as the format wants: the last
	 * scans are read once. */
	if ((last = calloc(n, sizeof(*last))) == NULL) {
		p->oom = 1;
		return;
	}
	for (i = 0; i < n; i++)
		if (store_last_result(inventory_at(i)->uuid, &last[i]) == -1)
			memset(&last[i], 0, sizeof(last[i]));
	head(p, "sentinel_guest_last_scan_end_timestamp_seconds", "gauge",
	    "When the guest's last scan ended (0: never scanned).");
	for (i = 0; i < n; i++)
		put_guest(p, "sentinel_guest_last_scan_end_timestamp_seconds",
		    inventory_at(i), (double)last[i].ended_ms / 1000, 3);
	head(p, "sentinel_guest_last_scan_detections", "gauge",
	    "Detections of the guest's last scan.");
	for (i = 0; i < n; i++)
		put_guest(p, "sentinel_guest_last_scan_detections",
		    inventory_at(i), (double)last[i].detections, 0);
	head(p, "sentinel_guest_last_complete_scan_end_timestamp_seconds",
	    "gauge", "When the guest's last complete scan (clean or "
	    "infected) ended (0: none).");
	for (i = 0; i < n; i++) {
		g = inventory_at(i);
		put_guest(p, "sentinel_guest_last_complete_scan_end_timestamp_"
		    "seconds", g, (double)schedule_last_complete(g->uuid) /
		    1000, 3);
	}
	free(last);
}

/* A family of one series. */
static void
one(struct page *p, const char *name, const char *type, const char *help,
    unsigned long long v)
{
	head(p, name, type, help);
	put(p, "%s %llu\n", name, v);
}

static void
one_f(struct page *p, const char *name, const char *help, double v)
{
	head(p, name, "gauge", help);
	put(p, "%s %.3f\n", name, v);
}

/* What the scans that ended did. */
static void
put_counters(struct page *p)
{
	size_t s, t;

	head(p, "sentinel_scans_total", "counter", "Scans that ended, by "
	    "status and trigger (carried-over results included).");
	for (s = 0; s < SCAN_NSTATUS; s++)
		for (t = 0; t < NTRIGGERS; t++)
			put(p, "sentinel_scans_total{status=\"%s\","
			    "trigger=\"%s\"} %llu\n",
			    scan_status_name((enum scan_status)s), triggers[t],
			    (unsigned long long)m.scans[s][t]);
	one(p, "sentinel_scans_carried_over_total", "counter", "Scans of "
	    "unchanged shut-off guests whose last result was carried over, "
	    "nothing read.", m.carried);
	one(p, "sentinel_detections_total", "counter",
	    "Detections reported by the scans that ended.", m.detections);
	one(p, "sentinel_files_scanned_total", "counter",
	    "Files read and checked.", m.files);
	one(p, "sentinel_read_bytes_total", "counter",
	    "Bytes read out of guests.", m.bytes_read);
	one(p, "sentinel_scanned_bytes_total", "counter",
	    "Bytes given to the engines.", m.bytes_scanned);
	head(p, "sentinel_files_skipped_total", "counter",
	    "Files and filesystems not scanned in full, by reason.");
	for (s = 0; s < SKIP_NREASONS; s++)
		put(p, "sentinel_files_skipped_total{reason=\"%s\"} %llu\n",
		    skip_reason_name((enum skip_reason)s),
		    (unsigned long long)m.skipped[s]);
	one(p, "sentinel_verdict_cache_hits_total", "counter", "Files known "
	    "clean by their content hash, not scanned again.", m.cache_hits);
	one(p, "sentinel_file_index_unchanged_total", "counter",
	    "Files the file index knew unchanged, not read.", m.unchanged);
	put_hist(p, "sentinel_appliance_launch_seconds",
	    "Time to launch a scan's appliance.", &m.launch);
	put_hist(p, "sentinel_scan_duration_seconds",
	    "Time from a scan's start to its end.", &m.duration);
}

/* The queue now, and the guests by what holds them. */
static void
put_queue(struct page *p)
{
	one(p, "sentinel_scans_running", "gauge", "Scans running now.",
	    jobs_running());
	one(p, "sentinel_scans_queued", "gauge", "Scans waiting to start "
	    "(sentinel_guests says what holds them).", schedule_waiting());
	one(p, "sentinel_max_concurrent_scans", "gauge",
	    "The cap on scans at once.", sd.max_scans);
	one(p, "sentinel_paused", "gauge",
	    "1 while every scheduled scan is paused.",
	    schedule_paused(NULL) > 0);
	put_guests(p);
	if (fleet_enabled()) {
		one(p, "sentinel_fleet_connected", "gauge", "1 while the fleet's "
		    "database answers ([fleet] database).", fleet_ready());
		one(p, "sentinel_fleet_backlog", "gauge", "Scans kept for the "
		    "fleet's database, not sent yet.",
		    (unsigned long long)(store_fleet_backlog() > 0 ?
		    store_fleet_backlog() : 0));
	}
}

static void
put_engine(struct page *p, const struct scanner *sc)
{
	int64_t built, now = (int64_t)time(NULL);

	one(p, "sentinel_signatures", "gauge",
	    "Signatures the engine loaded.", scanner_signatures(sc));
	one(p, "sentinel_yara_rules", "gauge",
	    "YARA rules the engine loaded.", scanner_yara_rules(sc));
	one_f(p, "sentinel_engine_load_seconds", "Time the current engine "
	    "took to load its signatures.", (double)scanner_load_ms(sc) / 1000);
	if ((built = scanner_signature_time(sc)) > 0)
		one(p, "sentinel_signatures_age_seconds", "gauge", "Age of the "
		    "loaded signatures: since the newest build time of the "
		    ".cvd and .cld headers, or the newest database file.",
		    (unsigned long long)(now > built ? now - built : 0));
	one(p, "sentinel_signatures_outdated", "gauge", "1 while the loaded "
	    "signatures are older than [clamav] max_signature_age.",
	    scanner_outdated(sc, now));
}

/* The whole page; NULL when out of memory.  *LEN its length. */
static char *
render(size_t *len)
{
	struct page p = { NULL, 0, 0, 0 };
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((p.b = malloc(16384)) == NULL)
		return NULL;
	p.cap = 16384;
	p.b[0] = '\0';
	head(&p, "sentinel_build_info", "gauge", "sentineld's version.");
	put(&p, "sentinel_build_info{version=\"%s\"} 1\n", SENTINEL_VERSION);
	one_f(&p, "sentinel_start_time_seconds",
	    "When sentineld started, since the epoch.",
	    (double)sd.started_ms / 1000);
	put_counters(&p);
	put_queue(&p);
	if (sd.scanner != NULL)
		put_engine(&p, sd.scanner);
	head(&p, "sentinel_plugin_events_dropped_total", "counter",
	    "Events a plugin's full queue dropped.");
	plugins_dropped(put_dropped, &p);
	one(&p, "sentinel_results_unstored", "gauge", "Results the state "
	    "database could not take yet, kept in memory.",
	    jobs_unstored_count());
	one(&p, "sentinel_libvirt_connected", "gauge",
	    "1 when the last inventory refresh reached libvirt.",
	    (unsigned long long)inventory_connected());
	clock_gettime(CLOCK_MONOTONIC, &t1);
	head(&p, "sentinel_metrics_render_seconds", "gauge",
	    "Time this page took to make.");
	put(&p, "sentinel_metrics_render_seconds %.6f\n",
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (p.oom) {
		free(p.b);
		return NULL;
	}
	*len = p.len;
	return p.b;
}

/* The HTTP side. */
struct conn {
	union {
		uv_tcp_t	 tcp;
		uv_pipe_t	 pipe;
		uv_stream_t	 stream;
		uv_handle_t	 handle;
	} h;
	uv_timer_t	 timer;
	uv_write_t	 wr;
	char		 req[REQ_MAX];
	size_t		 len;
	char		*out;
	int		 closing;
	int		 open_handles;
};

static union {
	uv_tcp_t	 tcp;
	uv_pipe_t	 pipe;
	uv_stream_t	 stream;
	uv_handle_t	 handle;
} server;
static int server_open, server_unix;
static unsigned int nconns;
static uv_timer_t textfile_timer;
static int textfile_timer_open;

static void
conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	free(c->out);
	free(c);
	nconns--;
}

static void
conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_closed);
	uv_close(&c->h.handle, conn_closed);
}

static void
on_written(uv_write_t *w, int status)
{
	(void)status;
	conn_close(w->data);
}

static void
respond(struct conn *c, const char *status, const char *type,
    const char *body, size_t blen, int with_body)
{
	char hdr[256];
	size_t hlen;
	uv_buf_t b;

	uv_read_stop(&c->h.stream);
	hlen = (size_t)snprintf(hdr, sizeof(hdr), "HTTP/1.0 %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
	    "\r\n", status, type, blen);
	if ((c->out = malloc(hlen + (with_body ? blen : 0))) == NULL) {
		conn_close(c);
		return;
	}
	memcpy(c->out, hdr, hlen);
	if (with_body)
		memcpy(c->out + hlen, body, blen);
	b = uv_buf_init(c->out, (unsigned int)(hlen + (with_body ? blen : 0)));
	c->wr.data = c;
	if (uv_write(&c->wr, &c->h.stream, &b, 1, on_written) != 0)
		conn_close(c);
}

static void
answer(struct conn *c)
{
	static const char text[] = "text/plain; charset=utf-8";
	char method[8], target[64], *page;
	size_t len;
	int head_only;

	if (sscanf(c->req, "%7s %63s HTTP/1.%*c", method, target) != 2) {
		respond(c, "400 Bad Request", text, "bad request\n", 12, 1);
		return;
	}
	head_only = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head_only) {
		respond(c, "405 Method Not Allowed", text, "GET only\n", 9, 1);
		return;
	}
	if (strcmp(target, "/metrics") != 0) {
		respond(c, "404 Not Found", text, "see /metrics\n", 13,
		    !head_only);
		return;
	}
	if ((page = render(&len)) == NULL) {
		respond(c, "500 Internal Server Error", text,
		    "out of memory\n", 14, !head_only);
		return;
	}
	respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", page,
	    len, !head_only);
	free(page);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->req + c->len, (unsigned int)(REQ_MAX - 1 -
	    c->len));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	(void)buf;
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	c->req[c->len] = '\0';
	if (strstr(c->req, "\r\n\r\n") != NULL ||
	    strstr(c->req, "\n\n") != NULL)
		answer(c);
	else if (c->len >= REQ_MAX - 1)
		respond(c, "431 Request Header Fields Too Large",
		    "text/plain; charset=utf-8", "request too large\n", 18, 1);
}

static void
on_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

static void
on_connection(uv_stream_t *srv, int status)
{
	struct conn *c;
	int r;

	if (status < 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return;
	if (server_unix)
		r = uv_pipe_init(sd.loop, &c->h.pipe, 0);
	else
		r = uv_tcp_init(sd.loop, &c->h.tcp);
	if (r != 0) {
		free(c);
		return;
	}
	nconns++;
	c->h.handle.data = c;
	c->open_handles = 2;
	uv_timer_init(sd.loop, &c->timer);
	c->timer.data = c;
	if (uv_accept(srv, &c->h.stream) != 0 || nconns > MAX_CONNS) {
		/* Past the bound the connection is closed unanswered. */
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, REQ_TIMEOUT_MS, 0);
	if (uv_read_start(&c->h.stream, on_alloc, on_read) != 0)
		conn_close(c);
}

/*
 * [metrics] listen: "HOST:PORT" with HOST a loopback address (127.0.0.0/8,
 * [::1] or localhost), or an absolute path for a Unix socket.  The page
 * has no authentication: it is for this host's scraper or node_exporter's
 * textfile, never the network.  0, or -1 with err.
 */
int
metrics_parse_listen(const char *s, struct sockaddr_storage *ss,
    char *err, size_t errlen)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *colon;
	char *end;
	long port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (*s == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;

		if (strlen(s) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "[metrics] listen: socket path "
			    "longer than %zu bytes", sizeof(un->sun_path) - 1);
			return -1;
		}
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", s);
		return 0;
	}
	if ((colon = strrchr(s, ':')) == NULL || colon == s) {
		snprintf(err, errlen, "[metrics] listen: \"%s\" is neither "
		    "HOST:PORT nor an absolute socket path", s);
		return -1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
		snprintf(err, errlen, "[metrics] listen: port \"%s\" is not a "
		    "number from 1 to 65535", colon + 1);
		return -1;
	}
	hl = (size_t)(colon - s);
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "[metrics] listen: host too long");
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1 ||
		    !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			goto notloop;
		return 0;
	}
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &in4->sin_addr) != 1 ||
	    (ntohl(in4->sin_addr.s_addr) >> 24) != 127)
		goto notloop;
	return 0;
notloop:
	snprintf(err, errlen, "[metrics] listen: %s is not a loopback address "
	    "(127.0.0.0/8, [::1] or localhost): the page has no "
	    "authentication; scrape it on this host, or use [metrics] "
	    "textfile with node_exporter", host);
	return -1;
}

static int
listen_open(char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	mode_t old;
	int r;

	if (*sd.conf.metrics_listen == '\0')
		return 0;
	if (metrics_parse_listen(sd.conf.metrics_listen, &ss, err, errlen) ==
	    -1)
		return -1;
	server_unix = ss.ss_family == AF_UNIX;
	if (server_unix) {
		(void)unlink(sd.conf.metrics_listen);
		uv_pipe_init(sd.loop, &server.pipe, 0);
		server_open = 1;
		/* Anyone on the host may scrape, as a loopback port lets. */
		old = umask(0111);
		r = uv_pipe_bind(&server.pipe, sd.conf.metrics_listen);
		umask(old);
	} else {
		uv_tcp_init(sd.loop, &server.tcp);
		server_open = 1;
		r = uv_tcp_bind(&server.tcp, (const struct sockaddr *)&ss, 0);
	}
	if (r == 0)
		r = uv_listen(&server.stream, MAX_CONNS, on_connection);
	if (r != 0) {
		snprintf(err, errlen, "[metrics] listen %s: %s",
		    sd.conf.metrics_listen, uv_strerror(r));
		return -1;
	}
	log_info("metrics: serving /metrics on %s", sd.conf.metrics_listen);
	return 0;
}

/* Writes the page to [metrics] textfile: beside it, then renamed. */
static void
textfile_write(void)
{
	const char *path = sd.conf.metrics_textfile;
	static int said;
	char tmp[4096], *page;
	size_t len;
	ssize_t w;
	int fd;

	if ((page = render(&len)) == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	w = fd == -1 ? -1 : write(fd, page, len);
	if (fd == -1 || w != (ssize_t)len || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		if (!said)
			log_warn("metrics: textfile %s", path);
		said = 1;
		if (fd != -1)
			(void)unlink(tmp);
	} else
		said = 0;
	free(page);
}

static void
on_textfile_timer(uv_timer_t *t)
{
	(void)t;
	textfile_write();
}

static void
textfile_start(void)
{
	uint64_t ms = sd.conf.metrics_textfile_interval * 1000;

	uv_timer_stop(&textfile_timer);
	if (*sd.conf.metrics_textfile == '\0')
		return;
	textfile_write();
	uv_timer_start(&textfile_timer, on_textfile_timer, ms, ms);
}

int
metrics_init(char *err, size_t errlen)
{
	uv_timer_init(sd.loop, &textfile_timer);
	textfile_timer_open = 1;
	textfile_start();
	return listen_open(err, errlen);
}

/* SIGHUP: the textfile and its interval, and guest_labels, take effect;
 * listen only at a restart (main.c keeps it). */
void
metrics_reconf(void)
{
	if (textfile_timer_open)
		textfile_start();
}

void
metrics_close(void)
{
	if (textfile_timer_open) {
		uv_close((uv_handle_t *)&textfile_timer, NULL);
		textfile_timer_open = 0;
	}
	if (server_open) {
		uv_close(&server.handle, NULL);
		server_open = 0;
		if (server_unix)
			(void)unlink(sd.conf.metrics_listen);
	}
}
