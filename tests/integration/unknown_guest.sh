# An unknown guest is a clear error naming it (exit 2); the daemon goes on.
. "$TESTDIR/lib.sh"

ctl scan no-such-guest-here --wait
expect_rc 2 "scan of an unknown guest"
grep -q 'unknown guest "no-such-guest-here"' <<<"$ERR" || fail "message: $ERR"
ok "unknown guest: $ERR"

ctl results no-such-guest-here
expect_rc 2 "results of an unknown guest"
grep -q 'unknown guest "no-such-guest-here"' <<<"$ERR" || fail "message: $ERR"

ctl --json scan no-such-guest-here
expect_rc 2 "json scan of an unknown guest"
[ "$(jq -r .ok <<<"$OUT")" = false ] || fail "json reply: $OUT"
jq -r .error <<<"$OUT" | grep -q 'unknown guest' || fail "json error: $OUT"

# Known guests are listed with their disks and formats.
ctl --json guests
expect_rc 0 "guests"
[ "$(jq -r --arg g "$G_INFECTED" '.guests[] | select(.name == $g) | .disks[0].format' <<<"$OUT")" = qcow2 ] ||
	fail "guests does not show $G_INFECTED with its qcow2 disk: $OUT"
[ "$(jq -r --arg g "$G_CLEAN" '.guests[] | select(.name == $g) | .state' <<<"$OUT")" = running ] ||
	fail "guests does not show $G_CLEAN running: $OUT"
[ "$(jq -r .libvirt.connected <<<"$OUT")" = true ] || fail "libvirt not connected: $OUT"
ctl guests
expect_rc 0 "guests (text)"
grep -q "^$G_NOFS .*shut off" <<<"$OUT" || fail "guests text: $OUT"

daemon_serves "an unknown guest"
ok "daemon keeps serving"

# [libvirt] guests: a daemon sees only the guests its patterns name; the
# others are unknown to it, even to an on-demand scan.  A reload of the
# configuration (SIGHUP) widens it.
private_daemon only
sed -i "s|^guests = .*|guests = $G_CLEAN $TESTNS-inf*|" "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
ctl --socket "$sock" --json guests
expect_rc 0 "guests of a daemon with patterns"
[ "$(jq -r '[.guests[].name] | sort | join(" ")' <<<"$OUT")" = "$G_CLEAN $G_INFECTED" ] ||
	fail "guests = $G_CLEAN $TESTNS-inf*: $OUT"
ctl --socket "$sock" scan "$G_NOFS"
expect_rc 2 "scan of a guest no pattern names"
grep -q "unknown guest \"$G_NOFS\"" <<<"$ERR" || fail "message: $ERR"
sed -i "s|^guests = .*|guests = $TESTNS-*|" "$conf"
kill -HUP "$pid"
wait_line 300 "$log" "reload: configuration" || fail "no reload: $(cat "$log")"
for _ in $(seq 1 300); do
	ctl --socket "$sock" --json guests
	jq -e --arg g "$G_NOFS" '.guests[] | select(.name == $g)' <<<"$OUT" >/dev/null && break
	sleep 0.1
done
for g in $G_ALL; do
	jq -e --arg g "$g" '.guests[] | select(.name == $g)' <<<"$OUT" >/dev/null ||
		fail "$g not seen after the reload: $OUT"
done
ok "[libvirt] guests: only the guests named; SIGHUP widens the list"
