#!/usr/bin/env bash
# replay.sh - replay throughput and pacing benchmark (not run by CI).
#
#   scripts/bench/replay.sh [BUILD_DIR]      (default: build)
#
# Starts nginx (Debian nginx-light) on 127.0.0.1 with its own config in a
# temp dir, returning a fixed JSON body, then:
#   1. `wrk -c 64` (and `wrk -t 1 -c 64`) against it, and `shadowctl replay
#      --max --concurrency 64` (one target) on the same endpoint, in ROUNDS
#      alternating rounds: requests/s of each and the median ratios
#      (goal >= 0.8 of `wrk -c 64`);
#   2. `--rate 5000/s` for 20 s: achieved rate (goal within 2%);
#   3. peak RSS of --max replays of a file and of a 10x larger one: flat for
#      the replay alone (--no-analyze); also shown with the end-of-run analysis.
# Environment: WRK_SECONDS (10), ROUNDS (3), RATE (5000), RATE_SECONDS (20), N (200000),
# RATE_CONCURRENCY (1024), SKIP_RSS=1 skips part 3.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$ROOT/build}
SC=$B/shadowctl
MK=$B/mkshdw
for x in "$SC" "$MK"; do [ -x "$x" ] || { echo "missing $x (build first)" >&2; exit 2; }; done
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "nginx not installed" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
WRK_SECONDS=${WRK_SECONDS:-10}
RATE=${RATE:-5000}
RATE_SECONDS=${RATE_SECONDS:-20}
N=${N:-200000}
T=$(mktemp -d /tmp/sc-bench-replay.XXXXXX)
NPID=
cleanup() {
  [ -n "$NPID" ] && kill "$NPID" 2>/dev/null && sleep 0.3
  rm -rf "$T"
}
trap cleanup EXIT
export SHADOWCTL_NO_TTY=1

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$T/nginx/logs"
cat >"$T/nginx/nginx.conf" <<NGX
worker_processes 1;
error_log $T/nginx/logs/error.log warn;
pid $T/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$PORT;
    location / {
      default_type application/json;
      return 200 '{"score":0.125,"decision":"approve","model_version":"bench"}';
    }
  }
}
NGX
"$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" -g 'daemon off;' 2>"$T/nginx/stderr" &
NPID=$!
for _ in $(seq 1 50); do curl -s "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.1; done
curl -s "http://127.0.0.1:$PORT/" | grep -q bench || { echo "nginx did not start: $(cat "$T/nginx/stderr")" >&2; exit 1; }
URL=http://127.0.0.1:$PORT
echo "nginx on $URL (worker_processes 1); $(nproc) CPUs"

"$MK" -o "$T/t.shdw" --count "$N" >/dev/null
"$MK" -o "$T/t10.shdw" --count $((N * 10)) >/dev/null

# wrk sends the same requests shadowctl replays: the first 1000 exchanges of
# the traffic file (method, target, headers, body; wrk adds Host and
# Content-Length as shadowctl does, and the X-Shadow-Request header too),
# cycled by a Lua request() function.
"$SC" inspect "$T/t.shdw" --json 2>/dev/null | head -1000 | python3 -c '
import json, sys
def lua(s): return "\"" + "".join(c if c.isalnum() or c in " ._-/:,{}[]" else "\\%03d" % ord(c) for c in s) + "\""
reqs = []
for line in sys.stdin:
    x = json.loads(line)["req"]
    hs = [(k, v) for k, v in x.get("headers", []) if k.lower() not in ("host", "content-length")]
    hs.append(("X-Shadow-Request", "1"))
    h = "{" + ", ".join("[%s] = %s" % (lua(k), lua(v)) for k, v in hs) + "}"
    body = x.get("body") if x.get("body_encoding") == "utf8" else None
    reqs.append("wrk.format(%s, %s, %s, %s)" % (lua(x["method"]), lua(x["target"]), h, lua(body) if body else "nil"))
print("local reqs = {}\ninit = function(args)")
for i, r in enumerate(reqs): print("  reqs[%d] = %s" % (i + 1, r))
print("end\nlocal i = 0\nrequest = function()\n  i = i %% %d + 1\n  return reqs[i]\nend" % len(reqs))
' >"$T/same.lua"
[ -s "$T/same.lua" ] || { echo "cannot build the wrk script from the traffic file" >&2; exit 1; }

# 1. throughput: ROUNDS alternating rounds (the machine is shared and noisy),
#    each timing `wrk -c 64` (the issue's peer: wrk's default 2 threads),
#    `wrk -t 1 -c 64` (wrk's fastest setting on this 2-core machine, where
#    its second thread competes with nginx) and shadowctl; medians reported.
rounds=${ROUNDS:-3}
: >"$T/r1"
for r in $(seq 1 "$rounds"); do
  w2=$(wrk -c 64 -d "${WRK_SECONDS}s" -s "$T/same.lua" "$URL" 2>&1 | awk '/^Requests\/sec:/ {print $2}')
  w1=$(wrk -t 1 -c 64 -d "${WRK_SECONDS}s" -s "$T/same.lua" "$URL" 2>&1 | awk '/^Requests\/sec:/ {print $2}')
  rm -f "$T"/max.db*
  # as long as wrk runs: the file replayed in a loop for WRK_SECONDS
  "$SC" replay "$T/t.shdw" --current "$URL" --max --concurrency 64 --duration "${WRK_SECONDS}s" --loop --no-progress \
    --no-analyze --db "$T/max.db" 2>"$T/max.err"
  line=$(grep -E '^run [0-9]+ completed' "$T/max.err")
  n=$(sed -E 's/.*: ([0-9]+) exchanges in ([0-9.]+)s.*/\1/' <<<"$line")
  s=$(sed -E 's/.*: ([0-9]+) exchanges in ([0-9.]+)s.*/\2/' <<<"$line")
  sc_rps=$(awk -v n="$n" -v s="$s" 'BEGIN {printf "%.0f", n / s}')
  echo "round $r: wrk -c 64 $w2/s, wrk -t 1 -c 64 $w1/s, shadowctl replay --max --concurrency 64 $sc_rps/s ($n exchanges in ${s}s, every answer stored in SQLite)"
  grep -E '^  current' "$T/max.err"
  echo "$w2 $w1 $sc_rps" >>"$T/r1"
done
awk '{a[NR]=$1; b[NR]=$2; c[NR]=$3; ra[NR]=$3/$1; rb[NR]=$3/$2}
  function med(x, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
    return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2 }
  END { n = NR; r2 = med(ra, n); r1 = med(rb, n)
    printf "median of %d rounds: wrk -c 64 %.0f/s, wrk -t 1 -c 64 %.0f/s, shadowctl %.0f/s\n", n, med(a, n), med(b, n), med(c, n)
    printf "ratio shadowctl/wrk -c 64: %.2f (goal >= 0.80) %s\n", r2, (r2 >= 0.8 ? "OK" : "BELOW GOAL")
    printf "ratio shadowctl/wrk -t 1 -c 64: %.2f (against wrk at its fastest here)\n", r1 }' "$T/r1"

# 2. open-loop rate (in-flight headroom so that a scheduling hiccup of the
#    shared machine delays answers instead of shedding requests)
"$SC" replay "$T/t.shdw" --current "$URL" --rate "$RATE/s" --duration "${RATE_SECONDS}s" --loop --no-progress \
  --concurrency "${RATE_CONCURRENCY:-1024}" \
  --db "$T/rate.db" 2>"$T/rate.err"
read -r cnt first last p99 <<<"$(sqlite3 -separator ' ' "$T/rate.db" \
  "select count(*), min(sent_ns), max(sent_ns), (select latency_us from responses order by latency_us limit 1 offset (select count(*)*99/100 from responses)) from responses")"
achieved=$(awk -v c="$cnt" -v a="$first" -v b="$last" 'BEGIN {printf "%.1f", (c - 1) / ((b - a) / 1e9)}')
awk -v got="$achieved" -v want="$RATE" -v c="$cnt" -v s="$RATE_SECONDS" -v p="$p99" 'BEGIN {
  d = (got - want) / want * 100; if (d < 0) d = -d;
  printf "--rate %d/s for %ds: %d sent, achieved %.1f/s (%.2f%% off; goal <= 2%%) %s; p99 latency from intended send %.2f ms\n",
         want, s, c, got, d, (d <= 2 ? "OK" : "MISSED"), p / 1000 }'
grep -E '^  current' "$T/rate.err"

# 3. peak RSS, 1x and 10x file
[ "${SKIP_RSS:-0}" = 1 ] && exit 0
# replay alone (--no-analyze): the engine's memory must not grow with the file
for a in no-analyze analyze; do
  flag=; [ $a = no-analyze ] && flag=--no-analyze
  /usr/bin/time -f %M -o "$T/rss1" "$SC" replay "$T/t.shdw" --current "$URL" --max --no-progress $flag --db "$T/rss1-$a.db" 2>/dev/null
  /usr/bin/time -f %M -o "$T/rss10" "$SC" replay "$T/t10.shdw" --current "$URL" --max --no-progress $flag --db "$T/rss10-$a.db" 2>/dev/null
  r1=$(tail -1 "$T/rss1"); r10=$(tail -1 "$T/rss10")
  what="replay alone (--no-analyze)"; [ $a = analyze ] && what="replay + end-of-run analysis (grows with the run, like 'shadowctl analyze')"
  awk -v a="$r1" -v b="$r10" -v n="$N" -v w="$what" 'BEGIN {printf "peak RSS, %s: %d exchanges %d kB, %d exchanges %d kB (x%.2f)\n", w, n, a, n * 10, b, b / a}'
done
