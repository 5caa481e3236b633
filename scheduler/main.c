/*
 * sentineld: loads the configuration and the signatures, then runs the
 * libuv loop that owns all daemon state: the control socket, the guest
 * inventory and the scan jobs.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sentinel/version.h"
#include "sentineld.h"
#include "stamp.h"
#include "util.h"

#define APPLIANCE_MEM	(1536ULL << 20)	/* appliance plus our buffers */
#define STOP_KILL_MS	5000	/* then scans that did not stop are killed */
#define STOP_EXIT_MS	9000	/* then sentineld exits whatever is left */

struct daemon sd;

static uv_signal_t sig_term, sig_int, sig_hup;
static uv_timer_t stop_timer;
static uv_timer_t self_timer;	/* [clamav] self_check */
static int stop_phase;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: sentineld [-fhnv] [-c file]\n"
	    "  -c file  configuration file (default %s)\n"
	    "  -f       stay in the foreground, log to stderr\n"
	    "  -n       check the configuration, print the effective "
	    "settings, exit\n"
	    "  -v       verbose logging\n", SENTINEL_CONF_PATH);
	exit(2);
}

unsigned int
derive_max_scans(void)
{
	unsigned long long avail = 0, kb;
	char line[256];
	long ncpu;
	FILE *f;
	unsigned long long n;

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if ((f = fopen("/proc/meminfo", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
				avail = kb * 1024;
		fclose(f);
	}
	n = avail ? avail / APPLIANCE_MEM : 1;
	if (n > (unsigned long long)ncpu)
		n = (unsigned long long)ncpu;
	if (n < 1)
		n = 1;
	if (n > 64)
		n = 64;
	return (unsigned int)n;
}

static unsigned int
effective_max_scans(const struct config *c)
{
	return c->max_concurrent_scans > 0 ?
	    (unsigned int)c->max_concurrent_scans : derive_max_scans();
}

/* Reads the configuration: the default file may be absent (defaults are
 * used), a file named with -c must exist. */
static int
read_config(struct config *c, const char *path, int explicit, char *err,
    size_t errlen)
{
	config_defaults(c);
	if (!explicit && access(path, F_OK) == -1 && errno == ENOENT)
		return 0;
	if (config_load(c, path, err, errlen) == -1)
		return -1;
	/* The appliance runs in the scanner's sandbox, started by
	 * libguestfs itself: no other backend can. */
	if (*c->guestfs_backend != '\0' &&
	    strcmp(c->guestfs_backend, "direct") != 0) {
		snprintf(err, errlen, "%s: [guestfs] backend %s: only direct is "
		    "supported (the appliance runs inside the scanner's "
		    "sandbox)", path, c->guestfs_backend);
		return -1;
	}
	if (*c->metrics_listen != '\0') {
		struct sockaddr_storage ss;
		char why[384];

		if (metrics_parse_listen(c->metrics_listen, &ss, why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s", path, why);
			return -1;
		}
	}
	return 0;
}

/* Before detaching, so that the admin sees it: a signature directory
 * that is missing or has nothing to load is said at once (the scanner
 * loads it, and says what else is wrong). */
static int
databases_present(const char *dir, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int found = 0;

	if (*dir == '\0')
		return 0;	/* libclamav's default: the scanner says */
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "signature directory %s: %s (freshclam "
		    "fills it; or set [clamav] database)", dir, strerror(errno));
		return -1;
	}
	while (!found && (de = readdir(d)) != NULL)
		found = sig_is_database(de->d_name);
	closedir(d);
	if (!found)
		snprintf(err, errlen, "no signature databases in %s (freshclam "
		    "fills it; or set [clamav] database)", dir);
	return found ? 0 : -1;
}

static void
close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void
close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	close_handle(h);
}

/* No worker left: close every handle so the loop ends. */
static void
all_idle(void)
{
	log_info("stopping: no scan running");
	control_close_clients();
	fleet_close();
	metrics_close();
	inventory_close();
	retention_close();
	plugins_close();
	schedule_close();
	jobs_close();
	scanner_close();
	close_handle((uv_handle_t *)&sig_term);
	close_handle((uv_handle_t *)&sig_int);
	close_handle((uv_handle_t *)&sig_hup);
	close_handle((uv_handle_t *)&stop_timer);
	close_handle((uv_handle_t *)&self_timer);
}

static void
on_stop_timer(uv_timer_t *t)
{
	unsigned int n;

	if (stop_phase++ == 0) {
		/* Scans that did not stop when asked: their processes and
		 * appliances are killed, so their workers end at once. */
		if ((n = scanner_kill_all()) > 0)
			log_warnx("stopping: killed %u scan%s that did not "
			    "stop", n, n == 1 ? "" : "s");
		uv_timer_start(t, on_stop_timer, STOP_EXIT_MS - STOP_KILL_MS, 0);
		return;
	}
	log_warnx("stopping: %u scan%s did not end in time; exiting anyway "
	    "(their appliances die with sentineld)", jobs_running(),
	    jobs_running() == 1 ? "" : "s");
	store_close();
	_exit(0);
}

static void
on_term(uv_signal_t *s, int signum)
{
	(void)s;
	if (sd.stopping)
		return;
	log_info("signal %d: stopping", signum);
	service_notify("STOPPING=1");
	sd.stopping = 1;
	control_close();
	uv_timer_start(&stop_timer, on_stop_timer, STOP_KILL_MS, 0);
	/* The timer must not keep the loop alive once all else is closed. */
	uv_unref((uv_handle_t *)&stop_timer);
	jobs_shutdown(all_idle);
}

static void
note_restart(const char *what, const char *a, const char *b)
{
	if (strcmp(a, b) != 0)
		log_warnx("reload: %s changed; it takes effect when sentineld "
		    "restarts", what);
}

/* Signatures are loaded again by a new scanner process, beside the one
 * in use; it serves scans that start afterwards, the running ones finish
 * on the one they started with.  A failure keeps the old one. */
void
signatures_reload(void (*cb)(void *, const char *), void *arg)
{
	scanner_reload(cb, arg);
}

/* clamd's SelfCheck: a changed signature directory (freshclam ran, a file
 * was dropped in) is reloaded.  Only names, sizes and times are compared;
 * a failed reload is tried again at the next check. */
static void
on_self_check(uv_timer_t *t)
{
	(void)t;
	if (sd.stopping || scanner_reloading() || sd.scanner == NULL ||
	    !scanner_stale(sd.scanner, sd.conf.yara_rules))
		return;
	log_info("signatures: %s%s%s changed", scanner_dbdir(sd.scanner),
	    *sd.conf.yara_rules ? " or " : "", sd.conf.yara_rules);
	signatures_reload(NULL, NULL);
}

static void
self_check_start(void)
{
	uint64_t ms = sd.conf.self_check * 1000;

	uv_timer_stop(&self_timer);
	if (ms > 0)
		uv_timer_start(&self_timer, on_self_check, ms, ms);
}

/* SIGHUP: read the configuration again.  A bad file keeps the old one. */
static void
on_hup(uv_signal_t *s, int signum)
{
	struct config nc, old;
	char err[512];

	(void)s;
	(void)signum;
	if (read_config(&nc, sd.conf_path, 1, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the running configuration", err);
		config_free(&nc);
		return;
	}
	note_restart("[control] socket", sd.conf.control_socket,
	    nc.control_socket);
	note_restart("[control] group", sd.conf.control_group,
	    nc.control_group);
	note_restart("[state] path", sd.conf.state_path, nc.state_path);
	note_restart("[metrics] listen", sd.conf.metrics_listen,
	    nc.metrics_listen);
	note_restart("[libvirt] uri", sd.conf.libvirt_uri, nc.libvirt_uri);
	note_restart("[fleet] database", sd.conf.fleet_database,
	    nc.fleet_database);
	note_restart("[fleet] host", sd.conf.fleet_host, nc.fleet_host);
	note_restart("[clamav] database", sd.conf.clamav_database,
	    nc.clamav_database);
	note_restart("[clamav] tmpdir", sd.conf.clamav_tmpdir,
	    nc.clamav_tmpdir);
	note_restart("[scanner] user", sd.conf.scanner_user, nc.scanner_user);
	note_restart("[scanner] dir", sd.conf.scanner_dir, nc.scanner_dir);
	note_restart("[scanner] appliance", sd.conf.scanner_appliance,
	    nc.scanner_appliance);
	if (nc.verdict_cache != sd.conf.verdict_cache)
		log_warnx("reload: [scan] verdict_cache changed; it takes "
		    "effect when sentineld restarts");
	nc.verdict_cache = sd.conf.verdict_cache;
	/* Keep the values that only a restart changes. */
	old = sd.conf;
	sd.conf = nc;
#define KEEP(f) do { char *t = sd.conf.f; sd.conf.f = old.f; old.f = t; } while (0)
	KEEP(control_socket);
	KEEP(control_group);
	KEEP(state_path);
	KEEP(metrics_listen);
	KEEP(libvirt_uri);
	KEEP(fleet_database);
	KEEP(fleet_host);
	/* Plugins are loaded at start: their sections stay as loaded. */
	if (!plugins_conf_same(sd.conf.plugins, old.plugins))
		log_warnx("reload: [plugin] sections changed; they take effect "
		    "when sentineld restarts");
	{
		struct plugin_conf *t = sd.conf.plugins;

		sd.conf.plugins = old.plugins;
		old.plugins = t;
	}
	KEEP(clamav_database);
	KEEP(clamav_tmpdir);
	KEEP(scanner_user);
	KEEP(scanner_dir);
	KEEP(scanner_appliance);
#undef KEEP
	config_free(&old);
	sd.max_scans = effective_max_scans(&sd.conf);
	log_info("reload: configuration %s read; at most %u scan%s at once",
	    sd.conf_path, sd.max_scans, sd.max_scans == 1 ? "" : "s");
	/* The signatures load in the background, beside the engine in use:
	 * sentineld serves throughout, so the reload is done here. */
	service_notify("READY=1\nSTATUS=configuration reloaded");
	schedule_reconf();
	metrics_reconf();
	view_setup(&sd.conf, 0);
	inventory_refresh(NULL, NULL);
	plugins_reopen();
	self_check_start();
	signatures_reload(NULL, NULL);
}

/*
 * Descriptors: every control client, scan (its channel, exports, pipes),
 * plugin and libvirt connection holds some, and systemd gives a service
 * a soft limit of 1024.  Raised to the hard limit (at most 65536): with
 * [control] max_clients in front, the group's clients cannot take what
 * scans and root need.
 */
static void
raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 :
	    rl.rlim_max;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("raising the descriptor limit to %llu",
		    (unsigned long long)want);
}

int
main(int argc, char *argv[])
{
	const char *conf_path = SENTINEL_CONF_PATH;
	int ch, foreground = 0, check = 0, verbose = 0, explicit = 0;
	char err[1024];

	while ((ch = getopt(argc, argv, "c:fhnv")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			explicit = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	if (read_config(&sd.conf, conf_path, explicit, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		config_free(&sd.conf);
		return 1;
	}
	sd.conf_path = conf_path;
	sd.max_scans = effective_max_scans(&sd.conf);
	if (check) {
		config_print(&sd.conf, stdout);
		printf("\n# effective: max_concurrent_scans %u%s\n",
		    sd.max_scans, sd.conf.max_concurrent_scans ? "" :
		    " (derived from cores and available memory)");
		printf("# effective: engine_threads %u%s, cpu_threads %u%s\n",
		    effective_engine_threads(&sd.conf),
		    sd.conf.engine_threads ? "" : " (the host's CPUs)",
		    schedule_cpu_budget(), sd.conf.cpu_threads ? "" :
		    " (the host's CPUs)");
		config_free(&sd.conf);
		return 0;
	}

	log_init("sentineld", 1, verbose);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (mkdir_parent(sd.conf.control_socket, 0755) == -1)
		fatal("control socket directory for %s", sd.conf.control_socket);
	if (databases_present(sd.conf.clamav_database, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (*sd.conf.clamav_tmpdir == '\0')
		fatalx("[clamav] tmpdir must be set: it is the scanner's only "
		    "writable directory");
	if (scanner_setup(&sd.conf, err, sizeof(err)) == -1)
		fatalx("%s", err);

	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("sentineld", 0, verbose);
	}
	if (store_open(sd.conf.state_path, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (store_recover() == -1)
		log_warnx("state %s: cannot close the scans a previous run left "
		    "queued or running; tried again at the next start",
		    sd.conf.state_path);
	estimate_init();
	/* Before the inventory: stale scratch files go before any scan. */
	view_setup(&sd.conf, 1);

	sd.loop = uv_default_loop();
	sd.started_ms = now_ms();
	/* The scanner is forked by this, the final process: it dies with
	 * it.  It loads the signatures; sentineld never maps libclamav. */
	if (scanner_init() == -1)
		fatalx("cannot set up the scanner's handles");
	if ((sd.scanner = scanner_start(&sd.conf, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	log_info("signatures: %u from %s, %u YARA rules, in %llu ms "
	    "(scanner %d)", scanner_signatures(sd.scanner),
	    scanner_dbdir(sd.scanner), scanner_yara_rules(sd.scanner),
	    (unsigned long long)scanner_load_ms(sd.scanner),
	    (int)scanner_pid(sd.scanner));
	scanner_keep_sigsum(sd.scanner);
	scanner_loaded();
	if (vcache_init((size_t)sd.conf.verdict_cache,
	    scanner_version(sd.scanner)) == -1)
		fatalx("verdict cache: out of memory for %lld entries",
		    sd.conf.verdict_cache);
	if (jobs_init() == -1)
		fatalx("cannot set up the job queue");
	if (schedule_init(err, sizeof(err)) == -1)
		fatalx("%s", err);
	/* Signals first: once the socket exists, a client may signal us. */
	uv_timer_init(sd.loop, &stop_timer);
	uv_signal_init(sd.loop, &sig_term);
	uv_signal_init(sd.loop, &sig_int);
	uv_signal_init(sd.loop, &sig_hup);
	uv_signal_start(&sig_term, on_term, SIGTERM);
	uv_signal_start(&sig_int, on_term, SIGINT);
	uv_signal_start(&sig_hup, on_hup, SIGHUP);
	uv_timer_init(sd.loop, &self_timer);
	self_check_start();
	if (ctl_check_table(err, sizeof(err)) == -1 ||
	    control_init(err, sizeof(err)) == -1)
		fatalx("%s", err);
	plugins_init();
	if (metrics_init(err, sizeof(err)) == -1)
		fatalx("%s", err);
	inventory_init();
	retention_init();
	if (fleet_init(err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_info("sentineld %s ready on %s; libvirt %s; at most %u scan%s at "
	    "once", SENTINEL_VERSION, sd.conf.control_socket,
	    sd.conf.libvirt_uri, sd.max_scans, sd.max_scans == 1 ? "" : "s");
	service_notify("READY=1\nSTATUS=serving");

	uv_run(sd.loop, UV_RUN_DEFAULT);

	uv_walk(sd.loop, close_walk, NULL);
	uv_run(sd.loop, UV_RUN_DEFAULT);
	uv_loop_close(sd.loop);
	vcache_free();
	schedule_free();
	store_close();
	scanner_unref(sd.scanner);
	config_free(&sd.conf);
	log_info("stopped");
	return 0;
}
