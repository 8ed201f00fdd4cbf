#!/usr/bin/env bash
# Builds the libFuzzer targets under Fuzz/ with the fuzzer and address sanitizers and runs each for a
# stated time, starting from its committed seeds (Fuzz/corpus/<target>/). Prints the executions of
# every target and, for any crash, hang, leak or out-of-memory, libFuzzer's report and the input it
# saved; exits 1 when any target failed.
#
#   scripts/fuzz.sh [--seconds N] [--release] [TARGET...]
#
# TARGET: npy, idx, safetensors, keyfile, model-json, clients, request (default: all). --seconds
# defaults to 30 per target. --release builds optimised (-c release): many times the executions per
# second, for a longer build. FUZZ_WORK (default Fuzz/.work) keeps each target's grown corpus
# between runs (FUZZ_WORK/<target>/corpus/), its logs and the failing inputs
# (FUZZ_WORK/<target>/crash-…); FUZZ_ARGS adds libFuzzer options.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(npy idx safetensors keyfile model-json clients request)
seconds=30
configuration=debug
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
        --seconds=*) seconds="${1#--seconds=}"; shift ;;
        --release) configuration=release; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
        *)
            if [[ " ${all_targets[*]} " != *" $1 "* ]]; then
                echo "fuzz: unknown target '$1' (expected one of: ${all_targets[*]})" >&2; exit 2
            fi
            targets+=("$1"); shift ;;
    esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: --seconds expects a positive whole number, found '$seconds'" >&2; exit 2; }
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

work="${FUZZ_WORK:-Fuzz/.work}"
flags=(-Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing)
echo "fuzz: building ${targets[*]} ($configuration) with -sanitize=fuzzer,address"
build_start=$SECONDS

for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    # The linker's warnings about ASan's local symbols are many and harmless; the log keeps them.
    if ! swift build --package-path Fuzz -c "$configuration" "${flags[@]}" --product "fuzz-$t" >"$work/$t/build.log" 2>&1; then
        grep -v "Cannot export local symbol" "$work/$t/build.log" | tail -40
        echo "fuzz: building fuzz-$t failed" >&2
        exit 1
    fi
done
echo "fuzz: built in $((SECONDS - build_start)) s"

# libFuzzer options: a hang is an input that takes over 10 s; memory is capped so that a bomb is a failure.
# -print_funcs=0: symbolising each newly covered function is slower than fuzzing.
options=(-max_total_time="$seconds" -print_funcs=0 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 ${FUZZ_ARGS:-})
failed=()
printf '%-12s %12s %8s %10s  %s\n' target executions seconds "exec/s" result
for t in "${targets[@]}"; do
    mkdir -p "$work/$t/corpus"
    log="$work/$t/last-run.log"
    start=$SECONDS
    status=0
    # ASan's leak checker runs at exit; libFuzzer reports leaks per input with -detect_leaks (on by default).
    "Fuzz/.build/$configuration/fuzz-$t" "${options[@]}" -artifact_prefix="$work/$t/" "$work/$t/corpus" "Fuzz/corpus/$t" >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [ "$status" = 0 ]; then
        result="ok"
    else
        result="FAILED (exit $status): $(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-z-]+|ERROR: libFuzzer: [a-z-]+|Fatal error[^\n]*|deadly signal|timeout' "$log" || echo see log)"
        failed+=("$t")
    fi
    printf '%-12s %12s %8s %10s  %s\n' "$t" "${runs:-?}" "$((SECONDS - start))" "${rate:-?}" "$result"
    if [ "$status" != 0 ]; then
        echo "---- fuzz-$t: end of $log"
        grep -v "^#[0-9]" "$log" | tail -40
        echo "---- saved inputs:"; ls "$work/$t"/crash-* "$work/$t"/timeout-* "$work/$t"/leak-* "$work/$t"/oom-* 2>/dev/null || true
    fi
done
passed=$((${#targets[@]} - ${#failed[@]}))
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}"
    echo "fuzz: $passed passed, ${#failed[@]} failed"
    exit 1
fi
echo "fuzz: no crash, hang, leak or out-of-memory"
echo "fuzz: $passed passed, 0 failed"
