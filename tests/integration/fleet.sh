# fleet: three sentineld as three hosts of one fleet, sharing a private
# PostgreSQL cluster made here (initdb, a Unix socket in the work
# directory, no TCP).  Every scan is in the fleet's database; any host
# lists every guest and every host's scans; while the database is down a
# host goes on alone and keeps its results, and sends them all when the
# database is back, each once.
. "$TESTDIR/lib.sh"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || fail "no PostgreSQL server (scripts/install-deps installs it)"
PG=$WORK/pg
rm -rf "$PG"
install -d -o postgres -g postgres -m 0700 "$PG"
pg() { runuser -u postgres -- "$@"; }
pg "$PGBIN/initdb" -D "$PG/data" -A trust -U postgres --no-sync >/dev/null ||
	fail "initdb"
pg_start() {
	pg "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/log" -w -o \
	    "-k $PG -c listen_addresses='' -c fsync=off" start >/dev/null ||
		fail "PostgreSQL did not start: $(tail -5 "$PG/log")"
}
pg_stop() {
	pg "$PGBIN/pg_ctl" -D "$PG/data" -m fast -w stop >/dev/null
}
sql() { pg psql -h "$PG" -U postgres -d sentinel -XAtq -c "$1"; }
pg_start
pg psql -h "$PG" -U postgres -d postgres -Xq \
    -c "CREATE ROLE sentinel LOGIN" -c "CREATE DATABASE sentinel OWNER sentinel" ||
	fail "cannot create the fleet's role and database"
CONNINFO="host=$PG dbname=sentinel user=sentinel"

pids=""
trap 'kill -TERM $pids 2>/dev/null; wait 2>/dev/null; pg_stop' EXIT
# host NAME [LINES]: a sentineld of the fleet as host NAME, its socket in
# $S_NAME; LINES go to its [fleet] section.  Its state is kept from a
# host of that name before.
host() {
	sock=$WORK/fleet-$1.sock conf=$WORK/fleet-$1.conf log=$WORK/fleet-$1.log
	[ -e "$WORK/fleet-$1.db" ] || : > "$log"
	write_conf "$conf" "$sock" "$WORK/fleet-$1.db"
	printf '[metrics]\ntextfile = %s\ntextfile_interval = 1s\n' "$WORK/fleet-$1.prom" >> "$conf"
	printf '[fleet]\ndatabase = %s\nhost = %s\n%b' "$CONNINFO" "$1" "${2:-}" >> "$conf"
	private_daemon_start
	pids="$pids $pid"
	eval "S_$1=\$sock P_$1=\$pid L_$1=\$log"
}
rm -f "$WORK"/fleet-[abc].db*
host a
host b
host c
for h in a b c; do
	eval "l=\$L_$h"
	wait_line 300 "$l" "fleet: host $h connected to the fleet's database, schema 1" ||
		fail "host $h did not join the fleet: $(grep fleet "$l")"
done
[ "$(sql 'SELECT version FROM sentinel.schema')" = 1 ] || fail "schema version"
ok "three hosts joined one fleet; the schema was made once, version 1"

# A connection string with a password is never shown.
ctl --socket "$S_a" --json config
expect_rc 0 "config"
grep -q "dbname=sentinel" <<<"$OUT" || fail "the fleet's database is not in config: $OUT"
sed -i "/^\[fleet\]/,\$ s|^database = .*|database = $CONNINFO password=hunter2|" "$WORK/fleet-a.conf"
"$SENTINELD" -n -c "$WORK/fleet-a.conf" > "$WORK/fleet-n.out" || fail "-n"
grep -q hunter2 "$WORK/fleet-n.out" && fail "-n shows the password"
grep -q "^database = (set, with a password: not shown)" "$WORK/fleet-n.out" ||
	fail "-n: $(grep -A1 '^\[fleet\]' "$WORK/fleet-n.out")"
sed -i "/^\[fleet\]/,\$ s|^database = .*|database = $CONNINFO|" "$WORK/fleet-a.conf"
ok "a password in [fleet] database is not shown"

# One scan on a, one on b: both in the fleet's database at once.
ctl --socket "$S_a" --json scan "$G_INFECTED" --wait
expect_rc 1 "a's scan of $G_INFECTED"
id_a=$(jq .scan.id <<<"$OUT")
det_a=$(jq .scan.detection_count <<<"$OUT")
ctl --socket "$S_b" --json scan "$G_CLEAN" --wait
expect_rc 0 "b's scan of $G_CLEAN"
for _ in $(seq 1 100); do
	[ "$(sql 'SELECT count(*) FROM sentinel.scans')" = 2 ] && break
	sleep 0.1
done
[ "$(sql 'SELECT count(*) FROM sentinel.scans')" = 2 ] ||
	fail "the fleet has $(sql 'SELECT count(*) FROM sentinel.scans') scans, not 2"
[ "$(sql "SELECT status || ' ' || detections FROM sentinel.scans WHERE host = 'a' AND id = $id_a")" = "infected $det_a" ] ||
	fail "a's scan in the fleet: $(sql "SELECT host, id, status, detections FROM sentinel.scans")"
[ "$(sql "SELECT count(*) FROM sentinel.detections WHERE host = 'a' AND scan_id = $id_a")" = "$det_a" ] ||
	fail "a's detections in the fleet"
ok "each host's scan is in the fleet's database, with its $det_a detections"

# c, which scanned nothing, lists every guest, with who scanned it.
for _ in $(seq 1 100); do
	ctl --socket "$S_c" --json fleet
	[ "$RC" = 0 ] && [ "$(jq "[.guests[] | select(.name == \"$G_INFECTED\")] | length" <<<"$OUT")" = 3 ] && break
	sleep 0.2
done
expect_rc 0 "fleet on c"
[ "$(jq -r "[.guests[] | select(.name == \"$G_INFECTED\") | .host] | sort | join(\" \")" <<<"$OUT")" = "a b c" ] ||
	fail "$G_INFECTED is not seen by a, b and c: $OUT"
[ "$(jq -r "[.guests[] | select(.name == \"$G_INFECTED\")][0].last_scan | \"\(.host) \(.status) \(.detection_count)\"" <<<"$OUT")" = "a infected $det_a" ] ||
	fail "the last scan of $G_INFECTED as c sees it: $OUT"
[ "$(jq -r "[.guests[] | select(.name == \"$G_CLEAN\")][0].last_scan | \"\(.host) \(.status)\"" <<<"$OUT")" = "b clean" ] ||
	fail "the last scan of $G_CLEAN as c sees it: $OUT"
[ "$(jq -r '[.hosts[].name] | join(" ")' <<<"$OUT")" = "a b c" ] || fail "hosts: $OUT"
ctl --socket "$S_c" fleet
expect_rc 0 "fleet, as text"
grep -q "^$G_INFECTED *a .* a *infected" <<<"$OUT" || fail "fleet as text: $OUT"
ctl --socket "$S_c" --json history "$G_INFECTED" --fleet
expect_rc 0 "history --fleet"
[ "$(jq -r '.scans[0] | "\(.host) \(.id) \(.status)"' <<<"$OUT")" = "a $id_a infected" ] ||
	fail "history --fleet on c: $OUT"
ctl --socket "$S_c" --json history "$G_INFECTED"
[ "$(jq '.scans | length' <<<"$OUT")" = 0 ] || fail "c's own history has scans: $OUT"
ok "c lists every guest, the host that scanned it and its result; history --fleet has a's scan"

# The database goes away: a scans alone, keeps the result, and sends it
# when the database is back.
pg_stop
ctl --socket "$S_a" --json scan "$G_CLEAN" --wait
expect_rc 0 "a's scan while the database is down"
id_down=$(jq .scan.id <<<"$OUT")
ctl --socket "$S_a" --json status
[ "$(jq -r .fleet.state <<<"$OUT")" = down ] || fail "status while down: $(jq .fleet <<<"$OUT")"
# Written every second: one written since the scan ended.
wait_line 50 "$WORK/fleet-a.prom" "^sentinel_fleet_backlog 1$"
grep -q "^sentinel_fleet_connected 0$" "$WORK/fleet-a.prom" && grep -q "^sentinel_fleet_backlog 1$" "$WORK/fleet-a.prom" ||
	fail "metrics while down: $(grep fleet "$WORK/fleet-a.prom")"
[ "$(jq .fleet.backlog <<<"$OUT")" = 1 ] || fail "backlog while down: $(jq .fleet <<<"$OUT")"
grep -q "fleet: .*going on alone, results kept for the fleet" "$L_a" ||
	fail "the outage is not logged: $(grep fleet "$L_a")"
ctl --socket "$S_c" fleet
[ "$RC" != 0 ] && grep -q "the fleet's database" <<<"$ERR" || fail "fleet while down: $RC $OUT $ERR"
ok "database down: a scanned alone, 1 result kept; fleet says why it cannot answer"
pg_start
for _ in $(seq 1 900); do
	ctl --socket "$S_a" --json status
	[ "$(jq .fleet.backlog <<<"$OUT")" = 0 ] && break
	sleep 0.1
done
[ "$(jq -r '"\(.fleet.state) \(.fleet.backlog)"' <<<"$OUT")" = "connected 0" ] ||
	fail "a did not send what it kept: $(jq .fleet <<<"$OUT")"
[ "$(sql "SELECT count(*) FROM sentinel.scans WHERE host = 'a' AND id = $id_down AND status = 'clean'")" = 1 ] ||
	fail "the scan made while down is not in the fleet"
[ "$(sql 'SELECT count(*) FROM sentinel.scans')" = 3 ] ||
	fail "the fleet has $(sql 'SELECT count(*) FROM sentinel.scans') scans, not 3"
grep -q "fleet: connected to the fleet's database again after" "$L_a" || fail "no reconnection logged"
ok "database back: the kept scan sent, 3 scans in the fleet, each once"

# a restarts on the same state: the same instance, nothing sent twice.
kill -TERM "$P_a"
wait "$P_a" 2>/dev/null
conf=$WORK/fleet-a.conf log=$L_a sock=$S_a
"$SENTINELD" -f -c "$conf" >>"$log" 2>&1 </dev/null &
P_a=$!
pids="$pids $P_a"
sg_wait_socket "$sock" "$P_a" || fail "a did not start again"
[ "$(grep -c "fleet: host a, state instance" "$L_a")" = 2 ] &&
	[ "$(grep -o "state instance [0-9a-f]*" "$L_a" | sort -u | wc -l)" = 1 ] ||
	fail "a's instance changed: $(grep 'state instance' "$L_a")"
[ "$(sql "SELECT count(DISTINCT instance) FROM sentinel.scans WHERE host = 'a'")" = 1 ] ||
	fail "a has two instances in the fleet"
ok "a restarted on its state: one instance, its scans counted once"

for h in a b c; do
	eval "s=\$S_$h"
	ctl --socket "$s" --json status
	expect_rc 0 "status of $h after the fleet test"
	[ "$(jq -r .fleet.state <<<"$OUT")" = connected ] || fail "$h: $(jq .fleet <<<"$OUT")"
done
ok "the three hosts serve, connected"

# The fleet schedules.  The three hosts again, on their states, with the
# first four guests on schedule (due at once: no jitter) and every disk
# of this run on one fleet storage of cap 1.  $G_INFECTED and $G_CLEAN
# were scanned above by a and b, less than an hour ago: not due on any
# host, c included, which never scanned them.  $G_NOFS and $G_CLONE are
# due on all three: each is scanned once in the fleet, and never two
# appliances run at once across the three.
for h in a b c; do
	eval "kill -TERM \$P_$h; wait \$P_$h 2>/dev/null"
done
pids=""
LEASE=15
for h in a b c; do
	SCHEDULED=1 host $h "lease = ${LEASE}s\nstorage test = $WORK/ 1\n[schedule]\ninterval = 1h\njitter = 0\n"
done
# Peak appliances across the three, sampled.
( peak=0; while :; do
	n=0
	for h in $P_a $P_b $P_c; do n=$((n + $(appliances "$h" | wc -l))); done
	[ "$n" -gt "$peak" ] && peak=$n && echo "$peak" > "$WORK/fleet-peak"
	sleep 0.2
done ) &
sampler=$!
pids="$pids $sampler"
echo 0 > "$WORK/fleet-peak"
sched() { sql "SELECT count(*) FROM sentinel.scans WHERE guest_name = '$1' AND doc->>'trigger' = 'schedule'"; }
for _ in $(seq 1 3000); do
	[ "$(sched "$G_NOFS")" -ge 1 ] && [ "$(sched "$G_CLONE")" -ge 1 ] && break
	sleep 0.1
done
[ "$(sched "$G_NOFS")" -ge 1 ] && [ "$(sched "$G_CLONE")" -ge 1 ] ||
	fail "the round did not end in 300 s: $(sql "SELECT host, guest_name, status FROM sentinel.scans") $(tail -5 "$L_a" "$L_b" "$L_c")"
# Long enough for a host that waited on a claim to look again.
sleep 20
kill "$sampler"
for g in "$G_NOFS" "$G_CLONE"; do
	[ "$(sched "$g")" = 1 ] ||
		fail "$g scanned $(sched "$g") times on schedule: $(sql "SELECT host, id, status FROM sentinel.scans WHERE guest_name = '$g'")"
done
for g in "$G_INFECTED" "$G_CLEAN"; do
	[ "$(sched "$g")" = 0 ] || fail "$g scanned again on schedule, an hour early"
done
peak=$(cat "$WORK/fleet-peak")
[ "$peak" = 1 ] || fail "$peak appliances ran at once across the fleet (cap 1)"
ctl --socket "$S_c" --json schedule
due=$(jq "[.guests[] | select(.name == \"$G_INFECTED\")][0].next_due" <<<"$OUT")
ended=$(sql "SELECT max(ended) FROM sentinel.scans WHERE guest_name = '$G_INFECTED' AND complete")
[ "$due" = "$((ended + 3600000))" ] ||
	fail "c has $G_INFECTED due at $due, not an hour after a's scan ($ended)"
ok "one round: $G_NOFS and $G_CLONE scanned once each fleet-wide, at most $peak appliance at once; $G_INFECTED due on c an hour after a's scan"

# A host dies holding the storage's one slot: the slot lapses within the
# lease, and another host scans the guest.
ctl --socket "$S_a" --json scan "$G_CLEAN"
expect_rc 0 "a's request"
for _ in $(seq 1 600); do
	[ -n "$(appliances "$P_a")" ] && break
	sleep 0.1
done
[ -n "$(appliances "$P_a")" ] || fail "a's scan of $G_CLEAN did not start: $(tail -5 "$L_a")"
[ "$(sql "SELECT host || ' ' || guest_name FROM sentinel.slots WHERE storage = 'test'")" = "a $G_CLEAN" ] ||
	fail "the slot: $(sql "SELECT * FROM sentinel.slots")"
qemus=$(appliances "$P_a")
kill -9 "$P_a"
t_kill=$(date +%s%3N)
expect_gone 100 "sentineld a, killed" $qemus
lines_b=$(wc -l < "$L_b")
"$SENTINELCTL" --socket "$S_b" --json scan "$G_CLEAN" --wait > "$WORK/fleet-b.json" &
waiter=$!
pids="$pids $waiter"
wait_line 100 "$L_b" "scan $G_CLEAN: waiting for a fleet slot of storage test, held by a ($G_CLEAN)" "$lines_b" ||
	fail "b did not wait for a's slot: $(tail -n +"$((lines_b + 1))" "$L_b")"
ctl --socket "$S_b" --json schedule
[ "$(jq -r "[.guests[] | select(.name == \"$G_CLEAN\")][0] | \"\(.state) \(.fleet)\"" <<<"$OUT")" = "fleet waiting for a fleet slot of storage test, held by a ($G_CLEAN)" ] ||
	fail "b's schedule: $(jq -c "[.guests[] | select(.name == \"$G_CLEAN\")]" <<<"$OUT")"
wait_line 600 "$L_b" "scan $G_CLEAN: started" "$lines_b" || fail "b never started"
t_start=$(date +%s%3N)
wait "$waiter"
[ "$(jq -r .scan.status "$WORK/fleet-b.json")" = clean ] || fail "b's scan: $(cat "$WORK/fleet-b.json")"
echo "a killed; b started $((t_start - t_kill)) ms later (lease $LEASE s)"
[ $((t_start - t_kill)) -le $(((LEASE + 8) * 1000)) ] ||
	fail "b started $((t_start - t_kill)) ms after a died: past the lease ($LEASE s) and a retry"
ok "a killed holding the slot: it lapsed, b scanned $G_CLEAN $((t_start - t_kill)) ms later"
# Clean verdicts are the fleet's: d, a new host that never scanned
# anything, finds every file of the linked clone known clean (its base
# was scanned by b, the clone by the round), and reads none of them.
nonempty=$(find "$WORK/content/clean" -type f -size +0 | wc -l)
rm -f "$WORK"/fleet-d.db*
host d
for _ in $(seq 1 300); do
	ctl --socket "$S_d" --json status
	[ "$(jq .engine.cached_clean <<<"$OUT")" -ge "$nonempty" ] && break
	sleep 0.1
done
[ "$(jq .engine.cached_clean <<<"$OUT")" -ge "$nonempty" ] ||
	fail "d got $(jq .engine.cached_clean <<<"$OUT") clean verdicts from the fleet, not $nonempty: $(jq .fleet <<<"$OUT")"
received=$(jq .fleet.verdicts.received <<<"$OUT")
ctl --socket "$S_d" --json scan "$G_CLONE" --wait
expect_rc 0 "d's scan of $G_CLONE"
[ "$(jq .scan.cache_hits <<<"$OUT")" = "$nonempty" ] && [ "$(jq .scan.bytes_scanned <<<"$OUT")" = 0 ] ||
	fail "d's scan of the clone: $(jq -c '.scan | {files, cache_hits, bytes_scanned, unchanged}' <<<"$OUT")"
ok "d took $received clean verdicts from the fleet: the clone's $nonempty files all known clean, 0 bytes scanned"
# The fleet's retention (what each host runs hourly on its own scans,
# [state] keep_scans and keep_per_guest): everything of a's ended before
# the cutoff goes, less each guest's newest scan and newest complete one
# among all hosts'; no other host's scan goes.
inst_a=$(sql "SELECT DISTINCT instance FROM sentinel.scans WHERE host = 'a'")
keep_a=$(sql "SELECT count(*) FROM sentinel.scans s WHERE host = 'a' AND (
	ended = (SELECT max(ended) FROM sentinel.scans t WHERE t.guest_uuid = s.guest_uuid) OR
	ended = (SELECT max(ended) FROM sentinel.scans t WHERE t.guest_uuid = s.guest_uuid AND complete))")
all_a=$(sql "SELECT count(*) FROM sentinel.scans WHERE host = 'a'")
others=$(sql "SELECT count(*) FROM sentinel.scans WHERE host <> 'a'")
[ "$keep_a" -lt "$all_a" ] || fail "nothing of a's for the retention to remove ($all_a scans)"
removed=$(sql "SELECT sentinel.prune('a', '$inst_a', $(( $(date +%s) * 1000 + 86400000 )), 1)")
[ "$removed" = $((all_a - keep_a)) ] && [ "$(sql "SELECT count(*) FROM sentinel.scans WHERE host = 'a'")" = "$keep_a" ] ||
	fail "retention removed $removed of a's $all_a scans, meant to keep $keep_a"
[ "$(sql "SELECT count(*) FROM sentinel.scans WHERE host <> 'a'")" = "$others" ] ||
	fail "retention of a's scans removed another host's"
[ "$(sql "SELECT count(*) FROM sentinel.detections d WHERE NOT EXISTS (SELECT 1 FROM sentinel.scans s
	WHERE s.host = d.host AND s.instance = d.instance AND s.id = d.scan_id)")" = 0 ] ||
	fail "detections left without their scan"
ok "fleet retention: $removed of a's $all_a scans removed, each guest's newest and newest complete kept"
for h in b c d; do
	eval "s=\$S_$h"
	ctl --socket "$s" --json status
	expect_rc 0 "status of $h at the end"
done
