# Prometheus metrics: after known scans the page on a Unix socket says
# what they did (by status and trigger, detections, files, bytes, launch
# and duration histograms, carried-over results, guests by state, per
# guest with guest_labels), parses with the Prometheus client library's
# own parser, and answers what is not a scrape as HTTP does; the textfile
# holds the same; on a loopback TCP port after a restart the counters
# start from zero.
. "$TESTDIR/lib.sh"

PY=/usr/bin/python3
$PY -c 'import prometheus_client.parser' ||
	fail "python3-prometheus-client is missing (scripts/install-deps)"
# An odd name: a label value escaped as the format wants, UTF-8 kept.
ODD='odd"quote\back-é'
guests clean1 clean2 infected nofs "$ODD"
printf 'launch 2.5\nprogress 10\nsleep 0.3\n' | behave clean1
printf 'launch 12\nprogress 5\n' | behave clean2
printf 'launch 0.5\nprogress 4\n' > "$STANDIN_DIR/infected"
for i in 1 2 3; do
	echo "detect /eicar$i.com Eicar-Test-Signature"
done >> "$STANDIN_DIR/infected"
printf 'launch 70\nfail no filesystem could be mounted\n' | behave nofs
write_conf
sed -i 's/^carry_unchanged = no/carry_unchanged = yes/' "$CONF"
cat >> "$CONF" <<EOT
[metrics]
listen = $WORK/metrics.sock
textfile = $WORK/sentinel.prom
textfile_interval = 1s
guest_labels = yes
EOT
for g in clean1 clean2 infected nofs "$ODD"; do
	printf '[guest %s]\nexclude = yes\n' "$g" >> "$CONF"
done
daemon_start

for g in clean1 clean1 clean2 infected nofs; do
	ctl scan "$g" --wait
done
ctl --json results clean1
[ "$(jq -r .scan.carried_from <<<"$OUT")" != null ] || fail "the second scan of clean1 was not carried over: $OUT"

scrape() {	# the page, or fail
	curl -sS --fail --unix-socket "$WORK/metrics.sock" http://localhost/metrics > "$WORK/page" ||
		fail "scrape failed"
}
# value SERIES: the value of one series, exactly as the page writes it.
value() {
	# (ENVIRON: awk -v would read the backslashes as escapes.)
	S=$1 awk '$1 == ENVIRON["S"] { print $2; found = 1 } END { if (!found) print "absent" }' "$WORK/page"
}
expect() {	# SERIES VALUE
	[ "$(value "$1")" = "$2" ] || fail "$1 is $(value "$1"), expected $2: $(cat "$WORK/page")"
}

scrape
expect 'sentinel_scans_total{status="clean",trigger="on-demand"}' 3
expect 'sentinel_scans_total{status="infected",trigger="on-demand"}' 1
expect 'sentinel_scans_total{status="failed",trigger="on-demand"}' 1
expect 'sentinel_scans_total{status="clean",trigger="schedule"}' 0
expect sentinel_scans_carried_over_total 1
expect sentinel_detections_total 3
# Files: 10 + 5 + 4, and the failed scan's 3 (the stand-in's default).
expect sentinel_files_scanned_total 22
expect sentinel_read_bytes_total $((22 * 4096))
# Launches of 0.5, 2.5, 12 and 70 s; the carried scan launched nothing.
expect 'sentinel_appliance_launch_seconds_bucket{le="1"}' 1
expect 'sentinel_appliance_launch_seconds_bucket{le="5"}' 2
expect 'sentinel_appliance_launch_seconds_bucket{le="15"}' 3
expect 'sentinel_appliance_launch_seconds_bucket{le="60"}' 3
expect 'sentinel_appliance_launch_seconds_bucket{le="+Inf"}' 4
expect sentinel_appliance_launch_seconds_sum 85.000
expect sentinel_scan_duration_seconds_count 4
expect sentinel_scans_running 0
expect sentinel_scans_queued 0
expect 'sentinel_guests{state="excluded"}' 5
expect 'sentinel_guests{state="running"}' 0
expect sentinel_libvirt_connected 1
expect sentinel_signatures 1
expect sentinel_results_unstored 0
expect sentinel_paused 0
expect 'sentinel_guest_last_scan_detections{guest="infected"}' 3
expect 'sentinel_guest_last_scan_detections{guest="clean1"}' 0
expect 'sentinel_guest_last_complete_scan_end_timestamp_seconds{guest="nofs"}' 0.000
expect 'sentinel_guest_last_scan_end_timestamp_seconds{guest="odd\"quote\\back-é"}' 0.000
age=$(value sentinel_signatures_age_seconds)
[ "$age" -ge 0 ] && [ "$age" -lt 600 ] || fail "signature age $age"
ok "after five scans: counters, histograms, gauges and per-guest series as the scans were"

# The Prometheus client's own parser reads the page whole; every family
# has its HELP and TYPE, counters end in _total, and the odd name comes
# back as it was.
$PY - "$WORK/page" "$ODD" <<'EOT' || fail "the page does not parse: $(cat "$WORK/page")"
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1], encoding="utf-8").read()
fams = list(text_string_to_metric_families(text))
assert len(fams) >= 25, len(fams)
for f in fams:
    assert f.documentation, f.name
    assert f.type in ("counter", "gauge", "histogram"), (f.name, f.type)
names = {s.labels.get("guest") for f in fams for s in f.samples}
assert sys.argv[2] in names, names
for line in text.splitlines():
    if line.startswith("# TYPE ") and line.endswith(" counter"):
        assert line.split()[2].endswith("_total"), line
print("parsed:", len(fams), "families,", sum(len(f.samples) for f in fams), "samples")
EOT
ok "the page parses with prometheus_client"

# Every family is in sentineld(8), and every one the dashboard asks for
# is on the page.
for f in $(awk '/^# TYPE /{print $3}' "$WORK/page"); do
	grep -q "$f" "$SRCDIR/man/sentineld.8" || fail "$f is not in sentineld(8)"
done
jq -r '.panels[].targets[].expr' "$SRCDIR/etc/grafana-sentinel.json" |
	grep -o 'sentinel_[a-z_]*' | sed 's/_bucket$//' | sort -u > "$WORK/dash.names"
[ -s "$WORK/dash.names" ] || fail "no metric in the dashboard"
while read -r f; do
	grep -q "^# TYPE $f " "$WORK/page" || fail "the dashboard asks for $f, which the page has not"
done < "$WORK/dash.names"
ok "sentineld(8) names all $(grep -c '^# TYPE' "$WORK/page") families; the dashboard's $(wc -l < "$WORK/dash.names") are on the page"

# Not a scrape: HTTP's answers.
code() { curl -s -o /dev/null -w '%{http_code}' --unix-socket "$WORK/metrics.sock" "$@"; }
[ "$(code http://localhost/)" = 404 ] || fail "/ is not 404"
[ "$(code -X POST http://localhost/metrics)" = 405 ] || fail "POST is not 405"
[ "$(code -H "X-Pad: $(head -c 9000 /dev/zero | tr '\0' x)" http://localhost/metrics)" = 431 ] ||
	fail "a request over 8 KiB is not 431"
head_out=$(curl -sS -I --unix-socket "$WORK/metrics.sock" http://localhost/metrics)
grep -q '^Content-Type: text/plain; version=0.0.4' <<<"$head_out" || fail "HEAD: $head_out"
daemon_serves "requests that are not scrapes"
ok "404, 405, 431 and HEAD answered; the daemon serves"

# The textfile: the same families, written whole (nothing left beside it).
sleep 1.5
[ -s "$WORK/sentinel.prom" ] || fail "no textfile"
[ "$(grep '^sentinel_scans_total{status="clean",trigger="on-demand"}' "$WORK/sentinel.prom")" = \
    'sentinel_scans_total{status="clean",trigger="on-demand"} 3' ] || fail "textfile: $(cat "$WORK/sentinel.prom")"
[ "$(grep -c '^# TYPE' "$WORK/sentinel.prom")" = "$(grep -c '^# TYPE' "$WORK/page")" ] ||
	fail "the textfile and the page differ in families"
[ -z "$(find "$WORK" -name 'sentinel.prom.*')" ] || fail "a temporary file left: $(ls "$WORK")"
ok "textfile written every second, whole"

# A loopback TCP port, after a restart: the counters start from zero.
daemon_stop
port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s|^listen = .*|listen = 127.0.0.1:$port|" "$CONF"
daemon_start
curl -sS --fail "http://127.0.0.1:$port/metrics" > "$WORK/page" || fail "TCP scrape"
expect 'sentinel_scans_total{status="clean",trigger="on-demand"}' 0
expect 'sentinel_guest_last_scan_detections{guest="infected"}' 3
grep -q "metrics: serving /metrics on 127.0.0.1:$port" "$LOG" || fail "not logged"
ok "127.0.0.1:$port after a restart: counters from zero, the guests' last scans kept"
