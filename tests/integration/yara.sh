# YARA beside ClamAV: rules from [yara] rules run on every file the scan
# reads; a rule on a test string in the guest is reported alongside
# ClamAV's detections, each naming its engine, and a file both engines
# match is reported by both.  A reload picks up new rules (a new
# signature version); a rules file that does not compile keeps the old
# rules, with the file and line in the error.
. "$TESTDIR/lib.sh"

rules=$WORK/yara
rm -rf "$rules"
mkdir -p "$rules"
cat > "$rules/marker.yar" <<'EOT'
rule Sentinel_Test_Marker
{
	strings:
		$m = "SENTINEL-YARA-TEST-MARKER"
	condition:
		$m
}
EOT
cat > "$rules/eicar.yara" <<'EOT'
rule Sentinel_Test_Eicar
{
	strings:
		$e = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
	condition:
		$e
}
EOT
private_daemon yara
sed -i "1i [yara]\nrules = $rules" "$conf"
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
grep -q "signatures: [0-9]* from $DB, 2 YARA rules" "$log" || fail "rules not loaded: $(cat "$log")"

ctl --socket "$sock" --json scan "$G_INFECTED" --wait
expect_rc 1 "scan with YARA rules"
scan=$(jq .scan <<<"$OUT")
jq -e '[.detections[] | select(.engine == "yara" and .signature == "Sentinel_Test_Marker") | .path] ==
	["/home/user/notes.txt"]' <<<"$scan" >/dev/null || fail "marker rule: $scan"
jq -e '[.detections[] | select(.path == "/root/eicar.com") | "\(.engine) \(.signature)"] | sort |
	length == 2 and (.[0] | startswith("clamav ")) and .[1] == "yara Sentinel_Test_Eicar"' <<<"$scan" >/dev/null ||
	fail "eicar.com by both engines: $scan"
nclam=$(jq '[.detections[] | select(.engine == "clamav")] | length' <<<"$scan")
[ "$nclam" -ge 46 ] || fail "ClamAV's detections: $nclam"
ctl --socket "$sock" results "$G_INFECTED"
grep -q "/home/user/notes.txt.*Sentinel_Test_Marker (YARA rule)" <<<"$OUT" || fail "results text: $OUT"
ok "YARA: marker and EICAR rules reported beside $nclam ClamAV detections"

ctl --socket "$sock" --json status
v1=$(jq -r .engine.version <<<"$OUT")
cat > "$rules/third.yar" <<'EOT'
rule Sentinel_Test_Third { strings: $t = "no guest has this string 0x5e471" condition: $t }
EOT
ctl --socket "$sock" --json reload
expect_rc 0 "reload with a third rule"
[ "$(jq .engine.yara_rules <<<"$OUT")" -eq 3 ] || fail "reload: $OUT"
[ "$(jq -r .engine.version <<<"$OUT")" != "$v1" ] || fail "version unchanged after new rules: $OUT"
printf 'rule broken {\n  condition:\n    nonsense(\n}\n' > "$rules/zz-broken.yar"
ctl --socket "$sock" reload
expect_rc 2 "reload with a broken rules file"
grep -q "reload failed, the signatures loaded before stay: YARA rules $rules/zz-broken.yar:[0-9]*: " <<<"$ERR" ||
	fail "message: $ERR"
broken=$ERR
ctl --socket "$sock" --json status
[ "$(jq .engine.yara_rules <<<"$OUT")" -eq 3 ] || fail "rules lost after a failed reload: $OUT"
ok "reload: 3 rules, a new version; a broken file keeps them: $broken"
