# How signatures arrive and how old they are: loaded signatures older than
# [clamav] max_signature_age (their age from the .cld header's build time)
# are said in the log, status and metrics; an update that freshclam
# announces through OnUpdateExecute, as sentineld(8) writes it, loads new
# ones that are said to be up to date; and with self_check the daemon
# notices an update by itself.
. "$TESTDIR/lib.sh"

PY=/usr/bin/python3
# cld DAYS: a daily.cld (its header only: the stand-in loads nothing)
# built DAYS days ago; prints its build time.
cld() {
	local t
	t=$(( $(date +%s) - $1 * 86400 ))
	$PY - "$WORK/db/daily.cld" "$t" <<'EOT'
import sys
h = ("ClamAV-VDB:01 Dec 2026 00-00 +0000:27100:2077000:90:X:sig:builder:%s" % sys.argv[2]).encode()
open(sys.argv[1], "wb").write(h + b" " * (512 - len(h)))
EOT
	echo "$t"
}

guests clean
built=$(cld 5)
write_conf
printf '[metrics]\nlisten = %s\n' "$WORK/metrics.sock" >> "$CONF"
daemon_start
metric() {
	curl -sS --unix-socket "$WORK/metrics.sock" http://localhost/metrics |
	    awk -v m="$1" '$1 == m { print $2 }'
}

ctl --json status
[ "$(jq -r '"\(.engine.built) \(.engine.outdated)"' <<<"$OUT")" = "$built true" ] ||
	fail "status of 5-day-old signatures: $OUT"
ctl status
grep -q "dated .*, 5 days ago; OUTDATED: older than \[clamav\] max_signature_age" <<<"$OUT" ||
	fail "status text: $OUT"
grep -q "signatures: the newest in $WORK/db is from .*, 5 days ago, older than \[clamav\] max_signature_age (3 days)" "$LOG" ||
	fail "not logged: $(cat "$LOG")"
[ "$(metric sentinel_signatures_outdated)" = 1 ] || fail "metric outdated"
age=$(metric sentinel_signatures_age_seconds)
[ "$age" -ge $((5 * 86400)) ] && [ "$age" -lt $((5 * 86400 + 600)) ] || fail "metric age $age"
ok "5-day-old signatures: OUTDATED in status, log and metrics"

# freshclam brings an update and runs its OnUpdateExecute: the line
# sentineld(8) gives, with this build's sentinelctl.
line=$(sed -n 's/^OnUpdateExecute \(.*\)$/\1/p' "$SRCDIR/man/sentineld.8")
[ "$line" = "/usr/bin/sentinelctl reload" ] || fail "no OnUpdateExecute line in sentineld(8): $line"
old=$(jq -r .engine.version <<<"$(SENTINEL_SOCKET=$SOCK "$SENTINELCTL" --json status)")
built=$(cld 0)
# shellcheck disable=SC2086
${line/\/usr\/bin\/sentinelctl/$SENTINELCTL} || fail "$line failed"
for _ in $(seq 1 100); do
	ctl --json status
	[ "$(jq -r .engine.version <<<"$OUT")" != "$old" ] && break
	sleep 0.1
done
[ "$(jq -r '"\(.engine.built) \(.engine.outdated)"' <<<"$OUT")" = "$built false" ] ||
	fail "after the update: $OUT"
grep -q "signatures: up to date again" "$LOG" || fail "not logged: $(cat "$LOG")"
[ "$(metric sentinel_signatures_outdated)" = 0 ] || fail "metric outdated after the update"
ok "OnUpdateExecute's reload: version $(jq -r .engine.version <<<"$OUT"), up to date"

# self_check: an update noticed without being told.
daemon_stop
sed -i 's/^\[clamav\]$/[clamav]\nself_check = 1s/' "$CONF"
daemon_start
ctl --json status
old=$(jq -r .engine.version <<<"$OUT")
echo '0123456789abcdef0123456789abcdef:1:Sentinel.Test.New' > "$WORK/db/new.hdb"
for _ in $(seq 1 100); do
	ctl --json status
	[ "$(jq -r .engine.version <<<"$OUT")" != "$old" ] && break
	sleep 0.1
done
[ "$(jq -r .engine.version <<<"$OUT")" != "$old" ] || fail "self_check did not reload: $OUT"
ok "self_check: a new database file loaded by itself"
daemon_serves "signature updates"
