# The state database on a full filesystem (a 2 MiB tmpfs filled up):
# scans still run and answer in full, the result waits in memory and is
# written once there is space again; a result still waiting when sentineld
# stops is said lost in the log; the database stays intact.
. "$TESTDIR/lib.sh"

mnt=$WORK/full-state
mkdir -p "$mnt"
mount -t tmpfs -o size=2m sentinel-full "$mnt" || fail "cannot mount a tmpfs"
private_daemon full
sed -i "s|^path = .*|path = $mnt/state.db|" "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; umount "$mnt"' EXIT

fill() {
	dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
	[ "$(df --output=avail "$mnt" | tail -1)" -eq 0 ] || fail "tmpfs not full: $(df "$mnt")"
}

fill
ctl --socket "$sock" --json scan "$G_INFECTED" --wait
expect_rc 1 "scan with the state database full"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .stored <<<"$scan")" = false ] || fail "not said unstored: $scan"
[ "$(jq -r .status <<<"$scan")" = infected ] || fail "status: $scan"
ndet=$(jq '.detections | length' <<<"$scan")
[ "$ndet" -ge 46 ] || fail "detections: $scan"
grep -q "scan $G_INFECTED: result not stored (the state database cannot take it); kept in memory" "$log" ||
	fail "no line about the unstored result: $(cat "$log")"
grep -q "database or disk is full" "$log" || fail "SQLite's reason not logged: $(cat "$log")"
[ "$(grep -c "scan $G_INFECTED: .* FOUND in " "$log")" -eq "$ndet" ] || fail "detections not logged one by one"
ctl --socket "$sock" --json results "$G_INFECTED"
expect_rc 1 "results while unstored"
[ "$(jq -r '"\(.scan.stored) \(.scan.detections | length)"' <<<"$OUT")" = "false $ndet" ] ||
	fail "results while unstored: $OUT"
SENTINEL_SOCKET=$sock daemon_serves "a full state database"
ok "full: scanned, answered in full ($ndet detections), kept in memory"

rm -f "$mnt/fill"
wait_line 300 "$log" "state: result of the scan of $G_INFECTED written" ||
	fail "not written once space returned: $(cat "$log")"
ctl --socket "$sock" --json results "$G_INFECTED"
expect_rc 1 "results once written"
[ "$(jq -r '"\(.scan.stored) \(.scan.id | type) \(.scan.detections | length)"' <<<"$OUT")" = "null number $ndet" ] ||
	fail "results once written: $OUT"
ok "space again: written to the database, $(jq .scan.id <<<"$OUT") its id"

fill
ctl --socket "$sock" --json scan "$G_CLEAN" --wait
expect_rc 0 "clean scan with the state database full"
[ "$(jq -r '"\(.scan.stored) \(.scan.status)"' <<<"$OUT")" = "false clean" ] || fail "clean scan: $OUT"
kill -TERM "$pid"
wait "$pid"
[ $? -eq 0 ] || fail "sentineld exit status after SIGTERM"
grep -q "state: result of the scan of $G_CLEAN lost (clean, 0 detections, ended [0-9]* s ago): the state database could not take it before sentineld stopped" "$log" ||
	fail "loss not said: $(cat "$log")"
rm -f "$mnt/fill"
[ "$(sqlite3 "$mnt/state.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity check"
[ "$(sqlite3 "$mnt/state.db" "SELECT count(*) FROM scans WHERE guest_name = '$G_INFECTED' AND status = 'infected'")" -eq 1 ] ||
	fail "infected scan not in the database"
ok "stopped while full: the lost result is named in the log; database intact"
