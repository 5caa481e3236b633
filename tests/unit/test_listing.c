/* The listing of a guest tree: the path hash, hard links, excludes, and
 * the tree that decides which directories stream whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "listing.h"
#include "scan.h"

static long
add(struct listing *l, const char *path, uint32_t mode, uint8_t plan)
{
	struct lentry m;
	long i;

	memset(&m, 0, sizeof(m));
	m.mode = mode;
	m.nlink = 1;
	i = listing_add(l, path, strlen(path), &m);
	assert_true(i >= 0);
	l->e[i].plan = plan;
	return i;
}

static void
test_hash(void **state)
{
	struct listing l;
	char path[32];
	long i, first;

	(void)state;
	memset(&l, 0, sizeof(l));
	/* Enough to grow the table several times. */
	for (i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/d%ld/f", i);
		assert_int_equal(add(&l, path, S_IFREG | 0644, PLAN_FETCH), i);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/d%ld/f", i);
		assert_int_equal(listing_find(&l, path, strlen(path)), i);
		assert_string_equal(listing_path(&l, (size_t)i), path);
	}
	assert_int_equal(listing_find(&l, "/d1", 3), -1);
	/* Raw bytes, an embedded NUL and all, and no double entries. */
	first = listing_add(&l, "/a\0b", 4, &l.e[0]);
	assert_int_equal(listing_find(&l, "/a\0b", 4), first);
	assert_int_equal(listing_find(&l, "/a", 2), -1);
	assert_int_equal(listing_add(&l, "/a\0b", 4, &l.e[0]), first);
	assert_int_equal(l.n, 5001);
	listing_free(&l);
}

/* Files found infected keep what named them, up to LISTING_MAX_FOUND per
 * listing; past it a file has none (it is read again), never a part. */
static void
test_found(void **state)
{
	struct listing l;
	struct findex_rec rec, got;
	char path[32];
	long i;

	(void)state;
	memset(&l, 0, sizeof(l));
	memset(&rec, 0, sizeof(rec));
	for (i = 0; i <= LISTING_MAX_FOUND; i++) {
		snprintf(path, sizeof(path), "/f%ld", i);
		add(&l, path, S_IFREG | 0644, PLAN_FETCH);
	}
	/* Clean: nothing kept. */
	assert_int_equal(listing_set_found(&l, 0, &rec), 0);
	assert_int_equal(l.e[0].found, 0);
	snprintf(rec.found[1], sizeof(rec.found[1]), "rule_x");
	for (i = 0; i < LISTING_MAX_FOUND; i++)
		assert_int_equal(listing_set_found(&l, (size_t)i, &rec), 0);
	assert_int_equal(listing_set_found(&l, LISTING_MAX_FOUND, &rec), -1);
	listing_get_found(&l, LISTING_MAX_FOUND, &got);
	assert_false(findex_rec_found(&got));
	listing_get_found(&l, 7, &got);
	assert_string_equal(got.found[0], "");
	assert_string_equal(got.found[1], "rule_x");
	/* Named again: the new names replace the old. */
	snprintf(rec.found[0], sizeof(rec.found[0]), "Eicar");
	rec.found[1][0] = '\0';
	assert_int_equal(listing_set_found(&l, 7, &rec), 0);
	listing_get_found(&l, 7, &got);
	assert_string_equal(got.found[0], "Eicar");
	assert_string_equal(got.found[1], "");
	/* A copy of an entry is not another listing's detections. */
	i = listing_add(&l, "/copy", 5, &l.e[7]);
	listing_get_found(&l, (size_t)i, &got);
	assert_false(findex_rec_found(&got));
	listing_free(&l);
}

static void
test_hard_links(void **state)
{
	struct listing l;
	long a, b, c;

	(void)state;
	memset(&l, 0, sizeof(l));
	a = add(&l, "/a", S_IFREG | 0644, 0);
	b = add(&l, "/b", S_IFREG | 0644, 0);
	c = add(&l, "/c", S_IFREG | 0644, 0);
	l.e[a].ino = l.e[c].ino = 7;
	l.e[a].nlink = l.e[c].nlink = 2;
	l.e[b].ino = 8;
	assert_int_equal(listing_link_inodes(&l), 0);
	assert_int_equal(l.e[a].leader, a);
	assert_int_equal(l.e[b].leader, b);
	assert_int_equal(l.e[c].leader, a);
	listing_free(&l);
}

/* A hard link does not hide a file: the first name that is read leads. */
static void
test_lead(void **state)
{
	struct listing l;
	long x, k, z, p1, p2, t1, t2;

	(void)state;
	memset(&l, 0, sizeof(l));
	x = add(&l, "/hl\nex.com", S_IFREG | 0644, 0);
	k = add(&l, "/keep", S_IFREG | 0644, 0);
	z = add(&l, "/z", S_IFREG | 0644, 0);
	p1 = add(&l, "/p1", S_IFREG | 0644, 0);
	p2 = add(&l, "/p2", S_IFREG | 0644, 0);
	t1 = add(&l, "/deep", S_IFREG | 0644, 0);
	t2 = add(&l, "/t2", S_IFREG | 0644, 0);
	l.e[x].ino = l.e[k].ino = l.e[z].ino = 5;
	l.e[x].nlink = l.e[k].nlink = l.e[z].nlink = 3;
	l.e[p1].ino = l.e[p2].ino = 9;
	l.e[p1].nlink = l.e[p2].nlink = 2;
	l.e[t1].ino = l.e[t2].ino = 11;
	l.e[t1].nlink = l.e[t2].nlink = 2;
	assert_int_equal(listing_link_inodes(&l), 0);
	assert_int_equal(l.e[k].leader, x);

	/* The first name is excluded: the next leads, the rest follow it,
	 * and the excluded one points to it (its data is that file's). */
	l.e[x].plan = PLAN_EXCLUDED;
	assert_int_equal(listing_lead(&l, (size_t)x), x);
	assert_int_equal(listing_lead(&l, (size_t)k), k);
	assert_int_equal(l.e[x].leader, k);
	assert_int_equal(listing_lead(&l, (size_t)z), k);
	assert_int_equal(l.e[z].leader, k);
	/* A first name that is read keeps leading. */
	l.e[p1].plan = PLAN_FETCH;
	assert_int_equal(listing_lead(&l, (size_t)p2), p1);
	/* Too deep to be read is like excluded. */
	l.e[t1].plan = PLAN_TOO_DEEP;
	assert_int_equal(listing_lead(&l, (size_t)t2), t2);
	listing_free(&l);
}

static void
test_excluded(void **state)
{
	char *pats[] = { "/var/cache/*", "*.iso", "/tmp" };

	(void)state;
	assert_true(path_excluded("/var/cache/apt/x.deb", pats, 3));
	assert_true(path_excluded("/home/u/dl/disk.iso", pats, 3));
	assert_true(path_excluded("/tmp", pats, 3));
	assert_false(path_excluded("/tmp/x", pats, 3));
	assert_false(path_excluded("/var/cachex", pats, 3));
	assert_false(path_excluded("/etc/passwd", pats, 0));
}

/* Windows' form of a path, its patterns, and the names that are memory. */
static void
test_windows(void **state)
{
	char *pats[] = { "c:\\USERS\\*\\Temp\\*", "/Data/*.TMP" };
	char out[64];

	(void)state;
	windows_path('C', "/Users/ann/x.exe", 16, out);
	assert_string_equal(out, "C:\\Users\\ann\\x.exe");
	windows_path('D', "", 0, out);
	assert_string_equal(out, "D:\\");
	/* Backslashes literal; case ignored where the filesystem does. */
	assert_true(path_excluded_as("/Users/ann/Temp/a", 'C', 1, pats, 2));
	assert_false(path_excluded_as("/Users/ann/Temp/a", 'C', 0, pats, 2));
	assert_false(path_excluded_as("/Users/ann/Temp/a", 'D', 1, pats, 2));
	assert_false(path_excluded_as("/Users/ann/Temp/a", 0, 1, pats, 2));
	assert_true(path_excluded_as("/Data/x.tmp", 'D', 1, pats, 2));
	assert_false(path_excluded_as("/Data/x.tmp", 0, 0, pats, 2));
	assert_true(path_is_memory("/pagefile.sys", 13));
	assert_true(path_is_memory("/HIBERFIL.SYS", 13));
	assert_true(path_is_memory("/swapfile.sys", 13));
	assert_false(path_is_memory("/x/pagefile.sys", 15));
	assert_false(path_is_memory("/pagefile.sy", 12));
}

static void
test_tar_pattern(void **state)
{
	char *p;

	(void)state;
	p = tar_pattern("a*b[1]?\\c", 9);
	assert_string_equal(p, "./a\\*b\\[1\\]\\?\\\\c");
	free(p);
	assert_null(tar_pattern("new\nline", 8));
}

/*
 * /                 top: not pure (something below is left out)
 * /etc              pure, needs: streams whole
 * /etc/passwd       fetch
 * /var              not pure, needs
 * /var/big          too large
 * /var/log          pure, needs
 * /var/log/syslog   fetch
 * /usr              unchanged below: nothing to read
 * /usr/bin          dir, not pure, no needs
 * /usr/bin/ls       unchanged
 */
static void
test_tree(void **state)
{
	struct listing l;
	struct ltree t;
	long etc, passwd, var, big, log, syslog, usr, bin, ls;
	const char *name;
	size_t len;

	(void)state;
	memset(&l, 0, sizeof(l));
	etc = add(&l, "/etc", S_IFDIR | 0755, PLAN_DIR);
	passwd = add(&l, "/etc/passwd", S_IFREG | 0644, PLAN_FETCH);
	var = add(&l, "/var", S_IFDIR | 0755, PLAN_DIR);
	big = add(&l, "/var/big", S_IFREG | 0644, PLAN_TOO_LARGE);
	log = add(&l, "/var/log", S_IFDIR | 0755, PLAN_DIR);
	syslog = add(&l, "/var/log/syslog", S_IFREG | 0644, PLAN_FETCH);
	usr = add(&l, "/usr", S_IFDIR | 0755, PLAN_DIR);
	bin = add(&l, "/usr/bin", S_IFDIR | 0755, PLAN_DIR);
	ls = add(&l, "/usr/bin/ls", S_IFREG | 0755, PLAN_UNCHANGED);
	assert_int_equal(ltree_build(&l, &t), 0);

	assert_int_equal(t.top_first, etc);
	assert_int_equal(t.next[etc], var);
	assert_int_equal(t.next[var], usr);
	assert_int_equal(t.next[usr], -1);
	assert_int_equal(t.first[var], big);
	assert_int_equal(t.next[big], log);
	assert_int_equal(t.parent[syslog], log);
	assert_int_equal(t.parent[etc], -1);
	assert_int_equal(t.first[passwd], -1);

	assert_true(t.top_needs);
	assert_false(t.top_pure);
	assert_true(t.pure[etc] && t.needs[etc]);
	assert_true(!t.pure[var] && t.needs[var]);
	assert_true(t.pure[log] && t.needs[log]);
	assert_true(!t.pure[usr] && !t.needs[usr]);
	assert_true(!t.pure[bin] && !t.needs[bin]);
	assert_false(t.pure[ls]);

	name = ltree_name(&l, &t, (size_t)syslog, &len);
	assert_int_equal(len, 6);
	assert_memory_equal(name, "syslog", 6);
	name = ltree_name(&l, &t, (size_t)etc, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(name, "etc", 3);
	ltree_free(&t);
	listing_free(&l);
}

static void
test_empty(void **state)
{
	struct listing l;
	struct ltree t;

	(void)state;
	memset(&l, 0, sizeof(l));
	assert_int_equal(ltree_build(&l, &t), 0);
	assert_int_equal(t.top_first, -1);
	assert_false(t.top_needs);
	assert_true(t.top_pure);
	ltree_free(&t);
	listing_free(&l);
}

/* What makes a scan not complete: files not scanned in full and failed
 * filesystems, not the admin's exclusions nor special files. */
static void
test_complete(void **state)
{
	uint64_t sk[SKIP_NREASONS] = { 0 };

	(void)state;
	sk[SKIP_EXCLUDED] = 5;
	sk[SKIP_SPECIAL] = 3;
	assert_int_equal(scan_not_scanned(sk), 0);
	assert_true(scan_complete(SCAN_CLEAN, sk));
	assert_true(scan_complete(SCAN_INFECTED, sk));
	assert_false(scan_complete(SCAN_INCOMPLETE, sk));
	assert_false(scan_complete(SCAN_FAILED, sk));
	sk[SKIP_TOO_LARGE] = 1;
	sk[SKIP_LIMIT] = 1;
	sk[SKIP_UNREADABLE] = 1;
	sk[SKIP_ENCRYPTED] = 1;
	sk[SKIP_FILESYSTEM] = 1;
	assert_int_equal(scan_not_scanned(sk), 5);
	assert_false(scan_complete(SCAN_CLEAN, sk));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_found),
		cmocka_unit_test(test_hard_links),
		cmocka_unit_test(test_lead),
		cmocka_unit_test(test_excluded),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_tar_pattern),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
