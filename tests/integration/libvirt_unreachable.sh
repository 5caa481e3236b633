# With libvirt out of reach sentineld still starts and serves, and says
# why a guest cannot be found.
. "$TESTDIR/lib.sh"

sock=$WORK/nolibvirt.sock
conf=$WORK/nolibvirt.conf
write_conf "$conf" "$sock" "$WORK/nolibvirt.db"
sed -i "1i [libvirt]\nuri = qemu+unix:///system?socket=$WORK/no-libvirtd-here.sock" "$conf"
"$SENTINELD" -f -c "$conf" >"$WORK/nolibvirt.log" 2>&1 </dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT
sg_wait_socket "$sock" "$pid" || fail "sentineld did not start without libvirt"

ctl --socket "$sock" --json guests
expect_rc 0 "guests without libvirt"
[ "$(jq -r .libvirt.connected <<<"$OUT")" = false ] || fail "connected: $OUT"
jq -r .libvirt.error <<<"$OUT" | grep -q "cannot connect to qemu+unix" || fail "error: $OUT"
ctl --socket "$sock" guests
grep -q "libvirt unreachable" <<<"$ERR" || fail "no warning in text output: $ERR"

ctl --socket "$sock" scan "$G_CLEAN" --wait
expect_rc 2 "scan without libvirt"
grep -q "unknown guest \"$G_CLEAN\": libvirt is unreachable (cannot connect" <<<"$ERR" || fail "message: $ERR"
ctl --socket "$sock" status
expect_rc 0 "status without libvirt"
grep -q "^libvirt: .*unreachable" <<<"$OUT" || fail "status: $OUT"
ok "serving without libvirt: $(jq -r .libvirt.error <<<"$(SENTINEL_SOCKET=$sock "$SENTINELCTL" --json status)")"
