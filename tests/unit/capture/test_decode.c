/*
 * test_decode.c - src/capture/decode.c: L2-L4 decoding, table-driven. Each
 * frame is placed right before a PROT_NONE page so a read past caplen
 * crashes; skipped packets land in the right counter (truncated kept apart
 * from invalid).
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/decode.h"

enum { TCP = 1, NOT_IP, NOT_TCP, FRAG, TRUNC, INVALID };

/* Builds Ethernet + IPv4 + TCP with optional tweaks into out; returns length. */
static size_t eth_ipv4_tcp(uint8_t *out, const char *payload, int frag, int proto, int ihl, int doff,
                           int pad) {
  size_t n = strlen(payload);
  memset(out, 0, 200);
  out[12] = 0x08;
  uint8_t *ip = out + 14;
  ip[0] = (uint8_t)(0x40 | ihl);
  size_t tot = (size_t)ihl * 4 + 20 + n;
  ip[2] = (uint8_t)(tot >> 8);
  ip[3] = (uint8_t)tot;
  if (frag) ip[6] = 0x20; /* MF */
  ip[9] = (uint8_t)proto;
  uint8_t *t = ip + ihl * 4;
  t[0] = 0x1f; t[1] = 0x90; t[2] = 0x00; t[3] = 0x50;
  t[12] = (uint8_t)(doff << 4);
  t[13] = 0x18;
  memcpy(t + 20, payload, n);
  return 14 + tot + (size_t)pad;
}

TestSuite(decode);

Test(decode, ipv4_table) {
  static const struct {
    const char *name;
    int frag, proto, ihl, doff, pad, cut, want;
    uint32_t len;
  } cases[] = {
    {"plain", 0, 6, 5, 5, 0, 0, TCP, 5},
    {"ethernet padding trimmed", 0, 6, 5, 5, 12, 0, TCP, 5},
    {"ip options", 0, 6, 6, 5, 0, 0, TCP, 5},
    {"fragment", 1, 6, 5, 5, 0, 0, FRAG, 0},
    {"udp", 0, 17, 5, 5, 0, 0, NOT_TCP, 0},
    {"bad ihl", 0, 6, 4, 5, 0, 0, INVALID, 0},
    {"bad tcp offset", 0, 6, 5, 4, 0, 0, INVALID, 0},
    {"tcp cut", 0, 6, 5, 5, 0, 5 + 20, TRUNC, 0},
    {"ip cut", 0, 6, 5, 5, 0, 5 + 20 + 10, TRUNC, 0},
    {"payload cut by snaplen", 0, 6, 5, 5, 0, 3, TCP, 2},
  };
  long page = sysconf(_SC_PAGESIZE);
  uint8_t *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(m, MAP_FAILED);
  cr_assert_eq(mprotect(m + page, (size_t)page, PROT_NONE), 0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t buf[256];
    size_t n = eth_ipv4_tcp(buf, "hello", cases[i].frag, cases[i].proto, cases[i].ihl, cases[i].doff,
                            cases[i].pad);
    n -= (size_t)cases[i].cut;
    uint8_t *p = m + page - n;
    memcpy(p, buf, n);
    struct sc_segment s;
    struct sc_decode_stats st = {0};
    int r = sc_decode_packet(1, p, n, 7, &s, &st);
    int got = r == 1 ? TCP : st.not_ip ? NOT_IP : st.not_tcp ? NOT_TCP : st.ip_fragments ? FRAG
              : st.truncated ? TRUNC : st.invalid ? INVALID : 0;
    cr_expect_eq(got, cases[i].want, "%s: got %d", cases[i].name, got);
    if (r == 1) {
      cr_expect_eq(s.len, cases[i].len, "%s: len %u", cases[i].name, s.len);
      cr_expect_eq(s.wire_len, 5, "%s", cases[i].name);
      cr_expect_eq(s.sport, 8080);
      cr_expect_eq(s.dport, 80);
      cr_expect_eq(s.flags, 0x18);
      cr_expect_eq(s.ts_ns, 7);
    }
  }
  munmap(m, (size_t)page * 2);
}

Test(decode, link_types_and_ipv6_ext) {
  uint8_t f[128];
  struct sc_segment s;
  struct sc_decode_stats st = {0};
  /* raw IPv6 with a hop-by-hop header, then TCP with 2 payload bytes */
  memset(f, 0, sizeof f);
  f[0] = 0x60;
  f[5] = 8 + 20 + 2;
  f[6] = 0;  /* next: hop-by-hop */
  f[40] = 6; /* hop-by-hop -> TCP */
  f[41] = 0; /* 8 bytes */
  uint8_t *t = f + 48;
  t[12] = 5 << 4;
  t[13] = 0x02;
  t[20] = 'h'; t[21] = 'i';
  cr_assert_eq(sc_decode_packet(12, f, 70, 1, &s, &st), 1);
  cr_expect_eq(s.family, 6);
  cr_expect_eq(s.len, 2);
  cr_expect_eq(s.flags, SC_TCP_SYN);
  /* IPv6 fragment header: counted */
  f[6] = 44;
  cr_expect_eq(sc_decode_packet(12, f, 70, 1, &s, &st), 0);
  cr_expect_eq(st.ip_fragments, 1);
  /* ARP over Ethernet: not IP */
  uint8_t arp[42] = {0};
  arp[12] = 0x08; arp[13] = 0x06;
  cr_expect_eq(sc_decode_packet(1, arp, sizeof arp, 1, &s, &st), 0);
  cr_expect_eq(st.not_ip, 1);
  /* unsupported link type is reported by sc_decode_dlt_supported */
  cr_expect(sc_decode_dlt_supported(1) && sc_decode_dlt_supported(276) && sc_decode_dlt_supported(108));
  cr_expect(!sc_decode_dlt_supported(147));
  /* empty and 1-byte packets never crash */
  cr_expect_eq(sc_decode_packet(1, f, 0, 1, &s, &st), 0);
  cr_expect_eq(sc_decode_packet(113, f, 1, 1, &s, &st), 0);
  cr_expect_eq(sc_decode_packet(0, f, 3, 1, &s, &st), 0);
}
