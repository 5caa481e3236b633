# sentineld -n: prints the effective settings and exits 0, or names the
# file and line of the first error and exits 1.
. "$TESTDIR/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '[libvirt]\nuri = test:///default\n[scan]\nmax_file_size = 25M\n' > "$tmp/good.conf"
out=$("$SENTINELD" -n -c "$tmp/good.conf") || fail "good config rejected"
grep -q '^uri = test:///default$' <<<"$out" || fail "uri not printed: $out"
grep -q '^max_file_size = 26214400$' <<<"$out" || fail "size not printed: $out"
grep -q '^\[guestfs\]$' <<<"$out" || fail "defaults not printed: $out"
ok "good config printed"

check_bad() {
	printf "$1" > "$tmp/bad.conf"
	err=$("$SENTINELD" -n -c "$tmp/bad.conf" 2>&1 >/dev/null)
	rc=$?
	[ $rc -eq 1 ] || fail "bad config: exit $rc"
	[ "$err" = "$tmp/bad.conf:$2" ] || fail "bad config: got '$err', expected '$tmp/bad.conf:$2'"
}
check_bad '[libvirt]\nuri = x\n[scan]\nmax_concurrent_scans = 100\n' \
	'4: max_concurrent_scans: "100" is not an integer from 0 to 64'
check_bad '[control]\nsockt = /x\n' '2: unknown option "sockt" in section [control]'
check_bad '[clamv]\n' '1: unknown section [clamv]'
check_bad '\n\n[libvirt\n' '3: syntax error (expected "[section]" or "name = value")'
ok "errors name file and line"

err=$("$SENTINELD" -n -c "$tmp/missing.conf" 2>&1)
[ $? -eq 1 ] || fail "missing config accepted"
grep -q "missing.conf: No such file or directory" <<<"$err" || fail "missing config: $err"
ok "a missing -c file is an error"
