/*
 * sink.c - the result sink: finished jobs go from the event loop to a writer
 * thread that turns them into rows (exchanges, responses) through the
 * batched store writer, so SQLite never stalls the loop (a commit or a WAL
 * checkpoint would otherwise delay sends and inflate measured latencies).
 * Stage: replay. Reference: store/writer.h, schemas/results.sql.
 *
 * Threads and ownership:
 *   1. The loop thread pushes a finished job (ownership moves to the sink)
 *      and never touches it again; the writer thread writes and frees it.
 *   2. The writer thread is the only user of the database connection between
 *      rp_sink_start() and rp_sink_stop(), except inside rp_sink_barrier():
 *      the barrier returns once the queue is empty and every row committed,
 *      and the writer does not touch the database again until the next push
 *      (the loop thread may then use the connection: steps, hooks).
 *   3. The queue holds at most RP_SINK_QMAX jobs; a push beyond it waits
 *      (back-pressure instead of unbounded memory).
 *   4. After a write error every later job is freed unwritten; the error is
 *      kept for rp_sink_error() (first one wins).
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "replay/sink.h"
#include "store/writer.h"
#include "util/clock.h"

#define RP_SINK_QMAX 2048

struct rp_sink {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_space, cv_done;
  struct rp_job *head, *tail;
  size_t qlen;
  uint64_t barrier_req, barrier_done;
  int stop;
  int failed;
  struct sc_error err;
  struct sc_store_writer *w;
  uint64_t start_ns;
  int rate_pacing;
  void (*free_job)(struct rp_job *);
  char *(*headers_json)(const struct sc_buf *, const char **, size_t *);
};

/* Response headers "name\0value\0..." -> JSON array; content type out. */
static char *headers_json(const struct sc_buf *raw, const char **ctype, size_t *ctype_len) {
  json_t *arr = json_array();
  const char *p = raw->p, *end = raw->p + raw->len;
  *ctype = NULL;
  *ctype_len = 0;
  while (p < end) {
    const char *name = p;
    size_t nn = strnlen(p, (size_t)(end - p));
    p += nn + 1;
    if (p > end) break;
    const char *val = p;
    size_t vn = strnlen(p, (size_t)(end - p));
    p += vn + 1;
    json_t *pair = json_array();
    json_array_append_new(pair, json_stringn_nocheck(name, nn));
    json_array_append_new(pair, json_stringn_nocheck(val, vn));
    json_array_append_new(arr, pair);
    if (nn == 12 && !strncasecmp(name, "content-type", 12)) {
      *ctype = val;
      *ctype_len = vn;
    }
  }
  char *s = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return s;
}

/* Header lines of a request as sent (bytes built by the engine: request
 * line, "Name: value" CRLF lines, empty line) -> JSON array of [name, value].
 * The bytes are our own output, so the scan trusts their shape but stays in
 * bounds. */
static char *request_headers_json(const struct sc_buf *req) {
  const char *p = req->p, *end = req->p + req->len;
  const char *eol = memchr(p, '\n', (size_t)(end - p));
  if (!eol) return NULL;
  p = eol + 1;
  json_t *arr = json_array();
  while (p < end) {
    eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) break;
    const char *le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
    if (le == p) break; /* empty line: end of the head */
    const char *colon = memchr(p, ':', (size_t)(le - p));
    if (colon) {
      const char *v = colon + 1;
      while (v < le && (*v == ' ' || *v == '\t')) v++;
      json_t *pair = json_array();
      json_array_append_new(pair, json_stringn_nocheck(p, (size_t)(colon - p)));
      json_array_append_new(pair, json_stringn_nocheck(v, (size_t)(le - v)));
      json_array_append_new(arr, pair);
    }
    p = eol + 1;
  }
  char *out = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return out;
}

/* Writes one job's rows (writer thread). */
static int write_job(struct rp_sink *s, struct rp_job *j, struct sc_error *e) {
  if (!j->req_headers_json) {
    const struct rp_treq *first = j->tr[SC_T_CURRENT] ? j->tr[SC_T_CURRENT] : j->tr[SC_T_CANDIDATE];
    if (first) j->req_headers_json = request_headers_json(&first->req);
  }
  struct sc_store_exchange sx = {
    .seq = j->seq,
    .exchange_id = j->x.id,
    .step = j->step,
    .request_key = j->key,
    .key_hash = j->hash,
    .routed = j->routed,
    .method = j->x.req.method,
    .target = j->x.req.target,
    .req_headers_json = j->req_headers_json,
    .req_body = j->x.req.body,
    .req_body_len = j->x.req.body ? j->x.req.body_len : 0,
    .recorded_status = j->x.resp.status,
    .recorded_latency_us = -1,
    .intended_ns = (int64_t)j->intended_ns,
  };
  if (j->x.t_resp_last && j->x.t_req_last && j->x.t_resp_last >= j->x.t_req_last)
    sx.recorded_latency_us = (double)(j->x.t_resp_last - j->x.t_req_last) / 1e3;
  int rc = sc_store_writer_add_exchange(s->w, &sx, e);
  const struct rp_treq *cur = j->tr[SC_T_CURRENT];
  for (int i = 0; i < SC_T_COUNT && !rc; i++) {
    struct rp_treq *tr = j->tr[i];
    if (!tr) continue;
    const char *ct = NULL;
    size_t ctn = 0;
    char *hj = tr->errkind ? NULL : headers_json(&tr->hdr_raw, &ct, &ctn);
    char *ctype = ct ? sc_memdup0(ct, ctn) : NULL;
    char hash[17] = "";
    if (!tr->errkind && tr->hs) snprintf(hash, sizeof hash, "%016llx", (unsigned long long)XXH64_digest(tr->hs));
    uint64_t from = s->rate_pacing ? s->start_ns + j->intended_ns : tr->start_ns;
    if (from > tr->done_ns) from = tr->start_ns;
    double skew = NAN;
    if (cur && i != SC_T_CURRENT && cur->sent_ns && tr->sent_ns)
      skew = ((double)tr->sent_ns - (double)cur->sent_ns) / 1e3;
    struct sc_store_response r = {
      .seq = j->seq,
      .target = i == SC_T_CURRENT ? "current" : i == SC_T_CANDIDATE ? "candidate" : "secondary",
      .status = tr->errkind ? 0 : tr->status,
      .error = sc_replay_errkind_name(tr->errkind),
      .latency_us = tr->errkind && tr->errkind != SC_RE_TIMEOUT ? -1 : (double)(tr->done_ns - from) / 1e3,
      .ttfb_us = tr->first_ns && tr->first_ns >= tr->start_ns ? (double)(tr->first_ns - tr->start_ns) / 1e3 : -1,
      .sent_ns = (int64_t)((tr->sent_ns ? tr->sent_ns : tr->start_ns) - s->start_ns),
      .skew_us = skew,
      .headers_json = hj,
      .body = tr->errkind ? NULL : tr->body.p,
      .body_stored_len = tr->errkind ? 0 : tr->body.len,
      .body_len = (int64_t)tr->body_len,
      .body_hash = hash[0] ? hash : NULL,
      .body_truncated = tr->body_truncated,
      .content_type = ctype,
    };
    rc = sc_store_writer_add_response(s->w, &r, e);
    free(hj);
    free(ctype);
  }
  return rc;
}

static void fail(struct rp_sink *s, const struct sc_error *e) {
  pthread_mutex_lock(&s->mu);
  if (!s->failed) s->err = *e;
  s->failed = 1;
  pthread_mutex_unlock(&s->mu);
}

static void *writer_main(void *arg) {
  struct rp_sink *s = arg;
  uint64_t last_commit = sc_clock_mono_ns();
  int dirty = 0;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->stop && s->barrier_done == s->barrier_req) {
      if (!dirty) {
        pthread_cond_wait(&s->cv_work, &s->mu);
        continue;
      }
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 100 * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      if (pthread_cond_timedwait(&s->cv_work, &s->mu, &ts) == ETIMEDOUT) break;
    }
    struct rp_job *list = s->head;
    s->head = s->tail = NULL;
    s->qlen = 0;
    int failed = s->failed;
    uint64_t breq = s->barrier_req;
    int stop = s->stop;
    pthread_cond_broadcast(&s->cv_space);
    pthread_mutex_unlock(&s->mu);

    while (list) {
      struct rp_job *j = list;
      list = j->sink_next;
      if (!failed) {
        struct sc_error e;
        sc_error_init(&e);
        if (write_job(s, j, &e)) {
          fail(s, &e);
          failed = 1;
        } else {
          dirty = 1;
        }
      }
      s->free_job(j);
    }
    if (failed) dirty = 0; /* the writer rolled the open batch back */
    uint64_t now = sc_clock_mono_ns();
    if (dirty && !failed && (breq != s->barrier_done || stop || now - last_commit >= 100000000ull)) {
      struct sc_error e;
      sc_error_init(&e);
      if (sc_store_writer_flush(s->w, &e)) fail(s, &e);
      dirty = 0;
      last_commit = now;
    }
    pthread_mutex_lock(&s->mu);
    if (breq != s->barrier_done && !s->head) {
      s->barrier_done = breq;
      pthread_cond_broadcast(&s->cv_done);
    }
    if (s->stop && !s->head && !dirty) break;
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

int rp_sink_start(struct rp_sink **out, struct sc_store_writer *w, uint64_t start_ns, int rate_pacing,
                  void (*free_job)(struct rp_job *), struct sc_error *err) {
  struct rp_sink *s = calloc(1, sizeof *s);
  if (!s) return sc_error_set(err, SC_ENOMEM, "out of memory");
  s->w = w;
  s->start_ns = start_ns;
  s->rate_pacing = rate_pacing;
  s->free_job = free_job;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv_work, NULL);
  pthread_cond_init(&s->cv_space, NULL);
  pthread_cond_init(&s->cv_done, NULL);
  /* the writer thread never takes a signal: SIGINT/SIGTERM belong to the loop */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int prc = pthread_create(&s->th, NULL, writer_main, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (prc != 0) {
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv_work);
    pthread_cond_destroy(&s->cv_space);
    pthread_cond_destroy(&s->cv_done);
    free(s);
    return sc_error_set(err, SC_EINTERNAL, "cannot start the result writer thread");
  }
  *out = s;
  return SC_OK;
}

void rp_sink_push(struct rp_sink *s, struct rp_job *j) {
  j->sink_next = NULL;
  pthread_mutex_lock(&s->mu);
  while (s->qlen >= RP_SINK_QMAX) pthread_cond_wait(&s->cv_space, &s->mu);
  if (s->tail) s->tail->sink_next = j;
  else s->head = j;
  s->tail = j;
  s->qlen++;
  if (s->qlen == 1 || s->qlen >= 64) pthread_cond_signal(&s->cv_work);
  pthread_mutex_unlock(&s->mu);
}

int rp_sink_barrier(struct rp_sink *s, struct sc_error *err) {
  pthread_mutex_lock(&s->mu);
  uint64_t want = ++s->barrier_req;
  pthread_cond_signal(&s->cv_work);
  while (s->barrier_done < want) pthread_cond_wait(&s->cv_done, &s->mu);
  int rc = SC_OK;
  if (s->failed) {
    if (err) *err = s->err;
    rc = s->err.code ? s->err.code : SC_EDB;
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int rp_sink_error(struct rp_sink *s, struct sc_error *err) {
  pthread_mutex_lock(&s->mu);
  int rc = SC_OK;
  if (s->failed) {
    if (err) *err = s->err;
    rc = s->err.code ? s->err.code : SC_EDB;
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int rp_sink_stop(struct rp_sink *s, struct sc_error *err) {
  if (!s) return SC_OK;
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_signal(&s->cv_work);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->th, NULL);
  int rc = SC_OK;
  if (s->failed) {
    if (err) *err = s->err;
    rc = s->err.code ? s->err.code : SC_EDB;
  }
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv_work);
  pthread_cond_destroy(&s->cv_space);
  pthread_cond_destroy(&s->cv_done);
  free(s);
  return rc;
}
