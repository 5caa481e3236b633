/* Time windows: parsing, wrapping midnight, the next opening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "window.h"

static void
test_parse(void **state)
{
	struct windows w;
	char err[128];

	(void)state;
	assert_int_equal(windows_parse("", &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 0);
	assert_true(windows_open_at(&w, 0));
	assert_int_equal(windows_parse("01:00-06:00, 13:00-14:30", &w, err,
	    sizeof(err)), 0);
	assert_int_equal(w.n, 2);
	assert_false(windows_open_at(&w, 59));
	assert_true(windows_open_at(&w, 60));
	assert_true(windows_open_at(&w, 359));
	assert_false(windows_open_at(&w, 360));
	assert_true(windows_open_at(&w, 14 * 60 + 29));
	assert_false(windows_open_at(&w, 14 * 60 + 30));
	assert_int_equal(windows_parse("22:00-02:00", &w, err, sizeof(err)), 0);
	assert_true(windows_open_at(&w, 23 * 60));
	assert_true(windows_open_at(&w, 60));
	assert_false(windows_open_at(&w, 2 * 60));
	assert_int_equal(windows_parse("00:00-24:00", &w, err, sizeof(err)), 0);
	assert_true(windows_open_at(&w, 1439));
	assert_int_equal(windows_parse("18:00-00:00", &w, err, sizeof(err)), 0);
	assert_true(windows_open_at(&w, 1439));
	assert_false(windows_open_at(&w, 0));
}

static void
test_bad(void **state)
{
	static const char *bad[] = { "1:00-2:00", "01:00", "01:00-01:00",
	    "25:00-26:00", "01:60-02:00", "01:00-02:00,", "01:00-02:00;x",
	    "a", "24:00-01:00", "01:00 - 02:00" };
	struct windows w;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(windows_parse(bad[i], &w, err, sizeof(err)),
		    -1);
}

static void
test_next_open(void **state)
{
	struct windows w;
	char err[128];
	int64_t day = 1800057600LL * 1000;	/* midnight UTC */

	(void)state;
	assert_int_equal(windows_parse("01:00-06:00", &w, err, sizeof(err)), 0);
	assert_int_equal(windows_next_open(&w, day), day + 3600 * 1000);
	assert_int_equal(windows_next_open(&w, day + 7200 * 1000),
	    day + 7200 * 1000);
	assert_int_equal(windows_next_open(&w, day + 7 * 3600 * 1000),
	    day + 25 * 3600 * 1000LL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_next_open),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
