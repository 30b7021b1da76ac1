/*
 * decode.c - L2-L4 decoding: Ethernet (802.1Q/802.1ad/QinQ), Linux SLL and
 * SLL2, raw IP (DLT 12/14/101, 228, 229), BSD NULL/LOOP, then IPv4/IPv6
 * and TCP. Stage: capture.
 * References: IEEE 802.3, IEEE 802.1Q; https://www.tcpdump.org/linktypes.html
 * (LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL, LINKTYPE_LOOP);
 * RFC 791 section 3.1 (IPv4 header), RFC 8200 sections 3-4 (IPv6 header and
 * extension headers), RFC 9293 section 3.1 (TCP header).
 *
 * Every byte is read through struct sc_rd (rd.h). A header cut by the
 * snaplen is "truncated", a header that contradicts itself is "invalid";
 * both are counted apart and the packet is skipped.
 */
#include "capture/decode.h"

#include <string.h>

#include "capture/rd.h"

/* pcap DLT values (stable across platforms except RAW, see below). */
enum {
  DLT_NULL_ = 0,
  DLT_EN10MB_ = 1,
  DLT_RAW_12 = 12,   /* DLT_RAW on most platforms */
  DLT_RAW_14 = 14,   /* DLT_RAW on OpenBSD */
  DLT_RAW_101 = 101, /* LINKTYPE_RAW as stored in files */
  DLT_LOOP_ = 108,
  DLT_LINUX_SLL_ = 113,
  DLT_IPV4_ = 228,
  DLT_IPV6_ = 229,
  DLT_LINUX_SLL2_ = 276,
};

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100

int sc_decode_dlt_supported(int dlt) {
  switch (dlt) {
  case DLT_NULL_: case DLT_EN10MB_: case DLT_RAW_12: case DLT_RAW_14: case DLT_RAW_101:
  case DLT_LOOP_: case DLT_LINUX_SLL_: case DLT_IPV4_: case DLT_IPV6_: case DLT_LINUX_SLL2_:
    return 1;
  default:
    return 0;
  }
}

/* RFC 9293 section 3.1: the TCP header; r covers exactly the IP payload. */
static int decode_tcp(struct sc_rd *r, uint32_t ip_payload_len, struct sc_segment *seg,
                      struct sc_decode_stats *st) {
  const uint8_t *start = r->p;
  seg->sport = sc_rd_be16(r);
  seg->dport = sc_rd_be16(r);
  seg->seq = sc_rd_be32(r);
  seg->ack = sc_rd_be32(r);
  uint8_t off = sc_rd_u8(r);
  seg->flags = sc_rd_u8(r) & 0x3f;
  sc_rd_skip(r, 6); /* window, checksum, urgent pointer */
  if (r->short_read) {
    st->truncated++;
    return 0;
  }
  size_t hlen = (size_t)(off >> 4) * 4;
  if (hlen < 20 || hlen > ip_payload_len) {
    st->invalid++;
    return 0;
  }
  sc_rd_skip(r, hlen - 20); /* options */
  if (r->short_read) {
    st->truncated++;
    return 0;
  }
  (void)start;
  seg->wire_len = ip_payload_len - (uint32_t)hlen;
  size_t left = sc_rd_left(r);
  seg->len = left < seg->wire_len ? (uint32_t)left : seg->wire_len;
  seg->payload = r->p;
  return 1;
}

/* RFC 791 section 3.1. */
static int decode_ipv4(struct sc_rd *r, struct sc_segment *seg, struct sc_decode_stats *st) {
  uint8_t vihl = sc_rd_u8(r);
  sc_rd_skip(r, 1); /* TOS */
  uint16_t tot = sc_rd_be16(r);
  sc_rd_skip(r, 2); /* id */
  uint16_t frag = sc_rd_be16(r);
  sc_rd_skip(r, 1); /* TTL */
  uint8_t proto = sc_rd_u8(r);
  sc_rd_skip(r, 2); /* checksum */
  sc_rd_bytes(r, seg->src, 4);
  sc_rd_bytes(r, seg->dst, 4);
  if (r->short_read) {
    st->truncated++;
    return 0;
  }
  size_t ihl = (size_t)(vihl & 0x0f) * 4;
  if ((vihl >> 4) != 4 || ihl < 20) {
    st->invalid++;
    return 0;
  }
  /* tot == 0 happens with TCP segmentation offload captures: trust caplen. */
  size_t total = tot ? tot : (size_t)(r->end - r->p) + 20 + (ihl - 20);
  if (total < ihl) {
    st->invalid++;
    return 0;
  }
  sc_rd_skip(r, ihl - 20);
  if (r->short_read) {
    st->truncated++;
    return 0;
  }
  if ((frag & 0x3fff) != 0) { /* MF set or offset != 0 */
    st->ip_fragments++;
    return 0;
  }
  if (proto != 6) {
    st->not_tcp++;
    return 0;
  }
  sc_rd_limit(r, total - ihl); /* drops Ethernet padding */
  seg->family = 4;
  return decode_tcp(r, (uint32_t)(total - ihl), seg, st);
}

/* RFC 8200 sections 3 and 4: fixed header, then extension headers. */
static int decode_ipv6(struct sc_rd *r, struct sc_segment *seg, struct sc_decode_stats *st) {
  uint32_t vtf = sc_rd_be32(r);
  uint16_t plen = sc_rd_be16(r);
  uint8_t nh = sc_rd_u8(r);
  sc_rd_skip(r, 1); /* hop limit */
  sc_rd_bytes(r, seg->src, 16);
  sc_rd_bytes(r, seg->dst, 16);
  if (r->short_read) {
    st->truncated++;
    return 0;
  }
  if ((vtf >> 28) != 6) {
    st->invalid++;
    return 0;
  }
  size_t left = plen ? plen : sc_rd_left(r); /* 0: jumbogram (RFC 2675) */
  sc_rd_limit(r, left);
  for (int i = 0; i < 16; i++) { /* bounded chain walk */
    switch (nh) {
    case 6:
      seg->family = 6;
      return decode_tcp(r, (uint32_t)left, seg, st);
    case 0: case 43: case 60: { /* hop-by-hop, routing, destination options */
      uint8_t next = sc_rd_u8(r);
      size_t len = ((size_t)sc_rd_u8(r) + 1) * 8;
      if (r->short_read || len > left) {
        st->truncated++;
        return 0;
      }
      sc_rd_skip(r, len - 2);
      left -= len;
      nh = next;
      break;
    }
    case 51: { /* AH (RFC 4302): length in 4-octet units minus 2 */
      uint8_t next = sc_rd_u8(r);
      size_t len = ((size_t)sc_rd_u8(r) + 2) * 4;
      if (r->short_read || len > left) {
        st->truncated++;
        return 0;
      }
      sc_rd_skip(r, len - 2);
      left -= len;
      nh = next;
      break;
    }
    case 44: /* fragment header */
      st->ip_fragments++;
      return 0;
    default:
      st->not_tcp++;
      return 0;
    }
    if (r->short_read) {
      st->truncated++;
      return 0;
    }
  }
  st->invalid++;
  return 0;
}

static int decode_ethertype(uint16_t et, struct sc_rd *r, struct sc_segment *seg,
                            struct sc_decode_stats *st) {
  for (int tags = 0; tags < 4 && (et == ETH_VLAN || et == ETH_QINQ || et == ETH_QINQ_OLD); tags++) {
    sc_rd_skip(r, 2); /* TCI */
    et = sc_rd_be16(r);
  }
  if (r->short_read) {
    st->truncated++;
    return 0;
  }
  if (et == ETH_IPV4) return decode_ipv4(r, seg, st);
  if (et == ETH_IPV6) return decode_ipv6(r, seg, st);
  st->not_ip++;
  return 0;
}

/* Raw IP: the version nibble says which. */
static int decode_raw(struct sc_rd *r, struct sc_segment *seg, struct sc_decode_stats *st) {
  if (!sc_rd_need(r, 1)) {
    st->truncated++;
    return 0;
  }
  uint8_t v = r->p[0] >> 4;
  if (v == 4) return decode_ipv4(r, seg, st);
  if (v == 6) return decode_ipv6(r, seg, st);
  st->not_ip++;
  return 0;
}

int sc_decode_packet(int dlt, const uint8_t *p, size_t caplen, uint64_t ts_ns,
                     struct sc_segment *seg, struct sc_decode_stats *st) {
  struct sc_rd r;
  sc_rd_init(&r, p, caplen);
  memset(seg, 0, sizeof *seg);
  seg->ts_ns = ts_ns;
  switch (dlt) {
  case DLT_EN10MB_: {
    sc_rd_skip(&r, 12); /* dst, src MAC */
    uint16_t et = sc_rd_be16(&r);
    if (r.short_read) {
      st->truncated++;
      return 0;
    }
    if (et < 0x0600) { /* 802.3 length field: LLC/SNAP, not IP here */
      st->not_ip++;
      return 0;
    }
    return decode_ethertype(et, &r, seg, st);
  }
  case DLT_LINUX_SLL_: { /* 16 bytes: type, ARPHRD, addr len, addr[8], protocol */
    sc_rd_skip(&r, 14);
    uint16_t et = sc_rd_be16(&r);
    if (r.short_read) {
      st->truncated++;
      return 0;
    }
    return decode_ethertype(et, &r, seg, st);
  }
  case DLT_LINUX_SLL2_: { /* 20 bytes: protocol, reserved, ifindex, ARPHRD, type, addr len, addr[8] */
    uint16_t et = sc_rd_be16(&r);
    sc_rd_skip(&r, 18);
    if (r.short_read) {
      st->truncated++;
      return 0;
    }
    return decode_ethertype(et, &r, seg, st);
  }
  case DLT_NULL_: case DLT_LOOP_: {
    /* 4-byte address family: host order for NULL, network order for LOOP.
     * The file may come from another host, so accept either byte order. */
    uint32_t be = sc_rd_be32(&r);
    if (r.short_read) {
      st->truncated++;
      return 0;
    }
    uint32_t le = (be >> 24) | ((be >> 8) & 0xff00) | ((be << 8) & 0xff0000) | (be << 24);
    uint32_t af = be < 256 ? be : le;
    if (af == 2) return decode_ipv4(&r, seg, st);
    if (af == 10 || af == 24 || af == 28 || af == 30) return decode_ipv6(&r, seg, st);
    st->not_ip++;
    return 0;
  }
  case DLT_RAW_12: case DLT_RAW_14: case DLT_RAW_101:
    return decode_raw(&r, seg, st);
  case DLT_IPV4_:
    return decode_ipv4(&r, seg, st);
  case DLT_IPV6_:
    return decode_ipv6(&r, seg, st);
  default:
    st->not_ip++;
    return 0;
  }
}
