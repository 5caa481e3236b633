# SIGTERM while a scan runs: sentineld cancels it, closes the appliance and
# exits 0; the scan is recorded incomplete and is there after a restart.
. "$TESTDIR/lib.sh"

sock=$WORK/stop.sock
conf=$WORK/stop.conf
write_conf "$conf" "$sock" "$WORK/stop.db"
"$SENTINELD" -f -c "$conf" >"$WORK/stop.log" 2>&1 </dev/null &
pid=$!
sg_wait_socket "$sock" "$pid" || fail "second sentineld did not start"

ctl --socket "$sock" --json scan "$G_INFECTED"
expect_rc 0 "scan without --wait"
[ "$(jq -r .scan.state <<<"$OUT")" = running ] || fail "scan not running: $OUT"

# Wait (bounded) until the appliance's qemu runs under this daemon.
qemus=""
for _ in $(seq 1 600); do
	qemus=$(pgrep -P "$pid" qemu) && break
	sleep 0.1
done
[ -n "$qemus" ] || fail "no appliance started"
kill -TERM "$pid"
wait "$pid"
rc=$?
cat "$WORK/stop.log"
[ $rc -eq 0 ] || fail "sentineld exited $rc on SIGTERM"
for q in $qemus; do
	for _ in $(seq 1 100); do
		kill -0 "$q" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$q" 2>/dev/null || fail "appliance qemu $q outlived sentineld"
done
ok "exit 0, appliance gone"

"$SENTINELD" -f -c "$conf" >>"$WORK/stop.log" 2>&1 </dev/null &
pid=$!
sg_wait_socket "$sock" "$pid" || fail "restart failed"
ctl --socket "$sock" --json results "$G_INFECTED"
kill -TERM "$pid"
wait "$pid"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = incomplete ] || fail "recorded status: $scan"
jq -r .reason <<<"$scan" | grep -q "sentineld stopping" || fail "recorded reason: $scan"
ok "recorded: $(jq -r '"\(.status): \(.reason)"' <<<"$scan")"
