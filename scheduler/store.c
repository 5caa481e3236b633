/*
 * The state store: SQLite in WAL mode, used from the loop thread only.
 * Scans and their detections live here; guest paths are kept as the raw
 * bytes the guest had and escaped only when shown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cache.h"
#include "log.h"
#include "sentineld.h"
#include "srec.h"
#include "util.h"

static sqlite3 *db;
static sqlite3 *mem;	/* for results db cannot take */
static int fleet_on;	/* scans go to the fleet_outbox too */

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS scans ("
    " id INTEGER PRIMARY KEY,"
    " guest_uuid TEXT NOT NULL,"
    " guest_name TEXT NOT NULL,"
    " trigger TEXT NOT NULL,"
    " queued INTEGER NOT NULL,"
    " started INTEGER,"
    " ended INTEGER,"
    " status TEXT NOT NULL,"
    " reason TEXT,"
    " files INTEGER DEFAULT 0,"
    " bytes_read INTEGER DEFAULT 0,"
    " bytes_scanned INTEGER DEFAULT 0,"
    " skipped_too_large INTEGER DEFAULT 0,"
    " errors INTEGER DEFAULT 0,"
    " fs_scanned INTEGER DEFAULT 0,"
    " fs_failed INTEGER DEFAULT 0,"
    " launch_ms INTEGER DEFAULT 0,"
    " stream_ms INTEGER DEFAULT 0,"
    " cache_hits INTEGER DEFAULT 0,"
    " unchanged INTEGER DEFAULT 0,"
    " skipped_limit INTEGER DEFAULT 0,"
    " skipped_excluded INTEGER DEFAULT 0,"
    " skipped_encrypted INTEGER DEFAULT 0,"
    " skipped_special INTEGER DEFAULT 0,"
    " skipped_filesystem INTEGER DEFAULT 0,"
    " skipped_memory INTEGER DEFAULT 0,"	/* Windows' paging files */
    " sig_version TEXT,"
    " os TEXT,"
    " view TEXT,"			/* offline, backup, live */
    " view_consistency TEXT,"
    " view_note TEXT,"
    " view_at INTEGER,"
    " view_begin_ms INTEGER,"
    " view_end_ms INTEGER,"
    " hidden INTEGER DEFAULT 0,"
    " disk_stamp TEXT,"			/* a shut-off guest's images */
    " carried_from INTEGER,"		/* result of that scan, unchanged */
    " estimate_ms INTEGER,"		/* expected duration, at its start */
    " attempt INTEGER NOT NULL DEFAULT 1,"	/* of a scan cut short */
    " resumable INTEGER NOT NULL DEFAULT 0);"	/* cut short: the next
						 * scan goes on from it */
    "CREATE INDEX IF NOT EXISTS scans_guest ON scans(guest_uuid, id);"
    "CREATE INDEX IF NOT EXISTS scans_name ON scans(guest_name, id);"
    "CREATE TABLE IF NOT EXISTS detections ("
    " id INTEGER PRIMARY KEY,"
    " scan_id INTEGER NOT NULL REFERENCES scans(id),"
    " fs TEXT NOT NULL,"
    " path BLOB NOT NULL,"
    " signature TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " guest_path INTEGER DEFAULT 0,"
    " engine TEXT DEFAULT 'clamav',"
    " hidden INTEGER DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS detections_scan ON detections(scan_id);"
    "CREATE TABLE IF NOT EXISTS skipped ("
    " scan_id INTEGER NOT NULL REFERENCES scans(id),"
    " reason TEXT NOT NULL,"
    " fs TEXT NOT NULL,"
    " path BLOB NOT NULL,"
    " guest_path INTEGER NOT NULL,"
    " detail TEXT);"
    "CREATE INDEX IF NOT EXISTS skipped_scan ON skipped(scan_id);"
    "CREATE TABLE IF NOT EXISTS findex ("
    " guest_uuid TEXT NOT NULL,"
    " tree TEXT NOT NULL,"
    " path BLOB NOT NULL,"
    " ino INTEGER, size INTEGER, mtime_s INTEGER, mtime_ns INTEGER,"
    " ctime_s INTEGER, ctime_ns INTEGER,"
    " sha256 BLOB NOT NULL,"
    " version TEXT NOT NULL,"
    " verified INTEGER NOT NULL DEFAULT 0,"	/* last read: indexstore.c */
    " md5 BLOB, sha1 BLOB,"		/* for later hash signatures */
    " classes INTEGER NOT NULL DEFAULT 0,"	/* sigsum.h; 0: not known */
    " ext BLOB,"				/* where it lies: extents.h */
    " found_clamav TEXT, found_yara TEXT,"	/* found infected: by what */
    " PRIMARY KEY (guest_uuid, tree, path)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sigsum ("	/* per signature version */
    " version TEXT PRIMARY KEY,"
    " sum BLOB NOT NULL,"			/* sigsum_pack */
    " seen INTEGER NOT NULL,"
    " allow BLOB);"				/* sigsum_pack_allow */
    "CREATE TABLE IF NOT EXISTS guests ("
    " uuid TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " first_seen INTEGER NOT NULL,"
    " gone INTEGER);"			/* since when libvirt lacks it */
    "CREATE TABLE IF NOT EXISTS verdicts ("
    " sha256 BLOB PRIMARY KEY,"
    " version TEXT NOT NULL,"
    " used INTEGER NOT NULL,"
    " classes INTEGER NOT NULL DEFAULT 0);"	/* sigsum.h; 0: not known */
    "CREATE INDEX IF NOT EXISTS verdicts_used ON verdicts(used);"
    "CREATE TABLE IF NOT EXISTS actions ("
    " scan_id INTEGER NOT NULL REFERENCES scans(id),"
    " plugin TEXT NOT NULL,"
    " at INTEGER NOT NULL,"
    " text TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS actions_scan ON actions(scan_id);"
    "CREATE TABLE IF NOT EXISTS paused ("
    " what TEXT PRIMARY KEY,"		/* "*" or a guest's UUID */
    " since INTEGER NOT NULL);"
    /* Scans the fleet's database has yet to get ([fleet] database):
     * written in the transaction that writes the scan, removed when the
     * fleet has it.  The local state is the fleet's write-ahead log. */
    "CREATE TABLE IF NOT EXISTS fleet_outbox ("
    " scan_id INTEGER PRIMARY KEY);"
    /* This state database's name in the fleet: scan ids are its own,
     * a host whose state starts again does not write over its past. */
    "CREATE TABLE IF NOT EXISTS fleet_meta ("
    " key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "PRAGMA user_version = 15;";

/* Older databases lack the columns added since; the tables come from the
 * schema itself (IF NOT EXISTS). */
static int
migrate(char **msg)
{
	static const char *columns[] = {
		"ALTER TABLE scans ADD COLUMN stream_ms INTEGER DEFAULT 0",
		"ALTER TABLE scans ADD COLUMN cache_hits INTEGER DEFAULT 0",
		"ALTER TABLE scans ADD COLUMN unchanged INTEGER DEFAULT 0",
		"ALTER TABLE scans ADD COLUMN skipped_limit INTEGER DEFAULT 0",
		"ALTER TABLE scans ADD COLUMN skipped_excluded INTEGER DEFAULT 0",
		"ALTER TABLE scans ADD COLUMN skipped_encrypted INTEGER DEFAULT 0",
		"ALTER TABLE scans ADD COLUMN skipped_special INTEGER DEFAULT 0",
		"ALTER TABLE scans ADD COLUMN skipped_filesystem INTEGER "
		    "DEFAULT 0",
		"ALTER TABLE scans ADD COLUMN sig_version TEXT",
		"ALTER TABLE scans ADD COLUMN os TEXT",
		"ALTER TABLE detections ADD COLUMN guest_path INTEGER DEFAULT 0",
		"ALTER TABLE detections ADD COLUMN engine TEXT DEFAULT 'clamav'",
		"ALTER TABLE scans ADD COLUMN view TEXT",
		"ALTER TABLE scans ADD COLUMN view_consistency TEXT",
		"ALTER TABLE scans ADD COLUMN view_note TEXT",
		"ALTER TABLE scans ADD COLUMN view_at INTEGER",
		"ALTER TABLE scans ADD COLUMN view_begin_ms INTEGER",
		"ALTER TABLE scans ADD COLUMN view_end_ms INTEGER",
		"ALTER TABLE scans ADD COLUMN hidden INTEGER DEFAULT 0",
		"ALTER TABLE detections ADD COLUMN hidden INTEGER DEFAULT 0",
		"ALTER TABLE guests ADD COLUMN gone INTEGER",
		"ALTER TABLE scans ADD COLUMN disk_stamp TEXT",
		"ALTER TABLE scans ADD COLUMN carried_from INTEGER",
		"ALTER TABLE findex ADD COLUMN verified INTEGER NOT NULL "
		    "DEFAULT 0",
		"ALTER TABLE verdicts ADD COLUMN classes INTEGER NOT NULL "
		    "DEFAULT 0",
		"ALTER TABLE sigsum ADD COLUMN allow BLOB",
		"ALTER TABLE findex ADD COLUMN md5 BLOB",
		"ALTER TABLE findex ADD COLUMN sha1 BLOB",
		"ALTER TABLE findex ADD COLUMN classes INTEGER NOT NULL "
		    "DEFAULT 0",
		"ALTER TABLE findex ADD COLUMN ext BLOB",
		"ALTER TABLE scans ADD COLUMN estimate_ms INTEGER",
		"ALTER TABLE scans ADD COLUMN attempt INTEGER NOT NULL "
		    "DEFAULT 1",
		"ALTER TABLE scans ADD COLUMN resumable INTEGER NOT NULL "
		    "DEFAULT 0",
		"ALTER TABLE findex ADD COLUMN found_clamav TEXT",
		"ALTER TABLE findex ADD COLUMN found_yara TEXT",
		"ALTER TABLE scans ADD COLUMN skipped_memory INTEGER "
		    "DEFAULT 0",
	};
	sqlite3_stmt *st;
	int version = 0;
	size_t i;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return SQLITE_ERROR;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version == 0 || version >= 15)
		return SQLITE_OK;
	for (i = 0; i < sizeof(columns) / sizeof(columns[0]); i++)
		if (sqlite3_exec(db, columns[i], NULL, NULL, msg) != SQLITE_OK) {
			/* Already there (added by an earlier version), or a
			 * table the schema creates whole. */
			if (*msg != NULL && (strstr(*msg, "duplicate column") ||
			    strstr(*msg, "no such table")))
				sqlite3_free(*msg), *msg = NULL;
			else
				return SQLITE_ERROR;
		}
	return SQLITE_OK;
}

int
store_open(const char *path, char *err, size_t errlen)
{
	char *msg = NULL;
	mode_t old;
	int rc;

	/* Searchable by others (qemu reaches [view] scratch_dir below it),
	 * so the database itself is private. */
	if (mkdir_parent(path, 0711) == -1) {
		snprintf(err, errlen, "state directory for %s: %s", path,
		    strerror(errno));
		return -1;
	}
	old = umask(077);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	umask(old);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "state %s: %s", path,
		    db ? sqlite3_errmsg(db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;",
	    NULL, NULL, &msg) != SQLITE_OK ||
	    migrate(&msg) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "state %s: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		goto fail;
	}
	return 0;
fail:
	sqlite3_close(db);
	db = NULL;
	return -1;
}

void
store_close(void)
{
	if (db != NULL)
		sqlite3_close(db);
	db = NULL;
	if (mem != NULL)
		sqlite3_close(mem);
	mem = NULL;
}

static sqlite3_stmt *
prepare(const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("state: %s: %s", sql, sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		log_warnx("state: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Scans left queued or running by a daemon that died are not lost: they
 * are closed as failed (so retried soon, with backoff), with the reason. */
int
store_recover(void)
{
	sqlite3_stmt *st;

	int ok = 0;

	/* What a crash may have left: the daemon says, and goes on. */
	if ((st = prepare("PRAGMA quick_check")) != NULL) {
		if (sqlite3_step(st) == SQLITE_ROW)
			ok = strcmp((const char *)sqlite3_column_text(st, 0),
			    "ok") == 0;
		if (ok)
			log_info("state: integrity check ok");
		else
			log_warnx("state: integrity check: %s",
			    sqlite3_column_text(st, 0) ?
			    (const char *)sqlite3_column_text(st, 0) :
			    sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	if ((st = prepare("UPDATE scans SET status = 'failed', reason = "
	    "CASE status WHEN 'running' THEN 'interrupted: sentineld stopped "
	    "before the scan ended' ELSE 'interrupted: sentineld stopped "
	    "before the scan started' END, ended = ?1 "
	    "WHERE status IN ('queued', 'running')")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now_ms());
	return step_done(st);
}

int64_t
store_scan_queued(const struct job *j)
{
	sqlite3_stmt *st;

	if ((st = prepare("INSERT INTO scans (guest_uuid, guest_name, "
	    "trigger, queued, status) VALUES (?1, ?2, ?3, ?4, 'queued')")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, j->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, j->guest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, j->trigger, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, j->queued_ms);
	if (step_done(st) == -1)
		return -1;
	return sqlite3_last_insert_rowid(db);
}

int
store_scan_started(const struct job *j)
{
	sqlite3_stmt *st;

	if ((st = prepare("UPDATE scans SET status = 'running', started = ?1 "
	    "WHERE id = ?2")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, j->started_ms);
	sqlite3_bind_int64(st, 2, j->id);
	return step_done(st);
}

/* The files and filesystems not scanned, as kept by the scan. */
static int
store_skips(int64_t id, const struct scan_skip *k)
{
	sqlite3_stmt *st;

	if ((st = prepare("INSERT INTO skipped (scan_id, reason, fs, path, "
	    "guest_path, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")) == NULL)
		return -1;
	for (; k != NULL; k = k->next) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, skip_reason_name(k->reason), -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(st, 3, k->fs, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, k->path, (int)k->pathlen,
		    SQLITE_STATIC);
		sqlite3_bind_int(st, 5, k->guest_path);
		if (k->detail != NULL)
			sqlite3_bind_text(st, 6, k->detail, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 6);
		if (sqlite3_step(st) != SQLITE_DONE) {
			log_warnx("state: %s", sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return 0;
}

/*
 * One write transaction.  BEGIN IMMEDIATE takes the write lock first (a
 * busy database fails here, before anything is written, not half-way);
 * a BEGIN that failed is never followed by writes that would each commit
 * on their own.  txn_end commits (a full disk may only show at COMMIT)
 * or rolls back, and returns -1 for anything that did not commit.
 */
static int
txn_begin(void)
{
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("state: cannot begin a transaction: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int
txn_end(int rc)
{
	if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		log_warnx("state: %s", sqlite3_errmsg(db));
		rc = -1;
	}
	/* A failed COMMIT may leave the transaction open: never let the
	 * next one start inside it. */
	if (rc == -1 && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* With a fleet: scan ID to the fleet's database, in the caller's
 * transaction. */
static int
outbox_put(int64_t id)
{
	sqlite3_stmt *st;

	if (!fleet_on)
		return 0;
	if ((st = prepare("INSERT OR IGNORE INTO fleet_outbox (scan_id) "
	    "VALUES (?1)")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return step_done(st);
}

int
store_scan_finished(const struct job *j, int64_t ended)
{
	const struct scan_result *r = &j->result;
	const struct scan_detection *d;
	sqlite3_stmt *st;
	int rc = -1;

	if (txn_begin() == -1)
		return -1;
	if ((st = prepare("UPDATE scans SET status = ?1, reason = ?2, "
	    "ended = ?3, files = ?4, bytes_read = ?5, bytes_scanned = ?6, "
	    "skipped_too_large = ?7, errors = ?8, fs_scanned = ?9, "
	    "fs_failed = ?10, launch_ms = ?11, started = coalesce(started, ?3), "
	    "stream_ms = ?13, cache_hits = ?14, unchanged = ?15, "
	    "skipped_limit = ?16, skipped_excluded = ?17, "
	    "skipped_encrypted = ?18, skipped_special = ?19, "
	    "skipped_filesystem = ?20, sig_version = ?21, os = ?22, "
	    "view = ?23, view_consistency = ?24, view_note = ?25, "
	    "view_at = ?26, view_begin_ms = ?27, view_end_ms = ?28, "
	    "hidden = ?29, disk_stamp = ?30, carried_from = ?31, "
	    "estimate_ms = ?32, attempt = ?33, resumable = ?34, "
	    "skipped_memory = ?35 WHERE id = ?12"))
	    == NULL)
		goto out;
	sqlite3_bind_int(st, 33, j->attempt > 1 ? j->attempt : 1);
	sqlite3_bind_int(st, 34, j->resumable != 0);
	sqlite3_bind_text(st, 1, scan_status_name(r->status), -1, SQLITE_STATIC);
	if (r->reason[0])
		sqlite3_bind_text(st, 2, r->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ended);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)r->files);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)r->bytes_read);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)r->bytes_scanned);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)r->skipped[SKIP_TOO_LARGE]);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)r->skipped[SKIP_UNREADABLE]);
	sqlite3_bind_int64(st, 9, r->fs_scanned);
	sqlite3_bind_int64(st, 10, r->fs_failed);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)r->launch_ms);
	sqlite3_bind_int64(st, 12, j->id);
	sqlite3_bind_int64(st, 13, (sqlite3_int64)r->stream_ms);
	sqlite3_bind_int64(st, 14, (sqlite3_int64)r->cache_hits);
	sqlite3_bind_int64(st, 15, (sqlite3_int64)r->unchanged);
	sqlite3_bind_int64(st, 16, (sqlite3_int64)r->skipped[SKIP_LIMIT]);
	sqlite3_bind_int64(st, 17, (sqlite3_int64)r->skipped[SKIP_EXCLUDED]);
	sqlite3_bind_int64(st, 18, (sqlite3_int64)r->skipped[SKIP_ENCRYPTED]);
	sqlite3_bind_int64(st, 19, (sqlite3_int64)r->skipped[SKIP_SPECIAL]);
	sqlite3_bind_int64(st, 20, (sqlite3_int64)r->skipped[SKIP_FILESYSTEM]);
	sqlite3_bind_int64(st, 35, (sqlite3_int64)r->skipped[SKIP_MEMORY]);
	sqlite3_bind_text(st, 21, j->sig_version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 29, (sqlite3_int64)r->hidden);
	/* Only a result that stands for the images may be carried over (or
	 * make a linked clone's base): not one cut short. */
	if (j->disk_stamp != NULL && !j->resumable &&
	    (r->status == SCAN_CLEAN || r->status == SCAN_INFECTED))
		sqlite3_bind_text(st, 30, j->disk_stamp, -1, SQLITE_STATIC);
	if (j->carried_from > 0)
		sqlite3_bind_int64(st, 31, j->carried_from);
	if (j->estimate_ms > 0)
		sqlite3_bind_int64(st, 32, j->estimate_ms);
	if (r->os[0] != '\0')
		sqlite3_bind_text(st, 22, r->os, -1, SQLITE_STATIC);
	/* A scan that never ran took no view. */
	if (j->started_ms > 0) {
		const struct view *v = &j->view;

		sqlite3_bind_text(st, 23, view_kind_name(v->kind), -1,
		    SQLITE_STATIC);
		if (v->kind == VIEW_BACKUP) {
			sqlite3_bind_text(st, 24, v->consistency, -1,
			    SQLITE_STATIC);
			sqlite3_bind_int64(st, 26, v->at_ms);
			sqlite3_bind_int64(st, 27, v->begin_ms);
			sqlite3_bind_int64(st, 28, v->end_ms);
		}
		if (v->note[0] != '\0')
			sqlite3_bind_text(st, 25, v->note, -1, SQLITE_STATIC);
	}
	if (step_done(st) == -1)
		goto out;
	if (r->detections != NULL) {
		/* One statement for all detections, reset between rows. */
		if ((st = prepare("INSERT INTO detections (scan_id, fs, path, "
		    "signature, size, guest_path, engine, hidden) VALUES (?1, "
		    "?2, ?3, ?4, ?5, ?6, ?7, ?8)")) == NULL)
			goto out;
		for (d = r->detections; d != NULL; d = d->next) {
			sqlite3_bind_int64(st, 1, j->id);
			sqlite3_bind_text(st, 2, d->fs, -1, SQLITE_STATIC);
			sqlite3_bind_blob(st, 3, d->path, (int)d->pathlen,
			    SQLITE_STATIC);
			sqlite3_bind_text(st, 4, d->signature, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 5, (sqlite3_int64)d->size);
			sqlite3_bind_int(st, 6, d->guest_path);
			sqlite3_bind_text(st, 7, d->engine, -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 8, d->hidden);
			if (sqlite3_step(st) != SQLITE_DONE) {
				log_warnx("state: %s", sqlite3_errmsg(db));
				sqlite3_finalize(st);
				goto out;
			}
			sqlite3_reset(st);
		}
		sqlite3_finalize(st);
	}
	if (r->skips != NULL && store_skips(j->id, r->skips) == -1)
		goto out;
	if (outbox_put(j->id) == -1)
		goto out;
	rc = 0;
out:
	return txn_end(rc);
}

/* What a plugin did about a scan. */
int
store_scan_action(int64_t scan_id, const char *plugin, int64_t at,
    const char *text)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (txn_begin() == -1)
		return -1;
	if ((st = prepare("INSERT INTO actions (scan_id, plugin, at, text) "
	    "VALUES (?1, ?2, ?3, ?4)")) == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, scan_id);
	sqlite3_bind_text(st, 2, plugin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, at);
	sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
	/* The scan goes to the fleet again, with its action. */
	if (step_done(st) == -1 || outbox_put(scan_id) == -1)
		goto out;
	rc = 0;
out:
	return txn_end(rc);
}

/*
 * The fleet's outbox.  store_fleet_enable turns it on (scans written from
 * then on are kept for the fleet); store_fleet_pending gives the oldest
 * scans the fleet has yet to get, store_fleet_sent forgets one the fleet
 * acknowledged.
 */
int
store_fleet_instance(char *out, size_t len)
{
	unsigned char r[16];
	sqlite3_stmt *st;
	char hex[33];
	size_t i;
	int found = 0;

	if ((st = prepare("SELECT value FROM fleet_meta WHERE key = "
	    "'instance'")) == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out, len, "%s", sqlite3_column_text(st, 0));
		found = 1;
	}
	sqlite3_finalize(st);
	if (found)
		return 0;
	if (getentropy(r, sizeof(r)) == -1)
		return -1;
	for (i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	if ((st = prepare("INSERT INTO fleet_meta (key, value) VALUES "
	    "('instance', ?1)")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	if (step_done(st) == -1)
		return -1;
	snprintf(out, len, "%s", hex);
	return 0;
}

void
store_fleet_enable(int on)
{
	fleet_on = on;
}

size_t
store_fleet_pending(int64_t *ids, size_t max)
{
	sqlite3_stmt *st;
	size_t n = 0;

	if ((st = prepare("SELECT scan_id FROM fleet_outbox ORDER BY scan_id "
	    "LIMIT ?1")) == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while (n < max && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int64_t
store_fleet_backlog(void)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	if ((st = prepare("SELECT count(*) FROM fleet_outbox")) == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int
store_fleet_sent(int64_t id)
{
	sqlite3_stmt *st;

	if ((st = prepare("DELETE FROM fleet_outbox WHERE scan_id = ?1")) ==
	    NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return step_done(st);
}

static json_t *
actions_json(int64_t scan_id)
{
	sqlite3_stmt *st;
	json_t *a = json_array();

	if ((st = prepare("SELECT plugin, at, text FROM actions WHERE "
	    "scan_id = ?1 ORDER BY rowid")) == NULL)
		return a;
	sqlite3_bind_int64(st, 1, scan_id);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, json_pack("{s:s, s:I, s:s}", "plugin",
		    (const char *)sqlite3_column_text(st, 0), "at",
		    (json_int_t)sqlite3_column_int64(st, 1), "text",
		    (const char *)sqlite3_column_text(st, 2)));
	sqlite3_finalize(st);
	return a;
}

/*
 * The sums of signature VERSION (SREC_SIGSUM_LEN bytes, sigsum.h), which
 * the file index compares with those of the version a file was found
 * clean under.  Kept for the versions of the last SIGSUM_KEEP days:
 * older index entries are past any sane index_max_age.
 */
#define SIGSUM_KEEP	(90 * 86400)

int
store_sigsum_put(const char *version, const unsigned char *sum,
    const unsigned char *allow, size_t allowlen, int64_t now)
{
	sqlite3_stmt *st;

	if ((st = prepare("INSERT OR REPLACE INTO sigsum (version, sum, "
	    "seen, allow) VALUES (?1, ?2, ?3, ?4)")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, version, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, sum, SREC_SIGSUM_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_blob(st, 4, allowlen > 0 ? (const void *)allow :
	    (const void *)"", (int)allowlen, SQLITE_STATIC);
	if (step_done(st) == -1 ||
	    (st = prepare("DELETE FROM sigsum WHERE seen < ?1")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now - SIGSUM_KEEP);
	return step_done(st);
}

/* Records a pause (since > 0) of what ("*": all) or its end (0). */
int
store_pause(const char *what, int64_t since)
{
	sqlite3_stmt *st;

	if ((st = prepare(since > 0 ? "INSERT OR REPLACE INTO paused "
	    "(what, since) VALUES (?1, ?2)" : "DELETE FROM paused WHERE "
	    "what = ?1")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, what, -1, SQLITE_STATIC);
	if (since > 0)
		sqlite3_bind_int64(st, 2, since);
	return step_done(st);
}

/* Since when what is paused; 0: it is not. */
int64_t
store_paused(const char *what)
{
	sqlite3_stmt *st;
	int64_t since = 0;

	if ((st = prepare("SELECT since FROM paused WHERE what = ?1")) == NULL)
		return 0;
	sqlite3_bind_text(st, 1, what, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		since = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return since;
}

/* The result of j in the state database: its row first if it has none. */
int
store_scan_write(struct job *j)
{
	if (j->id == -1 && (j->id = store_scan_queued(j)) == -1)
		return -1;
	return store_scan_finished(j, j->ended_ms);
}

/*
 * A result the state database cannot take (its filesystem full, an I/O
 * error) is still answered in full: written to an in-memory database of
 * the same schema, read back as any other, then removed from it.
 */
json_t *
store_scan_json_unstored(const struct job *j)
{
	sqlite3 *saved = db;
	struct job copy = *j;
	json_t *o = NULL;

	if (mem == NULL && (sqlite3_open(":memory:", &mem) != SQLITE_OK ||
	    sqlite3_exec(mem, schema, NULL, NULL, NULL) != SQLITE_OK)) {
		sqlite3_close(mem);
		mem = NULL;
		return NULL;
	}
	db = mem;
	if ((copy.id = store_scan_queued(&copy)) != -1 &&
	    store_scan_started(&copy) == 0 &&
	    store_scan_finished(&copy, j->ended_ms) == 0)
		o = store_scan_json(copy.id);
	sqlite3_exec(mem, "DELETE FROM detections; DELETE FROM skipped; "
	    "DELETE FROM scans", NULL, NULL, NULL);
	db = saved;
	if (o != NULL) {
		json_object_set_new(o, "id", j->id == -1 ? json_null() :
		    json_integer(j->id));
		json_object_set_new(o, "stored", json_false());
	}
	return o;
}

static json_t *
col_json(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_NULL:
		return json_null();
	default:
		return json_string((const char *)sqlite3_column_text(st, i));
	}
}

/*
 * Every reply is bounded, whatever a guest made of its names: a list of
 * detections or skipped paths stops at PAGE_ROWS entries or PAGE_BYTES of
 * them, and says where the next page starts (*next: a row id, or 0).
 */
#define PAGE_ROWS	1000
#define PAGE_BYTES	(512 * 1024)

/*
 * The path of a detection or skip as it is shown ("display"): as the guest
 * mounts it, C:\Users\x.exe on a Windows drive (with "drive"), or
 * DEVICE:/path; "path" keeps the raw bytes.
 */
static void
set_display(json_t *o, const char *fs, const void *path, size_t len, int gp)
{
	char *d, *esc, l[2];

	if ((d = scan_display_path(fs, len > 0 ? path : "", len, gp)) == NULL)
		return;
	esc = display_bytes(d, strlen(d));
	json_object_set_new(o, "display", json_string(esc ? esc : "?"));
	free(esc);
	free(d);
	if (SCAN_DRIVE(gp) != 0) {
		l[0] = SCAN_DRIVE(gp);
		l[1] = '\0';
		json_object_set_new(o, "drive", json_string(l));
	}
}

/* A scan's detections from row id FROM on, one page. */
static json_t *
detections_json(int64_t scan_id, int64_t from, int64_t *next)
{
	sqlite3_stmt *st;
	json_t *a = json_array(), *o;
	size_t bytes = 0;
	char *esc;

	*next = 0;
	if ((st = prepare("SELECT fs, path, signature, size, guest_path, "
	    "coalesce(engine, 'clamav'), hidden, id FROM detections WHERE "
	    "scan_id = ?1 AND id >= ?2 ORDER BY id")) == NULL)
		return a;
	sqlite3_bind_int64(st, 1, scan_id);
	sqlite3_bind_int64(st, 2, from);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (json_array_size(a) >= PAGE_ROWS || bytes >= PAGE_BYTES) {
			*next = sqlite3_column_int64(st, 7);
			break;
		}
		esc = escape_bytes(sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1));
		/* The path twice: raw and as it is shown. */
		bytes += 2 * (esc ? strlen(esc) : 1) + 200 +
		    (size_t)sqlite3_column_bytes(st, 2);
		o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:b}",
		    "fs", (const char *)sqlite3_column_text(st, 0),
		    "path", esc ? esc : "?",
		    "signature", (const char *)sqlite3_column_text(st, 2),
		    "engine", (const char *)sqlite3_column_text(st, 5),
		    "size", (json_int_t)sqlite3_column_int64(st, 3),
		    "guest_path", sqlite3_column_int(st, 4),
		    "hidden", sqlite3_column_int(st, 6));
		set_display(o, (const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1),
		    sqlite3_column_int(st, 4));
		json_array_append_new(a, o);
		free(esc);
	}
	sqlite3_finalize(st);
	return a;
}

/* The paths not scanned in a scan (up to SCAN_SKIP_PATHS per reason were
 * kept), from row FROM on, one page. */
static json_t *
skipped_json(int64_t scan_id, int64_t from, int64_t *next)
{
	sqlite3_stmt *st;
	json_t *a = json_array(), *o;
	size_t bytes = 0;
	char *esc;

	*next = 0;
	if ((st = prepare("SELECT reason, fs, path, guest_path, detail, rowid "
	    "FROM skipped WHERE scan_id = ?1 AND rowid >= ?2 ORDER BY rowid"))
	    == NULL)
		return a;
	sqlite3_bind_int64(st, 1, scan_id);
	sqlite3_bind_int64(st, 2, from);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (json_array_size(a) >= PAGE_ROWS || bytes >= PAGE_BYTES) {
			*next = sqlite3_column_int64(st, 5);
			break;
		}
		esc = escape_bytes(sqlite3_column_blob(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2));
		bytes += 2 * (esc ? strlen(esc) : 1) + 200 +
		    (size_t)sqlite3_column_bytes(st, 4);
		o = json_pack("{s:s, s:s, s:s, s:b}",
		    "reason", (const char *)sqlite3_column_text(st, 0),
		    "fs", (const char *)sqlite3_column_text(st, 1),
		    "path", esc ? esc : "?",
		    "guest_path", sqlite3_column_int(st, 3));
		if (sqlite3_column_bytes(st, 2) > 0)
			set_display(o, (const char *)sqlite3_column_text(st, 1),
			    sqlite3_column_blob(st, 2),
			    (size_t)sqlite3_column_bytes(st, 2),
			    sqlite3_column_int(st, 3));
		if (sqlite3_column_type(st, 4) != SQLITE_NULL)
			json_object_set_new(o, "detail", json_string(
			    (const char *)sqlite3_column_text(st, 4)));
		json_array_append_new(a, o);
		free(esc);
	}
	sqlite3_finalize(st);
	return a;
}

/* "name": a row id, or null at the end. */
static void
set_next(json_t *o, const char *name, int64_t next)
{
	json_object_set_new(o, name, next > 0 ? json_integer(next) :
	    json_null());
}

#define SCAN_COLUMNS "id, guest_name, guest_uuid, trigger, queued, started, " \
	"ended, status, reason, files, bytes_read, bytes_scanned, " \
	"fs_scanned, fs_failed, launch_ms, stream_ms, cache_hits, unchanged, " \
	"sig_version, os, view, view_consistency, view_note, view_at, " \
	"view_begin_ms, view_end_ms, skipped_too_large, skipped_limit, skipped_excluded, " \
	"errors, skipped_encrypted, skipped_special, skipped_filesystem, " \
	"skipped_memory, " \
	"(SELECT count(*) FROM detections WHERE scan_id = scans.id), " \
	"coalesce(hidden, 0), carried_from, estimate_ms, attempt, resumable"
#define SCAN_NPLAIN	26	/* columns before the skipped counts */

static json_t *
row_json(sqlite3_stmt *st, int with_detections, const struct store_page *pg)
{
	static const char *names[SCAN_NPLAIN] = { "id", "guest", "uuid",
	    "trigger", "queued", "started", "ended", "status", "reason",
	    "files", "bytes_read", "bytes_scanned", "fs_scanned", "fs_failed",
	    "launch_ms", "stream_ms", "cache_hits", "unchanged",
	    "signature_version", "os", "view", "view_consistency", "view_note",
	    "view_at", "view_begin_ms", "view_end_ms" };
	json_t *o = json_object(), *sk = json_object();
	uint64_t skipped[SKIP_NREASONS];
	const char *status;
	int64_t next;
	int i;

	for (i = 0; i < SCAN_NPLAIN; i++)
		json_object_set_new(o, names[i], col_json(st, i));
	/* The skipped counts, in the order of enum skip_reason. */
	for (i = 0; i < SKIP_NREASONS; i++) {
		json_object_set_new(sk, skip_reason_name(i),
		    col_json(st, SCAN_NPLAIN + i));
		skipped[i] = (uint64_t)sqlite3_column_int64(st,
		    SCAN_NPLAIN + i);
	}
	json_object_set_new(o, "skipped", sk);
	/* Every file scanned in full: a clean or infected scan may still
	 * have left some out (status says what was found, this what was
	 * covered).  A scan still running is not complete. */
	status = (const char *)sqlite3_column_text(st, 7);
	json_object_set_new(o, "complete", json_boolean(status != NULL &&
	    (strcmp(status, "clean") == 0 || strcmp(status, "infected") == 0)
	    && scan_not_scanned(skipped) == 0));
	json_object_set_new(o, "not_scanned",
	    json_integer((json_int_t)scan_not_scanned(skipped)));
	json_object_set_new(o, "detection_count",
	    col_json(st, SCAN_NPLAIN + SKIP_NREASONS));
	json_object_set_new(o, "hidden",
	    col_json(st, SCAN_NPLAIN + SKIP_NREASONS + 1));
	json_object_set_new(o, "carried_from",
	    col_json(st, SCAN_NPLAIN + SKIP_NREASONS + 2));
	json_object_set_new(o, "estimate_ms",
	    col_json(st, SCAN_NPLAIN + SKIP_NREASONS + 3));
	json_object_set_new(o, "attempt",
	    col_json(st, SCAN_NPLAIN + SKIP_NREASONS + 4));
	json_object_set_new(o, "resumable", json_boolean(sqlite3_column_int(st,
	    SCAN_NPLAIN + SKIP_NREASONS + 5)));
	if (with_detections & STORE_DETECTIONS) {
		json_object_set_new(o, "detections",
		    detections_json(sqlite3_column_int64(st, 0),
		    pg ? pg->detections_from : 0, &next));
		set_next(o, "detections_next", next);
		json_object_set_new(o, "actions",
		    actions_json(sqlite3_column_int64(st, 0)));
	}
	if (with_detections & STORE_SKIPPED) {
		json_object_set_new(o, "skipped_paths",
		    skipped_json(sqlite3_column_int64(st, 0),
		    pg ? pg->skipped_from : 0, &next));
		set_next(o, "skipped_next", next);
	}
	return o;
}

json_t *
store_scan_json(int64_t id)
{
	return store_scan_by_id(id, STORE_DETECTIONS, NULL);
}

/* Scan id, with what flags ask for, its lists from PG on (NULL: from
 * their starts). */
json_t *
store_scan_by_id(int64_t id, int flags, const struct store_page *pg)
{
	sqlite3_stmt *st;
	json_t *o = NULL;

	if ((st = prepare("SELECT " SCAN_COLUMNS " FROM scans WHERE id = ?1"))
	    == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = row_json(st, flags, pg);
	sqlite3_finalize(st);
	return o;
}

/* The newest limit scans with an id below BEFORE (0: any), of one guest
 * (by UUID, else by name) or of all, newest first, with what flags ask
 * for; *next is the id to go on before if there may be more.  One query
 * per key, so that each uses its index. */
static json_t *
scans_json(const char *uuid, const char *name, int64_t limit, int64_t before,
    int flags, int64_t *next)
{
	sqlite3_stmt *st;
	json_t *a = json_array();
	int64_t last = 0;

	*next = 0;
	if (uuid != NULL)
		st = prepare("SELECT " SCAN_COLUMNS " FROM scans "
		    "WHERE guest_uuid = ?1 AND id < ?3 ORDER BY id DESC "
		    "LIMIT ?2");
	else if (name != NULL)
		st = prepare("SELECT " SCAN_COLUMNS " FROM scans "
		    "WHERE guest_name = ?1 AND id < ?3 ORDER BY id DESC "
		    "LIMIT ?2");
	else
		st = prepare("SELECT " SCAN_COLUMNS " FROM scans "
		    "WHERE id < ?3 ORDER BY id DESC LIMIT ?2");
	if (st == NULL)
		return a;
	if (uuid != NULL || name != NULL)
		sqlite3_bind_text(st, 1, uuid ? uuid : name, -1,
		    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, limit);
	sqlite3_bind_int64(st, 3, before > 0 ? before : INT64_MAX);
	while (sqlite3_step(st) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		json_array_append_new(a, row_json(st, flags, NULL));
	}
	sqlite3_finalize(st);
	if ((int64_t)json_array_size(a) == limit)
		*next = last;
	return a;
}

/* Past scans, without their detections: at most HISTORY_PAGE of the
 * LIMIT asked for, older than BEFORE (0: the newest); "next" says where
 * the next page starts. */
json_t *
store_history_json(const char *uuid, const char *name, int64_t limit,
    int64_t before)
{
	int64_t next;
	json_t *o, *a;

	a = scans_json(uuid, name, limit < HISTORY_PAGE ? limit : HISTORY_PAGE,
	    before, 0, &next);
	o = json_pack("{s:o}", "scans", a);
	if (o != NULL)
		set_next(o, "next", limit > HISTORY_PAGE ? next : 0);
	return o;
}

/* The newest scan of a guest, by UUID (preferred) or by name. */
json_t *
store_last_scan(const char *uuid, const char *name, int with_detections)
{
	int64_t next;
	json_t *a = scans_json(uuid, name, 1, 0, with_detections, &next);
	json_t *o = json_incref(json_array_get(a, 0));

	json_decref(a);
	return o;
}

/* Scans that read something: not carried over, started and ended, some
 * bytes read. */
#define READ_SCANS "carried_from IS NULL AND started IS NOT NULL AND " \
	"ended IS NOT NULL AND ended >= started AND bytes_read > 0"

size_t
store_guest_durations(const char *uuid, int64_t *out, size_t max)
{
	sqlite3_stmt *st;
	size_t n = 0;

	/* A part of a scan (cut short, or the rest of one) is not what a
	 * scan of the guest takes. */
	if ((st = prepare("SELECT ended - started FROM scans WHERE "
	    "guest_uuid = ?1 AND " READ_SCANS " AND resumable = 0 AND "
	    "attempt = 1 ORDER BY id DESC LIMIT ?2")) ==
	    NULL)
		return 0;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while (n < max && sqlite3_step(st) == SQLITE_ROW)
		out[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

void
store_recent_scans(size_t max, void (*fn)(void *, int64_t, int64_t,
    uint64_t), void *arg)
{
	sqlite3_stmt *st;

	if ((st = prepare("SELECT launch_ms, ended - started, bytes_read FROM "
	    "(SELECT id, launch_ms, started, ended, bytes_read FROM scans "
	    "WHERE " READ_SCANS " ORDER BY id DESC LIMIT ?1) ORDER BY id")) ==
	    NULL)
		return;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while (sqlite3_step(st) == SQLITE_ROW)
		fn(arg, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
		    (uint64_t)sqlite3_column_int64(st, 2));
	sqlite3_finalize(st);
}

int
store_last_result(const char *uuid, struct store_last *l)
{
	sqlite3_stmt *st;
	int rc;

	memset(l, 0, sizeof(*l));
	if ((st = prepare("SELECT ended, (SELECT count(*) FROM detections "
	    "WHERE scan_id = scans.id) FROM scans WHERE guest_uuid = ?1 AND "
	    "ended IS NOT NULL ORDER BY id DESC LIMIT 1")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		l->ended_ms = sqlite3_column_int64(st, 0);
		l->detections = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/*
 * What the schedule needs of a guest's past, so that a restart continues
 * where it was: when it was first seen (recorded now if never), the end of
 * its last complete scan, and the failures since.
 */
void
store_history(const char *uuid, const char *name, int64_t now,
    struct store_history *h)
{
	sqlite3_stmt *st;

	memset(h, 0, sizeof(*h));
	h->first_seen = now;
	if ((st = prepare("INSERT OR IGNORE INTO guests (uuid, name, "
	    "first_seen) VALUES (?1, ?2, ?3)")) != NULL) {
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now);
		step_done(st);
	}
	if ((st = prepare("SELECT first_seen FROM guests WHERE uuid = ?1")) !=
	    NULL) {
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			h->first_seen = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	/* A scan cut short, even with detections, is not complete. */
	if ((st = prepare("SELECT max(ended) FROM scans WHERE guest_uuid = ?1 "
	    "AND status IN ('clean', 'infected') AND resumable = 0")) != NULL) {
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			h->last_ok_end = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	/* Failures since the last complete scan, or since the last one cut
	 * short after reading something (which counts as one: policy.h). */
	if ((st = prepare("SELECT count(*), max(ended) FROM scans "
	    "WHERE guest_uuid = ?1 AND (status IN ('failed', 'incomplete') "
	    "OR resumable = 1) AND id >= max(coalesce((SELECT max(id) FROM "
	    "scans WHERE guest_uuid = ?1 AND status IN ('clean', 'infected') "
	    "AND resumable = 0), 0) + 1, coalesce((SELECT max(id) FROM scans "
	    "WHERE guest_uuid = ?1 AND resumable = 1 AND files > 0), 0))")) !=
	    NULL) {
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			h->failures = (unsigned int)sqlite3_column_int(st, 0);
			h->last_fail_end = sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
	}
}

/*
 * Clean verdicts for signatures VERSION: those of other versions are stale
 * and deleted; of the rest, the newest MAX are handed to fn, oldest first.
 */
void
store_verdicts_load(const char *version, size_t max,
    void (*fn)(void *, const unsigned char *, uint32_t), void *arg)
{
	sqlite3_stmt *st;

	if ((st = prepare("DELETE FROM verdicts WHERE version != ?1")) != NULL) {
		sqlite3_bind_text(st, 1, version, -1, SQLITE_STATIC);
		step_done(st);
	}
	if ((st = prepare("SELECT sha256, classes FROM (SELECT sha256, used, "
	    "classes FROM verdicts ORDER BY used DESC LIMIT ?1) ORDER BY used")) ==
	    NULL)
		return;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while (sqlite3_step(st) == SQLITE_ROW)
		if (sqlite3_column_bytes(st, 0) == VERDICT_HASH_LEN)
			fn(arg, sqlite3_column_blob(st, 0),
			    (uint32_t)sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
}

/* Records n clean hashes as used now; keeps at most max rows. */
int
store_verdicts_save(const char *version, const unsigned char *h,
    const uint32_t *classes, size_t n, size_t max)
{
	sqlite3_stmt *st;
	int64_t now = now_ms();
	size_t i;
	int rc = -1;

	if (txn_begin() == -1)
		return -1;
	if ((st = prepare("INSERT OR REPLACE INTO verdicts (sha256, version, "
	    "used, classes) VALUES (?1, ?2, ?3, ?4)")) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		sqlite3_bind_blob(st, 1, h + i * VERDICT_HASH_LEN, VERDICT_HASH_LEN,
		    SQLITE_STATIC);
		sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now);
		sqlite3_bind_int64(st, 4, classes[i]);
		if (sqlite3_step(st) != SQLITE_DONE) {
			log_warnx("state: %s", sqlite3_errmsg(db));
			sqlite3_finalize(st);
			goto out;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if ((st = prepare("DELETE FROM verdicts WHERE sha256 IN (SELECT sha256 "
	    "FROM verdicts ORDER BY used DESC LIMIT -1 OFFSET ?1)")) == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	if (step_done(st) == -1)
		goto out;
	rc = 0;
out:
	return txn_end(rc);
}

/*
 * The newest complete (clean or infected) scan of a guest: its id, the
 * stamp of the images it read if it had one (else *stamp is NULL), its
 * signature version, and the scan its result came from if carried.  0 if
 * there is none, -1 on error.
 */
int
store_last_complete(const char *uuid, int64_t *id, char **stamp,
    char *version, size_t versionlen, int64_t *from)
{
	sqlite3_stmt *st;
	int rc = 0;

	*id = 0;
	*stamp = NULL;
	*from = 0;
	version[0] = '\0';
	if ((st = prepare("SELECT id, disk_stamp, sig_version, carried_from "
	    "FROM scans WHERE guest_uuid = ?1 AND status IN ('clean', "
	    "'infected') AND resumable = 0 ORDER BY id DESC LIMIT 1")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		if (sqlite3_column_type(st, 1) == SQLITE_TEXT &&
		    (*stamp = strdup((const char *)sqlite3_column_text(st, 1)))
		    == NULL)
			rc = -1;
		if (sqlite3_column_type(st, 2) == SQLITE_TEXT)
			snprintf(version, versionlen, "%s",
			    (const char *)sqlite3_column_text(st, 2));
		*from = sqlite3_column_int64(st, 3);
		rc = rc == -1 ? -1 : 1;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * Which attempt scan ID of guest UUID is: 1, or one more than the guest's
 * scan before it when that one was cut short (resumable).  1 on error.
 */
int
store_next_attempt(const char *uuid, int64_t id)
{
	sqlite3_stmt *st;
	int n = 1;

	if ((st = prepare("SELECT attempt, resumable FROM scans WHERE "
	    "guest_uuid = ?1 AND id < ?2 AND status NOT IN ('queued', "
	    "'running') ORDER BY id DESC LIMIT 1")) == NULL)
		return 1;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id > 0 ? id : INT64_MAX);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 1) != 0 &&
	    sqlite3_column_int(st, 0) > 0 && sqlite3_column_int(st, 0) < 1000000)
		n = sqlite3_column_int(st, 0) + 1;
	sqlite3_finalize(st);
	return n;
}

/*
 * Scan ID's result into R, as a scan that read nothing finds it again:
 * status, reason, what it counted (its files as unchanged), OS,
 * detections and the paths it did not scan.  -1 if it cannot be read.
 */
int
store_scan_load(int64_t id, struct scan_result *r)
{
	struct scan_detection *d, **dt = &r->detections;
	struct scan_skip *k, **kt = &r->skips;
	sqlite3_stmt *st;
	const void *p;
	int i, rc = -1;

	memset(r, 0, sizeof(*r));
	if ((st = prepare("SELECT status, reason, files, unchanged, "
	    "fs_scanned, fs_failed, os, coalesce(hidden, 0), "
	    "skipped_too_large, skipped_limit, skipped_excluded, errors, "
	    "skipped_encrypted, skipped_special, skipped_filesystem, "
	    "skipped_memory "
	    "FROM scans WHERE id = ?1")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -1;
	}
	r->status = strcmp((const char *)sqlite3_column_text(st, 0),
	    "infected") == 0 ? SCAN_INFECTED : SCAN_CLEAN;
	if (sqlite3_column_type(st, 1) == SQLITE_TEXT)
		snprintf(r->reason, sizeof(r->reason), "%s",
		    (const char *)sqlite3_column_text(st, 1));
	r->unchanged = (uint64_t)sqlite3_column_int64(st, 2) +
	    (uint64_t)sqlite3_column_int64(st, 3);
	r->fs_scanned = (unsigned int)sqlite3_column_int(st, 4);
	r->fs_failed = (unsigned int)sqlite3_column_int(st, 5);
	if (sqlite3_column_type(st, 6) == SQLITE_TEXT)
		snprintf(r->os, sizeof(r->os), "%s",
		    (const char *)sqlite3_column_text(st, 6));
	r->hidden = (uint64_t)sqlite3_column_int64(st, 7);
	/* In the order of enum skip_reason ("errors" is unreadable). */
	for (i = 0; i < SKIP_NREASONS; i++)
		r->skipped[i] = (uint64_t)sqlite3_column_int64(st, 8 + i);
	sqlite3_finalize(st);

	if ((st = prepare("SELECT fs, path, signature, size, guest_path, "
	    "coalesce(engine, 'clamav'), coalesce(hidden, 0) FROM detections "
	    "WHERE scan_id = ?1 ORDER BY id")) == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((d = calloc(1, sizeof(*d))) == NULL)
			goto out;
		*dt = d;
		dt = &d->next;
		d->pathlen = (size_t)sqlite3_column_bytes(st, 1);
		p = sqlite3_column_blob(st, 1);
		if ((d->fs = strdup((const char *)sqlite3_column_text(st, 0)))
		    == NULL || (d->path = malloc(d->pathlen + 1)) == NULL ||
		    (d->signature = strdup((const char *)
		    sqlite3_column_text(st, 2))) == NULL)
			goto out;
		if (d->pathlen > 0)
			memcpy(d->path, p, d->pathlen);
		d->path[d->pathlen] = '\0';
		d->size = (uint64_t)sqlite3_column_int64(st, 3);
		d->guest_path = sqlite3_column_int(st, 4);
		d->engine = strcmp((const char *)sqlite3_column_text(st, 5),
		    "yara") == 0 ? "yara" : "clamav";
		d->hidden = sqlite3_column_int(st, 6);
		r->ndetections++;
	}
	sqlite3_finalize(st);

	if ((st = prepare("SELECT reason, fs, path, guest_path, detail FROM "
	    "skipped WHERE scan_id = ?1 ORDER BY rowid")) == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *why = (const char *)sqlite3_column_text(st, 0);

		if ((k = calloc(1, sizeof(*k))) == NULL)
			goto out;
		*kt = k;
		kt = &k->next;
		for (i = 0; i < SKIP_NREASONS &&
		    strcmp(skip_reason_name(i), why) != 0; i++)
			;
		k->reason = i < SKIP_NREASONS ? (enum skip_reason)i :
		    SKIP_UNREADABLE;
		r->nskips[k->reason]++;
		k->pathlen = (size_t)sqlite3_column_bytes(st, 2);
		p = sqlite3_column_blob(st, 2);
		if ((k->fs = strdup((const char *)sqlite3_column_text(st, 1)))
		    == NULL || (k->path = malloc(k->pathlen + 1)) == NULL ||
		    (sqlite3_column_type(st, 4) == SQLITE_TEXT &&
		    (k->detail = strdup((const char *)sqlite3_column_text(st,
		    4))) == NULL))
			goto out;
		if (k->pathlen > 0)
			memcpy(k->path, p, k->pathlen);
		k->path[k->pathlen] = '\0';
		k->guest_path = sqlite3_column_int(st, 3);
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	if (rc == -1)
		scan_result_free(r);
	return rc;
}
