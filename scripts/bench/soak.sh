#!/usr/bin/env bash
# soak.sh - replay soak benchmark (not run by CI): SOAK_SECONDS (600) of
# `shadowctl replay --shadow --rate RATE/s --loop` against two fixture model
# servers, RSS of the replay sampled every second; prints the start and end
# RSS and the least-squares slope (kB/min). A flat slope means no leak. The
# replay runs with --no-analyze: the end-of-run analysis is measured by
# scripts/bench/analyze.sh, this measures the replay engine.
#
#   scripts/bench/soak.sh [BUILD_DIR]     env: SOAK_SECONDS, RATE (1000)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$ROOT/build}
SC=$B/shadowctl; MK=$B/mkshdw; MS=$B/model_server
for x in "$SC" "$MK" "$MS"; do [ -x "$x" ] || { echo "missing $x (build first)" >&2; exit 2; }; done
SOAK_SECONDS=${SOAK_SECONDS:-600}
RATE=${RATE:-1000}
T=$(mktemp -d /tmp/sc-soak.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.3; rm -rf "$T"; }
trap cleanup EXIT
export SHADOWCTL_NO_TTY=1
start() { # name args... (not in a subshell: the pid must reach PIDS)
  local n=$1; shift
  "$MS" --port 0 --quiet "$@" >"$T/$n.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 50); do grep -q "^listening" "$T/$n.out" && break; sleep 0.1; done
}
url_of() { sed -n 's/^listening on \(.*\)/http:\/\/\1/p' "$T/$1.out"; }
start cur --latency-ms 2
start cand --latency-ms 2 --profile v2-good --error-rate 0.01
CUR=$(url_of cur)
CAND=$(url_of cand)
"$MK" -o "$T/t.shdw" --count 20000 >/dev/null
"$SC" replay "$T/t.shdw" --current "$CUR" --candidate "$CAND" --shadow --rate "$RATE/s" --loop \
  --duration "${SOAK_SECONDS}s" --no-progress --no-analyze --db "$T/soak.db" 2>"$T/replay.err" &
RP=$!
PIDS+=($RP)
: >"$T/rss"
i=0
while kill -0 "$RP" 2>/dev/null; do
  r=$(awk '/^VmRSS:/ {print $2}' "/proc/$RP/status" 2>/dev/null)
  [ -n "$r" ] && echo "$i $r" >>"$T/rss"
  i=$((i + 1))
  sleep 1
done
wait "$RP"; st=$?
cat "$T/replay.err"
echo "replay exit status $st; db size $(du -h "$T/soak.db" | cut -f1)"
awk 'NR == 1 {s = $2} {n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2; e = $2; if ($2 > m) m = $2}
     END { if (n < 2) { print "too few samples"; exit 1 }
           slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
           # skip the first 10 s warm-up for the steady slope
           printf "RSS: start %d kB, end %d kB, peak %d kB, slope %.1f kB/min over %d samples\n", s, e, m, slope * 60, n }' "$T/rss"
awk '$1 >= 10 {n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2}
     END { if (n > 2) printf "steady slope (after 10 s): %.1f kB/min\n", (n * sxy - sx * sy) / (n * sxx - sx * sx) * 60 }' "$T/rss"
# by quarter of the run: a cache that is still filling flattens out, a leak
# keeps its slope; also the RSS at each quarter's end
awk -v q="$(awk 'END {print NR}' "$T/rss")" '
  { k = int(4 * (NR - 1) / q); n[k]++; sx[k] += $1; sy[k] += $2; sxx[k] += $1 * $1; sxy[k] += $1 * $2; last[k] = $2 }
  END { printf "by quarter (slope kB/min, RSS at end kB):";
        for (k = 0; k < 4; k++) if (n[k] > 2)
          printf " Q%d %.1f (%d)", k + 1, (n[k] * sxy[k] - sx[k] * sy[k]) / (n[k] * sxx[k] - sx[k] * sx[k]) * 60, last[k];
        printf "\n" }' "$T/rss"
