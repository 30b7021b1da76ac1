/*
 * reasm.h - TCP stream reassembly: a flow table of connections, each with
 * two directions of in-order byte delivery. Stage: capture.
 * Reference: RFC 9293 (sequence space, section 3.4), RFC 1323/7323 (wrap).
 *
 * The reassembler calls back with contiguous, in-order bytes per direction
 * (on_data), reports holes it gave up on (on_gap), the end of a direction
 * (on_fin) and the end of a connection (on_close, exactly once per opened
 * connection). Pointers passed to callbacks are borrowed for the call.
 *
 * Overlap policy: FIRST-SEEN WINS (as most IDSs/Snort "first" policy):
 * bytes already delivered or already queued are never replaced by a later
 * segment covering the same sequence numbers; only the new part of a
 * retransmitted or overlapping segment is used.
 */
#ifndef SC_CAPTURE_REASM_H
#define SC_CAPTURE_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "capture/decode.h"
#include "util/err.h"

enum sc_reasm_close_reason {
  SC_REASM_CLOSE_FIN = 1,   /* both directions finished */
  SC_REASM_CLOSE_RST = 2,
  SC_REASM_CLOSE_IDLE = 3,  /* idle eviction */
  SC_REASM_CLOSE_END = 4,   /* end of capture (flush) */
  SC_REASM_CLOSE_REUSE = 5, /* a new SYN reused the 4-tuple */
};

struct sc_reasm_dir; /* private */

/* One connection. Endpoint 0 sent the first packet we saw. `client` is the
 * endpoint believed to have opened the connection (SYN sender, else a port
 * heuristic); the HTTP layer may correct it (it sees who sends requests). */
struct sc_reasm_conn {
  uint8_t family;
  uint8_t addr[2][16];
  uint16_t port[2];
  uint64_t id;          /* from 1, per reassembler */
  int client;           /* 0 or 1 */
  int midstream;        /* no SYN seen: picked up mid-connection */
  int ignore;           /* set by on_open: no data callbacks for this conn */
  void *user;           /* owned by the callbacks */
  uint64_t first_ts, last_ts;
  uint64_t hash;        /* symmetric 4-tuple hash (xxhash), for sampling */
  /* private */
  uint64_t bhash;       /* bucket hash (bucket_hash in reasm.c) */
  int closed;
  struct sc_reasm_dir *d;       /* [2] */
  struct sc_reasm_conn *hnext;  /* hash chain */
  struct sc_reasm_conn *lprev, *lnext; /* LRU list by last_ts */
};

struct sc_reasm_cbs {
  void *ud;
  void (*on_open)(void *ud, struct sc_reasm_conn *c);
  void (*on_data)(void *ud, struct sc_reasm_conn *c, int dir, const uint8_t *p, size_t n,
                  uint64_t ts_ns);
  void (*on_gap)(void *ud, struct sc_reasm_conn *c, int dir, uint64_t n);
  void (*on_fin)(void *ud, struct sc_reasm_conn *c, int dir, uint64_t ts_ns);
  void (*on_close)(void *ud, struct sc_reasm_conn *c, int reason);
};

struct sc_reasm_cfg {
  size_t stream_cap;     /* out-of-order bytes per direction (SC_MAX_STREAM_BUFFER) */
  uint64_t mem_cap;      /* out-of-order bytes in total (SC_DEFAULT_REASM_MEMORY) */
  uint64_t idle_ns;      /* idle eviction (0 = never) */
  uint16_t server_port;  /* --port hint for the client/server guess (0 none) */
};

struct sc_reasm_stats {
  uint64_t connections, midstream, retransmits, overlaps, ooo_segments;
  uint64_t gaps, gap_bytes, mem_evictions, idle_evictions, rst;
  uint64_t ooo_bytes_now, ooo_bytes_peak;
};

struct sc_reasm;

/* Creates a reassembler (free with sc_reasm_free). cfg and cbs are copied. */
int sc_reasm_new(struct sc_reasm **out, const struct sc_reasm_cfg *cfg,
                 const struct sc_reasm_cbs *cbs, struct sc_error *err) SC_MUST_CHECK;
/* Feeds one segment (borrowed). Also evicts idle connections. */
int sc_reasm_segment(struct sc_reasm *r, const struct sc_segment *s, struct sc_error *err) SC_MUST_CHECK;
/* Closes every open connection (on_close with SC_REASM_CLOSE_END). */
void sc_reasm_flush(struct sc_reasm *r);
/* Flushes then frees. NULL is a no-op. */
void sc_reasm_free(struct sc_reasm *r);
const struct sc_reasm_stats *sc_reasm_stats(const struct sc_reasm *r);
/* Number of connections in the table (open and recently closed). */
size_t sc_reasm_count(const struct sc_reasm *r);

#endif
