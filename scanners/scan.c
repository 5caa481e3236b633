/*
 * One scan job: launch the appliance over a guest's disks, mount each
 * filesystem read-only in turn, stream it as tar and scan every regular
 * file from memory with the shared engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <guestfs.h>

#include <clamav.h>

#include "cache.h"
#include <sys/stat.h>

#include "engine.h"
#include "extents.h"
#include "findex.h"
#include "guestsrc.h"
#include "listing.h"
#include "log.h"
#include "scan.h"
#include "sigdb.h"
#include "sigsum.h"
#include "spool.h"
#include "streams.h"
#include "treelist.h"
#include "util.h"
#include "walker.h"

/*
 * One tree: a filesystem mounted alone on "/".  A filesystem of an
 * inspected OS is still mounted alone, never under or over another one:
 * what the guest's own mounts hide on it (files under /home of the root
 * filesystem, beneath the /home filesystem) is listed and scanned too,
 * with its path as the guest would see it were nothing mounted there.
 */
struct tree {
	const char	*key;		/* file index key */
	const char	*fs;		/* device, for messages */
	int		 guest_path;	/* paths as the guest sees them */
	const char	*mp;		/* its mountpoint in the guest ("/"), or
					 * NULL: paths are the device's */
	char		**covered;	/* the guest's other mountpoints on it,
					 * as paths of this filesystem ("/srv");
					 * NULL-ended, or NULL */
	char		 drive;		/* Windows' letter for it ('C'), or 0 */
	int		 ntfs;		/* read through ntfs-3g: named streams */
	int		 settable_times;	/* NTFS, FAT: every time a user
					 * can set, ctime too; names that
					 * ignore case */
};

/* A named stream of a listed file, to read as PATH:NAME. */
struct ads {
	uint32_t	 entry;		/* the file's first name */
	int64_t		 size;		/* -1: not known */
	uint8_t		 namelen;
	char		*name;
};

#define ADS_PER_FILE	16	/* streams read of one file */
#define ADS_PER_TREE	10000	/* streams read of one filesystem: each is
				 * a round trip into the appliance */

/*
 * The thread that parses tar streams, and the engine threads it starts
 * once it is confined (they inherit its confinement): every guest byte
 * that is parsed on the host is parsed there.  It is started before the
 * appliance and confined first (opts->confine_parser); the scan's thread
 * hands it one stream at a time and waits.  Each file it takes off a
 * stream goes to the spool, where an engine thread takes it: reading and
 * scanning overlap, and a scan scans on as many cores as it is granted.
 */
enum parser_state { P_IDLE, P_WORK, P_DONE, P_QUIT };

struct parser {
	pthread_t		 t;
	pthread_mutex_t		 m;
	pthread_cond_t		 cv;
	enum parser_state	 state;
	int			 ready;		/* confined (or failed to be) */
	int			 confine_rc;
	char			 confine_err[256];
	/* One walk: what walk_tar_fd (or walk_head_fd, with head > 0)
	 * takes, and what it gave. */
	int			 fd;
	const char		*prefix;	/* or the file's path */
	size_t			 pathlen;
	uint64_t		 head, size;
	struct walk_ctx		*c;
	int			 rc;
	char			 err[256];
};

struct walk_ctx {
	const struct scan_opts	*opts;
	struct parser		*parser;
	struct spool		*spool;		/* set by the parser thread */
	/* The parser thread and the scan's thread (in turn) put files
	 * and count; engine threads take the lock to touch res, the
	 * detections and the skips.  Every detection and skip has the
	 * sequence number it would have in a serial scan: 2k+1 for what
	 * the engines found in the k-th file put, 2k for what was counted
	 * while k files had been put.  The result is sorted by it. */
	pthread_mutex_t		 rm;
	uint64_t		 nput;
	struct scan_progress	*pr;
	struct scan_result	*res;
	struct scan_detection	**tail;
	struct scan_skip	**skip_tail;
	const struct tree	*tree;
	struct listing		*l;
	guestfs_h		*g;	/* a tree may need a new appliance */
	char			 head_note[256];	/* read_head's scan */
	/* The tree's files known clean under other signatures: to check
	 * by their hashes, and read again for the update's types. */
	size_t			 nhashes, nreread;
	struct extents_run	 ext;
	size_t			 nbase;		/* taken from a clone's base */
	/* Windows' drive letters of the inspected OSes' devices. */
	char			**drives;	/* "C", "/dev/sda2", ..., NULL */
	/* What the result says of filesystems read all the same (an NTFS
	 * volume not cleanly shut down). */
	char			 notes[512];
	/* The tree's named streams (NTFS), and whether the one being read
	 * comes whole (a file of its own, not a head). */
	struct ads		*ads;
	size_t			 nads, capads;
	size_t			*byino;		/* listing entries by inode */
	size_t			 nbyino;
	int			 ads_whole;
};

/* How the result marks a path of tree T: a drive letter, 1 (as the guest
 * mounts it) or 0 (of the device). */
static int
tree_guest_path(const struct tree *t)
{
	if (t == NULL)
		return 0;
	return t->drive != 0 ? t->drive : t->guest_path;
}

/* PATH (LEN bytes, of the tree's filesystem) as the result shows it:
 * under the tree's mountpoint; malloc'd, its length in *outlen. */
static char *
shown_path(const struct tree *t, const char *path, size_t len, size_t *outlen)
{
	size_t np = 0;
	char *p;

	if (t != NULL && t->mp != NULL && strcmp(t->mp, "/") != 0 && len > 0)
		np = strlen(t->mp);
	if ((p = malloc(np + len + 1)) == NULL)
		return NULL;
	memcpy(p, t != NULL && t->mp != NULL ? t->mp : "", np);
	memcpy(p + np, path, len);
	p[np + len] = '\0';
	*outlen = np + len;
	return p;
}

/* The mountpoint of the guest that hides PATH of the tree's filesystem
 * from the running guest, or NULL. */
static const char *
hidden_under(const struct tree *t, const char *path, size_t len)
{
	size_t i, n;

	for (i = 0; t != NULL && t->covered != NULL && t->covered[i] != NULL;
	    i++) {
		n = strlen(t->covered[i]);
		if (n < len && memcmp(path, t->covered[i], n) == 0 &&
		    path[n] == '/')
			return t->covered[i];
	}
	return NULL;
}

/* Counts a file or filesystem not scanned, keeping its path while there
 * are fewer than SCAN_SKIP_PATHS for the reason. */
static void
add_skip_at(struct walk_ctx *c, uint64_t seq, enum skip_reason reason,
    const char *fs, const char *path, size_t pathlen, const char *detail)
{
	struct scan_skip *k;

	pthread_mutex_lock(&c->rm);
	c->res->skipped[reason]++;
	if (c->res->nskips[reason] >= SCAN_SKIP_PATHS) {
		pthread_mutex_unlock(&c->rm);
		return;
	}
	c->res->nskips[reason]++;
	pthread_mutex_unlock(&c->rm);
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->fs = strdup(fs)) == NULL ||
	    (k->path = shown_path(c->tree, path, pathlen, &k->pathlen)) ==
	    NULL ||
	    (detail != NULL && (k->detail = strdup(detail)) == NULL)) {
		if (k != NULL) {
			free(k->fs);
			free(k->path);
			free(k);
		}
		pthread_mutex_lock(&c->rm);
		c->res->nskips[reason]--;
		pthread_mutex_unlock(&c->rm);
		return;
	}
	k->reason = reason;
	k->guest_path = tree_guest_path(c->tree);
	k->seq = seq;
	pthread_mutex_lock(&c->rm);
	*c->skip_tail = k;
	c->skip_tail = &k->next;
	pthread_mutex_unlock(&c->rm);
}

/* A skip counted by the parser thread or the scan's thread. */
static void
add_skip(struct walk_ctx *c, enum skip_reason reason, const char *fs,
    const char *path, size_t pathlen, const char *detail)
{
	add_skip_at(c, 2 * c->nput, reason, fs, path, pathlen, detail);
}

static void
add_detection(struct walk_ctx *c, const struct walk_entry *we, uint64_t seq,
    enum engine_kind kind, const char *virname)
{
	struct scan_detection *d;

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->fs = strdup(c->tree->fs)) == NULL ||
	    (d->path = shown_path(c->tree, we->path, we->pathlen,
	    &d->pathlen)) == NULL ||
	    (d->signature = strdup(virname ? virname : "?")) == NULL) {
		if (d != NULL) {
			free(d->fs);
			free(d->path);
			free(d);
		}
		add_skip_at(c, seq, SKIP_UNREADABLE, c->tree->fs, we->path,
		    we->pathlen, "out of memory recording a detection");
		return;
	}
	d->hidden = hidden_under(c->tree, we->path, we->pathlen) != NULL;
	d->size = we->size;
	d->engine = engine_kind_name(kind);
	d->guest_path = tree_guest_path(c->tree);
	d->seq = seq;
	pthread_mutex_lock(&c->rm);
	*c->tail = d;
	c->tail = &d->next;
	c->res->ndetections++;
	pthread_mutex_unlock(&c->rm);
}

/*
 * Puts the record of entry I (its data, verdict and detections those of
 * entry D: I itself, or the first name of its inode) in the file index.
 * Called as soon as a file's verdict is known, from an engine thread, so
 * that a scan cut short keeps what it read; and for the rest once the
 * tree is read.
 */
static void
put_entry(struct walk_ctx *c, size_t i, size_t d)
{
	const struct file_index *idx = c->opts->index;
	struct findex_rec rec;
	struct lentry *e = &c->l->e[d];

	if (idx == NULL || !e->has_sha || (!e->clean && e->found == 0))
		return;
	pthread_mutex_lock(&c->rm);
	lentry_to_rec(e, &rec);
	listing_get_found(c->l, d, &rec);
	/* Not clean, and what named it not kept: no record (read again). */
	if (e->clean || findex_rec_found(&rec)) {
		idx->put(idx->p, c->tree->key, listing_path(c->l, i),
		    c->l->e[i].pathlen, &rec);
		c->l->e[i].put = 1;
	}
	pthread_mutex_unlock(&c->rm);
}

/* E was found clean: so the index says, at once. */
static void
found_clean(struct walk_ctx *c, struct lentry *e, uint32_t classes)
{
	e->clean = 1;
	e->classes = classes;
	put_entry(c, (size_t)(e - c->l->e), (size_t)(e - c->l->e));
}

/* E was found infected: the index keeps what named it. */
static void
found_infected(struct walk_ctx *c, struct lentry *e, const char *const *hits)
{
	struct findex_rec rec;
	size_t i = (size_t)(e - c->l->e);
	int k, rc;

	memset(&rec, 0, sizeof(rec));
	for (k = 0; k < ENGINE_NKINDS && k < SREC_NENGINES; k++)
		if (hits[k] != NULL)
			snprintf(rec.found[k], sizeof(rec.found[k]), "%s",
			    hits[k]);
	pthread_mutex_lock(&c->rm);
	rc = listing_set_found(c->l, i, &rec);
	pthread_mutex_unlock(&c->rm);
	if (rc == 0)
		put_entry(c, i, i);
}

/*
 * Scans what came of one file (E its listing entry, or NULL), the SEQ-th
 * put, in an engine thread.  What kept it from being scanned in full is
 * counted as a skip, or, with NOTE, only said there (the caller counts
 * the file).
 */
static void
scan_data(struct walk_ctx *c, const struct walk_entry *we, struct lentry *e,
    uint64_t seq, char *note, size_t notelen)
{
	const struct verdict_cache *cache = c->opts->cache;
	unsigned char sha[VERDICT_HASH_LEN];
	const char *hits[ENGINE_NKINDS];
	struct engine_seen seen;
	uint32_t classes = 0;
	enum skip_reason why;
	char err[256];
	int k;

	if (cl_sha256(we->data, we->len, sha, NULL) == NULL) {
		snprintf(err, sizeof(err), "sha256 failed");
		why = SKIP_UNREADABLE;
		goto skip;
	}
	if (e != NULL) {
		/* MD5 and SHA-1 for the index: what whole-file hash
		 * signatures of a later version are checked against. */
		memcpy(e->sha, sha, sizeof(sha));
		e->classes = 0;
		if (cl_hash_data("md5", we->data, we->len, e->md5, NULL) ==
		    NULL || cl_hash_data("sha1", we->data, we->len, e->sha1,
		    NULL) == NULL) {
			snprintf(err, sizeof(err), "md5 or sha1 failed");
			why = SKIP_UNREADABLE;
			goto skip;
		}
		e->has_sha = 1;
	}
	/* As clamscan, an empty file is not scanned: it is clean, under
	 * any signatures. */
	if (we->len == 0) {
		if (e != NULL)
			found_clean(c, e, SC_ALWAYS);
		return;
	}
	/* Content seen clean before, in this guest or another, with the same
	 * signatures, is not scanned again. */
	if (cache != NULL && cache->is_clean(cache->p, sha, &classes)) {
		pthread_mutex_lock(&c->rm);
		c->res->cache_hits++;
		pthread_mutex_unlock(&c->rm);
		if (e != NULL)
			found_clean(c, e, classes);
		return;
	}
	pthread_mutex_lock(&c->rm);
	c->res->bytes_scanned += we->len;
	pthread_mutex_unlock(&c->rm);
	switch (engine_scan_mem(c->opts->engine, we->data, we->len, we->path,
	    hits, &seen, err, sizeof(err))) {
	case ENGINE_CLEAN:
		classes = sigsum_file_classes(seen.type, seen.layers);
		if (cache != NULL)
			cache->add_clean(cache->p, sha, classes);
		if (e != NULL)
			found_clean(c, e, classes);
		return;
	case ENGINE_INFECTED:
		/* A detection per engine that matched. */
		for (k = 0; k < ENGINE_NKINDS; k++)
			if (hits[k] != NULL)
				add_detection(c, we, seq,
				    (enum engine_kind)k, hits[k]);
		if (e != NULL)
			found_infected(c, e, hits);
		return;
	case ENGINE_LIMIT:
		why = SKIP_LIMIT;
		break;
	case ENGINE_ENCRYPTED:
		why = SKIP_ENCRYPTED;
		break;
	case ENGINE_ERROR:
	default:
		why = SKIP_UNREADABLE;
		log_debug("scan %s: %s:%s: %s", c->opts->guest, c->tree->fs,
		    we->path, err);
		break;
	}
skip:
	if (note != NULL)
		snprintf(note, notelen, "%s", err);
	else
		add_skip_at(c, seq, why, c->tree->fs, we->path, we->pathlen,
		    err);
}

/* A file read off the stream, waiting in the spool. */
struct item {
	struct spool_item	 si;
	struct walk_entry	 we;		/* path and data are the item's */
	struct lentry		*e;
	uint64_t		 seq;
};

static void
item_free(struct item *it)
{
	free((char *)it->we.path);
	free((void *)it->we.data);
	free(it);
}

/* In an engine thread. */
static void
run_item(void *arg, struct spool_item *si)
{
	struct walk_ctx *c = arg;
	struct item *it = (struct item *)si;

	/* Cancelled, what was read is dropped; cut short (to be resumed),
	 * it is scanned, and what it is goes to the index. */
	if (!atomic_load(&c->pr->cancel) || atomic_load(&c->pr->cut)) {
		if (it->we.kind == WALK_HEAD)
			scan_data(c, &it->we, NULL, it->seq, c->head_note,
			    sizeof(c->head_note));
		else
			scan_data(c, &it->we, it->e, it->seq, NULL, 0);
	}
	item_free(it);
}

/*
 * Hands what the walker read to the engine threads: WALK_KEPT, the data
 * is the item's.  Without memory for the item it is scanned here.  -1 if
 * the scan was cancelled while the spool was full.
 */
static int
put_file(struct walk_ctx *c, const struct walk_entry *we, struct lentry *e)
{
	uint64_t seq = 2 * c->nput + 1;
	struct item *it;

	if ((it = calloc(1, sizeof(*it))) == NULL ||
	    (it->we.path = malloc(we->pathlen + 1)) == NULL) {
		free(it);
		scan_data(c, we, e, seq, we->kind == WALK_HEAD ? c->head_note :
		    NULL, sizeof(c->head_note));
		c->nput++;
		return 0;
	}
	memcpy((char *)it->we.path, we->path, we->pathlen + 1);
	it->we.kind = we->kind;
	it->we.pathlen = we->pathlen;
	it->we.size = we->size;
	it->we.data = we->data;
	it->we.len = we->len;
	it->e = e;
	it->seq = seq;
	it->si.cost = we->len + we->pathlen + sizeof(*it);
	c->nput++;
	if (spool_put(c->spool, &it->si, &c->pr->cancel) == -1) {
		it->we.data = NULL;	/* still the walker's */
		item_free(it);
		return -1;
	}
	return WALK_KEPT;
}

static int
on_file(void *arg, const struct walk_entry *we)
{
	struct walk_ctx *c = arg;
	struct walk_entry lead;
	struct lentry *e = NULL;
	long i;

	if (we->kind == WALK_HEAD && c->ads_whole) {
		/* A named stream, read whole: a file of its own. */
		lead = *we;
		lead.kind = WALK_FILE;
		c->res->files++;
		atomic_store(&c->pr->files, c->res->files);
		return put_file(c, &lead, NULL);
	}
	/* The first bytes of a file over max_file_size: read_heads counts
	 * it, as not scanned in full. */
	if (we->kind == WALK_HEAD)
		return put_file(c, we, NULL);
	if (c->l != NULL &&
	    (i = listing_find(c->l, we->path, we->pathlen)) != -1) {
		e = &c->l->e[i];
		/* The data came under an excluded name tar could not leave
		 * out (a newline), but the inode has a name that is read
		 * (listing_lead): it is that name's file. */
		if (e->plan == PLAN_EXCLUDED && e->leader != (uint32_t)i &&
		    c->l->e[e->leader].plan == PLAN_FETCH &&
		    !c->l->e[e->leader].seen) {
			i = e->leader;
			e = &c->l->e[i];
			lead = *we;
			lead.path = listing_path(c->l, (size_t)i);
			lead.pathlen = e->pathlen;
			we = &lead;
		} else if (e->plan == PLAN_FETCH && e->seen)
			return 0;	/* read already, under that name */
		e->seen = 1;
		c->l->e[e->leader].seen = 1;
		/* Planned out but in the stream all the same (a name tar's
		 * exclude file cannot hold): counted when planned. */
		if (e->plan != PLAN_FETCH && e->plan != PLAN_LINK)
			return 0;
	}
	if (we->kind == WALK_TOO_LARGE) {	/* grew since it was listed */
		if (e != NULL)
			e->plan = PLAN_TOO_LARGE;	/* read_heads reads it */
		else
			add_skip(c, SKIP_TOO_LARGE, c->tree->fs, we->path,
			    we->pathlen, "over max_file_size, and not listed: "
			    "not read");
		return 0;
	}
	c->res->files++;
	atomic_store(&c->pr->files, c->res->files);
	return put_file(c, we, e);
}

/* Whether PATH of the tree (LEN bytes) matches an exclude pattern, as the
 * guest would name it. */
static int
excluded(struct walk_ctx *c, const char *path, size_t len)
{
	const struct scan_opts *o = c->opts;
	size_t n;
	char *p;
	int r;

	if (o->nexcludes == 0)
		return 0;
	if ((p = shown_path(c->tree, path, len, &n)) == NULL)
		return path_excluded(path, o->excludes, o->nexcludes);
	/* NTFS and FAT names ignore case, as Windows does. */
	r = path_excluded_as(p, c->tree->drive, c->tree->settable_times,
	    o->excludes, o->nexcludes);
	free(p);
	return r;
}

/* Where the tree's files lie, when the index keeps it (for linked clones
 * of this guest) or this is a clone.  Without it, files are read. */
static void
learn_extents(struct walk_ctx *c, guestfs_h *g, struct listing *l)
{
	const struct scan_opts *o = c->opts;
	struct extents_run *x = &c->ext;
	size_t placed = x->placed, own = x->own, unc = x->uncertain;
	char why[256];

	if (o->index == NULL || (!o->extents && o->own == NULL))
		return;
	if (extents_learn(x, g, o->fiemap_fd, l, o->own, o->ndisks, why,
	    sizeof(why)) == -1) {
		log_warnx("scan %s: %s: where its files lie is not known: %s",
		    o->guest, c->tree->fs, why);
		return;
	}
	if (why[0] != '\0')
		log_info("scan %s: %s: where its files lie is not known (%s)%s",
		    o->guest, c->tree->fs, why, o->own != NULL ?
		    ": a linked clone's files read in full" : "");
	else
		log_debug("scan %s: %s: %zu files placed, %zu not certain, "
		    "%zu in the clone's own ranges", o->guest, c->tree->fs,
		    x->placed - placed, x->uncertain - unc, x->own - own);
}

/*
 * Whether the file E (PATH) is known: FINDEX_OWN when the guest's index
 * has it unchanged (same inode, size and times), FINDEX_BASE when it is a
 * linked clone's file that lies, every byte of it, where its base's file
 * of the same path lay and nowhere the clone's overlay holds (the same
 * blocks of the same image: the same bytes, whatever the clone did to its
 * metadata); 0 if neither.  *rec is what is known.
 */
static int
known_file(struct walk_ctx *c, struct lentry *e, const char *path,
    struct findex_rec *rec)
{
	const struct file_index *idx = c->opts->index;
	struct findex_rec base;
	int found;

	memset(&base, 0, sizeof(base));
	found = idx->lookup(idx->p, c->tree->key, path, e->pathlen, rec,
	    c->opts->own != NULL && e->has_ext && !e->own ? &base : NULL,
	    c->tree->settable_times ? FINDEX_Q_SETTABLE : 0);
	if ((found & FINDEX_OWN) && lentry_unchanged(e, rec))
		return FINDEX_OWN;
	if ((found & FINDEX_BASE) && base.has_ext && base.size == e->size &&
	    memcmp(base.ext, e->ext, sizeof(base.ext)) == 0) {
		*rec = base;
		return FINDEX_BASE;
	}
	return 0;
}

/* E is the file the index's REC describes: its hashes and classes. */
static void
take_known(struct lentry *e, const struct findex_rec *rec)
{
	memcpy(e->sha, rec->sha, sizeof(rec->sha));
	memcpy(e->md5, rec->md5, sizeof(rec->md5));
	memcpy(e->sha1, rec->sha1, sizeof(rec->sha1));
	e->classes = rec->classes;
	e->has_sha = 1;
}

/* A detection of the listed file E (PATH) without reading it. */
static void
detection_unread(struct walk_ctx *c, const struct lentry *e,
    const char *path, enum engine_kind kind, const char *name)
{
	struct walk_entry we;

	memset(&we, 0, sizeof(we));
	we.kind = WALK_FILE;
	we.path = path;
	we.pathlen = e->pathlen;
	we.size = e->size;
	add_detection(c, &we, 2 * c->nput, kind, name);
}

/* The smallest file at the root of an NTFS or FAT filesystem that is
 * taken for Windows' memory by its name (Windows makes none smaller). */
#define MEMORY_MIN	(1024 * 1024)

/* Decides what becomes of each listed name; counts what is not read. */
static size_t
plan_tree(struct walk_ctx *c)
{
	const char *under;
	uint64_t hidden = 0;
	const struct scan_opts *o = c->opts;
	const struct file_index *idx = o->index;
	struct listing *l = c->l;
	struct findex_rec rec;
	const struct lentry *pe;
	size_t i, fetch = 0;
	long p;
	int known, k;

	c->nhashes = c->nreread = c->nbase = 0;
	for (i = 0; i < l->n; i++) {
		struct lentry *e = &l->e[i];
		const char *path = listing_path(l, i);

		known = 0;
		memset(&rec, 0, sizeof(rec));
		p = listing_parent(l, i);
		pe = p == -1 ? NULL : &l->e[p];
		if (e->plan == PLAN_TOO_DEEP) {
			/* Set by the listing; the subtree was never listed. */
			add_skip(c, SKIP_LIMIT, c->tree->fs, path, e->pathlen,
			    S_ISDIR(e->mode) ? "path longer than the appliance "
			    "can name: this directory and all below it not read" :
			    "path longer than the appliance can name");
		} else if (e->mode == 0) {
			e->plan = PLAN_UNREADABLE;
			add_skip(c, SKIP_UNREADABLE, c->tree->fs, path,
			    e->pathlen, "lstat failed in the appliance");
		} else if ((pe != NULL && pe->plan == PLAN_EXCLUDED) ||
		    excluded(c, path, e->pathlen)) {
			e->plan = PLAN_EXCLUDED;
			if (S_ISREG(e->mode))
				add_skip(c, SKIP_EXCLUDED, c->tree->fs, path,
				    e->pathlen, NULL);
		} else if (S_ISDIR(e->mode)) {
			e->plan = PLAN_DIR;
		} else if (S_ISLNK(e->mode)) {
			e->plan = PLAN_SYMLINK;
		} else if (!S_ISREG(e->mode)) {
			e->plan = PLAN_SPECIAL;
			add_skip(c, SKIP_SPECIAL, c->tree->fs, path, e->pathlen,
			    S_ISFIFO(e->mode) ? "FIFO" : S_ISSOCK(e->mode) ?
			    "socket" : S_ISCHR(e->mode) ? "character device" :
			    "block device");
		} else if (c->tree->settable_times && e->size >= MEMORY_MIN &&
		    path_is_memory(path, e->pathlen)) {
			/* Windows' paging, hibernation and swap files: what
			 * was in memory, not files.  A small one under such
			 * a name is not Windows' and is read. */
			e->plan = PLAN_EXCLUDED;
			add_skip(c, SKIP_MEMORY, c->tree->fs, path, e->pathlen,
			    "Windows' memory on disk (paging, hibernation or "
			    "swap file), not a file: not read");
		} else if (listing_lead(l, i) != i) {
			e->plan = PLAN_LINK;
		} else if (e->size > o->max_file_size) {
			/* Out of the tar stream; its first bytes are read
			 * on their own (read_heads), and it is counted
			 * then. */
			e->plan = PLAN_TOO_LARGE;
		} else if (idx != NULL && (known = known_file(c, e, path,
		    &rec)) && findex_rec_found(&rec)) {
			/* Found infected before: under the same signatures,
			 * the same detections without reading it (a scan cut
			 * short and resumed reads it once); under others, it
			 * is read again. */
			if (rec.changed == 0 &&
			    listing_set_found(l, i, &rec) == 0) {
				if (known == FINDEX_BASE)
					c->nbase++;
				take_known(e, &rec);
				for (k = 0; k < ENGINE_NKINDS &&
				    k < SREC_NENGINES; k++)
					if (rec.found[k][0] != '\0')
						detection_unread(c, e, path,
						    (enum engine_kind)k,
						    rec.found[k]);
				e->plan = PLAN_UNCHANGED;
				c->res->unchanged++;
			} else {
				e->plan = PLAN_FETCH;
				fetch++;
			}
		} else if (known && !(rec.changed & (rec.classes ?
		    rec.classes : SC_EVERY) & ~SC_BIT(SC_HASH))) {
			/* The kernel sets ctime on every change: same inode,
			 * size and times is taken as the same content (a
			 * guest's root could fake it only by setting the
			 * clock back: file_index = no).  Found clean under
			 * other signatures, whose changes touch no class of
			 * file it is: only its hashes are checked against
			 * the hash signatures (check_hashes). */
			if (known == FINDEX_BASE)
				c->nbase++;
			take_known(e, &rec);
			if (rec.changed == 0) {
				e->plan = PLAN_UNCHANGED;
				e->clean = 1;
				c->res->unchanged++;
			} else {
				e->plan = PLAN_HASHES;
				c->nhashes++;
			}
		} else {
			if (known != 0 && rec.changed != 0)
				c->nreread++;
			e->plan = PLAN_FETCH;
			fetch++;
		}
		if (e->plan == PLAN_LINK)
			fetch++;
		if (S_ISREG(e->mode) && e->plan != PLAN_EXCLUDED &&
		    (under = hidden_under(c->tree, path, e->pathlen)) != NULL) {
			c->res->hidden++;
			if (hidden++ == 0)
				log_warnx("scan %s: %s: files under %s%s, where "
				    "the guest mounts another filesystem: hidden "
				    "from the running guest (scanned all the "
				    "same)", c->opts->guest, c->tree->fs,
				    c->tree->mp != NULL && strcmp(c->tree->mp,
				    "/") != 0 ? c->tree->mp : "", under);
		}
	}
	return fetch;
}

/*
 * The files planned PLAN_HASHES, found clean under other signatures whose
 * changes touch none of their classes: each is checked against the
 * whole-file hash signatures of the files the engine was loaded from.
 * One that a signature names is a detection without a byte of it read;
 * the others are known clean.  When that cannot be done (the files
 * changed since the engine was loaded, or could not be read), they are
 * read.  Returns how many files are now to be read.
 */
static size_t
check_hashes(struct walk_ctx *c)
{
	struct engine *eng = c->opts->engine;
	struct listing *l = c->l;
	struct sigdb_file *f;
	size_t i, k, fetch = 0, found = 0;
	char err[256] = "";
	int ok = 0;

	if (c->nreread > 0 || c->nhashes > 0)
		log_info("scan %s: %s: %zu files known clean under other "
		    "signatures: %zu read again (the update targets their "
		    "types), %zu checked by their hashes only", c->opts->guest,
		    c->tree->fs, c->nreread + c->nhashes, c->nreread,
		    c->nhashes);
	if (c->nhashes == 0)
		return 0;
	if ((f = calloc(c->nhashes, sizeof(*f))) == NULL) {
		snprintf(err, sizeof(err), "out of memory");
	} else {
		for (i = 0, k = 0; i < l->n; i++) {
			if (l->e[i].plan != PLAN_HASHES)
				continue;
			memcpy(f[k].md5, l->e[i].md5, sizeof(f[k].md5));
			memcpy(f[k].sha1, l->e[i].sha1, sizeof(f[k].sha1));
			memcpy(f[k].sha256, l->e[i].sha, sizeof(f[k].sha256));
			f[k++].size = l->e[i].size;
		}
		if (!engine_files_unchanged(eng))
			snprintf(err, sizeof(err), "the signature files "
			    "changed since they were loaded");
		else if (sigdb_match(engine_dbdir(eng), f, c->nhashes, err,
		    sizeof(err)) == 0) {
			ok = engine_files_unchanged(eng);
			if (!ok) {
				snprintf(err, sizeof(err), "the signature "
				    "files changed while they were read");
				for (k = 0; k < c->nhashes; k++)
					free(f[k].name);
			}
		}
	}
	for (i = 0, k = 0; i < l->n; i++) {
		struct lentry *e = &l->e[i];

		if (e->plan != PLAN_HASHES)
			continue;
		if (!ok) {
			e->plan = PLAN_FETCH;
			e->has_sha = 0;
			fetch++;
			continue;
		}
		e->plan = PLAN_UNCHANGED;
		if (f[k].name != NULL && e->size > 0) {
			detection_unread(c, e, listing_path(l, i),
			    ENGINE_CLAMAV, f[k].name);
			found++;
		} else {
			e->clean = 1;
			c->res->unchanged++;
		}
		free(f[k].name);
		k++;
	}
	if (!ok)
		log_info("scan %s: %s: %zu files read again: %s",
		    c->opts->guest, c->tree->fs, fetch, err);
	else if (found > 0)
		log_info("scan %s: %s: %zu files named by a new hash "
		    "signature, found without reading them", c->opts->guest,
		    c->tree->fs, found);
	free(f);
	return fetch;
}

static void *
parser_main(void *arg)
{
	struct parser *p = arg;
	struct walk_ctx *c;
	int rc;

	rc = 0;
	c = p->c;
	if (c->opts->confine_parser != NULL)
		rc = c->opts->confine_parser(p->confine_err,
		    sizeof(p->confine_err));
	/* Started here, after the filter: the engine threads inherit it. */
	if (rc == 0 && (c->spool = spool_new(c->opts->threads,
	    c->opts->spool_size > 0 ? c->opts->spool_size :
	    SCAN_SPOOL_DEFAULT, run_item, c, &c->pr->threads, p->confine_err,
	    sizeof(p->confine_err))) == NULL)
		rc = -2;
	pthread_mutex_lock(&p->m);
	p->confine_rc = rc;
	p->ready = 1;
	pthread_cond_broadcast(&p->cv);
	for (;;) {
		while (p->state != P_WORK && p->state != P_QUIT)
			pthread_cond_wait(&p->cv, &p->m);
		if (p->state == P_QUIT)
			break;
		pthread_mutex_unlock(&p->m);
		if (p->head > 0)
			rc = walk_head_fd(p->fd, p->prefix, p->pathlen,
			    p->size, (size_t)p->head, c->opts->budget,
			    on_file, c, &c->pr->cancel, &c->pr->fs_bytes,
			    p->err, sizeof(p->err));
		else
			rc = walk_tar_fd(p->fd, p->prefix,
			    c->opts->max_file_size, c->opts->budget, on_file,
			    c, &c->pr->cancel, &c->pr->fs_bytes, p->err,
			    sizeof(p->err));
		pthread_mutex_lock(&p->m);
		p->rc = rc;
		p->state = P_DONE;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->m);
	if (c->spool != NULL) {
		atomic_store(&c->pr->spool_peak, spool_peak(c->spool));
		spool_free(c->spool);
		c->spool = NULL;
	}
	return NULL;
}

/* Starts the parser thread and waits until it is confined; -1 with err
 * if it could not be started or confined. */
static int
parser_start(struct parser *p, struct walk_ctx *c, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	pthread_mutex_init(&p->m, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->t, NULL, parser_main, p) != 0) {
		snprintf(err, errlen, "cannot start the parser thread");
		pthread_mutex_destroy(&p->m);
		pthread_cond_destroy(&p->cv);
		return -1;
	}
	pthread_mutex_lock(&p->m);
	while (!p->ready)
		pthread_cond_wait(&p->cv, &p->m);
	pthread_mutex_unlock(&p->m);
	c->parser = p;
	if (p->confine_rc != 0) {
		snprintf(err, errlen, "%s: %s", p->confine_rc == -1 ?
		    "confining the parser thread" : "the engine threads",
		    p->confine_err);
		return -1;
	}
	return 0;
}

static void
parser_stop(struct parser *p)
{
	pthread_mutex_lock(&p->m);
	p->state = P_QUIT;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->m);
	pthread_join(p->t, NULL);
	pthread_mutex_destroy(&p->m);
	pthread_cond_destroy(&p->cv);
}

/* walk_tar_fd, or walk_head_fd if HEAD > 0, run by the parser thread; the
 * caller waits. */
static int
parser_walk(struct walk_ctx *c, int fd, const char *prefix, size_t pathlen,
    uint64_t head, uint64_t size, char *err, size_t errlen)
{
	struct parser *p = c->parser;
	int rc;

	pthread_mutex_lock(&p->m);
	p->fd = fd;
	p->prefix = prefix;
	p->pathlen = pathlen;
	p->head = head;
	p->size = size;
	p->state = P_WORK;
	pthread_cond_broadcast(&p->cv);
	while (p->state != P_DONE)
		pthread_cond_wait(&p->cv, &p->m);
	p->state = P_IDLE;
	rc = p->rc;
	snprintf(err, errlen, "%s", p->err);
	pthread_mutex_unlock(&p->m);
	return rc;
}

/*
 * Parses stream S (parser_walk's arguments), ends it, and counts what it
 * took: time, bytes read, one stream.  parser_walk's result; *src is
 * gsrc_stream_finish's, with serr.
 */
static int
walk_stream(struct walk_ctx *c, struct gsrc_stream *s, const char *prefix,
    size_t pathlen, uint64_t head, uint64_t size, char *werr, size_t werrlen,
    int *src, char *serr, size_t serrlen)
{
	uint64_t t0;
	int wrc;

	atomic_store(&c->pr->fs_bytes, 0);
	t0 = mono_ms();
	wrc = parser_walk(c, s->rfd, prefix, pathlen, head, size, werr,
	    werrlen);
	*src = gsrc_stream_finish(s, wrc == 0, serr, serrlen);
	c->res->stream_ms += mono_ms() - t0;
	c->res->bytes_read += atomic_load(&c->pr->fs_bytes);
	atomic_store(&c->pr->bytes_read, c->res->bytes_read);
	atomic_store(&c->pr->fs_bytes, 0);
	c->res->streams++;
	return wrc;
}

#define MAX_EXCLUDE_BYTES	(2 * 1024 * 1024)	/* of a 4 MB message */

/* Streams directory DIR (less EXCLUDES) and scans what comes.  -1 with
 * err if the stream failed. */
static int
stream_dir(struct walk_ctx *c, guestfs_h *g, const char *dir,
    char *const *excludes, char *err, size_t errlen)
{
	struct gsrc_stream s;
	char werr[256], serr[512];
	int wrc, src;

	if (gsrc_stream_start(g, &s, dir, excludes, err, errlen) == -1)
		return -1;
	wrc = walk_stream(c, &s, strcmp(dir, "/") == 0 ? "" : dir, 0, 0, 0,
	    werr, sizeof(werr), &src, serr, sizeof(serr));
	if (atomic_load(&c->pr->cancel))
		return 0;
	if (wrc == -1) {
		snprintf(err, errlen, "%s%s%s", werr, src == -1 ? "; " : "",
		    src == -1 ? serr : "");
		return -1;
	}
	if (src == -1) {
		/* tar read to its end but complained (a file it could not
		 * read): what came was scanned; the missing files are
		 * counted unreadable afterwards. */
		log_warnx("scan %s: %s: %s", c->opts->guest, c->tree->fs,
		    serr);
	}
	return 0;
}

/*
 * tar tests each name it meets against the excludes at each of its
 * levels (a name may match from any of its '/' on), so that one name
 * costs about its depth times its length: a chain of a thousand nested
 * directories under excludes keeps an emulated tar busy for minutes.
 * One stream for a whole subtree is taken only while the names it
 * streams cost at most this in all; otherwise it streams level by level,
 * each level's names tested against that level's excludes only.
 */
#define COLLAPSE_MAX_COST	(8u << 20)
#define COLLAPSE_MAX_WILD	64	/* patterns with an escaped pattern
					 * character, which tar may match one
					 * by one rather than by hash */

/* Patterns of one exclude list, growing, and what the names the stream
 * will hold cost tar. */
struct excludes {
	char	**v;
	size_t	  n, cap, bytes, wild;
	uint64_t  cost;
};

static void
excludes_free(struct excludes *x)
{
	size_t k;

	for (k = 0; k < x->n; k++)
		free(x->v[k]);
	free(x->v);
	memset(x, 0, sizeof(*x));
}

/* Adds what entry I (its path SKIP bytes on) costs tar; -1 over bound. */
static int
add_cost(const struct listing *l, size_t i, size_t skip, struct excludes *x)
{
	const char *p = listing_path(l, i) + skip;
	size_t len = l->e[i].pathlen - skip, k, depth = 1;

	for (k = 0; k < len; k++)
		depth += p[k] == '/';
	x->cost += (uint64_t)depth * len;
	return x->cost > COLLAPSE_MAX_COST ? -1 : 0;
}

/* Adds the cost of every name under directory D (streamed whole). */
static int
add_subtree_cost(const struct listing *l, const struct ltree *t, long d,
    size_t skip, struct excludes *x)
{
	long i;

	for (i = t->first[d]; i != -1; i = t->next[i])
		if (add_cost(l, (size_t)i, skip, x) == -1 ||
		    (l->e[i].plan == PLAN_DIR &&
		    add_subtree_cost(l, t, i, skip, x) == -1))
			return -1;
	return 0;
}

/*
 * The excludes that let directory D (-1: the top) stream its whole
 * subtree in one tar: every entry under it that is not to be read, a
 * directory with nothing to read excluded whole, one whose files are all
 * read entered without any; each pattern relative to D, whose path is
 * SKIP bytes before its entries' own.  A name tar cannot exclude (a
 * newline) streams along, subtree and all, and what it holds that is not
 * to be read is dropped as it passes.  -1 when out of memory, over
 * MAX_EXCLUDE_BYTES or over what tar should spend matching: the caller
 * streams level by level.
 */
static int
subtree_excludes(const struct listing *l, const struct ltree *t, long d,
    size_t skip, struct excludes *x)
{
	const char *p;
	char **nv;
	uint8_t plan;
	long i;

	for (i = d == -1 ? t->top_first : t->first[d]; i != -1;
	    i = t->next[i]) {
		plan = l->e[i].plan;
		p = listing_path(l, (size_t)i);
		if (plan == PLAN_FETCH || plan == PLAN_LINK ||
		    plan == PLAN_SPECIAL || plan == PLAN_SYMLINK) {
			if (add_cost(l, (size_t)i, skip, x) == -1)
				return -1;
			continue;
		}
		if (memchr(p + skip, '\n', l->e[i].pathlen - skip) != NULL) {
			if (add_cost(l, (size_t)i, skip, x) == -1 ||
			    (plan == PLAN_DIR &&
			    add_subtree_cost(l, t, i, skip, x) == -1))
				return -1;
			continue;
		}
		if (plan == PLAN_DIR && t->needs[i]) {
			if (add_cost(l, (size_t)i, skip, x) == -1 ||
			    (t->pure[i] ? add_subtree_cost(l, t, i, skip, x) :
			    subtree_excludes(l, t, i, skip, x)) == -1)
				return -1;
			continue;
		}
		if (x->n + 1 >= x->cap) {
			x->cap = x->cap ? 2 * x->cap : 64;
			if ((nv = realloc(x->v, x->cap * sizeof(*nv))) == NULL)
				return -1;
			x->v = nv;
		}
		if ((x->v[x->n] = tar_pattern(p + skip, l->e[i].pathlen -
		    skip)) == NULL)
			return -1;
		x->wild += strchr(x->v[x->n], '\\') != NULL;
		x->bytes += strlen(x->v[x->n++]) + 1;
		x->v[x->n] = NULL;
		if (x->bytes > MAX_EXCLUDE_BYTES || x->wild > COLLAPSE_MAX_WILD)
			return -1;
	}
	return 0;
}

/*
 * Reads what directory D (-1: the top) holds that must be read.  A pure
 * directory streams whole.  Otherwise, when the excludes of its whole
 * subtree fit in a request and cost tar little, the subtree streams in
 * one (each stream is a call into the appliance and a tar started there,
 * about 0.1 s emulated: a linked clone's few changed files lie in a
 * dozen directories).  Otherwise its own files to read stream with
 * every other entry of that one level excluded, and each subdirectory is
 * visited in turn.  A name tar cannot exclude (a newline) streams with the
 * rest, subtree and all, and is not visited again: what it holds that is
 * not to be read is dropped as it passes.
 */
static int
visit_dir(struct walk_ctx *c, guestfs_h *g, const struct ltree *t, long d,
    char *err, size_t errlen)
{
	const struct listing *l = c->l;
	const char *dir = d == -1 ? "/" : listing_path(l, (size_t)d);
	const char *name;
	char **ex = NULL;
	struct excludes all;
	unsigned char *covered = NULL;
	size_t nex = 0, nchild = 0, wanted = 0, bytes = 0, len, k;
	long i, first = d == -1 ? t->top_first : t->first[d];
	int rc = -1;

	if (atomic_load(&c->pr->cancel) ||
	    !(d == -1 ? t->top_needs : t->needs[d]))
		return 0;
	if (d == -1 ? t->top_pure : t->pure[d])
		return stream_dir(c, g, dir, NULL, err, errlen);
	memset(&all, 0, sizeof(all));
	if (subtree_excludes(l, t, d, d == -1 ? 1 : strlen(dir) + 1, &all) ==
	    0) {
		rc = stream_dir(c, g, dir, all.v, err, errlen);
		excludes_free(&all);
		return rc;
	}
	excludes_free(&all);
	for (i = first; i != -1; i = t->next[i]) {
		nchild++;
		wanted += l->e[i].plan == PLAN_FETCH ||
		    l->e[i].plan == PLAN_LINK;
	}
	if ((covered = calloc(nchild + 1, 1)) == NULL ||
	    (ex = calloc(nchild + 1, sizeof(*ex))) == NULL)
		goto oom;
	if (wanted > 0) {
		for (i = first, k = 0; i != -1; i = t->next[i], k++) {
			uint8_t plan = l->e[i].plan;

			/* Entries without data need no exclude. */
			if (plan == PLAN_FETCH || plan == PLAN_LINK ||
			    plan == PLAN_SPECIAL || plan == PLAN_SYMLINK)
				continue;
			name = ltree_name(l, t, (size_t)i, &len);
			if (memchr(name, '\n', len) != NULL) {
				covered[k] = 1;
				continue;
			}
			if ((ex[nex] = tar_pattern(name, len)) == NULL)
				goto oom;
			bytes += strlen(ex[nex++]) + 1;
		}
		if (bytes > MAX_EXCLUDE_BYTES) {
			/* Too many to send: the whole directory streams and
			 * the plans still hold. */
			log_debug("scan %s: %zu excludes in %s: streaming it "
			    "whole", c->opts->guest, nex, dir);
			if (stream_dir(c, g, dir, NULL, err, errlen) == -1)
				goto out;
			rc = 0;
			goto out;
		}
		if (stream_dir(c, g, dir, ex, err, errlen) == -1)
			goto out;
	}
	for (i = first, k = 0; i != -1; i = t->next[i], k++)
		if (l->e[i].plan == PLAN_DIR && !covered[k] &&
		    visit_dir(c, g, t, i, err, errlen) == -1)
			goto out;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (ex != NULL)
		for (k = 0; k < nex; k++)
			free(ex[k]);
	free(ex);
	free(covered);
	return rc;
}

/*
 * A file over max_file_size: its first max_file_size bytes are read on
 * their own and scanned (malware sits at the start of a file far more
 * often than past 100 MB, and a sparse file costs its guest nothing), and
 * it is counted as not scanned in full, with what was done.
 */
static void
read_head(struct walk_ctx *c, size_t i)
{
	const struct lentry *e = &c->l->e[i];
	const char *path = listing_path(c->l, i);
	uint64_t len = c->opts->max_file_size;
	struct gsrc_stream s;
	char werr[256], serr[512], detail[600];
	int wrc, src;

	if (atomic_load(&c->pr->cancel)) {
		add_skip(c, SKIP_TOO_LARGE, c->tree->fs, path, e->pathlen,
		    "over max_file_size; not read: the scan was cancelled");
		return;
	}
	c->head_note[0] = '\0';
	if (gsrc_head_start(c->g, &s, path, len, serr, sizeof(serr)) == -1) {
		snprintf(detail, sizeof(detail), "over max_file_size; its "
		    "first bytes could not be read: %s", serr);
		add_skip(c, SKIP_TOO_LARGE, c->tree->fs, path, e->pathlen,
		    detail);
		return;
	}
	wrc = walk_stream(c, &s, path, e->pathlen, len, e->size, werr,
	    sizeof(werr), &src, serr, sizeof(serr));
	spool_drain(c->spool);		/* the head's note */
	if (wrc == -1)
		snprintf(detail, sizeof(detail), "over max_file_size; reading "
		    "its first bytes: %s", werr);
	else if (wrc == 1)
		snprintf(detail, sizeof(detail), "over max_file_size; not "
		    "read: the scan was cancelled");
	else if (c->head_note[0] != '\0')
		snprintf(detail, sizeof(detail), "over max_file_size; its "
		    "first %llu bytes were read but not scanned: %s",
		    (unsigned long long)len, c->head_note);
	else
		snprintf(detail, sizeof(detail), "over max_file_size: only "
		    "its first %llu bytes were scanned%s%s",
		    (unsigned long long)len, src == -1 ? " (then: " : "",
		    src == -1 ? serr : "");
	if (wrc == 0 && src == -1 && strlen(detail) + 2 < sizeof(detail))
		strcat(detail, ")");
	add_skip(c, SKIP_TOO_LARGE, c->tree->fs, path, e->pathlen, detail);
}

static void
read_heads(struct walk_ctx *c)
{
	size_t i;

	for (i = 0; i < c->l->n; i++)
		if (c->l->e[i].plan == PLAN_TOO_LARGE)
			read_head(c, i);
}

static int
by_ino_any(const void *a, const void *b, void *arg)
{
	const struct listing *l = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	uint64_t x = l->e[i].ino, y = l->e[j].ino;

	if (x != y)
		return x < y ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* "PATH:NAME" of stream A, malloc'd, its length in *len. */
static char *
ads_path(const struct walk_ctx *c, size_t entry, const char *name,
    size_t namelen, size_t *len)
{
	const char *path = listing_path(c->l, entry);
	size_t n = c->l->e[entry].pathlen;
	char *p;

	if ((p = malloc(n + 1 + namelen + 1)) == NULL)
		return NULL;
	memcpy(p, path, n);
	p[n] = ':';
	memcpy(p + n + 1, name, namelen);
	p[n + 1 + namelen] = '\0';
	*len = n + 1 + namelen;
	return p;
}

/* Keeps a named stream the appliance listed (stream_cb): at most
 * ADS_PER_FILE of a file, ADS_PER_TREE of the filesystem; past them each
 * is counted, not read. */
static int
ads_add(void *arg, uint64_t ino, int64_t size, const char *name,
    size_t namelen)
{
	struct walk_ctx *c = arg;
	struct listing *l = c->l;
	size_t lo = 0, hi = c->nbyino, mid, i, n = 0, plen;
	struct ads *a;
	char *p;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (l->e[c->byino[mid]].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* A file not listed (under a path too long) is not read at all. */
	if (lo == c->nbyino || l->e[c->byino[lo]].ino != ino)
		return 0;
	i = c->byino[lo];
	if (S_ISREG(l->e[i].mode))
		i = l->e[i].leader;
	while (n < c->nads && c->ads[c->nads - 1 - n].entry == i)
		n++;
	if (n >= ADS_PER_FILE || c->nads >= ADS_PER_TREE) {
		if ((p = ads_path(c, i, name, namelen, &plen)) != NULL) {
			add_skip(c, SKIP_LIMIT, c->tree->fs, p, plen,
			    n >= ADS_PER_FILE ? "a named stream past the "
			    "first 16 of its file: not read" : "a named "
			    "stream past the first 10000 of the filesystem: "
			    "not read");
			free(p);
		}
		return 0;
	}
	if (c->nads == c->capads) {
		size_t ncap = c->capads ? 2 * c->capads : 64;

		if ((a = realloc(c->ads, ncap * sizeof(*a))) == NULL)
			return 1;
		c->ads = a;
		c->capads = ncap;
	}
	a = &c->ads[c->nads];
	if ((a->name = malloc(namelen)) == NULL)
		return 1;
	memcpy(a->name, name, namelen);
	a->namelen = (uint8_t)namelen;
	a->entry = (uint32_t)i;
	a->size = size;
	c->nads++;
	return 0;
}

static void
ads_free(struct walk_ctx *c)
{
	size_t i;

	for (i = 0; i < c->nads; i++)
		free(c->ads[i].name);
	free(c->ads);
	free(c->byino);
	c->ads = NULL;
	c->byino = NULL;
	c->nads = c->capads = c->nbyino = 0;
}

/* Lists the named streams of an NTFS tree (learn_ads) into c->ads. */
static void
learn_ads(struct walk_ctx *c, guestfs_h *g)
{
	struct listing *l = c->l;
	char why[256];
	size_t i;

	if ((c->byino = malloc((l->n + 1) * sizeof(*c->byino))) == NULL) {
		add_skip(c, SKIP_UNREADABLE, c->tree->fs, "", 0,
		    "named streams not read: out of memory");
		return;
	}
	for (i = 0; i < l->n; i++)
		if (l->e[i].mode != 0)
			c->byino[c->nbyino++] = i;
	qsort_r(c->byino, c->nbyino, sizeof(*c->byino), by_ino_any, l);
	if (streams_list(&c->ext, g, c->opts->fiemap_fd, ads_add, c, why,
	    sizeof(why)) == -1) {
		char what[400];

		snprintf(what, sizeof(what), "named streams (alternate data "
		    "streams) not read: %s", why);
		log_warnx("scan %s: %s: %s", c->opts->guest, c->tree->fs,
		    what);
		add_skip(c, SKIP_UNREADABLE, c->tree->fs, "", 0, what);
		return;
	}
	if (c->nads > 0)
		log_debug("scan %s: %s: %zu named streams to read",
		    c->opts->guest, c->tree->fs, c->nads);
}

/* Reads and scans each named stream as a file of its own, PATH:NAME; one
 * over max_file_size as read_head does. */
static void
read_ads(struct walk_ctx *c)
{
	struct gsrc_stream s;
	char werr[256], serr[512], detail[700], *p;
	uint64_t len;
	size_t i, plen;
	int wrc, src;

	for (i = 0; i < c->nads && !atomic_load(&c->pr->cancel); i++) {
		const struct ads *a = &c->ads[i];
		const struct lentry *e = &c->l->e[a->entry];

		if (e->plan == PLAN_UNREADABLE || e->plan == PLAN_TOO_DEEP ||
		    a->size == 0)
			continue;
		if ((p = ads_path(c, a->entry, a->name, a->namelen, &plen)) ==
		    NULL) {
			add_skip(c, SKIP_UNREADABLE, c->tree->fs,
			    listing_path(c->l, a->entry), e->pathlen,
			    "a named stream: out of memory");
			continue;
		}
		if (e->plan == PLAN_EXCLUDED) {
			add_skip(c, SKIP_EXCLUDED, c->tree->fs, p, plen,
			    "a named stream of an excluded file");
			free(p);
			continue;
		}
		if (a->size < 0) {
			add_skip(c, SKIP_UNREADABLE, c->tree->fs, p, plen,
			    "a named stream the appliance could not stat");
			free(p);
			continue;
		}
		len = (uint64_t)a->size < c->opts->max_file_size ?
		    (uint64_t)a->size : c->opts->max_file_size;
		if (gsrc_head_start(c->g, &s, p, len, serr, sizeof(serr)) ==
		    -1) {
			snprintf(detail, sizeof(detail), "a named stream: %s",
			    serr);
			add_skip(c, SKIP_UNREADABLE, c->tree->fs, p, plen,
			    detail);
			free(p);
			continue;
		}
		c->ads_whole = len == (uint64_t)a->size;
		c->head_note[0] = '\0';
		wrc = walk_stream(c, &s, p, plen, len, (uint64_t)a->size,
		    werr, sizeof(werr), &src, serr, sizeof(serr));
		spool_drain(c->spool);
		c->ads_whole = 0;
		if (wrc == -1 || (wrc == 0 && src == -1)) {
			snprintf(detail, sizeof(detail), "a named stream: "
			    "reading it: %s", wrc == -1 ? werr : serr);
			add_skip(c, SKIP_UNREADABLE, c->tree->fs, p, plen,
			    detail);
		} else if (wrc == 0 && len < (uint64_t)a->size) {
			snprintf(detail, sizeof(detail), "a named stream over "
			    "max_file_size: only its first %llu bytes were "
			    "scanned%s%s", (unsigned long long)len,
			    c->head_note[0] != '\0' ? "; " : "", c->head_note);
			add_skip(c, SKIP_TOO_LARGE, c->tree->fs, p, plen,
			    detail);
		}
		free(p);
	}
}

/* How many streams visit_dir would start under D (-1: the top). */
static size_t
count_streams(const struct listing *l, const struct ltree *t, long d)
{
	long i, first = d == -1 ? t->top_first : t->first[d];
	size_t n = 0, wanted = 0;

	if (!(d == -1 ? t->top_needs : t->needs[d]))
		return 0;
	if (d == -1 ? t->top_pure : t->pure[d])
		return 1;
	for (i = first; i != -1; i = t->next[i]) {
		wanted += l->e[i].plan == PLAN_FETCH ||
		    l->e[i].plan == PLAN_LINK;
		if (l->e[i].plan == PLAN_DIR)
			n += count_streams(l, t, i);
	}
	return n + (wanted > 0);
}

/*
 * Each stream costs a call into the appliance and a tar started there:
 * with the appliance emulated, about what 0.5 MiB more in one stream
 * costs.  When the files to read are spread over many directories (a
 * signature update that makes every compiled Python file be read again)
 * and what would stream needlessly is small next to that, the tree
 * streams whole and what is not to be read is dropped as it passes.
 */
#define STREAM_COST_BYTES	(512 * 1024)
#define STREAM_WHOLE_MIN	16

static int
stream_tree(struct walk_ctx *c, guestfs_h *g, char *err, size_t errlen)
{
	const struct listing *l = c->l;
	struct ltree t;
	uint64_t needless = 0;
	size_t i, n;
	int rc;

	if (ltree_build(l, &t) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = count_streams(l, &t, -1);
	for (i = 0; i < l->n; i++) {
		/* What was never listed must not come in unasked. */
		if (l->e[i].plan == PLAN_TOO_DEEP)
			n = 0;
		if (S_ISREG(l->e[i].mode) && l->e[i].plan != PLAN_FETCH &&
		    l->e[i].plan != PLAN_LINK)
			needless += l->e[i].size;
	}
	if (n >= STREAM_WHOLE_MIN && needless <= n * STREAM_COST_BYTES) {
		log_debug("scan %s: %s: one stream instead of %zu (%llu bytes "
		    "not to be read stream along)", c->opts->guest,
		    c->tree->fs, n, (unsigned long long)needless);
		rc = stream_dir(c, g, "/", NULL, err, errlen);
	} else
		rc = visit_dir(c, g, &t, -1, err, errlen);
	ltree_free(&t);
	return rc;
}

/* What tree T is, from its filesystem's TYPE. */
static void
tree_type(struct tree *t, const char *type)
{
	t->ntfs = type != NULL && strcmp(type, "ntfs") == 0;
	t->settable_times = t->ntfs || (type != NULL &&
	    (strcmp(type, "vfat") == 0 || strcmp(type, "msdos") == 0 ||
	    strcmp(type, "exfat") == 0));
}

/* Mounts tree T's device read-only on "/": NTFS through ntfs-3g with its
 * named streams reachable as PATH:NAME (and listed by sentinel-fiemap). */
static int
mount_tree(guestfs_h *g, const struct tree *t)
{
	if (t->ntfs)
		return guestfs_mount_options(g, "ro,streams_interface=windows",
		    t->fs, "/");
	return guestfs_mount_ro(g, t->fs, "/");
}

/*
 * An NTFS volume Windows did not close (hibernated, fast start-up, a
 * crash, or a running guest's point-in-time view) is read all the same,
 * read-only, as it is on disk: what Windows still held in memory is not
 * in it.  The result says so.
 */
static void
ntfs_state(struct walk_ctx *c, guestfs_h *g, const struct tree *t)
{
	const char *what;
	char note[300];
	size_t len;
	int r;

	if (!t->ntfs || (r = guestfs_ntfs_3g_probe(g, 1, t->fs)) <= 0)
		return;
	what = r == 14 ? "hibernated: Windows hibernation or fast start-up" :
	    r == 15 ? "not cleanly unmounted: fast start-up, a crash, or the "
	    "guest running" : NULL;
	if (what == NULL)
		return;
	if (t->drive != 0)
		snprintf(note, sizeof(note), "%c: (%s): NTFS volume not "
		    "cleanly shut down (%s): read as it is on disk", t->drive,
		    t->fs, what);
	else
		snprintf(note, sizeof(note), "%s: NTFS volume not cleanly "
		    "shut down (%s): read as it is on disk", t->fs, what);
	log_info("scan %s: %s", c->opts->guest, note);
	len = strlen(c->notes);
	snprintf(c->notes + len, sizeof(c->notes) - len, "%s%s",
	    len > 0 ? "; " : "", note);
}

/* Windows' drive letter of device DEV, from inspection, or 0. */
static char
drive_of(const struct walk_ctx *c, const char *dev)
{
	size_t i;

	for (i = 0; c->drives != NULL && c->drives[i] != NULL &&
	    c->drives[i + 1] != NULL; i += 2)
		if (strcmp(c->drives[i + 1], dev) == 0)
			return c->drives[i][0];
	return 0;
}

/* Whether a device has the drive letter L already. */
static int
letter_taken(const struct walk_ctx *c, char l)
{
	size_t i;

	for (i = 0; c->drives != NULL && c->drives[i] != NULL &&
	    c->drives[i + 1] != NULL; i += 2)
		if (c->drives[i][0] == l)
			return 1;
	return 0;
}

/* The type list_filesystems gave device DEV, or NULL. */
static const char *
type_of(char **fs, const char *dev)
{
	size_t i;

	for (i = 0; fs != NULL && fs[i] != NULL && fs[i + 1] != NULL; i += 2)
		if (strcmp(fs[i], dev) == 0)
			return fs[i + 1];
	return NULL;
}

/*
 * Closes the appliance and starts another with T's filesystem mounted as
 * it was; c->g is the new handle.  NULL with err if it cannot.
 */
static guestfs_h *
relaunch(struct walk_ctx *c, const struct tree *t, char *err, size_t errlen)
{
	struct scan_progress *pr = c->pr;
	guestfs_h *g;

	pthread_mutex_lock(&pr->mtx);
	pr->g = NULL;
	pthread_mutex_unlock(&pr->mtx);
	guestfs_close(c->g);
	c->g = NULL;
	c->ext.uploaded = NULL;		/* a new appliance has not the program */
	if ((g = gsrc_launch(c->opts, pr, err, errlen)) == NULL)
		return NULL;
	c->g = g;
	if (mount_tree(g, t) == -1) {
		snprintf(err, errlen, "mount %s again: %s", t->fs,
		    gsrc_error(g));
		return NULL;
	}
	return g;
}

static uint64_t
max_listing(const struct walk_ctx *c)
{
	return c->opts->max_listing > 0 ? c->opts->max_listing :
	    LISTING_MAX_BYTES;
}

/*
 * Scans what is mounted on "/" as tree T: list, plan, stream what must be
 * read, then count what never came and update the file index.  -1 with
 * err if the tree could not be read.
 */
static int
scan_tree(struct walk_ctx *c, const struct tree *t, char *err, size_t errlen)
{
	const struct file_index *idx = c->opts->index;
	guestfs_h *g = c->g;
	struct listing l;
	size_t i, fetch;
	uint64_t t0;
	int rc = -1;

	memset(&l, 0, sizeof(l));
	c->tree = t;
	c->l = &l;
	scan_progress_set_fs(c->pr, t->fs);
	t0 = mono_ms();
	/* In one walk inside the appliance where it can; else with find0
	 * and an lstat round trip per directory. */
	if ((rc = treelist_list(&c->ext, g, c->opts->fiemap_fd, &l,
	    max_listing(c), err, errlen)) == 1) {
		log_debug("scan %s: %s: %s; listing with find0",
		    c->opts->guest, t->fs, err);
		rc = gsrc_list(g, &l, &c->pr->cancel, 0, max_listing(c), err,
		    errlen);
	}
	if (rc == GSRC_LOST) {
		/* A guest's deep tree took find0, and the appliance's
		 * connection with it: a new appliance, the same mounts, and
		 * the tree listed directory by directory. */
		log_info("scan %s: %s: %s; listing it directory by directory "
		    "in a new appliance", c->opts->guest, t->fs, err);
		listing_free(&l);
		if ((g = relaunch(c, t, err, errlen)) == NULL)
			goto fail;
		rc = gsrc_list(g, &l, &c->pr->cancel, 1, max_listing(c), err,
		    errlen);
	}
	if (rc != 0)
		goto fail;
	log_debug("scan %s: %s: %zu names listed in %llu ms", c->opts->guest,
	    t->fs, l.n, (unsigned long long)(mono_ms() - t0));
	rc = -1;
	learn_extents(c, g, &l);
	fetch = plan_tree(c);
	if (c->nbase > 0)
		log_info("scan %s: %s: %zu files lie where the linked clone's "
		    "base had them, outside the clone's own ranges: known "
		    "from the base's scan, not read", c->opts->guest, t->fs,
		    c->nbase);
	fetch += check_hashes(c);
	log_debug("scan %s: %s: %zu names, %zu files to read, %llu unchanged",
	    c->opts->guest, t->fs, l.n, fetch,
	    (unsigned long long)c->res->unchanged);
	if (fetch > 0 && stream_tree(c, g, err, errlen) == -1)
		goto out;
	read_heads(c);
	if (t->ntfs) {
		learn_ads(c, c->g);
		read_ads(c);
	}
	/* Every verdict of the tree is in before its entries are read. */
	spool_drain(c->spool);
	if (atomic_load(&c->pr->cancel)) {
		rc = 0;
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		struct lentry *e = &l.e[i];
		const struct lentry *lead = &l.e[e->leader];

		if ((e->plan == PLAN_FETCH || e->plan == PLAN_LINK) &&
		    !e->seen && !lead->seen) {
			add_skip(c, SKIP_UNREADABLE, t->fs, listing_path(&l, i),
			    e->pathlen, "listed but not in the stream "
			    "(unreadable, or removed meanwhile)");
			continue;
		}
		if (idx == NULL || !S_ISREG(e->mode) || e->put)
			continue;
		/* A second name's data is the first's. */
		put_entry(c, i, e->plan == PLAN_LINK ? e->leader : i);
	}
	if (idx != NULL)
		idx->tree_done(idx->p, t->key);
	rc = 0;
	goto out;
fail:
	rc = -1;
out:
	spool_drain(c->spool);	/* no engine thread still at the listing */
	ads_free(c);
	c->l = NULL;
	listing_free(&l);
	return rc;
}

/* Records a filesystem that could not be scanned. */
static void
fs_failed(struct walk_ctx *c, const char *fs, const char *what)
{
	c->res->fs_failed++;
	log_warnx("scan %s: %s", c->opts->guest, what);
	if (c->res->reason[0] == '\0')
		snprintf(c->res->reason, sizeof(c->res->reason), "%s", what);
	else if (strlen(c->res->reason) + 20 < sizeof(c->res->reason) &&
	    strstr(c->res->reason, "more filesystems") == NULL)
		strcat(c->res->reason, "; more filesystems failed");
	add_skip(c, SKIP_FILESYSTEM, fs, "", 0, what);
}

static int
in_list(char **v, const char *s)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

static void
free_strv(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Appends S to the NULL-terminated vector *V of *N entries. */
static int
strv_add(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(**v));

	if (nv == NULL)
		return -1;
	*v = nv;
	if ((nv[*n] = strdup(s)) == NULL)
		return -1;
	nv[++*n] = NULL;
	return 0;
}

static int
mp_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return (int)strlen(x[0]) - (int)strlen(y[0]);
}

/* The mountpoints of MPS (mountpoint, device, ...; N strings) strictly
 * below MP, as paths under MP: "/srv" below "/", "/lib/x" below "/var".
 * NULL-ended; NULL if there are none or no memory. */
static char **
covered_by(char **mps, size_t n, const char *mp)
{
	size_t j, len = strlen(mp), nv = 0;
	char **v = NULL;

	if (strcmp(mp, "/") == 0)
		len = 0;
	for (j = 0; j < n; j += 2) {
		const char *m = mps[j];

		if (strcmp(m, mp) == 0 || strncmp(m, mp, len) != 0 ||
		    m[len] != '/' || m[len + 1] == '\0')
			continue;
		if (strv_add(&v, &nv, m + len) == -1)
			break;
	}
	return v;
}

/*
 * Each operating system inspection finds has each of its filesystems
 * scanned alone, with paths as the guest sees them (under the mountpoint
 * the guest gives it), and the files the guest's mounts cover on it
 * counted as hidden.  The devices it used are added to *used.  Returns
 * the filesystems scanned.
 */
static void	windows_drives(struct walk_ctx *, guestfs_h *, const char *);

static unsigned int
scan_os(struct walk_ctx *c, char **fs, char ***used, size_t *nused)
{
	guestfs_h *g = c->g;
	char **roots, **mps, *s, err[512], what[700];
	unsigned int scanned = 0;
	struct tree t;
	size_t i, j, n;

	if ((roots = guestfs_inspect_os(g)) == NULL) {
		log_warnx("scan %s: inspection: %s; scanning each filesystem "
		    "on its own", c->opts->guest, gsrc_error(g));
		return 0;
	}
	/* Windows' drive letters first: a data volume the OS does not
	 * mount under "/" is still D:. */
	for (i = 0; roots[i] != NULL; i++)
		windows_drives(c, g, roots[i]);
	for (i = 0; roots[i] != NULL && !atomic_load(&c->pr->cancel) &&
	    (g = c->g) != NULL; i++) {
		if ((mps = guestfs_inspect_get_mountpoints(g, roots[i])) ==
		    NULL)
			continue;
		if (c->res->os[0] == '\0' &&
		    (s = guestfs_inspect_get_product_name(g, roots[i])) != NULL) {
			snprintf(c->res->os, sizeof(c->res->os), "%s", s);
			free(s);
		}
		for (n = 0; mps[n] != NULL && mps[n + 1] != NULL; n += 2)
			;
		/* Parents before children: "/" first. */
		qsort(mps, n / 2, 2 * sizeof(*mps), mp_cmp);
		for (j = 0; j < n && !atomic_load(&c->pr->cancel); j += 2) {
			const char *mp = mps[j], *dev = mps[j + 1];

			/* A device the guest mounts twice is read once, at
			 * its first (highest) mountpoint. */
			if (in_list(*used, dev))
				continue;
			if (strv_add(used, nused, dev) == -1)
				break;
			memset(&t, 0, sizeof(t));
			t.key = dev;
			t.fs = dev;
			t.guest_path = 1;
			t.mp = mp;
			t.drive = drive_of(c, dev);
			tree_type(&t, type_of(fs, dev));
			ntfs_state(c, g, &t);
			if (mount_tree(g, &t) == -1) {
				snprintf(what, sizeof(what), "mount %s (%s in "
				    "the guest): %s", dev, mp, gsrc_error(g));
				fs_failed(c, dev, what);
				continue;
			}
			t.covered = covered_by(mps, n, mp);
			if (scan_tree(c, &t, err, sizeof(err)) == 0) {
				if (!atomic_load(&c->pr->cancel))
					scanned++;
			} else {
				snprintf(what, sizeof(what), "reading %s (%s in "
				    "the guest): %s", dev, mp, err);
				fs_failed(c, dev, what);
			}
			free_strv(t.covered);
			c->tree = NULL;
			/* The tree may have needed a new appliance. */
			if ((g = c->g) == NULL)
				break;
			if (guestfs_umount_all(g) == -1 &&
			    !atomic_load(&c->pr->cancel))
				log_warnx("scan %s: umount %s: %s",
				    c->opts->guest, dev, gsrc_error(g));
		}
		free_strv(mps);
	}
	free_strv(roots);
	return scanned;
}

/*
 * Windows' drive letters of the OS at ROOT, from its registry (what
 * inspection read of HKLM\SYSTEM\MountedDevices), into c->drives.  The
 * guest wrote them: only a letter A-Z is taken, the first for a device.
 */
static void
windows_drives(struct walk_ctx *c, guestfs_h *g, const char *root)
{
	char **dm, *type, letter[2];
	size_t i, n = 0;

	if ((type = guestfs_inspect_get_type(g, root)) == NULL)
		return;
	if (strcmp(type, "windows") != 0 ||
	    (dm = guestfs_inspect_get_drive_mappings(g, root)) == NULL) {
		free(type);
		return;
	}
	free(type);
	for (i = 0; c->drives != NULL && c->drives[i] != NULL; i++)
		n++;
	for (i = 0; dm[i] != NULL && dm[i + 1] != NULL; i += 2) {
		letter[0] = dm[i][0] >= 'a' && dm[i][0] <= 'z' ?
		    (char)(dm[i][0] - 'a' + 'A') : dm[i][0];
		letter[1] = '\0';
		if (letter[0] < 'A' || letter[0] > 'Z' || dm[i][1] != '\0' ||
		    drive_of(c, dm[i + 1]) != 0 || letter_taken(c, letter[0]))
			continue;
		if (strv_add(&c->drives, &n, letter) == -1 ||
		    strv_add(&c->drives, &n, dm[i + 1]) == -1)
			break;
		log_debug("scan %s: %s is %s:", c->opts->guest, dm[i + 1],
		    letter);
	}
	free_strv(dm);
}

/* Whether the appliance can mount TYPE: 1, 0, or -1 if it cannot say.
 * NTFS is ntfs-3g's, through FUSE: not in the kernel's list. */
static int
fs_available(guestfs_h *g, const char *type)
{
	char *ntfs3g[] = { "ntfs3g", NULL };

	if (strcmp(type, "ntfs") == 0)
		return guestfs_feature_available(g, ntfs3g);
	return guestfs_filesystem_available(g, type);
}

/* Skipped types: nothing to mount (swap, no filesystem), or encrypted. */
static int
fs_skipped(const char *type)
{
	return strcmp(type, "swap") == 0 || strcmp(type, "unknown") == 0 ||
	    strcmp(type, "crypto_LUKS") == 0 || strcmp(type, "luks") == 0 ||
	    strcmp(type, "BitLocker") == 0;
}

/* Encrypted volumes list_filesystems leaves out (on whole disks,
 * partitions or logical volumes): counted, not scanned. */
static unsigned int
note_encrypted(struct walk_ctx *c, guestfs_h *g, char **fs)
{
	char **lists[3], *type, what[300];
	unsigned int n = 0;
	size_t i, j, k;

	lists[0] = guestfs_list_devices(g);
	lists[1] = guestfs_list_partitions(g);
	lists[2] = guestfs_lvs(g);
	for (k = 0; k < 3; k++) {
		for (i = 0; lists[k] != NULL && lists[k][i] != NULL; i++) {
			const char *dev = lists[k][i];

			for (j = 0; fs[j] != NULL && strcmp(fs[j], dev) != 0;
			    j++)
				;
			if (fs[j] != NULL ||
			    (type = guestfs_vfs_type(g, dev)) == NULL)
				continue;
			if (strcmp(type, "crypto_LUKS") == 0 ||
			    strcmp(type, "BitLocker") == 0) {
				snprintf(what, sizeof(what), "%s: %s volume, "
				    "no key: not scanned", dev, type[0] == 'c' ?
				    "LUKS" : "BitLocker");
				log_info("scan %s: %s", c->opts->guest, what);
				c->tree = NULL;
				add_skip(c, SKIP_ENCRYPTED, dev, "", 0, what);
				n++;
			}
			free(type);
		}
		free_strv(lists[k]);
	}
	return n;
}

/* Merges two lists sorted by seq, A's first on a tie. */
#define MERGE_BY_SEQ(type, name)					\
static type *								\
name(type *a, type *b)							\
{									\
	type *head = NULL, **t = &head;					\
									\
	while (a != NULL && b != NULL) {				\
		if (b->seq < a->seq) {					\
			*t = b;						\
			b = b->next;					\
		} else {						\
			*t = a;						\
			a = a->next;					\
		}							\
		t = &(*t)->next;					\
	}								\
	*t = a != NULL ? a : b;						\
	return head;							\
}
MERGE_BY_SEQ(struct scan_detection, merge_detections)
MERGE_BY_SEQ(struct scan_skip, merge_skips)

/* Stable merge sort of a list by seq: the order a serial scan gives. */
#define SORT_BY_SEQ(type, name, merge)					\
static type *								\
name(type *l)								\
{									\
	type *a = l, *b, *slow = l, *fast;				\
									\
	if (l == NULL || l->next == NULL)				\
		return l;						\
	for (fast = l->next; fast != NULL && fast->next != NULL;	\
	    fast = fast->next->next)					\
		slow = slow->next;					\
	b = slow->next;							\
	slow->next = NULL;						\
	return merge(name(a), name(b));					\
}
SORT_BY_SEQ(struct scan_detection, sort_detections, merge_detections)
SORT_BY_SEQ(struct scan_skip, sort_skips, merge_skips)

static void	scan_run_ctx(struct walk_ctx *, const struct scan_opts *,
		    struct scan_progress *, struct scan_result *);

void
scan_run(const struct scan_opts *o, struct scan_progress *pr,
    struct scan_result *res)
{
	struct walk_ctx c;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.rm, NULL);
	scan_run_ctx(&c, o, pr, res);
	pthread_mutex_destroy(&c.rm);
	/* Engine threads finish in any order; the result is in the order
	 * of the guest's files, whatever the threads. */
	res->detections = sort_detections(res->detections);
	res->skips = sort_skips(res->skips);
}

static void
scan_run_ctx(struct walk_ctx *c, const struct scan_opts *o,
    struct scan_progress *pr, struct scan_result *res)
{
	struct parser parser;
	struct tree t;
	char err[512], what[700], **fs = NULL, **used = NULL, *type;
	guestfs_h *g;
	uint64_t t0;
	size_t i, len, nused = 0;
	unsigned int candidates = 0, encrypted;
	int avail;

	c->opts = o;
	c->pr = pr;
	c->res = res;
	c->tail = &res->detections;
	c->skip_tail = &res->skips;

	if (o->ndisks == 0) {
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason),
		    "the guest has no disk that can be scanned");
		return;
	}
	if (parser_start(&parser, c, err, sizeof(err)) == -1) {
		if (c->parser != NULL)
			parser_stop(&parser);
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason), "%s", err);
		return;
	}
	t0 = mono_ms();
	if ((g = gsrc_launch(o, pr, err, sizeof(err))) == NULL) {
		parser_stop(&parser);
		if (atomic_load(&pr->cancel)) {
			res->status = SCAN_INCOMPLETE;
			snprintf(res->reason, sizeof(res->reason), "cancelled");
		} else {
			res->status = SCAN_FAILED;
			snprintf(res->reason, sizeof(res->reason), "%s", err);
		}
		return;
	}
	res->launch_ms = mono_ms() - t0;
	c->g = g;
	log_debug("scan %s: appliance up in %llu ms", o->guest,
	    (unsigned long long)res->launch_ms);

	if ((fs = guestfs_list_filesystems(g)) == NULL) {
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason),
		    "listing filesystems: %s", gsrc_error(g));
		goto out;
	}
	/* An installed OS first, mounted as the guest mounts it. */
	res->fs_scanned += scan_os(c, fs, &used, &nused);
	candidates += (unsigned int)nused;
	/* A tree may have needed a new appliance: c->g from here on, NULL
	 * if none could start. */
	encrypted = c->g != NULL ? note_encrypted(c, c->g, fs) : 0;
	/* Then every other filesystem on its own, as DEVICE:/path. */
	for (i = 0; fs[i] != NULL && fs[i + 1] != NULL; i += 2) {
		if (atomic_load(&pr->cancel) || (g = c->g) == NULL)
			break;
		if (in_list(used, fs[i]))
			continue;
		if (fs_skipped(fs[i + 1])) {
			log_debug("scan %s: %s: %s, skipped", o->guest, fs[i],
			    fs[i + 1]);
			continue;
		}
		candidates++;
		type = fs[i + 1];
		if ((avail = fs_available(g, type)) == 0) {
			snprintf(what, sizeof(what), "%s: %s filesystems are "
			    "not supported by the appliance", fs[i], type);
			fs_failed(c, fs[i], what);
			continue;
		}
		memset(&t, 0, sizeof(t));
		t.key = fs[i];
		t.fs = fs[i];
		/* A Windows drive the OS does not mount under "/" (D:) has
		 * its paths as Windows shows them all the same. */
		t.drive = drive_of(c, fs[i]);
		t.guest_path = t.drive != 0;
		t.mp = NULL;
		t.covered = NULL;
		tree_type(&t, type);
		ntfs_state(c, g, &t);
		if (mount_tree(g, &t) == -1) {
			snprintf(what, sizeof(what), "mount %s (%s): %s",
			    fs[i], type, gsrc_error(g));
			fs_failed(c, fs[i], what);
			continue;
		}
		if (scan_tree(c, &t, err, sizeof(err)) == -1) {
			snprintf(what, sizeof(what), "reading %s: %s", fs[i],
			    err);
			fs_failed(c, fs[i], what);
		} else if (!atomic_load(&pr->cancel))
			res->fs_scanned++;
		c->tree = NULL;
		if ((g = c->g) != NULL && guestfs_umount_all(g) == -1 &&
		    !atomic_load(&pr->cancel))
			log_warnx("scan %s: umount %s: %s", o->guest, fs[i],
			    gsrc_error(g));
	}
	if (c->g == NULL) {
		/* No appliance to go on with (the tree that lost it is
		 * counted failed): what is left is not scanned. */
		len = strlen(res->reason);
		snprintf(res->reason + len, sizeof(res->reason) - len, "%s",
		    len > 0 ? "; no appliance to scan the filesystems after "
		    "it" : "no appliance to scan the filesystems after it");
	}
	if (res->ndetections > 0) {
		res->status = SCAN_INFECTED;
		if (atomic_load(&pr->cancel))
			snprintf(res->reason, sizeof(res->reason),
			    "cancelled before the end");
	} else if (atomic_load(&pr->cancel)) {
		res->status = SCAN_INCOMPLETE;
		snprintf(res->reason, sizeof(res->reason), "cancelled");
	} else if (candidates == 0) {
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason), "%s",
		    encrypted > 0 ? "every filesystem of the guest is "
		    "encrypted" : "no filesystem found on the guest's disks");
	} else if (res->fs_scanned == 0) {
		res->status = SCAN_FAILED;
	} else if (res->fs_failed > 0) {
		res->status = SCAN_INCOMPLETE;
	} else
		res->status = SCAN_CLEAN;
	if (c->notes[0] != '\0' && !atomic_load(&pr->cancel)) {
		len = strlen(res->reason);
		snprintf(res->reason + len, sizeof(res->reason) - len, "%s%s",
		    len > 0 ? "; " : "", c->notes);
	}
out:
	free_strv(fs);
	free_strv(used);
	free_strv(c->drives);
	c->drives = NULL;
	pthread_mutex_lock(&pr->mtx);
	pr->g = NULL;
	pthread_mutex_unlock(&pr->mtx);
	if ((g = c->g) != NULL) {
		if (guestfs_shutdown(g) == -1)
			log_debug("scan %s: appliance shutdown: %s", o->guest,
			    gsrc_error(g));
		guestfs_close(g);
	}
	parser_stop(&parser);
}

void
scan_tar(const struct scan_opts *o, struct scan_progress *pr, int fd,
    const char *name, struct scan_result *res)
{
	struct walk_ctx c;
	struct parser parser;
	struct tree t;
	char err[256];
	int wrc;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	memset(&t, 0, sizeof(t));
	pthread_mutex_init(&c.rm, NULL);
	c.opts = o;
	c.pr = pr;
	c.res = res;
	c.tail = &res->detections;
	c.skip_tail = &res->skips;
	t.key = t.fs = name;
	if (parser_start(&parser, &c, err, sizeof(err)) == -1) {
		if (c.parser != NULL)
			parser_stop(&parser);
		res->status = SCAN_FAILED;
		snprintf(res->reason, sizeof(res->reason), "%s", err);
		goto out;
	}
	c.tree = &t;
	scan_progress_set_fs(pr, name);
	wrc = parser_walk(&c, fd, "", 0, 0, 0, err, sizeof(err));
	spool_drain(c.spool);
	res->bytes_read = atomic_load(&pr->fs_bytes);
	res->streams = 1;
	parser_stop(&parser);
	if (res->ndetections > 0)
		res->status = SCAN_INFECTED;
	else if (wrc == -1 || atomic_load(&pr->cancel)) {
		res->status = wrc == -1 ? SCAN_FAILED : SCAN_INCOMPLETE;
		snprintf(res->reason, sizeof(res->reason), "%s",
		    wrc == -1 ? err : "cancelled");
	} else
		res->status = SCAN_CLEAN;
	if (wrc == 0)
		res->fs_scanned = 1;
out:
	pthread_mutex_destroy(&c.rm);
	res->detections = sort_detections(res->detections);
	res->skips = sort_skips(res->skips);
}
