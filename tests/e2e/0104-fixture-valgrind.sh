#!/usr/bin/env bash
# 0104-fixture-valgrind: model_server under valgrind memcheck serves every
# kind of answer (scores, errors, misbehaviours, pipelining), is stopped by
# SIGTERM with connections still open, and reports no errors and no leaks.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
command -v valgrind >/dev/null || skip "valgrind not installed"
command -v curl >/dev/null || skip "curl not installed"
[ "${SC_SANITIZE:-0}" = 1 ] && skip "sanitizer build: valgrind runs on the normal build"
[ -x "$SC_BUILD_DIR/model_server" ] || skip "model_server fixture not built"

start_bg vg valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible \
  --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9 \
  "$SC_BUILD_DIR/model_server" --port 0 --noise-field request_id --latency-ms 5 \
  --latency-jitter-ms 5 --error-rate 0.2 --slow-ms 100 --seed 1
wait_for 30 grep -q "^listening on" "$T/vg.out" || fail "model_server under valgrind did not start: $(cat "$T/vg.err")"
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/vg.out")
url=http://127.0.0.1:$port

TXN='{"txn_id":"t0000001","amount":99.5,"country":"FR","card_present":false,"hour":2}'
for i in $(seq 1 10); do curl -s -m 10 -o /dev/null -d "$TXN" "$url/v1/score"; done
curl -s -m 10 -o /dev/null -d '{broken' "$url/v1/score"
curl -s -m 10 -o /dev/null -H 'Transfer-Encoding: chunked' -d "$TXN" "$url/v1/score"
curl -s -m 10 -o /dev/null "$url/stats"
for k in reset garbage partial close-after-headers slow invalid-http; do
  curl -s -m 10 -o /dev/null -H "X-Misbehave: $k" -d "$TXN" "$url/v1/score"
done
curl -s -m 30 -o /dev/null -H "X-Misbehave: huge" -d "$TXN" "$url/v1/score"
[ $? = 0 ] || fail "huge body under valgrind"
# Left open at shutdown: a hung request, a huge body nobody reads, pipelined requests.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /x HTTP/1.1\r\nHost: x\r\nX-Misbehave: hang\r\nContent-Length: 2\r\n\r\n{}' >&3
exec 4<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /x HTTP/1.1\r\nHost: x\r\nX-Misbehave: huge\r\nContent-Length: 2\r\n\r\n{}' >&4
exec 5<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}POST /x HTTP/1.1\r\nHost: x\r\nX-Misbehave: slow\r\nContent-Length: 2\r\n\r\n{}' >&5
sleep 1
kill -TERM "$vg_pid"
wait_for 30 bash -c "! kill -0 $vg_pid 2>/dev/null" || fail "model_server under valgrind did not stop"
wait "$vg_pid"; st=$?
exec 3<&- 4<&- 5<&-
[ "$st" = 0 ] || fail "exit status $st under valgrind: $(cat "$T/vg.err")"
grep -q "stopped after" "$T/vg.err" || fail "no stop line: $(cat "$T/vg.err")"
grep -v "^model_server: stopped after" "$T/vg.err" | grep -q . && fail "valgrind reported: $(cat "$T/vg.err")"
pass
