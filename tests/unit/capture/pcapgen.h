/*
 * pcapgen.h - test helper (header only): builds synthetic TCP conversations
 * as link-layer frames, writes them with pcap_dump to a temp file, and runs
 * the file through the real capture pipeline (sc_capture_open/loop),
 * collecting the exchanges. Stage: capture tests.
 */
#ifndef SC_TEST_PCAPGEN_H
#define SC_TEST_PCAPGEN_H

#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/capture.h"
#include "traffic/exchange.h"

#define PG_MAX_PKTS 4096

struct pg_pkt {
  uint8_t *data;
  uint32_t len, caplen;
  uint64_t ts;
};

struct pg {
  int dlt;          /* 1 EN10MB, 113 SLL, 276 SLL2, 12 RAW, 0 NULL */
  int vlan_tags;    /* EN10MB: number of 802.1Q tags */
  int family;       /* 4 or 6 */
  uint16_t cport, sport;
  uint32_t cseq, sseq; /* next sequence numbers */
  uint64_t ts;
  uint32_t snap;    /* 0 = keep everything */
  struct pg_pkt pk[PG_MAX_PKTS];
  int n;
};

static inline void pg_init(struct pg *g, int dlt, int family) {
  memset(g, 0, sizeof *g);
  g->dlt = dlt;
  g->family = family;
  g->cport = 40000;
  g->sport = 8080;
  g->cseq = 1000;
  g->sseq = 5000000;
  g->ts = 1700000000ull * 1000000000ull;
}

static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Appends one segment: from_client, explicit seq, flags, payload. */
static inline void pg_seg_at(struct pg *g, int from_client, uint32_t seq, uint8_t flags,
                             const void *payload, size_t n) {
  uint8_t hdr[128];
  size_t h = 0;
  uint16_t et = g->family == 4 ? 0x0800 : 0x86dd;
  if (g->dlt == 1) {
    memset(hdr, 0x11, 12);
    h = 12;
    for (int i = 0; i < g->vlan_tags; i++) {
      put16(hdr + h, i == 0 && g->vlan_tags > 1 ? 0x88a8 : 0x8100);
      put16(hdr + h + 2, (uint16_t)(10 + i));
      h += 4;
    }
    put16(hdr + h, et);
    h += 2;
  } else if (g->dlt == 113) {
    memset(hdr, 0, 14);
    put16(hdr, from_client ? 4 : 0);
    put16(hdr + 2, 772);
    put16(hdr + 14, et);
    h = 16;
  } else if (g->dlt == 276) {
    memset(hdr, 0, 20);
    put16(hdr, et);
    put32(hdr + 4, 1);
    put16(hdr + 8, 772);
    h = 20;
  } else if (g->dlt == 0) {
    uint32_t af = g->family == 4 ? 2 : 10;
    memcpy(hdr, &af, 4); /* host order */
    h = 4;
  }
  size_t iph = g->family == 4 ? 20 : 40, tcph = 20;
  size_t tot = h + iph + tcph + n;
  uint8_t *p = calloc(1, tot);
  memcpy(p, hdr, h);
  uint8_t *ip = p + h;
  uint8_t caddr[16] = {0}, saddr[16] = {0};
  if (g->family == 4) {
    caddr[0] = 10; caddr[3] = 1;
    saddr[0] = 10; saddr[3] = 2;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(iph + tcph + n));
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, from_client ? caddr : saddr, 4);
    memcpy(ip + 16, from_client ? saddr : caddr, 4);
  } else {
    caddr[0] = 0x20; caddr[1] = 0x01; caddr[15] = 1;
    saddr[0] = 0x20; saddr[1] = 0x01; saddr[15] = 2;
    ip[0] = 0x60;
    put16(ip + 4, (uint16_t)(tcph + n));
    ip[6] = 6;
    ip[7] = 64;
    memcpy(ip + 8, from_client ? caddr : saddr, 16);
    memcpy(ip + 24, from_client ? saddr : caddr, 16);
  }
  uint8_t *t = ip + iph;
  put16(t, from_client ? g->cport : g->sport);
  put16(t + 2, from_client ? g->sport : g->cport);
  put32(t + 4, seq);
  put32(t + 8, from_client ? g->sseq : g->cseq);
  t[12] = 5 << 4;
  t[13] = flags;
  put16(t + 14, 65535);
  if (n) memcpy(t + tcph, payload, n);
  struct pg_pkt *k = &g->pk[g->n++];
  k->data = p;
  k->len = (uint32_t)tot;
  k->caplen = g->snap && g->snap < tot ? g->snap : (uint32_t)tot;
  k->ts = g->ts;
  g->ts += 1000000; /* 1 ms */
}

/* In-order data segment(s) from one side; split into mss-sized pieces. */
static inline void pg_send(struct pg *g, int from_client, const void *data, size_t n) {
  const uint8_t *d = data;
  size_t mss = 1400;
  do {
    size_t k = n < mss ? n : mss;
    uint32_t *seq = from_client ? &g->cseq : &g->sseq;
    pg_seg_at(g, from_client, *seq, 0x18, d, k);
    *seq += (uint32_t)k;
    d += k;
    n -= k;
  } while (n);
}

static inline void pg_sends(struct pg *g, int from_client, const char *s) { pg_send(g, from_client, s, strlen(s)); }

static inline void pg_handshake(struct pg *g) {
  pg_seg_at(g, 1, g->cseq - 1, 0x02, NULL, 0);
  pg_seg_at(g, 0, g->sseq - 1, 0x12, NULL, 0);
  pg_seg_at(g, 1, g->cseq, 0x10, NULL, 0);
}

static inline void pg_fin(struct pg *g, int from_client) {
  uint32_t *seq = from_client ? &g->cseq : &g->sseq;
  pg_seg_at(g, from_client, *seq, 0x11, NULL, 0);
  *seq += 1;
}

static inline void pg_swap(struct pg *g, int a, int b) {
  struct pg_pkt t = g->pk[a];
  g->pk[a] = g->pk[b];
  g->pk[b] = t;
}

/* Writes the packets to a fresh temp file; returns its path (static buffer). */
static inline const char *pg_write(struct pg *g) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/sc-pg-XXXXXX");
  int fd = mkstemp(path);
  close(fd);
  pcap_t *pd = pcap_open_dead_with_tstamp_precision(g->dlt, 262144,
                                                    PCAP_TSTAMP_PRECISION_NANO);
  pcap_dumper_t *dp = pcap_dump_open(pd, path);
  if (!dp) {
    fprintf(stderr, "pcap_dump_open: %s\n", pcap_geterr(pd));
    abort();
  }
  for (int i = 0; i < g->n; i++) {
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(g->pk[i].ts / 1000000000ull);
    h.ts.tv_usec = (suseconds_t)(g->pk[i].ts % 1000000000ull);
    h.caplen = g->pk[i].caplen;
    h.len = g->pk[i].len;
    pcap_dump((u_char *)dp, &h, g->pk[i].data);
  }
  pcap_dump_close(dp);
  pcap_close(pd);
  return path;
}

static inline void pg_free(struct pg *g) {
  for (int i = 0; i < g->n; i++) free(g->pk[i].data);
  g->n = 0;
}

/* ---- running the pipeline ---- */

struct pg_result {
  struct sc_exchange x[256];
  int n;
  struct sc_capture_stats st;
  int rc;
  struct sc_error err;
};

static inline int pg_collect(void *ud, struct sc_exchange *x, struct sc_error *err) {
  struct pg_result *r = ud;
  (void)err;
  if (r->n < 256) {
    r->x[r->n++] = *x;
    memset(x, 0, sizeof *x);
  } else {
    sc_exchange_release(x);
  }
  return 0;
}

static inline void pg_result_release(struct pg_result *r) {
  for (int i = 0; i < r->n; i++) sc_exchange_release(&r->x[i]);
  r->n = 0;
}

/* Runs a pcap file through sc_capture with cfg overrides (may be NULL). */
static inline void pg_run_file(const char *path, const struct sc_capture_cfg *over, struct pg_result *r) {
  memset(r, 0, sizeof *r);
  struct sc_capture_cfg cfg = {.sample_pct = 100};
  if (over) cfg = *over;
  cfg.file = path;
  struct sc_capture_sink sink = {pg_collect, r};
  struct sc_capture *c = NULL;
  r->rc = sc_capture_open(&c, &cfg, &sink, &r->err);
  if (r->rc) return;
  r->rc = sc_capture_loop(c, &r->err);
  sc_capture_get_stats(c, &r->st);
  sc_capture_close(c);
}

static inline void pg_run(struct pg *g, const struct sc_capture_cfg *over, struct pg_result *r) {
  const char *p = pg_write(g);
  pg_run_file(p, over, r);
  unlink(p);
  pg_free(g);
}

#endif
