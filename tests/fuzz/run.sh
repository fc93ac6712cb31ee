#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in a build directory of their own,
# replays every saved crash in tests/fuzz/regressions/<target>/, then fuzzes
# each target for a bounded time starting from tests/fuzz/corpus/<target>/.
# One result line per target; exits non-zero on any crash, leak, undefined
# behaviour, timeout or violated property.
#
#   RG_FUZZ_SECONDS=45       seconds of fuzzing per target (0: replay only)
#   RG_FUZZ_TARGETS="plan …" targets to run (default: all seven)
#   RG_FUZZ_BUILD_DIR=DIR    build directory (default: build-fuzz)
#   RG_FUZZ_KEEP=1           keep the work directory (new inputs, crash files)
#   RG_FUZZ_MERGE=1          merge new coverage into tests/fuzz/corpus/ afterwards
#
# New inputs and crash files go to a temporary work directory, never into the
# source tree unless RG_FUZZ_MERGE=1 is set. A crash file becomes a regression
# test by copying it into tests/fuzz/regressions/<target>/ once it is fixed.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
here=$root/tests/fuzz

seconds=${RG_FUZZ_SECONDS:-45}
targets=${RG_FUZZ_TARGETS:-"plan config origin cursor session signature events"}
build=${RG_FUZZ_BUILD_DIR:-$root/build-fuzz}
cc=${RG_FUZZ_CC:-clang}

# The longest input worth trying per target: a body at the default 16 KiB
# limit, a config file of a few KiB, an Origin header, a cursor of four long
# strings, a session token, and a signature with the pieces it signs.
max_len() {
  case $1 in
    plan) echo 16384 ;;
    config) echo 8192 ;;
    origin) echo 512 ;;
    cursor) echo 6144 ;;
    session) echo 384 ;;
    signature) echo 1024 ;;
    events) echo 2048 ;;
    *) echo 4096 ;;
  esac
}

if ! command -v "$cc" >/dev/null; then
  echo "fuzz: $cc not found; scripts/deps.sh --test installs clang and libclang-rt-14-dev" >&2
  exit 1
fi
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
  echo "fuzz: RG_FUZZ_SECONDS must be a whole number of seconds, got '$seconds'" >&2
  exit 1
fi
cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DRG_FUZZ=ON -DRG_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$build" -j"$(nproc)" --target fuzz >/dev/null || {
  echo "fuzz: build failed; run: cmake --build $build --target fuzz" >&2
  exit 1
}

work=$(mktemp -d /tmp/readgate-fuzz.XXXXXX)
cleanup() {
  if [ "${RG_FUZZ_KEEP:-}" = 1 ]; then echo "fuzz: work directory kept: $work"
  else rm -rf "$work"; fi
}
trap cleanup EXIT
# Leaks are failures (libFuzzer checks after each input that allocated);
# UBSan stops at the first report so the input is saved as a crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
for t in $targets; do
  bin=$build/fuzz_$t
  if [ ! -x "$bin" ]; then
    echo "fuzz $t: FAIL (no such target: $bin)"
    failed=$((failed + 1))
    continue
  fi
  log=$work/$t.log
  # Every saved crash first: each must now run clean.
  regs=()
  if [ -d "$here/regressions/$t" ]; then
    while IFS= read -r -d '' f; do regs+=("$f"); done \
      < <(find "$here/regressions/$t" -type f ! -name '*.md' -print0 | sort -z)
  fi
  if [ ${#regs[@]} -gt 0 ] && ! "$bin" -timeout=10 "${regs[@]}" >"$log.replay" 2>&1; then
    echo "fuzz $t: FAIL (a regression input crashes again)"
    tail -n 40 "$log.replay"
    failed=$((failed + 1))
    continue
  fi
  if [ "$seconds" -eq 0 ]; then
    echo "fuzz $t: ok (${#regs[@]} regression inputs replayed, no fuzzing)"
    continue
  fi
  mkdir -p "$work/corpus/$t" "$work/artifacts"
  dict=()
  [ -f "$here/dict/$t.dict" ] && dict=(-dict="$here/dict/$t.dict")
  # -timeout: an input that takes 10 s is a hang, and a hang is a failure.
  "$bin" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" \
    "${dict[@]}" "$work/corpus/$t" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  corpus=$(sed -n 's/.*DONE .* corp: \([0-9]*\)\/.*/\1/p' "$log" | tail -n 1)
  if [ $rc -ne 0 ] || ! grep -q 'DONE' "$log"; then
    echo "fuzz $t: FAIL after ${runs:-?} runs (exit $rc); input kept in $work/artifacts/"
    grep -m1 -E 'ERROR: |runtime error|property violated|Test unit written' "$log"
    tail -n 60 "$log"
    RG_FUZZ_KEEP=1
    failed=$((failed + 1))
    continue
  fi
  echo "fuzz $t: ok, ${runs:-?} runs in ${seconds} s, ${#regs[@]} regression inputs, corpus ${corpus:-?}"
  if [ "${RG_FUZZ_MERGE:-}" = 1 ]; then
    "$bin" -merge=1 -max_len="$(max_len "$t")" "$here/corpus/$t" "$work/corpus/$t" \
      >"$log.merge" 2>&1 || echo "fuzz $t: merge failed (see $log.merge)"
  fi
done
[ "$failed" -eq 0 ]
