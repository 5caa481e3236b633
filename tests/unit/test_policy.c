/*
 * The storm-avoidance policy in virtual time: fleets of 1 000 and 10 000
 * guests over simulated days, checked at every decision.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "policy.h"

#define SEC	1000LL
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)
#define T0	(1800057600LL * SEC)	/* a midnight, UTC */

struct run {
	struct pol_guest *g;
	int64_t		  end;
	int		  ok;
};

struct sim {
	struct policy	 *p;
	struct policy_conf c;
	int64_t		  now;
	struct run	 *runs;
	size_t		  nruns;
	unsigned int	  ndevs;
	unsigned int	  seed;
	int64_t		  dur_min, dur_max;
	unsigned int	  fail_every;	/* every Nth scan fails; 0 never */
	/* what was seen */
	uint64_t	  starts, decisions;
	unsigned int	  max_running;
	unsigned int	  max_on_dev;
	int64_t		 *last_end;	/* per guest index */
	int64_t		  worst_gap;	/* end of a scan to the next start */
	int64_t		  worst_first;	/* first_seen to the first start */
	int		  outside_window;
	void		(*on_start)(struct sim *, struct pol_guest *);
};

static char *
uuid_of(unsigned int i)
{
	static char buf[UUID_BUF];

	snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-8%03x-%012x", i * 2654435761u,
	    i & 0xffff, i % 4096, (i / 7) % 4096, i);
	return buf;
}

static void
conf_default(struct policy_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->max_scans = 4;
	c->per_storage = 2;
	c->max_io = 40;
	c->max_cpu = 80;
	c->interval_ms = DAY;
	c->jitter_ms = 2 * HOUR;
	c->retry_min_ms = 5 * MIN;
	c->retry_max_ms = 6 * HOUR;
	c->busy_max_delay_ms = HOUR;
}

static void
sim_init(struct sim *s, const struct policy_conf *c, unsigned int n,
    unsigned int ndevs)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->c = *c;
	s->p = policy_new(c);
	s->now = T0;
	s->ndevs = ndevs;
	s->seed = 42;
	s->dur_min = 20 * SEC;
	s->dur_max = 40 * SEC;
	s->runs = calloc(c->max_scans + 1, sizeof(*s->runs));
	s->last_end = calloc(n, sizeof(*s->last_end));
	for (i = 0; i < n; i++) {
		struct pol_guest *g = policy_add(s->p, uuid_of(i), T0);

		assert_non_null(g);
		g->user = (void *)(uintptr_t)i;
		g->dev[0] = i % ndevs;
		g->ndev = 1;
		policy_refile(s->p, g, T0);
	}
}

static void
sim_free(struct sim *s)
{
	policy_free(s->p);
	free(s->runs);
	free(s->last_end);
}

static unsigned int
on_dev(struct sim *s, uint64_t dev)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < s->nruns; i++)
		if (s->runs[i].g->dev[0] == dev)
			n++;
	return n;
}

/* One decision at s->now, with every check. */
static void
sim_decide(struct sim *s, const struct pressure *pr)
{
	struct pol_guest *out[64];
	size_t n, i;

	n = policy_pick(s->p, s->now, pr, out, 64);
	s->decisions++;
	for (i = 0; i < n; i++) {
		struct pol_guest *g = out[i];
		unsigned int idx = (unsigned int)(uintptr_t)g->user;
		int64_t gap;
		struct tm tm;
		time_t t = (time_t)(s->now / 1000);

		assert_true(s->nruns < s->c.max_scans);
		if (!g->on_demand) {
			gmtime_r(&t, &tm);
			if (!windows_open_at(&s->c.windows,
			    tm.tm_hour * 60 + tm.tm_min))
				s->outside_window++;
		}
		if (s->last_end[idx] == 0) {
			gap = s->now - g->first_seen;
			if (gap > s->worst_first)
				s->worst_first = gap;
		} else if (g->failures == 0) {
			gap = s->now - s->last_end[idx];
			if (gap > s->worst_gap)
				s->worst_gap = gap;
		}
		s->runs[s->nruns].g = g;
		s->runs[s->nruns].end = s->now + s->dur_min +
		    (int64_t)(rand_r(&s->seed) % (unsigned)(s->dur_max - s->dur_min + 1));
		s->runs[s->nruns].ok = !(s->fail_every &&
		    ++s->starts % s->fail_every == 0);
		if (!s->fail_every)
			s->starts++;
		s->nruns++;
		if (on_dev(s, g->dev[0]) > s->max_on_dev)
			s->max_on_dev = on_dev(s, g->dev[0]);
		if (s->on_start)
			s->on_start(s, g);
	}
	if (s->nruns > s->max_running)
		s->max_running = (unsigned int)s->nruns;
	assert_int_equal(policy_running(s->p), s->nruns);
}

/* Runs until `until`: scans end, decisions follow, time jumps to the next
 * event (an end, a guest coming due) or at most a minute on. */
static void
sim_run(struct sim *s, int64_t until, const struct pressure *pr)
{
	size_t i;
	int64_t next;

	while (s->now < until) {
		for (i = 0; i < s->nruns;) {
			if (s->runs[i].end <= s->now) {
				struct pol_guest *g = s->runs[i].g;

				policy_done(s->p, g, s->now, s->runs[i].ok);
				if (s->runs[i].ok)
					s->last_end[(uintptr_t)g->user] = s->now;
				s->runs[i] = s->runs[--s->nruns];
			} else
				i++;
		}
		sim_decide(s, pr);
		next = s->now + MIN;
		if (policy_next_event(s->p) < next)
			next = policy_next_event(s->p);
		for (i = 0; i < s->nruns; i++)
			if (s->runs[i].end < next)
				next = s->runs[i].end;
		s->now = next > s->now ? next : s->now + SEC;
	}
}

static void
test_caps_never_exceeded(void **state)
{
	struct policy_conf c;
	struct sim s;

	(void)state;
	conf_default(&c);
	c.max_scans = 3;
	c.per_storage = 1;
	sim_init(&s, &c, 1000, 4);
	sim_run(&s, T0 + 2 * DAY, NULL);
	assert_int_equal(s.max_running, 3);
	assert_int_equal(s.max_on_dev, 1);
	assert_true(s.starts >= 2000);
	sim_free(&s);
}

static void
test_windows(void **state)
{
	struct policy_conf c;
	char err[128];
	struct sim s;

	(void)state;
	conf_default(&c);
	assert_int_equal(windows_parse("01:00-06:00,22:30-23:00", &c.windows,
	    err, sizeof(err)), 0);
	sim_init(&s, &c, 1000, 8);
	sim_run(&s, T0 + 3 * DAY, NULL);
	assert_int_equal(s.outside_window, 0);
	/* Every guest gets its scan each day all the same. */
	assert_true(s.starts >= 3000);
	sim_free(&s);
}

/* 10 000 guests, a week.  The first round cannot finish within the
 * jitter (10 000 scans of up to 40 s on 8 slots take 14 h): each guest's
 * first scan comes within jitter + that drain time.  After it, every guest
 * is scanned within interval + jitter (plus at most 30 min for a slot: the
 * fleet keeps 8 slots 43% busy). */
static void
test_every_guest_on_time(void **state)
{
	struct policy_conf c;
	struct sim s;
	unsigned int i;

	(void)state;
	conf_default(&c);
	c.max_scans = 8;
	c.per_storage = 8;
	sim_init(&s, &c, 10000, 1);
	sim_run(&s, T0 + 7 * DAY, NULL);
	for (i = 0; i < 10000; i++)
		assert_true(s.last_end[i] > T0 + 6 * DAY);
	assert_true(s.worst_first <= c.jitter_ms + 10000 * s.dur_max / 8);
	assert_true(s.worst_gap <= c.interval_ms + c.jitter_ms + 30 * MIN);
	printf("10000 guests, 7 days: %llu scans, worst first start %.1f min "
	    "after definition, worst gap %.2f h\n",
	    (unsigned long long)s.starts, (double)s.worst_first / MIN,
	    (double)s.worst_gap / HOUR);
	sim_free(&s);
}

/* A fleet defined at one instant comes due spread over the jitter: in no
 * minute more than twice the mean (N * 1 min / jitter) plus 10. */
static void
test_due_spread(void **state)
{
	struct policy_conf c;
	struct policy *p;
	unsigned int counts[120], i, maxc = 0, bound;

	(void)state;
	conf_default(&c);
	p = policy_new(&c);
	memset(counts, 0, sizeof(counts));
	for (i = 0; i < 10000; i++) {
		struct pol_guest *g = policy_add(p, uuid_of(i), T0);
		int64_t due = policy_due(p, g);

		assert_true(due >= T0 && due < T0 + c.jitter_ms);
		counts[(due - T0) / MIN]++;
	}
	for (i = 0; i < 120; i++)
		if (counts[i] > maxc)
			maxc = counts[i];
	bound = 2 * 10000 / 120 + 10;
	printf("10000 guests defined at once: at most %u due in one minute "
	    "(mean %u, bound %u)\n", maxc, 10000 / 120, bound);
	assert_true(maxc <= bound);
	/* Stable: the same UUID always gets the same offset. */
	assert_int_equal(policy_offset(uuid_of(7), c.jitter_ms),
	    policy_offset(uuid_of(7), c.jitter_ms));
	policy_free(p);
}

static void
test_on_demand_next_slot(void **state)
{
	struct policy_conf c;
	struct pol_guest *out[8], *x;
	struct policy *p;
	unsigned int i;

	(void)state;
	conf_default(&c);
	c.max_scans = 2;
	c.jitter_ms = 0;
	p = policy_new(&c);
	for (i = 0; i < 100; i++)
		policy_add(p, uuid_of(i), T0);
	assert_int_equal(policy_pick(p, T0, NULL, out, 8), 2);
	x = policy_find(p, uuid_of(77));
	assert_string_equal(policy_explain(p, x, T0, NULL), "cap");
	assert_int_equal(policy_demand(p, x, T0 + SEC), 0);
	assert_int_equal(policy_demand(p, out[0], T0 + SEC), 1); /* running */
	assert_int_equal(policy_pick(p, T0 + SEC, NULL, out + 2, 8), 0);
	policy_done(p, out[0], T0 + 10 * SEC, 1);
	assert_int_equal(policy_pick(p, T0 + 10 * SEC, NULL, out + 2, 8), 1);
	assert_ptr_equal(out[2], x);
	assert_string_equal(policy_explain(p, x, T0, NULL), "running");
	/* Requests queue in order; asking again moves one to the front. */
	{
		struct pol_guest *a = policy_find(p, uuid_of(10));
		struct pol_guest *b = policy_find(p, uuid_of(11));

		policy_demand(p, a, T0 + 20 * SEC);
		policy_demand(p, b, T0 + 20 * SEC);
		policy_demand(p, b, T0 + 21 * SEC);
		policy_done(p, out[1], T0 + 30 * SEC, 1);
		assert_int_equal(policy_pick(p, T0 + 30 * SEC, NULL, out + 3,
		    8), 1);
		assert_ptr_equal(out[3], b);
	}
	policy_free(p);
}

static void
test_backoff(void **state)
{
	struct policy_conf c;
	struct pol_guest *out[2], *g;
	struct policy *p;
	int64_t now = T0, want = 5 * MIN;
	int i;

	(void)state;
	conf_default(&c);
	c.jitter_ms = 0;
	c.retry_max_ms = 1 * HOUR;
	p = policy_new(&c);
	g = policy_add(p, uuid_of(1), T0);
	for (i = 0; i < 8; i++) {
		assert_int_equal(policy_pick(p, now, NULL, out, 2), 1);
		policy_done(p, g, now + SEC, 0);
		assert_int_equal(policy_due(p, g) - (now + SEC), want);
		/* Not before its time. */
		assert_int_equal(policy_pick(p, now + SEC + want - 1, NULL, out,
		    2), 0);
		now = now + SEC + want;
		want = want * 2 > HOUR ? HOUR : want * 2;
	}
	assert_int_equal(g->failures, 8);
	/* A scan cut short after reading something: the next attempt after
	 * retry_min, and the backoff starts anew from there. */
	assert_int_equal(policy_pick(p, now, NULL, out, 2), 1);
	policy_done(p, g, now + SEC, POL_CUT);
	assert_int_equal(policy_due(p, g) - (now + SEC), 5 * MIN);
	now += SEC + 5 * MIN;
	assert_int_equal(policy_pick(p, now, NULL, out, 2), 1);
	policy_done(p, g, now + SEC, POL_FAILED);
	assert_int_equal(policy_due(p, g) - (now + SEC), 10 * MIN);
	now += SEC + 10 * MIN;
	assert_int_equal(policy_pick(p, now, NULL, out, 2), 1);
	policy_done(p, g, now + SEC, 1);
	assert_int_equal(policy_due(p, g), now + SEC + c.interval_ms);
	policy_free(p);
}

/* A restart rebuilds the policy from the history: no more guests are due
 * at once than were waiting (or running) before it. */
static void
test_restart_no_burst(void **state)
{
	struct policy_conf c;
	struct pol_guest *out[64];
	struct policy *q;
	struct sim s;
	unsigned int i, waiting, started;

	(void)state;
	conf_default(&c);
	sim_init(&s, &c, 1000, 4);
	sim_run(&s, T0 + 2 * DAY + 5 * HOUR, NULL);
	waiting = policy_waiting(s.p) + (unsigned int)s.nruns;
	q = policy_new(&c);
	for (i = 0; i < 1000; i++) {
		struct pol_guest *a = policy_find(s.p, uuid_of(i));
		struct pol_guest *b = policy_add(q, uuid_of(i), s.now);

		b->first_seen = a->first_seen;
		b->last_ok_end = s.last_end[i];
		b->dev[0] = a->dev[0];
		b->ndev = 1;
		policy_refile(q, b, s.now);
	}
	c.max_scans = 64;	/* even with room for everyone */
	c.per_storage = 64;
	policy_set_conf(q, &c);
	started = (unsigned int)policy_pick(q, s.now, NULL, out, 64);
	printf("restart: %u guests started at once; %u were waiting or "
	    "running before\n", started, waiting);
	assert_true(started <= waiting);
	policy_free(q);
	sim_free(&s);
}

/* Decision cost grows with log n, not n: heap steps per decision for
 * 10 000 guests stay within three times those for 1 000. */
static void
test_decision_cost(void **state)
{
	struct policy_conf c;
	struct sim a, b;
	double pa, pb;

	(void)state;
	conf_default(&c);
	sim_init(&a, &c, 1000, 4);
	sim_run(&a, T0 + 2 * DAY, NULL);
	c.max_scans = 40;	/* same load per slot */
	c.per_storage = 20;
	sim_init(&b, &c, 10000, 4);
	sim_run(&b, T0 + 2 * DAY, NULL);
	pa = (double)policy_ops(a.p) / (double)a.starts;
	pb = (double)policy_ops(b.p) / (double)b.starts;
	printf("heap steps per scan started: %.1f for 1000 guests, %.1f for "
	    "10000\n", pa, pb);
	assert_true(pb < 3 * pa);
	sim_free(&a);
	sim_free(&b);
}

static void
test_pressure_holds(void **state)
{
	struct pressure high = { 60, 10, 0 }, low = { 5, 10, 0 };
	struct policy_conf c;
	struct pol_guest *out[8], *g;
	struct policy *p;

	(void)state;
	conf_default(&c);
	c.jitter_ms = 0;
	p = policy_new(&c);
	g = policy_add(p, uuid_of(3), T0);
	assert_int_equal(policy_pick(p, T0, &high, out, 8), 0);
	assert_string_equal(policy_explain(p, g, T0, &high), "pressure");
	policy_demand(p, g, T0);	/* on demand too: never a storm */
	assert_int_equal(policy_pick(p, T0, &high, out, 8), 0);
	assert_int_equal(policy_pick(p, T0, &low, out, 8), 1);
	policy_free(p);
}

static void
test_storage_parking(void **state)
{
	struct policy_conf c;
	struct pol_guest *out[8];
	struct policy *p;
	unsigned int i;

	(void)state;
	conf_default(&c);
	c.jitter_ms = 0;
	c.per_storage = 1;
	p = policy_new(&c);
	for (i = 0; i < 5; i++) {
		struct pol_guest *g = policy_add(p, uuid_of(i), T0);

		g->dev[0] = 9;
		g->ndev = 1;
	}
	assert_int_equal(policy_pick(p, T0, NULL, out, 8), 1);
	assert_string_equal(policy_explain(p, policy_find(p, uuid_of(4)), T0,
	    NULL), "storage");
	assert_int_equal(policy_waiting(p), 4);
	policy_done(p, out[0], T0 + MIN, 1);
	assert_int_equal(policy_pick(p, T0 + MIN, NULL, out, 8), 1);
	assert_int_equal(policy_running(p), 1);
	policy_free(p);
}

static void
test_busy_and_exclude(void **state)
{
	struct policy_conf c;
	struct pol_guest *out[8], *g, *x;
	struct policy *p;
	int64_t now = T0;
	int n = 0;

	(void)state;
	conf_default(&c);
	c.jitter_ms = 0;
	c.busy_read_rate = 1000;
	c.busy_max_delay_ms = 12 * MIN;
	p = policy_new(&c);
	g = policy_add(p, uuid_of(1), T0);
	g->read_rate = 5000;
	x = policy_add(p, uuid_of(2), T0);
	x->exclude = 1;
	policy_refile(p, x, T0);
	/* Put back 5 + 5 + 2 minutes, then scanned though still busy. */
	while (policy_pick(p, now, NULL, out, 8) == 0 && n++ < 100) {
		assert_string_equal(policy_explain(p, g, now, NULL), "busy");
		now = policy_next_event(p);
	}
	assert_int_equal(now - T0, 12 * MIN);
	assert_ptr_equal(out[0], g);
	/* The excluded guest never comes on schedule, only on demand. */
	assert_string_equal(policy_explain(p, x, now, NULL), "excluded");
	assert_int_equal(policy_pick(p, now + 30 * DAY, NULL, out, 8), 0);
	policy_demand(p, x, now);
	assert_int_equal(policy_pick(p, now, NULL, out, 8), 1);
	assert_ptr_equal(out[0], x);
	policy_free(p);
}

/* A guest the fleet holds back (another host scans it, or the fleet's
 * slots of its storage are taken) gives its local slot back, keeps its
 * history and failures, says "fleet", and is picked again when the hold
 * ends; an on-demand request held back stays a request. */
static void
test_fleet_defer(void **state)
{
	struct policy_conf c;
	struct pol_guest *out[8], *g, *h;
	struct policy *p;
	int64_t now = T0;

	(void)state;
	conf_default(&c);
	c.jitter_ms = 0;
	c.max_scans = 1;
	p = policy_new(&c);
	g = policy_add(p, uuid_of(1), T0);
	h = policy_add(p, uuid_of(2), T0);
	assert_int_equal(policy_pick(p, now, NULL, out, 8), 1);
	assert_ptr_equal(out[0], g);
	assert_int_equal(policy_running(p), 1);
	/* The fleet says not now: its slot goes to the other guest. */
	g->fleet_until = now + 5 * SEC;
	policy_done(p, g, now, POL_DEFER);
	assert_int_equal(policy_running(p), 0);
	assert_int_equal(g->failures, 0);
	assert_int_equal(g->last_ok_end, 0);
	assert_int_equal(g->last_fail_end, 0);
	assert_string_equal(policy_explain(p, g, now, NULL), "fleet");
	assert_int_equal(policy_pick(p, now, NULL, out, 8), 1);
	assert_ptr_equal(out[0], h);
	policy_done(p, h, now + SEC, POL_COMPLETE);
	/* Not before the hold ends; then again. */
	assert_int_equal(policy_pick(p, now + 4 * SEC, NULL, out, 8), 0);
	assert_int_equal(policy_next_event(p), now + 5 * SEC);
	assert_int_equal(policy_pick(p, now + 5 * SEC, NULL, out, 8), 1);
	assert_ptr_equal(out[0], g);
	/* Held back again, then asked for: the request clears the hold
	 * (the fleet is asked again), and stays a request when held. */
	g->fleet_until = now + 60 * SEC;
	policy_done(p, g, now + 5 * SEC, POL_DEFER);
	policy_demand(p, g, now + 6 * SEC);
	assert_int_equal(policy_pick(p, now + 6 * SEC, NULL, out, 8), 1);
	g->fleet_until = now + 11 * SEC;
	policy_done(p, g, now + 6 * SEC, POL_DEFER);
	assert_true(g->on_demand);
	assert_string_equal(policy_explain(p, g, now + 6 * SEC, NULL), "fleet");
	assert_int_equal(policy_pick(p, now + 10 * SEC, NULL, out, 8), 0);
	assert_int_equal(policy_pick(p, now + 11 * SEC, NULL, out, 8), 1);
	/* It ran: the request is done, the hold forgotten. */
	policy_done(p, g, now + 20 * SEC, POL_COMPLETE);
	assert_false(g->on_demand);
	assert_int_equal(g->fleet_until, 0);
	assert_int_equal(g->last_ok_end, now + 20 * SEC);
	assert_string_equal(policy_explain(p, g, now + 21 * SEC, NULL), "idle");
	policy_free(p);
}

/* A paused guest, or all guests under a global pause, leave the schedule
 * (even when due) until resumed; on-demand requests still start. */
static void
test_pause(void **state)
{
	struct policy_conf c;
	struct pol_guest *out[8], *a, *b;
	struct policy *p;
	int64_t now = T0 + 2 * DAY;

	(void)state;
	conf_default(&c);
	c.jitter_ms = 0;
	p = policy_new(&c);
	a = policy_add(p, uuid_of(1), T0);
	b = policy_add(p, uuid_of(2), T0);
	a->paused = 1;
	policy_refile(p, a, now);
	assert_string_equal(policy_explain(p, a, now, NULL), "paused");
	assert_int_equal(policy_pick(p, now, NULL, out, 8), 1);
	assert_ptr_equal(out[0], b);
	policy_done(p, b, now, 1);

	/* Globally paused: b, due again a day later, does not start. */
	c.paused = 1;
	policy_set_conf(p, &c);
	assert_string_equal(policy_explain(p, b, now + 2 * DAY, NULL),
	    "paused");
	assert_int_equal(policy_pick(p, now + 2 * DAY, NULL, out, 8), 0);
	/* An admin's request still starts. */
	policy_demand(p, a, now + 2 * DAY);
	assert_int_equal(policy_pick(p, now + 2 * DAY, NULL, out, 8), 1);
	assert_ptr_equal(out[0], a);
	policy_done(p, a, now + 2 * DAY, 1);
	assert_string_equal(policy_explain(p, a, now + 2 * DAY, NULL),
	    "paused");

	/* Resumed: b is due and starts; a stays paused on its own. */
	c.paused = 0;
	policy_set_conf(p, &c);
	assert_int_equal(policy_pick(p, now + 2 * DAY, NULL, out, 8), 1);
	assert_ptr_equal(out[0], b);
	a->paused = 0;
	policy_refile(p, a, now + 4 * DAY);
	assert_int_equal(policy_pick(p, now + 4 * DAY, NULL, out, 8), 1);
	assert_ptr_equal(out[0], a);
	policy_free(p);
}

static void
test_priority_and_remove(void **state)
{
	struct policy_conf c;
	struct pol_guest *out[8], *hi;
	struct policy *p;
	unsigned int i;

	(void)state;
	conf_default(&c);
	c.jitter_ms = 0;
	c.max_scans = 1;
	p = policy_new(&c);
	for (i = 0; i < 50; i++)
		policy_add(p, uuid_of(i), T0);
	hi = policy_find(p, uuid_of(33));
	hi->priority = 5;
	policy_refile(p, hi, T0);
	assert_int_equal(policy_pick(p, T0, NULL, out, 8), 1);
	assert_ptr_equal(out[0], hi);
	for (i = 0; i < 50; i += 2)
		if (policy_find(p, uuid_of(i))->where != POL_RUNNING)
			policy_remove(p, policy_find(p, uuid_of(i)));
	assert_null(policy_find(p, uuid_of(2)));
	assert_non_null(policy_find(p, uuid_of(3)));
	assert_int_equal(policy_count(p), 25);
	/* Removal and re-adding keep the table usable. */
	for (i = 0; i < 50; i += 2)
		assert_non_null(policy_add(p, uuid_of(i), T0));
	assert_int_equal(policy_count(p), 50);
	policy_free(p);
}

/* The host's engine threads dealt among running scans. */
static void
test_cpu_share(void **state)
{
	(void)state;
	/* One scan alone takes what it wants, up to the budget. */
	assert_int_equal(policy_cpu_share(8, 1, 4, 0), 4);
	assert_int_equal(policy_cpu_share(2, 1, 4, 0), 2);
	/* An even share. */
	assert_int_equal(policy_cpu_share(8, 2, 8, 0), 4);
	assert_int_equal(policy_cpu_share(8, 3, 8, 0), 2);
	/* More scans than threads: still one each, never none. */
	assert_int_equal(policy_cpu_share(2, 4, 8, 0), 1);
	assert_int_equal(policy_cpu_share(1, 0, 8, 0), 1);
	assert_int_equal(policy_cpu_share(8, 1, 0, 0), 1);
	/* Under pressure, one each whatever the budget. */
	assert_int_equal(policy_cpu_share(64, 1, 32, 1), 1);
}

/* The round's end: slots, readiness, running scans, windows. */
static void
test_round_end(void **state)
{
	struct round_item it[8];
	struct windows w;
	char err[128];
	int64_t now = T0 + 10 * HOUR;

	(void)state;
	memset(it, 0, sizeof(it));
	assert_int_equal(policy_round_end(it, 0, 2, now), now);
	/* Four of 10 min on 2 slots: two waves. */
	for (int i = 0; i < 4; i++) {
		it[i].ready_ms = now;
		it[i].dur_ms = 10 * MIN;
	}
	assert_int_equal(policy_round_end(it, 4, 2, now), now + 20 * MIN);
	assert_int_equal(policy_round_end(it, 4, 1, now), now + 40 * MIN);
	assert_int_equal(policy_round_end(it, 4, 0, now), now + 40 * MIN);
	assert_int_equal(policy_round_end(it, 4, 8, now), now + 10 * MIN);
	/* A running one holds its slot until it is expected to end; one
	 * past its estimate ends now, not in the past. */
	it[0].running = 1;
	it[0].started_ms = now - 5 * MIN;
	assert_int_equal(policy_round_end(it, 4, 1, now), now + 35 * MIN);
	it[0].started_ms = now - 60 * MIN;
	assert_int_equal(policy_round_end(it, 4, 1, now), now + 30 * MIN);
	/* Not ready before its due time. */
	memset(it, 0, sizeof(it));
	it[0].ready_ms = now + 2 * HOUR;
	it[0].dur_ms = 10 * MIN;
	assert_int_equal(policy_round_end(it, 1, 2, now), now + 130 * MIN);
	/* Windows: ready at 10:00, the window opens at 22:30. */
	assert_int_equal(windows_parse("22:30-23:00", &w, err, sizeof(err)),
	    0);
	it[0].ready_ms = now;
	it[0].windows = &w;
	assert_int_equal(policy_round_end(it, 1, 2, now),
	    T0 + 22 * HOUR + 30 * MIN + 10 * MIN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_never_exceeded),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_every_guest_on_time),
		cmocka_unit_test(test_due_spread),
		cmocka_unit_test(test_on_demand_next_slot),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_restart_no_burst),
		cmocka_unit_test(test_decision_cost),
		cmocka_unit_test(test_pressure_holds),
		cmocka_unit_test(test_storage_parking),
		cmocka_unit_test(test_busy_and_exclude),
		cmocka_unit_test(test_fleet_defer),
		cmocka_unit_test(test_pause),
		cmocka_unit_test(test_priority_and_remove),
		cmocka_unit_test(test_cpu_share),
		cmocka_unit_test(test_round_end),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
