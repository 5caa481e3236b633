# cmake --install puts in place the binaries (the scanner in libexec), the
# man pages, the sample configuration (the configuration itself only when
# there is none), the systemd unit with sentineld's path, the tmpfiles and
# sysusers entries; the unit passes systemd-analyze verify.
set -u
: "${BUILDDIR:?}" "${SRCDIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
DESTDIR=$dest cmake --install "$BUILDDIR" >/dev/null || fail "cmake --install"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILDDIR/CMakeCache.txt")
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$BUILDDIR/CMakeCache.txt")
libexecdir=$(sed -n 's/^CMAKE_INSTALL_LIBEXECDIR:PATH=//p' "$BUILDDIR/CMakeCache.txt")
for f in sbin/sentineld bin/sentinelctl share/man/man8/sentineld.8 share/man/man1/sentinelctl.1 \
    share/man/man5/sentineld.conf.5 lib/systemd/system/sentineld.service lib/tmpfiles.d/sentinel.conf \
    lib/sysusers.d/sentinel.conf "$libexecdir/sentinel/sentinel-scanner" \
    "$libexecdir/sentinel/sentinel-fiemap" \
    include/sentinel/plugin.h "$libdir/sentinel/plugins/jsonl.so" "$libdir/sentinel/plugins/exec.so" \
    "$libdir/sentinel/plugins/syslog.so" "$libdir/sentinel/plugins/libvirt-action.so" \
    share/sentinel/grafana-sentinel.json; do
	[ -f "$dest$prefix/$f" ] || fail "$prefix/$f not installed: $(find "$dest" -type f)"
done
# The example plugin builds against the installed header alone.
cc -shared -fPIC -Wall -Werror -I "$dest$prefix/include" -o "$dest/example.so" \
    "$SRCDIR/plugins/example/example.c" || fail "the example plugin does not build"
nm -D --defined-only "$dest/example.so" | grep -q " sentinel_plugin$" || fail "example.so exports no sentinel_plugin"
ok "the example plugin builds out of tree against the installed plugin.h"
conf=$(find "$dest" -path '*/sentinel/sentineld.conf')
[ -n "$conf" ] && [ -f "$conf.sample" ] || fail "configuration not installed: $(find "$dest" -type f)"
# The compiled-in default is where the configuration went.
"$dest$prefix/sbin/sentineld" -h 2>&1 | grep -q "default ${conf#"$dest"})" ||
	fail "default path $("$dest$prefix/sbin/sentineld" -h 2>&1 | grep default) is not ${conf#"$dest"}"
echo "# changed" >> "$conf"
DESTDIR=$dest cmake --install "$BUILDDIR" >/dev/null || fail "second cmake --install"
[ "$(tail -1 "$conf")" = "# changed" ] || fail "a reinstall overwrote the configuration"
ok "installed under $prefix; a reinstall keeps the configuration"
# The installed sentineld looks for its scanner where it was installed.
strings "$dest$prefix/sbin/sentineld" | grep -qx "$prefix/$libexecdir/sentinel" ||
	fail "sentineld does not look for its scanner in $prefix/$libexecdir/sentinel"
grep -q "^u sentinel-scan " "$dest$prefix/lib/sysusers.d/sentinel.conf" ||
	fail "sysusers.d does not create sentinel-scan"
ok "the scanner is in $prefix/$libexecdir/sentinel; sysusers.d creates its user"

unit=$dest$prefix/lib/systemd/system/sentineld.service
grep -q "^ExecStart=$prefix/sbin/sentineld -f$" "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
grep -q "^Type=notify$" "$unit" || fail "not Type=notify"
if command -v systemd-analyze >/dev/null; then
	# Only the binary's absence from this staging tree may be reported.
	out=$(systemd-analyze verify --man=no "$unit" 2>&1 | grep -v "Command $prefix/sbin/sentineld is not executable")
	[ -z "$out" ] || fail "systemd-analyze verify: $out"
	ok "systemd-analyze verify: the unit is clean"
fi
