# Retention: old scans go with what hangs off them, but each guest keeps
# its last keep_per_guest scans and its last complete one; a guest libvirt
# no longer defines is marked gone, and once gone for forget_guests its file
# index, pause and row go too.  Against libvirt's test driver (one guest,
# "test"), on a state database filled by hand.
. "$TESTDIR/lib.sh"

private_daemon retention
sed -i 's|^\[state\]$|[state]\nkeep_scans = 30d\nkeep_per_guest = 2\nforget_guests = 1d|' "$conf"
# The test driver's guest is named "test": every guest, not this run's.
sed -i 's|^guests = .*|guests = *|' "$conf"
printf '[libvirt]\nuri = test:///default\n' >> "$conf"
db=$WORK/retention.db
rm -f "$db" "$db"-wal "$db"-shm
# A first start creates the schema.
private_daemon_start
kill -TERM $pid; wait $pid

A=6695eb01-f6a4-8304-79aa-97f2502e193f		# the test driver's guest
B=00000000-0000-0000-0000-0000000000bb		# gone for two days
C=00000000-0000-0000-0000-0000000000cc		# no longer defined, just seen
now=$(($(date +%s) * 1000)); day=86400000
old=$((now - 60 * day)); recent=$((now - day))
sqlite3 "$db" <<EOT || fail "filling the state database"
DELETE FROM scans; DELETE FROM guests; DELETE FROM paused;
INSERT INTO paused (what, since) VALUES ('*', $now);
INSERT INTO guests (uuid, name, first_seen) VALUES ('$A', 'test', $old);
INSERT INTO guests (uuid, name, first_seen, gone) VALUES ('$B', 'b', $old, $((now - 2 * day)));
INSERT INTO guests (uuid, name, first_seen) VALUES ('$C', 'c', $old);
INSERT INTO paused (what, since) VALUES ('$B', $old);
INSERT INTO scans (id, guest_uuid, guest_name, trigger, queued, ended, status) VALUES
 (1, '$A', 'test', 'schedule', $old, $old, 'clean'),
 (2, '$A', 'test', 'schedule', $old, $old, 'clean'),
 (3, '$A', 'test', 'schedule', $old, $old, 'failed'),
 (4, '$A', 'test', 'schedule', $old, $old, 'failed'),
 (5, '$A', 'test', 'schedule', $old, $old, 'failed'),
 (6, '$B', 'b', 'schedule', $old, $old, 'infected'),
 (7, '$B', 'b', 'schedule', $old, $old, 'clean'),
 (8, '$B', 'b', 'schedule', $recent, $recent, 'clean'),
 (9, '$C', 'c', 'schedule', $old, $old, 'clean'),
 (10, '$C', 'c', 'schedule', $old, $old, 'clean'),
 (11, '$C', 'c', 'schedule', $old, $old, 'clean');
INSERT INTO detections (scan_id, fs, path, signature, size) VALUES
 (1, '/dev/sda1', '/x', 'X', 1), (6, '/dev/sda1', '/y', 'Y', 1), (8, '/dev/sda1', '/z', 'Z', 1);
INSERT INTO skipped (scan_id, reason, fs, path, guest_path) VALUES (3, 'limit', '/dev/sda1', '/a', 1);
INSERT INTO actions (scan_id, plugin, at, text) VALUES (6, 'exec', $old, 'suspended');
INSERT INTO findex (guest_uuid, tree, path, sha256, version) VALUES
 ('$B', '/dev/sda1', '/a', x'00', '1'), ('$B', '/dev/sda1', '/b', x'00', '1'),
 ('$C', '/dev/sda1', '/a', x'00', '1'), ('$A', '/dev/sda1', '/a', x'00', '1');
EOT

: > "$log"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT
wait_line 300 "$log" "state: retention:" || fail "retention never ran: $(cat "$log")"
grep "state: retention:" "$log"
grep -q "state: retention: 5 scans removed, 1 guests newly gone from libvirt, 1 forgotten (2 file index records)" "$log" ||
	fail "retention said: $(grep 'retention' "$log")"
q() { sqlite3 "$db" "$1"; }
[ "$(q 'SELECT group_concat(id) FROM (SELECT id FROM scans ORDER BY id)')" = "2,4,5,8,10,11" ] ||
	fail "scans left: $(q 'SELECT group_concat(id) FROM scans')"
ok "scans: test keeps its last 2 and its last complete one, b (forgotten) its recent one, c its last 2"
[ "$(q 'SELECT group_concat(scan_id) FROM detections')" = 8 ] || fail "detections: $(q 'SELECT * FROM detections')"
[ "$(q 'SELECT count(*) FROM skipped') $(q 'SELECT count(*) FROM actions')" = "0 0" ] ||
	fail "skipped or actions of removed scans left"
ok "detections, skips and actions of removed scans removed"
[ "$(q "SELECT count(*) FROM findex WHERE guest_uuid = '$B'")" = 0 ] || fail "b's file index left"
[ "$(q "SELECT count(*) FROM findex WHERE guest_uuid != '$B'")" = 2 ] || fail "others' file index touched"
[ "$(q "SELECT count(*) FROM guests WHERE uuid = '$B'") $(q "SELECT count(*) FROM paused WHERE what = '$B'")" = "0 0" ] ||
	fail "b's row or pause left"
gone=$(q "SELECT gone FROM guests WHERE uuid = '$C'")
[ -n "$gone" ] && [ "$gone" -ge "$now" ] || fail "c not marked gone: '$gone'"
[ -z "$(q "SELECT gone FROM guests WHERE uuid = '$A'")" ] || fail "test marked gone"
[ "$(q "SELECT count(*) FROM paused WHERE what = '*'")" = 1 ] || fail "the global pause was removed"
ok "b forgotten (file index, pause, row), c marked gone, test and the global pause untouched"
ctl --socket "$sock" --json status
expect_rc 0 "status after retention"
