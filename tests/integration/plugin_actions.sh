# The libvirt-action plugin on real guests, three instances of it: a
# running infected guest gets a disk-only snapshot and is suspended; a
# shut-off infected guest is left alone (and that is said), and tagged in
# its libvirt metadata; every action is recorded with its scan.  The
# running guest has more detections than a plugin's queue holds, and a
# slow plugin is loaded too: the quarantine still happens, and the slow
# plugin still gets the end of the scan.
. "$TESTDIR/lib.sh"
: "${BUILDDIR:?}"

RUN=$TESTNS-running-infected
NS=http://sentinel.invalid/xmlns/infected/1
pdir=$WORK/action-plugins
rm -rf "$pdir" "$WORK/content/runinf"
mkdir -p "$pdir" "$WORK/content/runinf"
chmod 755 "$pdir"
cp "$BUILDDIR/plugins/libvirt-action.so" "$TESTPLUGINS/slow.so" "$pdir/"
chmod 644 "$pdir/libvirt-action.so" "$pdir/slow.so"
# A slow plugin: its first detection takes 3 s, so the others pile up past
# its queue; it writes down what it was given of the scan, at its end.
rm -f "$WORK/slow.finished"

# A guest that boots (the clean guest's init) and holds the samples, and
# 1100 more copies of EICAR: more detections than a plugin's queue holds.
sg_rootfs "$WORK/content/runinf"
sg_infect "$WORK/content/runinf"
mkdir -p "$WORK/content/runinf/many"
for i in $(seq 1 1100); do printf '%s' "$SG_EICAR" > "$WORK/content/runinf/many/e$i.com"; done
sg_image "$WORK/content/runinf" "$WORK/runinf.img" || fail "mkfs"
qemu-img create -q -f qcow2 -b "$WORK/runinf.img" -F raw "$WORK/runinf.qcow2" || fail "qemu-img"
sg_define $RUN "$WORK" "$WORK/runinf.qcow2" qcow2 || fail "define $RUN"
sg_virsh start $RUN >/dev/null || fail "start $RUN"

private_daemon actions
cat >> "$conf" <<EOT
[plugin quarantine]
path = $pdir/libvirt-action.so
guests = $RUN:suspend
snapshot = yes
[plugin slow]
path = $pdir/slow.so
file = $WORK/slow.finished
[plugin shutoff]
path = $pdir/libvirt-action.so
guests = $G_INFECTED:suspend
[plugin tagger]
path = $pdir/libvirt-action.so
guests = $G_INFECTED:tag
EOT
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; sg_undefine $RUN;
	sg_virsh metadata $G_INFECTED --uri $NS --remove --config >/dev/null 2>&1;
	rm -f "$WORK"/runinf.*' EXIT

# actions_of GUEST N: waits until its last scan has N actions recorded.
actions_of() {
	for _ in $(seq 1 300); do
		ctl --socket "$sock" --json results "$1"
		[ "$(jq '.scan.actions | length' <<<"$OUT")" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "$1: fewer than $2 actions: $OUT"
}

[ "$(sg_virsh domstate $RUN)" = running ] || fail "$RUN is not running"
ctl --socket "$sock" --json scan $RUN --wait
expect_rc 1 "scan of the running infected guest"
id=$(jq .scan.id <<<"$OUT")
actions_of $RUN 2
jq -e --arg id "$id" '[.scan.actions[] | select(.plugin == "quarantine") | .text] ==
	["disk-only snapshot sentinel-scan-\($id) taken", "guest suspended (\(.scan.detection_count) detections)"]' \
	<<<"$OUT" >/dev/null || fail "actions: $OUT"
[ "$(sg_virsh domstate $RUN)" = paused ] || fail "$RUN not suspended: $(sg_virsh domstate $RUN)"
sg_virsh snapshot-list $RUN --name | grep -qx "sentinel-scan-$id" || fail "no snapshot: $(sg_virsh snapshot-list $RUN)"
ok "running guest: snapshot sentinel-scan-$id, then suspended"

# Every reply is bounded: the daemon sends 1000 detections a page, and
# sentinelctl fetches the pages after the first.
[ "$(jq '.scan.detections | length' <<<"$OUT")" -eq "$(jq .scan.detection_count <<<"$OUT")" ] ||
	fail "sentinelctl did not fetch every page: $(jq '.scan.detections | length' <<<"$OUT") of $(jq .scan.detection_count <<<"$OUT")"
printf '{"hello":"sentinel","version":1}\n{"cmd":"results","guest":"%s","id":1}\n' "$RUN" |
	"$RAWCLIENT" "$sock" 2 | sed -n 2p > "$WORK/page1.json" || fail "raw results request"
[ "$(jq '"\(.scan.detections | length) \(.scan.detections_next | type)"' "$WORK/page1.json")" = '"1000 number"' ] ||
	fail "first page: $(jq -c '{n: (.scan.detections | length), next: .scan.detections_next}' "$WORK/page1.json")"
ok "$(jq .scan.detection_count <<<"$OUT") detections: 1000 in the daemon's first reply, all of them through sentinelctl"

# The slow plugin dropped detections, never the end of the scan.
[ "$(jq .scan.detection_count <<<"$OUT")" -gt 1100 ] || fail "fewer detections than the test needs: $OUT"
for _ in $(seq 1 1200); do
	[ -s "$WORK/slow.finished" ] && break
	sleep 0.1
done
n=$(jq .scan.detection_count <<<"$OUT")
read -r g st given total < "$WORK/slow.finished" ||
	fail "the slow plugin was not given the end of the scan: $(grep 'plugin slow' "$log")"
[ "$g $st $total" = "$RUN infected $n" ] || fail "the end the slow plugin was given: $g $st $given $total"
[ "$given" -lt "$n" ] || fail "no detection dropped ($given of $n): the test did not fill the queue"
wait_line 150 "$log" "plugin slow: [0-9]* events dropped: its queue of 1024 was full" ||
	fail "drops not logged: $(grep 'plugin slow' "$log")"
ok "$n detections, a slow plugin: given $given of them and the end of the scan ($st, $total)"

ctl --socket "$sock" --json scan "$G_INFECTED" --wait
expect_rc 1 "scan of the shut-off infected guest"
id=$(jq .scan.id <<<"$OUT")
actions_of "$G_INFECTED" 2
jq -e '[.scan.actions[] | select(.plugin == "shutoff") | .text] == ["suspend: left alone, the guest is not running"]' \
	<<<"$OUT" >/dev/null || fail "shut-off guest: $OUT"
jq -e '[.scan.actions[] | select(.plugin == "tagger") | .text] == ["tagged in the guest'"'"'s libvirt metadata ('"$NS"')"]' \
	<<<"$OUT" >/dev/null || fail "tag: $OUT"
[ "$(sg_virsh domstate "$G_INFECTED")" = "shut off" ] || fail "$G_INFECTED state changed"
sg_virsh metadata "$G_INFECTED" --uri $NS --config | grep -q "scan=.$id. detections=" ||
	fail "metadata: $(sg_virsh metadata "$G_INFECTED" --uri $NS --config)"
ctl --socket "$sock" results "$G_INFECTED"
grep -q "^actions: *2 (by plugins)" <<<"$OUT" || fail "results text: $OUT"
ok "shut-off guest: left alone and said so; tagged (scan $id)"
