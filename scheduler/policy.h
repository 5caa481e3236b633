/*
 * The storm-avoidance policy, as pure logic: which guests are due, in what
 * order, and which may start now under the caps, the host pressure, the
 * windows and the guests' own activity.  It reads no clock and no file:
 * the caller passes the time and the pressure readings, so tests drive it
 * in virtual time.
 *
 * Every guest waits in one of three places: the "later" heap, keyed by the
 * time it becomes eligible (due, window open, busy delay over); the "ready"
 * heap of eligible guests, on-demand requests first, then by priority and
 * deadline; or parked on a storage device that is at its cap, until a scan
 * on that device ends.  A decision pops only what it starts or re-files,
 * so its cost is O(k log n) for k guests moved, never a walk of the fleet.
 */
#ifndef SENTINEL_POLICY_H
#define SENTINEL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#include "window.h"

#define POL_MAX_DEVS	8
#define POL_BUSY_STEP	(5 * 60 * 1000)	/* a busy guest is put back this long */

struct policy_conf {
	unsigned int	max_scans;
	unsigned int	per_storage;
	double		max_io, max_cpu;	/* PSI avg10 %; >= 100: off */
	double		max_load;		/* 0: off */
	int64_t		interval_ms, jitter_ms;
	int64_t		retry_min_ms, retry_max_ms;
	struct windows	windows;
	double		busy_read_rate;		/* bytes/s; 0: off */
	int64_t		busy_max_delay_ms;
	int		paused;			/* no scan on schedule */
};

struct pressure {
	double	io, cpu, load;
};

enum pol_where { POL_NONE, POL_LATER, POL_READY, POL_PARKED, POL_RUNNING };

struct pol_dev;

struct pol_guest {
	char		 uuid[UUID_BUF];
	void		*user;			/* the caller's, e.g. a job */
	/* configuration */
	int64_t		 interval_ms;
	struct windows	 windows;
	int		 exclude;
	int		 paused;		/* by the admin, until resumed */
	int		 priority;
	uint64_t	 dev[POL_MAX_DEVS];
	unsigned int	 ndev;
	/* history */
	int64_t		 first_seen;
	int64_t		 last_ok_end;		/* end of last complete scan */
	int64_t		 last_fail_end;
	unsigned int	 failures;		/* since the last complete scan */
	/* live */
	int		 on_demand;
	int64_t		 demand_seq;		/* on-demand order */
	double		 read_rate;		/* its own disk reads, bytes/s */
	int64_t		 rd_bytes, rd_ms;	/* the caller's last sample */
	int64_t		 busy_until, busy_delayed;
	int64_t		 fleet_until;		/* the fleet holds it back */
	char		 fleet_note[192];	/* why, for `schedule` */
	int64_t		 eligible;		/* key in the later heap */
	enum pol_where	 where;
	size_t		 idx;			/* in its heap */
	struct pol_guest *park_next;
	struct pol_dev	*parked_on;
};

struct policy;

struct policy	*policy_new(const struct policy_conf *);
void		 policy_free(struct policy *);
/* New limits and defaults; guests keep their own overrides. */
void		 policy_set_conf(struct policy *, const struct policy_conf *);
const struct policy_conf *policy_conf(const struct policy *);

/* Adds a guest (idle, filed by its due time) or returns the known one. */
struct pol_guest *policy_add(struct policy *, const char *, int64_t);
struct pol_guest *policy_find(struct policy *, const char *);
void		 policy_remove(struct policy *, struct pol_guest *);
/* Call after changing a guest's configuration or history fields. */
void		 policy_refile(struct policy *, struct pol_guest *, int64_t);
size_t		 policy_count(const struct policy *);
struct pol_guest *policy_at(const struct policy *, size_t);

/* On-demand request: ahead of every scheduled scan, after earlier
 * requests; a second request for a queued guest moves it ahead of all.
 * 1 if it is running. */
int		 policy_demand(struct policy *, struct pol_guest *, int64_t);
/* Withdraws an on-demand request that has not started. */
void		 policy_undemand(struct policy *, struct pol_guest *, int64_t);
/* Starts what may start now; fills out[] (at most max), returns count. */
size_t		 policy_pick(struct policy *, int64_t, const struct pressure *,
		    struct pol_guest **, size_t);
/* A scan ended: POL_COMPLETE (clean or infected), POL_FAILED (or
 * incomplete: retried with backoff), or POL_CUT (cut short after reading
 * something: resumed after retry_min, the backoff started anew). */
#define POL_FAILED	0
#define POL_COMPLETE	1
#define POL_CUT		2
/* Or it never started: the fleet holds it back until fleet_until (its
 * history unchanged, no failure counted). */
#define POL_DEFER	3
void		 policy_done(struct policy *, struct pol_guest *, int64_t, int);

int64_t		 policy_due(const struct policy *, const struct pol_guest *);
/* Earliest time a waiting guest becomes eligible; INT64_MAX if none. */
int64_t		 policy_next_event(const struct policy *);
unsigned int	 policy_running(const struct policy *);
unsigned int	 policy_waiting(const struct policy *);	/* ready + parked */
/* What a guest is doing or waiting for: "running", "excluded", "paused",
 * "idle"
 * (not due yet), or for a queued guest the rule holding it back: "cap",
 * "storage", "pressure", "window", "busy", "fleet" (another host of the
 * fleet is scanning it, or holds the fleet's slots of its storage), or
 * "next" (starts at the next decision). */
const char	*policy_explain(const struct policy *, const struct pol_guest *,
		    int64_t, const struct pressure *);
int		 policy_pressure_high(const struct policy *,
		    const struct pressure *);
/* Heap steps taken by decisions so far: their cost, for tests. */
uint64_t	 policy_ops(const struct policy *);
/* Engine threads for one of SCANS running scans out of BUDGET: an even
 * share, at least one, at most WANT; one under PRESSURE. */
unsigned int	 policy_cpu_share(unsigned int, unsigned int, unsigned int,
		    int);
/* A scan of a round, for policy_round_end. */
struct round_item {
	int			 running;
	int64_t			 started_ms;	/* running */
	int64_t			 ready_ms;	/* waiting: may start from */
	const struct windows	*windows;	/* NULL: any time */
	int64_t			 dur_ms;	/* expected */
};
/* When the last of N scans ends on CAP slots from NOW (see policy.c). */
int64_t		 policy_round_end(const struct round_item *, size_t,
		    unsigned int, int64_t);
/* Stable offset of a guest within the jitter, from its UUID. */
int64_t		 policy_offset(const char *, int64_t);

#endif
