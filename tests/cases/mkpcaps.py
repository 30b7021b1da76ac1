#!/usr/bin/env python3
"""mkpcaps.py - writes the small synthetic captures of tests/cases (deterministic).
Run from tests/cases: python3 mkpcaps.py. Each capture exercises several
capture features at once; CASES lists the expected `shadowctl inspect` output."""
import struct

def tcp(sp, dp, seq, ack, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + data

def ip4(src, dst, seg):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0, 0, 64, 6, 0, bytes(src), bytes(dst)) + seg

def ip6(src, dst, seg):
    return struct.pack("!IHBB16s16s", 6 << 28, len(seg), 6, 64, bytes(src), bytes(dst)) + seg

class Conv:
    def __init__(self, link, fam, cport, sport):
        self.link, self.fam, self.cp, self.sp = link, fam, cport, sport
        self.c = [10, 0, 0, 1] if fam == 4 else [0x20, 1] + [0] * 13 + [1]
        self.s = [10, 0, 0, 2] if fam == 4 else [0x20, 1] + [0] * 13 + [2]
        self.cs, self.ss = 1000, 500000
        self.pk = []
    def frame(self, from_client, seq, flags, data=b""):
        src, dst = (self.c, self.s) if from_client else (self.s, self.c)
        sp, dp = (self.cp, self.sp) if from_client else (self.sp, self.cp)
        ack = self.ss if from_client else self.cs
        seg = tcp(sp, dp, seq, ack, flags, data)
        ipb = ip4(src, dst, seg) if self.fam == 4 else ip6(src, dst, seg)
        et = b"\x08\x00" if self.fam == 4 else b"\x86\xdd"
        if self.link == 1:
            return b"\x02" * 12 + b"\x81\x00\x00\x07" + et + ipb  # one 802.1Q tag
        if self.link == 276:
            return et + b"\x00\x00" + struct.pack("!IHBB", 1, 772, 0, 6) + b"\x00" * 8 + ipb  # SLL2
        return ipb  # raw
    def hs(self):
        self.pk.append(self.frame(1, self.cs - 1, 0x02))
        self.pk.append(self.frame(0, self.ss - 1, 0x12))
        self.pk.append(self.frame(1, self.cs, 0x10))
    def send(self, from_client, data, mss=600):
        for i in range(0, len(data), mss):
            part = data[i:i + mss]
            if from_client:
                self.pk.append(self.frame(1, self.cs, 0x18, part)); self.cs += len(part)
            else:
                self.pk.append(self.frame(0, self.ss, 0x18, part)); self.ss += len(part)
    def fin(self):
        self.pk.append(self.frame(1, self.cs, 0x11)); self.cs += 1
        self.pk.append(self.frame(0, self.ss, 0x11)); self.ss += 1

def write(path, link, pkts):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, link))
        for i, p in enumerate(pkts):
            f.write(struct.pack("<IIII", 1700000000, i * 1000, len(p), len(p)) + p)

# 1. vlan-keepalive: 802.1Q Ethernet, IPv4; GET, chunked response, HEAD, 204,
#    POST with 100-continue, 304 with a Content-Length, close-delimited HTTP/1.0.
c = Conv(1, 4, 40001, 8080)
c.hs()
c.send(1, b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
c.send(0, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
c.send(1, b"GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n")
c.send(0, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n")
c.send(1, b"HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n")
c.send(0, b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
c.send(1, b"DELETE /item/7 HTTP/1.1\r\nHost: h\r\n\r\n")
c.send(0, b"HTTP/1.1 204 No Content\r\n\r\n")
c.send(1, b"POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1500\r\n\r\n")
c.send(0, b"HTTP/1.1 100 Continue\r\n\r\n")
c.send(1, b"x" * 1500)
c.send(0, b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
c.send(1, b"GET /cached HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"e\"\r\n\r\n")
c.send(0, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n")
c.send(1, b"GET /last HTTP/1.0\r\n\r\n")
c.send(0, b"HTTP/1.0 200 OK\r\n\r\nuntil close")
c.fin()
write("vlan-keepalive.pcap", 1, c.pk)

# 2. sll2-ipv6-pipelined: Linux cooked v2, IPv6; 4 pipelined requests in one
#    segment, responses in two segments; then a request without response.
c = Conv(276, 6, 40002, 80)
c.hs()
c.send(1, b"".join(b"GET /p/%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(4)))
r = b"".join(b"HTTP/1.1 %d X\r\nContent-Length: 1\r\n\r\n%d" % (200 + i, i) for i in range(4))
c.send(0, r, mss=50)
c.send(1, b"GET /unanswered HTTP/1.1\r\nHost: h\r\n\r\n")
write("sll2-ipv6-pipelined.pcap", 276, c.pk)

# 3. raw-midstream-ooo: raw IPv4, capture starts inside a response body; then
#    a request split in 3 segments sent out of order with a retransmission.
c = Conv(12, 4, 40003, 8000)
c.send(0, b"dy of an earlier response\r\n")
req = b"POST /score HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"amount\": 12.5}"
s0 = c.cs
parts = [(0, 30), (30, 70), (70, len(req))]
for a, b in [parts[0], parts[2], parts[1], parts[1]]:
    c.pk.append(c.frame(1, s0 + a, 0x18, req[a:b]))
c.cs += len(req)
c.send(0, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{\"decision\":\"deny\"}")
write("raw-midstream-ooo.pcap", 101, c.pk)
