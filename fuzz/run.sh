#!/usr/bin/env bash
# fuzz/run.sh - builds the libFuzzer harnesses with clang and runs each for a bounded time.
#
# usage: fuzz/run.sh [SECONDS] [HARNESS...]
#   SECONDS   how long each harness runs (-max_total_time), default 30
#   HARNESS   fuzz_attach, fuzz_cli_args (default: both)
#
# Built outside meson (so that the normal builds need no clang): the library sources
# listed in lib/meson.build are compiled with -fsanitize=fuzzer-no-link,address,undefined
# into build-fuzz/, and each harness is linked with -fsanitize=fuzzer. The seed corpus
# fuzz/corpus/HARNESS/ is read; new inputs go to build-fuzz/corpus/HARNESS/ (not the
# repository), crashes to build-fuzz/artifacts/. Exit status 0 when no harness found a
# crash, leak or timeout; 1 otherwise (the reproducer is named; run it with
# build-fuzz/HARNESS FILE). Needs clang with compiler-rt (Debian: apt-get install clang).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-30}
[ $# -gt 0 ] && shift
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(fuzz_attach fuzz_cli_args)
CC=${CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz: $CC not found (apt-get install clang)" >&2
    exit 1
fi

B=build-fuzz
mkdir -p "$B/include" "$B/obj" "$B/artifacts"

# mproc_version.h, as meson's configure_file makes it
version=$(sed -n "s/^ *version *: *'\([0-9][0-9.]*\)'.*/\1/p" meson.build | head -1)
IFS=. read -r major minor patch <<<"$version"
sed -e "s/@MPROC_VERSION@/$version/" -e "s/@MPROC_VERSION_MAJOR@/$major/" \
    -e "s/@MPROC_VERSION_MINOR@/$minor/" -e "s/@MPROC_VERSION_PATCH@/$patch/" \
    lib/include/mproc_version.h.in >"$B/include/mproc_version.h.tmp"
cmp -s "$B/include/mproc_version.h.tmp" "$B/include/mproc_version.h" ||
    mv "$B/include/mproc_version.h.tmp" "$B/include/mproc_version.h"
rm -f "$B/include/mproc_version.h.tmp"

CFLAGS=(-g -O1 -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Wall -Wextra
        -Ilib/include "-I$B/include" -Ilib)
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)

# the library, instrumented for coverage (sources as lib/meson.build lists them)
mapfile -t srcs < <(sed -n "s/^ *'\(src\/[A-Za-z0-9_]*\.c\)',\{0,1\} *$/lib\/\1/p" lib/meson.build)
[ ${#srcs[@]} -gt 0 ] || { echo "fuzz: no sources found in lib/meson.build" >&2; exit 1; }
objs=()
for s in "${srcs[@]}"; do
    o="$B/obj/$(basename "${s%.c}").o"
    if [ ! -e "$o" ] || [ "$s" -nt "$o" ] || [ lib/include/mproc.h -nt "$o" ] ||
        [ lib/src/internal.h -nt "$o" ]; then
        "$CC" "${CFLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer-no-link -DMPROC_BUILDING \
            -fvisibility=hidden -c "$s" -o "$o"
    fi
    objs+=("$o")
done
rm -f "$B/libmproc-fuzz.a"
ar rcs "$B/libmproc-fuzz.a" "${objs[@]}"

build() { # build NAME EXTRA_SOURCES...
    local name=$1
    shift
    "$CC" "${CFLAGS[@]}" -Itools "${SAN[@]}" -fsanitize=fuzzer "fuzz/$name.c" "$@" \
        "$B/libmproc-fuzz.a" -lpthread -lrt -lm -ldl -o "$B/$name"
}
build fuzz_attach
build fuzz_cli_args tools/cli_util.c tools/cli_segments.c tools/cli_args.c tools/cli_create.c \
    tools/cli_map.c tools/cli_show.c

status=0
for h in "${harnesses[@]}"; do
    case $h in
    fuzz_attach) extra=(-max_len=4096) ;;
    fuzz_cli_args) extra=(-max_len=2048 -close_fd_mask=3) ;; # its usage texts and errors
    *) echo "fuzz: unknown harness $h" >&2; exit 2 ;;
    esac
    mkdir -p "$B/corpus/$h"
    echo "fuzz: $h for ${secs}s"
    log="$B/$h.log"
    if "$B/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$B/artifacts/$h-" "${extra[@]}" "$B/corpus/$h" "fuzz/corpus/$h" \
        >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        echo "fuzz: $h ok: ${runs:-?} runs, $cov, corpus $(ls "$B/corpus/$h" | wc -l) files"
    else
        status=1
        echo "fuzz: $h FAILED; the end of $log:"
        tail -40 "$log"
        ls -1 "$B"/artifacts/"$h"-* 2>/dev/null | sed 's/^/fuzz: reproducer: /'
    fi
    rm -f /dev/shm/mproc-fuzz-* # what an input that crashed may have left
done
exit $status
