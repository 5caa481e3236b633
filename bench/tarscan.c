/*
 * The scan pipeline without an appliance, for bench/pipeline: loads the
 * signatures once, then scans a tar file ROUNDS times through scan_tar
 * (parser thread, spool, engine threads) with each thread count given,
 * alternating, and once per round measures the floor: the same engine
 * over the same files already in memory, the same number of threads, no
 * stream and no spool.  Prints one line per run and the medians.
 *
 *   sentinel-tarscan DBDIR TARFILE ROUNDS THREADS...
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "engine.h"
#include "scan.h"

#define MAXRUNS		64
#define MAXCOUNTS	8

struct file {
	char		*name;
	void		*data;
	size_t		 len;
};

static struct engine *eng;
static struct file *files;
static size_t nfiles;
static atomic_size_t next_file;
static atomic_uint floor_hits;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "sentinel-tarscan: %s\n", what);
	exit(1);
}

/* Every regular file of the tar, in memory, for the floor. */
static void
load_files(const char *path)
{
	struct archive_entry *ae;
	struct archive *a;
	size_t cap = 0;
	la_int64_t size;

	if ((a = archive_read_new()) == NULL)
		die("archive_read_new");
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open_filename(a, path, 1 << 20) != ARCHIVE_OK)
		die(archive_error_string(a));
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		if (archive_entry_filetype(ae) != AE_IFREG ||
		    archive_entry_hardlink(ae) != NULL)
			continue;
		if (nfiles == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((files = realloc(files, cap * sizeof(*files))) ==
			    NULL)
				die("out of memory");
		}
		size = archive_entry_size(ae);
		files[nfiles].len = (size_t)size;
		if ((files[nfiles].data = malloc(size > 0 ? (size_t)size : 1)) ==
		    NULL || (files[nfiles].name =
		    strdup(archive_entry_pathname(ae))) == NULL)
			die("out of memory");
		if (size > 0 && archive_read_data(a, files[nfiles].data,
		    (size_t)size) != size)
			die("short read in the tar");
		nfiles++;
	}
	archive_read_free(a);
}

static void *
floor_main(void *arg)
{
	const char *hits[ENGINE_NKINDS];
	char err[256];
	size_t i;

	(void)arg;
	while ((i = atomic_fetch_add(&next_file, 1)) < nfiles) {
		if (files[i].len == 0)
			continue;
		if (engine_scan_mem(eng, files[i].data, files[i].len,
		    files[i].name, hits, NULL, err, sizeof(err)) ==
		    ENGINE_INFECTED)
			atomic_fetch_add(&floor_hits, 1);
	}
	return NULL;
}

/* The engine alone over the files in memory, with N threads. */
static double
floor_run(unsigned int n, unsigned int *hits)
{
	pthread_t t[SCAN_MAX_THREADS];
	unsigned int i;
	double t0;

	atomic_store(&next_file, 0);
	atomic_store(&floor_hits, 0);
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, floor_main, NULL) != 0)
			die("pthread_create");
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	*hits = atomic_load(&floor_hits);
	return now_s() - t0;
}

static double
pipeline_run(const char *tar, unsigned int n, struct scan_result *res,
    uint64_t *peak)
{
	struct scan_progress pr;
	struct scan_opts o;
	double t0, t;
	int fd;

	memset(&o, 0, sizeof(o));
	o.guest = "bench";
	o.max_file_size = 100ULL * 1024 * 1024;
	o.engine = eng;
	o.threads = n;
	scan_progress_init(&pr);
	if ((fd = open(tar, O_RDONLY)) == -1)
		die(strerror(errno));
	t0 = now_s();
	scan_tar(&o, &pr, fd, "tar", res);
	t = now_s() - t0;
	close(fd);
	*peak = atomic_load(&pr.spool_peak);
	scan_progress_destroy(&pr);
	return t;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
	double pipe_t[MAXCOUNTS][MAXRUNS], floor_t[MAXCOUNTS][MAXRUNS];
	unsigned int counts[MAXCOUNTS], hits;
	struct scan_result res;
	uint64_t peak, bytes = 0;
	char err[512];
	int rounds, ncounts, r, k;
	size_t i;

	if (argc < 5)
		die("usage: sentinel-tarscan DBDIR TARFILE ROUNDS THREADS...");
	rounds = atoi(argv[3]);
	if (rounds < 1 || rounds > MAXRUNS)
		die("ROUNDS: 1 to 64");
	ncounts = argc - 4;
	if (ncounts > MAXCOUNTS)
		die("at most 8 thread counts");
	for (k = 0; k < ncounts; k++)
		if ((counts[k] = (unsigned int)atoi(argv[4 + k])) < 1 ||
		    counts[k] > SCAN_MAX_THREADS)
			die("THREADS: 1 to 32");
	if (engine_global_init(err, sizeof(err)) == -1)
		die(err);
	if ((eng = engine_load(argv[1], "/tmp", NULL, NULL, err,
	    sizeof(err))) == NULL)
		die(err);
	/* Every round scans: libclamav would take the second round's files
	 * for the first's, hash them and scan nothing. */
	if (engine_set_cache(eng, 0) == -1)
		die("cannot turn libclamav's cache off");
	printf("engine: %u signatures, loaded in %.1f s\n",
	    engine_signatures(eng), (double)engine_load_ms(eng) / 1000);
	load_files(argv[2]);
	for (i = 0; i < nfiles; i++)
		bytes += files[i].len;
	printf("tar: %zu files, %.1f MB\n", nfiles, (double)bytes / 1e6);
	fflush(stdout);
	for (r = 0; r < rounds; r++)
		for (k = 0; k < ncounts; k++) {
			pipe_t[k][r] = pipeline_run(argv[2], counts[k], &res,
			    &peak);
			floor_t[k][r] = floor_run(counts[k], &hits);
			printf("round %d threads %u: pipeline %.2f s (%s, %llu "
			    "files, %u detections, spool peak %.1f MB), "
			    "floor %.2f s (%u detections)\n", r + 1,
			    counts[k], pipe_t[k][r],
			    scan_status_name(res.status),
			    (unsigned long long)res.files, res.ndetections,
			    (double)peak / 1e6, floor_t[k][r], hits);
			fflush(stdout);
			if (res.ndetections != hits)
				die("the pipeline and the floor disagree on "
				    "the detections");
			scan_result_free(&res);
		}
	for (k = 0; k < ncounts; k++) {
		double p = median(pipe_t[k], rounds);
		double f = median(floor_t[k], rounds);

		printf("median threads %u: pipeline %.2f s (%.1f MB/s), "
		    "floor %.2f s, pipeline/floor %.3f, speed-up over %u "
		    "thread %.2fx\n", counts[k], p, (double)bytes / 1e6 / p,
		    f, p / f, counts[0], median(pipe_t[0], rounds) / p);
	}
	engine_unref(eng);
	return 0;
}
