#!/bin/bash
# 4002-analyze-bad-input.sh - analyze and labels import reject bad input with
# exit status 2 and a message naming the file and position: broken
# shadow.yaml (FILE:LINE:COLUMN), malformed labels (FILE:LINE), missing
# database or run, usage errors.
. "$(dirname "$0")/lib.sh"
DB=$T/results.db
printf 'txn_id,label\nt1,fraud\n' > "$T/ok.csv"
"$SHADOWCTL" labels import --db "$DB" "$T/ok.csv" > "$T/o" 2>&1; expect_status 0 $? "labels import creates the database"
grep -q "imported 1 labels (1 positive).*0 matched.*1 unmatched" "$T/o" || fail "summary: $(cat "$T/o")"

printf 'decision:\n  threshold: [0.5\n' > "$T/broken.yaml"
"$SHADOWCTL" analyze --db "$DB" --config "$T/broken.yaml" 2> "$T/e"; expect_status 2 $? "broken yaml"
grep -Eq "^shadowctl analyze: $T/broken.yaml:[0-9]+:[0-9]+: " "$T/e" || fail "no FILE:LINE:COLUMN: $(cat "$T/e")"

printf 'decision:\n  threshold: high\n' > "$T/wrong.yaml"
"$SHADOWCTL" analyze --db "$DB" --config "$T/wrong.yaml" 2> "$T/e"; expect_status 2 $? "wrong value"
grep -q "wrong.yaml:2:14: 'threshold' must be a number" "$T/e" || fail "message: $(cat "$T/e")"

"$SHADOWCTL" analyze --db "$DB" 2> "$T/e"; expect_status 2 $? "no run"
grep -q "no run in the database" "$T/e" || fail "message: $(cat "$T/e")"
"$SHADOWCTL" analyze --db "$DB" --run 42 2> "$T/e"; expect_status 2 $? "unknown run"
"$SHADOWCTL" analyze --db "$T/missing.db" 2> "$T/e"; expect_status 2 $? "missing database"
[ -e "$T/missing.db" ] && fail "analyze created a database"
"$SHADOWCTL" analyze 2> "$T/e"; expect_status 2 $? "no --db"
"$SHADOWCTL" analyze --db "$DB" --slice country 2> "$T/e"; expect_status 2 $? "bad slice"
"$SHADOWCTL" analyze --help > "$T/h"; expect_status 0 $? "help"
grep -q -- "--slice" "$T/h" || fail "help lacks --slice"

printf 'txn_id,label\nt1,fraud\n"t2,legit\n' > "$T/bad.csv"
"$SHADOWCTL" labels import --db "$DB" "$T/bad.csv" 2> "$T/e"; expect_status 2 $? "bad csv"
grep -q "bad.csv:3: unterminated quoted field" "$T/e" || fail "message: $(cat "$T/e")"
printf '{"txn_id":"t1","label":"fraud"}\n{"txn_id":\n' > "$T/bad.jsonl"
"$SHADOWCTL" labels import --db "$DB" "$T/bad.jsonl" 2> "$T/e"; expect_status 2 $? "bad jsonl"
grep -q "bad.jsonl:2: " "$T/e" || fail "message: $(cat "$T/e")"
"$SHADOWCTL" labels import --db "$DB" "$T/nope.csv" 2> "$T/e"; expect_status 2 $? "missing labels file"
"$SHADOWCTL" labels import --db "$DB" --format xml "$T/ok.csv" 2> "$T/e"; expect_status 2 $? "bad format"
"$SHADOWCTL" labels export --db "$DB" "$T/ok.csv" 2> "$T/e"; expect_status 2 $? "unknown subcommand"
"$SHADOWCTL" labels import "$T/ok.csv" 2> "$T/e"; expect_status 2 $? "no --db"
pass
