# A scheduled scan still running when its scan windows close is cut short
# (to be resumed in the next window); an on-demand scan, which ignores the
# windows, is not.
. "$TESTDIR/lib.sh"

guests w od
printf 'progress 4\nsleep 100\n' | behave w
printf 'progress 4\nsleep 100\n' | behave od
# A window of one minute, this one: closing 20 to 60 s from now.
[ "$(date +%-S)" -le 40 ] || sleep $((61 - $(date +%-S)))
start=$(date +%H:%M)
end=$(date -d '+1 minute' +%H:%M)
write_conf
printf "[schedule]\njitter = 0\nwindows = %s-%s\n[guest od]\nexclude = yes\n" "$start" "$end" >> "$CONF"
daemon_start
ctl scan od
expect_rc 0 "scan od on demand"
wait_line 100 "$LOG" "scan w: started (schedule" || fail "w not scanned on schedule: $(cat "$LOG")"
wait_line 700 "$LOG" "scan w: its scan windows closed: cutting it short" ||
	fail "the window closed at $end and the scan of w goes on"
for _ in $(seq 1 100); do
	ctl --json results w
	[ "$(jq -r .scan.status <<<"$OUT")" = incomplete ] && break
	sleep 0.1
done
[ "$(jq -r '"\(.scan.resumable) \(.scan.reason)"' <<<"$OUT")" = \
    "true cancelled: its scan windows closed; cut short after 4 files: the next scan goes on from here (this was attempt 1)" ] ||
	fail "cut by the window: $(jq .scan <<<"$OUT")"
grep -q "^w [0-9]* cut$" "$STANDIN_DIR/scans.log" || fail "the scanner was not told to cut"
ok "the scheduled scan was cut when its window closed at $end"
ctl --json results od
[ "$(jq -r .scan.status <<<"$OUT")" = running ] || fail "the on-demand scan: $(jq .scan <<<"$OUT")"
ok "the on-demand scan runs on"
ctl cancel od
daemon_serves "a window's end"
