# Disk layouts: an inspected Linux's filesystems are read each alone, with
# paths as the guest mounts them, and a file on the root filesystem under
# the /srv mountpoint (hidden from the guest) is found and flagged; partitions, LVM, XFS, btrfs, vfat and a whole-disk filesystem on
# other disks are scanned alone (DEVICE:/path); swap is skipped, LUKS is
# counted as encrypted, a broken filesystem fails alone.  Then a rescan
# reads only what is not known clean.
. "$TESTDIR/lib.sh"

private_daemon layout
printf '[guest %s]\nexclude_paths = /srv/x/readme.txt\n' "$G_LAYOUT" >> "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT
field() { jq -r ".$1" <<<"$scan"; }

ctl --socket "$sock" --json scan "$G_LAYOUT" --wait
expect_rc 1 "scan of the layout guest"
scan=$(jq .scan <<<"$OUT")
jq -r '.detections[] | "\(.fs) \(.path) \(.guest_path) \(.hidden)"' <<<"$scan" | sort > "$WORK/layout.got"
sort > "$WORK/layout.want" <<EOT
/dev/sda1 /root/eicar.com true false
/dev/sda1 /srv/hidden.com true true
/dev/sentvg/data /srv/x/eicar.com true false
/dev/sentvg/btr /b/eicar.com false false
/dev/sda4 /dos/eicar.com false false
/dev/sdc /eicar.com false false
EOT
diff -u "$WORK/layout.want" "$WORK/layout.got" || fail "detections differ: $scan"
ok "EICAR found on ext4 root and XFS-on-LVM /srv (guest paths), btrfs, vfat, whole disk"
[ "$(field hidden)" -eq 1 ] || fail "hidden files: $scan"
"$SENTINELCTL" --socket "$sock" results "$G_LAYOUT" > "$WORK/layout.txt" || true
grep -q '^hidden: *1 files under a mountpoint' "$WORK/layout.txt" || fail "no hidden line: $(cat "$WORK/layout.txt")"
grep -q '/srv/hidden.com (on /dev/sda1).*hidden under a mountpoint' "$WORK/layout.txt" ||
	fail "hidden detection not flagged: $(cat "$WORK/layout.txt")"
grep -q 'files under /srv, where the guest mounts another filesystem' "$log" || fail "hidden files not logged"
ok "EICAR under the /srv mountpoint on the root filesystem: reported as hidden"
[ "$(field os)" != null ] || fail "no operating system found: $scan"
# The name the guest gave itself holds terminal controls: none reaches a
# terminal, in the text output nor in the log.
"$SENTINELCTL" --socket "$sock" results "$G_LAYOUT" > "$WORK/layout.txt" || true
grep -q '^system: *Sentinel Test Linux' "$WORK/layout.txt" || fail "system line: $(cat -v "$WORK/layout.txt")"
if LC_ALL=C grep -q $'\033\|\302[\200-\237]' "$WORK/layout.txt" "$log"; then
	fail "a terminal control from the guest reached the output: $(grep '^system' "$WORK/layout.txt" | cat -v)"
fi
ok "guest text made safe: $(grep '^system' "$WORK/layout.txt")"
[ "$(field status)" = infected ] || fail "status: $scan"
[ "$(field fs_scanned)" -eq 5 ] || fail "fs_scanned: $scan"
[ "$(field fs_failed)" -eq 1 ] || fail "fs_failed: $scan"
field reason | grep -q '/dev/sdb' || fail "the reason does not name the broken filesystem: $(field reason)"
[ "$(field skipped.encrypted)" -eq 1 ] || fail "LUKS not counted: $scan"
[ "$(field skipped.filesystem)" -eq 1 ] || fail "broken filesystem not counted: $scan"
[ "$(field skipped.excluded)" -eq 1 ] || fail "exclude_paths: $scan"
ok "broken /dev/sdb failed alone, LUKS counted as encrypted, one file excluded"

ctl --socket "$sock" results "$G_LAYOUT" --skipped
expect_rc 1 "results --skipped"
grep -q '/root/eicar.com (on /dev/sda1)' <<<"$OUT" || fail "human output: $OUT"
grep -Eq '^  encrypted +/dev/sda5' <<<"$OUT" || fail "LUKS volume not listed: $OUT"
grep -Eq '^  filesystem +/dev/sdb' <<<"$OUT" || fail "broken filesystem not listed: $OUT"
grep -Eq '^  excluded +/srv/x/readme.txt \(on /dev/sentvg/data\)' <<<"$OUT" ||
	fail "excluded file not listed: $OUT"
ok "results --skipped lists the volume, the filesystem and the file"

bytes1=$(field bytes_read)
ctl --socket "$sock" --json scan "$G_LAYOUT" --wait
expect_rc 1 "rescan of the layout guest"
scan=$(jq .scan <<<"$OUT")
jq -r '.detections[] | "\(.fs) \(.path) \(.guest_path) \(.hidden)"' <<<"$scan" | sort > "$WORK/layout.got"
diff -u "$WORK/layout.want" "$WORK/layout.got" || fail "rescan: detections differ: $scan"
# Nothing is read again: the file index knows every file, the six
# detected ones with the signatures that named them (never as clean), and
# the rescan reports them again under the same signatures.
[ "$(field files)" -eq 0 ] || fail "rescan read $(field files) files: $scan"
[ "$(field unchanged)" -gt 6 ] || fail "rescan: unchanged: $scan"
[ $(($(field bytes_read) * 4)) -lt "$bytes1" ] ||
	fail "rescan read $(field bytes_read) bytes, the first scan $bytes1"
ok "rescan: $(field unchanged) files unchanged and not read, $(field bytes_read) of $bytes1 bytes read"
