# Stops the test daemon (it must exit 0 on SIGTERM) and removes the guests.
. "$TESTDIR/lib.sh"

status=0
if [ -f "$PIDFILE" ]; then
	pid=$(cat "$PIDFILE")
	kill -TERM "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "FAIL: sentineld still running 30 s after SIGTERM" >&2
		kill -KILL "$pid"
		status=1
	fi
	echo "--- sentineld log"
	cat "$WORK/sentineld.log"
	grep -q "sentineld: stopped" "$WORK/sentineld.log" ||
		{ echo "FAIL: sentineld did not stop cleanly" >&2; status=1; }
fi
# Private daemons of tests that failed half-way.
pkill -TERM -f "sentineld -f -c $WORK/" 2>/dev/null && sleep 2
# In the sanitizer build every daemon's exit is checked for leaks and
# errors, the shared one's and the tests' own.
for f in "$WORK"/*.log; do
	if grep -q "ERROR: LeakSanitizer\|ERROR: AddressSanitizer\|Sanitizer: failed to\|runtime error:" "$f"; then
		echo "FAIL: sanitizer report in $f:" >&2
		cat "$f" >&2
		status=1
	fi
done
for g in $G_ALL $G_TICKER $G_WINDOWS; do
	sg_undefine "$g"
done
[ -n "${SENTINEL_KEEP_WORK:-}" ] || rm -rf "$WORK"
exit $status
