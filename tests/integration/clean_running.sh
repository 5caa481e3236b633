# The clean guest is running: it is scanned while it runs, comes out clean
# with every regular file counted, and is still running afterwards.
. "$TESTDIR/lib.sh"

[ "$(sg_virsh domstate "$G_CLEAN")" = running ] || fail "$G_CLEAN is not running before the scan"
ctl --json scan "$G_CLEAN" --wait
expect_rc 0 "scan of the clean running guest"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = clean ] || fail "status: $scan"
nfiles=$(find "$WORK/content/clean" -type f | wc -l)
# Read, or known unchanged since an earlier scan of it (the file index).
[ "$(jq -r '.files + .unchanged' <<<"$scan")" -eq "$nfiles" ] ||
	fail "files $(jq '.files + .unchanged' <<<"$scan") != $nfiles placed"
[ "$(jq '.detections | length' <<<"$scan")" -eq 0 ] || fail "detections in a clean guest: $scan"
[ "$(jq -r .fs_scanned <<<"$scan")" -eq 1 ] || fail "fs_scanned: $scan"
[ "$(sg_virsh domstate "$G_CLEAN")" = running ] || fail "$G_CLEAN stopped running during the scan"
# Read at one instant through a backup job; no agent channel, so not frozen.
[ "$(jq -r .view <<<"$scan")" = backup ] || fail "view: $scan"
[ "$(jq -r .view_consistency <<<"$scan")" = crash-consistent ] || fail "consistency: $scan"
[ "$(jq -r .view_note <<<"$scan")" = "no guest agent channel" ] || fail "view note: $scan"
[ -z "$(job_op "$G_CLEAN")" ] ||
	fail "a job left on $G_CLEAN"
ok "clean, $nfiles files, guest still running"

ctl guests
grep -q "^$G_CLEAN .*running.* clean  *0 " <<<"$OUT" || fail "guests does not show the clean result: $OUT"
