#!/usr/bin/env bash
# test_segments_cli.sh - `mproc ls` and `mproc gc`: a named array whose creator died is
# listed with alive=no and removed by gc; one whose creator lives is listed alive=yes and
# left; one marked kept (`mproc create` makes them so) is listed keep=yes and left although
# its creator is dead, until `mproc rm`; files in /dev/shm that are not ours or not mproc
# arrays are never shown nor touched; usage errors exit 2 with one line on stderr.
#
# usage: test_segments_cli.sh PATH/TO/mproc PATH/TO/shm_helper     (meson passes both)
# Prints one PASS/FAIL line per check, then "N passed, N failed"; exits 1 if any failed.
# Every gc that removes anything is restricted with --prefix to this run's names, so
# that other programs' dead segments on the machine are left alone.
set -u

M=${1:?usage: test_segments_cli.sh PATH/TO/mproc PATH/TO/shm_helper}
H=${2:?usage: test_segments_cli.sh PATH/TO/mproc PATH/TO/shm_helper}
M=$(readlink -f "$M")
H=$(readlink -f "$H")

T=$(mktemp -d "${TMPDIR:-/tmp}/mproc-seg-cli.XXXXXX")
P="mproc-clitest-$$-"
live_pid=""
cleanup() {
    [ -n "$live_pid" ] && { kill -9 "$live_pid" && wait "$live_pid"; } 2>/dev/null
    rm -f /dev/shm/"$P"* 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { echo "PASS: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
check() { # check NAME COMMAND...: PASS if the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

run() {
    "$M" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# ---- help and usage errors ------------------------------------------------------------

for args in "help ls" "help gc" "ls --help" "gc -h"; do
    run $args
    cmd=${args#help }
    cmd=${cmd%% *}
    if [ "$rc" -eq 0 ] && grep -q "^usage: mproc $cmd" "$T/out" && [ ! -s "$T/err" ]; then
        ok "help [$args]"
    else
        bad "help [$args]: rc=$rc out='$(head -1 "$T/out")' err='$(cat "$T/err")'"
    fi
done
run --help
check "mproc --help lists ls and gc" grep -q "^  ls " "$T/out"
check "mproc --help lists gc" grep -q "^  gc " "$T/out"

expect_usage() {
    run "$@"
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$rc" -eq 2 ] && [ ! -s "$T/out" ] && [ "$lines" -eq 1 ] && grep -q '^mproc: ' "$T/err"; then
        ok "usage error [$*]: $(cat "$T/err")"
    else
        bad "usage error [$*]: rc=$rc stdout='$(cat "$T/out")' stderr='$(cat "$T/err")'"
    fi
}
expect_usage ls extra
expect_usage ls --json=1
expect_usage ls --bogus
expect_usage ls --dry-run
expect_usage ls -
expect_usage ls --prefix
expect_usage gc --json
expect_usage gc --dry-run=yes
expect_usage gc now
expect_usage gc --prefix
expect_usage gc --help=1

# ---- a dead creator, a live one, and files that are not ours ----------------------------

dead="${P}dead"
live="${P}live"
kept="${P}kept"
out=$("$H" "$dead" 1000 exit)
dead_pid=${out#created }
check "helper created $dead (pid $dead_pid) and exited" test -e "/dev/shm/$dead"

mkfifo "$T/ready"
"$H" "$live" 2000 live >"$T/ready" &
live_pid=$!
read -r word pid <"$T/ready"
check "helper holding $live is ready (pid $pid)" test "$word" = ready -a "$pid" = "$live_pid"

run create "$kept" --n 3000
check "mproc create made $kept (its creator, create, has exited)" \
    bash -c "[ $rc -eq 0 ] && [ -e /dev/shm/$kept ]"

printf 'not an mproc segment at all, just some bytes\n' >"/dev/shm/${P}junk"
ln -s "/dev/shm/$dead" "/dev/shm/${P}link"
mkfifo "/dev/shm/${P}fifo"
foreign=""
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    foreign="${P}foreign"
    cp "/dev/shm/$dead" "/dev/shm/$foreign" # a valid header, a dead creator, not ours
    chown nobody "/dev/shm/$foreign"
fi
others_before=$(cd /dev/shm && ls -A | grep "^$P" | grep -v -e "^$dead\$" | sort)

run ls --prefix "$P"
check "ls exits 0" test "$rc" -eq 0
check "ls prints the header" grep -q '^NAME  *OWNER  *SIZE  *DTYPE  *LENGTH  *PID  *ALIVE  *KEEP$' "$T/out"
check "ls: $dead alive=no, int32, 1000, pid $dead_pid, keep=no" \
    bash -c "grep -qE '^$dead +[^ ]+ +7.91 KiB +int32 +1000 +$dead_pid +no +no\$' '$T/out'"
check "ls: $live alive=yes, int32, 2000, pid $live_pid, keep=no" \
    bash -c "grep -qE '^$live +[^ ]+ +11.8 KiB +int32 +2000 +$live_pid +yes +no\$' '$T/out'"
check "ls: $kept alive=no, keep=yes" \
    bash -c "grep -qE '^$kept +[^ ]+ +15.7 KiB +int32 +3000 +[0-9]+ +no +yes\$' '$T/out'"
check "ls shows exactly the three mproc arrays" test "$(grep -c "^$P" "$T/out")" -eq 3
user=$(id -un 2>/dev/null || id -u)
check "ls: owner is $user" bash -c "grep '^$dead ' '$T/out' | grep -q ' $user '"

run ls --json --prefix "$P"
check "ls --json exits 0" test "$rc" -eq 0
if command -v python3 >/dev/null 2>&1; then
    check "ls --json is valid JSON with the right fields" python3 - "$T/out" "$dead" "$live" \
        "$dead_pid" "$live_pid" "$kept" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
dead, live, dpid, lpid, kept = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
by = {r["name"]: r for r in rows}
assert sorted(by) == sorted([dead, live, kept]), by.keys()
d, l, k = by[dead], by[live], by[kept]
assert d["creator_alive"] is False and l["creator_alive"] is True
assert k["creator_alive"] is False and k["keep"] is True and k["flags"] == 1
assert d["keep"] is False and l["keep"] is False and d["flags"] == 0 and l["flags"] == 0
assert d["creator_pid"] == dpid and l["creator_pid"] == lpid
assert d["dtype"] == "int32" and d["length"] == 1000 and d["elem_size"] == 4
assert d["size"] == 4096 + 4000 and d["data_offset"] == 4096 and d["data_bytes"] == 4000
assert d["mode"] == "0600" and isinstance(d["owner_uid"], int) and d["creator_start"] > 0
EOF
else
    check "ls --json names both arrays" bash -c "grep -q '\"$dead\"' '$T/out' && grep -q '\"$live\"' '$T/out'"
fi

run ls --prefix "no-such-prefix-$$"
check "ls with nothing to show prints only the header" test "$(wc -l <"$T/out")" -eq 1
run ls --json --prefix "no-such-prefix-$$"
check "ls --json with nothing to show prints []" test "$(cat "$T/out")" = "[]"
run ls
check "ls without a prefix exits 0 and shows ours" bash -c "[ $rc -eq 0 ] && grep -q '^$dead ' '$T/out'"

# ---- gc ---------------------------------------------------------------------------------

run gc --dry-run --prefix "$P"
check "gc --dry-run exits 0" test "$rc" -eq 0
check "gc --dry-run names $dead" grep -q "^would remove $dead (creator pid $dead_pid dead, " "$T/out"
check "gc --dry-run names nothing else (not the kept $kept)" \
    test "$(grep -c "^would remove " "$T/out")" -eq 1
check "gc --dry-run removes nothing" test -e "/dev/shm/$dead"
run gc --dry-run
check "gc --dry-run without a prefix exits 0 and removes nothing" \
    bash -c "[ $rc -eq 0 ] && [ -e /dev/shm/$dead ]"

run gc --prefix "$P"
check "gc exits 0" test "$rc" -eq 0
check "gc reports $dead removed" grep -q "^removed $dead (creator pid $dead_pid dead, 7.91 KiB)$" "$T/out"
check "gc summary: 1 segment" grep -q "^gc: removed 1 segment (7.91 KiB)$" "$T/out"
check "gc removed $dead" test ! -e "/dev/shm/$dead"
check "gc left $live (creator alive)" test -e "/dev/shm/$live"
check "gc left $kept (kept, though its creator is dead)" test -e "/dev/shm/$kept"
others_after=$(cd /dev/shm && ls -A | grep "^$P" | grep -v -e "^$dead\$" | sort)
check "gc left the junk file, the symlink, the FIFO${foreign:+ and the segment of another user}" \
    test "$others_before" = "$others_after"
check "the junk file is unchanged" grep -q "^not an mproc segment" "/dev/shm/${P}junk"

run gc --prefix "$P"
check "gc again: nothing to do" bash -c "[ $rc -eq 0 ] && grep -q '^gc: removed 0 segments (0 B)$' '$T/out'"

# ---- the live creator dies: now it is garbage --------------------------------------------

{ kill -9 "$live_pid" && wait "$live_pid"; } 2>/dev/null # (no "Killed" notice)
live_pid_was=$live_pid
live_pid=""
run ls --prefix "$P"
check "after its creator died, ls shows $live alive=no" \
    bash -c "grep -qE '^$live .* $live_pid_was +no +no\$' '$T/out'"
run gc --prefix "$P"
check "gc removes $live now" bash -c "[ $rc -eq 0 ] && grep -q '^removed $live ' '$T/out' && [ ! -e /dev/shm/$live ]"
others_after=$(cd /dev/shm && ls -A | grep "^$P" | grep -v -e "^$dead\$" -e "^$live\$" | sort)
others_expected=$(echo "$others_before" | grep -v -e "^$live\$")
check "the others are still untouched" test "$others_expected" = "$others_after"
check "$kept is still there" test -e "/dev/shm/$kept"
run rm "$kept"
check "mproc rm removes the kept $kept" bash -c "[ $rc -eq 0 ] && [ ! -e /dev/shm/$kept ]"

# ---- cleanup: nothing of ours left, no helper running -------------------------------------

rm -f "/dev/shm/${P}junk" "/dev/shm/${P}link" "/dev/shm/${P}fifo"
[ -n "$foreign" ] && rm -f "/dev/shm/$foreign"
check "nothing of this run left in /dev/shm" test -z "$(ls -A /dev/shm | grep "^$P")"
left=0
for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$H" ] && left=$((left + 1))
done
check "no helper process left" test "$left" -eq 0

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
