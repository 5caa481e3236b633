# The infected guest (shut off, qcow2 overlay): sentinel reports exactly the
# paths and signature names clamscan reports for the same files on the host.
. "$TESTDIR/lib.sh"

ctl --json scan "$G_INFECTED" --wait
expect_rc 1 "scan of the infected guest"
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = infected ] || fail "status: $scan"
# The whole filesystem was read: no failure hides behind the detections.
[ "$(jq -r '"\(.fs_scanned) \(.fs_failed) \(.reason)"' <<<"$scan")" = "1 0 null" ] ||
	fail "filesystems scanned/failed/reason: $scan"
echo "scan took $(jq '(.ended - .started) / 1000' <<<"$scan") s, appliance launch $(jq '.launch_ms / 1000' <<<"$scan") s"

clamscan -r --no-summary --infected -d "$DB" "$WORK/content/infected" > "$WORK/clamscan.out"
[ $? -eq 1 ] || fail "clamscan found nothing: the reference is broken"
sed -e "s|^$WORK/content/infected||" -e 's/: \(.*\) FOUND$/\t\1/' "$WORK/clamscan.out" |
	sort > "$WORK/expected"
jq -r '.detections[] | "\(.path)\t\(.signature)"' <<<"$scan" | sort > "$WORK/got"
nexp=$(wc -l < "$WORK/expected")
[ "$nexp" -ge 46 ] || fail "clamscan reference has only $nexp detections"
diff -u "$WORK/expected" "$WORK/got" || fail "detections differ from clamscan's"
ok "$nexp detections, identical to clamscan's paths and signatures"

# Every regular file was scanned.
nfiles=$(find "$WORK/content/infected" -type f | wc -l)
[ "$(jq -r .files <<<"$scan")" -eq "$nfiles" ] || fail "files $(jq .files <<<"$scan") != $nfiles"

# The stored result reads back the same, in text too.
ctl results "$G_INFECTED"
expect_rc 1 "results of the infected guest"
grep -q "^status: *infected" <<<"$OUT" || fail "results text: $OUT"
grep -q "/root/eicar.com.*Sentinel.Test.EICAR" <<<"$OUT" || fail "results text: $OUT"
ok "results stored"
