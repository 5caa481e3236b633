# The man pages are clean mdoc and document every option of the
# configuration's table and every command of the command table.
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

# Commands, their options and their request arguments come from the
# command table (common/cmdtab.c), through cmdtab_dump: sentinelctl(1)
# documents each command with its options, and lists in PROTOCOL exactly
# the arguments each request takes.
: "${CMDTAB_DUMP:?}"
ctl1=$SRCDIR/man/sentinelctl.1
usage=$("$SENTINELCTL" 2>&1)
n=0
while read -r c guest rest; do
	keys=${rest%%|*}
	opts=${rest#*|}
	items=$(grep "^\.It Ic $c\( \|\$\)" "$ctl1") || fail "command $c is not in sentinelctl(1)"
	for o in $opts; do
		grep -q -- "Fl -$o\b" <<<"$items" || fail "sentinelctl(1): $c lacks --$o"
	done
	for o in $(grep -o -- 'Fl -[a-z_]*' <<<"$items" | cut -c5-); do
		grep -qw -- "$o" <<<"$opts" || fail "sentinelctl(1): $c has --$o, which it does not take"
	done
	row=$(grep "^\.It Li $c Ta " "$ctl1") || fail "sentinelctl(1) PROTOCOL: no row for $c"
	doc=$(sed 's/^\.It Li [a-z]* Ta //; s/\bLi\b//g; s/,//g' <<<"$row" | xargs)
	[ "$doc" = "$(xargs <<<"${keys:-none}")" ] ||
		fail "sentinelctl(1) PROTOCOL: $c takes '$(xargs <<<"$keys")', the page says '$doc'"
	grep -q "^  $c\b" <<<"$usage" || fail "sentinelctl's usage lacks $c"
	n=$((n + 1))
done < <("$CMDTAB_DUMP")
[ $n -ge 12 ] || fail "only $n commands in the table"
ok "$n commands documented with their options and request arguments"
