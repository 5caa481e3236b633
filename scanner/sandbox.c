/*
 * The scanner's sandbox.  Entered once, as root, by the scanner process
 * sentineld starts (the "zygote"), before it loads the engines; every
 * scan child it forks and every appliance qemu those start inherit it:
 *
 *   - namespaces: a network namespace of its own (no interface but a
 *     loopback that is down), a mount namespace in which /run is an empty
 *     tmpfs (libvirt's, D-Bus's and systemd's sockets are not there) and
 *     /tmp and /var/tmp are the scanner's own directory;
 *   - credentials: the scanner user and its groups (kvm where it exists),
 *     an empty capability bounding set, no_new_privs;
 *   - Landlock: reading only system directories, the signatures and the
 *     appliance; writing only that directory and a few device files;
 *   - seccomp, process-wide: no ptrace, no mounts or namespaces, no kernel
 *     modules, keys, BPF or perf, no TIOCSTI, no AF_INET/AF_INET6/packet
 *     sockets.
 *
 * The thread that parses tar streams and runs the engines gets a second
 * filter of its own (sandbox_confine_parser): no exec, no new process, no
 * socket at all.  A thread's filter is not a wall inside one address
 * space; the process-wide layers above are the barrier, the thread's
 * filter narrows what an exploit in a parser can call directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

#include "scanner.h"

/* Rights newer than the headers of the build machine may know. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif
#define SB_SCOPE_ABSTRACT_UNIX		(1ULL << 0)
#define SB_SCOPE_SIGNAL			(1ULL << 1)

#define FS_READ	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_EXEC	(FS_READ | LANDLOCK_ACCESS_FS_EXECUTE)
#define FS_WRITE_ALL (LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
	LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
	LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
	LANDLOCK_ACCESS_FS_MAKE_SYM)

/* The rights of each Landlock ABI version, cumulative. */
static uint64_t
handled_rights(int abi)
{
	uint64_t r = FS_EXEC | FS_WRITE_ALL;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

struct ll_ruleset_attr {		/* struct landlock_ruleset_attr, ABI 6 */
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;
	uint64_t	scoped;
};

static int
ll_add(int rfd, const char *path, uint64_t rights, uint64_t handled,
    int optional, char *err, size_t errlen)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd, rc;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1) {
		if (optional && errno == ENOENT)
			return 0;
		if (strncmp(path, "/tmp/", 5) == 0 ||
		    strncmp(path, "/var/tmp/", 9) == 0)
			snprintf(err, errlen, "%s is under /tmp or /var/tmp, "
			    "which the scanner's sandbox replaces with its own "
			    "directory: put it elsewhere", path);
		else
			snprintf(err, errlen, "landlock: %s: %s", path,
			    strerror(errno));
		return -1;
	}
	/* Directory rights on a file are refused: keep the file ones. */
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		rights &= LANDLOCK_ACCESS_FS_EXECUTE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE |
		    LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV;
	pb.allowed_access = rights & handled;
	pb.parent_fd = fd;
	rc = (int)syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0);
	close(fd);
	if (rc == -1) {
		snprintf(err, errlen, "landlock rule %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
landlock(const struct sandbox_conf *sc, char *err, size_t errlen)
{
	static const char *sys_ro[] = { "/usr", "/lib", "/lib64", "/lib32",
	    "/bin", "/sbin", "/etc", "/proc", "/sys", NULL };
	static const char *devs[] = { "/dev/null", "/dev/zero", "/dev/full",
	    "/dev/random", "/dev/urandom", "/dev/kvm", NULL };
	struct ll_ruleset_attr ra;
	uint64_t handled;
	size_t i, attrsize;
	int abi, rfd, rc = -1;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		snprintf(err, errlen, "Landlock is not available in this "
		    "kernel (%s): the scanner will not run unconfined",
		    strerror(errno));
		return -1;
	}
	handled = handled_rights(abi);
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = handled;
	attrsize = sizeof(uint64_t);
	if (abi >= 6) {
		ra.scoped = SB_SCOPE_ABSTRACT_UNIX | SB_SCOPE_SIGNAL;
		attrsize = sizeof(ra);
	}
	if ((rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, attrsize,
	    0)) == -1) {
		snprintf(err, errlen, "landlock ruleset: %s", strerror(errno));
		return -1;
	}
	for (i = 0; sys_ro[i] != NULL; i++)
		if (ll_add(rfd, sys_ro[i], FS_EXEC, handled, 1, err,
		    errlen) == -1)
			goto out;
	for (i = 0; devs[i] != NULL; i++)
		if (ll_add(rfd, devs[i], LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_IOCTL_DEV,
		    handled, 1, err, errlen) == -1)
			goto out;
	for (i = 0; i < sc->nro; i++)
		if (sc->ro[i] != NULL && sc->ro[i][0] != '\0' &&
		    ll_add(rfd, sc->ro[i], FS_READ, handled, 0, err,
		    errlen) == -1)
			goto out;
	if (ll_add(rfd, "/tmp", handled & ~LANDLOCK_ACCESS_FS_EXECUTE &
	    ~LANDLOCK_ACCESS_FS_MAKE_CHAR & ~LANDLOCK_ACCESS_FS_MAKE_BLOCK &
	    ~LANDLOCK_ACCESS_FS_IOCTL_DEV, handled, 0, err, errlen) == -1)
		goto out;
	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1) {
		snprintf(err, errlen, "landlock_restrict_self: %s",
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(rfd);
	return rc;
}

/* The mount namespace: /tmp is the scanner's directory, /run is empty. */
static int
mounts(const struct sandbox_conf *sc, char *err, size_t errlen)
{
	char src[64];
	int fd, rc, e;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1) {
		snprintf(err, errlen, "making / private: %s", strerror(errno));
		return -1;
	}
	/* qemu puts its snapshot files in /var/tmp, libguestfs its
	 * sockets in /tmp: both are the scanner's directory.  Bound from
	 * a descriptor taken first: a tmpdir under /tmp or /var/tmp is
	 * hidden by the first bind. */
	if ((fd = open(sc->tmpdir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", sc->tmpdir, strerror(errno));
		return -1;
	}
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	rc = mount(src, "/tmp", NULL, MS_BIND, NULL) == -1 ||
	    mount(src, "/var/tmp", NULL, MS_BIND, NULL) == -1 ? -1 : 0;
	e = errno;
	close(fd);
	if (rc == -1) {
		snprintf(err, errlen, "bind %s on /tmp and /var/tmp: %s",
		    sc->tmpdir, strerror(e));
		return -1;
	}
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    "mode=0755,size=64k") == -1) {
		snprintf(err, errlen, "tmpfs on /run: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The scanner user, its group and kvm; no capability left anywhere. */
static int
drop(const struct sandbox_conf *sc, char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;
	gid_t groups[2];
	int ngroups = 0, cap, last = 63;
	FILE *f;

	errno = 0;
	if ((pw = getpwnam(sc->user)) == NULL) {
		snprintf(err, errlen, "scanner user %s: %s", sc->user,
		    errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(err, errlen, "scanner user %s is root", sc->user);
		return -1;
	}
	groups[ngroups++] = pw->pw_gid;
	if ((gr = getgrnam("kvm")) != NULL && gr->gr_gid != 0)
		groups[ngroups++] = gr->gr_gid;
	if ((f = fopen("/proc/sys/kernel/cap_last_cap", "r")) != NULL) {
		if (fscanf(f, "%d", &last) != 1)
			last = 63;
		fclose(f);
	}
	for (cap = 0; cap <= last; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EINVAL) {
			snprintf(err, errlen, "dropping capability %d: %s",
			    cap, strerror(errno));
			return -1;
		}
	if (setgroups((size_t)ngroups, groups) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errlen, "becoming %s: %s", sc->user,
		    strerror(errno));
		return -1;
	}
	if (setuid(0) != -1 || geteuid() == 0) {
		snprintf(err, errlen, "root could be regained");
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	return 0;
}

#define DENY(ctx, name) \
	seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(name), 0)

/* What no scanner process needs: the process-wide filter. */
static int
base_rules(scmp_filter_ctx ctx)
{
	int rc = 0;

	rc |= DENY(ctx, ptrace);
	rc |= DENY(ctx, process_vm_readv);
	rc |= DENY(ctx, process_vm_writev);
	rc |= DENY(ctx, mount);
	rc |= DENY(ctx, umount2);
	rc |= DENY(ctx, pivot_root);
	rc |= DENY(ctx, chroot);
	rc |= DENY(ctx, unshare);
	rc |= DENY(ctx, setns);
	rc |= DENY(ctx, bpf);
	rc |= DENY(ctx, kexec_load);
	rc |= DENY(ctx, kexec_file_load);
	rc |= DENY(ctx, init_module);
	rc |= DENY(ctx, finit_module);
	rc |= DENY(ctx, delete_module);
	rc |= DENY(ctx, keyctl);
	rc |= DENY(ctx, add_key);
	rc |= DENY(ctx, request_key);
	rc |= DENY(ctx, perf_event_open);
	rc |= DENY(ctx, userfaultfd);
	rc |= DENY(ctx, open_by_handle_at);
	rc |= DENY(ctx, name_to_handle_at);
	rc |= DENY(ctx, swapon);
	rc |= DENY(ctx, swapoff);
	rc |= DENY(ctx, reboot);
	rc |= DENY(ctx, acct);
	rc |= DENY(ctx, quotactl);
	rc |= DENY(ctx, iopl);
	rc |= DENY(ctx, ioperm);
	rc |= DENY(ctx, io_uring_setup);
	rc |= DENY(ctx, fsopen);
	rc |= DENY(ctx, fsmount);
	rc |= DENY(ctx, move_mount);
	rc |= DENY(ctx, open_tree);
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, TIOCSTI));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, TIOCLINUX));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
	    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
	    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
	    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_PACKET));
	return rc == 0 ? 0 : -1;
}

static int
load_filter(int parser, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int rc = -1;

	/* A syscall of another ABI (int 0x80, x32) kills the process:
	 * libseccomp's default for architectures not added. */
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	if (base_rules(ctx) == -1)
		goto fail;
	if (parser) {
		int r = 0;

		r |= DENY(ctx, execve);
		r |= DENY(ctx, execveat);
		r |= DENY(ctx, fork);
		r |= DENY(ctx, vfork);
		/* Threads only: a clone without CLONE_THREAD is a process. */
		r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ,
		    CLONE_THREAD, 0));
		/* clone3's flags are behind a pointer: say it does not
		 * exist, and glibc falls back to clone. */
		r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		    SCMP_SYS(clone3), 0);
		r |= DENY(ctx, socket);
		r |= DENY(ctx, socketpair);
		r |= DENY(ctx, connect);
		r |= DENY(ctx, bind);
		r |= DENY(ctx, listen);
		r |= DENY(ctx, accept);
		r |= DENY(ctx, accept4);
		r |= DENY(ctx, kill);
		r |= DENY(ctx, setuid);
		r |= DENY(ctx, setgid);
		r |= DENY(ctx, setresuid);
		r |= DENY(ctx, setresgid);
		r |= DENY(ctx, setgroups);
		r |= DENY(ctx, memfd_create);
		if (r != 0)
			goto fail;
	} else if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0)
		goto fail;
	if ((rc = seccomp_load(ctx)) != 0) {
		snprintf(err, errlen, "seccomp_load: %s", strerror(-rc));
		rc = -1;
		goto out;
	}
	rc = 0;
	goto out;
fail:
	snprintf(err, errlen, "building the seccomp filter failed");
	rc = -1;
out:
	seccomp_release(ctx);
	return rc;
}

int
sandbox_enter(const struct sandbox_conf *sc, char *err, size_t errlen)
{
	if (geteuid() != 0) {
		snprintf(err, errlen, "the scanner must be started as root, "
		    "to confine itself");
		return -1;
	}
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC) == -1) {
		snprintf(err, errlen, "unshare: %s", strerror(errno));
		return -1;
	}
	if (mounts(sc, err, errlen) == -1 || drop(sc, err, errlen) == -1 ||
	    landlock(sc, err, errlen) == -1)
		return -1;
	return load_filter(0, err, errlen);
}

int
sandbox_confine_parser(char *err, size_t errlen)
{
	return load_filter(1, err, errlen);
}

/*
 * The sandbox, tried from inside: what must be refused, in the process
 * and in a parser thread, and what must still work (so that a check that
 * refuses everything is seen too).
 */
static int bad;

static void
expect(int refused_wanted, int rc, const char *what)
{
	if (rc == -1 && refused_wanted)
		printf("refused: %s: %s\n", what, strerror(errno));
	else if (rc != -1 && !refused_wanted)
		printf("allowed: %s\n", what);
	else {
		printf("UNEXPECTED: %s %s%s%s\n", what, rc == -1 ? "refused" :
		    "allowed", rc == -1 ? ": " : "", rc == -1 ?
		    strerror(errno) : "");
		bad++;
	}
}

static int
try_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd == -1)
		return -1;
	close(fd);
	if (flags & O_CREAT)
		unlink(path);
	return 0;
}

static int
try_connect(const char *path)
{
	struct sockaddr_un {
		sa_family_t	sun_family;
		char		sun_path[108];
	} sun;
	int fd, rc, saved;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static int
try_socket(int domain)
{
	int fd = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

static int
try_ptrace(void)
{
	return (int)syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, getppid(), 0,
	    0) == -1 ? -1 : 0;
}

static void *
parser_checks(void *arg)
{
	char err[256];
	pid_t pid;

	(void)arg;
	if (sandbox_confine_parser(err, sizeof(err)) == -1) {
		printf("UNEXPECTED: confining a parser thread: %s\n", err);
		bad++;
		return NULL;
	}
	{
		char *const argv[] = { "/bin/true", NULL };
		char *const envp[] = { NULL };

		expect(1, execve("/bin/true", argv, envp),
		    "execve /bin/true in a parser thread");
	}
	pid = (pid_t)syscall(SYS_fork);
	if (pid == 0)
		_exit(0);
	expect(1, pid == -1 ? -1 : 0, "fork in a parser thread");
	expect(1, try_socket(AF_UNIX), "AF_UNIX socket in a parser thread");
	expect(1, try_ptrace(), "ptrace in a parser thread");
	expect(0, try_open("/tmp/.sentinel-probe", O_WRONLY | O_CREAT),
	    "writing /tmp in a parser thread");
	return NULL;
}

int
sandbox_check(char *const *probes, size_t nprobes)
{
	char what[4200];
	pthread_t t;
	size_t i;

	expect(1, try_open("/etc/shadow", O_RDONLY), "reading /etc/shadow");
	expect(1, try_open("/root/.sentinel-probe", O_WRONLY | O_CREAT),
	    "writing under /root");
	expect(1, try_open("/etc/.sentinel-probe", O_WRONLY | O_CREAT),
	    "writing under /etc");
	expect(1, try_open("/var/lib/sentinel/.sentinel-probe",
	    O_WRONLY | O_CREAT), "writing under /var/lib/sentinel");
	expect(1, try_connect("/run/libvirt/libvirt-sock"),
	    "connecting to /run/libvirt/libvirt-sock");
	expect(1, try_connect("/run/libvirt/libvirt-sock-ro"),
	    "connecting to /run/libvirt/libvirt-sock-ro");
	for (i = 0; i < nprobes; i++) {
		snprintf(what, sizeof(what), "reading %s", probes[i]);
		expect(1, try_open(probes[i], O_RDONLY), what);
	}
	expect(1, try_socket(AF_INET), "AF_INET socket");
	expect(1, try_socket(AF_INET6), "AF_INET6 socket");
	expect(1, try_ptrace(), "ptrace of the parent");
	expect(1, setuid(0), "setuid 0");
	expect(0, try_open("/etc/passwd", O_RDONLY), "reading /etc/passwd");
	expect(0, try_open("/tmp/.sentinel-probe", O_WRONLY | O_CREAT),
	    "writing /tmp");
	if (pthread_create(&t, NULL, parser_checks, NULL) != 0) {
		printf("UNEXPECTED: cannot start a thread\n");
		return -1;
	}
	pthread_join(t, NULL);
	printf("%d unexpected\n", bad);
	return bad == 0 ? 0 : -1;
}
