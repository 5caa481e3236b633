# With one slot, `scan NAME` of a queued guest moves it ahead of the
# others; a running guest says so.
. "$TESTDIR/lib.sh"

G_INFECTED=infected
G_CLEAN=clean
G_CLONE=clone
guests "$G_INFECTED" "$G_CLEAN" "$G_CLONE"
# The first runs while the others are asked for again, even on a machine
# under load.
echo 'sleep 6' | behave "$G_INFECTED"
for g in $G_CLEAN $G_CLONE; do
	echo 'sleep 1.5' | behave "$g"
done
write_conf
sed -i 's/^max_concurrent_scans = 2$/max_concurrent_scans = 1/' "$CONF"
daemon_start
sock=$SOCK

for g in $G_INFECTED $G_CLEAN $G_CLONE; do
	ctl --socket "$sock" scan "$g"
	expect_rc 0 "scan $g"
done
sleep 1
ctl --socket "$sock" --json schedule
jq -e --arg g "$G_CLEAN" '.guests[] | select(.name == $g) | .state == "cap" and .on_demand' <<<"$OUT" >/dev/null ||
	fail "$G_CLEAN not waiting for the cap: $OUT"
ctl --socket "$sock" scan "$G_CLONE"
grep -q "moved to the front" <<<"$OUT" || fail "second request: $OUT"
ctl --socket "$sock" scan "$G_INFECTED"
grep -q "already running" <<<"$OUT" || fail "request for the running guest: $OUT"
ok "queued guest moved to the front; running guest said so"

# Waiting on a queued guest is a request too: wait on the clone first.
for g in $G_CLONE $G_CLEAN; do
	ctl --socket "$sock" scan "$g" --wait
	expect_rc 0 "waiting for $g"
done
ctl --socket "$sock" --json results "$G_CLEAN"
start_clean=$(jq .scan.started <<<"$OUT")
ctl --socket "$sock" --json results "$G_CLONE"
start_clone=$(jq .scan.started <<<"$OUT")
[ "$start_clone" -lt "$start_clean" ] || fail "clone started at $start_clone, after clean at $start_clean"
ok "the moved guest started first"
