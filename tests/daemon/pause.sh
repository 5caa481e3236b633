# Pause and resume: a global pause and a guest's own pause outlive a
# restart, keep due guests off the schedule (on-demand scans still run),
# and resuming puts them back: each pause on its own.
. "$TESTDIR/lib.sh"

G_INFECTED=infected G_CLEAN=clean G_NOFS=nofs G_CLONE=clone
guests "$G_INFECTED" "$G_CLEAN" "$G_NOFS" "$G_CLONE"
for i in $(seq 1 46); do
	echo "detect /testfiles/clam$i.exe Clamav.Test.File-$i"
done | behave "$G_INFECTED"
echo 'fail no filesystem could be mounted' | behave "$G_NOFS"
sock=$SOCK
log=$LOG

# First run: nothing on schedule; pause everything, and the clean guest.
write_conf
for g in $G_INFECTED $G_CLEAN $G_NOFS $G_CLONE; do
	printf '[guest %s]\nexclude = yes\n' "$g" >> "$CONF"
done
daemon_start
ctl --socket "$sock" pause
expect_rc 0 "pause"
grep -q "all scheduled scans paused" <<<"$OUT" || fail "pause text: $OUT"
ctl --socket "$sock" --json pause "$G_CLEAN"
expect_rc 0 "pause $G_CLEAN"
[ "$(jq -r '"\(.guest) \(.paused) \(.all_paused | type)"' <<<"$OUT")" = "$G_CLEAN true number" ] || fail "pause reply: $OUT"
ctl --socket "$sock" pause no-such-guest
expect_rc 2 "pause of an unknown guest"
grep -q 'unknown guest "no-such-guest"' <<<"$ERR" || fail "message: $ERR"
daemon_stop

# Second run: four guests due at once, all paused.
write_conf
printf '[schedule]\njitter = 0\n' >> "$CONF"
daemon_start
grep -q "schedule: paused since [0-9]* s ago" "$log" || fail "pause not kept: $(cat "$log")"
sleep 3
ctl --socket "$sock" --json schedule
[ "$(jq '[.guests[] | select(.state == "paused" and .next_due == null)] | length' <<<"$OUT")" -eq 4 ] ||
	fail "four guests should be paused: $OUT"
[ -z "$(scan_processes)" ] || fail "a scan started while paused"
ctl --socket "$sock" status
grep -q "^schedule: *paused since" <<<"$OUT" || fail "status text: $OUT"
ctl --socket "$sock" guests
grep -q "^$G_CLEAN .* paused$" <<<"$OUT" || fail "guests text: $OUT"
ok "paused across a restart: four due guests wait"

ctl --socket "$sock" --json scan "$G_INFECTED" --wait
expect_rc 1 "on-demand scan while paused"
ok "on-demand scan runs while paused"

ctl --socket "$sock" resume
expect_rc 0 "resume"
# The two not scanned and not paused on their own come on schedule.
for _ in $(seq 1 1800); do
	ctl --socket "$sock" --json schedule
	[ "$(jq '[.guests[] | select(.last_scan.trigger == "schedule" and .state == "idle")] | length' <<<"$OUT")" -ge 2 ] && break
	sleep 0.1
done
jq -e --arg g "$G_NOFS" '.guests[] | select(.name == $g) | .last_scan.trigger == "schedule"' <<<"$OUT" >/dev/null ||
	fail "$G_NOFS not scanned after resume: $OUT"
jq -e --arg g "$G_CLONE" '.guests[] | select(.name == $g) | .last_scan.trigger == "schedule"' <<<"$OUT" >/dev/null ||
	fail "$G_CLONE not scanned after resume: $OUT"
jq -e --arg g "$G_CLEAN" '.guests[] | select(.name == $g) | .state == "paused" and .last_scan == null' <<<"$OUT" >/dev/null ||
	fail "$G_CLEAN should stay paused: $OUT"
ok "resumed: due guests scanned, the guest paused on its own waits"

ctl --socket "$sock" resume "$G_CLEAN"
expect_rc 0 "resume $G_CLEAN"
for _ in $(seq 1 1800); do
	ctl --socket "$sock" --json schedule
	jq -e --arg g "$G_CLEAN" '.guests[] | select(.name == $g) | .last_scan.trigger == "schedule" and .state == "idle"' \
		<<<"$OUT" >/dev/null && break
	sleep 0.1
done
jq -e --arg g "$G_CLEAN" '.guests[] | select(.name == $g) | .last_scan.status == "clean"' <<<"$OUT" >/dev/null ||
	fail "$G_CLEAN not scanned after its resume: $OUT"
ok "guest resumed: scanned on schedule"

# History: every scan of this daemon, newest first; one guest's; a scan
# by its id, and an id of another guest refused.
ctl --socket "$sock" --json history
expect_rc 0 "history"
[ "$(jq '.scans | length' <<<"$OUT")" -eq 4 ] || fail "history of all: $OUT"
[ "$(jq -r '[.scans[].id] | . == (sort | reverse)' <<<"$OUT")" = true ] || fail "not newest first: $OUT"
inf_id=$(jq --arg g "$G_INFECTED" '.scans[] | select(.guest == $g) | .id' <<<"$OUT")
[ "$(jq --arg g "$G_INFECTED" '.scans[] | select(.guest == $g) | .detection_count' <<<"$OUT")" -ge 46 ] ||
	fail "detection count: $OUT"
ctl --socket "$sock" --json history "$G_CLEAN" --limit 1
[ "$(jq -r '[(.scans | length), .scans[0].guest, .scans[0].trigger] | @tsv' <<<"$OUT")" = "1	$G_CLEAN	schedule" ] ||
	fail "history of $G_CLEAN: $OUT"
ctl --socket "$sock" history
grep -q "^$inf_id  *$G_INFECTED  *on-demand .* infected  *[0-9]*  *[0-9]" <<<"$OUT" || fail "history text: $OUT"
ctl --socket "$sock" --json results "$G_INFECTED" --scan "$inf_id"
expect_rc 1 "results --scan"
[ "$(jq '.scan.detections | length' <<<"$OUT")" -ge 46 ] || fail "results --scan: $OUT"
ctl --socket "$sock" results "$G_CLEAN" --scan "$inf_id"
expect_rc 2 "results --scan of another guest's scan"
grep -q "guest \"$G_CLEAN\" has no scan $inf_id" <<<"$ERR" || fail "message: $ERR"
ok "history: 4 scans newest first; results --scan $inf_id"
