#!/usr/bin/env bash
# 3007-replay-candidate-killed: the candidate dies in the middle of a shadow
# replay: its requests are recorded with errors, current keeps receiving
# every request at the paced rate, and the run completes (exit 0).
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK=$SC_BUILD_DIR/mkshdw
[ -x "$MK" ] || skip "mkshdw not built"
N=600
"$MK" -o "$T/t.shdw" --count $N >/dev/null || fail "mkshdw"
start_model cur
start_model cand --profile v2-good
"$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --candidate "$cand_url" --shadow --rate 300/s \
  --timeout 1s --db "$T/r.db" 2>"$T/err" &
pid=$!
SC_PIDS+=("$pid")
sleep 0.8
kill -9 "$cand_pid"
wait $pid; st=$?
expect_status 0 $st "replay with a dead candidate ($(cat "$T/err"))"
q() { sqlite3 "$T/r.db" "$1"; }
[ "$(q "select status from runs")" = completed ] || fail "status"
[ "$(q "select count(*) from responses where target='current' and status=200")" = $N ] || fail "current lost requests"
ok=$(q "select count(*) from responses where target='candidate' and status=200")
bad=$(q "select count(*) from responses where target='candidate' and error in ('refused','reset','closed')")
[ "$ok" -gt 50 ] && [ "$bad" -gt 100 ] || fail "candidate: $ok ok, $bad errors"
[ $((ok + bad)) = $N ] || fail "candidate answers unaccounted: $ok + $bad"
grep -qE "candidate +sent $N .*errors $bad " "$T/err" || fail "summary: $(cat "$T/err")"
pass
