# A hostile guest: odd names, a 4000-byte path, 1000 nested directories,
# symlink loops and links to host files, device nodes, a FIFO, a hard link,
# a sparse 10 GiB file, nested archives, a zip bomb, an encrypted zip and
# an oversized file that starts with EICAR.  Each is reported for what it
# is, nothing is followed on the host, nothing lands on host disk, and the
# daemon keeps serving within its memory bound.
. "$TESTDIR/lib.sh"

private_daemon hostile
sed -i 's/^\[scan\]$/[scan]\nmax_file_size = 1M\nmax_scan_size = 50M/' "$conf"
# The first or the second name of a hard-linked EICAR, whichever the
# listing meets first: the file is still read under the other one.
printf '[guest %s]\nexclude_paths = /hl/x?ex.com\n' "$G_HOSTILE" >> "$conf"
# A scanner tmpdir of its own, new: what is left in it afterwards is seen.
rm -rf "$WORK/hostile-tmp"
sed -i "s|^tmpdir = .*|tmpdir = $WORK/hostile-tmp|" "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT
field() { jq -r ".$1" <<<"$scan"; }

ctl --socket "$sock" --json scan "$G_HOSTILE" --wait
expect_rc 1 "scan of the hostile guest"
scan=$(jq .scan <<<"$OUT")
[ "$(field status)" = infected ] || fail "status: $scan"
jq -r '.detections[].path' <<<"$scan" | sort > "$WORK/hostile.got"
grep -qx '/new\\x0aline.com' "$WORK/hostile.got" || fail "newline name: $(cat "$WORK/hostile.got")"
grep -qx '/nested.zip' "$WORK/hostile.got" || fail "EICAR five zips deep not found"
deep=$(grep 'deep-eicar.com$' "$WORK/hostile.got") || fail "EICAR at the end of the long path not found"
[ "${#deep}" -gt 4000 ] || fail "long path cut: ${#deep} bytes"
grep -qx '/hl/kept.com' "$WORK/hostile.got" || fail "EICAR behind an excluded hard link: $(cat "$WORK/hostile.got")"
# Over max_file_size: its first 1M is scanned all the same.
grep -qx '/big-eicar.com' "$WORK/hostile.got" || fail "EICAR at the start of a file over max_file_size: $(cat "$WORK/hostile.got")"
[ "$(wc -l < "$WORK/hostile.got")" -eq 5 ] || fail "detections: $(cat "$WORK/hostile.got")"
ok "detected: the newline name, EICAR in nested zips, the ${#deep}-byte path, the name of a hard link that is not excluded, the start of an oversized file; links to host files not followed"

[ "$(field skipped.too_large)" -eq 2 ] || fail "too large: $scan"
[ "$(field skipped.limit)" -eq 1 ] || fail "limit: $scan"
[ "$(field skipped.encrypted)" -eq 1 ] || fail "encrypted: $scan"
[ "$(field skipped.special)" -eq 3 ] || fail "special: $scan"
[ "$(field skipped.unreadable)" -eq 0 ] || fail "unreadable: $scan"
[ "$(field fs_failed)" -eq 0 ] || fail "fs_failed: $scan"
# Read: the three plain names, the deep file, the bottom of the nest, one
# name of each hard link, and the three archives.
[ "$(field files)" -eq 10 ] || fail "files read: $scan"
[ "$(field skipped.excluded)" -eq 1 ] || fail "excluded: $scan"
# Of the sparse 10 GiB file only the first 1M is read.
[ "$(field bytes_read)" -lt 20000000 ] || fail "bytes read: $(field bytes_read)"
[ "$(field complete)" = false ] || fail "complete: $scan"
[ "$(field not_scanned)" -eq 4 ] || fail "not_scanned: $scan"
ok "not scanned in full: 2 too large (only their first 1M read: $(field bytes_read) bytes in all), 1 bomb at a limit, 1 encrypted; 3 special"

ctl --socket "$sock" --json results "$G_HOSTILE" --skipped
expect_rc 1 "results --skipped"
reasons=$(jq -r '.scan.skipped_paths[] | "\(.reason) \(.path)"' <<<"$OUT" | sort)
for want in "too_large /sparse-10g" "too_large /big-eicar.com" "limit /bomb.zip" \
    "encrypted /encrypted.zip" "special /fifo" "special /null-dev" "special /disk-dev"; do
	grep -qx "$want" <<<"$reasons" || fail "\"$want\" not listed: $reasons"
done
n=$(jq -r '.scan.skipped_paths[] | select(.reason == "too_large") | .detail' <<<"$OUT" |
	grep -c 'only its first 1048576 bytes were scanned')
[ "$n" -eq 2 ] || fail "too large files not said to be partly scanned: $OUT"
ok "each skipped path listed with its reason"

# Only libguestfs's cache of what qemu can do may stay (no guest data).
left=$(find "$WORK/hostile-tmp" -mindepth 1 -maxdepth 1 ! -name '.guestfs-*')
[ -z "$left" ] || fail "files left in the scanner's tmpdir: $left"
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
# The bound stated in sentineld(8): the engine, the largest file scanned
# (max_file_size), a 1 MiB pipe and the listing; here far below 256 MiB.
[ "$hwm" -lt 262144 ] || fail "sentineld peak memory $hwm KiB"
ctl --socket "$sock" --json status
expect_rc 0 "status after the hostile scan"
ok "nothing left on host disk, peak memory $hwm KiB, still serving"
