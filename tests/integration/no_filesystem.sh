# A guest whose disk holds no filesystem: the scan is recorded as failed
# with that reason, and the daemon keeps serving.  Its second disk (NBD)
# cannot be opened: the guest list and the result say so.
. "$TESTDIR/lib.sh"

ctl --json scan "$G_NOFS" --wait
expect_rc 2 "scan of a disk without a filesystem"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = failed ] || fail "status: $scan"
jq -r .reason <<<"$scan" | grep -q "no filesystem" || fail "reason: $scan"
jq -r .reason <<<"$scan" | grep -q "disks not scanned: vdb: disk type not supported" ||
	fail "reason does not name the disk left out: $scan"
ok "failed: $(jq -r .reason <<<"$scan")"

ctl --json guests
[ "$(jq -r --arg g "$G_NOFS" '.guests[] | select(.name == $g) | "\(.disks | length) \(.disks_not_scanned)"' <<<"$OUT")" = \
	"1 vdb: disk type not supported" ] || fail "guests: $OUT"

ctl results "$G_NOFS"
expect_rc 2 "results of the failed scan"
grep -q "^status: *failed: no filesystem" <<<"$OUT" || fail "results text: $OUT"
daemon_serves "a failed scan"
