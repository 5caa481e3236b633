# One deep directory does not hide a filesystem: a guest tree of 1 500
# nested directories with 250-byte names (a path of 375 000 bytes, a few
# MB of disk) beside EICAR in a plain directory.  find0 cannot list such
# a tree; the listing goes directory by directory, skips the part past the
# longest path the appliance can name (counted, with the reason), and
# scans everything else: the detection is reported.
. "$TESTDIR/lib.sh"

G=sentinel-test-deep
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
