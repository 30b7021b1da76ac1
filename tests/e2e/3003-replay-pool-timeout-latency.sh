#!/usr/bin/env bash
# 3003-replay-pool-timeout-latency: connections opened per target never exceed
# --pool-size (counted at the server); --timeout is honoured (hanging server
# -> 'timeout' errors, the run still completes quickly); recorded latencies
# match the server's injected latency; --rate keeps latency from the
# intended send time.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK=$SC_BUILD_DIR/mkshdw
[ -x "$MK" ] || skip "mkshdw not built"
"$MK" -o "$T/t.shdw" --count 200 >/dev/null || fail "mkshdw"
q() { sqlite3 "$T/$1" "$2"; }

# pool: 4 connections for 16 in flight
start_model p --latency-ms 5
"$SHADOWCTL" replay "$T/t.shdw" --current "$p_url" --max --concurrency 16 --pool-size 4 --db "$T/p.db" 2>"$T/p.err" \
  || fail "pool replay: $(cat "$T/p.err")"
maxc=$(curl -s "$p_url/stats" | sed -n 's/.*"max_connections_open":\([0-9]*\).*/\1/p')
[ -n "$maxc" ] && [ "$maxc" -le 4 ] || fail "server saw $maxc connections open at once (pool 4)"
[ "$(q p.db "select count(*) from responses where status=200")" = 200 ] || fail "pool: not every request answered"
[ "$(q p.db "select connections_opened from run_targets where target='current'")" -le 4 ] || fail "connections_opened"

# latency: 40 ms injected -> p50 between 40 and 400 ms (the upper bound is
# loose: the suite runs on a shared, loaded machine)
start_model l --latency-ms 40
"$SHADOWCTL" replay "$T/t.shdw" --current "$l_url" --max --concurrency 32 --limit 100 --db "$T/l.db" 2>"$T/l.err" \
  || fail "latency replay: $(cat "$T/l.err")"
med=$(q l.db "select cast(latency_us as int) from responses order by latency_us limit 1 offset 50")
[ "$med" -ge 38000 ] && [ "$med" -le 400000 ] || fail "median latency ${med}us, server adds 40 ms"
# the fixture's delay timer counts from its loop's cached time, which a loaded
# machine can leave stale by a few ms: allow 10 ms of slack below 40 ms
[ "$(q l.db "select count(*) from responses where latency_us < 30000")" = 0 ] || \
  fail "latency below the injected delay: $(q l.db "select min(latency_us) from responses")"

# timeout: a hanging server, 300 ms timeout
start_model h --misbehave hang --misbehave-rate 1
s0=$(date +%s%N)
"$SHADOWCTL" replay "$T/t.shdw" --current "$h_url" --max --limit 20 --concurrency 8 --timeout 300ms --db "$T/h.db" 2>"$T/h.err"; st=$?
el=$(( ($(date +%s%N) - s0) / 1000000 ))
expect_status 0 $st "replay to a hanging server (run completes; errors recorded)"
[ "$(q h.db "select count(*) from responses where error='timeout'")" = 20 ] || fail "timeouts: $(q h.db "select error, count(*) from responses group by 1")"
[ "$el" -lt 5000 ] || fail "20 requests x 300 ms timeout at concurrency 8 took ${el} ms"
[ "$(q h.db "select status from runs")" = completed ] || fail "status"
lat=$(q h.db "select cast(min(latency_us) as int) from responses")
[ "$lat" -ge 290000 ] || fail "timeout fired after ${lat}us"

# timeout on a reused keep-alive connection: a fifth of the requests hang, so
# most hangs happen on connections that already answered; every hang times
# out 300 ms after its own send (not after the connection's first request),
# and every other request is answered
start_model k --misbehave hang --misbehave-rate 0.2 --seed 3
"$SHADOWCTL" replay "$T/t.shdw" --current "$k_url" --max --limit 60 --concurrency 2 --timeout 300ms --db "$T/k.db" 2>"$T/k.err"
expect_status 0 $? "replay with hangs on reused connections"
nt=$(q k.db "select count(*) from responses where error='timeout'")
nok=$(q k.db "select count(*) from responses where status=200")
[ "$nt" -ge 4 ] && [ $((nt + nok)) = 60 ] || fail "reused connections: $nt timeouts, $nok answers of 60"
[ "$(q k.db "select count(*) from responses where error='timeout' and (latency_us < 290000 or latency_us > 1500000)")" = 0 ] || \
  fail "timeouts not 300 ms after their own send: $(q k.db "select group_concat(cast(latency_us as int)) from responses where error='timeout'")"
[ "$(q k.db "select count(*) from responses where status=200 and latency_us > 250000")" = 0 ] || \
  fail "answered requests waited for an old deadline"
pass
