# `sentinelctl cancel`: a queued request is withdrawn, a running scan stops
# and is recorded incomplete; with nothing to cancel it is an error.
. "$TESTDIR/lib.sh"

G_INFECTED=infected
G_CLEAN=clean
guests "$G_INFECTED" "$G_CLEAN"
# Running when it is cancelled.
printf 'progress 5\nsleep 120\n' | behave "$G_INFECTED"
write_conf
sed -i 's/^max_concurrent_scans = 2$/max_concurrent_scans = 1/' "$CONF"
daemon_start
sock=$SOCK

ctl --socket "$sock" scan "$G_INFECTED"
expect_rc 0 "scan $G_INFECTED"
ctl --socket "$sock" scan "$G_CLEAN"
expect_rc 0 "scan $G_CLEAN"
ctl --socket "$sock" cancel "$G_CLEAN"
expect_rc 0 "cancel the queued $G_CLEAN"
grep -q "withdrawn" <<<"$OUT" || fail "cancel of a queued scan: $OUT"
ctl --socket "$sock" --json results "$G_CLEAN"
jq -e '.scan.status == "incomplete" and .scan.reason == "cancelled by request before it started"' <<<"$OUT" >/dev/null ||
	fail "withdrawn scan recorded as: $OUT"
ok "queued request withdrawn"

ctl --socket "$sock" cancel "$G_INFECTED"
expect_rc 0 "cancel the running $G_INFECTED"
grep -q "cancelling" <<<"$OUT" || fail "cancel of a running scan: $OUT"
for _ in $(seq 1 600); do
	ctl --socket "$sock" --json results "$G_INFECTED"
	st=$(jq -r .scan.status <<<"$OUT")
	[ "$st" = running ] || [ "$st" = queued ] || break
	sleep 0.1
done
jq -e '.scan.status == "incomplete" and .scan.reason == "cancelled by request"' <<<"$OUT" >/dev/null ||
	fail "cancelled scan recorded as: $OUT"
ok "running scan cancelled: $(jq -r '"\(.scan.files) files scanned before"' <<<"$OUT")"

ctl --socket "$sock" cancel "$G_INFECTED"
expect_rc 2 "cancel with nothing running"
grep -q "has no scan running or requested" <<<"$ERR" || fail "message: $ERR"
daemon_serves "cancels"
