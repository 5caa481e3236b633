# resume: a guest too big for max_scan_time is covered over several
# attempts.  Each attempt is cut short, keeps what it read, and the next
# goes on from there; the attempt that completes has the same detections
# as one uninterrupted scan, and the attempts together read each file
# once.
. "$TESTDIR/lib.sh"

BIG=$TESTNS-big
rm -rf "$WORK/content/big"
# 10 MiB of distinct files in ten directories, EICAR in three of them.
for d in 0 1 2 3 4 5 6 7 8 9; do
	mkdir -p "$WORK/content/big/d$d"
	for f in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
		head -c 65536 /dev/urandom > "$WORK/content/big/d$d/f$f.bin"
	done
done
for d in 1 5 8; do
	printf '%s' "$SG_EICAR" > "$WORK/content/big/d$d/eicar$d.com"
done
sg_image "$WORK/content/big" "$WORK/big.img" || fail "mkfs big"
sg_undefine "$BIG"
sg_define "$BIG" "$WORK" "$WORK/big.img" raw || fail "define $BIG"

# detections SCAN: its detections, one "path signature" a line, sorted.
detections() {
	jq -r '.detections[] | "\(.path) \(.signature)"' <<<"$1" | sort
}

# One scan without a limit: what the attempts must add up to.
private_daemon whole
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; sg_undefine $BIG' EXIT
ctl --socket "$sock" --json scan "$BIG" --wait
expect_rc 1 "the uninterrupted scan"
whole=$(jq .scan <<<"$OUT")
whole_files=$(jq .files <<<"$whole")
whole_det=$(detections "$whole")
[ "$(wc -l <<<"$whole_det")" = 3 ] || fail "the uninterrupted scan found: $whole_det"
ok "uninterrupted: $whole_files files, 3 detections, $(jq .launch_ms <<<"$whole") ms launch"
kill -TERM "$pid"; wait "$pid"

# The same guest read slowly, each scan cut 25 s after the launch
# measured above (9 s here, up to 25 s with the sanitizers and another
# tier beside it).  The read rate is set from the cut, not from the
# launch: at most 1/2.2 of what the uninterrupted scan read fits in one
# attempt even if an attempt's appliance came up at once, so the guest
# needs at least 3 attempts however fast or slow this machine's launches
# are today.
cut=$(( ($(jq .launch_ms <<<"$whole") + 999) / 1000 + 25 ))
rate=$(( $(jq .bytes_read <<<"$whole") * 10 / (22 * cut) ))
private_daemon cut
printf '[scan]\nread_rate = %d\n[schedule]\nmax_scan_time = %ds\n' "$rate" "$cut" >> "$conf"
echo "each attempt cut at $cut s, read at $rate bytes/s"
private_daemon_start
sum_files=0
sum_bytes=0
n=0
while :; do
	n=$((n + 1))
	[ "$n" -le 12 ] || fail "not complete after 12 attempts"
	ctl --socket "$sock" --json scan "$BIG" --wait
	scan=$(jq .scan <<<"$OUT")
	read -r status attempt resumable files unchanged bytes <<<"$(jq -r \
		'"\(.status) \(.attempt) \(.resumable) \(.files) \(.unchanged) \(.bytes_read)"' <<<"$scan")"
	echo "attempt $n: $status, attempt $attempt, resumable $resumable, $files files read, $unchanged known, $bytes bytes: $(jq -r .reason <<<"$scan")"
	[ "$attempt" = "$n" ] || fail "scan $n says attempt $attempt"
	sum_files=$((sum_files + files))
	sum_bytes=$((sum_bytes + bytes))
	[ "$resumable" = true ] || break
	jq -r .reason <<<"$scan" | grep -q "ran past max_scan_time ($cut s); cut short after $files files: the next scan goes on from here (this was attempt $n)" ||
		fail "cut scan's reason: $scan"
	[ "$files" -gt 0 ] || echo "(attempt $n read nothing: its appliance took most of the time)"
done
[ "$n" -ge 3 ] || fail "completed in $n attempts: the guest was meant to need at least 3"
[ "$status" = infected ] || fail "the last attempt: $scan"
jq -r .reason <<<"$scan" | grep -q "resumed: completed over $n attempts" || fail "reason: $scan"
[ "$(jq .complete <<<"$scan")" = true ] || fail "not complete: $scan"
[ "$(detections "$scan")" = "$whole_det" ] ||
	fail "detections differ from the uninterrupted scan's: $(detections "$scan")"
ok "completed in $n attempts with the same 3 detections"
[ "$sum_files" = "$whole_files" ] ||
	fail "the attempts read $sum_files files, the uninterrupted scan $whole_files"
[ "$unchanged" -gt 0 ] || fail "the last attempt knew no file from the ones before"
ok "each file read once: $sum_files files over $n attempts ($sum_bytes bytes off the stream, the uninterrupted scan $(jq .bytes_read <<<"$whole"))"
grep -q "scan $BIG: started (on-demand, 1 disk), going on from the last scan, cut short" "$log" ||
	fail "a resumed start is not logged: $(grep "scan $BIG" "$log")"

# The index now knows every file, the infected ones with what named them:
# a rescan reads nothing and reports the same detections.
ctl --socket "$sock" --json scan "$BIG" --wait
expect_rc 1 "a rescan"
[ "$(jq .scan.files <<<"$OUT")" = 0 ] && [ "$(jq .scan.attempt <<<"$OUT")" = 1 ] &&
	[ "$(detections "$(jq .scan <<<"$OUT")")" = "$whole_det" ] ||
	fail "an unchanged guest rescanned: $(jq .scan <<<"$OUT")"
ok "a rescan after the completed one is attempt 1, reads nothing, finds the same 3"
daemon_serves "resumed scans"
