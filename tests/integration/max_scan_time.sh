# A scan running past max_scan_time is cancelled and recorded incomplete,
# with what it had done.
. "$TESTDIR/lib.sh"

private_daemon slow
printf '[schedule]\nmax_scan_time = 2s\n' >> "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT

ctl --socket "$sock" --json scan "$G_INFECTED" --wait
expect_rc 2 "scan past max_scan_time"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = incomplete ] || fail "status: $scan"
jq -r .reason <<<"$scan" | grep -q "ran past max_scan_time (2 s)" || fail "reason: $scan"
grep -q "scan $G_INFECTED: running past max_scan_time" "$log" || fail "not logged: $(cat "$log")"
ok "$(jq -r '"\(.status): \(.reason) after \(.files) files"' <<<"$scan")"
daemon_serves "a cancelled scan"
