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
#include "window.h"

#define OFF(f)	offsetof(struct config, f)

const struct opt_entry config_options[] = {
	{ "libvirt", "uri", OPT_STRING, 0, 0, "qemu:///system",
	    OFF(libvirt_uri), "libvirt connection URI of the hypervisor" },
	{ "libvirt", "refresh", OPT_DURATION, 1, 86400, "60s",
	    OFF(libvirt_refresh),
	    "how often the guest inventory is re-read from libvirt" },
	{ "libvirt", "guests", OPT_STRING, 0, 0, "*", OFF(libvirt_guests),
	    "glob patterns of the guest names sentinel sees, separated by "
	    "spaces: any other guest is not listed, scheduled or scanned" },
	{ "clamav", "database", OPT_STRING, 0, 0, "",
	    OFF(clamav_database),
	    "signature directory; empty means libclamav's default" },
	{ "clamav", "tmpdir", OPT_STRING, 0, 0, "/run/sentinel/tmp",
	    OFF(clamav_tmpdir),
	    "scratch directory for libclamav's unpackers; keep it on tmpfs" },
	{ "clamav", "self_check", OPT_DURATION, 0, 366 * 86400LL, "600s",
	    OFF(self_check),
	    "how often the signature directory is checked for changes, which "
	    "reload the signatures (clamd's SelfCheck); 0: never" },
	{ "clamav", "max_signature_age", OPT_DURATION, 0, 366 * 86400LL, "3d",
	    OFF(max_signature_age),
	    "signatures older than this (the newest build time in the .cvd and "
	    ".cld headers, else the newest file) are said in the log, status "
	    "and metrics: freshclam is not bringing updates; 0: not checked" },
	{ "yara", "rules", OPT_STRING, 0, 0, "",
	    OFF(yara_rules),
	    "directory of YARA rules (*.yar, *.yara) run beside ClamAV on "
	    "every file; empty: no YARA" },
	{ "guestfs", "backend", OPT_STRING, 0, 0, "",
	    OFF(guestfs_backend),
	    "libguestfs backend: empty or direct (the appliance runs inside "
	    "the scanner's sandbox, as the scanner user)" },
	{ "guestfs", "backend_settings", OPT_STRING, 0, 0, "",
	    OFF(guestfs_backend_settings),
	    "libguestfs backend settings, colon separated (e.g. force_tcg)" },
	{ "guestfs", "launch_timeout", OPT_DURATION, 0, 3600, "5m",
	    OFF(guestfs_launch_timeout),
	    "an appliance not up in this time is killed and launched once "
	    "more, then the scan fails (0: wait as long as libguestfs does)" },
	{ "scanner", "user", OPT_STRING, 0, 0, "sentinel-scan",
	    OFF(scanner_user),
	    "unprivileged user the scanner processes and their appliances run "
	    "as; never root" },
	{ "scanner", "dir", OPT_STRING, 0, 0, "/var/lib/sentinel/scanner",
	    OFF(scanner_dir),
	    "where sentineld puts the read-only NBD exports of the disks a scan "
	    "reads (0710, root and the scanner's group)" },
	{ "scanner", "appliance", OPT_STRING, 0, 0,
	    "/var/cache/sentinel/appliance", OFF(scanner_appliance),
	    "libguestfs appliance the scanners boot, prepared by sentineld when "
	    "missing (supermin, its kernel unpacked for a PVH boot where it "
	    "can) and read-only to them" },
	{ "control", "socket", OPT_STRING, 0, 0, "/run/sentinel/sentineld.sock",
	    OFF(control_socket), "path of the control socket" },
	{ "control", "group", OPT_STRING, 0, 0, "",
	    OFF(control_group),
	    "group allowed to use the control socket; empty means root only" },
	{ "control", "max_clients", OPT_INT, 1, 10000, "64",
	    OFF(max_clients),
	    "clients of the group connected at once; past it they are refused "
	    "(root is always served)" },
	{ "metrics", "listen", OPT_STRING, 0, 0, "", OFF(metrics_listen),
	    "serve Prometheus metrics at /metrics on HOST:PORT, a loopback "
	    "address (127.0.0.1, [::1], localhost), or on a Unix socket path; "
	    "empty: not served" },
	{ "metrics", "textfile", OPT_STRING, 0, 0, "", OFF(metrics_textfile),
	    "write the metrics to this file (node_exporter's textfile "
	    "collector: a NAME.prom in its directory) every "
	    "textfile_interval; empty: not written" },
	{ "metrics", "textfile_interval", OPT_DURATION, 1, 86400, "60s",
	    OFF(metrics_textfile_interval),
	    "how often the textfile is written" },
	{ "metrics", "guest_labels", OPT_BOOL, 0, 1, "no",
	    OFF(metrics_guest_labels),
	    "add per-guest series labelled with the guest's name (last scan's "
	    "end and detections, last complete scan): one series per guest" },
	{ "state", "path", OPT_STRING, 0, 0, "/var/lib/sentinel/state.db",
	    OFF(state_path), "SQLite database of scans and detections" },
	{ "state", "keep_scans", OPT_DURATION, 0, 100 * 366 * 86400LL, "180d",
	    OFF(keep_scans),
	    "scans that ended longer ago are removed with their detections, "
	    "skips and actions (checked hourly); 0: kept for ever" },
	{ "state", "keep_per_guest", OPT_INT, 0, 1000000, "10",
	    OFF(keep_per_guest),
	    "the last scans of each guest kept whatever their age, and always "
	    "its last complete one, until the guest is forgotten" },
	{ "state", "forget_guests", OPT_DURATION, 0, 100 * 366 * 86400LL,
	    "30d", OFF(forget_guests),
	    "a guest libvirt no longer defines is forgotten after this long: "
	    "its file index and pause go, its scans are kept by age alone; "
	    "0: never" },
	{ "scan", "max_concurrent_scans", OPT_INT, 0, 64, "0",
	    OFF(max_concurrent_scans),
	    "scans (appliances) running at once; 0 derives it from the host" },
	{ "scan", "max_file_size", OPT_SIZE, 1, 1LL << 32, "100M",
	    OFF(max_file_size),
	    "of a larger file only the first max_file_size bytes are read and "
	    "scanned, and it is counted as too large (not scanned in full); "
	    "larger files inside archives are skipped by libclamav, silently "
	    "(clamd's MaxFileSize)" },
	{ "scan", "max_listing_size", OPT_SIZE, 16384, 1LL << 36, "256M",
	    OFF(max_listing_size),
	    "memory the listing of one filesystem may take in the scan "
	    "process (its paths, and about 120 bytes per name); a filesystem "
	    "with more fails with that reason" },
	{ "scan", "carry_unchanged", OPT_BOOL, 0, 1, "yes",
	    OFF(carry_unchanged),
	    "a shut-off guest none of whose image files changed since its last "
	    "complete scan (same signatures and settings) is not read again: "
	    "that scan's result is carried over" },
	{ "scan", "strict", OPT_BOOL, 0, 1, "no",
	    OFF(strict),
	    "a scan without detections that left a file not scanned in full "
	    "(too large, at an engine limit, unreadable, encrypted) or a "
	    "filesystem unscanned is incomplete, not clean" },
	{ "scan", "max_scan_size", OPT_SIZE, 1, 1LL << 40, "400M",
	    OFF(max_scan_size),
	    "most data scanned out of one file and what it contains "
	    "(clamd's MaxScanSize)" },
	{ "scan", "max_files", OPT_INT, 1, 1000000000, "10000",
	    OFF(max_files),
	    "most files scanned inside one archive or document "
	    "(clamd's MaxFiles)" },
	{ "scan", "max_recursion", OPT_INT, 1, 1000, "17",
	    OFF(max_recursion),
	    "deepest nesting of archives scanned (clamd's MaxRecursion)" },
	{ "scan", "max_file_scan_time", OPT_DURATION, 1, 86400, "120s",
	    OFF(max_file_scan_time),
	    "longest the engine spends on one file (clamd's MaxScanTime)" },
	{ "scan", "exclude_paths", OPT_STRING, 0, 0, "",
	    OFF(exclude_paths),
	    "glob patterns of guest paths not scanned, separated by spaces; "
	    "* also matches /" },
	{ "scan", "verdict_cache", OPT_INT, 0, 100000000, "500000",
	    OFF(verdict_cache),
	    "clean content hashes remembered across scans and guests; 0: off" },
	{ "scan", "file_index", OPT_BOOL, 0, 1, "yes",
	    OFF(file_index),
	    "remember each guest's clean files (inode, size, times, hash) and "
	    "do not read them again while unchanged" },
	{ "scan", "index_max_age", OPT_DURATION, 0, 366 * 86400LL, "7d",
	    OFF(index_max_age),
	    "a file the index has trusted unchanged for this long (each "
	    "file between 3/4 of it and all of it, so that re-reading "
	    "spreads over scans) is read and scanned again; 0: no bound" },
	{ "scan", "settable_times_max_age", OPT_DURATION, 0, 366 * 86400LL,
	    "1d", OFF(settable_times_max_age),
	    "on NTFS and FAT, where a user can set every time of a file "
	    "(ctime too), the index trusts a file unchanged for at most "
	    "this long (spread as index_max_age); 0: never, every file of "
	    "such filesystems is read in every scan" },
	{ "scan", "per_storage_scans", OPT_INT, 1, 64, "1",
	    OFF(per_storage_scans),
	    "scans at once reading from one storage device" },
	{ "scan", "read_rate", OPT_SIZE, 0, 1LL << 40, "0",
	    OFF(read_rate),
	    "bytes per second read out of all guests together; 0: no limit" },
	{ "scan", "pressure_read_rate", OPT_SIZE, 1, 1LL << 40, "4M",
	    OFF(pressure_read_rate),
	    "bytes per second for all scans while the host is under pressure" },
	{ "scan", "engine_threads", OPT_INT, 0, 32, "0",
	    OFF(engine_threads),
	    "threads one scan may scan files with, fed from its spool while "
	    "the next files are read; 0: the host's CPUs (at most 32)" },
	{ "scan", "cpu_threads", OPT_INT, 0, 4096, "0",
	    OFF(cpu_threads),
	    "engine threads of all running scans together: each running "
	    "scan gets an even share (at least one), re-dealt as scans start "
	    "and end, and one only while the host is under pressure; 0: the "
	    "host's CPUs" },
	{ "scan", "spool_size", OPT_SIZE, 1 << 20, 1LL << 34, "64M",
	    OFF(spool_size),
	    "memory of one scan process for files read and waiting for an "
	    "engine thread (a larger file waits alone)" },
	{ "scan", "max_io_pressure", OPT_DOUBLE, 0, 100, "40",
	    OFF(max_io_pressure),
	    "PSI io avg10 (%) above which no scan starts; 100: not checked" },
	{ "scan", "max_cpu_pressure", OPT_DOUBLE, 0, 100, "80",
	    OFF(max_cpu_pressure),
	    "PSI cpu avg10 (%) above which no scan starts; 100: not checked" },
	{ "scan", "max_load", OPT_DOUBLE, 0, 10000, "0",
	    OFF(max_load),
	    "1-minute load average above which no scan starts; 0: not checked" },
	{ "view", "point_in_time", OPT_BOOL, 0, 1, "yes",
	    OFF(point_in_time),
	    "scan a running guest through a libvirt backup job (pull mode): "
	    "its disks as they were at one instant; no: a live overlay" },
	{ "view", "freeze", OPT_BOOL, 0, 1, "yes",
	    OFF(view_freeze),
	    "freeze the guest's filesystems through its QEMU guest agent, if "
	    "it has one, for the instant the backup job starts" },
	{ "view", "agent_timeout", OPT_DURATION, 1, 3600, "10s",
	    OFF(agent_timeout),
	    "longest wait for the guest agent's answer to a freeze or a thaw; "
	    "past it the view is taken unfrozen" },
	{ "view", "scratch_dir", OPT_STRING, 0, 0, "/var/lib/sentinel/scratch",
	    OFF(scratch_dir),
	    "backup jobs' scratch files and NBD sockets; qemu's user must "
	    "reach it" },
	{ "view", "max_scratch", OPT_SIZE, 1 << 20, 1LL << 50, "4G",
	    OFF(max_scratch),
	    "scratch space one scan's view may use (it grows with what the "
	    "guest writes meanwhile); past it the scan stops, incomplete" },
	{ "view", "qemu_user", OPT_STRING, 0, 0, "libvirt-qemu",
	    OFF(qemu_user),
	    "user the hypervisor's qemu runs as: it owns scratch_dir" },
	{ "fleet", "database", OPT_STRING, 0, 0, "", OFF(fleet_database),
	    "libpq connection string of the fleet's shared PostgreSQL (e.g. "
	    "\"host=db.example dbname=sentinel user=sentinel "
	    "sslmode=verify-full\"); passwords from ~/.pgpass or a service "
	    "file, not here; empty: this host alone" },
	{ "fleet", "host", OPT_STRING, 0, 0, "", OFF(fleet_host),
	    "this host's name in the fleet; empty: the hostname" },
	{ "fleet", "verdicts", OPT_INT, 0, 100000000, "1000000",
	    OFF(fleet_verdicts),
	    "clean verdicts (content hash and signature version) the fleet "
	    "shares, the newest kept; each host's verdict cache in front; "
	    "0: not shared" },
	{ "fleet", "lease", OPT_DURATION, 10, 3600, "60s", OFF(fleet_lease),
	    "a host's claim on a guest and its fleet storage slots last this "
	    "long unless it renews them (a third of it apart): a host that "
	    "dies gives them back within it; storage NAME = PREFIX... CAP "
	    "lines follow" },
	{ "schedule", "interval", OPT_DURATION, 60, 366 * 86400LL, "24h",
	    OFF(interval), "time from the end of a complete scan to the next" },
	{ "schedule", "jitter", OPT_DURATION, 0, 366 * 86400LL, "2h",
	    OFF(jitter),
	    "span over which guests' due times are spread, stably per guest" },
	{ "schedule", "windows", OPT_WINDOWS, 0, 0, "",
	    OFF(windows),
	    "local times scheduled scans may start, e.g. 01:00-06:00; "
	    "empty: any time" },
	{ "schedule", "retry_min", OPT_DURATION, 1, 366 * 86400LL, "5m",
	    OFF(retry_min), "first retry after a failed scan; doubles each time" },
	{ "schedule", "retry_max", OPT_DURATION, 1, 366 * 86400LL, "6h",
	    OFF(retry_max), "longest wait between retries of a failing guest" },
	{ "schedule", "max_scan_time", OPT_DURATION, 0, 366 * 86400LL, "4h",
	    OFF(max_scan_time),
	    "a scan running longer is cancelled and recorded incomplete; "
	    "0: no limit" },
	{ "schedule", "scan_on_shutdown", OPT_BOOL, 0, 1, "no",
	    OFF(scan_on_shutdown),
	    "scan a guest as soon as it shuts off (its disks are then "
	    "consistent), ahead of scheduled scans" },
	{ "schedule", "busy_read_rate", OPT_SIZE, 0, 1LL << 40, "50M",
	    OFF(busy_read_rate),
	    "a running guest reading its disks faster (bytes/s) is put back; "
	    "0: not checked" },
	{ "schedule", "busy_max_delay", OPT_DURATION, 0, 366 * 86400LL, "1h",
	    OFF(busy_max_delay),
	    "longest a busy guest is put back before it is scanned anyway" },
};

#define GOFF(f)	offsetof(struct guest_conf, f)

/* Rows in the order of the GUEST_OPT_* bits. */
const struct opt_entry guest_options[] = {
	{ "guest", "interval", OPT_DURATION, 60, 366 * 86400LL, "24h",
	    GOFF(interval), "this guest's interval" },
	{ "guest", "windows", OPT_WINDOWS, 0, 0, "", GOFF(windows),
	    "this guest's windows" },
	{ "guest", "exclude", OPT_BOOL, 0, 1, "no", GOFF(exclude),
	    "never scan this guest on schedule (on demand still works)" },
	{ "guest", "priority", OPT_INT, -100, 100, "0", GOFF(priority),
	    "among guests due, higher priority starts first" },
	{ "guest", "exclude_paths", OPT_STRING, 0, 0, "", GOFF(exclude_paths),
	    "more glob patterns of paths not scanned in this guest" },
	{ "guest", "scan_on_shutdown", OPT_BOOL, 0, 1, "no",
	    GOFF(scan_on_shutdown), "this guest's scan_on_shutdown" },
};
const size_t guest_noptions = sizeof(guest_options) / sizeof(guest_options[0]);
const size_t config_noptions = sizeof(config_options) / sizeof(config_options[0]);
_Static_assert(sizeof(config_options) / sizeof(config_options[0]) <= 128,
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
opt_set(void *base, const struct opt_entry *o, const char *value,
    char *err, size_t errlen)
{
	char *p = (char *)base + o->off;
	struct windows w;
	char werr[128], *end;
	long long v;
	uint64_t u;
	double d;
	char *s;

	switch (o->type) {
	case OPT_WINDOWS:
		if (windows_parse(value, &w, werr, sizeof(werr)) == -1) {
			snprintf(err, errlen, "%s: %s", o->name, werr);
			return -1;
		}
		/* FALLTHROUGH */
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
	case OPT_DOUBLE:
		d = strtod(value, &end);
		if (*value == '\0' || *end != '\0' || d != d ||
		    d < (double)o->min || d > (double)o->max) {
			snprintf(err, errlen, "%s: \"%s\" is not a number from "
			    "%lld to %lld", o->name, value, o->min, o->max);
			return -1;
		}
		*(double *)p = d;
		return 0;
	case OPT_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "on") == 0 || strcmp(value, "1") == 0)
			*(int *)p = 1;
		else if (strcmp(value, "no") == 0 ||
		    strcmp(value, "false") == 0 || strcmp(value, "off") == 0 ||
		    strcmp(value, "0") == 0)
			*(int *)p = 0;
		else {
			snprintf(err, errlen, "%s: \"%s\" is not yes or no",
			    o->name, value);
			return -1;
		}
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
	c->guests = NULL;
	for (i = 0; i < config_noptions; i++)
		if (opt_set(c, &config_options[i], config_options[i].def,
		    err, sizeof(err)) == -1)
			abort();	/* the table itself is wrong */
}

static int
is_string(const struct opt_entry *o)
{
	return o->type == OPT_STRING || o->type == OPT_WINDOWS;
}

static void
free_strings(void *base, const struct opt_entry *opts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (is_string(&opts[i])) {
			char **p = (char **)((char *)base + opts[i].off);
			free(*p);
			*p = NULL;
		}
}

void
config_free(struct config *c)
{
	struct guest_conf *g, *next;
	struct plugin_conf *p, *pnext;
	struct fleet_storage *st, *stnext;
	size_t i;

	free_strings(c, config_options, config_noptions);
	for (st = c->storages; st != NULL; st = stnext) {
		stnext = st->next;
		for (i = 0; i < st->n; i++)
			free(st->prefixes[i]);
		free(st->prefixes);
		free(st->name);
		free(st);
	}
	c->storages = NULL;
	for (g = c->guests; g != NULL; g = next) {
		next = g->next;
		free_strings(g, guest_options, guest_noptions);
		free(g->name);
		free(g);
	}
	c->guests = NULL;
	for (p = c->plugins; p != NULL; p = pnext) {
		pnext = p->next;
		for (i = 0; i < p->n; i++) {
			free(p->keys[i]);
			free(p->values[i]);
		}
		free(p->keys);
		free(p->values);
		free(p->name);
		free(p);
	}
	c->plugins = NULL;
}

const char *
plugin_conf_get(const struct plugin_conf *p, const char *key)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->keys[i], key) == 0)
			return p->values[i];
	return NULL;
}

const struct guest_conf *
config_guest(const struct config *c, const char *name)
{
	const struct guest_conf *g;

	for (g = c->guests; g != NULL; g = g->next)
		if (strcmp(g->name, name) == 0)
			return g;
	return NULL;
}

/* "guest NAME": the name, or NULL for any other section. */
static const char *
guest_section(const char *section, size_t len)
{
	if (len > 6 && strncmp(section, "guest ", 6) == 0 &&
	    section[6] != ' ')
		return section + 6;
	return NULL;
}

/* "plugin NAME": the name, or NULL. */
static const char *
plugin_section(const char *section, size_t len)
{
	if (len > 7 && strncmp(section, "plugin ", 7) == 0 &&
	    section[7] != ' ')
		return section + 7;
	return NULL;
}

struct parse_ctx {
	struct config	*conf;
	FILE		*f;
	int		 lineno;	/* line inih is handling now */
	int		 errline;	/* first line the handler refused */
	unsigned char	 seen[128];
	char		 msg[256];
};

/* [fleet] storage NAME = PREFIX... CAP. */
static int
storage_option(struct parse_ctx *ctx, const char *sname, const char *value)
{
	struct fleet_storage *st, **tail;
	const char *p, *q, *last = NULL;
	char *end, **np;
	long long cap;
	size_t n = 0, i;

	if (*sname == '\0' || strlen(sname) > 64 ||
	    strspn(sname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != strlen(sname)) {
		snprintf(ctx->msg, sizeof(ctx->msg), "storage \"%.64s\": a "
		    "name of 1 to 64 letters, digits, '.', '_' or '-'", sname);
		return 0;
	}
	for (tail = &ctx->conf->storages; (st = *tail) != NULL;
	    tail = &st->next)
		if (strcmp(st->name, sname) == 0) {
			snprintf(ctx->msg, sizeof(ctx->msg), "storage %s "
			    "given twice", sname);
			return 0;
		}
	/* Words: every one a prefix but the last, the cap. */
	for (p = value; *p != '\0'; p = q) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		q = p + strcspn(p, " \t");
		last = p;
		n++;
	}
	cap = last != NULL ? strtoll(last, &end, 10) : 0;
	if (n < 2 || end == last || (*end != '\0' && *end != ' ' &&
	    *end != '\t') || *last == '-' || *last == '+' || cap < 1 ||
	    cap > FLEET_STORAGE_MAX_CAP) {
		snprintf(ctx->msg, sizeof(ctx->msg), "storage %s: \"PREFIX... "
		    "CAP\": one or more disk source prefixes, then the scans "
		    "at once fleet-wide, 1 to %d", sname,
		    FLEET_STORAGE_MAX_CAP);
		return 0;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->name = strdup(sname)) == NULL ||
	    (np = calloc(n - 1, sizeof(*np))) == NULL) {
		if (st != NULL)
			free(st->name);
		free(st);
		snprintf(ctx->msg, sizeof(ctx->msg), "out of memory");
		return 0;
	}
	st->prefixes = np;
	st->cap = cap;
	*tail = st;	/* freed with the configuration from here */
	for (p = value, i = 0; i < n - 1; p = q, i++) {
		p += strspn(p, " \t");
		q = p + strcspn(p, " \t");
		if ((np[i] = strndup(p, (size_t)(q - p))) == NULL) {
			snprintf(ctx->msg, sizeof(ctx->msg), "out of memory");
			return 0;
		}
		st->n++;
	}
	return 1;
}

const struct fleet_storage *
config_storage(const struct config *c, const char *source)
{
	const struct fleet_storage *st;
	size_t i;

	for (st = c->storages; st != NULL; st = st->next)
		for (i = 0; i < st->n; i++)
			if (strncmp(source, st->prefixes[i],
			    strlen(st->prefixes[i])) == 0)
				return st;
	return NULL;
}

/* Known section name? */
static int
section_known(const char *name, size_t len)
{
	size_t i;

	if (guest_section(name, len) != NULL ||
	    plugin_section(name, len) != NULL)
		return 1;
	for (i = 0; i < config_noptions; i++)
		if (strlen(config_options[i].section) == len &&
		    strncmp(config_options[i].section, name, len) == 0)
			return 1;
	return 0;
}

/* An option of a [guest NAME] section. */
static int
guest_option(struct parse_ctx *ctx, const char *gname, const char *name,
    const char *value)
{
	struct guest_conf *g;
	size_t i;

	for (i = 0; i < guest_noptions; i++)
		if (strcmp(guest_options[i].name, name) == 0)
			break;
	if (i == guest_noptions) {
		char known[256] = "";

		/* Named from the table, so the list stays true. */
		for (i = 0; i < guest_noptions; i++)
			snprintf(known + strlen(known), sizeof(known) -
			    strlen(known), "%s%s", i ? ", " : "",
			    guest_options[i].name);
		snprintf(ctx->msg, sizeof(ctx->msg), "unknown option \"%s\" "
		    "in section [guest %s] (known: %s)", name, gname, known);
		return 0;
	}
	for (g = ctx->conf->guests; g != NULL; g = g->next)
		if (strcmp(g->name, gname) == 0)
			break;
	if (g == NULL) {
		if ((g = calloc(1, sizeof(*g))) == NULL ||
		    (g->name = strdup(gname)) == NULL) {
			free(g);
			snprintf(ctx->msg, sizeof(ctx->msg), "out of memory");
			return 0;
		}
		g->next = ctx->conf->guests;
		ctx->conf->guests = g;
	}
	if (g->set & (1u << i)) {
		snprintf(ctx->msg, sizeof(ctx->msg),
		    "option \"%s\" in [guest %s] given twice", name, gname);
		return 0;
	}
	if (opt_set(g, &guest_options[i], value, ctx->msg,
	    sizeof(ctx->msg)) == -1)
		return 0;
	g->set |= 1u << i;
	return 1;
}

/* A key of a [plugin NAME] section: any name, each once; the plugin
 * checks them when it is loaded.  Sections keep their order. */
static int
plugin_option(struct parse_ctx *ctx, const char *pname, const char *name,
    const char *value)
{
	struct plugin_conf *p, **tail;
	char **k, **v;

	for (tail = &ctx->conf->plugins; (p = *tail) != NULL;
	    tail = &p->next)
		if (strcmp(p->name, pname) == 0)
			break;
	if (p == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL ||
		    (p->name = strdup(pname)) == NULL) {
			free(p);
			snprintf(ctx->msg, sizeof(ctx->msg), "out of memory");
			return 0;
		}
		*tail = p;
	}
	if (plugin_conf_get(p, name) != NULL) {
		snprintf(ctx->msg, sizeof(ctx->msg),
		    "option \"%s\" in [plugin %s] given twice", name, pname);
		return 0;
	}
	if ((k = realloc(p->keys, (p->n + 1) * sizeof(*k))) != NULL)
		p->keys = k;
	if ((v = realloc(p->values, (p->n + 1) * sizeof(*v))) != NULL)
		p->values = v;
	if (k == NULL || v == NULL ||
	    (p->keys[p->n] = strdup(name)) == NULL) {
		snprintf(ctx->msg, sizeof(ctx->msg), "out of memory");
		return 0;
	}
	if ((p->values[p->n] = strdup(value)) == NULL) {
		free(p->keys[p->n]);
		snprintf(ctx->msg, sizeof(ctx->msg), "out of memory");
		return 0;
	}
	p->n++;
	return 1;
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

	const char *gname;

	if (ctx->errline != 0)
		return 1;	/* report the first error only */
	ctx->errline = ctx->lineno;
	if ((gname = guest_section(section, strlen(section))) != NULL) {
		if (!guest_option(ctx, gname, name, value))
			return 0;
		ctx->errline = 0;
		return 1;
	}
	if ((gname = plugin_section(section, strlen(section))) != NULL) {
		if (!plugin_option(ctx, gname, name, value))
			return 0;
		ctx->errline = 0;
		return 1;
	}
	if (strcmp(section, "fleet") == 0 && strncmp(name, "storage ", 8) ==
	    0) {
		if (!storage_option(ctx, name + 8 + strspn(name + 8, " \t"),
		    value))
			return 0;
		ctx->errline = 0;
		return 1;
	}
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

/* The value of option O in BASE (a struct config, or a guest_conf), as
 * -n prints it; malloc'd, NULL without memory. */
static char *
value_text(const struct opt_entry *o, const void *base)
{
	const char *p = (const char *)base + o->off;
	char *s = NULL;
	int n = -1;

	switch (o->type) {
	case OPT_STRING:
	case OPT_WINDOWS:
		/* A connection string may hold a password: the control
		 * group's `config` and -n never show it. */
		if (o->off == OFF(fleet_database) && strcmp(o->section,
		    "fleet") == 0 && strstr(*(char *const *)p, "password") !=
		    NULL) {
			n = asprintf(&s, "(set, with a password: not shown)");
			break;
		}
		n = asprintf(&s, "%s", *(char *const *)p);
		break;
	case OPT_INT:
		n = asprintf(&s, "%lld", *(const long long *)p);
		break;
	case OPT_SIZE:
		n = asprintf(&s, "%" PRIu64, *(const uint64_t *)p);
		break;
	case OPT_DURATION:
		n = asprintf(&s, "%" PRIu64 "s", *(const uint64_t *)p);
		break;
	case OPT_DOUBLE:
		n = asprintf(&s, "%g", *(const double *)p);
		break;
	case OPT_BOOL:
		n = asprintf(&s, "%s", *(const int *)p ? "yes" : "no");
		break;
	}
	return n < 0 ? NULL : s;
}

static void
print_value(const struct opt_entry *o, const void *base, FILE *f)
{
	char *v = value_text(o, base);

	fprintf(f, "%s = %s\n", o->name, v != NULL ? v : "?");
	free(v);
}

/* HELP as "# " comment lines of at most 78 columns (the parser reads
 * lines of up to 200 bytes). */
static void
print_help(const char *help, FILE *f)
{
	const char *p = help, *cut, *sp;
	size_t width = 76;

	while (strlen(p) > width) {
		cut = NULL;
		for (sp = p; sp <= p + width; sp++)
			if (*sp == ' ')
				cut = sp;
		if (cut == NULL)	/* one word longer than a line */
			cut = strchr(p + width, ' ');
		if (cut == NULL)
			break;
		fprintf(f, "# %.*s\n", (int)(cut - p), p);
		p = cut + 1;
	}
	fprintf(f, "# %s\n", p);
}

/* A storage line's value as it was given; malloc'd, NULL without
 * memory. */
static char *
storage_text(const struct fleet_storage *st)
{
	size_t len = 32, i;
	char *s;

	for (i = 0; i < st->n; i++)
		len += strlen(st->prefixes[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < st->n; i++) {
		strcat(s, st->prefixes[i]);
		strcat(s, " ");
	}
	snprintf(s + strlen(s), len - strlen(s), "%lld", st->cap);
	return s;
}

/* After the last option of [fleet]: its storage lines. */
static int
last_of_fleet(const struct opt_entry *o)
{
	return strcmp(o->section, "fleet") == 0 && (o + 1 ==
	    config_options + config_noptions || strcmp(o[1].section,
	    "fleet") != 0);
}

int
config_walk(const struct config *c, config_walk_fn fn, void *arg)
{
	const struct fleet_storage *st;
	const struct plugin_conf *p;
	const struct guest_conf *g;
	char section[256], *v;
	size_t i;
	int rc;

	for (i = 0; i < config_noptions; i++) {
		const struct opt_entry *o = &config_options[i];

		if ((v = value_text(o, c)) == NULL)
			return -1;
		rc = fn(arg, o->section, o->name, v);
		free(v);
		if (rc == -1)
			return -1;
		if (!last_of_fleet(o))
			continue;
		for (st = c->storages; st != NULL; st = st->next) {
			snprintf(section, sizeof(section), "storage %s",
			    st->name);
			if ((v = storage_text(st)) == NULL)
				return -1;
			rc = fn(arg, "fleet", section, v);
			free(v);
			if (rc == -1)
				return -1;
		}
	}
	for (g = c->guests; g != NULL; g = g->next) {
		snprintf(section, sizeof(section), "guest %s", g->name);
		for (i = 0; i < guest_noptions; i++) {
			if (!(g->set & (1u << i)))
				continue;
			if ((v = value_text(&guest_options[i], g)) == NULL)
				return -1;
			rc = fn(arg, section, guest_options[i].name, v);
			free(v);
			if (rc == -1)
				return -1;
		}
	}
	for (p = c->plugins; p != NULL; p = p->next) {
		snprintf(section, sizeof(section), "plugin %s", p->name);
		for (i = 0; i < p->n; i++)
			if (fn(arg, section, p->keys[i], p->values[i]) == -1)
				return -1;
	}
	return 0;
}

void
config_print(const struct config *c, FILE *f)
{
	const struct fleet_storage *st;
	const struct plugin_conf *p;
	const struct guest_conf *g;
	const char *section = "";
	size_t i;

	for (i = 0; i < config_noptions; i++) {
		const struct opt_entry *o = &config_options[i];

		if (strcmp(section, o->section) != 0) {
			fprintf(f, "%s[%s]\n", i ? "\n" : "", o->section);
			section = o->section;
		}
		print_help(o->help, f);
		print_value(o, c, f);
		if (!last_of_fleet(o))
			continue;
		for (st = c->storages; st != NULL; st = st->next) {
			char *v = storage_text(st);

			fprintf(f, "storage %s = %s\n", st->name, v ? v : "?");
			free(v);
		}
	}
	for (g = c->guests; g != NULL; g = g->next) {
		fprintf(f, "\n[guest %s]\n", g->name);
		for (i = 0; i < guest_noptions; i++)
			if (g->set & (1u << i))
				print_value(&guest_options[i], g, f);
	}
	for (p = c->plugins; p != NULL; p = p->next) {
		fprintf(f, "\n[plugin %s]\n", p->name);
		for (i = 0; i < p->n; i++)
			fprintf(f, "%s = %s\n", p->keys[i], p->values[i]);
	}
}
