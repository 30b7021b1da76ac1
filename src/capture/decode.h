/*
 * decode.h - L2-L4 decoding of one captured packet into a TCP segment.
 * Stage: capture. References: IEEE 802.3 / 802.1Q (VLAN, QinQ), Linux
 * cooked capture SLL/SLL2 (tcpdump.org linktypes), RFC 791 (IPv4),
 * RFC 8200 (IPv6 and its extension headers), RFC 9293 (TCP).
 */
#ifndef SC_CAPTURE_DECODE_H
#define SC_CAPTURE_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* TCP flags (RFC 9293 section 3.1). */
#define SC_TCP_FIN 0x01
#define SC_TCP_SYN 0x02
#define SC_TCP_RST 0x04
#define SC_TCP_PSH 0x08
#define SC_TCP_ACK 0x10

/* One TCP segment. `payload` is borrowed from the packet buffer (valid until
 * the next packet is read). */
struct sc_segment {
  uint8_t family;              /* 4 or 6 */
  uint8_t flags;               /* SC_TCP_* */
  uint8_t src[16], dst[16];    /* IPv4 uses the first 4 bytes */
  uint16_t sport, dport;
  uint32_t seq, ack;
  const uint8_t *payload;      /* captured payload bytes */
  uint32_t len;                /* captured payload length */
  uint32_t wire_len;           /* payload length per the IP header (>= len;
                                  larger when the snaplen cut the packet) */
  uint64_t ts_ns;
};

/* Counters of what decoding skipped; the caller owns and zeroes them. */
struct sc_decode_stats {
  uint64_t not_ip;        /* ARP, LLDP, unknown ethertypes */
  uint64_t not_tcp;       /* UDP, ICMP, ... */
  uint64_t ip_fragments;  /* IPv4 MF/offset or IPv6 fragment header (not reassembled) */
  uint64_t truncated;     /* headers cut by the snaplen */
  uint64_t invalid;       /* malformed headers */
};

/* 1 when `dlt` (pcap_datalink()) is decoded by sc_decode_packet. */
int sc_decode_dlt_supported(int dlt);

/* Decodes one packet of link type dlt. Returns 1 and fills *seg for a TCP
 * segment, 0 when the packet is skipped (counted in *st). Never fails, never
 * reads outside [p, p+caplen). */
int sc_decode_packet(int dlt, const uint8_t *p, size_t caplen, uint64_t ts_ns,
                     struct sc_segment *seg, struct sc_decode_stats *st);

#endif
