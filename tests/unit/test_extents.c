/* Where files lie: sentinel-fiemap's replies as the scanner parses them,
 * the hash of a file's place, and a linked clone's own ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "extents.h"
#include "listing.h"
#include "scan.h"
#include "streams.h"

static long
add(struct listing *l, const char *path, uint64_t ino, uint64_t size)
{
	struct lentry m;
	long i;

	memset(&m, 0, sizeof(m));
	m.mode = S_IFREG | 0644;
	m.ino = ino;
	m.size = size;
	m.nlink = 1;
	i = listing_add(l, path, strlen(path), &m);
	assert_true(i >= 0);
	return i;
}


/* Parses TEXT into L with OWN (NOWN ranges of disk 0, or none). */
static int
parse(struct listing *l, const char *text, const struct own_range *own,
    size_t nown, size_t ndisks, long *next, char *why)
{
	struct extents_run x;
	struct own_map m[2];
	size_t *byino, n;
	int rc;

	memset(&x, 0, sizeof(x));
	x.disk_index = extents_drive_index;
	memset(m, 0, sizeof(m));
	m[0].r = (struct own_range *)own;
	m[0].n = nown;
	byino = extents_by_ino(l, &n);
	assert_non_null(byino);
	rc = extents_parse(&x, text, l, byino, n, own ? m : NULL, ndisks,
	    next, why, 256);
	free(byino);
	return rc;
}

static void
test_parse(void **state)
{
	static const struct own_range own[] = {
		{ 20000, 24096 }, { 90000, 91000 },
	};
	struct listing l;
	char why[256];
	long a, b, b2, c, d, next = 0;

	(void)state;
	memset(&l, 0, sizeof(l));
	a = add(&l, "/a", 10, 100);
	b = add(&l, "/b", 11, 200);
	b2 = add(&l, "/b2", 11, 200);	/* a hard link */
	c = add(&l, "/c", 12, 5);
	d = add(&l, "/d", 13, 7);	/* not in the reply */
	assert_int_equal(parse(&l, "fs hd0 1048576\n"
	    "10 100 1 0 5000 4096 0\n"
	    "11 200 2 0 9000 4096 0 4096 20000 4096 1\n"
	    "12 5 -1\n"
	    "more 3\n"
	    "end\n", own, 2, 1, &next, why), 1);
	assert_int_equal(next, 3);
	assert_true(l.e[a].has_ext);
	assert_false(l.e[a].own);
	assert_true(l.e[b].has_ext);
	assert_true(l.e[b].own);		/* its second extent */
	assert_true(l.e[b2].has_ext);
	assert_memory_equal(l.e[b].ext, l.e[b2].ext, sizeof(l.e[b].ext));
	assert_memory_not_equal(l.e[a].ext, l.e[b].ext, sizeof(l.e[a].ext));
	assert_false(l.e[c].has_ext);		/* not certain */
	assert_false(l.e[d].has_ext);
	listing_free(&l);
}

/* The same place and size: the same hash; anything else differs. */
static void
test_same_place(void **state)
{
	static const char *replies[] = {
		"fs hd0 0\n10 100 1 0 5000 4096 0\nend\n",
		"fs hd0 0\n10 100 1 0 5000 4096 0\nend",	/* same */
		"fs hd0 0\n10 100 1 0 5001 4096 0\nend\n",	/* moved */
		"fs hd0 0\n10 100 1 0 5000 4096 1\nend\n",	/* unwritten */
		"fs hd0 0\n10 100 1 4096 5000 4096 0\nend\n",	/* logical */
		"fs hd1 0\n10 100 1 0 5000 4096 0\nend\n",	/* disk */
	};
	unsigned char ext[6][16];
	struct listing l;
	char why[256];
	long a, next;
	size_t i, k;

	(void)state;
	for (i = 0; i < 6; i++) {
		memset(&l, 0, sizeof(l));
		a = add(&l, "/a", 10, 100);
		assert_int_equal(parse(&l, replies[i], NULL, 0, 2, &next, why),
		    0);
		assert_true(l.e[a].has_ext);
		assert_false(l.e[a].own);
		memcpy(ext[i], l.e[a].ext, 16);
		listing_free(&l);
	}
	assert_memory_equal(ext[0], ext[1], 16);
	for (i = 1; i < 6; i++)
		for (k = i + 1; k < 6; k++)
			assert_memory_not_equal(ext[i], ext[k], 16);
	/* A size other than the listing's: changed since, not placed. */
	memset(&l, 0, sizeof(l));
	a = add(&l, "/a", 10, 101);
	assert_int_equal(parse(&l, replies[0], NULL, 0, 1, &next, why), 0);
	assert_false(l.e[a].has_ext);
	listing_free(&l);
}

/* What cannot be trusted places nothing, and says why. */
static void
test_refused(void **state)
{
	static const char *bad[] = {
		"fs hd0 0\n10 100 1 0 5000\nend\n",		/* short */
		"fs hd0 0\n10 100 1 0 5000 4096 0 7\nend\n",	/* long */
		"fs hd3 0\n10 100 1 0 5000 4096 0\nend\n",	/* disk */
		"fs hd0 0\n10 100 65 0 5000 4096 0\nend\n",	/* count */
		"fs hd0 0\n10 100 1 0 18446744073709551615 4096 0\nend\n",
		"fs hd0 0\n10 100 1 0 5000 0 0\nend\n",		/* empty */
		"fs hd0 0\n10 100 1 0 5000 4096 2\nend\n",	/* flag */
		"fs hd0 0\n10 100 1 0 5000 4096 0\n",		/* no end */
		"fs hd0 0\n10 100 1 0 99999999999999999999 4096 0\nend\n",
		"fs hd0 0\n10 100 1 0 -5000 4096 0\nend\n",
		"hello\n",
		"fs\n10 100 1 0 5000 4096 0\nend\n",
		"fs sda 0\n10 100 1 0 5000 4096 0\nend\n",		/* no drive */
		"fs hd0\n10 100 1 0 5000 4096 0\nend\n",
		"hd0 0\n10 100 1 0 5000 4096 0\nend\n",
		"",
	};
	struct listing l;
	char why[256];
	long next;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&l, 0, sizeof(l));
		add(&l, "/a", 10, 100);
		why[0] = '\0';
		assert_int_equal(parse(&l, bad[i], NULL, 0, 2, &next, why), -1);
		assert_true(why[0] != '\0');
		listing_free(&l);
	}
	memset(&l, 0, sizeof(l));
	add(&l, "/a", 10, 100);
	assert_int_equal(parse(&l, "uncertain written\nend\n", NULL, 0, 1,
	    &next, why), -1);
	assert_string_equal(why, "written");
	listing_free(&l);
}

/* Drives by libguestfs's ids, never by the kernel's names. */
static void
test_drive_index(void **state)
{
	(void)state;
	assert_int_equal(extents_drive_index(NULL, "hd0"), 0);
	assert_int_equal(extents_drive_index(NULL, "hd12"), 12);
	assert_int_equal(extents_drive_index(NULL, "hd999"), 999);
	assert_int_equal(extents_drive_index(NULL, "hd1000"), -1);
	assert_int_equal(extents_drive_index(NULL, "hd01"), -1);
	assert_int_equal(extents_drive_index(NULL, "hd"), -1);
	assert_int_equal(extents_drive_index(NULL, "hd0x"), -1);
	assert_int_equal(extents_drive_index(NULL, "sda"), -1);
	assert_int_equal(extents_drive_index(NULL, "appliance"), -1);
}

/* What the streams mode's replies gave: "INO SIZE NAME;" each. */
static char	got[1024];

static int
take_stream(void *arg, uint64_t ino, int64_t size, const char *name,
    size_t namelen)
{
	size_t n = strlen(got);

	(void)arg;
	snprintf(got + n, sizeof(got) - n, "%llu %lld %.*s;",
	    (unsigned long long)ino, (long long)size, (int)namelen, name);
	return 0;
}

static int
parse_streams(const char *text, long *next)
{
	char why[128];

	got[0] = '\0';
	return streams_parse(text, take_stream, NULL, next, why, sizeof(why));
}

/* Named streams: names in hex (any byte but NUL and '/'), checked
 * numbers, "more" to go on, and the last newline may be lost. */
static void
test_streams(void **state)
{
	long next;

	(void)state;
	assert_int_equal(parse_streams("s 75 68 7061796c6f61642e657865\n"
	    "s 80 -1 3a0a\nend\n", &next), 0);
	assert_string_equal(got, "75 68 payload.exe;80 -1 :\n;");
	assert_int_equal(parse_streams("s 7 1 41\nmore 1200", &next), 1);
	assert_int_equal(next, 1200);
	assert_string_equal(got, "7 1 A;");
	assert_int_equal(parse_streams("end", &next), 0);
	/* Refused: no end, a NUL or '/' in a name, odd or bad hex, a size
	 * under -1, a name over 255 bytes, what is not a stream line. */
	assert_int_equal(parse_streams("s 7 1 41\n", &next), -1);
	assert_int_equal(parse_streams("s 7 1 4100\nend\n", &next), -1);
	assert_int_equal(parse_streams("s 7 1 2f\nend\n", &next), -1);
	assert_int_equal(parse_streams("s 7 1 414\nend\n", &next), -1);
	assert_int_equal(parse_streams("s 7 1 4g\nend\n", &next), -1);
	assert_int_equal(parse_streams("s 7 -2 41\nend\n", &next), -1);
	assert_int_equal(parse_streams("s x 1 41\nend\n", &next), -1);
	assert_int_equal(parse_streams("s 7 1 \nend\n", &next), -1);
	assert_int_equal(parse_streams("t 7 1 41\nend\n", &next), -1);
	assert_int_equal(parse_streams("uncertain walk\nend\n", &next), -1);
	{
		char big[700];

		snprintf(big, sizeof(big), "s 1 1 %0512d\nend\n", 1);
		memset(big + 6, '4', 512);
		assert_int_equal(parse_streams(big, &next), -1);
		big[6 + 510] = '\n';
		memcpy(big + 6 + 511, "end\n", 5);
		assert_int_equal(parse_streams(big, &next), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drive_index),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_same_place),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_streams),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
