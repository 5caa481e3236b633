# Guest events: with the periodic re-read of the inventory an hour away,
# a guest defined after the daemon started is listed as soon as libvirt
# says so, a guest that shuts off is scanned at once (scan_on_shutdown),
# and an undefined guest leaves the list while its results stay.
. "$TESTDIR/lib.sh"

G=$TESTNS-events
private_daemon events
sed -i "1i [libvirt]\nrefresh = 1h" "$conf"
printf '[guest %s]\nscan_on_shutdown = yes\n' "$G" >> "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; sg_undefine $G' EXIT

# wait_for WHAT JQ: polls `guests --json` (answered from the list as it
# is, since the daemon follows events) until JQ holds; at most 180 s.
wait_for() {
	local i
	for i in $(seq 1 1800); do
		ctl --socket "$sock" --json guests
		jq -e "$2" <<<"$OUT" >/dev/null && { waited=$i; return 0; }
		sleep 0.1
	done
	fail "$1: not seen in 180 s: $OUT"
}

wait_for "events followed" '.libvirt.events == true'
n0=$(jq '.guests | length' <<<"$OUT")
grep -q "libvirt: following guest events at qemu:///system" "$log" || fail "no events line: $(cat "$log")"

# Its own overlay of the clean guest's golden copy, booted like it.
qemu-img create -q -f qcow2 -b "$WORK/golden.img" -F raw "$WORK/events.qcow2" || fail "qemu-img"
sg_define $G "$WORK" "$WORK/events.qcow2" qcow2 || fail "define $G"
wait_for "a guest defined after start" ".guests[] | select(.name == \"$G\")"
ok "$G listed after $waited polls of 0.1 s, without a re-read on request"
[ "$(jq '.guests | length' <<<"$OUT")" -eq $((n0 + 1)) ] || fail "guest count: $OUT"

sg_virsh start $G >/dev/null || fail "start $G"
wait_for "the guest running" ".guests[] | select(.name == \"$G\" and .state == \"running\")"
grep -q "scan $G" "$log" && fail "a scan before the shutdown: $(cat "$log")"
sg_virsh destroy $G >/dev/null || fail "destroy $G"
wait_for "a scan on shutdown" ".guests[] | select(.name == \"$G\" and .last_scan.trigger == \"shutdown\" and .scan == null)"
ctl --socket "$sock" --json results $G
expect_rc 0 "results of the scan on shutdown"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .trigger <<<"$scan")" = shutdown ] || fail "trigger: $scan"
[ "$(jq -r .status <<<"$scan")" = clean ] || fail "status: $scan"
grep -q "scan $G: queued (shutdown)" "$log" || fail "no queued line: $(cat "$log")"
ok "shut off, then scanned: $(jq -c '{trigger, status, files}' <<<"$scan")"
# No other guest was scanned: the others do not ask for it, and the
# running clean guest did not stop.
[ "$(grep -c "queued (shutdown)" "$log")" -eq 1 ] || fail "other scans on shutdown: $(cat "$log")"

sg_undefine $G
wait_for "the undefined guest gone" "[.guests[] | select(.name == \"$G\")] | length == 0"
ctl --socket "$sock" --json results $G
expect_rc 0 "results of an undefined guest"
[ "$(jq -r .scan.trigger <<<"$OUT")" = shutdown ] || fail "history lost: $OUT"
ok "undefined: left the list, its results stay"
