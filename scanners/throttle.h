/*
 * A token bucket on bytes read out of guests, shared by every scan of the
 * host.  A reader that finds it empty sleeps, so the pipe behind it fills
 * and the appliance itself waits: the budget is backpressure, not a drop.
 */
#ifndef SENTINEL_THROTTLE_H
#define SENTINEL_THROTTLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct throttle;

/* A read budget as the scan library sees it: take(p, n, cancel) accounts
 * for n bytes just read, sleeping while in debt; -1 when *cancel is set.
 * In sentineld it is the host's throttle; in a scanner process, a record
 * to sentineld and its answer. */
struct read_budget {
	void	*p;
	int	(*take)(void *, size_t, atomic_int *);
};

struct throttle	*throttle_new(void);
void		 throttle_free(struct throttle *);
/* Bytes per second; 0 means unlimited.  Safe from any thread. */
void		 throttle_set_rate(struct throttle *, uint64_t);
uint64_t	 throttle_rate(struct throttle *);
/* Accounts for n bytes just read, sleeping while the bucket is in debt.
 * Returns early (-1) when *cancel becomes set. */
int		 throttle_take(struct throttle *, size_t, atomic_int *);

#endif
