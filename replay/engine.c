/*
 * engine.c - the replay engine: owns the uv loop, the scheduler (pacing on a
 * uv_timer), the traffic policy per exchange, signals, the status line and
 * the result sink (batched writes into results.db). Stage: replay.
 * Reference: replay/replay.h (contract), schemas/results.sql, libuv docs
 * (handle lifecycle: every handle closed before uv_loop_close).
 *
 * Flow of one exchange (a "job"):
 *   load_next()   read from the source, filter --methods, key + hash,
 *                 intended send time (recorded / rate / max)
 *   pump()        waits until the intended time (sched timer), applies the
 *                 --max back-pressure on the primary target, then dispatch()
 *   dispatch()    routes by policy, builds the request per target, sheds a
 *                 target whose in-flight budget is full, hands treqs to
 *                 client.c
 *   treq_done()   per target answer; when the last one is in, sink() writes
 *                 the exchange and its responses (one batch never splits
 *                 them) and frees the job
 *
 * Latency: from the intended send time in --rate pacing (open loop, so a
 * slow server cannot hide its queueing: no coordinated omission), from the
 * dispatch time otherwise; ttfb from dispatch. Memory: at most one exchange
 * read ahead plus the in-flight ones (bounded by --concurrency per target);
 * response bodies are stored up to the body cap and hashed in full.
 *
 * Ending: the source ends (or --limit/--duration, or the last canary step),
 * a signal (interrupted), a breached step (aborted) or a fatal store error
 * set `stopping`; nothing new is sent, in-flight requests finish (each is
 * bounded by --timeout), then every handle is closed and uv_run returns.
 */
#include <assert.h>
#include <malloc.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "replay/internal.h"
#include "replay/sink.h"
#include "store/writer.h"
#include "util/check.h"
#include "util/clock.h"
#include "util/limits.h"
#include "util/log.h"

#define RP_READBUF (64u << 10)

/* Recycling: finished jobs and treqs go to a free list (loop thread only)
 * with their buffers' memory kept, instead of back to malloc. A request then
 * costs no allocation in the steady state; allocating and freeing the job,
 * its treqs and their three buffers was about a fifth of the loop thread's
 * user time. Buffers that grew past RP_POOL_BUF_MAX are freed (a rare huge
 * answer does not pin memory). Sanitizer builds keep no free list, so a use
 * after free still trips AddressSanitizer. */
#if defined(__SANITIZE_ADDRESS__)
#define RP_POOL_MAX 0u
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RP_POOL_MAX 0u
#endif
#endif
#ifndef RP_POOL_MAX
#define RP_POOL_MAX 4096u
#endif
#define RP_POOL_BUF_MAX (64u << 10)

struct rp_engine {
  const struct sc_replay_cfg *cfg;
  struct sc_replay_source *src;
  sqlite3 *db;
  struct sc_store_writer *w;
  struct rp_sink *sink;          /* writer thread; owns w while running */
  uv_loop_t loop;
  uv_timer_t sched, flush, status;
  uv_signal_t sigint, sigterm;
  int handles_init;
  struct rp_target t[SC_T_COUNT];
  int used[SC_T_COUNT];
  char readbuf[RP_READBUF];
  int64_t run_id;
  uint64_t start_ns;
  uint64_t timeout_ms;
  /* source */
  struct rp_job *next;        /* read ahead, not yet dispatched */
  struct rp_job *pool_job;    /* recycled jobs (linked by sink_next) */
  struct rp_treq *pool_tr;    /* recycled treqs (linked by next_wait) */
  unsigned n_pool_job, n_pool_tr;
  int src_done;
  uint64_t loaded, filtered, dispatched;
  uint64_t rec_t0;            /* recorded pacing: first request ts of the pass */
  uint64_t loop_offset_ns, last_intended_ns;
  struct sc_error src_err;
  /* state */
  int stopping, interrupted, aborted, finishing, closed;
  int signals;
  uint64_t jobs_inflight;
  uint64_t stored;
  struct sc_error fatal;
  /* progressive canary */
  int cur_step;
  int step_draining;
  uint64_t step_start_ns, step_count;
  int aborted_step;
  uint64_t last_status_ns;
};

void sc_replay_cfg_init(struct sc_replay_cfg *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->mode = SC_MODE_SINGLE;
  cfg->fraction = 1.0;
  cfg->pacing = SC_PACE_RECORDED;
  cfg->speed = 1.0;
  cfg->concurrency = 64;
  cfg->timeout_s = 10.0;
  cfg->shadow_header = "X-Shadow-Request";
  cfg->body_cap = SC_DEFAULT_RESP_BODY_CAP;
  cfg->batch_rows = 4096;
}

uv_loop_t *rp_engine_loop(struct rp_engine *eng) { return &eng->loop; }
uint64_t rp_engine_timeout_ms(struct rp_engine *eng) { return eng->timeout_ms; }
uint64_t rp_engine_body_cap(struct rp_engine *eng) { return eng->cfg->body_cap; }
char *rp_engine_readbuf(struct rp_engine *eng, size_t *len) {
  *len = sizeof eng->readbuf;
  return eng->readbuf;
}

static void progress(struct rp_engine *eng);
static void kick(struct rp_engine *eng);

void rp_engine_conn_closed(struct rp_engine *eng) { (void)eng; }

static double cur_fraction(const struct rp_engine *eng) {
  if (eng->cfg->n_steps > 0) {
    int s = eng->cur_step < eng->cfg->n_steps ? eng->cur_step : eng->cfg->n_steps - 1;
    return eng->cfg->steps[s];
  }
  return eng->cfg->fraction;
}

static void set_fatal(struct rp_engine *eng, const struct sc_error *e) {
  if (!eng->fatal.code) eng->fatal = *e;
  eng->stopping = 1;
}

/* ---- jobs ---- */

static void treq_free(struct rp_treq *tr) {
  if (!tr) return;
  sc_buf_release(&tr->req);
  sc_buf_release(&tr->hdr_raw);
  sc_buf_release(&tr->body);
  if (tr->hs) XXH64_freeState(tr->hs);
  free(tr);
}

static void keep_buf(struct sc_buf *b) {
  if (b->cap > RP_POOL_BUF_MAX) sc_buf_release(b);
  else sc_buf_reset(b);
}

/* Back to the free list (or to malloc when it is full). */
static void treq_recycle(struct rp_engine *eng, struct rp_treq *tr) {
  if (!tr) return;
  if (eng->n_pool_tr + 1 > RP_POOL_MAX) { /* (not >=: RP_POOL_MAX may be 0) */
    treq_free(tr);
    return;
  }
  if (tr->hs) XXH64_freeState(tr->hs);
  struct sc_buf req = tr->req, hdr = tr->hdr_raw, body = tr->body;
  keep_buf(&req);
  keep_buf(&hdr);
  keep_buf(&body);
  memset(tr, 0, sizeof *tr);
  tr->req = req;
  tr->hdr_raw = hdr;
  tr->body = body;
  tr->next_wait = eng->pool_tr;
  eng->pool_tr = tr;
  eng->n_pool_tr++;
}

/* A zeroed treq with empty buffers, NULL when out of memory. */
static struct rp_treq *treq_new(struct rp_engine *eng) {
  struct rp_treq *tr = eng->pool_tr;
  if (tr) {
    eng->pool_tr = tr->next_wait;
    eng->n_pool_tr--;
    tr->next_wait = NULL;
    return tr;
  }
  tr = calloc(1, sizeof *tr);
  if (!tr) return NULL;
  sc_buf_init(&tr->req, SC_MAX_RECORD_BYTES);
  sc_buf_init(&tr->hdr_raw, SC_MAX_HEADER_BYTES);
  sc_buf_init(&tr->body, eng->cfg->body_cap);
  return tr;
}

/* Frees (recycles) a job and its treqs; the sink calls it too, on the loop
 * thread (sink.c rule 1). */
static void job_free(struct rp_job *j) {
  if (!j) return;
  struct rp_engine *eng = j->eng;
  for (int i = 0; i < SC_T_COUNT; i++) treq_recycle(eng, j->tr[i]);
  free(j->key);
  free(j->req_headers_json);
  if (eng->n_pool_job + 1 > RP_POOL_MAX) {
    sc_exchange_release(&j->x);
    free(j);
    return;
  }
  /* the exchange's arena blocks stay with the pooled job: the reader fills
   * them again (sc_exchange_clear), no allocation per exchange */
  sc_exchange_clear(&j->x, RP_POOL_BUF_MAX);
  struct sc_exchange x = j->x;
  memset(j, 0, sizeof *j);
  j->x = x;
  j->sink_next = eng->pool_job;
  eng->pool_job = j;
  eng->n_pool_job++;
}

static struct rp_job *job_new(struct rp_engine *eng) {
  struct rp_job *j = eng->pool_job;
  if (j) {
    eng->pool_job = j->sink_next;
    eng->n_pool_job--;
    j->sink_next = NULL;
  } else {
    j = calloc(1, sizeof *j);
    if (!j) return NULL;
  }
  j->eng = eng;
  return j;
}

static void pools_free(struct rp_engine *eng) {
  while (eng->pool_job) {
    struct rp_job *j = eng->pool_job;
    eng->pool_job = j->sink_next;
    sc_exchange_release(&j->x);
    free(j);
  }
  while (eng->pool_tr) {
    struct rp_treq *tr = eng->pool_tr;
    eng->pool_tr = tr->next_wait;
    treq_free(tr);
  }
  eng->n_pool_job = eng->n_pool_tr = 0;
}

static int method_allowed(const char *methods, const char *m) {
  if (!methods || !*methods) return 1;
  size_t ml = strlen(m);
  const char *p = methods;
  while (*p) {
    size_t n = strcspn(p, ",");
    if (n == ml && !strncasecmp(p, m, n)) return 1;
    p += n;
    if (*p == ',') p++;
  }
  return 0;
}

/* Drops what replay never uses from the recorded response (memory): body,
 * headers and, when they share one allocation (m->arena), reason too. */
static void trim_exchange(struct sc_exchange *x) {
  sc_http_msg_set_body(&x->resp, NULL, 0);
  if (x->resp.arena) {
    free(x->resp.arena);
    x->resp.arena = NULL;
    x->resp.arena_cap = 0;
    x->resp.method = x->resp.target = x->resp.reason = NULL;
    x->resp.headers = NULL;
    x->resp.n_headers = 0;
    return;
  }
  for (size_t i = 0; i < x->resp.n_headers; i++) {
    free(x->resp.headers[i].name);
    free(x->resp.headers[i].value);
  }
  free(x->resp.headers);
  x->resp.headers = NULL;
  x->resp.n_headers = 0;
}

/* Reads the next exchange into eng->next. Returns 1 with a job, 0 when the
 * source is exhausted (eng->src_done set), < 0 on memory failure. */
static int load_next(struct rp_engine *eng) {
  const struct sc_replay_cfg *cfg = eng->cfg;
  if (eng->src_done) return 0;
  for (;;) {
    if (cfg->limit && eng->loaded >= cfg->limit) {
      eng->src_done = 1;
      return 0;
    }
    struct rp_job *j = job_new(eng);
    if (!j) {
      struct sc_error e;
      sc_error_set(&e, SC_ENOMEM, "out of memory");
      set_fatal(eng, &e);
      return -1;
    }
    struct sc_error e;
    sc_error_init(&e);
    int r = eng->src->next(eng->src->ctx, &j->x, &e);
    if (r == 0 && cfg->loop && eng->src->rewind && eng->loaded > 0 && !eng->stopping) {
      job_free(j);
      r = eng->src->rewind(eng->src->ctx, &e);
      if (r) {
        eng->src_err = e;
        eng->src_done = 1;
        return 0;
      }
      eng->rec_t0 = 0;
      eng->loop_offset_ns = eng->last_intended_ns;
      continue;
    }
    if (r <= 0) {
      if (r < 0) eng->src_err = e;
      job_free(j);
      eng->src_done = 1;
      return 0;
    }
    if (!method_allowed(cfg->methods, j->x.req.method ? j->x.req.method : "")) {
      eng->filtered++;
      job_free(j);
      continue;
    }
    trim_exchange(&j->x);
    r = sc_replay_key(cfg->key_rule, &j->x, cfg->seed, &j->key, &j->hash, &e);
    if (r) {
      job_free(j);
      set_fatal(eng, &e);
      return -1;
    }
    /* intended send time */
    uint64_t intended = 0;
    if (cfg->pacing == SC_PACE_RATE) {
      intended = (uint64_t)((double)eng->loaded * 1e9 / cfg->rate);
    } else if (cfg->pacing == SC_PACE_RECORDED) {
      uint64_t ts = j->x.t_req_first;
      if (ts && !eng->rec_t0) eng->rec_t0 = ts;
      if (ts && ts >= eng->rec_t0)
        intended = eng->loop_offset_ns + (uint64_t)((double)(ts - eng->rec_t0) / cfg->speed);
      else
        intended = eng->last_intended_ns;
    } else {
      intended = 0;
    }
    if (intended < eng->last_intended_ns && cfg->pacing == SC_PACE_RECORDED)
      intended = eng->last_intended_ns; /* recorded order may interleave slightly */
    eng->last_intended_ns = intended;
    j->intended_ns = intended;
    eng->loaded++;
    j->seq = (int64_t)eng->loaded;
    eng->next = j;
    return 1;
  }
}

static int skip_header(const struct sc_replay_cfg *cfg, const struct sc_hdr *h) {
  static const char *hop[] = {"host", "content-length", "transfer-encoding", "connection", "keep-alive",
                              "proxy-connection", "te", "upgrade", "expect", "trailer"};
  for (size_t i = 0; i < SC_ARRAY_LEN(hop); i++)
    if (h->name_len == strlen(hop[i]) && !strncasecmp(h->name, hop[i], h->name_len)) return 1;
  if (cfg->shadow_header && h->name_len == strlen(cfg->shadow_header) &&
      !strncasecmp(h->name, cfg->shadow_header, h->name_len))
    return 1;
  if (cfg->headers)
    for (const char *const *o = cfg->headers; *o; o++) {
      const char *colon = strchr(*o, ':');
      size_t n = colon ? (size_t)(colon - *o) : strlen(*o);
      if (n == h->name_len && !strncasecmp(*o, h->name, n)) return 1;
    }
  return 0;
}

/* Builds the request bytes for target t into b; when hjson is not NULL also
 * the JSON array of headers as sent. */
static int build_request(struct rp_engine *eng, struct rp_target *t, const struct sc_exchange *x,
                         struct sc_buf *b, char **hjson) {
  const struct sc_replay_cfg *cfg = eng->cfg;
  const char *method = x->req.method && *x->req.method ? x->req.method : "GET";
  const char *target = x->req.target && *x->req.target ? x->req.target : "/";
  json_t *arr = hjson ? json_array() : NULL;
  /* appends, not printf: this runs once per request and target */
  int rc = sc_buf_puts(b, method);
  if (!rc) rc = sc_buf_putc(b, ' ');
  if (!rc) rc = sc_buf_puts(b, t->url.path_prefix);
  if (!rc) rc = sc_buf_puts(b, target);
  if (!rc) rc = sc_buf_append(b, " HTTP/1.1\r\n", 11);
  const struct sc_hdr *host = NULL;
  if (cfg->keep_host) host = sc_http_msg_header(&x->req, "Host");
  const char *hostv = t->url.hostport;
  size_t hostn = strlen(hostv);
  if (host) {
    hostv = host->value;
    hostn = host->value_len;
  }
#define ADDH(np, nn, vp, vn)                                                        \
  do {                                                                              \
    if (!rc) rc = sc_buf_append(b, (np), (nn));                                     \
    if (!rc) rc = sc_buf_append(b, ": ", 2);                                        \
    if (!rc) rc = sc_buf_append(b, (vp), (vn));                                     \
    if (!rc) rc = sc_buf_append(b, "\r\n", 2);                                      \
    if (arr) {                                                                      \
      json_t *pair = json_array();                                                  \
      json_array_append_new(pair, json_stringn_nocheck((np), (nn)));                \
      json_array_append_new(pair, json_stringn_nocheck((vp), (vn)));                \
      json_array_append_new(arr, pair);                                             \
    }                                                                               \
  } while (0)
  ADDH("Host", 4, hostv, hostn);
  for (size_t i = 0; i < x->req.n_headers; i++) {
    const struct sc_hdr *h = &x->req.headers[i];
    if (skip_header(cfg, h)) continue;
    /* a recorded header never carries CR/LF (capture parsed it); check anyway */
    if (memchr(h->value, '\r', h->value_len) || memchr(h->value, '\n', h->value_len)) continue;
    ADDH(h->name, h->name_len, h->value, h->value_len);
  }
  if (cfg->headers)
    for (const char *const *o = cfg->headers; *o; o++) {
      const char *colon = strchr(*o, ':');
      if (!colon) continue;
      const char *v = colon + 1;
      while (*v == ' ' || *v == '\t') v++;
      ADDH(*o, (size_t)(colon - *o), v, strlen(v));
    }
  if (cfg->shadow_header) ADDH(cfg->shadow_header, strlen(cfg->shadow_header), "1", 1);
  size_t blen = x->req.body ? x->req.body_len : 0;
  if (blen || !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH")) {
    char cl[24], *d = cl + sizeof cl;
    size_t v = blen;
    do *--d = (char)('0' + v % 10); while (v /= 10);
    ADDH("Content-Length", 14, d, (size_t)(cl + sizeof cl - d));
  }
#undef ADDH
  if (!rc) rc = sc_buf_append(b, "\r\n", 2);
  if (!rc && blen) rc = sc_buf_append(b, x->req.body, blen);
  if (arr) {
    *hjson = rc ? NULL : json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
  }
  return rc;
}

static void send_to(struct rp_engine *eng, struct rp_job *j, int ti, int with_json) {
  struct rp_target *t = &eng->t[ti];
  if (t->inflight >= t->budget) {
    t->shed++;
    return;
  }
  struct rp_treq *tr = treq_new(eng);
  if (!tr) {
    t->shed++;
    return;
  }
  tr->job = j;
  tr->t = t;
  tr->is_head = j->x.req.method && !strcmp(j->x.req.method, "HEAD");
  /* one allocation for the request in the common case */
  size_t est = 256 + (j->x.req.target ? strlen(j->x.req.target) : 0) + (j->x.req.body ? j->x.req.body_len : 0);
  for (size_t i = 0; i < j->x.req.n_headers; i++) est += j->x.req.headers[i].name_len + j->x.req.headers[i].value_len + 4;
  (void)with_json; /* the JSON of the headers as sent is built by the sink thread from these bytes */
  if (sc_buf_reserve(&tr->req, est) || build_request(eng, t, &j->x, &tr->req, NULL)) {
    treq_recycle(eng, tr);
    t->shed++;
    return;
  }
  j->tr[ti] = tr;
  j->pending++;
  t->inflight++;
  t->sent++;
  tr->start_ns = sc_clock_mono_ns();
  rp_target_send(t, tr);
}

static void job_release_pending(struct rp_engine *eng, struct rp_job *j) {
  if (--j->pending > 0) return;
  int any = 0;
  for (int i = 0; i < SC_T_COUNT; i++) any |= j->tr[i] != NULL;
  const struct rp_treq *cur = j->tr[SC_T_CURRENT];
  for (int i = 1; i < SC_T_COUNT; i++) {
    const struct rp_treq *tr = j->tr[i];
    if (cur && tr && cur->sent_ns && tr->sent_ns) {
      double skew = fabs(((double)tr->sent_ns - (double)cur->sent_ns) / 1e3);
      if (skew > eng->t[i].max_skew_us) eng->t[i].max_skew_us = skew;
    }
  }
  if (any && eng->sink && !eng->fatal.code) rp_sink_push(eng->sink, j); /* the sink frees it */
  else job_free(j);
  SC_ASSERT(eng->jobs_inflight > 0);
  eng->jobs_inflight--;
  kick(eng);
}

/* Policy: which targets job j goes to under the current fraction. */
static void route(const struct rp_engine *eng, struct rp_job *j, int *cur, int *cand, int *sec) {
  const struct sc_replay_cfg *cfg = eng->cfg;
  int in = sc_replay_hash_in(j->hash, cur_fraction(eng));
  *cur = *cand = 0;
  switch (cfg->mode) {
  case SC_MODE_SINGLE: *cur = 1; j->routed = "current"; break;
  case SC_MODE_SHADOW: *cur = 1; *cand = in && eng->used[SC_T_CANDIDATE]; j->routed = *cand ? "both" : "current"; break;
  case SC_MODE_CANARY:
    *cand = in && eng->used[SC_T_CANDIDATE];
    *cur = !*cand;
    j->routed = *cand ? "candidate" : "current";
    break;
  }
  *sec = *cur && eng->used[SC_T_SECONDARY];
}

static void dispatch(struct rp_engine *eng, struct rp_job *j) {
  const struct sc_replay_cfg *cfg = eng->cfg;
  int cur, cand, sec;
  route(eng, j, &cur, &cand, &sec);
  j->step = cfg->n_steps > 0 ? eng->cur_step : 0;
  eng->jobs_inflight++;
  eng->dispatched++;
  j->pending = 1; /* guard: a synchronous failure cannot free j under us */
  if (cur) send_to(eng, j, SC_T_CURRENT, 1);
  if (cand) send_to(eng, j, SC_T_CANDIDATE, !cur);
  if (sec) send_to(eng, j, SC_T_SECONDARY, 0);
  job_release_pending(eng, j);
}

void rp_engine_treq_done(struct rp_engine *eng, struct rp_treq *tr) {
  struct rp_target *t = tr->t;
  SC_ASSERT(t->inflight > 0);
  t->inflight--;
  if (tr->errkind) {
    t->errors[tr->errkind]++;
    t->errors_total++;
  } else {
    t->ok++;
    uint64_t from = eng->cfg->pacing == SC_PACE_RATE ? eng->start_ns + tr->job->intended_ns : tr->start_ns;
    if (from > tr->done_ns) from = tr->start_ns;
    rp_hist_add(t, (double)(tr->done_ns - from) / 1e3);
  }
  job_release_pending(eng, tr->job);
}

/* ---- scheduler ---- */

static void on_sched(uv_timer_t *h);

/* Runs pump on the next loop iteration. Called once per finished request:
 * when a run is already due, the timer is left alone (re-arming it is a heap
 * removal and insertion each time). */
static void kick(struct rp_engine *eng) {
  if (eng->finishing) return;
  if (uv_is_active((uv_handle_t *)&eng->sched) && uv_timer_get_due_in(&eng->sched) == 0) return;
  uv_timer_start(&eng->sched, on_sched, 0, 0);
}

static int step_boundary_reached(struct rp_engine *eng, uint64_t now) {
  const struct sc_replay_cfg *cfg = eng->cfg;
  if (cfg->n_steps <= 0 || eng->step_draining) return 0;
  if (cfg->step_exchanges && eng->step_count >= cfg->step_exchanges) return 1;
  if (cfg->step_duration_s > 0 && (double)(now - eng->step_start_ns) / 1e9 >= cfg->step_duration_s) return 1;
  return 0;
}

static void pump(struct rp_engine *eng) {
  const struct sc_replay_cfg *cfg = eng->cfg;
  int n = 0;
  while (!eng->stopping && !eng->step_draining && !eng->finishing) {
    uint64_t now_abs = sc_clock_mono_ns();
    uint64_t now = now_abs - eng->start_ns;
    if (cfg->duration_s > 0 && (double)now / 1e9 >= cfg->duration_s) {
      eng->src_done = 1;
      break;
    }
    if (step_boundary_reached(eng, now_abs)) {
      eng->step_draining = 1;
      break;
    }
    if (!eng->next && load_next(eng) <= 0) break;
    struct rp_job *j = eng->next;
    if (j->intended_ns > now) {
      uint64_t ms = (j->intended_ns - now + 999999) / 1000000;
      uv_timer_start(&eng->sched, on_sched, ms, 0);
      return;
    }
    if (cfg->pacing == SC_PACE_MAX) {
      /* closed loop: wait until every target of this exchange has room */
      int go[SC_T_COUNT];
      route(eng, j, &go[SC_T_CURRENT], &go[SC_T_CANDIDATE], &go[SC_T_SECONDARY]);
      for (int i = 0; i < SC_T_COUNT; i++)
        if (go[i] && eng->t[i].inflight >= eng->t[i].budget) return; /* resumed by a completion */
    }
    eng->next = NULL;
    if (cfg->n_steps > 0) eng->step_count++;
    dispatch(eng, j);
    if (++n >= 256) { /* let I/O run */
      kick(eng);
      return;
    }
  }
  progress(eng);
}

static void on_sched(uv_timer_t *h) { pump(h->data); }

/* ---- steps, finish ---- */

static void close_all(struct rp_engine *eng);

static void step_end(struct rp_engine *eng) {
  const struct sc_replay_cfg *cfg = eng->cfg;
  struct sc_error e;
  sc_error_init(&e);
  int rc = rp_sink_barrier(eng->sink, &e); /* every exchange of the step committed */
  if (rc) {
    set_fatal(eng, &e);
    return;
  }
  int v = 0;
  if (cfg->on_step_end) {
    v = cfg->on_step_end(cfg->step_ctx, eng->db, eng->run_id, eng->cur_step);
    if (v < 0) {
      sc_log_warn("step %d: evaluation failed (%s); treated as inconclusive", eng->cur_step + 1, sc_strerror(v));
      v = 3;
    }
  }
  const char *verdict = v == 0 ? "pass" : v == 1 ? "fail" : "inconclusive";
  rc = sc_store_step_end(eng->db, eng->run_id, eng->cur_step, (int64_t)eng->step_count, verdict, &e);
  if (rc) {
    set_fatal(eng, &e);
    return;
  }
  sc_log_info("step %d (%.4g%% to candidate): %llu exchanges, %s", eng->cur_step + 1,
              cfg->steps[eng->cur_step] * 100.0, (unsigned long long)eng->step_count, verdict);
  if (v == 1) {
    eng->aborted = 1;
    eng->aborted_step = eng->cur_step;
    eng->stopping = 1;
    return;
  }
  eng->cur_step++;
  eng->step_count = 0;
  eng->step_draining = 0;
  if (eng->cur_step >= cfg->n_steps) {
    eng->src_done = 1; /* the ramp is over */
    return;
  }
  eng->step_start_ns = sc_clock_mono_ns();
  rc = sc_store_step_begin(eng->db, eng->run_id, eng->cur_step, cfg->steps[eng->cur_step], &e);
  if (rc) set_fatal(eng, &e);
}

static void progress(struct rp_engine *eng) {
  if (eng->finishing) return;
  if (eng->step_draining && eng->jobs_inflight == 0 && !eng->stopping) {
    step_end(eng);
    if (!eng->stopping && !eng->src_done) {
      kick(eng);
      return;
    }
  }
  if ((eng->src_done || eng->stopping) && eng->jobs_inflight == 0) {
    /* a progressive run that ran out of input evaluates its last step */
    if (eng->cfg->n_steps > 0 && !eng->stopping && eng->cur_step < eng->cfg->n_steps && eng->step_count > 0)
      step_end(eng);
    close_all(eng);
  }
}

/* Every 100 ms: hands the finished jobs still held by the loop to the writer
 * (a full batch goes at once, see sink.c rule 5) and checks for a write
 * error. */
static void on_flush(uv_timer_t *h) {
  struct rp_engine *eng = h->data;
  struct sc_error e;
  sc_error_init(&e);
  rp_sink_flush(eng->sink);
  if (eng->sink && rp_sink_error(eng->sink, &e)) {
    set_fatal(eng, &e);
    progress(eng);
  }
}

static void draw_status(struct rp_engine *eng, int final) {
  if (!eng->cfg->status_line || final) return;
  uint64_t now = sc_clock_mono_ns();
  /* rates over the time since the previous line (or since the start) */
  uint64_t since = eng->last_status_ns ? eng->last_status_ns : eng->start_ns;
  double dt = now > since ? (double)(now - since) / 1e9 : 0;
  eng->last_status_ns = now;
  char line[512];
  size_t off = 0;
  unsigned inflight = 0;
  uint64_t errs = 0;
  for (int i = 0; i < SC_T_COUNT; i++) {
    struct rp_target *t = &eng->t[i];
    if (!eng->used[i]) continue;
    double rps = dt > 0 ? (double)(t->sent - t->sent_last) / dt : 0;
    t->sent_last = t->sent;
    inflight += t->inflight;
    errs += t->errors_total;
    off += (size_t)snprintf(line + off, sizeof line - off, "%s %.0f/s p99 %.1fms | ", t->name, rps,
                            rp_hist_quantile(t, 0.99) / 1e3);
    if (off >= sizeof line) off = sizeof line - 1;
  }
  double el = (double)(now - eng->start_ns) / 1e9;
  double pct = -1;
  if (eng->cfg->limit) pct = (double)eng->dispatched / (double)eng->cfg->limit;
  else if (eng->cfg->duration_s > 0) pct = el / eng->cfg->duration_s;
  else if (!eng->cfg->loop && eng->src->progress) {
    /* the reader runs ahead of what was sent: estimate the file's exchanges
     * from what was read so far, then the share of them dispatched */
    double f = eng->src->progress(eng->src->ctx);
    uint64_t rd = eng->loaded + eng->filtered;
    if (f > 0 && rd > 0) pct = (double)eng->dispatched / ((double)rd / f);
  }
  char eta[32] = "";
  if (pct > 0.001 && pct < 1) {
    char d[24];
    sc_fmt_duration(el / pct - el, d, sizeof d);
    snprintf(eta, sizeof eta, " %.0f%% ETA %s", pct * 100, d);
  }
  sc_status_line("%ssent %llu in flight %u errors %llu%s", line, (unsigned long long)eng->dispatched, inflight,
                 (unsigned long long)errs, eta);
}

static void on_status(uv_timer_t *h) {
  struct rp_engine *eng = h->data;
  draw_status(eng, 0);
  /* step durations elapse even when no traffic is due */
  if (!eng->stopping && !eng->step_draining && eng->cfg->n_steps > 0 &&
      step_boundary_reached(eng, sc_clock_mono_ns())) {
    eng->step_draining = 1;
    progress(eng);
  }
}

static void on_signal(uv_signal_t *h, int signum) {
  struct rp_engine *eng = h->data;
  eng->signals++;
  if (eng->signals == 1) {
    sc_status_clear();
    sc_log_info("%s: stopping; waiting for %llu request(s) in flight (send the signal again to cancel them)",
                signum == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)eng->jobs_inflight);
    eng->interrupted = 1;
    eng->stopping = 1;
    uv_timer_stop(&eng->sched);
    progress(eng);
  } else {
    for (int i = 0; i < SC_T_COUNT; i++)
      if (eng->used[i]) rp_target_cancel_all(&eng->t[i], SC_RE_OTHER);
    progress(eng);
  }
}

static void close_all(struct rp_engine *eng) {
  if (eng->finishing) return;
  eng->finishing = 1;
  uv_timer_stop(&eng->sched);
  uv_close((uv_handle_t *)&eng->sched, NULL);
  uv_close((uv_handle_t *)&eng->flush, NULL);
  uv_close((uv_handle_t *)&eng->status, NULL);
  uv_close((uv_handle_t *)&eng->sigint, NULL);
  uv_close((uv_handle_t *)&eng->sigterm, NULL);
  for (int i = 0; i < SC_T_COUNT; i++)
    if (eng->used[i]) rp_target_close_idle(&eng->t[i]);
}

static int64_t stat_or(int64_t v) { return v; }

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static int capture_stats_into_run(struct rp_engine *eng, struct sc_error *err) {
  if (!eng->src->capture_stats) return SC_OK;
  int64_t v[7];
  if (!eng->src->capture_stats(eng->src->ctx, v)) return SC_OK;
  struct sc_run_capture c = {stat_or(v[0]), v[1], v[2], v[3], v[4], v[5], v[6]};
  return sc_store_run_capture(eng->db, eng->run_id, &c, err);
}

static void fill_summary(struct rp_engine *eng, struct sc_replay_summary *sum) {
  sum->run_id = eng->run_id;
  sum->exchanges = eng->w ? sc_store_writer_committed_exchanges(eng->w) : 0;
  sum->read = eng->loaded + eng->filtered;
  sum->filtered = eng->filtered;
  sum->elapsed_s = (double)(sc_clock_mono_ns() - eng->start_ns) / 1e9;
  sum->aborted_step = eng->aborted ? eng->aborted_step : -1;
  if (eng->src_err.code) {
    sum->traffic_error = 1;
    snprintf(sum->traffic_msg, sizeof sum->traffic_msg, "%s", eng->src_err.msg);
  }
  for (int i = 0; i < SC_T_COUNT; i++) {
    struct rp_target *t = &eng->t[i];
    struct sc_replay_target_summary *s = &sum->t[i];
    s->used = eng->used[i];
    if (!s->used) continue;
    s->sent = t->sent;
    s->ok = t->ok;
    s->shed = t->shed;
    s->conns = t->conns_opened;
    memcpy(s->errors, t->errors, sizeof s->errors);
    s->errors_total = t->errors_total;
    s->p50_us = rp_hist_quantile(t, 0.50);
    s->p99_us = rp_hist_quantile(t, 0.99);
    s->max_skew_us = t->max_skew_us;
  }
}

static char *json_steps(const struct sc_replay_cfg *cfg) {
  if (cfg->n_steps <= 0) return NULL;
  json_t *a = json_array();
  for (int i = 0; i < cfg->n_steps; i++) json_array_append_new(a, json_real(cfg->steps[i]));
  char *s = json_dumps(a, JSON_COMPACT);
  json_decref(a);
  return s;
}

int sc_replay_run(const struct sc_replay_cfg *cfg, struct sc_replay_source *src, sqlite3 *db,
                  struct sc_replay_summary *sum, struct sc_error *err) {
  int rc = SC_OK;
  memset(sum, 0, sizeof *sum);
  sum->aborted_step = -1;
  sum->status = "interrupted";
  /* glibc gives the top of a thread's heap back to the kernel once 128 KiB
   * are free there, and the writer thread's heap breathes by more than that
   * with every batch: each give-back (madvise) and regrowth (mprotect, page
   * faults) cost the writer about 0.5 us per exchange. Keep up to 64 MiB. */
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  struct rp_engine *eng = calloc(1, sizeof *eng);
  char *steps_json = NULL;
  if (!eng) return sc_error_set(err, SC_ENOMEM, "out of memory");
  eng->cfg = cfg;
  eng->src = src;
  eng->db = db;
  eng->aborted_step = -1;
  double to = cfg->timeout_s > 0 ? cfg->timeout_s : 10.0;
  eng->timeout_ms = (uint64_t)(to * 1000.0 + 0.5);
  if (eng->timeout_ms == 0) eng->timeout_ms = 1;
  if (!cfg->url[SC_T_CURRENT]) {
    rc = sc_error_set(err, SC_EUSAGE, "--current URL is required");
    goto out;
  }
  if (cfg->pacing == SC_PACE_RATE && !(cfg->rate > 0)) {
    rc = sc_error_set(err, SC_EUSAGE, "--rate must be positive");
    goto out;
  }
  if (cfg->pacing == SC_PACE_RECORDED && !(cfg->speed > 0)) {
    rc = sc_error_set(err, SC_EUSAGE, "--speed must be positive");
    goto out;
  }
  rc = sc_replay_key_rule_check(cfg->key_rule, err);
  if (rc) goto out;
  unsigned conc = cfg->concurrency ? cfg->concurrency : 64;
  if (conc > SC_MAX_CONCURRENCY) conc = SC_MAX_CONCURRENCY;
  for (int i = 0; i < SC_T_COUNT; i++) {
    if (!cfg->url[i]) continue;
    rc = rp_target_init(&eng->t[i], eng, i, cfg->url[i], conc, cfg->pool_size ? cfg->pool_size : conc, err);
    if (rc) goto out;
    eng->used[i] = 1;
  }
  if ((cfg->mode == SC_MODE_SHADOW || cfg->mode == SC_MODE_CANARY) && !eng->used[SC_T_CANDIDATE]) {
    rc = sc_error_set(err, SC_EUSAGE, "--%s needs --candidate", cfg->mode == SC_MODE_SHADOW ? "shadow" : "canary");
    goto out;
  }

  /* the run row */
  char pacing[64];
  if (cfg->pacing == SC_PACE_MAX) snprintf(pacing, sizeof pacing, "max");
  else if (cfg->pacing == SC_PACE_RATE) snprintf(pacing, sizeof pacing, "rate:%g/s", cfg->rate);
  else snprintf(pacing, sizeof pacing, "recorded:%gx", cfg->speed);
  steps_json = json_steps(cfg);
  static const char *modes[] = {"single", "shadow", "canary"};
  struct sc_run_info ri = {
    .traffic_file = cfg->traffic_path,
    .mode = modes[cfg->mode],
    .fraction = cfg->n_steps > 0 ? cfg->steps[0] : (cfg->mode == SC_MODE_SINGLE ? 1.0 : cfg->fraction),
    .steps_json = steps_json,
    .seed = cfg->seed,
    .key_spec = cfg->key_rule ? cfg->key_rule : "default",
    .current_url = cfg->url[0],
    .candidate_url = cfg->url[1],
    .secondary_url = cfg->url[2],
    .pacing = pacing,
    .concurrency = conc,
    .config_json = cfg->config_json,
    .argv = cfg->argv,
  };
  int reaped = 0;
  rc = sc_store_reap_dead_runs(db, &reaped, err);
  if (rc) goto out;
  rc = sc_store_run_begin(db, &ri, &eng->run_id, err);
  if (rc) goto out;
  sum->run_id = eng->run_id;
  for (int i = 0; i < SC_T_COUNT && !rc; i++)
    if (eng->used[i]) rc = sc_store_run_target(db, eng->run_id, eng->t[i].name, cfg->url[i], 0, 0, 0, 0, err);
  if (!rc && cfg->n_steps > 0) rc = sc_store_step_begin(db, eng->run_id, 0, cfg->steps[0], err);
  if (!rc) rc = sc_store_writer_new(&eng->w, db, eng->run_id, cfg->batch_rows ? cfg->batch_rows : 4096, err);
  if (rc) goto out;

  /* the loop */
  if (uv_loop_init(&eng->loop) != 0) {
    rc = sc_error_set(err, SC_EINTERNAL, "cannot initialise the event loop");
    goto out;
  }
  eng->handles_init = 1;
  uv_timer_init(&eng->loop, &eng->sched);
  uv_timer_init(&eng->loop, &eng->flush);
  uv_timer_init(&eng->loop, &eng->status);
  uv_signal_init(&eng->loop, &eng->sigint);
  uv_signal_init(&eng->loop, &eng->sigterm);
  eng->sched.data = eng->flush.data = eng->status.data = eng;
  eng->sigint.data = eng->sigterm.data = eng;
  uv_signal_start(&eng->sigint, on_signal, SIGINT);
  uv_signal_start(&eng->sigterm, on_signal, SIGTERM);
  uv_timer_start(&eng->flush, on_flush, 100, 100);
  if (cfg->status_line) {
    sc_status_set_plain_interval(10.0);
    uv_timer_start(&eng->status, on_status, 500, 500);
  } else if (cfg->n_steps > 0) {
    uv_timer_start(&eng->status, on_status, 200, 200);
  } else {
    uv_unref((uv_handle_t *)&eng->status);
  }
  eng->start_ns = sc_clock_mono_ns();
  eng->step_start_ns = eng->start_ns;
  rc = rp_sink_start(&eng->sink, eng->w, eng->start_ns, cfg->pacing == SC_PACE_RATE, job_free, err);
  if (rc) goto out;
  kick(eng);
  uv_run(&eng->loop, UV_RUN_DEFAULT);
  if (SC_NEVER(!eng->finishing)) { /* the loop only ends after close_all */
    close_all(eng);
    uv_run(&eng->loop, UV_RUN_DEFAULT);
  }
  if (eng->next) {
    job_free(eng->next);
    eng->next = NULL;
  }
  int lc = uv_loop_close(&eng->loop);
  SC_ASSERT(lc == 0);
  (void)lc;
  eng->handles_init = 0;
  sc_status_clear();
  {
    struct sc_error e;
    sc_error_init(&e);
    if (rp_sink_stop(eng->sink, &e)) set_fatal(eng, &e); /* writes what is queued and commits */
    eng->sink = NULL;
  }

  /* commit and record the outcome */
  {
    struct sc_error e;
    sc_error_init(&e);
    int frc = sc_store_writer_flush(eng->w, &e); /* no-op unless the sink failed to commit */
    if (frc) set_fatal(eng, &e);
    const char *status = eng->aborted       ? "aborted"
                         : eng->interrupted || eng->fatal.code ? "interrupted"
                                                               : "completed";
    const char *reason = eng->aborted ? "a criterion was breached at a canary step"
                         : eng->interrupted ? "signal"
                         : eng->fatal.code  ? eng->fatal.msg
                                            : NULL;
    sum->status = status;
    struct sc_error e2;
    sc_error_init(&e2);
    int r2 = capture_stats_into_run(eng, &e2);
    for (int i = 0; i < SC_T_COUNT && !r2; i++)
      if (eng->used[i])
        r2 = sc_store_run_target(db, eng->run_id, eng->t[i].name, cfg->url[i], (int64_t)eng->t[i].sent,
                                 (int64_t)eng->t[i].shed, (int64_t)eng->t[i].errors_total,
                                 (int64_t)eng->t[i].conns_opened, &e2);
    if (!r2)
      r2 = sc_store_run_finish(db, eng->run_id, status, reason, eng->aborted ? eng->aborted_step : -1,
                               eng->src_err.code ? eng->src_err.msg : NULL, &e2);
    if (r2 && !eng->fatal.code) set_fatal(eng, &e2);
    fill_summary(eng, sum);
    if (eng->fatal.code) {
      *err = eng->fatal;
      rc = eng->fatal.code;
    } else if (eng->aborted) {
      rc = sc_error_set(err, SC_ESTATE, "canary step %d breached the acceptance criteria; run %lld aborted",
                        eng->aborted_step + 1, (long long)eng->run_id);
    } else if (eng->interrupted) {
      rc = sc_error_set(err, SC_EINTR, "interrupted by a signal; run %lld marked interrupted", (long long)eng->run_id);
    } else {
      rc = SC_OK;
    }
  }
out:
  if (eng->handles_init) { /* setup failed after uv_loop_init: close what was started */
    uv_walk(&eng->loop, close_walk, NULL);
    uv_run(&eng->loop, UV_RUN_DEFAULT);
    uv_loop_close(&eng->loop);
  }
  (void)rp_sink_stop(eng->sink, NULL);
  sc_store_writer_free(eng->w);
  free(steps_json);
  pools_free(eng);
  free(eng);
  return rc;
}
