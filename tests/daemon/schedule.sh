# Four guests come due at once with max_concurrent_scans = 2: the daemon
# never runs more than two scan processes (each boots one appliance: the
# processes and its own state agree), queued guests say the cap holds
# them, and all four are scanned on schedule.
. "$TESTDIR/lib.sh"

G_INFECTED=infected G_CLEAN=clean G_NOFS=nofs G_CLONE=clone
G_ALL="$G_INFECTED $G_CLEAN $G_NOFS $G_CLONE layout hostile"
# shellcheck disable=SC2086
guests $G_ALL
printf 'sleep 2\ndetect /eicar.com Eicar-Test-Signature\n' | behave "$G_INFECTED"
echo 'sleep 2' | behave "$G_CLEAN"
printf 'sleep 2\nfail no filesystem could be mounted\n' | behave "$G_NOFS"
echo 'sleep 2' | behave "$G_CLONE"
# Still running or queued when scan --all is checked.
echo 'sleep 2' | behave layout
echo 'sleep 2' | behave hostile
write_conf
printf '[schedule]\njitter = 0\n[guest layout]\nexclude = yes\n[guest hostile]\nexclude = yes\n' >> "$CONF"
daemon_start
sock=$SOCK

max_qemu=0
max_running=0
saw_cap=0
done_=0
for _ in $(seq 1 1500); do
	n=$(scan_processes | wc -l)
	[ "$n" -le "$max_qemu" ] || max_qemu=$n
	ctl --socket "$sock" --json schedule
	[ "$RC" -eq 0 ] || fail "schedule: $ERR"
	r=$(jq '[.guests[] | select(.state == "running")] | length' <<<"$OUT")
	[ "$r" -le "$max_running" ] || max_running=$r
	jq -e '.guests[] | select(.state == "cap")' <<<"$OUT" >/dev/null && saw_cap=1
	done_=$(jq '[.guests[] | select(.last_scan != null and .last_scan.trigger == "schedule"
		and .last_scan.status != "running" and .last_scan.status != "queued")] | length' <<<"$OUT")
	[ "$done_" -lt 4 ] || break
	sleep 0.2
done
echo "peak: $max_qemu scan processes, $max_running running scans; $done_ guests scanned"
[ "$done_" -eq 4 ] || fail "only $done_ of 4 guests scanned on schedule: $OUT"
[ "$max_qemu" -le 2 ] || fail "$max_qemu scan processes at once, cap 2"
[ "$max_running" -le 2 ] || fail "$max_running scans at once, cap 2"
[ "$max_running" -eq 2 ] || fail "never two scans at once: the cap was not used"
[ "$saw_cap" -eq 1 ] || fail "no guest was ever shown waiting for the cap"
[ "$(jq '[.guests[] | select(.last_scan.status == "clean" or .last_scan.status == "infected")] | length' <<<"$OUT")" -eq 3 ] ||
	fail "three guests should have scanned completely: $OUT"
ok "four guests scanned, never more than two at once"

# Next due: a day after each complete scan; the failed one retries sooner.
ctl --socket "$sock" --json schedule
jq -e --arg g "$G_CLEAN" '.guests[] | select(.name == $g) |
	.state == "idle" and (.next_due - .last_scan.ended) == 86400000' <<<"$OUT" >/dev/null ||
	fail "next due of $G_CLEAN: $OUT"
jq -e --arg g "$G_NOFS" '.guests[] | select(.name == $g) |
	.failures == 1 and (.next_due - .last_scan.ended) == 300000' <<<"$OUT" >/dev/null ||
	fail "retry of $G_NOFS: $OUT"
ctl --socket "$sock" schedule
grep -q "^$G_CLEAN .*idle .*clean" <<<"$OUT" || fail "schedule text: $OUT"
ok "next due after interval, failed guest retried after retry_min"

# A restart does not scan them again.
daemon_stop
daemon_start
sleep 3
ctl --socket "$sock" --json schedule
[ "$(jq '[.guests[] | select(.state != "idle" and .state != "excluded")] | length' <<<"$OUT")" -eq 0 ] ||
	fail "guests queued again after a restart: $OUT"
ok "restart: nothing rescanned"

# scan --all queues every guest on demand, excluded ones too.
nguests=$(wc -w <<<"$G_ALL")
ctl --socket "$sock" --json scan --all
expect_rc 0 "scan --all"
[ "$(jq '[.scans[] | select(.request == "queued" and .state != null)] | length' <<<"$OUT")" -eq "$nguests" ] ||
	fail "scan --all: $OUT"
ctl --socket "$sock" --json status
[ "$(jq '.scans.running + .scans.queued' <<<"$OUT")" -eq "$nguests" ] || fail "status after scan --all: $OUT"
[ "$(jq '.scans.running' <<<"$OUT")" -le 2 ] || fail "over the cap after scan --all: $OUT"
ok "scan --all queued all $nguests under the cap"
