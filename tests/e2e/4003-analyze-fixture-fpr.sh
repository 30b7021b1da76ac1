#!/bin/bash
# 4003-analyze-fixture-fpr.sh - the issue-4 end-to-end scenario with the
# fixture servers: labelled traffic from txgen, replayed in shadow mode against
# model_server v1 (current), v2-bad (candidate: FPR ~2% -> ~12%) and v1 again
# (secondary), every answer carrying a random request_id. analyze must report
# both FPRs inside their intervals, flips that match what the servers
# answered, request_id as noise and score as a regression.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 command-line tool not installed"
[ -x "$SC_BUILD_DIR/txgen" ] || skip "txgen fixture not built"
N=3000
"$SC_BUILD_DIR/txgen" --count $N --seed 11 --labels "$T/labels.csv" --out "$T/traffic.shdw" --profile v1 \
  > "$T/txgen.out" 2> "$T/txgen.err" || fail "txgen: $(cat "$T/txgen.err")"
start_model cur --profile v1 --model-version v1 --noise-field request_id --seed 1 --quiet
start_model cand --profile v2-bad --model-version v1 --noise-field request_id --seed 2 --quiet
start_model sec --profile v1 --model-version v1 --noise-field request_id --seed 3 --quiet
DB=$T/results.db
timeout 120 "$SHADOWCTL" replay --db "$DB" --current "$cur_url/score" --candidate "$cand_url/score" \
  --secondary "$sec_url/score" --shadow --max --concurrency 16 --key '$.txn_id' --no-progress "$T/traffic.shdw" \
  > "$T/replay.out" 2> "$T/replay.err"
rc=$?
[ $rc = 0 ] || fail "replay exited $rc: $(tail -5 "$T/replay.err")"
run=$(sqlite3 "$DB" "SELECT max(id) FROM runs")
[ "$(sqlite3 "$DB" "SELECT count(*) FROM responses WHERE run_id = $run AND target = 'candidate' AND status = 200")" = $N ] \
  || fail "not every request answered by the candidate"
# the analysis ran at the end of the replay (before any 'shadowctl analyze')
[ "$(sqlite3 "$DB" "SELECT count(*) FROM metrics WHERE run_id = $run AND step IS NULL AND name = 'decision_flip_rate'")" = 1 ] \
  || fail "replay did not analyse its run"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM decisions WHERE run_id = $run")" = $((2 * N + N)) ] \
  || fail "replay's analysis stored $(sqlite3 "$DB" "SELECT count(*) FROM decisions WHERE run_id = $run") decisions, want $((3 * N))"
timeout 60 "$SHADOWCTL" replay --db "$DB" --current "$cur_url/score" --candidate "$cand_url/score" --shadow --max \
  --limit 50 --no-analyze --no-progress "$T/traffic.shdw" > /dev/null 2> "$T/replay2.err" || fail "replay --no-analyze: $(tail -3 "$T/replay2.err")"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM metrics WHERE run_id = $run + 1")" = 0 ] || fail "--no-analyze analysed the run"
"$SHADOWCTL" labels import --db "$DB" --key-column txn_id --positive fraud "$T/labels.csv" > "$T/l.out" 2>&1 \
  || fail "labels import: $(cat "$T/l.out")"
grep -q "imported $N labels.*$N matched.*0 unmatched" "$T/l.out" || fail "labels did not all match: $(cat "$T/l.out")"
"$SHADOWCTL" analyze --db "$DB" --run "$run" > "$T/a.out" 2> "$T/a.err" || fail "analyze: $(cat "$T/a.err")"
v() { sqlite3 "$DB" "SELECT $1 FROM metrics WHERE run_id = $run AND step IS NULL AND name = '$2' AND target = '$3'"; }
# the servers' own FPR, from their answers and the labels
srv_fpr() { sqlite3 "$DB" "SELECT avg(json_extract(r.body, '\$.decision') = 'fraud') FROM responses r
  JOIN exchanges e ON e.run_id = r.run_id AND e.seq = r.seq JOIN labels l ON l.request_key = e.request_key
  WHERE r.run_id = $run AND r.target = '$1' AND l.positive = 0"; }
for t in current candidate; do
  want=$(srv_fpr $t)
  ok=$(sqlite3 "$DB" "SELECT ci_lo <= $want AND $want <= ci_hi AND abs(value - $want) < 1e-9 FROM metrics
    WHERE run_id = $run AND step IS NULL AND name = 'fpr' AND target = '$t'")
  [ "$ok" = 1 ] || fail "fpr $t: $(v value fpr $t) [$(v ci_lo fpr $t), $(v ci_hi fpr $t)] vs servers' $want"
done
awk -v a="$(v value fpr current)" 'BEGIN { exit !(a > 0.005 && a < 0.04) }' || fail "current FPR $(v value fpr current) is not ~2%"
awk -v a="$(v value fpr candidate)" 'BEGIN { exit !(a > 0.08 && a < 0.16) }' || fail "candidate FPR $(v value fpr candidate) is not ~12%"
flips=$(sqlite3 "$DB" "SELECT sum(json_extract(c.body, '\$.decision') = 'legit' AND json_extract(d.body, '\$.decision') = 'fraud'),
  sum(json_extract(c.body, '\$.decision') = 'fraud' AND json_extract(d.body, '\$.decision') = 'legit')
  FROM responses c JOIN responses d ON d.run_id = c.run_id AND d.seq = c.seq
  WHERE c.run_id = $run AND c.target = 'current' AND d.target = 'candidate'")
[ "$(v 'CAST(value AS INTEGER)' flips_neg_to_pos candidate)|$(v 'CAST(value AS INTEGER)' flips_pos_to_neg candidate)" = "$flips" ] \
  || fail "flips $(v value flips_neg_to_pos candidate)|$(v value flips_pos_to_neg candidate) vs servers' $flips"
ps() { sqlite3 "$DB" "SELECT noisy || regression FROM path_stats WHERE run_id = $run AND step IS NULL AND path = '$1'"; }
[ "$(ps '$.request_id')" = 10 ] || fail "request_id: noisy|regression = $(ps '$.request_id')"
[ "$(ps '$.score')" = 01 ] || fail "score: noisy|regression = $(ps '$.score')"
# gate and report judge under the configuration they are given: a different
# decision rule (--set) redoes the analysis, the original rule brings it back
pr0=$(v value positive_rate candidate)
"$SHADOWCTL" gate --db "$DB" --run "$run" --set decision.threshold=0.95 >/dev/null 2>"$T/g1.err"
[ $? -le 3 ] || fail "gate --set: $(cat "$T/g1.err")"
pr1=$(v value positive_rate candidate)
awk -v a="$pr0" -v b="$pr1" 'BEGIN { exit !(b < a / 2) }' || fail "--set decision.threshold=0.95: positive rate $pr0 -> $pr1"
"$SHADOWCTL" gate --db "$DB" --run "$run" >/dev/null 2>&1
[ "$(v value positive_rate candidate)" = "$pr0" ] || fail "default rule did not restore the positive rate: $(v value positive_rate candidate) vs $pr0"
"$SHADOWCTL" gate --db "$DB" --run "$run" --set decision.threshold=abc >/dev/null 2>"$T/g2.err"
expect_status 2 $? "gate --set with a bad value"
grep -q "decision.threshold=abc" "$T/g2.err" || fail "bad --set not named: $(cat "$T/g2.err")"
echo "fpr current $(v value fpr current) [$(v ci_lo fpr current), $(v ci_hi fpr current)], candidate $(v value fpr candidate) [$(v ci_lo fpr candidate), $(v ci_hi fpr candidate)]; flips $flips"
pass
