#!/usr/bin/env bash
# run_example.sh PROGRAM EXPECTED: runs an example and compares its whole stdout.
set -u
out=$("$1") || { echo "FAIL: $1 exited $?"; exit 1; }
if [ "$out" != "$2" ]; then
  printf 'FAIL: %s printed\n%s\nexpected\n%s\n' "$1" "$out" "$2"
  exit 1
fi
echo "PASS: $1"
