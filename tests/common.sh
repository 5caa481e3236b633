# shellcheck shell=bash
# Shared by the integration and daemon tiers: assertions and sentinelctl
# runs.  The sourcing lib sets WORK (where ctl keeps stderr) and the
# socket sentinelctl talks to (SENTINEL_SOCKET).

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	echo "ok: $*"
}

# ctl ARGS...: runs sentinelctl, keeps stdout in $OUT and the exit in $RC.
ctl() {
	OUT=$("$SENTINELCTL" "$@" 2>"$WORK/ctl.err")
	RC=$?
	ERR=$(cat "$WORK/ctl.err")
}

expect_rc() {
	[ "$RC" -eq "$1" ] || fail "$2: exit status $RC, expected $1 (stderr: $ERR)"
}

# The daemon still answers: the check every failure test ends with.
daemon_serves() {
	ctl --json status
	expect_rc 0 "status after $1"
	[ "$(jq -r .ok <<<"$OUT")" = true ] || fail "status after $1: $OUT"
}

# scan_ended SOCK GUEST: waits for GUEST's last scan on the daemon at SOCK
# to end; sets OUT to its results.
scan_ended() {
	local st
	for _ in $(seq 1 900); do
		ctl --socket "$1" --json results "$2"
		st=$(jq -r .scan.status <<<"$OUT")
		[ "$st" != running ] && [ "$st" != queued ] && return 0
		sleep 0.2
	done
	fail "the scan of $2 did not end: $OUT"
}

# wait_line TENTHS FILE PATTERN [AFTER]: until a line of FILE matches
# PATTERN (grep's basic regex), for at most TENTHS tenths of a second; 1
# if none came.  With AFTER, only lines past the first AFTER count: a
# line an earlier step wrote does not answer for this one.
wait_line() {
	local tenths=$1 file=$2 pattern=$3 after=${4:-0}
	for _ in $(seq 1 "$tenths"); do
		tail -n +"$((after + 1))" "$file" 2>/dev/null | grep -q -- "$pattern" && return 0
		sleep 0.1
	done
	tail -n +"$((after + 1))" "$file" 2>/dev/null | grep -q -- "$pattern"
}
