# libvirtd stopped in the middle of a scan, then started again: sentineld
# says it lost the connection, keeps serving, the scan carries on (it does
# not need libvirt), and the daemon reconnects by itself and rebuilds the
# inventory.
. "$TESTDIR/lib.sh"

private_daemon restart
private_daemon_start
# Whatever happens, libvirtd runs again when this test ends.
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; "$SRCDIR/scripts/host-setup"' EXIT

# status_until WHAT PATTERN: polls the text status for at most 120 s.
status_until() {
	for _ in $(seq 1 1200); do
		ctl --socket "$sock" status
		grep -q "$2" <<<"$OUT" && return 0
		sleep 0.1
	done
	fail "$1: $OUT"
}

status_until "events followed" "^libvirt: .*following events"
n=$(wc -w <<<"$G_ALL")
ctl --socket "$sock" --json scan "$G_INFECTED"
expect_rc 0 "scan without --wait"
for _ in $(seq 1 600); do
	[ -n "$(appliances "$pid")" ] && break
	sleep 0.1
done
[ -n "$(appliances "$pid")" ] || fail "no appliance started"

pkill -x libvirtd || fail "no libvirtd to stop"
for _ in $(seq 1 100); do
	pgrep -x libvirtd >/dev/null || break
	sleep 0.1
done
pgrep -x libvirtd >/dev/null && fail "libvirtd still running"
status_until "the loss noticed" "^libvirt: .*unreachable"
grep -q "libvirt: connection to qemu:///system lost (end of file); reconnecting" "$log" ||
	fail "no line about the loss: $(cat "$log")"
ctl --socket "$sock" --json guests
expect_rc 0 "guests while libvirtd is down"
[ "$(jq .libvirt.connected <<<"$OUT")" = false ] || fail "connected while down: $OUT"
[ "$(jq '.guests | length' <<<"$OUT")" -eq "$n" ] || fail "the last list is not kept: $OUT"
ok "libvirtd stopped: noticed, serving, last list kept"

libvirtd -d || fail "libvirtd does not start again"
status_until "reconnected" "^libvirt: .*connected, following events, $n guests"
ok "reconnected by itself: $(grep -c 'cannot connect to qemu' "$log") failed attempts logged"

ctl --socket "$sock" --json scan "$G_INFECTED" --wait
expect_rc 1 "the scan that ran through the restart"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = infected ] || fail "status: $scan"
[ "$(jq '.detections | length' <<<"$scan")" -ge 46 ] || fail "detections: $scan"
[ "$(jq -r '"\(.fs_scanned) \(.fs_failed)"' <<<"$scan")" = "1 0" ] || fail "filesystems: $scan"
[ "$(jq -r .files <<<"$scan")" -eq "$(find "$WORK/content/infected" -type f | wc -l)" ] ||
	fail "files: $scan"
[ "$(sg_virsh domstate "$G_CLEAN")" = running ] || fail "$G_CLEAN stopped"
ok "the scan carried on: $(jq -c '{status, files, detections: (.detections | length)}' <<<"$scan")"
