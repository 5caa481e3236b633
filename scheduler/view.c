/*
 * Which disks a scan reads.  A shut-off guest: its images, as they are.
 * A running guest: a libvirt backup job in pull mode, whose NBD export is
 * each disk as it was when the job began while the guest writes on (qemu
 * copies a block it overwrites into a scratch file first); the appliance
 * reads that export.  Where no job can be had, the images themselves
 * under libguestfs's read-only overlay: a "live" view, which the scan
 * says it used.  The guest's own disks are never written either way.
 *
 * view_begin and view_end run in the scan's worker thread, on a libvirt
 * connection of their own; the loop only reads the scratch files' size
 * (view_check_scratch).
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/un.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "log.h"
#include "sentineld.h"
#include "util.h"

#define SOCK_SUFFIX	".sock"
#define SCRATCH_SUFFIX	".qcow2"

/* Whether scratch_dir can be used; set at start and on reload. */
static struct {
	int	 ok;
	char	 why[256];
} setup;

const char *
view_kind_name(enum view_kind k)
{
	switch (k) {
	case VIEW_OFFLINE:	return "offline";
	case VIEW_BACKUP:	return "backup";
	case VIEW_LIVE:		return "live";
	}
	return "unknown";
}

/* "0123...-uuid" followed by SUFFIX or "-TARGET" SUFFIX: ours. */
static int
our_name(const char *name)
{
	size_t i, len = strlen(name);

	if (len <= UUID_LEN)
		return 0;
	for (i = 0; i < UUID_LEN; i++)
		if (!(name[i] == '-' || (name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	name += UUID_LEN;
	len -= UUID_LEN;
	if (strcmp(name, SOCK_SUFFIX) == 0)
		return 1;
	return name[0] == '-' && len > sizeof(SCRATCH_SUFFIX) &&
	    strcmp(name + len - (sizeof(SCRATCH_SUFFIX) - 1),
	    SCRATCH_SUFFIX) == 0;
}

/* At start: what a scan that never ended left in DIR. */
static void
remove_stale(const char *dir)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!our_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			log_warnx("views: removed %s, left by a scan that did "
			    "not end", path);
		else
			log_warn("views: %s", path);
	}
	closedir(d);
}

static int
prepare_dir(const struct config *c, char *why, size_t len)
{
	struct sockaddr_un sun;
	struct passwd *pw;
	struct stat st;
	const char *dir = c->scratch_dir;

	if (!c->point_in_time) {
		snprintf(why, len, "[view] point_in_time is off");
		return -1;
	}
	if (dir[0] != '/') {
		snprintf(why, len, "[view] scratch_dir %s is not an absolute "
		    "path", dir);
		return -1;
	}
	if (strlen(dir) + 1 + UUID_LEN + sizeof(SOCK_SUFFIX) >
	    sizeof(sun.sun_path)) {
		snprintf(why, len, "[view] scratch_dir %s is too long for the "
		    "NBD sockets in it (at most %zu characters)", dir,
		    sizeof(sun.sun_path) - 1 - UUID_LEN - sizeof(SOCK_SUFFIX));
		return -1;
	}
	errno = 0;
	if ((pw = getpwnam(c->qemu_user)) == NULL) {
		snprintf(why, len, "[view] qemu_user %s: %s", c->qemu_user,
		    errno ? strerror(errno) : "no such user");
		return -1;
	}
	/* Parents it creates must let qemu through; the directory itself
	 * is made 0710 below. */
	if (mkdir_p(dir, 0711) == -1 || lstat(dir, &st) == -1) {
		snprintf(why, len, "scratch_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "scratch_dir %s is not a directory", dir);
		return -1;
	}
	/* qemu creates the sockets and writes the scratch files; the
	 * scanner's group may pass, to reach the sockets (each 0660, group
	 * the scanner's) and nothing else. */
	if ((st.st_uid != pw->pw_uid || st.st_gid != scanner_gid()) &&
	    chown(dir, pw->pw_uid, scanner_gid()) == -1) {
		snprintf(why, len, "scratch_dir %s: chown to %s: %s", dir,
		    pw->pw_name, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 07777) != 0710 && chmod(dir, 0710) == -1) {
		snprintf(why, len, "scratch_dir %s: chmod: %s", dir,
		    strerror(errno));
		return -1;
	}
	return path_reachable(dir, pw, "whom qemu runs as", why, len);
}

int
view_setup(const struct config *c, int start)
{
	int was = setup.ok;

	setup.ok = prepare_dir(c, setup.why, sizeof(setup.why)) == 0;
	if (setup.ok) {
		if (start)
			remove_stale(c->scratch_dir);
		if (start || !was)
			log_info("views: running guests are scanned through "
			    "backup jobs (point in time), scratch in %s",
			    c->scratch_dir);
	} else if (c->point_in_time)
		log_warnx("views: %s; running guests are scanned live, not "
		    "at a point in time", setup.why);
	else if (start || was)
		log_info("views: %s; running guests are scanned live",
		    setup.why);
	return setup.ok ? 0 : -1;
}

/* On the loop, as the scan starts: the settings it keeps. */
int
view_prepare(struct job *j, const struct guest *g)
{
	struct view *v = &j->view;
	int running = g == NULL || strcmp(g->state, "shut off") != 0;

	v->want = setup.ok;
	v->freeze = sd.conf.view_freeze;
	v->agent_timeout = (int)sd.conf.agent_timeout;
	v->max_scratch = sd.conf.max_scratch;
	v->kind = running ? VIEW_LIVE : VIEW_OFFLINE;
	if (!setup.ok && running)
		snprintf(v->note, sizeof(v->note), "%s", setup.why);
	if ((v->dir = strdup(sd.conf.scratch_dir)) == NULL ||
	    (v->uri = strdup(sd.conf.libvirt_uri)) == NULL)
		return -1;
	return 0;
}

/* Sets *type to the type of the job running on dom (VIR_DOMAIN_JOB_NONE
 * if none, -1 if libvirt cannot say) and returns its operation, or -1. */
static int
job_operation(virDomainPtr dom, int *type)
{
	virTypedParameterPtr params = NULL;
	int nparams = 0, op = -1;

	*type = VIR_DOMAIN_JOB_NONE;
	if (virDomainGetJobStats(dom, type, &params, &nparams, 0) == -1) {
		*type = -1;
		return -1;
	}
	if (*type != VIR_DOMAIN_JOB_NONE &&
	    virTypedParamsGetInt(params, nparams, VIR_DOMAIN_JOB_OPERATION,
	    &op) != 1)
		op = -1;
	virTypedParamsFree(params, nparams);
	return op;
}

static const char *
operation_name(int op)
{
	switch (op) {
	case VIR_DOMAIN_JOB_OPERATION_BACKUP:		return "backup";
	case VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT:	return "migration";
	case VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN:	return "incoming migration";
	case VIR_DOMAIN_JOB_OPERATION_SAVE:		return "save";
	case VIR_DOMAIN_JOB_OPERATION_RESTORE:		return "restore";
	case VIR_DOMAIN_JOB_OPERATION_DUMP:		return "dump";
	case VIR_DOMAIN_JOB_OPERATION_SNAPSHOT:		return "snapshot";
	case VIR_DOMAIN_JOB_OPERATION_SNAPSHOT_REVERT:	return "snapshot revert";
	}
	return "libvirt";
}

/* The socket of the backup job running on dom, or NULL. */
static char *
job_socket(virDomainPtr dom)
{
	char *xml, *sock;

	if ((xml = virDomainBackupGetXMLDesc(dom, 0)) == NULL)
		return NULL;
	sock = domxml_backup_socket(xml);
	free(xml);
	return sock;
}

/* Ends the job on dom if it is still the one on sock; -1 if it may be
 * left running (said in the log). */
static int
abort_ours(virDomainPtr dom, const char *sock, const char *guest)
{
	char *s;
	int type, op, rc = 0;

	op = job_operation(dom, &type);
	if (type == -1) {
		log_warnx("scan %s: cannot tell whether the backup job still "
		    "runs: %s; sentineld ends it at its next start, or end it "
		    "with virsh domjobabort", guest, virt_error());
		return -1;
	}
	if (type == VIR_DOMAIN_JOB_NONE ||
	    op != VIR_DOMAIN_JOB_OPERATION_BACKUP ||
	    (s = job_socket(dom)) == NULL)
		return 0;
	if (strcmp(s, sock) == 0 && virDomainAbortJob(dom) == -1) {
		log_warnx("scan %s: the backup job could not be ended: %s; "
		    "sentineld ends it at its next start, or end it with virsh "
		    "domjobabort", guest, virt_error());
		rc = -1;
	}
	free(s);
	return rc;
}

static void
remove_files(struct view *v)
{
	size_t i;

	for (i = 0; v->scratch != NULL && i < v->ndisks; i++)
		if (v->scratch[i] != NULL && unlink(v->scratch[i]) == -1 &&
		    errno != ENOENT)
			log_warn("views: %s", v->scratch[i]);
	if (v->sock[0] != '\0' && unlink(v->sock) == -1 && errno != ENOENT)
		log_warn("views: %s", v->sock);
}

static void
disconnect(struct view *v)
{
	if (v->dom != NULL)
		virDomainFree(v->dom);
	if (v->conn != NULL)
		virConnectClose(v->conn);
	v->dom = NULL;
	v->conn = NULL;
}

/* Names the files of a job on j's disks; -1 out of memory. */
static int
name_files(struct job *j)
{
	struct view *v = &j->view;
	size_t i, k;
	int plain;

	snprintf(v->sock, sizeof(v->sock), "%s/%s" SOCK_SUFFIX, v->dir,
	    j->uuid);
	if ((v->scratch = calloc(j->ndisks, sizeof(*v->scratch))) == NULL ||
	    (v->disks = calloc(j->ndisks, sizeof(*v->disks))) == NULL)
		return -1;
	v->ndisks = j->ndisks;
	for (i = 0; i < j->ndisks; i++) {
		const char *t = j->disks[i].target;

		/* Targets come from libvirt ("vda"); anything odd is
		 * named by its index instead. */
		plain = strlen(t) > 0 && strlen(t) < 32;
		for (k = 0; plain && t[k] != '\0'; k++)
			plain = (t[k] >= 'a' && t[k] <= 'z') ||
			    (t[k] >= '0' && t[k] <= '9');
		if (plain ? asprintf(&v->scratch[i], "%s/%s-%s" SCRATCH_SUFFIX,
		    v->dir, j->uuid, t) == -1 : asprintf(&v->scratch[i],
		    "%s/%s-%zu" SCRATCH_SUFFIX, v->dir, j->uuid, i) == -1) {
			v->scratch[i] = NULL;
			return -1;
		}
		if ((v->disks[i].path = strdup(v->sock)) == NULL ||
		    (v->disks[i].format = strdup("raw")) == NULL ||
		    (v->disks[i].target = strdup(t)) == NULL)
			return -1;
		v->disks[i].nbd = 1;
	}
	return 0;
}

/* The live view, and why: WHY then DETAIL. */
static void
live(struct view *v, const char *why, const char *detail)
{
	v->kind = VIEW_LIVE;
	snprintf(v->note, sizeof(v->note), "%s%s", why, detail);
}

/* Freezes the guest's filesystems if an agent answers; says how the view
 * will be consistent.  1 if frozen. */
static int
freeze(struct job *j)
{
	struct view *v = &j->view;
	char *xml;
	int agent;

	v->consistency = "crash-consistent";
	if (!v->freeze) {
		snprintf(v->note, sizeof(v->note), "[view] freeze is off");
		return 0;
	}
	if ((xml = virDomainGetXMLDesc(v->dom, 0)) == NULL) {
		snprintf(v->note, sizeof(v->note), "no guest agent (domain XML: "
		    "%s)", virt_error());
		return 0;
	}
	agent = domxml_agent(xml);
	free(xml);
	if (agent == -1) {
		snprintf(v->note, sizeof(v->note), "no guest agent channel");
		return 0;
	}
	/*
	 * libvirt waits for an agent's answer without limit by default: an
	 * agent that answers guest-sync but never the freeze (a freeze hook
	 * that hangs, or a guest that means it) held this worker, and its
	 * scan slot, for good.
	 */
	if (virDomainAgentSetResponseTimeout(v->dom, v->agent_timeout, 0) < 0)
		log_warnx("scan %s: guest agent timeout: %s", j->guest,
		    virt_error());
	/* The channel's state may lag: ask even when it says no agent. */
	if (virDomainFSFreeze(v->dom, NULL, 0, 0) < 0) {
		if (agent)
			snprintf(v->note, sizeof(v->note), "guest agent: %s",
			    virt_error());
		else
			snprintf(v->note, sizeof(v->note), "guest agent not "
			    "connected");
		/* An agent that did not answer in time may still freeze:
		 * one thaw, bounded like the freeze, so the guest is not
		 * left frozen by a scan that gave up on it (an agent that
		 * said no answers a thaw as quickly). */
		if (agent && virDomainFSThaw(v->dom, NULL, 0, 0) < 0)
			log_warnx("scan %s: thaw after an unanswered freeze: "
			    "%s", j->guest, virt_error());
		return 0;
	}
	v->consistency = "application-consistent";
	return 1;
}

static void
thaw(struct job *j)
{
	int i;

	/* A guest left frozen stops: try hard, and say so loudly. */
	for (i = 0; i < 5; i++) {
		if (virDomainFSThaw(j->view.dom, NULL, 0, 0) >= 0)
			return;
		log_warnx("scan %s: thawing the guest's filesystems: %s",
		    j->guest, virt_error());
		usleep(200000);
	}
	log_warnx("scan %s: the guest's filesystems may still be frozen; "
	    "thaw them with virsh domfsthaw", j->guest);
}

/* In the worker, before the scan: takes the view. */
void
view_begin(struct job *j)
{
	struct view *v = &j->view;
	uint64_t t0 = mono_ms();
	char *xml = NULL;
	int type, op, frozen, rc;

	if (!v->want || j->ndisks == 0)
		return;
	if ((v->conn = virConnectOpen(v->uri)) == NULL) {
		/* The inventory's word on whether it runs stands. */
		if (v->kind == VIEW_LIVE)
			live(v, "cannot connect to libvirt: ", virt_error());
		goto out;
	}
	if ((v->dom = virDomainLookupByUUIDString(v->conn, j->uuid)) == NULL) {
		if (v->kind == VIEW_LIVE)
			live(v, "guest not found in libvirt: ", virt_error());
		goto out;
	}
	if ((rc = virDomainIsActive(v->dom)) == 0) {
		v->kind = VIEW_OFFLINE;
		v->note[0] = '\0';
		goto out;
	}
	v->kind = VIEW_LIVE;
	if (rc == -1) {
		live(v, "guest state unknown: ", virt_error());
		goto out;
	}
	op = job_operation(v->dom, &type);
	if (type == -1) {
		live(v, "cannot read the guest's jobs: ", virt_error());
		goto out;
	}
	if (type != VIR_DOMAIN_JOB_NONE) {
		snprintf(v->note, sizeof(v->note), "a %s job is already "
		    "running on the guest", operation_name(op));
		goto out;
	}
	if (name_files(j) == -1 ||
	    (xml = domxml_backup(v->sock, j->disks, j->ndisks, v->scratch)) ==
	    NULL) {
		live(v, "out of memory", "");
		goto out;
	}
	/* Leftovers of an earlier scan of this guest would stop the job. */
	remove_files(v);
	frozen = freeze(j);
	v->at_ms = now_ms();
	rc = virDomainBackupBegin(v->dom, xml, NULL, 0);
	/* Before the thaw, which may set an error of its own. */
	if (rc == -1)
		live(v, "the backup job could not start: ", virt_error());
	if (frozen)
		thaw(j);
	if (rc == -1) {
		v->consistency = NULL;
		v->at_ms = 0;
		remove_files(v);
		goto out;
	}
	pthread_mutex_lock(&j->progress.mtx);
	v->job = 1;
	pthread_mutex_unlock(&j->progress.mtx);
	/* qemu's socket: the scanner's group connects, nobody else. */
	if (chown(v->sock, (uid_t)-1, scanner_gid()) == -1 ||
	    chmod(v->sock, 0660) == -1)
		log_warn("scan %s: backup socket %s", j->guest, v->sock);
	v->kind = VIEW_BACKUP;
	v->begin_ms = (int64_t)(mono_ms() - t0);
	j->opts.disks = v->disks;
	j->opts.ndisks = v->ndisks;
	log_info("scan %s: point-in-time view taken in %lld ms (backup job, "
	    "%s%s%s)", j->guest, (long long)v->begin_ms, v->consistency,
	    v->note[0] ? ": " : "", v->note);
	free(xml);
	return;
out:
	free(xml);
	if (v->kind == VIEW_LIVE)
		log_warnx("scan %s: live, not point-in-time: %s", j->guest,
		    v->note);
	disconnect(v);
}

/* In the worker, after the scan: ends the job and removes its files. */
void
view_end(struct job *j)
{
	struct view *v = &j->view;
	uint64_t t0 = mono_ms(), used;
	int left;

	if (v->job) {
		pthread_mutex_lock(&j->progress.mtx);
		v->job = 0;
		used = v->scratch_used;
		pthread_mutex_unlock(&j->progress.mtx);
		/* Ours only: the guest may have stopped (ending the job)
		 * and someone else started one since. */
		left = !v->aborting &&
		    abort_ours(v->dom, v->sock, j->guest) == -1;
		/* qemu keeps a scratch file it has open: removing it does
		 * not disturb a job left running. */
		remove_files(v);
		v->end_ms = (int64_t)(mono_ms() - t0);
		if (!left)
			log_info("scan %s: point-in-time view ended in %lld ms; "
			    "its scratch files held up to %llu bytes", j->guest,
			    (long long)v->end_ms, (unsigned long long)used);
	}
	disconnect(v);
}

void
view_free(struct view *v)
{
	size_t i;

	for (i = 0; v->scratch != NULL && i < v->ndisks; i++)
		free(v->scratch[i]);
	free(v->scratch);
	disks_free(v->disks, v->ndisks);
	free(v->dir);
	free(v->uri);
	v->scratch = NULL;
	v->disks = NULL;
	v->dir = v->uri = NULL;
}

struct abort_req {
	virDomainPtr	 dom;
	char		 sock[108];
	char		*guest;
};

static void *
abort_thread(void *arg)
{
	struct abort_req *a = arg;

	abort_ours(a->dom, a->sock, a->guest);
	virDomainFree(a->dom);
	free(a->guest);
	free(a);
	return NULL;
}

/* The job ends now, off the loop and without waiting for the scan to
 * stop (an appliance still launching takes seconds): the thread holds
 * references of its own, so the job may finish before it does. */
static int
abort_soon(struct job *j)
{
	struct abort_req *a;
	pthread_attr_t at;
	pthread_t t;
	int rc;

	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->guest = strdup(j->guest)) == NULL) {
		free(a);
		return -1;
	}
	snprintf(a->sock, sizeof(a->sock), "%s", j->view.sock);
	a->dom = j->view.dom;
	virDomainRef(a->dom);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &at, abort_thread, a);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		virDomainFree(a->dom);
		free(a->guest);
		free(a);
		return -1;
	}
	return 0;
}

/* On the loop: a view whose scratch files passed max_scratch has its job
 * ended and its scan stopped. */
void
view_check_scratch(struct job *j)
{
	struct view *v = &j->view;
	uint64_t used = 0;
	struct stat st;
	size_t i;
	int over;

	pthread_mutex_lock(&j->progress.mtx);
	for (i = 0; v->job && i < v->ndisks; i++)
		if (stat(v->scratch[i], &st) == 0)
			used += (uint64_t)st.st_blocks * 512;
	if (used > v->scratch_used)
		v->scratch_used = used;
	over = v->job && used > v->max_scratch && j->cancel_why[0] == '\0';
	/* Under the lock: view_end clears job before it lets dom go.  If
	 * no thread can end the job, view_end will. */
	if (over && abort_soon(j) == 0)
		v->aborting = 1;
	pthread_mutex_unlock(&j->progress.mtx);
	if (!over)
		return;
	snprintf(j->cancel_why, sizeof(j->cancel_why), "stopped: the "
	    "point-in-time view's scratch files passed max_scratch (%llu "
	    "bytes)", (unsigned long long)v->max_scratch);
	log_warnx("scan %s: the view's scratch files hold %llu bytes, past "
	    "max_scratch (%llu): ending the job, stopping the scan", j->guest,
	    (unsigned long long)used, (unsigned long long)v->max_scratch);
	scan_cancel(&j->progress);
}

/*
 * Once connected after a start: backup jobs a sentineld that died left
 * on its guests, known by their socket in DIR, are ended.
 */
void
view_orphans(virDomainPtr *doms, int n, const char *dir)
{
	size_t dl = strlen(dir);
	char *sock;
	int i, type, op;

	for (i = 0; i < n; i++) {
		if (virDomainIsActive(doms[i]) != 1)
			continue;
		op = job_operation(doms[i], &type);
		if (type == VIR_DOMAIN_JOB_NONE ||
		    op != VIR_DOMAIN_JOB_OPERATION_BACKUP ||
		    (sock = job_socket(doms[i])) == NULL)
			continue;
		if (strncmp(sock, dir, dl) == 0 && sock[dl] == '/' &&
		    our_name(sock + dl + 1)) {
			if (virDomainAbortJob(doms[i]) == 0)
				log_warnx("views: ended the backup job a scan "
				    "that did not end left on %s (%s)",
				    virDomainGetName(doms[i]), sock);
			else
				log_warnx("views: cannot end the backup job "
				    "left on %s (%s): %s",
				    virDomainGetName(doms[i]), sock,
				    virt_error());
		}
		free(sock);
	}
}
