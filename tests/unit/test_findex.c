/*
 * The file index in a real state database (store_open's schema): a record
 * is trusted for [scan] index_max_age at most, each path between 3/4 of
 * it and all of it; a file read again because its record was too old is
 * trusted anew; one the scan did not read keeps its time.  A record made
 * under other signatures says which classes of file changed since, from
 * the sums kept for both versions, and is written anew under the current
 * version when the scan puts it back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "findex.h"
#include "sentineld.h"
#include "sigsum.h"
#include "srec.h"

#define T0	1000000000	/* when the first scan read the files */
#define AGE	400		/* index_max_age, seconds */
#define NPATHS	200

static char dir[64], db[128];

/* store.c names a scan's view when it records a scan: no scan is
 * recorded here (view.c would bring libvirt in). */
const char *
view_kind_name(enum view_kind k)
{
	(void)k;
	return "none";
}

static int
setup(void **state)
{
	char err[256];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sentinel-findex.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(db, sizeof(db), "%s/state.db", dir);
	if (store_open(db, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	store_close();
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
rec_of(int i, struct findex_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->ino = (uint64_t)i + 10;
	r->size = (uint64_t)i * 100;
	r->mtime_s = 1700000000 + i;
	r->ctime_s = 1700000000 + i;
	r->sha[0] = (unsigned char)i;
}

static void
path_of(int i, char *p, size_t len)
{
	snprintf(p, len, "/usr/lib/file-%03d", i);
}

/*
 * A scan at NOW over every path: what the index knows unchanged is not
 * read (put as it was), the rest is "read" (put, a new verification).
 * Returns how many the index knew.
 */
static int
scan_at(int64_t now)
{
	const struct file_index *ix;
	struct findex_rec r, got;
	struct findex *x;
	char p[64];
	int i, known = 0;

	assert_non_null(x = findex_new(db, "uuid-1", "sig-1", AGE, now));
	ix = findex_iface(x);
	for (i = 0; i < NPATHS; i++) {
		path_of(i, p, sizeof(p));
		rec_of(i, &r);
		memset(&got, 0, sizeof(got));
		if (ix->lookup(ix->p, "/dev/sda1", p, strlen(p), &got, NULL, 0)) {
			assert_memory_equal(&got, &r, sizeof(r));
			known++;
		}
		ix->put(ix->p, "/dev/sda1", p, strlen(p), &r);
	}
	ix->tree_done(ix->p, "/dev/sda1");
	assert_int_equal(findex_save(x), 0);
	findex_free(x);
	return known;
}

static void
test_bounded_age(void **state)
{
	int n;

	(void)state;
	/* The first scan reads everything. */
	assert_int_equal(scan_at(T0), 0);
	/* Before 3/4 of the bound every record holds, and a scan that
	 * did not read them leaves their time as it was. */
	assert_int_equal(scan_at(T0 + AGE / 2), NPATHS);
	assert_int_equal(scan_at(T0 + AGE * 3 / 4 - 1), NPATHS);
	/* Between 3/4 and all of it, some paths are due: spread, not all
	 * at once. */
	n = scan_at(T0 + AGE * 7 / 8);
	assert_true(n > NPATHS / 8 && n < NPATHS * 7 / 8);
	/* Those read then were verified anew and hold at T0 + AGE; the n
	 * that held then, last read at T0, are due now. */
	assert_int_equal(scan_at(T0 + AGE), NPATHS - n);
	/* Every file has now been read since T0 + AGE * 7 / 8. */
	assert_int_equal(scan_at(T0 + AGE + AGE / 2), NPATHS);
}

/* Whether "/a" of a tree is known at NOW, its filesystem's times
 * settable (FLAGS) and those trusted SETTABLE seconds (-1: not set). */
static int
known_at(int64_t now, int flags, int64_t settable)
{
	const struct file_index *ix;
	struct findex_rec got;
	struct findex *x;
	int found;

	assert_non_null(x = findex_new(db, "uuid-5", "sig-1", AGE, now));
	if (settable >= 0)
		findex_set_settable_age(x, (uint64_t)settable);
	ix = findex_iface(x);
	found = ix->lookup(ix->p, "/dev/sda2", "/a", 2, &got, NULL, flags);
	findex_free(x);
	return found;
}

static void
test_settable_age(void **state)
{
	const struct file_index *ix;
	struct findex_rec r;
	struct findex *x;

	(void)state;
	assert_non_null(x = findex_new(db, "uuid-5", "sig-1", AGE, T0));
	ix = findex_iface(x);
	rec_of(1, &r);
	ix->put(ix->p, "/dev/sda2", "/a", 2, &r);
	ix->tree_done(ix->p, "/dev/sda2");
	assert_int_equal(findex_save(x), 0);
	findex_free(x);
	/* NTFS, FAT: trusted for settable_times_max_age, not index_max_age;
	 * 0 trusts them never.  Other filesystems keep index_max_age. */
	assert_int_equal(known_at(T0 + 50, FINDEX_Q_SETTABLE, 100),
	    FINDEX_OWN);
	assert_int_equal(known_at(T0 + 100, FINDEX_Q_SETTABLE, 100), 0);
	assert_int_equal(known_at(T0 + 100, 0, 100), FINDEX_OWN);
	assert_int_equal(known_at(T0 + 1, FINDEX_Q_SETTABLE, 0), 0);
	assert_int_equal(known_at(T0 + 1, 0, 0), FINDEX_OWN);
	/* Not set: index_max_age alone. */
	assert_int_equal(known_at(T0 + 100, FINDEX_Q_SETTABLE, -1),
	    FINDEX_OWN);
	assert_int_equal(known_at(T0 + AGE, FINDEX_Q_SETTABLE, -1), 0);
}

static void
test_no_bound(void **state)
{
	struct findex *x;
	struct findex_rec r, got;
	const struct file_index *ix;

	(void)state;
	rec_of(1, &r);
	assert_non_null(x = findex_new(db, "uuid-2", "sig-1", 0, T0));
	ix = findex_iface(x);
	ix->put(ix->p, "/dev/sda1", "/a", 2, &r);
	ix->tree_done(ix->p, "/dev/sda1");
	assert_int_equal(findex_save(x), 0);
	findex_free(x);
	/* index_max_age = 0: a record holds however old. */
	assert_non_null(x = findex_new(db, "uuid-2", "sig-1", 0,
	    T0 + 100L * 365 * 86400));
	ix = findex_iface(x);
	assert_true(ix->lookup(ix->p, "/dev/sda1", "/a", 2, &got, NULL, 0));
	findex_free(x);
}

/* Where a file lies is kept with it, and a new place is written even
 * when nothing else of the file changed. */
static void
test_ext(void **state)
{
	struct findex *x;
	struct findex_rec r, got;
	const struct file_index *ix;
	char uuid[UUID_BUF];

	(void)state;
	rec_of(1, &r);
	assert_non_null(x = findex_new(db, "uuid-3", "sig-1", 0, T0));
	ix = findex_iface(x);
	ix->put(ix->p, "/dev/sda1", "/a", 2, &r);	/* no place */
	ix->tree_done(ix->p, "/dev/sda1");
	assert_int_equal(findex_save(x), 0);
	findex_free(x);
	assert_non_null(x = findex_new(db, "uuid-3", "sig-1", 0, T0));
	ix = findex_iface(x);
	assert_int_equal(ix->lookup(ix->p, "/dev/sda1", "/a", 2, &got, NULL, 0),
	    FINDEX_OWN);
	assert_false(got.has_ext);
	got.has_ext = 1;
	memset(got.ext, 0x42, sizeof(got.ext));
	ix->put(ix->p, "/dev/sda1", "/a", 2, &got);
	ix->tree_done(ix->p, "/dev/sda1");
	assert_int_equal(findex_save(x), 0);
	findex_free(x);
	assert_non_null(x = findex_new(db, "uuid-3", "sig-1", 0, T0));
	ix = findex_iface(x);
	memset(&got, 0, sizeof(got));
	assert_int_equal(ix->lookup(ix->p, "/dev/sda1", "/a", 2, &got, NULL, 0),
	    FINDEX_OWN);
	assert_true(got.has_ext);
	assert_int_equal(got.ext[15], 0x42);
	findex_free(x);
	/* No scan of these images: no base. */
	assert_int_equal(findex_base_guest(db, "1:2:3:4.5:6.7;|", "uuid-9",
	    uuid), 0);
}

/*
 * A file found infected is kept with what named it, per engine; a tree not
 * read to its end (a scan cut short) only adds to what the index had; a
 * file found clean later loses its detections.
 */
static void
test_found(void **state)
{
	struct findex *x;
	struct findex_rec r, got;
	const struct file_index *ix;

	(void)state;
	assert_non_null(x = findex_new(db, "uuid-4", "sig-1", 0, T0));
	ix = findex_iface(x);
	rec_of(1, &r);
	ix->put(ix->p, "/dev/sda1", "/a", 2, &r);
	ix->tree_done(ix->p, "/dev/sda1");
	assert_int_equal(findex_save(x), 0);
	findex_free(x);

	/* A cut scan: /b found infected by both engines, no tree_done. */
	assert_non_null(x = findex_new(db, "uuid-4", "sig-1", 0, T0));
	ix = findex_iface(x);
	rec_of(2, &r);
	snprintf(r.found[0], sizeof(r.found[0]), "Eicar-Test-Signature");
	snprintf(r.found[1], sizeof(r.found[1]), "rule_b");
	ix->put(ix->p, "/dev/sda1", "/b", 2, &r);
	assert_int_equal(findex_save(x), 0);
	findex_free(x);

	assert_non_null(x = findex_new(db, "uuid-4", "sig-1", 0, T0));
	ix = findex_iface(x);
	assert_int_equal(ix->lookup(ix->p, "/dev/sda1", "/a", 2, &got, NULL, 0),
	    FINDEX_OWN);		/* kept: the cut tree only added */
	assert_false(findex_rec_found(&got));
	assert_int_equal(ix->lookup(ix->p, "/dev/sda1", "/b", 2, &got, NULL, 0),
	    FINDEX_OWN);
	assert_true(findex_rec_found(&got));
	assert_string_equal(got.found[0], "Eicar-Test-Signature");
	assert_string_equal(got.found[1], "rule_b");
	assert_int_equal(got.ino, 12);
	/* Cleaned: the same path found clean. */
	rec_of(3, &r);
	ix->put(ix->p, "/dev/sda1", "/b", 2, &r);
	ix->put(ix->p, "/dev/sda1", "/a", 2, &got);
	assert_int_equal(findex_save(x), 0);
	findex_free(x);

	assert_non_null(x = findex_new(db, "uuid-4", "sig-1", 0, T0));
	ix = findex_iface(x);
	assert_int_equal(ix->lookup(ix->p, "/dev/sda1", "/b", 2, &got, NULL, 0),
	    FINDEX_OWN);
	assert_false(findex_rec_found(&got));
	assert_int_equal(got.ino, 13);
	findex_free(x);
}

/* Keeps the sums of VERSION: ELF lines summing to ELF, PE to 7, and
 * NALLOW allowlist lines 1, 2, ... */
static void
keep_sum(const char *version, uint64_t elf, size_t nallow)
{
	static struct sigsum s;
	unsigned char b[SIGSUM_BYTES], a[64];
	char err[256];
	size_t i;

	memset(&s, 0, sizeof(s));
	s.d[SC_ELF] = elf;
	s.d[SC_PE] = 7;
	for (i = 0; i < nallow; i++)
		s.allow[i] = i + 1;
	s.nallow = nallow;
	sigsum_pack(&s, b);
	sigsum_pack_allow(&s, a);
	assert_int_equal(store_open(db, err, sizeof(err)), 0);
	assert_int_equal(store_sigsum_put(version, b, a, nallow * 8, T0), 0);
	store_close();
}

/* One record put under VERSION at NOW; what the lookup saw before, in
 * *got (1 if found). */
static int
put_under(const char *version, int64_t now, const struct findex_rec *r,
    struct findex_rec *got)
{
	const struct file_index *ix;
	struct findex *x;
	int found;

	assert_non_null(x = findex_new(db, "uuid-3", version, 0, now));
	ix = findex_iface(x);
	memset(got, 0, sizeof(*got));
	found = ix->lookup(ix->p, "/dev/sda1", "/bin/ls", 7, got, NULL, 0);
	ix->put(ix->p, "/dev/sda1", "/bin/ls", 7, r);
	ix->tree_done(ix->p, "/dev/sda1");
	assert_int_equal(findex_save(x), 0);
	findex_free(x);
	return found;
}

static void
test_other_version(void **state)
{
	struct findex_rec r, got;

	(void)state;
	rec_of(3, &r);
	memset(r.md5, 0xa5, sizeof(r.md5));
	memset(r.sha1, 0x5a, sizeof(r.sha1));
	r.classes = SC_ALWAYS | SC_BIT(SC_ELF);
	keep_sum("sig-1", 1, 2);
	keep_sum("sig-2", 2, 2);	/* an ELF signature more */
	keep_sum("sig-3", 2, 3);	/* an allowlist line more: no change */
	keep_sum("sig-5", 2, 1);	/* an allowlist line less */
	assert_int_equal(put_under("sig-1", T0, &r, &got), 0);
	/* Under sig-2: found, with its hashes and classes, and the ELF
	 * class changed (and hashes, as between any two versions). */
	assert_int_equal(put_under("sig-2", T0 + 1, &r, &got), 1);
	assert_int_equal(got.changed, SC_BIT(SC_ELF) | SC_BIT(SC_HASH));
	assert_int_equal(got.classes, r.classes);
	assert_memory_equal(got.md5, r.md5, sizeof(r.md5));
	assert_memory_equal(got.sha1, r.sha1, sizeof(r.sha1));
	/* Put back under sig-2: now a record of sig-2. */
	assert_int_equal(put_under("sig-2", T0 + 2, &r, &got), 1);
	assert_int_equal(got.changed, 0);
	assert_int_equal(put_under("sig-3", T0 + 3, &r, &got), 1);
	assert_int_equal(got.changed, SC_BIT(SC_HASH));
	/* A line taken off an allowlist may make any file a detection. */
	assert_int_equal(put_under("sig-5", T0 + 3, &r, &got), 1);
	assert_int_equal(got.changed, SC_BIT(SC_HASH) | SC_BIT(SC_OTHER));
	assert_int_equal(put_under("sig-3", T0 + 3, &r, &got), 1);
	/* A version without sums: everything may have changed. */
	assert_int_equal(put_under("sig-4", T0 + 4, &r, &got), 1);
	assert_int_equal(got.changed, SC_EVERY);
	/* A record without hashes (an older index) spares nothing but
	 * the same signatures: its classes are not known. */
	memset(&r.md5, 0, sizeof(r.md5));
	r.classes = 0;
	assert_int_equal(put_under("sig-4", T0 + 5, &r, &got), 1);
	assert_int_equal(put_under("sig-1", T0 + 6, &r, &got), 1);
	assert_int_equal(got.classes, 0);
	assert_int_equal(got.changed, SC_EVERY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded_age),
		cmocka_unit_test(test_settable_age),
		cmocka_unit_test(test_no_bound),
		cmocka_unit_test(test_ext),
		cmocka_unit_test(test_other_version),
		cmocka_unit_test(test_found),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
