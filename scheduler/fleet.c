/*
 * The fleet: hosts that share one PostgreSQL ([fleet] database).  Every
 * scan this host writes goes to the fleet's database as well; while the
 * database cannot be reached the scans wait in the local state's
 * fleet_outbox (written in the scan's own transaction) and go when it is
 * back, oldest first.  Each write is an upsert keyed by this host, its
 * state's instance and the local scan id: a scan sent twice (the reply
 * lost with the connection) counts once.
 *
 * libpq is used without blocking, on the loop: its socket is watched by
 * a uv_poll, every query has a deadline, and a connection that fails or
 * passes one is dropped and made again later (1 s, doubling to 60 s).
 * The loop never waits on the network.
 *
 * What comes back from the database is other hosts' words: JSON parsed
 * with a size bound, shown to the admin, never acted on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cache.h"

#include "log.h"
#include "sentinel/version.h"
#include "sentineld.h"
#include "util.h"

#define FLEET_SCHEMA		1	/* what this sentineld writes */
#define FLEET_LOCK		0x53454e54	/* migrations, one host at a time */
#define RETRY_MIN_MS		1000
#define RETRY_MAX_MS		60000
#define QUERY_MS		30000	/* a query's deadline */
#define CONNECT_MS		15000
#define TICK_MS			5000	/* outbox looked at, guests sent */
#define GUESTS_MS		30000
#define FLUSH_BATCH		16
#define REPLY_MAX		(16 * 1024 * 1024)	/* bytes of one reply */
#define FQ_PARAMS		9	/* a query's parameters, at most */

/* A query and what is told its result (R NULL: ERR says why). */
typedef void (*fleet_cb)(void *, PGresult *, const char *);

struct fq {
	struct fq	*next;
	char		*sql;
	int		 n;
	char		*params[FQ_PARAMS];
	fleet_cb	 cb;
	void		*arg;
	int64_t		 t0;		/* queued, ms */
};

/* The last round trips of a kind of query (queued to answered), ms. */
#define RT_KEEP		64
struct rtimes {
	int64_t		 v[RT_KEEP];
	size_t		 n, next;
};

enum fstate {
	F_OFF,		/* no [fleet] database */
	F_DOWN,		/* waiting to connect again */
	F_CONNECTING,
	F_SETUP,	/* the schema is being made or checked */
	F_READY
};

static struct {
	enum fstate	 state;
	PGconn		*conn;
	uv_poll_t	*poll;
	int		 sock;
	uv_timer_t	 retry, deadline, tick;
	struct fq	*head, *tail, *cur;
	PGresult	*res;		/* the last result of cur */
	int		 delay_ms;
	int64_t		 down_since;
	int64_t		 last_guests;
	int64_t		 last_prune;
	char		 err[512];
	char		 host[256];
	char		 instance[40];
	int		 flushing;
	int		 batch_ok;	/* scans of this batch the fleet took */
	uint64_t	 sent, failed;
	int		 schema;	/* the database's */
	int64_t		 init_ms;
	int		 ever_ready;
	/* Verdicts: what was pulled of which version, up to which id. */
	char		 pulled_version[64];
	int64_t		 pulled_id;
	int		 pulling;
	uint64_t	 verdicts_in, verdicts_out;
	struct rtimes	 rt_gate, rt_scan;	/* fleet_gate, a scan sent */
} fl;

static void	fleet_connect(void);
static void	gate_done(void *, PGresult *, const char *);
static void	flush_done(void *, PGresult *, const char *);

static void
rt_add(struct rtimes *t, int64_t ms)
{
	t->v[t->next] = ms;
	t->next = (t->next + 1) % RT_KEEP;
	if (t->n < RT_KEEP)
		t->n++;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The median of the last round trips, or -1 without any. */
static int64_t
rt_median(const struct rtimes *t)
{
	int64_t v[RT_KEEP];

	if (t->n == 0)
		return -1;
	memcpy(v, t->v, t->n * sizeof(v[0]));
	qsort(v, t->n, sizeof(v[0]), cmp_i64);
	return v[t->n / 2];
}
static void	fleet_next(void);

/* What this host holds of the fleet: the guests it scans under a claim
 * or a slot (fleet_gate), renewed on renew_timer. */
struct held {
	char		 uuid[UUID_BUF];
	struct held	*next;
};

static struct held *held;
static uv_timer_t renew_timer;
static int renew_on;

static const char *
conninfo(void)
{
	return sd.conf.fleet_database;
}

int
fleet_enabled(void)
{
	return fl.state != F_OFF;
}

const char *
fleet_host(void)
{
	return fl.host;
}

static void
poll_closed(uv_handle_t *h)
{
	free(h);
}

static void
poll_stop(void)
{
	if (fl.poll != NULL) {
		uv_poll_stop(fl.poll);
		uv_close((uv_handle_t *)fl.poll, poll_closed);
		fl.poll = NULL;
	}
	fl.sock = -1;
}

static void	on_poll(uv_poll_t *, int, int);

/* Watch libpq's socket for EVENTS; its socket may change while it
 * connects (one address after another). */
static int
poll_want(int events)
{
	int s = PQsocket(fl.conn);

	if (s < 0)
		return -1;
	if (fl.poll != NULL && s != fl.sock)
		poll_stop();
	if (fl.poll == NULL) {
		if ((fl.poll = calloc(1, sizeof(*fl.poll))) == NULL)
			return -1;
		if (uv_poll_init(sd.loop, fl.poll, s) != 0) {
			free(fl.poll);
			fl.poll = NULL;
			return -1;
		}
		fl.sock = s;
	}
	return uv_poll_start(fl.poll, events, on_poll) == 0 ? 0 : -1;
}

static void
fq_free(struct fq *q)
{
	int i;

	free(q->sql);
	for (i = 0; i < q->n; i++)
		free(q->params[i]);
	free(q);
}

static void
on_retry(uv_timer_t *t)
{
	(void)t;
	fleet_connect();
}

/* The connection is gone: every query waiting is told, and another is
 * tried after a while. */
static void
fleet_down(const char *what, const char *detail)
{
	struct fq *q;
	char *nl;

	if (fl.state == F_OFF)
		return;
	snprintf(fl.err, sizeof(fl.err), "%s%s%s", what, detail ? ": " : "",
	    detail ? detail : "");
	/* libpq's messages end in a newline, some have two lines. */
	while ((nl = strchr(fl.err, '\n')) != NULL)
		*nl = nl[1] != '\0' ? ' ' : '\0';
	if (sd.stopping)
		log_debug("fleet: %s", fl.err);
	else if (fl.state == F_READY || fl.state == F_SETUP ||
	    fl.down_since == 0) {
		log_warnx("fleet: %s; going on alone, results kept for the "
		    "fleet until it is back", fl.err);
		fl.down_since = now_ms();
	} else
		log_debug("fleet: %s", fl.err);
	poll_stop();
	uv_timer_stop(&fl.deadline);
	if (fl.res != NULL) {
		PQclear(fl.res);
		fl.res = NULL;
	}
	if (fl.conn != NULL) {
		PQfinish(fl.conn);
		fl.conn = NULL;
	}
	fl.state = F_DOWN;
	if ((q = fl.cur) != NULL) {
		fl.cur = NULL;
		q->cb(q->arg, NULL, fl.err);
		fq_free(q);
	}
	while ((q = fl.head) != NULL) {
		fl.head = q->next;
		q->cb(q->arg, NULL, fl.err);
		fq_free(q);
	}
	fl.tail = NULL;
	fl.flushing = 0;
	if (sd.stopping)
		return;
	uv_timer_start(&fl.retry, on_retry, (uint64_t)fl.delay_ms, 0);
	fl.delay_ms = fl.delay_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS :
	    fl.delay_ms * 2;
}

static void
on_deadline(uv_timer_t *t)
{
	(void)t;
	fleet_down(fl.state == F_CONNECTING ? "connecting took longer than "
	    "15 s" : "the database did not answer within 30 s", NULL);
}

/* Read what came; the query is done when libpq has no more results. */
static void
query_input(void)
{
	PGresult *r;
	struct fq *q;

	if (PQconsumeInput(fl.conn) == 0) {
		fleet_down("connection", PQerrorMessage(fl.conn));
		return;
	}
	while (!PQisBusy(fl.conn)) {
		if ((r = PQgetResult(fl.conn)) == NULL) {
			/* Done: the last result answers (an error in an
			 * earlier statement stops the rest). */
			q = fl.cur;
			fl.cur = NULL;
			uv_timer_stop(&fl.deadline);
			r = fl.res;
			fl.res = NULL;
			if (q != NULL && q->cb == gate_done)
				rt_add(&fl.rt_gate, now_ms() - q->t0);
			else if (q != NULL && q->cb == flush_done)
				rt_add(&fl.rt_scan, now_ms() - q->t0);
			if (q != NULL) {
				q->cb(q->arg, r, r == NULL ? "no result" :
				    NULL);
				fq_free(q);
			}
			if (r != NULL)
				PQclear(r);
			if (fl.conn != NULL && poll_want(UV_READABLE) == -1)
				fleet_down("cannot watch the connection",
				    NULL);
			else
				fleet_next();
			return;
		}
		/* Keep the first error, else the last result. */
		if (fl.res != NULL && PQresultStatus(fl.res) ==
		    PGRES_FATAL_ERROR)
			PQclear(r);
		else {
			if (fl.res != NULL)
				PQclear(fl.res);
			fl.res = r;
		}
	}
}

static void	setup_done(void *, PGresult *, const char *);
static void	fleet_query(const char *, int, const char *const *, fleet_cb,
		    void *);

static const char schema_sql[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(1397050964);"
    "CREATE SCHEMA IF NOT EXISTS sentinel;"
    "CREATE TABLE IF NOT EXISTS sentinel.schema ("
    " version integer NOT NULL, compat integer NOT NULL);"
    "INSERT INTO sentinel.schema SELECT 0, 0 WHERE NOT EXISTS "
    " (SELECT 1 FROM sentinel.schema);"
    "DO $m$ BEGIN\n"
    "IF (SELECT version FROM sentinel.schema) < 1 THEN\n"
    " CREATE TABLE sentinel.hosts ("
    "  name text PRIMARY KEY,"
    "  version text NOT NULL,"
    "  seen bigint NOT NULL,"		/* ms since the epoch */
    "  backlog bigint NOT NULL DEFAULT 0);\n"
    " CREATE TABLE sentinel.scans ("
    "  host text NOT NULL,"
    "  instance text NOT NULL,"		/* the host's state database */
    "  id bigint NOT NULL,"		/* the scan's id there */
    "  guest_uuid text NOT NULL,"
    "  guest_name text NOT NULL,"
    "  status text NOT NULL,"
    "  queued bigint,"
    "  ended bigint,"
    "  complete boolean NOT NULL,"
    "  detections integer NOT NULL,"
    "  doc jsonb NOT NULL,"		/* as `sentinelctl results --json` */
    "  PRIMARY KEY (host, instance, id));\n"
    " CREATE INDEX scans_guest ON sentinel.scans (guest_uuid, ended);\n"
    " CREATE INDEX scans_name ON sentinel.scans (guest_name, ended);\n"
    " CREATE TABLE sentinel.detections ("
    "  host text NOT NULL, instance text NOT NULL, scan_id bigint NOT NULL,"
    "  n integer NOT NULL,"
    "  signature text NOT NULL,"
    "  engine text,"
    "  display text,"
    "  size bigint,"
    "  PRIMARY KEY (host, instance, scan_id, n),"
    "  FOREIGN KEY (host, instance, scan_id) REFERENCES sentinel.scans"
    "   ON DELETE CASCADE);\n"
    " CREATE INDEX detections_signature ON sentinel.detections "
    "  (signature);\n"
    " CREATE TABLE sentinel.guests ("
    "  uuid text NOT NULL,"
    "  host text NOT NULL,"
    "  name text NOT NULL,"
    "  state text NOT NULL,"
    "  next_due bigint,"
    "  seen bigint NOT NULL,"
    "  PRIMARY KEY (uuid, host));\n"
    /* A scheduled scan of a guest, by one host of the fleet at a time;
     * kept alive by its holder (renew), else it lapses. */
    " CREATE TABLE sentinel.claims ("
    "  uuid text PRIMARY KEY,"
    "  host text NOT NULL, instance text NOT NULL,"
    "  since timestamptz NOT NULL, expires timestamptz NOT NULL);\n"
    /* The fleet's scans at once of a storage: slot n of its cap. */
    " CREATE TABLE sentinel.slots ("
    "  storage text NOT NULL, n integer NOT NULL,"
    "  host text NOT NULL, instance text NOT NULL,"
    "  guest text NOT NULL, guest_name text NOT NULL,"
    "  since timestamptz NOT NULL, expires timestamptz NOT NULL,"
    "  PRIMARY KEY (storage, n));\n"
    /*
     * May host h scan guest g now?  A scheduled scan (sched) is not if
     * the fleet has scanned g since what h knows (known: the end of its
     * last scan of g), or another host's claim on g is alive; then, with
     * a storage st, it needs one of the cap slots of st.  Answers
     * (verdict, who, at): ok; scanned or failed (by who, ended at);
     * claimed (by who, until at); slot (held by who, the first lapses
     * at).  Per guest and per storage one host at a time: advisory
     * locks of the transaction.
     */
    " CREATE FUNCTION sentinel.gate(h text, i text, g text, gname text,"
    "  known bigint, sched boolean, st text, cap integer, lease integer)"
    "  RETURNS TABLE (verdict text, who text, at bigint)"
    "  LANGUAGE plpgsql AS $f$\n"
    " DECLARE s record; c record; got integer;\n"
    " BEGIN\n"
    "  IF sched THEN\n"
    "   PERFORM pg_advisory_xact_lock(hashtext('sentinel.guest.' || g));\n"
    "   SELECT x.ended, x.host, x.complete INTO s FROM sentinel.scans x"
    "    WHERE x.guest_uuid = g AND x.ended IS NOT NULL"
    "    ORDER BY x.ended DESC LIMIT 1;\n"
    "   IF FOUND AND s.ended > known THEN\n"
    "    RETURN QUERY SELECT CASE WHEN s.complete THEN 'scanned'"
    "     ELSE 'failed' END, s.host, s.ended; RETURN;\n"
    "   END IF;\n"
    "   SELECT * INTO c FROM sentinel.claims x WHERE x.uuid = g;\n"
    "   IF FOUND AND c.expires > clock_timestamp() AND"
    "    NOT (c.host = h AND c.instance = i) THEN\n"
    "    RETURN QUERY SELECT 'claimed', c.host,"
    "     (extract(epoch FROM c.expires) * 1000)::bigint; RETURN;\n"
    "   END IF;\n"
    "  END IF;\n"
    "  IF st IS NOT NULL THEN\n"
    "   PERFORM pg_advisory_xact_lock(hashtext('sentinel.storage.' || st));\n"
    "   DELETE FROM sentinel.slots x WHERE x.storage = st AND"
    "    x.expires < clock_timestamp();\n"
    "   IF NOT EXISTS (SELECT 1 FROM sentinel.slots x WHERE x.storage = st"
    "    AND x.host = h AND x.instance = i AND x.guest = g) THEN\n"
    "    INSERT INTO sentinel.slots SELECT st, k, h, i, g, gname,"
    "     clock_timestamp(), clock_timestamp() + make_interval(secs => lease)"
    "     FROM generate_series(0, cap - 1) k WHERE NOT EXISTS"
    "     (SELECT 1 FROM sentinel.slots x WHERE x.storage = st AND x.n = k)"
    "     AND (SELECT count(*) FROM sentinel.slots x WHERE x.storage = st)"
    "     < cap ORDER BY k LIMIT 1;\n"
    "    GET DIAGNOSTICS got = ROW_COUNT;\n"
    "    IF got = 0 THEN\n"
    "     RETURN QUERY SELECT 'slot', string_agg(x.host || ' (' ||"
    "      x.guest_name || ')', ', ' ORDER BY x.n),"
    "      (extract(epoch FROM min(x.expires)) * 1000)::bigint"
    "      FROM sentinel.slots x WHERE x.storage = st; RETURN;\n"
    "    END IF;\n"
    "   END IF;\n"
    "  END IF;\n"
    "  IF sched THEN\n"
    "   INSERT INTO sentinel.claims VALUES (g, h, i, clock_timestamp(),"
    "    clock_timestamp() + make_interval(secs => lease))"
    "    ON CONFLICT (uuid) DO UPDATE SET host = EXCLUDED.host,"
    "    instance = EXCLUDED.instance, since = EXCLUDED.since,"
    "    expires = EXCLUDED.expires;\n"
    "  END IF;\n"
    "  RETURN QUERY SELECT 'ok', h, 0::bigint;\n"
    " END $f$;\n"
    /* The holder keeps its claims and slots of the guests it scans
     * (a JSON array of UUIDs) alive; the rest of its lapse. */
    " CREATE FUNCTION sentinel.renew(h text, i text, g jsonb,"
    "  lease integer) RETURNS void LANGUAGE sql AS $f$"
    "  UPDATE sentinel.slots SET expires = clock_timestamp() +"
    "   make_interval(secs => lease) WHERE host = h AND instance = i AND"
    "   guest IN (SELECT jsonb_array_elements_text(g));"
    "  UPDATE sentinel.claims SET expires = clock_timestamp() +"
    "   make_interval(secs => lease) WHERE host = h AND instance = i AND"
    "   uuid IN (SELECT jsonb_array_elements_text(g)) $f$;\n"
    /* A scan ended: its slot is free. */
    " CREATE FUNCTION sentinel.release(h text, i text, g text)"
    "  RETURNS void LANGUAGE sql AS $f$"
    "  DELETE FROM sentinel.slots WHERE host = h AND instance = i AND"
    "   guest = g $f$;\n"
    /* Clean verdicts, per signature version, the newest kept. */
    " CREATE TABLE sentinel.verdicts ("
    "  id bigserial PRIMARY KEY,"
    "  version text NOT NULL, sha256 bytea NOT NULL,"
    "  classes bigint NOT NULL, host text NOT NULL,"
    "  UNIQUE (version, sha256));\n"
    " CREATE FUNCTION sentinel.put_verdicts(h text, v text, d text,"
    "  keep bigint) RETURNS void LANGUAGE sql AS $f$"
    "  INSERT INTO sentinel.verdicts (version, sha256, classes, host)"
    "  SELECT v, decode(split_part(x, ':', 1), 'hex'),"
    "   split_part(x, ':', 2)::bigint, h"
    "  FROM unnest(string_to_array(d, ',')) AS x"
    "  ON CONFLICT (version, sha256) DO NOTHING;"
    "  DELETE FROM sentinel.verdicts WHERE id <="
    "   (SELECT max(id) FROM sentinel.verdicts) - keep $f$;\n"
    /* [state] keep_scans and keep_per_guest, fleet-wide: a host
     * removes its own scans that ended before cutoff, less each guest's
     * newest keep_n and newest complete one among every host's. */
    " CREATE FUNCTION sentinel.prune(h text, i text, cutoff bigint,"
    "  keep_n integer) RETURNS bigint LANGUAGE sql AS $f$"
    "  WITH x AS (SELECT host, instance, id, ended, row_number() OVER w AS rn,"
    "   max(ended) FILTER (WHERE complete) OVER (PARTITION BY guest_uuid)"
    "   AS last_ok FROM sentinel.scans"
    "   WHERE guest_uuid IN (SELECT guest_uuid FROM sentinel.scans"
    "    WHERE host = h AND instance = i AND ended < cutoff)"
    "   WINDOW w AS (PARTITION BY guest_uuid ORDER BY ended DESC NULLS FIRST)),"
    "  d AS (DELETE FROM sentinel.scans s USING x WHERE s.host = h AND"
    "   s.instance = i AND x.host = s.host AND x.instance = s.instance AND"
    "   x.id = s.id AND x.ended < cutoff AND x.rn > keep_n AND"
    "   x.ended IS DISTINCT FROM x.last_ok RETURNING 1)"
    "  SELECT count(*) FROM d $f$;\n"
    " CREATE FUNCTION sentinel.put_scan(h text, i text, d jsonb)"
    "  RETURNS void LANGUAGE sql AS $f$"
    "  INSERT INTO sentinel.scans AS s (host, instance, id, guest_uuid,"
    "   guest_name, status, queued, ended, complete, detections, doc)"
    "  VALUES (h, i, (d->>'id')::bigint, d->>'uuid', d->>'guest',"
    "   d->>'status', (d->>'queued')::bigint, (d->>'ended')::bigint,"
    "   coalesce((d->>'complete')::boolean, false),"
    "   coalesce((d->>'detection_count')::integer, 0), d)"
    "  ON CONFLICT (host, instance, id) DO UPDATE SET"
    "   guest_uuid = EXCLUDED.guest_uuid, guest_name = EXCLUDED.guest_name,"
    "   status = EXCLUDED.status, queued = EXCLUDED.queued,"
    "   ended = EXCLUDED.ended, complete = EXCLUDED.complete,"
    "   detections = EXCLUDED.detections, doc = EXCLUDED.doc;"
    "  INSERT INTO sentinel.detections (host, instance, scan_id, n,"
    "   signature, engine, display, size)"
    "  SELECT h, i, (d->>'id')::bigint, e.n::integer - 1,"
    "   e.x->>'signature', e.x->>'engine',"
    "   coalesce(e.x->>'display', e.x->>'path'), (e.x->>'size')::bigint"
    "  FROM jsonb_array_elements(coalesce(d->'detections', '[]'))"
    "   WITH ORDINALITY AS e(x, n)"
    "  ON CONFLICT DO NOTHING;"
    /* The scan is in: the claim on its guest has done its work. */
    "  DELETE FROM sentinel.claims WHERE uuid = d->>'uuid' AND host = h"
    "   AND instance = i $f$;\n"
    " CREATE FUNCTION sentinel.put_guests(h text, v text, now bigint,"
    "  backlog bigint, d jsonb) RETURNS void LANGUAGE sql AS $f$"
    "  INSERT INTO sentinel.hosts (name, version, seen, backlog)"
    "  VALUES (h, v, now, backlog) ON CONFLICT (name) DO UPDATE SET"
    "   version = EXCLUDED.version, seen = EXCLUDED.seen,"
    "   backlog = EXCLUDED.backlog;"
    "  DELETE FROM sentinel.guests WHERE host = h AND uuid NOT IN"
    "   (SELECT x->>'uuid' FROM jsonb_array_elements(d) AS x);"
    "  INSERT INTO sentinel.guests (uuid, host, name, state, next_due, seen)"
    "  SELECT x->>'uuid', h, x->>'name', x->>'state',"
    "   (x->>'next_due')::bigint, now FROM jsonb_array_elements(d) AS x"
    "  ON CONFLICT (uuid, host) DO UPDATE SET name = EXCLUDED.name,"
    "   state = EXCLUDED.state, next_due = EXCLUDED.next_due,"
    "   seen = EXCLUDED.seen $f$;\n"
    " UPDATE sentinel.schema SET version = 1, compat = 1;\n"
    "END IF;\n"
    "END $m$;"
    "COMMIT;"
    "SELECT version, compat FROM sentinel.schema;";

static void
fleet_connected(void)
{
	fl.state = F_SETUP;
	uv_timer_stop(&fl.deadline);
	if (poll_want(UV_READABLE) == -1) {
		fleet_down("cannot watch the connection", NULL);
		return;
	}
	fleet_query(schema_sql, 0, NULL, setup_done, NULL);
}

static void
connect_poll(void)
{
	/* Each step may have closed the socket and opened another, under
	 * the same number: watched anew each time. */
	poll_stop();
	switch (PQconnectPoll(fl.conn)) {
	case PGRES_POLLING_READING:
		if (poll_want(UV_READABLE) == -1)
			fleet_down("cannot watch the connection", NULL);
		break;
	case PGRES_POLLING_WRITING:
		if (poll_want(UV_WRITABLE) == -1)
			fleet_down("cannot watch the connection", NULL);
		break;
	case PGRES_POLLING_OK:
		fleet_connected();
		break;
	default:
		fleet_down("cannot connect", PQerrorMessage(fl.conn));
		break;
	}
}

static void
on_poll(uv_poll_t *p, int status, int events)
{
	int r;

	(void)p;
	if (fl.conn == NULL)
		return;
	if (fl.state == F_CONNECTING) {
		connect_poll();
		return;
	}
	if (status < 0) {
		fleet_down("connection", uv_strerror(status));
		return;
	}
	if (events & UV_WRITABLE) {
		if ((r = PQflush(fl.conn)) == -1) {
			fleet_down("connection", PQerrorMessage(fl.conn));
			return;
		}
		if (r == 0 && poll_want(UV_READABLE) == -1) {
			fleet_down("cannot watch the connection", NULL);
			return;
		}
	}
	if (events & UV_READABLE) {
		if (fl.cur != NULL)
			query_input();
		else if (PQconsumeInput(fl.conn) == 0 ||
		    PQstatus(fl.conn) == CONNECTION_BAD)
			/* Nothing asked: the server closed it. */
			fleet_down("connection", PQerrorMessage(fl.conn));
		else {
			PGnotify *n;

			while ((n = PQnotifies(fl.conn)) != NULL)
				PQfreemem(n);
		}
	}
}

static void
fleet_connect(void)
{
	/* Ours first: the connection string's own words win. */
	const char *keys[] = { "connect_timeout", "keepalives",
	    "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "application_name", "dbname", NULL };
	char app[64];
	const char *vals[8];

	if (fl.state == F_OFF || sd.stopping)
		return;
	snprintf(app, sizeof(app), "sentineld %s", SENTINEL_VERSION);
	vals[0] = "10";
	vals[1] = "1";
	vals[2] = "10";
	vals[3] = "5";
	vals[4] = "3";
	vals[5] = app;
	vals[6] = conninfo();
	vals[7] = NULL;
	fl.state = F_CONNECTING;
	fl.conn = PQconnectStartParams(keys, vals, 1);
	if (fl.conn == NULL) {
		fleet_down("cannot connect: out of memory", NULL);
		return;
	}
	if (PQstatus(fl.conn) == CONNECTION_BAD) {
		fleet_down("cannot connect", PQerrorMessage(fl.conn));
		return;
	}
	if (PQsetnonblocking(fl.conn, 1) == -1) {
		fleet_down("connection", PQerrorMessage(fl.conn));
		return;
	}
	uv_timer_start(&fl.deadline, on_deadline, CONNECT_MS, 0);
	if (poll_want(UV_WRITABLE) == -1)
		fleet_down("cannot watch the connection", NULL);
}

/* Send the next query waiting, if the connection is free. */
static void
fleet_next(void)
{
	struct fq *q;
	int r;

	if (fl.cur != NULL || (q = fl.head) == NULL || fl.conn == NULL ||
	    (fl.state != F_READY && fl.state != F_SETUP))
		return;
	fl.head = q->next;
	if (fl.head == NULL)
		fl.tail = NULL;
	fl.cur = q;
	r = q->n == 0 ? PQsendQuery(fl.conn, q->sql) :
	    PQsendQueryParams(fl.conn, q->sql, q->n, NULL,
	    (const char *const *)q->params, NULL, NULL, 0);
	if (r == 0) {
		fleet_down("connection", PQerrorMessage(fl.conn));
		return;
	}
	uv_timer_start(&fl.deadline, on_deadline, QUERY_MS, 0);
	if ((r = PQflush(fl.conn)) == -1)
		fleet_down("connection", PQerrorMessage(fl.conn));
	else if (poll_want(r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE)
	    == -1)
		fleet_down("cannot watch the connection", NULL);
}

/* Queue SQL with N text PARAMS (N 0: a simple query, statements may be
 * several); CB is told its result.  When the fleet is not connected CB
 * is told at once. */
static void
fleet_query(const char *sql, int n, const char *const *params, fleet_cb cb,
    void *arg)
{
	struct fq *q;
	int i;

	if (fl.state != F_READY && !(fl.state == F_SETUP && sql == schema_sql)) {
		cb(arg, NULL, fl.state == F_OFF ? "no [fleet] database is set" :
		    fl.err[0] ? fl.err : "not connected yet");
		return;
	}
	if (n > FQ_PARAMS) {
		cb(arg, NULL, "too many parameters");
		return;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL || (q->sql = strdup(sql)) ==
	    NULL)
		goto nomem;
	for (i = 0; i < n; i++, q->n++)
		if (params[i] != NULL && (q->params[i] = strdup(params[i])) ==
		    NULL)
			goto nomem;
	q->cb = cb;
	q->arg = arg;
	q->t0 = now_ms();
	if (fl.tail != NULL)
		fl.tail->next = q;
	else
		fl.head = q;
	fl.tail = q;
	fleet_next();
	return;
nomem:
	if (q != NULL)
		fq_free(q);
	cb(arg, NULL, "out of memory");
}

static void	fleet_flush(void);
static void	send_guests(void);

static void
setup_done(void *arg, PGresult *r, const char *err)
{
	int version, compat;

	(void)arg;
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK ||
	    PQntuples(r) != 1) {
		/* A failure in the middle leaves the transaction open:
		 * the connection goes with it. */
		fleet_down("cannot set up the fleet's schema", r != NULL ?
		    PQresultErrorMessage(r) : err);
		return;
	}
	version = atoi(PQgetvalue(r, 0, 0));
	compat = atoi(PQgetvalue(r, 0, 1));
	if (compat > FLEET_SCHEMA) {
		char why[128];

		snprintf(why, sizeof(why), "the fleet's schema is version %d, "
		    "which sentineld %s cannot write (it writes %d)",
		    version, SENTINEL_VERSION, FLEET_SCHEMA);
		fleet_down(why, NULL);
		return;
	}
	fl.schema = version;
	fl.state = F_READY;
	fl.ever_ready = 1;
	fl.delay_ms = RETRY_MIN_MS;
	if (fl.down_since != 0)
		log_info("fleet: connected to the fleet's database again after "
		    "%lld s, schema %d; %lld scan%s to send",
		    (long long)((now_ms() - fl.down_since) / 1000), version,
		    (long long)store_fleet_backlog(),
		    store_fleet_backlog() == 1 ? "" : "s");
	else
		log_info("fleet: host %s connected to the fleet's database, "
		    "schema %d", fl.host, version);
	fl.down_since = 0;
	fl.err[0] = '\0';
	fl.last_guests = 0;
	send_guests();
	fleet_flush();
}

/* The outbox, a batch at a time, one scan per query; fl.flushing
 * counts the batch's queries not answered yet. */
struct flush_one {
	int64_t		 id;
};

static void
flush_done(void *arg, PGresult *r, const char *err)
{
	struct flush_one *f = arg;

	if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK) {
		fl.sent++;
		fl.batch_ok++;
		if (store_fleet_sent(f->id) == -1)
			log_warnx("fleet: scan %lld sent, but the local state "
			    "cannot note it; it is sent again (it counts "
			    "once)", (long long)f->id);
	} else if (r != NULL) {
		/* The database refused this scan: it stays in the outbox
		 * and is tried again at the next tick. */
		fl.failed++;
		log_warnx("fleet: the database refused scan %lld: %s",
		    (long long)f->id, PQresultErrorMessage(r));
	} else
		(void)err;	/* fleet_down said it */
	free(f);
	if (fl.flushing > 0)
		fl.flushing--;
	/* The batch ended, more to send: at once, unless nothing of this
	 * batch went (then at the next tick, not in a loop). */
	if (fl.flushing == 0 && r != NULL && fl.batch_ok > 0)
		fleet_flush();
}

static void
fleet_flush(void)
{
	int64_t ids[FLUSH_BATCH];
	struct flush_one *f;
	const char *p[3];
	json_t *doc;
	char *text;
	size_t n, i;

	if (fl.state != F_READY || fl.flushing > 0)
		return;
	if ((n = store_fleet_pending(ids, FLUSH_BATCH)) == 0)
		return;
	fl.batch_ok = 0;
	for (i = 0; i < n && fl.state == F_READY; i++) {
		if ((doc = store_scan_by_id(ids[i], STORE_DETECTIONS |
		    STORE_SKIPPED, NULL)) == NULL) {
			/* Gone from the local state (it cannot be, while
			 * in the outbox; a hand-edited state). */
			log_warnx("fleet: scan %lld is no longer in the local "
			    "state; not sent", (long long)ids[i]);
			store_fleet_sent(ids[i]);
			continue;
		}
		text = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		if (text == NULL || (f = calloc(1, sizeof(*f))) == NULL) {
			free(text);
			break;		/* the rest at the next tick */
		}
		f->id = ids[i];
		p[0] = fl.host;
		p[1] = fl.instance;
		p[2] = text;
		/* Counted before: an answer may come at once. */
		fl.flushing++;
		fleet_query("SELECT sentinel.put_scan($1, $2, $3::jsonb)", 3, p,
		    flush_done, f);
		free(text);
	}
}

/* Numbers from the database: digits, an optional sign, in range. */
static int
db_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (*s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || errno == ERANGE)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* The fleet's last scans of this host's guests: a guest that comes from
 * another host (migrated, or defined on several) keeps its due time. */
static void
history_done(void *arg, PGresult *r, const char *err)
{
	int64_t ok, fail;
	int i;

	(void)arg;
	(void)err;
	if (r == NULL)
		return;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 3) {
		log_warnx("fleet: cannot read the fleet's history of this "
		    "host's guests: %s", PQresultErrorMessage(r));
		return;
	}
	for (i = 0; i < PQntuples(r); i++) {
		if (PQgetlength(r, i, 0) >= UUID_BUF)
			continue;
		if (!PQgetisnull(r, i, 1) && db_int64(PQgetvalue(r, i, 1),
		    &ok) == 0)
			schedule_fleet_history(PQgetvalue(r, i, 0), ok, 1);
		if (!PQgetisnull(r, i, 2) && db_int64(PQgetvalue(r, i, 2),
		    &fail) == 0)
			schedule_fleet_history(PQgetvalue(r, i, 0), fail, 0);
	}
}

static void
history_sync(const char *uuids)
{
	const char *p[1];

	p[0] = uuids;
	fleet_query("SELECT guest_uuid, max(ended) FILTER (WHERE complete), "
	    "max(ended) FILTER (WHERE NOT complete) FROM sentinel.scans WHERE "
	    "guest_uuid IN (SELECT jsonb_array_elements_text($1::jsonb)) AND "
	    "ended IS NOT NULL GROUP BY guest_uuid", 1, p, history_done, NULL);
}

/* This host's guests and when each is due: the fleet's list, and the
 * host's heartbeat. */
static void
guests_done(void *arg, PGresult *r, const char *err)
{
	(void)arg;
	(void)err;
	if (r != NULL && PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("fleet: the database refused this host's guests: %s",
		    PQresultErrorMessage(r));
}

static void
send_guests(void)
{
	const struct guest *g;
	json_t *a = json_array(), *due, *uuids;
	const char *p[5];
	char now[24], backlog[24], *text;
	size_t i;

	if (fl.state != F_READY || a == NULL) {
		json_decref(a);
		return;
	}
	fl.last_guests = now_ms();
	if ((uuids = json_array()) == NULL) {
		json_decref(a);
		return;
	}
	for (i = 0; i < inventory_count(); i++) {
		g = inventory_at(i);
		json_array_append_new(uuids, json_string(g->uuid));
		due = schedule_next_due_json(g->uuid);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o}",
		    "uuid", g->uuid, "name", g->name, "state", g->state,
		    "next_due", due != NULL ? due : json_null()));
	}
	text = json_dumps(uuids, JSON_COMPACT);
	json_decref(uuids);
	if (text != NULL)
		history_sync(text);
	free(text);
	text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (text == NULL || fl.state != F_READY) {
		free(text);
		return;
	}
	snprintf(now, sizeof(now), "%lld", (long long)fl.last_guests);
	snprintf(backlog, sizeof(backlog), "%lld",
	    (long long)store_fleet_backlog());
	p[0] = fl.host;
	p[1] = SENTINEL_VERSION;
	p[2] = now;
	p[3] = backlog;
	p[4] = text;
	fleet_query("SELECT sentinel.put_guests($1, $2, $3::bigint, "
	    "$4::bigint, $5::jsonb)", 5, p, guests_done, NULL);
	free(text);
}

/*
 * Clean verdicts, shared: what this host found clean goes to the fleet
 * (VERDICTS_BATCH a query), and what the others found comes into the
 * verdict cache, newest first kept, in front of every scan.
 */
#define VERDICTS_BATCH	4096

static void
verdicts_put_done(void *arg, PGresult *r, const char *err)
{
	(void)arg;
	(void)err;
	if (r != NULL && PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("fleet: the database refused clean verdicts: %s",
		    PQresultErrorMessage(r));
}

/* Lower-case hex, as the database's encode() writes it. */
static void
hex_put(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
}

static int
hex_get(const char *s, unsigned char *b, size_t n)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		hi = s[2 * i] >= '0' && s[2 * i] <= '9' ? s[2 * i] - '0' :
		    s[2 * i] >= 'a' && s[2 * i] <= 'f' ? s[2 * i] - 'a' + 10 : -1;
		lo = s[2 * i + 1] >= '0' && s[2 * i + 1] <= '9' ?
		    s[2 * i + 1] - '0' : s[2 * i + 1] >= 'a' &&
		    s[2 * i + 1] <= 'f' ? s[2 * i + 1] - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static void
verdicts_push(void)
{
	unsigned char *h;
	uint32_t *c;
	char version[64], keep[24], *text, *t;
	const char *p[4];
	size_t n, i, j, end;

	if (fl.state != F_READY || sd.conf.fleet_verdicts == 0 ||
	    (n = vcache_take_fresh(&h, &c, version, sizeof(version))) == 0)
		return;
	snprintf(keep, sizeof(keep), "%lld", sd.conf.fleet_verdicts);
	for (i = 0; i < n; i = end) {
		end = n - i < VERDICTS_BATCH ? n : i + VERDICTS_BATCH;
		/* "HEX:CLASSES," each: 64 + 1 + at most 10 + 1. */
		if ((text = malloc((end - i) * (2 * VERDICT_HASH_LEN + 12) + 1))
		    == NULL)
			break;
		for (t = text, j = i; j < end; j++) {
			hex_put(h + j * VERDICT_HASH_LEN, VERDICT_HASH_LEN, t);
			t += 2 * VERDICT_HASH_LEN;
			t += sprintf(t, ":%u,", c[j]);
		}
		t[-1] = '\0';
		p[0] = fl.host;
		p[1] = version;
		p[2] = text;
		p[3] = keep;
		fleet_query("SELECT sentinel.put_verdicts($1, $2, $3, "
		    "$4::bigint)", 4, p, verdicts_put_done, NULL);
		free(text);
		fl.verdicts_out += end - i;
	}
	free(h);
	free(c);
}

static void	verdicts_pull(void);

static void
verdicts_got(void *arg, PGresult *r, const char *err)
{
	unsigned char h[VERDICT_HASH_LEN];
	int64_t id, classes, last = fl.pulled_id;
	char *version = arg;
	int i, n, added = 0;

	(void)err;
	fl.pulling = 0;
	if (r == NULL || strcmp(version, fl.pulled_version) != 0) {
		free(version);
		return;
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 3) {
		log_warnx("fleet: cannot read the fleet's clean verdicts: %s",
		    PQresultErrorMessage(r));
		free(version);
		return;
	}
	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		/* Other hosts' words: each checked before it counts. */
		if (db_int64(PQgetvalue(r, i, 0), &id) == -1 ||
		    db_int64(PQgetvalue(r, i, 2), &classes) == -1 ||
		    classes < 0 || classes > UINT32_MAX ||
		    PQgetlength(r, i, 1) != 2 * VERDICT_HASH_LEN ||
		    hex_get(PQgetvalue(r, i, 1), h, sizeof(h)) != 0)
			continue;
		if (id > last)
			last = id;
		added += vcache_add_shared(version, h, (uint32_t)classes);
	}
	fl.pulled_id = last;
	fl.verdicts_in += (uint64_t)added;
	if (added > 0)
		log_debug("fleet: %d clean verdicts from other hosts", added);
	free(version);
	/* A full batch: more wait. */
	if (n == VERDICTS_BATCH)
		verdicts_pull();
}

static void
verdicts_pull(void)
{
	const char *v = vcache_version();
	char from[24], keep[24], *version;
	const char *p[4];

	if (fl.state != F_READY || fl.pulling || v == NULL ||
	    sd.conf.fleet_verdicts == 0 || sd.conf.verdict_cache == 0)
		return;
	if (strcmp(v, fl.pulled_version) != 0) {
		snprintf(fl.pulled_version, sizeof(fl.pulled_version), "%s", v);
		fl.pulled_id = 0;
	}
	if ((version = strdup(v)) == NULL)
		return;
	snprintf(from, sizeof(from), "%lld", (long long)fl.pulled_id);
	/* No more than the cache holds: the newest. */
	snprintf(keep, sizeof(keep), "%lld", sd.conf.verdict_cache);
	p[0] = version;
	p[1] = from;
	p[2] = fl.host;
	p[3] = keep;
	fl.pulling = 1;
	fleet_query("SELECT id, encode(sha256, 'hex'), classes FROM "
	    "sentinel.verdicts WHERE version = $1 AND id > greatest($2::bigint, "
	    "(SELECT max(id) FROM sentinel.verdicts) - $4::bigint) AND host <> $3 "
	    "ORDER BY id LIMIT 4096", 4, p, verdicts_got, version);
}

#define PRUNE_MS	3600000

static void
prune_done(void *arg, PGresult *r, const char *err)
{
	(void)arg;
	(void)err;
	if (r == NULL)
		return;
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("fleet: cannot remove this host's old scans from the "
		    "fleet's database: %s", PQresultErrorMessage(r));
	else if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "0") != 0)
		log_info("fleet: retention: %s of this host's scans removed "
		    "from the fleet's database", PQgetvalue(r, 0, 0));
}

/* Hourly, as the local retention: this host's own scans, by the same
 * rules, the fleet's newest of each guest kept. */
static void
prune(void)
{
	char cutoff[24], keep[24];
	const char *p[4];

	if (sd.conf.keep_scans == 0 || now_ms() - fl.last_prune < PRUNE_MS)
		return;
	fl.last_prune = now_ms();
	snprintf(cutoff, sizeof(cutoff), "%lld", (long long)(now_ms() -
	    (int64_t)sd.conf.keep_scans * 1000));
	snprintf(keep, sizeof(keep), "%lld", sd.conf.keep_per_guest);
	p[0] = fl.host;
	p[1] = fl.instance;
	p[2] = cutoff;
	p[3] = keep;
	fleet_query("SELECT sentinel.prune($1, $2, $3::bigint, $4::integer)",
	    4, p, prune_done, NULL);
}

static void
on_tick(uv_timer_t *t)
{
	(void)t;
	if (fl.state != F_READY)
		return;
	if (now_ms() - fl.last_guests >= GUESTS_MS)
		send_guests();
	fleet_flush();
	verdicts_push();
	verdicts_pull();
	prune();
}

/* A scan was written: send it now rather than at the next tick. */
void
fleet_kick(void)
{
	if (fl.state == F_READY) {
		fleet_flush();
		verdicts_push();
	}
}

int
fleet_init(char *err, size_t errlen)
{
	char name[256];

	fl.sock = -1;
	fl.state = F_OFF;
	if (*conninfo() == '\0') {
		store_fleet_enable(0);
		if (store_fleet_backlog() > 0) {
			log_warnx("fleet: no [fleet] database: %lld scan%s "
			    "kept for the fleet are not sent",
			    (long long)store_fleet_backlog(),
			    store_fleet_backlog() == 1 ? "" : "s");
		}
		return 0;
	}
	if (*sd.conf.fleet_host != '\0')
		snprintf(fl.host, sizeof(fl.host), "%s", sd.conf.fleet_host);
	else if (gethostname(name, sizeof(name)) == 0) {
		name[sizeof(name) - 1] = '\0';
		snprintf(fl.host, sizeof(fl.host), "%s", name);
	} else {
		snprintf(err, errlen, "[fleet] host is not set and the "
		    "hostname cannot be read");
		return -1;
	}
	if (store_fleet_instance(fl.instance, sizeof(fl.instance)) == -1) {
		snprintf(err, errlen, "fleet: the local state cannot keep its "
		    "instance id");
		return -1;
	}
	store_fleet_enable(1);
	vcache_share(sd.conf.fleet_verdicts > 0);
	fl.init_ms = now_ms();
	fl.delay_ms = RETRY_MIN_MS;
	uv_timer_init(sd.loop, &fl.retry);
	uv_timer_init(sd.loop, &fl.deadline);
	uv_timer_init(sd.loop, &fl.tick);
	uv_timer_start(&fl.tick, on_tick, TICK_MS, TICK_MS);
	fl.state = F_DOWN;
	log_info("fleet: host %s, state instance %s; backlog %lld scan%s",
	    fl.host, fl.instance, (long long)store_fleet_backlog(),
	    store_fleet_backlog() == 1 ? "" : "s");
	fleet_connect();
	return 0;
}

void
fleet_close(void)
{
	if (fl.state == F_OFF)
		return;
	fleet_down("sentineld is stopping", NULL);
	fl.state = F_OFF;
	while (held != NULL) {
		struct held *h = held;

		held = h->next;
		free(h);
	}
	if (renew_on) {
		uv_timer_stop(&renew_timer);
		uv_close((uv_handle_t *)&renew_timer, NULL);
		renew_on = 0;
	}
	uv_timer_stop(&fl.retry);
	uv_timer_stop(&fl.tick);
	uv_close((uv_handle_t *)&fl.retry, NULL);
	uv_close((uv_handle_t *)&fl.deadline, NULL);
	uv_close((uv_handle_t *)&fl.tick, NULL);
}

/* For `status`: the fleet's state in a few words. */
json_t *
fleet_status_json(void)
{
	static const char *names[] = { "off", "down", "connecting", "setup",
	    "connected" };
	json_t *o;

	if (fl.state == F_OFF)
		return json_null();
	o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "host", fl.host, "state",
	    names[fl.state], "backlog", (json_int_t)store_fleet_backlog(),
	    "sent", (json_int_t)fl.sent, "refused", (json_int_t)fl.failed);
	if (o != NULL && fl.state != F_READY && fl.err[0])
		json_object_set_new(o, "error", json_string(fl.err));
	if (o != NULL && fl.down_since != 0)
		json_object_set_new(o, "down_since",
		    json_integer(fl.down_since));
	if (o != NULL && fl.state == F_READY)
		json_object_set_new(o, "schema", json_integer(fl.schema));
	if (o != NULL)
		json_object_set_new(o, "verdicts", json_pack("{s:I, s:I}",
		    "sent", (json_int_t)fl.verdicts_out, "received",
		    (json_int_t)fl.verdicts_in));
	/* What the fleet adds to a scan: the median round trip (queued to
	 * answered) of the question before it starts, and of its result. */
	if (o != NULL)
		json_object_set_new(o, "round_trip_ms", json_pack("{s:I, s:I}",
		    "gate", (json_int_t)rt_median(&fl.rt_gate), "scan",
		    (json_int_t)rt_median(&fl.rt_scan)));
	return o;
}

/*
 * Queries for `sentinelctl fleet` and `history --fleet`: the database
 * builds the JSON, one value; it is parsed here with a bound on its size
 * and handed to FN (NULL and a reason on failure).
 */
struct fleet_req {
	void		(*fn)(void *, json_t *, const char *);
	void		*arg;
};

static void
json_done(void *arg, PGresult *r, const char *err)
{
	struct fleet_req *q = arg;
	json_error_t je;
	json_t *v = NULL;
	char why[600];

	if (r == NULL)
		snprintf(why, sizeof(why), "the fleet's database: %s", err);
	else if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
	    PQnfields(r) != 1)
		snprintf(why, sizeof(why), "the fleet's database: %s",
		    PQresultErrorMessage(r));
	else if (PQgetlength(r, 0, 0) > REPLY_MAX)
		snprintf(why, sizeof(why), "the fleet's answer is larger than "
		    "%d bytes", REPLY_MAX);
	else if ((v = json_loadb(PQgetvalue(r, 0, 0),
	    (size_t)PQgetlength(r, 0, 0), 0, &je)) == NULL)
		snprintf(why, sizeof(why), "the fleet's answer is not JSON: "
		    "%s", je.text);
	q->fn(q->arg, v, v != NULL ? NULL : why);
	json_decref(v);
	free(q);
}

static void
json_query(const char *sql, int n, const char *const *p,
    void (*fn)(void *, json_t *, const char *), void *arg)
{
	struct fleet_req *q;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		fn(arg, NULL, "out of memory");
		return;
	}
	q->fn = fn;
	q->arg = arg;
	fleet_query(sql, n, p, json_done, q);
}

/* Every guest of the fleet: one row per host that sees it, with the
 * fleet's last scan of it. */
void
fleet_guests(void (*fn)(void *, json_t *, const char *), void *arg)
{
	json_query("SELECT jsonb_build_object('guests', coalesce(jsonb_agg("
	    "jsonb_build_object('uuid', g.uuid, 'name', g.name, 'host', "
	    "g.host, 'state', g.state, 'next_due', g.next_due, 'seen', g.seen,"
	    " 'last_scan', l.o) ORDER BY g.name, g.uuid, g.host), '[]'), "
	    "'hosts', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', "
	    "name, 'version', version, 'seen', seen, 'backlog', backlog) "
	    "ORDER BY name), '[]') FROM sentinel.hosts))::text "
	    "FROM (SELECT * FROM sentinel.guests ORDER BY name, uuid, host "
	    "LIMIT 10000) g LEFT JOIN LATERAL (SELECT jsonb_build_object("
	    "'host', s.host, 'id', s.id, 'status', s.status, 'ended', s.ended,"
	    " 'complete', s.complete, 'detection_count', s.detections) AS o "
	    "FROM sentinel.scans s WHERE s.guest_uuid = g.uuid AND s.ended IS "
	    "NOT NULL ORDER BY s.ended DESC LIMIT 1) l ON true", 0, NULL, fn,
	    arg);
}

/* The fleet's scans of a guest (by UUID or name), newest first. */
void
fleet_history(const char *guest, long long limit,
    void (*fn)(void *, json_t *, const char *), void *arg)
{
	char lim[24];
	const char *p[2];

	snprintf(lim, sizeof(lim), "%lld", limit);
	p[0] = guest;
	p[1] = lim;
	json_query("SELECT jsonb_build_object('scans', coalesce(jsonb_agg("
	    "s.doc || jsonb_build_object('host', s.host) ORDER BY s.ended DESC "
	    "NULLS FIRST, s.queued DESC), '[]'))::text FROM (SELECT * FROM "
	    "sentinel.scans WHERE $1 = '' OR guest_uuid = $1 OR guest_name = $1 "
	    "ORDER BY ended DESC NULLS FIRST, queued DESC LIMIT $2::bigint) s",
	    2, p, fn, arg);
}

/*
 * The fleet's say before a scan starts (fleet_gate): the claim on a
 * scheduled guest, and a slot of its storage's fleet-wide cap.  What the
 * host holds it renews every third of [fleet] lease while it scans, and
 * gives back at the scan's end (fleet_release; the claim goes with the
 * scan's row, put_scan).
 */
int
fleet_ready(void)
{
	return fl.state == F_READY;
}

/* Just started, the fleet's database not reached yet: scheduled scans
 * wait for it a while (FLEET_START_MS), so that a host that starts
 * does not scan what another host scanned an hour ago. */
int
fleet_starting(void)
{
	return fl.state != F_OFF && fl.state != F_READY && !fl.ever_ready &&
	    now_ms() - fl.init_ms < FLEET_START_MS;
}

static void
renew_done(void *arg, PGresult *r, const char *err)
{
	(void)arg;
	(void)err;
	if (r != NULL && PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("fleet: cannot renew this host's claims and slots: "
		    "%s", PQresultErrorMessage(r));
}

static void
on_renew(uv_timer_t *t)
{
	const struct held *h;
	json_t *a;
	const char *p[4];
	char lease[24], *text;

	(void)t;
	if (fl.state != F_READY || held == NULL || (a = json_array()) == NULL)
		return;
	for (h = held; h != NULL; h = h->next)
		json_array_append_new(a, json_string(h->uuid));
	text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (text == NULL)
		return;
	snprintf(lease, sizeof(lease), "%llu",
	    (unsigned long long)sd.conf.fleet_lease);
	p[0] = fl.host;
	p[1] = fl.instance;
	p[2] = text;
	p[3] = lease;
	fleet_query("SELECT sentinel.renew($1, $2, $3::jsonb, $4::integer)", 4,
	    p, renew_done, NULL);
	free(text);
}

static void
hold(const char *uuid)
{
	struct held *h;
	uint64_t every = sd.conf.fleet_lease * 1000 / 3;

	for (h = held; h != NULL; h = h->next)
		if (strcmp(h->uuid, uuid) == 0)
			return;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return;		/* not renewed: it lapses, as a dead host's */
	snprintf(h->uuid, sizeof(h->uuid), "%s", uuid);
	h->next = held;
	held = h;
	if (!renew_on) {
		uv_timer_init(sd.loop, &renew_timer);
		renew_on = 1;
	}
	if (!uv_is_active((uv_handle_t *)&renew_timer))
		uv_timer_start(&renew_timer, on_renew, every, every);
}

static void
release_done(void *arg, PGresult *r, const char *err)
{
	(void)arg;
	(void)err;
	if (r != NULL && PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("fleet: cannot give a slot back (it lapses after "
		    "[fleet] lease): %s", PQresultErrorMessage(r));
}

/* A scan of UUID ended: the slot it held is free. */
void
fleet_release(const char *uuid)
{
	struct held **hp, *h;
	const char *p[3];

	for (hp = &held; (h = *hp) != NULL; hp = &h->next)
		if (strcmp(h->uuid, uuid) == 0)
			break;
	if (h == NULL)
		return;
	*hp = h->next;
	free(h);
	if (held == NULL && renew_on)
		uv_timer_stop(&renew_timer);
	if (fl.state != F_READY)
		return;		/* it lapses */
	p[0] = fl.host;
	p[1] = fl.instance;
	p[2] = uuid;
	fleet_query("SELECT sentinel.release($1, $2, $3)", 3, p, release_done,
	    NULL);
}

struct gate {
	char		 uuid[UUID_BUF];
	fleet_gate_fn	 fn;
	void		*arg;
};

static void
gate_done(void *arg, PGresult *r, const char *err)
{
	static const char *verdicts[] = { "ok", "scanned", "failed",
	    "claimed", "slot" };
	struct gate *g = arg;
	char who[256] = "";
	int64_t at = 0;
	size_t i;

	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK ||
	    PQntuples(r) != 1 || PQnfields(r) != 3) {
		/* Down, or it failed: this host goes on alone. */
		log_warnx("fleet: no answer on %s: %s; scanning under this "
		    "host's own caps", g->uuid, r != NULL ?
		    PQresultErrorMessage(r) : err);
		g->fn(g->arg, FLEET_ALONE, NULL, 0);
		free(g);
		return;
	}
	for (i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		if (strcmp(PQgetvalue(r, 0, 0), verdicts[i]) == 0)
			break;
	if (i == sizeof(verdicts) / sizeof(verdicts[0]) ||
	    (!PQgetisnull(r, 0, 2) && db_int64(PQgetvalue(r, 0, 2), &at) ==
	    -1)) {
		log_warnx("fleet: an answer not understood on %s; scanning "
		    "under this host's own caps", g->uuid);
		g->fn(g->arg, FLEET_ALONE, NULL, 0);
		free(g);
		return;
	}
	if (!PQgetisnull(r, 0, 1))
		snprintf(who, sizeof(who), "%s", PQgetvalue(r, 0, 1));
	if (i == FLEET_OK)
		hold(g->uuid);
	g->fn(g->arg, (int)i, who, at);
	free(g);
}

/*
 * May this host scan guest UUID (NAME) now?  SCHED: a scheduled scan
 * (claimed fleet-wide, refused if the fleet scanned it after KNOWN);
 * ST: the fleet storage its disks are on, or NULL.  FN is told the
 * verdict (FLEET_*), who it names and when; FLEET_ALONE without a
 * database that answers (then perhaps before this returns).
 */
void
fleet_gate(const char *uuid, const char *name, int64_t known, int sched,
    const struct fleet_storage *st, fleet_gate_fn fn, void *arg)
{
	struct gate *g;
	const char *p[9];
	char k[24], cap[24], lease[24];

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		fn(arg, FLEET_ALONE, NULL, 0);
		return;
	}
	snprintf(g->uuid, sizeof(g->uuid), "%s", uuid);
	g->fn = fn;
	g->arg = arg;
	snprintf(k, sizeof(k), "%lld", (long long)known);
	snprintf(cap, sizeof(cap), "%lld", st != NULL ? st->cap : 0LL);
	snprintf(lease, sizeof(lease), "%llu",
	    (unsigned long long)sd.conf.fleet_lease);
	p[0] = fl.host;
	p[1] = fl.instance;
	p[2] = uuid;
	p[3] = name;
	p[4] = k;
	p[5] = sched ? "true" : "false";
	p[6] = st != NULL ? st->name : NULL;
	p[7] = cap;
	p[8] = lease;
	fleet_query("SELECT * FROM sentinel.gate($1, $2, $3, $4, $5::bigint, "
	    "$6::boolean, $7, $8::integer, $9::integer)", 9, p, gate_done, g);
}
