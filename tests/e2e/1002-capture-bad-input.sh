#!/usr/bin/env bash
# 1002-capture-bad-input: empty file, non-pcap file, missing file, truncated
# pcap, unknown link type, usage errors. Each gives one clear line naming the
# file (and packet/offset where known) and exit status 2; a truncated pcap
# still writes (validly) every exchange before the cut.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 missing"

# A small Ethernet pcap: one connection, 3 keep-alive exchanges.
python3 - "$T/good.pcap" "$T/user0.pcap" <<'PY'
import struct, sys
def pkt(src, dst, sp, dp, seq, ack, flags, data=b""):
    tcp = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, bytes(src), bytes(dst)) + tcp
    return b"\x00" * 12 + b"\x08\x00" + ip
c, s = [10, 0, 0, 1], [10, 0, 0, 2]
cs, ss = 1000, 9000
pk = [pkt(c, s, 40000, 80, cs - 1, 0, 0x02), pkt(s, c, 80, 40000, ss - 1, cs, 0x12), pkt(c, s, 40000, 80, cs, ss, 0x10)]
for i in range(3):
    req = b"GET /item/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i
    body = b'{"n":%d}' % i
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    pk.append(pkt(c, s, 40000, 80, cs, ss, 0x18, req)); cs += len(req)
    pk.append(pkt(s, c, 80, 40000, ss, cs, 0x18, resp)); ss += len(resp)
def write(path, linktype):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, linktype))
        for i, p in enumerate(pk):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(p), len(p)) + p)
write(sys.argv[1], 1)
write(sys.argv[2], 147)
PY

run() { # expected-status out-name args...
  local want=$1 name=$2; shift 2
  "$SHADOWCTL" capture "$@" >"$T/$name.out" 2>"$T/$name.err"
  local st=$?
  expect_status "$want" "$st" "capture $* ($(head -c 300 "$T/$name.err"))"
  if grep -q -i 'AddressSanitizer\|runtime error' "$T/$name.err"; then fail "$name: sanitizer report"; fi
}
one_line() { # name pattern
  local n
  n=$(grep -c '^shadowctl capture: ' "$T/$1.err")
  [ "$n" = 1 ] || fail "$1: expected one error line, got: $(cat "$T/$1.err")"
  grep -q -- "$2" "$T/$1.err" || fail "$1: error line lacks '$2': $(cat "$T/$1.err")"
}

# sanity: the good file works
run 0 good -r "$T/good.pcap" -o "$T/good.shdw"
[ "$("$SHADOWCTL" inspect --count "$T/good.shdw")" = 3 ] || fail "good.pcap: expected 3 exchanges"

: > "$T/empty.pcap"
run 2 empty -r "$T/empty.pcap" -o "$T/o1.shdw"
one_line empty "'$T/empty.pcap' is empty"

echo "this is not a capture file" > "$T/text.pcap"
run 2 text -r "$T/text.pcap" -o "$T/o2.shdw"
one_line text "$T/text.pcap"

run 2 missing -r "$T/nope.pcap" -o "$T/o3.shdw"
one_line missing "$T/nope.pcap"

run 2 user0 -r "$T/user0.pcap" -o "$T/o4.shdw"
one_line user0 "unsupported link type 147"

# truncated: cut inside the last packet (the 3rd response)
size=$(stat -c %s "$T/good.pcap")
head -c $((size - 20)) "$T/good.pcap" > "$T/cut.pcap"
run 2 cut -r "$T/cut.pcap" -o "$T/cut.shdw"
one_line cut "'$T/cut.pcap' truncated at packet 9 (byte offset"
"$SHADOWCTL" inspect --validate "$T/cut.shdw" >/dev/null || fail "output of a truncated pcap is not a valid traffic file"
n=$("$SHADOWCTL" inspect --count "$T/cut.shdw")
[ "$n" = 3 ] || fail "truncated pcap: expected 2 paired + 1 response-missing exchanges, got $n"
[ "$("$SHADOWCTL" inspect --count --status 200 "$T/cut.shdw")" = 2 ] || fail "truncated pcap: expected 2 answered exchanges"

# usage errors
run 2 noout -r "$T/good.pcap"
run 2 both -r "$T/good.pcap" -i lo -o "$T/o5.shdw"
run 2 badport -r "$T/good.pcap" --port 70000 -o "$T/o6.shdw"
run 2 badfilter -r "$T/good.pcap" -f "tcp port" -o "$T/o7.shdw"
one_line badfilter "invalid filter"
pass
