# Files over max_file_size: their first max_file_size bytes are scanned and
# they are counted as not scanned in full, so a clean scan says it is not
# complete; with [scan] strict = yes such a scan is incomplete, not clean.
. "$TESTDIR/lib.sh"

private_daemon strict
# The clean guest's 300 000-byte blob and its busybox are over 200K.
sed -i 's/^\[scan\]$/[scan]\nmax_file_size = 200K\nverdict_cache = 0\nfile_index = no/' "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT
field() { jq -r ".$1" <<<"$scan"; }
big=$(find "$WORK/content/clean" -type f -size +200k | wc -l)
[ "$big" -ge 1 ] || fail "the clean content has no file over 200K"

ctl --socket "$sock" --json scan "$G_CLONE" --wait
expect_rc 0 "scan without strict"
scan=$(jq .scan <<<"$OUT")
[ "$(field status)" = clean ] || fail "status: $scan"
[ "$(field complete)" = false ] || fail "a scan with files too large is complete: $scan"
[ "$(field skipped.too_large)" -eq "$big" ] || fail "too large: $(field skipped.too_large), $big placed: $scan"
[ "$(field not_scanned)" -eq "$big" ] || fail "not_scanned: $scan"
ctl --socket "$sock" --json results "$G_CLONE" --skipped
details=$(jq -r '.scan.skipped_paths[] | select(.reason == "too_large") | .detail' <<<"$OUT")
[ "$(grep -c 'only its first 204800 bytes were scanned' <<<"$details")" -eq "$big" ] ||
	fail "too large files not said to be partly scanned: $details"
# Their heads were read: at least 200K of each.
[ "$(field bytes_scanned)" -ge $((big * 204800)) ] || fail "bytes scanned: $scan"
"$SENTINELCTL" --socket "$sock" results "$G_CLONE" > "$WORK/strict.txt"
grep -q "^status: *clean; not complete: $big files or filesystems not scanned in full" "$WORK/strict.txt" ||
	fail "summary line: $(grep '^status' "$WORK/strict.txt")"
"$SENTINELCTL" --socket "$sock" history "$G_CLONE" | grep -q "clean .*not complete: $big files" ||
	fail "history: $("$SENTINELCTL" --socket "$sock" history "$G_CLONE")"
ok "clean but not complete: $big files over max_file_size, their first 200K scanned ($(grep '^status' "$WORK/strict.txt"))"

sed -i 's/^\[scan\]$/[scan]\nstrict = yes/' "$conf"
kill -HUP $pid
wait_line 100 "$log" "reload: configuration .* read" || fail "no reload: $(cat "$log")"
ctl --socket "$sock" --json scan "$G_CLONE" --wait
expect_rc 2 "scan with strict"
scan=$(jq .scan <<<"$OUT")
[ "$(field status)" = incomplete ] || fail "strict: status: $scan"
field reason | grep -q "$big files or filesystems not scanned in full (\[scan\] strict)" ||
	fail "strict: reason: $(field reason)"
[ "$(field complete)" = false ] || fail "strict: complete: $scan"
ok "strict: $(field status): $(field reason)"
