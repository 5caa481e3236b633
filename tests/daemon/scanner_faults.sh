# The root side of the trust barrier when a scan process misbehaves: one
# that crashes fails its own scan (detections it sent stand), one that
# sends what is not a record is killed and its scan failed, one that
# ignores a cancel is killed after the grace period; a scanner that dies
# is replaced.  The daemon serves throughout, and the scans beside them
# end as they should.
. "$TESTDIR/lib.sh"

guests crash crash_found garbage deaf clean
printf 'progress 2\ncrash\n' | behave crash
printf 'progress 2\ndetect /tmp/x.exe Win.Test.Sig\ncrash\n' | behave crash_found
printf 'progress 1\ngarbage\nsleep 30\n' | behave garbage
printf 'hang\nsleep 60\n' | behave deaf
echo 'sleep 0.5' | behave clean
write_conf
daemon_start

ctl --json scan crash --wait
expect_rc 2 "a scan whose process crashed"
[ "$(jq -r '"\(.scan.status): \(.scan.reason)"' <<<"$OUT")" = \
    "failed: scanner process killed by signal 11 (Segmentation fault)" ] || fail "crash: $OUT"
ctl --json scan crash_found --wait
expect_rc 1 "a crash after a detection"
[ "$(jq -r '"\(.scan.status) \(.scan.detections | length) \(.scan.reason)"' <<<"$OUT")" = \
    "infected 1 scanner process killed by signal 11 (Segmentation fault)" ] || fail "crash after a detection: $OUT"
ok "a crashed scan process fails its scan; a detection it sent stands"

ctl --json scan garbage --wait
expect_rc 2 "a scan process that broke the protocol"
jq -e '.scan.status == "failed" and (.scan.reason | test("^scanner process broke the protocol \\(.*\\): killed$"))' \
    <<<"$OUT" >/dev/null || fail "garbage: $OUT"
grep -q "scan garbage: scanner child [0-9]*: .*; killing it" "$LOG" || fail "not logged: $(cat "$LOG")"
ok "a record that is not one: $(jq -r .scan.reason <<<"$OUT")"

# One that ignores the cancel, with a clean scan beside it.
ctl scan deaf
expect_rc 0 "scan deaf"
for _ in $(seq 1 50); do
	[ "$(scans_of deaf)" = 1 ] && break
	sleep 0.1
done
ctl cancel deaf
expect_rc 0 "cancel deaf"
ctl --json scan clean --wait
expect_rc 0 "a scan beside the deaf one"
[ "$(jq -r .scan.status <<<"$OUT")" = clean ] || fail "clean beside: $OUT"
scan_ended "$SOCK" deaf
[ "$(jq -r '"\(.scan.status): \(.scan.reason)"' <<<"$OUT")" = "incomplete: cancelled by request" ] ||
	fail "deaf: $OUT"
grep -q "scan deaf: the scanner did not stop within 10 s of the cancel: killing it" "$LOG" ||
	fail "the kill not logged: $(cat "$LOG")"
[ -z "$(scan_processes)" ] || fail "a scan process outlived its scan: $(scan_processes)"
ok "a scan process deaf to the cancel: killed after 10 s, recorded cancelled"

# The scanner itself dies: another one starts, and scans work.
old=$(pgrep -P "$pid" -x standin)
[ -n "$old" ] || fail "no stand-in scanner under sentineld $pid"
kill -KILL "$old"
wait_line 100 "$LOG" "scanner $old is gone: starting another" || fail "not replaced: $(cat "$LOG")"
for _ in $(seq 1 100); do
	ctl --json scan clean --wait
	[ "$RC" -eq 0 ] && break
	sleep 0.1
done
[ "$(jq -r .scan.status <<<"$OUT")" = clean ] || fail "scan after the scanner died: $OUT $ERR"
new=$(pgrep -P "$pid" -x standin)
[ -n "$new" ] && [ "$new" != "$old" ] || fail "scanner $old not replaced: $new"
ok "scanner $old killed: replaced by $new, scans work"
daemon_serves "scan processes that misbehaved"
