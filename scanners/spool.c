/*
 * The spool: a FIFO of files bounded in bytes, and the engine threads
 * that empty it.  One mutex guards it all; the threads sleep on one
 * condition, the putter and the drainer on another.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spool.h"

/* A thread over its grant, or a putter waiting for room, looks again this
 * often: a grant changes without a signal, a cancel too. */
#define SPOOL_RECHECK_MS	100

struct worker {
	struct spool		*s;
	unsigned int		 n;		/* 0, 1, ... */
	pthread_t		 t;
};

struct spool {
	pthread_mutex_t		 m;
	pthread_cond_t		 work;		/* an item, or quit */
	pthread_cond_t		 room;		/* bytes freed, or all done */
	struct spool_item	*head, **tail;
	size_t			 cap, used, peak;
	unsigned int		 busy;		/* items being run */
	int			 quit;
	spool_fn		 fn;
	void			*arg;
	const atomic_uint	*allowed;
	unsigned int		 nthreads;
	struct worker		*w;
};

static void
deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Whether thread N is within the scan's grant now. */
static int
granted(const struct spool *s, unsigned int n)
{
	unsigned int a = s->allowed != NULL ? atomic_load(s->allowed) : 0;

	return a == 0 || n < a || n == 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct spool *s = w->s;
	struct spool_item *it;
	struct timespec ts;

	pthread_mutex_lock(&s->m);
	for (;;) {
		while (!s->quit && (s->head == NULL || !granted(s, w->n))) {
			deadline(&ts, SPOOL_RECHECK_MS);
			pthread_cond_timedwait(&s->work, &s->m, &ts);
		}
		if (s->head == NULL)
			break;		/* quit, and nothing left */
		it = s->head;
		if ((s->head = it->next) == NULL)
			s->tail = &s->head;
		s->busy++;
		pthread_mutex_unlock(&s->m);
		{
			size_t cost = it->cost;

			s->fn(s->arg, it);
			pthread_mutex_lock(&s->m);
			s->used -= cost;
		}
		s->busy--;
		pthread_cond_broadcast(&s->room);
	}
	pthread_mutex_unlock(&s->m);
	return NULL;
}

static int
cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	int rc;

	if (pthread_condattr_init(&a) != 0)
		return -1;
	rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(cv, &a) == 0 ? 0 : -1;
	pthread_condattr_destroy(&a);
	return rc;
}

struct spool *
spool_new(unsigned int nthreads, size_t cap, spool_fn fn, void *arg,
    const atomic_uint *allowed, char *err, size_t errlen)
{
	struct spool *s;
	unsigned int i;
	int rc;

	if (nthreads < 1)
		nthreads = 1;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->w = calloc(nthreads, sizeof(*s->w))) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->m, NULL);
	if (cond_init_mono(&s->work) == -1 || cond_init_mono(&s->room) == -1) {
		snprintf(err, errlen, "cannot make the spool's conditions");
		free(s->w);
		free(s);
		return NULL;
	}
	s->tail = &s->head;
	s->cap = cap;
	s->fn = fn;
	s->arg = arg;
	s->allowed = allowed;
	for (i = 0; i < nthreads; i++) {
		s->w[i].s = s;
		s->w[i].n = i;
		if ((rc = pthread_create(&s->w[i].t, NULL, worker_main,
		    &s->w[i])) != 0) {
			snprintf(err, errlen, "cannot start engine thread %u: "
			    "%s", i + 1, strerror(rc));
			s->nthreads = i;
			spool_free(s);
			return NULL;
		}
	}
	s->nthreads = nthreads;
	return s;
}

int
spool_put(struct spool *s, struct spool_item *it, atomic_int *cancel)
{
	struct timespec ts;

	pthread_mutex_lock(&s->m);
	while (s->used > 0 && s->used + it->cost > s->cap) {
		if (cancel != NULL && atomic_load(cancel)) {
			pthread_mutex_unlock(&s->m);
			return -1;
		}
		deadline(&ts, SPOOL_RECHECK_MS);
		pthread_cond_timedwait(&s->room, &s->m, &ts);
	}
	it->next = NULL;
	*s->tail = it;
	s->tail = &it->next;
	s->used += it->cost;
	if (s->used > s->peak)
		s->peak = s->used;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->m);
	return 0;
}

void
spool_drain(struct spool *s)
{
	pthread_mutex_lock(&s->m);
	while (s->head != NULL || s->busy > 0)
		pthread_cond_wait(&s->room, &s->m);
	pthread_mutex_unlock(&s->m);
}

size_t
spool_peak(struct spool *s)
{
	size_t n;

	pthread_mutex_lock(&s->m);
	n = s->peak;
	pthread_mutex_unlock(&s->m);
	return n;
}

void
spool_free(struct spool *s)
{
	unsigned int i;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->m);
	s->quit = 1;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->m);
	/* The threads empty the spool before they quit. */
	for (i = 0; i < s->nthreads; i++)
		pthread_join(s->w[i].t, NULL);
	pthread_mutex_destroy(&s->m);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->room);
	free(s->w);
	free(s);
}
