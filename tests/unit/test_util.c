/* Sizes, durations, integers and byte escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "util.h"

static void
test_sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("64k", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(parse_size("100M", &v), 0);
	assert_int_equal(v, 100ULL << 20);
	assert_int_equal(parse_size("2G", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(parse_size("", &v), -1);
	assert_int_equal(parse_size("M", &v), -1);
	assert_int_equal(parse_size("-1", &v), -1);
	assert_int_equal(parse_size("10MB", &v), -1);
	assert_int_equal(parse_size("99999999999999999999", &v), -1);
	assert_int_equal(parse_size("18014398509481984T", &v), -1);
}

static void
test_durations(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_duration("90", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(parse_duration("15m", &v), 0);
	assert_int_equal(v, 900);
	assert_int_equal(parse_duration("24h", &v), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(parse_duration("7d", &v), 0);
	assert_int_equal(v, 604800);
	assert_int_equal(parse_duration("1w", &v), 0);
	assert_int_equal(v, 604800);
	assert_int_equal(parse_duration("1y", &v), -1);
	assert_int_equal(parse_duration(" 5", &v), -1);
}

static void
test_spans(void **state)
{
	char b[32];

	(void)state;
	format_span(0, b, sizeof(b));
	assert_string_equal(b, "0s");
	format_span(44600, b, sizeof(b));
	assert_string_equal(b, "45s");
	format_span(185000, b, sizeof(b));
	assert_string_equal(b, "3m05s");
	format_span(7800000, b, sizeof(b));
	assert_string_equal(b, "2h10m");
	format_span(-1, b, sizeof(b));
	assert_string_equal(b, "-");
}

static void
test_ints(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(parse_int("12", 0, 64, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(parse_int("65", 0, 64, &v), -1);
	assert_int_equal(parse_int("-1", 0, 64, &v), -1);
	assert_int_equal(parse_int("1x", 0, 64, &v), -1);
	assert_int_equal(parse_int("", 0, 64, &v), -1);
}

static void
test_escape(void **state)
{
	char *s;

	(void)state;
	s = escape_bytes("/etc/passwd", 11);
	assert_string_equal(s, "/etc/passwd");
	free(s);
	s = escape_bytes("a\nb\\c\x7f\xff", 7);
	assert_string_equal(s, "a\\x0ab\\\\c\\x7f\\xff");
	free(s);
	s = escape_bytes("a\0b", 3);
	assert_string_equal(s, "a\\x00b");
	free(s);
	s = escape_bytes("", 0);
	assert_string_equal(s, "");
	free(s);
	/* For people: backslashes and UTF-8 as they are; controls, C1
	 * (U+009B), a bidirectional override (U+202E), invalid and overlong
	 * bytes escaped. */
	s = display_bytes("C:\\Users\\Ann\xc3\xa9.exe", 18);
	assert_string_equal(s, "C:\\Users\\Ann\xc3\xa9.exe");
	free(s);
	s = display_bytes("a\n\xc2\x9b\xe2\x80\xae" "b\xff\xc0\xaf\xe2\x82", 13);
	assert_string_equal(s, "a\\x0a\\xc2\\x9b\\xe2\\x80\\xaeb\\xff\\xc0"
	    "\\xaf\\xe2\\x82");
	free(s);
}

static void
test_names(void **state)
{
	(void)state;
	assert_int_equal(name_matches("", "web1"), 1);	/* none: all */
	assert_int_equal(name_matches("  \t ", "web1"), 1);
	assert_int_equal(name_matches("*", "web1"), 1);
	assert_int_equal(name_matches("web*", "web1"), 1);
	assert_int_equal(name_matches("web*", "db1"), 0);
	assert_int_equal(name_matches("db? \tweb*", "web1"), 1);
	assert_int_equal(name_matches("db? web[0-9]", "db1"), 1);
	assert_int_equal(name_matches("db? web[0-9]", "db10"), 0);
	assert_int_equal(name_matches("web1", "web10"), 0);	/* whole name */
	assert_int_equal(name_matches("a-*", "a-b c"), 1);
}

static void
test_mkdir(void **state)
{
	char base[] = "/tmp/sentinel-mkdir-XXXXXX", path[256];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(path, sizeof(path), "%s/a/b/c", base);
	assert_int_equal(mkdir_p(path, 0700), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(mkdir_p(path, 0700), 0);	/* exists: fine */
	snprintf(path, sizeof(path), "%s/x/y/file.db", base);
	assert_int_equal(mkdir_parent(path, 0750), 0);
	snprintf(path, sizeof(path), "%s/x/y", base);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(mkdir_parent("file.db", 0750), 0);
	/* A file in the way is an error. */
	snprintf(path, sizeof(path), "%s/x/y/f", base);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/x/y/f/g", base);
	assert_int_equal(mkdir_p(path, 0700), -1);
	snprintf(path, sizeof(path), "rm -rf %s", base);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_mkdir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
