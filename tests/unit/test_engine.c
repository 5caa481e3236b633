/* The engine's signature stamp: what the self-check compares with the
 * signature directory to decide on a reload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"

static char dir[64];

static void
write_db(const char *lines)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/a.hdb", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(lines, f);
	fclose(f);
}

#define SIG1	"44d88612fea8a8f36de82e1278abb02f:68:Test.One\n"
#define SIG2	"0123456789abcdef0123456789abcdef:1:Test.Two\n"

/* A signature file changed while the engine loads (freshclam during a
 * 10-60 s load): here, between the stamp and the first read. */
static void
change_db(const char *d)
{
	(void)d;
	write_db(SIG1 SIG2);
}

static void
test_stamp_before_load(void **state)
{
	char err[256], now[64];
	struct engine *e;

	(void)state;
	write_db(SIG1);
	assert_non_null(e = engine_load(dir, NULL, NULL, NULL, err,
	    sizeof(err)));
	engine_dir_stamp(dir, NULL, now, sizeof(now));
	assert_string_equal(engine_dir_stamp_of(e), now);
	engine_unref(e);

	/* The files changed after the stamp: the engine must carry the
	 * stamp of what was there before, or the self-check would take the
	 * engine for current and never load the change. */
	engine_load_hook = change_db;
	assert_non_null(e = engine_load(dir, NULL, NULL, NULL, err,
	    sizeof(err)));
	engine_load_hook = NULL;
	engine_dir_stamp(dir, NULL, now, sizeof(now));
	assert_string_not_equal(engine_dir_stamp_of(e), now);
	engine_unref(e);

	/* The next load carries the current stamp again. */
	assert_non_null(e = engine_load(dir, NULL, NULL, NULL, err,
	    sizeof(err)));
	assert_int_equal(engine_signatures(e), 2);
	assert_string_equal(engine_dir_stamp_of(e), now);
	engine_unref(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamp_before_load),
	};
	char err[256], cmd[96];
	int rc;

	if (engine_global_init(err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/test_engine.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
