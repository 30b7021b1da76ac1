#!/usr/bin/env bash
# 0102-fixture-latency: injected latency (fixed plus uniform jitter) is
# observed by clients, and it never blocks the server's loop (concurrent
# requests overlap their delays).
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
. "$SC_SOURCE_DIR/tests/fixtures/model_server/e2e-helpers.bash"
command -v curl >/dev/null || skip "curl not installed"
[ -x "$SC_BUILD_DIR/txgen" ] || skip "txgen fixture not built"

TXN='{"txn_id":"t0000001","amount":42.5}'
in_range() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN{exit !(x >= lo && x < hi)}'; }

# Fixed latency.
start_model fixed --latency-ms 150
curl -s -o /dev/null -d "$TXN" "$fixed_url/x" # warm-up
for i in 1 2 3; do
  s=$(curl -s -o /dev/null -w '%{time_total}' -d "$TXN" "$fixed_url/x")
  in_range "$s" 0.145 0.8 || fail "--latency-ms 150: request took $s s"
done
# /stats is never delayed.
s=$(curl -s -o /dev/null -w '%{time_total}' "$fixed_url/stats")
in_range "$s" 0 0.1 || fail "/stats took $s s"

# Jitter: every delay in [fixed, fixed + jitter], and they vary.
start_model jit --latency-ms 40 --latency-jitter-ms 120 --seed 4
times=$(for i in $(seq 1 12); do curl -s -o /dev/null -w '%{time_total}\n' -d "$TXN" "$jit_url/x"; done)
awk 'NR==1{mn=$1; mx=$1} {if($1<mn)mn=$1; if($1>mx)mx=$1} END{exit !(mn >= 0.038 && mx < 0.6 && mx - mn > 0.03)}' <<<"$times" \
  || fail "jitter 40+[0,120) ms gave: $(tr '\n' ' ' <<<"$times")"

# The delay is a timer, not a sleep: 40 requests of 250 ms over 20
# connections take about 0.5 s, not 10 s.
start_model par --latency-ms 250
t0=$(date +%s%N)
"$SC_BUILD_DIR/txgen" --count 40 --connections 20 --send "$par_url/v1/score" >"$T/par.sum" 2>"$T/par.txerr" \
  || fail "txgen against the delayed server: $(cat "$T/par.txerr")"
el=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$el" -ge 480 ] && [ "$el" -lt 3000 ] || fail "40 requests x 250 ms over 20 connections took $el ms"
grep -q "answered=40 ok=40" "$T/par.sum" || fail "txgen summary: $(cat "$T/par.sum")"
stats=$(curl -s "$par_url/stats")
[ "$(field "$stats" max_connections_open)" = 20 ] || fail "expected 20 concurrent connections: $stats"

stop_all_checked
pass
