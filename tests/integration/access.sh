# Who may use the control socket: root, or a member of [control] group.
# The socket file is 0660 root:group; even with its mode loosened, the
# daemon checks each client's credentials (SO_PEERCRED) and refuses
# others with a clear error.  Members of the group hold at most
# max_clients connections; root is served past it.
. "$TESTDIR/lib.sh"

GROUP=$TESTNS-ctl
getent group $GROUP >/dev/null || groupadd -r $GROUP || fail "groupadd"
gid=$(getent group $GROUP | cut -d: -f3)
private_daemon access
sed -i "s|^socket = .*|socket = $sock\ngroup = $GROUP\nmax_clients = 3|" "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; groupdel $GROUP 2>/dev/null' EXIT

# Copies nobody may run, wherever the build tree is.
cp "$SENTINELCTL" "$WORK/sentinelctl-copy"
cp "$RAWCLIENT" "$WORK/rawclient-copy"
chmod 755 "$WORK/sentinelctl-copy" "$WORK/rawclient-copy"
as_nobody() {	# as_nobody GROUPS ARGS...
	local groups=--clear-groups
	[ -z "$1" ] || groups=--groups=$1
	shift
	OUT=$(setpriv --reuid=65534 --regid=65534 "$groups" \
		"$WORK/sentinelctl-copy" --socket "$sock" "$@" 2>"$WORK/ctl.err")
	RC=$?
	ERR=$(cat "$WORK/ctl.err")
}

[ "$(stat -c '%a %U %G' "$sock")" = "660 root $GROUP" ] || fail "socket mode: $(stat -c '%a %U %G' "$sock")"
as_nobody "" status
expect_rc 2 "a stranger, by the file mode"
grep -q "permission denied" <<<"$ERR" || fail "message: $ERR"
ok "stranger refused by the socket's mode: $ERR"

as_nobody "$gid" --json status
expect_rc 0 "a member of the group"
[ "$(jq -r .ok <<<"$OUT")" = true ] || fail "member: $OUT"
ok "a member of $GROUP (supplementary group) is served"

chmod 666 "$sock"
as_nobody "" status
expect_rc 2 "a stranger through a loosened socket"
grep -q "permission denied: uid 65534 (pid [0-9]*) is neither root nor in group $GROUP" <<<"$ERR" ||
	fail "message: $ERR"
refused=$ERR
grep -q "control: refused a client: uid 65534" "$log" || fail "refusal not logged: $(cat "$log")"
ctl --socket "$sock" --json status
expect_rc 0 "root after a refusal"
ok "stranger refused by its credentials: $refused"

# More members' clients than max_clients (3), silent: the next member is
# refused, said once in the log; root is served; once they are gone the
# member is served again.
: "${RAWCLIENT:?}"
holders=
for _ in 1 2 3; do
	setpriv --reuid=65534 --regid=65534 --groups="$gid" \
	    "$WORK/rawclient-copy" "$sock" 0 6 </dev/null >/dev/null 2>&1 &
	holders="$holders $!"
done
sleep 1
as_nobody "$gid" status
expect_rc 2 "a member past max_clients"
grep -q "too many clients connected (3); try again later" <<<"$ERR" || fail "message: $ERR"
as_nobody "$gid" status
expect_rc 2 "a second member past max_clients"
[ "$(grep -c "refused a client (uid 65534): 3 clients of the group connected (\[control\] max_clients)" "$log")" -eq 1 ] ||
	fail "refusals not logged once: $(grep refused "$log")"
ctl --socket "$sock" --json status
expect_rc 0 "root past max_clients"
# shellcheck disable=SC2086
wait $holders
as_nobody "$gid" --json status
expect_rc 0 "a member once the others are gone"
ok "max_clients: members past 3 refused, root served, members served again"

# A flood: two members send 20 000 config requests each and never read a
# reply.  Every reply is bounded (a page), and a client whose unread
# replies pass the limit is closed, said in the log; meanwhile a scan
# starts and ends, and root and a third member are answered.
{ echo '{"hello":"sentinel","version":1}'; yes '{"cmd":"config","id":7}' | head -n 20000; } > "$WORK/flood.in"
flooders=
for _ in 1 2; do
	setpriv --reuid=65534 --regid=65534 --groups="$gid" \
	    "$WORK/rawclient-copy" "$sock" -1 < "$WORK/flood.in" >/dev/null 2>"$WORK/flood.err" &
	flooders="$flooders $!"
done
ctl --socket "$sock" --json scan "$G_CLONE" --wait
expect_rc 0 "a scan during the flood"
[ "$(jq -r .scan.status <<<"$OUT")" = clean ] || fail "scan during the flood: $OUT"
ctl --socket "$sock" --json status
expect_rc 0 "root during the flood"
for f in $flooders; do
	wait "$f" || fail "a flooding client was not closed: $(cat "$WORK/flood.err")"
done
[ "$(grep -c "control: client does not read its replies; closing it" "$log")" -ge 2 ] ||
	fail "flooders not closed: $(grep control "$log")"
as_nobody "$gid" --json status
expect_rc 0 "a member after the flood"
ok "two clients flooding unread requests closed; a scan started and ended meanwhile, root and members served"
