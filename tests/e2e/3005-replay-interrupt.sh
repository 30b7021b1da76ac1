#!/usr/bin/env bash
# 3005-replay-interrupt: SIGINT mid-replay -> exit 1, run 'interrupted', every
# completed exchange stored with all its responses; SIGTERM the same; kill -9
# mid-replay -> `runs` shows the run interrupted with its committed
# exchanges and the database opens cleanly.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK=$SC_BUILD_DIR/mkshdw
[ -x "$MK" ] || skip "mkshdw not built"
"$MK" -o "$T/t.shdw" --count 5000 >/dev/null || fail "mkshdw"
start_model cur --latency-ms 20
start_model cand --latency-ms 20 --profile v2-good
q() { sqlite3 "$T/$1" "$2"; }
for sig in INT TERM; do
  db=$sig.db
  "$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --candidate "$cand_url" --shadow --rate 200/s \
    --db "$T/$db" 2>"$T/$sig.err" &
  pid=$!
  SC_PIDS+=("$pid")
  wait_for 10 test -s "$T/$db-wal" || fail "replay did not start writing"
  sleep 1
  kill -$sig $pid
  wait $pid; st=$?
  expect_status 1 $st "replay after SIG$sig ($(cat "$T/$sig.err"))"
  grep -q "interrupted" "$T/$sig.err" || fail "no interrupted message: $(cat "$T/$sig.err")"
  [ "$(q $db "select status from runs")" = interrupted ] || fail "SIG$sig: status $(q $db "select status from runs")"
  n=$(q $db "select count(*) from exchanges")
  [ "$n" -ge 50 ] && [ "$n" -lt 5000 ] || fail "SIG$sig: $n exchanges stored"
  # every stored exchange has both answers; in-flight ones were waited for
  [ "$(q $db "select count(*) from responses")" = $((2 * n)) ] || fail "SIG$sig: responses missing"
  [ "$(q $db "select count(*) from responses where error is not null")" = 0 ] || fail "SIG$sig: in-flight requests were cut"
  [ "$(q $db "select requests from runs")" = "$n" ] || fail "SIG$sig: runs.requests"
done
# kill -9
"$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --rate 500/s --db "$T/k.db" 2>"$T/k.err" &
pid=$!
SC_PIDS+=("$pid")
sleep 1.5
kill -9 $pid
wait $pid 2>/dev/null
[ "$(q k.db "pragma integrity_check")" = ok ] || fail "integrity after kill -9"
out=$("$SHADOWCTL" runs --db "$T/k.db"); st=$?
expect_status 0 $st "runs after kill -9"
grep -qE "^1 .* interrupted " <<<"$out" || fail "runs after kill -9: $out"
n=$(q k.db "select count(*) from exchanges")
[ "$n" -ge 100 ] || fail "kill -9: only $n exchanges committed"
grep -qE "^1 .* $n +interrupted" <<<"$out" || fail "runs does not show the $n committed exchanges: $out"
pass
