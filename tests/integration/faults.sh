# Faults: sentineld killed with SIGKILL in the middle of a scan (the scan
# is recorded as interrupted after a restart, the state database is intact,
# no appliance outlives it); an appliance's qemu killed during a scan (that
# scan fails with the reason, the other one running beside it finishes);
# a guest whose qcow2 image is truncated (failed, with the reason).
. "$TESTDIR/lib.sh"

private_daemon faults
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; sg_undefine $TESTNS-truncated' EXIT

# wait_qemus N: until the daemon has N appliance qemu children; sets qemus.
wait_qemus() {
	qemus=""
	for _ in $(seq 1 600); do
		qemus=$(appliances "$pid")
		[ "$(wc -w <<<"$qemus")" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "fewer than $1 appliances started: $qemus"
}

# 1. SIGKILL in the middle of a scan.
ctl --socket "$sock" --json scan "$G_INFECTED"
expect_rc 0 "scan without --wait"
wait_qemus 1
kill -KILL "$pid"
wait "$pid" 2>/dev/null
# shellcheck disable=SC2086
expect_gone 300 "a killed sentineld" $qemus
ok "SIGKILL: the appliance died with sentineld (libguestfs' recovery process)"
# The dead daemon's socket is still there: wait for the new one's.
rm -f "$sock"
private_daemon_start
ctl --socket "$sock" --json results "$G_INFECTED"
expect_rc 2 "results of the interrupted scan"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = failed ] || fail "recorded status: $OUT $ERR"
jq -r .reason <<<"$scan" | grep -q "interrupted" || fail "recorded reason: $scan"
grep -q "state: integrity check ok" "$log" || fail "no integrity check at start: $(cat "$log")"
[ "$(sqlite3 "$WORK/faults.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check of the state database"
ok "restart: recorded $(jq -r '"\(.status): \(.reason)"' <<<"$scan"), database intact"

# 2. An appliance killed under a running scan; the other scan goes on.
ctl --socket "$sock" --json scan "$G_INFECTED"
expect_rc 0 "scan of $G_INFECTED"
wait_qemus 1
victim=$qemus
kill -0 "$victim" || fail "no appliance to kill"
ctl --socket "$sock" --json scan "$G_CLONE"
expect_rc 0 "scan of $G_CLONE"
wait_qemus 2
kill -KILL "$victim"
scan_ended "$sock" "$G_INFECTED"
first=$OUT
scan_ended "$sock" "$G_CLONE"
st=$(jq -r .scan.status <<<"$OUT")
killed=$(jq -r .scan.status <<<"$first")
[ "$killed" = failed ] || [ "$killed" = incomplete ] || fail "scan whose appliance was killed: $first"
[ "$(jq -r .scan.reason <<<"$first")" != null ] || fail "no reason: $first"
[ "$st" = clean ] || fail "the other scan did not finish clean: $OUT"
ok "killed appliance: $killed ($(jq -r .scan.reason <<<"$first")); the other scan: $st"

# 3. A truncated qcow2 image (its data clusters gone: what is left reads as
# zeros, so the filesystem is not found).
qemu-img convert -O qcow2 "$WORK/golden.img" "$WORK/truncated.qcow2"
truncate -s 300000 "$WORK/truncated.qcow2"
sg_undefine $TESTNS-truncated
sg_define $TESTNS-truncated "$WORK" "$WORK/truncated.qcow2" qcow2 || fail "define"
ctl --socket "$sock" --json scan $TESTNS-truncated --wait
expect_rc 2 "scan of a truncated image"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = failed ] || fail "status: $scan"
[ "$(jq -r .reason <<<"$scan")" != null ] || fail "no reason: $scan"
ok "truncated qcow2: failed ($(jq -r .reason <<<"$scan"))"
ctl --socket "$sock" --json status
expect_rc 0 "status after the faults"
