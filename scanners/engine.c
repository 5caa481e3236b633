/*
 * libclamav, and libyara when rules are given, behind a small interface.
 * libclamav's scan options match clamscan's defaults (every parser on,
 * heuristic alerts on) so that sentinel and clamscan agree on what a file
 * is; the YARA rules run on the same bytes, after it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <clamav.h>
#include <yara.h>

#include "engine.h"
#include "stamp.h"

struct engine {
	struct cl_engine	*cl;
	YR_RULES		*yr;		/* NULL: no YARA rules */
	atomic_int		 refs;
	unsigned int		 sigs;
	unsigned int		 yr_rules;
	unsigned int		 max_scan_time_s;
	uint64_t		 load_ms;
	char			*dbdir, *yaradir;
	char			 version[64];
	char			 stamp[40];	/* the files' part of version */
};

const char *
engine_kind_name(enum engine_kind k)
{
	return k == ENGINE_YARA ? "yara" : "clamav";
}

int
engine_global_init(char *err, size_t errlen)
{
	cl_error_t rc;

	if ((rc = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS) {
		snprintf(err, errlen, "libclamav init: %s", cl_strerror(rc));
		return -1;
	}
	if (yr_initialize() != ERROR_SUCCESS) {
		snprintf(err, errlen, "libyara init failed");
		return -1;
	}
	return 0;
}

/* The signature files' stamp (stamp.c), then "+y" and the rule files'
 * when there are YARA rules; libclamav's default directory for "". */
void
engine_dir_stamp(const char *dir, const char *yaradir, char *out,
    size_t outlen)
{
	if (dir == NULL || *dir == '\0')
		dir = cl_retdbdir();
	sig_dir_stamp(dir, yaradir, out, outlen);
}

void (*engine_load_hook)(const char *);

/* The stamp was taken before the load (engine_load): see there. */
static void
make_version(struct engine *e)
{
	snprintf(e->version, sizeof(e->version), "%u-%s",
	    (unsigned int)cl_engine_get_num(e->cl, CL_ENGINE_DB_VERSION, NULL),
	    e->stamp);
}

const char *
engine_dir_stamp_of(const struct engine *e)
{
	return e->stamp;
}

static int
set_limits(struct cl_engine *cl, const struct engine_limits *l, char *err,
    size_t errlen)
{
	static const struct {
		enum cl_engine_field	 f;
		const char		*name;
	} f[] = {
		{ CL_ENGINE_MAX_SCANSIZE, "MaxScanSize" },
		{ CL_ENGINE_MAX_FILESIZE, "MaxFileSize" },
		{ CL_ENGINE_MAX_RECURSION, "MaxRecursion" },
		{ CL_ENGINE_MAX_FILES, "MaxFiles" },
		{ CL_ENGINE_MAX_SCANTIME, "MaxScanTime" },
	};
	long long v[5];
	cl_error_t rc;
	size_t i;

	v[0] = (long long)l->max_scan_size;
	v[1] = (long long)l->max_file_size;
	v[2] = l->max_recursion;
	v[3] = l->max_files;
	v[4] = l->max_scan_time_ms;
	for (i = 0; i < 5; i++) {
		if (v[i] == 0)
			continue;
		if ((rc = cl_engine_set_num(cl, f[i].f, v[i])) != CL_SUCCESS) {
			snprintf(err, errlen, "libclamav %s %lld: %s",
			    f[i].name, v[i], cl_strerror(rc));
			return -1;
		}
	}
	return 0;
}

struct yr_errors {
	char		*err;
	size_t		 errlen;
	int		 n;
};

/* The compiler's first error, with its file and line. */
static void
on_yr_error(int level, const char *file, int line, const YR_RULE *rule,
    const char *msg, void *arg)
{
	struct yr_errors *ye = arg;

	(void)rule;
	if (level != YARA_ERROR_LEVEL_ERROR || ye->n++ > 0)
		return;
	snprintf(ye->err, ye->errlen, "YARA rules %s:%d: %s",
	    file ? file : "?", line, msg);
}

static int
rules_first(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Compiles every rules file of DIR, in name order, into e->yr. */
static int
load_yara(struct engine *e, const char *dir, char *err, size_t errlen)
{
	struct yr_errors ye = { err, errlen, 0 };
	struct dirent **names = NULL;
	YR_COMPILER *comp = NULL;
	const YR_RULE *rule;
	char path[4096];
	FILE *f;
	int i, n, files = 0, rc = -1;

	if ((n = scandir(dir, &names, NULL, rules_first)) == -1) {
		snprintf(err, errlen, "YARA rules directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (yr_compiler_create(&comp) != ERROR_SUCCESS) {
		snprintf(err, errlen, "YARA: cannot create a compiler");
		goto out;
	}
	yr_compiler_set_callback(comp, on_yr_error, &ye);
	for (i = 0; i < n; i++) {
		if (!sig_is_rules(names[i]->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if ((f = fopen(path, "r")) == NULL) {
			snprintf(err, errlen, "YARA rules %s: %s", path,
			    strerror(errno));
			goto out;
		}
		files++;
		yr_compiler_add_file(comp, f, NULL, path);
		fclose(f);
		if (ye.n > 0)
			goto out;
	}
	if (files == 0) {
		snprintf(err, errlen, "no YARA rules (*.yar, *.yara) in %s",
		    dir);
		goto out;
	}
	if (yr_compiler_get_rules(comp, &e->yr) != ERROR_SUCCESS) {
		snprintf(err, errlen, "YARA: cannot get the compiled rules");
		goto out;
	}
	yr_rules_foreach(e->yr, rule)
		e->yr_rules++;
	rc = 0;
out:
	if (comp != NULL)
		yr_compiler_destroy(comp);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* True if DIR holds at least one file libclamav would load. */
static int
dir_has_databases(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int found = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL)
		found = sig_is_database(de->d_name);
	closedir(d);
	return found;
}

/* Called by libclamav for every layer it scans, with its type. */
static cl_error_t
on_pre_scan(int fd, const char *type, void *ctx)
{
	struct engine_seen *seen = ctx;

	(void)fd;
	if (seen != NULL && seen->layers++ == 0)
		seen->type = type;
	return CL_CLEAN;
}

struct engine *
engine_load(const char *dir, const char *tmpdir, const char *yaradir,
    const struct engine_limits *limits, char *err, size_t errlen)
{
	struct engine *e;
	struct timespec t0, t1;
	struct stat st;
	cl_error_t rc;

	if (dir == NULL || *dir == '\0')
		dir = cl_retdbdir();
	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "signature directory %s: %s "
		    "(freshclam fills it; or set [clamav] database)", dir,
		    strerror(errno));
		return NULL;
	}
	if (!dir_has_databases(dir)) {
		snprintf(err, errlen, "no signature databases in %s "
		    "(freshclam fills it; or set [clamav] database)", dir);
		return NULL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->dbdir = strdup(dir)) == NULL ||
	    (e->yaradir = strdup(yaradir != NULL ? yaradir : "")) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	atomic_init(&e->refs, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((e->cl = cl_engine_new()) == NULL) {
		snprintf(err, errlen, "cl_engine_new failed");
		goto fail;
	}
	if (tmpdir != NULL && *tmpdir != '\0' &&
	    (rc = cl_engine_set_str(e->cl, CL_ENGINE_TMPDIR, tmpdir)) != CL_SUCCESS) {
		snprintf(err, errlen, "libclamav tmpdir %s: %s", tmpdir,
		    cl_strerror(rc));
		goto fail;
	}
	if (limits != NULL && set_limits(e->cl, limits, err, errlen) == -1)
		goto fail;
	/*
	 * The stamp of the files as they are before a byte of them is read.
	 * Taken after the load, a file replaced during a load of 10-60 s
	 * would leave old rules under the new files' stamp: the self-check
	 * would never reload, and verdicts cached under the old rules would
	 * look current.  Taken before, such a change only costs one more
	 * load at the next check.
	 */
	engine_dir_stamp(dir, yaradir, e->stamp, sizeof(e->stamp));
	if (engine_load_hook != NULL)
		engine_load_hook(dir);
	if ((rc = cl_load(dir, e->cl, &e->sigs, CL_DB_STDOPT)) != CL_SUCCESS) {
		snprintf(err, errlen, "loading signatures from %s: %s", dir,
		    cl_strerror(rc));
		goto fail;
	}
	if (e->sigs == 0) {
		snprintf(err, errlen, "no signatures loaded from %s "
		    "(freshclam fills it; or set [clamav] database)", dir);
		goto fail;
	}
	cl_engine_set_clcb_pre_scan(e->cl, on_pre_scan);
	if ((rc = cl_engine_compile(e->cl)) != CL_SUCCESS) {
		snprintf(err, errlen, "compiling signatures from %s: %s", dir,
		    cl_strerror(rc));
		goto fail;
	}
	if (yaradir != NULL && *yaradir != '\0' &&
	    load_yara(e, yaradir, err, errlen) == -1)
		goto fail;
	e->max_scan_time_s = limits != NULL && limits->max_scan_time_ms ?
	    (limits->max_scan_time_ms + 999) / 1000 : 120;
	make_version(e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	e->load_ms = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000);
	return e;
fail:
	if (e != NULL) {
		if (e->cl != NULL)
			cl_engine_free(e->cl);
		if (e->yr != NULL)
			yr_rules_destroy(e->yr);
		free(e->dbdir);
		free(e->yaradir);
		free(e);
	}
	return NULL;
}

struct engine *
engine_ref(struct engine *e)
{
	atomic_fetch_add(&e->refs, 1);
	return e;
}

void
engine_unref(struct engine *e)
{
	if (e == NULL || atomic_fetch_sub(&e->refs, 1) != 1)
		return;
	cl_engine_free(e->cl);
	if (e->yr != NULL)
		yr_rules_destroy(e->yr);
	free(e->dbdir);
	free(e->yaradir);
	free(e);
}

int
engine_set_cache(struct engine *e, int on)
{
	return cl_engine_set_num(e->cl, CL_ENGINE_DISABLE_CACHE, !on) ==
	    CL_SUCCESS ? 0 : -1;
}

unsigned int
engine_signatures(const struct engine *e)
{
	return e->sigs;
}

unsigned int
engine_yara_rules(const struct engine *e)
{
	return e->yr_rules;
}

const char *
engine_dbdir(const struct engine *e)
{
	return e->dbdir;
}

int
engine_files_unchanged(const struct engine *e)
{
	char now[sizeof(e->stamp)];

	engine_dir_stamp(e->dbdir, e->yaradir, now, sizeof(now));
	return strcmp(now, e->stamp) == 0;
}

const char *
engine_yaradir(const struct engine *e)
{
	return e->yaradir;
}

const char *
engine_version(const struct engine *e)
{
	return e->version;
}

/* libclamav's own version. */
const char *
engine_lib_version(void)
{
	return cl_retver();
}

uint64_t
engine_load_ms(const struct engine *e)
{
	return e->load_ms;
}

/* libclamav's verdict on buf; *virname on ENGINE_INFECTED. */
static enum engine_verdict
scan_clamav(struct engine *e, const void *buf, size_t len, const char *name,
    const char **virname, struct engine_seen *seen, char *err, size_t errlen)
{
	struct cl_scan_options opts;
	unsigned long scanned = 0;
	cl_fmap_t *map;
	cl_error_t rc;

	memset(&opts, 0, sizeof(opts));
	opts.parse = ~0u;
	opts.general = CL_SCAN_GENERAL_HEURISTICS;
	/* A file a limit stopped, or an encrypted one, is flagged rather
	 * than passed as clean (clamd's AlertExceedsMax, AlertEncrypted):
	 * sentinel reports it as not scanned, with the reason. */
	opts.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX |
	    CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE |
	    CL_SCAN_HEURISTIC_ENCRYPTED_DOC;
	*virname = NULL;
	if ((map = cl_fmap_open_memory(buf, len)) == NULL) {
		snprintf(err, errlen, "cannot map %zu bytes", len);
		return ENGINE_ERROR;
	}
	rc = cl_scanmap_callback(map, name, virname, &scanned, e->cl, &opts,
	    seen);
	cl_fmap_close(map);
	switch (rc) {
	case CL_CLEAN:
		return ENGINE_CLEAN;
	case CL_VIRUS:
		if (*virname != NULL && strncmp(*virname,
		    "Heuristics.Limits.Exceeded.", 27) == 0) {
			snprintf(err, errlen, "%s", *virname + 27);
			*virname = NULL;
			return ENGINE_LIMIT;
		}
		if (*virname != NULL && strncmp(*virname,
		    "Heuristics.Encrypted.", 21) == 0) {
			snprintf(err, errlen, "%s", *virname + 21);
			*virname = NULL;
			return ENGINE_ENCRYPTED;
		}
		return ENGINE_INFECTED;
	case CL_ETIMEOUT:
		snprintf(err, errlen, "MaxScanTime");
		return ENGINE_LIMIT;
	case CL_EMAXREC:
	case CL_EMAXSIZE:
	case CL_EMAXFILES:
		snprintf(err, errlen, "%s", cl_strerror(rc));
		return ENGINE_LIMIT;
	default:
		snprintf(err, errlen, "%s", cl_strerror(rc));
		return ENGINE_ERROR;
	}
}

/* The first rule that matches. */
static int
on_yr_match(YR_SCAN_CONTEXT *ctx, int msg, void *data, void *arg)
{
	(void)ctx;
	if (msg != CALLBACK_MSG_RULE_MATCHING)
		return CALLBACK_CONTINUE;
	*(const char **)arg = ((const YR_RULE *)data)->identifier;
	return CALLBACK_ABORT;
}

/*
 * Every engine on buf.  A hit of any engine makes it infected, with each
 * engine's hit in hits[]; else libclamav's limit, encryption or error
 * stands (a YARA timeout is a limit too).
 */
enum engine_verdict
engine_scan_mem(struct engine *e, const void *buf, size_t len,
    const char *name, const char *hits[ENGINE_NKINDS],
    struct engine_seen *seen, char *err, size_t errlen)
{
	enum engine_verdict v;
	const char *rule = NULL;
	int rc;

	hits[ENGINE_CLAMAV] = hits[ENGINE_YARA] = NULL;
	if (seen != NULL) {
		seen->type = NULL;
		seen->layers = 0;
	}
	v = scan_clamav(e, buf, len, name, &hits[ENGINE_CLAMAV], seen, err,
	    errlen);
	if (e->yr == NULL)
		return v;
	rc = yr_rules_scan_mem(e->yr, buf, len, SCAN_FLAGS_FAST_MODE,
	    on_yr_match, &rule, (int)e->max_scan_time_s);
	if (rule != NULL) {
		hits[ENGINE_YARA] = rule;
		return ENGINE_INFECTED;
	}
	if (rc != ERROR_SUCCESS && v == ENGINE_CLEAN) {
		snprintf(err, errlen, rc == ERROR_SCAN_TIMEOUT ?
		    "YARA MaxScanTime" : "YARA error %d", rc);
		return rc == ERROR_SCAN_TIMEOUT ? ENGINE_LIMIT : ENGINE_ERROR;
	}
	return v;
}
