# Engine threads: a scan runs the threads sentineld grants it out of the
# host's [scan] cpu_threads, an even share of them among running scans,
# and finds exactly what clamscan finds whatever the threads (that they
# come in the guest's file order whatever the threads is test_pipeline's).
. "$TESTDIR/lib.sh"

private_daemon threads
sed -i 's/^\[scan\]$/[scan]\nengine_threads = 4\ncpu_threads = 2\nverdict_cache = 0\nfile_index = no/' "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT

# Alone, a scan gets the whole budget: 2 of its 4 threads.
ctl --socket "$sock" --json scan "$G_INFECTED" --wait
expect_rc 1 "scan of the infected guest"
scan=$(jq .scan <<<"$OUT")
grep -q "scan $G_INFECTED: 2 of 4 engine threads granted" "$log" ||
	fail "no grant of 2 threads logged: $(grep "engine threads" "$log")"
grep -q "scan $G_INFECTED: peak memory .*, 4 engine threads)" "$log" ||
	fail "the scan process did not run 4 engine threads: $(grep "peak memory" "$log")"
clamscan -r --no-summary --infected -d "$DB" "$WORK/content/infected" |
	sed -e "s|^$WORK/content/infected||" -e 's/: \(.*\) FOUND$/\t\1/' | sort > "$WORK/threads.expected"
jq -r '.detections[] | "\(.path)\t\(.signature)"' <<<"$scan" | sort > "$WORK/threads.got"
[ "$(wc -l < "$WORK/threads.expected")" -ge 46 ] || fail "clamscan reference: $(cat "$WORK/threads.expected")"
diff -u "$WORK/threads.expected" "$WORK/threads.got" || fail "detections with 2 engine threads differ from clamscan's"
ok "alone: 2 of 4 engine threads, $(wc -l < "$WORK/threads.got") detections identical to clamscan's"

# Two scans at once share the budget: one thread each while both run.
ctl --socket "$sock" scan "$G_CLEAN" "$G_CLONE" --wait
expect_rc 0 "scans of the clean guest and its clone"
grep -E -q "scan ($G_CLEAN|$G_CLONE): 1 of 4 engine threads granted" "$log" ||
	fail "two scans at once were not granted one thread each: $(grep "engine threads granted" "$log")"
ok "two at once: $(grep -c "engine threads granted" "$log") grants, one thread each while both ran"
