#!/usr/bin/env bash
# traffic.sh [N] [BUILD_DIR] - traffic file write/read throughput (not run by CI).
# Writes N (default 500000) synthetic exchanges with mkshdw (plain and zstd),
# then times `shadowctl inspect --count` (full parse of every frame) against
# the raw ceilings: `cat FILE >/dev/null` for plain and `zstd -dc FILE` for
# compressed files. Prints rates, ratios and peak RSS.
set -eu
n=${1:-500000}
root=$(cd "$(dirname "$0")/../.." && pwd)
b=${2:-$root/build-traffic}
mk=$b/mkshdw sc=$b/shadowctl
[ -x "$mk" ] && [ -x "$sc" ] || { echo "build $b first (mkshdw, shadowctl)" >&2; exit 2; }
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
for mode in plain zstd; do
  flag=; [ $mode = plain ] && flag=--no-compress
  s=$(now); /usr/bin/time -f %M -o "$t/w.rss" "$mk" -o "$t/f.shdw" --count "$n" $flag; e=$(now)
  w=$(awk -v a="$s" -v b="$e" 'BEGIN { print b - a }')
  size=$(stat -c %s "$t/f.shdw")
  s=$(now); /usr/bin/time -f %M -o "$t/r.rss" "$sc" inspect --count "$t/f.shdw" >/dev/null; e=$(now)
  r=$(awk -v a="$s" -v b="$e" 'BEGIN { print b - a }')
  s=$(now)
  if [ $mode = plain ]; then cat "$t/f.shdw" >/dev/null; peer="cat"; else zstd -dc --no-check <(tail -c +9 "$t/f.shdw") >/dev/null 2>&1 || true; peer="zstd -dc"; fi
  e=$(now)
  p=$(awk -v a="$s" -v b="$e" 'BEGIN { print b - a }')
  echo "$mode: $n exchanges, $((size / n)) B/exchange on disk"
  echo "  write (mkshdw, incl. generation): $(rate "$n" "$w") exchanges/s, peak RSS $(cat "$t/w.rss") KB"
  echo "  read  (inspect --count):          $(rate "$n" "$r") exchanges/s, peak RSS $(cat "$t/r.rss") KB"
  echo "  peer  ($peer):                $(rate "$n" "$p") exchanges/s-equivalent; ratio read/peer $(awk -v a="$p" -v b="$r" 'BEGIN { printf "%.3f", a / b }')"
done
