# SIGTERM while a scan runs: sentineld cancels it, closes the appliance and
# exits 0; the scan is recorded incomplete and is there after a restart.
. "$TESTDIR/lib.sh"

private_daemon stop
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT

ctl --socket "$sock" --json scan "$G_INFECTED"
expect_rc 0 "scan without --wait"
jq -e '.scan.state == "queued" or .scan.state == "running"' <<<"$OUT" >/dev/null || fail "scan not accepted: $OUT"

# Wait (bounded) until the appliance's qemu runs under this daemon.
qemus=""
for _ in $(seq 1 600); do
	qemus=$(appliances "$pid") && [ -n "$qemus" ] && break
	sleep 0.1
done
[ -n "$qemus" ] || fail "no appliance started"
kill -TERM "$pid"
wait "$pid"
rc=$?
cat "$log"
[ $rc -eq 0 ] || fail "sentineld exited $rc on SIGTERM"
# shellcheck disable=SC2086
expect_gone 100 "sentineld" $qemus
ok "exit 0, appliance gone"

private_daemon_start
ctl --socket "$sock" --json results "$G_INFECTED"
kill -TERM "$pid"
wait "$pid"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = incomplete ] || fail "recorded status: $scan"
jq -r .reason <<<"$scan" | grep -q "sentineld stopping" || fail "recorded reason: $scan"
ok "recorded: $(jq -r '"\(.status): \(.reason)"' <<<"$scan")"
