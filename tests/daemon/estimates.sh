# Estimates: a guest's expected scan duration from its own last scans,
# one never scanned from its disk's allocation at the host's measured read
# rate plus a launch (or the host's median scan when the allocation says
# nothing); each scan keeps the estimate it started with, shown next to
# what it took; status shows the host's throughput; schedule says when the
# current round ends under the cap.
. "$TESTDIR/lib.sh"

guests a b c
# b's disk holds 2 MiB; a's and c's are sparse (nothing allocated).
head -c 2M /dev/urandom > "$WORK/b.img"
printf 'launch 0.2\nprogress 50\nsleep 1\n' | behave a
write_conf
sed -i 's/^max_concurrent_scans = 2$/max_concurrent_scans = 1/' "$CONF"
for g in a b c; do
	printf '[guest %s]\nexclude = yes\n' "$g" >> "$CONF"
done
daemon_start

ctl --json schedule
[ "$(jq -r '[.guests[] | .estimate_basis] | unique | join(",")' <<<"$OUT")" = default ] ||
	fail "before any scan the estimates are the default: $OUT"
ctl status
grep -q '^throughput:   not measured yet' <<<"$OUT" || fail "status before scans: $OUT"

ctl --json scan a --wait
expect_rc 0 "first scan of a"
first=$(jq '.scan.ended - .scan.started' <<<"$OUT")
ctl --json scan a --wait
expect_rc 0 "second scan of a"
[ "$(jq .scan.estimate_ms <<<"$OUT")" = "$first" ] ||
	fail "the second scan's estimate is not the first's duration ($first ms): $OUT"
second=$(jq '.scan.ended - .scan.started' <<<"$OUT")
ctl results a
grep -q "^time: .*; estimated $(awk -v m="$first" 'BEGIN { printf "%.1f", m / 1000 }') s)" <<<"$OUT" ||
	fail "results text: $OUT"
ok "a scan keeps its estimate ($first ms) beside what it took ($second ms)"

ctl --json status
tp=$(jq .throughput <<<"$OUT")
[ "$(jq .scans <<<"$tp")" = 2 ] || fail "throughput: $tp"
rate=$(jq .read_rate <<<"$tp")
launch=$(jq .launch_ms <<<"$tp")
[ "$launch" = 200 ] || fail "median launch: $tp"
# 50 files of 4096 bytes a scan, after a launch of 200 ms.
want=$(( 2 * 50 * 4096 * 1000 / (first + second - 400) ))
[ $((rate - want)) -le 1 ] && [ $((want - rate)) -le 1 ] || fail "read rate $rate, expected $want: $tp"
ctl status
grep -q "^throughput:   .*/s read once an appliance is up, launch 0s, scan [0-9]*s (medians of the last 2 scans)" <<<"$OUT" ||
	fail "status text: $OUT"
ok "throughput: $rate B/s, launch ${launch} ms, from 2 scans"

ctl --json schedule
est() { jq --arg g "$1" '.guests[] | select(.name == $g) | "\(.estimate_basis) \(.estimate_ms)"' -r <<<"$OUT"; }
[ "$(est a)" = "history $(( (first + second) / 2 ))" ] || fail "a: $(est a)"
alloc=$(( $(stat -c %b "$WORK/b.img") * 512 ))
want=$(( launch + alloc * 1000 / rate ))
read -r basis ms <<<"$(est b)"
[ "$basis" = allocation ] && [ $((ms - want)) -le 5 ] && [ $((want - ms)) -le 5 ] ||
	fail "b: $basis $ms, expected allocation $want"
[ "$(est c)" = "host $(( (first + second) / 2 ))" ] || fail "c: $(est c)"
ctl guests
grep -q "^a .* $(( (first + second + 1000) / 2000 ))s " <<<"$OUT" || fail "guests text: $OUT"
ok "estimates: a from its history, b from 2 MiB allocated ($ms ms), c from the host's median"

# The round: a runs (long this time), b and c wait behind it, cap 1.
echo 'sleep 30' | behave a
ctl scan a b c
expect_rc 0 "scan a b c"
for _ in $(seq 1 50); do
	[ "$(scans_of a)" = 3 ] && break
	sleep 0.1
done
t0=$(date +%s%3N)
ctl --json schedule
t1=$(date +%s%3N)
round=$(jq .round <<<"$OUT")
[ "$(jq -r '"\(.guests) \(.cap)"' <<<"$round")" = "3 1" ] || fail "round: $round"
eb=$(jq '.guests[] | select(.name == "b") | .estimate_ms' <<<"$OUT")
ec=$(jq '.guests[] | select(.name == "c") | .estimate_ms' <<<"$OUT")
ends=$(jq .ends <<<"$round")
# a is past its estimate: it is taken to end now; b and c follow.
[ "$ends" -ge $((t0 + eb + ec)) ] && [ "$ends" -le $((t1 + eb + ec + 2000)) ] ||
	fail "round ends $ends, expected about $((t0 + eb + ec)): $round"
ctl schedule
grep -q "^round: 3 guests running, queued or due within the interval; the last ends about " <<<"$OUT" ||
	fail "schedule text: $OUT"
ok "round: 3 guests on 1 slot, ending $(( (ends - t0) / 1000 )) s from now"
for g in a b c; do
	ctl cancel "$g"
done
daemon_serves "estimates"
