# The verdict cache: a file found clean is not scanned again, in another
# guest (a linked clone) or after a restart; new signatures make the clean
# verdicts stale; detections are never cached.
. "$TESTDIR/lib.sh"

private_daemon cache
rm -rf "$WORK/cachedb"
mkdir -p "$WORK/cachedb"
cp "$DB"/* "$WORK/cachedb/"
sed -i "s|^database = .*|database = $WORK/cachedb|" "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT
# Files the engine would see: the non-empty regular files.
nonempty=$(find "$WORK/content/clean" -type f -size +0 | wc -l)
nall=$(find "$WORK/content/clean" -type f | wc -l)

scan() {	# GUEST EXPECTED_EXIT: sets $scan
	ctl --socket "$sock" --json scan "$1" --wait
	expect_rc "$2" "scan of $1"
	scan=$(jq .scan <<<"$OUT")
}
field() { jq -r ".$1" <<<"$scan"; }

scan "$G_CLEAN" 0
[ "$(field cache_hits)" -eq 0 ] || fail "hits on a cold cache: $scan"
[ "$(field bytes_scanned)" -gt 0 ] || fail "nothing scanned: $scan"

scan "$G_CLONE" 0
[ "$(field cache_hits)" -eq "$nonempty" ] || fail "clone: $(field cache_hits) hits, expected $nonempty"
[ "$(field bytes_scanned)" -eq 0 ] || fail "clone: bytes scanned again: $scan"
[ "$(field files)" -eq "$(find "$WORK/content/clean" -type f | wc -l)" ] || fail "clone: files: $scan"
ok "linked clone: all $nonempty files known clean, 0 bytes scanned"

scan "$G_INFECTED" 1
n1=$(jq '.detections | length' <<<"$scan")
scan "$G_INFECTED" 1
[ "$(jq '.detections | length' <<<"$scan")" -eq "$n1" ] || fail "detections changed on a rescan: $scan"
[ "$(field cache_hits)" -eq 0 ] || fail "infected files served from the cache: $scan"
ok "detections are not cached: $n1 both times"

# A rescan of the same guest does not even read its unchanged files (the
# file index); a guest the daemon never saw still gets the cached verdicts.
scan "$G_CLONE" 0
[ "$(field unchanged)" -eq "$(find "$WORK/content/clean" -type f | wc -l)" ] ||
	fail "rescan of the clone: $(field unchanged) files unchanged: $scan"
[ "$(field files)" -eq 0 ] || fail "rescan of the clone read files: $scan"
ok "rescan of the clone: every file unchanged, $(field bytes_read) bytes read"

kill -TERM "$pid"; wait "$pid"
sg_undefine "$G_CLONE"
sg_define "$G_CLONE" "$WORK" "$WORK/clone.qcow2" qcow2 || fail "define the clone again"
private_daemon_start
scan "$G_CLONE" 0
[ "$(field cache_hits)" -eq "$nonempty" ] || fail "after a restart: $(field cache_hits) hits"
ok "the cache survives a restart (the clone defined anew, with a new UUID)"

# New signatures: every clean verdict is stale.  The update also has a
# body signature for ELF files (that matches none) and a hash signature
# naming one clean file.  The clone's index knows each file's type (from
# the verdict cache, as the clone's files were never scanned themselves):
# only its ELF files, the type the update targets, are read again; the
# others are checked by their hashes alone, and the one the update's hash
# names is detected without being read.
note=home/user/notes/note3.txt
echo "0123456789abcdef0123456789abcdef:1:Sentinel.Test.Dummy" > "$WORK/cachedb/extra.hdb"
echo "$(md5sum < "$WORK/content/clean/$note" | cut -d' ' -f1):$(stat -c %s "$WORK/content/clean/$note"):Sentinel.Test.HashUpdate" >> "$WORK/cachedb/extra.hdb"
echo "Sentinel.Test.ElfOnly:6:*:00112233445566778899aabbccddeeff0011" > "$WORK/cachedb/extra.ndb"
nelf=0
while IFS= read -r -d '' f; do
	[ "$(head -c4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] && nelf=$((nelf + 1))
done < <(find "$WORK/content/clean" -type f -size +0 -print0)
[ "$nelf" -gt 0 ] || fail "no ELF file in the guest"
kill -TERM "$pid"; wait "$pid"
private_daemon_start
scan "$G_CLONE" 1
[ "$(field cache_hits)" -eq 0 ] || fail "stale verdicts used after a signature change: $scan"
[ "$(field files)" -eq "$nelf" ] || fail "update for ELF files: $(field files) files read, $nelf ELF files: $scan"
[ "$(field unchanged)" -eq $((nall - nelf - 1)) ] || fail "unchanged: $scan"
[ "$(jq '.detections | length' <<<"$scan")" -eq 1 ] &&
	[ "$(jq -r '.detections[0].path' <<<"$scan")" = "/$note" ] ||
	fail "the hash signature's file, not read: $scan"
unread_sig=$(jq -r '.detections[0].signature' <<<"$scan")
grep -q "files known clean under other signatures: $nelf read again (the update targets their types), $((nall - nelf)) checked by their hashes only" "$log" ||
	fail "no line on what the update made read: $(grep 'other signatures' "$log")"
grep -q "1 files named by a new hash signature, found without reading them" "$log" ||
	fail "no line on the file found unread"
ok "update: verdicts stale, $nelf ELF files read again, the rest checked by hash; $note detected unread as $unread_sig"

# [scan] index_max_age bounds how long the index trusts a file unchanged
# (the bounds themselves: test_findex).  The clone's records are from its
# last scan, more than a second ago: with 1s every file is read again.
sed -i 's/^\[scan\]$/[scan]\nindex_max_age = 1s/' "$conf"
kill -HUP "$pid"
wait_line 100 "$log" "reload: configuration .* read" || fail "no reload: $(cat "$log")"
scan "$G_CLONE" 1
[ "$(field files)" -eq "$nall" ] && [ "$(field unchanged)" -eq 0 ] ||
	fail "index_max_age 1s: $(field files) read, $(field unchanged) unchanged: $scan"
# Read, the file the update names has the name it had unread.
[ "$(jq -r --arg p "/$note" '.detections[] | select(.path == $p) | .signature' <<<"$scan")" = "$unread_sig" ] ||
	fail "$note read: not detected as $unread_sig: $scan"
ok "index_max_age 1s: all $nall files read again, none trusted unchanged; $note read is $unread_sig too"
