#!/usr/bin/env bash
# fuzz.sh TARGET SECONDS - builds build-fuzz (clang, -DSC_FUZZ=ON) and runs the
# libFuzzer target build-fuzz/fuzz_TARGET for SECONDS (default 60) with the
# seeds in tests/fuzz/corpus/TARGET/. New corpus entries stay in
# build-fuzz/corpus-TARGET/ (not in the source tree). Every crash, leak,
# timeout or out-of-memory input found is copied to
# tests/fixtures/regress/fuzz_TARGET-<kind>-<sha1> so it becomes a regression
# input (commit it and make the target's unit test replay it).
# Exit status: 0 no finding, 1 finding (copied), 2 usage or build error.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-}
secs=${2:-60}
if [ -z "$target" ] || ! [[ "$secs" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh TARGET [SECONDS]   (targets: $(ls "$root"/tests/fuzz/fuzz_*.c 2>/dev/null | sed 's|.*/fuzz_||; s|\.c$||' | tr '\n' ' '))" >&2
  exit 2
fi
[ -f "$root/tests/fuzz/fuzz_$target.c" ] || { echo "fuzz.sh: no tests/fuzz/fuzz_$target.c" >&2; exit 2; }
command -v clang >/dev/null || { echo "fuzz.sh: clang is required" >&2; exit 2; }
build=$root/build-fuzz
CC=clang cmake -S "$root" -B "$build" -DSC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
cmake --build "$build" -j2 --target "fuzz_$target" >"$build/fuzz_$target.build.log" 2>&1 || {
  tail -30 "$build/fuzz_$target.build.log" >&2; echo "fuzz.sh: build failed" >&2; exit 2; }
work=$build/corpus-$target
art=$build/artifacts-$target
mkdir -p "$work" "$art"
seeds=$root/tests/fuzz/corpus/$target
[ -d "$seeds" ] || seeds=
echo "fuzz.sh: running fuzz_$target for ${secs}s (corpus $work${seeds:+, seeds $seeds})"
"$build/fuzz_$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
  -artifact_prefix="$art/" -print_final_stats=1 "$work" ${seeds:+"$seeds"} 2>&1 | tail -25
found=0
mkdir -p "$root/tests/fixtures/regress"
for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
  [ -e "$f" ] || continue
  kind=$(basename "$f" | cut -d- -f1)
  dst=$root/tests/fixtures/regress/fuzz_$target-$kind-$(sha1sum "$f" | cut -c1-12)
  cp "$f" "$dst" && echo "fuzz.sh: finding copied to ${dst#$root/}"
  found=1
done
[ $found = 0 ] && echo "fuzz.sh: no finding"
exit $found
