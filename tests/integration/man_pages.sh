# The man pages are clean mdoc and document every option of the table and
# every command of sentinelctl.
. "$TESTDIR/lib.sh"

for m in "$SRCDIR"/man/*; do
	mandoc -T lint -W warning "$m" || fail "mandoc lint: $m"
done
ok "mandoc -T lint: no warnings"

# Option names come from the table itself, through sentineld -n.
opts=$(mktemp)
"$SENTINELD" -n -c /dev/null | awk '/^\[/ { s = $0 } /^[a-z_]+ = / { print s, $1 }' > "$opts" ||
	fail "sentineld -n"
n=0
while read -r section name; do
	grep -q "^\.It Cm $name No" "$SRCDIR/man/sentineld.conf.5" ||
		fail "option $name is not in sentineld.conf(5)"
	grep -q "^\.Ss \\$section\$" "$SRCDIR/man/sentineld.conf.5" ||
		fail "section $section is not in sentineld.conf(5)"
	n=$((n + 1))
done < "$opts"
rm -f "$opts"
[ $n -ge 10 ] || fail "only $n options read from sentineld -n"
ok "$n options documented"

cmds=$("$SENTINELCTL" 2>&1 | awk '/^  [a-z]/ { print $1 }')
[ -n "$cmds" ] || fail "no commands in sentinelctl usage"
for c in $cmds; do
	grep -q "^\.It Ic $c" "$SRCDIR/man/sentinelctl.1" || fail "command $c is not in sentinelctl(1)"
done
ok "commands documented: $(echo $cmds)"
