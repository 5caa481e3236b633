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
