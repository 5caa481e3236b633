# A guest whose disk holds no filesystem: the scan is recorded as failed
# with that reason, and the daemon keeps serving.
. "$TESTDIR/lib.sh"

ctl --json scan "$G_NOFS" --wait
expect_rc 2 "scan of a disk without a filesystem"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = failed ] || fail "status: $scan"
jq -r .reason <<<"$scan" | grep -q "no filesystem" || fail "reason: $scan"
ok "failed: $(jq -r .reason <<<"$scan")"

ctl results "$G_NOFS"
expect_rc 2 "results of the failed scan"
grep -q "^status: *failed: no filesystem" <<<"$OUT" || fail "results text: $OUT"
daemon_serves "a failed scan"
