/*
 * The per-guest file index in the state database.  Used by one scan's
 * worker thread on a connection of its own (WAL lets it read while the
 * loop thread writes): a tree's records are loaded on its first lookup,
 * the scan's clean files are collected and written when the scan ends, in
 * transactions of FINDEX_BATCH rows.
 *
 * A record made under other signatures says which classes of file
 * (sigsum.h) changed since: the scan reads such a file again only when
 * one of the classes it is subject to did, and otherwise checks its
 * hashes against the whole-file hash signatures.  Without the sums of
 * either version (a scanner that could not take them, a version older
 * than the sums kept), every class counts as changed.
 *
 * Every record says when its file was last read and found clean.  Past
 * [scan] index_max_age the lookup says "not known" and the file is read
 * again, however unchanged its metadata: the index trusts a guest's
 * inode, size and times for a bounded time only (a guest's root can set
 * the clock back before writing a file).  On NTFS and FAT, where a user
 * can set every time of a file (the scanner's lookup says so:
 * FINDEX_Q_SETTABLE), [scan] settable_times_max_age bounds it too.  Each
 * path's bound lies between 3/4 of the setting and all of it, from a
 * hash of the path, so that the files of a first scan are read again over
 * several scans, not all in one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "findex.h"
#include "listing.h"
#include "log.h"
#include "sentineld.h"
#include "sigsum.h"
#include "srec.h"

/* The sums of a signature version, as far as the database has them. */
struct fsum {
	char		*version;
	int		 known;
	struct sigsum	 s;
	struct fsum	*next;
};

struct ftree {
	char		*key;
	int		 loaded, done;
	struct listing	 old, now;
	struct ftree	*next;
};

struct findex {
	sqlite3			*db;
	char			*path, *uuid, *version;
	int64_t			 now;		/* the scan's start, seconds */
	int64_t			 max_age;	/* seconds; 0: no bound */
	int64_t			 settable_age;	/* for FINDEX_Q_SETTABLE:
						 * seconds, 0: never trusted,
						 * -1: as max_age */
	struct ftree		*trees;
	struct fsum		*sums;
	struct file_index	 iface;
	int			 broken;	/* no database: no index */
};

static struct ftree *
tree_get(struct findex *x, const char *key)
{
	struct ftree *t;

	for (t = x->trees; t != NULL; t = t->next)
		if (strcmp(t->key, key) == 0)
			return t;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->key = strdup(key)) == NULL) {
		free(t);
		return NULL;
	}
	t->next = x->trees;
	x->trees = t;
	return t;
}

static int
db_open(struct findex *x)
{
	if (x->db != NULL || x->broken)
		return x->broken ? -1 : 0;
	if (sqlite3_open_v2(x->path, &x->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		log_warnx("file index: %s: %s", x->path,
		    x->db ? sqlite3_errmsg(x->db) : "cannot open");
		sqlite3_close(x->db);
		x->db = NULL;
		x->broken = 1;
		return -1;
	}
	sqlite3_busy_timeout(x->db, 10000);
	return 0;
}

static struct fsum *
sum_get(struct findex *x, const char *version)
{
	sqlite3_stmt *st;
	struct fsum *f;

	for (f = x->sums; f != NULL; f = f->next)
		if (strcmp(f->version, version) == 0)
			return f;
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->version = strdup(version)) == NULL) {
		free(f);
		return NULL;
	}
	f->next = x->sums;
	x->sums = f;
	if (sqlite3_prepare_v2(x->db, "SELECT sum, allow FROM sigsum WHERE "
	    "version = ?1", -1, &st, NULL) != SQLITE_OK)
		return f;
	sqlite3_bind_text(st, 1, version, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 0) == SREC_SIGSUM_LEN) {
		sigsum_unpack(&f->s, sqlite3_column_blob(st, 0));
		/* Sums without their allowlist set are of no use. */
		f->known = sigsum_unpack_allow(&f->s, sqlite3_column_blob(st,
		    1), (size_t)sqlite3_column_bytes(st, 1)) == 0;
	}
	sqlite3_finalize(st);
	return f;
}

/* The classes changed between VERSION and the scan's signatures. */
static uint32_t
changed_since(struct findex *x, const char *version)
{
	struct fsum *a, *b;

	if (strcmp(version, x->version) == 0)
		return 0;
	if ((a = sum_get(x, version)) == NULL || !a->known ||
	    (b = sum_get(x, x->version)) == NULL || !b->known)
		return SC_EVERY;
	/* Hash signatures are not summed: any other version may add some. */
	return sigsum_changed(&a->s, &b->s) | SC_BIT(SC_HASH);
}

static void
tree_load(struct findex *x, struct ftree *t)
{
	sqlite3_stmt *st;
	struct findex_rec rec;
	struct lentry m;
	long i;
	int n, k;

	t->loaded = 1;
	if (db_open(x) == -1 || sqlite3_prepare_v2(x->db, "SELECT path, ino, "
	    "size, mtime_s, mtime_ns, ctime_s, ctime_ns, sha256, verified, "
	    "md5, sha1, classes, version, ext, found_clamav, found_yara "
	    "FROM findex WHERE guest_uuid = ?1 AND tree = ?2", -1, &st,
	    NULL) != SQLITE_OK) {
		if (x->db != NULL)
			log_warnx("file index: %s", sqlite3_errmsg(x->db));
		return;
	}
	sqlite3_bind_text(st, 1, x->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->key, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 7) != VERDICT_HASH_LEN ||
		    sqlite3_column_text(st, 12) == NULL)
			continue;
		memset(&m, 0, sizeof(m));
		m.ino = (uint64_t)sqlite3_column_int64(st, 1);
		m.size = (uint64_t)sqlite3_column_int64(st, 2);
		m.mtime_s = sqlite3_column_int64(st, 3);
		m.mtime_ns = sqlite3_column_int64(st, 4);
		m.ctime_s = sqlite3_column_int64(st, 5);
		m.ctime_ns = sqlite3_column_int64(st, 6);
		memcpy(m.sha, sqlite3_column_blob(st, 7), VERDICT_HASH_LEN);
		m.verified_s = sqlite3_column_int64(st, 8);
		/* Without its hashes, only the same signatures spare it. */
		if (sqlite3_column_bytes(st, 9) == sizeof(m.md5) &&
		    sqlite3_column_bytes(st, 10) == sizeof(m.sha1)) {
			memcpy(m.md5, sqlite3_column_blob(st, 9),
			    sizeof(m.md5));
			memcpy(m.sha1, sqlite3_column_blob(st, 10),
			    sizeof(m.sha1));
			m.classes = (uint32_t)sqlite3_column_int64(st, 11);
		}
		m.changed = changed_since(x, (const char *)
		    sqlite3_column_text(st, 12));
		if (sqlite3_column_bytes(st, 13) == sizeof(m.ext)) {
			memcpy(m.ext, sqlite3_column_blob(st, 13),
			    sizeof(m.ext));
			m.has_ext = 1;
		}
		n = sqlite3_column_bytes(st, 0);
		if ((i = listing_add(&t->old, sqlite3_column_blob(st, 0),
		    (size_t)n, &m)) == -1)
			break;
		/* Found infected: by what.  A record whose detections cannot
		 * be kept is not known at all (read again), never clean. */
		memset(&rec, 0, sizeof(rec));
		for (k = 0; k < SREC_NENGINES; k++)
			if (sqlite3_column_type(st, 14 + k) == SQLITE_TEXT)
				snprintf(rec.found[k], sizeof(rec.found[k]),
				    "%s", (const char *)sqlite3_column_text(st,
				    14 + k));
		if (findex_rec_found(&rec) &&
		    listing_set_found(&t->old, (size_t)i, &rec) == -1)
			t->old.e[i].has_sha = 0;
		else
			t->old.e[i].has_sha = 1;
	}
	sqlite3_finalize(st);
}

/* Whether two records describe the same file with the same content. */
static int
same_file(const struct lentry *o, const struct lentry *e)
{
	return o->ino == e->ino && o->size == e->size &&
	    o->mtime_s == e->mtime_s && o->mtime_ns == e->mtime_ns &&
	    o->ctime_s == e->ctime_s && o->ctime_ns == e->ctime_ns &&
	    memcmp(o->sha, e->sha, sizeof(o->sha)) == 0;
}

/* When a record last read at VERIFIED (0: before records said; taken as
 * now) is too old for PATH: 3/4 of the bound, plus up to a quarter from
 * the path's FNV-1a hash. */
static int
too_old(const struct findex *x, int64_t max_age, const char *path,
    size_t len, int64_t verified)
{
	uint32_t h = 2166136261u;
	int64_t bound;
	size_t i;

	if (max_age <= 0)
		return 0;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)path[i]) * 16777619u;
	bound = max_age - max_age / 4 * (int64_t)(h % 1024) / 1023;
	return x->now - (verified > 0 ? verified : x->now) >= bound;
}

static int
ix_lookup(void *p, const char *key, const char *path, size_t len,
    struct findex_rec *rec, struct findex_rec *base, int flags)
{
	struct findex *x = p;
	struct ftree *t;
	long i;

	if ((t = tree_get(x, key)) == NULL)
		return 0;
	if (!t->loaded)
		tree_load(x, t);
	if ((i = listing_find(&t->old, path, len)) == -1 ||
	    !t->old.e[i].has_sha)
		return 0;
	if (too_old(x, x->max_age, path, len, t->old.e[i].verified_s) ||
	    ((flags & FINDEX_Q_SETTABLE) && x->settable_age >= 0 &&
	    (x->settable_age == 0 || too_old(x, x->settable_age, path, len,
	    t->old.e[i].verified_s)))) {
		/* Read again: its put is a new verification (ix_put). */
		t->old.e[i].seen = 1;
		return 0;
	}
	(void)base;	/* a base is another guest's findex (jobs.c) */
	lentry_to_rec(&t->old.e[i], rec);
	listing_get_found(&t->old, (size_t)i, rec);
	return FINDEX_OWN;
}

static void
ix_put(void *p, const char *key, const char *path, size_t len,
    const struct findex_rec *rec)
{
	struct findex *x = p;
	struct ftree *t;
	struct lentry m;
	long k;

	if ((t = tree_get(x, key)) == NULL)
		return;
	lentry_from_rec(&m, rec);
	/* A file the scan did not read (unchanged, known from this index)
	 * keeps the time it was last read; one it read is verified now. */
	m.verified_s = x->now;
	if ((k = listing_find(&t->old, path, len)) != -1 &&
	    !t->old.e[k].seen && same_file(&t->old.e[k], &m) &&
	    t->old.e[k].verified_s > 0)
		m.verified_s = t->old.e[k].verified_s;
	/* has_sha: the record is to be kept.  One found infected whose
	 * detections cannot be kept is not (tree_save removes the path's
	 * row: its file is read again), never kept as clean. */
	m.has_sha = 1;
	if ((k = listing_add(&t->now, path, len, &m)) != -1 &&
	    listing_set_found(&t->now, (size_t)k, rec) == -1)
		t->now.e[k].has_sha = 0;
}

static void
ix_done(void *p, const char *key)
{
	struct ftree *t;

	if ((t = tree_get(p, key)) != NULL)
		t->done = 1;
}

struct findex *
findex_new(const char *dbpath, const char *uuid, const char *version,
    uint64_t max_age, int64_t now)
{
	struct findex *x;

	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (x->path = strdup(dbpath)) == NULL ||
	    (x->uuid = strdup(uuid)) == NULL ||
	    (x->version = strdup(version)) == NULL) {
		findex_free(x);
		return NULL;
	}
	x->now = now;
	x->max_age = (int64_t)max_age;
	x->settable_age = -1;
	x->iface.p = x;
	x->iface.lookup = ix_lookup;
	x->iface.put = ix_put;
	x->iface.tree_done = ix_done;
	return x;
}

void
findex_set_settable_age(struct findex *x, uint64_t secs)
{
	x->settable_age = (int64_t)secs;
}

const struct file_index *
findex_iface(struct findex *x)
{
	return x != NULL ? &x->iface : NULL;
}

static int
exec(struct findex *x, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(x->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("file index: %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Rows written or removed per transaction: the loop thread's own writes
 * (a scan's result, a pause) wait on the state database for at most one
 * batch, never for a whole tree of a guest with a million files. */
#define FINDEX_BATCH	2000

static int
begin(struct findex *x)
{
	return exec(x, "BEGIN IMMEDIATE");
}

/* Ends a batch: COMMIT, or ROLLBACK when it failed (a COMMIT that fails,
 * a full disk, may leave the transaction open). */
static int
end(struct findex *x, int rc)
{
	if (rc == 0 && exec(x, "COMMIT") == -1)
		rc = -1;
	if (rc == -1 && !sqlite3_get_autocommit(x->db))
		exec(x, "ROLLBACK");
	return rc;
}

/* Removes the guest's records of other signature versions, a batch per
 * transaction. */
static int
drop_stale(struct findex *x)
{
	sqlite3_stmt *del = NULL;
	int rc = -1, n;

	if (sqlite3_prepare_v2(x->db, "DELETE FROM findex WHERE (guest_uuid, "
	    "tree, path) IN (SELECT guest_uuid, tree, path FROM findex WHERE "
	    "guest_uuid = ?1 AND version != ?2 LIMIT ?3)", -1, &del, NULL) !=
	    SQLITE_OK) {
		log_warnx("file index: %s", sqlite3_errmsg(x->db));
		return -1;
	}
	sqlite3_bind_text(del, 1, x->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(del, 2, x->version, -1, SQLITE_STATIC);
	sqlite3_bind_int(del, 3, FINDEX_BATCH);
	do {
		if (begin(x) == -1)
			break;
		n = sqlite3_step(del) == SQLITE_DONE ? sqlite3_changes(x->db) :
		    -1;
		sqlite3_reset(del);
		if (end(x, n == -1 ? -1 : 0) == -1)
			break;
	} while (n == FINDEX_BATCH);
	rc = n == -1 ? -1 : 0;
	if (rc == -1)
		log_warnx("file index: %s", sqlite3_errmsg(x->db));
	sqlite3_finalize(del);
	return rc;
}

/* Whether entry I of A and entry J of B were found infected by the same
 * signatures (or both clean). */
static int
same_found(const struct listing *a, size_t i, const struct listing *b,
    size_t j)
{
	const char *x, *y;
	int k;

	if (a->e[i].found == 0 || b->e[j].found == 0)
		return a->e[i].found == b->e[j].found;
	for (k = 0; k < SREC_NENGINES; k++) {
		x = a->found[a->e[i].found - 1][k];
		y = b->found[b->e[j].found - 1][k];
		if ((x == NULL) != (y == NULL) || (x != NULL &&
		    strcmp(x, y) != 0))
			return 0;
	}
	return 1;
}

/* Whether entry I of the tree's new records is stored already, as is. */
static int
same_record(const struct ftree *t, size_t i)
{
	const struct lentry *e = &t->now.e[i], *o;
	long k;

	if ((k = listing_find(&t->old, listing_path(&t->now, i),
	    e->pathlen)) == -1)
		return 0;
	o = &t->old.e[k];
	/* A stored row whose detections could not be loaded is written
	 * anew: it is not known what it says. */
	return o->has_sha && same_file(o, e) &&
	    o->verified_s == e->verified_s &&
	    o->changed == 0 && o->classes == e->classes &&
	    o->has_ext == e->has_ext && memcmp(o->ext, e->ext,
	    sizeof(o->ext)) == 0 && same_found(&t->old, (size_t)k, &t->now, i);
}

/* Removes the row of PATH (LEN bytes) of tree T with DEL: 0 or -1. */
static int
row_delete(struct findex *x, sqlite3_stmt *del, const struct ftree *t,
    const char *path, size_t len)
{
	int rc;

	sqlite3_bind_text(del, 1, x->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(del, 2, t->key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(del, 3, path, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(del) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(del);
	return rc;
}

/*
 * Writes one tree: a tree read in full replaces its records (those of
 * names no longer there are removed), a partial one only adds to them.  A
 * batch per transaction: a save cut between batches leaves records that
 * are each still true of the file they name, which is all a lookup uses.
 */
static int
tree_save(struct findex *x, struct ftree *t)
{
	sqlite3_stmt *del = NULL, *ins = NULL;
	size_t i, inbatch = 0;
	int rc = -1, k;

	/* What the tree had is known from its first lookup; a tree with no
	 * lookup (no name listed) is loaded here to be emptied. */
	if (t->done && !t->loaded)
		tree_load(x, t);
	if (sqlite3_prepare_v2(x->db, "DELETE FROM findex WHERE guest_uuid = "
	    "?1 AND tree = ?2 AND path = ?3", -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(x->db, "INSERT OR REPLACE INTO findex "
	    "(guest_uuid, tree, path, ino, size, mtime_s, mtime_ns, ctime_s, "
	    "ctime_ns, sha256, version, verified, md5, sha1, classes, ext, "
	    "found_clamav, found_yara) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)", -1, &ins,
	    NULL) != SQLITE_OK)
		goto out;
	for (i = 0; t->done && i < t->old.n; i++) {
		const char *path = listing_path(&t->old, i);

		if (listing_find(&t->now, path, t->old.e[i].pathlen) != -1)
			continue;
		if (inbatch == 0 && begin(x) == -1)
			goto out;
		if (row_delete(x, del, t, path, t->old.e[i].pathlen) == -1)
			goto fail;
		if (++inbatch == FINDEX_BATCH) {
			inbatch = 0;
			if (end(x, 0) == -1)
				goto out;
		}
	}
	for (i = 0; i < t->now.n; i++) {
		const struct lentry *e = &t->now.e[i];

		/* A record as it is already stored (an unchanged file) is
		 * not written again; one not to be kept removes the row. */
		if (e->has_sha && same_record(t, i))
			continue;
		if (inbatch == 0 && begin(x) == -1)
			goto out;
		if (!e->has_sha) {
			if (row_delete(x, del, t, listing_path(&t->now, i),
			    e->pathlen) == -1)
				goto fail;
			goto next;
		}
		sqlite3_bind_text(ins, 1, x->uuid, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, t->key, -1, SQLITE_STATIC);
		sqlite3_bind_blob(ins, 3, listing_path(&t->now, i),
		    (int)e->pathlen, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 4, (sqlite3_int64)e->ino);
		sqlite3_bind_int64(ins, 5, (sqlite3_int64)e->size);
		sqlite3_bind_int64(ins, 6, e->mtime_s);
		sqlite3_bind_int64(ins, 7, e->mtime_ns);
		sqlite3_bind_int64(ins, 8, e->ctime_s);
		sqlite3_bind_int64(ins, 9, e->ctime_ns);
		sqlite3_bind_blob(ins, 10, e->sha, VERDICT_HASH_LEN,
		    SQLITE_STATIC);
		sqlite3_bind_text(ins, 11, x->version, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 12, e->verified_s);
		sqlite3_bind_blob(ins, 13, e->md5, sizeof(e->md5),
		    SQLITE_STATIC);
		sqlite3_bind_blob(ins, 14, e->sha1, sizeof(e->sha1),
		    SQLITE_STATIC);
		sqlite3_bind_int64(ins, 15, e->classes);
		if (e->has_ext)
			sqlite3_bind_blob(ins, 16, e->ext, sizeof(e->ext),
			    SQLITE_STATIC);
		else
			sqlite3_bind_null(ins, 16);
		for (k = 0; k < SREC_NENGINES; k++)
			if (e->found != 0 &&
			    t->now.found[e->found - 1][k] != NULL)
				sqlite3_bind_text(ins, 17 + k,
				    t->now.found[e->found - 1][k], -1,
				    SQLITE_STATIC);
			else
				sqlite3_bind_null(ins, 17 + k);
		if (sqlite3_step(ins) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(ins);
next:
		if (++inbatch == FINDEX_BATCH) {
			inbatch = 0;
			if (end(x, 0) == -1)
				goto out;
		}
	}
	rc = inbatch > 0 ? end(x, 0) : 0;
	goto out;
fail:
	log_warnx("file index: %s", sqlite3_errmsg(x->db));
	end(x, -1);
out:
	if (rc == -1 && sqlite3_errcode(x->db) != SQLITE_OK)
		log_debug("file index: %s", sqlite3_errmsg(x->db));
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
	return rc;
}

int
findex_save(struct findex *x)
{
	struct ftree *t;
	int rc = 0;

	if (x->trees == NULL)
		return 0;
	if (db_open(x) == -1 || drop_stale(x) == -1)
		return -1;
	for (t = x->trees; t != NULL; t = t->next) {
		if (t->now.n == 0 && !t->done)
			continue;
		if (tree_save(x, t) == -1)
			rc = -1;
	}
	return rc;
}

void
findex_free(struct findex *x)
{
	struct ftree *t;

	if (x == NULL)
		return;
	while (x->sums != NULL) {
		struct fsum *f = x->sums;

		x->sums = f->next;
		free(f->version);
		free(f);
	}
	while ((t = x->trees) != NULL) {
		x->trees = t->next;
		listing_free(&t->old);
		listing_free(&t->now);
		free(t->key);
		free(t);
	}
	if (x->db != NULL)
		sqlite3_close(x->db);
	free(x->path);
	free(x->uuid);
	free(x->version);
	free(x);
}

/*
 * A linked clone's base, if it was scanned as a guest: the guest whose
 * newest complete scan read exactly the images the clone's disks are
 * backed by, as they are now (the same stamp: device, inode, size and
 * times of every file, and the same settings), so that its file index
 * describes them.  On a connection of its own, in the worker.
 */
int
findex_base_guest(const char *dbpath, const char *stamp, const char *self,
    char *uuid)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, 10000);
	/* The newest complete scan of each guest, of those that ever read
	 * these images. */
	if (sqlite3_prepare_v2(db, "SELECT s.guest_uuid FROM scans s WHERE "
	    "s.guest_uuid != ?2 AND s.disk_stamp = ?1 AND s.id = (SELECT "
	    "MAX(id) FROM scans WHERE guest_uuid = s.guest_uuid AND status IN "
	    "('clean', 'infected')) ORDER BY s.id DESC LIMIT 1", -1, &st,
	    NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, stamp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, self, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		snprintf(uuid, 37, "%s", (const char *)sqlite3_column_text(st,
		    0));
		rc = 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	}
out:
	if (rc == -1 && db != NULL)
		log_warnx("file index: a clone's base: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}
