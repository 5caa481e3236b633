/* A tree listed in one walk: sentinel-fiemap's list mode as the scanner
 * parses it, on made-up replies and on the program's own output for a
 * tree the test makes (odd names, links, paths too long to name, more
 * than one reply). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "listing.h"
#include "treelist.h"

#define BIG	(64UL * 1024 * 1024)

static int
parse(struct listing *l, const char *text, uint64_t from, uint64_t max,
    uint64_t *next)
{
	char why[256];

	return treelist_parse(text, l, from, max, next, why, sizeof(why));
}

/* TEXT alone, into a listing of its own, freed. */
static int
parse1(const char *text)
{
	struct listing l;
	uint64_t next;
	int r;

	memset(&l, 0, sizeof(l));
	r = parse(&l, text, 0, BIG, &next);
	listing_free(&l);
	return r;
}

static const struct lentry *
entry(const struct listing *l, const char *path)
{
	long i = listing_find(l, path, strlen(path));

	assert_true(i >= 0);
	return &l->e[i];
}

/* Each line as the program writes it; escapes; unreadable and too-deep
 * names; "more" at the byte the next reply starts from. */
static void
test_parse(void **state)
{
	static const char reply[] =
	    "f 16877 2049 2 4096 3 1700000000 5 1700000001 6 /etc\n"
	    "f 33188 2049 12 1234 2 -86400 999999999 1700000001 0 "
	    "/etc/a%20b%25c%0a%ff\n"
	    "f 41471 2049 13 4 1 0 0 0 0 /etc/link\n"
	    "u /etc/gone\n"
	    "t 16877 2049 14 4096 2 0 0 0 0 /etc/deep\n"
	    "t 0 0 0 0 0 0 0 0 0 /etc/deeper\n"
	    "done\nend\n";
	struct listing l;
	const struct lentry *e;
	uint64_t next;
	char first[128];
	size_t n;

	(void)state;
	memset(&l, 0, sizeof(l));
	assert_int_equal(parse(&l, reply, 0, BIG, &next), TL_DONE);
	assert_int_equal(l.n, 6);
	e = entry(&l, "/etc");
	assert_int_equal(e->mode, 040755);
	assert_int_equal(e->dev, 2049);
	assert_int_equal(e->nlink, 3);
	assert_int_equal(e->mtime_ns, 5);
	assert_int_equal(e->ctime_s, 1700000001);
	e = entry(&l, "/etc/a b%c\n\xff");
	assert_int_equal(e->mode, 0100644);
	assert_int_equal(e->ino, 12);
	assert_int_equal(e->size, 1234);
	assert_int_equal(e->mtime_s, -86400);
	assert_int_equal(e->mtime_ns, 999999999);
	assert_int_equal(entry(&l, "/etc/link")->mode, 0120777);
	e = entry(&l, "/etc/gone");
	assert_int_equal(e->mode, 0);
	assert_int_not_equal(e->plan, PLAN_TOO_DEEP);
	e = entry(&l, "/etc/deep");
	assert_int_equal(e->plan, PLAN_TOO_DEEP);
	assert_int_equal(e->mode, 040755);
	e = entry(&l, "/etc/deeper");
	assert_int_equal(e->plan, PLAN_TOO_DEEP);
	assert_int_equal(e->mode, 0);
	listing_free(&l);

	/* Two replies: the first's "more" names the byte after its lines. */
	n = strchr(reply, '\n') - reply + 1;
	snprintf(first, sizeof(first), "%.*smore %zu\n", (int)n, reply, n);
	memset(&l, 0, sizeof(l));
	assert_int_equal(parse(&l, first, 0, BIG, &next), TL_MORE);
	assert_int_equal(next, n);
	assert_int_equal(parse(&l, reply + n, next, BIG, &next), TL_DONE);
	assert_int_equal(l.n, 6);
	listing_free(&l);
	/* The last newline may be lost. */
	assert_int_equal(parse1("u /a\ndone\nend"), TL_DONE);
	/* A "more" at any other byte, or with nothing before it. */
	snprintf(first, sizeof(first), "%.*smore %zu\n", (int)n, reply, n + 1);
	assert_int_equal(parse1(first), TL_REFUSED);
	memset(&l, 0, sizeof(l));
	assert_int_equal(parse(&l, "more 10\n", 10, BIG, &next), TL_REFUSED);
	listing_free(&l);
	assert_int_equal(parse1("u /a\nmore 05\n"), TL_REFUSED);
}

/* What is refused: a listing that did not end its walk, numbers out of
 * range, paths no directory listing gives, escapes the program does not
 * write. */
static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"u /a\nend\n",			/* no "done" */
		"done\nu /a\nend\n",		/* after "done" */
		"done\nend\nu /a\n",		/* after "end" */
		"u /a\ndone\n",			/* no "end" */
		"",
		"x /a\ndone\nend\n",
		"f 0 1 2 3 1 0 0 0 0 /a\ndone\nend\n",		/* mode 0 */
		"f 4294967296 1 2 3 1 0 0 0 0 /a\ndone\nend\n",
		"f 33188 1 2 -3 1 0 0 0 0 /a\ndone\nend\n",	/* size */
		"f 33188 1 2 3 1 0 1000000000 0 0 /a\ndone\nend\n",
		"f 33188 1 2 3 1 0 0 0 -1 /a\ndone\nend\n",
		"f 33188 18446744073709551616 2 3 1 0 0 0 0 /a\ndone\nend\n",
		"f 33188 01 2 3 1 0 0 0 0 /a\ndone\nend\n",
		"f 33188 1 2 3 1 0 0 0 /a\ndone\nend\n",	/* a field */
		"f 33188 1 2 3 1 0 0 0 0  /a\ndone\nend\n",
		"f 33188 1 2 3 1 0 0 0 0 /a b\ndone\nend\n",	/* raw space */
		"u a\ndone\nend\n",
		"u /\ndone\nend\n",
		"u /a/\ndone\nend\n",
		"u /a//b\ndone\nend\n",
		"u /./a\ndone\nend\n",
		"u /a/..\ndone\nend\n",
		"u /a/%2e%2e\ndone\nend\n",	/* escaped printable */
		"u /a%00b\ndone\nend\n",
		"u /a%2fb\ndone\nend\n",
		"u /a%4\ndone\nend\n",
		"u /a%4G\ndone\nend\n",
		"u /a%41\ndone\nend\n",
		"u /a\xff\ndone\nend\n",	/* unescaped */
		"u\ndone\nend\n",
		"t /a\ndone\nend\n",		/* no fields */
		NULL
	};
	size_t i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		print_message("refused line %zu\n", i);
		assert_int_equal(parse1(bad[i]), TL_REFUSED);
	}
	/* ".." and "." inside a longer name are names. */
	assert_int_equal(parse1("u /a/..b\nu /.c\nu /d.\ndone\nend\n"),
	    TL_DONE);
	assert_int_equal(parse1("uncertain walk\nend\n"), TL_UNCERTAIN);
}

/* Paths: up to LISTING_PATH_MAX bytes listed; "t" ones up to 255 more
 * (the name that would not fit); nothing longer. */
static void
test_lengths(void **state)
{
	static const size_t lens[] = { LISTING_PATH_MAX, LISTING_PATH_MAX + 1,
	    LISTING_PATH_MAX + 256, LISTING_PATH_MAX + 257 };
	static const char f[] = "f 16877 1 2 0 1 0 0 0 0 ";
	char *text = malloc(LISTING_PATH_MAX + 300 + 64);
	size_t i, k, len;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		len = lens[i];
		k = strlen(f);
		memcpy(text, f, k);
		text[k] = '/';
		memset(text + k + 1, 'a', len - 1);
		strcpy(text + k + len, "\ndone\nend\n");
		assert_int_equal(parse1(text), len <= LISTING_PATH_MAX ?
		    TL_DONE : TL_REFUSED);
		text[0] = 't';
		assert_int_equal(parse1(text), len <= LISTING_PATH_MAX + 256 ?
		    TL_DONE : TL_REFUSED);
	}
	free(text);
}

/* "over": the program stopped at MAX; and the listing's own bound. */
static void
test_limits(void **state)
{
	struct listing l;
	uint64_t next;

	(void)state;
	assert_int_equal(parse1("u /a\nover\nend\n"), TL_LIMIT);
	memset(&l, 0, sizeof(l));
	assert_int_equal(parse(&l, "u /a\nu /b\ndone\nend\n", 0,
	    sizeof(struct lentry) + 8, &next), TL_LIMIT);
	listing_free(&l);
	memset(&l, 0, sizeof(l));
	assert_int_equal(parse(&l, "u /a\nu /b\ndone\nend\n", 0,
	    2 * sizeof(struct lentry) + 8, &next), TL_DONE);
	listing_free(&l);
}

/* sentinel-fiemap's reply from FROM, in DIR's listing file. */
static char *
run_program(const char *dir, const char *root, uint64_t from, uint64_t max)
{
	char cmd[PATH_MAX * 2], *buf;
	size_t len = 0, cap = 1 << 20;
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "TMPDIR=%s %s %s %llu list %llu", dir,
	    SENTINEL_FIEMAP, root, (unsigned long long)from,
	    (unsigned long long)max);
	assert_non_null(p = popen(cmd, "r"));
	assert_non_null(buf = malloc(cap + 1));
	while ((n = fread(buf + len, 1, cap - len, p)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			assert_non_null(buf = realloc(buf, cap + 1));
		}
	}
	assert_int_equal(pclose(p), 0);
	buf[len] = '\0';
	return buf;
}

/* Every reply of the program on ROOT into L: the parser's result. */
static int
list_with_program(const char *dir, const char *root, struct listing *l,
    uint64_t max, int *replies)
{
	uint64_t from = 0, next;
	char *out;
	int r;

	*replies = 0;
	do {
		out = run_program(dir, root, from, max);
		r = parse(l, out, from, BIG, &next);
		free(out);
		from = next;
		(*replies)++;
	} while (r == TL_MORE && *replies < 100);
	return r;
}

/* Makes D/NAME (a file of SIZE bytes). */
static void
make_file(int d, const char *name, size_t size)
{
	int fd = openat(d, name, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	char buf[512];

	assert_true(fd >= 0);
	memset(buf, 'x', sizeof(buf));
	while (size > 0) {
		size_t k = size < sizeof(buf) ? size : sizeof(buf);

		assert_int_equal(write(fd, buf, k), (ssize_t)k);
		size -= k;
	}
	close(fd);
}

static void
test_program(void **state)
{
	char dir[] = "/tmp/test_treelist.XXXXXX", root[PATH_MAX], name[200];
	const struct lentry *e, *f;
	struct listing l;
	struct stat st;
	int d, sub, k, replies;
	long i;
	size_t ndeep = 0, ntoo = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(root, sizeof(root), "%s/root", dir);
	assert_int_equal(mkdir(root, 0755), 0);
	assert_true((d = open(root, O_RDONLY | O_DIRECTORY)) >= 0);
	make_file(d, "plain", 1000);
	make_file(d, "with space %25 and\nnewline \x01\xfe", 7);
	assert_int_equal(linkat(d, "plain", d, "hard", 0), 0);
	assert_int_equal(symlinkat("plain", d, "sym"), 0);
	assert_int_equal(mkdirat(d, "many", 0755), 0);
	assert_true((sub = openat(d, "many", O_RDONLY | O_DIRECTORY)) >= 0);
	/* Enough for more than one reply (1.5 MB each). */
	for (k = 0; k < 12000; k++) {
		snprintf(name, sizeof(name), "%0150d", k);
		make_file(sub, name, 0);
	}
	close(sub);
	/* A chain deeper than a path can name: 30 names of 199 bytes. */
	memset(name, 'd', 199);
	name[199] = '\0';
	sub = dup(d);
	for (k = 0; k < 30; k++) {
		int next;

		assert_int_equal(mkdirat(sub, name, 0755), 0);
		assert_true((next = openat(sub, name, O_RDONLY |
		    O_DIRECTORY)) >= 0);
		close(sub);
		sub = next;
	}
	make_file(sub, "bottom", 1);
	close(sub);
	close(d);

	memset(&l, 0, sizeof(l));
	assert_int_equal(list_with_program(dir, root, &l, BIG, &replies),
	    TL_DONE);
	assert_true(replies > 1);
	e = entry(&l, "/plain");
	assert_true(S_ISREG(e->mode));
	assert_int_equal(e->size, 1000);
	assert_int_equal(e->nlink, 2);
	assert_int_equal(lstat(strcat(strcpy(name, root), "/plain"), &st), 0);
	assert_int_equal(e->ino, st.st_ino);
	assert_int_equal(e->dev, st.st_dev);
	assert_int_equal(e->mtime_s, st.st_mtim.tv_sec);
	assert_int_equal(e->mtime_ns, st.st_mtim.tv_nsec);
	assert_int_equal(e->ctime_ns, st.st_ctim.tv_nsec);
	f = entry(&l, "/hard");
	assert_int_equal(f->ino, e->ino);
	assert_true(S_ISLNK(entry(&l, "/sym")->mode));
	e = entry(&l, "/with space %25 and\nnewline \x01\xfe");
	assert_int_equal(e->size, 7);
	assert_true(S_ISDIR(entry(&l, "/many")->mode));
	/* Every name, a directory before what it holds. */
	for (i = 0; i < (long)l.n; i++) {
		const char *p = listing_path(&l, (size_t)i);
		long parent = listing_parent(&l, (size_t)i);

		assert_true(parent < i);
		if (l.e[i].plan == PLAN_TOO_DEEP) {
			/* lstat'ed all the same, as lstatnslist would. */
			assert_true(S_ISDIR(l.e[i].mode));
			ntoo++;
		}
		else if (strncmp(p, "/ddd", 4) == 0)
			ndeep++;
	}
	/* The chain: listed while the path can be named, then one name
	 * too deep, and nothing under it. */
	assert_int_equal(ntoo, 1);
	assert_true(ndeep >= 19 && ndeep <= 21);
	assert_int_equal(l.n, 4 + 1 + 12000 + ndeep + ntoo);
	listing_free(&l);

	/* MAX reached: the program stops and says so. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(list_with_program(dir, root, &l, 100000, &replies),
	    TL_LIMIT);
	listing_free(&l);
	/* No such root. */
	memset(&l, 0, sizeof(l));
	strcat(root, "/none");
	assert_int_equal(list_with_program(dir, root, &l, BIG, &replies),
	    TL_UNCERTAIN);
	listing_free(&l);
	snprintf(name, sizeof(name), "rm -rf %s", dir);
	assert_int_equal(system(name), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_program),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
