#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Checks the include structure of src/ against tests/unit/layers.txt:
#  (a) layering: a file of layer L (its directory under src/; "top" for files
#      directly in src/) may include headers of L and of the layers that L's
#      line in layers.txt lists ("*": any). Everything else is an upward (or
#      sideways) include and fails, unless an "except:" line names it.
#  (b) mutual includes: a module (a.c + a.h, or what a "module:" line groups)
#      that includes another module's header while that module includes one
#      of its headers. Both directions are reported, unless excepted.
#  (c) "only:" lines: a file named there may include nothing but the headers
#      listed (project and system headers alike), e.g. to keep the sans-I/O
#      connection module free of sockets, epoll and vrings.
# Also fails on an include that is no file of src/ (product code must not
# reach into tests/), a layer missing from the table, and an "except:" line
# that no longer matches anything (delete it: the violation is gone).
#
# Usage: check_layers.sh [SRC_DIR [LAYERS_TXT]]
#        check_layers.sh --expect EXPECTED SRC_DIR LAYERS_TXT
# The second form is the check's own test: it passes only if the check
# fails and its violation lines are exactly those of EXPECTED (lines
# starting with # are comments there).
# Locations are printed relative to SRC_DIR's parent (src/...), table lines
# as layers.txt:N.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if [[ ${1:-} == --expect ]]; then
	[[ $# -eq 4 ]] || { echo "usage: $0 --expect EXPECTED SRC_DIR LAYERS_TXT" >&2; exit 2; }
	expected=$2
	rc=0
	out=$("$0" "$3" "$4") || rc=$?
	printf '%s\n' "$out"
	if [[ $rc -ne 1 ]]; then
		echo "check_layers self-test: the check exited $rc on the fixture, want 1"
		exit 1
	fi
	# Every line but the count is a violation; compare as sets.
	if ! diff -u <(grep -v '^#' "$expected" | grep . | sort) \
		<(grep -v '^check_layers: ' <<<"$out" | sort); then
		echo "check_layers self-test: violations differ from $expected (- want, + got)"
		exit 1
	fi
	echo "check_layers self-test: the seeded violations were all found"
	exit 0
fi

src=$(cd "${1:-$here/../../src}" && pwd)
table=${2:-$here/layers.txt}

declare -A allow=()       # layer -> " dep dep " or " * "
declare -A except_inc=()  # "src/file -> target" -> table line
declare -A except_pair=() # "modA <-> modB" (sorted) -> table line
declare -A except_used=()
declare -A only_of=()     # "src/file" -> " header header " ("<x.h>" for system)
declare -A only_line=()
declare -A module_of=()   # path without extension -> module name
declare -A module_line=()
violations=0

fail() {
	echo "$*"
	violations=$((violations + 1))
}

# ---- the table ----
n=0
while IFS= read -r raw || [[ -n $raw ]]; do
	n=$((n + 1))
	read -ra words <<<"${raw%%#*}"
	line=${words[*]} # trimmed, blanks squeezed
	[[ -n $line ]] || continue
	if [[ $line =~ ^except:\ (src/[^ ]+)\ -\>\ ([^ ]+)$ ]]; then
		except_inc["${BASH_REMATCH[1]} -> ${BASH_REMATCH[2]}"]=$n
	elif [[ $line =~ ^except:\ ([^ ]+)\ \<-\>\ ([^ ]+)$ ]]; then
		a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]}
		[[ $a < $b ]] || { t=$a; a=$b; b=$t; }
		except_pair["$a <-> $b"]=$n
	elif [[ $line =~ ^only:\ (src/[^ ]+)\ -\>\ (.+)$ ]]; then
		only_of[${BASH_REMATCH[1]}]=" ${BASH_REMATCH[2]} "
		only_line[${BASH_REMATCH[1]}]=$n
	elif [[ $line =~ ^module:\ (.+)$ ]]; then
		read -ra members <<<"${BASH_REMATCH[1]}"
		for m in "${members[@]}"; do
			module_of[$m]=${members[0]}
			module_line[$m]=$n
		done
	elif [[ $line =~ ^([A-Za-z0-9_]+):(.*)$ ]]; then
		allow[${BASH_REMATCH[1]}]=" ${BASH_REMATCH[2]# } "
	else
		echo "$table:$n: cannot parse: $raw" >&2
		exit 2
	fi
done <"$table"

layer_of() { # path relative to src/
	if [[ $1 == */* ]]; then echo "${1%%/*}"; else echo top; fi
}
module() { # path relative to src/ -> module name
	local p=${1%.*}
	echo "${module_of[$p]:-$p}"
}

for f in "${!only_of[@]}"; do
	[[ -f $src/${f#src/} ]] ||
		fail "${table##*/}:${only_line[$f]}: only: $f is no file of src/ (stale line)"
done
for m in "${!module_of[@]}"; do
	compgen -G "$src/$m.[ch]" >/dev/null ||
		fail "${table##*/}:${module_line[$m]}: module: $m names no file of src/ (stale line)"
done

# ---- every include of src/ ----
declare -A edge=() # "modA>modB" -> first "src/file:line"
files=0
includes=0
while IFS= read -r -d '' f; do
	rel=${f#"$src"/}
	files=$((files + 1))
	fl=$(layer_of "$rel")
	if [[ -z ${allow[$fl]+x} ]]; then
		fail "src/$rel: layer: '$fl' has no line in ${table##*/}"
		continue
	fi
	while IFS=: read -r ln text; do
		if [[ -n ${only_of["src/$rel"]+x} &&
		      $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*([\"<][^\">]+[\">]) ]]; then
			h=${BASH_REMATCH[1]}
			[[ $h == \"* ]] && h=${h//\"/}
			[[ ${only_of["src/$rel"]} == *" $h "* ]] ||
				fail "src/$rel:$ln: only: $h is not among what ${table##*/}:${only_line["src/$rel"]} allows this file"
		fi
		[[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]] || continue
		inc=${BASH_REMATCH[1]}
		includes=$((includes + 1))
		where="src/$rel:$ln"
		# C looks next to the including file first, then on the include
		# path, which for product code is src/ alone.
		dir=$(dirname "$rel")
		if [[ $dir != . && -f $src/$dir/$inc ]]; then
			target=$(realpath -m --relative-to="$src" "$src/$dir/$inc")
		elif [[ -f $src/$inc ]]; then
			target=$(realpath -m --relative-to="$src" "$src/$inc")
		else
			fail "$where: include: \"$inc\" is no file of src/ (product code includes only src/)"
			continue
		fi
		if [[ $target == ../* ]]; then
			fail "$where: include: \"$inc\" is outside src/"
			continue
		fi
		tl=$(layer_of "$target")
		if [[ $tl != "$fl" && ${allow[$fl]} != *" * "* && ${allow[$fl]} != *" $tl "* ]]; then
			key="src/$rel -> $target"
			if [[ -n ${except_inc[$key]+x} ]]; then
				except_used[$key]=1
			else
				read -ra deps <<<"${allow[$fl]}"
				fail "$where: layer: $fl may not include $target (layer $tl;" \
					"${table##*/} allows $fl: ${deps[*]:-nothing} and itself)"
			fi
		fi
		fm=$(module "$rel")
		tm=$(module "$target")
		if [[ $fm != "$tm" && -z ${edge["$fm>$tm"]+x} ]]; then
			edge["$fm>$tm"]=$where
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$f" || true)
done < <(find "$src" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)

# ---- modules that include each other ----
# Sorted, so that the report is the same from run to run.
for e in $(printf '%s\n' "${!edge[@]}" | sort); do
	a=${e%%>*} b=${e#*>}
	[[ $a < $b && -n ${edge["$b>$a"]+x} ]] || continue
	key="$a <-> $b"
	if [[ -n ${except_pair[$key]+x} ]]; then
		except_used[$key]=1
	else
		fail "${edge[$e]}: cycle: modules $a and $b include each other" \
			"(back at ${edge["$b>$a"]})"
	fi
done

for key in "${!except_inc[@]}"; do
	[[ -n ${except_used[$key]+x} ]] ||
		fail "${table##*/}:${except_inc[$key]}: except: '$key' matches no include (stale: delete the line)"
done
for key in "${!except_pair[@]}"; do
	[[ -n ${except_used[$key]+x} ]] ||
		fail "${table##*/}:${except_pair[$key]}: except: '$key' matches no mutual include (stale: delete the line)"
done

echo "check_layers: $files files, $includes includes, $violations violations"
[[ $violations -eq 0 ]]
