/*
 * reasm.c - TCP stream reassembly (flow table, per-direction sequencing,
 * out-of-order queue, gaps, idle eviction, memory caps). Stage: capture.
 * Reference: RFC 9293 sections 3.4 (sequence numbers) and 3.5-3.6
 * (establishing and closing), modulo-2^32 comparisons as in RFC 1982.
 *
 * Connection state diagram (one struct sc_reasm_conn):
 *
 *                 SYN, or a segment with payload
 *      (absent) ─────────────────────────────────▶ OPEN
 *                                                   │ FIN delivered in both directions ─┐
 *                                                   │ RST ──────────────────────────────┤
 *                                                   │ idle > idle_ns ───────────────────┤
 *                                                   │ sc_reasm_flush (end of input) ────┤
 *                                                   ▼                                   │
 *                                          CLOSED (tombstone) ◀─────────────────────────┘
 *                                                   │ SYN without ACK: reopened as a new id
 *                                                   │ idle > idle_ns, flush: freed
 *
 *   Transitions -> functions: open: conn_new()/conn_open(); OPEN -> CLOSED:
 *   conn_close(); CLOSED -> freed: conn_free(). A tombstone swallows late
 *   retransmissions and ACKs so they do not open a bogus mid-stream
 *   connection.
 *
 * Direction state (struct sc_reasm_dir):
 *
 *      NEW ──SYN──▶ SYNCED(next = isn+1) ──FIN reached──▶ DONE
 *      NEW ──data without SYN──▶ SYNCED(next = seq, midstream)
 *
 * Invariants:
 *   1. In SYNCED, every byte before next_seq has been delivered (on_data)
 *      or reported as a gap (on_gap), exactly once, in order.
 *   2. The out-of-order queue is sorted by seq, its ranges never overlap
 *      each other and all start after next_seq (first-seen wins: a new
 *      segment is cut around what is already queued).
 *   3. ooo_bytes of a direction <= stream_cap after each call; the sum over
 *      all directions <= mem_cap (else the direction is gap-skipped and
 *      counted in mem_evictions).
 *   4. on_close is called exactly once per opened connection, and no
 *      callback is made for it afterwards until it is reopened.
 *
 * Gap policy: a hole is given up (on_gap, next_seq jumps to the first
 * queued byte) when the peer has acknowledged past it (the capture lost a
 * segment the peer received), when the direction's queue passes its cap,
 * when the global cap is passed, or when the connection closes.
 */
#include "capture/reasm.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util/check.h"

#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)

struct ooo {
  struct ooo *next;
  uint32_t seq, len;
  uint64_t ts;
  uint8_t data[];
};

enum dir_state { D_NEW = 0, D_SYNCED = 1, D_DONE = 2 };

struct sc_reasm_dir {
  int state;
  uint32_t next_seq;
  int fin_seen;
  uint32_t fin_seq;
  int have_acked;
  uint32_t acked;       /* highest ACK the peer sent for this direction */
  struct ooo *ooo;
  size_t ooo_bytes;
  uint64_t fin_ts;
};

struct conn_alloc { /* one allocation per connection */
  struct sc_reasm_conn c;
  struct sc_reasm_dir d[2];
};

struct sc_reasm {
  struct sc_reasm_cfg cfg;
  struct sc_reasm_cbs cbs;
  struct sc_reasm_conn **buckets;
  size_t nbuckets, count;
  struct sc_reasm_conn *lru_head, *lru_tail;
  uint64_t next_id;
  struct sc_reasm_stats st;
};

#ifndef NDEBUG
static int assert_conn_state(const struct sc_reasm *r, const struct sc_reasm_conn *c) {
  for (int i = 0; i < 2; i++) {
    const struct sc_reasm_dir *d = &c->d[i];
    if (c->closed && d->ooo) return 0;
    size_t sum = 0;
    uint32_t prev_end = d->next_seq;
    for (const struct ooo *o = d->ooo; o; o = o->next) {
      if (d->state == D_NEW) return 0;
      if (SEQ_LT(o->seq, prev_end)) return 0; /* invariant 2 */
      prev_end = o->seq + o->len;
      sum += o->len;
    }
    if (sum != d->ooo_bytes) return 0;
    if (d->ooo_bytes > r->cfg.stream_cap) return 0; /* invariant 3 */
  }
  return 1;
}
#endif

static uint64_t tuple_hash(uint8_t family, const uint8_t a[16], uint16_t pa, const uint8_t b[16],
                           uint16_t pb) {
  uint8_t key[1 + 2 * 18];
  size_t alen = family == 4 ? 4 : 16;
  int swap = memcmp(a, b, alen) > 0 || (memcmp(a, b, alen) == 0 && pa > pb);
  const uint8_t *x = swap ? b : a, *y = swap ? a : b;
  uint16_t px = swap ? pb : pa, py = swap ? pa : pb;
  size_t n = 0;
  key[n++] = family;
  memcpy(key + n, x, alen); n += alen;
  key[n++] = (uint8_t)(px >> 8); key[n++] = (uint8_t)px;
  memcpy(key + n, y, alen); n += alen;
  key[n++] = (uint8_t)(py >> 8); key[n++] = (uint8_t)py;
  return XXH3_64bits(key, n);
}

/* The hash of the bucket chains, computed for every segment: symmetric in
 * the two endpoints like tuple_hash (a segment and its reply meet in one
 * chain) but without building a canonical key or calling out. The sum and
 * the xor of the two values of each address word and port pair do not
 * depend on the direction. tuple_hash, whose value decides sampling, is
 * computed once per connection. */
static uint64_t bucket_hash(const struct sc_segment *s) {
  const uint64_t k = 0x9e3779b97f4a7c15ull;
  uint64_t h = s->family;
  size_t words = s->family == 4 ? 1 : 4;
  for (size_t i = 0; i < words; i++) {
    uint32_t a, b;
    memcpy(&a, s->src + 4 * i, 4);
    memcpy(&b, s->dst + 4 * i, 4);
    h = (h ^ ((uint64_t)(a + b) << 32 | (a ^ b))) * k;
  }
  uint32_t pa = s->sport, pb = s->dport;
  h = (h ^ ((uint64_t)(pa + pb) << 32 | (pa ^ pb))) * k;
  h ^= h >> 29; /* fold the high bits into the bucket index */
  h *= k;
  return h ^ (h >> 32);
}

static int same_addr(const uint8_t *a, const uint8_t *b, int family) {
  return family == 4 ? !memcmp(a, b, 4) : !memcmp(a, b, 16);
}

/* Returns the endpoint index of (src, sport) in c, or -1 if c is another flow. */
static int match(const struct sc_reasm_conn *c, const struct sc_segment *s) {
  if (c->family != s->family) return -1;
  if (c->port[0] == s->sport && c->port[1] == s->dport && same_addr(c->addr[0], s->src, s->family) &&
      same_addr(c->addr[1], s->dst, s->family))
    return 0;
  if (c->port[1] == s->sport && c->port[0] == s->dport && same_addr(c->addr[1], s->src, s->family) &&
      same_addr(c->addr[0], s->dst, s->family))
    return 1;
  return -1;
}

static void lru_unlink(struct sc_reasm *r, struct sc_reasm_conn *c) {
  if (c->lprev) c->lprev->lnext = c->lnext; else r->lru_head = c->lnext;
  if (c->lnext) c->lnext->lprev = c->lprev; else r->lru_tail = c->lprev;
  c->lprev = c->lnext = NULL;
}

static void lru_push(struct sc_reasm *r, struct sc_reasm_conn *c) {
  c->lprev = r->lru_tail;
  c->lnext = NULL;
  if (r->lru_tail) r->lru_tail->lnext = c; else r->lru_head = c;
  r->lru_tail = c;
}

static void ooo_free_all(struct sc_reasm *r, struct sc_reasm_dir *d) {
  struct ooo *o = d->ooo;
  while (o) {
    struct ooo *n = o->next;
    free(o);
    o = n;
  }
  r->st.ooo_bytes_now -= d->ooo_bytes;
  d->ooo = NULL;
  d->ooo_bytes = 0;
}

static void deliver(struct sc_reasm *r, struct sc_reasm_conn *c, int di, const uint8_t *p,
                    size_t n, uint64_t ts) {
  c->d[di].next_seq += (uint32_t)n;
  if (n && !c->ignore && r->cbs.on_data) r->cbs.on_data(r->cbs.ud, c, di, p, n, ts);
}

static void gap(struct sc_reasm *r, struct sc_reasm_conn *c, int di, uint32_t n) {
  if (!n) return;
  c->d[di].next_seq += n;
  r->st.gaps++;
  r->st.gap_bytes += n;
  if (!c->ignore && r->cbs.on_gap) r->cbs.on_gap(r->cbs.ud, c, di, n);
}

static void check_fin(struct sc_reasm *r, struct sc_reasm_conn *c, int di) {
  struct sc_reasm_dir *d = &c->d[di];
  if (d->state == D_SYNCED && d->fin_seen && SEQ_GEQ(d->next_seq, d->fin_seq)) {
    d->state = D_DONE;
    ooo_free_all(r, d);
    if (!c->ignore && r->cbs.on_fin) r->cbs.on_fin(r->cbs.ud, c, di, d->fin_ts);
  }
}

/* Delivers queued segments that have become in order. */
static void drain(struct sc_reasm *r, struct sc_reasm_conn *c, int di) {
  struct sc_reasm_dir *d = &c->d[di];
  while (d->ooo && SEQ_LEQ(d->ooo->seq, d->next_seq)) {
    struct ooo *o = d->ooo;
    d->ooo = o->next;
    d->ooo_bytes -= o->len;
    r->st.ooo_bytes_now -= o->len;
    uint32_t skip = d->next_seq - o->seq;
    if (skip < o->len) deliver(r, c, di, o->data + skip, o->len - skip, o->ts);
    free(o);
  }
  check_fin(r, c, di);
}

/* Gives up the hole before the first queued segment. */
static void skip_hole(struct sc_reasm *r, struct sc_reasm_conn *c, int di) {
  struct sc_reasm_dir *d = &c->d[di];
  if (!d->ooo) return;
  gap(r, c, di, d->ooo->seq - d->next_seq);
  drain(r, c, di);
}

/* Queues [seq, seq+n) cut around already queued ranges (first-seen wins). */
static int ooo_insert(struct sc_reasm *r, struct sc_reasm_dir *d, uint32_t seq, const uint8_t *p,
                      uint32_t n, uint64_t ts) {
  struct ooo **link = &d->ooo;
  uint32_t end = seq + n;
  r->st.ooo_segments++;
  while (SEQ_LT(seq, end)) {
    while (*link && SEQ_LEQ((*link)->seq + (*link)->len, seq)) link = &(*link)->next;
    uint32_t piece_end = end;
    if (*link) {
      if (SEQ_LEQ((*link)->seq, seq)) { /* seq inside an existing range: skip it */
        uint32_t e = (*link)->seq + (*link)->len;
        r->st.overlaps++;
        p += e - seq;
        seq = e;
        continue;
      }
      if (SEQ_LT((*link)->seq, end)) {
        piece_end = (*link)->seq;
        r->st.overlaps++;
      }
    }
    uint32_t len = piece_end - seq;
    struct ooo *o = malloc(sizeof *o + len);
    if (!o) return SC_ENOMEM;
    o->seq = seq;
    o->len = len;
    o->ts = ts;
    memcpy(o->data, p, len);
    o->next = *link;
    *link = o;
    link = &o->next;
    d->ooo_bytes += len;
    r->st.ooo_bytes_now += len;
    if (r->st.ooo_bytes_now > r->st.ooo_bytes_peak) r->st.ooo_bytes_peak = r->st.ooo_bytes_now;
    p += len;
    seq = piece_end;
  }
  return 0;
}

static void conn_close(struct sc_reasm *r, struct sc_reasm_conn *c, int reason) {
  if (c->closed) return;
  for (int i = 0; i < 2; i++) {
    while (c->d[i].ooo) skip_hole(r, c, i);
  }
  c->closed = 1;
  if (r->cbs.on_close) r->cbs.on_close(r->cbs.ud, c, reason);
  c->user = NULL;
  for (int i = 0; i < 2; i++) ooo_free_all(r, &c->d[i]);
}

static void conn_unlink_free(struct sc_reasm *r, struct sc_reasm_conn *c) {
  size_t b = c->bhash & (r->nbuckets - 1);
  struct sc_reasm_conn **pp = &r->buckets[b];
  while (*pp && *pp != c) pp = &(*pp)->hnext;
  if (*pp) *pp = c->hnext;
  lru_unlink(r, c);
  r->count--;
  free(c);
}

static void conn_open(struct sc_reasm *r, struct sc_reasm_conn *c, const struct sc_segment *s) {
  c->id = ++r->next_id;
  c->closed = 0;
  c->ignore = 0;
  c->user = NULL;
  /* Opened by a segment that is not a SYN: picked up mid-connection. */
  c->midstream = !(s->flags & SC_TCP_SYN);
  if (c->midstream) r->st.midstream++;
  c->first_ts = s->ts_ns;
  memset(c->d, 0, 2 * sizeof *c->d);
  /* Who is the client: the SYN sender; else the --port side is the server;
   * else the lower port is taken for the server. */
  if ((s->flags & (SC_TCP_SYN | SC_TCP_ACK)) == SC_TCP_SYN) c->client = 0;
  else if (s->flags & SC_TCP_SYN) c->client = 1;
  else if (r->cfg.server_port && s->dport == r->cfg.server_port) c->client = 0;
  else if (r->cfg.server_port && s->sport == r->cfg.server_port) c->client = 1;
  else c->client = s->sport > s->dport ? 0 : 1;
  r->st.connections++;
  if (r->cbs.on_open) r->cbs.on_open(r->cbs.ud, c);
}

static int grow(struct sc_reasm *r) {
  size_t nb = r->nbuckets * 2;
  struct sc_reasm_conn **b = calloc(nb, sizeof *b);
  if (!b) return SC_ENOMEM;
  for (size_t i = 0; i < r->nbuckets; i++) {
    struct sc_reasm_conn *c = r->buckets[i];
    while (c) {
      struct sc_reasm_conn *n = c->hnext;
      size_t k = c->bhash & (nb - 1);
      c->hnext = b[k];
      b[k] = c;
      c = n;
    }
  }
  free(r->buckets);
  r->buckets = b;
  r->nbuckets = nb;
  return 0;
}

static void expire(struct sc_reasm *r, uint64_t now) {
  if (!r->cfg.idle_ns) return;
  while (r->lru_head && r->lru_head->last_ts + r->cfg.idle_ns < now) {
    struct sc_reasm_conn *c = r->lru_head;
    if (!c->closed) {
      r->st.idle_evictions++;
      conn_close(r, c, SC_REASM_CLOSE_IDLE);
    }
    conn_unlink_free(r, c);
  }
}

int sc_reasm_segment(struct sc_reasm *r, const struct sc_segment *s, struct sc_error *err) {
  int rc = 0;
  expire(r, s->ts_ns);
  uint64_t h = bucket_hash(s);
  struct sc_reasm_conn *c = r->buckets[h & (r->nbuckets - 1)];
  int di = -1;
  for (; c; c = c->hnext)
    if (c->bhash == h && (di = match(c, s)) >= 0) break;
  int syn_only = (s->flags & (SC_TCP_SYN | SC_TCP_ACK)) == SC_TCP_SYN;
  if (!c) {
    /* Only a SYN or a segment with payload opens a connection: late ACKs,
     * FINs and RSTs of connections we never saw are ignored. */
    if (!(s->flags & SC_TCP_SYN) && s->wire_len == 0) return 0;
    if (s->flags & SC_TCP_RST) return 0;
    if (r->count + 1 > r->nbuckets) {
      rc = grow(r);
      if (rc) return sc_error_set(err, SC_ENOMEM, "out of memory growing the connection table");
    }
    struct conn_alloc *a = calloc(1, sizeof *a);
    if (!a) return sc_error_set(err, SC_ENOMEM, "out of memory for a connection");
    c = &a->c;
    c->d = a->d;
    c->family = s->family;
    memcpy(c->addr[0], s->src, 16);
    memcpy(c->addr[1], s->dst, 16);
    c->port[0] = s->sport;
    c->port[1] = s->dport;
    c->hash = tuple_hash(s->family, s->src, s->sport, s->dst, s->dport);
    c->bhash = h;
    size_t b = h & (r->nbuckets - 1);
    c->hnext = r->buckets[b];
    r->buckets[b] = c;
    r->count++;
    lru_push(r, c);
    di = 0;
    conn_open(r, c, s);
  } else if (c->closed) {
    if (!syn_only) { /* late segment of a finished connection */
      c->last_ts = s->ts_ns;
      lru_unlink(r, c);
      lru_push(r, c);
      return 0;
    }
    conn_open(r, c, s);
  } else if (syn_only && c->d[di].state != D_NEW && (s->seq + 1) != c->d[di].next_seq) {
    /* A new connection on the same 4-tuple. */
    conn_close(r, c, SC_REASM_CLOSE_REUSE);
    conn_open(r, c, s);
  }
  c->last_ts = s->ts_ns;
  lru_unlink(r, c);
  lru_push(r, c);

  struct sc_reasm_dir *d = &c->d[di];
  struct sc_reasm_dir *peer = &c->d[!di];
  if (s->flags & SC_TCP_RST) {
    r->st.rst++;
    conn_close(r, c, SC_REASM_CLOSE_RST);
    return 0;
  }
  if (s->flags & SC_TCP_ACK) {
    if (!peer->have_acked || SEQ_GT(s->ack, peer->acked)) {
      peer->acked = s->ack;
      peer->have_acked = 1;
    }
    if (peer->ooo && SEQ_GEQ(peer->acked, peer->ooo->seq)) skip_hole(r, c, !di);
  }
  if (s->flags & SC_TCP_SYN) {
    if (d->state == D_NEW) {
      d->state = D_SYNCED;
      d->next_seq = s->seq + 1;
    }
    goto out; /* data on SYN (TFO) is not followed */
  }
  if (d->state == D_DONE) {
    if (s->wire_len) r->st.retransmits++;
    goto out;
  }
  if (s->wire_len && d->state == D_NEW) {
    d->state = D_SYNCED;
    d->next_seq = s->seq;
  }
  if (s->flags & SC_TCP_FIN && d->state != D_NEW && !d->fin_seen) {
    d->fin_seen = 1;
    d->fin_seq = s->seq + s->wire_len;
    d->fin_ts = s->ts_ns;
  }
  if (s->wire_len) {
    uint32_t seq = s->seq, n = s->len, wire = s->wire_len;
    const uint8_t *p = s->payload;
    if (SEQ_LT(seq, d->next_seq)) { /* retransmission or overlap: keep the new part */
      uint32_t old = d->next_seq - seq;
      if (old >= wire) {
        r->st.retransmits++;
        goto fin;
      }
      r->st.overlaps++;
      uint32_t cut = old < n ? old : n;
      p += cut;
      n -= cut;
      wire -= old;
      seq = d->next_seq;
      if (n > wire) n = wire;
    }
    if (seq == d->next_seq && d->ooo && SEQ_LT(d->ooo->seq, seq + n)) {
      /* Fills a hole up to queued data: deliver up to it, queue the rest
       * around what is queued (first-seen wins), then drain. */
      uint32_t k = d->ooo->seq - seq;
      deliver(r, c, di, p, k, s->ts_ns);
      rc = ooo_insert(r, d, seq + k, p + k, n - k, s->ts_ns);
      if (rc) return sc_error_set(err, rc, "out of memory queueing out-of-order data");
      r->st.ooo_segments--; /* not out of order itself */
      drain(r, c, di);
    } else if (seq == d->next_seq) {
      deliver(r, c, di, p, n, s->ts_ns);
      if (wire > n) gap(r, c, di, wire - n); /* cut by the snaplen */
      drain(r, c, di);
    } else if (n) {
      rc = ooo_insert(r, d, seq, p, n, s->ts_ns);
      if (rc) return sc_error_set(err, rc, "out of memory queueing out-of-order data");
      if (d->have_acked && SEQ_GEQ(d->acked, d->ooo->seq)) skip_hole(r, c, di);
      while (d->ooo_bytes > r->cfg.stream_cap) {
        r->st.mem_evictions++;
        skip_hole(r, c, di);
        if (d->ooo_bytes > r->cfg.stream_cap) { /* one queued range alone passes the cap */
          r->st.mem_evictions++;
          ooo_free_all(r, d);
        }
      }
      if (r->st.ooo_bytes_now > r->cfg.mem_cap) {
        r->st.mem_evictions++;
        while (d->ooo) skip_hole(r, c, di);
      }
    }
  }
fin:
  check_fin(r, c, di);
out:
  if (!c->closed && c->d[0].state == D_DONE && c->d[1].state == D_DONE)
    conn_close(r, c, SC_REASM_CLOSE_FIN);
  assert(assert_conn_state(r, c));
  return rc;
}

int sc_reasm_new(struct sc_reasm **out, const struct sc_reasm_cfg *cfg,
                 const struct sc_reasm_cbs *cbs, struct sc_error *err) {
  struct sc_reasm *r = calloc(1, sizeof *r);
  if (!r) return sc_error_set(err, SC_ENOMEM, "out of memory");
  r->cfg = *cfg;
  if (!r->cfg.stream_cap) r->cfg.stream_cap = (size_t)8 << 20;
  if (!r->cfg.mem_cap) r->cfg.mem_cap = (uint64_t)512 << 20;
  r->cbs = *cbs;
  r->nbuckets = 1024;
  r->buckets = calloc(r->nbuckets, sizeof *r->buckets);
  if (!r->buckets) {
    free(r);
    return sc_error_set(err, SC_ENOMEM, "out of memory");
  }
  *out = r;
  return 0;
}

void sc_reasm_flush(struct sc_reasm *r) {
  while (r->lru_head) {
    struct sc_reasm_conn *c = r->lru_head;
    conn_close(r, c, SC_REASM_CLOSE_END);
    conn_unlink_free(r, c);
  }
}

void sc_reasm_free(struct sc_reasm *r) {
  if (!r) return;
  sc_reasm_flush(r);
  free(r->buckets);
  free(r);
}

const struct sc_reasm_stats *sc_reasm_stats(const struct sc_reasm *r) { return &r->st; }
size_t sc_reasm_count(const struct sc_reasm *r) { return r->count; }
