# shellcheck shell=bash
# The daemon tier: one sentineld as whoever runs the test, on libvirt's
# test driver (guests in a node XML written here, each disk a small file)
# with the stand-in scanner (standin.c) in sentinel-scanner's place.
# What a scan of a guest does is what `behave GUEST` wrote for it.
set -u

: "${SENTINELD:?}" "${SENTINELCTL:?}" "${STANDIN:?}" "${TESTDIR:?}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sentinel-daemon.XXXXXX")
# The scanner user (below) must reach the directories in it.
chmod 711 "$WORK"
SOCK=$WORK/sentineld.sock
CONF=$WORK/sentineld.conf
LOG=$WORK/sentineld.log
NODE=$WORK/node.xml
export SENTINEL_SOCKET=$SOCK SENTINEL_SCANNER=$STANDIN
export STANDIN_DIR=$WORK/standin
mkdir -p "$STANDIN_DIR" "$WORK/db"
# sentineld wants a signature database; the stand-in never loads it.
echo '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature' > "$WORK/db/test.hdb"
pid=

# shellcheck source=../common.sh
. "$TESTDIR/../common.sh"

# Root runs the scanner as nobody (it must not be root); anyone else as
# themselves, the only user a daemon that is not root may run it as.
if [ "$(id -u)" -eq 0 ]; then
	SCAN_USER=nobody
	chown nobody "$STANDIN_DIR"
else
	SCAN_USER=$(id -un)
fi

on_exit() {
	local rc=$?
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null
	fi
	# A sanitizer build's reports (a leak at the exit, say) fail the test.
	if grep -q 'Sanitizer\|runtime error:' "$LOG" 2>/dev/null; then
		echo "FAIL: a sanitizer report in sentineld's log:" >&2
		grep -A 30 -m 1 'Sanitizer\|runtime error:' "$LOG" >&2
		rc=1
	fi
	if [ "$rc" -ne 0 ] && [ -s "$LOG" ]; then
		echo "--- the last lines of sentineld's log"
		tail -n 30 "$LOG"
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap on_exit EXIT

# guests NAME[:running][:qcow2]...: the node XML, one guest a word, shut
# off unless :running; each has one disk, NAME.img, 1 MiB raw, or with
# :qcow2 NAME.qcow2 over it (NAME with what is not [A-Za-z0-9._-] as _).
# Replaces any before.
guests() {
	local spec name file state disk format i=0
	{
		echo "<node>"
		for spec in "$@"; do
			i=$((i + 1))
			name=${spec%%:*}
			file=$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' _)
			state=5
			case "$spec" in *:running*) state=1 ;; esac
			disk=$WORK/$file.img
			format=raw
			[ -e "$disk" ] || truncate -s 1M "$disk"
			case "$spec" in *:qcow2*)
				format=qcow2
				qemu-img create -q -f qcow2 -F raw -b "$disk" "$WORK/$file.qcow2"
				disk=$WORK/$file.qcow2
			esac
			name=$(printf '%s' "$name" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g')
			cat <<EOT
 <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>$name</name>
  <uuid>$(printf '%08d-0000-4000-8000-000000000000' "$i")</uuid>
  <memory>65536</memory>
  <os><type>hvm</type></os>
  <devices>
   <disk type='file' device='disk'>
    <driver name='qemu' type='$format'/>
    <source file='$disk'/>
    <target dev='vda' bus='virtio'/>
   </disk>
  </devices>
  <test:runstate>$state</test:runstate>
 </domain>
EOT
		done
		echo "</node>"
	} > "$NODE"
}

# behave GUEST: what a scan of GUEST does, from stdin (standin.c's
# commands); an empty stdin: clean, at once.
behave() {
	cat > "$STANDIN_DIR/$1"
}

# scans_of GUEST: how many scans of GUEST the stand-in ran.
scans_of() {
	grep -c "^$1 [0-9]*$" "$STANDIN_DIR/scans.log" 2>/dev/null
}

# write_conf: the daemon's configuration, to which a test may add.
write_conf() {
	cat > "$CONF" <<EOT
[libvirt]
uri = test://$NODE
[clamav]
database = $WORK/db
tmpdir = $WORK/clamtmp
[control]
socket = $SOCK
[state]
path = $WORK/state.db
[scan]
max_concurrent_scans = 2
per_storage_scans = 4
max_io_pressure = 100
max_cpu_pressure = 100
carry_unchanged = no
[view]
scratch_dir = $WORK/scratch
qemu_user = $SCAN_USER
[scanner]
user = $SCAN_USER
dir = $WORK/scanner
appliance = $WORK/appliance
EOT
}

# daemon_start: starts sentineld on $CONF (again, on the same state, after
# daemon_stop); sets pid.
daemon_start() {
	"$SENTINELD" -f -c "$CONF" >>"$LOG" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 1 100); do
		[ -S "$SOCK" ] && "$SENTINELCTL" status >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "sentineld did not start: $(cat "$LOG")"
}

daemon_stop() {
	kill -TERM "$pid"
	wait "$pid"
	pid=
}

# scan_processes: the stand-in's scan children (the scanner is sentineld's
# child; its children are the scans).
scan_processes() {
	local z
	for z in $(pgrep -P "$pid"); do
		pgrep -P "$z"
	done
}
