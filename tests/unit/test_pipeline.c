/*
 * The scan pipeline without an appliance: a tar stream through the parser
 * thread, the spool and the engine threads (scan_tar), with real libclamav
 * and a body signature.  However many engine threads scan, and however
 * small the spool, the result is the one a single thread gives, in the
 * same order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "engine.h"
#include "scan.h"

#define MARKER		"SENTINEL-PIPELINE-TEST-MARKER"
#define NFILES		300
#define MAX_FILE	(64 * 1024)

static char dir[64];
static char tarpath[128];
static struct engine *eng;

/* File I: every 7th carries the marker; every 50th is empty; file 123 is
 * over MAX_FILE. */
static size_t
file_body(int i, char *buf, size_t cap)
{
	size_t n, k;

	if (i % 50 == 0)
		return 0;
	n = i == 123 ? MAX_FILE + 1 : (size_t)(100 + (i * 977) % 20000);
	if (n > cap)
		n = cap;
	for (k = 0; k < n; k++)
		buf[k] = (char)('a' + (i + k) % 26);
	if (i % 7 == 0)
		memcpy(buf + n / 2 - 20, MARKER, strlen(MARKER));
	return n;
}

static void
write_tar(void)
{
	struct archive_entry *ae;
	struct archive *a;
	char name[64];
	static char buf[MAX_FILE + 16];
	size_t n;
	int i;

	assert_non_null(a = archive_write_new());
	assert_int_equal(archive_write_set_format_pax_restricted(a),
	    ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, tarpath), ARCHIVE_OK);
	for (i = 0; i < NFILES; i++) {
		n = file_body(i, buf, sizeof(buf));
		snprintf(name, sizeof(name), "d%02d/f%03d", i % 13, i);
		assert_non_null(ae = archive_entry_new());
		archive_entry_set_pathname(ae, name);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, (la_int64_t)n);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, buf, n), (la_ssize_t)n);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static int
setup(void **state)
{
	char path[128], hex[2 * sizeof(MARKER)];
	char err[256];
	size_t i;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sentinel-pipeline.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	for (i = 0; i < strlen(MARKER); i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)MARKER[i]);
	snprintf(path, sizeof(path), "%s/t.ndb", dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "Sentinel.Test.Pipeline:0:*:%s\n", hex);
	fclose(f);
	snprintf(tarpath, sizeof(tarpath), "%s/t.tar", dir);
	write_tar();
	if (engine_global_init(err, sizeof(err)) == -1 ||
	    (eng = engine_load(dir, dir, NULL, NULL, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	engine_unref(eng);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The tar through the pipeline with THREADS engine threads, ALLOWED of
 * them granted (0: all), and a spool of SPOOL bytes. */
static void
run(unsigned int threads, unsigned int allowed, size_t spool,
    struct scan_result *res, uint64_t *peak)
{
	struct scan_progress pr;
	struct scan_opts o;
	int fd;

	memset(&o, 0, sizeof(o));
	o.guest = "pipeline";
	o.max_file_size = MAX_FILE;
	o.engine = eng;
	o.threads = threads;
	o.spool_size = spool;
	scan_progress_init(&pr);
	atomic_store(&pr.threads, allowed);
	assert_true((fd = open(tarpath, O_RDONLY)) >= 0);
	scan_tar(&o, &pr, fd, "tar", res);
	close(fd);
	*peak = atomic_load(&pr.spool_peak);
	scan_progress_destroy(&pr);
}

static void
expect_same(const struct scan_result *a, const struct scan_result *b)
{
	const struct scan_detection *x, *y;
	const struct scan_skip *s, *t;

	assert_int_equal(a->status, b->status);
	assert_int_equal(a->files, b->files);
	assert_int_equal(a->bytes_scanned, b->bytes_scanned);
	assert_int_equal(a->ndetections, b->ndetections);
	for (x = a->detections, y = b->detections; x != NULL && y != NULL;
	    x = x->next, y = y->next) {
		assert_string_equal(x->path, y->path);
		assert_string_equal(x->signature, y->signature);
	}
	assert_null(x);
	assert_null(y);
	for (s = a->skips, t = b->skips; s != NULL && t != NULL;
	    s = s->next, t = t->next)
		assert_string_equal(s->path, t->path);
	assert_null(s);
	assert_null(t);
}

static void
test_one_thread(void **state)
{
	struct scan_result r;
	const struct scan_detection *d;
	uint64_t peak;
	char want[64];
	int i, n = 0;

	(void)state;
	run(1, 0, 0, &r, &peak);
	assert_int_equal(r.status, SCAN_INFECTED);
	/* Every file but the one over max_file_size was put. */
	assert_int_equal(r.files, NFILES - 1);
	assert_int_equal(r.skipped[SKIP_TOO_LARGE], 1);
	/* Each marked file, in the stream's order. */
	d = r.detections;
	for (i = 0; i < NFILES; i++) {
		if (i % 7 != 0 || i % 50 == 0 || i == 123)
			continue;
		assert_non_null(d);
		snprintf(want, sizeof(want), "/d%02d/f%03d", i % 13, i);
		assert_string_equal(d->path, want);
		assert_string_equal(d->signature,
		    "Sentinel.Test.Pipeline.UNOFFICIAL");
		d = d->next;
		n++;
	}
	assert_null(d);
	assert_int_equal(r.ndetections, n);
	scan_result_free(&r);
}

static void
test_threads_same_result(void **state)
{
	struct scan_result one, four, two_of_four;
	uint64_t peak;

	(void)state;
	run(1, 0, 0, &one, &peak);
	run(4, 0, 0, &four, &peak);
	expect_same(&one, &four);
	run(4, 2, 0, &two_of_four, &peak);
	expect_same(&one, &two_of_four);
	scan_result_free(&one);
	scan_result_free(&four);
	scan_result_free(&two_of_four);
}

/* A spool far smaller than the files: it holds one file at a time (one
 * larger than it goes in alone), the walker waits, nothing is lost. */
static void
test_small_spool(void **state)
{
	struct scan_result one, tiny;
	uint64_t peak;

	(void)state;
	run(1, 0, 0, &one, &peak);
	run(3, 0, 4096, &tiny, &peak);
	expect_same(&one, &tiny);
	assert_true(peak > 0);
	/* Never more than the spool, but for one file larger than it
	 * (the largest put is MAX_FILE bytes, with its item) alone. */
	assert_true(peak <= MAX_FILE + 1024);
	scan_result_free(&one);
	scan_result_free(&tiny);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_thread),
		cmocka_unit_test(test_threads_same_result),
		cmocka_unit_test(test_small_spool),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
