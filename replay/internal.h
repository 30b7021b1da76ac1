/*
 * internal.h - structures shared by the replay engine (engine.c) and its HTTP
 * client (client.c). Not seen outside replay/. Stage: replay.
 *
 * Ownership:
 *   - struct rp_engine owns the uv loop, the targets and every job.
 *   - a job (one exchange) owns its exchange and one treq per target sent.
 *   - a target owns its connections; a connection is freed only in its close
 *     callback (libuv handle lifecycle), never while a handle is open.
 *   - a treq is attached to at most one connection at a time (tr->conn and
 *     conn->tr point at each other while BUSY/CONNECTING).
 */
#ifndef SC_REPLAY_INTERNAL_H
#define SC_REPLAY_INTERNAL_H

#include <http_parser.h>
#include <netinet/in.h>
#include <stdint.h>
#include <uv.h>
#include <xxhash.h>

#include "replay/replay.h"
#include "util/buf.h"

#define RP_HIST_BUCKETS 2200 /* log-scale latency histogram, ~1% resolution up to ~1e9 us */

struct rp_engine;
struct rp_conn;
struct rp_job;

struct rp_treq {
  struct rp_job *job;
  struct rp_target *t;
  struct rp_conn *conn;
  struct rp_treq *next_wait;     /* target wait queue (pool full) */
  struct sc_buf req;             /* request bytes for this target */
  uint64_t start_ns;             /* dispatch (monotonic absolute) */
  uint64_t sent_ns;              /* write issued */
  uint64_t first_ns, done_ns;
  int status;
  int errkind;                   /* enum sc_replay_errkind */
  int retried;
  int is_head;
  int done;
  /* response */
  struct sc_buf hdr_raw;         /* "name\0value\0"... */
  int hdr_in_value;
  struct sc_buf body;            /* stored part (cap) */
  uint64_t body_len;
  int body_truncated;
  XXH64_state_t *hs;             /* streaming hash, only once the body passed the cap */
};

struct rp_job {
  struct rp_engine *eng;
  int64_t seq;
  int step;
  uint64_t intended_ns;          /* relative to run start */
  struct sc_exchange x;
  char *key;
  uint64_t hash;
  const char *routed;
  int pending;                   /* treqs not finished */
  struct rp_treq *tr[SC_T_COUNT];
  char *req_headers_json;        /* as sent to current (or the only target) */
  struct rp_job *sink_next;      /* sink queue */
};

/* Connection states (see the diagram in client.c). */
enum rp_conn_state { RP_CONN_CONNECTING = 1, RP_CONN_BUSY, RP_CONN_IDLE, RP_CONN_CLOSING };

struct rp_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t creq;
  uv_write_t wreq;
  http_parser parser;
  enum rp_conn_state state;
  struct rp_target *t;
  struct rp_treq *tr;
  struct rp_conn *idle_next, *idle_prev;
  struct rp_conn *all_next, *all_prev; /* every open connection of the target */
  int msg_done;                  /* on_message_complete seen (parser paused) */
  int fail_kind;                 /* set by a parser callback that refuses the response */
  int handles_open;              /* closed when 0 -> free */
  uint64_t nreq;                 /* requests completed on this connection */
  int got_bytes;                 /* response bytes seen for the current request */
  int reading;
  uint64_t deadline_ms;          /* loop time (uv_now) when the request in flight times out */
  int deadline_live;             /* deadline_ms applies (CONNECTING/BUSY); see on_timeout */
};

struct rp_target {
  struct rp_engine *eng;
  int idx;
  const char *name;
  const char *url_str;
  struct sc_replay_url url;
  struct sockaddr_storage addr;
  unsigned inflight, budget;
  unsigned open_conns, pool_max;
  struct rp_conn *idle;          /* doubly linked list of IDLE connections */
  struct rp_conn *all;           /* every connection not yet freed */
  struct rp_treq *wait_head, *wait_tail;
  /* counters */
  uint64_t sent, ok, shed, conns_opened;
  uint64_t errors[SC_RE_COUNT];
  uint64_t errors_total;
  uint64_t sent_last;            /* for sent/s in the status line */
  double max_skew_us;
  uint64_t hist[RP_HIST_BUCKETS];
  uint64_t hist_n;
};

/* client.c */
int rp_target_init(struct rp_target *t, struct rp_engine *eng, int idx, const char *url,
                   unsigned budget, unsigned pool_max, struct sc_error *err);
/* Starts tr on t: takes an idle connection, opens one, or queues. */
void rp_target_send(struct rp_target *t, struct rp_treq *tr);
/* Closes every idle connection (shutdown). */
void rp_target_close_idle(struct rp_target *t);
/* Cancels every busy/queued request with errkind (second signal). */
void rp_target_cancel_all(struct rp_target *t, int errkind);
void rp_hist_add(struct rp_target *t, double us);
/* XXH64 (seed 0) of the whole response body received, stored or not. */
uint64_t rp_treq_body_hash(const struct rp_treq *tr);
double rp_hist_quantile(const struct rp_target *t, double q);

/* engine.c: a treq finished (ok or error); called once per treq. */
void rp_engine_treq_done(struct rp_engine *eng, struct rp_treq *tr);
/* engine.c accessors used by client.c */
uv_loop_t *rp_engine_loop(struct rp_engine *eng);
uint64_t rp_engine_timeout_ms(struct rp_engine *eng);
uint64_t rp_engine_body_cap(struct rp_engine *eng);
char *rp_engine_readbuf(struct rp_engine *eng, size_t *len);
void rp_engine_conn_closed(struct rp_engine *eng);

#endif
