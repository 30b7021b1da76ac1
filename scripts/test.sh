#!/usr/bin/env bash
# test.sh - the README's test command: installs dependencies, builds the normal
# and the sanitizer (ASan+UBSan) builds, runs every test (Criterion unit
# tests and end-to-end scripts) in both through ctest, then runs each fuzz
# target briefly (clang + libFuzzer).
#
#   scripts/test.sh                    everything
#   SC_SKIP_DEPS=1 scripts/test.sh     do not run install-deps.sh
#   SC_WITH_BROWSER=0 scripts/test.sh  do not install chromium (the report test then skips its browser part)
#   SC_ONLY=normal|asan|fuzz           one phase only
#   SC_CTEST_ARGS="-R capture"         extra ctest arguments
#   SC_FUZZ_SECONDS=30                 seconds per fuzz target (0 skips fuzzing)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
jobs=$(nproc 2>/dev/null || echo 2)

if [ "${SC_SKIP_DEPS:-0}" != 1 ]; then
  SC_WITH_BROWSER=${SC_WITH_BROWSER:-1} bash scripts/install-deps.sh || { echo "test.sh: dependency installation failed" >&2; exit 1; }
fi

total_pass=0
total_fail=0
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_build() {
  local name=$1; shift
  local dir="$here/build${name:+-$name}"
  echo "== configure $dir ($*)"
  if ! cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$log" 2>&1; then
    cat "$log"; echo "test.sh: configure failed: $dir" >&2; return 1
  fi
  echo "== build $dir"
  if ! cmake --build "$dir" -j "$jobs" >"$log" 2>&1; then
    grep -vE '^\[ *[0-9]+%\]' "$log" | tail -60; echo "test.sh: build failed: $dir" >&2; return 1
  fi
  echo "== test $dir"
  # shellcheck disable=SC2086
  (cd "$dir" && ctest --output-on-failure -j "$jobs" ${SC_CTEST_ARGS:-}) 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [ -n "$line" ]; then
    local failed totaln
    failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    totaln=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
    total_pass=$((total_pass + totaln - failed))
    total_fail=$((total_fail + failed))
  fi
  return "$rc"
}

only=${SC_ONLY:-all}
if [ "$only" = all ] || [ "$only" = normal ]; then
  run_build "" || status=1
fi
if [ "$only" = all ] || [ "$only" = asan ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  run_build asan -DSC_SANITIZE=ON || status=1
fi
if { [ "$only" = all ] || [ "$only" = fuzz ]; } && [ "${SC_FUZZ_SECONDS:-30}" != 0 ] && [ -x scripts/fuzz.sh ]; then
  if command -v clang >/dev/null; then
    for src in tests/fuzz/fuzz_*.c; do
      [ -e "$src" ] || continue
      t=$(basename "$src" .c); t=${t#fuzz_}
      echo "== fuzz $t (${SC_FUZZ_SECONDS:-30}s)"
      if bash scripts/fuzz.sh "$t" "${SC_FUZZ_SECONDS:-30}"; then
        total_pass=$((total_pass + 1))
      else
        total_fail=$((total_fail + 1)); status=1; echo "test.sh: fuzz target $t failed" >&2
      fi
    done
  else
    echo "test.sh: clang not found, fuzzing skipped"
  fi
fi
if [ $status -eq 0 ]; then echo "test.sh: all builds and tests passed"; else echo "test.sh: FAILED" >&2; fi
echo "$total_pass passed, $total_fail failed"
exit $status
