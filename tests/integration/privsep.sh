# The trust barrier: the root daemon maps no parser library; the scanner,
# each scan child and each appliance run unprivileged and confined; the
# confinement refuses what it must (tried from inside); a scan child that
# crashes or is killed fails its own scan only, and the next scan of the
# same guest finds what it found before; a scanner that dies is replaced.
. "$TESTDIR/lib.sh"

private_daemon privsep
private_daemon_start
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT

# status_field PID FIELD: a field of /proc/PID/status.
status_field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}

# confined WHAT PID: not root in any uid, no capability, no_new_privs,
# a seccomp filter.
confined() {
	local uids
	uids=$(status_field "$2" Uid)
	[ -n "$uids" ] || fail "$1 $2: no status"
	for u in $uids; do
		[ "$u" -ne 0 ] || fail "$1 $2 runs as root (Uid: $uids)"
	done
	[ "$(status_field "$2" CapEff)" = 0000000000000000 ] || fail "$1: CapEff $(status_field "$2" CapEff)"
	[ "$(status_field "$2" CapPrm)" = 0000000000000000 ] || fail "$1: CapPrm $(status_field "$2" CapPrm)"
	[ "$(status_field "$2" CapBnd)" = 0000000000000000 ] || fail "$1: CapBnd $(status_field "$2" CapBnd)"
	[ "$(status_field "$2" NoNewPrivs)" = 1 ] || fail "$1: NoNewPrivs $(status_field "$2" NoNewPrivs)"
	[ "$(status_field "$2" Seccomp)" = 2 ] || fail "$1: Seccomp $(status_field "$2" Seccomp)"
	[ "$(readlink "/proc/$2/ns/net")" != "$(readlink "/proc/$pid/ns/net")" ] || fail "$1 shares sentineld's network namespace"
	[ "$(readlink "/proc/$2/ns/mnt")" != "$(readlink "/proc/$pid/ns/mnt")" ] || fail "$1 shares sentineld's mount namespace"
}

# 1. The root daemon maps no parser; its scanner does.
maps=$(grep -E 'libclamav|libyara|libarchive|libguestfs' "/proc/$pid/maps")
[ -z "$maps" ] || fail "sentineld (root) maps: $maps"
zyg=$(pgrep -P "$pid" -x sentinel-scanne)
[ "$(wc -w <<<"$zyg")" -eq 1 ] || fail "sentineld has not one scanner: '$zyg'"
grep -q libclamav "/proc/$zyg/maps" || fail "the scanner does not map libclamav"
confined scanner "$zyg"
ctl --socket "$sock" --json status
[ "$(jq -r .scanner.pid <<<"$OUT")" = "$zyg" ] || fail "status names scanner $(jq .scanner <<<"$OUT"), not $zyg"
ok "sentineld $pid maps no libclamav/libyara/libarchive/libguestfs; scanner $zyg does, uid $(status_field "$zyg" Uid | cut -f1), no capabilities, no_new_privs, seccomp, own net and mount namespaces"

# wait_child: until sentineld has a scan child and that child an appliance
# qemu; sets child and qemu.
wait_child() {
	child="" qemu=""
	for _ in $(seq 1 600); do
		child=$(scan_children "$pid")
		[ -n "$child" ] && qemu=$(appliances "$child")
		[ -n "$qemu" ] && return 0
		sleep 0.1
	done
	fail "no scan child with an appliance: child '$child' qemu '$qemu'"
}


# 2. During a scan: the scan child, its parser thread, its appliance, and
# the disk's export.
ctl --socket "$sock" --json scan "$G_INFECTED"
expect_rc 0 "scan of $G_INFECTED"
wait_child
confined "scan child" "$child"
[ "$(status_field "$child" PPid)" = "$zyg" ] || fail "scan child $child is not the scanner's"
filters=$(for t in /proc/"$child"/task/*; do sed -n 's/^Seccomp_filters:[[:space:]]*//p' "$t/status"; done | sort -n | tail -1)
[ "${filters:-0}" -ge 2 ] || fail "no thread of the scan child has its own filter (most: ${filters:-none})"
for q in $qemu; do
	confined "appliance qemu" "$q"
	if tr '\0' ' ' < "/proc/$q/cmdline" | grep -q "$WORK/infected"; then
		fail "the appliance opens the image by path: $(tr '\0' ' ' < "/proc/$q/cmdline")"
	fi
done
nbd=$(pgrep -P "$pid" -x qemu-nbd)
[ -n "$nbd" ] || fail "no qemu-nbd export started by sentineld"
tr '\0' ' ' < "/proc/$nbd/cmdline" | grep -q -- "--read-only --format=qcow2" ||
	fail "export is not read-only with its format: $(tr '\0' ' ' < "/proc/$nbd/cmdline")"
s=$(find "$WORK/privsep-scanner" -name '*.nbd')
[ "$(stat -c '%a %U %G' "$s")" = "660 root sentinel-scan" ] || fail "export socket: $(stat -c '%a %U %G' "$s")"
ok "scan child $child: confined, a parser thread with $filters filters; appliance $qemu not root and reads no image by path; export by qemu-nbd $nbd, read-only, socket 0660 root:sentinel-scan"
scan_ended "$sock" "$G_INFECTED"
[ "$(jq -r .scan.status <<<"$OUT")" = infected ] || fail "status: $OUT"
before=$(jq -r '[.scan.detections[] | "\(.path) \(.signature)"] | sort | join(",")' <<<"$OUT")
n=$(jq '.scan.detections | length' <<<"$OUT")
[ "$n" -eq 46 ] || fail "$n detections, not 46"
[ -z "$(find "$WORK/privsep-scanner" -name '*.nbd')" ] || fail "an export outlived its scan"
[ -z "$(pgrep -P "$pid" -x qemu-nbd)" ] || fail "qemu-nbd outlived its scan"
ok "the scan found its $n detections through the barrier; export stopped"

# 3. The confinement, tried from inside: each refusal asserted, and what
# must still work.
img=$WORK/infected.qcow2
out=$("$BUILDDIR/sentinel-scanner" --check --user sentinel-scan --tmpdir "$WORK/clamtmp" \
	--probe "$img" --probe "$WORK/clean.img" 2>&1)
rc=$?
for line in "refused: reading /etc/shadow" "refused: writing under /root" \
    "refused: writing under /etc" "refused: connecting to /run/libvirt/libvirt-sock" \
    "refused: reading $img" "refused: reading $WORK/clean.img" "refused: AF_INET socket" \
    "refused: AF_INET6 socket" "refused: ptrace of the parent" "refused: setuid 0" \
    "refused: execve /bin/true in a parser thread" "refused: fork in a parser thread" \
    "refused: AF_UNIX socket in a parser thread" "refused: ptrace in a parser thread" \
    "allowed: reading /etc/passwd" "allowed: writing /tmp"; do
	grep -qF -- "$line" <<<"$out" || fail "sandbox check: no '$line' in: $out"
done
[ "$rc" -eq 0 ] || fail "sandbox check: exit $rc: $out"
ok "sandbox check: $(grep -c '^refused' <<<"$out") refusals, $(grep -c '^allowed' <<<"$out") controls allowed, 0 unexpected"

# 4. A scan child that crashes (SIGSEGV), then one killed (SIGKILL): the
# scan fails with the reason, the daemon and its scanner serve on.
for sig in SEGV KILL; do
	ctl --socket "$sock" --json scan "$G_INFECTED"
	expect_rc 0 "scan for SIG$sig"
	wait_child
	kill -"$sig" "$child"
	scan_ended "$sock" "$G_INFECTED"
	st=$(jq -r .scan.status <<<"$OUT")
	reason=$(jq -r .scan.reason <<<"$OUT")
	[ "$st" = failed ] || fail "SIG$sig: status $st: $OUT"
	num=$(kill -l "$sig")
	grep -q "scanner process killed by signal $num" <<<"$reason" || fail "SIG$sig: reason: $reason"
	daemon_serves "SIG$sig to a scan child"
	[ "$(pgrep -P "$pid" -x sentinel-scanne)" = "$zyg" ] || fail "the scanner changed after SIG$sig to a child"
	expect_gone 300 "its scan child's SIG$sig" $qemu
	ok "SIG$sig to scan child $child: $st ($reason); sentineld and scanner $zyg serve on"
done

# 5. The next scan of the same guest finds what the first found.
ctl --socket "$sock" --json scan "$G_INFECTED" --wait
expect_rc 1 "scan after the crashes"
after=$(jq -r '[.scan.detections[] | "\(.path) \(.signature)"] | sort | join(",")' <<<"$OUT")
[ "$after" = "$before" ] || fail "detections differ after the crashes"
ok "the next scan: the same $n detections"

# 6. The scanner itself killed: sentineld starts another, scans work.
kill -KILL "$zyg"
wait_line 300 "$log" "scanner $zyg is gone: starting another" || fail "no restart logged: $(tail -5 "$log")"
new=""
for _ in $(seq 1 600); do
	ctl --socket "$sock" --json status
	new=$(jq -r .scanner.pid <<<"$OUT")
	[ "$new" != "$zyg" ] && [ "$(jq -r .scanner.reloading <<<"$OUT")" = false ] && break
	sleep 0.1
done
[ "$new" != "$zyg" ] || fail "the scanner was not replaced"
confined "new scanner" "$new"
ctl --socket "$sock" --json scan "$G_CLONE" --wait
expect_rc 0 "scan with the new scanner"
[ "$(jq -r .scan.status <<<"$OUT")" = clean ] || fail "scan with the new scanner: $OUT"
ok "scanner $zyg killed: replaced by $new; the next scan is clean as it should be"
