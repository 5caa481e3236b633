# An unchanged shut-off guest is not read again: when no file of its
# images' backing chains has changed (device, inode, size, times) since its
# last complete scan, with the same signatures and settings, that scan's
# result and detections are carried over and no appliance starts.  A
# change to any image of the chain, scan --full, or new signatures read it
# again.
. "$TESTDIR/lib.sh"

G_INFECTED=infected
guests "$G_INFECTED:qcow2"
for i in $(seq 1 46); do
	echo "detect /testfiles/clam$i.exe Clamav.Test.File-$i"
done | behave "$G_INFECTED"
write_conf
sed -i "s|^carry_unchanged = no|carry_unchanged = yes|" "$CONF"
daemon_start
sock=$SOCK
field() { jq -r ".$1" <<<"$scan"; }
scan() {	# GUEST [--full]: sets $scan and $secs
	local t0 t1
	t0=$(date +%s%N)
	ctl --socket "$sock" --json scan "$@" --wait
	t1=$(date +%s%N)
	expect_rc 1 "scan of $1"
	scan=$(jq .scan <<<"$OUT")
	secs=$(echo "scale=2; ($t1 - $t0) / 1000000000" | bc)
}

# The infected guest: a qcow2 overlay over a raw image (what a scan of it
# finds is the stand-in's).
scan "$G_INFECTED"
first=$(field id)
ndet=$(field detection_count)
[ "$ndet" -ge 46 ] || fail "first scan: $scan"
[ "$(field carried_from)" = null ] || fail "first scan carried: $scan"
jq -r '.detections[] | "\(.fs) \(.path) \(.signature)"' <<<"$scan" | sort > "$WORK/unch.first"
ok "first scan: $ndet detections, $(field bytes_read) bytes read in $secs s"

scan "$G_INFECTED"
[ "$(field carried_from)" = "$first" ] || fail "not carried over: $scan"
[ "$(field status)" = infected ] || fail "status: $scan"
[ "$(field detection_count)" -eq "$ndet" ] || fail "detections: $scan"
jq -r '.detections[] | "\(.fs) \(.path) \(.signature)"' <<<"$scan" | sort > "$WORK/unch.second"
diff -u "$WORK/unch.first" "$WORK/unch.second" || fail "carried detections differ"
[ "$(field bytes_read) $(field files) $(field launch_ms)" = "0 0 0" ] || fail "something was read: $scan"
field reason | grep -q "no image changed since scan $first: its result carried over, nothing read" ||
	fail "reason: $(field reason)"
ok "unchanged: carried over from scan $first, $ndet detections, nothing read, in $secs s"

# A carried result carries on.
scan "$G_INFECTED"
[ "$(field carried_from)" = "$first" ] || fail "third scan: $scan"
ok "carried again from scan $first"

scan "$G_INFECTED" --full
[ "$(field carried_from)" = null ] || fail "--full carried: $scan"
[ "$(field bytes_read)" -gt 0 ] || fail "--full read nothing: $scan"
full=$(field id)
ok "--full: read again ($(field bytes_read) bytes) in $secs s"

# The backing image's change time moves: read again.
touch "$WORK/infected.img"
scan "$G_INFECTED"
[ "$(field carried_from)" = null ] || fail "carried after the backing image changed: $scan"
[ "$(field bytes_read)" -gt 0 ] || fail "read nothing after a change: $scan"
scan "$G_INFECTED"
[ "$(field carried_from)" != null ] || fail "not carried once unchanged again: $scan"
ok "a change to the backing image: read again, then carried again"

# New signatures: read again.
echo "0123456789abcdef0123456789abcdef:1:Sentinel.Test.Unchanged" > "$WORK/db/extra.hdb"
ctl --socket "$sock" --json reload
expect_rc 0 "reload"
scan "$G_INFECTED"
[ "$(field carried_from)" = null ] || fail "carried over new signatures: $scan"
ok "new signatures: read again"
daemon_serves "unchanged guests"
