#!/usr/bin/env bash
# 1006-capture-redaction: default-redacted headers (Authorization,
# Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key) and --redact-json paths
# never appear in the traffic file's bytes; --keep-header keeps one;
# --redact-header adds one; the file is mode 0600.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 missing"
python3 - "$T/secret.pcap" <<'PY'
import struct, sys
def pkt(src, dst, sp, dp, seq, ack, flags, data=b""):
    tcp = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, bytes(src), bytes(dst)) + tcp
    return b"\x00" * 12 + b"\x08\x00" + ip
c, s = [10, 0, 0, 1], [10, 0, 0, 2]
body = b'{"card":{"number":"SECRET5PAN","exp":"12/30"},"amount":10}'
req = (b"POST /v1/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer SECRET1AUTH\r\n"
       b"Cookie: sid=SECRET2COOKIE\r\nX-Api-Key: SECRET4KEY\r\nProxy-Authorization: Basic SECRET6PROXY\r\n"
       b"X-Internal-Token: SECRET7TOKEN\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
rbody = b'{"decision":"allow"}'
resp = (b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=SECRET3SETCOOKIE\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(rbody)) + rbody
pk = [pkt(c, s, 40000, 80, 999, 0, 0x02), pkt(s, c, 80, 40000, 8999, 1000, 0x12),
      pkt(c, s, 40000, 80, 1000, 9000, 0x18, req), pkt(s, c, 80, 40000, 9000, 1000 + len(req), 0x18, resp)]
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
    for i, p in enumerate(pk):
        f.write(struct.pack("<IIII", 1700000000, i, len(p), len(p)) + p)
PY
"$SHADOWCTL" -q capture -r "$T/secret.pcap" --no-compress --redact-json '$.card.number' \
  --redact-header X-Internal-Token -o "$T/r.shdw" || fail "capture failed"
[ "$(stat -c %a "$T/r.shdw")" = 600 ] || fail "traffic file mode is $(stat -c %a "$T/r.shdw"), not 600"
for s in SECRET1AUTH SECRET2COOKIE SECRET3SETCOOKIE SECRET4KEY SECRET5PAN SECRET6PROXY SECRET7TOKEN; do
  if grep -a -q "$s" "$T/r.shdw"; then fail "$s found in the traffic file"; fi
done
"$SHADOWCTL" inspect --json "$T/r.shdw" > "$T/r.json"
grep -q '12/30' "$T/r.json" || fail "non-redacted JSON field lost"
grep -q 'redacted' "$T/r.json" || fail "exchange not flagged redacted"
"$SHADOWCTL" -q capture -r "$T/secret.pcap" --no-compress --keep-header Cookie -o "$T/k.shdw" || fail "capture failed"
grep -a -q SECRET2COOKIE "$T/k.shdw" || fail "--keep-header Cookie did not keep the cookie"
grep -a -q SECRET1AUTH "$T/k.shdw" && fail "Authorization kept without --keep-header"
pass
