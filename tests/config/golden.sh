# sentineld -n against golden outputs: each NAME.conf here is checked with
# `sentineld -n -c NAME.conf`, and what it prints (stdout and stderr) and
# its exit status must be NAME.ok, byte for byte.  Good files print the
# effective settings with their comments, so a changed default, bound or
# help text shows here; bad ones print the file, line and reason.  Runs as
# any user, touches nothing.
#   SENTINEL_GOLDEN_UPDATE=1  rewrite the .ok files from what is printed
# The "# effective:" lines depend on the host's cores and memory and are
# left out.
set -u
: "${SENTINELD:?}" "${SRCDIR:?}"
dir=$SRCDIR/tests/config
out=$(mktemp)
trap 'rm -f "$out"' EXIT
n=0 bad=0
cd "$dir" || exit 1
for conf in *.conf; do
	name=${conf%.conf}
	{
		"$SENTINELD" -n -c "$conf" 2>&1
		echo "exit: $?"
	} | grep -v '^# effective: ' > "$out"
	if [ "${SENTINEL_GOLDEN_UPDATE:-0}" = 1 ]; then
		cat "$out" > "$name.ok"
	elif ! diff -u "$name.ok" "$out"; then
		echo "FAIL: $conf: sentineld -n printed the above (- expected, + printed)" >&2
		bad=$((bad + 1))
	fi
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "FAIL: no .conf in $dir" >&2; exit 1; }
for ok in *.ok; do
	[ -e "${ok%.ok}.conf" ] || { echo "FAIL: $ok without its .conf" >&2; bad=$((bad + 1)); }
done
[ "$bad" -eq 0 ] || exit 1
if [ "${SENTINEL_GOLDEN_UPDATE:-0}" = 1 ]; then
	echo "ok: $n .ok files written: read them before committing"
else
	echo "ok: $n configurations print what their .ok files hold"
fi
