/*
 * client.c - the replay HTTP/1.1 client: per-target connection pools with
 * keep-alive, request write, response framing with http-parser
 * (Content-Length, chunked, close-delimited), timeouts and error kinds.
 * Stage: replay. Reference: RFC 9112 (HTTP/1.1 message framing, section 6.3
 * message body length; section 9.3 persistence), libuv handle/request docs.
 *
 * Connection state machine (one request at a time, no pipelining):
 *
 *                 connect ok                 response complete, keep-alive
 *   CONNECTING ----------------> BUSY ------------------------------> IDLE
 *       |                          |  ^                                  |
 *       | refused/error/timeout    |  +--- next request (pool_acquire) --+
 *       v                          v  error/timeout/EOF/not keep-alive   | EOF, error or
 *    CLOSING <---------------------+-------------------------------------+ unexpected bytes
 *       |
 *       v  both handles' close callbacks ran -> freed (on_close)
 *
 * Transitions: conn_connect (-> CONNECTING), on_connect (-> BUSY),
 * conn_start (IDLE -> BUSY), complete_ok (BUSY -> IDLE via pool_release, or
 * -> CLOSING), fail_conn / conn_close (any -> CLOSING), on_close (free).
 *
 * Invariants (checked by assert_conn_state):
 *   1. CONNECTING and BUSY have a request: c->tr != NULL and c->tr->conn == c.
 *   2. IDLE and CLOSING have none: c->tr == NULL.
 *   3. A connection is in t->idle exactly when it is IDLE.
 *   4. t->open_conns counts connections not yet freed and never exceeds
 *      t->pool_max: a new connection is opened only below it; a queued
 *      request waits for a release or a close callback.
 *
 * Retry: a request that meets EOF or a reset before any response byte on a
 * reused (keep-alive) connection is retried once on a fresh connection (the
 * server closed an idle connection as we wrote). Nothing else is retried.
 * Redirects are never followed: a 3xx is a response like any other.
 */
#include <assert.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "replay/internal.h"
#include "util/check.h"
#include "util/clock.h"
#include "util/limits.h"

__attribute__((unused)) static int assert_conn_state(const struct rp_conn *c) {
  switch (c->state) {
  case RP_CONN_CONNECTING:
  case RP_CONN_BUSY:
    return c->tr != NULL && c->tr->conn == c;
  case RP_CONN_IDLE:
    return c->tr == NULL;
  case RP_CONN_CLOSING:
    return c->tr == NULL;
  }
  return 0;
}

static int on_hdr_field(http_parser *p, const char *at, size_t len);
static int on_hdr_value(http_parser *p, const char *at, size_t len);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t len);
static int on_message_complete(http_parser *p);

static const http_parser_settings settings = {
  .on_header_field = on_hdr_field,
  .on_header_value = on_hdr_value,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_message_complete = on_message_complete,
};

static void conn_close(struct rp_conn *c);
static void conn_connect(struct rp_target *t, struct rp_treq *tr);
static void conn_start(struct rp_conn *c, struct rp_treq *tr);

int rp_target_init(struct rp_target *t, struct rp_engine *eng, int idx, const char *url,
                   unsigned budget, unsigned pool_max, struct sc_error *err) {
  static const char *names[SC_T_COUNT] = {"current", "candidate", "secondary"};
  memset(t, 0, sizeof *t);
  t->eng = eng;
  t->idx = idx;
  t->name = names[idx];
  t->url_str = url;
  t->budget = budget ? budget : 1;
  t->pool_max = pool_max ? pool_max : t->budget;
  int rc = sc_replay_url_parse(url, &t->url, err);
  if (rc) return sc_error_prefix(err, "--%s", t->name);
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  char port[8];
  snprintf(port, sizeof port, "%u", t->url.port);
  int gai = getaddrinfo(t->url.host, port, &hints, &res);
  if (gai != 0 || !res)
    return sc_error_set(err, SC_ENET, "--%s: cannot resolve host '%s': %s", t->name, t->url.host,
                        gai_strerror(gai));
  memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return SC_OK;
}

/* ---- histogram (log scale, ~1%) ---- */

#include <math.h>

void rp_hist_add(struct rp_target *t, double us) {
  if (!(us >= 0)) return;
  int i = (int)(log1p(us) * 100.0);
  if (i < 0) i = 0;
  if (i >= RP_HIST_BUCKETS) i = RP_HIST_BUCKETS - 1;
  t->hist[i]++;
  t->hist_n++;
}

double rp_hist_quantile(const struct rp_target *t, double q) {
  if (!t->hist_n) return 0;
  uint64_t want = (uint64_t)ceil(q * (double)t->hist_n);
  if (want == 0) want = 1;
  uint64_t acc = 0;
  for (int i = 0; i < RP_HIST_BUCKETS; i++) {
    acc += t->hist[i];
    if (acc >= want) return expm1(((double)i + 0.5) / 100.0);
  }
  return expm1((double)RP_HIST_BUCKETS / 100.0);
}

/* ---- pool ---- */

static void idle_push(struct rp_target *t, struct rp_conn *c) {
  c->idle_prev = NULL;
  c->idle_next = t->idle;
  if (t->idle) t->idle->idle_prev = c;
  t->idle = c;
}

static void idle_remove(struct rp_target *t, struct rp_conn *c) {
  if (c->idle_prev) c->idle_prev->idle_next = c->idle_next;
  else t->idle = c->idle_next;
  if (c->idle_next) c->idle_next->idle_prev = c->idle_prev;
  c->idle_next = c->idle_prev = NULL;
}

static struct rp_treq *wait_pop(struct rp_target *t) {
  struct rp_treq *tr = t->wait_head;
  if (tr) {
    t->wait_head = tr->next_wait;
    if (!t->wait_head) t->wait_tail = NULL;
    tr->next_wait = NULL;
  }
  return tr;
}

void rp_target_send(struct rp_target *t, struct rp_treq *tr) {
  tr->t = t;
  if (t->idle) {
    struct rp_conn *c = t->idle;
    idle_remove(t, c);
    conn_start(c, tr);
    return;
  }
  if (t->open_conns < t->pool_max) {
    conn_connect(t, tr);
    return;
  }
  tr->next_wait = NULL;
  if (t->wait_tail) t->wait_tail->next_wait = tr;
  else t->wait_head = tr;
  t->wait_tail = tr;
}

/* A connection became free (keep-alive): give it to a waiting request or
 * park it. */
static void pool_release(struct rp_conn *c) {
  struct rp_target *t = c->t;
  struct rp_treq *tr = wait_pop(t);
  if (tr) {
    conn_start(c, tr);
    return;
  }
  c->state = RP_CONN_IDLE;
  c->deadline_live = 0; /* the timer may still fire: it finds the connection idle */
  idle_push(t, c);
  assert(assert_conn_state(c));
}

/* A connection was freed: a waiting request may open a new one. */
static void pool_kick(struct rp_target *t) {
  while (t->wait_head && t->idle) {
    struct rp_conn *c = t->idle;
    idle_remove(t, c);
    conn_start(c, wait_pop(t));
  }
  while (t->wait_head && t->open_conns < t->pool_max) conn_connect(t, wait_pop(t));
}

void rp_target_close_idle(struct rp_target *t) {
  while (t->idle) conn_close(t->idle);
}

/* ---- request completion ---- */

static void treq_finish(struct rp_treq *tr, int errkind) {
  SC_ASSERT(!tr->done);
  tr->errkind = errkind;
  tr->done_ns = sc_clock_mono_ns();
  tr->done = 1;
  rp_engine_treq_done(tr->t->eng, tr);
}

static void treq_reset_response(struct rp_treq *tr) {
  sc_buf_reset(&tr->hdr_raw);
  sc_buf_reset(&tr->body);
  tr->hdr_in_value = 0;
  tr->body_len = 0;
  tr->body_truncated = 0;
  tr->status = 0;
  tr->first_ns = 0;
}

uint64_t rp_treq_body_hash(const struct rp_treq *tr) {
  return tr->body_truncated ? XXH64_digest(tr->hs) : XXH64(tr->body.p, tr->body.len, 0);
}

static void detach(struct rp_conn *c) {
  if (c->tr) c->tr->conn = NULL;
  c->tr = NULL;
  c->deadline_live = 0;
  uv_timer_stop(&c->timer);
}

/* The connection failed while carrying a request (or idle): close it and
 * finish (or retry once) the request. */
static void fail_conn(struct rp_conn *c, int kind) {
  struct rp_treq *tr = c->tr;
  int reused = c->nreq > 0;
  int got = c->got_bytes;
  detach(c);
  conn_close(c);
  if (!tr) return;
  if ((kind == SC_RE_CLOSED || kind == SC_RE_RESET) && reused && !got && !tr->retried) {
    tr->retried = 1;
    treq_reset_response(tr);
    rp_target_send(tr->t, tr);
    return;
  }
  treq_finish(tr, kind);
}

static void complete_ok(struct rp_conn *c, int extra_bytes) {
  struct rp_treq *tr = c->tr;
  struct rp_target *t = c->t;
  tr->status = c->parser.status_code;
  int keep = http_should_keep_alive(&c->parser) && !extra_bytes;
  detach(c);
  c->nreq++;
  if (keep) {
    c->state = RP_CONN_IDLE; /* pool_release may start the next request */
    pool_release(c);
  } else {
    conn_close(c);
  }
  (void)t;
  treq_finish(tr, SC_RE_NONE);
}

/* ---- libuv callbacks ---- */

static void on_close(uv_handle_t *h) {
  struct rp_conn *c = h->data;
  if (--c->handles_open > 0) return;
  struct rp_target *t = c->t;
  if (c->all_prev) c->all_prev->all_next = c->all_next;
  else t->all = c->all_next;
  if (c->all_next) c->all_next->all_prev = c->all_prev;
  SC_ASSERT(t->open_conns > 0);
  t->open_conns--;
  free(c);
  pool_kick(t);
  rp_engine_conn_closed(t->eng);
}

static void conn_close(struct rp_conn *c) {
  if (c->state == RP_CONN_CLOSING) return;
  if (c->state == RP_CONN_IDLE) idle_remove(c->t, c);
  detach(c);
  c->state = RP_CONN_CLOSING;
  assert(assert_conn_state(c));
  uv_close((uv_handle_t *)&c->tcp, on_close);
  uv_close((uv_handle_t *)&c->timer, on_close);
}

/* --timeout per request: a deadline in the connection, and its timer left
 * running between requests. Starting and stopping the timer for every
 * request on a keep-alive connection was a heap removal and insertion each
 * time; now a request only moves the deadline, and a timer that fires early
 * (for an earlier request) sleeps again until the current deadline. */
static void on_timeout(uv_timer_t *h) {
  struct rp_conn *c = h->data;
  if (!c->deadline_live || (c->state != RP_CONN_CONNECTING && c->state != RP_CONN_BUSY)) return;
  uint64_t now = uv_now(rp_engine_loop(c->t->eng));
  if (now < c->deadline_ms) {
    uv_timer_start(&c->timer, on_timeout, c->deadline_ms - now, 0);
    return;
  }
  fail_conn(c, SC_RE_TIMEOUT);
}

static void arm_timer(struct rp_conn *c) {
  uint64_t ms = rp_engine_timeout_ms(c->t->eng);
  c->deadline_ms = uv_now(rp_engine_loop(c->t->eng)) + ms;
  c->deadline_live = 1;
  /* a running timer is due no later than this deadline (deadlines only move
   * forward): on_timeout re-arms it */
  if (!uv_is_active((uv_handle_t *)&c->timer)) uv_timer_start(&c->timer, on_timeout, ms, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  struct rp_conn *c = h->data;
  size_t n = 0;
  buf->base = rp_engine_readbuf(c->t->eng, &n);
  buf->len = n;
}

static int map_uv_err(int status) {
  switch (status) {
  case UV_ECONNREFUSED: return SC_RE_REFUSED;
  case UV_ECONNRESET: case UV_EPIPE: return SC_RE_RESET;
  case UV_ETIMEDOUT: return SC_RE_TIMEOUT;
  case UV_EOF: return SC_RE_CLOSED;
  default: return SC_RE_OTHER;
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct rp_conn *c = s->data;
  if (c->state == RP_CONN_CLOSING) return;
  if (nread == 0) return;
  if (nread < 0) {
    if (c->state != RP_CONN_BUSY) {
      conn_close(c);
      return;
    }
    if (nread == UV_EOF && c->got_bytes) {
      /* EOF ends a close-delimited body (RFC 9112 6.3 rule 8). */
      http_parser_execute(&c->parser, &settings, NULL, 0);
      if (c->msg_done) {
        complete_ok(c, 1);
        return;
      }
    }
    fail_conn(c, map_uv_err((int)nread));
    return;
  }
  if (c->state != RP_CONN_BUSY) { /* bytes nobody asked for */
    conn_close(c);
    return;
  }
  struct rp_treq *tr = c->tr;
  if (!c->got_bytes) tr->first_ns = sc_clock_mono_ns();
  c->got_bytes = 1;
  size_t n = http_parser_execute(&c->parser, &settings, buf->base, (size_t)nread);
  if (c->msg_done) {
    complete_ok(c, n < (size_t)nread);
    return;
  }
  if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK)
    fail_conn(c, c->fail_kind ? c->fail_kind : SC_RE_MALFORMED);
}

static void on_write(uv_write_t *req, int status) {
  struct rp_conn *c = req->data;
  if (status == UV_ECANCELED || c->state == RP_CONN_CLOSING) return;
  if (status < 0 && c->state == RP_CONN_BUSY) fail_conn(c, map_uv_err(status));
}

/* A request normally fits the socket buffer: uv_try_write sends it at once,
 * without a write request (whose completion costs libuv an epoll_ctl and a
 * callback per request); what it could not send goes through uv_write. Errors
 * are the same either way (synchronous here, in on_write otherwise). */
static void conn_write(struct rp_conn *c) {
  struct rp_treq *tr = c->tr;
  uv_buf_t b = uv_buf_init(tr->req.p, (unsigned)tr->req.len);
  tr->sent_ns = sc_clock_mono_ns();
  int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (n == (int)b.len) return;
  if (n < 0 && n != UV_EAGAIN) {
    fail_conn(c, map_uv_err(n));
    return;
  }
  if (n > 0) b = uv_buf_init(tr->req.p + n, (unsigned)(tr->req.len - (size_t)n));
  c->wreq.data = c;
  int r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (r < 0) fail_conn(c, map_uv_err(r));
}

/* IDLE (or fresh) -> BUSY with tr. */
static void conn_start(struct rp_conn *c, struct rp_treq *tr) {
  c->tr = tr;
  tr->conn = c;
  tr->t = c->t;
  c->state = RP_CONN_BUSY;
  c->got_bytes = 0;
  c->msg_done = 0;
  c->fail_kind = 0;
  http_parser_init(&c->parser, HTTP_RESPONSE);
  c->parser.data = c;
  assert(assert_conn_state(c));
  /* a fresh connection's timer runs since the connect: --timeout covers
   * connect + write + response together */
  if (!c->deadline_live) arm_timer(c);
  conn_write(c);
}

static void on_connect(uv_connect_t *req, int status) {
  struct rp_conn *c = req->data;
  if (status == UV_ECANCELED || c->state == RP_CONN_CLOSING) return;
  if (status < 0) {
    int kind = status == UV_ECONNREFUSED ? SC_RE_REFUSED
               : status == UV_ETIMEDOUT  ? SC_RE_TIMEOUT
                                         : SC_RE_CONNECT;
    fail_conn(c, kind);
    return;
  }
  int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (r < 0) {
    fail_conn(c, SC_RE_CONNECT);
    return;
  }
  struct rp_treq *tr = c->tr;
  c->tr = NULL;
  tr->conn = NULL;
  conn_start(c, tr);
}

static void conn_connect(struct rp_target *t, struct rp_treq *tr) {
  struct rp_conn *c = calloc(1, sizeof *c);
  if (!c) {
    treq_finish(tr, SC_RE_OTHER);
    return;
  }
  uv_loop_t *loop = rp_engine_loop(t->eng);
  c->t = t;
  uv_tcp_init(loop, &c->tcp);
  uv_timer_init(loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->creq.data = c;
  c->handles_open = 2;
  c->all_next = t->all;
  if (t->all) t->all->all_prev = c;
  t->all = c;
  t->open_conns++;
  t->conns_opened++;
  c->state = RP_CONN_CONNECTING;
  c->tr = tr;
  tr->conn = c;
  tr->t = t;
  assert(assert_conn_state(c));
  uv_tcp_nodelay(&c->tcp, 1);
  arm_timer(c);
  int r = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&t->addr, on_connect);
  if (r < 0) fail_conn(c, r == UV_ECONNREFUSED ? SC_RE_REFUSED : SC_RE_CONNECT);
}

void rp_target_cancel_all(struct rp_target *t, int errkind) {
  struct rp_treq *tr;
  while ((tr = wait_pop(t)) != NULL) treq_finish(tr, errkind);
  for (struct rp_conn *c = t->all; c; c = c->all_next) {
    if (c->tr) {
      c->tr->retried = 1;
      fail_conn(c, errkind);
    }
  }
}

/* ---- http-parser callbacks ---- */

static int hdr_append(struct rp_treq *tr, const char *at, size_t len) {
  return sc_buf_append(&tr->hdr_raw, at, len);
}

static int on_hdr_field(http_parser *p, const char *at, size_t len) {
  struct rp_conn *c = p->data;
  struct rp_treq *tr = c->tr;
  if (tr->hdr_in_value) {
    if (sc_buf_putc(&tr->hdr_raw, '\0')) goto big;
    tr->hdr_in_value = 0;
  }
  if (hdr_append(tr, at, len)) goto big;
  return 0;
big:
  c->fail_kind = SC_RE_MALFORMED;
  return 1;
}

static int on_hdr_value(http_parser *p, const char *at, size_t len) {
  struct rp_conn *c = p->data;
  struct rp_treq *tr = c->tr;
  if (!tr->hdr_in_value) {
    if (sc_buf_putc(&tr->hdr_raw, '\0')) goto big;
    tr->hdr_in_value = 1;
  }
  if (hdr_append(tr, at, len)) goto big;
  return 0;
big:
  c->fail_kind = SC_RE_MALFORMED;
  return 1;
}

static int on_headers_complete(http_parser *p) {
  struct rp_conn *c = p->data;
  struct rp_treq *tr = c->tr;
  if (tr->hdr_in_value) {
    if (sc_buf_putc(&tr->hdr_raw, '\0')) {
      c->fail_kind = SC_RE_MALFORMED;
      return -1;
    }
    tr->hdr_in_value = 0;
  }
  /* 1 tells http-parser that no body follows (response to HEAD). */
  return tr->is_head ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct rp_conn *c = p->data;
  struct rp_treq *tr = c->tr;
  tr->body_len += len;
  if (tr->body_len > SC_MAX_RESP_BYTES) {
    c->fail_kind = SC_RE_TOO_LARGE;
    return 1;
  }
  if (tr->body_truncated) {
    XXH64_update(tr->hs, at, len);
    return 0;
  }
  size_t room = tr->body.max - tr->body.len;
  size_t n = len < room ? len : room;
  if (n && sc_buf_append(&tr->body, at, n)) n = 0;
  if (n < len) {
    /* the stored part ends here; from now on the hash runs as a stream,
     * starting with what is stored (see rp_treq_body_hash) */
    tr->body_truncated = 1;
    if (!tr->hs) tr->hs = XXH64_createState();
    if (!tr->hs) {
      c->fail_kind = SC_RE_OTHER;
      return 1;
    }
    XXH64_reset(tr->hs, 0);
    XXH64_update(tr->hs, tr->body.p, tr->body.len);
    XXH64_update(tr->hs, at + n, len - n);
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct rp_conn *c = p->data;
  struct rp_treq *tr = c->tr;
  if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) {
    treq_reset_response(tr); /* interim response: the final one follows */
    tr->first_ns = sc_clock_mono_ns();
    return 0;
  }
  c->msg_done = 1;
  http_parser_pause(p, 1);
  return 0;
}
