/*
 * Reads signature files line by line (sigdb.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clamav.h>
#include <zlib.h>

#include "sigdb.h"
#include "stamp.h"

/* A container's bytes after its header: plain, or gzip. */
struct rd {
	FILE		*f;
	int		 gz, eof;
	z_stream	 z;
	unsigned char	 in[65536];
};

static int
rd_open(struct rd *r, FILE *f, char *err, size_t errlen)
{
	unsigned char m[2];

	memset(r, 0, sizeof(*r));
	r->f = f;
	if (fread(m, 1, 2, f) != 2 || fseek(f, -2, SEEK_CUR) == -1) {
		snprintf(err, errlen, "not a signature container");
		return -1;
	}
	if (m[0] == 0x1f && m[1] == 0x8b) {
		r->gz = 1;
		if (inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK) {
			snprintf(err, errlen, "zlib: cannot start");
			return -1;
		}
	}
	return 0;
}

/* Up to N bytes; fewer only at the end.  -1 on a broken stream. */
static long
rd_read(struct rd *r, void *buf, size_t n)
{
	int rc;

	if (!r->gz)
		return (long)fread(buf, 1, n, r->f);
	r->z.next_out = buf;
	r->z.avail_out = (uInt)n;
	while (r->z.avail_out > 0 && !r->eof) {
		if (r->z.avail_in == 0) {
			r->z.avail_in = (uInt)fread(r->in, 1, sizeof(r->in),
			    r->f);
			r->z.next_in = r->in;
			if (r->z.avail_in == 0)
				return -1;	/* cut short */
		}
		rc = inflate(&r->z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			r->eof = 1;
		else if (rc != Z_OK)
			return -1;
	}
	return (long)(n - r->z.avail_out);
}

static void
rd_close(struct rd *r)
{
	if (r->gz)
		inflateEnd(&r->z);
}

/* Splits what comes in into lines for the callback. */
struct lines {
	char		*buf;
	size_t		 len, cap;
	const char	*ext;
	int		 official, stop;
	sigdb_line_fn	 fn;
	void		*arg;
};

static int
lines_feed(struct lines *l, const char *p, size_t n)
{
	const char *nl;
	size_t k;
	char *nb;

	while (n > 0 && !l->stop) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) : n;
		if (l->len + k + 1 > l->cap) {
			size_t cap = (l->len + k + 1) * 2;

			if ((nb = realloc(l->buf, cap)) == NULL)
				return -1;
			l->buf = nb;
			l->cap = cap;
		}
		memcpy(l->buf + l->len, p, k);
		l->len += k;
		if (nl == NULL)
			break;
		l->stop = l->fn(l->arg, l->ext, l->official, l->buf, l->len);
		l->len = 0;
		p = nl + 1;
		n -= k + 1;
	}
	return 0;
}

static void
lines_end(struct lines *l)
{
	if (l->len > 0 && !l->stop)
		l->stop = l->fn(l->arg, l->ext, l->official, l->buf, l->len);
	l->len = 0;
}

static int
octal(const char *p, size_t n, uint64_t *v)
{
	size_t i = 0;

	*v = 0;
	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		*v = *v * 8 + (uint64_t)(p[i] - '0');
	return i < n && p[i] != '\0' && p[i] != ' ' ? -1 : 0;
}

/* The members of a tar on R. */
static int
each_member(struct rd *r, int (*want)(const char *), struct lines *l,
    const char *file, char *err, size_t errlen)
{
	char hdr[512], name[101], buf[65536];
	const char *dot;
	uint64_t size, left;
	long got;
	size_t k, n;
	int take;

	for (;;) {
		if ((got = rd_read(r, hdr, sizeof(hdr))) == 0)
			return 0;
		if (got != (long)sizeof(hdr))
			goto cut;
		for (k = 0; k < sizeof(hdr) && hdr[k] == '\0'; k++)
			;
		if (k == sizeof(hdr))
			return 0;		/* the end blocks */
		memcpy(name, hdr, 100);
		name[100] = '\0';
		if (octal(hdr + 124, 12, &size) == -1) {
			snprintf(err, errlen, "%s: a bad tar header", file);
			return -1;
		}
		dot = strrchr(name, '.');
		take = (hdr[156] == '0' || hdr[156] == '\0') && dot != NULL &&
		    want(dot);
		l->ext = dot;
		/* The content, then padding to a whole block. */
		for (left = (size + 511) / 512 * 512; left > 0; ) {
			k = left < sizeof(buf) ? (size_t)left : sizeof(buf);
			if ((got = rd_read(r, buf, k)) != (long)k)
				goto cut;
			n = size < k ? (size_t)size : k;
			if (take && n > 0 && lines_feed(l, buf, n) == -1) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			size -= n;
			left -= k;
		}
		if (take)
			lines_end(l);
		if (l->stop)
			return 0;
	}
cut:
	snprintf(err, errlen, "%s: cut short or corrupt", file);
	return -1;
}

static int
is_container(const char *ext)
{
	return strcmp(ext, ".cvd") == 0 || strcmp(ext, ".cld") == 0 ||
	    strcmp(ext, ".cud") == 0;
}

static int
each_file(const char *path, const char *ext, int (*want)(const char *),
    struct lines *l, char *err, size_t errlen)
{
	char buf[65536], hdr[512];
	struct rd r;
	size_t n;
	FILE *f;
	int rc = 0;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (is_container(ext)) {
		/* .cld is what freshclam makes of a .cvd and its diffs. */
		l->official = strcmp(ext, ".cud") != 0;
		if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
		    memcmp(hdr, "ClamAV-VDB:", 11) != 0) {
			snprintf(err, errlen, "%s: not a signature container",
			    path);
			rc = -1;
		} else if (rd_open(&r, f, err, errlen) == -1) {
			rc = -1;
		} else {
			rc = each_member(&r, want, l, path, err, errlen);
			rd_close(&r);
		}
	} else {
		l->official = 0;
		l->ext = ext;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && !l->stop)
			if (lines_feed(l, buf, n) == -1) {
				snprintf(err, errlen, "out of memory");
				rc = -1;
				break;
			}
		if (ferror(f)) {
			snprintf(err, errlen, "%s: read error", path);
			rc = -1;
		}
		lines_end(l);
	}
	fclose(f);
	return rc;
}

int
sigdb_each(const char *dir, int (*want)(const char *), sigdb_line_fn fn,
    void *arg, char *err, size_t errlen)
{
	struct dirent **names = NULL;
	struct lines l;
	const char *dot;
	char path[4096];
	int i, n, rc = 0;

	memset(&l, 0, sizeof(l));
	l.fn = fn;
	l.arg = arg;
	if ((n = scandir(dir, &names, NULL, alphasort)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (rc == 0 && !l.stop && sig_is_database(name) &&
		    (dot = strrchr(name, '.')) != NULL &&
		    (is_container(dot) || want(dot))) {
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			rc = each_file(path, dot, want, &l, err, errlen);
		}
		free(names[i]);
	}
	free(names);
	free(l.buf);
	return rc;
}

static int
sum_line(void *arg, const char *ext, int official, const char *line,
    size_t len)
{
	(void)official;
	sigsum_line(arg, ext, line, len);
	return 0;
}

/* YARA rule files of DIR: name and content, as bytes of no class. */
static int
sum_rules(struct sigsum *s, const char *dir, char *err, size_t errlen)
{
	struct dirent **names = NULL;
	char path[4096], *buf = NULL;
	size_t len, cap = 0;
	int i, n, rc = 0;
	FILE *f;

	if ((n = scandir(dir, &names, NULL, alphasort)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0 && sig_is_rules(names[i]->d_name)) {
			snprintf(path, sizeof(path), "%s/%s", dir,
			    names[i]->d_name);
			sigsum_other(s, names[i]->d_name,
			    strlen(names[i]->d_name));
			if ((f = fopen(path, "re")) == NULL) {
				snprintf(err, errlen, "%s: %s", path,
				    strerror(errno));
				rc = -1;
			} else {
				len = getdelim(&buf, &cap, '\0', f) > 0 ?
				    strlen(buf) : 0;
				sigsum_other(s, buf != NULL ? buf : "", len);
				fclose(f);
			}
		}
		free(names[i]);
	}
	free(names);
	free(buf);
	return rc;
}

int
sigdb_summary(const char *dir, const char *yaradir, struct sigsum *s,
    char *err, size_t errlen)
{
	const char *v = cl_retver();

	memset(s, 0, sizeof(*s));
	/* Another libclamav may type files differently. */
	sigsum_other(s, v, strlen(v));
	if (sigdb_each(dir, sigsum_wants, sum_line, s, err, errlen) == -1)
		return -1;
	if (yaradir != NULL && *yaradir != '\0' &&
	    sum_rules(s, yaradir, err, errlen) == -1)
		return -1;
	sigsum_finish(s);
	return 0;
}

/*
 * Matching files by hash.
 */
enum { H_MD5, H_SHA1, H_SHA256, H_N };

static const size_t hlen[H_N] = { 16, 20, 32 };

struct match {
	struct sigdb_file	*f;
	size_t			 n;
	size_t			*by[H_N];	/* indices sorted by hash */
	/* The first 16 bits of the files' hashes, a bit each: most lines
	 * of a database of millions are passed over on four hex digits. */
	unsigned char		 first[H_N][65536 / 8];
	unsigned char		*allowed;
	char			**ign;
	size_t			 nign, capign;
	int			 oom;
};

static const unsigned char *
hash_of(const struct sigdb_file *f, int h)
{
	return h == H_MD5 ? f->md5 : h == H_SHA1 ? f->sha1 : f->sha256;
}

struct sort_by {
	const struct sigdb_file	*f;
	int			 h;
};

static int
by_hash(const void *a, const void *b, void *arg)
{
	const struct sort_by *s = arg;

	return memcmp(hash_of(&s->f[*(const size_t *)a], s->h),
	    hash_of(&s->f[*(const size_t *)b], s->h), hlen[s->h]);
}

static int
unhex(const char *s, size_t n, unsigned char *out)
{
	size_t i;
	int v, k;

	for (i = 0; i < n; i++) {
		v = 0;
		for (k = 0; k < 2; k++) {
			char c = s[2 * i + k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				v |= c - 'A' + 10;
			else
				return -1;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

static int
ext_is(const char *ext, const char *a, const char *b)
{
	return strcmp(ext, a) == 0 || (b != NULL && strcmp(ext, b) == 0);
}

static int
match_want(const char *ext)
{
	return ext_is(ext, ".hdb", ".hsb") || ext_is(ext, ".fp", ".sfp") ||
	    ext_is(ext, ".ign", ".ign2");
}

/* A number field, or "*" (any size: -1). */
static long long
num_field(const char *p, size_t n)
{
	long long v = 0;
	size_t i;

	if (n == 1 && p[0] == '*')
		return -1;
	if (n == 0 || n > 18)
		return -2;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -2;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static void
add_ign(struct match *m, const char *name, size_t len)
{
	char **nv;

	if (m->nign == m->capign) {
		size_t cap = m->capign ? m->capign * 2 : 64;

		if ((nv = realloc(m->ign, cap * sizeof(*nv))) == NULL) {
			m->oom = 1;
			return;
		}
		m->ign = nv;
		m->capign = cap;
	}
	if ((m->ign[m->nign] = strndup(name, len)) == NULL)
		m->oom = 1;
	else
		m->nign++;
}

/* "HASH:SIZE:NAME[:FLEVEL[:MAXFLEVEL]]" of a hash or allowlist file. */
static int
match_line(void *arg, const char *ext, int official, const char *line,
    size_t len)
{
	struct match *m = arg;
	unsigned char want[32];
	const char *hp, *sp, *np, *fp;
	size_t hn, sn, nn, fn, lo, hi, mid;
	long long size, fl;
	int h, c;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0 || line[0] == '#')
		return 0;
	if (ext_is(ext, ".ign", ".ign2")) {
		/* .ign2: NAME[:MD5]; the old .ign: DB:LINE:NAME. */
		if (strcmp(ext, ".ign") == 0 &&
		    (np = memchr(line, ':', len)) != NULL &&
		    (np = memchr(np + 1, ':', len - (size_t)(np + 1 - line))) !=
		    NULL) {
			np++;
			nn = len - (size_t)(np - line);
		} else {
			np = line;
			nn = (hp = memchr(line, ':', len)) != NULL ?
			    (size_t)(hp - line) : len;
		}
		add_ign(m, np, nn);
		return 0;
	}
	hp = line;
	if ((sp = memchr(line, ':', len)) == NULL)
		return 0;
	hn = (size_t)(sp - hp);
	for (h = 0; h < H_N; h++)
		if (hn == 2 * hlen[h])
			break;
	if (h == H_N || unhex(hp, 2, want) == -1 ||
	    !(m->first[h][(want[0] << 8 | want[1]) >> 3] &
	    1 << (want[1] & 7)))
		return 0;
	sp++;
	if ((np = memchr(sp, ':', len - (size_t)(sp - line))) == NULL)
		return 0;
	sn = (size_t)(np - sp);
	np++;
	nn = len - (size_t)(np - line);
	if ((fp = memchr(np, ':', nn)) != NULL) {
		nn = (size_t)(fp - np);
		/* A signature for a newer libclamav is not loaded. */
		fp++;
		fn = len - (size_t)(fp - line);
		if (memchr(fp, ':', fn) != NULL)
			fn = (size_t)((const char *)memchr(fp, ':', fn) - fp);
		if ((fl = num_field(fp, fn)) >= 0 &&
		    fl > (long long)cl_retflevel())
			return 0;
	}
	if (unhex(hp, hlen[h], want) == -1 || (size = num_field(sp, sn)) == -2)
		return 0;
	if ((h == H_MD5) != ext_is(ext, ".hdb", ".fp") || m->n == 0)
		return 0;
	/* The first of the files with that hash. */
	lo = 0;
	hi = m->n;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (memcmp(hash_of(&m->f[m->by[h][mid]], h), want, hlen[h]) <
		    0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < m->n; lo++) {
		struct sigdb_file *f = &m->f[m->by[h][lo]];

		if ((c = memcmp(hash_of(f, h), want, hlen[h])) != 0)
			break;
		if (size >= 0 && (uint64_t)size != f->size)
			continue;
		if (ext_is(ext, ".fp", ".sfp")) {
			m->allowed[m->by[h][lo]] = 1;
			continue;
		}
		if (f->name != NULL)
			continue;
		if ((f->name = malloc(nn + 12)) == NULL) {
			m->oom = 1;
			continue;
		}
		memcpy(f->name, np, nn);
		/* As libclamav names what it loaded from an unsigned file. */
		strcpy(f->name + nn, official ? "" : ".UNOFFICIAL");
	}
	return 0;
}

static int
ignored(const struct match *m, const char *name)
{
	size_t i, n = strlen(name);

	if (n > 11 && strcmp(name + n - 11, ".UNOFFICIAL") == 0)
		n -= 11;
	for (i = 0; i < m->nign; i++)
		if (strlen(m->ign[i]) == n && memcmp(m->ign[i], name, n) == 0)
			return 1;
	return 0;
}

int
sigdb_match(const char *dir, struct sigdb_file *f, size_t n, char *err,
    size_t errlen)
{
	struct sort_by sb;
	struct match m;
	size_t i;
	int h, rc = -1;

	memset(&m, 0, sizeof(m));
	m.f = f;
	m.n = n;
	for (i = 0; i < n; i++)
		f[i].name = NULL;
	if ((m.allowed = calloc(n ? n : 1, 1)) == NULL)
		goto oom;
	for (h = 0; h < H_N; h++) {
		if ((m.by[h] = calloc(n ? n : 1, sizeof(size_t))) == NULL)
			goto oom;
		for (i = 0; i < n; i++) {
			const unsigned char *x = hash_of(&f[i], h);

			m.by[h][i] = i;
			m.first[h][(x[0] << 8 | x[1]) >> 3] |=
			    (unsigned char)(1 << (x[1] & 7));
		}
		sb.f = f;
		sb.h = h;
		qsort_r(m.by[h], n, sizeof(size_t), by_hash, &sb);
	}
	if (sigdb_each(dir, match_want, match_line, &m, err, errlen) == -1)
		goto out;
	if (m.oom)
		goto oom;
	for (i = 0; i < n; i++)
		if (f[i].name != NULL && (m.allowed[i] || ignored(&m, f[i].name))) {
			free(f[i].name);
			f[i].name = NULL;
		}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (rc == -1)
		for (i = 0; i < n; i++) {
			free(f[i].name);
			f[i].name = NULL;
		}
	for (h = 0; h < H_N; h++)
		free(m.by[h]);
	for (i = 0; i < m.nign; i++)
		free(m.ign[i]);
	free(m.ign);
	free(m.allowed);
	return rc;
}
