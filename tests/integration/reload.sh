# SIGHUP re-reads the configuration: a bad file is reported and the
# running configuration kept; a good one takes effect.
. "$TESTDIR/lib.sh"

private_daemon reload
mkdir -p "$WORK/reloaddb"
cp "$DB"/* "$WORK/reloaddb/"
sed -i "s|^database = .*|database = $WORK/reloaddb|" "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT

cp "$conf" "$conf.good"
printf '[scan]\nmax_file_size = lots\n' >> "$conf"
kill -HUP "$pid"
wait_line 100 "$log" "reload: $conf:.*max_file_size: \"lots\".*keeping the running configuration" ||
	fail "bad reload not reported: $(cat "$log")"
ctl --socket "$sock" --json status
expect_rc 0 "status after a bad reload"
[ "$(jq .scans.max_concurrent <<<"$OUT")" -eq 2 ] || fail "config changed by a bad reload: $OUT"
ok "bad config refused, daemon serving"

sed 's/^max_concurrent_scans = 2$/max_concurrent_scans = 1/' "$conf.good" > "$conf"
sed -i 's|^socket = .*|socket = /elsewhere.sock|' "$conf"
kill -HUP "$pid"
for _ in $(seq 1 100); do
	ctl --socket "$sock" --json status
	[ "$(jq .scans.max_concurrent <<<"$OUT")" = 1 ] && break
	sleep 0.1
done
[ "$(jq .scans.max_concurrent <<<"$OUT")" = 1 ] || fail "good reload not applied: $OUT"
grep -q "\[control\] socket changed; it takes effect when sentineld restarts" "$log" ||
	fail "restart-only change not reported: $(cat "$log")"
ok "good config applied; the socket change waits for a restart"

# Signatures: reloaded beside the running engine; a failure keeps the old.
ctl --socket "$sock" --json status
sigs=$(jq .engine.signatures <<<"$OUT")
version=$(jq -r .engine.version <<<"$OUT")
echo "0123456789abcdef0123456789abcdef:1:Sentinel.Test.Extra" > "$WORK/reloaddb/extra.hdb"
ctl --socket "$sock" --json reload
expect_rc 0 "reload"
[ "$(jq .engine.signatures <<<"$OUT")" -eq $((sigs + 1)) ] || fail "reload: $OUT"
[ "$(jq -r .engine.version <<<"$OUT")" != "$version" ] || fail "version unchanged: $OUT"
ok "reload: $((sigs + 1)) signatures, version $(jq -r .engine.version <<<"$OUT")"

echo "this is not a signature" > "$WORK/reloaddb/broken.hdb"
ctl --socket "$sock" reload
expect_rc 2 "reload of a broken database"
grep -q "reload failed, the signatures loaded before stay" <<<"$ERR" || fail "message: $ERR"
ctl --socket "$sock" --json status
[ "$(jq .engine.signatures <<<"$OUT")" -eq $((sigs + 1)) ] || fail "engine lost after a failed reload: $OUT"
grep -q "signatures: reload failed" "$log" || fail "failed reload not logged"
ok "failed reload keeps the engine: $ERR"

# self_check: a change to the directory alone reloads; nothing asks for
# it.  Turned on by SIGHUP (which reloads once by itself: wait for that).
rm -f "$WORK/reloaddb/broken.hdb"
loads=$(grep -c "signatures: [0-9]* from" "$log")
sed -i 's/^\[clamav\]$/[clamav]\nself_check = 1s/' "$conf"
kill -HUP "$pid"
for _ in $(seq 1 300); do
	[ "$(grep -c "signatures: [0-9]* from" "$log")" -gt "$loads" ] && break
	sleep 0.1
done
[ "$(grep -c "signatures: [0-9]* from" "$log")" -gt "$loads" ] || fail "no reload after SIGHUP: $(cat "$log")"
echo "fedcba9876543210fedcba9876543210:1:Sentinel.Test.Extra2" > "$WORK/reloaddb/extra2.hdb"
for _ in $(seq 1 300); do
	ctl --socket "$sock" --json status
	[ "$(jq .engine.signatures <<<"$OUT")" -eq $((sigs + 2)) ] && break
	sleep 0.1
done
[ "$(jq .engine.signatures <<<"$OUT")" -eq $((sigs + 2)) ] ||
	fail "self_check did not reload: $OUT; $(cat "$log")"
grep -q "signatures: $WORK/reloaddb changed" "$log" || fail "self_check reload not logged"
ok "self_check reloaded the changed directory: $((sigs + 2)) signatures"
