# shellcheck shell=bash
# Shared by the benchmarks: checks, appliance settings, the synthetic
# signature database, a guest tree of this host's own system files, and
# host-wide CPU and memory accounting.
SRC=$PWD
# Another build (an older commit's, for a before/after run) with
# SENTINEL_BUILD=DIR.
SENTINELD=${SENTINEL_BUILD:-$SRC/build}/sentineld
SENTINELCTL=${SENTINEL_BUILD:-$SRC/build}/sentinelctl
# shellcheck source=../scripts/guests.sh
. scripts/guests.sh
[ -x "$SENTINELD" ] || { echo "build first: cmake -S . -B build && cmake --build build" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
scripts/host-setup
# As the tmpfiles entry makes it (an older build may have made it 0700).
install -d -m 0755 /run/sentinel

# Same appliance settings for both sides: KVM if an appliance starts with
# it, else TCG.
if [ -z "${LIBGUESTFS_BACKEND_SETTINGS+x}" ]; then
	if LIBGUESTFS_BACKEND=direct timeout 120 guestfish -a /dev/null run >/dev/null 2>&1; then
		export LIBGUESTFS_BACKEND_SETTINGS=
	else
		export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
	fi
fi
export LIBGUESTFS_BACKEND=direct

# The synthetic database every benchmark uses, built once: as heavy as the
# official one (about 8.7 M signatures, 20 s to load, over 1 GB), since a
# light one hides where the time and the memory go.
BENCH_DB=/var/lib/libvirt/images/sentinel-bench-db
HASHES=${HASHES:-8400000}
PATTERNS=${PATTERNS:-300000}

# bench_sigdb DIR HASHES PATTERNS: a large synthetic database (kept
# between runs), plus the test signatures.  Hash sizes come from a pool of
# 20000 values: real signatures cluster.
bench_sigdb() {
	local dir=$1 hashes=$2 patterns=$3
	if [ -f "$dir/synthetic.hdb" ] && [ "$(wc -l < "$dir/synthetic.hdb")" = "$hashes" ] &&
	    [ "$(wc -l < "$dir/synthetic.ndb")" = "$patterns" ]; then
		return 0
	fi
	echo "generating $hashes hash and $patterns body signatures..."
	mkdir -p "$dir"
	awk -v n="$hashes" 'BEGIN { srand(1); for (i = 0; i < 20000; i++) pool[i] = int(rand() * 4000000) + 64;
		for (i = 0; i < n; i++) { h = ""; for (j = 0; j < 4; j++) h = h sprintf("%08x", int(rand() * 4294967296));
		printf "%s:%d:Bench.Hash.%d\n", h, pool[int(rand() * 20000)], i } }' > "$dir/synthetic.hdb"
	awk -v n="$patterns" 'BEGIN { srand(2); for (i = 0; i < n; i++) { p = ""; for (j = 0; j < 5; j++) p = p sprintf("%08x", int(rand() * 4294967296));
		printf "Bench.Body.%d:0:*:%s\n", i, p } }' > "$dir/synthetic.ndb"
	sg_sigdb "$dir"
}

# bench_tree DIR NFILES MAXMB: the first NFILES regular files (path order,
# at most MAXMB in all) of this host's own Debian system, then the test
# samples: a real system's mix of small and large files.
bench_tree() {
	local dir=$1 nfiles=$2 maxmb=$3 d
	rm -rf "$dir"
	mkdir -p "$dir"
	for d in /etc /usr/lib/python3* /usr/share/perl* /usr/share/doc /usr/bin \
	    /usr/lib/x86_64-linux-gnu /usr/share; do
		find "$d" -xdev -type f -readable -printf '%s %p\n' 2>/dev/null | sort -k2
	done | awk -v max=$((maxmb * 1048576)) -v n="$nfiles" '!seen[$2]++ { t += $1; if (t > max || ++k > n) exit;
		print substr($0, index($0, " ") + 1) }' |
	    cpio -pdm --quiet "$dir" 2>/dev/null || true
	sg_infect "$dir"
}

# bench_guest WORK NFILES MAXMB: WORK/guest.img, a raw image of a
# bench_tree of NFILES files (kept while NFILES and MAXMB stay the same);
# WORK/root is the tree it holds.
bench_guest() {
	local work=$1 nfiles=$2 maxmb=$3
	mkdir -p "$work"
	if [ ! -f "$work/guest.img" ] || [ "$(cat "$work/guest.spec" 2>/dev/null)" != "$nfiles $maxmb" ]; then
		echo "building a guest of $nfiles host files (at most $maxmb MB)..."
		bench_tree "$work/root" "$nfiles" "$maxmb"
		sg_image "$work/root" "$work/guest.img" "$(( $(du -sm "$work/root" | cut -f1) * 3 / 2 + 64 ))M"
		echo "$nfiles $maxmb" > "$work/guest.spec"
	fi
}

# bench_clamd WORK [CLAMD.CONF LINES...]: clamd started on the benchmark
# database with a socket in WORK, and waited for until it answers (its
# load not counted by anyone); sets clamd_pid and clamd_conf.  The
# expert's baseline: Debian packages clamd and clamdscan apart from
# clamscan and starts no daemon here, this one is the benchmark's.  Its
# alerts are sentinel's engine's (the same work per file).  Stop it with
# bench_clamd_stop.
bench_clamd() {
	local work=$1 line
	shift
	if ! command -v clamdscan >/dev/null || [ ! -x /usr/sbin/clamd ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			clamav-daemon clamdscan >/dev/null
	fi
	clamd_conf=$work/clamd.conf
	{
		echo "LocalSocket $work/clamd.sock"
		echo "DatabaseDirectory $BENCH_DB"
		echo "Foreground yes"
		echo "User root"
		echo "LogFile $work/clamd.log"
		echo "LogFileMaxSize 0"
		echo "TemporaryDirectory /tmp"
		echo "AlertExceedsMax yes"
		echo "AlertEncrypted yes"
		for line in "$@"; do echo "$line"; done
	} > "$clamd_conf"
	rm -f "$work/clamd.sock"
	/usr/sbin/clamd -c "$clamd_conf" >/dev/null 2>&1 &
	clamd_pid=$!
	for _ in $(seq 600); do
		clamdscan --config-file="$clamd_conf" --ping 1 >/dev/null 2>&1 && return 0
		kill -0 "$clamd_pid" 2>/dev/null || { echo "clamd failed: $(tail -3 "$work/clamd.log")" >&2; exit 1; }
		sleep 1
	done
	echo "clamd did not answer in 600 s" >&2
	exit 1
}

bench_clamd_stop() {
	[ -z "${clamd_pid:-}" ] || { kill -TERM "$clamd_pid" 2>/dev/null; wait "$clamd_pid" 2>/dev/null || true; }
	clamd_pid=
}

# cpu_busy: CPU seconds the whole host has spent busy since boot (user,
# nice, system, irq, softirq), from /proc/stat.
cpu_busy() {
	awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz }' /proc/stat
}

# pss_mb COMM...: proportional memory (Pss) of every process with one of
# these command names, together, in MiB.  Pages shared between them (the
# engine a scanner shares with its scan children, copy-on-write) count
# once, split between the sharers: summing RSS would count them once per
# process.  Names are cut to 15 characters (sentinel-scanne).
pss_mb() {
	local p
	for p in $(pgrep -x "$(IFS='|'; echo "$*")"); do
		awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null
	done | awk '{ s += $1 } END { printf "%d\n", s / 1024 }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
elapsed() { printf "%.1f\n" "$(echo "$2 - $1" | bc)"; }
