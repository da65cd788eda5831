#!/usr/bin/env bash
# check_lines_any_order.sh [-r] [-h N] [-t N] PROGRAM EXPECTED
#
# For examples whose processes race: PROGRAM's stdout must consist of exactly the lines
# of EXPECTED, in any order (each expected line matches one output line).
#   -r    each expected line is an extended regular expression for a whole output line
#         (for output that differs per run, such as process ids); lines are matched
#         first come, first served, so no two patterns should match the same line
#   -h N  the first N lines must also come first, in that order (printed before any
#         process starts)
#   -t N  the last N lines must also come last, in that order (printed after the joins)
set -u
regex=0 head=0 tail=0
while getopts "rh:t:" opt; do
  case $opt in
    r) regex=1 ;;
    h) head=$OPTARG ;;
    t) tail=$OPTARG ;;
    *) echo "usage: $0 [-r] [-h N] [-t N] PROGRAM EXPECTED" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
prog=$1 expected=$2

out=$("$prog") || { echo "FAIL: $prog exited $?"; exit 1; }
mapfile -t got <<<"$out"
mapfile -t want <<<"$expected"

fail() {
  printf 'FAIL: %s: %s\nprinted:\n%s\nexpected (any order):\n%s\n' "$prog" "$1" "$out" "$expected"
  exit 1
}

matches() { # LINE PATTERN
  if [ "$regex" = 1 ]; then [[ $1 =~ ^($2)$ ]]; else [ "$1" = "$2" ]; fi
}

[ "${#got[@]}" = "${#want[@]}" ] || fail "${#got[@]} lines instead of ${#want[@]}"
n=${#want[@]}
for ((i = 0; i < head; i++)); do
  matches "${got[i]}" "${want[i]}" || fail "line $((i + 1)) should be ${want[i]}"
done
for ((i = n - tail; i < n; i++)); do
  matches "${got[i]}" "${want[i]}" || fail "line $((i + 1)) should be ${want[i]}"
done
used=()
for ((w = 0; w < n; w++)); do
  found=0
  for ((g = 0; g < n; g++)); do
    if [ -z "${used[g]:-}" ] && matches "${got[g]}" "${want[w]}"; then
      used[g]=1 found=1
      break
    fi
  done
  [ "$found" = 1 ] || fail "no line for: ${want[w]}"
done
echo "PASS: $prog"
