/*
 * Scanner records: encoder, decoder and SOCK_SEQPACKET transport.  See
 * srec.h for the format.  The decoder trusts nothing: every read is
 * bounds-checked, every length is held to its field's limit, every value
 * to its range, and a record with bytes left over is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "srec.h"

void
srec_start(struct srec_buf *b, enum srec_type t)
{
	b->len = 0;
	b->over = 0;
	srec_u8(b, (uint8_t)t);
}

void
srec_raw(struct srec_buf *b, const void *p, size_t n)
{
	if (b->over || n > sizeof(b->b) - b->len) {
		b->over = 1;
		return;
	}
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

void
srec_u8(struct srec_buf *b, uint8_t v)
{
	srec_raw(b, &v, 1);
}

void
srec_u32(struct srec_buf *b, uint32_t v)
{
	unsigned char x[4];
	int i;

	for (i = 0; i < 4; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	srec_raw(b, x, 4);
}

void
srec_u64(struct srec_buf *b, uint64_t v)
{
	unsigned char x[8];
	int i;

	for (i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	srec_raw(b, x, 8);
}

void
srec_bytes(struct srec_buf *b, const void *p, size_t n)
{
	unsigned char x[2];

	if (n > 0xffff) {
		b->over = 1;
		return;
	}
	x[0] = (unsigned char)n;
	x[1] = (unsigned char)(n >> 8);
	srec_raw(b, x, 2);
	srec_raw(b, p, n);
}

void
srec_str(struct srec_buf *b, const char *s)
{
	srec_bytes(b, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

void
srec_put_rec(struct srec_buf *b, const struct srec_rec *r)
{
	int i;

	srec_u64(b, r->ino);
	srec_u64(b, r->size);
	srec_u64(b, (uint64_t)r->mtime_s);
	srec_u64(b, (uint64_t)r->mtime_ns);
	srec_u64(b, (uint64_t)r->ctime_s);
	srec_u64(b, (uint64_t)r->ctime_ns);
	srec_raw(b, r->sha, SREC_SHA_LEN);
	srec_raw(b, r->md5, sizeof(r->md5));
	srec_raw(b, r->sha1, sizeof(r->sha1));
	srec_u32(b, r->classes);
	srec_u32(b, r->changed);
	srec_u8(b, r->has_ext);
	srec_raw(b, r->ext, sizeof(r->ext));
	for (i = 0; i < SREC_NENGINES; i++)
		srec_str(b, r->found[i]);
}

void
srec_put_scan(struct srec_buf *b, const struct srec_scan *s)
{
	uint32_t i;

	srec_str(b, s->guest);
	srec_str(b, s->backend_settings);
	srec_u64(b, s->max_file_size);
	srec_u64(b, s->max_listing);
	srec_u64(b, s->spool);
	srec_u32(b, s->threads);
	srec_u32(b, s->launch_timeout);
	srec_u8(b, s->use_cache);
	srec_u8(b, s->use_index);
	srec_u8(b, s->verbose);
	srec_u8(b, s->extents);
	srec_u8(b, s->clone);
	srec_u32(b, s->ndisks);
	for (i = 0; i < s->ndisks && i < SREC_MAX_DISKS; i++) {
		srec_str(b, s->disks[i].path);
		srec_str(b, s->disks[i].format);
		srec_str(b, s->disks[i].target);
	}
	srec_u32(b, s->nexcludes);
	for (i = 0; i < s->nexcludes && i < SREC_MAX_EXCLUDES; i++)
		srec_str(b, s->excludes[i]);
}

void
srec_put_result(struct srec_buf *b, const struct srec_result *r)
{
	int i;

	srec_u8(b, r->status);
	srec_str(b, r->reason);
	srec_u64(b, r->files);
	srec_u64(b, r->bytes_read);
	srec_u64(b, r->bytes_scanned);
	srec_u64(b, r->cache_hits);
	srec_u64(b, r->unchanged);
	srec_u64(b, r->hidden);
	for (i = 0; i < SREC_NSKIP; i++)
		srec_u64(b, r->skipped[i]);
	srec_u32(b, r->fs_scanned);
	srec_u32(b, r->fs_failed);
	srec_u32(b, r->ndetections);
	srec_u32(b, r->streams);
	srec_str(b, r->os);
	srec_u64(b, r->launch_ms);
	srec_u64(b, r->stream_ms);
}

void
srec_put_ready(struct srec_buf *b, const struct srec_ready *r)
{
	srec_str(b, r->version);
	srec_str(b, r->stamp);
	srec_str(b, r->dbdir);
	srec_str(b, r->libversion);
	srec_u32(b, r->signatures);
	srec_u32(b, r->yara_rules);
	srec_u64(b, r->load_ms);
	srec_u8(b, r->has_sigsum);
	srec_raw(b, r->sigsum, SREC_SIGSUM_LEN);
	srec_u32(b, r->nallow);
	/* A count past the bound is sent as it is (the decoder refuses
	 * it), never bytes past the array. */
	srec_raw(b, r->allow, (size_t)(r->nallow < SREC_MAX_ALLOW ?
	    r->nallow : SREC_MAX_ALLOW) * 8);
}

/* The decoder's cursor.  The first failure sticks and says why. */
struct cur {
	const unsigned char	*p;
	size_t			 left;
	const char		*bad;
};

static void
take(struct cur *c, void *out, size_t n, const char *what)
{
	if (c->bad != NULL)
		return;
	if (n > c->left) {
		c->bad = what;
		memset(out, 0, n);
		return;
	}
	memcpy(out, c->p, n);
	c->p += n;
	c->left -= n;
}

static uint8_t
get_u8(struct cur *c, const char *what)
{
	uint8_t v = 0;

	take(c, &v, 1, what);
	return v;
}

static uint32_t
get_u32(struct cur *c, const char *what)
{
	unsigned char x[4];
	uint32_t v = 0;
	int i;

	take(c, x, 4, what);
	if (c->bad != NULL)
		return 0;
	for (i = 3; i >= 0; i--)
		v = v << 8 | x[i];
	return v;
}

static uint64_t
get_u64(struct cur *c, const char *what)
{
	unsigned char x[8];
	uint64_t v = 0;
	int i;

	take(c, x, 8, what);
	if (c->bad != NULL)
		return 0;
	for (i = 7; i >= 0; i--)
		v = v << 8 | x[i];
	return v;
}

/* A length-prefixed byte string of at most CAP - 1 bytes with no NUL,
 * NUL-terminated into OUT; its length. */
static size_t
get_bytes(struct cur *c, char *out, size_t cap, const char *what)
{
	unsigned char x[2];
	size_t n;

	out[0] = '\0';
	take(c, x, 2, what);
	if (c->bad != NULL)
		return 0;
	n = (size_t)x[0] | (size_t)x[1] << 8;
	if (n >= cap || n > c->left) {
		c->bad = what;
		return 0;
	}
	if (memchr(c->p, '\0', n) != NULL) {
		c->bad = what;
		return 0;
	}
	memcpy(out, c->p, n);
	out[n] = '\0';
	c->p += n;
	c->left -= n;
	return n;
}

/* Text for logs and messages: control bytes become '?', C0 and DEL, and
 * C1 as UTF-8 writes them (U+0080-U+009F: U+009B is a terminal's CSI). */
static void
get_text(struct cur *c, char *out, size_t cap, const char *what)
{
	size_t i, n = get_bytes(c, out, cap, what);
	unsigned char *u = (unsigned char *)out;

	for (i = 0; i < n; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			u[i] = '?';
		else if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 &&
		    u[i + 1] <= 0x9f) {
			u[i] = '?';
			u[++i] = '?';
		}
	}
}

static void
get_rec(struct cur *c, struct srec_rec *r)
{
	int i;

	r->ino = get_u64(c, "index record");
	r->size = get_u64(c, "index record");
	r->mtime_s = (int64_t)get_u64(c, "index record");
	r->mtime_ns = (int64_t)get_u64(c, "index record");
	r->ctime_s = (int64_t)get_u64(c, "index record");
	r->ctime_ns = (int64_t)get_u64(c, "index record");
	take(c, r->sha, SREC_SHA_LEN, "index record");
	take(c, r->md5, sizeof(r->md5), "index record");
	take(c, r->sha1, sizeof(r->sha1), "index record");
	r->classes = get_u32(c, "index record");
	r->changed = get_u32(c, "index record");
	r->has_ext = get_u8(c, "index record");
	take(c, r->ext, sizeof(r->ext), "index record");
	for (i = 0; i < SREC_NENGINES; i++)
		get_text(c, r->found[i], sizeof(r->found[i]),
		    "index record detection");
	if (c->bad == NULL && r->has_ext > 1)
		c->bad = "index record extents flag";
	if (c->bad == NULL && (r->mtime_ns < 0 || r->mtime_ns > 999999999 ||
	    r->ctime_ns < 0 || r->ctime_ns > 999999999))
		c->bad = "index record nanoseconds";
}

static void
get_own(struct cur *c, struct srec_own *o)
{
	uint32_t i;

	o->more = get_u8(c, "more");
	o->n = get_u32(c, "range count");
	if (c->bad == NULL && (o->more > 1 || o->n > SREC_OWN_MAX)) {
		c->bad = "range count";
		return;
	}
	for (i = 0; i < o->n && c->bad == NULL; i++) {
		o->start[i] = get_u64(c, "range");
		o->len[i] = get_u64(c, "range");
		if (c->bad == NULL && (o->len[i] == 0 ||
		    o->start[i] + o->len[i] < o->start[i]))
			c->bad = "range";
	}
}

static void
get_scan(struct cur *c, struct srec_scan *s)
{
	uint32_t i;

	get_text(c, s->guest, sizeof(s->guest), "guest");
	get_text(c, s->backend_settings, sizeof(s->backend_settings),
	    "backend settings");
	s->max_file_size = get_u64(c, "max_file_size");
	s->max_listing = get_u64(c, "max_listing");
	s->spool = get_u64(c, "spool");
	s->threads = get_u32(c, "threads");
	if (c->bad == NULL && (s->threads == 0 ||
	    s->threads > SREC_MAX_THREADS))
		c->bad = "threads";
	if (c->bad == NULL && s->spool < SREC_MIN_SPOOL)
		c->bad = "spool";
	s->launch_timeout = get_u32(c, "launch_timeout");
	s->use_cache = get_u8(c, "flags");
	s->use_index = get_u8(c, "flags");
	s->verbose = get_u8(c, "flags");
	s->extents = get_u8(c, "flags");
	s->clone = get_u8(c, "flags");
	if (c->bad == NULL && (s->extents > 1 || s->clone > 1))
		c->bad = "flags";
	s->ndisks = get_u32(c, "disk count");
	if (c->bad == NULL && (s->ndisks == 0 || s->ndisks > SREC_MAX_DISKS)) {
		c->bad = "disk count";
		return;
	}
	for (i = 0; i < s->ndisks && c->bad == NULL; i++) {
		get_text(c, s->disks[i].path, sizeof(s->disks[i].path), "disk");
		get_text(c, s->disks[i].format, sizeof(s->disks[i].format),
		    "disk");
		get_text(c, s->disks[i].target, sizeof(s->disks[i].target),
		    "disk");
	}
	s->nexcludes = get_u32(c, "exclude count");
	if (c->bad == NULL && s->nexcludes > SREC_MAX_EXCLUDES) {
		c->bad = "exclude count";
		return;
	}
	for (i = 0; i < s->nexcludes && c->bad == NULL; i++)
		get_bytes(c, s->excludes[i], sizeof(s->excludes[i]), "exclude");
}

static void
get_result(struct cur *c, struct srec_result *r)
{
	int i;

	r->status = get_u8(c, "status");
	if (c->bad == NULL && r->status >= SREC_NSTATUS)
		c->bad = "status";
	get_text(c, r->reason, sizeof(r->reason), "reason");
	r->files = get_u64(c, "counts");
	r->bytes_read = get_u64(c, "counts");
	r->bytes_scanned = get_u64(c, "counts");
	r->cache_hits = get_u64(c, "counts");
	r->unchanged = get_u64(c, "counts");
	r->hidden = get_u64(c, "counts");
	for (i = 0; i < SREC_NSKIP; i++)
		r->skipped[i] = get_u64(c, "counts");
	r->fs_scanned = get_u32(c, "counts");
	r->fs_failed = get_u32(c, "counts");
	r->ndetections = get_u32(c, "counts");
	r->streams = get_u32(c, "counts");
	get_text(c, r->os, sizeof(r->os), "os");
	r->launch_ms = get_u64(c, "times");
	r->stream_ms = get_u64(c, "times");
}

static void
get_ready(struct cur *c, struct srec_ready *r)
{
	get_text(c, r->version, sizeof(r->version), "version");
	get_text(c, r->stamp, sizeof(r->stamp), "stamp");
	get_text(c, r->dbdir, sizeof(r->dbdir), "dbdir");
	get_text(c, r->libversion, sizeof(r->libversion), "libversion");
	r->signatures = get_u32(c, "signatures");
	r->yara_rules = get_u32(c, "yara rules");
	r->load_ms = get_u64(c, "load time");
	r->has_sigsum = get_u8(c, "sums");
	take(c, r->sigsum, SREC_SIGSUM_LEN, "sums");
	if (c->bad == NULL && r->has_sigsum > 1)
		c->bad = "sums flag";
	r->nallow = get_u32(c, "allowlist");
	if (c->bad == NULL && r->nallow > SREC_MAX_ALLOW)
		c->bad = "allowlist";
	else
		take(c, r->allow, (size_t)r->nallow * 8, "allowlist");
}

int
srec_decode(const void *buf, size_t len, struct srec *r, char *err,
    size_t errlen)
{
	struct cur c = { buf, len, NULL };
	struct srec_scan *scan = r->scan;
	struct srec_result *result = r->result;
	struct srec_ready *ready = r->ready;
	struct srec_own *own = r->own;
	uint8_t t;

	memset(r, 0, sizeof(*r));
	r->scan = scan;
	r->result = result;
	r->ready = ready;
	r->own = own;
	if (len > SREC_MAX) {
		snprintf(err, errlen, "record of %zu bytes, over %d", len,
		    SREC_MAX);
		return -1;
	}
	t = get_u8(&c, "type");
	if (c.bad != NULL || t == 0 || t >= SR_NTYPES) {
		snprintf(err, errlen, "unknown record type %u", t);
		return -1;
	}
	r->type = (enum srec_type)t;
	switch (r->type) {
	case SR_LOG:
		r->flag = get_u8(&c, "level");
		if (c.bad == NULL && r->flag > 7)
			c.bad = "level";
		get_text(&c, r->text, sizeof(r->text), "text");
		break;
	case SR_PROGRESS:
		r->n[0] = get_u64(&c, "files");
		r->n[1] = get_u64(&c, "bytes");
		r->n[2] = get_u64(&c, "bytes");
		get_text(&c, r->fs, sizeof(r->fs), "fs");
		break;
	case SR_DETECTION:
		get_text(&c, r->fs, sizeof(r->fs), "fs");
		r->flag = get_u8(&c, "flags");
		r->drive = get_u8(&c, "drive");
		if (c.bad == NULL && r->drive != 0 && (r->drive < 'A' ||
		    r->drive > 'Z'))
			c.bad = "drive";
		r->pathlen = get_bytes(&c, r->path, sizeof(r->path), "path");
		get_text(&c, r->name, sizeof(r->name), "signature");
		r->engine = get_u8(&c, "engine");
		r->n[0] = get_u64(&c, "size");
		if (c.bad == NULL && ((r->flag & ~(SREC_DET_GUEST_PATH |
		    SREC_DET_HIDDEN)) != 0 || r->engine >= SREC_NENGINES))
			c.bad = "flags";
		if (c.bad == NULL && r->name[0] == '\0')
			c.bad = "empty signature";
		break;
	case SR_SKIP:
		r->flag = get_u8(&c, "reason");
		get_text(&c, r->fs, sizeof(r->fs), "fs");
		r->pathlen = get_bytes(&c, r->path, sizeof(r->path), "path");
		r->engine = get_u8(&c, "guest_path");	/* 0, 1, 'A'-'Z' */
		get_text(&c, r->text, sizeof(r->text), "detail");
		if (c.bad == NULL && (r->flag >= SREC_NSKIP || (r->engine > 1 &&
		    (r->engine < 'A' || r->engine > 'Z'))))
			c.bad = "reason";
		break;
	case SR_RESULT:
		if (result == NULL) {
			c.bad = "unexpected result";
			break;
		}
		get_result(&c, result);
		break;
	case SR_CACHE_Q:
	case SR_CACHE_ADD:
		take(&c, r->sha, SREC_SHA_LEN, "sha256");
		if (r->type == SR_CACHE_ADD)
			r->n[0] = get_u32(&c, "classes");
		break;
	case SR_INDEX_Q:
	case SR_INDEX_DONE:
	case SR_INDEX_PUT:
		get_text(&c, r->fs, sizeof(r->fs), "tree");
		if (r->type == SR_INDEX_DONE)
			break;
		r->pathlen = get_bytes(&c, r->path, sizeof(r->path), "path");
		if (r->type == SR_INDEX_PUT)
			get_rec(&c, &r->rec);
		if (r->type == SR_INDEX_Q) {
			r->flag = get_u8(&c, "flags");
			if (c.bad == NULL && r->flag > 1)
				c.bad = "flags";
		}
		break;
	case SR_READ:
		r->n[0] = get_u64(&c, "bytes");
		if (c.bad == NULL && r->n[0] > 1U << 30)
			c.bad = "bytes";
		break;
	case SR_EXITED:
		r->status = (int32_t)get_u32(&c, "status");
		break;
	case SR_SCAN:
		if (scan == NULL) {
			c.bad = "unexpected scan request";
			break;
		}
		get_scan(&c, scan);
		break;
	case SR_CACHE_A:
		r->flag = get_u8(&c, "flag");
		r->n[0] = get_u32(&c, "classes");
		break;
	case SR_READ_OK:
		r->flag = get_u8(&c, "flag");
		r->n[0] = get_u32(&c, "threads");
		if (c.bad == NULL && (r->n[0] == 0 ||
		    r->n[0] > SREC_MAX_THREADS))
			c.bad = "threads";
		break;
	case SR_INDEX_A:
		r->flag = get_u8(&c, "flag");
		if (r->flag)
			get_rec(&c, &r->rec);
		r->base_found = get_u8(&c, "base flag");
		if (r->base_found)
			get_rec(&c, &r->base);
		break;
	case SR_OWN_Q:
		r->n[0] = get_u32(&c, "disk");
		r->n[1] = get_u32(&c, "from");
		if (c.bad == NULL && r->n[0] >= SREC_MAX_DISKS)
			c.bad = "disk";
		break;
	case SR_OWN_A:
		if (r->own == NULL) {
			c.bad = "unexpected own ranges";
			break;
		}
		get_own(&c, r->own);
		break;
	case SR_READY:
		if (ready == NULL) {
			c.bad = "unexpected ready";
			break;
		}
		get_ready(&c, ready);
		break;
	case SR_FAILED:
		get_text(&c, r->text, sizeof(r->text), "text");
		break;
	case SR_SPAWN:
		break;
	case SR_SPAWNED:
		r->n[0] = get_u32(&c, "pid");
		get_text(&c, r->text, sizeof(r->text), "text");
		if (c.bad == NULL && (r->n[0] == 1 || r->n[0] > 0x3fffffff))
			c.bad = "pid";
		break;
	case SR_NTYPES:
		c.bad = "type";
		break;
	}
	if (c.bad == NULL && c.left != 0)
		c.bad = "trailing bytes";
	if (c.bad != NULL) {
		snprintf(err, errlen, "malformed %s record: %s",
		    srec_type_name(t), c.bad);
		return -1;
	}
	return 0;
}

const char *
srec_type_name(int t)
{
	static const char *names[SR_NTYPES] = { "?", "log", "progress",
	    "detection", "skip", "result", "cache query", "cache add",
	    "index query", "index put", "index done", "read", "own ranges",
	    "exited",
	    "scan", "cache answer", "index answer", "read answer", "ready",
	    "failed", "spawn", "spawned", "own ranges answer" };

	return t > 0 && t < SR_NTYPES ? names[t] : "unknown";
}

int
srec_send(int fd, const struct srec_buf *b, int pass)
{
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { (void *)b->b, b->len };
	struct msghdr m;
	ssize_t n;

	if (b->over) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (pass >= 0) {
		memset(&cm, 0, sizeof(cm));
		m.msg_control = cm.buf;
		m.msg_controllen = sizeof(cm.buf);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.h), &pass, sizeof(int));
	}
	do
		n = sendmsg(fd, &m, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)b->len ? 0 : -1;
}

long
srec_recv(int fd, void *buf, int *fdp)
{
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { buf, SREC_MAX };
	struct cmsghdr *h;
	struct msghdr m;
	ssize_t n;
	int got = -1;

	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.buf;
	m.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	for (h = CMSG_FIRSTHDR(&m); h != NULL; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
		    h->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&got, CMSG_DATA(h), sizeof(int));
	if (fdp != NULL)
		*fdp = got;
	else if (got != -1)
		close(got);
	if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (fdp != NULL && got != -1) {
			close(got);
			*fdp = -1;
		}
		errno = EMSGSIZE;
		return -1;
	}
	return (long)n;
}
