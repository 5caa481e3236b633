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

# [guestfs] launch_timeout: an appliance not up in time is killed and
# launched once more.  No appliance comes up here within 1 s: both are
# killed, and the scan fails saying so, not after libguestfs's 20 minutes.
kill -TERM "$pid"; wait "$pid"
private_daemon launch
sed -i 's/^launch_timeout = .*/launch_timeout = 1s/' "$conf"
private_daemon_start
ctl --socket "$sock" --json scan "$G_INFECTED" --wait
expect_rc 2 "scan whose appliance never comes up in time"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = failed ] &&
	jq -r .reason <<<"$scan" | grep -q "the appliance did not come up within 1 s, twice" ||
	fail "launch timeout: $scan"
grep -q "scan $G_INFECTED: the appliance did not come up within 1 s: killed, launching it once more" "$log" ||
	fail "the first launch's end not logged: $(cat "$log")"
pgrep -f "qemu-system.*guestfs_identifier=$G_INFECTED" >/dev/null &&
	fail "an appliance of the scan is left"
ok "launch_timeout 1s: $(jq -r .reason <<<"$scan")"
daemon_serves "a scan whose appliance did not come up"
