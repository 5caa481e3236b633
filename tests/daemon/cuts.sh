# Scans cut short to be resumed: by max_scan_time, by `cancel --resume`
# and by sentineld stopping, each is signalled as a cut (SIGUSR2: scan what
# was read, keep it), recorded resumable, and the guest's next scan is its
# next attempt, until one completes and says over how many.  A plain
# cancel is not a cut.  A cut scan with detections is infected and still
# resumable.
. "$TESTDIR/lib.sh"

guests a b c
printf 'progress 5\nsleep 120\n' | behave a
printf 'progress 2\nsleep 120\n' | behave b
printf 'detect /x.com Eicar-Test-Signature\nsleep 120\n' | behave c
write_conf
printf '[schedule]\nmax_scan_time = 2s\n' >> "$CONF"
daemon_start

# last GUEST: its newest scan, as "status attempt resumable reason".
last() {
	ctl --json results "$1"
	jq -r '.scan | "\(.status) \(.attempt) \(.resumable) \(.reason)"' <<<"$OUT"
}
cuts_of() {
	grep -c "^$1 [0-9]* cut$" "$STANDIN_DIR/scans.log"
}
# running GUEST N: waits until the stand-in runs the N-th scan of GUEST
# (its signal handlers are in place then).
running() {
	for _ in $(seq 1 100); do
		[ "$(scans_of "$1")" = "$2" ] && sleep 0.3 && return 0
		sleep 0.1
	done
	fail "no scan $2 of $1"
}

for n in 1 2; do
	ctl scan a --wait
	expect_rc 2 "scan of a past max_scan_time, attempt $n"
	[ "$(last a)" = "incomplete $n true cancelled: ran past max_scan_time (2 s); cut short after 5 files: the next scan goes on from here (this was attempt $n)" ] ||
		fail "attempt $n: $(last a)"
done
[ "$(cuts_of a)" = 2 ] || fail "the scanner was not told to cut: $(cat "$STANDIN_DIR/scans.log")"
grep -q "scan a: started (on-demand, 1 disk), going on from the last scan, cut short" "$LOG" ||
	fail "the second attempt's start: $(grep 'scan a' "$LOG")"
ok "two scans of a cut by max_scan_time, each a resumable attempt"
printf 'progress 3\n' | behave a
ctl scan a --wait
expect_rc 0 "the third attempt"
[ "$(last a)" = "clean 3 false resumed: completed over 3 attempts" ] || fail "third attempt: $(last a)"
ctl scan a --wait
[ "$(last a)" = "clean 1 false null" ] || fail "the scan after a completed one: $(last a)"
ok "the third completes over 3 attempts; the next is a first again"

ctl scan c --wait
expect_rc 1 "a cut scan that found something"
[ "$(last c)" = "infected 1 true cancelled: ran past max_scan_time (2 s); cut short after 3 files: the next scan goes on from here (this was attempt 1)" ] ||
	fail "cut with a detection: $(last c)"
ctl --json schedule
jq -e '.guests[] | select(.name == "c") | .failures == 1' <<<"$OUT" >/dev/null ||
	fail "a cut infected scan counted as complete: $(jq '.guests[] | select(.name == "c")' <<<"$OUT")"
ok "a cut scan with a detection: infected, resumable, not a complete round"

# Without max_scan_time: cancels.
daemon_stop
sed -i '/^max_scan_time/d' "$CONF"
daemon_start
ctl scan b
running b 1
ctl cancel b
expect_rc 0 "cancel b"
for _ in $(seq 1 100); do
	[ "$(last b | cut -d' ' -f1)" = incomplete ] && break
	sleep 0.1
done
[ "$(last b)" = "incomplete 1 false cancelled by request" ] || fail "plain cancel: $(last b)"
[ "$(cuts_of b)" = 0 ] || fail "a plain cancel was a cut"
ok "a plain cancel is not a cut"
ctl scan b
running b 2
ctl cancel --resume b
expect_rc 0 "cancel --resume b"
for _ in $(seq 1 100); do
	[ "$(last b | cut -d' ' -f1)" = incomplete ] && break
	sleep 0.1
done
[ "$(last b)" = "incomplete 1 true cancelled by request, to be resumed; cut short after 3 files: the next scan goes on from here (this was attempt 1)" ] ||
	fail "cancel --resume: $(last b)"
[ "$(cuts_of b)" = 1 ] || fail "cancel --resume was not a cut"
ok "cancel --resume cuts the scan short"

# sentineld stopping cuts what runs; after the restart the scan goes on.
ctl scan b
running b 3
daemon_stop
[ "$(cuts_of b)" = 2 ] || fail "stopping did not cut the scan: $(cat "$STANDIN_DIR/scans.log")"
daemon_start
[ "$(last b)" = "incomplete 2 true cancelled: sentineld stopping; cut short after 3 files: the next scan goes on from here (this was attempt 2)" ] ||
	fail "cut by the stop: $(last b)"
printf '' | behave b
ctl scan b --wait
[ "$(last b)" = "clean 3 false resumed: completed over 3 attempts" ] || fail "after the restart: $(last b)"
ok "a scan cut by a stop goes on after the restart"
daemon_serves "cut scans"
