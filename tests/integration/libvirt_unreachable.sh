# With libvirt out of reach sentineld still starts and serves, and says
# why a guest cannot be found.
. "$TESTDIR/lib.sh"

private_daemon nolibvirt
sed -i "1i [libvirt]\nuri = qemu+unix:///system?socket=$WORK/no-libvirtd-here.sock" "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT

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
