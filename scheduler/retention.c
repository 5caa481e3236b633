/*
 * Retention: the state database keeps what an admin needs, not all there
 * ever was.  Scans older than [state] keep_scans go with their detections,
 * skips and actions, but each guest not forgotten keeps its last
 * keep_per_guest scans and its last complete one (the schedule's history).
 * A guest libvirt no longer defines is noted as gone; once it has been gone
 * for [state] forget_guests, its file index, its pause and its row go, and
 * its scans are kept by age alone.
 *
 * It runs soon after start and then every hour, in libuv's pool on a
 * connection of its own, in transactions of RETENTION_BATCH scans: the
 * loop thread's own writes wait for one batch at most.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <uv.h>

#include "log.h"
#include "sentineld.h"
#include "util.h"

#define RETENTION_FIRST_MS	(10 * 1000)
#define RETENTION_EVERY_MS	(3600 * 1000)
#define RETENTION_BATCH		500

struct prune {
	uv_work_t	 req;
	char		*path;
	int64_t		 now;
	int64_t		 keep_ms;	/* 0: scans are kept */
	int64_t		 forget_ms;	/* 0: guests are never forgotten */
	long long	 keep_n;
	char		(*uuids)[UUID_BUF];	/* the guests libvirt defines, or */
	size_t		 nuuids;
	int		 have_uuids;	/* unknown: libvirt not reachable */
	/* What it did. */
	long long	 scans, gone, forgotten, findex;
	char		 err[256];
};

static uv_timer_t	timer;
static int		running;

static int
exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Runs STMT (already bound) to its end in its own transaction; the rows
 * it changed, or -1. */
static int
step_txn(sqlite3 *db, sqlite3_stmt *st)
{
	int n;

	if (exec(db, "BEGIN IMMEDIATE") == -1)
		return -1;
	n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(db) : -1;
	sqlite3_reset(st);
	if (n != -1 && exec(db, "COMMIT") == -1)
		n = -1;
	if (n == -1 && !sqlite3_get_autocommit(db))
		exec(db, "ROLLBACK");
	return n;
}

/* Marks guests gone (or back) against the inventory, and forgets those
 * gone for longer than forget_ms. */
static int
prune_guests(struct prune *p, sqlite3 *db)
{
	sqlite3_stmt *st = NULL, *del = NULL, *g;
	char uuid[UUID_BUF];
	size_t i;
	int n;

	if (exec(db, "CREATE TEMP TABLE IF NOT EXISTS present "
	    "(uuid TEXT PRIMARY KEY); DELETE FROM present") == -1 ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO present VALUES (?1)",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	exec(db, "BEGIN");
	for (i = 0; i < p->nuuids; i++) {
		sqlite3_bind_text(st, 1, p->uuids[i], -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	exec(db, "COMMIT");
	sqlite3_finalize(st);
	st = NULL;
	if (exec(db, "BEGIN IMMEDIATE") == -1)
		return -1;
	if (exec(db, "UPDATE guests SET gone = NULL WHERE gone IS NOT NULL "
	    "AND uuid IN (SELECT uuid FROM present)") == -1)
		goto fail;
	if (sqlite3_prepare_v2(db, "UPDATE guests SET gone = ?1 WHERE gone IS "
	    "NULL AND uuid NOT IN (SELECT uuid FROM present)", -1, &st, NULL)
	    != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, p->now);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	p->gone = sqlite3_changes(db);
	sqlite3_finalize(st);
	st = NULL;
	if (exec(db, "COMMIT") == -1)
		goto fail;
	if (p->forget_ms == 0)
		return 0;
	/* One forgotten guest at a time: its index in batches, then the
	 * rest of it. */
	if (sqlite3_prepare_v2(db, "SELECT uuid FROM guests WHERE gone < ?1 "
	    "LIMIT 1", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM findex WHERE (guest_uuid, "
	    "tree, path) IN (SELECT guest_uuid, tree, path FROM findex WHERE "
	    "guest_uuid = ?1 LIMIT ?2)", -1, &del, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, p->now - p->forget_ms);
	while (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(uuid, sizeof(uuid), "%s",
		    (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		sqlite3_bind_text(del, 1, uuid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(del, 2, RETENTION_BATCH * 4);
		while ((n = step_txn(db, del)) > 0)
			p->findex += n;
		if (n == -1)
			goto fail;
		g = NULL;
		if (exec(db, "BEGIN IMMEDIATE") == -1 ||
		    sqlite3_prepare_v2(db, "DELETE FROM paused WHERE what = ?1; ",
		    -1, &g, NULL) != SQLITE_OK) {
			sqlite3_finalize(g);
			goto fail;
		}
		sqlite3_bind_text(g, 1, uuid, -1, SQLITE_STATIC);
		n = sqlite3_step(g) == SQLITE_DONE ? 0 : -1;
		sqlite3_finalize(g);
		g = NULL;
		if (n == 0 && sqlite3_prepare_v2(db, "DELETE FROM guests WHERE "
		    "uuid = ?1", -1, &g, NULL) == SQLITE_OK) {
			sqlite3_bind_text(g, 1, uuid, -1, SQLITE_STATIC);
			n = sqlite3_step(g) == SQLITE_DONE ? 0 : -1;
		} else
			n = -1;
		sqlite3_finalize(g);
		if (n == -1 || exec(db, "COMMIT") == -1)
			goto fail;
		p->forgotten++;
	}
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	return 0;
fail:
	snprintf(p->err, sizeof(p->err), "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	if (!sqlite3_get_autocommit(db))
		exec(db, "ROLLBACK");
	return -1;
}

/*
 * Scans that ended before now - keep_ms, less those a guest still defined
 * keeps (its last keep_n, its last complete one), a batch at a time with
 * what hangs off them.  A scan that has not ended, or that the fleet's
 * database has yet to get, is never touched.
 */
static int
prune_scans(struct prune *p, sqlite3 *db)
{
	static const char *children[] = {
		("DELETE FROM detections WHERE scan_id IN "
		    "(SELECT id FROM doomed)"),
		"DELETE FROM skipped WHERE scan_id IN (SELECT id FROM doomed)",
		"DELETE FROM actions WHERE scan_id IN (SELECT id FROM doomed)",
		"DELETE FROM scans WHERE id IN (SELECT id FROM doomed)",
	};
	sqlite3_stmt *pick = NULL;
	size_t i;
	int n;

	if (exec(db, "CREATE TEMP TABLE IF NOT EXISTS doomed "
	    "(id INTEGER PRIMARY KEY)") == -1 ||
	    sqlite3_prepare_v2(db, "INSERT INTO doomed SELECT id FROM scans s "
	    "WHERE ended IS NOT NULL AND ended < ?1 AND "
	    "id NOT IN (SELECT scan_id FROM fleet_outbox) AND NOT ("
	    " EXISTS (SELECT 1 FROM guests g WHERE g.uuid = s.guest_uuid) AND ("
	    "  (SELECT count(*) FROM scans t WHERE t.guest_uuid = s.guest_uuid "
	    "   AND t.id > s.id) < ?2 OR"
	    "  s.id = (SELECT max(id) FROM scans t WHERE t.guest_uuid = "
	    "   s.guest_uuid AND t.status IN ('clean', 'infected'))))"
	    " LIMIT ?3", -1, &pick, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(pick, 1, p->now - p->keep_ms);
	sqlite3_bind_int64(pick, 2, p->keep_n);
	sqlite3_bind_int(pick, 3, RETENTION_BATCH);
	do {
		if (exec(db, "BEGIN IMMEDIATE") == -1 ||
		    exec(db, "DELETE FROM doomed") == -1)
			goto fail;
		if (sqlite3_step(pick) != SQLITE_DONE) {
			sqlite3_reset(pick);
			goto fail;
		}
		n = sqlite3_changes(db);
		sqlite3_reset(pick);
		for (i = 0; i < sizeof(children) / sizeof(children[0]); i++)
			if (exec(db, children[i]) == -1)
				goto fail;
		if (exec(db, "COMMIT") == -1)
			goto fail;
		p->scans += n;
	} while (n == RETENTION_BATCH);
	sqlite3_finalize(pick);
	return 0;
fail:
	snprintf(p->err, sizeof(p->err), "%s", sqlite3_errmsg(db));
	sqlite3_finalize(pick);
	if (!sqlite3_get_autocommit(db))
		exec(db, "ROLLBACK");
	return -1;
}

static void
prune_work(uv_work_t *req)
{
	struct prune *p = req->data;
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(p->path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		snprintf(p->err, sizeof(p->err), "%s",
		    db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return;
	}
	sqlite3_busy_timeout(db, 10000);
	if (p->have_uuids && prune_guests(p, db) == -1) {
		sqlite3_close(db);
		return;
	}
	if (p->keep_ms > 0)
		(void)prune_scans(p, db);
	sqlite3_close(db);
}

static void
prune_done(uv_work_t *req, int status)
{
	struct prune *p = req->data;

	(void)status;
	running = 0;
	if (p->err[0] != '\0')
		log_warnx("state: retention: %s; tried again in an hour",
		    p->err);
	if (p->scans > 0 || p->gone > 0 || p->forgotten > 0 || log_verbose_on())
		log_info("state: retention: %lld scans removed, %lld guests "
		    "newly gone from libvirt, %lld forgotten (%lld file index "
		    "records)", p->scans, p->gone, p->forgotten, p->findex);
	free(p->uuids);
	free(p->path);
	free(p);
}

static void
on_timer(uv_timer_t *t)
{
	struct prune *p;
	size_t i, n;

	(void)t;
	if (running || sd.stopping)
		return;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->path = strdup(sd.conf.state_path)) == NULL)
		goto oom;
	p->req.data = p;
	p->now = now_ms();
	p->keep_ms = (int64_t)sd.conf.keep_scans * 1000;
	p->forget_ms = (int64_t)sd.conf.forget_guests * 1000;
	p->keep_n = sd.conf.keep_per_guest;
	/* Only a listing libvirt just gave says which guests are gone: while
	 * it cannot be reached, none is. */
	if (inventory_connected() && inventory_refreshed_ms() > 0) {
		n = inventory_count();
		if (n > 0 && (p->uuids = calloc(n, sizeof(*p->uuids))) == NULL)
			goto oom;
		for (i = 0; i < n; i++)
			memcpy(p->uuids[i], inventory_at(i)->uuid, 37);
		p->nuuids = n;
		p->have_uuids = 1;
	}
	if (uv_queue_work(sd.loop, &p->req, prune_work, prune_done) != 0)
		goto oom;
	running = 1;
	return;
oom:
	if (p != NULL) {
		free(p->uuids);
		free(p->path);
	}
	free(p);
	log_warnx("state: retention: cannot start; tried again in an hour");
}

void
retention_init(void)
{
	uv_timer_init(sd.loop, &timer);
	uv_timer_start(&timer, on_timer, RETENTION_FIRST_MS,
	    RETENTION_EVERY_MS);
	/* It must not keep the loop alive at a stop. */
	uv_unref((uv_handle_t *)&timer);
}

void
retention_close(void)
{
	if (!uv_is_closing((uv_handle_t *)&timer))
		uv_close((uv_handle_t *)&timer, NULL);
}
