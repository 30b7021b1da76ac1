#!/usr/bin/env bash
# 0101-fixture-misbehave: every misbehaviour of the fixture model server, per
# request (X-Misbehave header) and per server (--misbehave, --misbehave-rate),
# observed from the client side with curl.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
. "$SC_SOURCE_DIR/tests/fixtures/model_server/e2e-helpers.bash"
command -v curl >/dev/null || skip "curl not installed"

TXN='{"txn_id":"t0000001","amount":42.5,"country":"US","merchant_category":"grocery"}'
start_model m --slow-ms 600 --seed 3

# probe KIND: runs curl with X-Misbehave: KIND; sets rc, code, size, secs.
probe() {
  local out
  out=$(curl -sS -m "${2:-5}" -o "$T/body.$1" -H "X-Misbehave: $1" -d "$TXN" \
        -w '%{http_code} %{size_download} %{time_total}' "$m_url/v1/score" 2>"$T/curl.$1")
  rc=$?
  read -r code size secs <<<"$out"
}

probe reset
[ "$rc" = 56 ] || fail "reset: expected curl 56 (connection reset), got rc=$rc $(cat "$T/curl.reset")"
grep -qi "reset" "$T/curl.reset" || fail "reset: curl did not see a reset: $(cat "$T/curl.reset")"

probe hang 1
[ "$rc" = 28 ] || fail "hang: expected curl timeout (28), got rc=$rc"
[ "$size" = 0 ] || fail "hang: got $size bytes"

probe garbage
[ "$rc" != 0 ] || fail "garbage: curl accepted the answer"
[ "$code" = 000 ] || fail "garbage: got an HTTP status $code"

probe huge 20
[ "$rc" = 0 ] || fail "huge: curl rc=$rc"
[ "$code" = 200 ] && [ "$size" = 52428800 ] || fail "huge: expected 200 with 52428800 bytes, got $code $size"

probe partial
[ "$rc" = 18 ] || fail "partial: expected curl 18 (partial file), got rc=$rc"
[ "$code" = 200 ] && [ "$size" -gt 0 ] || fail "partial: expected 200 and some bytes, got $code $size"

probe close-after-headers
[ "$rc" = 18 ] || fail "close-after-headers: expected curl 18, got rc=$rc"
[ "$code" = 200 ] && [ "$size" = 0 ] || fail "close-after-headers: expected 200 and no body, got $code $size"

probe slow
[ "$rc" = 0 ] && [ "$code" = 200 ] || fail "slow: rc=$rc code=$code"
awk -v s="$secs" 'BEGIN{exit !(s >= 0.55 && s < 3)}' || fail "slow: took $secs s, expected ~0.6"
grep -q '"decision"' "$T/body.slow" || fail "slow: body incomplete: $(cat "$T/body.slow")"

probe invalid-http
[ "$rc" != 0 ] || fail "invalid-http: curl accepted the answer"
[ "$code" = 000 ] || fail "invalid-http: got HTTP status $code"

probe no-such-kind
[ "$code" = 400 ] || fail "unknown X-Misbehave: expected 400, got $code"

# The server is still healthy and counted every misbehaviour.
probe none
[ "$code" = 200 ] || fail "plain request after the misbehaviours: $code"
stats=$(curl -s "$m_url/stats")
[ "$(field "$stats" misbehaved)" = 8 ] || fail "misbehaved count: $stats"
[ "$(field "$stats" connections_open)" = 1 ] || fail "connections left open: $stats"

# Server-wide: --misbehave reset for every request; --misbehave-rate 0.5 for about half.
start_model all --misbehave reset
curl -s -o /dev/null -d "$TXN" "$all_url/x"; [ $? = 56 ] || fail "--misbehave reset: not reset"
start_model half --misbehave close-after-headers --misbehave-rate 0.5 --seed 5
bad=0
for i in $(seq 1 40); do curl -s -o /dev/null -d "$TXN" "$half_url/x" || bad=$((bad + 1)); done
[ "$bad" -ge 8 ] && [ "$bad" -le 32 ] || fail "--misbehave-rate 0.5: $bad of 40 misbehaved"

# A huge body in flight and a hung request do not stop a clean shutdown.
exec 3<>"/dev/tcp/127.0.0.1/$m_port"
printf 'POST /x HTTP/1.1\r\nHost: x\r\nX-Misbehave: huge\r\nContent-Length: 2\r\n\r\n{}' >&3
exec 4<>"/dev/tcp/127.0.0.1/$m_port"
printf 'POST /x HTTP/1.1\r\nHost: x\r\nX-Misbehave: hang\r\nContent-Length: 2\r\n\r\n{}' >&4
sleep 0.3
stop_all_checked
exec 3<&- 4<&-
pass
