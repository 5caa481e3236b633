/* The option table and the INI parser: defaults, bounds, errors by line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char *
write_conf(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/sentinel-conf-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int
load(struct config *c, const char *text, char *err, size_t errlen)
{
	char *path = write_conf(text);
	int rc;

	config_defaults(c);
	rc = config_load(c, path, err, errlen);
	if (rc == -1) {
		/* Messages name the file; tests compare what follows it. */
		size_t n = strlen(path);
		assert_memory_equal(err, path, n);
		memmove(err, err + n, strlen(err + n) + 1);
	}
	unlink(path);
	return rc;
}

static void
test_defaults(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_string_equal(c.libvirt_uri, "qemu:///system");
	assert_string_equal(c.control_socket, "/run/sentinel/sentineld.sock");
	assert_string_equal(c.state_path, "/var/lib/sentinel/state.db");
	assert_string_equal(c.clamav_database, "");
	assert_int_equal(c.max_concurrent_scans, 0);
	assert_int_equal(c.max_file_size, 100ULL << 20);
	assert_int_equal(c.libvirt_refresh, 60);
	config_free(&c);
}

static void
test_every_default_parses(void **state)
{
	struct config c;
	char err[256];
	size_t i;

	(void)state;
	config_defaults(&c);
	for (i = 0; i < config_noptions; i++) {
		const struct opt_entry *o = &config_options[i];

		assert_non_null(o->help);
		assert_int_equal(config_set(&c, o->section, o->name, o->def,
		    err, sizeof(err)), 0);
	}
	config_free(&c);
}

static void
test_values(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(load(&c,
	    "; comment\n"
	    "[libvirt]\nuri = qemu+ssh://host/system\nrefresh = 2m\n"
	    "[guestfs]\nbackend = direct\nbackend_settings = force_tcg\n"
	    "[scan]\nmax_concurrent_scans = 3\nmax_file_size = 25M\n",
	    err, sizeof(err)), 0);
	assert_string_equal(c.libvirt_uri, "qemu+ssh://host/system");
	assert_int_equal(c.libvirt_refresh, 120);
	assert_string_equal(c.guestfs_backend, "direct");
	assert_string_equal(c.guestfs_backend_settings, "force_tcg");
	assert_int_equal(c.max_concurrent_scans, 3);
	assert_int_equal(c.max_file_size, 25ULL << 20);
	config_free(&c);
}

static void
expect_error(const char *text, const char *msg)
{
	struct config c;
	char err[256];

	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_string_equal(err, msg);
	config_free(&c);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("[libvirt]\nuri = x\n[nope]\nkey = 1\n",
	    ":3: unknown section [nope]");
	expect_error("[libvirt]\nuri = x\n  [empty]\n", ":3: unknown section [empty]");
	expect_error("[libvirt]\n\nurl = x\n",
	    ":3: unknown option \"url\" in section [libvirt]");
	expect_error("[scan]\nmax_concurrent_scans = 65\n",
	    ":2: max_concurrent_scans: \"65\" is not an integer from 0 to 64");
	expect_error("[scan]\nmax_concurrent_scans = two\n",
	    ":2: max_concurrent_scans: \"two\" is not an integer from 0 to 64");
	expect_error("[scan]\nmax_file_size = 0\n",
	    ":2: max_file_size: \"0\" is not a size from 1 to 4294967296 bytes");
	expect_error("[scan]\nmax_file_size = 12Q\n",
	    ":2: max_file_size: \"12Q\" is not a size from 1 to 4294967296 bytes");
	expect_error("[libvirt]\nrefresh = 0s\n",
	    ":2: refresh: \"0s\" is not a duration from 1 to 86400 seconds");
	expect_error("[libvirt]\nuri = a\nuri = b\n",
	    ":3: option \"uri\" in [libvirt] given twice");
	/* A syntax error before a bad value is the one reported. */
	expect_error("[libvirt\nuri = a\n[scan]\nmax_file_size = x\n",
	    ":1: syntax error (expected \"[section]\" or \"name = value\")");
	expect_error("[libvirt]\njust words\n",
	    ":2: syntax error (expected \"[section]\" or \"name = value\")");
}

static void
test_schedule_and_guests(void **state)
{
	const struct guest_conf *g;
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(load(&c,
	    "[schedule]\ninterval = 12h\nwindows = 01:00-06:00\n"
	    "[scan]\nmax_io_pressure = 12.5\nread_rate = 10M\n"
	    "[guest web01]\nexclude = yes\npriority = 5\n"
	    "[guest db 2]\nwindows = 22:00-02:00\ninterval = 1h\n"
	    "[guest web01]\ninterval = 2d\n",
	    err, sizeof(err)), 0);
	assert_int_equal(c.interval, 12 * 3600);
	assert_string_equal(c.windows, "01:00-06:00");
	assert_true(c.max_io_pressure == 12.5);
	assert_int_equal(c.read_rate, 10ULL << 20);
	g = config_guest(&c, "web01");
	assert_non_null(g);
	assert_int_equal(g->set, GUEST_OPT_EXCLUDE | GUEST_OPT_PRIORITY |
	    GUEST_OPT_INTERVAL);
	assert_true(g->exclude);
	assert_int_equal(g->priority, 5);
	assert_int_equal(g->interval, 2 * 86400);
	g = config_guest(&c, "db 2");
	assert_non_null(g);
	assert_string_equal(g->windows, "22:00-02:00");
	assert_null(config_guest(&c, "web02"));
	config_free(&c);

	expect_error("[guest web01]\nexclude = maybe\n",
	    ":2: exclude: \"maybe\" is not yes or no");
	expect_error("[guest web01]\ncolour = red\n",
	    ":2: unknown option \"colour\" in section [guest web01] "
	    "(known: interval, windows, exclude, priority, exclude_paths, "
	    "scan_on_shutdown)");
	expect_error("[guest a]\npriority = 1\n[guest a]\npriority = 2\n",
	    ":4: option \"priority\" in [guest a] given twice");
	expect_error("[schedule]\nwindows = 1-2\n",
	    ":2: windows: \"1-2\" is not a list of windows like "
	    "01:00-06:00,13:00-14:00");
	expect_error("[scan]\nmax_cpu_pressure = 101\n",
	    ":2: max_cpu_pressure: \"101\" is not a number from 0 to 100");
	expect_error("[guest ]\npriority = 1\n", ":1: unknown section [guest ]");
}

/* [fleet] storage NAME = PREFIX... CAP lines: parsed, matched by prefix
 * (the first storage that has one), printed back as given, refused with
 * the line's reason. */
static void
test_fleet_storage(void **state)
{
	const struct fleet_storage *st;
	struct config c, d;
	char path[] = "/tmp/sentinel-print-XXXXXX", err[256];
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(load(&c,
	    "[fleet]\ndatabase = service=fleet\nlease = 30s\n"
	    "storage ceph = rbd:volumes/ rbd:vms/ 4\n"
	    "storage  nfs =  /srv/nfs/\t/mnt/nfs/  2\n"
	    "storage all = / 1\n",
	    err, sizeof(err)), 0);
	assert_int_equal(c.fleet_lease, 30);
	assert_non_null(st = config_storage(&c, "rbd:vms/guest-1"));
	assert_string_equal(st->name, "ceph");
	assert_int_equal(st->cap, 4);
	assert_int_equal(st->n, 2);
	assert_non_null(st = config_storage(&c, "/mnt/nfs/a.qcow2"));
	assert_string_equal(st->name, "nfs");
	assert_int_equal(st->cap, 2);
	assert_string_equal(st->prefixes[0], "/srv/nfs/");
	/* The first that matches: "/" is after nfs. */
	assert_string_equal(config_storage(&c, "/srv/nfs/x")->name, "nfs");
	assert_string_equal(config_storage(&c, "/var/lib/x")->name, "all");
	assert_null(config_storage(&c, "rbd:images/x"));
	/* Printed as given, read back the same. */
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	config_print(&c, f);
	fclose(f);
	config_defaults(&d);
	assert_int_equal(config_load(&d, path, err, sizeof(err)), 0);
	unlink(path);
	assert_non_null(st = config_storage(&d, "/mnt/nfs/a"));
	assert_string_equal(st->name, "nfs");
	assert_int_equal(st->cap, 2);
	assert_int_equal(st->n, 2);
	assert_int_equal(config_storage(&d, "rbd:volumes/v")->cap, 4);
	config_free(&c);
	config_free(&d);

	expect_error("[fleet]\nstorage ceph = 4\n", ":2: storage ceph: "
	    "\"PREFIX... CAP\": one or more disk source prefixes, then the "
	    "scans at once fleet-wide, 1 to 1000");
	expect_error("[fleet]\nstorage ceph = /a 0\n", ":2: storage ceph: "
	    "\"PREFIX... CAP\": one or more disk source prefixes, then the "
	    "scans at once fleet-wide, 1 to 1000");
	expect_error("[fleet]\nstorage ceph = /a 2x\n", ":2: storage ceph: "
	    "\"PREFIX... CAP\": one or more disk source prefixes, then the "
	    "scans at once fleet-wide, 1 to 1000");
	expect_error("[fleet]\nstorage c/d = /a 2\n", ":2: storage \"c/d\": "
	    "a name of 1 to 64 letters, digits, '.', '_' or '-'");
	expect_error("[fleet]\nstorage a = /a 2\nstorage a = /b 2\n",
	    ":3: storage a given twice");
	expect_error("[scan]\nstorage a = /a 2\n",
	    ":2: unknown option \"storage a\" in section [scan]");
}

static void
test_missing_file(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, "/nonexistent/sentineld.conf", err,
	    sizeof(err)), -1);
	assert_string_equal(err,
	    "/nonexistent/sentineld.conf: No such file or directory");
	config_free(&c);
}

static void
test_print_roundtrip(void **state)
{
	struct config c, d;
	char path[] = "/tmp/sentinel-print-XXXXXX", err[256];
	FILE *f;
	int fd;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "scan", "max_file_size", "3M", err,
	    sizeof(err)), 0);
	assert_int_equal(config_set(&c, "control", "group", "sentinel", err,
	    sizeof(err)), 0);
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	config_print(&c, f);
	fclose(f);
	config_defaults(&d);
	assert_int_equal(config_load(&d, path, err, sizeof(err)), 0);
	assert_int_equal(d.max_file_size, 3ULL << 20);
	assert_string_equal(d.control_group, "sentinel");
	unlink(path);
	config_free(&c);
	config_free(&d);
}

/* config_walk gives what config_print prints, setting by setting. */
struct walked {
	char	 text[65536];
	size_t	 len;
	char	 section[256];
	int	 stop_after, n;
};

static int
walk_one(void *arg, const char *section, const char *name, const char *value)
{
	struct walked *w = arg;

	if (w->stop_after > 0 && w->n == w->stop_after)
		return -1;
	w->n++;
	if (strcmp(w->section, section) != 0) {
		w->len += (size_t)snprintf(w->text + w->len,
		    sizeof(w->text) - w->len, "[%s]\n", section);
		snprintf(w->section, sizeof(w->section), "%s", section);
	}
	w->len += (size_t)snprintf(w->text + w->len, sizeof(w->text) - w->len,
	    "%s = %s\n", name, value);
	return 0;
}

static void
test_walk(void **state)
{
	static struct walked w;
	struct config c;
	char err[256], *printed = NULL, *line, *save = NULL, *p;
	size_t len = 0, n = 0;
	FILE *f;

	(void)state;
	assert_int_equal(load(&c,
	    "[scan]\nmax_file_size = 3M\n"
	    "[guest web01]\npriority = 5\n"
	    "[plugin jsonl]\npath = /var/log/x.jsonl\n", err, sizeof(err)), 0);
	memset(&w, 0, sizeof(w));
	assert_int_equal(config_walk(&c, walk_one, &w), 0);
	/* The same lines as -n, comments and blank lines aside. */
	f = open_memstream(&printed, &len);
	config_print(&c, f);
	fclose(f);
	p = malloc(len + 1);
	p[0] = '\0';
	for (line = strtok_r(printed, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (line[0] != '#') {
			strcat(p, line);
			strcat(p, "\n");
			n++;
		}
	assert_string_equal(w.text, p);
	assert_true(n > 60);
	assert_non_null(strstr(w.text, "[guest web01]\npriority = 5\n"));
	assert_non_null(strstr(w.text, "[plugin jsonl]\npath = /var/log/x.jsonl\n"));
	assert_non_null(strstr(w.text, "max_file_size = 3145728\n"));
	free(p);
	free(printed);
	/* A callback's -1 stops the walk and is returned. */
	memset(&w, 0, sizeof(w));
	w.stop_after = 3;
	assert_int_equal(config_walk(&c, walk_one, &w), -1);
	assert_int_equal(w.n, 3);
	config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_default_parses),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_schedule_and_guests),
		cmocka_unit_test(test_fleet_storage),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
