/*
 * The listing of a guest filesystem tree: entries in the order find gives
 * them (a directory before what it holds), an open-addressing hash of
 * their paths, and the tar excludes derived from their plans.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "listing.h"

static uint64_t
hash_path(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int
rehash(struct listing *l, size_t nslots)
{
	uint32_t *slots;
	size_t i, j;

	if ((slots = calloc(nslots, sizeof(*slots))) == NULL)
		return -1;
	for (i = 0; i < l->n; i++) {
		j = hash_path(l->names + l->e[i].off, l->e[i].pathlen) &
		    (nslots - 1);
		while (slots[j] != 0)
			j = (j + 1) & (nslots - 1);
		slots[j] = (uint32_t)(i + 1);
	}
	free(l->slots);
	l->slots = slots;
	l->nslots = nslots;
	return 0;
}

long
listing_find(const struct listing *l, const char *path, size_t len)
{
	const struct lentry *e;
	size_t j;

	if (l->nslots == 0)
		return -1;
	j = hash_path(path, len) & (l->nslots - 1);
	while (l->slots[j] != 0) {
		e = &l->e[l->slots[j] - 1];
		if (e->pathlen == len &&
		    memcmp(l->names + e->off, path, len) == 0)
			return (long)l->slots[j] - 1;
		j = (j + 1) & (l->nslots - 1);
	}
	return -1;
}

long
listing_add(struct listing *l, const char *path, size_t len,
    const struct lentry *meta)
{
	struct lentry *e;
	long found;
	size_t j;

	if (len > UINT32_MAX || l->n >= UINT32_MAX - 1)
		return -1;
	if ((found = listing_find(l, path, len)) != -1)
		return found;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct lentry *ne = realloc(l->e, cap * sizeof(*ne));

		if (ne == NULL)
			return -1;
		l->e = ne;
		l->cap = cap;
	}
	if (l->nlen + len + 1 > l->ncap) {
		size_t cap = l->ncap ? l->ncap : 16384;
		char *nn;

		while (cap < l->nlen + len + 1)
			cap *= 2;
		if ((nn = realloc(l->names, cap)) == NULL)
			return -1;
		l->names = nn;
		l->ncap = cap;
	}
	/* Keep the table at most half full. */
	if ((l->n + 1) * 2 > l->nslots &&
	    rehash(l, l->nslots ? l->nslots * 2 : 1024) == -1)
		return -1;
	e = &l->e[l->n];
	*e = *meta;
	e->found = 0;		/* another listing's, if any */
	e->off = l->nlen;
	e->pathlen = (uint32_t)len;
	e->leader = (uint32_t)l->n;
	memcpy(l->names + l->nlen, path, len);
	l->names[l->nlen + len] = '\0';
	l->nlen += len + 1;
	j = hash_path(path, len) & (l->nslots - 1);
	while (l->slots[j] != 0)
		j = (j + 1) & (l->nslots - 1);
	l->slots[j] = (uint32_t)(l->n + 1);
	return (long)l->n++;
}

const char *
listing_path(const struct listing *l, size_t i)
{
	return l->names + l->e[i].off;
}

/* Inode keys of hard-linked regular files, to find their first names. */
struct ino_slot {
	uint64_t	dev, ino;
	uint32_t	idx;	/* + 1; 0 free */
};

int
listing_link_inodes(struct listing *l)
{
	struct ino_slot *t;
	size_t n = 0, nslots = 16, i, j;
	uint64_t h;

	for (i = 0; i < l->n; i++)
		if (S_ISREG(l->e[i].mode) && l->e[i].nlink > 1)
			n++;
	if (n == 0)
		return 0;
	while (nslots < n * 2)
		nslots *= 2;
	if ((t = calloc(nslots, sizeof(*t))) == NULL)
		return -1;
	for (i = 0; i < l->n; i++) {
		struct lentry *e = &l->e[i];

		if (!S_ISREG(e->mode) || e->nlink <= 1)
			continue;
		h = (e->ino * 11400714819323198485ULL) ^ e->dev;
		j = (size_t)(h ^ (h >> 29)) & (nslots - 1);
		while (t[j].idx != 0 &&
		    (t[j].dev != e->dev || t[j].ino != e->ino))
			j = (j + 1) & (nslots - 1);
		if (t[j].idx == 0) {
			t[j].dev = e->dev;
			t[j].ino = e->ino;
			t[j].idx = (uint32_t)(i + 1);
		} else
			e->leader = t[j].idx - 1;
	}
	free(t);
	return 0;
}

/*
 * A hard link must not hide a file: when the inode's first name is
 * excluded, the file is still read (and reported) under its first name
 * that is not.
 */
size_t
listing_lead(struct listing *l, size_t i)
{
	struct lentry *e = &l->e[i], *ld;

	if (e->leader == i)
		return i;
	ld = &l->e[e->leader];
	if (ld->plan != PLAN_EXCLUDED && ld->plan != PLAN_TOO_DEEP)
		return e->leader;
	if (ld->leader != e->leader)
		e->leader = ld->leader;		/* promoted before: follow */
	else
		ld->leader = e->leader = (uint32_t)i;
	return e->leader;
}

void
listing_free(struct listing *l)
{
	size_t i;
	int k;

	for (i = 0; i < l->nfound; i++)
		for (k = 0; k < SREC_NENGINES; k++)
			free(l->found[i][k]);
	free(l->found);
	free(l->e);
	free(l->names);
	free(l->slots);
	memset(l, 0, sizeof(*l));
}

void
lentry_to_rec(const struct lentry *e, struct findex_rec *rec)
{
	rec->ino = e->ino;
	rec->size = e->size;
	rec->mtime_s = e->mtime_s;
	rec->mtime_ns = e->mtime_ns;
	rec->ctime_s = e->ctime_s;
	rec->ctime_ns = e->ctime_ns;
	memcpy(rec->sha, e->sha, sizeof(rec->sha));
	memcpy(rec->md5, e->md5, sizeof(rec->md5));
	memcpy(rec->sha1, e->sha1, sizeof(rec->sha1));
	rec->classes = e->classes;
	rec->changed = e->changed;
	rec->has_ext = e->has_ext;
	memcpy(rec->ext, e->ext, sizeof(rec->ext));
	memset(rec->found, 0, sizeof(rec->found));	/* listing_get_found */
}

void
lentry_from_rec(struct lentry *e, const struct findex_rec *rec)
{
	memset(e, 0, sizeof(*e));
	e->ino = rec->ino;
	e->size = rec->size;
	e->mtime_s = rec->mtime_s;
	e->mtime_ns = rec->mtime_ns;
	e->ctime_s = rec->ctime_s;
	e->ctime_ns = rec->ctime_ns;
	memcpy(e->sha, rec->sha, sizeof(e->sha));
	memcpy(e->md5, rec->md5, sizeof(e->md5));
	memcpy(e->sha1, rec->sha1, sizeof(e->sha1));
	e->classes = rec->classes;
	e->changed = rec->changed;
	e->has_ext = rec->has_ext;
	memcpy(e->ext, rec->ext, sizeof(e->ext));
}

int
listing_set_found(struct listing *l, size_t i, const struct findex_rec *rec)
{
	struct lentry *e = &l->e[i];
	char **slot;
	int k;

	if (!findex_rec_found(rec))
		return 0;
	if (e->found == 0) {
		if (l->nfound == LISTING_MAX_FOUND)
			return -1;
		if (l->nfound == l->capfound) {
			size_t cap = l->capfound ? l->capfound * 2 : 16;
			char *(*nf)[SREC_NENGINES] = realloc(l->found,
			    cap * sizeof(*nf));

			if (nf == NULL)
				return -1;
			l->found = nf;
			l->capfound = cap;
		}
		memset(l->found[l->nfound], 0, sizeof(l->found[0]));
		e->found = (uint32_t)++l->nfound;
	}
	slot = l->found[e->found - 1];
	for (k = 0; k < SREC_NENGINES; k++) {
		free(slot[k]);
		slot[k] = NULL;
	}
	for (k = 0; k < SREC_NENGINES; k++)
		if (rec->found[k][0] != '\0' &&
		    (slot[k] = strdup(rec->found[k])) == NULL) {
			/* None rather than some. */
			for (k = 0; k < SREC_NENGINES; k++) {
				free(slot[k]);
				slot[k] = NULL;
			}
			return -1;
		}
	return 0;
}

void
listing_get_found(const struct listing *l, size_t i, struct findex_rec *rec)
{
	const struct lentry *e = &l->e[i];
	int k;

	for (k = 0; k < SREC_NENGINES; k++) {
		rec->found[k][0] = '\0';
		if (e->found != 0 && e->found <= l->nfound &&
		    l->found[e->found - 1][k] != NULL)
			snprintf(rec->found[k], sizeof(rec->found[k]), "%s",
			    l->found[e->found - 1][k]);
	}
}

int
lentry_unchanged(const struct lentry *e, const struct findex_rec *rec)
{
	return rec->ino == e->ino && rec->size == e->size &&
	    rec->mtime_s == e->mtime_s && rec->mtime_ns == e->mtime_ns &&
	    rec->ctime_s == e->ctime_s && rec->ctime_ns == e->ctime_ns;
}

int
path_excluded(const char *path, char *const *pats, size_t npats)
{
	size_t i;

	for (i = 0; i < npats; i++)
		if (fnmatch(pats[i], path, 0) == 0)
			return 1;
	return 0;
}

int
path_excluded_as(const char *path, char drive, int casefold,
    char *const *pats, size_t npats)
{
	char *win = NULL;
	size_t i, len;
	int r = 0, fl = casefold ? FNM_CASEFOLD : 0;

	for (i = 0; i < npats && r == 0; i++) {
		const char *q = pats[i];

		if (!(((q[0] >= 'A' && q[0] <= 'Z') || (q[0] >= 'a' &&
		    q[0] <= 'z')) && q[1] == ':' && q[2] == '\\')) {
			r = fnmatch(q, path, fl) == 0;
			continue;
		}
		/* "C:\Users\*": Windows' form, backslashes literal. */
		if (drive == 0)
			continue;
		if (win == NULL) {
			len = strlen(path);
			if ((win = malloc(len + 3)) == NULL)
				return 0;
			windows_path(drive, path, len, win);
		}
		r = fnmatch(q, win, fl | FNM_NOESCAPE) == 0;
	}
	free(win);
	return r;
}

void
windows_path(char drive, const char *path, size_t len, char *out)
{
	size_t i;

	out[0] = drive;
	out[1] = ':';
	for (i = 0; i < len; i++)
		out[2 + i] = path[i] == '/' ? '\\' : path[i];
	if (len == 0)
		out[2 + len++] = '\\';
	out[2 + len] = '\0';
}

int
path_is_memory(const char *path, size_t len)
{
	static const char *const names[] = { "/pagefile.sys", "/hiberfil.sys",
	    "/swapfile.sys" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (len == strlen(names[i]) &&
		    strncasecmp(path, names[i], len) == 0)
			return 1;
	return 0;
}

long
listing_parent(const struct listing *l, size_t i)
{
	const char *p = listing_path(l, i);
	size_t len = l->e[i].pathlen;

	while (len > 0 && p[len - 1] != '/')
		len--;
	if (len <= 1)
		return -1;
	return listing_find(l, p, len - 1);
}

char *
tar_pattern(const char *name, size_t len)
{
	char *out, *o;
	size_t i;

	if (memchr(name, '\n', len) != NULL ||
	    (out = malloc(2 * len + 3)) == NULL)
		return NULL;
	o = out;
	*o++ = '.';
	*o++ = '/';
	for (i = 0; i < len; i++) {
		if (strchr("*?[]\\", name[i]) != NULL)
			*o++ = '\\';
		*o++ = name[i];
	}
	*o = '\0';
	return out;
}

/* Left out of the stream: what is not read. */
static int
dropped(uint8_t plan)
{
	return plan == PLAN_UNCHANGED || plan == PLAN_EXCLUDED ||
	    plan == PLAN_TOO_LARGE || plan == PLAN_UNREADABLE ||
	    plan == PLAN_TOO_DEEP;
}

int
ltree_build(const struct listing *l, struct ltree *t)
{
	size_t i, n = l->n ? l->n : 1;
	long p, *last;

	memset(t, 0, sizeof(*t));
	t->top_first = -1;
	if ((t->parent = malloc(n * sizeof(long))) == NULL ||
	    (t->first = malloc(n * sizeof(long))) == NULL ||
	    (t->next = malloc(n * sizeof(long))) == NULL ||
	    (last = malloc((n + 1) * sizeof(long))) == NULL ||
	    (t->needs = calloc(n, 1)) == NULL ||
	    (t->pure = calloc(n, 1)) == NULL) {
		ltree_free(t);
		return -1;
	}
	/* Children in listing order, through each parent's last child. */
	for (i = 0; i <= n; i++)
		last[i] = -1;
	for (i = 0; i < l->n; i++) {
		const struct lentry *e = &l->e[i];

		t->first[i] = t->next[i] = -1;
		p = t->parent[i] = listing_parent(l, i);
		if (last[p + 1] == -1) {
			if (p == -1)
				t->top_first = (long)i;
			else
				t->first[p] = (long)i;
		} else
			t->next[last[p + 1]] = (long)i;
		last[p + 1] = (long)i;
		t->needs[i] = e->plan == PLAN_FETCH || e->plan == PLAN_LINK;
		t->pure[i] = !dropped(e->plan);
	}
	free(last);
	/* find lists a directory before its contents: walking backwards
	 * sees every child before its parent. */
	t->top_needs = 0;
	t->top_pure = 1;
	for (i = l->n; i-- > 0;) {
		p = t->parent[i];
		if (p == -1) {
			t->top_needs |= t->needs[i];
			t->top_pure &= t->pure[i];
		} else {
			t->needs[p] |= t->needs[i];
			t->pure[p] &= t->pure[i];
		}
	}
	return 0;
}

void
ltree_free(struct ltree *t)
{
	free(t->parent);
	free(t->first);
	free(t->next);
	free(t->needs);
	free(t->pure);
	memset(t, 0, sizeof(*t));
}

const char *
ltree_name(const struct listing *l, const struct ltree *t, size_t i,
    size_t *len)
{
	const char *p = listing_path(l, i);
	size_t skip = 1;

	if (t->parent[i] != -1)
		skip = l->e[t->parent[i]].pathlen + 1;
	*len = l->e[i].pathlen - skip;
	return p + skip;
}
