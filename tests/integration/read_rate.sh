# read_rate: a scan reads out of the guest at the budget, within 15%.  The
# budget is well under what a scan reads unthrottled even in the sanitizer
# build on a loaded host (1.7 MB/s was seen there against a 2 MB/s budget):
# the throttle, not the host, must set the rate.
. "$TESTDIR/lib.sh"

private_daemon rate
printf '[scan]\nread_rate = 1M\n' >> "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT

ctl --socket "$sock" --json scan "$G_INFECTED" --wait
expect_rc 1 "scan under a read budget"
read -r bytes ms <<<"$(jq -r '"\(.scan.bytes_read) \(.scan.stream_ms)"' <<<"$OUT")"
rate=$((bytes * 1000 / ms))
budget=1048576
echo "read $bytes bytes in $ms ms: $rate bytes/s, budget $budget"
[ "$rate" -le $((budget * 115 / 100)) ] || fail "rate $rate over the budget $budget by more than 15%"
[ "$rate" -ge $((budget * 85 / 100)) ] || fail "rate $rate under the budget $budget by more than 15%"
ok "read at $((rate * 100 / budget))% of the budget"
