#!/usr/bin/env bash
# test.sh - the README's test command: installs dependencies, builds the normal
# and the sanitizer (ASan+UBSan) builds, and runs every test (unit, end-to-end,
# short fuzz runs) in both through ctest.
#
#   scripts/test.sh              everything
#   SC_SKIP_DEPS=1 scripts/test.sh   do not run install-deps.sh
#   SC_ONLY=normal|asan          one build only
#   SC_CTEST_ARGS="-R capture"   extra ctest arguments
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
jobs=$(nproc 2>/dev/null || echo 2)

if [ "${SC_SKIP_DEPS:-0}" != 1 ]; then
  bash scripts/install-deps.sh
fi

status=0
run_build() {
  local name=$1; shift
  local dir="$here/build${name:+-$name}"
  echo "== configure $dir ($*)"
  cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  echo "== build $dir"
  cmake --build "$dir" -j "$jobs" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
  if [ "${PIPESTATUS[0]}" != 0 ]; then echo "build failed: $dir" >&2; return 1; fi
  echo "== test $dir"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" ${SC_CTEST_ARGS:-}) || return 1
}

only=${SC_ONLY:-all}
if [ "$only" = all ] || [ "$only" = normal ]; then
  run_build "" || status=1
fi
if [ "$only" = all ] || [ "$only" = asan ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  run_build asan -DSC_SANITIZE=ON || status=1
fi
if [ $status -eq 0 ]; then echo "test.sh: all builds and tests passed"; else echo "test.sh: FAILED" >&2; fi
exit $status
