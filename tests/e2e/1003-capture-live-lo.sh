#!/usr/bin/env bash
# 1003-capture-live-lo: live capture on lo (needs root or CAP_NET_RAW: skipped
# otherwise) while curl sends keep-alive requests and a raw client sends
# pipelined requests to a local HTTP/1.1 server on an ephemeral port. Every
# exchange is found; the capture runs as 'nobody' after opening the device
# (checked in /proc/PID/status while capturing); SIGINT closes the file validly.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 missing"
command -v curl >/dev/null || skip "curl missing"
[ -d /sys/class/net/lo ] || skip "no lo interface"
id nobody >/dev/null 2>&1 || skip "no user nobody"

cat > "$T/server.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ('{"path": "%s"}' % self.path).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        data = self.rfile.read(n)
        body = ('{"got": %d}' % len(data)).encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("listening on 127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
PY
start_bg srv python3 "$T/server.py"
wait_for 10 grep -q "^listening on" "$T/srv.out" || fail "server did not start"
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/srv.out")

# Probe the privilege first: a capture that cannot open lo is a skip.
if ! "$SHADOWCTL" -q capture -i lo --port "$port" --duration 0.3s -o "$T/probe.shdw" 2>"$T/probe.err"; then
  grep -q -i 'permission\|not permitted\|EPERM\|privilege' "$T/probe.err" && skip "cannot capture on lo: $(cat "$T/probe.err")"
  fail "probe capture failed: $(cat "$T/probe.err")"
fi

start_bg cap "$SHADOWCTL" capture -i lo --port "$port" -Z nobody -o "$T/live.shdw" --stats-json "$T/stats.json"
# Ready once privileges are dropped (the device is open by then).
uid_of() { awk '/^Uid:/ {print $2}' "/proc/$cap_pid/status" 2>/dev/null; }
nobody_uid=$(id -u nobody)
dropped() { [ "$(uid_of)" = "$nobody_uid" ]; }
wait_for 20 dropped || fail "capture did not drop to nobody (uid $(uid_of)): $(cat "$T/cap.err")"
[ "$(awk '/^Uid:/ {print $3}' "/proc/$cap_pid/status")" = "$nobody_uid" ] || fail "saved uid is not nobody"
sleep 0.3

url="http://127.0.0.1:$port"
# keep-alive: one curl, one connection, 4 requests (GET x3, POST)
curl -s -o /dev/null -o /dev/null -o /dev/null "$url/ka/1" "$url/ka/2" "$url/ka/3" \
     --next -s -o /dev/null -d '{"card":{"number":"4111"}}' -H 'Content-Type: application/json' "$url/ka/post" \
  || fail "curl failed"
# pipelined: 3 requests in one write, then read the 3 responses
python3 - "$port" <<'PY' || fail "pipelined client failed"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
reqs = b"".join(b"GET /pipe/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3))
s.sendall(reqs)
data, deadline = b"", time.time() + 5
while data.count(b"HTTP/1.1 200") < 3 and time.time() < deadline:
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
s.close()
assert data.count(b"HTTP/1.1 200") == 3, data
PY
sleep 0.5
kill -INT "$cap_pid"
for _ in $(seq 1 100); do kill -0 "$cap_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$cap_pid" 2>/dev/null && fail "capture did not stop on SIGINT"
wait "$cap_pid"; st=$?
expect_status 0 "$st" "capture after SIGINT ($(cat "$T/cap.err"))"

"$SHADOWCTL" inspect --validate "$T/live.shdw" >/dev/null || fail "live.shdw is not valid"
"$SHADOWCTL" inspect "$T/live.shdw" > "$T/list.txt"
cat "$T/list.txt"
n=$(wc -l < "$T/list.txt")
[ "$n" = 7 ] || fail "expected 7 exchanges, got $n"
for p in /ka/1 /ka/2 /ka/3 /pipe/0 /pipe/1 /pipe/2; do
  grep -q "GET $p 200" "$T/list.txt" || fail "missing GET $p 200"
done
grep -q "POST /ka/post 201" "$T/list.txt" || fail "missing POST /ka/post 201"
# pairing in order on the pipelined connection
"$SHADOWCTL" inspect --json "$T/live.shdw" | python3 -c '
import json, sys
xs = [json.loads(l) for l in sys.stdin]
for x in xs:
    assert json.loads(x["resp"]["body"])["path"] == x["req"]["target"] if x["req"]["method"] == "GET" else True, x
conns = {x["conn"]["conn_id"] for x in xs}
assert len(conns) == 2, conns
' || fail "pairing check failed"
grep -q '"exchanges": 7' "$T/stats.json" || fail "stats json: $(cat "$T/stats.json")"
pass
