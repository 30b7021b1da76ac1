#!/usr/bin/env bash
# 7001-gate-verdicts: with the fixture model servers,
#   identical candidate (A/A, the same server) -> exit 0
#   candidate with +40% latency               -> exit 1 naming latency_p99_ratio
#   candidate with an FPR jump (v2-bad)       -> exit 1 naming the criterion
#   a run of 20 exchanges                     -> exit 3
#   broken YAML                               -> exit 2 with FILE:LINE:COLUMN
# and --verdict / --junit files are valid (JSON, xmllint).
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
TX=$SC_BUILD_DIR/txgen
[ -x "$TX" ] || skip "txgen not built"
# The sanitizer build's servers are slower: fewer exchanges at a gentler rate.
if [ "${SC_SANITIZE:-0}" = 1 ]; then N=1000 RATE=300/s; else N=2000 RATE=1000/s; fi
"$TX" --count $N --seed 11 --out "$T/t.shdw" --labels "$T/labels.csv" >/dev/null 2>"$T/txgen.err" \
  || fail "txgen: $(cat "$T/txgen.err")"
"$TX" --count 20 --seed 12 --out "$T/small.shdw" >/dev/null 2>&1 || fail "txgen small"
start_model cur --profile v1 --latency-ms 20 --latency-jitter-ms 2
start_model slow --profile v2-same --latency-ms 28 --latency-jitter-ms 2.8
start_model bad --profile v2-bad --latency-ms 20 --latency-jitter-ms 2
cat >"$T/shadow.yaml" <<'YAML'
request_key: "$.txn_id"
criteria:
  - {name: min_exchanges, metric: exchanges, target: all, min: 100}
  - {name: latency_p50_ratio, metric: latency_p50_ratio, max: 1.2, min_samples: 100}
  - {name: latency_p99_ratio, metric: latency_p99_ratio, max: 1.2, min_samples: 100}
  - {name: error_rate_delta, metric: error_rate_delta, max: 0.01, min_samples: 100}
  - {name: decision_flip_rate, metric: decision_flip_rate, max: 0.05, min_samples: 100}
YAML
replay() { # name traffic candidate_url
  "$SHADOWCTL" replay "$2" --current "$cur_url" --candidate "$3" --shadow --rate "$RATE" --concurrency 256 \
    --config "$T/shadow.yaml" --db "$T/$1.db" 2>"$T/$1.replay.err" || fail "replay $1: $(cat "$T/$1.replay.err")"
}
gate() { # name extra...
  local n=$1; shift
  "$SHADOWCTL" gate --db "$T/$n.db" --config "$T/shadow.yaml" "$@" >"$T/$n.gate.out" 2>"$T/$n.gate.err"
}

# A/A: the candidate is the current server itself (two processes on a shared
# 2-core machine can differ by 2x at p99 from CPU contention alone).
replay aa "$T/t.shdw" "$cur_url"
gate aa --verdict "$T/aa.verdict.json" --junit "$T/aa.junit.xml"; st=$?
expect_status 0 $st "A/A gate: $(cat "$T/aa.gate.out" "$T/aa.gate.err")"
grep -q '^verdict: PASS' "$T/aa.gate.out" || fail "A/A verdict line: $(tail -1 "$T/aa.gate.out")"
python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert v["verdict"]=="pass" and len(v["criteria"])==5' \
  "$T/aa.verdict.json" || fail "verdict.json"
if command -v xmllint >/dev/null; then xmllint --noout "$T/aa.junit.xml" || fail "JUnit XML invalid"; fi

if [ "${SC_SANITIZE:-0}" = 1 ]; then
  echo "latency part skipped under sanitizers (timing is dominated by the instrumented client)"
else
replay slow "$T/t.shdw" "$slow_url"
gate slow; st=$?
[ $st = 1 ] || { sqlite3 "$T/slow.db" "select target, count(*), avg(latency_us), sum(status is null) from responses group by 1; select count(*) from exchanges;"; cat "$T/slow.replay.err"; }
expect_status 1 $st "+40% latency gate: $(cat "$T/slow.gate.out" "$T/slow.gate.err")"
grep -qE '^verdict: FAIL \(breached: .*latency_p(50|99)_ratio' "$T/slow.gate.out" || fail "latency breach not named: $(tail -1 "$T/slow.gate.out")"
fi

replay bad "$T/t.shdw" "$bad_url"
"$SHADOWCTL" labels import "$T/labels.csv" --db "$T/bad.db" >/dev/null 2>"$T/labels.err" || fail "labels import: $(cat "$T/labels.err")"
gate bad --criterion 'fpr_delta<=0.02'; st=$?
expect_status 1 $st "FPR jump gate: $(cat "$T/bad.gate.out" "$T/bad.gate.err")"
grep -qE '^verdict: FAIL \(breached: .*fpr_delta' "$T/bad.gate.out" || fail "FPR breach not named: $(tail -1 "$T/bad.gate.out")"

replay small "$T/small.shdw" "$cur_url"
gate small; st=$?
expect_status 3 $st "20 exchanges: $(cat "$T/small.gate.out" "$T/small.gate.err")"
grep -q '^verdict: INCONCLUSIVE' "$T/small.gate.out" || fail "small verdict line"

printf 'criteria:\n  - {name: x, metric: exchanges, min: 100\n  - [oops\n' >"$T/broken.yaml"
"$SHADOWCTL" gate --db "$T/aa.db" --config "$T/broken.yaml" >/dev/null 2>"$T/broken.err"; st=$?
expect_status 2 $st "broken YAML"
grep -qE "broken\.yaml:[0-9]+:[0-9]+" "$T/broken.err" || fail "no FILE:LINE:COLUMN: $(cat "$T/broken.err")"
"$SHADOWCTL" gate --db "$T/aa.db" --criterion 'latency_p99_ratio=<1' >/dev/null 2>&1; expect_status 2 $? "bad criterion"
"$SHADOWCTL" gate --db "$T/nope.db" >/dev/null 2>&1; expect_status 2 $? "missing database"
pass
