/*
 * The host-wide read budget.  Readers take what they read and sleep until
 * the bucket is out of debt; the bucket holds at most a tenth of a second
 * of budget, so a burst never runs far ahead of the rate.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "throttle.h"

#define SLICE_NS	(50 * 1000 * 1000)	/* re-check cancel this often */

struct throttle {
	pthread_mutex_t	 mtx;
	uint64_t	 rate;		/* bytes/s, 0: unlimited */
	double		 tokens;	/* may go negative: debt */
	double		 last;		/* seconds, monotonic */
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct throttle *
throttle_new(void)
{
	struct throttle *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	pthread_mutex_init(&t->mtx, NULL);
	t->last = now_s();
	return t;
}

void
throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mtx);
	free(t);
}

/* Adds what accrued since the last call; the caller holds the lock. */
static void
refill(struct throttle *t, double now)
{
	double cap = (double)t->rate / 10;

	t->tokens += (now - t->last) * (double)t->rate;
	if (t->tokens > cap)
		t->tokens = cap;
	t->last = now;
}

void
throttle_set_rate(struct throttle *t, uint64_t rate)
{
	pthread_mutex_lock(&t->mtx);
	if (rate != t->rate) {
		refill(t, now_s());
		t->rate = rate;
		if (t->tokens > (double)rate / 10)
			t->tokens = (double)rate / 10;
	}
	pthread_mutex_unlock(&t->mtx);
}

uint64_t
throttle_rate(struct throttle *t)
{
	uint64_t r;

	pthread_mutex_lock(&t->mtx);
	r = t->rate;
	pthread_mutex_unlock(&t->mtx);
	return r;
}

int
throttle_take(struct throttle *t, size_t n, atomic_int *cancel)
{
	struct timespec ts;
	double wait;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->mtx);
	if (t->rate == 0) {
		pthread_mutex_unlock(&t->mtx);
		return 0;
	}
	refill(t, now_s());
	t->tokens -= (double)n;
	for (;;) {
		if (t->rate == 0 || t->tokens >= 0)
			break;
		wait = -t->tokens / (double)t->rate;
		pthread_mutex_unlock(&t->mtx);
		if (cancel != NULL && atomic_load(cancel))
			return -1;
		ts.tv_sec = 0;
		ts.tv_nsec = wait * 1e9 < SLICE_NS ? (long)(wait * 1e9) : SLICE_NS;
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&t->mtx);
		refill(t, now_s());
	}
	pthread_mutex_unlock(&t->mtx);
	return 0;
}
