#!/usr/bin/env bash
# 3001-replay-shadow: --shadow pairs every request on current and candidate,
# --secondary receives what current receives, every request carries
# X-Shadow-Request: 1, results.db is 0600, and `runs` lists the completed run.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK=$SC_BUILD_DIR/mkshdw
[ -x "$MK" ] || skip "mkshdw not built"
start_model cur --profile v1
start_model cand --profile v2-good
start_model sec --profile v1
N=300
"$MK" -o "$T/t.shdw" --count $N >/dev/null || fail "mkshdw"
"$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --candidate "$cand_url" --secondary "$sec_url" \
  --shadow --max --concurrency 16 --db "$T/r.db" 2>"$T/replay.err"; st=$?
expect_status 0 $st "replay --shadow ($(cat "$T/replay.err"))"
q() { sqlite3 "$T/r.db" "$1"; }
[ "$(q "select count(*) from exchanges")" = $N ] || fail "exchanges: $(q "select count(*) from exchanges")"
for t in current candidate secondary; do
  n=$(q "select count(*) from responses where target='$t' and status=200")
  [ "$n" = $N ] || fail "$t answered $n of $N with 200"
done
[ "$(q "select count(*) from exchanges where routed<>'both'")" = 0 ] || fail "a request was not mirrored"
[ "$(q "select sum(shed) from run_targets")" = 0 ] || fail "requests were shed"
# every candidate answer comes from the candidate model, every secondary from v1
[ "$(q "select count(*) from responses where target='candidate' and cast(body as text) like '%v2-good%'")" = $N ] || fail "candidate bodies"
[ "$(q "select count(*) from responses where target='secondary' and cast(body as text) like '%\"v1\"%'")" = $N ] || fail "secondary bodies"
# the marker header and the Host rewrite
[ "$(q "select count(*) from exchanges where req_headers like '%[\"X-Shadow-Request\",\"1\"]%'")" = $N ] || fail "X-Shadow-Request missing"
q "select req_headers from exchanges limit 1" | grep -q "\"Host\",\"127.0.0.1:$cur_port\"" || fail "Host not rewritten"
# the servers saw the same numbers
for s in cur cand sec; do
  eval "u=\$${s}_url"
  r=$(curl -s "$u/stats" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
  [ "$r" = $N ] || fail "$s server saw $r requests"
done
# skew recorded for the mirrored copies, latencies positive
[ "$(q "select count(*) from responses where target='candidate' and skew_us is not null")" = $N ] || fail "skew"
[ "$(q "select count(*) from responses where latency_us > 0 and ttfb_us > 0 and ttfb_us <= latency_us + 1")" = $((3*N)) ] || fail "latency/ttfb"
# the traffic file's capture statistics travel into the run
[ "$(q "select capture_exchanges from runs")" = $N ] || fail "capture_exchanges: $(q "select capture_exchanges from runs")"
[ "$(q "select capture_kernel_drops is not null and capture_first_ns > 0 from runs")" = 1 ] || fail "capture stats"
[ "$(stat -c %a "$T/r.db")" = 600 ] || fail "results.db mode $(stat -c %a "$T/r.db")"
out=$("$SHADOWCTL" runs --db "$T/r.db"); st=$?
expect_status 0 $st "runs"
grep -qE "^1 .*shadow 100% +$N +completed" <<<"$out" || fail "runs output: $out"
"$SHADOWCTL" runs --db "$T/r.db" --json | grep -q '"status": "completed"' || fail "runs --json"
pass
