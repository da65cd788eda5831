#!/bin/sh
# check-man.sh PAGE MPROC - the man page renders without a warning, and documents every
# command that `MPROC --help` lists and every option of each command's --help.
# Exit 0 pass, 1 fail, 77 skip (neither man nor groff is installed).
set -u
page=$1
mproc=$2
fail=0
warnings=$(mktemp) || exit 1
trap 'rm -f "$warnings"' EXIT

# 1. Rendering: any message on stderr is a failure (man and groff exit 0 on warnings).
if command -v man >/dev/null 2>&1; then
  LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" \
    >/dev/null 2>"$warnings"
elif command -v groff >/dev/null 2>&1; then
  groff -man -t -ww -z "$page" 2>"$warnings"
else
  echo "check-man: neither man nor groff is installed: skipped"
  exit 77
fi
if [ -s "$warnings" ]; then
  echo "check-man: $page renders with warnings:"
  cat "$warnings"
  fail=1
fi

# 2. True to the command line. Options are written \-\- in roff.
text=$(sed 's/\\-/-/g' "$page")
commands=$("$mproc" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\)  .*/\1/p')
[ -n "$commands" ] || { echo "check-man: no commands in '$mproc --help'"; exit 1; }
for cmd in $commands; do
  if ! printf '%s\n' "$text" | grep -q "^\.SS \"mproc $cmd\""; then
    echo "check-man: command '$cmd' has no section (.SS \"mproc $cmd\") in $page"
    fail=1
  fi
  help=$("$mproc" "$cmd" --help 2>/dev/null) || continue # version, help: no --help
  # options are what a help line starts with, what follows '[' in a usage line, or
  # the long form after "-h, " (not a '-x' inside a sentence)
  for opt in $(printf '%s\n' "$help" | grep -o -e '^ *--*[a-zA-Z][a-zA-Z-]*' -e '\[--*[a-zA-Z][a-zA-Z-]*' -e ', --[a-zA-Z][a-zA-Z-]*' |
               tr -d '[, ' | sort -u); do
    if ! printf '%s\n' "$text" | grep -q -- "$opt\\b"; then
      echo "check-man: option '$opt' of '$cmd' is not in $page"
      fail=1
    fi
  done
done
exit $fail
