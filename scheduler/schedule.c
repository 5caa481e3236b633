/*
 * The schedule: the policy (policy.c) fed with the inventory, the history
 * from the state store, the configuration and the host's pressure, and a
 * timer that takes a decision whenever something may start.  Decisions
 * start jobs (jobs.c); finished jobs report back here.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sentineld.h"
#include "throttle.h"
#include "util.h"

#define TICK_MS		5000	/* pressure and time limits re-checked */

static struct policy *pol;
static struct throttle *bucket;
static uv_timer_t timer;
static struct pressure last_pressure;
static int pressure_high;

static void on_timer(uv_timer_t *);

/* When every scheduled scan was paused (0: not), kept in the state
 * database like each guest's own pause, so a restart keeps them. */
static int64_t paused_all;

static void
conf_from(struct policy_conf *pc, const struct config *c)
{
	char err[128];

	memset(pc, 0, sizeof(*pc));
	pc->max_scans = sd.max_scans;
	pc->per_storage = (unsigned int)c->per_storage_scans;
	pc->max_io = c->max_io_pressure;
	pc->max_cpu = c->max_cpu_pressure;
	pc->max_load = c->max_load;
	pc->interval_ms = (int64_t)c->interval * 1000;
	pc->jitter_ms = (int64_t)c->jitter * 1000;
	pc->retry_min_ms = (int64_t)c->retry_min * 1000;
	pc->retry_max_ms = (int64_t)c->retry_max * 1000;
	pc->busy_read_rate = (double)c->busy_read_rate;
	pc->busy_max_delay_ms = (int64_t)c->busy_max_delay * 1000;
	pc->paused = paused_all > 0;
	/* Validated when the configuration was read. */
	if (windows_parse(c->windows, &pc->windows, err, sizeof(err)) == -1)
		pc->windows.n = 0;
}

/* A guest's own settings: its [guest NAME] section over [schedule]. */
static void
guest_conf(struct pol_guest *pg, const char *name)
{
	const struct guest_conf *gc = config_guest(&sd.conf, name);
	const struct policy_conf *pc = policy_conf(pol);
	char err[128];

	pg->interval_ms = pc->interval_ms;
	pg->windows = pc->windows;
	pg->exclude = 0;
	pg->priority = 0;
	if (gc == NULL)
		return;
	if (gc->set & GUEST_OPT_INTERVAL)
		pg->interval_ms = (int64_t)gc->interval * 1000;
	if ((gc->set & GUEST_OPT_WINDOWS) &&
	    windows_parse(gc->windows, &pg->windows, err, sizeof(err)) == -1)
		pg->windows = pc->windows;
	if (gc->set & GUEST_OPT_EXCLUDE)
		pg->exclude = gc->exclude;
	if (gc->set & GUEST_OPT_PRIORITY)
		pg->priority = (int)gc->priority;
}

/* The guest's devices and read rate from the latest inventory. */
static void
guest_live(struct pol_guest *pg, const struct guest *g)
{
	unsigned int i;

	pg->ndev = 0;
	for (i = 0; i < g->ndevs && i < POL_MAX_DEVS; i++)
		pg->dev[pg->ndev++] = g->devs[i];
	/* Its own read rate, between two samples of its block stats. */
	if (g->rd_bytes < 0) {
		pg->read_rate = 0;
		pg->rd_ms = 0;
	} else {
		if (pg->rd_ms > 0 && g->rd_ms > pg->rd_ms &&
		    g->rd_bytes >= pg->rd_bytes)
			pg->read_rate = (double)(g->rd_bytes - pg->rd_bytes) *
			    1000 / (double)(g->rd_ms - pg->rd_ms);
		pg->rd_bytes = g->rd_bytes;
		pg->rd_ms = g->rd_ms;
	}
}

struct pol_guest *
schedule_guest(const char *uuid)
{
	return policy_find(pol, uuid);
}

/* After each inventory refresh: new guests join with their history,
 * known ones are updated, vanished ones leave (after a running scan). */
void
schedule_sync(void)
{
	const struct guest *g;
	struct pol_guest *pg;
	struct store_history h;
	int64_t now = now_ms();
	size_t i;

	if (!inventory_connected())
		return;		/* a stale list says nothing of who left */
	for (i = 0; i < inventory_count(); i++) {
		g = inventory_at(i);
		if ((pg = policy_find(pol, g->uuid)) == NULL) {
			if ((pg = policy_add(pol, g->uuid, now)) == NULL) {
				log_warnx("schedule: out of memory for %s",
				    g->name);
				continue;
			}
			store_history(g->uuid, g->name, now, &h);
			pg->first_seen = h.first_seen;
			pg->last_ok_end = h.last_ok_end;
			pg->last_fail_end = h.last_fail_end;
			pg->failures = h.failures;
			pg->paused = store_paused(g->uuid) > 0;
		}
		guest_conf(pg, g->name);
		guest_live(pg, g);
		policy_refile(pol, pg, now);
	}
	for (i = 0; i < policy_count(pol);) {
		pg = policy_at(pol, i);
		if (inventory_find(pg->uuid) == NULL && pg->user == NULL &&
		    pg->where != POL_RUNNING) {
			policy_remove(pol, pg);
			continue;	/* the last one moved here */
		}
		i++;
	}
	schedule_kick();
}

/* The fleet ended a scan of guest UUID at AT (complete or not): another
 * host's, or this host's from before its state started again.  Its due
 * time follows, as if this host had made that scan. */
void
schedule_fleet_history(const char *uuid, int64_t at, int complete)
{
	struct pol_guest *pg = policy_find(pol, uuid);
	int64_t now = now_ms();

	/* A time far ahead is a clock gone wrong, not a scan. */
	if (pg == NULL || at <= 0 || at > now + 60000)
		return;
	if (complete) {
		if (at <= pg->last_ok_end)
			return;
		pg->last_ok_end = at;
		if (at > pg->last_fail_end)
			pg->failures = 0;
	} else {
		if (at <= pg->last_fail_end || at <= pg->last_ok_end)
			return;
		pg->last_fail_end = at;
		pg->failures++;
	}
	policy_refile(pol, pg, now);
}

/*
 * The engine threads: the budget and the pressure as the loop last saw
 * them, and the scans sharing them, for the workers' threads to read.
 */
static atomic_uint cpu_budget = 1;
static atomic_uint cpu_scans;
static atomic_int cpu_pressed;

void
schedule_cpu_hold(void)
{
	atomic_fetch_add(&cpu_scans, 1);
}

void
schedule_cpu_release(void)
{
	atomic_fetch_sub(&cpu_scans, 1);
}

/*
 * An even share of the budget among the scans running now, at least one
 * thread each (a scan always makes progress: max_concurrent_scans bounds
 * how many there are), one only under pressure, never more than WANT.
 * Scans ask again with every megabyte they read, so shares follow scans
 * starting and ending.
 */
unsigned int
schedule_cpu_grant(unsigned int want)
{
	return policy_cpu_share(atomic_load(&cpu_budget),
	    atomic_load(&cpu_scans), want, atomic_load(&cpu_pressed));
}

static unsigned int
online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 4096 ? 4096 : (unsigned int)n;
}

unsigned int
schedule_cpu_budget(void)
{
	return sd.conf.cpu_threads > 0 ? (unsigned int)sd.conf.cpu_threads :
	    online_cpus();
}

/* [scan] engine_threads, or the host's CPUs: at most what the scan
 * process takes. */
unsigned int
effective_engine_threads(const struct config *c)
{
	unsigned int n = c->engine_threads > 0 ?
	    (unsigned int)c->engine_threads : online_cpus();

	return n > SCAN_MAX_THREADS ? SCAN_MAX_THREADS : n;
}

/* The read budget: read_rate, cut to pressure_read_rate under pressure. */
static void
set_budget(void)
{
	uint64_t rate = sd.conf.read_rate;

	if (pressure_high && (rate == 0 || rate > sd.conf.pressure_read_rate))
		rate = sd.conf.pressure_read_rate;
	throttle_set_rate(bucket, rate);
	atomic_store(&cpu_budget, schedule_cpu_budget());
	atomic_store(&cpu_pressed, pressure_high);
}

static void
decide(void)
{
	struct pol_guest *picked[16];
	int64_t now = now_ms(), next;
	size_t n, i;
	int high;

	if (sd.stopping)
		return;
	pressure_read(&last_pressure);
	high = policy_pressure_high(pol, &last_pressure);
	if (high != pressure_high)
		log_info("pressure: io %.1f%%, cpu %.1f%%, load %.2f: %s",
		    last_pressure.io, last_pressure.cpu, last_pressure.load,
		    high ? "new scans wait, running scans read slower "
		    "on one engine thread each" :
		    "back under the limits");
	pressure_high = high;
	set_budget();
	jobs_check_time(now);
	do {
		n = policy_pick(pol, now, &last_pressure, picked,
		    sizeof(picked) / sizeof(picked[0]));
		for (i = 0; i < n; i++)
			jobs_start(picked[i]);
	} while (n == sizeof(picked) / sizeof(picked[0]));
	/* Again when the next guest becomes eligible, and at least every
	 * tick while anything runs or waits (pressure, time limits). */
	next = policy_next_event(pol) - now;
	if (next > TICK_MS || next < 0)
		next = TICK_MS;
	uv_timer_start(&timer, on_timer, (uint64_t)next, 0);
}

static void
on_timer(uv_timer_t *t)
{
	(void)t;
	decide();
}

void
policy_done_guest(struct pol_guest *pg, int complete, int64_t ended)
{
	policy_done(pol, pg, ended, complete);
	/* A guest undefined while it was scanned leaves now. */
	if (inventory_connected() && inventory_find(pg->uuid) == NULL &&
	    pg->user == NULL)
		policy_remove(pol, pg);
}

void
policy_demand_guest(struct pol_guest *pg)
{
	policy_demand(pol, pg, now_ms());
}

void
policy_undemand_guest(struct pol_guest *pg)
{
	policy_undemand(pol, pg, now_ms());
}

/* A decision at the next turn of the loop. */
void
schedule_kick(void)
{
	if (!sd.stopping)
		uv_timer_start(&timer, on_timer, 0, 0);
}

struct throttle *
schedule_throttle(void)
{
	return bucket;
}

int
schedule_init(char *err, size_t errlen)
{
	struct policy_conf pc;

	if ((paused_all = store_paused("*")) > 0)
		log_warnx("schedule: paused since %lld s ago; no scan starts on "
		    "schedule until `sentinelctl resume`",
		    (long long)(now_ms() - paused_all) / 1000);
	conf_from(&pc, &sd.conf);
	if ((pol = policy_new(&pc)) == NULL || (bucket = throttle_new()) ==
	    NULL) {
		snprintf(err, errlen, "out of memory for the schedule");
		return -1;
	}
	set_budget();
	uv_timer_init(sd.loop, &timer);
	return 0;
}

/* After SIGHUP: new limits, and each guest's settings again. */
void
schedule_reconf(void)
{
	struct policy_conf pc;
	const struct guest *g;
	struct pol_guest *pg;
	size_t i;

	conf_from(&pc, &sd.conf);
	policy_set_conf(pol, &pc);
	for (i = 0; i < inventory_count(); i++) {
		g = inventory_at(i);
		if ((pg = policy_find(pol, g->uuid)) != NULL) {
			guest_conf(pg, g->name);
			policy_refile(pol, pg, now_ms());
		}
	}
	set_budget();
	schedule_kick();
}

/*
 * Pauses scheduled scans of one guest (uuid) or of all (NULL), or resumes
 * them; on-demand scans still run, and running scans go on.  Recorded
 * first, so that a pause the state database cannot keep is refused.
 */
int
schedule_pause(const char *uuid, const char *name, int on, char *err,
    size_t errlen)
{
	struct policy_conf pc;
	struct pol_guest *pg = NULL;
	int64_t now = now_ms();

	if (uuid != NULL && (pg = policy_find(pol, uuid)) == NULL) {
		snprintf(err, errlen, "guest \"%s\" is not in the schedule yet",
		    name);
		return -1;
	}
	if (store_pause(uuid ? uuid : "*", on ? now : 0) == -1) {
		snprintf(err, errlen, "the state database cannot record the "
		    "%s", on ? "pause" : "resume");
		return -1;
	}
	if (pg != NULL) {
		pg->paused = on;
		policy_refile(pol, pg, now);
	} else {
		paused_all = on ? now : 0;
		conf_from(&pc, &sd.conf);
		policy_set_conf(pol, &pc);
	}
	log_info("schedule: %s %s%s", on ? "paused" : "resumed",
	    uuid ? "guest " : "all scheduled scans", uuid ? name : "");
	schedule_kick();
	return 0;
}

/* When scheduled scans of uuid (NULL: of all) were paused; 0: they
 * are not. */
int64_t
schedule_paused(const char *uuid)
{
	struct pol_guest *pg;

	if (uuid == NULL)
		return paused_all;
	return (pg = policy_find(pol, uuid)) != NULL && pg->paused ?
	    store_paused(uuid) : 0;
}

void
schedule_close(void)
{
	uv_timer_stop(&timer);
	uv_close((uv_handle_t *)&timer, NULL);
}

/* Frees what the loop no longer uses; after the loop ended. */
void
schedule_free(void)
{
	policy_free(pol);
	throttle_free(bucket);
	pol = NULL;
	bucket = NULL;
}

unsigned int
schedule_waiting(void)
{
	return policy_waiting(pol);
}

int
schedule_pressure(struct pressure *p)
{
	*p = last_pressure;
	return pressure_high;
}

static json_t *
when_json(int64_t ms)
{
	return ms > 0 ? json_integer(ms) : json_null();
}

/* When a guest comes on schedule next; null when it does not. */
static json_t *
next_due_json(const struct pol_guest *pg)
{
	if ((pg->exclude || pg->paused || policy_conf(pol)->paused) &&
	    !pg->on_demand)
		return json_null();
	return when_json(pg->where == POL_LATER ? pg->eligible :
	    policy_due(pol, pg));
}

json_t *
schedule_next_due_json(const char *uuid)
{
	const struct pol_guest *pg = policy_find(pol, uuid);

	return pg != NULL ? next_due_json(pg) : json_null();
}

void
schedule_count_states(const char *const *names, size_t n,
    unsigned int *counts)
{
	const struct guest *g;
	struct pol_guest *pg;
	const char *st;
	int64_t now = now_ms();
	size_t i, k;

	memset(counts, 0, n * sizeof(*counts));
	for (i = 0; i < inventory_count(); i++) {
		g = inventory_at(i);
		if ((pg = policy_find(pol, g->uuid)) == NULL)
			continue;
		st = policy_explain(pol, pg, now, &last_pressure);
		for (k = 0; k < n && strcmp(names[k], st) != 0; k++)
			;
		if (k < n)
			counts[k]++;
	}
}

int64_t
schedule_last_complete(const char *uuid)
{
	const struct pol_guest *pg = policy_find(pol, uuid);

	return pg != NULL ? pg->last_ok_end : 0;
}

/* Waiting guests: on-demand first, then by when they may start. */
static int
cmp_wait(const void *a, const void *b)
{
	const struct round_item *x = a, *y = b;

	if ((x->windows == NULL) != (y->windows == NULL))
		return x->windows == NULL ? -1 : 1;
	return x->ready_ms < y->ready_ms ? -1 : x->ready_ms > y->ready_ms;
}

/*
 * One row per guest libvirt knows, for `sentinelctl schedule`, each with
 * its expected duration; *ROUND: the current round (every guest running,
 * queued, or due within the next interval) and when it ends.
 */
json_t *
schedule_json(json_t **round)
{
	const struct guest *g;
	struct pol_guest *pg;
	struct round_item *it;
	enum est_basis basis;
	json_t *a = json_array(), *row, *last;
	struct job *j;
	int64_t now = now_ms(), horizon, ms, ends;
	size_t i, n = 0;

	horizon = now + (int64_t)sd.conf.interval * 1000;
	it = calloc(inventory_count() + 1, sizeof(*it));
	for (i = 0; i < inventory_count(); i++) {
		g = inventory_at(i);
		if ((pg = policy_find(pol, g->uuid)) == NULL)
			continue;
		row = json_pack("{s:s, s:s, s:s, s:b, s:i}", "name", g->name,
		    "uuid", g->uuid, "state",
		    policy_explain(pol, pg, now, &last_pressure),
		    "on_demand", pg->on_demand, "priority", pg->priority);
		json_object_set_new(row, "next_due", next_due_json(pg));
		if (strcmp(json_string_value(json_object_get(row, "state")),
		    "fleet") == 0 && pg->fleet_note[0] != '\0')
			json_object_set_new(row, "fleet",
			    json_string(pg->fleet_note));
		json_object_set_new(row, "failures", json_integer(pg->failures));
		last = store_last_scan(g->uuid, NULL, 0);
		json_object_set_new(row, "last_scan", last ? last : json_null());
		j = jobs_find(g->uuid);
		json_object_set_new(row, "scan", j && j->state == JOB_RUNNING ?
		    job_progress_json(j) : json_null());
		/* A running scan keeps the estimate it started with. */
		if (j != NULL && j->state == JOB_RUNNING && j->estimate_ms > 0) {
			ms = j->estimate_ms;
			basis = (enum est_basis)j->estimate_basis;
		} else
			ms = estimate_guest(g, &basis);
		json_object_set_new(row, "estimate_ms", json_integer(ms));
		json_object_set_new(row, "estimate_basis",
		    json_string(estimate_basis_name(basis)));
		json_array_append_new(a, row);
		if (it == NULL)
			continue;
		it[n].dur_ms = ms;
		if (pg->where == POL_RUNNING && j != NULL) {
			it[n].running = 1;
			it[n].started_ms = j->started_ms;
			n++;
		} else if (pg->where == POL_READY || pg->where == POL_PARKED) {
			it[n].ready_ms = now;
			it[n].windows = pg->on_demand ? NULL : &pg->windows;
			n++;
		} else if (pg->where == POL_LATER && !pg->exclude &&
		    !pg->paused && !policy_conf(pol)->paused &&
		    pg->eligible <= horizon) {
			it[n].ready_ms = pg->eligible;
			it[n].windows = &pg->windows;
			n++;
		}
	}
	if (it != NULL)
		qsort(it, n, sizeof(*it), cmp_wait);
	ends = it != NULL ? policy_round_end(it, n, sd.max_scans, now) : now;
	*round = json_pack("{s:i, s:I, s:i, s:I}", "guests", (int)n, "ends",
	    (json_int_t)ends, "cap", (int)sd.max_scans, "horizon",
	    (json_int_t)horizon);
	free(it);
	return a;
}
