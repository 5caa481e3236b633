# Point-in-time views of a running guest through libvirt backup jobs.  The
# guest writes a file every second the whole time.  A scan reads it as it
# was when the job began: the job is visible while the scan runs and gone
# after, no scratch file is left, the guest runs on with the same disks,
# and no file written after the view shows in the result.  A job sentineld
# did not start makes the scan live, and it says so; the guest agent
# freezes the filesystems for the instant the job begins; a job a killed
# sentineld left is ended at its next start; scratch space past
# max_scratch stops the scan; an agent that never answers a freeze holds
# neither the scan nor its slot.
. "$TESTDIR/lib.sh"

T=$WORK/ticker
console=$WORK/$G_TICKER.console
ticks=$WORK/ticker.times
watcher=
pid=
cleanup() {
	[ -z "$watcher" ] || kill "$watcher" 2>/dev/null
	[ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	sg_undefine $G_TICKER
	rm -rf "$T"
}
trap cleanup EXIT

# The guest: a qcow2 overlay on a raw image, with a QEMU guest agent.
sg_undefine $G_TICKER
rm -rf "$T" "$console"
mkdir -p "$T/root"
sg_ticker_rootfs "$T/root"
sg_agent "$T/root" || fail "no guest agent for $G_TICKER"
sg_image "$T/root" "$T/base.img" 128M || fail "mkfs ticker"
qemu-img create -q -f qcow2 -b "$T/base.img" -F raw "$T/ticker.qcow2" || fail "qemu-img"
sg_define $G_TICKER "$WORK" "$T/ticker.qcow2" qcow2 \
	"<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" ||
	fail "define $G_TICKER"
sg_virsh start $G_TICKER >/dev/null || fail "start $G_TICKER"
uuid=$(sg_virsh domuuid $G_TICKER)
wait_line 1800 "$console" 'tick 3' || fail "$G_TICKER does not write: $(tail -c 600 "$console")"
for _ in $(seq 1 300); do
	sg_virsh dumpxml $G_TICKER | grep -q "name='org.qemu.guest_agent.0' state='connected'" && break
	sleep 0.1
done
sg_virsh dumpxml $G_TICKER | grep -q "name='org.qemu.guest_agent.0' state='connected'" ||
	fail "the guest agent did not connect: $(tail -c 600 "$console")"

# When each tick was first seen on the console, in host milliseconds: the
# guest prints "tick N" after writing /ticks/tN and syncing, so file N was
# on its disk by then, and was not there before tick N-1 was printed.
: > "$ticks"
(
	seen=0
	while :; do
		n=$(grep -ao 'tick [0-9]*' "$console" | tail -n 1 | cut -d' ' -f2)
		if [ -n "$n" ] && [ "$n" -gt "$seen" ]; then
			t=$(date +%s%3N)
			for k in $(seq $((seen + 1)) "$n"); do
				echo "$k $t"
			done >> "$ticks"
			seen=$n
		fi
		sleep 0.2
	done
) &
watcher=$!
# Some ticks well before the view.
wait_line 300 "$console" 'tick 8' || fail "$G_TICKER stopped writing"

private_daemon view
scratch=$WORK/view-scratch
private_daemon_start
export SENTINEL_SOCKET=$sock
[ "$(stat -c %U "$scratch")" = libvirt-qemu ] || fail "scratch_dir is not qemu's: $(stat -c '%U %a' "$scratch")"

scratch_files() { find "$scratch" -mindepth 1 | sort; }
# until_backup PID: polls until the guest has a backup job (0) or PID ends.
until_backup() {
	for _ in $(seq 1 1200); do
		[ "$(job_op $G_TICKER)" = Backup ] && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

blk_before=$(sg_virsh domblklist --details $G_TICKER)
[ -z "$(job_op $G_TICKER)" ] || fail "a job on $G_TICKER before the scan: $(job_op $G_TICKER)"

# 1. The point-in-time scan.
"$SENTINELCTL" --json scan $G_TICKER --wait >"$WORK/view1.json" 2>"$WORK/view1.err" &
sp=$!
until_backup $sp || fail "no backup job on the guest during the scan: $(cat "$WORK/view1.err")"
during=$(scratch_files)
grep -q "^$scratch/$uuid-vda.qcow2\$" <<<"$during" || fail "no scratch file during the scan: $during"
grep -q "^$scratch/$uuid.sock\$" <<<"$during" || fail "no NBD socket during the scan: $during"
wait $sp
RC=$? ERR=$(cat "$WORK/view1.err")
expect_rc 1 "point-in-time scan of $G_TICKER"
scan=$(jq .scan "$WORK/view1.json")
[ "$(jq -r .view <<<"$scan")" = backup ] || fail "view: $scan"
# Frozen by the agent for the instant the job began, and thawed: the
# guest wrote on (checked below).
[ "$(jq -r .view_consistency <<<"$scan")" = application-consistent ] || fail "consistency: $scan"
[ "$(jq -r .view_note <<<"$scan")" = null ] || fail "view note: $(jq .view_note <<<"$scan")"
[ -z "$(job_op $G_TICKER)" ] || fail "a job left on $G_TICKER after the scan: $(job_op $G_TICKER)"
[ -z "$(scratch_files)" ] || fail "left in scratch_dir: $(scratch_files)"
[ "$(sg_virsh domstate $G_TICKER)" = running ] || fail "$G_TICKER stopped"
[ "$(sg_virsh domblklist --details $G_TICKER)" = "$blk_before" ] ||
	fail "disks changed: $(sg_virsh domblklist --details $G_TICKER)"
view_at=$(jq .view_at <<<"$scan")
ended=$(jq .ended <<<"$scan")
jq -r '.detections[].path' <<<"$scan" | sed -n 's|^/ticks/t||p' | sort -n > "$WORK/view1.found"
[ -s "$WORK/view1.found" ] || fail "no tick file found: $scan"
grep -q '^/eicar.src$' <(jq -r '.detections[].path' <<<"$scan") || fail "eicar.src not found: $scan"
# Every tick file found was on the disk within a second of the view (its
# predecessor was printed no later); every one printed a second before the
# view is found; and the guest wrote at least five more while the scan ran,
# none of which is found.
awk -v at="$view_at" -v end="$ended" '
	FNR == NR { found[$1] = 1; next }
	{ seen[$1] = $2; n = $1 }
	END {
		for (k = 1; k <= n; k++) {
			if ((k in found) && k > 1 && seen[k - 1] > at + 1000) {
				print "tick " k " written after the view was found"; bad = 1
			}
			if (!(k in found) && seen[k] < at - 1000) {
				print "tick " k " written before the view is missing"; bad = 1
			}
			if (k > 1 && seen[k - 1] > at + 1000 && seen[k] < end)
				after++
		}
		if (after < 5) {
			print "only " after + 0 " ticks written during the scan"; bad = 1
		}
		exit bad
	}' "$WORK/view1.found" "$ticks" > "$WORK/view1.check" ||
	fail "$(cat "$WORK/view1.check"); view at $view_at, found $(tr '\n' ' ' < "$WORK/view1.found")"
ok "point-in-time: ticks $(head -n 1 "$WORK/view1.found")..$(tail -n 1 "$WORK/view1.found") found, none written after the view; job ended, nothing left"
ctl results $G_TICKER
grep -q '^view: *point in time .* (backup job), application-consistent; taken in [0-9.]* s, ended in [0-9.]* s$' <<<"$OUT" ||
	fail "results do not show the view: $OUT"
grep -q "point-in-time view taken in [0-9]* ms" "$log" || fail "no view line in the log"
grep -q "point-in-time view ended in [0-9]* ms" "$log" || fail "no view end line in the log"

# 2. A backup job sentineld did not start: the scan is live, and says so;
# the job is left alone.
f=$WORK/foreign
mkdir -p "$f"
chown libvirt-qemu "$f"
cat > "$WORK/foreign.xml" <<EOT
<domainbackup mode='pull'>
  <server transport='unix' socket='$f/f.sock'/>
  <disks><disk name='vda' backup='yes' type='file'><scratch file='$f/f.qcow2'/></disk></disks>
</domainbackup>
EOT
sg_virsh backup-begin $G_TICKER "$WORK/foreign.xml" >/dev/null || fail "backup-begin"
ctl --json scan $G_TICKER --wait
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .view <<<"$scan")" = live ] || fail "view with a foreign job: $scan"
[ "$(jq -r .view_note <<<"$scan")" = "a backup job is already running on the guest" ] ||
	fail "view note: $(jq .view_note <<<"$scan")"
grep -q '^/eicar.src$' <(jq -r '.detections[].path' <<<"$scan") || fail "live scan found nothing: $scan"
[ "$(job_op $G_TICKER)" = Backup ] && sg_virsh backup-dumpxml $G_TICKER | grep -q "$f/f.sock" ||
	fail "the foreign job did not survive the scan"
ctl history $G_TICKER --limit 1
grep -q "^[0-9]*  *$G_TICKER  *on-demand .* infected  *[0-9]*  *[0-9]*  *live  " <<<"$OUT" ||
	fail "history does not show the live view: $OUT"
ctl results $G_TICKER
grep -q '^view: *live, not point-in-time: a backup job is already running on the guest$' <<<"$OUT" ||
	fail "results do not say live: $OUT"
grep -q "live, not point-in-time: a backup job is already running" "$log" || fail "no live line in the log"
sg_virsh domjobabort $G_TICKER >/dev/null || fail "domjobabort"
rm -rf "$f"
ok "a foreign backup job: live scan, said, job left alone"

# 3. sentineld killed mid-scan leaves its job; the next start ends it.
"$SENTINELCTL" scan $G_TICKER >/dev/null || fail "scan request"
until_backup "$pid" || fail "no backup job before the kill"
apps=$(appliances "$pid")
kill -KILL "$pid"
wait "$pid" 2>/dev/null
# Its appliance would read on; the job must outlive both to be an orphan.
[ -z "$apps" ] || kill -KILL $apps 2>/dev/null
[ "$(job_op $G_TICKER)" = Backup ] || fail "no job left by the killed daemon"
[ -n "$(scratch_files)" ] || fail "no scratch file left by the killed daemon"
private_daemon_start
wait_line 600 "$log" "ended the backup job a scan that did not end left on $G_TICKER ($scratch/$uuid.sock)" ||
	fail "orphaned job not ended: $(tail -n 20 "$log")"
[ -z "$(job_op $G_TICKER)" ] || fail "orphaned job still there: $(job_op $G_TICKER)"
[ -z "$(scratch_files)" ] || fail "stale scratch files still there: $(scratch_files)"
grep -q "removed $scratch/$uuid-vda.qcow2, left by a scan that did not end" "$log" ||
	fail "stale scratch file removal not logged"
ok "orphaned backup job ended and its files removed at the next start"

# 4. Scratch space past max_scratch: the scan stops, incomplete, the job
# ends.  The guest writes over 256 KiB a second; 1 MiB is soon passed.
sed -i 's/^\[view\]$/[view]\nmax_scratch = 1M/' "$conf"
lines=$(wc -l < "$log")
kill -HUP "$pid"
wait_line 100 "$log" "reload: configuration" "$lines" || fail "no reload"
ctl --json scan $G_TICKER --wait
scan=$(jq .scan <<<"$OUT")
[ "$(jq -r .status <<<"$scan")" = incomplete ] || fail "status past max_scratch: $scan"
jq -r .reason <<<"$scan" | grep -q "scratch files passed max_scratch (1048576 bytes)" ||
	fail "reason: $(jq .reason <<<"$scan")"
[ -z "$(job_op $G_TICKER)" ] || fail "job left after max_scratch: $(job_op $G_TICKER)"
[ -z "$(scratch_files)" ] || fail "left in scratch_dir after max_scratch: $(scratch_files)"
[ "$(sg_virsh domstate $G_TICKER)" = running ] || fail "$G_TICKER stopped"
ok "max_scratch: scan stopped, incomplete, job ended"

# 5. An agent that answers guest-sync but never a freeze (its freeze hook
# hangs while /hang-freeze exists): the freeze gives up after
# agent_timeout, a cancel ends the scan within 10 s, and the one slot is
# free for the next guest.
sed -i 's/^max_scratch = 1M$//; s/^\[view\]$/[view]\nagent_timeout = 3s/' "$conf"
sed -i 's/^max_concurrent_scans = .*/max_concurrent_scans = 1/' "$conf"
lines=$(wc -l < "$log")
kill -HUP "$pid"
wait_line 100 "$log" "reload: configuration" "$lines" || fail "no reload"
h=$(sg_virsh qemu-agent-command $G_TICKER \
    '{"execute":"guest-file-open","arguments":{"path":"/hang-freeze","mode":"w"}}' | jq .return) ||
	fail "guest-file-open through the agent"
sg_virsh qemu-agent-command $G_TICKER "{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":$h}}" >/dev/null
lines=$(wc -l < "$log")
"$SENTINELCTL" --json scan $G_TICKER --wait > "$WORK/stuck.json" &
scanner=$!
wait_line 300 "$log" "scan $G_TICKER: started" "$lines" || fail "the scan did not start"
sleep 1
t0=$(date +%s%3N)
ctl cancel $G_TICKER
[ "$RC" = 0 ] || fail "cancel: exit status $RC ($ERR); the log since: $(tail -n +"$((lines + 1))" "$log")"
for _ in $(seq 1 150); do
	kill -0 $scanner 2>/dev/null || break
	sleep 0.1
done
kill -0 $scanner 2>/dev/null && fail "the scan did not end within 15 s of the cancel: $(tail -n +"$lines" "$log")"
wait $scanner
t1=$(date +%s%3N)
echo "cancel to the end of the scan: $((t1 - t0)) ms"
[ $((t1 - t0)) -le 10000 ] || fail "cancel took $((t1 - t0)) ms: $(tail -n +"$lines" "$log")"
[ "$(jq -r .scan.status "$WORK/stuck.json")" = incomplete ] || fail "status: $(cat "$WORK/stuck.json")"
jq -r .scan.view_note "$WORK/stuck.json" | grep -q "guest agent" ||
	fail "the freeze did not wait on the agent: $(jq -c .scan "$WORK/stuck.json")"
[ -z "$(job_op $G_TICKER)" ] || fail "job left after the cancel: $(job_op $G_TICKER)"
ctl --json scan "$G_INFECTED" --wait
expect_rc 1 "the next guest's scan"
[ "$(jq -r .scan.status <<<"$OUT")" = infected ] || fail "next scan: $OUT"
ok "an agent that never answers a freeze: cancelled in $((t1 - t0)) ms, the next guest scanned"
daemon_serves "the view tests"
