#!/usr/bin/env bash
# 0100-fixture-model-server: the fixture model server scores deterministically,
# answers bad input with 400, injects errors and a noise field, counts
# connections in /stats, answers pipelined requests in order, and stops
# cleanly on SIGTERM.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
command -v curl >/dev/null || skip "curl not installed"

TXN='{"txn_id":"t0000123","amount":123.45,"currency":"USD","country":"US","merchant_category":"grocery","card_present":true,"hour":14,"account_age_days":812,"velocity_1h":1,"distance_km":3.2}'
RISKY='{"txn_id":"t0000124","amount":2500,"currency":"NGN","country":"NG","merchant_category":"electronics","card_present":false,"hour":3,"account_age_days":2,"velocity_1h":7,"distance_km":4000}'
post() { curl -sS -m 10 -H 'Content-Type: application/json' -d "$2" "$1/v1/score"; }
. "$SC_SOURCE_DIR/tests/fixtures/model_server/e2e-helpers.bash"

start_model a --profile v1 --noise-field request_id --seed 1
start_model b --profile v1 --seed 2
start_model same --profile v2-same
start_model good --profile v2-good --model-version v2.1

# The port line is the only stdout line, and the port file matches it.
[ "$(wc -l <"$T/a.out")" -eq 1 ] || fail "stdout should be exactly one line: $(cat "$T/a.out")"
start_bg pf "$SC_BUILD_DIR/model_server" --port 0 --port-file "$T/port"
wait_for 10 test -s "$T/port" || fail "no port file"
wait_for 10 grep -q "^listening on" "$T/pf.out" || fail "pf did not start"
grep -q ":$(cat "$T/port")\$" "$T/pf.out" || fail "port file $(cat "$T/port") != $(cat "$T/pf.out")"

# Scoring: the documented answer shape, deterministic across calls and servers.
r1=$(post "$a_url" "$TXN"); r2=$(post "$a_url" "$TXN"); rb=$(post "$b_url" "$TXN")
[ "$(field "$r1" txn_id)" = t0000123 ] || fail "txn_id not echoed: $r1"
[ "$(field "$r1" decision)" = legit ] || fail "ordinary grocery purchase should be legit: $r1"
[ "$(field "$r1" model_version)" = v1 ] || fail "model_version: $r1"
[ "$(field "$r1" threshold)" = 0.5 ] || fail "threshold: $r1"
s1=$(field "$r1" score)
[[ "$s1" =~ ^0\.[0-9]+(e-[0-9]+)?$ ]] || fail "score is not a probability: $r1"
[ "$s1" = "$(field "$r2" score)" ] || fail "score not deterministic: $r1 / $r2"
[ "$s1" = "$(field "$rb" score)" ] || fail "same profile, different score: $r1 / $rb"
[ "$s1" = "$(field "$(post "$same_url" "$TXN")" score)" ] || fail "v2-same must score like v1"
rg=$(post "$good_url" "$TXN")
[ "$s1" != "$(field "$rg" score)" ] || fail "v2-good should score slightly differently: $rg"
[ "$(field "$rg" model_version)" = v2.1 ] || fail "--model-version not used: $rg"
awk -v a="$s1" -v b="$(field "$rg" score)" 'BEGIN{d=a-b; if(d<0)d=-d; exit !(d>0 && d<0.05)}' \
  || fail "v2-good score should differ a little: $s1 vs $rg"
rr=$(post "$a_url" "$RISKY")
[ "$(field "$rr" decision)" = fraud ] || fail "risky transaction should be fraud: $rr"

# Noise: a random request_id per response, only where asked.
n1=$(field "$r1" request_id); n2=$(field "$r2" request_id)
[[ "$n1" =~ ^[0-9a-f]{16}$ ]] || fail "request_id format: $r1"
[ "$n1" != "$n2" ] || fail "request_id should differ per response"
[ "$(field "$rb" request_id)" = "<absent>" ] || fail "no noise field unless asked: $rb"

# Custom threshold and weights.
start_model th --threshold 0.01 --weights bias=-7.9,amount=0.85
[ "$(field "$(post "$th_url" "$TXN")" decision)" = fraud ] || fail "--threshold 0.01 should flag"
"$SC_BUILD_DIR/model_server" --weights bogus=1 >/dev/null 2>"$T/w.err"; expect_status 2 $? "unknown weight"
grep -q "unknown weight 'bogus'" "$T/w.err" || fail "weight error message: $(cat "$T/w.err")"
"$SC_BUILD_DIR/model_server" --profile v9 >/dev/null 2>&1; expect_status 2 $? "unknown profile"
"$SC_BUILD_DIR/model_server" --misbehave sometimes >/dev/null 2>&1; expect_status 2 $? "unknown misbehave"

# Bad input: 400 with a JSON error; wrong types too; GET on a scoring path is 405.
code=$(curl -s -o "$T/bad" -w '%{http_code}' -d '{"amount": 1,' "$a_url/v1/score")
[ "$code" = 400 ] || fail "bad JSON: expected 400, got $code"
grep -q '"error"' "$T/bad" || fail "bad JSON body: $(cat "$T/bad")"
code=$(curl -s -o /dev/null -w '%{http_code}' -d '{"amount":"lots"}' "$a_url/v1/score")
[ "$code" = 400 ] || fail "string amount: expected 400, got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$a_url/v1/score")
[ "$code" = 405 ] || fail "GET scoring path: expected 405, got $code"
# Chunked request body.
r=$(curl -sS -H 'Transfer-Encoding: chunked' -d "$TXN" "$a_url/v1/score")
[ "$(field "$r" score)" = "$s1" ] || fail "chunked body scored differently: $r"

# Error injection: all, then none.
start_model e --error-rate 1
code=$(curl -s -o "$T/e" -w '%{http_code}' -d "$TXN" "$e_url/x")
[ "$code" = 500 ] || fail "--error-rate 1: expected 500, got $code"
start_model eh --error-rate 0.5 --seed 9
codes=$(for i in $(seq 1 40); do curl -s -o /dev/null -w '%{http_code}\n' -d "$TXN" "$eh_url/x"; done | sort | uniq -c)
n500=$(awk '$2==500{print $1}' <<<"$codes"); n200=$(awk '$2==200{print $1}' <<<"$codes")
[ "${n500:-0}" -ge 8 ] && [ "${n200:-0}" -ge 8 ] || fail "--error-rate 0.5 gave: $codes"

# /stats: 5 requests over one keep-alive connection, then 3 separate connections.
start_model st
curl -s -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
  -d "$TXN" "$st_url/a" "$st_url/b" "$st_url/c" "$st_url/d" "$st_url/e"
for i in 1 2 3; do curl -s -o /dev/null -d "$TXN" "$st_url/x"; done
stats=$(curl -s "$st_url/stats")
[ "$(field "$stats" requests)" = 8 ] || fail "stats requests: $stats"
[ "$(field "$stats" connections_accepted)" = 5 ] || fail "stats connections_accepted (4 + this one): $stats"
[ "$(field "$stats" connections_open)" = 1 ] || fail "stats connections_open: $stats"
[ "$(field "$stats" errors)" = 0 ] || fail "stats errors: $stats"

# Pipelining: three requests in one write, answered in order on one connection.
exec 3<>"/dev/tcp/127.0.0.1/$st_port"
b1='{"txn_id":"p1","amount":10}'; b2='{"txn_id":"p2","amount":20}'
printf 'POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%sPOST /s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%sGET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' \
  ${#b1} "$b1" ${#b2} "$b2" >&3
timeout 10 cat <&3 >"$T/pipe"
exec 3<&-
[ "$(grep -o 'HTTP/1.1 200' "$T/pipe" | wc -l)" = 3 ] || fail "pipelined: expected 3 answers: $(cat "$T/pipe")"
grep -o '"txn_id":"p[12]"\|"requests":[0-9]*' "$T/pipe" | tr '\n' ' ' | grep -q '"txn_id":"p1" "txn_id":"p2" "requests":10' \
  || fail "pipelined answers out of order: $(cat "$T/pipe")"

# Malformed HTTP: 400 and the connection closed.
exec 3<>"/dev/tcp/127.0.0.1/$st_port"
printf 'NOT HTTP AT ALL\r\n\r\n' >&3
timeout 10 cat <&3 >"$T/junk"; exec 3<&-
grep -q '^HTTP/1.1 400' "$T/junk" || fail "malformed request: $(cat "$T/junk")"

# SIGTERM: exit 0, promptly, with a keep-alive client still connected.
exec 3<>"/dev/tcp/127.0.0.1/$a_port"
kill -TERM "$a_pid"
for _ in $(seq 1 50); do kill -0 "$a_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$a_pid" 2>/dev/null && fail "model_server did not stop on SIGTERM"
wait "$a_pid"; expect_status 0 $? "exit status after SIGTERM"
exec 3<&-
grep -q "stopped after" "$T/a.err" || fail "no stop line: $(cat "$T/a.err")"
grep -qi "sanitizer\|leak" "$T/a.err" && fail "sanitizer report: $(cat "$T/a.err")"

# --max-requests: stops by itself after N answers.
start_model mr --max-requests 3
for i in 1 2 3; do curl -s -o /dev/null -d "$TXN" "$mr_url/x" || fail "request $i to --max-requests 3"; done
wait_for 10 bash -c "! kill -0 $mr_pid 2>/dev/null" || fail "--max-requests 3 did not stop the server"
wait "$mr_pid"; expect_status 0 $? "--max-requests exit status"
stop_all_checked
pass
