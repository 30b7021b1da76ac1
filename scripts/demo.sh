#!/usr/bin/env bash
# demo.sh - the README's main job. Tells the story shadowctl exists for:
#
#   a fraud model v1 (false-positive rate ~2%) is in production; a candidate
#   v2 (false-positive rate ~12%, and slower) wants to replace it. We record
#   real traffic to v1, replay it against v1 and v2, import the ground-truth
#   labels, write the review-board report, and let the gate block v2. Then a
#   good candidate goes through the same pipeline and passes.
#
# Everything runs on 127.0.0.1 with the fixture model server. Installs what is
# missing, builds, can be run twice in a row, stops every process it starts.
#
#   scripts/demo.sh                  full demo, output in demo-out/
#   SC_DEMO_OUT=DIR scripts/demo.sh  another output directory
#   SC_DEMO_COUNT=N                  transactions to record (default 4000)
#   SC_DEMO_RATE=N                   replay rate per second (default 400)
#   SC_SKIP_DEPS=1                   do not run install-deps.sh
#   SC_NO_BUILD=1 SC_BUILD_DIR=DIR   use an existing build (the e2e test does)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
out=${SC_DEMO_OUT:-$here/demo-out}
count=${SC_DEMO_COUNT:-4000}
rate=${SC_DEMO_RATE:-400}
build=${SC_BUILD_DIR:-$here/build}
export SHADOWCTL_NO_TTY=${SHADOWCTL_NO_TTY:-}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '==> %s\n' "$*"; }

if [ "${SC_SKIP_DEPS:-0}" != 1 ]; then
  say "installing dependencies (Debian packages)"
  bash scripts/install-deps.sh
fi
if [ "${SC_NO_BUILD:-0}" != 1 ]; then
  say "building shadowctl"
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$(nproc)" --target shadowctl model_server txgen >/dev/null
fi
sc="$build/shadowctl"
ms="$build/model_server"
txgen="$build/txgen"

rm -rf "$out"
mkdir -p "$out/logs"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT

# start_model NAME ARGS... -> ${NAME}_url
start_model() {
  local name=$1; shift
  "$ms" --port 0 --quiet "$@" >"$out/logs/$name.out" 2>"$out/logs/$name.err" &
  pids+=($!)
  for _ in $(seq 1 100); do grep -q '^listening on' "$out/logs/$name.out" && break; sleep 0.1; done
  local port
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out/logs/$name.out" | head -1)
  [ -n "$port" ] || { echo "demo: model server $name did not start: $(cat "$out/logs/$name.err")" >&2; exit 1; }
  printf -v "${name}_url" 'http://127.0.0.1:%s' "$port"
  printf -v "${name}_port" '%s' "$port"
}

say "starting model servers on 127.0.0.1"
start_model current   --profile v1      --model-version v1      --latency-ms 4 --latency-jitter-ms 2 --noise-field request_id --seed 11
start_model secondary --profile v1      --model-version v1      --latency-ms 4 --latency-jitter-ms 2 --noise-field request_id --seed 12
start_model bad       --profile v2-bad  --model-version v2-rc1  --latency-ms 7 --latency-jitter-ms 3 --noise-field request_id --seed 13
start_model good      --profile v2-good --model-version v2-rc2  --latency-ms 4 --latency-jitter-ms 2 --noise-field request_id --seed 14
echo "    current v1 $current_url, secondary v1 $secondary_url, candidate v2-rc1 $bad_url, candidate v2-rc2 $good_url"

traffic="$out/traffic.shdw"
labels="$out/labels.csv"
say "recording $count transactions sent to v1 (shadowctl capture -i lo)"
captured=0
if "$sc" capture -i lo --port "$current_port" -o "$traffic" >"$out/logs/capture.out" 2>"$out/logs/capture.err" &
then
  cap_pid=$!
  pids+=("$cap_pid")
  sleep 1
  if kill -0 "$cap_pid" 2>/dev/null; then
    "$txgen" --count "$count" --seed 7 --labels "$labels" --send "$current_url/v1/score" --connections 4 >"$out/logs/txgen.out" 2>&1
    sleep 0.5
    kill -INT "$cap_pid"
    wait "$cap_pid" && captured=1 || true
  fi
fi
if [ "$captured" != 1 ]; then
  echo "    live capture is not permitted here ($(tail -1 "$out/logs/capture.err" 2>/dev/null)); recording the same traffic with txgen --out instead"
  "$txgen" --count "$count" --seed 7 --labels "$labels" --out "$traffic" --profile v1 >"$out/logs/txgen.out" 2>&1
fi
n=$("$sc" inspect --count "$traffic")
echo "    $n exchanges in $traffic ($(du -h "$traffic" | cut -f1)); first three:"
"$sc" inspect --limit 3 "$traffic" | sed 's/^/      /'

db="$out/results.db"
cfg="$here/scripts/demo.shadow.yaml"

gate_story() { # label candidate_url expect
  local label=$1 url=$2
  say "shadow replay: every request to v1 (current), v1 (secondary, for noise) and $label"
  "$sc" replay "$traffic" --shadow --current "$current_url" --candidate "$url" --secondary "$secondary_url" \
       --db "$db" --config "$cfg" --rate "$rate/s" --no-progress 2>"$out/logs/replay-$label.err" | sed 's/^/    /'
  "$sc" labels import --db "$db" "$labels" --key-column txn_id --label-column label --positive fraud | sed 's/^/    /'
  "$sc" analyze --db "$db" --config "$cfg" >"$out/analyze-$label.txt"
  "$sc" report --db "$db" --config "$cfg" -o "$out/report-$label.html"
  "$sc" report --db "$db" --config "$cfg" --format markdown -o "$out/summary-$label.md"
  set +e
  "$sc" gate --db "$db" --config "$cfg" --verdict "$out/verdict-$label.json" | tee "$out/gate-$label.txt" | sed 's/^/    /'
  gate_status=${PIPESTATUS[0]}
  set -e
}

gate_story v2-rc1 "$bad_url"
bad_status=$gate_status
say "canary replay: 5% of requests answered by v2-rc1, chosen by a hash of txn_id"
"$sc" replay "$traffic" --canary 5% --current "$current_url" --candidate "$bad_url" \
     --db "$db" --config "$cfg" --rate "$rate/s" --no-progress 2>"$out/logs/replay-canary.err" | sed 's/^/    /'
"$sc" analyze --db "$db" --config "$cfg" >"$out/analyze-canary.txt"   # again, now that labels exist
"$sc" report --db "$db" --config "$cfg" -o "$out/report-canary-v2-rc1.html"
canary_n=$(sqlite3 "$db" "SELECT count(*) FROM responses WHERE run_id = (SELECT max(id) FROM runs) AND target = 'candidate'" 2>/dev/null || echo '?')
set +e
"$sc" gate --db "$db" --config "$cfg" --verdict "$out/verdict-canary-v2-rc1.json" >"$out/gate-canary-v2-rc1.txt"
canary_status=$?
set -e
echo "    the candidate answered $canary_n of $n requests; gate exit $canary_status: $(tail -1 "$out/gate-canary-v2-rc1.txt")"
gate_story v2-rc2 "$good_url"
good_status=$gate_status

echo
say "what happened"
echo "    recorded: $n exchanges; ground truth: $labels"
echo "    v2-rc1 (bad):  gate exit $bad_status $( [ "$bad_status" = 1 ] && echo '(breach: the rollout is blocked, as it should be)')"
case $canary_status in
  1) canary_why='(even on a 5% slice the false-positive jump is caught)' ;;
  3) canary_why='(inconclusive: too few candidate answers to decide)' ;;
  *) canary_why='' ;;
esac
echo "    v2-rc1 at 5% canary: gate exit $canary_status $canary_why"
echo "    v2-rc2 (good): gate exit $good_status $( [ "$good_status" = 0 ] && echo '(pass: safe to roll out)')"
echo "    reports: $out/report-v2-rc1.html  $out/report-canary-v2-rc1.html  $out/report-v2-rc2.html"
echo "    summaries: $out/summary-v2-rc1.md  $out/summary-v2-rc2.md"
echo "    database: sqlite3 $db 'select id, mode, status, requests from runs'"
if [ "$bad_status" = 1 ] && [ "$good_status" = 0 ]; then
  echo "demo: OK (the bad candidate was blocked, the good one passed)"
  exit 0
fi
echo "demo: UNEXPECTED gate results (bad=$bad_status, good=$good_status)" >&2
exit 1
