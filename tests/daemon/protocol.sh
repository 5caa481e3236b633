# Malformed, unknown and oversized requests get error replies on the same
# connection, which stays usable; 200 clients at once all get answers; a
# client that says nothing is told and closed after 10 s; a client gone
# in the middle of a wait leaves the scan and the daemon as they were.
. "$TESTDIR/lib.sh"

: "${RAWCLIENT:?}"
G_CLEAN=clean
guests "$G_CLEAN"
# Long enough for its waiter to be killed in the middle.
echo 'sleep 2' | behave "$G_CLEAN"
write_conf
daemon_start
HELLO='{"hello":"sentinel","version":1}'

# No hello first: refused, then the hello still works on the same line.
out=$(printf '%s\n%s\n%s\n' '{"cmd":"status","id":1}' "$HELLO" '{"cmd":"status","id":2}' |
	"$RAWCLIENT" "$SOCK" 3) || fail "rawclient: $out"
sed -n 1p <<<"$out" | jq -e '.ok == false and (.error | test("expected hello"))' >/dev/null ||
	fail "request before hello: $out"
sed -n 2p <<<"$out" | jq -e '.ok == true and .version == 1' >/dev/null || fail "hello: $out"
sed -n 3p <<<"$out" | jq -e '.ok == true and .id == 2' >/dev/null || fail "status: $out"
ok "hello is required and checked"

out=$(printf '%s\n' '{"hello":"sentinel","version":99}' | "$RAWCLIENT" "$SOCK" 1)
jq -e '.ok == false and (.error | test("version mismatch"))' <<<"$out" >/dev/null ||
	fail "wrong version: $out"
ok "protocol version checked"

big=$(head -c 70000 /dev/zero | tr '\0' x)
{
	echo "$HELLO"
	echo 'this is not json'
	echo '[1,2,3]'
	echo '{"cmd":"frobnicate","id":3}'
	echo '{"cmd":"scan","id":4}'
	echo '{"cmd":"scan","guest":5,"id":5}'
	echo '{"cmd":"scan","guest":"x","wait":"yes","id":6}'
	echo '{"cmd":42,"id":7}'
	echo '{"cmd":"status","id":"eight"}'
	echo "{\"cmd\":\"status\",\"pad\":\"$big\"}"
	printf '{"cmd":"scan","guest":"a\\u0000b","id":10}\n'
	echo '{"cmd":"status","id":11}'
} | "$RAWCLIENT" "$SOCK" 12 > "$WORK/proto.out" || fail "rawclient: $(cat "$WORK/proto.out")"
line() { sed -n "$1p" "$WORK/proto.out"; }
expect_error() {
	line "$1" | jq -e --arg re "$2" '.ok == false and (.error | test($re))' >/dev/null ||
		fail "line $1: expected an error matching '$2', got: $(line "$1")"
}
expect_error 2 "invalid JSON"
expect_error 3 "must be a JSON object"
expect_error 4 'unknown command "frobnicate"'
line 4 | jq -e '.id == 3' >/dev/null || fail "error reply lacks the request id: $(line 4)"
expect_error 5 'needs a string "guest"'
expect_error 6 'needs a string "guest"'
expect_error 7 '"wait" must be true or false'
expect_error 8 'needs a string "cmd"'
expect_error 9 '"id" must be a non-negative integer'
expect_error 10 "longer than 65536 bytes"
expect_error 11 "invalid JSON|no NUL"
line 12 | jq -e '.ok == true and .id == 11' >/dev/null || fail "status after bad input: $(line 12)"
ok "each bad request got its error; the connection stayed usable"

# A client that connects and says nothing does not hold up the others,
# and is closed with a reason once the hello timeout passes.
"$RAWCLIENT" "$SOCK" 1 </dev/null > "$WORK/silent.out" &
silent=$!
# 200 clients at once.
pids=""
for i in $(seq 1 200); do
	printf '%s\n{"cmd":"status","id":%d}\n' "$HELLO" "$i" |
		"$RAWCLIENT" "$SOCK" 2 > "$WORK/many.$i" &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || fail "a concurrent client got no answer"
done
for i in $(seq 1 200); do
	sed -n 2p "$WORK/many.$i" | jq -e --argjson i "$i" '.ok == true and .id == $i' >/dev/null ||
		fail "client $i: $(cat "$WORK/many.$i")"
done
ok "200 concurrent clients answered"
wait "$silent" || fail "the silent client was not closed: $(cat "$WORK/silent.out")"
jq -e '.ok == false and .error == "no hello within 10 s; closing"' "$WORK/silent.out" >/dev/null ||
	fail "silent client: $(cat "$WORK/silent.out")"
ok "a silent client is closed after 10 s, with the reason"

# A client waiting for a scan goes away: the scan runs on, the daemon
# serves, and a new wait on the same scan gets its result.
"$SENTINELCTL" scan "$G_CLEAN" --wait >/dev/null 2>&1 &
waiter=$!
for _ in $(seq 1 100); do
	ctl --json status
	[ "$(jq '.scans.running + .scans.queued' <<<"$OUT")" -ge 1 ] && break
	sleep 0.1
done
kill -KILL "$waiter"
wait "$waiter" 2>/dev/null
daemon_serves "a waiting client killed"
ctl --json scan "$G_CLEAN" --wait
expect_rc 0 "waiting again on the scan"
[ "$(jq -r .scan.status <<<"$OUT")" = clean ] || fail "scan after its waiter died: $OUT"
ok "a waiter killed mid-scan: the scan ended clean, the daemon serves"

# version and config answer with what the daemon runs.
ctl --json version
expect_rc 0 "version"
[ "$(jq -r '"\(.protocol) \(.libclamav | test("^[0-9]")) \(.client_version == .version)"' <<<"$OUT")" = "1 true true" ] ||
	fail "version: $OUT"
ctl --json config
expect_rc 0 "config"
[ "$(jq -r '.config.control.socket' <<<"$OUT")" = "$SOCK" ] || fail "config: $OUT"
[ "$(jq -r '.config.scan.max_concurrent_scans' <<<"$OUT")" = 2 ] || fail "config: $OUT"
ctl config
grep -q "^socket = $SOCK$" <<<"$OUT" || fail "config text: $OUT"
ok "version $(jq -r .version <<<"$(SENTINEL_SOCKET=$SOCK "$SENTINELCTL" --json version)"), config as the file says"

daemon_serves "malformed requests"
