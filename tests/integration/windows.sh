# A Windows guest, built by the test without Windows (an MBR disk with a
# FAT32 EFI partition, a hibernated NTFS system volume whose registry maps
# C: and D:, an NTFS data volume, and a BitLocker volume): paths as
# Windows shows them, named streams read, paging files skipped as memory,
# BitLocker counted as encrypted, Windows-form exclude patterns that
# ignore case, parity with clamscan over the same files, and the file
# index's trust in times a user can set.
. "$TESTDIR/lib.sh"

img=$WORK/windows.img
LIBGUESTFS_BACKEND=direct \
LIBGUESTFS_BACKEND_SETTINGS=${SENTINEL_TEST_BACKEND_SETTINGS:-force_tcg} \
	sg_windows_disk "$img" >"$WORK/windows-build.log" 2>&1 ||
	fail "building the Windows disk: $(cat "$WORK/windows-build.log")"
sg_undefine "$G_WINDOWS"
sg_define "$G_WINDOWS" "$WORK" "$img" raw || fail "define $G_WINDOWS"

private_daemon windows
printf '[guest %s]\nexclude_paths = c:\\USERS\\*\\documents\\skip-me.TXT\n' \
	"$G_WINDOWS" >> "$conf"
"$SENTINELD" -n -c "$conf" >/dev/null || fail "sentineld -n rejects the config"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid; sg_undefine "$G_WINDOWS"' EXIT
field() { jq -r ".$1" <<<"$scan"; }
dets() { jq -r '.detections[] | .display' <<<"$scan" | sort; }

ctl --socket "$sock" --json scan "$G_WINDOWS" --wait
expect_rc 1 "scan of the Windows guest"
scan=$(jq .scan <<<"$OUT")
[ "$(field os)" = "Sentinel Test Windows" ] || fail "inspection: $scan"
dets > "$WORK/windows.got"
sort > "$WORK/windows.want" <<'EOT'
/dev/sda1:/EFI/Boot/eicar.com
C:\Users\Ann\Documents\report.docx:payload.exe
C:\Users\Ann\Downloads\invoice.exe
C:\swapfile.sys
D:\Data\eicar.com
EOT
diff -u "$WORK/windows.want" "$WORK/windows.got" || fail "detections differ: $scan"
[ "$(jq -r '.detections[] | select(.drive == "C" and .path ==
    "/Users/Ann/Downloads/invoice.exe") | .guest_path' <<<"$scan")" = true ] ||
	fail "raw path and drive: $scan"
ok "EICAR on C: and D: shown as Windows shows them, in a named stream, and on the EFI partition (DEVICE:/path)"

[ "$(field status)" = infected ] && [ "$(field fs_scanned)" -eq 3 ] &&
    [ "$(field fs_failed)" -eq 0 ] || fail "status: $scan"
[ "$(field skipped.memory)" -eq 2 ] || fail "memory: $scan"
[ "$(field skipped.encrypted)" -eq 1 ] || fail "BitLocker not counted: $scan"
[ "$(field skipped.excluded)" -eq 1 ] || fail "exclude_paths: $scan"
[ "$(field skipped.limit)" -eq 4 ] || fail "streams past 16: $scan"
[ "$(field skipped.unreadable)" -eq 0 ] || fail "unreadable: $scan"
field reason | grep -Fq 'C: (/dev/sda2): NTFS volume not cleanly shut down (hibernated: ' ||
	fail "the hibernated volume is not said: $(field reason)"
field reason | grep -q 'D:' && fail "the clean volume is said not clean: $(field reason)"
# Memory, like an excluded file, is no file left out: not_scanned counts
# only the 4 streams past the bound and the BitLocker volume.
[ "$(field complete)" = false ] && [ "$(field not_scanned)" -eq 5 ] ||
	fail "complete: $scan"
ok "pagefile.sys and hiberfil.sys skipped as memory, BitLocker encrypted, the hibernated C: said"

ctl --socket "$sock" results "$G_WINDOWS" --skipped
expect_rc 1 "results --skipped"
grep -Fq 'C:\Users\Ann\Downloads\invoice.exe (on /dev/sda2)' <<<"$OUT" ||
	fail "text output: $OUT"
grep -Eq '^  memory +C:\\pagefile.sys \(on /dev/sda2\)' <<<"$OUT" ||
	fail "memory not listed: $OUT"
grep -Eq '^  encrypted +/dev/sda4' <<<"$OUT" || fail "BitLocker not listed: $OUT"
grep -Eq '^  excluded +C:\\Users\\Ann\\Documents\\Skip-Me.txt' <<<"$OUT" ||
	fail "excluded not listed: $OUT"
grep -Eq '^  limit +C:\\Users\\Ann\\Documents\\many.txt:s[0-9]+ .*past the first 16' <<<"$OUT" ||
	fail "streams past the bound not listed: $OUT"
grep -Fq 'FOUND in C:\Users\Ann\Downloads\invoice.exe (on /dev/sda2)' "$log" ||
	fail "the log does not show the Windows path"
ok "results and the log show C:\\ paths"

# Parity: clamscan over the same files, copied out by another appliance
# (the named streams as files of their own).
rm -rf "$WORK/winfiles"
mkdir -p "$WORK/winfiles/C" "$WORK/winfiles/D" "$WORK/winfiles/EFI"
LIBGUESTFS_BACKEND=direct \
LIBGUESTFS_BACKEND_SETTINGS=${SENTINEL_TEST_BACKEND_SETTINGS:-force_tcg} \
guestfish --ro --format=raw -a "$img" >"$WORK/winfiles.log" 2>&1 <<EOT || fail "copy-out: $(cat "$WORK/winfiles.log")"
run
mount-options ro,streams_interface=windows /dev/sda2 /
copy-out /Users /Windows /pagefile.sys /hiberfil.sys /swapfile.sys /readme.txt $WORK/winfiles/C
download /Users/Ann/Documents/report.docx:payload.exe $WORK/winfiles/C/Users/Ann/Documents/report.docx:payload.exe
download /Users/Ann/Downloads/invoice.exe:Zone.Identifier $WORK/winfiles/C/Users/Ann/Downloads/invoice.exe:Zone.Identifier
umount-all
mount-ro /dev/sda3 /
copy-out /Data $WORK/winfiles/D
umount-all
mount-ro /dev/sda1 /
copy-out /EFI $WORK/winfiles/EFI
EOT
clamscan --no-summary -i -r -d "$DB" "$WORK/winfiles" 2>/dev/null |
	sed -n "s|^$WORK/winfiles/\\(.*\\): .* FOUND\$|\\1|p" |
	sed -e 's|^EFI/|/dev/sda1:/|' -e '/^[CD]\//{s|/|\\|g;s|^\(.\)|\1:|}' |
	sort > "$WORK/clamscan.got"
# What sentineld leaves out by rule: the paging file, the excluded file.
grep -Fxq 'C:\pagefile.sys' "$WORK/clamscan.got" &&
	grep -Fxq 'C:\Users\Ann\Documents\Skip-Me.txt' "$WORK/clamscan.got" ||
	fail "clamscan found: $(cat "$WORK/clamscan.got")"
grep -Fxv -e 'C:\pagefile.sys' -e 'C:\Users\Ann\Documents\Skip-Me.txt' \
	"$WORK/clamscan.got" > "$WORK/clamscan.cmp"
diff -u "$WORK/clamscan.cmp" "$WORK/windows.got" || fail "clamscan and sentinel differ"
ok "the same detections as clamscan over the same files (less the paging file and the excluded file)"

# Timestomping: tools.dat's bytes change on the disk, its size and every
# time stay (as a guest's user can restore them on NTFS).  Under the
# default settable_times_max_age (1 day) the index still trusts it, as the
# trust model says: the rescan reads only the named streams (never
# indexed) and reports the same detections.  With 0, every file of an
# NTFS or FAT filesystem is read: the change is found.
off=$(grep -obUa 'SENTINEL-TIMESTOMP-MARKER' "$img" | cut -d: -f1)
[ "$(wc -w <<<"$off")" -eq 1 ] || fail "marker found at: $off"
printf '%s' "$SG_EICAR" | dd of="$img" bs=1 seek="$off" conv=notrunc status=none
ctl --socket "$sock" --json scan "$G_WINDOWS" --wait
expect_rc 1 "rescan after the change"
scan=$(jq .scan <<<"$OUT")
dets | diff -u "$WORK/windows.want" - || fail "rescan detections: $scan"
files2=$(field files)
[ "$files2" -eq 18 ] && [ "$(field unchanged)" -gt 10 ] ||
	fail "rescan read $files2 files: $scan"
ok "rescan: $(field unchanged) files known unchanged (tools.dat too: its times were restored), $files2 read (the named streams)"
kill -TERM "$pid"
wait "$pid"
printf '[scan]\nsettable_times_max_age = 0\n' >> "$conf"
private_daemon_start
ctl --socket "$sock" --json scan "$G_WINDOWS" --wait
expect_rc 1 "rescan, settable_times_max_age = 0"
scan=$(jq .scan <<<"$OUT")
dets > "$WORK/windows.got"
{ cat "$WORK/windows.want"; echo 'C:\Users\Ann\tools.dat'; } | sort |
	diff -u - "$WORK/windows.got" || fail "timestomped file not found: $scan"
[ "$(field files)" -gt "$files2" ] || fail "files read: $scan"
ok "settable_times_max_age = 0: $(field files) files read, the changed tools.dat found"
