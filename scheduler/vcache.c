/*
 * The verdict cache: content hashes (sha256) of files found clean by the
 * current signatures, shared by every scan, so that the same file in fifty
 * linked clones is scanned once and an unchanged guest is cheap to scan
 * again.  Two hash sets make it bounded and close to LRU: a hit in the
 * older set moves the hash to the newer one, and when the newer is full the
 * older is dropped.  Scanning threads look up and add under a mutex; the
 * loop persists what was added or hit to the state database after each
 * scan, and loads it back at start.  New signatures (another engine
 * version) empty it: each version gets its own handle, and a scan still
 * running on the old engine finds its handle stale and neither reads nor
 * adds verdicts.  With each hash go the classes of file its content is
 * subject to (sigsum.h), so that a file known clean from another guest
 * still has a type in its own guest's file index.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "log.h"
#include "sentineld.h"

/* Hashes and their classes, in two arrays grown together. */
struct vlist {
	unsigned char	*h;
	uint32_t	*c;
	size_t		 n, cap;
};

/* The handle scans get: one per signature version. */
struct vgen {
	struct verdict_cache	 iface;
	unsigned int		 gen;
	struct vgen		*next;
};

/* A slot's value: VC_USED and the classes (0: not known). */
#define VC_USED	0x80000000u

struct vset {
	unsigned char	*keys;		/* nslots * 32 bytes */
	uint32_t	*used;		/* nslots values */
	size_t		 nslots, n;
};

static struct {
	pthread_mutex_t	 mtx;
	struct vset	 cur, old;
	size_t		 half;		/* entries per set */
	struct vlist	 pending;	/* to persist */
	/* Found clean here (not hits), for the fleet; NFRESH_MAX at most
	 * wait: past that, the rest stay this host's own. */
	struct vlist	 fresh;
	int		 share;
	char		 version[64];
	unsigned int	 gen;		/* the current version's */
	struct vgen	*gens;		/* every handle given out */
	int		 on;
} vc = { .mtx = PTHREAD_MUTEX_INITIALIZER };

static int
vset_init(struct vset *s, size_t entries)
{
	size_t n = 64;

	while (n < entries * 2)
		n *= 2;
	s->keys = calloc(n, VERDICT_HASH_LEN);
	s->used = calloc(n, sizeof(*s->used));
	s->nslots = n;
	s->n = 0;
	return s->keys && s->used ? 0 : -1;
}

static void
vset_free(struct vset *s)
{
	free(s->keys);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

static size_t
vset_slot(const struct vset *s, const unsigned char *h)
{
	size_t i;

	/* The hash is uniform already: its first bytes are the index. */
	memcpy(&i, h, sizeof(i));
	i &= s->nslots - 1;
	while (s->used[i] && memcmp(s->keys + i * VERDICT_HASH_LEN, h,
	    VERDICT_HASH_LEN) != 0)
		i = (i + 1) & (s->nslots - 1);
	return i;
}

/* The slot's value for h: 0 if it is not there. */
static uint32_t
vset_get(const struct vset *s, const unsigned char *h)
{
	return s->nslots > 0 ? s->used[vset_slot(s, h)] : 0;
}

/* Adds h to the newer set, retiring the older set when it is full; known
 * classes replace unknown ones. */
static void
vset_add(const unsigned char *h, uint32_t classes)
{
	struct vset t;
	size_t i;

	if (vc.cur.n >= vc.half) {
		vset_free(&vc.old);
		vc.old = vc.cur;
		if (vset_init(&t, vc.half) == -1) {
			vset_free(&t);
			vc.cur = vc.old;	/* keep what we have */
			memset(&vc.old, 0, sizeof(vc.old));
			return;
		}
		vc.cur = t;
	}
	i = vset_slot(&vc.cur, h);
	if (!vc.cur.used[i]) {
		memcpy(vc.cur.keys + i * VERDICT_HASH_LEN, h, VERDICT_HASH_LEN);
		vc.cur.used[i] = VC_USED | classes;
		vc.cur.n++;
	} else if (classes != 0)
		vc.cur.used[i] = VC_USED | classes;
}

/* Adds h to L; without memory it is left out (not persisted, not
 * shared: only a later rescan pays for it). */
static void
vlist_add(struct vlist *l, const unsigned char *h, uint32_t classes)
{
	unsigned char *nh;
	uint32_t *nc;
	size_t ncap;

	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 1024;
		if ((nh = realloc(l->h, ncap * VERDICT_HASH_LEN)) == NULL)
			return;
		l->h = nh;
		if ((nc = realloc(l->c, ncap * sizeof(*nc))) == NULL)
			return;
		l->c = nc;
		l->cap = ncap;
	}
	l->c[l->n] = classes;
	memcpy(l->h + l->n++ * VERDICT_HASH_LEN, h, VERDICT_HASH_LEN);
}

/* Hands L's arrays over, leaving it empty. */
static size_t
vlist_take(struct vlist *l, unsigned char **h, uint32_t **c)
{
	size_t n = l->n;

	*h = l->h;
	*c = l->c;
	memset(l, 0, sizeof(*l));
	return n;
}

static void
vlist_free(struct vlist *l)
{
	free(l->h);
	free(l->c);
	memset(l, 0, sizeof(*l));
}

static void
pend(const unsigned char *h, uint32_t classes)
{
	vlist_add(&vc.pending, h, classes);
}

#define NFRESH_MAX	(1u << 20)

/* A verdict this host found, for the fleet; lock held. */
static void
fresh_add(const unsigned char *h, uint32_t classes)
{
	if (vc.share && vc.fresh.n < NFRESH_MAX)
		vlist_add(&vc.fresh, h, classes);
}

/* True if the handle is for the signatures loaded now; lock held. */
static int
current(const void *p)
{
	return vc.on && ((const struct vgen *)p)->gen == vc.gen;
}

static int
is_clean(void *p, const unsigned char *h, uint32_t *classes)
{
	uint32_t v;

	*classes = 0;
	pthread_mutex_lock(&vc.mtx);
	if (!current(p)) {
		pthread_mutex_unlock(&vc.mtx);
		return 0;
	}
	if ((v = vset_get(&vc.cur, h)) == 0 &&
	    (v = vset_get(&vc.old, h)) != 0)
		vset_add(h, v & ~VC_USED);
	if (v != 0) {
		*classes = v & ~VC_USED;
		pend(h, *classes);	/* its last use moves on */
	}
	pthread_mutex_unlock(&vc.mtx);
	return v != 0;
}

static void
add_clean(void *p, const unsigned char *h, uint32_t classes)
{
	pthread_mutex_lock(&vc.mtx);
	if (current(p)) {
		vset_add(h, classes);
		pend(h, classes);
		fresh_add(h, classes);
	}
	pthread_mutex_unlock(&vc.mtx);
}

/* Empties the sets (the handles stay valid, and stale). */
static void
reset(void)
{
	pthread_mutex_lock(&vc.mtx);
	vset_free(&vc.cur);
	vset_free(&vc.old);
	vlist_free(&vc.pending);
	vlist_free(&vc.fresh);
	vc.on = 0;
	vc.gen++;
	pthread_mutex_unlock(&vc.mtx);
}

static void
load_one(void *arg, const unsigned char *h, uint32_t classes)
{
	(void)arg;
	vset_add(h, classes);
}

/* Sets the cache up for the engine's signatures; entries 0: no cache.
 * Called again when new signatures are loaded (loop thread). */
int
vcache_init(size_t entries, const char *version)
{
	struct vgen *g;

	if (vc.on && strcmp(version, vc.version) == 0)
		return 0;	/* the same signatures: keep what we know */
	vcache_flush();
	reset();
	if (entries == 0)
		return 0;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return -1;
	vc.half = entries / 2 > 0 ? entries / 2 : 1;
	if (vset_init(&vc.cur, vc.half) == -1) {
		vset_free(&vc.cur);
		free(g);
		return -1;
	}
	snprintf(vc.version, sizeof(vc.version), "%s", version);
	g->iface.p = g;
	g->iface.is_clean = is_clean;
	g->iface.add_clean = add_clean;
	pthread_mutex_lock(&vc.mtx);
	g->gen = vc.gen;
	g->next = vc.gens;
	vc.gens = g;
	vc.on = 1;
	pthread_mutex_unlock(&vc.mtx);
	/* What the state database kept for these signatures, newest last so
	 * that they end in the newer set. */
	store_verdicts_load(version, entries, load_one, NULL);
	log_info("verdict cache: %zu clean hashes for signatures %s",
	    vc.cur.n + vc.old.n, version);
	return 0;
}

const struct verdict_cache *
vcache_iface(void)
{
	return vc.on ? &vc.gens->iface : NULL;
}

/* Persists what scans added or hit since the last flush (loop thread). */
void
vcache_flush(void)
{
	unsigned char *p;
	uint32_t *pc;
	size_t n;

	if (!vc.on)
		return;
	pthread_mutex_lock(&vc.mtx);
	n = vlist_take(&vc.pending, &p, &pc);
	pthread_mutex_unlock(&vc.mtx);
	if (n > 0 && store_verdicts_save(vc.version, p, pc, n,
	    2 * vc.half) == -1)
		log_warnx("verdict cache: %zu verdicts not saved", n);
	free(p);
	free(pc);
}

/*
 * The fleet's share (fleet.c, loop thread).  vcache_share turns on the
 * keeping of what this host finds clean; vcache_take_fresh hands it over
 * (the caller frees both arrays) with the version it is for;
 * vcache_add_shared adds a verdict another host found, for VERSION: not
 * persisted here, not handed back.
 */
void
vcache_share(int on)
{
	pthread_mutex_lock(&vc.mtx);
	vc.share = on;
	pthread_mutex_unlock(&vc.mtx);
}

size_t
vcache_take_fresh(unsigned char **h, uint32_t **classes, char *version,
    size_t len)
{
	size_t n;

	pthread_mutex_lock(&vc.mtx);
	n = vlist_take(&vc.fresh, h, classes);
	snprintf(version, len, "%s", vc.version);
	pthread_mutex_unlock(&vc.mtx);
	return n;
}

const char *
vcache_version(void)
{
	return vc.on ? vc.version : NULL;
}

int
vcache_add_shared(const char *version, const unsigned char *h,
    uint32_t classes)
{
	int added = 0;

	pthread_mutex_lock(&vc.mtx);
	if (vc.on && strcmp(version, vc.version) == 0 &&
	    vset_get(&vc.cur, h) == 0 && vset_get(&vc.old, h) == 0) {
		vset_add(h, classes);
		added = 1;
	}
	pthread_mutex_unlock(&vc.mtx);
	return added;
}

size_t
vcache_size(void)
{
	size_t n;

	pthread_mutex_lock(&vc.mtx);
	n = vc.cur.n + vc.old.n;
	pthread_mutex_unlock(&vc.mtx);
	return n;
}

/* At exit, when no scan runs any more. */
void
vcache_free(void)
{
	struct vgen *g, *next;

	reset();
	for (g = vc.gens; g != NULL; g = next) {
		next = g->next;
		free(g);
	}
	vc.gens = NULL;
}
