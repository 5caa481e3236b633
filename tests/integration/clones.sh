# Linked clones: once their base has been scanned as a guest, a clone's
# files that lie where the base's did, outside what the clone's overlay
# holds, are known from the base's scan and not read.  A file changed in
# place below the filesystem (same inode, size, times and blocks: only its
# bytes in the overlay differ) is read and detected.  A base whose image
# changed since its scan serves no clone: the clone is read in full.
. "$TESTDIR/lib.sh"

G_CBASE=$TESTNS-cbase
G_CA=$TESTNS-clone-a
G_CB=$TESTNS-clone-b
G_CC=$TESTNS-clone-c
cleanup() {
	kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	for g in $G_CBASE $G_CA $G_CB $G_CC; do sg_undefine "$g"; done
	rm -f "$WORK"/cbase.img "$WORK"/clone-[abc].qcow2
}
pid=
trap cleanup EXIT

cp "$WORK/clean.img" "$WORK/cbase.img"
for c in a b c; do
	qemu-img create -q -f qcow2 -b "$WORK/cbase.img" -F raw "$WORK/clone-$c.qcow2" ||
		fail "qemu-img create clone-$c"
done
# In clone b, EICAR (and the zeros the test signature wants after it)
# over the first bytes of a clean file, written to the disk under the
# filesystem: the file keeps its inode, size, times and blocks.
blk=$(debugfs -R "bmap /var/log/blob.bin 0" "$WORK/cbase.img" 2>/dev/null)
bsize=$(dumpe2fs -h "$WORK/cbase.img" 2>/dev/null | sed -n 's/^Block size: *//p')
[ -n "$blk" ] && [ -n "$bsize" ] || fail "where blob.bin lies in the image"
{ printf '%s' "$SG_EICAR"; head -c 16 /dev/zero; } > "$WORK/eicar-head"
qemu-io -f qcow2 -c "write -s $WORK/eicar-head $((blk * bsize)) 84" \
	"$WORK/clone-b.qcow2" >/dev/null || fail "qemu-io write into clone-b"
sg_define $G_CBASE "$WORK" "$WORK/cbase.img" raw || fail "define $G_CBASE"
sg_define $G_CA "$WORK" "$WORK/clone-a.qcow2" qcow2 || fail "define $G_CA"
sg_define $G_CB "$WORK" "$WORK/clone-b.qcow2" qcow2 || fail "define $G_CB"

private_daemon clones
rm -f "$WORK/clones.db"*
private_daemon_start
nall=$(find "$WORK/content/clean" -type f | wc -l)

scan() {	# GUEST EXPECTED_EXIT: sets $scan
	ctl --socket "$sock" --json scan "$1" --wait
	expect_rc "$2" "scan of $1"
	scan=$(jq .scan <<<"$OUT")
}
field() { jq -r ".$1" <<<"$scan"; }

scan "$G_CBASE" 0
[ "$(field files)" -eq "$nall" ] || fail "base: $(field files) of $nall files read: $scan"

# A clone as it was made: nothing of it is read.
scan "$G_CA" 0
grep -q "scan $G_CA: a linked clone of guest" "$log" || fail "clone a did not find its base: $(cat "$log")"
[ "$(field files)" -eq 0 ] && [ "$(field unchanged)" -eq "$nall" ] ||
	fail "clone a: $(field files) files read, $(field unchanged) of $nall known from its base: $scan; what the daemon said: $(grep "$G_CA\|$G_CBASE" "$log")"
ok "clone a: all $nall files known from its base's scan, none read"

scan "$G_CB" 1
grep -q "scan $G_CB: a linked clone of guest" "$log" || fail "clone b did not find its base: $(cat "$log")"
[ "$(jq '.detections | length' <<<"$scan")" -eq 1 ] &&
	[ "$(jq -r '.detections[0].path' <<<"$scan")" = /var/log/blob.bin ] &&
	[ "$(jq -r '.detections[0].signature' <<<"$scan")" = Sentinel.Test.EICAR.Head.UNOFFICIAL ] ||
	fail "clone b: the file changed under its filesystem not found: $scan"
nread=$(field files)
[ "$nread" -ge 1 ] && [ "$nread" -lt $((nall / 4)) ] ||
	fail "clone b: $nread of $nall files read, expected only those in its overlay: $scan; what the daemon said: $(grep "$G_CB\|$G_CBASE" "$log")"
[ $(( $(field files) + $(field unchanged) )) -eq "$nall" ] || fail "clone b: files + unchanged != $nall: $scan"
grep -q "scan $G_CB: .*files lie where the linked clone's base had them" "$log" ||
	fail "clone b: no line for the files taken from the base: $(cat "$log")"
ok "clone b: $nread of $nall files read (those in its overlay's clusters), the one changed under its filesystem detected"

# The base's image changes (its times): it serves no clone any more.
touch "$WORK/cbase.img"
sg_define $G_CC "$WORK" "$WORK/clone-c.qcow2" qcow2 || fail "define $G_CC"
scan "$G_CC" 0
grep -q "scan $G_CC: a linked clone of guest" "$log" && fail "clone c used a base whose image changed: $(cat "$log")"
[ "$(field files)" -eq "$nall" ] || fail "clone c: $(field files) of $nall files read: $scan"
ok "a base whose image changed since its scan serves no clone: all $nall files read"
