#!/usr/bin/env bash
# bench/capture.sh - capture throughput benchmark (not run by CI).
# Generates a loopback capture of at least MIN_EXCHANGES (default 200000)
# keep-alive HTTP/1.1 exchanges (wrk against nginx, tcpdump writing), then
# times, on the same file:
#   tcpdump -r F -w /dev/null                    (raw read ceiling)
#   shadowctl capture -r F --no-compress -o X    (and with zstd)
#   tshark -r F -Y http.request -T fields ...    (HTTP field extraction)
# and prints exchanges/s, ratios, peak RSS and whether every request tshark
# finds was also found by shadowctl.
# Usage: scripts/bench/capture.sh [BUILD_DIR] [MIN_EXCHANGES]
# Each tool runs several times, alternating (REPEAT rounds, default 5; tshark,
# about 20 s a run, in TSHARK_REPEAT of them, default 3): medians compared.
# BENCH_KEEP=FILE keeps the generated capture; BENCH_PCAP=FILE skips the
# generation (nginx, wrk, tcpdump) and times that capture instead, so runs
# before and after a change read the same file.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
min=${2:-200000}
sc=$build/shadowctl
for t in nginx wrk tcpdump tshark python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench: $t is required" >&2; exit 2; }
done
[ -x "$sc" ] || { echo "bench: $sc not built" >&2; exit 2; }
T=$(mktemp -d /tmp/sc-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$T"; }
trap cleanup EXIT

F=$T/bench.pcap
if [ -n "${BENCH_PCAP:-}" ]; then
  [ -r "$BENCH_PCAP" ] || { echo "bench: cannot read BENCH_PCAP '$BENCH_PCAP'" >&2; exit 2; }
  F=$BENCH_PCAP
  echo "capture file (BENCH_PCAP, not generated): $F, $(du -h "$F" | cut -f1)"
else
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/nginx"
cat > "$T/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $T/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $T/nginx;
  proxy_temp_path $T/nginx;
  fastcgi_temp_path $T/nginx;
  uwsgi_temp_path $T/nginx;
  scgi_temp_path $T/nginx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type application/json; return 200 '{"score":0.42,"decision":"allow"}'; }
  }
}
NGX
nginx -c "$T/nginx.conf" -p "$T/nginx" & pids+=($!)
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

tcpdump -i lo -s 262144 -B 262144 -U -w "$F" "tcp port $port" 2>"$T/tcpdump.err" & tdpid=$!; pids+=($tdpid)
sleep 1
total=0
for _ in 1 2 3 4 5 6; do
  out=$(wrk -t1 -c4 -d5s "http://127.0.0.1:$port/v1/score?id=1" 2>&1)
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  total=$((total + n))
  [ "$total" -ge "$min" ] && break
done
sleep 1
kill -INT "$tdpid"; wait "$tdpid" 2>/dev/null || true
echo "generated: $total requests sent by wrk; $(grep -h 'dropped by kernel' "$T/tcpdump.err" || true)"
echo "capture file: $(du -h "$F" | cut -f1), $(capinfos -c -M "$F" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}') packets"
if [ -n "${BENCH_KEEP:-}" ]; then cp "$F" "$BENCH_KEEP"; fi  # keep the capture for profiling
fi

# timed runs: "name seconds peakKiB"
timeit() { # name cmd...
  local name=$1; shift
  local s e
  s=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$T/$name.rss" "$@" >"$T/$name.out" 2>"$T/$name.err"
  e=$(date +%s.%N)
  echo "$name $(echo "$e - $s" | bc -l) $(tail -1 "$T/$name.rss")"
}
# every tool runs several times, alternating (REPEAT rounds, default 5; tshark
# in the first TSHARK_REPEAT of them, default 3), and the medians are
# compared: one run moves by 10-30% on this shared machine, tshark's too
median_of() { # name -> "name median_seconds max_rss" over the collected runs
  sort -n -k2 "$T/runs.$1" | awk -v n="$(wc -l <"$T/runs.$1")" -v name="$1" '
    { s[NR] = $2; if ($3 > m) m = $3 }
    END { med = n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2; print name, med, m }'
}
sync                  # the generator's capture and copies reach the disk before any timing
cat "$F" > /dev/null  # warm the page cache
: >"$T/runs.tcpdump"; : >"$T/runs.sc_plain"; : >"$T/runs.sc_zstd"; : >"$T/runs.tshark"
for round in $(seq 1 "${REPEAT:-5}"); do
  timeit tcpdump tcpdump -r "$F" -w /dev/null >>"$T/runs.tcpdump"
  rm -f "$T/plain.shdw" "$T/zstd.shdw" # a fresh file each run (not the truncation of the last one)
  timeit sc_plain "$sc" capture -r "$F" --no-compress -o "$T/plain.shdw" >>"$T/runs.sc_plain"
  timeit sc_zstd "$sc" capture -r "$F" -o "$T/zstd.shdw" >>"$T/runs.sc_zstd"
  if [ "$round" -le "${TSHARK_REPEAT:-3}" ]; then
    timeit tshark tshark -r "$F" -Y "http.request or http.response" -T fields -e tcp.stream -e http.request.method \
      -e http.request.uri -e http.response.code >>"$T/runs.tshark"
  fi
done
r_tcpdump=$(median_of tcpdump)
r_plain=$(median_of sc_plain)
r_zstd=$(median_of sc_zstd)
r_tshark=$(median_of tshark)

n_sc=$("$sc" inspect --count "$T/plain.shdw")
n_sc_paired=$(( n_sc - $("$sc" inspect --count --status 0 "$T/plain.shdw") ))
n_ts=$(awk -F'\t' '$2 != ""' "$T/tshark.out" | wc -l)
n_ts_paired=$(awk -F'\t' '$4 != ""' "$T/tshark.out" | wc -l)
echo
printf "%-28s %10s %14s %12s %10s\n" tool seconds exchanges/s "vs tcpdump" "peak RSS"
row() { # label "name secs rss"
  set -- "$1" $2
  local rate; rate=$(echo "$n_ts / $3" | bc -l)
  printf "%-28s %10.3f %14.0f %11.2fx %8s MiB\n" "$1" "$3" "$rate" "$(echo "$(echo "$r_tcpdump" | cut -d' ' -f2) / $3" | bc -l)" "$(( $4 / 1024 ))"
}
row "tcpdump -r -w /dev/null" "$r_tcpdump"
row "shadowctl --no-compress" "$r_plain"
row "shadowctl (zstd)" "$r_zstd"
row "tshark HTTP fields" "$r_tshark"
ts_s=$(echo "$r_tshark" | cut -d' ' -f2)
echo
printf "shadowctl/tshark speed-up: %.1fx (no-compress), %.1fx (zstd)\n" \
  "$(echo "$ts_s / $(echo "$r_plain" | cut -d' ' -f2)" | bc -l)" "$(echo "$ts_s / $(echo "$r_zstd" | cut -d' ' -f2)" | bc -l)"
echo "exchanges: tshark $n_ts requests, $n_ts_paired responses; shadowctl $n_sc exchanges ($n_sc_paired answered)"
echo "traffic file sizes: plain $(du -h "$T/plain.shdw" | cut -f1), zstd $(du -h "$T/zstd.shdw" | cut -f1)"
if [ "$n_sc" -ge "$n_ts" ] && [ "$n_sc_paired" -ge "$n_ts_paired" ]; then
  echo "every exchange tshark finds is found: yes"
else
  echo "every exchange tshark finds is found: NO"
fi
