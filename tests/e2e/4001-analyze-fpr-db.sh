#!/bin/bash
# 4001-analyze-fpr-db.sh - analyze + labels import on a results database
# filled directly (scripts/bench/analyze_gen.sql: current FPR 2%, candidate
# FPR 12%, a noisy request_id, a changed score): FPR of both targets inside
# their intervals, flips equal to the planted ones, request_id classified as
# noise and score as a regression. (The same scenario against the fixture
# servers through replay is 4003.)
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 command-line tool not installed"
DB=$T/results.db
printf 'txn_id,label\n' > "$T/empty.csv"
"$SHADOWCTL" labels import --db "$DB" "$T/empty.csv" >/dev/null || fail "cannot create database"
{ echo "CREATE TEMP TABLE p AS SELECT 4000 AS n, 0.12 AS fpr_cand, 1.0 AS lat_cand, 1 AS secondary;"
  cat "$SC_SOURCE_DIR/scripts/bench/analyze_gen.sql"; } | sqlite3 "$DB" || fail "cannot fill database"

# without labels: no FPR, but flips and paths
"$SHADOWCTL" analyze --db "$DB" > "$T/a1.out" 2> "$T/a1.err"; expect_status 0 $? "analyze"
grep -q "decision_flip_rate" "$T/a1.out" || fail "no flip rate in summary: $(cat "$T/a1.out")"
grep -q '^  fpr ' "$T/a1.out" && fail "FPR reported without labels"

# labels: every 20th request is fraud; one key that matches nothing; a key with SQL quotes
{ echo 'txn_id,outcome'
  sqlite3 "$DB" "SELECT request_key || ',' || CASE WHEN seq % 20 = 0 THEN 'fraud' ELSE 'legit' END FROM exchanges WHERE run_id = 1 ORDER BY seq"
  echo "\"x'); DROP TABLE labels; --\",fraud"
} > "$T/labels.csv"
"$SHADOWCTL" labels import --db "$DB" --key-column txn_id --label-column outcome --positive fraud "$T/labels.csv" > "$T/l.out" 2>&1
expect_status 0 $? "labels import"
grep -q "imported 4001 labels (201 positive).*4000 matched.*1 unmatched" "$T/l.out" || fail "import summary: $(cat "$T/l.out")"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM labels WHERE request_key = 'x''); DROP TABLE labels; --'")" = 1 ] \
  || fail "key with SQL quotes not stored verbatim"

"$SHADOWCTL" analyze --db "$DB" --run 1 --slice '$.country' > "$T/a2.out" 2> "$T/a2.err"; expect_status 0 $? "analyze with labels"
m() { sqlite3 "$DB" "SELECT $1 FROM metrics WHERE run_id = 1 AND step IS NULL AND name = '$2' AND target = '$3'"; }
in_ci() { # name target expected
  local r
  r=$(sqlite3 "$DB" "SELECT ci_lo <= $3 AND $3 <= ci_hi FROM metrics WHERE run_id = 1 AND step IS NULL AND name = '$1' AND target = '$2'")
  [ "$r" = 1 ] || fail "$1/$2: $3 not inside [$(m ci_lo "$1" "$2"), $(m ci_hi "$1" "$2")] (value $(m value "$1" "$2"))"
}
in_ci fpr current 0.02
in_ci fpr candidate 0.12
in_ci fpr secondary 0.02
[ "$(sqlite3 "$DB" "SELECT ci_lo > 0.05 FROM metrics WHERE run_id = 1 AND step IS NULL AND name = 'fpr_delta'")" = 1 ] \
  || fail "fpr_delta interval does not exclude small shifts"
planted=$(sqlite3 "$DB" "SELECT count(*) FROM responses c JOIN responses d ON d.run_id = c.run_id AND d.seq = c.seq
  WHERE c.target = 'current' AND d.target = 'candidate' AND json_extract(c.body, '\$.decision') <> json_extract(d.body, '\$.decision')")
[ "$(m 'CAST(value AS INTEGER)' flips_neg_to_pos candidate)" = "$planted" ] || fail "flips $(m value flips_neg_to_pos candidate) != planted $planted"
[ "$(m 'CAST(value AS INTEGER)' flips_pos_to_neg candidate)" = 0 ] || fail "unexpected pos->neg flips"
[ "$(sqlite3 "$DB" "SELECT noisy || regression FROM path_stats WHERE run_id = 1 AND step IS NULL AND path = '\$.request_id'")" = 10 ] \
  || fail "request_id not classified as noise"
[ "$(sqlite3 "$DB" "SELECT noisy || regression FROM path_stats WHERE run_id = 1 AND step IS NULL AND path = '\$.score'")" = 01 ] \
  || fail "score not classified as a regression"
grep -q '\$.request_id.*noise' "$T/a2.out" || fail "summary lacks the noise path: $(cat "$T/a2.out")"
grep -q '\$.score.*REGRESSION' "$T/a2.out" || fail "summary lacks the regression path"
grep -q '\$.country = ' "$T/a2.out" || fail "summary lacks slices"
# idempotent
n1=$(sqlite3 "$DB" "SELECT count(*) FROM metrics WHERE run_id = 1")
"$SHADOWCTL" analyze --db "$DB" --no-summary > "$T/a3.out"; expect_status 0 $? "analyze again"
[ -s "$T/a3.out" ] && fail "--no-summary printed"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM metrics WHERE run_id = 1")" = "$n1" ] || fail "second analysis changed the row count"
pass
