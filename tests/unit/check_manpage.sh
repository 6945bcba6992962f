#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Checks that the man page and the --help text (config_usage_text) document
# the same long options, short options and defaults, and that groff reads
# the page without warnings.
# Usage: check_manpage.sh PRINT_USAGE_EXE MAN_PAGE
set -eu

usage_exe=$1
man=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$usage_exe" >"$tmp/usage"

# troff source -> plain words: \- is a minus, \fX switches fonts, \(aq is '.
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e "s/\\\\(aq/'/g" "$man" >"$tmp/man"

longopts() {
	grep -o -e '--[a-z][a-z_-]*' "$1" | sort -u
}

status=0
longopts "$tmp/usage" >"$tmp/usage.opts"
longopts "$tmp/man" >"$tmp/man.opts"
if [ ! -s "$tmp/usage.opts" ]; then
	echo "no long options found in the usage text" >&2
	exit 1
fi
for opt in $(comm -23 "$tmp/usage.opts" "$tmp/man.opts"); do
	echo "$man: missing option $opt (listed by --help)" >&2
	status=1
done
for opt in $(comm -13 "$tmp/usage.opts" "$tmp/man.opts"); do
	echo "$man: documents option $opt, which --help does not list" >&2
	status=1
done

for short in -h -V; do
	if ! grep -q -e "$short, --" "$tmp/usage" || ! grep -q -e "^\.BR $short\b" "$tmp/man"; then
		echo "short option $short missing from --help or $man" >&2
		status=1
	fi
done

# Every "[default: X]" of --help reads "Default: X." in the man page.
grep -o '\[default: [^]]*\]' "$tmp/usage" | sed -e 's/^\[default: //' -e 's/\]$//' |
while IFS= read -r def; do
	if ! grep -q -F "Default: $def." "$tmp/man"; then
		echo "$man: default '$def' of --help is not documented" >&2
		exit 1
	fi
done || status=1

if command -v groff >/dev/null 2>&1; then
	if ! groff -man -ww -z "$man" 2>"$tmp/groff" || [ -s "$tmp/groff" ]; then
		echo "$man: groff warnings:" >&2
		cat "$tmp/groff" >&2
		status=1
	fi
fi

if [ "$status" -eq 0 ]; then
	echo "man page matches --help: $(wc -l <"$tmp/usage.opts") long options"
fi
exit "$status"
