/* The command table and the check of requests against it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmdtab.h"

/* Checks JSON against command CMD; the message, or "" if it passes. */
static const char *
check(const char *cmd, const char *json)
{
	static char err[512];
	json_error_t je;
	json_t *req = json_loads(json, JSON_ALLOW_NUL, &je);
	const struct cmd_entry *e = cmd_find(cmd);

	assert_non_null(req);
	assert_non_null(e);
	err[0] = '\0';
	if (cmd_check(e, req, err, sizeof(err)) == 0)
		assert_string_equal(err, "");
	else
		assert_true(err[0] != '\0');
	json_decref(req);
	return err;
}

static void
test_table(void **state)
{
	size_t i, j;
	int a;

	(void)state;
	assert_true(cmd_count >= 12);
	for (i = 0; i < cmd_count; i++) {
		assert_ptr_equal(cmd_find(cmd_table[i].name), &cmd_table[i]);
		/* The usage starts with the name; the help is there. */
		assert_memory_equal(cmd_table[i].usage, cmd_table[i].name,
		    strlen(cmd_table[i].name));
		assert_true(strlen(cmd_table[i].help) > 10);
		for (j = i + 1; j < cmd_count; j++)
			assert_string_not_equal(cmd_table[i].name,
			    cmd_table[j].name);
	}
	assert_null(cmd_find("frobnicate"));
	for (a = 0; a < ARG_COUNT; a++) {
		assert_non_null(cmd_args[a].name);
		assert_true(cmd_args[a].type != CA_INT ||
		    cmd_args[a].min <= cmd_args[a].max);
	}
}

static void
test_guest(void **state)
{
	char big[2048];

	(void)state;
	assert_string_equal(check("scan", "{\"cmd\":\"scan\",\"id\":1,"
	    "\"guest\":\"web1\"}"), "");
	assert_string_equal(check("scan", "{\"cmd\":\"scan\"}"),
	    "this command needs a string \"guest\"");
	assert_string_equal(check("scan", "{\"guest\":5}"),
	    "this command needs a string \"guest\"");
	assert_string_equal(check("cancel", "{\"guest\":\"\"}"),
	    "\"guest\" must be 1 to 1024 bytes, no NUL");
	assert_string_equal(check("results", "{\"guest\":\"a\\u0000b\"}"),
	    "\"guest\" must be 1 to 1024 bytes, no NUL");
	snprintf(big, sizeof(big), "{\"guest\":\"%01025d\"}", 0);
	assert_string_equal(check("results", big),
	    "\"guest\" must be 1 to 1024 bytes, no NUL");
	/* Optional: none is every guest. */
	assert_string_equal(check("pause", "{}"), "");
	assert_string_equal(check("history", "{\"guest\":\"x\"}"), "");
	assert_string_equal(check("status", "{\"guest\":\"x\"}"),
	    "status takes no \"guest\"");
}

static void
test_args(void **state)
{
	(void)state;
	assert_string_equal(check("scan", "{\"guest\":\"x\",\"wait\":true,"
	    "\"follow\":false,\"full\":true}"), "");
	assert_string_equal(check("scan", "{\"guest\":\"x\",\"wait\":\"yes\"}"),
	    "\"wait\" must be true or false");
	assert_string_equal(check("scan", "{\"guest\":\"x\",\"limit\":3}"),
	    "scan takes no \"limit\" (it takes \"guest\", \"wait\", "
	    "\"follow\", \"full\" and \"all\")");
	assert_string_equal(check("guests", "{\"x\\u0001\":1}"),
	    "guests takes no \"x\\x01\" (it takes no argument)");
	assert_string_equal(check("history", "{\"limit\":100000}"), "");
	assert_string_equal(check("history", "{\"limit\":0}"),
	    "\"limit\" must be an integer from 1 to 100000");
	assert_string_equal(check("history", "{\"limit\":1.5}"),
	    "\"limit\" must be an integer from 1 to 100000");
	assert_string_equal(check("results", "{\"guest\":\"x\",\"scan\":-1}"),
	    "\"scan\" must be an integer from 1 up");
	assert_string_equal(check("results", "{\"guest\":\"x\",\"scan\":"
	    "9223372036854775807,\"detections_from\":null}"), "");
	/* A page's "next" may be null; an option's value may not. */
	assert_string_equal(check("history", "{\"before\":null}"), "");
	assert_string_equal(check("history", "{\"limit\":null}"),
	    "\"limit\" must be an integer from 1 to 100000");
}

static void
test_alone(void **state)
{
	(void)state;
	assert_string_equal(check("scan", "{\"all\":true}"), "");
	assert_string_equal(check("scan", "{\"all\":true,\"wait\":false}"), "");
	assert_string_equal(check("scan", "{\"all\":true,\"guest\":\"x\"}"),
	    "\"all\" goes without \"guest\", \"wait\", \"follow\" and "
	    "\"full\"");
	assert_string_equal(check("scan", "{\"all\":true,\"full\":true}"),
	    "\"all\" goes without \"guest\", \"wait\", \"follow\" and "
	    "\"full\"");
	/* "all": false is a scan of one guest, which it then needs. */
	assert_string_equal(check("scan", "{\"all\":false}"),
	    "this command needs a string \"guest\"");
}

static void
test_takers(void **state)
{
	char buf[128];

	(void)state;
	cmd_takers(ARG_WAIT, buf, sizeof(buf));
	assert_string_equal(buf, "scan");
	cmd_takers(ARG_LIMIT, buf, sizeof(buf));
	assert_string_equal(buf, "history");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_guest),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_alone),
		cmocka_unit_test(test_takers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
