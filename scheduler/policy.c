/*
 * The storm-avoidance policy.  See policy.h for the model; everything here
 * is in milliseconds of the caller's clock.
 */
#include <stdlib.h>
#include <string.h>

#include "policy.h"

struct pol_dev {
	uint64_t		 id;
	unsigned int		 running;
	struct pol_guest	*parked;	/* waiting for a free slot */
};

struct heap {
	struct pol_guest	**v;
	size_t			 n, cap;
};

struct policy {
	struct policy_conf	 conf;
	struct pol_guest	**all;		/* every guest, in insertion order */
	size_t			 nall, capall;
	struct pol_guest	**hash;		/* uuid -> guest, open addressing */
	size_t			 hashcap;
	struct heap		 later, ready;
	struct pol_dev		*devs;
	size_t			 ndevs;
	size_t			 ntomb;		/* removed entries in hash */
	unsigned int		 running, parked;
	int64_t			 demand_back;	/* next request goes after */
	int64_t			 demand_front;	/* a repeat goes before */
	uint64_t		 ops;		/* heap steps, for cost tests */
};

static struct pol_guest tombstone;

/* FNV-1a. */
static uint64_t
hash_uuid(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

int64_t
policy_offset(const char *uuid, int64_t jitter_ms)
{
	if (jitter_ms <= 0)
		return 0;
	return (int64_t)(hash_uuid(uuid) % (uint64_t)jitter_ms);
}

/* --- heaps ------------------------------------------------------------ */

static int
later_less(const struct pol_guest *a, const struct pol_guest *b)
{
	return a->eligible < b->eligible;
}

/* On-demand first, in request order; then priority, then eligibility. */
static int
ready_less(const struct pol_guest *a, const struct pol_guest *b)
{
	if (a->on_demand != b->on_demand)
		return a->on_demand;
	if (a->on_demand)
		return a->demand_seq < b->demand_seq;
	if (a->priority != b->priority)
		return a->priority > b->priority;
	return a->eligible < b->eligible;
}

static uint64_t *heap_ops;	/* the policy being worked on */

static void
heap_swap(struct heap *h, size_t i, size_t j)
{
	struct pol_guest *t = h->v[i];

	if (heap_ops != NULL)
		(*heap_ops)++;
	h->v[i] = h->v[j];
	h->v[j] = t;
	h->v[i]->idx = i;
	h->v[j]->idx = j;
}

static void
heap_fix(struct heap *h, size_t i,
    int (*less)(const struct pol_guest *, const struct pol_guest *))
{
	size_t p, l, r, m;

	while (i > 0 && less(h->v[i], h->v[(p = (i - 1) / 2)])) {
		heap_swap(h, i, p);
		i = p;
	}
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < h->n && less(h->v[l], h->v[m]))
			m = l;
		if (r < h->n && less(h->v[r], h->v[m]))
			m = r;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

static int
heap_push(struct heap *h, struct pol_guest *g,
    int (*less)(const struct pol_guest *, const struct pol_guest *))
{
	if (h->n == h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 64;
		struct pol_guest **nv = realloc(h->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		h->v = nv;
		h->cap = ncap;
	}
	g->idx = h->n;
	h->v[h->n++] = g;
	heap_fix(h, g->idx, less);
	return 0;
}

static void
heap_remove(struct heap *h, struct pol_guest *g,
    int (*less)(const struct pol_guest *, const struct pol_guest *))
{
	size_t i = g->idx;

	if (i != h->n - 1) {
		heap_swap(h, i, h->n - 1);
		h->n--;
		heap_fix(h, i, less);
	} else
		h->n--;
}

/* --- devices ---------------------------------------------------------- */

static struct pol_dev *
dev_get(struct policy *p, uint64_t id)
{
	struct pol_dev *nd;
	size_t i;

	for (i = 0; i < p->ndevs; i++)
		if (p->devs[i].id == id)
			return &p->devs[i];
	/* Devices are few (disks and arrays of one host): a flat array. */
	if ((nd = realloc(p->devs, (p->ndevs + 1) * sizeof(*nd))) == NULL)
		return NULL;
	/* Parked guests point at their device: fix them up after a move. */
	if (nd != p->devs)
		for (i = 0; i < p->ndevs; i++) {
			struct pol_guest *g;

			for (g = nd[i].parked; g != NULL; g = g->park_next)
				g->parked_on = &nd[i];
		}
	p->devs = nd;
	memset(&p->devs[p->ndevs], 0, sizeof(p->devs[0]));
	p->devs[p->ndevs].id = id;
	return &p->devs[p->ndevs++];
}

/* The first of g's devices that is at its cap, or NULL. */
static struct pol_dev *
dev_full(struct policy *p, const struct pol_guest *g)
{
	struct pol_dev *d;
	unsigned int i;

	for (i = 0; i < g->ndev; i++)
		if ((d = dev_get(p, g->dev[i])) != NULL &&
		    d->running >= p->conf.per_storage)
			return d;
	return NULL;
}

static void
dev_unpark(struct policy *p, struct pol_guest *g)
{
	struct pol_guest **pp;

	for (pp = &g->parked_on->parked; *pp != NULL; pp = &(*pp)->park_next)
		if (*pp == g) {
			*pp = g->park_next;
			break;
		}
	g->park_next = NULL;
	g->parked_on = NULL;
	p->parked--;
}

/* --- filing ----------------------------------------------------------- */

int64_t
policy_due(const struct policy *p, const struct pol_guest *g)
{
	int64_t wait, off = policy_offset(g->uuid, p->conf.jitter_ms);
	unsigned int k;

	if (g->failures > 0) {
		wait = p->conf.retry_min_ms;
		for (k = 1; k < g->failures && wait < p->conf.retry_max_ms; k++)
			wait *= 2;
		if (wait > p->conf.retry_max_ms)
			wait = p->conf.retry_max_ms;
		return g->last_fail_end + wait;
	}
	if (g->last_ok_end > 0)
		return g->last_ok_end + g->interval_ms + off;
	return g->first_seen + off;
}

static void
unfile(struct policy *p, struct pol_guest *g)
{
	switch (g->where) {
	case POL_LATER:
		heap_remove(&p->later, g, later_less);
		break;
	case POL_READY:
		heap_remove(&p->ready, g, ready_less);
		break;
	case POL_PARKED:
		dev_unpark(p, g);
		break;
	case POL_RUNNING:
	case POL_NONE:
		break;
	}
	g->where = POL_NONE;
}

/* Files a waiting guest where it belongs at time now. */
static void
file(struct policy *p, struct pol_guest *g, int64_t now)
{
	int64_t t;

	if (g->on_demand) {
		/* Held back by the fleet: ready again when that ends. */
		if (g->fleet_until > now) {
			g->eligible = g->fleet_until;
			if (heap_push(&p->later, g, later_less) == 0)
				g->where = POL_LATER;
		} else if (heap_push(&p->ready, g, ready_less) == 0)
			g->where = POL_READY;
		return;
	}
	if (g->exclude || g->paused || p->conf.paused)
		return;		/* not on schedule */
	t = policy_due(p, g);
	if (g->busy_until > t)
		t = g->busy_until;
	if (g->fleet_until > t)
		t = g->fleet_until;
	t = windows_next_open(&g->windows, t);
	g->eligible = t;
	if (t <= now) {
		if (heap_push(&p->ready, g, ready_less) == 0)
			g->where = POL_READY;
	} else if (heap_push(&p->later, g, later_less) == 0)
		g->where = POL_LATER;
}

void
policy_refile(struct policy *p, struct pol_guest *g, int64_t now)
{
	if (g->where == POL_RUNNING)
		return;		/* filed again when its scan ends */
	unfile(p, g);
	file(p, g, now);
}

/* --- guests ----------------------------------------------------------- */

static int
hash_insert(struct pol_guest **tab, size_t cap, struct pol_guest *g)
{
	size_t i = (size_t)hash_uuid(g->uuid) & (cap - 1);

	while (tab[i] != NULL && tab[i] != &tombstone)
		i = (i + 1) & (cap - 1);
	tab[i] = g;
	return 0;
}

/* Rebuilds the table with room for twice the guests, dropping
 * tombstones. */
static int
hash_grow(struct policy *p)
{
	size_t ncap = 256, i;
	struct pol_guest **nt;

	while (ncap < 4 * (p->nall + 1))
		ncap *= 2;
	if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
		return -1;
	for (i = 0; i < p->nall; i++)
		hash_insert(nt, ncap, p->all[i]);
	free(p->hash);
	p->hash = nt;
	p->hashcap = ncap;
	p->ntomb = 0;
	return 0;
}

struct pol_guest *
policy_find(struct policy *p, const char *uuid)
{
	size_t i;

	if (p->hashcap == 0)
		return NULL;
	i = (size_t)hash_uuid(uuid) & (p->hashcap - 1);
	for (; p->hash[i] != NULL; i = (i + 1) & (p->hashcap - 1))
		if (p->hash[i] != &tombstone &&
		    strcmp(p->hash[i]->uuid, uuid) == 0)
			return p->hash[i];
	return NULL;
}

struct pol_guest *
policy_add(struct policy *p, const char *uuid, int64_t now)
{
	struct pol_guest *g, **na;

	if ((g = policy_find(p, uuid)) != NULL)
		return g;
	/* Keep the table at most half full, tombstones included: a full
	 * rebuild clears them. */
	if ((p->nall + p->ntomb + 1) * 2 > p->hashcap && hash_grow(p) == -1)
		return NULL;
	if (p->nall == p->capall) {
		size_t ncap = p->capall ? p->capall * 2 : 64;

		if ((na = realloc(p->all, ncap * sizeof(*na))) == NULL)
			return NULL;
		p->all = na;
		p->capall = ncap;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	strncpy(g->uuid, uuid, sizeof(g->uuid) - 1);
	g->interval_ms = p->conf.interval_ms;
	g->windows = p->conf.windows;
	g->first_seen = now;
	p->all[p->nall++] = g;
	hash_insert(p->hash, p->hashcap, g);
	file(p, g, now);
	return g;
}

void
policy_remove(struct policy *p, struct pol_guest *g)
{
	size_t i;

	if (g->where == POL_RUNNING)
		return;		/* the caller removes it when the scan ends */
	unfile(p, g);
	i = (size_t)hash_uuid(g->uuid) & (p->hashcap - 1);
	while (p->hash[i] != g)
		i = (i + 1) & (p->hashcap - 1);
	p->hash[i] = &tombstone;
	p->ntomb++;
	for (i = 0; i < p->nall; i++)
		if (p->all[i] == g) {
			p->all[i] = p->all[--p->nall];
			break;
		}
	free(g);
}

size_t
policy_count(const struct policy *p)
{
	return p->nall;
}

struct pol_guest *
policy_at(const struct policy *p, size_t i)
{
	return i < p->nall ? p->all[i] : NULL;
}

/* --- decisions -------------------------------------------------------- */

unsigned int
policy_cpu_share(unsigned int budget, unsigned int scans, unsigned int want,
    int pressure)
{
	unsigned int share;

	if (want < 1)
		want = 1;
	if (pressure)
		return 1;
	share = budget / (scans > 0 ? scans : 1);
	if (share < 1)
		share = 1;
	return share < want ? share : want;
}

int
policy_pressure_high(const struct policy *p, const struct pressure *pr)
{
	if (pr == NULL)
		return 0;
	return (p->conf.max_io < 100 && pr->io > p->conf.max_io) ||
	    (p->conf.max_cpu < 100 && pr->cpu > p->conf.max_cpu) ||
	    (p->conf.max_load > 0 && pr->load > p->conf.max_load);
}

int
policy_demand(struct policy *p, struct pol_guest *g, int64_t now)
{
	if (g->where == POL_RUNNING)
		return 1;
	unfile(p, g);
	g->demand_seq = g->on_demand ? --p->demand_front : ++p->demand_back;
	g->on_demand = 1;
	g->fleet_until = 0;	/* asked for: the fleet is asked again */
	file(p, g, now);
	return 0;
}

void
policy_undemand(struct policy *p, struct pol_guest *g, int64_t now)
{
	if (g->where == POL_RUNNING || !g->on_demand)
		return;
	unfile(p, g);
	g->on_demand = 0;
	file(p, g, now);
}

static void
start(struct policy *p, struct pol_guest *g)
{
	struct pol_dev *d;
	unsigned int i;

	g->where = POL_RUNNING;
	g->busy_delayed = 0;
	p->running++;
	for (i = 0; i < g->ndev; i++)
		if ((d = dev_get(p, g->dev[i])) != NULL)
			d->running++;
}

size_t
policy_pick(struct policy *p, int64_t now, const struct pressure *pr,
    struct pol_guest **out, size_t max)
{
	struct pol_guest *g;
	struct pol_dev *d;
	size_t n = 0;
	int64_t delay;

	heap_ops = &p->ops;
	/* Guests whose time has come move to the ready heap. */
	while (p->later.n > 0 && p->later.v[0]->eligible <= now) {
		g = p->later.v[0];
		heap_remove(&p->later, g, later_less);
		g->where = POL_NONE;
		if (heap_push(&p->ready, g, ready_less) == 0)
			g->where = POL_READY;
	}
	while (n < max && p->ready.n > 0) {
		if (p->running >= p->conf.max_scans ||
		    policy_pressure_high(p, pr))
			break;
		g = p->ready.v[0];
		heap_remove(&p->ready, g, ready_less);
		g->where = POL_NONE;
		if (!g->on_demand && !windows_open(&g->windows, now)) {
			/* The window closed while it waited. */
			file(p, g, now);
			continue;
		}
		if ((d = dev_full(p, g)) != NULL) {
			g->park_next = d->parked;
			d->parked = g;
			g->parked_on = d;
			g->where = POL_PARKED;
			p->parked++;
			continue;
		}
		if (!g->on_demand && p->conf.busy_read_rate > 0 &&
		    g->read_rate > p->conf.busy_read_rate &&
		    g->busy_delayed < p->conf.busy_max_delay_ms) {
			delay = p->conf.busy_max_delay_ms - g->busy_delayed;
			if (delay > POL_BUSY_STEP)
				delay = POL_BUSY_STEP;
			g->busy_delayed += delay;
			g->busy_until = now + delay;
			file(p, g, now);
			continue;
		}
		start(p, g);
		out[n++] = g;
	}
	heap_ops = NULL;
	return n;
}

uint64_t
policy_ops(const struct policy *p)
{
	return p->ops;
}

void
policy_done(struct policy *p, struct pol_guest *g, int64_t now, int complete)
{
	struct pol_guest *q, *next;
	struct pol_dev *d;
	unsigned int i;

	if (g->where != POL_RUNNING)
		return;
	p->running--;
	for (i = 0; i < g->ndev; i++) {
		if ((d = dev_get(p, g->dev[i])) == NULL)
			continue;
		d->running--;
		/* Its parked guests compete again. */
		for (q = d->parked, d->parked = NULL; q != NULL; q = next) {
			next = q->park_next;
			q->park_next = NULL;
			q->parked_on = NULL;
			q->where = POL_NONE;
			p->parked--;
			if (heap_push(&p->ready, q, ready_less) == 0)
				q->where = POL_READY;
		}
	}
	g->where = POL_NONE;
	if (complete == POL_DEFER) {
		/* It did not run: an on-demand request still stands. */
		file(p, g, now);
		return;
	}
	g->on_demand = 0;
	g->fleet_until = 0;
	if (complete == POL_COMPLETE) {
		g->last_ok_end = now;
		g->failures = 0;
	} else {
		g->last_fail_end = now;
		/* A scan cut short went on from where the last stopped: the
		 * next goes on after retry_min, however many came before. */
		g->failures = complete == POL_CUT ? 1 : g->failures + 1;
	}
	file(p, g, now);
}

int64_t
policy_next_event(const struct policy *p)
{
	return p->later.n > 0 ? p->later.v[0]->eligible : INT64_MAX;
}

unsigned int
policy_running(const struct policy *p)
{
	return p->running;
}

unsigned int
policy_waiting(const struct policy *p)
{
	return (unsigned int)p->ready.n + p->parked;
}

const char *
policy_explain(const struct policy *p, const struct pol_guest *g,
    int64_t now, const struct pressure *pr)
{
	unsigned int i;

	switch (g->where) {
	case POL_RUNNING:
		return "running";
	case POL_NONE:
		return g->exclude ? "excluded" : g->paused || p->conf.paused ?
		    "paused" : "idle";
	case POL_LATER:
		if (g->fleet_until > now && g->eligible <= g->fleet_until)
			return "fleet";
		if (g->busy_until > now)
			return "busy";
		if (policy_due(p, g) <= now)
			return "window";
		return "idle";
	case POL_PARKED:
		return "storage";
	case POL_READY:
		break;
	}
	if (p->running >= p->conf.max_scans)
		return "cap";
	if (policy_pressure_high(p, pr))
		return "pressure";
	if (!g->on_demand && !windows_open(&g->windows, now))
		return "window";
	for (i = 0; i < g->ndev; i++) {
		const struct pol_dev *d = NULL;
		size_t k;

		for (k = 0; k < p->ndevs; k++)
			if (p->devs[k].id == g->dev[i])
				d = &p->devs[k];
		if (d != NULL && d->running >= p->conf.per_storage)
			return "storage";
	}
	return "next";
}

/* --- life cycle ------------------------------------------------------- */

struct policy *
policy_new(const struct policy_conf *c)
{
	struct policy *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->conf = *c;
	return p;
}

const struct policy_conf *
policy_conf(const struct policy *p)
{
	return &p->conf;
}

void
policy_set_conf(struct policy *p, const struct policy_conf *c)
{
	size_t i;

	p->conf = *c;
	/* Due times depend on the jitter and retry settings, and a pause
	 * takes guests off the schedule: file again. */
	for (i = 0; i < p->nall; i++)
		policy_refile(p, p->all[i], 0);	/* not if running */
}

void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nall; i++)
		free(p->all[i]);
	free(p->all);
	free(p->hash);
	free(p->later.v);
	free(p->ready.v);
	free(p->devs);
	free(p);
}

/*
 * When the last of N scans ends, started in the order given (the caller
 * sorts them by when each may start) on CAP slots: a running one holds
 * its slot until it ends (at least NOW); a waiting one starts when a slot
 * is free and it is ready, inside its windows when it has some.  Pure.
 */
int64_t
policy_round_end(const struct round_item *it, size_t n, unsigned int cap,
    int64_t now)
{
	int64_t slot[256], start, end, last = now;
	size_t i, k, best;

	if (cap == 0)
		cap = 1;
	if (cap > sizeof(slot) / sizeof(slot[0]))
		cap = sizeof(slot) / sizeof(slot[0]);
	for (k = 0; k < cap; k++)
		slot[k] = now;
	/* The running first, each in a slot of its own. */
	for (i = 0, k = 0; i < n; i++) {
		if (!it[i].running)
			continue;
		end = it[i].started_ms + it[i].dur_ms;
		if (end < now)
			end = now;
		if (k < cap)
			slot[k++] = end;
		if (end > last)
			last = end;
	}
	for (i = 0; i < n; i++) {
		if (it[i].running)
			continue;
		for (best = 0, k = 1; k < cap; k++)
			if (slot[k] < slot[best])
				best = k;
		start = slot[best] > it[i].ready_ms ? slot[best] :
		    it[i].ready_ms;
		if (it[i].windows != NULL && it[i].windows->n > 0)
			start = windows_next_open(it[i].windows, start);
		end = start + it[i].dur_ms;
		slot[best] = end;
		if (end > last)
			last = end;
	}
	return last;
}
