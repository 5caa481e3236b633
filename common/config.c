/*
 * The option table and the INI parser (inih) that follows it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"
#include "util.h"

#define OFF(f)	offsetof(struct config, f)

const struct opt_entry config_options[] = {
	{ "libvirt", "uri", OPT_STRING, 0, 0, "qemu:///system",
	    OFF(libvirt_uri), "libvirt connection URI of the hypervisor" },
	{ "libvirt", "refresh", OPT_DURATION, 1, 86400, "60s",
	    OFF(libvirt_refresh),
	    "how often the guest inventory is re-read from libvirt" },
	{ "clamav", "database", OPT_STRING, 0, 0, "",
	    OFF(clamav_database),
	    "signature directory; empty means libclamav's default" },
	{ "clamav", "tmpdir", OPT_STRING, 0, 0, "/run/sentinel/tmp",
	    OFF(clamav_tmpdir),
	    "scratch directory for libclamav's unpackers; keep it on tmpfs" },
	{ "guestfs", "backend", OPT_STRING, 0, 0, "",
	    OFF(guestfs_backend),
	    "libguestfs backend; empty means libguestfs' default" },
	{ "guestfs", "backend_settings", OPT_STRING, 0, 0, "",
	    OFF(guestfs_backend_settings),
	    "libguestfs backend settings, colon separated (e.g. force_tcg)" },
	{ "control", "socket", OPT_STRING, 0, 0, "/run/sentinel/sentineld.sock",
	    OFF(control_socket), "path of the control socket" },
	{ "control", "group", OPT_STRING, 0, 0, "",
	    OFF(control_group),
	    "group allowed to use the control socket; empty means root only" },
	{ "state", "path", OPT_STRING, 0, 0, "/var/lib/sentinel/state.db",
	    OFF(state_path), "SQLite database of scans and detections" },
	{ "scan", "max_concurrent_scans", OPT_INT, 0, 64, "0",
	    OFF(max_concurrent_scans),
	    "scans (appliances) running at once; 0 derives it from the host" },
	{ "scan", "max_file_size", OPT_SIZE, 1, 1LL << 32, "100M",
	    OFF(max_file_size),
	    "larger files are skipped and counted as not scanned" },
};
const size_t config_noptions = sizeof(config_options) / sizeof(config_options[0]);
_Static_assert(sizeof(config_options) / sizeof(config_options[0]) <= 64,
    "parse_ctx.seen is too small for the option table");

const struct opt_entry *
config_find(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < config_noptions; i++)
		if (strcmp(config_options[i].section, section) == 0 &&
		    strcmp(config_options[i].name, name) == 0)
			return &config_options[i];
	return NULL;
}

static int
opt_set(struct config *c, const struct opt_entry *o, const char *value,
    char *err, size_t errlen)
{
	char *p = (char *)c + o->off;
	long long v;
	uint64_t u;
	char *s;

	switch (o->type) {
	case OPT_STRING:
		if (strlen(value) > 4096) {
			snprintf(err, errlen, "%s: value too long", o->name);
			return -1;
		}
		if ((s = strdup(value)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", o->name);
			return -1;
		}
		free(*(char **)p);
		*(char **)p = s;
		return 0;
	case OPT_INT:
		if (parse_int(value, o->min, o->max, &v) == -1) {
			snprintf(err, errlen, "%s: \"%s\" is not an integer "
			    "from %lld to %lld", o->name, value, o->min, o->max);
			return -1;
		}
		*(long long *)p = v;
		return 0;
	case OPT_SIZE:
	case OPT_DURATION:
		if ((o->type == OPT_SIZE ? parse_size(value, &u) :
		    parse_duration(value, &u)) == -1 ||
		    u < (uint64_t)o->min || u > (uint64_t)o->max) {
			snprintf(err, errlen, "%s: \"%s\" is not a %s from %lld "
			    "to %lld%s", o->name, value,
			    o->type == OPT_SIZE ? "size" : "duration",
			    o->min, o->max,
			    o->type == OPT_SIZE ? " bytes" : " seconds");
			return -1;
		}
		*(uint64_t *)p = u;
		return 0;
	}
	snprintf(err, errlen, "%s: bad option type", o->name);
	return -1;
}

int
config_set(struct config *c, const char *section, const char *name,
    const char *value, char *err, size_t errlen)
{
	const struct opt_entry *o;

	if ((o = config_find(section, name)) == NULL) {
		snprintf(err, errlen, "unknown option \"%s\" in section [%s]",
		    name, section);
		return -1;
	}
	return opt_set(c, o, value, err, errlen);
}

void
config_defaults(struct config *c)
{
	char err[256];
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < config_noptions; i++)
		if (opt_set(c, &config_options[i], config_options[i].def,
		    err, sizeof(err)) == -1)
			abort();	/* the table itself is wrong */
}

void
config_free(struct config *c)
{
	size_t i;

	for (i = 0; i < config_noptions; i++)
		if (config_options[i].type == OPT_STRING) {
			char **p = (char **)((char *)c + config_options[i].off);
			free(*p);
			*p = NULL;
		}
}

struct parse_ctx {
	struct config	*conf;
	FILE		*f;
	int		 lineno;	/* line inih is handling now */
	int		 errline;	/* first line the handler refused */
	unsigned char	 seen[64];
	char		 msg[256];
};

/* Known section name? */
static int
section_known(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < config_noptions; i++)
		if (strlen(config_options[i].section) == len &&
		    strncmp(config_options[i].section, name, len) == 0)
			return 1;
	return 0;
}

/*
 * inih reads one line per call: counting calls gives the handler its line.
 * Section headers are checked here, as inih tells the handler nothing of
 * a section without keys; an unknown one ends the parse (NULL).
 */
static char *
conf_reader(char *buf, int size, void *user)
{
	struct parse_ctx *ctx = user;
	char *p, *end;

	if (fgets(buf, size, ctx->f) == NULL)
		return NULL;
	ctx->lineno++;
	for (p = buf; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '[' && (end = strchr(p, ']')) != NULL &&
	    !section_known(p + 1, (size_t)(end - p - 1)) && ctx->errline == 0) {
		ctx->errline = ctx->lineno;
		snprintf(ctx->msg, sizeof(ctx->msg), "unknown section [%.*s]",
		    (int)(end - p - 1 > 64 ? 64 : end - p - 1), p + 1);
		return NULL;
	}
	return buf;
}

static int
conf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct parse_ctx *ctx = user;
	const struct opt_entry *o;
	size_t idx;

	if (ctx->errline != 0)
		return 1;	/* report the first error only */
	ctx->errline = ctx->lineno;
	if ((o = config_find(section, name)) == NULL) {
		if (!section_known(section, strlen(section)))
			snprintf(ctx->msg, sizeof(ctx->msg),
			    "option \"%s\" outside a known section", name);
		else
			snprintf(ctx->msg, sizeof(ctx->msg),
			    "unknown option \"%s\" in section [%s]", name,
			    section);
		return 0;
	}
	idx = (size_t)(o - config_options);
	if (ctx->seen[idx]) {
		snprintf(ctx->msg, sizeof(ctx->msg),
		    "option \"%s\" in [%s] given twice", name, section);
		return 0;
	}
	ctx->seen[idx] = 1;
	if (opt_set(ctx->conf, o, value, ctx->msg, sizeof(ctx->msg)) == -1)
		return 0;
	ctx->errline = 0;
	return 1;
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	struct parse_ctx ctx;
	FILE *f;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.conf = c;
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ctx.f = f;
	rc = ini_parse_stream(conf_reader, &ctx, conf_handler, &ctx);
	fclose(f);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot read", path);
		return -1;
	}
	/* The first error wins: ours (errline) or inih's syntax error (rc). */
	if (ctx.errline != 0 && (rc == 0 || ctx.errline <= rc))
		snprintf(err, errlen, "%s:%d: %s", path, ctx.errline, ctx.msg);
	else if (rc == 0)
		return 0;
	else
		snprintf(err, errlen, "%s:%d: syntax error (expected "
		    "\"[section]\" or \"name = value\")", path, rc);
	return -1;
}

void
config_print(const struct config *c, FILE *f)
{
	const char *section = "";
	const char *p;
	size_t i;

	for (i = 0; i < config_noptions; i++) {
		const struct opt_entry *o = &config_options[i];

		p = (const char *)c + o->off;
		if (strcmp(section, o->section) != 0) {
			fprintf(f, "%s[%s]\n", i ? "\n" : "", o->section);
			section = o->section;
		}
		fprintf(f, "# %s\n", o->help);
		switch (o->type) {
		case OPT_STRING:
			fprintf(f, "%s = %s\n", o->name, *(char *const *)p);
			break;
		case OPT_INT:
			fprintf(f, "%s = %lld\n", o->name, *(const long long *)p);
			break;
		case OPT_SIZE:
			fprintf(f, "%s = %" PRIu64 "\n", o->name,
			    *(const uint64_t *)p);
			break;
		case OPT_DURATION:
			fprintf(f, "%s = %" PRIu64 "s\n", o->name,
			    *(const uint64_t *)p);
			break;
		}
	}
}
