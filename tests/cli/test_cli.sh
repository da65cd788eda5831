#!/usr/bin/env bash
# test_cli.sh - tests of the `mproc` command line: outputs, exit codes, usage errors,
# signals, and that no run leaves a process or a /dev/shm entry behind.
#
# usage: test_cli.sh PATH/TO/mproc        (meson passes the built binary)
# Prints one PASS/FAIL line per check and exits 1 if any failed.
set -u

M=${1:?usage: test_cli.sh PATH/TO/mproc}
M=$(readlink -f "$M")
[ -x "$M" ] || { echo "FAIL: $M is not an executable"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/mproc-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { echo "PASS: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
have_python=0
command -v python3 >/dev/null 2>&1 && have_python=1

# Runs mproc with the arguments; stdout in $T/out, stderr in $T/err, status in $rc.
run() {
    "$M" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# Processes whose executable is our binary (pool workers are forked, not exec'd).
ours() {
    local p n=0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/exe" 2>/dev/null)" = "$M" ] && n=$((n + 1))
    done
    echo "$n"
}

shm_list() { ls -A /dev/shm 2>/dev/null | sort; }
shm_before=$(shm_list)

# expect_out NAME EXPECTED_STDOUT ARGS...: exit 0, stdout exactly EXPECTED, stderr empty.
expect_out() {
    local name=$1 want=$2
    shift 2
    run "$@"
    if [ "$rc" -eq 0 ] && [ "$(cat "$T/out")" = "$want" ] && [ ! -s "$T/err" ]; then
        ok "$name"
    else
        bad "$name: rc=$rc stdout='$(cat "$T/out")' stderr='$(cat "$T/err")' want '$want'"
    fi
}

# expect_usage ARGS...: exit 2, nothing on stdout, exactly one line "mproc: ..." on stderr.
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

# json_check NAME PYTHON_EXPR: $T/out holds one JSON object d for which the expression
# holds. Without python3, only the keys are looked for.
json_check() {
    local name=$1 expr=$2 key
    if [ "$have_python" -eq 1 ]; then
        if python3 -c "import json,sys
d = json.load(open(sys.argv[1]))
for k in ('n','dtype','workers','repeat','seconds','seconds_min','elems_per_s','gbps','verified','chunk'):
    assert k in d, 'missing key ' + k
assert $expr, 'condition failed: ' + repr(d)" "$T/out" 2>"$T/pyerr"; then
            ok "$name"
        else
            bad "$name: $(tail -n 1 "$T/pyerr") stdout='$(cat "$T/out")'"
        fi
        return
    fi
    for key in n dtype workers repeat seconds seconds_min elems_per_s gbps verified chunk; do
        grep -q "\"$key\": " "$T/out" || { bad "$name: key $key missing"; return; }
    done
    ok "$name (keys only: no python3)"
}

echo "# mproc binary: $M"

# ---- the seed program and --values ------------------------------------------------------
expect_out "seed" "[4, 9, 16, 25, 36, 49, 64]" square --values 2,3,4,5,6,7,8
expect_out "seed with --verify and 7 workers" "[4, 9, 16, 25, 36, 49, 64]" \
    square --values 2,3,4,5,6,7,8 --workers 7 --verify
expect_out "int8 -1,2" "[1, 4]" square --values -1,2 --dtype i8
expect_out "uint8 200 wraps" "[64]" square --values 200 --dtype uint8
expect_out "int8 -128 wraps" "[0, 1]" square --values -128,127 --dtype b
expect_out "int16 200 wraps" "[-25536]" square --values 200 --dtype int16
expect_out "uint16 typecode H" "[1]" square --values 65535 --dtype H
expect_out "int32 INT32_MIN squares to 0" "[0]" square --values -2147483648
expect_out "int64 wrap (typecode q)" "[-9223372036709301616]" \
    square --values -3037000500 --dtype q
expect_out "uint64 max squares to 1" "[1]" square --values 18446744073709551615 --dtype u64
expect_out "float64 1.5" "[2.25]" square --values 1.5 --dtype f64
expect_out "float64 list" "[0.25, 9.0, 0.0, 1e+20, inf]" \
    square --values 0.5,3,-0.0,1e10,-inf --dtype d
expect_out "float32 (typecode f)" "[2.25, 9.0]" square --values 1.5,3 --dtype f
expect_out "spaces around values" "[4, 9]" square --values " 2, 3 "
expect_out "--opt=value form" "[4, 9]" square --values=2,3 --dtype=i64 --workers=2

# ---- --n runs ---------------------------------------------------------------------------
run square --n 1000 --verify --json
json_check "--n 1000 --verify --json" \
    "d['verified'] is True and d['n'] == 1000 and d['dtype'] == 'int32' and d['repeat'] == 1 and d['seconds'] > 0"
[ ! -s "$T/err" ] && ok "--json run: stderr empty" || bad "--json run: stderr '$(cat "$T/err")'"

for dt in int8 uint8 int16 uint16 int32 uint32 int64 uint64 float32 float64; do
    run square --n 100000 --dtype "$dt" --verify --json
    [ "$rc" -eq 0 ] || { bad "$dt --n 100000 --verify: rc=$rc $(cat "$T/err")"; continue; }
    json_check "$dt --n 100000 --verify" "d['verified'] is True and d['dtype'] == '$dt'"
done

run square --n 100000 --repeat 3 --verify --json
json_check "--repeat 3" \
    "d['repeat'] == 3 and d['seconds_min'] <= d['seconds'] and d['verified'] is True"

for w in 1 3 9; do
    run square --n 200000 --workers "$w" --verify --json
    json_check "--workers $w" "d['workers'] == $w and d['verified'] is True"
done
cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 0)
run square --n 1000 --json
json_check "--workers default = online CPUs ($cpus)" "d['workers'] == $cpus and d['verified'] is None"

run square --n 1000 --chunk 1 --workers 3 --verify --json
json_check "--chunk 1 on n=1000" "d['chunk'] == 1 and d['verified'] is True"
run square --n 7 --chunk 1000 --verify --json
json_check "--chunk larger than n" "d['verified'] is True and d['n'] == 7"
run square --n 1e5 --dtype u16 --repeat 2 --verify --json
json_check "--n 1e5 accepted" "d['n'] == 100000 and d['repeat'] == 2"

run square --n 100000 --repeat 2 --verify
if [ "$rc" -eq 0 ] && grep -q '^square 100000 x int32' "$T/out" && grep -q 'verify  ok' "$T/out" \
    && [ ! -s "$T/err" ]; then
    ok "text report (and no progress bar on a pipe)"
else
    bad "text report: rc=$rc stdout='$(cat "$T/out")' stderr='$(cat "$T/err")'"
fi

# ---- help and version -------------------------------------------------------------------
for args in "--help" "-h" "help" "square --help" "help square"; do
    # shellcheck disable=SC2086
    run $args
    if [ "$rc" -eq 0 ] && grep -q '^usage: mproc' "$T/out" && [ ! -s "$T/err" ]; then
        ok "mproc $args"
    else
        bad "mproc $args: rc=$rc stderr='$(cat "$T/err")'"
    fi
done
for args in "version" "--version"; do
    run $args
    if [ "$rc" -eq 0 ] && grep -Eq '^mproc [0-9]+\.[0-9]+\.[0-9]+' "$T/out"; then
        ok "mproc $args: $(cat "$T/out")"
    else
        bad "mproc $args: rc=$rc stdout='$(cat "$T/out")'"
    fi
done

# ---- usage errors: exit 2, one line -----------------------------------------------------
expect_usage
expect_usage frobnicate
expect_usage --bogus
expect_usage version extra
expect_usage square
expect_usage square --bogus
expect_usage square --n
expect_usage square --n abc
expect_usage square --n 0
expect_usage square --n -5
expect_usage square --n 1.5
expect_usage square --n 1e30
expect_usage square --n 10 extra
expect_usage square --n 10 --values 1,2
expect_usage square --n 10 --dtype int33
expect_usage square --n 10 --workers -1
expect_usage square --n 10 --workers 100000
expect_usage square --n 10 --repeat 0
expect_usage square --n 10 --chunk x
expect_usage square --n 10 --verify=yes
expect_usage square --values 300 --dtype u8
expect_usage square --values -1 --dtype u16
expect_usage square --values 128 --dtype i8
expect_usage square --values 1,,2
expect_usage square --values 1.5
expect_usage square --values 1e400 --dtype f64
expect_usage square --values 1e39 --dtype f32
expect_usage square --values 1 --repeat 2
expect_usage square --values 1 --json
expect_usage square --n 1e19 --dtype i64
expect_usage square --n 1e18 --dtype i8

# ---- signals ----------------------------------------------------------------------------
# Job control on, so that the background job does not start with SIGINT ignored.
set -m
for sig in INT TERM; do
    want=$([ "$sig" = INT ] && echo 130 || echo 143)
    "$M" square --n 1e7 --workers 3 --repeat 1000000 >"$T/out" 2>"$T/err" &
    pid=$!
    sleep 0.7
    running=$(ours)
    kill -s "$sig" "$pid"
    wait "$pid"
    rc=$?
    if [ "$rc" -eq "$want" ] && [ "$running" -ge 3 ]; then
        ok "SIG$sig during a run: exit $rc ($running processes were running)"
    else
        bad "SIG$sig during a run: rc=$rc (want $want), $running processes seen, stderr='$(cat "$T/err")'"
    fi
    left=$(ours)
    [ "$left" -eq 0 ] && ok "SIG$sig: no process left" || bad "SIG$sig: $left processes left"
done
set +m

# ---- nothing left behind ----------------------------------------------------------------
left=$(ours)
[ "$left" -eq 0 ] && ok "no mproc process left" || bad "$left mproc processes left"
[ -z "$(jobs -p)" ] && ok "no child of the test left" || bad "children left: $(jobs -p)"
new_shm=$(comm -13 <(echo "$shm_before") <(shm_list))
[ -z "$new_shm" ] && ok "nothing new in /dev/shm" || bad "new in /dev/shm: $new_shm"

echo "# $pass passed, $fail failed"
[ "$fail" -eq 0 ]
