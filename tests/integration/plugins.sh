# Plugins: the jsonl plugin writes every event of a scan, and reopens its
# file on SIGHUP (rotation); the exec plugin runs a program per event with
# the event on stdin and in its environment, and logs a failure and a
# timeout; the syslog plugin sends each detection at LOG_ALERT; the
# example plugin, built from its source alone, logs through sentineld; the loader refuses a world-writable
# plugin, one not root's, a symbolic link, one below a directory others
# can write, and one built for another ABI, with a clear line, and sentineld
# starts anyway; a plugin whose hook hangs delays neither the scans, nor
# the control socket, nor sentineld's exit.
. "$TESTDIR/lib.sh"
: "${BUILDDIR:?}" "${TESTPLUGINS:?}" "${DGRAMSINK:?}"

pdir=$WORK/plugins
rm -rf "$pdir"
mkdir -p "$pdir"
chmod 755 "$pdir"
cp "$BUILDDIR/plugins/jsonl.so" "$BUILDDIR/plugins/exec.so" "$BUILDDIR/plugins/syslog.so" \
    "$TESTPLUGINS/badabi.so" "$TESTPLUGINS/hang.so" "$pdir/"
# The program exec runs: records its input and environment, fails on
# scan_started, outlives its timeout on the end of a clean scan.
execout=$WORK/exec.out
rm -f "$execout"
cat > "$pdir/record" <<EOT
#!/bin/sh
in=\$(cat)
printf '%s|%s|%s|%s|%s|%s|%s\\n' "\$SENTINEL_EVENT" "\$SENTINEL_GUEST" "\$SENTINEL_SCAN_ID" \\
    "\${SENTINEL_STATUS:-}" "\${SENTINEL_SIGNATURE:-}" "\${SENTINEL_PATH:-}" "\$in" >> $execout
[ "\$SENTINEL_EVENT" = scan_started ] && exit 3
[ "\$SENTINEL_EVENT" = scan_finished ] && [ "\$SENTINEL_STATUS" = clean ] && sleep 100.$$
exit 0
EOT
chmod 755 "$pdir/record"
"$DGRAMSINK" "$WORK/log.sock" > "$WORK/syslog.out" &
sink=$!
cc -shared -fPIC -I "$SRCDIR/include" -o "$pdir/example.so" "$SRCDIR/plugins/example/example.c" ||
	fail "the example plugin does not build"
cp "$pdir/jsonl.so" "$pdir/writable.so"
cp "$pdir/jsonl.so" "$pdir/notroot.so"
chmod 644 "$pdir"/*.so
chmod 666 "$pdir/writable.so"
chown 65534 "$pdir/notroot.so"
# A link to a good plugin, and a good plugin below a directory anyone can
# write (who could swap the directory under it between check and load).
ln -s jsonl.so "$pdir/link.so"
mkdir -p "$pdir/open/sub"
chmod 777 "$pdir/open"
cp "$pdir/jsonl.so" "$pdir/open/sub/deep.so"
events=$WORK/events.jsonl
rm -f "$events" "$events.1"

private_daemon plugins
cat >> "$conf" <<EOT
[plugin events]
path = $pdir/jsonl.so
file = $events
fsync = event
[plugin writable]
path = $pdir/writable.so
file = $WORK/writable.jsonl
[plugin stranger]
path = $pdir/notroot.so
file = $WORK/notroot.jsonl
[plugin old]
path = $pdir/badabi.so
[plugin linked]
path = $pdir/link.so
file = $WORK/linked.jsonl
[plugin deep]
path = $pdir/open/sub/deep.so
file = $WORK/deep.jsonl
[plugin stuck]
path = $pdir/hang.so
[plugin example]
path = $pdir/example.so
prefix = hello
[plugin notify]
path = $pdir/exec.so
command = $pdir/record --flag
timeout = 2
[plugin sys]
path = $pdir/syslog.so
facility = local3
ident = sentinel-test
socket = $WORK/log.sock
EOT
"$SENTINELD" -n -c "$conf" | grep -q "^\[plugin events\]" || fail "sentineld -n does not show the plugins"
private_daemon_start
trap 'kill -TERM $pid $sink 2>/dev/null; wait $pid 2>/dev/null' EXIT

grep -q "plugin events: loaded $pdir/jsonl.so (jsonl)" "$log" || fail "jsonl not loaded: $(cat "$log")"
grep -q "plugin writable: refused: file $pdir/writable.so is writable by others (mode 0666)" "$log" ||
	fail "writable plugin: $(cat "$log")"
grep -q "plugin stranger: refused: file $pdir/notroot.so is owned by uid 65534, not root" "$log" ||
	fail "plugin not root's: $(cat "$log")"
grep -q "plugin old: refused: $pdir/badabi.so has plugin ABI 99, sentineld has 1" "$log" ||
	fail "wrong ABI: $(cat "$log")"
grep -q "plugin linked: refused: file $pdir/link.so: is a symbolic link" "$log" ||
	fail "symbolic link: $(cat "$log")"
grep -q "plugin deep: refused: directory $pdir/open is writable by others (mode 0777)" "$log" ||
	fail "plugin below a writable directory: $(cat "$log")"
for f in writable notroot linked deep; do
	[ ! -e "$WORK/$f.jsonl" ] || fail "a refused plugin ran: $f"
done
ok "refused with reasons: $(grep -c 'refused' "$log") plugins; sentineld started"

ctl --socket "$sock" --json scan "$G_INFECTED" --wait
expect_rc 1 "scan with a hung plugin loaded"
ndet=$(jq '.scan.detections | length' <<<"$OUT")
ctl --socket "$sock" --json status
expect_rc 0 "status with a hung plugin"
# Every line is JSON; one start, each detection, one end, in that order.
jq -c . "$events" > /dev/null || fail "not JSON lines: $(cat "$events")"
[ "$(jq -r .event "$events" | uniq -c | awk '{ print $2 "=" $1 }' | tr '\n' ' ')" = \
    "scan_started=1 file_detected=$ndet scan_finished=1 " ] || fail "events: $(jq -r .event "$events" | uniq -c)"
jq -se --arg g "$G_INFECTED" '[.[] | select(.event == "scan_finished") | .scan.guest == $g
	and .scan.status == "infected" and .scan.detections == '"$ndet"'] == [true]' "$events" >/dev/null ||
	fail "scan_finished: $(tail -1 "$events")"
jq -se '[.[] | select(.event == "file_detected") | .detection | .engine == "clamav" and
	(.signature | length) > 0 and (.path | startswith("/"))] | length > 0 and all' "$events" >/dev/null ||
	fail "file_detected: $(grep file_detected "$events")"
grep -q "plugin example: hello: scan [0-9]* of $G_INFECTED: infected, $ndet detections" "$log" ||
	fail "example plugin: $(cat "$log")"
ok "jsonl: 1 + $ndet + 1 events; example plugin logged the scan"

# exec: one run per event, in order; the event's JSON on stdin matches
# its environment; scan_started's exit 3 is logged.  (Runs are in the
# plugin's thread: wait for the last.)
wait_line 300 "$execout" "^scan_finished|$G_INFECTED|" || fail "exec never ran for the end: $(cat "$execout")"
[ "$(cut -d'|' -f1 "$execout" | uniq -c | awk '{ print $2 "=" $1 }' | tr '\n' ' ')" = \
    "scan_started=1 file_detected=$ndet scan_finished=1 " ] || fail "exec runs: $(cat "$execout")"
while IFS='|' read -r ev g id st sig path json; do
	jq -e --arg ev "$ev" --arg g "$g" --arg id "$id" --arg st "$st" --arg sig "$sig" --arg path "$path" \
	    '.event == $ev and .scan.guest == $g and (.scan.id | tostring) == $id and
	    (.scan.status // "") == $st and (.detection.signature // "") == $sig and
	    (.detection.path // "") == $path' <<<"$json" >/dev/null || fail "exec stdin vs env: $ev $json"
done < "$execout"
grep -q "plugin notify: $pdir/record for scan_started of $G_INFECTED: exited with status 3" "$log" ||
	fail "exit status not logged: $(cat "$log")"
ok "exec: $(wc -l < "$execout") runs, stdin and environment agree, a failure logged"

# syslog: each detection at alert (local3 = 19: <153>), the end at warning.
wait_line 100 "$WORK/syslog.out" "scan [0-9]* infected" || fail "no syslog line: $(cat "$WORK/syslog.out")"
[ "$(grep -c "^<153>.* sentinel-test\[$pid\]: guest $G_INFECTED: .* FOUND in /.* (scan [0-9]*, clamav)$" "$WORK/syslog.out")" -eq "$ndet" ] ||
	fail "syslog detections: $(cat "$WORK/syslog.out")"
grep -q "^<156>.*: guest $G_INFECTED: scan [0-9]* infected, [0-9]* files, $ndet detections$" "$WORK/syslog.out" ||
	fail "syslog end of scan: $(cat "$WORK/syslog.out")"
ok "syslog: $ndet alerts and the end of the scan"

wait_line 300 "$log" "plugin stuck: a hook has run for" || fail "hung hook not reported: $(cat "$log")"
ok "the hung plugin is reported, scans and the socket went on"

mv "$events" "$events.1"
kill -HUP "$pid"
for _ in $(seq 1 100); do
	[ -e "$events" ] && break
	sleep 0.1
done
[ -e "$events" ] || fail "jsonl did not reopen its file on SIGHUP"
ctl --socket "$sock" --json scan "$G_CLEAN" --wait
expect_rc 0 "scan after the rotation"
[ "$(jq -r .event "$events" | tr '\n' ' ')" = "scan_started scan_finished " ] || fail "after rotation: $(cat "$events")"
[ "$(jq -r 'select(.event == "scan_finished") | .scan.guest' "$events.1")" = "$G_INFECTED" ] ||
	fail "the rotated file changed: $(tail -1 "$events.1")"
ok "SIGHUP: new file, the rotated one untouched"

wait_line 100 "$log" "plugin notify: .* for scan_finished of $G_CLEAN: timed out after 2 s; killed" ||
	fail "timeout not logged: $(cat "$log")"
pgrep -f "sleep 100.$$" >/dev/null && fail "the timed-out program's child outlived it"
grep -q "^<157>.*: guest $G_CLEAN: scan [0-9]* clean, " "$WORK/syslog.out" || fail "syslog clean scan: $(cat "$WORK/syslog.out")"
ok "exec: a program past its timeout is killed with its children, and logged"

kill -TERM "$pid"
wait "$pid"
[ $? -eq 0 ] || fail "exit status"
grep -q "plugin stuck: still in a hook after 5 s; left running" "$log" || fail "exit: $(cat "$log")"
grep -q "sentineld: stopped" "$log" || fail "did not stop: $(cat "$log")"
ok "stopped with the hung plugin left behind"
