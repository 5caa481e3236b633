/*
 * Signature sums and hash matching (sigsum.c, sigdb.c) against real
 * libclamav: a line's class; that an update changes only the classes of
 * what it adds; plain files and .cvd/.cld containers read alike; a file
 * known only by its hashes is named exactly as libclamav names it when it
 * scans the file, and not when an allowlist or ignore list says so; the
 * type and layers libclamav reports for a file make its classes; how old
 * a directory's signatures are (sig_dir_time).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <clamav.h>
#include <cmocka.h>

#include "engine.h"
#include "sigdb.h"
#include "sigsum.h"
#include "stamp.h"

static char dir[64];

static void
put_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void
rm_files(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -f %s/*", dir);
	assert_int_equal(system(cmd), 0);
}

static int
setup(void **state)
{
	char err[256];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sentinel-sigdb.XXXXXX");
	if (mkdtemp(dir) == NULL || engine_global_init(err, sizeof(err)) == -1)
		return -1;
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

static uint32_t
class_of(const char *ext, const char *line)
{
	static struct sigsum s;
	int i;

	memset(&s, 0, sizeof(s));
	sigsum_line(&s, ext, line, strlen(line));
	for (i = 0; i < SIG_NCLASSES; i++)
		if (s.d[i] != 0)
			return SC_BIT(i);
	return 0;
}

static void
test_line_class(void **state)
{
	(void)state;
	assert_int_equal(class_of(".ndb", "A:1:*:4d5a9000"), SC_BIT(SC_PE));
	assert_int_equal(class_of(".ndb", "A:6:*:7f454c46"), SC_BIT(SC_ELF));
	assert_int_equal(class_of(".ndb", "A:0:*:41414141"), SC_BIT(SC_ANY));
	assert_int_equal(class_of(".ndb", "A:7:*:41414141\r\n"),
	    SC_BIT(SC_TEXT));
	assert_int_equal(class_of(".ndb", "A:99:*:41"), SC_BIT(SC_OTHER));
	assert_int_equal(class_of(".ndb", "A"), SC_BIT(SC_OTHER));
	assert_int_equal(class_of(".ldb",
	    "B;Engine:51-255,Target:1;0;41414141"), SC_BIT(SC_PE));
	assert_int_equal(class_of(".ldb", "B;Engine:51-255;0;41414141"),
	    SC_BIT(SC_ANY));
	assert_int_equal(class_of(".mdb", "1024:abcd:C"), SC_BIT(SC_PE));
	assert_int_equal(class_of(".cdb", "x"), SC_BIT(SC_CONTAINER));
	assert_int_equal(class_of(".ftm", "x"), SC_BIT(SC_OTHER));
	assert_int_equal(class_of(".fp", "x"), 0);	/* a set of its own */
	assert_int_equal(class_of(".ndb", "# a comment"), 0);
	assert_int_equal(class_of(".ndb", ""), 0);
	assert_false(sigsum_wants(".hdb"));
	assert_false(sigsum_wants(".ndu"));
	assert_true(sigsum_wants(".ndb"));
}

#define NDB	"Old.Any:0:*:5a5a5a5a5a5a5a5a\n"
#define HDB	"d41d8cd98f00b204e9800998ecf8427e:0:Empty.Never\n"

static uint32_t
changed_by(const char *file, const char *text)
{
	static struct sigsum a, b;
	char err[256];

	rm_files();
	put_file("base.ndb", NDB);
	put_file("base.hdb", HDB);
	assert_int_equal(sigdb_summary(dir, NULL, &a, err, sizeof(err)), 0);
	put_file(file, text);
	assert_int_equal(sigdb_summary(dir, NULL, &b, err, sizeof(err)), 0);
	return sigsum_changed(&a, &b);
}

static void
test_update_classes(void **state)
{
	(void)state;
	assert_int_equal(changed_by("new.ndb", "New.PE:1:*:4d5a41414141\n"),
	    SC_BIT(SC_PE));
	assert_int_equal(changed_by("new.ldb",
	    "New.Elf;Engine:51-255,Target:6;0;7f454c4641414141\n"),
	    SC_BIT(SC_ELF));
	/* Hash signatures are not summed; an allowlist line added takes
	 * detections away only, one removed is "every file". */
	assert_int_equal(changed_by("new.hdb",
	    "0123456789abcdef0123456789abcdef:5:New.Hash\n"), 0);
	assert_int_equal(changed_by("new.fp",
	    "0123456789abcdef0123456789abcdef:5:Some.Fp\n"), 0);
	assert_int_equal(changed_by("base.ign2", "Old.Any\n"), 0);
	assert_int_equal(changed_by("new.ftm", "0:0:41424344:Test:CL_TYPE_ANY:"
	    "CL_TYPE_TEXT_ASCII\n"), SC_BIT(SC_OTHER));
	/* The order of lines does not count. */
	assert_int_equal(changed_by("base.ndb", "B:1:*:4141\n" NDB),
	    SC_BIT(SC_PE));
}

/* A .cvd (gzip) or .cld (plain tar) holding DIR's FILES, made by tar. */
static void
make_container(const char *name, const char *files, int gz)
{
	char cmd[512], hdr[512];
	FILE *f;

	memset(hdr, ' ', sizeof(hdr));
	memcpy(hdr, "ClamAV-VDB:test", 15);
	snprintf(cmd, sizeof(cmd), "%s/hdr", dir);
	assert_non_null(f = fopen(cmd, "w"));
	fwrite(hdr, 1, sizeof(hdr), f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && tar -c%sf body %s && cat hdr body "
	    "> %s && rm hdr body %s", dir, gz ? "z" : "", files, name, files);
	assert_int_equal(system(cmd), 0);
}

static void
test_allow_removed(void **state)
{
	static struct sigsum a, b;
	char err[256], line[64];
	FILE *f;
	int i;

	(void)state;
	rm_files();
	put_file("base.ndb", NDB);
	put_file("local.ign2", "One.Sig\nTwo.Sig\n");
	assert_int_equal(sigdb_summary(dir, NULL, &a, err, sizeof(err)), 0);
	assert_int_equal(a.nallow, 2);
	put_file("local.ign2", "Two.Sig\nThree.Sig\n");
	assert_int_equal(sigdb_summary(dir, NULL, &b, err, sizeof(err)), 0);
	assert_int_equal(sigsum_changed(&a, &b), SC_BIT(SC_OTHER));
	assert_int_equal(sigsum_changed(&b, &b), 0);
	/* Too many lines to keep: summed, any change is "every file". */
	snprintf(line, sizeof(line), "%s/big.ign2", dir);
	assert_non_null(f = fopen(line, "w"));
	for (i = 0; i < SIGSUM_MAX_ALLOW + 1; i++)
		fprintf(f, "Sig.%d\n", i);
	fclose(f);
	assert_int_equal(sigdb_summary(dir, NULL, &a, err, sizeof(err)), 0);
	assert_int_equal(a.nallow, 0);
	put_file("more.fp", "0123456789abcdef0123456789abcdef:5:Some.Fp\n");
	assert_int_equal(sigdb_summary(dir, NULL, &b, err, sizeof(err)), 0);
	assert_int_equal(sigsum_changed(&a, &b), SC_BIT(SC_OTHER));
}

static void
test_containers(void **state)
{
	static struct sigsum plain, cvd, cld;
	char err[256];

	(void)state;
	rm_files();
	put_file("daily.ndb", NDB "New.PE:1:*:4d5a41414141\n");
	put_file("daily.ldb", "E;Engine:51-255,Target:6;0;7f454c46\n");
	put_file("daily.hdb", HDB);
	assert_int_equal(sigdb_summary(dir, NULL, &plain, err, sizeof(err)),
	    0);
	make_container("daily.cvd", "daily.ndb daily.ldb daily.hdb", 1);
	assert_int_equal(sigdb_summary(dir, NULL, &cvd, err, sizeof(err)), 0);
	assert_memory_equal(&plain, &cvd, sizeof(plain));
	rm_files();
	put_file("daily.ndb", NDB "New.PE:1:*:4d5a41414141\n");
	put_file("daily.ldb", "E;Engine:51-255,Target:6;0;7f454c46\n");
	make_container("daily.cld", "daily.ndb daily.ldb", 0);
	assert_int_equal(sigdb_summary(dir, NULL, &cld, err, sizeof(err)), 0);
	assert_memory_equal(&plain, &cld, sizeof(plain));
	/* A container cut short is an error, not a smaller sum. */
	snprintf(err, sizeof(err), "%s/daily.cld", dir);
	assert_int_equal(truncate(err, 700), 0);
	assert_int_equal(sigdb_summary(dir, NULL, &cld, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cut short"));
}

/* Sets the modification time of DIR's NAME to T. */
static void
set_mtime(const char *name, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void
test_dir_time(void **state)
{
	char path[256], hdr[512];
	FILE *f;

	(void)state;
	rm_files();
	assert_int_equal(sig_dir_time(dir), 0);
	assert_int_equal(sig_dir_time("/nonexistent"), 0);
	/* Without a .cvd or .cld: the newest database file's time; other
	 * files do not count. */
	put_file("local.hdb", HDB);
	put_file("other.ndb", NDB);
	put_file("notes.txt", "not a database\n");
	set_mtime("local.hdb", 1700000000);
	set_mtime("other.ndb", 1700000500);
	set_mtime("notes.txt", 1800000000);
	assert_int_equal(sig_dir_time(dir), 1700000500);
	/* A .cld's header gives its build time (its last field), whatever
	 * the file's time; and then local files do not count. */
	memset(hdr, ' ', sizeof(hdr));
	snprintf(hdr, sizeof(hdr), "ClamAV-VDB:04 Dec 2026 08-00 +0000:27100:"
	    "2077000:90:X:sig:builder:1796457600");
	hdr[strlen(hdr)] = ' ';
	snprintf(path, sizeof(path), "%s/daily.cld", dir);
	assert_non_null(f = fopen(path, "w"));
	fwrite(hdr, 1, sizeof(hdr), f);
	fclose(f);
	set_mtime("other.ndb", 1800000000);
	assert_int_equal(sig_dir_time(dir), 1796457600);
	/* A header without that field: the file's time. */
	memset(hdr, ' ', sizeof(hdr));
	memcpy(hdr, "ClamAV-VDB:test", 15);
	assert_non_null(f = fopen(path, "w"));
	fwrite(hdr, 1, sizeof(hdr), f);
	fclose(f);
	set_mtime("daily.cld", 1750000000);
	assert_int_equal(sig_dir_time(dir), 1800000000);
}

static const char content[] = "this file is named by a hash signature\n";

/* The hashes of S as sigdb_file has them; HEX: its md5 in hex. */
static void
file_of(const char *s, struct sigdb_file *f, char *hex, char *sha256hex)
{
	unsigned int i;

	memset(f, 0, sizeof(*f));
	f->size = strlen(s);
	cl_hash_data("md5", s, f->size, f->md5, NULL);
	cl_hash_data("sha1", s, f->size, f->sha1, NULL);
	cl_hash_data("sha256", s, f->size, f->sha256, NULL);
	for (i = 0; i < 16; i++)
		sprintf(hex + 2 * i, "%02x", f->md5[i]);
	for (i = 0; i < 32; i++)
		sprintf(sha256hex + 2 * i, "%02x", f->sha256[i]);
}

static void
test_match(void **state)
{
	struct sigdb_file f[3];
	const char *hits[ENGINE_NKINDS];
	char md5[33], sha[65], other[33], osha[65], line[256], err[256];
	struct engine *e;

	(void)state;
	rm_files();
	put_file("base.ndb", NDB);
	file_of(content, &f[0], md5, sha);
	file_of("another file\n", &f[1], other, osha);
	file_of("a third one\n", &f[2], other, osha);
	snprintf(line, sizeof(line), "%s:%zu:Test.ByMd5\n", md5,
	    strlen(content));
	put_file("new.hdb", line);
	/* A wildcard size needs a minimum functionality level. */
	snprintf(line, sizeof(line), "%s:*:Test.BySha256:73\n", osha);
	put_file("new.hsb", line);
	/* libclamav's name for the file it scans... */
	assert_non_null(e = engine_load(dir, NULL, NULL, NULL, err,
	    sizeof(err)));
	assert_int_equal(engine_scan_mem(e, content, strlen(content), "x",
	    hits, NULL, err, sizeof(err)), ENGINE_INFECTED);
	/* ...is the name its hashes get, without the file. */
	assert_int_equal(sigdb_match(dir, f, 3, err, sizeof(err)), 0);
	assert_non_null(f[0].name);
	assert_string_equal(f[0].name, hits[ENGINE_CLAMAV]);
	assert_null(f[1].name);
	assert_non_null(f[2].name);
	assert_string_equal(f[2].name, "Test.BySha256.UNOFFICIAL");
	engine_unref(e);
	free(f[0].name);
	free(f[2].name);

	/* A size that differs is no match. */
	f[0].size++;
	assert_int_equal(sigdb_match(dir, f, 1, err, sizeof(err)), 0);
	assert_null(f[0].name);
	f[0].size--;
	/* Allowlisted, or the signature ignored: not named. */
	snprintf(line, sizeof(line), "%s:%zu:Allowed\n", md5, strlen(content));
	put_file("local.fp", line);
	assert_int_equal(sigdb_match(dir, f, 3, err, sizeof(err)), 0);
	assert_null(f[0].name);
	assert_non_null(f[2].name);
	free(f[2].name);
	rm_files();
	put_file("base.ndb", NDB);
	snprintf(line, sizeof(line), "%s:%zu:Test.ByMd5\n", md5,
	    strlen(content));
	put_file("new.hdb", line);
	put_file("local.ign2", "Test.ByMd5\n");
	assert_int_equal(sigdb_match(dir, f, 1, err, sizeof(err)), 0);
	assert_null(f[0].name);
	/* In a signed container the name is libclamav's official one. */
	rm_files();
	put_file("daily.hdb", line);
	make_container("daily.cvd", "daily.hdb", 1);
	assert_int_equal(sigdb_match(dir, f, 1, err, sizeof(err)), 0);
	assert_non_null(f[0].name);
	assert_string_equal(f[0].name, "Test.ByMd5");
	free(f[0].name);
}

static void
test_file_classes(void **state)
{
	static const char zipped[] = "zip -q -j %s/t.zip %s/base.ndb";
	const char *hits[ENGINE_NKINDS];
	struct engine_seen seen;
	char err[256], cmd[256], *buf;
	struct engine *e;
	size_t len;
	FILE *f;

	(void)state;
	rm_files();
	put_file("base.ndb", NDB);
	assert_non_null(e = engine_load(dir, NULL, NULL, NULL, err,
	    sizeof(err)));
	/* Text: one layer. */
	assert_int_equal(engine_scan_mem(e, content, strlen(content), "t",
	    hits, &seen, err, sizeof(err)), ENGINE_CLEAN);
	assert_int_equal(seen.layers, 1);
	assert_string_equal(seen.type, "CL_TYPE_TEXT_ASCII");
	assert_int_equal(sigsum_file_classes(seen.type, seen.layers),
	    SC_ALWAYS | SC_BIT(SC_TEXT) | SC_BIT(SC_HTML) | SC_BIT(SC_MAIL));
	/* An ELF executable. */
	assert_non_null(f = fopen("/bin/true", "r"));
	assert_non_null(buf = malloc(1 << 20));
	len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	assert_int_equal(engine_scan_mem(e, buf, len, "e", hits, &seen, err,
	    sizeof(err)), ENGINE_CLEAN);
	assert_string_equal(seen.type, "CL_TYPE_ELF");
	assert_int_equal(sigsum_file_classes(seen.type, seen.layers),
	    SC_ALWAYS | SC_BIT(SC_ELF));
	/* A zip: its member is a second layer, so every class. */
	snprintf(cmd, sizeof(cmd), zipped, dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/t.zip", dir);
	assert_non_null(f = fopen(cmd, "r"));
	len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	assert_int_equal(engine_scan_mem(e, buf, len, "z", hits, &seen, err,
	    sizeof(err)), ENGINE_CLEAN);
	assert_true(seen.layers > 1);
	assert_int_equal(sigsum_file_classes(seen.type, seen.layers),
	    SC_EVERY);
	assert_int_equal(sigsum_file_classes(NULL, 0), SC_EVERY);
	assert_int_equal(sigsum_file_classes("CL_TYPE_NEW_ONE", 1), SC_EVERY);
	free(buf);
	engine_unref(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_class),
		cmocka_unit_test(test_update_classes),
		cmocka_unit_test(test_allow_removed),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_dir_time),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_file_classes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
