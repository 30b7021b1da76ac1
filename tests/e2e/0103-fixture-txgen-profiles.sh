#!/usr/bin/env bash
# 0103-fixture-txgen-profiles: txgen generates deterministic labelled
# traffic; sent to the fixture model server, each profile meets its target on
# 20k transactions (v1 FPR ~2%, v2-bad ~12%, v2-good within 0.3 points of v1,
# v2-same identical to v1), and the server's answers agree with txgen --eval.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
. "$SC_SOURCE_DIR/tests/fixtures/model_server/e2e-helpers.bash"
TX=$SC_BUILD_DIR/txgen
[ -x "$TX" ] || skip "txgen fixture not built"
in_range() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN{exit !(x >= lo && x <= hi)}'; }
kv() { sed -n "s/.*\<$2=\([^ ]*\).*/\1/p" <<<"$1"; }

# Labels: deterministic per seed, CSV and JSON lines, unique ids, ~5% fraud.
"$TX" --count 20000 --seed 11 --eval --labels "$T/a.csv" >/dev/null || fail "txgen --eval"
"$TX" --count 20000 --seed 11 --eval --labels "$T/b.csv" >/dev/null || fail "txgen --eval"
"$TX" --count 20000 --seed 12 --eval --labels "$T/c.csv" >/dev/null || fail "txgen --eval"
cmp -s "$T/a.csv" "$T/b.csv" || fail "same seed, different labels"
cmp -s "$T/a.csv" "$T/c.csv" && fail "different seeds, same labels"
[ "$(head -1 "$T/a.csv")" = "txn_id,label" ] || fail "CSV header: $(head -1 "$T/a.csv")"
[ "$(wc -l <"$T/a.csv")" = 20001 ] || fail "CSV should have 20000 rows"
[ "$(sed 1d "$T/a.csv" | cut -d, -f1 | sort -u | wc -l)" = 20000 ] || fail "txn_ids not unique"
sed -n 2p "$T/a.csv" | grep -qx 't0000001,\(fraud\|legit\)' || fail "first row: $(sed -n 2p "$T/a.csv")"
nf=$(grep -c ',fraud$' "$T/a.csv")
[ "$nf" -ge 850 ] && [ "$nf" -le 1150 ] || fail "fraud share: $nf of 20000"
"$TX" --count 5 --seed 11 --eval --labels "$T/a.jsonl" >/dev/null || fail "txgen jsonl"
[ "$(head -1 "$T/a.jsonl")" = "{\"txn_id\":\"t0000001\",\"label\":\"$(sed -n 2p "$T/a.csv" | cut -d, -f2)\"}" ] \
  || fail "JSON lines label: $(head -1 "$T/a.jsonl")"
"$TX" --count 100 --fraud-rate 0.5 --eval --labels "$T/h.csv" --labels-format csv >/dev/null
nh=$(grep -c ',fraud$' "$T/h.csv"); [ "$nh" -ge 30 ] && [ "$nh" -le 70 ] || fail "--fraud-rate 0.5: $nh of 100"

# Usage errors.
"$TX" --send http://127.0.0.1:1/ >/dev/null 2>&1; expect_status 2 $? "no --count"
"$TX" --count 1 --send http://x:1/ --eval >/dev/null 2>&1; expect_status 2 $? "two modes"
"$TX" --count 1 --send https://127.0.0.1:1/ >/dev/null 2>&1; expect_status 2 $? "https URL"
"$TX" --count 1 --send http://127.0.0.1:1/ >/dev/null 2>&1; expect_status 1 $? "unreachable server"

# Each profile through a live server, 20k transactions (10k in the sanitizer
# build, which is 4x slower; the targets hold at both sizes for this seed),
# 8 connections; the four run side by side.
N=20000
[ "${SC_SANITIZE:-0}" = 1 ] && N=10000
declare -A FPR TPR FP TP
for p in v1 v2-same v2-good v2-bad; do
  n=${p//-/_}
  start_model "s$n" --profile "$p" --quiet
  url_var="s${n}_url"
  start_bg "tx$n" "$TX" --count $N --seed 11 --connections 8 --send "${!url_var}/v1/score"
done
for p in v1 v2-same v2-good v2-bad; do
  n=${p//-/_}; pid_var="tx${n}_pid"
  wait_for 50 bash -c "! kill -0 ${!pid_var} 2>/dev/null" || fail "txgen --send to $p still running after 50 s"
  wait "${!pid_var}" || fail "txgen --send to $p failed: $(cat "$T/tx$n.err")"
  sum=$(cat "$T/tx$n.out")
  grep -q "sent=$N answered=$N ok=$N errors=0" <<<"$sum" || fail "$p: not all answered: $sum"
  FPR[$p]=$(kv "$sum" fpr); TPR[$p]=$(kv "$sum" tpr); FP[$p]=$(kv "$sum" fp); TP[$p]=$(kv "$sum" tp)
  echo "$p: $sum"
done
in_range "${FPR[v1]}" 0.015 0.025 || fail "v1 FPR ${FPR[v1]} not ~2%"
in_range "${TPR[v1]}" 0.70 0.85 || fail "v1 TPR ${TPR[v1]} not in 70-85%"
in_range "${FPR[v2-bad]}" 0.10 0.14 || fail "v2-bad FPR ${FPR[v2-bad]} not ~12%"
in_range "${TPR[v2-bad]}" "${TPR[v1]}" "$(awk -v t="${TPR[v1]}" 'BEGIN{print t+0.10}')" \
  || fail "v2-bad TPR ${TPR[v2-bad]} should be v1's ${TPR[v1]} or a bit higher"
d=$(awk -v a="${FPR[v2-good]}" -v b="${FPR[v1]}" 'BEGIN{print a-b}')
in_range "$d" -0.003 0.003 || fail "v2-good FPR ${FPR[v2-good]} not within 0.3 points of v1 ${FPR[v1]}"
[ "${FP[v2-same]}/${TP[v2-same]}" = "${FP[v1]}/${TP[v1]}" ] || fail "v2-same differs from v1"

# The live answers agree with the offline scoring.
ev=$("$TX" --count $N --seed 11 --eval)
for p in v1 v2-bad; do
  line=$(grep "profile=$p " <<<"$ev")
  [ "$(kv "$line" fp)/$(kv "$line" tp)" = "${FP[$p]}/${TP[$p]}" ] || fail "$p: --eval ($line) != server"
done

# Failures: answered errors are answers (exit 0); resets and timeouts are not (exit 1).
start_model err --error-rate 1
sum=$("$TX" --count 10 --send "$err_url/x" 2>/dev/null) || fail "txgen should accept 500 answers"
grep -q "sent=10 answered=10 ok=0 errors=10" <<<"$sum" || fail "500 answers summary: $sum"
start_model rst --misbehave reset
"$TX" --count 10 --send "$rst_url/x" >/dev/null 2>&1; expect_status 1 $? "txgen against resets"
start_model hang --misbehave hang
t0=$(date +%s%N)
"$TX" --count 2 --timeout 0.3 --send "$hang_url/x" >/dev/null 2>&1; expect_status 1 $? "txgen against a hung server"
el=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$el" -lt 3000 ] || fail "--timeout 0.3 took $el ms"

# --rate paces sending: 60 requests at 200/s take about 0.3 s.
t0=$(date +%s%N)
"$TX" --count 60 --rate 200 --connections 2 --send "$sv1_url/v1/score" >/dev/null 2>&1 || fail "--rate run"
el=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$el" -ge 280 ] && [ "$el" -lt 2000 ] || fail "60 requests at 200/s took $el ms"

# --out: a synthetic traffic file with the profile's answers and the same labels.
"$TX" --count 500 --seed 11 --out "$T/v1.shdw" --profile v2-bad --noise-field request_id \
  --labels "$T/out.csv" 2>"$T/out.err" || fail "txgen --out: $(cat "$T/out.err")"
[ "$(stat -c %a "$T/v1.shdw")" = 600 ] || fail "traffic file mode $(stat -c %a "$T/v1.shdw")"
head -501 "$T/a.csv" | cmp -s - "$T/out.csv" || fail "--out labels differ from --send labels for the same seed"
"$SHADOWCTL" inspect --validate "$T/v1.shdw" >/dev/null 2>"$T/insp.err" \
  || fail "shadowctl inspect --validate rejects txgen's file: $(cat "$T/insp.err")"
n=$("$SHADOWCTL" inspect --count "$T/v1.shdw") || fail "inspect --count"
[ "$n" = 500 ] || fail "traffic file holds '$n' exchanges, expected 500"
"$SHADOWCTL" inspect --json --limit 1 "$T/v1.shdw" >"$T/first.json" || fail "inspect --json"
grep -q 't0000001' "$T/first.json" && grep -q 'v2-bad' "$T/first.json" && grep -q 'request_id' "$T/first.json" \
  || fail "first recorded exchange lacks the request or the profile's answer: $(head -c 600 "$T/first.json")"

stop_all_checked
pass
