# One deep directory does not hide a filesystem: a guest tree of 1 500
# nested directories with 250-byte names (a path of 375 000 bytes, a few
# MB of disk) beside EICAR in a plain directory.  find0 cannot list such
# a tree; the listing goes directory by directory, skips the part past the
# longest path the appliance can name (counted, with the reason), and
# scans everything else: the detection is reported.
. "$TESTDIR/lib.sh"

G=$TESTNS-deep
T=$WORK/content/deep
trap 'sg_undefine $G; rm -rf "$T" "$WORK/deep.img"' EXIT
rm -rf "$T"
mkdir -p "$T/root/docs"
printf '%s' "$SG_EICAR" > "$T/root/docs/eicar.com"
echo "plain" > "$T/root/docs/readme.txt"
# The shell's cd would export a PWD too long for any exec: perl.
perl -e 'my $n = "N" x 249; chdir($ARGV[0]) or die "$!"; mkdir "deep"; chdir "deep";
	for my $i (1 .. 1500) { my $d = $n . ($i % 10); mkdir $d or die "mkdir: $!"; chdir $d or die "chdir: $!"; }
	open(my $f, ">", "bottom.txt") or die "$!"; print $f "bottom\n";' "$T/root" || fail "deep tree"
sg_image "$T/root" "$WORK/deep.img" 64M || fail "mkfs"
sg_define $G "$WORK" "$WORK/deep.img" raw || fail "define $G"
for _ in $(seq 1 100); do
	ctl --json guests
	jq -e --arg g $G '.guests[] | select(.name == $g)' <<<"$OUT" >/dev/null && break
	sleep 0.1
done

ctl --json scan $G --wait
scan=$(jq .scan <<<"$OUT")
[ "$RC" -eq 1 ] || fail "scan of the deep guest: exit status $RC: $(jq -c '{status, reason, fs_failed, skipped}' <<<"$scan")"
[ "$(jq -r .status <<<"$scan")" = infected ] || fail "status: $scan"
[ "$(jq -r '[.detections[].path] | join(" ")' <<<"$scan")" = /docs/eicar.com ] ||
	fail "detections: $(jq -c .detections <<<"$scan")"
[ "$(jq .fs_failed <<<"$scan")" -eq 0 ] || fail "a filesystem failed: $scan"
[ "$(jq .skipped.limit <<<"$scan")" -ge 1 ] || fail "the deep subtree is not counted: $scan"
ctl results $G --skipped
grep -q "path longer than the appliance can name: this directory and all below it not read" <<<"$OUT" ||
	fail "no reason for the skipped subtree: $OUT"
ok "EICAR found beside a 1500-deep tree; the part past the path limit skipped with its reason"
daemon_serves "a deep tree"

# The scan process's memory: its peak is logged; under a 256 MiB bound
# here (a test database, a listing of a few hundred KB).
peak=$(grep "scan $G: peak memory of the scan process" "$WORK/sentineld.log" | tail -1 | sed 's/.* process \([0-9]*\) KiB.*/\1/')
[ -n "$peak" ] || fail "no peak memory logged for the scan"
[ "$peak" -lt 262144 ] || fail "scan process peak memory $peak KiB"
ok "scan process peak memory $peak KiB"

# With [scan] max_listing_size below what the tree's names take, the
# filesystem fails with that reason instead of the memory growing.
private_daemon deeplim
sed -i 's/^\[scan\]$/[scan]\nmax_listing_size = 16K/' "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid; sg_undefine $G; rm -rf "$T" "$WORK/deep.img"' EXIT
ctl --socket "$sock" --json scan $G --wait
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = failed ] || fail "status with a 16K listing bound: $scan"
jq -r .reason <<<"$scan" | grep -q "more than 16384 bytes of names (max_listing_size)" ||
	fail "reason: $(jq -r .reason <<<"$scan")"
[ "$(jq .skipped.filesystem <<<"$scan")" -eq 1 ] || fail "the filesystem is not counted: $scan"
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
[ "$hwm" -lt 262144 ] || fail "sentineld peak memory $hwm KiB"
ok "max_listing_size 16K: $(jq -r .reason <<<"$scan"); sentineld peak memory $hwm KiB"
