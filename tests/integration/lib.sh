# shellcheck shell=bash
# Shared by the integration tests: paths, the daemon's config, assertions.
set -u

: "${SENTINELD:?}" "${SENTINELCTL:?}" "${SRCDIR:?}"
# shellcheck source=../../scripts/guests.sh
. "$SRCDIR/scripts/guests.sh"

# Guest images live where libvirt's qemu may read them.  SENTINEL_TEST_NS
# names the run's directory, guests and group: two runs with different
# names (the plain and the sanitizer build) run side by side.
TESTNS=${SENTINEL_TEST_NS:-sentinel-test}
WORK=/var/lib/libvirt/images/$TESTNS
SOCK=$WORK/sentineld.sock
CONF=$WORK/sentineld.conf
PIDFILE=$WORK/sentineld.pid
DB=$WORK/signatures
G_INFECTED=$TESTNS-infected
G_CLEAN=$TESTNS-clean
G_NOFS=$TESTNS-nofs
G_CLONE=$TESTNS-clone
G_LAYOUT=$TESTNS-layout
G_HOSTILE=$TESTNS-hostile
G_TICKER=$TESTNS-ticker	# the view test's own, running
G_WINDOWS=$TESTNS-windows	# the windows test's own, never started
G_ALL="$G_INFECTED $G_CLEAN $G_NOFS $G_CLONE $G_LAYOUT $G_HOSTILE"

export SENTINEL_SOCKET=$SOCK
# shellcheck source=../common.sh
. "$TESTDIR/../common.sh"

# A test that hangs is killed by ctest with nothing said of why.  A
# watchdog, a little before ctest's timeout, prints what the daemons
# logged and where their processes wait, then ends the test.  It holds
# none of the test's output open (ctest would wait for it) and leaves when
# the test does.
watchdog() {	# SECONDS
	local test=$$ t=0
	(
		exec </dev/null >/dev/null 2>&1
		while [ "$t" -lt "$1" ]; do
			sleep 5
			kill -0 "$test" || exit 0
			t=$((t + 5))
		done
		{
			echo "FAIL: still running after $1 s; what the daemons did:"
			find "$WORK" -maxdepth 1 -name '*.log' -mmin -20 |
			while read -r f; do
				echo "--- last lines of $f"
				tail -n 40 "$f"
			done
			echo "--- processes"
			ps -eo pid,ppid,etimes,wchan:24,args --forest |
			    grep -E 'sentinel|qemu|nbd' | grep -v grep
			for p in $(pgrep -f 'sentineld|sentinel-scanner|qemu-system'); do
				echo "--- $p: $(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-100)"
				cat "/proc/$p/stack" 2>/dev/null | head -12
			done
		} > "/proc/$test/fd/2"
		# The test first: it ends as soon as what it waits for does,
		# and never goes on to its next step.
		kill -TERM "$test"
		pkill -TERM -P "$test"
	) &
	disown
}
watchdog "${SENTINEL_TEST_WATCHDOG:-840}"

# write_conf FILE SOCKET STATE: a daemon config for the test guests.
write_conf() {
	cat > "$1" <<EOT
[libvirt]
; This run's guests only: another run may share the host.
guests = $TESTNS-*
[clamav]
database = $DB
tmpdir = $WORK/clamtmp
[guestfs]
backend = direct
backend_settings = ${SENTINEL_TEST_BACKEND_SETTINGS:-force_tcg}
; Up in 15-40 s here; one that hangs at boot costs 2 minutes, not 20.
launch_timeout = 2m
[control]
socket = $2
[state]
path = $3
[scan]
max_concurrent_scans = 2
per_storage_scans = 4
; This shared machine's own load must not hold the tests up.
max_io_pressure = 100
max_cpu_pressure = 100
; The tests scan the same shut-off guests again and again to see scans
; run; unchanged.sh turns this on.
carry_unchanged = no
[view]
; Each daemon its own: at start it ends the backup jobs whose sockets
; are in it.
scratch_dir = ${3%.db}-scratch
[scanner]
; Each daemon its own exports.
dir = ${3%.db}-scanner
EOT
	# Scans on schedule only where a test asks for them, and then of the
	# first four guests (the layout and hostile guests have tests of their
	# own).
	local g excluded="$G_LAYOUT $G_HOSTILE $G_TICKER $G_WINDOWS"
	[ "${SCHEDULED:-0}" != 0 ] || excluded="$G_ALL $G_TICKER $G_WINDOWS"
	for g in $excluded; do
		printf '[guest %s]\nexclude = yes\n' "$g" >> "$1"
	done
}

# job_op GUEST: the operation of the libvirt job running on GUEST
# ("Backup", ...), or nothing.
job_op() {
	sg_virsh domjobinfo "$1" 2>/dev/null | sed -n 's/^Operation: *\([^ ]*\) *$/\1/p'
}

# descendants PID: every process below PID.
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# appliances PID: the appliance qemus (not qemu-img, not qemu-nbd) that
# PID started, at any depth (sentineld, its scanner, a scan child, qemu).
appliances() {
	local p
	for p in $(descendants "$1"); do
		# The appliance boots a kernel; libguestfs's probes of qemu
		# (-help, -version) do not.
		case "$(tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline")" in
		*qemu-system*-kernel*) echo "$p" ;;
		esac
	done | sort -n
}

# scan_children PID: the scan processes of sentineld PID (children of its
# scanners, which are its own children named sentinel-scanner).
scan_children() {
	local z
	for z in $(pgrep -P "$1" -x sentinel-scanne); do
		pgrep -P "$z" -x sentinel-scanne
	done | sort -n
}

# expect_gone TENTHS WHAT PID...: each PID ends within TENTHS tenths of a
# second, or the test fails naming WHAT outlived.
expect_gone() {
	local tenths=$1 what=$2 q
	shift 2
	for q in "$@"; do
		for _ in $(seq 1 "$tenths"); do
			kill -0 "$q" 2>/dev/null || break
			sleep 0.1
		done
		! kill -0 "$q" 2>/dev/null || fail "appliance qemu $q outlived $what"
	done
}

# private_daemon NAME: starts a second sentineld of its own (socket, state,
# log named after NAME) beside the fixture's; sets sock, conf, log, pid.
# Call private_daemon_start again to restart it on the same state.
private_daemon() {
	sock=$WORK/$1.sock
	conf=$WORK/$1.conf
	log=$WORK/$1.log
	# Each run from nothing: a test run again finds no state of the last.
	rm -rf "$WORK/$1.db" "$WORK/$1.db-wal" "$WORK/$1.db-shm"
	write_conf "$conf" "$sock" "$WORK/$1.db"
	: > "$log"
}

private_daemon_start() {
	"$SENTINELD" -f -c "$conf" >>"$log" 2>&1 </dev/null &
	pid=$!
	sg_wait_socket "$sock" "$pid" || fail "sentineld did not start: $(cat "$log")"
}
