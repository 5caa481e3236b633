# scan --follow: progress events (state, files, bytes, filesystem) until
# the reply that ends the stream, then the result and its exit status;
# Ctrl-C stops following, not the scan.  And several guests in one scan
# command.
. "$TESTDIR/lib.sh"

G_INFECTED=infected G_CLEAN=clean G_LAYOUT=layout
guests "$G_INFECTED" "$G_CLEAN" "$G_LAYOUT"
printf 'progress 3\nsleep 1.2\nprogress 3\ndetect /eicar.com Eicar-Test-Signature\n' |
	behave "$G_INFECTED"
printf 'progress 2\nsleep 4\n' | behave "$G_CLEAN"
# Five filesystems, one after the other.
for fs in sda1 sda2 vg0/root vg0/home sdb; do
	printf 'fs /dev/%s\nprogress 4\nsleep 0.6\n' "$fs"
done | behave "$G_LAYOUT"
echo 'detect /home/x.exe Win.Test.Sig' >> "$STANDIN_DIR/$G_LAYOUT"
write_conf
daemon_start

ctl scan "$G_INFECTED" --follow
expect_rc 1 "scan --follow of the infected guest"
grep -q "^$G_INFECTED: running, [0-9]* files, .* read" <<<"$OUT" ||
	fail "no progress line: $OUT"
grep -q "^status: *infected" <<<"$OUT" || fail "no result after the progress: $OUT"
ok "text: $(grep -c "^$G_INFECTED: " <<<"$OUT") progress lines, then the result"

# The layout guest has five filesystems to go through: the events name
# them as they come.
ctl --json scan "$G_LAYOUT" --follow
[ "$RC" -ne 0 ] || fail "the layout guest has detections and a broken filesystem"
events=$(grep '^{"id": *1, *"event": *"progress"' <<<"$OUT" || true)
[ -n "$events" ] || fail "no progress events: $OUT"
tail -n +"$(( $(wc -l <<<"$events") + 1 ))" <<<"$OUT" | jq -e '.ok == true and .scan.detections != null' >/dev/null ||
	fail "the stream does not end with the result: $OUT"
jq -se 'map(.scan.files) | . == sort' <<<"$events" >/dev/null || fail "files went backwards: $events"
nfs=$(jq -r '.scan.filesystem // empty' <<<"$events" | sort -u | wc -l)
[ "$nfs" -ge 2 ] || fail "events name fewer than 2 filesystems: $events"
ok "json: $(wc -l <<<"$events") events over $nfs filesystems, files never backwards, then the reply"

# SIGINT while following: the client says so and leaves; the scan ends.
"$SENTINELCTL" scan "$G_CLEAN" --follow > "$WORK/follow.out" 2> "$WORK/follow.err" &
f=$!
wait_line 600 "$WORK/follow.out" "^$G_CLEAN: running" || fail "no progress line: $(cat "$WORK/follow.out")"
kill -INT "$f"
wait "$f"
[ $? -eq 2 ] || fail "exit status after SIGINT"
grep -q "stopped following; the scan goes on (sentinelctl results $G_CLEAN)" "$WORK/follow.err" ||
	fail "message: $(cat "$WORK/follow.err")"
ctl --json scan "$G_CLEAN" --wait
expect_rc 0 "the scan left behind"
[ "$(jq -r .scan.status <<<"$OUT")" = clean ] || fail "scan: $OUT"
daemon_serves "a follower gone"
ok "Ctrl-C: following stopped, the scan ended clean"

# Several guests in one command: all requested first, each result shown,
# one unknown guest an error that does not stop the others; the exit
# status is the worst.
ctl scan "$G_INFECTED" no-such-guest "$G_CLEAN" --wait
expect_rc 2 "scan of two guests and an unknown one"
grep -q 'unknown guest "no-such-guest"' <<<"$ERR" || fail "message: $ERR"
[ "$(grep -c "^guest: " <<<"$OUT")" -eq 2 ] || fail "two results expected: $OUT"
ctl --json scan "$G_INFECTED" "$G_CLEAN" --wait
expect_rc 1 "scan of an infected and a clean guest"
[ "$(jq -r '[.replies[] | "\(.guest)=\(.scan.status)"] | sort | join(" ")' <<<"$OUT")" = \
    "$G_CLEAN=clean $G_INFECTED=infected" ] || fail "replies: $OUT"
ok "scan of several guests: each answered, exit status the worst"
