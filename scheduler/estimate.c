/*
 * Estimates: how long a guest's scan will take, how fast this host scans,
 * and when the current round ends.  Each is printed next to what then
 * happens (a scan's result keeps the estimate it started with), so that
 * an admin can judge them.
 *
 * The host's rates come from its last scans that read something (not
 * carried over): bytes read over the time after the appliance was up, and
 * the median appliance launch.  A guest's expected duration is the median
 * of its own last three scans; a guest never scanned is estimated from its
 * disks' allocation at the host's read rate plus a launch; without either,
 * from the host's median scan, or 5 minutes.  The round is every guest
 * running, queued, or due within the next interval, started in order of
 * due time under max_concurrent_scans and each guest's windows;
 * per-storage caps, pressure and busy guests are not modelled.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sentineld.h"
#include "util.h"

#define RING		32		/* the host's last scans */
#define GUEST_SCANS	3		/* a guest's last scans */
#define DEFAULT_MS	(5 * 60 * 1000)

static struct {
	int64_t	launch_ms, run_ms, total_ms;	/* run: after the launch */
	uint64_t bytes;
} ring[RING];
static size_t nring, ring_next;

static const char *const basis_names[] = { "history", "allocation",
    "host", "default" };

const char *
estimate_basis_name(enum est_basis b)
{
	return (unsigned int)b < sizeof(basis_names) /
	    sizeof(basis_names[0]) ? basis_names[b] : "?";
}

static void
ring_add(int64_t launch_ms, int64_t total_ms, uint64_t bytes)
{
	ring[ring_next].launch_ms = launch_ms;
	ring[ring_next].total_ms = total_ms;
	ring[ring_next].run_ms = total_ms > launch_ms ? total_ms - launch_ms :
	    1;
	ring[ring_next].bytes = bytes;
	ring_next = (ring_next + 1) % RING;
	if (nring < RING)
		nring++;
}

static void
seed(void *arg, int64_t launch_ms, int64_t total_ms, uint64_t bytes)
{
	(void)arg;
	ring_add(launch_ms, total_ms, bytes);
}

/* At start: the host's last scans from the state database. */
void
estimate_init(void)
{
	nring = ring_next = 0;
	store_recent_scans(RING, seed, NULL);
}

/* A scan ended (finish, on the loop). */
void
estimate_scan_done(const struct job *j)
{
	if (j->carried_from > 0 || j->started_ms <= 0 ||
	    j->ended_ms < j->started_ms || j->result.bytes_read == 0)
		return;
	ring_add((int64_t)j->result.launch_ms, j->ended_ms - j->started_ms,
	    j->result.bytes_read);
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int64_t
estimate_median(int64_t *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void
estimate_rates(struct est_rates *r)
{
	int64_t launch[RING], total[RING], run = 0;
	uint64_t bytes = 0;
	size_t i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < nring; i++) {
		launch[i] = ring[i].launch_ms;
		total[i] = ring[i].total_ms;
		run += ring[i].run_ms;
		bytes += ring[i].bytes;
	}
	r->scans = (unsigned int)nring;
	if (nring == 0)
		return;
	r->launch_ms = estimate_median(launch, nring);
	r->scan_ms = estimate_median(total, nring);
	r->read_rate = run > 0 ? (double)bytes * 1000 / (double)run : 0;
}

/* What G's disks hold on the host: their files' allocated bytes (a
 * linked clone's own overlay only; 0 for what stat cannot tell). */
static uint64_t
allocation(const struct guest *g)
{
	struct stat st;
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < g->ndisks; i++)
		if (!g->disks[i].nbd && stat(g->disks[i].path, &st) == 0 &&
		    S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_blocks * 512;
	return sum;
}

int64_t
estimate_guest(const struct guest *g, enum est_basis *basis)
{
	struct est_rates r;
	int64_t d[GUEST_SCANS];
	uint64_t alloc;
	size_t n;

	if ((n = store_guest_durations(g->uuid, d, GUEST_SCANS)) > 0) {
		*basis = EST_HISTORY;
		return estimate_median(d, n);
	}
	estimate_rates(&r);
	if (r.read_rate > 0 && (alloc = allocation(g)) > 0) {
		*basis = EST_ALLOCATION;
		return r.launch_ms + (int64_t)((double)alloc * 1000 /
		    r.read_rate);
	}
	if (r.scans > 0) {
		*basis = EST_HOST;
		return r.scan_ms;
	}
	*basis = EST_DEFAULT;
	return DEFAULT_MS;
}

/* O's estimate_ms and estimate_basis: a guest's expected scan duration, and what it is taken from. */
void
estimate_json(json_t *o, const struct guest *g)
{
	enum est_basis basis;
	int64_t ms = estimate_guest(g, &basis);

	json_object_set_new(o, "estimate_ms", json_integer(ms));
	json_object_set_new(o, "estimate_basis",
	    json_string(estimate_basis_name(basis)));
}
