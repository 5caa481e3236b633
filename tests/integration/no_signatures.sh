# With no signatures in the database directory sentineld refuses to start,
# naming the directory and freshclam.
. "$TESTDIR/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/emptydb"
cat > "$tmp/s.conf" <<EOT
[clamav]
database = $tmp/emptydb
tmpdir = $tmp/clamtmp
[control]
socket = $tmp/s.sock
[state]
path = $tmp/state.db
EOT
err=$(timeout 60 "$SENTINELD" -f -c "$tmp/s.conf" 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "sentineld started without signatures (exit $rc): $err"
grep -q "no signature databases in $tmp/emptydb (freshclam fills it" <<<"$err" || fail "message: $err"
[ ! -e "$tmp/s.sock" ] || fail "socket created"
ok "$err"

sed -i "s|$tmp/emptydb|$tmp/nonexistent|" "$tmp/s.conf"
err=$(timeout 60 "$SENTINELD" -f -c "$tmp/s.conf" 2>&1)
[ $? -eq 1 ] || fail "sentineld started with a missing database directory"
grep -q "signature directory $tmp/nonexistent: No such file or directory" <<<"$err" || fail "message: $err"
ok "$err"
