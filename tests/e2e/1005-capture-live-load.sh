#!/usr/bin/env bash
# 1005-capture-live-load: live capture on lo while wrk drives nginx at full
# speed for 3 s (needs root/CAP_NET_RAW, nginx and wrk: skipped otherwise).
# Every response wrk counted is in the traffic file unless the capture reports
# kernel drops; with drops, what is missing is accounted for by them
# (missing exchanges <= dropped packets). Memory stays bounded (peak RSS).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
for t in nginx wrk python3; do command -v $t >/dev/null || skip "$t missing"; done
[ -d /sys/class/net/lo ] || skip "no lo interface"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/ngx"
cat > "$T/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $T/nginx.pid;
error_log $T/ngx/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $T/ngx; proxy_temp_path $T/ngx; fastcgi_temp_path $T/ngx;
  uwsgi_temp_path $T/ngx; scgi_temp_path $T/ngx;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$port; location / { return 200 '{"ok":true}'; } }
}
NGX
start_bg ngx nginx -c "$T/nginx.conf" -p "$T/ngx"
up() { curl -s -o /dev/null "http://127.0.0.1:$port/"; }
wait_for 10 up || fail "nginx did not start: $(cat "$T/ngx.err")"

if ! "$SHADOWCTL" -q capture -i lo --port "$port" --duration 0.2s -o "$T/probe.shdw" 2>"$T/probe.err"; then
  grep -q -i 'permission\|not permitted\|privilege' "$T/probe.err" && skip "cannot capture on lo"
  fail "probe capture failed: $(cat "$T/probe.err")"
fi
start_bg cap /usr/bin/time -f "%M" -o "$T/rss" "$SHADOWCTL" capture -i lo --port "$port" -B 64M \
  -o "$T/load.shdw" --stats-json "$T/stats.json"
ready() { grep -q . "/proc/$(pgrep -P "$cap_pid" shadowctl | head -1)/status" 2>/dev/null &&
          [ "$(awk '/^Uid:/ {print $2}' "/proc/$(pgrep -P "$cap_pid" shadowctl | head -1)/status")" != 0 ]; }
wait_for 10 ready || fail "capture did not start"
sleep 0.3
wrk -t1 -c8 -d3s "http://127.0.0.1:$port/load" > "$T/wrk.out" 2>&1 || fail "wrk failed"
sleep 1
kill -INT "$(pgrep -P "$cap_pid" shadowctl | head -1)"
for _ in $(seq 1 100); do kill -0 "$cap_pid" 2>/dev/null || break; sleep 0.1; done
wait "$cap_pid" || fail "capture failed: $(cat "$T/cap.err")"

sent=$(awk '/requests in/ {print $1}' "$T/wrk.out")
got=$("$SHADOWCTL" inspect --count --status 200 "$T/load.shdw")
drops=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["kernel_drops"] + d["iface_drops"])' "$T/stats.json")
rss=$(tail -1 "$T/rss")
echo "wrk completed $sent requests; captured $got answered exchanges; kernel drops $drops; peak RSS ${rss} KiB"
[ -n "$sent" ] && [ "$sent" -gt 1000 ] || fail "wrk produced too little traffic: $(cat "$T/wrk.out")"
# wrk may have a few requests in flight at the end that it does not count.
[ "$got" -ge "$sent" ] || [ $((sent - got)) -le "$drops" ] ||
  fail "missing $((sent - got)) exchanges not explained by $drops drops"
[ "$got" -le $((sent + 16)) ] || fail "captured more exchanges ($got) than wrk sent ($sent)"
limit=262144  # KiB; the 64 MiB ring is counted in RSS; ASan shadow memory needs more
[ "${SC_SANITIZE:-0}" = 1 ] && limit=1048576
[ "$rss" -lt "$limit" ] || fail "peak RSS ${rss} KiB (limit $limit)"
pass
